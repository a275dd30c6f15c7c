//! C3D reader: header, parameter section and point data, in Intel, DEC (VAX) and MIPS layouts,
//! integer and float storage, producing a [`MarkerTrial`] in metres.
//!
//! Written by hand after evaluating the crates.io `c3dio` 0.8 crate on all nine shared files: it
//! reads them all (frame counts, label counts, rates and event counts agree with ezc3d, the DEC
//! file included), but it hands gaps back as (0,0,0) points with residual 0 (sample23), keeps label
//! prefixes, has no notion of model outputs versus markers, reports errors without the file or byte
//! offset, and has ~50 `unwrap()`s on values derived from the input. Wrapping it would have needed a
//! full post-processing layer and our own error type anyway, so this compact reader (~500 lines)
//! produces gaitlens' semantics directly and is checked against ezc3d on every shared file.

mod data;
mod params;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use params::{ParamData, Parameter, Parameters};

use data::DataBlock;

use super::trial::{GaitEvent, MarkerTrial, ModelOutput, strip_prefix};
use crate::io_util::printable;

/// Errors of the C3D reader; each names the file and, where it applies, the byte offset.
#[derive(Debug, thiserror::Error)]
pub enum C3dError {
    /// The file could not be read. The I/O error is part of the message and deliberately not
    /// exposed as `source()`: chain printers (`anyhow`'s `{:#}`) would print it twice.
    #[error("cannot read {path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
    /// The header's second byte is not the C3D key 0x50.
    #[error("{path}: not a C3D file (byte 1 is {found:#04x}, expected 0x50)")]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// The byte found.
        found: u8,
    },
    /// The file ends before a structure it announces.
    #[error(
        "{path}: truncated at byte {offset}: {what} needs {needed} bytes, {available} available"
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Where the structure starts.
        offset: usize,
        /// What was being read.
        what: &'static str,
        /// Bytes needed.
        needed: usize,
        /// Bytes left.
        available: usize,
    },
    /// The processor type byte is not 84 (Intel), 85 (DEC) or 86 (MIPS).
    #[error("{path}: unknown processor type {found} at byte {offset} (expected 84, 85 or 86)")]
    BadProcessor {
        /// The file.
        path: PathBuf,
        /// Offset of the byte.
        offset: usize,
        /// Value found.
        found: u8,
    },
    /// A header value is unusable (and no parameter replaces it).
    #[error("{path}: header at byte {offset}: {reason}")]
    BadHeader {
        /// The file.
        path: PathBuf,
        /// Offset of the value.
        offset: usize,
        /// What is wrong.
        reason: String,
    },
    /// A parameter is malformed or inconsistent (names are escaped if not printable).
    #[error("{path}: parameter {group}:{name} at byte {offset}: {reason}")]
    BadParameter {
        /// The file.
        path: PathBuf,
        /// Group name.
        group: String,
        /// Parameter name.
        name: String,
        /// Offset of the parameter record.
        offset: usize,
        /// What is wrong.
        reason: String,
    },
    /// Header and parameters disagree in a way the reader cannot resolve.
    #[error("{path}: {reason}")]
    Inconsistent {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// Number layout of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Processor {
    /// Intel: little-endian integers, IEEE floats.
    Intel,
    /// DEC: little-endian integers, VAX F floats.
    Dec,
    /// MIPS / SGI: big-endian integers and IEEE floats.
    Mips,
}

impl Processor {
    pub(crate) fn i16(self, b: [u8; 2]) -> i16 {
        match self {
            Processor::Mips => i16::from_be_bytes(b),
            _ => i16::from_le_bytes(b),
        }
    }

    pub(crate) fn f32(self, b: [u8; 4]) -> f32 {
        match self {
            Processor::Intel => f32::from_le_bytes(b),
            Processor::Mips => f32::from_be_bytes(b),
            Processor::Dec => {
                // VAX F: 16-bit words swapped relative to IEEE LE and an exponent bias 2 larger.
                let v = f32::from_le_bytes([b[2], b[3], b[0], b[1]]);
                v / 4.0
            }
        }
    }
}

