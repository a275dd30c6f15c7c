//! `gaitlens train`: the 3D gait classifiers (marker transformer, per-frame MLPs) on a cohort.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use gaitlens::body::default_model::default_body;
use gaitlens::dataset::{Alignment, WindowConfig, k_fold_by_subject};
use gaitlens::nn::{
    AsymmetryConfig, AttentionInit, ClsInit, MarkerClassificationConfig, MultiMlpConfig, Pooling,
    StandardizationScale,
};
use gaitlens::train::{
    DatasetWindows, DetectorTraining, DeviceKind, LrSchedule, NetworkConfig, OptimizerKind,
    TrainConfig, TrainEvent, save_checkpoint, train,
};

/// Which network to train.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Net {
    /// The original marker transformer (per-frame joint encoder + temporal encoder).
    Transformer,
    /// The per-frame MLP (LRP-ready).
    Mlp,
    /// Two logistic detectors on how the legs differ and on their posture (not in the original:
    /// it holds on unseen real walks where the learnt networks call a walk by its identity).
    Asymmetry,
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
    /// The heading alignment, then each joint minus its mirrored partner half a stride later:
    /// how the two sides differ, not who walks (a bilateral change such as crouch leaves none).
    HeadingSymmetry,
}

/// Input standardisation of `gaitlens train --standardize`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Standardize {
    /// Centre each joint coordinate, one scale per axis.
    PerAxis,
    /// Centre and scale each joint coordinate by its own deviation.
    PerCoordinate,
    /// No standardisation (the original).
    Off,
}

/// Learning-rate schedule of `gaitlens train --lr-schedule`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LrScheduleArg {
    /// The same rate throughout (the original).
    Constant,
    /// Linear warm-up, then cosine decay to 1 % of the peak.
    WarmupCosine,
}

