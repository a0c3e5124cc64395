//! Rays, bounding boxes, and the ray-triangle test that the GPU kernels mirror.

use glam::Vec3;

#[derive(Clone, Copy, Debug)]
pub struct Ray {
    pub origin: Vec3,
    /// Unit length.
    pub dir: Vec3,
}

impl Ray {
    pub fn new(origin: Vec3, dir: Vec3) -> Self {
        Self { origin, dir }
    }
    pub fn at(&self, t: f32) -> Vec3 {
        self.origin + self.dir * t
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Aabb {
    pub min: Vec3,
    pub max: Vec3,
}

impl Aabb {
    pub const EMPTY: Aabb = Aabb {
        min: Vec3::splat(f32::INFINITY),
        max: Vec3::splat(f32::NEG_INFINITY),
    };
    pub fn grow(&mut self, p: Vec3) {
        self.min = self.min.min(p);
        self.max = self.max.max(p);
    }
    pub fn union(self, o: Aabb) -> Aabb {
        Aabb {
            min: self.min.min(o.min),
            max: self.max.max(o.max),
        }
    }
    pub fn centroid(&self) -> Vec3 {
        (self.min + self.max) * 0.5
    }
    pub fn surface_area(&self) -> f32 {
        let d = (self.max - self.min).max(Vec3::ZERO);
        2.0 * (d.x * d.y + d.y * d.z + d.z * d.x)
    }
}

/// Ray-triangle intersection (Moller-Trumbore). Returns (t, u, v) with barycentrics u, v for
/// vertices 1 and 2, for hits with `t_min < t < t_max`. The CPU's traversal computes the same
/// test without the division (`bvh::lanes`), which can round differently in the last bit; the
/// BVH's tests hold it to this one.
#[inline(always)]
pub fn intersect_triangle(
    ray: &Ray,
    p0: Vec3,
    e1: Vec3,
    e2: Vec3,
    t_min: f32,
    t_max: f32,
) -> Option<(f32, f32, f32)> {
    let pvec = ray.dir.cross(e2);
    let det = e1.dot(pvec);
    if det.abs() < 1e-12 {
        return None;
    }
    let inv_det = 1.0 / det;
    let tvec = ray.origin - p0;
    let u = tvec.dot(pvec) * inv_det;
    if !(0.0..=1.0).contains(&u) {
        return None;
    }
    let qvec = tvec.cross(e1);
    let v = ray.dir.dot(qvec) * inv_det;
    if v < 0.0 || u + v > 1.0 {
        return None;
    }
    let t = e2.dot(qvec) * inv_det;
    (t > t_min && t < t_max).then_some((t, u, v))
}
