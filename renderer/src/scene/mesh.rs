//! Mesh primitives in object space, read once at load time and instanced by nodes per frame.

use glam::{Vec2, Vec3, Vec4};
use gltf::accessor::{DataType, Dimensions};
use gltf::mesh::{Mode, Semantic};

use super::SceneError;
use super::document::Document;

/// One triangle primitive, attributes one per vertex (optional ones empty when absent).
pub struct Primitive {
    pub positions: Vec<Vec3>,
    pub normals: Vec<Vec3>,
    pub tangents: Vec<Vec4>,
    pub uv0: Vec<Vec2>,
    pub uv1: Vec<Vec2>,
    /// `COLOR_0` as linear RGBA (alpha 1 for an RGB accessor).
    pub colors: Vec<Vec4>,
    /// `JOINTS_0` and `WEIGHTS_0`: the four joints of the node's skin that move each vertex,
    /// and how much.
    pub joints: Vec<[u16; 4]>,
    pub weights: Vec<[f32; 4]>,
    /// Morph targets: displacements of each vertex, blended by the mesh's weights.
    pub targets: Vec<MorphTarget>,
    /// The mesh's default morph weights (a node's own, or an animation's, replace them).
    pub default_weights: Vec<f32>,
    /// The file gave no normals: each triangle is flat, its normal computed from its corners
    /// (again after morphing and skinning).
    pub flat: bool,
    pub triangles: Vec<[u32; 3]>,
    /// glTF material index; `None` for glTF's default material.
    pub material: Option<usize>,
}

/// One morph target: per-vertex displacements (empty where the target moves no such
/// attribute).
pub struct MorphTarget {
    pub positions: Vec<Vec3>,
    pub normals: Vec<Vec3>,
    pub tangents: Vec<Vec3>,
}

/// The triangle primitives of each glTF mesh, by mesh index.
pub fn load_meshes(doc: &Document) -> Result<Vec<Vec<Primitive>>, SceneError> {
    let mut skipped_modes = 0usize;
    let mut without_positions = 0usize;
    let mut meshes = Vec::with_capacity(doc.gltf.meshes().len());
    for mesh in doc.gltf.meshes() {
        let mut primitives = Vec::with_capacity(mesh.primitives().len());
        for primitive in mesh.primitives() {
            if !matches!(
                primitive.mode(),
                Mode::Triangles | Mode::TriangleStrip | Mode::TriangleFan
            ) {
                skipped_modes += 1;
                continue;
            }
            match load_primitive(doc, &mesh, &primitive)? {
                Some(p) => primitives.push(p),
                None => without_positions += 1,
            }
        }
        meshes.push(primitives);
    }
    if skipped_modes > 0 {
        tracing::warn!(
            "{}: skipped {skipped_modes} primitives of points or lines (they have no surface to render)",
            doc.file
        );
    }
    if without_positions > 0 {
        tracing::warn!(
            "{}: skipped {without_positions} primitives without POSITION",
            doc.file
        );
    }
    Ok(meshes)
}

