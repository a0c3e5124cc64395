//! Textures as the loader hands them over: texels in the precision the image stored them
//! (8-bit images stay 8-bit and are decoded to linear values at lookup, as Cycles keeps them),
//! with glTF's sampler state, and the per-use reference (UV set and `KHR_texture_transform`).

use std::sync::{Arc, LazyLock};

use glam::{Vec2, Vec4};

use crate::transcendental;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wrap {
    Repeat,
    ClampToEdge,
    MirroredRepeat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Filter {
    Nearest,
    Linear,
}

/// An image's RGBA texels, row 0 at the top, as glTF's UV convention (v = 0 at the top) expects.
#[derive(Clone, Debug)]
pub struct Texture {
    pub width: u32,
    pub height: u32,
    pub texels: Texels,
    pub wrap_s: Wrap,
    pub wrap_t: Wrap,
    pub filter: Filter,
}

/// Texel values as the image stored them.
#[derive(Clone, Debug)]
pub enum Texels {
    /// 8 bits per channel (every JPEG, most PNGs), shared by every use of the image; with
    /// `srgb`, the colour channels are sRGB-encoded and decoded at lookup (alpha is linear).
    Rgba8 { data: Arc<Vec<[u8; 4]>>, srgb: bool },
    /// Deeper images (16-bit PNGs): linear floats.
    Float(Arc<Vec<[f32; 4]>>),
}

impl Texels {
    /// Linear RGBA floats from `values` in [0, 1], decoded from sRGB where `srgb` says.
    pub fn float(values: impl Iterator<Item = [f32; 4]>, srgb: bool) -> Self {
        let decode = |[r, g, b, a]: [f32; 4]| {
            if srgb {
                [srgb_to_linear(r), srgb_to_linear(g), srgb_to_linear(b), a]
            } else {
                [r, g, b, a]
            }
        };
        Texels::Float(Arc::new(values.map(decode).collect()))
    }

    /// Texel `i` in linear RGBA.
    #[inline]
    pub fn get(&self, i: usize) -> [f32; 4] {
        match self {
            Texels::Rgba8 { data, srgb } => {
                let [r, g, b, a] = data[i];
                let table = if *srgb { &*SRGB8 } else { &*UNORM8 };
                [
                    table[r as usize],
                    table[g as usize],
                    table[b as usize],
                    UNORM8[a as usize],
                ]
            }
            Texels::Float(data) => data[i],
        }
    }

    /// Bytes the texels take (shared 8-bit data counts in every texture using it).
    pub fn bytes(&self) -> usize {
        match self {
            Texels::Rgba8 { data, .. } => data.len() * 4,
            Texels::Float(data) => data.len() * 16,
        }
    }
}

/// 8-bit values as linear floats, and 8-bit sRGB values decoded: the same numbers the loader
/// computed per texel when it kept floats.
static UNORM8: LazyLock<[f32; 256]> = LazyLock::new(|| std::array::from_fn(|i| i as f32 / 255.0));
static SRGB8: LazyLock<[f32; 256]> =
    LazyLock::new(|| std::array::from_fn(|i| srgb_to_linear(i as f32 / 255.0)));

/// The sRGB transfer function's inverse, for one channel in [0, 1].
pub fn srgb_to_linear(c: f32) -> f32 {
    if c <= 0.04045 {
        c / 12.92
    } else {
        transcendental::powf((c + 0.055) / 1.055, 2.4)
    }
}

/// `KHR_texture_transform`: uv' = T(offset) * R(rotation) * S(scale) * uv.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UvTransform {
    pub offset: Vec2,
    pub rotation: f32,
    pub scale: Vec2,
}

impl Default for UvTransform {
    fn default() -> Self {
        Self {
            offset: Vec2::ZERO,
            rotation: 0.0,
            scale: Vec2::ONE,
        }
    }
}

impl UvTransform {
    pub fn apply(&self, uv: Vec2) -> Vec2 {
        let s = uv * self.scale;
        let (sin, cos) = transcendental::sin_cos(self.rotation);
        // The extension's matrix rotates clockwise in UV space (v points down).
        Vec2::new(cos * s.x + sin * s.y, -sin * s.x + cos * s.y) + self.offset
    }
}

/// Where a material reads a texture from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TextureRef {
    /// Index into [`crate::scene::FrameScene::textures`].
    pub texture: u32,
    /// Which UV set: 0 or 1.
    pub tex_coord: u32,
    pub transform: UvTransform,
}

