//! The Playback panel: play/pause, step, speed, loop, frame slider, time and frame number.

use bevy_egui::egui;

use crate::viewer::playback::{Playback, SPEED_MAX, SPEED_MIN};

/// Draws the playback controls.
pub fn playback_panel_ui(ui: &mut egui::Ui, playback: &mut Playback) {
    let n = playback.num_frames();
    ui.horizontal(|ui| {
        if ui.button("⏮").clicked() {
            playback.step(-1);
        }
        let label = if playback.playing {
            "⏸ pause"
        } else {
            "▶ play"
        };
        if ui.button(label).clicked() {
            playback.toggle_play();
        }
        if ui.button("⏭").clicked() {
            playback.step(1);
        }
        ui.checkbox(&mut playback.looping, "loop");
    });
    let mut frame = playback.frame();
    let max = n.saturating_sub(1);
    if ui
        .add_enabled(n > 1, egui::Slider::new(&mut frame, 0..=max).text("frame"))
        .changed()
    {
        playback.seek_frame(frame);
    }
    ui.add(
        egui::Slider::new(&mut playback.speed, SPEED_MIN..=SPEED_MAX)
            .logarithmic(true)
            .text("speed ×"),
    );
    let mut rate = playback.rate_hz();
    ui.horizontal(|ui| {
        if ui
            .add(
                egui::DragValue::new(&mut rate)
                    .range(1.0..=1000.0)
                    .speed(1.0)
                    .suffix(" Hz"),
            )
            .changed()
        {
            playback.set_rate_hz(rate);
        }
        ui.label("frame rate (the fit's record; set it for folders without one)");
    });
    ui.label(format!(
        "t = {:.3} s / {:.3} s   frame {} / {}",
        playback.time_s(),
        playback.period_s(),
        playback.frame(),
        n,
    ));
}