/// A whole C3D file: header values, parameters and the point data as stored.
#[derive(Debug, Clone)]
pub struct C3dFile {
    /// Number layout.
    pub processor: Processor,
    /// All parameters (the last occurrence wins on duplicates, as in ezc3d).
    pub params: Parameters,
    /// Point rate in Hz.
    pub rate_hz: f64,
    /// First frame number (header).
    pub first_frame: i64,
    /// All point labels (LABELS, LABELS2, ...), untrimmed of prefixes.
    pub labels: Vec<String>,
    /// `frames × points` positions in the file's units, `None` where invalid.
    pub points: Vec<Vec<Option<[f64; 3]>>>,
    /// What the reader repaired or dropped (also logged with `tracing::warn!`): an overridden
    /// processor type, frames announced but not stored, events with non-finite times, ...
    pub warnings: Vec<String>,
}

/// Reads a C3D file into a marker trial in metres.
pub fn read_c3d(path: &Path) -> Result<MarkerTrial, C3dError> {
    let bytes = std::fs::read(path).map_err(|error| C3dError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    parse_c3d(&bytes, path)
}

/// Parses C3D bytes (`path` only labels errors) into a marker trial in metres.
pub fn parse_c3d(bytes: &[u8], path: &Path) -> Result<MarkerTrial, C3dError> {
    let file = parse_c3d_file(bytes, path)?;
    Ok(to_trial(&file))
}

fn need(
    bytes: &[u8],
    path: &Path,
    offset: usize,
    n: usize,
    what: &'static str,
) -> Result<(), C3dError> {
    let available = bytes.len().saturating_sub(offset);
    if available < n {
        return Err(C3dError::Truncated {
            path: path.to_path_buf(),
            offset,
            what,
            needed: n,
            available,
        });
    }
    Ok(())
}

/// Point rates outside this range (Hz) are taken as corrupt (no motion-capture system records
/// slower than one frame in ten seconds or faster than 100 kHz).
pub const RATE_RANGE_HZ: std::ops::RangeInclusive<f64> = 0.1..=100_000.0;

fn plausible_rate(r: f64) -> bool {
    RATE_RANGE_HZ.contains(&r)
}

fn plausible_scale(s: f64) -> bool {
    s.is_finite() && (1e-9..=1e6).contains(&s.abs())
}

fn header_f32(bytes: &[u8], processor: Processor, offset: usize) -> f64 {
    processor.f32([
        bytes[offset],
        bytes[offset + 1],
        bytes[offset + 2],
        bytes[offset + 3],
    ]) as f64
}

/// How many of the floats whose decoding depends on the processor type (header rate and scale,
/// POINT:RATE and POINT:SCALE when stored as floats) are plausible under `processor`, out of how
/// many are present. Exact zeros are left out: they read as zero in every layout.
fn float_consistency(bytes: &[u8], params: &Parameters, processor: Processor) -> (usize, usize) {
    type Test = fn(f64) -> bool;
    let mut checks: Vec<(f64, Test)> = vec![
        (header_f32(bytes, processor, 20), plausible_rate),
        (header_f32(bytes, processor, 12), plausible_scale),
    ];
    for (name, test) in [("RATE", plausible_rate as Test), ("SCALE", plausible_scale)] {
        if let Some(Parameter {
            data: ParamData::Float(v),
            ..
        }) = params.get("POINT", name)
            && let Some(&x) = v.first()
        {
            checks.push((x as f64, test));
        }
    }
    checks
        .iter()
        .filter(|(v, _)| *v != 0.0)
        .fold((0, 0), |(ok, n), (v, test)| (ok + test(*v) as usize, n + 1))
}

/// A value read from a (32-bit) parameter as it would be written: `0.01` rather than
/// `0.009999999776482582`, `1e-30` rather than thirty zeros.
fn short(v: f64) -> String {
    let f = v as f32;
    if !f.is_finite() || f == 0.0 || (1e-4..1e9).contains(&f.abs()) {
        format!("{f}")
    } else {
        format!("{f:e}")
    }
}

fn warn(warnings: &mut Vec<String>, message: String) {
    tracing::warn!("{message}");
    warnings.push(message);
}

fn bad_param(path: &Path, p: &Parameter, reason: String) -> C3dError {
    C3dError::BadParameter {
        path: path.to_path_buf(),
        group: printable(&p.group),
        name: printable(&p.name),
        offset: p.offset,
        reason,
    }
}

/// A parameter's first value with the parameter, if it has a numeric one.
fn numeric<'a>(params: &'a Parameters, group: &str, name: &str) -> Option<(&'a Parameter, f64)> {
    params
        .get(group, name)
        .and_then(|p| p.first_f64().map(|v| (p, v)))
}

