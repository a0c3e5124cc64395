//! The coordinator and two one-thread workers in one process over the in-process transport: the
//! frames equal `tessera render`'s (one worker, two threads), bit for bit, and every task is
//! billed once.

mod farm;

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tessera_coordinator::billing::{self, PriceTable};
use tessera_coordinator::{Farm, FarmConfig, Submission};
use tessera_protocol::api::JobState;
use tessera_protocol::device::Device;
use tessera_protocol::id::JobId;
use tessera_protocol::job::{JobOptions, SizeRequest};
use tessera_protocol::pixels::EncodedPixels;
use tessera_protocol::result::{Outcome, ResultMessage, WorkerInfo};
use tessera_protocol::scene::{SceneHash, archive};
use tessera_protocol::task::TaskMessage;
use tessera_renderer::backend::cpu::CpuBackend;
use tessera_renderer::film::Pixels;
use tessera_renderer::settings::{MaxDepth, RenderSettings, Spp};
use tessera_transport::{InProcessTransport, Inbox, Transport, TransportError};
use tessera_worker::{SceneSource, TileRenderer, run_worker};

/// Workers read scenes and job states straight from the farm in this process.
struct FarmScenes(Arc<Farm<InProcessTransport>>);

impl SceneSource for FarmScenes {
    fn scene_path(&self, hash: SceneHash) -> Result<PathBuf, String> {
        self.0.scene_file(hash).map_err(|e| e.to_string())
    }
    fn job_is_running(&self, job: JobId) -> bool {
        self.0.job_is_running(job)
    }
    fn announce(&self, worker: &WorkerInfo) {
        self.0.store().announce_worker(worker).unwrap();
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
) -> tokio::task::JoinHandle<Result<(), TransportError>> {
    let renderer = Arc::new(TileRenderer::new(
        Box::new(CpuBackend::new(Some(1)).unwrap()),
        Vec::new(),
    ));
    let source: Arc<dyn SceneSource> = Arc::new(FarmScenes(farm.clone()));
    let transport = transport.clone();
    tokio::spawn(async move { run_worker(&transport, name, renderer, source, shutdown).await })
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
    let workers: Vec<_> = ["a", "b"]
        .into_iter()
        .map(|name| spawn_cpu_worker(&farm, &transport, name, shutdown.clone()))
        .collect();
    let job = farm
        .submit(Submission {
            scene_name: "turntable.gltf".into(),
            scene: std::fs::read(&scene).unwrap(),
            options: options.clone(),
            priority: 0,
        })
        .await
        .unwrap();
    assert_eq!(wait_finished(&farm, job).await, JobState::Done);
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
    let packed = archive::pack(&gltf, &json, &files).unwrap();
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
    let submission = |scene: Vec<u8>| Submission {
        scene_name: "cornell.gltf.tar".into(),
        scene,
        options: options.clone(),
        priority: 0,
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
    assert!(farm.store().jobs().unwrap().is_empty());

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
        scene: std::fs::read(scene("cornell-box.gltf")).unwrap(),
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
    }
}

/// A farm whose tiles cannot be stored (here `tiles` is a file, which stops root too) stops
/// with the error after its retries, as `tessera render` configures it, instead of waiting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_farm_that_cannot_store_tiles_gives_up_after_its_retries() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut config = FarmConfig::new(&data, PriceTable::default());
    config.record_retries = Some(1);
    let transport = InProcessTransport::new();
    let farm = Farm::open(config, transport.clone()).unwrap();
    std::fs::write(data.join("tiles"), b"not a folder").unwrap();
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    let runner = tokio::spawn(farm.clone().run(shutdown.clone()));
    spawn_cpu_worker(&farm, &transport, "w", shutdown);
    farm.submit(one_tile_of_cornell(8, 1)).await.unwrap();
    let stopped = tokio::time::timeout(Duration::from_secs(60), runner)
        .await
        .expect("the farm gives up within 60 s")
        .unwrap();
    let err = stopped.expect_err("the farm stops with the error");
    assert!(err.to_string().contains("tiles"), "{err}");
}