/// How the asymmetry network's detectors learn, `gaitlens train --detector-training`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DetectorTrainingArg {
    /// The larger logit is the window's logit in the loss.
    Largest,
    /// Each detector from its own kind of pathology (the cohort's ground truth records sides).
    BySides,
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
    /// The recipe every flag below not given explicitly comes from: `recommended` (the best
    /// measured input steps, optimiser and schedule for this network; see README "Training
    /// presets") or `original` (the original pipeline's settings exactly).
    #[arg(long, value_enum, default_value_t = Preset::Recommended)]
    pub preset: Preset,
    /// Window length in frames [preset].
    #[arg(long)]
    pub interval: Option<usize>,
    /// Window stride in frames (the original uses 1) [preset].
    #[arg(long)]
    pub stride: Option<usize>,
    /// Batch size [preset].
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Epochs [preset].
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Learning rate (the peak rate under `--lr-schedule warmup-cosine`) [preset].
    #[arg(long)]
    pub lr: Option<f64>,
    /// Learning-rate schedule: `constant` (the original) or `warmup-cosine` (linear warm-up over
    /// `--warmup-epochs`, then a cosine decay to 1 % of `--lr` at the last step) [preset].
    #[arg(long, value_enum)]
    pub lr_schedule: Option<LrScheduleArg>,
    /// Warm-up epochs of `--lr-schedule warmup-cosine` (fractions allowed).
    #[arg(long, default_value_t = 1.0)]
    pub warmup_epochs: f64,
    /// Which fold is held out for evaluation.
    #[arg(long, default_value_t = train_defaults().fold)]
    pub fold: usize,
    /// Number of folds (split by subject).
    #[arg(long, default_value_t = train_defaults().folds)]
    pub folds: usize,
    /// Nested validation: train on the training subjects of --fold without inner fold J (of
    /// folds − 1) and evaluate on inner fold J; the test fold is not touched (choose recipes,
    /// rules and thresholds on such a network, then report the plain --fold network once).
    #[arg(long)]
    pub inner_fold: Option<usize>,
    /// Random seed.
    #[arg(long, default_value_t = train_defaults().seed)]
    pub seed: u64,
    /// Weight positives by the class ratio (BCE pos_weight) [preset; `--use-pos-ratio false`
    /// turns it off].
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub use_pos_ratio: Option<bool>,
    /// Fraction of the training subjects held out of fitting to calibrate the probabilities on
    /// (temperature scaling, stored in the model card; never the test fold). 0 turns it off
    /// [preset: the original has no calibration].
    #[arg(long)]
    pub calibration_fraction: Option<f64>,
    /// Hold out for calibration only subjects whose name starts with PREFIX (e.g. `synS`: the
    /// Fourier sources of a `synth from-walks` cohort, so every real walk is fitted on), or with
    /// `!PREFIX` only those without it (`!synS`: only real walks).
    #[arg(long, value_name = "PREFIX|!PREFIX")]
    pub calibration_subjects: Option<String>,
    /// Label smoothing ε in [0, 0.5): BCE targets `y·(1 − ε) + ε/2`, which bounds the logits the
    /// loss rewards (ε = 0.1: ±2.9); 0 as the original.
    #[arg(long, default_value_t = 0.0)]
    pub label_smoothing: f64,
    /// L2 penalty λ on every weight (Adam's weight decay, `g + λ·w`); 0 as the original.
    #[arg(long, default_value_t = 0.0)]
    pub weight_decay: f64,
    /// How the asymmetry network's two detectors learn from sick windows: `by-sides` (each from
    /// its own kind of pathology where the cohort's ground truth records the sides: asymmetry
    /// from one-sided ones, posture from crouch) or `largest` (the larger logit only).
    #[arg(long, value_enum, default_value = "largest")]
    pub detector_training: DetectorTrainingArg,
    /// Whether the asymmetry network's asymmetry detector also reads the pelvis' frontal tilt
    /// (pelvic obliquity: a Trendelenburg pelvis drops further on one side). Off by default: on
    /// the validation walkers it flagged more Trendelenburg but called a walker with a lopsided
    /// pelvis sick (README, "Reading the pelvis itself").
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set)]
    pub pelvic_obliquity: bool,
    /// Optimizer: `adopt` (as the original) or `adam` [preset].
    #[arg(long)]
    pub optimizer: Option<String>,
    /// cpu or gpu (wgpu; needs the `gpu` feature).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Subtract each frame's pelvis x from every joint before the network (off in the original;
    /// removes the walk's forward progression, which otherwise dominates the input) [preset].
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub pelvis_relative: Option<bool>,
    /// Standardise the input with the training data's statistics before the first layer (not in
    /// the original; stored in the model card): centre every joint coordinate and scale by the
    /// pooled deviation of its axis (`per-axis`) or by its own (`per-coordinate`), or not at
    /// all (`off`) [preset].
    #[arg(long, value_enum)]
    pub standardize: Option<Standardize>,
    /// Window alignment, recorded in the model card (`original` is the original pipeline's)
    /// [preset].
    #[arg(long, value_enum)]
    pub alignment: Option<AlignArg>,
    /// Frame rate of the sequences in Hz, recorded in the model card so viewers resample other
    /// rates to it. Default: taken from the data (fit reports, a synth cohort's ground truth).
    #[arg(long)]
    pub rate_hz: Option<f64>,
    /// MLP per-frame layer widths (the original's `--pfe_layers`) [preset].
    #[arg(long, value_delimiter = ',')]
    pub pfe_layers: Option<Vec<usize>>,
    /// MLP layer widths over the flattened window (the original's `--fc_layers`).
    #[arg(long, value_delimiter = ',', default_values_t = MultiMlpConfig::new().fc_layers)]
    pub fc_layers: Vec<usize>,
    /// Transformer joint-level width (the original's `--pfe_dim`) [preset].
    #[arg(long)]
    pub pfe_dim: Option<usize>,
    /// Transformer frame-level width (the original's `--fc_dim`) [preset].
    #[arg(long)]
    pub fc_dim: Option<usize>,
    /// Transformer feed-forward width (PyTorch's default 2048, as the original) [preset].
    #[arg(long)]
    pub ff_dim: Option<usize>,
    /// Transformer: give every joint its own embedding weights on top of the shared one (not in
    /// the original; lets the joint-level attention tell joints apart by their coordinates)
    /// [preset].
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub per_joint_embedding: Option<bool>,
    /// Transformer: initialisation of the CLS tokens (`uniform` in [0, 1) as the original, or
    /// `small`, normal with deviation 0.02 as BERT/ViT) [preset].
    #[arg(long, value_enum)]
    pub cls_init: Option<ClsInitArg>,
    /// Transformer: what the head classifies (`cls`, the temporal CLS token as the original, or
    /// `mean`, the mean of the frame tokens) [preset].
    #[arg(long, value_enum)]
    pub pooling: Option<PoolingArg>,
    /// Transformer: LayerNorm on the per-frame features and on the pooled feature (not in the
    /// original) [preset].
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub final_norm: Option<bool>,
    /// Transformer encoder layers per level (the original: 1).
    #[arg(long, default_value_t = MarkerClassificationConfig::new().layers)]
    pub layers: usize,
    /// Transformer: start every frame's joint-level CLS token from a linear map of the frame's
    /// whole pose (not in the original) [preset].
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub frame_token: Option<bool>,
    /// Transformer: dropout probability in both encoder layers during training (PyTorch's
    /// default 0.1, as the original).
    #[arg(long, default_value_t = MarkerClassificationConfig::new().dropout)]
    pub dropout: f64,
    /// Transformer: the original's joint-permutation copies of every fitted and evaluation
    /// window (preset original: 2; recommended: 0). Original architecture only.
    #[arg(long)]
    pub joint_permutations: Option<usize>,
    /// Transformer: initialisation of the attention projections (preset original: pytorch,
    /// PyTorch's nn.MultiheadAttention; recommended: linear).
    #[arg(long, value_enum)]
    pub attention_init: Option<AttentionInitArg>,
    /// Control networks only: permute the classes of the training subjects (seeded by --seed;
    /// the fold is split on the true classes first, evaluation windows keep theirs). The
    /// result is the shuffled-label control of `gaitlens evaluate --shuffled-network`.
    #[arg(long)]
    pub shuffle_labels: bool,
}

