//! The Network and Explain panels: load a checkpoint (or the bundled demo), pick the window and
//! the rule, run the explanation, and read it: verdict, colour legend with its numeric scale,
//! a joints × frames relevance map with the playback cursor, and the classification track.

use bevy_egui::egui;

use crate::dataset::align::NUM_JOINTS;
use crate::explain::Baseline;
use crate::explain::domain::DomainCheck;
use crate::inference::{RelevanceSpace, TrackPoint};
use crate::viewer::colouring::{
    Colormap, ColourScale, Importance, ShownExplanation, VertexWeighting,
};
use crate::viewer::network::{
    ComputeDevice, ExplainChoice, ExplainOutcome, NetworkState, ViewerNetwork,
};
use crate::viewer::playback::Playback;
use crate::viewer::pose::ViewerSequence;

/// Short joint labels, SMPL order, for the relevance map (the body's table, written once).
pub use crate::body::smpl22::SHORT_LABELS as JOINT_LABELS;

/// What the Network panel asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkAction {
    /// Load the bundled demo.
    LoadDemo,
    /// Open the native file dialog.
    OpenDialog,
    /// Load the typed path.
    LoadPath(std::path::PathBuf),
    /// Forget the network.
    Remove,
}

/// The Network panel: the loaded network's card and the load / remove buttons.
pub fn network_panel_ui(
    ui: &mut egui::Ui,
    state: &mut NetworkState,
    gpu_note: &str,
) -> Option<NetworkAction> {
    let mut action = None;
    match &state.network {
        Some(net) => {
            ui.label(egui::RichText::new(net.summary()).strong());
            ui.small(&net.source);
            if net.source.contains("demo") {
                ui.small(
                    "demo network trained on real healthy walks with simulated pathologies — not a clinical model",
                );
            }
            egui::CollapsingHeader::new("model card")
                .default_open(false)
                .show(ui, |ui| {
                    ui.small(format!(
                        "type {} · interval {} · joints {} ({}) · alignment {}",
                        net.card.network_type,
                        net.card.interval,
                        net.card.joints,
                        net.card.joint_set,
                        net.card.alignment_version
                    ));
                    if let Some(e) = net.card.epochs.last() {
                        ui.small(format!(
                            "epoch {}: eval accuracy {:.3}, precision {:.3}, recall {:.3}, F1 {:.3}",
                            e.epoch + 1,
                            e.eval.accuracy,
                            e.eval.precision,
                            e.eval.recall,
                            e.eval.f1
                        ));
                    }
                    if let Some(d) = &net.card.domain {
                        ui.small(d.describe());
                    }
                    if let Some(p) = net.card.training_pelvis_markers {
                        ui.small(format!(
                            "training walks fitted with {} pelvis markers",
                            p.name()
                        ));
                    }
                });
        }
        None => {
            ui.label("no network loaded");
        }
    }
    ui.horizontal(|ui| {
        if ui.button("Open checkpoint…").clicked() {
            action = Some(NetworkAction::OpenDialog);
        }
        if ui.button("Demo network").clicked() {
            action = Some(NetworkAction::LoadDemo);
        }
        if state.network.is_some() && ui.button("Remove").clicked() {
            action = Some(NetworkAction::Remove);
        }
    });
    ui.horizontal(|ui| {
        let edit = ui.add(
            egui::TextEdit::singleline(&mut state.path_text)
                .hint_text("or type STEM.json")
                .desired_width(220.0),
        );
        let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        if (ui.button("Load").clicked() || enter) && !state.path_text.trim().is_empty() {
            action = Some(NetworkAction::LoadPath(state.path_text.trim().into()));
        }
    });
    ui.small(gpu_note);
    action
}

