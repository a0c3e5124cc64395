//! Samples per second of the CPU path tracer on the Cornell box (256x256, max depth 8).
//!
//! `cargo bench -p tessera-renderer --bench cornell` prints Tessera's figure. Speed on these
//! shared machines is only meaningful as a ratio measured in one run, so when
//! `TESSERA_MITSUBA_PYTHON` names a Python with `mitsuba` installed, Mitsuba 3's `llvm_ad_rgb`
//! renders the same scene in alternating rounds and the bench prints the ratio of medians.
//! Environment: `TESSERA_BENCH_SPP` (default 64), `TESSERA_BENCH_ROUNDS` (default 3),
//! `TESSERA_BENCH_ISA` (an instruction-set path by name, e.g. `avx2`; default the fastest),
//! `TESSERA_BENCH_SCENE` (another glTF file to time, at its own camera; Mitsuba is then not run),
//! `TESSERA_BENCH_TILE` (render the frame as tiles of this many pixels, one call each, as
//! `tessera render --tile` does; default one tile): what tiling costs apart from the farm,
//! `TESSERA_BENCH_PACKETS=0` (trace every sample alone, as before packets: the same bits).

use std::io::{ErrorKind, Write};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use tessera_renderer::backend::Backend;
use tessera_renderer::backend::cpu::CpuBackend;
use tessera_renderer::bvh::Isa;
use tessera_renderer::film::Resolution;
use tessera_renderer::scene::Scene;
use tessera_renderer::settings::{MaxDepth, RenderSettings, Spp};

fn env_u32(name: &str, default: u32) -> u32 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Prints a line of results; when the reader has gone (`| head`) the run ends quietly instead
/// of panicking on the broken pipe.
fn say(line: std::fmt::Arguments) {
    match writeln!(std::io::stdout(), "{line}") {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => panic!("cannot write the results: {e}"),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let spp = env_u32("TESSERA_BENCH_SPP", 64);
    let rounds = env_u32("TESSERA_BENCH_ROUNDS", 3).max(1);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let other = std::env::var_os("TESSERA_BENCH_SCENE");
    let path = other
        .clone()
        .map_or(root.join("scenes/cornell-box.gltf"), Into::into);
    let scene = Scene::load(&path).expect("the scene loads");
    let frame = scene.frame(0.0, None).expect("frame 1 evaluates");
    let isa = match std::env::var("TESSERA_BENCH_ISA") {
        Ok(name) => *Isa::available()
            .iter()
            .find(|isa| isa.name() == name)
            .unwrap_or_else(|| panic!("no instruction-set path {name:?} on this processor")),
        Err(_) => Isa::detect(),
    };
    let backend = CpuBackend::on(None, isa).expect("a CPU backend");
    let backend = match std::env::var("TESSERA_BENCH_PACKETS").as_deref() {
        Ok("0") => backend.one_sample_at_a_time(),
        _ => backend,
    };
    let prepared = backend.prepare(&frame).expect("the scene prepares");
    let resolution = Resolution::new(256, 256).expect("valid size");
    let settings = RenderSettings {
        spp: Spp::new(spp).expect("valid spp"),
        max_depth: MaxDepth::new(8).expect("valid depth"),
        seed: 0,
    };
    let tiles = match std::env::var("TESSERA_BENCH_TILE") {
        Ok(size) => resolution.tiles(size.parse().expect("TESSERA_BENCH_TILE is a pixel count")),
        Err(_) => vec![resolution.full_tile()],
    };
    let samples = resolution.pixel_count() as f64 * f64::from(spp);
    let mitsuba = std::env::var("TESSERA_MITSUBA_PYTHON")
        .ok()
        .filter(|_| other.is_none());
    let script = root.join("tools/bench/mitsuba_cornell.py");

    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for round in 0..rounds {
        let start = Instant::now();
        for &tile in &tiles {
            prepared
                .render_tile(resolution, tile, round + 1, &settings)
                .expect("the tile renders");
        }
        let rate = samples / start.elapsed().as_secs_f64();
        say(format_args!("tessera {rate:.0}"));
        ours.push(rate);
        if let Some(python) = &mitsuba {
            let out = Command::new(python)
                .arg(&script)
                .args([spp.to_string(), "1".into()])
                .output()
                .expect("the Mitsuba benchmark runs");
            let text = String::from_utf8_lossy(&out.stdout);
            let rate: f64 = text
                .split_whitespace()
                .nth(1)
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| {
                    panic!(
                        "Mitsuba printed no rate: {}",
                        String::from_utf8_lossy(&out.stderr)
                    )
                });
            say(format_args!("mitsuba {rate:.0}"));
            theirs.push(rate);
        }
    }
    let ours = median(ours);
    let summary = format!(
        "{} 256x256 depth 8, {spp} spp, {} threads, {}: tessera {:.2} Msamples/s",
        path.file_stem().unwrap_or_default().to_string_lossy(),
        backend.device().threads,
        isa.name(),
        ours / 1e6
    );
    if theirs.is_empty() {
        say(format_args!(
            "{summary} (set TESSERA_MITSUBA_PYTHON for the ratio to Mitsuba 3)"
        ));
    } else {
        let theirs = median(theirs);
        say(format_args!(
            "{summary}, mitsuba llvm_ad_rgb {:.2} Msamples/s, ratio {:.2}",
            theirs / 1e6,
            ours / theirs
        ));
    }
}
