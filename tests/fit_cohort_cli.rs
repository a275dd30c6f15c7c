//! `gaitlens fit --cohort`: original output layout, sharding, and skipping finished trials.

use std::path::Path;
use std::process::Command;

#[test]
fn cohort_fit_writes_layout_shards_and_resumes() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/c3d");
    for f in ["sample32_vicon_zerowire.c3d", "PiG_Motion3_FF.c3d"] {
        assert!(
            shared.join(f).exists(),
            "missing shared data file {}",
            shared.join(f).display()
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let cohort = dir.path().join("cohort.json");
    let json = format!(
        r#"{{"s1": {{"constraint_file": "./none.json", "gaits": ["{}"], "healthy": true, "constrained_model": false, "model_file": "default"}},
            "s2": {{"constraint_file": "./none.json", "gaits": ["{}"], "healthy": false, "constrained_model": false, "model_file": "default"}}}}"#,
        shared.join("sample32_vicon_zerowire.c3d").display(),
        shared.join("PiG_Motion3_FF.c3d").display()
    );
    std::fs::write(&cohort, json).unwrap();
    let out = dir.path().join("out");
    let run = |extra: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_gaitlens"))
            .args(["fit", "--cohort"])
            .arg(&cohort)
            .arg("--out")
            .arg(&out)
            .args(extra)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "fit failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
    };
    run(&["--shard", "0/2"]);
    let healthy = out.join("healthy/s1/sample32_vicon_zerowire");
    let sick = out.join("sick/s2/PiG_Motion3_FF");
    assert!(healthy.join("pose_00000.json").exists() && healthy.join("fit_report.json").exists());
    assert!(!sick.exists(), "shard 0/2 must not fit the second trial");
    let log = run(&[]);
    assert!(sick.join("pose_00000.json").exists());
    assert!(
        log.contains("up to date, skipped"),
        "finished trial not skipped: {log}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(healthy.join("fit_report.json")).unwrap())
            .unwrap();
    assert!(
        report["input_fingerprint"]
            .as_str()
            .unwrap()
            .starts_with("fnv1a64:")
    );
    assert!(report["totals"]["median_rmse_m"].as_f64().unwrap() < 0.012);
    // The fitted cohort is a training dataset as it stands: the reports beside the poses are
    // skipped, and they give each trial's frame rate for the model card.
    let seqs =
        gaitlens::dataset::load_joint_dataset(&out, gaitlens::body::default_model::default_body())
            .expect("a fitted cohort loads as a joint dataset");
    assert_eq!(seqs.len(), 2);
    for s in &seqs {
        let rate = s.rate_hz.expect("rate from fit_report.json");
        assert!(rate > 0.0, "{}: rate {rate}", s.gait);
        assert_eq!(Some(rate), report_rate(&out, s));
    }
}

fn report_rate(out: &Path, s: &gaitlens::dataset::JointSequence) -> Option<f64> {
    let class = if s.sick { "sick" } else { "healthy" };
    let text = std::fs::read_to_string(
        out.join(class)
            .join(&s.subject)
            .join(&s.gait)
            .join("fit_report.json"),
    )
    .ok()?;
    serde_json::from_str::<serde_json::Value>(&text).ok()?["rate_hz"].as_f64()
}
