//! The clinical gait report of one trial: events, cycles, PiG kinematics as mean ± SD over the
//! cycles of each side, spatio-temporal parameters, normative band matched to the walking speed,
//! GVS/GPS/MAP, left/right symmetry of the angles, and — where the file stores Vicon's own
//! Plug-in Gait angles — how ours compare.
//! A trial without usable events still gets a (partial) report that says why.

use std::collections::BTreeMap;

use nalgebra::Vector3;
use serde::Serialize;

use super::cycles::{CYCLE_SAMPLES, CycleSet, Side, gait_cycles};
use super::events::{
    EventMethod, GaitEvents, detect_events_from_leg_joints, detect_events_from_markers,
    stored_events,
};
use super::indices::{GaitProfile, gait_profile};
use super::kinematics::{Kinematics, KinematicsError, Variable, pig_kinematics};
use super::normative::{NormativeCurve, NormativeTable, speed_bin};
use super::spatiotemporal::{Feet, FootPoints, SpatioTemporal, spatiotemporal};
use super::symmetry::{KinematicSymmetry, kinematic_symmetry};
use crate::body::{BodyModel, MarkerSet};
use crate::fit::PelvisMarkers;
use crate::fit::angles::compare;
use crate::formats::pose_seq::PoseSequence;
use crate::formats::trial::MarkerTrial;

/// Below this the feet do not walk (the slowest patients walk ~0.2 m/s): the report says the
/// events and the motion disagree.
const MIN_WALKING_SPEED_M_S: f64 = 0.05;

/// Speed bin used when the walking speed cannot be measured.
const DEFAULT_SPEED: &str = "free";

/// What the report is built from.
pub struct ReportInput<'a> {
    /// Body model the poses belong to.
    pub model: &'a BodyModel,
    /// Marker set the poses were fitted with (gives the PiG pelvis tilt zero).
    pub markers: Option<&'a MarkerSet>,
    /// Fitted poses, one per trial frame.
    pub poses: &'a PoseSequence,
    /// Frame rate of the poses, Hz.
    pub rate_hz: f64,
    /// The marker trial the poses were fitted to (events, Vicon angles, leg length), if any.
    pub trial: Option<&'a MarkerTrial>,
    /// Normative curves.
    pub normative: &'a NormativeTable,
    /// Speed bin forced by the user (else matched to the measured speed).
    pub speed: Option<String>,
    /// Where the gait events come from.
    pub events: EventSource,
}

/// Where a report takes its gait events from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EventSource {
    /// The trial file's EVENT section when it has one, else detected by the coordinate method.
    #[default]
    Auto,
    /// Detected by this method even when the file stores events (to check a detector or a lab's
    /// events).
    Detect(EventMethod),
}

impl std::str::FromStr for EventSource {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.eq_ignore_ascii_case("auto") {
            return Ok(EventSource::Auto);
        }
        s.parse::<EventMethod>()
            .map(EventSource::Detect)
            .map_err(|_| format!("unknown event source '{s}': use auto, coordinate or velocity"))
    }
}

/// Mean ± SD of one variable of one side over that side's cycles, 101 samples, degrees.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CycleCurve {
    /// Side.
    pub side: Side,
    /// Variable.
    pub variable: Variable,
    /// Anatomical plane.
    pub plane: &'static str,
    /// Cycles averaged.
    pub cycles: usize,
    /// Mean at 0, 1, …, 100 % of the cycle.
    pub mean_deg: Vec<f64>,
    /// SD over cycles at each sample (0 with one cycle).
    pub sd_deg: Vec<f64>,
}

/// Our angle against the file's Vicon output over all frames.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ViconComparison {
    /// Side.
    pub side: Side,
    /// Variable.
    pub variable: Variable,
    /// Plane.
    pub plane: &'static str,
    /// Pearson r.
    pub r: f64,
    /// RMSE after removing the mean offset, degrees.
    pub rmse_offset_free_deg: f64,
    /// Mean of ours − Vicon, degrees.
    pub mean_offset_deg: f64,
    /// Frames compared.
    pub frames: usize,
}

/// Gait events as written to the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportEvents {
    /// Where they come from.
    pub source: String,
    /// Left strikes, frames.
    pub left_strikes: Vec<usize>,
    /// Left toe-offs, frames.
    pub left_offs: Vec<usize>,
    /// Right strikes, frames.
    pub right_strikes: Vec<usize>,
    /// Right toe-offs, frames.
    pub right_offs: Vec<usize>,
}

