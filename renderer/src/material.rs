//! Materials as glTF describes them: the core metallic-roughness model plus the
//! `KHR_materials_*` extensions the renderer supports. The scattering functions built from a
//! material at a hit point live in [`crate::bsdf`].

use glam::{Vec3, Vec4};

use crate::texture::TextureRef;

#[derive(Clone, Debug, PartialEq)]
pub struct Material {
    pub name: String,
    /// Linear RGBA factor, multiplied by the texture when present.
    pub base_color: Vec4,
    pub base_color_texture: Option<TextureRef>,
    pub metallic: f32,
    pub roughness: f32,
    /// glTF packs roughness in G and metalness in B.
    pub metallic_roughness_texture: Option<TextureRef>,
    /// Emitted radiance: emissiveFactor x `KHR_materials_emissive_strength`.
    pub emissive: Vec3,
    pub emissive_texture: Option<TextureRef>,
    pub normal_texture: Option<TextureRef>,
    pub normal_scale: f32,
    /// `KHR_materials_transmission`: fraction of the dielectric base that is transmitted.
    pub transmission: f32,
    /// Transmission texture, read from its R channel.
    pub transmission_texture: Option<TextureRef>,
    /// `KHR_materials_ior`.
    pub ior: f32,
    /// False when `KHR_materials_volume` gives a thickness > 0: the surface bounds a refracting
    /// solid. True (the default) for a thin sheet that transmits without bending rays.
    pub thin_walled: bool,
    /// `KHR_materials_specular`: specularFactor (0 turns the surface purely Lambertian).
    pub specular: f32,
    pub specular_color: Vec3,
    pub double_sided: bool,
    /// `KHR_materials_unlit`: the surface shows its base colour as it is, lit by nothing and
    /// lighting nothing.
    pub unlit: bool,
    /// How the base colour's alpha (factor, texture and vertex colour) lets rays through.
    pub alpha_mode: AlphaMode,
    /// `KHR_materials_volume`: what the solid absorbs per unit of length travelled inside it
    /// (Beer-Lambert: -ln(attenuationColor) / attenuationDistance); zero for none.
    pub absorption: Vec3,
    /// `KHR_materials_sheen`: the sheen's colour (black: none) and roughness, both in [0, 1],
    /// times their textures (colour from RGB, roughness from alpha).
    pub sheen_color: Vec3,
    pub sheen_color_texture: Option<TextureRef>,
    pub sheen_roughness: f32,
    pub sheen_roughness_texture: Option<TextureRef>,
    /// `KHR_materials_clearcoat`: the coat's strength (0: none) and roughness, in [0, 1], times
    /// their textures (strength from R, roughness from G).
    pub clearcoat: f32,
    pub clearcoat_texture: Option<TextureRef>,
    pub clearcoat_roughness: f32,
    pub clearcoat_roughness_texture: Option<TextureRef>,
}

/// glTF's `alphaMode`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AlphaMode {
    /// Alpha is ignored.
    Opaque,
    /// Fully see-through where alpha is below `cutoff`, opaque elsewhere (cut-out leaves,
    /// labels).
    Mask { cutoff: f32 },
    /// A ray passes with probability 1 - alpha, decided per sample (stochastic transparency):
    /// glass panes, fades.
    Blend,
}

impl AlphaMode {
    /// Whether a ray passes through a point of alpha `alpha`; `u` in [0, 1) decides blending.
    pub fn passes(self, alpha: f32, u: f32) -> bool {
        match self {
            AlphaMode::Opaque => false,
            AlphaMode::Mask { cutoff } => alpha < cutoff,
            AlphaMode::Blend => u >= alpha,
        }
    }
}

impl Default for Material {
    /// glTF's defaults for a material that sets nothing.
    fn default() -> Self {
        Self {
            name: String::new(),
            base_color: Vec4::ONE,
            base_color_texture: None,
            metallic: 1.0,
            roughness: 1.0,
            metallic_roughness_texture: None,
            emissive: Vec3::ZERO,
            emissive_texture: None,
            normal_texture: None,
            normal_scale: 1.0,
            transmission: 0.0,
            transmission_texture: None,
            ior: 1.5,
            thin_walled: true,
            specular: 1.0,
            specular_color: Vec3::ONE,
            double_sided: false,
            unlit: false,
            alpha_mode: AlphaMode::Opaque,
            absorption: Vec3::ZERO,
            sheen_color: Vec3::ZERO,
            sheen_color_texture: None,
            sheen_roughness: 0.0,
            sheen_roughness_texture: None,
            clearcoat: 0.0,
            clearcoat_texture: None,
            clearcoat_roughness: 0.0,
            clearcoat_roughness_texture: None,
        }
    }
}

impl Material {
    /// Whether the material emits light anywhere (the texture can only darken the factor).
    pub fn is_emissive(&self) -> bool {
        self.emissive.max_element() > 0.0
    }
}
