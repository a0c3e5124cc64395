//! What the farm commands share: how they reach RabbitMQ and the coordinator's API, the async
//! runtime and turning SIGINT/SIGTERM into a shutdown signal.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use tessera_coordinator::store::{Location, Store};
use tessera_protocol::client::{Client, DEFAULT_COORDINATOR};
use tessera_renderer::output::Durability;
use tessera_transport::Broker;
use tessera_transport::amqp::DEFAULT_AMQP_URL;
use tokio::sync::watch;

use crate::stderr::errln;

#[derive(Args)]
pub struct BrokerArgs {
    /// RabbitMQ URL: amqp://, or amqps:// for TLS.
    // The environment's URL may hold a password: --help must not show it.
    #[arg(
        long,
        env = "TESSERA_AMQP_URL",
        hide_env_values = true,
        default_value = DEFAULT_AMQP_URL
    )]
    amqp: String,
    /// Certificate authorities (PEM) to trust for an amqps:// broker, besides the system's.
    #[arg(long, env = "TESSERA_AMQP_CA", value_name = "FILE")]
    amqp_ca: Option<PathBuf>,
}

impl BrokerArgs {
    pub fn broker(&self) -> anyhow::Result<Broker> {
        let broker = Broker::new(&self.amqp);
        Ok(match &self.amqp_ca {
            Some(path) => broker.with_ca_file(path)?,
            None => broker,
        })
    }
}

/// Where the coordinator keeps what it knows.
#[derive(Args)]
pub struct StoreArgs {
    /// Data directory: scenes, frames and, without --database, the job store. Coordinators
    /// sharing a PostgreSQL store share this directory too (NFS or the like across hosts).
    #[arg(long, default_value = "./tessera-data")]
    pub data: PathBuf,
    /// The job store and ledger in PostgreSQL (postgres://user@host/database) instead of the
    /// data directory's SQLite file. Several coordinators may share it: one is active, the
    /// others stand by and take over when it stops.
    #[arg(
        long,
        env = "TESSERA_DATABASE",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database: Option<String>,
}

impl StoreArgs {
    /// The store's database: `--database`, else the data directory's `farm.db`. Parsed here
    /// rather than by clap, whose error would repeat the URL, password and all.
    pub fn location(&self) -> anyhow::Result<Location> {
        Ok(match &self.database {
            Some(given) => Location::parse(given).context("--database")?,
            None => Location::Sqlite(self.data.join("farm.db")),
        })
    }

    /// Opens the store, creating the data directory if need be.
    pub fn open(&self) -> anyhow::Result<Store> {
        let location = self.location()?;
        std::fs::create_dir_all(&self.data)?;
        Ok(Store::open_at(&location, Durability::CrashSafe)?)
    }
}

#[derive(Args)]
pub struct ApiArgs {
    /// The coordinator's HTTP address.
    // Global: `tessera workers --token T drain NAME` and `... drain NAME --token T` both work.
    // Its value is hidden from --help: a URL may hold a password (http://user:pass@host).
    #[arg(
        long,
        env = "TESSERA_COORDINATOR",
        hide_env_values = true,
        default_value = DEFAULT_COORDINATOR,
        global = true
    )]
    coordinator: String,
    /// API token (`tessera token create` prints one).
    #[arg(long, env = "TESSERA_TOKEN", hide_env_values = true, global = true)]
    token: Option<String>,
}

impl ApiArgs {
    pub fn client(&self) -> Client {
        Client::new(&self.coordinator, self.token.as_deref())
    }
}

pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// A second stop signal sooner than this after the first is the same request, delivered twice.
const SECOND_SIGNAL_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

/// A receiver that turns true on the first SIGINT or SIGTERM, which says so: the work in hand
/// (a tile may take minutes) is finished or given back first. A second signal ends the process
/// at once, with status 130. Needs a runtime's context.
pub fn shutdown_signal() -> std::io::Result<watch::Receiver<bool>> {
    use tokio::signal::unix::{SignalKind, signal};
    let (tx, rx) = watch::channel(false);
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::spawn(async move {
        let mut first: Option<std::time::Instant> = None;
        loop {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            match first {
                None => {
                    errln!(
                        "stopping: finishing the work in hand (interrupt again to stop at once)"
                    );
                    first = Some(std::time::Instant::now());
                    let _ = tx.send(true);
                }
                // One stop sent twice (a terminal's Ctrl-C and a wrapper forwarding it to the
                // process group; systemd's SIGTERM after an ExecStop's SIGINT) is one request.
                Some(at) if at.elapsed() < SECOND_SIGNAL_AFTER => {}
                Some(_) => {
                    errln!("error: interrupted again: stopped at once");
                    std::process::exit(130);
                }
            }
        }
    });
    Ok(rx)
}
