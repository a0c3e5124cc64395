//! The coordinator and two one-thread workers in one process over the in-process transport: the
//! frames equal `tessera render`'s (one worker, two threads), bit for bit, and every task is
//! billed once.

mod farm;

use std::num::{NonZeroU16, NonZeroU32};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tessera_coordinator::billing::{self, PriceTable};
use tessera_coordinator::store::{JobPage, Principal, RowPage};
use tessera_coordinator::{Farm, FarmConfig, Submission, server};
use tessera_protocol::api::{JobState, TaskState};
use tessera_protocol::auth::{NewToken, Role, Trust};
use tessera_protocol::device::Device;
use tessera_protocol::id::JobId;
use tessera_protocol::job::{JobOptions, SizeRequest};
use tessera_protocol::lease::{Claim, ClaimRequest};
use tessera_protocol::money::Money;
use tessera_protocol::pixels::EncodedPixels;
use tessera_protocol::result::{Outcome, ResultMessage, WorkerInfo};
use tessera_protocol::scene::{SceneHash, archive};
use tessera_protocol::task::{MAX_BUNDLE, TaskBundle, TaskMessage};
use tessera_renderer::backend::cpu::CpuBackend;
use tessera_renderer::film::Pixels;
use tessera_renderer::settings::{MaxDepth, RenderSettings, Spp};
use tessera_transport::{InProcessTransport, Inbox, Transport, TransportError};
use tessera_worker::{Faults, Link, Pace, TileRenderer, WorkerError, run_worker};

/// Workers reach the farm in this process directly, each under its own worker identity.
struct TestLink {
    farm: Arc<Farm<InProcessTransport>>,
    worker: Principal,
}

impl Link for TestLink {
    fn scene_path(&self, hash: SceneHash) -> Result<PathBuf, String> {
        self.farm.scene_file(hash).map_err(|e| e.to_string())
    }
    fn claim(&self, tasks: &[TaskMessage]) -> Result<Vec<Claim>, String> {
        self.farm
            .claim(&self.worker, &ClaimRequest::of(tasks).tasks)
            .map_err(|e| e.to_string())
    }
    fn heartbeat(&self, leases: &[String]) -> Result<(), String> {
        let Principal::Worker { name, .. } = &self.worker else {
            unreachable!("test links are workers")
        };
        self.farm
            .store()
            .heartbeat(name, Some(leases))
            .map(drop)
            .map_err(|e| e.to_string())
    }
    fn announce(&self, worker: &WorkerInfo) {
        self.farm.store().announce_worker(worker).unwrap();
    }
}

/// A worker identity as a worker token would give it.
fn cpu_worker(name: &str, threads: u32) -> Principal {
    Principal::Worker {
        name: name.into(),
        device_class: "cpu".into(),
        threads,
        verified: false,
    }
}

fn scene(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenes")
        .join(name)
}

/// A one-thread CPU worker named `name` on the farm's in-process transport, until `shutdown`.
fn spawn_cpu_worker(
    farm: &Arc<Farm<InProcessTransport>>,
    transport: &InProcessTransport,
    name: &'static str,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<Result<(), WorkerError>> {
    spawn_paced_worker(farm, transport, name, Pace::default(), shutdown)
}

