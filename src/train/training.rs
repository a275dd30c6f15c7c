//! The training loop (the original's `Trainer.train` with `train_transformer.py` /
//! `train_multi_mlp.py` flags), generic over the burn backend.

use burn::module::AutodiffModule;
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::prelude::*;
use burn::tensor::activation::log_sigmoid;
use burn::tensor::backend::AutodiffBackend;
use thiserror::Error;

use super::adopt::AdoptConfig;
use super::checkpoint::{CARD_FORMAT, ModelCard, TrainOutcome};
use super::config::{
    DetectorTraining, DeviceKind, EpochRecord, LrSchedule, NetworkConfig, OptimizerKind,
    TrainConfig,
};
use super::metrics::{Confusion, Metrics};
use crate::dataset::{ALIGNMENT_VERSION, PathologySides, WindowDataset};
use crate::nn::GaitClassifier;

/// Training windows used to estimate the input standardisation (evenly spaced over the source).
const STANDARDIZATION_WINDOWS: usize = 4096;

/// Indices of up to [`STANDARDIZATION_WINDOWS`] evenly spaced windows of `n`.
fn evenly_spaced_picks(n: usize) -> Vec<usize> {
    let take = n.min(STANDARDIZATION_WINDOWS);
    (0..take).map(|i| i * n / take).collect()
}

/// Up to [`STANDARDIZATION_WINDOWS`] evenly spaced windows of `train`, flat, and the length of one.
fn evenly_spaced_windows(train: &dyn WindowSource) -> Result<(Vec<f32>, usize), TrainError> {
    let picks = evenly_spaced_picks(train.len());
    let per_window = train.interval() * train.joints() * 3;
    let mut data = Vec::with_capacity(picks.len() * per_window);
    for chunk in picks.chunks(256) {
        data.extend(train.batch(chunk)?.0);
    }
    Ok((data, per_window))
}

/// The input standardisation of `network` estimated on up to [`STANDARDIZATION_WINDOWS`]
/// windows of `train`.
fn estimate_standardization(
    network: &NetworkConfig,
    train: &dyn WindowSource,
    scale: crate::nn::StandardizationScale,
) -> Result<crate::nn::InputStandardization, TrainError> {
    let (data, per_window) = evenly_spaced_windows(train)?;
    Ok(crate::nn::InputStandardization::from_windows(
        data.chunks_exact(per_window),
        train.joints(),
        network.pelvis_relative_x(),
        scale,
    ))
}

/// `cfg` with an asymmetry network's half-stride search set for the windows' frame rate
/// ([`crate::nn::AsymmetryConfig::with_rate_hz`]); other networks unchanged.
fn with_fitted_shifts(cfg: &TrainConfig, train: &dyn WindowSource) -> TrainConfig {
    let mut cfg = cfg.clone();
    if let (NetworkConfig::Asymmetry(n), Some(rate_hz)) = (&mut cfg.network, train.rate_hz()) {
        *n = n.clone().with_rate_hz(rate_hz);
    }
    cfg
}

/// Readies an asymmetry network for the windows: it reads angles between segments, so the
/// alignment must keep the body's proportions (isotropic or heading; not the original's per-axis
/// scaling, nor left/right differences), and the features are standardised on the windows the
/// network is fitted on.
fn prepare_asymmetry(
    net: &mut crate::nn::AsymmetryConfig,
    train: &dyn WindowSource,
    fit: &dyn WindowSource,
) -> Result<(), TrainError> {
    let alignment = train.alignment_version();
    if !crate::nn::asymmetry::reads_alignment(alignment) {
        return Err(TrainError::Config {
            reason: format!(
                "the asymmetry network reads angles between body segments and needs windows \
                 aligned without changing the body's proportions (--alignment heading or \
                 isotropic); these are aligned with {alignment}"
            ),
        });
    }
    if train.rate_hz().is_none() {
        tracing::warn!(
            "the windows' frame rate is unknown: the asymmetry network searches half a stride \
             between {} and {} frames (0.3–0.8 s at 50 Hz); give --rate-hz",
            net.min_shift,
            net.max_shift
        );
    }
    let (data, _) = evenly_spaced_windows(fit)?;
    net.feature_standardization = Some(crate::nn::asymmetry::FeatureStandardization::from_windows(
        net, &data,
    ));
    Ok(())
}

/// The normative gait ([`crate::explain::NormativeGait`]) of the healthy windows among up to
/// [`STANDARDIZATION_WINDOWS`] evenly spaced windows of `train` — what `gaitlens train` stores
/// in the model card and `gaitlens normative` adds to older cards.
pub fn learn_normative_gait(
    train: &dyn WindowSource,
) -> Result<crate::explain::NormativeGait, TrainError> {
    let no = |reason: String| TrainError::NoNormativeGait { reason };
    if train.alignment_version() == crate::dataset::HEADING_SYMMETRY_ALIGNMENT_VERSION {
        // Left/right differences: a symmetric walk is all zeros, so the zero input already is
        // the healthy reference, and the phase estimate (left − right ankle) has nothing to read.
        return Err(no(
            "the heading-symmetry input's healthy reference is zero (a symmetric walk has no \
             left/right difference): explanations are relative to zero"
                .into(),
        ));
    }
    let rate_hz = train
        .rate_hz()
        .ok_or_else(|| no("the frame rate of the windows is unknown".into()))?;
    let picks = evenly_spaced_picks(train.len());
    let per_window = train.interval() * train.joints() * 3;
    let mut healthy = Vec::new();
    for chunk in picks.chunks(256) {
        let (data, labels) = train.batch(chunk)?;
        for (w, &label) in data.chunks_exact(per_window).zip(&labels) {
            if label < 0.5 {
                healthy.extend_from_slice(w);
            }
        }
    }
    if healthy.is_empty() {
        return Err(no("there are no healthy windows".into()));
    }
    crate::explain::NormativeGait::from_windows(
        healthy.chunks_exact(per_window),
        train.joints(),
        rate_hz,
        crate::explain::NormativeGait::DEFAULT_BINS,
    )
    .map_err(|e| no(e.to_string()))
}

/// The out-of-domain statistics ([`crate::explain::domain::DomainStats`]) of up to
/// [`STANDARDIZATION_WINDOWS`] evenly spaced training windows, with the threshold set on
/// held-out walkers when the windows carry subjects (`None`, with a warning, when they cannot be
/// learnt).
pub fn learn_domain(
    train: &dyn WindowSource,
) -> Result<Option<crate::explain::domain::DomainStats>, TrainError> {
    use crate::explain::domain::{DomainStats, Summary};
    let (data, per_window) = evenly_spaced_windows(train)?;
    let windows: Vec<&[f32]> = data.chunks_exact(per_window).collect();
    let walkers = walker_of_evenly_spaced_windows(train);
    match DomainStats::learn(
        Summary::LegAngles,
        &windows,
        walkers.as_deref(),
        train.joints(),
    ) {
        Ok(d) => Ok(Some(d)),
        Err(reason) => {
            tracing::warn!("no out-of-domain statistics in the model card: {reason}");
            Ok(None)
        }
    }
}

/// The walker ([`super::calibration::subject_group`], numbered) of each window
/// [`evenly_spaced_windows`] picks; `None` when the windows carry no subjects.
fn walker_of_evenly_spaced_windows(train: &dyn WindowSource) -> Option<Vec<usize>> {
    let subjects = train.window_subjects()?;
    let n = train.len();
    if subjects.len() != n {
        return None;
    }
    let mut names: Vec<&str> = subjects
        .iter()
        .map(|(s, _)| super::calibration::subject_group(s))
        .collect();
    let picked: Vec<&str> = evenly_spaced_picks(n).iter().map(|&i| names[i]).collect();
    names.sort_unstable();
    names.dedup();
    picked.iter().map(|p| names.binary_search(p).ok()).collect()
}

/// Errors of training.
#[derive(Debug, Error)]
pub enum TrainError {
    /// A flag or hyper-parameter is invalid.
    #[error("invalid training configuration: {reason}")]
    Config {
        /// What is wrong.
        reason: String,
    },
    /// The data does not fit the network.
    #[error("training data does not fit the network: {reason}")]
    Data {
        /// What is wrong.
        reason: String,
    },
    /// A window could not be loaded.
    #[error("loading windows failed: {source}")]
    Dataset {
        /// Underlying error.
        #[from]
        source: crate::dataset::DatasetError,
    },
    /// The GPU backend was requested without the `gpu` feature.
    #[error("device gpu requested but gaitlens was built without the `gpu` feature")]
    GpuUnavailable,
    /// Serialising the trained weights failed.
    #[error("serialising the model record failed: {reason}")]
    Record {
        /// Recorder message.
        reason: String,
    },
    /// No normative gait can be learnt from the windows.
    #[error("no normative gait can be learnt: {reason}")]
    NoNormativeGait {
        /// Why.
        reason: String,
    },
}

