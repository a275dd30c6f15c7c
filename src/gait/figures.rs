//! Report figures drawn with `plotters` as SVG (the browser or any viewer renders the text, so no
//! font stack is built in): the nine GPS curves over their normative bands, the Movement Analysis
//! Profile, and one self-contained HTML page that opens offline.
//! Colours follow the gait-lab convention: left red, right green, norms grey.

use plotters::prelude::*;

use super::cycles::Side;
use super::indices::GaitProfile;
use super::kinematics::Variable;
use super::normative::NormativeTable;
use super::report::{GaitReport, norm_at};
use crate::fit::PelvisMarkers;

/// Left-side colour (gait-lab convention).
const LEFT: RGBColor = RGBColor(200, 30, 30);
/// Right-side colour.
const RIGHT: RGBColor = RGBColor(20, 140, 40);
/// Normative band fill.
const BAND: RGBColor = RGBColor(205, 205, 205);

fn colour(side: Side) -> RGBColor {
    match side {
        Side::Left => LEFT,
        Side::Right => RIGHT,
    }
}

/// Error text of a drawing failure (plotters' error type is generic over the backend).
fn draw_err<E: std::fmt::Debug>(e: E) -> String {
    format!("drawing the figure failed: {e:?}")
}

/// One page with the nine GPS variables (rows pelvis, hip, knee/ankle/foot), each side's mean
/// curve over the normative mean ± 1 SD, and each side's mean toe-off as a vertical line.
pub fn kinematics_svg(
    report: &GaitReport,
    table: &NormativeTable,
    title: &str,
) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1050, 860)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        let (head, body) = root.split_vertically(50);
        head.draw(&Text::new(
            format!(
                "{title} — kinematics over the gait cycle (left red, right green; grey: {} speed norm ± 1 SD)",
                report.normative.speed
            ),
            (10, 18),
            ("sans-serif", 17).into_font(),
        ))
        .map_err(draw_err)?;
        head.draw(&Text::new(
            report.normative.source.clone(),
            (10, 38),
            ("sans-serif", 12).into_font().color(&RGBColor(90, 90, 90)),
        ))
        .map_err(draw_err)?;
        for (panel, v) in body.split_evenly((3, 3)).iter().zip(Variable::GPS) {
            curve_panel(panel, report, table, v)?;
        }
        root.present().map_err(draw_err)?;
    }
    Ok(svg)
}

/// Y range covering curves and band, padded.
fn y_range(report: &GaitReport, table: &NormativeTable, v: Variable) -> (f64, f64) {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for side in Side::BOTH {
        if let Some(c) = report.curve(side, v) {
            for x in &c.mean_deg {
                lo = lo.min(*x);
                hi = hi.max(*x);
            }
        }
    }
    if let Some(n) = report.norm(table, v) {
        for (m, s) in n.mean.iter().zip(&n.sd) {
            lo = lo.min(m - s);
            hi = hi.max(m + s);
        }
    }
    if !lo.is_finite() || !hi.is_finite() {
        return (-10.0, 10.0);
    }
    let pad = ((hi - lo) * 0.08).max(2.0);
    (lo - pad, hi + pad)
}

