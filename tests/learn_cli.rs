//! `gaitlens synth` → `gaitlens train` → `gaitlens explain` end to end on a tiny cohort: the
//! model card records the flags and the cohort's frame rate, explanations are written, and bad
//! inputs are errors naming the file.

use std::path::Path;
use std::process::{Command, Output};

fn gaitlens(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gaitlens"))
        .args(args)
        .output()
        .expect("gaitlens runs")
}

fn ok(o: &Output) -> String {
    let text =
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "gaitlens failed: {text}");
    text
}

/// Asserts that `o` failed and that its error output contains `needle`.
fn fails_with(o: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "gaitlens should have failed");
    assert!(err.contains(needle), "{err}");
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A JSON file (model card, report) as a value.
fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `gaitlens explain --network CARD --sequence WALK` plus `extra` flags.
fn explain_with(card: &Path, walk: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["explain", "--network", s(card), "--sequence", s(walk)];
    args.extend_from_slice(extra);
    gaitlens(&args)
}

/// `gaitlens evaluate --network CARD --data COHORT --stride 16` plus `extra` flags.
fn evaluate_with(card: &Path, cohort: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "evaluate",
        "--network",
        s(card),
        "--data",
        s(cohort),
        "--stride",
        "16",
    ];
    args.extend_from_slice(extra);
    gaitlens(&args)
}

/// `gaitlens train KIND --data COHORT --out STEM` plus `extra` flags.
fn train_with(kind: &str, cohort: &Path, stem: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["train", kind, "--data", s(cohort), "--out", s(stem)];
    args.extend_from_slice(extra);
    gaitlens(&args)
}

/// `gaitlens train mlp` on `cohort` with 32-frame windows, one epoch, plus `extra` flags;
/// returns the log.
fn train_small(cohort: &Path, stem: &Path, stride: &str, extra: &[&str]) -> String {
    let small = ["--interval", "32", "--stride", stride, "--epochs", "1"];
    ok(&train_with(
        "mlp",
        cohort,
        stem,
        &[&small[..], extra].concat(),
    ))
}

/// A one-walk synthetic cohort in `dir/cohort`.
fn synth(dir: &Path, subjects: &str, seed: &str) -> std::path::PathBuf {
    let cohort = dir.join("cohort");
    ok(&gaitlens(&[
        "synth",
        "--out",
        s(&cohort),
        "--subjects",
        subjects,
        "--trials",
        "1",
        "--seed",
        seed,
    ]));
    cohort
}

