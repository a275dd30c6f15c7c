//! The Body panel: which body model (embedded default or a SUPR file), shape sliders and reset.

use std::path::PathBuf;

use bevy_egui::egui;

use crate::viewer::pose::BodyState;

/// Range of each beta slider (standard deviations of the shape space).
pub const BETA_RANGE: std::ops::RangeInclusive<f64> = -3.0..=3.0;

/// What the Body panel asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum BodyAction {
    /// Show the embedded default body.
    LoadDefault,
    /// Show the SUPR model in this `.npy`/`.npz` file.
    LoadSupr(PathBuf),
    /// Open the native file dialog for a SUPR file.
    OpenDialog,
}

/// Draws the model chooser, the betas sliders (the first 10) and the reset buttons; returns a
/// model change the user asked for.
pub fn body_panel_ui(
    ui: &mut egui::Ui,
    body: &mut BodyState,
    sequence_betas: Option<&[f64]>,
    supr_path: &mut String,
) -> Option<BodyAction> {
    let mut action = None;
    ui.label(format!(
        "{}: {} vertices, {} joints",
        body.model.name,
        body.model.num_vertices(),
        body.model.num_joints()
    ));
    ui.horizontal(|ui| {
        ui.add(
            egui::TextEdit::singleline(supr_path)
                .hint_text("SUPR .npy / .npz path")
                .desired_width(180.0),
        );
        if ui.button("Load").clicked() && !supr_path.trim().is_empty() {
            action = Some(BodyAction::LoadSupr(PathBuf::from(supr_path.trim())));
        }
        if ui.button("…").on_hover_text("choose a SUPR file").clicked() {
            action = Some(BodyAction::OpenDialog);
        }
    });
    if let Some(c) = body.constrained.clone() {
        ui.checkbox(&mut body.use_constrained, "constrained pose space")
            .on_hover_text(format!(
                "read pose files as SUPR's constrained vector ({} values a frame: hinge and \
                 spherical joints), as the original viewer does; untick for axis-angle \
                 (3 × {} values), the original's --unconstrained",
                c.num_pose(),
                c.num_joints()
            ));
    }
    if ui
        .button("embedded default body")
        .on_hover_text("the licence-free body shipped with gaitlens")
        .clicked()
    {
        action = Some(BodyAction::LoadDefault);
    }
    let shown = body.betas.len().min(10);
    for (i, b) in body.betas.iter_mut().take(shown).enumerate() {
        ui.add(egui::Slider::new(b, BETA_RANGE).text(format!("β{i}")));
    }
    ui.horizontal(|ui| {
        if ui.button("reset to 0").clicked() {
            body.betas.iter_mut().for_each(|b| *b = 0.0);
        }
        if let Some(sb) = sequence_betas
            && ui.button("reset to sequence").clicked()
        {
            body.set_betas(sb);
        }
    });
    action
}
