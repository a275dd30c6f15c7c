//! Reader for gaitkit's landmark trials (`example_healthy.json` and friends): per-frame 3D
//! landmarks (hip, knee, ankle, heel, toe, shoulder on each side) with annotated heel strikes and
//! toe offs, as published with labelled healthy, stroke and Parkinson walks.
//!
//! Labs export these landmarks in two conventions that share the names: skin markers (greater
//! trochanter, lateral knee, lateral malleolus) or joint centres (hip, knee, ankle centres).
//! The file does not say which, so the reader decides from the hip landmarks' separation — a
//! trochanter pair is 0.3–0.4 m apart, a hip-joint-centre pair 0.14–0.25 m — and renames the
//! landmarks to the marker labels the fitter knows (`LGTR`/`LKNE`/`LANK` or
//! `LHJC`/`LKJC`/`LAJC`, with `LHEE`, `LTOE`, `LSHO` either way). Axis conventions differ
//! between files; the fitter's rigid start and the window alignment find the vertical
//! themselves, so the coordinates are kept as stored (converted to metres).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

use super::trial::{GaitEvent, MarkerTrial};

/// Hip landmarks further apart than this (median over frames) are greater trochanters; closer
/// ones are hip joint centres. Between the adult ranges (trochanters 0.30–0.40 m, hip joint
/// centres 0.14–0.25 m).
pub const TROCHANTER_MIN_SEPARATION_M: f64 = 0.27;

/// Errors of [`read_gaitkit`]; each names the file.
#[derive(Debug, Error)]
pub enum GaitkitError {
    /// The file could not be read.
    #[error("cannot read {path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        error: std::io::Error,
    },
    /// The file is not gaitkit landmark JSON.
    #[error("{path}: not a gaitkit landmark trial ({what})")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the JSON parser reported.
        what: String,
    },
    /// The content is readable but unusable.
    #[error("{path}: {what}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
}

/// Which anatomical points the landmarks are (decided per file by [`read_gaitkit`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LandmarkConvention {
    /// Greater trochanter, lateral knee and lateral malleolus skin markers.
    SkinMarkers,
    /// Hip, knee and ankle joint centres.
    JointCentres,
}

/// A gaitkit trial as a marker trial plus what the file says about the walker.
#[derive(Debug, Clone)]
pub struct GaitkitTrial {
    /// The landmarks under the fitter's marker labels, in metres, with the annotated events.
    pub trial: MarkerTrial,
    /// How the hip/knee/ankle landmarks were read.
    pub convention: LandmarkConvention,
    /// The population the file declares (`healthy`, `stroke`, `parkinsons`, …), if any.
    pub population: Option<String>,
    /// The file's source line (dataset and licence), if any.
    pub source: Option<String>,
}

#[derive(Deserialize)]
struct RawFile {
    fps: f64,
    angle_frames: Vec<RawFrame>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    population: Option<String>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    ground_truth: Option<RawTruth>,
}

#[derive(Deserialize)]
struct RawFrame {
    #[serde(default)]
    frame_index: Option<i64>,
    landmark_positions: BTreeMap<String, Vec<Option<f64>>>,
}

#[derive(Deserialize, Default)]
struct RawTruth {
    #[serde(default)]
    hs_frames: Option<BTreeMap<String, Vec<i64>>>,
    #[serde(default)]
    to_frames: Option<BTreeMap<String, Vec<i64>>>,
}

/// Every landmark's per-frame position by lower-case name (file units; `None` = gap).
type Landmarks = BTreeMap<String, Vec<Option<[f64; 3]>>>;

/// The landmark names of a side, in file order, with their labels in each convention.
const LANDMARKS: [(&str, &str, &str); 6] = [
    ("hip", "GTR", "HJC"),
    ("knee", "KNE", "KJC"),
    ("ankle", "ANK", "AJC"),
    ("heel", "HEE", "HEE"),
    ("toe", "TOE", "TOE"),
    ("shoulder", "SHO", "SHO"),
];

