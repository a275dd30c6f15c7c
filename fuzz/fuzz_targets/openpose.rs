//! Fuzzes the OpenPose frame parser and the zip reader: any bytes must give `Ok` or `Err`.
#![no_main]

use std::path::Path;

use gaitlens::formats::openpose::{TrackerConfig, parse_openpose_frame, read_openpose_zip_bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.starts_with(b"PK") {
        let _ = read_openpose_zip_bytes(data, Path::new("fuzz.zip"), &TrackerConfig::default());
    } else {
        let _ = parse_openpose_frame(data, "fuzz_000000000000_keypoints.json");
    }
});
