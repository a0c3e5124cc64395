//! The wgpu backend against the Mitsuba reference and against the CPU backend. These tests need
//! a wgpu adapter; CI has Mesa's lavapipe. Without one they fail, saying what is missing.

mod common;

use std::time::Instant;

use common::stats::{self, CHANNELS};
use tessera_renderer::backend::Backend;
use tessera_renderer::backend::cpu::CpuBackend;
use tessera_renderer::backend::wgpu::{AdapterChoice, WgpuBackend};
use tessera_renderer::film::{FrameImage, Resolution};
use tessera_renderer::integrator::{MaxDepth, RenderSettings, Spp};
use tessera_renderer::scene::FrameScene;

fn wgpu_backend() -> WgpuBackend {
    WgpuBackend::new(&AdapterChoice::Any).unwrap_or_else(|e| {
        panic!("{e}\n(the wgpu tests need a Vulkan, Metal or DX12 adapter; on Linux CI install lavapipe: apt-get install -y mesa-vulkan-drivers)")
    })
}

fn settings(spp: u32, max_depth: u32, seed: u64) -> RenderSettings {
    RenderSettings {
        spp: Spp::new(spp).unwrap(),
        max_depth: MaxDepth::new(max_depth).unwrap(),
        seed,
    }
}

/// Renders the whole frame in tiles of `tile` pixels.
fn render(
    backend: &dyn Backend,
    scene: &FrameScene,
    res: Resolution,
    tile: u32,
    s: &RenderSettings,
) -> FrameImage {
    let frame = backend.prepare(scene).expect("prepare");
    let mut image = FrameImage::new(res);
    for t in res.tiles(tile.try_into().unwrap()) {
        let tile = frame.render_tile(res, t, 0, s).expect("render");
        image.insert(&tile).unwrap();
    }
    image
}

#[test]
fn cornell_box_matches_the_mitsuba_reference() {
    let backend = wgpu_backend();
    let res = Resolution::new(256, 256).unwrap();
    let started = Instant::now();
    let image = render(&backend, &common::scenes::cornell_box(), res, 128, &settings(64, 8, 0));
    eprintln!(
        "wgpu on {}: 256x256 at 64 spp in {:.1} s",
        backend.device(),
        started.elapsed().as_secs_f64()
    );
    let dir = common::shared_dir().join("reference/cornell-box");
    let (w, h, reference) = stats::read_exr_rgb(&dir.join("mitsuba3-256x256-depth8-8192spp.exr"));
    assert_eq!((w, h), (256, 256));
    let ours = stats::channels(&image.pixels);
    for c in 0..3 {
        let (m, r) = (stats::mean(&ours[c]), stats::mean(&reference[c]));
        eprintln!("{}: mean {m:.6} reference {r:.6} ({:+.3} %)", CHANNELS[c], 100.0 * (m / r - 1.0));
        assert!((m / r - 1.0).abs() < 0.005, "{} mean {m} is not within 0.5 % of {r}", CHANNELS[c]);
    }
    let rmse = stats::rmse(&ours[..3], &reference);
    eprintln!("RMSE {rmse:.5} (Mitsuba at 64 spp: 0.0254)");
    assert!(rmse <= 1.15 * 0.0254, "RMSE {rmse} is over 1.15 x Mitsuba's 0.0254");
}

/// GPU and CPU renders of the materials scene must agree within their noise: the block means
/// of wgpu minus CPU must scatter no more than those of two CPU renders with different seeds.
#[test]
fn materials_scene_agrees_with_the_cpu() {
    let backend = wgpu_backend();
    let cpu = CpuBackend::new(None).unwrap();
    let scene = common::scenes::materials();
    let res = Resolution::new(192, 128).unwrap();
    let (spp, depth) = (64, 8);
    let gpu = stats::channels(&render(&backend, &scene, res, 64, &settings(spp, depth, 1)).pixels);
    let cpu_a = stats::channels(&render(&cpu, &scene, res, 64, &settings(spp, depth, 2)).pixels);
    let cpu_b = stats::channels(&render(&cpu, &scene, res, 64, &settings(spp, depth, 3)).pixels);
    let (w, h) = (res.width() as usize, res.height() as usize);
    let mut failures = Vec::new();
    for (c, name) in CHANNELS.iter().enumerate() {
        for block in [4, 16] {
            let noise = stats::block_mse(&cpu_b[c], &cpu_a[c], w, h, block);
            let diff = stats::block_mse(&gpu[c], &cpu_a[c], w, h, block);
            // Both are differences of two independent unbiased renders: equal in expectation.
            // A bias (a missing lobe, a wrong Fresnel, a flipped texture) adds its square.
            let limit = 1.5 * noise + 1e-8;
            eprintln!("{name:>9} block {block:>2}: wgpu-cpu {diff:.3e}  cpu-cpu {noise:.3e}");
            if diff > limit {
                failures.push(format!("{name} (blocks of {block}): {diff:.3e} > {limit:.3e}"));
            }
        }
    }
    assert!(failures.is_empty(), "wgpu and CPU differ beyond noise: {failures:?}");
}

/// With the same seed both backends draw the same random numbers, so most pixels agree to
/// rounding: a check of the estimator's order of operations, not only of its mean.
#[test]
fn same_seed_gives_nearly_the_same_image() {
    let backend = wgpu_backend();
    let cpu = CpuBackend::new(None).unwrap();
    let scene = common::scenes::materials();
    let res = Resolution::new(96, 64).unwrap();
    let s = settings(4, 8, 7);
    let gpu = render(&backend, &scene, res, 32, &s);
    let reference = render(&cpu, &scene, res, 32, &s);
    let close = gpu
        .pixels
        .color
        .iter()
        .zip(&reference.pixels.color)
        .filter(|(a, b)| (0..4).all(|c| (a[c] - b[c]).abs() <= 1e-3 * (1.0 + b[c].abs())))
        .count();
    let share = close as f64 / res.pixel_count() as f64;
    eprintln!("{:.1} % of pixels agree to 1e-3", 100.0 * share);
    assert!(share > 0.9, "only {:.1} % of pixels agree", 100.0 * share);
}
