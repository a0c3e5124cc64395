//! glTF's cameras, perspective (a pinhole) or orthographic: each looks down its local -Z axis
//! with +Y up, and sees nothing nearer than its near plane.

use std::fmt;
use std::str::FromStr;

use glam::{Affine3A, Mat3, Vec3};
use serde::{Deserialize, Serialize};

use crate::film::Resolution;
use crate::geometry::Ray;
use crate::lane::{F, V3};
use crate::transcendental;

/// Width used when the user gives no size, as in Blender's default render settings.
pub const DEFAULT_WIDTH: u32 = 1280;
/// Height used when neither the user nor the camera gives an aspect ratio (16:9).
pub const DEFAULT_HEIGHT: u32 = 720;

#[derive(Clone, Debug)]
pub struct Camera {
    pub name: String,
    /// Camera-to-world transform; any scale in it is ignored.
    pub to_world: Affine3A,
    pub projection: Projection,
    /// Width / height, when the file fixes it.
    pub aspect_ratio: Option<f32>,
    /// Distance of the near clipping plane: nothing nearer is seen.
    pub znear: f32,
}

/// How a camera maps its film to rays.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Projection {
    /// Rays from one point; `yfov` is the vertical field of view in radians.
    Perspective { yfov: f32 },
    /// Parallel rays; `ymag` is half the film's height in world units (its width follows the
    /// image's aspect ratio).
    Orthographic { ymag: f32 },
}

impl Camera {
    /// 1280 wide at the camera's aspect ratio, or 1280x720 when it has none.
    pub fn default_resolution(&self) -> Resolution {
        let height = match self.aspect_ratio {
            Some(a) if a.is_finite() && a > 0.0 => {
                ((DEFAULT_WIDTH as f32 / a).round() as u32).clamp(1, crate::film::MAX_IMAGE_SIDE)
            }
            _ => DEFAULT_HEIGHT,
        };
        Resolution::new(DEFAULT_WIDTH, height).expect("default resolution is valid")
    }

    /// Forward, right and up as rays use them. Orthonormalised: a scaled or sheared camera node
    /// must not stretch the image.
    fn axes(&self) -> (Vec3, Vec3, Vec3) {
        let forward = (-Vec3::from(self.to_world.matrix3.z_axis)).normalize();
        let up0 = Vec3::from(self.to_world.matrix3.y_axis);
        let right = forward.cross(up0).normalize();
        let up = right.cross(forward);
        (forward, right, up)
    }

    /// Whether the transform gives the camera a finite position and unit axes. A zero scale, a
    /// NaN, or an up axis along the view direction leaves none, and every ray would be NaN.
    pub fn has_usable_transform(&self) -> bool {
        let (forward, right, up) = self.axes();
        Vec3::from(self.to_world.translation).is_finite()
            && [forward, right, up].into_iter().all(Vec3::is_normalized)
    }

    /// Precomputes what ray generation needs for images of `resolution`.
    pub fn raster(&self, resolution: Resolution) -> RasterCamera {
        let origin = Vec3::from(self.to_world.translation);
        let (forward, right, up) = self.axes();
        let (half_height, orthographic) = match self.projection {
            Projection::Perspective { yfov } => (transcendental::tan(yfov * 0.5), false),
            Projection::Orthographic { ymag } => (ymag, true),
        };
        let aspect = resolution.width() as f32 / resolution.height() as f32;
        RasterCamera {
            origin,
            forward,
            right: right * (half_height * aspect),
            up: up * half_height,
            inv_width: 1.0 / resolution.width() as f32,
            inv_height: 1.0 / resolution.height() as f32,
            orthographic,
            znear: self.znear,
        }
    }
}

/// A viewpoint given with the job, overriding the scene's camera (or the default view) in part:
/// where from, where to, how wide. What it leaves out stays the camera's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct View {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub look_from: Option<Point>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub look_at: Option<Point>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fov: Option<FieldOfView>,
}

impl View {
    pub fn is_empty(&self) -> bool {
        *self == View::default()
    }

