//! Material evaluation at a hit point: the hit triangle's material with its textures read at
//! the hit's UVs, giving the BSDF's parameters, the normal-mapped shading normal and the
//! emission. It needs the frame's mesh, so it lives here rather than in [`crate::material`],
//! which the scene loader depends on.

use std::cell::Cell;

use glam::{Vec2, Vec3, Vec4};

use crate::bsdf::SurfaceParams;
use crate::bvh::Hit;
use crate::material::{AlphaMode, Material};
use crate::scene::{FrameScene, Mesh};
use crate::texture::TextureRef;

/// Bisection steps of [`reflection_safe_normal`]: the bend is found to 1/4096 of the way.
const BEND_STEPS: u32 = 12;

/// The shading normal `ns` bent towards the geometric normal `ng`, just enough that the mirror
/// reflection of `wo` (towards the viewer) about it leaves above the surface. Interpolated and
/// normal-mapped normals can tilt so far that reflections point into the surface, where they
/// are lost: the black rings of shiny normal-mapped metal. Cycles and pbrt-v4 bend the normal
/// likewise; the backends share this bisection step for step.
#[inline]
pub fn reflection_safe_normal(ns: Vec3, ng: Vec3, wo: Vec3) -> Vec3 {
    let cos_o = wo.dot(ng);
    if cos_o <= 0.0 {
        return ns;
    }
    let threshold = (0.9 * cos_o).min(0.01);
    let valid = |n: Vec3| (n * (2.0 * wo.dot(n)) - wo).dot(ng) >= threshold;
    if valid(ns) {
        return ns;
    }
    // ns (t = 0) reflects below the surface, ng (t = 1) above: find the least bend that works.
    let (mut lo, mut hi) = (0.0f32, 1.0f32);
    for _ in 0..BEND_STEPS {
        let mid = 0.5 * (lo + hi);
        if valid((ns + (ng - ns) * mid).normalize()) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    (ns + (ng - ns) * hi).normalize()
}

/// The BSDF's parameters wherever `material` lies on `mesh`, when they are the same
/// everywhere: no texture and no vertex colour varies them.
pub fn uniform_params(material: &Material, mesh: &Mesh) -> Option<SurfaceParams> {
    // Whatever texture `material_params` reads makes them vary.
    let textured = Cell::new(false);
    let params = material_params(
        material,
        |_| {
            textured.set(true);
            Vec4::ONE
        },
        Vec4::ONE,
    );
    (!textured.get() && mesh.colors.is_empty()).then_some(params)
}

/// The material's factors times its textures (read by `sample`) and the vertex colour.
#[inline(always)]
fn material_params(
    material: &Material,
    sample: impl Fn(TextureRef) -> Vec4,
    vertex_color: Vec4,
) -> SurfaceParams {
    let base = material
        .base_color_texture
        .map(&sample)
        .map_or(material.base_color, |t| t * material.base_color)
        * vertex_color;
    let (mut metallic, mut roughness) = (material.metallic, material.roughness);
    if let Some(mr) = material.metallic_roughness_texture.map(&sample) {
        roughness *= mr.y;
        metallic *= mr.z;
    }
    let transmission = material.transmission
        * material
            .transmission_texture
            .map(&sample)
            .map_or(1.0, |t| t.x);
    // A missing texture multiplies by one.
    let texture = |r: Option<TextureRef>| r.map_or(Vec4::ONE, &sample);
    SurfaceParams {
        base_color: base.truncate(),
        metallic,
        roughness,
        specular: material.specular,
        specular_color: material.specular_color,
        transmission,
        ior: material.ior,
        thin_walled: material.thin_walled,
        sheen_color: material.sheen_color * texture(material.sheen_color_texture).truncate(),
        sheen_roughness: material.sheen_roughness * texture(material.sheen_roughness_texture).w,
        clearcoat: material.clearcoat * texture(material.clearcoat_texture).x,
        clearcoat_roughness: material.clearcoat_roughness
            * texture(material.clearcoat_roughness_texture).y,
    }
}

/// The material of the triangle a ray hit, ready to be read at the hit point.
pub struct SurfaceShading<'a> {
    scene: &'a FrameScene,
    /// Index into the scene's materials, and the material.
    material_index: usize,
    material: &'a Material,
    hit: Hit,
    /// The hit triangle's vertex indices.
    vertices: [usize; 3],
    /// Barycentric of vertex 0 (the hit holds those of vertices 1 and 2).
    w: f32,
}

