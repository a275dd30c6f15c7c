//! `gaitlens train` and `gaitlens explain`: the 3D gait classifiers and their explanations.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use burn::backend::{Autodiff, NdArray};
use burn::tensor::{Tensor, TensorData};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use gaitlens::body::default_model::default_body;
use gaitlens::dataset::{
    Alignment, JointSequence, WindowConfig, WindowDataset, k_fold_by_subject, sequence_from_poses,
};
use gaitlens::explain::{
    ExplainMethod, LrpRule, check_rate_hz, classification_track, explain_relative,
    inference_network, window_span,
};
use gaitlens::formats::pose_seq::read_pose_dir;
use gaitlens::io_util::write_atomic;
use gaitlens::nn::{
    ClsInit, MarkerClassificationConfig, MultiMlpConfig, Pooling, StandardizationScale,
};
use gaitlens::train::{
    CardExpectation, DatasetWindows, DeviceKind, LrSchedule, NetworkConfig, OptimizerKind,
    TrainConfig, TrainEvent, load_checkpoint, save_checkpoint, train,
};

type A = Autodiff<NdArray>;

/// Which network to train.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Net {
    /// The original marker transformer (per-frame joint encoder + temporal encoder).
    Transformer,
    /// The per-frame MLP (LRP-ready).
    Mlp,
}

/// Window alignment of `gaitlens train --alignment`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AlignArg {
    /// The original's: y and z mapped to [−1, 1] by each window's extremes.
    Original,
    /// The same rotation, every axis divided by the body height (keeps local changes local).
    Isotropic,
    /// The body's own facing direction with the progression removed (treadmill and overground
    /// walks alike), every axis divided by the body height.
    Heading,
}

/// Input standardisation of `gaitlens train --standardize`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Standardize {
    /// Centre each joint coordinate, one scale per axis.
    PerAxis,
    /// Centre and scale each joint coordinate by its own deviation.
    PerCoordinate,
}

/// Learning-rate schedule of `gaitlens train --lr-schedule`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LrScheduleArg {
    /// The same rate throughout (the original).
    Constant,
    /// Linear warm-up, then cosine decay to 1 % of the peak.
    WarmupCosine,
}

