//! Writing frames: multi-layer OpenEXR, or a tone-mapped 8-bit sRGB PNG preview; and writing any
//! file the same safe way ([`write_file`]), as the farm stores tiles and scenes.
//!
//! Every write goes to a temporary file beside the target and is renamed into place only once
//! complete, so a failed or interrupted write never leaves a truncated frame that a compositor
//! (or a farm's "already rendered" check) would mistake for a good one.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use exr::prelude::{
    AnyChannel, AnyChannels, Compression, Encoding, FlatSamples, Image, Layer, LayerAttributes,
    LineOrder, SmallVec, WritableImage,
};
use image::{ExtendedColorType, ImageEncoder, codecs::png::PngEncoder};

use crate::film::FrameImage;
use crate::transcendental;

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("cannot write '{}': unknown image format (use a .exr or .png file name)", .path.display())]
    UnknownFormat { path: PathBuf },
    #[error("cannot write '{}'", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write EXR '{}'", .path.display())]
    Exr {
        path: PathBuf,
        #[source]
        source: exr::error::Error,
    },
    #[error("cannot write PNG '{}'", .path.display())]
    Png {
        path: PathBuf,
        #[source]
        source: image::ImageError,
    },
    #[error("cannot write '{}': the image has {found} pixels in a buffer, expected {expected}", .path.display())]
    Inconsistent {
        path: PathBuf,
        expected: usize,
        found: usize,
    },
}

/// The file formats frames can be written in, chosen by file extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Linear 32-bit float beauty and AOVs: what compositing needs.
    Exr,
    /// An 8-bit sRGB preview of the beauty pass.
    Png,
}

impl Format {
    /// The format named by `path`'s extension (case-insensitive).
    pub fn from_path(path: &Path) -> Result<Format, OutputError> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("exr") => Ok(Format::Exr),
            Some("png") => Ok(Format::Png),
            _ => Err(OutputError::UnknownFormat { path: path.into() }),
        }
    }
}

/// Writes `frame` to `path` in the format its extension names.
pub fn write_frame(path: &Path, frame: &FrameImage) -> Result<(), OutputError> {
    match Format::from_path(path)? {
        Format::Exr => write_exr(path, frame),
        Format::Png => write_png(path, frame),
    }
}

/// Checks, before any rendering, that a frame could be written at `path`: the format is known
/// and a file can be created in its folder. Hours of rendering should not end in "cannot write".
pub fn check_writable(path: &Path) -> Result<(), OutputError> {
    Format::from_path(path)?;
    check_not_a_folder(path)?;
    temp_file_for(path).map(drop)
}

/// Checks that no folder is where a frame's file would go: one stat, for the frames after the
/// first of a sequence ([`check_writable`] tries the first), which would otherwise fail only
/// once the frames before them had rendered.
pub fn check_not_a_folder(path: &Path) -> Result<(), OutputError> {
    // `out.exr/` has the extension of its last component, but no file can be written there.
    if path.is_dir()
        || path
            .to_string_lossy()
            .ends_with(['/', std::path::MAIN_SEPARATOR])
    {
        return Err(OutputError::Io {
            path: path.into(),
            source: std::io::Error::new(std::io::ErrorKind::IsADirectory, "it is a directory"),
        });
    }
    Ok(())
}

/// Writes the beauty pass as `R`,`G`,`B`,`A` and the AOVs as the layers `albedo.{R,G,B}`,
/// `normal.{X,Y,Z}` and `depth.Z`, all 32-bit float, ZIP-compressed scan lines.
pub fn write_exr(path: &Path, frame: &FrameImage) -> Result<(), OutputError> {
    check_buffers(path, frame)?;
    let px = &frame.pixels;
    let channel = |name: &str, values: Vec<f32>| AnyChannel::new(name, FlatSamples::F32(values));
    let color = |i: usize| px.color.iter().map(|c| c[i]).collect::<Vec<_>>();
    let albedo = |i: usize| px.albedo.iter().map(|c| c[i]).collect::<Vec<_>>();
    let normal = |i: usize| px.normal.iter().map(|c| c[i]).collect::<Vec<_>>();
    let channels: SmallVec<[AnyChannel<FlatSamples>; 4]> = SmallVec::from_vec(vec![
        channel("R", color(0)),
        channel("G", color(1)),
        channel("B", color(2)),
        channel("A", color(3)),
        channel("albedo.R", albedo(0)),
        channel("albedo.G", albedo(1)),
        channel("albedo.B", albedo(2)),
        channel("normal.X", normal(0)),
        channel("normal.Y", normal(1)),
        channel("normal.Z", normal(2)),
        channel("depth.Z", px.depth.clone()),
    ]);
    let res = frame.resolution();
    // One part with dotted channel names: the classic layer layout that every OpenEXR reader
    // (exrheader, Blender, Nuke) understands, unlike multi-part files.
    let encoding = Encoding {
        compression: Compression::ZIP16,
        blocks: exr::image::Blocks::ScanLines,
        line_order: LineOrder::Increasing,
    };
    let layer = Layer::new(
        (res.width() as usize, res.height() as usize),
        LayerAttributes::default(),
        encoding,
        AnyChannels::sort(channels),
    );
    write_with(path, Durability::CrashSafe, |file| {
        Image::from_layer(layer)
            .write()
            .to_buffered(file)
            .map_err(|source| OutputError::Exr {
                path: path.into(),
                source,
            })
    })
}

