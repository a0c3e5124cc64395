//! Quotes against what the job is then billed, on the example scenes and a heavier render:
//! `tessera submit --quote` on a farm, and `tessera render --quote`. A test binary of its own,
//! its tests one at a time: quotes (and a local render's bill) are timings, which other tests
//! rendering at the same time would disturb.

mod common;
mod farm;

use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;

/// The tests of this binary run one at a time.
static ALONE: Mutex<()> = Mutex::new(());

/// The example scenes and a heavier render (more pixels, more samples and longer paths), with
/// the options they are rendered with.
const CASES: [(&str, &[&str]); 4] = [
    (
        "cornell-box.gltf",
        &["--width", "256", "--height", "256", "--spp", "64"],
    ),
    (
        "materials.gltf",
        &["--width", "240", "--height", "160", "--spp", "64"],
    ),
    (
        "turntable.gltf",
        &[
            "--width", "160", "--height", "120", "--spp", "32", "--frames", "1-4",
        ],
    ),
    (
        "materials.gltf",
        &[
            "--width",
            "480",
            "--height",
            "320",
            "--spp",
            "64",
            "--max-depth",
            "12",
        ],
    ),
];

/// On a farm, a job is charged for its work at the prices its quote fixed, and a quote holds for
/// ten minutes: `tessera submit --quote`, then the same submission, is invoiced what was quoted,
/// within a micro-dollar of rounding (and so within the 10 %).
#[test]
fn a_farm_quote_holds_and_is_what_the_job_is_invoiced() {
    let _alone = ALONE.lock().unwrap_or_else(|p| p.into_inner());
    // A CPU a thousand times dearer than the default, so that these small jobs cost thousands
    // of micro-dollars and rounding to whole ones stays out of the ratios.
    let prices = tempfile::tempdir().unwrap();
    let table = prices.path().join("prices.toml");
    std::fs::write(&table, "cpu_core_hour = 40.0\n").unwrap();
    let mut farm = farm::Farm::start_with("quote", &["--prices", table.to_str().unwrap()]);
    let worker = farm.start_worker(&[]);
    farm.wait_worker_ready(worker, Duration::from_secs(60));
    let mut failures = Vec::new();
    for (scene, options) in CASES {
        let path = farm::scene(scene).display().to_string();
        let mut args = vec!["submit", path.as_str()];
        args.extend_from_slice(options);
        let quote = farm.json(&[args.as_slice(), &["--quote", "--json"]].concat());
        let job = farm.submit(&args[1..]);
        let status = farm.wait_done(&job, Duration::from_secs(300));
        let kept = status["quote"]["cost"].as_i64().unwrap();
        let quoted = quote["quote_micro_usd"].as_i64().unwrap();
        let invoice = farm.json(&["bill", &job, "--format", "json"])["total_micros"]
            .as_i64()
            .unwrap();
        let ratio = quoted as f64 / invoice as f64;
        eprintln!(
            "{scene} {options:?}: quoted {quoted} µ$, kept with the job {kept} µ$, invoiced {invoice} µ$: ratio {ratio:.3}"
        );
        assert_eq!(quoted, kept, "{scene} {options:?}: the quote held");
        assert!((kept - invoice).abs() <= 1, "{scene} {options:?}");
        if !(0.9..=1.1).contains(&ratio) {
            failures.push(format!("{scene} {options:?}: quote/invoice {ratio:.3}"));
        }
    }
    assert!(failures.is_empty(), "{failures:?}");
}

fn json_of(ws: &common::Workspace, args: &[&str]) -> Value {
    let out = ws.run(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

/// Each quote lands within 25 % of the bill of the local render it quoted. A local render is
/// billed by its render time (its only worker is this process), so both are timings on a
/// shared machine: the same render's bill varies by 5-10 % from run to run here, and a quote as
/// much (0.92-1.21 over two runs of this session), more while anything else runs (0.72 once, a
/// build beside it). So a case that misses is quoted and billed once more, and fails only if
/// it misses twice: a quote that is wrong misses every time.
#[test]
fn local_quotes_land_within_a_quarter_of_the_bill() {
    let _alone = ALONE.lock().unwrap_or_else(|p| p.into_inner());
    let ws = common::Workspace::new();
    let scenes = concat!(env!("CARGO_MANIFEST_DIR"), "/scenes/");
    let mut failures = Vec::new();
    for (scene, options) in CASES {
        let path = format!("{scenes}{scene}");
        let mut args = vec!["render", path.as_str(), "-o", "out/f_####.exr", "--json"];
        args.extend_from_slice(options);
        let mut ratios = Vec::new();
        let mut landed = false;
        for _ in 0..2 {
            let quote = json_of(&ws, &[args.as_slice(), &["--quote"]].concat());
            let bill = json_of(&ws, &args);
            assert_eq!(quote["samples"], bill["samples"], "{scene} {options:?}");
            let (quoted, billed) = (
                quote["quote_micro_usd"].as_f64().unwrap(),
                bill["charge_micro_usd"].as_f64().unwrap(),
            );
            let ratio = quoted / billed;
            eprintln!(
                "{scene} {options:?}: quoted {quoted} µ$ (about {:.2} s), billed {billed} µ$ ({:.2} s): ratio {ratio:.3}",
                quote["seconds"].as_f64().unwrap(),
                bill["render_seconds"].as_f64().unwrap()
            );
            ratios.push(format!("{ratio:.3}"));
            landed = (0.75..=1.25).contains(&ratio);
            if landed {
                break;
            }
        }
        if !landed {
            failures.push(format!("{scene} {options:?}: quote/bill {ratios:?}"));
        }
    }
    assert!(failures.is_empty(), "{failures:?}");
}
