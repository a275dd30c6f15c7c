//! The C3D reader against reference values extracted with ezc3d (scripts/c3d_reference.py) from
//! every shared file: labels, rate, frame count, coordinates, gaps, events, subject parameters.

use std::path::{Path, PathBuf};

use gaitlens::formats::c3d::{parse_c3d_file, read_c3d, to_trial};
use serde_json::Value;

fn data(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/c3d")
        .join(name);
    assert!(p.exists(), "missing shared data file {}", p.display());
    p
}

fn reference(name: &str) -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/c3d_reference")
        .join(name.replace(".c3d", ".json"));
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap()
}

const FILES: [&str; 9] = [
    "PiG_Calibration-FlatFoot-Full.c3d",
    "PiG_Calibration3_FF.c3d",
    "PiG_Motion-FlatFoot-Full.c3d",
    "PiG_Motion3_FF.c3d",
    "sample03_gait-pig.c3d",
    "sample03_gait-raw.c3d",
    "sample23_Vicon_analysis.c3d",
    "sample32_vicon_zerowire.c3d",
    "treadmill_events.c3d",
];

#[test]
fn every_shared_file_matches_ezc3d() {
    for name in FILES {
        let path = data(name);
        let r = reference(name);
        let bytes = std::fs::read(&path).unwrap();
        let file = parse_c3d_file(&bytes, &path).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            file.points.len() as u64,
            r["frames"].as_u64().unwrap(),
            "{name}: frames"
        );
        assert!(
            (file.rate_hz - r["rate_hz"].as_f64().unwrap()).abs() < 1e-6,
            "{name}: rate"
        );
        assert_eq!(
            file.first_frame,
            r["first_frame"].as_i64().unwrap(),
            "{name}: first frame"
        );
        let labels: Vec<String> = file.labels.iter().map(|l| l.trim().to_string()).collect();
        let want: Vec<String> = r["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap().to_string())
            .collect();
        assert_eq!(labels, want, "{name}: labels");
        for s in r["samples"].as_array().unwrap() {
            let label = s["label"].as_str().unwrap();
            let f = s["frame"].as_u64().unwrap() as usize;
            let i = labels.iter().position(|l| l == label).unwrap();
            let got = file.points[f][i];
            match (&s["xyz"], got) {
                (Value::Null, None) => {}
                (Value::Array(x), Some(g)) => {
                    for k in 0..3 {
                        let w = x[k].as_f64().unwrap();
                        assert!(
                            // 1e-3 file units (mm in all shared files) = 1e-6 m.
                            (g[k] - w).abs() <= 1e-3,
                            "{name} {label} frame {f}: {g:?} vs {x:?}"
                        );
                    }
                }
                (w, g) => panic!("{name} {label} frame {f}: ezc3d {w} vs ours {g:?}"),
            }
        }
        if let Value::Object(g) = &r["gap"] {
            let i = labels
                .iter()
                .position(|l| l == g["label"].as_str().unwrap())
                .unwrap();
            let f = g["frame"].as_u64().unwrap() as usize;
            assert!(
                file.points[f][i].is_none(),
                "{name}: gap at {} frame {f} read as a coordinate",
                labels[i]
            );
        }
        let trial = to_trial(&file);
        let gaps = trial.gap_fraction();
        eprintln!(
            "{name}: {} markers, {} frames @ {} Hz, gaps {:.1} %, {} events, {} model outputs",
            trial.marker_labels.len(),
            trial.num_frames(),
            trial.rate_hz,
            100.0 * gaps.iter().sum::<f64>() / gaps.len().max(1) as f64,
            trial.events.len(),
            trial.model_outputs.len()
        );
        if let Value::Object(ev) = &r["events"]
            && ev.contains_key("times_s")
        {
            let mut want: Vec<(f64, String, String)> = ev["times_s"]
                .as_array()
                .unwrap()
                .iter()
                .zip(ev["labels"].as_array().unwrap())
                .zip(ev["contexts"].as_array().unwrap())
                .map(|((t, l), c)| {
                    (
                        t.as_f64().unwrap(),
                        l.as_str().unwrap().into(),
                        c.as_str().unwrap().into(),
                    )
                })
                .collect();
            want.sort_by(|a, b| a.0.total_cmp(&b.0));
            assert_eq!(trial.events.len(), want.len(), "{name}: events");
            for (e, w) in trial.events.iter().zip(&want) {
                assert!(
                    (e.time_s - w.0).abs() < 1e-4 && e.label == w.1 && e.context == w.2,
                    "{name}: {e:?} vs {w:?}"
                );
            }
        }
        for (k, v) in r["processing"].as_object().unwrap() {
            let got = trial.subject_params.get(k).copied();
            assert!(
                got.is_some_and(|g| (g - v.as_f64().unwrap()).abs() < 1e-3),
                "{name}: PROCESSING:{k} = {got:?}, ezc3d {v}"
            );
        }
        for a in r["angles"].as_array().unwrap() {
            let a = gaitlens::formats::trial::strip_prefix(a.as_str().unwrap());
            assert!(
                trial.model_output(a).is_some(),
                "{name}: model output {a} missing"
            );
            assert!(
                trial.marker_index(a).is_none(),
                "{name}: model output {a} listed as a marker"
            );
        }
    }
}

#[test]
fn markers_are_in_metres_and_prefixes_become_the_subject() {
    let t = read_c3d(&data("sample03_gait-raw.c3d")).unwrap();
    assert_eq!(t.rate_hz, 50.0);
    assert!(
        t.subject.as_deref() == Some("A22"),
        "subject {:?}",
        t.subject
    );
    assert!(t.marker_index("LASI").is_some());
    let t = read_c3d(&data("PiG_Motion-FlatFoot-Full.c3d")).unwrap();
    let i = t.marker_index("LASI").unwrap();
    let z: Vec<f64> = t
        .markers_m
        .iter()
        .filter_map(|f| f[i])
        .map(|p| p[2])
        .collect();
    let mean = z.iter().sum::<f64>() / z.len() as f64;
    assert!((0.7..1.2).contains(&mean), "LASI height {mean} m");
    assert_eq!(t.subject_params.get("Bodymass"), Some(&47.5));
    let k = t.model_output("LKneeAngles").unwrap();
    assert_eq!(k.values.len(), t.num_frames());
    let max = k
        .values
        .iter()
        .flatten()
        .map(|v| v[0])
        .fold(f64::MIN, f64::max);
    assert!((40.0..80.0).contains(&max), "peak knee flexion {max} deg");
}

#[test]
fn gaps_in_sample23_are_missing_not_zero() {
    let t = read_c3d(&data("sample23_Vicon_analysis.c3d")).unwrap();
    let gaps: f64 = t.gap_fraction().iter().sum::<f64>() / t.marker_labels.len() as f64;
    assert!(gaps > 0.2, "expected many gaps, found {gaps}");
    for f in &t.markers_m {
        for p in f.iter().flatten() {
            assert!(p != &[0.0, 0.0, 0.0]);
        }
    }
}
