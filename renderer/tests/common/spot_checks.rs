//! The farm's spot check of a backend other than the CPU: each pixel of a frame rendered by
//! the backend is judged against the CPU's estimate of it ([`Estimate::agrees`]). Honest pixels
//! must nearly all agree; the same frame rendered with half the samples, claimed as full, must
//! mostly disagree.

use tessera_renderer::backend::cpu::CpuBackend;
use tessera_renderer::estimate::{Estimate, allowed_disagreements, honest_disagreement};
use tessera_renderer::film::{FrameImage, Resolution};
use tessera_renderer::scene::FrameScene;
use tessera_renderer::settings::RenderSettings;

use super::{scenes, settings};

/// A backend rendering a whole frame (frame number 0).
pub type RenderFrame<'a> = &'a dyn Fn(&FrameScene, Resolution, &RenderSettings) -> FrameImage;

/// The share of `image`'s pixels that disagree with the CPU's estimates at `claimed`.
pub fn disagreeing_share(scene: &FrameScene, image: &FrameImage, claimed: &RenderSettings) -> f64 {
    let res = image.resolution();
    let pixels: Vec<(u32, u32)> = (0..res.height())
        .flat_map(|y| (0..res.width()).map(move |x| (x, y)))
        .collect();
    let cpu = CpuBackend::new(None).unwrap();
    let estimates: Vec<Estimate> = cpu
        .estimate_pixels(scene, res, &pixels, 0, claimed)
        .expect("the CPU estimates every pixel");
    let disagreeing = estimates
        .iter()
        .enumerate()
        .filter(|(i, e)| !e.agrees(&image.pixels.get(*i)))
        .count();
    disagreeing as f64 / pixels.len() as f64
}

/// Honest frames of several scenes, at 16 and 64 samples per pixel, disagree with the CPU in
/// no more pixels than [`honest_disagreement`] allows; frames of half the samples, claimed as
/// full, disagree in more than half their pixels.
pub fn honest_pixels_agree_and_halved_samples_do_not(render: RenderFrame) {
    let res = Resolution::new(64, 48).unwrap();
    let mut failures = Vec::new();
    for spp in [16, 64] {
        let claimed = settings(spp, 8, 3);
        let halved = settings(spp / 2, 8, 3);
        for (name, scene) in [
            ("cornell", scenes::cornell_box()),
            ("materials", scenes::materials()),
            ("environment", scenes::materials_in_the_environment()),
            ("sky map", scenes::materials_under_a_sun_map()),
            ("see-through", scenes::materials_half_see_through()),
        ] {
            let honest = disagreeing_share(&scene, &render(&scene, res, &claimed), &claimed);
            let cheat = disagreeing_share(&scene, &render(&scene, res, &halved), &claimed);
            let allowed = honest_disagreement(spp);
            eprintln!(
                "{name:>12} at {spp} spp: honest pixels disagreeing {:.3} % (allowed {:.2} %), \
                 half the samples disagreeing {:.1} %",
                100.0 * honest,
                100.0 * allowed,
                100.0 * cheat
            );
            if honest > allowed {
                failures.push(format!(
                    "{name} at {spp} spp: {:.3} % of honest pixels disagree",
                    100.0 * honest
                ));
            }
            if cheat < 0.5 {
                failures.push(format!(
                    "{name} at {spp} spp: only {:.1} % of halved pixels disagree",
                    100.0 * cheat
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:?}");
}

/// How often the farm lets an honest tile fail a check (coordinator/src/verify.rs).
const FALSE_ALARM: f64 = 1e-6;

/// 2,000 honest tiles of 4x4 pixels (a 200x160 frame of the materials scene, the one whose
/// paths diverge most), each checked in every pixel as the farm checks a tile within noise:
/// none fails.
pub fn two_thousand_honest_tiles_pass_their_checks(render: RenderFrame) {
    const TILE: u32 = 4;
    let res = Resolution::new(200, 160).unwrap();
    let s = settings(16, 8, 11);
    let scene = scenes::materials();
    let image = render(&scene, res, &s);
    let pixels: Vec<(u32, u32)> = (0..res.height())
        .flat_map(|y| (0..res.width()).map(move |x| (x, y)))
        .collect();
    let estimates = CpuBackend::new(None)
        .unwrap()
        .estimate_pixels(&scene, res, &pixels, 0, &s)
        .expect("the CPU estimates every pixel");
    let allowed = allowed_disagreements((TILE * TILE) as usize, 16, FALSE_ALARM);
    let (mut tiles, mut failed, mut disagreeing) = (0, Vec::new(), 0);
    for ty in (0..res.height()).step_by(TILE as usize) {
        for tx in (0..res.width()).step_by(TILE as usize) {
            let count = (ty..ty + TILE)
                .flat_map(|y| (tx..tx + TILE).map(move |x| (y * res.width() + x) as usize))
                .filter(|&i| !estimates[i].agrees(&image.pixels.get(i)))
                .count();
            tiles += 1;
            disagreeing += count;
            if count > allowed {
                failed.push((tx, ty, count));
            }
        }
    }
    eprintln!(
        "{tiles} tiles checked: {} failed; {disagreeing} of {} pixels disagree (a tile fails \
         beyond {allowed} of {})",
        failed.len(),
        pixels.len(),
        TILE * TILE
    );
    assert_eq!(tiles, 2000);
    assert!(failed.is_empty(), "honest tiles failed: {failed:?}");
}
