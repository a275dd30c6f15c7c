//! What a first-day user met on real files (a review of 2026-12-07): a pose folder with a frame
//! missing, a truncated C3D, a C3D whose markers are all gaps, a pose folder given to the video
//! networks, a pose folder without its frame rate, an output folder that cannot be created, a
//! broken network card; and `inspect` of a pose folder, which must read as words.
//! Each must say what is wrong with which file — never run on silently.

mod common;

use std::path::{Path, PathBuf};

use common::{gaitlens, ok, shared_c3d};

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Fails unless `o` failed (not a panic) with a message containing every one of `needles`.
fn fails_with(o: &std::process::Output, needles: &[&str]) {
    let err = stderr(o);
    assert!(
        !o.status.success() && o.status.code() != Some(101),
        "expected a clean failure, got {:?}:\n{err}",
        o.status
    );
    for n in needles {
        assert!(err.contains(n), "message lacks {n:?}:\n{err}");
    }
}

/// The first `frames` frames of the FlatFoot walk, fitted.
fn fitted_flatfoot(dir: &Path, frames: usize) -> PathBuf {
    let out = dir.join("flatfoot");
    ok(&gaitlens(&[
        "fit",
        shared_c3d("PiG_Motion-FlatFoot-Full.c3d").to_str().unwrap(),
        "--max-frames",
        &frames.to_string(),
        "--out",
        out.to_str().unwrap(),
    ]));
    out
}

fn demo_network() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo_network.json")
}

#[test]
fn a_pose_folder_missing_a_frame_is_refused_by_every_reader() {
    let dir = tempfile::tempdir().unwrap();
    let walk = fitted_flatfoot(dir.path(), 120);
    std::fs::remove_file(walk.join("pose_00060.json")).unwrap();
    let w = walk.to_str().unwrap();
    let c3d = shared_c3d("PiG_Motion-FlatFoot-Full.c3d");
    let expect = ["fit_report.json says 120 frames", "holds 119 pose files"];
    let card = demo_network();
    let out = dir.path().join("o");
    let o = out.to_str().unwrap();
    fails_with(
        &gaitlens(&[
            "explain",
            "--network",
            card.to_str().unwrap(),
            "--sequence",
            w,
        ]),
        &expect,
    );
    fails_with(
        &gaitlens(&["report", c3d.to_str().unwrap(), "--poses", w, "--out", o]),
        &expect,
    );
    fails_with(
        &gaitlens(&["export", "--sequence", w, "--out", &format!("{o}.glb")]),
        &expect,
    );
    fails_with(
        &gaitlens(&[
            "synth",
            "inject",
            "--poses",
            w,
            "--pathology",
            "stiff-knee",
            "--side",
            "left",
            "--out",
            o,
        ]),
        &expect,
    );
    assert!(!out.exists(), "a refused run left {}", out.display());
}

#[test]
fn a_truncated_c3d_says_so_in_inspect_and_in_the_fit_report() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(shared_c3d("sample32_vicon_zerowire.c3d")).unwrap();
    let cut = dir.path().join("truncated.c3d");
    std::fs::write(&cut, &bytes[..200_000]).unwrap();
    let inspect = gaitlens(&["inspect", cut.to_str().unwrap()]);
    ok(&inspect);
    let text = String::from_utf8_lossy(&inspect.stdout);
    assert!(
        text.contains("warning:") && text.contains("header announces 306 frames"),
        "{text}"
    );
    let out = dir.path().join("fit");
    let fit = gaitlens(&[
        "fit",
        cut.to_str().unwrap(),
        "--max-frames",
        "5",
        "--out",
        out.to_str().unwrap(),
    ]);
    ok(&fit);
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("fit_report.json")).unwrap()).unwrap();
    assert!(
        report["warnings"]
            .to_string()
            .contains("header announces 306 frames"),
        "{}",
        report["warnings"]
    );
}

#[test]
fn a_c3d_whose_markers_are_all_gaps_is_called_empty_not_unlabelled() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(shared_c3d("PiG_Motion-FlatFoot-Full.c3d")).unwrap();
    // Header word 9: the first 512-byte block of the data section (1-based). Zeros there are
    // gaps to every C3D reader.
    let block = u16::from_le_bytes([bytes[16], bytes[17]]) as usize;
    let start = (block - 1) * 512;
    bytes[start..].fill(0);
    let zero = dir.path().join("zero.c3d");
    std::fs::write(&zero, &bytes).unwrap();
    let out = dir.path().join("fit");
    fails_with(
        &gaitlens(&[
            "fit",
            zero.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]),
        &["trial 'zero'", "markers are labelled, but", "hold no data"],
    );
}

#[test]
fn a_pose_folder_is_not_taken_for_an_openpose_clip() {
    let dir = tempfile::tempdir().unwrap();
    let walk = fitted_flatfoot(dir.path(), 20);
    let net = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo_video_network.json");
    fails_with(
        &gaitlens(&[
            "video",
            "predict",
            "--network",
            net.to_str().unwrap(),
            "--clip",
            walk.to_str().unwrap(),
        ]),
        &["is a gaitlens pose folder", "not an OpenPose clip"],
    );
}

