//! The farm's contract: what the coordinator, its workers and its clients say to each other,
//! and nothing of how any of them works inside. Serde types only, plus the HTTP client behind the
//! `client` feature; no database, web server or message broker.
//!
//! - [`id`]: job and task numbers.
//! - [`job`]: a job's render options ([`job::JobOptions`]), with their defaults.
//! - [`task`] and [`result`]: the messages on the task and result queues; [`pixels`]: how a
//!   result's pixels travel.
//! - [`api`]: the HTTP API's requests and answers; [`auth`]: roles and tokens; [`lease`]: how
//!   a worker claims a task and signs its result; [`money`]: amounts in micro-dollars.
//! - [`device`]: the device classes prices are keyed by; [`metrics`]: the `/metrics` format.
//! - [`printable`]: which characters of others' text may be shown as they are;
//!   [`credentials`]: addresses shown without the passwords in them.
//! - [`scene`]: scenes named by their SHA-256, stored as blobs, and packed as archives.

pub mod api;
pub mod auth;
#[cfg(feature = "client")]
pub mod client;
pub mod credentials;
pub mod device;
pub mod id;
pub mod job;
pub mod lease;
pub mod metrics;
pub mod money;
pub mod pixels;
pub mod printable;
pub mod result;
pub mod scene;
pub mod task;
