//! Reads a cohort folder `DIR/<class>/<subject>/<gait>/pose_*.json` and poses the body model to
//! get the joint positions (`J_transformed`, first 22 joints), as the original's `JointData`.

use std::path::Path;

use nalgebra::Vector3;
use rayon::prelude::*;

use super::align::{Frame, NUM_JOINTS};
use super::windows::{WindowConfig, WindowDataset};
use super::{DatasetError, JointSequence, PathologySides};
use crate::body::BodyModel;
use crate::formats::pose_seq::{PoseFileFormat, PoseSequence, read_complete_pose_folder};

/// Posed positions of the first 22 joints for one frame (`pose`: axis-angle per joint of the
/// model; `translation` added to the root as in the model's forward pass).
pub fn posed_joints(
    model: &BodyModel,
    joints_rest: &[Vector3<f64>],
    pose: &[f64],
    translation: [f64; 3],
) -> Result<Frame, String> {
    if model.num_joints() < NUM_JOINTS {
        return Err(format!(
            "body model '{}' has {} joints, need {NUM_JOINTS}",
            model.name,
            model.num_joints()
        ));
    }
    let rots = model
        .rotations_from_axis_angle(pose)
        .map_err(|e| e.to_string())?;
    model
        .smpl22_positions(joints_rest, &rots, Vector3::from(translation))
        .ok_or_else(|| {
            format!(
                "body model '{}' has fewer than {NUM_JOINTS} joints",
                model.name
            )
        })
}

/// Poses every frame of a pose sequence (each frame with its own betas); which frames had their
/// legs measured is the side files' to say ([`crate::formats::pose_seq::PoseSidecars`]), so it is
/// left unknown here for the caller that read them.
pub fn sequence_from_poses(
    model: &BodyModel,
    poses: &PoseSequence,
    subject: &str,
    gait: &str,
    sick: bool,
    files: Vec<String>,
) -> Result<JointSequence, DatasetError> {
    let folder = poses
        .source
        .clone()
        .unwrap_or_else(|| format!("{subject}/{gait}").into());
    let mut joints = Vec::with_capacity(poses.num_frames());
    let mut cache: Option<(&[f64], Vec<Vector3<f64>>)> = None;
    for (i, ((betas, pose), trans)) in poses
        .betas
        .iter()
        .zip(&poses.poses)
        .zip(&poses.translations)
        .enumerate()
    {
        if cache.as_ref().is_none_or(|(b, _)| *b != betas.as_slice()) {
            cache = Some((betas.as_slice(), model.rest_joints(betas)));
        }
        let rest = &cache.as_ref().expect("set above").1;
        let f = posed_joints(model, rest, pose, *trans).map_err(|reason| DatasetError::Pose {
            path: folder.clone(),
            frame: i,
            reason,
        })?;
        joints.push(f);
    }
    Ok(JointSequence {
        subject: subject.to_string(),
        gait: gait.to_string(),
        sick,
        rate_hz: poses.rate_hz,
        joints,
        files,
        sides: None,
        legs_measured: None,
    })
}

