//! Fitting the body model to motion-capture markers: subject calibration (shape + skin offsets),
//! then a fast per-frame Levenberg–Marquardt pose fit with warm starts.

pub mod adam;
pub mod angles;
pub mod calibrate;
mod joint_calibration;
pub mod outliers;
mod pose;
pub mod prior;
pub mod rigid;
pub mod skinned_markers;
pub mod solver;
pub mod vertical;

use std::time::Instant;

use nalgebra::Vector3;
use serde::{Deserialize, Serialize};

use crate::body::{BodyModel, MarkerSet};
use crate::formats::MarkerTrial;
pub use calibrate::{Calibration, CalibrationConfig, SubjectMeasures};
pub use solver::{AngleLimit, FrameFit, PoseProblem, PoseState, SolverConfig};

use crate::body::default_model::pig_markers::LANDMARK_MARKERS;

/// Errors of the fitting driver.
#[derive(Debug, thiserror::Error)]
pub enum FitError {
    /// Too few of the model's markers appear in the trial to fit anything.
    #[error(
        "trial '{trial}': only {found} of the model's markers were found ({labels}); need at least {needed}"
    )]
    TooFewMarkers {
        /// Trial name.
        trial: String,
        /// How many matched.
        found: usize,
        /// How many are needed.
        needed: usize,
        /// The trial's labels, for the message.
        labels: String,
    },
    /// The model's markers are labelled in the trial but hold (almost) no data: every frame a gap
    /// (missing, or stored as zeros, which C3D writers use for gaps).
    #[error(
        "trial '{trial}': {labelled} of the model's markers are labelled, but {empty} of them hold \
         no data (missing or zero in more than {gap_pct:.0} % of frames: {names}); need at least \
         {needed} with data"
    )]
    NoMarkerData {
        /// Trial name.
        trial: String,
        /// How many of the model's markers the trial labels.
        labelled: usize,
        /// How many of those are (almost) empty.
        empty: usize,
        /// Gap fraction above which a marker counts as empty, %.
        gap_pct: f64,
        /// The empty markers' names.
        names: String,
        /// How many are needed.
        needed: usize,
    },
    /// The trial has no frames.
    #[error("trial '{trial}' has no frames")]
    Empty {
        /// Trial name.
        trial: String,
    },
    /// No frame shows enough markers to calibrate the subject on.
    #[error(
        "trial '{trial}': no frame shows at least {needed} of the {markers} markers that carry \
         data, so the subject cannot be calibrated (best frame: {best} visible)"
    )]
    NoCalibrationFrames {
        /// Trial name (the static trial when one was given).
        trial: String,
        /// Markers with data.
        markers: usize,
        /// Visible markers needed in a frame.
        needed: usize,
        /// The most markers any frame shows.
        best: usize,
    },
}

/// Settings of a whole-trial fit.
#[derive(Debug, Clone, PartialEq)]
pub struct FitConfig {
    /// Per-frame solver settings.
    pub solver: SolverConfig,
    /// Calibration settings.
    pub calibration: CalibrationConfig,
    /// Number of calibration frames.
    pub calibration_frames: usize,
    /// A frame with fewer visible markers than this fraction of the matched ones is interpolated.
    pub min_visible_fraction: f64,
    /// How the pelvis' skin markers move with the body (README "Pelvis markers").
    pub pelvis_markers: PelvisMarkers,
}

/// How the pelvis' landmarks ([`skinned_markers::PELVIS_MARKERS`]) move with the fitted body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PelvisMarkers {
    /// With the skin under them, blended between the pelvis, the lumbar joint and the hips as the
    /// body's skinning weights say (the default: every acceptance against Vicon's sagittal angles
    /// was measured with it).
    #[default]
    Skin,
    /// Rigidly with the pelvis, as every marker-based gait model builds it, with their tracking
    /// loss counted [`RIGID_PELVIS_MARKER_WEIGHT`] times: blended, the solver can roll the pelvis
    /// against the lumbar joint without moving them, and the fitted pelvic obliquity varied 2-3.5
    /// times as much as the markers' own line.
    Rigid,
}

/// Tracking loss weight of each pelvis marker under [`PelvisMarkers::Rigid`] (1 for the others):
/// they alone define the pelvis, which every leg marker also pulls on through the hips. The
/// largest weight at which every shared trial keeps a median marker RMSE within 12 mm (Motion3_FF,
/// whose thigh and knee markers disagree with its pelvis markers: 11.9 mm at 2, 12.9 at 4).
pub const RIGID_PELVIS_MARKER_WEIGHT: f64 = 2.0;

impl PelvisMarkers {
    /// `set` as this setting fits it: under [`PelvisMarkers::Rigid`] its pelvis markers are
    /// attached to the pelvis ([`skinned_markers::attach_pelvis_markers_rigidly`]); anything
    /// that poses the fitted markers again (the viewer's overlay) must use the same set.
    pub fn apply(self, model: &BodyModel, set: &mut MarkerSet) {
        if self == PelvisMarkers::Rigid {
            skinned_markers::attach_pelvis_markers_rigidly(model, set);
        }
    }

