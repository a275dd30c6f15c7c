//! Real walks → pathology transplants and a cohort (`gaitlens synth inject | from-walks`), and gait
//! events found on fitted joints, on the shared C3D walks fitted by `gaitlens fit`.

mod common;

use common::{fit, gaitlens, ok, shared_c3d};

use std::path::Path;

use gaitlens::body::default_model::default_body;
use gaitlens::dataset::{Alignment, PathologySides, load_joint_dataset, sequence_from_poses};
use gaitlens::formats::c3d::read_c3d;
use gaitlens::formats::pose_seq::read_pose_dir;
use gaitlens::gait::detect_events_from_joints;
use gaitlens::inference::window_input;
use serde_json::Value;

/// Peak knee flexion (x component of the local rotation, degrees) of joint `j` over a pose folder.
fn peak_deg(dir: &Path, j: usize) -> f64 {
    let seq = read_pose_dir(dir).unwrap();
    seq.poses
        .iter()
        .map(|p| p[3 * j].to_degrees())
        .fold(f64::MIN, f64::max)
}

/// Mean over 2 s windows (every 0.25 s) of the RMS of `joint`'s channel of the left/right-
/// difference input over the RMS of the same joint's motion about its window mean in the heading
/// alignment (both in body heights).
fn side_difference(dir: &Path, joint: usize) -> f64 {
    let poses = read_pose_dir(dir).unwrap();
    let seq = sequence_from_poses(default_body(), &poses, "s", "g", false, Vec::new()).unwrap();
    let rate_hz = poses.rate_hz.expect("a fitted walk stores its rate");
    let (interval, width) = ((2.0 * rate_hz) as usize, 22 * 3);
    let coords = |w: &[f32]| -> Vec<[f64; 3]> {
        w.chunks_exact(width)
            .map(|f| std::array::from_fn(|a| f64::from(f[3 * joint + a])))
            .collect()
    };
    let rms_about = |v: &[[f64; 3]], centre: [f64; 3]| {
        let sq: f64 = v
            .iter()
            .map(|p| (0..3).map(|a| (p[a] - centre[a]).powi(2)).sum::<f64>())
            .sum();
        (sq / v.len() as f64).sqrt()
    };
    let ratios: Vec<f64> = (0..=seq.joints.len() - interval)
        .step_by((rate_hz / 4.0) as usize)
        .map(|start| {
            let input = |a| coords(&window_input(&seq.joints, start, interval, a).unwrap());
            let (motion, diff) = (input(Alignment::Heading), input(Alignment::HeadingSymmetry));
            let mean: [f64; 3] = std::array::from_fn(|a| {
                motion.iter().map(|p| p[a]).sum::<f64>() / motion.len() as f64
            });
            rms_about(&diff, [0.0; 3]) / rms_about(&motion, mean)
        })
        .collect();
    ratios.iter().sum::<f64>() / ratios.len() as f64
}

/// `gaitlens synth from-walks` on `walks` with two copies and `extra` flags; its ground truth.
fn from_walks(walks: &[&Path], out: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["synth", "from-walks", "--walks"];
    args.extend(walks.iter().map(|w| w.to_str().unwrap()));
    args.extend(["--copies", "2", "--out", out.to_str().unwrap()]);
    args.extend(extra);
    ok(&gaitlens(&args));
    serde_json::from_slice(&std::fs::read(out.join("ground_truth.json")).unwrap()).unwrap()
}

