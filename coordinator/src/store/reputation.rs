//! Each worker's record of spot checks: how many it passed and failed, how many in a row it has
//! passed (which sets how often it is checked), and whether it is blocked.

use tessera_protocol::id::TaskId;

use super::database::{Db, params};
use super::{Store, StoreError, now};
use crate::billing::ledger;

/// `caught` is 1 while a worker is blocked for failing a check (not drained, nor stopped for
/// another reason): its results in flight are refused. Readmission clears it.
pub(super) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS reputation (
    worker TEXT PRIMARY KEY,
    checks_passed INTEGER NOT NULL DEFAULT 0,
    checks_failed INTEGER NOT NULL DEFAULT 0,
    consecutive_valid INTEGER NOT NULL DEFAULT 0,
    blocked_reason TEXT,
    caught INTEGER NOT NULL DEFAULT 0
);
-- The tasks whose result passed a spot check: their charges are verified.
CREATE TABLE IF NOT EXISTS checked_tasks (
    task_id INTEGER PRIMARY KEY REFERENCES tasks(id),
    worker TEXT NOT NULL,
    checked_at REAL NOT NULL
);
"#;

/// What the farm knows of a worker's honesty.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reputation {
    pub checks_passed: u64,
    pub checks_failed: u64,
    /// Checks passed since the last failure.
    pub consecutive_valid: u64,
    /// Why the worker may not claim tasks any more, if it may not.
    pub blocked: Option<String>,
}

impl Store {
    pub fn reputation(&self, worker: &str) -> Result<Reputation, StoreError> {
        Ok(self
            .reader()
            .query_opt(
                "SELECT checks_passed, checks_failed, consecutive_valid, blocked_reason
                 FROM reputation WHERE worker = ?1",
                params![worker],
                |r| {
                    Ok(Reputation {
                        checks_passed: r.get(0)?,
                        checks_failed: r.get(1)?,
                        consecutive_valid: r.get(2)?,
                        blocked: r.get(3)?,
                    })
                },
            )?
            .unwrap_or_default())
    }

    /// Records that `worker`'s result for `task` passed a spot check.
    pub fn record_passed_check(&self, worker: &str, task: TaskId) -> Result<(), StoreError> {
        let mut db = self.db();
        let tx = db.transaction()?;
        passed_check(&tx, worker, task)?;
        tx.commit()?;
        Ok(())
    }

    /// A failed spot check: `worker` is blocked, each of its charges that no check verified
    /// is reversed, and the tasks of those charges in jobs still running are rendered again
    /// (their frames are written again once they are in), all in one transaction. Returns how
    /// many charges were reversed and how many tasks go out again.
    pub fn block_worker(&self, worker: &str, reason: &str) -> Result<(usize, usize), StoreError> {
        let mut db = self.db();
        let tx = db.transaction()?;
        tx.execute(
            "INSERT INTO reputation (worker, checks_failed, blocked_reason, caught)
             VALUES (?1, 1, ?2, 1)
             ON CONFLICT (worker) DO UPDATE SET checks_failed = reputation.checks_failed + 1,
                 consecutive_valid = 0, blocked_reason = ?2, caught = 1",
            params![worker, reason],
        )?;
        let reversed = ledger::reverse_unverified(&tx, worker, reason, now())?;
        let mut again = 0;
        for task in &reversed {
            // Its last lease is the blocked worker's: the next attempt follows it.
            again += tx.execute(
                "UPDATE tasks SET state = 'pending', last_error = ?2,
                     attempts = (SELECT MAX(attempt) FROM leases WHERE task_id = ?1)
                 WHERE id = ?1 AND state = 'done'
                   AND job_id IN (SELECT id FROM jobs WHERE state = 'running')",
                params![task.0, format!("rendered again: {reason}")],
            )?;
            tx.execute(
                "DELETE FROM frames_written WHERE (job_id, frame) =
                     (SELECT job_id, frame FROM tasks WHERE id = ?1 AND state = 'pending')",
                params![task.0],
            )?;
        }
        tx.commit()?;
        Ok((reversed.len(), again))
    }

