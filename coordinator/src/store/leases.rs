//! Leases: which worker holds which attempt of which task, since when, and whether it is still
//! alive. A result counts only under an active lease; a lease whose worker stops heartbeating
//! expires and its task goes to someone else.

use std::collections::HashSet;

use tessera_protocol::auth::Trust;
use tessera_protocol::id::{JobId, TaskId};
use tessera_protocol::lease::TaskAttempt;
use tessera_protocol::scene::SceneHash;

use super::database::{Db, DbError, Dialect, Row, params};
use super::tokens::random_hex;
use super::{Store, StoreError, now};

/// Random bytes in a lease id, which is written in hex.
const LEASE_ID_BYTES: usize = 16;

/// Whether `id` has the form of the lease ids this store makes.
fn is_lease_id(id: &str) -> bool {
    id.len() == 2 * LEASE_ID_BYTES && id.bytes().all(|b| b.is_ascii_hexdigit())
}

pub(super) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS leases (
    id TEXT PRIMARY KEY,
    key TEXT NOT NULL,
    task_id INTEGER NOT NULL REFERENCES tasks(id),
    attempt INTEGER NOT NULL,
    worker TEXT NOT NULL,
    device_class TEXT NOT NULL,
    threads INTEGER NOT NULL,
    started_at REAL NOT NULL,
    heartbeat_at REAL NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('active', 'done', 'expired'))
);
CREATE INDEX IF NOT EXISTS leases_by_state ON leases (state, heartbeat_at);
CREATE INDEX IF NOT EXISTS leases_by_task ON leases (task_id, state);
-- One active attempt per task, even if two coordinators ever both thought they were active.
-- A store from before the rule keeps the newest of any two.
UPDATE leases SET state = 'expired' WHERE state = 'active' AND EXISTS (
    SELECT 1 FROM leases l WHERE l.task_id = leases.task_id AND l.state = 'active'
      AND (l.started_at > leases.started_at OR (l.started_at = leases.started_at AND l.id > leases.id)));
CREATE UNIQUE INDEX IF NOT EXISTS leases_one_active ON leases (task_id) WHERE state = 'active';
"#;

/// One attempt of a task, held by one worker.
#[derive(Clone, Debug, PartialEq)]
pub struct Lease {
    pub id: String,
    /// Signs the worker's result; handed out once, over the authenticated API.
    pub key: String,
    pub task: TaskId,
    /// The task's job.
    pub job: JobId,
    pub attempt: u32,
    pub worker: String,
    /// From the worker's token: what the work is priced as.
    pub device_class: String,
    pub threads: u32,
    pub started_at: f64,
    pub active: bool,
}

/// How a lease ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseEnd {
    /// Its worker reported a result.
    Done,
    /// Its worker stopped heartbeating.
    Expired,
}

/// Ends an active lease, inside the caller's transaction; false when it had ended already.
pub(super) fn finish(db: &Db, id: &str, end: LeaseEnd) -> Result<bool, StoreError> {
    let state = match end {
        LeaseEnd::Done => "done",
        LeaseEnd::Expired => "expired",
    };
    let changed = db.execute(
        "UPDATE leases SET state = ?2 WHERE id = ?1 AND state = 'active'",
        params![id, state],
    )?;
    Ok(changed == 1)
}

/// Ends an active lease with its result, inside the caller's transaction, unless its worker
/// was caught cheating; false when it had ended already or its worker was caught. (A drained
/// worker's, or one whose claims were stopped, still counts.)
pub(super) fn finish_with_result(db: &Db, id: &str) -> Result<bool, StoreError> {
    let changed = db.execute(
        "UPDATE leases SET state = 'done' WHERE id = ?1 AND state = 'active'
             AND NOT EXISTS (SELECT 1 FROM reputation r
                             WHERE r.worker = leases.worker AND r.caught = 1)",
        params![id],
    )?;
    Ok(changed == 1)
}

/// What a claim is checked against, read in one statement.
struct Checked {
    task_state: String,
    failed_attempts: u32,
    job_state: String,
    job: i64,
    trust: String,
    blocked: Option<String>,
    /// The task's active lease: its id, worker and attempt.
    held: Option<(String, String, u32)>,
}

/// Who claims tasks: a worker, as its token describes it.
#[derive(Clone, Copy, Debug)]
pub struct Claimant<'a> {
    pub worker: &'a str,
    /// What its work is priced as.
    pub device_class: &'a str,
    pub threads: u32,
    /// Whether it may render the tasks of jobs that take verified workers only.
    pub verified: bool,
    /// Where workers are not trusted: another worker heard from since this time takes a task
    /// this one already failed, rather than it.
    pub others_alive_since: Option<f64>,
}

