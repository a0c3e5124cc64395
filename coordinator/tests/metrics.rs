//! `/metrics`, read by a Prometheus text-format parser, moves as a job runs.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tessera_coordinator::billing::PriceTable;
use tessera_coordinator::store::Principal;
use tessera_coordinator::{Farm, FarmConfig, Submission, server};
use tessera_protocol::auth::{NewToken, Role};
use tessera_protocol::job::{JobOptions, SizeRequest};
use tessera_protocol::lease::{Claim, TaskAttempt};
use tessera_protocol::pixels::EncodedPixels;
use tessera_protocol::result::{Outcome, ResultMessage};
use tessera_renderer::film::Pixels;
use tessera_renderer::settings::{MaxDepth, RenderSettings, Spp};
use tessera_transport::{InProcessTransport, Inbox, Transport};
use tower::ServiceExt;

/// Every sample as `name{label="value"}` → value; a histogram's value is its count.
async fn scrape(router: &axum::Router, token: &str) -> HashMap<String, f64> {
    let request = Request::builder()
        .uri("/metrics")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    let parsed = prometheus_parse::Scrape::parse(lines).expect("Prometheus text format");
    parsed
        .samples
        .into_iter()
        .map(|s| {
            let labels: Vec<String> = s
                .labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{v}\""))
                .collect();
            let value = match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                prometheus_parse::Value::Histogram(buckets) => {
                    buckets.iter().map(|b| b.count).fold(0.0, f64::max)
                }
                other => panic!("unexpected {other:?}"),
            };
            (format!("{}{{{}}}", s.metric, labels.join(",")), value)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_move_as_a_job_runs() {
    let dir = tempfile::tempdir().unwrap();
    let transport = InProcessTransport::new();
    let mut config = FarmConfig::new(dir.path().join("data"), PriceTable::default());
    // The made-up black results below are about counting, not about pixels.
    config.spot_checks = false;
    // Its two tasks taken one by one.
    config.samples_a_message = 0;
    let farm = Farm::open(config, transport.clone()).unwrap();
    let router = server::router(farm.clone());
    let admin = farm
        .store()
        .issue_token(&NewToken {
            role: Role::Admin,
            tenant: None,
            name: "ops".into(),
            device_class: None,
            threads: None,
            verified: false,
        })
        .unwrap()
        .1;
    let mut tasks = transport.consume_tasks(1).await.unwrap();
    let job = farm
        .submit(Submission {
            scene_name: "cornell.gltf".into(),
            scene: PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../scenes/cornell-box.gltf"
            )),
            options: JobOptions {
                size: SizeRequest::from_sides(Some(8), Some(4)).unwrap(),
                settings: RenderSettings {
                    spp: Spp::new(1).unwrap(),
                    max_depth: MaxDepth::new(2).unwrap(),
                    seed: 0,
                },
                tile_size: NonZeroU32::new(4).unwrap(),
                ..JobOptions::default()
            },
            priority: 0,
            tenant: "a".into(),
            max_cost: None,
            trust: Default::default(),
        })
        .await
        .unwrap();
    let before = scrape(&router, &admin).await;
    assert_eq!(before["tessera_jobs{state=\"running\"}"], 1.0);
    assert_eq!(before["tessera_tasks{state=\"queued\"}"], 2.0);
    assert_eq!(before["tessera_queue_depth{}"], 2.0);
    assert_eq!(before["tessera_tiles_per_second{}"], 0.0);
    assert!(!before.contains_key("tessera_tasks_accepted_total{class=\"h100\"}"));

    let worker = Principal::Worker {
        name: "gpu-1".into(),
        device_class: "h100".into(),
        threads: 1,
        verified: false,
    };
    for _ in 0..2 {
        let delivery = tokio::time::timeout(Duration::from_secs(10), tasks.next())
            .await
            .unwrap()
            .unwrap();
        let [task] = delivery.message.tasks() else {
            panic!("one task a message expected")
        };
        let task = task.clone();
        delivery.ack().await.unwrap();
        let attempt = TaskAttempt {
            task: task.task,
            attempt: task.attempt,
        };
        let Some(Claim::Render { lease, key, .. }) = farm.claim(&worker, &[attempt]).unwrap().pop()
        else {
            panic!("claim refused")
        };
        let worker_info = serde_json::from_value(serde_json::json!({
            "name": "gpu-1",
            "device": {"backend": "cuda", "name": "NVIDIA H100", "class": "h100", "threads": 1}
        }))
        .unwrap();
        let outcome = Outcome::Rendered {
            render_micros: 1,
            samples: task.samples(),
            pixels: EncodedPixels::encode(&Pixels::zeroed(16)),
        };
        let result = ResultMessage::signed(&task, worker_info, outcome, lease.clone(), &key);
        tokio::time::sleep(Duration::from_millis(20)).await;
        farm.handle_result(&result).await.unwrap();
        // Replayed: refused, and counted.
        farm.handle_result(&result).await.unwrap();
    }
    let after = scrape(&router, &admin).await;
    assert_eq!(after["tessera_jobs{state=\"done\"}"], 1.0);
    assert_eq!(after["tessera_tasks{state=\"done\"}"], 2.0);
    assert_eq!(after["tessera_tasks_accepted_total{class=\"h100\"}"], 2.0);
    assert_eq!(
        after["tessera_results_refused_total{reason=\"lease no longer active\"}"],
        2.0
    );
    let billed = after["tessera_billed_micro_usd_total{class=\"h100\"}"];
    let invoice = farm.store().invoice_total(job).unwrap().micros() as f64;
    assert_eq!(billed, invoice);
    assert_eq!(after["tessera_leases_active{}"], 0.0);
    assert_eq!(after["tessera_queue_depth{}"], 0.0);
    assert_eq!(after["tessera_tiles_per_second{}"], 2.0 / 60.0);
    assert_eq!(after["tessera_task_latency_seconds{}"], 2.0);
    assert_eq!(after["tessera_task_render_seconds{class=\"h100\"}"], 2.0);
    // The first scrape was measured by the time the second ran.
    assert!(after["tessera_api_request_duration_seconds{route=\"/metrics\"}"] >= 1.0);
}
