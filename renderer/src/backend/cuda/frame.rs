//! A frame on a CUDA device: the scene uploaded once, then each tile rendered in batches of
//! samples that accumulate on the device and are read back once.

use std::time::Instant;

use bytemuck::Pod;
use cudarc::driver::{CudaSlice, LaunchConfig, PushKernelArg};

use super::CudaBackend;
use crate::backend::gpu::layout::{GpuParams, GpuPixel};
use crate::backend::gpu::pack::{GpuScene, SceneCounts};
use crate::backend::gpu::{Batches, finish_pixels};
use crate::backend::{PreparedFrame, RenderError};
use crate::bvh::BvhStats;
use crate::film::{Resolution, Tile, TileImage};
use crate::scene::FrameScene;
use crate::settings::RenderSettings;

/// A CUDA block's side in threads. Public so that the test running the kernel on the host
/// (tests/cuda_kernel_on_host.rs) launches the same grid.
pub const BLOCK: u32 = 8;

fn failed(reason: impl Into<String>) -> RenderError {
    RenderError::Failed {
        backend: "cuda".into(),
        reason: reason.into(),
    }
}

fn err(what: &'static str) -> impl Fn(cudarc::driver::DriverError) -> RenderError {
    move |e| failed(format!("{what}: {e}"))
}

/// The scene's arrays on the device, in the kernel's argument order after params and pixels.
pub struct CudaFrame<'a> {
    backend: &'a CudaBackend,
    scene: &'a FrameScene,
    arrays: Vec<CudaSlice<u8>>,
    counts: SceneCounts,
    bvh_stats: BvhStats,
}

/// The array's bytes, or one zeroed element for an empty array, so every pointer is valid.
fn padded<T: Pod>(items: &[T]) -> Vec<u8> {
    if items.is_empty() {
        vec![0; size_of::<T>()]
    } else {
        bytemuck::cast_slice(items).to_vec()
    }
}

impl<'a> CudaFrame<'a> {
    pub fn new(backend: &'a CudaBackend, scene: &'a FrameScene) -> Result<Self, RenderError> {
        let p = GpuScene::pack(scene);
        let arrays = [
            padded(&p.materials),
            padded(&p.textures),
            padded(&p.lights),
            padded(&p.emitters),
            padded(&p.nodes),
            padded(&p.triangles),
            padded(&p.triangle_data),
            padded(&p.vertices),
            padded(&p.texels),
            padded(&p.texels8),
        ]
        .iter()
        .map(|bytes| backend.stream.clone_htod(bytes.as_slice()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| failed(format!("uploading the scene: {e}")))?;
        Ok(Self {
            backend,
            scene,
            arrays,
            counts: SceneCounts::of(&p),
            bvh_stats: p.bvh_stats,
        })
    }
}

impl PreparedFrame for CudaFrame<'_> {
    fn render_tile(
        &self,
        resolution: Resolution,
        tile: Tile,
        frame: u32,
        settings: &RenderSettings,
    ) -> Result<TileImage, RenderError> {
        let tile = tile
            .check_within(resolution)
            .map_err(|e| failed(e.to_string()))?;
        let stream = &self.backend.stream;
        let mut pixels: CudaSlice<u8> = stream
            .alloc_zeros(tile.pixel_count() * size_of::<GpuPixel>())
            .map_err(err("allocating the tile"))?;
        let mut params =
            self.counts
                .tile_params(&self.scene.camera.raster(resolution), tile, frame, settings);
        let mut params_buffer: CudaSlice<u8> = stream
            .alloc_zeros(size_of::<GpuParams>())
            .map_err(err("allocating the parameters"))?;
        let config = LaunchConfig {
            grid_dim: (
                tile.width().div_ceil(BLOCK),
                tile.height().div_ceil(BLOCK),
                1,
            ),
            block_dim: (BLOCK, BLOCK, 1),
            shared_mem_bytes: 0,
        };
        let spp = settings.spp.get();
        let mut batches = Batches::new(spp, tile.pixel_count());
        while let Some((start, count)) = batches.next_batch() {
            params.sample_start = start;
            params.sample_count = count;
            stream
                .memcpy_htod(bytemuck::bytes_of(&params), &mut params_buffer)
                .map_err(err("uploading the parameters"))?;
            let started = Instant::now();
            let mut launch = stream.launch_builder(&self.backend.function);
            launch.arg(&params_buffer).arg(&mut pixels);
            for a in &self.arrays {
                launch.arg(a);
            }
            // SAFETY: the arguments match the kernel's signature in shaders/pathtracer.cu: the
            // parameters, the tile's pixels (tile_width x tile_height of them), then the scene
            // arrays in that order, each laid out as layout.rs defines (checked by a test).
            unsafe { launch.launch(config) }.map_err(err("launching the kernel"))?;
            stream.synchronize().map_err(err("running the kernel"))?;
            batches.finished(count, started.elapsed());
        }
        let bytes = stream
            .clone_dtoh(&pixels)
            .map_err(err("reading back the tile"))?;
        let sums: Vec<GpuPixel> = bytemuck::pod_collect_to_vec(&bytes);
        Ok(TileImage {
            tile,
            pixels: finish_pixels(tile, &sums, spp),
        })
    }

    fn bvh_stats(&self) -> BvhStats {
        self.bvh_stats
    }
}
