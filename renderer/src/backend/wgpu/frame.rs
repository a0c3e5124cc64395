//! A frame on a wgpu device: the scene uploaded once, then each tile rendered in batches of
//! samples that accumulate on the device and are read back once.

use std::time::Instant;

use ::wgpu::util::DeviceExt;
use bytemuck::Pod;

use super::WgpuBackend;
use super::bindings::{self, SplitArray};
use crate::backend::gpu::layout::{
    BvhNode, BvhTriangle, GpuParams, GpuPixel, GpuTriangle, GpuVertex,
};
use crate::backend::gpu::pack::{GpuScene, SceneCounts};
use crate::backend::gpu::{Batches, finish_pixels};
use crate::backend::{PreparedFrame, RenderError};
use crate::bvh::BvhStats;
use crate::film::{Resolution, Tile, TileImage};
use crate::scene::FrameScene;
use crate::settings::RenderSettings;

const SHADER: &str = include_str!("../../../../shaders/pathtracer.wgsl");
const WORKGROUP: u32 = 8;

pub struct WgpuFrame<'a> {
    backend: &'a WgpuBackend,
    scene: &'a FrameScene,
    pipeline: ::wgpu::ComputePipeline,
    /// Buffers bound from binding 2 on, in binding order.
    scene_buffers: Vec<::wgpu::Buffer>,
    counts: SceneCounts,
    bvh_stats: BvhStats,
}

fn failed(reason: impl Into<String>) -> RenderError {
    RenderError::Failed {
        backend: "wgpu".into(),
        reason: reason.into(),
    }
}

impl<'a> WgpuFrame<'a> {
    pub fn new(backend: &'a WgpuBackend, scene: &'a FrameScene) -> Result<Self, RenderError> {
        let packed = GpuScene::pack(scene);
        let device = &backend.device;
        let limits = &backend.limits;
        let max_binding = backend.max_binding;
        let whole = |name: &str, data: &[u8]| -> Result<::wgpu::Buffer, RenderError> {
            if data.len() as u64 > max_binding {
                return Err(failed(format!(
                    "the scene's {name} take {} bytes, more than the adapter's \
                     max_storage_buffer_binding_size of {max_binding} bytes",
                    data.len()
                )));
            }
            Ok(upload(device, name, data))
        };
        let mut scene_buffers = vec![
            whole("materials", padded(&packed.materials).as_slice())?,
            whole("textures", padded(&packed.textures).as_slice())?,
            whole("lights", padded(&packed.lights).as_slice())?,
            whole("emitters", padded(&packed.emitters).as_slice())?,
        ];
        let mut arrays = Vec::new();
        let mut split = |name: &'static str, ty: &'static str, data: Vec<u8>, elem: usize| {
            let (chunk_len, chunks) =
                bindings::split(data.len() / elem, elem, backend.split_binding);
            let chunk_bytes = chunk_len as usize * elem;
            for c in 0..chunks as usize {
                let end = ((c + 1) * chunk_bytes).min(data.len());
                scene_buffers.push(upload(device, name, &data[c * chunk_bytes..end]));
            }
            arrays.push(SplitArray {
                name,
                ty,
                chunk_len,
                chunks,
            });
        };
        // Element sizes from the types, so a field added to one cannot skew its chunks.
        split(
            "node",
            "BvhNode",
            padded(&packed.nodes),
            size_of::<BvhNode>(),
        );
        split(
            "triangle",
            "BvhTriangle",
            padded(&packed.triangles),
            size_of::<BvhTriangle>(),
        );
        split(
            "triangle_data",
            "GpuTriangle",
            padded(&packed.triangle_data),
            size_of::<GpuTriangle>(),
        );
        split(
            "vertex",
            "GpuVertex",
            padded(&packed.vertices),
            size_of::<GpuVertex>(),
        );
        split(
            "texel",
            "vec4<f32>",
            padded(&packed.texels),
            size_of::<[f32; 4]>(),
        );
        split("texel8", "u32", padded(&packed.texels8), size_of::<u32>());
        let storage = bindings::FIXED_BINDINGS + arrays.iter().map(|a| a.chunks).sum::<u32>();
        if storage > limits.max_storage_buffers_per_shader_stage {
            return Err(failed(format!(
                "the scene needs {storage} storage buffers, more than the adapter's \
                 max_storage_buffers_per_shader_stage of {}",
                limits.max_storage_buffers_per_shader_stage
            )));
        }
        let source = format!("{SHADER}\n{}", bindings::wgsl(&arrays));
        let scope = device.push_error_scope(::wgpu::ErrorFilter::Validation);
        let module = device.create_shader_module(::wgpu::ShaderModuleDescriptor {
            label: Some("pathtracer.wgsl"),
            source: ::wgpu::ShaderSource::Wgsl(source.into()),
        });
        let pipeline = device.create_compute_pipeline(&::wgpu::ComputePipelineDescriptor {
            label: Some("pathtracer"),
            layout: None,
            module: &module,
            entry_point: Some("render"),
            compilation_options: Default::default(),
            cache: None,
        });
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(failed(format!(
                "the path tracer shader did not compile: {e}"
            )));
        }
        Ok(Self {
            backend,
            scene,
            pipeline,
            scene_buffers,
            counts: SceneCounts::of(&packed),
            bvh_stats: packed.bvh_stats,
        })
    }

    fn wait(&self) -> Result<(), RenderError> {
        self.backend
            .device
            .poll(::wgpu::PollType::wait_indefinitely())
            .map(|_| ())
            .map_err(|e| failed(format!("waiting for the device: {e}")))
    }
}

