//! The two tests traversal makes, eight at a time: a ray against a wide node's eight boxes and
//! against a leaf's eight triangles. Each has a portable path and, on x86-64 with AVX2, a vector
//! path chosen at run time. Both paths perform the same IEEE operations in the same order (no
//! fused multiply-add, the same `min`/`max` rule for NaN), so they return the same bits and
//! images do not depend on the machine's instruction set.

use glam::Vec3;

use crate::geometry::Ray;

/// Children per wide node, and triangles per leaf block.
pub const WIDTH: usize = 8;

pub type Lanes = [f32; WIDTH];

/// An instruction-set path for the CPU's traversal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Isa {
    /// Eight lanes in plain Rust: runs everywhere.
    Scalar,
    /// Eight lanes in one AVX2 register (x86-64).
    Avx2,
}

impl Isa {
    /// The fastest path this processor runs.
    pub fn detect() -> Isa {
        *Self::available()
            .last()
            .expect("the scalar path is always available")
    }

    /// Every path this processor runs, slowest first.
    pub fn available() -> Vec<Isa> {
        let mut isas = vec![Isa::Scalar];
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            isas.push(Isa::Avx2);
        }
        isas
    }

    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
        }
    }
}

/// Eight boxes in structure-of-arrays form.
#[repr(C, align(32))]
#[derive(Clone, Copy, Debug)]
pub struct Boxes {
    pub min: [Lanes; 3],
    pub max: [Lanes; 3],
}

/// Eight triangles in structure-of-arrays form (one vertex and two edges). Unused lanes hold a
/// degenerate triangle, which no ray hits.
#[repr(C, align(32))]
#[derive(Clone, Copy, Debug, Default)]
pub struct Triangles {
    pub p0: [Lanes; 3],
    pub e1: [Lanes; 3],
    pub e2: [Lanes; 3],
}

/// The ray as the box test wants it: reciprocal direction and origin times it.
#[derive(Clone, Copy, Debug)]
pub struct SlabRay {
    pub inv: [f32; 3],
    pub org_inv: [f32; 3],
}

impl SlabRay {
    pub fn new(ray: &Ray) -> Self {
        // An axis-parallel ray (all of an orthographic camera's) has zero components, whose
        // infinite reciprocals make `max * inv - origin * inv` inf - inf = NaN and lose every
        // box; a component of 1e-30 is the same ray in effect and keeps the test finite.
        let away_from_zero = |d: f32| {
            if d.abs() < 1e-30 {
                1e-30f32.copysign(d)
            } else {
                d
            }
        };
        let inv = ray.dir.map(away_from_zero).recip();
        let oi = ray.origin * inv;
        Self {
            inv: inv.into(),
            org_inv: oi.into(),
        }
    }
}

/// Which triangles a ray hits, and where.
pub struct TriangleHits {
    pub mask: u32,
    pub t: Lanes,
    pub u: Lanes,
    pub v: Lanes,
}

/// Triangles whose determinant is smaller than this are seen edge on and missed.
const PARALLEL: f32 = 1e-12;

/// The two tests on one instruction-set path. Traversal is generic over this and compiled once
/// per path, so that a path's tests inline into a traversal compiled for its instructions.
pub trait Kernel: Copy {
    /// Lanes in which the ray enters the box before `t_max` (bit `i` for lane `i`), and the
    /// distances where it enters.
    fn slabs(self, boxes: &Boxes, ray: &SlabRay, t_max: f32) -> (u32, Lanes);

    /// Lanes whose triangle the ray hits with `t_min < t < t_max` (Moller-Trumbore), with
    /// the distance and the barycentrics of vertices 1 and 2.
    fn triangles(self, tris: &Triangles, ray: &Ray, t_min: f32, t_max: f32) -> TriangleHits;
}

/// The portable path.
#[derive(Clone, Copy, Debug)]
pub struct Portable;

impl Kernel for Portable {
    #[inline(always)]
    fn slabs(self, boxes: &Boxes, ray: &SlabRay, t_max: f32) -> (u32, Lanes) {
        portable::slabs(boxes, ray, t_max)
    }

