//! Light from infinitely far away, met where a path leaves the scene. For now a uniform
//! radiance: a scene with no light of its own gets a neutral white one
//! ([`Environment::NEUTRAL`]), as a viewer lights an asset, so it is never rendered black.

use glam::Vec3;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Environment {
    /// Radiance arriving from every direction.
    pub radiance: Vec3,
}

impl Environment {
    /// Radiance 1 from everywhere: a diffuse surface shows its albedo, shaded by how much of
    /// the sky it sees.
    pub const NEUTRAL: Environment = Environment {
        radiance: Vec3::ONE,
    };

    /// Radiance arriving along `-dir` (a ray leaving the scene towards `dir`).
    pub fn radiance(&self, _dir: Vec3) -> Vec3 {
        self.radiance
    }
}
