//! The CPU's view of the BVH: the binary tree collapsed into 4-wide nodes whose four child
//! boxes are tested with one set of SIMD operations. GPU backends keep the binary layout.

use std::mem::MaybeUninit;

use glam::{BVec4A, Vec3, Vec4};

use super::{BvhNode, BvhTriangle, Hit, beats, tie_reach};
use crate::geometry::{Ray, intersect_triangle};

/// Enough for any tree the builder makes: it caps binary depth (see `MAX_DEPTH` there) and a
/// wide node pushes at most three children.
const STACK_SIZE: usize = 3 * super::MAX_BINARY_DEPTH + 4;

/// The traversal stack, left uninitialised: zeroing it on every ray cost more than the slabs.
struct Stack {
    items: [MaybeUninit<(u32, f32)>; STACK_SIZE],
    len: usize,
}

impl Stack {
    #[inline(always)]
    fn new() -> Self {
        Self {
            items: [const { MaybeUninit::uninit() }; STACK_SIZE],
            len: 0,
        }
    }
    #[inline(always)]
    fn push(&mut self, entry: (u32, f32)) {
        self.items[self.len] = MaybeUninit::new(entry);
        self.len += 1;
    }
    #[inline(always)]
    fn pop(&mut self) -> Option<(u32, f32)> {
        self.len = self.len.checked_sub(1)?;
        // SAFETY: entries below `len` were all written by `push`.
        Some(unsafe { self.items[self.len].assume_init() })
    }
}

/// Four child boxes in structure-of-arrays form. A slot with `count > 0` is a leaf holding
/// `count` triangles from `child`; with `count == 0` it is the interior node `child`.
#[repr(C, align(16))]
#[derive(Clone, Copy, Debug)]
pub struct WideNode {
    min: [Vec4; 3],
    max: [Vec4; 3],
    child: [u32; 4],
    count: [u32; 4],
    /// Number of used slots, in front.
    slots: u32,
}

pub struct WideBvh {
    nodes: Vec<WideNode>,
}

impl WideBvh {
    pub fn bytes(&self) -> usize {
        self.nodes.len() * size_of::<WideNode>()
    }

    pub fn collapse(binary: &[BvhNode]) -> Self {
        let mut nodes = Vec::with_capacity(binary.len() / 2 + 1);
        if binary[0].count > 0 || binary.len() == 1 {
            // A lone leaf (or an empty scene): one node with one slot.
            let mut node = empty_node();
            set_slot(&mut node, 0, &binary[0], binary[0].offset, binary[0].count);
            node.slots = u32::from(binary[0].count > 0);
            nodes.push(node);
        } else {
            collapse_into(binary, 0, &mut nodes);
        }
        Self { nodes }
    }

    pub fn intersect(
        &self,
        triangles: &[BvhTriangle],
        ids: &[u32],
        ray: &Ray,
        t_min: f32,
        t_max: f32,
    ) -> Option<Hit> {
        let rays = RaySimd::new(ray);
        let mut best: Option<(f32, f32, f32, usize)> = None;
        // How far a hit may lie and still be taken: `t_max` until a hit, then the end of that
        // hit's tie window.
        let mut reach = t_max;
        let mut stack = Stack::new();
        let mut node = 0usize;
        loop {
            let n = &self.nodes[node];
            let (hit, near) = rays.slabs(n, reach);
            let mut mask = hit.bitmask() & ((1u32 << n.slots) - 1);
            // Interior children to visit, nearest kept in `next`.
            let mut next: Option<(u32, f32)> = None;
            while mask != 0 {
                let i = mask.trailing_zeros() as usize;
                mask &= mask - 1;
                if n.count[i] > 0 {
                    let first = n.child[i] as usize;
                    let leaf = &triangles[first..first + n.count[i] as usize];
                    for (k, tri) in (first..).zip(leaf) {
                        if let Some((t, u, v)) = intersect_triangle(
                            ray,
                            tri.p0.into(),
                            tri.e1.into(),
                            tri.e2.into(),
                            t_min,
                            reach,
                        ) && best.is_none_or(|b| beats(t, k, b.0, b.3))
                        {
                            reach = t_max.min(tie_reach(t));
                            best = Some((t, u, v, k));
                        }
                    }
                } else {
                    let candidate = (n.child[i], near[i]);
                    match next {
                        Some(cur) if cur.1 <= candidate.1 => stack.push(candidate),
                        Some(cur) => {
                            stack.push(cur);
                            next = Some(candidate);
                        }
                        None => next = Some(candidate),
                    }
                }
            }
            if let Some((child, entry)) = next
                && entry <= reach
            {
                node = child as usize;
                continue;
            }
            // Pop, skipping subtrees that start beyond the closest hit found since the push.
            loop {
                let Some((candidate, entry)) = stack.pop() else {
                    return best.map(|(t, u, v, k)| Hit {
                        t,
                        u,
                        v,
                        triangle: ids[k],
                    });
                };
                if entry <= reach {
                    node = candidate as usize;
                    break;
                }
            }
        }
    }