/// What a claim came to.
#[derive(Clone, Debug, PartialEq)]
pub enum LeaseClaim {
    Granted(Lease),
    Refused(String),
    /// The worker may claim nothing, for this reason (blocked or drained).
    Stopped(String),
}

/// Where lease `l` ended without its worker's result charged for its task: that worker failed
/// the task. A charge reversed later (its worker caught cheating elsewhere, the task rendered
/// again) was no failure of this task.
macro_rules! failed_lease {
    () => {
        "l.state <> 'active' AND NOT EXISTS
         (SELECT 1 FROM ledger g WHERE g.task_id = l.task_id AND g.worker = l.worker)"
    };
}

/// Leases with their tasks' jobs, as `read` reads them, where `$filter` holds; one string at
/// compile time, as the statement cache keys them.
macro_rules! leases_where {
    ($filter:literal) => {
        concat!(
            "SELECT l.*, t.job_id FROM leases l JOIN tasks t ON t.id = l.task_id WHERE ",
            $filter
        )
    };
}

fn read(r: &Row) -> Result<Lease, DbError> {
    Ok(Lease {
        id: r.get("id")?,
        key: r.get("key")?,
        task: TaskId(r.get("task_id")?),
        job: JobId(r.get("job_id")?),
        attempt: r.get("attempt")?,
        worker: r.get("worker")?,
        device_class: r.get("device_class")?,
        threads: r.get("threads")?,
        started_at: r.get("started_at")?,
        active: r.get::<String>("state")? == "active",
    })
}

impl Store {
    /// Grants `worker` a lease on each of `tasks` (an attempt of a task each), in one
    /// transaction, unless the worker is blocked, the task is done, failed or held under a
    /// live lease, its job ended or takes verified workers only and the worker is not one, or
    /// the attempt is not the task's current one, or it is of another job than the tasks
    /// granted before it: a claim for each, in their order.
    pub fn claim(
        &self,
        tasks: &[TaskAttempt],
        claimant: &Claimant,
    ) -> Result<Vec<LeaseClaim>, StoreError> {
        let mut db = self.db();
        let tx = db.transaction()?;
        if tx.dialect() == Dialect::Postgres {
            // Not worth a flush to disk each: a lease a crash loses costs a render, never a
            // charge. Its result is refused as unknown, and its task, still queued, is
            // published again.
            tx.execute("SET LOCAL synchronous_commit TO OFF", params![])?;
        }
        // A message's tasks are one job's, rendered with one scene: a task of another job in
        // it (a forged message) is refused, or the worker would render it with the wrong scene.
        let mut job = None;
        let mut claims = Vec::with_capacity(tasks.len());
        for t in tasks {
            let claim = claim_one(&tx, *t, claimant, job)?;
            if let LeaseClaim::Granted(lease) = &claim {
                job = Some(lease.job);
            }
            claims.push(claim);
        }
        tx.commit()?;
        Ok(claims)
    }

    /// Ends the active lease `id` with nothing else recorded (the result of a job that ended
    /// meanwhile); false when it had ended already.
    pub fn end_lease(&self, id: &str, end: LeaseEnd) -> Result<bool, StoreError> {
        finish(&self.db(), id, end)
    }

    pub fn lease(&self, id: &str) -> Result<Option<Lease>, StoreError> {
        // A result's lease id is the sender's claim. One not of our making names no lease, and
        // is not sent to the database, which may refuse it for good (PostgreSQL refuses NUL).
        if !is_lease_id(id) {
            return Ok(None);
        }
        Ok(self
            .reader()
            .query_opt(leases_where!("l.id = ?1"), params![id], read)?)
    }

