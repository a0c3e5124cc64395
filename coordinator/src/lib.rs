//! Tessera's coordinator: jobs, tasks, transport, workers, merging, job store and ledger.

pub mod job;
pub mod local;
pub mod merge;
pub mod task;
