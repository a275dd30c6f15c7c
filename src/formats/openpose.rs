//! OpenPose BODY_25 keypoints (one JSON per video frame) from a folder or a zip of clip folders,
//! reduced to one walker per frame by a logged, reproducible tracker.
//!
//! Tracking rule (documented because it decides which person the gait analysis sees):
//! * a person counts only if at least one keypoint has confidence ≥ `min_confidence`;
//! * **seed**: the person with the largest score = (sum of all 25 confidences) × (diagonal of the
//!   bounding box of its confident keypoints, pixels) — confident *and* large, so a small
//!   bystander in the background loses against the walker near the camera;
//! * **follow**: in each later frame the person whose keypoints are nearest to the walker's last
//!   chosen keypoints (mean pixel distance over keypoints confident in both, at least
//!   `min_shared_keypoints` of them);
//! * **re-seed** by score when the walker was missing for more than `max_gap_frames` frames, or
//!   when no person shares enough confident keypoints with the last walker.
//!
//! Every choice is logged (`tracing::debug!`, re-seeds at `info`) and kept in
//! [`KeypointSequence::choices`].

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::ordered_json::{self as oj, ShapeError, SyntaxError};

/// BODY_25 keypoint names in OpenPose's output order.
pub const BODY25_NAMES: [&str; 25] = [
    "Nose",
    "Neck",
    "RShoulder",
    "RElbow",
    "RWrist",
    "LShoulder",
    "LElbow",
    "LWrist",
    "MidHip",
    "RHip",
    "RKnee",
    "RAnkle",
    "LHip",
    "LKnee",
    "LAnkle",
    "REye",
    "LEye",
    "REar",
    "LEar",
    "LBigToe",
    "LSmallToe",
    "LHeel",
    "RBigToe",
    "RSmallToe",
    "RHeel",
];

/// One person's BODY_25 keypoints: `(x_px, y_px, confidence)` each; `(0, 0, 0)` = not detected.
pub type Body25 = [[f32; 3]; 25];

/// Largest uncompressed size accepted for one zip entry (a frame file is a few kB).
pub const MAX_ENTRY_BYTES: u64 = 16 * 1024 * 1024;

/// Errors of the OpenPose readers; each names the file (or `archive.zip!entry`).
#[derive(Debug, Error)]
pub enum OpenPoseError {
    /// The folder is a gaitlens pose folder (`gaitlens fit` output: fitted body poses), not
    /// OpenPose keypoints of a video.
    #[error(
        "{path} is a gaitlens pose folder (fitted body poses, `{file}`), not an OpenPose clip: the \
         video networks read OpenPose keypoints of a video; marker networks read pose folders \
         (`gaitlens explain --network NET.json --sequence {path}`)"
    )]
    PoseFolder {
        /// The folder.
        path: PathBuf,
        /// The file that shows it (`fit_report.json` or a `pose_NNNNN.json`).
        file: String,
    },
    /// A file or folder could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The zip archive itself is unreadable.
    #[error("{path} is not a readable zip archive: {source}")]
    Zip {
        /// The archive.
        path: PathBuf,
        /// The zip error.
        source: zip::result::ZipError,
    },
    /// One entry of the archive could not be decompressed.
    #[error("cannot decompress {file}: {message}")]
    Entry {
        /// `archive.zip!entry`.
        file: String,
        /// What went wrong.
        message: String,
    },
    /// A frame file is larger than [`MAX_ENTRY_BYTES`].
    #[error("{file} is larger than {limit} bytes; expected a small per-frame keypoint file")]
    TooLarge {
        /// The file.
        file: String,
        /// The size limit in bytes.
        limit: u64,
    },
    /// A frame file is not valid JSON.
    #[error("{file}: invalid JSON at {source}")]
    Syntax {
        /// The file.
        file: String,
        /// Line, column and message.
        source: SyntaxError,
    },
    /// A frame file is JSON of the wrong shape.
    #[error("{file}: {source}")]
    Shape {
        /// The file.
        file: String,
        /// JSON path, expectation and finding.
        source: ShapeError,
    },
    /// A file name carries no frame number (expected `<clip>_<number>_keypoints.json`).
    #[error("{file}: no frame number in the file name; expected `<clip>_<number>_keypoints.json`")]
    FileName {
        /// The file.
        file: String,
    },
    /// Two files of one clip carry the same frame number.
    #[error("{file} and {other} both hold frame {frame}")]
    DuplicateFrame {
        /// One file.
        file: String,
        /// The other file.
        other: String,
        /// The shared frame number.
        frame: u64,
    },
    /// A folder or archive holds no keypoint JSON files.
    #[error(
        "{path} holds no OpenPose keypoint JSON files (*_keypoints.json); gaitlens also reads pose \
         folders (pose_*.json|txt), C3D/TRC trials and cohort files"
    )]
    NoFrames {
        /// The folder or archive.
        path: PathBuf,
    },
}

