//! Deterministic CPU training (burn `Autodiff<NdArray>`, Adam, step learning-rate decay) of the
//! video networks, and their checkpoints: the burn record `<stem>.mpk` (named MessagePack, full
//! precision) beside a JSON model card `<stem>.json` holding everything prediction must repeat
//! (network, task, preprocessing, feature list and standardisation, target scaling, labels) plus
//! the training history. Both files are written atomically; loading validates the card against
//! itself, this code's feature list and the record's hash.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::backend::{Autodiff, NdArray};
use burn::module::AutodiffModule;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::prelude::*;
use burn::tensor::activation::{log_sigmoid, log_softmax, sigmoid, softmax};
use serde::{Deserialize, Serialize};

use super::VideoError;
use super::data::{FeatureStats, WindowSet, build_windows};
use super::model::{Task, VideoModelConfig, VideoNet};
use super::preprocess::{PreprocessConfig, feature_names};
use crate::formats::openpose::Body25;

/// The CPU backend used for training.
pub type TrainBackend = Autodiff<NdArray>;
/// The CPU backend used for prediction.
pub type InferBackend = NdArray;

/// Format tag of video model cards written by this version.
pub const VIDEO_CARD_FORMAT: &str = "gaitlens-video-model-card/1";

/// Training parameters (serde; saved in the model card).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VideoTrainConfig {
    /// The network; its `features` must equal the preprocessing's feature count.
    pub model: VideoModelConfig,
    /// Regression or classification.
    pub task: Task,
    /// Preprocessing (repeated at prediction).
    pub preprocess: PreprocessConfig,
    /// Passes over the training windows.
    pub epochs: usize,
    /// Windows per batch.
    pub batch_size: usize,
    /// Adam learning rate at the start.
    pub lr: f64,
    /// Multiply the learning rate by `lr_step_factor` every `lr_step_epochs` (the original:
    /// 0.8 every 10).
    pub lr_step_epochs: usize,
    /// See `lr_step_epochs`.
    pub lr_step_factor: f64,
    /// L2 penalty added by Adam (0 = none).
    pub weight_decay: f32,
    /// Seed of weights, dropout and shuffling.
    pub seed: u64,
    /// Weight each window by 1 / (windows of its clip), as the original did, so long clips do
    /// not dominate.
    pub per_clip_weighting: bool,
    /// For classification, give each class the same total weight.
    pub balance_classes: bool,
    /// Class names by index (classification); empty for regression.
    pub label_names: Vec<String>,
}

impl VideoTrainConfig {
    /// Defaults for a network kind (`cnn`, `lstm`, `cnn_lstm`) on the binary
    /// normal/pathological task with the default preprocessing.
    pub fn binary(kind: &str) -> Result<Self, VideoError> {
        Self::new(kind, Task::Binary, PreprocessConfig::default())
    }

    /// Defaults for a network kind, task and preprocessing.
    pub fn new(kind: &str, task: Task, preprocess: PreprocessConfig) -> Result<Self, VideoError> {
        let model = VideoModelConfig::default_for(
            kind,
            preprocess.num_features(),
            preprocess.window_frames,
            task.outputs(),
        )
        .ok_or_else(|| VideoError::Config {
            field: "model",
            reason: format!("unknown network `{kind}` (expected cnn, lstm or cnn_lstm)"),
        })?;
        let label_names = match task {
            Task::Regression => Vec::new(),
            Task::Binary => super::data::BINARY_LABELS.map(String::from).to_vec(),
            Task::MultiClass { classes } => (0..classes).map(|c| format!("class{c}")).collect(),
        };
        Ok(Self {
            model,
            task,
            preprocess,
            epochs: 30,
            batch_size: 16,
            lr: 1e-3,
            lr_step_epochs: 10,
            lr_step_factor: 0.8,
            weight_decay: 1e-4,
            seed: 1,
            per_clip_weighting: true,
            balance_classes: true,
            label_names,
        })
    }