/// As [`spawn_cpu_worker`], holding `pace.tasks_in_hand` tasks at once.
fn spawn_paced_worker(
    farm: &Arc<Farm<InProcessTransport>>,
    transport: &InProcessTransport,
    name: &'static str,
    pace: Pace,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<Result<(), WorkerError>> {
    let renderer = Arc::new(TileRenderer::new(
        Box::new(CpuBackend::new(Some(1)).unwrap()),
        Faults::default(),
    ));
    let link: Arc<dyn Link> = Arc::new(TestLink {
        farm: farm.clone(),
        worker: cpu_worker(name, 1),
    });
    let transport = transport.clone();
    tokio::spawn(async move {
        run_worker(
            &transport,
            name,
            renderer,
            link,
            pace,
            Arc::default(),
            shutdown,
        )
        .await
    })
}

/// The job's state once it stops running, or after 60 s.
async fn wait_finished(farm: &Farm<InProcessTransport>, job: JobId) -> JobState {
    let mut state = JobState::Running;
    for _ in 0..600 {
        state = farm.job(job).unwrap().state;
        if state != JobState::Running {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_farm_matches_the_local_pipeline() {
    let scene = scene("turntable.gltf");
    let options = JobOptions {
        frames: "1,3".parse().unwrap(),
        size: SizeRequest::from_sides(Some(40), Some(30)).unwrap(),
        settings: RenderSettings {
            spp: Spp::new(2).unwrap(),
            max_depth: MaxDepth::new(4).unwrap(),
            seed: 7,
        },
        tile_size: NonZeroU32::new(16).unwrap(),
        ..JobOptions::default()
    };
    let dir = tempfile::tempdir().unwrap();

    let transport = InProcessTransport::new();
    let farm = Farm::open(
        FarmConfig::new(dir.path().join("data"), PriceTable::default()),
        transport.clone(),
    )
    .unwrap();
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let runner = tokio::spawn(farm.clone().run(shutdown.clone()));
    // "b" claims and sends while it renders, holding three tasks at once.
    let pipelined = Pace {
        tasks_in_hand: NonZeroU16::new(3).unwrap(),
        ..Pace::default()
    };
    let workers = vec![
        spawn_cpu_worker(&farm, &transport, "a", shutdown.clone()),
        spawn_paced_worker(&farm, &transport, "b", pipelined, shutdown.clone()),
    ];
    let submission = || Submission {
        scene_name: "turntable.gltf".into(),
        scene: scene.clone(),
        options: options.clone(),
        priority: 0,
        tenant: "studio".into(),
        max_cost: None,
        trust: Default::default(),
    };
    let job = farm.submit(submission()).await.unwrap();
    assert_eq!(wait_finished(&farm, job).await, JobState::Done);
    // Quoted on submission, from a pre-pass over both frames.
    let quote = farm.job(job).unwrap().quote.expect("a quote");
    assert_eq!(quote.samples, 40 * 30 * 2 * 2);
    assert!(quote.cost.micros() >= 0 && quote.probe_seconds_per_sample > 0.0);
    // The invoice is the quoted work at the quoted price.
    let invoice = farm.store().invoice_total(job).unwrap().micros();
    assert!(
        (invoice - quote.cost.micros()).abs() <= 1,
        "{invoice} {quote:?}"
    );
    // Asking for a quote queues nothing; now the ledger holds this job's charges, the
    // workers' speeds come from them.
    let jobs = jobs_stored(&farm);
    let again = farm.quote(&submission()).await.unwrap();
    assert_eq!(again.samples, quote.samples);
    assert_eq!(jobs_stored(&farm), jobs);
    assert_eq!(farm.store().work_done().unwrap().len(), 2);
    stop.send(true).unwrap();
    runner.await.unwrap().unwrap();
    for w in workers {
        w.await.unwrap().unwrap();
    }

    let local = render_locally(dir.path(), &scene, &options, "2").await;
    for (frame, local) in [1, 3].into_iter().zip(local) {
        let farmed = std::fs::read(farm.frame_file(job, frame).unwrap()).unwrap();
        assert!(
            farmed == std::fs::read(local).unwrap(),
            "frame {frame} differs"
        );
    }
    let ledger = farm.store().ledger(job).unwrap();
    assert_eq!(ledger.len(), 2 * 3 * 2, "one row per task");
    let total: i64 = ledger.iter().map(|r| r.charge.micros()).sum();
    assert_eq!(farm.store().invoice_total(job).unwrap().micros(), total);
    assert!(transport.dead_letters().is_empty());
}

/// The Cornell box with its buffer moved out into `bin/cornell.bin`.
fn external_cornell(dir: &Path) -> std::path::PathBuf {
    use base64::Engine;
    let source = scene("cornell-box.gltf");
    let mut doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(source).unwrap()).unwrap();
    let uri = doc["buffers"][0]["uri"].as_str().unwrap().to_owned();
    let data = base64::engine::general_purpose::STANDARD
        .decode(uri.split_once(',').unwrap().1)
        .unwrap();
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    std::fs::write(dir.join("bin/cornell.bin"), data).unwrap();
    doc["buffers"][0]["uri"] = "bin/cornell.bin".into();
    let gltf = dir.join("cornell.gltf");
    std::fs::write(&gltf, doc.to_string()).unwrap();
    gltf
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scene_archive_with_external_files_renders_as_tessera_render_does() {
    let dir = tempfile::tempdir().unwrap();
    let gltf = external_cornell(&dir.path().join("scene"));
    let json = std::fs::read(&gltf).unwrap();
    let files = archive::external_files(&gltf, &json).unwrap();
    let packed = archive::pack(&gltf, &json, &files, &[]).unwrap();
    let options = JobOptions {
        size: SizeRequest::from_sides(Some(24), Some(24)).unwrap(),
        settings: RenderSettings {
            spp: Spp::new(2).unwrap(),
            max_depth: MaxDepth::new(3).unwrap(),
            seed: 1,
        },
        tile_size: NonZeroU32::new(16).unwrap(),
        ..JobOptions::default()
    };
    let upload = dir.path().join("upload.tar");
    let submission = |scene: Vec<u8>| {
        std::fs::write(&upload, scene).unwrap();
        Submission {
            scene_name: "cornell.gltf.tar".into(),
            scene: upload.clone(),
            options: options.clone(),
            priority: 0,
            tenant: "studio".into(),
            max_cost: None,
            trust: Default::default(),
        }
    };

    let transport = InProcessTransport::new();
    let farm = Farm::open(
        FarmConfig::new(dir.path().join("data"), PriceTable::default()),
        transport.clone(),
    )
    .unwrap();
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let runner = tokio::spawn(farm.clone().run(shutdown.clone()));
    let worker = spawn_cpu_worker(&farm, &transport, "w", shutdown);

    // An archive with an entry outside its folder is refused, and nothing is stored.
    let mut evil = tar::Header::new_gnu();
    evil.as_old_mut().name[..12].copy_from_slice(b"../x.gltf\0\0\0");
    evil.set_size(0);
    evil.set_cksum();
    let mut builder = tar::Builder::new(Vec::new());
    builder.append(&evil, &b""[..]).unwrap();
    let err = farm
        .submit(submission(builder.into_inner().unwrap()))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("../x.gltf"), "{err}");
    assert_eq!(jobs_stored(&farm), 0);

    let job = farm.submit(submission(packed)).await.unwrap();
    let state = wait_finished(&farm, job).await;
    assert_eq!(state, JobState::Done, "{:?}", farm.job(job).unwrap().reason);
    stop.send(true).unwrap();
    runner.await.unwrap().unwrap();
    worker.await.unwrap().unwrap();

    let local = render_locally(dir.path(), &gltf, &options, "1").await;
    let farmed = std::fs::read(farm.frame_file(job, 1).unwrap()).unwrap();
    assert!(farmed == std::fs::read(&local[0]).unwrap());
}

/// A job of one `size` x `size` tile of the Cornell box at `spp`, depth 2.
fn one_tile_of_cornell(size: u32, spp: u32) -> Submission {
    Submission {
        scene_name: "cornell-box.gltf".into(),
        scene: scene("cornell-box.gltf"),
        options: JobOptions {
            size: SizeRequest::from_sides(Some(size), Some(size)).unwrap(),
            settings: RenderSettings {
                spp: Spp::new(spp).unwrap(),
                max_depth: MaxDepth::new(2).unwrap(),
                seed: 0,
            },
            tile_size: NonZeroU32::new(size).unwrap(),
            ..JobOptions::default()
        },
        priority: 0,
        tenant: "studio".into(),
        max_cost: None,
        trust: Default::default(),
    }
}

/// A farm whose store cannot keep tiles (a trigger refuses them, as a full disk would; file
/// permissions do not stop root) stops with the error, as `tessera render` configures it
/// (counted retries; none for a refusal like this one), instead of waiting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_farm_that_cannot_store_tiles_gives_up_after_its_retries() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut config = FarmConfig::new(&data, PriceTable::default());
    config.record_retries = Some(1);
    let transport = InProcessTransport::new();
    let farm = Farm::open(config, transport.clone()).unwrap();
    rusqlite::Connection::open(data.join("farm.db"))
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER full BEFORE INSERT ON tiles
             BEGIN SELECT RAISE(FAIL, 'no room for tiles'); END;",
        )
        .unwrap();
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    let runner = tokio::spawn(farm.clone().run(shutdown.clone()));
    spawn_cpu_worker(&farm, &transport, "w", shutdown);
    farm.submit(one_tile_of_cornell(8, 1)).await.unwrap();
    let stopped = tokio::time::timeout(Duration::from_secs(60), runner)
        .await
        .expect("the farm gives up within 60 s")
        .unwrap();
    let err = stopped.expect_err("the farm stops with the error");
    assert!(err.to_string().contains("no room for tiles"), "{err}");
}

/// A farm with no worker, a job of `tiles` tiles of 4x4 pixels of the Cornell box at 2 spp
/// submitted, and an inbox to take its tasks as a worker would.
async fn farm_with_job(
    dir: &Path,
    tiles: u32,
    config: impl FnOnce(&mut FarmConfig),
) -> (
    Arc<Farm<InProcessTransport>>,
    JobId,
    <InProcessTransport as Transport>::Tasks,
) {
    let transport = InProcessTransport::new();
    let mut settings = one_task_a_message(FarmConfig::new(dir.join("data"), PriceTable::default()));
    config(&mut settings);
    let farm = Farm::open(settings, transport.clone()).unwrap();
    let tasks = transport.consume_tasks(1).await.unwrap();
    let mut job = one_tile_of_cornell(4, 2);
    job.options.size = SizeRequest::from_sides(Some(4 * tiles), Some(4)).unwrap();
    let job = farm.submit(job).await.unwrap();
    (farm, job, tasks)
}

/// [`farm_with_job`] of one tile, its lease and queue watch running (until the returned task is
/// aborted).
async fn running_farm_with_job(
    dir: &Path,
    config: impl FnOnce(&mut FarmConfig),
) -> (
    Arc<Farm<InProcessTransport>>,
    JobId,
    <InProcessTransport as Transport>::Tasks,
    tokio::task::JoinHandle<()>,
) {
    let (farm, job, tasks) = farm_with_job(dir, 1, config).await;
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let runner = {
        let farm = farm.clone();
        tokio::spawn(async move {
            let _stop = stop;
            let _ = farm.run(shutdown).await;
        })
    };
    (farm, job, tasks, runner)
}

/// How many jobs `farm` stores (as many as its newest page lists: more than any test makes).
fn jobs_stored(farm: &Farm<InProcessTransport>) -> usize {
    farm.store()
        .jobs(None, None, JobPage::LATEST)
        .unwrap()
        .jobs
        .len()
}

/// A farm that sends every task in a message of its own, for tests that take them one by one.
fn one_task_a_message(mut config: FarmConfig) -> FarmConfig {
    config.samples_a_message = 0;
    config
}

/// The next message from `tasks`, acknowledged.
async fn take_message(tasks: &mut <InProcessTransport as Transport>::Tasks) -> TaskBundle {
    let delivery = tokio::time::timeout(Duration::from_secs(10), tasks.next())
        .await
        .expect("the task is sent")
        .unwrap();
    let bundle = delivery.message.clone();
    delivery.ack().await.unwrap();
    bundle
}

/// The next task from `tasks` (of a farm that sends one a message), acknowledged.
async fn take(tasks: &mut <InProcessTransport as Transport>::Tasks) -> TaskMessage {
    let bundle = take_message(tasks).await;
    let [task] = bundle.tasks() else {
        panic!("one task a message expected: {bundle:?}");
    };
    task.clone()
}

/// The next task from `tasks` once pending tasks are published, as a running coordinator's
/// publishing task does: failed tasks' next attempts among them.
async fn published(
    farm: &Farm<InProcessTransport>,
    tasks: &mut <InProcessTransport as Transport>::Tasks,
) -> TaskMessage {
    farm.top_up().await.unwrap();
    take(tasks).await
}

/// `who`'s claim of `task`, alone.
fn claim<T: Transport>(farm: &Farm<T>, who: &Principal, task: &TaskMessage) -> Claim {
    let mut claims = farm
        .claim(who, &ClaimRequest::of(std::slice::from_ref(task)).tasks)
        .unwrap();
    assert_eq!(claims.len(), 1);
    claims.remove(0)
}

/// A lease on `task` for `worker`: its id and key.
fn lease<T: Transport>(farm: &Farm<T>, task: &TaskMessage, worker: &str) -> (String, String) {
    match claim(farm, &cpu_worker(worker, 2), task) {
        Claim::Render { lease, key, .. } => (lease, key),
        Claim::Skip { reason } | Claim::Stop { reason } => panic!("claim refused: {reason}"),
    }
}

/// A result for `task` under `lease`, signed with `key`, claiming whatever its sender likes:
/// here an H100 with 64 threads.
fn result(
    task: &TaskMessage,
    pixels: &Pixels,
    samples: u64,
    render_micros: u64,
    (lease, key): &(String, String),
) -> ResultMessage {
    let mut r = ResultMessage {
        task: task.task,
        job: task.job,
        frame: task.frame,
        tile: task.tile,
        attempt: task.attempt,
        worker: WorkerInfo {
            name: "somebody-else".into(),
            device: Device {
                backend: "cuda".into(),
                name: "NVIDIA H100".into(),
                class: "h100".into(),
                threads: 64,
            },
        },
        outcome: Outcome::Rendered {
            render_micros,
            samples,
            pixels: EncodedPixels::encode(pixels),
        },
        lease: lease.clone(),
        signature: String::new(),
    };
    r.sign(key);
    r
}

/// A failure of `task` under `lease`, signed with its key, for `reason`.
fn failure(task: &TaskMessage, reason: &str, lease: &(String, String)) -> ResultMessage {
    let mut failed = result(task, &Pixels::zeroed(16), 32, 1_000, lease);
    failed.outcome = Outcome::Failed {
        reason: reason.into(),
    };
    failed.sign(&lease.1);
    failed
}

/// The next task from `tasks`, claimed by `worker`, whose true pixels it files; the task.
async fn rendered(
    farm: &Farm<InProcessTransport>,
    tasks: &mut <InProcessTransport as Transport>::Tasks,
    worker: &str,
) -> TaskMessage {
    let task = take(tasks).await;
    let held = lease(farm, &task, worker);
    farm.handle_result(&result(&task, &true_pixels(&task), 32, 1, &held))
        .await
        .unwrap();
    task
}

/// Results a path tracer could not have produced (alpha above 1, a negative radiance, a wrong
/// sample count) are refused: nothing is billed, and the task goes out again for its next attempt.
/// One worker alone does not fail the job on the task's last attempt; a second worker's failure
/// does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn implausible_results_are_refused_and_the_task_sent_again() {
    let dir = tempfile::tempdir().unwrap();
    let (farm, job, mut tasks) = farm_with_job(dir.path(), 1, |_| {}).await;
    let mut alpha = Pixels::zeroed(16);
    alpha.color[5][3] = 1.5;
    let mut negative = Pixels::zeroed(16);
    negative.color[0][0] = -1.0;
    for (attempt, (pixels, samples)) in [(alpha, 32), (negative, 32), (Pixels::zeroed(16), 31)]
        .into_iter()
        .enumerate()
    {
        let task = published(&farm, &mut tasks).await;
        assert_eq!(task.attempt as usize, attempt + 1);
        let lease = lease(&farm, &task, "mallory");
        farm.handle_result(&result(&task, &pixels, samples, 1_000_000, &lease))
            .await
            .unwrap();
        assert!(
            farm.store().ledger(job).unwrap().is_empty(),
            "nothing billed"
        );
    }
    // The third refusal was the task's last attempt, but all three came from mallory.
    assert_eq!(farm.job(job).unwrap().state, JobState::Running);
    let task = published(&farm, &mut tasks).await;
    assert_eq!(task.attempt, 4);
    let lease = lease(&farm, &task, "bob");
    farm.handle_result(&result(&task, &Pixels::zeroed(16), 31, 1_000, &lease))
        .await
        .unwrap();
    let record = farm.job(job).unwrap();
    assert_eq!(record.state, JobState::Failed);
    let reason = record.reason.unwrap();
    assert!(
        reason.contains("bob") && reason.contains("samples") && reason.contains("4 time(s)"),
        "{reason}"
    );
}

/// A worker that fails every attempt of a task it takes cannot fail the job alone: the task gets
/// three times its attempts, and the job ends only after those (on a farm of one worker, a task
/// that can never render still ends its job). Where the farm's one worker is trusted, as
/// `tessera render`'s own, its attempts are the job's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_worker_failing_a_task_fails_its_job_only_after_three_times_its_attempts() {
    for trusted in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let (farm, job, mut tasks) = farm_with_job(dir.path(), 1, |c| {
            c.spot_checks = !trusted;
        })
        .await;
        let attempts = if trusted { 3 } else { 9 };
        for attempt in 1..=attempts {
            assert_eq!(farm.job(job).unwrap().state, JobState::Running, "{attempt}");
            let task = published(&farm, &mut tasks).await;
            assert_eq!(task.attempt, attempt);
            let lease = lease(&farm, &task, "saboteur");
            farm.handle_result(&failure(&task, "out of memory", &lease))
                .await
                .unwrap();
        }
        let record = farm.job(job).unwrap();
        assert_eq!(record.state, JobState::Failed, "trusted: {trusted}");
        let reason = record.reason.unwrap();
        assert!(
            reason.contains(&format!("{attempts} time(s)")) && reason.contains("out of memory"),
            "{reason}"
        );
    }
}

/// The in-process broker, holding back its confirms of published messages while `alarm` is
/// set, as RabbitMQ does under a resource alarm: the messages are delivered, their publisher
/// waits.
#[derive(Clone, Default)]
struct Alarmed {
    broker: InProcessTransport,
    alarm: Arc<AtomicBool>,
}

impl Alarmed {
    async fn confirm(&self) -> Result<(), TransportError> {
        while self.alarm.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(())
    }
}