/// The Explain panel for the loaded sequence; returns true when the user asked for an
/// explanation.
pub fn explain_panel_ui(
    ui: &mut egui::Ui,
    state: &mut NetworkState,
    importance: &mut Importance,
    playback: &mut Playback,
    sequence: Option<&ViewerSequence>,
    gpu_available: bool,
) -> bool {
    let Some(net) = state.network.clone() else {
        ui.label("load a network to explain the gait");
        return false;
    };
    let Some(sequence) = sequence else {
        ui.label("load a sequence to explain");
        return false;
    };
    let (n, rate_hz) = (sequence.num_frames(), sequence.rate_hz);
    let unmeasured = sequence.unmeasured_joints.as_slice();
    let Some(interval) = explainable_window_ui(ui, &net, n, rate_hz) else {
        return false;
    };
    let run = explain_controls_ui(
        ui,
        state,
        &net,
        (n, interval, rate_hz),
        playback,
        gpu_available,
    );
    if let Some(e) = &state.error {
        ui.colored_label(egui::Color32::from_rgb(255, 110, 100), format!("⚠ {e}"));
    }
    let Some(last) = state.last.clone() else {
        return run;
    };
    let shown = &last.shown;
    let legs_measured = sequence.legs_measured.as_deref();
    let guessed_legs = legs_measured
        .is_some_and(|m| crate::inference::any_unmeasured(m, last.placement.frames_read()));
    verdict_ui(ui, &last, !unmeasured.is_empty() || guessed_legs);
    if let Some(note) = net.card.fit_setting_note(sequence.pelvis_markers) {
        ui.colored_label(egui::Color32::from_rgb(230, 180, 90), format!("⚠ {note}"));
    }
    coverage_warnings_ui(ui, shown, playback.frame(), unmeasured);
    unmeasured_frames_ui(ui, &last.placement, legs_measured);
    // Signed relevance on a sequential map would drop the evidence for "healthy".
    if shown.signed && importance.colormap == Colormap::Sequential {
        importance.colormap = Colormap::Diverging;
    }
    colouring_options_ui(ui, importance, shown.signed);
    let (_, legend_scale) = shown.scaled_joint_values(playback.frame(), importance.scale);
    legend_ui(
        ui,
        importance.colormap,
        shown,
        legend_scale,
        importance.scale,
    );
    relevance_map_ui(ui, importance.colormap, shown, playback);
    track_ui(ui, &last, (interval, legs_measured), playback);
    run
}

/// The network's window length in the sequence's `n` frames at `rate_hz`, or `None` (with the
/// reason shown) when the sequence is shorter; notes when the sequence will be resampled.
fn explainable_window_ui(
    ui: &mut egui::Ui,
    net: &ViewerNetwork,
    n: usize,
    rate_hz: f64,
) -> Option<usize> {
    // Window length in the sequence's own frames (the network's interval at its training rate).
    let interval = net.window_frames(rate_hz);
    if n < interval {
        ui.colored_label(
            egui::Color32::from_rgb(255, 170, 80),
            format!(
                "too short to explain: the sequence has {n} frames ({:.2} s), this network reads \
                 windows of {interval} frames ({:.2} s at {rate_hz:.0} Hz); open a longer walk \
                 or a network with a shorter window",
                n as f64 / rate_hz,
                interval as f64 / rate_hz
            ),
        );
        return None;
    }
    if let Some(net_rate) = net.card.rate_hz
        && !net.frame_map(rate_hz).is_identity()
    {
        ui.label(
            egui::RichText::new(format!(
                "sequence at {rate_hz:.0} Hz is resampled to the network's {net_rate:.0} Hz"
            ))
            .small()
            .weak(),
        );
    }
    Some(interval)
}

