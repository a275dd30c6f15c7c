//! The synthetic-cohort experiment end to end: semi-synthetic cohort → aligned, mirrored windows
//! → by-subject fold → training → eval accuracy and the fraction of correctly classified sick
//! eval windows whose most relevant joint lies on the injected limb.
//!
//! `mlp_with_pelvis_relative_x_leaves_the_loss_plateau` runs in CI (about a minute on 2 cores): it
//! guards the fix for the MLP sitting on the 0.69 loss plateau (see
//! `gaitlens::nn::pelvis_relative_x`). `reduced_acceptance_run_mlp` is the reduced acceptance
//! check of issue 5 for the MLP (eval accuracy ≥ 0.9 and limb locus ≥ 0.8 with normative LRP-ε on
//! one fold); `improved_transformer_leaves_the_loss_plateau` checks that the transformer options
//! make it learn and `reduced_acceptance_run_transformer` is the acceptance check for the
//! transformer, both ignored for their CPU time (run it with `cargo test --release --no-default-features
//! --test synth_experiment -- --ignored`); `small_transformer_learns_and_localises_in_ci_time`
//! is a smaller transformer run with thresholds sized to it, in CI.

use burn::backend::{Autodiff, NdArray};
use burn::prelude::*;
use gaitlens::dataset::{WindowConfig, WindowDataset, k_fold_by_subject};
use gaitlens::explain::{ExplainMethod, LrpRule, explain_relative};
use gaitlens::nn::{
    ClsInit, MarkerClassificationConfig, MultiMlpConfig, Pooling, StandardizationScale,
};
use gaitlens::synth::{GroundTruth, SynthConfig, synth_cohort};
use gaitlens::train::{
    DatasetWindows, LrSchedule, NetworkConfig, OptimizerKind, TrainConfig, WindowSource,
    load_weights, train,
};

type A = Autodiff<NdArray>;

struct Outcome {
    first_train_loss: f64,
    last_train_loss: f64,
    eval_accuracy: f64,
    locus: f64,
}

fn cohort(subjects: usize, stride: usize) -> (WindowDataset, Vec<GroundTruth>) {
    cohort_of(subjects, stride, 64)
}

fn cohort_of(subjects: usize, stride: usize, interval: usize) -> (WindowDataset, Vec<GroundTruth>) {
    let cohort = synth_cohort(&SynthConfig {
        subjects,
        ..Default::default()
    })
    .unwrap();
    let truths = cohort.iter().map(|(_, t)| t.clone()).collect();
    let ds = WindowDataset::new(
        cohort.into_iter().map(|(s, _)| s).collect(),
        WindowConfig {
            interval,
            stride,
            mirror: true,
        },
    )
    .unwrap();
    (ds, truths)
}

/// Training and explanation choices of one run.
struct Setup {
    /// Per-axis input standardisation.
    standardize: bool,
    /// Explain relative to the learnt normative gait.
    normative: bool,
    /// Adam learning rate.
    lr: f64,
    /// Warm-up + cosine schedule instead of the constant rate.
    warmup_cosine: bool,
}