    /// Checks the configuration against itself.
    pub fn validate(&self) -> Result<(), VideoError> {
        self.preprocess.validate()?;
        self.model.validate()?;
        let bad = |field, reason: String| Err(VideoError::Config { field, reason });
        if self.model.features() != self.preprocess.num_features() {
            return bad(
                "model.features",
                format!(
                    "{} but the preprocessing gives {} features",
                    self.model.features(),
                    self.preprocess.num_features()
                ),
            );
        }
        if self.model.outputs() != self.task.outputs() {
            return bad(
                "model.outputs",
                format!(
                    "{} but the task needs {}",
                    self.model.outputs(),
                    self.task.outputs()
                ),
            );
        }
        if let VideoModelConfig::Cnn(c) = &self.model
            && c.window_frames != self.preprocess.window_frames
        {
            return bad(
                "model.window_frames",
                format!(
                    "{} but windows have {}",
                    c.window_frames, self.preprocess.window_frames
                ),
            );
        }
        if let Task::MultiClass { classes } = self.task
            && classes < 2
        {
            return bad("task", "multi-class needs ≥ 2 classes".into());
        }
        let want = match self.task {
            Task::Regression => 0,
            Task::Binary => 2,
            Task::MultiClass { classes } => classes,
        };
        if self.label_names.len() != want {
            return bad(
                "label_names",
                format!(
                    "{} names for a task with {want} classes",
                    self.label_names.len()
                ),
            );
        }
        if self.epochs == 0 || self.batch_size < 2 || self.lr.is_nan() || self.lr <= 0.0 {
            return bad(
                "training",
                "epochs ≥ 1, batch_size ≥ 2 and lr > 0 required".into(),
            );
        }
        Ok(())
    }
}

/// Progress of training and evaluation.
#[derive(Debug, Clone, PartialEq)]
pub enum VideoEvent {
    /// Training starts.
    Started {
        /// Training windows.
        windows: usize,
        /// Epochs.
        epochs: usize,
    },
    /// One epoch done.
    Epoch {
        /// Epoch (0-based).
        epoch: usize,
        /// Total epochs.
        epochs: usize,
        /// Weighted mean training loss.
        train_loss: f64,
    },
    /// A cross-validation fold starts.
    Fold {
        /// Fold index (0-based).
        fold: usize,
        /// Number of folds.
        folds: usize,
        /// Held-out clips.
        held_out: Vec<String>,
    },
}

/// One epoch of the training history.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EpochLog {
    /// Epoch (0-based).
    pub epoch: usize,
    /// Learning rate used.
    pub lr: f64,
    /// Weighted mean training loss.
    pub train_loss: f64,
}

/// The JSON model card of a trained video network.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VideoModelCard {
    /// [`VIDEO_CARD_FORMAT`].
    pub format: String,
    /// `cnn`, `lstm` or `cnn_lstm` (must match `training.model`).
    pub model_type: String,
    /// Training configuration, including the network, task and preprocessing.
    pub training: VideoTrainConfig,
    /// Feature names in column order (must match the preprocessing).
    pub feature_names: Vec<String>,
    /// Standardisation fitted on the training windows.
    pub feature_stats: FeatureStats,
    /// Regression: targets were scaled as `(y − target_min) / target_range`.
    pub target_min: f32,
    /// See `target_min`.
    pub target_range: f32,
    /// Clips the network was trained on.
    pub trained_clips: Vec<String>,
    /// Clips skipped for lack of usable windows, with the reason.
    pub skipped_clips: Vec<(String, String)>,
    /// Training windows.
    pub train_windows: usize,
    /// Loss per epoch.
    pub history: Vec<EpochLog>,
    /// Free-form metrics (e.g. cross-validation results) added by the caller.
    pub metrics: BTreeMap<String, f64>,
    /// FNV-1a 64 of the record bytes, hex.
    pub record_fnv1a64: String,
    /// [`crate::checkpoint::card_hash`] of this card, stamped when it is saved (`None`: written
    /// before gaitlens stored one): a card edited afterwards (e.g. swapped `label_names`, which
    /// would invert every verdict) is refused on load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_fnv1a64: Option<String>,
}