/// The window slider, the rule, the baseline, the device and the Explain button; returns true
/// when Explain was clicked. `(n, interval, rate_hz)`: the sequence's frames, the window's length
/// and the sequence's rate.
fn explain_controls_ui(
    ui: &mut egui::Ui,
    state: &mut NetworkState,
    net: &ViewerNetwork,
    (n, interval, rate_hz): (usize, usize, f64),
    playback: &Playback,
    gpu_available: bool,
) -> bool {
    let max_start = n - interval;
    let mut run = false;
    state.explain_start = state.explain_start.min(max_start);
    // The frames the window will read, placed as the explanation places it.
    let read = crate::inference::WindowGrid::new(&net.card, Some(rate_hz), n)
        .map(|g| g.frames_read(state.explain_start))
        .unwrap_or(state.explain_start..state.explain_start + interval);
    let label = format!("window start ({})", crate::inference::frame_span(&read));
    ui.add(egui::Slider::new(&mut state.explain_start, 0..=max_start).text(label));
    // Only the rules the network supports are offered (others would be a typed error); a drop-
    // down keeps the side panel narrow.
    let supported = |c: ExplainChoice| c.method().supported_by(&net.card.network_type);
    if !supported(state.choice) {
        state.choice = ExplainChoice::Recommended;
    }
    egui::ComboBox::from_label("rule")
        .selected_text(state.choice.label())
        .show_ui(ui, |ui| {
            for c in [
                ExplainChoice::Recommended,
                ExplainChoice::Epsilon,
                ExplainChoice::EpsilonOriginal,
                ExplainChoice::ZPlus,
                ExplainChoice::Gamma,
                ExplainChoice::Composite,
                ExplainChoice::Bounded,
                ExplainChoice::CpLrp,
                ExplainChoice::AttnLrp,
                ExplainChoice::Attention,
                ExplainChoice::GradientInput,
            ] {
                if supported(c) {
                    ui.selectable_value(&mut state.choice, c, c.label());
                }
            }
        });
    relative_to_ui(ui, state, net);
    ui.horizontal(|ui| {
        ui.add_enabled(
            gpu_available,
            egui::Checkbox::new(&mut state.prefer_gpu, "on the renderer's GPU"),
        );
        if state.busy() {
            ui.spinner();
            ui.label("explaining…");
        } else if ui.button("Explain").clicked() {
            run = true;
        }
        if ui.button("start at cursor").clicked() {
            state.explain_start = playback.frame().min(max_start);
        }
    });
    run
}

/// The verdict line, greyed when it is not reliable (the walk is unlike the training data, or
/// `unmeasured`: joints without markers, or frames of the window whose legs were not measured),
/// the rule, device and time of the explanation, and the card's out-of-domain note.
fn verdict_ui(ui: &mut egui::Ui, last: &ExplainOutcome, unmeasured: bool) {
    let shown = &last.shown;
    let p = shown.probability_sick();
    let outside = last.domain.is_some_and(|d| d.outside());
    let (verdict, conf, colour) = if p >= 0.5 {
        ("sick", p, egui::Color32::from_rgb(235, 110, 95))
    } else {
        ("healthy", 1.0 - p, egui::Color32::from_rgb(120, 190, 130))
    };
    // A verdict on a walk unlike the training data is greyed: it is not reliable.
    let colour = if outside || unmeasured {
        egui::Color32::from_gray(150)
    } else {
        colour
    };
    ui.colored_label(
        colour,
        egui::RichText::new(format!(
            "{verdict} with probability {conf:.2}{}, {}",
            last.calibration_note
                .map(|n| format!(" · {n}"))
                .unwrap_or_default(),
            crate::inference::frame_span(&last.placement.frames_read())
        ))
        .strong(),
    );
    ui.small(format!(
        "{} · {} in {:.1} ms · logit {:+.3}",
        shown.label,
        match last.device {
            ComputeDevice::SharedGpu => "renderer's GPU",
            ComputeDevice::Cpu => "CPU",
        },
        last.explain_ms,
        shown.logit
    ));
    domain_note_ui(ui, last.domain);
    readout_ui(ui, last.readout.as_ref());
}

/// For the asymmetry network: which detector decided and the features that added most to its
/// logit, in degrees and training SDs — the verdict in clinical quantities.
fn readout_ui(ui: &mut egui::Ui, readout: Option<&crate::nn::asymmetry::AsymmetryReadout>) {
    let Some(r) = readout else { return };
    ui.small(r.headline());
    for f in r.deciding_features().iter().take(3) {
        ui.small(format!("  · {}", f.describe()));
    }
}

/// Whether the walk is like the network's training data, as far as its card can tell.
fn domain_note_ui(ui: &mut egui::Ui, domain: Option<DomainCheck>) {
    match domain {
        Some(d) if d.outside() => {
            ui.colored_label(
                egui::Color32::from_rgb(230, 180, 90),
                format!("⚠ {}", d.note()),
            );
        }
        Some(d) => {
            ui.small(d.note());
        }
        None => {
            ui.small(
                "this network card has no out-of-domain statistics (older card): whether the \
                 walk is like its training data is unknown",
            );
        }
    }
}

