//! `tessera bill`: a job's invoice, one row per accepted result: the render time its worker
//! reported, and the work it is charged for at the job's price of an hour of that work; then
//! one row per charge reversed.

use clap::{Args, ValueEnum};
use tessera_protocol::id::JobId;
use tessera_protocol::money::Money;

use crate::farm_runtime::ApiArgs;
use crate::stdout::outln;
use crate::terminal::clean;

#[derive(Clone, Copy, ValueEnum)]
enum BillFormat {
    Table,
    Csv,
    Json,
}

#[derive(Args)]
pub struct BillArgs {
    job: JobId,
    #[arg(long, value_enum, default_value = "table")]
    format: BillFormat,
    #[command(flatten)]
    api: ApiArgs,
}

pub fn run(args: BillArgs) -> anyhow::Result<()> {
    let invoice = args.api.client().invoice(args.job)?;
    match args.format {
        BillFormat::Json => {
            let rows: Vec<serde_json::Value> = invoice
                .rows
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "task": r.task,
                        "frame": r.frame,
                        "tile": r.tile,
                        "worker": r.worker,
                        "device_class": r.device_class,
                        "threads": r.threads,
                        "seconds": r.render_micros as f64 / 1e6,
                        "render_micros": r.render_micros,
                        "samples": r.samples,
                        "work_seconds": r.work_micros as f64 / 1e6,
                        "work_micros": r.work_micros,
                        "hourly_micros": r.hourly,
                        "charge_micros": r.charge,
                        "charge": r.charge.to_string(),
                    })
                })
                .collect();
            let out = serde_json::json!({
                "job": invoice.job,
                "rows": rows,
                "reversals": invoice.reversals,
                "total_micros": invoice.total,
                "total": invoice.total.to_string(),
            });
            outln!("{}", serde_json::to_string_pretty(&out)?)?;
        }
        BillFormat::Csv => {
            outln!(
                "task,frame,tile,worker,device_class,threads,seconds,samples,work_seconds,charge_usd"
            )?;
            for r in &invoice.rows {
                outln!(
                    "{},{},{},{},{},{},{:.6},{},{:.6},{}",
                    r.task,
                    r.frame,
                    r.tile,
                    clean(&r.worker),
                    clean(&r.device_class),
                    r.threads,
                    r.render_micros as f64 / 1e6,
                    r.samples,
                    r.work_micros as f64 / 1e6,
                    r.charge.usd_decimal()
                )?;
            }
            // Reversals as rows of their own, negative, so that the charge column sums to the
            // invoice's total.
            for r in &invoice.reversals {
                outln!(
                    "{},,reversed,{},,,,,,{}",
                    r.task,
                    clean(&r.worker),
                    Money::from_micros(-r.amount.micros()).usd_decimal()
                )?;
            }
        }
        BillFormat::Table => {
            outln!(
                "{:>6} {:>6} {:<14} {:<20} {:<6} {:>10} {:>10} {:>10} {:>12}",
                "task",
                "frame",
                "tile",
                "worker",
                "class",
                "seconds",
                "samples",
                "work s",
                "charge"
            )?;
            for r in &invoice.rows {
                outln!(
                    "{:>6} {:>6} {:<14} {:<20} {:<6} {:>10.3} {:>10} {:>10.3} {:>12}",
                    r.task.to_string(),
                    r.frame,
                    r.tile,
                    clean(&r.worker),
                    clean(&r.device_class),
                    r.render_micros as f64 / 1e6,
                    r.samples,
                    r.work_micros as f64 / 1e6,
                    r.charge.to_string()
                )?;
            }
            for r in &invoice.reversals {
                outln!(
                    "{:>6} {:>6} {:<14} {:<20} {:<6} {:>10} {:>10} {:>10} {:>12}",
                    r.task.to_string(),
                    "",
                    "reversed",
                    clean(&r.worker),
                    "",
                    "",
                    "",
                    "",
                    format!("-{}", r.amount)
                )?;
            }
            outln!(
                "total for job {}: {} ({} tasks, {} charges reversed)",
                invoice.job,
                invoice.total,
                invoice.rows.len(),
                invoice.reversals.len()
            )?;
        }
    }
    Ok(())
}