#[test]
fn synth_train_explain_round_trip_records_rate_and_layers() {
    let dir = tempfile::tempdir().unwrap();
    let cohort = synth(dir.path(), "6", "2");
    let stem = dir.path().join("net");
    let log = train_small(
        &cohort,
        &stem,
        "32",
        &["--folds", "3", "--pfe-layers", "8,4", "--fc-layers", "8"],
    );
    assert!(log.contains("frame rate 50 Hz"), "{log}");
    // Every epoch line reports the training pass's throughput.
    assert!(log.contains("windows/s"), "{log}");
    let card: serde_json::Value = read_json(&stem.with_extension("json"));
    assert_eq!(card["rate_hz"].as_f64(), Some(50.0), "{card}");
    assert_eq!(card["interval"].as_u64(), Some(32));
    let net = card["network"].to_string();
    assert!(net.contains("[8,4]") && net.contains("[8]"), "{net}");
    assert_eq!(card["epochs"].as_array().unwrap().len(), 1);
    // Calibration: fold 0 of 3 trains on 2 healthy + 2 sick subjects, one of each held out of
    // fitting for the temperature, which the card stores and the log reports.
    assert!(
        log.contains("calibration split: 2 of 4 training subjects"),
        "{log}"
    );
    assert!(log.contains("calibration (fold 0/3): temperature"), "{log}");
    assert!(log.contains("test-fold ECE (15 bins)"), "{log}");
    let cal = &card["calibration"];
    let t = cal["temperature"].as_f64().expect("a temperature");
    assert!(t.is_finite() && (1e-2..=1e2).contains(&t), "{cal}");
    assert_eq!(cal["subjects"].as_u64(), Some(2), "{cal}");
    assert!(cal["eval_ece_calibrated"].as_f64().is_some(), "{cal}");
    assert_eq!(
        card["training"]["calibration_fraction"].as_f64(),
        Some(0.15)
    );
    // `--calibration-subjects` restricts who may be held out: no subject is named `X…`, so
    // calibration is skipped with the reason and every training window is fitted on.
    let stem_x = dir.path().join("net_x");
    let log = train_small(
        &cohort,
        &stem_x,
        "32",
        &["--folds", "3", "--calibration-subjects", "X"],
    );
    assert!(
        log.contains("no calibration: the training subjects whose name starts with 'X'"),
        "{log}"
    );
    let card_x: serde_json::Value = read_json(&stem_x.with_extension("json"));
    assert!(card_x.get("calibration").is_none(), "{card_x}");
    assert_eq!(
        card_x["training"]["calibration_subjects"].as_str(),
        Some("X")
    );

    // Explain a walk of the cohort (same 50 Hz: no resampling) with the relevance CSV.
    let walk = cohort.join("sick/S001/walk_00");
    let csv = dir.path().join("rel.csv");
    let card_path = stem.with_extension("json");
    let out = ok(&explain_with(
        &card_path,
        &walk,
        &["--start", "8", "--out", s(&csv), "--track"],
    ));
    assert!(out.contains("frames 8–39"), "{out}");
    assert!(!out.contains("resampling"), "{out}");
    assert!(out.contains("(calibrated, T = "), "{out}");
    let text = std::fs::read_to_string(&csv).unwrap();
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows.len(), 1 + 32);
    assert!(rows[1].starts_with("8,") && rows[32].starts_with("39,"));
    assert_eq!(rows[0].split(',').count(), 1 + 22);

    // A window past the end and a missing network are errors naming what is wrong.
    let past = explain_with(&card_path, &walk, &["--start", "1000"]);
    fails_with(&past, "--start 1000");
    let missing = dir.path().join("nowhere.json");
    let bad = gaitlens(&["explain", "--network", s(&missing), "--sequence", s(&walk)]);
    fails_with(&bad, "nowhere.json");
}

/// A small standardised, isotropically aligned MLP (the evaluated network and its
/// shuffled-label control share it).
const SMALL_ISOTROPIC: [&str; 9] = [
    "--pfe-layers",
    "8",
    "--fc-layers",
    "8",
    "--pelvis-relative",
    "--standardize",
    "per-axis",
    "--alignment",
    "isotropic",
];

