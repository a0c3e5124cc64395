//! Rendering backends: the CPU path tracer here, GPU backends beside it. Every backend computes
//! the same estimator, so a frame's tiles may come from any mix of devices.

pub mod cpu;
pub mod cuda;
pub mod gpu;
mod select;
pub mod wgpu;

pub use select::{BackendChoice, DeviceListing, UnknownBackend, list_devices, select};

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::bvh::BvhStats;
use crate::film::{Resolution, Tile, TileImage};
use crate::scene::FrameScene;
use crate::settings::RenderSettings;

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("backend '{backend}' is not available: {reason}")]
    Unavailable { backend: String, reason: String },
    #[error("rendering failed on {backend}: {reason}")]
    Failed { backend: String, reason: String },
}

/// What a device is: enough for logs, and for the farm to decide what it is worth.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    pub backend: String,
    pub name: String,
    /// Worker threads (CPU) or 1 (GPU).
    pub threads: u32,
    /// Runs on the CPU: the CPU backend, or a software GPU such as lavapipe.
    pub software: bool,
}

impl fmt::Display for DeviceInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name, self.backend)
    }
}

/// A frame's scene made ready for one backend (acceleration structures built, buffers
/// uploaded). Prepared once per frame, then used for every tile of that frame.
pub trait PreparedFrame: Send + Sync {
    /// Renders `tile` of a frame of size `resolution`. `frame` is the frame number: it seeds
    /// the random numbers together with the settings' seed.
    fn render_tile(
        &self,
        resolution: Resolution,
        tile: Tile,
        frame: u32,
        settings: &RenderSettings,
    ) -> Result<TileImage, RenderError>;

    /// What building the frame's BVH cost.
    fn bvh_stats(&self) -> BvhStats;
}

/// A rendering device.
pub trait Backend: Send + Sync {
    fn device(&self) -> &DeviceInfo;
    fn prepare<'a>(
        &'a self,
        scene: &'a FrameScene,
    ) -> Result<Box<dyn PreparedFrame + 'a>, RenderError>;
}
