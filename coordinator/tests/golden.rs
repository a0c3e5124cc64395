//! The stored job spec, pinned against `tests/golden/stored_job_spec.json`: data directories
//! outlive the coordinator that wrote them. A change of format must be deliberate: it updates
//! the file in the same commit (`TESSERA_BLESS=1 cargo test --test golden` rewrites it).

use std::num::NonZeroU32;
use std::path::PathBuf;

use tessera_coordinator::job::JobSpec;
use tessera_protocol::job::Fps;
use tessera_renderer::film::Resolution;
use tessera_renderer::settings::{MaxDepth, RenderSettings, Spp};

#[test]
fn stored_job_spec() {
    let spec = JobSpec {
        frames: "1-3,5".parse().unwrap(),
        resolution: Resolution::new(256, 192).unwrap(),
        settings: RenderSettings {
            spp: Spp::new(16).unwrap(),
            max_depth: MaxDepth::new(8).unwrap(),
            seed: 5,
        },
        tile_size: NonZeroU32::new(64).unwrap(),
        fps: Fps::new(24.0).unwrap(),
        camera: None,
        view: Default::default(),
        environment: None,
        max_attempts: 3,
    };
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/stored_job_spec.json");
    let json = serde_json::to_string_pretty(&spec).unwrap() + "\n";
    if std::env::var_os("TESSERA_BLESS").is_some() {
        std::fs::write(&path, &json).unwrap();
    }
    let golden = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        json, golden,
        "the stored job spec's serialized form changed"
    );
    let decoded: JobSpec = serde_json::from_str(&golden).unwrap();
    assert_eq!(decoded, spec);
}
