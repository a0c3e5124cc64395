//! The job store: jobs, their tasks and frames, and workers, in SQLite (WAL) in the coordinator's
//! data directory; the ledger's table and queries are billing's ([`crate::billing::ledger`]).
//!
//! Every change that must happen together happens in one transaction; accepting a task's result
//! keeps its tile, marks the task done and appends its ledger row at once, so a task is billed
//! exactly when it is done.
//!
//! Commits are not flushed one by one: [`Store::sync`] makes every commit so far durable with one
//! flush, and whoever answers for a write calls it first. The result loop syncs each batch of
//! results before acknowledging it; writes a client is answered for (a job, a token, a
//! cancellation) sync themselves. Claims and heartbeats ride on the next sync: a power cut can
//! lose a lease granted since, which costs its task one render and no money (the result is
//! refused under an unknown lease, and the task published again).
//!
//! Reads go through a few connections of their own, which WAL lets run beside the writer: the
//! API's reads neither wait for the result loop nor hold it up.

use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, TryLockError};
use std::time::{SystemTime, UNIX_EPOCH};

use tessera_protocol::api::{
    FrameProgress, InvoiceView, JOBS_PAGE_DEFAULT, JOBS_PAGE_MAX, JobState, LedgerRow, Quote,
    ROWS_PAGE_DEFAULT, ROWS_PAGE_MAX, Reversal, TaskState, TaskView, WorkerView,
};
use tessera_protocol::auth::Trust;
use tessera_protocol::id::{JobId, TaskId};
use tessera_protocol::money::Money;
use tessera_protocol::result::WorkerInfo;
use tessera_protocol::scene::SceneHash;
use tessera_renderer::film::{Resolution, Tile};
use tessera_renderer::output::Durability;

mod counts;
pub mod database;
mod leases;
mod reputation;
mod tokens;

pub use counts::Counts;
pub use database::{DbError, Location, Postgres};
pub use leases::{Claimant, Lease, LeaseClaim, LeaseEnd};
pub use reputation::Reputation;
pub use tokens::{Principal, TokenError};

use crate::billing::work::WorkDone;
use crate::billing::{Carry, ledger};
use crate::job::JobSpec;
use crate::plan::Task;
use database::{Db, Dialect, Row, params};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("job store: {0}")]
    Database(#[from] DbError),
    #[error("job store holds a record it cannot read: {0}")]
    Corrupt(String),
    #[error("no job {0}")]
    UnknownJob(JobId),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Database(e.into())
    }
}

/// A job to create.
pub struct NewJob<'a> {
    pub scene: SceneHash,
    pub scene_bytes: u64,
    pub scene_name: &'a str,
    pub spec: &'a JobSpec,
    pub priority: i32,
    pub tenant: &'a str,
    pub max_cost: Option<Money>,
    pub quote: Option<&'a Quote>,
    pub trust: Trust,
}

/// Which jobs of a listing: the newest `limit` of those older than `before`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct JobPage {
    before: Option<JobId>,
    limit: u32,
}

impl JobPage {
    /// The most jobs a page holds: a listing's memory stays bounded however many jobs the
    /// farm has seen.
    pub const MAX: u32 = JOBS_PAGE_MAX;
    /// The newest jobs, as many as a page holds when it does not say.
    pub const LATEST: JobPage = JobPage {
        before: None,
        limit: JOBS_PAGE_DEFAULT,
    };

    /// `None` unless `limit` is 1 to [`JobPage::MAX`].
    pub fn new(before: Option<JobId>, limit: u32) -> Option<Self> {
        (1..=Self::MAX)
            .contains(&limit)
            .then_some(Self { before, limit })
    }

    pub const fn limit(self) -> u32 {
        self.limit
    }
}

/// Which of a job's rows (tasks, or charges) a page holds: the first `limit` of those after the
/// row `after` (a task's id, or a ledger row's), in the order they were made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowPage {
    after: i64,
    limit: u32,
}

impl RowPage {
    /// The most rows a page holds: a response's memory stays bounded however big the job.
    pub const MAX: u32 = ROWS_PAGE_MAX;
    /// The first rows, as many as a page holds when it does not say.
    pub const FIRST: RowPage = RowPage {
        after: 0,
        limit: ROWS_PAGE_DEFAULT,
    };

    /// `None` unless `limit` is 1 to [`RowPage::MAX`] and `after` is no id below 0.
    pub fn new(after: Option<i64>, limit: u32) -> Option<Self> {
        let after = after.unwrap_or(0);
        (after >= 0 && (1..=Self::MAX).contains(&limit)).then_some(Self { after, limit })
    }

    pub const fn limit(self) -> u32 {
        self.limit
    }
}

/// `rows`, read as one more than a page of `limit` holds (whether that one exists tells whether
/// more follow), cut to the page, and whether more follow.
pub(crate) fn cut_page<T>(mut rows: Vec<T>, limit: u32) -> (Vec<T>, bool) {
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    (rows, more)
}

/// A page of a job's tasks, and the task the next page starts after, if one follows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TasksListed {
    pub tasks: Vec<TaskView>,
    pub next: Option<TaskId>,
}

/// A page of a job's invoice (its charges, the reversals of those charges, the whole job's
/// total), and the ledger row the next page starts after, if one follows.
#[derive(Clone, Debug, PartialEq)]
pub struct InvoicePage {
    pub invoice: InvoiceView,
    pub next: Option<i64>,
}

/// A page of jobs, and whether older ones follow it.
#[derive(Clone, Debug)]
pub struct JobsListed {
    pub jobs: Vec<JobRecord>,
    pub more: bool,
}

/// The column a PostgreSQL store made before tasks were given back by count lacks. Looked for
/// first: `ADD COLUMN IF NOT EXISTS` locks the table against readers even when it has it.
const ADD_GIVE_BACKS_POSTGRES: &str = r#"
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema()
                   AND table_name = 'tasks' AND column_name = 'give_backs') THEN
        ALTER TABLE tasks ADD COLUMN give_backs BIGINT NOT NULL DEFAULT 0;
    END IF;
END $$;
"#;

/// Tasks in the broker, not yet done, by job.
pub type QueuedByJob = Vec<(JobId, usize)>;

/// The tasks that share a window of messages in the broker: a tenant's jobs that any worker may
/// render, or those only verified workers may. Apart, so that tasks waiting for verified workers
/// who may never come do not keep the tenant's other jobs out of the broker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    pub tenant: String,
    pub trust: Trust,
}

#[derive(Clone, Debug, PartialEq)]
pub struct JobRecord {
    pub id: JobId,
    pub tenant: String,
    /// The job stops before its invoice passes this.
    pub max_cost: Option<Money>,
    pub quote: Option<Quote>,
    /// Which workers may render it.
    pub trust: Trust,
    pub scene: SceneHash,
    pub scene_name: String,
    pub spec: JobSpec,
    pub priority: i32,
    pub state: JobState,
    /// Why a job failed or was cancelled.
    pub reason: Option<String>,
    pub tasks_total: u64,
    pub tasks_done: u64,
    /// What its accepted tasks cost so far, less what was reversed (the invoice's total).
    pub cost: Money,
    pub submitted_at: f64,
    pub finished_at: Option<f64>,
}

fn task_state(s: &str) -> Result<TaskState, StoreError> {
    TaskState::from_name(s).ok_or_else(|| StoreError::Corrupt(format!("task state '{s}'")))
}

/// A task as stored, with what its result is checked against.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskRecord {
    pub id: TaskId,
    pub job: JobId,
    pub task: Task,
    pub state: TaskState,
    pub attempts: u32,
    /// How often a worker gave it back for other workers.
    pub give_backs: u32,
    /// When it was first handed to the broker.
    pub queued_at: Option<f64>,
}

/// A task as a top-up read it and published its next attempt.
#[derive(Clone, Copy, Debug)]
pub struct Published {
    pub task: TaskId,
    pub attempts: u32,
    pub give_backs: u32,
}

impl Published {
    pub fn of(task: &TaskRecord) -> Self {
        Self {
            task: task.id,
            attempts: task.attempts,
            give_backs: task.give_backs,
        }
    }
}

/// What accepting a result did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Acceptance {
    Accepted,
    /// The task was already done, or its job ended: nothing was recorded but the lease's end.
    Duplicate,
    /// The lease ended (expired) before the result was recorded: nothing was recorded.
    LeaseEnded,
    /// Its worker was caught cheating after claiming the task: nothing was recorded.
    WorkerBlocked,
}

/// A result to accept: its ledger row (priced as it is accepted), its tile's compressed
/// pixels, its worker as the farm knows it, the lease it came under, and whether a spot check
/// passed it.
pub struct Accepting<'a> {
    pub row: LedgerRow,
    pub tile: &'a [u8],
    pub worker: &'a WorkerInfo,
    pub lease: &'a str,
    pub checked: bool,
}

/// What an accepted result is charged, the carry it leaves its job, and whether its job ends
/// with it.
pub struct Priced {
    pub charge: Money,
    pub carry: Carry,
    /// The job fails for this reason as the result is recorded (it reached its cost limit): in
    /// the same transaction, so that no retry can find the charge recorded and the job running.
    pub ends_job: Option<String>,
}

impl Priced {
    /// A charge that leaves its job running.
    pub fn new(charge: Money, carry: Carry) -> Self {
        Priced {
            charge,
            carry,
            ends_job: None,
        }
    }
}

/// A job's invoice so far, as the transaction accepting a result sees it (its charges included,
/// through the triggers that keep `job_costs`); read only when a charge needs it (a job with a
/// cost limit).
pub struct Invoiced<'a> {
    db: &'a Db,
    job: JobId,
}

impl Invoiced<'_> {
    pub fn total(&self) -> Result<Money, StoreError> {
        Ok(ledger::total(self.db, self.job)?)
    }
}

pub struct Store {
    /// The one connection that writes.
    db: Mutex<Db>,
    /// Connections that only read.
    readers: Vec<Mutex<Db>>,
    next_reader: AtomicUsize,
    durability: Durability,
    /// The writer's count of changed rows at its last [`Store::sync`] (SQLite).
    synced: AtomicU64,
}

/// Connections for reads: enough for the API's handlers on a small machine.
const READERS: usize = 4;

/// Held while a PostgreSQL store creates its schema, so that two coordinators starting at once
/// do not create it twice.
const SCHEMA_LOCK: i64 = 0x7465_7373_6572_6100;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    scene_hash TEXT NOT NULL,
    scene_name TEXT NOT NULL,
    spec TEXT NOT NULL,
    priority INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('running', 'done', 'failed', 'cancelled')),
    reason TEXT,
    submitted_at REAL NOT NULL,
    finished_at REAL,
    tenant TEXT NOT NULL DEFAULT '',
    max_cost_micros INTEGER CHECK (max_cost_micros >= 0),
    -- The Quote made at submission, as JSON.
    quote TEXT,
    trust TEXT NOT NULL DEFAULT 'any' CHECK (trust IN ('any', 'verified')),
    -- 0 while its tasks are being created.
    ready INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS tasks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id INTEGER NOT NULL REFERENCES jobs(id),
    frame INTEGER NOT NULL,
    x INTEGER NOT NULL, y INTEGER NOT NULL, w INTEGER NOT NULL, h INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'queued', 'done', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    -- When the task was first handed to the broker: no attempt can have rendered for longer.
    queued_at REAL,
    -- How often a worker gave the task back for others (a claim refused): a publication
    -- read before the last time does not mark it queued, its message being spent.
    give_backs INTEGER NOT NULL DEFAULT 0,
    UNIQUE (job_id, frame, x, y)
);
CREATE INDEX IF NOT EXISTS tasks_by_state ON tasks (state, job_id);
CREATE INDEX IF NOT EXISTS tasks_by_frame ON tasks (job_id, frame);
-- A job's tasks a page at a time (GET /api/jobs/{id}/tasks), without sorting them all.
CREATE INDEX IF NOT EXISTS tasks_in_job_order ON tasks (job_id, id);
-- What each job's charges so far fell short of whole micro-dollars (billing::Carry).
CREATE TABLE IF NOT EXISTS job_carry (
    job_id INTEGER PRIMARY KEY REFERENCES jobs(id),
    units INTEGER NOT NULL CHECK (units >= 0)
);
-- What each tenant's jobs keep in the scene store, for its quota.
CREATE TABLE IF NOT EXISTS tenant_scenes (
    tenant TEXT NOT NULL,
    scene_hash TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    PRIMARY KEY (tenant, scene_hash)
);
CREATE TABLE IF NOT EXISTS frames_written (
    job_id INTEGER NOT NULL REFERENCES jobs(id),
    frame INTEGER NOT NULL,
    PRIMARY KEY (job_id, frame)
);
-- Each frame's tiles and how many of them are done, kept by the triggers below: neither a
-- result nor a progress read counts a job's tasks.
CREATE TABLE IF NOT EXISTS frame_tiles (
    job_id INTEGER NOT NULL REFERENCES jobs(id),
    frame INTEGER NOT NULL,
    total INTEGER NOT NULL,
    done INTEGER NOT NULL,
    PRIMARY KEY (job_id, frame)
) WITHOUT ROWID;
-- Accepted tiles' compressed pixels, until their job ends: in the store, so that a tile is
-- kept in the transaction that accepts it.
CREATE TABLE IF NOT EXISTS tiles (
    task_id INTEGER PRIMARY KEY REFERENCES tasks(id),
    job_id INTEGER NOT NULL REFERENCES jobs(id),
    pixels BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS tiles_by_job ON tiles (job_id);
-- Counts jobs created, gone or changing state, kept by the triggers below: a listing served
-- from a snapshot (crate::listings) asks it whether a job has come, ended or gone since.
CREATE TABLE IF NOT EXISTS jobs_version (
    id INTEGER PRIMARY KEY CHECK (id = 0),
    version INTEGER NOT NULL
);
INSERT INTO jobs_version (id, version) VALUES (0, 0) ON CONFLICT (id) DO NOTHING;
-- The row a sync rewrites, so that its commit has something to flush.
CREATE TABLE IF NOT EXISTS sync_point (n INTEGER NOT NULL);
INSERT INTO sync_point (n) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM sync_point);
CREATE TABLE IF NOT EXISTS workers (
    name TEXT PRIMARY KEY,
    backend TEXT NOT NULL,
    device TEXT NOT NULL,
    device_class TEXT NOT NULL,
    threads INTEGER NOT NULL,
    first_seen REAL NOT NULL,
    last_seen REAL NOT NULL,
    tasks_done INTEGER NOT NULL DEFAULT 0
);
"#;