/// Sorted names of the visible sub-folders of `dir`.
fn sub_dirs(dir: &Path) -> Result<Vec<String>, DatasetError> {
    let io = |source| DatasetError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).map_err(io)? {
        let e = e.map_err(io)?;
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') && e.path().is_dir() {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}

/// Loads every `<class>/<subject>/<gait>` pose folder under `dir` and poses it with `model`.
/// Classes whose folder name contains `healthy` are healthy, all others sick (the original's
/// rule). Sequences are returned sorted by (class folder, subject, gait).
pub fn load_joint_dataset(
    dir: &Path,
    model: &BodyModel,
) -> Result<Vec<JointSequence>, DatasetError> {
    if model.num_joints() < NUM_JOINTS {
        return Err(DatasetError::TooFewJoints {
            model: model.name.clone(),
            found: model.num_joints(),
        });
    }
    let mut jobs = Vec::new();
    for class in sub_dirs(dir)? {
        let sick = !class.contains("healthy");
        for subject in sub_dirs(&dir.join(&class))? {
            for gait in sub_dirs(&dir.join(&class).join(&subject))? {
                jobs.push((class.clone(), subject.clone(), gait, sick));
            }
        }
    }
    if jobs.is_empty() {
        return Err(DatasetError::NoData {
            path: dir.to_path_buf(),
        });
    }
    let mut out: Vec<JointSequence> = jobs
        .par_iter()
        .map(|(class, subject, gait, sick)| {
            let folder = dir.join(class).join(subject).join(gait);
            let (poses, sidecars) = read_complete_pose_folder(&folder)?;
            let ext = match poses.format {
                PoseFileFormat::Json => "json",
                PoseFileFormat::Txt => "txt",
            };
            let files = poses
                .frame_numbers
                .iter()
                .map(|n| format!("{class}/{subject}/{gait}/pose_{n:05}.{ext}"))
                .collect();
            let mut seq = sequence_from_poses(model, &poses, subject, gait, *sick, files)?;
            seq.legs_measured = sidecars.legs_measured(&poses.frame_numbers);
            Ok::<_, DatasetError>(seq)
        })
        .collect::<Result<_, _>>()?;
    if let Some(rate) = cohort_rate_hz(dir) {
        for s in out.iter_mut().filter(|s| s.rate_hz.is_none()) {
            s.rate_hz = Some(rate);
        }
    }
    let sides = cohort_pathology_sides(dir);
    for s in &mut out {
        s.sides = sides.get(&(s.sick, s.subject.clone())).copied();
    }
    tracing::info!(dir = %dir.display(), sequences = out.len(), "joint dataset loaded");
    Ok(out)
}

/// The frame rate a `gaitlens synth` cohort records in `DIR/ground_truth.json`
/// (`config.rate_hz`), used for pose folders that do not carry their own.
pub fn cohort_rate_hz(dir: &Path) -> Option<f64> {
    crate::formats::pose_seq::json_rate_hz(&dir.join("ground_truth.json"), "/config/rate_hz")
}

/// Which sides each subject's pathology affects, keyed by (sick, subject folder name), from a
/// `gaitlens synth` cohort's `DIR/ground_truth.json` (`subjects[].{subject, sick, side}`); empty
/// when the cohort records none (labelled real walks), and subjects without a readable side are
/// left out (their sides are unknown, not an error).
pub fn cohort_pathology_sides(
    dir: &Path,
) -> std::collections::HashMap<(bool, String), PathologySides> {
    let subjects = crate::formats::pose_seq::json_at(&dir.join("ground_truth.json"), "/subjects");
    let Some(serde_json::Value::Array(subjects)) = subjects else {
        return Default::default();
    };
    subjects
        .iter()
        .filter_map(|s| {
            let name = s.get("subject")?.as_str()?.to_string();
            let sick = s.get("sick")?.as_bool()?;
            let bilateral = match s.get("side").and_then(|v| v.as_str()) {
                Some("both") => Some(true),
                Some("left" | "right") => Some(false),
                _ => None,
            };
            Some(((sick, name), PathologySides::from_truth(sick, bilateral)?))
        })
        .collect()
}

/// [`load_joint_dataset`] followed by [`WindowDataset::new`].
pub fn load_window_dataset(
    dir: &Path,
    model: &BodyModel,
    config: WindowConfig,
) -> Result<WindowDataset, DatasetError> {
    WindowDataset::new(load_joint_dataset(dir, model)?, config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::gait_model::stick_body;

    #[test]
    fn posed_joints_match_the_full_forward_pass() {
        let model = &stick_body();
        let betas = [0.5, -0.3, 0.2];
        let mut pose = vec![0.0; 3 * model.num_joints()];
        pose[3..6].copy_from_slice(&[-0.4, 0.1, 0.0]);
        pose[12..15].copy_from_slice(&[0.7, 0.0, 0.0]);
        pose[0..3].copy_from_slice(&[0.0, 1.2, 0.0]);
        let trans = [0.3, -0.1, 2.0];
        let ours = posed_joints(model, &model.rest_joints(&betas), &pose, trans).unwrap();
        let shaped = model.shape(&betas);
        let rots = model.rotations_from_axis_angle(&pose).unwrap();
        let full = model.forward_subset(&shaped, &rots, Vector3::from(trans), &[]);
        for (o, f) in ours.iter().zip(&full.joints) {
            for c in 0..3 {
                assert!((o[c] as f64 - f[c]).abs() < 1e-6);
            }
        }
        assert!(posed_joints(model, &model.rest_joints(&betas), &pose[..6], trans).is_err());
    }

    #[test]
    fn missing_folder_is_an_error_naming_it() {
        let e = load_joint_dataset(Path::new("/nonexistent/cohort"), &stick_body()).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/cohort"), "{e}");
        let empty = tempfile::tempdir().unwrap();
        let e = load_joint_dataset(empty.path(), &stick_body()).unwrap_err();
        assert!(matches!(e, DatasetError::NoData { .. }));
    }

    #[test]
    fn a_synth_cohorts_pathology_sides_are_read_per_subject_and_class() {
        let dir = tempfile::tempdir().unwrap();
        assert!(cohort_pathology_sides(dir.path()).is_empty());
        std::fs::write(
            dir.path().join("ground_truth.json"),
            r#"{"subjects": [
                {"subject": "w-c00", "sick": false, "side": null},
                {"subject": "w-c00", "sick": true, "side": "left"},
                {"subject": "w-c01", "sick": true, "side": "both"},
                {"subject": "w-c02", "sick": true, "side": "sideways"},
                {"subject": "w-c03", "sick": true}
            ]}"#,
        )
        .unwrap();
        let sides = cohort_pathology_sides(dir.path());
        let get = |sick: bool, name: &str| sides.get(&(sick, name.to_string())).copied();
        assert_eq!(get(false, "w-c00"), Some(PathologySides::Neither));
        assert_eq!(get(true, "w-c00"), Some(PathologySides::One));
        assert_eq!(get(true, "w-c01"), Some(PathologySides::Both));
        assert_eq!(get(true, "w-c02"), None, "an unknown side is unknown");
        assert_eq!(get(true, "w-c03"), None);
    }

    #[test]
    fn a_synth_cohort_states_its_frame_rate() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(cohort_rate_hz(dir.path()), None);
        std::fs::write(
            dir.path().join("ground_truth.json"),
            r#"{"config": {"rate_hz": 50.0}}"#,
        )
        .unwrap();
        assert_eq!(cohort_rate_hz(dir.path()), Some(50.0));
        std::fs::write(
            dir.path().join("ground_truth.json"),
            r#"{"config": {"rate_hz": -1}}"#,
        )
        .unwrap();
        assert_eq!(cohort_rate_hz(dir.path()), None);
    }
}
