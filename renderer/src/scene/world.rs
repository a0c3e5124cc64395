//! Flattening mesh instances into one world-space [`Mesh`] for a frame: each primitive morphed
//! by its node's weights, then skinned by its skin's joints or placed by its node.

use glam::{Mat3, Mat4, Vec2, Vec3, Vec4};

use super::mesh::{Primitive, flat_normals};
use super::node::Hierarchy;
use crate::scene::Mesh;

/// The scene's pose at a frame's time, by node index (skins by skin index).
pub struct Posed<'a> {
    pub world: &'a [Mat4],
    /// Morph weights of each node's mesh.
    pub weights: &'a [Vec<f32>],
    /// Each skin's joint matrices.
    pub skins: &'a [Vec<Mat4>],
}

/// A primitive placed in the world by a node.
struct Instance<'a> {
    primitive: &'a Primitive,
    world: Mat4,
    weights: &'a [f32],
    /// The joint matrices when the node is skinned (its own transform then does not apply).
    joints: Option<&'a [Mat4]>,
    material: u32,
}

/// The most vertices, and the most triangles, one frame may hold once its nodes and instances
/// place its meshes: about 3 GiB of mesh and 5 GiB of BVH. The loader bounds what a scene
/// decodes, but not how often instancing places it (a 1000-triangle mesh placed by a million
/// instances), which this bounds before any of it is made.
pub const MAX_FRAME_ELEMENTS: usize = 1 << 26;

/// The most primitives one frame may place (each placement is a record of its own while the
/// frame is built): four million instances of a one-primitive mesh.
pub const MAX_FRAME_PLACEMENTS: usize = 1 << 22;

/// Every primitive of every mesh node, posed; `None` when the frame would hold more than
/// [`MAX_FRAME_ELEMENTS`] vertices or triangles, or place more than [`MAX_FRAME_PLACEMENTS`]
/// primitives. `material_of` maps a primitive's glTF
/// material to a frame index.
pub fn flatten(
    hierarchy: &Hierarchy,
    meshes: &[Vec<Primitive>],
    posed: &Posed,
    material_of: impl Fn(Option<usize>) -> u32,
) -> Option<Mesh> {
    let (mut most_vertices, mut most_triangles, mut placed_primitives) = (0usize, 0usize, 0usize);
    for &(node, _) in &hierarchy.order {
        let n = &hierarchy.nodes[node];
        let placements = n.instances.len().max(1);
        for primitive in n.mesh.and_then(|m| meshes.get(m)).into_iter().flatten() {
            let placed = |count: usize| count.saturating_mul(placements);
            most_vertices = most_vertices.saturating_add(placed(primitive.positions.len()));
            most_triangles = most_triangles.saturating_add(placed(primitive.triangles.len()));
            placed_primitives = placed_primitives.saturating_add(placements);
        }
    }
    if most_vertices.max(most_triangles) > MAX_FRAME_ELEMENTS
        || placed_primitives > MAX_FRAME_PLACEMENTS
    {
        return None;
    }
    let material_of = &material_of;
    let instances: Vec<Instance> = hierarchy
        .order
        .iter()
        .filter_map(|&(node, _)| Some((node, meshes.get(hierarchy.nodes[node].mesh?)?)))
        .flat_map(|(node, primitives)| {
            let skin = hierarchy.nodes[node].skin;
            // A plain node places its mesh once; an instancing one once per instance.
            let placements: Vec<Mat4> = match hierarchy.nodes[node].instances.as_slice() {
                [] => vec![posed.world[node]],
                instances => instances.iter().map(|i| posed.world[node] * *i).collect(),
            };
            placements.into_iter().flat_map(move |world| {
                primitives.iter().map(move |primitive| Instance {
                    primitive,
                    world,
                    weights: &posed.weights[node],
                    joints: skin
                        .and_then(|s| posed.skins.get(s))
                        .filter(|_| !primitive.joints.is_empty())
                        .map(Vec::as_slice),
                    material: material_of(primitive.material),
                })
            })
        })
        // A zero scale hides an object (animations do this); its triangles have no area.
        .filter(|i| i.joints.is_some() || i.world.determinant().is_normal())
        .collect();

    let vertices: usize = instances.iter().map(|i| i.primitive.positions.len()).sum();
    let triangles: usize = instances.iter().map(|i| i.primitive.triangles.len()).sum();
    let any = |f: fn(&Primitive) -> bool| instances.iter().any(|i| f(i.primitive));
    let with = |present: bool| if present { vertices } else { 0 };
    let present = Present {
        tangents: any(|p| !p.tangents.is_empty()),
        uv0: any(|p| !p.uv0.is_empty()),
        uv1: any(|p| !p.uv1.is_empty()),
        colors: any(|p| !p.colors.is_empty()),
    };
    let mut mesh = Mesh {
        positions: Vec::with_capacity(vertices),
        normals: Vec::with_capacity(vertices),
        tangents: Vec::with_capacity(with(present.tangents)),
        uv0: Vec::with_capacity(with(present.uv0)),
        uv1: Vec::with_capacity(with(present.uv1)),
        colors: Vec::with_capacity(with(present.colors)),
        triangles: Vec::with_capacity(triangles),
        triangle_materials: Vec::with_capacity(triangles),
    };
    for instance in &instances {
        append(&mut mesh, instance, &present);
    }
    Some(mesh)
}

