//! Scattering at a surface point: glTF's metallic-roughness model as a mixture of lobes.
//!
//! f = coat + (1 - C * F_coat(wo)) * [sheen + (1 - S * E_sheen(wo)) * base]
//! base = metallic * metal + (1 - metallic) * [(1 - T) * (specular layer + diffuse) + T * dielectric]
//!
//! - coat (`KHR_materials_clearcoat`, strength C): GGX reflection with Schlick Fresnel of
//!   reflectance 0.04 (ior 1.5), over everything else, on the shading normal;
//! - sheen (`KHR_materials_sheen`, colour S): the Charlie lobe ([`sheen`]), scaling what lies
//!   below it by its albedo, so that energy is conserved;
//! - metal: GGX reflection with Schlick Fresnel tinted by the base colour;
//! - specular layer: GGX reflection weighted by `KHR_materials_specular` and the ior's Fresnel;
//! - diffuse: Lambertian, attenuated by what the specular layer reflects;
//! - dielectric (`KHR_materials_transmission`): exact dielectric Fresnel with rough (GGX,
//!   Walter et al.) or smooth refraction into a solid, or straight-through transmission for
//!   thin-walled surfaces; transmitted light is tinted by the base colour.
//!
//! Roughness is squared into GGX's alpha as glTF specifies; alphas below [`DELTA_ALPHA`] are
//! treated as perfectly smooth (Dirac lobes), which next-event estimation skips.
//! All directions are unit vectors pointing away from the surface.

mod sheen;

use std::f32::consts::{FRAC_1_PI, PI};

use glam::Vec3;

use crate::transcendental;

/// GGX alpha below which a lobe is a mirror (as in pbrt-v4).
pub const DELTA_ALPHA: f32 = 1e-3;

/// An orthonormal basis around a normal.
#[derive(Clone, Copy, Debug)]
pub struct Frame {
    pub t: Vec3,
    pub b: Vec3,
    pub n: Vec3,
}

impl Frame {
    /// Duff et al.'s branchless basis.
    pub fn from_normal(n: Vec3) -> Self {
        let sign = 1.0f32.copysign(n.z);
        let a = -1.0 / (sign + n.z);
        let b = n.x * n.y * a;
        Self {
            t: Vec3::new(1.0 + sign * n.x * n.x * a, sign * b, -sign * n.x),
            b: Vec3::new(b, sign + n.y * n.y * a, -n.y),
            n,
        }
    }
    pub fn to_local(&self, v: Vec3) -> Vec3 {
        Vec3::new(v.dot(self.t), v.dot(self.b), v.dot(self.n))
    }
    pub fn to_world(&self, v: Vec3) -> Vec3 {
        self.t * v.x + self.b * v.y + self.n * v.z
    }
}

/// Material parameters after texture lookups, at one point.
#[derive(Clone, Copy, Debug)]
pub struct SurfaceParams {
    pub base_color: Vec3,
    pub metallic: f32,
    pub roughness: f32,
    pub specular: f32,
    pub specular_color: Vec3,
    pub transmission: f32,
    pub ior: f32,
    pub thin_walled: bool,
    pub sheen_color: Vec3,
    pub sheen_roughness: f32,
    pub clearcoat: f32,
    pub clearcoat_roughness: f32,
}

/// Reflectance of a clear coat at normal incidence (ior 1.5), as glTF specifies.
const COAT_F0: f32 = 0.04;

/// A sampled direction.
#[derive(Clone, Copy, Debug)]
pub struct BsdfSample {
    pub wi: Vec3,
    /// f * |cos(wi)| / pdf.
    pub weight: Vec3,
    /// Solid-angle density; meaningless for Dirac lobes.
    pub pdf: f32,
    pub delta: bool,
    /// Relative index of refraction crossed (1 for reflection), for Russian roulette.
    pub eta: f32,
}

/// Random numbers a sample consumes: one to pick a lobe, two for the direction.
#[derive(Clone, Copy, Debug)]
pub struct BsdfRandom {
    pub lobe: f32,
    pub u: f32,
    pub v: f32,
}

/// What a BSDF takes from the material's parameters alone, not from the surface's
/// orientation: the same at every point of an untextured material, so it is worked out once
/// per material ([`Lobes::new`]) rather than at every hit.
#[derive(Clone, Copy, Debug)]
pub struct Lobes {
    params: SurfaceParams,
    alpha: f32,
    /// Dielectric reflectance at normal incidence of the specular layer, times its colour.
    layer_f0: Vec3,
    /// Mixture weights of the lobes: metal, specular layer + diffuse (one "plastic" weight),
    /// dielectric.
    w_metal: f32,
    w_plastic: f32,
    w_dielectric: f32,
    /// Fast path: a pure Lambertian surface (the common diffuse wall).
    lambertian: bool,
    /// The clear coat's strength and GGX alpha (0: no coat).
    coat: f32,
    coat_alpha: f32,
    /// The sheen's colour (black: none) and Charlie roughness.
    sheen: Vec3,
    sheen_roughness: f32,
}