/// A set of windows the trainer can draw batches from.
pub trait WindowSource {
    /// Number of windows.
    fn len(&self) -> usize;
    /// Whether there are no windows.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Frames per window.
    fn interval(&self) -> usize;
    /// Joints per frame.
    fn joints(&self) -> usize;
    /// Flat data `[n, interval, joints, 3]` and labels (1 = sick) of windows `indices`.
    fn batch(&self, indices: &[usize]) -> Result<(Vec<f32>, Vec<f32>), TrainError>;
    /// Hash of the data list behind the windows (for the model card).
    fn data_hash(&self) -> u64;
    /// Healthy/sick ratio of the windows (`None` without sick windows).
    fn pos_weight(&self) -> Option<f32>;
    /// Frame rate of the sequences behind the windows, when known and common to all of them.
    fn rate_hz(&self) -> Option<f64> {
        None
    }
    /// Version of the alignment the windows were made with (for the model card).
    fn alignment_version(&self) -> &'static str {
        ALIGNMENT_VERSION
    }
    /// Subject name and class (sick) of every window, for splits by subject; `None` when the
    /// windows carry no subjects (then training cannot hold subjects out for calibration).
    fn window_subjects(&self) -> Option<Vec<(String, bool)>> {
        None
    }
    /// The windows `indices` as a source of their own (`None`: this source cannot be split).
    fn subset(&self, _indices: &[usize]) -> Option<Box<dyn WindowSource + '_>> {
        None
    }
    /// Which sides the pathology of each of windows `indices` affects, where the data records
    /// it (a `gaitlens synth` cohort); unknown (`None`) by default.
    fn batch_sides(&self, indices: &[usize]) -> Result<Vec<Option<PathologySides>>, TrainError> {
        Ok(vec![None; indices.len()])
    }
}

/// Windows held in memory (tests, synthetic data, precomputed batches).
#[derive(Debug, Clone)]
pub struct InMemoryWindows {
    /// Flat data `[n, interval, joints, 3]`.
    pub data: Vec<f32>,
    /// Labels, 1 = sick.
    pub labels: Vec<f32>,
    /// Frames per window.
    pub interval: usize,
    /// Joints per frame.
    pub joints: usize,
}

impl WindowSource for InMemoryWindows {
    fn len(&self) -> usize {
        self.labels.len()
    }
    fn interval(&self) -> usize {
        self.interval
    }
    fn joints(&self) -> usize {
        self.joints
    }
    fn batch(&self, indices: &[usize]) -> Result<(Vec<f32>, Vec<f32>), TrainError> {
        let per = self.interval * self.joints * 3;
        if self.data.len() != per * self.labels.len() {
            return Err(TrainError::Data {
                reason: format!(
                    "{} values for {} windows of {per}",
                    self.data.len(),
                    self.labels.len()
                ),
            });
        }
        let mut x = Vec::with_capacity(indices.len() * per);
        let mut y = Vec::with_capacity(indices.len());
        for &i in indices {
            let row = self
                .data
                .get(i * per..(i + 1) * per)
                .ok_or_else(|| TrainError::Data {
                    reason: format!("window {i} of {}", self.labels.len()),
                })?;
            x.extend_from_slice(row);
            y.push(self.labels[i]);
        }
        Ok((x, y))
    }
    fn data_hash(&self) -> u64 {
        let mut bytes = Vec::with_capacity(self.data.len() * 4 + self.labels.len() * 4);
        for v in self.data.iter().chain(&self.labels) {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        crate::dataset::fnv1a64(&bytes)
    }
    fn pos_weight(&self) -> Option<f32> {
        let sick = self.labels.iter().filter(|&&y| y > 0.5).count();
        (sick > 0).then(|| (self.labels.len() - sick) as f32 / sick as f32)
    }
}

/// A subset of a [`WindowDataset`] (one side of a fold); windows are aligned when loaded.
#[derive(Debug, Clone)]
pub struct DatasetWindows<'a> {
    /// The dataset.
    pub dataset: &'a WindowDataset,
    /// Window indices into it.
    pub windows: Vec<usize>,
}

impl DatasetWindows<'_> {
    /// The dataset's indices of windows `indices` of this subset.
    fn dataset_ids(&self, indices: &[usize]) -> Result<Vec<usize>, TrainError> {
        indices
            .iter()
            .map(|&i| {
                self.windows
                    .get(i)
                    .copied()
                    .ok_or_else(|| TrainError::Data {
                        reason: format!("window {i} of {}", self.windows.len()),
                    })
            })
            .collect()
    }
}

impl WindowSource for DatasetWindows<'_> {
    fn len(&self) -> usize {
        self.windows.len()
    }
    fn interval(&self) -> usize {
        self.dataset.config.interval
    }
    fn joints(&self) -> usize {
        crate::dataset::NUM_JOINTS
    }
    fn batch(&self, indices: &[usize]) -> Result<(Vec<f32>, Vec<f32>), TrainError> {
        let ids = self.dataset_ids(indices)?;
        Ok((
            self.dataset.batch_data(&ids)?,
            self.dataset.batch_labels(&ids)?,
        ))
    }
    fn batch_sides(&self, indices: &[usize]) -> Result<Vec<Option<PathologySides>>, TrainError> {
        let ids = self.dataset_ids(indices)?;
        Ok(self.dataset.batch_sides(&ids)?)
    }
    fn data_hash(&self) -> u64 {
        self.dataset.data_hash(&self.windows)
    }
    fn pos_weight(&self) -> Option<f32> {
        crate::dataset::pos_weight(self.dataset, &self.windows)
    }
    fn rate_hz(&self) -> Option<f64> {
        self.dataset.common_rate_hz()
    }
    fn alignment_version(&self) -> &'static str {
        self.dataset.alignment.version()
    }
    fn window_subjects(&self) -> Option<Vec<(String, bool)>> {
        self.windows
            .iter()
            .map(|&i| {
                let w = self.dataset.windows.get(i)?;
                let s = self.dataset.subjects.get(w.subject)?;
                Some((s.name.clone(), w.sick))
            })
            .collect()
    }
    fn subset(&self, indices: &[usize]) -> Option<Box<dyn WindowSource + '_>> {
        let windows = indices
            .iter()
            .map(|&i| self.windows.get(i).copied())
            .collect::<Option<Vec<_>>>()?;
        Some(Box::new(DatasetWindows {
            dataset: self.dataset,
            windows,
        }))
    }
}

/// Progress of a training run (the CLI draws progress bars from these).
#[derive(Debug, Clone)]
pub enum TrainEvent {
    /// Training starts.
    Started {
        /// Epochs to run.
        epochs: usize,
        /// Training batches per epoch.
        train_batches: usize,
        /// Evaluation batches per epoch.
        eval_batches: usize,
    },
    /// A batch is done.
    Batch {
        /// Epoch index.
        epoch: usize,
        /// Batch index in this pass.
        batch: usize,
        /// Mean loss of the batch.
        loss: f64,
        /// `true` for training, `false` for evaluation.
        training: bool,
    },
    /// The training pass of an epoch is done: how many windows it fitted and how long it took
    /// (forward, backward and optimiser steps; evaluation not included). Timing is reported,
    /// never stored in the card, so cards stay reproducible.
    Throughput {
        /// Epoch index.
        epoch: usize,
        /// Windows fitted in the pass.
        windows: usize,
        /// Wall-clock seconds of the pass.
        seconds: f64,
    },
    /// An epoch is done.
    Epoch(EpochRecord),
    /// Subjects were held out of fitting to calibrate the probabilities on (before training).
    CalibrationSplit {
        /// Windows the network is fitted on.
        fit_windows: usize,
        /// Windows of the calibration subjects.
        calibration_windows: usize,
        /// Calibration subjects (copies of one recorded walk count once).
        calibration_subjects: usize,
        /// Training subjects in all.
        subjects: usize,
    },
    /// Calibration was asked for but cannot be done on these windows: the network is fitted on
    /// all of them and its card has no temperature.
    CalibrationSkipped {
        /// Why.
        reason: String,
    },
}

/// The training windows split by subject for calibration ([`calibration_split`]).
struct CalibrationParts<'a> {
    /// What the network is fitted on.
    fit: Box<dyn WindowSource + 'a>,
    /// The calibration subjects' windows.
    calibrate: Box<dyn WindowSource + 'a>,
    /// Calibration subjects.
    subjects: usize,
}

/// Splits `train` by subject when `cfg` asks for calibration ([`super::calibration`]); `None`
/// (with a [`TrainEvent::CalibrationSkipped`] saying why, unless calibration is off) when it
/// cannot be done.
fn calibration_split<'a>(
    cfg: &TrainConfig,
    train: &'a dyn WindowSource,
    progress: &mut dyn FnMut(TrainEvent),
) -> Option<CalibrationParts<'a>> {
    if cfg.calibration_fraction == 0.0 {
        return None;
    }
    let parts = train
        .window_subjects()
        .ok_or_else(|| "the training windows carry no subject names".to_string())
        .and_then(|subjects| {
            super::calibration::split_calibration_subjects(
                &subjects,
                cfg.calibration_fraction,
                cfg.seed,
                cfg.calibration_subjects.as_deref(),
            )
        })
        .and_then(|split| {
            let fit = train.subset(&split.fit);
            let calibrate = train.subset(&split.calibrate);
            match (fit, calibrate) {
                (Some(fit), Some(calibrate)) => Ok((split, fit, calibrate)),
                _ => Err("the training windows cannot be split".to_string()),
            }
        });
    match parts {
        Ok((split, fit, calibrate)) => {
            progress(TrainEvent::CalibrationSplit {
                fit_windows: fit.len(),
                calibration_windows: calibrate.len(),
                calibration_subjects: split.calibration_subjects,
                subjects: split.subjects,
            });
            Some(CalibrationParts {
                fit,
                calibrate,
                subjects: split.calibration_subjects,
            })
        }
        Err(reason) => {
            tracing::warn!("no calibration: {reason}");
            progress(TrainEvent::CalibrationSkipped { reason });
            None
        }
    }
}

