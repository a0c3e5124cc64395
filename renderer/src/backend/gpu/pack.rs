//! Packs a [`FrameScene`] into the flat arrays of [`super::layout`], ready for upload.

use std::collections::HashMap;
use std::sync::Arc;

use glam::Vec3;

use super::layout::*;
use crate::bvh::{Bvh, BvhStats};
use crate::camera::RasterCamera;
use crate::environment::Environment;
use crate::film::Tile;
use crate::light::LightSampler;
use crate::material::{AlphaMode, Material};
use crate::scene::{FrameScene, PunctualLight};
use crate::settings::RenderSettings;
use crate::texture::{Filter, Texels, TextureRef, Wrap};
use crate::transcendental;

/// A frame's scene as GPU arrays. Triangles are in BVH leaf order.
pub struct GpuScene {
    pub nodes: Vec<BvhNode>,
    pub triangles: Vec<BvhTriangle>,
    pub triangle_data: Vec<GpuTriangle>,
    pub vertices: Vec<GpuVertex>,
    pub materials: Vec<GpuMaterial>,
    pub textures: Vec<GpuTexture>,
    /// Texels of float textures and the environment map.
    pub texels: Vec<[f32; 4]>,
    /// Texels of 8-bit textures, RGBA8 packed R first (little end), as stored.
    pub texels8: Vec<u32>,
    pub lights: Vec<GpuLight>,
    /// Emissive triangles with their cumulative distribution (empty when none emit).
    pub emitters: Vec<GpuEmitter>,
    pub mesh_flags: u32,
    /// The uniform environment's radiance, or the map's strength; zero without one.
    pub environment: [f32; 3],
    /// The environment map's texture, [`NO_TEXTURE`] without one.
    pub env_texture: u32,
    /// Cosine and sine of the map's turn.
    pub env_rotation: [f32; 2],
    pub bvh_stats: BvhStats,
}

/// What a tile's [`GpuParams`] need to know of a packed scene: its array sizes and mesh flags.
#[derive(Clone, Copy, Debug)]
pub struct SceneCounts {
    punctual_lights: u32,
    emitters: u32,
    triangles: u32,
    mesh_flags: u32,
    environment: [f32; 3],
    env_texture: u32,
    env_rotation: [f32; 2],
}

impl SceneCounts {
    pub fn of(scene: &GpuScene) -> Self {
        Self {
            punctual_lights: scene.lights.len() as u32,
            emitters: scene.emitters.len() as u32,
            triangles: scene.triangles.len() as u32,
            mesh_flags: scene.mesh_flags,
            environment: scene.environment,
            env_texture: scene.env_texture,
            env_rotation: scene.env_rotation,
        }
    }

    /// The parameter block of one tile, before its first sample batch.
    pub fn tile_params(
        &self,
        camera: &RasterCamera,
        tile: Tile,
        frame: u32,
        settings: &RenderSettings,
    ) -> GpuParams {
        GpuParams {
            camera: GpuCamera::from(camera),
            tile_x: tile.x(),
            tile_y: tile.y(),
            tile_width: tile.width(),
            tile_height: tile.height(),
            frame,
            seed_lo: settings.seed as u32,
            seed_hi: (settings.seed >> 32) as u32,
            sample_start: 0,
            sample_count: 0,
            max_depth: settings.max_depth.get(),
            punctual_lights: self.punctual_lights,
            emitters: self.emitters,
            triangles: self.triangles,
            mesh_flags: self.mesh_flags,
            environment: self.environment,
            env_texture: self.env_texture,
            env_rotation: self.env_rotation,
        }
    }
}

