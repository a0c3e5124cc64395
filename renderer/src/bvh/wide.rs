//! The CPU's view of the BVH: the binary tree collapsed into 8-wide nodes, whose eight child
//! boxes are tested at once, over leaves packed as blocks of eight triangles, also tested at
//! once ([`lanes`](super::lanes)). GPU backends keep the binary layout.

use std::mem::MaybeUninit;
use std::time::Instant;

use glam::Vec3;

#[cfg(target_arch = "x86_64")]
use super::lanes::{Avx2, Avx512};
use super::lanes::{Boxes, Isa, Kernel, Lanes, Portable, SlabRay, TriangleHits, Triangles, WIDTH};
use super::{Bvh, BvhNode, BvhStats, Hit, MAX_LEAF, beats, tie_reach};
use crate::geometry::Ray;

const _: () = assert!(
    MAX_LEAF <= WIDTH,
    "a binary leaf must fit one triangle block"
);

/// Enough for any tree the builder makes: it caps binary depth and a wide node pushes at most
/// seven children.
const STACK_SIZE: usize = (WIDTH - 1) * super::MAX_BINARY_DEPTH + WIDTH;

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

/// Eight child boxes. Slot `i` is used when bit `i` of `slots` is set; it is then a leaf,
/// triangle block `child[i]`, when bit `i` of `leaves` is, and else the wide node `child[i]`.
#[repr(C, align(32))]
#[derive(Clone, Copy, Debug)]
struct WideNode {
    boxes: Boxes,
    child: [u32; WIDTH],
    leaves: u32,
    slots: u32,
}

/// A hit: distance, barycentrics and the lane's leaf-order index.
type Best = (f32, f32, f32, usize);

/// The closest hit so far, and how far a hit may lie and still be taken: `t_max` until a hit,
/// then the end of that hit's tie window.
struct Closest {
    best: Option<Best>,
    reach: f32,
    t_max: f32,
}

impl Closest {
    /// Keeps `hit` if it lies within reach and wins ([`beats`]). A hit tested against an
    /// earlier, longer reach can lie beyond the present one.
    #[inline(always)]
    fn offer(&mut self, hit: Best) {
        if hit.0 < self.reach && self.best.is_none_or(|b| beats(hit.0, hit.3, b.0, b.3)) {
            self.reach = self.t_max.min(tie_reach(hit.0));
            self.best = Some(hit);
        }
    }

    /// Offers block `block`'s hits in lane order.
    #[inline(always)]
    fn offer_all(&mut self, block: usize, hits: &TriangleHits) {
        for j in set_bits(hits.mask) {
            self.offer((hits.t[j], hits.u[j], hits.v[j], block * WIDTH + j));
        }
    }
}

/// The indices of the set bits of `mask`, lowest first.
#[inline(always)]
fn set_bits(mut mask: u32) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        (mask != 0).then(|| {
            let i = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            i
        })
    })
}

/// The set bits of `mask` two at a time, lowest first: the second is missing when their
/// count is odd.
#[inline(always)]
fn set_bit_pairs(mask: u32) -> impl Iterator<Item = (usize, Option<usize>)> {
    let mut bits = set_bits(mask);
    std::iter::from_fn(move || bits.next().map(|i| (i, bits.next())))
}

/// A frame's triangles ready for the CPU's traversal on one instruction-set path.
pub struct WideBvh {
    nodes: Vec<WideNode>,
    /// One block per leaf slot, in leaf order, so that a lane's leaf-order index
    /// (`block * WIDTH + lane`) orders hits as the binary tree's index does on the GPU.
    blocks: Vec<Triangles>,
    /// The mesh's index of each lane's triangle.
    ids: Vec<[u32; WIDTH]>,
    isa: Isa,
    stats: BvhStats,
}

