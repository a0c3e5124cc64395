//! Content-addressed scene blobs: a folder of scenes stored under their hash. The coordinator
//! keeps the farm's scenes in one (the source of truth); workers cache what they fetch in one.

use std::io::Read;
use std::path::{Path, PathBuf};

use tessera_renderer::output::{Durability, OutputError, copy_file, write_file};

use super::archive::{self, ArchiveError};
use super::hash::SceneHash;

#[derive(Debug, thiserror::Error)]
pub enum SceneStoreError {
    #[error("no scene with hash {0}")]
    Missing(SceneHash),
    #[error("scene blob does not match its hash: expected {expected}, got {actual}")]
    HashMismatch {
        expected: SceneHash,
        actual: SceneHash,
    },
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    #[error("scene store I/O on '{}'", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Write(#[from] OutputError),
}

/// The name of a scene stored alone in its folder (the loader tells `.glb` from `.gltf` by
/// their bytes).
const ALONE: &str = "scene";

/// A folder of blobs named by their hash. Used by the coordinator (the source of truth) and by
/// workers (a cache filled over HTTP).
#[derive(Clone, Debug)]
pub struct SceneStore {
    dir: PathBuf,
}

impl SceneStore {
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, SceneStoreError> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|source| SceneStoreError::Io {
            path: dir.clone(),
            source,
        })?;
        Ok(Self { dir })
    }

    /// Where the blob of `hash` is (or would be).
    pub fn path(&self, hash: SceneHash) -> PathBuf {
        self.dir.join(format!("{hash}.scene"))
    }

    /// The file to load the scene of `hash` from, in a folder of its own beside the blob
    /// (made once): for a scene archive the scene in the folder it is unpacked into, for a
    /// scene stored alone the blob linked into a folder holding nothing else. A file the scene
    /// names then resolves inside that folder, never to another job's blob in this store.
    pub fn scene_file(&self, hash: SceneHash) -> Result<PathBuf, SceneStoreError> {
        let blob = self.path(hash);
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| SceneStoreError::Io { path, source }
        };
        // The header is enough to tell: a large .glb is not read for every tile.
        let mut head = Vec::with_capacity(512);
        std::fs::File::open(&blob)
            .and_then(|f| f.take(512).read_to_end(&mut head))
            .map_err(io(&blob))?;
        let packed = archive::is_archive(&head);
        let dir = self.dir.join(format!("{hash}.d"));
        if !dir.is_dir() {
            // Made aside and renamed, so a folder under its final name is complete.
            let tmp = tempfile::tempdir_in(&self.dir).map_err(io(&self.dir))?;
            if packed {
                let bytes = std::fs::read(&blob).map_err(io(&blob))?;
                archive::unpack(&bytes, tmp.path())?;
            } else {
                let alone = tmp.path().join(ALONE);
                std::fs::hard_link(&blob, &alone)
                    .or_else(|_| std::fs::copy(&blob, &alone).map(drop))
                    .map_err(io(&alone))?;
            }
            if let Err(e) = std::fs::rename(tmp.path(), &dir)
                && !dir.is_dir()
            {
                return Err(io(&dir)(e));
            }
        }
        if packed {
            Ok(archive::scene_in(&dir)?)
        } else {
            Ok(dir.join(ALONE))
        }
    }

    pub fn contains(&self, hash: SceneHash) -> bool {
        self.path(hash).is_file()
    }

    /// Stores the file at `source`, whose hash the caller has taken (`SceneHash::of_file`: a
    /// submission is hashed once, for its quota and its name here). A blob under its hash is
    /// always complete, and on disk before this returns: a job recorded after it can rely on
    /// its scene.
    pub fn put_file(&self, source: &Path, hash: SceneHash) -> Result<(), SceneStoreError> {
        let path = self.path(hash);
        if !path.is_file() {
            copy_file(source, &path, Durability::CrashSafe)?;
        }
        Ok(())
    }

    /// Stores `bytes` that must hash to `expected` (a blob from elsewhere).
    pub fn put_checked(&self, expected: SceneHash, bytes: &[u8]) -> Result<(), SceneStoreError> {
        let actual = SceneHash::of(bytes);
        if actual != expected {
            return Err(SceneStoreError::HashMismatch { expected, actual });
        }
        let path = self.path(expected);
        if !path.is_file() {
            write_file(&path, bytes, Durability::CrashSafe)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_are_stored_under_their_sha256() {
        let dir = tempfile::tempdir().unwrap();
        let store = SceneStore::open(dir.path().join("scenes")).unwrap();
        let source = dir.path().join("abc.glb");
        std::fs::write(&source, b"abc").unwrap();
        let hash = SceneHash::of_file(&source).unwrap();
        store.put_file(&source, hash).unwrap();
        assert_eq!(
            hash.to_string(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(hash.to_string().parse::<SceneHash>().unwrap(), hash);
        assert_eq!(std::fs::read(store.path(hash)).unwrap(), b"abc");
        assert!(store.contains(hash));
        assert!(!store.contains(SceneHash::of(b"other")));
    }

    #[test]
    fn a_scene_stored_alone_reaches_no_other_blob() {
        let dir = tempfile::tempdir().unwrap();
        let store = SceneStore::open(dir.path()).unwrap();
        let other = b"another job's scene";
        let victim = SceneHash::of(other);
        store.put_checked(victim, other).unwrap();
        // A buffer naming the other blob as the store keeps it, beside this scene's own blob.
        let gltf = format!(
            r#"{{"asset":{{"version":"2.0"}},"buffers":[{{"uri":"{victim}.scene","byteLength":19}}]}}"#
        );
        let hash = SceneHash::of(gltf.as_bytes());
        store.put_checked(hash, gltf.as_bytes()).unwrap();
        let file = store.scene_file(hash).unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), gltf.as_bytes());
        let folder: Vec<_> = std::fs::read_dir(file.parent().unwrap()).unwrap().collect();
        assert_eq!(folder.len(), 1, "the scene is alone in its folder");
        let Err(e) = tessera_renderer::scene::Scene::load(&file) else {
            panic!("the scene read another job's blob");
        };
        assert!(e.to_string().contains(&format!("{victim}.scene")), "{e}");
        assert_eq!(store.scene_file(hash).unwrap(), file, "made once");
    }

    #[test]
    fn a_blob_that_does_not_match_its_hash_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = SceneStore::open(dir.path()).unwrap();
        let expected = SceneHash::of(b"scene");
        let err = store.put_checked(expected, b"tampered").unwrap_err();
        assert!(matches!(err, SceneStoreError::HashMismatch { .. }), "{err}");
        assert!(!store.contains(expected));
        store.put_checked(expected, b"scene").unwrap();
        assert!(store.contains(expected));
    }
}
