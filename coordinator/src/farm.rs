//! The farm: validates and stores submitted jobs, hands their tasks to the transport
//! ([`dispatch`](crate::dispatch)), records results ([`results`](crate::results)), and writes each
//! frame once its tiles are in ([`frames`](crate::frames)).
//!
//! Everything it knows is in the data directory (SQLite store, scene blobs, accepted tiles,
//! frames), so a coordinator killed at any point and started again on the same directory carries
//! on: unacknowledged results are delivered again, duplicates are recognised by the store.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use tessera_protocol::api::{JobState, LedgerRow, Quote, WorkerView};
use tessera_protocol::auth::Trust;
use tessera_protocol::id::JobId;
use tessera_protocol::job::JobOptions;
use tessera_protocol::lease::{Claim, TaskAttempt};
use tessera_protocol::money::Money;
use tessera_protocol::result::ResultMessage;
use tessera_protocol::scene::{SceneHash, SceneStore, SceneStoreError};
use tessera_protocol::task::MAX_BUNDLE;
use tessera_renderer::film::Resolution;
use tessera_renderer::output::Durability;
use tessera_transport::{Delivery, Inbox, Transport};
use tokio::sync::watch;
use tokio_util::task::AbortOnDropHandle;

use crate::billing::PriceTable;
use crate::billing::work::{self, Throughput, WorkDone};
use crate::dispatch::task_message;
use crate::error::{FarmError, io};
use crate::frame_paths::{DataDirFrames, FramePaths};
use crate::job::JobSpec;
use crate::limits::Limits;
use crate::live::{self, LiveEvent, WATCHERS_PER_HOLDER, Watchers, Watching};
use crate::measured::Measured;
use crate::plan::TaskPlan;
use crate::quote::{self, AliveWorker, HeldQuotes, Probe, QuoteKey};
use crate::store::{
    self, Claimant, JobRecord, LeaseClaim, LeaseEnd, Location, NewJob, Principal, Store, StoreError,
};
use crate::validate::validate_scene;
use crate::verify::Verifier;

/// Results recorded together at most, with one sync and one acknowledgement round.
const RESULT_BATCH: usize = 256;

/// How often workers' throughput is compared with their classes'.
const MISFITS_EVERY: Duration = Duration::from_secs(60);
/// How often the tiles of jobs that ended are looked for (and once on starting).
const LEFTOVERS_EVERY: Duration = Duration::from_secs(60);
/// How often pending tasks are published, whatever else asked for it.
const TOP_UP_EVERY: Duration = Duration::from_secs(2);
/// How long a submission waits for its first tasks to be queued before it answers.
const QUEUE_WAIT_ON_SUBMIT: Duration = Duration::from_secs(2);

/// Attempts a task gets before it is dead-lettered and its job failed.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
/// Task messages of one tenant kept in the broker at once (a message holds one task, or a few
/// tiny ones), and as many again of its jobs that only verified workers may render; the rest
/// wait in the store, so a later job of higher priority overtakes them, and no tenant's backlog
/// holds back another's.
pub const DEFAULT_WINDOW: usize = 64;
/// Camera samples a task message carries at least, where tasks are small enough to share one:
/// a task of a few milliseconds is not then outweighed by its claim, its two messages and their
/// acknowledgements. A 64x64 px task at 1 spp travels alone.
pub const DEFAULT_SAMPLES_A_MESSAGE: u64 = 4096;
/// How long a worker may go unheard before its leases expire. Workers heartbeat every fifth of
/// this.
pub const DEFAULT_LEASE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a worker may hold a task, heartbeats or not, before it goes to another worker: far
/// longer than a tile takes, so that only a worker that keeps tasks without rendering them, or
/// whose rendering hung, loses one.
pub const DEFAULT_TASK_TIMEOUT: Duration = Duration::from_secs(4 * 3600);
/// How long a published task may wait unclaimed before it is published again.
pub const DEFAULT_QUEUE_TIMEOUT: Duration = Duration::from_secs(300);

