//! Merging: pasting rendered tiles into frames and noticing when a frame is complete.
//!
//! Tiles may arrive in any order, from any machine, and (after a retry) more than once; the
//! merger accepts each tile of the plan once and hands back a frame as soon as its last tile is in.

use std::collections::{BTreeSet, HashMap, HashSet};

use tessera_renderer::film::{FilmError, FrameImage, Tile, TileImage};

use crate::task::TaskPlan;

#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("frame {frame} is not part of this job")]
    UnknownFrame { frame: u32 },
    #[error("tile {tile} of frame {frame} is not part of this job")]
    UnknownTile { frame: u32, tile: Tile },
    #[error("tile {tile} of frame {frame} arrived twice")]
    Duplicate { frame: u32, tile: Tile },
    #[error("tile {tile} of frame {frame} has {found} pixels in a buffer, expected {expected}")]
    WrongPixelCount {
        frame: u32,
        tile: Tile,
        expected: usize,
        found: usize,
    },
    #[error("cannot place tile {tile} of frame {frame}")]
    Film {
        frame: u32,
        tile: Tile,
        #[source]
        source: FilmError,
    },
}

/// A frame still waiting for tiles.
struct PartialFrame {
    image: FrameImage,
    received: HashSet<Tile>,
}

/// Assembles the frames of one [`TaskPlan`]. Memory is held only for frames with some but not
/// all tiles in.
pub struct FrameMerger {
    plan: TaskPlan,
    planned_tiles: HashSet<Tile>,
    partial: HashMap<u32, PartialFrame>,
    complete: BTreeSet<u32>,
}

impl FrameMerger {
    pub fn new(plan: TaskPlan) -> Self {
        Self {
            planned_tiles: plan.tiles().iter().copied().collect(),
            plan,
            partial: HashMap::new(),
            complete: BTreeSet::new(),
        }
    }

    /// Adds a rendered tile of `frame`. Returns the frame's image once this was its last tile.
    pub fn add(&mut self, frame: u32, tile: TileImage) -> Result<Option<FrameImage>, MergeError> {
        let t = tile.tile;
        if self.plan.frames().frames().binary_search(&frame).is_err() {
            return Err(MergeError::UnknownFrame { frame });
        }
        if !self.planned_tiles.contains(&t) {
            return Err(MergeError::UnknownTile { frame, tile: t });
        }
        if self.complete.contains(&frame) {
            return Err(MergeError::Duplicate { frame, tile: t });
        }
        let expected = t.pixel_count();
        // A remote worker's output must never crash the coordinator.
        tile.pixels
            .check_len(expected)
            .map_err(|found| MergeError::WrongPixelCount {
                frame,
                tile: t,
                expected,
                found,
            })?;
        let resolution = self.plan.resolution();
        let partial = self.partial.entry(frame).or_insert_with(|| PartialFrame {
            image: FrameImage::new(resolution),
            received: HashSet::new(),
        });
        if partial.received.contains(&t) {
            return Err(MergeError::Duplicate { frame, tile: t });
        }
        partial
            .image
            .insert(&tile)
            .map_err(|source| MergeError::Film {
                frame,
                tile: t,
                source,
            })?;
        partial.received.insert(t);
        if partial.received.len() < self.planned_tiles.len() {
            return Ok(None);
        }
        self.complete.insert(frame);
        Ok(self.partial.remove(&frame).map(|p| p.image))
    }

    pub fn plan(&self) -> &TaskPlan {
        &self.plan
    }

    /// Frames whose every tile has been merged, ascending.
    pub fn complete_frames(&self) -> impl Iterator<Item = u32> + '_ {
        self.complete.iter().copied()
    }

    /// True once every frame of the plan is complete.
    pub fn is_done(&self) -> bool {
        self.complete.len() == self.plan.frames().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::num::NonZeroU32;
    use tessera_renderer::film::{Pixels, Resolution};

    /// A tile whose pixels encode the frame and the pixel position, so misplacement shows.
    fn rendered(frame: u32, tile: Tile, width: u32) -> TileImage {
        let mut pixels = Pixels::zeroed(tile.pixel_count());
        for row in 0..tile.height() {
            for col in 0..tile.width() {
                let i = (row * tile.width() + col) as usize;
                let global = (tile.y() + row) * width + tile.x() + col;
                pixels.color[i] = [global as f32, frame as f32, 0.0, 1.0];
                pixels.depth[i] = global as f32;
            }
        }
        TileImage { tile, pixels }
    }

    fn plan() -> TaskPlan {
        TaskPlan::new(
            "1,2".parse().unwrap(),
            Resolution::new(10, 7).unwrap(),
            NonZeroU32::new(4).unwrap(),
        )
    }

    #[test]
    fn frames_complete_when_their_last_tile_arrives_in_any_order() {
        let plan = plan();
        let tiles: Vec<Tile> = plan.tiles().to_vec();
        let mut merger = FrameMerger::new(plan);
        // Interleave the two frames, tiles in reverse order.
        let mut done = Vec::new();
        for tile in tiles.iter().rev() {
            for frame in [2, 1] {
                if let Some(image) = merger.add(frame, rendered(frame, *tile, 10)).unwrap() {
                    done.push((frame, image));
                }
            }
        }
        assert!(merger.is_done());
        assert_eq!(merger.complete_frames().collect::<Vec<_>>(), [1, 2]);
        assert_eq!(done.len(), 2);
        for (frame, image) in done {
            for (i, c) in image.pixels.color.iter().enumerate() {
                assert_eq!(*c, [i as f32, frame as f32, 0.0, 1.0]);
                assert_eq!(image.pixels.depth[i], i as f32);
            }
        }
    }

    #[test]
    fn a_frame_is_not_complete_until_every_tile_is_in() {
        let plan = plan();
        let tiles: Vec<Tile> = plan.tiles().to_vec();
        let mut merger = FrameMerger::new(plan);
        for tile in &tiles[..tiles.len() - 1] {
            assert!(merger.add(1, rendered(1, *tile, 10)).unwrap().is_none());
        }
        assert!(!merger.is_done());
        assert_eq!(merger.complete_frames().count(), 0);
        let last = *tiles.last().unwrap();
        assert!(merger.add(1, rendered(1, last, 10)).unwrap().is_some());
        assert!(!merger.is_done());
    }

    #[test]
    fn bad_tiles_are_refused() {
        let plan = plan();
        let res = plan.resolution();
        let first = plan.tiles()[0];
        let mut merger = FrameMerger::new(plan);
        assert!(matches!(
            merger.add(3, rendered(3, first, 10)),
            Err(MergeError::UnknownFrame { frame: 3 })
        ));
        let odd = Tile::new(1, 1, 4, 4, res).unwrap();
        assert!(matches!(
            merger.add(1, rendered(1, odd, 10)),
            Err(MergeError::UnknownTile { .. })
        ));
        let mut short = rendered(1, first, 10);
        short.pixels.normal.pop();
        assert!(matches!(
            merger.add(1, short),
            Err(MergeError::WrongPixelCount { .. })
        ));
        merger.add(1, rendered(1, first, 10)).unwrap();
        assert!(matches!(
            merger.add(1, rendered(1, first, 10)),
            Err(MergeError::Duplicate { .. })
        ));
    }
}
