//! Labelled clips, duplicate detection, window sets with per-window weights, feature
//! standardisation, and a synthetic side-view walker for tests.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::VideoError;
use super::preprocess::{PreprocessConfig, clip_windows};
use crate::formats::openpose::{Body25, KeypointSequence, TrackChoice, TrackReason};

/// Label names of the binary pathological-gait task, by label index.
pub const BINARY_LABELS: [&str; 2] = ["normal", "pathological"];

/// A clip with its binary label and duplicate group.
#[derive(Debug, Clone)]
pub struct LabelledClip {
    /// Clip name (folder name).
    pub clip: String,
    /// 0 = normal (`vid*`), 1 = pathological (`gait*`).
    pub label: usize,
    /// Clips with byte-identical keypoints share a group (cross-validation keeps them together).
    pub group: usize,
    /// The walker's keypoints per frame.
    pub frames: Vec<Option<Body25>>,
}

/// Label from the clip name: `gait*` → 1 (pathological), `vid*` → 0 (normal).
pub fn label_from_clip_name(clip: &str) -> Option<usize> {
    let lower = clip.to_ascii_lowercase();
    if lower.starts_with("gait") {
        Some(1)
    } else if lower.starts_with("vid") {
        Some(0)
    } else {
        None
    }
}

/// Assigns duplicate groups: clips with identical keypoint frames share the first one's index.
pub fn duplicate_groups(frames: &[&[Option<Body25>]]) -> Vec<usize> {
    let mut groups: Vec<usize> = Vec::with_capacity(frames.len());
    for (i, f) in frames.iter().enumerate() {
        let g = (0..i).find(|&j| frames[j] == *f).map_or(i, |j| groups[j]);
        groups.push(g);
    }
    // renumber 0..G in order of appearance
    let mut map: Vec<usize> = Vec::new();
    groups
        .iter()
        .map(|g| match map.iter().position(|m| m == g) {
            Some(p) => p,
            None => {
                map.push(*g);
                map.len() - 1
            }
        })
        .collect()
}

/// Byte-identical clips: `(duplicate, first clip with the same keypoints)` for every clip whose
/// tracked keypoints equal an earlier clip's (e.g. `vid15` is a copy of `vid14` in the shared set).
pub fn duplicate_pairs(clips: &[LabelledClip]) -> Vec<(String, String)> {
    clips
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            clips[..i]
                .iter()
                .find(|o| o.group == c.group)
                .map(|o| (c.clip.clone(), o.clip.clone()))
        })
        .collect()
}

/// Keeps the first clip of every duplicate group and returns the dropped `(duplicate, original)`
/// pairs. Cross-validation on the shared set uses this: a copy of a clip is no new evidence, and
/// counting it twice would both weight it double in training and score it twice in the metrics.
pub fn drop_duplicates(clips: Vec<LabelledClip>) -> (Vec<LabelledClip>, Vec<(String, String)>) {
    let dropped = duplicate_pairs(&clips);
    let mut seen = Vec::new();
    let kept = clips
        .into_iter()
        .filter(|c| {
            if seen.contains(&c.group) {
                false
            } else {
                seen.push(c.group);
                true
            }
        })
        .collect();
    (kept, dropped)
}

/// Reads OpenPose zips or folders and labels every clip from its name; fails naming the clip
/// without a label.
pub fn load_labelled_clips(paths: &[&Path]) -> Result<Vec<LabelledClip>, VideoError> {
    let mut seqs = Vec::new();
    for p in paths {
        seqs.extend(crate::formats::openpose::read_openpose_path(p)?);
    }
    labelled_from_sequences(seqs)
}

/// Labels already-read sequences (see [`load_labelled_clips`]).
pub fn labelled_from_sequences(
    seqs: Vec<KeypointSequence>,
) -> Result<Vec<LabelledClip>, VideoError> {
    let frames: Vec<&[Option<Body25>]> = seqs.iter().map(|s| s.frames.as_slice()).collect();
    let groups = duplicate_groups(&frames);
    seqs.into_iter()
        .zip(groups)
        .map(|(s, group)| {
            let label = label_from_clip_name(&s.clip).ok_or_else(|| VideoError::NoLabel {
                clip: s.clip.clone(),
            })?;
            Ok(LabelledClip {
                clip: s.clip,
                label,
                group,
                frames: s.frames,
            })
        })
        .collect()
}

