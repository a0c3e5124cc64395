//! The glTF loader on tiny scenes built in code: each test checks figures of the resulting
//! frame (positions, normals, materials, texels, lights, animated values), not only that the
//! file loads.

use std::f32::consts::{FRAC_1_SQRT_2, FRAC_PI_2, FRAC_PI_4};

use base64::Engine;
use glam::{Vec2, Vec3, Vec4};
use serde_json::{Value, json};
use tessera_renderer::camera::Projection;
use tessera_renderer::environment::Environment;
use tessera_renderer::scene::{FrameScene, PunctualLight, Scene, SceneError};
use tessera_renderer::texture::{Filter, Texels, Wrap};

/// Builds a glTF document: JSON plus one binary buffer, written as a `.gltf` with a data: URI
/// or as a `.glb`.
struct Builder {
    root: Value,
    bin: Vec<u8>,
}

impl Builder {
    fn new() -> Self {
        Self {
            root: json!({ "asset": { "version": "2.0" } }),
            bin: Vec::new(),
        }
    }

    /// Appends `value` to the top-level array `key`, returning its index.
    fn push(&mut self, key: &str, value: Value) -> usize {
        let array = self.root[key].as_array_mut();
        match array {
            Some(array) => {
                array.push(value);
                array.len() - 1
            }
            None => {
                self.root[key] = json!([value]);
                0
            }
        }
    }

    fn view(&mut self, bytes: &[u8]) -> usize {
        self.bin.resize(self.bin.len().next_multiple_of(4), 0);
        let offset = self.bin.len();
        self.bin.extend_from_slice(bytes);
        self.push(
            "bufferViews",
            json!({ "buffer": 0, "byteOffset": offset, "byteLength": bytes.len() }),
        )
    }

    fn floats(&mut self, values: &[f32], ty: &str) -> usize {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let view = self.view(&bytes);
        let per = match ty {
            "SCALAR" => 1,
            "VEC2" => 2,
            "VEC3" => 3,
            _ => 4,
        };
        let mut accessor = json!({
            "bufferView": view, "componentType": 5126, "count": values.len() / per, "type": ty
        });
        if ty == "VEC3" {
            // POSITION accessors must carry bounds.
            let (mut min, mut max) = ([f32::MAX; 3], [f32::MIN; 3]);
            for v in values.chunks(3) {
                for c in 0..3 {
                    min[c] = min[c].min(v[c]);
                    max[c] = max[c].max(v[c]);
                }
            }
            accessor["min"] = json!(min);
            accessor["max"] = json!(max);
        }
        self.push("accessors", accessor)
    }

    fn u16s(&mut self, values: &[u16], ty: &str, normalized: bool) -> usize {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let view = self.view(&bytes);
        let per = if ty == "VEC2" { 2 } else { 1 };
        self.push(
            "accessors",
            json!({ "bufferView": view, "componentType": 5123, "count": values.len() / per,
                    "type": ty, "normalized": normalized }),
        )
    }

    fn u8_indices(&mut self, values: &[u8]) -> usize {
        let view = self.view(values);
        self.push(
            "accessors",
            json!({ "bufferView": view, "componentType": 5121, "count": values.len(), "type": "SCALAR" }),
        )
    }

    /// A mesh of one primitive from positions (and optional extra attributes).
    fn mesh(&mut self, positions: &[f32], extra: Value, material: Option<usize>) -> usize {
        let position = self.floats(positions, "VEC3");
        let mut attributes = json!({ "POSITION": position });
        if let Value::Object(extra) = extra {
            for (k, v) in extra {
                attributes[k] = v;
            }
        }
        let mut primitive = json!({ "attributes": attributes });
        if let Some(m) = material {
            primitive["material"] = json!(m);
        }
        self.push("meshes", json!({ "primitives": [primitive] }))
    }

    fn node(&mut self, node: Value) -> usize {
        self.push("nodes", node)
    }

    fn perspective_camera(&mut self, name: &str) -> usize {
        self.push(
            "cameras",
            json!({ "name": name, "type": "perspective",
                    "perspective": { "yfov": 0.8, "aspectRatio": 2.0, "znear": 0.1 } }),
        )
    }

    /// Puts every node without a parent in scene 0.
    fn finish_scene(&mut self) {
        let nodes = self.root["nodes"].as_array().cloned().unwrap_or_default();
        let mut is_child = vec![false; nodes.len()];
        for node in &nodes {
            for c in node["children"].as_array().into_iter().flatten() {
                is_child[c.as_u64().unwrap() as usize] = true;
            }
        }
        let roots: Vec<usize> = (0..nodes.len()).filter(|&n| !is_child[n]).collect();
        self.root["scenes"] = json!([{ "nodes": roots }]);
        self.root["scene"] = json!(0);
    }

    fn gltf(mut self) -> Vec<u8> {
        self.finish_scene();
        if !self.bin.is_empty() {
            let data = base64::engine::general_purpose::STANDARD.encode(&self.bin);
            self.root["buffers"] = json!([{
                "byteLength": self.bin.len(),
                "uri": format!("data:application/octet-stream;base64,{data}")
            }]);
        }
        serde_json::to_vec(&self.root).unwrap()
    }

    fn glb(mut self) -> Vec<u8> {
        self.finish_scene();
        self.bin.resize(self.bin.len().next_multiple_of(4), 0);
        self.root["buffers"] = json!([{ "byteLength": self.bin.len() }]);
        let mut json = serde_json::to_vec(&self.root).unwrap();
        json.resize(json.len().next_multiple_of(4), b' ');
        let total = 12 + 8 + json.len() + 8 + self.bin.len();
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(b"glTF");
        out.extend_from_slice(&2u32.to_le_bytes());
        out.extend_from_slice(&(total as u32).to_le_bytes());
        out.extend_from_slice(&(json.len() as u32).to_le_bytes());
        out.extend_from_slice(b"JSON");
        out.extend_from_slice(&json);
        out.extend_from_slice(&(self.bin.len() as u32).to_le_bytes());
        out.extend_from_slice(b"BIN\0");
        out.extend_from_slice(&self.bin);
        out
    }
}

const TRIANGLE: [f32; 9] = [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0];

/// One triangle in the XY plane (front face +Z) under `node`'s transform, and a camera.
fn triangle_scene(node: Value) -> Builder {
    let mut b = Builder::new();
    let mesh = b.mesh(&TRIANGLE, json!({}), None);
    let mut node = node;
    node["mesh"] = json!(mesh);
    b.node(node);
    let camera = b.perspective_camera("cam");
    b.node(json!({ "camera": camera, "translation": [0.0, 0.0, 5.0] }));
    b
}

fn frame(bytes: &[u8]) -> FrameScene {
    let scene = Scene::from_slice(bytes, None).unwrap_or_else(|e| panic!("{e}"));
    scene.frame(0.0, None).unwrap_or_else(|e| panic!("{e}"))
}

fn frame_at(bytes: &[u8], time: f32) -> FrameScene {
    let scene = Scene::from_slice(bytes, None).unwrap_or_else(|e| panic!("{e}"));
    scene.frame(time, None).unwrap_or_else(|e| panic!("{e}"))
}

