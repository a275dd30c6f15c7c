//! The egui panels of the viewer, one function per panel (`*_ui`), drawn in one side window by
//! one system whose parameters are bundled per panel (`#[derive(SystemParam)]`), and the OpenPose
//! clip window drawn by a system of its own just before it.

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

/// Draws the OpenPose clip window, then the side window with every panel, each frame.
pub struct PanelsPlugin;

impl Plugin for PanelsPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<DataPanelState>().add_systems(
            EguiPrimaryContextPass,
            // The clip window first: a clip chosen there resets the timeline the panels show.
            (keypoints_window_system, viewer_panels_system).chain(),
        );
    }
}

/// The Data panel's inputs and outputs: typed paths, the native dialog, the loaded sequence, the
/// trial fit with its marker overlay, and the load request the panel writes.
#[derive(SystemParam)]
struct DataPanelParams<'w> {
    state: ResMut<'w, DataPanelState>,
    pending: ResMut<'w, PendingDialog>,
    seq: Res<'w, CurrentSequence>,
    fits: ResMut<'w, TrialFitState>,
    overlay: ResMut<'w, MarkerOverlay>,
    load_w: MessageWriter<'w, LoadSequenceRequest>,
}

/// The Body panel's model and the body-load request it writes (its dialog and typed SUPR path
/// live in [`DataPanelParams`]).
#[derive(SystemParam)]
struct BodyPanelParams<'w> {
    body: Option<ResMut<'w, BodyState>>,
    load_w: MessageWriter<'w, LoadBodyRequest>,
}

/// What the Network and Explain panels share: the network, the body colouring, the renderer's
/// GPU, the checkpoint dialog and the requests they write.
#[derive(SystemParam)]
struct NetworkPanelParams<'w> {
    net: ResMut<'w, NetworkState>,
    importance: ResMut<'w, Importance>,
    gpu: Option<Res<'w, SharedGpu>>,
    dialog: ResMut<'w, PendingNetworkDialog>,
    load_w: MessageWriter<'w, LoadNetworkRequest>,
    explain_w: MessageWriter<'w, ExplainRequest>,
}

/// The Export panel's state and the export request it writes.
#[derive(SystemParam)]
struct ExportPanelParams<'w> {
    state: ResMut<'w, ExportState>,
    export_w: MessageWriter<'w, ExportRequest>,
}

/// The read-only lines around the panels: the status line and the per-frame timings.
#[derive(SystemParam)]
struct StatusParams<'w> {
    status: Res<'w, StatusLine>,
    posed: Res<'w, PosedFrame>,
    upload: Res<'w, UploadTiming>,
}

/// Everything the side window reads and writes, one bundle per panel (plus the timeline, the
/// curves toggle and the camera that several panels or the window itself use).
#[derive(SystemParam)]
struct SidePanels<'w> {
    status: StatusParams<'w>,
    data: DataPanelParams<'w>,
    body: BodyPanelParams<'w>,
    network: NetworkPanelParams<'w>,
    export: ExportPanelParams<'w>,
    playback: ResMut<'w, Playback>,
    curves: ResMut<'w, GaitCurves>,
    cam: ResMut<'w, FlyCamera>,
    what_if: super::what_if::WhatIfPanel<'w>,
}

/// Draws the OpenPose 2D window (when a clip is shown) and applies its clip choice or close to
/// the timeline.
fn keypoints_window_system(
    mut contexts: EguiContexts,
    mut clips: ResMut<KeypointView>,
    mut playback: ResMut<Playback>,
) -> Result {
    let ctx = contexts.ctx_mut()?;
    match keypoints_window_ui(ctx, &mut clips, playback.frame()) {
        Some(KeypointAction::Select(i)) => match clips.select(i) {
            Ok((frames, rate_hz)) => {
                *playback = Playback::new(frames, rate_hz);
                playback.playing = true;
                clips.explain_if_possible();
            }
            Err(e) => clips.note = Some(e),
        },
        Some(KeypointAction::Close) => {
            clips.display = None;
            *playback = Playback::default();
        }
        None => {}
    }
    Ok(())
}

/// Draws the side window holding every panel and keeps the camera's framing clear of it.
fn viewer_panels_system(mut contexts: EguiContexts, mut panels: SidePanels) -> Result {
    let ctx = contexts.ctx_mut()?;
    // As tall as the window allows, so Explain is visible without scrolling at first launch.
    let screen = ctx.content_rect();
    let panel = egui::Window::new("gaitlens")
        .default_pos([8.0, 8.0])
        .default_width(340.0)
        .default_height((screen.height() - 24.0).max(300.0))
        .vscroll(true)
        .show(ctx, |ui| side_panels_ui(ui, &mut panels));
    // Framing keeps the body right of the panel (only when it sits at the left edge).
    panels
        .cam
        .set_inset_beside(false, screen, panel.map(|r| r.response.rect));
    Ok(())
}