impl VideoModelCard {
    /// The card with its content hash stamped in.
    pub fn stamped(mut self) -> Self {
        self.card_fnv1a64 = Some(crate::checkpoint::card_hash(&self));
        self
    }
}

/// A trained network ready for prediction, with its card.
#[derive(Debug)]
pub struct LoadedVideoModel {
    /// The card.
    pub card: VideoModelCard,
    /// The network on the CPU inference backend.
    pub net: VideoNet<InferBackend>,
}

/// A freshly trained network: the model plus its serialised record.
#[derive(Debug)]
pub struct TrainedVideoModel {
    /// Model and card.
    pub model: LoadedVideoModel,
    /// Record bytes (named MessagePack).
    pub record: Vec<u8>,
}

/// Trains on labelled clips `(name, frames, target)`: preprocessing, windows, standardisation,
/// then [`train_on_windows`]. Clips without a usable window are skipped and listed in the card.
pub fn train_model(
    clips: &[(&str, &[Option<Body25>], f32)],
    cfg: &VideoTrainConfig,
    progress: &mut dyn FnMut(VideoEvent),
) -> Result<TrainedVideoModel, VideoError> {
    cfg.validate()?;
    let (set, skipped) = build_windows(clips, &cfg.preprocess)?;
    let names: Vec<String> = clips.iter().map(|c| c.0.to_string()).collect();
    train_on_windows(&set, &names, skipped, cfg, progress)
}

fn window_weights(set: &WindowSet, cfg: &VideoTrainConfig) -> Vec<f32> {
    let n = set.len();
    let mut w = vec![1.0f32; n];
    if cfg.per_clip_weighting {
        let mut count: BTreeMap<usize, usize> = BTreeMap::new();
        for &c in &set.clip_of {
            *count.entry(c).or_default() += 1;
        }
        for (i, wi) in w.iter_mut().enumerate() {
            *wi = 1.0 / count[&set.clip_of[i]] as f32;
        }
    }
    if cfg.balance_classes && cfg.task != Task::Regression {
        let mut class_w: BTreeMap<i64, f32> = BTreeMap::new();
        for (i, &t) in set.targets.iter().enumerate() {
            *class_w.entry(t.round() as i64).or_default() += w[i];
        }
        let k = class_w.len() as f32;
        for (i, wi) in w.iter_mut().enumerate() {
            *wi /= class_w[&(set.targets[i].round() as i64)] * k;
        }
    }
    let mean = w.iter().sum::<f32>() / n.max(1) as f32;
    w.iter().map(|x| x / mean).collect()
}

/// Trains on prepared windows (raw features; standardisation is fitted here). `clip_names`
/// indexes `set.clip_of`.
pub fn train_on_windows(
    set: &WindowSet,
    clip_names: &[String],
    skipped: Vec<(String, String)>,
    cfg: &VideoTrainConfig,
    progress: &mut dyn FnMut(VideoEvent),
) -> Result<TrainedVideoModel, VideoError> {
    check_windows(set, cfg)?;
    let stats = FeatureStats::fit(set);
    let mut x = set.x.clone();
    stats.apply(&mut x);
    let (target_min, target_range) = target_scaling(set, cfg.task);
    let data = TrainData {
        x,
        targets: set
            .targets
            .iter()
            .map(|t| (t - target_min) / target_range)
            .collect(),
        weights: window_weights(set, cfg),
        windows: set.len(),
        window_frames: set.window_frames,
        features: set.features,
        task: cfg.task,
        device: Default::default(),
    };
    let (model, history) = fit_network(&data, cfg, progress)?;
    let net = model.valid();
    let record =
        crate::checkpoint::record_bytes(net.clone()).map_err(|reason| VideoError::Record {
            path: PathBuf::new(),
            reason,
        })?;
    let mut trained: Vec<usize> = set.clip_of.clone();
    trained.sort_unstable();
    trained.dedup();
    let card = VideoModelCard {
        format: VIDEO_CARD_FORMAT.to_string(),
        model_type: cfg.model.kind().to_string(),
        training: cfg.clone(),
        feature_names: feature_names(&cfg.preprocess),
        feature_stats: stats,
        target_min,
        target_range,
        trained_clips: trained
            .iter()
            .map(|&c| {
                clip_names
                    .get(c)
                    .cloned()
                    .unwrap_or_else(|| format!("#{c}"))
            })
            .collect(),
        skipped_clips: skipped,
        train_windows: set.len(),
        history,
        metrics: BTreeMap::new(),
        record_fnv1a64: crate::checkpoint::record_hash(&record),
        card_fnv1a64: None,
    };
    Ok(TrainedVideoModel {
        model: LoadedVideoModel { card, net },
        record,
    })
}

