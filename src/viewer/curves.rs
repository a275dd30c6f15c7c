//! The Curves panel: the loaded walk's clinical gait analysis beside the body. Kinematic curves
//! over the gait cycle (left red, right green, PiG colours) on the grey normative band, the
//! current frame as a cursor on its cycle (click a curve to seek), the network's relevance for
//! the curve's joint as a coloured strip along that cycle, the spatio-temporal table and
//! GPS/MAP. The analysis is `gait::report::gait_report` — the one `gaitlens report` writes —
//! run once per loaded sequence and body.

use std::sync::Arc;

use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};
use egui_plot::{Bar, BarChart, FilledArea, Legend, Line, Plot, PlotPoints, PlotUi, Points, VLine};

use super::camera::FlyCamera;
use super::colouring::{Colormap, Importance, ShownExplanation};
use super::playback::Playback;
use super::pose::{BodyState, CurrentSequence, ViewerSequence};
use crate::body::BodyModel;
use crate::gait::cycles::{CYCLE_SAMPLES, GaitCycle, Side};
use crate::gait::kinematics::Variable;
use crate::gait::normative::{NormativeCurve, NormativeTable};
use crate::gait::report::{EventSource, GaitReport, ReportInput, gait_report};

/// PiG's side colours: left red, right green.
const LEFT_COLOUR: egui::Color32 = egui::Color32::from_rgb(220, 60, 50);
/// See [`LEFT_COLOUR`].
const RIGHT_COLOUR: egui::Color32 = egui::Color32::from_rgb(40, 160, 70);

/// Owns the analysis of the current sequence and the panel's choices.
pub struct CurvesPlugin;

impl Plugin for CurvesPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<GaitCurves>()
            .add_systems(Update, analyse_current_sequence)
            .add_systems(EguiPrimaryContextPass, curves_window_system);
    }
}

/// The gait analysis of the shown sequence and what the Curves panel shows of it.
#[derive(Resource)]
pub struct GaitCurves {
    /// Whether the Curves window is open.
    pub open: bool,
    /// The variable plotted.
    pub variable: Variable,
    /// Whose cycle carries the cursor, the relevance strip and click-to-seek.
    pub side: Side,
    /// Normative reference (Schwartz et al. 2008, embedded).
    pub normative: NormativeTable,
    /// The analysis, or why there is none.
    pub report: Option<Result<Arc<GaitReport>, String>>,
    /// Which (sequence, body) the analysis belongs to, by address.
    analysed: Option<(usize, usize)>,
}

impl Default for GaitCurves {
    fn default() -> Self {
        GaitCurves {
            open: true,
            variable: Variable::KneeFlexion,
            side: Side::Left,
            normative: NormativeTable::schwartz2008(),
            report: None,
            analysed: None,
        }
    }
}

/// Re-analyses the gait when the sequence or the body model changes.
fn analyse_current_sequence(
    seq: Res<CurrentSequence>,
    body: Option<Res<BodyState>>,
    mut curves: ResMut<GaitCurves>,
) {
    let (Some(s), Some(body)) = (seq.sequence.as_ref(), body) else {
        if seq.sequence.is_none() && curves.analysed.is_some() {
            curves.analysed = None;
            curves.report = None;
        }
        return;
    };
    let key = (
        Arc::as_ptr(s) as usize,
        Arc::as_ptr(&body.model) as *const u8 as usize,
    );
    if curves.analysed == Some(key) {
        return;
    }
    curves.analysed = Some(key);
    let started = std::time::Instant::now();
    let report = analyse(s, &body.model, &curves.normative);
    match &report {
        Ok(r) => tracing::info!(
            "gait analysis of '{}': {} cycles in {:.0} ms",
            s.name,
            r.cycles.cycles.len(),
            started.elapsed().as_secs_f64() * 1e3
        ),
        Err(e) => tracing::warn!("no gait analysis of '{}': {e}", s.name),
    }
    curves.report = Some(report.map(Arc::new));
}

