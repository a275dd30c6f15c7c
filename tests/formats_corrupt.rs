//! Corrupted inputs for the non-C3D readers, seeded with the real OpenPose zips, cohort and
//! constraint files and the committed TRC / pose fixtures: truncations, byte flips and values
//! of the wrong type must give an error or a valid result, never a panic.

use std::io::{Read, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use gaitlens::formats::cohort::parse_cohort;
use gaitlens::formats::constraints::parse_constraints;
use gaitlens::formats::openpose::{TrackerConfig, parse_openpose_frame, read_openpose_zip_bytes};
use gaitlens::formats::pose_seq::{parse_pose_json, parse_pose_txt};
use gaitlens::formats::trc::parse_trc;

fn data(rel: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data")
        .join(rel);
    assert!(p.is_file(), "real data file missing: {}", p.display());
    p
}

fn fixture(rel: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel);
    assert!(p.is_file(), "fixture missing: {}", p.display());
    p
}

/// Small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Truncations and byte flips of `seed`; counts (ok, err) and fails on any panic.
fn mutate_bytes(
    name: &str,
    seed: &[u8],
    cases: usize,
    parse: &dyn Fn(&[u8]) -> bool,
) -> (usize, usize) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ seed.len() as u64);
    let (mut ok, mut err) = (0, 0);
    let mut run =
        |bytes: Vec<u8>, what: String| match catch_unwind(AssertUnwindSafe(|| parse(&bytes))) {
            Ok(true) => ok += 1,
            Ok(false) => err += 1,
            Err(_) => panic!("{name}: reader panicked on {what}"),
        };
    for i in 0..cases {
        let cut = rng.below(seed.len() + 1);
        run(seed[..cut].to_vec(), format!("truncation to {cut} bytes"));
        let mut b = seed.to_vec();
        let flips = 1 + i % 4;
        let mut at = Vec::new();
        for _ in 0..flips {
            let p = rng.below(b.len());
            b[p] ^= 1 << rng.below(8);
            at.push(p);
        }
        run(b, format!("bit flips at {at:?}"));
        let mut b = seed.to_vec();
        let p = rng.below(b.len());
        b[p] = [
            b'{', b'}', b'[', b']', b'"', b',', b':', b'-', b'e', b'\t', b'\n', 0xFF,
        ][rng.below(12)];
        run(b, format!("byte replaced at {p}"));
    }
    (ok, err)
}

/// Replaces random JSON values of `seed` by values of other types; counts (ok, err).
fn mutate_types(
    name: &str,
    seed: &[u8],
    cases: usize,
    parse: &dyn Fn(&[u8]) -> bool,
) -> (usize, usize) {
    let root: serde_json::Value = serde_json::from_slice(seed).unwrap();
    // Collect JSON pointers of all nodes.
    fn walk(v: &serde_json::Value, at: String, out: &mut Vec<String>) {
        out.push(at.clone());
        match v {
            serde_json::Value::Array(a) => a
                .iter()
                .enumerate()
                .for_each(|(i, x)| walk(x, format!("{at}/{i}"), out)),
            serde_json::Value::Object(m) => m.iter().for_each(|(k, x)| {
                walk(
                    x,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                )
            }),
            _ => {}
        }
    }
    let mut ptrs = Vec::new();
    walk(&root, String::new(), &mut ptrs);
    let replacements = [
        serde_json::json!(null),
        serde_json::json!(true),
        serde_json::json!("text"),
        serde_json::json!([]),
        serde_json::json!({}),
        serde_json::json!(-1),
        serde_json::json!(1e308),
        serde_json::json!(0.5),
        serde_json::json!([[1, 2], {"a": null}]),
    ];
    let mut rng = Rng(0xD1B5_4A32_D192_ED03 ^ ptrs.len() as u64);
    let (mut ok, mut err) = (0, 0);
    for _ in 0..cases {
        let ptr = &ptrs[rng.below(ptrs.len())];
        let mut v = root.clone();
        *v.pointer_mut(ptr).unwrap() = replacements[rng.below(replacements.len())].clone();
        let bytes = serde_json::to_vec(&v).unwrap();
        match catch_unwind(AssertUnwindSafe(|| parse(&bytes))) {
            Ok(true) => ok += 1,
            Ok(false) => err += 1,
            Err(_) => panic!("{name}: reader panicked with {ptr:?} replaced"),
        }
    }
    (ok, err)
}

