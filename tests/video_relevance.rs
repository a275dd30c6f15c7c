//! What the viewer needs from the video library, on real OpenPose clips: per-frame normalised
//! keypoints for display, and gradient × input relevance per keypoint of a window (checked
//! against finite differences of the prediction).

use std::path::Path;

use gaitlens::formats::openpose::read_openpose_zip;
use gaitlens::video::data::labelled_from_sequences;
use gaitlens::video::model::Task;
use gaitlens::video::preprocess::{PreprocessConfig, clip_windows, display_keypoints, kp};
use gaitlens::video::relevance::{clip_relevance, window_relevance};
use gaitlens::video::training::{VideoTrainConfig, train_model};

fn clips() -> Vec<gaitlens::video::LabelledClip> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/openpose");
    let mut seqs = Vec::new();
    for (zip, keep) in [
        ("openpose_gait.zip", ["gait2", "gait3"]),
        ("openpose_norm.zip", ["vid1", "vid7"]),
    ] {
        let p = root.join(zip);
        assert!(p.exists(), "missing shared data file {}", p.display());
        seqs.extend(
            read_openpose_zip(&p)
                .unwrap()
                .into_iter()
                .filter(|s| keep.contains(&s.clip.as_str())),
        );
    }
    labelled_from_sequences(seqs).unwrap()
}

#[test]
fn display_keypoints_of_a_real_clip() {
    let c = clips();
    let vid1 = c.iter().find(|c| c.clip == "vid1").unwrap();
    let d = display_keypoints(&vid1.clip, &vid1.frames, &PreprocessConfig::default()).unwrap();
    assert_eq!(
        d.frames.len(),
        vid1.frames.len(),
        "one entry per source frame"
    );
    assert!(
        d.scale_px > 50.0 && d.scale_px < 1000.0,
        "trunk {} px",
        d.scale_px
    );
    let shown: Vec<_> = d.frames.iter().flatten().collect();
    let walker = vid1.frames.iter().flatten().count();
    assert!(
        shown.len() * 10 >= walker * 9,
        "{} of {walker} walker frames shown",
        shown.len()
    );
    let mut facing = 0;
    for f in &shown {
        assert_eq!(f[kp::MID_HIP][..2], [0.0, 0.0]);
        if f[kp::NECK][2] > 0.1 {
            assert!(f[kp::NECK][1] > 0.5, "neck above the pelvis, y up");
        }
        let (t, a) = (f[kp::L_BIG_TOE], f[kp::L_ANKLE]);
        if t[2] > 0.1 && a[2] > 0.1 && t[0] > a[0] {
            facing += 1;
        }
    }
    // vid1 walks right-to-left in the image; normalised, the toes point to +x
    assert!(
        facing * 10 >= shown.len() * 7,
        "{facing} of {}",
        shown.len()
    );
}

#[test]
fn gradient_times_input_matches_finite_differences() {
    let c = clips();
    let pre = PreprocessConfig {
        window_frames: 48,
        stride_frames: 24,
        ..Default::default()
    };
    let mut cfg = VideoTrainConfig::new("cnn", Task::Binary, pre.clone()).unwrap();
    cfg.epochs = 3;
    cfg.batch_size = 8;
    let items: Vec<(&str, &[_], f32)> = c
        .iter()
        .map(|c| (c.clip.as_str(), c.frames.as_slice(), c.label as f32))
        .collect();
    let trained = train_model(&items, &cfg, &mut |_| {}).unwrap().model;
    let gait2 = &c[0];
    assert_eq!(gait2.clip, "gait2");
    let (_, windows) = clip_windows(&gait2.clip, &gait2.frames, &pre).unwrap();
    let w = &windows[0].data;
    let rel = window_relevance(&trained, w, 0).unwrap();
    let nf = rel.feature_names.len();
    assert_eq!((rel.frames, rel.relevance.len()), (48, 48 * nf));
    assert!(rel.relevance.iter().all(|r| r.is_finite()));
    assert!(rel.relevance.iter().any(|r| r.abs() > 0.0));
    // the explained output is the logit of the prediction
    let p = trained.predict_windows(w, 1)[0][0] as f64;
    assert!(
        ((p / (1.0 - p)).ln() - rel.output as f64).abs() < 1e-3,
        "logit {} vs p {p}",
        rel.output
    );
    // keypoint + derived sums equal the total
    let total: f32 = rel.relevance.iter().sum();
    let kp_sum: f32 = rel.keypoint_totals().iter().sum();
    let der: f32 = rel.derived.iter().flatten().sum();
    assert!((total - kp_sum - der).abs() < 1e-3 * total.abs().max(1.0));
    // relevance sits on feature keypoints only
    let kt = rel.keypoint_totals();
    assert_eq!(kt[0], 0.0, "Nose is no feature");
    // finite differences of the logit along the most relevant inputs: grad = rel / x_std
    let stats = &trained.card.feature_stats;
    let mut order: Vec<usize> = (0..rel.relevance.len()).collect();
    order.sort_by(|&a, &b| rel.relevance[b].abs().total_cmp(&rel.relevance[a].abs()));
    let logit = |x: &[f32]| {
        let p = trained.predict_windows(x, 1)[0][0] as f64;
        (p / (1.0 - p)).ln()
    };
    let mut checked = 0;
    for &i in order.iter().take(40) {
        let j = i % nf;
        let xs = (w[i] - stats.mean[j]) / stats.std[j];
        if xs.abs() < 0.2 {
            continue;
        }
        let grad = rel.relevance[i] as f64 / xs as f64; // d logit / d standardised input
        let h = 0.05f32;
        let (mut up, mut dn) = (w.clone(), w.clone());
        up[i] += h * stats.std[j];
        dn[i] -= h * stats.std[j];
        let fd = (logit(&up) - logit(&dn)) / (2.0 * h as f64);
        assert!(
            (fd - grad).abs() < 0.05 * grad.abs().max(0.05) + 0.02,
            "input {i}: finite difference {fd} vs gradient {grad}"
        );
        checked += 1;
        if checked == 6 {
            break;
        }
    }
    assert!(checked >= 3, "too few inputs checked");
    // every window of a clip, with its start time
    let all = clip_relevance(&trained, &gait2.clip, &gait2.frames, 0).unwrap();
    assert_eq!(all.len(), windows.len());
    assert!(all.windows(2).all(|p| p[1].0 > p[0].0));
}
