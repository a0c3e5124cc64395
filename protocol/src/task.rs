//! What travels to a worker: one task, with everything needed to render it and nothing the worker
//! must look up or guess.

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
    /// After a failure on this attempt the coordinator fails the task for good.
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
