//! The wgpu backend against the CPU backend (the Cornell box against Mitsuba's reference is
//! tested through the CLI, in tests/backend_cli.rs). These tests need a wgpu adapter; CI has
//! Mesa's lavapipe. Without one they fail, saying what is missing.

mod common;

use common::{render, settings, stats};
use tessera_renderer::backend::Backend;
use tessera_renderer::backend::cpu::CpuBackend;
use tessera_renderer::backend::gpu::pack::GpuScene;
use tessera_renderer::backend::wgpu::{AdapterChoice, WgpuBackend};
use tessera_renderer::film::{FrameImage, Resolution};
use tessera_renderer::scene::FrameScene;

/// The adapter named by `TESSERA_WGPU_ADAPTER` (tools/gpu-check.sh sets it to the GPU's
/// vendor), else the best one found, lavapipe included.
fn wgpu_backend() -> WgpuBackend {
    let choice = match std::env::var("TESSERA_WGPU_ADAPTER") {
        Ok(name) if !name.is_empty() => AdapterChoice::Named(name),
        _ => AdapterChoice::Any,
    };
    WgpuBackend::new(&choice).unwrap_or_else(|e| {
        panic!("{e}\n(the wgpu tests need a Vulkan, Metal or DX12 adapter; on Linux CI install lavapipe: apt-get install -y mesa-vulkan-drivers)")
    })
}

/// Renders `scene` with wgpu and with the CPU, with different seeds, and asserts that they
/// agree within their noise, in the beauty pass and in every AOV.
fn assert_agrees_with_the_cpu(scene: &FrameScene, res: Resolution, spp: u32) {
    let backend = wgpu_backend();
    let cpu = CpuBackend::new(None).unwrap();
    let gpu = stats::channels(&render(&backend, scene, res, 64, &settings(spp, 8, 1)).pixels);
    let reference = stats::channels(&render(&cpu, scene, res, 64, &settings(spp, 8, 2)).pixels);
    let (w, h) = (res.width() as usize, res.height() as usize);
    let failures = stats::disagreements(&gpu, &reference, w, h, 8);
    assert!(
        failures.is_empty(),
        "wgpu and CPU differ beyond noise: {failures:?}"
    );
}

/// The materials scene built in code: every lobe, textures, every light kind.
#[test]
fn materials_scene_agrees_with_the_cpu() {
    let res = Resolution::new(192, 128).unwrap();
    assert_agrees_with_the_cpu(&common::scenes::materials(), res, 64);
}

