//! The CUDA kernel, shaders/pathtracer.cu, compiled by the host's C++ compiler through
//! shaders/host.cuh and run on the CPU against the CPU backend, so that its path tracing is
//! checked on every commit without a GPU. The scene is packed, and the tiles' sums finished,
//! by the CUDA backend's own code. Needs a C++17 compiler: `c++`, or the one `CXX` names.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Instant;

use common::{settings, stats};
use libloading::Library;
use tessera_renderer::backend::cpu::CpuBackend;
use tessera_renderer::backend::cuda::BLOCK;
use tessera_renderer::backend::gpu::layout::{
    BvhNode, BvhTriangle, GpuEmitter, GpuLight, GpuMaterial, GpuParams, GpuPixel, GpuTexture,
    GpuTriangle, GpuVertex,
};
use tessera_renderer::backend::gpu::pack::{GpuScene, SceneCounts};
use tessera_renderer::backend::gpu::{Batches, finish_pixels};
use tessera_renderer::backend::{Backend, PreparedFrame, RenderError};
use tessera_renderer::bvh::BvhStats;
use tessera_renderer::film::{FrameImage, Resolution, Tile, TileImage};
use tessera_renderer::scene::FrameScene;
use tessera_renderer::settings::RenderSettings;

/// `render_on_host` in shaders/host.cuh: the launch grid and block, then the kernel's arguments.
type RenderOnHost = unsafe extern "C" fn(
    u32,
    u32,
    u32,
    u32,
    *const GpuParams,
    *mut GpuPixel,
    *const GpuMaterial,
    *const GpuTexture,
    *const GpuLight,
    *const GpuEmitter,
    *const BvhNode,
    *const BvhTriangle,
    *const GpuTriangle,
    *const GpuVertex,
    *const Texel,
    *const u32,
);

/// A texel as the kernel reads it: CUDA's `float4` is 16-byte aligned, `[f32; 4]` is not.
#[derive(Clone, Copy)]
#[repr(C, align(16))]
struct Texel([f32; 4]);

/// The compiled kernel, with the directory holding it.
struct HostKernel {
    library: Library,
}

impl HostKernel {
    fn render_on_host(&'static self) -> RenderOnHost {
        // SAFETY: the symbol is `render_on_host` of shaders/host.cuh, declared as RenderOnHost;
        // the library stays loaded for the whole run.
        unsafe {
            *self
                .library
                .get::<RenderOnHost>(c"render_on_host")
                .expect("render_on_host in the kernel's library")
        }
    }
}

/// Compiles the kernel once per test run.
fn host_kernel() -> &'static HostKernel {
    static KERNEL: OnceLock<HostKernel> = OnceLock::new();
    KERNEL.get_or_init(|| {
        let shaders = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shaders");
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("libpathtracer_host.so");
        let compiler = std::env::var("CXX").unwrap_or_else(|_| "c++".into());
        let started = Instant::now();
        let output = Command::new(&compiler)
            // -ffp-contract=off: no fused multiply-add, as NVRTC's --fmad=false, so every
            // product is rounded as on the CPU backend (on x86-64 without -mfma g++ fuses
            // nothing anyway, but aarch64 and -march=native would).
            .args(["-O2", "-std=c++17", "-shared", "-fPIC", "-ffp-contract=off"])
            // Double arithmetic runs at a small fraction of float speed on most GPUs: a float
            // promoted to double by accident fails the build.
            .args(["-Wall", "-Wextra", "-Werror=double-promotion"])
            // host.cuh is the translation unit; its suffix is not one g++ knows as C++.
            .args(["-x", "c++"])
            .arg(shaders.join("host.cuh"))
            .arg("-o")
            .arg(&path)
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "could not run the C++ compiler `{compiler}`: {e}\n(this test compiles the \
                     CUDA kernel for the host: install g++, e.g. apt-get install -y g++, or \
                     name a C++17 compiler in CXX)"
                )
            });
        let messages = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "`{compiler}` could not compile the kernel for the host:\n{messages}"
        );
        if !messages.trim().is_empty() {
            eprintln!("{compiler} warns:\n{messages}");
        }
        eprintln!(
            "kernel compiled for the host in {:.2} s",
            started.elapsed().as_secs_f64()
        );
        // SAFETY: the library is the kernel just built; loading it runs no initialisation
        // beyond the C++ runtime's.
        let library = unsafe { Library::new(&path) }
            .unwrap_or_else(|e| panic!("loading the kernel built for the host: {e}"));
        // A static is never dropped: the folder goes now, the loaded library stays mapped.
        drop(dir);
        HostKernel { library }
    })
}