#[test]
fn standardised_isotropic_network_is_evaluated_against_the_ground_truth() {
    let dir = tempfile::tempdir().unwrap();
    let cohort = synth(dir.path(), "10", "3");
    let stem = dir.path().join("net");
    train_small(&cohort, &stem, "16", &SMALL_ISOTROPIC);
    let card_path = stem.with_extension("json");
    let card: serde_json::Value = read_json(&card_path);
    assert_eq!(
        card["alignment_version"].as_str(),
        Some("align_movement_isotropic/1")
    );
    let stats = &card["network"]["input_standardization"];
    assert_eq!(stats["mean"].as_array().map(Vec::len), Some(66), "{card}");
    assert_eq!(stats["std"].as_array().map(Vec::len), Some(66));
    // Training learnt the normative gait of its healthy windows.
    let norm = &card["normative_gait"];
    assert_eq!(norm["bins"].as_u64(), Some(50), "{card}");
    assert_eq!(norm["rate_hz"].as_f64(), Some(50.0));
    assert_eq!(
        norm["pose_from_pelvis"].as_array().map(Vec::len),
        Some(50 * 66)
    );

    // A shuffled-label control of the same architecture (same flags, --shuffle-labels).
    let shuffled_stem = dir.path().join("shuffled");
    let log = train_small(
        &cohort,
        &shuffled_stem,
        "16",
        &[&SMALL_ISOTROPIC[..], &["--shuffle-labels"]].concat(),
    );
    assert!(log.contains("--shuffle-labels"), "{log}");
    let report = dir.path().join("report.json");
    let out = ok(&evaluate_with(
        &card_path,
        &cohort,
        &[
            "--rules",
            "eps,gamma",
            "--shuffled-network",
            s(&shuffled_stem.with_extension("json")),
            "--out",
            s(&report),
        ],
    ));
    assert!(out.contains("fold 0/5"), "{out}");
    assert!(
        out.contains("expected calibration error (15 bins)"),
        "{out}"
    );
    assert!(out.contains("(chance: random top joint)"), "{out}");
    let r: serde_json::Value = read_json(&report);
    let ece = r["calibration"]["ece_calibrated"]
        .as_f64()
        .expect("calibrated ECE");
    assert!((0.0..=1.0).contains(&ece), "{r}");
    // Fold 0 of 5 over 5 healthy + 5 sick subjects holds out one of each.
    let groups = r["groups"].as_array().unwrap();
    assert_eq!(groups[0]["group"].as_str(), Some("healthy"));
    let subjects: u64 = groups.iter().map(|g| g["subjects"].as_u64().unwrap()).sum();
    assert_eq!(subjects, 2, "{r}");
    let locus = r["locus"].as_array().unwrap();
    let methods: Vec<&str> = locus
        .iter()
        .map(|l| l["method"].as_str().unwrap())
        .collect();
    // The rules, then the controls: network-free deviation, random relevance, gradient ×
    // input, and every rule on an untrained and on the shuffled-label network.
    assert_eq!(
        methods,
        [
            "eps",
            "gamma",
            "eps-normative",
            "gamma-normative",
            "control:deviation",
            "control:random",
            "control:gradxinput-normative",
            "control:untrained/eps-normative",
            "control:untrained/gamma-normative",
            "control:shuffled/eps-normative",
            "control:shuffled/gamma-normative",
        ]
    );
    // Every method, control or not, is scored on the same windows; fractions have intervals
    // and a chance level, in both spaces.
    let scored = locus[0]["correct_sick_windows"].as_u64().unwrap();
    for l in locus {
        assert_eq!(l["correct_sick_windows"].as_u64(), Some(scored), "{l}");
        assert_eq!(
            l["control"].as_bool(),
            Some(l["method"].as_str().unwrap().starts_with("control:"))
        );
        if scored > 0 {
            for space in ["position", "angle"] {
                let f = &l[space]["joint"];
                let ci = f["ci95"].as_array().unwrap();
                assert!(ci[0].as_f64() <= f["value"].as_f64(), "{l}");
                assert!(f["chance"].as_f64().unwrap() > 0.0, "{l}");
            }
            assert!(l["aopc"]["value"].as_f64().unwrap().is_finite(), "{l}");
        }
    }
    // The explain command aligns with the card's alignment too, and explains relative to the
    // card's normative gait unless told otherwise.
    let walk = cohort.join("sick/S001/walk_00");
    let out = ok(&explain_with(&card_path, &walk, &["--track"]));
    assert!(out.contains("relative to the healthy gait"), "{out}");
    let out = ok(&explain_with(&card_path, &walk, &["--baseline", "zero"]));
    assert!(out.contains("relative to the zero input"), "{out}");
    // Relevance carried to the joint rotations: leaf joints (feet, head, wrists) move no joint.
    let csv = dir.path().join("rotations.csv");
    let out = ok(&explain_with(
        &card_path,
        &walk,
        &["--space", "rotations", "--out", s(&csv)],
    ));
    assert!(out.contains("most relevant joint rotations"), "{out}");
    let text = std::fs::read_to_string(&csv).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let foot = header.iter().position(|h| *h == "left_foot").unwrap();
    for line in text.lines().skip(1) {
        let v: f64 = line.split(',').nth(foot).unwrap().parse().unwrap();
        assert_eq!(v, 0.0, "{line}");
    }
    let zero = explain_with(
        &card_path,
        &walk,
        &["--space", "rotations", "--baseline", "zero"],
    );
    fails_with(&zero, "--space rotations");
    // `gaitlens normative` refuses to overwrite without --force, then relearns it.
    let again = gaitlens(&[
        "normative",
        "--network",
        s(&card_path),
        "--data",
        s(&cohort),
    ]);
    fails_with(&again, "already has a normative gait");
    let out = ok(&gaitlens(&[
        "normative",
        "--network",
        s(&card_path),
        "--data",
        s(&cohort),
        "--stride",
        "16",
        "--force",
    ]));
    assert!(out.contains("50 gait-phase bins"), "{out}");
    // The rewritten card carries a fresh whole-card hash and loads; an edit by hand (another
    // frame rate) is refused naming the hash field.
    ok(&explain_with(&card_path, &walk, &[]));
    let mut edited: serde_json::Value = read_json(&card_path);
    assert!(edited["card_fnv1a64"].is_string(), "{edited}");
    edited["rate_hz"] = serde_json::json!(60.0);
    let edited_path = card_path.with_file_name("edited.json");
    std::fs::write(&edited_path, serde_json::to_vec(&edited).unwrap()).unwrap();
    std::fs::copy(
        card_path.with_extension("mpk"),
        edited_path.with_extension("mpk"),
    )
    .unwrap();
    fails_with(&explain_with(&edited_path, &walk, &[]), "card_fnv1a64");
    // A folder without ground truth is an error naming the file.
    let bad = gaitlens(&[
        "evaluate",
        "--network",
        s(&card_path),
        "--data",
        s(&cohort.join("sick")),
    ]);
    fails_with(&bad, "ground_truth.json");
    // A damaged table is rejected on load, naming the field.
    let mut damaged: serde_json::Value = read_json(&card_path);
    damaged["normative_gait"]["bins"] = serde_json::json!(49);
    std::fs::write(&card_path, serde_json::to_vec(&damaged).unwrap()).unwrap();
    let bad = explain_with(&card_path, &walk, &[]);
    fails_with(&bad, "normative_gait");
}

