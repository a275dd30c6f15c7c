//! Readers and writers for gait data files.
pub mod c3d;
pub mod cohort;
pub mod constraints;
pub mod openpose;
pub mod ordered_json;
pub mod pose_seq;
pub mod trc;
pub mod trial;

pub use trial::{GaitEvent, MarkerTrial, ModelOutput};

use std::path::Path;

/// Errors of [`read_marker_trial`].
#[derive(Debug, thiserror::Error)]
pub enum TrialError {
    /// A C3D file could not be read.
    #[error(transparent)]
    C3d(#[from] c3d::C3dError),
    /// A TRC file could not be read.
    #[error(transparent)]
    Trc(#[from] trc::TrcError),
    /// The extension is not one of the marker formats.
    #[error("{path}: unknown marker file type (expected .c3d or .trc)")]
    UnknownType {
        /// The file.
        path: std::path::PathBuf,
    },
}

/// Reads a marker trial from a `.c3d` or `.trc` file.
pub fn read_marker_trial(path: &Path) -> Result<MarkerTrial, TrialError> {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
    {
        Some(e) if e == "c3d" => Ok(c3d::read_c3d(path)?),
        Some(e) if e == "trc" => Ok(trc::read_trc(path)?),
        _ => Err(TrialError::UnknownType {
            path: path.to_path_buf(),
        }),
    }
}
