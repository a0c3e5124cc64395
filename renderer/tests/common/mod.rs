//! Scenes built in code for the backend tests, and image statistics to compare renders.
#![allow(dead_code)] // each test binary uses its own part of this module

pub mod scenes;
pub mod stats;

use std::path::PathBuf;

/// `shared/` beside the repository (`../shared` from its root), or `TESSERA_SHARED_DIR` for a
/// checkout that lives elsewhere.
pub fn shared_dir() -> PathBuf {
    std::env::var_os("TESSERA_SHARED_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
        PathBuf::from,
    )
}
