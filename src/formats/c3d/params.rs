//! The C3D parameter section: groups and typed, multi-dimensional parameters.

use std::path::Path;

use super::{C3dError, Processor};
use crate::io_util::printable;

/// Values of one parameter, flattened in file order (first dimension fastest).
#[derive(Debug, Clone, PartialEq)]
pub enum ParamData {
    /// Characters; `dims[0]` is the string length.
    Char(Vec<u8>),
    /// Bytes.
    Byte(Vec<u8>),
    /// 16-bit integers.
    Int(Vec<i16>),
    /// Floats.
    Float(Vec<f32>),
}

/// One parameter record.
#[derive(Debug, Clone, PartialEq)]
pub struct Parameter {
    /// Its group's name.
    pub group: String,
    /// Its name.
    pub name: String,
    /// Dimensions (empty for a scalar).
    pub dims: Vec<usize>,
    /// Values.
    pub data: ParamData,
    /// Byte offset of the record in the file (for error messages).
    pub offset: usize,
}

impl Parameter {
    /// First value as a number (for char data: parsed text).
    pub fn first_f64(&self) -> Option<f64> {
        match &self.data {
            ParamData::Int(v) => v.first().map(|&x| x as f64),
            ParamData::Float(v) => v.first().map(|&x| x as f64),
            ParamData::Byte(v) => v.first().map(|&x| x as f64),
            ParamData::Char(_) => self.strings().first().and_then(|s| s.trim().parse().ok()),
        }
    }

    /// All values as floats (numbers only).
    pub fn floats(&self) -> Vec<f64> {
        match &self.data {
            ParamData::Int(v) => v.iter().map(|&x| x as f64).collect(),
            ParamData::Float(v) => v.iter().map(|&x| x as f64).collect(),
            ParamData::Byte(v) => v.iter().map(|&x| x as f64).collect(),
            ParamData::Char(_) => Vec::new(),
        }
    }

    /// Char data split into trimmed strings of length `dims[0]`.
    pub fn strings(&self) -> Vec<String> {
        let ParamData::Char(c) = &self.data else {
            return Vec::new();
        };
        let len = self.dims.first().copied().unwrap_or(c.len()).max(1);
        c.chunks(len)
            .map(|s| {
                String::from_utf8_lossy(s)
                    .trim_matches(|ch: char| ch.is_whitespace() || ch == '\0')
                    .to_string()
            })
            .collect()
    }
}

/// All parameters of a file in order; lookups return the last occurrence.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parameters {
    /// Parameters in file order (duplicates kept).
    pub list: Vec<Parameter>,
}

impl Parameters {
    /// Parameter `group:name` (case-insensitive). C3D files occasionally repeat a parameter
    /// (PiG_Calibration-FlatFoot-Full.c3d repeats PROCESSING entries); like ezc3d, which
    /// overwrites on each occurrence, the last one wins.
    pub fn get(&self, group: &str, name: &str) -> Option<&Parameter> {
        self.list
            .iter()
            .rev()
            .find(|p| p.group.eq_ignore_ascii_case(group) && p.name.eq_ignore_ascii_case(name))
    }

    /// The parameters of a group in file order.
    pub fn group(&self, group: &str) -> Option<Vec<&Parameter>> {
        let v: Vec<&Parameter> = self
            .list
            .iter()
            .filter(|p| p.group.eq_ignore_ascii_case(group))
            .collect();
        (!v.is_empty()).then_some(v)
    }
}

/// Parses the parameter section starting at byte `start` (groups and parameter records, until a
/// zero name length or a non-positive next-record offset) in the `processor` layout.
pub(crate) fn parse_parameters(
    bytes: &[u8],
    path: &Path,
    start: usize,
    processor: Processor,
) -> Result<Parameters, C3dError> {
    let blocks = bytes[start + 2] as usize;
    let end = if blocks == 0 {
        bytes.len()
    } else {
        (start + blocks * 512).min(bytes.len())
    };
    let mut groups: Vec<(i8, String)> = Vec::new();
    let mut pending: Vec<(i8, Parameter)> = Vec::new();
    let mut i = start + 4;
    while i + 2 <= end {
        let name_len = (bytes[i] as i8).unsigned_abs() as usize;
        let id = bytes[i + 1] as i8;
        if name_len == 0 || id == 0 {
            break;
        }
        let name_end = i + 2 + name_len;
        if name_end + 2 > end {
            break;
        }
        let name = String::from_utf8_lossy(&bytes[i + 2..name_end])
            .trim()
            .to_string();
        let j = name_end;
        let next = processor.i16([bytes[j], bytes[j + 1]]);
        let bad = |reason: String| C3dError::BadParameter {
            path: path.to_path_buf(),
            group: groups
                .iter()
                .find(|g| g.0 == -id)
                .map(|g| printable(&g.1))
                .unwrap_or_default(),
            name: printable(&name),
            offset: i,
            reason,
        };
        if id < 0 {
            groups.push((id, name.clone()));
        } else {
            let (dims, data) = parse_values(bytes, j, end, processor, &bad)?;
            pending.push((
                id,
                Parameter {
                    group: String::new(),
                    name,
                    dims,
                    data,
                    offset: i,
                },
            ));
        }
        if next <= 0 {
            break;
        }
        i = j + next as usize;
    }
    let list = pending
        .into_iter()
        .map(|(id, mut p)| {
            p.group = groups
                .iter()
                .find(|g| g.0 == -id)
                .map(|g| g.1.clone())
                .unwrap_or_else(|| format!("GROUP{id}"));
            p
        })
        .collect();
    Ok(Parameters { list })
}

/// Decodes a parameter record's type, dimensions and values, which start at byte `j` (after
/// its name and next-record offset); `bad` makes the error naming the record.
fn parse_values(
    bytes: &[u8],
    j: usize,
    end: usize,
    processor: Processor,
    bad: &dyn Fn(String) -> C3dError,
) -> Result<(Vec<usize>, ParamData), C3dError> {
    if j + 4 > end {
        return Err(bad("record ends before its type and dimensions".into()));
    }
    let kind = bytes[j + 2] as i8;
    let ndims = bytes[j + 3] as usize;
    if j + 4 + ndims > end {
        return Err(bad(format!(
            "{ndims} dimensions run past the parameter section"
        )));
    }
    let dims: Vec<usize> = bytes[j + 4..j + 4 + ndims]
        .iter()
        .map(|&d| d as usize)
        .collect();
    let count = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| bad(format!("dimensions {dims:?} overflow")))?;
    let elem = match kind {
        -1 | 1 => 1,
        2 => 2,
        4 => 4,
        k => return Err(bad(format!("unknown type {k} (expected -1, 1, 2 or 4)"))),
    };
    let k = j + 4 + ndims;
    let nbytes = count.saturating_mul(elem);
    if nbytes > end.saturating_sub(k) {
        return Err(bad(format!(
            "{count} values of {elem} bytes run past the parameter section (byte {end})"
        )));
    }
    let raw = &bytes[k..k + nbytes];
    let data = match kind {
        -1 => ParamData::Char(raw.to_vec()),
        1 => ParamData::Byte(raw.to_vec()),
        2 => ParamData::Int(
            raw.chunks_exact(2)
                .map(|c| processor.i16([c[0], c[1]]))
                .collect(),
        ),
        _ => ParamData::Float(
            raw.chunks_exact(4)
                .map(|c| processor.f32([c[0], c[1], c[2], c[3]]))
                .collect(),
        ),
    };
    Ok((dims, data))
}
