//! Scene features on the CPU backend, each checked by a figure ([`common::features`]; wgpu and
//! the CUDA kernel run the same checks in their own tests): the neutral environment, unlit
//! surfaces, vertex colours, orthographic cameras and the near plane, alpha, and absorption.

mod common;

use common::{render, settings};
use tessera_renderer::backend::cpu::CpuBackend;
use tessera_renderer::film::{FrameImage, Resolution};
use tessera_renderer::integrator::PathTracer;
use tessera_renderer::scene::FrameScene;

/// The CPU backend, at 32x32 through [`common::features`].
fn render_small(scene: &FrameScene, spp: u32) -> FrameImage {
    let cpu = CpuBackend::new(None).unwrap();
    render(
        &cpu,
        scene,
        Resolution::new(32, 32).unwrap(),
        16,
        &settings(spp, 6, 1),
    )
}

feature_tests!(render_small);

#[test]
fn the_environment_adds_to_a_scenes_own_lights() {
    let cpu = CpuBackend::new(None).unwrap();
    let res = Resolution::new(48, 32).unwrap();
    let s = settings(8, 6, 3);
    let mean = |scene| {
        let image = render(&cpu, &scene, res, 16, &s);
        let c = &image.pixels.color;
        c.iter().map(|p| f64::from(p[0] + p[1] + p[2])).sum::<f64>() / c.len() as f64
    };
    let alone = mean(common::scenes::materials());
    let lit = mean(common::scenes::materials_in_the_environment());
    assert!(
        lit > alone + 0.5,
        "{lit} with the environment, {alone} without"
    );
}

/// The estimates a spot check makes are the pixels of the tile, bit for bit, whatever the
/// tiling: a verifier on the CPU can compare a CPU worker's pixels exactly.
#[test]
fn estimated_pixels_are_the_pixels_of_any_tile_that_holds_them() {
    let cpu = CpuBackend::new(Some(2)).unwrap();
    let scene = common::scenes::materials_half_see_through();
    let res = Resolution::new(40, 24).unwrap();
    let s = settings(8, 6, 5);
    let image = render(&cpu, &scene, res, 16, &s);
    let pixels = [(0, 0), (39, 23), (17, 5), (20, 12), (3, 22)];
    let estimates = cpu.estimate_pixels(&scene, res, &pixels, 0, &s).unwrap();
    for (&(x, y), e) in pixels.iter().zip(&estimates) {
        let tiled = image.pixels.get((y * 40 + x) as usize);
        assert_eq!(
            format!("{:?}", e.pixel),
            format!("{tiled:?}"),
            "pixel ({x}, {y})"
        );
        assert!(e.agrees(&tiled));
        assert_eq!(e.spp, 8);
    }
    assert!(
        cpu.estimate_pixels(&scene, res, &[(40, 0)], 0, &s).is_err(),
        "a pixel outside the frame is an error"
    );
}

/// 2,000 honest CPU tiles pass the farm's spot checks within noise too (they also match
/// exactly, which is how the farm checks CPU tiles).
#[test]
fn two_thousand_honest_tiles_pass_their_spot_checks() {
    let cpu = CpuBackend::new(None).unwrap();
    common::spot_checks::two_thousand_honest_tiles_pass_their_checks(&|scene, res, s| {
        render(&cpu, scene, res, 40, s)
    });
}

/// Importance sampling the environment map: under a one-texel sun, next-event estimation
/// towards the map (weighted by MIS) gives the same mean as BSDF sampling alone, with far lower
/// variance at equal samples.
#[test]
fn sampling_the_map_lowers_variance_and_keeps_the_mean() {
    let scene = common::scenes::floor_under_a_sun(0.4);
    let res = Resolution::new(48, 48).unwrap();
    let camera = scene.camera.raster(res);
    let s = settings(64, 4, 7);
    let moments = |tracer: &PathTracer| {
        let (mut n, mut sum, mut sum2) = (0.0f64, 0.0f64, 0.0f64);
        for y in 0..res.height() {
            for x in 0..res.width() {
                tracer.pixel(&camera, x, y, 0, &s, |l, _| {
                    let v = f64::from(l.x);
                    n += 1.0;
                    sum += v;
                    sum2 += v * v;
                });
            }
        }
        let mean = sum / n;
        let variance = sum2 / n - mean * mean;
        (mean, variance, (variance / n).sqrt())
    };
    let (mis, mis_var, mis_se) = moments(&PathTracer::new(&scene));
    let (bsdf, bsdf_var, bsdf_se) = moments(&PathTracer::without_environment_sampling(&scene));
    let expected = f64::from(common::scenes::floor_under_a_sun_radiance());
    eprintln!(
        "expected {expected:.4}; MIS {mis:.4} ± {mis_se:.4} (variance {mis_var:.4}); \
         BSDF alone {bsdf:.4} ± {bsdf_se:.4} (variance {bsdf_var:.4})"
    );
    assert!(
        (mis - expected).abs() < 4.0 * mis_se + 1e-3 * expected,
        "MIS mean {mis}, expected {expected}"
    );
    assert!(
        (bsdf - mis).abs() < 4.0 * (bsdf_se + mis_se),
        "BSDF-alone mean {bsdf} against MIS {mis}"
    );
    assert!(
        mis_var * 20.0 < bsdf_var,
        "MIS variance {mis_var} is not clearly below BSDF sampling's {bsdf_var}"
    );
}