impl GpuScene {
    /// Builds the BVH and the light distribution (as the CPU path tracer does) and flattens
    /// everything.
    pub fn pack(scene: &FrameScene) -> GpuScene {
        let mesh = &scene.mesh;
        let bvh = Bvh::build(mesh);
        let lights = LightSampler::new(scene);
        // Where each mesh triangle went in leaf order, to renumber the emitters.
        let mut leaf_index = vec![0u32; mesh.triangles.len()];
        for (leaf, &tri) in bvh.triangle_ids.iter().enumerate() {
            leaf_index[tri as usize] = leaf as u32;
        }
        let triangle_data = bvh
            .triangle_ids
            .iter()
            .map(|&tri| GpuTriangle {
                vertices: mesh.triangles[tri as usize],
                material: mesh.triangle_materials[tri as usize],
                light_pmf: lights.triangle_pmf(tri),
            })
            .collect();
        let attr = |v: &[glam::Vec2], i: usize| v.get(i).map_or([0.0; 2], |x| (*x).into());
        let vertices = (0..mesh.positions.len())
            .map(|i| GpuVertex {
                position: mesh.positions[i].into(),
                normal: mesh.normals.get(i).copied().unwrap_or(Vec3::Z).into(),
                tangent: mesh.tangents.get(i).map_or([0.0; 4], |t| (*t).into()),
                uv0: attr(&mesh.uv0, i),
                uv1: attr(&mesh.uv1, i),
                color: mesh.colors.get(i).map_or([1.0; 4], |c| (*c).into()),
            })
            .collect();
        let mut mesh_flags = 0;
        if !mesh.tangents.is_empty() {
            mesh_flags |= MESH_HAS_TANGENTS;
        }
        if !mesh.uv0.is_empty() {
            mesh_flags |= MESH_HAS_UV0;
        }
        if !mesh.uv1.is_empty() {
            mesh_flags |= MESH_HAS_UV1;
        }
        if !mesh.colors.is_empty() {
            mesh_flags |= MESH_HAS_COLORS;
        }
        if scene
            .materials
            .iter()
            .any(|m| m.alpha_mode != AlphaMode::Opaque)
        {
            mesh_flags |= MESH_SEE_THROUGH;
        }
        let mut textures = Vec::with_capacity(scene.textures.len());
        let mut texels = Vec::new();
        let mut texels8 = Vec::new();
        // 8-bit images used as colour and as data are uploaded once.
        let mut uploaded8: HashMap<*const Vec<[u8; 4]>, u32> = HashMap::new();
        for t in scene.textures.iter() {
            let (first_texel, format) = match &t.texels {
                Texels::Float(data) => {
                    texels.extend_from_slice(data);
                    ((texels.len() - data.len()) as u32, TEXEL_FLOAT)
                }
                Texels::Rgba8 { data, srgb } => {
                    let first = *uploaded8.entry(Arc::as_ptr(data)).or_insert_with(|| {
                        texels8.extend(data.iter().map(|&c| u32::from_le_bytes(c)));
                        (texels8.len() - data.len()) as u32
                    });
                    (first, if *srgb { TEXEL_SRGB8 } else { TEXEL_UNORM8 })
                }
            };
            textures.push(GpuTexture {
                width: t.width,
                height: t.height,
                first_texel,
                wrap_s: wrap_code(t.wrap_s),
                wrap_t: wrap_code(t.wrap_t),
                filter_mode: match t.filter {
                    Filter::Nearest => 0,
                    Filter::Linear => 1,
                },
                format,
            });
        }
        let (environment, env_texture, env_rotation) = match &scene.environment {
            None => ([0.0; 3], NO_TEXTURE, [1.0, 0.0]),
            Some(Environment::Uniform(radiance)) => (radiance.to_array(), NO_TEXTURE, [1.0, 0.0]),
            Some(Environment::Map {
                map,
                strength,
                rotation,
            }) => {
                // The map, then its rows' distribution as a one-row texture.
                let index = textures.len() as u32;
                let (sin, cos) = transcendental::sin_cos(*rotation);
                let texture = |width, height, first_texel| GpuTexture {
                    width,
                    height,
                    first_texel,
                    wrap_s: wrap_code(Wrap::ClampToEdge),
                    wrap_t: wrap_code(Wrap::ClampToEdge),
                    filter_mode: 0,
                    format: TEXEL_FLOAT,
                };
                textures.push(texture(map.width, map.height, texels.len() as u32));
                texels.extend_from_slice(&map.texels);
                textures.push(texture(map.height, 1, texels.len() as u32));
                texels.extend(map.marginal.iter().map(|&c| [c, 0.0, 0.0, 0.0]));
                ([*strength; 3], index, [cos, sin])
            }
        };
        let emitters = lights
            .emitters()
            .map(|(tri, cdf)| GpuEmitter {
                triangle: leaf_index[tri as usize],
                cdf,
            })
            .collect();
        GpuScene {
            bvh_stats: bvh.stats,
            nodes: bvh.nodes,
            triangles: bvh.triangles,
            triangle_data,
            vertices,
            materials: scene.materials.iter().map(material).collect(),
            textures,
            texels,
            texels8,
            lights: scene.lights.iter().map(light).collect(),
            emitters,
            mesh_flags,
            environment,
            env_texture,
            env_rotation,
        }
    }
}

