//! glTF materials (core metallic-roughness plus the supported `KHR_materials_*` extensions)
//! -> [`Material`].

use glam::{Vec3, Vec4};

use super::SceneError;
use super::document::Document;
use super::texture::{ColorSpace, TextureSet, TextureUse};
use crate::material::{AlphaMode, Material};
use crate::texture::TextureRef;
use crate::transcendental;

/// Every material of the document, by glTF index, with the textures they use.
pub fn load_materials(
    doc: &Document,
    textures: &mut TextureSet,
) -> Result<Vec<Material>, SceneError> {
    let mut ignored = IgnoredTextures::default();
    let mut materials = Vec::with_capacity(doc.gltf.materials().len());
    for material in doc.gltf.materials() {
        let converted = convert(doc, &material, textures, &mut ignored)?;
        materials.push(converted);
    }
    Ok(materials)
}

/// Textures that are ignored (their factors are used), each kind noted once per scene.
#[derive(Default)]
struct IgnoredTextures(Vec<&'static str>);

impl IgnoredTextures {
    fn note(&mut self, doc: &Document, extension: &'static str) {
        if !self.0.contains(&extension) {
            tracing::warn!(
                "{}: {extension} textures are ignored (factors are used)",
                doc.file
            );
            self.0.push(extension);
        }
    }
}

fn convert(
    doc: &Document,
    material: &gltf::Material,
    textures: &mut TextureSet,
    ignored: &mut IgnoredTextures,
) -> Result<Material, SceneError> {
    let pbr = material.pbr_metallic_roughness();
    let mut out = Material {
        name: material.name().unwrap_or_default().to_owned(),
        base_color: Vec4::from(pbr.base_color_factor()),
        metallic: pbr.metallic_factor(),
        roughness: pbr.roughness_factor(),
        emissive: Vec3::from(material.emissive_factor())
            * material.emissive_strength().unwrap_or(1.0),
        double_sided: material.double_sided(),
        alpha_mode: match material.alpha_mode() {
            gltf::material::AlphaMode::Opaque => AlphaMode::Opaque,
            gltf::material::AlphaMode::Mask => AlphaMode::Mask {
                cutoff: material.alpha_cutoff().unwrap_or(0.5),
            },
            gltf::material::AlphaMode::Blend => AlphaMode::Blend,
        },
        ..Material::default()
    };
    if let Some(info) = pbr.base_color_texture() {
        out.base_color_texture = Some(textures.reference(info.into(), ColorSpace::Srgb)?);
    }
    if let Some(info) = pbr.metallic_roughness_texture() {
        out.metallic_roughness_texture = Some(textures.reference(info.into(), ColorSpace::Linear)?);
    }
    if let Some(info) = material.emissive_texture() {
        out.emissive_texture = Some(textures.reference(info.into(), ColorSpace::Srgb)?);
    }
    if let Some(normal) = material.normal_texture() {
        out.normal_scale = normal.scale();
        out.normal_texture =
            Some(textures.reference(TextureUse::from(normal), ColorSpace::Linear)?);
    }
    if let Some(transmission) = material.transmission() {
        out.transmission = transmission.transmission_factor();
        if let Some(info) = transmission.transmission_texture() {
            out.transmission_texture = Some(textures.reference(info.into(), ColorSpace::Linear)?);
        }
    }
    if let Some(ior) = material.ior() {
        out.ior = ior;
    }
    out.unlit = material.unlit();
    if let Some(volume) = material.volume() {
        out.thin_walled = volume.thickness_factor() <= 0.0;
        let (color, distance) = (
            Vec3::from(volume.attenuation_color()),
            volume.attenuation_distance(),
        );
        // An infinite distance (glTF's default) absorbs nothing; a black colour, everything
        // but what a huge coefficient lets through.
        if distance.is_finite() && distance > 0.0 {
            out.absorption = (-color
                .max(Vec3::splat(1e-6))
                .min(Vec3::ONE)
                .map(transcendental::ln)
                / distance)
                .min(Vec3::splat(1e6));
        }
    }
    if let Some(specular) = material.specular() {
        out.specular = specular.specular_factor();
        out.specular_color = Vec3::from(specular.specular_color_factor());
        let has_textures =
            specular.specular_texture().is_some() || specular.specular_color_texture().is_some();
        if has_textures {
            ignored.note(doc, "KHR_materials_specular");
        }
    }
    if let Some(sheen) = material.extension_value("KHR_materials_sheen") {
        out.sheen_color = Vec3::from(factor(sheen, "sheenColorFactor", [0.0; 3]));
        out.sheen_roughness = factor(sheen, "sheenRoughnessFactor", [0.0])[0];
        out.sheen_color_texture =
            texture(doc, textures, sheen, "sheenColorTexture", ColorSpace::Srgb)?;
        out.sheen_roughness_texture = texture(
            doc,
            textures,
            sheen,
            "sheenRoughnessTexture",
            ColorSpace::Linear,
        )?;
    }
    if let Some(coat) = material.extension_value("KHR_materials_clearcoat") {
        out.clearcoat = factor(coat, "clearcoatFactor", [0.0])[0];
        out.clearcoat_roughness = factor(coat, "clearcoatRoughnessFactor", [0.0])[0];
        out.clearcoat_texture =
            texture(doc, textures, coat, "clearcoatTexture", ColorSpace::Linear)?;
        out.clearcoat_roughness_texture = texture(
            doc,
            textures,
            coat,
            "clearcoatRoughnessTexture",
            ColorSpace::Linear,
        )?;
        if coat.get("clearcoatNormalTexture").is_some() {
            ignored.note(doc, "KHR_materials_clearcoat normal");
        }
    }
    check_values(doc, material, &out)?;
    Ok(out)
}

/// A factor of an extension the gltf crate does not parse: a number or an array of `N`
/// numbers, `default` where missing; a malformed value reads as NaN, which
/// [`check_values`] refuses.
fn factor<const N: usize>(extension: &gltf::json::Value, key: &str, default: [f32; N]) -> [f32; N] {
    let Some(value) = extension.get(key) else {
        return default;
    };
    let number = |v: &gltf::json::Value| v.as_f64().map_or(f32::NAN, |x| x as f32);
    match value.as_array() {
        Some(items) if items.len() == N => std::array::from_fn(|i| number(&items[i])),
        Some(_) => [f32::NAN; N],
        None if N == 1 => [number(value); N],
        None => [f32::NAN; N],
    }
}

/// The texture an extension's `key` names, if any; one naming no texture of the document is
/// refused.
fn texture(
    doc: &Document,
    textures: &mut TextureSet,
    extension: &gltf::json::Value,
    key: &str,
    space: ColorSpace,
) -> Result<Option<TextureRef>, SceneError> {
    let Some(info) = extension.get(key) else {
        return Ok(None);
    };
    let usage = TextureUse::from_json(&doc.gltf, info)
        .ok_or_else(|| doc.invalid(format!("{key} names no texture of the file")))?;
    textures.reference(usage, space).map(Some)
}

/// The brightest a material may emit (emissive factor times strength), per channel: a thousand
/// times the sun's disc, in nits. Brighter but finite values (3e38) overflow a pixel's sum of
/// samples to infinity, which the farm refuses as the worker's fault, task after task.
const MAX_EMISSION: f32 = 1e12;

/// Factors the renderer multiplies into radiance must be finite and non-negative (the normal
/// scale may be negative: it flips the bumps), and within glTF's ranges: JSON can hold values
/// (1e300) that become infinite as `f32`, and finite ones (3e38) that overflow a pixel.
fn check_values(doc: &Document, material: &gltf::Material, m: &Material) -> Result<(), SceneError> {
    let name = material
        .name()
        .map(|n| format!(" \"{n}\""))
        .unwrap_or_default();
    let index = material.index().unwrap_or_default();
    let scalars = [
        m.metallic,
        m.roughness,
        m.transmission,
        m.ior,
        m.specular,
        m.sheen_roughness,
        m.clearcoat,
        m.clearcoat_roughness,
    ];
    let finite = m.base_color.is_finite()
        && m.emissive.is_finite()
        && m.specular_color.is_finite()
        && m.sheen_color.is_finite()
        && scalars.iter().all(|v| v.is_finite())
        && m.normal_scale.is_finite();
    let non_negative = m.base_color.min_element() >= 0.0
        && m.emissive.min_element() >= 0.0
        && m.specular_color.min_element() >= 0.0
        && m.sheen_color.min_element() >= 0.0
        && scalars.iter().all(|&v| v >= 0.0);
    if !(finite && non_negative) {
        return Err(doc.invalid(format!(
            "material {index}{name} has a negative, NaN or infinite factor"
        )));
    }
    // glTF bounds these by 1 (specularColorFactor and ior it does not bound; the BSDF clamps
    // what they make).
    let at_most_one = [
        m.metallic,
        m.roughness,
        m.transmission,
        m.specular,
        m.sheen_roughness,
        m.clearcoat,
        m.clearcoat_roughness,
    ];
    let in_range = m.base_color.max_element() <= 1.0
        && m.sheen_color.max_element() <= 1.0
        && at_most_one.iter().all(|&v| v <= 1.0);
    if !in_range {
        return Err(doc.invalid(format!(
            "material {index}{name} has a factor above 1 (glTF's range for base colour, \
             metallic, roughness, transmission, specular, sheen and clear coat is 0 to 1)"
        )));
    }
    if m.emissive.max_element() > MAX_EMISSION {
        return Err(doc.invalid(format!(
            "material {index}{name} emits {:e} (factor times strength), more than the \
             {MAX_EMISSION:e} a material may",
            m.emissive.max_element()
        )));
    }
    Ok(())
}
