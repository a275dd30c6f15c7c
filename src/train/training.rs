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
    DeviceKind, EpochRecord, LrSchedule, NetworkConfig, OptimizerKind, TrainConfig,
};
use super::metrics::{Confusion, Metrics};
use crate::dataset::{ALIGNMENT_VERSION, WindowDataset};
use crate::nn::GaitClassifier;

/// Training windows used to estimate the input standardisation (evenly spaced over the source).
const STANDARDIZATION_WINDOWS: usize = 4096;

/// Up to [`STANDARDIZATION_WINDOWS`] evenly spaced windows of `train`, flat, and the length of one.
fn evenly_spaced_windows(train: &dyn WindowSource) -> Result<(Vec<f32>, usize), TrainError> {
    let n = train.len();
    let take = n.min(STANDARDIZATION_WINDOWS);
    let picks: Vec<usize> = (0..take).map(|i| i * n / take).collect();
    let per_window = train.interval() * train.joints() * 3;
    let mut data = Vec::with_capacity(take * per_window);
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

/// The normative gait ([`crate::explain::NormativeGait`]) of the healthy windows among up to
/// [`STANDARDIZATION_WINDOWS`] evenly spaced windows of `train` — what `gaitlens train` stores
/// in the model card and `gaitlens normative` adds to older cards.
pub fn learn_normative_gait(
    train: &dyn WindowSource,
) -> Result<crate::explain::NormativeGait, TrainError> {
    let no = |reason: String| TrainError::NoNormativeGait { reason };
    let rate_hz = train
        .rate_hz()
        .ok_or_else(|| no("the frame rate of the windows is unknown".into()))?;
    let n = train.len();
    let take = n.min(STANDARDIZATION_WINDOWS);
    let picks: Vec<usize> = (0..take).map(|i| i * n / take).collect();
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
/// [`STANDARDIZATION_WINDOWS`] evenly spaced training windows (`None`, with a warning, when
/// they cannot be learnt).
pub fn learn_domain(
    train: &dyn WindowSource,
) -> Result<Option<crate::explain::domain::DomainStats>, TrainError> {
    let (data, per_window) = evenly_spaced_windows(train)?;
    match crate::explain::domain::DomainStats::from_windows(
        data.chunks_exact(per_window),
        train.joints(),
    ) {
        Ok(d) => Ok(Some(d)),
        Err(reason) => {
            tracing::warn!("no out-of-domain statistics in the model card: {reason}");
            Ok(None)
        }
    }
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
        let ids: Vec<usize> = indices
            .iter()
            .map(|&i| {
                self.windows
                    .get(i)
                    .copied()
                    .ok_or_else(|| TrainError::Data {
                        reason: format!("window {i} of {}", self.windows.len()),
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok((
            self.dataset.batch_data(&ids)?,
            self.dataset.batch_labels(&ids)?,
        ))
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
    /// An epoch is done.
    Epoch(EpochRecord),
}

/// Trains the network of `cfg` on `train`, evaluating on `eval` after every epoch.
pub fn train(
    cfg: &TrainConfig,
    train: &dyn WindowSource,
    eval: &dyn WindowSource,
    mut progress: impl FnMut(TrainEvent),
) -> Result<TrainOutcome, TrainError> {
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
    {
        return Err(TrainError::Config {
            reason: format!(
                "batch_size {} (must be ≥ 1), lr {} (> 0), fold {} of {} (folds ≥ 2), \
                 learning-rate schedule {:?} (warm-up epochs finite and ≥ 0)",
                cfg.batch_size, cfg.lr, cfg.fold, cfg.folds, cfg.lr_schedule
            ),
        });
    }
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
    let standardized;
    let cfg = if let Some(scale) = cfg.standardize_input {
        let stats = estimate_standardization(&cfg.network, train, scale)?;
        let mut c = cfg.clone();
        match &mut c.network {
            NetworkConfig::Transformer(n) => n.input_standardization = Some(stats),
            NetworkConfig::MultiMlp(n) | NetworkConfig::LrpMlp(n) => {
                n.input_standardization = Some(stats)
            }
        }
        standardized = c;
        &standardized
    } else {
        cfg
    };
    match cfg.device {
        DeviceKind::Cpu => train_on::<burn::backend::Autodiff<burn::backend::NdArray>>(
            cfg,
            Default::default(),
            train,
            eval,
            &mut progress,
        ),
        #[cfg(feature = "gpu")]
        DeviceKind::Gpu => train_on::<burn::backend::Autodiff<burn::backend::Wgpu>>(
            cfg,
            Default::default(),
            train,
            eval,
            &mut progress,
        ),
        #[cfg(not(feature = "gpu"))]
        DeviceKind::Gpu => Err(TrainError::GpuUnavailable),
    }
}

fn train_on<B: AutodiffBackend>(
    cfg: &TrainConfig,
    device: B::Device,
    train: &dyn WindowSource,
    eval: &dyn WindowSource,
    progress: &mut dyn FnMut(TrainEvent),
) -> Result<TrainOutcome, TrainError> {
    B::seed(&device, cfg.seed);
    let (epochs, record) = match &cfg.network {
        NetworkConfig::Transformer(c) => {
            run::<B, _>(c.init::<B>(&device), cfg, &device, train, eval, progress)?
        }
        NetworkConfig::MultiMlp(c) | NetworkConfig::LrpMlp(c) => {
            run::<B, _>(c.init::<B>(&device), cfg, &device, train, eval, progress)?
        }
    };
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
            train.pos_weight()
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
        card_fnv1a64: None,
    }
    .stamped();
    Ok(TrainOutcome { card, record })
}

fn run<B, M>(
    model: M,
    cfg: &TrainConfig,
    device: &B::Device,
    train: &dyn WindowSource,
    eval: &dyn WindowSource,
    progress: &mut dyn FnMut(TrainEvent),
) -> Result<(Vec<EpochRecord>, Vec<u8>), TrainError>
where
    B: AutodiffBackend,
    M: AutodiffModule<B> + GaitClassifier<B>,
    M::InnerModule: GaitClassifier<B::InnerBackend>,
{
    match cfg.optimizer {
        OptimizerKind::Adopt => {
            let optim = AdoptConfig::new().init::<B, M>();
            run_with(model, optim, cfg, device, train, eval, progress)
        }
        OptimizerKind::Adam => {
            let optim = AdamConfig::new().init::<B, M>();
            run_with(model, optim, cfg, device, train, eval, progress)
        }
    }
}

use crate::rng::SplitMix64 as Shuffler;

pub(crate) fn to_vec<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data().iter::<f32>().collect()
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
    train: &dyn WindowSource,
    eval: &dyn WindowSource,
    progress: &mut dyn FnMut(TrainEvent),
) -> Result<(Vec<EpochRecord>, Vec<u8>), TrainError>
where
    B: AutodiffBackend,
    M: AutodiffModule<B> + GaitClassifier<B>,
    M::InnerModule: GaitClassifier<B::InnerBackend>,
    O: Optimizer<M, B>,
{
    let pos_weight = if cfg.use_pos_ratio {
        train.pos_weight().unwrap_or(1.0) as f64
    } else {
        1.0
    };
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
        for (bi, chunk) in order.chunks(cfg.batch_size).enumerate() {
            let (x, y) = train.batch(chunk)?;
            let n = chunk.len();
            let input = crate::nn::window_tensor::<B>(x, n, interval, joints, device);
            let target = Tensor::<B, 1>::from_data(TensorData::new(y.clone(), [n]), device);
            let logits = model.logits(input).reshape([n]);
            let loss = (target.clone().mul_scalar(pos_weight) * log_sigmoid(logits.clone())
                + (target.neg().add_scalar(1.0)) * log_sigmoid(logits.clone().neg()))
            .mean()
            .neg();
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
    let record = crate::checkpoint::record_bytes(model.valid())
        .map_err(|reason| TrainError::Record { reason })?;
    Ok((history, record))
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
        let device = Default::default();
        let logits = |o: &TrainOutcome| {
            let m = super::super::checkpoint::load_weights::<burn::backend::NdArray>(
                &o.card.network,
                o.record.clone(),
                &device,
            )
            .unwrap();
            let (x, _) = ev.batch(&(0..ev.len()).collect::<Vec<_>>()).unwrap();
            to_vec(m.logits(crate::nn::window_tensor(x, ev.len(), 4, 22, &device)))
        };
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
