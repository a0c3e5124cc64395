//! A job's render options: which frames, how large, how many samples, which camera; the same
//! for `tessera render` on one machine and for a farm.

use std::collections::HashMap;
use std::fmt;
use std::num::NonZeroU32;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use tessera_renderer::camera::{Camera, DEFAULT_HEIGHT, DEFAULT_WIDTH, View, ViewError};
use tessera_renderer::environment::{EnvironmentSetting, Rotation, SettingError, Strength};
use tessera_renderer::film::{FilmError, MAX_IMAGE_SIDE, Resolution};
use tessera_renderer::settings::{MaxDepth, RenderSettings, SettingsError, Spp};

/// Most frames one job may hold: beyond this a spec is a typo (`1-1000000000`), and expanding
/// it would exhaust memory before anything is rendered.
pub const MAX_FRAMES: u64 = 1_000_000;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum JobError {
    #[error("frame list is empty")]
    EmptyFrames,
    #[error("invalid frame spec '{0}': expected N, A-B or A-BxSTEP (e.g. 1,5,10-20x2)")]
    BadFrameSpec(String),
    #[error("invalid frame spec '{0}': frame numbers start at 1")]
    FrameZero(String),
    #[error("invalid frame range '{0}': the end comes before the start")]
    ReversedRange(String),
    #[error("invalid frame range '{0}': the step must be at least 1")]
    ZeroStep(String),
    #[error("frame list has more than {MAX_FRAMES} frames")]
    TooManyFrames,
    #[error(
        "output '{path}' has no '#' for the frame number but {frames} frames are requested (use e.g. 'frame_####.exr')"
    )]
    MissingFramePlaceholder { path: String, frames: usize },
    #[error("{side} {value} is invalid: it must be between 1 and {MAX_IMAGE_SIDE}")]
    BadSide { side: &'static str, value: u32 },
    #[error("frames per second must be a finite number above 0, got {0}")]
    BadFps(f64),
    #[error("tile size must be at least 1 pixel")]
    ZeroTile,
    #[error(
        "frame {frame} would be at {seconds} s at {fps} frames per second: too late to represent; use a higher --fps"
    )]
    FrameTimeOutOfRange { frame: u32, fps: f64, seconds: f64 },
    #[error("invalid value '{value}' for '{key}'")]
    BadParameter { key: &'static str, value: String },
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    View(#[from] ViewError),
    #[error(transparent)]
    Environment(#[from] SettingError),
    #[error("'{0}' needs an environment map (environment)")]
    EnvironmentMissing(&'static str),
    #[error(transparent)]
    Film(#[from] FilmError),
}

/// A sorted, duplicate-free, non-empty set of frame numbers (each at least 1), written as in
/// Deadline or OpenCue: `1`, `1-48`, `1-48x2`, `1,5,10-20`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FrameSet(Vec<u32>);

impl FrameSet {
    /// The frames, ascending.
    pub fn frames(&self) -> &[u32] {
        &self.0
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// Always false: an empty set cannot be built. Present for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromStr for FrameSet {
    type Err = JobError;

    fn from_str(spec: &str) -> Result<Self, JobError> {
        if spec.trim().is_empty() {
            return Err(JobError::EmptyFrames);
        }
        let mut ranges = Vec::new();
        let mut total: u64 = 0;
        for part in spec.split(',').map(str::trim) {
            let (start, end, step) = parse_range(part)?;
            // Count before expanding so `1-4000000000` fails fast instead of allocating.
            total += u64::from((end - start) / step) + 1;
            if total > MAX_FRAMES {
                return Err(JobError::TooManyFrames);
            }
            ranges.push((start, end, step));
        }
        let mut frames: Vec<u32> = ranges
            .into_iter()
            .flat_map(|(start, end, step)| (start..=end).step_by(step as usize))
            .collect();
        frames.sort_unstable();
        frames.dedup();
        Ok(Self(frames))
    }
}

fn parse_range(part: &str) -> Result<(u32, u32, u32), JobError> {
    let bad = || JobError::BadFrameSpec(part.to_owned());
    let number = |s: &str| -> Result<u32, JobError> {
        // Only plain digits: `+5` or ` 5` inside a range are typos, not frames.
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        s.parse().map_err(|_| bad())
    };
    let (range, step) = match part.split_once('x') {
        Some((range, step)) => (range, Some(number(step)?)),
        None => (part, None),
    };
    let (start, end) = match range.split_once('-') {
        Some((a, b)) => (number(a)?, number(b)?),
        None if step.is_some() => return Err(bad()),
        None => {
            let n = number(range)?;
            (n, n)
        }
    };
    if start == 0 {
        return Err(JobError::FrameZero(part.to_owned()));
    }
    if end < start {
        return Err(JobError::ReversedRange(part.to_owned()));
    }
    match step {
        Some(0) => Err(JobError::ZeroStep(part.to_owned())),
        step => Ok((start, end, step.unwrap_or(1))),
    }
}

impl TryFrom<String> for FrameSet {
    type Error = JobError;
    fn try_from(s: String) -> Result<Self, JobError> {
        s.parse()
    }
}

impl From<FrameSet> for String {
    fn from(f: FrameSet) -> String {
        f.to_string()
    }
}

/// Compact form: runs of consecutive frames as `A-B`, e.g. `1-3,5,9-12`.
impl fmt::Display for FrameSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut i = 0;
        while i < self.0.len() {
            let start = self.0[i];
            let mut end = start;
            while i + 1 < self.0.len() && self.0[i + 1] == end + 1 {
                i += 1;
                end = self.0[i];
            }
            if start != self.0[0] {
                f.write_str(",")?;
            }
            if start == end {
                write!(f, "{start}")?;
            } else {
                write!(f, "{start}-{end}")?;
            }
            i += 1;
        }
        Ok(())
    }
}

/// One side of an image in pixels, within `1..=MAX_IMAGE_SIDE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct Side(u32);

impl Side {
    pub fn width(value: u32) -> Result<Self, JobError> {
        Self::named("width", value)
    }
    pub fn height(value: u32) -> Result<Self, JobError> {
        Self::named("height", value)
    }
    /// `side` names it in the error message.
    fn named(side: &'static str, value: u32) -> Result<Self, JobError> {
        if (1..=MAX_IMAGE_SIDE).contains(&value) {
            Ok(Self(value))
        } else {
            Err(JobError::BadSide { side, value })
        }
    }
    pub fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<u32> for Side {
    type Error = JobError;
    fn try_from(value: u32) -> Result<Self, JobError> {
        Self::named("image side", value)
    }
}

impl From<Side> for u32 {
    fn from(s: Side) -> u32 {
        s.0
    }
}

/// The image size asked for: the camera's default, one side with the other from the camera's
/// aspect ratio, or both sides.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SizeRequest {
    FromCamera,
    Width(Side),
    Height(Side),
    Exact(Resolution),
}

impl SizeRequest {
    /// From optional `--width` and `--height` values.
    pub fn from_sides(width: Option<u32>, height: Option<u32>) -> Result<Self, JobError> {
        Ok(match (width, height) {
            (None, None) => SizeRequest::FromCamera,
            (Some(w), None) => SizeRequest::Width(Side::width(w)?),
            (None, Some(h)) => SizeRequest::Height(Side::height(h)?),
            (Some(w), Some(h)) => SizeRequest::Exact(Resolution::new(w, h)?),
        })
    }

    /// The resolution for `camera`. A derived side follows the camera's aspect ratio, or 16:9
    /// when the camera has none.
    pub fn resolve(self, camera: &Camera) -> Result<Resolution, FilmError> {
        let aspect = match camera.aspect_ratio {
            Some(a) if a.is_finite() && a > 0.0 => f64::from(a),
            _ => f64::from(DEFAULT_WIDTH) / f64::from(DEFAULT_HEIGHT),
        };
        let derived = |v: f64| v.round().clamp(1.0, f64::from(u32::MAX)) as u32;
        match self {
            SizeRequest::FromCamera => Ok(camera.default_resolution()),
            SizeRequest::Width(w) => Resolution::new(w.get(), derived(f64::from(w.get()) / aspect)),
            SizeRequest::Height(h) => {
                Resolution::new(derived(f64::from(h.get()) * aspect), h.get())
            }
            SizeRequest::Exact(r) => Ok(r),
        }
    }
}

/// Frames per second of the scene's animation: finite and above zero.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Fps(f64);

impl Fps {
    pub fn new(fps: f64) -> Result<Self, JobError> {
        if fps.is_finite() && fps > 0.0 {
            Ok(Self(fps))
        } else {
            Err(JobError::BadFps(fps))
        }
    }
    pub fn get(self) -> f64 {
        self.0
    }
    /// The animation time of `frame` in seconds: frame 1 is at t = 0.
    pub fn frame_time(self, frame: u32) -> f64 {
        (f64::from(frame) - 1.0) / self.0
    }
}

impl TryFrom<f64> for Fps {
    type Error = JobError;
    fn try_from(f: f64) -> Result<Self, JobError> {
        Self::new(f)
    }
}

impl From<Fps> for f64 {
    fn from(f: Fps) -> f64 {
        f.0
    }
}

/// Samples per pixel when a job does not say.
pub const DEFAULT_SPP: u32 = 64;
/// Maximum path length when a job does not say.
pub const DEFAULT_MAX_DEPTH: u32 = 8;
/// Tile side in pixels when a job does not say.
pub const DEFAULT_TILE: u32 = 64;
/// Frames per second when a job does not say.
pub const DEFAULT_FPS: f64 = 24.0;
/// Frames when a job does not say.
pub const DEFAULT_FRAMES: &str = "1";
/// Seed when a job does not say.
pub const DEFAULT_SEED: u64 = 0;

/// How to render a job: what `tessera render` and `tessera submit` take, and what `POST
/// /api/jobs` carries as query parameters. The one representation of a job's render options, with
/// its defaults written once (the `DEFAULT_*` constants); every field is valid by its type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobOptions {
    pub frames: FrameSet,
    pub size: SizeRequest,
    pub settings: RenderSettings,
    pub tile_size: NonZeroU32,
    pub fps: Fps,
    /// The camera to look through; the scene's first when `None`.
    pub camera: Option<String>,
    /// Where to look from, at and how wide, overriding the camera as far as it says.
    #[serde(default, skip_serializing_if = "View::is_empty")]
    pub view: View,
    /// The environment map lighting the scene, beside the scene's own lights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<EnvironmentSetting>,
}

impl Default for JobOptions {
    fn default() -> Self {
        Self {
            frames: DEFAULT_FRAMES
                .parse()
                .expect("the default frame spec is valid"),
            size: SizeRequest::FromCamera,
            settings: RenderSettings {
                spp: Spp::new(DEFAULT_SPP).expect("the default spp is valid"),
                max_depth: MaxDepth::new(DEFAULT_MAX_DEPTH).expect("the default depth is valid"),
                seed: DEFAULT_SEED,
            },
            tile_size: NonZeroU32::new(DEFAULT_TILE).expect("the default tile is valid"),
            fps: Fps(DEFAULT_FPS),
            camera: None,
            view: View::default(),
            environment: None,
        }
    }
}

impl JobOptions {
    /// Camera samples of the whole job at `resolution`: pixels x spp x frames, at most
    /// `u64::MAX` (10^19: the local pipeline takes jobs whose count would wrap round to a
    /// small one, and be quoted as that).
    pub fn samples(&self, resolution: Resolution) -> u64 {
        (resolution.pixel_count() as u64)
            .saturating_mul(u64::from(self.settings.spp.get()))
            .saturating_mul(self.frames.len() as u64)
    }

    /// What the types cannot check alone: every frame's time fits the task message (an f32).
    pub fn check(&self) -> Result<(), JobError> {
        let last = *self
            .frames
            .frames()
            .last()
            .expect("a frame set is never empty");
        let seconds = self.fps.frame_time(last);
        if !(seconds as f32).is_finite() {
            return Err(JobError::FrameTimeOutOfRange {
                frame: last,
                fps: self.fps.get(),
                seconds,
            });
        }
        Ok(())
    }

    /// As query pairs, leaving out what the defaults give.
    pub fn to_query(&self) -> Vec<(&'static str, String)> {
        let (width, height) = match self.size {
            SizeRequest::FromCamera => (None, None),
            SizeRequest::Width(w) => (Some(w.get()), None),
            SizeRequest::Height(h) => (None, Some(h.get())),
            SizeRequest::Exact(r) => (Some(r.width()), Some(r.height())),
        };
        let s = &self.settings;
        let env = self.environment.as_ref();
        [
            ("frames", Some(self.frames.to_string())),
            ("width", width.map(|v| v.to_string())),
            ("height", height.map(|v| v.to_string())),
            ("spp", Some(s.spp.get().to_string())),
            ("max_depth", Some(s.max_depth.get().to_string())),
            ("tile", Some(self.tile_size.get().to_string())),
            ("seed", Some(s.seed.to_string())),
            ("fps", Some(self.fps.get().to_string())),
            ("camera", self.camera.clone()),
            ("look_from", self.view.look_from.map(|p| p.to_string())),
            ("look_at", self.view.look_at.map(|p| p.to_string())),
            ("fov", self.view.fov.map(|f| f.to_string())),
            ("environment", env.map(|e| e.file.clone())),
            ("environment_strength", env.map(|e| e.strength.to_string())),
            ("environment_rotation", env.map(|e| e.rotation.to_string())),
        ]
        .into_iter()
        .filter_map(|(k, v)| Some((k, v?)))
        .collect()
    }

    /// Reads the options from query parameters, with the defaults for what is missing. Keys
    /// other than the options' are left to the caller.
    pub fn from_query(query: &HashMap<String, String>) -> Result<Self, JobError> {
        fn number<T: FromStr>(
            query: &HashMap<String, String>,
            key: &'static str,
        ) -> Result<Option<T>, JobError> {
            query
                .get(key)
                .map(|v| {
                    v.parse().map_err(|_| JobError::BadParameter {
                        key,
                        value: v.chars().take(40).collect(),
                    })
                })
                .transpose()
        }
        let defaults = Self::default();
        let frames = match query.get("frames") {
            Some(spec) => spec.parse()?,
            None => defaults.frames,
        };
        let tile = number::<u32>(query, "tile")?.unwrap_or(DEFAULT_TILE);
        let options = Self {
            frames,
            size: SizeRequest::from_sides(number(query, "width")?, number(query, "height")?)?,
            settings: RenderSettings {
                spp: Spp::new(number(query, "spp")?.unwrap_or(DEFAULT_SPP))?,
                max_depth: MaxDepth::new(number(query, "max_depth")?.unwrap_or(DEFAULT_MAX_DEPTH))?,
                seed: number(query, "seed")?.unwrap_or(DEFAULT_SEED),
            },
            tile_size: NonZeroU32::new(tile).ok_or(JobError::ZeroTile)?,
            fps: Fps::new(number(query, "fps")?.unwrap_or(DEFAULT_FPS))?,
            camera: query.get("camera").cloned(),
            view: View {
                look_from: query.get("look_from").map(|p| p.parse()).transpose()?,
                look_at: query.get("look_at").map(|p| p.parse()).transpose()?,
                fov: query.get("fov").map(|f| f.parse()).transpose()?,
            },
            environment: environment_setting(
                query.get("environment").cloned(),
                query
                    .get("environment_strength")
                    .map(|v| v.parse())
                    .transpose()?,
                query
                    .get("environment_rotation")
                    .map(|v| v.parse())
                    .transpose()?,
            )?,
        };
        options.check()?;
        Ok(options)
    }
}

/// The environment setting of a map `file` with its strength and rotation; these two mean
/// nothing without the file, and are refused alone.
pub fn environment_setting(
    file: Option<String>,
    strength: Option<Strength>,
    rotation: Option<Rotation>,
) -> Result<Option<EnvironmentSetting>, JobError> {
    match file {
        Some(file) => Ok(Some(EnvironmentSetting {
            file,
            strength: strength.unwrap_or_default(),
            rotation: rotation.unwrap_or_default(),
        })),
        None if strength.is_some() => Err(JobError::EnvironmentMissing("environment_strength")),
        None if rotation.is_some() => Err(JobError::EnvironmentMissing("environment_rotation")),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use glam::Affine3A;
    use tessera_renderer::camera::Projection;

    fn frames(spec: &str) -> Vec<u32> {
        spec.parse::<FrameSet>().unwrap().frames().to_vec()
    }

    #[test]
    fn frame_specs_expand_sorted_and_unique() {
        assert_eq!(frames("1"), [1]);
        assert_eq!(frames("1-5"), [1, 2, 3, 4, 5]);
        assert_eq!(frames("1-10x3"), [1, 4, 7, 10]);
        assert_eq!(frames("1-9x4"), [1, 5, 9]);
        assert_eq!(frames("10-12, 1,5,3-4,11"), [1, 3, 4, 5, 10, 11, 12]);
        assert_eq!(frames("7-7x5"), [7]);
        assert_eq!(frames("1-1000000").len(), 1_000_000);
    }

    #[test]
    fn bad_frame_specs_are_refused() {
        let err = |s: &str| s.parse::<FrameSet>().unwrap_err();
        assert_eq!(err(""), JobError::EmptyFrames);
        assert_eq!(err("  "), JobError::EmptyFrames);
        for bad in [
            "a",
            "1-",
            "-3",
            "1,,2",
            "1-5x",
            "5x2",
            "1.5",
            "+3",
            "1-2-3",
            "99999999999",
        ] {
            assert!(
                matches!(err(bad), JobError::BadFrameSpec(_)),
                "{bad}: {:?}",
                err(bad)
            );
        }
        assert_eq!(err("0"), JobError::FrameZero("0".into()));
        assert_eq!(err("0-5"), JobError::FrameZero("0-5".into()));
        assert_eq!(err("10-1"), JobError::ReversedRange("10-1".into()));
        assert_eq!(err("1-10x0"), JobError::ZeroStep("1-10x0".into()));
        assert_eq!(err("1-1000001"), JobError::TooManyFrames);
        assert_eq!(err("1-600000,1-600000"), JobError::TooManyFrames);
        assert_eq!(err("1-4294967295"), JobError::TooManyFrames);
    }

    #[test]
    fn frame_set_displays_compactly_and_round_trips() {
        let set: FrameSet = "9,1-3,5,10-12,2".parse().unwrap();
        assert_eq!(set.to_string(), "1-3,5,9-12");
        assert_eq!(set.to_string().parse::<FrameSet>().unwrap(), set);
        let json = serde_json::to_string(&set).unwrap();
        assert_eq!(json, "\"1-3,5,9-12\"");
        assert_eq!(serde_json::from_str::<FrameSet>(&json).unwrap(), set);
        assert!(serde_json::from_str::<FrameSet>("\"3-1\"").is_err());
    }

    fn camera(aspect_ratio: Option<f32>) -> Camera {
        Camera {
            name: "cam".into(),
            to_world: Affine3A::IDENTITY,
            projection: Projection::Perspective { yfov: 0.8 },
            aspect_ratio,
            znear: 0.0,
        }
    }

    #[test]
    fn sizes_follow_the_camera_aspect() {
        let res = |w, h, aspect| {
            SizeRequest::from_sides(w, h)
                .unwrap()
                .resolve(&camera(aspect))
                .unwrap()
        };
        let r = |w, h| Resolution::new(w, h).unwrap();
        assert_eq!(res(None, None, None), r(1280, 720));
        assert_eq!(res(None, None, Some(1.0)), r(1280, 1280));
        assert_eq!(res(Some(640), None, Some(2.0)), r(640, 320));
        assert_eq!(res(Some(640), None, None), r(640, 360));
        assert_eq!(res(None, Some(100), Some(1.5)), r(150, 100));
        assert_eq!(res(None, Some(90), None), r(160, 90));
        assert_eq!(res(Some(33), Some(44), Some(2.0)), r(33, 44));
        assert_eq!(res(Some(1), None, Some(16.0)), r(1, 1));
    }

    #[test]
    fn bad_sizes_are_refused() {
        let err = |w, h| SizeRequest::from_sides(w, h).unwrap_err().to_string();
        assert!(err(Some(0), None).contains("width 0 is invalid"));
        assert!(err(None, Some(100_000)).contains("height 100000 is invalid"));
        assert!(err(Some(0), Some(0)).contains("image size 0x0"));
        assert!(err(Some(100_000), Some(10)).contains("image size 100000x10"));
        let tall = SizeRequest::from_sides(Some(32_768), None).unwrap();
        assert!(tall.resolve(&camera(Some(0.5))).is_err());
    }

    #[test]
    fn fps_must_be_positive_and_finite() {
        for bad in [0.0, -24.0, f64::NAN, f64::INFINITY] {
            assert!(Fps::new(bad).is_err(), "{bad}");
        }
        let fps = Fps::new(24.0).unwrap();
        assert_eq!(fps.frame_time(1), 0.0);
        assert_eq!(fps.frame_time(25), 1.0);
        assert_eq!(Fps::new(25.0).unwrap().frame_time(11), 0.4);
        assert!(serde_json::from_str::<Fps>("0.0").is_err());
    }

    /// A million frames of 32768x32768 at 2^20 spp is 1.1e21 samples: the count stops at
    /// u64::MAX rather than wrapping round to the 6.5e17 it was quoted as.
    #[test]
    fn a_job_past_u64_samples_counts_u64_max_not_a_wrapped_few() {
        let options = JobOptions {
            frames: "1-1000000".parse().unwrap(),
            settings: RenderSettings {
                spp: Spp::new(1 << 20).unwrap(),
                ..JobOptions::default().settings
            },
            ..JobOptions::default()
        };
        let side = Resolution::new(32768, 32768).unwrap();
        assert_eq!(options.samples(side), u64::MAX);
        let small = Resolution::new(4, 2).unwrap();
        assert_eq!(options.samples(small), 8 * (1 << 20) * 1_000_000);
    }

    #[test]
    fn job_options_round_trip_through_json_and_queries() {
        let options = JobOptions {
            frames: "1-3".parse().unwrap(),
            size: SizeRequest::Width(Side::width(640).unwrap()),
            settings: RenderSettings {
                spp: Spp::new(16).unwrap(),
                max_depth: MaxDepth::new(8).unwrap(),
                seed: 3,
            },
            tile_size: NonZeroU32::new(32).unwrap(),
            fps: Fps::new(24.0).unwrap(),
            camera: Some("Camera".into()),
            view: View {
                look_from: Some("0,1.5,-4".parse().unwrap()),
                look_at: None,
                fov: Some("35".parse().unwrap()),
            },
            environment: Some(EnvironmentSetting {
                file: "environment/sky.hdr".into(),
                strength: "2.5".parse().unwrap(),
                rotation: "-90".parse().unwrap(),
            }),
        };
        let json = serde_json::to_string(&options).unwrap();
        assert_eq!(serde_json::from_str::<JobOptions>(&json).unwrap(), options);
        let zero_tiles = json.replace("\"tile_size\":32", "\"tile_size\":0");
        assert!(serde_json::from_str::<JobOptions>(&zero_tiles).is_err());

        let query = |pairs: Vec<(&str, String)>| -> HashMap<String, String> {
            pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
        };
        let back = JobOptions::from_query(&query(options.to_query())).unwrap();
        assert_eq!(back, options);
        assert_eq!(
            JobOptions::from_query(&HashMap::new()).unwrap(),
            JobOptions::default()
        );
        let exact = JobOptions {
            size: SizeRequest::from_sides(Some(33), Some(44)).unwrap(),
            ..JobOptions::default()
        };
        assert_eq!(
            JobOptions::from_query(&query(exact.to_query())).unwrap(),
            exact
        );
    }

    #[test]
    fn bad_query_options_are_refused_by_name() {
        let err = |key: &str, value: &str| {
            let query = HashMap::from([(key.to_owned(), value.to_owned())]);
            JobOptions::from_query(&query).unwrap_err().to_string()
        };
        assert!(
            err("spp", "many").contains("'spp'"),
            "{}",
            err("spp", "many")
        );
        assert!(err("spp", "0").contains("samples per pixel"));
        assert!(err("tile", "0").contains("tile"), "{}", err("tile", "0"));
        assert!(err("fps", "-1").contains("frames per second"));
        assert!(
            err("look_from", "1,2").contains("X,Y,Z"),
            "{}",
            err("look_from", "1,2")
        );
        assert!(err("look_at", "1,nan,2").contains("X,Y,Z"));
        assert!(
            err("fov", "180").contains("field of view"),
            "{}",
            err("fov", "180")
        );
        assert!(err("environment_strength", "-1").contains("environment strength"));
        assert!(err("environment_strength", "2").contains("needs an environment map"));
        assert!(err("environment_rotation", "inf").contains("environment rotation"));
        assert!(err("environment_rotation", "90").contains("needs an environment map"));
        assert!(err("frames", "0").contains("start at 1"));
        assert!(err("width", "0").contains("width 0 is invalid"));
        let tiny_fps = HashMap::from([
            ("fps".to_owned(), "1e-300".to_owned()),
            ("frames".to_owned(), "1-2".to_owned()),
        ]);
        let err = JobOptions::from_query(&tiny_fps).unwrap_err();
        assert!(
            matches!(err, JobError::FrameTimeOutOfRange { frame: 2, .. }),
            "{err}"
        );
    }
}
