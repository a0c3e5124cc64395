//! `tessera submit`: sends a scene and render options to the coordinator; with `--wait`, shows
//! progress and downloads the frames.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use tessera_protocol::api::{JobState, JobView, Terms};
use tessera_protocol::auth::Trust;
use tessera_protocol::client::Client;
use tessera_protocol::id::JobId;
use tessera_protocol::money::Money;
use tessera_protocol::scene::archive;
use tessera_renderer::environment::EnvironmentSetting;
use tessera_renderer::output::{self, Durability, Format};
use tessera_renderer::scene::read_plain_file;

use crate::farm_runtime::ApiArgs;
use crate::job_args::JobArgs;
use crate::output_pattern::OutputPattern;
use crate::stderr::errln;
use crate::stdout::outln;

#[derive(Args)]
pub struct SubmitArgs {
    /// The glTF 2.0 scene (.glb or .gltf; a .gltf and the files it refers to go as one archive).
    scene: PathBuf,
    /// Where --wait puts the frames (.exr); a run of '#' becomes the frame number.
    #[arg(short, long, value_name = "OUT")]
    output: Option<PathBuf>,
    #[command(flatten)]
    options: JobArgs,
    /// Jobs of higher priority are rendered first.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 0,
        allow_negative_numbers = true
    )]
    priority: i32,
    /// Wait for the job, showing progress, then download its frames to OUT.
    #[arg(long)]
    wait: bool,
    /// Stop the job before its invoice passes this many USD (e.g. 12.50).
    #[arg(long, value_name = "USD")]
    max_cost: Option<Money>,
    /// Which workers may render it: any, or only those the operator verified.
    #[arg(long, value_name = "any|verified", default_value = "any", value_parser = parse_trust)]
    trust: Trust,
    /// Only ask what the job would cost and take on the farm as it is now (a short pre-pass on
    /// the coordinator); nothing is queued.
    #[arg(long, conflicts_with_all = ["wait", "output"])]
    quote: bool,
    /// With --quote, print the quote as JSON on stdout.
    #[arg(long, requires = "quote")]
    json: bool,
    #[command(flatten)]
    api: ApiArgs,
}

pub fn run(args: SubmitArgs) -> anyhow::Result<()> {
    let output = match (&args.output, args.wait) {
        (Some(out), true) => {
            if Format::from_path(out)? != Format::Exr {
                bail!("the farm writes EXR frames: give -o a .exr path, e.g. out/frame_####.exr");
            }
            Some(OutputPattern::new(out, &args.options.frames)?)
        }
        (None, true) => bail!("--wait needs -o OUT for the frames, e.g. -o out/frame_####.exr"),
        (Some(_), false) => bail!("-o only makes sense with --wait"),
        (None, false) => None,
    };
    // Checked here too, so a mistake costs no upload.
    let mut options = args.options.options()?;
    let (scene_name, scene) = scene_upload(&args.scene, options.environment.as_mut())?;
    if let Some(output) = &output {
        // Before the upload: a job rendered and billed should not end in "cannot write".
        prepare_output(output, args.options.frames.frames()[0])?;
    }
    let client = args.api.client();
    let terms = Terms {
        priority: args.priority,
        max_cost: args.max_cost,
        trust: args.trust,
    };
    if args.quote {
        let quote = client.quote(&scene_name, &options, &terms, &scene)?;
        errln!("{}", crate::render::quote_line(&quote));
        if args.json {
            outln!("{}", crate::render::quote_json(&quote))?;
        }
        return Ok(());
    }
    let job = client.submit(&scene_name, &options, &terms, &scene)?;
    outln!("{job}")?;
    let Some(output) = output else {
        return Ok(());
    };
    let view = wait(&client, job)?;
    for frame in args.options.frames.frames() {
        let bytes = client.frame_exr(job, *frame)?;
        output::write_file(&output.path_for(*frame), &bytes, Durability::CrashSafe)?;
    }
    errln!(
        "job {job} done: {} frame(s) written to {}; cost {}",
        args.options.frames.len(),
        output.as_path().display(),
        view.cost
    );
    Ok(())
}

