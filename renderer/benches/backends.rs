//! Samples per second of each backend on the Cornell box.
//!
//! `cargo bench -p tessera-renderer --bench backends -- [--size 1024] [--spp 16]
//! [--max-depth 8] [--backends cuda,wgpu,cpu]`: a backend that is not available is reported and
//! skipped; `wgpu` takes a hardware adapter, `wgpu-any` also a software one.

#[allow(dead_code)] // the benchmark renders only the Cornell box
#[path = "../tests/common/scenes.rs"]
mod scenes;

use std::process::ExitCode;
use std::time::Instant;

use tessera_renderer::backend::cpu::CpuBackend;
use tessera_renderer::backend::cuda::CudaBackend;
use tessera_renderer::backend::wgpu::{AdapterChoice, WgpuBackend};
use tessera_renderer::backend::{Backend, RenderError};
use tessera_renderer::film::Resolution;
use tessera_renderer::settings::{MaxDepth, RenderSettings, Spp};

fn open(name: &str) -> Result<Box<dyn Backend>, RenderError> {
    Ok(match name {
        "cuda" => Box::new(CudaBackend::new(0)?),
        "wgpu" => Box::new(WgpuBackend::new(&AdapterChoice::Hardware)?),
        "wgpu-any" => Box::new(WgpuBackend::new(&AdapterChoice::Any)?),
        "cpu" => Box::new(CpuBackend::new(None)?),
        other => {
            return Err(RenderError::Unavailable {
                backend: other.into(),
                reason: "unknown backend (cuda, wgpu, wgpu-any, cpu)".into(),
            });
        }
    })
}

fn main() -> ExitCode {
    let mut size = 1024u32;
    let mut spp = 16u32;
    let mut depth = 8u32;
    let mut backends = "cuda,wgpu,cpu".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_default();
        match a.as_str() {
            "--size" => size = value().parse().expect("--size N"),
            "--spp" => spp = value().parse().expect("--spp N"),
            "--max-depth" => depth = value().parse().expect("--max-depth N"),
            "--backends" => backends = value(),
            _ => {} // cargo bench passes --bench
        }
    }
    let scene = scenes::cornell_box();
    let res = Resolution::new(size, size).expect("size");
    let settings = RenderSettings {
        spp: Spp::new(spp).expect("spp"),
        max_depth: MaxDepth::new(depth).expect("max depth"),
        seed: 0,
    };
    let mut failed = false;
    for name in backends.split(',') {
        let backend = match open(name) {
            Ok(b) => b,
            Err(e) => {
                println!("{name}: not measured: {e}");
                failed = true;
                continue;
            }
        };
        let frame = match backend.prepare(&scene) {
            Ok(f) => f,
            Err(e) => {
                println!("{name}: not measured: {e}");
                failed = true;
                continue;
            }
        };
        let tiles = res.tiles(512.try_into().unwrap());
        let started = Instant::now();
        let mut mean = 0.0f64;
        for t in &tiles {
            match frame.render_tile(res, *t, 0, &settings) {
                Ok(img) => mean += img.pixels.color.iter().map(|c| c[0] as f64).sum::<f64>(),
                Err(e) => {
                    println!("{name}: failed: {e}");
                    failed = true;
                    break;
                }
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        let samples = res.pixel_count() as f64 * spp as f64;
        println!(
            "{name} on {}: {:.3} Msamples/s ({size}x{size}, {spp} spp, max depth {depth}, {seconds:.2} s, mean R {:.4})",
            backend.device(),
            samples / seconds / 1e6,
            mean / res.pixel_count() as f64,
        );
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
