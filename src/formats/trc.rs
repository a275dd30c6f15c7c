//! OpenSim / OpenCap `.trc` marker files (tab-separated text) to and from [`MarkerTrial`].
//!
//! Layout: `PathFileType` line, a line of header keys (`DataRate CameraRate NumFrames NumMarkers
//! Units ...`), their values, a `Frame#  Time  M1 _ _ M2 ...` names row, an `X1 Y1 Z1 ...` row,
//! then one row per frame. Empty (or `NaN`) cells are gaps. Blank lines are skipped.
//! TRC holds markers only: subject parameters, events and model outputs are not stored.

use std::path::{Path, PathBuf};

use thiserror::Error;

use super::c3d::RATE_RANGE_HZ;
use super::trial::{MarkerTrial, strip_prefix};
use crate::io_util::write_atomic;

/// Errors of the TRC reader and writer; each names the file and, for content, the line.
#[derive(Debug, Error)]
pub enum TrcError {
    /// The file could not be read. The I/O error is part of the message and deliberately not
    /// exposed as `source()`: chain printers (`anyhow`'s `{:#}`) would print it twice.
    #[error("cannot read {path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        error: std::io::Error,
    },
    /// The file could not be written (the error is in the message, not `source()`).
    #[error("cannot write {path}: {error}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        error: std::io::Error,
    },
    /// A header line is missing or malformed.
    #[error("{path} line {line}: expected {expected}, found {found:?}")]
    Header {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What the reader expected.
        expected: String,
        /// The text found (shortened).
        found: String,
    },
    /// A cell does not hold a number.
    #[error("{path} line {line} column {column}: expected {expected}, found {found:?}")]
    Number {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// 1-based tab-separated column (on the header values line: the key's position).
        column: usize,
        /// What the cell should hold.
        expected: String,
        /// The cell text (shortened).
        found: String,
    },
    /// The `Units` header names an unknown length unit.
    #[error("{path}: unknown Units {units:?}; expected mm, cm, dm or m")]
    Units {
        /// The file.
        path: PathBuf,
        /// The unit text.
        units: String,
    },
    /// The trial cannot be written as TRC.
    #[error("cannot write {path} as TRC: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong with the trial.
        reason: String,
    },
}

fn short(s: &str) -> String {
    s.chars().take(60).collect()
}

/// Metres per unit for a TRC `Units` value.
fn unit_scale(u: &str) -> Option<f64> {
    match u.trim().to_ascii_lowercase().as_str() {
        "mm" | "millimeters" | "millimetres" => Some(1e-3),
        "cm" | "centimeters" | "centimetres" => Some(1e-2),
        "dm" => Some(1e-1),
        "m" | "meters" | "metres" => Some(1.0),
        _ => None,
    }
}

/// Reads a TRC file into a trial in metres (gaps as `None`).
pub fn read_trc(path: &Path) -> Result<MarkerTrial, TrcError> {
    let bytes = std::fs::read(path).map_err(|error| TrcError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    parse_trc(&String::from_utf8_lossy(&bytes), path)
}

/// Parses TRC text; `path` only labels errors.
pub fn parse_trc(text: &str, path: &Path) -> Result<MarkerTrial, TrcError> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')));
    let header = read_header(&mut lines, path)?;
    let names = read_names(&mut lines, path, header.declared_markers)?;
    // Columns of markers the header counts but the names row leaves unnamed are read past, not
    // refused; a row longer than even the header's count is an error (BTK's Gait.trc: 33 names,
    // NumMarkers 66, rows of 68 markers).
    let named_slots = names.slots.iter().max().map_or(0, |s| s + 1);
    let row_markers = header
        .declared_markers
        .filter(|m| m.fract() == 0.0 && *m > named_slots as f64 && *m < 1e5)
        .map_or(named_slots, |m| m as usize);
    let mut first_frame = None;
    let mut markers_m = Vec::new();
    for (ln, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let (frame, row) = parse_row(path, ln, line, &names, row_markers, header.scale)?;
        first_frame.get_or_insert(frame);
        markers_m.push(row);
    }
    if let Some(n) = header.declared_frames
        && n != markers_m.len() as f64
    {
        tracing::warn!(path = %path.display(), declared = n, found = markers_m.len(), "TRC NumFrames differs from the data rows");
    }
    Ok(MarkerTrial {
        subject: names.subject,
        rate_hz: header.rate_hz,
        first_frame: first_frame.unwrap_or(1),
        marker_labels: names.labels,
        markers_m,
        ..Default::default()
    })
}

