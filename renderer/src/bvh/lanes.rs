//! The two tests traversal makes, eight at a time: a ray against a wide node's eight boxes and
//! against a leaf's eight triangles (or two leaves' sixteen). Each has a portable path and, on
//! x86-64, AVX2 and AVX-512 paths chosen at run time. Every path performs the same IEEE
//! operations in the same order (no fused multiply-add, the same `min`/`max` rule for NaN), so
//! they return the same bits and images do not depend on the machine's instruction set.

use glam::Vec3;

use crate::geometry::Ray;
use crate::lane::{F, LANES, M, V3};

/// Children per wide node, and triangles per leaf block.
pub const WIDTH: usize = 8;

pub type Lanes = [f32; WIDTH];

/// An instruction-set path for the CPU's traversal and render loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Isa {
    /// Eight lanes in plain Rust: runs everywhere.
    Scalar,
    /// Eight lanes in one AVX2 register (x86-64).
    Avx2,
    /// Sixteen lanes in one AVX-512 register: two leaves' triangles at once (x86-64 with
    /// AVX-512F); boxes as on AVX2.
    Avx512,
}

impl Isa {
    /// The fastest path this processor runs: the widest, except that AVX-512 is taken only on
    /// AMD's processors. Code built for AVX-512 uses 512-bit registers even to copy values, and
    /// on Intel's that costs more than the wider leaf test gains (Emerald Rapids: 1.08x and, on
    /// another day, 1.17x AVX2's time on the Cornell box, 1.04x on SheenChair); on AMD's EPYC
    /// it cost nothing on the Cornell box and took 0.76-0.92x AVX2's time on SheenChair. Every
    /// path renders the same bits, so this choice is about speed alone.
    pub fn detect() -> Isa {
        let available = Self::available();
        let widest = *available
            .last()
            .expect("the scalar path is always available");
        if widest == Isa::Avx512 && !wide_registers_pay() {
            Isa::Avx2
        } else {
            widest
        }
    }

    /// Every path this processor runs, slowest first.
    pub fn available() -> Vec<Isa> {
        let mut isas = vec![Isa::Scalar];
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            isas.push(Isa::Avx2);
            if std::arch::is_x86_feature_detected!("avx512f") {
                isas.push(Isa::Avx512);
            }
        }
        isas
    }

    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
        }
    }
}

/// Whether the processor is AMD's, on which AVX-512's 512-bit registers do not slow the rest of
/// the code down (see [`Isa::detect`]).
#[cfg(target_arch = "x86_64")]
fn wide_registers_pay() -> bool {
    // Leaf 0 names the vendor in EBX, EDX, ECX: "AuthenticAMD".
    let id = std::arch::x86_64::__cpuid(0);
    [id.ebx, id.edx, id.ecx] == [0x6874_7541, 0x6974_6e65, 0x444d_4163]
}

#[cfg(not(target_arch = "x86_64"))]
fn wide_registers_pay() -> bool {
    false
}

/// Eight boxes in structure-of-arrays form.
#[repr(C, align(32))]
#[derive(Clone, Copy, Debug)]
pub struct Boxes {
    pub min: [Lanes; 3],
    pub max: [Lanes; 3],
}

/// Eight triangles in structure-of-arrays form: one vertex, two edges and their cross product,
/// which the test would otherwise work out on every ray. Unused lanes hold a degenerate
/// triangle, which no ray hits.
#[repr(C, align(32))]
#[derive(Clone, Copy, Debug, Default)]
pub struct Triangles {
    p0: [Lanes; 3],
    e1: [Lanes; 3],
    e2: [Lanes; 3],
    /// `e1 × e2`.
    n: [Lanes; 3],
}

impl Triangles {
    /// Puts the triangle with vertex `p0` and edges `e1` and `e2` in lane `lane`.
    pub fn set(&mut self, lane: usize, p0: Vec3, e1: Vec3, e2: Vec3) {
        let n = e1.cross(e2);
        for a in 0..3 {
            self.p0[a][lane] = p0[a];
            self.e1[a][lane] = e1[a];
            self.e2[a][lane] = e2[a];
            self.n[a][lane] = n[a];
        }
    }
}

