//! `gaitlens synth`: the Fourier semi-synthetic cohort, a cohort built from real walks
//! (`synth from-walks`), and one pathology transplanted onto one walk (`synth inject`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use gaitlens::body::default_model::default_body;
use gaitlens::synth::from_walks::{
    FromWalksConfig, SourceWalk, inject_walk, load_walk, synthetic_walks, write_walk_cohort,
};
use gaitlens::synth::transplant::Injection;
use gaitlens::synth::{Pathology, Side, TRANSPLANT_PATHOLOGIES};

/// Arguments of `gaitlens synth`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SynthArgs {
    /// Build from real walks or inject into one walk instead of the Fourier cohort.
    #[command(subcommand)]
    pub command: Option<SynthCommand>,
    /// Output folder (`<healthy|sick>/<subject>/<gait>/pose_*.json`, ground_truth.json, README.txt).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Number of subjects (half sick by default).
    #[arg(long, default_value_t = 40)]
    pub subjects: usize,
    /// Random seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Walking trials per subject.
    #[arg(long, default_value_t = 2)]
    pub trials: usize,
}

/// Cohorts and injections on real walks.
#[derive(Debug, Subcommand)]
pub enum SynthCommand {
    /// Build a cohort from real fitted walks: healthy = the walks with realistic variation,
    /// sick = the same walks with transplanted pathologies (and compensations) at graded severity.
    FromWalks(FromWalksArgs),
    /// Transplant one pathology onto one fitted walk (a pose folder) and write the result.
    Inject(InjectArgs),
}

/// Arguments of `gaitlens synth from-walks`.
#[derive(Debug, Args)]
pub struct FromWalksArgs {
    /// Fitted walks (`gaitlens fit` output folders), or folders holding such folders.
    #[arg(long, num_args = 1.., required = true)]
    pub walks: Vec<PathBuf>,
    /// Output cohort folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Augmented copies per walk (each one healthy and one sick subject).
    #[arg(long, default_value_t = FromWalksConfig::default().copies)]
    pub copies: usize,
    /// Random seed.
    #[arg(long, default_value_t = FromWalksConfig::default().seed)]
    pub seed: u64,
    /// Frame rate of the cohort (every walk is resampled to it), Hz.
    #[arg(long, default_value_t = FromWalksConfig::default().rate_hz)]
    pub rate_hz: f64,
    /// Lowest severity drawn for the sick copies (the highest is 1).
    #[arg(long, default_value_t = FromWalksConfig::default().severity[0])]
    pub min_severity: f64,
    /// Pathologies to transplant, comma-separated (default: all).
    #[arg(long, value_delimiter = ',')]
    pub pathologies: Vec<Pathology>,
    /// Multiplier of the healthy variation's spreads (1 = normative between-subject SDs).
    #[arg(long, default_value_t = FromWalksConfig::default().augment_scale)]
    pub augment_scale: f64,
    /// Move every varied copy a random fraction in [0, BLEND] of the way towards another source
    /// walk in joint-angle space (phase-matched): fills the space between the recordings (0: off).
    #[arg(long, default_value_t = FromWalksConfig::default().blend)]
    pub blend: f64,
    /// Give every varied healthy copy its sick twin's cadence (the pathology's slowing
    /// included), so that cadence is no cue to the label.
    #[arg(long)]
    pub matched_cadence: bool,
    /// Also use this many healthy walks of the Fourier generator as sources (both classes).
    #[arg(long, default_value_t = 0)]
    pub synthetic: usize,
    /// Build copies from every frame of each walk, also those whose pelvis or leg markers were
    /// missing or that were interpolated (by default only each walk's longest stretch of measured
    /// frames is used; `frames[].legs_measured` in its fit_report.json).
    #[arg(long)]
    pub all_frames: bool,
}

