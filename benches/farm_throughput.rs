//! Tasks per second through the farm with tiny tasks (4x4 px, 1 spp, one bounce), beside the
//! broker's own ceiling measured in the same run on the same machine: publishing task messages
//! with pipelined confirms, then consuming and acknowledging them. Timed from the submission's
//! answer to the last frame, and with the submission (upload, scene check, the quote's cost
//! probe) too. Also the coordinator's CPU time per task after the submission, read from
//! `/proc`. Last, the largest fleet again with 200 API clients each
//! listing the jobs once a second: their latency, and what they cost the render. Needs RabbitMQ
//! (started when installed but stopped).
//!
//! `cargo bench --bench farm_throughput` (`TESSERA_BENCH_WORKERS=1,2` for other fleet sizes,
//! `TESSERA_BENCH_FRAMES=4` for a shorter job: 256 tasks a frame, 16 frames by default;
//! `TESSERA_BENCH_STORE=postgres` for the store in PostgreSQL at `TESSERA_TEST_POSTGRES`;
//! `TESSERA_BENCH_TASKS_IN_HAND=4` for workers that hold four tasks at once).

#[path = "../tests/farm/mod.rs"]
mod farm;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use farm::{Farm, PostgresScratch, scene};
use tessera_protocol::task::TaskBundle;
use tessera_transport::{AmqpTransport, Broker, Inbox, Transport};

/// Messages the broker's ceiling is measured with.
const CEILING_MESSAGES: usize = 20_000;
/// Messages published per call, each call waiting for its confirms (as the coordinator's
/// top-ups do).
const PUBLISH_CHUNK: usize = 500;

fn main() {
    farm::ensure_rabbitmq();
    let (publish, consume) = broker_ceiling();
    println!(
        "broker alone: publish with confirms {publish:.0} msg/s, consume + ack {consume:.0} msg/s ({CEILING_MESSAGES} task messages)"
    );
    let fleets: Vec<usize> = std::env::var("TESSERA_BENCH_WORKERS")
        .unwrap_or_else(|_| "1,2,4".into())
        .split(',')
        .map(|n| {
            n.trim()
                .parse()
                .expect("TESSERA_BENCH_WORKERS: worker counts")
        })
        .collect();
    let frames: u32 = std::env::var("TESSERA_BENCH_FRAMES")
        .map(|f| f.parse().expect("TESSERA_BENCH_FRAMES: a frame count"))
        .unwrap_or(16);
    let mut last = None;
    for &workers in &fleets {
        let run = farm_run(workers, frames, 0);
        println!(
            "farm, {workers} worker(s): {} tasks in {:.2} s after a submission of {:.2} s = {:.0} tasks/s ({:.0} with the submission; {:.0} % of consume + ack); coordinator CPU {:.2} ms a task",
            run.tasks,
            run.seconds,
            run.submit_seconds,
            run.tasks_per_second(),
            run.end_to_end_tasks_per_second(),
            100.0 * run.tasks_per_second() / consume,
            run.coordinator_cpu_ms_per_task()
        );
        last = Some(run);
    }
    let (Some(&workers), Some(quiet)) = (fleets.last(), last) else {
        return;
    };
    let polled = farm_run(workers, frames, POLLERS);
    let mut latencies = polled.api_seconds.clone();
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| 1e3 * latencies[((latencies.len() - 1) as f64 * q) as usize];
    println!(
        "farm, {workers} worker(s) and {POLLERS} clients listing jobs once a second: {:.0} tasks/s ({:+.1} % against the run without them); {} requests, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        polled.tasks_per_second(),
        100.0 * (polled.tasks_per_second() / quiet.tasks_per_second() - 1.0),
        latencies.len(),
        at(0.5),
        at(0.99),
        at(1.0)
    );
}

/// API clients polling the job list in the last run.
const POLLERS: usize = 200;

/// Publishes and then drains [`CEILING_MESSAGES`] task messages through the farm's own
/// transport, on a namespace of its own; returns messages per second for each.
fn broker_ceiling() -> (f64, f64) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let broker = Broker::new(farm::AMQP_URL);
        let namespace = format!("bench-ceiling-{}", std::process::id());
        let transport = AmqpTransport::connect(&broker, &namespace)
            .await
            .expect("connect to RabbitMQ");
        let task: TaskBundle =
            serde_json::from_str(include_str!("../protocol/tests/golden/task_bundle.json"))
                .unwrap();
        // One task a message: the broker's ceiling in messages.
        let messages = vec![task; PUBLISH_CHUNK];
        let started = Instant::now();
        for _ in 0..CEILING_MESSAGES / PUBLISH_CHUNK {
            transport.publish_tasks(&messages).await.unwrap();
        }
        let publish = CEILING_MESSAGES as f64 / started.elapsed().as_secs_f64();
        let mut inbox = transport.consume_tasks(256).await.unwrap();
        let started = Instant::now();
        for _ in 0..CEILING_MESSAGES {
            let delivery = tokio::time::timeout(Duration::from_secs(30), inbox.next())
                .await
                .expect("the broker delivers what it confirmed")
                .expect("a delivery");
            delivery.ack().await.unwrap();
        }
        let consume = CEILING_MESSAGES as f64 / started.elapsed().as_secs_f64();
        transport.delete_queues().await.unwrap();
        transport.close().await;
        (publish, consume)
    })
}

