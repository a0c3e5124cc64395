//! What watchers see as it happens (the dashboard's job page): accepted tiles and written
//! frames. Nothing waits for a watcher: one that falls behind misses events and is told so, and
//! with nobody watching a tile costs nothing more than a check of the watcher count.

use std::sync::Arc;

use base64::Engine as _;
use tessera_protocol::api::TileEvent;
use tessera_protocol::id::JobId;
use tessera_renderer::film::Tile;
use tessera_renderer::output;

/// How many events a slow watcher may be behind before it misses some.
pub(crate) const BACKLOG: usize = 1024;

#[derive(Clone, Debug)]
pub enum LiveEvent {
    /// A tile was accepted: its linear colours, row by row.
    Tile {
        job: JobId,
        frame: u32,
        tile: Tile,
        color: Arc<Vec<[f32; 4]>>,
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