/// The events as stored (EVENT:USED of them): label, context and time in seconds, which may be
/// non-finite in a corrupted file.
fn stored_events(p: &Parameters) -> Vec<(String, String, f64)> {
    let (Some(labels), Some(times)) = (p.get("EVENT", "LABELS"), p.get("EVENT", "TIMES")) else {
        return Vec::new();
    };
    let labels = labels.strings();
    let contexts = p
        .get("EVENT", "CONTEXTS")
        .map(|c| c.strings())
        .unwrap_or_default();
    let used = p
        .get("EVENT", "USED")
        .and_then(|u| u.first_f64())
        .map(|u| u.max(0.0) as usize)
        .unwrap_or(labels.len());
    let t = times.floats();
    (0..used.min(labels.len()).min(t.len() / 2))
        .map(|e| {
            (
                labels[e].clone(),
                contexts.get(e).cloned().unwrap_or_default(),
                t[2 * e] * 60.0 + t[2 * e + 1],
            )
        })
        .collect()
}

/// Parses the raw structure of a C3D file.
///
/// Every count is bounded by what the file can hold, the rate and scale must be plausible, and a
/// processor-type byte contradicted by the file's own floats is overridden with a warning (see
/// [`C3dFile::warnings`]).
pub fn parse_c3d_file(bytes: &[u8], path: &Path) -> Result<C3dFile, C3dError> {
    need(bytes, path, 0, 512, "header block")?;
    if bytes[1] != 0x50 {
        return Err(C3dError::BadMagic {
            path: path.to_path_buf(),
            found: bytes[1],
        });
    }
    let mut warnings = Vec::new();
    let (processor, params) = read_layout(bytes, path, &mut warnings)?;
    let header = Header::read(bytes, processor);
    let used = point_count(path, &params, &header)?;
    let scale = point_scale(path, &params, &header)?;
    let rate_hz = point_rate(path, &params, &header)?;
    let data = DataBlock::locate(bytes, &params, &header, used, scale);
    let analog_per_frame = data.analog_per_frame(path, &params, &header, rate_hz, &mut warnings);
    let (frame_bytes, frames) = data.stored_frames(path, analog_per_frame, &mut warnings)?;
    let points = data.decode(bytes, processor, frame_bytes, frames);
    let labels = point_labels(&params, used);
    warn_unusable_event_times(path, &params, &mut warnings);
    Ok(C3dFile {
        processor,
        params,
        rate_hz,
        first_frame: header.first,
        labels,
        points,
        warnings,
    })
}

/// Reads the processor-type byte and the parameter section, overriding a processor type that
/// the file's own floats contradict.
///
/// A flipped processor byte (Intel <-> DEC differ only in their floats) would read the rate as
/// 6e-42 Hz and event times as -1e32 s: when the declared layout makes the rates or scales
/// implausible and another layout makes all of them plausible, that one is used.
fn read_layout(
    bytes: &[u8],
    path: &Path,
    warnings: &mut Vec<String>,
) -> Result<(Processor, Parameters), C3dError> {
    let param_start = (bytes[0].max(1) as usize - 1) * 512;
    need(bytes, path, param_start, 4, "parameter section header")?;
    let proc_byte = bytes[param_start + 3];
    let declared = match proc_byte {
        84 => Processor::Intel,
        85 => Processor::Dec,
        86 => Processor::Mips,
        found => {
            return Err(C3dError::BadProcessor {
                path: path.to_path_buf(),
                offset: param_start + 3,
                found,
            });
        }
    };
    let declared_params = params::parse_parameters(bytes, path, param_start, declared);
    let consistent = declared_params.as_ref().is_ok_and(|p| {
        let (ok, present) = float_consistency(bytes, p, declared);
        ok == present
    });
    if consistent {
        return Ok((declared, declared_params?));
    }
    let alternative = [Processor::Intel, Processor::Dec, Processor::Mips]
        .into_iter()
        .filter(|p| *p != declared)
        .find_map(|alt| {
            let ap = params::parse_parameters(bytes, path, param_start, alt).ok()?;
            let (ok, present) = float_consistency(bytes, &ap, alt);
            (present > 0 && ok == present).then_some((alt, ap))
        });
    match alternative {
        Some((alt, ap)) => {
            warn(
                warnings,
                format!(
                    "{}: processor type byte {proc_byte} at byte {} says {declared:?}, but the \
                     rates and scales only decode as {alt:?} (point rate {} Hz); reading as {alt:?}",
                    path.display(),
                    param_start + 3,
                    short(header_f32(bytes, alt, 20)),
                ),
            );
            Ok((alt, ap))
        }
        None => Ok((declared, declared_params?)),
    }
}

