//! The Data panel: open a pose folder by native dialog, typed path or drag-and-drop.

use std::path::PathBuf;

use bevy::prelude::*;
use bevy_egui::egui;

use crate::viewer::dialogs::{PendingDialog, open_folder_dialog};
use crate::viewer::pose::ViewerSequence;

/// Text typed into the path field.
#[derive(Resource, Debug, Clone, Default)]
pub struct DataPanelState {
    /// The path being typed.
    pub path_text: String,
}

/// Draws the Data panel; returns a path to load when the user asked for one.
pub fn data_panel_ui(
    ui: &mut egui::Ui,
    state: &mut DataPanelState,
    pending: &mut PendingDialog,
    current: Option<&ViewerSequence>,
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
    let mut request = None;
    ui.horizontal(|ui| {
        let label = if pending.is_open() {
            "dialog open…"
        } else {
            "Open pose folder…"
        };
        if ui
            .add_enabled(!pending.is_open(), egui::Button::new(label))
            .clicked()
        {
            open_folder_dialog(pending);
        }
    });
    ui.horizontal(|ui| {
        let edit = ui.add(
            egui::TextEdit::singleline(&mut state.path_text)
                .hint_text("or type a folder path")
                .desired_width(220.0),
        );
        let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        if (ui.button("Load").clicked() || enter) && !state.path_text.trim().is_empty() {
            request = Some(PathBuf::from(state.path_text.trim()));
        }
    });
    ui.small("…or drop a pose folder or pose_*.json onto the window");
    request
}
