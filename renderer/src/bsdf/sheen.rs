//! `KHR_materials_sheen`: the Charlie microfacet sheen of Estevez and Kulla with their
//! visibility fit, as the glTF sample viewer evaluates it, and its directional albedo, which
//! scales the layers below so that a white sheen over a white base reflects all it receives.

use std::f32::consts::PI;

use crate::transcendental;

/// Sheen roughness below this is raised to it: the distribution's peak at grazing angles grows
/// without bound as roughness goes to 0.
pub const MIN_ROUGHNESS: f32 = 0.1;

/// `E(cos_o, roughness)`: the directional albedo of a white sheen lobe, integrated numerically
/// (`max 1`). Rows: roughness 0.1 to 1 in 8 steps; columns: cos_o 0 to 1 in 8 steps. The
/// shaders hold the same table (a test compares them).
#[allow(clippy::approx_constant, reason = "integrated values, not constants")]
pub const ALBEDO: [[f32; 9]; 9] = [
    [1.0, 0.3733, 0.0667, 0.0091, 0.0008, 0.0, 0.0, 0.0, 0.0],
    [
        0.8843, 0.4715, 0.2163, 0.0968, 0.0398, 0.0142, 0.0040, 0.0007, 0.0,
    ],
    [
        0.7060, 0.4793, 0.2864, 0.1723, 0.1003, 0.0553, 0.0275, 0.0108, 0.0020,
    ],
    [
        0.6440, 0.4985, 0.3383, 0.2326, 0.1575, 0.1040, 0.0652, 0.0360, 0.0142,
    ],
    [
        0.6364, 0.5333, 0.3902, 0.2883, 0.2116, 0.1537, 0.1086, 0.0713, 0.0397,
    ],
    [
        0.6566, 0.5762, 0.4429, 0.3413, 0.2625, 0.2015, 0.1526, 0.1106, 0.0733,
    ],
    [
        0.6861, 0.6167, 0.4900, 0.3880, 0.3071, 0.2439, 0.1928, 0.1484, 0.1085,
    ],
    [
        0.7071, 0.6431, 0.5223, 0.4218, 0.3404, 0.2766, 0.2251, 0.1801, 0.1400,
    ],
    [
        0.7007, 0.6432, 0.5300, 0.4346, 0.3563, 0.2950, 0.2455, 0.2023, 0.1638,
    ],
];

/// Bilinear lookup of [`ALBEDO`].
pub fn albedo(cos_o: f32, roughness: f32) -> f32 {
    let r = ((roughness - MIN_ROUGHNESS) / (1.0 - MIN_ROUGHNESS)).clamp(0.0, 1.0) * 8.0;
    let c = cos_o.clamp(0.0, 1.0) * 8.0;
    let (ri, ci) = ((r as usize).min(7), (c as usize).min(7));
    let (rf, cf) = (r - ri as f32, c - ci as f32);
    let row = |i: usize| ALBEDO[i][ci] * (1.0 - cf) + ALBEDO[i][ci + 1] * cf;
    row(ri) * (1.0 - rf) + row(ri + 1) * rf
}

/// The Charlie distribution for a half vector with cosine `cos_h` to the normal.
pub fn d_charlie(cos_h: f32, roughness: f32) -> f32 {
    let inv = 1.0 / (roughness * roughness);
    let sin2 = (1.0 - cos_h * cos_h).max(0.0);
    (2.0 + inv) * transcendental::powf(sin2, 0.5 * inv) / (2.0 * PI)
}

fn lambda_helper(x: f32, alpha: f32) -> f32 {
    let t = (1.0 - alpha) * (1.0 - alpha);
    let mix = |a: f32, b: f32| a + (b - a) * t;
    let (a, b, c) = (
        mix(21.5473, 25.3245),
        mix(3.82987, 3.32435),
        mix(0.19823, 0.16801),
    );
    let (d, e) = (mix(-1.97760, -1.27393), mix(-4.32054, -4.85967));
    a / (1.0 + b * transcendental::powf(x, c)) + d * x + e
}

fn lambda(cos: f32, alpha: f32) -> f32 {
    if cos < 0.5 {
        transcendental::exp(lambda_helper(cos, alpha))
    } else {
        transcendental::exp(2.0 * lambda_helper(0.5, alpha) - lambda_helper(1.0 - cos, alpha))
    }
}

/// The visibility term `G / (4 cos_o cos_i)`, clamped to [0, 1].
pub fn visibility(cos_o: f32, cos_i: f32, roughness: f32) -> f32 {
    let alpha = roughness * roughness;
    let v = 1.0 / ((1.0 + lambda(cos_o, alpha) + lambda(cos_i, alpha)) * (4.0 * cos_o * cos_i));
    v.clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shaders_hold_the_same_table() {
        let expected: Vec<f32> = ALBEDO.iter().flatten().copied().collect();
        for (name, source) in [
            (
                "pathtracer.wgsl",
                include_str!("../../../shaders/pathtracer.wgsl"),
            ),
            (
                "pathtracer.cu",
                include_str!("../../../shaders/pathtracer.cu"),
            ),
        ] {
            let start = source.find("SHEEN_ALBEDO").expect("the table");
            let body = &source[start..];
            let open = body.find(['(', '{']).expect("its values") + 1;
            let close = open + body[open..].find([')', '}']).expect("their end");
            let values: Vec<f32> = body[open..close]
                .split(',')
                .map(|v| v.trim().trim_end_matches('f'))
                .filter(|v| !v.is_empty())
                .map(|v| v.parse().expect("a number"))
                .collect();
            assert_eq!(values, expected, "{name}'s sheen table");
        }
    }

    #[test]
    fn the_table_is_the_lobes_albedo() {
        // Numerical hemisphere integral of D V cos_i at the table's grid points.
        for (roughness, cos_o) in [(0.5375, 0.5), (1.0, 0.25), (0.2125, 0.75)] {
            let wo = glam::Vec3::new((1.0f32 - cos_o * cos_o).sqrt(), 0.0, cos_o);
            let n = 200;
            let mut sum = 0.0f64;
            for i in 0..n {
                let ct = (i as f32 + 0.5) / n as f32;
                let st = (1.0 - ct * ct).sqrt();
                for j in 0..n {
                    let phi = (j as f32 + 0.5) / n as f32 * 2.0 * PI;
                    let wi = glam::Vec3::new(st * phi.cos(), st * phi.sin(), ct);
                    let h = (wo + wi).normalize();
                    let f = d_charlie(h.z, roughness) * visibility(cos_o, ct, roughness) * ct;
                    sum += f64::from(f) / (n * n) as f64 * 2.0 * std::f64::consts::PI;
                }
            }
            let table = albedo(cos_o, roughness);
            assert!(
                (sum as f32 - table).abs() < 0.01,
                "roughness {roughness}, cos {cos_o}: integral {sum}, table {table}"
            );
        }
    }
}