/// Arguments of `gaitlens train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Network type.
    #[arg(value_enum)]
    pub net: Net,
    /// Folder `DIR/<healthy|sick>/<subject>/<gait>/pose_*.json` (gaitlens fit --cohort or synth output).
    #[arg(long)]
    pub data: PathBuf,
    /// Output stem: writes STEM.mpk (weights) and STEM.json (model card).
    #[arg(long)]
    pub out: PathBuf,
    /// Window length in frames.
    #[arg(long, default_value_t = 128)]
    pub interval: usize,
    /// Window stride in frames (the original uses 1).
    #[arg(long, default_value_t = 1)]
    pub stride: usize,
    /// Batch size.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Epochs.
    #[arg(long, default_value_t = 25)]
    pub epochs: usize,
    /// Learning rate (the peak rate under `--lr-schedule warmup-cosine`).
    #[arg(long, default_value_t = 1e-4)]
    pub lr: f64,
    /// Learning-rate schedule: `constant` (the original) or `warmup-cosine` (linear warm-up over
    /// `--warmup-epochs`, then a cosine decay to 1 % of `--lr` at the last step).
    #[arg(long, value_enum, default_value_t = LrScheduleArg::Constant)]
    pub lr_schedule: LrScheduleArg,
    /// Warm-up epochs of `--lr-schedule warmup-cosine` (fractions allowed).
    #[arg(long, default_value_t = 1.0)]
    pub warmup_epochs: f64,
    /// Which fold is held out for evaluation.
    #[arg(long, default_value_t = 0)]
    pub fold: usize,
    /// Number of folds (split by subject).
    #[arg(long, default_value_t = 5)]
    pub folds: usize,
    /// Random seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Weight positives by the class ratio (BCE pos_weight).
    #[arg(long)]
    pub use_pos_ratio: bool,
    /// Optimizer: ADOPT (as the original) or Adam.
    #[arg(long, default_value = "adopt")]
    pub optimizer: String,
    /// cpu or gpu (wgpu; needs the `gpu` feature).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Subtract each frame's pelvis x from every joint before the network (off in the original;
    /// removes the walk's forward progression, which otherwise dominates the input).
    #[arg(long)]
    pub pelvis_relative: bool,
    /// Standardise the input with the training data's statistics before the first layer (not in
    /// the original; stored in the model card): centre every joint coordinate and scale by the
    /// pooled deviation of its axis (`per-axis`) or by its own (`per-coordinate`).
    #[arg(long, value_enum)]
    pub standardize: Option<Standardize>,
    /// Window alignment, recorded in the model card (`original` is the original pipeline's).
    #[arg(long, value_enum, default_value_t = AlignArg::Original)]
    pub alignment: AlignArg,
    /// Frame rate of the sequences in Hz, recorded in the model card so viewers resample other
    /// rates to it. Default: taken from the data (fit reports, a synth cohort's ground truth).
    #[arg(long)]
    pub rate_hz: Option<f64>,
    /// MLP per-frame layer widths (the original's `--pfe_layers`).
    #[arg(long, value_delimiter = ',', default_value = "16,32,64,32,16")]
    pub pfe_layers: Vec<usize>,
    /// MLP layer widths over the flattened window (the original's `--fc_layers`).
    #[arg(long, value_delimiter = ',', default_value = "32,64,128,64,32")]
    pub fc_layers: Vec<usize>,
    /// Transformer joint-level width (the original's `--pfe_dim`).
    #[arg(long, default_value_t = 64)]
    pub pfe_dim: usize,
    /// Transformer frame-level width (the original's `--fc_dim`).
    #[arg(long, default_value_t = 32)]
    pub fc_dim: usize,
    /// Transformer feed-forward width (PyTorch's default 2048, as the original).
    #[arg(long, default_value_t = 2048)]
    pub ff_dim: usize,
    /// Transformer: give every joint its own embedding weights on top of the shared one (not in
    /// the original; lets the joint-level attention tell joints apart by their coordinates).
    #[arg(long)]
    pub per_joint_embedding: bool,
    /// Transformer: initialisation of the CLS tokens (`uniform` in [0, 1) as the original, or
    /// `small`, normal with deviation 0.02 as BERT/ViT).
    #[arg(long, value_enum, default_value_t = ClsInitArg::Uniform)]
    pub cls_init: ClsInitArg,
    /// Transformer: what the head classifies (`cls`, the temporal CLS token as the original, or
    /// `mean`, the mean of the frame tokens).
    #[arg(long, value_enum, default_value_t = PoolingArg::Cls)]
    pub pooling: PoolingArg,
    /// Transformer: LayerNorm on the per-frame features and on the pooled feature (not in the
    /// original).
    #[arg(long)]
    pub final_norm: bool,
    /// Transformer encoder layers per level (the original: 1).
    #[arg(long, default_value_t = 1)]
    pub layers: usize,
    /// Transformer: start every frame's joint-level CLS token from a linear map of the frame's
    /// whole pose (not in the original).
    #[arg(long)]
    pub frame_token: bool,
    /// Transformer: dropout probability in both encoder layers during training (PyTorch's
    /// default 0.1, as the original).
    #[arg(long, default_value_t = 0.1)]
    pub dropout: f64,
}

/// `--cls-init` values.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ClsInitArg {
    Uniform,
    Small,
}

/// `--pooling` values.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PoolingArg {
    Cls,
    Mean,
}

