//! The semi-synthetic cohort and the joint dataset together: normative ranges, pathology loci,
//! alignment ranges, determinism, disk round trip.

use gaitlens::dataset::{
    NUM_JOINTS, WindowConfig, WindowDataset, k_fold_by_subject, load_joint_dataset, pos_weight,
};
use gaitlens::synth::gait_model::stick_body;
use gaitlens::synth::{
    ALL_PATHOLOGIES, SynthConfig, subject_truth, synth_cohort_with, synth_subject,
    write_cohort_with,
};

fn small_cfg() -> SynthConfig {
    SynthConfig {
        subjects: 20,
        seed: 7,
        trials_per_subject: 2,
        frames_per_trial: 120,
        ..SynthConfig::default()
    }
}

#[test]
fn healthy_knee_flexion_lies_in_normative_ranges() {
    let model = stick_body();
    let cfg = small_cfg();
    let mut checked = 0;
    for i in 0..cfg.subjects {
        let truth = subject_truth(&cfg, i, model.num_betas);
        if truth.sick {
            continue;
        }
        for trial in synth_subject(&model, &cfg, i, None).unwrap() {
            // Knee rotations are about x only, so the axis-angle x component is the angle.
            for (side, joint) in [("left", 4), ("right", 5)] {
                let knee: Vec<f64> = trial
                    .poses
                    .poses
                    .iter()
                    .map(|p| p[3 * joint].to_degrees())
                    .collect();
                let max = knee.iter().cloned().fold(f64::MIN, f64::max);
                let min = knee.iter().cloned().fold(f64::MAX, f64::min);
                assert!(
                    (48.0..72.0).contains(&max),
                    "{} {side}: peak knee flexion {max:.1}°",
                    truth.subject
                );
                assert!(
                    (-6.0..12.0).contains(&min),
                    "{} {side}: minimum knee flexion {min:.1}°",
                    truth.subject
                );
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 10 * 2 * 2);
}

#[test]
fn each_pathology_changes_only_its_locus_joints() {
    let model = stick_body();
    let cfg = small_cfg();
    let mut seen = Vec::new();
    for i in 0..cfg.subjects {
        let truth = subject_truth(&cfg, i, model.num_betas);
        let (Some(p), Some(side)) = (truth.pathology, truth.side) else {
            continue;
        };
        seen.push(p);
        let sick = synth_subject(&model, &cfg, i, Some((p, side))).unwrap();
        let healthy = synth_subject(&model, &cfg, i, None).unwrap();
        for (s, h) in sick.iter().zip(&healthy) {
            for j in 0..model.num_joints() {
                let max_diff = s
                    .poses
                    .poses
                    .iter()
                    .zip(&h.poses.poses)
                    .map(|(a, b)| {
                        (0..3)
                            .map(|c| (a[3 * j + c] - b[3 * j + c]).abs())
                            .fold(0.0, f64::max)
                    })
                    .fold(0.0, f64::max);
                if truth.joints.contains(&j) {
                    assert!(
                        max_diff.to_degrees() > 5.0,
                        "{} {p:?} {side:?}: locus joint {j} changes only {:.2}°",
                        truth.subject,
                        max_diff.to_degrees()
                    );
                } else {
                    assert_eq!(max_diff, 0.0, "{} {p:?}: joint {j} changed", truth.subject);
                }
            }
            assert_eq!(s.poses.betas, h.poses.betas);
        }
    }
    for p in ALL_PATHOLOGIES {
        assert!(seen.contains(&p), "{p:?} not in the cohort");
    }
}

#[test]
fn aligned_cohort_windows_span_minus_one_to_one() {
    let model = stick_body();
    let cohort = synth_cohort_with(&model, &small_cfg()).unwrap();
    let seqs = cohort.into_iter().map(|(s, _)| s).collect();
    let cfg = WindowConfig {
        interval: 64,
        stride: 16,
        mirror: true,
    };
    let ds = WindowDataset::new(seqs, cfg).unwrap();
    assert_eq!(ds.skipped_still_windows, 0);
    let idx: Vec<usize> = (0..ds.len()).step_by(7).collect();
    let data = ds.batch_data(&idx).unwrap();
    let per = 64 * NUM_JOINTS * 3;
    assert_eq!(data.len(), idx.len() * per);
    for (b, w) in data.chunks(per).enumerate() {
        for c in 1..3 {
            let vals = w.iter().skip(c).step_by(3);
            let lo = vals.clone().cloned().fold(f32::MAX, f32::min);
            let hi = vals.cloned().fold(f32::MIN, f32::max);
            assert!(
                (lo + 1.0).abs() < 1e-5 && (hi - 1.0).abs() < 1e-5,
                "window {b} axis {c}: {lo}..{hi}"
            );
        }
        // Pelvis starts at x = 0 and walks towards +x; the left ankle is on average at −z.
        assert_eq!(w[0], 0.0);
        assert!(
            w[(63 * NUM_JOINTS) * 3] > 0.2,
            "pelvis x at the end {}",
            w[(63 * NUM_JOINTS) * 3]
        );
        let mean_z = |j: usize| {
            (0..64)
                .map(|t| w[(t * NUM_JOINTS + j) * 3 + 2])
                .sum::<f32>()
                / 64.0
        };
        assert!(mean_z(7) <= mean_z(8));
        // Head is above the ankles.
        assert!(w[15 * 3 + 1] > w[7 * 3 + 1] + 1.0);
    }
    let fold = k_fold_by_subject(&ds, 5, 0).unwrap();
    let pw = pos_weight(&ds, &fold.train).unwrap();
    assert!((pw - 1.0).abs() < 0.01, "balanced cohort pos_weight {pw}");
}

#[test]
fn generation_is_deterministic_under_a_seed() {
    let model = stick_body();
    let cfg = SynthConfig {
        subjects: 4,
        frames_per_trial: 40,
        ..small_cfg()
    };
    let a = synth_cohort_with(&model, &cfg).unwrap();
    let b = synth_cohort_with(&model, &cfg).unwrap();
    assert_eq!(a, b);
    let c = synth_cohort_with(
        &model,
        &SynthConfig {
            seed: cfg.seed + 1,
            ..cfg.clone()
        },
    )
    .unwrap();
    assert_ne!(a[0].0.joints, c[0].0.joints);
}

#[test]
fn speed_and_cadence_are_matched_across_classes() {
    let cfg = SynthConfig {
        subjects: 60,
        ..SynthConfig::default()
    };
    let truths: Vec<_> = (0..cfg.subjects)
        .map(|i| subject_truth(&cfg, i, 10))
        .collect();
    let mean = |sick: bool, f: fn(&gaitlens::synth::GroundTruth) -> f64| {
        let v: Vec<f64> = truths.iter().filter(|t| t.sick == sick).map(f).collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    let dv = mean(true, |t| t.speed_m_s) - mean(false, |t| t.speed_m_s);
    let dc = mean(true, |t| t.cadence_steps_min) - mean(false, |t| t.cadence_steps_min);
    assert!(dv.abs() < 0.08, "speed difference {dv:.3} m/s");
    assert!(dc.abs() < 4.0, "cadence difference {dc:.2} steps/min");
}

#[test]
fn written_cohort_loads_back_to_the_same_joints() {
    let model = stick_body();
    let cfg = SynthConfig {
        subjects: 4,
        trials_per_subject: 1,
        frames_per_trial: 30,
        ..small_cfg()
    };
    let dir = tempfile::tempdir().unwrap();
    let summary = write_cohort_with(&model, dir.path(), &cfg).unwrap();
    assert_eq!((summary.healthy, summary.sick, summary.frames), (2, 2, 120));
    let readme = std::fs::read_to_string(dir.path().join("README.txt")).unwrap();
    assert!(readme.contains("SEMI-SYNTHETIC"));
    let gt: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("ground_truth.json")).unwrap())
            .unwrap();
    assert_eq!(gt["semi_synthetic"], true);
    assert_eq!(gt["subjects"][1]["pathology"], "stiff_knee");
    assert_eq!(gt["subjects"][1]["side"], "left");
    assert_eq!(gt["subjects"][1]["joints"], serde_json::json!([4]));

    let loaded = load_joint_dataset(dir.path(), &model).unwrap();
    let mut memory = synth_cohort_with(&model, &cfg).unwrap();
    // The loader returns (class folder, subject, gait) order: healthy first.
    memory.sort_by(|a, b| {
        (a.0.sick, &a.0.subject, &a.0.gait).cmp(&(b.0.sick, &b.0.subject, &b.0.gait))
    });
    assert_eq!(loaded.len(), memory.len());
    for (l, (m, _)) in loaded.iter().zip(&memory) {
        assert_eq!((&l.subject, &l.gait, l.sick), (&m.subject, &m.gait, m.sick));
        assert_eq!(l.files.len(), 30);
        assert!(
            l.files[0].ends_with("walk_00/pose_00000.json"),
            "{}",
            l.files[0]
        );
        for (fl, fm) in l.joints.iter().zip(&m.joints) {
            for j in 0..NUM_JOINTS {
                for c in 0..3 {
                    assert!((fl[j][c] - fm[j][c]).abs() < 1e-5);
                }
            }
        }
    }
    // A second write into the same folder is refused.
    assert!(write_cohort_with(&model, dir.path(), &cfg).is_err());
}

#[test]
fn default_body_cohort_walks_plausibly() {
    let model = gaitlens::body::default_model::default_body();
    let cfg = SynthConfig {
        subjects: 6,
        trials_per_subject: 1,
        frames_per_trial: 100,
        ..small_cfg()
    };
    let cohort = gaitlens::synth::synth_cohort_with(model, &cfg).unwrap();
    for (seq, truth) in &cohort {
        let name = &truth.subject;
        let pelvis_y: Vec<f32> = seq.joints.iter().map(|f| f[0][1]).collect();
        let head_y: Vec<f32> = seq.joints.iter().map(|f| f[15][1]).collect();
        let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
        assert!(
            (0.6..1.2).contains(&mean(&pelvis_y)),
            "{name}: pelvis height {}",
            mean(&pelvis_y)
        );
        assert!(
            mean(&head_y) > mean(&pelvis_y) + 0.4,
            "{name}: head {}",
            mean(&head_y)
        );
        // Ground contact every frame: the lowest ankle/foot joint sits 5 cm above the floor.
        for f in &seq.joints {
            let low = [7, 8, 10, 11]
                .iter()
                .map(|&j| f[j][1])
                .fold(f32::MAX, f32::min);
            assert!((low - 0.05).abs() < 1e-4);
        }
        // Horizontal progression matches the subject's speed within 10 %.
        let (a, b) = (seq.joints[0][0], seq.joints[99][0]);
        let dist = ((b[0] - a[0]).powi(2) + (b[2] - a[2]).powi(2)).sqrt() as f64;
        let expected = truth.speed_m_s * 99.0 / cfg.rate_hz;
        assert!(
            (dist / expected - 1.0).abs() < 0.1,
            "{name}: moved {dist} m, expected {expected}"
        );
        // Feet point forward: the foot joint is ahead of the ankle along the walking direction
        // on average.
        let dir = [(b[0] - a[0]) / dist as f32, (b[2] - a[2]) / dist as f32];
        let ahead: f32 = seq
            .joints
            .iter()
            .map(|f| (f[10][0] - f[7][0]) * dir[0] + (f[10][2] - f[7][2]) * dir[1])
            .sum::<f32>()
            / seq.joints.len() as f32;
        assert!(
            ahead > 0.03,
            "{name}: left foot {ahead} m ahead of the ankle"
        );
    }
}
