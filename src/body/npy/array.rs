//! Numeric n-d arrays decoded from numpy bytes (any byte order, C or Fortran order) into
//! C-order Rust vectors, and the numpy dtypes this reader understands.

use super::NpyError;

/// Element type of a numpy array this reader decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtypeKind {
    /// IEEE float (`f4`, `f8`).
    Float,
    /// Signed integer (`i1`, `i2`, `i4`, `i8`).
    Int,
    /// Unsigned integer (`u1`, `u2`, `u4`, `u8`).
    UInt,
    /// Boolean (`b1`, `?`).
    Bool,
    /// Python objects (`O`): only valid inside pickles, where the items are pickled objects.
    Object,
}

/// A numpy dtype: kind, item size in bytes and byte order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dtype {
    /// Element kind.
    pub kind: DtypeKind,
    /// Bytes per element.
    pub item_size: usize,
    /// True for big-endian (`>`) data; little-endian, native (`=`) and `|` are false.
    pub big_endian: bool,
}

impl Dtype {
    /// Parses a numpy type string such as `<f8`, `>i4`, `|b1`, `?`, `u1`, `O8`, `|O`.
    ///
    /// Native order (`=` or none) is read as little-endian: every platform numpy files come
    /// from in practice is little-endian, and pickled dtypes carry their order in `BUILD`.
    pub fn parse(descr: &str) -> Option<Dtype> {
        let (big_endian, rest) = match descr.as_bytes().first()? {
            b'<' | b'=' | b'|' => (false, &descr[1..]),
            b'>' => (true, &descr[1..]),
            _ => (false, descr),
        };
        let (kind, item_size) = match rest {
            "f4" => (DtypeKind::Float, 4),
            "f8" | "d" => (DtypeKind::Float, 8),
            "i1" | "b" => (DtypeKind::Int, 1),
            "i2" => (DtypeKind::Int, 2),
            "i4" => (DtypeKind::Int, 4),
            "i8" | "q" => (DtypeKind::Int, 8),
            "u1" | "B" => (DtypeKind::UInt, 1),
            "u2" => (DtypeKind::UInt, 2),
            "u4" => (DtypeKind::UInt, 4),
            "u8" | "Q" => (DtypeKind::UInt, 8),
            "b1" | "?" => (DtypeKind::Bool, 1),
            "O" | "O8" | "O4" => (DtypeKind::Object, 8),
            _ => return None,
        };
        Some(Dtype {
            kind,
            item_size,
            big_endian: big_endian && item_size > 1,
        })
    }

    /// numpy's spelling of this dtype (`<f8`, `>u4`, `|b1`, `|O`), for messages.
    pub fn descr(&self) -> String {
        let c = match self.kind {
            DtypeKind::Float => 'f',
            DtypeKind::Int => 'i',
            DtypeKind::UInt => 'u',
            DtypeKind::Bool => 'b',
            DtypeKind::Object => return "|O".into(),
        };
        let order = if self.item_size == 1 {
            '|'
        } else if self.big_endian {
            '>'
        } else {
            '<'
        };
        format!("{order}{c}{}", self.item_size)
    }
}

/// Decoded element storage (integers widened to 64 bits, C order).
#[derive(Debug, Clone, PartialEq)]
pub enum ArrayData {
    /// `f4` values.
    F32(Vec<f32>),
    /// `f8` values.
    F64(Vec<f64>),
    /// Signed integers of any width.
    I64(Vec<i64>),
    /// Unsigned integers of any width.
    U64(Vec<u64>),
    /// Booleans.
    Bool(Vec<bool>),
}

/// A numeric n-d array in C (row-major) order.
#[derive(Debug, Clone, PartialEq)]
pub struct NdArray {
    /// Dimensions (empty for a 0-d array).
    pub shape: Vec<usize>,
    /// The dtype the file stored (before widening), for messages.
    pub dtype: Dtype,
    /// Elements, `shape.iter().product()` of them.
    pub data: ArrayData,
}

impl NdArray {
    /// Number of elements.
    pub fn len(&self) -> usize {
        match &self.data {
            ArrayData::F32(v) => v.len(),
            ArrayData::F64(v) => v.len(),
            ArrayData::I64(v) => v.len(),
            ArrayData::U64(v) => v.len(),
            ArrayData::Bool(v) => v.len(),
        }
    }

    /// True when the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the elements are floats.
    pub fn is_float(&self) -> bool {
        matches!(self.data, ArrayData::F32(_) | ArrayData::F64(_))
    }

    /// The elements as f64 if the array holds floats (exact for `f4` and `f8`).
    pub fn to_f64(&self) -> Option<Vec<f64>> {
        match &self.data {
            ArrayData::F32(v) => Some(v.iter().map(|&x| x as f64).collect()),
            ArrayData::F64(v) => Some(v.clone()),
            _ => None,
        }
    }

    /// The elements as i64 if the array holds integers that all fit.
    pub fn to_i64(&self) -> Option<Vec<i64>> {
        match &self.data {
            ArrayData::I64(v) => Some(v.clone()),
            ArrayData::U64(v) => v.iter().map(|&x| i64::try_from(x).ok()).collect(),
            _ => None,
        }
    }

