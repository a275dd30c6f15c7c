//! `gaitlens fit`: fit the body model to a marker trial or a whole cohort.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde_json::json;

use gaitlens::body::{BodyModel, MarkerSet};
use gaitlens::fit::angles::compare;
use gaitlens::fit::{self, AngleLimit, FitConfig, TrialFit};
use gaitlens::formats::pose_seq::{NUM_BETAS, PoseFileFormat, PoseSequence, write_pose_dir};
use gaitlens::formats::{MarkerTrial, read_marker_trial};
use gaitlens::io_util::{StagedDir, write_atomic};

/// Which optimiser fits the frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Solver {
    /// Levenberg–Marquardt with analytic Jacobians (gaitlens).
    Lm,
    /// The original pipeline's Adam + ReduceLROnPlateau (slow; for comparison).
    Adam,
}

/// How the pelvis' skin markers (LASI, RASI, LPSI, RPSI, SACR) move with the fitted body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PelvisMarkersArg {
    /// With the skin under them (blended between pelvis, lumbar joint and hips).
    Skin,
    /// Rigidly with the pelvis, as Plug-in Gait builds it: pelvic obliquity, rotation and hip
    /// ab/adduction much closer to Vicon's (README "Pelvis markers").
    Rigid,
}

impl From<PelvisMarkersArg> for fit::PelvisMarkers {
    fn from(a: PelvisMarkersArg) -> Self {
        match a {
            PelvisMarkersArg::Skin => fit::PelvisMarkers::Skin,
            PelvisMarkersArg::Rigid => fit::PelvisMarkers::Rigid,
        }
    }
}

/// Pose file layout to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutFormat {
    /// `pose_NNNNN.json`.
    Json,
    /// `pose_NNNNN.txt`.
    Txt,
}

/// The body model and marker placements to fit with (shared by `fit` and `report`).
#[derive(Debug, Clone, Args)]
pub struct BodyArgs {
    /// `default` (embedded MakeHuman body) or a SUPR .npy/.npz file.
    #[arg(long, default_value = "default")]
    pub model: String,
    /// 3D Body Twin constraints JSON with the marker placements (and angle limits) to use.
    #[arg(long)]
    pub constraints: Option<PathBuf>,
}

/// Arguments of `gaitlens fit`.
#[derive(Debug, Args)]
pub struct FitArgs {
    /// The walking trial (.c3d or .trc). Omit when using --cohort.
    pub trial: Option<PathBuf>,
    /// A static calibration trial of the same subject (shape and skin offsets come from it).
    #[arg(long = "static")]
    pub static_trial: Option<PathBuf>,
    /// Body model and marker placements.
    #[command(flatten)]
    pub body: BodyArgs,
    /// Output folder (a trial: pose files + fit_report.json; a cohort: <healthy|sick>/<subject>/<gait>/).
    #[arg(long)]
    pub out: PathBuf,
    /// Also write sagittal Plug-in Gait joint angles (ours, as `report` computes them, and the
    /// file's Vicon outputs) to this CSV.
    #[arg(long)]
    pub angles: Option<PathBuf>,
    /// Optimiser.
    #[arg(long, value_enum, default_value_t = Solver::Lm)]
    pub solver: Solver,
    /// How the pelvis markers move: with the skin (default) or rigidly with the pelvis.
    #[arg(long, value_enum, default_value_t = PelvisMarkersArg::Skin)]
    pub pelvis_markers: PelvisMarkersArg,
    /// Fit at most this many frames (useful with the slow --solver adam).
    #[arg(long)]
    pub max_frames: Option<usize>,
    /// A cohort JSON (subject → constraint_file, gaits, healthy, model_file) to fit every gait of.
    #[arg(long)]
    pub cohort: Option<PathBuf>,
    /// Folder holding the cohort's SUPR model files (`model_file` is looked up there).
    #[arg(long)]
    pub model_folder: Option<PathBuf>,
    /// Process only shard i of n of the cohort's trials (`i/n`, 0-based), e.g. for a Slurm array.
    #[arg(long)]
    pub shard: Option<String>,
    /// Pose file layout.
    #[arg(long, value_enum, default_value_t = OutFormat::Json)]
    pub format: OutFormat,
    /// Also time the original Adam method on this many frames of the same trial and print both speeds.
    #[arg(long)]
    pub bench: Option<usize>,
}