    /// How many different workers have failed `task` (see [`failed_lease!`]), counting the
    /// holder of lease `failing`, whose failure is being recorded. A blocked worker counts for
    /// nothing: its tasks in hand come back unpaid, and neither they nor a cheater's refusals
    /// may help a saboteur fail a job. (Claims need no such rule: a blocked worker claims
    /// nothing, and `another_alive` looks at unblocked workers only.)
    pub fn task_failers(&self, task: TaskId, failing: Option<&str>) -> Result<u32, StoreError> {
        let failers: Option<i64> = self.db().query_opt(
            concat!(
                "SELECT COUNT(DISTINCT l.worker) FROM leases l WHERE l.task_id = ?1 AND (l.id = ?2 OR ",
                failed_lease!(),
                ") AND NOT EXISTS (SELECT 1 FROM reputation r
                                   WHERE r.worker = l.worker AND r.blocked_reason IS NOT NULL)"
            ),
            params![task.0, failing],
            |r| r.get(0),
        )?;
        Ok(failers.unwrap_or(0) as u32)
    }

    /// The ids of the active leases.
    pub fn active_lease_ids(&self) -> Result<Vec<String>, StoreError> {
        Ok(self.reader().query_map(
            "SELECT id FROM leases WHERE state = 'active'",
            params![],
            |r| r.get(0),
        )?)
    }

    /// `worker` is alive: keeps those of its active leases it names (every one when `None`, a
    /// worker of an earlier version naming none); returns how many it kept. A lease it holds
    /// but no longer names expires with the lease timeout.
    pub fn heartbeat(&self, worker: &str, leases: Option<&[String]>) -> Result<usize, StoreError> {
        let at = now();
        let mut db = self.db();
        let tx = db.transaction()?;
        tx.execute(
            "UPDATE workers SET last_seen = ?2 WHERE name = ?1",
            params![worker, at],
        )?;
        let kept = match leases {
            None => tx.execute(
                "UPDATE leases SET heartbeat_at = ?2 WHERE worker = ?1 AND state = 'active'",
                params![worker, at],
            )?,
            Some(named) => {
                // One statement per lease the worker holds and names, whatever else it names:
                // made-up ids never reach the database (which may refuse them, as PostgreSQL
                // does NUL), nor cost a statement each.
                let named: HashSet<&str> = named.iter().map(String::as_str).collect();
                let held: Vec<String> = tx.query_map(
                    "SELECT id FROM leases WHERE worker = ?1 AND state = 'active'",
                    params![worker],
                    |r| r.get(0),
                )?;
                let mut kept = 0;
                for id in held.iter().filter(|id| named.contains(id.as_str())) {
                    kept += tx.execute(
                        "UPDATE leases SET heartbeat_at = ?2 WHERE id = ?1 AND state = 'active'",
                        params![id, at],
                    )?;
                }
                kept
            }
        };
        tx.commit()?;
        Ok(kept)
    }

    /// Active leases whose worker has not been heard from since `unheard_since`, or granted
    /// before `granted_before` (held too long, heard from or not).
    pub fn expired_leases(
        &self,
        unheard_since: f64,
        granted_before: f64,
    ) -> Result<Vec<Lease>, StoreError> {
        Ok(self.reader().query_map(
            leases_where!("l.state = 'active' AND (l.heartbeat_at < ?1 OR l.started_at < ?2)"),
            params![unheard_since, granted_before],
            read,
        )?)
    }

    /// Whether `worker` holds a live lease on a task of a job that renders `scene`.
    pub fn holds_scene(&self, worker: &str, scene: SceneHash) -> Result<bool, StoreError> {
        Ok(!self
            .reader()
            .query(
                "SELECT 1 FROM leases l JOIN tasks t ON t.id = l.task_id JOIN jobs j ON j.id = t.job_id
                 WHERE l.worker = ?1 AND l.state = 'active' AND j.scene_hash = ?2 LIMIT 1",
                params![worker, scene.to_string()],
            )?
            .is_empty())
    }
}

/// Whether `worker` failed `task` before (see [`failed_lease!`]).
fn failed_before(db: &Db, task: TaskId, worker: &str) -> Result<bool, StoreError> {
    Ok(db
        .query_opt(
            concat!(
                "SELECT 1 FROM leases l WHERE l.task_id = ?1 AND l.worker = ?2 AND ",
                failed_lease!(),
                " LIMIT 1"
            ),
            params![task.0, worker],
            |r| r.get::<i64>(0),
        )?
        .is_some())
}

