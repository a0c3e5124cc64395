//! Deterministic random numbers: a sample's stream depends only on (seed, frame, pixel x,
//! pixel y, sample index), so images do not depend on tiling, threads or workers.
//!
//! Only 32-bit integer operations are used so the WGSL and CUDA backends can compute the very
//! same numbers (`shaders/` mirrors [`hash`] and [`SampleStream`]).

use crate::lane::{F, U};

/// A 32-bit integer hash with good avalanche (the "lowbias32" finaliser).
#[inline(always)]
pub fn hash(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^= x >> 16;
    x
}

/// The random numbers of one camera sample: a PCG32 generator whose state and stream are
/// derived from the sample's coordinates.
#[derive(Clone, Copy, Debug)]
pub struct SampleStream {
    state: u32,
    inc: u32,
}

/// The part of every sample's stream that one pixel shares: its hash of (seed, frame, x, y),
/// worked out once per pixel rather than once per sample.
#[derive(Clone, Copy, Debug)]
pub struct PixelStreams {
    prefix: u32,
}

impl PixelStreams {
    pub fn new(seed: u64, frame: u32, x: u32, y: u32) -> Self {
        let mut h = hash(seed as u32 ^ 0x9e37_79b9);
        h = hash(h ^ (seed >> 32) as u32);
        h = hash(h ^ frame);
        h = hash(h ^ x);
        Self {
            prefix: hash(h ^ y),
        }
    }

    /// The stream of the pixel's sample `sample`.
    #[inline(always)]
    pub fn sample(self, sample: u32) -> SampleStream {
        let state = hash(self.prefix ^ sample);
        let inc = (hash(state ^ 0x85eb_ca6b) << 1) | 1;
        let mut s = SampleStream { state, inc };
        s.next_u32();
        s
    }
}

/// The streams of [`LANES`] consecutive samples of one pixel, drawn side by side: lane `i`
/// draws what [`PixelStreams::sample`] of sample `first + i` would.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SampleLanes {
    state: U,
    inc: U,
}

impl PixelStreams {
    /// Samples `first..first + LANES` of the pixel, as [`SampleLanes`].
    #[inline(always)]
    pub(crate) fn lanes(self, first: u32) -> SampleLanes {
        let state = U::from_fn(|i| hash(self.prefix ^ first.wrapping_add(i as u32)));
        let inc = state.map(|s| (hash(s ^ 0x85eb_ca6b) << 1) | 1);
        let mut s = SampleLanes { state, inc };
        s.next_u32();
        s
    }
}

impl SampleLanes {
    /// [`SampleStream::next_u32`] in every lane.
    #[inline(always)]
    fn next_u32(&mut self) -> U {
        let old = self.state;
        self.state = old.zip(self.inc, |s, inc| {
            s.wrapping_mul(747_796_405).wrapping_add(inc)
        });
        old.map(|old| {
            let word = ((old >> ((old >> 28) + 4)) ^ old).wrapping_mul(277_803_737);
            (word >> 22) ^ word
        })
    }

    /// [`SampleStream::next_f32`] in every lane.
    #[inline(always)]
    pub(crate) fn next_f32(&mut self) -> F {
        let u = self.next_u32();
        F::from_fn(|i| (u.0[i] >> 8) as f32 * (1.0 / 16_777_216.0))
    }
}

impl SampleStream {
    pub fn new(seed: u64, frame: u32, x: u32, y: u32, sample: u32) -> Self {
        PixelStreams::new(seed, frame, x, y).sample(sample)
    }

    #[inline(always)]
    pub fn next_u32(&mut self) -> u32 {
        // PCG-RXS-M-XS 32/32.
        let old = self.state;
        self.state = old.wrapping_mul(747_796_405).wrapping_add(self.inc);
        let word = ((old >> ((old >> 28) + 4)) ^ old).wrapping_mul(277_803_737);
        (word >> 22) ^ word
    }

    /// Uniform in [0, 1): 24 random bits, exactly representable.
    #[inline(always)]
    pub fn next_f32(&mut self) -> f32 {
        (self.next_u32() >> 8) as f32 * (1.0 / 16_777_216.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lane::LANES;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u32> = {
            let mut s = SampleStream::new(7, 1, 10, 20, 3);
            (0..4).map(|_| s.next_u32()).collect()
        };
        let b: Vec<u32> = {
            let mut s = SampleStream::new(7, 1, 10, 20, 3);
            (0..4).map(|_| s.next_u32()).collect()
        };
        assert_eq!(a, b);
        let mut other = SampleStream::new(7, 1, 10, 20, 4);
        assert_ne!(a[0], other.next_u32());
    }

    #[test]
    fn lanes_draw_what_each_sample_draws_alone() {
        let pixel = PixelStreams::new(9, 2, 30, 40);
        let mut lanes = pixel.lanes(32);
        let mut alone: Vec<SampleStream> =
            (0..LANES as u32).map(|i| pixel.sample(32 + i)).collect();
        for _ in 0..5 {
            let drawn = lanes.next_f32();
            for (i, s) in alone.iter_mut().enumerate() {
                assert_eq!(drawn.0[i].to_bits(), s.next_f32().to_bits());
            }
        }
    }

    #[test]
    fn uniform_mean_is_one_half() {
        let mut sum = 0.0f64;
        let n = 100_000;
        for i in 0..n {
            let mut s = SampleStream::new(1, 1, i, 0, 0);
            let v = s.next_f32();
            assert!((0.0..1.0).contains(&v));
            sum += v as f64;
        }
        assert!((sum / n as f64 - 0.5).abs() < 0.005);
    }
}