/// One row of a labels CSV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelRow {
    /// Clip id (the clip folder's name).
    pub clip: String,
    /// The label: a number (regression, e.g. GDI) or a class name / index.
    pub value: String,
    /// 1-based line in the file.
    pub line: usize,
}

/// Reads a labels CSV: `clip,value` per line (comma, semicolon or tab separated; surrounding
/// quotes and spaces trimmed; blank lines and lines starting with `#` skipped; a first line whose
/// first field is `clip`, `clip_id`, `id` or `name` is a header). Errors name the file and line:
/// unreadable file, a line with fewer than two fields, an empty clip id, a clip listed twice, no
/// rows at all.
pub fn read_labels_csv(path: &Path) -> Result<Vec<LabelRow>, VideoError> {
    let text = std::fs::read_to_string(path).map_err(|source| VideoError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let err = |line: Option<usize>, reason: String| VideoError::Labels {
        path: path.to_path_buf(),
        line,
        reason,
    };
    let mut rows: Vec<LabelRow> = Vec::new();
    let mut first = true;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let l = raw.trim().trim_start_matches('\u{feff}');
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = l
            .split([',', ';', '\t'])
            .map(|f| f.trim().trim_matches('"').trim())
            .collect();
        let is_first = std::mem::replace(&mut first, false);
        if is_first
            && ["clip", "clip_id", "id", "name"].contains(&fields[0].to_ascii_lowercase().as_str())
        {
            continue;
        }
        if fields.len() < 2 || fields[1].is_empty() {
            return Err(err(
                Some(line),
                format!("expected `clip,value`, found `{l}`"),
            ));
        }
        if fields[0].is_empty() {
            return Err(err(Some(line), "empty clip id".into()));
        }
        if let Some(prev) = rows.iter().find(|r| r.clip == fields[0]) {
            return Err(err(
                Some(line),
                format!(
                    "clip {} is labelled twice (also line {})",
                    fields[0], prev.line
                ),
            ));
        }
        rows.push(LabelRow {
            clip: fields[0].to_string(),
            value: fields[1].to_string(),
            line,
        });
    }
    if rows.is_empty() {
        return Err(err(None, "no `clip,value` rows".into()));
    }
    Ok(rows)
}

/// Labels of clips taken from a labels CSV, in the order of the clips.
#[derive(Debug, Clone, PartialEq)]
pub enum ClipLabels {
    /// Regression targets.
    Values(Vec<f32>),
    /// Class index per clip and the class names by index (numeric names in numeric order, others
    /// in natural order).
    Classes {
        /// Class index per clip.
        index: Vec<usize>,
        /// Class names by index.
        names: Vec<String>,
    },
}

/// Matches CSV rows to clips: every clip needs a row and every row must name a clip (either
/// mismatch is an error naming the CSV and the clip). `numeric` parses values as finite numbers
/// (regression); otherwise values are class names and at least two classes must occur.
pub fn labels_for_clips(
    rows: &[LabelRow],
    clips: &[&str],
    path: &Path,
    numeric: bool,
) -> Result<ClipLabels, VideoError> {
    let err = |line: Option<usize>, reason: String| VideoError::Labels {
        path: path.to_path_buf(),
        line,
        reason,
    };
    if let Some(r) = rows.iter().find(|r| !clips.contains(&r.clip.as_str())) {
        let mut known = clips.iter().take(8).copied().collect::<Vec<_>>().join(", ");
        if clips.len() > 8 {
            known += ", …";
        }
        return Err(err(
            Some(r.line),
            format!("unknown clip `{}` (clips read: {known})", r.clip),
        ));
    }
    let mut per_clip = Vec::with_capacity(clips.len());
    for c in clips {
        let r = rows
            .iter()
            .find(|r| r.clip == *c)
            .ok_or_else(|| err(None, format!("no label for clip `{c}`")))?;
        per_clip.push(r);
    }
    if numeric {
        let v = per_clip
            .iter()
            .map(|r| match r.value.parse::<f32>() {
                Ok(x) if x.is_finite() => Ok(x),
                _ => Err(err(
                    Some(r.line),
                    format!(
                        "value `{}` of clip {} is not a finite number",
                        r.value, r.clip
                    ),
                )),
            })
            .collect::<Result<Vec<f32>, _>>()?;
        return Ok(ClipLabels::Values(v));
    }
    let mut names: Vec<String> = per_clip.iter().map(|r| r.value.clone()).collect();
    names.sort_by(|a, b| match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.total_cmp(&y),
        _ => a.cmp(b),
    });
    names.dedup();
    if names.len() < 2 {
        return Err(err(
            None,
            format!(
                "only one class ({}) among the clips; classification needs two or more",
                names.first().cloned().unwrap_or_default()
            ),
        ));
    }
    let index = per_clip
        .iter()
        .map(|r| names.iter().position(|n| *n == r.value).unwrap_or(0))
        .collect();
    Ok(ClipLabels::Classes { index, names })
}

