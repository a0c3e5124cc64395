//! Scenes as the farm moves them: named by their hash, kept as blobs, and sent as one file
//! (a `.glb`, a self-contained `.gltf`, or an archive of a `.gltf` and the files beside it).

pub mod archive;
pub mod blobs;
mod copy;
pub mod hash;

pub use blobs::{SceneStore, SceneStoreError};
pub use hash::{BadSceneHash, SceneHash};
