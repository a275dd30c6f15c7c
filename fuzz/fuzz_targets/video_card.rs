//! Fuzzes the video-network model card parser: any bytes give `Ok` or a typed error (every
//! number range-checked before a network would be built from it).
#![no_main]

use std::path::Path;

use gaitlens::video::training::parse_card;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(card) = parse_card(data, Path::new("fuzz_video_card.json")) {
        assert!(card.target_range.is_finite() && card.target_min.is_finite());
    }
});