impl WideBvh {
    /// Collapses `bvh` (which is dropped: the CPU needs only this layout) for traversal on
    /// `isa`, which must be one of [`Isa::available`].
    pub fn new(bvh: Bvh, isa: Isa) -> Self {
        // The vector paths' safety rests on this: a missing instruction set is a panic here,
        // not undefined behaviour in traversal. (`CpuBackend::on` refuses one with an error.)
        assert!(
            Isa::available().contains(&isa),
            "this processor lacks the {} instruction set",
            isa.name()
        );
        let start = Instant::now();
        let Bvh {
            nodes: binary,
            triangles,
            triangle_ids,
            stats: binary_stats,
        } = bvh;
        let mut collapse = Collapse {
            binary: &binary,
            spans: spans(&binary),
            nodes: Vec::with_capacity(binary.len() / 4 + 1),
            leaves: Vec::new(),
        };
        let (first, count) = collapse.spans[0];
        if count as usize <= WIDTH {
            // A scene that fits one block (or an empty one): one node with at most one slot.
            let mut node = empty_node();
            if count > 0 {
                set_slot(&mut node, 0, &binary[0], 0, true);
                collapse.leaves.push((first, count, 0, 0));
            }
            collapse.nodes.push(node);
        } else {
            collapse.node(0);
        }
        let Collapse {
            mut nodes,
            mut leaves,
            spans,
            ..
        } = collapse;
        // Freed before the blocks are laid out, so that the binary tree does not add to the peak
        // (a 3-million-triangle scene's peak RSS went from 1008 to 883 MiB).
        drop((binary, spans));
        // Blocks numbered in leaf order (see `blocks`).
        leaves.sort_unstable_by_key(|leaf| leaf.0);
        let mut blocks = Vec::with_capacity(leaves.len());
        let mut ids = Vec::with_capacity(leaves.len());
        for (b, &(first, count, node, slot)) in leaves.iter().enumerate() {
            nodes[node as usize].child[slot as usize] = b as u32;
            let mut block = Triangles::default();
            let mut lane_ids = [u32::MAX; WIDTH];
            let range = first as usize..(first + count) as usize;
            for (lane, (tri, &id)) in triangles[range.clone()]
                .iter()
                .zip(&triangle_ids[range])
                .enumerate()
            {
                let [p0, e1, e2] = [tri.p0, tri.e1, tri.e2].map(Vec3::from);
                block.set(lane, p0, e1, e2);
                lane_ids[lane] = id;
            }
            blocks.push(block);
            ids.push(lane_ids);
        }
        let bytes = nodes.len() * size_of::<WideNode>()
            + blocks.len() * size_of::<Triangles>()
            + ids.len() * size_of::<[u32; WIDTH]>();
        Self {
            stats: BvhStats {
                nodes: nodes.len(),
                bytes,
                build_seconds: binary_stats.build_seconds + start.elapsed().as_secs_f64(),
                ..binary_stats
            },
            nodes,
            blocks,
            ids,
            isa,
        }
    }

    /// The instruction-set path traversal runs on.
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// The build's figures, with the bytes this layout holds.
    pub fn stats(&self) -> BvhStats {
        self.stats
    }

    /// The closest hit with `t` in `(t_min, t_max)`; of hits in one tie window
    /// ([`TIE_WINDOW`](super::TIE_WINDOW)), the lowest leaf-order index.
    pub fn intersect(&self, ray: &Ray, t_min: f32, t_max: f32) -> Option<Hit> {
        self.intersect_prepared(ray, &SlabRay::new(ray), t_min, t_max)
    }

