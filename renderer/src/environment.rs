//! Light from infinitely far away, met where a path leaves the scene: a uniform radiance (a
//! scene with no light of its own gets a neutral white one, [`Environment::NEUTRAL`], as a viewer
//! lights an asset, so it is never rendered black), or an equirectangular HDR map
//! ([`EnvironmentMap`]) that next-event estimation samples in proportion to its brightness.
//!
//! The map's layout is the GPU backends' too: each texel holds its radiance and, in its fourth
//! component, the cumulative distribution of its row up to and including it; the marginal
//! distribution over rows is a separate array. Every backend samples it with the same searches.

use std::f32::consts::PI;
use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use glam::Vec3;
use serde::{Deserialize, Serialize};

use crate::light::luminance;
use crate::scene::{check_plain_file, relative_path};
use crate::transcendental;

#[derive(Clone, Debug, PartialEq)]
pub enum Environment {
    /// The same radiance from every direction (found only by BSDF sampling).
    Uniform(Vec3),
    /// An equirectangular map scaled by `strength`, turned `rotation` radians about +Y.
    Map {
        map: Arc<EnvironmentMap>,
        strength: f32,
        rotation: f32,
    },
}

impl Environment {
    /// Radiance 1 from everywhere: a diffuse surface shows its albedo, shaded by how much of
    /// the sky it sees.
    pub const NEUTRAL: Environment = Environment::Uniform(Vec3::ONE);

    /// Radiance arriving along `-dir` (a ray leaving the scene towards `dir`, a unit vector).
    pub fn radiance(&self, dir: Vec3) -> Vec3 {
        match self {
            Environment::Uniform(radiance) => *radiance,
            Environment::Map {
                map,
                strength,
                rotation,
            } => {
                let (x, y) = map.texel_of(map_direction(dir, *rotation));
                map.radiance(x, y) * *strength
            }
        }
    }

    /// The map, its strength and its turn, when next-event estimation can sample this
    /// environment.
    pub fn sampled(&self) -> Option<(&EnvironmentMap, f32, f32)> {
        match self {
            Environment::Uniform(_) => None,
            Environment::Map {
                map,
                strength,
                rotation,
            } => Some((map, *strength, *rotation)),
        }
    }
}

/// The environment map a job asks for: its file (a path where `tessera render` runs; in a
/// farm job, the map's name inside the job's scene bundle), its strength and its turn.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnvironmentSetting {
    pub file: String,
    #[serde(default)]
    pub strength: Strength,
    #[serde(default)]
    pub rotation: Rotation,
}

impl EnvironmentSetting {
    /// Loads the map from `file` as given: the local pipeline, reading the user's own path.
    pub fn load_map(&self) -> Result<Arc<EnvironmentMap>, EnvironmentError> {
        Ok(Arc::new(EnvironmentMap::load(Path::new(&self.file))?))
    }

    /// Loads the map from `file` inside `dir` (a farm job's scene folder), refusing a name
    /// that would leave it.
    pub fn load_map_in(&self, dir: &Path) -> Result<Arc<EnvironmentMap>, EnvironmentError> {
        let refuse = |reason: &str| EnvironmentError::Read {
            file: self
                .file
                .chars()
                .filter(|c| !c.is_control())
                .take(100)
                .collect(),
            reason: reason.to_owned(),
        };
        if self.file.len() > 255 || self.file.chars().any(char::is_control) {
            return Err(refuse(
                "a map's name has at most 255 bytes and no control characters",
            ));
        }
        let relative = relative_path(&self.file).map_err(refuse)?;
        Ok(Arc::new(EnvironmentMap::load(&dir.join(relative))?))
    }

    /// The environment this setting makes of its loaded `map`.
    pub fn with_map(&self, map: Arc<EnvironmentMap>) -> Environment {
        Environment::Map {
            map,
            strength: self.strength.0,
            // Whole turns dropped exactly, so that a huge angle stays where the sine is accurate.
            rotation: (self.rotation.0 % 360.0).to_radians(),
        }
    }
}

/// The last environment map loaded, with the key (a job's scene) and file that named it: maps
/// are often large, and the tasks a worker or verifier takes in a row mostly name the same one.
pub struct MapCache<K> {
    held: Option<(K, String, Arc<EnvironmentMap>)>,
}

impl<K> Default for MapCache<K> {
    fn default() -> Self {
        Self { held: None }
    }
}

