//! Training configuration: which network with which hyper-parameters, the optimiser and
//! schedule, and the per-epoch record written into model cards. Plain serde data, shared by the
//! training loop and the checkpoints (so neither imports the other for it).

use serde::{Deserialize, Serialize};

use super::metrics::Metrics;
use crate::nn::{AsymmetryConfig, MarkerClassificationConfig, MultiMlpConfig};

/// Which network to train, with its hyper-parameters.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum NetworkConfig {
    /// The two-level marker transformer (`network_type` "transformer").
    Transformer(MarkerClassificationConfig),
    /// The per-frame MLP (`network_type` "multi_mlp").
    MultiMlp(MultiMlpConfig),
    /// The same MLP trained for LRP (`network_type` "lrpmlp").
    LrpMlp(MultiMlpConfig),
    /// The left/right asymmetry and posture detectors (`network_type` "asymmetry"; not in the
    /// original).
    Asymmetry(AsymmetryConfig),
}

impl NetworkConfig {
    /// The original's `network_type` string.
    pub fn network_type(&self) -> &'static str {
        match self {
            Self::Transformer(_) => "transformer",
            Self::MultiMlp(_) => "multi_mlp",
            Self::LrpMlp(_) => "lrpmlp",
            Self::Asymmetry(_) => "asymmetry",
        }
    }

    /// Frames per window.
    pub fn interval(&self) -> usize {
        match self {
            Self::Transformer(c) => c.interval,
            Self::MultiMlp(c) | Self::LrpMlp(c) => c.interval,
            Self::Asymmetry(c) => c.interval,
        }
    }

    /// Whether the network's input step removes each frame's pelvis x.
    pub fn pelvis_relative_x(&self) -> bool {
        match self {
            Self::Transformer(c) => c.pelvis_relative_x,
            Self::MultiMlp(c) | Self::LrpMlp(c) => c.pelvis_relative_x,
            Self::Asymmetry(_) => false,
        }
    }

    /// Joints per frame.
    pub fn joints(&self) -> usize {
        match self {
            Self::Transformer(c) => c.joints,
            Self::MultiMlp(c) | Self::LrpMlp(c) => c.joints,
            Self::Asymmetry(c) => c.joints,
        }
    }

    /// Checks the hyper-parameters.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Self::Transformer(c) => c.validate(),
            Self::MultiMlp(c) | Self::LrpMlp(c) => c.validate(),
            Self::Asymmetry(c) => c.validate(),
        }
    }
}

/// Optimizer choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    /// ADOPT (the original's choice).
    #[default]
    Adopt,
    /// Adam.
    Adam,
}

/// How the learning rate moves over the run.
///
/// A hand-written formula rather than burn's `lr_scheduler` because it depends on the number of
/// batches per epoch, which is known only once the windows are split, and because the card must
/// record it as plain data.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum LrSchedule {
    /// The same rate for every step (the original).
    #[default]
    Constant,
    /// Linear warm-up from 0 over `warmup_epochs`, then half a cosine down to 1 % of the rate at
    /// the last step — the usual transformer recipe (not in the original).
    WarmupCosine {
        /// Epochs of linear warm-up (may be fractional; 0 = none).
        warmup_epochs: f64,
    },
}

impl LrSchedule {
    /// The rate of step `step` (0-based) of `total_steps`, for the peak rate `lr`.
    pub fn rate(&self, lr: f64, step: usize, total_steps: usize, steps_per_epoch: usize) -> f64 {
        match *self {
            Self::Constant => lr,
            Self::WarmupCosine { warmup_epochs } => {
                let warmup = (warmup_epochs * steps_per_epoch as f64).round() as usize;
                if step < warmup {
                    return lr * (step + 1) as f64 / warmup as f64;
                }
                let span = total_steps.saturating_sub(warmup).max(1) as f64;
                let progress = ((step - warmup) as f64 / span).min(1.0);
                let floor = 0.01 * lr;
                floor + (lr - floor) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
            }
        }
    }
}

/// Where to train.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    /// NdArray on the CPU (deterministic under a seed).
    #[default]
    Cpu,
    /// burn's wgpu backend (needs the `gpu` feature).
    Gpu,
}