/// The normative band used.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NormativeUse {
    /// Credit / source of the curves.
    pub source: String,
    /// Speed bin of the curves.
    pub speed: String,
    /// How the bin was chosen.
    pub chosen_by: String,
}

/// Everything `gaitlens report` writes to `report.json`.
#[derive(Debug, Clone, Serialize)]
pub struct GaitReport {
    /// Frame rate, Hz.
    pub rate_hz: f64,
    /// Frames analysed.
    pub frames: usize,
    /// Gait events (absent when none could be found).
    pub events: Option<ReportEvents>,
    /// Complete cycles and notes on the rest.
    pub cycles: CycleSet,
    /// Mean ± SD curves over the cycles.
    pub curves: Vec<CycleCurve>,
    /// Spatio-temporal parameters.
    pub spatiotemporal: Option<SpatioTemporal>,
    /// Normative band.
    pub normative: NormativeUse,
    /// GVS / GPS / MAP of our angles.
    pub profile: GaitProfile,
    /// GVS / GPS of Vicon's own angles over the same cycles (when the file stores them).
    pub vicon_profile: Option<GaitProfile>,
    /// Ours against Vicon's angles.
    pub vicon_comparison: Vec<ViconComparison>,
    /// Left against right of our mean curves.
    pub symmetry: Vec<KinematicSymmetry>,
    /// Left against right of Vicon's own mean curves over the same cycles (empty without them).
    pub vicon_symmetry: Vec<KinematicSymmetry>,
    /// Per-frame angles and their conventions.
    #[serde(skip)]
    pub kinematics: Kinematics,
    /// How the direction of progression was found and the zero offsets used.
    pub conventions: serde_json::Value,
    /// Fit quality from the pose folder's `fit_report.json` (totals, warnings, plausibility),
    /// when there is one.
    pub fit: Option<serde_json::Value>,
    /// How the fit moved the pelvis markers (`None`: not recorded); decides what
    /// [`Variable::caveat`] says of the pelvis' and hips' frontal and transverse angles.
    pub pelvis_markers: Option<PelvisMarkers>,
    /// Things the reader should know (missing events, dropped cycles, unmeasured speed).
    pub notes: Vec<String>,
}

impl GaitReport {
    /// The mean curve of one side and variable.
    pub fn curve(&self, side: Side, v: Variable) -> Option<&CycleCurve> {
        self.curves
            .iter()
            .find(|c| c.side == side && c.variable == v)
    }

    /// The normative curve shown with `v`.
    pub fn norm<'a>(&self, table: &'a NormativeTable, v: Variable) -> Option<&'a NormativeCurve> {
        table.curve(v.normative_name(), &self.normative.speed)
    }
}

/// Builds the report (see the module documentation).
pub fn gait_report(input: &ReportInput) -> Result<GaitReport, KinematicsError> {
    let kin = pig_kinematics(input.model, input.poses, input.markers)?;
    let frames = input.poses.num_frames();
    let mut notes: Vec<String> = input
        .trial
        .map(|t| t.reader_notes.clone())
        .unwrap_or_default();
    let events = find_events(input, &kin, &mut notes);
    let cycles = events
        .as_ref()
        .map(|(e, _)| gait_cycles(e, frames))
        .unwrap_or_default();
    notes.extend(cycles.notes.iter().cloned());
    let curves = cycle_curves(&cycles, |side, v| kin.curve(side, v).to_vec());
    let spatio = events.as_ref().map(|_| {
        let (l, r, points) = foot_points(input, &kin, &cycles);
        let feet = Feet {
            left: &l,
            right: &r,
            up: kin.up,
            forward: kin.forward,
            overground: kin.overground,
            points,
        };
        spatiotemporal(&cycles, &feet, input.rate_hz, leg_length_m(input, &kin))
    });
    if let Some(v) = spatio
        .as_ref()
        .and_then(|s| s.speed_m_s)
        .filter(|v| *v < MIN_WALKING_SPEED_M_S)
    {
        notes.push(format!(
            "the feet advance only {v:.2} m/s from stride to stride although the events give \
             {} gait cycles: frozen or copied markers, or events from another trial? The speed, \
             the spatial parameters and the speed-matched norms are not reliable",
            cycles.cycles.len()
        ));
    }
    let normative = choose_speed(input, spatio.as_ref(), &mut notes);
    let norm = |v: Variable| input.normative.curve(v.normative_name(), &normative.speed);
    let means = mean_map(&curves);
    let profile = gait_profile(&means, norm);
    let symmetry = kinematic_symmetry(&means);
    let vicon = input.trial.map(|t| vicon_outputs(t, &kin, &cycles, norm));
    let (vicon_comparison, vicon_profile, vicon_symmetry) = match vicon {
        Some(v) => (v.comparisons, v.profile, v.symmetry),
        None => (Vec::new(), None, Vec::new()),
    };
    let conventions = serde_json::json!({
        "cardan": "flexion, ab/adduction, rotation (PiG Y-X-Z)",
        "progression": kin.progression,
        "zero_offsets_deg": kin.offsets_deg,
    });
    Ok(GaitReport {
        rate_hz: input.rate_hz,
        frames,
        events: events.map(|(e, source)| ReportEvents {
            source,
            left_strikes: e.left.strikes,
            left_offs: e.left.offs,
            right_strikes: e.right.strikes,
            right_offs: e.right.offs,
        }),
        cycles,
        curves,
        spatiotemporal: spatio,
        normative,
        profile,
        vicon_profile,
        vicon_comparison,
        symmetry,
        vicon_symmetry,
        kinematics: kin,
        conventions,
        fit: None,
        pelvis_markers: None,
        notes,
    })
}