/// The header values the reader uses, decoded in the file's layout; parameters override most.
struct Header {
    /// Word 2: number of 3D points.
    points: usize,
    /// Word 3: analog samples per point frame.
    analog_per_frame: usize,
    /// Word 4: first frame number.
    first: i64,
    /// Word 5: last frame number.
    last: i64,
    /// Bytes 12–15: point scale (negative for float storage).
    scale: f64,
    /// Word 9: first 512-byte block of the point data (1-based).
    data_start: usize,
    /// Bytes 20–23: point rate in Hz.
    rate: f64,
}

impl Header {
    /// Decodes the header block (whose 512 bytes are known to be present) under `processor`.
    fn read(bytes: &[u8], processor: Processor) -> Self {
        let uword = |i: usize| processor.i16([bytes[2 * i], bytes[2 * i + 1]]) as u16;
        Header {
            points: uword(1) as usize,
            analog_per_frame: uword(2) as usize,
            first: uword(3) as i64,
            last: uword(4) as i64,
            scale: header_f32(bytes, processor, 12),
            data_start: uword(8) as usize,
            rate: header_f32(bytes, processor, 20),
        }
    }
}

fn bad_header(path: &Path, offset: usize, reason: String) -> C3dError {
    C3dError::BadHeader {
        path: path.to_path_buf(),
        offset,
        reason,
    }
}

/// The number of 3D points per frame, which bounds the label list and every frame's size.
///
/// POINT:USED must be a whole number of at most 65535 (the header's 16-bit word), and a file
/// without 3D points is no marker trial.
fn point_count(path: &Path, params: &Parameters, header: &Header) -> Result<usize, C3dError> {
    match numeric(params, "POINT", "USED") {
        Some((_, u)) if u.fract() == 0.0 && (1.0..=65535.0).contains(&u) => Ok(u as usize),
        Some((p, u)) => Err(bad_param(
            path,
            p,
            format!(
                "point count {} is not a whole number between 1 and 65535{}",
                short(u),
                if u <= 0.0 {
                    " (a file without 3D points is not a marker trial)"
                } else {
                    ""
                }
            ),
        )),
        None if header.points > 0 => Ok(header.points),
        None => Err(bad_header(
            path,
            2,
            "no 3D points (header point count 0 and no POINT:USED)".into(),
        )),
    }
}

/// The point scale (POINT:SCALE, else the header's), which must be finite and non-zero since its
/// sign selects float storage and its size converts integer storage.
fn point_scale(path: &Path, params: &Parameters, header: &Header) -> Result<f64, C3dError> {
    match numeric(params, "POINT", "SCALE") {
        Some((_, s)) if s.is_finite() && s != 0.0 => Ok(s),
        Some((p, s)) => Err(bad_param(
            path,
            p,
            format!("scale {} is not a finite non-zero number", short(s)),
        )),
        None if header.scale.is_finite() && header.scale != 0.0 => Ok(header.scale),
        None => Err(bad_header(
            path,
            12,
            format!(
                "scale {} (and no POINT:SCALE) is not a finite non-zero number",
                short(header.scale)
            ),
        )),
    }
}

/// The point rate in Hz (POINT:RATE, else the header's), which must lie in [`RATE_RANGE_HZ`] so
/// that frame times and the analog ratio make sense.
fn point_rate(path: &Path, params: &Parameters, header: &Header) -> Result<f64, C3dError> {
    match numeric(params, "POINT", "RATE") {
        Some((_, r)) if plausible_rate(r) => Ok(r),
        Some((p, r)) => Err(bad_param(
            path,
            p,
            format!(
                "point rate {} Hz is outside {}–{} Hz",
                short(r),
                RATE_RANGE_HZ.start(),
                RATE_RANGE_HZ.end()
            ),
        )),
        None if plausible_rate(header.rate) => Ok(header.rate),
        None => Err(bad_header(
            path,
            20,
            format!(
                "point rate {} Hz (and no POINT:RATE) is outside {}–{} Hz",
                short(header.rate),
                RATE_RANGE_HZ.start(),
                RATE_RANGE_HZ.end()
            ),
        )),
    }
}