/// `--cls-init` values.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ClsInitArg {
    Uniform,
    Small,
}

/// `--attention-init` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AttentionInitArg {
    /// Every projection as a linear layer (burn's and PyTorch's nn.Linear default).
    Linear,
    /// PyTorch's nn.MultiheadAttention: Xavier-uniform q/k/v, zero biases (the original).
    Pytorch,
}

/// `--pooling` values.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PoolingArg {
    Cls,
    Mean,
}

/// `gaitlens train --preset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Preset {
    /// The best measured recipe for the network (README "Training presets").
    Recommended,
    /// The original pipeline's settings exactly.
    Original,
}

/// The values of the preset flags after the preset and the explicit flags are combined.
#[derive(Debug, Clone)]
pub struct Recipe {
    interval: usize,
    stride: usize,
    batch_size: usize,
    epochs: usize,
    lr: f64,
    lr_schedule: LrScheduleArg,
    optimizer: String,
    pelvis_relative: bool,
    standardize: Standardize,
    alignment: AlignArg,
    use_pos_ratio: bool,
    calibration_fraction: f64,
    per_joint_embedding: bool,
    cls_init: ClsInitArg,
    pooling: PoolingArg,
    final_norm: bool,
    frame_token: bool,
    pfe_dim: usize,
    fc_dim: usize,
    ff_dim: usize,
    pfe_layers: Vec<usize>,
    attention_init: AttentionInitArg,
    /// Transformer only (the original MLP script does not permute).
    joint_permutations: usize,
}

