//! The farm's wire formats, pinned: a task message, a result message (rendered and failed), a
//! job view and an invoice, each against a JSON file in `tests/golden/`. A change of format must be deliberate: it updates the file in the same commit
//! (`TESSERA_BLESS=1 cargo test --test golden` rewrites them).

use std::path::PathBuf;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tessera_protocol::api::{
    FrameProgress, InvoiceView, JobState, JobView, LedgerRow, Quote, Reversal,
};
use tessera_protocol::auth::Trust;
use tessera_protocol::device::Device;
use tessera_protocol::id::{JobId, TaskId};
use tessera_protocol::money::Money;
use tessera_protocol::pixels::EncodedPixels;
use tessera_protocol::result::{Outcome, ResultMessage, WorkerInfo};
use tessera_protocol::scene::SceneHash;
use tessera_protocol::task::{MAX_BUNDLE, TaskBundle, TaskMessage};
use tessera_renderer::film::{Pixels, Resolution, Tile};
use tessera_renderer::settings::{MaxDepth, RenderSettings, Spp};

/// Compares `value`'s JSON with the golden file, and checks that the file decodes to the same
/// JSON again (so reading old messages keeps working too).
fn check<T: Serialize + DeserializeOwned>(name: &str, value: &T) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{name}.json"));
    let json = serde_json::to_string_pretty(value).unwrap() + "\n";
    if std::env::var_os("TESSERA_BLESS").is_some() {
        std::fs::write(&path, &json).unwrap();
    }
    let golden = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    assert_eq!(json, golden, "{name}: the serialized form changed");
    let decoded: T = serde_json::from_str(&golden).unwrap();
    assert_eq!(
        serde_json::to_string_pretty(&decoded).unwrap() + "\n",
        golden,
        "{name}: the golden file does not decode to itself"
    );
}

fn resolution() -> Resolution {
    Resolution::new(256, 192).unwrap()
}

fn tile() -> Tile {
    Tile::new(64, 128, 64, 64, resolution()).unwrap()
}

fn settings() -> RenderSettings {
    RenderSettings {
        spp: Spp::new(16).unwrap(),
        max_depth: MaxDepth::new(8).unwrap(),
        seed: 5,
    }
}

fn worker() -> WorkerInfo {
    WorkerInfo {
        name: "render-07".into(),
        device: Device {
            backend: "cuda".into(),
            name: "NVIDIA H100 80GB HBM3".into(),
            class: "h100".into(),
            threads: 1,
        },
    }
}

fn task(id: i64) -> TaskMessage {
    TaskMessage {
        task: TaskId(id),
        job: JobId(7),
        scene: SceneHash::of(b"scene"),
        frame: 3,
        time: 2.0 / 24.0,
        camera: Some("Camera".into()),
        view: Default::default(),
        environment: None,
        resolution: resolution(),
        tile: tile(),
        settings: settings(),
        attempt: 2,
        max_attempts: 3,
        trust: Default::default(),
    }
}

#[test]
fn task_bundle() {
    check("task_bundle", &TaskBundle::one(task(42)));
}

/// A message on a task queue that breaks a bundle's rules (empty, too many tasks, several jobs,
/// a task twice) does not decode, so it is refused once rather than half-rendered.
#[test]
fn bundles_that_break_their_rules_do_not_decode() {
    let decode = |tasks: Vec<TaskMessage>| {
        serde_json::from_value::<TaskBundle>(serde_json::json!({ "tasks": tasks }))
            .map_err(|e| e.to_string())
    };
    let full: Vec<TaskMessage> = (0..MAX_BUNDLE as i64).map(task).collect();
    assert_eq!(decode(full.clone()).unwrap().tasks(), full);
    let err = decode(Vec::new()).unwrap_err();
    assert!(err.contains("no task"), "{err}");
    let err = decode((0..=MAX_BUNDLE as i64).map(task).collect()).unwrap_err();
    assert!(err.contains("at most 16"), "{err}");
    let other_job = TaskMessage {
        job: JobId(8),
        ..task(2)
    };
    let err = decode(vec![task(1), other_job]).unwrap_err();
    assert!(err.contains("several jobs"), "{err}");
    let verified = TaskMessage {
        trust: Trust::Verified,
        ..task(2)
    };
    assert!(decode(vec![task(1), verified]).is_err());
    let err = decode(vec![task(1), task(2), task(1)]).unwrap_err();
    assert!(err.contains("task 1 twice"), "{err}");
}