    /// The setting's name as `fit_report.json` and `--pelvis-markers` spell it.
    pub fn name(self) -> &'static str {
        match self {
            PelvisMarkers::Skin => "skin",
            PelvisMarkers::Rigid => "rigid",
        }
    }

    /// The setting a pose folder was fitted with, as `gaitlens fit` records it in the folder's
    /// `fit_report.json` (or `gaitlens synth inject` in its `ground_truth.json`, from the walk it
    /// changed); `None` when neither says (written before 2026-12-06, or not by gaitlens).
    pub fn recorded_in(sidecars: &crate::formats::pose_seq::PoseSidecars) -> Option<Self> {
        let parse = |v: &serde_json::Value| serde_json::from_value(v.clone()).ok();
        sidecars
            .fit_report_at("/pelvis_markers")
            .and_then(parse)
            .or_else(|| {
                sidecars
                    .ground_truth_at("/subjects/0/pelvis_markers")
                    .and_then(parse)
            })
    }
}

impl Default for FitConfig {
    fn default() -> Self {
        FitConfig {
            solver: SolverConfig::default(),
            calibration: CalibrationConfig::default(),
            calibration_frames: 8,
            min_visible_fraction: 0.3,
            pelvis_markers: PelvisMarkers::Skin,
        }
    }
}

/// Per-frame fitting record, as written to `fit_report.json`.
#[derive(Debug, Clone, Serialize)]
pub struct FrameReport {
    /// Frame index (0-based).
    pub frame: usize,
    /// Marker RMSE over visible markers, metres (`null` for interpolated frames).
    pub rmse_m: Option<f64>,
    /// Largest marker error, metres.
    pub max_error_m: Option<f64>,
    /// Marker with the largest error.
    pub max_error_marker: Option<String>,
    /// LM iterations.
    pub iterations: usize,
    /// Markers of the model missing in this frame.
    pub missing: Vec<String>,
    /// Too few markers: the pose was interpolated from neighbouring frames.
    pub interpolated: bool,
    /// Joints outside their documented range ([`prior::JOINT_RANGES`]) in the fitted pose.
    pub out_of_range: Vec<String>,
    /// Whether the frame was fitted with every marker on the pelvis and the legs seen: the legs'
    /// pose is measured, not the solver's guess (a marker gap leaves a segment to the prior, an
    /// interpolated frame is invented). `explain` and the viewer warn on verdicts over other
    /// frames ([`crate::formats::pose_seq::PoseSidecars::legs_measured`]). `None` in reports written
    /// before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legs_measured: Option<bool>,
}

impl FrameReport {
    /// [`Self::legs_measured`], or for older reports whether the frame was fitted at all.
    pub fn legs_measured(&self) -> bool {
        self.legs_measured.unwrap_or(!self.interpolated)
    }
}

/// The result of fitting a trial.
#[derive(Debug, Clone)]
pub struct TrialFit {
    /// Subject calibration.
    pub calibration: Calibration,
    /// Labels of the model markers used, in solver order.
    pub marker_labels: Vec<String>,
    /// Model markers the trial does not have (their body parts are unconstrained); the landmark
    /// alternatives to skin markers (trochanters, joint centres) are not listed.
    pub unmatched_markers: Vec<String>,
    /// Markers the trial labels but that carry (almost) no data: visible in fewer than
    /// [`MIN_MARKER_DATA_FRACTION`] of the frames. They are not used.
    pub empty_markers: Vec<String>,
    /// Frames the subject was calibrated on (of the static trial when one was used).
    pub calibration_frames: Vec<usize>,
    /// Whether calibration used the static trial (`false`: frames of the walk itself).
    pub calibrated_on_static: bool,
    /// Things the user should know about this fit (fallbacks taken, suspect data).
    pub warnings: Vec<String>,
    /// Fitted pose per frame.
    pub poses: Vec<PoseState>,
    /// Per-frame records.
    pub frames: Vec<FrameReport>,
    /// Joints no marker measures: held at the neutral pose ([`prior::neutral_pose`]).
    pub unconstrained_joints: Vec<String>,
    /// Markers whose residual stayed far above the others' ([`outliers`]).
    pub marker_outliers: Vec<outliers::MarkerOutlier>,
    /// Runs of frames in which two markers' labels were swapped (tracked with them put back).
    pub marker_swaps: Vec<outliers::MarkerSwap>,
    /// Seconds spent calibrating.
    pub calibration_s: f64,
    /// Seconds spent on the per-frame fits.
    pub tracking_s: f64,
    /// The lab's vertical in trial coordinates as estimated from the markers
    /// ([`vertical::lab_up`]): the pelvis was held upright about it; `None` where the markers do
    /// not show it (the root was then pulled toward the rest orientation).
    pub lab_up: Option<Vector3<f64>>,
}

impl TrialFit {
    /// Per-frame RMSEs of fitted (non-interpolated) frames, metres.
    pub fn rmses_m(&self) -> Vec<f64> {
        self.frames.iter().filter_map(|f| f.rmse_m).collect()
    }

    /// Mean error of each marker over the frames where it was visible, metres.
    pub fn per_marker_mean_m(&self, errors: &[Vec<Option<f64>>]) -> Vec<(String, f64)> {
        self.marker_labels
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let v: Vec<f64> = errors.iter().filter_map(|e| e[i]).collect();
                (l.clone(), v.iter().sum::<f64>() / v.len().max(1) as f64)
            })
            .collect()
    }
}

