//! `tessera devices`: every backend and device this machine offers, with the class the ledger
//! bills it by, and why a backend has none.

use clap::Args;
use tessera_protocol::device::Device;
use tessera_renderer::backend::list_devices;

use crate::stdout::outln;

#[derive(Args)]
pub struct DevicesArgs {
    /// Print JSON on stdout instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: DevicesArgs) -> anyhow::Result<()> {
    let listing = list_devices();
    if args.json {
        let entries: Vec<serde_json::Value> = listing
            .iter()
            .map(|l| {
                serde_json::json!({
                    "backend": l.backend,
                    "device": l.device.as_ref().map(Device::of),
                    "note": l.note,
                })
            })
            .collect();
        outln!("{}", serde_json::to_string_pretty(&entries)?)?;
        return Ok(());
    }
    outln!("{:<7} {:<10} {:<40} NOTE", "BACKEND", "CLASS", "DEVICE")?;
    for l in &listing {
        match l.device.as_ref().map(Device::of) {
            Some(d) => outln!("{:<7} {:<10} {:<40} {}", l.backend, d.class, d.name, l.note)?,
            None => outln!("{:<7} {:<10} {:<40} {}", l.backend, "-", "(none)", l.note)?,
        }
    }
    Ok(())
}
