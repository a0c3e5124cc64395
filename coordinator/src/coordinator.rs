//! The coordinator: validates and stores submitted jobs, feeds their tasks to the transport,
//! accepts results (checked, written to disk, committed, billed, then acknowledged), and writes
//! each frame's EXR once its tiles are in.
//!
//! Everything it knows is in the data directory (SQLite store, scene blobs, accepted tiles,
//! frames), so a coordinator killed at any point and started again on the same directory carries
//! on: unacknowledged results are delivered again, duplicates are recognised by the store.

use std::io::Write;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tessera_renderer::film::{FrameImage, Resolution, TileImage};
use tessera_renderer::integrator::RenderSettings;
use tessera_renderer::output;
use tessera_renderer::scene::Scene;
use tokio::sync::watch;

use crate::job::{Fps, FrameSet, SizeRequest};
use crate::ledger::{self, PriceTable};
use crate::merge::FrameMerger;
use crate::scene_archive;
use crate::scene_store::{SceneHash, SceneStore, SceneStoreError};
use crate::store::{
    self, Acceptance, Durability, FarmJobSpec, JobRecord, JobState, LedgerRow, Store, StoreError,
    TaskRecord, TaskState,
};
use crate::task::TaskPlan;
use crate::task_message::{JobId, TaskId, TaskMessage};
use crate::tile_result::{EncodedPixels, Outcome, ResultMessage};
use crate::transport::{Inbox, Transport, TransportError};

