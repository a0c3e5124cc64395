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
        "{:<24} {:<6} {:<8} {:<8} {:>7} {:>6} {:>8}  device",
        "name", "state", "backend", "class", "threads", "tasks", "checks"
    );
    for w in &workers {
        let state = match (&w.blocked, w.alive) {
            (Some(_), _) => "blocked",
            (None, true) => "alive",
            (None, false) => "gone",
        };
        println!(
            "{:<24} {:<6} {:<8} {:<8} {:>7} {:>6} {:>8}  {}",
            clean(&w.name),
            state,
            clean(&w.backend),
            clean(&w.device_class),
            w.threads,
            w.tasks_done,
            format!("{}/{}", w.checks_passed, w.checks_passed + w.checks_failed),
            clean(&w.device)
        );
        if let Some(why) = &w.blocked {
            println!("{:<24} blocked: {}", "", clean(why));
        }
    }
    Ok(())
}
