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
    /// Pixels on a tile's side. A tile's result travels as one broker message: 256 x 256
    /// pixels of 11 floats, deflated and in base64, stay under 4 MiB even when deflate gains
    /// nothing, within RabbitMQ's default largest message (16 MiB) with room to spare. A larger
    /// one would be refused by the broker, and the worker would send it again and again.
    pub max_tile_side: u32,
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
            max_tile_side: 256,
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
            max_tile_side: u32::MAX,
            max_scene_bytes: u64::MAX,
            tenant_scene_quota: u64::MAX,
        }
    }

    /// What can be checked before the scene is read.
    pub fn check_options(&self, options: &JobOptions) -> Result<(), FarmError> {
        let tile = options.tile_size.get();
        if tile > self.max_tile_side {
            return Err(FarmError::InvalidJob(format!(
                "tiles of {tile} px requested; a tile may be at most {} px a side (its result \
                 travels as one message)",
                self.max_tile_side
            )));
        }
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
        let tiles = resolution.tile_count(options.tile_size);
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

#[cfg(test)]
mod tests {
    use tessera_protocol::pixels::EncodedPixels;
    use tessera_renderer::film::Pixels;
    use tessera_transport::MAX_MESSAGE_BYTES;

    use super::*;

    #[test]
    fn the_largest_tiles_result_fits_in_a_message_with_room_to_spare() {
        let side = Limits::default().max_tile_side as usize;
        let n = side * side;
        // Noise, which deflate cannot shrink: the worst case.
        let mut state = 0x9e37_79b9_u32;
        let mut noise = || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            f32::from_bits(state & 0x3fff_ffff)
        };
        let pixels = Pixels {
            color: (0..n)
                .map(|_| [noise(), noise(), noise(), noise()])
                .collect(),
            albedo: (0..n).map(|_| [noise(), noise(), noise()]).collect(),
            normal: (0..n).map(|_| [noise(), noise(), noise()]).collect(),
            depth: (0..n).map(|_| noise()).collect(),
        };
        let encoded = serde_json::to_vec(&EncodedPixels::encode(&pixels)).unwrap();
        assert!(
            encoded.len() < MAX_MESSAGE_BYTES / 4,
            "{} bytes",
            encoded.len()
        );
    }
}