/// Matches the marker set to a trial's labels: the sub-set found and each one's trial column.
pub fn match_markers(set: &MarkerSet, trial: &MarkerTrial) -> (MarkerSet, Vec<usize>, Vec<String>) {
    let mut used = MarkerSet::default();
    let mut cols = Vec::new();
    let mut missing = Vec::new();
    for m in &set.markers {
        match trial.marker_index(&m.name) {
            Some(c) => {
                used.markers.push(m.clone());
                cols.push(c);
            }
            None => missing.push(m.name.clone()),
        }
    }
    (used, cols, missing)
}

/// Observed marker positions of one frame in the order of `cols`.
pub fn observed(trial: &MarkerTrial, frame: usize, cols: &[usize]) -> Vec<Option<Vector3<f64>>> {
    cols.iter()
        .map(|&c| {
            trial.markers_m[frame]
                .get(c)
                .copied()
                .flatten()
                .map(Vector3::from)
        })
        .collect()
}

/// Subject height in metres from C3D subject parameters (`Height` in mm, or metres if < 3).
pub fn subject_height_m(trial: &MarkerTrial) -> Option<f64> {
    let h = trial
        .subject_params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("height"))
        .map(|(_, v)| *v)?;
    if h <= 0.0 || !h.is_finite() {
        None
    } else if h > 3.0 {
        Some(h / 1000.0)
    } else {
        Some(h)
    }
}

