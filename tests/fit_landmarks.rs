//! The fitter on landmark trials from other labs (gaitkit's labelled walks: Fukuchi 2018 healthy,
//! Van Criekinge 2023 stroke, a Parkinson walk): lower-body landmarks in two conventions
//! (trochanter + lateral knee/ankle skin markers, or hip/knee/ankle joint centres), Y-up and Z-up
//! labs. A pair of hip landmarks leaves the pelvis' tilt free, so these walks test that the fitted
//! body stands upright and faces where it walks in any lab convention.

use std::path::{Path, PathBuf};

use gaitlens::body::default_model::{default_body, fitting_markers};
use gaitlens::fit::{FitConfig, TrialFit, default_limits, fit_trial};
use gaitlens::formats::gaitkit::{LandmarkConvention, read_gaitkit};
use nalgebra::{Matrix3, Vector3};

fn data(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/labelled")
        .join(name);
    assert!(p.exists(), "missing shared data file {}", p.display());
    p
}

fn fit(name: &str) -> (LandmarkConvention, TrialFit) {
    let g = read_gaitkit(&data(name)).unwrap();
    (g.convention, fit_default(&g.trial, name))
}

/// Fits a trial with the embedded body, its fitting markers and the default settings.
fn fit_default(trial: &gaitlens::formats::MarkerTrial, name: &str) -> TrialFit {
    let model = default_body();
    let (f, _) = fit_trial(
        model,
        fitting_markers(),
        trial,
        None,
        &default_limits(model),
        &FitConfig::default(),
        name,
        |_, _| {},
    )
    .unwrap();
    f
}

/// World rotation of joint `j` in a fitted pose (parents composed).
fn world_rotation(f: &TrialFit, frame: usize, j: usize) -> Matrix3<f64> {
    let model = default_body();
    let mut r = f.poses[frame].rotations[j];
    let mut k = j;
    while let Some(p) = model.parents[k] {
        r = f.poses[frame].rotations[p] * r;
        k = p;
    }
    r
}

/// Mean over frames of (pelvis heading off the walking direction, trunk tilt from the lab
/// vertical), degrees.
fn heading_and_trunk_tilt_deg(f: &TrialFit, up: &Vector3<f64>) -> (f64, f64) {
    let model = default_body();
    let spine3 = model
        .joint_names
        .iter()
        .position(|n| n == "spine3")
        .unwrap();
    let walk = f.poses.last().unwrap().translation - f.poses[0].translation;
    let walk = (walk - up * up.dot(&walk)).normalize();
    let n = f.poses.len() as f64;
    let (mut heading, mut tilt) = (0.0, 0.0);
    for i in 0..f.poses.len() {
        let facing = world_rotation(f, i, 0) * Vector3::z();
        let facing = (facing - up * up.dot(&facing)).normalize();
        heading += facing.dot(&walk).clamp(-1.0, 1.0).acos().to_degrees() / n;
        let trunk_up = world_rotation(f, i, spine3) * Vector3::y();
        tilt += trunk_up.dot(up).clamp(-1.0, 1.0).acos().to_degrees() / n;
    }
    (heading, tilt)
}

#[test]
fn a_plug_in_gait_walk_in_a_z_up_lab_finds_its_vertical() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/c3d/sample23_Vicon_analysis.c3d");
    assert!(p.exists(), "missing shared data file {}", p.display());
    let trial = gaitlens::formats::c3d::read_c3d(&p).unwrap();
    let f = fit_default(&trial, "sample23");
    assert_eq!(f.lab_up, Some(Vector3::z()));
}

#[test]
fn landmark_walks_of_three_labs_fit_upright_and_facing_their_walk() {
    let mut failures = Vec::new();
    for (name, convention, up) in [
        (
            "example_healthy.json",
            LandmarkConvention::SkinMarkers,
            Vector3::y(),
        ),
        (
            "example_stroke.json",
            LandmarkConvention::JointCentres,
            Vector3::z(),
        ),
        (
            "example_parkinson.json",
            LandmarkConvention::JointCentres,
            Vector3::y(),
        ),
    ] {
        let (read_as, f) = fit(name);
        assert_eq!(read_as, convention, "{name}: landmark convention");
        let mut r = f.rmses_m();
        r.sort_by(f64::total_cmp);
        let median_mm = r[r.len() / 2] * 1e3;
        assert_eq!(f.lab_up, Some(up), "{name}: lab vertical");
        let (heading, tilt) = heading_and_trunk_tilt_deg(&f, &up);
        eprintln!(
            "{name}: median RMSE {median_mm:.1} mm, pelvis heading {heading:.1}° off the walk, \
             trunk {tilt:.1}° from vertical"
        );
        if median_mm > 5.0 {
            failures.push(format!(
                "{name}: median marker RMSE {median_mm:.1} mm > 5 mm"
            ));
        }
        // Before the fitter knew the lab's vertical: 23–27° off the walk, trunk 16–23° tilted.
        if heading > 10.0 {
            failures.push(format!("{name}: pelvis faces {heading:.1}° off the walk"));
        }
        if tilt > 16.0 {
            failures.push(format!("{name}: trunk {tilt:.1}° from vertical on average"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
