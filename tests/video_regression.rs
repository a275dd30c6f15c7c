//! The GDI (regression) path of `gaitlens video train --task gdi` on real OpenPose keypoints with
//! a labels CSV of synthetic targets computed from the keypoints themselves: the real clips of
//! `../shared/data/openpose` are cut into 75-frame sub-clips, each labelled with its mean
//! ankle-below-knee vertical extent in trunk lengths (a stand-in for a clinical score; no GDI
//! labels exist in the shared data). Training uses the sub-clips of 15 walkers, the test the
//! sub-clips of 5 other walkers never seen in training.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use gaitlens::formats::openpose::read_openpose_dir;
use gaitlens::video::eval::pearson;

const SUB: usize = 75;
const TEST_WALKERS: [&str; 5] = ["gait2", "gait5", "vid2", "vid8", "vid12"];

fn shared_zip(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/openpose")
        .join(name);
    assert!(p.exists(), "missing shared data file {}", p.display());
    p
}

/// Cuts every clip of a zip into `SUB`-frame sub-clip folders `<clip>s<k>/` under `train` or
/// `test` (by walker); frame files renumbered from 0.
fn cut(zip_name: &str, train: &Path, test: &Path) {
    let path = shared_zip(zip_name);
    let mut z = zip::ZipArchive::new(std::fs::File::open(&path).unwrap()).unwrap();
    let mut files: Vec<(String, u64, Vec<u8>)> = Vec::new();
    for i in 0..z.len() {
        let mut e = z.by_index(i).unwrap();
        let name = e.name().to_string();
        let Some((clip, file)) = name.split_once('/') else {
            continue;
        };
        if clip == "vid15" || !file.ends_with("_keypoints.json") {
            continue; // vid15 is a byte copy of vid14
        }
        let n = gaitlens::formats::openpose::frame_number_from_name(file).unwrap();
        let mut b = Vec::new();
        e.read_to_end(&mut b).unwrap();
        files.push((clip.to_string(), n, b));
    }
    files.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    let mut idx = 0;
    let mut last = String::new();
    for (clip, _, bytes) in files {
        if clip != last {
            idx = 0;
            last = clip.clone();
        }
        let (k, f) = (idx / SUB, idx % SUB);
        idx += 1;
        let root = if TEST_WALKERS.contains(&clip.as_str()) {
            test
        } else {
            train
        };
        let sub = format!("{clip}s{k}");
        std::fs::create_dir_all(root.join(&sub)).unwrap();
        std::fs::write(
            root.join(&sub)
                .join(format!("{sub}_{f:012}_keypoints.json")),
            bytes,
        )
        .unwrap();
    }
}

/// Mean over frames of (ankle y − knee y), both legs, divided by the mean Neck–MidHip distance;
/// `None` when fewer than half the frames have the keypoints.
fn target(dir: &Path) -> Option<f64> {
    let seq = read_openpose_dir(dir).unwrap();
    let ok = |k: [f32; 3]| k[2] >= 0.1;
    let (mut ext, mut trunk, mut n) = (0.0f64, 0.0f64, 0usize);
    for p in seq.frames.iter().flatten() {
        let (neck, hip) = (p[1], p[8]);
        let legs = [(p[10], p[11]), (p[13], p[14])];
        if ok(neck) && ok(hip) && legs.iter().all(|(k, a)| ok(*k) && ok(*a)) {
            ext += legs.iter().map(|(k, a)| (a[1] - k[1]) as f64).sum::<f64>() / 2.0;
            trunk += (((neck[0] - hip[0]).powi(2) + (neck[1] - hip[1]).powi(2)) as f64).sqrt();
            n += 1;
        }
    }
    (n * 2 >= seq.frames.len() && n > 0).then(|| ext / trunk)
}

fn write_labels(root: &Path, csv: &Path) -> usize {
    let mut s = String::from("clip,knee_ankle_extent\n");
    let mut n = 0;
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    for d in dirs {
        match target(&d) {
            Some(t) => {
                s += &format!("{},{t:.5}\n", d.file_name().unwrap().to_string_lossy());
                n += 1;
            }
            None => std::fs::remove_dir_all(&d).unwrap(), // too few keypoints to label
        }
    }
    std::fs::write(csv, s).unwrap();
    n
}

#[test]
fn gdi_regression_learns_a_keypoint_target_on_held_out_walkers() {
    let dir = tempfile::tempdir().unwrap();
    let (train, test) = (dir.path().join("train"), dir.path().join("test"));
    cut("openpose_gait.zip", &train, &test);
    cut("openpose_norm.zip", &train, &test);
    let n_train = write_labels(&train, &dir.path().join("train.csv"));
    let n_test = write_labels(&test, &dir.path().join("test.csv"));
    assert!(
        n_train >= 40 && n_test >= 12,
        "{n_train} / {n_test} sub-clips"
    );

    let stem = dir.path().join("gdi");
    let o = Command::new(env!("CARGO_BIN_EXE_gaitlens"))
        .args(["video", "train", "--task", "gdi", "--model", "cnn"])
        .arg("--clips")
        .arg(&train)
        .arg("--labels")
        .arg(dir.path().join("train.csv"))
        .arg("--out")
        .arg(&stem)
        .args([
            "--window", "48", "--stride", "8", "--epochs", "40", "--lr", "0.003",
        ])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "video train --task gdi failed:\n{log}");

    let o = Command::new(env!("CARGO_BIN_EXE_gaitlens"))
        .args(["video", "predict", "--json", "--network"])
        .arg(stem.with_extension("json"))
        .arg("--clip")
        .arg(&test)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "predict output not JSON ({e}):\n{}",
            String::from_utf8_lossy(&o.stderr)
        )
    });
    let truth: std::collections::HashMap<String, f64> =
        std::fs::read_to_string(dir.path().join("test.csv"))
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| {
                let (c, t) = l.split_once(',').unwrap();
                (c.to_string(), t.parse().unwrap())
            })
            .collect();
    let (mut p, mut t) = (Vec::new(), Vec::new());
    for c in v["clips"].as_array().unwrap() {
        p.push(c["mean"][0].as_f64().unwrap());
        t.push(truth[c["clip"].as_str().unwrap()]);
    }
    assert!(p.len() >= 10, "only {} test sub-clips predicted", p.len());
    let r = pearson(&p, &t);
    // reference: always predicting the training sub-clips' mean target
    let train_t: Vec<f64> = std::fs::read_to_string(dir.path().join("train.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split_once(',').unwrap().1.parse().unwrap())
        .collect();
    let mt = train_t.iter().sum::<f64>() / train_t.len() as f64;
    let rmse = |q: &dyn Fn(usize) -> f64| {
        ((0..t.len()).map(|i| (q(i) - t[i]).powi(2)).sum::<f64>() / t.len() as f64).sqrt()
    };
    let (model_rmse, mean_rmse) = (rmse(&|i| p[i]), rmse(&|_| mt));
    eprintln!(
        "held-out walkers: {} sub-clips, r = {r:.3}, RMSE {model_rmse:.4} vs {mean_rmse:.4} predicting the training mean",
        p.len()
    );
    assert!(
        r > 0.6,
        "held-out correlation {r:.3} (pred {p:?}, truth {t:?})"
    );
}
