//! The ledger: one row per accepted result, in the store's database, and the reversals of
//! charges found unearned (the worker failed a spot check). Rows are only ever inserted:
//! triggers refuse any update or deletion, a charge is reversed at most once, and a task holds at
//! most one charge that is not reversed (a reversed task rendered again is charged again). An
//! invoice is the sum of a job's charges less its reversals, kept summed by triggers in `job_costs`.

use crate::store::cut_page;
use crate::store::database::{Db, DbError, params};
use tessera_protocol::api::{LedgerRow, Reversal};
use tessera_protocol::id::{JobId, TaskId};
use tessera_protocol::money::Money;

/// The ledger's columns.
const COLUMNS: &str = r#"(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id INTEGER NOT NULL REFERENCES tasks(id),
    job_id INTEGER NOT NULL REFERENCES jobs(id),
    worker TEXT NOT NULL,
    device_class TEXT NOT NULL,
    threads INTEGER NOT NULL,
    render_micros INTEGER NOT NULL CHECK (render_micros >= 0),
    samples INTEGER NOT NULL CHECK (samples >= 0),
    -- What is charged for: the task's work (billing::work), in microseconds.
    work_micros INTEGER NOT NULL CHECK (work_micros >= 0),
    -- The price of an hour of that work.
    hourly_micros INTEGER NOT NULL CHECK (hourly_micros >= 0),
    charge_micros INTEGER NOT NULL CHECK (charge_micros >= 0),
    recorded_at REAL NOT NULL
)"#;

const REVERSALS: &str = r#"
CREATE TABLE IF NOT EXISTS ledger_reversals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ledger_id INTEGER NOT NULL UNIQUE REFERENCES ledger(id),
    job_id INTEGER NOT NULL REFERENCES jobs(id),
    amount_micros INTEGER NOT NULL CHECK (amount_micros >= 0),
    reason TEXT NOT NULL,
    recorded_at REAL NOT NULL
);
-- A job's rows and their reversals a page at a time, without sorting them all (on SQLite
-- ledger's (job_id) did as much, its rowid being the id; PostgreSQL needs the id in it).
DROP INDEX IF EXISTS ledger_by_job;
CREATE INDEX IF NOT EXISTS ledger_in_job_order ON ledger (job_id, id);
CREATE INDEX IF NOT EXISTS ledger_by_task ON ledger (task_id);
DROP INDEX IF EXISTS reversals_by_job;
CREATE INDEX IF NOT EXISTS reversals_in_job_order ON ledger_reversals (job_id, ledger_id);
-- Each job's charges and reversals summed, kept by triggers as rows are inserted: an invoice's
-- total is read without adding up its rows (a dashboard polls it while the job renders).
CREATE TABLE IF NOT EXISTS job_costs (
    job_id INTEGER PRIMARY KEY REFERENCES jobs(id),
    charged_micros INTEGER NOT NULL,
    reversed_micros INTEGER NOT NULL
);
"#;

/// Every job's sums in `job_costs` counted again from its rows: for a store made before the
/// triggers kept them, in the transaction that creates them (so that no charge lands between).
pub(crate) const RECOUNT_COSTS: &str = r#"
INSERT INTO job_costs (job_id, charged_micros, reversed_micros)
SELECT j.id,
       COALESCE((SELECT SUM(l.charge_micros) FROM ledger l WHERE l.job_id = j.id), 0),
       COALESCE((SELECT SUM(r.amount_micros) FROM ledger_reversals r WHERE r.job_id = j.id), 0)
FROM jobs j
WHERE EXISTS (SELECT 1 FROM ledger l WHERE l.job_id = j.id)
ON CONFLICT (job_id) DO UPDATE
    SET charged_micros = excluded.charged_micros, reversed_micros = excluded.reversed_micros;
"#;

/// The ledger's tables and indexes, in the store's schema.
pub(crate) fn schema() -> String {
    format!("CREATE TABLE IF NOT EXISTS ledger {COLUMNS};{REVERSALS}")
}