    /// An operator drains `worker`: it claims no more tasks, and the one it holds may finish.
    /// Nothing is reversed. Returns false when it was already blocked or drained.
    pub fn drain_worker(&self, worker: &str) -> Result<bool, StoreError> {
        self.stop_claims(worker, DRAINED)
    }

    /// `worker` claims no more tasks, for `reason`, and the one it holds may finish; nothing is
    /// reversed (its work was not found wrong). Returns false when it was already blocked.
    pub fn stop_claims(&self, worker: &str, reason: &str) -> Result<bool, StoreError> {
        let changed = self.db().execute(
            "INSERT INTO reputation (worker, blocked_reason) VALUES (?1, ?2)
             ON CONFLICT (worker) DO UPDATE SET blocked_reason = ?2
                 WHERE reputation.blocked_reason IS NULL",
            params![worker, reason],
        )?;
        self.sync()?;
        Ok(changed == 1)
    }

    /// An operator lets `worker` claim tasks again, whatever stopped it (a drain, a failed check,
    /// a task held too long, a throughput its class contradicts). Its checks start over as a new
    /// worker's (every result checked); what was reversed stays reversed. A worker whose
    /// throughput still contradicts its class is stopped again at the farm's next look. Returns
    /// false when it was not blocked.
    pub fn readmit_worker(&self, worker: &str) -> Result<bool, StoreError> {
        let changed = self.db().execute(
            "UPDATE reputation SET blocked_reason = NULL, consecutive_valid = 0, caught = 0
             WHERE worker = ?1 AND blocked_reason IS NOT NULL",
            params![worker],
        )?;
        self.sync()?;
        Ok(changed == 1)
    }
}

/// Gives a store made before `caught` was kept the column, marking the workers blocked then
/// with a failed check: as the store read them, every such worker was caught.
pub(super) const ADD_CAUGHT_SQLITE: &str =
    "UPDATE reputation SET caught = 1 WHERE checks_failed > 0 AND blocked_reason IS NOT NULL";

/// [`ADD_CAUGHT_SQLITE`] on PostgreSQL, column and all, once.
pub(super) const ADD_CAUGHT_POSTGRES: &str = r#"
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema()
                   AND table_name = 'reputation' AND column_name = 'caught') THEN
        ALTER TABLE reputation ADD COLUMN caught BIGINT NOT NULL DEFAULT 0;
        UPDATE reputation SET caught = 1 WHERE checks_failed > 0 AND blocked_reason IS NOT NULL;
    END IF;
END $$;
"#;

/// What a drained worker's record says.
pub const DRAINED: &str = "drained by an operator";

/// Records a passed check inside the caller's transaction: the one that accepts the result, so
/// that nobody sees its charge before it counts as verified.
pub(super) fn passed_check(db: &Db, worker: &str, task: TaskId) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO reputation (worker, checks_passed, consecutive_valid) VALUES (?1, 1, 1)
         ON CONFLICT (worker) DO UPDATE SET checks_passed = reputation.checks_passed + 1,
             consecutive_valid = reputation.consecutive_valid + 1",
        params![worker],
    )?;
    db.execute(
        "INSERT INTO checked_tasks (task_id, worker, checked_at) VALUES (?1, ?2, ?3)
         ON CONFLICT DO NOTHING",
        params![task.0, worker, now()],
    )?;
    Ok(())
}

/// Whether `worker` is blocked for failing a check (not merely drained, nor stopped again after
/// being let back), inside the caller's transaction.
pub(super) fn caught_cheating(db: &Db, worker: &str) -> Result<bool, StoreError> {
    Ok(db
        .query_opt(
            "SELECT 1 FROM reputation WHERE worker = ?1 AND caught = 1",
            params![worker],
            |r| r.get::<i64>(0),
        )?
        .is_some())
}
