//! `tessera worker`: renders tasks from the farm's queue.

use std::net::SocketAddr;
use std::num::{NonZeroU16, NonZeroUsize};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use tessera_protocol::scene::SceneStore;
use tessera_renderer::backend::{self, BackendChoice};
use tessera_transport::AmqpTransport;
use tessera_transport::amqp::DEFAULT_NAMESPACE;
use tessera_worker::{
    DEFAULT_HEARTBEAT, Faults, HttpLink, Pace, TileRenderer, WorkerMetrics, run_worker,
};

use crate::farm_runtime::{ApiArgs, BrokerArgs, runtime, shutdown_signal};

#[derive(Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    broker: BrokerArgs,
    /// The coordinator (tasks are claimed and scenes fetched there) and this worker's token,
    /// whose name, device class and threads the farm knows it by and pays it for.
    #[command(flatten)]
    api: ApiArgs,
    /// How often to tell the coordinator this worker is alive, in seconds; a worker unheard for
    /// the coordinator's --lease-timeout loses its tasks.
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_HEARTBEAT.as_secs_f64())]
    heartbeat: f64,
    /// Tasks held at once: more than one overlaps claiming and sending with rendering, for
    /// tasks of milliseconds; one leaves the rest to idle workers, for tasks of minutes.
    #[arg(long, value_name = "N", default_value_t = Pace::default().tasks_in_hand.get(), value_parser = clap::value_parser!(u16).range(1..=64))]
    tasks_in_hand: u16,
    /// CPU threads [default: all cores].
    #[arg(long)]
    threads: Option<NonZeroUsize>,
    /// Where to render, as for `tessera render`: cpu, auto (CUDA, else a hardware GPU through
    /// wgpu, else the CPU), wgpu or cuda. Results are billed by the device's class.
    #[arg(long, value_name = "B", default_value = "cpu")]
    backend: BackendChoice,
    /// Prefix of the farm's queue names.
    #[arg(long, env = "TESSERA_NAMESPACE", default_value = DEFAULT_NAMESPACE)]
    namespace: String,
    /// Scene cache folder [default: tessera-scene-cache in the temporary folder].
    #[arg(long, value_name = "DIR")]
    cache: Option<PathBuf>,
    /// Most the scene cache holds, in GiB: past it, the scenes unused for longest are deleted
    /// (those used in the last hour stay).
    #[arg(long, value_name = "GIB", default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=1 << 20))]
    cache_gib: u64,
    /// Serve this worker's metrics at http://ADDR/metrics, in Prometheus' text format.
    #[arg(long, value_name = "ADDR")]
    metrics: Option<SocketAddr>,
    /// Scheduling priority to render at, from 0 (as everything else) to 19 (only when nothing
    /// else wants the CPU), as `nice`: whoever uses the machine, and a coordinator or broker on
    /// it, come first. On a machine that only renders it changes nothing.
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(i32).range(0..=19))]
    nice: i32,
}

/// Lowers this process's priority to `nice` before any of its threads start: they inherit it
/// (on Linux a thread's priority is its own).
fn lower_priority(nice: i32) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        // SAFETY: setpriority takes plain integers and touches no memory of ours.
        if unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nice) } != 0 {
            anyhow::bail!("--nice {nice}: {}", std::io::Error::last_os_error());
        }
    }
    #[cfg(not(unix))]
    let _ = nice;
    Ok(())
}

/// This process in its own logs; the farm knows it by its token.
fn log_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "worker".into());
    format!("{host}-{}", std::process::id())
}

pub fn run(args: WorkerArgs) -> anyhow::Result<()> {
    lower_priority(args.nice)?;
    let faults = Faults::from_env().map_err(anyhow::Error::msg)?;
    let backend = backend::select(args.backend, args.threads.map(NonZeroUsize::get))?;
    let renderer = Arc::new(TileRenderer::new(backend, faults));
    let cache_dir = args
        .cache
        .unwrap_or_else(|| std::env::temp_dir().join("tessera-scene-cache"));
    let cache = SceneStore::open(&cache_dir)?;
    let link = Arc::new(HttpLink::new(
        args.api.client(),
        cache,
        args.cache_gib << 30,
    ));
    let name = log_name();
    let heartbeat = Duration::try_from_secs_f64(args.heartbeat)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| anyhow::anyhow!("--heartbeat must be a positive number of seconds"))?;
    let broker = args.broker.broker()?.finding_queues();
    runtime()?.block_on(async move {
        let shutdown = shutdown_signal()?;
        let mut stop = shutdown.clone();
        let metrics = Arc::new(WorkerMetrics::default());
        if let Some(addr) = args.metrics {
            serve_metrics(addr, metrics.clone()).await?;
        }
        let transport = tokio::select! {
            transport = AmqpTransport::connect_when_up(&broker, &args.namespace) => transport?,
            _ = stop.wait_for(|&stopped| stopped) => return Ok(()),
        };
        let pace = Pace {
            heartbeat,
            tasks_in_hand: NonZeroU16::new(args.tasks_in_hand).unwrap_or(NonZeroU16::MIN),
        };
        run_worker(&transport, &name, renderer, link, pace, metrics, shutdown).await?;
        transport.close().await;
        Ok(())
    })
}

/// `GET /metrics` on `addr`, in the background, for as long as the worker runs.
async fn serve_metrics(addr: SocketAddr, metrics: Arc<WorkerMetrics>) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot serve metrics on {addr}: {e}"))?;
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || async move {
            (
                [(
                    axum::http::header::CONTENT_TYPE,
                    tessera_protocol::metrics::CONTENT_TYPE,
                )],
                metrics.exposition(),
            )
        }),
    );
    tracing::info!(%addr, "serving metrics at /metrics");
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::warn!(error = %e, "metrics server stopped");
        }
    });
    Ok(())
}
