//! Untrustworthy markers on real walks: a mislabelled thigh marker is flagged and down-weighted, and a
//! left/right swap over a few frames is found, reported with its frames and tracked with the
//! labels put back; a clean walk raises neither.

use std::path::{Path, PathBuf};

use gaitlens::body::default_model::{default_body, default_markers};
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

fn fit(trial: &MarkerTrial, name: &str) -> TrialFit {
    fit_with_errors(trial, name).0
}

/// The fit and its per-frame marker errors (`[frame][marker]`, metres).
fn fit_with_errors(trial: &MarkerTrial, name: &str) -> (TrialFit, Vec<Vec<Option<f64>>>) {
    let model = default_body();
    fit_trial(
        model,
        default_markers(),
        trial,
        None,
        &default_limits(model),
        &FitConfig::default(),
        name,
        |_, _| {},
    )
    .unwrap()
}

/// Median over frames of the marker RMSE without marker `skip`.
fn median_rmse_without(f: &TrialFit, errors: &[Vec<Option<f64>>], skip: &str) -> f64 {
    let k = f.marker_labels.iter().position(|l| l == skip);
    let per_frame: Vec<f64> = errors
        .iter()
        .filter_map(|e| {
            let v: Vec<f64> = e
                .iter()
                .enumerate()
                .filter(|&(i, _)| Some(i) != k)
                .filter_map(|(_, x)| *x)
                .collect();
            (!v.is_empty()).then(|| (v.iter().map(|x| x * x).sum::<f64>() / v.len() as f64).sqrt())
        })
        .collect();
    median(per_frame)
}

fn column(trial: &MarkerTrial, label: &str) -> usize {
    trial
        .marker_labels
        .iter()
        .position(|l| l == label)
        .unwrap_or_else(|| panic!("no {label} in the trial"))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[test]
fn a_clean_walk_has_no_outlier_and_no_swap() {
    let trial = read_c3d(&data("sample32_vicon_zerowire.c3d")).unwrap();
    let f = fit(&trial, "sample32");
    assert!(f.marker_outliers.is_empty(), "{:?}", f.marker_outliers);
    assert!(f.marker_swaps.is_empty(), "{:?}", f.marker_swaps);
}

#[test]
fn a_thigh_marker_labelled_on_the_shank_is_flagged_and_down_weighted() {
    let mut trial = read_c3d(&data("sample32_vicon_zerowire.c3d")).unwrap();
    let clean = median(fit(&trial, "clean").rmses_m());
    // RTHI carries the shank wand's trajectory (a labelling mistake), moved 6 cm so it is not
    // simply RTIB twice.
    let (thi, tib) = (column(&trial, "RTHI"), column(&trial, "RTIB"));
    for frame in &mut trial.markers_m {
        frame[thi] = frame[tib].map(|p| [p[0] + 0.06, p[1], p[2]]);
    }
    let (f, errors) = fit_with_errors(&trial, "mislabelled RTHI");
    assert_eq!(f.marker_outliers.len(), 1, "{:?}", f.marker_outliers);
    let o = &f.marker_outliers[0];
    assert_eq!(o.marker, "RTHI");
    assert!(
        f.warnings.iter().any(|w| w.contains("RTHI")),
        "{:?}",
        f.warnings
    );
    // The other markers fit as well as on the clean trial.
    let m = median_rmse_without(&f, &errors, "RTHI");
    assert!(m < clean + 0.002, "median RMSE {m} m vs clean {clean} m");
}

#[test]
fn a_left_right_ankle_swap_is_found_and_undone() {
    let mut trial = read_c3d(&data("sample32_vicon_zerowire.c3d")).unwrap();
    let (l, r) = (column(&trial, "LANK"), column(&trial, "RANK"));
    for frame in &mut trial.markers_m[100..=115] {
        frame.swap(l, r);
    }
    let f = fit(&trial, "swapped ankles");
    let s = f
        .marker_swaps
        .iter()
        .find(|s| [&s.a, &s.b] == [&"LANK".to_string(), &"RANK".to_string()])
        .unwrap_or_else(|| panic!("swap not found: {:?}", f.marker_swaps));
    assert!(
        s.first_frame.abs_diff(100) <= 1 && s.last_frame.abs_diff(115) <= 1,
        "{s:?}"
    );
    assert!(f.marker_outliers.is_empty(), "{:?}", f.marker_outliers);
    // Tracked with the labels put back: the swapped frames fit like the others.
    let during: Vec<f64> = f.frames[100..=115]
        .iter()
        .filter_map(|r| r.rmse_m)
        .collect();
    assert!(median(during) < 0.01, "swapped frames still fit badly");
}
