//! Bytes behind a glTF URI: `data:` URIs, or files inside the scene's own folder. Scenes come
//! from users of the farm, so nothing may reach outside that folder or over a network.

use std::path::{Component, Path, PathBuf};

use base64::Engine;
use percent_encoding::percent_decode_str;

use super::SceneError;

/// The bytes a buffer or image URI names. `base_dir` is the scene's folder; `None` forbids files.
pub fn read_uri(file: &str, base_dir: Option<&Path>, uri: &str) -> Result<Vec<u8>, SceneError> {
    if let Some(rest) = uri.strip_prefix("data:") {
        return decode_data_uri(rest).map_err(|reason| forbidden(file, uri, reason));
    }
    let relative = uri_relative_path(uri).map_err(|reason| forbidden(file, uri, reason))?;
    let Some(base_dir) = base_dir else {
        return Err(forbidden(
            file,
            uri,
            "a scene sent alone must hold all its data; send it with the files it names in an archive (tessera submit does)",
        ));
    };
    let path = base_dir.join(&relative);
    // Symbolic links could still point outside the folder: compare the resolved paths.
    let read_error = |error| SceneError::ReadResource {
        file: file.to_owned(),
        path: relative.display().to_string(),
        error,
    };
    let resolved = path.canonicalize().map_err(read_error)?;
    let root = base_dir.canonicalize().map_err(read_error)?;
    if !resolved.starts_with(&root) {
        return Err(forbidden(file, uri, "it leads outside the scene's folder"));
    }
    read_plain_file(&resolved).map_err(read_error)
}

/// Refuses what is not a plain file: a pipe or a device (`/dev/zero`) named as a scene, a file
/// it names, an environment map or an upload would never end, and reading one hung (deaf to
/// Ctrl-C) or filled memory.
pub fn check_plain_file(path: &Path) -> std::io::Result<()> {
    if std::fs::metadata(path)?.is_file() {
        Ok(())
    } else {
        Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a plain file",
        ))
    }
}

/// The bytes of the plain file at `path` ([`check_plain_file`]).
pub fn read_plain_file(path: &Path) -> std::io::Result<Vec<u8>> {
    check_plain_file(path)?;
    std::fs::read(path)
}

fn forbidden(file: &str, uri: &str, reason: &'static str) -> SceneError {
    // Data URIs can be megabytes long: keep the message to one readable line.
    let shown: String = if uri.len() > 80 {
        format!("{}...", uri.chars().take(60).collect::<String>())
    } else {
        uri.to_owned()
    };
    SceneError::ForbiddenUri {
        file: file.to_owned(),
        uri: shown,
        reason,
    }
}

fn decode_data_uri(rest: &str) -> Result<Vec<u8>, &'static str> {
    let (header, payload) = rest.split_once(',').ok_or("data URI without a comma")?;
    if !header.ends_with(";base64") {
        return Err("only base64 data URIs are supported");
    }
    base64::engine::general_purpose::STANDARD
        .decode(payload.trim())
        .map_err(|_| "invalid base64 in data URI")
}

/// A glTF URI reference (percent-encoded) as a relative path that stays below the scene's
/// folder.
pub fn uri_relative_path(uri: &str) -> Result<PathBuf, &'static str> {
    if has_scheme(uri) {
        return Err("only relative paths and data: URIs are allowed");
    }
    let decoded = percent_decode_str(uri)
        .decode_utf8()
        .map_err(|_| "percent-encoding is not valid UTF-8")?;
    if decoded.is_empty() {
        return Err("empty URI");
    }
    relative_path(&decoded)
}

/// A file name as a relative path that stays below its folder: no absolute path, drive or
/// `..`. Backslashes are separators on Windows; they count as such everywhere, so that
/// "..\\secret" is refused on every platform.
pub fn relative_path(name: &str) -> Result<PathBuf, &'static str> {
    let name = name.replace('\\', "/");
    if name.is_empty() {
        return Err("the name is empty");
    }
    if name.starts_with('/') || has_scheme(&name) {
        return Err("absolute paths are not allowed");
    }
    let path = PathBuf::from(name);
    for component in path.components() {
        match component {
            Component::Normal(_) | Component::CurDir => {}
            Component::ParentDir => return Err("\"..\" would leave the scene's folder"),
            Component::RootDir | Component::Prefix(_) => {
                return Err("absolute paths are not allowed");
            }
        }
    }
    Ok(path)
}

/// Whether the reference starts with `scheme:` (RFC 3986), which also catches `C:` drives.
fn has_scheme(uri: &str) -> bool {
    let Some((scheme, _)) = uri.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_uri_decodes() {
        let bytes = read_uri("s.gltf", None, "data:application/octet-stream;base64,AAEC").unwrap();
        assert_eq!(bytes, vec![0, 1, 2]);
    }

    #[test]
    fn escapes_and_schemes_are_refused() {
        for uri in [
            "../secret.bin",
            "a/../../secret.bin",
            "%2E%2E/secret.bin",
            "..\\secret.bin",
            "/etc/passwd",
            "http://example.com/a.bin",
            "file:///etc/passwd",
            "C:/x.bin",
        ] {
            let dir = tempfile::tempdir().unwrap();
            let err = read_uri("s.gltf", Some(dir.path()), uri).unwrap_err();
            assert!(
                matches!(err, SceneError::ForbiddenUri { .. }),
                "{uri}: {err}"
            );
            assert!(err.to_string().starts_with("s.gltf: refusing URI"), "{err}");
        }
    }

    #[test]
    fn relative_files_are_read_percent_decoded() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub dir")).unwrap();
        std::fs::write(dir.path().join("sub dir/a b.bin"), [7u8, 8]).unwrap();
        let bytes = read_uri("s.gltf", Some(dir.path()), "sub%20dir/a%20b.bin").unwrap();
        assert_eq!(bytes, vec![7, 8]);
        let err = read_uri("s.gltf", None, "sub%20dir/a%20b.bin").unwrap_err();
        assert!(err.to_string().contains("must hold all its data"), "{err}");
    }
}