/// The values of the TRC header lines that the reader uses.
struct TrcHeader {
    /// DataRate in Hz.
    rate_hz: f64,
    /// Metres per file unit.
    scale: f64,
    /// NumFrames, if given (only compared with the rows found).
    declared_frames: Option<f64>,
    /// NumMarkers, if given: compared with the names row, and the most markers a data row may
    /// hold when it counts more than the names row names.
    declared_markers: Option<f64>,
}

fn header_error(path: &Path, line: usize, expected: &str, found: &str) -> TrcError {
    TrcError::Header {
        path: path.to_path_buf(),
        line,
        expected: expected.to_string(),
        found: short(found),
    }
}

/// The next (numbered) line, or a header error naming `what` was expected at the end of file.
fn next_line<'a>(
    lines: &mut impl Iterator<Item = (usize, &'a str)>,
    path: &Path,
    what: &str,
) -> Result<(usize, &'a str), TrcError> {
    lines
        .next()
        .ok_or_else(|| header_error(path, 0, what, "end of file"))
}

/// Reads the `PathFileType` line, the header keys line and the header values line.
fn read_header<'a>(
    lines: &mut impl Iterator<Item = (usize, &'a str)>,
    path: &Path,
) -> Result<TrcHeader, TrcError> {
    let (n1, l1) = next_line(lines, path, "a PathFileType line")?;
    if !l1
        .trim_start_matches('\u{feff}')
        .starts_with("PathFileType")
    {
        return Err(header_error(
            path,
            n1,
            "a first line starting with PathFileType",
            l1,
        ));
    }
    let (n2, l2) = next_line(
        lines,
        path,
        "the header keys line (DataRate CameraRate ...)",
    )?;
    let keys: Vec<&str> = l2.split('\t').map(str::trim).collect();
    if !keys.contains(&"DataRate") {
        return Err(header_error(path, n2, "header keys including DataRate", l2));
    }
    let (n3, l3) = next_line(lines, path, "the header values line")?;
    let values = HeaderValues {
        path,
        line: n3,
        vals: header_values(l3, &keys),
        keys,
    };
    let rate_hz = values
        .number("DataRate")?
        .ok_or_else(|| header_error(path, n3, "a DataRate value", l3))?;
    if !RATE_RANGE_HZ.contains(&rate_hz) {
        return Err(TrcError::Number {
            path: path.to_path_buf(),
            line: n3,
            column: values.column("DataRate"),
            expected: format!(
                "a DataRate between {} and {} Hz",
                RATE_RANGE_HZ.start(),
                RATE_RANGE_HZ.end()
            ),
            found: short(values.get("DataRate").unwrap_or("")),
        });
    }
    let units = values.get("Units").unwrap_or("");
    let scale = unit_scale(units).ok_or_else(|| TrcError::Units {
        path: path.to_path_buf(),
        units: short(units),
    })?;
    Ok(TrcHeader {
        rate_hz,
        scale,
        declared_frames: values.number("NumFrames")?,
        declared_markers: values.number("NumMarkers")?,
    })
}