    #[inline(always)]
    fn triangles(self, tris: &Triangles, ray: &Ray, t_min: f32, t_max: f32) -> TriangleHits {
        portable::triangles(tris, ray, t_min, t_max)
    }
}

/// The AVX2 path: a value exists only where the processor has AVX2.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy, Debug)]
pub struct Avx2(());

#[cfg(target_arch = "x86_64")]
impl Avx2 {
    /// # Safety
    /// The processor must have AVX2 (`Isa::available` lists `Isa::Avx2`).
    pub unsafe fn new() -> Self {
        Avx2(())
    }
}

#[cfg(target_arch = "x86_64")]
impl Kernel for Avx2 {
    #[inline(always)]
    fn slabs(self, boxes: &Boxes, ray: &SlabRay, t_max: f32) -> (u32, Lanes) {
        // SAFETY: an `Avx2` exists only where AVX2 does.
        unsafe { avx2::slabs(boxes, ray, t_max) }
    }

    #[inline(always)]
    fn triangles(self, tris: &Triangles, ray: &Ray, t_min: f32, t_max: f32) -> TriangleHits {
        // SAFETY: as in `slabs`.
        unsafe { avx2::triangles(tris, ray, t_min, t_max) }
    }
}

/// The lanes one at a time. `min` and `max` return their second operand when either is NaN,
/// as the x86 instructions do.
mod portable {
    use super::*;

    #[inline(always)]
    fn min(a: f32, b: f32) -> f32 {
        if a < b { a } else { b }
    }

    #[inline(always)]
    fn max(a: f32, b: f32) -> f32 {
        if a > b { a } else { b }
    }

    #[inline(always)]
    pub fn slabs(b: &Boxes, r: &SlabRay, t_max: f32) -> (u32, Lanes) {
        let mut near = [0.0; WIDTH];
        let mut mask = 0;
        for (i, near) in near.iter_mut().enumerate() {
            let t0 = |a: usize| b.min[a][i] * r.inv[a] - r.org_inv[a];
            let t1 = |a: usize| b.max[a][i] * r.inv[a] - r.org_inv[a];
            let (tx0, tx1, ty0, ty1, tz0, tz1) = (t0(0), t1(0), t0(1), t1(1), t0(2), t1(2));
            let n = max(max(max(min(tx0, tx1), min(ty0, ty1)), min(tz0, tz1)), 0.0);
            let f = min(min(min(max(tx0, tx1), max(ty0, ty1)), max(tz0, tz1)), t_max);
            *near = n;
            mask |= u32::from(n <= f) << i;
        }
        (mask, near)
    }