impl<'a> SurfaceShading<'a> {
    #[inline]
    pub fn new(scene: &'a FrameScene, hit: &Hit) -> Self {
        let mesh = &scene.mesh;
        let vertices = mesh.triangles[hit.triangle as usize].map(|i| i as usize);
        let material_index = mesh.triangle_materials[hit.triangle as usize] as usize;
        Self {
            scene,
            material_index,
            material: &scene.materials[material_index],
            hit: *hit,
            vertices,
            w: 1.0 - hit.u - hit.v,
        }
    }

    /// The hit triangle's index into the scene's materials.
    pub fn material_index(&self) -> usize {
        self.material_index
    }

    /// Whether a ray passes through here (`alphaMode`); `u` decides blending.
    pub fn passes(&self, u: f32) -> bool {
        let mode = self.material.alpha_mode;
        if mode == AlphaMode::Opaque {
            return false;
        }
        let alpha = self
            .material
            .base_color_texture
            .map_or(1.0, |r| self.sample(r).w)
            * self.material.base_color.w
            * self.vertex_color().w;
        mode.passes(alpha, u)
    }

    /// Absorption per unit length inside the solid this surface bounds (`KHR_materials_volume`).
    pub fn absorption(&self) -> Vec3 {
        self.material.absorption
    }

    /// Whether the surface shows its base colour unlit (`KHR_materials_unlit`).
    pub fn is_unlit(&self) -> bool {
        self.material.unlit
    }

    /// The BSDF's parameters: the material's factors times its textures.
    #[inline]
    pub fn params(&self) -> SurfaceParams {
        material_params(self.material, |r| self.sample(r), self.vertex_color())
    }

    /// The interpolated vertex normal, tilted by the normal map if the material has one; not
    /// yet oriented to any side. `ng` stands in where the vertex normals cancel out.
    // Inlined into the render loop in every binary (thin LTO over the whole farm had left it a
    // call in `tessera`); the normal map's texture read stays a call of its own.
    #[inline(always)]
    pub fn normal(&self, ng: Vec3) -> Vec3 {
        let mesh = &self.scene.mesh;
        let [i0, i1, i2] = self.vertices;
        let (w, hit) = (self.w, self.hit);
        let ns = (mesh.normals[i0] * w + mesh.normals[i1] * hit.u + mesh.normals[i2] * hit.v)
            .normalize_or(ng);
        match self.material.normal_texture {
            Some(r) => self.mapped_normal(ns, r),
            None => ns,
        }
    }

    /// `ns` tilted by normal map `r`.
    fn mapped_normal(&self, ns: Vec3, r: TextureRef) -> Vec3 {
        let t = self.sample(r);
        let scale = self.material.normal_scale;
        let m = Vec3::new(
            (2.0 * t.x - 1.0) * scale,
            (2.0 * t.y - 1.0) * scale,
            2.0 * t.z - 1.0,
        );
        match self.tangent(ns, r.tex_coord) {
            Some(tangent) => {
                let bitangent = ns.cross(tangent.truncate()) * tangent.w.signum();
                (tangent.truncate() * m.x + bitangent * m.y + ns * m.z).normalize_or(ns)
            }
            None => ns,
        }
    }

    /// Radiance the front face emits.
    #[inline]
    pub fn emission(&self) -> Vec3 {
        let material = self.material;
        if !material.is_emissive() {
            return Vec3::ZERO;
        }
        let tex = material
            .emissive_texture
            .map(|r| self.sample(r))
            .map_or(Vec3::ONE, |t| t.truncate());
        material.emissive * tex
    }

    /// UV set `set` at the hit; zero when the mesh has none.
    fn uv(&self, set: u32) -> Vec2 {
        let mesh = &self.scene.mesh;
        let uvs = if set == 0 { &mesh.uv0 } else { &mesh.uv1 };
        if uvs.is_empty() {
            Vec2::ZERO
        } else {
            let [i0, i1, i2] = self.vertices;
            uvs[i0] * self.w + uvs[i1] * self.hit.u + uvs[i2] * self.hit.v
        }
    }

    /// `COLOR_0` at the hit point; white without one.
    fn vertex_color(&self) -> Vec4 {
        let colors = &self.scene.mesh.colors;
        if colors.is_empty() {
            return Vec4::ONE;
        }
        let [i0, i1, i2] = self.vertices;
        colors[i0] * self.w + colors[i1] * self.hit.u + colors[i2] * self.hit.v
    }

    fn sample(&self, r: TextureRef) -> Vec4 {
        self.scene.textures[r.texture as usize].sample(r.transform.apply(self.uv(r.tex_coord)))
    }

