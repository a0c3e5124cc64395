//! The worker: takes tasks one at a time, renders them with the renderer library on a blocking
//! thread (so the connection's heartbeats never wait on rendering), sends the result, and only
//! then acknowledges the task.
//!
//! Fault injection for tests and drills: `TESSERA_FAIL_FRAMES=2,5` makes this worker fail every
//! task of those frames as if the renderer had failed.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Instant;

use tessera_renderer::backend::{Backend, DeviceInfo};
use tessera_renderer::bvh::BvhStats;
use tessera_renderer::film::{Tile, TileImage};
use tessera_renderer::scene::{FrameScene, Scene};
use tokio::sync::watch;

use crate::client::Client;
use crate::scene_store::{SceneHash, SceneStore};
use crate::task_message::{JobId, TaskMessage};
use crate::tile_result::{EncodedPixels, Outcome, ResultMessage, WorkerInfo};
use crate::transport::{Delivery, Inbox, Transport, TransportError};

/// The environment variable naming frames whose tasks this worker fails on purpose.
pub const FAIL_FRAMES_ENV: &str = "TESSERA_FAIL_FRAMES";

/// Where a worker gets scenes and asks whether a job still runs.
pub trait SceneSource: Send + Sync + 'static {
    /// A local path holding the scene blob, checked against its hash.
    fn scene_path(&self, hash: SceneHash) -> Result<PathBuf, String>;
    /// False for a job cancelled or failed: its remaining tasks are skipped.
    fn job_is_running(&self, job: JobId) -> bool;
    fn announce(&self, worker: &WorkerInfo);
}

/// Scenes over HTTP from the coordinator, cached on disk by hash.
pub struct HttpSceneSource {
    client: Client,
    cache: SceneStore,
}

impl HttpSceneSource {
    pub fn new(client: Client, cache: SceneStore) -> Self {
        Self { client, cache }
    }
}

impl SceneSource for HttpSceneSource {
    fn scene_path(&self, hash: SceneHash) -> Result<PathBuf, String> {
        if !self.cache.contains(hash) {
            let bytes = self.client.scene(hash).map_err(|e| e.to_string())?;
            self.cache
                .put_checked(hash, &bytes)
                .map_err(|e| e.to_string())?;
        }
        self.cache.scene_file(hash).map_err(|e| e.to_string())
    }

    fn job_is_running(&self, job: JobId) -> bool {
        // When the coordinator cannot be asked, render: a wasted tile is cheaper than a lost one.
        self.client.job_is_running(job).unwrap_or(true)
    }

    fn announce(&self, worker: &WorkerInfo) {
        if let Err(e) = self.client.announce(worker) {
            tracing::warn!(error = %e, "cannot announce this worker to the coordinator");
        }
    }
}

/// Renders tasks on a thread of its own that keeps the last scene it loaded and the last frame
/// it prepared: consecutive tasks are usually tiles of the same frame, and a prepared frame (its
/// BVH) borrows the backend and the frame's scene, so it can only live on one stack.
pub struct TileRenderer {
    device: DeviceInfo,
    fail_frames: Vec<u32>,
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

type Rendered = Result<(TileImage, u64), String>;

struct Request {
    path: PathBuf,
    task: TaskMessage,
    tile: Tile,
    reply: mpsc::SyncSender<Rendered>,
}

#[derive(Clone, PartialEq)]
struct FrameKey {
    scene: SceneHash,
    time_bits: u32,
    camera: Option<String>,
}

impl FrameKey {
    fn of(task: &TaskMessage) -> Self {
        Self {
            scene: task.scene,
            time_bits: task.time.to_bits(),
            camera: task.camera.clone(),
        }
    }
}

impl TileRenderer {
    pub fn new(backend: Box<dyn Backend>, fail_frames: Vec<u32>) -> Self {
        Self::start(backend, fail_frames, None)
    }

    /// A renderer that already holds `scene`, loaded by the caller from its own folder.
    pub fn with_scene(backend: Box<dyn Backend>, hash: SceneHash, scene: Arc<Scene>) -> Self {
        Self::start(backend, Vec::new(), Some((hash, scene)))
    }

    fn start(
        backend: Box<dyn Backend>,
        fail_frames: Vec<u32>,
        scene: Option<(SceneHash, Arc<Scene>)>,
    ) -> Self {
        let (requests, inbox) = mpsc::channel();
        let preparations = Arc::new(Mutex::new(Vec::new()));
        let device = backend.device().clone();
        let log = preparations.clone();
        // Ends when the renderer is dropped and the channel closes.
        std::thread::spawn(move || serve(backend.as_ref(), scene, &inbox, &log));
        Self {
            device,
            fail_frames,
            requests,
            preparations,
        }
    }

    /// Frames listed in `TESSERA_FAIL_FRAMES` (comma-separated); none when unset.
    pub fn fail_frames_from_env() -> Result<Vec<u32>, String> {
        match std::env::var(FAIL_FRAMES_ENV) {
            Err(_) => Ok(Vec::new()),
            Ok(list) => list
                .split(',')
                .filter(|s| !s.trim().is_empty())
                .map(|s| {
                    s.trim()
                        .parse()
                        .map_err(|_| format!("{FAIL_FRAMES_ENV}: '{s}' is not a frame number"))
                })
                .collect(),
        }
    }

    pub fn worker_info(&self, name: &str) -> WorkerInfo {
        WorkerInfo {
            name: name.to_owned(),
            device: self.device.clone(),
        }
    }

