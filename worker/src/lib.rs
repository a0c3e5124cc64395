//! Tessera's worker: takes tasks from the transport, renders them with the renderer library, and
//! sends results back. It knows the farm only through its contract (`tessera-protocol`) and the
//! transport; it never links the coordinator.
//!
//! - [`run`]: the loop from task to result.
//! - [`tile_renderer`]: the rendering thread, which keeps a frame prepared across its tiles.
//! - [`scene_source`]: where scenes come from, and whether a job still runs.

pub mod run;
pub mod scene_source;
pub mod tile_renderer;

pub use run::run_worker;
pub use scene_source::{HttpSceneSource, SceneSource};
pub use tile_renderer::{Preparation, TileRenderer};
