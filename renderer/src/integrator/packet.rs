//! Packets: [`LANES`] samples of one pixel traced side by side. Their random numbers, camera
//! rays and every bounce off a plain surface (one [`Plain`] material, lit by emissive
//! triangles) are worked out a lane per vector element; traversal stays one ray at a time,
//! and a bounce the packet does not take (anything else: textures, metals, glass, punctual or
//! environment light, escapes) goes through the scalar [`PathTracer::bounce`] for its lane.
//! Each lane performs the scalar path's IEEE operations in its order, so a sample's bits do
//! not depend on whether it went through a packet.

use std::f32::consts::{FRAC_1_PI, PI};

use glam::Vec3;

use super::{
    DRAWS_PER_BOUNCE, FirstHit, Path, PathTracer, RR_DEPTH, SHADOW_EPSILON, power_heuristic,
};
use crate::bsdf::Lobes;
use crate::bvh::{Hit, SlabRay};
use crate::camera::RasterCamera;
use crate::geometry::Ray;
use crate::lane::{self, F, LANES, M, V3};
use crate::light::{Emitter, LightChoice};
use crate::material::Material;
use crate::sampler::PixelStreams;
use crate::scene::FrameScene;
use crate::shading::reflection_safe_normal;

/// What a bounce off a plain material needs of it: a Lambertian surface the same everywhere
/// (so two-sided), lit, without normal map, emissive texture or absorption. Alpha does not
/// matter: both paths cross see-through surfaces in `first_stop` before the bounce.
#[derive(Clone, Copy, Debug)]
pub(super) struct Plain {
    base_color: Vec3,
    /// Radiance its front face emits.
    emitted: Vec3,
}

impl Plain {
    pub(super) fn of(material: &Material, lobes: Option<&Lobes>) -> Option<Plain> {
        let params = lobes.filter(|l| l.is_lambertian())?.params();
        let plain = !material.unlit
            && material.normal_texture.is_none()
            && material.emissive_texture.is_none()
            && material.absorption == Vec3::ZERO;
        plain.then(|| Plain {
            base_color: params.base_color,
            emitted: if material.is_emissive() {
                material.emissive
            } else {
                Vec3::ZERO
            },
        })
    }
}

/// An emissive triangle whose light is the same all over, as a packet's light sample reads it.
#[derive(Clone, Copy, Debug)]
pub(super) struct PlainLight {
    p0: Vec3,
    e1: Vec3,
    e2: Vec3,
    normal: Vec3,
    radiance: Vec3,
    area: f32,
    pmf: f32,
}

impl PlainLight {
    pub(super) fn of(e: &Emitter, scene: &FrameScene) -> Option<PlainLight> {
        let material =
            &scene.materials[scene.mesh.triangle_materials[e.triangle as usize] as usize];
        material.emissive_texture.is_none().then_some(PlainLight {
            p0: e.p0,
            e1: e.e1,
            e2: e.e2,
            normal: e.normal,
            radiance: material.emissive,
            area: e.area,
            pmf: e.pmf,
        })
    }
}

/// Up to this many emitters, a packet's lights are chosen by selects after its rays are
/// traced rather than gathered a lane at a time as each hit comes back.
const FEW_EMITTERS: usize = 4;

/// One sample's result: its radiance, what its first hit saw, and the camera ray's distance to
/// the near plane.
pub(super) type SampleResult = (Vec3, Option<FirstHit>, f32);

/// The packet's paths, a lane each.
struct Paths {
    origin: V3,
    dir: V3,
    l: V3,
    beta: V3,
    specular_bounce: M,
    prev_pdf: F,
    first: [Option<FirstHit>; LANES],
    alive: M,
}

impl Paths {
    fn get(&self, i: usize) -> Path {
        Path {
            ray: Ray::new(self.origin.get(i), self.dir.get(i)),
            l: self.l.get(i),
            beta: self.beta.get(i),
            first: self.first[i],
            specular_bounce: self.specular_bounce.0[i],
            prev_pdf: self.prev_pdf.0[i],
        }
    }

    fn set(&mut self, i: usize, path: &Path) {
        self.origin.set(i, path.ray.origin);
        self.dir.set(i, path.ray.dir);
        self.l.set(i, path.l);
        self.beta.set(i, path.beta);
        self.first[i] = path.first;
        self.specular_bounce.0[i] = path.specular_bounce;
        self.prev_pdf.0[i] = path.prev_pdf;
    }
}