fn load_error(bytes: &[u8]) -> String {
    match Scene::from_slice(bytes, None) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

fn close(a: Vec3, b: Vec3) -> bool {
    (a - b).length() < 1e-5
}

fn geometric_normal(frame: &FrameScene, t: usize) -> Vec3 {
    let [a, b, c] = frame.mesh.triangles[t].map(|i| frame.mesh.positions[i as usize]);
    (b - a).cross(c - a).normalize()
}

// --- Nodes, transforms, meshes -------------------------------------------------------------

#[test]
fn trs_transform_positions_and_flat_normals() {
    let b = triangle_scene(json!({ "translation": [1.0, 2.0, 3.0], "scale": [2.0, 2.0, 2.0] }));
    let f = frame(&b.gltf());
    assert_eq!(f.mesh.triangle_count(), 1);
    assert!(close(f.mesh.positions[1], Vec3::new(3.0, 2.0, 3.0)));
    assert!(close(f.mesh.positions[2], Vec3::new(1.0, 4.0, 3.0)));
    // No NORMAL attribute: flat normals, one per corner.
    assert_eq!(f.mesh.normals.len(), 3);
    assert!(f.mesh.normals.iter().all(|&n| close(n, Vec3::Z)));
}

#[test]
fn matrix_and_hierarchy_compose() {
    let mut b = Builder::new();
    let mesh = b.mesh(&TRIANGLE, json!({}), None);
    let child =
        b.node(json!({ "mesh": mesh, "rotation": [0.0, 0.0, FRAC_1_SQRT_2, FRAC_1_SQRT_2] }));
    // Column-major matrix translating by (10, 0, 0).
    b.node(json!({ "children": [child],
        "matrix": [1,0,0,0, 0,1,0,0, 0,0,1,0, 10,0,0,1] }));
    let camera = b.perspective_camera("cam");
    b.node(json!({ "camera": camera }));
    let f = frame(&b.gltf());
    // (1, 0, 0) rotated 90 degrees about Z is (0, 1, 0), then moved by the parent.
    assert!(
        close(f.mesh.positions[1], Vec3::new(10.0, 1.0, 0.0)),
        "{:?}",
        f.mesh.positions
    );
}

#[test]
fn mirrored_instance_keeps_front_face_consistent() {
    let b = triangle_scene(json!({ "scale": [-1.0, 1.0, 1.0] }));
    let f = frame(&b.gltf());
    // Mirroring X keeps the face pointing at +Z: the shading normal and the winding agree.
    assert!(close(f.mesh.normals[0], Vec3::Z));
    assert!(close(geometric_normal(&f, 0), Vec3::Z));
}

#[test]
fn normals_use_the_inverse_transpose() {
    let mut b = Builder::new();
    let normal = b.floats(&[FRAC_1_SQRT_2, FRAC_1_SQRT_2, 0.0].repeat(3), "VEC3");
    let mesh = b.mesh(
        &[0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, -1.0, 0.0],
        json!({ "NORMAL": normal }),
        None,
    );
    b.node(json!({ "mesh": mesh, "scale": [2.0, 1.0, 1.0] }));
    let camera = b.perspective_camera("cam");
    b.node(json!({ "camera": camera }));
    let f = frame(&b.gltf());
    // Plane x + y = 0 stretched 2x in x becomes x/2 + y = 0: normal (0.5, 1, 0) normalised.
    let expected = Vec3::new(0.5, 1.0, 0.0).normalize();
    assert!(close(f.mesh.normals[0], expected), "{}", f.mesh.normals[0]);
}

#[test]
fn u8_indices_and_normalized_u16_uvs() {
    let mut b = Builder::new();
    let uv = b.u16s(&[0, 0, 65535, 0, 32768, 65535, 0, 65535], "VEC2", true);
    let normal = b.floats(&[0.0, 0.0, 1.0].repeat(4), "VEC3");
    let indices = b.u8_indices(&[0, 1, 2, 0, 2, 3]);
    let position = b.floats(
        &[0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0],
        "VEC3",
    );
    let mesh = b.push(
        "meshes",
        json!({ "primitives": [{ "attributes": { "POSITION": position, "NORMAL": normal,
                 "TEXCOORD_0": uv }, "indices": indices }] }),
    );
    b.node(json!({ "mesh": mesh }));
    let camera = b.perspective_camera("cam");
    b.node(json!({ "camera": camera }));
    let f = frame(&b.gltf());
    assert_eq!(f.mesh.triangles, vec![[0, 1, 2], [0, 2, 3]]);
    assert_eq!(
        f.mesh.positions.len(),
        4,
        "indexed mesh with normals stays welded"
    );
    assert!((f.mesh.uv0[2] - Vec2::new(32768.0 / 65535.0, 1.0)).length() < 1e-6);
    assert!(f.mesh.uv1.is_empty());
}

/// Strips and fans become triangles that all keep the first one's winding (every normal +Z
/// here), as the glTF specification orders their vertices.
#[test]
fn triangle_strips_and_fans_are_triangulated_with_one_winding() {
    let mut b = triangle_scene(json!({}));
    // A zigzag strip of 5 vertices (3 triangles) and a fan of 5 (3 triangles), both in z = 0.
    let strip = [
        0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 2.0, 1.0, 0.0f32,
    ];
    let fan = [
        0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0, -1.0, 1.0, 0.0f32,
    ];
    for (positions, mode) in [(&strip[..], 5), (&fan[..], 6)] {
        let position = b.floats(positions, "VEC3");
        let mesh = b.push(
            "meshes",
            json!({ "primitives": [{ "attributes": { "POSITION": position }, "mode": mode }] }),
        );
        b.node(json!({ "mesh": mesh }));
    }
    let f = frame(&b.gltf());
    // The scene's own triangle, then the strip's and the fan's.
    assert_eq!(f.mesh.triangles.len(), 1 + 3 + 3);
    let p = &f.mesh.positions;
    for (i, &[a, b, c]) in f.mesh.triangles.iter().enumerate() {
        let n = (p[b as usize] - p[a as usize]).cross(p[c as usize] - p[a as usize]);
        assert!(n.z > 0.0, "triangle {i} faces {n}");
    }
    // The fan's triangles all end at its first vertex.
    assert!(
        f.mesh.triangles[4..]
            .iter()
            .all(|t| p[t[2] as usize] == Vec3::ZERO)
    );
}

/// `KHR_mesh_quantization`: integer positions (scaled by their node), normalised integer
/// normals and texture coordinates.
#[test]
fn quantized_attributes_are_read_as_their_floats() {
    let mut b = Builder::new();
    b.root["extensionsUsed"] = json!(["KHR_mesh_quantization"]);
    b.root["extensionsRequired"] = json!(["KHR_mesh_quantization"]);
    let shorts: Vec<u8> = [0i16, 0, 0, 100, 0, 0, 0, 100, 0, 0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let view = b.view(&shorts[..18]);
    let position = b.push(
        "accessors",
        json!({ "bufferView": view, "componentType": 5122, "count": 3, "type": "VEC3",
                "min": [0, 0, 0], "max": [100, 100, 0] }),
    );
    let normal_bytes: Vec<u8> = [0i8, 0, 127, 0]
        .repeat(3)
        .iter()
        .map(|&v| v as u8)
        .collect();
    let view = b.view(&normal_bytes);
    let normal = b.push(
        "accessors",
        json!({ "bufferView": view, "byteStride": 4, "componentType": 5120, "normalized": true,
                "count": 3, "type": "VEC3" }),
    );
    b.root["bufferViews"][view]["byteStride"] = json!(4);
    let uv = b.u16s(&[0, 0, 65535, 0, 0, 65535], "VEC2", true);
    let mesh = b.push(
        "meshes",
        json!({ "primitives": [{ "attributes":
            { "POSITION": position, "NORMAL": normal, "TEXCOORD_0": uv } }] }),
    );
    b.node(json!({ "mesh": mesh, "scale": [0.01, 0.01, 0.01] }));
    let f = frame(&b.glb());
    assert!(
        close(f.mesh.positions[1], Vec3::new(1.0, 0.0, 0.0)),
        "{:?}",
        f.mesh.positions
    );
    assert!(close(f.mesh.positions[2], Vec3::new(0.0, 1.0, 0.0)));
    assert!(
        f.mesh.normals.iter().all(|n| close(*n, Vec3::Z)),
        "{:?}",
        f.mesh.normals
    );
    assert_eq!(f.mesh.uv0[1], Vec2::new(1.0, 0.0));
}

#[test]
fn point_and_line_primitives_are_skipped() {
    let mut b = triangle_scene(json!({}));
    let position = b.floats(&TRIANGLE, "VEC3");
    let lines = b.push(
        "meshes",
        json!({ "primitives": [{ "attributes": { "POSITION": position }, "mode": 1 }] }),
    );
    b.node(json!({ "mesh": lines }));
    let scene = Scene::from_slice(&b.gltf(), None).unwrap();
    assert_eq!(scene.triangle_count(), 1);
}

#[test]
fn glb_with_binary_chunk_loads() {
    let b = triangle_scene(json!({ "translation": [0.0, 0.0, -2.0] }));
    let f = frame(&b.glb());
    assert!(close(f.mesh.positions[0], Vec3::new(0.0, 0.0, -2.0)));
}

// --- Cameras -------------------------------------------------------------------------------

fn two_camera_scene() -> Builder {
    let mut b = triangle_scene(json!({}));
    let second = b.perspective_camera("close-up");
    b.node(json!({ "name": "closeUpNode", "camera": second, "translation": [0.0, 1.0, 2.0] }));
    b
}

#[test]
fn first_camera_by_default_and_by_name() {
    let scene = Scene::from_slice(&two_camera_scene().gltf(), None).unwrap();
    assert_eq!(scene.camera_names(), vec!["cam", "close-up"]);
    let first = scene.frame(0.0, None).unwrap().camera;
    assert_eq!(first.name, "cam");
    assert!(close(
        first.to_world.translation.into(),
        Vec3::new(0.0, 0.0, 5.0)
    ));
    assert_eq!(first.projection, Projection::Perspective { yfov: 0.8 });
    assert_eq!(first.aspect_ratio, Some(2.0));
    assert_eq!(first.znear, 0.1);
    let by_node = scene.frame(0.0, Some("closeUpNode")).unwrap().camera;
    assert!(close(
        by_node.to_world.translation.into(),
        Vec3::new(0.0, 1.0, 2.0)
    ));
    let by_camera = scene.frame(0.0, Some("close-up")).unwrap().camera;
    assert_eq!(by_camera.name, "close-up");
}

#[test]
fn unknown_camera_lists_the_available_ones() {
    let scene = Scene::from_slice(&two_camera_scene().gltf(), None).unwrap();
    let err = scene.frame(0.0, Some("nope")).unwrap_err();
    assert!(matches!(err, SceneError::UnknownCamera { .. }));
    let message = err.to_string();
    assert!(message.contains("\"cam\", \"close-up\""), "{message}");
    assert!(message.starts_with("scene blob:"), "{message}");
}

#[test]
fn a_scene_without_a_camera_is_framed() {
    let mut b = Builder::new();
    let mesh = b.mesh(&TRIANGLE, json!({}), None);
    b.node(json!({ "mesh": mesh }));
    let scene = Scene::from_slice(&b.gltf(), None).unwrap();
    let frame = scene.frame(0.0, None).unwrap();
    let camera = &frame.camera;
    assert_eq!(camera.name, "default view");
    // It looks at the middle of the mesh, from the front right and above, at 40 degrees.
    let positions = &frame.mesh.positions;
    let center = positions.iter().copied().sum::<glam::Vec3>() / positions.len() as f32;
    let eye = glam::Vec3::from(camera.to_world.translation);
    let forward = -glam::Vec3::from(camera.to_world.matrix3.z_axis).normalize();
    let toward = (center - eye).normalize();
    assert!(forward.dot(toward) > 0.99, "{forward} vs {toward}");
    assert!(
        eye.x > center.x && eye.y > center.y && eye.z > center.z,
        "{eye}"
    );
    let Projection::Perspective { yfov } = camera.projection else {
        panic!("{:?}", camera.projection)
    };
    assert!((yfov.to_degrees() - 40.0).abs() < 1e-3);
    // Every vertex is in view.
    for p in positions {
        let to = (*p - eye).normalize();
        assert!(
            to.dot(forward) > (yfov * 0.5).cos(),
            "{p} is outside the view"
        );
    }
    // A camera asked for by name must still exist.
    assert!(scene.frame(0.0, Some("cam")).is_err());
    // Nothing to frame: still an error.
    let empty = Scene::from_slice(&Builder::new().gltf(), None).unwrap();
    let err = empty.frame(0.0, None).unwrap_err().to_string();
    assert_eq!(err, "scene blob: scene has no camera");
}

#[test]
fn orthographic_cameras_keep_their_magnification_and_near_plane() {
    let scene = |ymag: f32| {
        let mut b = Builder::new();
        let ortho = b.push(
            "cameras",
            json!({ "name": "top", "type": "orthographic",
                    "orthographic": { "xmag": 2.0, "ymag": ymag, "znear": 0.5, "zfar": 10.0 } }),
        );
        b.node(json!({ "camera": ortho }));
        b.gltf()
    };
    let camera = frame(&scene(1.0)).camera;
    assert_eq!(camera.projection, Projection::Orthographic { ymag: 1.0 });
    assert_eq!(camera.aspect_ratio, Some(2.0));
    assert_eq!(camera.znear, 0.5);
    let err = load_error(&scene(0.0));
    assert!(err.contains("both must be non-zero"), "{err}");
}

// --- Materials and textures ----------------------------------------------------------------

#[test]
fn primitive_without_material_gets_gltf_default() {
    let f = frame(&triangle_scene(json!({})).gltf());
    let m = &f.materials[f.mesh.triangle_materials[0] as usize];
    assert_eq!(m.base_color, Vec4::ONE);
    assert_eq!(m.metallic, 1.0);
    assert_eq!(m.roughness, 1.0);
}

#[test]
fn material_factors_and_extensions() {
    let mut b = Builder::new();
    b.root["extensionsUsed"] = json!([
        "KHR_materials_emissive_strength",
        "KHR_materials_transmission",
        "KHR_materials_ior",
        "KHR_materials_volume",
        "KHR_materials_specular"
    ]);
    let material = b.push(
        "materials",
        json!({
            "name": "glass",
            "pbrMetallicRoughness": {
                "baseColorFactor": [0.5, 0.25, 1.0, 0.75], "metallicFactor": 0.0, "roughnessFactor": 0.3
            },
            "emissiveFactor": [1.0, 0.5, 0.0],
            "doubleSided": true,
            "extensions": {
                "KHR_materials_emissive_strength": { "emissiveStrength": 4.0 },
                "KHR_materials_transmission": { "transmissionFactor": 0.9 },
                "KHR_materials_ior": { "ior": 1.33 },
                "KHR_materials_volume": { "thicknessFactor": 0.1, "attenuationDistance": 2.0,
                                          "attenuationColor": [0.5, 1.0, 0.25] },
                "KHR_materials_specular": { "specularFactor": 0.5, "specularColorFactor": [1.0, 0.5, 0.25] }
            }
        }),
    );
    let mesh = b.mesh(&TRIANGLE, json!({}), Some(material));
    b.node(json!({ "mesh": mesh }));
    let camera = b.perspective_camera("cam");
    b.node(json!({ "camera": camera }));
    let f = frame(&b.gltf());
    assert_eq!(
        f.materials.len(),
        1,
        "no default material when every primitive has one"
    );
    let m = &f.materials[0];
    assert_eq!(m.name, "glass");
    assert_eq!(m.base_color, Vec4::new(0.5, 0.25, 1.0, 0.75));
    assert_eq!((m.metallic, m.roughness), (0.0, 0.3));
    assert_eq!(m.emissive, Vec3::new(4.0, 2.0, 0.0));
    assert_eq!(m.transmission, 0.9);
    assert_eq!(m.ior, 1.33);
    assert!(!m.thin_walled);
    // Beer-Lambert: -ln(colour) / distance.
    let expected = Vec3::new(std::f32::consts::LN_2 / 2.0, 0.0, std::f32::consts::LN_2);
    assert!(
        (m.absorption - expected).length() < 1e-6,
        "{}",
        m.absorption
    );
    assert_eq!(m.specular, 0.5);
    assert_eq!(m.specular_color, Vec3::new(1.0, 0.5, 0.25));
    assert!(m.double_sided);
}

#[test]
fn sheen_and_clear_coat_are_read_and_may_be_required() {
    let material = |extensions: serde_json::Value| {
        let mut b = Builder::new();
        b.root["extensionsUsed"] = json!(["KHR_materials_sheen", "KHR_materials_clearcoat"]);
        b.root["extensionsRequired"] = json!(["KHR_materials_sheen", "KHR_materials_clearcoat"]);
        let material = b.push("materials", json!({ "extensions": extensions }));
        let mesh = b.mesh(&TRIANGLE, json!({}), Some(material));
        b.node(json!({ "mesh": mesh }));
        let camera = b.perspective_camera("cam");
        b.node(json!({ "camera": camera }));
        b.gltf()
    };
    let f = frame(&material(json!({
        "KHR_materials_sheen": { "sheenColorFactor": [1.0, 0.5, 0.25], "sheenRoughnessFactor": 0.7 },
        "KHR_materials_clearcoat": { "clearcoatFactor": 0.8, "clearcoatRoughnessFactor": 0.2 }
    })));
    let m = &f.materials[0];
    assert_eq!(m.sheen_color, Vec3::new(1.0, 0.5, 0.25));
    assert_eq!(m.sheen_roughness, 0.7);
    assert_eq!((m.clearcoat, m.clearcoat_roughness), (0.8, 0.2));
    let defaults = frame(&material(json!({
        "KHR_materials_sheen": {}, "KHR_materials_clearcoat": {}
    })));
    let m = &defaults.materials[0];
    assert_eq!(
        (m.sheen_color, m.clearcoat),
        (Vec3::ZERO, 0.0),
        "glTF's defaults"
    );
    for bad in [
        json!({ "KHR_materials_sheen": { "sheenColorFactor": [1.0, -0.5, 0.25] } }),
        json!({ "KHR_materials_sheen": { "sheenColorFactor": [1.0, 0.5] } }),
        json!({ "KHR_materials_clearcoat": { "clearcoatFactor": "lots" } }),
        json!({ "KHR_materials_clearcoat": { "clearcoatRoughnessFactor": 1e300 } }),
    ] {
        let err = load_error(&material(bad.clone()));
        assert!(
            err.contains("negative, NaN or infinite factor"),
            "{bad}: {err}"
        );
    }
    // Finite, but beyond glTF's range: 3e38 overflowed every pixel's sum to infinity.
    for bad in [
        json!({ "KHR_materials_clearcoat": { "clearcoatFactor": 1.5 } }),
        json!({ "KHR_materials_sheen": { "sheenColorFactor": [1.0, 3e38, 0.25] } }),
    ] {
        let err = load_error(&material(bad.clone()));
        assert!(err.contains("has a factor above 1"), "{bad}: {err}");
    }
    let mut b = Builder::new();
    b.root["extensionsUsed"] = json!(["KHR_materials_emissive_strength"]);
    let glaring = b.push(
        "materials",
        json!({ "emissiveFactor": [1.0, 0.5, 0.0],
                "extensions": { "KHR_materials_emissive_strength": { "emissiveStrength": 3e38 } } }),
    );
    let mesh = b.mesh(&TRIANGLE, json!({}), Some(glaring));
    b.node(json!({ "mesh": mesh }));
    let err = load_error(&b.gltf());
    assert!(err.contains("emits 3e38"), "{err}");
    let err = load_error(&material(json!({
        "KHR_materials_clearcoat": { "clearcoatTexture": { "index": 3 } }
    })));
    assert!(err.contains("clearcoatTexture names no texture"), "{err}");
}

/// A 2x1 PNG: left texel (128, 64, 255, 255), right texel (0, 0, 0, 255).
fn png_2x1() -> Vec<u8> {
    let img = image::RgbaImage::from_raw(2, 1, vec![128, 64, 255, 255, 0, 0, 0, 255]).unwrap();
    let mut bytes = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut bytes),
        image::ImageFormat::Png,
    )
    .unwrap();
    bytes
}

