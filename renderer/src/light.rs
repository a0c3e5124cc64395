//! Light sampling for next-event estimation, over the scene's punctual lights, its emissive
//! triangles and its environment map.

use glam::Vec3;

use crate::lane::{F, LANES, U};
use crate::scene::{FrameScene, PunctualLight};

/// Chooses lights for next-event estimation. Each punctual light is one choice and all
/// emissive triangles together are one more (each picked with probability proportional to its
/// area times emitted luminance), so one bright lamp is not drowned by a thousand emitting
/// triangles; an environment map is the last choice.
pub struct LightSampler {
    emissive: Vec<Emitter>,
    /// Cumulative distribution over `emissive`, ending at 1.
    cdf: Vec<f32>,
    /// Probability of each mesh triangle within the emissive group (0 for non-emitters);
    /// empty when the scene has no emissive triangle.
    pmf_by_triangle: Vec<f32>,
    choices: u32,
    /// The scene's punctual lights: the first choices.
    punctual: usize,
    /// Whether the environment is a map, sampled as the last choice.
    environment: bool,
}

/// An emissive triangle's geometry, kept at hand because every light sample needs it.
pub(crate) struct Emitter {
    pub(crate) triangle: u32,
    pub(crate) p0: Vec3,
    pub(crate) e1: Vec3,
    pub(crate) e2: Vec3,
    /// Front-face unit normal.
    pub(crate) normal: Vec3,
    pub(crate) area: f32,
    /// Its probability within the emissive group.
    pub(crate) pmf: f32,
}

/// What [`LightSampler::choose`] picks.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LightChoice {
    /// The scene has no light to sample.
    Nothing,
    /// Punctual light `i` of the scene.
    Punctual(usize),
    Environment,
    /// Emissive triangle `k` ([`LightSampler::emitter`]).
    Emitter(usize),
}

/// A sampled light point or direction, seen from a shading point.
#[derive(Clone, Copy, Debug)]
pub struct LightSample {
    pub wi: Vec3,
    pub distance: f32,
    /// Radiance arriving (emissive triangles) or intensity / distance^2 (punctual lights).
    pub radiance: Vec3,
    /// Solid-angle density, or the discrete choice probability for punctual lights.
    pub pdf: f32,
    pub delta: bool,
}

impl LightSampler {
    pub fn new(scene: &FrameScene) -> Self {
        let mesh = &scene.mesh;
        let mut emissive = Vec::new();
        let mut weights = Vec::new();
        for (i, (tri, &m)) in mesh
            .triangles
            .iter()
            .zip(&mesh.triangle_materials)
            .enumerate()
        {
            let material = &scene.materials[m as usize];
            if !material.is_emissive() {
                continue;
            }
            let p0 = mesh.positions[tri[0] as usize];
            let e1 = mesh.positions[tri[1] as usize] - p0;
            let e2 = mesh.positions[tri[2] as usize] - p0;
            let cross = e1.cross(e2);
            let area = 0.5 * cross.length();
            let power = area * luminance(material.emissive);
            if power > 0.0 && power.is_finite() {
                emissive.push(Emitter {
                    triangle: i as u32,
                    p0,
                    e1,
                    e2,
                    normal: cross / (2.0 * area),
                    area,
                    pmf: 0.0,
                });
                weights.push(power as f64);
            }
        }
        let total: f64 = weights.iter().sum();
        let mut cdf = Vec::with_capacity(weights.len());
        let mut pmf_by_triangle = Vec::new();
        if !emissive.is_empty() {
            pmf_by_triangle = vec![0.0; mesh.triangles.len()];
            let mut acc = 0.0f64;
            for (e, &w) in emissive.iter_mut().zip(&weights) {
                acc += w;
                cdf.push((acc / total) as f32);
                e.pmf = (w / total) as f32;
                pmf_by_triangle[e.triangle as usize] = e.pmf;
            }
            if let Some(last) = cdf.last_mut() {
                *last = 1.0;
            }
        }
        let environment = scene
            .environment
            .as_ref()
            .is_some_and(|e| e.sampled().is_some());
        let choices =
            scene.lights.len() as u32 + u32::from(!emissive.is_empty()) + u32::from(environment);
        Self {
            emissive,
            cdf,
            pmf_by_triangle,
            choices,
            punctual: scene.lights.len(),
            environment,
        }
    }

