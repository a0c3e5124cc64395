//! `tessera render`: one machine renders a job and writes its frames.

use std::num::NonZeroUsize;
use std::path::PathBuf;

use clap::Args;
use tessera_coordinator::billing::PriceTable;
use tessera_protocol::api::Quote;
use tessera_renderer::backend::{self, BackendChoice};

use crate::job_args::JobArgs;
use crate::local::{self, RenderSummary};
use crate::output_pattern::OutputPattern;
use crate::progress::{ProgressReport, samples_rate};
use crate::stderr::errln;
use crate::stdout::outln;

#[derive(Args)]
pub struct RenderArgs {
    /// The glTF 2.0 scene (.gltf or .glb).
    scene: PathBuf,
    /// Output file (.exr or .png); a run of '#' becomes the frame number, e.g. out/f_####.exr.
    #[arg(short, long, value_name = "OUT")]
    output: PathBuf,
    #[command(flatten)]
    options: JobArgs,
    /// Where to render: cpu, auto (CUDA, else a hardware GPU through wgpu, else the CPU), wgpu
    /// (any adapter, software ones such as lavapipe included) or cuda. The default stays cpu
    /// because probing Vulkan makes some drivers print to stderr (Mesa: XDG_RUNTIME_DIR).
    #[arg(long, value_name = "B", default_value = "cpu")]
    backend: BackendChoice,
    /// CPU threads [default: all cores].
    #[arg(long, value_name = "N")]
    threads: Option<NonZeroUsize>,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    json: bool,
    /// Only estimate what the render would cost and take on this machine's CPU, from a short
    /// pre-pass over a sparse sample of pixels, and render nothing.
    #[arg(long)]
    quote: bool,
}

pub fn run(args: RenderArgs) -> anyhow::Result<()> {
    // Validate everything the user typed before touching the scene.
    let job = args.options.options()?;
    let output = OutputPattern::new(args.output, &job.frames)?;
    if args.quote {
        let threads = args.threads.map(NonZeroUsize::get);
        let quote = local::quote_job(&args.scene, &job, &PriceTable::default(), threads)?;
        errln!("{}", quote_line(&quote));
        if args.json {
            outln!("{}", quote_json(&quote))?;
        }
        return Ok(());
    }
    let backend = backend::select(args.backend, args.threads.map(NonZeroUsize::get))?;

    let mut report = ProgressReport::new();
    // Priced as the farm would with its default price table.
    let summary = local::render_job(
        &args.scene,
        &job,
        &output,
        backend,
        PriceTable::default(),
        true,
        &mut |p| report.update(p),
    );
    report.finish();
    let summary = summary?;

    errln!("{}", summary_line(&summary));
    if args.json {
        outln!("{}", summary_json(&summary))?;
    }
    Ok(())
}

/// The quote in words, as `tessera submit --quote` says it too.
pub fn quote_line(q: &Quote) -> String {
    let time = match q.seconds {
        Some(seconds) => format!("about {seconds:.1} s of rendering"),
        None => "no worker alive to render it".to_owned(),
    };
    format!(
        "quote: {} USD for {} samples, {time} ({:.3} µs a sample on the quoting CPU)",
        q.cost.usd_decimal(),
        q.samples,
        q.probe_seconds_per_sample * 1e6
    )
}

pub fn quote_json(q: &Quote) -> serde_json::Value {
    serde_json::json!({
        "quote_micro_usd": q.cost.micros(),
        "quote_usd": q.cost.usd_decimal(),
        "seconds": q.seconds,
        "samples": q.samples,
        "probe_seconds_per_sample": q.probe_seconds_per_sample,
    })
}

fn summary_line(s: &RenderSummary) -> String {
    let frames = match s.frames.as_slice() {
        [one] => format!("frame {one}"),
        many => format!("{} frames", many.len()),
    };
    let outputs = match s.outputs.as_slice() {
        [one] => one.display().to_string(),
        many => format!("{} files", many.len()),
    };
    format!(
        "rendered {frames} at {} with {} spp in {:.2} s ({}) on {}; prepare {:.2} s; \
         BVH {} triangles, {:.2} s, {}; would bill {} USD; wrote {outputs}",
        s.resolution,
        s.spp,
        s.render_seconds,
        samples_rate(s.samples_per_second),
        s.device,
        s.prepare_seconds,
        s.bvh.triangles,
        s.bvh.build_seconds,
        byte_size(s.bvh.bytes),
        s.charge.usd_decimal(),
    )
}

/// A size in bytes with a binary unit: `3.1 KiB`.
fn byte_size(bytes: usize) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

fn summary_json(s: &RenderSummary) -> serde_json::Value {
    serde_json::json!({
        "frames": s.frames.len(),
        "frame_numbers": s.frames,
        "width": s.resolution.width(),
        "height": s.resolution.height(),
        "spp": s.spp,
        "samples": s.samples,
        "render_seconds": s.render_seconds,
        "render_micros": s.render_micros,
        "prepare_seconds": s.prepare_seconds,
        "triangles": s.bvh.triangles,
        "bvh_build_seconds": s.bvh.build_seconds,
        "bvh_bytes": s.bvh.bytes,
        "total_seconds": s.total_seconds,
        "samples_per_second": s.samples_per_second,
        "backend": s.device.backend,
        "device": s.device.name,
        "device_class": s.device.class,
        "threads": s.device.threads,
        "charge_micro_usd": s.charge.micros(),
        "charge_usd": s.charge.usd_decimal(),
        "outputs": s.outputs.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
    })
}