fn srgb_to_linear(c: f32) -> f32 {
    if c <= 0.04045 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

#[test]
fn textures_decode_per_colour_space_with_sampler_and_transform() {
    let mut b = Builder::new();
    b.root["extensionsUsed"] = json!(["KHR_texture_transform"]);
    let png = base64::engine::general_purpose::STANDARD.encode(png_2x1());
    b.push(
        "images",
        json!({ "uri": format!("data:image/png;base64,{png}") }),
    );
    b.push(
        "samplers",
        json!({ "magFilter": 9728, "wrapS": 33071, "wrapT": 33648 }),
    );
    b.push("textures", json!({ "source": 0, "sampler": 0 }));
    let material = b.push(
        "materials",
        json!({
            "pbrMetallicRoughness": {
                "baseColorTexture": { "index": 0 },
                "metallicRoughnessTexture": { "index": 0, "extensions": { "KHR_texture_transform": {
                    "offset": [0.5, 0.0], "rotation": 0.25, "scale": [2.0, 3.0], "texCoord": 1 } } }
            },
            "normalTexture": { "index": 0, "scale": 0.5, "extensions": { "KHR_texture_transform": {
                "offset": [0.0, 0.25], "rotation": 1e10 } } }
        }),
    );
    let mesh = b.mesh(&TRIANGLE, json!({}), Some(material));
    b.node(json!({ "mesh": mesh }));
    let camera = b.perspective_camera("cam");
    b.node(json!({ "camera": camera }));
    let f = frame(&b.gltf());
    let m = &f.materials[0];
    let base = m.base_color_texture.unwrap();
    let data = m.metallic_roughness_texture.unwrap();
    assert_ne!(
        base.texture, data.texture,
        "one image used as sRGB and linear: two textures"
    );
    assert_eq!(f.textures.len(), 2);
    let srgb = &f.textures[base.texture as usize];
    let linear = &f.textures[data.texture as usize];
    assert_eq!((srgb.width, srgb.height), (2, 1));
    assert_eq!(srgb.filter, Filter::Nearest);
    assert_eq!(
        (srgb.wrap_s, srgb.wrap_t),
        (Wrap::ClampToEdge, Wrap::MirroredRepeat)
    );
    let texel = srgb.sample(Vec2::new(0.25, 0.5));
    assert!(
        (texel.x - srgb_to_linear(128.0 / 255.0)).abs() < 1e-5,
        "{texel}"
    );
    assert!((texel.z - 1.0).abs() < 1e-6 && (texel.w - 1.0).abs() < 1e-6);
    let raw = linear.sample(Vec2::new(0.25, 0.5));
    assert!((raw.y - 64.0 / 255.0).abs() < 1e-5, "{raw}");
    // Both keep the image's 8 bits, in one buffer: 4 bytes a texel, not 2 x 16.
    match (&srgb.texels, &linear.texels) {
        (
            Texels::Rgba8 {
                data: a,
                srgb: true,
            },
            Texels::Rgba8 {
                data: b,
                srgb: false,
            },
        ) => {
            assert!(std::sync::Arc::ptr_eq(a, b), "the 8-bit texels are shared");
            assert_eq!(a.as_slice(), [[128, 64, 255, 255], [0, 0, 0, 255]]);
        }
        other => panic!("8-bit texels were widened: {other:?}"),
    }
    assert_eq!(srgb.texels.bytes(), 8);
    assert_eq!(data.tex_coord, 1);
    assert_eq!(data.transform.offset, Vec2::new(0.5, 0.0));
    assert_eq!(data.transform.rotation, 0.25);
    assert_eq!(data.transform.scale, Vec2::new(2.0, 3.0));
    assert_eq!(base.transform.scale, Vec2::ONE);
    let normal = m.normal_texture.unwrap();
    assert_eq!(
        normal.texture, data.texture,
        "normal maps share the linear texture"
    );
    assert_eq!(normal.transform.offset, Vec2::new(0.0, 0.25));
    // Whole turns dropped: the sine of 1e10 radians in f32 is out of its accurate range.
    assert_eq!(normal.transform.rotation, 1e10 % std::f32::consts::TAU);
    assert_eq!(m.normal_scale, 0.5);
}

#[test]
fn image_from_glb_buffer_view() {
    let mut b = Builder::new();
    let view = b.view(&png_2x1());
    b.push(
        "images",
        json!({ "bufferView": view, "mimeType": "image/png" }),
    );
    b.push("textures", json!({ "source": 0 }));
    let material = b.push(
        "materials",
        json!({ "emissiveTexture": { "index": 0 }, "emissiveFactor": [1.0, 1.0, 1.0] }),
    );
    let mesh = b.mesh(&TRIANGLE, json!({}), Some(material));
    b.node(json!({ "mesh": mesh }));
    let camera = b.perspective_camera("cam");
    b.node(json!({ "camera": camera }));
    let f = frame(&b.glb());
    let t = &f.textures[f.materials[0].emissive_texture.unwrap().texture as usize];
    assert_eq!(t.filter, Filter::Linear);
    assert_eq!(t.wrap_s, Wrap::Repeat);
    // Right texel is black.
    assert_eq!(t.texels.get(1), [0.0, 0.0, 0.0, 1.0]);
}

/// `COLOR_0` as normalised bytes (RGBA) and as floats (RGB, alpha 1); a primitive without one
/// is white beside one that has it.
#[test]
fn vertex_colours_are_read_in_either_form() {
    let mut b = Builder::new();
    let bytes: Vec<u8> = [255u8, 0, 0, 255, 0, 255, 0, 128, 0, 0, 255, 0].to_vec();
    let view = b.view(&bytes);
    let rgba = b.push(
        "accessors",
        json!({ "bufferView": view, "componentType": 5121, "normalized": true,
                "count": 3, "type": "VEC4" }),
    );
    let rgb = b.floats(
        &[0.5, 0.25, 0.125, 0.5, 0.25, 0.125, 0.5, 0.25, 0.125],
        "VEC3",
    );
    b.root["accessors"][rgb]
        .as_object_mut()
        .unwrap()
        .remove("min");
    b.root["accessors"][rgb]
        .as_object_mut()
        .unwrap()
        .remove("max");
    for extra in [
        json!({ "COLOR_0": rgba }),
        json!({ "COLOR_0": rgb }),
        json!({}),
    ] {
        let mesh = b.mesh(&TRIANGLE, extra, None);
        b.node(json!({ "mesh": mesh }));
    }
    let f = frame(&b.glb());
    let c = &f.mesh.colors;
    assert_eq!(c.len(), 9);
    assert_eq!(c[0], Vec4::new(1.0, 0.0, 0.0, 1.0));
    assert!((c[1].w - 128.0 / 255.0).abs() < 1e-6);
    assert_eq!(c[3], Vec4::new(0.5, 0.25, 0.125, 1.0));
    assert_eq!(c[6], Vec4::ONE);
}

#[test]
fn unlit_materials_are_read() {
    let mut b = triangle_scene(json!({}));
    b.root["extensionsUsed"] = json!(["KHR_materials_unlit"]);
    b.root["extensionsRequired"] = json!(["KHR_materials_unlit"]);
    let material = b.push(
        "materials",
        json!({ "extensions": { "KHR_materials_unlit": {} } }),
    );
    b.root["meshes"][0]["primitives"][0]["material"] = json!(material);
    let f = frame(&b.glb());
    assert!(f.materials[0].unlit);
}

// --- Lights --------------------------------------------------------------------------------

#[test]
fn punctual_lights_in_world_space() {
    let mut b = triangle_scene(json!({}));
    b.root["extensionsUsed"] = json!(["KHR_lights_punctual"]);
    b.root["extensions"] = json!({ "KHR_lights_punctual": { "lights": [
        { "type": "point", "color": [1.0, 0.5, 0.25], "intensity": 8.0 },
        { "type": "spot", "intensity": 2.0, "spot": { "outerConeAngle": 0.5 } },
        { "type": "directional", "intensity": 3.0 }
    ] } });
    let parent = b.node(json!({ "translation": [0.0, 10.0, 0.0] }));
    let point = b.node(json!({ "translation": [1.0, 0.0, 0.0],
        "extensions": { "KHR_lights_punctual": { "light": 0 } } }));
    // Rotated -90 degrees about X: -Z turns into -Y (pointing down).
    let spot = b.node(
        json!({ "rotation": [-FRAC_1_SQRT_2, 0.0, 0.0, FRAC_1_SQRT_2],
        "extensions": { "KHR_lights_punctual": { "light": 1 } } }),
    );
    b.root["nodes"][parent]["children"] = json!([point, spot]);
    b.node(json!({ "extensions": { "KHR_lights_punctual": { "light": 2 } } }));
    let f = frame(&b.gltf());
    assert_eq!(f.lights.len(), 3);
    let PunctualLight::Point {
        position,
        intensity,
    } = f.lights[0]
    else {
        panic!("{:?}", f.lights[0]);
    };
    assert!(close(position, Vec3::new(1.0, 10.0, 0.0)));
    assert_eq!(intensity, Vec3::new(8.0, 4.0, 2.0));
    let PunctualLight::Spot {
        position,
        direction,
        intensity,
        cos_inner,
        cos_outer,
    } = f.lights[1]
    else {
        panic!("{:?}", f.lights[1]);
    };
    assert!(close(position, Vec3::new(0.0, 10.0, 0.0)));
    assert!(close(direction, Vec3::NEG_Y), "{direction}");
    assert_eq!(intensity, Vec3::splat(2.0));
    assert_eq!((cos_inner, cos_outer), (1.0, 0.5f32.cos()));
    let PunctualLight::Directional {
        direction,
        irradiance,
    } = f.lights[2]
    else {
        panic!("{:?}", f.lights[2]);
    };
    assert!(close(direction, Vec3::NEG_Z));
    assert_eq!(irradiance, Vec3::splat(3.0));
}

/// A scene with no light of its own is lit by the neutral environment; one with a punctual
/// light or an emissive surface keeps its own lighting only.
#[test]
fn only_a_scene_without_lights_gets_the_neutral_environment() {
    let unlit = frame(&triangle_scene(json!({})).glb());
    assert_eq!(unlit.environment, Some(Environment::NEUTRAL));

    let mut lit = triangle_scene(json!({}));
    lit.root["extensionsUsed"] = json!(["KHR_lights_punctual"]);
    lit.root["extensions"] = json!({ "KHR_lights_punctual": { "lights": [
        { "type": "point", "intensity": 8.0 } ] } });
    lit.node(json!({ "extensions": { "KHR_lights_punctual": { "light": 0 } } }));
    assert_eq!(frame(&lit.glb()).environment, None);

    let mut glowing = Builder::new();
    let material = glowing.push("materials", json!({ "emissiveFactor": [1.0, 1.0, 1.0] }));
    let mesh = glowing.mesh(&TRIANGLE, json!({}), Some(material));
    glowing.node(json!({ "mesh": mesh }));
    assert_eq!(frame(&glowing.glb()).environment, None);
}

// --- Morph targets and skins ---------------------------------------------------------------

/// A triangle with one morph target that lifts its top corner by 1 in y.
fn morphed_triangle(weights: Value) -> (Builder, usize) {
    let mut b = Builder::new();
    let position = b.floats(&TRIANGLE, "VEC3");
    let lift = b.floats(&[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0], "VEC3");
    let mesh = b.push(
        "meshes",
        json!({ "primitives": [{ "attributes": { "POSITION": position },
                                 "targets": [{ "POSITION": lift }] }],
                "weights": weights }),
    );
    let node = b.node(json!({ "mesh": mesh }));
    (b, node)
}

#[test]
fn morph_targets_blend_by_the_mesh_node_and_animated_weights() {
    let top = |f: &FrameScene| f.mesh.positions[2].y;
    let (b, _) = morphed_triangle(json!([0.5]));
    assert!((top(&frame(&b.glb())) - 1.5).abs() < 1e-6);

    // A node's weights replace the mesh's.
    let (mut b, node) = morphed_triangle(json!([0.5]));
    b.root["nodes"][node]["weights"] = json!([0.25]);
    assert!((top(&frame(&b.glb())) - 1.25).abs() < 1e-6);

    // An animation drives them: 0 at t = 0 to 1 at t = 2, linearly.
    let (mut b, node) = morphed_triangle(json!([0.0]));
    let input = b.floats(&[0.0, 2.0], "SCALAR");
    let output = b.floats(&[0.0, 1.0], "SCALAR");
    b.push(
        "animations",
        json!({ "samplers": [{ "input": input, "output": output }],
                "channels": [{ "sampler": 0, "target": { "node": node, "path": "weights" } }] }),
    );
    let scene = Scene::from_slice(&b.glb(), None).unwrap();
    let at = |t: f32| scene.frame(t, None).unwrap().mesh.positions[2].y;
    assert!((at(0.0) - 1.0).abs() < 1e-6);
    assert!((at(0.5) - 1.25).abs() < 1e-6);
    assert!((at(2.0) - 2.0).abs() < 1e-6);
}

/// Two joints, the second a child of the first; the triangle's top corner follows the second
/// joint, the others the first. The mesh node's own transform does not apply to a skinned mesh.
fn skinned_triangle(inverse_bind: bool) -> Builder {
    let mut b = Builder::new();
    let position = b.floats(&TRIANGLE, "VEC3");
    let joints: Vec<u8> = [0u8, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0].to_vec();
    let view = b.view(&joints);
    let joints = b.push(
        "accessors",
        json!({ "bufferView": view, "componentType": 5121, "count": 3, "type": "VEC4" }),
    );
    let weights = b.floats(
        &[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0],
        "VEC4",
    );
    let mesh = b.push(
        "meshes",
        json!({ "primitives": [{ "attributes":
            { "POSITION": position, "JOINTS_0": joints, "WEIGHTS_0": weights } }] }),
    );
    let root = b.node(json!({ "translation": [1.0, 0.0, 0.0] }));
    let child = b.node(json!({ "translation": [0.0, 2.0, 0.0] }));
    b.root["nodes"][root]["children"] = json!([child]);
    let mut skin = json!({ "joints": [root, child] });
    if inverse_bind {
        // The child joint was bound where it stands at rest (0, 2, 0 below the root's 1, 0, 0).
        let mut matrices = Vec::new();
        for t in [[-1.0, 0.0, 0.0], [-1.0, -2.0, 0.0f32]] {
            matrices.extend(glam::Mat4::from_translation(t.into()).to_cols_array());
        }
        let accessor = b.floats(&matrices, "MAT4");
        b.root["accessors"][accessor]["type"] = json!("MAT4");
        b.root["accessors"][accessor]["count"] = json!(2);
        skin["inverseBindMatrices"] = json!(accessor);
    }
    let skin = b.push("skins", skin);
    b.node(json!({ "mesh": mesh, "skin": skin, "translation": [100.0, 0.0, 0.0] }));
    b
}

#[test]
fn skinned_vertices_follow_their_joints_through_nested_skeletons() {
    // Without inverse bind matrices the joints' world transforms move the bind pose: the root
    // joint by (1, 0, 0), the child by (1, 2, 0).
    let f = frame(&skinned_triangle(false).glb());
    assert!(
        close(f.mesh.positions[0], Vec3::new(1.0, 0.0, 0.0)),
        "{:?}",
        f.mesh.positions
    );
    assert!(close(f.mesh.positions[1], Vec3::new(2.0, 0.0, 0.0)));
    assert!(close(f.mesh.positions[2], Vec3::new(1.0, 3.0, 0.0)));
    // With the rest pose as the bind pose, the mesh stays where its file put it.
    let f = frame(&skinned_triangle(true).glb());
    for (p, q) in f.mesh.positions.iter().zip(TRIANGLE.chunks(3)) {
        assert!(close(*p, Vec3::from_slice(q)), "{:?}", f.mesh.positions);
    }
    assert!(f.mesh.normals.iter().all(|n| close(*n, Vec3::Z)));
}

#[test]
fn a_vertex_naming_a_joint_its_skin_lacks_is_refused() {
    let mut b = skinned_triangle(false);
    b.root["skins"][0]["joints"] = json!([0]);
    let e = load_error(&b.glb());
    assert!(e.contains("names joint 1 but its skin has 1"), "{e}");
}

/// The skinned triangle's load error with its `attribute` (`JOINTS_0` or `WEIGHTS_0`) read
/// from a new accessor of the VEC4 floats `values`, and that accessor's index.
fn skinned_error_with(attribute: &str, values: &[f32; 12]) -> (String, usize) {
    let mut b = skinned_triangle(false);
    let accessor = b.floats(values, "VEC4");
    b.root["meshes"][0]["primitives"][0]["attributes"][attribute] = json!(accessor);
    (load_error(&b.glb()), accessor)
}

#[test]
fn joints_must_be_unsigned_integers_read_exactly() {
    // Normalised, joint 1 would read as 1/255 and bind the vertex to joint 0.
    let mut b = skinned_triangle(false);
    b.root["accessors"][1]["normalized"] = json!(true);
    let e = load_error(&b.glb());
    assert!(
        e.contains("accessor 1 (JOINTS_0) must be VEC4 of unsigned bytes or shorts"),
        "{e}"
    );
    let (e, _) = skinned_error_with(
        "JOINTS_0",
        &[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0],
    );
    assert!(e.contains("(JOINTS_0) must be VEC4 of unsigned"), "{e}");
}

#[test]
fn weights_must_be_finite_and_not_negative() {
    // Integers not normalised (here the joints' own accessor) would weigh 1 as 1, 255 as 255.
    let mut b = skinned_triangle(false);
    b.root["meshes"][0]["primitives"][0]["attributes"]["WEIGHTS_0"] = json!(1);
    let e = load_error(&b.glb());
    assert!(
        e.contains("WEIGHTS_0 (accessor 1) must be VEC4 of floats, or of unsigned"),
        "{e}"
    );
    let (e, negative) = skinned_error_with(
        "WEIGHTS_0",
        &[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0],
    );
    assert!(
        e.contains(&format!(
            "WEIGHTS_0 (accessor {negative}) has negative weights"
        )),
        "{e}"
    );
    let (e, _) = skinned_error_with(
        "WEIGHTS_0",
        &[
            1.0,
            0.0,
            0.0,
            0.0,
            1.0,
            0.0,
            0.0,
            0.0,
            f32::NAN,
            0.0,
            0.0,
            0.0,
        ],
    );
    assert!(
        e.contains("(WEIGHTS_0) contains NaN or infinite values"),
        "{e}"
    );
}

/// `EXT_mesh_gpu_instancing`: the node's mesh once per instance, each placed by its own
/// transform after the node's.
#[test]
fn instanced_meshes_are_drawn_once_per_instance() {
    let mut b = Builder::new();
    b.root["extensionsUsed"] = json!(["EXT_mesh_gpu_instancing"]);
    let mesh = b.mesh(&TRIANGLE, json!({}), None);
    let translations = b.floats(&[0.0, 0.0, 0.0, 10.0, 0.0, 0.0, 0.0, 20.0, 0.0], "VEC3");
    let scales = b.floats(&[1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 1.0, 1.0, 1.0], "VEC3");
    b.node(json!({ "mesh": mesh, "translation": [0.0, 0.0, -1.0],
        "extensions": { "EXT_mesh_gpu_instancing": { "attributes":
            { "TRANSLATION": translations, "SCALE": scales } } } }));
    let bytes = b.glb();
    assert_eq!(Scene::from_slice(&bytes, None).unwrap().triangle_count(), 3);
    let f = frame(&bytes);
    let p = &f.mesh.positions;
    assert_eq!(f.mesh.triangles.len(), 3);
    // Each instance's second corner, (1, 0, 0) in the mesh.
    assert!(close(p[1], Vec3::new(1.0, 0.0, -1.0)), "{p:?}");
    assert!(close(p[4], Vec3::new(12.0, 0.0, -1.0)), "{p:?}");
    assert!(close(p[7], Vec3::new(1.0, 20.0, -1.0)), "{p:?}");
}

// --- Animation -----------------------------------------------------------------------------

/// A triangle under an animated node; the channel drives `path` with `values` at `times`.
fn animated(path: &str, interpolation: &str, times: &[f32], values: &[f32]) -> Scene {
    let mut b = triangle_scene(json!({}));
    let input = b.floats(times, "SCALAR");
    let ty = if path == "rotation" { "VEC4" } else { "VEC3" };
    let output = b.floats(values, ty);
    if ty == "VEC3" {
        // Animation outputs need no bounds; keep the accessor minimal.
        let accessor = b.root["accessors"][output].as_object_mut().unwrap();
        accessor.remove("min");
        accessor.remove("max");
    }
    b.push(
        "animations",
        json!({ "channels": [{ "sampler": 0, "target": { "node": 0, "path": path } }],
                "samplers": [{ "input": input, "output": output, "interpolation": interpolation }] }),
    );
    Scene::from_slice(&b.gltf(), None).unwrap_or_else(|e| panic!("{e}"))
}

/// Where the triangle's corner (1, 0, 0) is at `time`.
fn corner_at(scene: &Scene, time: f32) -> Vec3 {
    scene.frame(time, None).unwrap().mesh.positions[1]
}

#[test]
fn linear_and_step_translation() {
    let linear = animated(
        "translation",
        "LINEAR",
        &[0.0, 2.0],
        &[0.0, 0.0, 0.0, 4.0, 0.0, 0.0],
    );
    assert_eq!(linear.animation_duration(), 2.0);
    assert!(close(corner_at(&linear, 0.5), Vec3::new(2.0, 0.0, 0.0)));
    // Clamped outside the key range.
    assert!(close(corner_at(&linear, 10.0), Vec3::new(5.0, 0.0, 0.0)));
    assert!(close(corner_at(&linear, -1.0), Vec3::new(1.0, 0.0, 0.0)));
    let step = animated(
        "translation",
        "STEP",
        &[0.0, 2.0],
        &[0.0, 0.0, 0.0, 4.0, 0.0, 0.0],
    );
    assert!(close(corner_at(&step, 1.9), Vec3::new(1.0, 0.0, 0.0)));
    assert!(close(corner_at(&step, 2.0), Vec3::new(5.0, 0.0, 0.0)));
}

#[test]
fn rotation_slerps() {
    let half = FRAC_PI_4.sin();
    let quarter_turn_y = [0.0, (FRAC_PI_2 / 2.0).sin(), 0.0, (FRAC_PI_2 / 2.0).cos()];
    let values = [[0.0, 0.0, 0.0, 1.0], quarter_turn_y].concat();
    let scene = animated("rotation", "LINEAR", &[0.0, 1.0], &values);
    // Halfway: 45 degrees about Y takes (1, 0, 0) to (cos 45, 0, -sin 45).
    let p = corner_at(&scene, 0.5);
    assert!(close(p, Vec3::new(half, 0.0, -half)), "{p}");
}

#[test]
fn cubic_spline_uses_tangents() {
    // Keys: [in, value, out] per key. x goes 0 -> 1 with out-tangent 1 at the first key.
    let values = [
        [0.0, 0.0, 0.0],
        [0.0, 0.0, 0.0],
        [1.0, 0.0, 0.0],
        [0.0, 0.0, 0.0],
        [1.0, 0.0, 0.0],
        [0.0, 0.0, 0.0],
    ]
    .concat();
    let scene = animated("translation", "CUBICSPLINE", &[0.0, 1.0], &values);
    // Hermite at s = 0.5: v1 * 0.5 + out0 * dt * 0.125 = 0.625.
    let p = corner_at(&scene, 0.5);
    assert!(close(p, Vec3::new(1.625, 0.0, 0.0)), "{p}");
}

#[test]
fn animated_camera_moves() {
    let mut b = triangle_scene(json!({}));
    let input = b.floats(&[0.0, 1.0], "SCALAR");
    let output = b.floats(&[0.0, 0.0, 5.0, 0.0, 0.0, 7.0], "VEC3");
    b.push(
        "animations",
        json!({ "channels": [{ "sampler": 0, "target": { "node": 1, "path": "translation" } }],
                "samplers": [{ "input": input, "output": output }] }),
    );
    let scene = Scene::from_slice(&b.gltf(), None).unwrap();
    let camera = scene.frame(0.25, None).unwrap().camera;
    assert!(close(
        camera.to_world.translation.into(),
        Vec3::new(0.0, 0.0, 5.5)
    ));
}

#[test]
fn a_camera_scaled_flat_is_refused_when_framed() {
    let mut b = triangle_scene(json!({}));
    b.root["nodes"][1]["scale"] = json!([1.0, 0.0, 1.0]);
    let scene = Scene::from_slice(&b.gltf(), None).unwrap();
    let e = scene.frame(0.0, None).unwrap_err().to_string();
    assert!(
        e.contains("camera node 1 (\"cam\") has a degenerate transform"),
        "{e}"
    );
    // An animation flattening the camera's parent: usable at first, refused once flat.
    let mut b = triangle_scene(json!({}));
    let parent = b.node(json!({ "children": [1] }));
    let input = b.floats(&[0.0, 1.0], "SCALAR");
    let output = b.floats(&[1.0, 1.0, 1.0, 0.0, 0.0, 0.0], "VEC3");
    b.push(
        "animations",
        json!({ "channels": [{ "sampler": 0, "target": { "node": parent, "path": "scale" } }],
                "samplers": [{ "input": input, "output": output }] }),
    );
    let scene = Scene::from_slice(&b.gltf(), None).unwrap();
    assert!(scene.frame(0.5, None).is_ok());
    let e = scene.frame(1.0, None).unwrap_err().to_string();
    assert!(
        e.contains("camera node 1 (\"cam\") has a degenerate"),
        "{e}"
    );
}

/// Clips of one character drive the same joints: the first plays. Animations of different
/// nodes all play.
#[test]
fn a_later_animation_does_not_override_an_earlier_ones_target() {
    let mut b = triangle_scene(json!({}));
    let other = b.node(json!({ "mesh": 0 }));
    let input = b.floats(&[0.0, 1.0], "SCALAR");
    let clip = |b: &mut Builder, node: usize, to: f32| {
        let output = b.floats(&[0.0, 0.0, 0.0, to, 0.0, 0.0], "VEC3");
        b.push(
            "animations",
            json!({ "samplers": [{ "input": input, "output": output }],
                    "channels": [{ "sampler": 0,
                                   "target": { "node": node, "path": "translation" } }] }),
        );
    };
    clip(&mut b, 0, 1.0);
    clip(&mut b, 0, 5.0);
    clip(&mut b, other, 3.0);
    let f = frame_at(&b.glb(), 1.0);
    let xs: Vec<f32> = f.mesh.positions.iter().step_by(3).map(|p| p.x).collect();
    assert_eq!(xs, [1.0, 3.0]);
}

// --- Extensions, files and refusals --------------------------------------------------------

#[test]
fn unsupported_required_extension_is_named() {
    let mut b = triangle_scene(json!({}));
    b.root["extensionsUsed"] = json!(["KHR_draco_mesh_compression", "EXT_unknown"]);
    b.root["extensionsRequired"] = json!(["KHR_draco_mesh_compression"]);
    let err = load_error(&b.gltf());
    assert_eq!(
        err,
        "scene blob requires unsupported extension KHR_draco_mesh_compression"
    );

    let mut b = triangle_scene(json!({}));
    b.root["extensionsUsed"] = json!(["EXT_unknown"]);
    assert_eq!(frame(&b.gltf()).mesh.triangle_count(), 1);
}

#[test]
fn external_buffer_next_to_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = triangle_scene(json!({}));
    b.finish_scene();
    std::fs::write(dir.path().join("tri angle.bin"), &b.bin).unwrap();
    b.root["buffers"] = json!([{ "byteLength": b.bin.len(), "uri": "tri%20angle.bin" }]);
    let path = dir.path().join("scene.gltf");
    std::fs::write(&path, serde_json::to_vec(&b.root).unwrap()).unwrap();
    let scene = Scene::load(&path).unwrap();
    assert_eq!(scene.triangle_count(), 1);
    // The same JSON as a blob may not read files.
    let err = Scene::from_slice(&std::fs::read(&path).unwrap(), None)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("must hold all its data"), "{err}");

    b.root["buffers"][0]["uri"] = json!("../tri%20angle.bin");
    std::fs::write(&path, serde_json::to_vec(&b.root).unwrap()).unwrap();
    let err = Scene::load(&path).err().unwrap().to_string();
    assert!(err.starts_with(&path.display().to_string()), "{err}");
    assert!(err.contains("leave the scene's folder"), "{err}");
}