/// Events from the file's EVENT section (with [`EventSource::Auto`]), else detected from its
/// markers, else from the fitted joints; `None` (with a note) when none of these yields a cycle.
fn find_events(
    input: &ReportInput,
    kin: &Kinematics,
    notes: &mut Vec<String>,
) -> Option<(GaitEvents, String)> {
    let frames = input.poses.num_frames();
    let method = match input.events {
        EventSource::Auto => EventMethod::Coordinate,
        EventSource::Detect(m) => m,
    };
    if let Some(trial) = input.trial.filter(|t| t.num_frames() == frames) {
        if input.events == EventSource::Auto
            && let Some(e) = stored_events(trial)
        {
            return Some((e, "the trial file's EVENT section".into()));
        }
        match detect_events_from_markers(trial, method) {
            Ok(e) if e.phases(frames).is_ok() => {
                return Some((
                    e,
                    format!("detected from the markers ({})", method.citation()),
                ));
            }
            Ok(_) => notes.push("no gait cycle found from the markers".into()),
            Err(e) => notes.push(format!("events from the markers: {e}")),
        }
    }
    let at = |n: &str| joint(input.model, n);
    let col = |j: usize| kin.trajectory(j);
    let (lh, rh) = (col(at("left_hip")), col(at("right_hip")));
    let (la, ra) = (col(at("left_ankle")), col(at("right_ankle")));
    let pelvis = col(at("pelvis"));
    let detected =
        detect_events_from_leg_joints(&pelvis, [&lh, &rh], [&la, &ra], input.rate_hz, method);
    match detected {
        Ok(e) if e.phases(frames).is_ok() => Some((
            e,
            format!(
                "detected from the fitted ankle joints ({})",
                method.citation()
            ),
        )),
        Ok(e) => {
            notes.push(format!(
                "no complete gait cycle: {} left and {} right foot strikes found — the report \
                 has per-frame angles only",
                e.left.strikes.len(),
                e.right.strikes.len()
            ));
            None
        }
        Err(e) => {
            notes.push(format!(
                "no gait events ({e}) — the report has per-frame angles only"
            ));
            None
        }
    }
}

/// Index of a joint the kinematics already required (so it exists).
fn joint(model: &BodyModel, name: &str) -> usize {
    model
        .joint_names
        .iter()
        .position(|x| x == name)
        .unwrap_or(0)
}

/// Ankle joint indices (left, right).
fn leg_columns(model: &BodyModel) -> (usize, usize) {
    (joint(model, "left_ankle"), joint(model, "right_ankle"))
}

/// One point per frame, metres.
type Trajectory = Vec<Vector3<f64>>;

