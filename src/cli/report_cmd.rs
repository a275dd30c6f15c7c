//! `gaitlens report`: the clinical gait report of one trial (fitting it first when needed).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use gaitlens::fit::PelvisMarkers;
use gaitlens::formats::pose_seq::{PoseSidecars, read_complete_pose_folder};
use gaitlens::formats::read_marker_trial;
use gaitlens::formats::trial::MarkerTrial;
use gaitlens::gait::figures::{kinematics_svg, map_svg, report_html};
use gaitlens::gait::normative::{NormativeTable, SPEEDS};
use gaitlens::gait::report::{EventSource, GaitReport, ReportInput, curves_csv, gait_report};
use gaitlens::gait::symmetry::{KinematicSymmetry, widest_ranges};
use gaitlens::io_util::write_atomic;

use super::fit_cmd::{self, BodyArgs, FitArgs, OutFormat, PelvisMarkersArg, Solver, load_setup};

/// Arguments of `gaitlens report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The walk: a C3D/TRC trial (fitted first unless --poses is given) or a pose folder
    /// written by `gaitlens fit`.
    pub trial: PathBuf,
    /// A static calibration trial of the same subject (used when fitting).
    #[arg(long = "static")]
    pub static_trial: Option<PathBuf>,
    /// Poses already fitted to TRIAL (skips fitting).
    #[arg(long)]
    pub poses: Option<PathBuf>,
    /// How the pelvis markers move when fitting (as for `fit`).
    #[arg(long, value_enum, default_value_t = PelvisMarkersArg::Skin)]
    pub pelvis_markers: PelvisMarkersArg,
    /// Body model and marker placements (as for `fit`).
    #[command(flatten)]
    pub body: BodyArgs,
    /// Output folder: report.json, curves.csv, kinematics.svg, map.svg, report.html (and poses/
    /// when the trial is fitted here).
    #[arg(long)]
    pub out: PathBuf,
    /// Normative speed bin (very_slow, slow, free, fast, very_fast); default: matched to the
    /// measured non-dimensional speed.
    #[arg(long)]
    pub speed: Option<String>,
    /// A normative CSV in the embedded table's layout (`variable,gait_cycle_pct,speed,mean,sd`)
    /// that replaces Schwartz et al. 2008.
    #[arg(long)]
    pub normative: Option<PathBuf>,
    /// Gait events: `auto` (the file's EVENT section, else detected by the coordinate method),
    /// or always detected: `coordinate` (Zeni et al. 2008) or `velocity` (Ghoussayni et al. 2004).
    #[arg(long, default_value = "auto")]
    pub events: EventSource,
    /// Time the analysis (everything after fitting) over this many runs and print the median.
    #[arg(long)]
    pub bench: Option<usize>,
}