/// A farm with no worker, the one-tile Cornell job submitted, and an inbox to take its task as
/// a worker would.
async fn farm_with_one_tile_job(
    dir: &Path,
) -> (
    Arc<Farm<InProcessTransport>>,
    JobId,
    <InProcessTransport as Transport>::Tasks,
) {
    let transport = InProcessTransport::new();
    let farm = Farm::open(
        FarmConfig::new(dir.join("data"), PriceTable::default()),
        transport.clone(),
    )
    .unwrap();
    let tasks = transport.consume_tasks(1).await.unwrap();
    let job = farm.submit(one_tile_of_cornell(4, 2)).await.unwrap();
    (farm, job, tasks)
}

/// The next task from `tasks`, acknowledged.
async fn take(tasks: &mut <InProcessTransport as Transport>::Tasks) -> TaskMessage {
    let delivery = tokio::time::timeout(Duration::from_secs(10), tasks.next())
        .await
        .expect("the task is sent")
        .unwrap();
    let task = delivery.message.clone();
    delivery.ack().await.unwrap();
    task
}

/// A result for `task` from the worker "mallory", whatever it says.
fn forged(task: &TaskMessage, pixels: &Pixels, samples: u64, render_micros: u64) -> ResultMessage {
    ResultMessage {
        task: task.task,
        job: task.job,
        frame: task.frame,
        tile: task.tile,
        attempt: task.attempt,
        worker: WorkerInfo {
            name: "mallory".into(),
            device: Device {
                backend: "cpu".into(),
                name: "cpu".into(),
                class: "cpu".into(),
                threads: 1,
            },
        },
        outcome: Outcome::Rendered {
            render_micros,
            samples,
            pixels: EncodedPixels::encode(pixels),
        },
    }
}

/// Results a path tracer could not have produced (alpha above 1, a negative radiance, a wrong
/// sample count) are refused: nothing is billed, and the task goes out again for its next attempt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn implausible_results_are_refused_and_the_task_sent_again() {
    let dir = tempfile::tempdir().unwrap();
    let (farm, job, mut tasks) = farm_with_one_tile_job(dir.path()).await;
    let mut alpha = Pixels::zeroed(16);
    alpha.color[5][3] = 1.5;
    let mut negative = Pixels::zeroed(16);
    negative.color[0][0] = -1.0;
    for (attempt, (pixels, samples)) in [(alpha, 32), (negative, 32), (Pixels::zeroed(16), 31)]
        .into_iter()
        .enumerate()
    {
        let task = take(&mut tasks).await;
        assert_eq!(task.attempt as usize, attempt + 1);
        farm.handle_result(&forged(&task, &pixels, samples, 1_000_000))
            .await
            .unwrap();
        assert!(
            farm.store().ledger(job).unwrap().is_empty(),
            "nothing billed"
        );
    }
    // The third refusal was the task's last attempt.
    let record = farm.job(job).unwrap();
    assert_eq!(record.state, JobState::Failed);
    let reason = record.reason.unwrap();
    assert!(
        reason.contains("mallory") && reason.contains("samples"),
        "{reason}"
    );
}

/// A worker claiming an hour for a task it was handed moments ago is billed for the moments:
/// no attempt can have rendered for longer than the task has been out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_cannot_bill_more_time_than_its_task_was_out() {
    let dir = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let (farm, job, mut tasks) = farm_with_one_tile_job(dir.path()).await;
    let task = take(&mut tasks).await;
    let hour = 3_600_000_000;
    farm.handle_result(&forged(&task, &Pixels::zeroed(16), 32, hour))
        .await
        .unwrap();
    let out = started.elapsed().as_micros() as u64;
    let ledger = farm.store().ledger(job).unwrap();
    assert_eq!(ledger.len(), 1, "the result is accepted");
    let row = &ledger[0];
    assert!(
        row.render_micros <= out,
        "billed {} µs of render time for a task out {out} µs",
        row.render_micros
    );
    assert_eq!(row.charge, billing::charge(row.hourly, row.render_micros));
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