#[test]
fn a_pose_folder_without_its_rate_is_read_at_the_given_rate_or_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let walk = fitted_flatfoot(dir.path(), 240);
    // The same poses without fit_report.json (copied by hand, or written by another tool).
    let bare = dir.path().join("bare");
    std::fs::create_dir(&bare).unwrap();
    for e in std::fs::read_dir(&walk).unwrap().flatten() {
        let n = e.file_name();
        if n.to_string_lossy().starts_with("pose_") {
            std::fs::copy(e.path(), bare.join(n)).unwrap();
        }
    }
    let card = demo_network();
    let explain = |extra: &[&str]| {
        let mut args = vec![
            "explain",
            "--network",
            card.to_str().unwrap(),
            "--sequence",
            bare.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        gaitlens(&args)
    };
    let guessed = explain(&[]);
    ok(&guessed);
    assert!(
        stderr(&guessed).contains("no fit_report.json states the frame rate"),
        "{}",
        stderr(&guessed)
    );
    let given = explain(&["--rate-hz", "100"]);
    ok(&given);
    let err = stderr(&given);
    assert!(err.contains("resampling 100 Hz"), "{err}");
    assert!(!err.contains("no fit_report.json states"), "{err}");
    // A rate that contradicts the folder's own is refused.
    let contradicted = gaitlens(&[
        "explain",
        "--network",
        card.to_str().unwrap(),
        "--sequence",
        walk.to_str().unwrap(),
        "--rate-hz",
        "50",
    ]);
    fails_with(&contradicted, &["--rate-hz 50 contradicts", "100 Hz"]);
}

#[test]
fn an_output_folder_that_cannot_be_created_is_named_as_given() {
    let o = gaitlens(&[
        "fit",
        shared_c3d("PiG_Motion-FlatFoot-Full.c3d").to_str().unwrap(),
        "--max-frames",
        "3",
        "--out",
        "/proc/gaitlens-cannot-write-here",
    ]);
    fails_with(&o, &["/proc/gaitlens-cannot-write-here"]);
    assert!(!stderr(&o).contains(".partial-"), "{}", stderr(&o));
}

#[test]
fn frozen_markers_under_the_files_events_are_not_reported_as_a_walk() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(shared_c3d("PiG_Motion-FlatFoot-Full.c3d")).unwrap();
    // Header words (16-bit, 1-based k at bytes 2k-2..2k): 2 points, 3 analog samples a frame,
    // 4/5 first/last frame, 7-8 the scale (negative: floats), 9 the data's first block.
    let word = |b: &[u8], k: usize| u16::from_le_bytes([b[2 * k - 2], b[2 * k - 1]]) as usize;
    let scale = f32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]);
    assert!(scale < 0.0, "this copy needs a float C3D");
    let frame_bytes = word(&bytes, 2) * 16 + word(&bytes, 3) * 4;
    let frames = word(&bytes, 5) - word(&bytes, 4) + 1;
    let start = (word(&bytes, 9) - 1) * 512;
    let first = bytes[start..start + frame_bytes].to_vec();
    for f in 1..frames {
        let at = start + f * frame_bytes;
        bytes[at..at + frame_bytes].copy_from_slice(&first);
    }
    let frozen = dir.path().join("frozen.c3d");
    std::fs::write(&frozen, &bytes).unwrap();
    let out = dir.path().join("report");
    let o = gaitlens(&[
        "report",
        frozen.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    ok(&o);
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    let notes = report["notes"].to_string();
    assert!(notes.contains("frozen or copied markers"), "{notes}");
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("frozen or copied markers"),
        "the summary must say it too"
    );
}

#[test]
fn inspect_describes_a_fitted_pose_folder_in_words() {
    let dir = tempfile::tempdir().unwrap();
    let walk = fitted_flatfoot(dir.path(), 30);
    let o = gaitlens(&["inspect", walk.to_str().unwrap()]);
    ok(&o);
    let text = String::from_utf8_lossy(&o.stdout);
    for needle in [
        "pose sequence",
        "30 frames (100 Hz); fit report: complete (30 frames)",
        "fitted from",
        "PiG_Motion-FlatFoot-Full.c3d",
        "legs measured (every pelvis and leg marker seen) in 30 of 30 frames",
    ] {
        assert!(text.contains(needle), "inspect lacks {needle:?}:\n{text}");
    }
    assert!(
        !text.contains('{'),
        "inspect printed JSON, not words:\n{text}"
    );
}

#[test]
fn a_broken_network_card_is_named_once() {
    let dir = tempfile::tempdir().unwrap();
    let card = dir.path().join("net.json");
    std::fs::write(&card, "{").unwrap();
    let walk = fitted_flatfoot(dir.path(), 20);
    let c = card.to_str().unwrap();
    let o = gaitlens(&[
        "explain",
        "--network",
        c,
        "--sequence",
        walk.to_str().unwrap(),
    ]);
    fails_with(&o, &["not a gaitlens model card"]);
    assert_eq!(stderr(&o).matches(c).count(), 1, "{}", stderr(&o));
}
