//! Tessera's coordinator: the farm's manager. It takes jobs, hands their tasks to the
//! transport, checks and records what workers send back, assembles frames, bills every task,
//! and serves the HTTP API. It never links the worker.
//!
//! One tile's way through it: [`server`] takes the submission, [`farm`] validates it
//! ([`validate`]), stores it ([`store`]) and cuts it into tasks ([`plan`]); [`dispatch`]
//! publishes them; [`results`] checks and accepts a worker's tile, writing it ([`frames`]) and
//! billing it ([`billing`]) in one transaction; [`frames`] assembles the frame ([`merge`]) once
//! its last tile is in, and [`live`] shows the tile to whoever watches the job.

pub mod billing;
pub mod dashboard;
pub mod dispatch;
pub mod error;
pub mod farm;
pub mod frame_paths;
pub mod frames;
pub mod job;
pub mod limits;
pub mod listings;
pub mod live;
pub mod measured;
pub mod merge;
pub mod metrics;
pub mod openapi;
pub mod plan;
pub mod quote;
pub mod results;
pub mod routes;
pub mod server;
pub mod standby;
pub mod store;
mod untrusted;
pub mod validate;
pub mod verify;

pub use error::FarmError;
pub use farm::{Farm, FarmConfig, FarmEvents, Submission};