#[test]
fn improved_transformer_options_are_recorded_and_explained() {
    let dir = tempfile::tempdir().unwrap();
    let cohort = synth(dir.path(), "4", "3");
    let stem = dir.path().join("tr");
    let train_transformer = [
        "train",
        "transformer",
        "--data",
        s(&cohort),
        "--out",
        s(&stem),
    ];
    let with = |flags: &[&'static str]| [&train_transformer[..], flags].concat();
    ok(&gaitlens(&with(&[
        "--interval",
        "16",
        "--stride",
        "64",
        "--epochs",
        "1",
        "--folds",
        "2",
        "--pfe-dim",
        "8",
        "--fc-dim",
        "8",
        "--ff-dim",
        "16",
        "--per-joint-embedding",
        "--cls-init",
        "small",
        "--pooling",
        "mean",
        "--final-norm",
        "--layers",
        "2",
        "--frame-token",
        "--lr-schedule",
        "warmup-cosine",
        "--warmup-epochs",
        "0.5",
        "--dropout",
        "0",
    ])));
    let card: serde_json::Value = read_json(&stem.with_extension("json"));
    let net = &card["network"];
    assert_eq!(net["per_joint_embedding"], true, "{card}");
    assert_eq!(net["cls_init"], "Small", "{card}");
    assert_eq!(net["pooling"], "Mean", "{card}");
    assert_eq!(net["final_norm"], true, "{card}");
    assert_eq!(net["dropout"].as_f64(), Some(0.0), "{card}");
    assert_eq!(net["layers"], 2, "{card}");
    assert_eq!(net["frame_token"], true, "{card}");
    let schedule = &card["training"]["lr_schedule"];
    assert_eq!(schedule["kind"], "warmup_cosine", "{card}");
    assert_eq!(schedule["warmup_epochs"].as_f64(), Some(0.5), "{card}");
    // One training subject per class: no calibration, and the card says so.
    assert!(card.get("calibration").is_none(), "{card}");
    assert_eq!(card["training"]["calibration_fraction"].as_f64(), Some(0.0));
    // Both explanations of the transformer run on the loaded network.
    let walk = cohort.join("sick/S001/walk_00");
    for rule in ["cp-lrp", "attention"] {
        let csv = dir.path().join(format!("{rule}.csv"));
        let out = ok(&explain_with(
            &stem.with_extension("json"),
            &walk,
            &["--rule", rule, "--out", s(&csv)],
        ));
        let rows = std::fs::read_to_string(&csv).unwrap().lines().count();
        assert_eq!(rows, 1 + 16, "{rule}");
        assert!(
            out.contains("uncalibrated (calibration off or skipped in training)"),
            "{out}"
        );
    }
    let bad_flags: [(&[&str], &str); 3] = [
        (&["--dropout", "1.5"], "--dropout 1.5"),
        (&["--calibration-fraction", "1"], "--calibration-fraction 1"),
        (
            &["--lr-schedule", "warmup-cosine", "--warmup-epochs=-1"],
            "warm-up",
        ),
    ];
    for (flags, needle) in bad_flags {
        fails_with(&gaitlens(&with(flags)), needle);
    }
}

/// A copy of the pose folder `walk` in `dir` with its first `frames` frames (all when `None`)
/// and, when given, a `fit_report.json` stating `rate` (raw JSON text); returns the folder and
/// the number of frames copied.
fn pose_copy(
    walk: &Path,
    dir: &Path,
    frames: Option<usize>,
    rate: Option<&str>,
) -> (std::path::PathBuf, usize) {
    let mut poses: Vec<_> = std::fs::read_dir(walk)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "json")
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("pose"))
        })
        .collect();
    poses.sort();
    poses.truncate(frames.unwrap_or(poses.len()));
    std::fs::create_dir_all(dir).unwrap();
    for p in &poses {
        std::fs::copy(p, dir.join(p.file_name().unwrap())).unwrap();
    }
    if let Some(rate) = rate {
        std::fs::write(
            dir.join("fit_report.json"),
            format!("{{\"rate_hz\": {rate}}}"),
        )
        .unwrap();
    }
    (dir.to_path_buf(), poses.len())
}

