//! Unidirectional path tracing with next-event estimation and multiple importance sampling.

use glam::Vec3;

use crate::bsdf::{Bsdf, BsdfRandom, Lobes};
use crate::bvh::{Bvh, BvhStats, Hit, Isa, WideBvh};
use crate::camera::RasterCamera;
use crate::estimate::{Estimate, Moments};
use crate::film::{NO_HIT_DEPTH, Pixel};
use crate::geometry::Ray;
use crate::lane::LANES;
use crate::light::LightSampler;
use crate::material::AlphaMode;
use crate::sampler::{PixelStreams, SampleStream};
use crate::scene::FrameScene;
use crate::settings::RenderSettings;
use crate::shading::{SurfaceShading, reflection_safe_normal, uniform_params};
use crate::transcendental;

mod packet;

use packet::{Plain, PlainLight};

/// Russian roulette starts once a path has this many segments (as in Mitsuba and pbrt).
pub const RR_DEPTH: u32 = 5;

/// A frame's scene ready for path tracing: geometry, its BVH and the light distribution.
pub struct PathTracer<'a> {
    scene: &'a FrameScene,
    bvh: WideBvh,
    lights: LightSampler,
    /// Each material's lobes where they are the same at every hit (see [`uniform_params`]).
    uniform_lobes: Vec<Option<Lobes>>,
    /// Whether any material lets rays through (`alphaMode`): only then are hits tested for it.
    see_through: bool,
    /// Each material's bounce as a packet takes it, where it can ([`Plain`]).
    plain: Vec<Option<Plain>>,
    /// Each emissive triangle of the light sampler, where its light is the same all over (no
    /// emissive texture), as a packet's light sample needs it.
    plain_lights: Vec<Option<PlainLight>>,
    /// Whether pixels trace their samples in packets ([`packet`]); they do wherever some
    /// material is [`Plain`].
    packets: bool,
    /// Each triangle's unit geometric normal (along `e1 × e2`, +z where degenerate), worked
    /// out once rather than at every hit: a packet's bounce gathered three vertices a lane
    /// for it.
    face_normals: Vec<Vec3>,
}

/// The most radiance one sample adds to its pixel, per channel. Far above anything a scene
/// makes, but a pixel's sum of `MAX_SPP` samples below it stays finite however bright a
/// scene's finite emission or environment, where a non-finite pixel is refused as the
/// worker's fault. The shaders clamp alike.
pub const MAX_SAMPLE: f32 = 1e30;

/// A ray passes at most this many see-through surfaces; the next one stops it.
pub const MAX_CROSSINGS: u32 = 16;
/// Successive crossings of one ray decide with one random number rotated by the golden ratio's
/// fraction, so that the stream's draws per bounce stay fixed.
const GOLDEN: f32 = 0.618_034;

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

/// A path between bounces: the ray it goes on along and what it has gathered.
#[derive(Clone, Copy, Debug)]
struct Path {
    ray: Ray,
    l: Vec3,
    beta: Vec3,
    first: Option<FirstHit>,
    /// Whether the last bounce was a Dirac delta, so emission found next counts in full.
    specular_bounce: bool,
    /// The density with which the last bounce chose the ray's direction.
    prev_pdf: f32,
}

impl Path {
    fn new(ray: Ray) -> Self {
        Self {
            ray,
            l: Vec3::ZERO,
            beta: Vec3::ONE,
            first: None,
            specular_bounce: true,
            prev_pdf: 0.0,
        }
    }
}

/// A ray-surface intersection with the material evaluated there.
struct Surface<'l> {
    p: Vec3,
    /// Geometric normal, oriented as the shading frame.
    ng: Vec3,
    bsdf: Bsdf<'l>,
    /// Radiance emitted towards the ray's origin (zero from the back face).
    emitted: Vec3,
    base_color: Vec3,
    /// Shows its base colour and ends the path (`KHR_materials_unlit`).
    unlit: bool,
    /// What the segment that reached this point kept, when it ran inside an absorbing solid
    /// (it hit the solid's surface from within).
    transmittance: Vec3,
}

