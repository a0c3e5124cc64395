//! Reading accessors: typed views into buffers. Every byte range is checked against the real
//! buffer before anything is allocated, so a lying file cannot make the loader panic or
//! allocate memory it does not back with data.

use gltf::accessor::{DataType, Dimensions};

use super::SceneError;
use super::document::Document;

/// One accessor's elements as raw bytes, already bounds-checked.
struct Elements<'a> {
    data: &'a [u8],
    stride: usize,
    count: usize,
    component: DataType,
    normalized: bool,
}

impl Elements<'_> {
    fn element(&self, i: usize) -> &[u8] {
        &self.data[i * self.stride..]
    }

    /// Component `c` of element `i` as a float, applying glTF's normalisation rules.
    fn float(&self, i: usize, c: usize) -> f32 {
        let size = self.component.size();
        let b = &self.element(i)[c * size..];
        match (self.component, self.normalized) {
            (DataType::F32, _) => f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            (DataType::I8, true) => (b[0] as i8 as f32 / 127.0).max(-1.0),
            (DataType::U8, true) => b[0] as f32 / 255.0,
            (DataType::I16, true) => (i16::from_le_bytes([b[0], b[1]]) as f32 / 32767.0).max(-1.0),
            (DataType::U16, true) => u16::from_le_bytes([b[0], b[1]]) as f32 / 65535.0,
            (DataType::U32, true) => {
                u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f32 / u32::MAX as f32
            }
            _ => self.integer(i, c) as f32,
        }
    }

    fn integer(&self, i: usize, c: usize) -> i64 {
        let size = self.component.size();
        let b = &self.element(i)[c * size..];
        match self.component {
            DataType::I8 => b[0] as i8 as i64,
            DataType::U8 => b[0] as i64,
            DataType::I16 => i16::from_le_bytes([b[0], b[1]]) as i64,
            DataType::U16 => u16::from_le_bytes([b[0], b[1]]) as i64,
            DataType::U32 => u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64,
            DataType::F32 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64,
        }
    }
}

fn components(dimensions: Dimensions) -> usize {
    match dimensions {
        Dimensions::Scalar => 1,
        Dimensions::Vec2 => 2,
        Dimensions::Vec3 => 3,
        Dimensions::Vec4 | Dimensions::Mat2 => 4,
        Dimensions::Mat3 => 9,
        Dimensions::Mat4 => 16,
    }
}

impl Document {
    /// An accessor of `N`-component vectors as floats (normalised integers scaled to [0, 1] or
    /// [-1, 1]). Refuses non-finite values: they would poison the BVH and the image.
    pub fn read_floats<const N: usize>(
        &self,
        accessor: &gltf::Accessor,
        role: &str,
    ) -> Result<Vec<[f32; N]>, SceneError> {
        let index = accessor.index();
        if components(accessor.dimensions()) != N {
            return Err(self.invalid(format!(
                "accessor {index} ({role}) has type {:?}, expected {N} components",
                accessor.dimensions()
            )));
        }
        let out = self.read_vectors(accessor, |e, i, c| e.float(i, c))?;
        if out.iter().flatten().any(|v| !v.is_finite()) {
            return Err(self.invalid(format!(
                "accessor {index} ({role}) contains NaN or infinite values"
            )));
        }
        Ok(out)
    }

    /// A `JOINTS_n` accessor: joint indices read exactly. glTF allows only unsigned bytes or
    /// shorts, not normalised; anything else would bind vertices to the wrong joints.
    pub fn read_joints(
        &self,
        accessor: &gltf::Accessor,
        role: &str,
    ) -> Result<Vec<[u16; 4]>, SceneError> {
        let unsigned = matches!(accessor.data_type(), DataType::U8 | DataType::U16);
        if accessor.dimensions() != Dimensions::Vec4 || !unsigned || accessor.normalized() {
            return Err(self.invalid(format!(
                "accessor {} ({role}) must be VEC4 of unsigned bytes or shorts, not normalized",
                accessor.index()
            )));
        }
        // Both component types fit u16 exactly.
        self.read_vectors(accessor, |e, i, c| e.integer(i, c) as u16)
    }

    /// Each element's `N` components as `value` reads them, sparse substitutions applied.
    /// The caller has checked that the accessor has `N` components.
    fn read_vectors<T: Copy + Default, const N: usize>(
        &self,
        accessor: &gltf::Accessor,
        value: impl Fn(&Elements, usize, usize) -> T,
    ) -> Result<Vec<[T; N]>, SceneError> {
        let index = accessor.index();
        let elements = self.elements(accessor)?;
        self.hold_values::<[T; N]>(accessor.count(), || format!("accessor {index}"))?;
        let mut out = match elements {
            Some(elements) => {
                let mut out = Vec::with_capacity(elements.count);
                out.extend(
                    (0..elements.count).map(|i| std::array::from_fn(|c| value(&elements, i, c))),
                );
                out
            }
            // An accessor without a buffer view is all zeros (then usually sparse).
            None => vec![[T::default(); N]; accessor.count()],
        };
        if let Some(sparse) = accessor.sparse() {
            let (targets, values) = self.sparse_elements(accessor, &sparse)?;
            for (k, &target) in targets.iter().enumerate() {
                let slot = out.get_mut(target).ok_or_else(|| {
                    self.invalid(format!(
                        "accessor {index} has a sparse index {target} out of range"
                    ))
                })?;
                *slot = std::array::from_fn(|c| value(&values, k, c));
            }
        }
        Ok(out)
    }