/// The ledger's rules, in SQLite.
pub(crate) const SQLITE_RULES: &str = r#"
CREATE TRIGGER IF NOT EXISTS one_charge_per_task BEFORE INSERT ON ledger
WHEN EXISTS (SELECT 1 FROM ledger l WHERE l.task_id = NEW.task_id
             AND NOT EXISTS (SELECT 1 FROM ledger_reversals r WHERE r.ledger_id = l.id))
BEGIN SELECT RAISE(ABORT, 'a task holds one charge that is not reversed'); END;
CREATE TRIGGER IF NOT EXISTS ledger_rows_are_never_updated BEFORE UPDATE ON ledger
BEGIN SELECT RAISE(ABORT, 'ledger rows are never updated'); END;
CREATE TRIGGER IF NOT EXISTS ledger_rows_are_never_deleted BEFORE DELETE ON ledger
BEGIN SELECT RAISE(ABORT, 'ledger rows are never deleted'); END;
CREATE TRIGGER IF NOT EXISTS reversals_are_never_updated BEFORE UPDATE ON ledger_reversals
BEGIN SELECT RAISE(ABORT, 'ledger rows are never updated'); END;
CREATE TRIGGER IF NOT EXISTS reversals_are_never_deleted BEFORE DELETE ON ledger_reversals
BEGIN SELECT RAISE(ABORT, 'ledger rows are never deleted'); END;
CREATE TRIGGER IF NOT EXISTS job_costs_charged AFTER INSERT ON ledger BEGIN
    INSERT INTO job_costs (job_id, charged_micros, reversed_micros)
    VALUES (NEW.job_id, NEW.charge_micros, 0)
    ON CONFLICT (job_id) DO UPDATE SET charged_micros = charged_micros + NEW.charge_micros;
END;
CREATE TRIGGER IF NOT EXISTS job_costs_reversed AFTER INSERT ON ledger_reversals BEGIN
    INSERT INTO job_costs (job_id, charged_micros, reversed_micros)
    VALUES (NEW.job_id, 0, NEW.amount_micros)
    ON CONFLICT (job_id) DO UPDATE SET reversed_micros = reversed_micros + NEW.amount_micros;
END;
"#;

/// The same rules in PostgreSQL, which also has TRUNCATE to refuse.
pub(crate) const POSTGRES_RULES: &str = r#"
CREATE OR REPLACE FUNCTION one_charge_per_task() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM ledger l WHERE l.task_id = NEW.task_id
               AND NOT EXISTS (SELECT 1 FROM ledger_reversals r WHERE r.ledger_id = l.id)) THEN
        RAISE EXCEPTION 'a task holds one charge that is not reversed'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE OR REPLACE TRIGGER one_charge_per_task BEFORE INSERT ON ledger
FOR EACH ROW EXECUTE FUNCTION one_charge_per_task();
CREATE OR REPLACE FUNCTION ledger_rows_are_never_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger rows are never %',
        CASE TG_OP WHEN 'UPDATE' THEN 'updated' ELSE 'deleted' END
        USING ERRCODE = 'integrity_constraint_violation';
END $$;
CREATE OR REPLACE TRIGGER ledger_rows_are_never_changed BEFORE UPDATE OR DELETE ON ledger
FOR EACH ROW EXECUTE FUNCTION ledger_rows_are_never_changed();
CREATE OR REPLACE TRIGGER ledger_is_never_truncated BEFORE TRUNCATE ON ledger
FOR EACH STATEMENT EXECUTE FUNCTION ledger_rows_are_never_changed();
CREATE OR REPLACE TRIGGER reversals_are_never_changed BEFORE UPDATE OR DELETE ON ledger_reversals
FOR EACH ROW EXECUTE FUNCTION ledger_rows_are_never_changed();
CREATE OR REPLACE TRIGGER reversals_are_never_truncated BEFORE TRUNCATE ON ledger_reversals
FOR EACH STATEMENT EXECUTE FUNCTION ledger_rows_are_never_changed();
CREATE OR REPLACE FUNCTION job_costs_charged() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_costs (job_id, charged_micros, reversed_micros)
    VALUES (NEW.job_id, NEW.charge_micros, 0)
    ON CONFLICT (job_id) DO UPDATE
        SET charged_micros = job_costs.charged_micros + EXCLUDED.charged_micros;
    RETURN NEW;