impl Transport for Alarmed {
    type Tasks = <InProcessTransport as Transport>::Tasks;
    type Results = <InProcessTransport as Transport>::Results;

    async fn publish_tasks(&self, tasks: &[TaskBundle]) -> Result<(), TransportError> {
        self.broker.publish_tasks(tasks).await?;
        self.confirm().await
    }
    async fn dead_letter(&self, task: &TaskMessage) -> Result<(), TransportError> {
        self.broker.dead_letter(task).await?;
        self.confirm().await
    }
    async fn publish_results(&self, results: &[ResultMessage]) -> Result<(), TransportError> {
        self.broker.publish_results(results).await?;
        self.confirm().await
    }
    async fn consume_tasks(&self, prefetch: u16) -> Result<Self::Tasks, TransportError> {
        self.broker.consume_tasks(prefetch).await
    }
    async fn consume_verified_tasks(&self, prefetch: u16) -> Result<Self::Tasks, TransportError> {
        self.broker.consume_verified_tasks(prefetch).await
    }
    async fn consume_results(&self) -> Result<Self::Results, TransportError> {
        self.broker.consume_results().await
    }
    async fn task_consumers(&self, trust: Trust) -> Result<u32, TransportError> {
        self.broker.task_consumers(trust).await
    }
}

/// A broker that holds back its confirms holds neither a submission (whose client would give up
/// and submit the job again) nor the results: a failure is recorded without waiting to publish
/// its task's next attempt. What waited goes out once the broker confirms again; a task whose
/// message the broker took unconfirmed goes out again, its attempt claimable once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_holding_back_its_confirms_holds_neither_submissions_nor_results() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Alarmed::default();
    let config = one_task_a_message(FarmConfig::new(
        dir.path().join("data"),
        PriceTable::default(),
    ));
    let farm = Farm::open(config, broker.clone()).unwrap();
    let mut tasks = broker.consume_tasks(1).await.unwrap();
    let first = farm.submit(one_tile_of_cornell(4, 1)).await.unwrap();
    let task = take(&mut tasks).await;
    let held = lease(&farm, &task, "honest");
    broker.alarm.store(true, Ordering::SeqCst);
    let second = tokio::time::timeout(
        Duration::from_secs(10),
        farm.submit(one_tile_of_cornell(4, 1)),
    )
    .await
    .expect("the submission answers while the broker holds back")
    .unwrap();
    tokio::time::timeout(
        Duration::from_secs(10),
        farm.handle_result(&failure(&task, "out of memory", &held)),
    )
    .await
    .expect("the failure is recorded while the broker holds back")
    .unwrap();
    broker.alarm.store(false, Ordering::SeqCst);
    farm.top_up().await.unwrap();
    let mut sent = Vec::new();
    while let Ok(Some(delivery)) =
        tokio::time::timeout(Duration::from_millis(300), tasks.next()).await
    {
        let [task] = delivery.message.tasks() else {
            panic!("one task a message expected");
        };
        sent.push((task.job, task.attempt));
        delivery.ack().await.unwrap();
    }
    sent.sort();
    sent.dedup();
    assert_eq!(sent, [(first, 2), (second, 1)]);
    for job in [first, second] {
        let queued = farm.store().tasks(job, None, RowPage::FIRST).unwrap().tasks;
        assert!(
            queued.iter().all(|t| t.state == TaskState::Queued),
            "{queued:?}"
        );
    }
}

/// A task is charged for its work (its samples at the job's measured seconds per sample) at the
/// job's price for the class of the worker's token (cpu, 2 threads, its own name), whatever the
/// result claims of its device or its time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_is_charged_for_its_work_at_the_price_of_the_workers_token() {
    let dir = tempfile::tempdir().unwrap();
    let (farm, job, mut tasks) = farm_with_job(dir.path(), 1, |_| {}).await;
    let task = take(&mut tasks).await;
    let lease = lease(&farm, &task, "honest");
    // Held for longer than the millisecond it reports: the report stands as it is.
    tokio::time::sleep(Duration::from_millis(10)).await;
    farm.handle_result(&result(&task, &true_pixels(&task), 32, 1_000, &lease))
        .await
        .unwrap();
    let ledger = farm.store().ledger(job).unwrap();
    assert_eq!(ledger.len(), 1, "the result is accepted");
    let row = &ledger[0];
    assert_eq!(
        (row.worker.as_str(), row.device_class.as_str(), row.threads),
        ("honest", "cpu", 2)
    );
    assert_eq!(row.render_micros, 1_000);
    let quote = farm.job(job).unwrap().quote.unwrap();
    assert_eq!(
        row.work_micros,
        (32.0 * quote.probe_seconds_per_sample * 1e6).round() as u64
    );
    assert_eq!(row.hourly, quote.work_hour_prices["cpu"]);
    let (exact, _) = billing::charge_carried(row.hourly, row.work_micros, Default::default());
    assert_eq!(row.charge, exact);
    // The invoice is what was quoted, to the micro-dollar.
    assert!((row.charge.micros() - quote.cost.micros()).abs() <= 1);
    assert_eq!(farm.job(job).unwrap().state, JobState::Done);
}

/// Whoever reads the result queue learns lease ids, but not their keys: results under a made-up
/// lease, with a stolen lease id and a forged signature, or for another task than the lease's,
/// are refused once and never billed, a forged failure fails nobody's job, and the coordinator
/// keeps serving; the honest result is then billed once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_without_their_leases_key_are_refused_and_never_billed() {
    let dir = tempfile::tempdir().unwrap();
    let (farm, job, mut tasks) = farm_with_job(dir.path(), 2, |_| {}).await;
    let first = take(&mut tasks).await;
    let second = take(&mut tasks).await;
    let honest = lease(&farm, &first, "honest");
    let black = Pixels::zeroed(16);
    let made_up = ("0123456789abcdef".to_owned(), "guessed".to_owned());
    let stolen = (honest.0.clone(), "guessed".to_owned());
    let mut failed = result(&first, &black, 32, 1, &made_up);
    failed.outcome = Outcome::Failed {
        reason: "sabotage".into(),
    };
    failed.attempt = 3;
    failed.sign(&made_up.1);
    for forged in [
        result(&first, &black, 32, 1, &made_up),
        result(&first, &black, 32, 1, &stolen),
        // The honest lease's key, but another task: the lease is for `first`.
        result(&second, &black, 32, 1, &honest),
        failed,
    ] {
        farm.handle_result(&forged).await.unwrap();
    }
    assert!(
        farm.store().ledger(job).unwrap().is_empty(),
        "nothing billed"
    );
    assert_eq!(farm.job(job).unwrap().state, JobState::Running);
    let refusals = farm.refusals();
    assert_eq!(refusals.get("unknown lease"), Some(&2), "{refusals:?}");
    assert_eq!(refusals.get("bad signature"), Some(&1), "{refusals:?}");
    assert_eq!(
        refusals.get("not the leased task"),
        Some(&1),
        "{refusals:?}"
    );

    let rendered = true_pixels(&first);
    farm.handle_result(&result(&first, &rendered, 32, 1, &honest))
        .await
        .unwrap();
    // Replayed: the lease is spent.
    farm.handle_result(&result(&first, &rendered, 32, 1, &honest))
        .await
        .unwrap();
    let ledger = farm.store().ledger(job).unwrap();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].worker, "honest");
}

/// The tiles of a job that ended with frames unwritten (here cancelled) are removed when the
/// farm looks for them, on starting and every minute after: nothing would ever read them, and
/// they would hold the store's space for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_jobs_tiles_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let (farm, job, mut tasks) = farm_with_job(dir.path(), 2, |_| {}).await;
    let task = rendered(&farm, &mut tasks, "honest").await;
    let kept = || farm.store().tile(task.task).unwrap().is_some();
    assert!(kept(), "the accepted tile is kept while its job runs");
    farm.cancel(job).unwrap();
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let runner = tokio::spawn(farm.clone().run(shutdown));
    let started = std::time::Instant::now();
    while kept() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the tile is kept"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.send(true).unwrap();
    runner.await.unwrap().unwrap();
}

/// A result the store refuses for good (here a trigger refuses its ledger row, as the database
/// refuses a value it cannot take) is refused once, and the rest of its batch is recorded: on a
/// coordinator, which retries other store errors without end, the batch stalled every result
/// behind it for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_the_store_refuses_for_good_is_refused_once_and_its_batch_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let (farm, job, mut tasks) = farm_with_job(dir.path(), 3, |_| {}).await;
    let (first, second) = (take(&mut tasks).await, take(&mut tasks).await);
    let results: Vec<ResultMessage> = [&first, &second]
        .into_iter()
        .map(|task| {
            let held = lease(&farm, task, "honest");
            result(task, &true_pixels(task), 32, 1, &held)
        })
        .collect();
    rusqlite::Connection::open(dir.path().join("data/farm.db"))
        .unwrap()
        .execute_batch(&format!(
            "CREATE TRIGGER poison BEFORE INSERT ON ledger WHEN NEW.task_id = {}
             BEGIN SELECT RAISE(ABORT, 'poisoned'); END;",
            first.task.0
        ))
        .unwrap();
    let batch: Vec<&ResultMessage> = results.iter().collect();
    tokio::time::timeout(Duration::from_secs(20), farm.handle_results(&batch))
        .await
        .expect("the batch is not retried for ever")
        .unwrap();
    let charged: Vec<_> = farm
        .store()
        .ledger(job)
        .unwrap()
        .iter()
        .map(|r| r.task)
        .collect();
    assert_eq!(charged, [second.task]);
    assert_eq!(farm.refusals().get("cannot be recorded"), Some(&1));
}

/// `task`'s next message, which must come within `within`: its second attempt, after the first
/// holder lost it.
async fn retaken(
    tasks: &mut <InProcessTransport as Transport>::Tasks,
    task: &TaskMessage,
    within: Duration,
) -> TaskMessage {
    let started = std::time::Instant::now();
    let again = take(tasks).await;
    let lost_after = started.elapsed();
    assert!(lost_after < within, "lease lost after {lost_after:?}");
    assert_eq!((again.task, again.attempt), (task.task, 2));
    again
}

/// Worker "alive" files the result of `again`; then the first holder files its late result of
/// the first attempt under its lease `first`. Only "alive" is paid.
async fn finished_by_another(
    farm: &Farm<InProcessTransport>,
    job: JobId,
    first: (&TaskMessage, &(String, String)),
    again: &TaskMessage,
) {
    let alive = lease(farm, again, "alive");
    let rendered = true_pixels(again);
    farm.handle_result(&result(again, &rendered, 32, 1, &alive))
        .await
        .unwrap();
    farm.handle_result(&result(first.0, &rendered, 32, 1, first.1))
        .await
        .unwrap();
    let ledger = farm.store().ledger(job).unwrap();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].worker, "alive");
}