/// The ray as the box test wants it: reciprocal direction and origin times it.
#[derive(Clone, Copy, Debug)]
pub struct SlabRay {
    inv: [f32; 3],
    org_inv: [f32; 3],
}

impl SlabRay {
    pub fn new(ray: &Ray) -> Self {
        let inv = ray.dir.map(away_from_zero).recip();
        let oi = ray.origin * inv;
        Self {
            inv: inv.into(),
            org_inv: oi.into(),
        }
    }

    /// [`new`](Self::new) of the rays (`origin`, `dir`) of lanes `lanes`, with the same bits,
    /// divided a vector at a time before any lane is traced, so that no traversal starts by
    /// waiting for its three divisions (the Cornell box on AMD's EPYC: 0.96-0.97x the time in
    /// four alternating comparisons of 8-12 pairs). Other lanes hold zeros.
    #[inline(always)]
    pub fn lanes(lanes: M, origin: V3, dir: V3) -> [SlabRay; LANES] {
        let one = F::splat(1.0);
        let inv = V3 {
            x: one / dir.x.map(away_from_zero),
            y: one / dir.y.map(away_from_zero),
            z: one / dir.z.map(away_from_zero),
        };
        let org_inv = origin * inv;
        let mut slabs = [SlabRay {
            inv: [0.0; 3],
            org_inv: [0.0; 3],
        }; LANES];
        for i in lanes.lanes() {
            slabs[i] = SlabRay {
                inv: inv.get(i).into(),
                org_inv: org_inv.get(i).into(),
            };
        }
        slabs
    }
}

/// An axis-parallel ray (all of an orthographic camera's) has zero components, whose infinite
/// reciprocals make `max * inv - origin * inv` inf - inf = NaN and lose every box; a component
/// of 1e-30 is the same ray in effect and keeps the test finite.
#[inline(always)]
fn away_from_zero(d: f32) -> f32 {
    if d.abs() < 1e-30 {
        1e-30f32.copysign(d)
    } else {
        d
    }
}

/// Which triangles a ray hits, and where.
pub struct TriangleHits {
    pub mask: u32,
    pub t: Lanes,
    pub u: Lanes,
    pub v: Lanes,
}

/// Triangles whose determinant is smaller in magnitude than this are seen edge on and missed.
const PARALLEL: f32 = 1e-12;

/// The two tests on one instruction-set path. Traversal is generic over this and compiled once
/// per path, so that a path's tests inline into a traversal compiled for its instructions.
pub trait Kernel: Copy {
    /// Lanes in which the ray enters the box before `t_max` (bit `i` for lane `i`), and the
    /// distances where it enters.
    fn slabs(self, boxes: &Boxes, ray: &SlabRay, t_max: f32) -> (u32, Lanes);

    /// Lanes whose triangle the ray hits with `t_min < t < t_max` ([`edge_tests`]), with the
    /// distance and the barycentrics of vertices 1 and 2.
    fn triangles(self, tris: &Triangles, ray: &Ray, t_min: f32, t_max: f32) -> TriangleHits;

    /// [`triangles`](Self::triangles) of two blocks against the same `t_max`; a path with
    /// sixteen lanes tests both at once.
    #[inline(always)]
    fn triangle_pair(
        self,
        pair: [&Triangles; 2],
        ray: &Ray,
        t_min: f32,
        t_max: f32,
    ) -> [TriangleHits; 2] {
        pair.map(|tris| self.triangles(tris, ray, t_min, t_max))
    }
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

/// The AVX-512 path: a value exists only where the processor has AVX2 and AVX-512F. Boxes
/// and single blocks go the AVX2 way.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy, Debug)]
pub struct Avx512(Avx2);

#[cfg(target_arch = "x86_64")]
impl Avx512 {
    /// # Safety
    /// The processor must have AVX2 and AVX-512F (`Isa::available` lists `Isa::Avx512`).
    pub unsafe fn new() -> Self {
        // SAFETY: the caller's promise includes AVX2.
        Avx512(unsafe { Avx2::new() })
    }
}

#[cfg(target_arch = "x86_64")]
impl Kernel for Avx512 {
    #[inline(always)]
    fn slabs(self, boxes: &Boxes, ray: &SlabRay, t_max: f32) -> (u32, Lanes) {
        self.0.slabs(boxes, ray, t_max)
    }

