//! Scenes built in code for the backend tests, and image statistics to compare renders.
#![allow(dead_code)] // each test binary uses its own part of this module

pub mod scenes;
pub mod stats;

use std::path::PathBuf;

use tessera_renderer::backend::Backend;
use tessera_renderer::film::{FrameImage, Resolution};
use tessera_renderer::scene::FrameScene;
use tessera_renderer::settings::{MaxDepth, RenderSettings, Spp};

/// `shared/` beside the repository (`../shared` from its root), or `TESSERA_SHARED_DIR` for a
/// checkout that lives elsewhere.
pub fn shared_dir() -> PathBuf {
    std::env::var_os("TESSERA_SHARED_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
        PathBuf::from,
    )
}

pub fn settings(spp: u32, max_depth: u32, seed: u64) -> RenderSettings {
    RenderSettings {
        spp: Spp::new(spp).unwrap(),
        max_depth: MaxDepth::new(max_depth).unwrap(),
        seed,
    }
}

/// Renders the whole frame on `backend` in tiles of `tile` pixels, one after another.
pub fn render(
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

/// The white furnace ([`scenes::furnace`]) as every backend must render it: the cube's centre
/// is its albedo, a corner the environment, and the corner's alpha says nothing was hit there.
pub fn assert_furnace(image: &FrameImage) {
    let res = image.resolution();
    let at = |x: u32, y: u32| image.pixels.color[(y * res.width() + x) as usize];
    let centre = at(res.width() / 2, res.height() / 2);
    for c in &centre[..3] {
        assert!(
            (c - scenes::FURNACE_ALBEDO).abs() < 1e-3,
            "the cube's centre is {centre:?}, not its albedo {}",
            scenes::FURNACE_ALBEDO
        );
    }
    assert_eq!(centre[3], 1.0, "the centre's coverage");
    let corner = at(0, 0);
    assert_eq!(
        corner,
        [1.0, 1.0, 1.0, 0.0],
        "a corner sees the environment"
    );
}

/// The unlit cube ([`scenes::unlit`]) as every backend must render it: its base colour (times
/// `tint`, its vertex colour) at the centre, black beside it.
pub fn assert_unlit(image: &FrameImage, tint: [f32; 3]) {
    let res = image.resolution();
    let at = |x: u32, y: u32| image.pixels.color[(y * res.width() + x) as usize];
    let centre = at(res.width() / 2, res.height() / 2);
    let expected = [0, 1, 2].map(|c| scenes::UNLIT_COLOR[c] * tint[c]);
    for (c, expected) in centre[..3].iter().zip(expected) {
        assert!(
            (c - expected).abs() < 1e-6,
            "the unlit cube's centre is {centre:?}"
        );
    }
    assert_eq!(at(0, 0), [0.0; 4], "a corner of the dark background");
}

/// The orthographic view of the cube ([`scenes::orthographic`]): parallel rays meet its front
/// face at the same depth everywhere (5), or, with the near plane inside the cube (5.5), its
/// back face (7); depth still counts from the camera. Beside the cube nothing is hit.
pub fn assert_orthographic(image: &FrameImage, znear: f32) {
    let res = image.resolution();
    let expected = if znear > 5.0 { 7.0 } else { 5.0 };
    let (w, h) = (res.width(), res.height());
    // The film spans [-2, 2]: the centre and points about 0.8 out (the cube's face spans
    // [-1, 1]) all see the cube.
    for (x, y) in [(w / 2, h / 2), (w * 11 / 16, h / 2), (w / 2, h * 5 / 16)] {
        let i = (y * w + x) as usize;
        let depth = image.pixels.depth[i];
        assert!(
            (depth - expected).abs() < 1e-4,
            "pixel ({x}, {y}) at depth {depth}, not {expected}"
        );
        assert_eq!(image.pixels.color[i][3], 1.0, "pixel ({x}, {y}) coverage");
    }
    assert_eq!(image.pixels.color[0][3], 0.0, "a corner sees no cube");
}

/// The pane in front of the unlit cube ([`scenes::behind_a_pane`]): the mean of the centre
/// pixels, which all look through the pane at the cube.
pub fn centre_mean(image: &FrameImage) -> [f32; 3] {
    let res = image.resolution();
    let (w, h) = (res.width(), res.height());
    let mut sum = [0.0f32; 3];
    let mut n = 0.0;
    for y in h / 2 - 4..h / 2 + 4 {
        for x in w / 2 - 4..w / 2 + 4 {
            let c = image.pixels.color[(y * w + x) as usize];
            for k in 0..3 {
                sum[k] += c[k];
            }
            n += 1.0;
        }
    }
    sum.map(|s| s / n)
}

/// A MASK pane hides the cube where alpha reaches the cutoff and vanishes below it; a BLEND pane
/// of alpha 0.25 lets three quarters of the samples through.
pub fn assert_panes(render: impl Fn(&FrameScene, u32) -> FrameImage) {
    use tessera_renderer::material::AlphaMode;
    let mask = AlphaMode::Mask { cutoff: 0.5 };
    let cube = scenes::UNLIT_COLOR;
    let near = |a: [f32; 3], b: [f32; 3], tol: f32| (0..3).all(|k| (a[k] - b[k]).abs() < tol);
    let seen = centre_mean(&render(&scenes::behind_a_pane(mask, 0.25), 4));
    assert!(
        near(seen, cube, 1e-6),
        "a cut-out pane hid the cube: {seen:?}"
    );
    let seen = centre_mean(&render(&scenes::behind_a_pane(mask, 0.75), 4));
    assert!(
        near(seen, [1.0, 0.0, 0.0], 1e-6),
        "an opaque pane let light through: {seen:?}"
    );
    let seen = centre_mean(&render(&scenes::behind_a_pane(AlphaMode::Blend, 0.25), 64));
    let expected = [0, 1, 2].map(|k| 0.25 * [1.0, 0.0, 0.0][k] + 0.75 * cube[k]);
    assert!(
        near(seen, expected, 0.03),
        "blended {seen:?}, expected {expected:?}"
    );
}

/// The absorbing cube ([`scenes::absorbing_cube`]): its centre keeps a quarter of the
/// environment's light (2 units at half per unit), the background all of it.
pub fn assert_absorbed(image: &FrameImage) {
    let seen = centre_mean(image);
    for c in seen {
        assert!(
            (c - 0.25).abs() < 1e-3,
            "through the cube: {seen:?}, not 0.25"
        );
    }
    assert_eq!(
        image.pixels.color[0],
        [1.0, 1.0, 1.0, 0.0],
        "the background"
    );
}