#[test]
fn explain_is_reproducible_with_dropout_and_rejects_bad_windows_and_rates() {
    let dir = tempfile::tempdir().unwrap();
    let cohort = synth(dir.path(), "4", "5");
    let stem = dir.path().join("tr");
    ok(&gaitlens(&[
        "train",
        "transformer",
        "--data",
        s(&cohort),
        "--out",
        s(&stem),
        "--interval",
        "16",
        "--stride",
        "64",
        "--epochs",
        "1",
        "--folds",
        "2",
        "--pfe-dim",
        "8",
        "--fc-dim",
        "8",
        "--ff-dim",
        "16",
        "--dropout",
        "0.5",
    ]));
    let card_path = stem.with_extension("json");
    let walk = cohort.join("sick/S001/walk_00");
    let explain = |sequence: &Path, extra: &[&str]| explain_with(&card_path, sequence, extra);

    // Dropout 0.5 is training only: the attention and LRP explanations and the track are the
    // same run after run (they were random with dropout active at inference).
    for rule in ["attention", "cp-lrp"] {
        let run = |k: usize| {
            let csv = dir.path().join(format!("{rule}{k}.csv"));
            let out = ok(&explain(
                &walk,
                &["--rule", rule, "--start", "3", "--out", s(&csv), "--track"],
            ));
            (out, std::fs::read_to_string(&csv).unwrap())
        };
        let (out1, csv1) = run(1);
        let (out2, csv2) = run(2);
        assert!(out1.contains("classification track"), "{out1}");
        assert_eq!(
            out1.replace(&format!("{rule}1.csv"), ""),
            out2.replace(&format!("{rule}2.csv"), ""),
            "{rule}"
        );
        assert_eq!(csv1, csv2, "{rule}");
    }

    // A start past the last window, even one that overflows start + window, is an error naming
    // the flag and the valid range.
    let (_, n) = pose_copy(&walk, &dir.path().join("count"), None, None);
    assert!(n > 16, "{n} frames");
    fails_with(
        &explain(&walk, &["--start", "18446744073709551615"]),
        &format!(
            "--start 18446744073709551615 is past the sequence's last window start {} ({n} \
             frames, window 16",
            n - 16
        ),
    );
    fails_with(
        &explain(&walk, &["--start", &(n - 15).to_string()]),
        &format!("last window start {}", n - 16),
    );
    ok(&explain(&walk, &["--start", &(n - 16).to_string()]));

    // A folder too short for one window says how many frames are needed.
    let (short, _) = pose_copy(&walk, &dir.path().join("short"), Some(10), None);
    fails_with(
        &explain(&short, &[]),
        "10 frames, too short for one window: the network needs 16 frames",
    );
    // At twice the card's 50 Hz a window spans 31 frames of the sequence.
    let (short100, _) = pose_copy(&walk, &dir.path().join("short100"), Some(20), Some("100"));
    fails_with(
        &explain(&short100, &[]),
        "20 frames, too short for one window: the network needs 31 frames",
    );
    let (at100, _) = pose_copy(&walk, &dir.path().join("at100"), None, Some("100"));
    let out = ok(&explain(&at100, &["--start", &(n - 31).to_string()]));
    assert!(out.contains("resampling"), "{out}");
    fails_with(
        &explain(&at100, &["--start", "18446744073709551615"]),
        &format!("last window start {} ({n} frames, window 31", n - 31),
    );

    // Absurd frame rates in the pose folder's fit report are errors naming the file and range.
    for rate in ["1e308", "1e-300", "0.5", "20000"] {
        let (bad, _) = pose_copy(
            &walk,
            &dir.path().join(format!("rate{rate}")),
            None,
            Some(rate),
        );
        let o = explain(&bad, &[]);
        fails_with(&o, "fit_report.json: rate_hz ");
        fails_with(
            &o,
            "is out of range (a finite frame rate from 1 to 10000 Hz)",
        );
    }

    // The same for the model card's rate, checked when the card is loaded (NaN is not JSON:
    // the card is rejected by its parser, naming the file).
    let text = std::fs::read_to_string(&card_path).unwrap();
    assert!(text.contains("\"rate_hz\": 50.0"), "{text}");
    for (rate, needle) in [
        (
            "1e-300",
            "rate_hz 1e-300 is out of range (a finite frame rate from 1 to 10000 Hz)",
        ),
        (
            "1e300",
            "rate_hz 1e300 is out of range (a finite frame rate from 1 to 10000 Hz)",
        ),
        ("NaN", "tr.json"),
    ] {
        std::fs::write(
            &card_path,
            text.replace("\"rate_hz\": 50.0", &format!("\"rate_hz\": {rate}")),
        )
        .unwrap();
        let o = explain(&walk, &[]);
        fails_with(&o, needle);
        fails_with(&o, "tr.json");
        let o = gaitlens(&["evaluate", "--network", s(&card_path), "--data", s(&cohort)]);
        fails_with(&o, needle);
    }
}

