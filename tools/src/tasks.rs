//! `tessera tasks`: a job's tasks, with why the failed ones failed.

use clap::Args;
use clap::builder::PossibleValuesParser;
use tessera_protocol::api::TaskState;
use tessera_protocol::id::JobId;

use crate::farm_runtime::ApiArgs;
use crate::stdout::outln;
use crate::terminal::clean;

#[derive(Args)]
pub struct TasksArgs {
    job: JobId,
    /// Only tasks in this state.
    #[arg(long, value_parser = PossibleValuesParser::new(TaskState::ALL.map(TaskState::as_str)))]
    state: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    api: ApiArgs,
}

pub fn run(args: TasksArgs) -> anyhow::Result<()> {
    // The parser took only the states' names.
    let state = args.state.as_deref().and_then(TaskState::from_name);
    let tasks = args.api.client().tasks(args.job, state)?;
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&tasks)?)?;
        return Ok(());
    }
    // As wide as the widest tile (`WxH+X+Y` of a large frame runs past 16 characters).
    let tiles: Vec<String> = tasks.iter().map(|t| clean(&t.tile)).collect();
    let width = tiles
        .iter()
        .map(|t| t.chars().count())
        .max()
        .unwrap_or(0)
        .max(4);
    outln!(
        "{:>8}  {:>6}  {:<width$} {:<8} {:>8}  last error",
        "task",
        "frame",
        "tile",
        "state",
        "attempts"
    )?;
    for (t, tile) in tasks.iter().zip(&tiles) {
        outln!(
            "{:>8}  {:>6}  {:<width$} {:<8} {:>8}  {}",
            t.id.to_string(),
            t.frame,
            tile,
            t.state.as_str(),
            t.attempts,
            t.last_error.as_deref().map(clean).unwrap_or_default()
        )?;
    }
    Ok(())
}
