//! `tessera coordinator`: the farm's coordinator and its HTTP API.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use tessera_coordinator::billing::PriceTable;
use tessera_coordinator::farm::{
    DEFAULT_LEASE_TIMEOUT, DEFAULT_MAX_ATTEMPTS, DEFAULT_QUEUE_TIMEOUT, DEFAULT_TASK_TIMEOUT,
};
use tessera_coordinator::limits::Limits;
use tessera_coordinator::standby::{self, ActiveRole, Waiting};
use tessera_coordinator::store::Location;
use tessera_coordinator::store::database::DEAD_PEER;
use tessera_coordinator::{Farm, FarmConfig, server};
use tessera_transport::AmqpTransport;
use tessera_transport::amqp::DEFAULT_NAMESPACE;

use crate::farm_runtime::{BrokerArgs, StoreArgs, runtime, shutdown_signal};
use crate::stderr::errln;

#[derive(Args)]
pub struct CoordinatorArgs {
    #[command(flatten)]
    broker: BrokerArgs,
    /// Address the HTTP API listens on.
    #[arg(long, default_value = "127.0.0.1:8741")]
    listen: SocketAddr,
    #[command(flatten)]
    store: StoreArgs,
    /// Price table (TOML); the documented defaults when absent.
    #[arg(long, value_name = "FILE")]
    prices: Option<PathBuf>,
    /// Prefix of the farm's queue names.
    #[arg(long, env = "TESSERA_NAMESPACE", default_value = DEFAULT_NAMESPACE)]
    namespace: String,
    /// Attempts a task gets before it is dead-lettered and its job failed (three times as many
    /// while only one worker has failed it).
    #[arg(long, default_value_t = DEFAULT_MAX_ATTEMPTS, value_parser = clap::value_parser!(u32).range(1..))]
    max_attempts: u32,
    /// Seconds a worker may go unheard before its tasks go to another worker.
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_LEASE_TIMEOUT.as_secs(), value_parser = clap::value_parser!(u64).range(1..))]
    lease_timeout: u64,
    /// Seconds a worker may hold a task, heartbeating or not, before it goes to another worker
    /// and that worker claims no more tasks.
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_TASK_TIMEOUT.as_secs(), value_parser = clap::value_parser!(u64).range(1..))]
    task_timeout: u64,
    /// Seconds a published task may wait unclaimed before it is published again (its message
    /// may have been lost to a purged queue or a dishonest consumer).
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_QUEUE_TIMEOUT.as_secs(), value_parser = clap::value_parser!(u64).range(1..))]
    queue_timeout: u64,
    /// Largest scene one submission may upload, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = Limits::default().max_scene_bytes >> 20)]
    max_scene_mib: u64,
    /// Scene storage each tenant may use, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = Limits::default().tenant_scene_quota >> 20)]
    tenant_quota_mib: u64,
}

