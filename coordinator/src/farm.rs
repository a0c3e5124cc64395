//! The farm: validates and stores submitted jobs, hands their tasks to the transport
//! ([`dispatch`](crate::dispatch)), records results ([`results`](crate::results)), and writes each
//! frame once its tiles are in ([`frames`](crate::frames)).
//!
//! Everything it knows is in the data directory (SQLite store, scene blobs, accepted tiles,
//! frames), so a coordinator killed at any point and started again on the same directory carries
//! on: unacknowledged results are delivered again, duplicates are recognised by the store.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tessera_protocol::api::{JobState, LedgerRow};
use tessera_protocol::id::JobId;
use tessera_protocol::job::JobOptions;
use tessera_protocol::scene::{SceneHash, SceneStore, SceneStoreError};
use tessera_renderer::film::Resolution;
use tessera_renderer::output::Durability;
use tessera_transport::{Inbox, Transport};
use tokio::sync::watch;

use crate::billing::PriceTable;
use crate::error::{FarmError, io};
use crate::frame_paths::{DataDirFrames, FramePaths};
use crate::job::JobSpec;
use crate::plan::TaskPlan;
use crate::store::{JobRecord, Store};
use crate::validate::validate_scene;

/// Attempts a task gets before it is dead-lettered and its job failed.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
/// Tasks kept in the broker at once; the rest wait in the store, so a later job of higher
/// priority overtakes them.
pub const DEFAULT_WINDOW: usize = 64;

/// A job as submitted: the scene's bytes, its render options and its priority.
pub struct Submission {
    pub scene_name: String,
    pub scene: Vec<u8>,
    pub options: JobOptions,
    pub priority: i32,
}

pub struct FarmConfig {
    pub data_dir: PathBuf,
    pub prices: PriceTable,
    pub max_attempts: u32,
    pub window: usize,
    pub durability: Durability,
    pub events: Option<Arc<dyn FarmEvents>>,
    /// Where assembled frames are written; the data directory's `frames/` when `None`.
    pub frame_paths: Option<Arc<dyn FramePaths>>,
    /// How many times a result that cannot be recorded (disk full, database error) is tried
    /// again before `run` stops with the error. `None`, a coordinator's setting, retries until
    /// it succeeds, so an operator can free space without losing tiles; a local render fails
    /// instead of waiting on a disk nobody is watching.
    pub record_retries: Option<u32>,
}

/// What the farm reports as it goes, beyond its store: `tessera render` follows its job with
/// these.
pub trait FarmEvents: Send + Sync {
    /// A task's result was accepted and billed (duplicates are not reported).
    fn tile_accepted(&self, row: &LedgerRow);
    /// A frame was written to `path`; called before the frame counts as written, so a job is
    /// done only after every one of its frames went through here.
    fn frame_written(&self, job: JobId, frame: u32, path: &Path);
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
            frame_paths: None,
            record_retries: None,
        }
    }
}

pub struct Farm<T> {
    pub(crate) store: Store,
    pub(crate) scenes: SceneStore,
    pub(crate) data_dir: PathBuf,
    pub(crate) prices: PriceTable,
    pub(crate) max_attempts: u32,
    pub(crate) window: usize,
    pub(crate) transport: T,
    pub(crate) durability: Durability,
    pub(crate) events: Option<Arc<dyn FarmEvents>>,
    pub(crate) frame_paths: Arc<dyn FramePaths>,
    record_retries: Option<u32>,
    /// One top-up at a time, so two never publish the same pending tasks.
    pub(crate) publishing: tokio::sync::Mutex<()>,
}

impl<T: Transport> Farm<T> {
    pub fn open(config: FarmConfig, transport: T) -> Result<Arc<Self>, FarmError> {
        let dir = &config.data_dir;
        std::fs::create_dir_all(dir).map_err(io(format!(
            "cannot create data directory '{}'",
            dir.display()
        )))?;
        let frame_paths = config
            .frame_paths
            .unwrap_or_else(|| Arc::new(DataDirFrames::new(dir)));
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
            frame_paths,
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
        let options = s.options.clone();
        let (bytes, resolution) = tokio::task::spawn_blocking(move || {
            validate_scene(&scene_name, &bytes, &options).map(|r| (bytes, r))
        })
        .await
        .map_err(|e| FarmError::SceneRejected(format!("scene validation failed: {e}")))??;
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
        // On disk before the job that needs it is recorded.
        let hash = self.scenes.put(&s.scene)?;
        let spec = JobSpec::new(s.options, resolution, self.max_attempts);
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

    /// Cancels a running job: its pending tasks are never sent, and results for it are ignored.
    pub fn cancel(&self, job: JobId) -> Result<(), FarmError> {
        let record = self.job(job)?;
        if !self
            .store
            .finish_job(job, JobState::Cancelled, Some("cancelled by request"))?
        {
            return Err(FarmError::JobNotRunning {
                job,
                state: record.state,
            });
        }
        Ok(())
    }

    pub fn job(&self, job: JobId) -> Result<JobRecord, FarmError> {
        self.store.job(job).map_err(FarmError::from_store)
    }

    /// Whether workers should still render the job's tasks.
    pub fn job_is_running(&self, job: JobId) -> bool {
        matches!(self.store.job_state(job), Ok(JobState::Running))
    }

    /// The blob of a scene this farm stores.
    pub fn scene_file(&self, hash: SceneHash) -> Result<PathBuf, FarmError> {
        if !self.scenes.contains(hash) {
            return Err(SceneStoreError::Missing(hash).into());
        }
        Ok(self.scenes.scene_file(hash)?)
    }

    /// Where a finished frame is.
    pub fn frame_file(&self, job: JobId, frame: u32) -> Result<PathBuf, FarmError> {
        let record = self.job(job)?;
        if record.spec.frames.frames().binary_search(&frame).is_err() {
            return Err(FarmError::UnknownFrame { job, frame });
        }
        if !self.store.frame_written(job, frame)? {
            return Err(FarmError::FrameNotFinished { job, frame });
        }
        Ok(self.frame_paths.frame_path(job, frame))
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

    pub(crate) fn finish_if_complete(&self, job: JobId) -> Result<(), FarmError> {
        let frames = self.store.frame_progress(job)?;
        if frames.iter().all(|f| f.written) {
            self.store.finish_job(job, JobState::Done, None)?;
            tracing::info!(%job, "job done");
        }
        Ok(())
    }
}
