//! The CUDA backend. Without CUDA these tests cannot run: the harness lists them as ignored with
//! the reason, and `tools/gpu-check.sh` runs them with `--include-ignored` on a GPU machine,
//! where a missing driver makes them fail. The one test that always runs checks the no-CUDA
//! path: a clear error, never a panic.

mod common;

use std::time::Instant;

use common::stats::{self, CHANNELS};
use common::{render, settings};
use tessera_renderer::backend::cuda::{self, CudaBackend};
use tessera_renderer::backend::{Backend, RenderError};
use tessera_renderer::film::Resolution;

fn cuda_backend() -> CudaBackend {
    CudaBackend::new(0).unwrap_or_else(|e| panic!("CUDA tests did not run: {e}"))
}

#[test]
fn without_cuda_the_error_names_what_is_missing() {
    match cuda::libraries_present() {
        Ok(()) => eprintln!("CUDA is installed here: the no-CUDA error path was not exercised"),
        Err(e) => {
            let RenderError::Unavailable { backend, reason } = &e else {
                panic!("expected Unavailable, got {e:?}");
            };
            assert_eq!(backend, "cuda");
            assert!(reason.contains("was not found"), "{reason}");
            let opened = CudaBackend::new(0).err().expect("no CUDA, no backend");
            assert_eq!(opened.to_string(), e.to_string());
            eprintln!("CUDA tests did not run: {e}");
        }
    }
}

#[test]
#[ignore = "needs NVRTC (libnvrtc.so); tools/gpu-check.sh runs it"]
fn kernel_compiles_with_nvrtc() {
    for (major, minor) in [(7, 5), (8, 0), (8, 9), (9, 0)] {
        let size = cuda::compile_kernel(major, minor)
            .unwrap_or_else(|e| panic!("CUDA tests did not run: {e}"));
        assert!(size > 10_000, "sm_{major}{minor}: PTX of only {size} bytes");
    }
}

#[test]
#[ignore = "needs a CUDA device; tools/gpu-check.sh runs it"]
fn cornell_box_matches_the_mitsuba_reference_on_cuda() {
    let backend = cuda_backend();
    let res = Resolution::new(256, 256).unwrap();
    let started = Instant::now();
    let image = render(
        &backend,
        &common::scenes::cornell_box(),
        res,
        128,
        &settings(64, 8, 0),
    );
    eprintln!(
        "cuda on {}: {:.2} s",
        backend.device(),
        started.elapsed().as_secs_f64()
    );
    let dir = common::shared_dir().join("reference/cornell-box");
    let (_, _, reference) = stats::read_exr_rgb(&dir.join("mitsuba3-256x256-depth8-8192spp.exr"));
    let ours = stats::channels(&image.pixels);
    for c in 0..3 {
        let (m, r) = (stats::mean(&ours[c]), stats::mean(&reference[c]));
        eprintln!("{}: mean {m:.6} reference {r:.6}", CHANNELS[c]);
        assert!(
            (m / r - 1.0).abs() < 0.005,
            "{} mean {m} not within 0.5 % of {r}",
            CHANNELS[c]
        );
    }
    let rmse = stats::rmse(&ours[..3], &reference);
    eprintln!("RMSE {rmse:.5} (Mitsuba at 64 spp: 0.0254)");
    assert!(rmse <= 1.15 * 0.0254, "RMSE {rmse} is over 1.15 x 0.0254");
}

#[test]
#[ignore = "needs a CUDA device; tools/gpu-check.sh runs it"]
fn materials_scene_agrees_with_the_cpu_on_cuda() {
    let backend = cuda_backend();
    let cpu = tessera_renderer::backend::cpu::CpuBackend::new(None).unwrap();
    let scene = common::scenes::materials();
    let res = Resolution::new(192, 128).unwrap();
    let gpu = stats::channels(&render(&backend, &scene, res, 128, &settings(64, 8, 1)).pixels);
    let reference = stats::channels(&render(&cpu, &scene, res, 128, &settings(64, 8, 2)).pixels);
    let (w, h) = (res.width() as usize, res.height() as usize);
    let failures = stats::disagreements(&gpu, &reference, w, h, 8);
    assert!(
        failures.is_empty(),
        "CUDA and CPU differ beyond noise: {failures:?}"
    );
}

/// The farm's spot check judges the GPU's pixels against the CPU's estimates: honest frames
/// pass, frames of half the samples do not ([`common::spot_checks`]).
#[test]
#[ignore = "needs a CUDA device; tools/gpu-check.sh runs it"]
fn spot_checks_pass_honest_pixels_and_catch_half_the_samples_on_cuda() {
    let backend = cuda_backend();
    common::spot_checks::honest_pixels_agree_and_halved_samples_do_not(&|scene, res, s| {
        render(&backend, scene, res, 64, s)
    });
}

/// 2,000 honest tiles from the GPU pass the farm's spot checks ([`common::spot_checks`]).
#[test]
#[ignore = "needs a CUDA device; tools/gpu-check.sh runs it"]
fn two_thousand_honest_tiles_pass_their_spot_checks_on_cuda() {
    let backend = cuda_backend();
    common::spot_checks::two_thousand_honest_tiles_pass_their_checks(&|scene, res, s| {
        render(&backend, scene, res, 40, s)
    });
}
