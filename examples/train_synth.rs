//! Acceptance run on the semi-synthetic cohort: k-fold training of the per-frame MLP and the
//! marker transformer, eval accuracy per fold, and how often the joint with the highest summed
//! relevance of a correctly classified sick window lies on the injected limb.
//!
//! `cargo run --release --no-default-features --example train_synth -- [--net mlp|transformer|both]
//!  [--interval 64] [--stride 16] [--epochs 10] [--folds 5] [--subjects 40] [--lr 1e-3]
//!  [--batch 32] [--pfe-dim 32] [--fc-dim 32] [--ff-dim 64] [--optim adopt|adam]
//!  [--pelvis-relative 1|0] [--run-folds N] [--per-subject 1]`
//!
//! `--pelvis-relative 1` (the default here; the original has no such step) makes both networks
//! subtract each frame's pelvis x first (`gaitlens::nn::pelvis_relative_x`). `--run-folds N` runs
//! only the first N folds; `--per-subject 1` prints eval accuracy per subject and pathology.
//! Diagnostics: `--probe 1 [--sym 1] [--rel 1]` nearest-centroid and logistic regression on
//! per-window joint statistics; `--probe 2` joint displacement between a subject's healthy and
//! sick variants.

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
    if get("probe", "0") == "2" {
        let model = gaitlens::body::default_model::default_body();
        let cfg = SynthConfig {
            subjects,
            ..Default::default()
        };
        for i in [1usize, 3, 5, 7, 9] {
            let t = gaitlens::synth::subject_truth(&cfg, i, model.num_betas);
            let inj = t.pathology.zip(t.side);
            let h = gaitlens::synth::synth_subject(model, &cfg, i, None)?;
            let s = gaitlens::synth::synth_subject(model, &cfg, i, inj)?;
            let (a, b) = (&h[0].joints, &s[0].joints);
            let mut per_joint = [0f32; 22];
            for (fa, fb) in a.iter().zip(b) {
                for j in 0..22 {
                    let d = ((0..3).map(|c| (fa[j][c] - fb[j][c]).powi(2)).sum::<f32>()).sqrt();
                    per_joint[j] = per_joint[j].max(d);
                }
            }
            // ankle height max per side
            let ymax = |v: &Vec<gaitlens::dataset::Frame>, j: usize| {
                v.iter().map(|f| f[j][1]).fold(f32::MIN, f32::max)
            };
            eprintln!(
                "S{i:03} {:?} {:?}: max |Δ| per joint (cm) {:?}; ankle ymax L {:.3}->{:.3} R {:.3}->{:.3}",
                t.pathology,
                t.side,
                per_joint
                    .iter()
                    .map(|v| (v * 100.0).round() as i32)
                    .collect::<Vec<_>>(),
                ymax(a, 7),
                ymax(b, 7),
                ymax(a, 8),
                ymax(b, 8)
            );
        }
        return Ok(());
    }
    if get("probe", "0") == "1" {
        // Phase-invariant per-window features (mean, sd, min, max of every joint coordinate) and
        // a nearest-centroid classifier on standardised features, fold 0.
        let feats = |i: usize| -> anyhow::Result<Vec<f64>> {
            let w = if get("raw", "0") == "1" {
                ds.raw_window(&ds.windows[i])
            } else {
                ds.aligned_window(i)?
            };
            let mut f = Vec::new();
            for j in 0..22 {
                for c in 0..3 {
                    let rel = get("rel", "0") == "1";
                    let v: Vec<f64> = w
                        .iter()
                        .map(|fr| fr[j][c] as f64 - if rel { fr[0][c] as f64 } else { 0.0 })
                        .collect();
                    let n = v.len() as f64;
                    let m = v.iter().sum::<f64>() / n;
                    let sd = (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n).sqrt();
                    let lo = v.iter().cloned().fold(f64::MAX, f64::min);
                    let hi = v.iter().cloned().fold(f64::MIN, f64::max);
                    f.extend([m, sd, lo, hi]);
                }
            }
            if get("sym", "0") == "1" {
                let m = gaitlens::dataset::MIRRORED_JOINT_ORDER;
                let mut g = Vec::new();
                for j in 0..22 {
                    for k in 0..12 {
                        let (a, b) = (f[j * 12 + k], f[m[j] * 12 + k]);
                        if m[j] == j {
                            g.push(a);
                        } else if m[j] > j {
                            g.push((a - b).abs());
                            g.push(a + b);
                        }
                    }
                }
                return Ok(g);
            }
            Ok(f)
        };
        for fold in 0..folds {
            let split = k_fold_by_subject(&ds, folds, fold)?;
            let ftr: Vec<Vec<f64>> = split
                .train
                .iter()
                .map(|&i| feats(i))
                .collect::<Result<_, _>>()?;
            let ytr: Vec<bool> = split.train.iter().map(|&i| ds.windows[i].sick).collect();
            let d = ftr[0].len();
            let n = ftr.len() as f64;
            let mu: Vec<f64> = (0..d)
                .map(|k| ftr.iter().map(|f| f[k]).sum::<f64>() / n)
                .collect();
            let sd: Vec<f64> = (0..d)
                .map(|k| {
                    (ftr.iter().map(|f| (f[k] - mu[k]).powi(2)).sum::<f64>() / n)
                        .sqrt()
                        .max(1e-9)
                })
                .collect();
            let z = |f: &[f64]| -> Vec<f64> { (0..d).map(|k| (f[k] - mu[k]) / sd[k]).collect() };
            let mut cent = [vec![0.0; d], vec![0.0; d]];
            let mut cnt = [0.0; 2];
            for (f, &y) in ftr.iter().zip(&ytr) {
                let zf = z(f);
                for k in 0..d {
                    cent[y as usize][k] += zf[k];
                }
                cnt[y as usize] += 1.0;
            }
            for (cent_c, &n) in cent.iter_mut().zip(&cnt) {
                for v in cent_c.iter_mut().take(d) {
                    *v /= n;
                }
            }
            if fold == 0 {
                let mut diff: Vec<(f64, usize)> = (0..d)
                    .map(|k| ((cent[1][k] - cent[0][k]).abs(), k))
                    .collect();
                diff.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap());
                eprintln!(
                    "top centroid differences (in train sd): {:?}",
                    diff.iter()
                        .take(8)
                        .map(|(v, k)| format!("j{} c{} s{}: {v:.2}", k / 12, (k % 12) / 4, k % 4))
                        .collect::<Vec<_>>()
                );
            }
            // logistic regression by gradient descent
            let zs: Vec<Vec<f64>> = ftr.iter().map(|f| z(f)).collect();
            let mut wv = vec![0.0; d + 1];
            for _ in 0..300 {
                let mut g = vec![0.0; d + 1];
                for (zf, &y) in zs.iter().zip(&ytr) {
                    let s: f64 = wv[d] + zf.iter().zip(&wv).map(|(a, b)| a * b).sum::<f64>();
                    let p = 1.0 / (1.0 + (-s).exp());
                    let e = p - y as u8 as f64;
                    for k in 0..d {
                        g[k] += e * zf[k];
                    }
                    g[d] += e;
                }
                for k in 0..=d {
                    wv[k] -= 0.5 * (g[k] / n + if k < d { 1e-3 * wv[k] } else { 0.0 });
                }
            }
            let mut okl = 0;
            let mut okt = 0;
            for (zf, &y) in zs.iter().zip(&ytr) {
                let s: f64 = wv[d] + zf.iter().zip(&wv).map(|(a, b)| a * b).sum::<f64>();
                if (s > 0.0) == y {
                    okt += 1;
                }
            }
            for &i in &split.eval {
                let zf = z(&feats(i)?);
                let s: f64 = wv[d] + zf.iter().zip(&wv).map(|(a, b)| a * b).sum::<f64>();
                if (s > 0.0) == ds.windows[i].sick {
                    okl += 1;
                }
            }
            eprintln!(
                "logreg fold {fold}: train acc {:.3} eval acc {:.3}",
                okt as f64 / n,
                okl as f64 / split.eval.len() as f64
            );
            let mut ok = 0;
            for &i in &split.eval {
                let zf = z(&feats(i)?);
                let dist =
                    |c: &Vec<f64>| zf.iter().zip(c).map(|(a, b)| (a - b).powi(2)).sum::<f64>();
                let pred = dist(&cent[1]) < dist(&cent[0]);
                if pred == ds.windows[i].sick {
                    ok += 1;
                }
            }
            eprintln!(
                "nearest-centroid fold {fold}: eval accuracy {:.3}",
                ok as f64 / split.eval.len() as f64
            );
        }
        return Ok(());
    }
    let pelvis_relative = get("pelvis-relative", "1") == "1";
    let mut networks = Vec::new();
    if nets == "mlp" || nets == "both" {
        networks.push(NetworkConfig::LrpMlp(
            MultiMlpConfig::new()
                .with_interval(interval)
                .with_pfe_layers(parse_list(&get("pfe", "16,32,64,32,16"))?)
                .with_fc_layers(parse_list(&get("fc", "32,64,128,64,32"))?)
                .with_pelvis_relative_x(pelvis_relative),
        ));
    }
    if nets == "transformer" || nets == "both" {
        networks.push(NetworkConfig::Transformer(
            MarkerClassificationConfig::new()
                .with_interval(interval)
                .with_pfe_dim(get("pfe-dim", "32").parse()?)
                .with_fc_dim(get("fc-dim", "32").parse()?)
                .with_ff_dim(get("ff-dim", "64").parse()?)
                .with_pelvis_relative_x(pelvis_relative),
        ));
    }
    for net in networks {
        let name = net.network_type();
        let (mut accs, mut hits, mut sick_ok) = (Vec::new(), 0usize, 0usize);
        let run_folds: usize = get("run-folds", &folds.to_string()).parse()?;
        for fold in 0..run_folds {
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
            let mut per_subj: std::collections::BTreeMap<String, (usize, usize)> =
                Default::default();
            for chunk in idx.chunks(32) {
                let (x, y) = ev.batch(chunk)?;
                let x = Tensor::<A, 4>::from_data(
                    TensorData::new(x, [chunk.len(), interval, 22, 3]),
                    &device,
                );
                let expl = explain(&model, x, ExplainMethod::Lrp(LrpRule::default()))?;
                for ((&i, e), &label) in chunk.iter().zip(&expl).zip(&y) {
                    {
                        let w = ds.windows[split.eval[i]];
                        let t = &truths[w.sequence];
                        let k = format!("{} {:?} {:?}", t.subject, t.pathology, t.side);
                        let ent = per_subj.entry(k).or_insert((0usize, 0usize));
                        ent.1 += 1;
                        if (e.logit > 0.0) == (label > 0.5) {
                            ent.0 += 1;
                        }
                    }
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
            if get("per-subject", "0") == "1" {
                for (k, (ok, n)) in &per_subj {
                    eprintln!("  {k}: {ok}/{n}");
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
