//! The Data panel: open a pose folder or a C3D/TRC trial (fitted in the background) by native
//! dialog, typed path or drag-and-drop; fit progress and the marker overlay.

use std::path::PathBuf;

use bevy::prelude::*;
use bevy_egui::egui;

use crate::fit::PelvisMarkers;
use crate::viewer::dialogs::{PendingDialog, open_folder_dialog, open_trial_dialog};
use crate::viewer::pose::ViewerSequence;
use crate::viewer::trial::{FitJob, MarkerOverlay, TrialFitState};

/// Text typed into the path field.
#[derive(Resource, Debug, Clone, Default)]
pub struct DataPanelState {
    /// The path being typed.
    pub path_text: String,
    /// The SUPR model path typed in the Body panel.
    pub supr_path_text: String,
}

/// Draws the Data panel; returns a path to load when the user asked for one.
pub fn data_panel_ui(
    ui: &mut egui::Ui,
    state: &mut DataPanelState,
    pending: &mut PendingDialog,
    current: Option<&ViewerSequence>,
    (fits, pelvis_markers): (&TrialFitState, &mut PelvisMarkers),
    overlay: &mut MarkerOverlay,
    frame: usize,
) -> Option<PathBuf> {
    match current {
        Some(s) => ui.label(format!(
            "{}: {} frames at {} Hz",
            s.name,
            s.num_frames(),
            s.rate_hz
        )),
        None => ui.label("no sequence (rest pose)"),
    };
    open_buttons_ui(ui, pending);
    pelvis_markers_ui(ui, pelvis_markers);
    if let Some(job) = &fits.job {
        fit_progress_ui(ui, job);
    }
    if !overlay.is_empty() {
        marker_overlay_ui(ui, overlay, frame);
    }
    let request = path_field_ui(ui, &mut state.path_text);
    ui.small(
        "…or drop a pose folder, .c3d, .trc, gaitkit .json, OpenPose folder/.zip or SUPR .npy onto the window",
    );
    request
}

/// The native-dialog buttons (a pose or clip folder, a marker trial to fit), disabled while a
/// dialog is open.
fn open_buttons_ui(ui: &mut egui::Ui, pending: &mut PendingDialog) {
    ui.horizontal(|ui| {
        let label = if pending.is_open() {
            "dialog open…"
        } else {
            "Open folder…"
        };
        if ui
            .add_enabled(!pending.is_open(), egui::Button::new(label))
            .on_hover_text("a pose folder (pose_*.json|txt) or an OpenPose clip folder")
            .clicked()
        {
            open_folder_dialog(pending);
        }
        if ui
            .add_enabled(!pending.is_open(), egui::Button::new("Fit C3D/TRC…"))
            .on_hover_text("fit the body to a marker trial (Plug-in Gait markers)")
            .clicked()
        {
            open_trial_dialog(pending);
        }
    });
}

/// The "rigid pelvis markers" box: how the next fitted trial's pelvis markers move.
fn pelvis_markers_ui(ui: &mut egui::Ui, pelvis_markers: &mut PelvisMarkers) {
    let mut rigid = *pelvis_markers == PelvisMarkers::Rigid;
    ui.checkbox(&mut rigid, "rigid pelvis markers")
        .on_hover_text(
            "for the next C3D/TRC fit: the pelvis markers (ASIS, PSIS, SACR) move rigidly with the \
             pelvis, as Plug-in Gait builds it. Pelvic obliquity, rotation and hip ab/adduction \
             then follow Vicon's much more closely (README \"Pelvis markers\"); off, they move \
             with the skin (the default, which the demo network was trained on)",
        );
    *pelvis_markers = if rigid {
        PelvisMarkers::Rigid
    } else {
        PelvisMarkers::Skin
    };
}

/// Progress of the background trial fit, repainting so it moves without input.
fn fit_progress_ui(ui: &mut egui::Ui, job: &FitJob) {
    let name = job
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    ui.add(
        egui::ProgressBar::new(job.fraction())
            .show_percentage()
            .text(format!(
                "fitting {name}: {:.0} s",
                job.started.elapsed().as_secs_f64()
            )),
    );
    ui.ctx().request_repaint();
}

/// The marker overlay toggle with the fit's residuals at `frame`.
fn marker_overlay_ui(ui: &mut egui::Ui, overlay: &mut MarkerOverlay, frame: usize) {
    ui.horizontal(|ui| {
        ui.checkbox(&mut overlay.visible, "markers");
        let res: Vec<f32> = overlay.residuals_m(frame).into_iter().flatten().collect();
        let missing = overlay.labels.len() - res.len();
        if !res.is_empty() {
            let rms = (res.iter().map(|r| r * r).sum::<f32>() / res.len() as f32).sqrt();
            let worst = res.iter().fold(0f32, |m, r| m.max(*r));
            ui.small(format!(
                "RMSE {:.1} mm, max {:.1} mm, {missing} missing",
                rms * 1e3,
                worst * 1e3
            ));
        }
    });
}

/// The typed path with its Load button (or Enter); returns the path to load.
fn path_field_ui(ui: &mut egui::Ui, path_text: &mut String) -> Option<PathBuf> {
    let mut request = None;
    ui.horizontal(|ui| {
        let edit = ui.add(
            egui::TextEdit::singleline(path_text)
                .hint_text("or type a folder / .c3d / .trc / .json path")
                .desired_width(220.0),
        );
        let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        if (ui.button("Load").clicked() || enter) && !path_text.trim().is_empty() {
            request = Some(PathBuf::from(path_text.trim()));
        }
    });
    request
}
