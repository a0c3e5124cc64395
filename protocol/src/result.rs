//! What travels back from a worker: a rendered tile (compressed pixels), or why it failed, with
//! the worker's identity. Workers are not trusted: the coordinator checks every field, and
//! [`EncodedPixels::decode`] the pixels' sizes and values, before anything is merged.

use serde::{Deserialize, Serialize};
use tessera_renderer::film::Tile;

use crate::device::Device;
use crate::id::{JobId, TaskId};
use crate::lease;
use crate::pixels::EncodedPixels;
use crate::task::TaskMessage;

/// A worker as its results name it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WorkerInfo {
    pub name: String,
    pub device: Device,
}

/// A result as it travels: everything in it is the sender's claim until the coordinator has
/// checked it against the lease it names.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResultMessage {
    pub task: TaskId,
    pub job: JobId,
    pub frame: u32,
    pub tile: Tile,
    pub attempt: u32,
    pub worker: WorkerInfo,
    pub outcome: Outcome,
    /// The lease the task was claimed under.
    pub lease: String,
    /// HMAC-SHA256 of the rest of the message under the lease's key: see [`crate::lease`].
    pub signature: String,
}

impl ResultMessage {
    /// `worker`'s result of `task`, claimed under `lease` and signed with its `key`.
    pub fn signed(
        task: &TaskMessage,
        worker: WorkerInfo,
        outcome: Outcome,
        lease: String,
        key: &str,
    ) -> Self {
        let mut result = Self {
            task: task.task,
            job: task.job,
            frame: task.frame,
            tile: task.tile,
            attempt: task.attempt,
            worker,
            outcome,
            lease,
            signature: String::new(),
        };
        result.sign(key);
        result
    }

    /// The bytes the signature covers: the message with an empty signature.
    fn signed_bytes(&self) -> Vec<u8> {
        let unsigned = Self {
            signature: String::new(),
            ..self.clone()
        };
        serde_json::to_vec(&unsigned).expect("results serialize")
    }

    /// Signs the message with its lease's key.
    pub fn sign(&mut self, key: &str) {
        self.signature = lease::sign(key, &self.signed_bytes());
    }

    /// Whether the message was signed with `key` and not changed since.
    pub fn is_signed_by(&self, key: &str) -> bool {
        lease::verify(key, &self.signed_bytes(), &self.signature)
    }
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
