//! The shader's bindings, generated per frame: each big array (BVH nodes, triangles, vertices,
//! texels) is split into as many storage bindings as the adapter's binding size limit needs,
//! and read through a `load_*` function that picks the binding.

use std::fmt::Write;

/// Bindings before the split arrays: params, pixels, materials, textures, lights, emitters.
pub const FIXED_BINDINGS: u32 = 6;

const FIXED: &str = "
@group(0) @binding(0) var<storage, read> params: GpuParams;
@group(0) @binding(1) var<storage, read_write> pixels: array<GpuPixel>;
@group(0) @binding(2) var<storage, read> materials: array<GpuMaterial>;
@group(0) @binding(3) var<storage, read> textures: array<GpuTexture>;
@group(0) @binding(4) var<storage, read> lights: array<GpuLight>;
@group(0) @binding(5) var<storage, read> emitters: array<GpuEmitter>;
";

/// One array split into `chunks` bindings of `chunk_len` elements (the last may be shorter).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitArray {
    /// The loader is `load_{name}`, the bindings `{name}_0`, `{name}_1`, ...
    pub name: &'static str,
    /// WGSL element type.
    pub ty: &'static str,
    pub chunk_len: u64,
    pub chunks: u32,
}

/// Elements per binding for an array of `len` elements of `elem_size` bytes, and the number of
/// bindings, so that no binding exceeds `max_binding` bytes.
pub fn split(len: usize, elem_size: usize, max_binding: u64) -> (u64, u32) {
    let per = (max_binding / elem_size as u64).max(1);
    let len = len.max(1) as u64;
    (per, len.div_ceil(per) as u32)
}

/// The WGSL declarations of every binding and the `load_*` functions.
pub fn wgsl(arrays: &[SplitArray]) -> String {
    let mut s = String::from(FIXED);
    let mut binding = FIXED_BINDINGS;
    for a in arrays {
        for c in 0..a.chunks {
            let _ = writeln!(
                s,
                "@group(0) @binding({binding}) var<storage, read> {}_{c}: array<{}>;",
                a.name, a.ty
            );
            binding += 1;
        }
        let _ = writeln!(s, "fn load_{}(i: u32) -> {} {{", a.name, a.ty);
        if a.chunks == 1 {
            let _ = writeln!(s, "    return {}_0[i];", a.name);
        } else {
            let _ = writeln!(s, "    let j = i % {}u;", a.chunk_len);
            let _ = writeln!(s, "    switch i / {}u {{", a.chunk_len);
            for c in 1..a.chunks {
                let _ = writeln!(s, "        case {c}u: {{ return {}_{c}[j]; }}", a.name);
            }
            let _ = writeln!(s, "        default: {{ return {}_0[j]; }}", a.name);
            let _ = writeln!(s, "    }}");
        }
        let _ = writeln!(s, "}}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_respects_the_limit() {
        assert_eq!(split(0, 32, 128 << 20), (4 << 20, 1));
        assert_eq!(split(4 << 20, 32, 128 << 20), (4 << 20, 1));
        assert_eq!(split((4 << 20) + 1, 32, 128 << 20), (4 << 20, 2));
        assert_eq!(split(10, 36, 100), (2, 5));
    }

    #[test]
    fn loaders_switch_between_chunks() {
        let code = wgsl(&[SplitArray {
            name: "node",
            ty: "BvhNode",
            chunk_len: 4,
            chunks: 3,
        }]);
        assert!(code.contains("@binding(6) var<storage, read> node_0: array<BvhNode>;"));
        assert!(code.contains("@binding(8) var<storage, read> node_2: array<BvhNode>;"));
        assert!(code.contains("case 2u: { return node_2[j]; }"));
    }
}
