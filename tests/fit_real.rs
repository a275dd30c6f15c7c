//! The fitter on the shared Vicon Plug-in Gait trials: marker RMSE and sagittal angles against
//! Vicon's own outputs stored in the same files (issue acceptance thresholds).

use std::path::{Path, PathBuf};

use gaitlens::body::default_model::{default_body, default_markers};
use gaitlens::fit::angles::{SagittalAngles, compare, sagittal_angles};
use gaitlens::fit::{FitConfig, TrialFit, default_limits, fit_trial};
use gaitlens::formats::MarkerTrial;
use gaitlens::formats::c3d::read_c3d;

fn data(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/c3d")
        .join(name);
    assert!(p.exists(), "missing shared data file {}", p.display());
    p
}

fn fit(name: &str, static_name: Option<&str>) -> (MarkerTrial, TrialFit) {
    let trial = read_c3d(&data(name)).unwrap();
    let stat = static_name.map(|s| read_c3d(&data(s)).unwrap());
    let model = default_body();
    let (f, _) = fit_trial(
        model,
        default_markers(),
        &trial,
        stat.as_ref(),
        &default_limits(model),
        &FitConfig::default(),
        name,
        |_, _| {},
    )
    .unwrap();
    (trial, f)
}

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn assert_rmse(name: &str, f: &TrialFit) {
    let r = f.rmses_m();
    assert!(!r.is_empty(), "{name}: no frame fitted");
    let (median, p95) = (percentile(r.clone(), 0.5), percentile(r, 0.95));
    assert!(
        median <= 0.012,
        "{name}: median marker RMSE {:.1} mm > 12 mm",
        median * 1e3
    );
    assert!(
        p95 <= 0.020,
        "{name}: 95th percentile marker RMSE {:.1} mm > 20 mm",
        p95 * 1e3
    );
}

fn angle_vs_vicon(
    trial: &MarkerTrial,
    f: &TrialFit,
    get: fn(&SagittalAngles) -> f64,
    label: &str,
) -> (f64, f64) {
    let model = default_body();
    let ours: Vec<f64> = f
        .poses
        .iter()
        .map(|p| get(&sagittal_angles(model, p).unwrap()))
        .collect();
    let vicon: Vec<Option<f64>> = trial
        .model_output(label)
        .unwrap_or_else(|| panic!("{label} missing"))
        .values
        .iter()
        .map(|v| v.map(|v| v[0]))
        .collect();
    let (r, rmse, _) = compare(&ours, &vicon).unwrap();
    (r, rmse)
}

#[test]
fn flatfoot_walk_with_static_meets_marker_and_angle_targets() {
    let (trial, f) = fit(
        "PiG_Motion-FlatFoot-Full.c3d",
        Some("PiG_Calibration-FlatFoot-Full.c3d"),
    );
    assert_rmse("PiG_Motion-FlatFoot-Full", &f);
    for (get, label) in [
        (
            (|a: &SagittalAngles| a.l_knee_flex_deg) as fn(&SagittalAngles) -> f64,
            "LKneeAngles",
        ),
        (|a: &SagittalAngles| a.r_knee_flex_deg, "RKneeAngles"),
    ] {
        let (r, rmse) = angle_vs_vicon(&trial, &f, get, label);
        assert!(
            r >= 0.95 && rmse <= 5.0,
            "{label}: r = {r:.3}, RMSE {rmse:.1}°"
        );
    }
    for (get, label) in [
        (
            (|a: &SagittalAngles| a.l_hip_flex_deg) as fn(&SagittalAngles) -> f64,
            "LHipAngles",
        ),
        (|a: &SagittalAngles| a.r_hip_flex_deg, "RHipAngles"),
    ] {
        let (r, _) = angle_vs_vicon(&trial, &f, get, label);
        assert!(r >= 0.90, "{label}: r = {r:.3}");
    }
}

#[test]
fn self_calibrated_walks_meet_marker_targets() {
    for name in ["sample32_vicon_zerowire.c3d", "treadmill_events.c3d"] {
        let (_, f) = fit(name, None);
        assert_rmse(name, &f);
    }
}

#[test]
fn gappy_trial_fits_without_nan_and_flags_gaps() {
    let (_, f) = fit("sample23_Vicon_analysis.c3d", None);
    assert!(
        f.frames.iter().any(|r| r.interpolated),
        "no frame flagged as interpolated"
    );
    assert!(
        f.frames.iter().any(|r| !r.missing.is_empty()),
        "no missing marker reported"
    );
    for p in &f.poses {
        assert!(p.translation.iter().all(|x| x.is_finite()));
        assert!(p.rotations.iter().all(|r| r.iter().all(|x| x.is_finite())));
    }
    assert_rmse("sample23_Vicon_analysis", &f);
}

#[test]
fn lower_body_trial_fits_legs_and_reports_the_rest_unconstrained() {
    let (_, f) = fit("PiG_Motion3_FF.c3d", Some("PiG_Calibration3_FF.c3d"));
    assert_rmse("PiG_Motion3_FF", &f);
    for j in ["left_elbow", "right_wrist", "head"] {
        assert!(
            f.unconstrained_joints.iter().any(|u| u == j),
            "{j} should be unconstrained: {:?}",
            f.unconstrained_joints
        );
    }
    assert!(f.unmatched_markers.iter().any(|m| m == "LFHD"));
}
