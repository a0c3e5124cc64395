//! Honest and dishonest workers side by side on a real RabbitMQ. Honest `tessera worker`
//! processes render a job while six cheaters, driven by this test with worker tokens of their
//! own and the broker's credentials, take tasks from the same queue, claim them, and make up
//! their results: half the samples, another tile's pixels, black, noise, the true pixels with an
//! hour of rendering claimed, and a cheater honest for 10 tasks that then makes up one result in
//! five. Each is caught and blocked, its unverified charges reversed and its tiles rendered
//! again; the job completes with the frame `tessera render` writes, and its invoice is the
//! honest work.

mod farm;

use std::time::{Duration, Instant};

use farm::{Farm, assert_same_exr, render_locally, scene};
use tessera_protocol::api::WorkerView;
use tessera_protocol::client::Client;
use tessera_protocol::device::Device;
use tessera_protocol::lease::{Claim, ClaimRequest};
use tessera_protocol::pixels::EncodedPixels;
use tessera_protocol::result::{Outcome, ResultMessage, WorkerInfo};
use tessera_protocol::task::TaskMessage;
use tessera_renderer::backend::Backend;
use tessera_renderer::backend::cpu::CpuBackend;
use tessera_renderer::film::Pixels;
use tessera_renderer::scene::Scene;
use tessera_renderer::settings::Spp;
use tessera_transport::{AmqpTransport, Broker, Inbox, Transport};

/// How a cheater makes up a result.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Cheat {
    HalfTheSamples,
    AnotherTile,
    Black,
    Noise,
    InflatedWork,
    /// Honest for its first 10 tasks, then one made-up result (half the samples) in five.
    WaitThenOneInFive,
}

struct Cheater {
    cheat: Cheat,
    name: String,
    client: Client,
    tasks: u32,
    made_up: u32,
    caught: bool,
}

impl Cheater {
    /// Whether this task's result is made up.
    fn cheats_now(&self) -> bool {
        match self.cheat {
            Cheat::WaitThenOneInFive => self.tasks >= 10 && self.tasks % 5 == 2,
            _ => true,
        }
    }
}

/// The true pixels of `task`, as an honest CPU worker renders them.
fn render(backend: &impl Backend, scene: &Scene, task: &TaskMessage) -> Pixels {
    let frame = scene.frame(task.time, task.camera.as_deref()).unwrap();
    backend
        .prepare(&frame)
        .unwrap()
        .render_tile(task.resolution, task.tile, task.frame, &task.settings)
        .unwrap()
        .pixels
}

/// The device every cheater names: a one-thread CPU, as its token says.
fn a_cpu() -> Device {
    Device {
        backend: "cpu".into(),
        name: "a CPU".into(),
        class: "cpu".into(),
        threads: 1,
    }
}

/// The cheater's record as the coordinator lists it.
fn record(admin: &Client, name: &str) -> WorkerView {
    admin
        .workers()
        .unwrap()
        .into_iter()
        .find(|w| w.name == name)
        .expect("the cheater announced itself")
}