impl Recipe {
    /// The original pipeline's settings: the library's defaults (written once in
    /// [`TrainConfig::new`], [`MarkerClassificationConfig`] and [`MultiMlpConfig`]), stride 1,
    /// the original alignment, no input steps and no calibration.
    fn original() -> Self {
        let t = train_defaults();
        let tr = MarkerClassificationConfig::new();
        Recipe {
            interval: tr.interval,
            stride: 1,
            batch_size: t.batch_size,
            epochs: t.epochs,
            lr: t.lr,
            lr_schedule: LrScheduleArg::Constant,
            optimizer: "adopt".into(),
            pelvis_relative: false,
            standardize: Standardize::Off,
            alignment: AlignArg::Original,
            use_pos_ratio: false,
            calibration_fraction: 0.0,
            per_joint_embedding: false,
            cls_init: ClsInitArg::Uniform,
            pooling: PoolingArg::Cls,
            final_norm: false,
            frame_token: false,
            pfe_dim: tr.pfe_dim,
            fc_dim: tr.fc_dim,
            ff_dim: tr.ff_dim,
            pfe_layers: MultiMlpConfig::new().pfe_layers,
            attention_init: AttentionInitArg::Pytorch,
            joint_permutations: 2,
        }
    }

    /// The best measured recipe for `net` (README "Training presets" gives the measurements):
    /// both networks read pelvis-relative, per-axis standardised, isotropically aligned windows
    /// with Adam, a warm-up + cosine schedule, class-ratio weighting and temperature calibration;
    /// the MLP takes the real-walk leave-one-walk-out recipe (100-frame windows, stride 8, batch
    /// 32, 4 epochs at 1e-3, chosen on the internal validation fold of a cohort without the test
    /// walks), the transformer the synthetic five-fold recipe (64 frames, frame token, per-joint
    /// embedding, small CLS init, mean pooling, final norms, widths 32/32/64, 10 epochs at 2e-3).
    fn recommended(net: Net) -> Self {
        let common = Recipe {
            lr_schedule: LrScheduleArg::WarmupCosine,
            optimizer: "adam".into(),
            pelvis_relative: true,
            standardize: Standardize::PerAxis,
            alignment: AlignArg::Isotropic,
            use_pos_ratio: true,
            calibration_fraction: train_defaults().calibration_fraction,
            attention_init: AttentionInitArg::Linear,
            joint_permutations: 0,
            ..Self::original()
        };
        match net {
            Net::Mlp => Recipe {
                interval: 100,
                stride: 8,
                batch_size: 32,
                epochs: 4,
                lr: 1e-3,
                ..common
            },
            // Chosen on the internal validation fold of a cohort without the test walks, as the
            // MLP's; heading, as the demo network's (README, "Leave-one-walk-out").
            Net::Asymmetry => Recipe {
                interval: 100,
                stride: 8,
                batch_size: 32,
                epochs: 10,
                lr: 1e-2,
                pelvis_relative: false,
                standardize: Standardize::Off,
                alignment: AlignArg::Heading,
                ..common
            },
            Net::Transformer => Recipe {
                interval: 64,
                stride: 16,
                batch_size: 16,
                epochs: 10,
                lr: 2e-3,
                per_joint_embedding: true,
                cls_init: ClsInitArg::Small,
                pooling: PoolingArg::Mean,
                final_norm: true,
                frame_token: true,
                pfe_dim: 32,
                fc_dim: 32,
                ff_dim: 64,
                ..common
            },
        }
    }

