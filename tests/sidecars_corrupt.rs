//! In-CI mutation tests of every model card and side file (issue 26): a few hundred deterministic
//! mutations each of the bundled marker and video cards, a real `fit_report.json`, a synth
//! cohort's `ground_truth.json`, the shared cohort list and 3D Body Twin constraints, and the
//! Schwartz 2008 normative table. Every mutation must give a typed error or a value that is sane
//! (finite numbers, indices in range) — never a panic. The long, random version of this is
//! `scripts/mutation_replay.py` and the `cargo fuzz` targets in `fuzz/`.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::Command;

use gaitlens::formats::cohort::parse_cohort;
use gaitlens::formats::constraints::parse_constraints;
use gaitlens::formats::pose_seq::{check_fit_report_text, sidecar_rate_hz};
use gaitlens::gait::normative::NormativeTable;
use gaitlens::synth::parse_ground_truth;
use serde_json::Value;

fn repo(rel: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    assert!(p.is_file(), "file missing: {}", p.display());
    p
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// JSON tokens a hostile or broken writer might put where a value was.
const TOKENS: &[&str] = &[
    "0",
    "-1",
    "1e308",
    "-1e308",
    "1e-300",
    "1e400",
    "18446744073709551615",
    "-9223372036854775809",
    "0.5",
    "\"x\"",
    "null",
    "[]",
    "{}",
    "true",
];

/// JSON pointers of every leaf of `v` (numbers, strings, booleans, nulls).
fn leaves(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => m.iter().for_each(|(k, c)| {
            leaves(
                c,
                format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                out,
            )
        }),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, c)| leaves(c, format!("{at}/{i}"), out)),
        _ => out.push(at),
    }
}

/// Deterministic mutations of a JSON document: up to `max_leaves` leaves (evenly spread over
/// the document) each replaced by every token of [`TOKENS`], every top-level field removed,
/// truncations, and byte flips.
fn json_mutations(bytes: &[u8], max_leaves: usize) -> Vec<Vec<u8>> {
    let doc: Value = serde_json::from_slice(bytes).expect("seed parses");
    let mut paths = Vec::new();
    leaves(&doc, String::new(), &mut paths);
    let step = paths.len().div_ceil(max_leaves).max(1);
    let mut out = Vec::new();
    for path in paths.iter().step_by(step) {
        for token in TOKENS {
            let mut d = doc.clone();
            *d.pointer_mut(path).expect("leaf exists") = Value::String("\u{1}HOLE\u{1}".into());
            let text = serde_json::to_string(&d).expect("serialises");
            out.push(text.replace("\"\\u0001HOLE\\u0001\"", token).into_bytes());
        }
    }
    if let Value::Object(m) = &doc {
        for key in m.keys() {
            let mut d = doc.clone();
            d.as_object_mut().expect("object").remove(key);
            out.push(serde_json::to_vec(&d).expect("serialises"));
        }
    }
    out.extend(byte_mutations(bytes, 40));
    out
}

/// Truncations at ten points and `flips` single-byte changes at positions from a fixed LCG.
fn byte_mutations(bytes: &[u8], flips: usize) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = (0..10)
        .map(|k| bytes[..bytes.len() * k / 10].to_vec())
        .collect();
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    for _ in 0..flips {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let mut m = bytes.to_vec();
        let at = (state >> 33) as usize % m.len().max(1);
        if let Some(b) = m.get_mut(at) {
            *b = [b'9', b'-', b'"', b'e', b'{', 0xFF][(state >> 20) as usize % 6];
        }
        out.push(m);
    }
    out
}