/// The array's bytes, or one zeroed element for an empty array (bindings cannot be empty).
fn padded<T: Pod>(items: &[T]) -> Vec<u8> {
    if items.is_empty() {
        vec![0; size_of::<T>()]
    } else {
        bytemuck::cast_slice(items).to_vec()
    }
}

fn upload(device: &::wgpu::Device, label: &str, data: &[u8]) -> ::wgpu::Buffer {
    device.create_buffer_init(&::wgpu::util::BufferInitDescriptor {
        label: Some(label),
        contents: data,
        usage: ::wgpu::BufferUsages::STORAGE,
    })
}

impl PreparedFrame for WgpuFrame<'_> {
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
        let device = &self.backend.device;
        let queue = &self.backend.queue;
        let scope = device.push_error_scope(::wgpu::ErrorFilter::Validation);
        let pixel_bytes = (tile.pixel_count() * size_of::<GpuPixel>()) as u64;
        let pixels = device.create_buffer(&::wgpu::BufferDescriptor {
            label: Some("pixels"),
            size: pixel_bytes,
            usage: ::wgpu::BufferUsages::STORAGE | ::wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let readback = device.create_buffer(&::wgpu::BufferDescriptor {
            label: Some("readback"),
            size: pixel_bytes,
            usage: ::wgpu::BufferUsages::MAP_READ | ::wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let params_buffer = device.create_buffer(&::wgpu::BufferDescriptor {
            label: Some("params"),
            size: size_of::<GpuParams>() as u64,
            usage: ::wgpu::BufferUsages::STORAGE | ::wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut entries = vec![
            ::wgpu::BindGroupEntry {
                binding: 0,
                resource: params_buffer.as_entire_binding(),
            },
            ::wgpu::BindGroupEntry {
                binding: 1,
                resource: pixels.as_entire_binding(),
            },
        ];
        entries.extend(self.scene_buffers.iter().enumerate().map(|(i, b)| {
            ::wgpu::BindGroupEntry {
                binding: 2 + i as u32,
                resource: b.as_entire_binding(),
            }
        }));
        let bind_group = device.create_bind_group(&::wgpu::BindGroupDescriptor {
            label: Some("tile"),
            layout: &self.pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        let mut params =
            self.counts
                .tile_params(&self.scene.camera.raster(resolution), tile, frame, settings);
        let spp = settings.spp.get();
        let mut batches = Batches::new(spp, tile.pixel_count());
        while let Some((start, count)) = batches.next_batch() {
            params.sample_start = start;
            params.sample_count = count;
            queue.write_buffer(&params_buffer, 0, bytemuck::bytes_of(&params));
            let mut encoder = device.create_command_encoder(&Default::default());
            {
                let mut pass = encoder.begin_compute_pass(&Default::default());
                pass.set_pipeline(&self.pipeline);
                pass.set_bind_group(0, &bind_group, &[]);
                pass.dispatch_workgroups(
                    tile.width().div_ceil(WORKGROUP),
                    tile.height().div_ceil(WORKGROUP),
                    1,
                );
            }
            let started = Instant::now();
            queue.submit([encoder.finish()]);
            self.wait()?;
            batches.finished(count, started.elapsed());
        }
        let mut encoder = device.create_command_encoder(&Default::default());
        encoder.copy_buffer_to_buffer(&pixels, 0, &readback, 0, pixel_bytes);
        queue.submit([encoder.finish()]);
        readback.map_async(::wgpu::MapMode::Read, .., |_| {});
        self.wait()?;
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(failed(format!("tile {tile}: {e}")));
        }
        let sums: Vec<GpuPixel> = {
            let view = readback
                .get_mapped_range(..)
                .map_err(|e| failed(format!("reading back tile {tile}: {e}")))?;
            bytemuck::cast_slice(&view).to_vec()
        };
        readback.unmap();
        Ok(TileImage {
            tile,
            pixels: finish_pixels(tile, &sums, spp),
        })
    }

    fn bvh_stats(&self) -> BvhStats {
        self.bvh_stats
    }
}
