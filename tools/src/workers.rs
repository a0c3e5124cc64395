//! `tessera workers`: the workers the coordinator has heard from.

use clap::Args;
use tessera_protocol::client::{Client, DEFAULT_COORDINATOR};

#[derive(Args)]
pub struct WorkersArgs {
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// The coordinator's HTTP address.
    #[arg(long, env = "TESSERA_COORDINATOR", default_value = DEFAULT_COORDINATOR)]
    coordinator: String,
}

pub fn run(args: WorkersArgs) -> anyhow::Result<()> {
    let workers = Client::new(&args.coordinator).workers()?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&workers)?);
        return Ok(());
    }
    println!(
        "{:<24} {:<8} {:<8} {:>7} {:>6}  device",
        "name", "backend", "class", "threads", "tasks"
    );
    for w in &workers {
        println!(
            "{:<24} {:<8} {:<8} {:>7} {:>6}  {}",
            w.name, w.backend, w.device_class, w.threads, w.tasks_done, w.device
        );
    }
    Ok(())
}