/// A worker that stops heartbeating loses its lease within the lease timeout; its task goes to
/// another worker, and its late result is not billed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_workers_lease_expires_and_its_late_result_is_not_billed() {
    let dir = tempfile::tempdir().unwrap();
    let (farm, job, mut tasks, runner) = running_farm_with_job(dir.path(), |c| {
        c.lease_timeout = Duration::from_secs(1);
    })
    .await;
    let task = take(&mut tasks).await;
    let frozen = lease(&farm, &task, "frozen");
    let again = retaken(&mut tasks, &task, Duration::from_secs(3)).await;
    finished_by_another(&farm, job, (&task, &frozen), &again).await;
    assert_eq!(farm.refusals().get("lease no longer active"), Some(&1));
    assert_eq!(farm.job(job).unwrap().state, JobState::Done);
    runner.abort();
}

/// A worker that failed a task does not get it back while another worker that has not failed it
/// is alive: the task is published again for the others. Once every live worker has failed it,
/// they take it in turn. (Alone, the worker gets it back: see the test of three times the
/// attempts.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_a_worker_failed_goes_to_another_live_worker() {
    let dir = tempfile::tempdir().unwrap();
    let (farm, job, mut tasks, runner) = running_farm_with_job(dir.path(), |_| {}).await;
    let other = WorkerInfo {
        name: "honest".into(),
        device: Device {
            backend: "cpu".into(),
            name: "cpu".into(),
            class: "cpu".into(),
            threads: 2,
        },
    };
    farm.store().announce_worker(&other).unwrap();
    let task = take(&mut tasks).await;
    let first = lease(&farm, &task, "saboteur");
    farm.handle_result(&failure(&task, "sabotage", &first))
        .await
        .unwrap();
    let again = take(&mut tasks).await;
    assert_eq!(again.attempt, 2);
    match claim(&farm, &cpu_worker("saboteur", 2), &again) {
        Claim::Skip { reason } => assert!(reason.contains("failed this task before"), "{reason}"),
        other => panic!("the saboteur got its task back: {other:?}"),
    }
    let for_others = take(&mut tasks).await;
    assert_eq!((for_others.task, for_others.attempt), (task.task, 2));
    let held = lease(&farm, &for_others, "honest");
    // The other fails it too: with no worker left that has not, the first may take it again.
    farm.handle_result(&failure(&for_others, "out of memory", &held))
        .await
        .unwrap();
    let third = take(&mut tasks).await;
    assert_eq!(third.attempt, 3);
    let last = lease(&farm, &third, "saboteur");
    farm.handle_result(&result(&third, &true_pixels(&third), 32, 1_000, &last))
        .await
        .unwrap();
    assert_eq!(farm.job(job).unwrap().state, JobState::Done);
    runner.abort();
}

/// `worker` heartbeating every 100 ms, naming `held`, until the task is aborted.
fn heartbeats(
    farm: &Arc<Farm<InProcessTransport>>,
    worker: &'static str,
    held: Vec<String>,
) -> tokio::task::JoinHandle<()> {
    let farm = farm.clone();
    tokio::spawn(async move {
        loop {
            farm.store().heartbeat(worker, Some(&held)).unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
}

/// A worker keeps only the leases its heartbeats name. One that restarted (or whose result never
/// left) heartbeats without naming its old lease, which then expires within the lease timeout,
/// not the task timeout hours later; its task goes to another worker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_its_worker_no_longer_names_expires_though_the_worker_heartbeats() {
    let dir = tempfile::tempdir().unwrap();
    let (farm, job, mut tasks, runner) = running_farm_with_job(dir.path(), |c| {
        c.lease_timeout = Duration::from_secs(1);
    })
    .await;
    let task = take(&mut tasks).await;
    let forgotten = lease(&farm, &task, "restarted");
    // Named, the lease outlives the lease timeout.
    let naming = heartbeats(&farm, "restarted", vec![forgotten.0.clone()]);
    let early = tokio::time::timeout(Duration::from_millis(2500), tasks.next()).await;
    assert!(early.is_err(), "a lease its worker named was lost");
    naming.abort();
    let forgetting = heartbeats(&farm, "restarted", Vec::new());
    let again = retaken(&mut tasks, &task, Duration::from_secs(3)).await;
    finished_by_another(&farm, job, (&task, &forgotten), &again).await;
    assert_eq!(farm.job(job).unwrap().state, JobState::Done);
    forgetting.abort();
    runner.abort();
}

/// A coordinator back from a downtime longer than the lease timeout (a restart, a standby
/// taking over) gives workers a lease timeout to heartbeat again before it expires their
/// leases: none could reach it meanwhile. Then a lease nobody names expires as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_outlive_the_coordinators_downtime_by_a_lease_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let (farm, _job, mut tasks) = farm_with_job(dir.path(), 1, |c| {
        c.lease_timeout = Duration::from_secs(1);
    })
    .await;
    let task = take(&mut tasks).await;
    let held = lease(&farm, &task, "honest");
    // Last heard a minute ago, while the coordinator was down.
    rusqlite::Connection::open(dir.path().join("data/farm.db"))
        .unwrap()
        .execute("UPDATE leases SET heartbeat_at = heartbeat_at - 60", [])
        .unwrap();
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    let runner = tokio::spawn(farm.clone().run(shutdown));
    tokio::time::sleep(Duration::from_millis(600)).await;
    let kept = farm.store().lease(&held.0).unwrap().unwrap();
    assert!(
        kept.active,
        "expired on the coordinator's first look: {kept:?}"
    );
    retaken(&mut tasks, &task, Duration::from_secs(3)).await;
    runner.abort();
}

/// A worker that heartbeats but never files a result loses its task at the task timeout, and
/// the task goes to another worker, which finishes the job: heartbeats alone do not hold a task.
/// The hoarder claims nothing more, not even the task's next attempt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_held_past_the_task_timeout_goes_to_another_worker_despite_heartbeats() {
    let dir = tempfile::tempdir().unwrap();
    let (farm, job, mut tasks, runner) = running_farm_with_job(dir.path(), |c| {
        c.lease_timeout = Duration::from_secs(2);
        c.task_timeout = Some(Duration::from_secs(1));
    })
    .await;
    let task = take(&mut tasks).await;
    let hoarded = lease(&farm, &task, "hoarder");
    let beating = heartbeats(&farm, "hoarder", vec![hoarded.0.clone()]);
    let again = retaken(&mut tasks, &task, Duration::from_secs(4)).await;
    let views = farm.store().tasks(job, None, RowPage::FIRST).unwrap().tasks;
    let why = views[0].last_error.as_deref().unwrap_or_default();
    assert!(why.contains("held the task for more than 1 s"), "{why}");
    match claim(&farm, &cpu_worker("hoarder", 2), &again) {
        Claim::Stop { reason } => assert!(
            reason.contains("is blocked") && reason.contains("for more than 1 s"),
            "{reason}"
        ),
        other => panic!("the hoarder was not stopped: {other:?}"),
    }
    finished_by_another(&farm, job, (&task, &hoarded), &again).await;
    assert_eq!(farm.job(job).unwrap().state, JobState::Done);
    beating.abort();
    runner.abort();
}

/// Anyone who can publish to the task queue can put a real task's number and attempt on other
/// settings (here another seed). The worker that claims it renders the coordinator's own message
/// for that attempt, which the claim answers with: its result passes its spot check, and it is
/// not the one blocked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_task_message_is_rendered_as_the_coordinator_published_it() {
    let dir = tempfile::tempdir().unwrap();
    let transport = InProcessTransport::new();
    let config = FarmConfig::new(dir.path().join("data"), PriceTable::default());
    let farm = Farm::open(one_task_a_message(config), transport.clone()).unwrap();
    let mut tasks = transport.consume_tasks(1).await.unwrap();
    let job = farm.submit(one_tile_of_cornell(4, 2)).await.unwrap();
    let task = take(&mut tasks).await;
    drop(tasks);
    let mut forged = task.clone();
    forged.settings.seed += 1;
    transport
        .publish_tasks(&[TaskBundle::one(forged)])
        .await
        .unwrap();
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let runner = tokio::spawn(farm.clone().run(shutdown.clone()));
    let worker = spawn_cpu_worker(&farm, &transport, "honest", shutdown);
    assert_eq!(wait_finished(&farm, job).await, JobState::Done);
    let honest = farm.store().reputation("honest").unwrap();
    assert_eq!(honest.blocked, None);
    assert_eq!(
        (honest.checks_passed, honest.checks_failed),
        (1, 0),
        "its one result was spot-checked and found true"
    );
    stop.send(true).unwrap();
    runner.await.unwrap().unwrap();
    worker.await.unwrap().unwrap();
}

/// A forged message that puts a task of one job beside another job's, under the first job's
/// number and scene, does not get the second rendered with the first's scene (the honest worker
/// found wrong): a message's tasks are granted of one job only, and the other goes out again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_message_mixing_two_jobs_does_not_render_one_with_the_others_scene() {
    let dir = tempfile::tempdir().unwrap();
    let transport = InProcessTransport::new();
    let mut config = one_task_a_message(FarmConfig::new(
        dir.path().join("data"),
        PriceTable::default(),
    ));
    // The forger took the refused task's own message off the queue: it is published again.
    config.queue_timeout = Duration::from_secs(1);
    let farm = Farm::open(config, transport.clone()).unwrap();
    let mut tasks = transport.consume_tasks(1).await.unwrap();
    let a = farm.submit(one_tile_of_cornell(4, 2)).await.unwrap();
    let mut other = one_tile_of_cornell(4, 2);
    other.scene_name = "materials.gltf".into();
    other.scene = scene("materials.gltf");
    let b = farm.submit(other).await.unwrap();
    let (first, second) = (take(&mut tasks).await, take(&mut tasks).await);
    drop(tasks);
    assert_ne!(first.scene, second.scene);
    let mut disguised = second.clone();
    disguised.job = first.job;
    disguised.scene = first.scene;
    let forged = TaskBundle::new(vec![first, disguised]).unwrap();
    transport.publish_tasks(&[forged]).await.unwrap();
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let runner = tokio::spawn(farm.clone().run(shutdown.clone()));
    let worker = spawn_cpu_worker(&farm, &transport, "honest", shutdown);
    assert_eq!(wait_finished(&farm, a).await, JobState::Done);
    assert_eq!(wait_finished(&farm, b).await, JobState::Done);
    let honest = farm.store().reputation("honest").unwrap();
    assert_eq!(honest.blocked, None);
    assert_eq!((honest.checks_passed, honest.checks_failed), (2, 0));
    stop.send(true).unwrap();
    runner.await.unwrap().unwrap();
    worker.await.unwrap().unwrap();
}

