//! The bundled demo walk (assets/demo_walk.json): the shared PiG_Motion-FlatFoot-Full.c3d trial
//! fitted with `gaitlens fit` on the embedded default body (see assets/PROVENANCE.md).

#![cfg_attr(not(feature = "viewer"), allow(dead_code))]

use serde::Deserialize;

/// The embedded demo walk.
pub static DEMO_WALK_JSON: &str = include_str!("../../assets/demo_walk.json");

/// The demo walk as stored.
#[derive(Debug, Deserialize)]
pub struct DemoWalk {
    /// Where it came from.
    pub source: String,
    /// Frame rate in Hz.
    pub rate_hz: f64,
    /// Shape coefficients.
    pub betas: Vec<f64>,
    /// Axis-angle poses, 3·J a frame.
    pub poses: Vec<Vec<f64>>,
    /// Root translations, metres.
    pub translations: Vec<[f64; 3]>,
}

/// Parses the embedded demo walk.
pub fn demo_walk() -> anyhow::Result<DemoWalk> {
    Ok(serde_json::from_str(DEMO_WALK_JSON)?)
}

/// The demo walk ready for the viewer.
#[cfg(feature = "viewer")]
pub fn demo_sequence(
    model: &gaitlens::body::BodyModel,
) -> anyhow::Result<gaitlens::viewer::ViewerSequence> {
    let d = demo_walk()?;
    Ok(gaitlens::viewer::ViewerSequence::from_axis_angle(
        model,
        &format!("demo walk: {}", d.source),
        &d.betas,
        &d.poses,
        &d.translations,
        d.rate_hz,
    )?)
}