/// Why the tracker picked (or did not pick) a person in one frame.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum TrackReason {
    /// Nobody (with a confident keypoint) in the frame.
    Empty,
    /// First detection of the clip: the person with the largest score.
    Seed,
    /// Walker missing for more than `max_gap_frames` frames; re-seeded by score.
    ReseedAfterGap {
        /// Frames since the walker was last chosen.
        gap_frames: usize,
    },
    /// No person shared enough confident keypoints with the last walker; re-seeded by score.
    ReseedNoOverlap,
    /// The person nearest to the last walker.
    Nearest {
        /// Mean distance in pixels over keypoints confident in both.
        mean_distance_px: f32,
        /// Number of keypoints that distance is averaged over.
        shared_keypoints: usize,
    },
}

/// The tracker's decision for one frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackChoice {
    /// Index into [`KeypointSequence::frames`].
    pub frame: usize,
    /// Frame number from the file name.
    pub source_frame: u64,
    /// Number of people listed in the file (including ones without confident keypoints).
    pub people: usize,
    /// Index into the file's `people` array of the chosen person.
    pub chosen: Option<usize>,
    /// Score (sum of confidences × bbox diagonal in px) of the chosen person, 0 when none.
    pub score: f32,
    /// Why.
    pub reason: TrackReason,
}

/// Parameters of the walker tracker.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrackerConfig {
    /// Keypoints below this confidence are ignored for distances and boxes.
    pub min_confidence: f32,
    /// Re-seed when the walker was missing for more than this many frames.
    pub max_gap_frames: usize,
    /// Minimum shared confident keypoints for a nearest-person match.
    pub min_shared_keypoints: usize,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        Self {
            min_confidence: 0.1,
            max_gap_frames: 10,
            min_shared_keypoints: 3,
        }
    }
}

/// One clip: a walker's BODY_25 keypoints per frame, sorted by frame number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeypointSequence {
    /// Clip name (folder name).
    pub clip: String,
    /// One entry per frame file; `None` where nobody was detected.
    pub frames: Vec<Option<Body25>>,
    /// Frame number parsed from each file name, ascending (parallel to `frames`).
    pub source_frame_numbers: Vec<u64>,
    /// The tracker's decision per frame (parallel to `frames`).
    pub choices: Vec<TrackChoice>,
}

impl KeypointSequence {
    /// Number of frames (files).
    pub fn num_frames(&self) -> usize {
        self.frames.len()
    }

    /// Frames whose file listed nobody with a confident keypoint.
    pub fn empty_frames(&self) -> usize {
        self.choices.iter().filter(|c| c.chosen.is_none()).count()
    }

    /// Frames whose file listed more than one person.
    pub fn multi_person_frames(&self) -> usize {
        self.choices.iter().filter(|c| c.people > 1).count()
    }

    /// Number of seeds and re-seeds the tracker made.
    pub fn seeds(&self) -> usize {
        self.choices
            .iter()
            .filter(|c| !matches!(c.reason, TrackReason::Empty | TrackReason::Nearest { .. }))
            .count()
    }
}