    pub fn occluded(&self, triangles: &[BvhTriangle], ray: &Ray, t_min: f32, t_max: f32) -> bool {
        let rays = RaySimd::new(ray);
        let mut stack = Stack::new();
        let mut node = 0usize;
        loop {
            let n = &self.nodes[node];
            let (hit, _) = rays.slabs(n, t_max);
            let mut mask = hit.bitmask() & ((1u32 << n.slots) - 1);
            while mask != 0 {
                let i = mask.trailing_zeros() as usize;
                mask &= mask - 1;
                if n.count[i] > 0 {
                    let first = n.child[i] as usize;
                    for tri in &triangles[first..first + n.count[i] as usize] {
                        if intersect_triangle(
                            ray,
                            tri.p0.into(),
                            tri.e1.into(),
                            tri.e2.into(),
                            t_min,
                            t_max,
                        )
                        .is_some()
                        {
                            return true;
                        }
                    }
                } else {
                    stack.push((n.child[i], 0.0));
                }
            }
            let Some((next, _)) = stack.pop() else {
                return false;
            };
            node = next as usize;
        }
    }
}

/// A ray splatted across four lanes.
struct RaySimd {
    inv: [Vec4; 3],
    org_inv: [Vec4; 3],
}

impl RaySimd {
    fn new(ray: &Ray) -> Self {
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
            inv: [Vec4::splat(inv.x), Vec4::splat(inv.y), Vec4::splat(inv.z)],
            org_inv: [Vec4::splat(oi.x), Vec4::splat(oi.y), Vec4::splat(oi.z)],
        }
    }

    /// Which of the node's four boxes the ray enters before `t_max`, and where.
    #[inline(always)]
    fn slabs(&self, n: &WideNode, t_max: f32) -> (BVec4A, Vec4) {
        let tx0 = n.min[0] * self.inv[0] - self.org_inv[0];
        let tx1 = n.max[0] * self.inv[0] - self.org_inv[0];
        let ty0 = n.min[1] * self.inv[1] - self.org_inv[1];
        let ty1 = n.max[1] * self.inv[1] - self.org_inv[1];
        let tz0 = n.min[2] * self.inv[2] - self.org_inv[2];
        let tz1 = n.max[2] * self.inv[2] - self.org_inv[2];
        let near = tx0
            .min(tx1)
            .max(ty0.min(ty1))
            .max(tz0.min(tz1))
            .max(Vec4::ZERO);
        let far = tx0
            .max(tx1)
            .min(ty0.max(ty1))
            .min(tz0.max(tz1))
            .min(Vec4::splat(t_max));
        (near.cmple(far), near)
    }
}

fn empty_node() -> WideNode {
    WideNode {
        min: [Vec4::splat(f32::INFINITY); 3],
        max: [Vec4::splat(f32::NEG_INFINITY); 3],
        child: [0; 4],
        count: [0; 4],
        slots: 0,
    }
}

fn set_slot(node: &mut WideNode, slot: usize, b: &BvhNode, child: u32, count: u32) {
    for axis in 0..3 {
        node.min[axis][slot] = b.min[axis];
        node.max[axis][slot] = b.max[axis];
    }
    node.child[slot] = child;
    node.count[slot] = count;
}

fn area(b: &BvhNode) -> f32 {
    let d = (Vec3::from(b.max) - Vec3::from(b.min)).max(Vec3::ZERO);
    d.x * d.y + d.y * d.z + d.z * d.x
}

/// Turns binary interior node `index` into a wide node, pulling in grandchildren (largest
/// first) until four slots are used; returns the new node's index.
fn collapse_into(binary: &[BvhNode], index: usize, out: &mut Vec<WideNode>) -> u32 {
    let me = out.len();
    out.push(empty_node());
    let mut kids = vec![index + 1, binary[index].offset as usize];
    while kids.len() < 4 {
        let widest = kids
            .iter()
            .enumerate()
            .filter(|&(_, &k)| binary[k].count == 0)
            .max_by(|a, b| area(&binary[*a.1]).total_cmp(&area(&binary[*b.1])))
            .map(|(slot, &k)| (slot, k));
        let Some((slot, k)) = widest else { break };
        kids[slot] = k + 1;
        kids.push(binary[k].offset as usize);
    }
    let mut node = empty_node();
    node.slots = kids.len() as u32;
    for (slot, &k) in kids.iter().enumerate() {
        let b = &binary[k];
        if b.count > 0 {
            set_slot(&mut node, slot, b, b.offset, b.count);
        } else {
            let child = collapse_into(binary, k, out);
            set_slot(&mut node, slot, b, child, 0);
        }
    }
    out[me] = node;
    me as u32
}
