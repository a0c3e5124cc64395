//! Tessera's worker: takes tasks from the transport, claims each from the coordinator, renders
//! it with the renderer library, and sends the result signed with its lease. It knows the farm
//! only through its contract (`tessera-protocol`) and the transport; it never links the
//! coordinator.
//!
//! - [`run`]: the loop from task to result, and the heartbeat.
//! - [`tile_renderer`]: the rendering thread, which keeps a frame prepared across its tiles.
//! - [`link`]: the coordinator as the worker sees it: scenes, claims, heartbeats.
//! - [`lease`]: the leases in hand, which the heartbeats name.
//! - [`metrics`]: what it counts, for `tessera worker --metrics`.

pub mod lease;
pub mod link;
pub mod metrics;
pub mod run;
pub mod tile_renderer;

pub use link::{HttpLink, Link};
pub use metrics::WorkerMetrics;
pub use run::{DEFAULT_HEARTBEAT, Pace, WorkerError, run_worker};
pub use tile_renderer::{Faults, HeldMap, Preparation, TileRenderer};