    /// Every frame this renderer prepared so far, in order.
    pub fn preparations(&self) -> Vec<Preparation> {
        self.preparations
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Renders one task, blocking; the error is the reason reported to the coordinator.
    pub fn render(&self, path: &Path, task: &TaskMessage) -> Rendered {
        if self.fail_frames.contains(&task.frame) {
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
        let gone = || "the rendering thread stopped".to_owned();
        self.requests.send(request).map_err(|_| gone())?;
        answer.recv().map_err(|_| gone())?
    }
}

/// The rendering thread: prepares a frame, then renders requests while they are for that frame.
fn serve(
    backend: &dyn Backend,
    mut scene: Option<(SceneHash, Arc<Scene>)>,
    inbox: &mpsc::Receiver<Request>,
    preparations: &Mutex<Vec<Preparation>>,
) {
    let mut next = inbox.recv().ok();
    while let Some(first) = next.take() {
        let key = FrameKey::of(&first.task);
        let started = Instant::now();
        let frame_scene = match evaluate(&mut scene, &first) {
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
                Ok(r) if FrameKey::of(&r.task) == key => request = r,
                other => {
                    next = other.ok();
                    break;
                }
            }
        }
    }
}

/// The frame a request is for, loading its scene unless it is the one already held.
fn evaluate(
    scene: &mut Option<(SceneHash, Arc<Scene>)>,
    request: &Request,
) -> Result<FrameScene, String> {
    let task = &request.task;
    let held = match scene {
        Some((hash, held)) if *hash == task.scene => held.clone(),
        _ => {
            let loaded = Arc::new(
                Scene::load(&request.path).map_err(|e| format!("cannot load scene: {e}"))?,
            );
            *scene = Some((task.scene, loaded.clone()));
            loaded
        }
    };
    held.frame(task.time, task.camera.as_deref())
        .map_err(|e| format!("cannot evaluate frame {}: {e}", task.frame))
}

/// Takes and renders tasks until `shutdown` turns true; the task in hand is finished and
/// acknowledged first.
pub async fn run_worker<T: Transport>(
    transport: &T,
    name: &str,
    renderer: Arc<TileRenderer>,
    source: Arc<dyn SceneSource>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), TransportError> {
    let info = renderer.worker_info(name);
    {
        let (source, info) = (source.clone(), info.clone());
        let _ = tokio::task::spawn_blocking(move || source.announce(&info)).await;
    }
    // One task in hand per rendering device.
    let mut inbox = transport.consume_tasks(1).await?;
    tracing::info!(worker = %info.name, device = %info.device, "worker ready");
    loop {
        if *shutdown.borrow() {
            break;
        }
        let delivery = tokio::select! {
            _ = shutdown.changed() => break,
            delivery = inbox.next() => match delivery {
                Some(d) => d,
                None => break,
            },
        };
        handle_task(transport, &info, &renderer, &source, delivery).await;
    }
    tracing::info!(worker = %info.name, "worker stopped");
    Ok(())
}

async fn handle_task<T: Transport>(
    transport: &T,
    info: &WorkerInfo,
    renderer: &Arc<TileRenderer>,
    source: &Arc<dyn SceneSource>,
    delivery: Delivery<TaskMessage>,
) {
    let task = delivery.message.clone();
    let running = {
        let source = source.clone();
        tokio::task::spawn_blocking(move || source.job_is_running(task.job))
            .await
            .unwrap_or(true)
    };
    if !running {
        tracing::debug!(task = %task.task, job = %task.job, "skipping a task of a finished job");
        let _ = delivery.ack().await;
        return;
    }
    let rendered = {
        let (renderer, source, task) = (renderer.clone(), source.clone(), task.clone());
        tokio::task::spawn_blocking(move || {
            let path = source.scene_path(task.scene)?;
            renderer.render(&path, &task)
        })
        .await
        .unwrap_or_else(|e| Err(format!("renderer crashed: {e}")))
    };
    let outcome = match &rendered {
        Ok((image, render_micros)) => Outcome::Rendered {
            render_micros: *render_micros,
            samples: task.samples(),
            pixels: EncodedPixels::encode(&image.pixels),
        },
        Err(reason) => Outcome::Failed {
            reason: reason.clone(),
        },
    };
    let result = ResultMessage {
        task: task.task,
        job: task.job,
        frame: task.frame,
        tile: task.tile,
        attempt: task.attempt,
        worker: info.clone(),
        outcome,
    };
    if let Err(e) = transport.publish_result(&result).await {
        // Not acknowledged: the task is delivered again once the connection is back.
        tracing::warn!(task = %task.task, error = %e, "cannot send result");
        return;
    }
    let settled = match &rendered {
        Ok(_) => delivery.ack().await,
        Err(reason) if task.is_last_attempt() => {
            tracing::error!(task = %task.task, attempt = task.attempt, %reason, "task failed for the last time; dead-lettering it");
            delivery.dead_letter().await
        }
        Err(reason) => {
            tracing::warn!(task = %task.task, attempt = task.attempt, %reason, "task failed; queueing another attempt");
            match transport.publish_tasks(&[task.retry()]).await {
                Ok(()) => delivery.ack().await,
                Err(e) => Err(e),
            }
        }
    };
    if let Err(e) = settled {
        tracing::warn!(task = %task.task, error = %e, "cannot settle task; it will be delivered again");
    }
}
