//! The GPU scene layout: plain `#[repr(C)]` structs uploaded as they are. `shaders/` mirrors
//! every struct here field for field (WGSL and CUDA C); [`layouts`] lists them so a test can
//! compare the mirrors with these definitions.
//!
//! Fields are only `u32`, `f32` and arrays of them, so every field is 4-byte aligned, structs
//! have no padding, and the WGSL (`array<f32, 3>`) and C (`float x[3]`) mirrors lay out the same.

use bytemuck::{Pod, Zeroable};

pub use crate::bvh::{BvhNode, BvhTriangle};

/// "No texture" in a [`GpuTextureRef`].
pub const NO_TEXTURE: u32 = u32::MAX;

/// [`GpuMaterial::flags`]: the surface is a thin sheet (`KHR_materials_volume` absent).
pub const MATERIAL_THIN_WALLED: u32 = 1;
/// [`GpuMaterial::flags`]: the surface shows its base colour unlit (`KHR_materials_unlit`).
pub const MATERIAL_UNLIT: u32 = 2;
/// [`GpuMaterial::flags`]: `alphaMode` MASK (see-through below [`GpuMaterial::alpha_cutoff`]).
pub const MATERIAL_MASK: u32 = 4;
/// [`GpuMaterial::flags`]: `alphaMode` BLEND (passed with probability 1 - alpha).
pub const MATERIAL_BLEND: u32 = 8;

/// [`GpuLight::kind`] values.
pub const LIGHT_POINT: u32 = 0;
pub const LIGHT_SPOT: u32 = 1;
pub const LIGHT_DIRECTIONAL: u32 = 2;

/// [`GpuParams::mesh_flags`]: which optional vertex attributes the mesh has.
pub const MESH_HAS_TANGENTS: u32 = 1;
pub const MESH_HAS_UV0: u32 = 2;
pub const MESH_HAS_UV1: u32 = 4;
pub const MESH_HAS_COLORS: u32 = 8;
/// Some material lets rays through (`alphaMode`): hits are tested for it.
pub const MESH_SEE_THROUGH: u32 = 16;

/// One mesh vertex with all its attributes (absent ones are zero, see [`GpuParams::mesh_flags`]).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct GpuVertex {
    pub position: [f32; 3],
    pub normal: [f32; 3],
    pub tangent: [f32; 4],
    pub uv0: [f32; 2],
    pub uv1: [f32; 2],
    /// `COLOR_0`, white where the mesh has none.
    pub color: [f32; 4],
}

/// Shading data of a triangle, in BVH leaf order (the order of [`BvhTriangle`]s), so a hit's
/// index needs no indirection.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct GpuTriangle {
    pub vertices: [u32; 3],
    pub material: u32,
    /// Probability of this triangle within the emissive group (0 for non-emitters).
    pub light_pmf: f32,
}

/// A material's use of a texture: which one, which UV set, and `KHR_texture_transform`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct GpuTextureRef {
    /// Index into the textures, or [`NO_TEXTURE`].
    pub texture: u32,
    pub tex_coord: u32,
    pub offset: [f32; 2],
    pub scale: [f32; 2],
    /// cos and sin of the rotation, computed once on the CPU.
    pub rotation: [f32; 2],
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct GpuMaterial {
    pub base_color: [f32; 4],
    pub emissive: [f32; 3],
    pub metallic: f32,
    pub roughness: f32,
    pub normal_scale: f32,
    pub transmission: f32,
    pub ior: f32,
    pub specular: f32,
    pub specular_color: [f32; 3],
    /// [`MATERIAL_THIN_WALLED`].
    pub flags: u32,
    pub base_color_texture: GpuTextureRef,
    pub metallic_roughness_texture: GpuTextureRef,
    pub emissive_texture: GpuTextureRef,
    pub normal_texture: GpuTextureRef,
    pub transmission_texture: GpuTextureRef,
    /// [`MATERIAL_MASK`]: alpha below this is see-through.
    pub alpha_cutoff: f32,
    /// Absorption per unit length inside the solid (`KHR_materials_volume`); zero for none.
    pub absorption: [f32; 3],
    /// `KHR_materials_sheen` and `KHR_materials_clearcoat` factors and textures.
    pub sheen_color: [f32; 3],
    pub sheen_roughness: f32,
    pub clearcoat: f32,
    pub clearcoat_roughness: f32,
    pub sheen_color_texture: GpuTextureRef,
    pub sheen_roughness_texture: GpuTextureRef,
    pub clearcoat_texture: GpuTextureRef,
    pub clearcoat_roughness_texture: GpuTextureRef,
}