/// Parses one OpenPose frame file into the BODY_25 keypoints of each listed person.
/// `file` only labels errors. Extra keys (face, hands, 3D, `person_id`) are ignored.
pub fn parse_openpose_frame(bytes: &[u8], file: &str) -> Result<Vec<Body25>, OpenPoseError> {
    let json = oj::parse(bytes).map_err(|source| OpenPoseError::Syntax {
        file: file.to_string(),
        source,
    })?;
    let shape = |source| OpenPoseError::Shape {
        file: file.to_string(),
        source,
    };
    let people =
        oj::array(oj::field(&json, "", "people").map_err(shape)?, "people").map_err(shape)?;
    let mut out = Vec::with_capacity(people.len());
    for (i, p) in people.iter().enumerate() {
        let path = format!("people[{i}].pose_keypoints_2d");
        let kp = oj::field(p, &format!("people[{i}]"), "pose_keypoints_2d").map_err(shape)?;
        let vals = oj::array(kp, &path).map_err(shape)?;
        if vals.len() != 75 {
            return Err(shape(ShapeError {
                path,
                expected: "75 numbers (BODY_25: 25 × x, y, confidence)".into(),
                found: format!("{} values", vals.len()),
            }));
        }
        let mut body = [[0f32; 3]; 25];
        for (k, v) in vals.iter().enumerate() {
            let x = oj::num(v, &format!("{path}[{k}]")).map_err(shape)?;
            if !x.is_finite() {
                return Err(shape(oj::shape_err(
                    &format!("{path}[{k}]"),
                    "a finite number",
                    Some(v),
                )));
            }
            body[k / 3][k % 3] = x as f32;
        }
        out.push(body);
    }
    Ok(out)
}

/// Frame number of an OpenPose file name such as `gait1_000000000012_keypoints.json` (→ 12): the
/// last run of digits in the name without `.json` and `_keypoints`.
pub fn frame_number_from_name(name: &str) -> Option<u64> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let stem = base.strip_suffix(".json").unwrap_or(base);
    let stem = stem.strip_suffix("_keypoints").unwrap_or(stem);
    // Byte positions: ASCII digits never sit inside a multi-byte character.
    let b = stem.as_bytes();
    let end = b.iter().rposition(u8::is_ascii_digit)? + 1;
    let start = b[..end]
        .iter()
        .rposition(|c| !c.is_ascii_digit())
        .map_or(0, |p| p + 1);
    stem.get(start..end)?.parse().ok()
}

fn is_confident(k: &[f32; 3], cfg: &TrackerConfig) -> bool {
    k[2] >= cfg.min_confidence && k[2].is_finite()
}

/// Seed score of a person: sum of confidences × bbox diagonal (px) of its confident keypoints.
pub fn seed_score(p: &Body25, cfg: &TrackerConfig) -> f32 {
    let conf: f32 = p.iter().map(|k| k[2].max(0.0)).sum();
    let mut lo = [f32::INFINITY; 2];
    let mut hi = [f32::NEG_INFINITY; 2];
    for k in p.iter().filter(|k| is_confident(k, cfg)) {
        for a in 0..2 {
            lo[a] = lo[a].min(k[a]);
            hi[a] = hi[a].max(k[a]);
        }
    }
    if lo[0] > hi[0] {
        return 0.0;
    }
    conf * ((hi[0] - lo[0]).powi(2) + (hi[1] - lo[1]).powi(2)).sqrt()
}

/// Mean pixel distance over keypoints confident in both people, with their count.
fn mean_distance(a: &Body25, b: &Body25, cfg: &TrackerConfig) -> (f32, usize) {
    let mut sum = 0.0;
    let mut n = 0;
    for (p, q) in a.iter().zip(b) {
        if is_confident(p, cfg) && is_confident(q, cfg) {
            sum += ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2)).sqrt();
            n += 1;
        }
    }
    (if n > 0 { sum / n as f32 } else { f32::INFINITY }, n)
}

