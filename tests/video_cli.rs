//! `gaitlens video train` / `video predict` on real OpenPose clips from `../shared/data/openpose`
//! (a missing shared file fails naming its path): a classification round trip with
//! cross-validation, and clear errors for bad input.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn shared_zip(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/openpose")
        .join(name);
    assert!(p.exists(), "missing shared data file {}", p.display());
    p
}

/// Extracts the named clips of a shared zip into `dir/<clip>/` (frame files unchanged).
fn extract(zip_name: &str, clips: &[&str], dir: &Path) {
    let path = shared_zip(zip_name);
    let mut z = zip::ZipArchive::new(std::fs::File::open(&path).unwrap()).unwrap();
    for i in 0..z.len() {
        let mut e = z.by_index(i).unwrap();
        let name = e.name().to_string();
        let Some((clip, file)) = name.split_once('/') else {
            continue;
        };
        if !clips.contains(&clip) || !file.ends_with(".json") {
            continue;
        }
        let mut b = Vec::new();
        e.read_to_end(&mut b).unwrap();
        std::fs::create_dir_all(dir.join(clip)).unwrap();
        std::fs::write(dir.join(clip).join(file), b).unwrap();
    }
    for c in clips {
        assert!(dir.join(c).is_dir(), "clip {c} not in {}", path.display());
    }
}

fn gaitlens(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gaitlens"))
        .arg("video")
        .args(args)
        .output()
        .unwrap()
}

