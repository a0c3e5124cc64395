//! Scenes: loading glTF 2.0 files and evaluating them at a frame's time.
//!
//! Loading reads and validates everything once ([`Scene::load`], [`Scene::from_slice`]): the
//! node hierarchy, object-space primitives, materials with their decoded textures, cameras,
//! lights and animation channels. [`Scene::frame`] then poses the hierarchy at a time and
//! flattens it into a world-space [`FrameScene`].

mod accessor;
mod animation;
mod camera;
mod document;
mod error;
mod frame;
mod light;
mod material;
mod mesh;
mod node;
mod resource;
mod skin;
mod texture;
mod world;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub use error::SceneError;
pub use frame::{FrameScene, Mesh};
pub use light::PunctualLight;
pub use resource::{check_plain_file, read_plain_file, relative_path, uri_relative_path};

use glam::Mat4;

use crate::camera::View;
use crate::environment::Environment;
use crate::material::Material;
use crate::texture::Texture;
use document::Document;
use node::Hierarchy;

/// How errors name a scene that did not come from a file.
const BLOB_NAME: &str = "scene blob";

/// A loaded glTF document, independent of time.
pub struct Scene {
    file: String,
    hierarchy: Hierarchy,
    /// Triangle primitives of each glTF mesh, in object space.
    meshes: Vec<Vec<mesh::Primitive>>,
    /// glTF materials by index, then glTF's default material when a primitive has none.
    materials: Vec<Material>,
    textures: Arc<Vec<Texture>>,
    cameras: Vec<camera::CameraDef>,
    lights: Vec<light::LightDef>,
    skins: Vec<skin::Skin>,
    channels: Vec<animation::Channel>,
    /// Whether the default view was announced: once per scene, not per frame.
    noted_default_view: AtomicBool,
    /// Whether the default lighting was announced, likewise.
    noted_default_light: AtomicBool,
}

impl Scene {
    /// Loads a `.gltf` (external or embedded buffers) or `.glb` file. External files must lie
    /// in the file's folder.
    pub fn load(path: &Path) -> Result<Scene, SceneError> {
        let base_dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        Self::read(path, Some(base_dir))
    }

    /// Loads a scene file that must hold all its data: a `.glb`, or a `.gltf` whose buffers
    /// and images are `data:` URIs. A file it names is refused, whatever lies beside it.
    pub fn load_alone(path: &Path) -> Result<Scene, SceneError> {
        Self::read(path, None)
    }

