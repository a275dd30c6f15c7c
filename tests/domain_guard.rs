//! The out-of-domain guard of the bundled demo network (trained on real walks, see
//! assets/PROVENANCE.md): a shared healthy walk is like its training data; a standing trial, a
//! walk with a knee frozen at an absurd angle and the walk sped up to a run are not.

mod common;

use common::{explain_demo_track, fit};

use std::path::{Path, PathBuf};

use gaitlens::body::default_model::default_body;
use gaitlens::formats::pose_seq::{PoseFileFormat, PoseSequence, read_pose_dir, write_pose_dir};
use gaitlens::synth::transplant::WalkPoses;

/// The demo network's verdict note on the first window of `seq` and the share of track windows
/// flagged as outside its training data.
fn guard(seq: &Path) -> (String, f64) {
    let out = explain_demo_track(seq);
    let note = out
        .lines()
        .find(|l| l.contains("training data ("))
        .unwrap_or_else(|| panic!("no domain note in:\n{out}"))
        .to_owned();
    let summary = out
        .lines()
        .find(|l| l.contains("windows outside"))
        .unwrap_or_else(|| panic!("no domain summary in:\n{out}"));
    let w: Vec<f64> = summary
        .split_whitespace()
        .filter_map(|t| t.parse().ok())
        .collect();
    (note, w[0] / w[1])
}

fn write(dir: &Path, seq: &PoseSequence) -> PathBuf {
    write_pose_dir(dir, seq, PoseFileFormat::Json).unwrap();
    std::fs::write(
        dir.join("fit_report.json"),
        format!("{{\"rate_hz\": {}}}", seq.rate_hz.unwrap()),
    )
    .unwrap();
    dir.to_path_buf()
}

#[test]
fn walks_unlike_the_training_data_are_flagged() {
    let tmp = tempfile::tempdir().unwrap();
    let walk = fit(tmp.path(), "sample32_vicon_zerowire.c3d", "walk");
    let (note, share) = guard(&walk);
    assert!(note.starts_with("like"), "{note}");
    assert!(share <= 0.1, "{share} of a training walk's windows flagged");

    // Standing: the static trial's frames looped to 3 s.
    let stand = read_pose_dir(&fit(
        tmp.path(),
        "PiG_Calibration-FlatFoot-Full.c3d",
        "static",
    ))
    .unwrap();
    let n = 300;
    let pick = |k: usize| k % stand.num_frames();
    let standing = PoseSequence {
        betas: (0..n).map(|k| stand.betas[pick(k)].clone()).collect(),
        poses: (0..n).map(|k| stand.poses[pick(k)].clone()).collect(),
        translations: (0..n).map(|k| stand.translations[pick(k)]).collect(),
        rate_hz: Some(100.0),
        frame_numbers: (0..n as u64).collect(),
        source: None,
        format: PoseFileFormat::Json,
    };
    let (note, share) = guard(&write(&tmp.path().join("standing"), &standing));
    assert!(
        note.starts_with("outside") && share > 0.9,
        "standing: {note} ({share})"
    );

    // The left knee frozen at 150° of flexion.
    let mut frozen = read_pose_dir(&walk).unwrap();
    for p in &mut frozen.poses {
        p[12..15].copy_from_slice(&[150f64.to_radians(), 0.0, 0.0]);
    }
    let (note, share) = guard(&write(&tmp.path().join("frozen"), &frozen));
    assert!(
        note.starts_with("outside") && share > 0.9,
        "frozen knee: {note} ({share})"
    );

    // Running cadence: the treadmill walk (12 s) played 2.2 times faster.
    let treadmill = fit(tmp.path(), "treadmill_events.c3d", "treadmill");
    let poses = read_pose_dir(&treadmill).unwrap();
    let w = WalkPoses::from_poses(default_body(), &poses, 100.0).unwrap();
    let looped = w.warped(2.2, 100.0).to_poses();
    let (note, share) = guard(&write(&tmp.path().join("run"), &looped));
    assert!(
        note.starts_with("outside") && share > 0.5,
        "running: {note} ({share})"
    );
}
