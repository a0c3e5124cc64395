//! The parsed glTF document with its buffers in memory: GLB containers, JSON, extension checks
//! and schema validation. Everything after this can rely on indices being in range.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::SceneError;
use super::resource::read_uri;

/// Extensions whose meaning the loader implements, so a file may require them.
pub const SUPPORTED_EXTENSIONS: &[&str] = &[
    "KHR_lights_punctual",
    "KHR_materials_clearcoat",
    "KHR_materials_emissive_strength",
    "KHR_materials_ior",
    "KHR_materials_sheen",
    "KHR_materials_specular",
    "KHR_materials_transmission",
    "KHR_materials_unlit",
    "KHR_materials_volume",
    // Integer attributes, normalised or not: the accessor reader handles every component type.
    "KHR_mesh_quantization",
    "EXT_mesh_gpu_instancing",
    "KHR_texture_transform",
];

/// What one scene's buffers, decoded images and decoded geometry (accessors as read, each read
/// counted, and what strips, flat shading and instancing make of them) may take in memory
/// together. Files in a submission are bounded (512 MiB by default), but not what they expand
/// to: 200 buffers may name one file, a small PNG may decode to gigabytes of float texels, and
/// 2000 morph targets may read one accessor. 8 GiB holds 128 4K textures of 8 bits, or 32 of
/// floats.
pub const MAX_SCENE_BYTES: u64 = 8 << 30;

/// The most bytes the scene's accessors without a bufferView may expand to, each counted once
/// (reading one again counts against [`MAX_SCENE_BYTES`] only). Such an accessor is all zeros
/// (plus any sparse values), so nothing in the file backs its size, only its JSON `count`: a
/// 500-byte file could otherwise fill the scene's whole budget. 1 GiB holds the sparse shape
/// keys exporters write (Blender: one pair of such accessors a key) of a 200,000-vertex head with
/// 200 keys.
pub const MAX_ZERO_FILLED_BYTES: u64 = 1 << 30;

const GLB_MAGIC: &[u8; 4] = b"glTF";
const CHUNK_JSON: u32 = 0x4E4F_534A;
const CHUNK_BIN: u32 = 0x004E_4942;

pub struct Document {
    /// How errors name the scene.
    pub file: String,
    pub gltf: gltf::Document,
    pub buffers: Vec<Vec<u8>>,
    base_dir: Option<PathBuf>,
    /// Bytes of buffers, images and geometry held so far, against [`MAX_SCENE_BYTES`].
    held: Cell<u64>,
    /// Bytes of the accessors without a bufferView read so far, against
    /// [`MAX_ZERO_FILLED_BYTES`], and which those were.
    zero_filled: Cell<u64>,
    zero_filled_read: RefCell<HashSet<usize>>,
}

impl Document {
    pub fn parse(bytes: &[u8], base_dir: Option<&Path>, file: &str) -> Result<Self, SceneError> {
        let malformed = |detail: String| SceneError::Malformed {
            file: file.to_owned(),
            detail,
        };
        let (json, blob) = if bytes.starts_with(GLB_MAGIC) {
            split_glb(bytes).map_err(|d| malformed(d.to_owned()))?
        } else {
            (bytes, None)
        };
        let mut root = gltf::json::Root::from_slice(json).map_err(|e| malformed(e.to_string()))?;
        check_extensions(&root, file)?;
        // Every required extension is one this loader implements; the gltf crate's own list
        // is shorter (it lacks KHR_mesh_quantization, KHR_materials_specular and _volume), so
        // its check would refuse files this loader reads.
        root.extensions_required.clear();
        check_position_references(&root).map_err(malformed)?;
        let gltf = gltf::Document::from_json(root).map_err(|e| malformed(describe(e)))?;
        let mut document = Document {
            file: file.to_owned(),
            gltf,
            buffers: Vec::new(),
            base_dir: base_dir.map(Path::to_path_buf),
            held: Cell::new(0),
            zero_filled: Cell::new(0),
            zero_filled_read: RefCell::default(),
        };
        document.buffers = document.load_buffers(blob)?;
        Ok(document)
    }

