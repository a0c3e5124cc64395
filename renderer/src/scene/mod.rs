//! Scenes: loading glTF 2.0 files and evaluating them at a frame's time.

mod frame;

use std::path::Path;

pub use frame::{FrameScene, Mesh};

#[derive(Debug, thiserror::Error)]
pub enum SceneError {
    #[error("{0}")]
    Invalid(String),
}

/// A loaded glTF document, independent of time.
pub struct Scene {}

impl Scene {
    /// Loads a `.gltf` (external or embedded buffers) or `.glb` file.
    pub fn load(_path: &Path) -> Result<Scene, SceneError> {
        Err(SceneError::Invalid(
            "the glTF loader is not written yet".into(),
        ))
    }

    /// The scene at `time` seconds, seen through the camera named `camera` (or the first).
    pub fn frame(&self, _time: f32, _camera: Option<&str>) -> Result<FrameScene, SceneError> {
        Err(SceneError::Invalid(
            "the glTF loader is not written yet".into(),
        ))
    }
}
