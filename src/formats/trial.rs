//! The marker trial every motion-capture reader (C3D, TRC) produces.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One gait event (foot strike / foot off) on one side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GaitEvent {
    /// Event label, e.g. `Foot Strike`, `Foot Off`, `General`.
    pub label: String,
    /// Side context, e.g. `Left`, `Right`, `General`.
    pub context: String,
    /// Event time in seconds from the start of the recording (as stored in the file).
    pub time_s: f64,
    /// Frame index into `markers_m` (0-based, relative to `first_frame`), rounded; may lie outside.
    pub frame: i64,
}

/// A model output stored as a point series (e.g. Vicon's `LKneeAngles` in degrees).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelOutput {
    /// Label without subject prefix.
    pub label: String,
    /// Unit as given by the file's POINT group for this kind (`deg`, `mm`, `N`, ...), if known.
    pub unit: Option<String>,
    /// Per frame value (`None` where the file marks it invalid). Not converted: angles stay degrees.
    pub values: Vec<Option<[f64; 3]>>,
}

/// Marker trajectories of one trial, in metres, with gaps as `None`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MarkerTrial {
    /// Subject name (from a label prefix such as `A22:`), if any.
    pub subject: Option<String>,
    /// Point rate in Hz.
    pub rate_hz: f64,
    /// Number of the first frame as stored in the file (C3D frames are 1-based).
    pub first_frame: i64,
    /// Marker labels without subject prefix, one per column of `markers_m`.
    pub marker_labels: Vec<String>,
    /// `frames × markers` positions in metres, `None` for gaps.
    pub markers_m: Vec<Vec<Option<[f64; 3]>>>,
    /// Model outputs (angles, forces, moments, powers, ...) kept apart from markers.
    pub model_outputs: Vec<ModelOutput>,
    /// Gait events sorted by time.
    pub events: Vec<GaitEvent>,
    /// Subject parameters (Bodymass, Height, LegLength, ...) by name; numeric values only.
    pub subject_params: BTreeMap<String, f64>,
    /// What the reader repaired or dropped (frames the header announces but the file does not
    /// store, ...): carried into the fit's and the report's warnings, so that a truncated file
    /// never reads as complete.
    #[serde(default)]
    pub reader_notes: Vec<String>,
}

impl MarkerTrial {
    /// Number of frames.
    pub fn num_frames(&self) -> usize {
        self.markers_m.len()
    }

    /// Column of a marker label, matching case-insensitively and ignoring any `prefix:`; a
    /// Plug-in Gait name the trial lacks is looked up under other labs' names for the same
    /// landmark (`R.ASIS`, `L_Knee`, `V.Sacral`: see [`SIDED_MARKER_ALIASES`] and
    /// [`UNSIDED_MARKER_ALIASES`]).
    pub fn marker_index(&self, label: &str) -> Option<usize> {
        let want = strip_prefix(label);
        let column = |name: &str| {
            self.marker_labels
                .iter()
                .position(|l| strip_prefix(l).eq_ignore_ascii_case(name))
        };
        column(want).or_else(|| marker_aliases(want).iter().find_map(|a| column(a)))
    }

    /// Fraction of frames (0–1) in which each marker is missing.
    pub fn gap_fraction(&self) -> Vec<f64> {
        let n = self.num_frames().max(1) as f64;
        (0..self.marker_labels.len())
            .map(|m| {
                self.markers_m
                    .iter()
                    .filter(|f| f.get(m).is_none_or(|p| p.is_none()))
                    .count() as f64
                    / n
            })
            .collect()
    }

    /// Model output by label (case-insensitive).
    pub fn model_output(&self, label: &str) -> Option<&ModelOutput> {
        self.model_outputs
            .iter()
            .find(|o| o.label.eq_ignore_ascii_case(label))
    }
}

/// Other labs' names for sided Plug-in Gait landmarks: the PiG name without its side letter,
/// and the names OpenSim's example sets (Gait2354, Rajagopal 2016) and Helen Hayes / Motion
/// Analysis / Cortex sets give the *same* landmark, most specific first. Tried as side letter +
/// `.` or `_` + alias (`R.ASIS`, `L_Knee`); never bare (`RKnee` is a video keypoint, a joint
/// centre, not the lateral epicondyle). Markers not listed (wands and clusters such as THI and
/// TIB, head, upper arm, forearm) have no common equivalent. OpenSim's `Toe.Tip` is left out:
/// it lies past the second metatarsal head that TOE marks.
pub const SIDED_MARKER_ALIASES: &[(&str, &[&str])] = &[
    ("ASI", &["ASIS"]),
    ("PSI", &["PSIS"]),
    ("KNE", &["Knee.Lat", "Knee_Lat", "LatKnee", "Knee"]),
    (
        "ANK",
        &["Ankle.Lat", "Ankle_Lat", "LatAnkle", "Malleolus", "Ankle"],
    ),
    ("HEE", &["Heel"]),
    ("TOE", &["MT2", "Toe"]),
    ("SHO", &["Acromion", "Acromium", "Shoulder"]),
    ("ELB", &["Elbow.Lat", "Elbow_Lat", "Elbow"]),
    ("WRA", &["Wrist.Lat", "Wrist_Lat", "Radius", "RadStyl"]),
    ("WRB", &["Wrist.Med", "Wrist_Med", "Ulna", "UlnStyl"]),
    ("FIN", &["Finger"]),
];