fn load_primitive(
    doc: &Document,
    mesh: &gltf::Mesh,
    primitive: &gltf::Primitive,
) -> Result<Option<Primitive>, SceneError> {
    let Some(position_accessor) = primitive.get(&Semantic::Positions) else {
        return Ok(None);
    };
    let where_ = format!("mesh {} primitive {}", mesh.index(), primitive.index());
    let positions: Vec<Vec3> = doc
        .read_floats::<3>(&position_accessor, "POSITION")?
        .into_iter()
        .map(Vec3::from)
        .collect();
    let count = positions.len();
    if u32::try_from(count).is_err() {
        return Err(doc.invalid(format!("{where_} has more than 2^32 vertices")));
    }
    let attribute =
        |semantic: Semantic, name: &str| -> Result<Option<gltf::Accessor>, SceneError> {
            match primitive.get(&semantic) {
                Some(a) if a.count() != count => Err(doc.invalid(format!(
                    "{where_}: {name} has {} elements but POSITION has {count}",
                    a.count()
                ))),
                other => Ok(other),
            }
        };
    let normals = match attribute(Semantic::Normals, "NORMAL")? {
        Some(a) => doc
            .read_floats::<3>(&a, "NORMAL")?
            .into_iter()
            .map(Vec3::from)
            .collect(),
        None => Vec::new(),
    };
    let tangents = match attribute(Semantic::Tangents, "TANGENT")? {
        Some(a) => doc
            .read_floats::<4>(&a, "TANGENT")?
            .into_iter()
            .map(Vec4::from)
            .collect(),
        None => Vec::new(),
    };
    let mut uvs = [Vec::new(), Vec::new()];
    for (set, uv) in uvs.iter_mut().enumerate() {
        let name = format!("TEXCOORD_{set}");
        if let Some(a) = attribute(Semantic::TexCoords(set as u32), &name)? {
            *uv = doc
                .read_floats::<2>(&a, &name)?
                .into_iter()
                .map(Vec2::from)
                .collect();
        }
    }
    let indices = match primitive.indices() {
        Some(a) => doc.read_indices(&a, count)?,
        None => (0..count as u32).collect(),
    };
    let triangles = match primitive.mode() {
        Mode::TriangleStrip | Mode::TriangleFan => {
            let triangles = indices.len().saturating_sub(2);
            doc.hold_values::<[u32; 3]>(triangles, || format!("{where_}'s triangles"))?;
            if primitive.mode() == Mode::TriangleStrip {
                strip(&indices)
            } else {
                fan(&indices)
            }
        }
        _ => {
            if indices.len() % 3 != 0 {
                return Err(doc.invalid(format!(
                    "{where_} has {} indices, not a multiple of 3",
                    indices.len()
                )));
            }
            indices
                .chunks_exact(3)
                .map(|t| [t[0], t[1], t[2]])
                .collect()
        }
    };
    let [uv0, uv1] = uvs;
    let colors = match attribute(Semantic::Colors(0), "COLOR_0")? {
        Some(a) if a.dimensions() == gltf::accessor::Dimensions::Vec3 => doc
            .read_floats::<3>(&a, "COLOR_0")?
            .into_iter()
            .map(|c| Vec3::from(c).extend(1.0))
            .collect(),
        Some(a) => doc
            .read_floats::<4>(&a, "COLOR_0")?
            .into_iter()
            .map(Vec4::from)
            .collect(),
        None => Vec::new(),
    };
    let (joints, weights) = match (
        attribute(Semantic::Joints(0), "JOINTS_0")?,
        attribute(Semantic::Weights(0), "WEIGHTS_0")?,
    ) {
        (Some(j), Some(w)) => {
            // As the specification allows: floats, or unsigned bytes or shorts normalised. Plain
            // integers would read as weights of 255 or 65535.
            let unsigned = matches!(w.data_type(), DataType::U8 | DataType::U16);
            let allowed = w.data_type() == DataType::F32 || (unsigned && w.normalized());
            if w.dimensions() != Dimensions::Vec4 || !allowed {
                return Err(doc.invalid(format!(
                    "{where_}: WEIGHTS_0 (accessor {}) must be VEC4 of floats, or of unsigned \
                     bytes or shorts normalized",
                    w.index()
                )));
            }
            let weights = doc.read_floats::<4>(&w, "WEIGHTS_0")?;
            // A negative weight would push a vertex away from its joint rather than towards it.
            if weights.iter().flatten().any(|&v| v < 0.0) {
                return Err(doc.invalid(format!(
                    "{where_}: WEIGHTS_0 (accessor {}) has negative weights",
                    w.index()
                )));
            }
            (doc.read_joints(&j, "JOINTS_0")?, weights)
        }
        _ => (Vec::new(), Vec::new()),
    };
    let mut targets = Vec::new();
    for (t, target) in primitive.morph_targets().enumerate() {
        let name = |what: &str| format!("morph target {t} {what}");
        let read = |a: Option<gltf::Accessor>, what: &str| -> Result<Vec<Vec3>, SceneError> {
            match a {
                Some(a) if a.count() != count => Err(doc.invalid(format!(
                    "{where_}: {} has {} elements but POSITION has {count}",
                    name(what),
                    a.count()
                ))),
                Some(a) => Ok(doc
                    .read_floats::<3>(&a, &name(what))?
                    .into_iter()
                    .map(Vec3::from)
                    .collect()),
                None => Ok(Vec::new()),
            }
        };
        targets.push(MorphTarget {
            positions: read(target.positions(), "POSITION")?,
            normals: read(target.normals(), "NORMAL")?,
            tangents: read(target.tangents(), "TANGENT")?,
        });
    }
    let mut default_weights = mesh.weights().map(<[f32]>::to_vec).unwrap_or_default();
    default_weights.resize(targets.len(), 0.0);
    let mut primitive = Primitive {
        positions,
        normals,
        tangents,
        uv0,
        uv1,
        colors,
        joints,
        weights,
        targets,
        default_weights,
        flat: false,
        triangles,
        material: primitive.material().index(),
    };
    if primitive.normals.is_empty() {
        if u32::try_from(primitive.triangles.len() * 3).is_err() {
            return Err(doc.invalid(format!(
                "{where_} has too many triangles to give them flat normals"
            )));
        }
        doc.hold(primitive.flat_bytes(), || {
            format!("{where_}'s flat-shaded vertices")
        })?;
        primitive.make_flat();
    } else {
        // Unwelding keeps only the vertices triangles use already.
        primitive.keep_used_vertices();
    }
    Ok(Some(primitive))
}

/// A triangle strip's triangles, every other one turned so all keep the first's winding
/// (glTF: triangle i is v_i, v_{i+1+i%2}, v_{i+2-i%2}).
fn strip(v: &[u32]) -> Vec<[u32; 3]> {
    (0..v.len().saturating_sub(2))
        .map(|i| [v[i], v[i + 1 + i % 2], v[i + 2 - i % 2]])
        .collect()
}

