//! The Export panel's work: the walk on screen, coloured by the explanation shown (summed over
//! its window), written as an animated `.glb` (see [`crate::export`]).

use std::path::PathBuf;

use bevy::prelude::*;

use super::colouring::Importance;
use super::pose::{BodyState, CurrentSequence};
use super::status::StatusLine;
use crate::explain::colouring::{scaled_to_unit, vertex_colours_linear};
use crate::export::{WalkAnimation, write_glb};

/// The path typed into the Export panel.
#[derive(Resource, Debug, Clone)]
pub struct ExportState {
    /// Where the next export goes.
    pub path_text: String,
    /// Bake the explanation's colours into the file (when one is shown).
    pub with_relevance: bool,
}

impl Default for ExportState {
    fn default() -> Self {
        ExportState {
            path_text: "gaitlens_walk.glb".into(),
            with_relevance: true,
        }
    }
}

/// Asks for the current walk to be written to this `.glb`.
#[derive(Message, Debug, Clone)]
pub struct ExportRequest(pub PathBuf);

/// Owns [`ExportState`] and answers [`ExportRequest`]s.
pub struct ExportPlugin;

impl Plugin for ExportPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<ExportState>()
            .add_message::<ExportRequest>()
            .add_systems(Update, export_requested);
    }
}

/// Writes the requested exports and reports each in the status line.
fn export_requested(
    mut requests: MessageReader<ExportRequest>,
    seq: Res<CurrentSequence>,
    body: Option<Res<BodyState>>,
    importance: Res<Importance>,
    state: Res<ExportState>,
    mut status: ResMut<StatusLine>,
) {
    for ExportRequest(path) in requests.read() {
        match export_current(
            path,
            &seq,
            body.as_deref(),
            &importance,
            state.with_relevance,
        ) {
            Ok(msg) => {
                status.error = None;
                status.info = Some(msg);
            }
            Err(e) => status.error = Some(e),
        }
    }
}

/// Exports the sequence on screen; the message says what was written.
pub fn export_current(
    path: &std::path::Path,
    seq: &CurrentSequence,
    body: Option<&BodyState>,
    importance: &Importance,
    with_relevance: bool,
) -> Result<String, String> {
    let (Some(s), Some(body)) = (seq.sequence.as_deref(), body) else {
        return Err("nothing to export: load a walk (pose folder or C3D/TRC) first".into());
    };
    if path.extension().and_then(|e| e.to_str()) != Some("glb") {
        return Err(format!(
            "{}: the file name must end in .glb",
            path.display()
        ));
    }
    let model = &body.model;
    let shown = importance.shown.as_deref().filter(|_| with_relevance);
    let colours = shown
        .filter(|_| model.num_joints() >= crate::dataset::align::NUM_JOINTS)
        .map(|e| {
            vertex_colours_linear(
                model,
                &scaled_to_unit(&e.window_sum()),
                importance.colormap,
                importance.weighting,
            )
        });
    let walk = WalkAnimation {
        model,
        betas: &s.betas,
        rotations: &s.rotations,
        translations: &s.translations,
        rate_hz: s.rate_hz,
        name: &s.name,
        // The viewer's sequences are already turned y-up, glTF's up.
        gltf_from_lab: nalgebra::Matrix3::identity(),
        vertex_colours: colours,
    };
    let bytes = write_glb(&walk, path).map_err(|e| e.to_string())?;
    let what = match (shown, walk.vertex_colours.is_some()) {
        (Some(e), true) => format!(
            ", coloured by {} summed over frames {}–{}",
            e.label,
            e.start_frame,
            e.start_frame + e.interval.saturating_sub(1)
        ),
        _ => String::new(),
    };
    Ok(format!(
        "exported {} ({} frames, {:.1} MB{what}): opens in Blender and web glTF viewers",
        path.display(),
        s.num_frames(),
        bytes as f64 / 1e6
    ))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::dataset::align::NUM_JOINTS;
    use crate::viewer::colouring::ShownExplanation;

    #[test]
    fn the_panel_exports_the_walk_on_screen_with_the_shown_colours() {
        let model = crate::body::default_model::default_body();
        let seq = crate::viewer::demo::demo_sequence(model).unwrap();
        let frames = seq.num_frames();
        let body = BodyState::new(Arc::new(model.clone()), &seq.betas);
        let mut current = CurrentSequence::default();
        current.set(Some(Arc::new(seq)));
        // Relevance on the left knee only: its skin turns red, the rest stays near white.
        let mut rel = vec![0f32; 10 * NUM_JOINTS];
        rel[4] = 1.0;
        let importance = Importance {
            shown: Some(Arc::new(ShownExplanation::new(
                0,
                rel,
                true,
                2.0,
                "test".into(),
            ))),
            enabled: true,
            ..Default::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("walk.glb");
        let msg = export_current(&out, &current, Some(&body), &importance, true).unwrap();
        assert!(msg.contains("coloured by test"), "{msg}");
        let bytes = std::fs::read(&out).unwrap();
        let g = gltf::Gltf::from_slice(&bytes).unwrap();
        let blob = g.blob.clone().unwrap();
        let prim = g
            .document
            .meshes()
            .next()
            .unwrap()
            .primitives()
            .next()
            .unwrap();
        let reader = prim.reader(|_| Some(&blob));
        let colours: Vec<[f32; 3]> = reader.read_colors(0).unwrap().into_rgb_f32().collect();
        assert_eq!(colours.len(), model.num_vertices());
        assert!(
            colours.iter().any(|c| c[0] > 0.3 && c[2] < 0.05),
            "no red knee"
        );
        let keys = g
            .document
            .animations()
            .next()
            .unwrap()
            .channels()
            .next()
            .unwrap();
        let n = keys.reader(|_| Some(&blob)).read_inputs().unwrap().count();
        assert_eq!(n, frames);
        // Without a walk, or with a wrong extension: a message, no file.
        let empty = CurrentSequence::default();
        assert!(export_current(&out, &empty, Some(&body), &importance, true).is_err());
        let bad = dir.path().join("walk.gltf");
        assert!(export_current(&bad, &current, Some(&body), &importance, true).is_err());
        assert!(!bad.exists());
    }
}