/// A frame for the host-compiled kernel, prepared as `CudaFrame` prepares one for the device.
struct HostFrame<'a> {
    render_on_host: RenderOnHost,
    scene: &'a FrameScene,
    packed: GpuScene,
    texels: Vec<Texel>,
    counts: SceneCounts,
}

impl<'a> HostFrame<'a> {
    fn new(scene: &'a FrameScene) -> Self {
        let packed = GpuScene::pack(scene);
        Self {
            render_on_host: host_kernel().render_on_host(),
            scene,
            texels: packed.texels.iter().map(|t| Texel(*t)).collect(),
            counts: SceneCounts::of(&packed),
            packed,
        }
    }
}

impl PreparedFrame for HostFrame<'_> {
    fn render_tile(
        &self,
        resolution: Resolution,
        tile: Tile,
        frame: u32,
        settings: &RenderSettings,
    ) -> Result<TileImage, RenderError> {
        let mut pixels = vec![GpuPixel::default(); tile.pixel_count()];
        let mut params =
            self.counts
                .tile_params(&self.scene.camera.raster(resolution), tile, frame, settings);
        let p = &self.packed;
        let spp = settings.spp.get();
        let mut batches = Batches::new(spp, tile.pixel_count());
        while let Some((start, count)) = batches.next_batch() {
            params.sample_start = start;
            params.sample_count = count;
            let started = Instant::now();
            // SAFETY: as the CUDA backend's launch: the parameters, the tile's pixels
            // (tile_width x tile_height of them), then the scene's arrays, each laid out as
            // layout.rs defines (tests/gpu_layout.rs checks layout.cuh against it). The kernel
            // reads an array only where the parameters' counts say it has elements.
            unsafe {
                (self.render_on_host)(
                    tile.width().div_ceil(BLOCK),
                    tile.height().div_ceil(BLOCK),
                    BLOCK,
                    BLOCK,
                    &params,
                    pixels.as_mut_ptr(),
                    p.materials.as_ptr(),
                    p.textures.as_ptr(),
                    p.lights.as_ptr(),
                    p.emitters.as_ptr(),
                    p.nodes.as_ptr(),
                    p.triangles.as_ptr(),
                    p.triangle_data.as_ptr(),
                    p.vertices.as_ptr(),
                    self.texels.as_ptr(),
                    p.texels8.as_ptr(),
                )
            };
            batches.finished(count, started.elapsed());
        }
        Ok(TileImage {
            tile,
            pixels: finish_pixels(tile, &pixels, spp),
        })
    }

    fn bvh_stats(&self) -> BvhStats {
        self.packed.bvh_stats
    }
}

/// Renders the whole frame in tiles of `tile` pixels, several tiles at a time.
fn render(frame: &dyn PreparedFrame, res: Resolution, tile: u32, s: &RenderSettings) -> FrameImage {
    use rayon::prelude::*;
    let tiles: Vec<TileImage> = res
        .tiles(tile.try_into().unwrap())
        .into_par_iter()
        .map(|t| frame.render_tile(res, t, 0, s).expect("render"))
        .collect();
    let mut image = FrameImage::new(res);
    for t in &tiles {
        image.insert(t).unwrap();
    }
    image
}

fn on_host(scene: &FrameScene, res: Resolution, tile: u32, s: &RenderSettings) -> FrameImage {
    let started = Instant::now();
    let image = render(&HostFrame::new(scene), res, tile, s);
    eprintln!(
        "kernel on the host: {:.2} s",
        started.elapsed().as_secs_f64()
    );
    image
}

fn on_cpu(scene: &FrameScene, res: Resolution, tile: u32, s: &RenderSettings) -> FrameImage {
    let cpu = CpuBackend::new(None).unwrap();
    render(&*cpu.prepare(scene).expect("prepare"), res, tile, s)
}

/// With the same seed the kernel and the CPU backend draw the same random numbers, so almost
/// every pixel of every channel (beauty and AOVs) agrees to rounding: a check of the
/// estimator's order of operations, not only of its mean. The pixels that differ are paths
/// reaching the floor under the rough glass cube, where the cube's bottom face lies in the
/// floor's plane: which of the two a ray hits depends on the order the BVH traversal (binary
/// here, 4-wide on the CPU) tests them.
fn assert_same_seed_agrees(scene: &FrameScene) {
    let res = Resolution::new(96, 64).unwrap();
    let s = settings(4, 8, 7);
    let host = stats::channels(&on_host(scene, res, 32, &s).pixels);
    let reference = stats::channels(&on_cpu(scene, res, 32, &s).pixels);
    let failures = stats::same_seed_disagreements(&host, &reference);
    assert!(
        failures.is_empty(),
        "same seed, different images: {failures:?}"
    );
}