fn curve_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    report: &GaitReport,
    table: &NormativeTable,
    v: Variable,
) -> Result<(), String> {
    let (lo, hi) = y_range(report, table, v);
    let mut chart = ChartBuilder::on(area)
        .caption(v.title(), ("sans-serif", 15))
        .margin(8)
        .x_label_area_size(28)
        .y_label_area_size(38)
        .build_cartesian_2d(0f64..100f64, lo..hi)
        .map_err(draw_err)?;
    chart
        .configure_mesh()
        .x_labels(6)
        .y_labels(6)
        .x_desc("% gait cycle")
        .y_desc("deg")
        .label_style(("sans-serif", 11))
        .light_line_style(RGBColor(240, 240, 240))
        .draw()
        .map_err(draw_err)?;
    if let Some(n) = report.norm(table, v) {
        let mut band: Vec<(f64, f64)> = (0..=100)
            .map(|p| {
                let (m, s) = norm_at(n, p as f64);
                (p as f64, m + s)
            })
            .collect();
        band.extend((0..=100).rev().map(|p| {
            let (m, s) = norm_at(n, p as f64);
            (p as f64, m - s)
        }));
        chart
            .draw_series(std::iter::once(Polygon::new(band, BAND.mix(0.8).filled())))
            .map_err(draw_err)?;
    }
    if lo < 0.0 && hi > 0.0 {
        chart
            .draw_series(LineSeries::new(
                [(0.0, 0.0), (100.0, 0.0)],
                RGBColor(150, 150, 150),
            ))
            .map_err(draw_err)?;
    }
    for side in Side::BOTH {
        let Some(c) = report.curve(side, v) else {
            continue;
        };
        let col = colour(side);
        if let Some(off) = mean_foot_off(report, side) {
            chart
                .draw_series(LineSeries::new([(off, lo), (off, hi)], col.mix(0.6)))
                .map_err(draw_err)?;
        }
        chart
            .draw_series(LineSeries::new(
                c.mean_deg.iter().enumerate().map(|(k, y)| (k as f64, *y)),
                col.stroke_width(2),
            ))
            .map_err(draw_err)?;
    }
    Ok(())
}

/// Mean toe-off of a side's cycles, %.
fn mean_foot_off(report: &GaitReport, side: Side) -> Option<f64> {
    let v: Vec<f64> = report
        .cycles
        .side(side)
        .filter_map(|c| c.foot_off_pct)
        .collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// Short label of a MAP bar.
fn short(v: Variable) -> &'static str {
    match v {
        Variable::PelvisTilt => "Pel tilt",
        Variable::PelvisObliquity => "Pel obl",
        Variable::PelvisRotation => "Pel rot",
        Variable::HipFlexion => "Hip flex",
        Variable::HipAdduction => "Hip add",
        Variable::HipRotation => "Hip rot",
        Variable::KneeFlexion => "Knee flex",
        Variable::AnkleDorsiflexion => "Ank dors",
        Variable::FootProgression => "Foot prog",
        Variable::KneeVarus => "Knee var",
        Variable::KneeRotation => "Knee rot",
    }
}