/// Checks the configuration and that the windows match it: at least two, of the configured
/// shape, with targets valid for the task.
fn check_windows(set: &WindowSet, cfg: &VideoTrainConfig) -> Result<(), VideoError> {
    cfg.validate()?;
    if set.len() < 2 {
        return Err(VideoError::Data {
            reason: format!("{} training windows; need at least 2", set.len()),
        });
    }
    if set.features != cfg.model.features() || set.window_frames != cfg.preprocess.window_frames {
        return Err(VideoError::Data {
            reason: format!(
                "windows are {}×{}, the configuration expects {}×{}",
                set.window_frames,
                set.features,
                cfg.preprocess.window_frames,
                cfg.model.features()
            ),
        });
    }
    match cfg.task {
        Task::Binary | Task::MultiClass { .. } => {
            let k = cfg.task.outputs().max(2);
            if let Some(t) = set
                .targets
                .iter()
                .find(|t| t.fract() != 0.0 || **t < 0.0 || **t as usize >= k)
            {
                return Err(VideoError::Data {
                    reason: format!("class target {t} is not an integer in 0..{k}"),
                });
            }
        }
        Task::Regression => {
            if set.targets.iter().any(|t| !t.is_finite()) {
                return Err(VideoError::Data {
                    reason: "non-finite regression target".into(),
                });
            }
        }
    }
    Ok(())
}

/// `(min, range)` mapping regression targets onto [0, 1]; `(0, 1)` for classification.
fn target_scaling(set: &WindowSet, task: Task) -> (f32, f32) {
    if task != Task::Regression {
        return (0.0, 1.0);
    }
    let lo = set.targets.iter().copied().fold(f32::INFINITY, f32::min);
    let hi = set
        .targets
        .iter()
        .copied()
        .fold(f32::NEG_INFINITY, f32::max);
    (lo, if hi - lo > 1e-12 { hi - lo } else { 1.0 })
}

/// The standardised windows with their scaled targets and weights, ready to batch.
struct TrainData {
    /// `windows × window_frames × features` standardised features.
    x: Vec<f32>,
    /// Scaled targets, one per window.
    targets: Vec<f32>,
    /// Loss weights, one per window.
    weights: Vec<f32>,
    /// Number of windows.
    windows: usize,
    /// Frames per window.
    window_frames: usize,
    /// Features per frame.
    features: usize,
    /// What the network learns.
    task: Task,
    /// The training device.
    device: Device<TrainBackend>,
}

