//! The egui panels of the viewer, one function per panel (`*_ui`), drawn in one side window.

mod body;
mod data;
mod explain;
mod playback;

use bevy::ecs::system::SystemParam;
use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};

use super::camera::FlyCamera;
use super::colouring::Importance;
use super::curves::GaitCurves;
use super::dialogs::{LoadBodyRequest, LoadSequenceRequest, PendingDialog, StatusLine};
use super::export::{ExportRequest, ExportState};
use super::gpu_bridge::SharedGpu;
use super::keypoints::{KeypointAction, KeypointView, keypoints_window_ui};
use super::network::{ExplainRequest, LoadNetworkRequest, NetworkState, PendingNetworkDialog};
use super::playback::Playback;
use super::pose::{BodyState, CurrentSequence, PosedFrame};
use super::scene::UploadTiming;
use super::trial::{MarkerOverlay, TrialFitState};

pub use body::{BodyAction, body_panel_ui};
pub use data::{DataPanelState, data_panel_ui};
pub use explain::{
    JOINT_LABELS, NetworkAction, explain_panel_ui, legend_ui, network_panel_ui, relevance_map_ui,
    track_ui,
};
pub use playback::playback_panel_ui;

/// Draws the panels every frame.
pub struct PanelsPlugin;

impl Plugin for PanelsPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<DataPanelState>()
            .add_systems(EguiPrimaryContextPass, viewer_panels_ui);
    }
}

