//! A scene as one frame sees it: every mesh instance flattened into world space, animations
//! already applied. This is the hand-off between the glTF loader and the backends.

use std::sync::Arc;

use glam::{Vec2, Vec3, Vec4};

use super::light::PunctualLight;
use crate::camera::Camera;
use crate::environment::Environment;
use crate::material::Material;
use crate::texture::Texture;

/// Everything a backend needs to render one frame.
#[derive(Clone, Debug)]
pub struct FrameScene {
    pub camera: Camera,
    pub mesh: Mesh,
    pub materials: Vec<Material>,
    /// Shared by every frame of a scene: textures are often its biggest part and never animate.
    pub textures: Arc<Vec<Texture>>,
    pub lights: Vec<PunctualLight>,
    /// What a path leaving the scene sees; `None` is black.
    pub environment: Option<Environment>,
}

/// All triangles of a frame in world space, sharing one vertex array.
///
/// `normals` always has one entry per position (computed by the loader where the file has
/// none). `tangents`, `uv0`, `uv1` and `colors` are either empty or one per position; a tangent
/// with `w == 0` means "derive from the UVs at the hit point".
#[derive(Clone, Debug, Default)]
pub struct Mesh {
    pub positions: Vec<Vec3>,
    pub normals: Vec<Vec3>,
    pub tangents: Vec<Vec4>,
    pub uv0: Vec<Vec2>,
    pub uv1: Vec<Vec2>,
    /// `COLOR_0`, linear RGBA, multiplying the base colour (white where a primitive has none).
    pub colors: Vec<Vec4>,
    pub triangles: Vec<[u32; 3]>,
    /// Index into [`FrameScene::materials`] for each triangle.
    pub triangle_materials: Vec<u32>,
}

#[cfg(test)]
impl FrameScene {
    /// `mesh` and `materials` alone, seen by a camera at the origin: for unit tests.
    pub(crate) fn bare(mesh: Mesh, materials: Vec<Material>) -> Self {
        FrameScene {
            camera: Camera {
                name: String::new(),
                to_world: glam::Affine3A::IDENTITY,
                projection: crate::camera::Projection::Perspective { yfov: 1.0 },
                aspect_ratio: None,
                znear: 0.0,
            },
            mesh,
            materials,
            textures: Default::default(),
            lights: Vec::new(),
            environment: None,
        }
    }
}

impl Mesh {
    pub fn triangle_count(&self) -> usize {
        self.triangles.len()
    }
}