/// `gaitlens train` with no tuning flags uses the recommended preset and records it in the card;
/// `--preset original` records the original pipeline's settings; an explicit flag wins over
/// either preset.
#[test]
fn presets_are_recorded_and_explicit_flags_win() {
    let dir = tempfile::tempdir().unwrap();
    let cohort = synth(dir.path(), "6", "4");
    let card = |stem: &Path| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(stem.with_extension("json")).unwrap()).unwrap()
    };
    let small = ["--interval", "32", "--epochs", "1", "--folds", "3"];
    let recommended = dir.path().join("rec");
    let log = ok(&gaitlens(
        &[
            &[
                "train",
                "mlp",
                "--data",
                s(&cohort),
                "--out",
                s(&recommended),
            ][..],
            &small,
        ]
        .concat(),
    ));
    assert!(log.contains("preset Recommended"), "{log}");
    let c = card(&recommended);
    assert_eq!(c["training"]["optimizer"], "adam", "{c}");
    assert_eq!(c["training"]["lr"].as_f64(), Some(1e-3), "{c}");
    assert_eq!(c["training"]["lr_schedule"]["kind"], "warmup_cosine", "{c}");
    assert_eq!(c["training"]["use_pos_ratio"], true, "{c}");
    assert!(c["network"]["input_standardization"].is_object(), "{c}");
    assert_eq!(c["network"]["pelvis_relative_x"], true, "{c}");
    assert!(
        c["alignment_version"]
            .as_str()
            .unwrap()
            .contains("isotropic"),
        "{c}"
    );

    let original = dir.path().join("orig");
    ok(&gaitlens(
        &[
            &[
                "train",
                "mlp",
                "--data",
                s(&cohort),
                "--out",
                s(&original),
                "--preset",
                "original",
                "--lr",
                "5e-4",
            ][..],
            &small,
        ]
        .concat(),
    ));
    let c = card(&original);
    assert_eq!(c["training"]["optimizer"], "adopt", "{c}");
    assert_eq!(
        c["training"]["lr"].as_f64(),
        Some(5e-4),
        "explicit flag: {c}"
    );
    assert_eq!(
        c["training"]["calibration_fraction"].as_f64(),
        Some(0.0),
        "{c}"
    );
    assert!(c["network"]["input_standardization"].is_null(), "{c}");
    assert_eq!(c["network"]["pelvis_relative_x"], false, "{c}");
    assert!(c.get("calibration").is_none(), "{c}");
    // The original MLP script does not permute joints.
    assert_eq!(c["training"]["joint_permutations"].as_u64(), Some(0), "{c}");

    // The original transformer: PyTorch's attention init and two joint-permutation copies.
    let tiny = [
        "--interval",
        "8",
        "--stride",
        "16",
        "--epochs",
        "1",
        "--folds",
        "3",
        "--pfe-dim",
        "8",
        "--fc-dim",
        "8",
        "--ff-dim",
        "16",
    ];
    let transformer = dir.path().join("orig_tr");
    let log = ok(&gaitlens(
        &[
            &[
                "train",
                "transformer",
                "--data",
                s(&cohort),
                "--out",
                s(&transformer),
                "--preset",
                "original",
            ][..],
            &tiny,
        ]
        .concat(),
    ));
    let c = card(&transformer);
    assert_eq!(c["training"]["joint_permutations"].as_u64(), Some(2), "{c}");
    assert_eq!(c["network"]["attention_init"], "PyTorch", "{c}");
    assert!(log.contains("epoch   1"), "{log}");
    // Permuted copies are only the same input for the original architecture.
    let o = gaitlens(
        &[
            &[
                "train",
                "transformer",
                "--data",
                s(&cohort),
                "--out",
                s(&dir.path().join("bad")),
                "--joint-permutations",
                "2",
            ][..],
            &tiny,
        ]
        .concat(),
    );
    fails_with(&o, "original transformer only");
}

