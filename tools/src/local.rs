//! `tessera render`'s farm: the coordinator and one worker with the chosen backend in this
//! process, over the in-process transport, with the coordinator's store in a temporary data
//! directory that is removed afterwards. The one place that joins a coordinator and a worker.
//! Each frame is written where the user asked as soon as the coordinator has assembled it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use serde::Serialize;
use tessera_coordinator::billing::PriceTable;
use tessera_coordinator::frame_paths::FramePaths;
use tessera_coordinator::limits::Limits;
use tessera_coordinator::quote;
use tessera_coordinator::store::Principal;
use tessera_coordinator::{Farm, FarmConfig, FarmError, FarmEvents, Submission};
use tessera_protocol::api::{JobState, LedgerRow, Quote};
use tessera_protocol::device::Device;
use tessera_protocol::id::JobId;
use tessera_protocol::job::JobOptions;
use tessera_protocol::lease::{Claim, ClaimRequest};
use tessera_protocol::money::Money;
use tessera_protocol::result::WorkerInfo;
use tessera_protocol::scene::SceneHash;
use tessera_protocol::task::TaskMessage;
use tessera_renderer::backend::Backend;
use tessera_renderer::backend::cpu::CpuBackend;
use tessera_renderer::environment::{Environment, EnvironmentError};
use tessera_renderer::film::{FilmError, Resolution};
use tessera_renderer::output::{self, Durability, OutputError};
use tessera_renderer::scene::{FrameScene, Scene, SceneError, check_plain_file};
use tessera_transport::InProcessTransport;
use tessera_worker::{HeldMap, Link, Pace, Preparation, TileRenderer, run_worker};

use crate::farm_runtime::shutdown_signal;
use crate::output_pattern::OutputPattern;

/// How often the job's state is looked at while no tile comes in.
const POLL: Duration = Duration::from_millis(50);

