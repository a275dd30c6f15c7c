//! Foot strikes found from the motion (Zeni et al. 2008) against the events the labs marked in
//! their own C3D files (Vicon "Foot Strike", left and right), on every shared walk with events.

use std::path::{Path, PathBuf};

use gaitlens::formats::c3d::read_c3d;
use gaitlens::gait::events::detect_events_from_markers;

fn data(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/c3d")
        .join(name);
    assert!(p.exists(), "missing shared data file {}", p.display());
    p
}

/// Walks with lab-marked foot strikes.
const WALKS: [&str; 6] = [
    "PiG_Motion-FlatFoot-Full.c3d",
    "PiG_Motion3_FF.c3d",
    "sample03_gait-pig.c3d",
    "sample23_Vicon_analysis.c3d",
    "sample32_vicon_zerowire.c3d",
    "treadmill_events.c3d",
];

/// detected − marked in ms for every marked foot strike that lies between the first and last
/// detected strike of its side (a strike at the record's edge cannot be a local maximum).
fn strike_errors_ms(name: &str) -> (Vec<f64>, usize) {
    let trial = read_c3d(&data(name)).unwrap();
    let ev = detect_events_from_markers(&trial).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut errors = Vec::new();
    let mut marked = 0;
    for (side, detected) in [("Left", &ev.left.strikes), ("Right", &ev.right.strikes)] {
        let (Some(&first), Some(&last)) = (detected.first(), detected.last()) else {
            panic!("{name}: no {side} strike detected");
        };
        for e in trial.events.iter().filter(|e| {
            e.label.eq_ignore_ascii_case("Foot Strike") && e.context.eq_ignore_ascii_case(side)
        }) {
            let f = e.frame;
            if f < first as i64 - 5 || f > last as i64 + 5 {
                continue;
            }
            marked += 1;
            let nearest = detected
                .iter()
                .map(|&d| d as i64 - f)
                .min_by_key(|d| d.abs())
                .unwrap();
            errors.push(nearest as f64 / trial.rate_hz * 1000.0);
        }
    }
    (errors, marked)
}

#[test]
fn detected_foot_strikes_match_the_labs_own_events() {
    let mut all = Vec::new();
    for name in WALKS {
        let (errors, marked) = strike_errors_ms(name);
        assert!(
            marked >= 2,
            "{name}: only {marked} marked strikes inside the detected range"
        );
        let errors: Vec<f64> = errors.iter().map(|e| e.abs()).collect();
        let worst = errors.iter().copied().fold(0.0, f64::max);
        eprintln!(
            "{name}: {marked} strikes, median {:.0} ms, worst {worst:.0} ms",
            median(&errors)
        );
        // Within a tenth of a stride everywhere (a walk with only ankle markers, sample03, has
        // no heel to land: the ankle keeps coming down until the foot is flat).
        assert!(worst <= 100.0, "{name}: a foot strike {worst:.0} ms off");
        all.extend(errors);
    }
    let m = median(&all);
    assert!(
        m <= 20.0,
        "median foot-strike error {m:.0} ms over all walks"
    );
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s[s.len() / 2]
}
