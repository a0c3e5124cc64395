//! Helpers for the end-to-end tests: run the real `tessera` binary, and build tiny glTF scenes
//! (valid, or broken in one precise way) inside a temporary folder.

#![allow(dead_code)] // Each test binary uses its own subset of these helpers.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub mod reference;

use base64::Engine;
use serde_json::{Value, json};

/// The `tessera` binary: `TESSERA_BIN` when set, else the one Cargo built. tools/gpu-check.sh
/// sets it where it runs prebuilt test binaries, on a machine without Cargo's build folder.
pub fn tessera_bin() -> PathBuf {
    std::env::var_os("TESSERA_BIN").map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_tessera")),
        PathBuf::from,
    )
}

/// Runs `tessera` with `args` in `dir`, with logging at its default level.
pub fn tessera(dir: &Path, args: &[&str]) -> Output {
    Command::new(tessera_bin())
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .output()
        .expect("the tessera binary runs")
}

pub fn stderr_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

/// Files (recursively) under `dir`, relative to it, sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries {
        let path = entry.expect("readable folder").path();
        if path.is_dir() {
            found.extend(
                files_under(&path)
                    .into_iter()
                    .map(|p| Path::new(path.file_name().expect("named folder")).join(p)),
            );
        } else {
            found.push(PathBuf::from(path.file_name().expect("named file")));
        }
    }
    found.sort();
    found
}

/// Asserts the contract for bad input: exit status 1, exactly one `error: ...` line on stderr
/// that mentions one of `phrases` (case-insensitive), no panic, and nothing under `out_dir`.
pub fn assert_fails_cleanly(out: &Output, phrases: &[&str], out_dir: &Path) {
    let lines = stderr_lines(out);
    assert_eq!(out.status.code(), Some(1), "exit status; stderr: {lines:?}");
    assert_eq!(lines.len(), 1, "exactly one stderr line: {lines:?}");
    let line = &lines[0];
    assert!(line.starts_with("error: "), "{line}");
    let lower = line.to_lowercase();
    assert!(
        phrases.iter().any(|p| lower.contains(&p.to_lowercase())),
        "'{line}' mentions none of {phrases:?}"
    );
    for panic_text in ["panicked", "RUST_BACKTRACE", "internal error"] {
        assert!(!line.contains(panic_text), "{line}");
    }
    assert!(out.stdout.is_empty(), "nothing on stdout");
    assert_eq!(
        files_under(out_dir),
        Vec::<PathBuf>::new(),
        "files left behind"
    );
}

/// A flat rectangle: four corners, one normal, and the material index.
struct Quad {
    corners: [[f32; 3]; 4],
    normal: [f32; 3],
    material: usize,
}

/// How to break the test scene.
#[derive(Default, Clone, Copy)]
pub struct Breakage {
    /// Replace the first triangle's last index with this one.
    pub bad_index: Option<u16>,
    /// Keep only this many bytes of the buffer (and say so in byteLength).
    pub truncate_buffer: Option<usize>,
}

/// The test scene's glTF JSON and its binary buffer: a grey floor quad, an emissive quad above
/// it facing down, and a camera looking at both. The buffer is not referenced (no `uri`).
pub fn scene_parts(breakage: Breakage) -> (Value, Vec<u8>) {
    let quads = [
        Quad {
            corners: [
                [-1.0, 0.0, -1.0],
                [-1.0, 0.0, 1.0],
                [1.0, 0.0, 1.0],
                [1.0, 0.0, -1.0],
            ],
            normal: [0.0, 1.0, 0.0],
            material: 0,
        },
        Quad {
            corners: [
                [-0.3, 1.5, -0.3],
                [0.3, 1.5, -0.3],
                [0.3, 1.5, 0.3],
                [-0.3, 1.5, 0.3],
            ],
            normal: [0.0, -1.0, 0.0],
            material: 1,
        },
    ];
    let uvs = [[0.0f32, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, 0.0]];
    let mut bin = Vec::new();
    let mut views = Vec::new();
    let mut accessors = Vec::new();
    let mut primitives = Vec::new();
    let mut push_view = |bin: &mut Vec<u8>, bytes: Vec<u8>, target: u32| {
        while !bin.len().is_multiple_of(4) {
            bin.push(0);
        }
        views.push(json!({
            "buffer": 0, "byteOffset": bin.len(), "byteLength": bytes.len(), "target": target
        }));
        bin.extend(bytes);
        views.len() - 1
    };
    for (q, quad) in quads.iter().enumerate() {
        let floats = |values: &[f32]| values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let positions: Vec<f32> = quad.corners.iter().flatten().copied().collect();
        let normals: Vec<f32> = (0..4).flat_map(|_| quad.normal).collect();
        let uv: Vec<f32> = uvs.iter().flatten().copied().collect();
        let mut indices: [u16; 6] = [0, 1, 2, 0, 2, 3];
        if let (0, Some(bad)) = (q, breakage.bad_index) {
            indices[2] = bad;
        }
        let index_bytes: Vec<u8> = indices.iter().flat_map(|i| i.to_le_bytes()).collect();
        let (min, max) = (0..3).fold(([f32::MAX; 3], [f32::MIN; 3]), |(mut lo, mut hi), axis| {
            for c in &quad.corners {
                lo[axis] = lo[axis].min(c[axis]);
                hi[axis] = hi[axis].max(c[axis]);
            }
            (lo, hi)
        });
        let first = accessors.len();
        let v = push_view(&mut bin, floats(&positions), 34962);
        accessors.push(json!({"bufferView": v, "componentType": 5126, "count": 4, "type": "VEC3", "min": min, "max": max}));
        let v = push_view(&mut bin, floats(&normals), 34962);
        accessors.push(json!({"bufferView": v, "componentType": 5126, "count": 4, "type": "VEC3"}));
        let v = push_view(&mut bin, floats(&uv), 34962);
        accessors.push(json!({"bufferView": v, "componentType": 5126, "count": 4, "type": "VEC2"}));
        let v = push_view(&mut bin, index_bytes, 34963);
        accessors
            .push(json!({"bufferView": v, "componentType": 5123, "count": 6, "type": "SCALAR"}));
        primitives.push(json!({
            "attributes": {"POSITION": first, "NORMAL": first + 1, "TEXCOORD_0": first + 2},
            "indices": first + 3,
            "material": quad.material
        }));
    }
    while !bin.len().is_multiple_of(4) {
        bin.push(0);
    }
    if let Some(len) = breakage.truncate_buffer {
        bin.truncate(len);
    }
    let doc = json!({
        "asset": {"version": "2.0", "generator": "tessera tests"},
        "extensionsUsed": ["KHR_materials_emissive_strength"],
        "scene": 0,
        "scenes": [{"nodes": [0, 1]}],
        "nodes": [
            {"mesh": 0},
            {"camera": 0, "translation": [0.0, 0.8, 3.0]}
        ],
        "cameras": [{"type": "perspective", "perspective": {"yfov": 0.9, "aspectRatio": 1.5, "znear": 0.01}}],
        "meshes": [{"primitives": primitives}],
        "materials": [
            {"name": "floor", "pbrMetallicRoughness": {"baseColorFactor": [0.8, 0.8, 0.8, 1.0], "metallicFactor": 0.0, "roughnessFactor": 1.0}},
            {"name": "light", "emissiveFactor": [1.0, 1.0, 1.0],
             "extensions": {"KHR_materials_emissive_strength": {"emissiveStrength": 10.0}},
             "pbrMetallicRoughness": {"baseColorFactor": [0.0, 0.0, 0.0, 1.0]}}
        ],
        "accessors": accessors,
        "bufferViews": views,
        "buffers": [{"byteLength": bin.len()}]
    });
    (doc, bin)
}