impl Texture {
    /// Samples at `uv` with the texture's own wrap and filter modes.
    pub fn sample(&self, uv: Vec2) -> Vec4 {
        let (w, h) = (self.width as i64, self.height as i64);
        match self.filter {
            Filter::Nearest => {
                let x = wrap(clamp_far(uv.x * w as f32).floor() as i64, w, self.wrap_s);
                let y = wrap(clamp_far(uv.y * h as f32).floor() as i64, h, self.wrap_t);
                self.texel(x, y)
            }
            Filter::Linear => {
                let fx = clamp_far(uv.x * w as f32 - 0.5);
                let fy = clamp_far(uv.y * h as f32 - 0.5);
                let (x0, y0) = (fx.floor(), fy.floor());
                let (tx, ty) = (fx - x0, fy - y0);
                let (x0, y0) = (x0 as i64, y0 as i64);
                let xa = wrap(x0, w, self.wrap_s);
                let xb = wrap(x0 + 1, w, self.wrap_s);
                let ya = wrap(y0, h, self.wrap_t);
                let yb = wrap(y0 + 1, h, self.wrap_t);
                let top = self.texel(xa, ya).lerp(self.texel(xb, ya), tx);
                let bottom = self.texel(xa, yb).lerp(self.texel(xb, yb), tx);
                top.lerp(bottom, ty)
            }
        }
    }

    fn texel(&self, x: usize, y: usize) -> Vec4 {
        Vec4::from(self.texels.get(y * self.width as usize + x))
    }
}

/// Texel coordinates further out than this all sample texel 0: an f32 UV there has no
/// precision left to tell texels apart.
const FAR_TEXEL: i64 = 1 << 40;

/// A texel coordinate limited to twice [`FAR_TEXEL`] before it becomes an integer, so that
/// huge or infinite UVs cannot overflow `i64` arithmetic; `wrap` still sends them to texel 0.
/// NaN goes to the limit too (`max` ignores it). Nearer coordinates pass unchanged.
fn clamp_far(t: f32) -> f32 {
    let limit = (2 * FAR_TEXEL) as f32;
    t.max(-limit).min(limit)
}

fn wrap(i: i64, n: i64, mode: Wrap) -> usize {
    let i = if i.abs() > FAR_TEXEL { 0 } else { i };
    (match mode {
        Wrap::Repeat => i.rem_euclid(n),
        Wrap::ClampToEdge => i.clamp(0, n - 1),
        Wrap::MirroredRepeat => {
            let m = i.rem_euclid(2 * n);
            if m < n { m } else { 2 * n - 1 - m }
        }
    }) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checker(wrap_mode: Wrap, filter: Filter) -> Texture {
        Texture {
            width: 2,
            height: 2,
            texels: Texels::float([[1.0; 4], [0.0; 4], [0.0; 4], [1.0; 4]].into_iter(), false),
            wrap_s: wrap_mode,
            wrap_t: wrap_mode,
            filter,
        }
    }

    #[test]
    fn nearest_repeat_and_clamp() {
        let t = checker(Wrap::Repeat, Filter::Nearest);
        assert_eq!(t.sample(Vec2::new(0.25, 0.25)).x, 1.0);
        assert_eq!(t.sample(Vec2::new(0.75, 0.25)).x, 0.0);
        assert_eq!(t.sample(Vec2::new(1.25, 0.25)).x, 1.0);
        let c = checker(Wrap::ClampToEdge, Filter::Nearest);
        assert_eq!(c.sample(Vec2::new(1.75, 0.25)).x, 0.0);
        let m = checker(Wrap::MirroredRepeat, Filter::Nearest);
        assert_eq!(m.sample(Vec2::new(1.25, 0.25)).x, 0.0);
    }

    #[test]
    fn linear_blends_neighbours() {
        let t = checker(Wrap::Repeat, Filter::Linear);
        assert!((t.sample(Vec2::new(0.5, 0.25)).x - 0.5).abs() < 1e-6);
    }

    #[test]
    fn infinite_huge_and_nan_uvs_sample_texel_0() {
        for mode in [Wrap::Repeat, Wrap::ClampToEdge, Wrap::MirroredRepeat] {
            for filter in [Filter::Nearest, Filter::Linear] {
                let t = checker(mode, filter);
                // The centre of column 0, weighted 1 by either filter.
                let column_0 = t.sample(Vec2::new(0.25, 0.5));
                for u in [f32::INFINITY, f32::NEG_INFINITY, 1e35, -1e35, f32::NAN] {
                    let texel = t.sample(Vec2::new(u, 0.5));
                    assert_eq!(texel, column_0, "{mode:?} {filter:?} u = {u}");
                }
            }
        }
    }

    #[test]
    fn transform_rotates_offsets_and_scales() {
        let t = UvTransform {
            offset: Vec2::new(0.5, 0.0),
            rotation: std::f32::consts::FRAC_PI_2,
            scale: Vec2::new(2.0, 2.0),
        };
        let uv = t.apply(Vec2::new(1.0, 0.0));
        assert!((uv - Vec2::new(0.5, -2.0)).length() < 1e-5, "{uv}");
    }
}
