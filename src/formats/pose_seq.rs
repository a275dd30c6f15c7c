//! Per-frame body-model fits of the Unified Gait Analysis pipeline ("seed pose sequences"): a
//! folder of `pose_00000.json` / `pose_00000.txt`, read and written byte-compatibly.
//!
//! The original's `save_pose` writes, per frame, `json.dump({"translation": [[x, y, z]],
//! "betas": [[b0..b49]], "pose": [[p0..]]}, f, indent=4, sort_keys=True)` (keys therefore in the
//! order betas, pose, translation; no trailing newline) and optionally a `.txt` holding
//! `pose[0:3] translation pose[3:] betas`, each value as Python `str(float)` followed by one
//! space, on one line without a newline. Its `load_pose` takes the last 50 `.txt` values as betas.
//! The optimizer refines betas in every frame, so each file carries its own betas; they are kept
//! per frame here.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::ordered_json::{
    self as oj, Json, ShapeError, SyntaxError, py_float_repr, py_json_float,
};
use crate::io_util::write_atomic;

/// Number of betas the original pipeline stores (and assumes when reading `.txt`).
pub const NUM_BETAS: usize = 50;

/// Which of the original's two file layouts a sequence was read from or is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PoseFileFormat {
    /// `pose_NNNNN.json` (`json.dump(..., indent=4, sort_keys=True)`).
    Json,
    /// `pose_NNNNN.txt` (space-separated, one line).
    Txt,
}

/// A sequence of per-frame body-model parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoseSequence {
    /// Shape coefficients per frame (each file stores its own; usually [`NUM_BETAS`] values).
    pub betas: Vec<Vec<f64>>,
    /// Axis-angle pose vector per frame (root first, 3 values per joint), radians.
    pub poses: Vec<Vec<f64>>,
    /// Root translation per frame, metres.
    pub translations: Vec<[f64; 3]>,
    /// Frame rate in Hz. Pose files do not store it; [`read_pose_dir`] takes it from the
    /// folder's `fit_report.json` (written by `gaitlens fit`) when there is one, else `None`.
    pub rate_hz: Option<f64>,
    /// Frame number per entry (from `pose_NNNNN`), ascending.
    pub frame_numbers: Vec<u64>,
    /// The folder read from, if any.
    pub source: Option<PathBuf>,
    /// Layout of the files read.
    pub format: PoseFileFormat,
}

impl PoseSequence {
    /// A sequence from local joint rotations (frame × joint, any form `quaternion` turns into a
    /// unit quaternion), root translations (metres), one shape and a rate; frames numbered from
    /// 0. Axis-angle via the quaternion: `Rotation3::scaled_axis` takes an acos that turns NaN
    /// when rounding pushes the trace past 3.
    pub fn from_rotations<R>(
        betas: &[f64],
        rotations: &[Vec<R>],
        translations: &[nalgebra::Vector3<f64>],
        rate_hz: f64,
        quaternion: impl Fn(&R) -> nalgebra::UnitQuaternion<f64>,
    ) -> Self {
        let n = rotations.len();
        PoseSequence {
            betas: vec![betas.to_vec(); n],
            poses: rotations
                .iter()
                .map(|f| {
                    f.iter()
                        .flat_map(|r| quaternion(r).scaled_axis().data.0[0])
                        .collect()
                })
                .collect(),
            translations: translations.iter().map(|t| [t.x, t.y, t.z]).collect(),
            rate_hz: Some(rate_hz),
            frame_numbers: (0..n as u64).collect(),
            source: None,
            format: PoseFileFormat::Json,
        }
    }

    /// Number of frames.
    pub fn num_frames(&self) -> usize {
        self.poses.len()
    }

    /// Mean betas over frames (the subject's shape), empty for an empty sequence.
    pub fn mean_betas(&self) -> Vec<f64> {
        let Some(first) = self.betas.first() else {
            return Vec::new();
        };
        let mut m = vec![0.0; first.len()];
        for b in &self.betas {
            for (a, x) in m.iter_mut().zip(b) {
                *a += x;
            }
        }
        let n = self.betas.len() as f64;
        m.iter_mut().for_each(|a| *a /= n);
        m
    }
}