    #[inline(always)]
    fn triangles(self, tris: &Triangles, ray: &Ray, t_min: f32, t_max: f32) -> TriangleHits {
        self.0.triangles(tris, ray, t_min, t_max)
    }

    #[inline(always)]
    fn triangle_pair(
        self,
        pair: [&Triangles; 2],
        ray: &Ray,
        t_min: f32,
        t_max: f32,
    ) -> [TriangleHits; 2] {
        // SAFETY: an `Avx512` exists only where AVX-512F does.
        unsafe { avx512::triangle_pair(pair, ray, t_min, t_max) }
    }
}

/// Lane-wise arithmetic on one register width, so that every path computes the triangle test
/// from one formula ([`moller_trumbore`]).
trait Wide: Copy {
    fn splat(x: f32) -> Self;
    fn add(self, o: Self) -> Self;
    fn sub(self, o: Self) -> Self;
    fn mul(self, o: Self) -> Self;
    fn neg(self) -> Self;
}

impl Wide for f32 {
    #[inline(always)]
    fn splat(x: f32) -> Self {
        x
    }
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        self + o
    }
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        self - o
    }
    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        self * o
    }
    #[inline(always)]
    fn neg(self) -> Self {
        -self
    }
}

/// Moller-Trumbore's test without its division, as Embree does it: the determinant `det` and
/// the numerators `u_det`, `v_det` and `t_det` of vertex 1's and vertex 2's barycentrics and of
/// the distance, each to be divided by `det`. Whether a lane hits follows from these by
/// comparison alone (`hit` of each path), so the one division comes off the hit test's critical
/// path; and the triangle's normal, stored, spares a cross product per triangle and ray. On
/// the Cornell box on AMD's EPYC the benchmark took 0.96x Moller-Trumbore's time (two builds,
/// twelve alternating pairs each: 0.91-1.00). `vertex` gives a triangle's p0, e1, e2 and n.
#[inline(always)]
fn edge_tests<W: Wide>(vertex: [[W; 3]; 4], ray: &Ray) -> [W; 4] {
    let [p0, e1, e2, n] = vertex;
    // Functions, not closures, so that they inline into the vector paths' functions, and the
    // intrinsics with them.
    #[inline(always)]
    fn cross<W: Wide>(a: [W; 3], b: [W; 3]) -> [W; 3] {
        [
            a[1].mul(b[2]).sub(b[1].mul(a[2])),
            a[2].mul(b[0]).sub(b[2].mul(a[0])),
            a[0].mul(b[1]).sub(b[0].mul(a[1])),
        ]
    }
    #[inline(always)]
    fn dot<W: Wide>(a: [W; 3], b: [W; 3]) -> W {
        a[0].mul(b[0]).add(a[1].mul(b[1])).add(a[2].mul(b[2]))
    }
    let splat3 = |v: Vec3| [W::splat(v.x), W::splat(v.y), W::splat(v.z)];
    let (d, o) = (splat3(ray.dir), splat3(ray.origin));
    // With c = p0 - o and q = c × d: det = d·n, u = e2·q / det, v = -e1·q / det and
    // t = c·n / det, which is Moller-Trumbore's u, v and t rearranged.
    let c = [p0[0].sub(o[0]), p0[1].sub(o[1]), p0[2].sub(o[2])];
    let q = cross(c, d);
    [dot(d, n), dot(e2, q), dot(e1, q).neg(), dot(c, n)]
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
        for i in 0..WIDTH {
            let lane = |v: &[Lanes; 3]| v.map(|axis| axis[i]);
            let vertex = [&tr.p0, &tr.e1, &tr.e2, &tr.n].map(lane);
            let [det, u_det, v_det, t_det] = edge_tests(vertex, ray);
            // The numerators with the determinant's sign taken out, as the vector paths do
            // with the sign bit.
            let sign = det.to_bits() & 0x8000_0000;
            let unsigned = |x: f32| f32::from_bits(x.to_bits() ^ sign);
            let (u, v, t, a) = (unsigned(u_det), unsigned(v_det), unsigned(t_det), det.abs());
            let hit = a >= PARALLEL
                && u >= 0.0
                && v >= 0.0
                && u + v <= a
                && t > t_min * a
                && t < t_max * a;
            hits.mask |= u32::from(hit) << i;
            let inv = 1.0 / det;
            (hits.t[i], hits.u[i], hits.v[i]) = (t_det * inv, u_det * inv, v_det * inv);
        }
        hits
    }
}

