//! The shaders' copies of the GPU scene layout must match the Rust definition: same structs,
//! same fields in the same order with the same types, no padding anywhere.

use std::collections::HashMap;
use std::path::PathBuf;

use tessera_renderer::backend::gpu::layout::{StructLayout, layouts};

/// A field as a shader declares it: name and type normalised to the Rust spelling.
type Field = (String, String);

fn shader(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shaders")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Bodies of `struct Name { ... }` blocks, as lines without comments.
fn struct_bodies(source: &str) -> HashMap<String, Vec<String>> {
    let mut out = HashMap::new();
    let mut current: Option<(String, Vec<String>)> = None;
    for line in source.lines() {
        let line = line.split("//").next().unwrap_or("").trim();
        if let Some((name, body)) = &mut current {
            if line.starts_with('}') {
                out.insert(name.clone(), std::mem::take(body));
                current = None;
            } else if !line.is_empty() {
                body.push(line.to_string());
            }
        } else if let Some(rest) = line.strip_prefix("struct ")
            && let Some(name) = rest.strip_suffix('{')
        {
            current = Some((name.trim().to_string(), Vec::new()));
        }
    }
    out
}

/// `name: array<f32, 3>,` -> (name, "[f32; 3]").
fn wgsl_field(line: &str) -> Field {
    let line = line.trim_end_matches(',');
    let (name, ty) = line.split_once(':').expect("a WGSL field is `name: type`");
    let ty = ty.trim();
    let ty = match ty.strip_prefix("array<").and_then(|t| t.strip_suffix('>')) {
        Some(inner) => {
            let (elem, n) = inner.split_once(',').expect("array<T, N>");
            format!("[{}; {}]", elem.trim(), n.trim())
        }
        None => ty.to_string(),
    };
    (name.trim().to_string(), ty)
}

/// `float name[3];` -> (name, "[f32; 3]").
fn cuda_field(line: &str) -> Field {
    let line = line.trim_end_matches(';');
    let (ty, name) = line.rsplit_once(' ').expect("a C field is `type name`");
    let ty = match ty.trim() {
        "float" => "f32",
        "u32" | "unsigned int" => "u32",
        other => other,
    };
    match name.split_once('[') {
        Some((name, n)) => (
            name.to_string(),
            format!("[{ty}; {}]", n.trim_end_matches(']')),
        ),
        None => (name.to_string(), ty.to_string()),
    }
}

fn rust_fields(s: &StructLayout) -> Vec<Field> {
    s.fields
        .iter()
        .map(|f| (f.name.to_string(), f.ty.replace(' ', "").replace(';', "; ")))
        .collect()
}

fn check_mirror(file: &str, parse: fn(&str) -> Field) {
    let bodies = struct_bodies(&shader(file));
    let mut problems = Vec::new();
    for s in layouts() {
        let Some(body) = bodies.get(s.name) else {
            problems.push(format!("{file} has no struct {}", s.name));
            continue;
        };
        let theirs: Vec<Field> = body.iter().map(|l| parse(l)).collect();
        let ours = rust_fields(&s);
        if theirs != ours {
            problems.push(format!(
                "{file}: struct {} differs from the Rust layout\n  rust:   {ours:?}\n  shader: {theirs:?}",
                s.name
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn rust_layout_has_no_padding_and_lists_every_field() {
    for s in layouts() {
        let mut offset = 0;
        for f in &s.fields {
            assert_eq!(
                f.offset, offset,
                "{}.{} is not where packing puts it",
                s.name, f.name
            );
            assert_eq!(
                f.offset % 4,
                0,
                "{}.{} is not 4-byte aligned",
                s.name,
                f.name
            );
            offset += f.size;
        }
        assert_eq!(
            offset, s.size,
            "{}: the field list does not cover the struct",
            s.name
        );
    }
}

#[test]
fn wgsl_structs_mirror_the_rust_layout() {
    check_mirror("pathtracer.wgsl", wgsl_field);
}

#[test]
fn cuda_structs_mirror_the_rust_layout() {
    check_mirror("layout.cuh", cuda_field);
}

#[test]
fn the_checker_catches_a_reordered_field() {
    let source = shader("pathtracer.wgsl").replacen(
        "    offset: u32,\n    max: array<f32, 3>,",
        "    max: array<f32, 3>,\n    offset: u32,",
        1,
    );
    let bodies = struct_bodies(&source);
    let node: Vec<Field> = bodies["BvhNode"].iter().map(|l| wgsl_field(l)).collect();
    let rust = layouts().into_iter().find(|s| s.name == "BvhNode").unwrap();
    assert_ne!(node, rust_fields(&rust));
}
