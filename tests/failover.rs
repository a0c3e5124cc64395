//! Two coordinators on one PostgreSQL store: the active one is killed mid-job, the standby takes
//! over within 15 s on the same address, and the job completes with frames bit-identical to
//! `tessera render` and each task billed exactly once.

mod farm;

use std::process::{Command, Stdio};
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

/// A coordinator whose lock session ends while its process lives on (its host cut off from
/// the database, as the server sees it) stops at once, since the standby may now be active.
#[test]
fn a_coordinator_whose_session_ended_stops_and_the_standby_takes_over() {
    let database = PostgresScratch::new("cut");
    let mut farm = Farm::start_on(Some(database.url()), "cut", &[]);
    farm.start_standby();
    assert_eq!(
        database.end_active_session(),
        1,
        "one session holds the lock"
    );
    let status = farm
        .wait_coordinator_exit(Duration::from_secs(15))
        .expect("the coordinator kept running without its lock");
    assert!(!status.success());
    let log = farm.read_log("coordinator");
    assert!(log.contains("lost the active role"), "{log}");
    let deadline = Instant::now() + Duration::from_secs(15);
    while !farm.read_log("standby").contains("coordinator listening") {
        assert!(
            Instant::now() < deadline,
            "the standby did not take over: {}",
            farm.read_log("standby")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `--database` holds a password: no error or wait message repeats it, whatever its form. A
/// coordinator waits for a store it cannot reach, saying so, and gives up at once on one that
/// refuses it.
#[test]
fn a_database_password_is_never_shown_and_an_unreachable_store_is_waited_for() {
    let database = PostgresScratch::new("password");
    let tessera = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(args)
            .output()
            .unwrap()
    };
    let data = tempfile::tempdir().unwrap();
    let data = data.path().to_str().unwrap();
    let said = |out: &std::process::Output| String::from_utf8_lossy(&out.stderr).into_owned();

    let unreadable = tessera(&[
        "token",
        "list",
        "--data",
        data,
        "--database",
        "postgres://farm:s3cret@db:notaport/x",
    ]);
    assert!(!unreadable.status.success());
    assert!(
        said(&unreadable).contains("connection string"),
        "{}",
        said(&unreadable)
    );
    assert!(
        unreadable.stdout.is_empty(),
        "a listing began before the store was open"
    );

    let server: postgres::Config = database.server().parse().unwrap();
    let host = match &server.get_hosts()[0] {
        postgres::config::Host::Tcp(host) => host.clone(),
        other => panic!("a TCP server, not {other:?}"),
    };
    let port = server
        .get_ports()
        .first()
        .copied()
        .unwrap_or(5432)
        .to_string();
    // libpq's key=value form, naming a database that does not exist: refused, not waited for.
    let key_values = format!(
        "host={host} port={port} user={} password=s3cret dbname=tessera_no_such_database",
        server.get_user().unwrap_or("postgres")
    );
    let refused = tessera(&["coordinator", "--data", data, "--database", &key_values]);
    assert!(!refused.status.success());
    // Or, where the server checks passwords, a refused password: refused all the same.
    let said_refused = said(&refused);
    assert!(
        said_refused.contains("does not exist") || said_refused.contains("authentication failed"),
        "{said_refused}"
    );

    // Nothing listens on port 1: the coordinator waits, and says why.
    let mut waiting = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args([
            "coordinator",
            "--data",
            data,
            "--listen",
            "127.0.0.1:0",
            "--database",
            "postgres://farm:s3cret@127.0.0.1:1/tessera",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        waiting.try_wait().unwrap().is_none(),
        "the coordinator gave up on a store that may come back"
    );
    waiting.kill().unwrap();
    let waited = said(&waiting.wait_with_output().unwrap());
    assert!(waited.contains("waiting for the job store"), "{waited}");

    for out in [said(&unreadable), said(&refused), waited] {
        assert!(!out.contains("s3cret"), "the password was shown: {out}");
    }
}
