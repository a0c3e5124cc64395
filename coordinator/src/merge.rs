//! Merging: pasting a frame's rendered tiles into the frame.
//!
//! Tiles come from any machine in any order; the merger places each tile of the frame's plan
//! once and hands the frame back only when every tile is in.

use std::collections::HashSet;
use std::num::NonZeroU32;

use tessera_renderer::film::{FilmError, FrameImage, Resolution, Tile, TileImage};

#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("tile {0} is not part of the frame")]
    UnknownTile(Tile),
    #[error("tile {0} arrived twice")]
    Duplicate(Tile),
    #[error("tile {tile} has {found} pixels in a buffer, expected {expected}")]
    WrongPixelCount {
        tile: Tile,
        expected: usize,
        found: usize,
    },
    #[error("cannot place tile {tile}")]
    Film {
        tile: Tile,
        #[source]
        source: FilmError,
    },
    #[error("{0} tile(s) of the frame are missing")]
    Missing(usize),
}

/// One frame being assembled from its tiles.
pub struct FrameMerger {
    planned: HashSet<Tile>,
    received: HashSet<Tile>,
    image: FrameImage,
}

impl FrameMerger {
    /// A frame of `resolution` cut into tiles of `tile_size`.
    pub fn new(resolution: Resolution, tile_size: NonZeroU32) -> Self {
        Self {
            planned: resolution.tiles(tile_size).into_iter().collect(),
            received: HashSet::new(),
            image: FrameImage::new(resolution),
        }
    }

    /// Places one rendered tile.
    pub fn add(&mut self, tile: &TileImage) -> Result<(), MergeError> {
        let t = tile.tile;
        if !self.planned.contains(&t) {
            return Err(MergeError::UnknownTile(t));
        }
        if self.received.contains(&t) {
            return Err(MergeError::Duplicate(t));
        }
        let expected = t.pixel_count();
        // A remote worker's output must never crash the coordinator.
        tile.pixels
            .check_len(expected)
            .map_err(|found| MergeError::WrongPixelCount {
                tile: t,
                expected,
                found,
            })?;
        self.image
            .insert(tile)
            .map_err(|source| MergeError::Film { tile: t, source })?;
        self.received.insert(t);
        Ok(())
    }

    /// The frame, once every tile is in.
    pub fn finish(self) -> Result<FrameImage, MergeError> {
        match self.planned.len() - self.received.len() {
            0 => Ok(self.image),
            missing => Err(MergeError::Missing(missing)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_renderer::film::Pixels;

    /// A tile whose pixels encode the pixel position, so misplacement shows.
    fn rendered(tile: Tile, width: u32) -> TileImage {
        let mut pixels = Pixels::zeroed(tile.pixel_count());
        for row in 0..tile.height() {
            for col in 0..tile.width() {
                let i = (row * tile.width() + col) as usize;
                let global = (tile.y() + row) * width + tile.x() + col;
                pixels.color[i] = [global as f32, 0.0, 0.0, 1.0];
                pixels.depth[i] = global as f32;
            }
        }
        TileImage { tile, pixels }
    }

    fn frame() -> (Resolution, NonZeroU32) {
        (Resolution::new(10, 7).unwrap(), NonZeroU32::new(4).unwrap())
    }

    #[test]
    fn a_frame_is_complete_once_every_tile_is_in_whatever_the_order() {
        let (res, size) = frame();
        let tiles = res.tiles(size);
        let mut merger = FrameMerger::new(res, size);
        for tile in tiles.iter().rev() {
            merger.add(&rendered(*tile, 10)).unwrap();
        }
        let image = merger.finish().unwrap();
        for (i, c) in image.pixels.color.iter().enumerate() {
            assert_eq!(*c, [i as f32, 0.0, 0.0, 1.0]);
            assert_eq!(image.pixels.depth[i], i as f32);
        }
    }

    #[test]
    fn a_frame_with_a_tile_missing_is_not_finished() {
        let (res, size) = frame();
        let tiles = res.tiles(size);
        let mut merger = FrameMerger::new(res, size);
        for tile in &tiles[1..] {
            merger.add(&rendered(*tile, 10)).unwrap();
        }
        assert!(matches!(merger.finish(), Err(MergeError::Missing(1))));
    }

    #[test]
    fn bad_tiles_are_refused() {
        let (res, size) = frame();
        let first = res.tiles(size)[0];
        let mut merger = FrameMerger::new(res, size);
        let odd = Tile::new(1, 1, 4, 4, res).unwrap();
        assert!(matches!(
            merger.add(&rendered(odd, 10)),
            Err(MergeError::UnknownTile(_))
        ));
        let mut short = rendered(first, 10);
        short.pixels.normal.pop();
        assert!(matches!(
            merger.add(&short),
            Err(MergeError::WrongPixelCount { .. })
        ));
        merger.add(&rendered(first, 10)).unwrap();
        assert!(matches!(
            merger.add(&rendered(first, 10)),
            Err(MergeError::Duplicate(_))
        ));
    }
}