#[test]
fn index_out_of_range_is_an_error() {
    let mut b = Builder::new();
    let indices = b.u8_indices(&[0, 1, 7]);
    let position = b.floats(&TRIANGLE, "VEC3");
    b.push(
        "meshes",
        json!({ "primitives": [{ "attributes": { "POSITION": position }, "indices": indices }] }),
    );
    b.node(json!({ "mesh": 0 }));
    let err = load_error(&b.gltf());
    assert!(
        err.contains("index 7 but the primitive has 3 vertices"),
        "{err}"
    );
}

#[test]
fn accessor_beyond_its_buffer_is_an_error() {
    let mut b = triangle_scene(json!({}));
    b.root["accessors"][0]["count"] = json!(1000);
    let err = load_error(&b.gltf());
    assert!(
        err.starts_with("scene blob: bufferView 0 is 36 bytes but accessor 0 needs 12000"),
        "{err}"
    );
}

/// A sparse accessor without a bufferView is zeros that nothing in the file backs: its count
/// alone must not make the loader overflow or allocate gigabytes.
#[test]
fn sparse_accessor_without_data_cannot_claim_a_huge_count() {
    for count in [1_000_000_000_000_000_000u64, 100_000_000] {
        let mut b = triangle_scene(json!({}));
        let indices = b.view(&[0, 0, 0, 0]);
        let values = b.view(&[0; 12]);
        let accessor = &mut b.root["accessors"][0];
        accessor.as_object_mut().unwrap().remove("bufferView");
        accessor["count"] = json!(count);
        accessor["sparse"] = json!({ "count": 1,
            "indices": { "bufferView": indices, "componentType": 5121 },
            "values": { "bufferView": values } });
        let err = load_error(&b.gltf());
        assert!(
            err.contains(&format!(
                "accessor 0 ({count} elements without a bufferView) would take the accessors \
                 without a bufferView to"
            )),
            "{err}"
        );
    }
}