pub fn run(args: CoordinatorArgs) -> anyhow::Result<()> {
    let max_scene_bytes = mib_to_bytes(args.max_scene_mib, "--max-scene-mib")?;
    let tenant_scene_quota = mib_to_bytes(args.tenant_quota_mib, "--tenant-quota-mib")?;
    let prices = match &args.prices {
        Some(path) => PriceTable::load(path)?,
        None => PriceTable::default(),
    };
    let location = args.store.location()?;
    let store_at = location.to_string();
    // Before the broker: a standby neither consumes nor publishes.
    let role = match &location {
        Location::Postgres(server) => Some(Arc::new(
            ActiveRole::take(server, |why| match why {
                Waiting::StandingBy => errln!(
                    "standing by: another coordinator is active on {store_at}; \
                     taking over when it stops"
                ),
                Waiting::Unreachable(e, again) => errln!(
                    "waiting for the job store ({store_at}): {e}; asking again in {}s",
                    again.as_secs()
                ),
                Waiting::HandingOver(grace) => errln!(
                    "the active coordinator stopped; taking over in {}s",
                    grace.as_secs()
                ),
            })
            .with_context(|| format!("cannot use the job store ({store_at})"))?,
        )),
        Location::Sqlite(_) => None,
    };
    let mut config = FarmConfig::new(&args.store.data, prices);
    config.database = Some(location);
    config.max_attempts = args.max_attempts;
    config.lease_timeout = Duration::from_secs(args.lease_timeout);
    config.task_timeout = Some(Duration::from_secs(args.task_timeout));
    config.queue_timeout = Duration::from_secs(args.queue_timeout);
    config.limits.max_scene_bytes = max_scene_bytes;
    config.limits.tenant_scene_quota = tenant_scene_quota;
    let broker = args.broker.broker()?;
    // The API answers on threads of its own: a poll neither delays a result batch on the
    // farm's threads nor waits behind one.
    let api = tokio::runtime::Builder::new_multi_thread()
        .thread_name("tessera-api")
        .enable_all()
        .build()?;
    let api_threads = api.handle().clone();
    let ran = runtime()?.block_on(async move {
        let shutdown = shutdown_signal()?;
        let mut stop = shutdown.clone();
        let transport = tokio::select! {
            transport = AmqpTransport::connect_when_up(&broker, &args.namespace) => transport?,
            _ = stop.wait_for(|&stopped| stopped) => return Ok(()),
        };
        let farm = Farm::open(config, transport)?;
        // Bound on the API's runtime, whose reactor then wakes its connections.
        let listener = api_threads.spawn(bind(args.listen)).await??;
        errln!(
            "coordinator listening on http://{} (data in {}, store {store_at}, queues '{}.*')",
            listener.local_addr()?,
            args.store.data.display(),
            args.namespace
        );
        let mut api_shutdown = shutdown.clone();
        let server = axum::serve(listener, server::router(farm.clone())).with_graceful_shutdown(
            async move {
                let _ = api_shutdown.wait_for(|&s| s).await;
            },
        );
        let server = api_threads.spawn(async move { server.await });
        tokio::select! {
            run = farm.run(shutdown) => run?,
            () = lost(role.clone()) => anyhow::bail!(
                "lost the active role: the job store ({store_at}) no longer answers, or no \
                 longer knows this coordinator as active; another may be active now"
            ),
        }
        server.await??;
        // Held until the API has answered its last request.
        drop(role);
        Ok(())
    });
    // Outside the farm's runtime: a runtime may not be dropped within another's task.
    drop(api);
    ran
}

/// `mib` MiB in bytes; `flag` names the option in the error when that is past `u64`, where a
/// shift would wrap to a small limit without a word.
fn mib_to_bytes(mib: u64, flag: &str) -> anyhow::Result<u64> {
    mib.checked_mul(1 << 20)
        .with_context(|| format!("{flag} {mib} is too large: at most {} MiB", u64::MAX >> 20))
}

/// Resolves when the active role is lost, or when the store takes longer than
/// [`DEAD_PEER`] to say it is held; never without one (a SQLite store has one coordinator).
async fn lost(role: Option<Arc<ActiveRole>>) {
    let Some(role) = role else {
        return std::future::pending().await;
    };
    loop {
        tokio::time::sleep(standby::CHECK).await;
        let role = role.clone();
        let asked = tokio::task::spawn_blocking(move || role.held());
        match tokio::time::timeout(DEAD_PEER, asked).await {
            Ok(Ok(true)) => {}
            _ => return,
        }
    }
}

/// Binds the API's address. A coordinator taking over on the same host as the one it replaces
/// may find the address still held while that one stops: it waits up to [`BIND_WAIT`] for it.
async fn bind(addr: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    const BIND_WAIT: Duration = Duration::from_secs(15);
    let deadline = tokio::time::Instant::now() + BIND_WAIT;
    let mut said = false;
    loop {
        match tokio::net::TcpListener::bind(addr).await {
            Err(e)
                if e.kind() == std::io::ErrorKind::AddrInUse
                    && tokio::time::Instant::now() < deadline =>
            {
                if !std::mem::replace(&mut said, true) {
                    errln!("waiting for {addr}, which is still in use");
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            bound => return bound.with_context(|| format!("cannot listen on {addr}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mib_to_bytes_refuses_what_would_wrap() {
        assert_eq!(mib_to_bytes(512, "--max-scene-mib").unwrap(), 512 << 20);
        let most = u64::MAX >> 20;
        assert_eq!(mib_to_bytes(most, "--max-scene-mib").unwrap(), most << 20);
        // Shifted, 2^44 MiB would have been a limit of 0 bytes.
        let err = mib_to_bytes(most + 1, "--tenant-quota-mib").unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "--tenant-quota-mib {} is too large: at most {most} MiB",
                most + 1
            )
        );
    }
}