#[test]
fn a_real_walk_takes_transplants_and_builds_a_cohort() {
    let tmp = tempfile::tempdir().unwrap();
    let walk32 = fit(tmp.path(), "sample32_vicon_zerowire.c3d", "sample32");
    let walk03 = fit(tmp.path(), "sample03_gait-pig.c3d", "sample03");

    // Events on the fitted joints agree with the lab's own foot strikes.
    let trial = read_c3d(&shared_c3d("sample32_vicon_zerowire.c3d")).unwrap();
    let poses = read_pose_dir(&walk32).unwrap();
    let seq = sequence_from_poses(default_body(), &poses, "s", "g", false, Vec::new()).unwrap();
    let ev = detect_events_from_joints(&seq.joints, trial.rate_hz).unwrap();
    for e in trial
        .events
        .iter()
        .filter(|e| e.label.eq_ignore_ascii_case("foot strike"))
    {
        let detected = if e.context.eq_ignore_ascii_case("left") {
            &ev.left.strikes
        } else {
            &ev.right.strikes
        };
        if e.frame < detected[0] as i64 - 5 || e.frame > *detected.last().unwrap() as i64 + 5 {
            continue;
        }
        let err = detected
            .iter()
            .map(|&d| (d as i64 - e.frame).abs())
            .min()
            .unwrap();
        assert!(
            err <= 10,
            "{} {} strike at frame {}: nearest detected {err} frames away",
            e.context,
            e.label,
            e.frame
        );
    }

    // Stiff knee on the left: the left knee's swing peak drops, the right knee's does not.
    let sk = common::inject(&walk32, "stiff-knee", "left", &tmp.path().join("stiff"));
    let truth: Value =
        serde_json::from_slice(&std::fs::read(sk.join("ground_truth.json")).unwrap()).unwrap();
    let s = &truth["subjects"][0];
    assert_eq!(s["joints"], serde_json::json!([4]), "{s}");
    assert!(
        s["compensation"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!(0)),
        "{s}"
    );
    let (before, after) = (peak_deg(&walk32, 4), peak_deg(&sk, 4));
    assert!(
        after < before - 15.0,
        "left knee peak {before:.0}° → {after:.0}°"
    );
    let (rb, ra) = (peak_deg(&walk32, 5), peak_deg(&sk, 5));
    assert!((rb - ra).abs() < 2.0, "right knee peak {rb:.1}° → {ra:.1}°");
    // The injected folder keeps its frame rate (read back from its ground truth).
    assert_eq!(read_pose_dir(&sk).unwrap().rate_hz, Some(100.0));
    // The left/right-difference input (`--alignment heading-symmetry`) on real fitted walks:
    // the mirrored legs, half a stride apart, match far better than the legs move (measured
    // 0.16-0.31 of their motion), so the half-stride search works on real gait. A left stiff knee
    // raises the ankle's share (0.31 -> 0.42); in body heights its difference barely grows,
    // because sample32's fitted left ankle already lifted more than its right and the transplant
    // lowers it (README, "Leave-one-walk-out").
    let mut ankle = Vec::new();
    for (dir, name) in [
        (&walk32, "sample32"),
        (&walk03, "sample03"),
        (&sk, "sample32 + stiff knee"),
    ] {
        for joint in [4, 5, 7, 8] {
            let ratio = side_difference(dir, joint);
            eprintln!("{name} joint {joint}: left/right difference / own motion (RMS) {ratio:.2}");
            if dir != &sk {
                assert!(
                    ratio < 0.4,
                    "{name} joint {joint}: difference / motion {ratio:.2}"
                );
            }
            if joint == 7 && dir != &walk03 {
                ankle.push(ratio);
            }
        }
    }
    assert!(
        ankle[1] > 1.2 * ankle[0],
        "left ankle difference / motion {:.2} -> {:.2} with a stiff knee",
        ankle[0],
        ankle[1]
    );

    // A cohort from both walks: matched healthy/sick subjects per copy, at 50 Hz, loadable.
    let cohort = tmp.path().join("cohort");
    let truth = from_walks(&[&walk32, &walk03], &cohort, &[]);
    assert_eq!(truth["config"]["rate_hz"], 50.0);
    let subjects = truth["subjects"].as_array().unwrap();
    assert_eq!(subjects.len(), 8);
    for s in subjects.iter().filter(|s| s["sick"] == true) {
        let sev = s["severity"].as_f64().unwrap();
        assert!((0.5..=1.0).contains(&sev), "{s}");
        assert!(!s["joints"].as_array().unwrap().is_empty(), "{s}");
    }
    let seqs = load_joint_dataset(&cohort, default_body()).unwrap();
    assert_eq!(seqs.len(), 8);
    assert!(seqs.iter().all(|s| s.rate_hz == Some(50.0)));
    // Every sequence knows which sides its pathology affects (what `--detector-training
    // by-sides` trains each detector on), as its ground truth says.
    for seq in &seqs {
        let truth = subjects
            .iter()
            .find(|s| s["subject"] == seq.subject.as_str() && s["sick"] == seq.sick)
            .unwrap();
        let want = match (seq.sick, truth["side"].as_str()) {
            (false, _) => PathologySides::Neither,
            (true, Some("both")) => PathologySides::Both,
            (true, Some("left" | "right")) => PathologySides::One,
            other => panic!("{}: unexpected ground truth {other:?}", seq.subject),
        };
        assert_eq!(seq.sides, Some(want), "{}", seq.subject);
    }
    assert!(!tmp.path().join(".cohort.partial").exists());

    // Matched cadence: every varied healthy copy walks at its sick twin's cadence (copy 0, the
    // walk as recorded, keeps its own), so cadence tells the classes apart no more than people.
    let matched = tmp.path().join("matched");
    let truth = from_walks(
        &[&walk32, &walk03],
        &matched,
        &["--matched-cadence", "--blend", "0.5"],
    );
    let cadence = |name: &str, sick: bool| {
        truth["subjects"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["subject"] == name && s["sick"] == sick)
            .and_then(|s| s["cadence_steps_min"].as_f64())
            .unwrap()
    };
    for walk in ["sample32", "sample03"] {
        let (h, s) = (
            cadence(&format!("{walk}-c01"), false),
            cadence(&format!("{walk}-c01"), true),
        );
        assert!(
            (h - s).abs() < 0.5,
            "{walk}-c01: healthy {h:.1}, sick {s:.1} steps/min"
        );
        let (h0, s0) = (
            cadence(&format!("{walk}-c00"), false),
            cadence(&format!("{walk}-c00"), true),
        );
        assert!(
            s0 < h0 - 1.0,
            "{walk}-c00: healthy {h0:.1}, sick {s0:.1} steps/min"
        );
    }
}