/// Trains the network of `cfg` on `train`, evaluating on `eval` after every epoch.
pub fn train(
    cfg: &TrainConfig,
    train: &dyn WindowSource,
    eval: &dyn WindowSource,
    mut progress: impl FnMut(TrainEvent),
) -> Result<TrainOutcome, TrainError> {
    // The asymmetry network's half-stride search follows the windows' frame rate (before the
    // configuration is checked: the defaults assume 50 Hz and 100-frame windows).
    let cfg = &with_fitted_shifts(cfg, train);
    check_config(cfg)?;
    for (name, src) in [("training", train), ("evaluation", eval)] {
        if src.interval() != cfg.network.interval() || src.joints() != cfg.network.joints() {
            return Err(TrainError::Data {
                reason: format!(
                    "{name} windows are {} frames × {} joints, the network expects {} × {}",
                    src.interval(),
                    src.joints(),
                    cfg.network.interval(),
                    cfg.network.joints()
                ),
            });
        }
    }
    if train.is_empty() {
        return Err(TrainError::Data {
            reason: "no training windows".into(),
        });
    }
    if train.alignment_version() != eval.alignment_version() {
        return Err(TrainError::Data {
            reason: format!(
                "training windows are aligned with {}, evaluation windows with {}",
                train.alignment_version(),
                eval.alignment_version()
            ),
        });
    }
    let parts = calibration_split(cfg, train, &mut progress);
    let mut cfg = cfg.clone();
    if parts.is_none() {
        // The card records what was done: every training window fitted.
        cfg.calibration_fraction = 0.0;
    }
    let fit = parts.as_ref().map_or(train, |p| &*p.fit);
    let copies = cfg.joint_permutations;
    let (fit_copies, eval_copies) = (
        PermutationCopies { inner: fit, copies },
        PermutationCopies {
            inner: eval,
            copies,
        },
    );
    let sources = Sources {
        train,
        fit: if copies > 0 { &fit_copies } else { fit },
        calibrate: parts.as_ref().map(|p| (&*p.calibrate, p.subjects)),
        eval: if copies > 0 { &eval_copies } else { eval },
    };
    if let NetworkConfig::Asymmetry(n) = &mut cfg.network {
        prepare_asymmetry(n, train, sources.fit)?;
    } else if let Some(scale) = cfg.standardize_input {
        // Learnt on the windows the network is fitted on: part of the network.
        let stats = estimate_standardization(&cfg.network, sources.fit, scale)?;
        match &mut cfg.network {
            NetworkConfig::Transformer(n) => n.input_standardization = Some(stats),
            NetworkConfig::MultiMlp(n) | NetworkConfig::LrpMlp(n) => {
                n.input_standardization = Some(stats)
            }
            NetworkConfig::Asymmetry(_) => {} // standardises its features above
        }
    }
    match cfg.device {
        DeviceKind::Cpu => train_on::<burn::backend::Autodiff<burn::backend::NdArray>>(
            &cfg,
            Default::default(),
            &sources,
            &mut progress,
        ),
        #[cfg(feature = "gpu")]
        DeviceKind::Gpu => train_on::<burn::backend::Autodiff<burn::backend::Wgpu>>(
            &cfg,
            Default::default(),
            &sources,
            &mut progress,
        ),
        #[cfg(not(feature = "gpu"))]
        DeviceKind::Gpu => Err(TrainError::GpuUnavailable),
    }
}

/// Checks the flags of `cfg` that the network's own validation does not.
fn check_config(cfg: &TrainConfig) -> Result<(), TrainError> {
    cfg.network
        .validate()
        .map_err(|reason| TrainError::Config { reason })?;
    if cfg.batch_size == 0
        || cfg.lr.is_nan()
        || cfg.lr <= 0.0
        || cfg.folds < 2
        || cfg.fold >= cfg.folds
        || matches!(cfg.lr_schedule, LrSchedule::WarmupCosine { warmup_epochs }
            if !(warmup_epochs >= 0.0 && warmup_epochs.is_finite()))
        || !(cfg.calibration_fraction >= 0.0 && cfg.calibration_fraction < 1.0)
    {
        return Err(TrainError::Config {
            reason: format!(
                "batch_size {} (must be ≥ 1), lr {} (> 0), fold {} of {} (folds ≥ 2), \
                 learning-rate schedule {:?} (warm-up epochs finite and ≥ 0), calibration \
                 fraction {} (in [0, 1))",
                cfg.batch_size,
                cfg.lr,
                cfg.fold,
                cfg.folds,
                cfg.lr_schedule,
                cfg.calibration_fraction
            ),
        });
    }
    if !(cfg.label_smoothing >= 0.0 && cfg.label_smoothing < 0.5) {
        return Err(TrainError::Config {
            reason: format!(
                "label smoothing {} (must be in [0, 0.5): at 0.5 both classes get the same target)",
                cfg.label_smoothing
            ),
        });
    }
    if !(cfg.weight_decay.is_finite() && cfg.weight_decay >= 0.0) {
        return Err(TrainError::Config {
            reason: format!("weight decay {} (must be a finite λ ≥ 0)", cfg.weight_decay),
        });
    }
    if cfg.weight_decay > 0.0 && cfg.optimizer != OptimizerKind::Adam {
        return Err(TrainError::Config {
            reason: format!(
                "weight decay {} needs --optimizer adam (the original's ADOPT takes none here)",
                cfg.weight_decay
            ),
        });
    }
    if cfg.detector_training == DetectorTraining::BySides
        && !matches!(cfg.network, NetworkConfig::Asymmetry(_))
    {
        return Err(TrainError::Config {
            reason: format!(
                "--detector-training by-sides applies to the asymmetry network, whose verdict is \
                 the larger of two detectors; a {} network has one",
                cfg.network.network_type()
            ),
        });
    }
    if cfg.joint_permutations > 0 {
        let original = matches!(&cfg.network, NetworkConfig::Transformer(c)
            if !c.per_joint_embedding && !c.frame_token);
        if !original {
            return Err(TrainError::Config {
                reason: "joint permutations apply to the original transformer only (no \
                         per-joint embedding, no frame token): for other networks a permuted \
                         copy is a different input"
                    .into(),
            });
        }
    }
    Ok(())
}

/// Every window of `inner` `1 + copies` times, in joint order: the original's joint-permutation
/// copies ([`TrainConfig::joint_permutations`]).
struct PermutationCopies<'a> {
    inner: &'a dyn WindowSource,
    copies: usize,
}

impl WindowSource for PermutationCopies<'_> {
    fn len(&self) -> usize {
        self.inner.len() * (1 + self.copies)
    }
    fn interval(&self) -> usize {
        self.inner.interval()
    }
    fn joints(&self) -> usize {
        self.inner.joints()
    }
    fn batch(&self, indices: &[usize]) -> Result<(Vec<f32>, Vec<f32>), TrainError> {
        let n = self.inner.len().max(1);
        let ids: Vec<usize> = indices.iter().map(|&i| i % n).collect();
        self.inner.batch(&ids)
    }
    fn batch_sides(&self, indices: &[usize]) -> Result<Vec<Option<PathologySides>>, TrainError> {
        let n = self.inner.len().max(1);
        let ids: Vec<usize> = indices.iter().map(|&i| i % n).collect();
        self.inner.batch_sides(&ids)
    }
    fn data_hash(&self) -> u64 {
        self.inner.data_hash() ^ (self.copies as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }
    fn pos_weight(&self) -> Option<f32> {
        self.inner.pos_weight()
    }
    fn rate_hz(&self) -> Option<f64> {
        self.inner.rate_hz()
    }
    fn alignment_version(&self) -> &'static str {
        self.inner.alignment_version()
    }
    fn window_subjects(&self) -> Option<Vec<(String, bool)>> {
        let once = self.inner.window_subjects()?;
        Some(once.iter().cycle().take(self.len()).cloned().collect())
    }
}

/// The windows of one training run.
#[derive(Clone, Copy)]
struct Sources<'a> {
    /// Every training window (the card's data hash, rate, normative gait and domain).
    train: &'a dyn WindowSource,
    /// The windows the network is fitted on (all of `train` without calibration).
    fit: &'a dyn WindowSource,
    /// The calibration subjects' windows and how many subjects they are.
    calibrate: Option<(&'a dyn WindowSource, usize)>,
    /// The evaluation (test) windows.
    eval: &'a dyn WindowSource,
}

/// Logits and labels of a set of windows.
type Predictions = (Vec<f32>, Vec<f32>);