/// The gait report of a viewer sequence: its joint rotations as the axis-angle poses the report
/// reads, events detected from the posed joints, the body's own marker set for the PiG zero
/// offsets when the body is the embedded one.
pub fn analyse(
    seq: &ViewerSequence,
    model: &BodyModel,
    normative: &NormativeTable,
) -> Result<GaitReport, String> {
    let poses = seq.to_pose_sequence();
    let default = crate::body::default_model::default_body();
    let markers = (model.name == default.name && model.num_joints() == default.num_joints())
        .then(crate::body::default_model::default_markers);
    let input = ReportInput {
        model,
        markers,
        poses: &poses,
        rate_hz: seq.rate_hz,
        trial: None,
        normative,
        speed: None,
        events: EventSource::Auto,
    };
    let mut report = gait_report(&input).map_err(|e| e.to_string())?;
    report.pelvis_markers = seq.pelvis_markers;
    Ok(report)
}

/// Index in the 22-joint explanation table of the joint a variable describes (pelvis, hip,
/// knee, ankle; foot progression: the foot).
pub fn explained_joint(v: Variable, side: Side) -> usize {
    let left = side == Side::Left;
    match v {
        _ if v.is_pelvis() => 0,
        Variable::HipFlexion | Variable::HipAdduction | Variable::HipRotation => {
            if left {
                1
            } else {
                2
            }
        }
        Variable::KneeFlexion | Variable::KneeVarus | Variable::KneeRotation => {
            if left {
                4
            } else {
                5
            }
        }
        Variable::AnkleDorsiflexion => {
            if left {
                7
            } else {
                8
            }
        }
        _ => {
            if left {
                10
            } else {
                11
            }
        }
    }
}

/// The explanation's relevance of `joint` at each of the cycle's [`CYCLE_SAMPLES`] samples,
/// divided by the window's scale (so in [−1, 1]); `None` where the sample's frame lies outside
/// the explained window.
pub fn relevance_along_cycle(
    shown: &ShownExplanation,
    cycle: &GaitCycle,
    joint: usize,
) -> Vec<Option<f32>> {
    let nj = crate::dataset::align::NUM_JOINTS;
    let scale = if shown.scale > 0.0 { shown.scale } else { 1.0 };
    (0..CYCLE_SAMPLES)
        .map(|k| {
            let frame = cycle.frame_at(k as f64).round() as usize;
            let row = frame.checked_sub(shown.start_frame)?;
            (row < shown.interval)
                .then(|| shown.relevance.get(row * nj + joint).map(|r| r / scale))
                .flatten()
        })
        .collect()
}

/// Draws the Curves window and applies a click-to-seek.
fn curves_window_system(
    mut contexts: EguiContexts,
    mut curves: ResMut<GaitCurves>,
    mut playback: ResMut<Playback>,
    importance: Res<Importance>,
    mut cam: ResMut<FlyCamera>,
) -> Result {
    let ctx = contexts.ctx_mut()?;
    // Nothing to plot without a 3D walk (e.g. only an OpenPose clip): the window stays away.
    if !curves.open || curves.report.is_none() {
        cam.set_inset(true, 0.0);
        return Ok(());
    }
    let screen = ctx.content_rect();
    let mut open = true;
    let window = egui::Window::new("Gait curves")
        .open(&mut open)
        .default_pos([screen.right() - 430.0, 8.0])
        .default_width(410.0)
        .vscroll(true)
        .show(ctx, |ui| {
            if let Some(frame) = curves_ui(ui, &mut curves, playback.frame(), &importance) {
                playback.playing = false;
                playback.seek_frame(frame);
            }
        });
    if !open {
        curves.open = false;
    }
    // Framing keeps the body left of this window while it sits at the right edge.
    cam.set_inset_beside(true, screen, window.map(|w| w.response.rect));
    Ok(())
}

