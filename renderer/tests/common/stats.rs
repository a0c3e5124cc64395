//! Image statistics for comparing renders with each other and with the reference.

use std::path::Path;

use tessera_renderer::film::Pixels;

/// One channel per entry: R, G, B, alpha, albedo RGB, normal XYZ, depth.
pub const CHANNELS: [&str; 11] = [
    "R", "G", "B", "alpha", "albedo.R", "albedo.G", "albedo.B", "normal.X", "normal.Y",
    "normal.Z", "depth",
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

/// Means over square blocks of `block` pixels (partial blocks at the edges dropped).
pub fn block_means(v: &[f32], width: usize, height: usize, block: usize) -> Vec<f64> {
    let mut out = Vec::new();
    for by in 0..height / block {
        for bx in 0..width / block {
            let mut sum = 0.0;
            for y in by * block..(by + 1) * block {
                for x in bx * block..(bx + 1) * block {
                    sum += v[y * width + x] as f64;
                }
            }
            out.push(sum / (block * block) as f64);
        }
    }
    out
}

/// Mean squared difference of two channels' block means.
pub fn block_mse(a: &[f32], b: &[f32], width: usize, height: usize, block: usize) -> f64 {
    let ma = block_means(a, width, height, block);
    let mb = block_means(b, width, height, block);
    ma.iter().zip(&mb).map(|(x, y)| (x - y).powi(2)).sum::<f64>() / ma.len() as f64
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
    (size.width(), size.height(), image.layer_data.channel_data.pixels.1)
}
