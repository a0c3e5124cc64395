//! The transcendental functions the renderer needs, in plain `f32` arithmetic.
//!
//! `f32::sin` and its kin call the C library, whose results differ in the last bit between
//! its versions (glibc 2.41 made many float functions correctly rounded), between its variants
//! for processors with and without FMA (glibc picks one at run time), and between
//! architectures. A CPU worker's pixels are checked bit for bit against the verifier's, so
//! pixels must not depend on those. These use only +, -, *, / and square roots, in a fixed
//! order without fused multiply-add: IEEE 754 rounds each the same on every machine.
//!
//! The polynomials are Cephes' single-precision ones (Moshier), accurate to a few ulp over the
//! ranges a renderer uses; they are also faster than the C library's calls (inlined, no
//! dispatch).

use std::f32::consts::{FRAC_PI_2, FRAC_PI_4, PI};

/// sin(x) and cos(x). Accurate to a few ulp for |x| up to about 8192; deterministic beyond.
#[inline]
pub fn sin_cos(x: f32) -> (f32, f32) {
    if !x.is_finite() {
        return (f32::NAN, f32::NAN);
    }
    let (a, sin_sign) = if x < 0.0 { (-x, -1.0) } else { (x, 1.0) };
    // The octant, rounded up to an even one, and the argument reduced about it by pi/4 in
    // three parts (Cody and Waite), so the reduction loses little.
    let (mut j, mut y) = octant(a);
    if j & 1 == 1 {
        j = j.wrapping_add(1);
        y += 1.0;
    }
    let j = j & 7;
    let r = ((a - y * 0.785_156_25) - y * 2.418_756_5e-4) - y * 3.774_895e-8;
    let z = r * r;
    let s = ((-1.951_529_6e-4 * z + 8.332_161e-3) * z - 1.666_665_5e-1) * z * r + r;
    let c = ((2.443_315_7e-5 * z - 1.388_731_6e-3) * z + 4.166_664_6e-2) * z * z - 0.5 * z + 1.0;
    let (sin, cos) = match j {
        0 => (s, c),
        2 => (c, -s),
        4 => (-s, -c),
        _ => (-c, s),
    };
    (sin * sin_sign, cos)
}

/// The octant `a` (at least 0, or NaN) lies in, as an integer and as an `f32`. Octants past
/// 2^22 (|x| beyond 3.3e6) count as 2^22: deterministic and meaningless, as callers bring
/// angles into range first. The count goes through the bits of 2^23 + octant, exactly, rather
/// than a cast, which saturates and which the compiler leaves a lane at a time in vector code
/// (`lane::sin_cos` calls this in each lane).
#[inline(always)]
pub(crate) fn octant(a: f32) -> (u32, f32) {
    let octant = (a * (4.0 / PI)).min(4_194_304.0).trunc();
    ((octant + 8_388_608.0).to_bits() - 0x4b00_0000, octant)
}

#[inline]
pub fn sin(x: f32) -> f32 {
    sin_cos(x).0
}

#[inline]
pub fn cos(x: f32) -> f32 {
    sin_cos(x).1
}

#[inline]
pub fn tan(x: f32) -> f32 {
    let (s, c) = sin_cos(x);
    s / c
}

/// asin(|x|) for |x| <= 1.
#[inline]
fn asin_abs(x: f32) -> f32 {
    let a = x.abs();
    if a > 0.5 {
        let z = 0.5 * (1.0 - a);
        let s = z.sqrt();
        FRAC_PI_2 - 2.0 * asin_poly(s, z)
    } else {
        asin_poly(a, a * a)
    }
}

/// Cephes' asinf polynomial: asin(s) for s in [0, 1/2], with z = s * s.
#[inline]
fn asin_poly(s: f32, z: f32) -> f32 {
    ((((4.216_32e-2 * z + 2.418_131e-2) * z + 4.547_002_6e-2) * z + 7.495_300_3e-2) * z
        + 1.666_675_2e-1)
        * z
        * s
        + s
}

/// acos(x), for x in [-1, 1]; NaN outside.
#[inline]
pub fn acos(x: f32) -> f32 {
    if x.abs() > 1.0 || x.is_nan() {
        return f32::NAN;
    }
    if x < -0.5 {
        PI - 2.0 * asin_abs((0.5 * (1.0 + x)).sqrt())
    } else if x > 0.5 {
        2.0 * asin_abs((0.5 * (1.0 - x)).sqrt())
    } else {
        FRAC_PI_2 - asin_abs(x).copysign(x)
    }
}