/// The panel's contents; returns a frame to seek to when a curve was clicked.
pub fn curves_ui(
    ui: &mut egui::Ui,
    curves: &mut GaitCurves,
    frame: usize,
    importance: &Importance,
) -> Option<usize> {
    let report = match &curves.report {
        None => {
            ui.label("Load a walk to see its gait cycles and curves.");
            return None;
        }
        Some(Err(e)) => {
            ui.colored_label(
                egui::Color32::from_rgb(255, 110, 100),
                format!("no gait analysis: {e}"),
            );
            return None;
        }
        Some(Ok(r)) => r.clone(),
    };
    summary_ui(ui, &report);
    if report.cycles.cycles.is_empty() {
        for n in &report.notes {
            ui.small(n);
        }
        return None;
    }
    ui.horizontal(|ui| {
        egui::ComboBox::from_id_salt("curve variable")
            .selected_text(curves.variable.title())
            .show_ui(ui, |ui| {
                for v in Variable::ALL {
                    ui.selectable_value(&mut curves.variable, v, v.title());
                }
            });
        ui.label("cursor on");
        ui.selectable_value(&mut curves.side, Side::Left, "left");
        ui.selectable_value(&mut curves.side, Side::Right, "right");
    });
    let seek = curve_plot_ui(ui, curves, &report, frame, importance);
    symmetry_ui(ui, &report, curves.variable);
    if let Some(c) = curves.variable.caveat(report.pelvis_markers) {
        ui.small(egui::RichText::new(c).color(egui::Color32::from_rgb(230, 180, 90)));
    }
    ui.small(
        "Grey: normative mean ± 1 SD (Schwartz et al. 2008, CC-BY-SA). Thick: mean over cycles; \
         thin: the cycle now playing. Click the plot to jump to that point of the cycle.",
    );
    egui::CollapsingHeader::new("Spatio-temporal")
        .default_open(true)
        .show(ui, |ui| spatiotemporal_ui(ui, &report));
    egui::CollapsingHeader::new("Movement Analysis Profile (GVS, GPS)")
        .default_open(true)
        .show(ui, |ui| map_ui(ui, &report));
    seek
}

/// The plotted variable's left/right differences (`gait::symmetry`) in one line.
fn symmetry_ui(ui: &mut egui::Ui, report: &GaitReport, v: Variable) {
    if let Some(s) = report.symmetry.iter().find(|s| s.variable == v) {
        ui.small(format!(
            "left − right: range {:+.1}° (left {:.0}°, right {:.0}°), mean {:+.1}°, shape {:.1}° RMS",
            s.range_difference_deg,
            s.left_range_deg,
            s.right_range_deg,
            s.mean_difference_deg,
            s.shape_rms_deg
        ));
    }
}

/// Events source, cycle counts and the normative speed in two lines.
fn summary_ui(ui: &mut egui::Ui, report: &GaitReport) {
    let count = |s| report.cycles.side(s).count();
    ui.small(format!(
        "{} left / {} right cycles · events {} · norm at '{}' speed ({})",
        count(Side::Left),
        count(Side::Right),
        report.events.as_ref().map_or("none", |e| e.source.as_str()),
        report.normative.speed,
        report.normative.chosen_by
    ));
}