/// A job as submitted: the scene, its render options, and whose it is.
pub struct Submission {
    pub scene_name: String,
    /// The scene file (`.glb`, `.gltf` or scene archive), copied into the farm's scene store.
    pub scene: PathBuf,
    pub options: JobOptions,
    pub priority: i32,
    pub tenant: String,
    /// The job stops before its invoice passes this.
    pub max_cost: Option<Money>,
    /// Which workers may render it.
    pub trust: Trust,
}

pub struct FarmConfig {
    /// Scenes, frames and (by default) the store; a directory every coordinator of the farm
    /// reads when there are several.
    pub data_dir: PathBuf,
    /// The job store and ledger: `farm.db` in the data directory when `None`.
    pub database: Option<Location>,
    pub prices: PriceTable,
    pub max_attempts: u32,
    pub window: usize,
    /// Camera samples a task message carries at least: tasks smaller than this travel several
    /// to a message (at most [`MAX_BUNDLE`]); 0 sends every task alone.
    pub samples_a_message: u64,
    pub durability: Durability,
    pub limits: Limits,
    /// A lease whose worker has not been heard from for this long expires, and its task goes
    /// to someone else.
    pub lease_timeout: Duration,
    /// A lease held this long expires whatever its heartbeats, and its task goes to someone
    /// else; `None` where the one worker is the user's own.
    pub task_timeout: Option<Duration>,
    /// A task queued this long without being claimed is published again.
    pub queue_timeout: Duration,
    /// Whether results are spot-checked; off only where the farm's one worker is trusted, as
    /// `tessera render`'s own.
    pub spot_checks: bool,
    pub events: Option<Arc<dyn FarmEvents>>,
    /// Where assembled frames are written; the data directory's `frames/` when `None`.
    pub frame_paths: Option<Arc<dyn FramePaths>>,
    /// How many times each step of recording results (a result's checks, sending its task
    /// again, a batch's transaction, its sync) that fails (disk full, database error) is tried
    /// again before `run` stops with the error. `None`, a coordinator's setting, retries until
    /// it succeeds, so an operator can free space without losing tiles; a local render fails
    /// instead of waiting on a disk nobody is watching. Values the store refuses for good are
    /// not tried again: a coordinator refuses that result ([`Farm::unrecordable`]), a local
    /// render stops.
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
            database: None,
            prices,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            window: DEFAULT_WINDOW,
            samples_a_message: DEFAULT_SAMPLES_A_MESSAGE,
            durability: Durability::CrashSafe,
            limits: Limits::default(),
            lease_timeout: DEFAULT_LEASE_TIMEOUT,
            task_timeout: Some(DEFAULT_TASK_TIMEOUT),
            queue_timeout: DEFAULT_QUEUE_TIMEOUT,
            spot_checks: true,
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
    pub(crate) samples_a_message: u64,
    pub(crate) transport: T,
    pub(crate) limits: Limits,
    lease_timeout: Duration,
    task_timeout: Option<Duration>,
    pub(crate) queue_timeout: Duration,
    pub(crate) spot_checks: bool,
    pub(crate) events: Option<Arc<dyn FarmEvents>>,
    pub(crate) frame_paths: Arc<dyn FramePaths>,
    record_retries: Option<u32>,
    /// Results refused for good, by reason.
    refusals: Mutex<BTreeMap<&'static str, u64>>,
    /// One top-up at a time, so two never publish the same pending tasks.
    pub(crate) publishing: tokio::sync::Mutex<()>,
    /// Asks `run`'s publisher for a top-up after a batch of results.
    top_up_asked: tokio::sync::Notify,
    /// When this process granted each active lease, on the monotonic clock: how long a lease
    /// was held must not shrink when the wall clock steps back, or an honest worker's render
    /// time would look made up. (The store's grant time, on the wall clock, is what survives
    /// a restart.)
    pub(crate) granted: Mutex<HashMap<String, Instant>>,
    pub(crate) verifier: Arc<Verifier>,
    /// Accepted tiles and written frames, for whoever watches.
    pub(crate) live: tokio::sync::broadcast::Sender<LiveEvent>,
    watchers: Arc<Watchers>,
    /// Durations and rates measured since the coordinator started, for `/metrics`.
    pub(crate) measured: Measured,
    /// Quotes given lately, which a submission of the same job is charged at.
    quotes: HeldQuotes,
    /// Scenes checked at once at most: each is loaded whole (up to `MAX_SCENE_BYTES`) and
    /// rendered sparsely on every core, so many at once would only share the cores and add up
    /// the memory.
    validating: tokio::sync::Semaphore,
    /// One job created at a time, so that two submissions cannot both pass a tenant's scene
    /// quota and then both store their scenes.
    creating: tokio::sync::Mutex<()>,
}