/// Per-frame points standing for the feet: the trial's heel markers where it has both at every
/// foot strike of the cycles (frames aligned with the poses), else the fitted ankle joints.
fn foot_points(
    input: &ReportInput,
    kin: &Kinematics,
    cycles: &CycleSet,
) -> (Trajectory, Trajectory, FootPoints) {
    if let Some((l, r)) = input
        .trial
        .filter(|t| t.num_frames() == input.poses.num_frames())
        .and_then(heel_markers)
    {
        let seen = |f: usize| {
            [&l, &r]
                .iter()
                .all(|s| s.get(f).is_some_and(|p| p.x.is_finite()))
        };
        if cycles.cycles.iter().all(|c| seen(c.start)) {
            return (l, r, FootPoints::HeelMarkers);
        }
    }
    let legs = leg_columns(input.model);
    let (l, r) = (kin.trajectory(legs.0), kin.trajectory(legs.1));
    (l, r, FootPoints::AnkleJoints)
}

/// The left and right heel marker trajectories of a trial (NaN in gaps), if it has both.
fn heel_markers(t: &MarkerTrial) -> Option<(Trajectory, Trajectory)> {
    let series = |label: &str| {
        let c = t.marker_index(label)?;
        Some(
            t.markers_m
                .iter()
                .map(|f| {
                    f.get(c)
                        .copied()
                        .flatten()
                        .map_or(Vector3::repeat(f64::NAN), Vector3::from)
                })
                .collect::<Vec<_>>(),
        )
    };
    Some((series("LHEE")?, series("RHEE")?))
}

/// Leg length: the trial's `LegLength` subject parameters (mm) when present, else the fitted
/// body's hip-joint height above its lowest ankle position.
fn leg_length_m(input: &ReportInput, kin: &Kinematics) -> f64 {
    if let Some(t) = input.trial {
        // Plug-in Gait stores `LLegLength` / `RLegLength`; other tools spell them out.
        let p: Vec<f64> = [
            "LLegLength",
            "RLegLength",
            "LeftLegLength",
            "RightLegLength",
            "LegLength",
        ]
        .iter()
        .filter_map(|k| t.subject_params.get(*k).copied())
        .filter(|v| (300.0..1500.0).contains(v))
        .collect();
        if !p.is_empty() {
            return p.iter().sum::<f64>() / p.len() as f64 / 1000.0;
        }
    }
    // Hip height above the ankle's lowest point plus a typical ankle height (~4 % of the leg).
    let (la, _) = leg_columns(input.model);
    let lh = joint(input.model, "left_hip");
    let hip = kin
        .joints_m
        .iter()
        .map(|f| (f[lh] - f[la]).dot(&kin.up))
        .fold(0.0, f64::max);
    hip * 1.04
}

/// Picks the speed bin of the normative table and says why.
fn choose_speed(
    input: &ReportInput,
    spatio: Option<&SpatioTemporal>,
    notes: &mut Vec<String>,
) -> NormativeUse {
    let (speed, chosen_by) = match (&input.speed, spatio.and_then(|s| s.nondimensional_speed)) {
        (Some(s), _) => (s.clone(), "given by the user".to_string()),
        (None, Some(v)) => (
            speed_bin(v).to_string(),
            format!("non-dimensional speed {v:.3}"),
        ),
        (None, None) => {
            notes.push(format!(
                "walking speed not measured: normative band at '{DEFAULT_SPEED}' speed"
            ));
            (DEFAULT_SPEED.to_string(), "default".to_string())
        }
    };
    NormativeUse {
        source: input.normative.source.clone(),
        speed,
        chosen_by,
    }
}

/// Mean ± SD over each side's cycles of every variable.
fn cycle_curves(cycles: &CycleSet, signal: impl Fn(Side, Variable) -> Vec<f64>) -> Vec<CycleCurve> {
    let mut out = Vec::new();
    for side in Side::BOTH {
        for v in Variable::ALL {
            let s = signal(side, v);
            let normalised: Vec<Vec<f64>> =
                cycles.side(side).filter_map(|c| c.normalise(&s)).collect();
            if normalised.is_empty() {
                continue;
            }
            let n = normalised.len() as f64;
            let mean: Vec<f64> = (0..CYCLE_SAMPLES)
                .map(|k| normalised.iter().map(|c| c[k]).sum::<f64>() / n)
                .collect();
            let sd = (0..CYCLE_SAMPLES)
                .map(|k| {
                    let var = normalised
                        .iter()
                        .map(|c| (c[k] - mean[k]).powi(2))
                        .sum::<f64>()
                        / (n - 1.0).max(1.0);
                    var.sqrt()
                })
                .collect();
            out.push(CycleCurve {
                side,
                variable: v,
                plane: v.plane(),
                cycles: normalised.len(),
                mean_deg: mean,
                sd_deg: sd,
            });
        }
    }
    out
}

