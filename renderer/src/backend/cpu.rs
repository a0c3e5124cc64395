//! The CPU backend: the path tracer on a rayon thread pool.

use super::{Backend, DeviceInfo, PreparedFrame, RenderError};
use crate::scene::FrameScene;

pub struct CpuBackend {
    device: DeviceInfo,
}

impl CpuBackend {
    /// A backend with `threads` worker threads (all cores when `None`).
    pub fn new(threads: Option<usize>) -> Result<Self, RenderError> {
        let threads = threads.unwrap_or(1) as u32;
        Ok(Self {
            device: DeviceInfo {
                backend: "cpu".into(),
                name: "cpu".into(),
                class: "cpu".into(),
                threads,
            },
        })
    }
}

impl Backend for CpuBackend {
    fn device(&self) -> &DeviceInfo {
        &self.device
    }
    fn prepare(&self, _scene: &FrameScene) -> Result<Box<dyn PreparedFrame + '_>, RenderError> {
        Err(RenderError::Unavailable {
            backend: "cpu".into(),
            reason: "not written yet".into(),
        })
    }
}