pub fn train_cmd(a: TrainArgs) -> anyhow::Result<ExitCode> {
    let model = default_body();
    let cfg = WindowConfig {
        interval: a.interval,
        stride: a.stride.max(1),
        mirror: true,
    };
    let mut sequences = gaitlens::dataset::load_joint_dataset(&a.data, model)?;
    if let Some(rate) = a.rate_hz {
        if !(rate.is_finite() && rate > 0.0) {
            bail!("--rate-hz {rate}: expected a positive frame rate");
        }
        for s in &mut sequences {
            s.rate_hz = Some(rate);
        }
    }
    let mut ds = gaitlens::dataset::WindowDataset::new(sequences, cfg)?;
    ds.alignment = match a.alignment {
        AlignArg::Original => Alignment::Original,
        AlignArg::Isotropic => Alignment::Isotropic,
        AlignArg::Heading => Alignment::Heading,
    };
    match ds.common_rate_hz() {
        Some(r) => eprintln!("frame rate {r} Hz (recorded in the model card)"),
        None => eprintln!(
            "warning: frame rate unknown or mixed; the model card will not record one \
             (give --rate-hz so viewers can resample other rates)"
        ),
    }
    let fold = k_fold_by_subject(&ds, a.folds, a.fold)?;
    eprintln!(
        "{} sequences, {} windows: {} train / {} eval (fold {}/{})",
        ds.sequences.len(),
        ds.windows.len(),
        fold.train.len(),
        fold.eval.len(),
        a.fold,
        a.folds
    );
    if !(a.warmup_epochs.is_finite() && a.warmup_epochs >= 0.0) {
        bail!(
            "--warmup-epochs {}: expected a finite number of warm-up epochs ≥ 0",
            a.warmup_epochs
        );
    }
    if !(0.0..1.0).contains(&a.dropout) {
        bail!("--dropout {}: expected a probability in [0, 1)", a.dropout);
    }
    let network = match a.net {
        Net::Transformer => NetworkConfig::Transformer(
            MarkerClassificationConfig::new()
                .with_interval(a.interval)
                .with_pfe_dim(a.pfe_dim)
                .with_fc_dim(a.fc_dim)
                .with_ff_dim(a.ff_dim)
                .with_per_joint_embedding(a.per_joint_embedding)
                .with_cls_init(match a.cls_init {
                    ClsInitArg::Uniform => ClsInit::Uniform,
                    ClsInitArg::Small => ClsInit::Small,
                })
                .with_pooling(match a.pooling {
                    PoolingArg::Cls => Pooling::Cls,
                    PoolingArg::Mean => Pooling::Mean,
                })
                .with_final_norm(a.final_norm)
                .with_layers(a.layers)
                .with_frame_token(a.frame_token)
                .with_dropout(a.dropout)
                .with_pelvis_relative_x(a.pelvis_relative),
        ),
        Net::Mlp => NetworkConfig::LrpMlp(
            MultiMlpConfig::new()
                .with_interval(a.interval)
                .with_pfe_layers(a.pfe_layers.clone())
                .with_fc_layers(a.fc_layers.clone())
                .with_pelvis_relative_x(a.pelvis_relative),
        ),
    };
    let mut tc = TrainConfig::new(network);
    tc.batch_size = a.batch_size;
    tc.epochs = a.epochs;
    tc.lr = a.lr;
    tc.lr_schedule = match a.lr_schedule {
        LrScheduleArg::Constant => LrSchedule::Constant,
        LrScheduleArg::WarmupCosine => LrSchedule::WarmupCosine {
            warmup_epochs: a.warmup_epochs,
        },
    };
    tc.fold = a.fold;
    tc.folds = a.folds;
    tc.seed = a.seed;
    tc.use_pos_ratio = a.use_pos_ratio;
    tc.standardize_input = a.standardize.map(|s| match s {
        Standardize::PerAxis => StandardizationScale::PerAxis,
        Standardize::PerCoordinate => StandardizationScale::PerCoordinate,
    });
    tc.optimizer = match a.optimizer.as_str() {
        "adopt" => OptimizerKind::Adopt,
        "adam" => OptimizerKind::Adam,
        o => bail!("--optimizer {o}: expected adopt or adam"),
    };
    tc.device = match a.device.as_str() {
        "cpu" => DeviceKind::Cpu,
        "gpu" => DeviceKind::Gpu,
        d => bail!("--device {d}: expected cpu or gpu"),
    };
    let train_src = DatasetWindows {
        dataset: &ds,
        windows: fold.train.clone(),
    };
    let eval_src = DatasetWindows {
        dataset: &ds,
        windows: fold.eval.clone(),
    };
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("epoch {msg} [{bar:40}] {pos}/{len} batches {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let outcome = train(&tc, &train_src, &eval_src, |e| match e {
        TrainEvent::Started {
            train_batches,
            eval_batches,
            ..
        } => bar.set_length((train_batches + eval_batches) as u64),
        TrainEvent::Batch { epoch, .. } => {
            bar.set_message(format!("{}", epoch + 1));
            bar.inc(1);
        }
        TrainEvent::Epoch(r) => {
            bar.suspend(|| {
                eprintln!(
                "epoch {:>3}: train loss {:.4} acc {:.3} | eval loss {:.4} acc {:.3} prec {:.3} rec {:.3} spec {:.3} F1 {:.3}",
                r.epoch + 1,
                r.train_loss,
                r.train.accuracy,
                r.eval_loss,
                r.eval.accuracy,
                r.eval.precision,
                r.eval.recall,
                r.eval.specificity,
                r.eval.f1
            )
            });
            bar.set_position(0);
        }
    })?;
    bar.finish_and_clear();
    let (rec, card) = save_checkpoint(&outcome, &a.out)?;
    println!("wrote {} and {}", rec.display(), card.display());
    Ok(ExitCode::SUCCESS)
}

