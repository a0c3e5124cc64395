//! Checking a submitted scene before anything is stored: the renderer's own loader loads it and
//! evaluates its first frame (lit by the job's environment map, found in the scene's bundle),
//! which also gives the camera that sizes the image; the quote's pre-pass then renders a sparse
//! sample of its first and last frames.

use std::path::Path;

use tessera_protocol::job::JobOptions;
use tessera_protocol::scene::archive::{self, ArchiveError};
use tessera_renderer::backend::cpu::CpuBackend;
use tessera_renderer::film::Resolution;
use tessera_renderer::scene::Scene;

use crate::error::{FarmError, io};
use crate::quote::{self, Probe};

/// The resolution the job renders at and the pre-pass's measure of its work, or why the scene
/// or the options are refused. `scene` is the file as submitted, named `name` by its submitter.
pub(crate) fn validate_scene(
    name: &str,
    scene: &Path,
    options: &JobOptions,
) -> Result<(Resolution, Probe), FarmError> {
    let dir = tempfile::tempdir().map_err(io("cannot create a temporary folder"))?;
    let bad = |e: &dyn std::fmt::Display| {
        FarmError::SceneRejected(format!("cannot load scene '{name}': {e}"))
    };
    let mut head = [0u8; 512];
    let read = std::fs::File::open(scene)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .map_err(io("cannot read the uploaded scene"))?;
    let packed = archive::is_archive(&head[..read]);
    let path = if packed {
        archive::unpack_file(scene, dir.path()).map_err(|e| match e {
            ArchiveError::Read { source, .. } => io("cannot read the uploaded scene")(source),
            e => bad(&e),
        })?
    } else {
        // Alone in a folder, as workers keep it: an environment map is not found there either.
        let file = Path::new(name)
            .file_name()
            .map(|f| f.to_owned())
            .unwrap_or_else(|| "scene.gltf".into());
        let path = dir.path().join(file);
        std::fs::copy(scene, &path).map_err(io("cannot copy the scene to a temporary file"))?;
        path
    };
    // A scene uploaded alone must hold all its data: a file it named would be looked for
    // beside it in a store of other jobs' scenes.
    let loaded = if packed {
        Scene::load(&path)
    } else {
        Scene::load_alone(&path)
    }
    .map_err(|e| bad(&e))?;
    // The map must travel in the scene's bundle, where workers will find it.
    let environment = options
        .environment
        .as_ref()
        .map(|setting| {
            let dir = path.parent().unwrap_or(dir.path());
            setting.load_map_in(dir).map(|map| setting.with_map(map))
        })
        .transpose()
        .map_err(|e| FarmError::SceneRejected(e.to_string()))?;
    let frames = options.frames.frames();
    let evaluate = |number: u32| {
        let time = options.fps.frame_time(number) as f32;
        loaded
            .frame_from(
                time,
                options.camera.as_deref(),
                &options.view,
                environment.as_ref(),
            )
            .map_err(|e| bad(&e))
    };
    let first = evaluate(frames[0])?;
    let resolution = options
        .size
        .resolve(&first.camera)
        .map_err(|e| FarmError::InvalidJob(e.to_string()))?;
    let probed = quote::probed_frames(frames, first, evaluate)?;
    let backend = CpuBackend::new(None).map_err(|e| bad(&e))?;
    let probe = quote::probe(
        &backend,
        &probed,
        resolution,
        &options.settings,
        options.samples(resolution),
    )
    .map_err(|e| bad(&e))?;
    Ok((resolution, probe))
}
