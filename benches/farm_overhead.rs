//! The farm's overhead, on this machine: the same multi-frame job of more than ten seconds
//! through RabbitMQ with two local one-thread workers and through `tessera render` with two
//! threads, in alternating rounds, medians compared (tasks per second with tiny tasks are
//! `farm_throughput`'s). Needs RabbitMQ (started when installed but stopped).
//!
//! `cargo bench --bench farm_overhead` (`TESSERA_BENCH_ROUNDS=5` for more rounds than 3)

#[path = "../tests/farm/mod.rs"]
mod farm;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use farm::{Farm, median, scene};

/// Six frames at 256x192, 128 spp, 64 px tiles: 72 tasks, about 13 s on two cores.
const JOB: [&str; 10] = [
    "--frames", "1-6", "--width", "256", "--height", "192", "--spp", "128", "--tile", "64",
];

fn main() {
    let rounds: usize = std::env::var("TESSERA_BENCH_ROUNDS")
        .map(|r| r.parse().expect("TESSERA_BENCH_ROUNDS: a number of rounds"))
        .unwrap_or(3);
    let turntable = scene("turntable.gltf");
    let t = turntable.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut farm = Farm::start("overhead");
    for w in 0..2 {
        farm.start_worker(&[]);
        farm.wait_worker_ready(w, Duration::from_secs(60));
    }
    let (mut local, mut farmed, mut submitting) = (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=rounds {
        let out = dir.path().join(format!("local-{round}/f_####.exr"));
        std::fs::create_dir_all(out.parent().unwrap()).unwrap();
        let seconds = timed(|| {
            Command::new(env!("CARGO_BIN_EXE_tessera"))
                .args(["render", t])
                .args(JOB)
                .args(["--threads", "2", "-o"])
                .arg(&out)
                .output()
                .unwrap()
        });
        local.push(seconds);
        let mut args = vec![t];
        args.extend_from_slice(&JOB);
        let started = Instant::now();
        let id = farm.submit(&args);
        submitting.push(started.elapsed().as_secs_f64());
        farm.wait_done(&id, Duration::from_secs(600));
        farmed.push(started.elapsed().as_secs_f64());
        println!(
            "round {round}: tessera render {:.2} s, farm {:.2} s (of which {:.2} s to submit: upload, scene check, cost probe)",
            local[round - 1],
            farmed[round - 1],
            submitting[round - 1]
        );
    }
    let (local, farmed, submitting) = (median(local), median(farmed), median(submitting));
    println!("job: turntable, 6 frames at 256x192, 128 spp, 64 px tiles (72 tasks)");
    println!("tessera render (2 threads), median of {rounds}:           {local:.2} s");
    println!("farm, RabbitMQ + 2 workers x 1 thread, median of {rounds}: {farmed:.2} s");
    println!("overhead ratio farm / render: {:.3}", farmed / local);
    println!(
        "overhead ratio without submitting: {:.3}",
        (farmed - submitting) / local
    );
}

/// Seconds `run` took; it must succeed.
fn timed(run: impl FnOnce() -> Output) -> f64 {
    let started = Instant::now();
    let out = run();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    started.elapsed().as_secs_f64()
}