/// Warnings that the body does not show what was explained: the frame on screen lies outside
/// the explained window, or joints were not measured.
fn coverage_warnings_ui(
    ui: &mut egui::Ui,
    shown: &ShownExplanation,
    frame: usize,
    unmeasured: &[String],
) {
    if frame < shown.start_frame || frame >= shown.start_frame + shown.interval {
        ui.colored_label(
            egui::Color32::from_rgb(230, 180, 90),
            format!(
                "frame {frame} is outside the explained window: the body shows the window's \
                 nearest frame ({}); \"start at cursor\" then Explain explains here",
                shown.row_for_frame(frame) + shown.start_frame
            ),
        );
    }
    if !unmeasured.is_empty() {
        ui.colored_label(
            egui::Color32::from_rgb(230, 180, 90),
            format!(
                "not measured (no markers; the fitter held them upright / relaxed, hatched on \
                 the body, so the network reads the prior, not the patient): {}",
                unmeasured.join(" ")
            ),
        );
    }
}

/// A warning when the explained window holds frames whose pelvis or leg markers were missing (or
/// that were interpolated): there the verdict reads the fitter's guess, not the walk.
fn unmeasured_frames_ui(
    ui: &mut egui::Ui,
    placement: &crate::inference::WindowPlacement,
    legs_measured: Option<&[bool]>,
) {
    let Some(measured) = legs_measured else {
        return;
    };
    let note = crate::inference::unmeasured_window_note(measured, &placement.grid, placement.start);
    if let Some(note) = note {
        ui.colored_label(egui::Color32::from_rgb(230, 180, 90), format!("⚠ {note}"));
    }
}

/// How the body is coloured: on/off and the colormap (sequential only for unsigned
/// importance), the joint-to-skin spreading rule and the colour scale.
fn colouring_options_ui(ui: &mut egui::Ui, importance: &mut Importance, signed: bool) {
    ui.horizontal(|ui| {
        ui.checkbox(&mut importance.enabled, "colour the body");
        colormap_choice_ui(ui, &mut importance.colormap, signed);
    });
    ui.horizontal(|ui| {
        ui.label("spread:");
        ui.radio_value(
            &mut importance.weighting,
            VertexWeighting::Skinning,
            "skinning weights",
        );
        ui.radio_value(
            &mut importance.weighting,
            VertexWeighting::NearestJoint,
            "nearest joint (original)",
        );
    });
    ui.horizontal(|ui| {
        ui.label("scale:");
        for scale in [
            ColourScale::Window,
            ColourScale::Frame,
            ColourScale::WindowSum,
        ] {
            ui.radio_value(&mut importance.scale, scale, scale.label())
                .on_hover_text(match scale {
                    ColourScale::Window => {
                        "÷ max |R| of the whole window: frames comparable, quiet frames pale"
                    }
                    ColourScale::Frame => "÷ max |R| of the frame on screen",
                    ColourScale::WindowSum => {
                        "Σ over the window's frames per joint: the joints the verdict rests on"
                    }
                });
        }
    });
}

/// The colormap combo box; the sequential map is disabled for `signed` relevance.
fn colormap_choice_ui(ui: &mut egui::Ui, colormap: &mut Colormap, signed: bool) {
    egui::ComboBox::from_id_salt("colormap")
        .selected_text(match colormap {
            Colormap::Diverging => "blue–white–red",
            Colormap::Sequential => "sequential",
        })
        .show_ui(ui, |ui| {
            ui.selectable_value(colormap, Colormap::Diverging, "blue–white–red");
            ui.add_enabled_ui(!signed, |ui| {
                ui.selectable_value(colormap, Colormap::Sequential, "sequential")
                    .on_disabled_hover_text(
                        "for unsigned importance (attention) only: LRP relevance is signed, and \
                         a sequential map would drop the evidence for \"healthy\"",
                    );
            });
        });
}