impl From<&RasterCamera> for GpuCamera {
    fn from(c: &RasterCamera) -> Self {
        GpuCamera {
            origin: c.origin.into(),
            forward: c.forward.into(),
            right: c.right.into(),
            up: c.up.into(),
            inv_width: c.inv_width,
            inv_height: c.inv_height,
            orthographic: u32::from(c.orthographic),
            znear: c.znear,
        }
    }
}

fn wrap_code(w: Wrap) -> u32 {
    match w {
        Wrap::Repeat => 0,
        Wrap::ClampToEdge => 1,
        Wrap::MirroredRepeat => 2,
    }
}

fn texture_ref(r: &Option<TextureRef>) -> GpuTextureRef {
    match r {
        Some(r) => {
            let (sin, cos) = transcendental::sin_cos(r.transform.rotation);
            GpuTextureRef {
                texture: r.texture,
                tex_coord: r.tex_coord,
                offset: r.transform.offset.into(),
                scale: r.transform.scale.into(),
                rotation: [cos, sin],
            }
        }
        None => GpuTextureRef {
            texture: NO_TEXTURE,
            tex_coord: 0,
            offset: [0.0; 2],
            scale: [1.0; 2],
            rotation: [1.0, 0.0],
        },
    }
}

fn material(m: &Material) -> GpuMaterial {
    GpuMaterial {
        base_color: m.base_color.into(),
        // A material counts as emissive by its factor alone (as `Material::is_emissive`).
        emissive: if m.is_emissive() {
            m.emissive.into()
        } else {
            [0.0; 3]
        },
        metallic: m.metallic,
        roughness: m.roughness,
        normal_scale: m.normal_scale,
        transmission: m.transmission,
        ior: m.ior,
        specular: m.specular,
        specular_color: m.specular_color.into(),
        flags: if m.thin_walled {
            MATERIAL_THIN_WALLED
        } else {
            0
        } | if m.unlit { MATERIAL_UNLIT } else { 0 }
            | match m.alpha_mode {
                AlphaMode::Opaque => 0,
                AlphaMode::Mask { .. } => MATERIAL_MASK,
                AlphaMode::Blend => MATERIAL_BLEND,
            },
        alpha_cutoff: match m.alpha_mode {
            AlphaMode::Mask { cutoff } => cutoff,
            _ => 0.0,
        },
        absorption: m.absorption.into(),
        sheen_color: m.sheen_color.into(),
        sheen_roughness: m.sheen_roughness,
        clearcoat: m.clearcoat,
        clearcoat_roughness: m.clearcoat_roughness,
        sheen_color_texture: texture_ref(&m.sheen_color_texture),
        sheen_roughness_texture: texture_ref(&m.sheen_roughness_texture),
        clearcoat_texture: texture_ref(&m.clearcoat_texture),
        clearcoat_roughness_texture: texture_ref(&m.clearcoat_roughness_texture),
        base_color_texture: texture_ref(&m.base_color_texture),
        metallic_roughness_texture: texture_ref(&m.metallic_roughness_texture),
        emissive_texture: texture_ref(&m.emissive_texture),
        normal_texture: texture_ref(&m.normal_texture),
        transmission_texture: texture_ref(&m.transmission_texture),
    }
}