/// The plain bounces of one depth: which lanes, where their rays stopped, and what the
/// bounce needs there. It is gathered lane by lane as each ray's hit comes back, long before
/// the vector arithmetic loads it: a vector loaded just after its lanes were stored one by one
/// waits for those stores.
struct PlainHits {
    lanes: M,
    t: F,
    u: F,
    v: F,
    /// The distance the ray had passed through see-through surfaces before this hit.
    travelled: F,
    triangle: [u32; LANES],
    /// The hit triangle's geometric normal and vertex normals.
    face_normal: V3,
    n: [V3; 3],
    base_color: V3,
    emitted: V3,
    /// The lanes whose light sample goes to an emissive triangle, and that triangle.
    lit: M,
    light: LightLanes,
}

impl PlainHits {
    fn new() -> Self {
        PlainHits {
            lanes: M::NONE,
            t: F::ZERO,
            u: F::ZERO,
            v: F::ZERO,
            travelled: F::ZERO,
            triangle: [0; LANES],
            face_normal: V3::ZERO,
            n: [V3::ZERO; 3],
            base_color: V3::ZERO,
            emitted: V3::ZERO,
            lit: M::NONE,
            light: LightLanes {
                p0: V3::ZERO,
                e1: V3::ZERO,
                e2: V3::ZERO,
                normal: V3::ZERO,
                radiance: V3::ZERO,
                area: F::splat(1.0),
                pmf: F::ZERO,
            },
        }
    }
}

/// Emissive triangles, one per lane, with their light.
struct LightLanes {
    p0: V3,
    e1: V3,
    e2: V3,
    normal: V3,
    radiance: V3,
    area: F,
    pmf: F,
}

impl LightLanes {
    #[inline(always)]
    fn set(&mut self, i: usize, e: &PlainLight) {
        self.p0.set(i, e.p0);
        self.e1.set(i, e.e1);
        self.e2.set(i, e.e2);
        self.normal.set(i, e.normal);
        self.radiance.set(i, e.radiance);
        self.area.0[i] = e.area;
        self.pmf.0[i] = e.pmf;
    }

    /// `e` in lanes `lanes`.
    #[inline(always)]
    fn select(&mut self, lanes: M, e: &PlainLight) {
        let splat = V3::splat;
        self.p0 = lanes.select3(splat(e.p0), self.p0);
        self.e1 = lanes.select3(splat(e.e1), self.e1);
        self.e2 = lanes.select3(splat(e.e2), self.e2);
        self.normal = lanes.select3(splat(e.normal), self.normal);
        self.radiance = lanes.select3(splat(e.radiance), self.radiance);
        self.area = lanes.select(F::splat(e.area), self.area);
        self.pmf = lanes.select(F::splat(e.pmf), self.pmf);
    }
}