/// sRGB colour of the map as an egui colour.
fn colour32(map: Colormap, s: f32) -> egui::Color32 {
    let c = map.srgb(s);
    egui::Color32::from_rgb(
        (c[0] * 255.0).round() as u8,
        (c[1] * 255.0).round() as u8,
        (c[2] * 255.0).round() as u8,
    )
}

/// The colour bar with its numeric scale in raw relevance units: `scale` is the relevance that
/// maps to the end of the bar under `how`.
pub fn legend_ui(
    ui: &mut egui::Ui,
    map: Colormap,
    shown: &ShownExplanation,
    scale: f32,
    how: ColourScale,
) {
    let (lo, hi) = map.range();
    let width = ui.available_width().min(300.0);
    let (rect, _) = ui.allocate_exact_size(egui::vec2(width, 14.0), egui::Sense::hover());
    let painter = ui.painter_at(rect);
    let steps = 64;
    for i in 0..steps {
        let t = (i as f32 + 0.5) / steps as f32;
        let x0 = rect.left() + rect.width() * i as f32 / steps as f32;
        let x1 = rect.left() + rect.width() * (i + 1) as f32 / steps as f32;
        painter.rect_filled(
            egui::Rect::from_min_max(
                egui::pos2(x0, rect.top()),
                egui::pos2(x1 + 0.5, rect.bottom()),
            ),
            0.0,
            colour32(map, lo + (hi - lo) * t),
        );
    }
    let s = scale;
    ui.horizontal(|ui| {
        let txt = |v: f32| format!("{v:+.3}");
        ui.small(txt(lo * s));
        ui.add_space((width / 2.0 - 60.0).max(0.0));
        ui.small(txt((lo + hi) / 2.0 * s));
        ui.add_space((width / 2.0 - 60.0).max(0.0));
        ui.small(txt(hi * s));
    });
    let what = if shown.signed {
        "relevance per joint (Σ over x, y, z); red supports \"sick\", blue \"healthy\""
    } else {
        "attention per joint (CLS attention over joints × over frames)"
    };
    ui.small(match how {
        ColourScale::Window => what.to_string(),
        ColourScale::Frame => format!("{what}; scaled to this frame"),
        ColourScale::WindowSum => format!("{what}; summed over the window's frames"),
    });
}

/// Joints × frames relevance map of the window; click to seek, the cursor follows playback.
pub fn relevance_map_ui(
    ui: &mut egui::Ui,
    map: Colormap,
    shown: &ShownExplanation,
    playback: &mut Playback,
) {
    let width = ui.available_width().min(320.0);
    // Every joint labelled at a readable size (the map used to label every second one at 8 px).
    let row_h = 11.0;
    let label_w = 66.0;
    let (rect, resp) = ui.allocate_exact_size(
        egui::vec2(width, row_h * NUM_JOINTS as f32),
        egui::Sense::click_and_drag(),
    );
    let painter = ui.painter_at(rect);
    let plot = egui::Rect::from_min_max(egui::pos2(rect.left() + label_w, rect.top()), rect.max);
    let cols = shown.interval.max(1);
    let col_w = plot.width() / cols as f32;
    let s = if shown.scale > 0.0 { shown.scale } else { 1.0 };
    for (j, label) in JOINT_LABELS.iter().enumerate() {
        let y = rect.top() + j as f32 * row_h;
        for f in 0..cols {
            let v = shown
                .relevance
                .get(f * NUM_JOINTS + j)
                .copied()
                .unwrap_or(0.0)
                / s;
            let x = plot.left() + f as f32 * col_w;
            painter.rect_filled(
                egui::Rect::from_min_size(egui::pos2(x, y), egui::vec2(col_w + 0.5, row_h)),
                0.0,
                colour32(map, v),
            );
        }
        painter.text(
            egui::pos2(rect.left(), y + row_h / 2.0),
            egui::Align2::LEFT_CENTER,
            *label,
            egui::FontId::proportional(10.5),
            ui.visuals().text_color(),
        );
    }
    let frame = playback.frame();
    if frame >= shown.start_frame && frame < shown.start_frame + cols {
        let x = plot.left() + (frame - shown.start_frame) as f32 * col_w + col_w / 2.0;
        painter.line_segment(
            [egui::pos2(x, rect.top()), egui::pos2(x, rect.bottom())],
            egui::Stroke::new(1.5, egui::Color32::BLACK),
        );
    }
    if (resp.clicked() || resp.dragged())
        && let Some(pos) = resp.interact_pointer_pos()
        && pos.x >= plot.left()
    {
        let f = ((pos.x - plot.left()) / col_w) as usize;
        playback.seek_frame(shown.start_frame + f.min(cols - 1));
        playback.playing = false;
    }
    resp.on_hover_text("relevance per joint (rows) and frame (columns); click to jump there");
}