/// The sparse part of a VEC3 accessor without a bufferView: its first element set to zero.
fn sparse_zero(b: &mut Builder) -> Value {
    let indices = b.view(&[0, 0, 0, 0]);
    let values = b.view(&[0; 12]);
    json!({ "count": 1,
        "indices": { "bufferView": indices, "componentType": 5121 },
        "values": { "bufferView": values } })
}

/// Accessors without a bufferView count together: a few of them cannot expand a small file
/// past the scene's zeros.
#[test]
fn zeros_without_a_buffer_view_are_bounded_for_the_whole_scene() {
    // 50 million zero vertices are 572 MiB: one such accessor is allowed, two are not.
    let count = 50_000_000;
    let mut b = Builder::new();
    let mut zeros = || {
        let sparse = sparse_zero(&mut b);
        b.push(
            "accessors",
            json!({ "componentType": 5126, "count": count, "type": "VEC3",
                    "min": [0.0, 0.0, 0.0], "max": [0.0, 0.0, 0.0], "sparse": sparse }),
        )
    };
    let (positions, normals) = (zeros(), zeros());
    let mesh = b.push(
        "meshes",
        json!({ "primitives": [{ "attributes": { "POSITION": positions, "NORMAL": normals } }] }),
    );
    b.node(json!({ "mesh": mesh }));
    let err = load_error(&b.gltf());
    assert!(
        err.contains(&format!(
            "accessor {normals} ({count} elements without a bufferView)"
        )) && err.contains("MiB of zeros, past the 1024 MiB a scene may expand to"),
        "{err}"
    );
}

