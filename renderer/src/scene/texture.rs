//! glTF textures -> [`Texture`]s: images decoded once and kept in their stored precision (an
//! 8-bit image is shared by every use, sRGB or linear), with the texture's sampler state.

use std::borrow::Cow;
use std::collections::HashMap;
use std::f32::consts::TAU;
use std::io::Cursor;
use std::sync::Arc;

use glam::Vec2;
use gltf::texture::{MagFilter, WrappingMode};
use image::{ColorType, ImageDecoder};

use super::SceneError;
use super::document::Document;
use crate::texture::{Filter, Texels, Texture, TextureRef, UvTransform, Wrap};

/// Larger images are refused rather than risking the memory of a farm worker (a 16k square
/// RGBA image is 1 GiB at 8 bits, 4 GiB as floats).
const MAX_IMAGE_SIDE: u32 = 16384;

/// How a material slot interprets texel values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ColorSpace {
    /// Base colour and emission: stored sRGB-encoded.
    Srgb,
    /// Data: metallic-roughness, normals, transmission.
    Linear,
}

/// One use of a glTF texture by a material slot.
pub struct TextureUse<'a> {
    pub texture: gltf::Texture<'a>,
    pub tex_coord: u32,
    pub transform: Option<UvTransform>,
}

impl<'a> From<gltf::texture::Info<'a>> for TextureUse<'a> {
    fn from(info: gltf::texture::Info<'a>) -> Self {
        let transform = info.texture_transform();
        let tex_coord = transform
            .as_ref()
            .and_then(|t| t.tex_coord())
            .unwrap_or(info.tex_coord());
        Self {
            texture: info.texture(),
            tex_coord,
            transform: transform.map(|t| UvTransform {
                offset: Vec2::from(t.offset()),
                rotation: t.rotation(),
                scale: Vec2::from(t.scale()),
            }),
        }
    }
}

impl<'a> From<gltf::material::NormalTexture<'a>> for TextureUse<'a> {
    /// The gltf crate does not parse `KHR_texture_transform` on normal textures, so read the
    /// raw extension object.
    fn from(normal: gltf::material::NormalTexture<'a>) -> Self {
        let raw = normal.extension_value("KHR_texture_transform");
        let (tex_coord, transform) = raw_transform(raw, normal.tex_coord());
        Self {
            texture: normal.texture(),
            tex_coord,
            transform,
        }
    }
}

impl<'a> TextureUse<'a> {
    /// A texture info object of an extension the gltf crate does not parse (`{"index": N,
    /// "texCoord": K, "extensions": {"KHR_texture_transform": ...}}`); `None` when it names
    /// no texture of the document.
    pub fn from_json(doc: &'a gltf::Document, info: &gltf::json::Value) -> Option<Self> {
        let index = usize::try_from(info.get("index")?.as_u64()?).ok()?;
        let texture = doc.textures().nth(index)?;
        let own = info
            .get("texCoord")
            .and_then(|v| v.as_u64())
            .map_or(0, |v| u32::try_from(v).unwrap_or(u32::MAX));
        let raw = info
            .get("extensions")
            .and_then(|e| e.get("KHR_texture_transform"));
        let (tex_coord, transform) = raw_transform(raw, own);
        Some(Self {
            texture,
            tex_coord,
            transform,
        })
    }
}

/// The UV set and transform of a raw `KHR_texture_transform` object (`None`: no transform).
fn raw_transform(raw: Option<&gltf::json::Value>, tex_coord: u32) -> (u32, Option<UvTransform>) {
    let pair = |key: &str, default: Vec2| -> Vec2 {
        raw.and_then(|t| t.get(key))
            .and_then(|v| v.as_array())
            .and_then(|a| {
                Some(Vec2::new(
                    a.first()?.as_f64()? as f32,
                    a.get(1)?.as_f64()? as f32,
                ))
            })
            .unwrap_or(default)
    };
    let tex_coord = raw
        .and_then(|t| t.get("texCoord"))
        .and_then(|v| v.as_u64())
        .map_or(tex_coord, |v| u32::try_from(v).unwrap_or(u32::MAX));
    let transform = raw.map(|t| UvTransform {
        offset: pair("offset", Vec2::ZERO),
        rotation: t.get("rotation").and_then(|v| v.as_f64()).unwrap_or(0.0) as f32,
        scale: pair("scale", Vec2::ONE),
    });
    (tex_coord, transform)
}