/// Scenes checked at once at most (see `Farm::validating`).
const VALIDATIONS_AT_ONCE: usize = 2;

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
        let store = Store::open_at(
            &config
                .database
                .unwrap_or_else(|| Location::Sqlite(dir.join("farm.db"))),
            config.durability,
        )?;
        let failed = store.fail_interrupted_jobs()?;
        if failed > 0 {
            tracing::warn!(
                "failed {failed} job(s) whose tasks were being created when the coordinator stopped"
            );
        }
        Ok(Arc::new(Self {
            store,
            scenes: SceneStore::open(dir.join("scenes"))?,
            data_dir: dir.clone(),
            prices: config.prices,
            max_attempts: config.max_attempts.max(1),
            window: config.window.max(1),
            samples_a_message: config.samples_a_message,
            transport,
            limits: config.limits,
            lease_timeout: config.lease_timeout,
            task_timeout: config.task_timeout,
            queue_timeout: config.queue_timeout,
            spot_checks: config.spot_checks,
            events: config.events,
            frame_paths,
            record_retries: config.record_retries,
            refusals: Mutex::default(),
            publishing: tokio::sync::Mutex::new(()),
            top_up_asked: tokio::sync::Notify::new(),
            granted: Mutex::default(),
            verifier: Arc::new(Verifier::start()),
            live: tokio::sync::broadcast::channel(live::BACKLOG).0,
            watchers: Arc::default(),
            quotes: HeldQuotes::default(),
            measured: Measured::default(),
            validating: tokio::sync::Semaphore::new(VALIDATIONS_AT_ONCE),
            creating: tokio::sync::Mutex::new(()),
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

    /// Validates the scene with the renderer's loader, quotes it (or takes the quote given for
    /// it within [`quote::QUOTE_HOLDS`]), stores it, and creates the job's tasks. Nothing is
    /// stored when the scene or the options are bad.
    pub async fn submit(&self, s: Submission) -> Result<JobId, FarmError> {
        let (resolution, probe) = self.validate(&s).await?;
        let quote = match self.held_quote(&s)? {
            Some(held) => held,
            None => self.quote_probed(&s.options, resolution, probe)?,
        };
        self.create_job(s, resolution, Some(quote)).await
    }

    /// What a submission would cost and take on the farm as it is now; nothing is stored or
    /// queued. The quote holds for [`quote::QUOTE_HOLDS`], and asking again meanwhile gives it
    /// again: the pre-pass varies from run to run, and a tenant asking until one came out low
    /// would pay that.
    pub async fn quote(&self, s: &Submission) -> Result<Quote, FarmError> {
        let key = self.quote_key(s)?;
        if let Some(held) = self.quotes.get(&key) {
            return Ok(held);
        }
        let (resolution, probe) = self.validate(s).await?;
        // What submitting would refuse is refused here, rather than quoted.
        self.check_job(&s.options, resolution)?;
        let quote = self.quote_probed(&s.options, resolution, probe)?;
        if !self.quotes.hold(key, quote.clone()) {
            tracing::info!(tenant = %s.tenant, "quote given but not held: too many quotes held");
        }
        Ok(quote)
    }

    /// The quote held for this submission, if any; the scene is read to hash it only when some
    /// quote is held.
    fn held_quote(&self, s: &Submission) -> Result<Option<Quote>, FarmError> {
        if self.quotes.is_empty() {
            return Ok(None);
        }
        Ok(self.quotes.get(&self.quote_key(s)?))
    }

    fn quote_key(&self, s: &Submission) -> Result<QuoteKey, FarmError> {
        let scene = SceneHash::of_file(&s.scene)
            .map_err(io(format!("cannot read the scene '{}'", s.scene.display())))?;
        let kind = Path::new(&s.scene_name)
            .extension()
            .map(|e| e.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(QuoteKey::new(&s.tenant, scene, &kind, &s.options, s.trust))
    }

    /// Submits a scene the caller has already loaded and sized from its own folder, so that its
    /// external files resolve: `tessera render` does, with the workers in this process. Nobody
    /// measured it: it is charged its render time.
    pub async fn submit_loaded(
        &self,
        s: Submission,
        resolution: Resolution,
    ) -> Result<JobId, FarmError> {
        self.create_job(s, resolution, None).await
    }

    async fn validate(&self, s: &Submission) -> Result<(Resolution, Probe), FarmError> {
        self.limits.check_options(&s.options)?;
        let (name, path, options) = (s.scene_name.clone(), s.scene.clone(), s.options.clone());
        let _turn = self
            .validating
            .acquire()
            .await
            .expect("the semaphore is never closed");
        tokio::task::spawn_blocking(move || validate_scene(&name, &path, &options))
            .await
            .map_err(|e| FarmError::SceneRejected(format!("scene validation failed: {e}")))?
    }

    /// The quote for a job of `options` at `resolution` whose work `probe` measured, at the
    /// prices of work measured from the ledger, and timed on the workers alive now
    /// ([`quote`]).
    pub fn quote_probed(
        &self,
        options: &JobOptions,
        resolution: Resolution,
        probe: Probe,
    ) -> Result<Quote, FarmError> {
        let done = self.store.work_done()?;
        let verified: Vec<WorkDone> = done.iter().map(|(_, _, v)| v.clone()).collect();
        let throughput = Throughput::measure(&verified);
        // The store's list, not `workers()`, which would read the ledger's work again.
        let fleet: Vec<AliveWorker> = self
            .store
            .workers(self.alive_after())?
            .into_iter()
            .filter(|w| w.alive && w.blocked.is_none())
            .map(|w| {
                let all = done
                    .iter()
                    .find(|(name, _, _)| *name == w.name)
                    .map(|(_, all, _)| all.clone())
                    .unwrap_or_default();
                AliveWorker {
                    class: w.device_class,
                    threads: w.threads,
                    work_seconds: all.work_seconds,
                    render_seconds: all.render_seconds,
                }
            })
            .collect();
        let prices = work::hour_prices(
            &self.prices,
            &throughput,
            probe.threads,
            fleet.iter().map(|w| w.class.as_str()),
        );
        Ok(quote::quote(
            probe,
            options.samples(resolution),
            prices,
            &throughput,
            &fleet,
        ))
    }

    /// Whether a job of `options` at `resolution` is one this farm takes.
    fn check_job(&self, options: &JobOptions, resolution: Resolution) -> Result<(), FarmError> {
        // No task may be one a worker cannot read.
        options
            .check()
            .map_err(|e| FarmError::InvalidJob(e.to_string()))?;
        self.limits.check_options(options)?;
        self.limits.check_size(options, resolution)
    }

    async fn create_job(
        &self,
        s: Submission,
        resolution: Resolution,
        quote: Option<Quote>,
    ) -> Result<JobId, FarmError> {
        self.check_job(&s.options, resolution)?;
        let size = std::fs::metadata(&s.scene)
            .map_err(io(format!("cannot read the scene '{}'", s.scene.display())))?
            .len();
        let hash = SceneHash::of_file(&s.scene)
            .map_err(io(format!("cannot read the scene '{}'", s.scene.display())))?;
        // Held until the job (and with it the tenant's scene) is recorded.
        let creating = self.creating.lock().await;
        let stored = self.store.tenant_scene_bytes(&s.tenant)?;
        // A scene the tenant's jobs keep already is stored once.
        let adds = if self.store.tenant_stores_scene(&s.tenant, hash)? {
            0
        } else {
            size
        };
        if stored + adds > self.limits.tenant_scene_quota {
            return Err(FarmError::QuotaExceeded(format!(
                "tenant '{}' stores {} MiB of scenes; this one ({} MiB) would pass its quota of {} MiB",
                s.tenant,
                stored >> 20,
                size.div_ceil(1 << 20),
                self.limits.tenant_scene_quota >> 20
            )));
        }
        // On disk before the job that needs it is recorded.
        self.scenes.put_file(&s.scene, hash)?;
        let spec = JobSpec::new(s.options, resolution, self.max_attempts);
        let plan = TaskPlan::new(spec.frames.clone(), resolution, spec.tile_size);
        let new = NewJob {
            scene: hash,
            scene_bytes: size,
            scene_name: &s.scene_name,
            spec: &spec,
            priority: s.priority,
            tenant: &s.tenant,
            max_cost: s.max_cost,
            quote: quote.as_ref(),
            trust: s.trust,
        };
        let job = self.store.create_job(&new, plan.tasks())?;
        drop(creating);
        tracing::info!(%job, tasks = plan.len(), "job submitted");
        // A broker that holds back its confirms (down, or under a resource alarm) must not hold
        // the request: its client would give up and submit the job again. Tasks not queued by
        // then stay pending and go out with the publishing task's next top-up.
        match tokio::time::timeout(QUEUE_WAIT_ON_SUBMIT, self.top_up()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(%job, error = %e, "cannot queue tasks yet"),
            Err(_) => tracing::warn!(%job, "the broker is slow to take tasks; they go out later"),
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

    /// Where uploads are received before they are checked: on the data directory's disk, so a
    /// scene is never held whole in memory.
    pub fn upload_dir(&self) -> std::io::Result<PathBuf> {
        let dir = self.data_dir.join("uploads");
        std::fs::create_dir_all(&dir)?;
        Ok(dir)
    }

    /// Grants `worker` a lease on each of `tasks` (the tasks of one message, at most
    /// [`MAX_BUNDLE`]), or says why not: a claim for each, in their order.
    pub fn claim(
        &self,
        worker: &Principal,
        tasks: &[TaskAttempt],
    ) -> Result<Vec<Claim>, FarmError> {
        let Principal::Worker {
            name,
            device_class,
            threads,
            verified,
        } = worker
        else {
            return Err(FarmError::InvalidJob("only workers claim tasks".into()));
        };
        if tasks.len() > MAX_BUNDLE {
            return Err(FarmError::InvalidJob(format!(
                "{} tasks claimed at once; a message carries at most {MAX_BUNDLE}",
                tasks.len()
            )));
        }
        let claimant = Claimant {
            worker: name,
            device_class,
            threads: *threads,
            verified: *verified,
            others_alive_since: self.spot_checks.then(|| self.alive_after()),
        };
        let claims = self.store.claim(tasks, &claimant)?;
        // A message's tasks are all of one job: read once.
        let mut job: Option<JobRecord> = None;
        claims
            .into_iter()
            .map(|claim| match claim {
                LeaseClaim::Granted(lease) => {
                    self.granted
                        .lock()
                        .expect("lease clock")
                        .entry(lease.id.clone())
                        .or_insert_with(Instant::now);
                    let job = match job.take() {
                        Some(record) if record.id == lease.job => job.insert(record),
                        _ => job.insert(self.store.job(lease.job)?),
                    };
                    let task = self
                        .store
                        .task(lease.task, job.spec.resolution)?
                        .ok_or_else(|| {
                            StoreError::Corrupt(format!(
                                "a lease names task {}, not stored",
                                lease.task
                            ))
                        })?;
                    Ok(Claim::Render {
                        task: Box::new(task_message(job, &task, lease.attempt)),
                        lease: lease.id,
                        key: lease.key,
                    })
                }
                LeaseClaim::Refused(reason) => Ok(Claim::Skip { reason }),
                LeaseClaim::Stopped(reason) => Ok(Claim::Stop { reason }),
            })
            .collect()
    }

    /// Every worker heard from; alive when heard from within the lease timeout.
    pub fn workers(&self) -> Result<Vec<WorkerView>, FarmError> {
        let done = self.store.work_done()?;
        let mut workers = self.store.workers(self.alive_after())?;
        for w in &mut workers {
            let (work, render) = done.iter().filter(|(name, _, _)| *name == w.name).fold(
                (0.0, 0.0),
                |(work, render), (_, all, _)| {
                    (work + all.work_seconds, render + all.render_seconds)
                },
            );
            w.throughput = (render > 0.0).then(|| work / render);
            w.check_rate = crate::results::check_rate(w.consecutive_valid);
        }
        Ok(workers)
    }

    /// Workers heard from since this time are alive.
    fn alive_after(&self) -> f64 {
        store::now() - self.lease_timeout.as_secs_f64()
    }

    /// Results refused for good so far, by reason.
    pub fn refusals(&self) -> BTreeMap<&'static str, u64> {
        self.refusals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Counts a refusal; returns how many of its kind there were.
    pub(crate) fn count_refusal(&self, why: &'static str) -> u64 {
        let mut refusals = self.refusals.lock().unwrap_or_else(|p| p.into_inner());
        let count = refusals.entry(why).or_default();
        *count += 1;
        *count
    }

    /// The file to load a scene this farm stores from, in a folder of its own
    /// ([`SceneStore::scene_file`]).
    pub fn scene_file(&self, hash: SceneHash) -> Result<PathBuf, FarmError> {
        if !self.scenes.contains(hash) {
            return Err(SceneStoreError::Missing(hash).into());
        }
        Ok(self.scenes.scene_file(hash)?)
    }

    /// Accepted tiles and written frames from now on, for one of `holder`'s event streams,
    /// which counts against its limit until the [`Watching`] is dropped.
    pub fn watch(
        &self,
        holder: &str,
    ) -> Result<(tokio::sync::broadcast::Receiver<LiveEvent>, Watching), FarmError> {
        let watching = self
            .watchers
            .admit(holder)
            .ok_or(FarmError::TooManyWatchers {
                limit: WATCHERS_PER_HOLDER,
            })?;
        Ok((self.live.subscribe(), watching))
    }

    /// Where a finished frame's PNG preview is.
    pub fn frame_preview(&self, job: JobId, frame: u32) -> Result<PathBuf, FarmError> {
        self.frame_file(job, frame)?;
        self.frame_paths
            .preview_path(job, frame)
            .ok_or(FarmError::FrameNotFinished { job, frame })
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
        self.write_pending_frames()?;
        let mut results = self.transport.consume_results().await?;
        // Publishing waits for the broker's confirms: the top-up after each batch runs on a
        // task of its own, so that the next batch need not wait for them.
        let _publisher = AbortOnDropHandle::new(tokio::spawn(
            self.clone().publish_when_asked(shutdown.clone()),
        ));
        let mut frames = tokio::time::interval(TOP_UP_EVERY);
        let mut leases = tokio::time::interval(self.lease_check_every());
        let running_since = store::now();
        let mut misfits = tokio::time::interval(MISFITS_EVERY);
        let mut leftovers = tokio::time::interval(LEFTOVERS_EVERY);
        loop {
            if *shutdown.borrow() {
                return Ok(());
            }
            tokio::select! {
                _ = shutdown.changed() => return Ok(()),
                _ = frames.tick() => {
                    // Catches frames whose writing failed (a full disk) once it works again.
                    if let Err(e) = self.write_pending_frames() {
                        tracing::warn!(error = %e, "cannot write frames yet");
                    }
                }
                _ = leases.tick() => {
                    if let Err(e) = self.expire_leases(running_since).await {
                        tracing::warn!(error = %e, "cannot expire leases");
                    }
                }
                _ = misfits.tick() => {
                    if let Err(e) = self.block_misfits() {
                        tracing::warn!(error = %e, "cannot compare workers with their classes");
                    }
                }
                _ = leftovers.tick() => {
                    if let Err(e) = self.remove_leftover_tiles() {
                        tracing::warn!(error = %e, "cannot look for the tiles of ended jobs");
                    }
                }
                delivery = results.next() => {
                    let Some(first) = delivery else { return Ok(()) };
                    // With it, whatever else has arrived: one sync and one top-up for all.
                    let mut batch = vec![first];
                    while batch.len() < RESULT_BATCH {
                        match results.ready().await {
                            Some(delivery) => batch.push(delivery),
                            None => break,
                        }
                    }
                    self.record_batch(batch).await?;
                }
            }
        }
    }

    /// Records a batch of results, makes what they recorded durable with one sync, and only
    /// then acknowledges them, and asks for a top-up. Transient failures (disk, database) are retried, in
    /// [`Farm::handle_results`] step by step: acknowledging would lose a tile, and not
    /// acknowledging would stall the consumer.
    async fn record_batch(&self, batch: Vec<Delivery<ResultMessage>>) -> Result<(), FarmError> {
        let results: Vec<&ResultMessage> = batch.iter().map(|d| &d.message).collect();
        self.handle_results(&results).await?;
        self.retrying("make results durable", || async { Ok(self.store.sync()?) })
            .await?;
        // All at once: one by one, each would wait for the connection's writer in turn.
        for acked in join_all(batch.into_iter().map(Delivery::ack)).await {
            if let Err(e) = acked {
                // It comes back and is recognised as a duplicate.
                tracing::warn!(error = %e, "cannot acknowledge result");
            }
        }
        self.ask_top_up();
        Ok(())
    }

    /// Asks the publishing task for a top-up, for tasks that became pending: the caller does
    /// not wait for the broker's confirms.
    pub(crate) fn ask_top_up(&self) {
        self.top_up_asked.notify_one();
    }

    /// Publishes until `shutdown` turns true: a top-up after each batch of results that asks
    /// for it, a full one every [`TOP_UP_EVERY`] (which catches tasks left pending by a failed
    /// publish), and again what nobody claimed. On a task of its own: a broker that holds back
    /// its confirms (a resource alarm) stalls publishing, and must not stall the results too,
    /// whose recording is what frees the broker.
    async fn publish_when_asked(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let mut top_up = tokio::time::interval(TOP_UP_EVERY);
        let mut unclaimed = tokio::time::interval(self.lease_check_every());
        loop {
            tokio::select! {
                _ = shutdown.changed() => return,
                () = self.top_up_asked.notified() => {
                    if let Err(e) = self.top_up_in_chunks().await {
                        tracing::warn!(error = %e, "cannot queue tasks");
                    }
                }
                _ = top_up.tick() => {
                    if let Err(e) = self.top_up().await {
                        tracing::warn!(error = %e, "cannot queue tasks");
                    }
                }
                _ = unclaimed.tick() => {
                    if let Err(e) = self.republish_unclaimed().await {
                        tracing::warn!(error = %e, "cannot publish unclaimed tasks again");
                    }
                }
            }
        }
    }

    /// How often leases are checked for expiry, and queued tasks for a lost message.
    fn lease_check_every(&self) -> Duration {
        (self.lease_timeout / 10).max(Duration::from_millis(100))
    }

    /// Whether `e` refuses a result for good: the store will never take it
    /// ([`FarmError::is_permanent`]), and this farm retries without end (a coordinator). Where
    /// retries are counted, as in `tessera render`, the error stops the farm instead.
    pub(crate) fn unrecordable(&self, e: &FarmError) -> bool {
        e.is_permanent() && self.record_retries.is_none()
    }

    /// Runs `attempt` until it succeeds, waiting longer each time, or until the configured
    /// number of retries is spent; an error that would only come again
    /// ([`FarmError::is_permanent`]) is returned at once.
    pub(crate) async fn retrying<R, F, Fut>(
        &self,
        what: &str,
        mut attempt: F,
    ) -> Result<R, FarmError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<R, FarmError>>,
    {
        let mut wait = Duration::from_millis(100);
        let mut retries = 0;
        loop {
            let e = match attempt().await {
                Ok(done) => return Ok(done),
                Err(e) => e,
            };
            if e.is_permanent() || self.record_retries.is_some_and(|limit| retries >= limit) {
                tracing::error!(error = %e, "cannot {what}; giving up");
                return Err(e);
            }
            retries += 1;
            tracing::error!(error = %e, "cannot {what}; retrying");
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(5));
        }
    }

    /// Writes the frames whose tiles are all accepted but that are not written (before a
    /// restart, or when writing failed), and finishes the jobs whose frames are all written.
    /// Where failures are not retried (`record_retries`), a frame that cannot be written fails
    /// its job instead.
    fn write_pending_frames(&self) -> Result<(), FarmError> {
        for job in self.store.running_jobs()? {
            let record = self.store.job(job)?;
            for frame in self.store.frame_progress(job)? {
                if frame.tiles_done == frame.tiles_total && !frame.written {
                    match self.write_frame(&record, frame.frame) {
                        Err(e) if self.record_retries.is_some() => {
                            let why = format!("cannot write frame {}: {e}", frame.frame);
                            self.store.finish_job(job, JobState::Failed, Some(&why))?;
                            return Err(e);
                        }
                        written => written?,
                    }
                }
            }
            self.finish_if_complete(job)?;
        }
        Ok(())
    }

    /// Takes their tasks back from workers that stopped heartbeating, or that held them past the
    /// task timeout (heartbeats alone do not keep a task for ever): each such attempt counts as
    /// failed, and the task goes out again (or its job fails on its last attempt). A worker
    /// that held a task past the timeout claims no more tasks: an honest one never takes that
    /// long, and one that hoards would otherwise claim the task's next attempt, and the next,
    /// until its job fails. Its work so far stays paid.
    /// Heartbeats count only from `running_since`, when this coordinator began taking them:
    /// while it was down (a restart, a standby taking over) no worker could reach it, and
    /// expiring every lease at once would throw away the results waiting in the queue.
    async fn expire_leases(&self, running_since: f64) -> Result<(), FarmError> {
        let granted_before = self
            .task_timeout
            .map_or(0.0, |t| store::now() - t.as_secs_f64());
        let unheard_since = match self.alive_after() {
            after if after >= running_since => after,
            _ => 0.0,
        };
        for lease in self.store.expired_leases(unheard_since, granted_before)? {
            let record = self.store.job(lease.job)?;
            let Some(task) = self.store.task(lease.task, record.spec.resolution)? else {
                continue;
            };
            let reason = match self.task_timeout {
                Some(limit) if lease.started_at < granted_before => {
                    let overran = format!("for more than {} s without a result", limit.as_secs());
                    let why = format!("held task {} {overran}", task.id);
                    // Before the task goes out again, so that this worker cannot take it back.
                    if self.store.stop_claims(&lease.worker, &why)? {
                        tracing::warn!(worker = %lease.worker, %why, "worker blocked");
                    }
                    format!("worker '{}' held the task {overran}", lease.worker)
                }
                _ => format!(
                    "worker '{}' stopped responding (no heartbeat for {} s)",
                    lease.worker,
                    self.lease_timeout.as_secs()
                ),
            };
            tracing::warn!(task = %task.id, attempt = lease.attempt, %reason, "lease expired");
            match self
                .retry_or_give_up(
                    &record,
                    &task,
                    lease.attempt,
                    &reason,
                    Some((&lease.id, LeaseEnd::Expired)),
                )
                .await
            {
                // The others' leases still expire.
                Err(e) if self.unrecordable(&e) => {
                    tracing::error!(task = %task.id, error = %e, "cannot record an expired lease");
                }
                ended => ended?,
            }
        }
        // Forgets the grant times of leases that ended.
        let active: HashSet<String> = self.store.active_lease_ids()?.into_iter().collect();
        self.granted
            .lock()
            .expect("lease clock")
            .retain(|id, _| active.contains(id));
        Ok(())
    }

    /// Stops the claims of workers whose verified throughput contradicts their token's device
    /// class ([`work::misfits`]): their work was right and stays paid (by its work), but they
    /// hold tasks for far longer than their class should.
    fn block_misfits(&self) -> Result<(), FarmError> {
        let verified: Vec<(String, WorkDone)> = self
            .store
            .work_done()?
            .into_iter()
            .map(|(name, _, verified)| (name, verified))
            .collect();
        for (worker, why) in work::misfits(&verified) {
            if self.store.stop_claims(&worker, &why)? {
                tracing::warn!(%worker, %why, "worker blocked: its throughput contradicts its class");
            }
        }
        Ok(())
    }

    pub(crate) fn finish_if_complete(&self, job: JobId) -> Result<(), FarmError> {
        let frames = self.store.frame_progress(job)?;
        if frames.iter().all(|f| f.written) && self.store.finish_job(job, JobState::Done, None)? {
            self.remove_tiles(job);
            tracing::info!(%job, "job done");
        }
        Ok(())
    }
}