/// Creates the frames' folder, which holds every frame ('#' only stands in the file name), and
/// checks that a frame can be written there, as `tessera render` does before rendering.
fn prepare_output(output: &OutputPattern, first: u32) -> anyhow::Result<()> {
    let path = output.path_for(first);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create '{}'", dir.display()))?;
    }
    Ok(output::check_writable(&path)?)
}

/// Polls the job until it ends, with a bar for the job and one per frame.
fn wait(client: &Client, job: JobId) -> anyhow::Result<JobView> {
    let bars = MultiProgress::new();
    let job_style =
        ProgressStyle::with_template("job {prefix} [{bar:30}] {pos}/{len} tiles, ETA {eta} {msg}")
            .expect("valid template")
            .progress_chars("=> ");
    let frame_style =
        ProgressStyle::with_template("  frame {prefix} [{bar:30}] {pos}/{len} tiles {msg}")
            .expect("valid template")
            .progress_chars("=> ");
    let mut view = client.job(job)?;
    let job_bar = bars.add(
        ProgressBar::new(view.tasks_total)
            .with_style(job_style)
            .with_prefix(job.to_string()),
    );
    let frame_bars: Vec<ProgressBar> = view
        .frame_progress
        .iter()
        .map(|f| {
            bars.add(
                ProgressBar::new(f.tiles_total)
                    .with_style(frame_style.clone())
                    .with_prefix(f.frame.to_string()),
            )
        })
        .collect();
    loop {
        job_bar.set_position(view.tasks_done);
        job_bar.set_message(format!("cost {}", view.cost));
        for (bar, f) in frame_bars.iter().zip(&view.frame_progress) {
            bar.set_position(f.tiles_done);
            if f.written {
                bar.finish_with_message("written");
            }
        }
        match view.state {
            JobState::Running => {}
            JobState::Done => {
                job_bar.finish_with_message(format!("done, cost {}", view.cost));
                return Ok(view);
            }
            JobState::Failed | JobState::Cancelled => {
                job_bar.abandon();
                let what = if view.state == JobState::Failed {
                    "failed"
                } else {
                    "was cancelled"
                };
                bail!("job {job} {what}: {}", view.reason.unwrap_or_default());
            }
        }
        std::thread::sleep(Duration::from_millis(200));
        view = client.job(job)?;
    }
}

/// The name and bytes to upload: the scene file itself, or for a `.gltf` that refers to files
/// beside it, or a job lit by an environment map, a tar archive of it and those files; the
/// map's setting is renamed to the map's place in the archive.
fn scene_upload(
    path: &Path,
    environment: Option<&mut EnvironmentSetting>,
) -> anyhow::Result<(String, Vec<u8>)> {
    let bytes =
        read_plain_file(path).with_context(|| format!("cannot read scene '{}'", path.display()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "scene.gltf".into());
    let is_gltf = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gltf"));
    let files = if is_gltf {
        archive::external_files(path, &bytes)?
    } else {
        Vec::new()
    };
    let mut extra = Vec::new();
    if let Some(setting) = environment {
        let source = PathBuf::from(&setting.file);
        let file_name = source
            .file_name()
            .with_context(|| format!("--environment '{}' names no file", setting.file))?;
        let inside = Path::new(archive::ENVIRONMENT_DIR).join(file_name);
        setting.file = inside.to_string_lossy().into_owned();
        extra.push((inside, source));
    }
    if files.is_empty() && extra.is_empty() {
        return Ok((name, bytes));
    }
    let packed = archive::pack(path, &bytes, &files, &extra)?;
    Ok((format!("{name}.tar"), packed))
}

fn parse_trust(s: &str) -> Result<Trust, String> {
    Trust::from_name(s).ok_or_else(|| format!("unknown trust '{s}': expected any or verified"))
}