    /// [`intersect`](Self::intersect) with `slab`, which must be `ray`'s, worked out ahead.
    pub fn intersect_prepared(
        &self,
        ray: &Ray,
        slab: &SlabRay,
        t_min: f32,
        t_max: f32,
    ) -> Option<Hit> {
        match self.isa {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `new` checked that `isa` is one of `Isa::available`.
            Isa::Avx2 => unsafe { self.intersect_avx2(ray, slab, t_min, t_max) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as for AVX2.
            Isa::Avx512 => unsafe { self.intersect_avx512(ray, slab, t_min, t_max) },
            _ => self.intersect_portable(ray, slab, t_min, t_max),
        }
    }

    /// Whether anything blocks the ray in `(t_min, t_max)`.
    pub fn occluded(&self, ray: &Ray, t_min: f32, t_max: f32) -> bool {
        self.occluded_prepared(ray, &SlabRay::new(ray), t_min, t_max)
    }

    /// [`occluded`](Self::occluded) with `slab`, which must be `ray`'s, worked out ahead.
    pub fn occluded_prepared(&self, ray: &Ray, slab: &SlabRay, t_min: f32, t_max: f32) -> bool {
        match self.isa {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as in `intersect`.
            Isa::Avx2 => unsafe { self.occluded_avx2(ray, slab, t_min, t_max) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as in `intersect`.
            Isa::Avx512 => unsafe { self.occluded_avx512(ray, slab, t_min, t_max) },
            _ => self.occluded_portable(ray, slab, t_min, t_max),
        }
    }

    // The portable paths are calls of their own, as the vector paths are, so that the dispatch
    // above stays a jump: with the portable traversal inlined into it, every call, on any
    // path, set up that traversal's 4.7 KB stack frame.
    #[inline(never)]
    fn intersect_portable(&self, ray: &Ray, slab: &SlabRay, t_min: f32, t_max: f32) -> Option<Hit> {
        self.intersect_on(Portable, ray, slab, t_min, t_max)
    }

    #[inline(never)]
    fn occluded_portable(&self, ray: &Ray, slab: &SlabRay, t_min: f32, t_max: f32) -> bool {
        self.occluded_on(Portable, ray, slab, t_min, t_max)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn intersect_avx2(
        &self,
        ray: &Ray,
        slab: &SlabRay,
        t_min: f32,
        t_max: f32,
    ) -> Option<Hit> {
        // SAFETY: the caller checked the processor.
        self.intersect_on(unsafe { Avx2::new() }, ray, slab, t_min, t_max)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn occluded_avx2(&self, ray: &Ray, slab: &SlabRay, t_min: f32, t_max: f32) -> bool {
        // SAFETY: as in `intersect_avx2`.
        self.occluded_on(unsafe { Avx2::new() }, ray, slab, t_min, t_max)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,avx512f")]
    unsafe fn intersect_avx512(
        &self,
        ray: &Ray,
        slab: &SlabRay,
        t_min: f32,
        t_max: f32,
    ) -> Option<Hit> {
        // SAFETY: the caller checked the processor.
        self.intersect_on(unsafe { Avx512::new() }, ray, slab, t_min, t_max)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,avx512f")]
    unsafe fn occluded_avx512(&self, ray: &Ray, slab: &SlabRay, t_min: f32, t_max: f32) -> bool {
        // SAFETY: as in `intersect_avx512`.
        self.occluded_on(unsafe { Avx512::new() }, ray, slab, t_min, t_max)
    }

    #[inline(always)]
    fn intersect_on(
        &self,
        kernel: impl Kernel,
        ray: &Ray,
        slab_ray: &SlabRay,
        t_min: f32,
        t_max: f32,
    ) -> Option<Hit> {
        let mut closest = Closest {
            best: None,
            reach: t_max,
            t_max,
        };
        let mut stack = Stack::new();
        let mut node = 0usize;
        loop {
            let n = &self.nodes[node];
            let (mask, near) = kernel.slabs(&n.boxes, slab_ray, closest.reach);
            let mask = mask & n.slots;
            for (i, j) in set_bit_pairs(mask & n.leaves) {
                let first = n.child[i] as usize;
                match j {
                    Some(j) => {
                        let pair = [first, n.child[j] as usize];
                        self.leaf_pair_hits(kernel, pair, ray, t_min, &mut closest);
                    }
                    None => self.leaf_hits(kernel, first, ray, t_min, &mut closest),
                }
            }
            // Interior children to visit, nearest kept in `next`.
            let mut next: Option<(u32, f32)> = None;
            for i in set_bits(mask & !n.leaves) {
                let candidate = (n.child[i], near[i]);
                if candidate.1 > closest.reach {
                    continue;
                }
                match next {
                    Some(cur) if cur.1 <= candidate.1 => stack.push(candidate),
                    Some(cur) => {
                        stack.push(cur);
                        next = Some(candidate);
                    }
                    None => next = Some(candidate),
                }
            }
            if let Some((child, _)) = next {
                node = child as usize;
                continue;
            }
            // Pop, skipping subtrees that start beyond the closest hit found since the push.
            loop {
                let Some((candidate, entry)) = stack.pop() else {
                    return closest.best.map(|(t, u, v, k)| Hit {
                        t,
                        u,
                        v,
                        triangle: self.ids[k / WIDTH][k % WIDTH],
                    });
                };
                if entry <= closest.reach {
                    node = candidate as usize;
                    break;
                }
            }
        }
    }

    /// Tests block `block`'s triangles, offering each hit to `closest`. All eight lanes are
    /// tested against the same reach, but hits are offered in lane order, each against the
    /// reach as it is then, so the result is the one-at-a-time result.
    #[inline(always)]
    fn leaf_hits(
        &self,
        kernel: impl Kernel,
        block: usize,
        ray: &Ray,
        t_min: f32,
        closest: &mut Closest,
    ) {
        let hits = kernel.triangles(&self.blocks[block], ray, t_min, closest.reach);
        closest.offer_all(block, &hits);
    }

    /// [`leaf_hits`](Self::leaf_hits) of two blocks, tested against the same reach (at once on
    /// a sixteen-lane path). The second block's hits are offered after the first's, each
    /// against the reach as it is then, so the result is that of the two blocks in turn.
    #[inline(always)]
    fn leaf_pair_hits(
        &self,
        kernel: impl Kernel,
        pair: [usize; 2],
        ray: &Ray,
        t_min: f32,
        closest: &mut Closest,
    ) {
        let tris = pair.map(|block| &self.blocks[block]);
        let hits = kernel.triangle_pair(tris, ray, t_min, closest.reach);
        for (block, hits) in pair.into_iter().zip(&hits) {
            closest.offer_all(block, hits);
        }
    }

    #[inline(always)]
    fn occluded_on(
        &self,
        kernel: impl Kernel,
        ray: &Ray,
        slab_ray: &SlabRay,
        t_min: f32,
        t_max: f32,
    ) -> bool {
        let mut stack = Stack::new();
        let mut node = 0usize;
        loop {
            let n = &self.nodes[node];
            let (mask, _) = kernel.slabs(&n.boxes, slab_ray, t_max);
            let mask = mask & n.slots;
            for (i, j) in set_bit_pairs(mask & n.leaves) {
                let first = &self.blocks[n.child[i] as usize];
                let hit = match j {
                    Some(j) => {
                        let pair = [first, &self.blocks[n.child[j] as usize]];
                        let [a, b] = kernel.triangle_pair(pair, ray, t_min, t_max);
                        a.mask | b.mask != 0
                    }
                    None => kernel.triangles(first, ray, t_min, t_max).mask != 0,
                };
                if hit {
                    return true;
                }
            }
            for i in set_bits(mask & !n.leaves) {
                stack.push((n.child[i], 0.0));
            }
            let Some((next, _)) = stack.pop() else {
                return false;
            };
            node = next as usize;
        }
    }
}

fn empty_node() -> WideNode {
    let lanes = |v: f32| -> [Lanes; 3] { [[v; WIDTH]; 3] };
    WideNode {
        boxes: Boxes {
            min: lanes(f32::INFINITY),
            max: lanes(f32::NEG_INFINITY),
        },
        child: [0; WIDTH],
        leaves: 0,
        slots: 0,
    }
}

fn set_slot(node: &mut WideNode, slot: usize, b: &BvhNode, child: u32, leaf: bool) {
    for axis in 0..3 {
        node.boxes.min[axis][slot] = b.min[axis];
        node.boxes.max[axis][slot] = b.max[axis];
    }
    node.child[slot] = child;
    node.slots |= 1 << slot;
    node.leaves |= u32::from(leaf) << slot;
}

fn area(b: &BvhNode) -> f32 {
    let d = (Vec3::from(b.max) - Vec3::from(b.min)).max(Vec3::ZERO);
    d.x * d.y + d.y * d.z + d.z * d.x
}

/// The leaf-order triangles (first, count) under each binary node: a subtree's leaves are
/// contiguous in leaf order.
fn spans(binary: &[BvhNode]) -> Vec<(u32, u32)> {
    let mut spans = vec![(0, 0); binary.len()];
    if binary.len() == 1 {
        spans[0] = (binary[0].offset, binary[0].count);
        return spans;
    }
    // Children follow their parent, so one backward pass sees them first.
    for i in (0..binary.len()).rev() {
        let n = &binary[i];
        spans[i] = if n.count > 0 {
            (n.offset, n.count)
        } else {
            let (left, right) = (spans[i + 1], spans[n.offset as usize]);
            (left.0, left.1 + right.1)
        };
    }
    spans
}

/// The binary tree being collapsed, and what the collapse has made so far.
struct Collapse<'b> {
    binary: &'b [BvhNode],
    spans: Vec<(u32, u32)>,
    nodes: Vec<WideNode>,
    /// Leaf slots: (first triangle, count, wide node, slot). Any subtree of at most eight
    /// triangles becomes one leaf, however the binary tree split it.
    leaves: Vec<(u32, u32, u32, u8)>,
}

impl Collapse<'_> {
    fn is_leaf(&self, k: usize) -> bool {
        self.spans[k].1 as usize <= WIDTH
    }

    /// Turns binary node `index` (more than eight triangles) into a wide node, pulling in
    /// grandchildren (largest first) until eight slots are used; returns the new node's index.
    fn node(&mut self, index: usize) -> u32 {
        let binary = self.binary;
        let me = self.nodes.len();
        self.nodes.push(empty_node());
        let mut kids = [0usize; WIDTH];
        (kids[0], kids[1]) = (index + 1, binary[index].offset as usize);
        let mut len = 2;
        while len < WIDTH {
            let widest = (0..len)
                .filter(|&slot| !self.is_leaf(kids[slot]))
                .max_by(|&a, &b| area(&binary[kids[a]]).total_cmp(&area(&binary[kids[b]])));
            let Some(slot) = widest else { break };
            let k = kids[slot];
            (kids[slot], kids[len]) = (k + 1, binary[k].offset as usize);
            len += 1;
        }
        let mut node = empty_node();
        for (slot, &k) in kids[..len].iter().enumerate() {
            if self.is_leaf(k) {
                let (first, count) = self.spans[k];
                self.leaves.push((first, count, me as u32, slot as u8));
                set_slot(&mut node, slot, &binary[k], 0, true);
            } else {
                let child = self.node(k);
                set_slot(&mut node, slot, &binary[k], child, false);
            }
        }
        self.nodes[me] = node;
        me as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scene::Mesh;

    /// A strip of `n` small triangles along x.
    fn strip(n: usize) -> Mesh {
        let mut mesh = Mesh::default();
        for i in 0..n {
            let x = i as f32;
            mesh.positions.extend([
                Vec3::new(x, 0.0, 0.0),
                Vec3::new(x + 0.5, 0.0, 0.0),
                Vec3::new(x, 1.0, 0.0),
            ]);
            let b = 3 * i as u32;
            mesh.triangles.push([b, b + 1, b + 2]);
        }
        mesh
    }

    /// Every triangle sits in exactly one lane; subtrees of up to eight triangles share one
    /// block, so blocks are fuller than the binary tree's leaves.
    #[test]
    fn blocks_hold_every_triangle_once_and_merge_small_subtrees() {
        for n in [0, 1, 8, 9, 1000] {
            let binary = Bvh::build(&strip(n));
            let binary_leaves = binary.nodes.iter().filter(|b| b.count > 0).count();
            let wide = WideBvh::new(binary, Isa::Scalar);
            let mut seen = vec![0; n];
            for &id in wide.ids.iter().flatten().filter(|&&id| id != u32::MAX) {
                seen[id as usize] += 1;
            }
            assert!(seen.iter().all(|&c| c == 1), "{n} triangles: {seen:?}");
            assert!(wide.blocks.len() <= binary_leaves, "{n} triangles");
            if n == 1000 {
                assert!(
                    wide.blocks.len() * 2 < binary_leaves,
                    "{} blocks for {binary_leaves} binary leaves",
                    wide.blocks.len()
                );
            }
            let ray = Ray::new(Vec3::new(0.2, 0.2, -1.0), Vec3::Z);
            assert_eq!(
                wide.intersect(&ray, 0.0, 10.0).map(|h| h.triangle),
                (n > 0).then_some(0)
            );
        }
    }
}
