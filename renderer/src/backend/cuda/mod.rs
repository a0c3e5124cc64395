//! The CUDA backend: `shaders/pathtracer.cu` compiled at run time with NVRTC for the device's
//! own architecture, through cudarc with dynamic loading, so machines without CUDA build and
//! run everything else. cudarc panics when its libraries are missing, so every entry point here
//! checks for them first.

mod compile;
mod frame;

use std::sync::Arc;

use cudarc::driver::{CudaContext, CudaFunction, CudaStream};

pub use frame::BLOCK;

use super::{Backend, DeviceInfo, PreparedFrame, RenderError};
use crate::scene::FrameScene;

pub struct CudaBackend {
    info: DeviceInfo,
    stream: Arc<CudaStream>,
    function: CudaFunction,
}

/// cudarc looks for `libnvrtc.so`, `.so.12`, `.so.11`, ...: CUDA 13's wheel has only `.so.13`.
const NVRTC_MISSING: &str = "NVRTC, CUDA's run-time compiler, was not found (libnvrtc.so is not \
     on the library path; for CUDA 13's libnvrtc.so.13, link it there as libnvrtc.so)";

fn unavailable(reason: impl Into<String>) -> RenderError {
    RenderError::Unavailable {
        backend: "cuda".into(),
        reason: reason.into(),
    }
}

/// Whether the CUDA driver and NVRTC libraries can be loaded, and if not which is missing.
pub fn libraries_present() -> Result<(), RenderError> {
    // SAFETY: these only try to open the shared libraries; no CUDA call is made.
    if !unsafe { cudarc::driver::sys::is_culib_present() } {
        return Err(unavailable(
            "the CUDA driver was not found (libcuda.so / nvcuda.dll is not installed)",
        ));
    }
    if !unsafe { cudarc::nvrtc::sys::is_culib_present() } {
        return Err(unavailable(NVRTC_MISSING));
    }
    Ok(())
}

/// Compiles the kernel for compute capability `major.minor` with NVRTC alone (no device needed),
/// returning the PTX's size: a check that the CUDA source is valid.
pub fn compile_kernel(major: i32, minor: i32) -> Result<usize, RenderError> {
    // SAFETY: only tries to open the shared library.
    if !unsafe { cudarc::nvrtc::sys::is_culib_present() } {
        return Err(unavailable(NVRTC_MISSING));
    }
    compile::compile_only(major, minor)
}

fn driver_error(what: &str, e: impl std::fmt::Display) -> RenderError {
    unavailable(format!("{what}: {e}"))
}

fn device_info(ctx: &CudaContext) -> Result<DeviceInfo, RenderError> {
    let name = ctx
        .name()
        .map_err(|e| driver_error("reading the device name", e))?;
    Ok(DeviceInfo {
        backend: "cuda".into(),
        name,
        threads: 1,
        software: false,
    })
}

/// Every CUDA device, or why there are none.
pub fn list_devices() -> Result<Vec<DeviceInfo>, RenderError> {
    libraries_present()?;
    let count = CudaContext::device_count().map_err(|e| driver_error("counting devices", e))?;
    (0..count.max(0) as usize)
        .map(|i| {
            let ctx = CudaContext::new(i).map_err(|e| driver_error("opening a device", e))?;
            device_info(&ctx)
        })
        .collect()
}

impl CudaBackend {
    /// Opens device `ordinal` and compiles the path tracer for it (or loads the cached build).
    pub fn new(ordinal: usize) -> Result<Self, RenderError> {
        libraries_present()?;
        let count = CudaContext::device_count().map_err(|e| driver_error("counting devices", e))?;
        if ordinal >= count.max(0) as usize {
            return Err(unavailable(format!(
                "no CUDA device {ordinal} (the driver reports {count})"
            )));
        }
        let ctx = CudaContext::new(ordinal).map_err(|e| driver_error("opening the device", e))?;
        let info = device_info(&ctx)?;
        let (major, minor) = ctx
            .compute_capability()
            .map_err(|e| driver_error("reading the compute capability", e))?;
        let ptx = compile::kernel(major, minor)?;
        let module = ctx
            .load_module(ptx)
            .map_err(|e| driver_error("loading the compiled kernel", e))?;
        let function = module
            .load_function("render")
            .map_err(|e| driver_error("finding the kernel", e))?;
        tracing::info!(device = %info.name, arch = format!("sm_{major}{minor}"), "CUDA device opened");
        Ok(Self {
            info,
            stream: ctx.default_stream(),
            function,
        })
    }
}

impl Backend for CudaBackend {
    fn device(&self) -> &DeviceInfo {
        &self.info
    }

    fn prepare<'a>(
        &'a self,
        scene: &'a FrameScene,
    ) -> Result<Box<dyn PreparedFrame + 'a>, RenderError> {
        Ok(Box::new(frame::CudaFrame::new(self, scene)?))
    }
}