/// atan(x).
#[inline]
fn atan(x: f32) -> f32 {
    if x.is_nan() {
        return x;
    }
    let a = x.abs();
    // Reduced to |t| <= tan(pi/8) about 0, pi/4 or pi/2.
    let (base, t) = if a > 2.414_213_6 {
        (FRAC_PI_2, -1.0 / a)
    } else if a > 0.414_213_57 {
        (FRAC_PI_4, (a - 1.0) / (a + 1.0))
    } else {
        (0.0, a)
    };
    let z = t * t;
    let poly = ((8.053_744_5e-2 * z - 1.387_768_6e-1) * z + 1.997_771_1e-1) * z - 3.333_295e-1;
    let r = base + (poly * z * t + t);
    r.copysign(x)
}

/// atan2(y, x): the angle of (x, y) from the +x axis, in [-pi, pi].
#[inline]
pub fn atan2(y: f32, x: f32) -> f32 {
    if x.is_nan() || y.is_nan() {
        return f32::NAN;
    }
    if x == 0.0 {
        return if y == 0.0 {
            if x.is_sign_negative() {
                PI.copysign(y)
            } else {
                y
            }
        } else {
            FRAC_PI_2.copysign(y)
        };
    }
    if x.is_infinite() {
        let angle = match (y.is_infinite(), x > 0.0) {
            (true, true) => FRAC_PI_4,
            (true, false) => 3.0 * FRAC_PI_4,
            (false, true) => 0.0,
            (false, false) => PI,
        };
        return angle.copysign(y);
    }
    if y.is_infinite() {
        return FRAC_PI_2.copysign(y);
    }
    let t = atan(y / x);
    if x > 0.0 {
        t
    } else if y.is_sign_negative() {
        t - PI
    } else {
        t + PI
    }
}

/// 2^n as an `f32`, for n in [-126, 127].
#[inline]
fn exp2i(n: i32) -> f32 {
    f32::from_bits(((n + 127) as u32) << 23)
}

/// e^x.
#[inline]
pub fn exp(x: f32) -> f32 {
    if x.is_nan() {
        return x;
    }
    if x > 88.722_84 {
        return f32::INFINITY;
    }
    if x < -103.972_08 {
        return 0.0;
    }
    // x = n ln 2 + r, |r| <= ln 2 / 2, with ln 2 in two parts.
    let n = (std::f32::consts::LOG2_E * x + 0.5).floor();
    let r = (x - n * 0.693_359_4) - n * -2.121_944_4e-4;
    let z = r * r;
    let p = (((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2)
        * r
        + 1.666_666_5e-1)
        * r
        + 0.5)
        * z
        + r
        + 1.0;
    let n = n as i32;
    // Split the scale so that neither factor overflows or underflows on its own.
    let half = n / 2;
    p * exp2i(half) * exp2i(n - half)
}

/// ln(x): NaN below zero, -inf at zero.
#[inline]
pub fn ln(x: f32) -> f32 {
    if x.is_nan() || x < 0.0 {
        return f32::NAN;
    }
    if x == 0.0 {
        return f32::NEG_INFINITY;
    }
    if x.is_infinite() {
        return x;
    }
    // x = m 2^e with m in [sqrt(1/2), sqrt(2)).
    let (mut m, mut e) = if x.is_subnormal() {
        let scaled = x * exp2i(25);
        (scaled, -25)
    } else {
        (x, 0)
    };
    let bits = m.to_bits();
    e += ((bits >> 23) & 0xff) as i32 - 126;
    m = f32::from_bits((bits & 0x007f_ffff) | 0x3f00_0000);
    let t = if m < std::f32::consts::FRAC_1_SQRT_2 {
        e -= 1;
        m + m - 1.0
    } else {
        m - 1.0
    };
    let z = t * t;
    let mut y = ((((((((7.037_683_6e-2 * t - 1.151_461e-1) * t + 1.167_699_9e-1) * t
        - 1.242_014_1e-1)
        * t
        + 1.424_932_3e-1)
        * t
        - 1.666_805_8e-1)
        * t
        + 2.000_071_5e-1)
        * t
        - 2.499_999_4e-1)
        * t
        + 3.333_333e-1)
        * t
        * z;
    let fe = e as f32;
    y += fe * -2.121_944_4e-4;
    y += -0.5 * z;
    t + y + fe * 0.693_359_4
}