/// Runs `check` on every case, collecting panics and failed checks with the case's index.
fn no_panic(what: &str, cases: &[Vec<u8>], check: impl Fn(&[u8]) -> Result<(), String>) {
    assert!(cases.len() >= 50, "{what}: only {} cases", cases.len());
    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        match catch_unwind(AssertUnwindSafe(|| check(case))) {
            Ok(Ok(())) => {}
            Ok(Err(why)) => failures.push(format!("case {i}: {why}")),
            Err(_) => failures.push(format!(
                "case {i}: PANIC on {}",
                String::from_utf8_lossy(&case[..case.len().min(300)])
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{what}: {} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn mutated_marker_cards_are_refused_or_sane() {
    let seed = read(&repo("assets/demo_network.json"));
    let cases = json_mutations(&seed, 40);
    no_panic("marker card", &cases, |bytes| {
        let Ok(card) = gaitlens::train::checkpoint::parse_card(bytes, Path::new("card.json"))
        else {
            return Ok(());
        };
        if card.interval == 0 || card.joints == 0 {
            return Err(format!("accepted {} × {}", card.interval, card.joints));
        }
        if let Some(r) = card.rate_hz
            && !(r.is_finite() && r > 0.0)
        {
            return Err(format!("accepted rate_hz {r}"));
        }
        let window = vec![0.1_f32; card.interval * card.joints * 3];
        match card.domain_check(&window) {
            Some(c) if c.distance.is_nan() || !c.threshold.is_finite() => Err(format!(
                "domain check gives distance {} threshold {}",
                c.distance, c.threshold
            )),
            _ => Ok(()),
        }
    });
}

#[test]
fn mutated_video_cards_are_refused_or_sane() {
    let seed = read(&repo("assets/demo_video_network.json"));
    let cases = json_mutations(&seed, 40);
    no_panic(
        "video card",
        &cases,
        |bytes| match gaitlens::video::training::parse_card(bytes, Path::new("video.json")) {
            Ok(c) if !(c.target_min.is_finite() && c.target_range.is_finite()) => Err(format!(
                "accepted target {} + {}",
                c.target_min, c.target_range
            )),
            _ => Ok(()),
        },
    );
}

/// A real `fit_report.json`: three frames of a shared walk fitted by the binary.
fn real_fit_report(dir: &Path) -> Vec<u8> {
    let c3d = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/c3d/PiG_Motion-FlatFoot-Full.c3d");
    assert!(c3d.is_file(), "real data file missing: {}", c3d.display());
    let out = dir.join("fit");
    let run = Command::new(env!("CARGO_BIN_EXE_gaitlens"))
        .args([
            "fit",
            &c3d.display().to_string(),
            "--max-frames",
            "3",
            "--out",
        ])
        .arg(&out)
        .output()
        .expect("gaitlens runs");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    read(&out.join("fit_report.json"))
}

#[test]
fn mutated_fit_reports_are_refused_or_sane() {
    let dir = tempfile::tempdir().unwrap();
    let seed = real_fit_report(dir.path());
    let cases = json_mutations(&seed, 30);
    let folder = dir.path().join("mutated");
    std::fs::create_dir(&folder).unwrap();
    no_panic("fit_report.json", &cases, |bytes| {
        let _ = check_fit_report_text(&String::from_utf8_lossy(bytes), 3).to_string();
        std::fs::write(folder.join("fit_report.json"), bytes).map_err(|e| e.to_string())?;
        match sidecar_rate_hz(&folder) {
            Some(r) if !(r.is_finite() && r > 0.0) => Err(format!("rate {r} accepted")),
            _ => Ok(()),
        }
    });
}

#[test]
fn mutated_ground_truth_is_refused_or_sane() {
    let dir = tempfile::tempdir().unwrap();
    let cohort = dir.path().join("cohort");
    let run = Command::new(env!("CARGO_BIN_EXE_gaitlens"))
        .args(["synth", "--subjects", "2", "--trials", "1", "--out"])
        .arg(&cohort)
        .output()
        .expect("gaitlens runs");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let seed = read(&cohort.join("ground_truth.json"));
    let cases = json_mutations(&seed, 30);
    no_panic("ground_truth.json", &cases, |bytes| {
        let Ok(truth) = parse_ground_truth(bytes, Path::new("ground_truth.json")) else {
            return Ok(());
        };
        for t in &truth {
            let joints = [t.joints_in_window(true), t.limb_in_window(true)].concat();
            if joints.iter().any(|&j| j >= 22) || !(0.0..=1.0).contains(&t.severity) {
                return Err(format!(
                    "accepted joints {joints:?} severity {}",
                    t.severity
                ));
            }
        }
        Ok(())
    });
}

#[test]
fn mutated_cohort_lists_and_constraints_are_refused_or_parsed() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/formats");
    let cohort = data.join("example_cohort.json");
    let constraints = data.join("3dbodytwin_default_constraints.json");
    for p in [&cohort, &constraints] {
        assert!(p.is_file(), "real data file missing: {}", p.display());
    }
    no_panic(
        "cohort list",
        &json_mutations(&read(&cohort), 30),
        |bytes| {
            let _ = parse_cohort(bytes, &cohort);
            Ok(())
        },
    );
    no_panic(
        "constraints",
        &json_mutations(&read(&constraints), 40),
        |bytes| match parse_constraints(bytes, &constraints) {
            Ok(c)
                if c.markers
                    .markers
                    .iter()
                    .any(|m| !m.distance_to_skin_m.is_finite()) =>
            {
                Err("non-finite distance to skin accepted".into())
            }
            _ => Ok(()),
        },
    );
}

#[test]
fn mutated_normative_tables_are_refused_or_parsed() {
    let seed = read(&repo("assets/normative/schwartz2008_kinematics.csv"));
    let text = String::from_utf8(seed.clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut cases = byte_mutations(&seed, 60);
    // Each of a few rows with one field replaced by a hostile value.
    for row in (1..lines.len()).step_by(lines.len() / 12 + 1) {
        for field in 0..5 {
            for token in ["nan", "inf", "-1e400", "1e300", "", "x", "-5", "1,2"] {
                let mut f: Vec<String> = lines[row].split(',').map(String::from).collect();
                if let Some(slot) = f.get_mut(field) {
                    *slot = token.to_string();
                }
                let mut l: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
                l[row] = f.join(",");
                cases.push(l.join("\n").into_bytes());
            }
        }
    }
    no_panic("normative table", &cases, |bytes| {
        let _ = NormativeTable::parse(&String::from_utf8_lossy(bytes), Path::new("n.csv"));
        Ok(())
    });
}
