//! Bounding volume hierarchy over a frame's triangles: built top-down with the binned surface
//! area heuristic, flattened depth-first into 32-byte nodes that the GPU backends read as is.
//! The CPU collapses it into an 8-wide tree ([`WideBvh`]) traversed eight boxes and eight
//! triangles at a time.

use std::time::Instant;

use bytemuck::{Pod, Zeroable};
use glam::Vec3;

use crate::geometry::Aabb;
use crate::scene::Mesh;

mod lanes;
mod wide;

pub use lanes::{Isa, SlabRay};
pub use wide::WideBvh;

/// A flattened node. Interior nodes (`count == 0`) have their left child right after them and
/// their right child at `offset`; leaves hold `count` triangles starting at `offset`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct BvhNode {
    pub min: [f32; 3],
    pub offset: u32,
    pub max: [f32; 3],
    pub count: u32,
}

/// A triangle in the layout intersection wants: one vertex and two edges.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct BvhTriangle {
    pub p0: [f32; 3],
    pub e1: [f32; 3],
    pub e2: [f32; 3],
}

/// What the build cost, for the render summary.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BvhStats {
    pub triangles: usize,
    pub nodes: usize,
    pub build_seconds: f64,
    pub bytes: usize,
}

pub struct Bvh {
    pub nodes: Vec<BvhNode>,
    /// Triangles in leaf order.
    pub triangles: Vec<BvhTriangle>,
    /// For each entry of `triangles`, its index in the mesh.
    pub triangle_ids: Vec<u32>,
    pub stats: BvhStats,
}

/// The closest hit of a ray: distance, barycentrics of vertices 1 and 2, mesh triangle index.
#[derive(Clone, Copy, Debug)]
pub struct Hit {
    pub t: f32,
    pub u: f32,
    pub v: f32,
    pub triangle: u32,
}

const BINS: usize = 16;
pub(crate) const MAX_LEAF: usize = 8;
/// Relative cost of a ray-box test against a ray-triangle test, in SAH units.
const TRAVERSAL_COST: f32 = 1.0;
const INTERSECT_COST: f32 = 1.0;
/// Below this depth, splits stop following the SAH and halve the primitives instead, which
/// bounds the tree's depth (and so the traversal stack) whatever the geometry.
pub(crate) const MAX_BINARY_DEPTH: usize = 64;
const SAH_DEPTH: usize = MAX_BINARY_DEPTH - 34;
/// Subtrees bigger than this are built in parallel.
const PARALLEL_THRESHOLD: usize = 32 * 1024;

struct Primitive {
    bounds: Aabb,
    centroid: Vec3,
}

impl Bvh {
    pub fn build(mesh: &Mesh) -> Bvh {
        let start = Instant::now();
        let prims: Vec<Primitive> = mesh
            .triangles
            .iter()
            .map(|t| {
                let mut b = Aabb::EMPTY;
                for &i in t {
                    b.grow(mesh.positions[i as usize]);
                }
                Primitive {
                    bounds: b,
                    centroid: b.centroid(),
                }
            })
            .collect();
        let mut order: Vec<u32> = (0..prims.len() as u32).collect();
        let nodes = if prims.is_empty() {
            vec![BvhNode {
                min: [f32::INFINITY; 3],
                offset: 0,
                max: [f32::NEG_INFINITY; 3],
                count: 0,
            }]
        } else {
            build_subtree(&prims, &mut order, 0, 0)
        };
        let triangles: Vec<BvhTriangle> = order
            .iter()
            .map(|&i| {
                let [a, b, c] = mesh.triangles[i as usize];
                let p0 = mesh.positions[a as usize];
                let p1 = mesh.positions[b as usize];
                let p2 = mesh.positions[c as usize];
                BvhTriangle {
                    p0: p0.into(),
                    e1: (p1 - p0).into(),
                    e2: (p2 - p0).into(),
                }
            })
            .collect();
        let bytes = nodes.len() * size_of::<BvhNode>()
            + triangles.len() * size_of::<BvhTriangle>()
            + order.len() * 4;
        let stats = BvhStats {
            triangles: triangles.len(),
            nodes: nodes.len(),
            build_seconds: start.elapsed().as_secs_f64(),
            bytes,
        };
        Bvh {
            nodes,
            triangles,
            triangle_ids: order,
            stats,
        }
    }
}

/// Hits closer than this fraction of their distance count as one tie, which the lower
/// leaf-order index wins, on every backend. Coplanar surfaces (a box standing on a floor) give
/// distances that differ in their last bits, and differently in each backend's arithmetic; a
/// tie broken by traversal order or by those bits would send their paths different ways.
pub const TIE_WINDOW: f32 = 1e-5;

/// The farthest distance that still ties with a hit at `t`.
#[inline(always)]
fn tie_reach(t: f32) -> f32 {
    t + t * TIE_WINDOW
}