/// [`Wide`] for an x86 register type, from its intrinsics.
#[cfg(target_arch = "x86_64")]
macro_rules! wide_register {
    ($register:ty, $splat:ident, $add:ident, $sub:ident, $mul:ident, $xor:ident) => {
        // SAFETY (every method): `Wide` is private to this module, whose only callers on
        // registers are the AVX2 and AVX-512 functions, which run once `Isa::available` found
        // their instructions.
        impl Wide for $register {
            #[inline(always)]
            fn splat(x: f32) -> Self {
                unsafe { $splat(x) }
            }
            #[inline(always)]
            fn add(self, o: Self) -> Self {
                unsafe { $add(self, o) }
            }
            #[inline(always)]
            fn sub(self, o: Self) -> Self {
                unsafe { $sub(self, o) }
            }
            #[inline(always)]
            fn mul(self, o: Self) -> Self {
                unsafe { $mul(self, o) }
            }
            #[inline(always)]
            fn neg(self) -> Self {
                unsafe { $xor(self, $splat(-0.0)) }
            }
        }
    };
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
        let vertex = [&tr.p0, &tr.e1, &tr.e2, &tr.n].map(|v| v.each_ref().map(|axis| load(axis)));
        let [det, u_det, v_det, t_det] = edge_tests(vertex, ray);
        let sign_bit = _mm256_set1_ps(-0.0);
        let sign = _mm256_and_ps(det, sign_bit);
        let (u, v, t) = [u_det, v_det, t_det].map(|x| _mm256_xor_ps(x, sign)).into();
        let a = _mm256_andnot_ps(sign_bit, det);
        let zero = _mm256_setzero_ps();
        let and = _mm256_and_ps;
        let hit = and(
            and(
                and(
                    _mm256_cmp_ps::<_CMP_GE_OQ>(a, _mm256_set1_ps(PARALLEL)),
                    _mm256_cmp_ps::<_CMP_GE_OQ>(u, zero),
                ),
                _mm256_cmp_ps::<_CMP_GE_OQ>(v, zero),
            ),
            and(
                and(
                    _mm256_cmp_ps::<_CMP_LE_OQ>(_mm256_add_ps(u, v), a),
                    _mm256_cmp_ps::<_CMP_GT_OQ>(t, _mm256_mul_ps(_mm256_set1_ps(t_min), a)),
                ),
                _mm256_cmp_ps::<_CMP_LT_OQ>(t, _mm256_mul_ps(_mm256_set1_ps(t_max), a)),
            ),
        );
        let inv = _mm256_div_ps(_mm256_set1_ps(1.0), det);
        TriangleHits {
            mask: _mm256_movemask_ps(hit) as u32,
            t: store(_mm256_mul_ps(t_det, inv)),
            u: store(_mm256_mul_ps(u_det, inv)),
            v: store(_mm256_mul_ps(v_det, inv)),
        }
    }

    wide_register!(
        __m256,
        _mm256_set1_ps,
        _mm256_add_ps,
        _mm256_sub_ps,
        _mm256_mul_ps,
        _mm256_xor_ps
    );
}

