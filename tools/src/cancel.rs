//! `tessera cancel`: stops a job; its remaining tasks are skipped.

use clap::Args;
use tessera_protocol::id::JobId;

use crate::farm_runtime::ApiArgs;
use crate::stderr::errln;

#[derive(Args)]
pub struct CancelArgs {
    job: JobId,
    #[command(flatten)]
    api: ApiArgs,
}

pub fn run(args: CancelArgs) -> anyhow::Result<()> {
    args.api.client().cancel(args.job)?;
    errln!("job {} cancelled", args.job);
    Ok(())
}