impl PathTracer<'_> {
    /// Samples `first..first + n` (`n` at most [`LANES`]) of pixel (`x`, `y`), in order.
    #[inline(always)]
    pub(super) fn packet(
        &self,
        camera: &RasterCamera,
        (x, y): (u32, u32),
        streams: PixelStreams,
        first: u32,
        n: usize,
        max_depth: u32,
    ) -> [SampleResult; LANES] {
        let mut rng = streams.lanes(first);
        let (jx, jy) = (rng.next_f32(), rng.next_f32());
        let (origin, dir, near) = camera.rays(F::splat(x as f32) + jx, F::splat(y as f32) + jy);
        let mut paths = Paths {
            origin,
            dir,
            l: V3::ZERO,
            beta: V3::splat(Vec3::ONE),
            specular_bounce: M::splat(true),
            prev_pdf: F::ZERO,
            first: [None; LANES],
            alive: M::from_fn(|i| i < n),
        };
        // Made once: each depth marks its lanes afresh, and what other lanes hold is not read.
        let mut hits = PlainHits::new();
        for depth in 1..=max_depth {
            if !paths.alive.any() {
                break;
            }
            let mut draws = [F::ZERO; DRAWS_PER_BOUNCE];
            for d in &mut draws {
                *d = rng.next_f32();
            }
            self.trace(&mut paths, &mut hits, &draws, depth, max_depth);
            if hits.lanes.any() {
                self.plain_bounce(&mut paths, &hits, &draws, depth, max_depth);
            }
        }
        let mut samples = [(Vec3::ZERO, None, 0.0); LANES];
        for (i, sample) in samples.iter_mut().enumerate() {
            *sample = (paths.l.get(i), paths.first[i], near.0[i]);
        }
        samples
    }

    /// Traces every live lane's ray and finds the plain bounces; each other lane takes its
    /// bounce through the scalar path here.
    #[inline(always)]
    fn trace(
        &self,
        paths: &mut Paths,
        hits: &mut PlainHits,
        draws: &[F; DRAWS_PER_BOUNCE],
        depth: u32,
        max_depth: u32,
    ) {
        hits.lanes = M::NONE;
        hits.lit = M::NONE;
        let mesh = &self.scene.mesh;
        let rays = rays(paths.alive, paths.origin, paths.dir);
        let slabs = SlabRay::lanes(paths.alive, paths.origin, paths.dir);
        // The last bounce samples no light, whatever the choice would be.
        let emitters = (depth < max_depth)
            .then(|| self.lights.choose_emitters(draws[0]))
            .flatten();
        let few = emitters.is_some() && self.plain_lights.len() <= FEW_EMITTERS;
        for i in paths.alive.lanes() {
            // Each ray is passed where `rays` holds it: the traversal's loads of a copy stored
            // just before the call waited for that store (13 % of traversal's samples on
            // Intel's Xeon; 0.97x the time without the copy).
            let stop = if self.see_through {
                self.first_stop(rays[i], f32::INFINITY, draws[6].0[i])
            } else {
                // `first_stop` of an opaque scene, from the slab ray already worked out.
                let hit = self
                    .bvh
                    .intersect_prepared(&rays[i], &slabs[i], 0.0, f32::INFINITY);
                hit.map(|hit| (hit, rays[i], 0.0))
            };
            if let Some((hit, reached, travelled)) = stop {
                let plain = self.plain[mesh.triangle_materials[hit.triangle as usize] as usize];
                let choice = match &emitters {
                    _ if depth == max_depth => LightChoice::Nothing,
                    Some(k) => LightChoice::Emitter(k.0[i] as usize),
                    None => self.lights.choose(draws[0].0[i]),
                };
                let emitter = match choice {
                    LightChoice::Nothing => Some(None),
                    LightChoice::Emitter(k) => self.plain_lights[k].as_ref().map(Some),
                    _ => None,
                };
                if let (Some(material), Some(emitter)) = (plain, emitter) {
                    hits.lanes.0[i] = true;
                    (hits.t.0[i], hits.u.0[i], hits.v.0[i]) = (hit.t, hit.u, hit.v);
                    hits.travelled.0[i] = travelled;
                    hits.triangle[i] = hit.triangle;
                    let t = hit.triangle as usize;
                    hits.face_normal.set(i, self.face_normals[t]);
                    for (k, &vertex) in mesh.triangles[t].iter().enumerate() {
                        hits.n[k].set(i, mesh.normals[vertex as usize]);
                    }
                    hits.base_color.set(i, material.base_color);
                    hits.emitted.set(i, material.emitted);
                    if let Some(e) = emitter {
                        if !few {
                            hits.light.set(i, e);
                        }
                        hits.lit.0[i] = true;
                    }
                    // Only a see-through surface moves the ray's origin; storing it anyway
                    // made the bounce's vector load of the origins wait for the stores.
                    if self.see_through {
                        paths.origin.set(i, reached.origin);
                    }
                    continue;
                }
            }
            let mut lane_draws = [0.0; DRAWS_PER_BOUNCE];
            for (d, lanes) in lane_draws.iter_mut().zip(draws) {
                *d = lanes.0[i];
            }
            let mut path = paths.get(i);
            paths.alive.0[i] = self.bounce(&mut path, depth, max_depth, &lane_draws, stop);
            paths.set(i, &path);
        }
        if let (true, Some(k)) = (few, emitters) {
            for (e, light) in self.plain_lights.iter().enumerate() {
                if let Some(light) = light {
                    hits.light.select(M::from_fn(|i| k.0[i] == e as u32), light);
                }
            }
        }
    }

    /// The bounces of `hits`' lanes off their plain surfaces: [`PathTracer::bounce`] for a
    /// Lambertian surface and an emissive triangle's light, a lane per element.
    #[inline(always)]
    fn plain_bounce(
        &self,
        paths: &mut Paths,
        hits: &PlainHits,
        draws: &[F; DRAWS_PER_BOUNCE],
        depth: u32,
        max_depth: u32,
    ) {
        let active = hits.lanes;
        let [n0, n1, n2] = hits.n;
        let dir = paths.dir;
        // `surface`: the geometric and interpolated normals, turned towards the viewer.
        let ng_raw = hits.face_normal;
        let front = dir.dot(ng_raw).lt(F::ZERO);
        let w = F::splat(1.0) - hits.u - hits.v;
        let ns = (n0.scale(w) + n1.scale(hits.u) + n2.scale(hits.v)).normalize_or(ng_raw);
        let ng = ng_raw.dot(dir).gt(F::ZERO).select3(-ng_raw, ng_raw);
        let ns = ns.dot(ng).lt(F::ZERO).select3(-ns, ns);
        let wo = -dir;
        let mut ns = ns;
        for i in (active & !reflects_above(ns, ng, wo)).lanes() {
            let bent = reflection_safe_normal(ns.get(i), ng.get(i), wo.get(i));
            ns.set(i, bent);
        }
        let emitted = front.select3(hits.emitted, V3::ZERO);
        let p = paths.origin + dir.scale(hits.t);
        if depth == 1 {
            for i in active.lanes() {
                paths.first[i] = Some(FirstHit {
                    albedo: hits.base_color.get(i),
                    normal: ns.get(i),
                    depth: hits.t.0[i] + hits.travelled.0[i],
                });
            }
        }
        // Emission found by the last bounce.
        let mut weight = F::splat(1.0);
        let glowing = active & !emitted.is_zero();
        for i in (glowing & !paths.specular_bounce).lanes() {
            let hit = Hit {
                t: hits.t.0[i],
                u: hits.u.0[i],
                v: hits.v.0[i],
                triangle: hits.triangle[i],
            };
            weight.0[i] = self.light_hit_weight(paths.prev_pdf.0[i], &hit, dir.get(i));
        }
        paths.l = glowing.select3(paths.l + (paths.beta * emitted).scale(weight), paths.l);
        if depth == max_depth {
            paths.alive = paths.alive & !active;
            return;
        }
        // A lane without light keeps its radiance, where the scalar path adds beta times zero:
        // the same bits, as beta is finite here and the radiance is never -0.
        let lit = self.direct_light_lanes(hits, draws, p, ng, ns, wo);
        paths.l = lit.0.select3(paths.l + paths.beta * lit.1, paths.l);
        // The BSDF's sample: a cosine-weighted direction about the shading normal.
        let wo_z = wo.dot(ns);
        let (u, v) = (draws[4], draws[5]);
        let r = u.sqrt();
        let phi = F::splat(2.0 * PI) * v;
        let (s, c) = lane::sin_cos(phi);
        let local = V3 {
            x: r * c,
            y: r * s,
            z: (F::splat(1.0) - u).max(F::ZERO).sqrt(),
        };
        let (t, b) = basis(ns);
        let wi = t.scale(local.x) + b.scale(local.y) + ns.scale(local.z);
        let pdf = local.z * F::splat(FRAC_1_PI);
        let sampled = !(wo_z.eq(F::ZERO) | wo_z.lt(F::ZERO) | wi.dot(ng).le(F::ZERO));
        let mut beta = paths.beta * hits.base_color;
        let mut going = sampled;
        if depth >= RR_DEPTH {
            let q = beta.max_element().min(F::splat(0.95));
            going = going & !draws[6].ge(q);
            beta = beta / q;
        }
        going = going & !beta.is_zero() & beta.is_finite();
        let origin = offset_origin(p, ng, wi);
        let on = active & going;
        paths.beta = on.select3(beta, paths.beta);
        paths.specular_bounce = paths.specular_bounce & !on;
        paths.prev_pdf = on.select(pdf, paths.prev_pdf);
        paths.origin = on.select3(origin, paths.origin);
        paths.dir = on.select3(wi, paths.dir);
        paths.alive = (paths.alive & !active) | on;
    }

    /// [`PathTracer::direct_light`] at the lanes' plain surfaces: the lanes that gain light,
    /// and the light each gains.
    #[inline(always)]
    fn direct_light_lanes(
        &self,
        hits: &PlainHits,
        draws: &[F; DRAWS_PER_BOUNCE],
        p: V3,
        ng: V3,
        ns: V3,
        wo: V3,
    ) -> (M, V3) {
        let sampling = hits.lanes & hits.lit;
        if !sampling.any() {
            return (M::NONE, V3::ZERO);
        }
        let LightLanes {
            p0: q0,
            e1,
            e2,
            normal,
            radiance,
            area,
            pmf,
        } = hits.light;
        let base_color = hits.base_color;
        let (u, v) = (draws[1], draws[2]);
        let one = F::splat(1.0);
        let su = u.sqrt();
        let (b0, b1) = (one - su, v * su);
        let b2 = one - b0 - b1;
        let q = q0 + e1.scale(b1) + e2.scale(b2);
        let d = q - p;
        let dist2 = d.dot(d);
        let distance = dist2.sqrt();
        let wi = d / distance;
        let cos_l = -wi.dot(normal);
        let light_pdf = F::splat(self.lights.choice_pdf()) * pmf * dist2 / (cos_l * area);
        // The BSDF's `eval` and `pdf` for a Lambertian surface.
        let geometric_reflect = (wi.dot(ng) * wo.dot(ng)).gt(F::ZERO);
        let (cos_o, cos_i) = (wo.dot(ns), wi.dot(ns));
        let facing = cos_o.gt(F::ZERO) & cos_i.gt(F::ZERO);
        let f = (facing & geometric_reflect)
            .select3(base_color.scale(F::splat(FRAC_1_PI) * cos_i), V3::ZERO);
        let bsdf_pdf = facing.select(cos_i * F::splat(FRAC_1_PI), F::ZERO);
        let mut shadowed = sampling & !distance.le(F::ZERO) & !cos_l.le(F::ZERO) & !f.is_zero();
        let origin = offset_origin(p, ng, wi);
        let t_max = distance * F::splat(1.0 - SHADOW_EPSILON);
        let rays = rays(shadowed, origin, wi);
        let slabs = SlabRay::lanes(shadowed, origin, wi);
        for i in shadowed.lanes() {
            let blocked = if self.see_through {
                self.blocked(rays[i], t_max.0[i], draws[0].0[i])
            } else {
                // `blocked` in an opaque scene, as above.
                self.bvh
                    .occluded_prepared(&rays[i], &slabs[i], 0.0, t_max.0[i])
            };
            if blocked {
                shadowed.0[i] = false;
            }
        }
        let weight = F::from_fn(|i| power_heuristic(light_pdf.0[i], bsdf_pdf.0[i]));
        (shadowed, (f * radiance).scale(weight / light_pdf))
    }
}