/// Subject leg length in metres from C3D subject parameters (Plug-in Gait's `LLegLength` and
/// `RLegLength`, or `LegLength`, `LeftLegLength`, `RightLegLength`; mm, or metres if < 3): the
/// mean of the plausible ones.
pub fn subject_leg_length_m(trial: &MarkerTrial) -> Option<f64> {
    let v: Vec<f64> = trial
        .subject_params
        .iter()
        .filter(|(k, _)| {
            [
                "LLegLength",
                "RLegLength",
                "LegLength",
                "LeftLegLength",
                "RightLegLength",
            ]
            .iter()
            .any(|n| k.eq_ignore_ascii_case(n))
        })
        .map(|(_, &v)| if v > 3.0 { v / 1000.0 } else { v })
        .filter(|v| (0.3..1.5).contains(v))
        .collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// Markers visible in fewer than this fraction of a trial's frames are "labelled but empty":
/// dropped before calibration and tracking, and reported.
pub const MIN_MARKER_DATA_FRACTION: f64 = 0.1;

/// Splits matched markers into those that carry data in `trial` and those that are (almost)
/// empty: returns the kept set, their columns, and the empty markers' names.
fn drop_empty_markers(
    used: MarkerSet,
    cols: Vec<usize>,
    trial: &MarkerTrial,
) -> (MarkerSet, Vec<usize>, Vec<String>) {
    let n = trial.num_frames().max(1);
    let mut kept = MarkerSet::default();
    let mut kept_cols = Vec::new();
    let mut empty = Vec::new();
    for (m, c) in used.markers.into_iter().zip(cols) {
        let seen = trial
            .markers_m
            .iter()
            .filter(|f| f.get(c).copied().flatten().is_some())
            .count();
        if (seen as f64) < MIN_MARKER_DATA_FRACTION * n as f64 {
            empty.push(m.name);
        } else {
            kept.markers.push(m);
            kept_cols.push(c);
        }
    }
    (kept, kept_cols, empty)
}

/// Calibration frames: [`pick_frames`]' well-observed frames, or, when no frame shows 70 % of
/// the markers, the best-observed frames with at least 6 markers and a warning saying so.
fn calibration_frames(
    trial: &MarkerTrial,
    cols: &[usize],
    n: usize,
    name: &str,
    warnings: &mut Vec<String>,
) -> Result<Vec<usize>, FitError> {
    let picks = pick_frames(trial, cols, n);
    if !picks.is_empty() {
        return Ok(picks);
    }
    let visible = |f: usize| {
        observed(trial, f, cols)
            .iter()
            .filter(|o| o.is_some())
            .count()
    };
    let mut by_visible: Vec<(usize, usize)> =
        (0..trial.num_frames()).map(|f| (visible(f), f)).collect();
    by_visible.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let best = by_visible.first().map_or(0, |b| b.0);
    let picks: Vec<usize> = by_visible
        .iter()
        .filter(|(v, _)| *v >= 6)
        .take(n)
        .map(|&(_, f)| f)
        .collect();
    if picks.is_empty() {
        return Err(FitError::NoCalibrationFrames {
            trial: name.into(),
            markers: cols.len(),
            needed: 6,
            best,
        });
    }
    warnings.push(format!(
        "no frame shows 70 % of the {} markers; calibrated on the {} best-observed frames \
         ({best} markers visible at most)",
        cols.len(),
        picks.len()
    ));
    Ok(picks)
}

/// Indices of `n` frames spread evenly over a trial, preferring well-observed frames.
fn pick_frames(trial: &MarkerTrial, cols: &[usize], n: usize) -> Vec<usize> {
    let total = trial.num_frames();
    let visible = |f: usize| {
        observed(trial, f, cols)
            .iter()
            .filter(|o| o.is_some())
            .count()
    };
    let best = cols.len();
    let mut picks = Vec::new();
    for i in 0..n.min(total) {
        let centre = (i * total + total / 2) / n.min(total).max(1);
        // Search a small neighbourhood for the most complete frame.
        let lo = centre.saturating_sub(5);
        let hi = (centre + 5).min(total - 1);
        let f = (lo..=hi).max_by_key(|&f| visible(f)).unwrap_or(centre);
        if best > 0 && visible(f) * 10 >= best * 7 && !picks.contains(&f) {
            picks.push(f);
        }
    }
    picks
}

/// Default angle limits: the documented physiological range of every joint
/// ([`prior::JOINT_RANGES`]) that the model names.
pub fn default_limits(model: &BodyModel) -> Vec<AngleLimit> {
    prior::range_limits(model)
}

/// Per-frame, per-marker errors in metres (`None` where missing or interpolated).
pub type MarkerErrors = Vec<Vec<Option<f64>>>;

/// Fits a whole trial: calibrates on `static_trial` (or the walk itself) and tracks every frame;
/// also returns the per-frame marker errors.
#[allow(clippy::too_many_arguments)]
pub fn fit_trial(
    model: &BodyModel,
    set: &MarkerSet,
    trial: &MarkerTrial,
    static_trial: Option<&MarkerTrial>,
    limits: &[AngleLimit],
    cfg: &FitConfig,
    name: &str,
    mut progress: impl FnMut(usize, usize),
) -> Result<(TrialFit, MarkerErrors), FitError> {
    // The reader's repairs first: a truncated file must say so wherever the fit is reported.
    let mut warnings = trial.reader_notes.clone();
    let mut sel = select_markers(set, trial, name, &mut warnings)?;
    cfg.pelvis_markers.apply(model, &mut sel.used);
    let calib = CalibrationSet::choose(&sel, trial, static_trial, cfg, name, &mut warnings)?;
    let rest = prior::neutral_pose(model);
    let observations: Vec<_> = (0..trial.num_frames())
        .map(|f| observed(trial, f, &sel.cols))
        .collect();
    // The pelvis is held upright about the lab's vertical (firmly while calibrating, where the
    // free marker offsets leave its tilt undetermined; weakly while tracking).
    let lab_up = estimate_lab_up(model, &sel.used, &rest, &observations);
    let cfg = &FitConfig {
        solver: SolverConfig {
            lab_up,
            ..cfg.solver.clone()
        },
        ..cfg.clone()
    };
    let subject = SubjectMeasures {
        height_m: static_trial
            .and_then(subject_height_m)
            .or_else(|| subject_height_m(trial)),
        leg_length_m: static_trial
            .and_then(subject_leg_length_m)
            .or_else(|| subject_leg_length_m(trial)),
    };
    let labels: Vec<String> = sel.used.markers.iter().map(|m| m.name.clone()).collect();
    let setup = PassSetup {
        model,
        used: &sel.used,
        labels: &labels,
        limits,
        rest: &rest,
        subject,
        min_visible: ((sel.used.markers.len() as f64 * cfg.min_visible_fraction).ceil() as usize)
            .max(6),
        cfg,
    };
    let (pass, swaps, found_outliers) = run_passes(&setup, &calib, observations, &mut progress);
    warnings.extend(marker_warnings(&found_outliers, &swaps));
    let Pass {
        calibration,
        tracked: Tracked {
            poses,
            frames,
            errors,
        },
        free_joints: free,
        calibration_s,
        tracking_s,
        ..
    } = pass;
    let poses = interpolate_gaps(poses, &rest);
    let unconstrained_joints = (0..model.num_joints())
        .filter(|j| !free.contains(j))
        .map(|j| model.joint_names[j].clone())
        .collect();
    Ok((
        TrialFit {
            calibration,
            marker_labels: labels,
            unmatched_markers: sel.unmatched,
            empty_markers: sel.empty_markers,
            calibration_frames: calib.picks,
            calibrated_on_static: calib.on_static,
            warnings,
            poses,
            frames,
            unconstrained_joints,
            marker_outliers: found_outliers,
            marker_swaps: swaps,
            calibration_s,
            tracking_s,
            lab_up,
        },
        errors,
    ))
}

/// The lab's vertical from the walking trial's markers ([`vertical::lab_up`]), voted by the
/// model's markers on the neutral standing body of mean shape.
fn estimate_lab_up(
    model: &BodyModel,
    used: &MarkerSet,
    rest: &PoseState,
    observations: &[Vec<Option<Vector3<f64>>>],
) -> Option<Vector3<f64>> {
    let betas = vec![0.0; model.num_betas];
    let shaped = model.shape(&betas);
    let offsets = vec![Vector3::zeros(); used.markers.len()];
    let markers = calibrate::skinned_markers(model, &betas, used, &offsets);
    let problem = PoseProblem::new(model, &shaped, &markers, Vec::new());
    vertical::lab_up(&problem.model_markers(rest), observations)
}

/// The model's markers that a trial carries data for.
struct MarkerSelection {
    /// The markers used for the fit.
    used: MarkerSet,
    /// Their columns in the trial.
    cols: Vec<usize>,
    /// Trial labels the model does not know.
    unmatched: Vec<String>,
    /// Matched markers without (enough) data.
    empty_markers: Vec<String>,
}

/// Matches the model's markers to the trial and drops the (almost) empty ones; fewer than six
/// left, or a trial without frames, cannot be fitted.
fn select_markers(
    set: &MarkerSet,
    trial: &MarkerTrial,
    name: &str,
    warnings: &mut Vec<String>,
) -> Result<MarkerSelection, FitError> {
    let (used, cols, mut unmatched) = match_markers(set, trial);
    // The landmark markers (trochanters, joint centres) are alternatives to Plug-in Gait's skin
    // markers that few trials carry: not worth reporting as missing.
    unmatched.retain(|m| !LANDMARK_MARKERS.contains(&m.as_str()));
    let (used, cols, empty_markers) = drop_empty_markers(used, cols, trial);
    if !empty_markers.is_empty() {
        warnings.push(format!(
            "labelled but empty (visible in < {:.0} % of frames, not used): {}",
            MIN_MARKER_DATA_FRACTION * 100.0,
            empty_markers.join(" ")
        ));
    }
    let labelled = used.markers.len() + empty_markers.len();
    if used.markers.len() < 6 && labelled >= 6 {
        return Err(FitError::NoMarkerData {
            trial: name.into(),
            labelled,
            empty: empty_markers.len(),
            gap_pct: (1.0 - MIN_MARKER_DATA_FRACTION) * 100.0,
            names: empty_markers.join(" "),
            needed: 6,
        });
    }
    if used.markers.len() < 6 {
        return Err(FitError::TooFewMarkers {
            trial: name.into(),
            found: used.markers.len(),
            needed: 6,
            labels: trial.marker_labels.join(" "),
        });
    }
    if trial.num_frames() == 0 {
        return Err(FitError::Empty { trial: name.into() });
    }
    Ok(MarkerSelection {
        used,
        cols,
        unmatched,
        empty_markers,
    })
}

/// The frames the subject is calibrated on and their observations.
struct CalibrationSet {
    /// Frame indices in the calibration trial.
    picks: Vec<usize>,
    /// Their observations (`[frame][marker]`).
    obs: Vec<Vec<Option<Vector3<f64>>>>,
    /// Whether they come from the static trial rather than the walk.
    on_static: bool,
}

impl CalibrationSet {
    /// Calibrates on the static trial when it carries every used marker (else on the walk, with
    /// a warning) and picks its calibration frames.
    fn choose(
        sel: &MarkerSelection,
        trial: &MarkerTrial,
        static_trial: Option<&MarkerTrial>,
        cfg: &FitConfig,
        name: &str,
        warnings: &mut Vec<String>,
    ) -> Result<Self, FitError> {
        let used = &sel.used;
        let (calib_trial, calib_cols, on_static) = match static_trial {
            Some(s) => {
                let (m, c, _) = match_markers(used, s);
                let (kept, c, empty) = drop_empty_markers(m, c, s);
                if kept.markers.len() == used.markers.len() {
                    (s, c, true)
                } else {
                    let lacking: Vec<String> = used
                        .markers
                        .iter()
                        .filter(|m| kept.get(&m.name).is_none())
                        .map(|m| m.name.clone())
                        .collect();
                    warnings.push(format!(
                        "the static trial lacks (or holds no data for) {}; calibrated on the walk \
                         itself{}",
                        lacking.join(" "),
                        if empty.is_empty() { "" } else { " instead" }
                    ));
                    (trial, sel.cols.clone(), false)
                }
            }
            None => (trial, sel.cols.clone(), false),
        };
        let calib_name = if on_static {
            format!("{name} (static)")
        } else {
            name.to_string()
        };
        let picks = calibration_frames(
            calib_trial,
            &calib_cols,
            cfg.calibration_frames,
            &calib_name,
            warnings,
        )?;
        let obs = picks
            .iter()
            .map(|&f| observed(calib_trial, f, &calib_cols))
            .collect();
        Ok(CalibrationSet {
            picks,
            obs,
            on_static,
        })
    }

    /// Calibration observations for a pass over `obs`: calibration frames of the walk itself
    /// follow any repair of its observations (without the `excluded` markers); a static trial is
    /// kept as it is.
    fn for_pass(
        &self,
        obs: &[Vec<Option<Vector3<f64>>>],
        excluded: &[usize],
    ) -> Vec<Vec<Option<Vector3<f64>>>> {
        if self.on_static {
            return self.obs.clone();
        }
        self.picks
            .iter()
            .map(|&f| {
                let mut o = obs[f].clone();
                for &i in excluded {
                    o[i] = None;
                }
                o
            })
            .collect()
    }
}

/// Runs the first pass, then again with swapped labels put back, then again with the outliers
/// left out of calibration and down-weighted in tracking; returns the last pass with the total
/// times, the swaps of the first pass and the outliers found once the swaps were undone.
fn run_passes(
    setup: &PassSetup,
    calib: &CalibrationSet,
    observations: Vec<Vec<Option<Vector3<f64>>>>,
    progress: impl FnMut(usize, usize),
) -> (
    Pass,
    Vec<outliers::MarkerSwap>,
    Vec<outliers::MarkerOutlier>,
) {
    let mut pass = calibrate_and_track(setup, &calib.obs, &observations, &[], progress);
    let swaps = pass.check.swaps.clone();
    // Swapped labels first: inside a calibration frame they make both markers look like
    // outliers, so outliers are judged once the swaps are undone.
    let mut obs = observations;
    if let Some(repaired) = pass.check.repaired.clone() {
        let again = calibrate_and_track(
            setup,
            &calib.for_pass(&repaired, &[]),
            &repaired,
            &[],
            |_, _| {},
        );
        pass = add_times(again, &pass);
        obs = repaired;
    }
    let found_outliers = pass.check.outliers.clone();
    if !found_outliers.is_empty() {
        // Then the outliers: calibrated without them, tracked with them down-weighted.
        let idx: Vec<usize> = found_outliers
            .iter()
            .filter_map(|o| setup.labels.iter().position(|l| *l == o.marker))
            .collect();
        let again = calibrate_and_track(setup, &calib.for_pass(&obs, &idx), &obs, &idx, |_, _| {});
        pass = add_times(again, &pass);
    }
    (pass, swaps, found_outliers)
}

/// Everything a calibration + tracking pass shares.
struct PassSetup<'a> {
    model: &'a BodyModel,
    used: &'a MarkerSet,
    labels: &'a [String],
    limits: &'a [AngleLimit],
    rest: &'a PoseState,
    /// The subject's height and leg length, when the trial records them.
    subject: SubjectMeasures,
    /// Fewer visible markers than this: the frame is interpolated.
    min_visible: usize,
    cfg: &'a FitConfig,
}