    /// Tangent (xyz) and handedness (w) for normal mapping: the file's, or from UV derivatives.
    fn tangent(&self, n: Vec3, set: u32) -> Option<Vec4> {
        let mesh = &self.scene.mesh;
        let [i0, i1, i2] = self.vertices;
        let (w, hit) = (self.w, self.hit);
        if !mesh.tangents.is_empty() {
            let t = mesh.tangents[i0] * w + mesh.tangents[i1] * hit.u + mesh.tangents[i2] * hit.v;
            if t.w != 0.0 {
                let t3 = (t.truncate() - n * n.dot(t.truncate())).normalize_or_zero();
                return (t3 != Vec3::ZERO).then(|| t3.extend(t.w));
            }
        }
        let uvs = if set == 0 { &mesh.uv0 } else { &mesh.uv1 };
        if uvs.is_empty() {
            return None;
        }
        let dp1 = mesh.positions[i1] - mesh.positions[i0];
        let dp2 = mesh.positions[i2] - mesh.positions[i0];
        let duv1 = uvs[i1] - uvs[i0];
        let duv2 = uvs[i2] - uvs[i0];
        let det = duv1.x * duv2.y - duv2.x * duv1.y;
        if det.abs() < 1e-12 {
            return None;
        }
        let t = (dp1 * duv2.y - dp2 * duv1.y) / det;
        let b = (dp2 * duv1.x - dp1 * duv2.x) / det;
        let t3 = (t - n * n.dot(t)).normalize_or_zero();
        if t3 == Vec3::ZERO {
            return None;
        }
        let handedness = if n.cross(t3).dot(b) < 0.0 { -1.0 } else { 1.0 };
        Some(t3.extend(handedness))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::texture::UvTransform;

    /// One triangle of material 0, a layered untextured material, or of material 1, the same
    /// with a base colour texture.
    fn triangle_of(material: u32) -> FrameScene {
        let mut mesh = Mesh::default();
        mesh.positions.extend([Vec3::ZERO, Vec3::X, Vec3::Y]);
        mesh.normals.extend([Vec3::Z; 3]);
        mesh.triangles.push([0, 1, 2]);
        mesh.triangle_materials.push(material);
        let layered = Material {
            base_color: Vec4::new(0.3, 0.5, 0.7, 1.0),
            metallic: 0.25,
            roughness: 0.6,
            transmission: 0.4,
            sheen_color: Vec3::splat(0.5),
            sheen_roughness: 0.3,
            clearcoat: 0.7,
            clearcoat_roughness: 0.2,
            ..Material::default()
        };
        let textured = Material {
            base_color_texture: Some(TextureRef {
                texture: 0,
                tex_coord: 0,
                transform: UvTransform::default(),
            }),
            ..layered.clone()
        };
        FrameScene::bare(mesh, vec![layered, textured])
    }

    /// The integrator takes an untextured material's parameters once for all its hits: they
    /// must be the very bits the hit itself would give.
    #[test]
    fn uniform_params_are_the_bits_of_every_hit_and_only_without_textures_or_colours() {
        let scene = triangle_of(0);
        let uniform = uniform_params(&scene.materials[0], &scene.mesh).expect("untextured");
        for (u, v) in [(0.0, 0.0), (0.2, 0.3), (0.6, 0.4)] {
            let hit = Hit {
                t: 1.0,
                u,
                v,
                triangle: 0,
            };
            let at_hit = SurfaceShading::new(&scene, &hit).params();
            assert_eq!(format!("{at_hit:?}"), format!("{uniform:?}"));
        }
        assert!(uniform_params(&scene.materials[1], &scene.mesh).is_none());
        let mut colored = triangle_of(0);
        colored.mesh.colors = vec![Vec4::splat(0.5); 3];
        assert!(uniform_params(&colored.materials[0], &colored.mesh).is_none());
    }

    #[test]
    fn a_bent_normal_reflects_just_above_the_surface_and_a_fine_one_is_kept() {
        let ng = Vec3::Z;
        let wo = Vec3::new(0.0, -0.6, 0.8);
        let fine = Vec3::new(0.0, 0.1, 1.0).normalize();
        assert_eq!(reflection_safe_normal(fine, ng, wo), fine);
        let leaning = Vec3::new(0.0, 0.94, 0.34).normalize();
        let reflect = |n: Vec3| n * (2.0 * wo.dot(n)) - wo;
        assert!(
            reflect(leaning).z < 0.0,
            "the test normal must reflect into the surface"
        );
        let bent = reflection_safe_normal(leaning, ng, wo);
        let z = reflect(bent).z;
        assert!(
            (0.01..0.02).contains(&z),
            "reflection {z} above the surface"
        );
        assert!((bent.length() - 1.0).abs() < 1e-6);
    }
}
