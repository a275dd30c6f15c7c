//! The fitter on synthetic markers generated from known poses of the default body: it must recover
//! them (marker error near zero, joints within millimetres), with and without noise and gaps.

use gaitlens::body::default_model::{default_body, default_markers};
use gaitlens::fit::calibrate::skinned_markers;
use gaitlens::fit::solver::{PoseProblem, PoseState, SolverConfig};
use gaitlens::fit::{FitConfig, default_limits, fit_trial};
use gaitlens::formats::MarkerTrial;
use nalgebra::{Rotation3, Vector3};

/// A smooth walking-like pose at time `t` (s): hips and knees swing, arms hang down.
fn pose_at(t: f64, nj: usize) -> PoseState {
    let mut p = PoseState::rest(nj, Vector3::new(0.0, 0.0, 1.2 * t));
    let w = 2.0 * std::f64::consts::PI;
    let s = (w * t).sin();
    let set = |p: &mut PoseState, j: usize, aa: Vector3<f64>| {
        p.rotations[j] = Rotation3::new(aa).into_inner();
    };
    set(&mut p, 1, Vector3::new(-0.4 * s, 0.0, 0.05));
    set(&mut p, 2, Vector3::new(0.4 * s, 0.0, -0.05));
    set(&mut p, 4, Vector3::new(0.6 * (1.0 + s).max(0.0), 0.0, 0.0));
    set(&mut p, 5, Vector3::new(0.6 * (1.0 - s).max(0.0), 0.0, 0.0));
    set(&mut p, 7, Vector3::new(0.15 * s, 0.0, 0.0));
    set(&mut p, 8, Vector3::new(-0.15 * s, 0.0, 0.0));
    set(&mut p, 16, Vector3::new(0.0, 0.0, -1.2));
    set(&mut p, 17, Vector3::new(0.0, 0.0, 1.2));
    set(&mut p, 3, Vector3::new(0.05 * s, 0.1 * s, 0.0));
    p
}

/// Tiny deterministic noise in [-a, a].
fn noise(i: usize, a: f64) -> f64 {
    let x = ((i as f64 * 12.9898).sin() * 43758.5453).rem_euclid(1.0);
    (2.0 * x - 1.0) * a
}

fn synth_trial(
    betas: &[f64],
    frames: usize,
    noise_m: f64,
    gaps: bool,
) -> (MarkerTrial, Vec<PoseState>) {
    let model = default_body();
    let set = default_markers();
    let offsets = vec![Vector3::zeros(); set.markers.len()];
    let shaped = model.shape(betas);
    let markers = skinned_markers(model, betas, set, &offsets);
    let problem = PoseProblem::new(model, &shaped, &markers, vec![]);
    let mut trial = MarkerTrial {
        rate_hz: 100.0,
        first_frame: 1,
        marker_labels: set.markers.iter().map(|m| m.name.clone()).collect(),
        ..Default::default()
    };
    let mut truth = Vec::new();
    for f in 0..frames {
        let pose = pose_at(f as f64 / 100.0, model.num_joints());
        let pts = problem.model_markers(&pose);
        trial.markers_m.push(
            pts.iter()
                .enumerate()
                .map(|(i, p)| {
                    if gaps && (i + f) % 17 == 0 {
                        return None;
                    }
                    let k = f * 1000 + i * 3;
                    Some([
                        p.x + noise(k, noise_m),
                        p.y + noise(k + 1, noise_m),
                        p.z + noise(k + 2, noise_m),
                    ])
                })
                .collect(),
        );
        truth.push(pose);
    }
    (trial, truth)
}

#[test]
fn per_frame_solver_recovers_a_known_pose_from_rest() {
    let model = default_body();
    let set = default_markers();
    let betas = vec![0.0; model.num_betas];
    let offsets = vec![Vector3::zeros(); set.markers.len()];
    let shaped = model.shape(&betas);
    let markers = skinned_markers(model, &betas, set, &offsets);
    let problem = PoseProblem::new(model, &shaped, &markers, vec![]);
    let truth = pose_at(0.13, model.num_joints());
    let obs: Vec<_> = problem
        .model_markers(&truth)
        .into_iter()
        .map(Some)
        .collect();
    let init = PoseState::rest(model.num_joints(), truth.translation);
    let cfg = SolverConfig {
        max_iterations: 100,
        ..SolverConfig::default()
    };
    let fit = problem.solve(&obs, &init, None, &cfg);
    assert!(
        fit.rmse_m() < 1e-3,
        "rmse {} m after {} iterations",
        fit.rmse_m(),
        fit.iterations
    );
    let jt = model
        .forward_subset(&shaped, &truth.rotations, truth.translation, &[])
        .joints;
    let jf = model
        .forward_subset(&shaped, &fit.pose.rotations, fit.pose.translation, &[])
        .joints;
    for j in [0, 1, 2, 4, 5, 7, 8, 16, 17, 18, 19] {
        assert!(
            (jt[j] - jf[j]).norm() < 0.01,
            "joint {j} off by {} m",
            (jt[j] - jf[j]).norm()
        );
    }
}