    /// The preset of `a`, with every flag given explicitly taking precedence.
    fn resolve(a: &TrainArgs) -> Self {
        let p = match a.preset {
            Preset::Original => Self::original(),
            Preset::Recommended => Self::recommended(a.net),
        };
        Recipe {
            interval: a.interval.unwrap_or(p.interval),
            stride: a.stride.unwrap_or(p.stride),
            batch_size: a.batch_size.unwrap_or(p.batch_size),
            epochs: a.epochs.unwrap_or(p.epochs),
            lr: a.lr.unwrap_or(p.lr),
            lr_schedule: a.lr_schedule.unwrap_or(p.lr_schedule),
            optimizer: a.optimizer.clone().unwrap_or(p.optimizer),
            pelvis_relative: a.pelvis_relative.unwrap_or(p.pelvis_relative),
            standardize: a.standardize.unwrap_or(p.standardize),
            alignment: a.alignment.unwrap_or(p.alignment),
            use_pos_ratio: a.use_pos_ratio.unwrap_or(p.use_pos_ratio),
            calibration_fraction: a.calibration_fraction.unwrap_or(p.calibration_fraction),
            per_joint_embedding: a.per_joint_embedding.unwrap_or(p.per_joint_embedding),
            cls_init: a.cls_init.unwrap_or(p.cls_init),
            pooling: a.pooling.unwrap_or(p.pooling),
            final_norm: a.final_norm.unwrap_or(p.final_norm),
            frame_token: a.frame_token.unwrap_or(p.frame_token),
            pfe_dim: a.pfe_dim.unwrap_or(p.pfe_dim),
            fc_dim: a.fc_dim.unwrap_or(p.fc_dim),
            ff_dim: a.ff_dim.unwrap_or(p.ff_dim),
            pfe_layers: a.pfe_layers.clone().unwrap_or(p.pfe_layers),
            attention_init: a.attention_init.unwrap_or(p.attention_init),
            joint_permutations: match a.net {
                Net::Transformer => a.joint_permutations.unwrap_or(p.joint_permutations),
                Net::Mlp | Net::Asymmetry => a.joint_permutations.unwrap_or(0),
            },
        }
    }

    /// One line naming the preset and the main settings it resolved to.
    fn describe(&self, a: &TrainArgs) -> String {
        format!(
            "preset {:?}: {} frames, stride {}, batch {}, {} epochs, {} lr {} ({:?}), alignment \
             {:?}, standardise {:?}, pelvis-relative {}, pos-ratio {}, calibration fraction {}",
            a.preset,
            self.interval,
            self.stride,
            self.batch_size,
            self.epochs,
            self.optimizer,
            self.lr,
            self.lr_schedule,
            self.alignment,
            self.standardize,
            self.pelvis_relative,
            self.use_pos_ratio,
            self.calibration_fraction
        )
    }
}

/// `gaitlens train`: loads the cohort, splits it by subject, trains with a progress bar and
/// writes the checkpoint.
pub fn train_cmd(a: TrainArgs) -> anyhow::Result<ExitCode> {
    if a.net == Net::Asymmetry {
        check_asymmetry_flags(&a)?;
    } else if a.pelvic_obliquity {
        bail!("--pelvic-obliquity applies to the asymmetry network only (train asymmetry)");
    }
    let r = Recipe::resolve(&a);
    eprintln!("{}", r.describe(&a));
    let mut ds = load_windows(&a, &r)?;
    let fold = match a.inner_fold {
        Some(inner) => gaitlens::dataset::nested_fold(&ds, a.folds, a.fold, inner)?,
        None => k_fold_by_subject(&ds, a.folds, a.fold)?,
    };
    if let Some(inner) = a.inner_fold {
        eprintln!(
            "nested validation: inner fold {inner} of the training subjects of fold {}/{} is \
             evaluated; the test fold is not used",
            a.fold, a.folds
        );
    }
    if a.shuffle_labels {
        shuffle_training_labels(&mut ds, &fold.train, a.seed);
        eprintln!(
            "warning: --shuffle-labels: the training subjects' classes are permuted; this \
             network is a control for `gaitlens evaluate --shuffled-network`, not a classifier"
        );
    }
    eprintln!(
        "{} sequences, {} windows: {} train / {} eval (fold {}/{})",
        ds.sequences.len(),
        ds.windows.len(),
        fold.train.len(),
        fold.eval.len(),
        a.fold,
        a.folds
    );
    let tc = train_config(&a, &r)?;
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
    let mut throughput = None;
    let mut outcome = train(&tc, &train_src, &eval_src, |e| {
        show_progress(&bar, &mut throughput, e)
    })?;
    bar.finish_and_clear();
    print_calibration(&outcome.card);
    print_domain(&outcome.card);
    outcome.card.training_pelvis_markers = training_pelvis_markers(&a.data);
    outcome.card = outcome.card.stamped();
    let (rec, card) = save_checkpoint(&outcome, &a.out)?;
    println!("wrote {} and {}", rec.display(), card.display());
    Ok(ExitCode::SUCCESS)
}