fn mean_map(curves: &[CycleCurve]) -> BTreeMap<(Side, Variable), Vec<f64>> {
    curves
        .iter()
        .map(|c| ((c.side, c.variable), c.mean_deg.clone()))
        .collect()
}

/// Vicon's angle of a side and variable per frame (`None` where invalid or absent).
fn vicon_series(trial: &MarkerTrial, side: Side, v: Variable) -> Option<Vec<Option<f64>>> {
    let (name, k) = v.vicon_output();
    let label = format!("{}{name}", if side == Side::Left { "L" } else { "R" });
    let out = trial
        .model_outputs
        .iter()
        .find(|o| o.label.eq_ignore_ascii_case(&label))?;
    Some(out.values.iter().map(|x| x.map(|x| x[k])).collect())
}

/// What the file's own Vicon angles add to the report.
struct ViconOutputs {
    comparisons: Vec<ViconComparison>,
    profile: Option<GaitProfile>,
    symmetry: Vec<KinematicSymmetry>,
}

/// Our angles against the file's Vicon outputs, and the GPS and symmetry of Vicon's own curves.
fn vicon_outputs<'a>(
    trial: &MarkerTrial,
    kin: &Kinematics,
    cycles: &CycleSet,
    norm: impl Fn(Variable) -> Option<&'a NormativeCurve>,
) -> ViconOutputs {
    let mut comparisons = Vec::new();
    for side in Side::BOTH {
        for v in Variable::ALL {
            let Some(reference) = vicon_series(trial, side, v) else {
                continue;
            };
            let ours = kin.curve(side, v);
            let Some((r, rmse, n)) = compare(ours, &reference) else {
                continue;
            };
            let diffs: Vec<f64> = ours
                .iter()
                .zip(&reference)
                .filter_map(|(a, b)| b.map(|b| a - b))
                .filter(|d| d.is_finite())
                .collect();
            comparisons.push(ViconComparison {
                side,
                variable: v,
                plane: v.plane(),
                r,
                rmse_offset_free_deg: rmse,
                mean_offset_deg: diffs.iter().sum::<f64>() / diffs.len().max(1) as f64,
                frames: n,
            });
        }
    }
    let vicon_curves = cycle_curves(cycles, |side, v| {
        vicon_series(trial, side, v)
            .map(|s| s.iter().map(|x| x.unwrap_or(f64::NAN)).collect())
            .unwrap_or_default()
    });
    let means = mean_map(&vicon_curves);
    ViconOutputs {
        comparisons,
        profile: (!vicon_curves.is_empty()).then(|| gait_profile(&means, norm)),
        symmetry: kinematic_symmetry(&means),
    }
}

/// `curves.csv`: one row per side, variable and cycle percentage with the mean, SD and the
/// normative mean and SD.
pub fn curves_csv(report: &GaitReport, table: &NormativeTable) -> String {
    let mut s =
        String::from("side,variable,plane,cycle_pct,mean_deg,sd_deg,norm_mean_deg,norm_sd_deg\n");
    for c in &report.curves {
        let norm = report.norm(table, c.variable);
        for k in 0..CYCLE_SAMPLES {
            let (nm, ns) = norm
                .map(|n| norm_at(n, k as f64))
                .map_or((String::new(), String::new()), |(m, s)| {
                    (format!("{m:.3}"), format!("{s:.3}"))
                });
            s.push_str(&format!(
                "{},{},{},{k},{:.3},{:.3},{nm},{ns}\n",
                c.side.name(),
                c.variable.key(),
                c.plane,
                c.mean_deg[k],
                c.sd_deg[k],
            ));
        }
    }
    s
}

/// Normative mean and SD at `pct` % (linear between the table's samples, 100 % included).
pub fn norm_at(n: &NormativeCurve, pct: f64) -> (f64, f64) {
    let i = n
        .pct
        .partition_point(|&p| p <= pct)
        .clamp(1, n.pct.len() - 1);
    let w = ((pct - n.pct[i - 1]) / (n.pct[i] - n.pct[i - 1])).clamp(0.0, 1.0);
    (
        n.mean[i - 1] + (n.mean[i] - n.mean[i - 1]) * w,
        n.sd[i - 1] + (n.sd[i] - n.sd[i - 1]) * w,
    )
}