    pub fn invalid(&self, detail: impl Into<String>) -> SceneError {
        SceneError::Invalid {
            file: self.file.clone(),
            detail: detail.into(),
        }
    }

    /// Counts `bytes` more held for the scene (`what` names them), or refuses the scene when
    /// that takes it past [`MAX_SCENE_BYTES`].
    pub fn hold(&self, bytes: u64, what: impl FnOnce() -> String) -> Result<(), SceneError> {
        let held = self.held.get().saturating_add(bytes);
        if held > MAX_SCENE_BYTES {
            return Err(self.invalid(format!(
                "{} would take the scene's buffers and images to {} MiB in memory, past the \
                 {} MiB a scene may hold",
                what(),
                held >> 20,
                MAX_SCENE_BYTES >> 20
            )));
        }
        self.held.set(held);
        Ok(())
    }

    /// [`hold`](Self::hold) for `count` values of `T`.
    pub fn hold_values<T>(
        &self,
        count: usize,
        what: impl FnOnce() -> String,
    ) -> Result<(), SceneError> {
        self.hold((count as u64).saturating_mul(size_of::<T>() as u64), what)
    }

    /// Counts the `bytes` accessor `index`, without a bufferView, expands to, unless it was
    /// counted before (`what` names it), or refuses the scene past [`MAX_ZERO_FILLED_BYTES`].
    pub fn hold_zeros(
        &self,
        index: usize,
        bytes: u64,
        what: impl FnOnce() -> String,
    ) -> Result<(), SceneError> {
        if self.zero_filled_read.borrow().contains(&index) {
            return Ok(());
        }
        let zeros = self.zero_filled.get().saturating_add(bytes);
        if zeros > MAX_ZERO_FILLED_BYTES {
            return Err(self.invalid(format!(
                "{} would take the accessors without a bufferView to {} MiB of zeros, past the \
                 {} MiB a scene may expand to",
                what(),
                zeros >> 20,
                MAX_ZERO_FILLED_BYTES >> 20
            )));
        }
        self.zero_filled.set(zeros);
        self.zero_filled_read.borrow_mut().insert(index);
        Ok(())
    }

    /// The bytes of an external or `data:` URI.
    pub fn read_uri(&self, uri: &str) -> Result<Vec<u8>, SceneError> {
        read_uri(&self.file, self.base_dir.as_deref(), uri)
    }

    /// The bytes of a buffer view, checked against its buffer's real length.
    pub fn view_bytes(&self, view: &gltf::buffer::View) -> Result<&[u8], SceneError> {
        let index = view.buffer().index();
        let buffer = self
            .buffers
            .get(index)
            .ok_or_else(|| self.invalid(format!("buffer {index} is missing")))?;
        let end = view.offset().checked_add(view.length());
        end.and_then(|end| buffer.get(view.offset()..end))
            .ok_or_else(|| {
                self.invalid(format!(
                    "buffer {index} is {} bytes but bufferView {} needs {}",
                    buffer.len(),
                    view.index(),
                    end.map_or_else(|| "more".to_owned(), |e| e.to_string())
                ))
            })
    }

    fn load_buffers(&self, mut blob: Option<&[u8]>) -> Result<Vec<Vec<u8>>, SceneError> {
        let mut buffers = Vec::with_capacity(self.gltf.buffers().len());
        for buffer in self.gltf.buffers() {
            let data = match buffer.source() {
                gltf::buffer::Source::Bin => blob.take().map(<[u8]>::to_vec).ok_or_else(|| {
                    self.invalid(format!(
                        "buffer {} refers to the GLB binary chunk, which is missing",
                        buffer.index()
                    ))
                })?,
                gltf::buffer::Source::Uri(uri) => self.read_uri(uri)?,
            };
            self.hold(data.len() as u64, || format!("buffer {}", buffer.index()))?;
            if data.len() < buffer.length() {
                return Err(self.invalid(format!(
                    "buffer {} declares {} bytes but holds {}",
                    buffer.index(),
                    buffer.length(),
                    data.len()
                )));
            }
            buffers.push(data);
        }
        Ok(buffers)
    }
}