/// Reads a gaitkit landmark trial (`fps`, `angle_frames[].landmark_positions`, optional
/// `ground_truth.hs_frames` / `to_frames`). Landmarks stored as (0, 0, 0) or non-finite are gaps.
pub fn read_gaitkit(path: &Path) -> Result<GaitkitTrial, GaitkitError> {
    let text = std::fs::read_to_string(path).map_err(|error| GaitkitError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    let raw: RawFile = serde_json::from_str(&text).map_err(|e| GaitkitError::Parse {
        path: path.to_path_buf(),
        what: e.to_string(),
    })?;
    let invalid = |what: String| GaitkitError::Invalid {
        path: path.to_path_buf(),
        what,
    };
    if !(raw.fps.is_finite() && raw.fps > 0.0) {
        return Err(invalid(format!(
            "frame rate {} Hz is not positive",
            raw.fps
        )));
    }
    if raw.angle_frames.is_empty() {
        return Err(invalid("no frames".into()));
    }
    let points = read_points(&raw.angle_frames, path)?;
    let scale_to_m = unit_scale(&points).ok_or_else(|| {
        invalid("no frame holds both hips, knees and ankles: cannot tell the units".into())
    })?;
    let convention = match median_distance(&points, "left_hip", "right_hip") {
        Some(d) if d * scale_to_m > TROCHANTER_MIN_SEPARATION_M => LandmarkConvention::SkinMarkers,
        Some(_) => LandmarkConvention::JointCentres,
        None => return Err(invalid("no frame holds both hip landmarks".into())),
    };
    let mut trial = MarkerTrial {
        subject: raw.name.clone(),
        rate_hz: raw.fps,
        first_frame: raw.angle_frames[0].frame_index.unwrap_or(0),
        ..Default::default()
    };
    for (side, prefix) in [("left", "L"), ("right", "R")] {
        for (part, skin, centre) in LANDMARKS {
            let Some(series) = points.get(&format!("{side}_{part}")) else {
                continue;
            };
            let suffix = match convention {
                LandmarkConvention::SkinMarkers => skin,
                LandmarkConvention::JointCentres => centre,
            };
            trial.marker_labels.push(format!("{prefix}{suffix}"));
            for (f, p) in series.iter().enumerate() {
                if trial.markers_m.len() <= f {
                    trial.markers_m.push(Vec::new());
                }
                trial.markers_m[f].push(p.map(|p| p.map(|x| x * scale_to_m)));
            }
        }
    }
    trial.events = events(&raw, trial.first_frame);
    Ok(GaitkitTrial {
        trial,
        convention,
        population: raw.population,
        source: raw.source,
    })
}

/// Every landmark's per-frame position (file units), `None` where missing, zero or not finite.
fn read_points(frames: &[RawFrame], path: &Path) -> Result<Landmarks, GaitkitError> {
    let mut out = Landmarks::new();
    for (f, frame) in frames.iter().enumerate() {
        for (name, p) in &frame.landmark_positions {
            if p.len() != 3 {
                return Err(GaitkitError::Invalid {
                    path: path.to_path_buf(),
                    what: format!("frame {f}: landmark {name} has {} coordinates", p.len()),
                });
            }
            let xyz = [p[0], p[1], p[2]];
            let value = match xyz {
                [Some(x), Some(y), Some(z)]
                    if [x, y, z].iter().all(|v| v.is_finite())
                        && [x, y, z].iter().any(|v| *v != 0.0) =>
                {
                    Some([x, y, z])
                }
                _ => None,
            };
            out.entry(name.to_ascii_lowercase())
                .or_insert_with(|| vec![None; frames.len()])[f] = value;
        }
    }
    Ok(out)
}

/// Median distance between two landmarks over the frames holding both.
fn median_distance(points: &Landmarks, a: &str, b: &str) -> Option<f64> {
    let (pa, pb) = (points.get(a)?, points.get(b)?);
    let mut d: Vec<f64> = pa
        .iter()
        .zip(pb)
        .filter_map(|(p, q)| {
            let (p, q) = (p.as_ref()?, q.as_ref()?);
            Some(((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2) + (p[2] - q[2]).powi(2)).sqrt())
        })
        .collect();
    if d.is_empty() {
        return None;
    }
    d.sort_by(f64::total_cmp);
    Some(d[d.len() / 2])
}

/// Millimetres or metres, from the leg length (hip to knee to ankle; adults 0.6–1.1 m): a median
/// leg over 3 file units is millimetres. The file format states millimetres, but files written
/// by other tools in metres should not come out 1000 times too small.
fn unit_scale(points: &Landmarks) -> Option<f64> {
    let thigh = median_distance(points, "left_hip", "left_knee")?;
    let shank = median_distance(points, "left_knee", "left_ankle")?;
    Some(if thigh + shank > 3.0 { 1e-3 } else { 1.0 })
}

/// Annotated heel strikes and toe offs as `Foot Strike` / `Foot Off` events.
fn events(raw: &RawFile, first_frame: i64) -> Vec<GaitEvent> {
    let Some(truth) = &raw.ground_truth else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (label, map) in [
        ("Foot Strike", &truth.hs_frames),
        ("Foot Off", &truth.to_frames),
    ] {
        let Some(map) = map else { continue };
        for (side, frames) in map {
            let context = match side.to_ascii_lowercase().as_str() {
                "left" => "Left",
                "right" => "Right",
                _ => continue,
            };
            for &frame in frames {
                let index = frame - first_frame;
                out.push(GaitEvent {
                    label: label.to_string(),
                    context: context.to_string(),
                    time_s: frame as f64 / raw.fps,
                    frame: index,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A two-frame file with hips `hip_gap_mm` apart and legs 0.82 m long, coordinates
    /// multiplied by `unit` (1 for millimetres, 1e-3 for metres); the toes are (0, 0, 0).
    fn file(hip_gap_mm: f64, unit: f64) -> String {
        let side = |s: &str, x: f64| {
            let p = |x: f64, y: f64, z: f64| format!("[{}, {}, {}]", x * unit, y * unit, z * unit);
            format!(
                r#""{s}_hip": {}, "{s}_knee": {}, "{s}_ankle": {}, "{s}_heel": {}, "{s}_toe": [0, 0, 0]"#,
                p(x, 900.0, 0.0),
                p(x, 480.0, 0.0),
                p(x, 80.0, 0.0),
                p(x, 40.0, -60.0)
            )
        };
        let frame = |i: usize| {
            let (l, r) = (
                side("left", hip_gap_mm / 2.0),
                side("right", -hip_gap_mm / 2.0),
            );
            format!(r#"{{"frame_index": {i}, "landmark_positions": {{{l}, {r}}}}}"#)
        };
        format!(
            r#"{{"fps": 100.0, "population": "healthy", "angle_frames": [{}, {}],
               "ground_truth": {{"hs_frames": {{"left": [1], "right": [0]}}, "to_frames": {{"left": [], "right": []}}}}}}"#,
            frame(0),
            frame(1)
        )
    }

    fn read(text: &str) -> Result<GaitkitTrial, GaitkitError> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("walk.json");
        std::fs::write(&p, text).unwrap();
        read_gaitkit(&p)
    }

    #[test]
    fn hip_separation_decides_trochanters_or_joint_centres() {
        let wide = read(&file(360.0, 1.0)).unwrap();
        assert_eq!(wide.convention, LandmarkConvention::SkinMarkers);
        assert_eq!(
            wide.trial.marker_labels,
            [
                "LGTR", "LKNE", "LANK", "LHEE", "LTOE", "RGTR", "RKNE", "RANK", "RHEE", "RTOE"
            ]
        );
        let narrow = read(&file(180.0, 1.0)).unwrap();
        assert_eq!(narrow.convention, LandmarkConvention::JointCentres);
        assert_eq!(&narrow.trial.marker_labels[..3], ["LHJC", "LKJC", "LAJC"]);
        // Millimetres become metres; (0, 0, 0) is a gap.
        let hip = wide.trial.markers_m[0][0].unwrap();
        assert!(
            (hip[1] - 0.9).abs() < 1e-9 && (hip[0] - 0.18).abs() < 1e-9,
            "{hip:?}"
        );
        assert_eq!(wide.trial.markers_m[1][4], None);
        assert_eq!(wide.population.as_deref(), Some("healthy"));
        let strikes: Vec<(&str, i64)> = wide
            .trial
            .events
            .iter()
            .map(|e| (e.context.as_str(), e.frame))
            .collect();
        assert_eq!(strikes, [("Left", 1), ("Right", 0)]);
    }

    #[test]
    fn metre_files_are_not_shrunk() {
        let m = read(&file(360.0, 1e-3)).unwrap();
        let knee = m.trial.markers_m[0][1].unwrap();
        assert!((knee[1] - 0.48).abs() < 1e-9, "{knee:?}");
    }

    #[test]
    fn unusable_files_name_the_problem() {
        let e = read(r#"{"fps": 0, "angle_frames": []}"#).unwrap_err();
        assert!(e.to_string().contains("frame rate 0 Hz"), "{e}");
        let e = read(r#"{"frames": []}"#).unwrap_err();
        assert!(
            e.to_string().contains("not a gaitkit landmark trial"),
            "{e}"
        );
        let e =
            read(r#"{"fps": 100, "angle_frames": [{"landmark_positions": {"left_hip": [1, 2]}}]}"#)
                .unwrap_err();
        assert!(e.to_string().contains("left_hip has 2 coordinates"), "{e}");
    }
}