#[test]
fn walks_without_a_gait_cycle_and_bad_arguments_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let standing = fit(tmp.path(), "PiG_Calibration-FlatFoot-Full.c3d", "static");
    let inject = |pathology: &str, out: &str| {
        let o = gaitlens(&[
            "synth",
            "inject",
            "--poses",
            standing.to_str().unwrap(),
            "--pathology",
            pathology,
            "--out",
            tmp.path().join(out).to_str().unwrap(),
        ]);
        assert!(!o.status.success());
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    let err = inject("foot-drop", "x");
    assert!(
        err.contains("static") && err.contains("gait cycle"),
        "{err}"
    );
    let err = inject("limp", "y");
    assert!(err.contains("stiff-knee"), "{err}");

    let o = gaitlens(&["synth"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--out"));
}

/// sample03's last 28 frames lack the ASIS markers (and from frame 126 the right toe marker):
/// `synth from-walks` builds its copies from frames 0–113 only unless told otherwise, and `synth
/// inject` keeps the gap marked, so `explain --track` still marks the windows over it.
#[test]
fn sample03s_marker_gap_stays_out_of_cohorts_and_marked_in_injected_walks() {
    let tmp = tempfile::tempdir().unwrap();
    let walk03 = fit(tmp.path(), "sample03_gait-pig.c3d", "sample03");
    let cohort_frames = |out: &Path, extra: &[&str]| {
        let mut args = vec!["synth", "from-walks", "--walks", walk03.to_str().unwrap()];
        args.extend(["--copies", "1", "--out", out.to_str().unwrap()]);
        args.extend(extra);
        let o = gaitlens(&args);
        ok(&o);
        let subject = out.join("healthy/sample03-c00/walk");
        let frames = read_pose_dir(&subject).unwrap().num_frames();
        (frames, String::from_utf8_lossy(&o.stderr).into_owned())
    };
    let (frames, said) = cohort_frames(&tmp.path().join("measured"), &[]);
    assert_eq!(frames, 114, "{said}");
    assert!(said.contains("frames 0–113 kept: the other 28"), "{said}");
    let truth: Value = serde_json::from_slice(
        &std::fs::read(tmp.path().join("measured/ground_truth.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(truth["config"]["measured_only"], Value::Bool(true));
    let (frames, said) = cohort_frames(&tmp.path().join("all"), &["--all-frames"]);
    assert_eq!(frames, 142, "{said}");
    assert!(!said.contains("kept"), "{said}");

    let injected = common::inject(&walk03, "stiff-knee", "left", &tmp.path().join("injected"));
    let poses = read_pose_dir(&injected).unwrap();
    let truth: Value =
        serde_json::from_slice(&std::fs::read(injected.join("ground_truth.json")).unwrap())
            .unwrap();
    let flags: Vec<bool> = serde_json::from_value(truth["legs_measured"].clone()).unwrap();
    assert_eq!(flags.len(), poses.num_frames());
    let unmeasured: Vec<usize> = (0..flags.len()).filter(|&f| !flags[f]).collect();
    // The slower cadence stretches the 28 frames of the gap, which stays at the end.
    assert!(unmeasured.len() >= 28, "{unmeasured:?}");
    assert_eq!(*unmeasured.last().unwrap(), flags.len() - 1);
    assert!(unmeasured.windows(2).all(|w| w[1] == w[0] + 1), "one gap");
    let track = common::explain_demo_track(&injected);
    assert!(
        track.contains("windows hold frames with pelvis or leg markers missing"),
        "windows over the gap marked:\n{track}"
    );

    // The same walk as if its first ten frames had been guessed too (a subject walking into the
    // capture volume): `explain` without `--start` explains the first window measured
    // throughout and says so; `--start 0` still explains frame 0's, with the warning.
    let late = tmp.path().join("late_start");
    std::fs::create_dir(&late).unwrap();
    for entry in std::fs::read_dir(&walk03).unwrap() {
        let p = entry.unwrap().path();
        std::fs::copy(&p, late.join(p.file_name().unwrap())).unwrap();
    }
    let mut report: Value =
        serde_json::from_slice(&std::fs::read(late.join("fit_report.json")).unwrap()).unwrap();
    for f in report["frames"].as_array_mut().unwrap() {
        if f["frame"].as_u64().unwrap() < 10 {
            f["legs_measured"] = Value::Bool(false);
        }
    }
    std::fs::write(late.join("fit_report.json"), report.to_string()).unwrap();
    let card = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo_network.json");
    let explain = |extra: &[&str]| {
        let mut args = vec!["explain", "--network", card.to_str().unwrap()];
        args.extend(["--sequence", late.to_str().unwrap()]);
        args.extend(extra);
        let o = gaitlens(&args);
        ok(&o);
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        (out, String::from_utf8_lossy(&o.stderr).into_owned())
    };
    let (out, err) = explain(&[]);
    assert!(
        err.contains("explaining frames 10–109, the first window"),
        "{err}"
    );
    assert!(out.contains("frames 10–109"), "{out}");
    assert!(!out.contains("fitter's guess"), "{out}");
    let (out, err) = explain(&["--start", "0"]);
    assert!(!err.contains("explaining frames"), "{err}");
    assert!(out.contains("frames 0–99"), "{out}");
    assert!(
        out.contains("the first window measured throughout starts at frame 10"),
        "{out}"
    );
}
