//! Faithfulness of the explanations: relevance conservation, LRP-0 = gradient × input, and a
//! deletion test on trained networks (own synthetic windows with a known discriminative joint).

use burn::backend::{Autodiff, NdArray};
use burn::prelude::*;
use burn::tensor::Distribution;
use gaitlens::dataset::{JointSequence, WindowConfig, WindowDataset};
use gaitlens::explain::{ExplainMethod, LrpRule, explain, explain_relative, lrp_mlp};
use gaitlens::inference::classification_track;
use gaitlens::nn::{GaitClassifier, LoadedModel, MarkerClassificationConfig, MultiMlpConfig};
use gaitlens::train::{
    InMemoryWindows, ModelCard, NetworkConfig, TrainConfig, load_checkpoint, save_checkpoint, train,
};

type A = Autodiff<NdArray>;

/// burn's NdArray random generator is global: tests that seed it and draw from it run one at a
/// time so each seeded run is reproducible.
fn rng_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn vals<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data().iter::<f32>().collect()
}

#[test]
fn relevance_is_conserved_in_bias_free_mlp() {
    let _rng = rng_lock();
    let device = Default::default();
    <NdArray as Backend>::seed(&device, 11);
    let model = MultiMlpConfig::new()
        .with_interval(6)
        .with_bias(false)
        .init::<NdArray>(&device);
    let x = Tensor::<NdArray, 4>::random([4, 6, 22, 3], Distribution::Normal(0.0, 1.0), &device);
    let (r, logits) = lrp_mlp(&model, x, LrpRule::Epsilon(1e-7));
    let sums = vals(r.sum_dim(3).sum_dim(2).sum_dim(1));
    let logits = vals(logits);
    for (s, l) in sums.iter().zip(&logits) {
        assert!(
            (s - l).abs() <= 0.01 * l.abs().max(1e-3),
            "Σ R = {s}, logit = {l}"
        );
    }
    // With ε = 0.25 relevance is absorbed, never created: |Σ R| ≤ |logit| (bias-free ReLU net).
    let x = Tensor::<NdArray, 4>::random([4, 6, 22, 3], Distribution::Normal(0.0, 1.0), &device);
    let (r, logits) = lrp_mlp(&model, x, LrpRule::default());
    for (s, l) in vals(r.sum_dim(3).sum_dim(2).sum_dim(1))
        .iter()
        .zip(vals(logits))
    {
        assert!(s.abs() <= l.abs() * 1.0001 + 1e-6, "Σ R = {s}, logit = {l}");
    }
}

#[test]
fn lrp0_is_gradient_times_input_with_default_mlp() {
    let _rng = rng_lock();
    let device = Default::default();
    <A as Backend>::seed(&device, 5);
    let model = MultiMlpConfig::new().with_interval(8).init::<A>(&device);
    let x = Tensor::<A, 4>::random([3, 8, 22, 3], Distribution::Normal(0.0, 1.0), &device);
    let (r, _) = lrp_mlp(&model, x.clone(), LrpRule::Epsilon(0.0));
    let xg = x.detach().require_grad();
    let grads = model.logits(xg.clone()).sum().backward();
    let gi = vals(xg.clone().inner() * xg.grad(&grads).expect("input gradient"));
    let r = vals(r);
    let scale = gi.iter().fold(0f32, |m, v| m.max(v.abs()));
    assert!(scale > 0.0);
    for (p, q) in r.iter().zip(&gi) {
        assert!(
            (p - q).abs() <= 1e-3 * scale,
            "LRP-0 {p} vs gradient × input {q}"
        );
    }
}

