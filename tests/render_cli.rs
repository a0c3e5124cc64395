//! End-to-end tests of `tessera render`: the real binary on scenes built here.

mod common;

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{
    Breakage, Workspace, assert_fails_cleanly, files_under, read_exr, scene_gltf, write_rgb_exr,
};
use serde_json::Value;

/// Every layer the EXR output promises.
const EXR_CHANNELS: [&str; 11] = [
    "A", "B", "G", "R", "albedo.B", "albedo.G", "albedo.R", "depth.Z", "normal.X", "normal.Y",
    "normal.Z",
];

// ---- Bad input: one line, exit 1, no panic, no file. ----
// Broken scenes get neutral file names: the error line names the file, and a name like
// `index.gltf` would satisfy the phrase check whatever the loader said.

#[test]
fn missing_scene_file() {
    let ws = Workspace::new();
    let out = ws.run(&["render", "absent.gltf", "-o", "out/x.exr"]);
    assert_fails_cleanly(&out, &["absent.gltf"], &ws.out());
    assert!(common::stderr_lines(&out)[0].contains("No such file"));
}

#[test]
fn invalid_json() {
    let ws = Workspace::new();
    ws.write("s1.gltf", br#"{"asset": {"version": "2.0"}, "nodes": [ "#);
    let out = ws.run(&["render", "s1.gltf", "-o", "out/x.exr"]);
    assert_fails_cleanly(&out, &["json", "eof", "parse"], &ws.out());
}

#[test]
fn truncated_glb() {
    let ws = Workspace::new();
    let glb = common::scene_glb();
    ws.write("s2.glb", &glb[..glb.len() - 40]);
    let out = ws.run(&["render", "s2.glb", "-o", "out/x.exr"]);
    assert_fails_cleanly(
        &out,
        &["truncated", "length", "binary", "unexpected end", "eof"],
        &ws.out(),
    );
}

#[test]
fn buffer_shorter_than_its_accessors() {
    let ws = Workspace::new();
    let breakage = Breakage {
        truncate_buffer: Some(60),
        ..Breakage::default()
    };
    ws.write("s3.gltf", scene_gltf(breakage).as_bytes());
    let out = ws.run(&["render", "s3.gltf", "-o", "out/x.exr"]);
    assert_fails_cleanly(
        &out,
        &["buffer", "accessor", "out of bounds", "too short"],
        &ws.out(),
    );
}

#[test]
fn index_out_of_range() {
    let ws = Workspace::new();
    let breakage = Breakage {
        bad_index: Some(9),
        ..Breakage::default()
    };
    ws.write("s4.gltf", scene_gltf(breakage).as_bytes());
    let out = ws.run(&["render", "s4.gltf", "-o", "out/x.exr"]);
    assert_fails_cleanly(&out, &["index", "out of range", "bounds"], &ws.out());
}

/// A missing texture is named as a file (percent-decoded), with the system's reason once.
#[test]
fn missing_texture_is_named_as_a_file() {
    let ws = Workspace::new();
    let mut doc: Value = serde_json::from_str(&scene_gltf(Breakage::default())).unwrap();
    doc["images"] = serde_json::json!([{"uri": "My%20Texture.png"}]);
    doc["textures"] = serde_json::json!([{"source": 0}]);
    doc["materials"][0]["pbrMetallicRoughness"]["baseColorTexture"] =
        serde_json::json!({"index": 0});
    ws.write("s7.gltf", doc.to_string().as_bytes());
    let out = ws.run(&["render", "s7.gltf", "-o", "out/x.exr"]);
    assert_fails_cleanly(&out, &["cannot read \"My Texture.png\""], &ws.out());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("os error").count(), 1, "{stderr}");
}

#[test]
fn texture_path_escaping_the_scene_folder() {
    let ws = Workspace::new();
    // The file exists: the loader must refuse the path, not merely fail to find it.
    ws.write("secret.png", b"not really a png");
    let mut doc: Value = serde_json::from_str(&scene_gltf(Breakage::default())).unwrap();
    doc["images"] = serde_json::json!([{"uri": "../secret.png"}]);
    doc["textures"] = serde_json::json!([{"source": 0}]);
    doc["materials"][0]["pbrMetallicRoughness"]["baseColorTexture"] =
        serde_json::json!({"index": 0});
    ws.write("sub/s5.gltf", doc.to_string().as_bytes());
    let out = ws.run(&["render", "sub/s5.gltf", "-o", "out/x.exr"]);
    assert_fails_cleanly(
        &out,
        &["secret.png", "outside", "escape", "parent"],
        &ws.out(),
    );
}