/// Whether a hit at `t` on leaf-order triangle `k`, found within the tie window of the best
/// hit so far (`best_t`, `best_k`) or before it, replaces it.
#[inline(always)]
fn beats(t: f32, k: usize, best_t: f32, best_k: usize) -> bool {
    t < best_t - best_t * TIE_WINDOW || k < best_k
}

/// Builds the subtree over `order` (a slice of primitive indices it may reorder), returning its
/// nodes with child offsets relative to the subtree's first node and leaf offsets relative to
/// `order`'s start plus `first`.
fn build_subtree(
    prims: &[Primitive],
    order: &mut [u32],
    first: usize,
    depth: usize,
) -> Vec<BvhNode> {
    let mut nodes = Vec::with_capacity(order.len());
    build_into(prims, order, first, depth, &mut nodes);
    nodes
}

fn build_into(
    prims: &[Primitive],
    order: &mut [u32],
    first: usize,
    depth: usize,
    nodes: &mut Vec<BvhNode>,
) {
    let mut bounds = Aabb::EMPTY;
    let mut centroids = Aabb::EMPTY;
    for &i in order.iter() {
        let p = &prims[i as usize];
        bounds = bounds.union(p.bounds);
        centroids.grow(p.centroid);
    }
    let me = nodes.len();
    nodes.push(BvhNode {
        min: bounds.min.into(),
        offset: first as u32,
        max: bounds.max.into(),
        count: order.len() as u32,
    });
    if order.len() <= 2 {
        return;
    }
    let mid = if depth < SAH_DEPTH {
        split(prims, order, bounds, centroids)
    } else {
        // 2^34 primitives would be needed to reach MAX_BINARY_DEPTH from here.
        (order.len() > MAX_LEAF).then_some(order.len() / 2)
    };
    let Some(mid) = mid else {
        return;
    };
    let (left, right) = order.split_at_mut(mid);
    if left.len() + right.len() > PARALLEL_THRESHOLD {
        let (ln, rn) = rayon::join(
            || build_subtree(prims, left, first, depth + 1),
            || build_subtree(prims, right, first + mid, depth + 1),
        );
        let base = nodes.len();
        append_shifted(nodes, &ln, base);
        let right_at = nodes.len();
        append_shifted(nodes, &rn, right_at);
        nodes[me].offset = right_at as u32;
    } else {
        build_into(prims, left, first, depth + 1, nodes);
        nodes[me].offset = nodes.len() as u32;
        build_into(prims, right, first + mid, depth + 1, nodes);
    }
    nodes[me].count = 0;
}

fn append_shifted(nodes: &mut Vec<BvhNode>, sub: &[BvhNode], base: usize) {
    nodes.extend(sub.iter().map(|n| {
        let mut n = *n;
        if n.count == 0 {
            n.offset += base as u32;
        }
        n
    }));
}

/// Partitions `order` by the best binned-SAH split. Returns the size of the left part, or
/// `None` when a leaf is cheaper.
fn split(prims: &[Primitive], order: &mut [u32], bounds: Aabb, centroids: Aabb) -> Option<usize> {
    let extent = centroids.max - centroids.min;
    let n = order.len();
    let mut best: Option<(f32, usize, usize)> = None; // (cost, axis, split bin)
    let scale = Vec3::select(
        extent.cmpgt(Vec3::ZERO),
        Vec3::splat(BINS as f32) / extent,
        Vec3::ZERO,
    );
    // One pass over the primitives bins all three axes: the pass is memory-bound.
    let mut bin_bounds = [[Aabb::EMPTY; BINS]; 3];
    let mut bin_counts = [[0usize; BINS]; 3];
    for &i in order.iter() {
        let p = &prims[i as usize];
        for axis in 0..3 {
            let b = bin_of(p.centroid[axis], centroids.min[axis], scale[axis]);
            bin_counts[axis][b] += 1;
            bin_bounds[axis][b] = bin_bounds[axis][b].union(p.bounds);
        }
    }
    for axis in 0..3 {
        if extent[axis] <= 0.0 {
            continue;
        }
        let (bin_bounds, bin_counts) = (&bin_bounds[axis], &bin_counts[axis]);
        // Sweep from the right to get suffix areas, then from the left for the costs.
        let mut right_area = [0.0f32; BINS];
        let mut acc = Aabb::EMPTY;
        for b in (1..BINS).rev() {
            acc = acc.union(bin_bounds[b]);
            right_area[b] = acc.surface_area();
        }
        let mut left = Aabb::EMPTY;
        let mut left_count = 0;
        for b in 0..BINS - 1 {
            left = left.union(bin_bounds[b]);
            left_count += bin_counts[b];
            let right_count = n - left_count;
            if left_count == 0 || right_count == 0 {
                continue;
            }
            let cost =
                left.surface_area() * left_count as f32 + right_area[b + 1] * right_count as f32;
            if best.is_none_or(|(c, _, _)| cost < c) {
                best = Some((cost, axis, b));
            }
        }
    }
    let area = bounds.surface_area().max(f32::MIN_POSITIVE);
    let leaf_cost = INTERSECT_COST * n as f32;
    match best {
        Some((cost, axis, bin)) => {
            let split_cost = TRAVERSAL_COST + INTERSECT_COST * cost / area;
            if split_cost >= leaf_cost && n <= MAX_LEAF {
                return None;
            }
            let (min, scale) = (centroids.min[axis], scale[axis]);
            Some(partition(order, |i| {
                bin_of(prims[i as usize].centroid[axis], min, scale) <= bin
            }))
        }
        // All centroids coincide: no split separates them, so halve by index to keep leaves small.
        None if n > MAX_LEAF => Some(n / 2),
        None => None,
    }
}

