//! Acceptance run on the semi-synthetic cohort: k-fold training of the per-frame MLP and the
//! marker transformer, eval accuracy per fold, and how often the joint with the highest summed
//! relevance of a correctly classified sick window lies on the injected limb.
//!
//! `cargo run --release --no-default-features --example train_synth -- [--net mlp|transformer|both]
//!  [--interval 64] [--stride 16] [--epochs 10] [--folds 5] [--subjects 40] [--lr 1e-3]
//!  [--batch 32] [--pfe-dim 32] [--fc-dim 32] [--ff-dim 64]`

use std::collections::HashMap;

use burn::backend::{Autodiff, NdArray};
use burn::prelude::*;
use gaitlens::dataset::{WindowConfig, WindowDataset, k_fold_by_subject};
use gaitlens::explain::{ExplainMethod, LrpRule, explain};
use gaitlens::nn::{MarkerClassificationConfig, MultiMlpConfig};
use gaitlens::synth::{SynthConfig, synth_cohort};
use gaitlens::train::{
    DatasetWindows, NetworkConfig, TrainConfig, TrainEvent, WindowSource, load_weights, train,
};

type A = Autodiff<NdArray>;

fn parse_list(s: &str) -> anyhow::Result<Vec<usize>> {
    Ok(s.split(',')
        .map(|v| v.trim().parse())
        .collect::<Result<_, _>>()?)
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let mut opt: HashMap<String, String> = HashMap::new();
    for pair in args[1..].chunks(2) {
        if let [k, v] = pair {
            opt.insert(k.trim_start_matches("--").to_string(), v.clone());
        }
    }
    let get = |k: &str, d: &str| opt.get(k).cloned().unwrap_or_else(|| d.to_string());
    let interval: usize = get("interval", "64").parse()?;
    let stride: usize = get("stride", "16").parse()?;
    let epochs: usize = get("epochs", "10").parse()?;
    let folds: usize = get("folds", "5").parse()?;
    let subjects: usize = get("subjects", "40").parse()?;
    let lr: f64 = get("lr", "1e-3").parse()?;
    let batch: usize = get("batch", "32").parse()?;
    let nets = get("net", "both");

    let cohort = synth_cohort(&SynthConfig {
        subjects,
        ..Default::default()
    })?;
    let truths: Vec<_> = cohort.iter().map(|(_, t)| t.clone()).collect();
    let ds = WindowDataset::new(
        cohort.into_iter().map(|(s, _)| s).collect(),
        WindowConfig {
            interval,
            stride,
            mirror: true,
        },
    )?;
    eprintln!(
        "{} windows from {} sequences",
        ds.windows.len(),
        ds.sequences.len()
    );

    {
        let probe: Vec<usize> = (0..ds.windows.len()).step_by(97).collect();
        let x = ds.batch_data(&probe)?;
        let n = x.len() as f64;
        let mean = x.iter().map(|&v| v as f64).sum::<f64>() / n;
        let sd = (x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n).sqrt();
        let (lo, hi) = x
            .iter()
            .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
        eprintln!("window data: mean {mean:.4}, sd {sd:.4}, range [{lo:.3}, {hi:.3}]");
    }
    let mut networks = Vec::new();
    if nets == "mlp" || nets == "both" {
        networks.push(NetworkConfig::LrpMlp(
            MultiMlpConfig::new()
                .with_interval(interval)
                .with_pfe_layers(parse_list(&get("pfe", "16,32,64,32,16"))?)
                .with_fc_layers(parse_list(&get("fc", "32,64,128,64,32"))?),
        ));
    }
    if nets == "transformer" || nets == "both" {
        networks.push(NetworkConfig::Transformer(
            MarkerClassificationConfig::new()
                .with_interval(interval)
                .with_pfe_dim(get("pfe-dim", "32").parse()?)
                .with_fc_dim(get("fc-dim", "32").parse()?)
                .with_ff_dim(get("ff-dim", "64").parse()?),
        ));
    }
    for net in networks {
        let name = net.network_type();
        let (mut accs, mut hits, mut sick_ok) = (Vec::new(), 0usize, 0usize);
        for fold in 0..folds {
            let split = k_fold_by_subject(&ds, folds, fold)?;
            let tr = DatasetWindows {
                dataset: &ds,
                windows: split.train.clone(),
            };
            let ev = DatasetWindows {
                dataset: &ds,
                windows: split.eval.clone(),
            };
            let mut cfg = TrainConfig::new(net.clone());
            cfg.epochs = epochs;
            cfg.lr = lr;
            cfg.batch_size = batch;
            cfg.fold = fold;
            cfg.folds = folds;
            cfg.use_pos_ratio = true;
            if get("optim", "adopt") == "adam" {
                cfg.optimizer = gaitlens::train::OptimizerKind::Adam;
            }
            let t0 = std::time::Instant::now();
            let out = train(&cfg, &tr, &ev, |e| {
                if let TrainEvent::Epoch(r) = e {
                    eprintln!(
                        "{name} fold {fold} epoch {}: train loss {:.4} acc {:.3} | eval loss {:.4} acc {:.3}",
                        r.epoch, r.train_loss, r.train.accuracy, r.eval_loss, r.eval.accuracy
                    );
                }
            })?;
            let acc = out
                .card
                .epochs
                .last()
                .map(|e| e.eval.accuracy)
                .unwrap_or(0.0);
            accs.push(acc);
            // Relevance of correctly classified sick eval windows.
            let device = Default::default();
            let model = load_weights::<A>(&out.card.network, out.record.clone(), &device)
                .map_err(anyhow::Error::msg)?;
            let idx: Vec<usize> = (0..ev.len()).collect();
            for chunk in idx.chunks(32) {
                let (x, y) = ev.batch(chunk)?;
                let x = Tensor::<A, 4>::from_data(
                    TensorData::new(x, [chunk.len(), interval, 22, 3]),
                    &device,
                );
                let expl = explain(&model, x, ExplainMethod::Lrp(LrpRule::default()))?;
                for ((&i, e), &label) in chunk.iter().zip(&expl).zip(&y) {
                    if label > 0.5 && e.logit > 0.0 {
                        let w = ds.windows[split.eval[i]];
                        let limb = truths[w.sequence].limb_in_window(w.mirrored);
                        sick_ok += 1;
                        if limb.contains(&e.top_joint()) {
                            hits += 1;
                        }
                    }
                }
            }
            eprintln!(
                "{name} fold {fold}: eval accuracy {acc:.4} ({:.0} s)",
                t0.elapsed().as_secs_f64()
            );
        }
        let mean = accs.iter().sum::<f64>() / accs.len() as f64;
        println!(
            "{name}: eval accuracy per fold {accs:?}, mean {mean:.4}; top-relevance joint on the injected limb for {hits}/{sick_ok} = {:.3} of correctly classified sick windows",
            hits as f64 / sick_ok.max(1) as f64
        );
    }
    Ok(())
}
