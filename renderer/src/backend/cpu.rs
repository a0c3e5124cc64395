//! The CPU backend: the path tracer on a rayon thread pool, a span of a tile row per work item.

use rayon::prelude::*;

use super::{Backend, DeviceInfo, PreparedFrame, RenderError};
use crate::bvh::{BvhStats, Isa};
use crate::estimate::Estimate;
use crate::film::{Pixels, Resolution, Tile, TileImage};
use crate::integrator::{PathTracer, RowOut, Span};
use crate::scene::FrameScene;
use crate::settings::RenderSettings;

/// The most threads a backend starts: rayon starts them all at once, and `--threads 100000`
/// spent minutes creating threads before rendering anything.
pub const MAX_THREADS: usize = 4096;

/// Pixels a thread takes at a time. Smaller than a tile's row, so that a tile's last pieces of
/// work are short and no thread waits long for the others at its end.
const SPAN: usize = 16;

pub struct CpuBackend {
    device: DeviceInfo,
    pool: rayon::ThreadPool,
    isa: Isa,
    packets: bool,
}

impl CpuBackend {
    /// A backend with `threads` worker threads (all cores when `None`), traversing on the
    /// fastest instruction-set path the processor has.
    pub fn new(threads: Option<usize>) -> Result<Self, RenderError> {
        Self::on(threads, Isa::detect())
    }

    /// As [`new`](Self::new), on instruction-set path `isa`, which must be one of
    /// [`Isa::available`]. Every path renders the same bits; this is for showing that.
    pub fn on(threads: Option<usize>, isa: Isa) -> Result<Self, RenderError> {
        let unavailable = |reason: String| RenderError::Unavailable {
            backend: "cpu".into(),
            reason,
        };
        if threads.is_some_and(|n| !(1..=MAX_THREADS).contains(&n)) {
            return Err(unavailable(format!(
                "thread count must be 1 to {MAX_THREADS}"
            )));
        }
        if !Isa::available().contains(&isa) {
            return Err(unavailable(format!(
                "this processor lacks the {} instruction set",
                isa.name()
            )));
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.unwrap_or(0))
            .thread_name(|i| format!("tessera-cpu-{i}"))
            .build()
            .map_err(|e| unavailable(e.to_string()))?;
        let threads = pool.current_num_threads() as u32;
        Ok(Self {
            device: DeviceInfo {
                backend: "cpu".into(),
                name: cpu_name(),
                threads,
                software: true,
            },
            pool,
            isa,
            packets: true,
        })
    }

    /// This backend tracing every sample alone: the reference the packets must match bit for
    /// bit ([`PathTracer::one_sample_at_a_time`]), and what they are timed against.
    pub fn one_sample_at_a_time(self) -> Self {
        Self {
            packets: false,
            ..self
        }
    }
}

impl CpuBackend {
    /// Prepares `scene` for rendering tiles ([`PreparedFrame`]) and estimating single pixels
    /// ([`CpuFrame::estimate`]).
    pub fn prepare_cpu<'a>(&'a self, scene: &'a FrameScene) -> CpuFrame<'a> {
        CpuFrame {
            tracer: self.pool.install(|| {
                let tracer = PathTracer::on(scene, self.isa);
                if self.packets {
                    tracer
                } else {
                    tracer.one_sample_at_a_time()
                }
            }),
            pool: &self.pool,
            scene,
        }
    }

    /// Runs `work` on one of the pool's threads: the calls it makes of [`CpuFrame::estimate`]
    /// then start their work there, instead of each handing it to the pool and sleeping until
    /// woken (what an Intel VM's quotes suggested costs milliseconds there; not confirmed).
    pub fn in_pool<R: Send>(&self, work: impl FnOnce() -> R + Send) -> R {
        self.pool.install(work)
    }

    /// Estimates the given pixels (frame coordinates) of a frame, as [`CpuFrame::estimate`].
    pub fn estimate_pixels(
        &self,
        scene: &FrameScene,
        resolution: Resolution,
        pixels: &[(u32, u32)],
        frame: u32,
        settings: &RenderSettings,
    ) -> Result<Vec<Estimate>, RenderError> {
        self.prepare_cpu(scene)
            .estimate(resolution, pixels, frame, settings)
    }
}

/// The processor's model name, from /proc/cpuinfo where there is one.
fn cpu_name() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