/// Keeps `frame_tiles`, in SQLite.
const SQLITE_TRIGGERS: &str = r#"
CREATE TRIGGER IF NOT EXISTS frame_tiles_planned AFTER INSERT ON tasks BEGIN
    INSERT INTO frame_tiles (job_id, frame, total, done)
    VALUES (NEW.job_id, NEW.frame, 1, NEW.state = 'done')
    ON CONFLICT (job_id, frame) DO UPDATE SET total = total + 1, done = done + (NEW.state = 'done');
END;
CREATE TRIGGER IF NOT EXISTS frame_tiles_done AFTER UPDATE OF state ON tasks
WHEN (OLD.state = 'done') != (NEW.state = 'done') BEGIN
    UPDATE frame_tiles SET done = done + IIF(NEW.state = 'done', 1, -1)
    WHERE job_id = NEW.job_id AND frame = NEW.frame;
END;
CREATE TRIGGER IF NOT EXISTS jobs_version_inserted AFTER INSERT ON jobs BEGIN
    UPDATE jobs_version SET version = version + 1;
END;
CREATE TRIGGER IF NOT EXISTS jobs_version_updated AFTER UPDATE OF state, ready ON jobs BEGIN
    UPDATE jobs_version SET version = version + 1;
END;
CREATE TRIGGER IF NOT EXISTS jobs_version_deleted AFTER DELETE ON jobs BEGIN
    UPDATE jobs_version SET version = version + 1;
END;
"#;

/// Keeps `frame_tiles`, in PostgreSQL.
const POSTGRES_TRIGGERS: &str = r#"
CREATE OR REPLACE FUNCTION frame_tiles_planned() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO frame_tiles (job_id, frame, total, done)
    VALUES (NEW.job_id, NEW.frame, 1, CASE WHEN NEW.state = 'done' THEN 1 ELSE 0 END)
    ON CONFLICT (job_id, frame) DO UPDATE SET total = frame_tiles.total + 1,
        done = frame_tiles.done + EXCLUDED.done;
    RETURN NEW;
END $$;
CREATE OR REPLACE TRIGGER frame_tiles_planned AFTER INSERT ON tasks
FOR EACH ROW EXECUTE FUNCTION frame_tiles_planned();
CREATE OR REPLACE FUNCTION frame_tiles_done() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE frame_tiles SET done = frame_tiles.done + CASE WHEN NEW.state = 'done' THEN 1 ELSE -1 END
    WHERE job_id = NEW.job_id AND frame = NEW.frame;
    RETURN NEW;
END $$;
CREATE OR REPLACE TRIGGER frame_tiles_done AFTER UPDATE OF state ON tasks
FOR EACH ROW WHEN ((OLD.state = 'done') IS DISTINCT FROM (NEW.state = 'done'))
EXECUTE FUNCTION frame_tiles_done();
CREATE OR REPLACE FUNCTION jobs_version_bumped() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE jobs_version SET version = jobs_version.version + 1;
    RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER jobs_version_bumped AFTER INSERT OR DELETE OR UPDATE OF state, ready
ON jobs FOR EACH ROW EXECUTE FUNCTION jobs_version_bumped();
"#;

/// The ledger rows quotes learn from: the latest, so that a quote reads a bounded part of a
/// ledger that only grows, and follows the farm as it changes.
const RECENT_LEDGER: &str = "(SELECT * FROM ledger ORDER BY id DESC LIMIT 20000)";

/// The store's clock: seconds since the Unix epoch.
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Adds a column that SQLite data directories of earlier versions lack; true when it did.
fn add_column(
    db: &rusqlite::Connection,
    table: &str,
    column: &str,
    decl: &str,
) -> Result<bool, StoreError> {
    let present = db
        .prepare(&format!(
            "SELECT 1 FROM pragma_table_info('{table}') WHERE name = '{column}'"
        ))?
        .exists([])?;
    if !present {
        db.execute(
            &format!("ALTER TABLE {table} ADD COLUMN {column} {decl}"),
            [],
        )?;
    }
    Ok(!present)
}

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

/// Every table, index and rule of the store, as SQLite writes them.
fn schema() -> String {
    [
        SCHEMA,
        &ledger::schema(),
        tokens::SCHEMA,
        leases::SCHEMA,
        reputation::SCHEMA,
    ]
    .concat()
}