/// A drained worker leaves the message it takes to the other workers and stops. It used to
/// acknowledge every message it could not claim, as fast as they came, and their tasks waited
/// for the queue timeout (five minutes) to go out again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drained_worker_leaves_its_messages_to_the_others_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    let transport = InProcessTransport::new();
    let config = one_task_a_message(FarmConfig::new(
        dir.path().join("data"),
        PriceTable::default(),
    ));
    let farm = Farm::open(config, transport.clone()).unwrap();
    assert!(farm.store().drain_worker("drained").unwrap());
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let runner = tokio::spawn(farm.clone().run(shutdown.clone()));
    let drained = spawn_cpu_worker(&farm, &transport, "drained", shutdown.clone());
    let mut submission = one_tile_of_cornell(8, 2);
    submission.options.tile_size = NonZeroU32::new(4).unwrap();
    let job = farm.submit(submission).await.unwrap();
    let stopped = tokio::time::timeout(Duration::from_secs(30), drained)
        .await
        .expect("the drained worker stops")
        .unwrap();
    match stopped {
        Err(WorkerError::Stopped(reason)) => {
            assert!(reason.contains("drained by an operator"), "{reason}")
        }
        other => panic!("the drained worker did not stop as drained: {other:?}"),
    }
    let honest = spawn_cpu_worker(&farm, &transport, "honest", shutdown);
    assert_eq!(wait_finished(&farm, job).await, JobState::Done);
    assert_eq!(
        farm.store()
            .tasks(job, None, RowPage::FIRST)
            .unwrap()
            .tasks
            .len(),
        4
    );
    stop.send(true).unwrap();
    runner.await.unwrap().unwrap();
    honest.await.unwrap().unwrap();
}

/// A written frame whose PNG preview is missing (writing it failed; the log says why) is a 404
/// that says so, not an internal error, and its EXR is still served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_without_its_preview_is_not_found_and_its_exr_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let transport = InProcessTransport::new();
    let config = FarmConfig::new(dir.path().join("data"), PriceTable::default());
    let farm = Farm::open(config, transport.clone()).unwrap();
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let runner = tokio::spawn(farm.clone().run(shutdown.clone()));
    let worker = spawn_cpu_worker(&farm, &transport, "w", shutdown);
    let job = farm.submit(one_tile_of_cornell(4, 1)).await.unwrap();
    assert_eq!(wait_finished(&farm, job).await, JobState::Done);
    std::fs::remove_file(dir.path().join(format!("data/frames/{job}/frame_0001.png"))).unwrap();
    let token = operator_token(&farm);
    let (address, server) = serve(&farm).await;
    let base = format!("http://{address}/api/jobs/{job}/frames");
    let status = |path: &'static str| {
        let (url, token) = (format!("{base}/{path}"), token.clone());
        tokio::task::spawn_blocking(move || {
            match ureq::get(&url)
                .set("authorization", &format!("Bearer {token}"))
                .call()
            {
                Ok(response) => (response.status(), String::new()),
                Err(ureq::Error::Status(code, response)) => (code, response.into_string().unwrap()),
                Err(e) => panic!("{e}"),
            }
        })
    };
    let (code, body) = status("1.png").await.unwrap();
    assert_eq!(code, 404, "{body}");
    assert!(body.contains("no PNG preview"), "{body}");
    assert_eq!(status("1.exr").await.unwrap().0, 200);
    server.abort();
    stop.send(true).unwrap();
    runner.await.unwrap().unwrap();
    worker.await.unwrap().unwrap();
}

/// A new admin token of `farm`.
fn operator_token(farm: &Farm<InProcessTransport>) -> String {
    let admin = NewToken {
        role: Role::Admin,
        tenant: None,
        name: "operator".into(),
        device_class: None,
        threads: None,
        verified: false,
    };
    farm.store().issue_token(&admin).unwrap().1
}

/// Serves `farm`'s API on a port of loopback: its address, and the server's task.
async fn serve(
    farm: &Arc<Farm<InProcessTransport>>,
) -> (
    std::net::SocketAddr,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(axum::serve(listener, server::router(farm.clone())).into_future());
    (address, server)
}

/// A job's event stream shows each accepted tile where it lies: those accepted before the
/// watcher came, then those accepted while it watches (read from the store as they are shown,
/// so that events waiting for a slow watcher hold no pixels).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_sees_the_tiles_accepted_before_it_came_and_after() {
    let dir = tempfile::tempdir().unwrap();
    let (farm, job, mut tasks) = farm_with_job(dir.path(), 3, |_| {}).await;
    let before = rendered(&farm, &mut tasks, "honest").await.tile.x();
    let (address, server) = serve(&farm).await;
    let (url, token) = (
        format!("http://{address}/api/jobs/{job}/events"),
        operator_token(&farm),
    );
    let (shown, mut tiles) = tokio::sync::mpsc::unbounded_channel();
    let watcher = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        let stream = ureq::get(&url)
            .set("authorization", &format!("Bearer {token}"))
            .call()
            .unwrap();
        let mut tile_next = false;
        for line in std::io::BufReader::new(stream.into_reader()).lines() {
            let Ok(line) = line else { return };
            if let Some(data) = line.strip_prefix("data:").filter(|_| tile_next) {
                let tile: serde_json::Value = serde_json::from_str(data.trim()).unwrap();
                assert!(tile["png"].as_str().is_some_and(|png| !png.is_empty()));
                if shown.send(tile["x"].as_u64().unwrap()).is_err() {
                    return;
                }
            }
            tile_next = line == "event: tile" || (tile_next && !line.starts_with("data:"));
        }
    });
    let within = Duration::from_secs(10);
    let next = async |tiles: &mut tokio::sync::mpsc::UnboundedReceiver<u64>| {
        tokio::time::timeout(within, tiles.recv())
            .await
            .expect("a tile is shown")
    };
    assert_eq!(next(&mut tiles).await, Some(u64::from(before)));
    let after = rendered(&farm, &mut tasks, "honest").await.tile.x();
    assert_eq!(next(&mut tiles).await, Some(u64::from(after)));
    // The stream ends with its job.
    farm.cancel(job).unwrap();
    tokio::time::timeout(within, watcher)
        .await
        .expect("the stream ends with its job")
        .unwrap();
    server.abort();
}

/// A wall clock stepped back while a worker renders does not make its honest render time look
/// made up (which blocks the worker and reverses its charges): the coordinator also measures
/// the lease on the monotonic clock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clock_stepped_back_does_not_block_an_honest_worker() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let transport = InProcessTransport::new();
    let config = one_task_a_message(FarmConfig::new(&data, PriceTable::default()));
    let farm = Farm::open(config, transport.clone()).unwrap();
    let mut tasks = transport.consume_tasks(1).await.unwrap();
    let job = farm.submit(one_tile_of_cornell(4, 2)).await.unwrap();
    let task = take(&mut tasks).await;
    let held = lease(&farm, &task, "honest");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // The clock steps back a minute: the lease's grant time now lies ahead of it.
    rusqlite::Connection::open(data.join("farm.db"))
        .unwrap()
        .execute("UPDATE leases SET started_at = started_at + 60", [])
        .unwrap();
    let rendered = result(&task, &true_pixels(&task), 32, 1_200_000, &held);
    farm.handle_result(&from_cpu(rendered, &held))
        .await
        .unwrap();
    let honest = farm.store().reputation("honest").unwrap();
    assert_eq!(honest.blocked, None);
    assert_eq!((honest.checks_passed, honest.checks_failed), (1, 0));
    assert_eq!(farm.store().ledger(job).unwrap().len(), 1);
}

/// A job with a cost limit stops before its invoice passes it (here the CPU costs a million
/// dollars a core-hour, so that one tile's work passes a limit of one micro-dollar).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_stops_at_its_cost_limit() {
    let dir = tempfile::tempdir().unwrap();
    let transport = InProcessTransport::new();
    let dear = PriceTable::parse("cpu_core_hour = 1000000.0", "test prices").unwrap();
    let farm = Farm::open(
        one_task_a_message(FarmConfig::new(dir.path().join("data"), dear)),
        transport.clone(),
    )
    .unwrap();
    let mut tasks = transport.consume_tasks(1).await.unwrap();
    let mut submission = one_tile_of_cornell(4, 2);
    submission.options.size = SizeRequest::from_sides(Some(12), Some(4)).unwrap();
    submission.max_cost = Some(Money::from_micros(1));
    let job = farm.submit(submission).await.unwrap();
    let mut held = Vec::new();
    for _ in 0..3 {
        let task = take(&mut tasks).await;
        let lease = lease(&farm, &task, "w");
        held.push((task, lease));
    }
    for (task, lease) in &held {
        farm.handle_result(&result(task, &Pixels::zeroed(16), 32, 1_000, lease))
            .await
            .unwrap();
    }
    let record = farm.job(job).unwrap();
    assert_eq!(record.state, JobState::Failed);
    assert!(record.reason.unwrap().contains("cost limit"));
    assert!(farm.store().invoice_total(job).unwrap() <= Money::from_micros(1));
    assert_eq!(farm.store().ledger(job).unwrap().len(), 1);
}

/// Jobs beyond the farm's limits are refused with a clear message before anything is stored,
/// and are not quoted either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_beyond_the_limits_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = FarmConfig::new(dir.path().join("data"), PriceTable::default());
    config.limits.tenant_scene_quota = 1024;
    let farm = Farm::open(config, InProcessTransport::new()).unwrap();
    let refused = |change: &dyn Fn(&mut Submission)| {
        let mut s = one_tile_of_cornell(4, 1);
        s.scene = scene("turntable.gltf");
        change(&mut s);
        s
    };
    type Change<'a> = &'a dyn Fn(&mut Submission);
    let cases: [(Change, &str); 5] = [
        (
            &|s| s.options.frames = "1-10001".parse().unwrap(),
            "at most 10000",
        ),
        (
            &|s| s.options.tile_size = NonZeroU32::new(257).unwrap(),
            "a tile may be at most 256 px a side",
        ),
        (
            &|s| s.options.size = SizeRequest::from_sides(Some(32768), Some(32768)).unwrap(),
            "a frame may have at most",
        ),
        (
            &|s| {
                s.options.size = SizeRequest::from_sides(Some(1000), Some(1000)).unwrap();
                s.options.tile_size = NonZeroU32::new(1).unwrap();
            },
            "a job may have at most 100000",
        ),
        // The turntable is larger than this farm's 1 KiB quota.
        (&|_| {}, "quota"),
    ];
    for (change, phrase) in cases {
        let err = farm.submit(refused(change)).await.unwrap_err();
        assert!(err.to_string().contains(phrase), "{err}");
        // A quote stores nothing, so the quota does not bear on it; the rest does.
        if phrase != "quota" {
            let err = farm.quote(&refused(change)).await.unwrap_err();
            assert!(err.to_string().contains(phrase), "quote: {err}");
        }
    }
    assert_eq!(jobs_stored(&farm), 0);
}

/// A quote asked for again while it holds is the same quote: each pre-pass times a different
/// run, and a tenant asking until one came out low would be charged that. Another tenant's
/// quote of the same scene is its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quote_asked_again_while_it_holds_is_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let config = FarmConfig::new(dir.path().join("data"), PriceTable::default());
    let farm = Farm::open(config, InProcessTransport::new()).unwrap();
    let first = farm.quote(&one_tile_of_cornell(16, 4)).await.unwrap();
    for _ in 0..3 {
        assert_eq!(
            farm.quote(&one_tile_of_cornell(16, 4)).await.unwrap(),
            first
        );
    }
    let other = Submission {
        tenant: "another studio".into(),
        ..one_tile_of_cornell(16, 4)
    };
    let theirs = farm.quote(&other).await.unwrap();
    assert_ne!(
        theirs.probe_seconds_per_sample, first.probe_seconds_per_sample,
        "a pre-pass of their own"
    );
}