impl Lobes {
    #[inline]
    pub fn new(params: SurfaceParams) -> Self {
        let alpha = (params.roughness * params.roughness).max(0.0);
        let metallic = params.metallic.clamp(0.0, 1.0);
        let transmission = params.transmission.clamp(0.0, 1.0);
        let f0 = ((params.ior - 1.0) / (params.ior + 1.0)).powi(2);
        let layer_f0 = (params.specular_color * f0).min(Vec3::ONE);
        let w_metal = metallic;
        let w_plastic = (1.0 - metallic) * (1.0 - transmission);
        let w_dielectric = (1.0 - metallic) * transmission;
        let coat = params.clearcoat.clamp(0.0, 1.0);
        let sheen = params.sheen_color.clamp(Vec3::ZERO, Vec3::ONE);
        let lambertian = w_metal == 0.0
            && w_dielectric == 0.0
            && params.specular <= 0.0
            && coat == 0.0
            && sheen == Vec3::ZERO;
        Self {
            params,
            alpha,
            layer_f0,
            w_metal,
            w_plastic,
            w_dielectric,
            lambertian,
            coat,
            coat_alpha: (params.clearcoat_roughness * params.clearcoat_roughness).max(0.0),
            sheen,
            sheen_roughness: params.sheen_roughness.clamp(sheen::MIN_ROUGHNESS, 1.0),
        }
    }

    /// The parameters these lobes were made from.
    pub fn params(&self) -> &SurfaceParams {
        &self.params
    }

    /// Whether these are a pure Lambertian surface's (the common diffuse wall).
    pub fn is_lambertian(&self) -> bool {
        self.lambertian
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Bsdf<'l> {
    frame: Frame,
    /// Geometric normal, on the same side as `frame.n`.
    ng: Vec3,
    lobes: &'l Lobes,
}

/// Lobe selection probabilities for one outgoing direction.
#[derive(Clone, Copy, Debug)]
struct LobeProbs {
    coat: f32,
    sheen: f32,
    reflect: f32,
    diffuse: f32,
    dielectric: f32,
}

impl<'l> Bsdf<'l> {
    /// `lobes` oriented by the shading normal `ns`. `ns` and `ng` must lie on the same side;
    /// for surfaces without transmission the caller turns both towards the viewer.
    #[inline]
    pub fn new(lobes: &'l Lobes, ns: Vec3, ng: Vec3) -> Self {
        Self {
            frame: Frame::from_normal(ns),
            ng,
            lobes,
        }
    }

    fn smooth_coat(&self) -> bool {
        self.lobes.coat_alpha < DELTA_ALPHA
    }

    /// What the coat reflects of light arriving along `wo` (cosine `cos_o`), as a scalar.
    fn coat_reflectance(&self, cos_o: f32) -> f32 {
        self.lobes.coat * schlick_scalar(COAT_F0, cos_o)
    }

    /// The sheen's albedo along `cos_o`, as the scale of the layers below it takes it.
    fn sheen_albedo(&self, cos_o: f32) -> f32 {
        if self.lobes.sheen == Vec3::ZERO {
            0.0
        } else {
            max3(self.lobes.sheen) * sheen::albedo(cos_o, self.lobes.sheen_roughness)
        }
    }

    /// What reaches the base through the coat and the sheen, seen along `cos_o`.
    fn base_scale(&self, cos_o: f32) -> f32 {
        (1.0 - self.coat_reflectance(cos_o)) * (1.0 - self.sheen_albedo(cos_o))
    }

    pub fn shading_normal(&self) -> Vec3 {
        self.frame.n
    }

    fn smooth(&self) -> bool {
        self.lobes.alpha < DELTA_ALPHA
    }

    /// Whether some lobe is not a Dirac delta, i.e. light sampling can help.
    pub fn has_non_delta(&self) -> bool {
        self.lobes.w_plastic > 0.0
            || !self.smooth()
            || self.lobes.sheen != Vec3::ZERO
            || (self.lobes.coat > 0.0 && !self.smooth_coat())
    }