/// Errors of the pose-sequence reader and writer; each names the file.
#[derive(Debug, Error)]
pub enum PoseSeqError {
    // The underlying errors are part of each message and deliberately not exposed as
    // `source()`: chain printers (`anyhow`'s `{:#}`) would print them twice.
    /// The folder's `fit_report.json` states another frame count than the pose files it holds:
    /// a pose file deleted or added after the fit, or an interrupted older run.
    #[error("{path}: {check}")]
    Incomplete {
        /// The pose folder.
        path: PathBuf,
        /// What the report states against what the folder holds.
        check: String,
    },
    /// A file or folder could not be read.
    #[error("cannot read {path}: {error}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        error: std::io::Error,
    },
    /// A file could not be written.
    #[error("cannot write {path}: {error}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        error: std::io::Error,
    },
    /// A `.json` file is not valid JSON.
    #[error("{path}: invalid JSON at {error}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// Line, column and message.
        error: SyntaxError,
    },
    /// A `.json` file has the wrong shape.
    #[error("{path}: {error}")]
    Shape {
        /// The file.
        path: PathBuf,
        /// JSON path, expectation and finding.
        error: ShapeError,
    },
    /// A value is NaN or infinite (`NaN`, `Infinity`, `inf`, or a literal such as `1e400` beyond
    /// the range of a float).
    #[error("{path}: {at} is {value}, expected a finite number")]
    NonFinite {
        /// The file.
        path: PathBuf,
        /// Where: a JSON path (`pose[0][7]`) or `value 7 (0-based)` in a `.txt`.
        at: String,
        /// The value read.
        value: f64,
    },
    /// A `.txt` token is not a number.
    #[error("{path}: value {index} (0-based) is {found:?}, expected a number")]
    TxtNumber {
        /// The file.
        path: PathBuf,
        /// 0-based index of the token.
        index: usize,
        /// The token (shortened).
        found: String,
    },
    /// A `.txt` file holds too few values.
    #[error("{path}: {count} values, expected at least {min} (pose[0:3], translation, betas)")]
    TxtTooShort {
        /// The file.
        path: PathBuf,
        /// Values found.
        count: usize,
        /// Values needed.
        min: usize,
    },
    /// Frames of one sequence disagree in vector lengths.
    #[error("{path}: {what} has {found} values, earlier frames have {expected}")]
    Inconsistent {
        /// The file.
        path: PathBuf,
        /// `pose` or `betas`.
        what: &'static str,
        /// Length in earlier frames.
        expected: usize,
        /// Length in this file.
        found: usize,
    },
    /// A file name carries no frame number.
    #[error("{path}: no frame number in the file name; expected pose_NNNNN.json or .txt")]
    FileName {
        /// The file.
        path: PathBuf,
    },
    /// Two files of the same format carry the same frame number.
    #[error("{path} and {other} both hold frame {frame}")]
    DuplicateFrame {
        /// One file.
        path: PathBuf,
        /// The other.
        other: PathBuf,
        /// The frame number.
        frame: u64,
    },
    /// A folder holds no pose files.
    #[error("{path} holds no pose_NNNNN.json or .txt files")]
    NoFrames {
        /// The folder.
        path: PathBuf,
    },
    /// The sequence cannot be written in the requested layout.
    #[error("cannot write pose files to {path}: {reason}")]
    Invalid {
        /// The target folder.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// One frame's parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct PoseFrame {
    /// Shape coefficients.
    pub betas: Vec<f64>,
    /// Axis-angle pose vector.
    pub pose: Vec<f64>,
    /// Root translation.
    pub translation: [f64; 3],
}

/// Reads the single row of a `[[...]]` batch array.
fn batch_row(json: &Json, key: &str) -> Result<Vec<f64>, ShapeError> {
    let outer = oj::array(oj::field(json, "", key)?, key)?;
    if outer.len() != 1 {
        return Err(ShapeError {
            path: key.to_string(),
            expected: "a batch of exactly one row ([[...]])".into(),
            found: format!("{} rows", outer.len()),
        });
    }
    oj::num_array(&outer[0], &format!("{key}[0]"))
}

/// Parses one `pose_NNNNN.json`; `path` labels errors.
pub fn parse_pose_json(bytes: &[u8], path: &Path) -> Result<PoseFrame, PoseSeqError> {
    let json = oj::parse(bytes).map_err(|error| PoseSeqError::Syntax {
        path: path.to_path_buf(),
        error,
    })?;
    let shape = |error| PoseSeqError::Shape {
        path: path.to_path_buf(),
        error,
    };
    let betas = batch_row(&json, "betas").map_err(shape)?;
    let pose = batch_row(&json, "pose").map_err(shape)?;
    let t = batch_row(&json, "translation").map_err(shape)?;
    for (key, vals) in [("betas", &betas), ("pose", &pose), ("translation", &t)] {
        if let Some((i, &value)) = vals.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(PoseSeqError::NonFinite {
                path: path.to_path_buf(),
                at: format!("{key}[0][{i}]"),
                value,
            });
        }
    }
    let translation: [f64; 3] = t.as_slice().try_into().map_err(|_| {
        shape(ShapeError {
            path: "translation[0]".into(),
            expected: "3 numbers".into(),
            found: format!("{} numbers", t.len()),
        })
    })?;
    Ok(PoseFrame {
        betas,
        pose,
        translation,
    })
}

