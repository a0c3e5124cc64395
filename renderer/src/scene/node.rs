//! The node hierarchy of the displayed glTF scene and its transforms.

use glam::{Mat4, Quat, Vec3};

use super::SceneError;
use super::document::Document;

/// A node's transform relative to its parent.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Local {
    Matrix(Mat4),
    Trs {
        translation: Vec3,
        rotation: Quat,
        scale: Vec3,
    },
}

/// Which component of a [`Local`] an animation channel drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Property {
    Translation,
    Rotation,
    Scale,
}

impl Local {
    pub fn matrix(&self) -> Mat4 {
        match *self {
            Local::Matrix(m) => m,
            Local::Trs {
                translation,
                rotation,
                scale,
            } => Mat4::from_scale_rotation_translation(scale, rotation, translation),
        }
    }

    /// Replaces one TRS component. glTF forbids animating matrix nodes; decomposing keeps such
    /// files working as well as they can.
    pub fn set(&mut self, property: Property, value: glam::Vec4) {
        if let Local::Matrix(m) = *self {
            let (scale, rotation, translation) = m.to_scale_rotation_translation();
            *self = Local::Trs {
                translation,
                rotation,
                scale,
            };
        }
        if let Local::Trs {
            translation,
            rotation,
            scale,
        } = self
        {
            match property {
                Property::Translation => *translation = value.truncate(),
                Property::Rotation => *rotation = Quat::from_vec4(value),
                Property::Scale => *scale = value.truncate(),
            }
        }
    }
}

pub struct Node {
    pub name: Option<String>,
    pub local: Local,
    pub mesh: Option<usize>,
    /// The skin that moves the node's mesh (then the node's own transform does not).
    pub skin: Option<usize>,
    /// Morph weights of the node's mesh, overriding the mesh's defaults.
    pub weights: Option<Vec<f32>>,
    /// `EXT_mesh_gpu_instancing`: the node's mesh is drawn once per transform here, each
    /// relative to the node; empty for a plain node.
    pub instances: Vec<Mat4>,
    pub camera: Option<usize>,
    pub light: Option<usize>,
}

/// All nodes, and the displayed scene's nodes ordered parents first.
pub struct Hierarchy {
    pub nodes: Vec<Node>,
    /// `(node, parent)` in depth-first pre-order from the scene's roots.
    pub order: Vec<(usize, Option<usize>)>,
}

impl Hierarchy {
    pub fn load(doc: &Document) -> Result<Self, SceneError> {
        let mut nodes = Vec::with_capacity(doc.gltf.nodes().len());
        for node in doc.gltf.nodes() {
            nodes.push(Node {
                name: node.name().map(str::to_owned),
                local: local_transform(doc, &node)?,
                mesh: node.mesh().map(|m| m.index()),
                skin: node.skin().map(|s| s.index()),
                weights: node.weights().map(<[f32]>::to_vec),
                instances: instances(doc, &node)?,
                camera: node.camera().map(|c| c.index()),
                light: node.light().map(|l| l.index()),
            });
        }
        let roots = scene_roots(doc);
        let order = traverse(doc, &roots)?;
        Ok(Self { nodes, order })
    }

    /// World matrices by node index for the given local transforms (identity for nodes that
    /// are not part of the displayed scene).
    pub fn world_transforms(&self, locals: &[Local]) -> Vec<Mat4> {
        let mut world = vec![Mat4::IDENTITY; self.nodes.len()];
        for &(node, parent) in &self.order {
            let parent = parent.map_or(Mat4::IDENTITY, |p| world[p]);
            world[node] = parent * locals[node].matrix();
        }
        world
    }

    pub fn rest_pose(&self) -> Vec<Local> {
        self.nodes.iter().map(|n| n.local).collect()
    }
}

