//! Unidirectional path tracing with next-event estimation and multiple importance sampling.

use std::fmt;
use std::num::NonZeroU32;

use glam::{Vec2, Vec3, Vec4};
use serde::{Deserialize, Serialize};

use crate::bsdf::{Bsdf, BsdfRandom, SurfaceParams};
use crate::bvh::{Bvh, BvhStats, Hit};
use crate::camera::RasterCamera;
use crate::film::Tile;
use crate::geometry::Ray;
use crate::light::LightSampler;
use crate::sampler::SampleStream;
use crate::scene::FrameScene;
use crate::texture::TextureRef;

/// Largest accepted samples per pixel: beyond this a typo would run for days.
pub const MAX_SPP: u32 = 1 << 20;
/// Largest accepted path depth.
pub const MAX_DEPTH: u32 = 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SettingsError {
    #[error("samples per pixel must be between 1 and {MAX_SPP}, got {0}")]
    BadSpp(u32),
    #[error("max depth must be between 1 and {MAX_DEPTH}, got {0}")]
    BadMaxDepth(u32),
}

/// Samples per pixel, within `1..=MAX_SPP`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct Spp(NonZeroU32);

impl Spp {
    pub fn new(n: u32) -> Result<Self, SettingsError> {
        match NonZeroU32::new(n) {
            Some(v) if n <= MAX_SPP => Ok(Self(v)),
            _ => Err(SettingsError::BadSpp(n)),
        }
    }
    pub fn get(self) -> u32 {
        self.0.get()
    }
}

impl TryFrom<u32> for Spp {
    type Error = SettingsError;
    fn try_from(n: u32) -> Result<Self, SettingsError> {
        Self::new(n)
    }
}
impl From<Spp> for u32 {
    fn from(s: Spp) -> u32 {
        s.get()
    }
}
impl fmt::Display for Spp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Maximum path length in segments, with Mitsuba's meaning: 1 shows only emitters seen
/// directly, 2 adds direct lighting, and so on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct MaxDepth(u32);

impl MaxDepth {
    pub fn new(n: u32) -> Result<Self, SettingsError> {
        if (1..=MAX_DEPTH).contains(&n) {
            Ok(Self(n))
        } else {
            Err(SettingsError::BadMaxDepth(n))
        }
    }
    pub fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<u32> for MaxDepth {
    type Error = SettingsError;
    fn try_from(n: u32) -> Result<Self, SettingsError> {
        Self::new(n)
    }
}
impl From<MaxDepth> for u32 {
    fn from(d: MaxDepth) -> u32 {
        d.0
    }
}

/// How to render: the same for every tile of a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RenderSettings {
    pub spp: Spp,
    pub max_depth: MaxDepth,
    pub seed: u64,
}

/// Russian roulette starts once a path has this many segments (as in Mitsuba and pbrt).
pub const RR_DEPTH: u32 = 5;

/// A frame's scene ready for path tracing: geometry, its BVH and the light distribution.
pub struct PathTracer<'a> {
    scene: &'a FrameScene,
    bvh: Bvh,
    lights: LightSampler,
}

/// Random numbers drawn per bounce, in this order, whichever branches the path takes, so every
/// backend consumes the stream identically.
const DRAWS_PER_BOUNCE: usize = 7;

/// The first surface a camera sample sees, for the AOVs.
#[derive(Clone, Copy, Debug)]
struct FirstHit {
    albedo: Vec3,
    normal: Vec3,
    depth: f32,
}

/// A ray-surface intersection with the material evaluated there.
struct Surface {
    p: Vec3,
    /// Geometric normal, oriented as the shading frame.
    ng: Vec3,
    bsdf: Bsdf,
    /// Radiance emitted towards the ray's origin (zero from the back face).
    emitted: Vec3,
    base_color: Vec3,
}

impl<'a> PathTracer<'a> {
    pub fn new(scene: &'a FrameScene) -> Self {
        let bvh = Bvh::build(&scene.mesh);
        let lights = LightSampler::new(scene);
        Self { scene, bvh, lights }
    }

    pub fn bvh_stats(&self) -> BvhStats {
        self.bvh.stats
    }

