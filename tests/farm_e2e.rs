//! The farm end to end: a real RabbitMQ, a coordinator and worker processes.

mod farm;

use std::time::Duration;

use farm::{Farm, assert_same_exr, check_bill, rabbitmqctl, render_locally, scene};
use serde_json::Value;
use tessera_protocol::api::TaskState;
use tessera_protocol::client::Client;
use tessera_protocol::id::JobId;

fn tasks_total(status: &Value) -> u64 {
    status["tasks_total"].as_u64().unwrap()
}

#[test]
fn two_workers_render_the_turntable_bit_identically_to_tessera_render_and_bill_each_task_once() {
    let mut farm = Farm::start("e2e");
    let metrics: Vec<String> = (0..2)
        .map(|_| format!("127.0.0.1:{}", farm::free_port()))
        .collect();
    for addr in &metrics {
        farm.start_worker_with(&["--metrics", addr], &[]);
    }
    // Workers render below everything else on their machine, every thread of them.
    farm.wait_worker_ready(0, Duration::from_secs(60));
    let priorities = farm.worker_priorities(0);
    assert!(
        priorities.len() > 1 && priorities.iter().all(|&nice| nice == 10),
        "{priorities:?}"
    );
    let options = [
        "--frames", "1-3", "--width", "128", "--height", "96", "--spp", "16", "--tile", "32",
    ];
    let turntable = scene("turntable.gltf");
    let mut args = vec!["submit", turntable.to_str().unwrap()];
    args.extend_from_slice(&options);
    // A quote first: priced and timed on the farm as it is, and nothing queued.
    let mut quote_args = args.clone();
    quote_args.extend_from_slice(&["--quote", "--json"]);
    let quote = farm.json(&quote_args);
    let samples = 128 * 96 * 16 * 3;
    assert_eq!(quote["samples"], samples, "{quote}");
    assert!(quote["quote_micro_usd"].as_i64().unwrap() > 0, "{quote}");
    assert!(quote["seconds"].as_f64().unwrap() > 0.0, "{quote}");
    assert_eq!(farm.json(&["status", "--json"]), serde_json::json!([]));
    args.extend_from_slice(&["--wait", "-o", "farm/frame_####.exr"]);
    let out = farm.tessera(&args);
    assert!(
        out.status.success(),
        "submit --wait: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let job = String::from_utf8(out.stdout).unwrap().trim().to_owned();

    let local = render_locally(
        &farm.dir.path().join("local"),
        &turntable,
        &options,
        &[1, 2, 3],
    );
    for (frame, local) in (1..=3).zip(&local) {
        let downloaded = farm.dir.path().join(format!("farm/frame_{frame:04}.exr"));
        assert_same_exr(&downloaded, local);
    }
    let status = farm.status(&job);
    assert_eq!(status["state"], "done");
    assert_eq!(tasks_total(&status), 3 * 4 * 3);
    // The job was quoted as it was submitted; both quotes are reported beside the invoice.
    assert_eq!(status["quote"]["samples"], samples, "{status}");
    eprintln!(
        "quoted {} µ$ before submitting and {} µ$ on submission; invoiced {} µ$",
        quote["quote_micro_usd"], status["quote"]["cost"], status["cost"]
    );
    check_bill(&farm, &job, tasks_total(&status));
    // The listing reads as the job's own view.
    let listed = farm.json(&["status", "--json"]);
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    for field in ["state", "tasks_done", "cost"] {
        assert_eq!(listed[0][field], status[field], "{field}: {listed}");
    }
    let workers = farm.json(&["workers", "--json"]);
    assert_eq!(workers.as_array().unwrap().len(), 2, "{workers}");

    // Each worker counts what it rendered; together, every task at least once.
    let sample = |page: &str, name: &str| -> f64 {
        page.lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in\n{page}"))
    };
    let mut rendered = 0.0;
    for addr in &metrics {
        let page = ureq::get(&format!("http://{addr}/metrics"))
            .call()
            .unwrap()
            .into_string()
            .unwrap();
        let n = sample(&page, "tessera_worker_tasks_total{outcome=\"rendered\"}");
        assert_eq!(sample(&page, "tessera_worker_render_seconds_count"), n);
        assert_eq!(sample(&page, "tessera_worker_busy"), 0.0);
        rendered += n;
    }
    assert!(
        rendered >= tasks_total(&status) as f64,
        "{rendered} tiles rendered"
    );
}

/// A small job with many tasks, long enough to interrupt.
const SMALL: [&str; 10] = [
    "--frames", "1-3", "--width", "64", "--height", "48", "--spp", "8", "--tile", "16",
];

fn submit_small(farm: &Farm) -> String {
    let turntable = scene("turntable.gltf");
    let mut args = vec![turntable.to_str().unwrap()];
    args.extend_from_slice(&SMALL);
    farm.submit(&args)
}

fn check_against_local(farm: &Farm, job: &str) {
    let local = render_locally(
        &farm.dir.path().join("local"),
        &scene("turntable.gltf"),
        &SMALL,
        &[1, 2, 3],
    );
    for (frame, local) in (1..=3).zip(&local) {
        assert_same_exr(&farm.frame(job, frame), local);
    }
}

fn tasks_done(s: &Value) -> u64 {
    s["tasks_done"].as_u64().unwrap_or(0)
}

/// Two workers render the small job; once `done_before` tiles are in, `interrupt` strikes. The
/// job must still finish with frames identical to `tessera render`'s and each task billed once.
fn survives(test: &str, done_before: u64, interrupt: impl FnOnce(&mut Farm)) {
    let mut farm = Farm::start(test);
    farm.start_worker(&[]);
    farm.start_worker(&[]);
    let job = submit_small(&farm);
    farm.wait_for(&job, Duration::from_secs(120), "a few tiles done", |s| {
        tasks_done(s) >= done_before
    });
    interrupt(&mut farm);
    let status = farm.wait_done(&job, Duration::from_secs(240));
    check_against_local(&farm, &job);
    check_bill(&farm, &job, tasks_total(&status));
}

#[test]
fn a_worker_killed_mid_job_loses_nothing_and_bills_nothing_twice() {
    survives("kill-worker", 4, |farm| farm.worker(0).kill().unwrap());
}

#[test]
fn a_coordinator_killed_mid_job_resumes_from_its_data_directory() {
    survives("kill-coordinator", 4, |farm| {
        farm.kill_coordinator();
        std::thread::sleep(Duration::from_millis(500));
        farm.start_coordinator();
    });
}

#[test]
fn closing_every_broker_connection_under_load_is_survived() {
    survives("close-connections", 3, |_| {
        rabbitmqctl(&["close_all_connections", "tessera test: connections closed"]);
    });
}

#[test]
fn a_task_that_always_fails_is_dead_lettered_and_fails_only_its_job() {
    let mut farm = Farm::start("dead-letter");
    farm.start_worker(&[("TESSERA_FAIL_FRAMES", "2")]);
    let turntable = scene("turntable.gltf");
    let t = turntable.to_str().unwrap();
    let doomed = farm.submit(&[
        t, "--frames", "2", "--width", "8", "--height", "8", "--spp", "1", "--tile", "8",
    ]);
    let fine = farm.submit(&[
        t, "--frames", "1", "--width", "16", "--height", "16", "--spp", "1", "--tile", "8",
    ]);
    let status = farm.wait_for(&doomed, Duration::from_secs(120), "job failed", |s| {
        s["state"] != "running"
    });
    assert_eq!(status["state"], "failed", "{status}");
    let reason = status["reason"].as_str().unwrap();
    // The farm's one worker failed every attempt: three times `--max-attempts`.
    assert!(
        reason.contains("failed 9 time(s)") && reason.contains("TESSERA_FAIL_FRAMES"),
        "{reason}"
    );
    let text = farm.tessera(&["status", &doomed]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("TESSERA_FAIL_FRAMES"));
    // Its one task, failed, says why; the other job has no failed task.
    let failed = farm.tessera(&["tasks", &doomed, "--state", "failed", "--json"]);
    let failed: Value = serde_json::from_slice(&failed.stdout).unwrap();
    let [task] = failed.as_array().unwrap().as_slice() else {
        panic!("one failed task: {failed}");
    };
    assert_eq!(
        (&task["state"], &task["attempts"]),
        (&"failed".into(), &9.into()),
        "{task}"
    );
    assert!(
        task["last_error"]
            .as_str()
            .unwrap()
            .contains("TESSERA_FAIL_FRAMES"),
        "{task}"
    );
    let table = farm.tessera(&["tasks", &doomed]);
    let table = String::from_utf8_lossy(&table.stdout);
    let row = table.lines().nth(1).unwrap_or_default();
    assert!(
        row.contains("failed") && row.contains("TESSERA_FAIL_FRAMES"),
        "{table}"
    );
    let none = farm.tessera(&["tasks", &fine, "--state", "failed", "--json"]);
    assert_eq!(
        serde_json::from_slice::<Value>(&none.stdout).unwrap(),
        serde_json::json!([])
    );
    farm.wait_done(&fine, Duration::from_secs(120));
    // Read a task a page, the other job's four tasks are the same, all of them or the done.
    let client = Client::new(&farm.url, Some(&farm.admin));
    let id: JobId = fine.parse().unwrap();
    let all = client.tasks(id, None).unwrap();
    assert_eq!(all.len(), 4);
    assert_eq!(client.tasks_in_pages_of(id, None, 1).unwrap(), all);
    let done = client.tasks_in_pages_of(id, Some(TaskState::Done), 1);
    assert_eq!(done.unwrap(), all);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while farm.queue_depth("tasks.dead") != 1 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        farm.queue_depth("tasks.dead"),
        1,
        "the task is in the dead-letter queue"
    );
}