macro_rules! run {
    ($($a:expr),* $(,)?) => { gaitlens(&[$(std::ffi::OsStr::new(&$a)),*]) };
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

#[test]
fn video_train_with_cv_then_predict_round_trip_on_real_clips() {
    let dir = tempfile::tempdir().unwrap();
    let clips = dir.path().join("clips");
    extract("openpose_gait.zip", &["gait2", "gait3"], &clips);
    extract("openpose_norm.zip", &["vid1", "vid7"], &clips);
    let stem = dir.path().join("out/net");
    let o = run!(
        "train",
        "--clips",
        clips,
        "--labels-from-folders",
        "--task",
        "class",
        "--model",
        "cnn",
        "--cv",
        "2",
        "--out",
        stem,
        "--epochs",
        "4",
        "--window",
        "48",
        "--stride",
        "24",
        "--batch-size",
        "8"
    );
    let log = text(&o);
    assert!(o.status.success(), "video train failed:\n{log}");
    assert!(log.contains("2-fold cross-validation of cnn"), "{log}");
    assert!(
        log.contains("balanced accuracy") && log.contains("confusion matrix"),
        "{log}"
    );
    for ext in ["json", "mpk", "cv.json"] {
        assert!(stem.with_extension(ext).exists(), "missing net.{ext}");
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    let card: serde_json::Value =
        serde_json::from_slice(&std::fs::read(stem.with_extension("json")).unwrap()).unwrap();
    assert_eq!(card["format"], "gaitlens-video-model-card/1");
    assert_eq!(card["model_type"], "cnn");
    assert_eq!(card["training"]["label_names"][1], "pathological");
    assert_eq!(card["trained_clips"].as_array().unwrap().len(), 4);
    assert_eq!(card["metrics"]["cv_folds"], 2.0);
    assert!(card["metrics"]["cv_accuracy"].is_number());
    let cv: serde_json::Value =
        serde_json::from_slice(&std::fs::read(stem.with_extension("cv.json")).unwrap()).unwrap();
    assert_eq!(cv["clips"].as_array().unwrap().len(), 4);
    assert!(cv["confusion"].is_array());

    // predict one clip folder, JSON: per-window outputs, clip mean = mean of windows
    let o = run!(
        "predict",
        "--network",
        stem.with_extension("json"),
        "--clip",
        clips.join("gait2"),
        "--json"
    );
    assert!(o.status.success(), "video predict failed:\n{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let c = &v["clips"][0];
    assert_eq!(c["clip"], "gait2");
    let w: Vec<f64> = c["windows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["outputs"][0].as_f64().unwrap())
        .collect();
    assert!(
        w.len() >= 2,
        "gait2 (186 frames) gives several 48-frame windows"
    );
    let mean = w.iter().sum::<f64>() / w.len() as f64;
    let sd = (w.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / w.len() as f64).sqrt();
    assert!((c["mean"][0].as_f64().unwrap() - mean).abs() < 1e-5);
    assert!((c["spread"][0].as_f64().unwrap() - sd).abs() < 1e-5);
    assert!(w.iter().all(|p| (0.0..=1.0).contains(p)));
    let label = c["label"].as_str().unwrap();
    assert_eq!(label == "pathological", mean >= 0.5);

    // text output for a folder of clips, stem given without extension
    let o = run!("predict", "--network", stem, "--clip", clips);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    for clip in ["gait2", "gait3", "vid1", "vid7"] {
        assert!(out.contains(&format!("{clip}: P(pathological)")), "{out}");
    }
    assert!(out.contains("window at"), "{out}");

    // The whole card is hashed with the weights: swapped label names (which would invert every
    // verdict) are refused naming the field; the untouched card still loads.
    assert!(card["card_fnv1a64"].is_string(), "{card}");
    let mut swapped = card.clone();
    swapped["training"]["label_names"] = serde_json::json!(["pathological", "normal"]);
    let edited = dir.path().join("out").join("edited");
    std::fs::write(
        edited.with_extension("json"),
        serde_json::to_vec(&swapped).unwrap(),
    )
    .unwrap();
    std::fs::copy(stem.with_extension("mpk"), edited.with_extension("mpk")).unwrap();
    let o = run!(
        "predict",
        "--network",
        edited.with_extension("json"),
        "--clip",
        clips.join("gait2")
    );
    let err = text(&o);
    assert!(
        !o.status.success(),
        "an edited card must be refused:\n{err}"
    );
    assert!(
        err.contains("card_fnv1a64") && err.contains("edited after training"),
        "{err}"
    );

    // the other two networks train from the CLI too (one epoch, no CV)
    let o = run!(
        "train",
        "--clips",
        clips,
        "--labels-from-folders",
        "--task",
        "class",
        "--model",
        "cnn-lstm",
        "--out",
        dir.path().join("cl"),
        "--epochs",
        "1",
        "--window",
        "48",
        "--stride",
        "24",
        "--batch-size",
        "8"
    );
    assert!(o.status.success(), "{}", text(&o));
    let card: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("cl.json")).unwrap()).unwrap();
    assert_eq!(card["model_type"], "cnn_lstm");
}

#[test]
fn video_bad_inputs_fail_with_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let clips = dir.path().join("clips");
    extract("openpose_gait.zip", &["gait3"], &clips);
    extract("openpose_norm.zip", &["vid7"], &clips);
    let stem = dir.path().join("m");
    let fails = |o: Output, needles: &[&str]| {
        let t = text(&o);
        assert!(!o.status.success(), "expected failure, got success:\n{t}");
        for n in needles {
            assert!(t.contains(n), "`{n}` not in:\n{t}");
        }
    };

    // missing input folder
    let missing = dir.path().join("no_such_clips");
    fails(
        run!(
            "train",
            "--clips",
            missing,
            "--labels-from-folders",
            "--task",
            "class",
            "--out",
            stem
        ),
        &[&missing.display().to_string()],
    );
    // labels CSV naming a clip that was not read
    let csv = dir.path().join("labels.csv");
    std::fs::write(&csv, "clip,gdi\ngait3,70\nvid7,95\nvid99,90\n").unwrap();
    fails(
        run!(
            "train", "--clips", clips, "--labels", csv, "--task", "gdi", "--out", stem
        ),
        &["labels.csv:4", "unknown clip `vid99`"],
    );
    // a clip without a label
    std::fs::write(&csv, "clip,gdi\ngait3,70\n").unwrap();
    fails(
        run!(
            "train", "--clips", clips, "--labels", csv, "--task", "gdi", "--out", stem
        ),
        &["labels.csv", "no label for clip `vid7`"],
    );
    // a non-numeric GDI
    std::fs::write(&csv, "gait3,seventy\nvid7,95\n").unwrap();
    fails(
        run!(
            "train", "--clips", clips, "--labels", csv, "--task", "gdi", "--out", stem
        ),
        &["labels.csv:1", "not a finite number"],
    );
    // a labels CSV that does not exist
    let nocsv = dir.path().join("nothere.csv");
    fails(
        run!(
            "train", "--clips", clips, "--labels", nocsv, "--task", "gdi", "--out", stem
        ),
        &["nothere.csv"],
    );
    // GDI from folder names is impossible
    fails(
        run!(
            "train",
            "--clips",
            clips,
            "--labels-from-folders",
            "--task",
            "gdi",
            "--out",
            stem
        ),
        &["--task gdi needs --labels"],
    );
    // both label sources, or none: clap refuses
    fails(
        run!(
            "train",
            "--clips",
            clips,
            "--labels",
            csv,
            "--labels-from-folders",
            "--task",
            "class",
            "--out",
            stem
        ),
        &["--labels-from-folders"],
    );
    fails(
        run!("train", "--clips", clips, "--task", "class", "--out", stem),
        &["--labels"],
    );
    // a folder name without gait*/vid* prefix
    let odd = dir.path().join("odd");
    extract("openpose_norm.zip", &["vid7"], &odd);
    std::fs::rename(odd.join("vid7"), odd.join("walk7")).unwrap();
    fails(
        run!(
            "train",
            "--clips",
            odd,
            "--labels-from-folders",
            "--task",
            "class",
            "--out",
            stem
        ),
        &["walk7", "gait*"],
    );
    // a bad --cv
    fails(
        run!(
            "train",
            "--clips",
            clips,
            "--labels-from-folders",
            "--task",
            "class",
            "--cv",
            "1",
            "--out",
            stem
        ),
        &["--cv"],
    );
    // predict: missing network, corrupt card, missing clip
    let nonet = dir.path().join("none.json");
    fails(
        run!("predict", "--network", nonet, "--clip", clips),
        &[&nonet.display().to_string()],
    );
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"format\": 3}").unwrap();
    fails(
        run!("predict", "--network", bad, "--clip", clips),
        &["bad.json", "not a gaitlens video model card"],
    );
    assert!(
        !stem.with_extension("json").exists(),
        "failed runs must not write"
    );
}
