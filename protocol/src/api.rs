//! The coordinator's HTTP API: what its routes take and answer (JSON; errors as
//! `{"error": "..."}`). The routes are listed in the README; a job's options travel as the query
//! parameters of [`JobOptions::to_query`](crate::job::JobOptions::to_query).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::auth::Trust;
use crate::id::{JobId, TaskId};
use crate::money::Money;

/// Where a job is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum JobState {
    Running,
    Done,
    Failed,
    Cancelled,
}

impl JobState {
    pub const ALL: [JobState; 4] = [
        JobState::Running,
        JobState::Done,
        JobState::Failed,
        JobState::Cancelled,
    ];

    /// The name used in JSON, the store and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    /// The state named `name`, as [`as_str`](Self::as_str) writes it.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// `201` answer to a submission.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Submitted {
    pub id: JobId,
}

/// `GET /api/jobs/{id}/state` (and the answer to a cancellation).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobStateView {
    pub id: JobId,
    pub state: JobState,
}

/// How far one frame of a job has got.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FrameProgress {
    pub frame: u32,
    pub tiles_done: u64,
    pub tiles_total: u64,
    pub written: bool,
}

/// The most jobs one page of a listing holds, and how many when the query does not say.
pub const JOBS_PAGE_MAX: u32 = 1000;
pub const JOBS_PAGE_DEFAULT: u32 = 100;

/// The most rows one page of a job's tasks or invoice holds, and how many when the query does not
/// say: a job may have 100,000 tasks, and a dashboard polls its invoice.
pub const ROWS_PAGE_MAX: u32 = 10_000;
pub const ROWS_PAGE_DEFAULT: u32 = 1_000;

/// A job as the API shows it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobView {
    pub id: JobId,
    /// The tenant the job belongs to.
    pub tenant: String,
    pub state: JobState,
    pub reason: Option<String>,
    pub scene_name: String,
    pub scene: String,
    pub frames: String,
    pub width: u32,
    pub height: u32,
    pub spp: u32,
    pub tile: u32,
    pub priority: i32,
    pub tasks_total: u64,
    pub tasks_done: u64,
    /// Each frame's progress: in one job's view; empty in listings (a job holds up to 10,000
    /// frames, and a listing up to 1,000 jobs). Always sent, as clients before listings were
    /// paged require it.
    #[serde(default)]
    pub frame_progress: Vec<FrameProgress>,
    /// What the accepted tasks cost so far.
    pub cost: Money,
    /// The most the job may cost; it stops before its invoice passes this.
    pub max_cost: Option<Money>,
    /// What the job was expected to cost and take when it was submitted.
    pub quote: Option<Quote>,
    /// Which workers may render it.
    #[serde(default, skip_serializing_if = "Trust::is_any")]
    pub trust: Trust,
    pub submitted_at: f64,
    pub finished_at: Option<f64>,
}

/// What a submission asks of the farm besides how to render: its priority, the most it may
/// cost, and which workers may render it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Terms {
    pub priority: i32,
    pub max_cost: Option<Money>,
    pub trust: Trust,
}

/// What a job is expected to cost and take, from a pre-pass over a sparse sample of its pixels
/// before anything is queued.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Quote {
    pub cost: Money,
    /// Seconds of rendering with every worker alive when quoted on the job; none when no
    /// worker was alive.
    pub seconds: Option<f64>,
    /// Camera samples: pixels x spp x frames.
    pub samples: u64,
    /// Seconds per sample on the quoting machine's CPU, all its cores: the pre-pass's measure of
    /// the job's work.
    pub probe_seconds_per_sample: f64,
    /// What an hour of that work costs on each device class: a job's prices, fixed when it is
    /// submitted. Each task is charged its samples' work at its worker's class's price.
    #[serde(default)]
    pub work_hour_prices: BTreeMap<String, Money>,
}

