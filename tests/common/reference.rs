//! Mitsuba 3's Cornell box ground truth (`../shared/reference/cornell-box/`, beside the
//! repository) and the figures its README compares renders by.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// Per-channel means of the reference image, from the reference README.
pub const REFERENCE_MEAN: [f64; 3] = [0.240157, 0.141127, 0.059981];
/// Mitsuba's own RMSE against the reference at 64 spp.
pub const MITSUBA_RMSE_64SPP: f64 = 0.0254;

/// `shared/` beside the repository, or `TESSERA_SHARED_DIR` for a checkout that lives elsewhere.
pub fn shared_dir() -> PathBuf {
    std::env::var_os("TESSERA_SHARED_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"),
        PathBuf::from,
    )
}

pub fn reference_exr() -> PathBuf {
    let path = shared_dir().join("reference/cornell-box/mitsuba3-256x256-depth8-8192spp.exr");
    assert!(
        path.exists(),
        "the Cornell box reference is missing: expected {} (the shared/ folder beside the repository)",
        path.display()
    );
    path
}

/// Mean of each beauty channel and RMSE over all pixels and channels against the reference.
pub struct Figures {
    pub mean: [f64; 3],
    pub rmse: f64,
}

pub fn compare_with_reference(render: &Path) -> Figures {
    let (w, h, ours) = super::read_exr(render);
    let (rw, rh, reference) = super::read_exr(&reference_exr());
    assert_eq!((w, h), (rw, rh), "render and reference sizes differ");
    let channel = |set: &[(String, Vec<f32>)], name: &str| -> Vec<f32> {
        set.iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("channel {name} missing"))
            .1
            .clone()
    };
    let mut mean = [0.0; 3];
    let mut squared_error = 0.0;
    for (c, name) in ["R", "G", "B"].into_iter().enumerate() {
        let a = channel(&ours, name);
        let b = channel(&reference, name);
        mean[c] = a.iter().map(|&v| f64::from(v)).sum::<f64>() / a.len() as f64;
        squared_error += a
            .iter()
            .zip(&b)
            .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
            .sum::<f64>();
    }
    Figures {
        mean,
        rmse: (squared_error / (3 * w * h) as f64).sqrt(),
    }
}

/// Asserts the acceptance bounds: each mean within 0.5 % and RMSE at most 1.15 x Mitsuba's.
pub fn assert_matches_reference(figures: &Figures) {
    for (c, (&mean, &reference)) in figures.mean.iter().zip(&REFERENCE_MEAN).enumerate() {
        let relative = mean / reference - 1.0;
        assert!(
            relative.abs() <= 0.005,
            "channel {c} mean {mean:.6} is {:+.3} % off the reference {reference:.6}",
            relative * 100.0,
        );
    }
    assert!(
        figures.rmse <= 1.15 * MITSUBA_RMSE_64SPP,
        "RMSE {:.5} exceeds 1.15 x Mitsuba's {MITSUBA_RMSE_64SPP} at 64 spp",
        figures.rmse
    );
}

/// The Cornell box, from the working directory (the repository root, where Cargo and
/// tools/gpu-check.sh run this binary), else from the source tree it was built from.
pub fn cornell_scene() -> String {
    let relative = Path::new("scenes/cornell-box.gltf");
    let path = std::env::current_dir()
        .map(|d| d.join(relative))
        .ok()
        .filter(|p| p.exists())
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(relative));
    path.to_str().expect("utf-8 path").to_owned()
}

/// Renders the Cornell box with `tessera render` at the acceptance settings (256x256, 64 spp,
/// depth 8) on `backend` and compares it with Mitsuba's reference.
pub fn cornell_matches_reference_on(backend: &str) {
    let scene = cornell_scene();
    let dir = tempfile::tempdir().expect("temporary folder");
    let out = dir.path().join("c.exr");
    let run = super::tessera(
        dir.path(),
        &[
            "render",
            &scene,
            "--backend",
            backend,
            "--width",
            "256",
            "--height",
            "256",
            "--spp",
            "64",
            "--max-depth",
            "8",
            "--json",
            "-o",
            out.to_str().expect("utf-8 path"),
        ],
    );
    assert!(
        run.status.success(),
        "render on {backend} failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let summary: Value = serde_json::from_slice(&run.stdout).expect("JSON summary");
    assert_eq!(summary["backend"], backend);
    let figures = compare_with_reference(&out);
    eprintln!(
        "{backend} ({}) Cornell box: mean {:?}, RMSE {:.5}, {:.0} samples/s",
        summary["device"], figures.mean, figures.rmse, summary["samples_per_second"]
    );
    assert_matches_reference(&figures);
}
