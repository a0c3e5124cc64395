//! `tessera cancel`: stops a job; its remaining tasks are skipped.

use clap::Args;
use tessera_protocol::client::{Client, DEFAULT_COORDINATOR};
use tessera_protocol::id::JobId;

#[derive(Args)]
pub struct CancelArgs {
    job: JobId,
    /// The coordinator's HTTP address.
    #[arg(long, env = "TESSERA_COORDINATOR", default_value = DEFAULT_COORDINATOR)]
    coordinator: String,
}

pub fn run(args: CancelArgs) -> anyhow::Result<()> {
    Client::new(&args.coordinator).cancel(args.job)?;
    eprintln!("job {} cancelled", args.job);
    Ok(())
}
