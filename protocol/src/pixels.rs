//! How a tile's pixels travel: little-endian f32 planes, deflated, in base64. Decoding is where an
//! untrusted worker's pixels are first checked: exact size, finite values, bounded memory.

use std::cell::RefCell;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use serde::{Deserialize, Serialize};
use tessera_renderer::film::Pixels;

/// f32 values per pixel: color RGBA, albedo RGB, normal XYZ, depth.
const FLOATS_PER_PIXEL: usize = 4 + 3 + 3 + 1;

thread_local! {
    // Kept from tile to tile: a deflate state takes hundreds of kilobytes to allocate and clear,
    // far more than a tiny tile's pixels.
    static COMPRESSOR: RefCell<Compress> = RefCell::new(Compress::new(Compression::fast(), false));
    static DECOMPRESSOR: RefCell<Decompress> = RefCell::new(Decompress::new(false));
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PixelsError {
    #[error("pixel data is not valid base64")]
    Base64,
    #[error("pixel data does not decompress")]
    Compression,
    #[error("pixel data does not end where its compressed stream ends")]
    TrailingBytes,
    #[error("pixel data holds {found} bytes, expected {expected}")]
    WrongSize { expected: usize, found: usize },
    #[error("pixel data holds a non-finite value")]
    NotFinite,
}

/// A tile's pixels as little-endian f32 planes (color, albedo, normal, depth), deflated and in
/// base64 so results stay JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EncodedPixels(String);

impl EncodedPixels {
    pub fn encode(pixels: &Pixels) -> Self {
        let raw = Self::raw(pixels);
        let compressed = COMPRESSOR.with_borrow_mut(|compressor| {
            compressor.reset();
            let mut out = Vec::with_capacity(raw.len() / 2 + 64);
            loop {
                let read = compressor.total_in() as usize;
                // Compressing in memory cannot fail.
                let status = compressor
                    .compress_vec(&raw[read..], &mut out, FlushCompress::Finish)
                    .expect("in-memory compression");
                if status == Status::StreamEnd {
                    return out;
                }
                out.reserve(out.capacity().max(64));
            }
        });
        Self(BASE64.encode(compressed))
    }

    fn raw(pixels: &Pixels) -> Vec<u8> {
        let floats = pixels
            .color
            .iter()
            .flatten()
            .chain(pixels.albedo.iter().flatten())
            .chain(pixels.normal.iter().flatten())
            .chain(&pixels.depth);
        floats.flat_map(|v| v.to_le_bytes()).collect()
    }

    /// Bytes kept on the coordinator's disk: the compressed form.
    pub fn compressed(&self) -> Result<Vec<u8>, PixelsError> {
        BASE64.decode(&self.0).map_err(|_| PixelsError::Base64)
    }

    pub fn from_compressed(bytes: &[u8]) -> Self {
        Self(BASE64.encode(bytes))
    }

    /// The pixels of a tile of `pixel_count` pixels; refuses data of any other size and
    /// non-finite values.
    pub fn decode(&self, pixel_count: usize) -> Result<Pixels, PixelsError> {
        Self::decode_compressed(&self.compressed()?, pixel_count)
    }

    /// [`decode`](Self::decode) for the compressed form, as kept on disk.
    pub fn decode_compressed(compressed: &[u8], pixel_count: usize) -> Result<Pixels, PixelsError> {
        let expected = pixel_count * FLOATS_PER_PIXEL * 4;
        // Inflate at most one byte more than expected, so a decompression bomb costs nothing.
        let mut raw = Vec::with_capacity(expected + 1);
        let (status, read) = DECOMPRESSOR.with_borrow_mut(|decompressor| {
            decompressor.reset(false);
            let status = decompressor
                .decompress_vec(compressed, &mut raw, FlushDecompress::Finish)
                .map_err(|_| PixelsError::Compression)?;
            Ok((status, decompressor.total_in()))
        })?;
        if raw.len() != expected {
            return Err(PixelsError::WrongSize {
                expected,
                found: raw.len(),
            });
        }
        // Whatever follows the stream would be stored with the tile, unchecked.
        if status != Status::StreamEnd || read != compressed.len() as u64 {
            return Err(PixelsError::TrailingBytes);
        }
        let floats: Vec<f32> = raw
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        if !floats.iter().all(|v| v.is_finite()) {
            return Err(PixelsError::NotFinite);
        }
        let n = pixel_count;
        let (color, rest) = floats.split_at(4 * n);
        let (albedo, rest) = rest.split_at(3 * n);
        let (normal, depth) = rest.split_at(3 * n);
        Ok(Pixels {
            color: color
                .chunks_exact(4)
                .map(|c| [c[0], c[1], c[2], c[3]])
                .collect(),
            albedo: albedo.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect(),
            normal: normal.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect(),
            depth: depth.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pixels(n: usize) -> Pixels {
        let mut p = Pixels::zeroed(n);
        for i in 0..n {
            let v = i as f32;
            p.color[i] = [v, v + 0.5, -v, 1.0];
            p.albedo[i] = [0.1, v, 0.3];
            p.normal[i] = [0.0, 1.0, v];
            p.depth[i] = v * 2.0;
        }
        p
    }

    #[test]
    fn pixels_round_trip_bit_exactly() {
        let p = pixels(37);
        let encoded = EncodedPixels::encode(&p);
        assert_eq!(encoded.decode(37).unwrap(), p);
        let again = EncodedPixels::from_compressed(&encoded.compressed().unwrap());
        assert_eq!(again, encoded);
    }

    #[test]
    fn wrong_sizes_and_garbage_are_refused() {
        let encoded = EncodedPixels::encode(&pixels(10));
        assert_eq!(
            encoded.decode(11),
            Err(PixelsError::WrongSize {
                expected: 11 * 44,
                found: 10 * 44
            })
        );
        assert!(matches!(
            encoded.decode(9),
            Err(PixelsError::WrongSize { .. })
        ));
        assert_eq!(
            EncodedPixels("not base64!".into()).decode(1),
            Err(PixelsError::Base64)
        );
        assert_eq!(
            EncodedPixels::from_compressed(b"not deflate").decode(1),
            Err(PixelsError::Compression)
        );
    }

    #[test]
    fn bytes_after_the_stream_are_refused() {
        let mut compressed = EncodedPixels::encode(&pixels(10)).compressed().unwrap();
        compressed.extend_from_slice(&[0; 1000]);
        assert_eq!(
            EncodedPixels::from_compressed(&compressed).decode(10),
            Err(PixelsError::TrailingBytes)
        );
    }

    #[test]
    fn non_finite_values_are_refused() {
        let mut p = pixels(4);
        p.albedo[2][1] = f32::NAN;
        assert_eq!(
            EncodedPixels::encode(&p).decode(4),
            Err(PixelsError::NotFinite)
        );
        p.albedo[2][1] = 0.0;
        p.depth[3] = f32::INFINITY;
        assert_eq!(
            EncodedPixels::encode(&p).decode(4),
            Err(PixelsError::NotFinite)
        );
    }
}