/// Arguments of `gaitlens synth inject`.
#[derive(Debug, Args)]
pub struct InjectArgs {
    /// A fitted walk (pose folder written by `gaitlens fit`).
    #[arg(long)]
    pub poses: PathBuf,
    /// The pathology: stiff-knee, reduced-hip-flexion, foot-drop, crouch, circumduction,
    /// trendelenburg, equinus.
    #[arg(long)]
    pub pathology: Pathology,
    /// Affected side: left, right or both.
    #[arg(long, default_value = "left")]
    pub side: Side,
    /// Severity from 0 (none) to 1 (full).
    #[arg(long, default_value_t = 1.0)]
    pub severity: f64,
    /// Frame rate of the pose folder when it has no fit_report.json, Hz.
    #[arg(long)]
    pub rate_hz: Option<f64>,
    /// Output pose folder (pose_*.json + ground_truth.json).
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(a: SynthArgs) -> anyhow::Result<ExitCode> {
    match a.command {
        Some(SynthCommand::FromWalks(w)) => from_walks(w),
        Some(SynthCommand::Inject(i)) => inject(i),
        None => fourier(a),
    }
}

fn fourier(a: SynthArgs) -> anyhow::Result<ExitCode> {
    let Some(out) = a.out else {
        bail!("`gaitlens synth` needs --out DIR (or a subcommand: from-walks, inject)");
    };
    let cfg = gaitlens::synth::SynthConfig {
        subjects: a.subjects,
        seed: a.seed,
        trials_per_subject: a.trials,
        ..Default::default()
    };
    let s = gaitlens::synth::write_cohort(&out, &cfg)?;
    println!(
        "semi-synthetic cohort in {}: {} healthy + {} sick subjects, {} trials, {} frames (ground truth in ground_truth.json)",
        s.out.display(),
        s.healthy,
        s.sick,
        s.trials,
        s.frames
    );
    Ok(ExitCode::SUCCESS)
}

/// Pose folders named by `paths`: each path itself when it holds pose files, else its
/// sub-folders that do (sorted).
fn walk_folders(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let has_poses = |d: &Path| {
        std::fs::read_dir(d).is_ok_and(|mut it| {
            it.any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().starts_with("pose_")))
        })
    };
    let mut out = Vec::new();
    for p in paths {
        if !p.is_dir() {
            bail!(
                "{}: not a folder (expected a fitted walk from `gaitlens fit`)",
                p.display()
            );
        }
        if has_poses(p) {
            out.push(p.clone());
            continue;
        }
        let mut subs: Vec<PathBuf> = std::fs::read_dir(p)
            .with_context(|| format!("cannot list {}", p.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|d| d.is_dir() && has_poses(d))
            .collect();
        if subs.is_empty() {
            bail!(
                "{}: holds no pose_*.json files and no folders with them",
                p.display()
            );
        }
        subs.sort();
        out.extend(subs);
    }
    Ok(out)
}

fn from_walks(a: FromWalksArgs) -> anyhow::Result<ExitCode> {
    let model = default_body();
    let cfg = FromWalksConfig {
        copies: a.copies,
        seed: a.seed,
        rate_hz: a.rate_hz,
        severity: [a.min_severity.clamp(0.0, 1.0), 1.0],
        pathologies: if a.pathologies.is_empty() {
            TRANSPLANT_PATHOLOGIES.to_vec()
        } else {
            a.pathologies
        },
        augment_scale: a.augment_scale,
        blend: a.blend,
        matched_cadence: a.matched_cadence,
        measured_only: !a.all_frames,
    };
    let mut walks: Vec<SourceWalk> = Vec::new();
    for dir in walk_folders(&a.walks)? {
        let mut w = load_walk(model, &dir, None)?;
        let total = w.poses.len();
        // Cropped here to say so; `write_walk_cohort` then finds nothing more to crop.
        let kept = if cfg.measured_only {
            w.keep_measured()?
        } else {
            None
        };
        let kept = match kept {
            Some(r) => format!(
                " (frames {}–{} kept: the other {} had pelvis or leg markers missing or were \
                 interpolated)",
                r.start,
                r.end - 1,
                total - r.len()
            ),
            None => String::new(),
        };
        eprintln!(
            "{}: {} frames at {} Hz, stride {:.2} s{kept}",
            dir.display(),
            w.poses.len(),
            w.poses.rate_hz,
            w.poses.stride_s
        );
        walks.push(w);
    }
    if a.synthetic > 0 {
        walks.extend(synthetic_walks(model, a.synthetic, a.seed)?);
        eprintln!(
            "+ {} synthetic healthy walks (Fourier generator)",
            a.synthetic
        );
    }
    let s = write_walk_cohort(model, &walks, &a.out, &cfg)?;
    let real = walks.len() - a.synthetic;
    println!(
        "cohort from {real} real walks (+{} synthetic) in {}: {} healthy + {} sick subjects (real walks with simulated pathologies, not clinical data; ground truth in ground_truth.json)",
        a.synthetic,
        s.out.display(),
        s.healthy,
        s.sick
    );
    Ok(ExitCode::SUCCESS)
}

fn inject(a: InjectArgs) -> anyhow::Result<ExitCode> {
    if !(0.0..=1.0).contains(&a.severity) {
        bail!("--severity must be between 0 and 1 (got {})", a.severity);
    }
    let walk = load_walk(default_body(), &a.poses, a.rate_hz)?;
    let inj = Injection {
        pathology: a.pathology,
        side: a.side,
        severity: a.severity,
    };
    let t = inject_walk(&walk, &inj, &a.out)?;
    println!(
        "{} ({:?}, severity {:.2}) transplanted onto {} → {} (primary joints: {}; compensation joints: {})",
        a.pathology.name(),
        a.side,
        a.severity,
        a.poses.display(),
        a.out.display(),
        joint_names(&t.joints),
        joint_names(&t.compensation)
    );
    Ok(ExitCode::SUCCESS)
}

/// Joint indices of the embedded body as their names (`left_knee, pelvis`), `none` for none.
fn joint_names(joints: &[usize]) -> String {
    let names = &default_body().joint_names;
    if joints.is_empty() {
        return "none".into();
    }
    joints
        .iter()
        .map(|&j| names.get(j).map_or_else(|| j.to_string(), String::clone))
        .collect::<Vec<_>>()
        .join(", ")
}
