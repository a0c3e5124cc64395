//! Tiles and frames on disk: an accepted tile is kept under the data directory until its job is
//! done, so that a frame can be assembled again when a tile of it is rendered again (its worker
//! was caught cheating later).

use std::path::{Path, PathBuf};

use tessera_protocol::id::{JobId, TaskId};
use tessera_protocol::pixels::EncodedPixels;
use tessera_renderer::film::{Pixels, Tile, TileImage};
use tessera_renderer::output;
use tessera_transport::Transport;

use crate::error::{FarmError, io};
use crate::farm::Farm;
use crate::live::LiveEvent;
use crate::merge::FrameMerger;
use crate::store::{JobRecord, TaskRecord};

impl<T: Transport> Farm<T> {
    fn tile_path(&self, job: JobId, task: TaskId) -> PathBuf {
        self.data_dir
            .join("tiles")
            .join(job.to_string())
            .join(format!("{task}.tile"))
    }

    /// Keeps an accepted tile's compressed pixels until its frame is written.
    pub(crate) fn write_tile(
        &self,
        job: JobId,
        task: TaskId,
        compressed: &[u8],
    ) -> Result<(), FarmError> {
        let path = self.tile_path(job, task);
        create_parent(&path)?;
        output::write_file(&path, compressed, self.durability)?;
        Ok(())
    }

    /// An accepted tile's pixels, as [`write_tile`](Self::write_tile) kept them.
    fn read_tile(&self, task: &TaskRecord) -> Result<Pixels, FarmError> {
        let path = self.tile_path(task.job, task.id);
        let compressed =
            std::fs::read(&path).map_err(io(format!("cannot read tile '{}'", path.display())))?;
        EncodedPixels::decode_compressed(&compressed, task.task.tile.pixel_count()).map_err(|e| {
            FarmError::CorruptTile {
                path,
                reason: e.to_string(),
            }
        })
    }

    /// The accepted tiles of a job's frames not yet written, with their colours, for a new
    /// watcher. A tile that cannot be read now is left out: this is a preview.
    pub fn accepted_tiles(&self, job: JobId) -> Vec<(u32, Tile, Vec<[f32; 4]>)> {
        let Ok(record) = self.job(job) else {
            return Vec::new();
        };
        let mut tiles = Vec::new();
        for &frame in record.spec.frames.frames() {
            if self.store.frame_written(job, frame).unwrap_or(true) {
                continue;
            }
            let Ok((done, _)) = self.store.frame_tasks(job, frame, record.spec.resolution) else {
                continue;
            };
            for task in done {
                if let Ok(pixels) = self.read_tile(&task) {
                    tiles.push((frame, task.task.tile, pixels.color));
                }
            }
        }
        tiles
    }

    /// Assembles a frame from its accepted tiles and writes it.
    pub(crate) fn write_frame(&self, job: &JobRecord, frame: u32) -> Result<(), FarmError> {
        let spec = &job.spec;
        let (done, _) = self.store.frame_tasks(job.id, frame, spec.resolution)?;
        let mut merger = FrameMerger::new(spec.resolution, spec.tile_size);
        for task in &done {
            let tile = TileImage {
                tile: task.task.tile,
                pixels: self.read_tile(task)?,
            };
            merger.add(&tile).map_err(|e| FarmError::CorruptTile {
                path: self.tile_path(job.id, task.id),
                reason: e.to_string(),
            })?;
        }
        let image = merger
            .finish()
            .map_err(|_| FarmError::IncompleteFrame { job: job.id, frame })?;
        let path = self.frame_paths.frame_path(job.id, frame);
        create_parent(&path)?;
        output::write_frame(&path, &image)?;
        if let Some(preview) = self.frame_paths.preview_path(job.id, frame)
            && let Err(e) = output::write_png(&preview, &image)
        {
            // The frame itself is safe; only the dashboard's picture is missing.
            tracing::warn!(job = %job.id, frame, error = %e, "cannot write the frame's preview");
        }
        if let Some(events) = &self.events {
            events.frame_written(job.id, frame, &path);
        }
        self.store.mark_frame_written(job.id, frame)?;
        let _ = self.live.send(LiveEvent::Frame { job: job.id, frame });
        tracing::info!(job = %job.id, frame, path = %path.display(), "frame written");
        Ok(())
    }

    /// Removes a done job's tiles: its frames hold them now. Leftovers only cost disk space.
    pub(crate) fn remove_tiles(&self, job: JobId) {
        let _ = std::fs::remove_dir_all(self.data_dir.join("tiles").join(job.to_string()));
    }
}

fn create_parent(path: &Path) -> Result<(), FarmError> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            std::fs::create_dir_all(dir).map_err(io(format!("cannot create '{}'", dir.display())))
        }
        _ => Ok(()),
    }
}