/// Model plus the marker placements and angle limits to fit with.
pub(super) struct Setup {
    pub(super) model: BodyModel,
    pub(super) markers: MarkerSet,
    limits: Vec<AngleLimit>,
    name: String,
}

pub(super) fn load_setup(model: &str, constraints: Option<&Path>) -> anyhow::Result<Setup> {
    let (body, default_markers, name) = if model == "default" {
        (
            gaitlens::body::default_model::default_body().clone(),
            Some(gaitlens::body::default_model::fitting_markers().clone()),
            "default".to_string(),
        )
    } else {
        let path = Path::new(model);
        let supr = gaitlens::body::supr::load_supr(path).context("loading the SUPR model")?; // its error names the file
        if supr.constrained.is_some() {
            // The fitter solves for free axis-angle rotations; the constrained parametrisation
            // only matters for SUPR's own pose space, and the pose files we write are in the
            // unconstrained layout the original's viewer reads with `--unconstrained`.
            tracing::info!(
                "{}: constrained SUPR model; fitting its unconstrained pose space",
                path.display()
            );
        }
        (supr.model, None, path.display().to_string())
    };
    let mut limits = fit::default_limits(&body);
    let markers = match constraints {
        Some(c) => {
            let cons = gaitlens::formats::constraints::read_constraints(c)?;
            for u in &cons.unsupported {
                tracing::warn!(
                    "{}: constraint '{}' of type {} is not used by the fitter",
                    c.display(),
                    u.name,
                    u.kind
                );
            }
            for a in &cons.angles {
                for ((&idx, &lo), &hi) in a.joints.iter().zip(&a.lower_rad).zip(&a.upper_rad) {
                    let joint = idx as usize / 3;
                    if joint < body.num_joints() {
                        limits.push(AngleLimit {
                            joint,
                            axis: idx as usize % 3,
                            lower: lo,
                            upper: hi,
                        });
                    }
                }
            }
            let nf = body.faces.len();
            if let Some(m) = cons
                .markers
                .markers
                .iter()
                .find(|m| m.face_id as usize >= nf)
            {
                bail!(
                    "{}: marker {} refers to face {} but the model has {} faces — were these placements made for another mesh?",
                    c.display(),
                    m.name,
                    m.face_id,
                    nf
                );
            }
            cons.markers
        }
        None => match default_markers {
            Some(m) => m,
            None => bail!(
                "a SUPR model needs --constraints with its marker placements (3D Body Twin JSON)"
            ),
        },
    };
    Ok(Setup {
        model: body,
        markers,
        limits,
        name,
    })
}