/// Parses one `pose_NNNNN.txt` (`pose[0:3] translation pose[3:] betas[-50:]`); `path` labels errors.
pub fn parse_pose_txt(text: &str, path: &Path) -> Result<PoseFrame, PoseSeqError> {
    let vals: Vec<f64> = text
        .split_whitespace()
        .enumerate()
        .map(|(index, t)| match t.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            Ok(value) => Err(PoseSeqError::NonFinite {
                path: path.to_path_buf(),
                at: format!("value {index} (0-based)"),
                value,
            }),
            Err(_) => Err(PoseSeqError::TxtNumber {
                path: path.to_path_buf(),
                index,
                found: t.chars().take(40).collect(),
            }),
        })
        .collect::<Result<_, _>>()?;
    let min = 6 + NUM_BETAS;
    if vals.len() < min {
        return Err(PoseSeqError::TxtTooShort {
            path: path.to_path_buf(),
            count: vals.len(),
            min,
        });
    }
    let nb = vals.len() - NUM_BETAS;
    let mut pose = vals[..3].to_vec();
    pose.extend_from_slice(&vals[6..nb]);
    Ok(PoseFrame {
        betas: vals[nb..].to_vec(),
        pose,
        translation: [vals[3], vals[4], vals[5]],
    })
}

/// Frame number of `pose_00012.json` (→ 12): the trailing digits of the file stem.
fn frame_number(path: &Path) -> Option<u64> {
    let stem = path.file_stem()?.to_str()?;
    let digits = &stem[stem.trim_end_matches(|c: char| c.is_ascii_digit()).len()..];
    digits.parse().ok()
}

/// One side file beside a pose folder, parsed once.
#[derive(Debug, Clone, Default, PartialEq)]
enum SideFile {
    /// Not there, or not readable as text.
    #[default]
    Missing,
    /// There, but not JSON.
    NotJson,
    /// Its JSON.
    Json(serde_json::Value),
}

impl SideFile {
    fn read(path: &Path) -> Self {
        std::fs::read_to_string(path).map_or(Self::Missing, |text| Self::parse(&text))
    }

    fn parse(text: &str) -> Self {
        serde_json::from_str(text).map_or(Self::NotJson, Self::Json)
    }

    fn at(&self, pointer: &str) -> Option<&serde_json::Value> {
        match self {
            Self::Json(v) => v.pointer(pointer),
            Self::Missing | Self::NotJson => None,
        }
    }
}

/// What gaitlens' side files beside a pose folder record — `fit_report.json` (written by
/// `gaitlens fit`) and `ground_truth.json` (by `gaitlens synth inject`) — each parsed once, however
/// many questions a load asks of them (frame rate, measured frames, fit setting, completeness).
/// A missing or unreadable side file is not an error: what it would say is then unknown.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PoseSidecars {
    fit_report: SideFile,
    ground_truth: SideFile,
}

impl PoseSidecars {
    /// Reads the side files of pose folder `dir`.
    pub fn read(dir: &Path) -> Self {
        PoseSidecars {
            fit_report: SideFile::read(&dir.join("fit_report.json")),
            ground_truth: SideFile::read(&dir.join("ground_truth.json")),
        }
    }

    /// The value at JSON `pointer` (RFC 6901) in `fit_report.json`, if any.
    pub fn fit_report_at(&self, pointer: &str) -> Option<&serde_json::Value> {
        self.fit_report.at(pointer)
    }

    /// The value at JSON `pointer` (RFC 6901) in `ground_truth.json`, if any.
    pub fn ground_truth_at(&self, pointer: &str) -> Option<&serde_json::Value> {
        self.ground_truth.at(pointer)
    }