/// Permutes the classes of the subjects of windows `train` among themselves (seeded), so a
/// network trained on them learns no real gait–class relation; other windows keep theirs.
fn shuffle_training_labels(ds: &mut gaitlens::dataset::WindowDataset, train: &[usize], seed: u64) {
    let mut subjects: Vec<usize> = train.iter().map(|&i| ds.windows[i].subject).collect();
    subjects.sort_unstable();
    subjects.dedup();
    let classes: Vec<bool> = subjects.iter().map(|&s| ds.subjects[s].sick).collect();
    let mut order: Vec<usize> = (0..subjects.len()).collect();
    gaitlens::rng::SplitMix64::stream(seed, 0, 0x7368_7566).shuffle(&mut order);
    let new_class: std::collections::HashMap<usize, bool> = subjects
        .iter()
        .zip(&order)
        .map(|(&s, &o)| (s, classes[o]))
        .collect();
    for &i in train {
        let w = &mut ds.windows[i];
        w.sick = new_class[&w.subject];
    }
}

/// How the cohort's fitted walks were fitted (its `ground_truth.json`), printed; `None` when it
/// does not say or its walks were fitted both ways.
fn training_pelvis_markers(cohort: &std::path::Path) -> Option<gaitlens::fit::PelvisMarkers> {
    let truth = gaitlens::synth::read_ground_truth(cohort).ok()?;
    match gaitlens::synth::recorded_pelvis_markers(&truth).as_slice() {
        [one] => {
            println!(
                "training walks fitted with {} pelvis markers (recorded in the model card)",
                one.name()
            );
            Some(*one)
        }
        [] => None,
        _ => {
            println!(
                "warning: the cohort's walks were fitted with both skin and rigid pelvis markers; \
                 the model card records neither"
            );
            None
        }
    }
}

/// Prints the out-of-domain guard's threshold and what it was set on.
fn print_domain(card: &gaitlens::train::ModelCard) {
    match &card.domain {
        Some(d) => println!("{}", d.describe()),
        None => println!("out-of-domain guard: none (see the warning above)"),
    }
}

/// Prints the fold's temperature and the expected calibration error before and after it.
fn print_calibration(card: &gaitlens::train::ModelCard) {
    use gaitlens::train::calibration::ECE_BINS;
    let fold = format!("fold {}/{}", card.training.fold, card.training.folds);
    let Some(c) = card.calibration else {
        println!(
            "calibration ({fold}): none — probabilities are {}",
            card.calibration_note().unwrap_or_default()
        );
        return;
    };
    let ece = |e: Option<f64>| e.map_or("n/a".to_string(), |e| format!("{e:.3}"));
    println!(
        "calibration ({fold}): temperature {:.3} from {} windows of {} held-out training \
         subjects (NLL {:.4} → {:.4}, ECE {:.3} → {:.3}); test-fold ECE ({ECE_BINS} bins) {} \
         uncalibrated → {} calibrated",
        c.temperature,
        c.windows,
        c.subjects,
        c.nll_before,
        c.nll_after,
        c.ece_before,
        c.ece_after,
        ece(c.eval_ece_uncalibrated),
        ece(c.eval_ece_calibrated)
    );
    if c.temperature <= gaitlens::train::calibration::TEMPERATURE_RANGE.0 * 1.001
        || c.temperature >= gaitlens::train::calibration::TEMPERATURE_RANGE.1 * 0.999
    {
        println!(
            "warning: the temperature is at the end of its search range (the calibration \
             windows are separated perfectly, or their logits carry no information)"
        );
    }
}

