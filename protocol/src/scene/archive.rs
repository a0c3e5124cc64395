//! A `.gltf` scene with its external files (buffers, images) as one tar archive, so that it can
//! be submitted and stored as one blob. Entries are plain files under relative paths; an entry
//! that would land outside the folder it is unpacked into (`..`, an absolute path, a link) is
//! refused, and the scene in it is then loaded with the loader's own base-folder rules.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use tessera_renderer::scene::{read_plain_file, relative_path, uri_relative_path};

use super::copy::{Failed, copy};

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("cannot read '{}'", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("'{}' is not valid glTF JSON: {message}", .path.display())]
    Json { path: PathBuf, message: String },
    #[error("scene file reference '{uri}' is refused: {reason}")]
    Reference { uri: String, reason: &'static str },
    #[error("scene archive entry '{entry}' is refused: {reason}")]
    Entry { entry: String, reason: &'static str },
    #[error("scene archive holds {0} .gltf/.glb files at its top level; it must hold exactly one")]
    SceneCount(usize),
    #[error("scene archive is not a valid tar archive: {0}")]
    Corrupt(std::io::Error),
    #[error("cannot unpack scene archive into '{}'", .path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Whether `bytes` are a tar archive (POSIX or GNU: `ustar` at offset 257).
pub fn is_archive(bytes: &[u8]) -> bool {
    bytes.get(257..262) == Some(b"ustar")
}

/// The files a `.gltf` document refers to by relative path (its `data:` URIs need nothing).
pub fn external_files(gltf: &Path, json: &[u8]) -> Result<Vec<PathBuf>, ArchiveError> {
    let doc: serde_json::Value = serde_json::from_slice(json).map_err(|e| ArchiveError::Json {
        path: gltf.to_owned(),
        message: e.to_string(),
    })?;
    let mut files = Vec::new();
    for list in ["buffers", "images"] {
        let entries = doc.get(list).and_then(|v| v.as_array());
        for uri in entries
            .into_iter()
            .flatten()
            .filter_map(|e| e.get("uri")?.as_str())
        {
            if uri.starts_with("data:") {
                continue;
            }
            // As the loader reads it: percent-decoded, and never outside the scene's folder.
            let path = uri_relative_path(uri).map_err(|reason| ArchiveError::Reference {
                uri: uri.to_owned(),
                reason,
            })?;
            if !files.contains(&path) {
                files.push(path);
            }
        }
    }
    Ok(files)
}

/// Where a job's environment map goes in its scene's archive, apart from the scene's own files.
pub const ENVIRONMENT_DIR: &str = "tessera-environment";

/// A tar archive of the scene at `gltf` (under its file name, `json` its bytes), the files it
/// refers to (relative to its folder), and `extra` files (each a name in the archive and the
/// file to read).
pub fn pack(
    gltf: &Path,
    json: &[u8],
    files: &[PathBuf],
    extra: &[(PathBuf, PathBuf)],
) -> Result<Vec<u8>, ArchiveError> {
    let dir = gltf.parent().unwrap_or(Path::new("."));
    let name = gltf
        .file_name()
        .map(PathBuf::from)
        .unwrap_or("scene.gltf".into());
    let mut builder = tar::Builder::new(Vec::new());
    let mut append = |name: &Path, bytes: &[u8]| {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        builder
            .append_data(&mut header, name, bytes)
            .map_err(|source| ArchiveError::Read {
                path: name.to_owned(),
                source,
            })
    };
    append(&name, json)?;
    let sources = files.iter().map(|f| (f.clone(), dir.join(f)));
    for (name, path) in sources.chain(extra.iter().cloned()) {
        let bytes = read_plain_file(&path).map_err(|source| ArchiveError::Read { path, source })?;
        append(&name, &bytes)?;
    }
    builder.into_inner().map_err(ArchiveError::Corrupt)
}

/// Unpacks the archive file at `archive` as [`unpack`] does. Its own read errors (a failing
/// disk) are told from a corrupt archive: they are not the submitter's fault.
pub fn unpack_file(archive: &Path, dir: &Path) -> Result<PathBuf, ArchiveError> {
    let read = |source| ArchiveError::Read {
        path: archive.to_owned(),
        source,
    };
    let file = std::fs::File::open(archive).map_err(read)?;
    unpack(Marked(std::io::BufReader::new(file)), dir).map_err(|e| match e {
        ArchiveError::Corrupt(e) if from_the_file(&e) => read(e),
        e => e,
    })
}

/// A reader whose errors carry a mark, wherever the tar reader passes them on.
struct Marked<R>(R);

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct FileFailed(std::io::Error);

impl<R: Read> Read for Marked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0
            .read(buf)
            .map_err(|e| std::io::Error::new(e.kind(), FileFailed(e)))
    }
}