impl<'a> PathTracer<'a> {
    pub fn new(scene: &'a FrameScene) -> Self {
        Self::on(scene, Isa::detect())
    }

    /// As [`new`](Self::new), traversing on instruction-set path `isa` (one of
    /// [`Isa::available`]; every path renders the same bits).
    pub fn on(scene: &'a FrameScene, isa: Isa) -> Self {
        Self::with_lights(scene, LightSampler::new(scene), isa)
    }

    /// As [`new`](Self::new), with only BSDF sampling finding the environment map (see
    /// [`LightSampler::without_environment`]).
    pub fn without_environment_sampling(scene: &'a FrameScene) -> Self {
        Self::with_lights(
            scene,
            LightSampler::without_environment(scene),
            Isa::detect(),
        )
    }

    fn with_lights(scene: &'a FrameScene, lights: LightSampler, isa: Isa) -> Self {
        let bvh = WideBvh::new(Bvh::build(&scene.mesh), isa);
        let see_through = scene
            .materials
            .iter()
            .any(|m| m.alpha_mode != AlphaMode::Opaque);
        let uniform_lobes = scene
            .materials
            .iter()
            .map(|m| uniform_params(m, &scene.mesh).map(Lobes::new))
            .collect();
        let plain: Vec<Option<Plain>> = scene
            .materials
            .iter()
            .zip(&uniform_lobes)
            .map(|(m, lobes): (_, &Option<Lobes>)| Plain::of(m, lobes.as_ref()))
            .collect();
        let plain_lights = (0..lights.emitters().count())
            .map(|k| PlainLight::of(lights.emitter(k), scene))
            .collect();
        let mesh = &scene.mesh;
        let face_normals = mesh
            .triangles
            .iter()
            .map(|&[i0, i1, i2]| {
                let p0 = mesh.positions[i0 as usize];
                let e1 = mesh.positions[i1 as usize] - p0;
                let e2 = mesh.positions[i2 as usize] - p0;
                e1.cross(e2).normalize_or(Vec3::Z)
            })
            .collect();
        Self {
            scene,
            bvh,
            face_normals,
            lights,
            uniform_lobes,
            see_through,
            packets: plain.iter().any(Option::is_some),
            plain,
            plain_lights,
        }
    }

    /// The first surface `ray` stops at before `t_max`, passing see-through ones (each crossing
    /// decided by `u` rotated); with the ray that reached it and the distance that ray's origin
    /// lies along the original one.
    #[inline(always)]
    fn first_stop(&self, ray: Ray, t_max: f32, u: f32) -> Option<(Hit, Ray, f32)> {
        let (mut ray, mut left, mut travelled) = (ray, t_max, 0.0);
        for k in 0..=MAX_CROSSINGS {
            let hit = self.bvh.intersect(&ray, 0.0, left)?;
            if !self.see_through
                || k == MAX_CROSSINGS
                || !SurfaceShading::new(self.scene, &hit).passes((u + k as f32 * GOLDEN).fract())
            {
                return Some((hit, ray, travelled));
            }
            let (next, step) = beyond(&ray, hit.t);
            (ray, left, travelled) = (next, left - step, travelled + step);
            if left <= 0.0 {
                return None;
            }
        }
        None
    }

    /// Whether anything stops `ray` before `t_max`, see-through surfaces passed as in
    /// [`first_stop`](Self::first_stop).
    // Inlined, with the see-through case a call of its own, so that an opaque scene's shadow
    // ray goes straight from the path loop to the traversal.
    #[inline(always)]
    fn blocked(&self, ray: Ray, t_max: f32, u: f32) -> bool {
        if self.see_through {
            self.blocked_seeing_through(ray, t_max, u)
        } else {
            self.bvh.occluded(&ray, 0.0, t_max)
        }
    }

    #[inline(never)]
    fn blocked_seeing_through(&self, ray: Ray, t_max: f32, u: f32) -> bool {
        self.first_stop(ray, t_max, u).is_some()
    }

    /// This tracer with every sample traced alone, never in a packet: the same bits, for
    /// showing that and for timing the packets.
    pub fn one_sample_at_a_time(self) -> Self {
        Self {
            packets: false,
            ..self
        }
    }

