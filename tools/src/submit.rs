//! `tessera submit`: sends a scene and render options to the coordinator; with `--wait`, shows
//! progress and downloads the frames.

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use tessera_coordinator::api::{JobView, SubmitParams};
use tessera_coordinator::client::{Client, DEFAULT_COORDINATOR};
use tessera_coordinator::job::{FrameSet, OutputPattern};
use tessera_coordinator::scene_archive;
use tessera_coordinator::store::JobState;
use tessera_renderer::output::Format;

#[derive(Args)]
pub struct SubmitArgs {
    /// The glTF 2.0 scene (.glb or .gltf; a .gltf and the files it refers to go as one archive).
    scene: PathBuf,
    /// Where --wait puts the frames (.exr); a run of '#' becomes the frame number.
    #[arg(short, long, value_name = "OUT")]
    output: Option<PathBuf>,
    /// Image width in pixels [default: from the camera].
    #[arg(long, value_name = "W")]
    width: Option<u32>,
    /// Image height in pixels [default: from the width and the camera's aspect ratio].
    #[arg(long, value_name = "H")]
    height: Option<u32>,
    /// Samples per pixel.
    #[arg(long, value_name = "N", default_value_t = 64)]
    spp: u32,
    /// Maximum path length in segments.
    #[arg(long, value_name = "D", default_value_t = 8)]
    max_depth: u32,
    /// Frames to render: 1, 1-48, 1-48x2, 1,5,10-20.
    #[arg(long, value_name = "SPEC", default_value = "1")]
    frames: FrameSet,
    /// Frames per second of the animation; frame 1 is at time 0.
    #[arg(long, value_name = "F", default_value_t = 24.0)]
    fps: f64,
    /// Tile size in pixels: the unit of work sent to workers.
    #[arg(long, value_name = "N", default_value = "64")]
    tile: NonZeroU32,
    /// Random seed.
    #[arg(long, value_name = "S", default_value_t = 0)]
    seed: u64,
    /// Camera to render through [default: the scene's first].
    #[arg(long, value_name = "NAME")]
    camera: Option<String>,
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
    /// The coordinator's HTTP address.
    #[arg(long, env = "TESSERA_COORDINATOR", default_value = DEFAULT_COORDINATOR)]
    coordinator: String,
}

pub fn run(args: SubmitArgs) -> anyhow::Result<()> {
    let output = match (&args.output, args.wait) {
        (Some(out), true) => {
            if Format::from_path(out)? != Format::Exr {
                bail!("the farm writes EXR frames: give -o a .exr path, e.g. out/frame_####.exr");
            }
            Some(OutputPattern::new(out, &args.frames)?)
        }
        (None, true) => bail!("--wait needs -o OUT for the frames, e.g. -o out/frame_####.exr"),
        (Some(_), false) => bail!("-o only makes sense with --wait"),
        (None, false) => None,
    };
    let (scene_name, scene) = scene_upload(&args.scene)?;
    let params = SubmitParams {
        scene_name,
        frames: args.frames.to_string(),
        width: args.width,
        height: args.height,
        spp: Some(args.spp),
        max_depth: Some(args.max_depth),
        tile: Some(args.tile.get()),
        seed: Some(args.seed),
        fps: Some(args.fps),
        camera: args.camera.clone(),
        priority: Some(args.priority),
    };
    let client = Client::new(&args.coordinator);
    let job = client.submit(&params, &scene)?;
    println!("{job}");
    let Some(output) = output else {
        return Ok(());
    };
    let view = wait(&client, job)?;
    for frame in args.frames.frames() {
        let bytes = client.frame_exr(job, *frame)?;
        let path = output.path_for(*frame);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create '{}'", dir.display()))?;
        }
        // Through a temporary file, so a frame under its name is complete.
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        std::io::Write::write_all(&mut tmp, &bytes)?;
        tmp.persist(&path)
            .with_context(|| format!("cannot write '{}'", path.display()))?;
    }
    eprintln!(
        "job {job} done: {} frame(s) written to {}; cost {}",
        args.frames.len(),
        output.as_path().display(),
        view.cost
    );
    Ok(())
}

/// Polls the job until it ends, with a bar for the job and one per frame.
fn wait(client: &Client, job: tessera_coordinator::task_message::JobId) -> anyhow::Result<JobView> {
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
/// beside it, a tar archive of it and those files.
fn scene_upload(path: &Path) -> anyhow::Result<(String, Vec<u8>)> {
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read scene '{}'", path.display()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "scene.gltf".into());
    let is_gltf = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gltf"));
    if !is_gltf {
        return Ok((name, bytes));
    }
    let files = scene_archive::external_files(path, &bytes)?;
    if files.is_empty() {
        return Ok((name, bytes));
    }
    let archive = scene_archive::pack(path, &bytes, &files)?;
    Ok((format!("{name}.tar"), archive))
}