/// Whether `e` is, or wraps, an error of a [`Marked`] reader.
fn from_the_file(e: &std::io::Error) -> bool {
    let mut at: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(error) = at {
        if error.is::<FileFailed>() {
            return true;
        }
        // An I/O error's `source` skips its payload, which is what may carry the mark.
        at = match error.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => error.source(),
        };
    }
    false
}

/// Unpacks the archive `archive` reads into the empty folder `dir`, an entry at a time, and
/// returns the path of the scene in it. Nothing is written outside `dir`; on error, `dir` may
/// hold some of the entries.
pub fn unpack(archive: impl Read, dir: &Path) -> Result<PathBuf, ArchiveError> {
    let mut entries = tar::Archive::new(archive);
    for entry in entries.entries().map_err(ArchiveError::Corrupt)? {
        let mut entry = entry.map_err(ArchiveError::Corrupt)?;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let refuse = |reason| ArchiveError::Entry {
            entry: raw.clone(),
            reason,
        };
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            continue;
        }
        if !kind.is_file() {
            return Err(refuse("only plain files are allowed"));
        }
        let path = relative_path(&raw).map_err(refuse)?;
        let target = dir.join(&path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|source| ArchiveError::Write {
                path: parent.to_owned(),
                source,
            })?;
        }
        let written = |source| ArchiveError::Write {
            path: target.clone(),
            source,
        };
        let mut file = std::fs::File::create(&target).map_err(written)?;
        copy(&mut entry, |piece| file.write_all(piece)).map_err(|failed| match failed {
            Failed::Reading(e) => ArchiveError::Corrupt(e),
            Failed::Storing(e) => written(e),
        })?;
    }
    scene_in(dir)
}