    /// `camera` moved to `look_from`, turned towards `look_at` (keeping +Y up) and widened to
    /// `fov`, as far as each is given.
    pub fn apply(&self, camera: &Camera) -> Camera {
        let m = camera.to_world.matrix3;
        let eye = self
            .look_from
            .map_or(Vec3::from(camera.to_world.translation), |p| p.0);
        let own_forward = (-Vec3::from(m.z_axis)).normalize_or(Vec3::NEG_Z);
        let forward = match self.look_at {
            Some(at) => (at.0 - eye).normalize_or(own_forward),
            None => own_forward,
        };
        // Looking straight up or down, +Y cannot be up: the camera's own up (or -Z) serves.
        let up_hint = if forward.cross(Vec3::Y).length() > 1e-4 {
            Vec3::Y
        } else {
            Vec3::from(m.y_axis).normalize_or(Vec3::NEG_Z)
        };
        let right = forward.cross(up_hint).normalize_or(Vec3::X);
        let up = right.cross(forward);
        Camera {
            name: camera.name.clone(),
            to_world: Affine3A::from_mat3_translation(Mat3::from_cols(right, up, -forward), eye),
            projection: self
                .fov
                .map_or(camera.projection, |f| Projection::Perspective {
                    yfov: f.0.to_radians(),
                }),
            aspect_ratio: camera.aspect_ratio,
            znear: camera.znear,
        }
    }
}

/// What a view's parts may not be.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ViewError {
    #[error("invalid point '{0}': expected X,Y,Z with three finite numbers (e.g. 0,1.5,4)")]
    BadPoint(String),
    #[error("invalid field of view '{0}': expected degrees above 0 and below 180")]
    BadFov(String),
}

/// A finite point in world space, written `x,y,z`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "[f32; 3]", into = "[f32; 3]")]
pub struct Point(Vec3);

impl TryFrom<[f32; 3]> for Point {
    type Error = ViewError;

    fn try_from(xyz: [f32; 3]) -> Result<Self, ViewError> {
        let p = Vec3::from(xyz);
        if p.is_finite() {
            Ok(Point(p))
        } else {
            Err(ViewError::BadPoint(format!(
                "{},{},{}",
                xyz[0], xyz[1], xyz[2]
            )))
        }
    }
}

impl From<Point> for [f32; 3] {
    fn from(p: Point) -> Self {
        p.0.to_array()
    }
}

impl FromStr for Point {
    type Err = ViewError;

    fn from_str(s: &str) -> Result<Self, ViewError> {
        let bad = || ViewError::BadPoint(s.chars().take(60).collect());
        let parts: Vec<f32> = s
            .split(',')
            .map(|p| p.trim().parse().map_err(|_| bad()))
            .collect::<Result<_, _>>()?;
        let xyz: [f32; 3] = parts.try_into().map_err(|_| bad())?;
        Point::try_from(xyz).map_err(|_| bad())
    }
}

impl fmt::Display for Point {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{},{},{}", self.0.x, self.0.y, self.0.z)
    }
}

/// A vertical field of view in degrees, above 0 and below 180.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "f32", into = "f32")]
pub struct FieldOfView(f32);

impl TryFrom<f32> for FieldOfView {
    type Error = ViewError;

    fn try_from(degrees: f32) -> Result<Self, ViewError> {
        if degrees > 0.0 && degrees < 180.0 {
            Ok(FieldOfView(degrees))
        } else {
            Err(ViewError::BadFov(degrees.to_string()))
        }
    }
}

impl From<FieldOfView> for f32 {
    fn from(f: FieldOfView) -> Self {
        f.0
    }
}

impl FromStr for FieldOfView {
    type Err = ViewError;

    fn from_str(s: &str) -> Result<Self, ViewError> {
        let bad = || ViewError::BadFov(s.chars().take(40).collect());
        let degrees: f32 = s.trim().parse().map_err(|_| bad())?;
        FieldOfView::try_from(degrees).map_err(|_| bad())
    }
}

impl fmt::Display for FieldOfView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A camera bound to an image size: maps film positions (in pixels, y down) to rays.
#[derive(Clone, Copy, Debug)]
pub struct RasterCamera {
    pub origin: Vec3,
    pub forward: Vec3,
    /// Right and up vectors scaled to the film's half extents: at distance 1 for a perspective
    /// camera, in world units for an orthographic one.
    pub right: Vec3,
    pub up: Vec3,
    pub inv_width: f32,
    pub inv_height: f32,
    pub orthographic: bool,
    pub znear: f32,
}

impl RasterCamera {
    /// The ray through a film position, starting on the near plane, and how far that start is
    /// from the camera along the ray (which depth counts from).
    pub fn ray(&self, film_x: f32, film_y: f32) -> (Ray, f32) {
        let ndc_x = 2.0 * film_x * self.inv_width - 1.0;
        let ndc_y = 1.0 - 2.0 * film_y * self.inv_height;
        let offset = self.right * ndc_x + self.up * ndc_y;
        let (origin, dir) = if self.orthographic {
            (self.origin + offset, self.forward)
        } else {
            (self.origin, (self.forward + offset).normalize())
        };
        let near = self.znear / dir.dot(self.forward);
        (Ray::new(origin + dir * near, dir), near)
    }