#[test]
fn same_seed_gives_nearly_the_same_image_as_the_cpu() {
    assert_same_seed_agrees(&common::scenes::materials());
}

/// The kernel on the host, at 32x32 through [`common::features`].
fn render_small(scene: &FrameScene, spp: u32) -> FrameImage {
    on_host(
        scene,
        Resolution::new(32, 32).unwrap(),
        16,
        &settings(spp, 6, 1),
    )
}

feature_tests!(render_small);

/// The farm's spot check judges the kernel's pixels against the CPU's estimates: honest frames
/// pass, frames of half the samples do not ([`common::spot_checks`]).
#[test]
fn spot_checks_pass_honest_pixels_and_catch_half_the_samples() {
    common::spot_checks::honest_pixels_agree_and_halved_samples_do_not(&|scene, res, s| {
        on_host(scene, res, 16, s)
    });
}

/// The same with the environment as well as lights.
#[test]
fn same_seed_with_the_environment() {
    assert_same_seed_agrees(&common::scenes::materials_in_the_environment());
}

#[test]
fn same_seed_with_an_environment_map() {
    assert_same_seed_agrees(&common::scenes::materials_under_a_sun_map());
}

/// Sheen, a rough clear coat and the base below them.
#[test]
fn same_seed_with_sheen_and_a_rough_coat() {
    assert_same_seed_agrees(&common::scenes::rough_coat_over_sheen());
}

/// The same seed through see-through surfaces.
#[test]
fn same_seed_through_see_through_surfaces() {
    assert_same_seed_agrees(&common::scenes::materials_half_see_through());
}

/// The same with the attributes the materials scene lacks: tangents and a second UV set.
#[test]
fn same_seed_with_tangents_and_a_second_uv_set() {
    assert_same_seed_agrees(&common::scenes::materials_with_tangents_and_uv1());
}

/// The kernel and the CPU backend with different seeds on the materials scene (every lobe,
/// textures, every light kind) must agree within their noise, in the beauty pass and in every
/// AOV.
/// The materials scene as a glTF file: its PNG textures stay 8-bit (an sRGB base colour and a
/// linear normal map), and the kernel decodes them as the CPU does.
#[test]
fn materials_gltf_with_8_bit_textures_agrees_with_the_cpu() {
    let path = std::path::Path::new("../scenes/materials.gltf");
    let scene = tessera_renderer::scene::Scene::load(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .frame(0.0, None)
        .unwrap();
    assert!(
        scene
            .textures
            .iter()
            .all(|t| matches!(t.texels, tessera_renderer::texture::Texels::Rgba8 { .. })),
        "the scene's textures are 8-bit"
    );
    let res = Resolution::new(192, 108).unwrap();
    let host = stats::channels(&on_host(&scene, res, 32, &settings(32, 8, 1)).pixels);
    let reference = stats::channels(&on_cpu(&scene, res, 32, &settings(32, 8, 2)).pixels);
    let (w, h) = (res.width() as usize, res.height() as usize);
    let failures = stats::disagreements(&host, &reference, w, h, 8);
    assert!(
        failures.is_empty(),
        "the CUDA kernel on the host and the CPU differ beyond noise: {failures:?}"
    );
}

#[test]
fn materials_scene_agrees_with_the_cpu() {
    let scene = common::scenes::materials();
    let res = Resolution::new(192, 128).unwrap();
    let host = stats::channels(&on_host(&scene, res, 64, &settings(64, 8, 1)).pixels);
    let reference = stats::channels(&on_cpu(&scene, res, 64, &settings(64, 8, 2)).pixels);
    let (w, h) = (res.width() as usize, res.height() as usize);
    let failures = stats::disagreements(&host, &reference, w, h, 8);
    assert!(
        failures.is_empty(),
        "the CUDA kernel on the host and the CPU differ beyond noise: {failures:?}"
    );
}

/// 2,000 honest tiles from the kernel pass the farm's spot checks ([`common::spot_checks`]).
#[test]
fn two_thousand_honest_tiles_pass_their_spot_checks() {
    common::spot_checks::two_thousand_honest_tiles_pass_their_checks(&|scene, res, s| {
        on_host(scene, res, 40, s)
    });
}