/// Writes an 8-bit sRGB preview: linear colour clamped to [0, 1], then the sRGB transfer
/// function; alpha is opaque so viewers do not show the background through misses.
pub fn write_png(path: &Path, frame: &FrameImage) -> Result<(), OutputError> {
    check_buffers(path, frame)?;
    let res = frame.resolution();
    write_with(path, Durability::CrashSafe, |file| {
        encode_png(file, res.width(), res.height(), &frame.pixels.color).map_err(|source| {
            OutputError::Png {
                path: path.into(),
                source,
            }
        })
    })
}

/// Linear colours, row by row, as an 8-bit sRGB PNG (clamped, opaque): what `.png` outputs and
/// previews show.
pub fn encode_png(
    out: impl std::io::Write,
    width: u32,
    height: u32,
    color: &[[f32; 4]],
) -> Result<(), image::ImageError> {
    let bytes: Vec<u8> = color
        .iter()
        .flat_map(|c| [srgb_8bit(c[0]), srgb_8bit(c[1]), srgb_8bit(c[2]), 255])
        .collect();
    PngEncoder::new(out).write_image(&bytes, width, height, ExtendedColorType::Rgba8)
}

/// Linear radiance to an 8-bit sRGB code value. NaN (a numerical accident upstream) maps to 0
/// rather than poisoning the preview.
fn srgb_8bit(linear: f32) -> u8 {
    let v = if linear.is_nan() {
        0.0
    } else {
        linear.clamp(0.0, 1.0)
    };
    let encoded = if v <= 0.003_130_8 {
        12.92 * v
    } else {
        1.055 * transcendental::powf(v, 1.0 / 2.4) - 0.055
    };
    (encoded * 255.0 + 0.5) as u8
}

fn check_buffers(path: &Path, frame: &FrameImage) -> Result<(), OutputError> {
    let expected = frame.resolution().pixel_count();
    frame
        .pixels
        .check_len(expected)
        .map_err(|found| OutputError::Inconsistent {
            path: path.into(),
            expected,
            found,
        })
}

/// A hidden temporary file in `path`'s folder: the same file system, so the final rename is
/// atomic. It deletes itself when dropped unless persisted.
fn temp_file_for(path: &Path) -> Result<tempfile::NamedTempFile, OutputError> {
    let io_error = |source| OutputError::Io {
        path: path.into(),
        source,
    };
    let dir = folder_of(path);
    let name = path.file_name().ok_or_else(|| {
        io_error(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the path has no file name",
        ))
    })?;
    let mut prefix = std::ffi::OsString::from(".");
    prefix.push(name);
    prefix.push(".");
    // Checked first for the OS's own message: tempfile's errors name its random file instead.
    if !std::fs::metadata(dir).map_err(io_error)?.is_dir() {
        return Err(io_error(std::io::Error::new(
            std::io::ErrorKind::NotADirectory,
            format!("'{}' is not a directory", dir.display()),
        )));
    }
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    // Temporary files are private (0600) by default; a finished frame should get the usual
    // permissions of a new file, i.e. 0666 less the umask.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    builder.tempfile_in(dir).map_err(|e| {
        let kind = e.kind();
        io_error(std::io::Error::new(
            kind,
            format!("cannot create a file in '{}' ({kind})", dir.display()),
        ))
    })
}

