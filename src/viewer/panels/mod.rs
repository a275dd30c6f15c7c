//! The egui panels of the viewer, one function per panel (`*_ui`), drawn in one side window.

mod body;
mod data;
mod playback;

use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};

use super::camera::FlyCamera;
use super::dialogs::{LoadSequenceRequest, PendingDialog, StatusLine};
use super::playback::Playback;
use super::pose::{BodyState, CurrentSequence, PosedFrame};
use super::scene::UploadTiming;

pub use body::body_panel_ui;
pub use data::{DataPanelState, data_panel_ui};
pub use playback::playback_panel_ui;

/// Draws the panels every frame.
pub struct PanelsPlugin;

impl Plugin for PanelsPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<DataPanelState>()
            .add_systems(EguiPrimaryContextPass, viewer_panels_ui);
    }
}

/// The side window holding every panel.
#[allow(clippy::too_many_arguments)]
fn viewer_panels_ui(
    mut contexts: EguiContexts,
    mut data_state: ResMut<DataPanelState>,
    mut pending: ResMut<PendingDialog>,
    mut requests: MessageWriter<LoadSequenceRequest>,
    mut body: Option<ResMut<BodyState>>,
    seq: Res<CurrentSequence>,
    mut playback: ResMut<Playback>,
    status: Res<StatusLine>,
    posed: Res<PosedFrame>,
    upload: Res<UploadTiming>,
    mut cam: ResMut<FlyCamera>,
) -> Result {
    let ctx = contexts.ctx_mut()?;
    egui::Window::new("gaitlens")
        .default_pos([8.0, 8.0])
        .default_width(320.0)
        .vscroll(true)
        .show(ctx, |ui| {
            status_ui(ui, &status);
            egui::CollapsingHeader::new("Data")
                .default_open(true)
                .show(ui, |ui| {
                    if let Some(path) =
                        data_panel_ui(ui, &mut data_state, &mut pending, seq.sequence.as_deref())
                    {
                        requests.write(LoadSequenceRequest(path));
                    }
                });
            egui::CollapsingHeader::new("Playback")
                .default_open(true)
                .show(ui, |ui| playback_panel_ui(ui, &mut playback));
            if let Some(body) = body.as_deref_mut() {
                egui::CollapsingHeader::new("Body")
                    .default_open(false)
                    .show(ui, |ui| {
                        let seq_betas = seq.sequence.as_ref().map(|s| &s.betas[..]);
                        body_panel_ui(ui, body, seq_betas);
                    });
            }
            egui::CollapsingHeader::new("Camera")
                .default_open(false)
                .show(ui, |ui| camera_panel_ui(ui, &mut cam));
            egui::CollapsingHeader::new("Network / Explain")
                .default_open(false)
                .show(ui, not_yet_available_ui);
            ui.separator();
            ui.small(format!(
                "CPU skinning {:.1} ms, mesh update {:.1} ms",
                posed.skin_ms, upload.upload_ms
            ));
        });
    Ok(())
}

/// The error line (red) or the last info message.
pub fn status_ui(ui: &mut egui::Ui, status: &StatusLine) {
    if let Some(e) = &status.error {
        ui.colored_label(egui::Color32::from_rgb(255, 110, 100), format!("⚠ {e}"));
    } else if let Some(i) = &status.info {
        ui.label(i);
    }
}

/// Camera toggles and the key help.
pub fn camera_panel_ui(ui: &mut egui::Ui, cam: &mut FlyCamera) {
    ui.horizontal(|ui| {
        ui.checkbox(&mut cam.orbit, "orbit (O)");
        if ui.checkbox(&mut cam.follow, "follow pelvis (F)").changed() {
            cam.follow_offset = None;
        }
    });
    if ui.button("frame body (Home)").clicked() {
        cam.frame_requested = true;
    }
    ui.add(
        egui::Slider::new(&mut cam.speed_m_s, 0.05..=50.0)
            .logarithmic(true)
            .text("speed m/s"),
    );
    ui.small("W/A/S/D move, Q/E down/up, drag to look, wheel = speed");
    ui.small("Space play/pause, ←/→ step a frame");
}

/// Placeholder for the classifier panels, which later issues add.
pub fn not_yet_available_ui(ui: &mut egui::Ui) {
    ui.label(
        "Not yet available: the network and explanation panels (classifier output, relevance \
         on the body) come with the classifier work.",
    );
}
