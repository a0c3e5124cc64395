//! What travels to a worker: a bundle of tasks (usually one), each with everything needed to
//! render it and nothing the worker must look up or guess.

use serde::{Deserialize, Serialize};
use tessera_renderer::camera::View;
use tessera_renderer::environment::EnvironmentSetting;
use tessera_renderer::film::{Resolution, Tile};
use tessera_renderer::settings::RenderSettings;

use crate::auth::Trust;
use crate::id::{JobId, TaskId};
use crate::scene::SceneHash;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskMessage {
    pub task: TaskId,
    pub job: JobId,
    pub scene: SceneHash,
    pub frame: u32,
    /// Animation time of the frame in seconds, computed once by the coordinator.
    pub time: f32,
    pub camera: Option<String>,
    /// The job's view, overriding the camera as far as it says.
    #[serde(default, skip_serializing_if = "View::is_empty")]
    pub view: View,
    /// The job's environment map, a file of its scene bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<EnvironmentSetting>,
    pub resolution: Resolution,
    pub tile: Tile,
    pub settings: RenderSettings,
    /// 1 for the first try.
    pub attempt: u32,
    /// After a failure on this attempt the coordinator fails the task for good, once more than
    /// one worker has failed it (until then it gives a few more).
    pub max_attempts: u32,
    /// Which workers may render it: the transport queues a verified job's tasks apart.
    #[serde(default, skip_serializing_if = "Trust::is_any")]
    pub trust: Trust,
}

impl TaskMessage {
    /// Camera samples this task takes.
    pub fn samples(&self) -> u64 {
        self.tile.pixel_count() as u64 * u64::from(self.settings.spp.get())
    }

    /// What the frame it renders depends on.
    pub fn frame_key(&self) -> FrameKey {
        FrameKey {
            scene: self.scene,
            time_bits: self.time.to_bits(),
            camera: self.camera.clone(),
            view: self.view,
            environment: self.environment.clone(),
        }
    }
}

/// What a task's frame depends on: tasks with equal keys render the same frame, so whoever
/// renders them in turn prepares it (poses, BVH) once.
#[derive(Clone, Debug, PartialEq)]
pub struct FrameKey {
    scene: SceneHash,
    time_bits: u32,
    camera: Option<String>,
    view: View,
    environment: Option<EnvironmentSetting>,
}

/// Tasks one message may carry at most.
pub const MAX_BUNDLE: usize = 16;

/// What one message on a task queue carries: one task, or several tiny tasks of one job, so
/// that tasks of a few milliseconds are not outweighed by their messaging (as a Deadline job
/// renders several frames a task). Each task in it is still claimed, rendered, checked and
/// billed on its own. Never empty, at most [`MAX_BUNDLE`] tasks, all of one job (so of one
/// queue).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "BundleFields")]
pub struct TaskBundle {
    tasks: Vec<TaskMessage>,
}

/// A bundle as it arrives, checked before it is one.
#[derive(Deserialize)]
struct BundleFields {
    tasks: Vec<TaskMessage>,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    #[error("a task bundle holds no task")]
    Empty,
    #[error("a task bundle holds {0} tasks; at most {MAX_BUNDLE}")]
    TooMany(usize),
    #[error("a task bundle mixes tasks of several jobs")]
    MixedJobs,
    #[error("a task bundle holds task {0} twice")]
    Repeated(TaskId),
}

impl TaskBundle {
    pub fn new(tasks: Vec<TaskMessage>) -> Result<Self, BundleError> {
        let Some(first) = tasks.first() else {
            return Err(BundleError::Empty);
        };
        if tasks.len() > MAX_BUNDLE {
            return Err(BundleError::TooMany(tasks.len()));
        }
        if tasks
            .iter()
            .any(|t| t.job != first.job || t.trust != first.trust)
        {
            return Err(BundleError::MixedJobs);
        }
        // A task twice would be claimed and rendered twice (the second result then refused).
        for (i, t) in tasks.iter().enumerate() {
            if tasks[..i].iter().any(|earlier| earlier.task == t.task) {
                return Err(BundleError::Repeated(t.task));
            }
        }
        Ok(Self { tasks })
    }

    pub fn one(task: TaskMessage) -> Self {
        Self { tasks: vec![task] }
    }

    pub fn tasks(&self) -> &[TaskMessage] {
        &self.tasks
    }

    /// Which workers may render its tasks: the transport queues a verified job's apart.
    pub fn trust(&self) -> Trust {
        self.tasks[0].trust
    }
}

impl TryFrom<BundleFields> for TaskBundle {
    type Error = BundleError;

    fn try_from(fields: BundleFields) -> Result<Self, BundleError> {
        Self::new(fields.tasks)
    }
}
