//! What to render, as `tessera render` and `tessera submit` both take it on the command line;
//! the defaults are the protocol's.

use std::num::NonZeroU32;

use clap::Args;
use tessera_protocol::job::{
    DEFAULT_FPS, DEFAULT_FRAMES, DEFAULT_MAX_DEPTH, DEFAULT_SEED, DEFAULT_SPP, DEFAULT_TILE, Fps,
    FrameSet, JobOptions, SizeRequest, environment_setting,
};
use tessera_renderer::camera::{FieldOfView, Point, View};
use tessera_renderer::environment::{Rotation, Strength};
use tessera_renderer::settings::{MaxDepth, RenderSettings, Spp};

#[derive(Args)]
pub struct JobArgs {
    /// Image width in pixels [default: 1280, or from --height and the camera's aspect ratio].
    #[arg(long, value_name = "W")]
    pub width: Option<u32>,
    /// Image height in pixels [default: from the width and the camera's aspect ratio, or 16:9].
    #[arg(long, value_name = "H")]
    pub height: Option<u32>,
    /// Samples per pixel.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_SPP)]
    pub spp: u32,
    /// Maximum path length in segments (1: emitters only, 2: direct light, ...).
    #[arg(long, value_name = "D", default_value_t = DEFAULT_MAX_DEPTH)]
    pub max_depth: u32,
    /// Frames to render: 1, 1-48, 1-48x2 (every 2nd), 1,5,10-20.
    #[arg(long, value_name = "SPEC", default_value = DEFAULT_FRAMES)]
    pub frames: FrameSet,
    /// Frames per second of the animation; frame 1 is at time 0.
    #[arg(long, value_name = "F", default_value_t = DEFAULT_FPS)]
    pub fps: f64,
    /// Tile size in pixels: the unit of work a worker renders.
    #[arg(long, value_name = "N", default_value_t = NonZeroU32::new(DEFAULT_TILE).expect("nonzero"))]
    pub tile: NonZeroU32,
    /// Random seed: the same seed gives the same image.
    #[arg(long, value_name = "S", default_value_t = DEFAULT_SEED)]
    pub seed: u64,
    /// Camera to render through [default: the scene's first].
    #[arg(long, value_name = "NAME")]
    pub camera: Option<String>,
    /// Look from this point instead of the camera's position.
    #[arg(long, value_name = "X,Y,Z", allow_hyphen_values = true)]
    pub look_from: Option<Point>,
    /// Look at this point instead of along the camera's direction (+Y stays up).
    #[arg(long, value_name = "X,Y,Z", allow_hyphen_values = true)]
    pub look_at: Option<Point>,
    /// Vertical field of view in degrees instead of the camera's.
    #[arg(long, value_name = "DEG")]
    pub fov: Option<FieldOfView>,
    /// Light the scene with this equirectangular HDR map (.hdr or .exr), beside its own lights.
    #[arg(long, value_name = "FILE")]
    pub environment: Option<String>,
    /// Multiply the environment map's radiance [default: 1].
    #[arg(long, value_name = "S", allow_negative_numbers = true)]
    pub environment_strength: Option<Strength>,
    /// Turn the environment map about the up axis, counter-clockwise seen from above [default: 0].
    #[arg(long, value_name = "DEG", allow_negative_numbers = true)]
    pub environment_rotation: Option<Rotation>,
}

impl JobArgs {
    /// The options these arguments describe, every value checked before any scene is read.
    pub fn options(&self) -> anyhow::Result<JobOptions> {
        let options = JobOptions {
            frames: self.frames.clone(),
            size: SizeRequest::from_sides(self.width, self.height)?,
            settings: RenderSettings {
                spp: Spp::new(self.spp)?,
                max_depth: MaxDepth::new(self.max_depth)?,
                seed: self.seed,
            },
            tile_size: self.tile,
            fps: Fps::new(self.fps)?,
            camera: self.camera.clone(),
            view: View {
                look_from: self.look_from,
                look_at: self.look_at,
                fov: self.fov,
            },
            environment: environment_setting(
                self.environment.clone(),
                self.environment_strength,
                self.environment_rotation,
            )?,
        };
        options.check()?;
        Ok(options)
    }
}