/// Reduces per-frame person lists (with their frame numbers, any order) to one walker per frame
/// following the module's tracking rule; frames are sorted by number first.
pub fn track_walker(
    clip: &str,
    mut frames: Vec<(u64, Vec<Body25>)>,
    cfg: &TrackerConfig,
) -> KeypointSequence {
    frames.sort_by_key(|f| f.0);
    let mut seq = KeypointSequence {
        clip: clip.to_string(),
        frames: Vec::with_capacity(frames.len()),
        source_frame_numbers: Vec::with_capacity(frames.len()),
        choices: Vec::with_capacity(frames.len()),
    };
    let mut last: Option<(usize, Body25)> = None;
    for (fi, (number, people)) in frames.into_iter().enumerate() {
        let candidates: Vec<usize> = (0..people.len())
            .filter(|&i| people[i].iter().any(|k| is_confident(k, cfg)))
            .collect();
        let best_by_score = || {
            candidates.iter().copied().max_by(|&a, &b| {
                seed_score(&people[a], cfg).total_cmp(&seed_score(&people[b], cfg))
            })
        };
        let (chosen, reason) = if candidates.is_empty() {
            (None, TrackReason::Empty)
        } else {
            match &last {
                None => (best_by_score(), TrackReason::Seed),
                Some((lf, _)) if fi - lf > cfg.max_gap_frames + 1 => (
                    best_by_score(),
                    TrackReason::ReseedAfterGap {
                        gap_frames: fi - lf - 1,
                    },
                ),
                Some((_, prev)) => {
                    let best = candidates
                        .iter()
                        .map(|&i| (i, mean_distance(prev, &people[i], cfg)))
                        .filter(|(_, (_, n))| *n >= cfg.min_shared_keypoints)
                        .min_by(|a, b| a.1.0.total_cmp(&b.1.0));
                    match best {
                        Some((i, (d, n))) => (
                            Some(i),
                            TrackReason::Nearest {
                                mean_distance_px: d,
                                shared_keypoints: n,
                            },
                        ),
                        None => (best_by_score(), TrackReason::ReseedNoOverlap),
                    }
                }
            }
        };
        let score = chosen.map_or(0.0, |i| seed_score(&people[i], cfg));
        match reason {
            TrackReason::Empty | TrackReason::Nearest { .. } if people.len() <= 1 => {
                tracing::trace!(clip, frame = number, ?chosen, ?reason, "walker choice");
            }
            TrackReason::Empty | TrackReason::Nearest { .. } => {
                tracing::debug!(
                    clip,
                    frame = number,
                    people = people.len(),
                    ?chosen,
                    ?reason,
                    "walker choice"
                );
            }
            _ => {
                tracing::info!(
                    clip,
                    frame = number,
                    people = people.len(),
                    ?chosen,
                    score,
                    ?reason,
                    "walker (re)seeded"
                );
            }
        }
        if let Some(i) = chosen {
            last = Some((fi, people[i]));
        }
        seq.choices.push(TrackChoice {
            frame: fi,
            source_frame: number,
            people: people.len(),
            chosen,
            score,
            reason,
        });
        seq.source_frame_numbers.push(number);
        seq.frames.push(chosen.map(|i| people[i]));
    }
    if let Some(w) = seq
        .source_frame_numbers
        .windows(2)
        .find(|w| w[1] != w[0] + 1)
    {
        tracing::warn!(
            clip,
            from = w[0],
            to = w[1],
            "frame numbers are not contiguous"
        );
    }
    tracing::info!(
        clip,
        frames = seq.num_frames(),
        empty = seq.empty_frames(),
        multi_person = seq.multi_person_frames(),
        seeds = seq.seeds(),
        "OpenPose clip read"
    );
    seq
}

/// Collects `(frame number, people)` of one clip, rejecting duplicate frame numbers.
struct ClipFrames {
    frames: Vec<(u64, Vec<Body25>)>,
    files: Vec<String>,
}