/// The plot of the chosen variable; returns a frame when the plot was clicked.
fn curve_plot_ui(
    ui: &mut egui::Ui,
    curves: &GaitCurves,
    report: &GaitReport,
    frame: usize,
    importance: &Importance,
) -> Option<usize> {
    let v = curves.variable;
    let norm = report.norm(&curves.normative, v);
    let now = report.cycles.containing(curves.side, frame);
    let strip = importance
        .shown
        .as_ref()
        .zip(now)
        .map(|(shown, c)| relevance_along_cycle(shown, c, explained_joint(v, curves.side)))
        .filter(|strip| strip.iter().any(Option::is_some));
    let strip_y = strip_height(report, norm, v);
    let colormap = if importance.shown.as_ref().is_some_and(|s| s.signed) {
        Colormap::Diverging
    } else {
        Colormap::Sequential
    };
    let response = Plot::new("gait curve")
        .height(220.0)
        // Only the means, the band and the relevance strip are named (unnamed items stay out of
        // the legend); top left is where the curves leave room.
        .legend(Legend::default().position(egui_plot::Corner::LeftTop))
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .allow_boxed_zoom(false)
        .include_x(0.0)
        .include_x(100.0)
        .x_axis_label("% gait cycle")
        .y_axis_label(format!("{} (°)", v.title()))
        .show(ui, |plot| {
            if let Some(n) = norm {
                normative_band(plot, n);
            }
            for (side, colour) in [(Side::Left, LEFT_COLOUR), (Side::Right, RIGHT_COLOUR)] {
                side_curves(plot, report, (side, colour), v, frame);
            }
            if let Some(strip) = strip {
                relevance_strip(plot, strip, colormap, strip_y);
            }
            plot.pointer_coordinate()
        });
    let clicked = response.response.clicked();
    let target = response.inner?;
    if !clicked {
        return None;
    }
    let cycle = now.or_else(|| report.cycles.side(curves.side).next())?;
    let pct = target.x.clamp(0.0, 100.0);
    Some(cycle.frame_at(pct).round() as usize)
}

/// Height of the relevance strip: below the lowest normative band and mean curve of `v`, so the
/// strip sits under everything drawn.
fn strip_height(report: &GaitReport, norm: Option<&NormativeCurve>, v: Variable) -> f64 {
    let mut low = f64::INFINITY;
    let mut high = f64::NEG_INFINITY;
    let mut include = |y: f64| {
        if y.is_finite() {
            low = low.min(y);
            high = high.max(y);
        }
    };
    if let Some(n) = norm {
        n.mean.iter().zip(&n.sd).for_each(|(m, s)| {
            include(m - s);
            include(m + s);
        });
    }
    for side in Side::BOTH {
        if let Some(c) = report.curve(side, v) {
            c.mean_deg.iter().copied().for_each(&mut include);
        }
    }
    let span = (high - low).max(1.0);
    low - 0.12 * span
}

/// The grey normative mean ± 1 SD band.
fn normative_band(plot: &mut PlotUi, n: &NormativeCurve) {
    let lo: Vec<f64> = n.mean.iter().zip(&n.sd).map(|(m, s)| m - s).collect();
    let hi: Vec<f64> = n.mean.iter().zip(&n.sd).map(|(m, s)| m + s).collect();
    plot.add(
        FilledArea::new("normative ± 1 SD", &n.pct, &lo, &hi)
            .fill_color(egui::Color32::from_gray(90).gamma_multiply(0.5)),
    );
}

/// One side's curves of `v` in its colour: the mean over cycles (thick), the cycle playing at
/// `frame` (thin) with a cursor line and a dot at the frame's value.
fn side_curves(
    plot: &mut PlotUi,
    report: &GaitReport,
    (side, colour): (Side, egui::Color32),
    v: Variable,
    frame: usize,
) {
    if let Some(c) = report.curve(side, v) {
        plot.line(
            Line::new(
                format!("{} ({} cycles)", side.name(), c.cycles),
                pct_points(&c.mean_deg),
            )
            .color(colour)
            .width(2.5),
        );
    }
    let Some(cycle) = report.cycles.containing(side, frame) else {
        return;
    };
    let values = report.kinematics.curve(side, v);
    if let Some(this) = cycle.normalise(values) {
        plot.line(
            Line::new("", pct_points(&this))
                .color(colour.gamma_multiply(0.7))
                .width(1.0),
        );
    }
    let pct = cycle.pct_of(frame as f64);
    plot.vline(VLine::new("", pct).color(colour));
    if let Some(y) = values.get(frame).filter(|y| y.is_finite()) {
        plot.points(Points::new("", vec![[pct, *y]]).radius(4.0).color(colour));
    }
}