END $$;
CREATE OR REPLACE TRIGGER job_costs_charged AFTER INSERT ON ledger
FOR EACH ROW EXECUTE FUNCTION job_costs_charged();
CREATE OR REPLACE FUNCTION job_costs_reversed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_costs (job_id, charged_micros, reversed_micros)
    VALUES (NEW.job_id, 0, NEW.amount_micros)
    ON CONFLICT (job_id) DO UPDATE
        SET reversed_micros = job_costs.reversed_micros + EXCLUDED.reversed_micros;
    RETURN NEW;
END $$;
CREATE OR REPLACE TRIGGER job_costs_reversed AFTER INSERT ON ledger_reversals
FOR EACH ROW EXECUTE FUNCTION job_costs_reversed();
"#;

/// Brings a SQLite ledger made by an earlier version up to date: it allowed one row per task,
/// ever, and had no work column. The old rows are copied, unchanged, into the new table (their
/// work is their render time, which is what they charged for), as SQLite's documented way of
/// changing a table's constraints does.
pub(crate) fn upgrade_sqlite(db: &rusqlite::Connection) -> rusqlite::Result<()> {
    let column = |name: &str| {
        db.prepare(&format!(
            "SELECT 1 FROM pragma_table_info('ledger') WHERE name = '{name}'"
        ))?
        .exists([])
    };
    if column("task_id")? && !column("work_micros")? {
        db.pragma_update(None, "foreign_keys", "OFF")?;
        db.execute_batch(&format!(
            "BEGIN;
             CREATE TABLE ledger_new {COLUMNS};
             INSERT INTO ledger_new (id, task_id, job_id, worker, device_class, threads,
                 render_micros, samples, work_micros, hourly_micros, charge_micros, recorded_at)
             SELECT id, task_id, job_id, worker, device_class, threads, render_micros, samples,
                 render_micros, hourly_micros, charge_micros, recorded_at FROM ledger;
             DROP TABLE ledger;
             ALTER TABLE ledger_new RENAME TO ledger;
             COMMIT;"
        ))?;
        db.pragma_update(None, "foreign_keys", "ON")?;
    }
    Ok(())
}