#[test]
fn result_messages() {
    let mut pixels = Pixels::zeroed(2);
    pixels.color = vec![[0.25, 0.5, 1.0, 1.0], [0.0, 0.125, 0.0, 0.5]];
    pixels.albedo = vec![[0.8, 0.8, 0.8], [0.1, 0.2, 0.3]];
    pixels.normal = vec![[0.0, 1.0, 0.0], [0.0, 0.0, -1.0]];
    pixels.depth = vec![3.5, 1e10];
    let rendered = ResultMessage {
        task: TaskId(42),
        job: JobId(7),
        frame: 3,
        tile: tile(),
        attempt: 1,
        worker: worker(),
        outcome: Outcome::Rendered {
            render_micros: 1_234_567,
            samples: 65_536,
            pixels: EncodedPixels::encode(&pixels),
        },
        lease: "9f86d081884c7d659a2feaa0c55ad015".into(),
        signature: String::new(),
    };
    let mut rendered = rendered;
    rendered.sign("a lease key");
    check("result_rendered", &rendered);
    let mut failed = ResultMessage {
        outcome: Outcome::Failed {
            reason: "cannot load scene: no such file".into(),
        },
        ..rendered
    };
    failed.sign("a lease key");
    assert!(failed.is_signed_by("a lease key"));
    check("result_failed", &failed);
}

#[test]
fn job_view() {
    check(
        "job_view",
        &JobView {
            id: JobId(7),
            tenant: "studio-a".into(),
            state: JobState::Failed,
            reason: Some("task 42 (frame 3, tile 64x64+64+128) failed 3 time(s): boom".into()),
            scene_name: "turntable.gltf".into(),
            scene: SceneHash::of(b"scene").to_string(),
            frames: "1-3".into(),
            width: 256,
            height: 192,
            spp: 16,
            tile: 64,
            priority: -2,
            tasks_total: 36,
            tasks_done: 13,
            frame_progress: vec![
                FrameProgress {
                    frame: 1,
                    tiles_done: 12,
                    tiles_total: 12,
                    written: true,
                },
                FrameProgress {
                    frame: 2,
                    tiles_done: 1,
                    tiles_total: 12,
                    written: false,
                },
            ],
            cost: Money::from_micros(1_067),
            max_cost: Some(Money::from_micros(25_000_000)),
            quote: Some(Quote {
                cost: Money::from_micros(1_200),
                seconds: Some(41.5),
                samples: 2_359_296,
                probe_seconds_per_sample: 1.75e-6,
                work_hour_prices: [
                    ("cpu".to_string(), Money::from_micros(80_000)),
                    ("h100".to_string(), Money::from_micros(102_400)),
                ]
                .into(),
            }),
            trust: Default::default(),
            submitted_at: 1_780_000_000.5,
            finished_at: Some(1_780_000_042.25),
        },
    );
}

#[test]
fn invoice() {
    let row = LedgerRow {
        task: TaskId(42),
        job: JobId(7),
        frame: 3,
        tile: tile().to_string(),
        worker: "render-07".into(),
        device_class: "h100".into(),
        threads: 1,
        render_micros: 1_400_000,
        samples: 65_536,
        work_micros: 1_500_000,
        hourly: Money::from_micros(2_560_000),
        charge: Money::from_micros(1_067),
    };
    check(
        "invoice",
        &InvoiceView {
            job: JobId(7),
            rows: vec![row],
            reversals: vec![Reversal {
                task: TaskId(41),
                worker: "mallory".into(),
                amount: Money::from_micros(12),
                reason: "failed a spot check".into(),
            }],
            total: Money::from_micros(1_067),
        },
    );
}