/// The cells of the header values line, one per key. Cells are tab-separated; some writers pad
/// them with runs of tabs or spaces (OpenSim's Rajagopal data: `100.0\t\t100.0\t\t    238`),
/// so when the tab cells do not line up with the keys but the non-empty ones do, those are used.
fn header_values<'a>(line: &'a str, keys: &[&str]) -> Vec<&'a str> {
    let cells: Vec<&str> = line.split('\t').map(str::trim).collect();
    if cells.len() == keys.len() {
        return cells;
    }
    // Keys lines often end in empty cells (OpenSim's `OrigNumFrames\t\t\t`).
    let named = keys.iter().take_while(|k| !k.is_empty()).count();
    let filled: Vec<&str> = line.split_whitespace().collect();
    if filled.len() == named { filled } else { cells }
}

/// The header values line, looked up by the keys of the line before it.
struct HeaderValues<'a> {
    /// The file (for errors).
    path: &'a Path,
    /// 1-based number of the values line.
    line: usize,
    /// The header keys, trimmed.
    keys: Vec<&'a str>,
    /// The header values, trimmed.
    vals: Vec<&'a str>,
}

impl HeaderValues<'_> {
    /// The 1-based column of `key` (1 if absent).
    fn column(&self, key: &str) -> usize {
        self.keys.iter().position(|k| *k == key).unwrap_or(0) + 1
    }

    /// The value under `key`, if the key and a value are present.
    fn get(&self, key: &str) -> Option<&str> {
        self.keys
            .iter()
            .position(|k| *k == key)
            .and_then(|i| self.vals.get(i).copied())
    }

    /// The value under `key` as a number; `None` if absent or empty, an error if not a number.
    fn number(&self, key: &str) -> Result<Option<f64>, TrcError> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some(v) => v.parse::<f64>().map(Some).map_err(|_| TrcError::Number {
                path: self.path.to_path_buf(),
                line: self.line,
                column: self.column(key),
                expected: format!("a number for {key}"),
                found: short(v),
            }),
        }
    }
}

/// Reads the marker names row and skips the coordinate row: the subject (the first label
/// prefix) and the marker labels without prefixes.
fn read_names<'a>(
    lines: &mut impl Iterator<Item = (usize, &'a str)>,
    path: &Path,
    declared_markers: Option<f64>,
) -> Result<MarkerNames, TrcError> {
    let (n4, l4) = next_line(lines, path, "the marker names row (Frame# Time M1 ...)")?;
    let cells: Vec<&str> = l4.split('\t').collect();
    if cells.first().map(|c| c.trim()) != Some("Frame#") {
        return Err(header_error(
            path,
            n4,
            "a names row starting with Frame#",
            l4,
        ));
    }
    let (positions, raw_labels): (Vec<usize>, Vec<&str>) = cells
        .iter()
        .enumerate()
        .skip(2)
        .map(|(i, c)| (i - 2, c.trim()))
        .filter(|(_, c)| !c.is_empty())
        .unzip();
    // Names sit over the first of their three columns; a marker left unnamed keeps its columns,
    // so the names after it still read their own. A row whose names do not line up in threes
    // (hand-written, one tab between names) is read as consecutive markers.
    let slots = if positions.iter().all(|p| p % 3 == 0) {
        positions.iter().map(|p| p / 3).collect()
    } else {
        (0..raw_labels.len()).collect()
    };
    if let Some(m) = declared_markers
        && m != raw_labels.len() as f64
    {
        tracing::warn!(path = %path.display(), declared = m, found = raw_labels.len(), "TRC NumMarkers differs from the names row");
    }
    let subject = raw_labels
        .iter()
        .find_map(|l| l.rsplit_once(':').map(|(p, _)| p.trim().to_string()));
    let marker_labels = raw_labels
        .iter()
        .map(|l| strip_prefix(l).to_string())
        .collect();
    let _ = next_line(lines, path, "the X1 Y1 Z1 coordinate row")?;
    Ok(MarkerNames {
        subject,
        labels: marker_labels,
        slots,
    })
}