/// A texture's place in the texel array and its sampler state.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct GpuTexture {
    pub width: u32,
    pub height: u32,
    /// Index of texel (0, 0) in its texel array (row-major, row 0 at the top): the RGBA f32
    /// array for [`TEXEL_FLOAT`], the packed RGBA8 array otherwise.
    pub first_texel: u32,
    /// 0 repeat, 1 clamp to edge, 2 mirrored repeat.
    pub wrap_s: u32,
    pub wrap_t: u32,
    /// 0 nearest, 1 linear.
    pub filter_mode: u32,
    /// [`TEXEL_FLOAT`], [`TEXEL_UNORM8`] or [`TEXEL_SRGB8`].
    pub format: u32,
}

/// Texels as linear RGBA floats.
pub const TEXEL_FLOAT: u32 = 0;
/// Texels as RGBA8 (R in the low byte), linear.
pub const TEXEL_UNORM8: u32 = 1;
/// Texels as RGBA8 with sRGB-encoded colour, decoded at lookup.
pub const TEXEL_SRGB8: u32 = 2;

/// A punctual light; fields a kind does not use are zero.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct GpuLight {
    /// [`LIGHT_POINT`], [`LIGHT_SPOT`] or [`LIGHT_DIRECTIONAL`].
    pub kind: u32,
    pub position: [f32; 3],
    pub direction: [f32; 3],
    /// Intensity (point, spot) or irradiance (directional), times the colour.
    pub intensity: [f32; 3],
    pub cos_inner: f32,
    pub cos_outer: f32,
}

/// One entry of the emissive-triangle distribution.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct GpuEmitter {
    /// Triangle index in BVH leaf order.
    pub triangle: u32,
    /// Cumulative probability up to and including this entry (the last is 1).
    pub cdf: f32,
}

/// The pinhole camera bound to an image size, as [`crate::camera::RasterCamera`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct GpuCamera {
    pub origin: [f32; 3],
    pub forward: [f32; 3],
    pub right: [f32; 3],
    pub up: [f32; 3],
    pub inv_width: f32,
    pub inv_height: f32,
    /// 1 for parallel rays, 0 for rays from `origin`.
    pub orthographic: u32,
    pub znear: f32,
}

/// What one dispatch renders: a batch of samples of a tile.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct GpuParams {
    pub camera: GpuCamera,
    pub tile_x: u32,
    pub tile_y: u32,
    pub tile_width: u32,
    pub tile_height: u32,
    pub frame: u32,
    pub seed_lo: u32,
    pub seed_hi: u32,
    /// Index of the batch's first sample, and how many it takes.
    pub sample_start: u32,
    pub sample_count: u32,
    pub max_depth: u32,
    pub punctual_lights: u32,
    pub emitters: u32,
    /// Triangles in the BVH (a frame with none traces no ray).
    pub triangles: u32,
    /// [`MESH_HAS_TANGENTS`], [`MESH_HAS_UV0`], [`MESH_HAS_UV1`], [`MESH_HAS_COLORS`].
    pub mesh_flags: u32,
    /// The uniform environment's radiance, or the map's strength; zero without one.
    pub environment: [f32; 3],
    /// The environment map's texture ([`NO_TEXTURE`] without one); its rows' cumulative
    /// distribution is the next texture.
    pub env_texture: u32,
    /// Cosine and sine of the map's turn about +Y.
    pub env_rotation: [f32; 2],
}

/// A pixel's running sums over the samples taken so far; normalised once on the CPU.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct GpuPixel {
    pub color: [f32; 3],
    /// Camera samples that hit geometry.
    pub hits: f32,
    pub albedo: [f32; 3],
    pub depth: f32,
    pub normal: [f32; 3],
    pub pad: f32,
}