    #[inline(always)]
    pub fn triangles(tr: &Triangles, ray: &Ray, t_min: f32, t_max: f32) -> TriangleHits {
        let mut hits = TriangleHits {
            mask: 0,
            t: [0.0; WIDTH],
            u: [0.0; WIDTH],
            v: [0.0; WIDTH],
        };
        let (d, o) = (ray.dir, ray.origin);
        for i in 0..WIDTH {
            let lane = |v: &[Lanes; 3]| Vec3::new(v[0][i], v[1][i], v[2][i]);
            let (p0, e1, e2) = (lane(&tr.p0), lane(&tr.e1), lane(&tr.e2));
            let pvec = d.cross(e2);
            let det = e1.dot(pvec);
            let inv_det = 1.0 / det;
            let tvec = o - p0;
            let u = tvec.dot(pvec) * inv_det;
            let qvec = tvec.cross(e1);
            let v = d.dot(qvec) * inv_det;
            let t = e2.dot(qvec) * inv_det;
            let hit = det.abs() >= PARALLEL
                && (0.0..=1.0).contains(&u)
                && v >= 0.0
                && u + v <= 1.0
                && t > t_min
                && t < t_max;
            hits.mask |= u32::from(hit) << i;
            (hits.t[i], hits.u[i], hits.v[i]) = (t, u, v);
        }
        hits
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::*;

    #[inline]
    #[target_feature(enable = "avx2")]
    fn load(v: &Lanes) -> __m256 {
        // SAFETY: `Lanes` is eight f32s; the unaligned load reads exactly them.
        unsafe { _mm256_loadu_ps(v.as_ptr()) }
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn store(v: __m256) -> Lanes {
        let mut out = [0.0; WIDTH];
        // SAFETY: as in `load`.
        unsafe { _mm256_storeu_ps(out.as_mut_ptr(), v) };
        out
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    pub fn slabs(b: &Boxes, r: &SlabRay, t_max: f32) -> (u32, Lanes) {
        let inv = r.inv.map(|x| _mm256_set1_ps(x));
        let oi = r.org_inv.map(|x| _mm256_set1_ps(x));
        let t0 = |a: usize| _mm256_sub_ps(_mm256_mul_ps(load(&b.min[a]), inv[a]), oi[a]);
        let t1 = |a: usize| _mm256_sub_ps(_mm256_mul_ps(load(&b.max[a]), inv[a]), oi[a]);
        let (tx0, tx1, ty0, ty1, tz0, tz1) = (t0(0), t1(0), t0(1), t1(1), t0(2), t1(2));
        let near = _mm256_max_ps(
            _mm256_max_ps(
                _mm256_max_ps(_mm256_min_ps(tx0, tx1), _mm256_min_ps(ty0, ty1)),
                _mm256_min_ps(tz0, tz1),
            ),
            _mm256_setzero_ps(),
        );
        let far = _mm256_min_ps(
            _mm256_min_ps(
                _mm256_min_ps(_mm256_max_ps(tx0, tx1), _mm256_max_ps(ty0, ty1)),
                _mm256_max_ps(tz0, tz1),
            ),
            _mm256_set1_ps(t_max),
        );
        let mask = _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_LE_OQ>(near, far)) as u32;
        (mask, store(near))
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    pub fn triangles(tr: &Triangles, ray: &Ray, t_min: f32, t_max: f32) -> TriangleHits {
        let (mul, sub, add) = (_mm256_mul_ps, _mm256_sub_ps, _mm256_add_ps);
        let d = [ray.dir.x, ray.dir.y, ray.dir.z].map(|x| _mm256_set1_ps(x));
        let o = [ray.origin.x, ray.origin.y, ray.origin.z].map(|x| _mm256_set1_ps(x));
        let p0 = tr.p0.each_ref().map(|v| load(v));
        let e1 = tr.e1.each_ref().map(|v| load(v));
        let e2 = tr.e2.each_ref().map(|v| load(v));
        // a x b as glam's Vec3::cross computes it.
        let cross = |a: [__m256; 3], b: [__m256; 3]| {
            [
                sub(mul(a[1], b[2]), mul(b[1], a[2])),
                sub(mul(a[2], b[0]), mul(b[2], a[0])),
                sub(mul(a[0], b[1]), mul(b[0], a[1])),
            ]
        };
        let dot = |a: [__m256; 3], b: [__m256; 3]| {
            add(add(mul(a[0], b[0]), mul(a[1], b[1])), mul(a[2], b[2]))
        };
        let pvec = cross(d, e2);
        let det = dot(e1, pvec);
        let inv_det = _mm256_div_ps(_mm256_set1_ps(1.0), det);
        let tvec = [sub(o[0], p0[0]), sub(o[1], p0[1]), sub(o[2], p0[2])];
        let u = mul(dot(tvec, pvec), inv_det);
        let qvec = cross(tvec, e1);
        let v = mul(dot(d, qvec), inv_det);
        let t = mul(dot(e2, qvec), inv_det);
        let abs_det = _mm256_andnot_ps(_mm256_set1_ps(-0.0), det);
        let (zero, one) = (_mm256_setzero_ps(), _mm256_set1_ps(1.0));
        let and = _mm256_and_ps;
        let hit = and(
            and(
                and(
                    _mm256_cmp_ps::<_CMP_GE_OQ>(abs_det, _mm256_set1_ps(PARALLEL)),
                    _mm256_cmp_ps::<_CMP_GE_OQ>(u, zero),
                ),
                and(
                    _mm256_cmp_ps::<_CMP_LE_OQ>(u, one),
                    _mm256_cmp_ps::<_CMP_GE_OQ>(v, zero),
                ),
            ),
            and(
                and(
                    _mm256_cmp_ps::<_CMP_LE_OQ>(add(u, v), one),
                    _mm256_cmp_ps::<_CMP_GT_OQ>(t, _mm256_set1_ps(t_min)),
                ),
                _mm256_cmp_ps::<_CMP_LT_OQ>(t, _mm256_set1_ps(t_max)),
            ),
        );
        TriangleHits {
            mask: _mm256_movemask_ps(hit) as u32,
            t: store(t),
            u: store(u),
            v: store(v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampler::SampleStream;

    /// Runs the test for `isa` with its kernel (one closure per kernel type).
    fn on<R>(
        isa: Isa,
        portable: impl FnOnce(Portable) -> R,
        #[allow(unused_variables)] avx2: impl FnOnce(Avx2) -> R,
    ) -> R {
        match isa {
            Isa::Scalar => portable(Portable),
            // SAFETY: `Isa::available` listed it.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => avx2(unsafe { Avx2::new() }),
            #[allow(unreachable_patterns)]
            _ => unreachable!("{isa:?} is not available here"),
        }
    }

    fn lanes(s: &mut SampleStream, scale: f32) -> Lanes {
        std::array::from_fn(|_| (s.next_f32() - 0.5) * scale)
    }

    /// Every path returns the portable path's bits, on random boxes and triangles, including
    /// rays along an axis and boxes and triangles that are flat or empty.
    #[test]
    fn every_path_returns_the_same_bits() {
        let mut s = SampleStream::new(3, 0, 0, 0, 0);
        for isa in Isa::available() {
            for round in 0..2000 {
                let o = Vec3::new(s.next_f32(), s.next_f32(), s.next_f32()) * 4.0 - 2.0;
                let mut d = Vec3::new(s.next_f32(), s.next_f32(), s.next_f32()) - 0.5;
                if round % 7 == 0 {
                    d.y = 0.0;
                }
                let ray = Ray::new(o, d.normalize());
                let mut boxes = Boxes {
                    min: [lanes(&mut s, 4.0), lanes(&mut s, 4.0), lanes(&mut s, 4.0)],
                    max: [lanes(&mut s, 4.0), lanes(&mut s, 4.0), lanes(&mut s, 4.0)],
                };
                boxes.min[0][round % WIDTH] = f32::INFINITY;
                boxes.max[0][round % WIDTH] = f32::NEG_INFINITY;
                let sr = SlabRay::new(&ray);
                let want = portable::slabs(&boxes, &sr, 3.0);
                let got = on(
                    isa,
                    |k| k.slabs(&boxes, &sr, 3.0),
                    |k| k.slabs(&boxes, &sr, 3.0),
                );
                assert_eq!(got.0, want.0, "{isa:?} box mask");
                assert_eq!(got.1.map(f32::to_bits), want.1.map(f32::to_bits));

                let mut tris = Triangles {
                    p0: [lanes(&mut s, 2.0), lanes(&mut s, 2.0), lanes(&mut s, 2.0)],
                    e1: [lanes(&mut s, 2.0), lanes(&mut s, 2.0), lanes(&mut s, 2.0)],
                    e2: [lanes(&mut s, 2.0), lanes(&mut s, 2.0), lanes(&mut s, 2.0)],
                };
                for a in 0..3 {
                    tris.e1[a][round % WIDTH] = 0.0;
                    tris.e2[a][round % WIDTH] = 0.0;
                }
                let want = portable::triangles(&tris, &ray, 0.0, 5.0);
                let got = on(
                    isa,
                    |k| k.triangles(&tris, &ray, 0.0, 5.0),
                    |k| k.triangles(&tris, &ray, 0.0, 5.0),
                );
                assert_eq!(got.mask, want.mask, "{isa:?} triangle mask");
                assert_eq!(got.t.map(f32::to_bits), want.t.map(f32::to_bits));
                assert_eq!(got.u.map(f32::to_bits), want.u.map(f32::to_bits));
                assert_eq!(got.v.map(f32::to_bits), want.v.map(f32::to_bits));
            }
        }
    }
}
