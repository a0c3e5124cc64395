//! The film: image sizes, tile rectangles, and the pixel buffers a tile or a frame accumulates.
//!
//! A frame is cut into tiles; each tile is rendered on its own (possibly on another machine) and
//! the tiles are pasted back into a [`FrameImage`]. Because every sample's random numbers depend
//! only on (seed, frame, pixel, sample index), the pasted frame is identical to one rendered whole.

use std::fmt;
use std::num::NonZeroU32;

use serde::{Deserialize, Serialize};

/// Largest accepted image side, in pixels. Larger requests are almost always typos and would
/// allocate gigabytes before failing.
pub const MAX_IMAGE_SIDE: u32 = 32_768;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FilmError {
    #[error(
        "image size {width}x{height} is invalid: each side must be between 1 and {MAX_IMAGE_SIDE}"
    )]
    BadResolution { width: u32, height: u32 },
    #[error("tile size must be at least 1 pixel")]
    ZeroTileSize,
    #[error("tile {tile} does not fit in a {width}x{height} image")]
    TileOutside { tile: Tile, width: u32, height: u32 },
    #[error("pixel {pixel}: {what} {values} cannot come from the path tracer")]
    Implausible {
        pixel: usize,
        what: &'static str,
        values: String,
    },
}

/// Width and height of a frame, both within `1..=MAX_IMAGE_SIDE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "(u32, u32)", into = "(u32, u32)")]
pub struct Resolution {
    width: u32,
    height: u32,
}

impl Resolution {
    pub fn new(width: u32, height: u32) -> Result<Self, FilmError> {
        if width == 0 || height == 0 || width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE {
            return Err(FilmError::BadResolution { width, height });
        }
        Ok(Self { width, height })
    }
    pub fn width(self) -> u32 {
        self.width
    }
    pub fn height(self) -> u32 {
        self.height
    }
    pub fn pixel_count(self) -> usize {
        self.width as usize * self.height as usize
    }
    /// The whole frame as one tile.
    pub fn full_tile(self) -> Tile {
        Tile {
            x: 0,
            y: 0,
            width: self.width,
            height: self.height,
        }
    }
    /// How many tiles [`tiles`](Self::tiles) cuts the frame into: counted, not listed, as a
    /// frame of one-pixel tiles would not fit in memory.
    pub fn tile_count(self, size: NonZeroU32) -> u64 {
        let side = u64::from(size.get());
        u64::from(self.width).div_ceil(side) * u64::from(self.height).div_ceil(side)
    }

    /// Cuts the frame into square tiles of `size` pixels (smaller at the right and bottom
    /// edges), in row-major order.
    pub fn tiles(self, size: NonZeroU32) -> Vec<Tile> {
        let size = size.get();
        let mut tiles = Vec::new();
        for y in (0..self.height).step_by(size as usize) {
            for x in (0..self.width).step_by(size as usize) {
                tiles.push(Tile {
                    x,
                    y,
                    width: size.min(self.width - x),
                    height: size.min(self.height - y),
                });
            }
        }
        tiles
    }
}

impl TryFrom<(u32, u32)> for Resolution {
    type Error = FilmError;
    fn try_from((w, h): (u32, u32)) -> Result<Self, FilmError> {
        Self::new(w, h)
    }
}

impl From<Resolution> for (u32, u32) {
    fn from(r: Resolution) -> Self {
        (r.width, r.height)
    }
}

impl fmt::Display for Resolution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}

/// A non-empty rectangle of pixels: columns `x..x+width`, rows `y..y+height`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Tile {
    x: u32,
    y: u32,
    width: u32,
    height: u32,
}

impl Tile {
    /// A tile inside an image of the given resolution.
    pub fn new(
        x: u32,
        y: u32,
        width: u32,
        height: u32,
        within: Resolution,
    ) -> Result<Self, FilmError> {
        let tile = Tile {
            x,
            y,
            width,
            height,
        };
        let fits = width > 0
            && height > 0
            && x.checked_add(width).is_some_and(|r| r <= within.width)
            && y.checked_add(height).is_some_and(|b| b <= within.height);
        if fits {
            Ok(tile)
        } else {
            Err(FilmError::TileOutside {
                tile,
                width: within.width,
                height: within.height,
            })
        }
    }
    /// This tile if it lies within `resolution`: backends check the tiles they are handed,
    /// which were cut for a resolution of the caller's choosing.
    pub fn check_within(self, resolution: Resolution) -> Result<Self, FilmError> {
        Tile::new(self.x, self.y, self.width, self.height, resolution)
    }
    pub fn x(self) -> u32 {
        self.x
    }
    pub fn y(self) -> u32 {
        self.y
    }
    pub fn width(self) -> u32 {
        self.width
    }
    pub fn height(self) -> u32 {
        self.height
    }
    pub fn pixel_count(self) -> usize {
        self.width as usize * self.height as usize
    }
}