    fn read(path: &Path, base_dir: Option<&Path>) -> Result<Scene, SceneError> {
        let file = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|error| SceneError::Read {
            file: file.clone(),
            error,
        })?;
        Self::parse(&bytes, base_dir, &file)
    }

    /// Loads a scene held in memory. With `base_dir` `None`, only embedded data (GLB binary
    /// chunk, `data:` URIs) is allowed.
    pub fn from_slice(bytes: &[u8], base_dir: Option<&Path>) -> Result<Scene, SceneError> {
        Self::parse(bytes, base_dir, BLOB_NAME)
    }

    fn parse(bytes: &[u8], base_dir: Option<&Path>, file: &str) -> Result<Scene, SceneError> {
        let doc = Document::parse(bytes, base_dir, file)?;
        let hierarchy = Hierarchy::load(&doc)?;
        let meshes = mesh::load_meshes(&doc)?;
        let mut texture_set = texture::TextureSet::new(&doc);
        texture_set.hold_images()?;
        let mut materials = material::load_materials(&doc, &mut texture_set)?;
        let textures = Arc::new(texture_set.textures);
        if meshes.iter().flatten().any(|p| p.material.is_none()) {
            materials.push(Material::default());
        }
        let skins = skin::load_skins(&doc)?;
        check_skinned_meshes(&doc, &hierarchy, &meshes, &skins)?;
        Ok(Scene {
            file: file.to_owned(),
            hierarchy,
            meshes,
            materials,
            textures,
            cameras: camera::load_cameras(&doc)?,
            lights: light::load_lights(&doc)?,
            skins,
            channels: animation::load_channels(&doc)?,
            noted_default_view: AtomicBool::new(false),
            noted_default_light: AtomicBool::new(false),
        })
    }

    /// Names of the scene's cameras in node order (camera name, else node name), as
    /// [`Scene::frame`] accepts them.
    pub fn camera_names(&self) -> Vec<String> {
        camera::camera_nodes(&self.hierarchy, &self.cameras)
            .into_iter()
            .map(|c| c.label)
            .collect()
    }

    /// Length of the animation in seconds; 0 for a static scene.
    pub fn animation_duration(&self) -> f32 {
        animation::duration(&self.channels)
    }

    /// Triangles the displayed scene has (every mesh instance counted).
    pub fn triangle_count(&self) -> usize {
        self.hierarchy
            .order
            .iter()
            .filter_map(|&(node, _)| {
                let node = &self.hierarchy.nodes[node];
                let copies = node.instances.len().max(1);
                Some((self.meshes.get(node.mesh?)?, copies))
            })
            .flat_map(|(primitives, copies)| {
                primitives.iter().map(move |p| p.triangles.len() * copies)
            })
            .sum()
    }

    /// The scene at `time` seconds (clamped to the animation), seen through the camera whose
    /// camera or node name is `camera`, or the first camera in node order; a scene without a
    /// camera is framed from a default view ([`camera::framing`]).
    pub fn frame(&self, time: f32, camera: Option<&str>) -> Result<FrameScene, SceneError> {
        self.frame_from(time, camera, &View::default(), None)
    }

    /// [`Scene::frame`], with the camera then overridden by `view` as far as it says, and lit by
    /// `environment` (the job's own, beside the scene's lights) where one is given.
    pub fn frame_from(
        &self,
        time: f32,
        camera: Option<&str>,
        view: &View,
        environment: Option<&Environment>,
    ) -> Result<FrameScene, SceneError> {
        let mut pose = self.hierarchy.rest_pose();
        let mut weights = self.rest_weights();
        animation::apply(&self.channels, time, &mut pose, &mut weights);
        let world = self.hierarchy.world_transforms(&pose);
        let skins: Vec<Vec<Mat4>> = self
            .skins
            .iter()
            .map(|s| s.joint_matrices(&world))
            .collect();
        let chosen = camera::select(&self.file, &self.hierarchy, &self.cameras, &world, camera);
        let lights: Vec<PunctualLight> = self
            .hierarchy
            .order
            .iter()
            .filter_map(|&(node, _)| {
                let light = self.lights.get(self.hierarchy.nodes[node].light?)?;
                Some(light.place(&world[node]))
            })
            .collect();
        let default_material = self.materials.len().saturating_sub(1) as u32;
        let posed = world::Posed {
            world: &world,
            weights: &weights,
            skins: &skins,
        };
        let mesh = world::flatten(&self.hierarchy, &self.meshes, &posed, |m| {
            m.map_or(default_material, |m| m as u32)
        })
        .ok_or_else(|| SceneError::Invalid {
            file: self.file.clone(),
            detail: format!(
                "the frame would hold more than {} vertices or triangles, or place more than {} \
                 primitives, once its nodes and instances place its meshes",
                world::MAX_FRAME_ELEMENTS,
                world::MAX_FRAME_PLACEMENTS
            ),
        })?;
        let camera = match chosen {
            Err(no_camera @ SceneError::NoCamera { .. }) if camera.is_none() => {
                let framed = camera::framing(&mesh.positions).ok_or(no_camera)?;
                if !self.noted_default_view.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        "{}: the scene has no camera; rendering it from a default view that frames it",
                        self.file
                    );
                }
                framed
            }
            chosen => chosen?,
        };
        let camera = if view.is_empty() {
            camera
        } else {
            view.apply(&camera)
        };
        let environment = match environment {
            Some(given) => Some(given.clone()),
            None => self.default_environment(&lights, &mesh),
        };
        Ok(FrameScene {
            camera,
            mesh,
            materials: self.materials.clone(),
            textures: self.textures.clone(),
            lights,
            environment,
        })
    }

    /// Each node's morph weights before animation: its own, else its mesh's.
    fn rest_weights(&self) -> Vec<Vec<f32>> {
        self.hierarchy
            .nodes
            .iter()
            .map(|node| {
                let defaults = node
                    .mesh
                    .and_then(|m| self.meshes.get(m)?.first())
                    .map(|p| p.default_weights.clone())
                    .unwrap_or_default();
                match &node.weights {
                    Some(own) => {
                        let mut own = own.clone();
                        own.resize(defaults.len().max(own.len()), 0.0);
                        own
                    }
                    None => defaults,
                }
            })
            .collect()
    }

    /// A frame with neither a light nor an emissive surface is lit by the neutral environment
    /// (with one note per scene) rather than rendered black.
    fn default_environment(&self, lights: &[PunctualLight], mesh: &Mesh) -> Option<Environment> {
        let emissive = mesh
            .triangle_materials
            .iter()
            .any(|&m| self.materials[m as usize].is_emissive());
        if !lights.is_empty() || emissive {
            return None;
        }
        if !self.noted_default_light.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "{}: the scene has no lights; lighting it with a uniform white environment",
                self.file
            );
        }
        Some(Environment::NEUTRAL)
    }
}

/// Every vertex of a skinned mesh names joints its node's skin has: checked once here so that
/// posing never indexes out of range.
fn check_skinned_meshes(
    doc: &Document,
    hierarchy: &Hierarchy,
    meshes: &[Vec<mesh::Primitive>],
    skins: &[skin::Skin],
) -> Result<(), SceneError> {
    for (index, node) in hierarchy.nodes.iter().enumerate() {
        let (Some(skin), Some(mesh)) = (node.skin, node.mesh) else {
            continue;
        };
        let joints = skins[skin].joint_count();
        for primitive in meshes.get(mesh).into_iter().flatten() {
            let most = primitive.joints.iter().flatten().max().copied();
            if most.is_some_and(|j| usize::from(j) >= joints) {
                return Err(doc.invalid(format!(
                    "node {index}'s mesh names joint {} but its skin has {joints}",
                    most.unwrap_or_default()
                )));
            }
        }
    }
    Ok(())
}