/// Exactly one `error:` line on stderr, exit status 1, mentioning `phrase`.
/// The job list is served from a snapshot: it shows a job as soon as its submission is
/// answered, and its cancellation as soon as that is.
#[test]
fn the_job_list_shows_a_submission_and_a_cancellation_at_once() {
    let farm = Farm::start("listing");
    let listed = || farm.json(&["status", "--json"]);
    assert_eq!(listed(), serde_json::json!([]));
    let turntable = scene("turntable.gltf");
    let job = farm.submit(&[turntable.to_str().unwrap(), "--frames", "1-2"]);
    // Nobody renders it: it stays running.
    for _ in 0..2 {
        let jobs = listed();
        assert_eq!(jobs.as_array().map(Vec::len), Some(1), "{jobs}");
        assert_eq!(jobs[0]["id"].to_string(), job, "{jobs}");
        assert_eq!(jobs[0]["state"], "running", "{jobs}");
    }
    let out = farm.tessera(&["cancel", &job]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let jobs = listed();
    assert_eq!(jobs[0]["state"], "cancelled", "{jobs}");
}

fn assert_clear_error(out: &std::process::Output, phrase: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(lines.len(), 1, "one line: {lines:?}");
    assert!(lines[0].starts_with("error: "), "{}", lines[0]);
    assert!(
        lines[0].to_lowercase().contains(&phrase.to_lowercase()),
        "'{}' lacks '{phrase}'",
        lines[0]
    );
    assert!(!lines[0].contains("panicked"));
}

#[test]
fn bad_submissions_get_a_clear_error_and_create_nothing() {
    let farm = Farm::start("bad-submissions");
    let broken = farm.dir.path().join("broken.gltf");
    std::fs::write(
        &broken,
        br#"{"asset": {"version": "2.0"}, "meshes": [{"primitives": []}]}"#,
    )
    .unwrap();
    let turntable = scene("turntable.gltf");
    let t = turntable.to_str().unwrap();

    let out = farm.tessera(&["submit", broken.to_str().unwrap()]);
    assert_clear_error(&out, "cannot load scene 'broken.gltf'");
    let out = farm.tessera(&["submit", t, "--frames", ""]);
    assert_clear_error(&out, "frame");
    let out = farm.tessera(&["submit", t, "--tile", "0"]);
    assert_clear_error(&out, "tile");
    let out = farm.tessera(&["status", "4242"]);
    assert_clear_error(&out, "no job 4242");
    let out = farm.tessera(&["bill", "4242"]);
    assert_clear_error(&out, "no job 4242");

    // The server refuses the same things when a client skips the CLI's checks.
    let refused = |query: &str, body: &[u8]| {
        let url = format!("{}/api/jobs?{query}", farm.url);
        let auth = format!("Bearer {}", farm.admin);
        match ureq::post(&url)
            .set("authorization", &auth)
            .send_bytes(body)
        {
            Err(ureq::Error::Status(code, response)) => {
                let json: Value = serde_json::from_str(&response.into_string().unwrap()).unwrap();
                (code, json["error"].as_str().unwrap().to_owned())
            }
            other => panic!("{query}: expected an error, got {other:?}"),
        }
    };
    let scene_bytes = std::fs::read(&turntable).unwrap();
    let (code, message) = refused("scene_name=t.gltf&frames=", &scene_bytes);
    assert_eq!(code, 400, "{message}");
    let (code, message) = refused("scene_name=t.gltf&frames=1&tile=0", &scene_bytes);
    assert_eq!(code, 400, "{message}");
    assert!(message.contains("tile"), "{message}");
    let (code, message) = refused("scene_name=b.gltf&frames=1", b"{not gltf");
    assert_eq!(code, 422, "{message}");
    // A scene sent alone naming a file (here itself, all there is beside it while it is
    // checked): on a worker that name would be looked up among other jobs' cached scenes.
    let naming = br#"{"asset":{"version":"2.0"},"buffers":[{"uri":"n.gltf","byteLength":1}]}"#;
    let (code, message) = refused("scene_name=n.gltf&frames=1", naming);
    assert_eq!(code, 422, "{message}");
    assert!(message.contains("must hold all its data"), "{message}");

    let jobs = farm.json(&["status", "--json"]);
    assert_eq!(
        jobs.as_array().unwrap().len(),
        0,
        "no job was created: {jobs}"
    );
    let scenes = std::fs::read_dir(farm.data_dir().join("scenes"))
        .unwrap()
        .count();
    assert_eq!(scenes, 0, "no scene was stored");
    assert_eq!(farm.queue_depth("tasks"), 0);

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["submit", t, "--coordinator", "http://127.0.0.1:9"])
        .output()
        .unwrap();
    assert_clear_error(&out, "cannot reach the coordinator at http://127.0.0.1:9");
}