/// The names row: the subject, the marker labels and each label's marker slot in a data row.
struct MarkerNames {
    /// The first label prefix (`S1:` of `S1:LASI`), if any.
    subject: Option<String>,
    /// Marker labels without prefixes.
    labels: Vec<String>,
    /// Per label, which triple of coordinate columns after Frame# and Time holds it.
    slots: Vec<usize>,
}

/// One frame's marker positions in metres, `None` for gaps.
type MarkerRow = Vec<Option<[f64; 3]>>;

/// Parses one data row (line `ln`): its frame number and each named marker's position in
/// metres; the row may hold up to `row_markers` markers' cells.
fn parse_row(
    path: &Path,
    ln: usize,
    line: &str,
    names: &MarkerNames,
    row_markers: usize,
    scale: f64,
) -> Result<(i64, MarkerRow), TrcError> {
    let cells: Vec<&str> = if line.contains('\t') {
        line.split('\t').collect()
    } else {
        line.split_whitespace().collect()
    };
    let num_err = |column: usize, expected: &str| TrcError::Number {
        path: path.to_path_buf(),
        line: ln,
        column,
        expected: expected.to_string(),
        found: short(cells.get(column - 1).copied().unwrap_or("")),
    };
    let frame_cell = cells[0].trim();
    let frame: i64 = match frame_cell.parse::<i64>() {
        Ok(f) => f,
        Err(_) => match frame_cell.parse::<f64>() {
            Ok(f) if f.fract() == 0.0 && f.abs() < 1e15 => f as i64,
            _ => return Err(num_err(1, "an integer frame number")),
        },
    };
    if let Some(t) = cells.get(1)
        && !t.trim().is_empty()
        && t.trim().parse::<f64>().is_err()
    {
        return Err(num_err(2, "a time in seconds"));
    }
    let nm = row_markers;
    if cells.len() > 2 + 3 * nm && cells[2 + 3 * nm..].iter().any(|c| !c.trim().is_empty()) {
        return Err(num_err(
            3 + 3 * nm,
            &format!("at most {} columns ({nm} markers)", 2 + 3 * nm),
        ));
    }
    let row = names
        .labels
        .iter()
        .zip(&names.slots)
        .map(|(label, &slot)| parse_marker(&cells, slot, label, scale, &num_err))
        .collect::<Result<_, _>>()?;
    Ok((frame, row))
}

/// Parses marker `m`'s three cells into metres: `None` if any is empty or `NaN` (a gap), an
/// error if one is not a number or infinite.
fn parse_marker(
    cells: &[&str],
    m: usize,
    label: &str,
    scale: f64,
    num_err: &impl Fn(usize, &str) -> TrcError,
) -> Result<Option<[f64; 3]>, TrcError> {
    let mut p = [0.0; 3];
    let mut gap = false;
    for (a, pa) in p.iter_mut().enumerate() {
        let col = 2 + 3 * m + a;
        let c = cells.get(col).map_or("", |c| c.trim());
        if c.is_empty() {
            gap = true;
            continue;
        }
        let v: f64 = c.parse().map_err(|_| {
            num_err(
                col + 1,
                &format!("a coordinate of {label} or an empty cell"),
            )
        })?;
        if v.is_nan() {
            gap = true;
        } else if v.is_infinite() {
            return Err(num_err(col + 1, "a finite coordinate"));
        }
        *pa = v * scale;
    }
    Ok(if gap { None } else { Some(p) })
}

