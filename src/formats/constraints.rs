//! Constraint files of 3D Body Twin: marker placements (`C3DMarker`) and pose-angle bounds
//! (`Angle`) for the fitter; every other constraint type is listed as unsupported.
//!
//! Semantics follow the Unified Gait Analysis optimizer (`util.py`): a constraint is a marker set
//! when its `type` contains `C3DMarker` and an angle bound when it contains `Angle`. An angle
//! constraint's `joints` are indices into the flattened axis-angle pose vector (`3 × joint +
//! axis`), its bounds are in radians, and the loss is `2 · (excess)²` per component outside the
//! bounds ([`AngleConstraint::penalty`]). All `C3DMarker` groups are merged into one
//! [`MarkerSet`] (the optimizer sums the loss of every such group).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::ordered_json::{self as oj, Json, ShapeError, SyntaxError};
use crate::body::{MarkerPlacement, MarkerSet};

/// Bounds on components of the axis-angle pose vector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AngleConstraint {
    /// Constraint name (key in the file), e.g. `UnconBodyLHand`.
    pub name: String,
    /// Indices into the flattened pose vector (`3 × joint + axis`), as the file's `joints`.
    pub joints: Vec<u32>,
    /// Lower bound per index, radians.
    pub lower_rad: Vec<f64>,
    /// Upper bound per index, radians.
    pub upper_rad: Vec<f64>,
}

impl AngleConstraint {
    /// The original optimizer's angle loss: `Σ 2 · (p − bound)²` over components outside their
    /// bounds. Indices beyond `pose.len()` are ignored.
    pub fn penalty(&self, pose: &[f64]) -> f64 {
        self.joints
            .iter()
            .zip(self.lower_rad.iter().zip(&self.upper_rad))
            .filter_map(|(&j, (&lo, &hi))| pose.get(j as usize).map(|&p| (p, lo, hi)))
            .map(|(p, lo, hi)| {
                if p > hi {
                    2.0 * (p - hi).powi(2)
                } else if p < lo {
                    2.0 * (p - lo).powi(2)
                } else {
                    0.0
                }
            })
            .sum()
    }
}

/// A constraint of a type the fitter does not use (Distance, Circumference, Volume, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnsupportedConstraint {
    /// Its `type` field, e.g. `Circumference`.
    pub kind: String,
    /// Its key in the file, e.g. `Waist`.
    pub name: String,
}

/// One `C3DMarker` group of the file (kept for provenance; merged into [`Constraints::markers`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarkerGroup {
    /// Constraint name (key in the file).
    pub name: String,
    /// Its placements in file order.
    pub markers: MarkerSet,
}

/// The parts of a constraint file the fitter uses, plus what it ignores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Constraints {
    /// All `C3DMarker` placements, groups in file order; on a repeated label the first wins.
    pub markers: MarkerSet,
    /// The `C3DMarker` groups as in the file.
    pub marker_groups: Vec<MarkerGroup>,
    /// Angle bounds in file order.
    pub angles: Vec<AngleConstraint>,
    /// Constraints of other types, reported, not used.
    pub unsupported: Vec<UnsupportedConstraint>,
}

/// Errors of the constraints reader; each names the file.
#[derive(Debug, Error)]
pub enum ConstraintsError {
    /// The file could not be read.
    #[error("cannot read constraints file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not valid JSON.
    #[error("{path}: invalid JSON at {source}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// Line, column and message.
        source: SyntaxError,
    },
    /// The JSON has the wrong shape or values out of range.
    #[error("{path}: {source}")]
    Shape {
        /// The file.
        path: PathBuf,
        /// JSON path, expectation and finding.
        source: ShapeError,
    },
}

