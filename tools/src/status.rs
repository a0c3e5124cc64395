//! `tessera status`: jobs and their progress.

use clap::Args;
use tessera_protocol::api::{JOBS_PAGE_DEFAULT, JOBS_PAGE_MAX};
use tessera_protocol::id::JobId;

use crate::farm_runtime::ApiArgs;
use crate::stdout::outln;
use crate::terminal::clean;

#[derive(Args)]
pub struct StatusArgs {
    /// One job, with per-frame progress [default: the newest jobs].
    job: Option<JobId>,
    /// How many of the newest jobs to list (1 to 1000).
    #[arg(
        long,
        default_value_t = JOBS_PAGE_DEFAULT,
        value_parser = clap::value_parser!(u32).range(1..=i64::from(JOBS_PAGE_MAX)),
        conflicts_with = "job"
    )]
    limit: u32,
    /// List only jobs older than this one.
    #[arg(long, conflicts_with = "job")]
    before: Option<JobId>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    api: ApiArgs,
}

pub fn run(args: StatusArgs) -> anyhow::Result<()> {
    let client = args.api.client();
    let (jobs, more) = match args.job {
        Some(id) => (vec![client.job(id)?], false),
        None => {
            let page = client.jobs(args.limit, args.before)?;
            (page.jobs, page.more)
        }
    };
    if args.json {
        let value = match args.job {
            Some(_) => serde_json::to_value(&jobs[0])?,
            None => serde_json::to_value(&jobs)?,
        };
        outln!("{}", serde_json::to_string_pretty(&value)?)?;
        return Ok(());
    }
    outln!(
        "{:>5}  {:<10} {:>11}  {:<9} {:>14} {:>14}  scene",
        "job",
        "state",
        "tiles",
        "frames",
        "cost",
        "quote"
    )?;
    for j in &jobs {
        outln!(
            "{:>5}  {:<10} {:>5}/{:<5}  {:<9} {:>14} {:>14}  {}",
            j.id.to_string(),
            j.state.as_str(),
            j.tasks_done,
            j.tasks_total,
            clean(&j.frames),
            j.cost.to_string(),
            j.quote
                .as_ref()
                .map_or_else(|| "-".to_owned(), |q| q.cost.to_string()),
            clean(&j.scene_name)
        )?;
        if let Some(reason) = &j.reason {
            outln!("       reason: {}", clean(reason))?;
        }
    }
    if more && let Some(oldest) = jobs.last() {
        outln!("older jobs follow: tessera status --before {}", oldest.id)?;
    }
    if args.job.is_some() {
        for f in &jobs[0].frame_progress {
            outln!(
                "       frame {:>5}: {}/{} tiles{}",
                f.frame,
                f.tiles_done,
                f.tiles_total,
                if f.written { ", written" } else { "" }
            )?;
        }
    }
    Ok(())
}
