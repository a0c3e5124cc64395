//! Scenes built in code for the backend tests, and image statistics to compare renders.
#![allow(dead_code)] // each test binary uses its own part of this module

pub mod features;
pub mod scenes;
pub mod spot_checks;
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