fn train_on<B: AutodiffBackend>(
    cfg: &TrainConfig,
    device: B::Device,
    src: &Sources<'_>,
    progress: &mut dyn FnMut(TrainEvent),
) -> Result<TrainOutcome, TrainError> {
    B::seed(&device, cfg.seed);
    let (epochs, record, (calibration, evaluated)) = match &cfg.network {
        NetworkConfig::Transformer(c) => {
            run::<B, _>(c.init::<B>(&device), cfg, &device, src, progress)?
        }
        NetworkConfig::MultiMlp(c) | NetworkConfig::LrpMlp(c) => {
            run::<B, _>(c.init::<B>(&device), cfg, &device, src, progress)?
        }
        NetworkConfig::Asymmetry(c) => {
            run::<B, _>(c.init::<B>(&device), cfg, &device, src, progress)?
        }
    };
    let calibration = calibration.and_then(|(logits, labels)| {
        super::calibration::Calibration::fit(
            (&logits, &labels),
            src.calibrate.map_or(0, |c| c.1),
            (&evaluated.0, &evaluated.1),
        )
    });
    let (train, eval) = (src.train, src.eval);
    let card = ModelCard {
        format: CARD_FORMAT.to_string(),
        network_type: cfg.network.network_type().to_string(),
        network: cfg.network.clone(),
        training: cfg.clone(),
        interval: cfg.network.interval(),
        joints: cfg.network.joints(),
        joint_set: crate::body::smpl22::JOINT_SET.to_string(),
        alignment_version: train.alignment_version().to_string(),
        train_data_hash: format!("{:016x}", train.data_hash()),
        eval_data_hash: format!("{:016x}", eval.data_hash()),
        pos_weight: if cfg.use_pos_ratio {
            src.fit.pos_weight()
        } else {
            None
        },
        epochs,
        record_fnv1a64: crate::checkpoint::record_hash(&record),
        rate_hz: train.rate_hz(),
        normative_gait: match learn_normative_gait(train) {
            Ok(n) => Some(n),
            Err(TrainError::NoNormativeGait { reason }) => {
                tracing::warn!("no normative gait in the model card: {reason}");
                None
            }
            Err(e) => return Err(e),
        },
        domain: learn_domain(train)?,
        calibration,
        training_pelvis_markers: None,
        card_fnv1a64: None,
    }
    .stamped();
    Ok(TrainOutcome { card, record })
}

/// What a run returns: the epochs, the record, and the final network's predictions on the
/// calibration windows (if any) and the evaluation windows.
type RunOutput = (
    Vec<EpochRecord>,
    Vec<u8>,
    (Option<Predictions>, Predictions),
);

fn run<B, M>(
    model: M,
    cfg: &TrainConfig,
    device: &B::Device,
    src: &Sources<'_>,
    progress: &mut dyn FnMut(TrainEvent),
) -> Result<RunOutput, TrainError>
where
    B: AutodiffBackend,
    M: AutodiffModule<B> + GaitClassifier<B>,
    M::InnerModule: GaitClassifier<B::InnerBackend>,
{
    match cfg.optimizer {
        OptimizerKind::Adopt => {
            let optim = AdoptConfig::new().init::<B, M>();
            run_with(model, optim, cfg, device, src, progress)
        }
        OptimizerKind::Adam => {
            let decay = (cfg.weight_decay > 0.0)
                .then(|| burn::optim::decay::WeightDecayConfig::new(cfg.weight_decay as f32));
            let optim = AdamConfig::new().with_weight_decay(decay).init::<B, M>();
            run_with(model, optim, cfg, device, src, progress)
        }
    }
}

use crate::rng::SplitMix64 as Shuffler;

pub(crate) fn to_vec<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data().iter::<f32>().collect()
}

/// A BCE target with label smoothing ε: `y·(1 − ε) + ε/2`.
fn smooth_label(y: f32, epsilon: f64) -> f32 {
    y * (1.0 - epsilon as f32) + epsilon as f32 / 2.0
}

/// Per-window binary cross-entropy of `logits` against (smoothed) `target`, sick terms weighted
/// by `pos_weight`.
fn weighted_bce<B: Backend, const D: usize>(
    logits: Tensor<B, D>,
    target: Tensor<B, D>,
    pos_weight: f64,
) -> Tensor<B, D> {
    (target.clone().mul_scalar(pos_weight) * log_sigmoid(logits.clone())
        + target.neg().add_scalar(1.0) * log_sigmoid(logits.neg()))
    .neg()
}

/// Which detector each kind of window trains under [`DetectorTraining::BySides`], and each
/// detector's weight of sick windows: as separate logistic regressions, each detector learns
/// from every healthy window and from the sick windows of its own kind of pathology.
struct DetectorTargets {
    /// Per detector, its sick windows' weight (healthy/sick of its own kind with
    /// `--use-pos-ratio`, else 1).
    pos_weights: Vec<f64>,
    /// Weight of sick windows whose sides are unknown (trained on the largest logit).
    pos_weight: f64,
}

impl DetectorTargets {
    /// `Some` when `cfg` trains an asymmetry network by sides; its detectors' sick weights are
    /// counted over `train`. An error when the windows record no pathology sides at all (then
    /// `by-sides` would silently train as `largest`).
    fn for_training(
        cfg: &TrainConfig,
        train: &dyn WindowSource,
        pos_weight: f64,
    ) -> Result<Option<Self>, TrainError> {
        let NetworkConfig::Asymmetry(_) = &cfg.network else {
            return Ok(None);
        };
        if cfg.detector_training != DetectorTraining::BySides {
            return Ok(None);
        }
        let all: Vec<usize> = (0..train.len()).collect();
        let sides = train.batch_sides(&all)?;
        let count = |k: PathologySides| sides.iter().filter(|s| **s == Some(k)).count();
        let healthy = count(PathologySides::Neither);
        let kinds = crate::nn::asymmetry::DETECTOR_KINDS;
        let counts: Vec<usize> = kinds.iter().map(|&k| count(k)).collect();
        if counts.iter().all(|&c| c == 0) {
            return Err(TrainError::Data {
                reason: "--detector-training by-sides needs a cohort whose ground_truth.json \
                         records each sick subject's side (`gaitlens synth`); these windows \
                         record none"
                    .into(),
            });
        }
        let pos_weights = counts
            .iter()
            .map(|&c| {
                if cfg.use_pos_ratio && c > 0 && healthy > 0 {
                    healthy as f64 / c as f64
                } else {
                    1.0
                }
            })
            .collect();
        Ok(Some(Self {
            pos_weights,
            pos_weight,
        }))
    }

    /// The mean loss of a batch and its logits: windows with known sides add each of their
    /// detectors' losses, the others the largest logit's.
    fn loss<B: Backend, M: GaitClassifier<B>>(
        &self,
        model: &M,
        input: Tensor<B, 4>,
        target: Tensor<B, 1>,
        sides: &[Option<PathologySides>],
        device: &B::Device,
    ) -> (Tensor<B, 1>, Tensor<B, 1>) {
        let n = sides.len();
        let d = self.pos_weights.len();
        let detectors = model.detector_logits(input);
        let logits = detectors.clone().max_dim(1).reshape([n]);
        // Host-built masks: which detectors each window trains, or the largest logit.
        let mut det_mask = vec![0.0f32; n * d];
        let mut max_mask = vec![0.0f32; n];
        for (i, s) in sides.iter().enumerate() {
            match s {
                Some(PathologySides::Neither) => det_mask[i * d..(i + 1) * d].fill(1.0),
                Some(k) => match crate::nn::asymmetry::DETECTOR_KINDS
                    .iter()
                    .position(|x| x == k)
                {
                    Some(j) => det_mask[i * d + j] = 1.0,
                    None => max_mask[i] = 1.0,
                },
                None => max_mask[i] = 1.0,
            }
        }
        let row = |v: Vec<f32>, shape: [usize; 2]| {
            Tensor::<B, 2>::from_data(TensorData::new(v, shape), device)
        };
        let target2 = target.clone().reshape([n, 1]).repeat_dim(1, d);
        let pos: Vec<f32> = self.pos_weights.iter().map(|&w| w as f32).collect();
        let pos = row(pos, [1, d]);
        // weighted_bce with a per-detector sick weight.
        let det_loss = ((target2.clone() * pos) * log_sigmoid(detectors.clone())
            + target2.neg().add_scalar(1.0) * log_sigmoid(detectors.neg()))
        .neg()
            * row(det_mask, [n, d]);
        let max_loss = weighted_bce(logits.clone(), target, self.pos_weight)
            * Tensor::<B, 1>::from_data(TensorData::new(max_mask, [n]), device);
        let loss = (det_loss.sum() + max_loss.sum()).div_scalar(n as f64);
        (logits, loss)
    }
}

fn bce_host(logits: &[f32], labels: &[f32], pos_weight: f64) -> f64 {
    let softplus = |x: f64| x.max(0.0) + (-x.abs()).exp().ln_1p();
    logits
        .iter()
        .zip(labels)
        .map(|(&x, &y)| {
            let (x, y) = (x as f64, y as f64);
            pos_weight * y * softplus(-x) + (1.0 - y) * softplus(x)
        })
        .sum()
}