/// Initialises the network (seeded) and trains it with Adam for `cfg.epochs` shuffled epochs
/// under the step learning-rate schedule; returns it with the per-epoch log.
fn fit_network(
    data: &TrainData,
    cfg: &VideoTrainConfig,
    progress: &mut dyn FnMut(VideoEvent),
) -> Result<(VideoNet<TrainBackend>, Vec<EpochLog>), VideoError> {
    TrainBackend::seed(&data.device, cfg.seed);
    let mut model = cfg.model.init::<TrainBackend>(&data.device);
    let mut adam = AdamConfig::new();
    if cfg.weight_decay > 0.0 {
        adam = adam.with_weight_decay(Some(WeightDecayConfig::new(cfg.weight_decay)));
    }
    let mut optim = adam.init::<TrainBackend, VideoNet<TrainBackend>>();
    let mut rng = crate::rng::SplitMix64::stream(cfg.seed, 0x71DE0, 0x5 /* shuffle */);
    let mut history = Vec::with_capacity(cfg.epochs);
    progress(VideoEvent::Started {
        windows: data.windows,
        epochs: cfg.epochs,
    });
    for epoch in 0..cfg.epochs {
        let lr = cfg.lr
            * cfg
                .lr_step_factor
                .powi((epoch / cfg.lr_step_epochs.max(1)) as i32);
        let mut order: Vec<usize> = (0..data.windows).collect();
        rng.shuffle(&mut order);
        let mut loss_sum = 0.0f64;
        let mut seen = 0usize;
        for chunk in order.chunks(cfg.batch_size) {
            // batch norm cannot train on one window
            if chunk.len() < 2 {
                continue;
            }
            let (next, lv) = train_batch(model, &mut optim, data, chunk, lr, epoch)?;
            model = next;
            loss_sum += lv * chunk.len() as f64;
            seen += chunk.len();
        }
        let train_loss = loss_sum / seen.max(1) as f64;
        history.push(EpochLog {
            epoch,
            lr,
            train_loss,
        });
        progress(VideoEvent::Epoch {
            epoch,
            epochs: cfg.epochs,
            train_loss,
        });
    }
    Ok((model, history))
}

/// One optimiser step on the windows `chunk`: returns the updated network and the batch's
/// weighted mean loss; a non-finite loss is [`VideoError::Diverged`].
fn train_batch(
    model: VideoNet<TrainBackend>,
    optim: &mut impl Optimizer<VideoNet<TrainBackend>, TrainBackend>,
    data: &TrainData,
    chunk: &[usize],
    lr: f64,
    epoch: usize,
) -> Result<(VideoNet<TrainBackend>, f64), VideoError> {
    let (wf, nf) = (data.window_frames, data.features);
    let ws = wf * nf;
    let n = chunk.len();
    let mut xb = Vec::with_capacity(n * ws);
    for &i in chunk {
        xb.extend_from_slice(&data.x[i * ws..(i + 1) * ws]);
    }
    let yb: Vec<f32> = chunk.iter().map(|&i| data.targets[i]).collect();
    let wb: Vec<f32> = chunk.iter().map(|&i| data.weights[i]).collect();
    let device = &data.device;
    let x = Tensor::<TrainBackend, 3>::from_data(TensorData::new(xb, [n, wf, nf]), device);
    let w = Tensor::<TrainBackend, 1>::from_data(TensorData::new(wb, [n]), device);
    let out = model.forward(x);
    let per = per_window_loss(out, &yb, data.task, device);
    let loss = (per * w).mean();
    let lv = loss
        .clone()
        .into_data()
        .iter::<f32>()
        .next()
        .unwrap_or(f32::NAN) as f64;
    if !lv.is_finite() {
        return Err(VideoError::Diverged { epoch, loss: lv });
    }
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    Ok((optim.step(lr, model, grads), lv))
}

fn per_window_loss<B: Backend>(
    out: Tensor<B, 2>,
    y: &[f32],
    task: Task,
    device: &B::Device,
) -> Tensor<B, 1> {
    let n = y.len();
    match task {
        Task::Regression => {
            let t = Tensor::<B, 1>::from_data(TensorData::new(y.to_vec(), [n]), device);
            (out.reshape([n]) - t).powi_scalar(2)
        }
        Task::Binary => {
            let t = Tensor::<B, 1>::from_data(TensorData::new(y.to_vec(), [n]), device);
            let z = out.reshape([n]);
            (t.clone() * log_sigmoid(z.clone()) + (t.neg().add_scalar(1.0)) * log_sigmoid(z.neg()))
                .neg()
        }
        Task::MultiClass { classes } => {
            let mut onehot = vec![0.0f32; n * classes];
            for (i, &c) in y.iter().enumerate() {
                onehot[i * classes + c as usize] = 1.0;
            }
            let t = Tensor::<B, 2>::from_data(TensorData::new(onehot, [n, classes]), device);
            (log_softmax(out, 1) * t).sum_dim(1).reshape([n]).neg()
        }
    }
}

