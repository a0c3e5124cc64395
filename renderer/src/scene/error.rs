//! Why a scene could not be loaded or framed. Every message names the file and fits on one line,
//! since it is what a user sees when a job is refused.

#[derive(Debug, thiserror::Error)]
pub enum SceneError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },

    /// The JSON, the GLB container or the glTF schema is broken.
    #[error("{file}: not a valid glTF 2.0 file: {detail}")]
    Malformed { file: String, detail: String },

    #[error("{file} requires unsupported extension {extension}")]
    UnsupportedExtension { file: String, extension: String },

    /// The document is well formed but its data is inconsistent (ranges, counts, values).
    #[error("{file}: {detail}")]
    Invalid { file: String, detail: String },

    /// A buffer or image URI that would read outside the scene's folder, or over a network.
    #[error("{file}: refusing URI \"{uri}\": {reason}")]
    ForbiddenUri {
        file: String,
        uri: String,
        reason: &'static str,
    },

    #[error("{file}: cannot read \"{uri}\": {source}")]
    ReadResource {
        file: String,
        uri: String,
        #[source]
        source: std::io::Error,
    },

    #[error("{file}: image {index}: {detail}")]
    Image {
        file: String,
        index: usize,
        detail: String,
    },

    #[error("{file}: scene has no camera")]
    NoCamera { file: String },

    #[error("{file}: no camera named \"{name}\" (available: {available})")]
    UnknownCamera {
        file: String,
        name: String,
        available: String,
    },
}
