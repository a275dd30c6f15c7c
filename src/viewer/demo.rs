//! The bundled demo data the viewer opens at first launch: the walk in `assets/demo_walk.json`
//! (the shared PiG_Motion-FlatFoot-Full.c3d trial fitted with `gaitlens fit` on the embedded
//! default body; see `assets/PROVENANCE.md`). The demo network lives in [`super::network`].

use serde::Deserialize;

use super::{ViewerError, ViewerSequence};
use crate::body::BodyModel;

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
pub fn demo_walk() -> Result<DemoWalk, ViewerError> {
    serde_json::from_str(DEMO_WALK_JSON).map_err(|e| ViewerError::Load {
        path: "assets/demo_walk.json".into(),
        source: Box::new(e),
    })
}

/// The demo walk ready for the viewer. On another model than the embedded body (e.g. SUPR with
/// 75 joints) the 22 body joints, which share SMPL's order, are posed and the rest stay at rest;
/// the fitted shape belongs to the embedded body, so other models get their mean shape.
pub fn demo_sequence(model: &BodyModel) -> Result<ViewerSequence, ViewerError> {
    let d = demo_walk()?;
    let n = 3 * model.num_joints();
    let poses: Vec<Vec<f64>> = d
        .poses
        .iter()
        .map(|p| {
            let mut p = p.clone();
            p.resize(n.max(p.len()), 0.0);
            p.truncate(n);
            p
        })
        .collect();
    let own_body = model.name == crate::body::default_model::default_body().name;
    let betas = if own_body { d.betas.clone() } else { vec![] };
    ViewerSequence::from_axis_angle(
        model,
        &format!("demo walk: {}", d.source),
        &betas,
        &poses,
        &d.translations,
        d.rate_hz,
    )
}
