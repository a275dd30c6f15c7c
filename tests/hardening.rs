//! Output failures and error messages (issue 26): a closed or full stdout ends the binary quietly
//! with status 1 (not a `println!` panic, status 101), and reader errors print each cause once.

use std::error::Error;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn data(rel: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data")
        .join(rel);
    assert!(p.is_file(), "real data file missing: {}", p.display());
    p
}

fn gaitlens() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gaitlens"));
    c.env_remove("RUST_BACKTRACE").env("RUST_LOG", "error");
    c
}

fn dev_full() -> File {
    File::options()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full must exist on Linux")
}

fn assert_quiet_failure(what: &str, out: &Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let code = out.status.code();
    assert!(
        code.is_some_and(|c| c != 0 && c != 101),
        "{what}: exit status {:?} (must be non-zero and not a panic); stderr:\n{stderr}",
        out.status
    );
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "{what}: panic output on stderr:\n{stderr}"
    );
}

#[test]
fn full_stdout_ends_quietly_with_status_1() {
    let c3d = data("c3d/PiG_Motion-FlatFoot-Full.c3d");
    for args in [
        vec!["body".into(), "inspect".into()],
        vec!["inspect".into(), c3d.display().to_string()],
        vec!["inspect".into(), c3d.display().to_string(), "--json".into()],
    ] {
        let out = gaitlens()
            .args(&args)
            .stdout(dev_full())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let what = format!("gaitlens {} > /dev/full", args.join(" "));
        assert_quiet_failure(&what, &out);
        assert_eq!(out.status.code(), Some(1), "{what}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("No space left"), "{what}: {stderr}");
    }
}

#[test]
fn closed_stdout_pipe_ends_silently_with_status_1() {
    let c3d = data("c3d/PiG_Motion-FlatFoot-Full.c3d");
    for args in [
        vec!["inspect".to_string(), c3d.display().to_string()],
        vec!["body".into(), "inspect".into()],
    ] {
        // The reading end is closed before the child starts: its first write gets EPIPE, as
        // after `| head -c 10` has read its bytes.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = gaitlens()
            .args(&args)
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let what = format!("gaitlens {} | (closed)", args.join(" "));
        assert_quiet_failure(&what, &out);
        assert_eq!(out.status.code(), Some(1), "{what}");
        assert!(
            out.stderr.is_empty(),
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn full_stderr_on_an_error_is_not_a_panic() {
    let out = gaitlens()
        .args(["inspect", "/nonexistent/trial.c3d"])
        .stdout(Stdio::null())
        .stderr(dev_full())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{:?}", out.status);
}

/// The message with its `source()` chain, as `anyhow` prints `{:#}`.
fn chain(e: &dyn Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}

fn once(what: &str, text: &str, needle: &str) {
    assert_eq!(
        text.matches(needle).count(),
        1,
        "{what}: {needle:?} not exactly once in {text:?}"
    );
}

#[test]
fn reader_errors_print_each_cause_once() {
    use gaitlens::formats::{c3d, pose_seq, read_marker_trial, trc};
    let dir = tempfile::tempdir().unwrap();
    let c3d_dir = dir.path().join("walk.c3d");
    let trc_dir = dir.path().join("walk.trc");
    std::fs::create_dir(&c3d_dir).unwrap();
    std::fs::create_dir(&trc_dir).unwrap();
    let file = dir.path().join("plain.txt");
    std::fs::write(&file, "x").unwrap();

    let e = c3d::read_c3d(&c3d_dir).unwrap_err();
    once("read_c3d", &chain(&e), "os error 21");
    let e = read_marker_trial(&c3d_dir).unwrap_err();
    once("read_marker_trial c3d", &chain(&e), "os error 21");
    let e = trc::read_trc(&trc_dir).unwrap_err();
    once("read_trc", &chain(&e), "os error 21");
    let e = read_marker_trial(&trc_dir).unwrap_err();
    once("read_marker_trial trc", &chain(&e), "os error 21");
    let e = pose_seq::read_pose_dir(&file).unwrap_err();
    once("read_pose_dir", &chain(&e), "os error 20");
    let e = pose_seq::parse_pose_json(b"{\"betas\": [[1, 2,", Path::new("p.json")).unwrap_err();
    assert_eq!(chain(&e), e.to_string(), "syntax error printed twice");
    let e =
        pose_seq::parse_pose_json(br#"{"betas": [[1, "a"]]}"#, Path::new("p.json")).unwrap_err();
    assert_eq!(chain(&e), e.to_string(), "shape error printed twice");

    // End to end: the binary prints the cause once.
    for p in [&c3d_dir, &trc_dir] {
        let out = gaitlens().arg("inspect").arg(p).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        once("gaitlens inspect", &stderr, "os error 21");
        assert!(stderr.contains(&p.display().to_string()), "{stderr}");
    }
}

#[test]
fn a_card_without_its_record_names_the_record_and_the_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    let card = dir.path().join("net.json");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo_video_network.json"),
        &card,
    )
    .unwrap();
    let out = gaitlens()
        .args(["video", "predict", "--network"])
        .arg(&card)
        .arg("--clip")
        .arg(data("openpose/openpose_gait.zip"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("net.mpk"), "{stderr}");
    once("video predict", &stderr, "os error 2");
}

#[test]
fn control_characters_in_a_file_name_are_escaped_in_the_message() {
    let out = gaitlens()
        .arg("inspect")
        .arg("/nonexistent/bad\u{7}name.c3d")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        !stderr.contains('\u{7}'),
        "raw control character in {stderr:?}"
    );
    assert!(stderr.contains("bad\\u{7}name.c3d"), "{stderr}");
}

#[test]
fn an_empty_folder_is_called_empty() {
    let dir = tempfile::tempdir().unwrap();
    let out = gaitlens().arg("inspect").arg(dir.path()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("is an empty folder"), "{stderr}");
    assert!(
        stderr.contains(&dir.path().display().to_string()),
        "{stderr}"
    );
}

/// Video cards with numbers that used to panic, hang or print NaN are refused at load, naming
/// the card and the field.
#[test]
fn video_cards_with_absurd_numbers_are_refused_naming_the_field() {
    let assets = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
    let card: serde_json::Value =
        serde_json::from_slice(&std::fs::read(assets.join("demo_video_network.json")).unwrap())
            .unwrap();
    type Mutation = fn(&mut serde_json::Value);
    let cases: [(&str, Mutation); 5] = [
        ("dropout", |c| {
            c["training"]["model"]["dropout"] = 2.0.into()
        }),
        ("kernel", |c| {
            c["training"]["model"]["kernel"] = 1_000_000.into()
        }),
        ("smooth_sigma_frames", |c| {
            c["training"]["preprocess"]["smooth_sigma_frames"] = 1e12.into()
        }),
        ("feature_stats.std", |c| {
            c["feature_stats"]["std"][3] = 0.0.into()
        }),
        ("feature_stats.mean", |c| {
            c["feature_stats"]["mean"] = serde_json::json!([0.0]);
        }),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (field, mutate) in cases {
        let mut c = card.clone();
        mutate(&mut c);
        let path = dir.path().join(format!("{field}.json"));
        std::fs::write(&path, serde_json::to_vec(&c).unwrap()).unwrap();
        std::fs::copy(
            assets.join("demo_video_network.mpk"),
            path.with_extension("mpk"),
        )
        .unwrap();
        let out = gaitlens()
            .args(["video", "predict", "--network"])
            .arg(&path)
            .arg("--clip")
            .arg(data("openpose/openpose_gait.zip"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{field}: {stderr}");
        assert!(stderr.contains(field), "{field}: {stderr}");
        assert!(
            stderr.contains(&path.display().to_string()),
            "{field}: {stderr}"
        );
    }
}

/// `fit --out D` replaces D as a whole (issue 26): a rerun with fewer frames and another format
/// leaves no stale pose files, the report's frame count matches the files (and `inspect` says
/// so), no hidden staging folder is left, and a folder holding someone else's files is refused
/// untouched. A folder mixing two runs (as older versions left) is flagged by `inspect`.
#[test]
fn fit_output_folders_are_replaced_as_a_whole() {
    let c3d = data("c3d/PiG_Motion-FlatFoot-Full.c3d");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fit");
    let fit = |frames: &str, format: &str| {
        gaitlens()
            .args(["fit", &c3d.display().to_string(), "--out"])
            .arg(&out)
            .args(["--max-frames", frames, "--format", format])
            .output()
            .unwrap()
    };
    let count = |ext: &str| {
        std::fs::read_dir(&out)
            .unwrap()
            .flatten()
            .filter(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                n.starts_with("pose_") && n.ends_with(ext)
            })
            .count()
    };
    let first = fit("12", "json");
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert_eq!(count(".json"), 12);
    let second = fit("5", "txt");
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert_eq!(
        (count(".json"), count(".txt")),
        (0, 5),
        "stale poses of the first run"
    );
    let hidden: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(hidden.is_empty(), "left behind: {hidden:?}");
    let inspect = |p: &Path| {
        let o = gaitlens().arg("inspect").arg(p).output().unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    assert!(
        inspect(&out).contains("complete (5 frames)"),
        "{}",
        inspect(&out)
    );
    // A mixed folder (an extra pose file beside the report) is flagged.
    std::fs::write(
        out.join("pose_00005.txt"),
        std::fs::read(out.join("pose_00004.txt")).unwrap(),
    )
    .unwrap();
    let text = inspect(&out);
    assert!(
        text.contains("INCOMPLETE") && text.contains("says 5 frames"),
        "{text}"
    );
    // Someone else's file: refused, nothing replaced.
    std::fs::write(out.join("notes.docx"), "mine").unwrap();
    let third = fit("5", "json");
    assert!(!third.status.success());
    let err = String::from_utf8_lossy(&third.stderr);
    assert!(
        err.contains("notes.docx") && err.contains("gaitlens did not write"),
        "{err}"
    );
    assert!(out.join("notes.docx").exists() && count(".txt") == 6);
}

/// `fit --pelvis-markers rigid` reaches the fitter and is recorded in `fit_report.json` (the
/// default says `skin`); the original Adam solver, which has no such setting, refuses it.
#[test]
fn the_pelvis_marker_setting_is_recorded_and_refused_where_it_does_not_apply() {
    let c3d = data("c3d/PiG_Motion-FlatFoot-Full.c3d");
    let dir = tempfile::tempdir().unwrap();
    for (setting, want) in [(None, "skin"), (Some("rigid"), "rigid")] {
        let out = dir.path().join(want);
        let mut cmd = gaitlens();
        cmd.args([
            "fit",
            &c3d.display().to_string(),
            "--max-frames",
            "12",
            "--out",
        ])
        .arg(&out);
        if let Some(s) = setting {
            cmd.args(["--pelvis-markers", s]);
        }
        let o = cmd.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let report: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("fit_report.json")).unwrap()).unwrap();
        assert_eq!(report["pelvis_markers"], want);
    }
    let o = gaitlens()
        .args(["fit", &c3d.display().to_string(), "--solver", "adam"])
        .args(["--pelvis-markers", "rigid", "--max-frames", "2", "--out"])
        .arg(dir.path().join("adam"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("--pelvis-markers rigid"), "{stderr}");
    assert!(!dir.path().join("adam").exists());
}

/// `fit --angles a.csv` writes the angle table it promises (it was dropped on the way to the
/// staged fit, so no CSV was ever written), with our angles beside the file's Vicon outputs.
#[test]
fn fit_writes_the_angle_table_it_is_asked_for() {
    let c3d = data("c3d/PiG_Motion-FlatFoot-Full.c3d");
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("angles.csv");
    let o = gaitlens()
        .args([
            "fit",
            &c3d.display().to_string(),
            "--max-frames",
            "12",
            "--out",
        ])
        .arg(dir.path().join("fit"))
        .arg("--angles")
        .arg(&csv)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&csv)
        .unwrap_or_else(|e| panic!("{} not written: {e}", csv.display()));
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    assert!(
        header.contains("l_knee_flex") && header.contains("LKneeAngles"),
        "{header}"
    );
    assert_eq!(lines.count(), 12, "one row per fitted frame");
}

/// A network records how its training walks' pelvis markers were fitted (from the cohort's
/// ground truth), and `explain` warns on a walk fitted the other way — also on a walk changed by
/// `synth inject`, which carries its source's setting. Measured (README, "Pelvis markers"): the
/// demo network, trained on skin fits, flags 41 instead of 45 of 49 transplant cells on rigid fits.
#[test]
fn a_network_names_walks_fitted_otherwise_than_its_training_walks() {
    let c3d = data("c3d/sample32_vicon_zerowire.c3d");
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| -> String {
        let o = gaitlens().args(args).output().unwrap();
        let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(
            o.status.success(),
            "{args:?}: {stdout}\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        stdout
    };
    let path = |name: &str| dir.path().join(name).display().to_string();
    let (rigid, skin) = (path("rigid"), path("skin"));
    run(&["fit", &c3d.display().to_string(), "--out", &skin]);
    run(&[
        "fit",
        &c3d.display().to_string(),
        "--pelvis-markers",
        "rigid",
        "--out",
        &rigid,
    ]);
    let cohort = path("cohort");
    run(&[
        "synth",
        "from-walks",
        "--walks",
        &rigid,
        "--synthetic",
        "4",
        "--copies",
        "4",
        "--out",
        &cohort,
    ]);
    let truth: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("cohort/ground_truth.json")).unwrap(),
    )
    .unwrap();
    let recorded: Vec<&serde_json::Value> = truth["subjects"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s.get("pelvis_markers"))
        .collect();
    assert_eq!(recorded.len(), 8, "the walk's 4 healthy and 4 sick copies");
    assert!(recorded.iter().all(|p| *p == "rigid"), "{recorded:?}");
    let net = path("net");
    let trained = run(&[
        "train", "mlp", "--data", &cohort, "--out", &net, "--epochs", "1",
    ]);
    assert!(
        trained.contains("training walks fitted with rigid pelvis markers"),
        "{trained}"
    );
    let card: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("net.json")).unwrap()).unwrap();
    assert_eq!(card["training_pelvis_markers"], "rigid");
    let explain = |seq: &str| {
        run(&[
            "explain",
            "--network",
            &format!("{net}.json"),
            "--sequence",
            seq,
        ])
    };
    let warning = "warning: this walk was fitted with skin pelvis markers, the network's training \
                   walks with rigid";
    assert!(!explain(&rigid).contains("warning: this walk"));
    let on_skin = explain(&skin);
    assert!(on_skin.contains(warning), "{on_skin}");
    let injected = path("injected");
    run(&[
        "synth",
        "inject",
        "--poses",
        &skin,
        "--pathology",
        "foot-drop",
        "--side",
        "left",
        "--out",
        &injected,
    ]);
    let on_injected = explain(&injected);
    assert!(on_injected.contains(warning), "{on_injected}");
}
