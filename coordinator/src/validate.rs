//! Checking a submitted scene before anything is stored: the renderer's own loader loads it and
//! evaluates its first frame, which also gives the camera that sizes the image.

use std::path::Path;

use tessera_protocol::job::JobOptions;
use tessera_protocol::scene::archive;
use tessera_renderer::film::Resolution;
use tessera_renderer::scene::Scene;

use crate::error::{FarmError, io};

/// The resolution the job renders at, or why the scene or the options are refused.
pub(crate) fn validate_scene(
    name: &str,
    bytes: &[u8],
    options: &JobOptions,
) -> Result<Resolution, FarmError> {
    let dir = tempfile::tempdir().map_err(io("cannot create a temporary folder"))?;
    let bad = |e: &dyn std::fmt::Display| {
        FarmError::SceneRejected(format!("cannot load scene '{name}': {e}"))
    };
    let path = if archive::is_archive(bytes) {
        archive::unpack(bytes, dir.path()).map_err(|e| bad(&e))?
    } else {
        let file = Path::new(name)
            .file_name()
            .map(|f| f.to_owned())
            .unwrap_or_else(|| "scene.gltf".into());
        let path = dir.path().join(file);
        std::fs::write(&path, bytes).map_err(io("cannot write the scene to a temporary file"))?;
        path
    };
    let scene = Scene::load(&path).map_err(|e| bad(&e))?;
    let first = options.frames.frames()[0];
    let time = options.fps.frame_time(first) as f32;
    let frame = scene
        .frame(time, options.camera.as_deref())
        .map_err(|e| bad(&e))?;
    options
        .size
        .resolve(&frame.camera)
        .map_err(|e| FarmError::InvalidJob(e.to_string()))
}