/// The first `n` frame files of a zip plus every multi-person frame among the first 400 entries.
fn zip_frames(path: &Path, n: usize) -> Vec<(String, Vec<u8>)> {
    let mut z = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut out = Vec::new();
    for i in 0..z.len().min(400) {
        let mut f = z.by_index(i).unwrap();
        let name = f.name().to_string();
        let mut b = Vec::new();
        f.read_to_end(&mut b).unwrap();
        let multi = String::from_utf8_lossy(&b)
            .matches("pose_keypoints_2d")
            .count()
            > 1;
        if out.len() < n || multi {
            out.push((name, b));
        }
    }
    out
}

fn small_zip(frames: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, b) in frames {
        w.start_file(name.as_str(), opts).unwrap();
        w.write_all(b).unwrap();
    }
    w.finish().unwrap().into_inner()
}

#[test]
fn openpose_frames_and_zips_never_panic() {
    let frames_norm = zip_frames(&data("openpose/openpose_norm.zip"), 12);
    let frames_gait = zip_frames(&data("openpose/openpose_gait.zip"), 4);
    let mut total = (0, 0);
    for (name, bytes) in frames_norm.iter().take(6).chain(frames_gait.iter().take(2)) {
        let parse = |b: &[u8]| parse_openpose_frame(b, name).is_ok();
        assert!(parse(bytes), "{name} must parse unmodified");
        let a = mutate_bytes(name, bytes, 200, &parse);
        let b = mutate_types(name, bytes, 200, &parse);
        total = (total.0 + a.0 + b.0, total.1 + a.1 + b.1);
    }
    let zip_bytes = small_zip(&frames_norm);
    let label = Path::new("mutated.zip");
    let cfg = TrackerConfig::default();
    let parse = |b: &[u8]| read_openpose_zip_bytes(b, label, &cfg).is_ok();
    assert!(parse(&zip_bytes));
    let z = mutate_bytes("zip", &zip_bytes, 300, &parse);
    println!("openpose: frames ok/err {total:?}, zip ok/err {z:?}");
    assert!(total.1 > 0 && z.1 > 0, "corruptions must be detected");
}

#[test]
fn cohort_and_constraints_never_panic() {
    let cohort = std::fs::read(data("formats/example_cohort.json")).unwrap();
    let p = Path::new("/x/cohort.json");
    let parse = |b: &[u8]| parse_cohort(b, p).is_ok();
    let a = mutate_bytes("cohort", &cohort, 500, &parse);
    let b = mutate_types("cohort", &cohort, 500, &parse);
    println!("cohort ok/err bytes {a:?} types {b:?}");
    assert!(a.1 > 0 && b.1 > 0);

    let cons = std::fs::read(data("formats/3dbodytwin_default_constraints.json")).unwrap();
    let p = Path::new("c.json");
    let parse = |b: &[u8]| parse_constraints(b, p).is_ok();
    let a = mutate_bytes("constraints", &cons, 200, &parse);
    let b = mutate_types("constraints", &cons, 600, &parse);
    println!("constraints ok/err bytes {a:?} types {b:?}");
    assert!(a.1 > 0 && b.1 > 0);
}

#[test]
fn trc_and_pose_files_never_panic() {
    let trc = std::fs::read(fixture("trc/opensim_style.trc")).unwrap();
    let p = Path::new("t.trc");
    let parse = |b: &[u8]| parse_trc(&String::from_utf8_lossy(b), p).is_ok();
    let a = mutate_bytes("trc", &trc, 1000, &parse);
    println!("trc ok/err {a:?}");
    assert!(a.1 > 0);

    let json = std::fs::read(fixture("pose_seq/both/pose_00001.json")).unwrap();
    let p = Path::new("pose_00001.json");
    let parse = |b: &[u8]| parse_pose_json(b, p).is_ok();
    let a = mutate_bytes("pose json", &json, 300, &parse);
    let b = mutate_types("pose json", &json, 500, &parse);
    println!("pose json ok/err bytes {a:?} types {b:?}");
    assert!(a.1 > 0 && b.1 > 0);

    let txt = std::fs::read(fixture("pose_seq/both/pose_00001.txt")).unwrap();
    let p = Path::new("pose_00001.txt");
    let parse = |b: &[u8]| parse_pose_txt(&String::from_utf8_lossy(b), p).is_ok();
    let a = mutate_bytes("pose txt", &txt, 600, &parse);
    println!("pose txt ok/err {a:?}");
    assert!(a.1 > 0);
}

// ---------------------------------------------------------------------------------------------
// Non-finite and absurd values (issue 26, hardening).