impl ClipFrames {
    fn new() -> Self {
        Self {
            frames: Vec::new(),
            files: Vec::new(),
        }
    }

    fn push(&mut self, file: String, bytes: &[u8]) -> Result<(), OpenPoseError> {
        let n = frame_number_from_name(&file)
            .ok_or_else(|| OpenPoseError::FileName { file: file.clone() })?;
        let people = parse_openpose_frame(bytes, &file)?;
        self.frames.push((n, people));
        self.files.push(file);
        Ok(())
    }

    fn finish(self, clip: &str, cfg: &TrackerConfig) -> Result<KeypointSequence, OpenPoseError> {
        let mut order: Vec<usize> = (0..self.frames.len()).collect();
        order.sort_by_key(|&i| self.frames[i].0);
        for w in order.windows(2) {
            if self.frames[w[0]].0 == self.frames[w[1]].0 {
                return Err(OpenPoseError::DuplicateFrame {
                    file: self.files[w[0]].clone(),
                    other: self.files[w[1]].clone(),
                    frame: self.frames[w[0]].0,
                });
            }
        }
        Ok(track_walker(clip, self.frames, cfg))
    }
}

/// `fit_report.json` or `pose_NNNNN.json`: files of a gaitlens pose folder, never of OpenPose
/// (whose frames are named `<video>_<12 digits>_keypoints.json`).
fn is_gaitlens_pose_file(name: &str) -> bool {
    name == "fit_report.json"
        || name
            .strip_prefix("pose_")
            .and_then(|r| r.strip_suffix(".json"))
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn is_frame_file(name: &str) -> bool {
    let base = name.rsplit('/').next().unwrap_or(name);
    base.to_ascii_lowercase().ends_with(".json")
        && !base.starts_with("._")
        && !name.starts_with("__MACOSX/")
}

/// Reads one clip folder of per-frame JSON files (clip name = folder name).
pub fn read_openpose_dir(path: &Path) -> Result<KeypointSequence, OpenPoseError> {
    read_openpose_dir_with(path, &TrackerConfig::default())
}

/// [`read_openpose_dir`] with explicit tracker parameters.
pub fn read_openpose_dir_with(
    path: &Path,
    cfg: &TrackerConfig,
) -> Result<KeypointSequence, OpenPoseError> {
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| OpenPoseError::Io { path: p, source }
    };
    let mut clip = ClipFrames::new();
    for entry in std::fs::read_dir(path).map_err(io(path))? {
        let entry = entry.map_err(io(path))?;
        let p = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if !p.is_file() || !is_frame_file(&name) {
            continue;
        }
        if is_gaitlens_pose_file(&name) {
            return Err(OpenPoseError::PoseFolder {
                path: path.to_path_buf(),
                file: name,
            });
        }
        let bytes = std::fs::read(&p).map_err(io(&p))?;
        clip.push(p.display().to_string(), &bytes)?;
    }
    if clip.frames.is_empty() {
        return Err(OpenPoseError::NoFrames {
            path: path.to_path_buf(),
        });
    }
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    clip.finish(&name, cfg)
}