/// Windows of many clips, ready for training: `x` is `n × window_frames × features`.
#[derive(Debug, Clone, Default)]
pub struct WindowSet {
    /// Frames per window.
    pub window_frames: usize,
    /// Features per frame.
    pub features: usize,
    /// Inputs, row-major.
    pub x: Vec<f32>,
    /// Target per window (class index as f32, or the regression value).
    pub targets: Vec<f32>,
    /// Index of the source clip (into the list given to [`build_windows`]) per window.
    pub clip_of: Vec<usize>,
    /// Frames of edge padding per window.
    pub padded: Vec<usize>,
}

impl WindowSet {
    /// Number of windows.
    pub fn len(&self) -> usize {
        self.targets.len()
    }
    /// True when there is no window.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }
    /// Values per window.
    pub fn window_size(&self) -> usize {
        self.window_frames * self.features
    }
    /// Window `i`.
    pub fn window(&self, i: usize) -> &[f32] {
        let s = self.window_size();
        &self.x[i * s..(i + 1) * s]
    }
    /// The subset of windows `idx`, in that order.
    pub fn subset(&self, idx: &[usize]) -> WindowSet {
        let mut out = WindowSet {
            window_frames: self.window_frames,
            features: self.features,
            ..Default::default()
        };
        for &i in idx {
            out.x.extend_from_slice(self.window(i));
            out.targets.push(self.targets[i]);
            out.clip_of.push(self.clip_of[i]);
            out.padded.push(self.padded[i]);
        }
        out
    }
}

/// Preprocesses and windows every `(name, frames, target)`; clips without a usable window are
/// skipped and returned by name with the reason (so a caller can report them).
pub fn build_windows(
    clips: &[(&str, &[Option<Body25>], f32)],
    cfg: &PreprocessConfig,
) -> Result<(WindowSet, Vec<(String, String)>), VideoError> {
    cfg.validate()?;
    let mut set = WindowSet {
        window_frames: cfg.window_frames,
        features: cfg.num_features(),
        ..Default::default()
    };
    let mut skipped = Vec::new();
    for (ci, (name, frames, target)) in clips.iter().enumerate() {
        match clip_windows(name, frames, cfg) {
            Ok((_, ws)) => {
                for w in ws {
                    set.x.extend_from_slice(&w.data);
                    set.targets.push(*target);
                    set.clip_of.push(ci);
                    set.padded.push(w.padded_frames);
                }
            }
            Err(VideoError::NoWindows { reason, .. }) => skipped.push((name.to_string(), reason)),
            Err(e) => return Err(e),
        }
    }
    Ok((set, skipped))
}

/// Per-feature mean and standard deviation of training windows (applied to all inputs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureStats {
    /// Mean per feature.
    pub mean: Vec<f32>,
    /// Standard deviation per feature (≥ 1e-6).
    pub std: Vec<f32>,
}

impl FeatureStats {
    /// Statistics over every frame of every window.
    pub fn fit(set: &WindowSet) -> Self {
        let f = set.features;
        let mut sum = vec![0.0f64; f];
        let mut sq = vec![0.0f64; f];
        let rows = set.x.len() / f.max(1);
        for r in set.x.chunks(f) {
            for (j, &v) in r.iter().enumerate() {
                sum[j] += v as f64;
                sq[j] += (v as f64) * (v as f64);
            }
        }
        let n = rows.max(1) as f64;
        let mean: Vec<f32> = sum.iter().map(|s| (s / n) as f32).collect();
        let std = sq
            .iter()
            .zip(&sum)
            .map(|(q, s)| ((q / n - (s / n).powi(2)).max(0.0).sqrt() as f32).max(1e-6))
            .collect();
        Self { mean, std }
    }