/// The one `.gltf` or `.glb` file at the top of the unpacked archive `dir`. Checking a
/// submission and finding its scene for a render both ask this, so that they cannot disagree
/// (entries named `a.gltf` and `./a.gltf` once counted as one file here and two there).
pub fn scene_in(dir: &Path) -> Result<PathBuf, ArchiveError> {
    let read = |source| ArchiveError::Read {
        path: dir.to_owned(),
        source,
    };
    let mut scenes = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read)? {
        let path = entry.map_err(read)?.path();
        if path.is_file()
            && matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("gltf" | "glb")
            )
        {
            scenes.push(path);
        }
    }
    match <[PathBuf; 1]>::try_from(scenes) {
        Ok([scene]) => Ok(scene),
        Err(scenes) => Err(ArchiveError::SceneCount(scenes.len())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use tessera_renderer::scene::Scene;

    /// The Cornell box with its buffer moved out into `bin/cornell.bin`.
    fn external_cornell(dir: &Path) -> PathBuf {
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenes/cornell-box.gltf");
        let mut doc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(source).unwrap()).unwrap();
        let uri = doc["buffers"][0]["uri"].as_str().unwrap().to_owned();
        let data = base64::engine::general_purpose::STANDARD
            .decode(uri.split_once(",").unwrap().1)
            .unwrap();
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        std::fs::write(dir.join("bin/cornell.bin"), data).unwrap();
        doc["buffers"][0]["uri"] = "bin/cornell.bin".into();
        let gltf = dir.join("cornell.gltf");
        std::fs::write(&gltf, doc.to_string()).unwrap();
        gltf
    }

    fn archive_of(gltf: &Path) -> Vec<u8> {
        let json = std::fs::read(gltf).unwrap();
        let files = external_files(gltf, &json).unwrap();
        assert_eq!(files, [PathBuf::from("bin/cornell.bin")]);
        pack(gltf, &json, &files, &[]).unwrap()
    }

    #[test]
    fn a_packed_scene_unpacks_and_loads_like_the_original() {
        let src = tempfile::tempdir().unwrap();
        let gltf = external_cornell(src.path());
        let archive = archive_of(&gltf);
        assert!(is_archive(&archive));
        assert!(!is_archive(&std::fs::read(&gltf).unwrap()));

        let dst = tempfile::tempdir().unwrap();
        let scene = unpack(&archive[..], dst.path()).unwrap();
        assert_eq!(scene, dst.path().join("cornell.gltf"));
        assert_eq!(
            Scene::load(&scene).unwrap().triangle_count(),
            Scene::load(&gltf).unwrap().triangle_count()
        );
    }

    #[test]
    fn references_outside_the_scene_folder_are_refused() {
        for uri in ["../secret.bin", "/etc/passwd", "C:/x.bin", "a/../../b.bin"] {
            let json = serde_json::json!({"buffers": [{"uri": uri, "byteLength": 4}]});
            let err = external_files(Path::new("s.gltf"), json.to_string().as_bytes()).unwrap_err();
            assert!(
                matches!(err, ArchiveError::Reference { .. }),
                "{uri}: {err}"
            );
            assert!(err.to_string().contains(uri), "{err}");
        }
    }

    /// A tar whose single entry has exactly `name`, which `tar::Builder` itself would refuse.
    fn archive_with_entry(name: &str) -> Vec<u8> {
        archive_with_entries(&[name])
    }

    /// A tar with an entry of exactly each of `names`, in order.
    fn archive_with_entries(names: &[&str]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for name in names {
            let mut header = tar::Header::new_gnu();
            header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
            header.set_size(4);
            header.set_mode(0o644);
            header.set_cksum();
            builder.append(&header, &b"evil"[..]).unwrap();
        }
        builder.into_inner().unwrap()
    }

    #[test]
    fn entries_escaping_the_folder_are_refused_and_not_written() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("unpacked");
        std::fs::create_dir(&dir).unwrap();
        for name in ["../evil.gltf", "/tmp/evil.gltf", "a/../../evil.gltf"] {
            let err = unpack(&archive_with_entry(name)[..], &dir).unwrap_err();
            assert!(matches!(err, ArchiveError::Entry { .. }), "{name}: {err}");
            assert!(err.to_string().contains(name), "{err}");
        }
        assert!(!root.path().join("evil.gltf").exists());
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    }

    #[test]
    fn a_file_that_cannot_be_read_is_no_corrupt_archive() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        // A folder opens as a file on Linux, and fails to read as a failing disk would.
        let err = unpack_file(dir.path(), &out).unwrap_err();
        assert!(matches!(err, ArchiveError::Read { .. }), "{err:?}");
        let junk = dir.path().join("junk.tar");
        std::fs::write(&junk, [7u8; 2048]).unwrap();
        let err = unpack_file(&junk, &out).unwrap_err();
        assert!(matches!(err, ArchiveError::Corrupt(_)), "{err:?}");
    }

    #[test]
    fn an_archive_must_hold_exactly_one_scene() {
        let dir = tempfile::tempdir().unwrap();
        let err = unpack(&archive_with_entry("notes.txt")[..], dir.path()).unwrap_err();
        assert!(matches!(err, ArchiveError::SceneCount(0)), "{err}");
        let err = unpack(&b"not a tar archive at all"[..], dir.path()).unwrap_err();
        assert!(!err.to_string().is_empty());
        // `./b.gltf` is as much at the top as `a.gltf`: a render would find two scenes here.
        let dir = tempfile::tempdir().unwrap();
        let two = archive_with_entries(&["a.gltf", "./b.gltf"]);
        let err = unpack(&two[..], dir.path()).unwrap_err();
        assert!(matches!(err, ArchiveError::SceneCount(2)), "{err}");
    }
}
