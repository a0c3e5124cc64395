//! The ledger: one row per accepted task, in the store's database, and the reversals of charges
//! found unearned (the worker failed a spot check). Rows are only ever inserted: charges are
//! unique per task, reversals per charge, and triggers refuse any update or deletion. An invoice
//! is the sum of a job's charges less its reversals.

use rusqlite::{Connection, params};
use tessera_protocol::api::{LedgerRow, Reversal};
use tessera_protocol::id::{JobId, TaskId};
use tessera_protocol::money::Money;

pub(crate) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS ledger (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id INTEGER NOT NULL UNIQUE REFERENCES tasks(id),
    job_id INTEGER NOT NULL REFERENCES jobs(id),
    worker TEXT NOT NULL,
    device_class TEXT NOT NULL,
    threads INTEGER NOT NULL,
    render_micros INTEGER NOT NULL CHECK (render_micros >= 0),
    samples INTEGER NOT NULL CHECK (samples >= 0),
    hourly_micros INTEGER NOT NULL CHECK (hourly_micros >= 0),
    charge_micros INTEGER NOT NULL CHECK (charge_micros >= 0),
    recorded_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_by_job ON ledger (job_id);
CREATE TRIGGER IF NOT EXISTS ledger_rows_are_never_updated BEFORE UPDATE ON ledger
BEGIN SELECT RAISE(ABORT, 'ledger rows are never updated'); END;
CREATE TRIGGER IF NOT EXISTS ledger_rows_are_never_deleted BEFORE DELETE ON ledger
BEGIN SELECT RAISE(ABORT, 'ledger rows are never deleted'); END;
CREATE TABLE IF NOT EXISTS ledger_reversals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ledger_id INTEGER NOT NULL UNIQUE REFERENCES ledger(id),
    job_id INTEGER NOT NULL REFERENCES jobs(id),
    amount_micros INTEGER NOT NULL CHECK (amount_micros >= 0),
    reason TEXT NOT NULL,
    recorded_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS reversals_by_job ON ledger_reversals (job_id);
CREATE TRIGGER IF NOT EXISTS reversals_are_never_updated BEFORE UPDATE ON ledger_reversals
BEGIN SELECT RAISE(ABORT, 'ledger rows are never updated'); END;
CREATE TRIGGER IF NOT EXISTS reversals_are_never_deleted BEFORE DELETE ON ledger_reversals
BEGIN SELECT RAISE(ABORT, 'ledger rows are never deleted'); END;
"#;

/// Reverses every charge of `worker` that no spot check verified and that is not reversed yet;
/// run inside the caller's transaction. Returns how many.
pub(crate) fn reverse_unverified(
    db: &Connection,
    worker: &str,
    reason: &str,
    at: f64,
) -> rusqlite::Result<usize> {
    db.execute(
        "INSERT INTO ledger_reversals (ledger_id, job_id, amount_micros, reason, recorded_at)
         SELECT l.id, l.job_id, l.charge_micros, ?2, ?3 FROM ledger l
         WHERE l.worker = ?1
           AND NOT EXISTS (SELECT 1 FROM checked_tasks c WHERE c.task_id = l.task_id)
           AND NOT EXISTS (SELECT 1 FROM ledger_reversals r WHERE r.ledger_id = l.id)",
        params![worker, reason, at],
    )
}

/// A job's reversals, oldest first.
pub(crate) fn reversals(db: &Connection, job: JobId) -> rusqlite::Result<Vec<Reversal>> {
    let mut stmt = db.prepare(
        "SELECT l.task_id, l.worker, r.amount_micros, r.reason FROM ledger_reversals r
         JOIN ledger l ON l.id = r.ledger_id WHERE r.job_id = ?1 ORDER BY r.id",
    )?;
    let rows = stmt.query_map(params![job.0], |r| {
        Ok(Reversal {
            task: TaskId(r.get(0)?),
            worker: r.get(1)?,
            amount: Money::from_micros(r.get(2)?),
            reason: r.get(3)?,
        })
    })?;
    rows.collect()
}

/// Appends a task's row; run inside the transaction that marks the task done.
pub(crate) fn insert(db: &Connection, row: &LedgerRow, at: f64) -> rusqlite::Result<()> {
    db.execute(
        "INSERT INTO ledger (task_id, job_id, worker, device_class, threads, render_micros,
                             samples, hourly_micros, charge_micros, recorded_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            row.task.0,
            row.job.0,
            row.worker,
            row.device_class,
            row.threads,
            row.render_micros as i64,
            row.samples as i64,
            row.hourly.micros(),
            row.charge.micros(),
            at
        ],
    )?;
    Ok(())
}

/// A job's rows, oldest first.
pub(crate) fn rows(db: &Connection, job: JobId) -> rusqlite::Result<Vec<LedgerRow>> {
    let mut stmt = db.prepare(
        "SELECT l.*, t.frame, t.x, t.y, t.w, t.h FROM ledger l JOIN tasks t ON t.id = l.task_id
             WHERE l.job_id = ?1 ORDER BY l.id",
    )?;
    let rows = stmt.query_map(params![job.0], |r| {
        let (x, y, w, h): (u32, u32, u32, u32) =
            (r.get("x")?, r.get("y")?, r.get("w")?, r.get("h")?);
        Ok(LedgerRow {
            task: TaskId(r.get("task_id")?),
            job: JobId(r.get("job_id")?),
            frame: r.get("frame")?,
            tile: format!("{w}x{h}+{x}+{y}"),
            worker: r.get("worker")?,
            device_class: r.get("device_class")?,
            threads: r.get("threads")?,
            render_micros: r.get::<_, i64>("render_micros")? as u64,
            samples: r.get::<_, i64>("samples")? as u64,
            hourly: Money::from_micros(r.get("hourly_micros")?),
            charge: Money::from_micros(r.get("charge_micros")?),
        })
    })?;
    rows.collect()
}

/// A job's invoice total: its charges less its reversals.
pub(crate) fn total(db: &Connection, job: JobId) -> rusqlite::Result<Money> {
    let micros: i64 = db.query_row(
        "SELECT COALESCE((SELECT SUM(charge_micros) FROM ledger WHERE job_id = ?1), 0)
              - COALESCE((SELECT SUM(amount_micros) FROM ledger_reversals WHERE job_id = ?1), 0)",
        params![job.0],
        |r| r.get(0),
    )?;
    Ok(Money::from_micros(micros))
}
