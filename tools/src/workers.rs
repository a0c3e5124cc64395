//! `tessera workers`: the workers the coordinator has heard from.

use clap::Args;

use crate::farm_runtime::ApiArgs;
use crate::terminal::clean;

#[derive(Args)]
pub struct WorkersArgs {
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    api: ApiArgs,
}

pub fn run(args: WorkersArgs) -> anyhow::Result<()> {
    let workers = args.api.client().workers()?;
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
            clean(&w.name),
            clean(&w.backend),
            clean(&w.device_class),
            w.threads,
            w.tasks_done,
            clean(&w.device)
        );
    }
    Ok(())
}