    /// Renders one row of a tile into `pixels` (one entry per pixel of the row).
    pub fn render_row(
        &self,
        camera: &RasterCamera,
        tile: Tile,
        row: u32,
        frame: u32,
        settings: &RenderSettings,
        out: RowOut<'_>,
    ) {
        let y = tile.y() + row;
        let spp = settings.spp.get();
        let inv_spp = 1.0 / spp as f32;
        for i in 0..tile.width() as usize {
            let x = tile.x() + i as u32;
            let mut color = Vec3::ZERO;
            let mut hits = 0u32;
            let mut albedo = Vec3::ZERO;
            let mut normal = Vec3::ZERO;
            let mut depth = 0.0f32;
            for s in 0..spp {
                let mut rng = SampleStream::new(settings.seed, frame, x, y, s);
                let (jx, jy) = (rng.next_f32(), rng.next_f32());
                let ray = camera.ray(x as f32 + jx, y as f32 + jy);
                let (l, first) = self.radiance(ray, &mut rng, settings.max_depth.get());
                if l.is_finite() {
                    color += l;
                }
                if let Some(h) = first {
                    hits += 1;
                    albedo += h.albedo;
                    normal += h.normal;
                    depth += h.depth;
                }
            }
            let c = color * inv_spp;
            out.color[i] = [c.x, c.y, c.z, hits as f32 * inv_spp];
            if hits > 0 {
                let inv_hits = 1.0 / hits as f32;
                out.albedo[i] = (albedo * inv_hits).into();
                out.normal[i] = normal.normalize_or_zero().into();
                out.depth[i] = depth * inv_hits;
            }
        }
    }

    /// Radiance along a camera ray, and what its first hit saw.
    fn radiance(
        &self,
        mut ray: Ray,
        rng: &mut SampleStream,
        max_depth: u32,
    ) -> (Vec3, Option<FirstHit>) {
        let mut l = Vec3::ZERO;
        let mut beta = Vec3::ONE;
        let mut first = None;
        let mut specular_bounce = true;
        let mut prev_pdf = 0.0f32;
        for depth in 1..=max_depth {
            let mut draws = [0.0f32; DRAWS_PER_BOUNCE];
            for d in &mut draws {
                *d = rng.next_f32();
            }
            let Some(hit) = self.bvh.intersect(&ray, 0.0, f32::INFINITY) else {
                break;
            };
            let surface = self.surface(&ray, &hit);
            let wo = -ray.dir;
            if depth == 1 {
                first = Some(FirstHit {
                    albedo: surface.base_color,
                    normal: surface.bsdf.shading_normal(),
                    depth: hit.t,
                });
            }
            if surface.emitted != Vec3::ZERO {
                let weight = if specular_bounce {
                    1.0
                } else {
                    let light_pdf =
                        self.lights
                            .pdf_of_hit(self.scene, hit.triangle, ray.dir, hit.t);
                    power_heuristic(prev_pdf, light_pdf)
                };
                l += beta * surface.emitted * weight;
            }
            if depth == max_depth {
                break;
            }
            if surface.bsdf.has_non_delta() {
                l += beta * self.direct_light(&surface, wo, draws[0], draws[1], draws[2]);
            }
            let rnd = BsdfRandom {
                lobe: draws[3],
                u: draws[4],
                v: draws[5],
            };
            let Some(s) = surface.bsdf.sample(wo, rnd) else {
                break;
            };
            beta *= s.weight;
            specular_bounce = s.delta;
            prev_pdf = s.pdf;
            if depth >= RR_DEPTH {
                let q = (beta.max_element() * s.eta * s.eta).min(0.95);
                if draws[6] >= q {
                    break;
                }
                beta /= q;
            }
            if beta == Vec3::ZERO || !beta.is_finite() {
                break;
            }
            ray = Ray::new(offset_origin(surface.p, surface.ng, s.wi), s.wi);
        }
        (l, first)
    }

    /// Next-event estimation: one light sample, weighted by MIS against BSDF sampling.
    fn direct_light(&self, surface: &Surface, wo: Vec3, pick: f32, u: f32, v: f32) -> Vec3 {
        let Some(sample) = self.lights.sample(self.scene, surface.p, pick, u, v) else {
            return Vec3::ZERO;
        };
        let f = surface.bsdf.eval(wo, sample.wi);
        if f == Vec3::ZERO {
            return Vec3::ZERO;
        }
        let origin = offset_origin(surface.p, surface.ng, sample.wi);
        let t_max = sample.distance * (1.0 - SHADOW_EPSILON);
        if self.bvh.occluded(&Ray::new(origin, sample.wi), 0.0, t_max) {
            return Vec3::ZERO;
        }
        let weight = if sample.delta {
            1.0
        } else {
            power_heuristic(sample.pdf, surface.bsdf.pdf(wo, sample.wi))
        };
        f * sample.radiance * (weight / sample.pdf)
    }