/// A scene a tenant's jobs keep already counts against its quota once: the same scene again
/// is taken where a quota holds one and a half of it, and another one is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scene_submitted_again_counts_once_against_the_quota() {
    let dir = tempfile::tempdir().unwrap();
    let cornell = scene("cornell-box.gltf");
    let size = std::fs::metadata(&cornell).unwrap().len();
    let mut config = FarmConfig::new(dir.path().join("data"), PriceTable::default());
    config.limits.tenant_scene_quota = size * 3 / 2;
    let farm = Farm::open(config, InProcessTransport::new()).unwrap();
    farm.submit(one_tile_of_cornell(4, 1)).await.unwrap();
    farm.submit(one_tile_of_cornell(4, 1)).await.unwrap();
    assert_eq!(farm.store().tenant_scene_bytes("studio").unwrap(), size);
    let other = dir.path().join("cornell-other.gltf");
    let mut bytes = std::fs::read(&cornell).unwrap();
    bytes.push(b' ');
    std::fs::write(&other, bytes).unwrap();
    let err = farm
        .submit(Submission {
            scene: other,
            ..one_tile_of_cornell(4, 1)
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("quota"), "{err}");
}

/// Renders `options` of `scene` as `tessera render` does, with `threads` CPU threads; returns
/// the frames' paths.
async fn render_locally(
    dir: &Path,
    scene: &Path,
    options: &JobOptions,
    threads: &str,
) -> Vec<PathBuf> {
    let (dir, scene) = (dir.join("local"), scene.to_owned());
    let frames = options.frames.frames().to_vec();
    let mut args: Vec<String> = vec!["--threads".into(), threads.into()];
    for (key, value) in options.to_query() {
        args.push(format!("--{}", key.replace('_', "-")));
        args.push(value);
    }
    // The command blocks; it runs beside this test's runtime.
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        farm::render_locally(&dir, &scene, &args, &frames)
    })
    .await
    .unwrap()
}

/// A frame that cannot be written (here `frames` is a file, as a full disk would refuse it)
/// keeps its job waiting, not stuck: once writing works again, the frame is written and the job
/// completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_that_could_not_be_written_is_written_once_the_disk_works_again() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let transport = InProcessTransport::new();
    let farm = Farm::open(
        FarmConfig::new(&data, PriceTable::default()),
        transport.clone(),
    )
    .unwrap();
    std::fs::write(data.join("frames"), b"not a folder").unwrap();
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let runner = tokio::spawn(farm.clone().run(shutdown.clone()));
    let worker = spawn_cpu_worker(&farm, &transport, "w", shutdown);
    let job = farm.submit(one_tile_of_cornell(8, 1)).await.unwrap();
    for _ in 0..100 {
        if farm.job(job).unwrap().tasks_done == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let record = farm.job(job).unwrap();
    assert_eq!((record.tasks_done, record.state), (1, JobState::Running));
    std::fs::remove_file(data.join("frames")).unwrap();
    assert_eq!(wait_finished(&farm, job).await, JobState::Done);
    assert!(farm.frame_file(job, 1).unwrap().is_file());
    stop.send(true).unwrap();
    runner.await.unwrap().unwrap();
    worker.await.unwrap().unwrap();
}

/// The pixels an honest CPU worker returns for `task`.
fn true_pixels(task: &TaskMessage) -> Pixels {
    use tessera_renderer::backend::Backend;
    let scene = tessera_renderer::scene::Scene::load(&scene("cornell-box.gltf")).unwrap();
    let frame = scene.frame(task.time, task.camera.as_deref()).unwrap();
    let backend = CpuBackend::new(Some(1)).unwrap();
    let prepared = backend.prepare(&frame).unwrap();
    prepared
        .render_tile(task.resolution, task.tile, task.frame, &task.settings)
        .unwrap()
        .pixels
}

/// `r` as sent from a worker's CPU backend, signed again.
fn from_cpu(mut r: ResultMessage, (_, key): &(String, String)) -> ResultMessage {
    r.worker.device.backend = "cpu".into();
    r.sign(key);
    r
}

/// A worker whose pixels are not what the scene renders to is caught by a spot check: its
/// result is refused and its task rendered again elsewhere, it is blocked, and its charges that
/// no check verified are reversed. An honest worker's results pass their checks. Whichever
/// backend a result names is checked: a GPU's within its noise, the CPU's exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gpu_cheater_is_caught_within_noise_and_blocked() {
    let dir = tempfile::tempdir().unwrap();
    let (farm, job, mut tasks) = farm_with_job(dir.path(), 2, |_| {}).await;
    // An honest result claimed from CUDA: checked within noise, and passed.
    let first = take(&mut tasks).await;
    let verified = lease(&farm, &first, "cheat");
    farm.handle_result(&result(&first, &true_pixels(&first), 32, 1, &verified))
        .await
        .unwrap();
    assert_eq!(farm.store().reputation("cheat").unwrap().checks_passed, 1);
    // Then half the samples claimed as all of them, from CUDA: caught within noise.
    let second = take(&mut tasks).await;
    let cheat = lease(&farm, &second, "cheat");
    let mut halved = second.clone();
    halved.settings.spp = tessera_renderer::settings::Spp::new(1).unwrap();
    let halved = result(&second, &true_pixels(&halved), 32, 1, &cheat);
    farm.handle_result(&halved).await.unwrap();
    let record = farm.store().reputation("cheat").unwrap();
    assert_eq!(record.checks_failed, 1, "{record:?}");
    assert!(record.blocked.is_some(), "{record:?}");
    // Its verified charge stands; a charge that no check verified would be reversed.
    assert!(farm.store().reversals(job).unwrap().is_empty());
    assert_eq!(farm.store().ledger(job).unwrap().len(), 1);
    farm.handle_result(&result(&second, &true_pixels(&second), 32, 1, &cheat))
        .await
        .unwrap();
    assert_eq!(farm.refusals().get("lease no longer active"), Some(&1));
    // The task goes out again, to an honest worker.
    let again = published(&farm, &mut tasks).await;
    assert_eq!((again.task, again.attempt), (second.task, 2));
    let honest = lease(&farm, &again, "honest");
    farm.handle_result(&from_cpu(
        result(&again, &true_pixels(&again), 32, 1, &honest),
        &honest,
    ))
    .await
    .unwrap();
    assert_eq!(farm.store().reputation("honest").unwrap().checks_passed, 1);
    assert_eq!(farm.job(job).unwrap().state, JobState::Done);
}

/// A lease granted before a restart (or by a coordinator that since handed over) was timed by
/// another clock, which may run seconds ahead: a render time beyond what this one measures is
/// bounded, not taken for cheating.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_another_clock_started_is_not_overrun_on_this_one() {
    let dir = tempfile::tempdir().unwrap();
    let (farm, job, mut tasks) = farm_with_job(dir.path(), 1, |_| {}).await;
    let task = take(&mut tasks).await;
    let held = lease(&farm, &task, "honest");
    drop(farm);
    // The coordinator that granted it ran 3 s ahead of the one that takes its result.
    rusqlite::Connection::open(dir.path().join("data/farm.db"))
        .unwrap()
        .execute("UPDATE leases SET started_at = started_at + 3", [])
        .unwrap();
    let config = FarmConfig::new(dir.path().join("data"), PriceTable::default());
    let farm = Farm::open(one_task_a_message(config), InProcessTransport::new()).unwrap();
    let r = result(&task, &true_pixels(&task), 32, 2_000_000, &held);
    farm.handle_result(&from_cpu(r, &held)).await.unwrap();
    let record = farm.store().reputation("honest").unwrap();
    assert!(record.blocked.is_none(), "{record:?}");
    assert_eq!(farm.store().ledger(job).unwrap().len(), 1);
    assert_eq!(farm.job(job).unwrap().state, JobState::Done);
}

/// The result of a job cancelled while its task rendered is ignored, and ends its lease: left
/// active, the lease would expire as the worker's failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_for_a_cancelled_job_ends_its_lease() {
    let dir = tempfile::tempdir().unwrap();
    let (farm, job, mut tasks) = farm_with_job(dir.path(), 1, |_| {}).await;
    let task = take(&mut tasks).await;
    let held = lease(&farm, &task, "honest");
    farm.cancel(job).unwrap();
    let r = result(&task, &true_pixels(&task), 32, 1, &held);
    farm.handle_result(&from_cpu(r, &held)).await.unwrap();
    assert!(farm.store().ledger(job).unwrap().is_empty(), "not billed");
    let lease = farm.store().lease(&held.0).unwrap().unwrap();
    assert!(!lease.active, "{lease:?}");
}

/// A result sent twice in one batch counts once, as a duplicate: not refused, not billed twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_twice_in_a_batch_counts_once() {
    let dir = tempfile::tempdir().unwrap();
    let (farm, job, mut tasks) = farm_with_job(dir.path(), 2, |_| {}).await;
    let task = take(&mut tasks).await;
    let held = lease(&farm, &task, "honest");
    let r = from_cpu(result(&task, &true_pixels(&task), 32, 1, &held), &held);
    farm.handle_results(&[&r, &r]).await.unwrap();
    assert_eq!(farm.store().ledger(job).unwrap().len(), 1);
    assert!(farm.refusals().is_empty(), "{:?}", farm.refusals());
    // A copy under the same lease but not signed with its key, ahead of the true result in the
    // batch, is refused and does not make the true one a duplicate.
    let task = take(&mut tasks).await;
    let held = lease(&farm, &task, "honest");
    let r = from_cpu(result(&task, &true_pixels(&task), 32, 1, &held), &held);
    let mut forged = r.clone();
    forged.signature = "00".repeat(32);
    farm.handle_results(&[&forged, &r]).await.unwrap();
    assert_eq!(
        farm.store().ledger(job).unwrap().len(),
        2,
        "the true result counts"
    );
    assert_eq!(farm.job(job).unwrap().state, JobState::Done);
}

/// Results are recorded a batch at a time. A cheater caught by one result of a batch is not
/// paid for the others it sent with it, though they passed their checks before it was blocked:
/// their tasks are rendered again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cheater_caught_in_a_batch_is_not_paid_for_the_rest_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let (farm, job, mut tasks) = farm_with_job(dir.path(), 2, |_| {}).await;
    let (first, second) = (take(&mut tasks).await, take(&mut tasks).await);
    let (wrong, right) = (
        lease(&farm, &first, "cheat"),
        lease(&farm, &second, "cheat"),
    );
    // Wrong in every pixel, so that whichever pixels the check draws catch it.
    let mut brightened = true_pixels(&first);
    for c in &mut brightened.color {
        c[0] += 0.1;
    }
    let made_up = from_cpu(result(&first, &brightened, 32, 1, &wrong), &wrong);
    let rendered = from_cpu(
        result(&second, &true_pixels(&second), 32, 1, &right),
        &right,
    );
    farm.handle_results(&[&rendered, &made_up]).await.unwrap();
    assert!(farm.store().reputation("cheat").unwrap().blocked.is_some());
    assert!(farm.store().ledger(job).unwrap().is_empty());
    let again = [
        published(&farm, &mut tasks).await,
        published(&farm, &mut tasks).await,
    ];
    let mut again: Vec<_> = again.iter().map(|t| (t.task, t.attempt)).collect();
    again.sort();
    assert_eq!(again, [(first.task, 2), (second.task, 2)]);
}

