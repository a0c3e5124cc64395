//! What one job and one tenant may ask of the farm, so that no request, however large, can
//! exhaust the coordinator's memory, disk or time. Each refusal is a clear 400.

use tessera_protocol::job::JobOptions;
use tessera_renderer::film::Resolution;

use crate::error::FarmError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Pixels in one frame: 8192 x 8192 by default.
    pub max_pixels_per_frame: u64,
    /// Frames of one job.
    pub max_frames_per_job: usize,
    /// Tasks (frames x tiles) of one job.
    pub max_tasks_per_job: u64,
    /// Bytes of one uploaded scene.
    pub max_scene_bytes: u64,
    /// Bytes of scenes one tenant may keep stored.
    pub tenant_scene_quota: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_pixels_per_frame: 8192 * 8192,
            max_frames_per_job: 10_000,
            max_tasks_per_job: 100_000,
            max_scene_bytes: 512 << 20,
            tenant_scene_quota: 10 << 30,
        }
    }
}

impl Limits {
    /// No limits: for a job on one's own machine.
    pub fn unlimited() -> Self {
        Self {
            max_pixels_per_frame: u64::MAX,
            max_frames_per_job: usize::MAX,
            max_tasks_per_job: u64::MAX,
            max_scene_bytes: u64::MAX,
            tenant_scene_quota: u64::MAX,
        }
    }

    /// What can be checked before the scene is read.
    pub fn check_options(&self, options: &JobOptions) -> Result<(), FarmError> {
        let frames = options.frames.len();
        if frames > self.max_frames_per_job {
            return Err(FarmError::InvalidJob(format!(
                "{frames} frames requested; a job may have at most {}",
                self.max_frames_per_job
            )));
        }
        Ok(())
    }

    /// What the image size, known once the scene's camera is, allows.
    pub fn check_size(
        &self,
        options: &JobOptions,
        resolution: Resolution,
    ) -> Result<(), FarmError> {
        let pixels = resolution.pixel_count() as u64;
        if pixels > self.max_pixels_per_frame {
            return Err(FarmError::InvalidJob(format!(
                "{resolution} is {pixels} pixels; a frame may have at most {}",
                self.max_pixels_per_frame
            )));
        }
        // Counted, not listed: a frame of one-pixel tiles would not fit in memory.
        let side = u64::from(options.tile_size.get());
        let tiles = u64::from(resolution.width()).div_ceil(side)
            * u64::from(resolution.height()).div_ceil(side);
        let tasks = tiles * options.frames.len() as u64;
        if tasks > self.max_tasks_per_job {
            return Err(FarmError::InvalidJob(format!(
                "{tasks} tasks ({tiles} tiles of {} px x {} frames); a job may have at most {} \
                 (use larger tiles or fewer frames)",
                options.tile_size,
                options.frames.len(),
                self.max_tasks_per_job
            )));
        }
        Ok(())
    }
}
