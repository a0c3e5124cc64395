//! Where frames are written: a path whose run of `#` becomes the frame number.

use std::path::{Path, PathBuf};

use tessera_protocol::job::{FrameSet, JobError};
use tessera_renderer::output::{Format, OutputError};

/// Where frames are written. The last run of `#` in the file name becomes the zero-padded frame
/// number, as in Blender (`out/frame_####.exr` -> `out/frame_0007.exr`); without one the path is
/// used as is, which only makes sense for a single frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputPattern {
    path: PathBuf,
    placeholder: Option<Placeholder>,
}

/// The byte range of the `#` run within the file name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Placeholder {
    start: usize,
    width: usize,
}

impl OutputPattern {
    /// Checks that the format is known and that every frame of `frames` gets its own file.
    pub fn new(path: impl Into<PathBuf>, frames: &FrameSet) -> Result<Self, PatternError> {
        let path = path.into();
        Format::from_path(&path)?;
        let name = path.file_name().unwrap_or_default();
        // A lossy conversion keeps every '#': it only tells whether the name has one.
        if name.to_str().is_none() && name.to_string_lossy().contains('#') {
            return Err(PatternError::NotUtf8 {
                path: path.display().to_string(),
            });
        }
        let placeholder = name.to_str().and_then(|name| {
            let end = name.rfind('#')? + 1;
            let start = name[..end].trim_end_matches('#').len();
            Some(Placeholder {
                start,
                width: end - start,
            })
        });
        if placeholder.is_none() && frames.len() > 1 {
            return Err(PatternError::Job(JobError::MissingFramePlaceholder {
                path: path.display().to_string(),
                frames: frames.len(),
            }));
        }
        Ok(Self { path, placeholder })
    }

    /// The file for `frame`.
    pub fn path_for(&self, frame: u32) -> PathBuf {
        let Some(p) = self.placeholder else {
            return self.path.clone();
        };
        // `new` found the placeholder in a UTF-8 file name, so these cannot fail.
        let name = self.path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let file = format!(
            "{}{:0width$}{}",
            &name[..p.start],
            frame,
            &name[p.start + p.width..],
            width = p.width
        );
        self.path.with_file_name(file)
    }

    /// The pattern as given.
    pub fn as_path(&self) -> &Path {
        &self.path
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PatternError {
    #[error(transparent)]
    Job(#[from] JobError),
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error("output '{path}': a file name with '#' for the frame number must be UTF-8")]
    NotUtf8 { path: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_pattern_pads_the_last_hash_run() {
        let many: FrameSet = "1-200".parse().unwrap();
        let p = OutputPattern::new("out#/frame_####.exr", &many).unwrap();
        assert_eq!(p.path_for(7), Path::new("out#/frame_0007.exr"));
        assert_eq!(p.path_for(123456), Path::new("out#/frame_123456.exr"));
        let p = OutputPattern::new("a#b##.png", &many).unwrap();
        assert_eq!(p.path_for(5), Path::new("a#b05.png"));
        let one: FrameSet = "3".parse().unwrap();
        let p = OutputPattern::new("still.exr", &one).unwrap();
        assert_eq!(p.path_for(3), Path::new("still.exr"));
        assert_eq!(p.as_path(), Path::new("still.exr"));
    }

    #[test]
    fn output_pattern_needs_a_placeholder_for_several_frames() {
        let two: FrameSet = "1,2".parse().unwrap();
        let err = OutputPattern::new("out/frame.exr", &two).unwrap_err();
        assert!(err.to_string().contains("no '#'"), "{err}");
        let err = OutputPattern::new("out#/frame.exr", &two).unwrap_err();
        assert!(matches!(err, PatternError::Job(_)), "{err}");
        let err = OutputPattern::new("frame_##.jpg", &two).unwrap_err();
        assert!(matches!(err, PatternError::Output(_)), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn a_placeholder_in_a_name_that_is_not_utf8_is_refused() {
        use std::ffi::OsStr;
        use std::os::unix::ffi::OsStrExt;

        let two: FrameSet = "1,2".parse().unwrap();
        let one: FrameSet = "1".parse().unwrap();
        let hashed = Path::new("out").join(OsStr::from_bytes(b"f\xff_##.exr"));
        for frames in [&two, &one] {
            let err = OutputPattern::new(&hashed, frames).unwrap_err();
            assert!(matches!(err, PatternError::NotUtf8 { .. }), "{err}");
            assert!(err.to_string().contains("must be UTF-8"), "{err}");
        }
        // Without a '#', such a name is used as it is, for one frame.
        let plain = Path::new("out").join(OsStr::from_bytes(b"f\xff.exr"));
        assert_eq!(OutputPattern::new(&plain, &one).unwrap().path_for(1), plain);
        let err = OutputPattern::new(&plain, &two).unwrap_err();
        assert!(err.to_string().contains("no '#'"), "{err}");
    }
}