impl<K: PartialEq> MapCache<K> {
    /// A cache already holding `map`, loaded for `key` from `file`.
    pub fn holding(key: K, file: String, map: Arc<EnvironmentMap>) -> Self {
        Self {
            held: Some((key, file, map)),
        }
    }

    /// The environment `setting` makes for `key`, its map loaded by `load` unless held.
    pub fn environment(
        &mut self,
        key: K,
        setting: &EnvironmentSetting,
        load: impl FnOnce(&EnvironmentSetting) -> Result<Arc<EnvironmentMap>, EnvironmentError>,
    ) -> Result<Environment, EnvironmentError> {
        let map = match &self.held {
            Some((k, file, map)) if *k == key && *file == setting.file => map.clone(),
            _ => {
                // The last map goes first, rather than stay while the next is decoded.
                self.held = None;
                let map = load(setting)?;
                self.held = Some((key, setting.file.clone(), map.clone()));
                map
            }
        };
        Ok(setting.with_map(map))
    }
}

/// What an environment setting's numbers may not be.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SettingError {
    #[error("invalid environment strength '{0}': expected a finite number, 0 or more")]
    BadStrength(String),
    #[error("invalid environment rotation '{0}': expected finite degrees")]
    BadRotation(String),
}

/// A multiplier of the map's radiance: finite, 0 or more (1 by default).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "f32", into = "f32")]
pub struct Strength(f32);

impl Default for Strength {
    fn default() -> Self {
        Strength(1.0)
    }
}

impl TryFrom<f32> for Strength {
    type Error = SettingError;

    fn try_from(v: f32) -> Result<Self, SettingError> {
        if v.is_finite() && v >= 0.0 {
            Ok(Strength(v))
        } else {
            Err(SettingError::BadStrength(v.to_string()))
        }
    }
}

impl From<Strength> for f32 {
    fn from(s: Strength) -> f32 {
        s.0
    }
}

impl FromStr for Strength {
    type Err = SettingError;

    fn from_str(s: &str) -> Result<Self, SettingError> {
        parse_number(s, SettingError::BadStrength)
    }
}

impl fmt::Display for Strength {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A turn of the map about +Y in degrees, counter-clockwise seen from above (0 by default).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "f32", into = "f32")]
pub struct Rotation(f32);

impl TryFrom<f32> for Rotation {
    type Error = SettingError;

    fn try_from(v: f32) -> Result<Self, SettingError> {
        if v.is_finite() {
            Ok(Rotation(v))
        } else {
            Err(SettingError::BadRotation(v.to_string()))
        }
    }
}

impl From<Rotation> for f32 {
    fn from(r: Rotation) -> f32 {
        r.0
    }
}

impl FromStr for Rotation {
    type Err = SettingError;

    fn from_str(s: &str) -> Result<Self, SettingError> {
        parse_number(s, SettingError::BadRotation)
    }
}

impl fmt::Display for Rotation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A setting's number from text, refused as `bad` (with the text, cut to 40 characters) when it
/// is not a number or the type refuses it.
fn parse_number<T: TryFrom<f32>>(
    s: &str,
    bad: fn(String) -> SettingError,
) -> Result<T, SettingError> {
    s.trim()
        .parse::<f32>()
        .ok()
        .and_then(|v| T::try_from(v).ok())
        .ok_or_else(|| bad(s.chars().take(40).collect()))
}

/// The largest map accepted, in texels (16,384 x 8,192 at 16 bytes each is 2 GiB).
pub const MAX_TEXELS: u64 = 16_384 * 8_192;

#[derive(Debug, thiserror::Error)]
pub enum EnvironmentError {
    #[error("cannot read environment map '{file}': {reason}")]
    Read { file: String, reason: String },
    #[error(
        "environment map '{file}' is {width}x{height}: at most {MAX_TEXELS} texels are accepted"
    )]
    TooLarge {
        file: String,
        width: u32,
        height: u32,
    },
    #[error("environment map '{file}' has no texels (0 wide or 0 high)")]
    Empty { file: String },
    #[error("environment map '{file}' is not an equirectangular image: {width}x{height}, want 2:1")]
    NotEquirectangular {
        file: String,
        width: u32,
        height: u32,
    },
    #[error("environment map '{0}': use a .hdr or .exr file")]
    Format(String),
}