/// Attempts a task gets before it is dead-lettered and its job failed.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
/// Tasks kept in the broker at once; the rest wait in the store, so a later job of higher
/// priority overtakes them.
pub const DEFAULT_WINDOW: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum FarmError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    BadScene(String),
    #[error("no job {0}")]
    UnknownJob(JobId),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Scenes(#[from] SceneStoreError),
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write frame: {0}")]
    Output(#[from] output::OutputError),
}

impl FarmError {
    fn from_store(e: StoreError) -> Self {
        match e {
            StoreError::UnknownJob(id) => FarmError::UnknownJob(id),
            e => FarmError::Store(e),
        }
    }
}

/// A job as submitted: the scene's bytes and the render options of `tessera render`.
pub struct Submission {
    pub scene_name: String,
    pub scene: Vec<u8>,
    pub frames: FrameSet,
    pub size: SizeRequest,
    pub settings: RenderSettings,
    pub tile_size: NonZeroU32,
    pub fps: Fps,
    pub camera: Option<String>,
    pub priority: i32,
}

pub struct FarmConfig {
    pub data_dir: PathBuf,
    pub prices: PriceTable,
    pub max_attempts: u32,
    pub window: usize,
    pub durability: Durability,
    pub events: Option<Arc<dyn FarmEvents>>,
    /// How many times a result that cannot be recorded (disk full, database error) is tried
    /// again before `run` stops with the error. `None`, a coordinator's setting, retries until
    /// it succeeds, so an operator can free space without losing tiles; a local render fails
    /// instead of waiting on a disk nobody is watching.
    pub record_retries: Option<u32>,
}

/// What the farm reports as it goes, beyond its store: `tessera render` follows its job with
/// these and writes each frame where the user asked.
pub trait FarmEvents: Send + Sync {
    /// A task's result was accepted and billed (duplicates are not reported).
    fn tile_accepted(&self, row: &LedgerRow);
    /// A frame was assembled from its tiles; called before the frame counts as written, so a
    /// job is done only after every one of its frames went through here.
    fn frame_assembled(&self, job: JobId, frame: u32, image: &FrameImage);
}

impl FarmConfig {
    pub fn new(data_dir: impl Into<PathBuf>, prices: PriceTable) -> Self {
        Self {
            data_dir: data_dir.into(),
            prices,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            window: DEFAULT_WINDOW,
            durability: Durability::CrashSafe,
            events: None,
            record_retries: None,
        }
    }
}

pub struct Farm<T> {
    store: Store,
    scenes: SceneStore,
    data_dir: PathBuf,
    prices: PriceTable,
    max_attempts: u32,
    window: usize,
    transport: T,
    durability: Durability,
    events: Option<Arc<dyn FarmEvents>>,
    record_retries: Option<u32>,
    /// One top-up at a time, so two never publish the same pending tasks.
    publishing: tokio::sync::Mutex<()>,
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> FarmError {
    let what = what.into();
    move |source| FarmError::Io { what, source }
}

impl<T: Transport> Farm<T> {
    pub fn open(config: FarmConfig, transport: T) -> Result<Arc<Self>, FarmError> {
        let dir = &config.data_dir;
        std::fs::create_dir_all(dir).map_err(io(format!(
            "cannot create data directory '{}'",
            dir.display()
        )))?;
        Ok(Arc::new(Self {
            store: Store::open_with(&dir.join("farm.db"), config.durability)?,
            scenes: SceneStore::open(dir.join("scenes"))?,
            data_dir: dir.clone(),
            prices: config.prices,
            max_attempts: config.max_attempts.max(1),
            window: config.window.max(1),
            transport,
            durability: config.durability,
            events: config.events,
            record_retries: config.record_retries,
            publishing: tokio::sync::Mutex::new(()),
        }))
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn scenes(&self) -> &SceneStore {
        &self.scenes
    }

    pub fn prices(&self) -> &PriceTable {
        &self.prices
    }

    /// Validates the scene with the renderer's loader, stores it, and creates the job's tasks.
    /// Nothing is stored when the scene or the options are bad.
    pub async fn submit(&self, s: Submission) -> Result<JobId, FarmError> {
        let scene_name = s.scene_name.clone();
        let bytes = s.scene;
        let camera = s.camera.clone();
        let first = s.frames.frames()[0];
        let time = s.fps.frame_time(first) as f32;
        let size = s.size;
        let (bytes, resolution) = tokio::task::spawn_blocking(move || {
            validate_scene(&scene_name, &bytes, time, camera.as_deref(), size).map(|r| (bytes, r))
        })
        .await
        .map_err(|e| FarmError::BadScene(format!("scene validation failed: {e}")))??;
        self.create_job(Submission { scene: bytes, ..s }, resolution)
            .await
    }

    /// Submits a scene the caller has already loaded and sized from its own folder, so that its
    /// external files resolve: `tessera render` does, with the workers in this process.
    pub async fn submit_loaded(
        &self,
        s: Submission,
        resolution: Resolution,
    ) -> Result<JobId, FarmError> {
        self.create_job(s, resolution).await
    }

    async fn create_job(&self, s: Submission, resolution: Resolution) -> Result<JobId, FarmError> {
        let hash = self.scenes.put(&s.scene)?;
        let spec = FarmJobSpec {
            frames: s.frames,
            resolution,
            settings: s.settings,
            tile_size: s.tile_size,
            fps: s.fps,
            camera: s.camera,
            max_attempts: self.max_attempts,
        };
        let plan = TaskPlan::new(spec.frames.clone(), resolution, spec.tile_size);
        let job = self
            .store
            .create_job(hash, &s.scene_name, &spec, s.priority, plan.tasks())?;
        tracing::info!(%job, tasks = plan.len(), "job submitted");
        if let Err(e) = self.top_up().await {
            // The tasks stay pending and go out with the next top-up.
            tracing::warn!(%job, error = %e, "cannot queue tasks yet");
        }
        Ok(job)
    }

    /// Publishes pending tasks until the window is full. A task is marked queued only once the
    /// transport confirmed it.
    pub async fn top_up(&self) -> Result<(), FarmError> {
        let _one_at_a_time = self.publishing.lock().await;
        loop {
            let queued = self.store.queued_count()?;
            if queued >= self.window {
                return Ok(());
            }
            let batch = self.store.next_pending(self.window - queued)?;
            if batch.is_empty() {
                return Ok(());
            }
            let mut messages = Vec::with_capacity(batch.len());
            let mut jobs = std::collections::HashMap::new();
            for (task, job) in &batch {
                if !jobs.contains_key(job) {
                    jobs.insert(*job, self.store.job(*job)?);
                }
                messages.push(task_message(&jobs[job], task, 1));
            }
            // Taken before publishing: a worker may start before the broker confirms.
            let published_at = store::now();
            self.transport.publish_tasks(&messages).await?;
            let ids: Vec<TaskId> = batch.iter().map(|(t, _)| t.id).collect();
            self.store.mark_queued(&ids, published_at)?;
        }
    }

    /// Cancels a running job: its pending tasks are never sent, and results for it are ignored.
    pub fn cancel(&self, job: JobId) -> Result<(), FarmError> {
        let record = self.store.job(job).map_err(FarmError::from_store)?;
        if !self
            .store
            .finish_job(job, JobState::Cancelled, Some("cancelled by request"))?
        {
            return Err(FarmError::Conflict(format!(
                "job {job} is already {}",
                serde_json::to_value(record.state)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            )));
        }
        Ok(())
    }

    pub fn job(&self, job: JobId) -> Result<JobRecord, FarmError> {
        self.store.job(job).map_err(FarmError::from_store)
    }

    /// Where a finished frame's EXR is.
    pub fn frame_file(&self, job: JobId, frame: u32) -> Result<PathBuf, FarmError> {
        let record = self.job(job)?;
        if record.spec.frames.frames().binary_search(&frame).is_err() {
            return Err(FarmError::NotFound(format!(
                "job {job} has no frame {frame}"
            )));
        }
        if !self.store.frame_written(job, frame)? {
            return Err(FarmError::Conflict(format!(
                "frame {frame} of job {job} is not finished"
            )));
        }
        Ok(self.frame_path(job, frame))
    }

    fn frame_path(&self, job: JobId, frame: u32) -> PathBuf {
        self.data_dir
            .join("frames")
            .join(job.to_string())
            .join(format!("frame_{frame:04}.exr"))
    }

    fn tile_path(&self, job: JobId, task: TaskId) -> PathBuf {
        self.data_dir
            .join("tiles")
            .join(job.to_string())
            .join(format!("{task}.tile"))
    }

    /// Finishes what a previous run left half-done, queues what is pending, then handles
    /// results until `shutdown` turns true.
    pub async fn run(
        self: Arc<Self>,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<(), FarmError> {
        self.recover()?;
        let mut results = self.transport.consume_results().await?;
        let mut top_up = tokio::time::interval(Duration::from_secs(2));
        loop {
            if *shutdown.borrow() {
                return Ok(());
            }
            tokio::select! {
                _ = shutdown.changed() => return Ok(()),
                _ = top_up.tick() => {
                    // Catches tasks left pending by a failed publish.
                    if let Err(e) = self.top_up().await {
                        tracing::warn!(error = %e, "cannot queue tasks");
                    }
                }
                delivery = results.next() => {
                    let Some(delivery) = delivery else { return Ok(()) };
                    // Transient failures (disk, database) are retried here: acknowledging
                    // would lose the tile, and not acknowledging would stall the consumer.
                    let mut wait = Duration::from_millis(100);
                    let mut retries = 0;
                    while let Err(e) = self.handle_result(&delivery.message).await {
                        if self.record_retries.is_some_and(|limit| retries >= limit) {
                            tracing::error!(error = %e, task = %delivery.message.task, "cannot record result; giving up");
                            return Err(e);
                        }
                        retries += 1;
                        tracing::error!(error = %e, task = %delivery.message.task, "cannot record result; retrying");
                        tokio::time::sleep(wait).await;
                        wait = (wait * 2).min(Duration::from_secs(5));
                    }
                    if let Err(e) = delivery.ack().await {
                        // It comes back and is recognised as a duplicate.
                        tracing::warn!(error = %e, "cannot acknowledge result");
                    }
                    if let Err(e) = self.top_up().await {
                        tracing::warn!(error = %e, "cannot queue tasks");
                    }
                }
            }
        }
    }

    /// Writes the frames whose tiles were all accepted before a restart, and finishes the
    /// jobs whose frames are all written.
    fn recover(&self) -> Result<(), FarmError> {
        for job in self.store.running_jobs()? {
            let record = self.store.job(job)?;
            for frame in self.store.frame_progress(job)? {
                if frame.tiles_done == frame.tiles_total && !frame.written {
                    self.write_frame(&record, frame.frame)?;
                }
            }
            self.finish_if_complete(job)?;
        }
        Ok(())
    }

    /// Records one result. `Ok` means it may be acknowledged: accepted, a duplicate, or refused
    /// for good (with the task sent again where the worker's output was unusable).
    pub async fn handle_result(&self, r: &ResultMessage) -> Result<(), FarmError> {
        let Some(job) = self.store.task_job(r.task)? else {
            tracing::warn!(task = %r.task, worker = %r.worker.name, "result for an unknown task ignored");
            return Ok(());
        };
        let record = self.store.job(job)?;
        if record.state != JobState::Running {
            tracing::debug!(%job, "result for a job that is no longer running ignored");
            return Ok(());
        }
        let Some(task) = self.store.task(r.task, record.spec.resolution)? else {
            return Ok(());
        };
        if r.job != job || r.frame != task.task.frame || r.tile != task.task.tile {
            tracing::warn!(task = %r.task, worker = %r.worker.name, "result does not match its task; ignored");
            return Ok(());
        }
        if task.state == TaskState::Done {
            tracing::debug!(task = %r.task, "duplicate result ignored");
            return Ok(());
        }
        match &r.outcome {
            Outcome::Failed { reason } => {
                // The worker has already sent the task again or dead-lettered it.
                let last = r.attempt >= record.spec.max_attempts;
                self.store.record_failure(task.id, reason, last)?;
                tracing::warn!(task = %r.task, attempt = r.attempt, worker = %r.worker.name, %reason, "task failed");
                if last {
                    self.fail_job(&record, &task, r.attempt, reason)?;
                }
                Ok(())
            }
            Outcome::Rendered {
                render_micros,
                samples,
                pixels,
            } => {
                let compressed = match self.check_pixels(&record, &task, *samples, pixels) {
                    Ok(compressed) => compressed,
                    Err(reason) => {
                        let reason =
                            format!("unusable result from worker '{}': {reason}", r.worker.name);
                        return self
                            .retry_by_coordinator(&record, &task, r.attempt, &reason)
                            .await;
                    }
                };
                self.accept(&record, &task, r, *render_micros, *samples, &compressed)
            }
        }
    }

    /// Checks a result's pixels; returns their compressed form, as the tile is stored.
    fn check_pixels(
        &self,
        job: &JobRecord,
        task: &TaskRecord,
        samples: u64,
        pixels: &EncodedPixels,
    ) -> Result<Vec<u8>, String> {
        let expected = task.task.tile.pixel_count() as u64 * u64::from(job.spec.settings.spp.get());
        if samples != expected {
            return Err(format!(
                "{samples} samples reported, the task has {expected}"
            ));
        }
        let compressed = pixels.compressed().map_err(|e| e.to_string())?;
        EncodedPixels::decode_compressed(&compressed, task.task.tile.pixel_count())
            .map_err(|e| e.to_string())?
            .check_plausible()
            .map_err(|e| e.to_string())?;
        Ok(compressed)
    }

    /// A result the coordinator refused: the task is sent again, or the job fails.
    async fn retry_by_coordinator(
        &self,
        job: &JobRecord,
        task: &TaskRecord,
        attempt: u32,
        reason: &str,
    ) -> Result<(), FarmError> {
        let last = attempt >= job.spec.max_attempts;
        self.store.record_failure(task.id, reason, last)?;
        tracing::warn!(task = %task.id, attempt, %reason, "result refused");
        if last {
            return self.fail_job(job, task, attempt, reason);
        }
        self.transport
            .publish_tasks(&[task_message(job, task, attempt + 1)])
            .await?;
        Ok(())
    }

    fn fail_job(
        &self,
        job: &JobRecord,
        task: &TaskRecord,
        attempts: u32,
        reason: &str,
    ) -> Result<(), FarmError> {
        let why = format!(
            "task {} (frame {}, tile {}) failed {attempts} time(s): {reason}",
            task.id, task.task.frame, task.task.tile
        );
        tracing::error!(job = %job.id, %why, "job failed");
        self.store
            .finish_job(job.id, JobState::Failed, Some(&why))?;
        Ok(())
    }

    fn accept(
        &self,
        job: &JobRecord,
        task: &TaskRecord,
        r: &ResultMessage,
        render_micros: u64,
        samples: u64,
        compressed: &[u8],
    ) -> Result<(), FarmError> {
        // The tile is on disk before the store says the task is done.
        let path = self.tile_path(job.id, task.id);
        write_atomically(&path, compressed, self.durability)?;
        let render_micros = self.billable_micros(task, r, render_micros)?;
        let device = &r.worker.device;
        let hourly = self.prices.hourly(&device.class, device.threads);
        let row = LedgerRow {
            task: task.id,
            job: job.id,
            frame: task.task.frame,
            tile: task.task.tile.to_string(),
            worker: r.worker.name.clone(),
            device_class: device.class.clone(),
            threads: device.threads,
            render_micros,
            samples,
            hourly,
            charge: ledger::charge(hourly, render_micros),
        };
        if self.store.accept(&row, &r.worker)? == Acceptance::Duplicate {
            return Ok(());
        }
        if let Some(events) = &self.events {
            events.tile_accepted(&row);
        }
        let frame = task.task.frame;
        let (done, total) = self.store.frame_tasks(job.id, frame, job.spec.resolution)?;
        if done.len() == total && !self.store.frame_written(job.id, frame)? {
            self.write_frame(job, frame)?;
            self.finish_if_complete(job.id)?;
        }
        Ok(())
    }

    /// The render time to bill: what the worker reports, but never more than has passed since
    /// the task was first published, the one bound the coordinator can check on a worker it
    /// does not control.
    fn billable_micros(
        &self,
        task: &TaskRecord,
        r: &ResultMessage,
        reported: u64,
    ) -> Result<u64, FarmError> {
        let Some(published_at) = self.store.queued_at(task.id)? else {
            return Ok(reported);
        };
        let elapsed = ((store::now() - published_at).max(0.0) * 1e6) as u64;
        if reported > elapsed {
            tracing::warn!(task = %task.id, worker = %r.worker.name, reported, elapsed, "render time reported beyond the time since publication; billing the latter");
            return Ok(elapsed);
        }
        Ok(reported)
    }

    /// Assembles a frame from its accepted tiles and writes its EXR.
    fn write_frame(&self, job: &JobRecord, frame: u32) -> Result<(), FarmError> {
        let spec = &job.spec;
        let (done, _) = self.store.frame_tasks(job.id, frame, spec.resolution)?;
        let plan = TaskPlan::new(
            FrameSet::single(NonZeroU32::new(frame).expect("frames start at 1")),
            spec.resolution,
            spec.tile_size,
        );
        let mut merger = FrameMerger::new(plan);
        let mut image = None;
        for task in &done {
            let path = self.tile_path(job.id, task.id);
            let compressed = std::fs::read(&path)
                .map_err(io(format!("cannot read tile '{}'", path.display())))?;
            let pixels =
                EncodedPixels::decode_compressed(&compressed, task.task.tile.pixel_count())
                    .map_err(|e| {
                        FarmError::BadRequest(format!("stored tile '{}': {e}", path.display()))
                    })?;
            let tile = TileImage {
                tile: task.task.tile,
                pixels,
            };
            image = merger
                .add(frame, tile)
                .map_err(|e| FarmError::BadRequest(e.to_string()))?
                .or(image);
        }
        let image = image
            .ok_or_else(|| FarmError::BadRequest(format!("frame {frame} has missing tiles")))?;
        let path = self.frame_path(job.id, frame);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(io(format!("cannot create '{}'", dir.display())))?;
        }
        output::write_frame(&path, &image)?;
        if let Some(events) = &self.events {
            events.frame_assembled(job.id, frame, &image);
        }
        self.store.mark_frame_written(job.id, frame)?;
        tracing::info!(job = %job.id, frame, path = %path.display(), "frame written");
        for task in &done {
            // The frame holds them now; a leftover tile only costs disk space.
            let _ = std::fs::remove_file(self.tile_path(job.id, task.id));
        }
        Ok(())
    }

    fn finish_if_complete(&self, job: JobId) -> Result<(), FarmError> {
        let frames = self.store.frame_progress(job)?;
        if frames.iter().all(|f| f.written) {
            self.store.finish_job(job, JobState::Done, None)?;
            tracing::info!(%job, "job done");
        }
        Ok(())
    }
}

/// The message for a stored task.
fn task_message(job: &JobRecord, task: &TaskRecord, attempt: u32) -> TaskMessage {
    let spec = &job.spec;
    TaskMessage {
        task: task.id,
        job: job.id,
        scene: job.scene,
        frame: task.task.frame,
        time: spec.fps.frame_time(task.task.frame) as f32,
        camera: spec.camera.clone(),
        resolution: spec.resolution,
        tile: task.task.tile,
        settings: spec.settings,
        attempt,
        max_attempts: spec.max_attempts,
    }
}

/// Loads the scene with the renderer's loader and evaluates its first frame, which also gives
/// the camera that sizes the image.
fn validate_scene(
    name: &str,
    bytes: &[u8],
    time: f32,
    camera: Option<&str>,
    size: SizeRequest,
) -> Result<tessera_renderer::film::Resolution, FarmError> {
    let dir = tempfile::tempdir().map_err(io("cannot create a temporary folder"))?;
    let bad =
        |e: &dyn std::fmt::Display| FarmError::BadScene(format!("cannot load scene '{name}': {e}"));
    let path = if scene_archive::is_archive(bytes) {
        scene_archive::unpack(bytes, dir.path()).map_err(|e| bad(&e))?
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
    let frame = scene.frame(time, camera).map_err(|e| bad(&e))?;
    size.resolve(&frame.camera)
        .map_err(|e| FarmError::BadRequest(e.to_string()))
}

/// Written to a temporary file and renamed, so a file under its final name is complete.
fn write_atomically(path: &Path, bytes: &[u8], durability: Durability) -> Result<(), FarmError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io(format!("cannot create '{}'", dir.display())))?;
    let what = format!("cannot write '{}'", path.display());
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io(what.clone()))?;
    tmp.write_all(bytes).map_err(io(what.clone()))?;
    if durability == Durability::CrashSafe {
        tmp.as_file().sync_all().map_err(io(what.clone()))?;
    }
    tmp.persist(path).map_err(|e| FarmError::Io {
        what,
        source: e.error,
    })?;
    Ok(())
}

/// What a scene hash names, for the API's scene download.
pub fn scene_hash(s: &str) -> Result<SceneHash, FarmError> {
    s.parse()
        .map_err(|e: SceneStoreError| FarmError::BadRequest(e.to_string()))
}

/// Workers in the coordinator's own process (as `tessera render` runs) read scenes and job
/// states straight from the farm.
impl<T: Transport> crate::worker::SceneSource for Farm<T> {
    fn scene_path(&self, hash: SceneHash) -> Result<PathBuf, String> {
        if self.scenes.contains(hash) {
            self.scenes.scene_file(hash).map_err(|e| e.to_string())
        } else {
            Err(SceneStoreError::Missing(hash).to_string())
        }
    }

    fn job_is_running(&self, job: JobId) -> bool {
        matches!(self.store.job_state(job), Ok(JobState::Running))
    }

    fn announce(&self, worker: &crate::tile_result::WorkerInfo) {
        if let Err(e) = self.store.announce_worker(worker) {
            tracing::warn!(error = %e, "cannot record worker");
        }
    }
}
