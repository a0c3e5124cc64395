//! Why a scene could not be loaded or framed. Every message names the file and fits on one line,
//! since it is what a user sees when a job is refused. The operating system's reason is part of
//! the message, not a separate source, so an error chain does not print it twice.

#[derive(Debug, thiserror::Error)]
pub enum SceneError {
    #[error("{file}: cannot read: {error}")]
    Read { file: String, error: std::io::Error },

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

    /// `path` is the URI as a file name (percent-decoded).
    #[error("{file}: cannot read \"{path}\": {error}")]
    ReadResource {
        file: String,
        path: String,
        error: std::io::Error,
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