fn run_fold(
    ds: &WindowDataset,
    truths: &[GroundTruth],
    net: NetworkConfig,
    epochs: usize,
    method: ExplainMethod,
    setup: Setup,
) -> Outcome {
    let Setup {
        standardize,
        normative,
        lr,
        warmup_cosine,
    } = setup;
    let interval = ds.config.interval;
    let split = k_fold_by_subject(ds, 5, 0).unwrap();
    let tr = DatasetWindows {
        dataset: ds,
        windows: split.train.clone(),
    };
    let ev = DatasetWindows {
        dataset: ds,
        windows: split.eval.clone(),
    };
    let mut cfg = TrainConfig::new(net);
    cfg.epochs = epochs;
    cfg.lr = lr;
    cfg.batch_size = 32;
    cfg.use_pos_ratio = true;
    cfg.optimizer = OptimizerKind::Adam;
    cfg.standardize_input = standardize.then_some(StandardizationScale::PerAxis);
    if warmup_cosine {
        cfg.lr_schedule = LrSchedule::WarmupCosine { warmup_epochs: 1.0 };
    }
    let out = train(&cfg, &tr, &ev, |_| {}).unwrap();
    let last = out.card.epochs.last().unwrap();
    let device = Default::default();
    let model = load_weights::<A>(&out.card.network, out.record.clone(), &device).unwrap();
    let norm = normative.then(|| {
        out.card
            .normative_gait
            .clone()
            .expect("training learns a normative gait from the healthy windows")
    });
    let (mut hits, mut sick_ok) = (0usize, 0usize);
    let idx: Vec<usize> = (0..ev.len()).collect();
    for chunk in idx.chunks(32) {
        let (x, y) = ev.batch(chunk).unwrap();
        let shape = [chunk.len(), interval, 22, 3];
        let reference = norm.as_ref().map(|n| {
            Tensor::<A, 4>::from_data(
                TensorData::new(n.reference_batch(&x, interval), shape),
                &device,
            )
        });
        let x = Tensor::<A, 4>::from_data(TensorData::new(x, shape), &device);
        for ((&i, e), &label) in chunk
            .iter()
            .zip(explain_relative(&model, x, reference, method).unwrap())
            .zip(&y)
        {
            if label > 0.5 && e.logit > 0.0 {
                let w = ds.windows[split.eval[i]];
                sick_ok += 1;
                if truths[w.sequence]
                    .limb_in_window(w.mirrored)
                    .contains(&e.top_joint())
                {
                    hits += 1;
                }
            }
        }
    }
    Outcome {
        first_train_loss: out.card.epochs[0].train_loss,
        last_train_loss: last.train_loss,
        eval_accuracy: last.eval.accuracy,
        locus: hits as f64 / sick_ok.max(1) as f64,
    }
}

fn mlp(pelvis_relative: bool) -> NetworkConfig {
    NetworkConfig::LrpMlp(
        MultiMlpConfig::new()
            .with_interval(64)
            .with_pelvis_relative_x(pelvis_relative),
    )
}

/// Asserts that a run left the 0.69 loss plateau: last train loss below `max_train_loss` and
/// eval accuracy above `min_eval_accuracy`.
fn check_left_plateau(o: &Outcome, max_train_loss: f64, min_eval_accuracy: f64) {
    eprintln!(
        "train loss {:.3} → {:.3}, eval accuracy {:.3}, locus {:.3}",
        o.first_train_loss, o.last_train_loss, o.eval_accuracy, o.locus
    );
    assert!(
        o.last_train_loss < max_train_loss,
        "train loss {:.3} (plateau 0.69)",
        o.last_train_loss
    );
    assert!(
        o.eval_accuracy > min_eval_accuracy,
        "eval accuracy {:.3}",
        o.eval_accuracy
    );
}

#[test]
fn mlp_with_pelvis_relative_x_leaves_the_loss_plateau() {
    // 40 subjects, one fold (32 training subjects), stride 4: 5280 windows. Without the
    // pelvis-relative input the same run stays at train loss ≈ 0.69 and eval accuracy ≈ 0.5.
    let (ds, truths) = cohort(40, 4);
    let o = run_fold(
        &ds,
        &truths,
        mlp(true),
        24,
        ExplainMethod::Lrp(LrpRule::default()),
        Setup {
            standardize: false,
            normative: false,
            lr: 1e-3,
            warmup_cosine: false,
        },
    );
    check_left_plateau(&o, 0.5, 0.6);
}

fn check_acceptance(name: &str, o: &Outcome) {
    eprintln!(
        "{name}: accuracy {:.3}, locus (normative LRP-ε) {:.3}",
        o.eval_accuracy, o.locus
    );
    assert!(o.eval_accuracy >= 0.9, "{name}: {:.3}", o.eval_accuracy);
    assert!(o.locus >= 0.8, "{name}: locus {:.3}", o.locus);
}

#[test]
fn reduced_acceptance_run_mlp() {
    let (ds, truths) = cohort(100, 8);
    let m = run_fold(
        &ds,
        &truths,
        mlp(true),
        20,
        ExplainMethod::Lrp(LrpRule::default()),
        Setup {
            standardize: true,
            normative: true,
            lr: 1e-3,
            warmup_cosine: false,
        },
    );
    check_acceptance("mlp", &m);
}