/// Windows of `interval` frames: every joint moves on a noisy sinusoid; in sick windows the
/// joints in `locus` are raised and have a larger vertical amplitude.
fn cohort(n: usize, interval: usize, locus: &[usize], seed: u64) -> InMemoryWindows {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut u = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f32 / (1u64 << 53) as f32 - 0.5
    };
    let mut data = Vec::with_capacity(n * interval * 66);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let sick = i % 2 == 0;
        let phase = u() * 6.0;
        for f in 0..interval {
            let ph = phase + f as f32 * 0.4;
            for j in 0..22 {
                let amp = if sick && locus.contains(&j) {
                    0.25
                } else {
                    0.1
                };
                data.push(0.05 * (j as f32 % 5.0) + 0.02 * u());
                data.push(0.04 * (j as f32 / 5.0) + 0.02 * u());
                let lift = if amp > 0.1 { 0.15 } else { 0.0 };
                data.push(lift + amp * (ph + j as f32).sin() + 0.02 * u());
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

/// Mean |Δ logit| over sick windows when the `k` chosen joints are replaced by the healthy mean.
fn deletion_effect(
    model: &LoadedModel<A>,
    w: &InMemoryWindows,
    healthy_mean: &[f32],
    choose: &mut dyn FnMut(usize, &[f32]) -> Vec<usize>,
    relevance: &[Vec<f32>],
) -> f32 {
    let device = Default::default();
    let per = w.interval * 66;
    let mut total = 0.0;
    let mut count = 0;
    for i in (0..w.labels.len()).filter(|&i| w.labels[i] > 0.5) {
        let orig = w.data[i * per..(i + 1) * per].to_vec();
        let mut del = orig.clone();
        for j in choose(i, &relevance[i]) {
            for f in 0..w.interval {
                for c in 0..3 {
                    let k = f * 66 + j * 3 + c;
                    del[k] = healthy_mean[k];
                }
            }
        }
        let x = Tensor::<A, 4>::from_data(
            TensorData::new([orig, del].concat(), [2, w.interval, 22, 3]),
            &device,
        );
        let l = vals(model.logits(x));
        total += (l[0] - l[1]).abs();
        count += 1;
    }
    total / count as f32
}

fn deletion_test(
    network: NetworkConfig,
    method: ExplainMethod,
    epochs: usize,
    lr: f64,
    batch_size: usize,
) {
    let interval = network.interval();
    let locus = [1usize, 4, 7];
    let (tr, ev) = (
        cohort(96, interval, &locus, 1),
        cohort(32, interval, &locus, 2),
    );
    let _rng = rng_lock();
    let mut cfg = TrainConfig::new(network);
    cfg.epochs = epochs;
    cfg.batch_size = batch_size;
    cfg.lr = lr;
    let out = train(&cfg, &tr, &ev, |_| {}).expect("training");
    for e in &out.card.epochs {
        eprintln!(
            "epoch {}: train loss {:.4} acc {:.3}, eval loss {:.4} acc {:.3}",
            e.epoch, e.train_loss, e.train.accuracy, e.eval_loss, e.eval.accuracy
        );
    }
    let acc = out.card.epochs.last().unwrap().eval.accuracy;
    assert!(acc >= 0.9, "eval accuracy {acc}");
    // Through a checkpoint, as the CLI does.
    let dir = tempfile::tempdir().unwrap();
    let (_, card) = save_checkpoint(&out, &dir.path().join("net")).unwrap();
    let device = Default::default();
    let (model, _) = load_checkpoint::<A>(&card, &Default::default(), &device).unwrap();

    let x = Tensor::<A, 4>::from_data(
        TensorData::new(ev.data.clone(), [ev.labels.len(), interval, 22, 3]),
        &device,
    );
    let expl = explain(&model, x, method).unwrap();
    let totals: Vec<Vec<f32>> = expl.iter().map(|e| e.joint_totals()).collect();
    // Top joints land on the locus for most sick windows.
    let sick: Vec<usize> = (0..ev.labels.len())
        .filter(|&i| ev.labels[i] > 0.5)
        .collect();
    let on_locus = sick
        .iter()
        .filter(|&&i| locus.contains(&expl[i].top_joint()))
        .count();
    assert!(
        on_locus * 10 >= sick.len() * 8,
        "{on_locus} of {} top joints on the locus",
        sick.len()
    );

    let per = interval * 66;
    let healthy: Vec<usize> = (0..ev.labels.len())
        .filter(|&i| ev.labels[i] < 0.5)
        .collect();
    let mut mean = vec![0f32; per];
    for &i in &healthy {
        for (m, v) in mean.iter_mut().zip(&ev.data[i * per..(i + 1) * per]) {
            *m += v / healthy.len() as f32;
        }
    }
    let k = 3;
    let top = deletion_effect(
        &model,
        &ev,
        &mean,
        &mut |_, t: &[f32]| {
            let mut idx: Vec<usize> = (0..22).collect();
            idx.sort_by(|&a, &b| t[b].total_cmp(&t[a]));
            idx[..k].to_vec()
        },
        &totals,
    );
    let mut state = 12345u64;
    let random = deletion_effect(
        &model,
        &ev,
        &mean,
        &mut |_, _| {
            let mut idx: Vec<usize> = (0..22).collect();
            for i in (1..22).rev() {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                idx.swap(i, ((state >> 33) % (i as u64 + 1)) as usize);
            }
            idx[..k].to_vec()
        },
        &totals,
    );
    assert!(
        top > 2.0 * random,
        "deleting the most relevant joints changes the logit by {top}, random ones by {random}"
    );
}

#[test]
fn deletion_test_mlp_epsilon_lrp() {
    let net = NetworkConfig::LrpMlp(
        MultiMlpConfig::new()
            .with_interval(8)
            .with_pfe_layers(vec![16, 16])
            .with_fc_layers(vec![32, 16]),
    );
    deletion_test(net, ExplainMethod::Lrp(LrpRule::default()), 30, 3e-3, 16);
}

#[test]
fn deletion_test_transformer_cp_lrp() {
    let net = NetworkConfig::Transformer(
        MarkerClassificationConfig::new()
            .with_interval(8)
            .with_pfe_dim(16)
            .with_fc_dim(16)
            .with_ff_dim(32)
            .with_dropout(0.0),
    );
    deletion_test(net, ExplainMethod::Lrp(LrpRule::default()), 12, 1e-2, 8);
}

/// Dropout (0.5 here) only regularises training. On the autodiff backend that CP-LRP needs (and
/// that `gaitlens explain`, `evaluate` and the viewer load networks on), two explanations of the
/// same window — logits, attention maps, attention and LRP relevance — and two classification
/// tracks of the `--track` code path are bit-identical. (Before the fix the attention forward
/// and the track ran the network's training forward, whose dropout redraws every call.)
#[test]
fn explanations_and_tracks_are_deterministic_despite_dropout() {
    let _rng = rng_lock();
    let device = Default::default();
    <A as Backend>::seed(&device, 21);
    let interval = 6;
    let cfg = MarkerClassificationConfig::new()
        .with_interval(interval)
        .with_pfe_dim(8)
        .with_fc_dim(8)
        .with_ff_dim(16)
        .with_dropout(0.5);
    let m = cfg.init::<A>(&device);
    let x = Tensor::<A, 4>::random(
        [2, interval, 22, 3],
        Distribution::Normal(0.0, 1.0),
        &device,
    );
    let reference = Tensor::<A, 4>::random(
        [2, interval, 22, 3],
        Distribution::Normal(0.0, 1.0),
        &device,
    );
    let maps = |m: &gaitlens::nn::AttentionMaps<A>| -> Vec<f32> {
        [
            vals(m.joints.clone()),
            vals(m.frames.clone()),
            vals(m.frame_weights.clone()),
        ]
        .concat()
    };
    let first_maps = maps(&m.attention_maps(x.clone()));
    assert_eq!(first_maps, maps(&m.attention_maps(x.clone())));
    let net = LoadedModel::Transformer(m);
    let mut logits = Vec::new();
    for method in [
        ExplainMethod::Attention,
        ExplainMethod::Lrp(LrpRule::default()),
    ] {
        let first = explain(&net, x.clone(), method).unwrap();
        let second = explain(&net, x.clone(), method).unwrap();
        assert_eq!(first, second, "{method:?}");
        assert!(first.iter().all(|e| e.relevance.iter().any(|&r| r != 0.0)));
        let a = explain_relative(&net, x.clone(), Some(reference.clone()), method).unwrap();
        let b = explain_relative(&net, x.clone(), Some(reference.clone()), method).unwrap();
        assert_eq!(a, b, "{method:?} relative to a reference");
        logits.push(first.iter().map(|e| e.logit).collect::<Vec<_>>());
    }
    // Both explanations see the same (dropout-free) network.
    for (p, q) in logits[0].iter().zip(&logits[1]) {
        assert!((p - q).abs() < 1e-5, "attention logit {p}, LRP logit {q}");
    }

    // The classification track of `gaitlens explain --track`.
    let frames: Vec<[[f32; 3]; 22]> = (0..20)
        .map(|f| {
            let t = f as f32;
            std::array::from_fn(|j| {
                let k = j as f32;
                [
                    0.02 * t + 0.03 * (j % 5) as f32 + 0.01 * (0.5 * t + k).sin(),
                    0.1 * (j % 3) as f32 - 0.1 + 0.01 * (0.3 * t + k).cos(),
                    0.08 * k + 0.02 * (0.4 * t + k).sin(),
                ]
            })
        })
        .collect();
    let ds = WindowDataset::new(
        vec![JointSequence {
            subject: "S000".into(),
            gait: "walk_00".into(),
            sick: false,
            rate_hz: None,
            joints: frames,
            files: Vec::new(),
            sides: None,
            legs_measured: None,
        }],
        WindowConfig {
            interval,
            stride: 1,
            mirror: false,
        },
    )
    .unwrap();
    let card = ModelCard::untrained(NetworkConfig::Transformer(cfg.clone()));
    let joints = &ds.sequences[0].joints;
    let track =
        || classification_track(&net.inference(), &card, joints, None, None, 1, &device).unwrap();
    let first = track();
    assert_eq!(first.len(), 20 - interval + 1);
    assert_eq!(first, track());
    // Its logits are the explanations' (the same inference forward).
    let x0 = Tensor::<A, 4>::from_data(
        TensorData::new(ds.batch_data(&[0]).unwrap(), [1, interval, 22, 3]),
        &device,
    );
    let e = explain(&net, x0, ExplainMethod::Attention).unwrap();
    assert!((first[0].logit - e[0].logit).abs() < 1e-5);
}