/// An equirectangular radiance map with its sampling distribution. Row 0 is straight up (+Y);
/// the middle column faces -Z (where glTF cameras look by default) and +X lies a quarter turn
/// to its right.
#[derive(Clone, Debug, PartialEq)]
pub struct EnvironmentMap {
    pub width: u32,
    pub height: u32,
    /// Row-major from the top: linear RGB radiance, and the row's cumulative distribution.
    pub texels: Vec<[f32; 4]>,
    /// Cumulative distribution over rows, ending at 1.
    pub marginal: Vec<f32>,
}

/// A direction drawn from the map, with its solid-angle density (before the light choice).
#[derive(Clone, Copy, Debug)]
pub struct EnvironmentSample {
    pub wi: Vec3,
    pub pdf: f32,
    pub radiance: Vec3,
}

/// Refuses an EXR file whose decoding the size checks would not bound: they see its display
/// window, while the decoder sizes its buffers by each layer's data window and channels (a 2x1
/// image whose data window was a billion pixels wide asked for gigabytes per block). A map is
/// one layer of at most four channels (RGBA), its data window its display window.
fn check_exr_layout(path: &Path) -> Result<(), String> {
    let meta = exr::meta::MetaData::read_from_file(path, false).map_err(|e| e.to_string())?;
    let [header] = meta.headers.as_slice() else {
        return Err("an EXR environment map holds one layer".into());
    };
    if header.data_window() != header.shared_attributes.display_window {
        return Err("its data window is not its display window".into());
    }
    if header.channels.list.len() > 4 {
        return Err("an EXR environment map has at most four channels".into());
    }
    Ok(())
}

impl EnvironmentMap {
    /// Reads a `.hdr` (Radiance RGBE) or `.exr` file. Texels that are negative or not finite
    /// count as black.
    pub fn load(path: &Path) -> Result<EnvironmentMap, EnvironmentError> {
        let file = path.display().to_string();
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        if !matches!(ext.as_deref(), Some("hdr" | "exr")) {
            return Err(EnvironmentError::Format(file));
        }
        let read = |reason: String| EnvironmentError::Read {
            file: file.clone(),
            reason,
        };
        check_plain_file(path).map_err(|e| read(e.to_string()))?;
        // The header first: a map too large or of the wrong shape is refused before decoding.
        let open = || {
            image::ImageReader::open(path)
                .map_err(|e| read(e.to_string()))?
                .with_guessed_format()
                .map_err(|e| read(e.to_string()))
        };
        let reader = open()?;
        // By the bytes, as the decoder is chosen: an EXR named `.hdr` is checked all the same.
        if reader.format() == Some(image::ImageFormat::OpenExr) {
            check_exr_layout(path).map_err(read)?;
        }
        let (width, height) = reader.into_dimensions().map_err(|e| read(e.to_string()))?;
        if u64::from(width) * u64::from(height) > MAX_TEXELS {
            return Err(EnvironmentError::TooLarge {
                file,
                width,
                height,
            });
        }
        if width == 0 || height == 0 {
            return Err(EnvironmentError::Empty { file });
        }
        // In u64: twice a header's height may not fit a u32.
        if u64::from(width) != 2 * u64::from(height) {
            return Err(EnvironmentError::NotEquirectangular {
                file,
                width,
                height,
            });
        }
        let mut reader = open()?;
        let mut limits = image::Limits::default();
        limits.max_alloc = Some(MAX_TEXELS * 16);
        reader.limits(limits);
        let image = reader
            .decode()
            .map_err(|e| read(e.to_string()))?
            .into_rgb32f();
        let radiance = image
            .pixels()
            .map(|p| Vec3::from(p.0.map(|c| if c.is_finite() { c.max(0.0) } else { 0.0 })))
            .collect();
        Ok(Self::from_radiance(width, height, radiance))
    }

    /// A map of `width` x `height` texels given row by row from the top.
    pub fn from_radiance(width: u32, height: u32, radiance: Vec<Vec3>) -> EnvironmentMap {
        assert!(width > 0 && height > 0 && radiance.len() == (width * height) as usize);
        let w = width as usize;
        let mut texels = Vec::with_capacity(radiance.len());
        let mut row_weights = Vec::with_capacity(height as usize);
        for (y, row) in radiance.chunks_exact(w).enumerate() {
            // Rows near the poles cover less of the sphere.
            let sin_theta = transcendental::sin((y as f32 + 0.5) / height as f32 * PI);
            let weights: Vec<f64> = row
                .iter()
                .map(|&l| f64::from(luminance(l) * sin_theta))
                .collect();
            let cdf = cumulative(&weights);
            texels.extend(row.iter().zip(cdf).map(|(l, c)| [l.x, l.y, l.z, c]));
            row_weights.push(weights.iter().sum());
        }
        EnvironmentMap {
            width,
            height,
            texels,
            marginal: cumulative(&row_weights),
        }
    }

