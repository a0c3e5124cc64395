//! The ledger: one row per accepted task, in the store's database. Rows are only ever inserted:
//! they are unique per task, and triggers refuse any update or deletion. An invoice is the sum of
//! a job's rows.

use rusqlite::{Connection, params};
use tessera_protocol::api::LedgerRow;
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
"#;

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

/// The sum of a job's rows: its invoice total.
pub(crate) fn total(db: &Connection, job: JobId) -> rusqlite::Result<Money> {
    let micros: i64 = db.query_row(
        "SELECT COALESCE(SUM(charge_micros), 0) FROM ledger WHERE job_id = ?1",
        params![job.0],
        |r| r.get(0),
    )?;
    Ok(Money::from_micros(micros))
}