/// One calibration + tracking pass and the markers it found suspect.
struct Pass {
    calibration: Calibration,
    tracked: Tracked,
    check: MarkerCheck,
    free_joints: Vec<usize>,
    calibration_s: f64,
    tracking_s: f64,
}

/// `pass` with the times of an earlier pass added (the report states the total).
fn add_times(mut pass: Pass, earlier: &Pass) -> Pass {
    pass.calibration_s += earlier.calibration_s;
    pass.tracking_s += earlier.tracking_s;
    pass
}

/// Calibrates on `calib_obs`, tracks `observations` with the markers `down_weighted`
/// ([`outliers::OUTLIER_WEIGHT`]) and checks the markers ([`check_markers`]).
fn calibrate_and_track(
    s: &PassSetup,
    calib_obs: &[Vec<Option<Vector3<f64>>>],
    observations: &[Vec<Option<Vector3<f64>>>],
    down_weighted: &[usize],
    progress: impl FnMut(usize, usize),
) -> Pass {
    let t0 = Instant::now();
    let calibration = calibrate::calibrate(
        s.model,
        s.used,
        calib_obs,
        s.rest,
        s.limits,
        &s.subject,
        &s.cfg.calibration,
        &s.cfg.solver,
    );
    let calibration_s = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let shaped = s.model.shape(&calibration.betas);
    let markers =
        calibrate::skinned_markers(s.model, &calibration.betas, s.used, &calibration.offsets_m);
    let mut problem = PoseProblem::new(s.model, &shaped, &markers, s.limits.to_vec());
    if s.cfg.pelvis_markers == PelvisMarkers::Rigid {
        for (i, m) in markers.iter().enumerate() {
            if skinned_markers::PELVIS_MARKERS.contains(&m.name.as_str()) {
                problem.set_marker_weight(i, RIGID_PELVIS_MARKER_WEIGHT);
            }
        }
    }
    for &i in down_weighted {
        problem.set_marker_weight(i, outliers::OUTLIER_WEIGHT);
    }
    let tracker = Tracker {
        model: s.model,
        problem: &problem,
        start: calibration.poses.first().unwrap_or(s.rest),
        shaped: &shaped,
        labels: s.labels,
        min_visible: s.min_visible,
        cfg: s.cfg,
        leg_markers: leg_markers(s.model, &problem),
    };
    let tracked = tracker.track(observations, progress);
    let check = check_markers(&tracker, &markers, observations, &tracked);
    let free_joints = problem.free_joints();
    let tracking_s = t1.elapsed().as_secs_f64();
    Pass {
        calibration,
        tracked,
        check,
        free_joints,
        calibration_s,
        tracking_s,
    }
}