/// Whether a written file must survive a crash of the machine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// The file and its name are on disk before the write returns: anything a farm records as
    /// done, and every frame a user asked for.
    #[default]
    CrashSafe,
    /// Left for the OS to write back: files thrown away when the process ends, where waiting for
    /// the disk would cost more than the work.
    Throwaway,
}

/// Writes `bytes` to `path` as frames are written: complete under its name, or not there.
pub fn write_file(path: &Path, bytes: &[u8], durability: Durability) -> Result<(), OutputError> {
    write_with(path, durability, |file| {
        file.write_all(bytes).map_err(|source| OutputError::Io {
            path: path.into(),
            source,
        })
    })
}

/// Copies the file at `source` to `path` as [`write_file`] writes, without holding it in
/// memory.
pub fn copy_file(source: &Path, path: &Path, durability: Durability) -> Result<(), OutputError> {
    let mut from = File::open(source).map_err(|e| OutputError::Io {
        path: source.into(),
        source: e,
    })?;
    write_with(path, durability, |file| {
        std::io::copy(&mut from, file)
            .map(drop)
            .map_err(|source| OutputError::Io {
                path: path.into(),
                source,
            })
    })
}

/// Writes to `path` what `fill` writes, as [`write_file`] writes. The file appears under its
/// name only when `fill` succeeds, so a caller checking what it writes (a download against its
/// hash) leaves nothing behind when the check fails.
pub fn write_with<E: From<OutputError>>(
    path: &Path,
    durability: Durability,
    fill: impl FnOnce(&mut BufWriter<&File>) -> Result<(), E>,
) -> Result<(), E> {
    let io_error = |source| OutputError::Io {
        path: path.into(),
        source,
    };
    let temp = temp_file_for(path)?;
    {
        let mut writer = BufWriter::new(temp.as_file());
        fill(&mut writer)?;
        writer.flush().map_err(io_error)?;
    }
    if durability == Durability::CrashSafe {
        temp.as_file().sync_all().map_err(io_error)?;
    }
    temp.persist(path).map_err(|e| io_error(e.error))?;
    if durability == Durability::CrashSafe {
        // The rename itself is only durable once the folder is synced.
        #[cfg(unix)]
        File::open(folder_of(path))
            .and_then(|dir| dir.sync_all())
            .map_err(io_error)?;
    }
    Ok(())
}

