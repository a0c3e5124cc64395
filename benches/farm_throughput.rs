//! Tasks per second through the farm with tiny tasks (4x4 px, 1 spp, one bounce), beside the
//! broker's own ceiling measured in the same run on the same machine: publishing task messages
//! with pipelined confirms, then consuming and acknowledging them. Timed from the submission's
//! answer to the last frame, and with the submission (upload, scene check, the quote's cost
//! probe) too. Also the coordinator's CPU time per task after the submission, read from
//! `/proc`. Last, the largest fleet with and without 200 API clients each listing the jobs once
//! a second, in alternating rounds: their latency, and what they cost the render. Needs RabbitMQ
//! (started when installed but stopped).
//!
//! `cargo bench --bench farm_throughput` (`TESSERA_BENCH_WORKERS=1,2` for other fleet sizes,
//! `TESSERA_BENCH_FRAMES=4` for a shorter job: 256 tasks a frame, 16 frames by default;
//! `TESSERA_BENCH_STORE=postgres` for the store in PostgreSQL at `TESSERA_TEST_POSTGRES`;
//! `TESSERA_BENCH_TASKS_IN_HAND=4` for workers that hold four tasks at once,
//! `TESSERA_BENCH_ROUNDS=5` for more rounds with and without the clients than 3).

#[path = "../tests/farm/mod.rs"]
mod farm;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use farm::{Farm, PostgresScratch, median, scene};
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
    let (Some(&workers), Some(first)) = (fleets.last(), last) else {
        return;
    };
    // Runs without and with the pollers alternate, medians compared: a single pair differed
    // by more than the pollers' cost from one pair to the next.
    let rounds: usize = std::env::var("TESSERA_BENCH_ROUNDS")
        .map(|r| r.parse().expect("TESSERA_BENCH_ROUNDS: a number of rounds"))
        .unwrap_or(3)
        .max(1);
    let (mut quiet, mut polled) = (vec![first], Vec::new());
    for round in 1..=rounds {
        if round > 1 {
            quiet.push(farm_run(workers, frames, 0));
        }
        polled.push(farm_run(workers, frames, POLLERS));
        let (q, p) = (&quiet[round - 1], &polled[round - 1]);
        println!(
            "round {round}: without clients {:.0} tasks/s, with {POLLERS} clients {:.0} tasks/s",
            q.tasks_per_second(),
            p.tasks_per_second()
        );
    }
    let rate = |runs: &[Run]| median(runs.iter().map(Run::tasks_per_second).collect());
    let requests: usize = polled.iter().map(|r| r.api_seconds.len()).sum();
    let mut latencies: Vec<f64> = polled.iter().flat_map(|r| r.api_seconds.clone()).collect();
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| 1e3 * latencies[((latencies.len() - 1) as f64 * q) as usize];
    println!(
        "farm, {workers} worker(s) and {POLLERS} clients listing jobs once a second, medians of {rounds} alternating rounds: {:.0} tasks/s against {:.0} without them ({:+.1} %); {requests} requests, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        rate(&polled),
        rate(&quiet),
        100.0 * (rate(&polled) / rate(&quiet) - 1.0),
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
    /// Uploading, checking and quoting the job (its cost probe included).
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
    let clients = {
        let address = farm.url.trim_start_matches("http://").to_owned();
        let token = farm.admin.clone();
        let stop = stop.clone();
        std::thread::spawn(move || poll_all(pollers, address, token, stop))
    };
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
    let api_seconds = clients.join().unwrap();
    Run {
        tasks: status["tasks_total"].as_u64().unwrap(),
        submit_seconds,
        seconds,
        coordinator_cpu_seconds,
        api_seconds,
    }
}

/// `clients` HTTP clients each listing the jobs at `address` once a second, spread over the
/// second, until `stop`; returns each request's seconds. On one thread, as separate browsers
/// would be on other machines: a thread for each client cost this machine more than the server
/// answering them.
fn poll_all(clients: usize, address: String, token: String, stop: Arc<AtomicBool>) -> Vec<f64> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut polls = tokio::task::JoinSet::new();
        for i in 0..clients {
            let offset = Duration::from_secs(1) * i as u32 / clients as u32;
            let (address, token, stop) = (address.clone(), token.clone(), stop.clone());
            polls.spawn(async move { poll(&address, &token, offset, &stop).await });
        }
        polls.join_all().await.concat()
    })
}

/// Lists the jobs once a second from `offset` on until `stop`, on one kept-alive connection;
/// returns each request's seconds.
async fn poll(address: &str, token: &str, offset: Duration, stop: &AtomicBool) -> Vec<f64> {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    let request = format!(
        "GET /api/jobs HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\r\n"
    );
    let mut connection = BufReader::new(tokio::net::TcpStream::connect(address).await.unwrap());
    let mut next = tokio::time::Instant::now() + offset;
    let mut seconds = Vec::new();
    let mut line = String::new();
    while !stop.load(Ordering::Relaxed) {
        tokio::time::sleep_until(next).await;
        let started = Instant::now();
        connection
            .get_mut()
            .write_all(request.as_bytes())
            .await
            .unwrap();
        let mut length = None;
        let mut status = None;
        loop {
            line.clear();
            let read = connection.read_line(&mut line).await.unwrap();
            assert!(read > 0, "the coordinator closed a client's connection");
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if status.is_none() {
                status = Some(header.to_owned());
            } else if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse::<usize>().ok();
            }
        }
        let mut body = vec![0; length.expect("a listing with a Content-Length")];
        connection.read_exact(&mut body).await.unwrap();
        assert!(
            status.as_deref() == Some("HTTP/1.1 200 OK") && body.starts_with(b"["),
            "listing jobs: {status:?}"
        );
        seconds.push(started.elapsed().as_secs_f64());
        next += Duration::from_secs(1);
    }
    seconds
}
