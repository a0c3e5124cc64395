//! What the farm commands share: how they reach RabbitMQ and the coordinator's API, the async
//! runtime and turning SIGINT/SIGTERM into a shutdown signal.

use std::path::PathBuf;

use clap::Args;
use tessera_protocol::client::{Client, DEFAULT_COORDINATOR};
use tessera_transport::Broker;
use tessera_transport::amqp::DEFAULT_AMQP_URL;
use tokio::sync::watch;

#[derive(Args)]
pub struct BrokerArgs {
    /// RabbitMQ URL: amqp://, or amqps:// for TLS.
    #[arg(long, env = "TESSERA_AMQP_URL", default_value = DEFAULT_AMQP_URL)]
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

#[derive(Args)]
pub struct ApiArgs {
    /// The coordinator's HTTP address.
    #[arg(long, env = "TESSERA_COORDINATOR", default_value = DEFAULT_COORDINATOR)]
    coordinator: String,
    /// API token (`tessera token create` prints one).
    #[arg(long, env = "TESSERA_TOKEN", hide_env_values = true)]
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

/// A receiver that turns true on the first SIGINT or SIGTERM.
pub fn shutdown_signal() -> anyhow::Result<watch::Receiver<bool>> {
    use tokio::signal::unix::{SignalKind, signal};
    let (tx, rx) = watch::channel(false);
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        tracing::info!("shutting down: finishing the task in hand");
        let _ = tx.send(true);
    });
    Ok(rx)
}