/// The textures a scene's materials use, built on demand.
pub struct TextureSet<'d> {
    doc: &'d Document,
    pub textures: Vec<Texture>,
    by_key: HashMap<(usize, ColorSpace), u32>,
    /// Decoded images, values as stored (not yet linearised), by glTF image index.
    images: HashMap<usize, Decoded>,
    warned_tex_coord: bool,
}

impl<'d> TextureSet<'d> {
    pub fn new(doc: &'d Document) -> Self {
        Self {
            doc,
            textures: Vec::new(),
            by_key: HashMap::new(),
            images: HashMap::new(),
            warned_tex_coord: false,
        }
    }

    /// The reference a material stores for this texture use.
    pub fn reference(
        &mut self,
        usage: TextureUse,
        space: ColorSpace,
    ) -> Result<TextureRef, SceneError> {
        let tex_coord = if usage.tex_coord > 1 {
            if !self.warned_tex_coord {
                tracing::warn!(
                    "{}: only TEXCOORD_0 and TEXCOORD_1 are supported; using TEXCOORD_0 instead of TEXCOORD_{}",
                    self.doc.file,
                    usage.tex_coord
                );
                self.warned_tex_coord = true;
            }
            0
        } else {
            usage.tex_coord
        };
        let transform = usage.transform.unwrap_or_default();
        let values = [
            transform.offset,
            transform.scale,
            Vec2::splat(transform.rotation),
        ];
        if values.iter().any(|v| !v.is_finite()) {
            return Err(self.doc.invalid(format!(
                "texture {} has a non-finite KHR_texture_transform",
                usage.texture.index()
            )));
        }
        // Whole turns dropped (exactly: `%` rounds nothing), so that a huge angle stays where
        // the sine is accurate.
        let transform = UvTransform {
            rotation: transform.rotation % TAU,
            ..transform
        };
        Ok(TextureRef {
            texture: self.texture(&usage.texture, space)?,
            tex_coord,
            transform,
        })
    }

    fn texture(&mut self, texture: &gltf::Texture, space: ColorSpace) -> Result<u32, SceneError> {
        let key = (texture.index(), space);
        if let Some(&index) = self.by_key.get(&key) {
            return Ok(index);
        }
        let image = texture.source();
        if !self.images.contains_key(&image.index()) {
            let decoded = self.decode(&image)?;
            self.images.insert(image.index(), decoded);
        }
        let decoded = &self.images[&image.index()];
        let srgb = space == ColorSpace::Srgb;
        let (width, height, texels) = match decoded {
            Decoded::Rgba8 {
                width,
                height,
                data,
            } => (
                *width,
                *height,
                Texels::Rgba8 {
                    data: data.clone(),
                    srgb,
                },
            ),
            Decoded::Float(image) => {
                // A float image's texels are copied for each colour space it is read in.
                let (width, height) = image.dimensions();
                self.doc
                    .hold(u64::from(width) * u64::from(height) * 16, || {
                        format!("texture {} ({width}x{height} floats)", texture.index())
                    })?;
                (
                    width,
                    height,
                    Texels::float(image.pixels().map(|p| p.0), srgb),
                )
            }
        };
        let sampler = texture.sampler();
        let index = self.textures.len() as u32;
        self.textures.push(Texture {
            width,
            height,
            texels,
            wrap_s: wrap(sampler.wrap_s()),
            wrap_t: wrap(sampler.wrap_t()),
            filter: match sampler.mag_filter() {
                Some(MagFilter::Nearest) => Filter::Nearest,
                _ => Filter::Linear,
            },
        });
        self.by_key.insert(key, index);
        Ok(index)
    }

    /// Counts what the images of the scene's textures take once decoded against the scene's
    /// memory budget ([`Document::hold`]), from their headers, before any is decoded. An image
    /// whose header cannot be read is left to [`decode`](Self::decode) to refuse, where used.
    pub fn hold_images(&self) -> Result<(), SceneError> {
        let mut images: Vec<gltf::Image> = self.doc.gltf.textures().map(|t| t.source()).collect();
        images.sort_by_key(|image| image.index());
        images.dedup_by_key(|image| image.index());
        for image in images {
            let Ok(bytes) = self.bytes(&image) else {
                continue;
            };
            let Ok(decoder) = self.decoder(&image, &bytes) else {
                continue;
            };
            // As kept: 4 bytes a texel for 8-bit images, 16 for deeper ones (floats).
            let (width, height) = decoder.dimensions();
            let texel_bytes = if eight_bit(decoder.color_type()) {
                4
            } else {
                16
            };
            self.doc
                .hold(u64::from(width) * u64::from(height) * texel_bytes, || {
                    format!("image {} ({width}x{height})", image.index())
                })?;
        }
        Ok(())
    }

