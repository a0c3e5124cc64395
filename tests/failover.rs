//! Two coordinators on one PostgreSQL store: the active one is killed mid-job, the standby takes
//! over within 15 s on the same address, and the job completes with frames bit-identical to
//! `tessera render` and each task billed exactly once.

mod farm;

use std::time::{Duration, Instant};

use farm::{Farm, PostgresScratch, assert_same_exr, check_bill, render_locally, scene};

const JOB: [&str; 10] = [
    "--frames", "1-2", "--width", "96", "--height", "64", "--spp", "256", "--tile", "16",
];

#[test]
fn a_standby_coordinator_takes_over_and_the_job_completes() {
    let database = PostgresScratch::new("failover");
    let mut farm = Farm::start_on(
        Some(database.url()),
        "failover",
        &["--lease-timeout", "4", "--queue-timeout", "20"],
    );
    farm.start_standby();
    for _ in 0..2 {
        farm.start_worker(&[]);
    }
    let turntable = scene("turntable.gltf");
    let mut args = vec![turntable.to_str().unwrap()];
    args.extend_from_slice(&JOB);
    let job = farm.submit(&args);
    let total = farm.status(&job)["tasks_total"].as_u64().unwrap();
    farm.wait_for(
        &job,
        Duration::from_secs(120),
        "a third of the tiles",
        |s| s["tasks_done"].as_u64().unwrap_or(0) >= total / 3,
    );
    assert!(
        !farm.read_log("standby").contains("listening"),
        "the standby served while the active coordinator ran"
    );

    let done_before = farm.status(&job)["tasks_done"].as_u64().unwrap();
    assert!(done_before < total, "the job ended before the kill");
    let killed = Instant::now();
    farm.kill_coordinator();
    assert!(
        farm.wait_listening(Duration::from_secs(15)),
        "the standby did not take over within 15 s; its log: {}",
        farm.read_log("standby")
    );
    eprintln!(
        "the standby took over in {:?}, {done_before} of {total} tiles done",
        killed.elapsed()
    );

    let status = farm.wait_done(&job, Duration::from_secs(150));
    assert_eq!(status["tasks_done"].as_u64(), Some(total));
    assert!(
        farm.read_log("standby").contains("coordinator listening"),
        "the job did not finish under the standby: {}",
        farm.read_log("standby")
    );
    check_bill(&farm, &job, total);
    let local = render_locally(&farm.dir.path().join("local"), &turntable, &JOB, &[1, 2]);
    for (frame, local) in (1..=2).zip(&local) {
        assert_same_exr(&farm.frame(&job, frame), local);
    }
}