/// Probability of "sick" for windows sliding over the whole sequence against time, with the 0.5
/// line, the explained window shaded and the playback cursor; click to seek. Drawn with egui_plot
/// for its axes and ticks. Probabilities at the temperature of `shown` (the explained window).
/// Windows holding frames whose legs were not measured (`legs_measured`) are drawn grey over a
/// grey band, as `gaitlens explain --track` marks them "?".
pub fn track_ui(
    ui: &mut egui::Ui,
    last: &ExplainOutcome,
    (interval, legs_measured): (usize, Option<&[bool]>),
    playback: &mut Playback,
) {
    let (track, shown) = (&last.track, &last.shown);
    let explained = last.placement.frames_read();
    use egui_plot::{HLine, Plot, Span, VLine};
    if track.is_empty() {
        return;
    }
    let unmeasured_runs = legs_measured
        .map(|m| crate::formats::pose_seq::runs_of(m, false))
        .unwrap_or_default();
    ui.small(format!(
        "classification track: P(sick) of {interval}-frame windows across the trial (shaded: \
         the explained window{})",
        if unmeasured_runs.is_empty() {
            ""
        } else {
            "; grey: windows over frames whose pelvis or leg markers were missing"
        }
    ));
    let rate_hz = playback.rate_hz().max(1e-6);
    let seconds = |frame: f64| frame / rate_hz;
    let lines = track_lines(track, interval, shown, seconds);
    let response = Plot::new("classification track")
        .height(90.0)
        .width(ui.available_width().min(320.0))
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .allow_boxed_zoom(false)
        .include_x(0.0)
        .include_x(seconds(playback.num_frames() as f64))
        .include_y(0.0)
        .include_y(1.0)
        .x_axis_label("time (s)")
        .y_axis_label("P(sick)")
        .show(ui, |plot| {
            // Unnamed: a label on every band would overprint the plot (the caption says it).
            for r in &unmeasured_runs {
                plot.span(
                    Span::new("", seconds(r.start as f64)..=seconds(r.end as f64))
                        .fill(egui::Color32::from_rgba_unmultiplied(150, 150, 150, 40)),
                );
            }
            plot.span(
                Span::new(
                    "explained window",
                    seconds(explained.start as f64)..=seconds(explained.end as f64),
                )
                .fill(egui::Color32::from_rgba_unmultiplied(255, 255, 255, 24)),
            );
            plot.hline(HLine::new("0.5", 0.5).color(egui::Color32::from_gray(110)));
            for line in lines {
                plot.line(line);
            }
            plot.vline(
                VLine::new("now", seconds(playback.frame() as f64))
                    .color(egui::Color32::WHITE)
                    .width(1.0),
            );
            plot.pointer_coordinate()
        });
    if response.response.clicked()
        && let Some(p) = response.inner
    {
        playback.seek_frame((p.x.max(0.0) * rate_hz).round() as usize);
    }
}

/// The track as lines: consecutive windows of one kind (measured throughout, or reading
/// unmeasured frames: [`TrackPoint::unmeasured`], the rule of `explain --track`'s "?") joined,
/// orange and grey, each point at its window's centre.
fn track_lines(
    track: &[TrackPoint],
    interval: usize,
    shown: &ShownExplanation,
    seconds: impl Fn(f64) -> f64,
) -> Vec<egui_plot::Line<'static>> {
    let guessed = |p: &TrackPoint| p.unmeasured == Some(true);
    let mut lines = Vec::new();
    for run in track.chunk_by(|a, b| guessed(a) == guessed(b)) {
        let grey = guessed(&run[0]);
        let points: Vec<[f64; 2]> = run
            .iter()
            .map(|t| {
                let p = f64::from(shown.probability_of(t.logit));
                [seconds(t.start_frame as f64 + interval as f64 / 2.0), p]
            })
            .collect();
        let (name, colour) = if grey {
            ("P(sick), legs not measured", egui::Color32::from_gray(150))
        } else {
            ("P(sick)", egui::Color32::from_rgb(240, 140, 90))
        };
        lines.push(
            egui_plot::Line::new(name, egui_plot::PlotPoints::from(points))
                .color(colour)
                .width(1.5),
        );
    }
    lines
}