/// Primitives (one per material) sharing one vertex accessor keep only the vertices their
/// triangles use: placed in a frame, a 1-million-vertex model of 70 materials made 70 million.
#[test]
fn primitives_sharing_vertices_keep_only_those_they_use() {
    let mut b = Builder::new();
    let mut corners = TRIANGLE.to_vec();
    corners.extend(
        TRIANGLE
            .iter()
            .enumerate()
            .map(|(i, &c)| if i % 3 == 2 { c + 1.0 } else { c }),
    );
    let positions = b.floats(&corners, "VEC3");
    let normals = b.floats(&[0.0, 0.0, 1.0].repeat(6), "VEC3");
    let first = b.u8_indices(&[0, 1, 2]);
    let second = b.u8_indices(&[5, 3, 4]);
    let mesh = b.push(
        "meshes",
        json!({ "primitives": [
            { "attributes": { "POSITION": positions, "NORMAL": normals }, "indices": first },
            { "attributes": { "POSITION": positions, "NORMAL": normals }, "indices": second }
        ] }),
    );
    b.node(json!({ "mesh": mesh }));
    let camera = b.perspective_camera("cam");
    b.node(json!({ "camera": camera, "translation": [0.0, 0.0, 5.0] }));
    let f = frame(&b.gltf());
    // Three vertices each, not the accessor's six each.
    assert_eq!(f.mesh.positions.len(), 6, "{:?}", f.mesh.positions);
    assert_eq!(f.mesh.normals.len(), 6);
    let corner = |t: usize, k: usize| f.mesh.positions[f.mesh.triangles[t][k] as usize];
    assert_eq!(corner(0, 1), Vec3::new(1.0, 0.0, 0.0));
    // The second triangle's corners in its own order: vertex 5, 3, 4 of the accessor.
    assert_eq!(corner(1, 0), Vec3::new(0.0, 1.0, 1.0));
    assert_eq!(corner(1, 1), Vec3::new(0.0, 0.0, 1.0));
}