impl Backend for CpuBackend {
    fn device(&self) -> &DeviceInfo {
        &self.device
    }

    fn prepare<'a>(
        &'a self,
        scene: &'a FrameScene,
    ) -> Result<Box<dyn PreparedFrame + 'a>, RenderError> {
        Ok(Box::new(self.prepare_cpu(scene)))
    }
}

/// A frame ready for the CPU: its BVH built once, for tiles and for single pixels.
pub struct CpuFrame<'a> {
    tracer: PathTracer<'a>,
    pool: &'a rayon::ThreadPool,
    scene: &'a FrameScene,
}

impl CpuFrame<'_> {
    /// Estimates the given pixels (frame coordinates), each with the spread of its samples:
    /// exactly the pixels a tile holding them would have.
    pub fn estimate(
        &self,
        resolution: Resolution,
        pixels: &[(u32, u32)],
        frame: u32,
        settings: &RenderSettings,
    ) -> Result<Vec<Estimate>, RenderError> {
        if let Some(&(x, y)) = pixels
            .iter()
            .find(|&&(x, y)| x >= resolution.width() || y >= resolution.height())
        {
            return Err(RenderError::Failed {
                backend: "cpu".into(),
                reason: format!("pixel ({x}, {y}) lies outside the {resolution} frame"),
            });
        }
        let camera = self.scene.camera.raster(resolution);
        // Spans of at most SPAN pixels, and enough of them for every thread: a spot check
        // asks for a few pixels only.
        let span = SPAN
            .min(pixels.len().div_ceil(self.pool.current_num_threads()))
            .max(1);
        Ok(self.pool.install(|| {
            pixels
                .par_chunks(span)
                .flat_map_iter(|pixels| {
                    let mut out = Vec::with_capacity(pixels.len());
                    let span = Span::Estimates {
                        pixels,
                        out: &mut out,
                    };
                    self.tracer.render_span(&camera, frame, settings, span);
                    out
                })
                .collect()
        }))
    }
}

/// `out` cut into pieces of `n` pixels (the last may be shorter), in parallel.
fn chunks(out: RowOut<'_>, n: usize) -> impl IndexedParallelIterator<Item = RowOut<'_>> {
    out.color
        .par_chunks_mut(n)
        .zip(out.albedo.par_chunks_mut(n))
        .zip(out.normal.par_chunks_mut(n))
        .zip(out.depth.par_chunks_mut(n))
        .map(|(((color, albedo), normal), depth)| RowOut {
            color,
            albedo,
            normal,
            depth,
        })
}

impl PreparedFrame for CpuFrame<'_> {
    fn render_tile(
        &self,
        resolution: Resolution,
        tile: Tile,
        frame: u32,
        settings: &RenderSettings,
    ) -> Result<TileImage, RenderError> {
        let tile = tile
            .check_within(resolution)
            .map_err(|e| RenderError::Failed {
                backend: "cpu".into(),
                reason: e.to_string(),
            })?;
        let camera = self.scene.camera.raster(resolution);
        let mut pixels = Pixels::zeroed(tile.pixel_count());
        let whole = RowOut {
            color: &mut pixels.color,
            albedo: &mut pixels.albedo,
            normal: &mut pixels.normal,
            depth: &mut pixels.depth,
        };
        self.pool.install(|| {
            chunks(whole, tile.width() as usize)
                .enumerate()
                .for_each(|(row, out)| {
                    let y = tile.y() + row as u32;
                    chunks(out, SPAN).enumerate().for_each(|(k, span)| {
                        let x = tile.x() + (k * SPAN) as u32;
                        let span = Span::Row {
                            at: (x, y),
                            out: span,
                        };
                        self.tracer.render_span(&camera, frame, settings, span);
                    });
                });
        });
        Ok(TileImage { tile, pixels })
    }

    fn bvh_stats(&self) -> BvhStats {
        self.tracer.bvh_stats()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_count_out_of_range_is_refused() {
        for threads in [0, MAX_THREADS + 1, usize::MAX] {
            let Err(e) = CpuBackend::new(Some(threads)) else {
                panic!("{threads} threads were taken");
            };
            assert!(e.to_string().contains("must be 1 to 4096"), "{e}");
        }
        assert!(CpuBackend::new(Some(2)).is_ok());
    }
}
