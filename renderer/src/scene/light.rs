//! `KHR_lights_punctual` lights, placed in world space by their nodes.
//!
//! glTF gives intensities in candela (point, spot) and lux (directional); the renderer uses the
//! numbers as radiant intensity and irradiance of its linear RGB radiance, as Blender does
//! when it takes the file's values at face value.

use glam::{Mat4, Vec3};
use gltf::khr_lights_punctual::Kind;

use super::SceneError;
use super::document::Document;

use crate::transcendental;

/// A light placed in world space. Emissive triangles are the other kind of light; they live in
/// the mesh.
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

#[derive(Clone, Copy)]
pub enum LightDef {
    Point {
        intensity: Vec3,
    },
    Spot {
        intensity: Vec3,
        cos_inner: f32,
        cos_outer: f32,
    },
    Directional {
        irradiance: Vec3,
    },
}

pub fn load_lights(doc: &Document) -> Result<Vec<LightDef>, SceneError> {
    let Some(lights) = doc.gltf.lights() else {
        return Ok(Vec::new());
    };
    let mut out = Vec::with_capacity(lights.len());
    for light in lights {
        let power = Vec3::from(light.color()) * light.intensity();
        if !power.is_finite() || power.min_element() < 0.0 {
            return Err(doc.invalid(format!(
                "light {} has a negative, NaN or infinite colour or intensity",
                light.index()
            )));
        }
        out.push(match light.kind() {
            Kind::Point => LightDef::Point { intensity: power },
            Kind::Directional => LightDef::Directional { irradiance: power },
            Kind::Spot {
                inner_cone_angle,
                outer_cone_angle,
            } => {
                let valid = 0.0 <= inner_cone_angle
                    && inner_cone_angle < outer_cone_angle
                    && outer_cone_angle <= std::f32::consts::FRAC_PI_2;
                if !valid {
                    return Err(doc.invalid(format!(
                        "spot light {} needs 0 <= innerConeAngle < outerConeAngle <= pi/2",
                        light.index()
                    )));
                }
                LightDef::Spot {
                    intensity: power,
                    cos_inner: transcendental::cos(inner_cone_angle),
                    cos_outer: transcendental::cos(outer_cone_angle),
                }
            }
        });
    }
    Ok(out)
}

impl LightDef {
    /// The light placed by a node's world transform: at its origin, shining down its -Z.
    pub fn place(&self, world: &Mat4) -> PunctualLight {
        let position = world.transform_point3(Vec3::ZERO);
        let direction = world
            .transform_vector3(Vec3::NEG_Z)
            .normalize_or(Vec3::NEG_Z);
        match *self {
            LightDef::Point { intensity } => PunctualLight::Point {
                position,
                intensity,
            },
            LightDef::Spot {
                intensity,
                cos_inner,
                cos_outer,
            } => PunctualLight::Spot {
                position,
                direction,
                intensity,
                cos_inner,
                cos_outer,
            },
            LightDef::Directional { irradiance } => PunctualLight::Directional {
                direction,
                irradiance,
            },
        }
    }
}