fn run_with<B, M, O>(
    mut model: M,
    mut optim: O,
    cfg: &TrainConfig,
    device: &B::Device,
    src: &Sources<'_>,
    progress: &mut dyn FnMut(TrainEvent),
) -> Result<RunOutput, TrainError>
where
    B: AutodiffBackend,
    M: AutodiffModule<B> + GaitClassifier<B>,
    M::InnerModule: GaitClassifier<B::InnerBackend>,
    O: Optimizer<M, B>,
{
    let (train, eval) = (src.fit, src.eval);
    let pos_weight = if cfg.use_pos_ratio {
        train.pos_weight().unwrap_or(1.0) as f64
    } else {
        1.0
    };
    let by_sides = DetectorTargets::for_training(cfg, train, pos_weight)?;
    let (interval, joints) = (train.interval(), train.joints());
    let train_batches = train.len().div_ceil(cfg.batch_size);
    let eval_batches = eval.len().div_ceil(cfg.batch_size);
    progress(TrainEvent::Started {
        epochs: cfg.epochs,
        train_batches,
        eval_batches,
    });
    let mut rng = Shuffler(cfg.seed ^ 0x005E_ED0F_5A17);
    let mut history = Vec::with_capacity(cfg.epochs);
    let total_steps = train_batches * cfg.epochs;
    let mut step = 0;
    for epoch in 0..cfg.epochs {
        let mut order: Vec<usize> = (0..train.len()).collect();
        rng.shuffle(&mut order);
        let mut confusion = Confusion::default();
        let mut loss_sum = 0.0;
        let pass_started = std::time::Instant::now();
        for (bi, chunk) in order.chunks(cfg.batch_size).enumerate() {
            let (x, y) = train.batch(chunk)?;
            let n = chunk.len();
            let input = crate::nn::window_tensor::<B>(x, n, interval, joints, device);
            let smoothed: Vec<f32> = y
                .iter()
                .map(|&t| smooth_label(t, cfg.label_smoothing))
                .collect();
            let target = Tensor::<B, 1>::from_data(TensorData::new(smoothed, [n]), device);
            let (logits, loss) = match &by_sides {
                Some(d) => d.loss(&model, input, target, &train.batch_sides(chunk)?, device),
                None => {
                    let logits = model.logits(input).reshape([n]);
                    let loss = weighted_bce(logits.clone(), target, pos_weight).mean();
                    (logits, loss)
                }
            };
            let loss_value = to_vec(loss.clone())[0] as f64;
            confusion.add(&to_vec(logits.detach()), &y);
            loss_sum += loss_value * n as f64;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            let lr = cfg
                .lr_schedule
                .rate(cfg.lr, step, total_steps, train_batches);
            step += 1;
            model = optim.step(lr, model, grads);
            progress(TrainEvent::Batch {
                epoch,
                batch: bi,
                loss: loss_value,
                training: true,
            });
        }
        progress(TrainEvent::Throughput {
            epoch,
            windows: train.len(),
            seconds: pass_started.elapsed().as_secs_f64(),
        });
        let (eval_loss, eval_metrics) = evaluate_inner(
            &model.valid(),
            eval,
            cfg.batch_size,
            pos_weight,
            device,
            &mut |batch, loss| {
                progress(TrainEvent::Batch {
                    epoch,
                    batch,
                    loss,
                    training: false,
                })
            },
        )?;
        let rec = EpochRecord {
            epoch,
            train_loss: loss_sum / train.len() as f64,
            eval_loss,
            train: confusion.metrics(),
            eval: eval_metrics,
        };
        progress(TrainEvent::Epoch(rec));
        history.push(rec);
    }
    let inner = model.valid();
    let calibration = src
        .calibrate
        .map(|(c, _)| predict(&inner, c, cfg.batch_size, device))
        .transpose()?;
    let evaluated = predict(&inner, eval, cfg.batch_size, device)?;
    let record =
        crate::checkpoint::record_bytes(inner).map_err(|reason| TrainError::Record { reason })?;
    Ok((history, record, (calibration, evaluated)))
}

/// Logits of `model` on every window of `data` and their labels, in batches of `batch_size`.
fn predict<B: Backend, M: GaitClassifier<B>>(
    model: &M,
    data: &dyn WindowSource,
    batch_size: usize,
    device: &B::Device,
) -> Result<Predictions, TrainError> {
    let mut logits = Vec::with_capacity(data.len());
    let mut labels = Vec::with_capacity(data.len());
    let idx: Vec<usize> = (0..data.len()).collect();
    for chunk in idx.chunks(batch_size.max(1)) {
        let (x, y) = data.batch(chunk)?;
        let input =
            crate::nn::window_tensor::<B>(x, chunk.len(), data.interval(), data.joints(), device);
        logits.extend(to_vec(model.logits(input)));
        labels.extend(y);
    }
    Ok((logits, labels))
}

fn evaluate_inner<B: Backend, M: GaitClassifier<B>>(
    model: &M,
    data: &dyn WindowSource,
    batch_size: usize,
    pos_weight: f64,
    device: &B::Device,
    on_batch: &mut dyn FnMut(usize, f64),
) -> Result<(f64, Metrics), TrainError> {
    let mut confusion = Confusion::default();
    let mut loss_sum = 0.0;
    let idx: Vec<usize> = (0..data.len()).collect();
    for (bi, chunk) in idx.chunks(batch_size.max(1)).enumerate() {
        let (x, y) = data.batch(chunk)?;
        let n = chunk.len();
        let logits = to_vec(model.logits(crate::nn::window_tensor::<B>(
            x,
            n,
            data.interval(),
            data.joints(),
            device,
        )));
        let l = bce_host(&logits, &y, pos_weight);
        loss_sum += l;
        confusion.add(&logits, &y);
        on_batch(bi, l / n as f64);
    }
    let mean = if data.is_empty() {
        0.0
    } else {
        loss_sum / data.len() as f64
    };
    Ok((mean, confusion.metrics()))
}

