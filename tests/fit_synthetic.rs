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
    let x = ((i as f64 * 12.9898).sin() * 43758.5453).fract();
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

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[test]
fn calibration_without_offsets_recovers_shape_and_joint_centres() {
    let model = default_body();
    let mut betas = vec![0.0; model.num_betas];
    betas[0] = 1.0;
    betas[1] = -0.5;
    let (trial, truth) = synth_trial(&betas, 40, 0.0, false);
    let mut cfg = FitConfig::default();
    cfg.calibration.shape_only_rounds = cfg.calibration.rounds;
    cfg.calibration.beta_prior_m = 1e-4;
    let (fit, _) = fit_trial(
        model,
        default_markers(),
        &trial,
        None,
        &[],
        &cfg,
        "synthetic",
        |_, _| {},
    )
    .expect("fit");
    // Shape and pose are fitted by alternation, which converges slowly: these bounds are what it
    // reaches today (see README, "Fitting"), not the exact recovery a joint solve would give.
    assert!(
        median(fit.rmses_m()) < 0.01,
        "median marker RMSE {} m on exact markers",
        median(fit.rmses_m())
    );
    let shaped_true = model.shape(&betas);
    let shaped_fit = model.shape(&fit.calibration.betas);
    let mut worst: f64 = 0.0;
    for (f, p) in fit.poses.iter().enumerate().step_by(5) {
        let jt = model
            .forward_subset(&shaped_true, &truth[f].rotations, truth[f].translation, &[])
            .joints;
        let jf = model
            .forward_subset(&shaped_fit, &p.rotations, p.translation, &[])
            .joints;
        for j in [0, 1, 2, 4, 5, 7, 8] {
            worst = worst.max((jt[j] - jf[j]).norm());
        }
    }
    assert!(
        worst < 0.08,
        "lower-body joints off by up to {worst} m (betas {:?})",
        fit.calibration.betas
    );
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
    let (fit, _) = fit_trial(
        model,
        default_markers(),
        &trial,
        None,
        &limits,
        &FitConfig::default(),
        "synthetic",
        |_, _| {},
    )
    .expect("fit");
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
}
