//! `gaitlens evaluate` and `gaitlens normative`: explanations scored against a synthetic
//! cohort's ground truth, and the normative gait added to an older model card.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use gaitlens::body::default_model::default_body;
use gaitlens::dataset::{WindowConfig, WindowDataset, k_fold_by_subject};
use gaitlens::io_util::write_atomic;
use gaitlens::nn::LoadedModel;

use super::explain_cmd::{A, BaselineArg, Rule, load_network, rule_method};

/// Arguments of `gaitlens evaluate`.
#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// Model card (STEM.json) written by `gaitlens train`.
    #[arg(long)]
    pub network: PathBuf,
    /// Cohort written by `gaitlens synth` (class folders and ground_truth.json).
    #[arg(long)]
    pub data: PathBuf,
    /// Fold to evaluate (default: the fold the network was trained with, from its card).
    #[arg(long)]
    pub fold: Option<usize>,
    /// Window stride (the split is by subject, so any stride evaluates the same subjects).
    #[arg(long, default_value_t = 4)]
    pub stride: usize,
    /// Explanation methods to score, comma-separated (the values of `explain --rule`; default:
    /// eps, eps-original, zplus, gamma, composite for MLPs; cp-lrp, attn-lrp, attention for
    /// transformers).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub rules: Vec<Rule>,
    /// Relevance baselines to score every rule with: `zero` (plain LRP, relative to the zero
    /// input) and `normative` (relative to the phase-matched healthy gait).
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = vec![BaselineArg::Zero, BaselineArg::Normative])]
    pub baselines: Vec<BaselineArg>,
    /// Skip the model-randomisation control (the same scores for an untrained network of the
    /// same architecture, which tells how much of a locus score comes from the data alone).
    #[arg(long)]
    pub no_control: bool,
    /// Also write the report as JSON.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// The normative gait of `card`, or (cards without one) learnt from the windows `train` of
/// `ds` as `gaitlens train` does.
fn normative_for(
    card: &gaitlens::train::ModelCard,
    ds: &WindowDataset,
    train: &[usize],
) -> anyhow::Result<gaitlens::explain::NormativeGait> {
    if let Some(n) = &card.normative_gait {
        return Ok(n.clone());
    }
    let n = learn_normative(ds, train)?;
    eprintln!("the card has no normative gait: learnt from the healthy training windows");
    Ok(n)
}

/// [`gaitlens::train::learn_normative_gait`] of the windows `train` of `ds`.
fn learn_normative(
    ds: &WindowDataset,
    train: &[usize],
) -> anyhow::Result<gaitlens::explain::NormativeGait> {
    Ok(gaitlens::train::learn_normative_gait(
        &gaitlens::train::DatasetWindows {
            dataset: ds,
            windows: train.to_vec(),
        },
    )?)
}

/// Windows of a cohort for a network card: its interval and alignment, mirrored as in
/// training, at the card's frame rate.
fn card_windows(
    card: &gaitlens::train::ModelCard,
    data: &Path,
    stride: usize,
) -> anyhow::Result<WindowDataset> {
    let sequences = gaitlens::dataset::load_joint_dataset(data, default_body())?;
    let mut ds = WindowDataset::new(
        sequences,
        WindowConfig {
            interval: card.interval,
            stride: stride.max(1),
            mirror: true,
        },
    )?;
    ds.alignment = card.alignment().unwrap_or_default();
    if let (Some(net_hz), Some(data_hz)) = (card.rate_hz, ds.common_rate_hz())
        && (net_hz - data_hz).abs() > 1e-6
    {
        bail!(
            "{}: the cohort is at {data_hz} Hz, the network was trained at {net_hz} Hz",
            data.display()
        );
    }
    Ok(ds)
}

/// Arguments of `gaitlens normative`.
#[derive(Debug, Args)]
pub struct NormativeArgs {
    /// Model card (STEM.json) to add the normative gait to (rewritten in place, atomically).
    #[arg(long)]
    pub network: PathBuf,
    /// The cohort the network was trained on (`DIR/<healthy|sick>/<subject>/<gait>/pose_*`).
    #[arg(long)]
    pub data: PathBuf,
    /// Window stride used to sample the healthy training windows.
    #[arg(long, default_value_t = 2)]
    pub stride: usize,
    /// Replace a normative gait the card already has.
    #[arg(long)]
    pub force: bool,
}