use gaitlens::formats::pose_seq::{
    PoseFileFormat, PoseSeqError, PoseSequence, read_pose_dir, write_pose_dir,
};
use gaitlens::formats::trc::TrcError;

#[test]
fn trc_data_rate_must_be_finite_and_plausible() {
    let text = std::fs::read_to_string(fixture("trc/opensim_style.trc")).unwrap();
    let p = Path::new("rate.trc");
    assert_eq!(parse_trc(&text, p).unwrap().rate_hz, 100.0);
    let line3 = text.lines().nth(2).unwrap();
    assert!(line3.starts_with("100.00\t"), "{line3}");
    for bad in [
        "1e-300", "0", "-100", "NaN", "inf", "-inf", "1e400", "0.01", "1e9",
    ] {
        let t = text.replacen(line3, &line3.replacen("100.00", bad, 1), 1);
        let e = parse_trc(&t, p).expect_err(bad);
        let msg = e.to_string();
        assert!(
            matches!(
                e,
                TrcError::Number {
                    line: 3,
                    column: 1,
                    ..
                }
            ) && msg.contains("rate.trc")
                && msg.contains("DataRate"),
            "DataRate {bad}: {msg}"
        );
    }
}

fn replace_first_number(json: &str, key: &str, with: &str) -> String {
    // The first number after `"key": [\n [\n`.
    let k = json.find(&format!("\"{key}\"")).unwrap();
    let start = k + json[k..]
        .find(|c: char| c == '-' || c.is_ascii_digit())
        .unwrap();
    let end = start + json[start..].find([',', '\n']).unwrap();
    format!("{}{with}{}", &json[..start], &json[end..])
}

#[test]
fn pose_files_reject_non_finite_values_with_file_and_position() {
    let json = std::fs::read_to_string(fixture("pose_seq/both/pose_00001.json")).unwrap();
    let p = Path::new("pose_00001.json");
    assert!(parse_pose_json(json.as_bytes(), p).is_ok());
    for key in ["betas", "pose", "translation"] {
        for bad in ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"] {
            let j = replace_first_number(&json, key, bad);
            let e = parse_pose_json(j.as_bytes(), p).expect_err(bad);
            let msg = e.to_string();
            assert!(
                matches!(e, PoseSeqError::NonFinite { .. })
                    && msg.contains("pose_00001.json")
                    && msg.contains(&format!("{key}[0][0]")),
                "{key} = {bad}: {msg}"
            );
        }
    }
    let txt = std::fs::read_to_string(fixture("pose_seq/both/pose_00001.txt")).unwrap();
    let p = Path::new("pose_00001.txt");
    assert!(parse_pose_txt(&txt, p).is_ok());
    let tokens: Vec<&str> = txt.split_whitespace().collect();
    for bad in ["nan", "NaN", "inf", "-inf", "infinity", "1e400"] {
        let mut t = tokens.clone();
        t[7] = bad;
        let e = parse_pose_txt(&t.join(" "), p).expect_err(bad);
        let msg = e.to_string();
        assert!(
            matches!(e, PoseSeqError::NonFinite { .. })
                && msg.contains("pose_00001.txt")
                && msg.contains("value 7"),
            "{bad}: {msg}"
        );
    }
}

#[test]
fn pose_writer_refuses_non_finite_values_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let good = read_pose_dir(fixture("pose_seq/both/pose_00001.json").parent().unwrap()).unwrap();
    for (what, v) in [
        ("NaN", f64::NAN),
        ("Inf", f64::INFINITY),
        ("-Inf", f64::NEG_INFINITY),
    ] {
        for field in 0..3 {
            let mut seq: PoseSequence = good.clone();
            let last = seq.num_frames() - 1;
            match field {
                0 => seq.betas[last][3] = v,
                1 => seq.poses[last][5] = v,
                _ => seq.translations[last][2] = v,
            }
            for format in [PoseFileFormat::Json, PoseFileFormat::Txt] {
                let out = dir.path().join(format!("{what}_{field}_{format:?}"));
                let e = write_pose_dir(&out, &seq, format).expect_err(what);
                assert!(matches!(e, PoseSeqError::Invalid { .. }), "{e}");
                let msg = e.to_string();
                assert!(
                    msg.contains(&out.display().to_string()) && msg.contains("finite"),
                    "{msg}"
                );
                let written = std::fs::read_dir(&out).map(|d| d.count()).unwrap_or(0);
                assert_eq!(written, 0, "{what}: files written before the error");
            }
        }
    }
}