    fn radiance(&self, x: u32, y: u32) -> Vec3 {
        let [r, g, b, _] = self.texels[(y * self.width + x) as usize];
        Vec3::new(r, g, b)
    }

    /// The texel a map direction (already turned by the rotation) falls in.
    fn texel_of(&self, d: Vec3) -> (u32, u32) {
        let u = (transcendental::atan2(d.x, -d.z) * (0.5 / PI) + 0.5).clamp(0.0, 1.0);
        let v = transcendental::acos(d.y.clamp(-1.0, 1.0)) * (1.0 / PI);
        let x = ((u * self.width as f32) as u32).min(self.width - 1);
        let y = ((v * self.height as f32) as u32).min(self.height - 1);
        (x, y)
    }

    /// Probability of texel (`x`, `y`) times the texel count: the density per unit of image area.
    fn image_pdf(&self, x: u32, y: u32) -> f32 {
        let row = &self.texels[(y * self.width) as usize..][..self.width as usize];
        let p_row =
            self.marginal[y as usize] - y.checked_sub(1).map_or(0.0, |k| self.marginal[k as usize]);
        let p_col = row[x as usize][3] - x.checked_sub(1).map_or(0.0, |k| row[k as usize][3]);
        p_row * p_col * (self.width * self.height) as f32
    }

    /// Solid-angle density with which [`sample`](Self::sample) draws world direction `dir`.
    pub fn pdf(&self, dir: Vec3, rotation: f32) -> f32 {
        let d = map_direction(dir, rotation);
        let sin_theta = (1.0 - d.y * d.y).max(0.0).sqrt();
        if sin_theta <= 0.0 {
            return 0.0;
        }
        let (x, y) = self.texel_of(d);
        self.image_pdf(x, y) / (2.0 * PI * PI * sin_theta)
    }

    /// Draws a world direction in proportion to the map's luminance, from two uniform numbers.
    pub fn sample(&self, rotation: f32, u: f32, v: f32) -> Option<EnvironmentSample> {
        let (y, fy) = search(&self.marginal, u);
        let row = &self.texels[(y * self.width as usize)..][..self.width as usize];
        let cdf_at = |i: usize| row[i][3];
        let (x, fx) = search_by(self.width as usize, cdf_at, v);
        let mu = (x as f32 + fx) / self.width as f32;
        let mv = (y as f32 + fy) / self.height as f32;
        let theta = mv * PI;
        let phi = (mu - 0.5) * (2.0 * PI);
        let (sin_theta, cos_theta) = transcendental::sin_cos(theta);
        if sin_theta <= 0.0 {
            return None;
        }
        let (sin_phi, cos_phi) = transcendental::sin_cos(phi);
        let d = Vec3::new(sin_theta * sin_phi, cos_theta, -sin_theta * cos_phi);
        // Density and radiance from the texel the direction falls in, as a ray escaping that
        // way finds them, so that both estimators see one function even at texel borders.
        let (x, y) = self.texel_of(d);
        let pdf = self.image_pdf(x, y) / (2.0 * PI * PI * sin_theta);
        (pdf > 0.0).then(|| EnvironmentSample {
            wi: turn(d, rotation),
            pdf,
            radiance: self.radiance(x, y),
        })
    }
}

/// Cumulative sums normalised to end at 1; uniform when every weight is 0.
fn cumulative(weights: &[f64]) -> Vec<f32> {
    let total: f64 = weights.iter().sum();
    let n = weights.len();
    let mut acc = 0.0f64;
    let mut cdf: Vec<f32> = weights
        .iter()
        .enumerate()
        .map(|(i, &w)| {
            if total > 0.0 {
                acc += w;
                (acc / total) as f32
            } else {
                (i + 1) as f32 / n as f32
            }
        })
        .collect();
    if let Some(last) = cdf.last_mut() {
        *last = 1.0;
    }
    cdf
}

