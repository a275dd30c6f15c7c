//! Readers and writers for gait data files.
pub mod c3d;
pub mod cohort;
pub mod constraints;
pub mod gaitkit;
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
    /// A gaitkit landmark JSON could not be read.
    #[error(transparent)]
    Gaitkit(#[from] gaitkit::GaitkitError),
    /// The extension is not one of the marker formats.
    #[error("{path}: unknown marker file type (expected .c3d, .trc or gaitkit landmark .json)")]
    UnknownType {
        /// The file.
        path: std::path::PathBuf,
    },
}

/// Does the start of a `.json` file name gaitkit's `angle_frames` (the key follows a few short
/// header fields)? Reads at most 16 KiB.
fn looks_like_gaitkit(path: &Path) -> bool {
    use std::io::Read;
    let mut head = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(16 * 1024).read_to_end(&mut head))
        .is_ok_and(|_| {
            head.windows(b"\"angle_frames\"".len())
                .any(|w| w == b"\"angle_frames\"")
        })
}

/// Reads a marker trial from a `.c3d`, `.trc` or gaitkit landmark `.json` file.
pub fn read_marker_trial(path: &Path) -> Result<MarkerTrial, TrialError> {
    match extension(path).as_str() {
        "c3d" => Ok(c3d::read_c3d(path)?),
        "trc" => Ok(trc::read_trc(path)?),
        "json" => {
            let g = gaitkit::read_gaitkit(path)?;
            tracing::info!(
                "{}: gaitkit landmarks read as {}",
                path.display(),
                match g.convention {
                    gaitkit::LandmarkConvention::SkinMarkers =>
                        "skin markers (trochanter, lateral knee, lateral malleolus)",
                    gaitkit::LandmarkConvention::JointCentres =>
                        "hip, knee and ankle joint centres",
                }
            );
            Ok(g.trial)
        }
        _ => Err(TrialError::UnknownType {
            path: path.to_path_buf(),
        }),
    }
}

/// What a file or folder handed to gaitlens holds, judged from its name, for folders the
/// names of its entries, and for `.json` files whether their start holds gaitkit's
/// `angle_frames` (a landmark trial): the one dispatch used by `inspect`, `view`, `render`, and the viewer's
/// startup, dialogs and drag-and-drop. Extensions are compared case-insensitively.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// A marker trial to fit (`.c3d`, `.trc`, a gaitkit landmark `.json`).
    MarkerTrial,
    /// A pose folder written by `gaitlens fit` (`pose_*.json|txt`).
    PoseFolder,
    /// OpenPose keypoints: a `.zip`, a folder of `*_keypoints.json` frames, or a folder of such
    /// clip folders.
    OpenPose,
    /// A body model (`.npy`, `.npz`: SUPR's formats).
    BodyModel,
    /// A network checkpoint: a `.mpk` record, or a `.json` model card with its `.mpk` beside it.
    NetworkCheckpoint,
    /// Another `.json` file (a pose file, cohort, ground truth, constraints, …).
    Json,
    /// A folder with nothing in it.
    EmptyFolder,
    /// Anything else (including a folder of none of the above).
    Unknown,
}

impl SourceKind {
    /// Classifies `path`: by a known extension first (so a folder named `walk.c3d` is read as
    /// a C3D and the reader says what is wrong), else a folder by its entries (a missing path
    /// without a known extension is [`SourceKind::Unknown`]).
    pub fn classify(path: &Path) -> Self {
        match extension(path).as_str() {
            "c3d" | "trc" => Self::MarkerTrial,
            "zip" => Self::OpenPose,
            "npy" | "npz" => Self::BodyModel,
            "mpk" => Self::NetworkCheckpoint,
            "json" if path.with_extension("mpk").is_file() => Self::NetworkCheckpoint,
            "json" if looks_like_gaitkit(path) => Self::MarkerTrial,
            "json" => Self::Json,
            _ if path.is_dir() => classify_folder(path),
            _ => Self::Unknown,
        }
    }
}

/// The lower-case extension of `path` ("" when it has none).
pub fn extension(path: &Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// Classifies a folder by the names of its entries.
fn classify_folder(dir: &Path) -> SourceKind {
    let names = |d: &Path| -> Vec<String> {
        std::fs::read_dir(d)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    let is_frame = |n: &String| n.ends_with("_keypoints.json");
    let entries = names(dir);
    if entries.is_empty() {
        return SourceKind::EmptyFolder;
    }
    if entries
        .iter()
        .any(|n| n.starts_with("pose_") && (n.ends_with(".json") || n.ends_with(".txt")))
    {
        return SourceKind::PoseFolder;
    }
    let clip_folders = || {
        entries.iter().any(|n| {
            let sub = dir.join(n);
            sub.is_dir() && names(&sub).iter().any(is_frame)
        })
    };
    if entries.iter().any(is_frame) || clip_folders() {
        return SourceKind::OpenPose;
    }
    SourceKind::Unknown
}

#[cfg(test)]
mod source_kind_tests {
    use super::*;

    #[test]
    fn files_and_folders_are_classified_by_name_and_entries() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for (name, kind) in [
            ("a/Walk.C3D", SourceKind::MarkerTrial),
            ("b.trc", SourceKind::MarkerTrial),
            ("clip.ZIP", SourceKind::OpenPose),
            ("supr.npz", SourceKind::BodyModel),
            ("net.mpk", SourceKind::NetworkCheckpoint),
            ("cohort.json", SourceKind::Json),
            ("c3d", SourceKind::Unknown),
        ] {
            assert_eq!(SourceKind::classify(&d.join(name)), kind, "{name}");
        }
        std::fs::write(d.join("net.json"), "{}").unwrap();
        std::fs::write(d.join("net.mpk"), "").unwrap();
        assert_eq!(
            SourceKind::classify(&d.join("net.json")),
            SourceKind::NetworkCheckpoint
        );
        std::fs::write(d.join("walk.json"), r#"{"fps": 100, "angle_frames": []}"#).unwrap();
        assert_eq!(
            SourceKind::classify(&d.join("walk.json")),
            SourceKind::MarkerTrial
        );
        let empty = d.join("empty");
        std::fs::create_dir(&empty).unwrap();
        assert_eq!(SourceKind::classify(&empty), SourceKind::EmptyFolder);
        let poses = d.join("poses");
        std::fs::create_dir(&poses).unwrap();
        std::fs::write(poses.join("pose_00000.txt"), "").unwrap();
        assert_eq!(SourceKind::classify(&poses), SourceKind::PoseFolder);
        let clips = d.join("clips");
        std::fs::create_dir_all(clips.join("walk1")).unwrap();
        std::fs::write(clips.join("walk1").join("x_000_keypoints.json"), "{}").unwrap();
        assert_eq!(SourceKind::classify(&clips), SourceKind::OpenPose);
        assert_eq!(
            SourceKind::classify(&clips.join("walk1")),
            SourceKind::OpenPose
        );
        assert_eq!(SourceKind::classify(d), SourceKind::Unknown);
    }
}
