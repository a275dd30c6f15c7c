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
    JointSequence, WindowConfig, WindowDataset, align_movement_normalized, k_fold_by_subject,
    sequence_from_poses,
};
use gaitlens::explain::{ExplainMethod, LrpRule, classification_track, explain};
use gaitlens::formats::pose_seq::read_pose_dir;
use gaitlens::io_util::write_atomic;
use gaitlens::nn::{MarkerClassificationConfig, MultiMlpConfig};
use gaitlens::train::{
    CardExpectation, DatasetWindows, DeviceKind, NetworkConfig, OptimizerKind, TrainConfig,
    TrainEvent, load_checkpoint, save_checkpoint, train,
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
    /// Learning rate.
    #[arg(long, default_value_t = 1e-4)]
    pub lr: f64,
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
    let ds = gaitlens::dataset::WindowDataset::new(sequences, cfg)?;
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
    let network = match a.net {
        Net::Transformer => NetworkConfig::Transformer(
            MarkerClassificationConfig::new()
                .with_interval(a.interval)
                .with_pfe_dim(a.pfe_dim)
                .with_fc_dim(a.fc_dim)
                .with_ff_dim(a.ff_dim)
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
    tc.fold = a.fold;
    tc.folds = a.folds;
    tc.seed = a.seed;
    tc.use_pos_ratio = a.use_pos_ratio;
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
    /// First frame of the explained window.
    #[arg(long, default_value_t = 0)]
    pub start: usize,
    /// Relevance rule.
    #[arg(long, value_enum, default_value_t = Rule::Eps)]
    pub rule: Rule,
    /// CSV of relevance per frame × joint (signed, raw).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also classify every window of the sequence (sliding track) and print it.
    #[arg(long)]
    pub track: bool,
}

fn load_sequence(model: &gaitlens::body::BodyModel, dir: &Path) -> anyhow::Result<JointSequence> {
    let poses = read_pose_dir(dir)?;
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

pub fn explain_cmd(a: ExplainArgs) -> anyhow::Result<ExitCode> {
    let device = Default::default();
    let expect = CardExpectation {
        interval: None,
        joints: Some(22),
        alignment_version: Some(gaitlens::dataset::ALIGNMENT_VERSION.to_string()),
    };
    let (net, card) = load_checkpoint::<A>(&a.network, &expect, &device)
        .with_context(|| format!("loading network {}", a.network.display()))?;
    let model = default_body();
    let mut seq = load_sequence(model, &a.sequence)?;
    let interval = card.interval;
    // A sequence at another rate than the network's is resampled to it (see FrameMap); frame
    // numbers printed and written stay the sequence's own.
    let map = match (card.rate_hz, seq.rate_hz) {
        (Some(_), Some(r)) => gaitlens::dataset::FrameMap::new(card.rate_hz, r),
        _ => gaitlens::dataset::FrameMap::new(None, 1.0),
    };
    let n = seq.joints.len();
    let window = map.window_frames(interval);
    if n < window {
        bail!(
            "{}: {n} frames, the network needs windows of {window}",
            a.sequence.display()
        );
    }
    if a.start + window > n {
        bail!(
            "--start {}: the window {}..{} runs past the {n} frames (max start {})",
            a.start,
            a.start,
            a.start + window,
            n - window
        );
    }
    let start = if map.is_identity() {
        a.start
    } else {
        eprintln!(
            "resampling {:.0} Hz → the network's {:.0} Hz ({window} frames a window)",
            seq.rate_hz.unwrap_or_default(),
            card.rate_hz.unwrap_or_default()
        );
        seq.joints = map.resample(&seq.joints);
        map.network_start(a.start, seq.joints.len(), interval)
    };
    let aligned = align_movement_normalized(&seq.joints[start..start + interval])?;
    let flat: Vec<f32> = aligned
        .iter()
        .flat_map(|f| f.iter().flat_map(|j| *j))
        .collect();
    let x = Tensor::<A, 4>::from_data(TensorData::new(flat, [1, interval, 22, 3]), &device);
    let method = match a.rule {
        Rule::Eps => ExplainMethod::Lrp(LrpRule::Epsilon(0.25)),
        Rule::Zplus => ExplainMethod::Lrp(LrpRule::ZPlus),
        Rule::Gamma => ExplainMethod::Lrp(LrpRule::Gamma(0.25)),
        Rule::Attention => ExplainMethod::Attention,
    };
    let e = explain(&net, x, method)?;
    let e = &e[0];
    let p = 1.0 / (1.0 + (-e.logit as f64).exp());
    println!(
        "{}: {} with probability {:.3} (logit {:.3}), frames {}–{} ({} network)",
        a.sequence.display(),
        if p >= 0.5 { "sick" } else { "healthy" },
        if p >= 0.5 { p } else { 1.0 - p },
        e.logit,
        a.start,
        a.start + window - 1,
        card.network_type
    );
    let totals = e.joint_totals();
    let mut order: Vec<usize> = (0..totals.len()).collect();
    order.sort_by(|&i, &j| totals[j].abs().total_cmp(&totals[i].abs()));
    let names = &model.joint_names;
    println!("most relevant joints (summed signed relevance):");
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
        let ds = WindowDataset::new(
            vec![seq],
            WindowConfig {
                interval,
                stride: 1,
                mirror: false,
            },
        )?;
        let track = classification_track(&net, &ds, 0, 64, &device)?;
        println!("classification track (start frame, P(sick)):");
        for t in track.iter().step_by((track.len() / 40).max(1)) {
            println!(
                "  {:>5}  {:.3}",
                map.to_sequence(t.start_frame),
                t.probability
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