    /// The joints `gaitlens fit` lists in `fit_report.json` as measured by no marker (held at
    /// the fitter's neutral pose); empty without a report.
    pub fn unconstrained_joints(&self) -> Vec<String> {
        self.fit_report_at("/unconstrained_joints")
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|j| j.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The `rate_hz` that `gaitlens fit` records in `fit_report.json` (or `gaitlens synth inject`
    /// in `ground_truth.json`), if any.
    pub fn rate_hz(&self) -> Option<f64> {
        positive_rate_hz(self.fit_report_at("/rate_hz"))
            .or_else(|| positive_rate_hz(self.ground_truth_at("/rate_hz")))
    }

    /// Per pose (`frame_numbers`, as [`PoseSequence::frame_numbers`]): whether `fit_report.json`
    /// says the legs were measured in that frame (every pelvis and leg marker seen, not
    /// interpolated; older reports: fitted at all), or, in a folder written by `gaitlens synth
    /// inject`, its `ground_truth.json`'s `legs_measured` (one flag per frame from 0, carried over
    /// from the source walk). `None` without either, or when they do not cover every pose (then
    /// nothing is known, so nothing is excluded).
    pub fn legs_measured(&self, frame_numbers: &[u64]) -> Option<Vec<bool>> {
        let Some(frames) = self.fit_report_at("/frames") else {
            let flags = self.ground_truth_at("/legs_measured")?.as_array()?;
            return frame_numbers
                .iter()
                .map(|&n| flags.get(usize::try_from(n).ok()?)?.as_bool())
                .collect();
        };
        let by_frame: std::collections::HashMap<u64, bool> = frames
            .as_array()?
            .iter()
            .filter_map(|f| {
                let frame = f.get("frame")?.as_u64()?;
                let interpolated = f.get("interpolated").and_then(|v| v.as_bool());
                let measured = f
                    .get("legs_measured")
                    .and_then(|v| v.as_bool())
                    .or(interpolated.map(|i| !i))?;
                Some((frame, measured))
            })
            .collect();
        frame_numbers
            .iter()
            .map(|n| by_frame.get(n).copied())
            .collect()
    }

    /// How `frames` pose files agree with the frame count `fit_report.json` states.
    pub fn fit_report_check(&self, frames: usize) -> FitReportCheck {
        if self.fit_report == SideFile::Missing {
            return FitReportCheck::NoReport;
        }
        match self
            .fit_report_at("/totals/frames")
            .and_then(|v| v.as_u64())
        {
            Some(n) if n == frames as u64 => FitReportCheck::Complete(frames),
            Some(stated) => FitReportCheck::Mismatch {
                stated,
                files: frames,
            },
            None => FitReportCheck::Unreadable,
        }
    }
}

/// A usable frame rate: a finite, positive number.
fn positive_rate_hz(v: Option<&serde_json::Value>) -> Option<f64> {
    v?.as_f64().filter(|r| r.is_finite() && *r > 0.0)
}

/// The frame rate a pose folder's side files record ([`PoseSidecars::rate_hz`]).
pub fn sidecar_rate_hz(dir: &Path) -> Option<f64> {
    PoseSidecars::read(dir).rate_hz()
}

/// The runs of consecutive frames whose flag in `measured` is `value`, as frame ranges in
/// order: one scan behind every question about measured stretches (windows, training copies,
/// the viewer's grey bands).
pub fn runs_of(measured: &[bool], value: bool) -> Vec<std::ops::Range<usize>> {
    let mut runs = Vec::new();
    let mut f = 0;
    for chunk in measured.chunk_by(|a, b| a == b) {
        if chunk[0] == value {
            runs.push(f..f + chunk.len());
        }
        f += chunk.len();
    }
    runs
}

/// A positive frame rate at JSON `pointer` (RFC 6901, e.g. `/config/rate_hz`) in `file`;
/// `None` when the file, the field or a usable value is missing.
pub fn json_rate_hz(file: &Path, pointer: &str) -> Option<f64> {
    positive_rate_hz(json_at(file, pointer).as_ref())
}

/// The value at JSON `pointer` (RFC 6901) in `file`; `None` when the file, its JSON or the field
/// is missing (side files are optional: a value they lack is unknown, not an error).
pub fn json_at(file: &Path, pointer: &str) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(file).ok()?;
    let mut v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v.pointer_mut(pointer).map(serde_json::Value::take)
}

/// Reads a folder of pose files sorted by frame number. When a frame exists as both `.json` and
/// `.txt`, the `.json` is used (the `.txt` only repeats it at the same precision).
pub fn read_pose_dir(dir: &Path) -> Result<PoseSequence, PoseSeqError> {
    read_pose_folder(dir).map(|(seq, _)| seq)
}

/// [`read_pose_folder`] that refuses a folder whose `fit_report.json` states another frame count
/// than the pose files it holds ([`FitReportCheck::Mismatch`]): with a frame missing, every later
/// frame would silently move one frame earlier in time. Folders without a report (other tools,
/// `synth`) or whose report states no count are read as they are.
pub fn read_complete_pose_folder(dir: &Path) -> Result<(PoseSequence, PoseSidecars), PoseSeqError> {
    let (seq, sidecars) = read_pose_folder(dir)?;
    let check = sidecars.fit_report_check(seq.num_frames());
    if matches!(check, FitReportCheck::Mismatch { .. }) {
        return Err(PoseSeqError::Incomplete {
            path: dir.to_path_buf(),
            check: check.to_string(),
        });
    }
    Ok((seq, sidecars))
}

/// [`read_pose_dir`], with the folder's side files as read for its frame rate, for callers that
/// ask them more (measured frames, fit setting, completeness) without parsing them again.
pub fn read_pose_folder(dir: &Path) -> Result<(PoseSequence, PoseSidecars), PoseSeqError> {
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |error| PoseSeqError::Io { path: p, error }
    };
    // (frame, is_txt, path)
    let mut files: Vec<(u64, bool, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let p = entry.map_err(io(dir))?.path();
        let is_txt = match p.extension().and_then(|e| e.to_str()) {
            Some("json") => false,
            Some("txt") => true,
            _ => continue,
        };
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        // Hidden files and side files of the fitter (fit_report.json, notes) are not frames;
        // a `pose*` file without a frame number is an error.
        if !p.is_file() || name.starts_with('.') || !name.starts_with("pose") {
            if !name.starts_with('.') {
                tracing::debug!(file = %p.display(), "not a pose file; skipped");
            }
            continue;
        }
        let n = frame_number(&p).ok_or_else(|| PoseSeqError::FileName { path: p.clone() })?;
        files.push((n, is_txt, p));
    }
    if files.is_empty() {
        return Err(PoseSeqError::NoFrames {
            path: dir.to_path_buf(),
        });
    }
    files.sort();
    let mut chosen: Vec<(u64, bool, PathBuf)> = Vec::with_capacity(files.len());
    for f in files {
        match chosen.last() {
            Some(last) if last.0 == f.0 && last.1 == f.1 => {
                return Err(PoseSeqError::DuplicateFrame {
                    path: last.2.clone(),
                    other: f.2,
                    frame: f.0,
                });
            }
            Some(last) if last.0 == f.0 => {
                tracing::debug!(json = %last.2.display(), txt = %f.2.display(), "frame stored twice; using the .json");
            }
            _ => chosen.push(f),
        }
    }
    let n = chosen.len();
    let txt_count = chosen.iter().filter(|f| f.1).count();
    let sidecars = PoseSidecars::read(dir);
    let mut seq = PoseSequence {
        betas: Vec::with_capacity(n),
        poses: Vec::with_capacity(n),
        translations: Vec::with_capacity(n),
        rate_hz: sidecars.rate_hz(),
        frame_numbers: Vec::with_capacity(n),
        source: Some(dir.to_path_buf()),
        format: if txt_count * 2 > n {
            PoseFileFormat::Txt
        } else {
            PoseFileFormat::Json
        },
    };
    for (num, is_txt, p) in chosen {
        let bytes = std::fs::read(&p).map_err(io(&p))?;
        let f = if is_txt {
            parse_pose_txt(&String::from_utf8_lossy(&bytes), &p)?
        } else {
            parse_pose_json(&bytes, &p)?
        };
        if let (Some(b0), Some(p0)) = (seq.betas.first(), seq.poses.first()) {
            for (what, expected, found) in [
                ("betas", b0.len(), f.betas.len()),
                ("pose", p0.len(), f.pose.len()),
            ] {
                if expected != found {
                    return Err(PoseSeqError::Inconsistent {
                        path: p,
                        what,
                        expected,
                        found,
                    });
                }
            }
        }
        seq.betas.push(f.betas);
        seq.poses.push(f.pose);
        seq.translations.push(f.translation);
        seq.frame_numbers.push(num);
    }
    tracing::info!(dir = %dir.display(), frames = seq.num_frames(), format = ?seq.format, "pose sequence read");
    Ok((seq, sidecars))
}