impl Store {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(path, Durability::CrashSafe)
    }

    pub fn open_with(path: &Path, durability: Durability) -> Result<Self, StoreError> {
        Self::open_at(&Location::Sqlite(path.to_owned()), durability)
    }

    /// Opens the store in SQLite or PostgreSQL, creating or upgrading its schema.
    pub fn open_at(location: &Location, durability: Durability) -> Result<Self, StoreError> {
        let (db, readers) = match location {
            Location::Sqlite(path) => Self::open_sqlite(path, durability)?,
            Location::Postgres(server) => Self::open_postgres(server)?,
        };
        let store = Self {
            db: Mutex::new(db),
            readers: readers.into_iter().map(Mutex::new).collect(),
            next_reader: AtomicUsize::new(0),
            durability,
            synced: AtomicU64::new(u64::MAX),
        };
        store.sync()?;
        Ok(store)
    }

    fn open_sqlite(path: &Path, durability: Durability) -> Result<(Db, Vec<Db>), StoreError> {
        let db = rusqlite::Connection::open(path)?;
        db.pragma_update(None, "journal_mode", "WAL")?;
        // NORMAL: a commit is flushed by the next sync (`Store::sync`), not on its own.
        let synchronous = match durability {
            Durability::CrashSafe => "NORMAL",
            Durability::Throwaway => "OFF",
        };
        db.pragma_update(None, "synchronous", synchronous)?;
        db.pragma_update(None, "foreign_keys", "ON")?;
        db.busy_timeout(std::time::Duration::from_secs(10))?;
        ledger::upgrade_sqlite(&db)?;
        db.execute_batch(&schema())?;
        db.execute_batch(SQLITE_TRIGGERS)?;
        // The ledger's rules, and its sums counted again where their triggers are new: in one
        // transaction, so that no other process's charge lands in between.
        db.execute_batch("BEGIN IMMEDIATE")?;
        let sums_kept = db
            .prepare(
                "SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = 'job_costs_charged'",
            )?
            .exists([])?;
        db.execute_batch(ledger::SQLITE_RULES)?;
        if !sums_kept {
            db.execute_batch(ledger::RECOUNT_COSTS)?;
        }
        db.execute_batch("COMMIT")?;
        // Columns that data directories made by earlier versions lack.
        add_column(&db, "tasks", "queued_at", "REAL")?;
        add_column(&db, "tasks", "give_backs", "INTEGER NOT NULL DEFAULT 0")?;
        add_column(&db, "jobs", "tenant", "TEXT NOT NULL DEFAULT ''")?;
        add_column(&db, "jobs", "max_cost_micros", "INTEGER")?;
        add_column(&db, "jobs", "ready", "INTEGER NOT NULL DEFAULT 1")?;
        add_column(&db, "jobs", "quote", "TEXT")?;
        add_column(&db, "jobs", "trust", "TEXT NOT NULL DEFAULT 'any'")?;
        add_column(&db, "tokens", "verified", "INTEGER NOT NULL DEFAULT 0")?;
        // The column and its back-fill at once: a crash between would leave the mark unset.
        db.execute_batch("BEGIN IMMEDIATE")?;
        if add_column(&db, "reputation", "caught", "INTEGER NOT NULL DEFAULT 0")? {
            db.execute(reputation::ADD_CAUGHT_SQLITE, [])?;
        }
        db.execute_batch("COMMIT")?;
        // Frame counts for the tasks of a data directory made before they were kept.
        db.execute(
            "INSERT INTO frame_tiles (job_id, frame, total, done)
             SELECT job_id, frame, COUNT(*), SUM(state = 'done') FROM tasks
             WHERE NOT EXISTS (SELECT 1 FROM frame_tiles) GROUP BY job_id, frame",
            [],
        )?;
        let readers = (0..READERS)
            .map(|_| {
                let reader = rusqlite::Connection::open(path)?;
                reader.pragma_update(None, "query_only", "ON")?;
                reader.busy_timeout(std::time::Duration::from_secs(10))?;
                Ok(Db::sqlite(reader))
            })
            .collect::<Result<_, StoreError>>()?;
        Ok((Db::sqlite(db), readers))
    }

    /// Fails the jobs whose tasks were still being created when the active coordinator
    /// stopped. Only the active coordinator may call this: elsewhere (a standby, `tessera
    /// token`) such a job may be one that is being created now.
    pub fn fail_interrupted_jobs(&self) -> Result<usize, StoreError> {
        Ok(self.db().execute(
            "UPDATE jobs SET state = 'failed', finished_at = ?1,
                 reason = 'the coordinator stopped while creating this job; submit it again'
             WHERE ready = 0 AND state = 'running'",
            params![now()],
        )?)
    }

    fn open_postgres(server: &database::Postgres) -> Result<(Db, Vec<Db>), StoreError> {
        let db = server.connect()?;
        // A store made before the ledger's sums were kept has them counted, under the lock
        // that creating their triggers takes on the ledger.
        let sums_kept = db.query_row(
            "SELECT to_regclass('job_costs') IS NOT NULL",
            params![],
            |r| r.get::<bool>(0),
        )?;
        let recount = if sums_kept { "" } else { ledger::RECOUNT_COSTS };
        db.batch(&format!(
            "BEGIN; SELECT pg_advisory_xact_lock({SCHEMA_LOCK}); {} {} {ADD_GIVE_BACKS_POSTGRES} \
             {POSTGRES_TRIGGERS} {} {recount} COMMIT;",
            database::postgres_schema(&schema()),
            reputation::ADD_CAUGHT_POSTGRES,
            ledger::POSTGRES_RULES,
        ))?;
        let readers = (0..READERS)
            .map(|_| server.connect())
            .collect::<Result<_, _>>()?;
        Ok((db, readers))
    }

    /// The connection that writes.
    fn db(&self) -> MutexGuard<'_, Db> {
        // A panic while holding the lock cannot leave the database half-written (transactions
        // roll back), so a poisoned lock is still usable.
        self.db.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A connection for reading: a free one, or else the next in turn. It sees every commit
    /// made before the read starts.
    fn reader(&self) -> MutexGuard<'_, Db> {
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        for i in 0..self.readers.len() {
            match self.readers[(start + i) % self.readers.len()].try_lock() {
                Ok(reader) => return reader,
                Err(TryLockError::Poisoned(p)) => return p.into_inner(),
                Err(TryLockError::WouldBlock) => {}
            }
        }
        self.readers[start % self.readers.len()]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Makes every commit so far durable, with one flush; nothing to do when nothing changed
    /// since the last sync. PostgreSQL flushes each commit itself, but a claim's, which the
    /// next flushed commit carries with it.
    pub fn sync(&self) -> Result<(), StoreError> {
        if self.durability == Durability::Throwaway {
            return Ok(());
        }
        let guard = self.db();
        let Some(db) = guard.as_sqlite() else {
            return Ok(());
        };
        if db.total_changes() == self.synced.load(Ordering::Relaxed) {
            return Ok(());
        }
        // A commit at FULL flushes the write-ahead log, and with it every commit before.
        db.pragma_update(None, "synchronous", "FULL")?;
        let flushed = db.execute("UPDATE sync_point SET n = n + 1", []);
        db.pragma_update(None, "synchronous", "NORMAL")?;
        flushed?;
        self.synced.store(db.total_changes(), Ordering::Relaxed);
        Ok(())
    }

    /// Creates a job and its tasks (all pending). The tasks go in by the few thousand, the store
    /// free for others in between, so a job of many tasks holds back neither the API nor the
    /// results; the job is left alone (not published, not resumed) until they are all in.
    pub fn create_job(
        &self,
        job: &NewJob<'_>,
        tasks: impl Iterator<Item = Task>,
    ) -> Result<JobId, StoreError> {
        let spec_json = serde_json::to_string(job.spec).map_err(corrupt)?;
        let quote_json = job
            .quote
            .map(serde_json::to_string)
            .transpose()
            .map_err(corrupt)?;
        let id = {
            let mut db = self.db();
            let tx = db.transaction()?;
            let id = JobId(tx.query_row(
                "INSERT INTO jobs (scene_hash, scene_name, spec, priority, state, submitted_at,
                                   tenant, max_cost_micros, ready, quote, trust)
                 VALUES (?1, ?2, ?3, ?4, 'running', ?5, ?6, ?7, 0, ?8, ?9) RETURNING id",
                params![
                    job.scene.to_string(),
                    job.scene_name,
                    spec_json,
                    job.priority,
                    now(),
                    job.tenant,
                    job.max_cost.map(Money::micros),
                    quote_json,
                    job.trust.as_str()
                ],
                |r| r.get(0),
            )?);
            tx.execute(
                "INSERT INTO tenant_scenes (tenant, scene_hash, bytes) VALUES (?1, ?2, ?3)
                 ON CONFLICT DO NOTHING",
                params![job.tenant, job.scene.to_string(), job.scene_bytes as i64],
            )?;
            tx.commit()?;
            id
        };
        let filled = self.fill_job(id, tasks);
        if let Err(e) = &filled {
            // Not left running without its tasks until the next start fails it: failed now,
            // where the store still takes a write (else `fail_interrupted_jobs` does it then).
            let why = format!("could not be created: {e}; submit it again");
            if let Err(also) = self.finish_job(id, JobState::Failed, Some(&why)) {
                tracing::error!(job = %id, error = %also, "cannot fail a job left half created");
            }
        }
        filled.map(|()| id)
    }

    /// Stores a new job's tasks, a chunk a transaction, then marks it ready.
    fn fill_job(&self, id: JobId, tasks: impl Iterator<Item = Task>) -> Result<(), StoreError> {
        const CHUNK: usize = 2_000;
        let mut tasks = tasks.peekable();
        while tasks.peek().is_some() {
            let mut db = self.db();
            let tx = db.transaction()?;
            for t in tasks.by_ref().take(CHUNK) {
                tx.execute(
                    "INSERT INTO tasks (job_id, frame, x, y, w, h, state)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending')",
                    params![
                        id.0,
                        t.frame,
                        t.tile.x(),
                        t.tile.y(),
                        t.tile.width(),
                        t.tile.height()
                    ],
                )?;
            }
            tx.commit()?;
            drop(db);
            // The lock is not fair: without a pause, this loop would take it straight back.
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        self.db()
            .execute("UPDATE jobs SET ready = 1 WHERE id = ?1", params![id.0])?;
        self.sync()?;
        Ok(())
    }

    /// Whether a job of `tenant`'s keeps `scene` already (it counts against the quota once).
    pub fn tenant_stores_scene(&self, tenant: &str, scene: SceneHash) -> Result<bool, StoreError> {
        Ok(self
            .reader()
            .query_opt(
                "SELECT 1 FROM tenant_scenes WHERE tenant = ?1 AND scene_hash = ?2",
                params![tenant, scene.to_string()],
                |r| r.get::<i64>(0),
            )?
            .is_some())
    }

    /// Bytes of scenes stored for `tenant`'s jobs.
    pub fn tenant_scene_bytes(&self, tenant: &str) -> Result<u64, StoreError> {
        Ok(self.reader().query_row(
            "SELECT CAST(COALESCE(SUM(bytes), 0) AS BIGINT) FROM tenant_scenes WHERE tenant = ?1",
            params![tenant],
            |r| r.get(0),
        )?)
    }

    /// Each worker's results in the latest ledger rows of jobs charged for their work: all of
    /// them, and those that passed its own spot check ([`crate::billing::work`]). Reversed
    /// charges are left out: what a caught worker reported measures nothing.
    pub fn work_done(&self) -> Result<Vec<(String, WorkDone, WorkDone)>, StoreError> {
        let db = self.reader();
        // Jobs quoted with prices per hour of work.
        let priced_by_work = match db.dialect() {
            Dialect::Sqlite => "json_extract(j.quote, '$.work_hour_prices') IS NOT NULL",
            Dialect::Postgres => "jsonb_typeof(j.quote::jsonb -> 'work_hour_prices') <> 'null'",
        };
        let seconds = |micros: &str| format!("CAST(SUM({micros}) AS DOUBLE PRECISION) / 1e6");
        let sql = format!(
            "SELECT l.worker, l.device_class, l.threads, {}, {}, {}, {}
             FROM {RECENT_LEDGER} l JOIN jobs j ON j.id = l.job_id
                 LEFT JOIN checked_tasks c ON c.task_id = l.task_id AND c.worker = l.worker
             WHERE {priced_by_work}
                 AND NOT EXISTS (SELECT 1 FROM ledger_reversals r WHERE r.ledger_id = l.id)
             GROUP BY l.worker, l.device_class, l.threads",
            seconds("l.work_micros"),
            seconds("l.render_micros"),
            seconds("CASE WHEN c.task_id IS NULL THEN 0 ELSE l.work_micros END"),
            seconds("CASE WHEN c.task_id IS NULL THEN 0 ELSE l.render_micros END"),
        );
        Ok(db.query_map(&sql, params![], |r| {
            let (class, threads): (String, u32) = (r.get(1)?, r.get(2)?);
            let done = |work: f64, render: f64| WorkDone {
                class: class.clone(),
                threads,
                work_seconds: work,
                render_seconds: render,
            };
            Ok((
                r.get(0)?,
                done(r.get(3)?, r.get(4)?),
                done(r.get(5)?, r.get(6)?),
            ))
        })?)
    }

    fn read_job(row: &Row) -> Result<JobRecord, StoreError> {
        let scene: String = row.get("scene_hash")?;
        let spec: String = row.get("spec")?;
        let state: String = row.get("state")?;
        let trust: String = row.get("trust")?;
        Ok(JobRecord {
            id: JobId(row.get("id")?),
            tenant: row.get("tenant")?,
            max_cost: row
                .get::<Option<i64>>("max_cost_micros")?
                .map(Money::from_micros),
            quote: row
                .get::<Option<String>>("quote")?
                .map(|q| serde_json::from_str(&q))
                .transpose()
                .map_err(corrupt)?,
            trust: Trust::from_name(&trust).ok_or_else(|| corrupt(format!("trust '{trust}'")))?,
            scene: scene.parse().map_err(corrupt)?,
            scene_name: row.get("scene_name")?,
            spec: serde_json::from_str(&spec).map_err(corrupt)?,
            priority: row.get("priority")?,
            state: JobState::from_name(&state)
                .ok_or_else(|| corrupt(format!("job state '{state}'")))?,
            reason: row.get("reason")?,
            tasks_total: row.get("tasks_total")?,
            tasks_done: row.get("tasks_done")?,
            cost: Money::from_micros(row.get("cost_micros")?),
            submitted_at: row.get("submitted_at")?,
            finished_at: row.get("finished_at")?,
        })
    }

    const JOB_QUERY: &str = "SELECT j.*,
        CAST(COALESCE((SELECT SUM(f.total) FROM frame_tiles f WHERE f.job_id = j.id), 0) AS BIGINT)
            AS tasks_total,
        CAST(COALESCE((SELECT SUM(f.done) FROM frame_tiles f WHERE f.job_id = j.id), 0) AS BIGINT)
            AS tasks_done,
        CAST(COALESCE((SELECT c.charged_micros - c.reversed_micros FROM job_costs c
                       WHERE c.job_id = j.id), 0) AS BIGINT) AS cost_micros
        FROM jobs j";

    pub fn job(&self, job: JobId) -> Result<JobRecord, StoreError> {
        let rows = self.reader().query(
            &format!("{} WHERE j.id = ?1", Self::JOB_QUERY),
            params![job.0],
        )?;
        match rows.first() {
            Some(row) => Self::read_job(row),
            None => Err(StoreError::UnknownJob(job)),
        }
    }

    /// A page of jobs, newest first, of one tenant and in one state where given.
    pub fn jobs(
        &self,
        tenant: Option<&str>,
        state: Option<JobState>,
        page: JobPage,
    ) -> Result<JobsListed, StoreError> {
        let sql = format!(
            "{} WHERE (CAST(?1 AS TEXT) IS NULL OR j.tenant = ?1)
                 AND (CAST(?2 AS TEXT) IS NULL OR j.state = ?2)
                 AND (CAST(?3 AS BIGINT) IS NULL OR j.id < ?3)
               ORDER BY j.id DESC LIMIT ?4",
            Self::JOB_QUERY
        );
        // One more than the page: whether it exists tells whether older jobs follow.
        let jobs = self
            .reader()
            .query(
                &sql,
                params![
                    tenant,
                    state.map(JobState::as_str),
                    page.before.map(|j| j.0),
                    page.limit + 1
                ],
            )?
            .iter()
            .map(Self::read_job)
            .collect::<Result<Vec<_>, _>>()?;
        let (jobs, more) = cut_page(jobs, page.limit);
        Ok(JobsListed { jobs, more })
    }

    /// A number that changes whenever a job is created, changes state or goes, whoever
    /// changed it (another coordinator on the same database included).
    pub fn jobs_version(&self) -> Result<i64, StoreError> {
        Ok(self.reader().query_row(
            "SELECT version FROM jobs_version WHERE id = 0",
            params![],
            |r| r.get(0),
        )?)
    }

    /// Ends a running job; returns false when it was not running.
    pub fn finish_job(
        &self,
        job: JobId,
        state: JobState,
        reason: Option<&str>,
    ) -> Result<bool, StoreError> {
        let ended = Self::end_job(&self.db(), job, state, reason, now())?;
        self.sync()?;
        Ok(ended)
    }

    /// Ends a running job on `db` (a transaction of its own, or one it is part of).
    fn end_job(
        db: &Db,
        job: JobId,
        state: JobState,
        reason: Option<&str>,
        at: f64,
    ) -> Result<bool, StoreError> {
        // Done only with every task done: a task may have gone out again since its frame was
        // written (its worker was caught cheating).
        let changed = db.execute(
            "UPDATE jobs SET state = ?2, reason = ?3, finished_at = ?4 WHERE id = ?1 AND state = 'running'
                 AND (CAST(?2 AS TEXT) != 'done'
                      OR NOT EXISTS (SELECT 1 FROM frame_tiles WHERE job_id = ?1 AND done < total))",
            params![job.0, state.as_str(), reason, at],
        )?;
        Ok(changed == 1)
    }

    pub fn frame_progress(&self, job: JobId) -> Result<Vec<FrameProgress>, StoreError> {
        Ok(self.reader().query_map(
            "SELECT t.frame, t.done, t.total,
                    EXISTS (SELECT 1 FROM frames_written f WHERE f.job_id = t.job_id AND f.frame = t.frame)
             FROM frame_tiles t WHERE t.job_id = ?1 ORDER BY t.frame",
            params![job.0],
            |r| {
                Ok(FrameProgress {
                    frame: r.get(0)?,
                    tiles_done: r.get(1)?,
                    tiles_total: r.get(2)?,
                    written: r.get(3)?,
                })
            },
        )?)
    }

    fn read_task(row: &Row, resolution: Resolution) -> Result<TaskRecord, StoreError> {
        let tile = Tile::new(
            row.get("x")?,
            row.get("y")?,
            row.get("w")?,
            row.get("h")?,
            resolution,
        )
        .map_err(corrupt)?;
        let state: String = row.get("state")?;
        Ok(TaskRecord {
            id: TaskId(row.get("id")?),
            job: JobId(row.get("job_id")?),
            task: Task {
                frame: row.get("frame")?,
                tile,
            },
            state: task_state(&state)?,
            attempts: row.get("attempts")?,
            give_backs: row.get("give_backs")?,
            queued_at: row.get("queued_at")?,
        })
    }

    /// A job's tasks, in one state where given, in frame and tile order.
    /// A page of a job's tasks, in the order they render (frame by frame, each frame's tiles
    /// row by row), of one state where given.
    pub fn tasks(
        &self,
        job: JobId,
        state: Option<TaskState>,
        page: RowPage,
    ) -> Result<TasksListed, StoreError> {
        // One more than the page: whether it exists tells whether more follow. Two queries, so
        // that each can walk its index in order (a state filter that may be NULL could not):
        // (job_id, id) for all tasks, (state, job_id) for one state's.
        const COLUMNS: &str =
            "SELECT id, frame, x, y, w, h, state, attempts, last_error FROM tasks";
        let rows = match state {
            None => self.reader().query(
                &format!("{COLUMNS} WHERE job_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3"),
                params![job.0, page.after, page.limit + 1],
            )?,
            Some(state) => self.reader().query(
                &format!(
                    "{COLUMNS} WHERE state = ?1 AND job_id = ?2 AND id > ?3 ORDER BY id LIMIT ?4"
                ),
                params![state.as_str(), job.0, page.after, page.limit + 1],
            )?,
        };
        let (rows, more) = cut_page(rows, page.limit);
        let mut tasks = Vec::new();
        for r in &rows {
            let (x, y, width, height): (u32, u32, u32, u32) =
                (r.get("x")?, r.get("y")?, r.get("w")?, r.get("h")?);
            tasks.push(TaskView {
                id: TaskId(r.get("id")?),
                frame: r.get("frame")?,
                tile: format!("{width}x{height}+{x}+{y}"),
                x,
                y,
                width,
                height,
                state: task_state(&r.get::<String>("state")?)?,
                attempts: r.get("attempts")?,
                last_error: r.get("last_error")?,
            });
        }
        let next = tasks.last().map(|t| t.id).filter(|_| more);
        Ok(TasksListed { tasks, next })
    }

    pub fn task(
        &self,
        id: TaskId,
        resolution: Resolution,
    ) -> Result<Option<TaskRecord>, StoreError> {
        self.reader()
            .query("SELECT * FROM tasks WHERE id = ?1", params![id.0])?
            .first()
            .map(|row| Self::read_task(row, resolution))
            .transpose()
    }

    /// The windows with tasks waiting to be published, each with how many tasks each of its
    /// running jobs has in the broker, not yet done (jobs with none left out).
    pub fn waiting_windows(&self) -> Result<Vec<(Window, QueuedByJob)>, StoreError> {
        let rows = self.db().query_map(
            "SELECT w.tenant, w.trust, x.job_id, COUNT(x.job_id)
             FROM (SELECT DISTINCT j.tenant, j.trust FROM jobs j
                   WHERE j.state = 'running' AND j.ready = 1
                     AND EXISTS (SELECT 1 FROM tasks t
                                 WHERE t.job_id = j.id AND t.state = 'pending')) w
             LEFT JOIN (SELECT k.tenant, k.trust, q.job_id
                        FROM tasks q JOIN jobs k ON k.id = q.job_id
                        WHERE q.state = 'queued' AND k.state = 'running') x
               ON x.tenant = w.tenant AND x.trust = w.trust
             GROUP BY w.tenant, w.trust, x.job_id ORDER BY w.tenant, w.trust, x.job_id",
            params![],
            |r| {
                Ok((
                    r.get::<String>(0)?,
                    r.get::<String>(1)?,
                    r.get::<Option<i64>>(2)?,
                    r.get(3)?,
                ))
            },
        )?;
        let mut windows: Vec<(Window, QueuedByJob)> = Vec::new();
        for (tenant, trust, job, queued) in rows {
            let trust =
                Trust::from_name(&trust).ok_or_else(|| corrupt(format!("trust '{trust}'")))?;
            let window = Window { tenant, trust };
            if windows.last().is_none_or(|(last, _)| *last != window) {
                windows.push((window, Vec::new()));
            }
            if let (Some((_, jobs)), Some(job)) = (windows.last_mut(), job) {
                jobs.push((JobId(job), queued));
            }
        }
        Ok(windows)
    }

    /// Up to `limit` pending tasks of the running jobs in `window`, highest priority first,
    /// then oldest job: their ids and jobs, without reading their records.
    pub fn pending(
        &self,
        window: &Window,
        limit: usize,
    ) -> Result<Vec<(TaskId, JobId)>, StoreError> {
        Ok(self.db().query_map(
            "SELECT t.id, t.job_id FROM tasks t JOIN jobs j ON j.id = t.job_id
             WHERE t.state = 'pending' AND j.state = 'running' AND j.ready = 1 AND j.tenant = ?1
               AND j.trust = ?2
             ORDER BY j.priority DESC, j.id, t.id LIMIT ?3",
            params![window.tenant.as_str(), window.trust.as_str(), limit as i64],
            |r| Ok((TaskId(r.get(0)?), JobId(r.get(1)?))),
        )?)
    }

    /// The records of tasks [`pending`](Self::pending) named.
    pub fn pending_records(
        &self,
        tasks: &[(TaskId, JobId)],
    ) -> Result<Vec<(TaskRecord, JobId)>, StoreError> {
        self.task_records(tasks.iter().map(|(t, j)| (t.0, j.0)).collect())
    }

    /// The records of (task, job) ids.
    fn task_records(&self, ids: Vec<(i64, i64)>) -> Result<Vec<(TaskRecord, JobId)>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        let mut resolutions = std::collections::HashMap::new();
        for (task, job) in ids {
            let job = JobId(job);
            let resolution = match resolutions.get(&job) {
                Some(&r) => r,
                None => {
                    let r = self.job(job)?.spec.resolution;
                    resolutions.insert(job, r);
                    r
                }
            };
            if let Some(record) = self.task(TaskId(task), resolution)? {
                out.push((record, job));
            }
        }
        Ok(out)
    }

    /// Marks queued the tasks `published` names, as published no earlier than `published_at`
    /// (the store's clock).
    pub fn mark_queued(
        &self,
        published: &[Published],
        published_at: f64,
    ) -> Result<(), StoreError> {
        let mut db = self.db();
        let tx = db.transaction()?;
        // A task whose published attempt failed meanwhile, or that was given back for other
        // workers (a worker took the message before the broker confirmed it), stays pending for
        // the next top-up: marked queued, it would wait for a message nobody sends.
        for t in published {
            tx.execute(
                "UPDATE tasks SET state = 'queued', queued_at = ?2
                 WHERE id = ?1 AND attempts = ?3 AND give_backs = ?4
                   AND state IN ('pending', 'queued')",
                params![t.task.0, published_at, t.attempts, t.give_backs],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Queued tasks of running jobs last published before `before` that nobody has claimed
    /// since: their message may have been lost (a purged queue, a consumer that acknowledged
    /// without claiming).
    pub fn unclaimed_queued(&self, before: f64) -> Result<Vec<(TaskRecord, JobId)>, StoreError> {
        let ids = self.db().query_map(
            "SELECT t.id, t.job_id FROM tasks t JOIN jobs j ON j.id = t.job_id
             WHERE t.state = 'queued' AND j.state = 'running' AND t.queued_at < ?1
               AND NOT EXISTS (SELECT 1 FROM leases l
                               WHERE l.task_id = t.id AND l.attempt = t.attempts + 1)
             ORDER BY t.id",
            params![before],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        self.task_records(ids)
    }

    /// Accepts a batch of results in one transaction (one commit, where there was one a
    /// result): for each, keeps its tile (its compressed pixels), marks its task done and
    /// appends its ledger row (and, when a spot check passed it, records the check). A task
    /// already done is left alone and reported as a duplicate; a result under a lease that
    /// ended, of a job that ended, or of a worker caught cheating since it claimed, is not
    /// recorded. Durable at the next [`sync`](Self::sync).
    ///
    /// `charge` prices result `i` (its row) from its job's carry and invoice so far, read inside the
    /// transaction after the results before it (on PostgreSQL with the job's row locked), so
    /// that no two results of a job are priced from the same carry or budget, whichever
    /// coordinator accepts them.
    pub fn accept(
        &self,
        results: &mut [Accepting<'_>],
        mut charge: impl FnMut(usize, &LedgerRow, Carry, Invoiced<'_>) -> Result<Priced, StoreError>,
    ) -> Result<Vec<Acceptance>, StoreError> {
        let mut db = self.db();
        let tx = db.transaction()?;
        let mut outcomes = Vec::with_capacity(results.len());
        for (i, result) in results.iter_mut().enumerate() {
            outcomes.push(Self::accept_one(&tx, result, |row, carry, invoiced| {
                charge(i, row, carry, invoiced)
            })?);
        }
        tx.commit()?;
        Ok(outcomes)
    }

    fn accept_one(
        tx: &Db,
        result: &mut Accepting<'_>,
        charge: impl FnOnce(&LedgerRow, Carry, Invoiced<'_>) -> Result<Priced, StoreError>,
    ) -> Result<Acceptance, StoreError> {
        let row = &mut result.row;
        // Racing an expiry, only a result under a lease still active counts; and none of a
        // worker caught cheating since it claimed, whose charges would escape the reversal.
        if !leases::finish_with_result(tx, result.lease)? {
            return Ok(match reputation::caught_cheating(tx, &row.worker)? {
                true => Acceptance::WorkerBlocked,
                false => Acceptance::LeaseEnded,
            });
        }
        // Nor of a job that ended since its result was checked (earlier in its batch, or by
        // its owner).
        let changed = tx.execute(
            "UPDATE tasks SET state = 'done' WHERE id = ?1 AND state != 'done'
                 AND job_id IN (SELECT id FROM jobs WHERE state = 'running')",
            params![row.task.0],
        )?;
        if changed == 0 {
            return Ok(Acceptance::Duplicate);
        }
        if tx.dialect() == Dialect::Postgres {
            tx.query(
                "SELECT 1 FROM jobs WHERE id = ?1 FOR UPDATE",
                params![row.job.0],
            )?;
        }
        let carried = Carry::from_units(
            tx.query_opt(
                "SELECT units FROM job_carry WHERE job_id = ?1",
                params![row.job.0],
                |r| r.get(0),
            )?
            .unwrap_or(0),
        );
        let priced = charge(
            row,
            carried,
            Invoiced {
                db: tx,
                job: row.job,
            },
        )?;
        row.charge = priced.charge;
        let t = now();
        if let Some(why) = &priced.ends_job {
            Self::end_job(tx, row.job, JobState::Failed, Some(why), t)?;
        }
        ledger::insert(tx, row, t)?;
        // A tile rendered again (its first worker was caught cheating) replaces the old one.
        tx.execute(
            "INSERT INTO tiles (task_id, job_id, pixels) VALUES (?1, ?2, ?3)
             ON CONFLICT (task_id) DO UPDATE SET pixels = ?3",
            params![row.task.0, row.job.0, result.tile],
        )?;
        tx.execute(
            "INSERT INTO job_carry (job_id, units) VALUES (?1, ?2)
             ON CONFLICT (job_id) DO UPDATE SET units = ?2",
            params![row.job.0, priced.carry.units() as i64],
        )?;
        Self::upsert_worker(tx, result.worker, t, 1)?;
        if result.checked {
            reputation::passed_check(tx, &row.worker, row.task)?;
        }
        Ok(Acceptance::Accepted)
    }

    fn upsert_worker(db: &Db, worker: &WorkerInfo, at: f64, tasks: u64) -> Result<(), StoreError> {
        let d = &worker.device;
        db.execute(
            "INSERT INTO workers (name, backend, device, device_class, threads, first_seen, last_seen, tasks_done)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7)
             ON CONFLICT (name) DO UPDATE SET backend = ?2, device = ?3, device_class = ?4,
                 threads = ?5, last_seen = ?6, tasks_done = workers.tasks_done + ?7",
            params![worker.name, d.backend, d.name, d.class, d.threads, at, tasks as i64],
        )?;
        Ok(())
    }

    /// A worker said hello.
    pub fn announce_worker(&self, worker: &WorkerInfo) -> Result<(), StoreError> {
        Self::upsert_worker(&self.db(), worker, now(), 0)
    }

    /// Every worker heard from, alive when heard from since `alive_after`.
    pub fn workers(&self, alive_after: f64) -> Result<Vec<WorkerView>, StoreError> {
        Ok(self.reader().query_map(
            "SELECT w.*, COALESCE(r.checks_passed, 0) AS passed,
                    COALESCE(r.checks_failed, 0) AS failed,
                    COALESCE(r.consecutive_valid, 0) AS streak, r.blocked_reason,
                    (SELECT MAX(l.task_id) FROM leases l
                     WHERE l.worker = w.name AND l.state = 'active') AS current_task
             FROM workers w LEFT JOIN reputation r ON r.worker = w.name ORDER BY w.name",
            params![],
            |r| {
                let last_seen: f64 = r.get("last_seen")?;
                Ok(WorkerView {
                    name: r.get("name")?,
                    backend: r.get("backend")?,
                    device: r.get("device")?,
                    device_class: r.get("device_class")?,
                    threads: r.get("threads")?,
                    first_seen: r.get("first_seen")?,
                    last_seen,
                    tasks_done: r.get("tasks_done")?,
                    alive: last_seen >= alive_after,
                    checks_passed: r.get("passed")?,
                    checks_failed: r.get("failed")?,
                    consecutive_valid: r.get("streak")?,
                    // The farm's policy and billing's measure, which the farm adds.
                    check_rate: 1.0,
                    throughput: None,
                    blocked: r.get("blocked_reason")?,
                    current_task: r.get::<Option<i64>>("current_task")?.map(TaskId),
                })
            },
        )?)
    }

    /// Records that attempt `attempt` of a task failed, ending its lease as `lease` says: the
    /// task waits to be published again, or with `job_failure` is failed for good and its job
    /// with it, for that reason. All in one transaction.
    pub fn record_failure(
        &self,
        task: TaskId,
        attempt: u32,
        reason: &str,
        lease: Option<(&str, LeaseEnd)>,
        job_failure: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut db = self.db();
        let tx = db.transaction()?;
        if let Some((id, end)) = lease {
            leases::finish(&tx, id, end)?;
        }
        tx.execute(
            "UPDATE tasks SET attempts = CASE WHEN attempts > ?2 THEN attempts ELSE ?2 END,
                 last_error = ?3,
                 state = CASE WHEN state = 'done' THEN 'done'
                              WHEN ?4 THEN 'failed' ELSE 'pending' END
             WHERE id = ?1",
            params![task.0, attempt, reason, job_failure.is_some()],
        )?;
        if let Some(why) = job_failure {
            tx.execute(
                "UPDATE jobs SET state = 'failed', reason = ?2, finished_at = ?3
                 WHERE id = (SELECT job_id FROM tasks WHERE id = ?1) AND state = 'running'",
                params![task.0, why, now()],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The done tasks of a frame (to assemble it) and how many tasks the frame has.
    pub fn frame_tasks(
        &self,
        job: JobId,
        frame: u32,
        resolution: Resolution,
    ) -> Result<(Vec<TaskRecord>, usize), StoreError> {
        let rows = self.reader().query(
            "SELECT * FROM tasks WHERE job_id = ?1 AND frame = ?2 ORDER BY id",
            params![job.0, frame],
        )?;
        let mut done = Vec::new();
        let mut total = 0;
        for row in &rows {
            total += 1;
            let task = Self::read_task(row, resolution)?;
            if task.state == TaskState::Done {
                done.push(task);
            }
        }
        Ok((done, total))
    }

    /// Whether every tile of a frame is accepted and the frame not yet written.
    pub fn frame_ready(&self, job: JobId, frame: u32) -> Result<bool, StoreError> {
        Ok(self
            .reader()
            .query_opt(
                "SELECT f.done = f.total AND NOT EXISTS
                     (SELECT 1 FROM frames_written w WHERE w.job_id = f.job_id AND w.frame = f.frame)
                 FROM frame_tiles f WHERE f.job_id = ?1 AND f.frame = ?2",
                params![job.0, frame],
                |r| r.get(0),
            )?
            .unwrap_or(false))
    }

    /// An accepted tile's compressed pixels, as [`accept`](Self::accept) kept them.
    pub fn tile(&self, task: TaskId) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.reader().query_opt(
            "SELECT pixels FROM tiles WHERE task_id = ?1",
            params![task.0],
            |r| r.get(0),
        )?)
    }

    /// Jobs no longer running whose tiles are still kept.
    pub fn ended_jobs_with_tiles(&self) -> Result<Vec<JobId>, StoreError> {
        Ok(self.reader().query_map(
            "SELECT j.id FROM jobs j WHERE j.state <> 'running'
               AND EXISTS (SELECT 1 FROM tiles t WHERE t.job_id = j.id)",
            params![],
            |r| r.get(0).map(JobId),
        )?)
    }

    /// Drops a job's tiles.
    pub fn remove_tiles(&self, job: JobId) -> Result<(), StoreError> {
        self.db()
            .execute("DELETE FROM tiles WHERE job_id = ?1", params![job.0])?;
        Ok(())
    }

    pub fn mark_frame_written(&self, job: JobId, frame: u32) -> Result<(), StoreError> {
        self.db().execute(
            "INSERT INTO frames_written (job_id, frame) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            params![job.0, frame],
        )?;
        Ok(())
    }

    pub fn frame_written(&self, job: JobId, frame: u32) -> Result<bool, StoreError> {
        Ok(self.reader().query_row(
            "SELECT EXISTS (SELECT 1 FROM frames_written WHERE job_id = ?1 AND frame = ?2)",
            params![job.0, frame],
            |r| r.get(0),
        )?)
    }

    /// A job's ledger rows, oldest first.
    pub fn ledger(&self, job: JobId) -> Result<Vec<LedgerRow>, StoreError> {
        Ok(ledger::rows(&self.reader(), job)?)
    }

    /// A job's reversed charges.
    pub fn reversals(&self, job: JobId) -> Result<Vec<Reversal>, StoreError> {
        Ok(ledger::reversals(&self.reader(), job)?)
    }

    /// A page of a job's invoice (see [`InvoicePage`]).
    pub fn invoice(&self, job: JobId, page: RowPage) -> Result<InvoicePage, StoreError> {
        // One snapshot, so that the page's reversals and total agree with its charges (it is
        // only read: dropped, it rolls back).
        let mut reader = self.reader();
        let db = reader.transaction()?;
        if db.dialect() == Dialect::Postgres {
            db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", params![])?;
        }
        let (rows, last, more) = ledger::page(&db, job, page.after, page.limit)?;
        let reversals = match last {
            Some(last) => ledger::reversals_between(&db, job, page.after, last)?,
            None => Vec::new(),
        };
        Ok(InvoicePage {
            invoice: InvoiceView {
                job,
                rows,
                reversals,
                total: ledger::total(&db, job)?,
            },
            next: last.filter(|_| more),
        })
    }

    /// A job's invoice total: its charges less its reversals.
    pub fn invoice_total(&self, job: JobId) -> Result<Money, StoreError> {
        Ok(ledger::total(&self.reader(), job)?)
    }

    /// Jobs still running (to resume after a restart).
    pub fn running_jobs(&self) -> Result<Vec<JobId>, StoreError> {
        Ok(self.reader().query_map(
            "SELECT id FROM jobs WHERE state = 'running' AND ready = 1 ORDER BY id",
            params![],
            |r| r.get(0).map(JobId),
        )?)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::plan::TaskPlan;
    use std::collections::BTreeMap;
    use tessera_protocol::auth::{NewToken, Role};
    use tessera_protocol::device::Device;
    use tessera_protocol::job::Fps;
    use tessera_protocol::lease::TaskAttempt;
    use tessera_renderer::settings::{MaxDepth, RenderSettings, Spp};

    impl Store {
        /// Up to `limit` pending tasks of `tenant`'s running jobs any worker may render, with
        /// their records.
        fn next_pending(
            &self,
            tenant: &str,
            limit: usize,
        ) -> Result<Vec<(TaskRecord, JobId)>, StoreError> {
            self.pending_records(&self.pending(&any_worker(tenant), limit)?)
        }

        /// A claim of one task, as a message of one task asks it.
        fn claim_alone(
            &self,
            task: TaskId,
            attempt: u32,
            worker: &str,
            device_class: &str,
            threads: u32,
            verified: bool,
        ) -> Result<LeaseClaim, StoreError> {
            let claimant = Claimant {
                worker,
                device_class,
                threads,
                verified,
                others_alive_since: None,
            };
            let mut claims = self.claim(&[TaskAttempt { task, attempt }], &claimant)?;
            Ok(claims.remove(0))
        }
    }

    fn spec() -> JobSpec {
        JobSpec {
            frames: "1-2".parse().unwrap(),
            resolution: Resolution::new(8, 4).unwrap(),
            settings: RenderSettings {
                spp: Spp::new(2).unwrap(),
                max_depth: MaxDepth::new(3).unwrap(),
                seed: 1,
            },
            tile_size: std::num::NonZeroU32::new(4).unwrap(),
            fps: Fps::new(24.0).unwrap(),
            camera: None,
            view: Default::default(),
            environment: None,
            max_attempts: 3,
        }
    }

    fn worker() -> WorkerInfo {
        WorkerInfo {
            name: "w1".into(),
            device: Device {
                backend: "cpu".into(),
                name: "test cpu".into(),
                class: "cpu".into(),
                threads: 2,
            },
        }
    }

    /// A store of one test's own: a SQLite file in a temporary directory, or a schema in the
    /// PostgreSQL at `TESSERA_TEST_POSTGRES` (127.0.0.1:5432 by default), dropped afterwards.
    pub(crate) struct Scratch {
        location: Location,
        _dir: Option<tempfile::TempDir>,
        postgres: Option<(String, String)>,
    }

    impl Scratch {
        pub(crate) fn sqlite() -> Self {
            let dir = tempfile::tempdir().unwrap();
            Scratch {
                location: Location::Sqlite(dir.path().join("farm.db")),
                _dir: Some(dir),
                postgres: None,
            }
        }

        pub(crate) fn postgres() -> Self {
            static SCHEMAS: AtomicUsize = AtomicUsize::new(0);
            let server = std::env::var("TESSERA_TEST_POSTGRES")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
            let schema = format!(
                "tessera_test_{}_{}",
                std::process::id(),
                SCHEMAS.fetch_add(1, Ordering::Relaxed)
            );
            let admin = admin(&server).unwrap_or_else(|e| {
                panic!(
                    "these tests need PostgreSQL at {} ({e}); .ci/run starts it, and \
                     TESSERA_TEST_POSTGRES names another",
                    Location::parse(&server).unwrap()
                )
            });
            admin
                .batch(&format!(
                    "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
                ))
                .unwrap();
            let joint = if server.contains('?') { '&' } else { '?' };
            Scratch {
                location: Location::parse(&format!(
                    "{server}{joint}options=-c%20search_path%3D{schema}"
                ))
                .unwrap(),
                _dir: None,
                postgres: Some((server, schema)),
            }
        }

        /// The PostgreSQL database of a [`Scratch::postgres`] store.
        pub(crate) fn postgres_server(&self) -> &database::Postgres {
            match &self.location {
                Location::Postgres(server) => server,
                Location::Sqlite(_) => panic!("a SQLite scratch store has no PostgreSQL server"),
            }
        }

        pub(crate) fn open(&self) -> Store {
            Store::open_at(&self.location, Durability::CrashSafe).unwrap()
        }
    }

    fn admin(server: &str) -> Result<Db, DbError> {
        database::Postgres::parse(server)?.connect()
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            if let Some((server, schema)) = &self.postgres
                && let Ok(admin) = admin(server)
            {
                let _ = admin.batch(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
            }
        }
    }

    /// Runs each named test, a `fn(&Scratch)`, on SQLite and on PostgreSQL.
    macro_rules! on_sqlite_and_postgres {
        ($($name:ident),* $(,)?) => {
            mod on_sqlite {
                $(#[test]
                fn $name() {
                    super::$name(&super::Scratch::sqlite())
                })*
            }
            mod on_postgres {
                $(#[test]
                fn $name() {
                    super::$name(&super::Scratch::postgres())
                })*
            }
        };
    }

    on_sqlite_and_postgres!(
        jobs_and_tasks_survive_reopening,
        pending_tasks_come_by_priority_then_age_within_each_tenant,
        a_tenants_verified_jobs_wait_in_a_window_of_their_own,
        a_task_whose_published_attempt_failed_meanwhile_stays_pending,
        a_task_given_back_before_its_publication_was_confirmed_stays_pending,
        a_store_from_before_tasks_were_given_back_by_count_is_upgraded,
        a_task_is_billed_once_under_its_lease_and_ledger_rows_are_immutable,
        a_blocked_workers_unverified_tasks_go_out_again_and_are_charged_once_more,
        a_lease_is_granted_once_for_the_current_attempt_and_expires_unheard,
        tokens_are_stored_as_hashes_and_revocable,
        a_jobs_tasks_are_listed_by_state_and_a_worker_is_drained_and_readmitted,
        each_tenant_sees_its_jobs_and_pays_for_its_scenes,
        a_frame_is_ready_once_its_last_tile_is_kept_and_a_sync_flushes_only_after_changes,
        progress_counts_done_tiles_per_frame_and_failures_end_jobs,
        a_job_left_half_created_is_failed_by_the_active_coordinator_only,
        the_farms_summaries_read_alike_on_both_engines,
        a_batch_of_results_is_accepted_whole_or_not_at_all_and_a_blocked_worker_is_not_paid,
        a_result_that_reaches_the_cost_limit_ends_its_job_as_it_is_recorded,
        the_jobs_version_moves_when_a_job_comes_or_ends_and_not_with_its_tasks,
        a_lease_id_not_of_the_stores_making_names_no_lease,
        a_store_from_before_caught_workers_were_marked_keeps_them_caught,
    );

    /// A store whose reputations predate the `caught` mark: opening it marks the workers then
    /// blocked with a failed check on their record, as that store refused their results, once;
    /// readmission clears the mark.
    fn a_store_from_before_caught_workers_were_marked_keeps_them_caught(scratch: &Scratch) {
        {
            let store = scratch.open();
            store.block_worker("cheat", "caught").unwrap();
            store.block_worker("drained", "caught").unwrap();
            store.readmit_worker("drained").unwrap();
            store.drain_worker("drained").unwrap();
            store
                .db()
                .batch("ALTER TABLE reputation DROP COLUMN caught")
                .unwrap();
        }
        let store = scratch.open();
        let caught = |worker| reputation::caught_cheating(&store.db(), worker).unwrap();
        assert!(caught("cheat"));
        // As the store knew it then, a drained worker that once failed a check.
        assert!(caught("drained"));
        assert!(store.readmit_worker("drained").unwrap());
        assert!(!caught("drained"));
        // Opening it again changes nothing.
        drop(store);
        let store = scratch.open();
        assert!(reputation::caught_cheating(&store.db(), "cheat").unwrap());
        assert!(!reputation::caught_cheating(&store.db(), "drained").unwrap());
    }

    /// A store made before tasks were given back by count gets the column, on both engines.
    fn a_store_from_before_tasks_were_given_back_by_count_is_upgraded(scratch: &Scratch) {
        {
            let store = scratch.open();
            job(&store, 0);
            store
                .db()
                .batch("ALTER TABLE tasks DROP COLUMN give_backs")
                .unwrap();
        }
        let store = scratch.open();
        let (task, _) = store.next_pending("", 1).unwrap().remove(0);
        assert_eq!(task.give_backs, 0);
        store.mark_queued(&[Published::of(&task)], 1.0).unwrap();
        assert_eq!(state_of(&store, task.id), TaskState::Queued);
    }

    /// A result's lease id is the sender's claim: one that could not be ours names no lease,
    /// rather than an error (PostgreSQL refuses NUL, and the refusal would be retried forever).
    fn a_lease_id_not_of_the_stores_making_names_no_lease(scratch: &Scratch) {
        let store = scratch.open();
        job_of(&store, "", 0, 1);
        let (_, lease) = claimed(&store);
        assert_eq!(
            store.lease(&lease.id).unwrap().map(|l| l.id),
            Some(lease.id.clone())
        );
        let nul = format!("{}\u{0}", &lease.id[1..]);
        for id in ["", "\u{0}", nul.as_str(), "not a lease", &"a".repeat(1000)] {
            assert!(store.lease(id).unwrap().is_none(), "{id:?}");
        }
    }

    /// What tells a listing's snapshot (crate::listings) that it is out of date, in another
    /// store on the same database as well.
    fn the_jobs_version_moves_when_a_job_comes_or_ends_and_not_with_its_tasks(scratch: &Scratch) {
        let store = scratch.open();
        let other = scratch.open();
        let before = store.jobs_version().unwrap();
        let id = job(&store, 0);
        let created = other.jobs_version().unwrap();
        assert_ne!(created, before, "a job was created");
        let (task, _) = store.next_pending("", 1).unwrap().remove(0);
        store
            .record_failure(task.id, 1, "a worker crashed", None, None)
            .unwrap();
        assert_eq!(
            other.jobs_version().unwrap(),
            created,
            "only a task changed"
        );
        assert!(store.finish_job(id, JobState::Cancelled, None).unwrap());
        assert_ne!(other.jobs_version().unwrap(), created, "the job ended");
    }

    /// Results are accepted a batch at a time, in one transaction: each priced after the one
    /// before it, none of a worker caught cheating after it claimed (a drained one's count),
    /// none of a job that ended, and nothing kept when one fails.
    fn a_batch_of_results_is_accepted_whole_or_not_at_all_and_a_blocked_worker_is_not_paid(
        scratch: &Scratch,
    ) {
        let store = scratch.open();
        let id = job(&store, 0);
        let pending = store.next_pending("", 4).unwrap();
        let claim = |at: usize, worker: &str| {
            let task = pending[at].0.clone();
            match store
                .claim_alone(task.id, 1, worker, "cpu", 2, false)
                .unwrap()
            {
                LeaseClaim::Granted(lease) => (task, lease),
                other => panic!("{other:?}"),
            }
        };
        let (first, first_lease) = claim(0, "w1");
        let (cheat_task, cheat_lease) = claim(1, "w2");
        let (second, second_lease) = claim(2, "w1");
        store.block_worker("w2", "made up").unwrap();
        // Drained, not caught: what it holds still counts.
        store.drain_worker("w1").unwrap();
        let worker = worker();
        let mut cheat_row = row(cheat_task.id, id);
        cheat_row.worker = "w2".into();
        let batch = [
            (row(first.id, id), &first_lease),
            (cheat_row, &cheat_lease),
            (row(second.id, id), &second_lease),
        ];
        let results = || -> Vec<Accepting<'_>> {
            batch
                .iter()
                .map(|(row, lease)| Accepting {
                    row: row.clone(),
                    tile: b"tile",
                    worker: &worker,
                    lease: &lease.id,
                    checked: false,
                })
                .collect()
        };
        // The last result's pricing fails: the first is not kept either.
        let failed = store.accept(&mut results(), |i, _, carry, _| match i {
            2 => Err(StoreError::Corrupt("priced wrong".into())),
            _ => Ok(Priced::new(Money::from_micros(22), carry)),
        });
        assert!(failed.is_err());
        assert!(store.ledger(id).unwrap().is_empty());
        assert!(store.lease(&first_lease.id).unwrap().unwrap().active);
        // Priced in order, each seeing the carry the one before left.
        let mut seen = Vec::new();
        let outcomes = store
            .accept(&mut results(), |i, _, carry, _| {
                seen.push((i, carry.units()));
                Ok(Priced::new(
                    Money::from_micros(22),
                    Carry::from_units(carry.units() + 5),
                ))
            })
            .unwrap();
        assert_eq!(
            outcomes,
            [
                Acceptance::Accepted,
                Acceptance::WorkerBlocked,
                Acceptance::Accepted
            ]
        );
        assert_eq!(seen, [(0, 0), (2, 5)]);
        assert_eq!(store.invoice_total(id).unwrap(), Money::from_micros(44));
        // The blocked worker's lease is left for the farm to end with the task's failure.
        assert!(store.lease(&cheat_lease.id).unwrap().unwrap().active);
        assert_eq!(store.tile(cheat_task.id).unwrap(), None);
        // A result of a job that ended since it was checked is not recorded.
        let (last, last_lease) = claim(3, "w3");
        assert!(
            store
                .finish_job(id, JobState::Failed, Some("cancelled"))
                .unwrap()
        );
        let late = accept_one(
            &store,
            &mut row(last.id, id),
            b"tile",
            &last_lease.id,
            false,
            |_, _| panic!("a result of an ended job is not priced"),
        );
        assert_eq!(late.unwrap(), Acceptance::Duplicate);
        assert_eq!(store.ledger(id).unwrap().len(), 2);
    }

    /// A job stopped at its cost limit stops in the transaction that records the charge reaching
    /// it: kept together or not at all, and nothing of the job after it in the batch recorded.
    fn a_result_that_reaches_the_cost_limit_ends_its_job_as_it_is_recorded(scratch: &Scratch) {
        let store = scratch.open();
        let (stopped, other) = (job(&store, 0), job(&store, 0));
        let pending = store.next_pending("", 8).unwrap();
        let of = |job: JobId| pending.iter().map(|(t, _)| t).filter(move |t| t.job == job);
        // Two results of the job that stops, then one of another job.
        let tasks: Vec<&TaskRecord> = of(stopped).take(2).chain(of(other).take(1)).collect();
        assert_eq!(tasks.len(), 3);
        let leases: Vec<Lease> = tasks
            .iter()
            .map(|task| {
                match store
                    .claim_alone(task.id, 1, "w1", "cpu", 2, false)
                    .unwrap()
                {
                    LeaseClaim::Granted(lease) => lease,
                    other => panic!("{other:?}"),
                }
            })
            .collect();
        let worker = worker();
        let results = || -> Vec<Accepting<'_>> {
            tasks
                .iter()
                .zip(&leases)
                .map(|(task, lease)| Accepting {
                    row: row(task.id, task.job),
                    tile: b"tile",
                    worker: &worker,
                    lease: &lease.id,
                    checked: false,
                })
                .collect()
        };
        let at_limit = |carry| Priced {
            ends_job: Some("stopped at its cost limit".into()),
            ..Priced::new(Money::from_micros(22), carry)
        };
        // The stop is rolled back with the batch.
        let failed = store.accept(&mut results(), |i, _, carry, _| match i {
            0 => Ok(at_limit(carry)),
            _ => Err(StoreError::Corrupt("priced wrong".into())),
        });
        assert!(failed.is_err());
        assert_eq!(store.job(stopped).unwrap().state, JobState::Running);
        let outcomes = store
            .accept(&mut results(), |i, _, carry, _| match i {
                0 => Ok(at_limit(carry)),
                1 => panic!("a result of a stopped job is not priced"),
                _ => Ok(Priced::new(Money::from_micros(22), carry)),
            })
            .unwrap();
        assert_eq!(
            outcomes,
            [
                Acceptance::Accepted,
                Acceptance::Duplicate,
                Acceptance::Accepted
            ]
        );
        let record = store.job(stopped).unwrap();
        assert_eq!(record.state, JobState::Failed);
        assert_eq!(record.reason.as_deref(), Some("stopped at its cost limit"));
        assert_eq!(store.ledger(stopped).unwrap().len(), 1);
        assert_eq!(store.job(other).unwrap().state, JobState::Running);
    }

    /// What the API, `/metrics` and billing read about the farm as a whole: counts, workers,
    /// work done, carries, waiting tenants, unclaimed tasks, reversals.
    fn the_farms_summaries_read_alike_on_both_engines(scratch: &Scratch) {
        let store = scratch.open();
        let quote = Quote {
            cost: Money::from_micros(1),
            seconds: None,
            samples: 1,
            probe_seconds_per_sample: 1e-6,
            work_hour_prices: [("cpu".to_owned(), Money::from_micros(1_000_000))].into(),
        };
        let id = quoted_job_of(&store, "", 0, 1, Some(&quote));
        job_of(&store, "t2", 0, 1);
        // Two results: one spot-checked, one not; a third task held. Each is priced from the
        // carry and invoice the one before left.
        let (first, lease) = claimed(&store);
        let done = |task: TaskId, lease: &Lease, checked, before: (Carry, i64)| {
            accept_one(
                &store,
                &mut row(task, id),
                b"tile",
                &lease.id,
                checked,
                |carry, invoiced| {
                    let invoiced = invoiced.total()?;
                    assert_eq!((carry, invoiced), (before.0, Money::from_micros(before.1)));
                    Ok(Priced::new(Money::from_micros(22), Carry::from_units(7)))
                },
            )
            .unwrap()
        };
        let accepted = done(first.id, &lease, true, (Carry::default(), 0));
        assert_eq!(accepted, Acceptance::Accepted);
        let (second, lease) = claimed(&store);
        let accepted = done(second.id, &lease, false, (Carry::from_units(7), 22));
        assert_eq!(accepted, Acceptance::Accepted);
        let (held, _) = claimed(&store);
        assert!(store.holds_scene("w1", SceneHash::of(b"")).unwrap());
        assert!(!store.holds_scene("w2", SceneHash::of(b"")).unwrap());

        let work_seconds = || {
            let work = store.work_done().unwrap();
            assert_eq!(work.len(), 1, "{work:?}");
            let (name, all, checked) = &work[0];
            assert_eq!(name, "w1");
            assert_eq!((all.class.as_str(), all.threads), ("cpu", 2));
            (all.work_seconds, checked.work_seconds)
        };
        let (all, checked) = work_seconds();
        assert!((all - 0.002).abs() < 1e-12, "{all}");
        assert!((checked - 0.001).abs() < 1e-12, "{checked}");

        // One task published long ago and unclaimed since; the held one was claimed.
        let queued = store
            .next_pending("", 8)
            .unwrap()
            .into_iter()
            .map(|(t, _)| t)
            .find(|t| t.id != held.id)
            .unwrap();
        store
            .mark_queued(&[first_attempt(queued.id), first_attempt(held.id)], 100.0)
            .unwrap();
        let unclaimed: Vec<TaskId> = store
            .unclaimed_queued(200.0)
            .unwrap()
            .into_iter()
            .map(|(t, _)| t.id)
            .collect();
        assert_eq!(unclaimed, [queued.id]);
        assert!(store.unclaimed_queued(50.0).unwrap().is_empty());
        // Its tasks all done or queued, the first tenant waits for nothing to be published.
        assert_eq!(
            store.waiting_windows().unwrap(),
            [(any_worker("t2"), vec![])]
        );

        assert!(store.stop_claims("w1", "too slow").unwrap());
        assert!(!store.stop_claims("w1", "too slow").unwrap());
        let workers = store.workers(0.0).unwrap();
        assert_eq!(workers.len(), 1);
        let w = &workers[0];
        assert_eq!((w.tasks_done, w.checks_passed, w.alive), (2, 1, true));
        assert_eq!(w.blocked.as_deref(), Some("too slow"));
        assert_eq!(w.current_task, Some(held.id));

        // Blocking reverses the unchecked charge only.
        assert_eq!(store.block_worker("w1", "caught").unwrap().0, 1);
        let reversals = store.reversals(id).unwrap();
        assert_eq!(reversals.len(), 1);
        assert_eq!(
            (reversals[0].task, reversals[0].amount),
            (second.id, Money::from_micros(22))
        );
        // Its reversed work no longer measures it.
        let (all, checked) = work_seconds();
        assert!((all - 0.001).abs() < 1e-12, "{all}");
        assert!((checked - 0.001).abs() < 1e-12, "{checked}");
        // Its reversed task pending again, the first tenant waits too, with two in the broker.
        assert_eq!(
            store.waiting_windows().unwrap(),
            [(any_worker(""), vec![(id, 2)]), (any_worker("t2"), vec![])]
        );

        let counts = store.counts().unwrap();
        let map = |pairs: &[(&str, i64)]| -> BTreeMap<String, i64> {
            pairs.iter().map(|&(k, v)| (k.to_owned(), v)).collect()
        };
        assert_eq!(counts.jobs, [("running".to_owned(), 2)].into());
        assert_eq!(counts.accepted, [("cpu".to_owned(), 2)].into());
        assert_eq!(counts.billed, map(&[("cpu", 44)]));
        assert_eq!(counts.reversed, map(&[("cpu", 22)]));
        assert_eq!(counts.tasks.values().sum::<u64>(), 8);
        assert_eq!(counts.tasks.get("done"), Some(&1), "{:?}", counts.tasks);
    }

    fn a_job_left_half_created_is_failed_by_the_active_coordinator_only(scratch: &Scratch) {
        let store = scratch.open();
        let id = job(&store, 0);
        // As if its tasks were still going in.
        store
            .db()
            .execute("UPDATE jobs SET ready = 0 WHERE id = ?1", params![id.0])
            .unwrap();
        // Opening the store (a standby, `tessera token`) must not fail a job being created.
        let other = scratch.open();
        assert_eq!(other.job(id).unwrap().state, JobState::Running);
        assert_eq!(store.fail_interrupted_jobs().unwrap(), 1);
        let failed = other.job(id).unwrap();
        assert_eq!(failed.state, JobState::Failed);
        assert!(failed.reason.unwrap().contains("submit it again"));
        assert_eq!(store.fail_interrupted_jobs().unwrap(), 0);
    }

    /// A job whose tasks cannot all be stored (a trigger refuses them, as a full disk would) is
    /// failed at once with why, not left running without them until the next start.
    #[test]
    fn a_job_whose_tasks_cannot_be_stored_is_failed_at_once() {
        let scratch = Scratch::sqlite();
        let store = scratch.open();
        store
            .db()
            .batch(
                "CREATE TRIGGER full_disk BEFORE INSERT ON tasks
                 BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END",
            )
            .unwrap();
        let spec = spec();
        let plan = TaskPlan::new(spec.frames.clone(), spec.resolution, spec.tile_size);
        let new = NewJob {
            scene: SceneHash::of(b"s"),
            scene_bytes: 1,
            scene_name: "s.gltf",
            spec: &spec,
            priority: 0,
            tenant: "studio",
            max_cost: None,
            quote: None,
            trust: Trust::Any,
        };
        let e = store.create_job(&new, plan.tasks()).unwrap_err();
        assert!(e.to_string().contains("disk is full"), "{e}");
        let jobs = store.jobs(None, None, JobPage::LATEST).unwrap().jobs;
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].state, JobState::Failed);
        let why = jobs[0].reason.as_deref().unwrap_or_default();
        assert!(
            why.contains("could not be created") && why.contains("disk is full"),
            "{why}"
        );
    }

    /// A job of four tasks (two frames of two tiles) for `tenant`, its scene `bytes` long.
    fn job_of(store: &Store, tenant: &str, priority: i32, bytes: u64) -> JobId {
        quoted_job_of(store, tenant, priority, bytes, None)
    }

    /// As [`job_of`], quoted with `quote`.
    fn quoted_job_of(
        store: &Store,
        tenant: &str,
        priority: i32,
        bytes: u64,
        quote: Option<&Quote>,
    ) -> JobId {
        let spec = spec();
        let plan = TaskPlan::new(spec.frames.clone(), spec.resolution, spec.tile_size);
        let new = NewJob {
            scene: SceneHash::of(tenant.as_bytes()),
            scene_bytes: bytes,
            scene_name: "s.gltf",
            spec: &spec,
            priority,
            tenant,
            max_cost: None,
            quote,
            trust: Trust::Any,
        };
        store.create_job(&new, plan.tasks()).unwrap()
    }

    fn job(store: &Store, priority: i32) -> JobId {
        job_of(store, "", priority, 1)
    }

    /// The state `task` (of a job of [`spec`]) is in.
    fn state_of(store: &Store, task: TaskId) -> TaskState {
        store.task(task, spec().resolution).unwrap().unwrap().state
    }

    /// A new task, as a top-up publishes its first attempt.
    fn first_attempt(task: TaskId) -> Published {
        Published {
            task,
            attempts: 0,
            give_backs: 0,
        }
    }

    /// A published attempt confirmed after that attempt failed leaves its task pending, for
    /// the next attempt to go out; the attempt now due is marked queued.
    fn a_task_whose_published_attempt_failed_meanwhile_stays_pending(scratch: &Scratch) {
        let store = scratch.open();
        job(&store, 0);
        let (task, _) = store.next_pending("", 1).unwrap().remove(0);
        store
            .record_failure(task.id, 1, "out of memory", None, None)
            .unwrap();
        store.mark_queued(&[Published::of(&task)], 1.0).unwrap();
        assert_eq!(state_of(&store, task.id), TaskState::Pending);
        let (again, _) = store.next_pending("", 1).unwrap().remove(0);
        store.mark_queued(&[Published::of(&again)], 1.0).unwrap();
        assert_eq!(state_of(&store, task.id), TaskState::Queued);
    }

    /// A task given back for other workers by a claim that came before its publication was
    /// confirmed stays pending: that publication's message is spent. A later one marks it.
    fn a_task_given_back_before_its_publication_was_confirmed_stays_pending(scratch: &Scratch) {
        let store = scratch.open();
        job(&store, 0);
        let (task, _) = store.next_pending("", 1).unwrap().remove(0);
        let claim = |attempt| {
            let claimant = Claimant {
                worker: "saboteur",
                device_class: "cpu",
                threads: 2,
                verified: false,
                others_alive_since: Some(0.0),
            };
            store
                .claim(
                    &[TaskAttempt {
                        task: task.id,
                        attempt,
                    }],
                    &claimant,
                )
                .unwrap()
                .remove(0)
        };
        let LeaseClaim::Granted(lease) = claim(1) else {
            panic!("the first claim is granted");
        };
        store
            .record_failure(
                task.id,
                1,
                "sabotage",
                Some((&lease.id, LeaseEnd::Done)),
                None,
            )
            .unwrap();
        store.announce_worker(&worker()).unwrap();
        // Read and published before the claim refused comes; confirmed after it.
        let (published, _) = store.next_pending("", 1).unwrap().remove(0);
        assert!(matches!(claim(2), LeaseClaim::Refused(_)));
        store
            .mark_queued(&[Published::of(&published)], 1.0)
            .unwrap();
        assert_eq!(state_of(&store, task.id), TaskState::Pending);
        let (again, _) = store.next_pending("", 1).unwrap().remove(0);
        store.mark_queued(&[Published::of(&again)], 1.0).unwrap();
        assert_eq!(state_of(&store, task.id), TaskState::Queued);
    }

    /// The window of `tenant`'s jobs that any worker may render.
    fn any_worker(tenant: &str) -> Window {
        Window {
            tenant: tenant.into(),
            trust: Trust::Any,
        }
    }

    /// The next pending task, claimed by worker "w1"; returns it and its lease.
    fn claimed(store: &Store) -> (TaskRecord, Lease) {
        let (task, _) = store.next_pending("", 1).unwrap().remove(0);
        match store
            .claim_alone(task.id, 1, "w1", "cpu", 2, false)
            .unwrap()
        {
            LeaseClaim::Granted(lease) => (task, lease),
            other => panic!("claim refused: {other:?}"),
        }
    }

    /// Accepts the result of `task` under `lease`, unchecked, as [`row`] bills it.
    fn accept(store: &Store, task: TaskId, job: JobId, lease: &Lease) -> Acceptance {
        accept_one(
            store,
            &mut row(task, job),
            b"tile",
            &lease.id,
            false,
            |_, _| Ok(Priced::new(Money::from_micros(22), Carry::default())),
        )
        .unwrap()
    }

    /// Accepts one result of worker "w1", as a batch of one.
    fn accept_one(
        store: &Store,
        row: &mut LedgerRow,
        tile: &[u8],
        lease: &str,
        checked: bool,
        charge: impl FnOnce(Carry, Invoiced<'_>) -> Result<Priced, StoreError>,
    ) -> Result<Acceptance, StoreError> {
        let worker = worker();
        let mut results = [Accepting {
            row: row.clone(),
            tile,
            worker: &worker,
            lease,
            checked,
        }];
        let mut charge = Some(charge);
        let outcome = store.accept(&mut results, |_, _, carry, invoiced| {
            charge.take().expect("one result, priced once")(carry, invoiced)
        })?;
        *row = results[0].row.clone();
        Ok(outcome[0])
    }

    fn row(task: TaskId, job: JobId) -> LedgerRow {
        LedgerRow {
            task,
            job,
            frame: 0,
            tile: String::new(),
            worker: "w1".into(),
            device_class: "cpu".into(),
            threads: 2,
            render_micros: 1000,
            samples: 32,
            work_micros: 1000,
            hourly: Money::from_micros(80_000),
            charge: Money::from_micros(22),
        }
    }

    fn jobs_and_tasks_survive_reopening(scratch: &Scratch) {
        let id = {
            let store = scratch.open();
            job(&store, 0)
        };
        let store = scratch.open();
        let record = store.job(id).unwrap();
        assert_eq!(record.spec, spec());
        assert_eq!(record.state, JobState::Running);
        assert_eq!((record.tasks_total, record.tasks_done), (4, 0));
        assert_eq!(store.running_jobs().unwrap(), [id]);
        assert!(matches!(
            store.job(JobId(99)),
            Err(StoreError::UnknownJob(_))
        ));
    }

    #[test]
    fn a_data_directory_from_an_earlier_version_is_upgraded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("farm.db");
        let id = {
            let store = Store::open(&path).unwrap();
            let id = job(&store, 0);
            for (table, column) in [
                ("tasks", "queued_at"),
                ("jobs", "tenant"),
                ("jobs", "max_cost_micros"),
                ("jobs", "quote"),
            ] {
                store
                    .db()
                    .execute(
                        &format!("ALTER TABLE {table} DROP COLUMN {column}"),
                        params![],
                    )
                    .unwrap();
            }
            // The ledger as it was: one row per task, ever, and no work column.
            store
                .db()
                .batch(
                    "PRAGMA foreign_keys = OFF;
                     DROP TABLE ledger_reversals; DROP TABLE ledger;
                     CREATE TABLE ledger (
                         id INTEGER PRIMARY KEY AUTOINCREMENT,
                         task_id INTEGER NOT NULL UNIQUE REFERENCES tasks(id),
                         job_id INTEGER NOT NULL REFERENCES jobs(id),
                         worker TEXT NOT NULL, device_class TEXT NOT NULL,
                         threads INTEGER NOT NULL, render_micros INTEGER NOT NULL,
                         samples INTEGER NOT NULL, hourly_micros INTEGER NOT NULL,
                         charge_micros INTEGER NOT NULL, recorded_at REAL NOT NULL);
                     INSERT INTO ledger (task_id, job_id, worker, device_class, threads,
                         render_micros, samples, hourly_micros, charge_micros, recorded_at)
                     SELECT id, job_id, 'w0', 'cpu', 2, 1500, 32, 80000, 33, 0
                     FROM tasks ORDER BY id DESC LIMIT 1;
                     PRAGMA foreign_keys = ON;",
                )
                .unwrap();
            // Before frame counts were kept.
            store
                .db()
                .batch(
                    "DROP TRIGGER frame_tiles_planned; DROP TRIGGER frame_tiles_done;
                     DROP TABLE frame_tiles; UPDATE tasks SET state = 'done' WHERE id = 1;",
                )
                .unwrap();
            id
        };
        let store = Store::open(&path).unwrap();
        let next = store.next_pending("", 1).unwrap();
        assert_eq!(next[0].1, id);
        store
            .mark_queued(&[first_attempt(next[0].0.id)], 5.0)
            .unwrap();
        let queued_at: f64 = store
            .db()
            .query_row(
                "SELECT queued_at FROM tasks WHERE id = ?1",
                params![next[0].0.id.0],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(queued_at, 5.0);
        let upgraded = store.job(id).unwrap();
        assert_eq!(upgraded.tenant, "");
        assert_eq!((upgraded.tasks_total, upgraded.tasks_done), (4, 1));
        // The old charge stands, its work its render time.
        let ledger = store.ledger(id).unwrap();
        assert_eq!(ledger.len(), 1);
        assert_eq!(
            (ledger[0].work_micros, ledger[0].charge),
            (1500, Money::from_micros(33))
        );
        assert_eq!(store.invoice_total(id).unwrap(), Money::from_micros(33));
    }

    fn pending_tasks_come_by_priority_then_age_within_each_tenant(scratch: &Scratch) {
        let store = scratch.open();
        let low = job(&store, 0);
        let high = job(&store, 5);
        let other = job_of(&store, "b", 9, 1);
        let next = store.next_pending("", 6).unwrap();
        let jobs: Vec<JobId> = next.iter().map(|(_, j)| *j).collect();
        assert_eq!(jobs, [high, high, high, high, low, low]);
        let ids: Vec<Published> = next.iter().map(|(t, _)| first_attempt(t.id)).collect();
        store.mark_queued(&ids, 100.0).unwrap();
        let waiting = store.waiting_windows().unwrap();
        assert_eq!(
            waiting,
            [
                (any_worker(""), vec![(low, 2), (high, 4)]),
                (any_worker("b"), vec![])
            ]
        );
        let jobs = |tenant| -> Vec<JobId> {
            let pending = store.pending(&any_worker(tenant), 10).unwrap();
            pending.into_iter().map(|(_, j)| j).collect()
        };
        assert_eq!(jobs("b"), [other; 4]);
        assert_eq!(jobs(""), [low; 2]);
        assert_eq!(store.next_pending("b", 10).unwrap().len(), 4);
        assert!(
            store
                .next_pending("b", 10)
                .unwrap()
                .iter()
                .all(|(_, j)| *j == other)
        );
        assert_eq!(store.next_pending("", 10).unwrap().len(), 2);
        store
            .finish_job(low, JobState::Cancelled, Some("by user"))
            .unwrap();
        assert_eq!(
            store.waiting_windows().unwrap(),
            [(any_worker("b"), vec![])]
        );
        assert!(store.next_pending("", 10).unwrap().is_empty());
    }

    fn a_tenants_verified_jobs_wait_in_a_window_of_their_own(scratch: &Scratch) {
        let store = scratch.open();
        let spec = spec();
        let plan = TaskPlan::new(spec.frames.clone(), spec.resolution, spec.tile_size);
        let verified = store
            .create_job(
                &NewJob {
                    scene: SceneHash::of(b"verified"),
                    scene_bytes: 1,
                    scene_name: "s.gltf",
                    spec: &spec,
                    priority: 9,
                    tenant: "a",
                    max_cost: None,
                    quote: None,
                    trust: Trust::Verified,
                },
                plan.tasks(),
            )
            .unwrap();
        let open = job_of(&store, "a", 0, 1);
        let window = Window {
            tenant: "a".into(),
            trust: Trust::Verified,
        };
        let queued: Vec<Published> = store
            .pending(&window, 10)
            .unwrap()
            .into_iter()
            .map(|(t, j)| {
                assert_eq!(j, verified);
                first_attempt(t)
            })
            .collect();
        assert_eq!(queued.len(), 4);
        store.mark_queued(&queued, 1.0).unwrap();
        // The verified job's tasks all in the broker, waiting for a verified worker, fill their
        // own window: the job any worker may render still has its pending tasks and its room.
        assert_eq!(
            store.waiting_windows().unwrap(),
            [(any_worker("a"), vec![])]
        );
        let pending: Vec<JobId> = store
            .pending(&any_worker("a"), 10)
            .unwrap()
            .into_iter()
            .map(|(_, j)| j)
            .collect();
        assert_eq!(pending, [open; 4]);
        store
            .mark_queued(
                &[first_attempt(
                    store.pending(&any_worker("a"), 1).unwrap()[0].0,
                )],
                1.0,
            )
            .unwrap();
        assert_eq!(
            store.waiting_windows().unwrap(),
            [(any_worker("a"), vec![(open, 1)])]
        );
    }

    fn a_task_is_billed_once_under_its_lease_and_ledger_rows_are_immutable(scratch: &Scratch) {
        let store = scratch.open();
        let id = job(&store, 0);
        let (task, lease) = claimed(&store);
        let accept = || {
            accept_one(
                &store,
                &mut row(task.id, id),
                b"tile",
                &lease.id,
                false,
                |_, _| Ok(Priced::new(Money::from_micros(22), Carry::default())),
            )
            .unwrap()
        };
        assert_eq!(accept(), Acceptance::Accepted);
        assert_eq!(accept(), Acceptance::LeaseEnded);
        let ledger = store.ledger(id).unwrap();
        assert_eq!(ledger.len(), 1);
        assert_eq!(ledger[0].tile, "4x4+0+0");
        assert_eq!(store.invoice_total(id).unwrap(), Money::from_micros(22));
        assert_eq!(store.workers(0.0).unwrap()[0].tasks_done, 1);
        let db = store.db();
        // Refused for good on both engines: never retried.
        let update = db
            .execute("UPDATE ledger SET charge_micros = 0", params![])
            .unwrap_err();
        assert!(update.is_permanent() && update.to_string().contains("never updated"));
        let delete = db.execute("DELETE FROM ledger", params![]).unwrap_err();
        assert!(delete.is_permanent() && delete.to_string().contains("never deleted"));
        let second_row = db.execute(
            "INSERT INTO ledger (task_id, job_id, worker, device_class, threads, render_micros,
                                 samples, work_micros, hourly_micros, charge_micros, recorded_at)
             VALUES (?1, ?2, 'x', 'cpu', 1, 1, 1, 1, 1, 1, 0)",
            params![task.id.0, id.0],
        );
        let refused = second_row.unwrap_err();
        assert!(refused.is_permanent(), "{refused}");
        let refused = refused.to_string();
        assert!(refused.contains("one charge"), "{refused}");
        // A store from before the invoices' sums were kept gets them when it is opened.
        let forget = match db.dialect() {
            Dialect::Sqlite => {
                "DROP TRIGGER job_costs_charged; DROP TRIGGER job_costs_reversed;
                 DROP TABLE job_costs;"
            }
            Dialect::Postgres => "DROP TABLE job_costs",
        };
        db.batch(forget).unwrap();
        drop(db);
        drop(store);
        let reopened = scratch.open();
        assert_eq!(reopened.invoice_total(id).unwrap(), Money::from_micros(22));
    }

    fn a_blocked_workers_unverified_tasks_go_out_again_and_are_charged_once_more(
        scratch: &Scratch,
    ) {
        let store = scratch.open();
        let id = job(&store, 0);
        let (mut tasks, mut cheated) = (Vec::new(), Vec::new());
        for _ in 0..4 {
            let (task, lease) = claimed(&store);
            accept(&store, task.id, id, &lease);
            tasks.push(task);
            cheated.push(lease);
        }
        store.record_passed_check("w1", tasks[0].id).unwrap();
        for frame in [1, 2] {
            store.mark_frame_written(id, frame).unwrap();
        }
        assert_eq!(store.job(id).unwrap().tasks_done, 4);
        assert_eq!(store.block_worker("w1", "made up").unwrap(), (3, 3));
        assert_eq!(store.invoice_total(id).unwrap(), Money::from_micros(22));
        assert_eq!(store.job(id).unwrap().tasks_done, 1);
        assert!(!store.frame_ready(id, 1).unwrap());
        // Both frames hold a tile that goes out again: neither counts as written.
        for frame in [1, 2] {
            assert!(!store.frame_written(id, frame).unwrap());
        }
        assert!(!store.finish_job(id, JobState::Done, None).unwrap());
        let again: Vec<TaskId> = store
            .next_pending("", 10)
            .unwrap()
            .iter()
            .map(|(t, _)| t.id)
            .collect();
        assert_eq!(again, [tasks[1].id, tasks[2].id, tasks[3].id]);
        // The blocked worker claims nothing more.
        match store
            .claim_alone(tasks[1].id, 2, "w1", "cpu", 2, false)
            .unwrap()
        {
            LeaseClaim::Stopped(why) => assert!(why.contains("'w1' is blocked: made up"), "{why}"),
            other => panic!("a blocked worker was not stopped: {other:?}"),
        }
        // The next attempt follows the blocked worker's.
        let lease = match store
            .claim_alone(tasks[1].id, 2, "w2", "cpu", 2, false)
            .unwrap()
        {
            LeaseClaim::Granted(lease) => lease,
            other => panic!("{other:?}"),
        };
        let mut honest = row(tasks[1].id, id);
        honest.worker = "w2".into();
        accept_one(&store, &mut honest, b"again", &lease.id, false, |_, _| {
            Ok(Priced::new(Money::from_micros(22), Carry::default()))
        })
        .unwrap();
        // The tile rendered again replaces the cheater's.
        assert_eq!(store.tile(tasks[1].id).unwrap().unwrap(), b"again");
        assert_eq!(store.job(id).unwrap().tasks_done, 2);
        assert_eq!(store.ledger(id).unwrap().len(), 5);
        assert_eq!(store.invoice_total(id).unwrap(), Money::from_micros(44));
        // Two charges a page, each page with the reversals of its own charges (of the
        // cheater's second to fourth), and every page with the whole job's total.
        let (mut rows, mut reversals, mut shape, mut after) = (vec![], vec![], vec![], None);
        loop {
            let InvoicePage { invoice, next } =
                store.invoice(id, RowPage::new(after, 2).unwrap()).unwrap();
            assert_eq!(invoice.total, Money::from_micros(44));
            shape.push((invoice.rows.len(), invoice.reversals.len()));
            rows.extend(invoice.rows);
            reversals.extend(invoice.reversals);
            let Some(next) = next else { break };
            after = Some(next);
        }
        assert_eq!(shape, [(2, 1), (2, 2), (1, 0)]);
        assert_eq!(rows, store.ledger(id).unwrap());
        assert_eq!(reversals, store.reversals(id).unwrap());
        // A job's record carries the same total, as listings show it.
        assert_eq!(store.job(id).unwrap().cost, Money::from_micros(44));
        // A second block reverses nothing twice.
        assert_eq!(store.block_worker("w1", "again").unwrap(), (0, 0));
        // The cheater's reversed charge was no failure of its task: a worker failing the task
        // again is its only failer, counted while its failure is recorded and after.
        let failing = match store
            .claim_alone(tasks[2].id, 2, "w3", "cpu", 2, false)
            .unwrap()
        {
            LeaseClaim::Granted(lease) => lease,
            other => panic!("{other:?}"),
        };
        assert_eq!(store.task_failers(tasks[2].id, None).unwrap(), 0);
        assert_eq!(
            store.task_failers(tasks[2].id, Some(&failing.id)).unwrap(),
            1
        );
        let ended = Some((failing.id.as_str(), LeaseEnd::Done));
        store
            .record_failure(tasks[2].id, 2, "out of memory", ended, None)
            .unwrap();
        assert_eq!(store.task_failers(tasks[2].id, None).unwrap(), 1);
        // Nor does a blocked worker fail a task, even as its failure is recorded.
        assert_eq!(
            store
                .task_failers(tasks[3].id, Some(&cheated[3].id))
                .unwrap(),
            0
        );
        // A running job's tiles are its own; once it ends they are leftovers.
        assert!(store.ended_jobs_with_tiles().unwrap().is_empty());
        assert!(store.finish_job(id, JobState::Cancelled, None).unwrap());
        assert_eq!(store.ended_jobs_with_tiles().unwrap(), [id]);
        store.remove_tiles(id).unwrap();
        assert!(store.ended_jobs_with_tiles().unwrap().is_empty());
    }

    fn a_lease_is_granted_once_for_the_current_attempt_and_expires_unheard(scratch: &Scratch) {
        let store = scratch.open();
        job(&store, 0);
        let (task, lease) = claimed(&store);
        let refused = |attempt| match store
            .claim_alone(task.id, attempt, "w2", "h100", 1, false)
            .unwrap()
        {
            LeaseClaim::Refused(why) => why,
            other => panic!("task {} not refused: {other:?}", task.id),
        };
        assert!(refused(1).contains("holds it"), "{}", refused(1));
        // The holder asking again (its answer lost) gets its own lease back.
        assert_eq!(
            store
                .claim_alone(task.id, 1, "w1", "cpu", 2, false)
                .unwrap(),
            LeaseClaim::Granted(lease.clone())
        );
        assert!(refused(2).contains("stale"), "{}", refused(2));
        // Below the claim's own checks, the schema: one active lease per task, whoever inserts.
        let second = store.db().execute(
            "INSERT INTO leases (id, key, task_id, attempt, worker, device_class, threads,
                                 started_at, heartbeat_at, state)
             VALUES ('other', 'k', ?1, 1, 'w2', 'cpu', 1, 0, 0, 'active')",
            params![task.id.0],
        );
        assert!(second.is_err(), "a second active lease was stored");
        assert!(matches!(
            store
                .claim_alone(TaskId(999), 1, "w2", "cpu", 1, false)
                .unwrap(),
            LeaseClaim::Refused(_)
        ));
        assert_eq!(store.lease(&lease.id).unwrap().unwrap(), lease);
        // A heartbeat keeps the worker's leases it names, all of them when it names none, and
        // never another worker's.
        let named = std::slice::from_ref(&lease.id);
        assert_eq!(store.heartbeat("w1", Some(&[])).unwrap(), 0);
        assert_eq!(store.heartbeat("w2", Some(named)).unwrap(), 0);
        assert_eq!(store.heartbeat("w1", None).unwrap(), 1);
        assert_eq!(store.heartbeat("w1", Some(named)).unwrap(), 1);
        // What is no lease id of ours (PostgreSQL refuses NUL) keeps nothing, and fails nothing.
        let made_up = ["\0".to_owned(), lease.id.clone()];
        assert_eq!(store.heartbeat("w1", Some(&made_up)).unwrap(), 1);
        assert!(
            store
                .expired_leases(now() - 60.0, now() - 60.0)
                .unwrap()
                .is_empty()
        );
        // Heard from, but held too long.
        assert_eq!(
            store
                .expired_leases(now() - 60.0, now() + 1.0)
                .unwrap()
                .len(),
            1
        );
        let stale = store.expired_leases(now() + 1.0, 0.0).unwrap();
        assert_eq!(stale.len(), 1);
        // Expired with the failure of its attempt: the late result is then refused.
        store
            .record_failure(
                task.id,
                1,
                "gone",
                Some((&lease.id, LeaseEnd::Expired)),
                None,
            )
            .unwrap();
        assert!(!store.lease(&lease.id).unwrap().unwrap().active);
        assert_eq!(
            accept_one(
                &store,
                &mut row(task.id, lease.job),
                b"tile",
                &lease.id,
                false,
                |_, _| Ok(Priced::new(Money::from_micros(22), Carry::default())),
            )
            .unwrap(),
            Acceptance::LeaseEnded
        );
        assert!(matches!(
            store
                .claim_alone(task.id, 2, "w2", "cpu", 1, false)
                .unwrap(),
            LeaseClaim::Granted(_)
        ));
    }

    fn tokens_are_stored_as_hashes_and_revocable(scratch: &Scratch) {
        let store = scratch.open();
        let new = |role, tenant: Option<&str>| NewToken {
            role,
            tenant: tenant.map(str::to_owned),
            name: "ann".into(),
            device_class: None,
            threads: None,
            verified: false,
        };
        let (id, secret) = store.issue_token(&new(Role::Submitter, Some("a"))).unwrap();
        assert!(
            secret.starts_with("tsr_") && secret.len() >= 4 + 32,
            "{secret}"
        );
        let stored: String = store
            .db()
            .query_row("SELECT hash FROM tokens WHERE id = ?1", params![id], |r| {
                r.get(0)
            })
            .unwrap();
        assert!(!stored.contains(&secret[4..]));
        assert_eq!(
            store.authenticate(&secret).unwrap(),
            Principal::Submitter {
                name: "ann".into(),
                tenant: "a".into()
            }
        );
        assert!(matches!(
            store.authenticate("tsr_nope"),
            Err(TokenError::Invalid)
        ));
        assert!(store.revoke_token(id).unwrap());
        assert!(!store.revoke_token(id).unwrap());
        assert!(matches!(
            store.authenticate(&secret),
            Err(TokenError::Invalid)
        ));
        assert!(store.tokens().unwrap()[0].revoked);
        for bad in [
            new(Role::Submitter, None),
            new(Role::Admin, Some("a")),
            new(Role::Submitter, Some("a\u{1b}[31m")),
            NewToken {
                threads: Some(0),
                ..new(Role::Worker, None)
            },
            NewToken {
                device_class: Some("h100".into()),
                ..new(Role::Admin, None)
            },
        ] {
            assert!(
                matches!(store.issue_token(&bad), Err(TokenError::BadRequest(_))),
                "{bad:?}"
            );
        }
        let (_, worker) = store
            .issue_token(&NewToken {
                device_class: Some("H100".into()),
                threads: Some(2),
                ..new(Role::Worker, None)
            })
            .unwrap();
        assert_eq!(
            store.authenticate(&worker).unwrap(),
            Principal::Worker {
                name: "ann".into(),
                device_class: "h100".into(),
                threads: 2,
                verified: false,
            }
        );
    }

    fn a_jobs_tasks_are_listed_by_state_and_a_worker_is_drained_and_readmitted(scratch: &Scratch) {
        let store = scratch.open();
        let id = job(&store, 0);
        let listed = |state, after, limit| {
            store
                .tasks(id, state, RowPage::new(after, limit).unwrap())
                .unwrap()
        };
        let all = listed(None, None, RowPage::MAX);
        assert_eq!(all.next, None);
        let all = all.tasks;
        assert_eq!(all.len(), 4);
        assert!(all.iter().all(|t| t.state == TaskState::Pending));
        assert_eq!(listed(Some(TaskState::Pending), None, 4).tasks, all);
        assert!(listed(Some(TaskState::Failed), None, 4).tasks.is_empty());
        // A page at a time, in the order they render, the last page naming no next one.
        let first = listed(None, None, 3);
        assert_eq!(first.tasks, all[..3]);
        assert_eq!(first.next, Some(all[2].id));
        let after = Some(all[2].id.0);
        let second = listed(Some(TaskState::Pending), after, 3);
        assert_eq!((second.tasks, second.next), (all[3..].to_vec(), None));
        assert_eq!(listed(None, Some(all[3].id.0), 3).tasks, []);
        for (after, limit) in [(None, 0), (None, RowPage::MAX + 1), (Some(-1), 1)] {
            assert_eq!(RowPage::new(after, limit), None, "{after:?} {limit}");
        }
        let (task, lease) = claimed(&store);
        let worker = WorkerInfo {
            name: "w1".into(),
            device: tessera_protocol::device::Device {
                backend: "cpu".into(),
                name: "CPU".into(),
                class: "cpu".into(),
                threads: 2,
            },
        };
        store.announce_worker(&worker).unwrap();
        assert_eq!(store.workers(0.0).unwrap()[0].current_task, Some(task.id));

        assert!(store.drain_worker("w1").unwrap());
        assert!(!store.drain_worker("w1").unwrap(), "drained twice");
        assert_eq!(
            store.reputation("w1").unwrap().blocked.as_deref(),
            Some(reputation::DRAINED)
        );

        assert!(store.readmit_worker("w1").unwrap());
        assert!(!store.readmit_worker("w1").unwrap(), "readmitted twice");
        assert!(!store.readmit_worker("nobody").unwrap());
        assert_eq!(store.reputation("w1").unwrap().blocked, None);
        // Caught after a passed check, then let back: the failure stays on its record, and its
        // results are all checked again.
        store.record_passed_check("w1", task.id).unwrap();
        store.block_worker("w1", "caught").unwrap();
        let finishes = || leases::finish_with_result(&store.db(), &lease.id).unwrap();
        assert!(!finishes(), "a caught worker's result is refused");
        assert!(store.readmit_worker("w1").unwrap());
        assert_eq!(
            store.reputation("w1").unwrap(),
            reputation::Reputation {
                checks_passed: 1,
                checks_failed: 1,
                consecutive_valid: 0,
                blocked: None,
            }
        );
        // Drained after that: what it holds still counts, as any drained worker's.
        assert!(store.drain_worker("w1").unwrap());
        assert!(finishes(), "a drained worker's result counts");
    }

    fn each_tenant_sees_its_jobs_and_pays_for_its_scenes(scratch: &Scratch) {
        let store = scratch.open();
        let a = job_of(&store, "a", 0, 1000);
        let a2 = job_of(&store, "a", 0, 1000);
        let b = job_of(&store, "b", 0, 5);
        assert_eq!(
            store
                .jobs(Some("b"), None, JobPage::LATEST)
                .unwrap()
                .jobs
                .iter()
                .map(|j| j.id)
                .collect::<Vec<_>>(),
            [b]
        );
        // Newest first, a page at a time.
        let page = |before, limit| {
            let listed = store
                .jobs(None, None, JobPage::new(before, limit).unwrap())
                .unwrap();
            (
                listed.jobs.iter().map(|j| j.id).collect::<Vec<_>>(),
                listed.more,
            )
        };
        assert_eq!(page(None, 3), (vec![b, a2, a], false));
        assert_eq!(page(None, 2), (vec![b, a2], true));
        assert_eq!(page(Some(a2), 2), (vec![a], false));
        assert_eq!(page(Some(a), 1), (vec![], false));
        assert!(JobPage::new(None, 0).is_none() && JobPage::new(None, JobPage::MAX + 1).is_none());
        assert_eq!(
            store
                .jobs(None, Some(JobState::Running), JobPage::LATEST)
                .unwrap()
                .jobs
                .len(),
            3
        );
        assert!(
            store
                .jobs(None, Some(JobState::Done), JobPage::LATEST)
                .unwrap()
                .jobs
                .is_empty()
        );
        assert_eq!(store.job(a).unwrap().tenant, "a");
        // The same scene twice counts once.
        assert_eq!(store.tenant_scene_bytes("a").unwrap(), 1000);
        assert_eq!(store.tenant_scene_bytes("b").unwrap(), 5);
        assert_eq!(store.tenant_scene_bytes("c").unwrap(), 0);
        // `job_of` names the scene after its tenant.
        let of_a = SceneHash::of(b"a");
        assert!(store.tenant_stores_scene("a", of_a).unwrap());
        assert!(!store.tenant_stores_scene("b", of_a).unwrap());
    }

    fn a_frame_is_ready_once_its_last_tile_is_kept_and_a_sync_flushes_only_after_changes(
        scratch: &Scratch,
    ) {
        let store = scratch.open();
        let id = job(&store, 0);
        let flushes = |store: &Store| -> i64 {
            store
                .db()
                .query_row("SELECT n FROM sync_point", params![], |r| r.get(0))
                .unwrap()
        };
        let mut kept = Vec::new();
        for _ in 0..2 {
            assert!(!store.frame_ready(id, 1).unwrap());
            let (task, lease) = claimed(&store);
            assert_eq!(task.task.frame, 1);
            accept(&store, task.id, id, &lease);
            assert_eq!(store.tile(task.id).unwrap().unwrap(), b"tile");
            kept.push(task.id);
        }
        assert!(store.frame_ready(id, 1).unwrap());
        assert!(!store.frame_ready(id, 2).unwrap());
        store.mark_frame_written(id, 1).unwrap();
        assert!(!store.frame_ready(id, 1).unwrap());
        // SQLite flushes at a sync; PostgreSQL flushed each commit already.
        let before = flushes(&store);
        let flush = i64::from(store.db().dialect() == Dialect::Sqlite);
        store.sync().unwrap();
        assert_eq!(flushes(&store), before + flush);
        store.sync().unwrap();
        assert_eq!(
            flushes(&store),
            before + flush,
            "nothing changed since the last sync"
        );
        store.remove_tiles(id).unwrap();
        assert!(kept.iter().all(|&t| store.tile(t).unwrap().is_none()));
    }

    fn progress_counts_done_tiles_per_frame_and_failures_end_jobs(scratch: &Scratch) {
        let store = scratch.open();
        let id = job(&store, 0);
        let res = spec().resolution;
        let (tasks, total) = store.frame_tasks(id, 2, res).unwrap();
        assert_eq!((tasks.len(), total), (0, 2));
        let (first, lease) = claimed(&store);
        accept_one(
            &store,
            &mut row(first.id, id),
            b"tile",
            &lease.id,
            false,
            |_, _| Ok(Priced::new(Money::from_micros(22), Carry::default())),
        )
        .unwrap();
        store.mark_frame_written(id, 1).unwrap();
        let progress = store.frame_progress(id).unwrap();
        assert_eq!(
            progress[0],
            FrameProgress {
                frame: 1,
                tiles_done: 1,
                tiles_total: 2,
                written: true
            }
        );
        assert_eq!(progress[1].tiles_done, 0);
        store
            .record_failure(first.id, 1, "boom", None, None)
            .unwrap();
        let again = store.task(first.id, res).unwrap().unwrap();
        assert_eq!((again.state, again.attempts), (TaskState::Done, 1));
        assert_eq!(store.job(id).unwrap().state, JobState::Running);
        let second = store.next_pending("", 1).unwrap().remove(0).0;
        store
            .record_failure(second.id, 3, "boom", None, Some("given up"))
            .unwrap();
        let failed = store.task(second.id, res).unwrap().unwrap();
        assert_eq!((failed.state, failed.attempts), (TaskState::Failed, 3));
        let job = store.job(id).unwrap();
        assert_eq!(
            (job.state, job.reason.as_deref()),
            (JobState::Failed, Some("given up"))
        );
    }
}