/// Chooses what LRP is relative to: the healthy gait at the same gait phase (the card's
/// normative gait) or the zero input (the original's).
fn relative_to_ui(ui: &mut egui::Ui, state: &mut NetworkState, net: &ViewerNetwork) {
    let has_norm = net.card.normative_gait.is_some();
    let lrp = state.choice != ExplainChoice::Attention;
    ui.horizontal(|ui| {
        ui.label("relative to");
        ui.add_enabled_ui(has_norm && lrp, |ui| {
            ui.radio_value(&mut state.baseline, Baseline::Normative, "healthy gait")
                .on_hover_text(
                    "Relevance of the deviation from the average healthy pose at the same \
                     point of the gait cycle (learnt when the network was trained): a limb that \
                     moves too little is credited, not the healthy limb it is compared with.",
                )
                .on_disabled_hover_text(
                    "This network's card has no normative gait (trained before gaitlens \
                     learnt one); retrain it to enable.",
                );
        });
        ui.add_enabled_ui(lrp, |ui| {
            ui.radio_value(&mut state.baseline, Baseline::Zero, "zero (original)")
                .on_hover_text("Plain LRP, relative to the all-zero input, as the original.");
        });
    });
    // Joint rotations need the normative reference and per-coordinate relevance.
    let rotations_ok = has_norm && lrp && state.baseline == Baseline::Normative;
    if !rotations_ok {
        state.space = RelevanceSpace::Positions;
    }
    ui.horizontal(|ui| {
        ui.label("relevance on");
        ui.radio_value(&mut state.space, RelevanceSpace::Positions, "joint positions")
            .on_hover_text("What the network reads: a knee that does not bend shows on the ankle and foot it fails to move.");
        ui.add_enabled_ui(rotations_ok, |ui| {
            ui.radio_value(&mut state.space, RelevanceSpace::Rotations, "joint rotations")
                .on_hover_text(
                    "Relevance carried back through the body's joints to the rotations that \
                     moved them (relative to the healthy gait); each joint's rotation colours \
                     the body part it turns. What clinicians reason in.",
                )
                .on_disabled_hover_text("Needs \"relative to: healthy gait\" and an LRP rule.");
        });
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unmeasured_frames_group_into_runs_and_split_the_track_into_grey_and_orange_lines() {
        let measured: Vec<bool> = (0..30).map(|f| !(5..8).contains(&f) && f != 20).collect();
        assert_eq!(
            crate::formats::pose_seq::runs_of(&measured, false),
            vec![5..8, 20..21]
        );
        assert!(crate::formats::pose_seq::runs_of(&[true, true], false).is_empty());
        // Windows of 4 frames every 2: starts 0..=26; those overlapping 5..8 or 20 are grey.
        let track = |measured: Option<&[bool]>| -> Vec<TrackPoint> {
            (0..=26)
                .step_by(2)
                .map(|s| TrackPoint {
                    start_frame: s,
                    logit: 0.0,
                    probability: 0.5,
                    outside: None,
                    unmeasured: measured.map(|m| crate::inference::any_unmeasured(m, s..s + 4)),
                })
                .collect()
        };
        let shown = ShownExplanation::new(0, vec![0.0; 4 * 22], false, 0.0, "t".into());
        let lines = track_lines(&track(Some(&measured)), 4, &shown, |f| f);
        // orange 0, grey 2–6, orange 8–16, grey 18–20, orange 22–26
        assert_eq!(lines.len(), 5);
        assert_eq!(track_lines(&track(None), 4, &shown, |f| f).len(), 1);
    }
}