fn push_py_json_list(out: &mut String, vals: &[f64], indent: usize) {
    // json.dump(indent=4) of [[v, ...]] nested at `indent` levels.
    let pad = |n: usize| " ".repeat(4 * n);
    out.push_str("[\n");
    out.push_str(&pad(indent + 1));
    if vals.is_empty() {
        out.push_str("[]");
    } else {
        out.push_str("[\n");
        for (i, v) in vals.iter().enumerate() {
            out.push_str(&pad(indent + 2));
            out.push_str(&py_json_float(*v));
            if i + 1 < vals.len() {
                out.push(',');
            }
            out.push('\n');
        }
        out.push_str(&pad(indent + 1));
        out.push(']');
    }
    out.push('\n');
    out.push_str(&pad(indent));
    out.push(']');
}

/// One frame as the original's `.json` bytes (`json.dump(..., indent=4, sort_keys=True)`).
/// Non-finite values come out as Python writes them (`NaN`, `Infinity`); [`write_pose_dir`]
/// refuses them, and the readers reject them.
pub fn format_pose_json(f: &PoseFrame) -> String {
    let mut s = String::with_capacity(32 * (f.betas.len() + f.pose.len() + 3) + 128);
    s.push_str("{\n    \"betas\": ");
    push_py_json_list(&mut s, &f.betas, 1);
    s.push_str(",\n    \"pose\": ");
    push_py_json_list(&mut s, &f.pose, 1);
    s.push_str(",\n    \"translation\": ");
    push_py_json_list(&mut s, &f.translation, 1);
    s.push_str("\n}");
    s
}