/// Training flags (the original's command-line flags).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Network and its hyper-parameters (includes `interval`).
    pub network: NetworkConfig,
    /// Windows per batch (64).
    pub batch_size: usize,
    /// Epochs (25).
    pub epochs: usize,
    /// Learning rate (1e-4).
    pub lr: f64,
    /// Cross-validation fold index (recorded in the card).
    pub fold: usize,
    /// Number of folds (5, recorded in the card).
    pub folds: usize,
    /// Seed of weights, dropout and shuffling (42).
    pub seed: u64,
    /// Whether the loss weights sick windows by healthy/sick (`--use_pos_ratio`).
    pub use_pos_ratio: bool,
    /// Optimizer.
    pub optimizer: OptimizerKind,
    /// Device.
    pub device: DeviceKind,
    /// Whether to learn an input standardisation from the training windows before training
    /// ([`crate::nn::InputStandardization`]; off in the original). The statistics are stored in
    /// the network configuration of the model card.
    #[serde(default)]
    pub standardize_input: Option<crate::nn::StandardizationScale>,
    /// Learning-rate schedule (constant in the original); `lr` is its peak.
    #[serde(default)]
    pub lr_schedule: LrSchedule,
    /// Fraction of the training subjects held out of fitting to calibrate the probabilities on
    /// (temperature scaling, [`super::calibration`]; not in the original). 0 turns calibration
    /// off. A card records 0 when its run skipped calibration (too few subjects, windows
    /// without subject names); cards written before the field read the default.
    #[serde(default = "default_calibration_fraction")]
    pub calibration_fraction: f64,
    /// Only subject groups whose name starts with this prefix may be held out for calibration
    /// (`None`: any; `!PREFIX`: only those without it). `synS` keeps every real walk of a `synth
    /// from-walks` cohort in fitting and calibrates on held-out Fourier sources; `!synS`
    /// calibrates on held-out real walks only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration_subjects: Option<String>,
    /// Label smoothing ε of the BCE targets (`y·(1 − ε) + ε/2`; 0 in the original): the loss
    /// stops rewarding a window's logit past ±ln((2 − ε)/ε), so a network cannot grow its raw
    /// logits without bound on windows it already separates (ε = 0.1: ±2.9 at the optimum).
    #[serde(default)]
    pub label_smoothing: f64,
    /// L2 penalty λ added to every gradient (`g + λ·w`, burn's Adam weight decay; 0 in the
    /// original): keeps a detector from leaning on one feature that happens to separate the
    /// training walks, as the asymmetry script's logistic regression is penalised. Adam only.
    #[serde(default)]
    pub weight_decay: f64,
    /// The original transformer's joint-permutation augmentation: every fitted and every
    /// evaluation window appears this many more times (the original: 2 copies with the joints
    /// randomly reordered and their ids — positional codes — moved with them). For the original
    /// architecture such a copy is the same input (`joint_permutation_with_travelling_ids_is_a_
    /// symmetry` in `src/nn/transformer.rs`), so the copies are fed in joint order: the
    /// original's window counts, batch mix and epoch length. 0 (the default) adds none.
    #[serde(default)]
    pub joint_permutations: usize,
    /// Nested validation ([`crate::dataset::nested_fold`]): trained on the training subjects of
    /// `fold` without inner fold `inner_fold`, evaluated on that inner fold; the test fold is in
    /// neither. `None`: the plain fold.
    #[serde(default)]
    pub inner_fold: Option<usize>,
    /// How a network of several detectors (the asymmetry network) learns from sick windows.
    /// Cards written before the field were trained on the largest logit.
    #[serde(default)]
    pub detector_training: DetectorTraining,
}

/// How the detectors of a network with several ([`crate::nn::asymmetry`]: left/right asymmetry
/// and posture) learn from sick windows. Healthy windows always lower every detector under
/// `BySides`; windows whose pathology's sides the cohort does not record are trained on the
/// largest logit either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DetectorTraining {
    /// The largest logit is the window's logit in the loss (one network, one loss).
    #[default]
    Largest,
    /// Each detector learns its own kind of pathology, as separate logistic regressions would:
    /// the asymmetry detector from one-sided ones, the posture detector from bilateral ones
    /// (crouch), both from every healthy window.
    BySides,
}

/// [`TrainConfig::calibration_fraction`] unless told otherwise.
pub const DEFAULT_CALIBRATION_FRACTION: f64 = 0.15;

fn default_calibration_fraction() -> f64 {
    DEFAULT_CALIBRATION_FRACTION
}

impl TrainConfig {
    /// The original's defaults for `network`.
    pub fn new(network: NetworkConfig) -> Self {
        Self {
            network,
            batch_size: 64,
            epochs: 25,
            lr: 1e-4,
            fold: 0,
            folds: 5,
            seed: 42,
            use_pos_ratio: false,
            optimizer: OptimizerKind::Adopt,
            device: DeviceKind::Cpu,
            standardize_input: None,
            lr_schedule: LrSchedule::Constant,
            calibration_fraction: DEFAULT_CALIBRATION_FRACTION,
            calibration_subjects: None,
            label_smoothing: 0.0,
            weight_decay: 0.0,
            joint_permutations: 0,
            inner_fold: None,
            detector_training: DetectorTraining::Largest,
        }
    }
}

/// Loss and metrics of one epoch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// Epoch index (0-based).
    pub epoch: usize,
    /// Mean training loss per window.
    pub train_loss: f64,
    /// Mean evaluation loss per window.
    pub eval_loss: f64,
    /// Training metrics (predictions made while training, as the original).
    pub train: Metrics,
    /// Evaluation metrics.
    pub eval: Metrics,
}