    fn lobe_probs(&self, wo: Vec3) -> LobeProbs {
        let cos_o = wo.z.abs();
        let outside = wo.z > 0.0;
        let layer = self.lobes.params.specular * max3(schlick(self.lobes.layer_f0, cos_o));
        let (mut coat, mut sheen, mut reflect, mut diffuse) = (0.0, 0.0, 0.0, 0.0);
        let scale = self.base_scale(cos_o);
        if outside {
            coat = self.coat_reflectance(cos_o);
            sheen = (1.0 - coat) * self.sheen_albedo(cos_o);
            reflect = (self.lobes.w_metal + self.lobes.w_plastic * layer) * scale;
            diffuse =
                self.lobes.w_plastic * (1.0 - layer) * max3(self.lobes.params.base_color) * scale;
        }
        let dielectric = self.lobes.w_dielectric * scale;
        let total = coat + sheen + reflect + diffuse + dielectric;
        if total <= 0.0 {
            return LobeProbs {
                coat: 0.0,
                sheen: 0.0,
                reflect: 0.0,
                diffuse: 0.0,
                dielectric: 0.0,
            };
        }
        LobeProbs {
            coat: coat / total,
            sheen: sheen / total,
            reflect: reflect / total,
            diffuse: diffuse / total,
            dielectric: dielectric / total,
        }
    }

    /// Fresnel of the reflection lobes (metal and specular layer together) for a microfacet
    /// with cosine `cos_h` to `wo`, including their mixture weights.
    fn reflect_fresnel(&self, cos_h: f32) -> Vec3 {
        let metal = schlick(self.lobes.params.base_color, cos_h) * self.lobes.w_metal;
        let layer = schlick(self.lobes.layer_f0, cos_h)
            * (self.lobes.params.specular * self.lobes.w_plastic);
        metal + layer
    }

    fn diffuse_albedo(&self, cos_o: f32) -> Vec3 {
        let layer = self.lobes.params.specular * max3(schlick(self.lobes.layer_f0, cos_o));
        self.lobes.params.base_color * (self.lobes.w_plastic * (1.0 - layer))
    }

    /// The non-delta part of f(wo, wi) |cos(wi)|.
    #[inline(always)]
    pub fn eval(&self, wo_world: Vec3, wi_world: Vec3) -> Vec3 {
        let geometric_reflect = wi_world.dot(self.ng) * wo_world.dot(self.ng) > 0.0;
        if self.lobes.lambertian {
            // The common case, in world space: no change of basis needed.
            let (cos_o, cos_i) = (wo_world.dot(self.frame.n), wi_world.dot(self.frame.n));
            return if cos_o > 0.0 && cos_i > 0.0 && geometric_reflect {
                self.lobes.params.base_color * (FRAC_1_PI * cos_i)
            } else {
                Vec3::ZERO
            };
        }
        let wo = self.frame.to_local(wo_world);
        let wi = self.frame.to_local(wi_world);
        let reflect = wi.z * wo.z > 0.0;
        if reflect != geometric_reflect || wo.z == 0.0 || wi.z == 0.0 {
            return Vec3::ZERO;
        }
        let mut f = Vec3::ZERO;
        let on_top = wo.z > 0.0 && reflect;
        if on_top {
            f += self.diffuse_albedo(wo.z) * (FRAC_1_PI * wi.z);
            if !self.smooth() {
                let wm = (wo + wi).normalize();
                let g = ggx_d(wm, self.lobes.alpha) * ggx_g(wo, wi, self.lobes.alpha)
                    / (4.0 * wo.z * wi.z);
                f += self.reflect_fresnel(wo.dot(wm)) * (g * wi.z);
            }
        }
        if self.lobes.w_dielectric > 0.0 && !self.smooth() {
            f += self.dielectric_f(wo, wi) * (self.lobes.w_dielectric * wi.z.abs());
        }
        if self.lobes.coat == 0.0 && self.lobes.sheen == Vec3::ZERO {
            return f;
        }
        let cos_o = wo.z.abs();
        f *= self.base_scale(cos_o);
        if !on_top {
            return f;
        }
        let wm = (wo + wi).normalize();
        if self.lobes.sheen != Vec3::ZERO {
            let d = sheen::d_charlie(wm.z, self.lobes.sheen_roughness);
            let v = sheen::visibility(wo.z, wi.z, self.lobes.sheen_roughness);
            f += self.lobes.sheen * ((1.0 - self.coat_reflectance(cos_o)) * d * v * wi.z);
        }
        if self.lobes.coat > 0.0 && !self.smooth_coat() {
            let a = self.lobes.coat_alpha;
            let g = ggx_d(wm, a) * ggx_g(wo, wi, a) / (4.0 * wo.z * wi.z);
            f += Vec3::splat(self.lobes.coat * schlick_scalar(COAT_F0, wo.dot(wm)) * g * wi.z);
        }
        f
    }

