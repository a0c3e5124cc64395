//! What to render, as `tessera render` and `tessera submit` both take it.

use std::num::NonZeroU32;
use std::path::PathBuf;

use clap::Args;
use tessera_coordinator::job::{Fps, FrameSet, JobSpec, SizeRequest};
use tessera_renderer::integrator::{MaxDepth, RenderSettings, Spp};

#[derive(Args)]
pub struct JobOptions {
    /// Image width in pixels [default: 1280, or from --height and the camera's aspect ratio].
    #[arg(long, value_name = "W")]
    pub width: Option<u32>,
    /// Image height in pixels [default: from the width and the camera's aspect ratio, or 16:9].
    #[arg(long, value_name = "H")]
    pub height: Option<u32>,
    /// Samples per pixel.
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub spp: u32,
    /// Maximum path length in segments (1: emitters only, 2: direct light, ...).
    #[arg(long, value_name = "D", default_value_t = 8)]
    pub max_depth: u32,
    /// Frames to render: 1, 1-48, 1-48x2 (every 2nd), 1,5,10-20.
    #[arg(long, value_name = "SPEC", default_value = "1")]
    pub frames: FrameSet,
    /// Frames per second of the animation; frame 1 is at time 0.
    #[arg(long, value_name = "F", default_value_t = 24.0)]
    pub fps: f64,
    /// Tile size in pixels: the unit of work a worker renders.
    #[arg(long, value_name = "N", default_value = "64")]
    pub tile: NonZeroU32,
    /// Random seed: the same seed gives the same image.
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
    /// Camera to render through [default: the scene's first].
    #[arg(long, value_name = "NAME")]
    pub camera: Option<String>,
}

impl JobOptions {
    /// The job these options describe for `scene`, every value checked before the scene is read.
    pub fn job(&self, scene: PathBuf) -> anyhow::Result<JobSpec> {
        Ok(JobSpec {
            scene,
            size: SizeRequest::from_sides(self.width, self.height)?,
            settings: RenderSettings {
                spp: Spp::new(self.spp)?,
                max_depth: MaxDepth::new(self.max_depth)?,
                seed: self.seed,
            },
            tile_size: self.tile,
            fps: Fps::new(self.fps)?,
            camera: self.camera.clone(),
            frames: self.frames.clone(),
        })
    }
}
