//! Rendering tasks: a thread of its own keeps the last scene it loaded and the last frame it
//! prepared, so consecutive tiles of one frame share its BVH.
//!
//! Fault injection for tests and drills: `TESSERA_FAIL_FRAMES=2,5` makes a worker fail every
//! task of those frames as if the renderer had failed; `TESSERA_CRASH_FRAMES=2` makes it abort
//! (as a driver crash would) on a task of frame 2.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Instant;

use tessera_protocol::device::Device;
use tessera_protocol::result::WorkerInfo;
use tessera_protocol::scene::SceneHash;
use tessera_protocol::task::TaskMessage;
use tessera_renderer::backend::{Backend, DeviceInfo};
use tessera_renderer::bvh::BvhStats;
use tessera_renderer::environment::{EnvironmentMap, EnvironmentSetting, MapCache};
use tessera_renderer::film::{Tile, TileImage};
use tessera_renderer::scene::{FrameScene, Scene};

/// The environment variable naming frames whose tasks this worker fails on purpose.
pub const FAIL_FRAMES_ENV: &str = "TESSERA_FAIL_FRAMES";
/// The environment variable naming frames whose tasks make this worker abort.
pub const CRASH_FRAMES_ENV: &str = "TESSERA_CRASH_FRAMES";

/// Faults injected on purpose, for tests and drills.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    /// Tasks of these frames fail as if the renderer had.
    pub fail_frames: Vec<u32>,
    /// Tasks of these frames abort the process.
    pub crash_frames: Vec<u32>,
}

impl Faults {
    /// From `TESSERA_FAIL_FRAMES` and `TESSERA_CRASH_FRAMES` (comma-separated); none when unset.
    pub fn from_env() -> Result<Self, String> {
        Ok(Self {
            fail_frames: frames_from_env(FAIL_FRAMES_ENV)?,
            crash_frames: frames_from_env(CRASH_FRAMES_ENV)?,
        })
    }
}

fn frames_from_env(name: &str) -> Result<Vec<u32>, String> {
    match std::env::var(name) {
        Err(_) => Ok(Vec::new()),
        Ok(list) => list
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(|s| {
                s.trim()
                    .parse()
                    .map_err(|_| format!("{name}: '{s}' is not a frame number"))
            })
            .collect(),
    }
}

/// Renders tasks on a thread of its own that keeps the last scene it loaded and the last frame
/// it prepared: consecutive tasks are usually tiles of the same frame, and a prepared frame (its
/// BVH) borrows the backend and the frame's scene, so it can only live on one stack.
pub struct TileRenderer {
    device: DeviceInfo,
    faults: Faults,
    requests: mpsc::Sender<Request>,
    preparations: Arc<Mutex<Vec<Preparation>>>,
}

/// One frame prepared for the backend, and what that cost.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Preparation {
    pub frame: u32,
    pub seconds: f64,
    pub bvh: BvhStats,
}

/// A task's tile and its render time in microseconds, or why it failed.
pub type Rendered = Result<(TileImage, u64), String>;

struct Request {
    path: PathBuf,
    task: TaskMessage,
    tile: Tile,
    reply: mpsc::SyncSender<Rendered>,
}

/// An environment map the caller loaded for its job, with the setting that named it.
pub type HeldMap = (EnvironmentSetting, Arc<EnvironmentMap>);

/// What the rendering thread keeps between tasks.
struct Held {
    scene: Option<(SceneHash, Arc<Scene>)>,
    maps: MapCache<SceneHash>,
    /// Whether maps are read where a job's options say (the local pipeline, with the user's own
    /// paths) rather than only inside the scene's folder (a farm's untrusted names).
    maps_as_given: bool,
}

impl Held {
    /// No scene or map yet.
    fn nothing(maps_as_given: bool) -> Self {
        Self {
            scene: None,
            maps: MapCache::default(),
            maps_as_given,
        }
    }
}

impl TileRenderer {
    pub fn new(backend: Box<dyn Backend>, faults: Faults) -> Self {
        Self::start(backend, faults, Held::nothing(false))
    }