    /// Solid-angle density with which [`Bsdf::sample`] picks `wi` through non-delta lobes.
    #[inline(always)]
    pub fn pdf(&self, wo_world: Vec3, wi_world: Vec3) -> f32 {
        if self.lobes.lambertian {
            let (cos_o, cos_i) = (wo_world.dot(self.frame.n), wi_world.dot(self.frame.n));
            return if cos_o > 0.0 && cos_i > 0.0 {
                cos_i * FRAC_1_PI
            } else {
                0.0
            };
        }
        let wo = self.frame.to_local(wo_world);
        let wi = self.frame.to_local(wi_world);
        if wo.z == 0.0 || wi.z == 0.0 {
            return 0.0;
        }
        let probs = self.lobe_probs(wo);
        let reflect = wi.z * wo.z > 0.0;
        let mut pdf = 0.0;
        if reflect && wo.z > 0.0 {
            pdf += (probs.diffuse + probs.sheen) * wi.z * FRAC_1_PI;
            let wm = (wo + wi).normalize();
            if !self.smooth() {
                pdf += probs.reflect * ggx_vndf_pdf(wo, wm, self.lobes.alpha)
                    / (4.0 * wo.dot(wm).abs());
            }
            if probs.coat > 0.0 && !self.smooth_coat() {
                pdf += probs.coat * ggx_vndf_pdf(wo, wm, self.lobes.coat_alpha)
                    / (4.0 * wo.dot(wm).abs());
            }
        }
        if probs.dielectric > 0.0 && !self.smooth() {
            pdf += probs.dielectric * self.dielectric_pdf(wo, wi);
        }
        pdf
    }

    #[inline(always)]
    pub fn sample(&self, wo_world: Vec3, rnd: BsdfRandom) -> Option<BsdfSample> {
        let wo = self.frame.to_local(wo_world);
        if wo.z == 0.0 {
            return None;
        }
        if self.lobes.lambertian {
            if wo.z < 0.0 {
                return None;
            }
            let wi = cosine_hemisphere(rnd.u, rnd.v);
            let wi_world = self.frame.to_world(wi);
            if wi_world.dot(self.ng) <= 0.0 {
                return None;
            }
            return Some(BsdfSample {
                wi: wi_world,
                weight: self.lobes.params.base_color,
                pdf: wi.z * FRAC_1_PI,
                delta: false,
                eta: 1.0,
            });
        }
        let probs = self.lobe_probs(wo);
        let mut lobe = rnd.lobe;
        if lobe < probs.coat {
            if self.smooth_coat() {
                let wi = Vec3::new(-wo.x, -wo.y, wo.z);
                let weight = Vec3::splat(self.coat_reflectance(wo.z) / probs.coat);
                return self.finish(wo_world, wi, weight, 0.0, true, 1.0);
            }
            let wi = reflect(wo, ggx_sample_vndf(wo, self.lobes.coat_alpha, rnd.u, rnd.v));
            if wi.z <= 0.0 {
                return None;
            }
            return self.sample_non_delta(wo_world, wi);
        }
        lobe -= probs.coat;
        if lobe < probs.sheen {
            return self.sample_non_delta(wo_world, cosine_hemisphere(rnd.u, rnd.v));
        }
        lobe -= probs.sheen;
        if lobe < probs.dielectric {
            lobe /= probs.dielectric;
            return self.sample_dielectric(wo, wo_world, lobe, rnd, probs.dielectric);
        }
        lobe -= probs.dielectric;
        let wi = if lobe < probs.reflect {
            if self.smooth() {
                let wi = Vec3::new(-wo.x, -wo.y, wo.z);
                let weight = self.reflect_fresnel(wo.z) * (self.base_scale(wo.z) / probs.reflect);
                return self.finish(wo_world, wi, weight, 0.0, true, 1.0);
            }
            reflect(wo, ggx_sample_vndf(wo, self.lobes.alpha, rnd.u, rnd.v))
        } else if probs.diffuse > 0.0 {
            cosine_hemisphere(rnd.u, rnd.v)
        } else {
            return None;
        };
        if wi.z <= 0.0 {
            return None;
        }
        self.sample_non_delta(wo_world, wi)
    }

    fn finish(
        &self,
        wo_world: Vec3,
        wi_local: Vec3,
        weight: Vec3,
        pdf: f32,
        delta: bool,
        eta: f32,
    ) -> Option<BsdfSample> {
        let wi = self.frame.to_world(wi_local);
        // A shading normal must not send light through the geometric surface the wrong way.
        let same_side_geo = wi.dot(self.ng) * wo_world.dot(self.ng) > 0.0;
        let same_side_local = wi_local.z * self.frame.to_local(wo_world).z > 0.0;
        if same_side_geo != same_side_local || !weight.is_finite() {
            return None;
        }
        Some(BsdfSample {
            wi,
            weight,
            pdf,
            delta,
            eta,
        })
    }

    fn transmit_tint(&self) -> Vec3 {
        self.lobes.params.base_color
    }