/// Frames after a cold start that [`Tracker::refit_backward`] sweeps back over.
const BACKWARD_SWEEP_FRAMES: usize = 20;

/// What tracking needs besides the observations.
struct Tracker<'a> {
    model: &'a BodyModel,
    problem: &'a PoseProblem<'a>,
    /// Pose the first fitted frame starts from (rigidly aligned first).
    start: &'a PoseState,
    shaped: &'a crate::body::ShapedBody,
    labels: &'a [String],
    /// Fewer visible markers than this: the frame is interpolated.
    min_visible: usize,
    cfg: &'a FitConfig,
    /// Per marker of `problem` (the order of `labels`): whether it rides on the pelvis and legs
    /// ([`leg_markers`]).
    leg_markers: Vec<bool>,
}

/// Per marker of `problem`, whether it moves with the pelvis and the leg segments, so that losing
/// it leaves part of the legs' pose to the prior: at least [`LEG_MARKER_WEIGHT`] of its skinning
/// weight on them (skin markers over the pelvis are blended with the lumbar spine).
fn leg_markers(model: &BodyModel, problem: &PoseProblem) -> Vec<bool> {
    let on_legs =
        |j: usize| model.parents[j].is_none() || prior::is_leg_joint(&model.joint_names[j]);
    problem
        .markers()
        .iter()
        .map(|m| {
            let legs: f64 = m
                .weights
                .iter()
                .filter(|&&(j, _)| on_legs(j))
                .map(|&(_, w)| w)
                .sum();
            legs >= LEG_MARKER_WEIGHT
        })
        .collect()
}

/// Share of a marker's skinning weight on the pelvis and legs above which its gap leaves the
/// legs unmeasured ([`FrameReport::legs_measured`]). On the default body the pelvis markers carry
/// 0.49–0.58 (the rest on the lumbar spine), the leg markers 1.0, trunk markers at most 0.05:
/// a quarter lies well between.
const LEG_MARKER_WEIGHT: f64 = 0.25;

/// Per-frame results of one tracking pass.
struct Tracked {
    poses: Vec<Option<PoseState>>,
    frames: Vec<FrameReport>,
    errors: MarkerErrors,
}

