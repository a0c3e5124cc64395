//! The worker: takes tasks one at a time, renders them with the renderer library on a blocking
//! thread (so the connection's heartbeats never wait on rendering), sends the result, and only
//! then acknowledges the task.
//!
//! Fault injection for tests and drills: `TESSERA_FAIL_FRAMES=2,5` makes this worker fail every
//! task of those frames as if the renderer had failed.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tessera_renderer::backend::Backend;
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
        Ok(self.cache.path(hash))
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

/// Renders tasks, keeping the last scene and frame it prepared: consecutive tasks are usually
/// tiles of the same frame.
pub struct TileRenderer {
    backend: Box<dyn Backend>,
    fail_frames: Vec<u32>,
    scene: Mutex<Option<(SceneHash, Arc<Scene>)>>,
    frame: Mutex<Option<(FrameKey, Arc<FrameScene>)>>,
}

#[derive(Clone, PartialEq)]
struct FrameKey {
    scene: SceneHash,
    time_bits: u32,
    camera: Option<String>,
}

impl TileRenderer {
    pub fn new(backend: Box<dyn Backend>, fail_frames: Vec<u32>) -> Self {
        Self {
            backend,
            fail_frames,
            scene: Mutex::new(None),
            frame: Mutex::new(None),
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
            device: self.backend.device().clone(),
        }
    }

    fn frame_scene(
        &self,
        path: &std::path::Path,
        task: &TaskMessage,
    ) -> Result<Arc<FrameScene>, String> {
        let key = FrameKey {
            scene: task.scene,
            time_bits: task.time.to_bits(),
            camera: task.camera.clone(),
        };
        let mut frame = self.frame.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((k, f)) = frame.as_ref()
            && *k == key
        {
            return Ok(f.clone());
        }
        let scene = {
            let mut cached = self.scene.lock().unwrap_or_else(|p| p.into_inner());
            match cached.as_ref() {
                Some((hash, scene)) if *hash == task.scene => scene.clone(),
                _ => {
                    let scene =
                        Arc::new(Scene::load(path).map_err(|e| format!("cannot load scene: {e}"))?);
                    *cached = Some((task.scene, scene.clone()));
                    scene
                }
            }
        };
        let evaluated = Arc::new(
            scene
                .frame(task.time, task.camera.as_deref())
                .map_err(|e| format!("cannot evaluate frame {}: {e}", task.frame))?,
        );
        *frame = Some((key, evaluated.clone()));
        Ok(evaluated)
    }

    /// Renders one task; the error is the reason reported to the coordinator.
    pub fn render(
        &self,
        path: &std::path::Path,
        task: &TaskMessage,
    ) -> Result<(TileImage, u64), String> {
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
        let scene = self.frame_scene(path, task)?;
        let prepared = self.backend.prepare(&scene).map_err(|e| e.to_string())?;
        let started = Instant::now();
        let image = prepared
            .render_tile(task.resolution, tile, task.frame, &task.settings)
            .map_err(|e| e.to_string())?;
        Ok((image, started.elapsed().as_micros() as u64))
    }
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
    tracing::info!(worker = %info.name, device = %info.device, "worker ready");
    // One task in hand per rendering device.
    let mut inbox = transport.consume_tasks(1).await?;
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