fn search(cdf: &[f32], u: f32) -> (usize, f32) {
    search_by(cdf.len(), |i| cdf[i], u)
}

/// The first entry whose cumulative value exceeds `u`, and where `u` falls within its step:
/// a binary search the GPU backends repeat step for step.
fn search_by(n: usize, cdf: impl Fn(usize) -> f32, u: f32) -> (usize, f32) {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if cdf(mid) <= u {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    let i = lo.min(n - 1);
    let before = if i == 0 { 0.0 } else { cdf(i - 1) };
    let step = cdf(i) - before;
    let f = if step > 0.0 {
        ((u - before) / step).clamp(0.0, ONE_MINUS_EPSILON)
    } else {
        0.5
    };
    (i, f)
}

const ONE_MINUS_EPSILON: f32 = 1.0 - f32::EPSILON;

/// A world direction in the map's frame: turned back by the map's rotation about +Y.
fn map_direction(dir: Vec3, rotation: f32) -> Vec3 {
    turn(dir, -rotation)
}

/// `d` turned by `angle` radians about +Y (counter-clockwise seen from above).
fn turn(d: Vec3, angle: f32) -> Vec3 {
    if angle == 0.0 {
        return d;
    }
    let (s, c) = transcendental::sin_cos(angle);
    Vec3::new(c * d.x + s * d.z, d.y, -s * d.x + c * d.z)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A dark map with one bright texel.
    fn sun_map() -> EnvironmentMap {
        let (w, h) = (32, 16);
        let mut radiance = vec![Vec3::splat(0.1); w * h];
        radiance[5 * w + 20] = Vec3::splat(500.0);
        EnvironmentMap::from_radiance(w as u32, h as u32, radiance)
    }

    /// Degrees are finite but not bounded: whole turns are dropped, so that the sine the
    /// backends take stays accurate (`sin_cos` of 1.7e10 radians is not a sine).
    #[test]
    fn a_huge_rotation_turns_the_map_by_what_whole_turns_leave() {
        for (degrees, left) in [("1e12", 1e12f32 % 360.0), ("-450", -90.0), ("90", 90.0)] {
            let setting = EnvironmentSetting {
                file: "sky.hdr".into(),
                strength: Strength::default(),
                rotation: degrees.parse().unwrap(),
            };
            let Environment::Map { rotation, .. } = setting.with_map(Arc::new(sun_map())) else {
                panic!("a map");
            };
            assert_eq!(rotation, left.to_radians(), "{degrees}");
        }
    }

    /// A cache moving to another map has let go of the last one by the time the next loads, so
    /// that two large maps are never held at once.
    #[test]
    fn a_map_cache_lets_go_of_its_map_before_loading_the_next() {
        let setting = |file: &str| EnvironmentSetting {
            file: file.into(),
            strength: Strength::default(),
            rotation: Rotation::default(),
        };
        let first = Arc::new(sun_map());
        let mut cache = MapCache::holding(1, "a.hdr".into(), first.clone());
        assert!(
            cache
                .environment(1, &setting("a.hdr"), |_| panic!("held"))
                .is_ok()
        );
        let next = cache.environment(2, &setting("b.hdr"), |_| {
            assert_eq!(Arc::strong_count(&first), 1, "the last map is still held");
            Ok(Arc::new(sun_map()))
        });
        assert!(next.is_ok());
    }

    #[test]
    fn directions_map_to_the_documented_texels() {
        let map = EnvironmentMap::from_radiance(8, 4, vec![Vec3::ONE; 32]);
        assert_eq!(map.texel_of(Vec3::NEG_Z), (4, 2), "-Z is the middle column");
        assert_eq!(map.texel_of(Vec3::X).0, 6, "+X a quarter turn to its right");
        assert_eq!(map.texel_of(Vec3::Y).1, 0, "row 0 is up");
        assert_eq!(map.texel_of(Vec3::NEG_Y).1, 3);
    }

    #[test]
    fn samples_land_where_their_density_says_and_see_their_texel() {
        let map = sun_map();
        for rotation in [0.0, 1.0] {
            for i in 0..500 {
                let (u, v) = ((i as f32 + 0.5) / 500.0, ((i * 7919) % 500) as f32 / 500.0);
                let Some(s) = map.sample(rotation, u, v) else {
                    continue;
                };
                let pdf = map.pdf(s.wi, rotation);
                assert!((pdf - s.pdf).abs() <= 1e-3 * s.pdf, "{pdf} vs {}", s.pdf);
                let env = Environment::Map {
                    map: Arc::new(map.clone()),
                    strength: 1.0,
                    rotation,
                };
                assert_eq!(env.radiance(s.wi), s.radiance);
            }
        }
    }

    #[test]
    fn the_density_integrates_to_one_over_the_sphere() {
        let map = sun_map();
        let n = 400;
        let mut sum = 0.0f64;
        for i in 0..n {
            for j in 0..2 * n {
                let theta = (i as f32 + 0.5) / n as f32 * PI;
                let phi = (j as f32 + 0.5) / (2 * n) as f32 * 2.0 * PI;
                let d = Vec3::new(
                    theta.sin() * phi.sin(),
                    theta.cos(),
                    theta.sin() * phi.cos(),
                );
                let area = theta.sin() * (PI / n as f32) * (PI / n as f32);
                sum += f64::from(map.pdf(d, 0.3) * area);
            }
        }
        assert!((sum - 1.0).abs() < 0.01, "{sum}");
    }

    #[test]
    fn hdr_files_load_and_bad_ones_get_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, width: usize, height: usize| {
            let path = dir.path().join(name);
            let pixels: Vec<image::Rgb<f32>> = (0..width * height)
                .map(|i| image::Rgb([i as f32, i as f32 * 0.5, 0.0]))
                .collect();
            let file = std::fs::File::create(&path).unwrap();
            image::codecs::hdr::HdrEncoder::new(file)
                .encode(&pixels, width, height)
                .unwrap();
            path
        };
        // An EXR whose data window is larger than its 2x1 display window.
        let wide = dir.path().join("wide.exr");
        let channels = exr::prelude::SpecificChannels::rgb(|_| (1.0f32, 1.0f32, 1.0f32));
        let layer = exr::prelude::Layer::new(
            (64, 2),
            exr::prelude::LayerAttributes::default(),
            exr::prelude::Encoding::FAST_LOSSLESS,
            channels,
        );
        let mut image = exr::prelude::Image::from_layer(layer);
        image.attributes.display_window = exr::prelude::IntegerBounds::new((0, 0), (2, 1));
        exr::prelude::WritableImage::write(&image)
            .to_file(&wide)
            .unwrap();
        let disguised = dir.path().join("wide.hdr");
        std::fs::copy(&wide, &disguised).unwrap();
        for file in [&wide, &disguised] {
            let err = EnvironmentMap::load(file).unwrap_err();
            assert!(
                err.to_string()
                    .contains("data window is not its display window"),
                "{err}"
            );
        }
        let map = EnvironmentMap::load(&write("sky.hdr", 16, 8)).unwrap();
        assert_eq!((map.width, map.height), (16, 8));
        assert_eq!(map.radiance(3, 0), Vec3::new(3.0, 1.5, 0.0));
        assert_eq!(map.radiance(1, 2), Vec3::new(33.0, 16.5, 0.0));
        let err = EnvironmentMap::load(&write("square.hdr", 8, 8)).unwrap_err();
        assert!(err.to_string().contains("want 2:1"), "{err}");
        let empty = dir.path().join("empty.hdr");
        std::fs::write(&empty, b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 0 +X 0\n").unwrap();
        let err = EnvironmentMap::load(&empty).unwrap_err();
        assert!(err.to_string().contains("has no texels"), "{err}");
        std::fs::write(dir.path().join("junk.hdr"), b"#?RADIANCE\nnonsense").unwrap();
        let err = EnvironmentMap::load(&dir.path().join("junk.hdr")).unwrap_err();
        assert!(
            err.to_string().starts_with("cannot read environment map"),
            "{err}"
        );
        let setting = EnvironmentSetting {
            file: "../sky.hdr".into(),
            strength: Strength::default(),
            rotation: Rotation::default(),
        };
        let err = setting.load_map_in(dir.path()).unwrap_err();
        assert!(
            err.to_string().contains("leave the scene's folder"),
            "{err}"
        );
    }

    #[test]
    fn the_bright_texel_is_drawn_most_often() {
        let map = sun_map();
        let hits = (0..1000)
            .filter_map(|i| map.sample(0.0, (i as f32 + 0.5) / 1000.0, 0.37))
            .filter(|s| s.radiance.x > 1.0)
            .count();
        assert!(hits > 900, "{hits} of 1000 samples saw the sun");
    }
}
