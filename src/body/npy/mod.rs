//! A reader for numpy `.npy` / `.npz` files, including object arrays whose payload is a pickle
//! (how `np.save(path, dict, allow_pickle=True)` stores SUPR's model dictionaries).
//!
//! Nothing here executes Python: pickles are interpreted by a small, allow-listed opcode
//! machine (see [`pickle`]) that only knows numpy arrays, dtypes, scalars and plain containers.

pub mod array;
pub mod pickle;

use std::io::Read;
use std::path::Path;

pub use array::{ArrayData, Dtype, DtypeKind, NdArray};

/// Errors reading `.npy`, `.npz` or pickle data; each names the file and, where it applies, the
/// byte offset of the problem.
#[derive(Debug, thiserror::Error)]
pub enum NpyError {
    /// The file could not be read.
    #[error("{file}: cannot read: {source}")]
    Io {
        /// File path.
        file: String,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The data ended before a complete value was read.
    #[error(
        "{file}: truncated at byte {offset}: {what} needs {needed} more bytes, {available} left"
    )]
    Truncated {
        /// File path.
        file: String,
        /// Byte offset where the read started.
        offset: usize,
        /// What was being read.
        what: &'static str,
        /// Bytes needed.
        needed: u64,
        /// Bytes left in the file.
        available: usize,
    },
    /// The `.npy` header (magic, version, header dictionary) is not valid.
    #[error("{file}: bad .npy header at byte {offset}: {reason}")]
    BadHeader {
        /// File path.
        file: String,
        /// Byte offset.
        offset: usize,
        /// What is wrong.
        reason: String,
    },
    /// The pickle uses an opcode this reader does not implement.
    #[error("{file}: unsupported pickle opcode 0x{opcode:02x} ({name}) at byte {offset}")]
    UnsupportedOpcode {
        /// File path.
        file: String,
        /// Byte offset of the opcode.
        offset: usize,
        /// Opcode byte.
        opcode: u8,
        /// Opcode name when known.
        name: &'static str,
    },
    /// The pickle refers to a Python callable outside the numpy allow-list.
    #[error(
        "{file}: pickle at byte {offset} refers to `{module}.{name}`, which this reader does not load"
    )]
    UnsupportedGlobal {
        /// File path.
        file: String,
        /// Byte offset.
        offset: usize,
        /// Module name.
        module: String,
        /// Attribute name.
        name: String,
    },
    /// An array has a dtype this reader does not decode.
    #[error("{file}: unsupported dtype `{dtype}` at byte {offset}")]
    UnsupportedDtype {
        /// File path.
        file: String,
        /// Byte offset.
        offset: usize,
        /// The dtype as numpy spells it.
        dtype: String,
    },
    /// An array's byte count does not match its shape and dtype.
    #[error(
        "{file}: array data at byte {offset} has {actual} bytes, shape and dtype need {expected}"
    )]
    SizeMismatch {
        /// File path.
        file: String,
        /// Byte offset.
        offset: usize,
        /// Bytes the shape and dtype need.
        expected: usize,
        /// Bytes present.
        actual: usize,
    },
    /// The pickle is structurally wrong (stack underflow, wrong argument types, ...).
    #[error("{file}: malformed pickle at byte {offset}: {reason}")]
    Malformed {
        /// File path.
        file: String,
        /// Byte offset.
        offset: usize,
        /// What is wrong.
        reason: String,
    },
    /// The `.npz` zip archive could not be read.
    #[error("{file}: bad .npz archive: {reason}")]
    Zip {
        /// File path.
        file: String,
        /// What is wrong.
        reason: String,
    },
}

/// A Python value decoded from a pickle (or a plain `.npy` array).
#[derive(Debug, Clone, PartialEq)]
pub enum PyValue {
    /// `None`.
    None,
    /// `bool` (also numpy bool scalars).
    Bool(bool),
    /// `int` that fits in 64 bits (also numpy integer scalars).
    Int(i64),
    /// `float` (also numpy float scalars).
    Float(f64),
    /// `str` (Python 2 byte strings are decoded as latin-1, like `np.load(encoding='latin1')`).
    Str(String),
    /// `bytes`.
    Bytes(Vec<u8>),
    /// `list`.
    List(Vec<PyValue>),
    /// `tuple`.
    Tuple(Vec<PyValue>),
    /// `dict`, in insertion order.
    Dict(Vec<(PyValue, PyValue)>),
    /// A numeric `numpy.ndarray`.
    Array(NdArray),
    /// A `numpy.ndarray` of Python objects (C order).
    ObjectArray {
        /// Dimensions.
        shape: Vec<usize>,
        /// Items in C order.
        items: Vec<PyValue>,
    },
}

