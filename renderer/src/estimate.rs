//! A pixel's estimate with the spread of its samples, and whether a value that another backend
//! computed for the same pixel agrees with it.
//!
//! Every backend draws the same random numbers for a sample, so the paths are the same and the
//! values differ only by float rounding (transcendental functions, fused multiply-adds, the
//! order of sums), except where a path diverges: a ray grazing an edge hits on one backend and
//! misses on the other, and from there the two paths are unrelated. [`Estimate::agrees`] allows
//! the rounding and a sliver of the pixel's noise; a diverged path usually makes a pixel
//! disagree. That is rare between honest backends, and the rule for a pixel rendered with fewer
//! samples, with other random numbers, or for another pixel.

use glam::Vec3;

use crate::film::{NO_HIT_DEPTH, Pixel};

/// Rounding allowed between backends, relative to the larger of the two values.
const ROUNDING: f32 = 1e-4;
/// Part of the estimate's standard error allowed: small against the error of an estimate with
/// half the samples (one standard error), large against rounding in a noisy pixel.
const OF_NOISE: f32 = 0.05;
/// Rounding allowed in a unit normal's components.
const NORMAL_ROUNDING: f32 = 1e-3;

/// The share of an honest backend's samples whose path may diverge from the CPU's: five times
/// the most measured, 2 in 49,152 samples of lavapipe and of the CUDA kernel on the host
/// (renderer/tests/common/spot_checks.rs measures it for each backend).
pub const DIVERGED_PER_SAMPLE: f64 = 2e-4;

/// The most an honest backend's pixels of `spp` samples disagree with the CPU's estimates, as
/// a share: a pixel disagrees when any of its samples diverged.
pub fn honest_disagreement(spp: u32) -> f64 {
    (DIVERGED_PER_SAMPLE * f64::from(spp)).min(1.0)
}

/// The most pixels out of `checked` (of `spp` samples each) that may disagree with the CPU's
/// estimates, when an honest backend may exceed it with probability at most `false_alarm`: its
/// pixels disagree independently with probability at most [`honest_disagreement`], so this is
/// the binomial tail.
pub fn allowed_disagreements(checked: usize, spp: u32, false_alarm: f64) -> usize {
    let p = honest_disagreement(spp);
    if p >= 1.0 {
        return checked;
    }
    let n = checked as i32;
    // P(X = k) for k = 0..=n, built up by the ratio of successive terms.
    let mut term = (1.0 - p).powi(n);
    let mut at_most = 0.0;
    for k in 0..=n {
        at_most += term;
        if 1.0 - at_most < false_alarm {
            return k as usize;
        }
        term *= f64::from(n - k) / f64::from(k + 1) * p / (1.0 - p);
    }
    checked
}

/// A pixel as the CPU backend estimates it, with what its samples tell of their spread.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    pub pixel: Pixel,
    /// Standard deviation of one sample's radiance (R, G, B) and of whether it hit (alpha).
    pub spread: [f32; 4],
    pub spp: u32,
}

impl Estimate {
    /// Whether `other`, the same pixel from another backend, is this estimate up to rounding
    /// and a sliver of noise, in every output.
    pub fn agrees(&self, other: &Pixel) -> bool {
        let standard_error = |c: usize| self.spread[c] / (self.spp as f32).sqrt();
        let close = |a: f32, b: f32, noise: f32| {
            (a - b).abs() <= ROUNDING * a.abs().max(b.abs()) + OF_NOISE * noise
        };
        let p = &self.pixel;
        let color = (0..4).all(|c| close(p.color[c], other.color[c], standard_error(c)));
        // First-hit outputs average over the samples that hit, so their noise is not measured;
        // they agree to rounding unless a first hit diverged.
        let albedo = (0..3).all(|c| close(p.albedo[c], other.albedo[c], 0.0));
        let normal = (0..3).all(|c| (p.normal[c] - other.normal[c]).abs() <= NORMAL_ROUNDING);
        let depth = (p.depth == NO_HIT_DEPTH) == (other.depth == NO_HIT_DEPTH)
            && close(p.depth, other.depth, 0.0);
        color && albedo && normal && depth
    }
}

/// Running sums of a pixel's samples as [`crate::integrator::PathTracer::pixel`] shows them, in
/// f64 so that many samples lose nothing.
#[derive(Default)]
pub(crate) struct Moments {
    n: u32,
    sum: [f64; 4],
    sum_squares: [f64; 4],
}

impl Moments {
    pub(crate) fn add(&mut self, radiance: Vec3, hit: bool) {
        let values = [radiance.x, radiance.y, radiance.z, f32::from(u8::from(hit))];
        for (c, v) in values.into_iter().enumerate() {
            let v = f64::from(v);
            self.sum[c] += v;
            self.sum_squares[c] += v * v;
        }
        self.n += 1;
    }

    pub(crate) fn estimate(&self, pixel: Pixel) -> Estimate {
        let n = f64::from(self.n.max(1));
        let spread = std::array::from_fn(|c| {
            let mean = self.sum[c] / n;
            ((self.sum_squares[c] / n - mean * mean).max(0.0)).sqrt() as f32
        });
        Estimate {
            pixel,
            spread,
            spp: self.n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn estimate(color: [f32; 4], spread: [f32; 4], spp: u32) -> Estimate {
        Estimate {
            pixel: Pixel {
                color,
                albedo: [0.5; 3],
                normal: [0.0, 0.0, 1.0],
                depth: 2.0,
            },
            spread,
            spp,
        }
    }

    #[test]
    fn rounding_agrees_and_an_error_of_half_a_standard_error_does_not() {
        let e = estimate([1.0, 0.5, 0.25, 1.0], [0.8, 0.4, 0.2, 0.0], 64);
        let mut other = e.pixel;
        other.color[0] *= 1.0 + 5e-5;
        assert!(e.agrees(&other));
        // Standard error of red: 0.8 / 8 = 0.1.
        other.color[0] = 1.05;
        assert!(!e.agrees(&other));
        let mut other = e.pixel;
        other.depth = NO_HIT_DEPTH;
        assert!(!e.agrees(&other), "a hit that the other backend missed");
    }

    #[test]
    fn moments_give_the_standard_deviation_of_a_sample() {
        let mut m = Moments::default();
        for v in [1.0, 3.0] {
            m.add(Vec3::splat(v), v > 2.0);
        }
        let e = m.estimate(estimate([2.0; 4], [0.0; 4], 2).pixel);
        assert_eq!(e.spp, 2);
        assert_eq!(e.spread, [1.0, 1.0, 1.0, 0.5]);
    }
}
