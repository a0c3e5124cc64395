//! Where assembled frames go: a coordinator's data directory, or wherever its embedder says
//! (`tessera render` writes them where the user asked).

use std::path::{Path, PathBuf};

use tessera_protocol::id::JobId;

/// Where the farm writes each assembled frame; the format follows the file's extension.
pub trait FramePaths: Send + Sync {
    fn frame_path(&self, job: JobId, frame: u32) -> PathBuf;

    /// Where a PNG preview of the frame goes, for the dashboard; none by default.
    fn preview_path(&self, _job: JobId, _frame: u32) -> Option<PathBuf> {
        None
    }
}

/// A coordinator's frames: `frames/<job>/frame_NNNN.exr` in its data directory, served by the
/// API.
pub struct DataDirFrames {
    dir: PathBuf,
}

impl DataDirFrames {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            dir: data_dir.join("frames"),
        }
    }
}

impl FramePaths for DataDirFrames {
    fn frame_path(&self, job: JobId, frame: u32) -> PathBuf {
        self.dir
            .join(job.to_string())
            .join(format!("frame_{frame:04}.exr"))
    }

    fn preview_path(&self, job: JobId, frame: u32) -> Option<PathBuf> {
        Some(
            self.dir
                .join(job.to_string())
                .join(format!("frame_{frame:04}.png")),
        )
    }
}