impl Tracker<'_> {
    /// Fits every frame of `observed` (`[frame][marker]`), warm-started from the previous fit;
    /// frames with too few markers are left for interpolation.
    fn track(
        &self,
        observed: &[Vec<Option<Vector3<f64>>>],
        mut progress: impl FnMut(usize, usize),
    ) -> Tracked {
        let n = observed.len();
        let mut out = Tracked {
            poses: vec![None; n],
            frames: Vec::with_capacity(n),
            errors: Vec::with_capacity(n),
        };
        let first_cfg = SolverConfig {
            max_iterations: 60,
            ..self.cfg.solver.clone()
        };
        let mut prev: Option<PoseState> = None;
        let mut cold_starts = Vec::new();
        for (f, obs) in observed.iter().enumerate() {
            let visible = obs.iter().filter(|o| o.is_some()).count();
            let missing: Vec<String> = obs
                .iter()
                .zip(self.labels)
                .filter(|(o, _)| o.is_none())
                .map(|(_, m)| m.clone())
                .collect();
            if visible < self.min_visible {
                out.frames.push(FrameReport {
                    frame: f,
                    rmse_m: None,
                    max_error_m: None,
                    max_error_marker: None,
                    iterations: 0,
                    missing,
                    interpolated: true,
                    out_of_range: Vec::new(),
                    legs_measured: Some(false),
                });
                out.errors.push(vec![None; self.labels.len()]);
                prev = None;
                progress(f + 1, n);
                continue;
            }
            let fit = match &prev {
                Some(p) => self.problem.solve(obs, p, Some(p), &self.cfg.solver),
                None => {
                    cold_starts.push(f);
                    let aligned =
                        rigid::rigid_align_root(self.problem, self.shaped, self.start, obs);
                    self.problem.solve(obs, &aligned, None, &first_cfg)
                }
            };
            out.frames.push(self.frame_report(f, &fit, missing));
            out.errors.push(fit.marker_errors_m.clone());
            prev = Some(fit.pose.clone());
            out.poses[f] = Some(fit.pose);
            progress(f + 1, n);
        }
        for f in cold_starts {
            self.refit_backward(observed, &mut out, f);
        }
        out
    }

    /// Frames that must start cold (the first, and the first after a gap) start from the
    /// neutral pose with few markers and may end in a poor local minimum (a 44 mm frame with a
    /// knee out of range after sample23's gap) that the next frames inherit. Once tracking has
    /// settled, this sweeps back from up to [`BACKWARD_SWEEP_FRAMES`] frames later to the cold
    /// frame, each frame warm-started from its successor, and keeps a re-fit wherever its robust
    /// cost is lower.
    fn refit_backward(
        &self,
        observed: &[Vec<Option<Vector3<f64>>>],
        out: &mut Tracked,
        cold: usize,
    ) {
        let mut end = cold;
        while end + 1 < observed.len()
            && end + 1 - cold <= BACKWARD_SWEEP_FRAMES
            && out.poses[end + 1].is_some()
        {
            end += 1;
        }
        let cfg = &self.cfg.solver;
        for f in (cold..end).rev() {
            let (Some(next), Some(current)) = (out.poses[f + 1].clone(), out.poses[f].as_ref())
            else {
                continue;
            };
            let obs = &observed[f];
            let refit = self.problem.solve(obs, &next, Some(&next), cfg);
            let cost = |pose: &PoseState| self.problem.robust_cost(pose, obs, None, cfg);
            if cost(&refit.pose) < cost(current) {
                let missing = std::mem::take(&mut out.frames[f].missing);
                out.frames[f] = self.frame_report(f, &refit, missing);
                out.errors[f] = refit.marker_errors_m.clone();
                out.poses[f] = Some(refit.pose);
            }
        }
    }

    /// Whether marker `name` rides on the pelvis and legs ([`leg_markers`]).
    fn on_legs(&self, name: &str) -> bool {
        self.labels
            .iter()
            .zip(&self.leg_markers)
            .any(|(label, &on_legs)| on_legs && label == name)
    }

    /// The report of frame `f` fitted as `fit`.
    fn frame_report(&self, f: usize, fit: &FrameFit, missing: Vec<String>) -> FrameReport {
        let (max_i, max_e) = fit
            .marker_errors_m
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.map(|e| (i, e)))
            .fold((0, f64::NAN), |acc, (i, e)| {
                if acc.1.is_nan() || e > acc.1 {
                    (i, e)
                } else {
                    acc
                }
            });
        let legs_measured = !missing.iter().any(|m| self.on_legs(m));
        FrameReport {
            frame: f,
            rmse_m: Some(fit.rmse_m()),
            max_error_m: Some(max_e),
            max_error_marker: Some(self.labels[max_i].clone()),
            iterations: fit.iterations,
            missing,
            interpolated: false,
            legs_measured: Some(legs_measured),
            out_of_range: prior::out_of_range(self.model, &fit.pose)
                .into_iter()
                .map(|(j, _)| j)
                .collect(),
        }
    }
}

/// Suspect markers found on a tracked pass, and the observations to track again with.
struct MarkerCheck {
    outliers: Vec<outliers::MarkerOutlier>,
    swaps: Vec<outliers::MarkerSwap>,
    /// Observations with the swaps undone (`None` when there is no swap).
    repaired: Option<Vec<Vec<Option<Vector3<f64>>>>>,
}