/// Reverses every charge of `worker` that no spot check verified and that is not reversed yet;
/// run inside the caller's transaction. Returns the tasks of the charges reversed.
pub(crate) fn reverse_unverified(
    db: &Db,
    worker: &str,
    reason: &str,
    at: f64,
) -> Result<Vec<TaskId>, DbError> {
    let unverified: Vec<(i64, i64)> = db.query_map(
        "SELECT l.id, l.task_id FROM ledger l
         WHERE l.worker = ?1
           AND NOT EXISTS (SELECT 1 FROM checked_tasks c WHERE c.task_id = l.task_id)
           AND NOT EXISTS (SELECT 1 FROM ledger_reversals r WHERE r.ledger_id = l.id)",
        params![worker],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    for (charge, _) in &unverified {
        db.execute(
            "INSERT INTO ledger_reversals (ledger_id, job_id, amount_micros, reason, recorded_at)
             SELECT id, job_id, charge_micros, ?2, ?3 FROM ledger WHERE id = ?1",
            params![charge, reason, at],
        )?;
    }
    Ok(unverified
        .into_iter()
        .map(|(_, task)| TaskId(task))
        .collect())
}

/// A job's reversals, in the order of the charges they reverse.
pub(crate) fn reversals(db: &Db, job: JobId) -> Result<Vec<Reversal>, DbError> {
    reversals_between(db, job, 0, i64::MAX)
}

/// The reversals of a job's ledger rows after `after` up to `last`, in the order of the rows
/// they reverse (at most one each).
pub(crate) fn reversals_between(
    db: &Db,
    job: JobId,
    after: i64,
    last: i64,
) -> Result<Vec<Reversal>, DbError> {
    db.query_map(
        "SELECT l.task_id, l.worker, r.amount_micros, r.reason FROM ledger_reversals r
         JOIN ledger l ON l.id = r.ledger_id
         WHERE r.job_id = ?1 AND r.ledger_id > ?2 AND r.ledger_id <= ?3 ORDER BY r.ledger_id",
        params![job.0, after, last],
        |r| {
            Ok(Reversal {
                task: TaskId(r.get(0)?),
                worker: r.get(1)?,
                amount: Money::from_micros(r.get(2)?),
                reason: r.get(3)?,
            })
        },
    )
}

/// Appends a task's row; run inside the transaction that marks the task done.
pub(crate) fn insert(db: &Db, row: &LedgerRow, at: f64) -> Result<(), DbError> {
    db.execute(
        "INSERT INTO ledger (task_id, job_id, worker, device_class, threads, render_micros,
                             samples, work_micros, hourly_micros, charge_micros, recorded_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            row.task.0,
            row.job.0,
            row.worker,
            row.device_class,
            row.threads,
            row.render_micros as i64,
            row.samples as i64,
            row.work_micros as i64,
            row.hourly.micros(),
            row.charge.micros(),
            at
        ],
    )?;
    Ok(())
}

/// A job's rows, oldest first.
pub(crate) fn rows(db: &Db, job: JobId) -> Result<Vec<LedgerRow>, DbError> {
    Ok(page(db, job, 0, u32::MAX)?.0)
}

/// A job's rows after ledger row `after`, oldest first, at most `limit`; with the id of the
/// last, and whether more follow.
pub(crate) fn page(
    db: &Db,
    job: JobId,
    after: i64,
    limit: u32,
) -> Result<(Vec<LedgerRow>, Option<i64>, bool), DbError> {
    // One more than the page: whether it exists tells whether more follow.
    let rows = db.query_map(
        "SELECT l.*, t.frame, t.x, t.y, t.w, t.h FROM ledger l JOIN tasks t ON t.id = l.task_id
             WHERE l.job_id = ?1 AND l.id > ?2 ORDER BY l.id LIMIT ?3",
        params![job.0, after, i64::from(limit) + 1],
        |r| {
            let (x, y, w, h): (u32, u32, u32, u32) =
                (r.get("x")?, r.get("y")?, r.get("w")?, r.get("h")?);
            let id: i64 = r.get("id")?;
            let row = LedgerRow {
                task: TaskId(r.get("task_id")?),
                job: JobId(r.get("job_id")?),
                frame: r.get("frame")?,
                tile: format!("{w}x{h}+{x}+{y}"),
                worker: r.get("worker")?,
                device_class: r.get("device_class")?,
                threads: r.get("threads")?,
                render_micros: r.get("render_micros")?,
                samples: r.get("samples")?,
                work_micros: r.get("work_micros")?,
                hourly: Money::from_micros(r.get("hourly_micros")?),
                charge: Money::from_micros(r.get("charge_micros")?),
            };
            Ok((id, row))
        },
    )?;
    let (rows, more) = cut_page(rows, limit);
    let last = rows.last().map(|(id, _)| *id);
    Ok((rows.into_iter().map(|(_, row)| row).collect(), last, more))
}

/// A job's invoice total: its charges less its reversals.
pub(crate) fn total(db: &Db, job: JobId) -> Result<Money, DbError> {
    let micros: i64 = db.query_row(
        "SELECT CAST(COALESCE((SELECT charged_micros - reversed_micros FROM job_costs
                               WHERE job_id = ?1), 0) AS BIGINT)",
        params![job.0],
        |r| r.get(0),
    )?;
    Ok(Money::from_micros(micros))
}