/// The triangle test sixteen lanes wide, on two blocks at once.
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::*;

    /// `_mm512_xor_ps` needs AVX-512DQ; this is the same on AVX-512F alone.
    #[inline]
    #[target_feature(enable = "avx2,avx512f")]
    fn xor512(a: __m512, b: __m512) -> __m512 {
        _mm512_castsi512_ps(_mm512_xor_si512(
            _mm512_castps_si512(a),
            _mm512_castps_si512(b),
        ))
    }

    /// Block 0's lanes in the low half, block 1's in the high half.
    #[inline]
    #[target_feature(enable = "avx2,avx512f")]
    fn load(a: &Lanes, b: &Lanes) -> __m512 {
        // SAFETY: `Lanes` is eight f32s; each unaligned load reads exactly them.
        let (a, b) = unsafe { (_mm256_loadu_ps(a.as_ptr()), _mm256_loadu_ps(b.as_ptr())) };
        _mm512_castpd_ps(_mm512_insertf64x4::<1>(
            _mm512_castpd256_pd512(_mm256_castps_pd(a)),
            _mm256_castps_pd(b),
        ))
    }

    #[inline]
    #[target_feature(enable = "avx2,avx512f")]
    fn store(v: __m512) -> [Lanes; 2] {
        let mut out = [[0.0; WIDTH]; 2];
        // SAFETY: `[Lanes; 2]` is sixteen contiguous f32s.
        unsafe { _mm512_storeu_ps(out.as_mut_ptr().cast(), v) };
        out
    }

    #[inline]
    #[target_feature(enable = "avx2,avx512f")]
    pub fn triangle_pair(
        [a, b]: [&Triangles; 2],
        ray: &Ray,
        t_min: f32,
        t_max: f32,
    ) -> [TriangleHits; 2] {
        let both = |x: &[Lanes; 3], y: &[Lanes; 3]| [0, 1, 2].map(|i| load(&x[i], &y[i]));
        let vertex = [
            both(&a.p0, &b.p0),
            both(&a.e1, &b.e1),
            both(&a.e2, &b.e2),
            both(&a.n, &b.n),
        ];
        let [det, u_det, v_det, t_det] = edge_tests(vertex, ray);
        let sign = _mm512_and_si512(_mm512_castps_si512(det), _mm512_set1_epi32(i32::MIN));
        let unsigned = |x: __m512| xor512(x, _mm512_castsi512_ps(sign));
        let (u, v, t) = (unsigned(u_det), unsigned(v_det), unsigned(t_det));
        let a = _mm512_abs_ps(det);
        let zero = _mm512_setzero_ps();
        let hit = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(a, _mm512_set1_ps(PARALLEL))
            & _mm512_cmp_ps_mask::<_CMP_GE_OQ>(u, zero)
            & _mm512_cmp_ps_mask::<_CMP_GE_OQ>(v, zero)
            & _mm512_cmp_ps_mask::<_CMP_LE_OQ>(_mm512_add_ps(u, v), a)
            & _mm512_cmp_ps_mask::<_CMP_GT_OQ>(t, _mm512_mul_ps(_mm512_set1_ps(t_min), a))
            & _mm512_cmp_ps_mask::<_CMP_LT_OQ>(t, _mm512_mul_ps(_mm512_set1_ps(t_max), a));
        let inv = _mm512_div_ps(_mm512_set1_ps(1.0), det);
        let [t, u, v] = [t_det, u_det, v_det].map(|x| _mm512_mul_ps(x, inv));
        let ([t0, t1], [u0, u1], [v0, v1]) = (store(t), store(u), store(v));
        [
            TriangleHits {
                mask: u32::from(hit & 0xff),
                t: t0,
                u: u0,
                v: v0,
            },
            TriangleHits {
                mask: u32::from(hit >> 8),
                t: t1,
                u: u1,
                v: v1,
            },
        ]
    }

    wide_register!(
        __m512,
        _mm512_set1_ps,
        _mm512_add_ps,
        _mm512_sub_ps,
        _mm512_mul_ps,
        xor512
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampler::SampleStream;

    fn lanes(s: &mut SampleStream, scale: f32) -> Lanes {
        std::array::from_fn(|_| (s.next_f32() - 0.5) * scale)
    }

    fn triangles(s: &mut SampleStream, degenerate: usize) -> Triangles {
        let mut tris = Triangles::default();
        let mut point = || Vec3::new(s.next_f32(), s.next_f32(), s.next_f32()) * 2.0 - 1.0;
        for lane in 0..WIDTH {
            let (p0, e1, e2) = (point(), point(), point());
            if lane == degenerate {
                tris.set(lane, p0, Vec3::ZERO, Vec3::ZERO);
            } else {
                tris.set(lane, p0, e1, e2);
            }
        }
        tris
    }

    fn assert_same(got: &TriangleHits, want: &TriangleHits, what: &str) {
        assert_eq!(got.mask, want.mask, "{what} triangle mask");
        assert_eq!(
            got.t.map(f32::to_bits),
            want.t.map(f32::to_bits),
            "{what} t"
        );
        assert_eq!(
            got.u.map(f32::to_bits),
            want.u.map(f32::to_bits),
            "{what} u"
        );
        assert_eq!(
            got.v.map(f32::to_bits),
            want.v.map(f32::to_bits),
            "{what} v"
        );
    }

    /// Every test of `kernel` returns the portable path's bits, on random boxes and triangles,
    /// including rays along an axis and boxes and triangles that are flat or empty.
    fn returns_the_portable_bits(kernel: impl Kernel, isa: Isa) {
        let mut s = SampleStream::new(3, 0, 0, 0, 0);
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
            let got = kernel.slabs(&boxes, &sr, 3.0);
            assert_eq!(got.0, want.0, "{isa:?} box mask");
            assert_eq!(got.1.map(f32::to_bits), want.1.map(f32::to_bits));

            let a = triangles(&mut s, round % WIDTH);
            let b = triangles(&mut s, (round + 3) % WIDTH);
            let want = [&a, &b].map(|tris| portable::triangles(tris, &ray, 0.0, 5.0));
            assert_same(&kernel.triangles(&a, &ray, 0.0, 5.0), &want[0], isa.name());
            let pair = kernel.triangle_pair([&a, &b], &ray, 0.0, 5.0);
            assert_same(&pair[0], &want[0], &format!("{isa:?} pair, first"));
            assert_same(&pair[1], &want[1], &format!("{isa:?} pair, second"));
        }
    }

    #[test]
    fn the_chosen_path_is_the_widest_but_avx512_only_on_amd() {
        let (chosen, available) = (Isa::detect(), Isa::available());
        #[cfg(target_arch = "x86_64")]
        let amd = {
            let id = std::arch::x86_64::__cpuid(0);
            let vendor: Vec<u8> = [id.ebx, id.edx, id.ecx]
                .iter()
                .flat_map(|r| r.to_le_bytes())
                .collect();
            println!("{}: {}", String::from_utf8_lossy(&vendor), chosen.name());
            vendor == b"AuthenticAMD"
        };
        #[cfg(not(target_arch = "x86_64"))]
        let amd = false;
        let want = available
            .iter()
            .rev()
            .find(|&&isa| isa != Isa::Avx512 || amd)
            .unwrap();
        assert_eq!(chosen, *want, "chosen from {available:?}");
    }

    #[test]
    fn every_path_returns_the_same_bits() {
        for isa in Isa::available() {
            match isa {
                Isa::Scalar => returns_the_portable_bits(Portable, isa),
                // SAFETY (both): `Isa::available` listed it.
                #[cfg(target_arch = "x86_64")]
                Isa::Avx2 => returns_the_portable_bits(unsafe { Avx2::new() }, isa),
                #[cfg(target_arch = "x86_64")]
                Isa::Avx512 => returns_the_portable_bits(unsafe { Avx512::new() }, isa),
                #[allow(unreachable_patterns)]
                _ => unreachable!("{isa:?} is not available here"),
            }
        }
    }
}
