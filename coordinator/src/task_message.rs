//! What travels to a worker: one task, with everything needed to render it and nothing the worker
//! must look up or guess.

use std::fmt;

use serde::{Deserialize, Serialize};
use tessera_renderer::film::{Resolution, Tile};
use tessera_renderer::integrator::RenderSettings;

use crate::scene_store::SceneHash;

/// A job's number in the coordinator's store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(pub i64);

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::str::FromStr for JobId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        s.parse::<i64>()
            .ok()
            .filter(|&n| n > 0)
            .map(JobId)
            .ok_or_else(|| format!("'{s}' is not a job id (a positive number)"))
    }
}

/// A task's number in the coordinator's store, unique across jobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TaskId(pub i64);

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskMessage {
    pub task: TaskId,
    pub job: JobId,
    pub scene: SceneHash,
    pub frame: u32,
    /// Animation time of the frame in seconds, computed once by the coordinator.
    pub time: f32,
    pub camera: Option<String>,
    pub resolution: Resolution,
    pub tile: Tile,
    pub settings: RenderSettings,
    /// 1 for the first try.
    pub attempt: u32,
    /// After a failure on this attempt the task goes to the dead-letter queue.
    pub max_attempts: u32,
}

impl TaskMessage {
    /// Camera samples this task takes.
    pub fn samples(&self) -> u64 {
        self.tile.pixel_count() as u64 * u64::from(self.settings.spp.get())
    }

    /// The same task, to be tried once more.
    pub fn retry(&self) -> Self {
        Self {
            attempt: self.attempt + 1,
            ..self.clone()
        }
    }

    pub fn is_last_attempt(&self) -> bool {
        self.attempt >= self.max_attempts
    }
}