/// The default fit of a synthetic trial on the default body, calibrated on its own frames.
fn fit_self_calibrated(
    trial: &MarkerTrial,
    limits: &[gaitlens::fit::solver::AngleLimit],
) -> gaitlens::fit::TrialFit {
    fit_trial(
        default_body(),
        default_markers(),
        trial,
        None,
        limits,
        &FitConfig::default(),
        "synthetic",
        |_, _| {},
    )
    .expect("fit")
    .0
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Subjects from a 1.0 m child to a 1.95 m adult over the default body's shape space: β0 (the
/// component that reads as stature and age) solved for each stature by bisection, the next three
/// components varied too.
fn cohort(model: &gaitlens::body::BodyModel) -> Vec<Vec<f64>> {
    use gaitlens::fit::calibrate::stature_m;
    let rows: [(f64, [f64; 3]); 5] = [
        (1.0, [0.8, -0.5, 0.6]),
        (1.2, [-1.0, 0.7, -0.4]),
        (1.45, [0.5, 1.0, 0.8]),
        (1.7, [-0.5, -1.0, 0.3]),
        (1.95, [1.0, 0.5, -0.8]),
    ];
    rows.iter()
        .map(|(target_m, rest)| {
            let mut b = vec![0.0; model.num_betas];
            b[1..4].copy_from_slice(rest);
            let mut f = |b0: f64| {
                b[0] = b0;
                stature_m(model, &b) - target_m
            };
            let (mut lo, mut hi) = (-6.0, 6.0);
            let f_lo = f(lo);
            assert!(
                f_lo * f(hi) < 0.0,
                "stature {target_m} m is outside β0 ∈ [-6, 6]"
            );
            for _ in 0..60 {
                let mid = 0.5 * (lo + hi);
                if f(mid) * f_lo > 0.0 {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            f(0.5 * (lo + hi));
            b
        })
        .collect()
}

/// Joints a full Plug-in Gait marker set measures (pelvis, hips, knees, ankles, three spine
/// joints, neck, head, shoulders, elbows): the posed joint centres the calibration must recover.
const CHECKED_JOINTS: [usize; 15] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 15, 16, 17, 18];

/// Worst distance between fitted and true posed joint centres over every 5th frame, per joint.
fn joint_errors(
    fit: &gaitlens::fit::TrialFit,
    betas: &[f64],
    truth: &[PoseState],
) -> Vec<(usize, f64)> {
    let model = default_body();
    let shaped_true = model.shape(betas);
    let shaped_fit = model.shape(&fit.calibration.betas);
    CHECKED_JOINTS
        .iter()
        .map(|&j| {
            let mut worst: f64 = 0.0;
            for (f, p) in fit.poses.iter().enumerate().step_by(5) {
                let jt = model
                    .forward_subset(&shaped_true, &truth[f].rotations, truth[f].translation, &[])
                    .joints;
                let jf = model
                    .forward_subset(&shaped_fit, &p.rotations, p.translation, &[])
                    .joints;
                worst = worst.max((jt[j] - jf[j]).norm());
            }
            (j, worst)
        })
        .collect()
}

#[test]
fn stature_range_of_the_default_shape_space() {
    use gaitlens::fit::calibrate::stature_m;
    let model = default_body();
    let cohort = cohort(model);
    let statures: Vec<f64> = cohort.iter().map(|b| stature_m(model, b)).collect();
    let beta0: Vec<f64> = cohort.iter().map(|b| b[0]).collect();
    eprintln!("statures of the synthetic cohort: {statures:.3?} m at β0 {beta0:.2?}");
    // The shape space spans a 1.0 m child to a 1.95 m adult within ±4 SD of its first component.
    for (s, want) in statures.iter().zip([1.0, 1.2, 1.45, 1.7, 1.95]) {
        assert!((s - want).abs() < 1e-3, "{statures:?}");
    }
    assert!(beta0.iter().all(|b| b.abs() < 4.0), "{beta0:?}");
}

#[test]
fn joint_calibration_recovers_joint_centres_across_statures() {
    let model = default_body();
    let limits = default_limits(model);
    let mut failures = Vec::new();
    for (s, betas) in cohort(model).iter().enumerate() {
        let (trial, truth) = synth_trial(betas, 60, 0.002, false);
        let fit = fit_self_calibrated(&trial, &limits);
        let rmse = median(fit.rmses_m());
        let errs = joint_errors(&fit, betas, &truth);
        let (wj, worst) = errs
            .iter()
            .copied()
            .fold((0, 0.0f64), |a, e| if e.1 > a.1 { e } else { a });
        let stature = gaitlens::fit::calibrate::stature_m(model, betas);
        eprintln!(
            "subject {s} (stature {stature:.3} m): marker RMSE median {:.2} mm, worst joint {} \
             {:.1} mm, calibration {:.2} s, betas {:.2?} (true {:.2?}), per joint (mm) {:?}",
            rmse * 1e3,
            model.joint_names[wj],
            worst * 1e3,
            fit.calibration_s,
            &fit.calibration.betas[..4],
            &betas[..4],
            errs.iter()
                .map(|(j, e)| (model.joint_names[*j].clone(), (e * 1e4).round() / 10.0))
                .collect::<Vec<_>>()
        );
        if worst > 0.015 || rmse > 0.0025 {
            failures.push(format!(
                "subject {s}: worst joint {} {:.1} mm, marker RMSE {:.2} mm",
                model.joint_names[wj],
                worst * 1e3,
                rmse * 1e3
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn whole_trial_fit_tracks_angles_with_noise_and_gaps() {
    use gaitlens::fit::angles::sagittal_angles;
    let model = default_body();
    let mut betas = vec![0.0; model.num_betas];
    betas[0] = 1.0;
    betas[1] = -0.5;
    let (trial, truth) = synth_trial(&betas, 60, 0.002, true);
    let limits = default_limits(model);
    let fit = fit_self_calibrated(&trial, &limits);
    let m = median(fit.rmses_m());
    assert!(m < 0.004, "median marker RMSE {m} m with 2 mm noise");
    let mut sq = [0.0f64; 4];
    for (p, t) in fit.poses.iter().zip(&truth) {
        let a = sagittal_angles(model, p).unwrap();
        let b = sagittal_angles(model, t).unwrap();
        let d = [
            a.l_knee_flex_deg - b.l_knee_flex_deg,
            a.r_knee_flex_deg - b.r_knee_flex_deg,
            a.l_hip_flex_deg - b.l_hip_flex_deg,
            a.r_hip_flex_deg - b.r_hip_flex_deg,
        ];
        for (s, x) in sq.iter_mut().zip(d) {
            *s += x * x;
        }
    }
    for (name, s) in ["L knee", "R knee", "L hip", "R hip"].iter().zip(sq) {
        let rms = (s / fit.poses.len() as f64).sqrt();
        assert!(rms < 12.0, "{name} flexion RMS error {rms:.1} deg");
    }
    // A frame's legs count as measured exactly when no pelvis or leg marker of Plug-in Gait's
    // lower body is missing; a missing trunk, head or arm marker leaves them measured.
    const LEG_MARKERS: [&str; 6] = ["ASI", "PSI", "THI", "KNE", "TIB", "ANK"];
    let on_legs = |m: &String| {
        m == "SACR"
            || ["HEE", "TOE"].iter().any(|s| m.ends_with(s))
            || LEG_MARKERS.iter().any(|s| m.len() == 4 && m.ends_with(s))
    };
    let mut with_leg_gap = 0;
    for f in &fit.frames {
        let leg_gap = f.missing.iter().any(on_legs);
        assert_eq!(
            f.legs_measured,
            Some(!leg_gap),
            "frame {} missing {:?}",
            f.frame,
            f.missing
        );
        with_leg_gap += usize::from(leg_gap);
    }
    assert!(with_leg_gap > 0, "the gaps never hit a leg marker");
}

#[test]
fn only_a_missing_pelvis_or_leg_marker_leaves_the_legs_unmeasured() {
    let model = default_body();
    let (mut trial, _) = synth_trial(&vec![0.0; model.num_betas], 40, 0.001, false);
    let mut drop = |frames: std::ops::Range<usize>, names: &[&str]| {
        for name in names {
            let i = trial.marker_labels.iter().position(|l| l == name).unwrap();
            for f in frames.clone() {
                trial.markers_m[f][i] = None;
            }
        }
    };
    drop(5..10, &["C7", "LFHD", "RELB"]);
    drop(15..20, &["LKNE"]);
    drop(25..30, &["RPSI"]);
    let fit = fit_self_calibrated(&trial, &default_limits(model));
    for f in &fit.frames {
        let want = !(15..20).contains(&f.frame) && !(25..30).contains(&f.frame);
        assert_eq!(
            f.legs_measured,
            Some(want),
            "frame {} missing {:?}",
            f.frame,
            f.missing
        );
    }
}
