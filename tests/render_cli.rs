//! End-to-end tests of `tessera render`: the real binary on scenes built here.

mod common;

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
