//! Gait events found from the motion (Zeni et al. 2008, strikes from the heel, toe-offs from the
//! toe) against the events the labs marked in their own C3D files (Vicon "Foot Strike" and
//! "Foot Off", left and right), on every shared walk with events. The detector never sees the
//! file's EVENT section. The foot-velocity method (Ghoussayni et al. 2004) is measured the same
//! way.

use std::path::{Path, PathBuf};

use gaitlens::formats::c3d::read_c3d;
use gaitlens::gait::events::{EventMethod, FootEvents, detect_events_from_markers};

fn data(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/c3d")
        .join(name);
    assert!(p.exists(), "missing shared data file {}", p.display());
    p
}

/// Walks with lab-marked events.
const WALKS: [&str; 6] = [
    "PiG_Motion-FlatFoot-Full.c3d",
    "PiG_Motion3_FF.c3d",
    "sample03_gait-pig.c3d",
    "sample23_Vicon_analysis.c3d",
    "sample32_vicon_zerowire.c3d",
    "treadmill_events.c3d",
];

/// detected − marked in frames at 100 Hz for every marked event of `label` that lies between the
/// first and last detected event of its kind and side (one at the record's edge cannot be a local
/// extreme), plus how many marked events were compared.
fn errors_100hz(name: &str, label: &str, method: EventMethod) -> Vec<f64> {
    let mut trial = read_c3d(&data(name)).unwrap();
    let marked = std::mem::take(&mut trial.events);
    let ev = detect_events_from_markers(&trial, method).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut errors = Vec::new();
    for (side, foot) in [("Left", &ev.left), ("Right", &ev.right)] {
        let detected = pick(foot, label);
        let (Some(&first), Some(&last)) = (detected.first(), detected.last()) else {
            panic!("{name}: no {side} {label} detected");
        };
        for e in marked
            .iter()
            .filter(|e| e.label.eq_ignore_ascii_case(label) && e.context.eq_ignore_ascii_case(side))
        {
            let f = e.frame;
            if f < first as i64 - 5 || f > last as i64 + 5 {
                continue;
            }
            let nearest = detected
                .iter()
                .map(|&d| d as i64 - f)
                .min_by_key(|d| d.abs())
                .unwrap();
            errors.push(nearest as f64 / trial.rate_hz * 100.0);
        }
    }
    errors
}

fn pick<'a>(foot: &'a FootEvents, label: &str) -> &'a [usize] {
    if label == "Foot Strike" {
        &foot.strikes
    } else {
        &foot.offs
    }
}

fn mean_abs(v: &[f64]) -> f64 {
    v.iter().map(|e| e.abs()).sum::<f64>() / v.len().max(1) as f64
}

/// Coordinate method (the default): mean absolute error ≤ 2 frames at 100 Hz for strikes and
/// ≤ 3 for toe-offs (the targets), pooled and averaged over walks; each walk must have
/// at least two marked events of each type inside its detected range, and no single event may be
/// off by more than a tenth of a stride (10 frames).
#[test]
fn detected_events_match_the_labs_own_events() {
    check(
        EventMethod::Coordinate,
        [("Foot Strike", 2.0), ("Foot Off", 3.0)],
        10.0,
    );
}

/// Foot-velocity method. Its two thresholds were chosen on FlatFoot, Motion3_FF and sample32;
/// sample03 (no heel markers), sample23 and the treadmill walk are held out. Bounds: MAE ≤ 3
/// frames at 100 Hz for either type, no event off by more than a fifth of a stride (20).
#[test]
fn velocity_method_events_match_the_labs_own_events() {
    check(
        EventMethod::Velocity,
        [("Foot Strike", 3.0), ("Foot Off", 3.0)],
        20.0,
    );
}

fn check(method: EventMethod, bounds: [(&str, f64); 2], worst_bound: f64) {
    for (label, bound) in bounds {
        let mut all = Vec::new();
        let mut per_walk = Vec::new();
        for name in WALKS {
            let errors = errors_100hz(name, label, method);
            assert!(
                errors.len() >= 2,
                "{name}: only {} marked {label} events inside the detected range",
                errors.len()
            );
            let worst = errors.iter().map(|e| e.abs()).fold(0.0, f64::max);
            let bias = errors.iter().sum::<f64>() / errors.len() as f64;
            eprintln!(
                "{} {label:11} {name:30} n={:2} MAE {:.1} bias {bias:+.1} worst {worst:.1} frames@100Hz",
                method.name(),
                errors.len(),
                mean_abs(&errors)
            );
            assert!(
                worst <= worst_bound,
                "{name}: a {label} {worst:.1} frames off ({})",
                method.name()
            );
            per_walk.push(mean_abs(&errors));
            all.extend(errors);
        }
        let mae = mean_abs(&all);
        let walk_mean = per_walk.iter().sum::<f64>() / per_walk.len() as f64;
        eprintln!(
            "{} {label}: MAE {mae:.2} frames at 100 Hz over {} events, {walk_mean:.2} averaged over walks",
            method.name(),
            all.len()
        );
        assert!(mae <= bound, "{label}: MAE {mae:.2} frames > {bound}");
        assert!(
            walk_mean <= bound,
            "{label}: walk-averaged MAE {walk_mean:.2} frames > {bound}"
        );
    }
}
