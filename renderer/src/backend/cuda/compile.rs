//! Compiling the kernel with NVRTC, cached on disk by source hash and architecture.

use std::path::PathBuf;

use cudarc::nvrtc::{CompileOptions, Ptx};
use sha2::{Digest, Sha256};

use super::unavailable;
use crate::backend::RenderError;
use crate::output::{Durability, write_file};

/// The kernel source: the layout structs, then the path tracer.
pub fn source() -> String {
    format!(
        "{}\n{}",
        include_str!("../../../../shaders/layout.cuh"),
        include_str!("../../../../shaders/pathtracer.cu")
    )
}

fn options(major: i32, minor: i32) -> Vec<String> {
    vec![
        format!("--gpu-architecture=sm_{major}{minor}"),
        // No fused multiply-add: the CPU backend rounds every product, and so must the GPU
        // for the same seed to give the same paths.
        "--fmad=false".into(),
        "--std=c++17".into(),
    ]
}

fn cache_dir() -> Option<PathBuf> {
    std::env::var_os("TESSERA_CUDA_CACHE")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("tessera/cuda"))
        })
        .or_else(|| std::env::var_os("HOME").map(|d| PathBuf::from(d).join(".cache/tessera/cuda")))
}

fn compile(source: &str, options: Vec<String>) -> Result<Ptx, RenderError> {
    cudarc::nvrtc::compile_ptx_with_opts(
        source,
        CompileOptions {
            options,
            name: Some("pathtracer.cu".into()),
            ..Default::default()
        },
    )
    .map_err(|e| unavailable(format!("NVRTC could not compile the kernel: {e:?}")))
}

/// Compiles the kernel for compute capability `major.minor` without the cache; returns the
/// PTX's size. Needs NVRTC only, no device.
pub fn compile_only(major: i32, minor: i32) -> Result<usize, RenderError> {
    Ok(compile(&source(), options(major, minor))?.to_src().len())
}

/// The PTX for compute capability `major.minor`, from the cache or freshly compiled.
pub fn kernel(major: i32, minor: i32) -> Result<Ptx, RenderError> {
    let source = source();
    let options = options(major, minor);
    let mut hasher = Sha256::new();
    hasher.update(source.as_bytes());
    for o in &options {
        hasher.update(o.as_bytes());
    }
    let key: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let cached = cache_dir().map(|d| d.join(format!("pathtracer-sm_{major}{minor}-{key}.ptx")));
    if let Some(path) = &cached
        && let Ok(ptx) = std::fs::read_to_string(path)
    {
        tracing::debug!(path = %path.display(), "using the cached CUDA kernel");
        return Ok(Ptx::from_src(ptx));
    }
    let ptx = compile(&source, options)?;
    if let Some(path) = &cached {
        // Written whole or not at all: workers (or threads) compiling together must never read
        // half a kernel. A cache need not survive a crash.
        let dir = path.parent().unwrap_or(std::path::Path::new("."));
        let written = std::fs::create_dir_all(dir)
            .map_err(|e| e.to_string())
            .and_then(|()| {
                write_file(path, ptx.to_src().as_bytes(), Durability::Throwaway)
                    .map_err(|e| e.to_string())
            });
        if let Err(e) = written {
            tracing::warn!(path = %path.display(), "could not cache the CUDA kernel: {e}");
        }
    }
    Ok(ptx)
}