/// One frame as the original's `.txt` bytes (`f"{v} "` for pose[0:3], translation, pose[3:], betas).
/// Non-finite values come out as Python's `str` does; [`write_pose_dir`] refuses them.
pub fn format_pose_txt(f: &PoseFrame) -> String {
    let mut s = String::new();
    let (root, rest) = f.pose.split_at(f.pose.len().min(3));
    for v in root
        .iter()
        .chain(&f.translation)
        .chain(rest)
        .chain(&f.betas)
    {
        s.push_str(&py_float_repr(*v));
        s.push(' ');
    }
    s
}

/// How a pose folder's pose files agree with its `fit_report.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FitReportCheck {
    /// The report states the frame count the folder holds.
    Complete(usize),
    /// No report: not written by `gaitlens fit`, or a fit that did not finish.
    NoReport,
    /// The report states another frame count: a mixed or interrupted output.
    Mismatch {
        /// Frames the report states.
        stated: u64,
        /// Pose files in the folder.
        files: usize,
    },
    /// The report has no readable frame count.
    Unreadable,
}

impl FitReportCheck {
    /// Whether the folder is known to be incomplete or mixed.
    pub fn incomplete(&self) -> bool {
        matches!(self, Self::Mismatch { .. } | Self::Unreadable)
    }
}

impl std::fmt::Display for FitReportCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Complete(n) => write!(f, "complete ({n} frames)"),
            Self::NoReport => write!(
                f,
                "none (not written by `gaitlens fit`, or a fit that did not finish)"
            ),
            Self::Mismatch { stated, files } => write!(
                f,
                "INCOMPLETE: fit_report.json says {stated} frames, the folder holds {files} pose \
                 files (a mixed or interrupted output: fit again)"
            ),
            Self::Unreadable => {
                write!(f, "INCOMPLETE: fit_report.json has no readable frame count")
            }
        }
    }
}

/// Checks the `frames` pose files of `dir` against its `fit_report.json` (gaitlens replaces its
/// output folders as a whole, but older runs and other tools did not).
pub fn check_fit_report(dir: &Path, frames: usize) -> FitReportCheck {
    PoseSidecars::read(dir).fit_report_check(frames)
}

/// [`check_fit_report`] of a report's text.
pub fn check_fit_report_text(text: &str, frames: usize) -> FitReportCheck {
    PoseSidecars {
        fit_report: SideFile::parse(text),
        ground_truth: SideFile::Missing,
    }
    .fit_report_check(frames)
}

