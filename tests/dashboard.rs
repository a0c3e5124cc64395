//! The dashboard in a real browser: Debian's Chromium, headless, driven by Playwright
//! (`tests/browser/dashboard.mjs`) against a farm of real processes on a real RabbitMQ. `.ci/run`
//! installs Chromium, Node.js and the script's one package; without them these tests fail,
//! saying what is missing.

mod farm;

use std::path::{Path, PathBuf};
use std::process::Command;

use farm::{Farm, scene};

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// Runs one scenario of the browser script against `farm`, with `env` beside its addresses.
fn run_script(farm: &Farm, scenario: &str, env: &[(&str, String)]) -> String {
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "Chromium is missing: apt-get install -y chromium (.ci/run does)"
    );
    assert!(
        browser_dir().join("node_modules/playwright-core").exists(),
        "Playwright is missing: npm ci --prefix tests/browser (.ci/run does)"
    );
    let out = Command::new("node")
        .arg(browser_dir().join("dashboard.mjs"))
        .arg(scenario)
        .env("TESSERA_URL", &farm.url)
        .env("ADMIN_TOKEN", &farm.admin)
        .env("SCENE", scene("cornell-box.gltf"))
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap_or_else(|e| panic!("cannot run node ({e}): apt-get install -y nodejs"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "the browser test '{scenario}' failed:\n{stdout}\n{}\ncoordinator log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        farm.read_log("coordinator")
    );
    stdout
}

#[test]
fn an_artist_watches_tiles_arrive_an_operator_drains_a_worker_and_tenants_stay_apart() {
    let farm = Farm::start("dashboard-live");
    let a = farm.token(&["--role", "submitter", "--name", "ann", "--tenant", "a"]);
    let b = farm.token(&["--role", "submitter", "--name", "bob", "--tenant", "b"]);
    let (worker, worker_token) = farm.worker_command("w1");
    // Screenshots go beside the build; README's come from a run of this test.
    let screenshots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard-screenshots");
    let out = run_script(
        &farm,
        "live",
        &[
            ("TENANT_A_TOKEN", a),
            ("TENANT_B_TOKEN", b),
            ("TESSERA_TOKEN", worker_token),
            ("WORKER_COMMAND", serde_json::to_string(&worker).unwrap()),
            ("SCREENSHOTS", screenshots.display().to_string()),
        ],
    );
    println!("{out}");
    for page in ["jobs", "job-in-progress", "workers"] {
        let path = screenshots.join(format!("{page}.png"));
        assert!(path.exists(), "no screenshot of the {page} page");
    }
}

#[test]
fn a_thousand_jobs_and_two_hundred_workers_stay_responsive() {
    let farm = Farm::start("dashboard-many");
    println!("{}", run_script(&farm, "many", &[]));
}
