//! Rendering a whole job on this machine with one backend: the farm's pipeline (plan, render
//! tiles, merge, write) without a transport in between.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;
use tessera_renderer::backend::{Backend, DeviceInfo, RenderError};
use tessera_renderer::film::{FilmError, Resolution, Tile};
use tessera_renderer::output::{self, OutputError};
use tessera_renderer::scene::{FrameScene, Scene, SceneError};

use crate::job::{JobSpec, OutputPattern};
use crate::merge::{FrameMerger, MergeError};
use crate::task::{Task, TaskPlan};

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("cannot load scene '{}'", .path.display())]
    SceneUnreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot load scene '{}'", .path.display())]
    Scene {
        path: PathBuf,
        #[source]
        source: SceneError,
    },
    #[error("cannot evaluate scene '{}' at frame {frame}", .path.display())]
    Frame {
        path: PathBuf,
        frame: u32,
        #[source]
        source: SceneError,
    },
    #[error("cannot size frame {frame}")]
    Size {
        frame: u32,
        #[source]
        source: FilmError,
    },
    #[error("cannot prepare frame {frame} for rendering")]
    Prepare {
        frame: u32,
        #[source]
        source: RenderError,
    },
    #[error("cannot render tile {tile} of frame {frame}")]
    Tile {
        frame: u32,
        tile: Tile,
        #[source]
        source: RenderError,
    },
    #[error(transparent)]
    Merge(#[from] MergeError),
    #[error(transparent)]
    Output(#[from] OutputError),
}

/// How far a job has got; reported after every tile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    pub frame: u32,
    pub tiles_done: u64,
    pub tiles_total: u64,
    pub samples_done: u64,
    pub samples_total: u64,
}

/// What a finished job did, for the user and for benchmarks.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RenderSummary {
    pub frames: Vec<u32>,
    pub resolution: Resolution,
    pub spp: u32,
    /// Camera samples taken: pixels x spp x frames.
    pub samples: u64,
    /// Time spent rendering tiles, excluding scene loading, preparation and writing.
    pub render_seconds: f64,
    /// Time spent preparing frames for the backend (mostly building the BVH).
    pub prepare_seconds: f64,
    /// Wall time of the whole job.
    pub total_seconds: f64,
    pub samples_per_second: f64,
    pub device: DeviceInfo,
    pub outputs: Vec<PathBuf>,
}

/// Renders every frame of `job` with `backend` and writes each to `output` as soon as it is
/// complete. `on_progress` is called after every tile.
pub fn render_job(
    job: &JobSpec,
    output: &OutputPattern,
    backend: &dyn Backend,
    on_progress: &mut dyn FnMut(&Progress),
) -> Result<RenderSummary, LocalError> {
    let started = Instant::now();
    let frames = job.frames.frames();
    // Fail before loading anything, let alone rendering, when the frames could not be saved.
    output::check_writable(&output.path_for(frames[0]))?;

    let scene_error = |source| LocalError::SceneUnreadable {
        path: job.scene.clone(),
        source,
    };
    if !std::fs::metadata(&job.scene)
        .map_err(scene_error)?
        .is_file()
    {
        return Err(scene_error(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a file",
        )));
    }
    let scene = Scene::load(&job.scene).map_err(|source| LocalError::Scene {
        path: job.scene.clone(),
        source,
    })?;
    tracing::info!(scene = %job.scene.display(), seconds = started.elapsed().as_secs_f64(), "scene loaded");

    let evaluate = |frame: u32| {
        let time = job.fps.frame_time(frame) as f32;
        scene
            .frame(time, job.camera.as_deref())
            .map_err(|source| LocalError::Frame {
                path: job.scene.clone(),
                frame,
                source,
            })
    };
    render_frames(job, output, backend, evaluate, on_progress, started)
}