/// A triangle fan's triangles (glTF: triangle i is v_{i+1}, v_{i+2}, v_0).
fn fan(v: &[u32]) -> Vec<[u32; 3]> {
    (0..v.len().saturating_sub(2))
        .map(|i| [v[i + 1], v[i + 2], v[0]])
        .collect()
}

impl Primitive {
    /// Drops the vertices no triangle uses, keeping the others' order. Primitives of one mesh
    /// (one per material) often share one vertex accessor, and each read a copy of all of it:
    /// placed in a frame, a 1-million-vertex model of 70 materials became 70 million vertices.
    fn keep_used_vertices(&mut self) {
        const UNUSED: u32 = u32::MAX;
        let mut renumbered = vec![UNUSED; self.positions.len()];
        for &v in self.triangles.iter().flatten() {
            renumbered[v as usize] = 0;
        }
        let mut next = 0;
        for n in renumbered.iter_mut().filter(|n| **n != UNUSED) {
            *n = next;
            next += 1;
        }
        if next as usize == self.positions.len() {
            return;
        }
        fn keep<T>(values: &mut Vec<T>, renumbered: &[u32]) {
            if !values.is_empty() {
                let mut used = renumbered.iter().map(|&n| n != UNUSED);
                values.retain(|_| used.next().unwrap_or(false));
            }
        }
        keep(&mut self.positions, &renumbered);
        keep(&mut self.normals, &renumbered);
        keep(&mut self.tangents, &renumbered);
        keep(&mut self.uv0, &renumbered);
        keep(&mut self.uv1, &renumbered);
        keep(&mut self.colors, &renumbered);
        keep(&mut self.joints, &renumbered);
        keep(&mut self.weights, &renumbered);
        for target in &mut self.targets {
            keep(&mut target.positions, &renumbered);
            keep(&mut target.normals, &renumbered);
            keep(&mut target.tangents, &renumbered);
        }
        for v in self.triangles.iter_mut().flatten() {
            *v = renumbered[*v as usize];
        }
    }

    /// Bytes of the vertices [`make_flat`](Self::make_flat) makes: three per triangle, of every
    /// attribute present, and their normals.
    fn flat_bytes(&self) -> u64 {
        fn bytes<T>(values: &[T]) -> u64 {
            if values.is_empty() {
                0
            } else {
                size_of::<T>() as u64
            }
        }
        let targets: u64 = self
            .targets
            .iter()
            .map(|t| bytes(&t.positions) + bytes(&t.normals) + bytes(&t.tangents))
            .sum();
        let vertex = size_of::<Vec3>() as u64
            + bytes(&self.positions)
            + bytes(&self.tangents)
            + bytes(&self.uv0)
            + bytes(&self.uv1)
            + bytes(&self.colors)
            + bytes(&self.joints)
            + bytes(&self.weights)
            + targets;
        (self.triangles.len() as u64 * 3).saturating_mul(vertex)
    }

    /// glTF asks for flat shading when normals are absent: give each triangle its own three
    /// vertices carrying the face normal.
    fn make_flat(&mut self) {
        fn unweld<T: Copy>(values: &[T], triangles: &[[u32; 3]]) -> Vec<T> {
            if values.is_empty() {
                return Vec::new();
            }
            let mut out = Vec::with_capacity(triangles.len() * 3);
            out.extend(triangles.iter().flatten().map(|&i| values[i as usize]));
            out
        }
        self.positions = unweld(&self.positions, &self.triangles);
        self.tangents = unweld(&self.tangents, &self.triangles);
        self.uv0 = unweld(&self.uv0, &self.triangles);
        self.uv1 = unweld(&self.uv1, &self.triangles);
        self.colors = unweld(&self.colors, &self.triangles);
        self.joints = unweld(&self.joints, &self.triangles);
        self.weights = unweld(&self.weights, &self.triangles);
        for target in &mut self.targets {
            target.positions = unweld(&target.positions, &self.triangles);
            target.normals = unweld(&target.normals, &self.triangles);
            target.tangents = unweld(&target.tangents, &self.triangles);
        }
        self.triangles = (0..self.triangles.len() as u32)
            .map(|t| [3 * t, 3 * t + 1, 3 * t + 2])
            .collect();
        self.normals = flat_normals(&self.positions);
        self.flat = true;
    }
}

/// Each unwelded triangle's face normal, on its three corners.
pub fn flat_normals(positions: &[Vec3]) -> Vec<Vec3> {
    let mut normals = Vec::with_capacity(positions.len());
    for corners in positions.chunks_exact(3) {
        let n = (corners[1] - corners[0]).cross(corners[2] - corners[0]);
        // Degenerate triangles have no area, so no ray hits them: any unit normal will do.
        let n = n.normalize_or(Vec3::Z);
        normals.extend([n, n, n]);
    }
    normals
}