/// The side window's contents: the status line, one collapsing section per panel, the timings.
fn side_panels_ui(ui: &mut egui::Ui, p: &mut SidePanels) {
    status_ui(ui, &p.status.status);
    egui::CollapsingHeader::new("Data")
        .default_open(true)
        .show(ui, |ui| {
            data_section_ui(ui, &mut p.data, p.playback.frame())
        });
    egui::CollapsingHeader::new("Playback")
        .default_open(true)
        .show(ui, |ui| {
            playback_panel_ui(ui, &mut p.playback);
            ui.checkbox(
                &mut p.curves.open,
                "gait curves (cycles, norms, GPS) in their own window",
            );
        });
    if let Some(body) = p.body.body.as_deref_mut() {
        egui::CollapsingHeader::new("Body")
            .default_open(false)
            .show(ui, |ui| {
                body_section_ui(ui, body, &mut p.data, &mut p.body.load_w);
            });
    }
    egui::CollapsingHeader::new("Camera")
        .default_open(false)
        .show(ui, |ui| camera_panel_ui(ui, &mut p.cam));
    egui::CollapsingHeader::new("Network")
        .default_open(true)
        .show(ui, |ui| network_section_ui(ui, &mut p.network));
    egui::CollapsingHeader::new("Explain")
        .default_open(true)
        .show(ui, |ui| {
            explain_section_ui(ui, &mut p.network, &p.data.seq, &mut p.playback);
        });
    egui::CollapsingHeader::new("What if")
        .default_open(p.what_if.state.open_at_start())
        .show(ui, |ui| {
            super::what_if::what_if_section_ui(ui, &mut p.what_if)
        });
    egui::CollapsingHeader::new("Export")
        .default_open(false)
        .show(ui, |ui| {
            let explained = p.network.importance.shown.is_some();
            if let Some(path) = export_panel_ui(ui, &mut p.export.state, explained) {
                p.export.export_w.write(ExportRequest(path));
            }
        });
    ui.separator();
    ui.small(format!(
        "CPU skinning {:.1} ms, mesh update {:.1} ms",
        p.status.posed.skin_ms, p.status.upload.upload_ms
    ));
}

/// The Data section: the panel itself, and its path turned into a sequence-load request.
fn data_section_ui(ui: &mut egui::Ui, d: &mut DataPanelParams, frame: usize) {
    // A copy, written back only when changed (so the fit state is not marked changed each frame).
    let mut pelvis_markers = d.fits.pelvis_markers;
    if let Some(path) = data_panel_ui(
        ui,
        &mut d.state,
        &mut d.pending,
        d.seq.sequence.as_deref(),
        (&d.fits, &mut pelvis_markers),
        &mut d.overlay,
        frame,
    ) {
        d.load_w.write(LoadSequenceRequest(path));
    }
    if pelvis_markers != d.fits.pelvis_markers {
        d.fits.pelvis_markers = pelvis_markers;
    }
}

/// The Body section: the panel against the sequence's betas, its choice turned into a body-load
/// request or the native dialog.
fn body_section_ui(
    ui: &mut egui::Ui,
    body: &mut BodyState,
    d: &mut DataPanelParams,
    load_w: &mut MessageWriter<LoadBodyRequest>,
) {
    let seq_betas = d.seq.sequence.as_ref().map(|s| &s.betas[..]);
    match body_panel_ui(ui, body, seq_betas, &mut d.state.supr_path_text) {
        Some(BodyAction::LoadDefault) => {
            load_w.write(LoadBodyRequest(None));
        }
        Some(BodyAction::LoadSupr(p)) => {
            load_w.write(LoadBodyRequest(Some(p)));
        }
        Some(BodyAction::OpenDialog) => super::dialogs::open_body_dialog(&mut d.pending),
        None => {}
    }
}

/// The Network section: the panel, its choice turned into a network-load request, the dialog, or
/// forgetting the network together with what it explained.
fn network_section_ui(ui: &mut egui::Ui, n: &mut NetworkPanelParams) {
    let gpu_note = n
        .gpu
        .as_ref()
        .map(|g| g.note.as_str())
        .unwrap_or("CPU only");
    match network_panel_ui(ui, &mut n.net, gpu_note) {
        Some(NetworkAction::LoadDemo) => {
            n.load_w.write(LoadNetworkRequest(None));
        }
        Some(NetworkAction::LoadPath(p)) => {
            n.load_w.write(LoadNetworkRequest(Some(p)));
        }
        Some(NetworkAction::OpenDialog) => n.dialog.open(),
        Some(NetworkAction::Remove) => {
            n.net.network = None;
            n.net.last = None;
            n.importance.shown = None;
        }
        None => {}
    }
}

/// The Explain section: the panel for the loaded sequence, its button turned into an explain
/// request.
fn explain_section_ui(
    ui: &mut egui::Ui,
    n: &mut NetworkPanelParams,
    seq: &CurrentSequence,
    playback: &mut Playback,
) {
    let gpu_available = n.gpu.as_ref().is_some_and(|g| g.device.is_some());
    if explain_panel_ui(
        ui,
        &mut n.net,
        &mut n.importance,
        playback,
        seq.sequence.as_deref(),
        gpu_available,
    ) {
        n.explain_w.write(ExplainRequest);
    }
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