    /// A scalar integer accessor (indices), each value checked to be below `limit`.
    pub fn read_indices(
        &self,
        accessor: &gltf::Accessor,
        limit: usize,
    ) -> Result<Vec<u32>, SceneError> {
        let index = accessor.index();
        let integer_type = matches!(
            accessor.data_type(),
            DataType::U8 | DataType::U16 | DataType::U32
        );
        if accessor.dimensions() != Dimensions::Scalar
            || !integer_type
            || accessor.sparse().is_some()
        {
            return Err(self.invalid(format!(
                "accessor {index} (indices) must be dense unsigned integer scalars"
            )));
        }
        let elements = self.elements(accessor)?;
        self.hold_values::<u32>(accessor.count(), || format!("accessor {index}"))?;
        let Some(elements) = elements else {
            return Ok(vec![0; accessor.count()]);
        };
        let mut out = Vec::with_capacity(elements.count);
        for i in 0..elements.count {
            let value = elements.integer(i, 0);
            if value as u64 >= limit as u64 {
                return Err(self.invalid(format!(
                    "accessor {index} (indices) has index {value} but the primitive has {limit} vertices"
                )));
            }
            out.push(value as u32);
        }
        Ok(out)
    }

    /// The accessor's bytes, or `None` when it has no buffer view.
    fn elements(&self, accessor: &gltf::Accessor) -> Result<Option<Elements<'_>>, SceneError> {
        let Some(view) = accessor.view() else {
            // Read back as four bytes per component (f32 or u32).
            let bytes = (accessor.count() as u64)
                .saturating_mul(components(accessor.dimensions()) as u64 * 4);
            self.hold_zeros(accessor.index(), bytes, || {
                format!(
                    "accessor {} ({} elements without a bufferView)",
                    accessor.index(),
                    accessor.count()
                )
            })?;
            return Ok(None);
        };
        let element_size = accessor.size();
        let stride = view.stride().unwrap_or(element_size);
        if stride < element_size {
            return Err(self.invalid(format!(
                "bufferView {} has stride {stride} but accessor {} elements are {element_size} bytes",
                view.index(),
                accessor.index()
            )));
        }
        let bytes = self.view_bytes(&view)?;
        let data = checked_range(
            bytes,
            accessor.offset(),
            accessor.count(),
            stride,
            element_size,
        );
        let data = data.ok_or_else(|| {
            self.invalid(format!(
                "bufferView {} is {} bytes but accessor {} needs {}",
                view.index(),
                bytes.len(),
                accessor.index(),
                needed(accessor.offset(), accessor.count(), stride, element_size)
                    .map_or_else(|| "more".to_owned(), |n| n.to_string())
            ))
        })?;
        Ok(Some(Elements {
            data,
            stride,
            count: accessor.count(),
            component: accessor.data_type(),
            normalized: accessor.normalized(),
        }))
    }

    /// Sparse substitution targets and their tightly packed values.
    fn sparse_elements<'a>(
        &'a self,
        accessor: &gltf::Accessor,
        sparse: &gltf::accessor::sparse::Sparse,
    ) -> Result<(Vec<usize>, Elements<'a>), SceneError> {
        use gltf::accessor::sparse::IndexType;
        let count = sparse.count();
        let indices = sparse.indices();
        let index_type = match indices.index_type() {
            IndexType::U8 => DataType::U8,
            IndexType::U16 => DataType::U16,
            IndexType::U32 => DataType::U32,
        };
        let index_bytes = self.view_bytes(&indices.view())?;
        let value_size = accessor.size();
        let value_bytes = self.view_bytes(&sparse.values().view())?;
        let out_of_range = || {
            self.invalid(format!(
                "accessor {} has sparse data beyond its buffer views",
                accessor.index()
            ))
        };
        let index_data = checked_range(
            index_bytes,
            indices.offset(),
            count,
            index_type.size(),
            index_type.size(),
        )
        .ok_or_else(out_of_range)?;
        let value_data = checked_range(
            value_bytes,
            sparse.values().offset(),
            count,
            value_size,
            value_size,
        )
        .ok_or_else(out_of_range)?;
        let index_elements = Elements {
            data: index_data,
            stride: index_type.size(),
            count,
            component: index_type,
            normalized: false,
        };
        let targets = (0..count)
            .map(|k| index_elements.integer(k, 0) as usize)
            .collect();
        let values = Elements {
            data: value_data,
            stride: value_size,
            count,
            component: accessor.data_type(),
            normalized: accessor.normalized(),
        };
        Ok((targets, values))
    }
}

fn checked_range(
    bytes: &[u8],
    offset: usize,
    count: usize,
    stride: usize,
    element_size: usize,
) -> Option<&[u8]> {
    let end = needed(offset, count, stride, element_size)?;
    bytes.get(offset..end)
}

/// Bytes from the view's start to the end of the last element, or `None` on overflow.
fn needed(offset: usize, count: usize, stride: usize, element_size: usize) -> Option<usize> {
    if count == 0 {
        return Some(offset);
    }
    (count - 1)
        .checked_mul(stride)?
        .checked_add(element_size)?
        .checked_add(offset)
}