    /// A renderer that already holds `scene` and its job's environment map, loaded by the
    /// caller from the user's own paths (the local pipeline).
    pub fn with_scene(
        backend: Box<dyn Backend>,
        hash: SceneHash,
        scene: Arc<Scene>,
        map: Option<HeldMap>,
    ) -> Self {
        let held = Held {
            scene: Some((hash, scene)),
            maps: map.map_or_else(MapCache::default, |(setting, map)| {
                MapCache::holding(hash, setting.file, map)
            }),
            maps_as_given: true,
        };
        Self::start(backend, Faults::default(), held)
    }

    fn start(backend: Box<dyn Backend>, faults: Faults, held: Held) -> Self {
        let (requests, inbox) = mpsc::channel();
        let preparations = Arc::new(Mutex::new(Vec::new()));
        let device = backend.device().clone();
        let log = preparations.clone();
        let maps_as_given = held.maps_as_given;
        // Ends when the renderer is dropped and the channel closes. A panic while rendering (a
        // bug, or a backend the coordinator's checks never run) fails the task in hand and not
        // every later one: the thread serves on, holding nothing.
        std::thread::spawn(move || {
            let mut held = Some(held);
            loop {
                let held = held.take().unwrap_or(Held::nothing(maps_as_given));
                let served = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    serve(backend.as_ref(), held, &inbox, &log)
                }));
                if served.is_ok() {
                    break;
                }
                tracing::error!("the renderer panicked; its task failed and it starts afresh");
            }
        });
        Self {
            device,
            faults,
            requests,
            preparations,
        }
    }

    /// The device, as the renderer opened it.
    pub fn device(&self) -> &DeviceInfo {
        &self.device
    }

    /// This worker as its results name it.
    pub fn worker_info(&self, name: &str) -> WorkerInfo {
        WorkerInfo {
            name: name.to_owned(),
            device: Device::of(&self.device),
        }
    }

    /// Every frame this renderer prepared so far, in order.
    pub fn preparations(&self) -> Vec<Preparation> {
        self.preparations
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Renders tasks in turn, blocking, all handed to the rendering thread at once; each error
    /// is the reason reported to the coordinator.
    pub fn render(&self, path: &Path, tasks: &[TaskMessage]) -> Vec<Rendered> {
        let answers: Vec<_> = tasks.iter().map(|task| self.request(path, task)).collect();
        answers
            .into_iter()
            .map(|answer| answer?.recv().map_err(|_| RENDERER_GONE.to_owned())?)
            .collect()
    }

    /// Hands one task to the rendering thread: where its tile will come.
    fn request(&self, path: &Path, task: &TaskMessage) -> Result<mpsc::Receiver<Rendered>, String> {
        if self.faults.crash_frames.contains(&task.frame) {
            eprintln!(
                "fault injected by {CRASH_FRAMES_ENV}: aborting on frame {}",
                task.frame
            );
            std::process::abort();
        }
        if self.faults.fail_frames.contains(&task.frame) {
            return Err(format!(
                "fault injected by {FAIL_FRAMES_ENV} for frame {}",
                task.frame
            ));
        }
        let tile = Tile::new(
            task.tile.x(),
            task.tile.y(),
            task.tile.width(),
            task.tile.height(),
            task.resolution,
        )
        .map_err(|e| e.to_string())?;
        let (reply, answer) = mpsc::sync_channel(1);
        let request = Request {
            path: path.to_owned(),
            task: task.clone(),
            tile,
            reply,
        };
        self.requests
            .send(request)
            .map_err(|_| RENDERER_GONE.to_owned())?;
        Ok(answer)
    }
}

/// A task's answer when the rendering thread dropped it: it panicked on the task (and serves
/// on), or it is gone.
const RENDERER_GONE: &str = "the renderer failed on this task unexpectedly";

/// The rendering thread: prepares a frame, then renders requests while they are for that frame.
fn serve(
    backend: &dyn Backend,
    mut held: Held,
    inbox: &mpsc::Receiver<Request>,
    preparations: &Mutex<Vec<Preparation>>,
) {
    let mut next = inbox.recv().ok();
    while let Some(first) = next.take() {
        let key = first.task.frame_key();
        let started = Instant::now();
        let frame_scene = match evaluate(&mut held, &first) {
            Ok(f) => f,
            Err(reason) => {
                let _ = first.reply.send(Err(reason));
                next = inbox.recv().ok();
                continue;
            }
        };
        let prepared = match backend.prepare(&frame_scene) {
            Ok(p) => p,
            Err(e) => {
                let _ = first.reply.send(Err(e.to_string()));
                next = inbox.recv().ok();
                continue;
            }
        };
        preparations
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Preparation {
                frame: first.task.frame,
                seconds: started.elapsed().as_secs_f64(),
                bvh: prepared.bvh_stats(),
            });
        let mut request = first;
        loop {
            let task = &request.task;
            let started = Instant::now();
            let rendered = prepared
                .render_tile(task.resolution, request.tile, task.frame, &task.settings)
                .map(|image| (image, started.elapsed().as_micros() as u64))
                .map_err(|e| e.to_string());
            // The asker may have given up; the next request is served all the same.
            let _ = request.reply.send(rendered);
            match inbox.recv() {
                Ok(r) if r.task.frame_key() == key => request = r,
                other => {
                    next = other.ok();
                    break;
                }
            }
        }
    }
}