/// Renders a trial as TRC text in millimetres (OpenSim's usual unit), gaps as empty cells.
pub fn format_trc(trial: &MarkerTrial, file_name: &str) -> Result<String, String> {
    use std::fmt::Write;
    if !RATE_RANGE_HZ.contains(&trial.rate_hz) {
        return Err(format!(
            "rate {} Hz is outside {}–{} Hz",
            trial.rate_hz,
            RATE_RANGE_HZ.start(),
            RATE_RANGE_HZ.end()
        ));
    }
    let nm = trial.marker_labels.len();
    if let Some(l) = trial
        .marker_labels
        .iter()
        .find(|l| l.trim().is_empty() || l.contains(['\t', '\n', '\r']))
    {
        return Err(format!(
            "marker label {l:?} is empty or holds a tab/newline"
        ));
    }
    if let Some((i, f)) = trial
        .markers_m
        .iter()
        .enumerate()
        .find(|(_, f)| f.len() != nm)
    {
        return Err(format!(
            "frame {i} has {} markers, labels name {nm}",
            f.len()
        ));
    }
    let n = trial.markers_m.len();
    let r = trial.rate_hz;
    let mut s = String::new();
    let _ = writeln!(s, "PathFileType\t4\t(X/Y/Z)\t{file_name}");
    let _ = writeln!(
        s,
        "DataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\tOrigDataRate\tOrigDataStartFrame\tOrigNumFrames"
    );
    let _ = writeln!(
        s,
        "{r}\t{r}\t{n}\t{nm}\tmm\t{r}\t{}\t{n}",
        trial.first_frame
    );
    s.push_str("Frame#\tTime");
    for l in &trial.marker_labels {
        let _ = write!(s, "\t{l}\t\t");
    }
    s.push_str("\n\t");
    for i in 1..=nm {
        let _ = write!(s, "\tX{i}\tY{i}\tZ{i}");
    }
    s.push_str("\n\n");
    for (i, frame) in trial.markers_m.iter().enumerate() {
        let _ = write!(s, "{}\t{}", trial.first_frame + i as i64, i as f64 / r);
        for p in frame {
            match p {
                Some(p) if p.iter().all(|v| v.is_finite()) => {
                    let _ = write!(s, "\t{}\t{}\t{}", p[0] * 1e3, p[1] * 1e3, p[2] * 1e3);
                }
                _ => s.push_str("\t\t\t"),
            }
        }
        s.push('\n');
    }
    Ok(s)
}

