//! `tessera workers`: the workers the coordinator has heard from; an operator drains one or
//! lets a blocked one back.

use clap::{Args, Subcommand};

use crate::farm_runtime::ApiArgs;
use crate::stderr::errln;
use crate::stdout::outln;
use crate::terminal::clean;

#[derive(Args)]
pub struct WorkersArgs {
    #[command(subcommand)]
    action: Option<WorkerAction>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    api: ApiArgs,
}

#[derive(Subcommand)]
enum WorkerAction {
    /// The worker claims no more tasks; the one it holds may finish.
    Drain { name: String },
    /// A blocked or drained worker may claim tasks again; all its results are checked until it
    /// has passed enough checks in a row, as a new worker's are.
    Readmit { name: String },
}

pub fn run(args: WorkersArgs) -> anyhow::Result<()> {
    let client = args.api.client();
    match args.action {
        Some(WorkerAction::Drain { name }) => {
            client.drain(&name)?;
            errln!("worker {} drained", clean(&name));
            return Ok(());
        }
        Some(WorkerAction::Readmit { name }) => {
            client.readmit(&name)?;
            errln!("worker {} readmitted", clean(&name));
            return Ok(());
        }
        None => {}
    }
    let workers = client.workers()?;
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&workers)?)?;
        return Ok(());
    }
    outln!(
        "{:<24} {:<7} {:<8} {:<8} {:>7} {:>6} {:>8} {:<8} {:>9} {:>8}  device",
        "name",
        "state",
        "backend",
        "class",
        "threads",
        "tasks",
        "checks",
        "checked",
        "uptime",
        "speed"
    )?;
    for w in &workers {
        let state = match (&w.blocked, w.alive) {
            (Some(_), _) => "blocked",
            (None, true) => "alive",
            (None, false) => "gone",
        };
        // How often its results are checked: every one of a new worker's.
        let trust = if w.check_rate >= 1.0 {
            "new".to_owned()
        } else {
            format!("1 in {:.0}", 1.0 / w.check_rate)
        };
        outln!(
            "{:<24} {:<7} {:<8} {:<8} {:>7} {:>6} {:>8} {:<8} {:>9} {:>8}  {}",
            clean(&w.name),
            state,
            clean(&w.backend),
            clean(&w.device_class),
            w.threads,
            w.tasks_done,
            format!("{}/{}", w.checks_passed, w.checks_passed + w.checks_failed),
            trust,
            duration((w.last_seen - w.first_seen).max(0.0)),
            w.throughput.map_or("-".into(), |t| format!("{t:.2}x")),
            clean(&w.device)
        )?;
        if let Some(why) = &w.blocked {
            outln!("{:<24} blocked: {}", "", clean(why))?;
        }
    }
    Ok(())
}

/// `90 s`, `12 min`, `3.5 h`, `2.0 d`.
fn duration(seconds: f64) -> String {
    match seconds {
        s if s < 120.0 => format!("{s:.0} s"),
        s if s < 7200.0 => format!("{:.0} min", s / 60.0),
        s if s < 172_800.0 => format!("{:.1} h", s / 3600.0),
        s => format!("{:.1} d", s / 86400.0),
    }
}
