//! What the GPU backends share: the scene layout, the packing of a frame into it, the final
//! normalisation of a tile's sums, and the device classes used for billing.

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

/// The billing class of a GPU from its name: the price table's key for the models it knows,
/// `gpu` for any other hardware GPU, `cpu` for a software rasteriser such as lavapipe.
pub fn device_class(name: &str, software: bool) -> String {
    if software {
        return "cpu".into();
    }
    // Names come as "NVIDIA H100 80GB HBM3", "NVIDIA A100-SXM4-40GB", "GeForce RTX 4090": compare
    // whole words, and pairs of words for models written with a space.
    let lower = name.to_ascii_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let pairs = words.windows(2).map(|p| format!("{}{}", p[0], p[1]));
    let candidates: Vec<String> = words.iter().map(|w| w.to_string()).chain(pairs).collect();
    const KNOWN: [&str; 12] = [
        "h200", "h100", "a100", "a10", "l40s", "l40", "l4", "t4", "rtx4090", "rtx3090", "rtx6000",
        "v100",
    ];
    KNOWN
        .iter()
        .find(|k| candidates.iter().any(|c| c == *k))
        .map_or_else(|| "gpu".into(), |k| (*k).into())
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

    #[test]
    fn device_classes_from_names() {
        assert_eq!(device_class("NVIDIA H100 80GB HBM3", false), "h100");
        assert_eq!(device_class("NVIDIA A100-SXM4-40GB", false), "a100");
        assert_eq!(device_class("NVIDIA GeForce RTX 4090", false), "rtx4090");
        assert_eq!(device_class("NVIDIA L40S", false), "l40s");
        assert_eq!(device_class("NVIDIA L4", false), "l4");
        assert_eq!(device_class("AMD Radeon RX 7900 XTX", false), "gpu");
        assert_eq!(
            device_class("llvmpipe (LLVM 15.0.6, 256 bits)", true),
            "cpu"
        );
    }
}