/// Finds persistent outliers and label swaps ([`outliers`]) in a tracked pass; the second pass
/// down-weights the outliers ([`outliers::OUTLIER_WEIGHT`]: dropping one can leave a rotation
/// only it measures, such as the shank's twist from a tibia wand, to the prior) and undoes the
/// swaps.
fn check_markers(
    tracker: &Tracker,
    markers: &[skinned_markers::SkinnedMarker],
    observations: &[Vec<Option<Vector3<f64>>>],
    tracked: &Tracked,
) -> MarkerCheck {
    let model = tracker.model;
    let model_m: Vec<Vec<Vector3<f64>>> = tracked
        .poses
        .iter()
        .map(|p| match p {
            Some(p) => {
                let t = model.joint_transforms(
                    &tracker.shaped.joints_rest,
                    &p.rotations,
                    p.translation,
                );
                markers
                    .iter()
                    .map(|m| m.posed(&t.world_from_rest))
                    .collect()
            }
            None => Vec::new(),
        })
        .collect();
    let found: Vec<_> = outliers::persistent_outliers(tracker.labels, &tracked.errors)
        .into_iter()
        .map(|(_, o)| o)
        .collect();
    let swaps = outliers::detect_swaps(tracker.labels, observations, &model_m);
    let mut repaired = observations.to_vec();
    for s in &swaps {
        let (Some(i), Some(j)) = (
            tracker.labels.iter().position(|l| *l == s.a),
            tracker.labels.iter().position(|l| *l == s.b),
        ) else {
            continue;
        };
        for frame in &mut repaired[s.first_frame..=s.last_frame] {
            frame.swap(i, j);
        }
    }
    MarkerCheck {
        outliers: found,
        repaired: (!swaps.is_empty()).then_some(repaired),
        swaps,
    }
}

/// The user-facing lines for the suspect markers a fit found and how it dealt with them.
fn marker_warnings(
    found: &[outliers::MarkerOutlier],
    swaps: &[outliers::MarkerSwap],
) -> Vec<String> {
    let swapped = swaps.iter().map(|s| {
        format!(
            "markers {} and {} are swapped in frames {}–{}: tracked with the labels put back",
            s.a, s.b, s.first_frame, s.last_frame
        )
    });
    let off = found.iter().map(|o| {
        format!(
            "marker {} stays far off the body: residual {:.0} mm in {:.0} % of its frames (a \
             good marker here: {:.0} mm) — mislabelled, wand-mounted, knocked or moved since \
             the static? Fitted again without it, then with it down-weighted to {}.",
            o.marker,
            o.median_error_mm,
            o.fraction_of_frames * 100.0,
            o.typical_error_mm,
            outliers::OUTLIER_WEIGHT
        )
    });
    swapped.chain(off).collect()
}

/// Fills frames without a fit by interpolating rotations (slerp) and translations between the
/// nearest fitted frames; leading/trailing gaps copy the nearest fit.
fn interpolate_gaps(poses: Vec<Option<PoseState>>, rest: &PoseState) -> Vec<PoseState> {
    let n = poses.len();
    let known: Vec<usize> = (0..n).filter(|&i| poses[i].is_some()).collect();
    if known.is_empty() {
        return vec![rest.clone(); n];
    }
    (0..n)
        .map(|i| {
            if let Some(p) = &poses[i] {
                return p.clone();
            }
            let after = known.iter().copied().find(|&k| k > i);
            let before = known.iter().copied().rev().find(|&k| k < i);
            match (before, after) {
                (Some(a), Some(b)) => {
                    let s = (i - a) as f64 / (b - a) as f64;
                    let (pa, pb) = (
                        poses[a].as_ref().unwrap_or(rest),
                        poses[b].as_ref().unwrap_or(rest),
                    );
                    PoseState {
                        rotations: pa
                            .rotations
                            .iter()
                            .zip(&pb.rotations)
                            .map(|(ra, rb)| {
                                let qa = nalgebra::UnitQuaternion::from_matrix(ra);
                                let qb = nalgebra::UnitQuaternion::from_matrix(rb);
                                qa.slerp(&qb, s).to_rotation_matrix().into_inner()
                            })
                            .collect(),
                        translation: pa.translation * (1.0 - s) + pb.translation * s,
                    }
                }
                (Some(a), None) => poses[a].clone().unwrap_or_else(|| rest.clone()),
                (None, Some(b)) => poses[b].clone().unwrap_or_else(|| rest.clone()),
                (None, None) => rest.clone(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::pose_seq::PoseSidecars;

    #[test]
    fn the_pelvis_marker_setting_is_read_from_the_fit_report_then_the_ground_truth() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            PelvisMarkers::recorded_in(&PoseSidecars::read(dir.path())),
            None
        );
        std::fs::write(
            dir.path().join("ground_truth.json"),
            r#"{"subjects": [{"pelvis_markers": "rigid"}]}"#,
        )
        .unwrap();
        let injected = PoseSidecars::read(dir.path());
        assert_eq!(
            PelvisMarkers::recorded_in(&injected),
            Some(PelvisMarkers::Rigid)
        );
        std::fs::write(
            dir.path().join("fit_report.json"),
            r#"{"pelvis_markers": "skin"}"#,
        )
        .unwrap();
        let fitted = PoseSidecars::read(dir.path());
        assert_eq!(
            PelvisMarkers::recorded_in(&fitted),
            Some(PelvisMarkers::Skin)
        );
    }
}
