//! The Body panel: shape sliders and reset.

use bevy_egui::egui;

use crate::viewer::pose::BodyState;

/// Range of each beta slider (standard deviations of the shape space).
pub const BETA_RANGE: std::ops::RangeInclusive<f64> = -3.0..=3.0;

/// Draws the betas sliders (the first 10) and the reset buttons.
pub fn body_panel_ui(ui: &mut egui::Ui, body: &mut BodyState, sequence_betas: Option<&[f64]>) {
    ui.label(format!(
        "{}: {} vertices, {} joints",
        body.model.name,
        body.model.num_vertices(),
        body.model.num_joints()
    ));
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
}