/// The transforms of `EXT_mesh_gpu_instancing`: per-instance TRANSLATION, ROTATION and SCALE
/// accessors, each optional, all of one length.
fn instances(doc: &Document, node: &gltf::Node) -> Result<Vec<Mat4>, SceneError> {
    let Some(ext) = node.extension_value("EXT_mesh_gpu_instancing") else {
        return Ok(Vec::new());
    };
    let invalid = |what: String| {
        doc.invalid(format!(
            "node {} EXT_mesh_gpu_instancing: {what}",
            node.index()
        ))
    };
    let accessor = |name: &str| -> Result<Option<gltf::Accessor>, SceneError> {
        match ext["attributes"].get(name) {
            None => Ok(None),
            Some(index) => {
                let index = index
                    .as_u64()
                    .ok_or_else(|| invalid(format!("{name} is not an accessor index")))?;
                doc.gltf
                    .accessors()
                    .nth(index as usize)
                    .map(Some)
                    .ok_or_else(|| invalid(format!("{name} names missing accessor {index}")))
            }
        }
    };
    let translations = match accessor("TRANSLATION")? {
        Some(a) => doc.read_floats::<3>(&a, "instance TRANSLATION")?,
        None => Vec::new(),
    };
    let rotations = match accessor("ROTATION")? {
        Some(a) => doc.read_floats::<4>(&a, "instance ROTATION")?,
        None => Vec::new(),
    };
    let scales = match accessor("SCALE")? {
        Some(a) => doc.read_floats::<3>(&a, "instance SCALE")?,
        None => Vec::new(),
    };
    let count = translations.len().max(rotations.len()).max(scales.len());
    doc.hold_values::<Mat4>(count, || format!("node {}'s instances", node.index()))?;
    for (name, len) in [
        ("TRANSLATION", translations.len()),
        ("ROTATION", rotations.len()),
        ("SCALE", scales.len()),
    ] {
        if len != 0 && len != count {
            return Err(invalid(format!(
                "{name} has {len} instances, others {count}"
            )));
        }
    }
    Ok((0..count)
        .map(|i| {
            let t = translations.get(i).map_or(Vec3::ZERO, |&t| Vec3::from(t));
            let r = rotations
                .get(i)
                .map_or(Quat::IDENTITY, |&r| Quat::from_array(r).normalize());
            let s = scales.get(i).map_or(Vec3::ONE, |&s| Vec3::from(s));
            Mat4::from_scale_rotation_translation(s, r, t)
        })
        .collect())
}

fn local_transform(doc: &Document, node: &gltf::Node) -> Result<Local, SceneError> {
    let invalid = |what: &str| doc.invalid(format!("node {} has {what}", node.index()));
    match node.transform() {
        gltf::scene::Transform::Matrix { matrix } => {
            let m = Mat4::from_cols_array_2d(&matrix);
            if !m.is_finite() {
                return Err(invalid("a non-finite matrix"));
            }
            Ok(Local::Matrix(m))
        }
        gltf::scene::Transform::Decomposed {
            translation,
            rotation,
            scale,
        } => {
            let (translation, scale) = (Vec3::from(translation), Vec3::from(scale));
            let rotation = Quat::from_array(rotation);
            if !translation.is_finite() || !scale.is_finite() {
                return Err(invalid("a non-finite translation or scale"));
            }
            let length = rotation.length();
            if !length.is_finite() || length < 1e-6 {
                return Err(invalid("a rotation that is not a unit quaternion"));
            }
            Ok(Local::Trs {
                translation,
                rotation: rotation / length,
                scale,
            })
        }
    }
}

/// The default scene, else scene 0, else every node that is nobody's child.
fn scene_roots(doc: &Document) -> Vec<usize> {
    if let Some(scene) = doc
        .gltf
        .default_scene()
        .or_else(|| doc.gltf.scenes().next())
    {
        return scene.nodes().map(|n| n.index()).collect();
    }
    let mut is_child = vec![false; doc.gltf.nodes().len()];
    for node in doc.gltf.nodes() {
        for child in node.children() {
            is_child[child.index()] = true;
        }
    }
    (0..is_child.len()).filter(|&n| !is_child[n]).collect()
}

/// Depth-first pre-order without recursion (hierarchies can be deep); a node reached twice
/// means a cycle or a shared child, which glTF forbids and which would loop forever.
fn traverse(doc: &Document, roots: &[usize]) -> Result<Vec<(usize, Option<usize>)>, SceneError> {
    let mut visited = vec![false; doc.gltf.nodes().len()];
    let mut order = Vec::with_capacity(visited.len());
    let mut stack: Vec<(usize, Option<usize>)> = roots.iter().rev().map(|&r| (r, None)).collect();
    while let Some((node, parent)) = stack.pop() {
        if std::mem::replace(&mut visited[node], true) {
            return Err(doc.invalid(format!(
                "node {node} appears twice in the scene hierarchy (a cycle or a shared child)"
            )));
        }
        order.push((node, parent));
        let children = doc
            .gltf
            .as_json()
            .nodes
            .get(node)
            .and_then(|n| n.children.as_ref());
        if let Some(children) = children {
            stack.extend(children.iter().rev().map(|c| (c.value(), Some(node))));
        }
    }
    Ok(order)
}