pub fn run(args: FitArgs) -> anyhow::Result<ExitCode> {
    if args.solver == Solver::Adam && args.pelvis_markers == PelvisMarkersArg::Rigid {
        bail!("--pelvis-markers rigid applies to the default solver only, not --solver adam");
    }
    if let Some(cohort) = &args.cohort {
        return run_cohort(&args, cohort);
    }
    let Some(trial_path) = &args.trial else {
        bail!("give a trial file (or --cohort cohort.json)");
    };
    let setup = load_setup(&args.body.model, args.body.constraints.as_deref())?;
    let mut trial = read_marker_trial(trial_path)?;
    if let Some(n) = args.max_frames {
        trial.markers_m.truncate(n);
    }
    let static_trial = match &args.static_trial {
        Some(p) => Some(read_marker_trial(p)?),
        None => None,
    };
    let bar = ProgressBar::new(trial.num_frames() as u64);
    bar.set_style(bar_style());
    bar.set_message(file_name(trial_path));
    let outcome = fit_staged(
        &setup,
        (&trial, static_trial.as_ref()),
        &args,
        trial_path,
        &bar,
        |_| Ok(()),
    )?;
    bar.finish_and_clear();
    println!("{}", outcome.summary);
    println!("poses and fit_report.json in {}", args.out.display());
    if let Some(n) = args.bench {
        bench_adam(&setup, &trial, &outcome.fit, n)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Whether a file in an output folder is one `fit` writes (pose files and the report).
fn is_fit_output(name: &str) -> bool {
    name == "fit_report.json"
        || (name.starts_with("pose") && (name.ends_with(".json") || name.ends_with(".txt")))
}

/// [`fit_one`] into `args.out` as a unit ([`StagedDir`]): the poses and report of a previous run
/// are replaced as a whole, a failed or killed run leaves the previous output (and no partial
/// one), and `finish` may add to the folder before it is put in place.
fn fit_staged(
    setup: &Setup,
    (trial, static_trial): (&MarkerTrial, Option<&MarkerTrial>),
    args: &FitArgs,
    trial_path: &Path,
    bar: &ProgressBar,
    finish: impl FnOnce(&Path) -> anyhow::Result<()>,
) -> anyhow::Result<Outcome> {
    let staged = StagedDir::new(&args.out, is_fit_output)?;
    let staged_args = FitArgs {
        out: staged.path().to_path_buf(),
        // `clone_args` drops it (a cohort's trials must not share one CSV); a single trial keeps it.
        angles: args.angles.clone(),
        ..clone_args(args)
    };
    let outcome = fit_one(setup, trial, static_trial, &staged_args, trial_path, bar)?;
    finish(staged.path())?;
    staged.commit()?;
    Ok(outcome)
}

struct Outcome {
    fit: TrialFit,
    summary: String,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn fit_one(
    setup: &Setup,
    trial: &MarkerTrial,
    static_trial: Option<&MarkerTrial>,
    args: &FitArgs,
    trial_path: &Path,
    bar: &ProgressBar,
) -> anyhow::Result<Outcome> {
    if args.solver == Solver::Adam {
        return fit_adam(setup, trial, args, trial_path, bar);
    }
    let name = file_name(trial_path);
    let (fit, errors) = fit::fit_trial(
        &setup.model,
        &setup.markers,
        trial,
        static_trial,
        &setup.limits,
        &FitConfig {
            pelvis_markers: args.pelvis_markers.into(),
            ..FitConfig::default()
        },
        &name,
        |i, _| bar.set_position(i as u64),
    )?;
    let seq = pose_sequence(&fit.calibration.betas, &fit.poses);
    write_poses(&args.out, &seq, args.format)?;
    let stats = FitStats::of(&fit);
    let (angle_rows, angle_stats) = angle_table(setup, trial, &fit, &seq);
    if let Some(csv) = &args.angles {
        write_atomic(csv, angle_rows.as_bytes())
            .with_context(|| format!("writing {}", csv.display()))?;
    }
    let per_marker: serde_json::Map<String, serde_json::Value> = fit
        .per_marker_mean_m(&errors)
        .into_iter()
        .map(|(l, e)| (l, json!(e)))
        .collect();
    let report = json!({
        "trial": trial_path.display().to_string(),
        "rate_hz": trial.rate_hz,
        "static": args.static_trial.as_ref().map(|p| p.display().to_string()),
        "model": setup.name,
        "solver": "lm",
        "lab_up": fit.lab_up.map(|u| [u.x, u.y, u.z]),
        "pelvis_held_upright": fit.lab_up.is_some(),
        "pelvis_markers": fit::PelvisMarkers::from(args.pelvis_markers),
        "frames": fit.frames,
        "per_marker_mean_error_m": per_marker,
        "unmatched_markers": fit.unmatched_markers,
        "empty_markers": fit.empty_markers,
        "unconstrained_joints": fit.unconstrained_joints,
        "marker_outliers": fit.marker_outliers,
        "marker_swaps": fit.marker_swaps,
        "warnings": fit.warnings,
        "plausibility": plausibility(&setup.model, &fit),
        "calibration": {
            "source": if fit.calibrated_on_static { "static" } else { "walk" },
            "frames": fit.calibration_frames,
            "betas": fit.calibration.betas,
            "offsets_m": fit.calibration.offsets_m.iter().map(|o| [o.x, o.y, o.z]).collect::<Vec<_>>(),
            "rmse_m": fit.calibration.rmse_m,
            "time_s": fit.calibration_s,
        },
        "angles_vs_file": angle_stats,
        "totals": {
            "frames": trial.num_frames(),
            "fitted_frames": stats.fitted,
            "interpolated_frames": fit.frames.iter().filter(|f| f.interpolated).count(),
            "median_rmse_m": percentile(&stats.rmse, 0.5),
            "p95_rmse_m": percentile(&stats.rmse, 0.95),
            "tracking_time_s": fit.tracking_s,
            "frames_per_s": stats.fps,
        },
    });
    write_atomic(
        &args.out.join("fit_report.json"),
        serde_json::to_string_pretty(&report)?.as_bytes(),
    )?;
    let summary = lm_summary(&name, trial, &fit, &stats, &angle_stats);
    Ok(Outcome { fit, summary })
}

/// Frame RMSE statistics of an LM fit.
struct FitStats {
    /// Marker RMSE of each fitted frame, sorted ascending.
    rmse: Vec<f64>,
    /// Fitted (not interpolated) frames.
    fitted: usize,
    /// Fitted frames per second of tracking.
    fps: f64,
}

impl FitStats {
    /// The statistics of `fit`'s fitted frames.
    fn of(fit: &TrialFit) -> Self {
        let mut rmse = fit.rmses_m();
        rmse.sort_by(f64::total_cmp);
        let fitted = rmse.len();
        let fps = fitted as f64 / fit.tracking_s.max(1e-9);
        FitStats { rmse, fitted, fps }
    }
}

/// The text printed after an LM fit: error and speed, then what was left out, warnings and the
/// agreement with the file's own angles.
fn lm_summary(
    name: &str,
    trial: &MarkerTrial,
    fit: &TrialFit,
    stats: &FitStats,
    angle_stats: &serde_json::Value,
) -> String {
    let mut summary = format!(
        "{name}: {} frames ({} interpolated), marker RMSE median {:.1} mm, p95 {:.1} mm; calibration {:.2} s (RMSE {:.1} mm); tracking {:.0} frames/s",
        trial.num_frames(),
        trial.num_frames() - stats.fitted,
        percentile(&stats.rmse, 0.5) * 1000.0,
        percentile(&stats.rmse, 0.95) * 1000.0,
        fit.calibration_s,
        fit.calibration.rmse_m * 1000.0,
        stats.fps
    );
    if !fit.unmatched_markers.is_empty() {
        summary += &format!(
            "\n  markers not in the trial: {}",
            fit.unmatched_markers.join(" ")
        );
    }
    summary += &match fit.lab_up {
        Some(u) => format!(
            "\n  lab vertical from the markers: ({:.2}, {:.2}, {:.2}); the pelvis is held upright \
             about it",
            u.x, u.y, u.z
        ),
        None => "\n  warning: the markers do not show the lab's vertical (too few, or the body is \
                      not upright)"
            .to_string(),
    };
    if !fit.unconstrained_joints.is_empty() {
        summary += &format!(
            "\n  joints no marker measures (held at the neutral pose): {}",
            fit.unconstrained_joints.join(" ")
        );
    }
    for w in &fit.warnings {
        summary += &format!("\n  warning: {w}");
    }
    let out_of_range = fit
        .frames
        .iter()
        .filter(|f| !f.out_of_range.is_empty())
        .count();
    if out_of_range > 0 {
        summary += &format!(
            "\n  warning: {out_of_range} frames have joints outside their physiological range \
             (see plausibility in fit_report.json)"
        );
    }
    if let Some(obj) = angle_stats.as_object() {
        for (k, v) in obj {
            summary += &format!(
                "\n  {k}: r = {:.3}, RMSE after offset = {:.1}°",
                v["r"].as_f64().unwrap_or(f64::NAN),
                v["rmse_deg"].as_f64().unwrap_or(f64::NAN)
            );
        }
    }
    summary
}

/// Per joint, the largest rotation from rest over the fitted poses (degrees), and how many frames
/// have a joint outside its documented range: what marker error cannot show.
fn plausibility(model: &gaitlens::body::BodyModel, fit: &TrialFit) -> serde_json::Value {
    let max_deg: serde_json::Map<String, serde_json::Value> = model
        .joint_names
        .iter()
        .enumerate()
        .map(|(j, name)| {
            let deg = fit
                .poses
                .iter()
                .map(|p| fit::prior::angle_from_rest_deg(&p.rotations[j]))
                .fold(0.0, f64::max);
            (name.clone(), json!((deg * 10.0).round() / 10.0))
        })
        .collect();
    json!({
        "frames_out_of_range": fit.frames.iter().filter(|f| !f.out_of_range.is_empty()).count(),
        "max_deg_from_rest": max_deg,
    })
}

/// Our sagittal Plug-in Gait angles per frame (`gait::kinematics`, the same angles `report`
/// shows) and, where the trial stores Vicon's outputs, the comparison.
fn angle_table(
    setup: &Setup,
    trial: &MarkerTrial,
    fit: &TrialFit,
    seq: &PoseSequence,
) -> (String, serde_json::Value) {
    use gaitlens::gait::cycles::Side;
    use gaitlens::gait::kinematics::{Variable, pig_kinematics};
    let kin = match pig_kinematics(&setup.model, seq, Some(&setup.markers)) {
        Ok(k) => k,
        Err(e) => {
            tracing::warn!("no joint angles for the fit report: {e}");
            return (String::new(), json!({ "error": e.to_string() }));
        }
    };
    let series: [(&str, &str, Side, Variable); 6] = [
        ("l_hip_flex", "LHipAngles", Side::Left, Variable::HipFlexion),
        (
            "r_hip_flex",
            "RHipAngles",
            Side::Right,
            Variable::HipFlexion,
        ),
        (
            "l_knee_flex",
            "LKneeAngles",
            Side::Left,
            Variable::KneeFlexion,
        ),
        (
            "r_knee_flex",
            "RKneeAngles",
            Side::Right,
            Variable::KneeFlexion,
        ),
        (
            "l_ankle_dorsi",
            "LAnkleAngles",
            Side::Left,
            Variable::AnkleDorsiflexion,
        ),
        (
            "r_ankle_dorsi",
            "RAnkleAngles",
            Side::Right,
            Variable::AnkleDorsiflexion,
        ),
    ];
    let frames = fit.poses.len();
    let mut header = String::from("frame,time_s");
    for (ours_name, file_name, ..) in &series {
        header += &format!(",{ours_name}_deg,{file_name}_x_deg");
    }
    let mut rows = header + "\n";
    let reference: Vec<Vec<Option<f64>>> = series
        .iter()
        .map(|(_, label, ..)| {
            trial
                .model_output(label)
                .map(|o| {
                    (0..frames)
                        .map(|f| o.values.get(f).copied().flatten().map(|v| v[0]))
                        .collect()
                })
                .unwrap_or_else(|| vec![None; frames])
        })
        .collect();
    let ours: Vec<&[f64]> = series
        .iter()
        .map(|(_, _, s, v)| kin.curve(*s, *v))
        .collect();
    let row = |f: usize| {
        let mut row = format!("{f},{:.4}", f as f64 / trial.rate_hz.max(1e-9));
        for (curve, refs) in ours.iter().zip(&reference) {
            let r = refs[f].map(|v| format!("{v:.3}")).unwrap_or_default();
            row += &format!(",{:.3},{r}", curve[f]);
        }
        row + "\n"
    };
    rows.extend((0..frames).map(row));
    let mut stats = serde_json::Map::new();
    for (k, (name, label, ..)) in series.iter().enumerate() {
        let refs: Vec<Option<f64>> = reference[k]
            .iter()
            .zip(&fit.frames)
            .map(|(r, fr)| if fr.interpolated { None } else { *r })
            .collect();
        if let Some((r, rmse, n)) = compare(ours[k], &refs) {
            stats.insert(
                format!("{name} vs {label}"),
                json!({"r": r, "rmse_deg": rmse, "frames": n}),
            );
        }
    }
    (rows, serde_json::Value::Object(stats))
}

/// The fitted frames as a pose sequence (one shape for every frame).
fn pose_sequence(betas: &[f64], poses: &[fit::PoseState]) -> PoseSequence {
    let mut b = betas.to_vec();
    b.resize(b.len().max(NUM_BETAS), 0.0);
    PoseSequence {
        betas: vec![b; poses.len()],
        poses: poses.iter().map(|p| p.axis_angle()).collect(),
        translations: poses
            .iter()
            .map(|p| [p.translation.x, p.translation.y, p.translation.z])
            .collect(),
        rate_hz: None,
        frame_numbers: (0..poses.len() as u64).collect(),
        source: None,
        format: PoseFileFormat::Json,
    }
}

fn write_poses(out: &Path, seq: &PoseSequence, format: OutFormat) -> anyhow::Result<()> {
    let fmt = match format {
        OutFormat::Json => PoseFileFormat::Json,
        OutFormat::Txt => PoseFileFormat::Txt,
    };
    write_pose_dir(out, seq, fmt).with_context(|| format!("writing poses to {}", out.display()))?;
    Ok(())
}

/// The original method's fitter (burn ndarray, autodiff) for the model's markers found in the
/// trial, with their columns in the trial.
fn adam_fitter(
    setup: &Setup,
    trial: &MarkerTrial,
) -> (
    fit::adam::AdamFitter<burn::backend::Autodiff<burn::backend::NdArray>>,
    Vec<usize>,
) {
    let (used, cols, _) = fit::match_markers(&setup.markers, trial);
    let device = Default::default();
    let fitter = fit::adam::AdamFitter::new(&setup.model, &used, &setup.limits, &device);
    (fitter, cols)
}

/// Root-mean-square of a frame's visible marker errors (0 when none is visible).
fn frame_rmse(errors: &[Option<f64>]) -> f64 {
    let e: Vec<f64> = errors.iter().flatten().copied().collect();
    (e.iter().map(|x| x * x).sum::<f64>() / e.len().max(1) as f64).sqrt()
}

fn fit_adam(
    setup: &Setup,
    trial: &MarkerTrial,
    args: &FitArgs,
    trial_path: &Path,
    bar: &ProgressBar,
) -> anyhow::Result<Outcome> {
    let (mut fitter, cols) = adam_fitter(setup, trial);
    let cfg = fit::adam::AdamFitConfig::default();
    let t0 = Instant::now();
    let mut poses = Vec::new();
    let mut rmse = Vec::new();
    let mut betas = vec![];
    for f in 0..trial.num_frames() {
        let obs = fit::observed(trial, f, &cols);
        let r = fitter.fit_frame(&obs, &cfg);
        rmse.push(frame_rmse(&r.marker_errors_m));
        betas = r.betas.clone();
        poses.push(r.pose);
        bar.set_position(f as u64 + 1);
    }
    let secs = t0.elapsed().as_secs_f64();
    write_poses(&args.out, &pose_sequence(&betas, &poses), args.format)?;
    let mut sorted = rmse.clone();
    sorted.sort_by(f64::total_cmp);
    let report = json!({
        "trial": trial_path.display().to_string(),
        "rate_hz": trial.rate_hz,
        "solver": "adam",
        "frame_rmse_m": rmse,
        "totals": {"frames": poses.len(), "time_s": secs, "frames_per_s": poses.len() as f64 / secs.max(1e-9),
                   "median_rmse_m": percentile(&sorted, 0.5), "p95_rmse_m": percentile(&sorted, 0.95)}
    });
    write_atomic(
        &args.out.join("fit_report.json"),
        serde_json::to_string_pretty(&report)?.as_bytes(),
    )?;
    let summary = format!(
        "adam: {} frames in {secs:.1} s ({:.3} s/frame), marker RMSE median {:.1} mm",
        poses.len(),
        secs / poses.len().max(1) as f64,
        percentile(&sorted, 0.5) * 1000.0,
    );
    Ok(Outcome {
        fit: TrialFit {
            calibration: fit::Calibration {
                betas,
                offsets_m: vec![],
                poses: vec![],
                rmse_m: f64::NAN,
            },
            marker_labels: vec![],
            unmatched_markers: vec![],
            empty_markers: vec![],
            calibration_frames: vec![],
            calibrated_on_static: false,
            warnings: vec![],
            poses,
            frames: vec![],
            unconstrained_joints: vec![],
            marker_outliers: vec![],
            marker_swaps: vec![],
            lab_up: None,
            calibration_s: 0.0,
            tracking_s: secs,
        },
        summary,
    })
}

/// Times the original method on `n` frames of the trial and prints the speed ratio.
fn bench_adam(setup: &Setup, trial: &MarkerTrial, lm: &TrialFit, n: usize) -> anyhow::Result<()> {
    let (mut fitter, cols) = adam_fitter(setup, trial);
    let cfg = fit::adam::AdamFitConfig::default();
    let t0 = Instant::now();
    let mut rmse = Vec::new();
    let mut steps = 0;
    for f in 0..n.min(trial.num_frames()) {
        let r = fitter.fit_frame(&fit::observed(trial, f, &cols), &cfg);
        steps += r.steps;
        rmse.push(frame_rmse(&r.marker_errors_m));
    }
    let adam_s = t0.elapsed().as_secs_f64() / rmse.len().max(1) as f64;
    let lm_fitted = lm.rmses_m().len().max(1);
    let lm_s = lm.tracking_s / lm_fitted as f64;
    rmse.sort_by(f64::total_cmp);
    println!(
        "bench: LM {:.3} ms/frame ({:.0} frames/s, one core); Adam (original method, burn ndarray) {:.2} s/frame over {} frames ({} steps/frame), median RMSE {:.1} mm; LM is {:.0}x faster",
        lm_s * 1e3,
        1.0 / lm_s,
        adam_s,
        rmse.len(),
        steps / rmse.len().max(1),
        percentile(&rmse, 0.5) * 1e3,
        adam_s / lm_s
    );
    Ok(())
}

fn file_name(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template("{msg:>24} [{bar:40}] {pos}/{len} frames {eta}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

fn parse_shard(s: &str) -> anyhow::Result<(usize, usize)> {
    let (a, b) = s
        .split_once('/')
        .context("--shard must look like i/n, e.g. 0/4")?;
    let (i, n): (usize, usize) = (a.trim().parse()?, b.trim().parse()?);
    if n == 0 || i >= n {
        bail!("--shard {s}: need 0 <= i < n");
    }
    Ok((i, n))
}

/// The model file of a cohort subject: `default`, or its file under `<model_folder>/SUPR/`
/// (where the original looks) or else `<model_folder>/` (default: the cohort file's folder).
fn cohort_model(
    args: &FitArgs,
    cohort_path: &Path,
    subject: &gaitlens::formats::cohort::CohortSubject,
) -> String {
    if subject.model_file.is_empty() || subject.model_file == "default" {
        return "default".to_string();
    }
    let folder = args
        .model_folder
        .clone()
        .unwrap_or_else(|| cohort_path.parent().unwrap_or(Path::new(".")).to_path_buf());
    let in_supr = folder.join("SUPR").join(&subject.model_file);
    if in_supr.exists() {
        in_supr
    } else {
        folder.join(&subject.model_file)
    }
    .display()
    .to_string()
}

/// Fits one trial of a cohort into `out` unless its report already carries the same input
/// fingerprint; returns whether it was fitted (false: up to date).
fn fit_cohort_trial(
    args: &FitArgs,
    cohort_path: &Path,
    subject: &gaitlens::formats::cohort::CohortSubject,
    gait: &Path,
    out: &Path,
    settings: &str,
    multi: &MultiProgress,
) -> anyhow::Result<bool> {
    let model = cohort_model(args, cohort_path, subject);
    let constraints = subject
        .constraint_file
        .exists()
        .then_some(subject.constraint_file.as_path());
    let fingerprint = fingerprint(&[gait], &format!("{settings}|{model}|{constraints:?}"));
    let report = out.join("fit_report.json");
    if let Ok(text) = std::fs::read_to_string(&report)
        && text.contains(&fingerprint)
    {
        return Ok(false);
    }
    let setup = load_setup(&model, constraints)?;
    let trial = read_marker_trial(gait)?;
    let bar = multi.add(ProgressBar::new(trial.num_frames() as u64));
    bar.set_style(bar_style());
    bar.set_message(format!("{}/{}", subject.name, file_name(gait)));
    let mut trial_args = FitArgs {
        out: out.to_path_buf(),
        ..clone_args(args)
    };
    trial_args.trial = Some(gait.to_path_buf());
    // Stamp the report with the fingerprint so a rerun skips this trial.
    let stamp = |dir: &Path| -> anyhow::Result<()> {
        let report = dir.join("fit_report.json");
        let text = std::fs::read_to_string(&report)?;
        let mut v: serde_json::Value = serde_json::from_str(&text)?;
        v["input_fingerprint"] = json!(fingerprint);
        Ok(write_atomic(
            &report,
            serde_json::to_string_pretty(&v)?.as_bytes(),
        )?)
    };
    fit_staged(&setup, (&trial, None), &trial_args, gait, &bar, stamp)?;
    bar.finish_and_clear();
    Ok(true)
}

/// Fits every gait of a cohort in parallel into the original layout, skipping finished trials
/// whose inputs and settings are unchanged.
fn run_cohort(args: &FitArgs, cohort_path: &Path) -> anyhow::Result<ExitCode> {
    let cohort = gaitlens::formats::cohort::read_cohort(cohort_path)?;
    let (shard, shards) = match &args.shard {
        Some(s) => parse_shard(s)?,
        None => (0, 1),
    };
    let mut jobs = Vec::new();
    for s in &cohort.subjects {
        for g in &s.gaits {
            jobs.push((s.clone(), g.clone()));
        }
    }
    let jobs: Vec<_> = jobs
        .into_iter()
        .enumerate()
        .filter(|(i, _)| i % shards == shard)
        .map(|(_, j)| j)
        .collect();
    let multi = MultiProgress::new();
    let failures = Mutex::new(Vec::new());
    let settings = format!(
        "{:?}|{:?}|{:?}|{}",
        args.solver,
        args.pelvis_markers,
        args.format,
        env!("CARGO_PKG_VERSION")
    );
    jobs.par_iter().for_each(|(subject, gait)| {
        let out = args
            .out
            .join(if subject.healthy { "healthy" } else { "sick" })
            .join(&subject.name)
            .join(file_name(gait));
        let result = fit_cohort_trial(args, cohort_path, subject, gait, &out, &settings, &multi);
        match result {
            Ok(true) => {}
            Ok(false) => {
                multi.suspend(|| eprintln!("{}: up to date, skipped", out.display()));
            }
            Err(e) => failures
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(format!("{}: {e:#}", gait.display())),
        }
    });
    let failures = failures.into_inner().unwrap_or_else(|p| p.into_inner());
    for f in &failures {
        eprintln!("failed: {f}");
    }
    println!(
        "{} trials in shard {shard}/{shards}, {} failed",
        jobs.len(),
        failures.len()
    );
    Ok(if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn clone_args(a: &FitArgs) -> FitArgs {
    FitArgs {
        trial: a.trial.clone(),
        static_trial: a.static_trial.clone(),
        body: a.body.clone(),
        out: a.out.clone(),
        angles: None,
        solver: a.solver,
        pelvis_markers: a.pelvis_markers,
        max_frames: a.max_frames,
        cohort: None,
        model_folder: a.model_folder.clone(),
        shard: None,
        format: a.format,
        bench: None,
    }
}

/// Identifies a trial's inputs (paths, sizes, modification times) and settings.
fn fingerprint(paths: &[&Path], settings: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            h ^= *b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for p in paths {
        feed(p.display().to_string().as_bytes());
        if let Ok(m) = std::fs::metadata(p) {
            feed(&m.len().to_le_bytes());
            if let Ok(t) = m.modified()
                && let Ok(d) = t.duration_since(std::time::UNIX_EPOCH)
            {
                feed(&d.as_nanos().to_le_bytes());
            }
        }
    }
    feed(settings.as_bytes());
    format!("fnv1a64:{h:016x}")
}
