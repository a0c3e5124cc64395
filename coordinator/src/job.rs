//! A job as the coordinator runs and stores it: its options, resolved against the scene.

use std::num::NonZeroU32;

use serde::{Deserialize, Serialize};
use tessera_protocol::job::{Fps, FrameSet, JobOptions};
use tessera_renderer::camera::View;
use tessera_renderer::environment::EnvironmentSetting;
use tessera_renderer::film::Resolution;
use tessera_renderer::settings::RenderSettings;

/// How a job is rendered, stored with it: the options as submitted, with the image size resolved
/// to a resolution and the attempt limit of the coordinator that took it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobSpec {
    pub frames: FrameSet,
    pub resolution: Resolution,
    pub settings: RenderSettings,
    pub tile_size: NonZeroU32,
    pub fps: Fps,
    pub camera: Option<String>,
    #[serde(default, skip_serializing_if = "View::is_empty")]
    pub view: View,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<EnvironmentSetting>,
    pub max_attempts: u32,
}

impl JobSpec {
    pub fn new(options: JobOptions, resolution: Resolution, max_attempts: u32) -> Self {
        Self {
            frames: options.frames,
            resolution,
            settings: options.settings,
            tile_size: options.tile_size,
            fps: options.fps,
            camera: options.camera,
            view: options.view,
            environment: options.environment,
            max_attempts,
        }
    }
}