/// A worker trusted after 10 passed checks is checked less often; wrong pixels it then claims
/// from the CPU backend are accepted unchecked until a check, exact for the CPU, catches them.
/// Every charge of it that no check verified is then reversed, and its verified ones stand;
/// the tiles of the reversed charges are rendered again by an honest worker, and the job
/// completes with the frame `tessera render` writes and an invoice of the honest work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_cheater_is_caught_its_charges_reversed_and_its_tiles_rendered_again() {
    let dir = tempfile::tempdir().unwrap();
    let (farm, job, mut tasks) = farm_with_job(dir.path(), 64, |_| {}).await;
    for _ in 0..10 {
        let task = take(&mut tasks).await;
        let honest = lease(&farm, &task, "cheat");
        let r = result(&task, &true_pixels(&task), 32, 1, &honest);
        farm.handle_result(&from_cpu(r, &honest)).await.unwrap();
    }
    assert_eq!(
        farm.store().reputation("cheat").unwrap().consecutive_valid,
        10
    );
    // At least one result in three is checked: 50 cheats all unchecked has odds of 1.6e-9.
    let mut unverified = Vec::new();
    for _ in 0..50 {
        let task = take(&mut tasks).await;
        let cheat = lease(&farm, &task, "cheat");
        let mut wrong = true_pixels(&task);
        for c in &mut wrong.color {
            c[0] += 0.1;
        }
        let wrong = result(&task, &wrong, 32, 1, &cheat);
        farm.handle_result(&from_cpu(wrong, &cheat)).await.unwrap();
        if farm.store().reputation("cheat").unwrap().blocked.is_some() {
            break;
        }
        unverified.push(task.task);
    }
    let record = farm.store().reputation("cheat").unwrap();
    assert_eq!(
        (record.checks_passed, record.checks_failed),
        (10, 1),
        "{record:?}"
    );
    let reversed: Vec<_> = farm
        .store()
        .reversals(job)
        .unwrap()
        .iter()
        .map(|r| r.task)
        .collect();
    assert_eq!(reversed, unverified);
    // The blocked worker may claim nothing more.
    let next = published(&farm, &mut tasks).await;
    let refused = claim(&farm, &cpu_worker("cheat", 2), &next);
    assert!(matches!(refused, Claim::Stop { .. }), "{refused:?}");
    // An honest worker renders the rest, the reversed tiles again among them.
    let mut first = Some(next);
    while farm.job(job).unwrap().state == JobState::Running {
        let task = match first.take() {
            Some(task) => task,
            None => published(&farm, &mut tasks).await,
        };
        let honest = lease(&farm, &task, "honest");
        let r = result(&task, &true_pixels(&task), 32, 1, &honest);
        farm.handle_result(&from_cpu(r, &honest)).await.unwrap();
    }
    assert_eq!(farm.job(job).unwrap().state, JobState::Done);
    let ledger = farm.store().ledger(job).unwrap();
    assert_eq!(ledger.len(), 64 + unverified.len(), "one row per result");
    let honest: i64 = ledger
        .iter()
        .filter(|r| !(r.worker == "cheat" && unverified.contains(&r.task)))
        .map(|r| r.charge.micros())
        .sum();
    let invoice = farm.store().invoice_total(job).unwrap().micros();
    assert_eq!(invoice, honest);
    // 64 tasks' work at the job's price, but for the rounding of the charges reversed.
    let quote = farm.job(job).unwrap().quote.unwrap();
    assert!(
        (invoice - quote.cost.micros()).abs() <= 1 + unverified.len() as i64,
        "invoice {invoice}, quoted {}",
        quote.cost
    );
    let mut options = one_tile_of_cornell(4, 2).options;
    options.size = SizeRequest::from_sides(Some(256), Some(4)).unwrap();
    let local = render_locally(dir.path(), &scene("cornell-box.gltf"), &options, "1").await;
    assert!(
        std::fs::read(farm.frame_file(job, 1).unwrap()).unwrap()
            == std::fs::read(&local[0]).unwrap(),
        "the frame differs from tessera render's"
    );
}

/// A job that takes verified workers only is queued apart, where only verified workers read;
/// a worker whose token is not verified is refused its tasks even if it reads that queue, and a
/// verified one renders them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verified_job_is_rendered_by_verified_workers_only() {
    let dir = tempfile::tempdir().unwrap();
    let transport = InProcessTransport::new();
    let farm = Farm::open(
        one_task_a_message(FarmConfig::new(
            dir.path().join("data"),
            PriceTable::default(),
        )),
        transport.clone(),
    )
    .unwrap();
    let mut open_tasks = transport.consume_tasks(1).await.unwrap();
    let mut verified_tasks = transport.consume_verified_tasks(1).await.unwrap();
    let mut submission = one_tile_of_cornell(4, 2);
    submission.trust = Trust::Verified;
    let job = farm.submit(submission).await.unwrap();
    assert_eq!(farm.job(job).unwrap().trust, Trust::Verified);
    let task = take(&mut verified_tasks).await;
    assert!(
        tokio::time::timeout(Duration::from_millis(300), open_tasks.next())
            .await
            .is_err(),
        "a verified job's task was queued for any worker"
    );
    match claim(&farm, &cpu_worker("stranger", 2), &task) {
        Claim::Skip { reason } => assert!(reason.contains("verified"), "{reason}"),
        granted => panic!("an unverified worker got a verified job's task: {granted:?}"),
    }
    let studio = Principal::Worker {
        name: "studio-node".into(),
        device_class: "cpu".into(),
        threads: 2,
        verified: true,
    };
    let held = match claim(&farm, &studio, &task) {
        Claim::Render { lease, key, .. } => (lease, key),
        Claim::Skip { reason } | Claim::Stop { reason } => {
            panic!("the verified worker was refused: {reason}")
        }
    };
    let r = result(&task, &true_pixels(&task), 32, 1, &held);
    farm.handle_result(&from_cpu(r, &held)).await.unwrap();
    assert_eq!(farm.job(job).unwrap().state, JobState::Done);
    assert_eq!(farm.store().ledger(job).unwrap()[0].worker, "studio-node");
}

/// A farm that sends every task in a message of its own and keeps four of a window in the
/// broker, and its task queue.
async fn farm_with_a_window_of_four(
    dir: &Path,
) -> (
    Arc<Farm<InProcessTransport>>,
    <InProcessTransport as Transport>::Tasks,
) {
    let transport = InProcessTransport::new();
    let mut config = one_task_a_message(FarmConfig::new(dir.join("data"), PriceTable::default()));
    config.window = 4;
    let farm = Farm::open(config, transport.clone()).unwrap();
    (farm, transport.consume_tasks(1).await.unwrap())
}

/// Each tenant has its own window of queued tasks: one tenant's backlog does not hold back
/// another tenant's job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_tenants_backlog_does_not_hold_back_anothers_job() {
    let dir = tempfile::tempdir().unwrap();
    let (farm, mut tasks) = farm_with_a_window_of_four(dir.path()).await;
    let mut backlog = one_tile_of_cornell(4, 1);
    backlog.options.size = SizeRequest::from_sides(Some(64), Some(4)).unwrap();
    backlog.tenant = "a".into();
    backlog.priority = 100;
    let backlog = farm.submit(backlog).await.unwrap();
    let mut small = one_tile_of_cornell(4, 1);
    small.tenant = "b".into();
    let small = farm.submit(small).await.unwrap();
    let mut published = Vec::new();
    for _ in 0..5 {
        published.push(take(&mut tasks).await.job);
    }
    assert_eq!(published.iter().filter(|j| **j == backlog).count(), 4);
    assert!(published.contains(&small), "{published:?}");
    assert!(
        tokio::time::timeout(Duration::from_millis(300), tasks.next())
            .await
            .is_err(),
        "tenant a got more than its window"
    );
}

/// A tenant's jobs that only verified workers may render have a window of their own: with no
/// verified worker to take them, they do not keep the tenant's other jobs out of the broker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_waiting_for_verified_workers_does_not_hold_back_its_tenants_others() {
    let dir = tempfile::tempdir().unwrap();
    let (farm, mut tasks) = farm_with_a_window_of_four(dir.path()).await;
    let mut waiting = one_tile_of_cornell(4, 1);
    waiting.options.size = SizeRequest::from_sides(Some(4 * 8), Some(4)).unwrap();
    waiting.priority = 100;
    waiting.trust = Trust::Verified;
    farm.submit(waiting).await.unwrap();
    let open = farm.submit(one_tile_of_cornell(4, 1)).await.unwrap();
    assert_eq!(take(&mut tasks).await.job, open);
}

/// Tasks nobody claimed are published again after the queue timeout, but not into a queue
/// nobody takes from (no worker online): nothing there can have been lost, and a copy each
/// timeout would pile up for as long as nobody came.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unclaimed_tasks_are_not_published_again_into_a_queue_nobody_takes_from() {
    let dir = tempfile::tempdir().unwrap();
    let transport = InProcessTransport::new();
    let mut config = one_task_a_message(FarmConfig::new(
        dir.path().join("data"),
        PriceTable::default(),
    ));
    config.queue_timeout = Duration::from_millis(200);
    // Queued tasks are looked at every 100 ms.
    config.lease_timeout = Duration::from_secs(1);
    let farm = Farm::open(config, transport.clone()).unwrap();
    farm.submit(one_tile_of_cornell(4, 1)).await.unwrap();
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let runner = tokio::spawn(farm.clone().run(shutdown));
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.send(true).unwrap();
    runner.await.unwrap().unwrap();
    let mut tasks = transport.consume_tasks(1).await.unwrap();
    // Held unacknowledged, so that none goes back to the queue while it is counted.
    let mut messages = Vec::new();
    while let Some(delivery) = tasks.ready().await {
        messages.push(delivery);
    }
    assert_eq!(messages.len(), 1);
}

