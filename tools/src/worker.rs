//! `tessera worker`: renders tasks from the farm's queue.

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use tessera_protocol::client::{Client, DEFAULT_COORDINATOR};
use tessera_protocol::scene::SceneStore;
use tessera_renderer::backend::{self, BackendChoice};
use tessera_transport::AmqpTransport;
use tessera_transport::amqp::DEFAULT_NAMESPACE;
use tessera_worker::{HttpSceneSource, TileRenderer, run_worker};

use crate::farm_runtime::{BrokerArgs, runtime, shutdown_signal};

#[derive(Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    broker: BrokerArgs,
    /// The coordinator's HTTP address (scenes come from there).
    #[arg(long, env = "TESSERA_COORDINATOR", default_value = DEFAULT_COORDINATOR)]
    coordinator: String,
    /// This worker's name in logs, the workers list and the ledger [default: host-pid].
    #[arg(long)]
    name: Option<String>,
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
}

fn default_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "worker".into());
    format!("{host}-{}", std::process::id())
}

pub fn run(args: WorkerArgs) -> anyhow::Result<()> {
    let fail_frames = TileRenderer::fail_frames_from_env().map_err(anyhow::Error::msg)?;
    let backend = backend::select(args.backend, args.threads.map(NonZeroUsize::get))?;
    let renderer = Arc::new(TileRenderer::new(backend, fail_frames));
    let cache_dir = args
        .cache
        .unwrap_or_else(|| std::env::temp_dir().join("tessera-scene-cache"));
    let cache = SceneStore::open(&cache_dir)?;
    let source = Arc::new(HttpSceneSource::new(Client::new(&args.coordinator), cache));
    let name = args.name.unwrap_or_else(default_name);
    let broker = args.broker.broker()?;
    runtime()?.block_on(async move {
        let shutdown = shutdown_signal()?;
        let transport = AmqpTransport::connect(&broker, &args.namespace).await?;
        run_worker(&transport, &name, renderer, source, shutdown).await?;
        transport.close().await;
        Ok(())
    })
}
