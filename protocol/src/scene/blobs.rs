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

    /// The file to load the scene of `hash` from: the blob itself, or for a scene archive the
    /// scene in the folder it is unpacked into (once, beside the blob).
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
        if !archive::is_archive(&head) {
            return Ok(blob);
        }
        let dir = self.dir.join(format!("{hash}.d"));
        if !dir.is_dir() {
            let bytes = std::fs::read(&blob).map_err(io(&blob))?;
            // Unpacked aside and renamed, so a folder under its final name is complete.
            let tmp = tempfile::tempdir_in(&self.dir).map_err(io(&self.dir))?;
            archive::unpack(&bytes, tmp.path())?;
            if let Err(e) = std::fs::rename(tmp.path(), &dir)
                && !dir.is_dir()
            {
                return Err(io(&dir)(e));
            }
        }
        Ok(archive::scene_in(&dir)?)
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