/// Relevance rule for `explain`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Rule {
    /// LRP-ε (ε = 0.25, as the original).
    Eps,
    /// LRP-z⁺.
    Zplus,
    /// LRP-γ (γ = 0.25).
    Gamma,
    /// The original's attention explanation (transformer only).
    Attention,
}

/// Arguments of `gaitlens explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// Model card (STEM.json) written by `gaitlens train`.
    #[arg(long)]
    pub network: PathBuf,
    /// Pose folder of one gait (pose_*.json|txt).
    #[arg(long)]
    pub sequence: PathBuf,
    /// The explained window, rule and baseline.
    #[command(flatten)]
    pub window: WindowArgs,
    /// CSV of relevance per frame × joint (signed, raw).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also classify every window of the sequence (sliding track) and print it.
    #[arg(long)]
    pub track: bool,
}

/// Loads a pose folder; a frame rate its `fit_report.json` states must be in
/// [`gaitlens::explain::RATE_RANGE_HZ`].
pub(super) fn load_sequence(
    model: &gaitlens::body::BodyModel,
    dir: &Path,
) -> anyhow::Result<JointSequence> {
    let poses = read_pose_dir(dir)?;
    if let Some(r) = poses.rate_hz
        && let Err(reason) = check_rate_hz(r)
    {
        bail!("{}: {reason}", dir.join("fit_report.json").display());
    }
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(sequence_from_poses(
        model,
        &poses,
        &name,
        &name,
        false,
        vec![],
    )?)
}

/// Loads a network for `explain` / `evaluate`: 22 joints, any alignment this build knows.
pub(super) fn load_network(
    card_path: &Path,
    device: &burn::backend::ndarray::NdArrayDevice,
) -> anyhow::Result<(gaitlens::train::LoadedModel<A>, gaitlens::train::ModelCard)> {
    let expect = CardExpectation {
        interval: None,
        joints: Some(22),
        alignment_version: None,
    };
    let (net, card) = load_checkpoint::<A>(card_path, &expect, device)
        .with_context(|| format!("loading network {}", card_path.display()))?;
    if let Some(r) = card.rate_hz
        && let Err(reason) = check_rate_hz(r)
    {
        bail!("{}: {reason}", card_path.display());
    }
    Ok((net, card))
}