    /// As [`new`](Self::new), with the environment map left to BSDF sampling alone: what
    /// importance sampling saves is measured against this.
    pub fn without_environment(scene: &FrameScene) -> Self {
        let mut sampler = Self::new(scene);
        if sampler.environment {
            sampler.environment = false;
            sampler.choices -= 1;
        }
        sampler
    }

    /// Emissive triangles (mesh indices) with their cumulative distribution, for the GPU
    /// backends' copy of this sampler.
    pub fn emitters(&self) -> impl Iterator<Item = (u32, f32)> + '_ {
        self.emissive
            .iter()
            .map(|e| e.triangle)
            .zip(self.cdf.iter().copied())
    }

    /// Probability of mesh triangle `tri` within the emissive group (0 for non-emitters).
    pub fn triangle_pmf(&self, tri: u32) -> f32 {
        self.pmf_by_triangle
            .get(tri as usize)
            .copied()
            .unwrap_or(0.0)
    }

    /// The light `pick` chooses for next-event estimation.
    #[inline(always)]
    pub fn choose(&self, pick: f32) -> LightChoice {
        if self.choices == 0 {
            return LightChoice::Nothing;
        }
        let scaled = pick * self.choices as f32;
        let choice = (scaled as u32).min(self.choices - 1);
        if (choice as usize) < self.punctual {
            return LightChoice::Punctual(choice as usize);
        }
        if self.environment && choice == self.choices - 1 {
            return LightChoice::Environment;
        }
        // Reuse the fraction left of `pick` to choose the triangle.
        let r = (scaled - choice as f32).min(ONE_MINUS_EPSILON);
        let k = self
            .cdf
            .partition_point(|&c| c <= r)
            .min(self.emissive.len() - 1);
        LightChoice::Emitter(k)
    }

    /// [`choose`](Self::choose) of each lane's `pick`, for a sampler whose every choice is an
    /// emissive triangle (no punctual light, no environment map): each lane's triangle, worked
    /// out with `choose`'s operations a vector at a time (the same bits); `None` for any other
    /// sampler. Choosing lane by lane took about 5 % of the Cornell box's time.
    #[inline(always)]
    pub fn choose_emitters(&self, pick: F) -> Option<U> {
        if self.punctual > 0 || self.environment || self.emissive.is_empty() {
            return None;
        }
        // One choice, so `choose`'s `choice` is 0.
        let scaled = pick * F::splat(self.choices as f32);
        let r = (scaled - F::splat(0.0)).min(F::splat(ONE_MINUS_EPSILON));
        let k = if self.cdf.len() <= LANES {
            // In a non-decreasing cdf, `partition_point` counts the entries at most `r`.
            let mut k = U([0; LANES]);
            for &c in &self.cdf {
                k = U::from_fn(|i| k.0[i] + u32::from(c <= r.0[i]));
            }
            k
        } else {
            U::from_fn(|i| self.cdf.partition_point(|&c| c <= r.0[i]) as u32)
        };
        let last = self.emissive.len() as u32 - 1;
        Some(k.map(|k| k.min(last)))
    }

    /// The probability of each choice [`choose`](Self::choose) makes.
    #[inline(always)]
    pub fn choice_pdf(&self) -> f32 {
        1.0 / self.choices as f32
    }

    /// Emissive triangle `k` of [`LightChoice::Emitter`].
    #[inline(always)]
    pub(crate) fn emitter(&self, k: usize) -> &Emitter {
        &self.emissive[k]
    }

    /// Samples a light for the point `p` from three uniform numbers.
    #[inline(always)]
    pub fn sample(
        &self,
        scene: &FrameScene,
        p: Vec3,
        pick: f32,
        u: f32,
        v: f32,
    ) -> Option<LightSample> {
        let choice_pdf = self.choice_pdf();
        let k = match self.choose(pick) {
            LightChoice::Nothing => return None,
            LightChoice::Punctual(i) => return sample_punctual(&scene.lights[i], p, choice_pdf),
            LightChoice::Environment => {
                let (map, strength, rotation) = scene.environment.as_ref()?.sampled()?;
                let s = map.sample(rotation, u, v)?;
                return Some(LightSample {
                    wi: s.wi,
                    distance: f32::INFINITY,
                    radiance: s.radiance * strength,
                    pdf: choice_pdf * s.pdf,
                    delta: false,
                });
            }
            LightChoice::Emitter(k) => k,
        };
        let emitter = &self.emissive[k];
        let su = u.sqrt();
        // Barycentrics of vertices 0, 1, 2: uniform over the triangle.
        let (b0, b1) = (1.0 - su, v * su);
        let b2 = 1.0 - b0 - b1;
        let q = emitter.p0 + emitter.e1 * b1 + emitter.e2 * b2;
        let d = q - p;
        let dist2 = d.length_squared();
        let distance = dist2.sqrt();
        if distance <= 0.0 {
            return None;
        }
        let wi = d / distance;
        let cos_l = -wi.dot(emitter.normal);
        if cos_l <= 0.0 {
            return None; // back of a one-sided emitter
        }
        let mesh = &scene.mesh;
        let tri = emitter.triangle as usize;
        let material = &scene.materials[mesh.triangle_materials[tri] as usize];
        let mut radiance = material.emissive;
        if let Some(r) = material.emissive_texture {
            let uvs = if r.tex_coord == 0 {
                &mesh.uv0
            } else {
                &mesh.uv1
            };
            if !uvs.is_empty() {
                let [a, b, c] = mesh.triangles[tri];
                let uv = uvs[a as usize] * b0 + uvs[b as usize] * b1 + uvs[c as usize] * b2;
                radiance *= scene.textures[r.texture as usize]
                    .sample(r.transform.apply(uv))
                    .truncate();
            }
        }
        Some(LightSample {
            wi,
            distance,
            radiance,
            pdf: choice_pdf * emitter.pmf * dist2 / (cos_l * emitter.area),
            delta: false,
        })
    }

    /// Solid-angle density with which [`LightSampler::sample`] would have chosen direction
    /// `dir` of the environment (0 when the environment is not sampled).
    pub fn pdf_of_escape(&self, scene: &FrameScene, dir: Vec3) -> f32 {
        match scene.environment.as_ref().and_then(|e| e.sampled()) {
            Some((map, _, rotation)) if self.environment => {
                map.pdf(dir, rotation) / self.choices as f32
            }
            _ => 0.0,
        }
    }

    /// Solid-angle density with which [`LightSampler::sample`] would have chosen the point
    /// where a ray along `dir` hit emissive triangle `tri` at distance `t`.
    pub fn pdf_of_hit(&self, scene: &FrameScene, tri: u32, dir: Vec3, t: f32) -> f32 {
        let Some(&pmf) = self.pmf_by_triangle.get(tri as usize) else {
            return 0.0;
        };
        if pmf == 0.0 {
            return 0.0;
        }
        let mesh = &scene.mesh;
        let cross = {
            let [a, b, c] = mesh.triangles[tri as usize];
            let p0 = mesh.positions[a as usize];
            (mesh.positions[b as usize] - p0).cross(mesh.positions[c as usize] - p0)
        };
        let area = 0.5 * cross.length();
        let cos_l = dir.dot(cross.normalize_or_zero()).abs();
        if area <= 0.0 || cos_l <= 0.0 {
            return 0.0;
        }
        pmf / self.choices as f32 * t * t / (cos_l * area)
    }
}