/// Reads a constraints file.
pub fn read_constraints(path: &Path) -> Result<Constraints, ConstraintsError> {
    let bytes = std::fs::read(path).map_err(|source| ConstraintsError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_constraints(&bytes, path)
}

fn bad(path: String, expected: &str, found: String) -> ShapeError {
    ShapeError {
        path,
        expected: expected.to_string(),
        found,
    }
}

fn marker(name: &str, v: &Json, p: &str) -> Result<MarkerPlacement, ShapeError> {
    let face = oj::num(oj::field(v, p, "faceId")?, &oj::key_path(p, "faceId"))?;
    if !(face >= 0.0 && face.fract() == 0.0 && face <= u32::MAX as f64) {
        return Err(bad(
            oj::key_path(p, "faceId"),
            "a non-negative integer",
            face.to_string(),
        ));
    }
    let bp = oj::key_path(p, "baryCoords");
    let bary = oj::num_array(oj::field(v, p, "baryCoords")?, &bp)?;
    let bary: [f64; 3] = bary
        .as_slice()
        .try_into()
        .map_err(|_| bad(bp.clone(), "3 numbers", format!("{} numbers", bary.len())))?;
    // Coordinates of a point on (or just beside) its triangle; far outside is a corrupted file
    // (and would overflow the f32 the body model computes in).
    if bary.iter().any(|b| b.is_nan() || b.abs() > MAX_BARY) {
        return Err(bad(
            bp,
            "barycentric coordinates within ±10",
            format!("{bary:?}"),
        ));
    }
    let dp = oj::key_path(p, "distanceToSkin");
    let d = oj::num(oj::field(v, p, "distanceToSkin")?, &dp)?;
    if d.is_nan() || d.abs() > MAX_SKIN_DISTANCE_M {
        return Err(bad(
            dp,
            "a distance in metres within ±0.5 (markers sit millimetres to centimetres off the skin)",
            d.to_string(),
        ));
    }
    Ok(MarkerPlacement {
        name: name.to_string(),
        face_id: face as u32,
        bary: bary.map(|b| b as f32),
        distance_to_skin_m: d as f32,
        rigid_joint: None,
    })
}

/// Largest barycentric coordinate magnitude accepted.
const MAX_BARY: f64 = 10.0;
/// Largest marker distance from the skin accepted, metres.
const MAX_SKIN_DISTANCE_M: f64 = 0.5;

fn angle(name: &str, v: &Json, p: &str) -> Result<AngleConstraint, ShapeError> {
    let jp = oj::key_path(p, "joints");
    let joints = oj::num_array(oj::field(v, p, "joints")?, &jp)?
        .into_iter()
        .enumerate()
        .map(|(i, j)| {
            if j >= 0.0 && j.fract() == 0.0 && j <= u32::MAX as f64 {
                Ok(j as u32)
            } else {
                Err(bad(
                    format!("{jp}[{i}]"),
                    "a non-negative integer pose index",
                    j.to_string(),
                ))
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    let lower_rad = oj::num_array(oj::field(v, p, "lbounds")?, &oj::key_path(p, "lbounds"))?;
    let upper_rad = oj::num_array(oj::field(v, p, "upbounds")?, &oj::key_path(p, "upbounds"))?;
    for (k, len) in [("lbounds", lower_rad.len()), ("upbounds", upper_rad.len())] {
        if len != joints.len() {
            return Err(bad(
                oj::key_path(p, k),
                &format!("{} bounds (one per joint index)", joints.len()),
                format!("{len} values"),
            ));
        }
    }
    if let Some(i) = (0..joints.len())
        .find(|&i| lower_rad[i] > upper_rad[i] || lower_rad[i].is_nan() || upper_rad[i].is_nan())
    {
        return Err(bad(
            format!("{}[{i}]", oj::key_path(p, "lbounds")),
            "a lower bound not above the upper bound",
            format!("{} > {}", lower_rad[i], upper_rad[i]),
        ));
    }
    Ok(AngleConstraint {
        name: name.to_string(),
        joints,
        lower_rad,
        upper_rad,
    })
}

/// Parses constraint JSON; `path` labels errors and warnings.
pub fn parse_constraints(bytes: &[u8], path: &Path) -> Result<Constraints, ConstraintsError> {
    let json = oj::parse(bytes).map_err(|source| ConstraintsError::Syntax {
        path: path.to_path_buf(),
        source,
    })?;
    let shape = |source| ConstraintsError::Shape {
        path: path.to_path_buf(),
        source,
    };
    let mut out = Constraints {
        markers: MarkerSet::default(),
        marker_groups: Vec::new(),
        angles: Vec::new(),
        unsupported: Vec::new(),
    };
    for (name, v) in oj::object(&json, "$").map_err(shape)? {
        let p = oj::key_path("", name);
        let kind = oj::string(
            oj::field(v, &p, "type").map_err(shape)?,
            &oj::key_path(&p, "type"),
        )
        .map_err(shape)?;
        if kind.contains("C3DMarker") {
            let mp = oj::key_path(&p, "Markers");
            let mut group = MarkerSet::default();
            for (mname, mv) in
                oj::object(oj::field(v, &p, "Markers").map_err(shape)?, &mp).map_err(shape)?
            {
                let m = marker(mname, mv, &oj::key_path(&mp, mname)).map_err(shape)?;
                if out.markers.get(mname).is_some() {
                    tracing::warn!(path = %path.display(), group = %name, marker = %mname, "marker placed twice; keeping the first placement");
                } else {
                    out.markers.markers.push(m.clone());
                }
                group.markers.push(m);
            }
            out.marker_groups.push(MarkerGroup {
                name: name.clone(),
                markers: group,
            });
        } else if kind.contains("Angle") {
            out.angles.push(angle(name, v, &p).map_err(shape)?);
        } else {
            tracing::warn!(path = %path.display(), constraint = %name, kind, "constraint type not supported by the fitter; ignored");
            out.unsupported.push(UnsupportedConstraint {
                kind: kind.to_string(),
                name: name.clone(),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"{
        "M": {"type": "C3DMarker", "Markers": {
            "LKNE": {"baryCoords": [0.2, 0.3, 0.5], "distanceToSkin": 0.005, "faceId": 12, "id": 12}}},
        "Hand": {"type": "Angle", "joints": [6, 7], "lbounds": [0, -0.25], "upbounds": [0.5, 0.25]},
        "Waist": {"type": "Circumference", "dot": 0.1, "faces": [], "normal": [0,1,0], "target": 0.75, "weight": 1.0},
        "Extra": {"type": "C3DMarker", "Markers": {
            "lkne": {"baryCoords": [1, 0, 0], "distanceToSkin": 0, "faceId": 3},
            "I2": {"baryCoords": [0, 1, 0], "distanceToSkin": 0.0035, "faceId": 4}}}
    }"#;

    #[test]
    fn parses_markers_angles_and_lists_the_rest() {
        let c = parse_constraints(DOC.as_bytes(), Path::new("c.json")).unwrap();
        assert_eq!(
            c.markers.markers.len(),
            2,
            "duplicate LKNE/lkne keeps the first"
        );
        let k = c.markers.get("LKNE").unwrap();
        assert_eq!(
            (k.face_id, k.bary, k.distance_to_skin_m),
            (12, [0.2, 0.3, 0.5], 0.005)
        );
        assert_eq!(c.marker_groups.len(), 2);
        assert_eq!(c.marker_groups[1].markers.markers.len(), 2);
        assert_eq!(c.angles[0].joints, [6, 7]);
        assert_eq!(
            c.unsupported,
            [UnsupportedConstraint {
                kind: "Circumference".into(),
                name: "Waist".into()
            }]
        );
    }

    #[test]
    fn angle_penalty_matches_the_original_loss() {
        let c = parse_constraints(DOC.as_bytes(), Path::new("c.json")).unwrap();
        let mut pose = vec![0.0; 9];
        pose[6] = 0.7; // 0.2 above 0.5
        pose[7] = -0.5; // 0.25 below -0.25
        let want = 2.0 * 0.2f64.powi(2) + 2.0 * 0.25f64.powi(2);
        assert!((c.angles[0].penalty(&pose) - want).abs() < 1e-12);
        pose[6] = 0.3;
        pose[7] = 0.0;
        assert_eq!(c.angles[0].penalty(&pose), 0.0);
    }

    #[test]
    fn errors_name_the_json_path() {
        let bad = DOC.replace("\"faceId\": 12", "\"faceId\": -1");
        let e = parse_constraints(bad.as_bytes(), Path::new("c.json"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("c.json") && e.contains("M.Markers.LKNE.faceId"),
            "{e}"
        );
        let bad = DOC.replace("[0, -0.25]", "[0]");
        let e = parse_constraints(bad.as_bytes(), Path::new("c.json"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("Hand.lbounds") && e.contains("2 bounds"), "{e}");
        let bad = DOC.replace("\"type\": \"Circumference\",", "");
        let e = parse_constraints(bad.as_bytes(), Path::new("c.json"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("Waist.type"), "{e}");
    }
}
