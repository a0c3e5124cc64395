//! The farm's overhead, on this machine: the same multi-frame job through RabbitMQ with two
//! local one-thread workers versus `tessera render` with two threads (tasks per second with
//! tiny tasks are `farm_throughput`'s). Needs RabbitMQ (started when installed but stopped).
//!
//! `cargo bench --bench farm_overhead`

#[path = "../tests/farm/mod.rs"]
mod farm;

use std::process::Command;
use std::time::Instant;

use farm::{Farm, scene};

fn main() {
    let turntable = scene("turntable.gltf");
    let t = turntable.to_str().unwrap();
    let job = [
        "--frames", "1-3", "--width", "128", "--height", "96", "--spp", "16", "--tile", "32",
    ];

    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["render", t])
        .args(job)
        .args(["--threads", "2", "-o"])
        .arg(dir.path().join("f_####.exr"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let local = started.elapsed().as_secs_f64();

    let mut farm = Farm::start("bench");
    farm.start_worker(&[]);
    farm.start_worker(&[]);
    let started = Instant::now();
    let mut args = vec!["submit", t];
    args.extend_from_slice(&job);
    args.extend_from_slice(&["--wait", "-o", "farm/f_####.exr"]);
    let out = farm.tessera(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let farmed = started.elapsed().as_secs_f64();
    println!("job: turntable, 3 frames at 128x96, 16 spp, 32 px tiles (36 tasks)");
    println!("tessera render (2 threads):          {local:.2} s");
    println!("farm, RabbitMQ + 2 workers x 1 thread: {farmed:.2} s");
    println!(
        "overhead ratio farm / render:          {:.2}",
        farmed / local
    );
}
