//! `gaitlens synth`: write the semi-synthetic cohort.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

/// Arguments of `gaitlens synth`.
#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Output folder (`<healthy|sick>/<subject>/<gait>/pose_*.json`, ground_truth.json, README.txt).
    #[arg(long)]
    pub out: PathBuf,
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

pub fn run(a: SynthArgs) -> anyhow::Result<ExitCode> {
    let cfg = gaitlens::synth::SynthConfig {
        subjects: a.subjects,
        seed: a.seed,
        trials_per_subject: a.trials,
        ..Default::default()
    };
    let s = gaitlens::synth::write_cohort(&a.out, &cfg)?;
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