    /// Decodes `count` elements of `dtype` from `raw`, reordering Fortran-order data to C order.
    /// `raw` must hold exactly the bytes of the array; `what` names the source for errors.
    pub(crate) fn from_bytes(
        raw: &[u8],
        dtype: Dtype,
        shape: Vec<usize>,
        fortran: bool,
        file: &str,
        offset: usize,
    ) -> Result<NdArray, NpyError> {
        let count = element_count(&shape).ok_or_else(|| NpyError::Malformed {
            file: file.into(),
            offset,
            reason: format!("array shape {shape:?} overflows"),
        })?;
        let expected = count.checked_mul(dtype.item_size);
        if expected != Some(raw.len()) {
            return Err(NpyError::SizeMismatch {
                file: file.into(),
                offset,
                expected: expected.unwrap_or(usize::MAX),
                actual: raw.len(),
            });
        }
        let n = dtype.item_size;
        let chunk = |i: usize| -> [u8; 8] {
            let mut b = [0u8; 8];
            let src = &raw[i * n..(i + 1) * n];
            if dtype.big_endian {
                for (k, &x) in src.iter().rev().enumerate() {
                    b[k] = x;
                }
            } else {
                b[..n].copy_from_slice(src);
            }
            b
        };
        let order = c_order_permutation(&shape, fortran);
        let idx = |i: usize| order.as_ref().map_or(i, |o| o[i]);
        let data = match dtype.kind {
            DtypeKind::Float if n == 4 => ArrayData::F32(
                (0..count)
                    .map(|i| {
                        let b = chunk(idx(i));
                        f32::from_le_bytes([b[0], b[1], b[2], b[3]])
                    })
                    .collect(),
            ),
            DtypeKind::Float => ArrayData::F64(
                (0..count)
                    .map(|i| f64::from_le_bytes(chunk(idx(i))))
                    .collect(),
            ),
            DtypeKind::Int => ArrayData::I64(
                (0..count)
                    .map(|i| {
                        let v = u64::from_le_bytes(chunk(idx(i)));
                        // Sign-extend from the item width.
                        let shift = 64 - 8 * n as u32;
                        ((v << shift) as i64) >> shift
                    })
                    .collect(),
            ),
            DtypeKind::UInt => ArrayData::U64(
                (0..count)
                    .map(|i| u64::from_le_bytes(chunk(idx(i))))
                    .collect(),
            ),
            DtypeKind::Bool => ArrayData::Bool((0..count).map(|i| chunk(idx(i))[0] != 0).collect()),
            DtypeKind::Object => {
                return Err(NpyError::UnsupportedDtype {
                    file: file.into(),
                    offset,
                    dtype: "|O (object array with raw bytes)".into(),
                });
            }
        };
        Ok(NdArray { shape, dtype, data })
    }
}

/// Product of the dimensions, `None` on overflow.
pub(crate) fn element_count(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

/// For Fortran-order data, the storage index of each C-order element; `None` when the data is
/// already in C order (C order, or at most one dimension larger than 1).
pub(crate) fn c_order_permutation(shape: &[usize], fortran: bool) -> Option<Vec<usize>> {
    if !fortran || shape.iter().filter(|&&d| d > 1).count() <= 1 {
        return None;
    }
    let count = element_count(shape)?;
    // Fortran strides: the first axis varies fastest.
    let mut strides = vec![1usize; shape.len()];
    for a in 1..shape.len() {
        strides[a] = strides[a - 1] * shape[a - 1];
    }
    let mut index = vec![0usize; shape.len()];
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        out.push(index.iter().zip(&strides).map(|(i, s)| i * s).sum());
        // Advance the C-order multi-index (last axis fastest).
        for a in (0..shape.len()).rev() {
            index[a] += 1;
            if index[a] < shape[a] {
                break;
            }
            index[a] = 0;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtype_strings_round_trip_and_unknown_ones_are_rejected() {
        for s in [
            "<f8", ">f4", "<i4", ">i8", "<u4", ">u8", "|b1", "|u1", "|i1", "<i2",
        ] {
            assert_eq!(Dtype::parse(s).unwrap().descr(), s);
        }
        assert_eq!(Dtype::parse("f8").unwrap().descr(), "<f8");
        assert_eq!(Dtype::parse("?").unwrap().kind, DtypeKind::Bool);
        for s in ["<c8", "<f2", "<U3", "|S4", "<M8[s]", ""] {
            assert!(Dtype::parse(s).is_none(), "{s}");
        }
    }

    #[test]
    fn fortran_big_endian_bytes_decode_to_c_order() {
        // 2x3 matrix [[0,1,2],[3,4,5]] stored Fortran order (columns first), big-endian i2.
        let fortran_values: [i16; 6] = [0, 3, 1, 4, 2, 5];
        let raw: Vec<u8> = fortran_values
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect();
        let a = NdArray::from_bytes(&raw, Dtype::parse(">i2").unwrap(), vec![2, 3], true, "t", 0)
            .unwrap();
        assert_eq!(a.data, ArrayData::I64(vec![0, 1, 2, 3, 4, 5]));
        let neg = NdArray::from_bytes(
            &[0xff, 0xfe],
            Dtype::parse(">i2").unwrap(),
            vec![1],
            false,
            "t",
            0,
        )
        .unwrap();
        assert_eq!(neg.data, ArrayData::I64(vec![-2]));
        let err = NdArray::from_bytes(
            &raw[..5],
            Dtype::parse(">i2").unwrap(),
            vec![2, 3],
            true,
            "t",
            9,
        );
        assert!(matches!(
            err,
            Err(NpyError::SizeMismatch {
                expected: 12,
                actual: 5,
                offset: 9,
                ..
            })
        ));
    }
}