impl PyValue {
    /// Python-ish type name, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            PyValue::None => "None",
            PyValue::Bool(_) => "bool",
            PyValue::Int(_) => "int",
            PyValue::Float(_) => "float",
            PyValue::Str(_) => "str",
            PyValue::Bytes(_) => "bytes",
            PyValue::List(_) => "list",
            PyValue::Tuple(_) => "tuple",
            PyValue::Dict(_) => "dict",
            PyValue::Array(_) => "ndarray",
            PyValue::ObjectArray { .. } => "object ndarray",
        }
    }

    /// Looks up a string key in a dict (`None` for other values or a missing key).
    pub fn get(&self, key: &str) -> Option<&PyValue> {
        match self {
            PyValue::Dict(items) => items
                .iter()
                .find(|(k, _)| matches!(k, PyValue::Str(s) if s == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The numeric array inside, if this is one.
    pub fn as_array(&self) -> Option<&NdArray> {
        match self {
            PyValue::Array(a) => Some(a),
            _ => None,
        }
    }

    /// Unwraps a 0-d object array (what `np.save` makes of a dict) to its single item; any
    /// other value is returned unchanged.
    pub fn into_item(self) -> PyValue {
        match self {
            PyValue::ObjectArray { shape, mut items } if shape.is_empty() && items.len() == 1 => {
                items.pop().unwrap_or(PyValue::None)
            }
            v => v,
        }
    }
}

/// Parses `.npy` bytes; `file` names the source in errors.
pub fn parse_npy(bytes: &[u8], file: &str) -> Result<PyValue, NpyError> {
    let (header, start) = npy_header(bytes, file)?;
    let data_start = start + header.len_bytes;
    let (descr, fortran, shape) = header_fields(&header.text, start, file)?;
    let dtype = Dtype::parse(&descr).ok_or_else(|| NpyError::UnsupportedDtype {
        file: file.into(),
        offset: start,
        dtype: descr.clone(),
    })?;
    let data = &bytes[data_start..];
    if dtype.kind == DtypeKind::Object {
        let value = pickle::unpickle(data, file, data_start)?;
        return match value {
            PyValue::ObjectArray { .. } | PyValue::Array(_) => Ok(value),
            other => Err(NpyError::Malformed {
                file: file.into(),
                offset: data_start,
                reason: format!(
                    "object .npy holds a pickled {}, not an array",
                    other.type_name()
                ),
            }),
        };
    }
    let count = array::element_count(&shape)
        .and_then(|c| c.checked_mul(dtype.item_size))
        .ok_or_else(|| bad_header(file, start, format!("shape {shape:?} overflows")))?;
    need(bytes, file, data_start, count, "the array data")?;
    Ok(PyValue::Array(NdArray::from_bytes(
        &data[..count],
        dtype,
        shape,
        fortran,
        file,
        data_start,
    )?))
}

fn bad_header(file: &str, offset: usize, reason: String) -> NpyError {
    NpyError::BadHeader {
        file: file.into(),
        offset,
        reason,
    }
}

/// Checks that `n` bytes from `offset` are present, else a truncation error naming `what`.
fn need(
    bytes: &[u8],
    file: &str,
    offset: usize,
    n: usize,
    what: &'static str,
) -> Result<(), NpyError> {
    if bytes.len() < offset + n {
        Err(NpyError::Truncated {
            file: file.into(),
            offset,
            what,
            needed: n as u64,
            available: bytes.len().saturating_sub(offset),
        })
    } else {
        Ok(())
    }
}

/// The `.npy` header dictionary's text and its length in bytes.
struct NpyHeader {
    /// The header text (latin-1, or UTF-8 in version 3).
    text: String,
    /// Its length in the file.
    len_bytes: usize,
}

/// Reads the magic, the version and the header text; returns it with the byte it starts at.
fn npy_header(bytes: &[u8], file: &str) -> Result<(NpyHeader, usize), NpyError> {
    need(bytes, file, 0, 8, "the .npy magic and version")?;
    if &bytes[..6] != b"\x93NUMPY" {
        return Err(bad_header(
            file,
            0,
            "missing the \\x93NUMPY magic (not a .npy file)".into(),
        ));
    }
    let (major, minor) = (bytes[6], bytes[7]);
    let (header_len, start) = match major {
        1 => {
            need(bytes, file, 8, 2, "the .npy header length")?;
            (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10)
        }
        2 | 3 => {
            need(bytes, file, 8, 4, "the .npy header length")?;
            (
                u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
                12,
            )
        }
        _ => {
            return Err(bad_header(
                file,
                6,
                format!("unsupported .npy version {major}.{minor}"),
            ));
        }
    };
    need(bytes, file, start, header_len, "the .npy header")?;
    let header_bytes = &bytes[start..start + header_len];
    let text: String = if major == 3 {
        std::str::from_utf8(header_bytes)
            .map_err(|_| bad_header(file, start, "header is not UTF-8".into()))?
            .to_owned()
    } else {
        header_bytes.iter().map(|&b| b as char).collect()
    };
    Ok((
        NpyHeader {
            text,
            len_bytes: header_len,
        },
        start,
    ))
}

/// The header dictionary's `descr`, `fortran_order` and `shape` (header at byte `start`).
fn header_fields(
    text: &str,
    start: usize,
    file: &str,
) -> Result<(String, bool, Vec<usize>), NpyError> {
    let bad = |reason: String| bad_header(file, start, reason);
    let lit = header::parse(text).map_err(bad)?;
    let field = |name: &str| {
        lit.get(name)
            .ok_or_else(|| bad(format!("header has no `{name}` field: {text:?}")))
    };
    let descr = match field("descr")? {
        header::Lit::Str(s) => s.clone(),
        other => {
            return Err(NpyError::UnsupportedDtype {
                file: file.into(),
                offset: start,
                dtype: format!("{other:?} (structured dtypes are not supported)"),
            });
        }
    };
    let fortran = match field("fortran_order")? {
        header::Lit::Bool(b) => *b,
        other => return Err(bad(format!("fortran_order is {other:?}"))),
    };
    let shape = match field("shape")? {
        header::Lit::Tuple(items) => items
            .iter()
            .map(|x| match x {
                header::Lit::Int(n) => usize::try_from(*n).ok(),
                _ => None,
            })
            .collect::<Option<Vec<usize>>>()
            .ok_or_else(|| bad(format!("shape {items:?} is not a tuple of sizes")))?,
        other => return Err(bad(format!("shape is {other:?}"))),
    };
    Ok((descr, fortran, shape))
}

/// Reads a `.npz` archive (plain or compressed) into `(name, value)` pairs, names without the
/// `.npy` suffix, 0-d object arrays unwrapped to their item.
pub fn read_npz(path: &Path) -> Result<Vec<(String, PyValue)>, NpyError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| NpyError::Io {
        file: file.clone(),
        source,
    })?;
    parse_npz(&bytes, &file)
}

/// Parses `.npz` bytes (see [`read_npz`]); `file` names the source in errors.
pub fn parse_npz(bytes: &[u8], file: &str) -> Result<Vec<(String, PyValue)>, NpyError> {
    let zip_err = |reason: String| NpyError::Zip {
        file: file.into(),
        reason,
    };
    let mut archive =
        zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| zip_err(e.to_string()))?;
    let mut out = Vec::with_capacity(archive.len().min(1024));
    for i in 0..archive.len() {
        let entry = archive.by_index(i).map_err(|e| zip_err(e.to_string()))?;
        let name = entry.name().to_owned();
        let Some(key) = name.strip_suffix(".npy") else {
            continue;
        };
        let key = key.to_owned();
        // Inflate at most what the entry declares and what deflate can produce from its
        // compressed size (ratio <= 1032), so a lying header cannot make us allocate more.
        let limit = entry.size().min(
            entry
                .compressed_size()
                .saturating_mul(1032)
                .saturating_add(1024),
        );
        let mut data = Vec::new();
        entry
            .take(limit)
            .read_to_end(&mut data)
            .map_err(|e| zip_err(format!("entry {name}: {e}")))?;
        let source = format!("{file} (entry {name})");
        out.push((key, parse_npy(&data, &source)?.into_item()));
    }
    Ok(out)
}