/// Mean BCE loss (weight 1) and metrics of `model` on `data`, in batches of `batch_size`.
pub fn evaluate<B: Backend, M: GaitClassifier<B>>(
    model: &M,
    data: &dyn WindowSource,
    batch_size: usize,
    device: &B::Device,
) -> Result<(f64, Metrics), TrainError> {
    evaluate_inner(model, data, batch_size, 1.0, device, &mut |_, _| {})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::MultiMlpConfig;

    /// Windows where sick ones have a raised left-ankle (joint 7) height; healthy ones are noise.
    pub(crate) fn toy(n: usize, interval: usize, seed: u64) -> InMemoryWindows {
        let mut rng = Shuffler(seed);
        let mut u = || (rng.next_u64() >> 11) as f32 / (1u64 << 53) as f32 - 0.5;
        let mut data = Vec::new();
        let mut labels = Vec::new();
        for i in 0..n {
            let sick = i % 2 == 1;
            for _ in 0..interval {
                for j in 0..22 {
                    for c in 0..3 {
                        let mut v = u() * 0.2;
                        if sick && j == 7 && c == 2 {
                            v += 0.6;
                        }
                        data.push(v);
                    }
                }
            }
            labels.push(if sick { 1.0 } else { 0.0 });
        }
        InMemoryWindows {
            data,
            labels,
            interval,
            joints: 22,
        }
    }

    /// Stick-walker windows (`nn::asymmetry` tests) marked as heading-aligned at 50 Hz; with
    /// `one_sided`, their cohort records every sick window as one-sided (`--detector-training
    /// by-sides`), otherwise no sides.
    struct WalkerWindows(InMemoryWindows, bool);

    impl WindowSource for WalkerWindows {
        fn len(&self) -> usize {
            self.0.len()
        }
        fn interval(&self) -> usize {
            self.0.interval
        }
        fn joints(&self) -> usize {
            self.0.joints
        }
        fn batch(&self, indices: &[usize]) -> Result<(Vec<f32>, Vec<f32>), TrainError> {
            self.0.batch(indices)
        }
        fn data_hash(&self) -> u64 {
            self.0.data_hash()
        }
        fn pos_weight(&self) -> Option<f32> {
            self.0.pos_weight()
        }
        fn rate_hz(&self) -> Option<f64> {
            Some(50.0)
        }
        fn alignment_version(&self) -> &'static str {
            crate::dataset::HEADING_ALIGNMENT_VERSION
        }
        fn batch_sides(
            &self,
            indices: &[usize],
        ) -> Result<Vec<Option<PathologySides>>, TrainError> {
            let (_, y) = self.0.batch(indices)?;
            Ok(y.iter()
                .map(|&y| {
                    self.1.then_some(if y > 0.5 {
                        PathologySides::One
                    } else {
                        PathologySides::Neither
                    })
                })
                .collect())
        }
    }

    /// A two-detector classifier whose detectors' logits are the first two coordinates of a
    /// window's first frame.
    struct TwoDetectors;

    impl GaitClassifier<burn::backend::NdArray> for TwoDetectors {
        fn logits(
            &self,
            x: Tensor<burn::backend::NdArray, 4>,
        ) -> Tensor<burn::backend::NdArray, 2> {
            self.detector_logits(x).max_dim(1)
        }
        fn interval(&self) -> usize {
            1
        }
        fn joints(&self) -> usize {
            1
        }
        fn detector_logits(
            &self,
            x: Tensor<burn::backend::NdArray, 4>,
        ) -> Tensor<burn::backend::NdArray, 2> {
            let n = x.dims()[0];
            x.narrow(3, 0, 2).reshape([n, 2])
        }
    }

    #[test]
    fn by_sides_each_detector_learns_from_healthy_windows_and_its_own_kind_only() {
        let device = Default::default();
        let (a, p) = ([0.3f32, -1.0, 2.0, 0.5], [-0.2f32, 1.5, 0.4, -0.7]);
        let x: Vec<f32> = (0..4).flat_map(|i| [a[i], p[i], 0.0]).collect();
        let x = Tensor::<burn::backend::NdArray, 4>::from_data(
            TensorData::new(x, [4, 1, 1, 3]),
            &device,
        );
        let y = [0.0f32, 1.0, 1.0, 1.0];
        let target = Tensor::from_data(TensorData::new(y.to_vec(), [4]), &device);
        use PathologySides::*;
        let sides = [Some(Neither), Some(One), Some(Both), None];
        let targets = DetectorTargets {
            pos_weights: vec![2.0, 5.0],
            pos_weight: 3.0,
        };
        let (logits, loss) = targets.loss(&TwoDetectors, x, target, &sides, &device);
        let softplus = |z: f32| (z as f64).exp().ln_1p();
        // healthy: both detectors towards 0; one-sided: the asymmetry detector towards 1 with its
        // weight; bilateral: the posture detector with its; unknown: the larger logit.
        let want = (softplus(a[0])
            + softplus(p[0])
            + 2.0 * softplus(-a[1])
            + 5.0 * softplus(-p[2])
            + 3.0 * softplus(-a[3].max(p[3])))
            / 4.0;
        let got = to_vec(loss)[0] as f64;
        assert!((got - want).abs() < 1e-5, "loss {got}, expected {want}");
        assert_eq!(to_vec(logits), [0.3, 1.5, 2.0, 0.5]);
    }

    #[test]
    fn by_sides_needs_recorded_sides_and_keeps_the_posture_detector_off_one_sided_windows() {
        let _rng = crate::train::test_rng_lock();
        let mut cfg = TrainConfig::new(NetworkConfig::Asymmetry(crate::nn::AsymmetryConfig::new()));
        (cfg.epochs, cfg.batch_size, cfg.lr) = (10, 8, 5e-2);
        cfg.detector_training = DetectorTraining::BySides;
        let mut mlp = mlp_cfg();
        mlp.detector_training = DetectorTraining::BySides;
        let err = train(&mlp, &toy(8, 4, 1), &toy(4, 4, 2), |_| {}).unwrap_err();
        assert!(
            err.to_string().contains("applies to the asymmetry network"),
            "{err}"
        );
        let eval = WalkerWindows(walker_windows(10), false);
        let err = train(
            &cfg,
            &WalkerWindows(walker_windows(20), false),
            &eval,
            |_| {},
        )
        .unwrap_err();
        assert!(err.to_string().contains("record none"), "{err}");
        let fit = WalkerWindows(walker_windows(20), true);
        let out = train(&cfg, &fit, &eval, |_| {}).unwrap();
        assert_eq!(
            out.card.training.detector_training,
            DetectorTraining::BySides
        );
        let m = super::super::checkpoint::load_weights::<burn::backend::NdArray>(
            &out.card.network,
            out.record.clone(),
            &Default::default(),
        )
        .unwrap();
        let (x, y) = eval.0.batch(&(0..10).collect::<Vec<_>>()).unwrap();
        let x = crate::nn::window_tensor(x, 10, 100, 22, &Default::default());
        let d = to_vec(m.detector_logits(x));
        for (i, y) in y.iter().enumerate() {
            // The stiff knee raises the asymmetry detector; no window taught the posture
            // detector to rise, as no crouch was in training.
            assert_eq!(d[2 * i] > 0.0, *y == 1.0, "detector logits {d:?}");
            assert!(d[2 * i + 1] < 0.0, "posture detector rose: {d:?}");
        }
    }

    /// `n` walker windows of 100 frames, every other one with a stiff left knee (its flexion
    /// scaled by 0.4), the healthy ones with knees within ±10 % of each other.
    fn walker_windows(n: usize) -> InMemoryWindows {
        use crate::nn::asymmetry::tests::walker;
        let mut data = Vec::new();
        let mut labels = Vec::new();
        for i in 0..n {
            let sick = i % 2 == 1;
            let gain = if sick {
                0.4
            } else {
                0.9 + 0.2 * (i % 5) as f32 / 4.0
            };
            data.extend(walker(100, gain, 0.0));
            labels.push(if sick { 1.0 } else { 0.0 });
        }
        InMemoryWindows {
            data,
            labels,
            interval: 100,
            joints: 22,
        }
    }

    #[test]
    fn the_asymmetry_network_learns_a_one_sided_change_and_refuses_anisotropic_windows() {
        let _rng = crate::train::test_rng_lock();
        let mut cfg = TrainConfig::new(NetworkConfig::Asymmetry(crate::nn::AsymmetryConfig::new()));
        cfg.epochs = 10;
        cfg.batch_size = 8;
        cfg.lr = 5e-2;
        let (fit, eval) = (
            WalkerWindows(walker_windows(20), false),
            WalkerWindows(walker_windows(10), false),
        );
        let out = train(&cfg, &fit, &eval, |_| {}).unwrap();
        assert_eq!(out.card.network_type, "asymmetry");
        let NetworkConfig::Asymmetry(net) = &out.card.network else {
            panic!("not an asymmetry card");
        };
        assert!(net.feature_standardization.is_some());
        let logits = window_logits(&out, &eval.0);
        for (l, y) in logits.iter().zip(&eval.0.labels) {
            assert_eq!(*l > 0.0, *y == 1.0, "logits {logits:?}");
        }
        // Explained by gradient × input (its recommended method); LRP rules are typed errors.
        type A = burn::backend::Autodiff<burn::backend::NdArray>;
        let device = Default::default();
        let m = super::super::checkpoint::load_weights::<A>(
            &out.card.network,
            out.record.clone(),
            &device,
        )
        .unwrap();
        let (x, _) = eval.0.batch(&[1]).unwrap();
        let x = crate::nn::window_tensor::<A>(x, 1, 100, 22, &device);
        use crate::explain::{ExplainMethod, LrpRule, explain};
        let e = explain(&m, x.clone(), ExplainMethod::Lrp(LrpRule::Recommended)).unwrap();
        let leg = |joints: [usize; 3]| -> f32 {
            (0..100)
                .flat_map(|f| joints.map(|j| e[0].relevance[f * 22 + j].abs()))
                .sum()
        };
        assert!(
            leg([4, 7, 10]) + leg([5, 8, 11]) > 0.0,
            "no relevance on the legs"
        );
        let rule = explain(&m, x, ExplainMethod::Lrp(LrpRule::Epsilon(0.25))).unwrap_err();
        assert!(rule.to_string().contains("asymmetry"), "{rule}");
        asymmetry_card_round_trips(&out, &eval.0);
        // The original alignment scales each axis by itself: angles would be distorted.
        let err = train(&cfg, &walker_windows(20), &walker_windows(10), |_| {}).unwrap_err();
        assert!(err.to_string().contains("--alignment heading"), "{err}");
    }

    fn mlp_cfg() -> TrainConfig {
        let mut cfg = TrainConfig::new(NetworkConfig::MultiMlp(
            MultiMlpConfig::new()
                .with_interval(4)
                .with_pfe_layers(vec![8])
                .with_fc_layers(vec![8]),
        ));
        cfg.epochs = 15;
        cfg.batch_size = 8;
        cfg.lr = 1e-2;
        cfg
    }

    /// An asymmetry card written and read back gives the same logits (its feature statistics
    /// travel in the card), and a card whose statistics were tampered with is refused by name.
    fn asymmetry_card_round_trips(out: &TrainOutcome, w: &InMemoryWindows) {
        use super::super::checkpoint::{
            CardExpectation, load_checkpoint, read_card, save_checkpoint,
        };
        let dir = tempfile::tempdir().unwrap();
        let (_, card_path) = save_checkpoint(out, &dir.path().join("a")).unwrap();
        let device = Default::default();
        let (model, card) = load_checkpoint::<burn::backend::NdArray>(
            &card_path,
            &CardExpectation::default(),
            &device,
        )
        .unwrap();
        assert_eq!(
            serde_json::to_value(&card.network).unwrap(),
            serde_json::to_value(&out.card.network).unwrap()
        );
        let (x, _) = w.batch(&(0..w.len()).collect::<Vec<_>>()).unwrap();
        let x = crate::nn::window_tensor(x, w.len(), w.interval, 22, &device);
        assert_eq!(to_vec(model.logits(x)), window_logits(out, w));
        // A negative deviation would turn a detector around: refused, naming the statistics.
        let text = std::fs::read_to_string(&card_path).unwrap();
        let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v.as_object_mut().unwrap().remove("card_fnv1a64");
        let std = v
            .pointer_mut("/network/feature_standardization/std/0")
            .expect("the card stores the feature deviations");
        *std = serde_json::json!(-1.0);
        let tampered = dir.path().join("tampered.json");
        std::fs::write(&tampered, serde_json::to_vec(&v).unwrap()).unwrap();
        let err = read_card(&tampered).unwrap_err();
        assert!(err.to_string().contains("feature statistics"), "{err}");
        // A card from before the pelvis features reads without them; one that used them keeps
        // them (its statistics would not fit otherwise).
        let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v.as_object_mut().unwrap().remove("card_fnv1a64");
        let used = v["network"]["pelvic_obliquity"].as_bool().unwrap();
        for net in ["/network", "/training/network"] {
            let fields = v.pointer_mut(net).unwrap().as_object_mut().unwrap();
            assert!(fields.remove("pelvic_obliquity").is_some());
        }
        let older = dir.path().join("older.json");
        std::fs::write(&older, serde_json::to_vec(&v).unwrap()).unwrap();
        match read_card(&older) {
            Ok(card) => {
                assert!(!used, "a pelvis card read as an older one");
                let NetworkConfig::Asymmetry(n) = &card.network else {
                    panic!("{:?}", card.network)
                };
                assert!(!n.pelvic_obliquity);
            }
            Err(err) => assert!(
                used && err.to_string().contains("feature statistics"),
                "{err}"
            ),
        }
    }

    #[test]
    fn the_pelvis_reading_asymmetry_network_trains_and_round_trips() {
        let _rng = crate::train::test_rng_lock();
        let mut cfg = TrainConfig::new(NetworkConfig::Asymmetry(
            crate::nn::AsymmetryConfig::new().with_pelvic_obliquity(true),
        ));
        (cfg.epochs, cfg.batch_size, cfg.lr) = (10, 8, 5e-2);
        let eval = WalkerWindows(walker_windows(10), false);
        let out = train(
            &cfg,
            &WalkerWindows(walker_windows(20), false),
            &eval,
            |_| {},
        )
        .unwrap();
        let NetworkConfig::Asymmetry(net) = &out.card.network else {
            panic!("not an asymmetry card");
        };
        assert!(net.pelvic_obliquity);
        assert_eq!(
            net.feature_standardization.as_ref().map(|s| s.mean.len()),
            Some(crate::nn::asymmetry::feature_count(true))
        );
        let logits = window_logits(&out, &eval.0);
        for (l, y) in logits.iter().zip(&eval.0.labels) {
            assert_eq!(*l > 0.0, *y == 1.0, "logits {logits:?}");
        }
        asymmetry_card_round_trips(&out, &eval.0);
    }

    /// Logits of a trained outcome's network (loaded from its card and record) on every window
    /// of `w`.
    fn window_logits(o: &TrainOutcome, w: &InMemoryWindows) -> Vec<f32> {
        let device = Default::default();
        let m = super::super::checkpoint::load_weights::<burn::backend::NdArray>(
            &o.card.network,
            o.record.clone(),
            &device,
        )
        .unwrap();
        let (x, _) = w.batch(&(0..w.len()).collect::<Vec<_>>()).unwrap();
        to_vec(m.logits(crate::nn::window_tensor(
            x,
            w.len(),
            w.interval,
            22,
            &device,
        )))
    }

    #[test]
    fn mlp_learns_toy_task_and_is_deterministic() {
        let _rng = crate::train::test_rng_lock();
        let (tr, ev) = (toy(64, 4, 1), toy(32, 4, 2));
        let cfg = mlp_cfg();
        let mut epochs_seen = 0;
        let a = train(&cfg, &tr, &ev, |e| {
            if let TrainEvent::Epoch(_) = e {
                epochs_seen += 1
            }
        })
        .unwrap();
        assert_eq!(epochs_seen, 15);
        let last = a.card.epochs.last().unwrap();
        assert!(last.eval.accuracy >= 0.95, "{last:?}");
        assert!(last.train_loss < a.card.epochs[0].train_loss);
        // Records carry random parameter ids, so compare what the weights compute.
        let logits = |o: &TrainOutcome| window_logits(o, &ev);
        let b = train(&cfg, &tr, &ev, |_| {}).unwrap();
        assert!(
            logits(&a) == logits(&b),
            "same seed must give the same weights"
        );
        assert_eq!(a.card.epochs, b.card.epochs);
        let mut cfg2 = cfg.clone();
        cfg2.seed = 7;
        let c = train(&cfg2, &tr, &ev, |_| {}).unwrap();
        assert!(
            logits(&a) != logits(&c),
            "another seed must give other weights"
        );
    }

    /// The largest |logit| on the training windows `tr` of a network trained with `cfg`, and its card.
    fn max_abs_logit(
        cfg: &TrainConfig,
        tr: &InMemoryWindows,
        ev: &InMemoryWindows,
    ) -> (f32, ModelCard) {
        let o = train(cfg, tr, ev, |_| {}).unwrap();
        let l = window_logits(&o, tr);
        (l.iter().fold(0f32, |a, b| a.max(b.abs())), o.card)
    }

    /// A separable toy task (training and evaluation windows) with an MLP config run for 40 epochs
    /// without a calibration split, where the logits grow unless something bounds them.
    fn separable_long_run() -> (InMemoryWindows, InMemoryWindows, TrainConfig) {
        let mut cfg = mlp_cfg();
        cfg.epochs = 40;
        cfg.calibration_fraction = 0.0;
        (toy(64, 4, 1), toy(32, 4, 2), cfg)
    }

    /// Label smoothing keeps the logits of a separable task near ±ln((2 − ε)/ε) where plain BCE
    /// keeps growing them; ε outside [0, 0.5) is a typed error.
    #[test]
    fn label_smoothing_bounds_the_logits() {
        let _rng = crate::train::test_rng_lock();
        let (tr, ev, mut cfg) = separable_long_run();
        let max_logit = |cfg: &TrainConfig| max_abs_logit(cfg, &tr, &ev);
        let (plain, _) = max_logit(&cfg);
        cfg.label_smoothing = 0.2;
        let (smoothed, card) = max_logit(&cfg);
        assert_eq!(card.training.label_smoothing, 0.2);
        let bound = (1.8f32 / 0.2).ln();
        assert!(smoothed < bound + 1.0, "ε = 0.2: |logit| up to {smoothed}");
        assert!(
            plain > smoothed + 1.0,
            "plain {plain} vs smoothed {smoothed}"
        );
        cfg.label_smoothing = 0.5;
        assert!(matches!(
            train(&cfg, &tr, &ev, |_| {}),
            Err(TrainError::Config { .. })
        ));
    }

    /// Weight decay keeps the weights, and so the logits of a separable task, smaller than plain
    /// Adam does; a negative λ or λ with ADOPT is a typed error.
    #[test]
    fn weight_decay_shrinks_the_logits_and_needs_adam() {
        let _rng = crate::train::test_rng_lock();
        let (tr, ev, mut cfg) = separable_long_run();
        cfg.optimizer = OptimizerKind::Adam;
        let max_logit = |cfg: &TrainConfig| max_abs_logit(cfg, &tr, &ev);
        let (plain, _) = max_logit(&cfg);
        cfg.weight_decay = 0.5;
        let (decayed, card) = max_logit(&cfg);
        assert_eq!(card.training.weight_decay, 0.5);
        assert!(plain > 1.5 * decayed, "plain {plain} vs decayed {decayed}");
        for (lambda, optimizer) in [(-0.1, OptimizerKind::Adam), (0.1, OptimizerKind::Adopt)] {
            cfg.weight_decay = lambda;
            cfg.optimizer = optimizer;
            let err = train(&cfg, &tr, &ev, |_| {}).unwrap_err();
            assert!(err.to_string().contains("weight decay"), "{err}");
        }
    }

    #[test]
    fn learnt_standardization_is_stored_in_the_card_and_applied_after_loading() {
        let _rng = crate::train::test_rng_lock();
        let (tr, ev) = (toy(64, 4, 1), toy(32, 4, 2));
        let mut cfg = mlp_cfg();
        cfg.epochs = 3;
        cfg.standardize_input = Some(crate::nn::StandardizationScale::PerCoordinate);
        let out = train(&cfg, &tr, &ev, |_| {}).unwrap();
        let NetworkConfig::MultiMlp(net) = &out.card.network else {
            panic!("network type changed")
        };
        let stats = net
            .input_standardization
            .clone()
            .expect("statistics in the card");
        // Statistics of the training windows: joint 7's z carries the +0.6 of the sick half.
        let expected = crate::nn::InputStandardization::from_windows(
            tr.data.chunks_exact(4 * 22 * 3),
            22,
            false,
            crate::nn::StandardizationScale::PerCoordinate,
        );
        assert_eq!(stats, expected);
        assert!(
            stats.mean[7 * 3 + 2] > 0.25 && stats.mean[0].abs() < 0.05,
            "{stats:?}"
        );
        // The card round-trips through JSON and the loaded network applies the same step.
        let json = serde_json::to_string(&out.card.network).unwrap();
        let back: NetworkConfig = serde_json::from_str(&json).unwrap();
        let device = Default::default();
        let m = super::super::checkpoint::load_weights::<burn::backend::NdArray>(
            &back,
            out.record.clone(),
            &device,
        )
        .unwrap();
        let crate::nn::LoadedModel::Mlp(m) = m else {
            panic!("not an MLP")
        };
        let (x, _) = ev.batch(&[0, 1]).unwrap();
        let prepared =
            to_vec(m.prepare_input(crate::nn::window_tensor(x.clone(), 2, 4, 22, &device)));
        for (i, (p, v)) in prepared.iter().zip(&x).enumerate() {
            let c = i % 66;
            let want = (v - stats.mean[c]) / stats.std[c];
            assert!((p - want).abs() < 1e-5, "{i}: {p} vs {want}");
        }
        // Without the step the same weights compute something else.
        let plain = crate::nn::MultiMlp {
            standardization: None,
            ..m.clone()
        };
        let xin = || crate::nn::window_tensor(x.clone(), 2, 4, 22, &device);
        assert_ne!(to_vec(m.logits(xin())), to_vec(plain.logits(xin())));
    }

    /// Toy windows with subject names: `subjects` subjects of `per` windows each, alternating
    /// healthy and sick.
    struct SubjectWindows {
        windows: InMemoryWindows,
        names: Vec<String>,
    }

    impl SubjectWindows {
        fn new(subjects: usize, per: usize, seed: u64) -> Self {
            // toy() alternates the classes: its j-th window of class c is window 2j + c.
            let all = toy(2 * subjects * per, 4, seed);
            let mut picks = Vec::new();
            let mut names = Vec::new();
            for s in 0..subjects {
                for k in 0..per {
                    picks.push(2 * ((s / 2) * per + k) + s % 2);
                    names.push(format!("S{s:03}"));
                }
            }
            let (data, labels) = all.batch(&picks).unwrap();
            let windows = InMemoryWindows {
                data,
                labels,
                ..all
            };
            Self { windows, names }
        }
    }

    impl WindowSource for SubjectWindows {
        fn len(&self) -> usize {
            self.windows.len()
        }
        fn interval(&self) -> usize {
            self.windows.interval
        }
        fn joints(&self) -> usize {
            self.windows.joints
        }
        fn batch(&self, indices: &[usize]) -> Result<(Vec<f32>, Vec<f32>), TrainError> {
            self.windows.batch(indices)
        }
        fn data_hash(&self) -> u64 {
            self.windows.data_hash()
        }
        fn pos_weight(&self) -> Option<f32> {
            self.windows.pos_weight()
        }
        fn window_subjects(&self) -> Option<Vec<(String, bool)>> {
            Some(
                self.names
                    .iter()
                    .cloned()
                    .zip(self.windows.labels.iter().map(|&y| y > 0.5))
                    .collect(),
            )
        }
        fn subset(&self, indices: &[usize]) -> Option<Box<dyn WindowSource + '_>> {
            let (data, labels) = self.windows.batch(indices).ok()?;
            Some(Box::new(SubjectWindows {
                windows: InMemoryWindows {
                    data,
                    labels,
                    ..self.windows.clone()
                },
                names: indices.iter().map(|&i| self.names[i].clone()).collect(),
            }))
        }
    }

    #[test]
    fn training_holds_subjects_out_to_calibrate_and_records_the_temperature() {
        let _rng = crate::train::test_rng_lock();
        let (tr, ev) = (SubjectWindows::new(20, 6, 1), toy(32, 4, 2));
        let mut cfg = mlp_cfg();
        cfg.epochs = 4;
        let mut split = None;
        let out = train(&cfg, &tr, &ev, |e| {
            if let TrainEvent::CalibrationSplit {
                fit_windows,
                calibration_windows,
                calibration_subjects,
                subjects,
            } = e
            {
                split = Some((
                    fit_windows,
                    calibration_windows,
                    calibration_subjects,
                    subjects,
                ));
            }
        })
        .unwrap();
        // 10 subjects per class · 0.15 → 2 of each held out, 6 windows each.
        assert_eq!(split, Some((96, 24, 4, 20)));
        let c = out.card.calibration.expect("a calibration block");
        assert!(c.validate().is_ok(), "{c:?}");
        assert!(c.temperature.is_finite() && c.temperature > 0.0, "{c:?}");
        assert_eq!((c.windows, c.subjects), (24, 4));
        assert!(c.nll_after <= c.nll_before + 1e-12, "{c:?}");
        assert!(c.eval_ece_uncalibrated.is_some() && c.eval_ece_calibrated.is_some());
        assert_eq!(out.card.training.calibration_fraction, 0.15);
        // The calibration subjects stay out of fitting: the loss saw 96 windows per epoch.
        let mut batches = 0;
        let mut cfg0 = cfg.clone();
        cfg0.calibration_fraction = 0.0;
        let plain = train(&cfg0, &tr, &ev, |e| {
            if let TrainEvent::Started { train_batches, .. } = e {
                batches = train_batches
            }
        })
        .unwrap();
        assert_eq!(batches, 120usize.div_ceil(8));
        assert!(plain.card.calibration.is_none());
        // The card round-trips through its JSON with the block.
        let json = serde_json::to_vec(&out.card.clone().stamped()).unwrap();
        let back =
            super::super::checkpoint::parse_card(&json, std::path::Path::new("t.json")).unwrap();
        assert_eq!(back.calibration, out.card.calibration);
        // Too few subjects: skipped with a reason, fitted on everything, recorded as off.
        let few = SubjectWindows::new(2, 6, 1);
        let mut reason = String::new();
        let out = train(&cfg, &few, &ev, |e| {
            if let TrainEvent::CalibrationSkipped { reason: r } = e {
                reason = r
            }
        })
        .unwrap();
        assert!(reason.contains("too few subjects"), "{reason}");
        assert!(out.card.calibration.is_none());
        assert_eq!(out.card.training.calibration_fraction, 0.0);
    }

    #[test]
    fn rejects_mismatched_interval_and_gpu_without_feature() {
        let (tr, ev) = (toy(4, 5, 1), toy(4, 5, 2));
        let err = train(&mlp_cfg(), &tr, &ev, |_| {}).unwrap_err();
        assert!(matches!(err, TrainError::Data { .. }), "{err}");
        #[cfg(not(feature = "gpu"))]
        {
            let (tr, ev) = (toy(4, 4, 1), toy(4, 4, 2));
            let mut cfg = mlp_cfg();
            cfg.device = DeviceKind::Gpu;
            assert!(matches!(
                train(&cfg, &tr, &ev, |_| {}),
                Err(TrainError::GpuUnavailable)
            ));
        }
    }

    #[test]
    fn warmup_cosine_rises_linearly_then_decays_to_one_percent() {
        let s = LrSchedule::WarmupCosine { warmup_epochs: 1.0 };
        let (lr, per_epoch, total) = (2e-3, 10, 50);
        let rates: Vec<f64> = (0..total)
            .map(|i| s.rate(lr, i, total, per_epoch))
            .collect();
        for (i, r) in rates[..10].iter().enumerate() {
            assert!(
                (r - lr * (i + 1) as f64 / 10.0).abs() < 1e-12,
                "warm-up step {i}: {r}"
            );
        }
        assert!(
            (rates[10] - lr).abs() < 1e-12,
            "peak after warm-up: {}",
            rates[10]
        );
        assert!(rates[10..].windows(2).all(|w| w[1] < w[0]), "{rates:?}");
        // Half-way through the decay the cosine is at the mid point of peak and floor.
        assert!(
            (rates[30] - (lr + 0.01 * lr) / 2.0).abs() < 1e-9,
            "{}",
            rates[30]
        );
        assert!(
            rates[49] > 0.01 * lr && rates[49] < 0.02 * lr,
            "{}",
            rates[49]
        );
        assert_eq!(LrSchedule::Constant.rate(lr, 17, total, per_epoch), lr);
        // Without warm-up the first step already uses the peak rate.
        let cold = LrSchedule::WarmupCosine { warmup_epochs: 0.0 };
        assert_eq!(cold.rate(lr, 0, total, per_epoch), lr);
    }

    #[test]
    fn scheduled_training_learns_is_recorded_and_bad_warmup_is_rejected() {
        let _rng = crate::train::test_rng_lock();
        let (tr, ev) = (toy(64, 4, 1), toy(32, 4, 2));
        let mut cfg = mlp_cfg();
        cfg.lr_schedule = LrSchedule::WarmupCosine { warmup_epochs: 2.0 };
        let out = train(&cfg, &tr, &ev, |_| {}).unwrap();
        let last = out.card.epochs.last().unwrap();
        assert!(last.eval.accuracy >= 0.95, "{last:?}");
        let constant = train(&mlp_cfg(), &tr, &ev, |_| {}).unwrap();
        assert_ne!(
            out.card.epochs, constant.card.epochs,
            "the schedule must change the run"
        );
        let json = serde_json::to_string(&cfg).unwrap();
        assert!(json.contains("warmup_cosine"), "{json}");
        let back: TrainConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back.lr_schedule, cfg.lr_schedule);
        cfg.lr_schedule = LrSchedule::WarmupCosine {
            warmup_epochs: f64::NAN,
        };
        let err = train(&cfg, &tr, &ev, |_| {}).unwrap_err();
        assert!(err.to_string().contains("warm-up"), "{err}");
    }

    #[test]
    fn host_bce_matches_closed_form() {
        // x = 0: log 2 for either label; pos_weight scales only the positive term.
        let l = bce_host(&[0.0, 0.0], &[1.0, 0.0], 3.0);
        assert!((l - 4.0 * std::f64::consts::LN_2).abs() < 1e-12);
    }
}
