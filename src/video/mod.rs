//! Video gait analysis (Kidziński et al. 2020, Nat Commun 11:4054): OpenPose BODY_25 keypoints of
//! single-camera walking clips → normalised joint trajectories → 124-frame windows at 25 fps →
//! a 1D CNN, an LSTM or a CNN-LSTM → a scalar (e.g. GDI) or class labels, averaged per clip.
//!
//! * [`preprocess`]: gap filling, resampling, smoothing, pelvis-centred body-size normalisation,
//!   walking-direction flip, features and windows.
//! * [`model`]: the three networks in burn, generic over the backend.
//! * [`data`]: labelled clips, duplicate detection, window sets, feature standardisation and a
//!   synthetic walker for tests.
//! * [`training`]: deterministic CPU training (Adam), checkpoint + JSON model card.
//! * [`inference`]: per-window and per-clip prediction with the spread across windows.
//! * [`eval`]: metrics, cross-validation by clip (leave-one-clip-out or stratified k-fold).
//! * [`relevance`]: gradient × input relevance of a window, per frame and keypoint.

pub mod data;
pub mod eval;
pub mod inference;
pub mod model;
pub mod preprocess;
pub mod relevance;
pub mod training;

pub use data::{
    LabelledClip, drop_duplicates, duplicate_pairs, label_from_clip_name, load_labelled_clips,
};
pub use eval::{
    BinaryMetrics, CvClip, CvReport, Folds, LooConfig, LooReport, cross_validate,
    leave_one_clip_out,
};
pub use inference::{ClipPrediction, predict_clip};
pub use model::{Task, VideoModelConfig};
pub use preprocess::{DisplayClip, PreprocessConfig, display_keypoints};
pub use relevance::{WindowRelevance, clip_relevance, window_relevance};
pub use training::{
    LoadedVideoModel, VideoEvent, VideoModelCard, VideoTrainConfig, load_model, save_model,
    train_model,
};

use std::path::PathBuf;

/// Errors of the video pipeline; each names the clip or file and what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum VideoError {
    /// An OpenPose file or archive could not be read.
    #[error(transparent)]
    OpenPose(#[from] crate::formats::openpose::OpenPoseError),
    /// A configuration value is out of range.
    #[error("invalid video configuration: {field}: {reason}")]
    Config {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A clip yields no usable window (too short or too few confident keypoints).
    #[error("clip {clip}: no usable {window_frames}-frame window ({reason})")]
    NoWindows {
        /// The clip.
        clip: String,
        /// Window length in frames.
        window_frames: usize,
        /// Why.
        reason: String,
    },
    /// A clip name carries no label (expected a `gait*` or `vid*` prefix).
    #[error("clip {clip}: cannot derive a label from the name (expected `gait*` or `vid*`)")]
    NoLabel {
        /// The clip.
        clip: String,
    },
    /// A labels CSV is malformed or does not match the clips.
    #[error("{path}{}: {reason}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Labels {
        /// The CSV file.
        path: PathBuf,
        /// 1-based line, when one line is at fault.
        line: Option<usize>,
        /// What is wrong.
        reason: String,
    },
    /// The training data are unusable (empty, one class only, wrong target count...).
    #[error("training data: {reason}")]
    Data {
        /// What is wrong.
        reason: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// A model card is not valid JSON of the expected shape.
    #[error("{path}: not a gaitlens video model card: {source}")]
    CardJson {
        /// The card file.
        path: PathBuf,
        /// Parser error.
        source: serde_json::Error,
    },
    /// A model card contradicts itself, the record, or this version of the code.
    #[error("{path}: model card mismatch: {field} is {found}, expected {expected}")]
    CardMismatch {
        /// The card file.
        path: PathBuf,
        /// The field.
        field: &'static str,
        /// Value found.
        found: String,
        /// Value required.
        expected: String,
    },
    /// The burn record could not be written or decoded.
    #[error("{path}: model weights: {reason}")]
    Record {
        /// The record file (empty when in memory).
        path: PathBuf,
        /// Recorder message.
        reason: String,
    },
    /// The loss became NaN or infinite.
    #[error("training diverged at epoch {epoch}: loss {loss}")]
    Diverged {
        /// Epoch (0-based).
        epoch: usize,
        /// The loss value.
        loss: f64,
    },
}

impl From<crate::checkpoint::WriteError> for VideoError {
    fn from(e: crate::checkpoint::WriteError) -> Self {
        match e {
            crate::checkpoint::WriteError::Io { path, source } => Self::Io { path, source },
            crate::checkpoint::WriteError::CardJson { path, source } => {
                Self::CardJson { path, source }
            }
        }
    }
}