    /// The image's encoded bytes. Its source is read from the JSON: the gltf crate unwraps
    /// `mimeType` and `uri`, which validation does not require.
    fn bytes(&self, image: &gltf::Image) -> Result<Cow<'d, [u8]>, SceneError> {
        let json = &self.doc.gltf.as_json().images[image.index()];
        match (&json.buffer_view, &json.uri) {
            (Some(view), _) => {
                let view = self.doc.gltf.views().nth(view.value()).ok_or_else(|| {
                    self.doc
                        .invalid(format!("image {} uses a missing bufferView", image.index()))
                })?;
                Ok(Cow::Borrowed(self.doc.view_bytes(&view)?))
            }
            (None, Some(uri)) => Ok(Cow::Owned(self.doc.read_uri(uri)?)),
            (None, None) => Err(self.doc.invalid(format!(
                "image {} has neither a uri nor a bufferView",
                image.index()
            ))),
        }
    }

    /// A decoder of `bytes`, image `image`'s, within the size limits.
    fn decoder<'b>(
        &self,
        image: &gltf::Image,
        bytes: &'b [u8],
    ) -> Result<impl ImageDecoder + 'b, SceneError> {
        let error = |e: image::ImageError| self.image_error(image, e.to_string());
        let mut reader = image::ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| self.image_error(image, e.to_string()))?;
        // glTF's images are PNG or JPEG. The decoder also reads environment maps' HDR and EXR,
        // and an EXR's size limits bound only its display window: a 2x1 image whose data
        // window is a billion pixels wide would be allocated whole.
        if !matches!(
            reader.format(),
            Some(image::ImageFormat::Png | image::ImageFormat::Jpeg)
        ) {
            return Err(self.image_error(image, "not a PNG or JPEG image".to_owned()));
        }
        let mut limits = image::Limits::default();
        limits.max_image_width = Some(MAX_IMAGE_SIDE);
        limits.max_image_height = Some(MAX_IMAGE_SIDE);
        reader.limits(limits);
        reader.into_decoder().map_err(error)
    }

    fn image_error(&self, image: &gltf::Image, detail: String) -> SceneError {
        SceneError::Image {
            file: self.doc.file.clone(),
            index: image.index(),
            detail,
        }
    }

    fn decode(&self, image: &gltf::Image) -> Result<Decoded, SceneError> {
        let bytes = self.bytes(image)?;
        let decoder = self.decoder(image, &bytes)?;
        let decoded = image::DynamicImage::from_decoder(decoder)
            .map_err(|e| self.image_error(image, e.to_string()))?;
        if decoded.width() == 0 || decoded.height() == 0 {
            return Err(self.image_error(image, "image is empty".to_owned()));
        }
        Ok(if eight_bit(decoded.color()) {
            // An RGBA image's buffer is taken over as it is, not copied.
            let rgba = decoded.into_rgba8();
            let (width, height) = rgba.dimensions();
            let data =
                bytemuck::allocation::try_cast_vec(rgba.into_raw()).unwrap_or_else(|(_, raw)| {
                    raw.chunks_exact(4)
                        .map(|c| [c[0], c[1], c[2], c[3]])
                        .collect()
                });
            Decoded::Rgba8 {
                width,
                height,
                data: Arc::new(data),
            }
        } else {
            Decoded::Float(decoded.to_rgba32f())
        })
    }
}

/// Whether images of `color` are kept as 8-bit RGBA (else as floats).
fn eight_bit(color: ColorType) -> bool {
    matches!(
        color,
        ColorType::L8 | ColorType::La8 | ColorType::Rgb8 | ColorType::Rgba8
    )
}

/// An image as decoded: 8-bit images as they are, deeper ones as floats.
enum Decoded {
    Rgba8 {
        width: u32,
        height: u32,
        data: Arc<Vec<[u8; 4]>>,
    },
    Float(image::Rgba32FImage),
}

fn wrap(mode: WrappingMode) -> Wrap {
    match mode {
        WrappingMode::ClampToEdge => Wrap::ClampToEdge,
        WrappingMode::MirroredRepeat => Wrap::MirroredRepeat,
        WrappingMode::Repeat => Wrap::Repeat,
    }
}
