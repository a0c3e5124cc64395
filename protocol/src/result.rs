//! What travels back from a worker: a rendered tile (compressed pixels), or why it failed, with
//! the worker's identity. Workers are not trusted: the coordinator checks every field, and
//! [`EncodedPixels::decode`] the pixels' sizes and values, before anything is merged.

use serde::{Deserialize, Serialize};
use tessera_renderer::film::Tile;

use crate::device::Device;
use crate::id::{JobId, TaskId};
use crate::pixels::EncodedPixels;

/// A worker as its results name it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerInfo {
    pub name: String,
    pub device: Device,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResultMessage {
    pub task: TaskId,
    pub job: JobId,
    pub frame: u32,
    pub tile: Tile,
    pub attempt: u32,
    pub worker: WorkerInfo,
    pub outcome: Outcome,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Rendered {
        /// Wall time of the tile's rendering on the device.
        render_micros: u64,
        samples: u64,
        pixels: EncodedPixels,
    },
    Failed {
        reason: String,
    },
}