/// Writes a trial as a TRC file in millimetres, atomically.
pub fn write_trc(path: &Path, trial: &MarkerTrial) -> Result<(), TrcError> {
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let text = format_trc(trial, &name).map_err(|reason| TrcError::Invalid {
        path: path.to_path_buf(),
        reason,
    })?;
    write_atomic(path, text.as_bytes()).map_err(|error| TrcError::Write {
        path: path.to_path_buf(),
        error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = "PathFileType\t4\t(X/Y/Z)\ttest.trc\r\n\
DataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\tOrigDataRate\tOrigDataStartFrame\tOrigNumFrames\r\n\
60.00\t60.00\t3\t2\tcm\t60.00\t1\t3\r\n\
Frame#\tTime\tS1:LASI\t\t\tRASI\t\t\r\n\
\t\tX1\tY1\tZ1\tX2\tY2\tZ2\r\n\
\r\n\
5\t0.000\t1.5\t2\t3\t4\t5\t6\r\n\
6\t0.017\t\t\t\t4\t5\t6.5\r\n\
7\t0.033\t1\tNaN\t3\r\n";

    #[test]
    fn reads_units_gaps_prefixes_and_crlf() {
        let t = parse_trc(SMALL, Path::new("small.trc")).unwrap();
        assert_eq!(t.rate_hz, 60.0);
        assert_eq!(t.first_frame, 5);
        assert_eq!(t.subject.as_deref(), Some("S1"));
        assert_eq!(t.marker_labels, ["LASI", "RASI"]);
        assert_eq!(t.num_frames(), 3);
        assert_eq!(t.markers_m[0][0], Some([0.015, 0.02, 0.03]));
        assert_eq!(t.markers_m[1][0], None);
        assert_eq!(t.markers_m[1][1], Some([0.04, 0.05, 0.065]));
        assert_eq!(t.markers_m[2], [None, None]);
    }

    #[test]
    fn errors_name_line_and_column() {
        let bad = SMALL.replace("4\t5\t6.5", "4\tfive\t6.5");
        let e = parse_trc(&bad, Path::new("b.trc")).unwrap_err().to_string();
        assert!(
            e.contains("b.trc line 8 column 7") && e.contains("five"),
            "{e}"
        );
        let e = parse_trc(&SMALL.replace("cm", "furlong"), Path::new("u.trc")).unwrap_err();
        assert!(matches!(e, TrcError::Units { .. }), "{e}");
        let e = parse_trc("PathFileType\t4\n", Path::new("t.trc"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("t.trc") && e.contains("DataRate"), "{e}");
    }

    #[test]
    fn reads_padded_header_values_and_unnamed_columns() {
        // OpenSim's Rajagopal data pads its header values with runs of tabs and spaces.
        let padded = SMALL.replace(
            "60.00\t60.00\t3\t2\tcm\t60.00\t1\t3",
            "60.00\t\t60.00\t\t    3\t\t2\tcm\t60.00\t1\t3",
        );
        let t = parse_trc(&padded, Path::new("p.trc")).unwrap();
        assert_eq!((t.rate_hz, t.num_frames()), (60.0, 3));
        assert_eq!(t.markers_m[0][0], Some([0.015, 0.02, 0.03]));
        // A header counting more markers than the names row names: the unnamed columns are read past.
        let unnamed = SMALL
            .replace("60.00\t60.00\t3\t2\tcm", "60.00\t60.00\t3\t3\tcm")
            .replace("4\t5\t6\r\n6", "4\t5\t6\t7\t8\t9\r\n6");
        let t = parse_trc(&unnamed, Path::new("u.trc")).unwrap();
        assert_eq!(t.marker_labels, ["LASI", "RASI"]);
        assert_eq!(t.markers_m[0][1], Some([0.04, 0.05, 0.06]));
        // An unnamed marker between named ones: the names after it keep their own columns.
        let middle = SMALL
            .replace("60.00\t60.00\t3\t2\tcm", "60.00\t60.00\t3\t3\tcm")
            .replace("S1:LASI\t\t\tRASI", "S1:LASI\t\t\t\t\t\tRASI")
            .replace("5\t0.000\t1.5\t2\t3\t4", "5\t0.000\t1.5\t2\t3\t7\t8\t9\t4");
        let t = parse_trc(&middle, Path::new("m.trc")).unwrap();
        assert_eq!(t.marker_labels, ["LASI", "RASI"]);
        assert_eq!(t.markers_m[0][1], Some([0.04, 0.05, 0.06]));
        // A keys line ending in empty cells, with padded values.
        let trailing = padded.replace("OrigNumFrames\r\n", "OrigNumFrames\t\t\r\n");
        let t = parse_trc(&trailing, Path::new("k.trc")).unwrap();
        assert_eq!((t.rate_hz, t.num_frames()), (60.0, 3));
        // Without the header's count, a longer row is still an error naming its column.
        let e = parse_trc(&unnamed.replace("\t3\tcm", "\t2\tcm"), Path::new("x.trc"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("x.trc line 7 column 9"), "{e}");
    }

    #[test]
    fn write_then_read_round_trips() {
        let t = parse_trc(SMALL, Path::new("small.trc")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.trc");
        write_trc(&p, &t).unwrap();
        let back = read_trc(&p).unwrap();
        assert_eq!(back.marker_labels, t.marker_labels);
        assert_eq!(back.first_frame, 5);
        assert_eq!(back.rate_hz, 60.0);
        for (a, b) in back
            .markers_m
            .iter()
            .flatten()
            .zip(t.markers_m.iter().flatten())
        {
            match (a, b) {
                (Some(a), Some(b)) => (0..3).for_each(|k| assert!((a[k] - b[k]).abs() < 1e-12)),
                (a, b) => assert_eq!(a.is_none(), b.is_none()),
            }
        }
    }
}