/// The transformer with the options that make it learn on this cohort (see README, Classifiers):
/// per-joint embedding, small CLS tokens, mean pooling, final norms.
fn improved_transformer() -> NetworkConfig {
    NetworkConfig::Transformer(
        MarkerClassificationConfig::new()
            .with_interval(64)
            .with_pfe_dim(32)
            .with_fc_dim(32)
            .with_ff_dim(64)
            .with_pelvis_relative_x(true)
            .with_per_joint_embedding(true)
            .with_cls_init(ClsInit::Small)
            .with_pooling(Pooling::Mean)
            .with_final_norm(true)
            .with_frame_token(true),
    )
}

#[test]
#[ignore = "about 4 minutes of CPU in the dev profile (12 on a busy machine); measured without the frame token: train loss 0.702 → 0.471, eval accuracy 0.691"]
fn improved_transformer_leaves_the_loss_plateau() {
    // 40 subjects, one fold, stride 16: about 1000 training windows, 6 epochs. The original
    // configuration of the same widths sits at the 0.69 plateau for several epochs (README).
    let (ds, truths) = cohort(40, 16);
    let o = run_fold(
        &ds,
        &truths,
        improved_transformer(),
        6,
        ExplainMethod::Lrp(LrpRule::default()),
        Setup {
            standardize: true,
            normative: true,
            lr: 2e-3,
            warmup_cosine: false,
        },
    );
    check_left_plateau(&o, 0.6, 0.65);
}

#[test]
#[ignore = "about 15 minutes of CPU in release; five-fold results of this configuration in README"]
fn reduced_acceptance_run_transformer() {
    let (ds, truths) = cohort(100, 8);
    let t = run_fold(
        &ds,
        &truths,
        improved_transformer(),
        12,
        ExplainMethod::Lrp(LrpRule::default()),
        Setup {
            standardize: true,
            normative: true,
            lr: 2e-3,
            warmup_cosine: false,
        },
    );
    check_acceptance("transformer", &t);
}

/// The transformer's reduced acceptance run that fits in CI time (about five minutes on two
/// cores in the dev profile): the recommended architecture at small widths (frame token,
/// per-joint embedding, small CLS init, mean pooling, final norms; widths 16/16/32), 64-frame
/// windows of 60 subjects, 10 epochs with warm-up + cosine, normative CP-LRP on fold 0. At this
/// size it reaches eval accuracy 0.778 and limb locus 0.841 (measured), so it asserts ≥ 0.7 and
/// ≥ 0.75 — a guard that the transformer learns and its explanation localises; the full-size
/// check (≥ 0.9 / ≥ 0.8) is `reduced_acceptance_run_transformer` (ignored: ~15 min in release).
#[test]
fn small_transformer_learns_and_localises_in_ci_time() {
    let (ds, truths) = cohort_of(60, 16, 64);
    let net = NetworkConfig::Transformer(
        MarkerClassificationConfig::new()
            .with_interval(64)
            .with_pfe_dim(16)
            .with_fc_dim(16)
            .with_ff_dim(32)
            .with_pelvis_relative_x(true)
            .with_per_joint_embedding(true)
            .with_cls_init(ClsInit::Small)
            .with_pooling(Pooling::Mean)
            .with_final_norm(true)
            .with_frame_token(true)
            .with_dropout(0.0),
    );
    let t = run_fold(
        &ds,
        &truths,
        net,
        10,
        ExplainMethod::Lrp(LrpRule::default()),
        Setup {
            standardize: true,
            normative: true,
            lr: 2e-3,
            warmup_cosine: true,
        },
    );
    eprintln!(
        "small transformer: accuracy {:.3}, locus (normative CP-LRP) {:.3}",
        t.eval_accuracy, t.locus
    );
    assert!(t.eval_accuracy >= 0.7, "accuracy {:.3}", t.eval_accuracy);
    assert!(t.locus >= 0.75, "locus {:.3}", t.locus);
}
