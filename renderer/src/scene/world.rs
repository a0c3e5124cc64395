//! Flattening mesh instances into one world-space [`Mesh`] for a frame.

use glam::{Mat3, Mat4, Vec2, Vec3, Vec4};

use super::mesh::Primitive;
use super::node::Hierarchy;
use crate::scene::Mesh;

/// A primitive placed in the world by a node.
struct Instance<'a> {
    primitive: &'a Primitive,
    world: Mat4,
    material: u32,
}

/// Every primitive of every mesh node, transformed by `world`; `None` when the frame would need
/// more than 2^32 vertices. `material_of` maps a primitive's glTF material to a frame index.
pub fn flatten(
    hierarchy: &Hierarchy,
    meshes: &[Vec<Primitive>],
    world: &[Mat4],
    material_of: impl Fn(Option<usize>) -> u32,
) -> Option<Mesh> {
    let material_of = &material_of;
    let instances: Vec<Instance> = hierarchy
        .order
        .iter()
        .filter_map(|&(node, _)| Some((node, meshes.get(hierarchy.nodes[node].mesh?)?)))
        .flat_map(|(node, primitives)| {
            primitives.iter().map(move |primitive| Instance {
                primitive,
                world: world[node],
                material: material_of(primitive.material),
            })
        })
        // A zero scale hides an object (animations do this); its triangles have no area.
        .filter(|i| i.world.determinant().is_normal())
        .collect();

    let vertices: usize = instances.iter().map(|i| i.primitive.positions.len()).sum();
    let triangles: usize = instances.iter().map(|i| i.primitive.triangles.len()).sum();
    u32::try_from(vertices).ok()?;
    let any = |f: fn(&Primitive) -> bool| instances.iter().any(|i| f(i.primitive));
    let with = |present: bool| if present { vertices } else { 0 };
    let (has_tangents, has_uv0, has_uv1) = (
        any(|p| !p.tangents.is_empty()),
        any(|p| !p.uv0.is_empty()),
        any(|p| !p.uv1.is_empty()),
    );
    let mut mesh = Mesh {
        positions: Vec::with_capacity(vertices),
        normals: Vec::with_capacity(vertices),
        tangents: Vec::with_capacity(with(has_tangents)),
        uv0: Vec::with_capacity(with(has_uv0)),
        uv1: Vec::with_capacity(with(has_uv1)),
        triangles: Vec::with_capacity(triangles),
        triangle_materials: Vec::with_capacity(triangles),
    };
    for instance in &instances {
        append(&mut mesh, instance, has_tangents, has_uv0, has_uv1);
    }
    Some(mesh)
}

fn append(mesh: &mut Mesh, instance: &Instance, tangents: bool, uv0: bool, uv1: bool) {
    let p = instance.primitive;
    let m = instance.world;
    let linear = Mat3::from_mat4(m);
    // Normals need the inverse transpose to stay perpendicular under non-uniform scale.
    let normal_matrix = linear.inverse().transpose();
    let mirrored = linear.determinant() < 0.0;
    let base = mesh.positions.len() as u32;

    mesh.positions
        .extend(p.positions.iter().map(|&v| m.transform_point3(v)));
    mesh.normals.extend(
        p.normals
            .iter()
            .map(|&n| (normal_matrix * n).normalize_or(Vec3::Z)),
    );
    if tangents {
        if p.tangents.is_empty() {
            // w == 0: the renderer derives the tangent from the UVs.
            mesh.tangents
                .extend(std::iter::repeat_n(Vec4::ZERO, p.positions.len()));
        } else {
            mesh.tangents.extend(p.tangents.iter().map(|t| {
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
            }));
        }
    }
    for (wanted, out, src) in [(uv0, &mut mesh.uv0, &p.uv0), (uv1, &mut mesh.uv1, &p.uv1)] {
        if wanted {
            if src.is_empty() {
                out.extend(std::iter::repeat_n(Vec2::ZERO, p.positions.len()));
            } else {
                out.extend_from_slice(src);
            }
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