/// Why a frame is refused when `positions` (a mesh without indices) is placed by `instances`
/// instances, all at the origin.
fn instanced_frame_error(positions: &[f32], instances: usize) -> String {
    let mut b = Builder::new();
    b.root["extensionsUsed"] = json!(["EXT_mesh_gpu_instancing"]);
    let mesh = b.mesh(positions, json!({}), None);
    let sparse = sparse_zero(&mut b);
    let translations = b.push(
        "accessors",
        json!({ "componentType": 5126, "count": instances, "type": "VEC3", "sparse": sparse }),
    );
    b.node(json!({ "mesh": mesh,
        "extensions": { "EXT_mesh_gpu_instancing": { "attributes":
            { "TRANSLATION": translations } } } }));
    let camera = b.perspective_camera("cam");
    b.node(json!({ "camera": camera, "translation": [0.0, 0.0, 5.0] }));
    let scene = Scene::from_slice(&b.glb(), None).unwrap_or_else(|e| panic!("{e}"));
    match scene.frame(0.0, None) {
        Ok(_) => panic!("the frame is refused"),
        Err(e) => e.to_string(),
    }
}

/// Instancing places a small mesh many times: a frame past the most it may hold is refused
/// before any of it is made, not allocated until the process aborts.
#[test]
fn instancing_cannot_place_more_than_a_frame_may_hold() {
    // 1000 triangles placed by 100,000 instances: 300 million vertices.
    let positions: Vec<f32> = (0..9000).map(|i| (i % 7) as f32).collect();
    let err = instanced_frame_error(&positions, 100_000);
    assert!(
        err.contains("would hold more than 67108864 vertices or triangles"),
        "{err}"
    );
}

/// A one-triangle mesh placed by five million instances stays within the frame's vertices, but
/// each placement is a record while the frame is built: past four million, the frame is refused.
#[test]
fn instancing_cannot_place_more_primitives_than_a_frame_may() {
    let err = instanced_frame_error(&TRIANGLE, 5_000_000);
    assert!(
        err.contains("or place more than 4194304 primitives"),
        "{err}"
    );
}

#[test]
fn buffer_shorter_than_declared_is_an_error() {
    let bytes = triangle_scene(json!({})).gltf();
    let mut root: Value = serde_json::from_slice(&bytes).unwrap();
    root["buffers"][0]["byteLength"] = json!(400);
    let err = load_error(&serde_json::to_vec(&root).unwrap());
    assert!(
        err.contains("buffer 0 declares 400 bytes but holds 36"),
        "{err}"
    );
}