    /// Standardises `x` (rows of `features` values) in place.
    pub fn apply(&self, x: &mut [f32]) {
        let f = self.mean.len();
        for r in x.chunks_mut(f) {
            for (j, v) in r.iter_mut().enumerate() {
                *v = (*v - self.mean[j]) / self.std[j];
            }
        }
    }
}

/// A synthetic side-view walker (pixels, image `y` down) walking towards `+x`: thigh 120 px,
/// shank 110 px, trunk 150 px; hip flexion ±25°, knee flexion from 5° to `5 + knee_range_deg`,
/// `stride_hz` strides per second, Gaussian pixel noise `noise_px`. Tests and examples use it
/// where a known gait parameter must be recoverable.
pub fn synthetic_walker(
    clip: &str,
    frames: usize,
    fps: f32,
    knee_range_deg: f32,
    stride_hz: f32,
    noise_px: f32,
    seed: u64,
) -> KeypointSequence {
    use super::preprocess::kp::*;
    use std::f32::consts::TAU;
    let mut rng = crate::rng::SplitMix64::stream(seed, 0x5EED, 0x0A1C);
    let phase0 = rng.uniform() as f32 * TAU;
    let speed_px_s = 200.0 * stride_hz;
    let mut out = Vec::with_capacity(frames);
    for t in 0..frames {
        let time = t as f32 / fps;
        let mut p: Body25 = [[0.0, 0.0, 0.0]; 25];
        let ph = phase0 + TAU * stride_hz * time;
        let pelvis = [300.0 + speed_px_s * time, 400.0 + 4.0 * (2.0 * ph).cos()];
        let set = |p: &mut Body25, k: usize, x: f32, y: f32| p[k] = [x, y, 0.9];
        set(&mut p, MID_HIP, pelvis[0], pelvis[1]);
        set(&mut p, NECK, pelvis[0] + 8.0, pelvis[1] - 150.0);
        set(&mut p, 0, pelvis[0] + 20.0, pelvis[1] - 190.0); // nose
        for (side, off) in [(0usize, 0.0f32), (1, std::f32::consts::PI)] {
            let a = ph + off;
            let hip_flex = 25f32.to_radians() * a.sin();
            let knee_flex = (5.0 + knee_range_deg * (0.5 - 0.5 * (a + 1.2).cos())).to_radians();
            let (hip_k, knee_k, ankle_k, heel_k, toe_k) = if side == 0 {
                (R_HIP, R_KNEE, R_ANKLE, R_HEEL, R_BIG_TOE)
            } else {
                (L_HIP, L_KNEE, L_ANKLE, L_HEEL, L_BIG_TOE)
            };
            let hip = [pelvis[0] + if side == 0 { 3.0 } else { -3.0 }, pelvis[1]];
            let knee = [
                hip[0] + 120.0 * hip_flex.sin(),
                hip[1] + 120.0 * hip_flex.cos(),
            ];
            let shank = hip_flex - knee_flex;
            let ankle = [knee[0] + 110.0 * shank.sin(), knee[1] + 110.0 * shank.cos()];
            set(&mut p, hip_k, hip[0], hip[1]);
            set(&mut p, knee_k, knee[0], knee[1]);
            set(&mut p, ankle_k, ankle[0], ankle[1]);
            set(&mut p, heel_k, ankle[0] - 12.0, ankle[1] + 8.0);
            set(&mut p, toe_k, ankle[0] + 40.0, ankle[1] + 6.0);
            set(
                &mut p,
                if side == 0 { 23 } else { 20 },
                ankle[0] + 35.0,
                ankle[1] + 6.0,
            );
        }
        for kpt in p.iter_mut() {
            if kpt[2] > 0.0 {
                kpt[0] += noise_px * rng.normal() as f32;
                kpt[1] += noise_px * rng.normal() as f32;
            }
        }
        out.push(Some(p));
    }
    KeypointSequence {
        clip: clip.to_string(),
        source_frame_numbers: (0..frames as u64).collect(),
        choices: (0..frames)
            .map(|f| TrackChoice {
                frame: f,
                source_frame: f as u64,
                people: 1,
                chosen: Some(0),
                score: 1.0,
                reason: TrackReason::Seed,
            })
            .collect(),
        frames: out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_from_names() {
        assert_eq!(label_from_clip_name("gait3"), Some(1));
        assert_eq!(label_from_clip_name("vid"), Some(0));
        assert_eq!(label_from_clip_name("vid12"), Some(0));
        assert_eq!(label_from_clip_name("walk1"), None);
        let s = synthetic_walker("walk1", 10, 30.0, 50.0, 1.0, 0.0, 1);
        assert!(matches!(
            labelled_from_sequences(vec![s]),
            Err(VideoError::NoLabel { clip }) if clip == "walk1"
        ));
    }

    #[test]
    fn identical_clips_share_a_group() {
        let a = synthetic_walker("vid1", 20, 30.0, 50.0, 1.0, 1.0, 1);
        let b = synthetic_walker("vid2", 20, 30.0, 50.0, 1.0, 1.0, 2);
        let mut c = a.clone();
        c.clip = "vid3".into();
        let l = labelled_from_sequences(vec![a, b, c]).unwrap();
        let g: Vec<usize> = l.iter().map(|c| c.group).collect();
        assert_eq!(g, vec![0, 1, 0]);
        assert_eq!(duplicate_pairs(&l), vec![("vid3".into(), "vid1".into())]);
        let (kept, dropped) = drop_duplicates(l);
        let names: Vec<&str> = kept.iter().map(|c| c.clip.as_str()).collect();
        assert_eq!((names, dropped.len()), (vec!["vid1", "vid2"], 1));
    }

    #[test]
    fn labels_csv_rows_and_matching() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("labels.csv");
        std::fs::write(&p, "clip,gdi\n# comment\nvid1, 92.5\n\"vid2\";71\n").unwrap();
        let rows = read_labels_csv(&p).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (rows[1].clip.as_str(), rows[1].value.as_str()),
            ("vid2", "71")
        );
        assert_eq!(
            labels_for_clips(&rows, &["vid2", "vid1"], &p, true).unwrap(),
            ClipLabels::Values(vec![71.0, 92.5])
        );
        match labels_for_clips(&rows, &["vid1", "vid2"], &p, false).unwrap() {
            ClipLabels::Classes { index, names } => {
                assert_eq!(names, vec!["71", "92.5"]);
                assert_eq!(index, vec![1, 0]);
            }
            other => panic!("{other:?}"),
        }
        let e = labels_for_clips(&rows, &["vid1"], &p, true)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("labels.csv:4") && e.contains("unknown clip `vid2`"),
            "{e}"
        );
        let e = labels_for_clips(&rows, &["vid1", "vid2", "vid3"], &p, true)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no label for clip `vid3`"), "{e}");
        std::fs::write(&p, "vid1,1\nvid1,2\n").unwrap();
        let e = read_labels_csv(&p).unwrap_err().to_string();
        assert!(e.contains("labels.csv:2") && e.contains("twice"), "{e}");
        std::fs::write(&p, "vid1,abc\n").unwrap();
        let rows = read_labels_csv(&p).unwrap();
        let e = labels_for_clips(&rows, &["vid1"], &p, true)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a finite number"), "{e}");
    }

    #[test]
    fn standardisation_gives_zero_mean_unit_std() {
        let mut set = WindowSet {
            window_frames: 2,
            features: 2,
            x: vec![1.0, 10.0, 3.0, 30.0, 5.0, 50.0, 7.0, 70.0],
            targets: vec![0.0, 1.0],
            clip_of: vec![0, 1],
            padded: vec![0, 0],
        };
        let st = FeatureStats::fit(&set);
        assert!((st.mean[0] - 4.0).abs() < 1e-6 && (st.mean[1] - 40.0).abs() < 1e-5);
        st.apply(&mut set.x);
        let m: f32 = set.x.iter().step_by(2).sum::<f32>() / 4.0;
        let v: f32 = set.x.iter().step_by(2).map(|x| x * x).sum::<f32>() / 4.0;
        assert!(m.abs() < 1e-6 && (v - 1.0).abs() < 1e-5);
        assert_eq!(set.subset(&[1]).x, set.x[4..8].to_vec());
    }
}