/// Submits `scene` with `options` and waits; its frame 1 must be `tessera render`'s with the
/// same options, bit for bit. Returns the farm's frame.
fn submitted_frame_matches_local(
    farm: &Farm,
    scene: &std::path::Path,
    options: &[&str],
) -> std::path::PathBuf {
    let mut args = vec!["submit", scene.to_str().unwrap()];
    args.extend_from_slice(options);
    args.extend_from_slice(&["--wait", "-o", "farm/frame_####.exr"]);
    let out = farm.tessera(&args);
    assert!(
        out.status.success(),
        "submit --wait: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let farmed = farm.dir.path().join("farm/frame_0001.exr");
    let local = render_locally(&farm.dir.path().join("local"), scene, options, &[1]);
    assert_same_exr(&farmed, &local[0]);
    farmed
}

#[test]
fn a_gltf_with_external_files_is_submitted_as_one_archive() {
    use base64::Engine;

    let mut farm = Farm::start("archive");
    farm.start_worker(&[]);
    // The Cornell box with its buffer moved out beside it, in a sub-folder.
    let dir = farm.dir.path().join("scene");
    let mut doc: Value =
        serde_json::from_slice(&std::fs::read(scene("cornell-box.gltf")).unwrap()).unwrap();
    let uri = doc["buffers"][0]["uri"].as_str().unwrap().to_owned();
    let data = base64::engine::general_purpose::STANDARD
        .decode(uri.split_once(',').unwrap().1)
        .unwrap();
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    std::fs::write(dir.join("bin/cornell.bin"), data).unwrap();
    doc["buffers"][0]["uri"] = "bin/cornell.bin".into();
    let gltf = dir.join("cornell.gltf");
    std::fs::write(&gltf, doc.to_string()).unwrap();

    let options = [
        "--width", "32", "--height", "32", "--spp", "4", "--tile", "16",
    ];
    submitted_frame_matches_local(&farm, &gltf, &options);

    // A reference leaving the scene's folder is refused before anything is uploaded.
    doc["buffers"][0]["uri"] = "../cornell.bin".into();
    std::fs::write(&gltf, doc.to_string()).unwrap();
    let out = farm.tessera(&["submit", gltf.to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("../cornell.bin"), "{stderr}");
}

/// `--environment` on `tessera submit` packs the map into the scene's archive; the worker and
/// the verifier read it from there, and the frame is `tessera render`'s with the same map, bit
/// for bit (and not the frame without it).
#[test]
fn a_job_lit_by_an_environment_map_takes_its_map_to_the_workers() {
    let mut farm = Farm::start("environment");
    farm.start_worker(&[]);
    let sky = farm.dir.path().join("maps/sky.exr");
    std::fs::create_dir_all(sky.parent().unwrap()).unwrap();
    exr::prelude::write_rgb_file(&sky, 32, 16, |x, y| {
        if (x, y) == (20, 5) {
            (400.0, 300.0, 200.0)
        } else {
            (0.1, 0.2, 0.4)
        }
    })
    .unwrap();
    let turntable = scene("turntable.gltf");
    let plain = [
        "--width", "32", "--height", "24", "--spp", "4", "--tile", "16",
    ];
    let mut lit = plain.to_vec();
    lit.extend_from_slice(&[
        "--environment",
        sky.to_str().unwrap(),
        "--environment-strength",
        "1.5",
        "--environment-rotation",
        "30",
    ]);
    let farmed = submitted_frame_matches_local(&farm, &turntable, &lit);
    let unlit = render_locally(&farm.dir.path().join("unlit"), &turntable, &plain, &[1]);
    assert_ne!(
        std::fs::read(&farmed).unwrap(),
        std::fs::read(&unlit[0]).unwrap(),
        "the map changed nothing"
    );
}

/// The frame's linear luminance, row by row, from an EXR's `R`, `G` and `B` channels.
fn luminance(path: &std::path::Path) -> Vec<f64> {
    let channels = farm::exr_channels(path);
    let channel = |name: &str| -> Vec<f64> {
        let (_, bits) = channels
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("{}: no channel {name}", path.display()));
        bits.iter().map(|b| f64::from(f32::from_bits(*b))).collect()
    };
    let (r, g, b) = (channel(".R"), channel(".G"), channel(".B"));
    (0..r.len())
        .map(|i| 0.2126 * r[i] + 0.7152 * g[i] + 0.0722 * b[i])
        .collect()
}

/// A tile as the ledger writes it, `WxH+X+Y`: (x, y, width, height).
fn parse_tile(tile: &str) -> (usize, usize, usize, usize) {
    let (size, rest) = tile.split_once('+').unwrap();
    let (w, h) = size.split_once('x').unwrap();
    let (x, y) = rest.split_once('+').unwrap();
    let n = |s: &str| s.parse::<usize>().unwrap();
    (n(x), n(y), n(w), n(h))
}

/// One frame rendered by a CPU worker and a wgpu worker (lavapipe in CI) at the same time: the
/// steps between neighbouring pixels across borders where the two backends meet must look like
/// the steps inside tiles, as they do in `tessera render`'s CPU-only frame; the wgpu tiles must
/// have the CPU's level, and the CPU worker's tiles must be bit-identical to the local render.
/// Both renders use the same seed, so wgpu draws the CPU's random numbers and its pixels match
/// to rounding: the comparison is not drowned in sampling noise. The wgpu tiles pass the
/// coordinator's spot checks within noise.
#[test]
fn a_cpu_worker_and_a_wgpu_worker_share_a_frame_without_seams() {
    const SIZE: usize = 256;
    const TILE: usize = 16;
    let mut farm = Farm::start("mixed-backends");
    let gpu = farm.start_worker_with(&["--backend", "wgpu"], &[]);
    farm.wait_worker_ready(gpu, Duration::from_secs(120));
    let options = [
        "--width", "256", "--height", "256", "--spp", "16", "--tile", "16", "--seed", "5",
    ];
    let cornell = scene("cornell-box.gltf");
    let mut args = vec![cornell.to_str().unwrap()];
    args.extend_from_slice(&options);
    let job = farm.submit(&args);
    // The CPU worker joins once wgpu has its scene on the device and a tile done: lavapipe is
    // about ten times slower, and would otherwise get next to no tiles.
    farm.wait_for(&job, Duration::from_secs(120), "the first wgpu tile", |s| {
        tasks_done(s) >= 1
    });
    let cpu = farm.start_worker_with(&["--backend", "cpu"], &[]);
    farm.wait_worker_ready(cpu, Duration::from_secs(30));
    farm.wait_done(&job, Duration::from_secs(300));

    // Which backend rendered each pixel, from the ledger and the workers' registrations.
    let workers = farm.json(&["workers", "--json"]);
    let backend_of = |name: &str| -> String {
        let w = workers
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["name"] == name)
            .unwrap_or_else(|| panic!("worker {name} not in {workers}"));
        w["backend"].as_str().unwrap().to_owned()
    };
    let bill = farm.json(&["bill", &job, "--format", "json"]);
    let rows = bill["rows"].as_array().unwrap();
    assert_eq!(
        rows.len(),
        (SIZE / TILE) * (SIZE / TILE),
        "one row per tile"
    );
    let mut on_gpu = vec![false; SIZE * SIZE];
    let mut gpu_tiles = 0;
    for row in rows {
        let (x, y, w, h) = parse_tile(row["tile"].as_str().unwrap());
        if backend_of(row["worker"].as_str().unwrap()) == "wgpu" {
            gpu_tiles += 1;
            for py in y..y + h {
                on_gpu[py * SIZE + x..py * SIZE + x + w].fill(true);
            }
        }
    }
    eprintln!("wgpu rendered {gpu_tiles} of {} tiles", rows.len());
    // Every wgpu result of a new worker is spot-checked within noise against the CPU, and an
    // honest one passes.
    for w in workers.as_array().unwrap() {
        eprintln!(
            "worker {} ({}): checks passed {}, failed {}",
            w["name"], w["backend"], w["checks_passed"], w["checks_failed"]
        );
        assert_eq!(
            w["checks_failed"], 0,
            "an honest worker failed a check: {w}"
        );
        if w["backend"] == "wgpu" {
            assert!(w["checks_passed"].as_u64().unwrap() >= 3, "{w}");
        }
    }
    // What the checks cost the coordinator, against what the workers rendered.
    let metrics = ureq::get(&format!("{}/metrics", farm.url))
        .set("Authorization", &format!("Bearer {}", farm.admin))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    let sum = |prefix: &str| -> f64 {
        metrics
            .lines()
            .filter(|l| l.starts_with(prefix))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    let (checking, rendering) = (
        sum("tessera_spot_check_seconds_sum"),
        sum("tessera_task_render_seconds_sum"),
    );
    eprintln!(
        "spot checks took {checking:.3} s of the verifier's one thread for {rendering:.1} s of \
         rendering: {:.2} %",
        100.0 * checking / rendering
    );
    // 3.7 % when measured (16x16 tiles, so 32 checked pixels are an eighth of a wgpu tile);
    // the bound leaves room for a busier machine.
    assert!(checking > 0.0 && checking < 0.1 * rendering);
    assert!(
        gpu_tiles >= 3 && gpu_tiles < rows.len(),
        "both workers must render several tiles: wgpu did {gpu_tiles} of {}",
        rows.len()
    );

    let local = render_locally(&farm.dir.path().join("local"), &cornell, &options, &[1]);
    let (mixed, reference) = (luminance(&farm.frame(&job, 1)), luminance(&local[0]));
    for (i, (m, r)) in mixed.iter().zip(&reference).enumerate() {
        if !on_gpu[i] {
            assert_eq!(m.to_bits(), r.to_bits(), "CPU pixel {i} differs");
        }
    }

    // Where a CPU tile meets a wgpu tile: the mean absolute step between the two pixels on
    // either side of the border, over the mean step between neighbours half a tile inside the
    // same two tiles. Noise alone gives the same ratio in a CPU-only frame; a seam raises it.
    let ratio = |img: &[f64]| -> f64 {
        let (mut across, mut inside, mut n) = (0.0, 0.0, 0);
        let h = TILE / 2;
        for a in (TILE..SIZE).step_by(TILE) {
            for b in 0..SIZE {
                // The pixel `d` pixels past the border (-1: the last one before it).
                let horizontal = |d: isize| b * SIZE + (a as isize + d) as usize;
                let vertical = |d: isize| (a as isize + d) as usize * SIZE + b;
                for at in [&horizontal as &dyn Fn(isize) -> usize, &vertical] {
                    if on_gpu[at(-1)] == on_gpu[at(0)] {
                        continue;
                    }
                    let step = |d: isize| (img[at(d)] - img[at(d - 1)]).abs();
                    across += step(0);
                    inside += (step(h as isize) + step(-(h as isize) + 1)) / 2.0;
                    n += 1;
                }
            }
        }
        assert!(n > 0, "no border where a CPU tile meets a wgpu tile");
        across / inside
    };
    let (mixed_ratio, cpu_ratio) = (ratio(&mixed), ratio(&reference));
    eprintln!(
        "border/interior step where CPU and wgpu tiles meet: {mixed_ratio:.4}; the same places CPU-only: {cpu_ratio:.4}"
    );
    assert!(
        (mixed_ratio / cpu_ratio - 1.0).abs() < 0.01,
        "seams where CPU and wgpu tiles meet: border/interior step {mixed_ratio:.4} against {cpu_ratio:.4} in the CPU-only frame"
    );
    let level =
        |img: &[f64]| -> f64 { (0..img.len()).filter(|i| on_gpu[*i]).map(|i| img[i]).sum() };
    let gpu_level = level(&mixed) / level(&reference);
    eprintln!("wgpu tiles' luminance / the CPU's for the same pixels: {gpu_level:.5}");
    assert!(
        (gpu_level - 1.0).abs() < 0.005,
        "wgpu tiles are {gpu_level:.5} times the CPU's level"
    );
}

#[test]
fn farm_programs_with_an_unreadable_ca_file_exit_with_one_clear_line() {
    for program in ["worker", "coordinator"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args([program, "--amqp", "amqps://tessera@broker.invalid/%2f"])
            .args(["--amqp-ca", "/nonexistent/ca.pem"])
            .env_remove("RUST_LOG")
            .output()
            .unwrap();
        assert_clear_error(
            &out,
            "cannot read the CA certificates '/nonexistent/ca.pem'",
        );
    }
}

/// A worker frozen mid-tile (SIGSTOP) loses its lease within the coordinator's lease timeout;
/// another worker renders its task, and the frozen one's late result, once it thaws, is refused
/// and never billed.
#[test]
fn a_frozen_worker_loses_its_lease_and_its_late_result_is_not_billed() {
    let mut farm = Farm::start_with("frozen", &["--lease-timeout", "3"]);
    let frozen = farm.start_worker(&[]);
    farm.wait_worker_ready(frozen, Duration::from_secs(30));
    let cornell = scene("cornell-box.gltf");
    let options = [
        "--width", "128", "--height", "64", "--tile", "64", "--spp", "1024",
    ];
    let mut args = vec![cornell.to_str().unwrap()];
    args.extend_from_slice(&options);
    let job = farm.submit(&args);
    // Long enough to claim a tile, too short to render it (about 2.5 s on one thread).
    std::thread::sleep(Duration::from_millis(700));
    farm.signal_worker(frozen, "STOP");
    let stopped = std::time::Instant::now();
    let thawed = farm.start_worker(&[]);
    farm.wait_worker_ready(thawed, Duration::from_secs(30));
    while !farm.read_log("coordinator").contains("lease expired") {
        assert!(
            stopped.elapsed() < Duration::from_secs(10),
            "no lease expired within 10 s of freezing a worker; coordinator log: {}",
            farm.read_log("coordinator")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("lease lost {:?} after the worker froze", stopped.elapsed());
    let status = farm.wait_done(&job, Duration::from_secs(120));
    farm.signal_worker(frozen, "CONT");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !farm
        .read_log("coordinator")
        .contains("lease no longer active")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the thawed worker's result was not refused; coordinator log: {}",
            farm.read_log("coordinator")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    check_bill(&farm, &job, tasks_total(&status));
    // The task whose lease expired was billed to the worker that rendered it again.
    let log = farm.read_log("coordinator");
    let line = log.lines().find(|l| l.contains("lease expired")).unwrap();
    let task: i64 = line
        .split("task=")
        .nth(1)
        .unwrap()
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let bill = farm.json(&["bill", &job, "--format", "json"]);
    let row = bill["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["task"] == task)
        .unwrap();
    assert_eq!(
        row["worker"], "w2",
        "the frozen worker's task was billed to it: {row}"
    );
    let local = render_locally(&farm.dir.path().join("local"), &cornell, &options, &[1]);
    assert_same_exr(&farm.frame(&job, 1), &local[0]);
}

/// A job submitted with `--trust verified` waits for a verified worker: a worker whose token is
/// not verified renders the other job and nothing of it; one whose token the operator issued
/// with `--verified` renders it.
#[test]
fn a_verified_job_waits_for_a_verified_worker() {
    let mut farm = Farm::start("verified");
    let cornell = scene("cornell-box.gltf");
    let cornell = cornell.to_str().unwrap();
    let small = [
        "--width", "32", "--height", "32", "--tile", "16", "--spp", "4",
    ];
    let verified = farm.submit(&[&[cornell][..], &small, &["--trust", "verified"]].concat());
    let open = farm.submit(&[&[cornell][..], &small].concat());
    assert_eq!(farm.status(&verified)["trust"], "verified");
    let stranger = farm.start_worker(&[]);
    farm.wait_worker_ready(stranger, Duration::from_secs(60));
    farm.wait_done(&open, Duration::from_secs(60));
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(tasks_done(&farm.status(&verified)), 0);
    farm.start_verified_worker();
    farm.wait_done(&verified, Duration::from_secs(60));
    let bill = farm.json(&["bill", &verified, "--format", "json"]);
    let workers: Vec<&str> = bill["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["worker"].as_str().unwrap())
        .collect();
    assert_eq!(workers, ["w2"; 4]);
}

/// A dishonest worker with a valid worker token and broker credentials takes tasks from the
/// queue and tries what it can: results for a task it never claimed, time, threads and class
/// beyond its token, out-of-range numbers, a failed result for a task it does not hold, and a
/// task taken and acknowledged without ever being claimed. The time beyond its lease blocks it,
/// it is paid nothing, fails nobody's job, the coordinator keeps serving, and the frames equal
/// `tessera render`'s.
#[test]
fn a_dishonest_worker_is_never_paid_beyond_its_bound_nor_breaks_the_job() {
    use tessera_protocol::lease::{Claim, ClaimRequest};
    use tessera_protocol::pixels::EncodedPixels;
    use tessera_protocol::result::{Outcome, ResultMessage};
    use tessera_protocol::task::TaskMessage;
    use tessera_renderer::backend::Backend;
    use tessera_renderer::backend::cpu::CpuBackend;
    use tessera_renderer::film::Pixels;
    use tessera_renderer::scene::Scene;
    use tessera_transport::{AmqpTransport, Broker, Inbox, Transport};

    let mut farm = Farm::start_with("dishonest", &["--queue-timeout", "3"]);
    let mallory = farm.token(&["--role", "worker", "--name", "mallory", "--threads", "1"]);
    let cornell = scene("cornell-box.gltf");
    let options = [
        "--width", "64", "--height", "32", "--tile", "16", "--spp", "4",
    ];
    let mut args = vec![cornell.to_str().unwrap()];
    args.extend_from_slice(&options);
    let job = farm.submit(&args);

    let forge = |task: &TaskMessage, lease: &str, key: &str, outcome: Outcome| {
        let worker = serde_json::from_value(serde_json::json!({
            "name": "w1",
            "device": {"backend": "cuda", "name": "NVIDIA H100", "class": "h100", "threads": 64}
        }))
        .unwrap();
        ResultMessage::signed(task, worker, outcome, lease.into(), key)
    };
    let black = |task: &TaskMessage, samples: u64, micros: u64| Outcome::Rendered {
        render_micros: micros,
        samples,
        pixels: EncodedPixels::encode(&Pixels::zeroed(task.tile.pixel_count())),
    };
    // Mallory's pixels are right (checking them is the verifier's job); its claims are not.
    let rendered = |task: &TaskMessage, micros: u64| {
        let scene = Scene::load(&cornell).unwrap();
        let frame = scene.frame(task.time, task.camera.as_deref()).unwrap();
        let backend = CpuBackend::new(Some(1)).unwrap();
        let prepared = backend.prepare(&frame).unwrap();
        let image = prepared
            .render_tile(task.resolution, task.tile, task.frame, &task.settings)
            .unwrap();
        Outcome::Rendered {
            render_micros: micros,
            samples: task.samples(),
            pixels: EncodedPixels::encode(&image.pixels),
        }
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = Client::new(&farm.url, Some(&mallory));
    runtime.block_on(async {
        let transport = AmqpTransport::connect(&Broker::new(farm::AMQP_URL), &farm.namespace)
            .await
            .unwrap();
        let mut inbox = transport.consume_tasks(8).await.unwrap();
        let mut took = Vec::new();
        // Tiny tasks travel several to a message.
        while took.len() < 4 {
            let d = tokio::time::timeout(Duration::from_secs(30), inbox.next())
                .await
                .unwrap()
                .unwrap();
            took.extend(d.message.tasks().iter().cloned());
            // Taken and acknowledged: the coordinator must notice nobody claims them.
            d.ack().await.unwrap();
        }
        let samples = |t: &TaskMessage| t.samples();
        // Never claimed: a made-up lease, and a failure on its last attempt.
        let unheld = &took[0];
        let results = [
            forge(
                unheld,
                "0badc0de",
                "guess",
                black(unheld, samples(unheld), 1),
            ),
            forge(
                &TaskMessage {
                    attempt: 3,
                    ..unheld.clone()
                },
                "0badc0de",
                "guess",
                Outcome::Failed {
                    reason: "sabotage".into(),
                },
            ),
        ];
        transport.publish_results(&results).await.unwrap();
        // Claimed, then inflated: an endless render time, and out-of-range samples.
        let claimed = |t: &TaskMessage| match client
            .claim(&ClaimRequest::of(std::slice::from_ref(t)))
            .unwrap()
            .remove(0)
        {
            Claim::Render { lease, key, .. } => (lease, key),
            Claim::Skip { reason } | Claim::Stop { reason } => {
                panic!("mallory's claim refused: {reason}")
            }
        };
        let (inflated_lease, inflated_key) = claimed(&took[1]);
        let (lease, key) = claimed(&took[2]);
        let nonsense = forge(&took[2], &lease, &key, black(&took[2], u64::MAX, u64::MAX));
        transport.publish_results(&[nonsense]).await.unwrap();
        let inflated = forge(
            &took[1],
            &inflated_lease,
            &inflated_key,
            rendered(&took[1], u64::MAX),
        );
        transport.publish_results(&[inflated]).await.unwrap();
        transport.close().await;
    });

    farm.start_worker(&[]);
    farm.start_worker(&[]);
    let status = farm.wait_done(&job, Duration::from_secs(120));
    let bill = farm.json(&["bill", &job, "--format", "json"]);
    let rows = bill["rows"].as_array().unwrap();
    assert_eq!(rows.len() as u64, tasks_total(&status), "one row per task");
    let mallorys: Vec<&Value> = rows.iter().filter(|r| r["worker"] == "mallory").collect();
    assert!(mallorys.is_empty(), "mallory billed for {mallorys:?}");
    check_bill(&farm, &job, tasks_total(&status));
    let log = farm.read_log("coordinator");
    for refusal in [
        "unknown lease",
        "unusable result from worker 'mallory'",
        "publishing again",
        "of rendering for a task it held for",
    ] {
        assert!(
            log.contains(refusal),
            "no '{refusal}' in the coordinator's log: {log}"
        );
    }
    let local = render_locally(&farm.dir.path().join("local"), &cornell, &options, &[1]);
    assert_same_exr(&farm.frame(&job, 1), &local[0]);
}

/// Escape sequences in names that others chose never reach a terminal raw, and logs carry no
/// colour codes when they go to a file.
#[test]
fn escape_codes_in_names_never_reach_a_terminal_and_logs_have_no_colours() {
    let farm = Farm::start("escapes");
    let evil = farm
        .dir
        .path()
        .join("evil\u{1b}]0;pwned\u{7}\u{1b}[31m.gltf");
    std::fs::copy(scene("cornell-box.gltf"), &evil).unwrap();
    let job = farm.submit(&[evil.to_str().unwrap(), "--width", "8", "--height", "8"]);
    for args in [vec!["status"], vec!["status", job.as_str()]] {
        let out = farm.tessera(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("evil"), "{text}");
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}'),
            "{text:?}"
        );
    }
    let log = farm.read_log("coordinator");
    assert!(log.contains("job submitted"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "colour codes in a log file: {log:?}"
    );
}

/// Coordinator and workers started before the broker wait for it, saying so, and then work.
#[test]
fn farm_programs_wait_for_a_broker_that_is_not_up_yet() {
    use std::net::{TcpListener, TcpStream};
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let late = format!("amqp://guest:guest@127.0.0.1:{port}/%2f");
    // The broker "comes up" after 3 s: a forwarder to the real one appears on the port.
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(3));
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        for client in listener.incoming().flatten() {
            let broker = TcpStream::connect("127.0.0.1:5672").unwrap();
            let (mut from_client, mut to_broker) =
                (client.try_clone().unwrap(), broker.try_clone().unwrap());
            std::thread::spawn(move || std::io::copy(&mut from_client, &mut to_broker));
            let (mut from_broker, mut to_client) = (broker, client);
            std::thread::spawn(move || std::io::copy(&mut from_broker, &mut to_client));
        }
    });
    let mut farm = Farm::start_with("late-broker", &["--amqp", &late]);
    let log = farm.read_log("coordinator");
    assert!(log.contains("waiting for RabbitMQ"), "{log}");
    assert!(!log.contains("guest:guest"), "a password in the log: {log}");
    farm.start_worker_with(&["--amqp", &late], &[]);
    let job = farm.submit(&[
        scene("cornell-box.gltf").to_str().unwrap(),
        "--width",
        "16",
        "--height",
        "16",
        "--spp",
        "1",
    ]);
    farm.wait_done(&job, Duration::from_secs(60));
}

/// A worker that joins while the coordinator is down waits for it instead of spending the
/// task's attempts, and the job completes once the coordinator is back.
#[test]
fn a_worker_joining_while_the_coordinator_is_down_waits_for_it() {
    let mut farm = Farm::start("coordinator-outage");
    let job = submit_small(&farm);
    farm.kill_coordinator();
    let worker = farm.start_worker(&[]);
    farm.wait_worker_ready(worker, Duration::from_secs(30));
    std::thread::sleep(Duration::from_secs(3));
    farm.start_coordinator();
    let status = farm.wait_done(&job, Duration::from_secs(120));
    check_against_local(&farm, &job);
    check_bill(&farm, &job, tasks_total(&status));
}

/// A task that crashes every worker it reaches (the process dies mid-render) fails its job with
/// a reason after its attempts, instead of leaving it running forever.
#[test]
fn a_task_that_crashes_every_worker_fails_its_job_with_a_reason() {
    let mut farm = Farm::start_with("crash", &["--lease-timeout", "2"]);
    for _ in 0..3 {
        farm.start_worker(&[("TESSERA_CRASH_FRAMES", "1")]);
    }
    let job = farm.submit(&[
        scene("cornell-box.gltf").to_str().unwrap(),
        "--width",
        "8",
        "--height",
        "8",
    ]);
    let status = farm.wait_for(&job, Duration::from_secs(60), "job ended", |s| {
        s["state"] != "running"
    });
    assert_eq!(status["state"], "failed", "{status}");
    let reason = status["reason"].as_str().unwrap();
    assert!(
        reason.contains("3 time(s)") && reason.contains("stopped responding"),
        "{reason}"
    );
}

/// A broker user made for one test, deleted when dropped.
struct BrokerUser {
    name: String,
}

impl BrokerUser {
    /// A user with a worker's permissions on `namespace`'s queues, as the README sets them:
    /// configure nothing, publish through the default exchange, read the task queues.
    fn worker(namespace: &str) -> Self {
        let name = format!("{namespace}-worker");
        rabbitmqctl(&["add_user", &name, "worker-secret"]);
        let ns = namespace.replace('.', "\\.");
        rabbitmqctl(&[
            "set_permissions",
            &name,
            "^$",
            "^amq\\.default$",
            &format!("^{ns}\\.tasks(\\.verified)?$"),
        ]);
        Self { name }
    }

    fn url(&self) -> String {
        format!("amqp://{}:worker-secret@127.0.0.1:5672/%2f", self.name)
    }
}

impl Drop for BrokerUser {
    fn drop(&mut self) {
        let _ = std::process::Command::new("rabbitmqctl")
            .args(["delete_user", &self.name])
            .output();
    }
}

/// A worker may run under a broker user of its own that can take tasks and publish results and
/// nothing more (the README's set-up for workers of strangers): it finds the queues the
/// coordinator declared and renders the job; under that user nobody can read the results queue
/// or delete a queue.
#[test]
fn a_worker_whose_broker_user_may_only_take_tasks_renders_and_reads_no_results() {
    use tessera_protocol::device::Device;
    use tessera_protocol::id::TaskId;
    use tessera_protocol::result::{Outcome, ResultMessage, WorkerInfo};
    use tessera_renderer::film::Resolution;
    use tessera_transport::{AmqpTransport, Broker, Inbox, Transport};

    let mut farm = Farm::start("worker-user");
    let user = BrokerUser::worker(&farm.namespace);
    let url = user.url();
    farm.start_worker_with(&["--amqp", &url], &[]);
    let job = submit_small(&farm);
    let status = farm.wait_done(&job, Duration::from_secs(120));
    check_against_local(&farm, &job);
    check_bill(&farm, &job, tasks_total(&status));
    // The coordinator gone, nobody else consumes the results queue, where a result waits.
    farm.kill_coordinator();
    let waiting = ResultMessage {
        task: TaskId(1),
        job: JobId(1),
        frame: 1,
        tile: Resolution::new(8, 8).unwrap().full_tile(),
        attempt: 1,
        worker: WorkerInfo {
            name: "w1".into(),
            device: Device {
                backend: "cpu".into(),
                name: "cpu".into(),
                class: "cpu".into(),
                threads: 1,
            },
        },
        outcome: Outcome::Failed {
            reason: "waiting".into(),
        },
        lease: "l".into(),
        signature: String::new(),
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let operator = AmqpTransport::connect(&Broker::new(farm::AMQP_URL), &farm.namespace)
            .await
            .unwrap();
        operator.publish_results(&[waiting]).await.unwrap();
        operator.close().await;
        // Where the queues must be declared, as the coordinator's, such a user is refused.
        let refused = AmqpTransport::connect(&Broker::new(&url), &farm.namespace)
            .await
            .err()
            .expect("a worker's user declared the queues");
        assert!(refused.to_string().contains("may not declare"), "{refused}");
        let broker = Broker::new(&url).finding_queues();
        let transport = AmqpTransport::connect(&broker, &farm.namespace)
            .await
            .expect("a worker's user connects to queues that exist");
        let mut results = transport.consume_results().await.unwrap();
        let got = tokio::time::timeout(Duration::from_secs(3), results.next()).await;
        assert!(got.is_err(), "the worker's user read a result");
        let deleted = AmqpTransport::delete_namespace(&broker, transport.names()).await;
        let refused = deleted.expect_err("the worker's user deleted the queues");
        assert!(refused.to_string().contains("ACCESS-REFUSED"), "{refused}");
        drop(results);
        transport.close().await;
    });
}

/// A heartbeat may name as many leases as a worker may hold (more than other JSON requests'
/// body limit allows), and no more.
#[test]
fn a_heartbeat_may_name_as_many_leases_as_a_worker_holds_and_no_more() {
    use tessera_protocol::lease::MAX_HEARTBEAT_LEASES;

    let farm = Farm::start("heartbeat-size");
    let token = farm.token(&["--role", "worker", "--name", "busy", "--threads", "1"]);
    let client = Client::new(&farm.url, Some(&token));
    let mut ids: Vec<String> = (0..MAX_HEARTBEAT_LEASES)
        .map(|i| format!("{i:032x}"))
        .collect();
    client.heartbeat(&ids).expect("a full heartbeat is taken");
    ids.push("f".repeat(32));
    let refused = client
        .heartbeat(&ids)
        .expect_err("an overfull heartbeat was taken");
    assert!(refused.to_string().contains("at most"), "{refused}");
}

/// A worker whose token the operator revokes stops at its next claim with one clear line,
/// giving the task back to the queue, rather than holding it and asking again for ever; another
/// worker then renders the job.
#[test]
fn a_worker_whose_token_is_revoked_stops_and_gives_its_task_back() {
    let mut farm = Farm::start("revoked");
    let revoked = farm.start_worker(&[]);
    farm.wait_worker_ready(revoked, Duration::from_secs(60));
    // Token 1 is the operator's, 2 the worker's.
    farm.revoke_token(2);
    let cornell = scene("cornell-box.gltf");
    let job = farm.submit(&[
        cornell.to_str().unwrap(),
        "--width",
        "16",
        "--height",
        "16",
        "--spp",
        "2",
    ]);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = farm.worker(revoked).try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the revoked worker still runs; log: {}",
            farm.read_log("w1")
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let log = farm.read_log("w1");
    assert!(!status.success(), "{log}");
    assert!(
        log.contains("refuses this worker's token: unknown or revoked token"),
        "{log}"
    );
    assert_eq!(tasks_done(&farm.status(&job)), 0);
    farm.start_worker(&[]);
    farm.wait_done(&job, Duration::from_secs(60));
}