/// Trial, clip, body-load and curves state the side window reads beside the main ones.
#[derive(SystemParam)]
struct MorePanelParams<'w> {
    fits: Res<'w, TrialFitState>,
    overlay: ResMut<'w, MarkerOverlay>,
    body_w: MessageWriter<'w, LoadBodyRequest>,
    clips: ResMut<'w, KeypointView>,
    curves: ResMut<'w, GaitCurves>,
    export: ResMut<'w, ExportState>,
    export_w: MessageWriter<'w, ExportRequest>,
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
    (mut net, mut importance, gpu, mut net_dialog): (
        ResMut<NetworkState>,
        ResMut<Importance>,
        Option<Res<SharedGpu>>,
        ResMut<PendingNetworkDialog>,
    ),
    (mut explain_w, mut load_w): (
        MessageWriter<ExplainRequest>,
        MessageWriter<LoadNetworkRequest>,
    ),
    mut more: MorePanelParams,
) -> Result {
    let ctx = contexts.ctx_mut()?;
    match keypoints_window_ui(ctx, &mut more.clips, playback.frame()) {
        Some(KeypointAction::Select(i)) => match more.clips.select(i) {
            Ok((frames, rate_hz)) => {
                *playback = Playback::new(frames, rate_hz);
                playback.playing = true;
                more.clips.explain_if_possible();
            }
            Err(e) => more.clips.note = Some(e),
        },
        Some(KeypointAction::Close) => {
            more.clips.display = None;
            *playback = Playback::default();
        }
        None => {}
    }
    // As tall as the window allows, so Explain is visible without scrolling at first launch.
    let screen = ctx.content_rect();
    let screen_h = screen.height();
    let panel = egui::Window::new("gaitlens")
        .default_pos([8.0, 8.0])
        .default_width(340.0)
        .default_height((screen_h - 24.0).max(300.0))
        .vscroll(true)
        .show(ctx, |ui| {
            status_ui(ui, &status);
            egui::CollapsingHeader::new("Data")
                .default_open(true)
                .show(ui, |ui| {
                    if let Some(path) = data_panel_ui(
                        ui,
                        &mut data_state,
                        &mut pending,
                        seq.sequence.as_deref(),
                        &more.fits,
                        &mut more.overlay,
                        playback.frame(),
                    ) {
                        requests.write(LoadSequenceRequest(path));
                    }
                });
            egui::CollapsingHeader::new("Playback")
                .default_open(true)
                .show(ui, |ui| {
                    playback_panel_ui(ui, &mut playback);
                    ui.checkbox(
                        &mut more.curves.open,
                        "gait curves (cycles, norms, GPS) in their own window",
                    );
                });
            if let Some(body) = body.as_deref_mut() {
                egui::CollapsingHeader::new("Body")
                    .default_open(false)
                    .show(ui, |ui| {
                        let seq_betas = seq.sequence.as_ref().map(|s| &s.betas[..]);
                        match body_panel_ui(ui, body, seq_betas, &mut data_state.supr_path_text) {
                            Some(BodyAction::LoadDefault) => {
                                more.body_w.write(LoadBodyRequest(None));
                            }
                            Some(BodyAction::LoadSupr(p)) => {
                                more.body_w.write(LoadBodyRequest(Some(p)));
                            }
                            Some(BodyAction::OpenDialog) => {
                                super::dialogs::open_body_dialog(&mut pending);
                            }
                            None => {}
                        }
                    });
            }
            egui::CollapsingHeader::new("Camera")
                .default_open(false)
                .show(ui, |ui| camera_panel_ui(ui, &mut cam));
            let gpu_note = gpu.as_ref().map(|g| g.note.as_str()).unwrap_or("CPU only");
            let gpu_available = gpu.as_ref().is_some_and(|g| g.device.is_some());
            egui::CollapsingHeader::new("Network")
                .default_open(true)
                .show(ui, |ui| match network_panel_ui(ui, &mut net, gpu_note) {
                    Some(NetworkAction::LoadDemo) => {
                        load_w.write(LoadNetworkRequest(None));
                    }
                    Some(NetworkAction::LoadPath(p)) => {
                        load_w.write(LoadNetworkRequest(Some(p)));
                    }
                    Some(NetworkAction::OpenDialog) => net_dialog.open(),
                    Some(NetworkAction::Remove) => {
                        net.network = None;
                        net.last = None;
                        importance.shown = None;
                    }
                    None => {}
                });
            egui::CollapsingHeader::new("Explain")
                .default_open(true)
                .show(ui, |ui| {
                    let frames = seq.sequence.as_ref().map(|s| (s.num_frames(), s.rate_hz));
                    let unmeasured = seq
                        .sequence
                        .as_ref()
                        .map(|s| s.unmeasured_joints.clone())
                        .unwrap_or_default();
                    if explain_panel_ui(
                        ui,
                        &mut net,
                        &mut importance,
                        &mut playback,
                        frames,
                        &unmeasured,
                        gpu_available,
                    ) {
                        explain_w.write(ExplainRequest);
                    }
                });
            egui::CollapsingHeader::new("Export")
                .default_open(false)
                .show(ui, |ui| {
                    if let Some(path) =
                        export_panel_ui(ui, &mut more.export, importance.shown.is_some())
                    {
                        more.export_w.write(ExportRequest(path));
                    }
                });
            ui.separator();
            ui.small(format!(
                "CPU skinning {:.1} ms, mesh update {:.1} ms",
                posed.skin_ms, upload.upload_ms
            ));
        });
    // Framing keeps the body right of the panel (only when it sits at the left edge).
    let inset = panel
        .map(|r| r.response.rect)
        .filter(|r| r.left() < 0.25 * screen.width())
        .map_or(0.0, |r| {
            (r.right() - screen.left()) / screen.width().max(1.0)
        });
    cam.set_inset(false, inset);
    Ok(())
}

/// The Export panel: the walk as an animated glTF binary; returns the path to write to.
pub fn export_panel_ui(
    ui: &mut egui::Ui,
    state: &mut ExportState,
    explained: bool,
) -> Option<std::path::PathBuf> {
    ui.small("the walk as an animated .glb (Blender, web glTF viewers, slides)");
    ui.add_enabled(
        explained,
        egui::Checkbox::new(
            &mut state.with_relevance,
            "colour by the explanation (window total)",
        ),
    );
    let mut out = None;
    ui.horizontal(|ui| {
        ui.add(egui::TextEdit::singleline(&mut state.path_text).desired_width(200.0));
        if ui.button("Export .glb").clicked() && !state.path_text.trim().is_empty() {
            out = Some(std::path::PathBuf::from(state.path_text.trim()));
        }
    });
    out
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
    // Words, not arrow glyphs: egui's default fonts lack the arrows (they drew as empty boxes).
    ui.small("Space play/pause, Left/Right arrow keys step a frame");
}