/// The folder a file at `path` is in (`.` for a bare file name).
fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::film::Resolution;
    use exr::prelude::{ReadChannels, ReadLayers};

    fn test_frame() -> FrameImage {
        let res = Resolution::new(5, 3).unwrap();
        let mut frame = FrameImage::new(res);
        for i in 0..res.pixel_count() {
            let f = i as f32;
            frame.pixels.color[i] = [f * 0.1, f * 0.2 + 0.01, -f, 0.5 + f * 0.01];
            frame.pixels.albedo[i] = [f, f + 0.25, f + 0.5];
            frame.pixels.normal[i] = [-1.0, f / 15.0, 0.75];
            frame.pixels.depth[i] = if i == 7 {
                crate::film::NO_HIT_DEPTH
            } else {
                f * 3.0
            };
        }
        frame
    }

    fn files_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn exr_round_trips_every_channel() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("frame.exr");
        let frame = test_frame();
        write_frame(&path, &frame).unwrap();

        let image = exr::prelude::read()
            .no_deep_data()
            .largest_resolution_level()
            .all_channels()
            .first_valid_layer()
            .all_attributes()
            .from_file(&path)
            .unwrap();
        let layer = &image.layer_data;
        assert_eq!(layer.size.0, 5);
        assert_eq!(layer.size.1, 3);
        assert_eq!(layer.encoding.compression, Compression::ZIP16);
        let read = |name: &str| -> Vec<f32> {
            let ch = layer
                .channel_data
                .list
                .iter()
                .find(|c| c.name == *name)
                .unwrap_or_else(|| panic!("channel {name} missing"));
            assert!(
                matches!(ch.sample_data, FlatSamples::F32(_)),
                "{name} is f32"
            );
            ch.sample_data.values_as_f32().collect()
        };
        let px = &frame.pixels;
        for (i, name) in ["R", "G", "B", "A"].iter().enumerate() {
            let expect: Vec<f32> = px.color.iter().map(|c| c[i]).collect();
            assert_eq!(read(name), expect, "{name}");
        }
        for (i, name) in ["albedo.R", "albedo.G", "albedo.B"].iter().enumerate() {
            let expect: Vec<f32> = px.albedo.iter().map(|c| c[i]).collect();
            assert_eq!(read(name), expect, "{name}");
        }
        for (i, name) in ["normal.X", "normal.Y", "normal.Z"].iter().enumerate() {
            let expect: Vec<f32> = px.normal.iter().map(|c| c[i]).collect();
            assert_eq!(read(name), expect, "{name}");
        }
        assert_eq!(read("depth.Z"), px.depth);
        assert_eq!(layer.channel_data.list.len(), 11);
        assert_eq!(files_in(dir.path()), ["frame.exr"]);
    }

    #[test]
    fn png_is_clamped_srgb_with_opaque_alpha() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("preview.PNG");
        let res = Resolution::new(4, 1).unwrap();
        let mut frame = FrameImage::new(res);
        frame.pixels.color = vec![
            [0.0, 1.0, 0.5, 0.0],
            [2.0, -1.0, 0.002, 1.0],
            [0.214_041_14, f32::NAN, f32::INFINITY, 0.3],
            [0.0031308, 0.18, 0.9, 1.0],
        ];
        write_frame(&path, &frame).unwrap();
        let png = image::open(&path).unwrap().to_rgba8();
        assert_eq!(png.dimensions(), (4, 1));
        assert_eq!(png.get_pixel(0, 0).0, [0, 255, 188, 255]);
        assert_eq!(png.get_pixel(1, 0).0, [255, 0, 7, 255]);
        assert_eq!(png.get_pixel(2, 0).0, [128, 0, 255, 255]);
        assert_eq!(png.get_pixel(3, 0).0, [10, 118, 243, 255]);
        assert_eq!(files_in(dir.path()), ["preview.PNG"]);
    }

    #[test]
    fn unwritable_path_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("frame.exr");
        let err = write_frame(&path, &test_frame()).unwrap_err();
        assert!(matches!(err, OutputError::Io { .. }), "{err:?}");
        assert!(err.to_string().contains("missing/frame.exr"), "{err}");
        let reason = std::error::Error::source(&err).unwrap().to_string();
        assert!(!reason.contains(".tmp"), "{reason}");
        assert!(check_writable(&path).is_err());
        assert!(!dir.path().join("missing").exists());
        assert!(files_in(dir.path()).is_empty());
    }

    #[test]
    fn unknown_extension_is_refused_before_writing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("frame.tiff");
        let err = write_frame(&path, &test_frame()).unwrap_err();
        assert!(matches!(err, OutputError::UnknownFormat { .. }), "{err:?}");
        assert!(err.to_string().contains(".exr"), "{err}");
        assert!(check_writable(&path).is_err());
        assert!(files_in(dir.path()).is_empty());
    }

    #[test]
    fn failed_write_leaves_no_file_and_keeps_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("frame.exr");
        std::fs::write(&path, b"previous").unwrap();
        let mut bad = test_frame();
        bad.pixels.depth.pop();
        let err = write_frame(&path, &bad).unwrap_err();
        assert!(matches!(err, OutputError::Inconsistent { .. }), "{err:?}");
        let err = write_with(&path, Durability::CrashSafe, |_| {
            Err(OutputError::Io {
                path: path.clone(),
                source: std::io::Error::other("encoder failed"),
            })
        })
        .unwrap_err();
        assert!(matches!(err, OutputError::Io { .. }));
        assert_eq!(std::fs::read(&path).unwrap(), b"previous");
        assert_eq!(files_in(dir.path()), ["frame.exr"]);
    }

    #[test]
    fn files_are_written_whole_under_their_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tile.bin");
        for durability in [Durability::CrashSafe, Durability::Throwaway] {
            write_file(&path, b"pixels", durability).unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), b"pixels");
            assert_eq!(files_in(dir.path()), ["tile.bin"]);
        }
        let missing = dir.path().join("absent").join("tile.bin");
        assert!(write_file(&missing, b"x", Durability::CrashSafe).is_err());
        let copy = dir.path().join("copy.bin");
        copy_file(&path, &copy, Durability::CrashSafe).unwrap();
        assert_eq!(std::fs::read(&copy).unwrap(), b"pixels");
    }

    #[test]
    fn check_writable_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        check_writable(&dir.path().join("a.exr")).unwrap();
        assert!(check_writable(dir.path()).is_err());
        // A folder's path, whatever its last component's extension.
        assert!(check_writable(&dir.path().join("b.exr/")).is_err());
        assert!(files_in(dir.path()).is_empty());
    }
}