/// The Movement Analysis Profile: left and right GVS of the nine variables, then the GPS of each
/// side and overall, in degrees.
pub fn map_svg(profile: &GaitProfile, title: &str) -> Result<String, String> {
    let mut groups: Vec<(String, [Option<f64>; 2])> = Variable::GPS
        .iter()
        .map(|v| {
            let g = |s: Side| profile.gvs_deg.get(&s).and_then(|m| m.get(v)).copied();
            (short(*v).to_string(), [g(Side::Left), g(Side::Right)])
        })
        .collect();
    groups.push((
        "GPS".into(),
        [
            profile.gps_deg.get(&Side::Left).copied(),
            profile.gps_deg.get(&Side::Right).copied(),
        ],
    ));
    let top = groups
        .iter()
        .flat_map(|(_, v)| v.iter().flatten().copied())
        .chain(profile.gps_overall_deg)
        .fold(10.0f64, f64::max)
        * 1.15;
    let n = groups.len() + 1;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 380)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        let caption = match profile.gps_overall_deg {
            Some(g) => {
                format!("{title} — Movement Analysis Profile (GVS, deg); overall GPS {g:.1}°")
            }
            None => format!("{title} — Movement Analysis Profile (GVS, deg)"),
        };
        let labels: Vec<String> = groups
            .iter()
            .map(|g| g.0.clone())
            .chain(std::iter::once("GPS all".to_string()))
            .collect();
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(40)
            .build_cartesian_2d(-0.5f64..n as f64 - 0.5, 0f64..top)
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n)
            .x_label_formatter(&|x| {
                if (x - x.round()).abs() < 1e-6 && *x >= 0.0 {
                    labels.get(x.round() as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_desc("deg")
            .label_style(("sans-serif", 11))
            .draw()
            .map_err(draw_err)?;
        let mut bars = Vec::new();
        for (k, (_, vals)) in groups.iter().enumerate() {
            for (s, side) in Side::BOTH.into_iter().enumerate() {
                if let Some(v) = vals[s] {
                    let x0 = k as f64 - 0.38 + 0.38 * s as f64;
                    bars.push(Rectangle::new(
                        [(x0, 0.0), (x0 + 0.36, v)],
                        colour(side).filled(),
                    ));
                }
            }
        }
        if let Some(g) = profile.gps_overall_deg {
            let x0 = (n - 1) as f64 - 0.2;
            bars.push(Rectangle::new(
                [(x0, 0.0), (x0 + 0.4, g)],
                RGBColor(60, 60, 60).filled(),
            ));
        }
        chart.draw_series(bars).map_err(draw_err)?;
        root.present().map_err(draw_err)?;
    }
    Ok(svg)
}

/// Escapes text for HTML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A self-contained HTML page (inline SVG, no scripts, no network) with the figures, the
/// spatio-temporal table, the scores and the notes.
pub fn report_html(report: &GaitReport, title: &str, kinematics: &str, map: &str) -> String {
    let mut h = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t} — gaitlens report</title>\
         <style>body{{font-family:sans-serif;margin:24px;max-width:1100px}}\
         table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}\
         th{{background:#f2f2f2}}.note{{color:#555}}</style></head><body>\
         <h1>{t}</h1><p>{frames} frames at {rate:.0} Hz. Events: {ev}.</p>",
        t = esc(title),
        frames = report.frames,
        rate = report.rate_hz,
        ev = esc(report
            .events
            .as_ref()
            .map_or("none found", |e| e.source.as_str())),
    );
    if let Some(rmse) = report
        .fit
        .as_ref()
        .and_then(|f| f["totals"]["median_rmse_m"].as_f64())
    {
        // Which pelvis the frontal and transverse pelvis and hip curves come from.
        let pelvis = match report.pelvis_markers {
            Some(PelvisMarkers::Rigid) => "pelvis markers rigid on the pelvis",
            _ => "pelvis markers moving with the skin",
        };
        h.push_str(&format!(
            "<p>Body-model fit: median marker RMSE {:.1} mm, {pelvis}.</p>",
            rmse * 1000.0
        ));
    }
    h.push_str(&spatiotemporal_table(report));
    h.push_str("<h2>Kinematics</h2>");
    h.push_str(kinematics);
    h.push_str(&symmetry_table(report));
    h.push_str("<h2>Movement Analysis Profile</h2>");
    h.push_str(map);
    if let Some(g) = report
        .vicon_profile
        .as_ref()
        .and_then(|v| v.gps_overall_deg)
    {
        h.push_str(&format!(
            "<p>GPS of the file's own Vicon Plug-in Gait angles over the same cycles: {g:.1}°.</p>"
        ));
    }
    if !report.notes.is_empty() {
        h.push_str("<h2>Notes</h2><ul>");
        for n in &report.notes {
            h.push_str(&format!("<li class=\"note\">{}</li>", esc(n)));
        }
        h.push_str("</ul>");
    }
    h.push_str(&format!(
        "<p class=\"note\">{}. Band speed: {} ({}).</p></body></html>",
        esc(&report.normative.source),
        esc(&report.normative.speed),
        esc(&report.normative.chosen_by)
    ));
    h
}

/// Left/right differences of the mean curves, with Vicon's own beside ours when the file has them.
fn symmetry_table(report: &GaitReport) -> String {
    if report.symmetry.is_empty() {
        return String::new();
    }
    let vicon = !report.vicon_symmetry.is_empty();
    let mut h = String::from(
        "<h2>Left/right symmetry</h2><p>Each side's mean curve from its own foot strike; \
         differences left − right, degrees.</p><table><tr><th></th><th>range left</th>\
         <th>range right</th><th>range difference</th><th>mean difference</th>\
         <th>shape RMS</th>",
    );
    if vicon {
        h.push_str("<th>Vicon: range / mean difference, shape RMS</th>");
    }
    h.push_str("</tr>");
    for s in &report.symmetry {
        h.push_str(&format!(
            "<tr><th>{} <small>({})</small></th><td>{:.1}</td><td>{:.1}</td><td>{:+.1}</td><td>{:+.1}</td><td>{:.1}</td>",
            esc(s.variable.title()),
            s.plane,
            s.left_range_deg,
            s.right_range_deg,
            s.range_difference_deg,
            s.mean_difference_deg,
            s.shape_rms_deg
        ));
        if vicon {
            let v = report
                .vicon_symmetry
                .iter()
                .find(|v| v.variable == s.variable);
            h.push_str(&v.map_or("<td>–</td>".to_string(), |v| {
                format!(
                    "<td>{:+.1} / {:+.1}, {:.1}</td>",
                    v.range_difference_deg, v.mean_difference_deg, v.shape_rms_deg
                )
            }));
        }
        h.push_str("</tr>");
    }
    h.push_str("</table>");
    // One caveat for the frontal and transverse rows (the same for the hips' two).
    if let Some(c) = Variable::HipAdduction.caveat(report.pelvis_markers) {
        h.push_str(&format!(
            "<p class=\"note\">Hip ab/adduction and rotation: {}.</p>",
            esc(c)
        ));
    }
    h
}

fn spatiotemporal_table(report: &GaitReport) -> String {
    let Some(st) = &report.spatiotemporal else {
        return "<p>No spatio-temporal parameters (no complete gait cycle).</p>".into();
    };
    let f = |v: Option<f64>, d: usize| v.map_or("–".to_string(), |v| format!("{v:.d$}"));
    let mut h = format!(
        "<h2>Spatio-temporal parameters</h2><p>Speed {} m/s, cadence {} steps/min, \
         non-dimensional speed {}, leg length {:.2} m.</p>\
         <table><tr><th></th><th>left</th><th>right</th><th>symmetry %</th></tr>",
        f(st.speed_m_s, 2),
        f(st.cadence_steps_min, 1),
        f(st.nondimensional_speed, 3),
        st.leg_length_m
    );
    type Get = fn(&super::spatiotemporal::SideParameters) -> Option<f64>;
    let rows: [(&str, Get, usize, &str); 8] = [
        ("cycles", |s| Some(s.cycles as f64), 0, ""),
        ("stride time (s)", |s| Some(s.stride_time_s), 3, ""),
        ("step time (s)", |s| s.step_time_s, 3, "step_time"),
        ("stride length (m)", |s| s.stride_length_m, 3, ""),
        (
            "step length (m)",
            |s| Some(s.step_length_m),
            3,
            "step_length",
        ),
        ("step width (m)", |s| Some(s.step_width_m), 3, ""),
        ("stance (%)", |s| s.stance_pct, 1, "stance"),
        ("double support (%)", |s| s.double_support_pct, 1, ""),
    ];
    for (name, get, d, sym) in rows {
        h.push_str(&format!(
            "<tr><th>{name}</th><td>{}</td><td>{}</td><td>{}</td></tr>",
            f(st.left.as_ref().and_then(get), d),
            f(st.right.as_ref().and_then(get), d),
            f(st.symmetry_pct.get(sym).copied(), 1)
        ));
    }
    h.push_str(&format!(
        "</table><p>Lengths and widths {}.</p>",
        st.foot_points.describe()
    ));
    h
}
