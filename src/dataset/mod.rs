//! The unified joint dataset of the gait classifiers (the original pipeline's
//! `data/jointdata.py`): per-trial posed joint sequences of healthy and sick subjects, windowed
//! with optional mirroring, aligned by [`align::align_movement_normalized`], split into
//! subject-disjoint folds.
//!
//! Folder layout (the fitter's cohort output): `DIR/<class>/<subject>/<gait>/pose_*.json`, where
//! a class folder whose name contains `healthy` holds healthy subjects and every other class
//! folder sick ones (the original's rule).

pub mod align;
pub mod loader;
pub mod resample;
pub mod split;
pub mod windows;

use std::path::PathBuf;

use thiserror::Error;

pub use align::{
    ALIGNMENT_VERSION, AlignError, Alignment, Frame, HEADING_ALIGNMENT_VERSION,
    HEADING_SYMMETRY_ALIGNMENT_VERSION, ISOTROPIC_ALIGNMENT_VERSION, NUM_JOINTS, align_heading,
    align_movement_isotropic, align_movement_normalized, left_right_differences,
};
pub use loader::{
    cohort_pathology_sides, cohort_rate_hz, load_joint_dataset, load_window_dataset, posed_joints,
    sequence_from_poses,
};
pub use resample::FrameMap;
pub use split::{Fold, data_list_hash, fnv1a64, k_fold_by_subject, nested_fold, pos_weight};
pub use windows::{
    MIRRORED_JOINT_ORDER, ORIGINAL_MIRRORED_JOINT_ORDER, SubjectKey, Window, WindowConfig,
    WindowDataset, mirror_frame,
};

/// One walking trial as posed joint positions (metres, the body model's world frame).
#[derive(Debug, Clone, PartialEq)]
pub struct JointSequence {
    /// Subject folder name.
    pub subject: String,
    /// Gait (trial) folder name.
    pub gait: String,
    /// Class label: `true` for the sick class.
    pub sick: bool,
    /// Frame rate; `None` when the source does not store it (pose folders do not).
    pub rate_hz: Option<f64>,
    /// Posed positions of the first 22 joints per frame.
    pub joints: Vec<Frame>,
    /// Source files relative to the dataset folder (`healthy/S000/walk_00/pose_00000.json`),
    /// empty for in-memory sequences; used for the training-data hash of model cards.
    pub files: Vec<String>,
    /// Which sides the walk's pathology affects, where the cohort records it (a `gaitlens synth`
    /// cohort's `ground_truth.json`); `None` when unknown (a cohort of labelled real walks).
    pub sides: Option<PathologySides>,
    /// Per frame, whether the legs were measured (a `gaitlens fit` folder's report: every
    /// pelvis and leg marker seen, not interpolated); `None` when unknown. Verdicts on windows
    /// holding unmeasured frames are on the fitter's guess ([`crate::inference::TrackPoint`]).
    pub legs_measured: Option<Vec<bool>>,
}

/// Which sides of the body a sequence's pathology affects: networks with one detector per kind
/// of pathology ([`crate::nn::asymmetry`]) train each detector on its own kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathologySides {
    /// No pathology: a healthy walk.
    Neither,
    /// One side (stiff knee, foot drop, circumduction, …): left/right asymmetry shows it.
    One,
    /// Both sides alike (crouch): no asymmetry shows it, posture does.
    Both,
}

impl PathologySides {
    /// From a ground truth's class and whether its pathology is bilateral (`None`: its side is
    /// unknown, and so are a sick walk's sides).
    pub fn from_truth(sick: bool, bilateral: Option<bool>) -> Option<Self> {
        match (sick, bilateral) {
            (false, _) => Some(Self::Neither),
            (true, Some(false)) => Some(Self::One),
            (true, Some(true)) => Some(Self::Both),
            (true, None) => None,
        }
    }
}

impl JointSequence {
    /// Class folder name of this sequence (`healthy` or `sick`).
    pub fn class_name(&self) -> &'static str {
        if self.sick { "sick" } else { "healthy" }
    }
}

/// Errors while loading or windowing the joint dataset; each names the file or item concerned.
#[derive(Debug, Error)]
pub enum DatasetError {
    /// A folder could not be listed.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The folder.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A pose folder could not be read (the inner error names the file).
    #[error(transparent)]
    PoseSeq(#[from] crate::formats::pose_seq::PoseSeqError),
    /// A pose does not fit the body model.
    #[error("{path}: frame {frame}: {reason}")]
    Pose {
        /// The pose folder.
        path: PathBuf,
        /// Frame index in the folder.
        frame: usize,
        /// What is wrong.
        reason: String,
    },
    /// The body model has fewer than 22 joints.
    #[error("body model '{model}' has {found} joints, the dataset needs at least {NUM_JOINTS}")]
    TooFewJoints {
        /// Model name.
        model: String,
        /// Its joint count.
        found: usize,
    },
    /// The dataset folder holds no class folder with subjects.
    #[error("{path}: no class folders (healthy/, sick/) with subject/gait/pose_*.json inside")]
    NoData {
        /// The dataset folder.
        path: PathBuf,
    },
    /// Windowing or split parameters are invalid.
    #[error("invalid dataset configuration: {reason}")]
    Config {
        /// What is wrong.
        reason: String,
    },
    /// A window index is outside the dataset.
    #[error("window index {index} out of range (dataset has {len} windows)")]
    WindowIndex {
        /// The index asked for.
        index: usize,
        /// Number of windows.
        len: usize,
    },
    /// A window cannot be aligned.
    #[error("{class}/{subject}/{gait}: window at frame {start} (mirrored: {mirrored}): {source}")]
    Align {
        /// Class folder.
        class: &'static str,
        /// Subject.
        subject: String,
        /// Gait.
        gait: String,
        /// First frame of the window.
        start: usize,
        /// Whether the window is the mirrored copy.
        mirrored: bool,
        /// The alignment failure.
        source: AlignError,
    },
}
