//! Image statistics for comparing renders with each other and with the reference.

use std::path::Path;

use tessera_renderer::film::Pixels;

/// One channel per entry: R, G, B, alpha, albedo RGB, normal XYZ, depth.
pub const CHANNELS: [&str; 11] = [
    "R", "G", "B", "alpha", "albedo.R", "albedo.G", "albedo.B", "normal.X", "normal.Y", "normal.Z",
    "depth",
];

pub fn channels(p: &Pixels) -> Vec<Vec<f32>> {
    let mut out = vec![Vec::with_capacity(p.len()); CHANNELS.len()];
    for i in 0..p.len() {
        let v = [
            p.color[i][0],
            p.color[i][1],
            p.color[i][2],
            p.color[i][3],
            p.albedo[i][0],
            p.albedo[i][1],
            p.albedo[i][2],
            p.normal[i][0],
            p.normal[i][1],
            p.normal[i][2],
            // Depth where nothing was hit is a huge sentinel; compare it as 0.
            if p.color[i][3] > 0.0 { p.depth[i] } else { 0.0 },
        ];
        for (c, x) in v.into_iter().enumerate() {
            out[c].push(x);
        }
    }
    out
}

pub fn mean(v: &[f32]) -> f64 {
    v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64
}

/// Root mean square difference over all values of all the given channels.
pub fn rmse(a: &[Vec<f32>], b: &[Vec<f32>]) -> f64 {
    let mut sum = 0.0;
    let mut n = 0usize;
    for (ca, cb) in a.iter().zip(b) {
        for (x, y) in ca.iter().zip(cb) {
            sum += (*x as f64 - *y as f64).powi(2);
            n += 1;
        }
    }
    (sum / n as f64).sqrt()
}

/// For each square block of `block` pixels (partial blocks dropped) where `a` and `b` differ
/// at all, the self-normalised sum z = sum(d) / sqrt(sum(d^2)) of the differences d = a - b.
///
/// When `a` and `b` are independent unbiased estimates of the same image, every d has mean 0,
/// so z is close to a standard normal whatever each pixel's variance: a bias shows as
/// |z| far above 1 in the blocks it touches.
pub fn block_z(a: &[f32], b: &[f32], width: usize, height: usize, block: usize) -> Vec<f64> {
    let mut out = Vec::new();
    for by in 0..height / block {
        for bx in 0..width / block {
            let (mut sum, mut sum2) = (0.0f64, 0.0f64);
            for y in by * block..(by + 1) * block {
                for x in bx * block..(bx + 1) * block {
                    let d = a[y * width + x] as f64 - b[y * width + x] as f64;
                    sum += d;
                    sum2 += d * d;
                }
            }
            if sum2 > 0.0 {
                out.push(sum / sum2.sqrt());
            }
        }
    }
    out
}

/// Checks two independent renders of the same image for agreement within their noise, channel
/// by channel, and returns what disagrees: blocks' z scores (see [`block_z`]) must have a mean
/// square near 1 and none may be extreme.
pub fn disagreements(
    a: &[Vec<f32>],
    b: &[Vec<f32>],
    width: usize,
    height: usize,
    block: usize,
) -> Vec<String> {
    let mut failures = Vec::new();
    for (c, name) in CHANNELS.iter().enumerate() {
        let z = block_z(&a[c], &b[c], width, height, block);
        if z.is_empty() {
            continue;
        }
        let k = z.len() as f64;
        let mean_square = z.iter().map(|z| z * z).sum::<f64>() / k;
        let worst = z.iter().fold(0.0f64, |m, z| m.max(z.abs()));
        // Under agreement the mean square is 1 with standard deviation sqrt(2 / k), and |z| > 6
        // has odds below 1e-8 per block.
        let limit = 1.0 + 6.0 * (2.0 / k).sqrt();
        eprintln!(
            "{name:>9}: {} blocks, mean z^2 {mean_square:.3} (limit {limit:.3}), max |z| {worst:.2}",
            z.len()
        );
        if mean_square > limit || worst > 6.0 {
            failures.push(format!(
                "{name}: mean z^2 {mean_square:.3}, max |z| {worst:.2}"
            ));
        }
    }
    failures
}

/// Checks two renders made with the same seed, and so the same random numbers: nearly every
/// pixel of every channel must agree to rounding (a few paths may part ways on a float tie).
/// Returns the channels where fewer than 97 % of the pixels agree to 1e-3.
pub fn same_seed_disagreements(a: &[Vec<f32>], b: &[Vec<f32>]) -> Vec<String> {
    let mut failures = Vec::new();
    for (c, name) in CHANNELS.iter().enumerate() {
        let close = a[c]
            .iter()
            .zip(&b[c])
            .filter(|(a, b)| (*a - *b).abs() <= 1e-3 * (1.0 + b.abs()))
            .count();
        let share = close as f64 / a[c].len() as f64;
        eprintln!("{name:>9}: {:.2} % of pixels agree to 1e-3", 100.0 * share);
        if share < 0.97 {
            failures.push(format!("{name}: only {:.1} % agree", 100.0 * share));
        }
    }
    failures
}

/// R, G and B of an EXR image.
pub fn read_exr_rgb(path: &Path) -> (usize, usize, Vec<Vec<f32>>) {
    use exr::prelude::*;
    let image = read_first_rgba_layer_from_file(
        path,
        |res, _| {
            (
                res.width(),
                vec![vec![0.0f32; res.width() * res.height()]; 3],
            )
        },
        |(w, ch), pos, (r, g, b, _a): (f32, f32, f32, f32)| {
            let i = pos.y() * *w + pos.x();
            ch[0][i] = r;
            ch[1][i] = g;
            ch[2][i] = b;
        },
    )
    .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let size = image.layer_data.size;
    (
        size.width(),
        size.height(),
        image.layer_data.channel_data.pixels.1,
    )
}