#[test]
fn required_unsupported_extension() {
    let ws = Workspace::new();
    let mut doc: Value = serde_json::from_str(&scene_gltf(Breakage::default())).unwrap();
    doc["extensionsUsed"] = serde_json::json!(["KHR_draco_mesh_compression"]);
    doc["extensionsRequired"] = serde_json::json!(["KHR_draco_mesh_compression"]);
    ws.write("s6.gltf", doc.to_string().as_bytes());
    let out = ws.run(&["render", "s6.gltf", "-o", "out/x.exr"]);
    assert_fails_cleanly(&out, &["KHR_draco_mesh_compression"], &ws.out());
}

/// `--look-from` and `--look-at` replace the camera: looking straight down on the floor (beside
/// the light), the centre pixel's depth is the height looked from.
#[test]
fn the_view_options_move_the_camera() {
    let ws = Workspace::new();
    for height in [5.0f32, 3.0] {
        let from = format!("0.9,{height},0.9");
        let out = ws.run(&[
            "render",
            "scene.gltf",
            "-o",
            "out/v.exr",
            "--width",
            "9",
            "--height",
            "9",
            "--spp",
            "1",
            "--look-from",
            &from,
            "--look-at",
            "0.9,0,0.9",
            "--fov",
            "20",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (width, _, channels) = read_exr(&ws.out().join("v.exr"));
        let depth = &channels.iter().find(|(n, _)| n == "depth.Z").unwrap().1;
        let centre = depth[4 * width + 4];
        assert!(
            (centre - height).abs() < 1e-3,
            "centre depth {centre} from {height}"
        );
    }
}

/// `--environment` lights the scene with a map: looking straight up from far above the scene,
/// every pixel sees the (uniform) map's radiance times `--environment-strength`, exactly.
#[test]
fn the_environment_map_is_what_the_sky_shows() {
    let ws = Workspace::new();
    write_rgb_exr(&ws.path().join("maps/sky.exr"), 16, 8, |_, _| {
        [0.25, 0.5, 1.0]
    });
    let out = ws.run(&[
        "render",
        "scene.gltf",
        "-o",
        "out/sky.exr",
        "--width",
        "8",
        "--height",
        "8",
        "--spp",
        "2",
        "--look-from",
        "0,50,0",
        "--look-at",
        "0,100,0",
        "--environment",
        "maps/sky.exr",
        "--environment-strength",
        "2",
        "--environment-rotation",
        "-45",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, _, channels) = read_exr(&ws.out().join("sky.exr"));
    for (name, expected) in [("R", 0.5), ("G", 1.0), ("B", 2.0), ("A", 0.0)] {
        let values = &channels.iter().find(|(n, _)| n == name).unwrap().1;
        assert!(
            values.iter().all(|&v| v == expected),
            "{name}: {values:?}, not {expected}"
        );
    }
}

#[test]
fn a_bad_environment_is_refused_with_one_clear_error() {
    let ws = Workspace::new();
    write_rgb_exr(&ws.path().join("square.exr"), 8, 8, |_, _| [1.0; 3]);
    ws.write("sky.png", b"not a map");
    let render = |extra: &[&str]| {
        let mut args = vec!["render", "scene.gltf", "-o", "out/x.exr", "--spp", "1"];
        args.extend_from_slice(extra);
        ws.run(&args)
    };
    for (extra, phrase) in [
        (
            &["--environment", "missing.hdr"][..],
            "cannot read environment map 'missing.hdr'",
        ),
        (&["--environment", "sky.png"], "use a .hdr or .exr file"),
        (&["--environment", "square.exr"], "want 2:1"),
        (&["--environment-strength", "2"], "needs an environment map"),
        (
            &[
                "--environment",
                "square.exr",
                "--environment-strength",
                "-1",
            ],
            "environment strength '-1'",
        ),
        (
            &[
                "--environment",
                "square.exr",
                "--environment-rotation",
                "nan",
            ],
            "environment rotation 'nan'",
        ),
    ] {
        assert_fails_cleanly(&render(extra), &[phrase], &ws.out());
    }
}

/// A point with a negative first coordinate is a point, not an unknown option.
#[test]
fn negative_coordinates_are_points_not_flags() {
    let ws = Workspace::new();
    let out = ws.run(&[
        "render",
        "scene.gltf",
        "-o",
        "out/n.exr",
        "--width",
        "4",
        "--height",
        "4",
        "--spp",
        "1",
        "--look-from",
        "-3,2,-3",
        "--look-at",
        "-0.5,0,-0.5",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_bad_view_is_refused_by_name() {
    let ws = Workspace::new();
    let out = ws.run(&["render", "scene.gltf", "-o", "out/x.exr", "--fov", "180"]);
    assert_fails_cleanly(&out, &["field of view '180'"], &ws.out());
    let out = ws.run(&[
        "render",
        "scene.gltf",
        "-o",
        "out/x.exr",
        "--look-at",
        "1,2",
    ]);
    assert_fails_cleanly(&out, &["invalid point '1,2'"], &ws.out());
}

#[test]
fn zero_resolution() {
    let ws = Workspace::new();
    let out = ws.run(&[
        "render",
        "scene.gltf",
        "-o",
        "out/x.exr",
        "--width",
        "0",
        "--height",
        "0",
    ]);
    assert_fails_cleanly(&out, &["image size 0x0"], &ws.out());
}

#[test]
fn zero_width_alone() {
    let ws = Workspace::new();
    let out = ws.run(&["render", "scene.gltf", "-o", "out/x.exr", "--width", "0"]);
    assert_fails_cleanly(&out, &["width 0 is invalid"], &ws.out());
}

#[test]
fn absurd_resolution() {
    let ws = Workspace::new();
    let out = ws.run(&[
        "render",
        "scene.gltf",
        "-o",
        "out/x.exr",
        "--width",
        "100000",
        "--height",
        "100000",
    ]);
    assert_fails_cleanly(&out, &["image size 100000x100000"], &ws.out());
}

#[test]
fn zero_spp() {
    let ws = Workspace::new();
    let out = ws.run(&["render", "scene.gltf", "-o", "out/x.exr", "--spp", "0"]);
    assert_fails_cleanly(&out, &["samples per pixel", "got 0"], &ws.out());
}

#[test]
fn absurd_spp() {
    let ws = Workspace::new();
    let out = ws.run(&[
        "render",
        "scene.gltf",
        "-o",
        "out/x.exr",
        "--spp",
        "4000000000",
    ]);
    assert_fails_cleanly(&out, &["samples per pixel must be between"], &ws.out());
}

#[test]
fn spp_too_large_for_a_number() {
    let ws = Workspace::new();
    let out = ws.run(&[
        "render",
        "scene.gltf",
        "-o",
        "out/x.exr",
        "--spp",
        "99999999999",
    ]);
    assert_fails_cleanly(&out, &["--spp"], &ws.out());
}

#[test]
fn output_in_proc() {
    let ws = Workspace::new();
    let out = ws.run(&["render", "scene.gltf", "-o", "/proc/x.exr"]);
    assert_fails_cleanly(&out, &["cannot write '/proc/x.exr'"], &ws.out());
    assert!(!std::path::Path::new("/proc/x.exr").exists());
}

#[test]
fn output_folder_does_not_exist() {
    let ws = Workspace::new();
    let out = ws.run(&["render", "scene.gltf", "-o", "out/missing/x.exr"]);
    assert_fails_cleanly(&out, &["cannot write 'out/missing/x.exr'"], &ws.out());
    assert!(!ws.out().join("missing").exists());
}

/// A folder where a later frame's file would go fails the job before anything renders, not
/// once the frames before it have (only the first frame's path was checked).
#[test]
fn a_folder_in_a_later_frames_place() {
    let ws = Workspace::new();
    std::fs::create_dir(ws.out().join("f_3.exr")).unwrap();
    let four_frames = [
        "render",
        "scene.gltf",
        "-o",
        "out/f_#.exr",
        "--frames",
        "1-4",
    ];
    let out = ws.run(&four_frames);
    assert_fails_cleanly(&out, &["cannot write 'out/f_3.exr'"], &ws.out());
}

#[test]
fn unknown_output_format() {
    let ws = Workspace::new();
    let out = ws.run(&["render", "scene.gltf", "-o", "out/x.tiff"]);
    assert_fails_cleanly(&out, &["unknown image format"], &ws.out());
}

#[test]
fn several_frames_without_a_placeholder() {
    let ws = Workspace::new();
    let out = ws.run(&["render", "scene.gltf", "-o", "out/x.exr", "--frames", "1-3"]);
    assert_fails_cleanly(&out, &["no '#' for the frame number"], &ws.out());
}

#[test]
fn bad_frame_specs() {
    let ws = Workspace::new();
    for (spec, phrase) in [
        ("", "empty"),
        ("5-1", "end comes before the start"),
        ("1-10x0", "step must be at least 1"),
        ("1-2000000", "more than 1000000 frames"),
        ("one", "invalid frame spec"),
    ] {
        let out = ws.run(&[
            "render",
            "scene.gltf",
            "-o",
            "out/f_#.exr",
            "--frames",
            spec,
        ]);
        assert_fails_cleanly(&out, &[phrase], &ws.out());
    }
}

#[test]
fn bad_numbers() {
    let ws = Workspace::new();
    for (flag, value, phrase) in [
        ("--fps", "0", "frames per second"),
        ("--fps", "NaN", "frames per second"),
        ("--tile", "0", "--tile"),
        ("--threads", "0", "--threads"),
        ("--max-depth", "0", "max depth"),
    ] {
        let out = ws.run(&["render", "scene.gltf", "-o", "out/x.exr", flag, value]);
        assert_fails_cleanly(&out, &[phrase], &ws.out());
    }
}

#[test]
fn missing_arguments_and_unknown_flags() {
    let ws = Workspace::new();
    let out = ws.run(&["render", "scene.gltf"]);
    assert_fails_cleanly(&out, &["--output"], &ws.out());
    let out = ws.run(&["render", "scene.gltf", "-o", "out/x.exr", "--bogus"]);
    assert_fails_cleanly(&out, &["--bogus"], &ws.out());
}

#[test]
fn help_succeeds() {
    let ws = Workspace::new();
    let out = ws.run(&["render", "--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--spp",
        "--frames",
        "--tile",
        "--threads",
        "--json",
        "--camera",
    ] {
        assert!(help.contains(flag), "{flag} in help");
    }
}

/// Environment values may hold passwords; --help names the variables, never their values.
#[test]
fn help_hides_secret_environment_values() {
    let ws = Workspace::new();
    for command in ["worker", "coordinator"] {
        let out = Command::new(common::tessera_bin())
            .args([command, "--help"])
            .current_dir(ws.path())
            .env("TESSERA_AMQP_URL", "amqp://u:SECRET@h:5672/%2f")
            .env("TESSERA_COORDINATOR", "http://u:SECRET@h:8741")
            .output()
            .expect("the tessera binary runs");
        assert!(out.status.success(), "{command}");
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(help.contains("TESSERA_AMQP_URL"), "{command}: {help}");
        assert!(!help.contains("SECRET"), "{command}: {help}");
    }
}

/// `tessera render --quote --json | head -c0`: a reader that has gone ends the command quietly,
/// with the status a shell gives a program SIGPIPE ended, rather than a panic.
#[cfg(unix)]
#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    use std::os::fd::{FromRawFd, OwnedFd};

    let mut fds = [0; 2];
    // SAFETY: `pipe` fills both descriptors, which are then owned here alone.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    let (reader, writer) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // Closed before the command starts: its first line cannot be written.
    drop(reader);
    let ws = Workspace::new();
    let out = Command::new(common::tessera_bin())
        .args([
            "render",
            "scene.gltf",
            "-o",
            "out/x.exr",
            "--quote",
            "--json",
        ])
        .current_dir(ws.path())
        .stdout(Stdio::from(writer))
        .output()
        .expect("the tessera binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(141), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    // The quote's line on stderr comes first; then nothing of the closed stdout.
    assert!(
        !stderr.lines().any(|l| l.starts_with("error: ")),
        "{stderr}"
    );
}

/// `submit --wait` checks where the frames go before the scene is sent, not after the job was
/// rendered and billed: nothing listens on the coordinator's port, and that is never reached.
#[test]
fn submit_checks_its_output_before_contacting_the_coordinator() {
    let ws = Workspace::new();
    ws.write("file", b"a file, not a folder");
    for (output, phrase) in [
        ("/proc/f.exr", "cannot write '/proc/f.exr'"),
        ("/proc/forbidden/f.exr", "cannot create '/proc/forbidden'"),
        ("file/f.exr", "cannot create 'file'"),
    ] {
        let out = ws.run(&[
            "submit",
            "scene.gltf",
            "--wait",
            "-o",
            output,
            "--coordinator",
            "http://127.0.0.1:1",
        ]);
        assert_fails_cleanly(&out, &[phrase], &ws.out());
    }
}

/// A job of millions of tiny tasks is refused at once, naming the limit and what to change,
/// rather than spending an hour creating its tasks.
#[test]
fn too_many_tasks_are_refused_at_once() {
    let ws = Workspace::new();
    for extra in [
        &["--frames", "1-1000000"][..],
        &["--tile", "1", "--width", "16384", "--height", "16384"],
    ] {
        let child = Command::new(common::tessera_bin())
            .args(["render", "scene.gltf", "-o", "out/f_#######.exr"])
            .args(extra)
            .current_dir(ws.path())
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the tessera binary runs");
        let out = finish_within(child, Duration::from_secs(5));
        assert_fails_cleanly(
            &out,
            &["at most 1000000 (use larger tiles or fewer frames)"],
            &ws.out(),
        );
    }
}

/// `tessera` with `args` in `dir`, logging at its default level, stdout dropped and stderr
/// piped, to be spawned: for the tests that watch it run.
fn watched(dir: &std::path::Path, args: &[&str]) -> Command {
    let mut command = Command::new(common::tessera_bin());
    command
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

/// Reads `stderr` until a line starting with `prefix`; fails saying `why` if it ends first.
fn read_until(stderr: &mut impl std::io::BufRead, prefix: &str, why: &str) {
    let mut line = String::new();
    while !line.starts_with(prefix) {
        line.clear();
        let read = stderr.read_line(&mut line).unwrap();
        assert!(read > 0, "{why}");
    }
}

/// `child`'s end, which must come within `limit`: past it, the child is killed and the test
/// fails.
fn finish_within(mut child: Child, limit: Duration) -> Output {
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// Ctrl-C cancels a render: it ends within moments with one error line and status 130, and
/// leaves neither its temporary store nor a partial frame.
#[cfg(unix)]
#[test]
fn an_interrupted_render_stops_and_leaves_nothing() {
    use std::io::{BufReader, Read};

    let ws = Workspace::new();
    let tmp = ws.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    // 2 billion samples in 4096 tiles: most of it is left when the first progress line comes,
    // after 10% of the tiles or 2 s.
    let mut child = watched(
        ws.path(),
        &[
            "render",
            "scene.gltf",
            "-o",
            "out/x.exr",
            "--width",
            "512",
            "--height",
            "512",
            "--tile",
            "8",
            "--spp",
            "8192",
        ],
    )
    .env("TMPDIR", &tmp)
    .spawn()
    .expect("the tessera binary runs");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    // The first progress line: the farm is up and rendering.
    let why = "the render ended before it was interrupted";
    read_until(&mut stderr, "rendering: ", why);
    let store_under_tmpdir = std::fs::read_dir(&tmp).unwrap().next().is_some();

    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: a signal to the child this test started and has not yet waited for.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let status = finish_within(child, Duration::from_secs(10)).status;
    assert!(store_under_tmpdir, "or this test proves nothing");
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    let lines: Vec<&str> = rest
        .lines()
        .filter(|l| !l.starts_with("rendering: "))
        .collect();
    assert_eq!(
        lines,
        [
            "stopping: finishing the work in hand (interrupt again to stop at once)",
            "error: interrupted"
        ],
        "{rest}"
    );
    assert_eq!(status.code(), Some(130));
    assert_eq!(
        std::fs::read_dir(&tmp).unwrap().count(),
        0,
        "TMPDIR left behind"
    );
    assert_eq!(
        std::fs::read_dir(ws.out()).unwrap().count(),
        0,
        "files left beside the output"
    );
}

// ---- Happy path: these need the real glTF loader and path tracer. ----

fn render(ws: &Workspace, output: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "render",
        "scene.gltf",
        "-o",
        output,
        "--width",
        "48",
        "--height",
        "32",
        "--spp",
        "8",
    ];
    args.extend_from_slice(extra);
    let out = ws.run(&args);
    assert!(
        out.status.success(),
        "render failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn renders_an_exr_with_every_layer() {
    let ws = Workspace::new();
    let out = render(&ws, "out/image.exr", &[]);
    let (width, height, channels) = read_exr(&ws.out().join("image.exr"));
    assert_eq!((width, height), (48, 32));
    let names: Vec<&str> = channels.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, EXR_CHANNELS);
    let channel = |name: &str| &channels.iter().find(|(n, _)| n == name).unwrap().1;
    assert!(channel("R").iter().all(|v| v.is_finite() && *v >= 0.0));
    assert!(channel("R").iter().any(|&v| v > 0.0), "the light shows");
    assert!(channel("A").iter().any(|&a| a > 0.99), "the floor is hit");
    assert!(channel("depth.Z").iter().any(|&d| d > 0.0 && d < 10.0));
    assert_eq!(
        files_under(&ws.out()),
        [std::path::PathBuf::from("image.exr")]
    );
    let summary = common::stderr_lines(&out).join("\n");
    assert!(summary.contains("48x32"), "{summary}");
}

#[test]
fn renders_a_png_preview() {
    let ws = Workspace::new();
    render(&ws, "out/preview.png", &[]);
    let png = std::fs::read(ws.out().join("preview.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
}

#[test]
fn renders_a_glb() {
    let ws = Workspace::new();
    ws.write("scene.glb", &common::scene_glb());
    let out = ws.run(&[
        "render",
        "scene.glb",
        "-o",
        "out/x.exr",
        "--width",
        "16",
        "--spp",
        "1",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (width, height, _) = read_exr(&ws.out().join("x.exr"));
    // Height from the camera's 1.5 aspect ratio.
    assert_eq!((width, height), (16, 11));
}

fn pixels(ws: &Workspace, output: &str, extra: &[&str]) -> Vec<(String, Vec<u32>)> {
    render(ws, output, extra);
    let (_, _, channels) = read_exr(&ws.out().join(output.trim_start_matches("out/")));
    channels
        .into_iter()
        .map(|(n, v)| (n, v.into_iter().map(f32::to_bits).collect()))
        .collect()
}

#[test]
fn tile_size_does_not_change_pixels() {
    let ws = Workspace::new();
    let small = pixels(&ws, "out/t16.exr", &["--tile", "16"]);
    let large = pixels(&ws, "out/t128.exr", &["--tile", "128"]);
    assert_eq!(small.len(), EXR_CHANNELS.len());
    assert!(small == large, "tile size changed the image");
}

#[test]
fn thread_count_does_not_change_pixels() {
    let ws = Workspace::new();
    let one = pixels(&ws, "out/one.exr", &["--threads", "1", "--tile", "8"]);
    let two = pixels(&ws, "out/two.exr", &["--threads", "2", "--tile", "8"]);
    assert!(one == two, "thread count changed the image");
}

#[test]
fn seed_changes_pixels() {
    let ws = Workspace::new();
    let a = pixels(&ws, "out/a.exr", &["--seed", "1"]);
    let b = pixels(&ws, "out/b.exr", &["--seed", "2"]);
    assert!(
        a != b,
        "the seed must matter, or the determinism tests prove nothing"
    );
}

#[test]
fn a_frame_range_writes_one_file_per_frame() {
    let ws = Workspace::new();
    render(&ws, "out/f_###.exr", &["--frames", "2-6x2,9"]);
    let expected: Vec<std::path::PathBuf> = ["f_002.exr", "f_004.exr", "f_006.exr", "f_009.exr"]
        .map(Into::into)
        .to_vec();
    assert_eq!(files_under(&ws.out()), expected);
}

#[test]
fn json_summary_on_stdout() {
    let ws = Workspace::new();
    let out = render(&ws, "out/j.exr", &["--json"]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let summary: Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    for key in [
        "frames",
        "width",
        "height",
        "spp",
        "render_seconds",
        "samples_per_second",
        "backend",
        "device",
        "outputs",
    ] {
        assert!(summary.get(key).is_some(), "key {key} in {summary}");
    }
    assert_eq!(summary["frames"], 1);
    assert_eq!(summary["width"], 48);
    assert_eq!(summary["height"], 32);
    assert_eq!(summary["spp"], 8);
    assert_eq!(summary["backend"], "cpu");
    assert_eq!(summary["outputs"], serde_json::json!(["out/j.exr"]));
    assert!(summary["samples_per_second"].as_f64().unwrap() > 0.0);
}

#[test]
fn summary_bills_the_render_time_and_reports_the_bvh() {
    use tessera_coordinator::billing::PriceTable;
    use tessera_protocol::money::Money;

    let ws = Workspace::new();
    // Enough cores and samples that the render costs at least a micro-dollar.
    let out = ws.run(&[
        "render",
        "scene.gltf",
        "-o",
        "out/b.png",
        "--width",
        "96",
        "--height",
        "64",
        "--spp",
        "32",
        "--threads",
        "16",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(summary["threads"], 16);
    assert_eq!(summary["device_class"], "cpu");
    let micros = summary["render_micros"].as_u64().unwrap();
    let seconds = summary["render_seconds"].as_f64().unwrap();
    assert!((seconds * 1e6 - micros as f64).abs() < 1.0, "{summary}");
    let expected = PriceTable::default().charge("cpu", 16, micros);
    assert!(expected.micros() > 0, "{summary}");
    assert_eq!(summary["charge_micro_usd"], expected.micros());
    assert_eq!(summary["charge_usd"], expected.usd_decimal());
    assert_eq!(
        Money::from_micros(summary["charge_micro_usd"].as_i64().unwrap()),
        expected
    );

    let triangles = summary["triangles"].as_u64().unwrap();
    assert!(triangles > 0, "{summary}");
    assert!(summary["bvh_bytes"].as_u64().unwrap() > 0, "{summary}");
    let build = summary["bvh_build_seconds"].as_f64().unwrap();
    assert!(build >= 0.0 && build <= summary["prepare_seconds"].as_f64().unwrap());

    let stderr = String::from_utf8(out.stderr).unwrap();
    let line = stderr.lines().last().unwrap();
    assert!(
        line.contains(&format!("would bill {} USD", expected.usd_decimal())),
        "{line}"
    );
    assert!(
        line.contains(&format!("BVH {triangles} triangles, ")),
        "{line}"
    );
}

/// Most exported assets have no camera: such a scene renders from a default view that frames
/// it, with one note on stderr, instead of failing.
#[test]
fn a_scene_without_a_camera_renders_from_a_default_view() {
    let ws = Workspace::new();
    let mut doc: Value = serde_json::from_str(&scene_gltf(Breakage::default())).unwrap();
    doc.as_object_mut().unwrap().remove("cameras");
    for node in doc["nodes"].as_array_mut().unwrap() {
        node.as_object_mut().unwrap().remove("camera");
    }
    ws.write("nocam.gltf", doc.to_string().as_bytes());
    let out = ws.run(&[
        "render",
        "nocam.gltf",
        "-o",
        "out/nocam.exr",
        "--width",
        "32",
        "--height",
        "24",
        "--spp",
        "2",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let notes: Vec<&str> = stderr.lines().filter(|l| l.contains("no camera")).collect();
    assert_eq!(notes.len(), 1, "{stderr}");
    assert!(notes[0].contains("default view"), "{stderr}");
    let (_, _, channels) = read_exr(&ws.out().join("nocam.exr"));
    let alpha = &channels.iter().find(|(name, _)| name == "A").unwrap().1;
    let covered = alpha.iter().filter(|a| **a > 0.0).count();
    assert!(
        covered * 10 > alpha.len(),
        "the scene fills {covered} of {} pixels",
        alpha.len()
    );
}

/// A reader of stderr that goes mid-render (`2>&1 | head -1`) loses the lines, not the frame:
/// `eprintln!` panicked on the closed pipe, and again in the panic hook, which aborted the
/// process while it wrote the frame and left its temporary file.
#[cfg(unix)]
#[test]
fn a_render_whose_stderr_closes_still_writes_its_frame() {
    use std::io::BufReader;

    let ws = Workspace::new();
    let args = [
        "render",
        "scene.gltf",
        "-o",
        "out/x.exr",
        "--width",
        "128",
        "--height",
        "128",
        "--tile",
        "8",
        "--spp",
        "256",
    ];
    let mut child = watched(ws.path(), &args)
        .spawn()
        .expect("the tessera binary runs");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    // Its first progress line: more follow, and the summary after the frame.
    read_until(
        &mut stderr,
        "rendering: ",
        "the render ended before its reader went",
    );
    drop(stderr);
    let status = finish_within(child, Duration::from_secs(120)).status;
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert_eq!(
        files_under(&ws.out()),
        [std::path::PathBuf::from("x.exr")],
        "the frame and nothing else"
    );
}

/// A pipe or a device named as a file would never end: an environment map or a scene to
/// submit that is not a plain file is refused at once (the render hung, deaf to Ctrl-C, and
/// `tessera submit /dev/zero` filled memory).
#[cfg(unix)]
#[test]
fn a_pipe_or_a_device_is_not_read_as_a_file() {
    let ws = Workspace::new();
    let fifo = ws.path().join("sky.exr");
    let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a NUL-terminated path in this test's own folder.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    let render = [
        "render",
        "scene.gltf",
        "-o",
        "out/x.png",
        "--environment",
        "sky.exr",
    ];
    let out = finish_within(
        watched(ws.path(), &render).spawn().expect("tessera runs"),
        Duration::from_secs(20),
    );
    assert_fails_cleanly(
        &out,
        &["cannot read environment map", "not a plain file"],
        &ws.out(),
    );
    for scene in ["sky.exr", "/dev/zero"] {
        let out = finish_within(
            watched(ws.path(), &["submit", scene])
                .spawn()
                .expect("tessera runs"),
            Duration::from_secs(20),
        );
        assert_fails_cleanly(&out, &["cannot read scene", "not a plain file"], &ws.out());
    }
}

/// A second Ctrl-C stops at once: the first waits for the tile in hand, which may take minutes
/// (one 640x640 Cornell box tile at 256 spp took 52 s, deaf to more signals; this one is four
/// times that).
#[cfg(unix)]
#[test]
fn a_second_interrupt_stops_at_once() {
    use std::io::{BufReader, Read};

    let cornell = concat!(env!("CARGO_MANIFEST_DIR"), "/scenes/cornell-box.gltf");
    let ws = Workspace::new();
    let args = [
        "render",
        cornell,
        "-o",
        "out/x.exr",
        "--width",
        "640",
        "--tile",
        "4096",
        "--spp",
        "1024",
    ];
    let mut child = watched(ws.path(), &args)
        .spawn()
        .expect("the tessera binary runs");
    // One tile: no progress line comes before it is done. Its scene loads in milliseconds.
    std::thread::sleep(Duration::from_secs(3));
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: signals to the child this test started and has not yet waited for.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    read_until(
        &mut stderr,
        "stopping: ",
        "the render ended before its second interrupt",
    );
    // A second stop within a second of the first is taken for the same one, sent twice.
    std::thread::sleep(Duration::from_millis(1200));
    let second = Instant::now();
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let status = finish_within(child, Duration::from_secs(5)).status;
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert_eq!(status.code(), Some(130), "{rest}");
    assert!(
        rest.contains("error: interrupted again: stopped at once"),
        "{rest} ({:?} after the second interrupt)",
        second.elapsed()
    );
}