/// Sided landmarks also written with the side letter glued on (`RASIS`, `LHEEL`, `RMT2`):
/// names no video keypoint set uses. Also the anatomical abbreviations of the CAST / IOR
/// protocol (`RIAS`, `RFLE`, `RFAL`, `RFCC`, `RFM2`: iliac spine, femoral lateral epicondyle,
/// fibular apex of the lateral malleolus, calcaneus, second metatarsal head) and of OpenSim's
/// FULLBODY_2009 walks (`RLFC` lateral femoral condyle, `RLMAL` lateral malleolus, `RCAL`).
const BARE_SIDED_ALIASES: &[(&str, &[&str])] = &[
    ("ASI", &["ASIS", "IAS"]),
    ("PSI", &["PSIS", "IPS"]),
    ("KNE", &["LFC", "FLE"]),
    ("ANK", &["LMAL", "FAL"]),
    ("HEE", &["Heel", "CAL", "FCC"]),
    ("TOE", &["MT2", "FM2"]),
];

/// Other names of the unsided Plug-in Gait landmarks (sacrum, jugular notch, xiphoid, C7).
pub const UNSIDED_MARKER_ALIASES: &[(&str, &[&str])] = &[
    ("SACR", &["V.Sacral", "Sacral", "Sacrum", "S2"]),
    ("CLAV", &["IJ", "Jugular"]),
    ("STRN", &["PX", "Xiphoid"]),
    ("C7", &["V.C7"]),
];

/// Alternative names of the Plug-in Gait marker `pig` (empty if it has none), in the order tried.
fn marker_aliases(pig: &str) -> Vec<String> {
    let upper = pig.to_ascii_uppercase();
    let listed = |table: &[(&str, &[&str])], key: &str| -> Vec<String> {
        table
            .iter()
            .filter(|(k, _)| *k == key)
            .flat_map(|(_, alts)| alts.iter().map(|a| a.to_string()))
            .collect()
    };
    let unsided = listed(UNSIDED_MARKER_ALIASES, &upper);
    if !unsided.is_empty() {
        return unsided;
    }
    let Some(side) = upper.get(..1).filter(|s| *s == "L" || *s == "R") else {
        return Vec::new();
    };
    let rest = &upper[1..];
    let mut out: Vec<String> = listed(SIDED_MARKER_ALIASES, rest)
        .iter()
        .flat_map(|a| [".", "_"].map(|sep| format!("{side}{sep}{a}")))
        .collect();
    out.extend(
        listed(BARE_SIDED_ALIASES, rest)
            .iter()
            .map(|a| format!("{side}{a}")),
    );
    out
}

/// The part of a label after the last `:` (C3D subject prefixes such as `A22:LASI`).
pub fn strip_prefix(label: &str) -> &str {
    label.rsplit(':').next().unwrap_or(label).trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trial(labels: &[&str]) -> MarkerTrial {
        MarkerTrial {
            marker_labels: labels.iter().map(|l| l.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn other_labs_names_find_plug_in_gait_markers() {
        // OpenSim's Rajagopal set, with a subject prefix and other case.
        let t = trial(&[
            "s1:R.ASIS",
            "L.asis",
            "S2",
            "R.Knee",
            "L_Ankle",
            "RHEEL",
            "RMT2",
            "PX",
        ]);
        assert_eq!(t.marker_index("RASI"), Some(0));
        assert_eq!(t.marker_index("LASI"), Some(1));
        assert_eq!(t.marker_index("SACR"), Some(2));
        assert_eq!(t.marker_index("RKNE"), Some(3));
        assert_eq!(t.marker_index("LANK"), Some(4));
        assert_eq!(t.marker_index("RHEE"), Some(5));
        assert_eq!(t.marker_index("RTOE"), Some(6));
        assert_eq!(t.marker_index("STRN"), Some(7));
        // No alias crosses sides or landmarks, and unknown names stay unknown.
        assert_eq!(t.marker_index("LKNE"), None);
        assert_eq!(t.marker_index("RTHI"), None);
        // Video keypoint names (joint centres) and toe tips are not Plug-in Gait skin markers.
        let video = trial(&["RKnee", "LAnkle", "RShoulder", "R.Toe.Tip"]);
        for pig in ["RKNE", "LANK", "RSHO", "RTOE"] {
            assert_eq!(video.marker_index(pig), None, "{pig}");
        }
        // The more specific name wins when a set has both (lateral and plain knee).
        let both_knees = trial(&["R.Knee", "R.Knee.Lat"]);
        assert_eq!(both_knees.marker_index("RKNE"), Some(1));
        // CAST / IOR and OpenSim FULLBODY_2009 abbreviations, side letter glued on; their medial
        // partners (RMFC, RMMAL, RFME) are not lateral landmarks and stay unknown.
        let cast = trial(&[
            "RIAS", "LIPS", "RFLE", "LLMAL", "RFAL", "LCAL", "RFM2", "LLFC",
        ]);
        for (pig, i) in [
            ("RASI", 0),
            ("LPSI", 1),
            ("RKNE", 2),
            ("LANK", 3),
            ("RANK", 4),
        ] {
            assert_eq!(cast.marker_index(pig), Some(i), "{pig}");
        }
        for (pig, i) in [("LHEE", 5), ("RTOE", 6), ("LKNE", 7)] {
            assert_eq!(cast.marker_index(pig), Some(i), "{pig}");
        }
        let medial = trial(&["RMFC", "RMMAL", "RFME"]);
        for pig in ["RKNE", "RANK"] {
            assert_eq!(medial.marker_index(pig), None, "{pig}");
        }
        // The Plug-in Gait name wins over an alias when both are present.
        let both = trial(&["R.Knee", "RKNE"]);
        assert_eq!(both.marker_index("RKNE"), Some(1));
    }
}
