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

/// The unlit cube ([`scenes::unlit`]) as every backend must render it: its base colour at the
/// centre, black beside it.
pub fn assert_unlit(image: &FrameImage) {
    let res = image.resolution();
    let at = |x: u32, y: u32| image.pixels.color[(y * res.width() + x) as usize];
    let centre = at(res.width() / 2, res.height() / 2);
    for (c, expected) in centre[..3].iter().zip(scenes::UNLIT_COLOR) {
        assert!(
            (c - expected).abs() < 1e-6,
            "the unlit cube's centre is {centre:?}"
        );
    }
    assert_eq!(at(0, 0), [0.0; 4], "a corner of the dark background");
}