impl fmt::Display for Tile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}+{}+{}", self.width, self.height, self.x, self.y)
    }
}

/// Per-pixel outputs of the film: the beauty pass and the first-hit AOVs.
///
/// `color` is linear RGB radiance with alpha = fraction of camera samples that hit geometry;
/// `albedo` and `normal` (world space) are averaged over samples that hit; `depth` is the mean
/// distance along the camera ray of those samples, or [`NO_HIT_DEPTH`] when none hit.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Pixels {
    pub color: Vec<[f32; 4]>,
    pub albedo: Vec<[f32; 3]>,
    pub normal: Vec<[f32; 3]>,
    pub depth: Vec<f32>,
}

/// Depth written where no camera sample hit anything (Blender's convention for "far").
pub const NO_HIT_DEPTH: f32 = 1.0e10;

/// One pixel of [`Pixels`], every output together.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pixel {
    pub color: [f32; 4],
    pub albedo: [f32; 3],
    pub normal: [f32; 3],
    pub depth: f32,
}

impl Pixels {
    pub fn zeroed(count: usize) -> Self {
        Self {
            color: vec![[0.0; 4]; count],
            albedo: vec![[0.0; 3]; count],
            normal: vec![[0.0; 3]; count],
            depth: vec![NO_HIT_DEPTH; count],
        }
    }
    pub fn len(&self) -> usize {
        self.color.len()
    }
    /// Pixel `i`, in row-major order. Panics when out of range, like indexing.
    pub fn get(&self, i: usize) -> Pixel {
        Pixel {
            color: self.color[i],
            albedo: self.albedo[i],
            normal: self.normal[i],
            depth: self.depth[i],
        }
    }
    pub fn is_empty(&self) -> bool {
        self.color.is_empty()
    }

    /// Checks that every buffer holds `expected` pixels; the first length that does not is the
    /// error. Buffers from elsewhere are checked before use: a short one would panic on paste.
    pub fn check_len(&self, expected: usize) -> Result<(), usize> {
        [
            self.color.len(),
            self.albedo.len(),
            self.normal.len(),
            self.depth.len(),
        ]
        .into_iter()
        .find(|&found| found != expected)
        .map_or(Ok(()), Err)
    }

    /// Checks that every value could have come from the path tracer: radiance finite and not
    /// negative, alpha a fraction, albedo finite and not negative, normals averages of unit
    /// vectors, depth a distance or [`NO_HIT_DEPTH`]. A farm uses this on results from workers
    /// it does not control; the first offending pixel is named.
    pub fn check_plausible(&self) -> Result<(), FilmError> {
        // Rounding of sums and of unit vectors in f32.
        const SLACK: f32 = 1e-3;
        let bad = |pixel: usize, what: &'static str, values: &[f32]| {
            Err(FilmError::Implausible {
                pixel,
                what,
                values: format!("{values:?}"),
            })
        };
        for (i, c) in self.color.iter().enumerate() {
            if !c[..3].iter().all(|v| v.is_finite() && *v >= 0.0) {
                return bad(i, "radiance", c);
            }
            if !(0.0..=1.0 + SLACK).contains(&c[3]) {
                return bad(i, "alpha", c);
            }
        }
        for (i, a) in self.albedo.iter().enumerate() {
            if !a.iter().all(|v| v.is_finite() && *v >= 0.0) {
                return bad(i, "albedo", a);
            }
        }
        for (i, n) in self.normal.iter().enumerate() {
            let length_squared: f32 = n.iter().map(|v| v * v).sum();
            if !(length_squared.is_finite() && length_squared <= (1.0 + SLACK) * (1.0 + SLACK)) {
                return bad(i, "normal", n);
            }
        }
        for (i, d) in self.depth.iter().enumerate() {
            if !(d.is_finite() && *d >= 0.0) {
                return bad(i, "depth", &[*d]);
            }
        }
        Ok(())
    }
}

/// One rendered tile: its rectangle and its pixels in row-major order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TileImage {
    pub tile: Tile,
    pub pixels: Pixels,
}