/// One accepted task's charge: a row of the coordinator's ledger.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LedgerRow {
    pub task: TaskId,
    pub job: JobId,
    pub frame: u32,
    pub tile: String,
    pub worker: String,
    pub device_class: String,
    pub threads: u32,
    /// The render time the worker reported, bounded by how long it held the task.
    pub render_micros: u64,
    pub samples: u64,
    /// What is charged for, in microseconds: the task's samples at the job's measured seconds
    /// per sample, or for a job nobody measured (a local render) the render time.
    pub work_micros: u64,
    /// The price of an hour of that work on the worker's device class.
    pub hourly: Money,
    pub charge: Money,
}

/// A charge taken back: its worker failed a spot check, and this charge was never verified.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Reversal {
    pub task: TaskId,
    pub worker: String,
    pub amount: Money,
    pub reason: String,
}

/// A job's invoice: its charges, their reversals, and the charges less the reversals.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InvoiceView {
    pub job: JobId,
    pub rows: Vec<LedgerRow>,
    pub reversals: Vec<Reversal>,
    pub total: Money,
}

/// A worker the coordinator has heard from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WorkerView {
    pub name: String,
    pub backend: String,
    pub device: String,
    pub device_class: String,
    pub threads: u32,
    pub first_seen: f64,
    pub last_seen: f64,
    pub tasks_done: u64,
    /// Heard from within the coordinator's lease timeout.
    pub alive: bool,
    pub checks_passed: u64,
    pub checks_failed: u64,
    /// Checks passed in a row.
    pub consecutive_valid: u64,
    /// The share of its results that is checked, which its record sets: all of a new worker's.
    pub check_rate: f64,
    /// Work it renders per second (probe seconds per second of the render time it reported),
    /// over its latest charged results; none before any.
    pub throughput: Option<f64>,
    /// Why the worker may claim no more tasks, if it may not.
    pub blocked: Option<String>,
    /// The task it holds a lease on, if any.
    pub current_task: Option<TaskId>,
}

/// `GET /api/me`: whose token this is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Me {
    pub role: crate::auth::Role,
    pub name: String,
    /// A submitter's tenant.
    pub tenant: Option<String>,
    /// A worker the operator verified: it takes the tasks of verified jobs too.
    #[serde(default)]
    pub verified: bool,
}

/// Where a task is: waiting to be queued, queued (or being rendered), done, or failed for good.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum TaskState {
    Pending,
    Queued,
    Done,
    Failed,
}

impl TaskState {
    pub const ALL: [TaskState; 4] = [
        TaskState::Pending,
        TaskState::Queued,
        TaskState::Done,
        TaskState::Failed,
    ];

    /// The name used in JSON and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Pending => "pending",
            TaskState::Queued => "queued",
            TaskState::Done => "done",
            TaskState::Failed => "failed",
        }
    }

    /// The state named `name`, as [`as_str`](Self::as_str) writes it.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// `GET /api/jobs/{id}/tasks`: one task of a job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskView {
    pub id: TaskId,
    pub frame: u32,
    /// `WxH+X+Y`.
    pub tile: String,
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
    pub state: TaskState,
    pub attempts: u32,
    /// Why its last attempt failed, if it did.
    pub last_error: Option<String>,
}

/// A `tile` event of `GET /api/jobs/{id}/events`: an accepted tile's preview, to draw at (x, y)
/// of its frame (origin top left).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TileEvent {
    pub frame: u32,
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
    /// The tile as a PNG (clamped sRGB), in base64.
    pub png: String,
}

/// A `frame` event of `GET /api/jobs/{id}/events`: the frame is written, and its PNG preview is
/// at `/api/jobs/{id}/frames/{frame}.png`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FrameEvent {
    pub frame: u32,
}

/// Every error answer of the API.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorView {
    pub error: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_states_round_trip_by_name() {
        for state in JobState::ALL {
            assert_eq!(JobState::from_name(state.as_str()), Some(state));
            let json = serde_json::to_string(&state).unwrap();
            assert_eq!(json, format!("\"{}\"", state.as_str()));
        }
        assert_eq!(JobState::from_name("paused"), None);
    }
}