/// A tiny parser for the Python literal dictionary in `.npy` headers.
mod header {
    /// A Python literal.
    #[derive(Debug, Clone, PartialEq)]
    pub enum Lit {
        Str(String),
        Int(i64),
        Bool(bool),
        None,
        Tuple(Vec<Lit>),
        List(Vec<Lit>),
        Dict(Vec<(Lit, Lit)>),
    }

    impl Lit {
        pub fn get(&self, key: &str) -> Option<&Lit> {
            match self {
                Lit::Dict(items) => items
                    .iter()
                    .find(|(k, _)| matches!(k, Lit::Str(s) if s == key))
                    .map(|(_, v)| v),
                _ => None,
            }
        }
    }

    pub fn parse(text: &str) -> Result<Lit, String> {
        let chars: Vec<char> = text.chars().collect();
        let mut pos = 0;
        let v = value(&chars, &mut pos, 0)?;
        skip_ws(&chars, &mut pos);
        if pos != chars.len() {
            return Err(format!("unexpected text after the header dict: {text:?}"));
        }
        Ok(v)
    }

    fn skip_ws(c: &[char], pos: &mut usize) {
        while *pos < c.len() && c[*pos].is_whitespace() {
            *pos += 1;
        }
    }

    fn value(c: &[char], pos: &mut usize, depth: usize) -> Result<Lit, String> {
        if depth > 16 {
            return Err("header nests too deeply".into());
        }
        skip_ws(c, pos);
        let Some(&ch) = c.get(*pos) else {
            return Err("header ends early".into());
        };
        match ch {
            '\'' | '"' => {
                let start = *pos + 1;
                let end = c[start..]
                    .iter()
                    .position(|&x| x == ch)
                    .ok_or("unterminated string in header")?;
                *pos = start + end + 1;
                Ok(Lit::Str(c[start..start + end].iter().collect()))
            }
            '{' | '(' | '[' => {
                let close = match ch {
                    '{' => '}',
                    '(' => ')',
                    _ => ']',
                };
                *pos += 1;
                let mut items = Vec::new();
                let mut pairs = Vec::new();
                loop {
                    skip_ws(c, pos);
                    if c.get(*pos) == Some(&close) {
                        *pos += 1;
                        break;
                    }
                    let k = value(c, pos, depth + 1)?;
                    skip_ws(c, pos);
                    if ch == '{' {
                        if c.get(*pos) != Some(&':') {
                            return Err("expected ':' in header dict".into());
                        }
                        *pos += 1;
                        let v = value(c, pos, depth + 1)?;
                        pairs.push((k, v));
                    } else {
                        items.push(k);
                    }
                    skip_ws(c, pos);
                    match c.get(*pos) {
                        Some(',') => *pos += 1,
                        Some(x) if *x == close => {}
                        _ => return Err(format!("expected ',' or '{close}' in header")),
                    }
                }
                Ok(match ch {
                    '{' => Lit::Dict(pairs),
                    '(' => Lit::Tuple(items),
                    _ => Lit::List(items),
                })
            }
            _ => {
                let start = *pos;
                while *pos < c.len()
                    && (c[*pos].is_alphanumeric() || c[*pos] == '-' || c[*pos] == '_')
                {
                    *pos += 1;
                }
                let word: String = c[start..*pos].iter().collect();
                match word.as_str() {
                    "True" => Ok(Lit::Bool(true)),
                    "False" => Ok(Lit::Bool(false)),
                    "None" => Ok(Lit::None),
                    w => w
                        .trim_end_matches('L')
                        .parse::<i64>()
                        .map(Lit::Int)
                        .map_err(|_| format!("unexpected token {w:?} in header")),
                }
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn parses_numpy_header_dicts() {
            let h = "{'descr': '<f8', 'fortran_order': True, 'shape': (3, 4), }   \n";
            let l = parse(h).unwrap();
            assert_eq!(l.get("descr"), Some(&Lit::Str("<f8".into())));
            assert_eq!(l.get("fortran_order"), Some(&Lit::Bool(true)));
            assert_eq!(
                l.get("shape"),
                Some(&Lit::Tuple(vec![Lit::Int(3), Lit::Int(4)]))
            );
            assert_eq!(
                parse("{'shape': (7,)}").unwrap().get("shape"),
                Some(&Lit::Tuple(vec![Lit::Int(7)]))
            );
            assert!(parse("{'shape': (3, 4}").is_err());
            assert!(parse("{'a': 'b'").is_err());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    pub(crate) fn fixture(name: &str) -> (Vec<u8>, String) {
        let path: PathBuf = [
            env!("CARGO_MANIFEST_DIR"),
            "tests/fixtures/supr/pickle",
            name,
        ]
        .iter()
        .collect();
        let bytes = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("missing fixture {}: {e}", path.display()));
        (bytes, path.display().to_string())
    }

    #[test]
    fn plain_big_endian_fortran_npy_reads_in_c_order() {
        let (bytes, file) = fixture("plain_be_fortran.npy");
        let a = parse_npy(&bytes, &file).unwrap();
        let a = a.as_array().unwrap();
        assert_eq!(a.shape, vec![2, 3, 4]);
        assert_eq!(a.dtype.descr(), ">f8");
        let want: Vec<f64> = (0..24).map(|i| i as f64 * 0.25).collect();
        assert_eq!(a.data, ArrayData::F64(want));
    }

    #[test]
    fn header_versions_2_and_3_and_bool_arrays_read() {
        for name in ["plain_v2.npy", "plain_v3.npy"] {
            let (bytes, file) = fixture(name);
            assert_eq!(bytes[6], if name.contains("v2") { 2 } else { 3 });
            let v = parse_npy(&bytes, &file).unwrap();
            let a = v.as_array().unwrap();
            assert_eq!(a.shape, vec![3, 2]);
            assert_eq!(a.data, ArrayData::I64((0..6).map(|i| i - 2).collect()));
        }
        let (bytes, file) = fixture("plain_bool.npy");
        let v = parse_npy(&bytes, &file).unwrap();
        assert_eq!(
            v.as_array().unwrap().data,
            ArrayData::Bool(vec![true, false, false, true])
        );
    }

    #[test]
    fn truncated_and_garbage_npy_are_typed_errors_naming_the_file() {
        let (bytes, file) = fixture("plain_be_fortran.npy");
        let cut = &bytes[..bytes.len() - 3];
        let err = parse_npy(cut, &file).unwrap_err();
        assert!(matches!(err, NpyError::Truncated { .. }), "{err}");
        assert!(err.to_string().contains("plain_be_fortran.npy"), "{err}");
        let err = parse_npy(&bytes[..20], &file).unwrap_err();
        assert!(matches!(err, NpyError::Truncated { .. }), "{err}");
        let err = parse_npy(b"PK\x03\x04 not npy at all", "x.npy").unwrap_err();
        assert!(
            matches!(err, NpyError::BadHeader { offset: 0, .. }),
            "{err}"
        );
        // An unsupported dtype in the header.
        let mut h = b"\x93NUMPY\x01\x00".to_vec();
        let dict = b"{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }\n";
        h.extend_from_slice(&(dict.len() as u16).to_le_bytes());
        h.extend_from_slice(dict);
        h.extend_from_slice(&[0; 8]);
        let err = parse_npy(&h, "c.npy").unwrap_err();
        assert!(
            matches!(&err, NpyError::UnsupportedDtype { dtype, .. } if dtype == "<c8"),
            "{err}"
        );
    }

    #[test]
    fn object_npy_of_a_dict_unpickles() {
        let (bytes, file) = fixture("dict_object.npy");
        let v = parse_npy(&bytes, &file).unwrap().into_item();
        pickle::tests::check_payload(&v);
    }
}