impl LoadedVideoModel {
    /// Runs the network on raw (unstandardised) windows, `n × window_frames × features`, and
    /// returns per window: the regression value in target units, the pathological probability
    /// (binary) or the class probabilities (multi-class).
    pub fn predict_windows(&self, raw: &[f32], n: usize) -> Vec<Vec<f32>> {
        if n == 0 {
            return Vec::new();
        }
        let cfg = &self.card.training;
        let (wf, nf) = (cfg.preprocess.window_frames, self.card.feature_names.len());
        let mut x = raw.to_vec();
        self.card.feature_stats.apply(&mut x);
        let device = Default::default();
        let out = self.net.forward(Tensor::<InferBackend, 3>::from_data(
            TensorData::new(x, [n, wf, nf]),
            &device,
        ));
        let k = cfg.task.outputs();
        let out = match cfg.task {
            Task::Regression => out
                .mul_scalar(self.card.target_range)
                .add_scalar(self.card.target_min),
            Task::Binary => sigmoid(out),
            Task::MultiClass { .. } => softmax(out, 1),
        };
        let v: Vec<f32> = out.into_data().iter::<f32>().collect();
        v.chunks(k).map(|c| c.to_vec()).collect()
    }
}

/// Paths of the record and the card for `stem` ([`crate::checkpoint::paths`]).
pub use crate::checkpoint::paths as model_paths;

/// Writes `<stem>.mpk` then `<stem>.json`, each atomically (temporary file + rename); returns
/// (record path, card path).
pub fn save_model(
    trained: &TrainedVideoModel,
    stem: &Path,
) -> Result<(PathBuf, PathBuf), VideoError> {
    let card = trained.model.card.clone().stamped();
    Ok(crate::checkpoint::write(stem, &trained.record, &card)?)
}

/// Checks a card against itself and this code (format, network type, feature list, sizes).
pub fn validate_card(card: &VideoModelCard, path: &Path) -> Result<(), VideoError> {
    let mismatch = |field, found: String, expected: String| {
        Err(VideoError::CardMismatch {
            path: path.to_path_buf(),
            field,
            found,
            expected,
        })
    };
    if card.format != VIDEO_CARD_FORMAT {
        return mismatch("format", card.format.clone(), VIDEO_CARD_FORMAT.into());
    }
    let t = &card.training;
    if card.model_type != t.model.kind() {
        return mismatch("model_type", card.model_type.clone(), t.model.kind().into());
    }
    let names = feature_names(&t.preprocess);
    if card.feature_names != names {
        return mismatch(
            "feature_names",
            card.feature_names.join(","),
            names.join(","),
        );
    }
    let nf = names.len();
    for (field, values) in [
        ("feature_stats.mean", &card.feature_stats.mean),
        ("feature_stats.std", &card.feature_stats.std),
    ] {
        if values.len() != nf {
            return mismatch(
                field,
                format!("{} values", values.len()),
                format!("{nf} values, one per feature"),
            );
        }
    }
    if let Some((k, v)) = (card.feature_stats.mean.iter().enumerate()).find(|(_, v)| !v.is_finite())
    {
        return mismatch(
            "feature_stats.mean",
            format!("{v} at feature {k} ({})", names[k]),
            "finite numbers".into(),
        );
    }
    if let Some((k, v)) =
        (card.feature_stats.std.iter().enumerate()).find(|(_, v)| !(v.is_finite() && **v > 0.0))
    {
        return mismatch(
            "feature_stats.std",
            format!("{v} at feature {k} ({})", names[k]),
            "positive finite numbers (a feature is divided by it)".into(),
        );
    }
    if !(card.target_range.is_finite() && card.target_range > 0.0 && card.target_min.is_finite()) {
        return mismatch(
            "target_range",
            card.target_range.to_string(),
            "a positive number".into(),
        );
    }
    t.validate().map_err(|e| VideoError::CardMismatch {
        path: path.to_path_buf(),
        field: "training",
        found: e.to_string(),
        expected: "a consistent configuration".into(),
    })
}

