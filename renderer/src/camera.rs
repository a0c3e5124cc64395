//! The perspective pinhole camera of glTF: it looks down its local -Z axis with +Y up.

use glam::{Affine3A, Vec3};

use crate::film::Resolution;
use crate::geometry::Ray;

/// Width used when the user gives no size, as in Blender's default render settings.
pub const DEFAULT_WIDTH: u32 = 1280;
/// Height used when neither the user nor the camera gives an aspect ratio (16:9).
pub const DEFAULT_HEIGHT: u32 = 720;

#[derive(Clone, Debug)]
pub struct Camera {
    pub name: String,
    /// Camera-to-world transform; any scale in it is ignored.
    pub to_world: Affine3A,
    /// Vertical field of view, radians.
    pub yfov: f32,
    /// Width / height, when the file fixes it.
    pub aspect_ratio: Option<f32>,
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

    /// Precomputes what ray generation needs for images of `resolution`.
    pub fn raster(&self, resolution: Resolution) -> RasterCamera {
        let origin = Vec3::from(self.to_world.translation);
        // Orthonormalise: a scaled or sheared camera node must not stretch the image.
        let forward = (-Vec3::from(self.to_world.matrix3.z_axis)).normalize();
        let up0 = Vec3::from(self.to_world.matrix3.y_axis);
        let right = forward.cross(up0).normalize();
        let up = right.cross(forward);
        let tan_half = (self.yfov * 0.5).tan();
        let aspect = resolution.width() as f32 / resolution.height() as f32;
        RasterCamera {
            origin,
            forward,
            right: right * (tan_half * aspect),
            up: up * tan_half,
            inv_width: 1.0 / resolution.width() as f32,
            inv_height: 1.0 / resolution.height() as f32,
        }
    }
}

/// A camera bound to an image size: maps film positions (in pixels, y down) to rays.
#[derive(Clone, Copy, Debug)]
pub struct RasterCamera {
    pub origin: Vec3,
    pub forward: Vec3,
    /// Right and up vectors scaled to the image plane's half extents at distance 1.
    pub right: Vec3,
    pub up: Vec3,
    pub inv_width: f32,
    pub inv_height: f32,
}

impl RasterCamera {
    pub fn ray(&self, film_x: f32, film_y: f32) -> Ray {
        let ndc_x = 2.0 * film_x * self.inv_width - 1.0;
        let ndc_y = 1.0 - 2.0 * film_y * self.inv_height;
        let dir = (self.forward + self.right * ndc_x + self.up * ndc_y).normalize();
        Ray::new(self.origin, dir)
    }
}