/// Whether a worker other than `worker`, not blocked and that has not failed `task` either,
/// was heard from since `since`. (Workers that all failed it take it in turn, or none would.)
fn another_alive(db: &Db, task: TaskId, worker: &str, since: f64) -> Result<bool, StoreError> {
    Ok(db
        .query_opt(
            concat!(
                "SELECT 1 FROM workers w LEFT JOIN reputation r ON r.worker = w.name
             WHERE w.name <> ?1 AND w.last_seen >= ?2 AND r.blocked_reason IS NULL
               AND NOT EXISTS (SELECT 1 FROM leases l
                               WHERE l.task_id = ?3 AND l.worker = w.name AND ",
                failed_lease!(),
                ") LIMIT 1"
            ),
            params![worker, since, task.0],
            |r| r.get::<i64>(0),
        )?
        .is_some())
}

/// One claim of [`Store::claim`], inside its transaction; writes nothing when refused, but for
/// a task given back for other workers, which is published again.
fn claim_one(
    db: &Db,
    TaskAttempt { task, attempt }: TaskAttempt,
    claimant: &Claimant,
    bundle_job: Option<JobId>,
) -> Result<LeaseClaim, StoreError> {
    let Claimant {
        worker,
        device_class,
        threads,
        verified,
        others_alive_since,
    } = *claimant;
    // One statement for all a claim checks: the task, its job, the worker's record and
    // the task's active lease.
    let row = db.query_opt(
        "SELECT t.state, t.attempts, j.state, j.id, j.trust, r.blocked_reason,
                l.id, l.worker, l.attempt
         FROM tasks t JOIN jobs j ON j.id = t.job_id
         LEFT JOIN reputation r ON r.worker = ?2
         LEFT JOIN leases l ON l.task_id = t.id AND l.state = 'active'
         WHERE t.id = ?1",
        params![task.0, worker],
        |r| {
            Ok(Checked {
                task_state: r.get(0)?,
                failed_attempts: r.get(1)?,
                job_state: r.get(2)?,
                job: r.get(3)?,
                trust: r.get(4)?,
                blocked: r.get(5)?,
                held: match r.get::<Option<String>>(6)? {
                    Some(id) => Some((id, r.get(7)?, r.get(8)?)),
                    None => None,
                },
            })
        },
    )?;
    let refuse = |why: String| Ok(LeaseClaim::Refused(why));
    let Some(Checked {
        task_state,
        failed_attempts,
        job_state,
        job,
        trust,
        blocked,
        held,
    }) = row
    else {
        return refuse(format!("no task {task}"));
    };
    if let Some(why) = blocked {
        return Ok(LeaseClaim::Stopped(format!(
            "worker '{worker}' is blocked: {why}"
        )));
    }
    if let Some(bundle_job) = bundle_job
        && bundle_job.0 != job
    {
        return refuse(format!(
            "it is of job {job}, and the message's tasks granted before it of job {bundle_job}"
        ));
    }
    if job_state != "running" {
        return refuse(format!("its job is {job_state}"));
    }
    // The verified queue is the broker's to keep apart; a worker that reads it anyway
    // (broker credentials are shared) is refused here.
    if !verified && trust == Trust::Verified.as_str() {
        return refuse(format!("job {job} takes verified workers only"));
    }
    if !matches!(task_state.as_str(), "pending" | "queued") {
        return refuse(format!("the task is {task_state}"));
    }
    if attempt != failed_attempts + 1 {
        return refuse(format!(
            "attempt {attempt} is stale: the task is at attempt {}",
            failed_attempts + 1
        ));
    }
    match held {
        // The same worker asking again (its first answer was lost, or it restarted): the
        // same lease, or its heartbeats would keep an orphan alive and the task stuck.
        Some((id, holder, held_attempt)) if holder == worker && held_attempt == attempt => {
            let lease = db.query_opt(leases_where!("l.id = ?1"), params![id], read)?;
            return match lease {
                Some(lease) => Ok(LeaseClaim::Granted(lease)),
                None => refuse("another worker holds it".into()),
            };
        }
        Some(_) => return refuse("another worker holds it".into()),
        None => {}
    }
    if let Some(since) = others_alive_since
        && failed_before(db, task, worker)?
        && another_alive(db, task, worker, since)?
    {
        // Published again by the next timed top-up, for the others (not at once: the worker
        // could take it again as fast as it is published); else a saboteur that wins the task's
        // message every time could fail its job alone.
        db.execute(
            "UPDATE tasks SET state = 'pending', give_backs = give_backs + 1
             WHERE id = ?1 AND state IN ('pending', 'queued')",
            params![task.0],
        )?;
        return refuse(format!(
            "worker '{worker}' failed this task before: it goes to another"
        ));
    }
    let at = now();
    let lease = Lease {
        id: random_hex(LEASE_ID_BYTES),
        key: random_hex(32),
        task,
        job: JobId(job),
        attempt,
        worker: worker.to_owned(),
        device_class: device_class.to_owned(),
        threads,
        started_at: at,
        active: true,
    };
    // Nothing inserted: another coordinator's claim for this task committed first.
    let inserted = db.execute(
        "INSERT INTO leases (id, key, task_id, attempt, worker, device_class, threads,
                             started_at, heartbeat_at, state)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, 'active')
         ON CONFLICT DO NOTHING",
        params![
            lease.id,
            lease.key,
            task.0,
            attempt,
            worker,
            device_class,
            threads,
            at
        ],
    )?;
    if inserted == 0 {
        return refuse("another worker holds it".into());
    }
    Ok(LeaseClaim::Granted(lease))
}