/// The most tasks (frames x tiles) one local job may have. As many as the most frames a frame
/// spec may name, so that an animation of any length renders at one tile a frame; the farm's
/// 100,000 guards it against strangers, not against its owner. Creating tasks takes the
/// temporary store about 9 s a million here before the first tile: one-pixel tiles of a
/// 16384 x 16384 frame (268 million) would take most of an hour, unannounced.
const MAX_LOCAL_TASKS: u64 = 1_000_000;

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
    #[error(transparent)]
    Environment(#[from] EnvironmentError),
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
    #[error("cannot start the local farm")]
    Start(#[source] std::io::Error),
    #[error(transparent)]
    Farm(#[from] FarmError),
    #[error("{0}")]
    JobFailed(String),
    #[error("cannot quote the job: {0}")]
    Quote(String),
    #[error("the local coordinator stopped before the job finished")]
    Stopped,
    /// SIGINT or SIGTERM: the job was cancelled.
    #[error("interrupted")]
    Interrupted,
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

/// What building the frames' BVHs cost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct BvhSummary {
    /// The most triangles in one frame.
    pub triangles: usize,
    /// Summed over frames.
    pub build_seconds: f64,
    /// The largest BVH of one frame.
    pub bytes: usize,
}

impl BvhSummary {
    fn of(preparations: &[Preparation]) -> Self {
        preparations.iter().fold(Self::default(), |s, p| Self {
            triangles: s.triangles.max(p.bvh.triangles),
            build_seconds: s.build_seconds + p.bvh.build_seconds,
            bytes: s.bytes.max(p.bvh.bytes),
        })
    }
}

/// What a finished job did, for the user and for benchmarks.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RenderSummary {
    pub frames: Vec<u32>,
    pub resolution: Resolution,
    pub spp: u32,
    /// Camera samples taken: pixels x spp x frames.
    pub samples: u64,
    /// Time spent rendering tiles, summed as the ledger counts it, excluding scene loading,
    /// preparation and writing.
    pub render_micros: u64,
    pub render_seconds: f64,
    /// Time spent preparing frames for the backend (mostly building the BVH).
    pub prepare_seconds: f64,
    pub bvh: BvhSummary,
    /// Wall time of the whole job.
    pub total_seconds: f64,
    pub samples_per_second: f64,
    pub device: Device,
    /// What the render time would cost on the farm at its price table's rate for this device.
    pub charge: Money,
    pub outputs: Vec<PathBuf>,
}

/// What the local farm tells the waiting caller.
enum Event {
    Tile(LedgerRow),
    Frame { frame: u32, path: PathBuf },
}

/// Passes the farm's progress on to the caller.
struct Follower {
    events: mpsc::Sender<Event>,
}

impl Follower {
    fn send(&self, event: Event) {
        // The caller only stops listening once it has given up on the job.
        let _ = self.events.send(event);
    }
}

impl FarmEvents for Follower {
    fn tile_accepted(&self, row: &LedgerRow) {
        self.send(Event::Tile(row.clone()));
    }

    fn frame_written(&self, _job: JobId, frame: u32, path: &Path) {
        self.send(Event::Frame {
            frame,
            path: path.to_owned(),
        });
    }
}

/// The farm writes each frame straight where the user asked.
struct UserFrames(OutputPattern);

impl FramePaths for UserFrames {
    fn frame_path(&self, _job: JobId, frame: u32) -> PathBuf {
        self.0.path_for(frame)
    }
}

/// The worker reaches the farm in this process directly, as the one worker `local`.
struct LocalLink {
    farm: Arc<Farm<InProcessTransport>>,
    worker: Principal,
}

impl Link for LocalLink {
    fn scene_path(&self, hash: SceneHash) -> Result<PathBuf, String> {
        self.farm.scene_file(hash).map_err(|e| e.to_string())
    }

    fn claim(&self, tasks: &[TaskMessage]) -> Result<Vec<Claim>, String> {
        self.farm
            .claim(&self.worker, &ClaimRequest::of(tasks).tasks)
            .map_err(|e| e.to_string())
    }

    fn heartbeat(&self, leases: &[String]) -> Result<(), String> {
        self.farm
            .store()
            .heartbeat(LOCAL_WORKER, Some(leases))
            .map(drop)
            .map_err(|e| e.to_string())
    }

    fn announce(&self, worker: &WorkerInfo) {
        if let Err(e) = self.farm.store().announce_worker(worker) {
            tracing::warn!(error = %e, "cannot record worker");
        }
    }
}

/// Loads a scene from its own folder, so that its external files resolve, and the job's
/// environment map, and evaluates the job's first frame, which sizes the image.
fn load(
    scene_path: &Path,
    job: &JobOptions,
) -> Result<(Scene, Option<HeldMap>, FrameScene, Resolution), LocalError> {
    let scene_error = |source| LocalError::SceneUnreadable {
        path: scene_path.to_owned(),
        source,
    };
    check_plain_file(scene_path).map_err(scene_error)?;
    let scene = Scene::load(scene_path).map_err(|source| LocalError::Scene {
        path: scene_path.to_owned(),
        source,
    })?;
    let environment = match &job.environment {
        Some(setting) => Some((setting.clone(), setting.load_map()?)),
        None => None,
    };
    let first = evaluate(
        &scene,
        environment
            .as_ref()
            .map(|(setting, map)| setting.with_map(map.clone()))
            .as_ref(),
        scene_path,
        job,
        job.frames.frames()[0],
    )?;
    let resolution = job
        .size
        .resolve(&first.camera)
        .map_err(|source| LocalError::Size {
            frame: job.frames.frames()[0],
            source,
        })?;
    Ok((scene, environment, first, resolution))
}

fn evaluate(
    scene: &Scene,
    environment: Option<&Environment>,
    scene_path: &Path,
    job: &JobOptions,
    frame: u32,
) -> Result<FrameScene, LocalError> {
    scene
        .frame_from(
            job.fps.frame_time(frame) as f32,
            job.camera.as_deref(),
            &job.view,
            environment,
        )
        .map_err(|source| LocalError::Frame {
            path: scene_path.to_owned(),
            frame,
            source,
        })
}

/// What `render_job` would bill for `job` on this machine's CPU with `threads` threads (all
/// cores when `None`), from the farm's pre-pass over a sparse sample of its first and last
/// frames; nothing is rendered in full.
pub fn quote_job(
    scene_path: &Path,
    job: &JobOptions,
    prices: &PriceTable,
    threads: Option<usize>,
) -> Result<Quote, LocalError> {
    let (scene, environment, first, resolution) = load(scene_path, job)?;
    let lit = environment.map(|(setting, map)| setting.with_map(map));
    let probed = quote::probed_frames(job.frames.frames(), first, |last| {
        evaluate(&scene, lit.as_ref(), scene_path, job, last)
    })?;
    let backend = CpuBackend::new(threads).map_err(|e| LocalError::Quote(e.to_string()))?;
    let probe = quote::probe(
        &backend,
        &probed,
        resolution,
        &job.settings,
        job.samples(resolution),
    )
    .map_err(LocalError::Quote)?;
    Ok(quote::on_this_machine(
        probe,
        job.samples(resolution),
        prices,
    ))
}

/// The name of `tessera render`'s one worker.
const LOCAL_WORKER: &str = "local";

/// Renders every frame of `scene` as `job` says with `backend` and writes each to `output` as
/// soon as it is complete. `on_progress` is called after every tile. With `stop_on_signal`,
/// SIGINT and SIGTERM cancel the job, which ends in [`LocalError::Interrupted`] once the task
/// in hand is done and nothing is left behind; without it, the caller's handling of those
/// signals stands. Blocks: it runs the farm on a runtime of its own, so it must not be called
/// from async code.
pub fn render_job(
    scene_path: &Path,
    job: &JobOptions,
    output: &OutputPattern,
    backend: Box<dyn Backend>,
    prices: PriceTable,
    stop_on_signal: bool,
    on_progress: &mut dyn FnMut(&Progress),
) -> Result<RenderSummary, LocalError> {
    let started = Instant::now();
    let frames = job.frames.frames();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(LocalError::Start)?;
    // Before the scene loads, which may take a while: a signal then still ends the job cleanly.
    let signalled = if stop_on_signal {
        let _context = runtime.enter();
        Some(shutdown_signal().map_err(LocalError::Start)?)
    } else {
        None
    };
    let interrupted = || signalled.as_ref().is_some_and(|s| *s.borrow());
    // Fail before loading anything, let alone rendering, when the frames could not be saved.
    output::check_writable(&output.path_for(frames[0]))?;
    for &frame in &frames[1..] {
        output::check_not_a_folder(&output.path_for(frame))?;
    }

    let (scene, environment, _, resolution) = load(scene_path, job)?;
    // Counted, not listed, before any task is created.
    let limits = Limits {
        max_tasks_per_job: MAX_LOCAL_TASKS,
        ..Limits::unlimited()
    };
    limits.check_size(job, resolution)?;
    if interrupted() {
        return Err(LocalError::Interrupted);
    }
    let hash = SceneHash::of_file(scene_path).map_err(|source| LocalError::SceneUnreadable {
        path: scene_path.to_owned(),
        source,
    })?;
    tracing::info!(scene = %scene_path.display(), seconds = started.elapsed().as_secs_f64(), "scene loaded");

    let data = tempfile::tempdir().map_err(LocalError::Start)?;
    let (tell, events) = mpsc::channel();
    let mut config = FarmConfig::new(data.path(), prices);
    // A tile that failed here would fail the same way again.
    config.max_attempts = 1;
    config.durability = Durability::Throwaway;
    config.record_retries = Some(2);
    config.events = Some(Arc::new(Follower { events: tell }));
    config.frame_paths = Some(Arc::new(UserFrames(output.clone())));
    // One machine's own job and worker: a farm's limits and checks for strangers do not apply.
    config.limits = limits;
    config.spot_checks = false;
    config.task_timeout = None;
    let transport = InProcessTransport::new();
    let farm = Farm::open(config, transport.clone())?;
    let renderer = Arc::new(TileRenderer::with_scene(
        backend,
        hash,
        Arc::new(scene),
        environment,
    ));
    let device = Device::of(renderer.device());
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let runner = runtime.spawn(farm.clone().run(shutdown.clone()));
    let worker = {
        let link: Arc<dyn Link> = Arc::new(LocalLink {
            farm: farm.clone(),
            worker: Principal::Worker {
                name: LOCAL_WORKER.into(),
                device_class: device.class.clone(),
                threads: device.threads,
                verified: false,
            },
        });
        let renderer = renderer.clone();
        let transport = transport.clone();
        runtime.spawn(async move {
            run_worker(
                &transport,
                LOCAL_WORKER,
                renderer,
                link,
                Pace::default(),
                Arc::default(),
                shutdown,
            )
            .await
        })
    };
    let submission = Submission {
        scene_name: scene_path.display().to_string(),
        scene: scene_path.to_owned(),
        options: job.clone(),
        priority: 0,
        tenant: LOCAL_WORKER.into(),
        max_cost: None,
        trust: Default::default(),
    };
    let followed = runtime
        .block_on(farm.submit_loaded(submission, resolution))
        .map_err(LocalError::from)
        .and_then(|id| {
            let tiles_per_frame = resolution.tile_count(job.tile_size);
            let totals = Progress {
                frame: frames[0],
                tiles_done: 0,
                tiles_total: tiles_per_frame * frames.len() as u64,
                samples_done: 0,
                samples_total: job.samples(resolution),
            };
            follow(
                &farm,
                id,
                &events,
                totals,
                &|| runner.is_finished(),
                &interrupted,
                on_progress,
            )
        });
    let _ = stop.send(true);
    let stopped = runtime.block_on(async { (runner.await, worker.await) });
    let followed = match (followed, stopped) {
        // The coordinator's own error says more than that it stopped.
        (Err(LocalError::Stopped), (Ok(Err(e)), _)) => return Err(e.into()),
        (followed, (Ok(Err(e)), _)) => {
            tracing::warn!(error = %e, "the local coordinator stopped with an error");
            followed?
        }
        (followed, _) => followed?,
    };

    let render_seconds = followed.render_micros as f64 / 1e6;
    let preparations = renderer.preparations();
    Ok(RenderSummary {
        frames: frames.to_vec(),
        resolution,
        spp: job.settings.spp.get(),
        samples: followed.samples,
        render_micros: followed.render_micros,
        render_seconds,
        prepare_seconds: preparations.iter().map(|p| p.seconds).sum(),
        bvh: BvhSummary::of(&preparations),
        total_seconds: started.elapsed().as_secs_f64(),
        samples_per_second: if render_seconds > 0.0 {
            followed.samples as f64 / render_seconds
        } else {
            0.0
        },
        charge: farm
            .prices()
            .charge(&device.class, device.threads, followed.render_micros),
        device,
        outputs: followed.outputs.into_iter().map(|(_, p)| p).collect(),
    })
}

/// What following a job to its end collected.
struct Followed {
    samples: u64,
    render_micros: u64,
    /// By frame number.
    outputs: Vec<(u32, PathBuf)>,
}

/// Reports every accepted tile and collects the written frames until the job is done, or
/// cancels it once `interrupted`.
fn follow(
    farm: &Farm<InProcessTransport>,
    job: JobId,
    events: &mpsc::Receiver<Event>,
    mut progress: Progress,
    coordinator_stopped: &dyn Fn() -> bool,
    interrupted: &dyn Fn() -> bool,
    on_progress: &mut dyn FnMut(&Progress),
) -> Result<Followed, LocalError> {
    let mut followed = Followed {
        samples: 0,
        render_micros: 0,
        outputs: Vec::new(),
    };
    let mut handle = |event: Event, followed: &mut Followed| match event {
        Event::Tile(row) => {
            followed.samples += row.samples;
            followed.render_micros += row.render_micros;
            progress.frame = row.frame;
            progress.tiles_done += 1;
            progress.samples_done += row.samples;
            on_progress(&progress);
            Ok(())
        }
        Event::Frame { frame, path } => {
            tracing::info!(frame, path = %path.display(), "frame written");
            followed.outputs.push((frame, path));
            Ok::<(), LocalError>(())
        }
    };
    loop {
        let step = match events.recv_timeout(POLL) {
            _ if interrupted() => Err(LocalError::Interrupted),
            Ok(event) => handle(event, &mut followed),
            Err(mpsc::RecvTimeoutError::Timeout) => Ok(()),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(LocalError::Stopped),
        };
        if let Err(e) = step {
            let _ = farm.cancel(job);
            return Err(e);
        }
        let record = farm.job(job)?;
        match record.state {
            JobState::Running if coordinator_stopped() => return Err(LocalError::Stopped),
            JobState::Running => {}
            JobState::Done => {
                // Every frame went through the follower before the job was marked done.
                while let Ok(event) = events.try_recv() {
                    handle(event, &mut followed)?;
                }
                followed.outputs.sort();
                return Ok(followed);
            }
            _ => {
                return Err(LocalError::JobFailed(
                    record
                        .reason
                        .unwrap_or_else(|| format!("job {job} did not finish")),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::num::NonZeroU32;
    use tessera_protocol::job::{Fps, SizeRequest};
    use tessera_renderer::backend::{DeviceInfo, PreparedFrame, RenderError};
    use tessera_renderer::bvh::BvhStats;
    use tessera_renderer::camera::View;
    use tessera_renderer::film::{Pixels, Tile, TileImage};
    use tessera_renderer::scene::FrameScene;
    use tessera_renderer::settings::{MaxDepth, RenderSettings, Spp};

    /// Paints each pixel with its position and the frame number.
    struct FakeBackend {
        device: DeviceInfo,
        fail_prepare: bool,
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
            BvhStats {
                triangles: 12,
                nodes: 3,
                build_seconds: 0.25,
                bytes: 1000,
            }
        }
    }

    impl Backend for FakeBackend {
        fn device(&self) -> &DeviceInfo {
            &self.device
        }
        fn prepare<'a>(
            &'a self,
            _scene: &'a FrameScene,
        ) -> Result<Box<dyn PreparedFrame + 'a>, RenderError> {
            if self.fail_prepare {
                return Err(RenderError::Failed {
                    backend: "fake".into(),
                    reason: "out of memory".into(),
                });
            }
            Ok(Box::new(FakeFrame))
        }
    }

    fn backend(fail_prepare: bool) -> Box<dyn Backend> {
        Box::new(FakeBackend {
            device: DeviceInfo {
                backend: "fake".into(),
                name: "fake device".into(),
                threads: 4,
                software: true,
            },
            fail_prepare,
        })
    }

    fn turntable() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenes/turntable.gltf")
    }

    fn job(frames: &str) -> JobOptions {
        JobOptions {
            frames: frames.parse().unwrap(),
            size: SizeRequest::from_sides(Some(10), Some(5)).unwrap(),
            settings: RenderSettings {
                spp: Spp::new(3).unwrap(),
                max_depth: MaxDepth::new(4).unwrap(),
                seed: 0,
            },
            tile_size: NonZeroU32::new(4).unwrap(),
            fps: Fps::new(24.0).unwrap(),
            camera: None,
            view: View::default(),
            environment: None,
        }
    }

    #[test]
    fn renders_merges_bills_and_writes_every_frame() {
        let dir = tempfile::tempdir().unwrap();
        let job = job("2-4x2");
        let output = OutputPattern::new(dir.path().join("f_#.exr"), &job.frames).unwrap();
        let mut progress = Vec::new();
        let summary = render_job(
            &turntable(),
            &job,
            &output,
            backend(false),
            PriceTable::default(),
            false,
            &mut |p| progress.push(*p),
        )
        .unwrap();

        assert_eq!(summary.frames, [2, 4]);
        assert_eq!(summary.resolution, Resolution::new(10, 5).unwrap());
        assert_eq!(summary.samples, 2 * 50 * 3);
        assert_eq!(summary.device.backend, "fake");
        let expected = [dir.path().join("f_2.exr"), dir.path().join("f_4.exr")];
        assert_eq!(summary.outputs, expected);
        // One preparation per frame, not per tile.
        assert_eq!(
            summary.bvh,
            BvhSummary {
                triangles: 12,
                build_seconds: 0.5,
                bytes: 1000
            }
        );
        assert_eq!(
            summary.charge,
            PriceTable::default().charge("cpu", 4, summary.render_micros)
        );

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
        let err = render_job(
            &turntable(),
            &job,
            &output,
            backend(true),
            PriceTable::default(),
            false,
            &mut |_| {},
        )
        .unwrap_err();
        assert!(matches!(err, LocalError::JobFailed(_)), "{err}");
        assert!(err.to_string().contains("out of memory"), "{err}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn missing_scene_and_unwritable_output_fail_before_rendering() {
        let dir = tempfile::tempdir().unwrap();
        let job = job("1");
        let absent = dir.path().join("absent.gltf");
        let output = OutputPattern::new(dir.path().join("x.exr"), &job.frames).unwrap();
        let run = |output: &OutputPattern| {
            render_job(
                &absent,
                &job,
                output,
                backend(false),
                PriceTable::default(),
                false,
                &mut |_| {},
            )
            .unwrap_err()
        };
        let err = run(&output);
        assert!(matches!(err, LocalError::SceneUnreadable { .. }), "{err}");
        assert!(err.to_string().contains("absent.gltf"), "{err}");

        let output = OutputPattern::new(dir.path().join("no").join("x.exr"), &job.frames).unwrap();
        let err = run(&output);
        assert!(matches!(err, LocalError::Output(_)), "{err}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