/// Loads `<stem>.json` and `<stem>.mpk` (either path or the stem may be given), validating the
/// card and the record's hash.
pub fn load_model(path: &Path) -> Result<LoadedVideoModel, VideoError> {
    let (rec_path, card_path) = model_paths(path);
    let bytes = std::fs::read(&card_path).map_err(|source| VideoError::Io {
        path: card_path.clone(),
        source,
    })?;
    // The card is checked before the record is read, so a broken card is named as such.
    parse_card(&bytes, &card_path)?;
    let record = std::fs::read(&rec_path).map_err(|source| VideoError::Io {
        path: rec_path.clone(),
        source,
    })?;
    load_model_bytes(&bytes, record, &card_path, &rec_path)
}

/// Parses and validates the bytes of a video model card (every field in range, content hash);
/// `card_path` names it in errors.
pub fn parse_card(card_bytes: &[u8], card_path: &Path) -> Result<VideoModelCard, VideoError> {
    let card: VideoModelCard =
        serde_json::from_slice(card_bytes).map_err(|source| VideoError::CardJson {
            path: card_path.to_path_buf(),
            source,
        })?;
    validate_card(&card, card_path)?;
    crate::checkpoint::check_card_text(card_bytes).map_err(|(found, stated)| {
        VideoError::CardMismatch {
            path: card_path.to_path_buf(),
            field: "card_fnv1a64",
            found: format!("{stated}, but the card's content hashes to {found}"),
            expected: "the hash written with the card (it was edited after training: retrain, \
                       or remove the field to accept the edit)"
                .into(),
        }
    })?;
    Ok(card)
}

