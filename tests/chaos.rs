//! Chaos: one job through worker kills, a coordinator kill, a broker restart, the broker's
//! memory alarm, a frozen worker and a coordinator outage while workers need it. It completes,
//! its frames equal `tessera render`'s bit for bit, and each task is billed exactly once. A test binary of its
//! own, as it restarts the broker the other farm tests share.

mod farm;

use std::process::Command;
use std::time::{Duration, Instant};

use farm::{Farm, assert_same_exr, check_bill, rabbitmqctl, render_locally, scene};

const JOB: [&str; 10] = [
    "--frames", "1-3", "--width", "128", "--height", "96", "--spp", "256", "--tile", "16",
];

/// The broker's memory alarm raised (its limit set to nothing), as when it runs short of
/// memory: it blocks every publisher until this is dropped, which restores its limit.
struct MemoryAlarm {
    limit: String,
}

impl MemoryAlarm {
    fn raise() -> Self {
        let limit = rabbitmqctl(&["eval", "vm_memory_monitor:get_vm_memory_high_watermark()."]);
        assert!(
            limit.parse::<f64>().is_ok(),
            "a relative memory limit to restore, not {limit}"
        );
        rabbitmqctl(&["set_vm_memory_high_watermark", "0"]);
        MemoryAlarm { limit }
    }
}

impl Drop for MemoryAlarm {
    fn drop(&mut self) {
        // Never a panic here (the test may be panicking already), and a few tries: a broker
        // left without memory blocks every later test.
        for _ in 0..5 {
            let restored = Command::new("rabbitmqctl")
                .args(["set_vm_memory_high_watermark", &self.limit])
                .status();
            if restored.is_ok_and(|s| s.success()) {
                return;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
        eprintln!(
            "cannot restore RabbitMQ's memory limit: rabbitmqctl set_vm_memory_high_watermark {}",
            self.limit
        );
    }
}

#[test]
fn a_job_survives_kills_a_restart_a_freeze_and_an_outage() {
    let started = Instant::now();
    let mut farm = Farm::start_with("chaos", &["--lease-timeout", "4", "--queue-timeout", "20"]);
    farm.start_worker(&[]);
    farm.start_worker(&[]);
    // The third, killed later with tasks in hand, holds two at once.
    farm.start_worker_with(&["--tasks-in-hand", "2"], &[]);
    let turntable = scene("turntable.gltf");
    let mut args = vec![turntable.to_str().unwrap()];
    args.extend_from_slice(&JOB);
    let job = farm.submit(&args);
    let total = farm.status(&job)["tasks_total"].as_u64().unwrap();
    let after = |farm: &Farm, share: u64, what: &str| {
        let done = total * share / 100;
        farm.wait_for(&job, Duration::from_secs(120), what, |s| {
            s["tasks_done"].as_u64().unwrap_or(0) >= done
        });
        eprintln!("{:>6.1} s: {what}", started.elapsed().as_secs_f64());
    };

    after(&farm, 5, "killing worker 1");
    farm.worker(0).kill().unwrap();
    farm.start_worker(&[]);

    after(
        &farm,
        20,
        "killing the coordinator for 3 s while workers need it",
    );
    farm.kill_coordinator();
    std::thread::sleep(Duration::from_secs(3));
    farm.start_coordinator();

    after(&farm, 35, "freezing worker 2");
    farm.signal_worker(1, "STOP");

    after(&farm, 42, "raising the broker's memory alarm for 3 s");
    {
        let _alarm = MemoryAlarm::raise();
        std::thread::sleep(Duration::from_secs(3));
        // A connection is blocked once it publishes; the workers do with each tile.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !farm.read_logs().contains("RabbitMQ blocked publishing") {
            assert!(
                Instant::now() < deadline,
                "no program said it was blocked: {}",
                farm.logs()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    after(&farm, 50, "restarting the broker");
    rabbitmqctl(&["stop_app"]);
    rabbitmqctl(&["start_app"]);
    rabbitmqctl(&["await_startup"]);

    after(&farm, 70, "killing worker 3");
    farm.worker(2).kill().unwrap();
    farm.start_worker(&[]);

    let status = farm.wait_done(&job, Duration::from_secs(150));
    farm.signal_worker(1, "CONT");
    eprintln!("{:>6.1} s: done", started.elapsed().as_secs_f64());
    check_bill(&farm, &job, status["tasks_total"].as_u64().unwrap());
    let local = render_locally(&farm.dir.path().join("local"), &turntable, &JOB, &[1, 2, 3]);
    for (frame, local) in (1..=3).zip(&local) {
        assert_same_exr(&farm.frame(&job, frame), local);
    }
    assert!(
        started.elapsed() < Duration::from_secs(180),
        "chaos took {:?}",
        started.elapsed()
    );
}