/// The asymmetry network end to end: trained by the CLI, its explanation names the detector that
/// decided and the features it read, `evaluate` does not list its gradient × input method twice,
/// and a bad weight decay is refused by name.
#[test]
fn the_asymmetry_network_reads_out_its_features_and_evaluates_without_a_duplicate_control() {
    let dir = tempfile::tempdir().unwrap();
    let cohort = synth(dir.path(), "6", "4");
    let stem = dir.path().join("asym");
    let train = |extra: &[&str]| {
        let small = ["--stride", "16", "--epochs", "1", "--folds", "3"];
        train_with("asymmetry", &cohort, &stem, &[&small[..], extra].concat())
    };
    fails_with(&train(&["--weight-decay=-1"]), "weight decay");
    ok(&train(&["--weight-decay", "0.01"]));
    let card_path = stem.with_extension("json");
    assert_eq!(
        read_json(&card_path)["training"]["weight_decay"].as_f64(),
        Some(0.01)
    );
    let walk = cohort.join("healthy").join("S000").join("walk_00");
    let out = ok(&explain_with(&card_path, &walk, &[]));
    assert!(
        out.contains("detector decides; what it read most:"),
        "{out}"
    );
    assert!(out.contains("° (") && out.contains("SD), "), "{out}");
    assert!(out.contains("to the logit"), "{out}");
    let out = ok(&evaluate_with(&card_path, &cohort, &[]));
    assert!(out.contains("recommended-normative"), "{out}");
    assert!(!out.contains("control:gradxinput-normative"), "{out}");
    assert!(
        out.contains("gradient × input control is left out"),
        "{out}"
    );
    // The opt-in pelvis features are recorded and read out; other networks refuse the flag.
    fails_with(
        &train_with("mlp", &cohort, &stem, &["--pelvic-obliquity", "true"]),
        "asymmetry network only",
    );
    ok(&train(&["--pelvic-obliquity", "true"]));
    assert_eq!(
        read_json(&card_path)["network"]["pelvic_obliquity"].as_bool(),
        Some(true)
    );
    let out = ok(&explain_with(&card_path, &walk, &["--start", "0"]));
    assert!(out.contains("what it read most:"), "{out}");
}