    fn surface(&self, ray: &Ray, hit: &Hit) -> Surface {
        let mesh = &self.scene.mesh;
        let [i0, i1, i2] = mesh.triangles[hit.triangle as usize];
        let (i0, i1, i2) = (i0 as usize, i1 as usize, i2 as usize);
        let w = 1.0 - hit.u - hit.v;
        let p0 = mesh.positions[i0];
        let e1 = mesh.positions[i1] - p0;
        let e2 = mesh.positions[i2] - p0;
        let ng_raw = e1.cross(e2).normalize_or(Vec3::Z);
        let front = ray.dir.dot(ng_raw) < 0.0;
        let mut ns = (mesh.normals[i0] * w + mesh.normals[i1] * hit.u + mesh.normals[i2] * hit.v)
            .normalize_or(ng_raw);
        let material =
            &self.scene.materials[mesh.triangle_materials[hit.triangle as usize] as usize];
        let uv = |set: u32| {
            let uvs = if set == 0 { &mesh.uv0 } else { &mesh.uv1 };
            if uvs.is_empty() {
                Vec2::ZERO
            } else {
                uvs[i0] * w + uvs[i1] * hit.u + uvs[i2] * hit.v
            }
        };
        let sample = |r: &Option<TextureRef>| {
            r.map(|r| {
                self.scene.textures[r.texture as usize].sample(r.transform.apply(uv(r.tex_coord)))
            })
        };
        let base = sample(&material.base_color_texture)
            .map_or(material.base_color, |t| t * material.base_color);
        let (mut metallic, mut roughness) = (material.metallic, material.roughness);
        if let Some(mr) = sample(&material.metallic_roughness_texture) {
            roughness *= mr.y;
            metallic *= mr.z;
        }
        let transmission =
            material.transmission * sample(&material.transmission_texture).map_or(1.0, |t| t.x);
        if let Some(r) = material.normal_texture {
            let t =
                self.scene.textures[r.texture as usize].sample(r.transform.apply(uv(r.tex_coord)));
            let m = Vec3::new(
                (2.0 * t.x - 1.0) * material.normal_scale,
                (2.0 * t.y - 1.0) * material.normal_scale,
                2.0 * t.z - 1.0,
            );
            let tangent = self.tangent(i0, i1, i2, w, hit, ns, r.tex_coord);
            if let Some(tangent) = tangent {
                let bitangent = ns.cross(tangent.truncate()) * tangent.w.signum();
                ns = (tangent.truncate() * m.x + bitangent * m.y + ns * m.z).normalize_or(ns);
            }
        }
        let two_sided = transmission <= 0.0 || material.thin_walled;
        let mut ng = ng_raw;
        if two_sided && ng.dot(ray.dir) > 0.0 {
            ng = -ng;
        }
        if ns.dot(ng) < 0.0 {
            ns = -ns;
        }
        let emitted = if front && material.is_emissive() {
            let tex = sample(&material.emissive_texture).map_or(Vec3::ONE, |t| t.truncate());
            material.emissive * tex
        } else {
            Vec3::ZERO
        };
        let params = SurfaceParams {
            base_color: base.truncate(),
            metallic,
            roughness,
            specular: material.specular,
            specular_color: material.specular_color,
            transmission,
            ior: material.ior,
            thin_walled: material.thin_walled,
        };
        Surface {
            p: ray.at(hit.t),
            ng,
            bsdf: Bsdf::new(params, ns, ng),
            emitted,
            base_color: base.truncate(),
        }
    }

    /// Tangent (xyz) and handedness (w) for normal mapping: the file's, or from UV derivatives.
    #[allow(clippy::too_many_arguments)]
    fn tangent(
        &self,
        i0: usize,
        i1: usize,
        i2: usize,
        w: f32,
        hit: &Hit,
        n: Vec3,
        set: u32,
    ) -> Option<Vec4> {
        let mesh = &self.scene.mesh;
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

/// Mutable views of one row of a tile's pixel buffers.
pub struct RowOut<'o> {
    pub color: &'o mut [[f32; 4]],
    pub albedo: &'o mut [[f32; 3]],
    pub normal: &'o mut [[f32; 3]],
    pub depth: &'o mut [f32],
}

/// Shadow rays stop this fraction short of the light so they do not hit the light itself.
const SHADOW_EPSILON: f32 = 1e-3;

/// Moves a ray origin off the surface, to the side `dir` leaves towards, so the new ray does
/// not hit the surface it starts on.
fn offset_origin(p: Vec3, ng: Vec3, dir: Vec3) -> Vec3 {
    let eps = 1e-4 * (1.0 + p.abs().max_element());
    if dir.dot(ng) >= 0.0 {
        p + ng * eps
    } else {
        p - ng * eps
    }
}

fn power_heuristic(a: f32, b: f32) -> f32 {
    let (a2, b2) = (a * a, b * b);
    if a2 + b2 == 0.0 { 0.0 } else { a2 / (a2 + b2) }
}
