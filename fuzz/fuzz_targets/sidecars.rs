//! Fuzzes the side files a pose folder or cohort carries — `fit_report.json`, a cohort's
//! `ground_truth.json`, cohort lists, 3D Body Twin constraints and normative tables — chosen by
//! the first byte, so one corpus covers them all.
#![no_main]

use std::path::Path;

use gaitlens::formats::cohort::parse_cohort;
use gaitlens::formats::constraints::parse_constraints;
use gaitlens::formats::pose_seq::check_fit_report_text;
use gaitlens::gait::normative::NormativeTable;
use gaitlens::synth::parse_ground_truth;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    match which % 5 {
        0 => {
            let text = String::from_utf8_lossy(rest);
            let _ = check_fit_report_text(&text, 100).to_string();
        }
        1 => {
            if let Ok(truth) = parse_ground_truth(rest, Path::new("ground_truth.json")) {
                for t in &truth {
                    let _ = (t.joints_in_window(true), t.limb_in_window(true));
                }
            }
        }
        2 => {
            let _ = parse_cohort(rest, Path::new("/nonexistent/cohort.json"));
        }
        3 => {
            let _ = parse_constraints(rest, Path::new("constraints.json"));
        }
        _ => {
            let text = String::from_utf8_lossy(rest);
            let _ = NormativeTable::parse(&text, Path::new("normative.csv"));
        }
    }
});