/// The point labels (LABELS, LABELS2, ...), cut or padded with `pointN` names to `used` entries.
fn point_labels(params: &Parameters, used: usize) -> Vec<String> {
    let mut labels = Vec::new();
    for key in ["LABELS", "LABELS2", "LABELS3", "LABELS4"] {
        if let Some(p) = params.get("POINT", key) {
            labels.extend(p.strings());
        }
    }
    labels.truncate(used);
    while labels.len() < used {
        labels.push(format!("point{}", labels.len() + 1));
    }
    labels
}

/// Warns about events whose stored time is not finite, since [`to_trial`] drops them.
fn warn_unusable_event_times(path: &Path, params: &Parameters, warnings: &mut Vec<String>) {
    for (e, (label, _, time_s)) in stored_events(params).iter().enumerate() {
        if !time_s.is_finite() {
            warn(
                warnings,
                format!(
                    "{}: event {} \"{}\" has time {} s (EVENT:TIMES); dropped",
                    path.display(),
                    e + 1,
                    printable(label),
                    short(*time_s),
                ),
            );
        }
    }
}

/// Metres per unit of a POINT:UNITS string.
fn metres_per_unit(units: &str) -> f64 {
    match units.trim().to_ascii_lowercase().as_str() {
        "m" => 1.0,
        "dm" => 0.1,
        "cm" => 0.01,
        _ => 0.001,
    }
}

/// Converts the raw file into a [`MarkerTrial`]: markers in metres; Vicon model outputs (listed in
/// POINT:ANGLES/FORCES/MOMENTS/POWERS/SCALARS/REACTIONS) kept apart in their own units.
pub fn to_trial(file: &C3dFile) -> MarkerTrial {
    let p = &file.params;
    let units = p
        .get("POINT", "UNITS")
        .and_then(|u| u.strings().into_iter().next())
        .unwrap_or_else(|| "mm".into());
    let to_m = metres_per_unit(&units);
    let output_kind = model_output_units(p);
    let mut subject = None;
    let mut marker_cols = Vec::new();
    let mut marker_labels = Vec::new();
    let mut model_outputs = Vec::new();
    for (i, raw) in file.labels.iter().enumerate() {
        let label = strip_prefix(raw).to_string();
        if let Some((prefix, _)) = raw.rsplit_once(':')
            && subject.is_none()
            && !prefix.trim().is_empty()
        {
            subject = Some(prefix.trim().to_string());
        }
        if let Some(unit) = output_kind.get(&label.to_ascii_uppercase()) {
            model_outputs.push(ModelOutput {
                label,
                unit: unit.clone(),
                values: file.points.iter().map(|f| f[i]).collect(),
            });
        } else {
            marker_cols.push(i);
            marker_labels.push(label);
        }
    }
    let markers_m = file
        .points
        .iter()
        .map(|f| {
            marker_cols
                .iter()
                .map(|&c| f[c].map(|v| [v[0] * to_m, v[1] * to_m, v[2] * to_m]))
                .collect()
        })
        .collect();
    if subject.is_none() {
        subject = p
            .get("SUBJECTS", "NAMES")
            .and_then(|n| n.strings().into_iter().find(|s| !s.is_empty()));
    }
    MarkerTrial {
        subject,
        rate_hz: file.rate_hz,
        first_frame: file.first_frame,
        marker_labels,
        markers_m,
        model_outputs,
        events: trial_events(file),
        subject_params: processing_params(p),
        reader_notes: file.warnings.clone(),
    }
}

/// The model outputs the POINT group lists (upper-case labels without prefix), each with the
/// unit of its kind (POINT:ANGLE_UNITS, ...) if given.
fn model_output_units(p: &Parameters) -> BTreeMap<String, Option<String>> {
    let mut output_kind = BTreeMap::new();
    for (list, unit_param) in [
        ("ANGLES", "ANGLE_UNITS"),
        ("FORCES", "FORCE_UNITS"),
        ("MOMENTS", "MOMENT_UNITS"),
        ("POWERS", "POWER_UNITS"),
        ("SCALARS", "SCALAR_UNITS"),
        ("REACTIONS", "REACTION_UNITS"),
    ] {
        let unit = p
            .get("POINT", unit_param)
            .and_then(|u| u.strings().into_iter().next());
        if let Some(l) = p.get("POINT", list) {
            for name in l.strings() {
                output_kind.insert(strip_prefix(&name).to_ascii_uppercase(), unit.clone());
            }
        }
    }
    output_kind
}