/// x^y for x >= 0 (NaN below zero); as `f32::powf` at x = 0 and x = 1 and for y = 0.
#[inline]
pub fn powf(x: f32, y: f32) -> f32 {
    if y == 0.0 || x == 1.0 {
        return 1.0;
    }
    if x == 0.0 {
        return if y > 0.0 { 0.0 } else { f32::INFINITY };
    }
    exp(y * ln(x))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One function checked over a range: name, ours, the f64 reference, the range, whether
    /// errors are judged absolutely (in f32 epsilons) rather than relatively, and the limit in
    /// ulp.
    type Case = (
        &'static str,
        fn(f32) -> f32,
        fn(f64) -> f64,
        (f32, f32),
        bool,
        f64,
    );

    #[test]
    fn each_function_is_within_a_few_ulp_of_the_exact_value() {
        let cases: [Case; 8] = [
            ("sin", sin, f64::sin, (-10.0, 10.0), true, 2.0),
            ("cos", cos, f64::cos, (-10.0, 10.0), true, 2.0),
            ("tan", tan, f64::tan, (-1.5, 1.5), false, 4.0),
            ("acos", acos, f64::acos, (-1.0, 1.0), false, 3.0),
            ("atan", atan, f64::atan, (-50.0, 50.0), false, 3.0),
            ("exp", exp, f64::exp, (-87.0, 88.0), false, 3.0),
            ("ln", ln, f64::ln, (1e-6, 100.0), false, 3.0),
            (
                "pow 2.4",
                |x| powf(x, 2.4),
                |x| x.powf(2.4),
                (0.0, 1.0),
                false,
                8.0,
            ),
        ];
        let n = 200_000;
        for (name, ours, reference, (lo, hi), absolute, limit) in cases {
            for i in 0..=n {
                let x = lo + (hi - lo) * (i as f32 / n as f32);
                let want = reference(f64::from(x));
                // An ulp of f32 at the exact value, with a floor near zero.
                let ulp =
                    f64::from(f32::EPSILON) * if absolute { 1.0 } else { want.abs().max(1e-3) };
                let err = (f64::from(ours(x)) - want).abs() / ulp;
                assert!(err <= limit, "{name}({x}) is {err:.2} ulp off");
            }
        }
    }

    #[test]
    fn atan2_covers_every_quadrant_and_the_axes() {
        for i in 0..3600 {
            let angle = -PI + i as f32 * (2.0 * PI / 3600.0);
            let (s, c) = (f64::from(angle).sin(), f64::from(angle).cos());
            for r in [1e-3f64, 1.0, 1e4] {
                let (y, x) = ((s * r) as f32, (c * r) as f32);
                let want = f64::from(y).atan2(f64::from(x));
                let got = f64::from(atan2(y, x));
                assert!(
                    (got - want).abs() <= 4e-7,
                    "atan2({y}, {x}) = {got}, not {want}"
                );
            }
        }
        assert_eq!(atan2(0.0, 1.0), 0.0);
        assert_eq!(atan2(1.0, 0.0), FRAC_PI_2);
        assert_eq!(atan2(-1.0, 0.0), -FRAC_PI_2);
        assert_eq!(atan2(0.0, -1.0), PI);
        assert_eq!(atan2(-0.0, -1.0), -PI);
    }

    #[test]
    fn edges_give_what_the_c_library_gives() {
        assert!(sin(f32::INFINITY).is_nan() && cos(f32::NAN).is_nan());
        assert!(acos(1.5).is_nan() && acos(-1.5).is_nan());
        assert_eq!(acos(1.0), 0.0);
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(100.0), f32::INFINITY);
        assert_eq!(exp(-200.0), 0.0);
        assert!(exp(-100.0) > 0.0, "subnormal results are kept");
        assert_eq!(ln(1.0), 0.0);
        assert_eq!(ln(0.0), f32::NEG_INFINITY);
        assert!(ln(-1.0).is_nan());
        assert!(
            (ln(1e-40) - (1e-40f64).ln() as f32).abs() < 1e-4,
            "subnormal input"
        );
        assert_eq!(powf(0.0, 2.4), 0.0);
        assert_eq!(powf(0.3, 0.0), 1.0);
    }
}