/// Which optional attributes some primitive of the frame has, so all get them.
struct Present {
    tangents: bool,
    uv0: bool,
    uv1: bool,
    colors: bool,
}

fn append(mesh: &mut Mesh, instance: &Instance, present: &Present) {
    let p = instance.primitive;
    let base = mesh.positions.len() as u32;
    let morphed = Morphed::of(p, instance.weights);
    // A node places all its vertices alike; a skin places each as its joints blend.
    let node = instance
        .joints
        .is_none()
        .then(|| Placement::of(instance.world));
    let mirrored = node.is_some_and(|n| n.linear.determinant() < 0.0);
    for v in 0..p.positions.len() {
        let Placement {
            matrix: m,
            linear,
            normal_matrix,
        } = node.unwrap_or_else(|| {
            let joints = instance.joints.unwrap_or_default();
            let (j, w) = (p.joints[v], p.weights[v]);
            Placement::of((0..4).fold(Mat4::ZERO, |m, k| m + joints[usize::from(j[k])] * w[k]))
        });
        mesh.positions.push(m.transform_point3(morphed.position(v)));
        mesh.normals
            .push((normal_matrix * morphed.normal(v)).normalize_or(Vec3::Z));
        if present.tangents {
            mesh.tangents.push(match morphed.tangent(v) {
                // w == 0: the renderer derives the tangent from the UVs.
                None => Vec4::ZERO,
                Some(t) => {
                    let xyz = (linear * t.truncate()).normalize_or_zero();
                    // A mirror flips handedness: the bitangent must follow the mirrored surface.
                    let w = if xyz == Vec3::ZERO {
                        0.0
                    } else if mirrored {
                        -t.w
                    } else {
                        t.w
                    };
                    xyz.extend(w)
                }
            });
        }
    }
    if p.flat && (instance.joints.is_some() || !p.targets.is_empty()) {
        // Flat faces stay flat: their normals follow the deformed corners.
        let start = base as usize;
        let normals = flat_normals(&mesh.positions[start..]);
        mesh.normals[start..].copy_from_slice(&normals);
    }
    for (wanted, out, src) in [
        (present.uv0, &mut mesh.uv0, &p.uv0),
        (present.uv1, &mut mesh.uv1, &p.uv1),
    ] {
        if wanted {
            if src.is_empty() {
                out.extend(std::iter::repeat_n(Vec2::ZERO, p.positions.len()));
            } else {
                out.extend_from_slice(src);
            }
        }
    }
    if present.colors {
        if p.colors.is_empty() {
            mesh.colors
                .extend(std::iter::repeat_n(Vec4::ONE, p.positions.len()));
        } else {
            mesh.colors.extend_from_slice(&p.colors);
        }
    }
    // glTF: a negative determinant makes clockwise faces the front; flip the winding so the
    // geometric normal agrees with the (inverse-transpose) shading normals.
    mesh.triangles.extend(p.triangles.iter().map(|&[a, b, c]| {
        if mirrored {
            [base + a, base + c, base + b]
        } else {
            [base + a, base + b, base + c]
        }
    }));
    mesh.triangle_materials
        .extend(std::iter::repeat_n(instance.material, p.triangles.len()));
}

/// How a matrix moves points, directions and normals.
#[derive(Clone, Copy)]
struct Placement {
    matrix: Mat4,
    linear: Mat3,
    /// Normals need the inverse transpose to stay perpendicular under non-uniform scale.
    normal_matrix: Mat3,
}

impl Placement {
    fn of(matrix: Mat4) -> Self {
        let linear = Mat3::from_mat4(matrix);
        Self {
            matrix,
            linear,
            normal_matrix: linear.inverse().transpose(),
        }
    }
}

/// A primitive's attributes with its morph targets blended in by `weights`.
struct Morphed<'a> {
    primitive: &'a Primitive,
    /// Targets with a non-zero weight.
    active: Vec<(usize, f32)>,
}

impl<'a> Morphed<'a> {
    fn of(primitive: &'a Primitive, weights: &[f32]) -> Self {
        let active = weights
            .iter()
            .enumerate()
            .filter(|&(t, &w)| w != 0.0 && w.is_finite() && t < primitive.targets.len())
            .map(|(t, &w)| (t, w))
            .collect();
        Self { primitive, active }
    }

    /// `base` plus each active target's displacement (where it has one), times its weight.
    fn blend(&self, base: Vec3, delta: impl Fn(usize) -> Option<Vec3>) -> Vec3 {
        let blended = self.active.iter().fold(base, |acc, &(t, w)| {
            acc + delta(t).map_or(Vec3::ZERO, |d| d * w)
        });
        // Huge weights times huge displacements must not put infinities in the BVH.
        if blended.is_finite() { blended } else { base }
    }

    fn position(&self, v: usize) -> Vec3 {
        let p = self.primitive;
        self.blend(p.positions[v], |t| p.targets[t].positions.get(v).copied())
    }

    fn normal(&self, v: usize) -> Vec3 {
        let p = self.primitive;
        self.blend(p.normals[v], |t| p.targets[t].normals.get(v).copied())
    }

    /// `None` where the primitive has no tangents.
    fn tangent(&self, v: usize) -> Option<Vec4> {
        let p = self.primitive;
        let t = *p.tangents.get(v)?;
        let xyz = self.blend(t.truncate(), |k| p.targets[k].tangents.get(v).copied());
        Some(xyz.extend(t.w))
    }
}