/// The frame a request is for, loading its scene and environment map unless they are the ones
/// already held.
fn evaluate(held: &mut Held, request: &Request) -> Result<FrameScene, String> {
    let task = &request.task;
    let scene = match &held.scene {
        Some((hash, scene)) if *hash == task.scene => scene.clone(),
        _ => {
            // Let go of the last scene first: held while the next loads, a worker moving between
            // two large scenes needed room for both.
            held.scene = None;
            let loaded = Arc::new(
                Scene::load(&request.path).map_err(|e| format!("cannot load scene: {e}"))?,
            );
            held.scene = Some((task.scene, loaded.clone()));
            loaded
        }
    };
    let dir = request.path.parent().unwrap_or(Path::new("."));
    let as_given = held.maps_as_given;
    let environment = task
        .environment
        .as_ref()
        .map(|setting| {
            held.maps.environment(task.scene, setting, |s| {
                if as_given {
                    s.load_map()
                } else {
                    s.load_map_in(dir)
                }
            })
        })
        .transpose()
        .map_err(|e| e.to_string())?;
    scene
        .frame_from(
            task.time,
            task.camera.as_deref(),
            &task.view,
            environment.as_ref(),
        )
        .map_err(|e| format!("cannot evaluate frame {}: {e}", task.frame))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use tessera_protocol::id::{JobId, TaskId};
    use tessera_renderer::backend::cpu::CpuBackend;
    use tessera_renderer::backend::{PreparedFrame, RenderError};
    use tessera_renderer::film::Resolution;
    use tessera_renderer::settings::{MaxDepth, RenderSettings, Spp};

    use super::*;

    /// The CPU backend, but its first preparation panics.
    struct PanicsOnce {
        cpu: CpuBackend,
        panicked: AtomicBool,
    }

    impl Backend for PanicsOnce {
        fn device(&self) -> &DeviceInfo {
            self.cpu.device()
        }

        fn prepare<'a>(
            &'a self,
            scene: &'a FrameScene,
        ) -> Result<Box<dyn PreparedFrame + 'a>, RenderError> {
            if !self.panicked.swap(true, Ordering::SeqCst) {
                panic!("a renderer bug");
            }
            self.cpu.prepare(scene)
        }
    }

    #[test]
    fn a_panic_fails_its_task_and_the_renderer_serves_on() {
        let backend = PanicsOnce {
            cpu: CpuBackend::new(Some(1)).unwrap(),
            panicked: AtomicBool::new(false),
        };
        let renderer = TileRenderer::new(Box::new(backend), Faults::default());
        let resolution = Resolution::new(8, 8).unwrap();
        let task = |frame| TaskMessage {
            task: TaskId(i64::from(frame)),
            job: JobId(1),
            scene: SceneHash::of(b"cornell"),
            frame,
            time: 0.0,
            camera: None,
            view: Default::default(),
            environment: None,
            resolution,
            tile: resolution.full_tile(),
            settings: RenderSettings {
                spp: Spp::new(1).unwrap(),
                max_depth: MaxDepth::new(2).unwrap(),
                seed: 0,
            },
            attempt: 1,
            max_attempts: 3,
            trust: Default::default(),
        };
        let scene = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../scenes/cornell-box.gltf"
        ));
        let first = renderer.render(scene, &[task(1)]);
        assert_eq!(first[0].as_ref().unwrap_err(), RENDERER_GONE);
        let later = renderer.render(scene, &[task(2), task(1)]);
        assert!(later.iter().all(Result::is_ok), "{later:?}");
    }
}