const ONE_MINUS_EPSILON: f32 = 1.0 - f32::EPSILON;

fn sample_punctual(light: &PunctualLight, p: Vec3, choice_pdf: f32) -> Option<LightSample> {
    let (wi, distance, radiance) = match *light {
        PunctualLight::Point {
            position,
            intensity,
        } => {
            let d = position - p;
            let dist2 = d.length_squared();
            let distance = dist2.sqrt();
            (d / distance, distance, intensity / dist2)
        }
        PunctualLight::Spot {
            position,
            direction,
            intensity,
            cos_inner,
            cos_outer,
        } => {
            let d = position - p;
            let dist2 = d.length_squared();
            let distance = dist2.sqrt();
            let wi = d / distance;
            let falloff = PunctualLight::spot_falloff(direction, cos_inner, cos_outer, -wi);
            (wi, distance, intensity * (falloff / dist2))
        }
        PunctualLight::Directional {
            direction,
            irradiance,
        } => (-direction, f32::INFINITY, irradiance),
    };
    (distance > 0.0 && radiance != Vec3::ZERO && radiance.is_finite()).then_some(LightSample {
        wi,
        distance,
        radiance,
        pdf: choice_pdf,
        delta: true,
    })
}

/// Rec. 709 luminance of linear RGB.
pub fn luminance(c: Vec3) -> f32 {
    c.dot(Vec3::new(0.2126, 0.7152, 0.0722))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::material::Material;
    use crate::sampler::SampleStream;
    use crate::scene::Mesh;

    /// `n` emissive triangles of a few sizes, so that their choice is not uniform.
    fn glowing(n: usize) -> FrameScene {
        let mut mesh = Mesh::default();
        for i in 0..n {
            let (x, size) = (i as f32, 1.0 + (i % 5) as f32);
            let b = mesh.positions.len() as u32;
            mesh.positions.extend([
                Vec3::new(x, 0.0, 0.0),
                Vec3::new(x + size, 0.0, 0.0),
                Vec3::new(x, size, 0.0),
            ]);
            mesh.normals.extend([Vec3::Z; 3]);
            mesh.triangles.push([b, b + 1, b + 2]);
            mesh.triangle_materials.push(0);
        }
        let glow = Material {
            emissive: Vec3::ONE,
            ..Material::default()
        };
        FrameScene::bare(mesh, vec![glow])
    }

    /// Both ways of counting the cdf (a few emitters and many) choose as `choose` does, at the
    /// ends of the unit interval too.
    #[test]
    fn emitters_chosen_in_lanes_are_the_ones_chosen_alone() {
        let mut s = SampleStream::new(5, 0, 0, 0, 0);
        for n in [1, 3, LANES, LANES + 1, 100] {
            let lights = LightSampler::new(&glowing(n));
            for round in 0..200 {
                let mut pick = F::from_fn(|_| s.next_f32());
                if round == 0 {
                    pick.0[..4].copy_from_slice(&[0.0, ONE_MINUS_EPSILON, 1.0, 0.5]);
                }
                if round == 1 {
                    // On the cdf's steps, where `<=` and `<` part.
                    pick = F::from_fn(|i| lights.cdf[i % n]);
                }
                let chosen = lights.choose_emitters(pick).expect("only emitters");
                for i in 0..LANES {
                    let want = lights.choose(pick.0[i]);
                    let got = LightChoice::Emitter(chosen.0[i] as usize);
                    assert_eq!(got, want, "{n} emitters, pick {}", pick.0[i]);
                }
            }
        }
        let dark = LightSampler::new(&FrameScene::bare(Mesh::default(), Vec::new()));
        assert_eq!(dark.choose_emitters(F::ZERO), None);
    }
}