/// Loads a video network from the bytes of its card and record (e.g. embedded in the binary);
/// `card_path` and `rec_path` name them in errors. Validated exactly as [`load_model`].
pub fn load_model_bytes(
    card_bytes: &[u8],
    record: Vec<u8>,
    card_path: &Path,
    rec_path: &Path,
) -> Result<LoadedVideoModel, VideoError> {
    let card = parse_card(card_bytes, card_path)?;
    let hash = crate::checkpoint::record_hash(&record);
    if hash != card.record_fnv1a64 {
        return Err(VideoError::CardMismatch {
            path: rec_path.to_path_buf(),
            field: "record_fnv1a64",
            found: hash,
            expected: card.record_fnv1a64.clone(),
        });
    }
    let device = Default::default();
    let net = card.training.model.init::<InferBackend>(&device);
    let net = crate::checkpoint::load_weights_into(net, record, &device).map_err(|reason| {
        VideoError::Record {
            path: rec_path.to_path_buf(),
            reason,
        }
    })?;
    Ok(LoadedVideoModel { card, net })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::video::data::synthetic_walker;

    fn small(kind: &str, task: Task) -> VideoTrainConfig {
        let pre = PreprocessConfig {
            window_frames: 48,
            stride_frames: 12,
            ..Default::default()
        };
        let mut cfg = VideoTrainConfig::new(kind, task, pre).unwrap();
        cfg.epochs = 3;
        cfg.batch_size = 8;
        cfg
    }

    fn clips() -> Vec<(String, Vec<Option<Body25>>, f32)> {
        (0..6)
            .map(|i| {
                let amp = if i % 2 == 0 { 25.0 } else { 60.0 };
                let s = synthetic_walker(&format!("c{i}"), 120, 30.0, amp, 0.9, 1.0, i as u64);
                (s.clip, s.frames, (i % 2) as f32)
            })
            .collect()
    }

    #[test]
    fn same_seed_same_weights_and_save_load_roundtrip() {
        let data = clips();
        let refs: Vec<(&str, &[Option<Body25>], f32)> = data
            .iter()
            .map(|(n, f, t)| (n.as_str(), f.as_slice(), *t))
            .collect();
        let cfg = small("cnn", Task::Binary);
        // burn's NdArray generator is process-wide: serialise with the other training tests.
        let _lock = crate::train::test_rng_lock();
        let a = train_model(&refs, &cfg, &mut |_| {}).unwrap();
        let b = train_model(&refs, &cfg, &mut |_| {}).unwrap();
        // records carry random parameter ids, so compare what the weights compute
        let (set, _) = build_windows(&refs, &cfg.preprocess).unwrap();
        let pa = a.model.predict_windows(&set.x, set.len());
        let pb = b.model.predict_windows(&set.x, set.len());
        assert_eq!(pa, pb, "same seed must give the same weights");
        let mut cfg2 = cfg.clone();
        cfg2.seed = 9;
        let c = train_model(&refs, &cfg2, &mut |_| {}).unwrap();
        assert_ne!(
            pa,
            c.model.predict_windows(&set.x, set.len()),
            "another seed, other weights"
        );
        drop(_lock);

        let dir = tempfile::tempdir().unwrap();
        let stem = dir.path().join("m");
        let (rec, card) = save_model(&a, &stem).unwrap();
        let loaded = load_model(&stem).unwrap();
        let p1 = a.model.predict_windows(&set.x, set.len());
        let p2 = loaded.predict_windows(&set.x, set.len());
        assert_eq!(p1, p2);
        assert!(
            p1.iter()
                .all(|p| p.len() == 1 && (0.0..=1.0).contains(&p[0]))
        );

        // a card whose feature list differs from the code's fails clearly
        let mut bad = loaded.card.clone();
        bad.feature_names[0] = "Nose_x".into();
        std::fs::write(&card, serde_json::to_vec(&bad).unwrap()).unwrap();
        let err = load_model(&stem).unwrap_err().to_string();
        assert!(
            err.contains("feature_names") && err.contains("m.json"),
            "{err}"
        );
        // a record that does not belong to the card fails clearly
        std::fs::write(&card, serde_json::to_vec(&loaded.card).unwrap()).unwrap();
        std::fs::write(&rec, b"not a record").unwrap();
        let err = load_model(&stem).unwrap_err().to_string();
        assert!(err.contains("record_fnv1a64"), "{err}");
    }

    #[test]
    fn every_network_and_task_trains_without_error() {
        let data = clips();
        let refs: Vec<(&str, &[Option<Body25>], f32)> = data
            .iter()
            .map(|(n, f, t)| (n.as_str(), f.as_slice(), *t))
            .collect();
        let _lock = crate::train::test_rng_lock();
        for kind in ["lstm", "cnn_lstm"] {
            let mut cfg = small(kind, Task::MultiClass { classes: 2 });
            cfg.epochs = 1;
            let t = train_model(&refs, &cfg, &mut |_| {}).unwrap();
            assert_eq!(t.model.card.history.len(), 1);
            assert!(t.model.card.history[0].train_loss.is_finite());
        }
    }

    #[test]
    fn inconsistent_configurations_are_rejected() {
        let mut cfg = VideoTrainConfig::binary("cnn").unwrap();
        cfg.preprocess.velocities = true;
        assert!(matches!(
            cfg.validate(),
            Err(VideoError::Config {
                field: "model.features",
                ..
            })
        ));
        assert!(VideoTrainConfig::binary("gru").is_err());
        let cfg = small("cnn", Task::Binary);
        let one = synthetic_walker("c", 120, 30.0, 50.0, 0.9, 1.0, 1);
        let err = train_model(&[("c", &one.frames, 3.0)], &cfg, &mut |_| {}).unwrap_err();
        assert!(err.to_string().contains("class target 3"), "{err}");
    }
}