    /// The dielectric lobe's f (without its mixture weight and cosine), non-delta part.
    fn dielectric_f(&self, wo: Vec3, wi: Vec3) -> Vec3 {
        let eta = self.lobes.params.ior;
        if self.lobes.params.thin_walled {
            // Thin sheets: only the rough reflection is non-delta; transmission goes straight.
            if wo.z * wi.z <= 0.0 {
                return Vec3::ZERO;
            }
            let (wo, wi) = if wo.z < 0.0 { (-wo, -wi) } else { (wo, wi) };
            let wm = (wo + wi).normalize();
            let fr = fresnel_dielectric(wo.dot(wm), eta);
            let v = ggx_d(wm, self.lobes.alpha) * ggx_g(wo, wi, self.lobes.alpha) * fr
                / (4.0 * wo.z * wi.z);
            return Vec3::splat(v);
        }
        let (cos_o, cos_i) = (wo.z, wi.z);
        let reflect = cos_o * cos_i > 0.0;
        let etap = if reflect {
            1.0
        } else if cos_o > 0.0 {
            eta
        } else {
            1.0 / eta
        };
        let Some(wm) = generalized_half(wo, wi, etap) else {
            return Vec3::ZERO;
        };
        let fr = fresnel_dielectric(wo.dot(wm), eta);
        let d = ggx_d(wm, self.lobes.alpha);
        let g = ggx_g(wo, wi, self.lobes.alpha);
        if reflect {
            Vec3::splat(d * g * fr / (4.0 * cos_i * cos_o).abs())
        } else {
            let denom = (wi.dot(wm) + wo.dot(wm) / etap).powi(2) * cos_i * cos_o;
            let ft = d * (1.0 - fr) * g * (wi.dot(wm) * wo.dot(wm) / denom).abs() / (etap * etap);
            self.transmit_tint() * ft
        }
    }

    fn dielectric_pdf(&self, wo: Vec3, wi: Vec3) -> f32 {
        let eta = self.lobes.params.ior;
        if self.lobes.params.thin_walled {
            if wo.z * wi.z <= 0.0 {
                return 0.0;
            }
            let (wo, wi) = if wo.z < 0.0 { (-wo, -wi) } else { (wo, wi) };
            let wm = (wo + wi).normalize();
            let r = fresnel_dielectric(wo.z, eta);
            return r * ggx_vndf_pdf(wo, wm, self.lobes.alpha) / (4.0 * wo.dot(wm).abs());
        }
        let reflect = wo.z * wi.z > 0.0;
        let etap = if reflect {
            1.0
        } else if wo.z > 0.0 {
            eta
        } else {
            1.0 / eta
        };
        let Some(wm) = generalized_half(wo, wi, etap) else {
            return 0.0;
        };
        let r = fresnel_dielectric(wo.dot(wm), eta);
        // wm faces +z; seen from inside, the visible-normal density is that of -wo.
        let vis = ggx_vndf_pdf(wo * wo.z.signum(), wm, self.lobes.alpha);
        if reflect {
            vis / (4.0 * wo.dot(wm).abs()) * r
        } else {
            let denom = (wi.dot(wm) + wo.dot(wm) / etap).powi(2);
            vis * wi.dot(wm).abs() / denom * (1.0 - r)
        }
    }

    fn sample_dielectric(
        &self,
        wo: Vec3,
        wo_world: Vec3,
        choice: f32,
        rnd: BsdfRandom,
        prob: f32,
    ) -> Option<BsdfSample> {
        let eta = self.lobes.params.ior;
        let w = self.lobes.w_dielectric * self.base_scale(wo.z.abs()) / prob;
        if self.lobes.params.thin_walled {
            let r = fresnel_dielectric(wo.z.abs(), eta);
            if choice >= r {
                // Straight through, unbent.
                return self.finish(wo_world, -wo, self.transmit_tint() * w, 0.0, true, 1.0);
            }
            if self.smooth() {
                return self.finish(
                    wo_world,
                    Vec3::new(-wo.x, -wo.y, wo.z),
                    Vec3::splat(w),
                    0.0,
                    true,
                    1.0,
                );
            }
            let wm = ggx_sample_vndf(wo * wo.z.signum(), self.lobes.alpha, rnd.u, rnd.v);
            let wi = reflect(wo, wm);
            return self.sample_non_delta(wo_world, wi);
        }
        if self.smooth() {
            let r = fresnel_dielectric(wo.z, eta);
            if choice < r {
                return self.finish(
                    wo_world,
                    Vec3::new(-wo.x, -wo.y, wo.z),
                    Vec3::splat(w),
                    0.0,
                    true,
                    1.0,
                );
            }
            let (wi, etap) = refract(wo, Vec3::Z, eta)?;
            return self.finish(
                wo_world,
                wi,
                self.transmit_tint() * (w / (etap * etap)),
                0.0,
                true,
                etap,
            );
        }
        // wm faces +z; from inside, Fresnel sees a negative cosine and inverts eta.
        let wm = ggx_sample_vndf(wo * wo.z.signum(), self.lobes.alpha, rnd.u, rnd.v);
        let r = fresnel_dielectric(wo.dot(wm), eta);
        let wi = if choice < r {
            reflect(wo, wm)
        } else {
            refract(wo, wm, eta)?.0
        };
        self.sample_non_delta(wo_world, wi)
    }