/// Tiny tasks travel several to a message, a window counts messages (each job's as it fills
/// them), and one request claims a message's tasks, each under a lease of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tiny_tasks_travel_several_to_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let transport = InProcessTransport::new();
    let mut config = FarmConfig::new(dir.path().join("data"), PriceTable::default());
    config.window = 4;
    let farm = Farm::open(config, transport.clone()).unwrap();
    let mut tasks = transport.consume_tasks(1).await.unwrap();
    // 4x4 px at 1 spp: 16 samples a task, so a message carries as many tasks as it may.
    let mut tiny = one_tile_of_cornell(4, 1);
    tiny.options.size = SizeRequest::from_sides(Some(4 * 40), Some(4)).unwrap();
    tiny.priority = 5;
    let tiny = farm.submit(tiny).await.unwrap();
    // 64x64 px at 1 spp: 4,096 samples, a message each.
    let mut big = one_tile_of_cornell(64, 1);
    big.options.size = SizeRequest::from_sides(Some(128), Some(128)).unwrap();
    let big = farm.submit(big).await.unwrap();
    let mut messages = Vec::new();
    for _ in 0..4 {
        messages.push(take_message(&mut tasks).await);
    }
    let shape: Vec<(JobId, usize)> = messages
        .iter()
        .map(|m| (m.tasks()[0].job, m.tasks().len()))
        .collect();
    assert_eq!(shape, [(tiny, 16), (tiny, 16), (tiny, 8), (big, 1)]);
    assert!(
        tokio::time::timeout(Duration::from_millis(300), tasks.next())
            .await
            .is_err(),
        "a fifth message was queued beyond a window of four"
    );
    let first = &messages[0];
    let worker = cpu_worker("w", 2);
    let claims = farm
        .claim(&worker, &ClaimRequest::of(first.tasks()).tasks)
        .unwrap();
    let leases: std::collections::HashSet<String> = claims
        .iter()
        .map(|c| match c {
            Claim::Render { lease, .. } => lease.clone(),
            Claim::Skip { reason } | Claim::Stop { reason } => {
                panic!("a task of the message refused: {reason}")
            }
        })
        .collect();
    assert_eq!(leases.len(), MAX_BUNDLE, "a lease for each task");
    // Asked again (its answer was lost): the same leases.
    assert_eq!(
        farm.claim(&worker, &ClaimRequest::of(first.tasks()).tasks)
            .unwrap(),
        claims
    );
    let too_many = vec![ClaimRequest::of(first.tasks()).tasks[0]; MAX_BUNDLE + 1];
    let refused = farm.claim(&worker, &too_many).unwrap_err();
    assert!(refused.to_string().contains("at most 16"), "{refused}");
}

/// A job of 100,000 tasks goes into the store a few thousand tasks at a time: readers (the API,
/// the results) are never held up for long while it does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_of_many_tasks_is_created_without_holding_up_the_store() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let farm = Farm::open(
        FarmConfig::new(dir.path().join("data"), PriceTable::default()),
        InProcessTransport::new(),
    )
    .unwrap();
    let creating = Arc::new(AtomicBool::new(true));
    let reader = {
        let (farm, creating) = (farm.clone(), creating.clone());
        tokio::task::spawn_blocking(move || {
            let mut worst = Duration::ZERO;
            while creating.load(Ordering::SeqCst) {
                let asked = std::time::Instant::now();
                farm.store().jobs(None, None, JobPage::LATEST).unwrap();
                worst = worst.max(asked.elapsed());
                std::thread::sleep(Duration::from_millis(2));
            }
            worst
        })
    };
    let mut big = one_tile_of_cornell(1, 1);
    big.options.size = SizeRequest::from_sides(Some(1000), Some(100)).unwrap();
    let started = std::time::Instant::now();
    let job = farm.submit(big).await.unwrap();
    let took = started.elapsed();
    creating.store(false, Ordering::SeqCst);
    let worst = reader.await.unwrap();
    eprintln!("created 100000 tasks in {took:?}; the longest read meanwhile took {worst:?}");
    assert_eq!(farm.job(job).unwrap().tasks_total, 100_000);
    assert!(
        worst < Duration::from_millis(250),
        "a read waited {worst:?}"
    );
}

/// How a cheater makes up a tile's pixels.
#[derive(Clone, Copy, Debug)]
enum Cheat {
    /// Half the samples, claimed as all of them.
    HalfTheSamples,
    /// The pixels of another tile of the frame.
    AnotherTile,
    Black,
    /// Plausible values, at random.
    Noise,
    /// The true pixels, with an hour of rendering claimed for them.
    InflatedWork,
}

impl Cheat {
    const ALL: [Cheat; 5] = [
        Cheat::HalfTheSamples,
        Cheat::AnotherTile,
        Cheat::Black,
        Cheat::Noise,
        Cheat::InflatedWork,
    ];

    /// The render time the cheater reports.
    fn render_micros(self) -> u64 {
        match self {
            Cheat::InflatedWork => 3_600_000_000,
            _ => 1,
        }
    }

    /// The made-up pixels of `task`, whose neighbour in the plan is `other`.
    fn pixels(self, task: &TaskMessage, other: &TaskMessage) -> Pixels {
        let n = task.tile.pixel_count();
        match self {
            Cheat::HalfTheSamples => {
                let mut halved = task.clone();
                halved.settings.spp = Spp::new(task.settings.spp.get() / 2).unwrap();
                true_pixels(&halved)
            }
            Cheat::AnotherTile => true_pixels(other),
            Cheat::Black => Pixels::zeroed(n),
            Cheat::InflatedWork => true_pixels(task),
            Cheat::Noise => {
                let mut p = true_pixels(task);
                let mut state = u64::from(task.task.0.unsigned_abs() as u32) | 1;
                for c in &mut p.color {
                    for v in &mut c[..3] {
                        // xorshift: noise the worker need not even pay a random source for.
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        *v = (state >> 40) as f32 / (1u64 << 24) as f32;
                    }
                }
                p
            }
        }
    }
}

/// A farm with a job of 256 tiles of 4x4 pixels of the Cornell box (64x64, 8 spp) and an inbox
/// of its tasks; results are kept without syncs, for speed.
async fn farm_with_cornell_tiles(
    dir: &Path,
) -> (
    Arc<Farm<InProcessTransport>>,
    JobId,
    <InProcessTransport as Transport>::Tasks,
) {
    let transport = InProcessTransport::new();
    let mut config = one_task_a_message(FarmConfig::new(dir.join("data"), PriceTable::default()));
    config.durability = tessera_renderer::output::Durability::Throwaway;
    config.window = 256;
    let farm = Farm::open(config, transport.clone()).unwrap();
    let tasks = transport.consume_tasks(1).await.unwrap();
    let mut job = one_tile_of_cornell(64, 8);
    job.options.tile_size = NonZeroU32::new(4).unwrap();
    job.options.settings.max_depth = MaxDepth::new(4).unwrap();
    let job = farm.submit(job).await.unwrap();
    (farm, job, tasks)
}

/// Every kind of cheater, claiming the CPU (checked exactly) or CUDA (checked within noise), is
/// caught at its first made-up result: a new worker's results are all checked, and one check
/// finds a made-up tile but for odds below one in a million (coordinator/src/verify.rs). A
/// render time beyond the lease is caught at every result; inflated less, it would earn
/// nothing, as time is never charged for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_cheater_is_caught_at_its_first_made_up_result() {
    for cheat in Cheat::ALL {
        for backend in ["cpu", "cuda"] {
            let dir = tempfile::tempdir().unwrap();
            let (farm, _, mut tasks) = farm_with_cornell_tiles(dir.path()).await;
            let task = take(&mut tasks).await;
            let other = take(&mut tasks).await;
            let held = lease(&farm, &task, "cheat");
            let mut r = result(
                &task,
                &cheat.pixels(&task, &other),
                task.samples(),
                cheat.render_micros(),
                &held,
            );
            r.worker.device.backend = backend.into();
            r.sign(&held.1);
            farm.handle_result(&r).await.unwrap();
            let record = farm.store().reputation("cheat").unwrap();
            assert!(
                record.blocked.is_some(),
                "{cheat:?} claimed from {backend} was not caught: {record:?}"
            );
        }
    }
}

/// A made-up tile of zeros is what a pixel that misses the scene holds, so a check counts only
/// pixels that show the scene: zeros claimed from the CPU are caught on every tile that shows
/// any of it. The Cornell box's border tiles show it on 9 to 12 of their 16 pixels; when a
/// check took its 4 pixels at random among all 16, 2 % of those black tiles passed, and one
/// round of this test in six failed. It runs 16 rounds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn black_tiles_are_caught_wherever_the_scene_shows() {
    const ROUNDS: usize = 16;
    let mut truths = std::collections::HashMap::new();
    for round in 0..ROUNDS {
        let dir = tempfile::tempdir().unwrap();
        let (farm, _, mut tasks) = farm_with_cornell_tiles(dir.path()).await;
        let mut seen = std::collections::HashSet::new();
        let mut partly_empty = 0;
        // A caught tile is published again; each tile is made up once.
        while seen.len() < 256 {
            let task = take(&mut tasks).await;
            if !seen.insert(task.tile) {
                continue;
            }
            let truth = truths
                .entry(task.tile)
                .or_insert_with(|| true_pixels(&task));
            let black = Pixels::zeroed(task.tile.pixel_count());
            if *truth == black {
                continue;
            }
            if (0..truth.len()).any(|i| truth.get(i).color[3] == 0.0) {
                partly_empty += 1;
            }
            let worker = format!("black-{}", task.task);
            let held = lease(&farm, &task, &worker);
            let r = from_cpu(result(&task, &black, task.samples(), 1, &held), &held);
            farm.handle_result(&r).await.unwrap();
            let record = farm.store().reputation(&worker).unwrap();
            assert!(
                record.blocked.is_some(),
                "round {round}: zeros for tile {} were not caught: {record:?}",
                task.tile
            );
        }
        assert!(
            partly_empty >= 50,
            "{partly_empty} tiles partly empty, not the 60 this test was written for"
        );
    }
}

/// A worker that is honest for its first 10 tasks, while every result is checked, then makes up
/// one result in five (half the samples, claimed from CUDA) is checked one time in three: it
/// escapes its first 20 made-up results with odds (2/3)^20 = 3e-4, and 40 with 9e-8. Over
/// repeated runs every such cheater is caught within 40 made-up results, and the runs' figures
/// are reported beside the formula.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cheater_that_waits_then_cheats_one_time_in_five_is_caught() {
    const RUNS: usize = 30;
    let mut made_up_until_caught = Vec::new();
    for run in 0..RUNS {
        let dir = tempfile::tempdir().unwrap();
        let (farm, _, mut tasks) = farm_with_cornell_tiles(dir.path()).await;
        let mut made_up = 0;
        for n in 0.. {
            assert!(
                n < 256,
                "run {run}: the job ran out of tasks before the cheater was caught"
            );
            let task = take(&mut tasks).await;
            let held = lease(&farm, &task, "cheat");
            // After its 10 honest tasks, every fifth task, as a cheater picking at random would.
            let cheating = n >= 10 && (n * 7 + run) % 5 == 0;
            let truth = true_pixels(&task);
            let pixels = if cheating {
                Cheat::HalfTheSamples.pixels(&task, &task)
            } else {
                truth.clone()
            };
            if pixels != truth {
                made_up += 1;
            }
            farm.handle_result(&result(&task, &pixels, task.samples(), 1, &held))
                .await
                .unwrap();
            if farm.store().reputation("cheat").unwrap().blocked.is_some() {
                break;
            }
        }
        made_up_until_caught.push(made_up);
    }
    made_up_until_caught.sort_unstable();
    let within_20 = made_up_until_caught.iter().filter(|&&m| m <= 20).count();
    eprintln!(
        "made-up results until caught over {RUNS} runs: {made_up_until_caught:?}; caught within 20: \
         {within_20} of {RUNS} (formula: 1 - (2/3)^20 = {:.5})",
        1.0 - (2.0f64 / 3.0).powi(20)
    );
    assert!(made_up_until_caught.iter().all(|&m| (1..=40).contains(&m)));
}
