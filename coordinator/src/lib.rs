//! Tessera's coordinator: jobs, tasks, transport, workers, merging, job store and ledger.

pub mod api;
pub mod client;
pub mod coordinator;
pub mod job;
pub mod ledger;
pub mod local;
pub mod merge;
pub mod scene_archive;
pub mod scene_store;
pub mod store;
pub mod task;
pub mod task_message;
pub mod tile_result;
pub mod transport;
pub mod worker;
