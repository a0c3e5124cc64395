//! Counts over the whole store, for the coordinator's metrics.

use std::collections::BTreeMap;

use super::database::{Db, DbError, FromValue, params};
use super::{Store, StoreError};

/// What the store holds, counted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Jobs by state.
    pub jobs: BTreeMap<String, u64>,
    /// Tasks by state.
    pub tasks: BTreeMap<String, u64>,
    /// Accepted tasks by device class.
    pub accepted: BTreeMap<String, u64>,
    /// Micro-dollars charged, by device class.
    pub billed: BTreeMap<String, i64>,
    /// Micro-dollars reversed, by device class.
    pub reversed: BTreeMap<String, i64>,
    /// Leases held now.
    pub active_leases: u64,
}

fn grouped<V: FromValue>(db: &Db, sql: &str) -> Result<BTreeMap<String, V>, DbError> {
    Ok(db
        .query_map(sql, params![], |r| Ok((r.get(0)?, r.get(1)?)))?
        .into_iter()
        .collect())
}

impl Store {
    pub fn counts(&self) -> Result<Counts, StoreError> {
        let db = self.reader();
        Ok(Counts {
            jobs: grouped(&db, "SELECT state, COUNT(*) FROM jobs GROUP BY state")?,
            tasks: grouped(&db, "SELECT state, COUNT(*) FROM tasks GROUP BY state")?,
            accepted: grouped(
                &db,
                "SELECT device_class, COUNT(*) FROM ledger GROUP BY device_class",
            )?,
            billed: grouped(
                &db,
                "SELECT device_class, CAST(SUM(charge_micros) AS BIGINT) FROM ledger
                 GROUP BY device_class",
            )?,
            reversed: grouped(
                &db,
                "SELECT l.device_class, CAST(SUM(r.amount_micros) AS BIGINT) FROM ledger_reversals r
                 JOIN ledger l ON l.id = r.ledger_id GROUP BY l.device_class",
            )?,
            active_leases: db.query_row(
                "SELECT COUNT(*) FROM leases WHERE state = 'active'",
                params![],
                |r| r.get(0),
            )?,
        })
    }
}