fn light(l: &PunctualLight) -> GpuLight {
    let mut g = GpuLight {
        kind: LIGHT_POINT,
        position: [0.0; 3],
        direction: [0.0; 3],
        intensity: [0.0; 3],
        cos_inner: 0.0,
        cos_outer: 0.0,
    };
    match *l {
        PunctualLight::Point {
            position,
            intensity,
        } => {
            g.position = position.into();
            g.intensity = intensity.into();
        }
        PunctualLight::Spot {
            position,
            direction,
            intensity,
            cos_inner,
            cos_outer,
        } => {
            g.kind = LIGHT_SPOT;
            g.position = position.into();
            g.direction = direction.into();
            g.intensity = intensity.into();
            g.cos_inner = cos_inner;
            g.cos_outer = cos_outer;
        }
        PunctualLight::Directional {
            direction,
            irradiance,
        } => {
            g.kind = LIGHT_DIRECTIONAL;
            g.direction = direction.into();
            g.intensity = irradiance.into();
        }
    }
    g
}

#[cfg(test)]
mod tests {
    use glam::Vec4;

    use super::*;
    use crate::scene::Mesh;

    /// Ten triangles in a row; every third one emits.
    fn scene() -> FrameScene {
        let mut mesh = Mesh::default();
        for i in 0..10u32 {
            let x = i as f32;
            mesh.positions.extend([
                Vec3::new(x, 0.0, 0.0),
                Vec3::new(x + 1.0, 0.0, 0.0),
                Vec3::new(x, 1.0, 0.0),
            ]);
            mesh.normals.extend([Vec3::Z; 3]);
            mesh.triangles.push([3 * i, 3 * i + 1, 3 * i + 2]);
            mesh.triangle_materials.push(u32::from(i % 3 == 0));
        }
        FrameScene::bare(
            mesh,
            vec![
                Material::default(),
                Material {
                    emissive: Vec3::ONE,
                    base_color: Vec4::ONE,
                    ..Material::default()
                },
            ],
        )
    }

    #[test]
    fn an_8_bit_image_used_as_colour_and_as_data_is_uploaded_once() {
        use crate::texture::{Filter, Texels, Texture, Wrap};
        let data = Arc::new(vec![[255, 128, 0, 255], [0, 0, 0, 0]]);
        let texture = |srgb| Texture {
            width: 2,
            height: 1,
            texels: Texels::Rgba8 {
                data: data.clone(),
                srgb,
            },
            wrap_s: Wrap::Repeat,
            wrap_t: Wrap::Repeat,
            filter: Filter::Nearest,
        };
        let mut scene = scene();
        scene.textures = Arc::new(vec![texture(true), texture(false)]);
        let packed = GpuScene::pack(&scene);
        assert_eq!(packed.texels8, [0xff00_80ff, 0], "R in the low byte");
        assert!(packed.texels.is_empty());
        let [colour, linear] = [packed.textures[0], packed.textures[1]];
        assert_eq!((colour.first_texel, colour.format), (0, TEXEL_SRGB8));
        assert_eq!((linear.first_texel, linear.format), (0, TEXEL_UNORM8));
    }

    #[test]
    fn triangles_follow_leaf_order_and_emitters_point_at_them() {
        let scene = scene();
        let packed = GpuScene::pack(&scene);
        let bvh = Bvh::build(&scene.mesh);
        for (leaf, &tri) in bvh.triangle_ids.iter().enumerate() {
            assert_eq!(
                packed.triangle_data[leaf].vertices,
                scene.mesh.triangles[tri as usize]
            );
        }
        assert_eq!(packed.emitters.len(), 4);
        let mut pmf = 0.0;
        for e in &packed.emitters {
            let data = packed.triangle_data[e.triangle as usize];
            assert_eq!(
                data.material, 1,
                "an emitter must point at an emissive triangle"
            );
            pmf += data.light_pmf;
        }
        assert!((pmf - 1.0).abs() < 1e-6);
        assert_eq!(packed.emitters.last().unwrap().cdf, 1.0);
        assert_eq!(packed.mesh_flags, 0);
    }
}
