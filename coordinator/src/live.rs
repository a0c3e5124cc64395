//! What watchers see as it happens (the dashboard's job page): accepted tiles and written
//! frames. Nothing waits for a watcher: one that falls behind misses events and is told so, and
//! with nobody watching a tile costs nothing more than a check of the watcher count.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use tessera_protocol::api::TileEvent;
use tessera_protocol::id::JobId;
use tessera_renderer::film::Tile;
use tessera_renderer::output;

use crate::store::TaskRecord;

/// How many events a slow watcher may be behind before it misses some.
pub(crate) const BACKLOG: usize = 1024;

/// Event streams one token holder may have open at once: each costs a task and a look at the
/// job every half second, so a client must not open them without end.
pub const WATCHERS_PER_HOLDER: usize = 8;

/// Open event streams, counted per token holder.
#[derive(Default)]
pub struct Watchers(Mutex<HashMap<String, usize>>);

/// One open stream, counted until dropped.
pub struct Watching {
    watchers: Arc<Watchers>,
    holder: String,
}

impl Watchers {
    /// Counts one more stream for `holder`, unless it has [`WATCHERS_PER_HOLDER`] open.
    pub fn admit(self: &Arc<Self>, holder: &str) -> Option<Watching> {
        let mut open = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let count = open.entry(holder.to_owned()).or_default();
        if *count >= WATCHERS_PER_HOLDER {
            return None;
        }
        *count += 1;
        Some(Watching {
            watchers: self.clone(),
            holder: holder.to_owned(),
        })
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        let mut open = self.watchers.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = open.get_mut(&self.holder) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.holder);
            }
        }
    }
}

#[derive(Clone, Debug)]
pub enum LiveEvent {
    /// A tile was accepted. A watcher reads its pixels from the store as it shows it, so that
    /// the events a stalled stream has not read hold no pixels (they pinned up to [`BACKLOG`]
    /// tiles, a gigabyte of 256-pixel tiles, for as long as the stream stayed open).
    Tile {
        job: JobId,
        frame: u32,
        task: TaskRecord,
    },
    /// A frame was written.
    Frame { job: JobId, frame: u32 },
}

impl LiveEvent {
    pub fn job(&self) -> JobId {
        match self {
            LiveEvent::Tile { job, .. } | LiveEvent::Frame { job, .. } => *job,
        }
    }
}

/// A tile as the dashboard draws it: a PNG preview at its place in the frame.
pub fn tile_preview(frame: u32, tile: Tile, color: &[[f32; 4]]) -> Result<TileEvent, String> {
    let mut png = Vec::new();
    output::encode_png(&mut png, tile.width(), tile.height(), color).map_err(|e| e.to_string())?;
    Ok(TileEvent {
        frame,
        x: tile.x(),
        y: tile.y(),
        width: tile.width(),
        height: tile.height(),
        png: base64::engine::general_purpose::STANDARD.encode(png),
    })
}
