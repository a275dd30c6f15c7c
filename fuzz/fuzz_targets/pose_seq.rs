//! Fuzzes the pose-sequence `.json` and `.txt` parsers and checks the writer round trip.
#![no_main]

use std::path::Path;

use gaitlens::formats::pose_seq::{format_pose_json, parse_pose_json, parse_pose_txt};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(f) = parse_pose_json(data, Path::new("pose_00000.json")) {
        // Whatever parses must re-parse to the same values after writing (NaN compares unequal).
        let again = parse_pose_json(format_pose_json(&f).as_bytes(), Path::new("rewritten.json"))
            .expect("writer output must parse");
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&again.pose), bits(&f.pose));
        assert_eq!(bits(&again.betas), bits(&f.betas));
    }
    let _ = parse_pose_txt(&String::from_utf8_lossy(data), Path::new("pose_00000.txt"));
});