/// The scene as a `.gltf` with its buffer embedded as a base64 data URI.
pub fn scene_gltf(breakage: Breakage) -> String {
    let (mut doc, bin) = scene_parts(breakage);
    let data = base64::engine::general_purpose::STANDARD.encode(&bin);
    doc["buffers"][0]["uri"] = json!(format!("data:application/octet-stream;base64,{data}"));
    serde_json::to_string_pretty(&doc).expect("JSON serialises")
}

/// The scene as a binary `.glb`.
pub fn scene_glb() -> Vec<u8> {
    let (doc, mut bin) = scene_parts(Breakage::default());
    let mut json = serde_json::to_vec(&doc).expect("JSON serialises");
    while !json.len().is_multiple_of(4) {
        json.push(b' ');
    }
    while !bin.len().is_multiple_of(4) {
        bin.push(0);
    }
    let total = 12 + 8 + json.len() + 8 + bin.len();
    let mut glb = Vec::with_capacity(total);
    glb.extend(b"glTF");
    glb.extend(2u32.to_le_bytes());
    glb.extend((total as u32).to_le_bytes());
    glb.extend((json.len() as u32).to_le_bytes());
    glb.extend(b"JSON");
    glb.extend(json);
    glb.extend((bin.len() as u32).to_le_bytes());
    glb.extend(b"BIN\0");
    glb.extend(bin);
    glb
}

/// A temporary folder with the valid test scene at `scene.gltf` and an empty `out/` folder.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> Self {
        let ws = Self {
            dir: tempfile::tempdir().expect("temporary folder"),
        };
        ws.write("scene.gltf", scene_gltf(Breakage::default()).as_bytes());
        std::fs::create_dir(ws.out()).expect("out folder");
        ws
    }
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
    pub fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }
    pub fn write(&self, name: &str, contents: &[u8]) {
        let path = self.dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("scene folder");
        }
        std::fs::write(path, contents).expect("scene file written");
    }
    pub fn run(&self, args: &[&str]) -> Output {
        tessera(self.path(), args)
    }
}

/// Writes an RGB EXR of `width` x `height` pixels, `rgb(x, y)` each: an environment map.
pub fn write_rgb_exr(
    path: &Path,
    width: usize,
    height: usize,
    rgb: impl Fn(usize, usize) -> [f32; 3] + Sync,
) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("map folder");
    }
    exr::prelude::write_rgb_file(path, width, height, |x, y| {
        let [r, g, b] = rgb(x, y);
        (r, g, b)
    })
    .expect("map written");
}

/// Every channel of an EXR file, by name, as f32 values; plus its size.
pub fn read_exr(path: &Path) -> (usize, usize, Vec<(String, Vec<f32>)>) {
    use exr::prelude::*;
    let image = read()
        .no_deep_data()
        .largest_resolution_level()
        .all_channels()
        .first_valid_layer()
        .all_attributes()
        .from_file(path)
        .expect("a readable EXR");
    let layer = image.layer_data;
    let channels = layer
        .channel_data
        .list
        .iter()
        .map(|c| {
            assert!(
                matches!(c.sample_data, FlatSamples::F32(_)),
                "{} is 32-bit float",
                c.name
            );
            (c.name.to_string(), c.sample_data.values_as_f32().collect())
        })
        .collect();
    (layer.size.0, layer.size.1, channels)
}