/// Reads every clip of a zip archive: one [`KeypointSequence`] per top-level folder (clip name =
/// folder name; files at the archive root form a clip named after the archive), in natural order
/// (`vid`, `vid1`, `vid2`, …, `vid10`).
pub fn read_openpose_zip(path: &Path) -> Result<Vec<KeypointSequence>, OpenPoseError> {
    let bytes = std::fs::read(path).map_err(|source| OpenPoseError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    read_openpose_zip_bytes(&bytes, path, &TrackerConfig::default())
}

/// [`read_openpose_zip`] on archive bytes already in memory; `path` labels clips and errors.
pub fn read_openpose_zip_bytes(
    bytes: &[u8],
    path: &Path,
    cfg: &TrackerConfig,
) -> Result<Vec<KeypointSequence>, OpenPoseError> {
    let zerr = |source| OpenPoseError::Zip {
        path: path.to_path_buf(),
        source,
    };
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(zerr)?;
    let stem = path
        .file_stem()
        .map_or_else(|| "clip".to_string(), |s| s.to_string_lossy().into_owned());
    let mut clips: Vec<(String, ClipFrames)> = Vec::new();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(zerr)?;
        let name = entry.name().replace('\\', "/");
        if entry.is_dir() || !is_frame_file(&name) {
            continue;
        }
        let label = format!("{}!{}", path.display(), name);
        if entry.size() > MAX_ENTRY_BYTES {
            return Err(OpenPoseError::TooLarge {
                file: label,
                limit: MAX_ENTRY_BYTES,
            });
        }
        let mut data = Vec::with_capacity(entry.size() as usize);
        (&mut entry)
            .take(MAX_ENTRY_BYTES + 1)
            .read_to_end(&mut data)
            .map_err(|e| OpenPoseError::Entry {
                file: label.clone(),
                message: e.to_string(),
            })?;
        if data.len() as u64 > MAX_ENTRY_BYTES {
            return Err(OpenPoseError::TooLarge {
                file: label,
                limit: MAX_ENTRY_BYTES,
            });
        }
        let clip = match name.split_once('/') {
            Some((top, _)) => top.to_string(),
            None => stem.clone(),
        };
        let idx = match clips.iter().position(|(c, _)| *c == clip) {
            Some(k) => k,
            None => {
                clips.push((clip, ClipFrames::new()));
                clips.len() - 1
            }
        };
        clips[idx].1.push(label, &data)?;
    }
    if clips.is_empty() {
        return Err(OpenPoseError::NoFrames {
            path: path.to_path_buf(),
        });
    }
    clips.sort_by_key(|c| natural_key(&c.0));
    clips
        .into_iter()
        .map(|(name, c)| c.finish(&name, cfg))
        .collect()
}

