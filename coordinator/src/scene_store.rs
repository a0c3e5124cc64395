//! Content-addressed scene blobs: a scene is stored, fetched and cached under the SHA-256 of its
//! bytes, so a worker can check that what it received is what the coordinator validated.

use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::scene_archive::{self, ArchiveError};

#[derive(Debug, thiserror::Error)]
pub enum SceneStoreError {
    #[error("'{0}' is not a scene hash: expected 64 lowercase hex digits")]
    BadHash(String),
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
}

/// The SHA-256 of a scene blob.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SceneHash([u8; 32]);

impl SceneHash {
    pub fn of(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }
}

impl fmt::Display for SceneHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for SceneHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SceneHash({self})")
    }
}

impl FromStr for SceneHash {
    type Err = SceneStoreError;
    fn from_str(s: &str) -> Result<Self, SceneStoreError> {
        let bad = || SceneStoreError::BadHash(s.chars().take(80).collect());
        if s.len() != 64 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
        }
        Ok(Self(out))
    }
}

impl TryFrom<String> for SceneHash {
    type Error = SceneStoreError;
    fn try_from(s: String) -> Result<Self, SceneStoreError> {
        s.parse()
    }
}

impl From<SceneHash> for String {
    fn from(h: SceneHash) -> String {
        h.to_string()
    }
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
        if !scene_archive::is_archive(&head) {
            return Ok(blob);
        }
        let dir = self.dir.join(format!("{hash}.d"));
        if !dir.is_dir() {
            let bytes = std::fs::read(&blob).map_err(io(&blob))?;
            // Unpacked aside and renamed, so a folder under its final name is complete.
            let tmp = tempfile::tempdir_in(&self.dir).map_err(io(&self.dir))?;
            scene_archive::unpack(&bytes, tmp.path())?;
            if let Err(e) = std::fs::rename(tmp.path(), &dir)
                && !dir.is_dir()
            {
                return Err(io(&dir)(e));
            }
        }
        let mut scenes = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
            let path = entry.map_err(io(&dir))?.path();
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
            Err(scenes) => Err(ArchiveError::SceneCount(scenes.len()).into()),
        }
    }

    pub fn contains(&self, hash: SceneHash) -> bool {
        self.path(hash).is_file()
    }

    /// Stores `bytes` and returns their hash. Written to a temporary file and renamed, so a
    /// blob under its hash is always complete.
    pub fn put(&self, bytes: &[u8]) -> Result<SceneHash, SceneStoreError> {
        let hash = SceneHash::of(bytes);
        self.put_verified(hash, bytes)?;
        Ok(hash)
    }

    /// Stores `bytes` that must hash to `expected` (a blob from elsewhere).
    pub fn put_checked(&self, expected: SceneHash, bytes: &[u8]) -> Result<(), SceneStoreError> {
        let actual = SceneHash::of(bytes);
        if actual != expected {
            return Err(SceneStoreError::HashMismatch { expected, actual });
        }
        self.put_verified(expected, bytes)
    }

    fn put_verified(&self, hash: SceneHash, bytes: &[u8]) -> Result<(), SceneStoreError> {
        let path = self.path(hash);
        if path.is_file() {
            return Ok(());
        }
        let io = |source| SceneStoreError::Io {
            path: path.clone(),
            source,
        };
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir).map_err(io)?;
        tmp.write_all(bytes).map_err(io)?;
        tmp.persist(&path).map_err(|e| io(e.error))?;
        Ok(())
    }

    pub fn read(&self, hash: SceneHash) -> Result<Vec<u8>, SceneStoreError> {
        let path = self.path(hash);
        std::fs::read(&path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => SceneStoreError::Missing(hash),
            _ => SceneStoreError::Io { path, source },
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_are_stored_under_their_sha256() {
        let dir = tempfile::tempdir().unwrap();
        let store = SceneStore::open(dir.path().join("scenes")).unwrap();
        let hash = store.put(b"abc").unwrap();
        assert_eq!(
            hash.to_string(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(hash.to_string().parse::<SceneHash>().unwrap(), hash);
        assert_eq!(store.read(hash).unwrap(), b"abc");
        assert!(store.contains(hash));
        assert!(matches!(
            store.read(SceneHash::of(b"other")),
            Err(SceneStoreError::Missing(_))
        ));
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

    #[test]
    fn malformed_hashes_are_refused() {
        for bad in [
            "",
            "abc",
            &"g".repeat(64),
            &"A".repeat(64),
            "../../etc/passwd",
        ] {
            assert!(bad.parse::<SceneHash>().is_err(), "{bad}");
        }
    }
}