pub fn run(args: ReportArgs) -> anyhow::Result<ExitCode> {
    if let Some(s) = args
        .speed
        .as_ref()
        .filter(|s| args.normative.is_none() && !SPEEDS.contains(&s.as_str()))
    {
        bail!("--speed {s}: use one of {}", SPEEDS.join(", "));
    }
    let setup = load_setup(&args.body.model, args.body.constraints.as_deref())?;
    let normative = match &args.normative {
        Some(p) => NormativeTable::read(p)?,
        None => NormativeTable::schwartz2008(),
    };
    let (trial, poses_dir) = trial_and_poses(&args)?;
    let (poses, sidecars) = read_complete_pose_folder(&poses_dir)?;
    let rate_hz = poses
        .rate_hz
        .or(trial.as_ref().map(|t| t.rate_hz))
        .filter(|r| r.is_finite() && *r > 0.0 && *r < 100_000.0)
        .with_context(|| {
            format!(
                "{}: no usable frame rate (no fit_report.json with rate_hz, no trial file)",
                poses_dir.display()
            )
        })?;
    let input = ReportInput {
        model: &setup.model,
        markers: Some(&setup.markers),
        poses: &poses,
        rate_hz,
        trial: trial.as_ref(),
        normative: &normative,
        speed: args.speed.clone(),
        events: args.events,
    };
    let spinner = ProgressBar::new_spinner();
    spinner.set_style(ProgressStyle::with_template("{spinner} {msg} {elapsed}").unwrap());
    spinner.set_message("analysing the gait");
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    let mut report =
        gait_report(&input).with_context(|| format!("analysing {}", args.trial.display()))?;
    report.fit = fit_quality(&sidecars);
    report.pelvis_markers = PelvisMarkers::recorded_in(&sidecars);
    spinner.finish_and_clear();
    let title = title_of(&args.trial);
    write_outputs(&args.out, &report, &normative, &title)?;
    print_summary(&report, &args.out);
    if let Some(n) = args.bench {
        bench(&input, &normative, &title, n.max(1))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The trial (when TRIAL is a marker file) and the pose folder to analyse, fitting when needed.
fn trial_and_poses(args: &ReportArgs) -> anyhow::Result<(Option<MarkerTrial>, PathBuf)> {
    // A folder is a pose folder (`read_pose_dir` says what is wrong if it is not).
    if args.trial.is_dir() {
        return Ok((None, args.trial.clone()));
    }
    let trial = read_marker_trial(&args.trial)?;
    if let Some(p) = &args.poses {
        return Ok((Some(trial), p.clone()));
    }
    let poses = args.out.join("poses");
    eprintln!("fitting {} → {}", args.trial.display(), poses.display());
    fit_cmd::run(FitArgs {
        trial: Some(args.trial.clone()),
        static_trial: args.static_trial.clone(),
        body: args.body.clone(),
        out: poses.clone(),
        angles: None,
        solver: Solver::Lm,
        pelvis_markers: args.pelvis_markers,
        max_frames: None,
        cohort: None,
        model_folder: None,
        shard: None,
        format: OutFormat::Json,
        bench: None,
    })?;
    Ok((Some(trial), poses))
}

/// Totals, warnings and joint plausibility of the fit, from the pose folder's `fit_report.json`
/// (read once with the poses).
fn fit_quality(sidecars: &PoseSidecars) -> Option<serde_json::Value> {
    let v = sidecars.fit_report_at("")?;
    Some(serde_json::json!({
        "totals": v.get("totals"),
        "warnings": v.get("warnings"),
        "plausibility": v.get("plausibility"),
        "unmatched_markers": v.get("unmatched_markers"),
        // Absent in reports of fits written before the setting existed (they are `skin`).
        "pelvis_markers": v.get("pelvis_markers"),
    }))
}

fn title_of(trial: &Path) -> String {
    trial
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| trial.display().to_string())
}

/// Everything the report writes, each file atomically.
fn render(
    report: &GaitReport,
    normative: &NormativeTable,
    title: &str,
) -> anyhow::Result<Vec<(&'static str, Vec<u8>)>> {
    let kin = kinematics_svg(report, normative, title).map_err(anyhow::Error::msg)?;
    let map = map_svg(&report.profile, title).map_err(anyhow::Error::msg)?;
    let html = report_html(report, title, &kin, &map);
    Ok(vec![
        ("report.json", serde_json::to_vec_pretty(report)?),
        ("curves.csv", curves_csv(report, normative).into_bytes()),
        ("kinematics.svg", kin.into_bytes()),
        ("map.svg", map.into_bytes()),
        ("report.html", html.into_bytes()),
    ])
}

fn write_outputs(
    out: &Path,
    report: &GaitReport,
    normative: &NormativeTable,
    title: &str,
) -> anyhow::Result<()> {
    for (name, bytes) in render(report, normative, title)? {
        let path = out.join(name);
        write_atomic(&path, &bytes).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

fn print_summary(report: &GaitReport, out: &Path) {
    let f = |v: Option<f64>, d: usize| v.map_or("–".to_string(), |v| format!("{v:.d$}"));
    println!(
        "{} frames at {:.0} Hz; events: {}",
        report.frames,
        report.rate_hz,
        report.events.as_ref().map_or("none", |e| e.source.as_str())
    );
    println!(
        "cycles: {} left, {} right",
        report
            .cycles
            .side(gaitlens::gait::cycles::Side::Left)
            .count(),
        report
            .cycles
            .side(gaitlens::gait::cycles::Side::Right)
            .count()
    );
    if let Some(st) = &report.spatiotemporal {
        println!(
            "speed {} m/s, cadence {} steps/min, non-dimensional speed {} → {} speed norms",
            f(st.speed_m_s, 2),
            f(st.cadence_steps_min, 1),
            f(st.nondimensional_speed, 3),
            report.normative.speed
        );
        let side =
            |s: &Option<gaitlens::gait::spatiotemporal::SideParameters>,
             get: fn(&gaitlens::gait::spatiotemporal::SideParameters) -> f64| {
                f(s.as_ref().map(get), 2)
            };
        println!(
            "step length {} / {} m, step width {} / {} m (left / right; {})",
            side(&st.left, |p| p.step_length_m),
            side(&st.right, |p| p.step_length_m),
            side(&st.left, |p| p.step_width_m),
            side(&st.right, |p| p.step_width_m),
            st.foot_points.describe()
        );
    }
    let gps = |s| report.profile.gps_deg.get(&s).copied();
    use gaitlens::gait::cycles::Side;
    println!(
        "GPS: left {}°, right {}°, overall {}°",
        f(gps(Side::Left), 1),
        f(gps(Side::Right), 1),
        f(report.profile.gps_overall_deg, 1)
    );
    if let Some(v) = report
        .vicon_profile
        .as_ref()
        .and_then(|p| p.gps_overall_deg)
    {
        println!("GPS of the file's own Vicon angles over the same cycles: {v:.1}°");
    }
    let (sagittal, other) = widest_ranges(&report.symmetry);
    if let Some(s) = sagittal {
        println!("largest left/right range difference: {}", range_line(s));
    }
    if let Some(o) = other {
        println!(
            "larger still in the frontal / transverse planes: {}\n  {}",
            range_line(o),
            o.variable.caveat(report.pelvis_markers).unwrap_or_default()
        );
    }
    for n in &report.notes {
        println!("note: {n}");
    }
    println!("report written to {}", out.join("report.html").display());
}

/// One symmetry row as the summary prints it.
fn range_line(s: &KinematicSymmetry) -> String {
    format!(
        "{} (left {:.0}°, right {:.0}°; mean left − right {:+.1}°, shape {:.1}° RMS)",
        s.variable.key(),
        s.left_range_deg,
        s.right_range_deg,
        s.mean_difference_deg,
        s.shape_rms_deg
    )
}

/// Median time of the analysis (report and figures, no file writing) over `n` runs.
fn bench(
    input: &ReportInput,
    normative: &NormativeTable,
    title: &str,
    n: usize,
) -> anyhow::Result<()> {
    let mut ms = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let r = gait_report(input)?;
        let _ = render(&r, normative, title)?;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(f64::total_cmp);
    println!(
        "bench: report of {} frames in {:.1} ms (median of {n}; min {:.1}, max {:.1})",
        input.poses.num_frames(),
        ms[n / 2],
        ms[0],
        ms[n - 1]
    );
    Ok(())
}