/// One explained window of a sequence: what `explain` prints and `export` colours the body with.
pub struct ExplainedWindow {
    /// The explanation (relevance per network frame × joint, logit).
    pub explanation: gaitlens::explain::Explanation,
    /// Sequence ↔ network frame mapping (identity when the rates agree).
    pub map: gaitlens::dataset::FrameMap,
    /// First network frame of the window in the (resampled) sequence.
    pub network_start: usize,
    /// Window length in sequence frames.
    pub window: usize,
    /// "relative to …" for printing.
    pub relative_to: &'static str,
    /// Out-of-domain check of the window, if the card has statistics.
    pub domain: Option<gaitlens::explain::domain::DomainCheck>,
}

/// Which window to explain and how: the options `explain` and `export` share.
#[derive(Debug, Clone, Copy, Args)]
pub struct WindowArgs {
    /// First frame of the explained window.
    #[arg(long, default_value_t = 0)]
    pub start: usize,
    /// Relevance rule.
    #[arg(long, value_enum, default_value_t = Rule::Eps)]
    pub rule: Rule,
    /// What relevance is relative to (default: `normative` when the network card has a
    /// normative gait, else `zero`, the original's).
    #[arg(long, value_enum)]
    pub baseline: Option<BaselineArg>,
}

/// What a window explanation is asked for.
pub struct WindowRequest<'a> {
    /// The network's model card (for messages).
    pub network: &'a Path,
    /// The pose folder (for messages).
    pub sequence: &'a Path,
    /// Window start, rule and baseline.
    pub window: WindowArgs,
}

/// Explains the window of `seq` starting at sequence frame `req.start` (resampled to the
/// network's rate when they differ). `seq.joints` is left resampled.
pub fn explain_sequence_window(
    net: &gaitlens::train::LoadedModel<A>,
    card: &gaitlens::train::ModelCard,
    seq: &mut JointSequence,
    req: &WindowRequest,
    device: &burn::backend::ndarray::NdArrayDevice,
) -> anyhow::Result<ExplainedWindow> {
    let a = req;
    let w = req.window;
    let interval = card.interval;
    // A sequence at another rate than the network's is resampled to it (see FrameMap); frame
    // numbers printed and written stay the sequence's own.
    let map = match (card.rate_hz, seq.rate_hz) {
        (Some(_), Some(r)) => gaitlens::dataset::FrameMap::new(card.rate_hz, r),
        _ => gaitlens::dataset::FrameMap::new(None, 1.0),
    };
    let n = seq.joints.len();
    let span = window_span(&map, interval).with_context(|| {
        format!(
            "{}: a window of {interval} frames at {:?} Hz spans too many frames of {} at {:?} Hz",
            a.network.display(),
            card.rate_hz,
            a.sequence.display(),
            seq.rate_hz
        )
    })?;
    let window = span.window;
    if n < span.needed {
        bail!(
            "{}: {n} frames, too short for one window: the network needs {} frames ({})",
            a.sequence.display(),
            span.needed,
            if map.is_identity() {
                format!("its window is {interval} frames")
            } else {
                format!(
                    "a window of {interval} frames at its {} Hz",
                    card.rate_hz.unwrap_or_default()
                )
            }
        );
    }
    // n ≥ needed ≥ window: no underflow, and start ≤ last_start keeps start + window ≤ n.
    let last_start = n - window;
    if w.start > last_start {
        bail!(
            "--start {} is past the sequence's last window start {last_start} ({n} frames, \
             window {window}; {})",
            w.start,
            a.sequence.display()
        );
    }
    let start = if map.is_identity() {
        w.start
    } else {
        eprintln!(
            "resampling {:.0} Hz → the network's {:.0} Hz ({window} frames a window)",
            seq.rate_hz.unwrap_or_default(),
            card.rate_hz.unwrap_or_default()
        );
        seq.joints = map.resample(&seq.joints);
        map.network_start(w.start, seq.joints.len(), interval)
    };
    let frames = start
        .checked_add(interval)
        .and_then(|end| seq.joints.get(start..end))
        .with_context(|| {
            format!(
                "{}: {n} frames resample to {} at the network's rate, fewer than its window of \
                 {interval} from frame {start}",
                a.sequence.display(),
                seq.joints.len()
            )
        })?;
    let aligned = card.alignment().unwrap_or_default().apply(frames)?;
    let flat: Vec<f32> = aligned
        .iter()
        .flat_map(|f| f.iter().flat_map(|j| *j))
        .collect();
    let baseline = match (w.baseline, &card.normative_gait) {
        (Some(BaselineArg::Normative), None) => bail!(
            "{}: the network card has no normative gait (written before gaitlens learnt one, or \
             trained without healthy windows at a known frame rate); retrain it or use \
             --baseline zero",
            a.network.display()
        ),
        (Some(b), _) => b,
        (None, Some(_)) => BaselineArg::Normative,
        (None, None) => BaselineArg::Zero,
    };
    let reference = match (baseline, &card.normative_gait) {
        (BaselineArg::Normative, Some(n)) if w.rule != Rule::Attention => {
            Some(Tensor::<A, 4>::from_data(
                TensorData::new(n.reference_window(&flat), [1, interval, 22, 3]),
                device,
            ))
        }
        _ => None,
    };
    let relative_to = if reference.is_some() {
        "relative to the healthy gait at the same gait phase"
    } else {
        "relative to the zero input"
    };
    let domain = card.domain_check(&flat);
    let x = Tensor::<A, 4>::from_data(TensorData::new(flat, [1, interval, 22, 3]), device);
    let e = explain_relative(net, x, reference, rule_method(w.rule))?;
    let explanation = e
        .into_iter()
        .next()
        .context("the network returned no explanation")?;
    Ok(ExplainedWindow {
        explanation,
        map,
        network_start: start,
        window,
        relative_to,
        domain,
    })
}