/// Reads whatever `path` is: a `.zip` of clip folders, a clip folder of frame files, or a folder
/// of clip folders (each subfolder holding frame files becomes a clip, in natural order).
pub fn read_openpose_path(path: &Path) -> Result<Vec<KeypointSequence>, OpenPoseError> {
    if path.is_file() {
        return read_openpose_zip(path);
    }
    let entries: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|source| OpenPoseError::Io {
            path: path.to_path_buf(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    let has_frames = entries.iter().any(|p| {
        p.is_file()
            && p.file_name()
                .is_some_and(|n| is_frame_file(&n.to_string_lossy()))
    });
    if has_frames {
        return Ok(vec![read_openpose_dir(path)?]);
    }
    let mut dirs: Vec<PathBuf> = entries.into_iter().filter(|p| p.is_dir()).collect();
    dirs.sort_by_key(|d| natural_key(&d.file_name().unwrap_or_default().to_string_lossy()));
    let clips: Vec<KeypointSequence> = dirs
        .iter()
        .map(|d| read_openpose_dir(d))
        .filter(|r| !matches!(r, Err(OpenPoseError::NoFrames { .. })))
        .collect::<Result<_, _>>()?;
    if clips.is_empty() {
        return Err(OpenPoseError::NoFrames {
            path: path.to_path_buf(),
        });
    }
    Ok(clips)
}

/// Sort key putting `vid2` before `vid10`: text before the trailing digits, then their value.
fn natural_key(s: &str) -> (String, u128, String) {
    let split = s.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let num = s[split..].parse().unwrap_or(0);
    (s[..split].to_string(), num, s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(x0: f32, y0: f32, scale: f32, conf: f32) -> Body25 {
        let mut b = [[0f32; 3]; 25];
        for (k, kp) in b.iter_mut().enumerate() {
            *kp = [
                x0 + scale * (k % 5) as f32,
                y0 + scale * (k / 5) as f32 * 4.0,
                conf,
            ];
        }
        b
    }

    #[test]
    fn frame_numbers_from_names() {
        assert_eq!(
            frame_number_from_name("gait1/gait1_000000000012_keypoints.json"),
            Some(12)
        );
        assert_eq!(
            frame_number_from_name("vid10_000000000355_keypoints.json"),
            Some(355)
        );
        assert_eq!(frame_number_from_name("frame7.json"), Some(7));
        assert_eq!(frame_number_from_name("keypoints.json"), None);
        assert_eq!(
            frame_number_from_name("vid_00\u{a0}93_keypoints.json"),
            Some(93)
        );
        assert_eq!(
            frame_number_from_name("x_99999999999999999999999_keypoints.json"),
            None
        );
    }

    #[test]
    fn parse_reports_json_path() {
        let mut kp: Vec<String> = (0..75).map(|i| i.to_string()).collect();
        kp[37] = "\"x\"".into();
        let good = format!(
            "[{}]",
            (0..75).map(|i| i.to_string()).collect::<Vec<_>>().join(",")
        );
        let doc = format!(
            r#"{{"version":1.3,"people":[{{"pose_keypoints_2d":{good}}},{{"pose_keypoints_2d":[{}]}}]}}"#,
            kp.join(",")
        );
        let err = parse_openpose_frame(doc.as_bytes(), "f.json")
            .unwrap_err()
            .to_string();
        assert!(err.contains("people[1].pose_keypoints_2d[37]"), "{err}");
        assert!(err.contains("f.json"), "{err}");
        let short = r#"{"people":[{"pose_keypoints_2d":[1,2,3]}]}"#;
        let err = parse_openpose_frame(short.as_bytes(), "g.json")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("75 numbers") && err.contains("3 values"),
            "{err}"
        );
        let people = parse_openpose_frame(br#"{"version":1.3,"people":[]}"#, "e").unwrap();
        assert!(people.is_empty());
    }

    #[test]
    fn tracker_seeds_on_largest_and_follows_nearest() {
        let cfg = TrackerConfig::default();
        let walker = |t: f32| person(100.0 + 5.0 * t, 50.0, 20.0, 0.9);
        let bystander = person(600.0, 300.0, 5.0, 0.95); // small, far away
        let mut frames = vec![
            (0, vec![bystander, walker(0.0)]),
            (1, vec![walker(1.0), bystander]),
            (2, vec![]),
            (3, vec![bystander, walker(3.0)]),
        ];
        // A large intruder appears later but far from the walker: nearest still wins.
        frames.push((4, vec![person(900.0, 0.0, 40.0, 1.0), walker(4.0)]));
        let seq = track_walker("t", frames, &cfg);
        assert_eq!(
            seq.choices.iter().map(|c| c.chosen).collect::<Vec<_>>(),
            [Some(1), Some(0), None, Some(1), Some(1)]
        );
        assert_eq!(seq.choices[0].reason, TrackReason::Seed);
        assert!(matches!(
            seq.choices[4].reason,
            TrackReason::Nearest {
                shared_keypoints: 25,
                ..
            }
        ));
        assert_eq!(seq.empty_frames(), 1);
        assert_eq!(seq.multi_person_frames(), 4);
        assert_eq!(seq.frames[1].unwrap()[0][0], 105.0);
    }

    #[test]
    fn tracker_reseeds_after_long_gap_and_sorts() {
        let cfg = TrackerConfig {
            max_gap_frames: 2,
            ..Default::default()
        };
        let a = person(0.0, 0.0, 10.0, 0.9);
        let big = person(500.0, 0.0, 30.0, 0.9);
        let frames = vec![
            (5, vec![a, big]),
            (0, vec![a]),
            (1, vec![]),
            (2, vec![]),
            (3, vec![]),
            (4, vec![]),
        ];
        let seq = track_walker("t", frames, &cfg);
        assert_eq!(seq.source_frame_numbers, [0, 1, 2, 3, 4, 5]);
        assert_eq!(
            seq.choices[5].reason,
            TrackReason::ReseedAfterGap { gap_frames: 4 }
        );
        assert_eq!(seq.choices[5].chosen, Some(1));
    }
}