#[inline(always)]
fn bin_of(c: f32, min: f32, scale: f32) -> usize {
    (((c - min) * scale) as usize).min(BINS - 1)
}

fn partition(order: &mut [u32], left: impl Fn(u32) -> bool) -> usize {
    let mut i = 0;
    for j in 0..order.len() {
        if left(order[j]) {
            order.swap(i, j);
            i += 1;
        }
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::{Ray, intersect_triangle};
    use crate::sampler::SampleStream;

    fn random_mesh(n: usize) -> Mesh {
        let mut s = SampleStream::new(1, 0, 0, 0, 0);
        let mut mesh = Mesh::default();
        for i in 0..n {
            let c = Vec3::new(s.next_f32(), s.next_f32(), s.next_f32()) * 10.0;
            for _ in 0..3 {
                let d = Vec3::new(s.next_f32(), s.next_f32(), s.next_f32()) - 0.5;
                mesh.positions.push(c + d);
            }
            let b = 3 * i as u32;
            mesh.triangles.push([b, b + 1, b + 2]);
        }
        mesh
    }

    fn brute_force(mesh: &Mesh, ray: &Ray) -> Option<(f32, u32)> {
        let mut best: Option<(f32, u32)> = None;
        for (i, t) in mesh.triangles.iter().enumerate() {
            let p0 = mesh.positions[t[0] as usize];
            let e1 = mesh.positions[t[1] as usize] - p0;
            let e2 = mesh.positions[t[2] as usize] - p0;
            let limit = best.map_or(f32::INFINITY, |b| b.0);
            if let Some((d, _, _)) = intersect_triangle(ray, p0, e1, e2, 0.0, limit) {
                best = Some((d, i as u32));
            }
        }
        best
    }

    #[test]
    fn closest_hits_match_brute_force() {
        let mesh = random_mesh(2000);
        let binary = Bvh::build(&mesh);
        assert!(binary.stats.nodes > 1);
        let mut s = SampleStream::new(2, 0, 0, 0, 0);
        let mut hits = 0;
        for isa in Isa::available() {
            let bvh = WideBvh::new(Bvh::build(&mesh), isa);
            for _ in 0..2000 {
                let o = Vec3::new(s.next_f32(), s.next_f32(), s.next_f32()) * 14.0 - 2.0;
                let d = (Vec3::new(s.next_f32(), s.next_f32(), s.next_f32()) - 0.5).normalize();
                let ray = Ray::new(o, d);
                let got = bvh.intersect(&ray, 0.0, f32::INFINITY);
                let want = brute_force(&mesh, &ray);
                assert_eq!(got.map(|h| h.triangle), want.map(|w| w.1));
                assert_eq!(
                    bvh.occluded(&ray, 0.0, f32::INFINITY),
                    want.is_some(),
                    "occlusion disagrees"
                );
                hits += want.is_some() as usize;
            }
        }
        assert!(hits > 100, "test rays should hit something: {hits}");
    }

    #[test]
    fn parallel_build_keeps_every_triangle_once() {
        let mesh = random_mesh(PARALLEL_THRESHOLD * 3);
        let bvh = Bvh::build(&mesh);
        let mut seen = vec![false; mesh.triangles.len()];
        for &id in &bvh.triangle_ids {
            assert!(!std::mem::replace(&mut seen[id as usize], true));
        }
        assert!(seen.iter().all(|&s| s));
        let leaves: usize = bvh
            .nodes
            .iter()
            .filter(|n| n.count > 0)
            .map(|n| n.count as usize)
            .sum();
        assert_eq!(leaves, mesh.triangles.len());
    }

    #[test]
    fn identical_triangles_still_split() {
        let mesh = Mesh {
            positions: vec![Vec3::ZERO, Vec3::X, Vec3::Y],
            triangles: vec![[0, 1, 2]; 100],
            ..Mesh::default()
        };
        let bvh = Bvh::build(&mesh);
        assert!(bvh.nodes.iter().all(|n| n.count as usize <= MAX_LEAF));
    }
}