/// The job's frames, each evaluated by `evaluate`, rendered and written.
fn render_frames(
    job: &JobSpec,
    output: &OutputPattern,
    backend: &dyn Backend,
    evaluate: impl Fn(u32) -> Result<FrameScene, LocalError>,
    on_progress: &mut dyn FnMut(&Progress),
    started: Instant,
) -> Result<RenderSummary, LocalError> {
    let frames = job.frames.frames();
    let first = evaluate(frames[0])?;
    let resolution = job
        .size
        .resolve(&first.camera)
        .map_err(|source| LocalError::Size {
            frame: frames[0],
            source,
        })?;
    let mut first_scene = Some(first);
    let plan = TaskPlan::new(job.frames.clone(), resolution, job.tile_size);
    let tiles_total = plan.len() as u64;
    let spp = u64::from(job.settings.spp.get());
    let samples_total = resolution.pixel_count() as u64 * spp * frames.len() as u64;
    let mut merger = FrameMerger::new(plan);

    let mut render_time = Duration::ZERO;
    let mut prepare_time = Duration::ZERO;
    let mut outputs = Vec::with_capacity(frames.len());
    let mut tiles_done = 0;
    let mut samples_done = 0;
    for &frame in frames {
        let frame_scene = match first_scene.take() {
            Some(s) => s,
            None => evaluate(frame)?,
        };
        let prepare_started = Instant::now();
        let prepared = backend
            .prepare(&frame_scene)
            .map_err(|source| LocalError::Prepare { frame, source })?;
        prepare_time += prepare_started.elapsed();

        let tasks: Vec<Task> = merger.plan().frame_tasks(frame).collect();
        for Task { frame, tile } in tasks {
            let tile_started = Instant::now();
            let image = prepared
                .render_tile(resolution, tile, frame, &job.settings)
                .map_err(|source| LocalError::Tile {
                    frame,
                    tile,
                    source,
                })?;
            render_time += tile_started.elapsed();
            tiles_done += 1;
            samples_done += tile.pixel_count() as u64 * spp;
            let complete = merger.add(frame, image)?;
            on_progress(&Progress {
                frame,
                tiles_done,
                tiles_total,
                samples_done,
                samples_total,
            });
            if let Some(image) = complete {
                let path = output.path_for(frame);
                output::write_frame(&path, &image)?;
                tracing::info!(frame, path = %path.display(), "frame written");
                outputs.push(path);
            }
        }
    }

    let render_seconds = render_time.as_secs_f64();
    Ok(RenderSummary {
        frames: frames.to_vec(),
        resolution,
        spp: job.settings.spp.get(),
        samples: samples_done,
        render_seconds,
        prepare_seconds: prepare_time.as_secs_f64(),
        total_seconds: started.elapsed().as_secs_f64(),
        samples_per_second: if render_seconds > 0.0 {
            samples_done as f64 / render_seconds
        } else {
            0.0
        },
        device: backend.device().clone(),
        outputs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::{Fps, SizeRequest};
    use glam::Affine3A;
    use std::num::NonZeroU32;
    use std::sync::Mutex;
    use tessera_renderer::backend::PreparedFrame;
    use tessera_renderer::bvh::BvhStats;
    use tessera_renderer::camera::Camera;
    use tessera_renderer::film::{Pixels, TileImage};
    use tessera_renderer::integrator::{MaxDepth, RenderSettings, Spp};
    use tessera_renderer::scene::Mesh;

    /// Paints each pixel with its position and the frame number, and records what it was asked.
    struct FakeBackend {
        device: DeviceInfo,
        fail_prepare: bool,
        prepared: Mutex<Vec<u32>>,
    }

    struct FakeFrame;

    impl PreparedFrame for FakeFrame {
        fn render_tile(
            &self,
            resolution: Resolution,
            tile: Tile,
            frame: u32,
            settings: &RenderSettings,
        ) -> Result<TileImage, RenderError> {
            let mut pixels = Pixels::zeroed(tile.pixel_count());
            for row in 0..tile.height() {
                for col in 0..tile.width() {
                    let i = (row * tile.width() + col) as usize;
                    let global = (tile.y() + row) * resolution.width() + tile.x() + col;
                    pixels.color[i] = [global as f32, frame as f32, settings.spp.get() as f32, 1.0];
                }
            }
            Ok(TileImage { tile, pixels })
        }

        fn bvh_stats(&self) -> BvhStats {
            BvhStats::default()
        }
    }

    impl Backend for FakeBackend {
        fn device(&self) -> &DeviceInfo {
            &self.device
        }
        fn prepare<'a>(
            &'a self,
            scene: &'a FrameScene,
        ) -> Result<Box<dyn PreparedFrame + 'a>, RenderError> {
            if self.fail_prepare {
                return Err(RenderError::Failed {
                    backend: "fake".into(),
                    reason: "out of memory".into(),
                });
            }
            let frame = scene.camera.to_world.translation.x as u32;
            self.prepared.lock().unwrap().push(frame);
            Ok(Box::new(FakeFrame))
        }
    }

    fn backend(fail_prepare: bool) -> FakeBackend {
        FakeBackend {
            device: DeviceInfo {
                backend: "fake".into(),
                name: "fake device".into(),
                class: "cpu".into(),
                threads: 1,
            },
            fail_prepare,
            prepared: Mutex::new(Vec::new()),
        }
    }

    /// A scene whose camera position records the frame it was evaluated for.
    fn scene_at(frame: u32) -> Result<FrameScene, LocalError> {
        Ok(FrameScene {
            camera: Camera {
                name: "cam".into(),
                to_world: Affine3A::from_translation(glam::Vec3::new(frame as f32, 0.0, 0.0)),
                yfov: 0.7,
                aspect_ratio: Some(2.0),
            },
            mesh: Mesh::default(),
            materials: Vec::new(),
            textures: Vec::new(),
            lights: Vec::new(),
        })
    }

    fn job(frames: &str) -> JobSpec {
        JobSpec {
            scene: "unused.gltf".into(),
            frames: frames.parse().unwrap(),
            size: SizeRequest::from_sides(Some(10), None).unwrap(),
            settings: RenderSettings {
                spp: Spp::new(3).unwrap(),
                max_depth: MaxDepth::new(4).unwrap(),
                seed: 0,
            },
            tile_size: NonZeroU32::new(4).unwrap(),
            fps: Fps::new(24.0).unwrap(),
            camera: None,
        }
    }

    #[test]
    fn renders_merges_and_writes_every_frame() {
        let dir = tempfile::tempdir().unwrap();
        let job = job("2-4x2");
        let output = OutputPattern::new(dir.path().join("f_##.exr"), &job.frames).unwrap();
        let backend = backend(false);
        let mut progress = Vec::new();
        let summary = render_frames(
            &job,
            &output,
            &backend,
            scene_at,
            &mut |p| progress.push(*p),
            Instant::now(),
        )
        .unwrap();

        assert_eq!(*backend.prepared.lock().unwrap(), [2, 4]);
        assert_eq!(summary.frames, [2, 4]);
        assert_eq!(summary.resolution, Resolution::new(10, 5).unwrap());
        assert_eq!(summary.samples, 2 * 50 * 3);
        assert_eq!(summary.device.backend, "fake");
        let expected = [dir.path().join("f_02.exr"), dir.path().join("f_04.exr")];
        assert_eq!(summary.outputs, expected);

        // 3x2 tiles of at most 4x4 per frame.
        assert_eq!(progress.len(), 12);
        let last = progress.last().unwrap();
        assert_eq!((last.tiles_done, last.tiles_total), (12, 12));
        assert_eq!((last.samples_done, last.samples_total), (300, 300));
        assert!(
            progress
                .windows(2)
                .all(|w| w[0].samples_done < w[1].samples_done)
        );

        for (path, frame) in expected.iter().zip([2.0, 4.0]) {
            let image = exr::prelude::read_first_flat_layer_from_file(path).unwrap();
            let channel = |name: &str| -> Vec<f32> {
                let ch = image.layer_data.channel_data.list.iter();
                let ch = ch.clone().find(|c| c.name == *name).unwrap();
                ch.sample_data.values_as_f32().collect()
            };
            assert_eq!(channel("R"), (0..50).map(|i| i as f32).collect::<Vec<_>>());
            assert!(channel("G").iter().all(|&g| g == frame));
            assert!(channel("B").iter().all(|&b| b == 3.0));
        }
    }

    #[test]
    fn a_failed_frame_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let job = job("1");
        let output = OutputPattern::new(dir.path().join("still.png"), &job.frames).unwrap();
        let err = render_frames(
            &job,
            &output,
            &backend(true),
            scene_at,
            &mut |_| {},
            Instant::now(),
        )
        .unwrap_err();
        assert!(matches!(err, LocalError::Prepare { frame: 1, .. }), "{err}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn missing_scene_and_unwritable_output_fail_before_rendering() {
        let dir = tempfile::tempdir().unwrap();
        let mut job = job("1");
        job.scene = dir.path().join("absent.gltf");
        let output = OutputPattern::new(dir.path().join("x.exr"), &job.frames).unwrap();
        let err = render_job(&job, &output, &backend(false), &mut |_| {}).unwrap_err();
        assert!(matches!(err, LocalError::SceneUnreadable { .. }), "{err}");
        assert!(err.to_string().contains("absent.gltf"), "{err}");

        let output = OutputPattern::new(dir.path().join("no").join("x.exr"), &job.frames).unwrap();
        let err = render_job(&job, &output, &backend(false), &mut |_| {}).unwrap_err();
        assert!(matches!(err, LocalError::Output(_)), "{err}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
