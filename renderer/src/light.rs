//! `KHR_lights_punctual` lights in world space. Emissive triangles are lights too; they live in
//! the mesh and are sampled through [`crate::integrator`]'s light distribution.
//!
//! glTF gives intensities in candela (point, spot) and lux (directional); the renderer uses the
//! numbers as radiant intensity and irradiance of its linear RGB radiance, as Blender does
//! when it takes the file's values at face value.

use glam::Vec3;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PunctualLight {
    Point {
        position: Vec3,
        /// colour x intensity.
        intensity: Vec3,
    },
    Spot {
        position: Vec3,
        /// Unit vector the spot points along (the node's -Z in world space).
        direction: Vec3,
        intensity: Vec3,
        cos_inner: f32,
        cos_outer: f32,
    },
    Directional {
        /// Unit vector the light travels along (the node's -Z in world space).
        direction: Vec3,
        /// colour x intensity.
        irradiance: Vec3,
    },
}

impl PunctualLight {
    /// glTF's smooth spot cone falloff for a unit vector `to_point` from the light outwards.
    pub fn spot_falloff(direction: Vec3, cos_inner: f32, cos_outer: f32, to_point: Vec3) -> f32 {
        let scale = 1.0 / (cos_inner - cos_outer).max(1e-3);
        let offset = -cos_outer * scale;
        let a = (direction.dot(to_point) * scale + offset).clamp(0.0, 1.0);
        a * a
    }
}
