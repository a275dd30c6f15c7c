//! Fuzzes the C3D reader: any bytes must give `Ok` or `Err`, never a panic or a huge allocation.
#![no_main]

use std::path::Path;

use gaitlens::formats::c3d::parse_c3d;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_c3d(data, Path::new("fuzz.c3d"));
});
