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
    /// Fold to evaluate (default: the fold the network was trained with, from its card; for a
    /// network trained with --inner-fold, that inner validation fold).
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
    /// Skip the controls (scored on the same windows as the rules): the network-free deviation
    /// from the normative gait, random relevance, gradient × input, and every rule on an
    /// untrained network of the same architecture (and on --shuffled-network).
    #[arg(long)]
    pub no_control: bool,
    /// A network trained on shuffled labels (`gaitlens train … --shuffle-labels`, same
    /// architecture and cohort): every rule is also scored on it, as a control.
    #[arg(long)]
    pub shuffled_network: Option<PathBuf>,
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

/// The windows a card is evaluated on, and a phrase naming them: its inner validation fold when
/// it was trained for nested validation (`train --inner-fold`), else its fold (or `fold`).
fn card_fold(
    ds: &WindowDataset,
    card: &gaitlens::train::ModelCard,
    fold: Option<usize>,
) -> anyhow::Result<(gaitlens::dataset::Fold, String)> {
    let (k, outer) = (card.training.folds, card.training.fold);
    Ok(match (fold, card.training.inner_fold) {
        (None, Some(inner)) => (
            gaitlens::dataset::nested_fold(ds, k, outer, inner)?,
            format!(
                "inner fold {inner} of the training subjects of fold {outer}/{k} (validation; \
                 the test fold is not touched)"
            ),
        ),
        (f, _) => {
            let f = f.unwrap_or(outer);
            (k_fold_by_subject(ds, k, f)?, format!("fold {f}/{k}"))
        }
    })
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
    let (fold, _) = card_fold(&ds, &card, None)?;
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

/// `gaitlens evaluate`: accuracy per injected pathology, and each rule's and control's locus
/// (joint positions and joint angles) and AOPC on the network's correctly classified sick
/// windows of the held-out subjects of a synthetic cohort.
pub fn evaluate_cmd(a: EvaluateArgs) -> anyhow::Result<ExitCode> {
    let device = Default::default();
    let (net, card) = load_network(&a.network, &device)?;
    let truths = gaitlens::synth::read_ground_truth(&a.data)?;
    let ds = card_windows(&card, &a.data, a.stride)?;
    let (fold, split) = card_fold(&ds, &card, a.fold)?;
    let normative = normative_for(&card, &ds, &fold.train)?;
    let rules = if a.rules.is_empty() && card.network_type == "transformer" {
        vec![Rule::CpLrp, Rule::AttnLrp, Rule::Attention]
    } else if a.rules.is_empty() && card.network_type == "asymmetry" {
        // No layers to propagate relevance through: its explanation is gradient × input.
        vec![Rule::Recommended]
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
    let untrained = (!a.no_control).then(|| {
        <A as burn::tensor::backend::Backend>::seed(&device, card.training.seed);
        gaitlens::train::init_untrained::<A>(&card.network, &device)
    });
    let shuffled = match &a.shuffled_network {
        Some(path) => Some(shuffled_control(path, &card, &device)?),
        None => None,
    };
    let controls = Controls {
        untrained: untrained.as_ref(),
        shuffled: shuffled.as_ref(),
        seed: card.training.seed,
    };
    let methods = scored_methods(&a, &card.network_type, &net, &rules, &normative, &controls);
    eprintln!(
        "evaluating {} ({}) on {split}: {} held-out windows, {} methods",
        a.network.display(),
        card.network_type,
        fold.eval.len(),
        methods.len()
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
        normative: Some(&normative),
    };
    let report =
        gaitlens::explain::evaluate_against_truth(&net, set, &methods, 64, &device, |done, _| {
            bar.set_position(done as u64)
        })?;
    bar.finish_and_clear();
    print_report(&report);
    let calibration = calibration_of(&card, &report);
    if let Some(out) = &a.out {
        write_report(out, &report, &calibration)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The control networks of an evaluation.
struct Controls<'a> {
    /// An untrained network of the same architecture.
    untrained: Option<&'a LoadedModel<A>>,
    /// A network trained on shuffled labels.
    shuffled: Option<&'a LoadedModel<A>>,
    /// Seed of the random-relevance control.
    seed: u64,
}

/// Loads the shuffled-label control and checks it reads the same windows as the network.
fn shuffled_control(
    path: &Path,
    card: &gaitlens::train::ModelCard,
    device: &burn::backend::ndarray::NdArrayDevice,
) -> anyhow::Result<LoadedModel<A>> {
    let (net, c) = load_network(path, device)?;
    if c.network_type != card.network_type || c.interval != card.interval {
        bail!(
            "{}: a {} network of {} frames; the evaluated network is a {} of {} frames (the \
             shuffled-label control must have the same architecture)",
            path.display(),
            c.network_type,
            c.interval,
            card.network_type,
            card.interval
        );
    }
    if c.alignment_version != card.alignment_version {
        bail!(
            "{}: windows aligned with {}, the evaluated network's with {}",
            path.display(),
            c.alignment_version,
            card.alignment_version
        );
    }
    Ok(net)
}

/// Every rule × baseline asked for (attention has no normative variant), then the controls.
fn scored_methods<'a>(
    a: &EvaluateArgs,
    network_type: &str,
    net: &'a LoadedModel<A>,
    rules: &[Rule],
    normative: &'a gaitlens::explain::NormativeGait,
    controls: &Controls<'a>,
) -> Vec<gaitlens::explain::ScoredMethod<'a, A>> {
    use gaitlens::explain::{Attribution, ExplainMethod, ScoredMethod};
    let name_of = |r: Rule| {
        r.to_possible_value()
            .map(|v| v.get_name().to_string())
            .unwrap_or_default()
    };
    let mut methods = Vec::new();
    for &b in &a.baselines {
        for &r in rules {
            let (suffix, reference) = match b {
                BaselineArg::Zero => ("", None),
                BaselineArg::Normative if r == Rule::Attention => continue,
                BaselineArg::Normative => ("-normative", Some(normative)),
            };
            let name = format!("{}{suffix}", name_of(r));
            methods.push(ScoredMethod::network(name, net, rule_method(r), reference));
        }
    }
    if a.no_control {
        return methods;
    }
    methods.push(ScoredMethod::control(
        "control:deviation",
        Attribution::Deviation,
    ));
    methods.push(ScoredMethod::control(
        "control:random",
        Attribution::Random {
            seed: controls.seed,
        },
    ));
    // The gradient × input control, unless a scored rule already is it (the asymmetry
    // network's recommended explanation): the same relevance would be listed twice, once as
    // the network's method and once as its control.
    let rule_is_gradxinput = a.baselines.contains(&BaselineArg::Normative)
        && rules
            .iter()
            .any(|&r| rule_method(r).resolved_for(network_type) == ExplainMethod::GradientInput);
    if rule_is_gradxinput {
        eprintln!(
            "note: {network_type}'s scored rule is gradient × input itself, so the \
             gradient × input control is left out"
        );
    } else {
        methods.push(ScoredMethod {
            control: true,
            ..ScoredMethod::network(
                "control:gradxinput-normative",
                net,
                ExplainMethod::GradientInput,
                Some(normative),
            )
        });
    }
    let networks = [
        ("untrained", controls.untrained),
        ("shuffled", controls.shuffled),
    ];
    for (label, model) in networks {
        let Some(model) = model else { continue };
        for &r in rules.iter().filter(|&&r| r != Rule::Attention) {
            methods.push(ScoredMethod {
                control: true,
                ..ScoredMethod::network(
                    format!("control:{label}/{}-normative", name_of(r)),
                    model,
                    rule_method(r),
                    Some(normative),
                )
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

/// Prints accuracy per group, then each method's locus (both spaces, with 95 % CIs and chance)
/// and AOPC on the scored windows, then the joint-level locus per pathology.
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
    let Some(first) = report.locus.first() else {
        return;
    };
    println!(
        "\nlocus on the network's {} correctly classified sick windows (every method, control \
         or not, is scored on exactly these); top joint on the injected limb / on the rotated \
         joint itself, in joint-position (pos) and joint-angle (ang) space; [95 % CI by \
         subject]; AOPC = mean logit drop replacing the top 0..{} joints by the normative gait",
        first.correct_sick_windows,
        gaitlens::explain::ground_truth::AOPC_STEPS
    );
    let f = |x: &gaitlens::explain::Fraction| {
        format!("{:.3} [{:.2},{:.2}]", x.value, x.ci95[0], x.ci95[1])
    };
    println!(
        "{:<34} {:>18} {:>18} {:>18} {:>18} {:>20}",
        "method", "pos limb", "pos joint", "ang limb", "ang joint", "AOPC"
    );
    let angle_chance = report.locus.iter().find_map(|s| s.angle.as_ref());
    println!(
        "{:<34} {:>18.3} {:>18.3} {:>18} {:>18}",
        "(chance: random top joint)",
        first.position.limb.chance,
        first.position.joint.chance,
        angle_chance.map_or("-".into(), |a| format!("{:.3}", a.limb.chance)),
        angle_chance.map_or("-".into(), |a| format!("{:.3}", a.joint.chance)),
    );
    for s in &report.locus {
        println!(
            "{:<34} {:>18} {:>18} {:>18} {:>18} {:>20}",
            s.method,
            f(&s.position.limb),
            f(&s.position.joint),
            s.angle.as_ref().map_or("-".into(), |a| f(&a.limb)),
            s.angle.as_ref().map_or("-".into(), |a| f(&a.joint)),
            s.aopc.map_or("-".into(), |a| format!(
                "{:.2} [{:.2},{:.2}]",
                a.value, a.ci95[0], a.ci95[1]
            ))
        );
    }
    print_per_group(report);
}

/// Joint-level locus per pathology (rotated joint on top), position and angle space.
fn print_per_group(report: &gaitlens::explain::TruthReport) {
    let names = &default_body().joint_names;
    println!("\nper pathology: rotated joint on top, pos / ang (windows); most often top (ang)");
    for s in &report.locus {
        let groups: Vec<String> = s
            .position
            .per_group
            .iter()
            .map(|g| {
                let ang = s
                    .angle
                    .as_ref()
                    .and_then(|a| a.per_group.iter().find(|h| h.group == g.group))
                    .map_or("-".into(), |h| {
                        format!("{:.2}", h.on_joint as f64 / h.windows.max(1) as f64)
                    });
                format!(
                    "{} {:.2}/{ang} ({})",
                    g.group,
                    g.on_joint as f64 / g.windows.max(1) as f64,
                    g.windows
                )
            })
            .collect();
        let counts = s
            .angle
            .as_ref()
            .map_or(&s.position.top_joint_counts, |a| &a.top_joint_counts);
        let mut top: Vec<usize> = (0..counts.len()).collect();
        top.sort_by_key(|&j| std::cmp::Reverse(counts[j]));
        let common: Vec<String> = top
            .iter()
            .take(3)
            .filter(|&&j| counts[j] > 0)
            .map(|&j| format!("{} {}", names[j], counts[j]))
            .collect();
        println!(
            "  {:<32} {}; top: {}",
            s.method,
            groups.join(", "),
            common.join(", ")
        );
    }
}

/// Writes the report as JSON, atomically.
fn write_report(
    out: &Path,
    report: &gaitlens::explain::TruthReport,
    calibration: &serde_json::Value,
) -> anyhow::Result<()> {
    let mut value = serde_json::to_value(report)?;
    if let Some(obj) = value.as_object_mut() {
        obj.insert("calibration".into(), calibration.clone());
    }
    let json = serde_json::to_vec_pretty(&value)?;
    write_atomic(out, &json).with_context(|| format!("writing {}", out.display()))?;
    println!("report written to {}", out.display());
    Ok(())
}
