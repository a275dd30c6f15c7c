//! Fuzzes the marker-network model card parser: any bytes give `Ok` or a typed error, and a
//! card that parses answers its out-of-domain check without NaN.
#![no_main]

use std::path::Path;

use gaitlens::train::checkpoint::parse_card;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(card) = parse_card(data, Path::new("fuzz_card.json")) else {
        return;
    };
    // A window of the card's own shape (bounded, so a huge stated shape is not an allocation
    // test), filled deterministically from the input bytes.
    let len = card.interval.saturating_mul(card.joints).saturating_mul(3);
    if len == 0 || len > 1 << 20 {
        return;
    }
    let window: Vec<f32> = (0..len)
        .map(|i| f32::from(data[i % data.len()]) / 64.0 - 2.0)
        .collect();
    if let Some(check) = card.domain_check(&window) {
        assert!(!check.distance.is_nan(), "domain distance NaN");
        assert!(check.threshold.is_finite(), "domain threshold not finite");
    }
    let _ = card.alignment();
});