struct Run {
    tasks: u64,
    /// Uploading, checking and quoting the job (its one-second cost probe included).
    submit_seconds: f64,
    /// From the submission's answer to the last frame.
    seconds: f64,
    coordinator_cpu_seconds: f64,
    /// How long each poll of the job list took.
    api_seconds: Vec<f64>,
}

impl Run {
    fn tasks_per_second(&self) -> f64 {
        self.tasks as f64 / self.seconds
    }

    /// Counting the submission too.
    fn end_to_end_tasks_per_second(&self) -> f64 {
        self.tasks as f64 / (self.submit_seconds + self.seconds)
    }

    fn coordinator_cpu_ms_per_task(&self) -> f64 {
        1e3 * self.coordinator_cpu_seconds / self.tasks as f64
    }
}

/// A job of tiny tasks through a fresh farm of `workers` one-thread workers, timed from its
/// submission to its last frame, while `pollers` clients list the jobs once a second.
fn farm_run(workers: usize, frames: u32, pollers: usize) -> Run {
    let postgres = match std::env::var("TESSERA_BENCH_STORE").as_deref() {
        Ok("postgres") => Some(PostgresScratch::new("throughput")),
        Ok("sqlite") | Err(_) => None,
        Ok(other) => panic!("TESSERA_BENCH_STORE: sqlite or postgres, not {other:?}"),
    };
    let mut farm = Farm::start_on(
        postgres.as_ref().map(PostgresScratch::url),
        "throughput",
        &[],
    );
    let in_hand = std::env::var("TESSERA_BENCH_TASKS_IN_HAND").unwrap_or_else(|_| "1".into());
    for w in 0..workers {
        farm.start_worker_with(&["--tasks-in-hand", &in_hand], &[]);
        farm.wait_worker_ready(w, Duration::from_secs(60));
    }
    let turntable = scene("turntable.gltf");
    let last = format!("1-{frames}");
    let args = [
        turntable.to_str().unwrap(),
        "--frames",
        &last,
        "--width",
        "64",
        "--height",
        "64",
        "--spp",
        "1",
        "--max-depth",
        "1",
        "--tile",
        "4",
    ];
    let stop = Arc::new(AtomicBool::new(false));
    let polls: Vec<_> = (0..pollers)
        .map(|i| {
            let (url, token, stop) = (
                format!("{}/api/jobs", farm.url),
                format!("Bearer {}", farm.admin),
                stop.clone(),
            );
            // Spread over the second, as independent clients would be.
            let offset = Duration::from_secs(1) * i as u32 / pollers as u32;
            std::thread::spawn(move || poll(&url, &token, offset, &stop))
        })
        .collect();
    let started = Instant::now();
    let id = farm.submit(&args);
    let submitted = Instant::now();
    // From here: the quote's cost probe runs in the coordinator during the submission.
    let cpu_before = farm.coordinator_cpu_seconds();
    let status = farm.wait_done(&id, Duration::from_secs(900));
    let seconds = submitted.elapsed().as_secs_f64();
    let submit_seconds = (submitted - started).as_secs_f64();
    let coordinator_cpu_seconds = farm.coordinator_cpu_seconds() - cpu_before;
    stop.store(true, Ordering::Relaxed);
    let api_seconds = polls.into_iter().flat_map(|p| p.join().unwrap()).collect();
    Run {
        tasks: status["tasks_total"].as_u64().unwrap(),
        submit_seconds,
        seconds,
        coordinator_cpu_seconds,
        api_seconds,
    }
}

/// Lists the jobs once a second from `offset` on until `stop`; returns each request's seconds.
fn poll(url: &str, token: &str, offset: Duration, stop: &AtomicBool) -> Vec<f64> {
    let agent = ureq::Agent::new();
    let mut next = Instant::now() + offset;
    let mut seconds = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
        let started = Instant::now();
        let response = agent.get(url).set("Authorization", token).call();
        assert!(response.is_ok(), "listing jobs: {response:?}");
        seconds.push(started.elapsed().as_secs_f64());
        next += Duration::from_secs(1);
    }
    seconds
}