/// The cohort's windows with the requested alignment (and frame rate, if given).
fn load_windows(a: &TrainArgs, r: &Recipe) -> anyhow::Result<gaitlens::dataset::WindowDataset> {
    let cfg = WindowConfig {
        interval: r.interval,
        stride: r.stride.max(1),
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
    ds.alignment = alignment(r.alignment);
    match ds.common_rate_hz() {
        Some(r) => eprintln!("frame rate {r} Hz (recorded in the model card)"),
        None => eprintln!(
            "warning: frame rate unknown or mixed; the model card will not record one \
             (give --rate-hz so viewers can resample other rates)"
        ),
    }
    Ok(ds)
}

/// The library's alignment of an `--alignment` value.
fn alignment(a: AlignArg) -> Alignment {
    match a {
        AlignArg::Original => Alignment::Original,
        AlignArg::Isotropic => Alignment::Isotropic,
        AlignArg::Heading => Alignment::Heading,
        AlignArg::HeadingSymmetry => Alignment::HeadingSymmetry,
    }
}

/// Refuses the flags that do not apply to the asymmetry network, before any data is read.
fn check_asymmetry_flags(a: &TrainArgs) -> anyhow::Result<()> {
    if a.preset == Preset::Original {
        bail!(
            "--preset original: the original pipeline has no asymmetry network (use the default \
             recommended preset, or train mlp|transformer)"
        );
    }
    if a.standardize.is_some() || a.pelvis_relative.is_some() {
        bail!(
            "--standardize and --pelvis-relative do not apply to the asymmetry network: it \
             standardises its own features, angles between body segments"
        );
    }
    if let Some(al) = a.alignment
        && !gaitlens::nn::asymmetry::reads_alignment(alignment(al).version())
    {
        bail!(
            "--alignment {al:?}: the asymmetry network reads angles between body segments and \
             needs an alignment that keeps the body's proportions (heading or isotropic)"
        );
    }
    Ok(())
}

/// The network the flags describe.
fn network_config(a: &TrainArgs, r: &Recipe) -> NetworkConfig {
    match a.net {
        Net::Transformer => NetworkConfig::Transformer(
            MarkerClassificationConfig::new()
                .with_interval(r.interval)
                .with_pfe_dim(r.pfe_dim)
                .with_fc_dim(r.fc_dim)
                .with_ff_dim(r.ff_dim)
                .with_per_joint_embedding(r.per_joint_embedding)
                .with_cls_init(match r.cls_init {
                    ClsInitArg::Uniform => ClsInit::Uniform,
                    ClsInitArg::Small => ClsInit::Small,
                })
                .with_pooling(match r.pooling {
                    PoolingArg::Cls => Pooling::Cls,
                    PoolingArg::Mean => Pooling::Mean,
                })
                .with_final_norm(r.final_norm)
                .with_layers(a.layers)
                .with_frame_token(r.frame_token)
                .with_attention_init(match r.attention_init {
                    AttentionInitArg::Linear => AttentionInit::Linear,
                    AttentionInitArg::Pytorch => AttentionInit::PyTorch,
                })
                .with_dropout(a.dropout)
                .with_pelvis_relative_x(r.pelvis_relative),
        ),
        Net::Asymmetry => NetworkConfig::Asymmetry(
            AsymmetryConfig::new()
                .with_interval(r.interval)
                .with_pelvic_obliquity(a.pelvic_obliquity),
        ),
        Net::Mlp => NetworkConfig::LrpMlp(
            MultiMlpConfig::new()
                .with_interval(r.interval)
                .with_pfe_layers(r.pfe_layers.clone())
                .with_fc_layers(a.fc_layers.clone())
                .with_pelvis_relative_x(r.pelvis_relative),
        ),
    }
}

/// The training configuration the flags describe; out-of-range values are errors naming the
/// flag.
fn train_config(a: &TrainArgs, r: &Recipe) -> anyhow::Result<TrainConfig> {
    if !(a.warmup_epochs.is_finite() && a.warmup_epochs >= 0.0) {
        bail!(
            "--warmup-epochs {}: expected a finite number of warm-up epochs ≥ 0",
            a.warmup_epochs
        );
    }
    if !(0.0..1.0).contains(&a.dropout) {
        bail!("--dropout {}: expected a probability in [0, 1)", a.dropout);
    }
    if !(0.0..1.0).contains(&r.calibration_fraction) {
        bail!(
            "--calibration-fraction {}: expected a fraction in [0, 1) (0 turns calibration off)",
            r.calibration_fraction
        );
    }
    let mut tc = TrainConfig::new(network_config(a, r));
    tc.batch_size = r.batch_size;
    tc.epochs = r.epochs;
    tc.lr = r.lr;
    tc.lr_schedule = match r.lr_schedule {
        LrScheduleArg::Constant => LrSchedule::Constant,
        LrScheduleArg::WarmupCosine => LrSchedule::WarmupCosine {
            warmup_epochs: a.warmup_epochs,
        },
    };
    tc.fold = a.fold;
    tc.folds = a.folds;
    tc.seed = a.seed;
    tc.use_pos_ratio = r.use_pos_ratio;
    tc.calibration_fraction = r.calibration_fraction;
    tc.calibration_subjects = a.calibration_subjects.clone();
    tc.label_smoothing = a.label_smoothing;
    tc.weight_decay = a.weight_decay;
    tc.detector_training = match a.detector_training {
        DetectorTrainingArg::Largest => DetectorTraining::Largest,
        DetectorTrainingArg::BySides => DetectorTraining::BySides,
    };
    tc.joint_permutations = r.joint_permutations;
    tc.inner_fold = a.inner_fold;
    tc.standardize_input = match r.standardize {
        Standardize::PerAxis => Some(StandardizationScale::PerAxis),
        Standardize::PerCoordinate => Some(StandardizationScale::PerCoordinate),
        Standardize::Off => None,
    };
    tc.optimizer = match r.optimizer.as_str() {
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

/// Draws a training event: batches on the bar, one line per epoch above it (with the training
/// pass's throughput, kept from its [`TrainEvent::Throughput`]).
fn show_progress(bar: &ProgressBar, throughput: &mut Option<f64>, e: TrainEvent) {
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
        TrainEvent::Throughput {
            windows, seconds, ..
        } => *throughput = (seconds > 0.0).then(|| windows as f64 / seconds),
        TrainEvent::Epoch(r) => {
            let speed = throughput
                .take()
                .map_or(String::new(), |w| format!(" | {w:.0} windows/s"));
            bar.suspend(|| {
                eprintln!(
                    "epoch {:>3}: train loss {:.4} acc {:.3} | eval loss {:.4} acc {:.3} prec \
                     {:.3} rec {:.3} spec {:.3} F1 {:.3}{speed}",
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
        TrainEvent::CalibrationSplit {
            fit_windows,
            calibration_windows,
            calibration_subjects,
            subjects,
        } => bar.suspend(|| {
            eprintln!(
                "calibration split: {calibration_subjects} of {subjects} training subjects \
                 ({calibration_windows} windows) held out of fitting for the temperature; \
                 fitting on {fit_windows} windows"
            )
        }),
        TrainEvent::CalibrationSkipped { reason } => {
            bar.suspend(|| eprintln!("no calibration: {reason}; fitting on every training window"))
        }
    }
}