/// `gaitlens normative`: adds a normative gait to a card written before `gaitlens train`
/// learnt one (the weights and their hash are untouched).
pub fn normative_cmd(a: NormativeArgs) -> anyhow::Result<ExitCode> {
    let card = gaitlens::train::read_card(&a.network)
        .with_context(|| format!("reading {}", a.network.display()))?;
    if card.normative_gait.is_some() && !a.force {
        bail!(
            "{} already has a normative gait (use --force to replace it)",
            a.network.display()
        );
    }
    let ds = card_windows(&card, &a.data, a.stride)?;
    let fold = k_fold_by_subject(&ds, card.training.folds, card.training.fold)?;
    let n = learn_normative(&ds, &fold.train)?;
    let frames: u64 = n.counts.iter().map(|&c| u64::from(c)).sum();
    let bins = n.bins;
    let card = gaitlens::train::ModelCard {
        normative_gait: Some(n),
        ..card
    }
    .stamped();
    write_atomic(&a.network, &serde_json::to_vec_pretty(&card)?)
        .with_context(|| format!("writing {}", a.network.display()))?;
    gaitlens::train::read_card(&a.network)
        .with_context(|| format!("re-reading {}", a.network.display()))?;
    println!(
        "normative gait learnt from the healthy training windows of fold {}/{} ({frames} frames \
         in {} gait-phase bins) and written to {}",
        card.training.fold,
        card.training.folds,
        bins,
        a.network.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `gaitlens evaluate`: accuracy per injected pathology and the limb locus of each explanation
/// rule on the held-out subjects of a synthetic cohort.
pub fn evaluate_cmd(a: EvaluateArgs) -> anyhow::Result<ExitCode> {
    let device = Default::default();
    let (net, card) = load_network(&a.network, &device)?;
    let truths = gaitlens::synth::read_ground_truth(&a.data)?;
    let ds = card_windows(&card, &a.data, a.stride)?;
    let fold_index = a.fold.unwrap_or(card.training.fold);
    let fold = k_fold_by_subject(&ds, card.training.folds, fold_index)?;
    let normative = if a.baselines.contains(&BaselineArg::Normative) {
        Some(normative_for(&card, &ds, &fold.train)?)
    } else {
        None
    };
    let rules = if a.rules.is_empty() && card.network_type == "transformer" {
        vec![Rule::CpLrp, Rule::AttnLrp, Rule::Attention]
    } else if a.rules.is_empty() {
        vec![
            Rule::Eps,
            Rule::EpsOriginal,
            Rule::Zplus,
            Rule::Gamma,
            Rule::Composite,
        ]
    } else {
        a.rules.clone()
    };
    let methods = scored_methods(&a, &rules, normative.as_ref());
    eprintln!(
        "evaluating {} ({}) on fold {fold_index}/{}: {} held-out windows",
        a.network.display(),
        card.network_type,
        card.training.folds,
        fold.eval.len()
    );
    let bar = ProgressBar::new(fold.eval.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("explaining [{bar:40}] {pos}/{len} windows {eta} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let set = gaitlens::explain::TruthSet {
        dataset: &ds,
        windows: &fold.eval,
        truths: &truths,
        temperature: card.calibration.map(|c| c.temperature),
    };
    let score = |net: &LoadedModel<A>| {
        gaitlens::explain::evaluate_against_truth(net, set, &methods, 64, &device, |done, _| {
            bar.set_position(done as u64)
        })
    };
    let report = score(&net)?;
    let control = if a.no_control {
        None
    } else {
        bar.set_message("untrained control");
        bar.set_position(0);
        <A as burn::tensor::backend::Backend>::seed(&device, card.training.seed);
        Some(score(&gaitlens::train::init_untrained::<A>(
            &card.network,
            &device,
        ))?)
    };
    bar.finish_and_clear();
    print_report(&report);
    let calibration = calibration_of(&card, &report);
    if let Some(c) = &control {
        print_control(c, card.training.seed);
    }
    if let Some(out) = &a.out {
        write_report(out, &report, control.as_ref(), &calibration)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Every rule × baseline asked for (attention has no normative variant).
fn scored_methods<'a>(
    a: &EvaluateArgs,
    rules: &[Rule],
    normative: Option<&'a gaitlens::explain::NormativeGait>,
) -> Vec<gaitlens::explain::ScoredMethod<'a>> {
    let mut methods = Vec::new();
    for &b in &a.baselines {
        for &r in rules {
            let mut name = r
                .to_possible_value()
                .map(|v| v.get_name().to_string())
                .unwrap_or_default();
            let reference = match b {
                BaselineArg::Zero => None,
                BaselineArg::Normative if r == Rule::Attention => continue,
                BaselineArg::Normative => {
                    name += "-normative";
                    normative
                }
            };
            methods.push(gaitlens::explain::ScoredMethod {
                name,
                method: rule_method(r),
                reference,
            });
        }
    }
    methods
}

/// Prints and returns the expected calibration error of the evaluated windows, at the card's
/// temperature when it has one (and at T = 1).
fn calibration_of(
    card: &gaitlens::train::ModelCard,
    report: &gaitlens::explain::TruthReport,
) -> serde_json::Value {
    use gaitlens::train::calibration::{ECE_BINS, expected_calibration_error};
    let (logits, labels): (Vec<f32>, Vec<f32>) = report
        .predictions
        .iter()
        .map(|&(l, sick)| (l, if sick { 1.0 } else { 0.0 }))
        .unzip();
    let uncalibrated = expected_calibration_error(&logits, &labels, 1.0);
    let calibrated = card
        .calibration
        .and_then(|c| expected_calibration_error(&logits, &labels, c.temperature));
    let show = |e: Option<f64>| e.map_or("n/a".to_string(), |e| format!("{e:.3}"));
    match card.calibration {
        Some(c) => println!(
            "expected calibration error ({ECE_BINS} bins): {} calibrated (T = {:.3}), {} at T = 1",
            show(calibrated),
            c.temperature,
            show(uncalibrated)
        ),
        None => println!(
            "expected calibration error ({ECE_BINS} bins): {} — {}",
            show(uncalibrated),
            card.calibration_note().unwrap_or_default()
        ),
    }
    serde_json::json!({
        "temperature": card.calibration.map(|c| c.temperature),
        "ece_bins": ECE_BINS,
        "ece_uncalibrated": uncalibrated,
        "ece_calibrated": calibrated,
    })
}

/// Prints accuracy per group and each method's locus.
fn print_report(report: &gaitlens::explain::TruthReport) {
    println!(
        "accuracy {:.3} on {} windows (threshold 0.5)",
        report.accuracy, report.windows
    );
    println!(
        "{:<22} {:>8} {:>8} {:>9} {:>10}",
        "group", "subjects", "windows", "accuracy", "mean P(sick)"
    );
    for g in &report.groups {
        println!(
            "{:<22} {:>8} {:>8} {:>9.3} {:>10.3}",
            g.group,
            g.subjects,
            g.windows,
            g.correct as f64 / g.windows.max(1) as f64,
            g.mean_probability
        );
    }
    let names = &default_body().joint_names;
    println!("locus: top joint of correctly classified sick windows on the injected limb");
    for s in &report.locus {
        let mut top: Vec<usize> = (0..s.top_joint_counts.len()).collect();
        top.sort_by_key(|&j| std::cmp::Reverse(s.top_joint_counts[j]));
        let common: Vec<String> = top
            .iter()
            .take(3)
            .filter(|&&j| s.top_joint_counts[j] > 0)
            .map(|&j| format!("{} {}", names[j], s.top_joint_counts[j]))
            .collect();
        println!(
            "  {:<10} {:.3} ({}/{}; on a rotated joint {}); most often top: {}",
            s.method,
            s.limb_fraction,
            s.top_on_limb,
            s.correct_sick_windows,
            s.top_on_locus_joint,
            common.join(", ")
        );
        let groups: Vec<String> = s
            .per_group
            .iter()
            .map(|(g, n, hits)| format!("{g} {hits}/{n}"))
            .collect();
        println!("             per pathology: {}", groups.join(", "));
    }
}

/// Prints the untrained network's locus scores beside the trained one's.
fn print_control(c: &gaitlens::explain::TruthReport, seed: u64) {
    let scores: Vec<String> = c
        .locus
        .iter()
        .map(|s| {
            format!(
                "{} {:.3} ({}/{})",
                s.method, s.limb_fraction, s.top_on_limb, s.correct_sick_windows
            )
        })
        .collect();
    println!(
        "untrained control (same architecture, seed {seed}; accuracy {:.3}): {}",
        c.accuracy,
        scores.join(", ")
    );
    println!(
        "  (a locus score the untrained network reaches too comes from the data and the \
         baseline, not from what the network learnt)"
    );
}

/// Writes the report (with the control, if run) as JSON, atomically.
fn write_report(
    out: &Path,
    report: &gaitlens::explain::TruthReport,
    control: Option<&gaitlens::explain::TruthReport>,
    calibration: &serde_json::Value,
) -> anyhow::Result<()> {
    let mut value = serde_json::to_value(report)?;
    if let Some(obj) = value.as_object_mut() {
        obj.insert("calibration".into(), calibration.clone());
        if let Some(c) = control {
            obj.insert("untrained_control".into(), serde_json::to_value(c)?);
        }
    }
    let json = serde_json::to_vec_pretty(&value)?;
    write_atomic(out, &json).with_context(|| format!("writing {}", out.display()))?;
    println!("report written to {}", out.display());
    Ok(())
}