    /// Finishes a sample drawn from a non-delta lobe: weight from the full mixture's f and pdf,
    /// so the estimate matches what MIS assumes.
    fn sample_non_delta(&self, wo_world: Vec3, wi: Vec3) -> Option<BsdfSample> {
        if wi.z == 0.0 {
            return None;
        }
        let wi_world = self.frame.to_world(wi);
        let pdf = self.pdf(wo_world, wi_world);
        if pdf <= 0.0 {
            return None;
        }
        let f = self.eval(wo_world, wi_world);
        let wo = self.frame.to_local(wo_world);
        let eta = if wo.z * wi.z < 0.0 && !self.lobes.params.thin_walled {
            if wo.z > 0.0 {
                self.lobes.params.ior
            } else {
                1.0 / self.lobes.params.ior
            }
        } else {
            1.0
        };
        self.finish(wo_world, wi, f / pdf, pdf, false, eta)
    }
}

#[inline(always)]
fn max3(v: Vec3) -> f32 {
    v.max_element()
}

#[inline(always)]
fn schlick_scalar(f0: f32, cos: f32) -> f32 {
    let m = (1.0 - cos.clamp(0.0, 1.0)).powi(5);
    f0 + (1.0 - f0) * m
}

#[inline(always)]
fn schlick(f0: Vec3, cos: f32) -> Vec3 {
    let m = (1.0 - cos.clamp(0.0, 1.0)).powi(5);
    f0 + (Vec3::ONE - f0) * m
}

/// Unpolarised Fresnel reflectance of a dielectric interface; `cos_i` is signed (negative from
/// inside), `eta` = inside / outside index.
pub fn fresnel_dielectric(cos_i: f32, eta: f32) -> f32 {
    let mut cos_i = cos_i.clamp(-1.0, 1.0);
    let mut eta = eta;
    if cos_i < 0.0 {
        eta = 1.0 / eta;
        cos_i = -cos_i;
    }
    let sin2_t = (1.0 - cos_i * cos_i) / (eta * eta);
    if sin2_t >= 1.0 {
        return 1.0;
    }
    let cos_t = (1.0 - sin2_t).max(0.0).sqrt();
    let r_parl = (eta * cos_i - cos_t) / (eta * cos_i + cos_t);
    let r_perp = (cos_i - eta * cos_t) / (cos_i + eta * cos_t);
    0.5 * (r_parl * r_parl + r_perp * r_perp)
}

fn reflect(wo: Vec3, n: Vec3) -> Vec3 {
    -wo + n * (2.0 * wo.dot(n))
}

/// Refraction of `wi` through a surface with normal `n` (either side); returns the direction
/// and the relative index crossed.
fn refract(wi: Vec3, n: Vec3, eta: f32) -> Option<(Vec3, f32)> {
    let mut cos_i = n.dot(wi);
    let (mut eta, mut n) = (eta, n);
    if cos_i < 0.0 {
        eta = 1.0 / eta;
        cos_i = -cos_i;
        n = -n;
    }
    let sin2_t = (1.0 - cos_i * cos_i).max(0.0) / (eta * eta);
    if sin2_t >= 1.0 {
        return None;
    }
    let cos_t = (1.0 - sin2_t).sqrt();
    Some((-wi / eta + n * (cos_i / eta - cos_t), eta))
}

/// Half vector of a refraction or reflection, facing +z; `None` at grazing configurations or
/// for microfacets seen from behind.
fn generalized_half(wo: Vec3, wi: Vec3, etap: f32) -> Option<Vec3> {
    let wm = wi * etap + wo;
    if wm.length_squared() == 0.0 {
        return None;
    }
    let mut wm = wm.normalize();
    if wm.z < 0.0 {
        wm = -wm;
    }
    if wm.dot(wi) * wi.z < 0.0 || wm.dot(wo) * wo.z < 0.0 {
        return None;
    }
    Some(wm)
}

fn cosine_hemisphere(u: f32, v: f32) -> Vec3 {
    let r = u.sqrt();
    let phi = 2.0 * PI * v;
    let (s, c) = transcendental::sin_cos(phi);
    Vec3::new(r * c, r * s, (1.0 - u).max(0.0).sqrt())
}

/// GGX normal distribution (isotropic).
fn ggx_d(m: Vec3, alpha: f32) -> f32 {
    if m.z <= 0.0 {
        return 0.0;
    }
    let a2 = alpha * alpha;
    let t = (m.x * m.x + m.y * m.y) / a2 + m.z * m.z;
    1.0 / (PI * a2 * t * t)
}

fn ggx_lambda(w: Vec3, alpha: f32) -> f32 {
    let cos2 = w.z * w.z;
    if cos2 == 0.0 {
        return f32::INFINITY;
    }
    let tan2 = (1.0 - cos2).max(0.0) / cos2;
    0.5 * ((1.0 + alpha * alpha * tan2).sqrt() - 1.0)
}

fn ggx_g1(w: Vec3, alpha: f32) -> f32 {
    1.0 / (1.0 + ggx_lambda(w, alpha))
}

fn ggx_g(wo: Vec3, wi: Vec3, alpha: f32) -> f32 {
    1.0 / (1.0 + ggx_lambda(wo, alpha) + ggx_lambda(wi, alpha))
}

/// Density of visible normal `wm` seen from `wo` (upper hemisphere).
fn ggx_vndf_pdf(wo: Vec3, wm: Vec3, alpha: f32) -> f32 {
    if wo.z <= 0.0 {
        return 0.0;
    }
    ggx_g1(wo, alpha) / wo.z * ggx_d(wm, alpha) * wo.dot(wm).max(0.0)
}

/// Heitz 2018: sample a visible microfacet normal for `wo` in the upper hemisphere.
fn ggx_sample_vndf(wo: Vec3, alpha: f32, u: f32, v: f32) -> Vec3 {
    let vh = Vec3::new(alpha * wo.x, alpha * wo.y, wo.z).normalize();
    let len2 = vh.x * vh.x + vh.y * vh.y;
    let t1 = if len2 > 0.0 {
        Vec3::new(-vh.y, vh.x, 0.0) / len2.sqrt()
    } else {
        Vec3::X
    };
    let t2 = vh.cross(t1);
    let r = u.sqrt();
    let phi = 2.0 * PI * v;
    let (sp, cp) = transcendental::sin_cos(phi);
    let p1 = r * cp;
    let s = 0.5 * (1.0 + vh.z);
    let p2 = (1.0 - s) * (1.0 - p1 * p1).max(0.0).sqrt() + s * r * sp;
    let nh = t1 * p1 + t2 * p2 + vh * (1.0 - p1 * p1 - p2 * p2).max(0.0).sqrt();
    Vec3::new(alpha * nh.x, alpha * nh.y, nh.z.max(1e-6)).normalize()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampler::SampleStream;

    fn params(metallic: f32, roughness: f32, transmission: f32, thin: bool) -> SurfaceParams {
        SurfaceParams {
            base_color: Vec3::new(0.9, 0.7, 0.5),
            metallic,
            roughness,
            specular: 1.0,
            specular_color: Vec3::ONE,
            transmission,
            ior: 1.5,
            thin_walled: thin,
            sheen_color: Vec3::ZERO,
            sheen_roughness: 0.0,
            clearcoat: 0.0,
            clearcoat_roughness: 0.0,
        }
    }

    /// `base` with a sheen of colour `sheen` and roughness `r`, and a coat of strength `coat`
    /// and roughness `coat_r`.
    fn layered(base: SurfaceParams, sheen: f32, r: f32, coat: f32, coat_r: f32) -> SurfaceParams {
        SurfaceParams {
            sheen_color: Vec3::splat(sheen),
            sheen_roughness: r,
            clearcoat: coat,
            clearcoat_roughness: coat_r,
            ..base
        }
    }

    #[test]
    fn sheen_and_coat_are_consistent() {
        let wo = Vec3::new(0.5, -0.1, 0.7).normalize();
        check_consistency(layered(params(0.0, 0.8, 0.0, true), 1.0, 0.5, 0.0, 0.0), wo);
        check_consistency(layered(params(1.0, 0.5, 0.0, true), 0.0, 0.0, 1.0, 0.3), wo);
        check_consistency(layered(params(0.0, 0.6, 0.0, true), 0.8, 0.3, 0.7, 0.2), wo);
    }

    /// A white sheen over a white Lambertian base reflects what it receives (the albedo
    /// scaling), and a smooth coat over it too (what the coat reflects, the base does not get).
    #[test]
    fn white_sheen_and_smooth_coat_over_white_reflect_everything() {
        let mut white = params(0.0, 1.0, 0.0, true);
        white.base_color = Vec3::ONE;
        white.specular = 0.0;
        for (p, tolerance) in [
            (layered(white, 1.0, 0.5, 0.0, 0.0), 0.02),
            (layered(white, 1.0, 0.9, 0.0, 0.0), 0.02),
            (layered(white, 0.0, 0.0, 1.0, 0.0), 0.005),
        ] {
            for wo in [Vec3::new(0.4, 0.1, 0.6), Vec3::new(0.9, 0.0, 0.2)] {
                let wo = wo.normalize();
                let albedo = sampled_albedo(p, wo, 200_000);
                assert!(
                    (albedo - Vec3::ONE).abs().max_element() < tolerance,
                    "{p:?} along {wo} reflects {albedo}"
                );
            }
        }
    }

    /// Monte Carlo check that sample() is consistent with eval()/pdf(): the mean sample weight
    /// (directional albedo) estimated by sampling equals the one from uniform-sphere eval().
    fn check_consistency(p: SurfaceParams, wo: Vec3) {
        let lobes = Lobes::new(p);
        let bsdf = Bsdf::new(&lobes, Vec3::Z, Vec3::Z);
        let n = 400_000;
        let mut by_sampling = Vec3::ZERO;
        let mut by_eval = Vec3::ZERO;
        let mut s = SampleStream::new(3, 0, 0, 0, 0);
        for _ in 0..n {
            let rnd = BsdfRandom {
                lobe: s.next_f32(),
                u: s.next_f32(),
                v: s.next_f32(),
            };
            if let Some(smp) = bsdf.sample(wo, rnd)
                && !smp.delta
            {
                by_sampling += smp.weight;
                let pdf = bsdf.pdf(wo, smp.wi);
                assert!((pdf - smp.pdf).abs() <= 1e-3 * pdf.max(1.0), "pdf mismatch");
            }
            // Uniform sphere directions for the reference estimate.
            let z = 1.0 - 2.0 * s.next_f32();
            let r = (1.0 - z * z).max(0.0).sqrt();
            let phi = 2.0 * PI * s.next_f32();
            let wi = Vec3::new(r * phi.cos(), r * phi.sin(), z);
            by_eval += bsdf.eval(wo, wi) * (4.0 * PI);
        }
        by_sampling /= n as f32;
        by_eval /= n as f32;
        let diff = (by_sampling - by_eval).abs().max_element();
        assert!(
            diff < 0.02 + 0.03 * by_eval.max_element(),
            "sampling {by_sampling} vs eval {by_eval} for {p:?}"
        );
    }

    #[test]
    fn lambertian_is_consistent() {
        let mut p = params(0.0, 1.0, 0.0, true);
        p.specular = 0.0;
        check_consistency(p, Vec3::new(0.3, 0.2, 0.9).normalize());
    }

    #[test]
    fn rough_metal_and_plastic_are_consistent() {
        let wo = Vec3::new(0.5, -0.1, 0.7).normalize();
        check_consistency(params(1.0, 0.5, 0.0, true), wo);
        check_consistency(params(0.0, 0.4, 0.0, true), wo);
        check_consistency(params(0.5, 0.3, 0.0, true), wo);
    }

    #[test]
    fn rough_glass_is_consistent() {
        let wo = Vec3::new(0.3, 0.0, 0.8).normalize();
        check_consistency(params(0.0, 0.4, 1.0, false), wo);
        check_consistency(params(0.0, 0.4, 1.0, false), -wo);
    }

    /// The mean sample weight along `wo` (times eta squared, so that refraction's radiance
    /// scaling does not count): the directional albedo.
    fn sampled_albedo(p: SurfaceParams, wo: Vec3, n: u32) -> Vec3 {
        let lobes = Lobes::new(p);
        let bsdf = Bsdf::new(&lobes, Vec3::Z, Vec3::Z);
        let mut s = SampleStream::new(5, 0, 0, 0, 0);
        let mut sum = Vec3::ZERO;
        for _ in 0..n {
            let rnd = BsdfRandom {
                lobe: s.next_f32(),
                u: s.next_f32(),
                v: s.next_f32(),
            };
            if let Some(smp) = bsdf.sample(wo, rnd) {
                sum += smp.weight * (smp.eta * smp.eta);
            }
        }
        sum / n as f32
    }

    #[test]
    fn white_furnace_energy_is_at_most_one() {
        for p in [
            params(1.0, 0.3, 0.0, true),
            params(0.0, 0.2, 1.0, false),
            params(0.0, 0.0, 1.0, false),
            params(0.0, 0.6, 0.0, true),
        ] {
            let mut p = p;
            p.base_color = Vec3::ONE;
            let wo = Vec3::new(0.4, 0.1, 0.6).normalize();
            let albedo = sampled_albedo(p, wo, 100_000);
            assert!(albedo.max_element() < 1.02, "{p:?} reflects {albedo}");
            assert!(albedo.min_element() > 0.5, "{p:?} loses too much: {albedo}");
        }
    }

    #[test]
    fn smooth_glass_fresnel_at_normal_incidence() {
        assert!((fresnel_dielectric(1.0, 1.5) - 0.04).abs() < 1e-4);
        assert_eq!(fresnel_dielectric(-0.1, 1.5), 1.0); // total internal reflection
    }
}