/// Writes a sequence as `pose_NNNNN.json` or `.txt` files (NNNNN = frame number, at least five
/// digits, as the original), each atomically, into `dir`. A NaN or infinite value anywhere is an
/// error before anything is written.
pub fn write_pose_dir(
    dir: &Path,
    seq: &PoseSequence,
    format: PoseFileFormat,
) -> Result<(), PoseSeqError> {
    let invalid = |reason: String| PoseSeqError::Invalid {
        path: dir.to_path_buf(),
        reason,
    };
    let n = seq.poses.len();
    if seq.betas.len() != n || seq.translations.len() != n || seq.frame_numbers.len() != n {
        return Err(invalid(format!(
            "{n} poses, {} betas, {} translations, {} frame numbers",
            seq.betas.len(),
            seq.translations.len(),
            seq.frame_numbers.len()
        )));
    }
    if let Some(w) = seq.frame_numbers.windows(2).find(|w| w[0] >= w[1]) {
        return Err(invalid(format!(
            "frame numbers not strictly ascending at {} → {}",
            w[0], w[1]
        )));
    }
    if format == PoseFileFormat::Txt
        && let Some(i) = (0..n).find(|&i| seq.betas[i].len() != NUM_BETAS || seq.poses[i].len() < 3)
    {
        return Err(invalid(format!(
            "frame {i}: .txt needs {NUM_BETAS} betas and at least 3 pose values, got {} and {}",
            seq.betas[i].len(),
            seq.poses[i].len()
        )));
    }
    // Python writes NaN / Infinity, but no reader should have to accept them: refuse before any
    // file is written, so a failed call leaves no partial sequence.
    for i in 0..n {
        let vectors = [
            ("betas", seq.betas[i].as_slice()),
            ("pose", seq.poses[i].as_slice()),
            ("translation", seq.translations[i].as_slice()),
        ];
        for (what, vals) in vectors {
            if let Some((k, v)) = vals.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                return Err(invalid(format!(
                    "frame {} (pose_{:05}): {what}[{k}] is {v}; pose files hold finite numbers only",
                    i, seq.frame_numbers[i]
                )));
            }
        }
    }
    for i in 0..n {
        let f = PoseFrame {
            betas: seq.betas[i].clone(),
            pose: seq.poses[i].clone(),
            translation: seq.translations[i],
        };
        let (ext, text) = match format {
            PoseFileFormat::Json => ("json", format_pose_json(&f)),
            PoseFileFormat::Txt => ("txt", format_pose_txt(&f)),
        };
        let p = dir.join(format!("pose_{:05}.{ext}", seq.frame_numbers[i]));
        write_atomic(&p, text.as_bytes()).map_err(|error| PoseSeqError::Write {
            path: p.clone(),
            error,
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame() -> PoseFrame {
        PoseFrame {
            betas: (0..NUM_BETAS).map(|i| i as f64 * 1e-3 - 0.02).collect(),
            pose: vec![0.1, -0.0, 1e-5, 2.0, 3.5, -1e16],
            translation: [0.5, 100.0, -2.5e-7],
        }
    }

    #[test]
    fn one_read_of_the_side_files_answers_every_question() {
        let dir = tempfile::tempdir().unwrap();
        let report = dir.path().join("fit_report.json");
        assert_eq!(
            PoseSidecars::read(dir.path()).fit_report_check(2),
            FitReportCheck::NoReport
        );
        std::fs::write(
            &report,
            r#"{"rate_hz": 120.0, "pelvis_markers": "rigid", "totals": {"frames": 2},
                "unconstrained_joints": ["left_foot", "right_foot"],
                "frames": [{"frame": 0, "legs_measured": true}, {"frame": 1, "legs_measured": false}]}"#,
        )
        .unwrap();
        let sidecars = PoseSidecars::read(dir.path());
        // Every answer below comes from that one read.
        std::fs::remove_file(&report).unwrap();
        assert_eq!(sidecars.rate_hz(), Some(120.0));
        assert_eq!(sidecars.legs_measured(&[0, 1]), Some(vec![true, false]));
        assert_eq!(sidecars.unconstrained_joints(), ["left_foot", "right_foot"]);
        assert_eq!(sidecars.fit_report_check(2), FitReportCheck::Complete(2));
        assert_eq!(
            sidecars.fit_report_check(3),
            FitReportCheck::Mismatch {
                stated: 2,
                files: 3
            }
        );
        assert_eq!(
            sidecars.fit_report_at("/pelvis_markers"),
            Some(&serde_json::json!("rigid"))
        );
        std::fs::write(&report, "{ not json").unwrap();
        let broken = PoseSidecars::read(dir.path());
        assert_eq!(broken.fit_report_check(2), FitReportCheck::Unreadable);
        assert_eq!(broken.rate_hz(), None);
    }

    #[test]
    fn legs_measured_frames_come_from_the_fit_report_and_fall_back_to_interpolation() {
        let dir = tempfile::tempdir().unwrap();
        let report = |frames: &str| {
            std::fs::write(
                dir.path().join("fit_report.json"),
                format!("{{\"rate_hz\": 100.0, \"frames\": [{frames}]}}"),
            )
            .unwrap()
        };
        assert_eq!(
            PoseSidecars::read(dir.path()).legs_measured(&[0]),
            None,
            "no report"
        );
        report(
            r#"{"frame": 0, "interpolated": false, "legs_measured": true},
               {"frame": 1, "interpolated": false, "legs_measured": false},
               {"frame": 2, "interpolated": true, "legs_measured": false}"#,
        );
        assert_eq!(
            PoseSidecars::read(dir.path()).legs_measured(&[0, 1, 2]),
            Some(vec![true, false, false])
        );
        // Pose files numbered past the report: nothing is known.
        assert_eq!(
            PoseSidecars::read(dir.path()).legs_measured(&[1, 2, 3]),
            None
        );
        // A report written before `legs_measured`: a frame counts when it was fitted.
        report(r#"{"frame": 0, "interpolated": true}, {"frame": 1, "interpolated": false}"#);
        assert_eq!(
            PoseSidecars::read(dir.path()).legs_measured(&[0, 1]),
            Some(vec![false, true])
        );
    }

    #[test]
    fn an_injected_walk_carries_its_legs_measured_flags_in_its_ground_truth() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("ground_truth.json"),
            r#"{"rate_hz": 100.0, "legs_measured": [true, false, true]}"#,
        )
        .unwrap();
        assert_eq!(
            PoseSidecars::read(dir.path()).legs_measured(&[0, 1, 2]),
            Some(vec![true, false, true])
        );
        assert_eq!(
            PoseSidecars::read(dir.path()).legs_measured(&[2, 3]),
            None,
            "frame 3 uncovered"
        );
        std::fs::write(
            dir.path().join("ground_truth.json"),
            r#"{"rate_hz": 100.0}"#,
        )
        .unwrap();
        assert_eq!(PoseSidecars::read(dir.path()).legs_measured(&[0]), None);
    }

    #[test]
    fn json_layout_matches_python_json_dump() {
        let f = PoseFrame {
            betas: vec![1e-5, 2.0],
            pose: vec![],
            translation: [0.0, -1.5, 1e16],
        };
        // What Python 3.11 prints for json.dumps({"translation": [[0.0, -1.5, 1e16]],
        // "betas": [[1e-05, 2.0]], "pose": [[]]}, indent=4, sort_keys=True).
        let want = "{\n    \"betas\": [\n        [\n            1e-05,\n            2.0\n        ]\n    ],\n    \"pose\": [\n        []\n    ],\n    \"translation\": [\n        [\n            0.0,\n            -1.5,\n            1e+16\n        ]\n    ]\n}";
        assert_eq!(format_pose_json(&f), want);
        let back = parse_pose_json(want.as_bytes(), Path::new("x.json")).unwrap();
        assert_eq!(back, f);
    }

    #[test]
    fn txt_round_trips_and_splits_like_load_pose() {
        let f = frame();
        let s = format_pose_txt(&f);
        assert!(
            s.starts_with("0.1 -0.0 1e-05 0.5 100.0 -2.5e-07 2.0 3.5 -1e+16 -0.02 "),
            "{s}"
        );
        assert!(s.ends_with(' ') && !s.contains('\n'));
        assert_eq!(parse_pose_txt(&s, Path::new("x.txt")).unwrap(), f);
    }

    #[test]
    fn errors_name_file_and_path() {
        let e = parse_pose_json(
            br#"{"betas": [[1, "a"]], "pose": [[]], "translation": [[0,0,0]]}"#,
            Path::new("p.json"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("p.json") && e.contains("betas[0][1]"), "{e}");
        let e = parse_pose_json(
            br#"{"betas": [[1]], "pose": [[]], "translation": [[0,0]]}"#,
            Path::new("p.json"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("translation[0]") && e.contains("3 numbers"),
            "{e}"
        );
        let e = parse_pose_txt("1 2 3", Path::new("q.txt")).unwrap_err();
        assert!(
            matches!(e, PoseSeqError::TxtTooShort { count: 3, .. }),
            "{e}"
        );
        let e = parse_pose_txt("1 2 x", Path::new("q.txt")).unwrap_err();
        assert!(matches!(e, PoseSeqError::TxtNumber { index: 2, .. }), "{e}");
    }

    #[test]
    fn dir_round_trip_prefers_json_and_sorts_numerically() {
        let dir = tempfile::tempdir().unwrap();
        let f = frame();
        let seq = PoseSequence {
            betas: vec![f.betas.clone(); 3],
            poses: vec![f.pose.clone(), vec![0.0; 6], vec![1.0; 6]],
            translations: vec![[0.0; 3], [1.0; 3], [2.0; 3]],
            rate_hz: None,
            frame_numbers: vec![9, 10, 100_000],
            source: None,
            format: PoseFileFormat::Json,
        };
        write_pose_dir(dir.path(), &seq, PoseFileFormat::Json).unwrap();
        write_pose_dir(dir.path(), &seq, PoseFileFormat::Txt).unwrap();
        assert!(
            dir.path().join("pose_00009.json").exists()
                && dir.path().join("pose_100000.txt").exists()
        );
        // The fitter's report beside the poses is skipped and gives the frame rate.
        std::fs::write(dir.path().join("fit_report.json"), r#"{"rate_hz": 100.0}"#).unwrap();
        let back = read_pose_dir(dir.path()).unwrap();
        assert_eq!(back.frame_numbers, [9, 10, 100_000]);
        assert_eq!(back.rate_hz, Some(100.0));
        assert_eq!(back.poses, seq.poses);
        assert_eq!(back.format, PoseFileFormat::Json);
        let mean = back.mean_betas();
        assert_eq!(mean.len(), NUM_BETAS);
        assert!(
            mean.iter()
                .zip(&f.betas)
                .all(|(m, b)| (m - b).abs() < 1e-15)
        );
        // A pose file without a frame number is a typed error naming it.
        std::fs::write(dir.path().join("pose_last.json"), "{}").unwrap();
        let e = read_pose_dir(dir.path()).unwrap_err();
        assert!(matches!(e, PoseSeqError::FileName { .. }), "{e}");
        assert!(e.to_string().contains("pose_last.json"), "{e}");
    }
}