/// The example scene `scenes/materials.gltf` as users get it, through the glTF loader.
#[test]
fn materials_gltf_agrees_with_the_cpu() {
    // From the package folder, where cargo and tools/gpu-check.sh run tests: the build's own
    // path would be wrong for a prebuilt test binary on another machine.
    let path = std::path::Path::new("../scenes/materials.gltf");
    let scene = tessera_renderer::scene::Scene::load(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .frame(0.0, None)
        .unwrap();
    assert_agrees_with_the_cpu(&scene, Resolution::new(192, 108).unwrap(), 32);
}

/// With the same seed both backends draw the same random numbers, so almost every pixel of
/// every channel (beauty and AOVs) agrees to rounding: a check of the estimator's order of
/// operations, not only of its mean.
#[test]
fn same_seed_gives_nearly_the_same_image() {
    assert_same_seed_agrees(&common::scenes::materials());
}

fn assert_same_seed_agrees(scene: &FrameScene) {
    let backend = wgpu_backend();
    let cpu = CpuBackend::new(None).unwrap();
    let res = Resolution::new(96, 64).unwrap();
    let s = settings(4, 8, 7);
    let gpu = stats::channels(&render(&backend, scene, res, 32, &s).pixels);
    let reference = stats::channels(&render(&cpu, scene, res, 32, &s).pixels);
    let failures = stats::same_seed_disagreements(&gpu, &reference);
    assert!(
        failures.is_empty(),
        "same seed, different images: {failures:?}"
    );
}

/// The same seed through see-through surfaces: camera, bounce and shadow rays cross them
/// where the CPU's do.
#[test]
fn same_seed_through_see_through_surfaces_gives_nearly_the_same_image() {
    assert_same_seed_agrees(&common::scenes::materials_half_see_through());
}

/// The wgpu backend, at 32x32 through [`common::features`].
fn render_small(scene: &FrameScene, spp: u32) -> FrameImage {
    let res = Resolution::new(32, 32).unwrap();
    render(&wgpu_backend(), scene, res, 16, &settings(spp, 6, 1))
}

feature_tests!(render_small);

/// The farm's spot check judges lavapipe's pixels against the CPU's estimates: honest frames
/// pass, frames of half the samples do not ([`common::spot_checks`]).
#[test]
fn spot_checks_pass_honest_pixels_and_catch_half_the_samples() {
    let backend = wgpu_backend();
    common::spot_checks::honest_pixels_agree_and_halved_samples_do_not(&|scene, res, s| {
        render(&backend, scene, res, 32, s)
    });
}

/// The same seed with the environment as well as lights: the environment is met where the
/// CPU meets it.
#[test]
fn same_seed_with_the_environment_gives_nearly_the_same_image() {
    assert_same_seed_agrees(&common::scenes::materials_in_the_environment());
}

#[test]
fn same_seed_with_an_environment_map_gives_nearly_the_same_image() {
    assert_same_seed_agrees(&common::scenes::materials_under_a_sun_map());
}

/// Sheen, a rough clear coat and the base below them.
#[test]
fn same_seed_with_sheen_and_a_rough_coat_gives_nearly_the_same_image() {
    assert_same_seed_agrees(&common::scenes::rough_coat_over_sheen());
}

/// Tiles of one frame rendered at the same time by the CPU and wgpu, in a checkerboard: the
/// jumps across tile borders must look like the steps between neighbours inside tiles, as they
/// do in a CPU-only render of the same frame.
#[test]
fn mixed_cpu_and_wgpu_tiles_show_no_seams() {
    let gpu = wgpu_backend();
    let cpu = CpuBackend::new(Some(1)).unwrap();
    let scene = common::scenes::cornell_box();
    let res = Resolution::new(256, 256).unwrap();
    let size = 32u32;
    let s = settings(16, 8, 11);
    let tiles = res.tiles(size.try_into().unwrap());
    let on_gpu = |t: &tessera_renderer::film::Tile| (t.x() / size + t.y() / size) % 2 == 1;
    let (gpu_frame, cpu_frame) = (gpu.prepare(&scene).unwrap(), cpu.prepare(&scene).unwrap());
    let mut mixed = FrameImage::new(res);
    std::thread::scope(|scope| {
        let gpu_tiles = scope.spawn(|| {
            tiles
                .iter()
                .filter(|t| on_gpu(t))
                .map(|t| gpu_frame.render_tile(res, *t, 0, &s).unwrap())
                .collect::<Vec<_>>()
        });
        let cpu_tiles: Vec<_> = tiles
            .iter()
            .filter(|t| !on_gpu(t))
            .map(|t| cpu_frame.render_tile(res, *t, 0, &s).unwrap())
            .collect();
        for t in cpu_tiles.iter().chain(&gpu_tiles.join().unwrap()) {
            mixed.insert(t).unwrap();
        }
    });
    let cpu_only = render(&cpu, &scene, res, size, &s);
    let luminance = |img: &FrameImage| -> Vec<f64> {
        img.pixels
            .color
            .iter()
            .map(|c| 0.2126 * c[0] as f64 + 0.7152 * c[1] as f64 + 0.0722 * c[2] as f64)
            .collect()
    };
    let (m, c) = (luminance(&mixed), luminance(&cpu_only));
    let w = res.width() as usize;
    // Mean absolute step between horizontal and vertical neighbours (p-1, p) for p at the
    // given offset within each tile: 0 is across a border, size / 2 inside.
    let step = |img: &[f64], offset: usize| -> f64 {
        let mut sum = 0.0;
        let mut n = 0;
        for a in (offset.max(1)..w).step_by(size as usize) {
            for b in 0..w {
                sum += (img[b * w + a] - img[b * w + a - 1]).abs();
                sum += (img[a * w + b] - img[(a - 1) * w + b]).abs();
                n += 2;
            }
        }
        sum / n as f64
    };
    let border = |img: &[f64]| step(img, size as usize) / step(img, size as usize / 2);
    let (mixed_ratio, cpu_ratio) = (border(&m), border(&c));
    eprintln!("border/interior step: mixed {mixed_ratio:.4}, CPU only {cpu_ratio:.4}");
    assert!(
        (mixed_ratio / cpu_ratio - 1.0).abs() < 0.03,
        "tile borders stand out: border/interior step {mixed_ratio:.4} vs {cpu_ratio:.4} without wgpu"
    );
    // The mean level of the GPU tiles must match the CPU's render of the same tiles.
    let (mut gpu_sum, mut cpu_sum) = (0.0, 0.0);
    for t in tiles.iter().filter(|t| on_gpu(t)) {
        for y in t.y()..t.y() + t.height() {
            for x in t.x()..t.x() + t.width() {
                gpu_sum += m[y as usize * w + x as usize];
                cpu_sum += c[y as usize * w + x as usize];
            }
        }
    }
    eprintln!(
        "wgpu tiles' mean luminance / CPU's: {:.5}",
        gpu_sum / cpu_sum
    );
    assert!(
        (gpu_sum / cpu_sum - 1.0).abs() < 0.005,
        "wgpu tiles are {gpu_sum} vs {cpu_sum}"
    );
}

/// Scene arrays split over several bindings, as those of scenes beyond the adapter's binding
/// size limit are, read as one: with bindings of at most 1 KiB the materials scene renders
/// bit for bit as with whole ones.
#[test]
fn arrays_split_over_several_bindings_render_the_same_image() {
    const LIMIT: u64 = 1024;
    let scene = common::scenes::materials();
    let packed = GpuScene::pack(&scene);
    for (name, bytes) in [
        ("nodes", size_of_val(packed.nodes.as_slice())),
        ("triangles", size_of_val(packed.triangles.as_slice())),
        (
            "triangle data",
            size_of_val(packed.triangle_data.as_slice()),
        ),
        ("vertices", size_of_val(packed.vertices.as_slice())),
        ("texels", size_of_val(packed.texels.as_slice())),
    ] {
        assert!(
            bytes as u64 > LIMIT,
            "the {name} ({bytes} bytes) would not be split"
        );
    }
    let res = Resolution::new(96, 64).unwrap();
    let s = settings(4, 8, 3);
    let whole = render(&wgpu_backend(), &scene, res, 32, &s);
    let split = render(
        &wgpu_backend().with_split_binding(LIMIT),
        &scene,
        res,
        32,
        &s,
    );
    let (whole, split) = (
        stats::channels(&whole.pixels),
        stats::channels(&split.pixels),
    );
    for (name, (a, b)) in stats::CHANNELS.iter().zip(whole.iter().zip(&split)) {
        let same = a
            .iter()
            .zip(b)
            .filter(|(a, b)| a.to_bits() == b.to_bits())
            .count();
        assert_eq!(
            same,
            a.len(),
            "{name}: split bindings changed {} pixels",
            a.len() - same
        );
    }
}

/// 2,000 honest lavapipe tiles pass the farm's spot checks ([`common::spot_checks`]).
#[test]
fn two_thousand_honest_tiles_pass_their_spot_checks() {
    let backend = wgpu_backend();
    common::spot_checks::two_thousand_honest_tiles_pass_their_checks(&|scene, res, s| {
        render(&backend, scene, res, 40, s)
    });
}