/// A field of a mirrored struct: name, Rust type as written, byte offset and size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldLayout {
    pub name: &'static str,
    pub ty: &'static str,
    pub offset: usize,
    pub size: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StructLayout {
    pub name: &'static str,
    pub size: usize,
    pub fields: Vec<FieldLayout>,
}

/// Lists a struct's fields; the closure makes a wrong field type a compile error, and the size
/// check in the mirror test catches a field missing from the list.
macro_rules! layout {
    ($ty:ident { $($field:ident: $fty:ty),* $(,)? }) => {{
        $(let _: fn(&$ty) -> &$fty = |s| &s.$field;)*
        StructLayout {
            name: stringify!($ty),
            size: size_of::<$ty>(),
            fields: vec![$(FieldLayout {
                name: stringify!($field),
                ty: stringify!($fty),
                offset: std::mem::offset_of!($ty, $field),
                size: size_of::<$fty>(),
            }),*],
        }
    }};
}

/// Every struct the shaders mirror, in the Rust definition's field order.
pub fn layouts() -> Vec<StructLayout> {
    vec![
        layout!(BvhNode {
            min: [f32; 3],
            offset: u32,
            max: [f32; 3],
            count: u32
        }),
        layout!(BvhTriangle {
            p0: [f32; 3],
            e1: [f32; 3],
            e2: [f32; 3]
        }),
        layout!(GpuVertex {
            position: [f32; 3],
            normal: [f32; 3],
            tangent: [f32; 4],
            uv0: [f32; 2],
            uv1: [f32; 2],
            color: [f32; 4],
        }),
        layout!(GpuTriangle {
            vertices: [u32; 3],
            material: u32,
            light_pmf: f32
        }),
        layout!(GpuTextureRef {
            texture: u32,
            tex_coord: u32,
            offset: [f32; 2],
            scale: [f32; 2],
            rotation: [f32; 2],
        }),
        layout!(GpuMaterial {
            base_color: [f32; 4],
            emissive: [f32; 3],
            metallic: f32,
            roughness: f32,
            normal_scale: f32,
            transmission: f32,
            ior: f32,
            specular: f32,
            specular_color: [f32; 3],
            flags: u32,
            base_color_texture: GpuTextureRef,
            metallic_roughness_texture: GpuTextureRef,
            emissive_texture: GpuTextureRef,
            normal_texture: GpuTextureRef,
            transmission_texture: GpuTextureRef,
            alpha_cutoff: f32,
            absorption: [f32; 3],
            sheen_color: [f32; 3],
            sheen_roughness: f32,
            clearcoat: f32,
            clearcoat_roughness: f32,
            sheen_color_texture: GpuTextureRef,
            sheen_roughness_texture: GpuTextureRef,
            clearcoat_texture: GpuTextureRef,
            clearcoat_roughness_texture: GpuTextureRef,
        }),
        layout!(GpuTexture {
            width: u32,
            height: u32,
            first_texel: u32,
            wrap_s: u32,
            wrap_t: u32,
            filter_mode: u32,
            format: u32,
        }),
        layout!(GpuLight {
            kind: u32,
            position: [f32; 3],
            direction: [f32; 3],
            intensity: [f32; 3],
            cos_inner: f32,
            cos_outer: f32,
        }),
        layout!(GpuEmitter {
            triangle: u32,
            cdf: f32
        }),
        layout!(GpuCamera {
            origin: [f32; 3],
            forward: [f32; 3],
            right: [f32; 3],
            up: [f32; 3],
            inv_width: f32,
            inv_height: f32,
            orthographic: u32,
            znear: f32,
        }),
        layout!(GpuParams {
            camera: GpuCamera,
            tile_x: u32,
            tile_y: u32,
            tile_width: u32,
            tile_height: u32,
            frame: u32,
            seed_lo: u32,
            seed_hi: u32,
            sample_start: u32,
            sample_count: u32,
            max_depth: u32,
            punctual_lights: u32,
            emitters: u32,
            triangles: u32,
            mesh_flags: u32,
            environment: [f32; 3],
            env_texture: u32,
            env_rotation: [f32; 2],
        }),
        layout!(GpuPixel {
            color: [f32; 3],
            hits: f32,
            albedo: [f32; 3],
            depth: f32,
            normal: [f32; 3],
            pad: f32,
        }),
    ]
}