/// The events with finite times (the others are reported in [`C3dFile::warnings`]), sorted by
/// time, with their frame numbers.
fn trial_events(file: &C3dFile) -> Vec<GaitEvent> {
    let mut events: Vec<GaitEvent> = stored_events(&file.params)
        .into_iter()
        .filter(|e| e.2.is_finite())
        .map(|(label, context, time_s)| GaitEvent {
            frame: ((time_s * file.rate_hz).round() as i64)
                .saturating_add(1)
                .saturating_sub(file.first_frame),
            label,
            context,
            time_s,
        })
        .collect();
    events.sort_by(|a, b| a.time_s.total_cmp(&b.time_s));
    events
}

/// The numeric PROCESSING parameters (subject measurements such as height and leg length).
fn processing_params(p: &Parameters) -> BTreeMap<String, f64> {
    let mut subject_params = BTreeMap::new();
    if let Some(g) = p.group("PROCESSING") {
        for param in g {
            if let Some(v) = param.first_f64()
                && !matches!(param.data, ParamData::Char(_))
            {
                subject_params.insert(param.name.clone(), v);
            }
        }
    }
    subject_params
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal Intel file: header, a POINT group with `USED = used`, no data blocks.
    fn synthetic(used: i16, last_frame: u16) -> Vec<u8> {
        let mut b = vec![0u8; 1536];
        b[0] = 2;
        b[1] = 0x50;
        b[2..4].copy_from_slice(&(used as u16).to_le_bytes());
        b[6..8].copy_from_slice(&1u16.to_le_bytes());
        b[8..10].copy_from_slice(&last_frame.to_le_bytes());
        b[12..16].copy_from_slice(&(-1.0f32).to_le_bytes());
        b[16..18].copy_from_slice(&3u16.to_le_bytes());
        b[20..24].copy_from_slice(&100.0f32.to_le_bytes());
        let mut p = vec![1u8, 0x50, 1, 84];
        p.extend([5u8, (-1i8) as u8]);
        p.extend(b"POINT");
        p.extend(3i16.to_le_bytes());
        p.push(0);
        p.extend([4u8, 1]);
        p.extend(b"USED");
        p.extend(7i16.to_le_bytes());
        p.extend([2u8, 0]);
        p.extend(used.to_le_bytes());
        p.push(0);
        b[512..512 + p.len()].copy_from_slice(&p);
        b
    }

    #[test]
    fn dec_float_is_word_swapped_vax_f() {
        // VAX F 1.0 is stored as 80 40 00 00; -2.5 as 20 C1 00 00.
        assert_eq!(Processor::Dec.f32([0x80, 0x40, 0, 0]), 1.0);
        assert_eq!(Processor::Dec.f32([0x20, 0xC1, 0, 0]), -2.5);
        assert_eq!(Processor::Intel.f32(1.0f32.to_le_bytes()), 1.0);
        assert_eq!(Processor::Mips.i16([0x01, 0x02]), 0x0102);
    }

    #[test]
    fn units_convert_to_metres() {
        assert_eq!(metres_per_unit("mm"), 0.001);
        assert_eq!(metres_per_unit(" CM "), 0.01);
        assert_eq!(metres_per_unit("m"), 1.0);
    }

    #[test]
    fn no_point_data_is_an_error_not_an_empty_trial() {
        let e = parse_c3d(&synthetic(0, 65535), Path::new("x.c3d")).unwrap_err();
        assert!(
            matches!(&e, C3dError::BadParameter { name, .. } if name == "USED"),
            "{e}"
        );
        let e = parse_c3d(&synthetic(-3, 10), Path::new("x.c3d")).unwrap_err();
        assert!(e.to_string().contains("POINT:USED"), "{e}");
    }

    #[test]
    fn frames_beyond_the_file_are_dropped_or_rejected() {
        // 2 points × 16 bytes per frame, 512 data bytes: 16 whole frames of 65535 announced.
        let t = parse_c3d(&synthetic(2, 65535), Path::new("x.c3d")).unwrap();
        assert_eq!(t.num_frames(), 16);
        let mut b = synthetic(2, 65535);
        b.truncate(1024 + 8);
        let e = parse_c3d(&b, Path::new("x.c3d")).unwrap_err();
        assert!(matches!(e, C3dError::Truncated { offset: 1024, .. }), "{e}");
        let mut b = synthetic(2, 3);
        b[1] = 0x51;
        assert!(matches!(
            parse_c3d(&b, Path::new("x.c3d")),
            Err(C3dError::BadMagic { found: 0x51, .. })
        ));
    }
}