#[test]
fn nan_positions_are_refused() {
    let mut b = Builder::new();
    let mesh = b.mesh(
        &[f32::NAN, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
        json!({}),
        None,
    );
    b.node(json!({ "mesh": mesh }));
    // Finite bounds, so only the data is wrong.
    b.root["accessors"][0]["min"] = json!([0.0, 0.0, 0.0]);
    b.root["accessors"][0]["max"] = json!([1.0, 1.0, 0.0]);
    let err = load_error(&b.gltf());
    assert!(err.contains("NaN or infinite"), "{err}");
}

#[test]
fn node_cycles_are_refused() {
    let mut b = Builder::new();
    b.node(json!({ "children": [1] }));
    b.node(json!({ "children": [0] }));
    b.root["scenes"] = json!([{ "nodes": [0] }]);
    let err = load_error(&serde_json::to_vec(&b.root).unwrap());
    assert!(err.contains("appears twice"), "{err}");
}

#[test]
fn malformed_inputs_are_errors_not_panics() {
    assert!(load_error(b"{ not json").starts_with("scene blob: not a valid glTF 2.0 file"));
    assert!(load_error(b"").starts_with("scene blob: not a valid glTF 2.0 file"));
    assert!(load_error(b"glTF\x02\0\0\0\xff\xff\xff\xff").contains("truncated"));
    let glb = triangle_scene(json!({ "translation": [0.5, 0.0, 0.0] })).glb();
    // Every truncation and a sweep of corrupted bytes must come back as Ok or Err.
    for len in 0..glb.len() {
        let _ = Scene::from_slice(&glb[..len], None).map(|s| s.frame(0.0, None));
    }
    let mut state = 0x2545_f491_u32;
    for _ in 0..2000 {
        let mut corrupt = glb.clone();
        for _ in 0..3 {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let at = state as usize % corrupt.len();
            corrupt[at] = (state >> 8) as u8;
        }
        let _ = Scene::from_slice(&corrupt, None).map(|s| s.frame(0.5, None));
    }
}

/// A scene using most features: texture with transform, sparse accessor, light, animation.
fn rich() -> Builder {
    let mut b = Builder::new();
    b.root["extensionsUsed"] = json!(["KHR_lights_punctual", "KHR_texture_transform"]);
    let png = base64::engine::general_purpose::STANDARD.encode(png_2x1());
    b.push(
        "images",
        json!({ "uri": format!("data:image/png;base64,{png}") }),
    );
    b.push(
        "samplers",
        json!({ "magFilter": 9728, "wrapS": 33071, "wrapT": 33648 }),
    );
    b.push("textures", json!({ "source": 0, "sampler": 0 }));
    let material = b.push(
        "materials",
        json!({ "pbrMetallicRoughness": { "baseColorTexture": { "index": 0,
        "extensions": { "KHR_texture_transform": { "offset": [0.5, 0.0] } } } },
        "normalTexture": { "index": 0 } }),
    );
    let uv = b.u16s(&[0, 0, 65535, 0, 32768, 65535, 0, 65535], "VEC2", true);
    let normal = b.floats(&[0.0, 0.0, 1.0].repeat(4), "VEC3");
    let indices = b.u8_indices(&[0, 1, 2, 0, 2, 3]);
    let position = b.floats(
        &[0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0],
        "VEC3",
    );
    let mesh = b.push(
        "meshes",
        json!({ "primitives": [{ "attributes": { "POSITION": position, "NORMAL": normal,
                 "TEXCOORD_0": uv }, "indices": indices, "material": material }] }),
    );
    b.node(json!({ "mesh": mesh, "children": [1] }));
    let cam = b.perspective_camera("cam");
    b.node(json!({ "camera": cam, "translation": [0.0, 0.0, 5.0] }));
    b.root["extensions"] = json!({ "KHR_lights_punctual": { "lights": [
        { "type": "spot", "intensity": 2.0, "spot": { "outerConeAngle": 0.5 } } ] } });
    b.node(json!({ "extensions": { "KHR_lights_punctual": { "light": 0 } } }));
    let input = b.floats(&[0.0, 1.0], "SCALAR");
    let output = b.floats(&[0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0], "VEC4");
    let sparse_idx = b.view(&[1u8, 0, 0, 0]);
    // Sparse: key 1 becomes a quarter turn about Z.
    let quarter_z: Vec<u8> = [0.0, 0.0, FRAC_1_SQRT_2, FRAC_1_SQRT_2]
        .iter()
        .flat_map(|v: &f32| v.to_le_bytes())
        .collect();
    let sparse_val = b.view(&quarter_z);
    b.root["accessors"][output]["sparse"] = json!({ "count": 1, "indices": { "bufferView": sparse_idx, "componentType": 5121 }, "values": { "bufferView": sparse_val } });
    b.push(
        "animations",
        json!({ "channels": [{ "sampler": 0, "target": { "node": 0, "path": "rotation" } }],
                "samplers": [{ "input": input, "output": output, "interpolation": "LINEAR" }] }),
    );
    b
}

/// Removes, retypes or replaces one random part of a JSON document.
fn mutate(v: &mut Value, r: &mut dyn FnMut() -> u32) {
    match v {
        Value::Object(map) if !map.is_empty() => {
            let keys: Vec<String> = map.keys().cloned().collect();
            let k = &keys[r() as usize % keys.len()];
            match r() % 5 {
                0 => {
                    map.remove(k);
                }
                1 => {
                    map.insert(k.clone(), json!(r() % 4));
                }
                2 => {
                    map.insert(k.clone(), json!("x"));
                }
                _ => mutate(map.get_mut(k).unwrap(), r),
            }
        }
        Value::Array(a) if !a.is_empty() => {
            let n = a.len();
            match r() % 4 {
                0 => {
                    a.remove(r() as usize % n);
                }
                1 => {
                    a[r() as usize % n] = json!(r() % 3);
                }
                _ => mutate(&mut a[r() as usize % n], r),
            }
        }
        _ => *v = json!(r() % 5),
    }
}

#[test]
fn sparse_accessor_overrides_values() {
    let scene = Scene::from_slice(&rich().gltf(), None).unwrap();
    // At t = 1 the sparse key applies: (1, 0, 0) turns a quarter about Z to (0, 1, 0).
    let p = corner_at(&scene, 1.0);
    assert!(close(p, Vec3::new(0.0, 1.0, 0.0)), "{p}");
    assert!(close(corner_at(&scene, 0.0), Vec3::X));
}

#[test]
fn structural_corruption_is_an_error_not_a_panic() {
    let text = rich().gltf();
    frame(&text);
    let root: Value = serde_json::from_slice(&text).unwrap();
    let mut state = 0x0bad_cafe_u32;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state
    };
    let mut loaded = 0;
    for _ in 0..3000 {
        let mut v = root.clone();
        for _ in 0..(1 + next() % 3) {
            mutate(&mut v, &mut next);
        }
        let bytes = serde_json::to_vec(&v).unwrap();
        let result = Scene::from_slice(&bytes, None).and_then(|s| s.frame(0.5, None));
        loaded += result.is_ok() as usize;
    }
    // Some mutations are harmless (names, unused keys); most must be refused.
    assert!(loaded > 0 && loaded < 3000, "{loaded}");
}

/// The start of a PNG whose header says `side` x `side` 16-bit grey: what its decoder reads
/// before it decodes a texel. Each such image would take `side`^2 x 16 bytes as float texels.
fn png_header_16_bit_grey(side: u32) -> Vec<u8> {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xedb8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8], data: &[u8]| {
        png.extend((data.len() as u32).to_be_bytes());
        let start = png.len();
        png.extend(kind);
        png.extend(data);
        let crc = crc32(&png[start..]);
        png.extend(crc.to_be_bytes());
    };
    let mut header = side.to_be_bytes().to_vec();
    header.extend(side.to_be_bytes());
    header.extend([16, 0, 0, 0, 0]); // 16 bits, grey, deflate, no filter method, no interlace
    chunk(b"IHDR", &header);
    chunk(b"IDAT", &[0x78, 0x9c]);
    png
}

/// Three small PNGs that would each decode to 3.8 GiB of float texels: the scene is refused
/// before any is decoded, as past what a scene may hold in memory.
#[test]
fn images_that_would_decode_past_the_scenes_memory_budget_are_refused_first() {
    let mut b = triangle_scene(json!({}));
    let png = base64::engine::general_purpose::STANDARD.encode(png_header_16_bit_grey(16_000));
    for i in 0..3 {
        b.push(
            "images",
            json!({ "uri": format!("data:image/png;base64,{png}") }),
        );
        b.push("textures", json!({ "source": i }));
    }
    let err = load_error(&b.gltf());
    assert!(
        err.contains("image 2 (16000x16000) would take the scene's buffers and images to")
            && err.contains("8192 MiB a scene may hold"),
        "{err}"
    );
}

/// A texture must be PNG or JPEG, as glTF says: the decoder also reads environment maps' HDR
/// and EXR, whose EXR size checks see only the display window (a 2x1 EXR can ask for a data
/// window a billion pixels wide).
#[test]
fn a_texture_that_is_not_png_or_jpeg_is_refused() {
    let hdr = b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 1 +X 1\n\x80\x80\x80\x80";
    let mut b = Builder::new();
    let data = base64::engine::general_purpose::STANDARD.encode(hdr);
    b.push(
        "images",
        json!({ "uri": format!("data:image/vnd.radiance;base64,{data}") }),
    );
    b.push("textures", json!({ "source": 0 }));
    let material = b.push(
        "materials",
        json!({ "pbrMetallicRoughness": { "baseColorTexture": { "index": 0 } } }),
    );
    let mesh = b.mesh(&TRIANGLE, json!({}), Some(material));
    b.node(json!({ "mesh": mesh }));
    let err = load_error(&b.gltf());
    assert!(err.contains("not a PNG or JPEG image"), "{err}");
}
