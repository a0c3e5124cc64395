//! Tiles and frames: an accepted tile is kept in the store until its job ends, so that a frame
//! can be assembled again when a tile of it is rendered again (its worker was caught cheating
//! later); frames are written where [`FramePaths`](crate::frame_paths::FramePaths) says.

use std::path::{Path, PathBuf};

use tessera_protocol::id::{JobId, TaskId};
use tessera_protocol::pixels::EncodedPixels;
use tessera_renderer::film::{Pixels, TileImage};
use tessera_renderer::output;
use tessera_transport::Transport;

use crate::error::{FarmError, io};
use crate::farm::Farm;
use crate::live::LiveEvent;
use crate::merge::FrameMerger;
use crate::store::{JobRecord, TaskRecord};

impl<T: Transport> Farm<T> {
    /// Where a coordinator before tiles were kept in the store kept them; read only for the
    /// jobs such a coordinator left running.
    fn legacy_tile_path(&self, job: JobId, task: TaskId) -> PathBuf {
        self.data_dir
            .join("tiles")
            .join(job.to_string())
            .join(format!("{task}.tile"))
    }

    /// An accepted tile's pixels, as the store kept them.
    pub(crate) fn read_tile(&self, task: &TaskRecord) -> Result<Pixels, FarmError> {
        let compressed = match self.store.tile(task.id)? {
            Some(compressed) => compressed,
            None => {
                let path = self.legacy_tile_path(task.job, task.id);
                std::fs::read(&path).map_err(io(format!("tile of task {} is missing", task.id)))?
            }
        };
        EncodedPixels::decode_compressed(&compressed, task.task.tile.pixel_count()).map_err(|e| {
            FarmError::CorruptTile {
                task: task.id,
                reason: e.to_string(),
            }
        })
    }

    /// The accepted tasks of a job's frames not yet written, each with its frame, for a new
    /// watcher to read the tiles of one at a time ([`read_tile`](Self::read_tile)). A frame
    /// that cannot be listed now is left out: this is a preview.
    pub(crate) fn accepted_tasks(&self, job: JobId) -> Vec<(u32, TaskRecord)> {
        let Ok(record) = self.job(job) else {
            return Vec::new();
        };
        let mut tasks = Vec::new();
        for &frame in record.spec.frames.frames() {
            if self.store.frame_written(job, frame).unwrap_or(true) {
                continue;
            }
            if let Ok((done, _)) = self.store.frame_tasks(job, frame, record.spec.resolution) {
                tasks.extend(done.into_iter().map(|task| (frame, task)));
            }
        }
        tasks
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
                task: task.id,
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

    /// Removes an ended job's tiles: a done job's frames hold them now, and nothing reads a
    /// failed or cancelled job's. Leftovers only cost space, until
    /// [`remove_leftover_tiles`](Self::remove_leftover_tiles).
    pub(crate) fn remove_tiles(&self, job: JobId) {
        if let Err(e) = self.store.remove_tiles(job) {
            tracing::warn!(%job, error = %e, "cannot remove the tiles of an ended job");
        }
        let _ = std::fs::remove_dir_all(self.data_dir.join("tiles").join(job.to_string()));
    }

    /// Removes the tiles of every job no longer running: those that failed or were
    /// cancelled (however they ended, on whichever coordinator), and a done job's whose removal
    /// a restart cut short. Kept, they would hold the store's space for ever.
    pub(crate) fn remove_leftover_tiles(&self) -> Result<(), FarmError> {
        for job in self.store.ended_jobs_with_tiles()? {
            self.remove_tiles(job);
        }
        Ok(())
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
