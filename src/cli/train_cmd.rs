//! `gaitlens train`: the 3D gait classifiers (marker transformer, per-frame MLPs) on a cohort.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use gaitlens::body::default_model::default_body;
use gaitlens::dataset::{Alignment, WindowConfig, k_fold_by_subject};
use gaitlens::nn::{
    ClsInit, MarkerClassificationConfig, MultiMlpConfig, Pooling, StandardizationScale,
};
use gaitlens::train::{
    DatasetWindows, DeviceKind, LrSchedule, NetworkConfig, OptimizerKind, TrainConfig, TrainEvent,
    save_checkpoint, train,
};

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
/// The library's training defaults (the original's, written once in [`TrainConfig::new`]); the
/// flags below show and use them.
fn train_defaults() -> TrainConfig {
    TrainConfig::new(NetworkConfig::Transformer(MarkerClassificationConfig::new()))
}

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
    #[arg(long, default_value_t = MarkerClassificationConfig::new().interval)]
    pub interval: usize,
    /// Window stride in frames (the original uses 1).
    #[arg(long, default_value_t = 1)]
    pub stride: usize,
    /// Batch size.
    #[arg(long, default_value_t = train_defaults().batch_size)]
    pub batch_size: usize,
    /// Epochs.
    #[arg(long, default_value_t = train_defaults().epochs)]
    pub epochs: usize,
    /// Learning rate (the peak rate under `--lr-schedule warmup-cosine`).
    #[arg(long, default_value_t = train_defaults().lr)]
    pub lr: f64,
    /// Learning-rate schedule: `constant` (the original) or `warmup-cosine` (linear warm-up over
    /// `--warmup-epochs`, then a cosine decay to 1 % of `--lr` at the last step).
    #[arg(long, value_enum, default_value_t = LrScheduleArg::Constant)]
    pub lr_schedule: LrScheduleArg,
    /// Warm-up epochs of `--lr-schedule warmup-cosine` (fractions allowed).
    #[arg(long, default_value_t = 1.0)]
    pub warmup_epochs: f64,
    /// Which fold is held out for evaluation.
    #[arg(long, default_value_t = train_defaults().fold)]
    pub fold: usize,
    /// Number of folds (split by subject).
    #[arg(long, default_value_t = train_defaults().folds)]
    pub folds: usize,
    /// Random seed.
    #[arg(long, default_value_t = train_defaults().seed)]
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
    #[arg(long, value_delimiter = ',', default_values_t = MultiMlpConfig::new().pfe_layers)]
    pub pfe_layers: Vec<usize>,
    /// MLP layer widths over the flattened window (the original's `--fc_layers`).
    #[arg(long, value_delimiter = ',', default_values_t = MultiMlpConfig::new().fc_layers)]
    pub fc_layers: Vec<usize>,
    /// Transformer joint-level width (the original's `--pfe_dim`).
    #[arg(long, default_value_t = MarkerClassificationConfig::new().pfe_dim)]
    pub pfe_dim: usize,
    /// Transformer frame-level width (the original's `--fc_dim`).
    #[arg(long, default_value_t = MarkerClassificationConfig::new().fc_dim)]
    pub fc_dim: usize,
    /// Transformer feed-forward width (PyTorch's default 2048, as the original).
    #[arg(long, default_value_t = MarkerClassificationConfig::new().ff_dim)]
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
    #[arg(long, default_value_t = MarkerClassificationConfig::new().layers)]
    pub layers: usize,
    /// Transformer: start every frame's joint-level CLS token from a linear map of the frame's
    /// whole pose (not in the original).
    #[arg(long)]
    pub frame_token: bool,
    /// Transformer: dropout probability in both encoder layers during training (PyTorch's
    /// default 0.1, as the original).
    #[arg(long, default_value_t = MarkerClassificationConfig::new().dropout)]
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

/// `gaitlens train`: loads the cohort, splits it by subject, trains with a progress bar and
/// writes the checkpoint.
pub fn train_cmd(a: TrainArgs) -> anyhow::Result<ExitCode> {
    let ds = load_windows(&a)?;
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
    let tc = train_config(&a)?;
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
    let outcome = train(&tc, &train_src, &eval_src, |e| show_progress(&bar, e))?;
    bar.finish_and_clear();
    let (rec, card) = save_checkpoint(&outcome, &a.out)?;
    println!("wrote {} and {}", rec.display(), card.display());
    Ok(ExitCode::SUCCESS)
}

/// The cohort's windows with the requested alignment (and frame rate, if given).
fn load_windows(a: &TrainArgs) -> anyhow::Result<gaitlens::dataset::WindowDataset> {
    let cfg = WindowConfig {
        interval: a.interval,
        stride: a.stride.max(1),
        mirror: true,
    };
    let mut sequences = gaitlens::dataset::load_joint_dataset(&a.data, default_body())?;
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
    Ok(ds)
}

/// The network the flags describe.
fn network_config(a: &TrainArgs) -> NetworkConfig {
    match a.net {
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
    }
}

/// The training configuration the flags describe; out-of-range values are errors naming the
/// flag.
fn train_config(a: &TrainArgs) -> anyhow::Result<TrainConfig> {
    if !(a.warmup_epochs.is_finite() && a.warmup_epochs >= 0.0) {
        bail!(
            "--warmup-epochs {}: expected a finite number of warm-up epochs ≥ 0",
            a.warmup_epochs
        );
    }
    if !(0.0..1.0).contains(&a.dropout) {
        bail!("--dropout {}: expected a probability in [0, 1)", a.dropout);
    }
    let mut tc = TrainConfig::new(network_config(a));
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
    Ok(tc)
}

/// Draws a training event: batches on the bar, one line per epoch above it.
fn show_progress(bar: &ProgressBar, e: TrainEvent) {
    match e {
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
                    "epoch {:>3}: train loss {:.4} acc {:.3} | eval loss {:.4} acc {:.3} prec \
                     {:.3} rec {:.3} spec {:.3} F1 {:.3}",
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
    }
}