/// Refuses required extensions the renderer does not implement, and warns once about unknown
/// optional ones. Done before the gltf crate's validation so the message names the extension.
fn check_extensions(root: &gltf::json::Root, file: &str) -> Result<(), SceneError> {
    if let Some(extension) = root
        .extensions_required
        .iter()
        .find(|e| !SUPPORTED_EXTENSIONS.contains(&e.as_str()))
    {
        return Err(SceneError::UnsupportedExtension {
            file: file.to_owned(),
            extension: extension.clone(),
        });
    }
    for extension in &root.extensions_used {
        if !SUPPORTED_EXTENSIONS.contains(&extension.as_str()) {
            tracing::warn!("{file}: ignoring unsupported optional extension {extension}");
        }
    }
    Ok(())
}

/// gltf-json's validation indexes the POSITION accessor without checking it exists (it panics),
/// so that one reference is checked before validating.
fn check_position_references(root: &gltf::json::Root) -> Result<(), String> {
    let positions = gltf::json::validation::Checked::Valid(gltf::Semantic::Positions);
    for (m, mesh) in root.meshes.iter().enumerate() {
        for (p, primitive) in mesh.primitives.iter().enumerate() {
            let missing = primitive
                .attributes
                .get(&positions)
                .filter(|index| index.value() >= root.accessors.len());
            if let Some(index) = missing {
                return Err(format!(
                    "meshes[{m}].primitives[{p}].attributes.POSITION: accessor {} does not exist",
                    index.value()
                ));
            }
        }
    }
    Ok(())
}

/// One line for the user: schema validation can report hundreds of problems.
fn describe(error: gltf::Error) -> String {
    match error {
        gltf::Error::Validation(errors) => match errors.split_first() {
            Some(((path, problem), [])) => format!("{path}: {problem}"),
            Some(((path, problem), rest)) => {
                format!("{path}: {problem} (and {} more problems)", rest.len())
            }
            None => "validation failed".to_owned(),
        },
        other => other.to_string(),
    }
}

/// Splits a GLB container into its JSON chunk and optional BIN chunk. Written here rather than
/// using the gltf crate's reader so that any truncated or lying header is an error, not a panic.
fn split_glb(bytes: &[u8]) -> Result<(&[u8], Option<&[u8]>), &'static str> {
    let word = |at: usize| -> Option<u32> {
        let b = bytes.get(at..at.checked_add(4)?)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let version = word(4).ok_or("GLB header is truncated")?;
    if version != 2 {
        return Err("only GLB version 2 is supported");
    }
    let total = word(8).ok_or("GLB header is truncated")? as usize;
    if total > bytes.len() {
        return Err("GLB file is shorter than its header says (truncated?)");
    }
    let mut at = 12;
    let mut json = None;
    let mut bin = None;
    while at < total {
        let length = word(at).ok_or("GLB chunk header is truncated")? as usize;
        let kind = word(at + 4).ok_or("GLB chunk header is truncated")?;
        let start = at + 8;
        let data = start
            .checked_add(length)
            .filter(|&end| end <= total)
            .and_then(|end| bytes.get(start..end))
            .ok_or("GLB chunk runs past the end of the file (truncated?)")?;
        match kind {
            CHUNK_JSON if json.is_none() => json = Some(data),
            CHUNK_BIN if bin.is_none() && json.is_some() => bin = Some(data),
            CHUNK_JSON | CHUNK_BIN => return Err("GLB chunks are out of order or repeated"),
            _ => {} // Unknown chunks must be ignored, says the spec.
        }
        // Chunks are padded to 4 bytes.
        at = start + length.next_multiple_of(4);
    }
    Ok((json.ok_or("GLB has no JSON chunk")?, bin))
}
