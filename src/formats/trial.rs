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
}

impl MarkerTrial {
    /// Number of frames.
    pub fn num_frames(&self) -> usize {
        self.markers_m.len()
    }

    /// Column of a marker label, matching case-insensitively and ignoring any `prefix:`.
    pub fn marker_index(&self, label: &str) -> Option<usize> {
        let want = strip_prefix(label);
        self.marker_labels
            .iter()
            .position(|l| strip_prefix(l).eq_ignore_ascii_case(want))
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

/// The part of a label after the last `:` (C3D subject prefixes such as `A22:LASI`).
pub fn strip_prefix(label: &str) -> &str {
    label.rsplit(':').next().unwrap_or(label).trim()
}