/// A whole frame, assembled from tiles.
#[derive(Clone, Debug, PartialEq)]
pub struct FrameImage {
    resolution: Resolution,
    pub pixels: Pixels,
}

impl FrameImage {
    pub fn new(resolution: Resolution) -> Self {
        Self {
            resolution,
            pixels: Pixels::zeroed(resolution.pixel_count()),
        }
    }
    pub fn resolution(&self) -> Resolution {
        self.resolution
    }
    /// Copies a tile's pixels into place.
    pub fn insert(&mut self, tile: &TileImage) -> Result<(), FilmError> {
        let t = Tile::new(
            tile.tile.x,
            tile.tile.y,
            tile.tile.width,
            tile.tile.height,
            self.resolution,
        )?;
        let w = t.width as usize;
        for row in 0..t.height as usize {
            let src = row * w..(row + 1) * w;
            let start = (t.y as usize + row) * self.resolution.width as usize + t.x as usize;
            let dst = start..start + w;
            self.pixels.color[dst.clone()].copy_from_slice(&tile.pixels.color[src.clone()]);
            self.pixels.albedo[dst.clone()].copy_from_slice(&tile.pixels.albedo[src.clone()]);
            self.pixels.normal[dst.clone()].copy_from_slice(&tile.pixels.normal[src.clone()]);
            self.pixels.depth[dst].copy_from_slice(&tile.pixels.depth[src]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_cover_the_frame_exactly_once() {
        let res = Resolution::new(130, 70).unwrap();
        let tiles = res.tiles(NonZeroU32::new(32).unwrap());
        assert_eq!(tiles.len(), 5 * 3);
        assert_eq!(res.tile_count(NonZeroU32::new(32).unwrap()), 5 * 3);
        let mut covered = vec![0u8; res.pixel_count()];
        for t in &tiles {
            for y in t.y..t.y + t.height {
                for x in t.x..t.x + t.width {
                    covered[(y * 130 + x) as usize] += 1;
                }
            }
        }
        assert!(covered.iter().all(|&c| c == 1));
        assert_eq!(tiles.last().unwrap().width(), 2);
        assert_eq!(tiles.last().unwrap().height(), 6);
    }

    #[test]
    fn invalid_sizes_are_refused() {
        assert!(Resolution::new(0, 10).is_err());
        assert!(Resolution::new(10, MAX_IMAGE_SIDE + 1).is_err());
        let res = Resolution::new(10, 10).unwrap();
        assert!(Tile::new(8, 0, 4, 4, res).is_err());
        assert!(Tile::new(0, 0, 0, 4, res).is_err());
        assert!(Tile::new(u32::MAX, 0, 4, 4, res).is_err());
    }

    #[test]
    fn insert_places_tile_pixels() {
        let res = Resolution::new(4, 3).unwrap();
        let mut frame = FrameImage::new(res);
        let tile = Tile::new(2, 1, 2, 2, res).unwrap();
        let mut pixels = Pixels::zeroed(4);
        pixels.color[3] = [1.0, 2.0, 3.0, 1.0];
        frame.insert(&TileImage { tile, pixels }).unwrap();
        assert_eq!(frame.pixels.color[2 * 4 + 3], [1.0, 2.0, 3.0, 1.0]);
        assert_eq!(frame.pixels.color[4 + 2], [0.0; 4]);
    }

    #[test]
    fn plausible_pixels_pass_and_impossible_ones_are_named() {
        let mut p = Pixels::zeroed(4);
        p.color[1] = [0.5, 2.0, 40.0, 1.0];
        p.normal[2] = [0.0, -1.0, 0.0];
        p.depth[3] = 3.5;
        assert_eq!(p.check_plausible(), Ok(()));
        type Breaks = fn(&mut Pixels);
        let broken: [(&str, Breaks); 6] = [
            ("radiance", |p| p.color[2][0] = f32::NAN),
            ("radiance", |p| p.color[0][2] = -0.1),
            ("alpha", |p| p.color[3][3] = 1.5),
            ("albedo", |p| p.albedo[1][1] = f32::INFINITY),
            ("normal", |p| p.normal[0] = [0.8, 0.8, 0.0]),
            ("depth", |p| p.depth[2] = -1.0),
        ];
        for (what, breaks) in broken {
            let mut bad = p.clone();
            breaks(&mut bad);
            let err = bad.check_plausible().unwrap_err().to_string();
            assert!(err.contains(what), "{what}: {err}");
        }
    }
}