/// The joint's relevance along the cycle as a thick line at `y`, coloured sample by sample
/// (dark grey outside the explained window).
fn relevance_strip(plot: &mut PlotUi, strip: Vec<Option<f32>>, colormap: Colormap, y: f64) {
    let colour = move |p: egui_plot::PlotPoint| {
        let k = (p.x.round().clamp(0.0, 100.0)) as usize;
        match strip.get(k).copied().flatten() {
            Some(r) => {
                let [cr, cg, cb] = colormap.srgb(r);
                egui::Color32::from_rgb((cr * 255.0) as u8, (cg * 255.0) as u8, (cb * 255.0) as u8)
            }
            None => egui::Color32::from_gray(60),
        }
    };
    let points: Vec<[f64; 2]> = (0..CYCLE_SAMPLES).map(|k| [k as f64, y]).collect();
    plot.line(
        Line::new("relevance of this joint", PlotPoints::from(points))
            .width(8.0)
            .gradient_color(Arc::new(colour), false),
    );
}

/// `[pct, value]` points of a 101-sample cycle curve.
fn pct_points(values: &[f64]) -> PlotPoints<'static> {
    values
        .iter()
        .enumerate()
        .filter(|(_, v)| v.is_finite())
        .map(|(k, v)| [k as f64 * 100.0 / (values.len().max(2) - 1) as f64, *v])
        .collect()
}

/// Speed, cadence and the per-side step table.
fn spatiotemporal_ui(ui: &mut egui::Ui, report: &GaitReport) {
    let Some(st) = &report.spatiotemporal else {
        ui.small("no gait events: no spatio-temporal parameters");
        return;
    };
    let opt = |v: Option<f64>, unit: &str, digits: usize| {
        v.map_or("—".to_string(), |v| format!("{v:.digits$} {unit}"))
    };
    ui.label(format!(
        "speed {} · cadence {} · leg {:.2} m",
        opt(st.speed_m_s, "m/s", 2),
        opt(st.cadence_steps_min, "steps/min", 0),
        st.leg_length_m
    ));
    egui::Grid::new("spatiotemporal")
        .striped(true)
        .num_columns(3)
        .show(ui, |ui| {
            ui.strong("");
            ui.colored_label(LEFT_COLOUR, "left");
            ui.colored_label(RIGHT_COLOUR, "right");
            ui.end_row();
            type Row = fn(&crate::gait::spatiotemporal::SideParameters) -> Option<f64>;
            let rows: [(&str, &str, usize, Row); 6] = [
                ("stride time", "s", 2, |p| Some(p.stride_time_s)),
                ("step length", "m", 2, |p| Some(p.step_length_m)),
                ("step width", "m", 2, |p| Some(p.step_width_m)),
                ("stance", "%", 0, |p| p.stance_pct),
                ("swing", "%", 0, |p| p.swing_pct),
                ("double support", "%", 0, |p| p.double_support_pct),
            ];
            for (name, unit, digits, get) in rows {
                ui.label(name);
                for side in [&st.left, &st.right] {
                    ui.label(opt(side.as_ref().and_then(get), unit, digits));
                }
                ui.end_row();
            }
        });
    ui.small(format!("lengths and widths {}", st.foot_points.describe()));
}

