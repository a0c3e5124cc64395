//! What the GPU backends share: the scene layout, the packing of a frame into it, the final
//! normalisation of a tile's sums.

pub mod layout;
pub mod pack;

use std::time::Duration;

use layout::GpuPixel;

use crate::film::{Pixels, Tile};

/// Turns a tile's per-pixel sums over `spp` samples into the film's pixels, exactly as the CPU
/// integrator does at the end of a pixel.
pub fn finish_pixels(tile: Tile, sums: &[GpuPixel], spp: u32) -> Pixels {
    let mut pixels = Pixels::zeroed(tile.pixel_count());
    let inv_spp = 1.0 / spp as f32;
    for (i, s) in sums.iter().enumerate() {
        let c = glam::Vec3::from(s.color) * inv_spp;
        pixels.color[i] = [c.x, c.y, c.z, s.hits * inv_spp];
        if s.hits > 0.0 {
            let inv_hits = 1.0 / s.hits;
            pixels.albedo[i] = (glam::Vec3::from(s.albedo) * inv_hits).into();
            pixels.normal[i] = glam::Vec3::from(s.normal).normalize_or_zero().into();
            pixels.depth[i] = s.depth * inv_hits;
        }
    }
    pixels
}

/// Wall time one dispatch aims for: far below any driver watchdog (about 2 s on Windows), long
/// enough that launch overhead does not matter.
const TARGET_BATCH: Duration = Duration::from_millis(150);
/// Path samples in a tile's first batch, before the device's speed is known.
const FIRST_BATCH_SAMPLES: u64 = 1 << 16;

/// Cuts a tile's samples per pixel into batches, one dispatch each, sized from the speed of
/// the batches before.
pub struct Batches {
    spp: u32,
    done: u32,
    next: u32,
}

impl Batches {
    pub fn new(spp: u32, pixels: usize) -> Self {
        let first = (FIRST_BATCH_SAMPLES / pixels.max(1) as u64).clamp(1, spp as u64) as u32;
        Self {
            spp,
            done: 0,
            next: first,
        }
    }

    /// The next batch as (first sample, sample count), or `None` when all are done.
    pub fn next_batch(&self) -> Option<(u32, u32)> {
        (self.done < self.spp).then(|| (self.done, self.next.min(self.spp - self.done)))
    }

    /// Records that a batch of `count` samples took `elapsed`; grows at most fourfold a time.
    pub fn finished(&mut self, count: u32, elapsed: Duration) {
        self.done += count;
        let seconds = elapsed.as_secs_f64().max(1e-4);
        let scaled = count as f64 * TARGET_BATCH.as_secs_f64() / seconds;
        self.next = (scaled as u32).clamp(1, self.next.saturating_mul(4));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_cover_every_sample_once() {
        let mut b = Batches::new(100, 64 * 64);
        let mut next_start = 0;
        while let Some((start, count)) = b.next_batch() {
            assert_eq!(start, next_start);
            assert!(count >= 1);
            next_start += count;
            b.finished(count, Duration::from_millis(10));
        }
        assert_eq!(next_start, 100);
    }
}