#[test]
fn cheaters_beside_honest_workers_are_caught_and_the_job_is_rendered_honestly() {
    let mut farm = Farm::start_with("cheaters", &["--queue-timeout", "3"]);
    let admin = Client::new(&farm.url, Some(&farm.admin));
    let cornell = scene("cornell-box.gltf");
    let options = [
        "--width",
        "256",
        "--height",
        "256",
        "--tile",
        "4",
        "--spp",
        "8",
        "--max-depth",
        "3",
    ];
    let mut args = vec![cornell.to_str().unwrap()];
    args.extend_from_slice(&options);
    let job = farm.submit(&args);
    let honest = farm.start_worker(&[]);
    farm.wait_worker_ready(honest, Duration::from_secs(60));

    let cheats = [
        Cheat::HalfTheSamples,
        Cheat::Black,
        Cheat::AnotherTile,
        Cheat::Noise,
        Cheat::InflatedWork,
        Cheat::WaitThenOneInFive,
    ];
    let mut cheaters: Vec<Cheater> = cheats
        .iter()
        .enumerate()
        .map(|(i, &cheat)| {
            let name = format!("cheater-{i}");
            let token = farm.token(&["--role", "worker", "--name", &name, "--threads", "1"]);
            let client = Client::new(&farm.url, Some(&token));
            client
                .announce(&WorkerInfo {
                    name: name.clone(),
                    device: a_cpu(),
                })
                .unwrap();
            Cheater {
                cheat,
                name,
                client,
                tasks: 0,
                made_up: 0,
                caught: false,
            }
        })
        .collect();

    let scene = Scene::load(&cornell).unwrap();
    let backend = CpuBackend::new(Some(1)).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let started = Instant::now();
    runtime.block_on(async {
        let transport = AmqpTransport::connect(&Broker::new(farm::AMQP_URL), &farm.namespace)
            .await
            .unwrap();
        let mut inbox = transport.consume_tasks(1).await.unwrap();
        let mut previous: Option<Pixels> = None;
        let mut turn = 0;
        // A message holds several of these tiny tasks; the cheaters take them one by one.
        let mut taken = std::collections::VecDeque::new();
        while cheaters.iter().any(|c| !c.caught) {
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "cheaters not caught within 2 minutes: {:?}",
                cheaters
                    .iter()
                    .map(|c| (c.cheat, c.tasks, c.made_up, c.caught))
                    .collect::<Vec<_>>()
            );
            if taken.is_empty() {
                let delivery = tokio::time::timeout(Duration::from_secs(30), inbox.next())
                    .await
                    .unwrap_or_else(|_| {
                        panic!(
                            "no task within 30 s (the job is done?) with cheaters not caught: {:?}",
                            cheaters
                                .iter()
                                .map(|c| (c.cheat, c.tasks, c.made_up, c.caught))
                                .collect::<Vec<_>>()
                        )
                    })
                    .unwrap();
                taken.extend(delivery.message.tasks().iter().cloned());
                delivery.ack().await.unwrap();
            }
            let task: TaskMessage = taken.pop_front().expect("a message holds a task");
            // The next cheater not caught yet takes it.
            let count = cheaters.len();
            while cheaters[turn % count].caught {
                turn += 1;
            }
            let cheater = &mut cheaters[turn % count];
            turn += 1;
            let claims = cheater
                .client
                .claim(&ClaimRequest::of(std::slice::from_ref(&task)))
                .unwrap();
            let (lease, key) = match claims.into_iter().next().expect("a claim") {
                Claim::Render { lease, key, .. } => (lease, key),
                // Stale (a task published again): another will come.
                Claim::Skip { .. } => continue,
                Claim::Stop { reason } => panic!("a cheater not caught was stopped: {reason}"),
            };
            let truth = render(&backend, &scene, &task);
            let (pixels, render_micros) = if !cheater.cheats_now() {
                (truth.clone(), 5_000)
            } else {
                match cheater.cheat {
                    Cheat::HalfTheSamples | Cheat::WaitThenOneInFive => {
                        let mut halved = task.clone();
                        halved.settings.spp = Spp::new(task.settings.spp.get() / 2).unwrap();
                        (render(&backend, &scene, &halved), 5_000)
                    }
                    Cheat::AnotherTile => (previous.clone().expect("a tile before"), 5_000),
                    Cheat::Black => (Pixels::zeroed(task.tile.pixel_count()), 5_000),
                    Cheat::Noise => {
                        let mut noise = truth.clone();
                        for (i, c) in noise.color.iter_mut().enumerate() {
                            c[0] = (i as f32 * 0.618).fract();
                        }
                        (noise, 5_000)
                    }
                    Cheat::InflatedWork => (truth.clone(), 3_600_000_000),
                }
            };
            // Black on a black tile, or another tile just like this one, is no lie.
            let made_up = pixels != truth || render_micros > 5_000;
            previous = Some(truth);
            let before = record(&admin, &cheater.name);
            let worker = WorkerInfo {
                name: cheater.name.clone(),
                device: a_cpu(),
            };
            let outcome = Outcome::Rendered {
                render_micros,
                samples: task.samples(),
                pixels: EncodedPixels::encode(&pixels),
            };
            let result = ResultMessage::signed(&task, worker, outcome, lease, &key);
            transport.publish_results(&[result]).await.unwrap();
            cheater.tasks += 1;
            cheater.made_up += u32::from(made_up);
            // Until the coordinator has recorded the result: accepted or caught.
            let deadline = Instant::now() + Duration::from_secs(20);
            let after = loop {
                let now = record(&admin, &cheater.name);
                if now.tasks_done != before.tasks_done || now.blocked.is_some() {
                    break now;
                }
                assert!(
                    Instant::now() < deadline,
                    "result of {} not recorded",
                    cheater.name
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            };
            if let Some(why) = after.blocked {
                assert!(made_up, "{} blocked for an honest result", cheater.name);
                cheater.caught = true;
                eprintln!(
                    "{:?} caught after {} made-up result(s) in {} tasks: {why}",
                    cheater.cheat, cheater.made_up, cheater.tasks,
                );
            }
        }
        transport.close().await;
    });
    for c in &cheaters {
        // A new worker is checked every time; a trusted one, one time in three: it escapes 20
        // made-up results with odds (2/3)^20 = 3e-4.
        let within = if c.cheat == Cheat::WaitThenOneInFive {
            20
        } else {
            1
        };
        assert!(
            (1..=within).contains(&c.made_up),
            "{:?}: {} made-up results before caught",
            c.cheat,
            c.made_up
        );
    }

    farm.start_worker(&[]);
    let status = farm.wait_done(&job, Duration::from_secs(300));
    let invoice = admin.invoice(job.parse().unwrap()).unwrap();
    // Read 64 charges a page (some 65 pages), the invoice is the same: each reversal comes
    // with its charge.
    let paged = admin.invoice_in_pages_of(job.parse().unwrap(), 64).unwrap();
    assert_eq!(paged.rows, invoice.rows);
    assert_eq!(paged.reversals.len(), invoice.reversals.len());
    for r in &invoice.reversals {
        assert!(paged.reversals.contains(r), "{r:?} missing from the pages");
    }
    assert_eq!(paged.total, invoice.total);
    // Only cheaters' charges are reversed, and what stands is honest work: the honest workers'
    // results and the cheaters' that passed a check, one charge standing per task.
    let reversed: Vec<_> = invoice
        .reversals
        .iter()
        .map(|r| (r.task, r.worker.clone()))
        .collect();
    assert!(reversed.iter().all(|(_, w)| w.starts_with("cheater-")));
    let standing: Vec<_> = invoice
        .rows
        .iter()
        .filter(|r| !reversed.contains(&(r.task, r.worker.clone())))
        .collect();
    let tasks = status["tasks_total"].as_u64().unwrap();
    assert_eq!(standing.len() as u64, tasks, "one standing charge per task");
    let total: i64 = standing.iter().map(|r| r.charge.micros()).sum();
    assert_eq!(invoice.total.micros(), total);
    // The invoice as CSV for a spreadsheet: its charge column, reversals included, sums to the
    // total.
    let csv = farm.tessera(&["bill", &job, "--format", "csv"]);
    assert!(
        csv.status.success(),
        "{}",
        String::from_utf8_lossy(&csv.stderr)
    );
    let csv = String::from_utf8(csv.stdout).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].ends_with(",charge_usd"), "{}", lines[0]);
    let micros = |usd: &str| -> i64 {
        let (whole, frac) = usd.trim_start_matches('-').split_once('.').unwrap();
        let m = whole.parse::<i64>().unwrap() * 1_000_000 + frac.parse::<i64>().unwrap();
        if usd.starts_with('-') { -m } else { m }
    };
    let charges: Vec<i64> = lines[1..]
        .iter()
        .map(|l| micros(l.rsplit(',').next().unwrap()))
        .collect();
    assert_eq!(charges.len(), invoice.rows.len() + invoice.reversals.len());
    let reversal_rows = lines[1..]
        .iter()
        .filter(|l| l.split(',').nth(2) == Some("reversed"))
        .count();
    assert_eq!(reversal_rows, invoice.reversals.len(), "{csv}");
    assert_eq!(charges.iter().sum::<i64>(), invoice.total.micros(), "{csv}");
    // The job's work at its quoted price, but for the rounding of the charges reversed.
    let quoted = status["quote"]["cost"].as_i64().unwrap();
    assert!(
        (total - quoted).abs() <= 1 + reversed.len() as i64,
        "invoice {total} µ$, quoted {quoted} µ$"
    );
    let local = render_locally(&farm.dir.path().join("local"), &cornell, &options, &[1]);
    assert_same_exr(&farm.frame(&job, 1), &local[0]);
}
