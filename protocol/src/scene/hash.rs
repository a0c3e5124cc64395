//! Scenes are named by the SHA-256 of their bytes, so a worker can check that what it received is
//! what the coordinator validated.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("'{0}' is not a scene hash: expected 64 lowercase hex digits")]
pub struct BadSceneHash(String);

/// The SHA-256 of a scene blob.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SceneHash([u8; 32]);

impl SceneHash {
    pub fn of(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }

    /// The hash of the file at `path`, read in pieces.
    pub fn of_file(path: &Path) -> std::io::Result<Self> {
        let mut file = std::fs::File::open(path)?;
        let mut hasher = Sha256::new();
        std::io::copy(&mut file, &mut hasher)?;
        Ok(Self(hasher.finalize().into()))
    }
}

/// The hash of bytes that arrive in pieces (a download on its way to disk).
#[derive(Default)]
pub struct SceneHasher(Sha256);

impl SceneHasher {
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    pub fn finish(self) -> SceneHash {
        SceneHash(self.0.finalize().into())
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
    type Err = BadSceneHash;
    fn from_str(s: &str) -> Result<Self, BadSceneHash> {
        let bad = || BadSceneHash(s.chars().take(80).collect());
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
    type Error = BadSceneHash;
    fn try_from(s: String) -> Result<Self, BadSceneHash> {
        s.parse()
    }
}

impl From<SceneHash> for String {
    fn from(h: SceneHash) -> String {
        h.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
