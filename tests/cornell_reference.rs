//! The renderer against a renderer nobody on this project wrote: Mitsuba 3's Cornell box.

mod common;

use common::reference::{assert_matches_reference, compare_with_reference};

#[test]
fn cornell_box_matches_mitsuba_at_64_spp() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let out = dir.path().join("c.exr");
    let scene = concat!(env!("CARGO_MANIFEST_DIR"), "/scenes/cornell-box.gltf");
    let run = common::tessera(
        dir.path(),
        &[
            "render",
            scene,
            "--width",
            "256",
            "--height",
            "256",
            "--spp",
            "64",
            "--max-depth",
            "8",
            "-o",
            out.to_str().expect("utf-8 path"),
        ],
    );
    assert!(
        run.status.success(),
        "render failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let figures = compare_with_reference(&out);
    eprintln!(
        "cpu Cornell box: mean {:?}, RMSE {:.5}",
        figures.mean, figures.rmse
    );
    assert_matches_reference(&figures);
}