    pub fn bvh_stats(&self) -> BvhStats {
        self.bvh.stats()
    }

    /// Renders `span`'s pixels into it.
    // The whole loop, shading included, is compiled once per instruction-set path, as the
    // traversal is: on the Cornell box on AMD's EPYC (Zen 4) the time fell to 0.97x with AVX2,
    // and to 0.96x of that with AVX-512. The bits do not change: Rust never fuses a multiply
    // and an add, so each path performs the same IEEE operations. Estimates go through here
    // too, so that the quote's pre-pass times the code a render runs.
    pub fn render_span(
        &self,
        camera: &RasterCamera,
        frame: u32,
        settings: &RenderSettings,
        span: Span<'_>,
    ) {
        match self.bvh.isa() {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `WideBvh::new` checked that its path is one of `Isa::available`, and
            // both vector paths include AVX2.
            Isa::Avx2 => unsafe { self.render_span_avx2(camera, frame, settings, span) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as for AVX2.
            Isa::Avx512 => unsafe { self.render_span_avx512(camera, frame, settings, span) },
            _ => self.render_span_on(camera, frame, settings, span),
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn render_span_avx2(
        &self,
        camera: &RasterCamera,
        frame: u32,
        settings: &RenderSettings,
        span: Span<'_>,
    ) {
        self.render_span_on(camera, frame, settings, span)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,avx512f")]
    unsafe fn render_span_avx512(
        &self,
        camera: &RasterCamera,
        frame: u32,
        settings: &RenderSettings,
        span: Span<'_>,
    ) {
        self.render_span_on(camera, frame, settings, span)
    }

    #[inline(always)]
    fn render_span_on(
        &self,
        camera: &RasterCamera,
        frame: u32,
        settings: &RenderSettings,
        span: Span<'_>,
    ) {
        match span {
            Span::Row { at: (x, y), out } => {
                for i in 0..out.color.len() {
                    let pixel = self.pixel(camera, x + i as u32, y, frame, settings, |_, _| {});
                    out.color[i] = pixel.color;
                    out.albedo[i] = pixel.albedo;
                    out.normal[i] = pixel.normal;
                    out.depth[i] = pixel.depth;
                }
            }
            Span::Estimates { pixels, out } => {
                for &(x, y) in pixels {
                    let mut moments = Moments::default();
                    let pixel =
                        self.pixel(camera, x, y, frame, settings, |l, hit| moments.add(l, hit));
                    out.push(moments.estimate(pixel));
                }
            }
        }
    }

    /// Estimates pixel (`x`, `y`) of the frame, showing `each_sample` every sample's radiance
    /// and whether the camera ray hit anything.
    #[inline(always)]
    pub fn pixel(
        &self,
        camera: &RasterCamera,
        x: u32,
        y: u32,
        frame: u32,
        settings: &RenderSettings,
        mut each_sample: impl FnMut(Vec3, bool),
    ) -> Pixel {
        let spp = settings.spp.get();
        let inv_spp = 1.0 / spp as f32;
        let mut color = Vec3::ZERO;
        let mut hits = 0u32;
        let mut albedo = Vec3::ZERO;
        let mut normal = Vec3::ZERO;
        let mut depth = 0.0f32;
        let streams = PixelStreams::new(settings.seed, frame, x, y);
        let max_depth = settings.max_depth.get();
        let mut add = |l: Vec3, first: Option<FirstHit>, near: f32| {
            let l = if l.is_finite() {
                l.min(Vec3::splat(MAX_SAMPLE))
            } else {
                Vec3::ZERO
            };
            color += l;
            if let Some(h) = first {
                hits += 1;
                albedo += h.albedo;
                normal += h.normal;
                depth += h.depth + near;
            }
            each_sample(l, first.is_some());
        };
        if self.packets {
            let mut s = 0;
            while s < spp {
                let n = (spp - s).min(LANES as u32);
                let samples = self.packet(camera, (x, y), streams, s, n as usize, max_depth);
                for &(l, first, near) in &samples[..n as usize] {
                    add(l, first, near);
                }
                s += n;
            }
        } else {
            for s in 0..spp {
                let mut rng = streams.sample(s);
                let (jx, jy) = (rng.next_f32(), rng.next_f32());
                let (ray, near) = camera.ray(x as f32 + jx, y as f32 + jy);
                let (l, first) = self.radiance(ray, &mut rng, max_depth);
                add(l, first, near);
            }
        }
        let c = color * inv_spp;
        let mut pixel = Pixel {
            color: [c.x, c.y, c.z, hits as f32 * inv_spp],
            albedo: [0.0; 3],
            normal: [0.0; 3],
            depth: NO_HIT_DEPTH,
        };
        if hits > 0 {
            let inv_hits = 1.0 / hits as f32;
            pixel.albedo = (albedo * inv_hits).into();
            pixel.normal = normal.normalize_or_zero().into();
            pixel.depth = depth * inv_hits;
        }
        pixel
    }

    /// Radiance along a camera ray, and what its first hit saw.
    // This, its callees here and the BSDF's and light sampler's `sample`, `eval` and `pdf` are
    // inlined into the pixel loop: with the calls between them the loop took 1.1x the time.
    #[inline(always)]
    fn radiance(
        &self,
        ray: Ray,
        rng: &mut SampleStream,
        max_depth: u32,
    ) -> (Vec3, Option<FirstHit>) {
        let mut path = Path::new(ray);
        for depth in 1..=max_depth {
            let mut draws = [0.0f32; DRAWS_PER_BOUNCE];
            for d in &mut draws {
                *d = rng.next_f32();
            }
            let stop = self.first_stop(path.ray, f32::INFINITY, draws[6]);
            if !self.bounce(&mut path, depth, max_depth, &draws, stop) {
                break;
            }
        }
        (path.l, path.first)
    }

    /// Bounce `depth` of `path`, whose ray stopped at `stop` ([`first_stop`](Self::first_stop)),
    /// with the bounce's random numbers: adds what it finds to the path's radiance and turns
    /// its ray. Returns whether the path goes on.
    #[inline(always)]
    fn bounce(
        &self,
        path: &mut Path,
        depth: u32,
        max_depth: u32,
        draws: &[f32; DRAWS_PER_BOUNCE],
        stop: Option<(Hit, Ray, f32)>,
    ) -> bool {
        let Some((hit, reached, travelled)) = stop else {
            // A uniform environment is found only by BSDF sampling, so its light counts in
            // full; a map is also sampled towards, and weighted as emitters are.
            if let Some(env) = &self.scene.environment {
                let weight = if path.specular_bounce {
                    1.0
                } else {
                    power_heuristic(
                        path.prev_pdf,
                        self.lights.pdf_of_escape(self.scene, path.ray.dir),
                    )
                };
                path.l += path.beta * env.radiance(path.ray.dir) * weight;
            }
            return false;
        };
        let ray = reached;
        let mut own_lobes = None;
        let surface = self.surface(&ray, &hit, &mut own_lobes);
        path.beta *= surface.transmittance;
        let wo = -ray.dir;
        if depth == 1 {
            path.first = Some(FirstHit {
                albedo: surface.base_color,
                normal: surface.bsdf.shading_normal(),
                depth: hit.t + travelled,
            });
        }
        if surface.unlit {
            path.l += path.beta * surface.base_color;
            return false;
        }
        if surface.emitted != Vec3::ZERO {
            let weight = if path.specular_bounce {
                1.0
            } else {
                self.light_hit_weight(path.prev_pdf, &hit, ray.dir)
            };
            path.l += path.beta * surface.emitted * weight;
        }
        if depth == max_depth {
            return false;
        }
        if surface.bsdf.has_non_delta() {
            path.l += path.beta * self.direct_light(&surface, wo, draws[0], draws[1], draws[2]);
        }
        let rnd = BsdfRandom {
            lobe: draws[3],
            u: draws[4],
            v: draws[5],
        };
        let Some(s) = surface.bsdf.sample(wo, rnd) else {
            return false;
        };
        path.beta *= s.weight;
        path.specular_bounce = s.delta;
        path.prev_pdf = s.pdf;
        if depth >= RR_DEPTH {
            let q = (path.beta.max_element() * s.eta * s.eta).min(0.95);
            if draws[6] >= q {
                return false;
            }
            path.beta /= q;
        }
        if path.beta == Vec3::ZERO || !path.beta.is_finite() {
            return false;
        }
        path.ray = Ray::new(offset_origin(surface.p, surface.ng, s.wi), s.wi);
        true
    }

    /// The MIS weight of emission found by BSDF sampling (density `bsdf_pdf`) where a ray
    /// along `dir` hit an emitter.
    #[inline(always)]
    fn light_hit_weight(&self, bsdf_pdf: f32, hit: &Hit, dir: Vec3) -> f32 {
        let light_pdf = self.lights.pdf_of_hit(self.scene, hit.triangle, dir, hit.t);
        power_heuristic(bsdf_pdf, light_pdf)
    }

    /// Next-event estimation: one light sample, weighted by MIS against BSDF sampling.
    #[inline(always)]
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
        if self.blocked(Ray::new(origin, sample.wi), t_max, pick) {
            return Vec3::ZERO;
        }
        let weight = if sample.delta {
            1.0
        } else {
            power_heuristic(sample.pdf, surface.bsdf.pdf(wo, sample.wi))
        };
        f * sample.radiance * (weight / sample.pdf)
    }

    /// The surface `ray` hit; a material without uniform lobes has them worked out into
    /// `own_lobes`.
    #[inline(always)]
    fn surface<'s>(
        &'s self,
        ray: &Ray,
        hit: &Hit,
        own_lobes: &'s mut Option<Lobes>,
    ) -> Surface<'s> {
        let ng_raw = self.face_normals[hit.triangle as usize];
        let front = ray.dir.dot(ng_raw) < 0.0;
        let shading = SurfaceShading::new(self.scene, hit);
        let lobes: &Lobes = match &self.uniform_lobes[shading.material_index()] {
            Some(lobes) => lobes,
            None => own_lobes.insert(Lobes::new(shading.params())),
        };
        let params = lobes.params();
        let mut ns = shading.normal(ng_raw);
        let two_sided = params.transmission <= 0.0 || params.thin_walled;
        let mut ng = ng_raw;
        if two_sided && ng.dot(ray.dir) > 0.0 {
            ng = -ng;
        }
        if ns.dot(ng) < 0.0 {
            ns = -ns;
        }
        let ns = reflection_safe_normal(ns, ng, -ray.dir);
        let emitted = if front {
            shading.emission()
        } else {
            Vec3::ZERO
        };
        Surface {
            p: ray.at(hit.t),
            ng,
            bsdf: Bsdf::new(lobes, ns, ng),
            emitted,
            base_color: params.base_color,
            unlit: shading.is_unlit(),
            transmittance: if front || params.thin_walled {
                Vec3::ONE
            } else {
                (-shading.absorption() * hit.t).map(transcendental::exp)
            },
        }
    }
}

/// Pixels for [`PathTracer::render_span`] and where their values go.
pub enum Span<'o> {
    /// A tile row's pixels from `at` rightwards, one per entry of `out`.
    Row { at: (u32, u32), out: RowOut<'o> },
    /// Pixels anywhere in the frame, each estimated with the spread of its samples and pushed
    /// onto `out` in order.
    Estimates {
        pixels: &'o [(u32, u32)],
        out: &'o mut Vec<Estimate>,
    },
}

/// Mutable views of a span of one row of a tile's pixel buffers.
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

/// The ray continued just past its hit at `t` (as far past as [`offset_origin`] moves off a
/// surface), and how far along it the new origin lies.
fn beyond(ray: &Ray, t: f32) -> (Ray, f32) {
    let p = ray.at(t);
    let eps = 1e-4 * (1.0 + p.abs().max_element());
    (Ray::new(p + ray.dir * eps, ray.dir), t + eps)
}

fn power_heuristic(a: f32, b: f32) -> f32 {
    let (a2, b2) = (a * a, b * b);
    if a2 + b2 == 0.0 { 0.0 } else { a2 / (a2 + b2) }
}