/// The rays of lanes `lanes`, all laid out before any is traced: a ray traced just after its
/// coordinates were stored one by one waits for them, as traversal loads them two at a time
/// (the stall took 7 % of traversal's time).
#[inline(always)]
fn rays(lanes: M, origin: V3, dir: V3) -> [Ray; LANES] {
    let mut rays = [Ray::new(Vec3::ZERO, Vec3::ZERO); LANES];
    for i in lanes.lanes() {
        rays[i] = Ray::new(origin.get(i), dir.get(i));
    }
    rays
}

/// Whether the mirror reflection of `wo` about `ns` leaves above the surface, as
/// [`reflection_safe_normal`] asks before it bends.
#[inline(always)]
fn reflects_above(ns: V3, ng: V3, wo: V3) -> M {
    let cos_o = wo.dot(ng);
    let threshold = (F::splat(0.9) * cos_o).min(F::splat(0.01));
    let reflected = ns.scale(F::splat(2.0) * wo.dot(ns)) - wo;
    cos_o.le(F::ZERO) | reflected.dot(ng).ge(threshold)
}

/// [`Frame::from_normal`](crate::bsdf::Frame::from_normal)'s tangent and bitangent.
#[inline(always)]
fn basis(n: V3) -> (V3, V3) {
    let sign = F::from_fn(|i| 1.0f32.copysign(n.z.0[i]));
    let a = -F::splat(1.0) / (sign + n.z);
    let b = n.x * n.y * a;
    let t = V3 {
        x: F::splat(1.0) + sign * n.x * n.x * a,
        y: sign * b,
        z: -sign * n.x,
    };
    let bitangent = V3 {
        x: b,
        y: sign + n.y * n.y * a,
        z: -n.y,
    };
    (t, bitangent)
}

/// [`offset_origin`](super::offset_origin) in every lane.
#[inline(always)]
fn offset_origin(p: V3, ng: V3, dir: V3) -> V3 {
    let abs = V3 {
        x: p.x.map(f32::abs),
        y: p.y.map(f32::abs),
        z: p.z.map(f32::abs),
    };
    let eps = F::splat(1e-4) * (F::splat(1.0) + abs.max_element());
    let step = ng.scale(eps);
    dir.dot(ng).ge(F::ZERO).select3(p + step, p - step)
}