pub fn explain_cmd(a: ExplainArgs) -> anyhow::Result<ExitCode> {
    let device = Default::default();
    let (net, card) = load_network(&a.network, &device)?;
    let model = default_body();
    let mut seq = load_sequence(model, &a.sequence)?;
    let req = WindowRequest {
        network: &a.network,
        sequence: &a.sequence,
        window: a.window,
    };
    let ExplainedWindow {
        explanation,
        map,
        network_start: start,
        window,
        relative_to,
        domain,
    } = explain_sequence_window(&net, &card, &mut seq, &req, &device)?;
    let interval = card.interval;
    let e = &explanation;
    let p = 1.0 / (1.0 + (-e.logit as f64).exp());
    println!(
        "{}: {} with probability {:.3} (logit {:.3}), frames {}–{} ({} network)",
        a.sequence.display(),
        if p >= 0.5 { "sick" } else { "healthy" },
        if p >= 0.5 { p } else { 1.0 - p },
        e.logit,
        a.window.start,
        a.window.start + window - 1,
        card.network_type
    );
    match domain {
        Some(d) => println!("{}", d.note()),
        None => println!(
            "the network card has no out-of-domain statistics (written before gaitlens stored \
             them): cannot tell whether this walk is like its training data"
        ),
    }
    let totals = e.joint_totals();
    let mut order: Vec<usize> = (0..totals.len()).collect();
    order.sort_by(|&i, &j| totals[j].abs().total_cmp(&totals[i].abs()));
    let names = &model.joint_names;
    println!("most relevant joints (summed signed relevance, {relative_to}):");
    for &j in order.iter().take(5) {
        println!("  {:<16} {:+.4}", names[j], totals[j]);
    }
    if let Some(out) = &a.out {
        let mut csv = String::from("frame");
        for n in names.iter().take(e.joints) {
            csv += &format!(",{n}");
        }
        csv.push('\n');
        for f in 0..e.interval {
            csv += &format!("{}", map.to_sequence(start + f));
            for j in 0..e.joints {
                csv += &format!(",{:.6e}", e.relevance[f * e.joints + j]);
            }
            csv.push('\n');
        }
        write_atomic(out, csv.as_bytes()).with_context(|| format!("writing {}", out.display()))?;
        println!("relevance written to {}", out.display());
    }
    if a.track {
        let mut ds = WindowDataset::new(
            vec![seq],
            WindowConfig {
                interval,
                stride: 1,
                mirror: false,
            },
        )?;
        ds.alignment = card.alignment().unwrap_or_default();
        // On the plain backend: inference without dropout, reproducible run to run.
        let track = classification_track(&inference_network(&net), &ds, 0, 64, &device)?;
        let outside: std::collections::HashMap<usize, bool> = (0..ds.windows.len())
            .filter_map(|i| {
                let check = card.domain_check(&ds.batch_data(&[i]).ok()?)?;
                Some((ds.windows[i].start, check.outside()))
            })
            .collect();
        println!("classification track (start frame, P(sick), * = outside the training data):");
        for t in track.iter().step_by((track.len() / 40).max(1)) {
            let mark = if outside.get(&t.start_frame) == Some(&true) {
                "  *"
            } else {
                ""
            };
            println!(
                "  {:>5}  {:.3}{mark}",
                map.to_sequence(t.start_frame),
                t.probability
            );
        }
        if card.domain.is_some() {
            let n = outside.values().filter(|&&o| o).count();
            println!(
                "{n} of {} windows outside the network's training data",
                outside.len()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

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
    /// Explanation methods to score, comma-separated (eps, zplus, gamma, attention).
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = vec![Rule::Eps, Rule::Zplus, Rule::Gamma])]
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

/// What relevance is relative to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BaselineArg {
    /// The zero input (plain LRP, as the original).
    Zero,
    /// The healthy gait at the same gait phase (the network card's normative table).
    Normative,
}

fn rule_method(rule: Rule) -> ExplainMethod {
    match rule {
        Rule::Eps => ExplainMethod::Lrp(LrpRule::Epsilon(0.25)),
        Rule::Zplus => ExplainMethod::Lrp(LrpRule::ZPlus),
        Rule::Gamma => ExplainMethod::Lrp(LrpRule::Gamma(0.25)),
        Rule::Attention => ExplainMethod::Attention,
    }
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
    };
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
    let mut methods = Vec::new();
    for &b in &a.baselines {
        for &r in &a.rules {
            let mut name = r
                .to_possible_value()
                .map(|v| v.get_name().to_string())
                .unwrap_or_default();
            let reference = match b {
                BaselineArg::Zero => None,
                BaselineArg::Normative if r == Rule::Attention => continue,
                BaselineArg::Normative => {
                    name += "-normative";
                    normative.as_ref()
                }
            };
            methods.push(gaitlens::explain::ScoredMethod {
                name,
                method: rule_method(r),
                reference,
            });
        }
    }
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
    };
    let report =
        gaitlens::explain::evaluate_against_truth(&net, set, &methods, 64, &device, |done, _| {
            bar.set_position(done as u64)
        })?;
    let control = if a.no_control {
        None
    } else {
        bar.set_message("untrained control");
        bar.set_position(0);
        <A as burn::tensor::backend::Backend>::seed(&device, card.training.seed);
        let untrained = gaitlens::train::init_untrained::<A>(&card.network, &device);
        Some(gaitlens::explain::evaluate_against_truth(
            &untrained,
            set,
            &methods,
            64,
            &device,
            |done, _| bar.set_position(done as u64),
        )?)
    };
    bar.finish_and_clear();
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
    if let Some(c) = &control {
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
            "untrained control (same architecture, seed {}; accuracy {:.3}): {}",
            card.training.seed,
            c.accuracy,
            scores.join(", ")
        );
        println!(
            "  (a locus score the untrained network reaches too comes from the data and the \
             baseline, not from what the network learnt)"
        );
    }
    if let Some(out) = &a.out {
        let mut value = serde_json::to_value(&report)?;
        if let (Some(c), Some(obj)) = (&control, value.as_object_mut()) {
            obj.insert("untrained_control".into(), serde_json::to_value(c)?);
        }
        let json = serde_json::to_vec_pretty(&value)?;
        write_atomic(out, &json).with_context(|| format!("writing {}", out.display()))?;
        println!("report written to {}", out.display());
    }
    Ok(ExitCode::SUCCESS)
}