/// GVS per variable and side as bars, with GPS per side and overall.
fn map_ui(ui: &mut egui::Ui, report: &GaitReport) {
    let p = &report.profile;
    let gps = |s: Side| p.gps_deg.get(&s).map_or("—".into(), |g| format!("{g:.1}°"));
    ui.label(format!(
        "GPS left {} · right {} · overall {} (healthy adults ≈ 5–7°, Baker et al. 2009)",
        gps(Side::Left),
        gps(Side::Right),
        p.gps_overall_deg.map_or("—".into(), |g| format!("{g:.1}°"))
    ));
    let mut charts = Vec::new();
    for (k, (side, colour)) in [(Side::Left, LEFT_COLOUR), (Side::Right, RIGHT_COLOUR)]
        .into_iter()
        .enumerate()
    {
        let Some(gvs) = p.gvs_deg.get(&side) else {
            continue;
        };
        let bars: Vec<Bar> = Variable::GPS
            .iter()
            .enumerate()
            .filter_map(|(i, v)| {
                gvs.get(v).map(|g| {
                    Bar::new(i as f64 + 0.2 * (k as f64 * 2.0 - 1.0), *g)
                        .width(0.38)
                        .name(format!("{} {}", side.name(), v.title()))
                })
            })
            .collect();
        charts.push(BarChart::new(side.name(), bars).color(colour));
    }
    Plot::new("map")
        .height(140.0)
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .allow_boxed_zoom(false)
        .include_y(0.0)
        .y_axis_label("GVS (°)")
        .x_axis_formatter(|mark, _| {
            Variable::GPS
                .get(mark.value.round() as usize)
                .filter(|_| (mark.value - mark.value.round()).abs() < 1e-6)
                .map_or(String::new(), |v| short_name(*v).to_string())
        })
        .show(ui, |plot| {
            for c in charts {
                plot.bar_chart(c);
            }
        });
}

/// A few letters per GPS variable for the MAP's axis.
fn short_name(v: Variable) -> &'static str {
    match v {
        Variable::PelvisTilt => "PelTil",
        Variable::PelvisObliquity => "PelObl",
        Variable::PelvisRotation => "PelRot",
        Variable::HipFlexion => "HipFlx",
        Variable::HipAdduction => "HipAdd",
        Variable::HipRotation => "HipRot",
        Variable::KneeFlexion => "KneFlx",
        Variable::AnkleDorsiflexion => "AnkDor",
        Variable::FootProgression => "FootPr",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relevance_follows_the_cycle_and_is_absent_outside_the_window() {
        let nj = crate::dataset::align::NUM_JOINTS;
        // window frames 100..150, joint 4 (left knee) relevance = frame − 100
        let mut relevance = vec![0f32; 50 * nj];
        for row in 0..50 {
            relevance[row * nj + 4] = row as f32;
        }
        let shown = ShownExplanation::new(100, relevance, true, 0.0, "test".into());
        let cycle = GaitCycle {
            side: Side::Left,
            start: 100,
            end: 200,
            foot_off_pct: None,
            opposite_off_pct: None,
            opposite_strike_pct: None,
        };
        let strip = relevance_along_cycle(
            &shown,
            &cycle,
            explained_joint(Variable::KneeFlexion, Side::Left),
        );
        assert_eq!(strip.len(), CYCLE_SAMPLES);
        assert_eq!(strip[0], Some(0.0));
        assert_eq!(strip[49], Some(49.0 / 49.0));
        assert_eq!(strip[50], None); // frame 150 is past the window
        assert_eq!(explained_joint(Variable::PelvisTilt, Side::Right), 0);
        assert_eq!(explained_joint(Variable::AnkleDorsiflexion, Side::Right), 8);
        assert_eq!(explained_joint(Variable::FootProgression, Side::Left), 10);
    }

    #[test]
    fn a_viewer_sequence_round_trips_to_axis_angle_poses() {
        let model = crate::body::default_model::default_body();
        let nj = model.num_joints();
        let mut pose = vec![0.0; 3 * nj];
        pose[3 * 4] = 0.7; // left knee about x
        pose[2] = -0.3;
        let seq = ViewerSequence::from_axis_angle(
            model,
            "t",
            &[0.0; 10],
            &[pose.clone(), pose.clone()],
            &[[0.0, 1.0, 0.0], [0.1, 1.0, 0.0]],
            100.0,
        )
        .unwrap();
        let back = seq.to_pose_sequence();
        assert_eq!(back.num_frames(), 2);
        for (a, b) in back.poses[0].iter().zip(&pose) {
            assert!((a - b).abs() < 1e-9, "{a} vs {b}");
        }
        assert_eq!(back.translations[1], [0.1, 1.0, 0.0]);
    }
}