    /// [`ray`](Self::ray) through a film position per lane: origins, directions and
    /// distances to the near plane.
    #[inline(always)]
    pub(crate) fn rays(&self, film_x: F, film_y: F) -> (V3, V3, F) {
        let (one, two) = (F::splat(1.0), F::splat(2.0));
        let ndc_x = two * film_x * F::splat(self.inv_width) - one;
        let ndc_y = one - two * film_y * F::splat(self.inv_height);
        let offset = V3::splat(self.right).scale(ndc_x) + V3::splat(self.up).scale(ndc_y);
        let forward = V3::splat(self.forward);
        let (origin, dir) = if self.orthographic {
            (V3::splat(self.origin) + offset, forward)
        } else {
            (V3::splat(self.origin), (forward + offset).normalize())
        };
        let near = F::splat(self.znear) / dir.dot(forward);
        (origin + dir.scale(near), dir, near)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn camera() -> Camera {
        Camera {
            name: "c".into(),
            to_world: Affine3A::from_translation(Vec3::new(0.0, 1.0, 0.0)),
            projection: Projection::Perspective { yfov: 1.0 },
            aspect_ratio: Some(2.0),
            znear: 0.0,
        }
    }

    #[test]
    fn a_view_replaces_only_what_it_gives() {
        let c = camera();
        let same = View::default().apply(&c);
        assert_eq!(same.to_world, c.to_world);
        let view = View {
            look_from: Some("0,0,5".parse().unwrap()),
            look_at: Some("0,0,0".parse().unwrap()),
            fov: Some("90".parse().unwrap()),
        };
        let moved = view.apply(&c);
        assert_eq!(
            Vec3::from(moved.to_world.translation),
            Vec3::new(0.0, 0.0, 5.0)
        );
        // Looking down -Z with +Y up, as glTF cameras do.
        assert!((Vec3::from(moved.to_world.matrix3.z_axis) - Vec3::Z).length() < 1e-6);
        assert!((Vec3::from(moved.to_world.matrix3.y_axis) - Vec3::Y).length() < 1e-6);
        assert_eq!(
            moved.projection,
            Projection::Perspective {
                yfov: 90f32.to_radians()
            }
        );
        assert_eq!(moved.aspect_ratio, Some(2.0));
        // Only a point to look at: the camera stays where it is and turns.
        let turned = View {
            look_at: Some("3,1,0".parse().unwrap()),
            ..View::default()
        }
        .apply(&c);
        assert_eq!(Vec3::from(turned.to_world.translation), Vec3::Y);
        assert!((Vec3::from(turned.to_world.matrix3.z_axis) + Vec3::X).length() < 1e-6);
        // Straight down still gives a valid frame.
        let down = View {
            look_at: Some("0,-5,0".parse().unwrap()),
            ..View::default()
        }
        .apply(&c);
        assert!(down.to_world.matrix3.determinant() > 0.99);
    }

    #[test]
    fn degenerate_transforms_are_not_usable() {
        assert!(camera().has_usable_transform());
        let scaled = |scale: Vec3| Camera {
            to_world: Affine3A::from_scale(scale),
            ..camera()
        };
        assert!(scaled(Vec3::new(2.0, 0.5, 3.0)).has_usable_transform());
        assert!(!scaled(Vec3::new(1.0, 0.0, 1.0)).has_usable_transform());
        assert!(!scaled(Vec3::ZERO).has_usable_transform());
        assert!(!scaled(Vec3::splat(f32::NAN)).has_usable_transform());
        // Up along the view direction.
        let sheared = Camera {
            to_world: Affine3A::from_mat3(Mat3::from_cols(Vec3::X, Vec3::Z, Vec3::Z)),
            ..camera()
        };
        assert!(!sheared.has_usable_transform());
        let lost = Camera {
            to_world: Affine3A::from_translation(Vec3::splat(f32::INFINITY)),
            ..camera()
        };
        assert!(!lost.has_usable_transform());
    }

    #[test]
    fn views_parse_and_refuse_by_value() {
        assert_eq!(
            "1, 2.5,-3".parse::<Point>().unwrap().to_string(),
            "1,2.5,-3"
        );
        assert!("1,2".parse::<Point>().is_err());
        assert!("1,2,inf".parse::<Point>().is_err());
        assert!("0".parse::<FieldOfView>().is_err());
        assert!("179.5".parse::<FieldOfView>().is_ok());
        assert!(serde_json::from_str::<FieldOfView>("180").is_err());
        assert!(serde_json::from_str::<Point>("[1, 2, 3]").is_ok());
    }
}
