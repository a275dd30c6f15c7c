//! Binary metrics (accuracy, balanced accuracy, ROC AUC, confusion matrix), Pearson correlation,
//! and leave-one-clip-out cross-validation: every clip (every group of byte-identical clips) is
//! held out once, a network is trained on the others, and its windows' mean pathological
//! probability is that clip's score.

use serde::{Deserialize, Serialize};

use super::VideoError;
use super::data::{LabelledClip, WindowSet, build_windows};
use super::inference::mean_and_spread;
use super::model::Task;
use super::training::{VideoEvent, VideoTrainConfig, train_on_windows};
use crate::formats::openpose::Body25;

/// Metrics of binary predictions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BinaryMetrics {
    /// True positives (pathological predicted pathological).
    pub tp: usize,
    /// True negatives.
    pub tn: usize,
    /// False positives.
    pub fp: usize,
    /// False negatives.
    pub fn_: usize,
    /// (tp + tn) / n.
    pub accuracy: f64,
    /// Mean of sensitivity and specificity.
    pub balanced_accuracy: f64,
    /// tp / (tp + fn).
    pub sensitivity: f64,
    /// tn / (tn + fp).
    pub specificity: f64,
    /// Area under the ROC curve (ties count one half); `None` with one class only.
    pub roc_auc: Option<f64>,
}

impl BinaryMetrics {
    /// From the confusion matrix alone (no AUC).
    pub fn from_confusion(tp: usize, tn: usize, fp: usize, fn_: usize) -> Self {
        let ratio = |a: usize, b: usize| {
            if b == 0 {
                f64::NAN
            } else {
                a as f64 / b as f64
            }
        };
        let sensitivity = ratio(tp, tp + fn_);
        let specificity = ratio(tn, tn + fp);
        Self {
            tp,
            tn,
            fp,
            fn_,
            accuracy: ratio(tp + tn, tp + tn + fp + fn_),
            balanced_accuracy: 0.5 * (sensitivity + specificity),
            sensitivity,
            specificity,
            roc_auc: None,
        }
    }

    /// From scores (higher = more pathological), labels (1 = pathological) and a threshold
    /// (`score ≥ threshold` → pathological).
    pub fn from_scores(scores: &[f64], labels: &[usize], threshold: f64) -> Self {
        let (mut tp, mut tn, mut fp, mut fn_) = (0, 0, 0, 0);
        for (&s, &l) in scores.iter().zip(labels) {
            match (s >= threshold, l == 1) {
                (true, true) => tp += 1,
                (false, false) => tn += 1,
                (true, false) => fp += 1,
                (false, true) => fn_ += 1,
            }
        }
        let mut m = Self::from_confusion(tp, tn, fp, fn_);
        m.roc_auc = roc_auc(scores, labels);
        m
    }
}

/// ROC AUC as the Mann–Whitney probability that a random positive outscores a random negative
/// (ties count one half); `None` when a class is absent.
pub fn roc_auc(scores: &[f64], labels: &[usize]) -> Option<f64> {
    let pos: Vec<f64> = scores
        .iter()
        .zip(labels)
        .filter(|p| *p.1 == 1)
        .map(|p| *p.0)
        .collect();
    let neg: Vec<f64> = scores
        .iter()
        .zip(labels)
        .filter(|p| *p.1 != 1)
        .map(|p| *p.0)
        .collect();
    if pos.is_empty() || neg.is_empty() {
        return None;
    }
    let mut wins = 0.0;
    for p in &pos {
        for n in &neg {
            wins += if p > n {
                1.0
            } else if p == n {
                0.5
            } else {
                0.0
            };
        }
    }
    Some(wins / (pos.len() * neg.len()) as f64)
}

/// Pearson correlation; `NaN` when either side is constant.
pub fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len()) as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma).powi(2);
        sbb += (y - mb).powi(2);
    }
    sab / (saa * sbb).sqrt()
}

/// Leave-one-clip-out settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LooConfig {
    /// The training configuration of every fold (task must be `Binary`).
    pub train: VideoTrainConfig,
    /// `score ≥ threshold` → pathological.
    pub threshold: f64,
}

/// One held-out clip's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LooClipResult {
    /// Clip name.
    pub clip: String,
    /// True label (1 = pathological).
    pub label: usize,
    /// Duplicate group.
    pub group: usize,
    /// Windows of the clip.
    pub windows: usize,
    /// Windows that were edge-padded.
    pub padded_windows: usize,
    /// Mean pathological probability over the windows.
    pub score: f64,
    /// Standard deviation of the window probabilities.
    pub spread: f64,
}

/// The result of one leave-one-clip-out run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LooReport {
    /// Network type.
    pub model_type: String,
    /// Per clip.
    pub clips: Vec<LooClipResult>,
    /// Clip-level metrics.
    pub metrics: BinaryMetrics,
    /// Clips without a usable window (not evaluated), with the reason.
    pub skipped: Vec<(String, String)>,
    /// Folds run.
    pub folds: usize,
    /// Wall time, seconds.
    pub seconds: f64,
    /// Mean final training loss over folds.
    pub mean_final_train_loss: f64,
}

/// A clip for cross-validation: name, walker keypoints, target (class index or value) and
/// duplicate group (clips of one group are always in the same fold).
#[derive(Debug, Clone, Copy)]
pub struct CvClip<'a> {
    /// Clip name.
    pub clip: &'a str,
    /// Walker keypoints per frame.
    pub frames: &'a [Option<Body25>],
    /// Class index (as f32) or regression value.
    pub target: f32,
    /// Duplicate group.
    pub group: usize,
}

/// How clips are split into folds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Folds {
    /// One fold per clip (per duplicate group).
    LeaveOneOut,
    /// `k` folds of groups, stratified: groups sorted by target and dealt round-robin.
    K(usize),
}

/// One held-out clip of a cross-validation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CvClipResult {
    /// Clip name.
    pub clip: String,
    /// Target (class index or value).
    pub target: f32,
    /// Duplicate group.
    pub group: usize,
    /// Fold that held it out.
    pub fold: usize,
    /// Windows of the clip.
    pub windows: usize,
    /// Windows that were edge-padded.
    pub padded_windows: usize,
    /// Mean over windows of each output (value, P(pathological) or class probabilities).
    pub mean: Vec<f32>,
    /// Standard deviation over windows of each output.
    pub spread: Vec<f32>,
}

/// Clip-level regression metrics.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RegressionMetrics {
    /// Pearson correlation of predicted and true values.
    pub pearson_r: f64,
    /// Root mean squared error.
    pub rmse: f64,
    /// Mean absolute error.
    pub mae: f64,
    /// RMSE of always predicting the mean of all targets (a reference).
    pub rmse_of_mean: f64,
}

/// The result of a cross-validation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CvReport {
    /// Network type.
    pub model_type: String,
    /// Task.
    pub task: Task,
    /// Fold scheme.
    pub scheme: Folds,
    /// Folds run.
    pub folds: usize,
    /// Held-out clips.
    pub clips: Vec<CvClipResult>,
    /// Binary task: clip-level metrics at the threshold.
    pub binary: Option<BinaryMetrics>,
    /// Classification: clip-level accuracy (arg-max / threshold).
    pub accuracy: Option<f64>,
    /// Classification: confusion matrix, `confusion[true][predicted]`.
    pub confusion: Option<Vec<Vec<usize>>>,
    /// Regression: clip-level metrics.
    pub regression: Option<RegressionMetrics>,
    /// Clips without a usable window (not evaluated), with the reason.
    pub skipped: Vec<(String, String)>,
    /// Wall time, seconds.
    pub seconds: f64,
    /// Mean final training loss over folds.
    pub mean_final_train_loss: f64,
}

impl CvReport {
    /// Predicted class of a held-out clip (classification), from its mean outputs.
    pub fn predicted_class(&self, r: &CvClipResult, threshold: f64) -> usize {
        match self.task {
            Task::Binary => usize::from(r.mean[0] as f64 >= threshold),
            _ => r
                .mean
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map_or(0, |p| p.0),
        }
    }
}

/// Assigns every group a fold; returns `fold_of_group` (indexed like `groups`) and the fold count.
fn assign_folds(groups: &[(usize, f32)], scheme: Folds) -> Result<(Vec<usize>, usize), VideoError> {
    match scheme {
        Folds::LeaveOneOut => Ok(((0..groups.len()).collect(), groups.len())),
        Folds::K(k) => {
            if k < 2 || k > groups.len() {
                return Err(VideoError::Config {
                    field: "cv",
                    reason: format!(
                        "{k} folds for {} independent clips (need 2 ≤ k ≤ clips)",
                        groups.len()
                    ),
                });
            }
            let mut order: Vec<usize> = (0..groups.len()).collect();
            order.sort_by(|&a, &b| groups[a].1.total_cmp(&groups[b].1).then(a.cmp(&b)));
            let mut fold = vec![0; groups.len()];
            for (rank, &g) in order.iter().enumerate() {
                fold[g] = rank % k;
            }
            Ok((fold, k))
        }
    }
}

/// Cross-validation by clip (never splitting a clip's windows or a duplicate group across
/// training and test): per fold a network is trained on the other clips' windows (standardisation
/// and target scaling fitted on them only) and every held-out clip is scored by the mean of its
/// windows' outputs. Metrics follow the task.
pub fn cross_validate(
    clips: &[CvClip<'_>],
    train: &VideoTrainConfig,
    scheme: Folds,
    threshold: f64,
    progress: &mut dyn FnMut(VideoEvent),
) -> Result<CvReport, VideoError> {
    let t0 = std::time::Instant::now();
    train.validate()?;
    let items: Vec<(&str, &[Option<Body25>], f32)> =
        clips.iter().map(|c| (c.clip, c.frames, c.target)).collect();
    let (set, skipped) = build_windows(&items, &train.preprocess)?;
    let names: Vec<String> = clips.iter().map(|c| c.clip.to_string()).collect();
    let groups = window_groups(clips, &set)?;
    let (fold_of, folds) = assign_folds(&groups, scheme)?;
    let plan = FoldPlan {
        clips,
        set: &set,
        names: &names,
        groups,
        fold_of,
    };
    let mut results = Vec::new();
    let mut loss_sum = 0.0;
    for fold in 0..folds {
        let (final_loss, fold_results) = plan.run_fold(fold, folds, train, progress)?;
        loss_sum += final_loss;
        results.extend(fold_results);
    }
    // report clips in input order
    results.sort_by_key(|r| names.iter().position(|n| *n == r.clip));
    let mut report = CvReport {
        model_type: train.model.kind().to_string(),
        task: train.task,
        scheme,
        folds,
        clips: results,
        binary: None,
        accuracy: None,
        confusion: None,
        regression: None,
        skipped,
        seconds: 0.0,
        mean_final_train_loss: loss_sum / folds as f64,
    };
    match train.task {
        Task::Regression => report.regression = Some(regression_metrics(&report.clips)),
        Task::Binary | Task::MultiClass { .. } => add_class_metrics(&mut report, threshold),
    }
    report.seconds = t0.elapsed().as_secs_f64();
    Ok(report)
}

/// The duplicate groups that have windows, in order of first appearance, each with a
/// representative target; fewer than two cannot be cross-validated.
fn window_groups(clips: &[CvClip<'_>], set: &WindowSet) -> Result<Vec<(usize, f32)>, VideoError> {
    let mut groups: Vec<(usize, f32)> = Vec::new();
    for &c in &set.clip_of {
        if !groups.iter().any(|g| g.0 == clips[c].group) {
            groups.push((clips[c].group, clips[c].target));
        }
    }
    if groups.len() < 2 {
        return Err(VideoError::Data {
            reason: format!(
                "{} clip(s) with usable windows; cross-validation needs at least 2",
                groups.len()
            ),
        });
    }
    Ok(groups)
}

/// The windows of a cross-validation and the fold each duplicate group is held out in.
struct FoldPlan<'a> {
    /// The clips, indexed by `set.clip_of`.
    clips: &'a [CvClip<'a>],
    /// All windows.
    set: &'a WindowSet,
    /// Clip names, indexed like `clips`.
    names: &'a [String],
    /// Groups with windows ([`window_groups`]).
    groups: Vec<(usize, f32)>,
    /// Fold of each entry of `groups`.
    fold_of: Vec<usize>,
}

impl FoldPlan<'_> {
    /// Is window `i` held out in `fold`?
    fn in_fold(&self, i: usize, fold: usize) -> bool {
        let g = self.clips[self.set.clip_of[i]].group;
        self.groups
            .iter()
            .position(|x| x.0 == g)
            .is_some_and(|p| self.fold_of[p] == fold)
    }

    /// Trains on every window outside `fold` and predicts each held-out clip; returns the final
    /// training loss and the held-out clips' results.
    fn run_fold(
        &self,
        fold: usize,
        folds: usize,
        train: &VideoTrainConfig,
        progress: &mut dyn FnMut(VideoEvent),
    ) -> Result<(f64, Vec<CvClipResult>), VideoError> {
        let set = self.set;
        let held: Vec<usize> = (0..set.len()).filter(|&i| self.in_fold(i, fold)).collect();
        let train_idx: Vec<usize> = (0..set.len()).filter(|&i| !self.in_fold(i, fold)).collect();
        let mut held_clips: Vec<usize> = held.iter().map(|&i| set.clip_of[i]).collect();
        held_clips.dedup();
        progress(VideoEvent::Fold {
            fold,
            folds,
            held_out: held_clips.iter().map(|&c| self.names[c].clone()).collect(),
        });
        let trained = train_on_windows(
            &set.subset(&train_idx),
            self.names,
            Vec::new(),
            train,
            progress,
        )?;
        let final_loss = trained
            .model
            .card
            .history
            .last()
            .map_or(f64::NAN, |h| h.train_loss);
        let mut results = Vec::new();
        for &c in &held_clips {
            let idx: Vec<usize> = held
                .iter()
                .copied()
                .filter(|&i| set.clip_of[i] == c)
                .collect();
            let sub = set.subset(&idx);
            let outs = trained.model.predict_windows(&sub.x, sub.len());
            let (mean, spread) = mean_and_spread(&outs);
            results.push(CvClipResult {
                clip: self.names[c].clone(),
                target: self.clips[c].target,
                group: self.clips[c].group,
                fold,
                windows: idx.len(),
                padded_windows: sub.padded.iter().filter(|p| **p > 0).count(),
                mean,
                spread,
            });
        }
        Ok((final_loss, results))
    }
}

/// Regression metrics of the held-out clips' mean predictions against their targets.
fn regression_metrics(clips: &[CvClipResult]) -> RegressionMetrics {
    let p: Vec<f64> = clips.iter().map(|r| r.mean[0] as f64).collect();
    let t: Vec<f64> = clips.iter().map(|r| r.target as f64).collect();
    let n = t.len().max(1) as f64;
    let mt = t.iter().sum::<f64>() / n;
    let rms = |e: &mut dyn Iterator<Item = f64>| (e.map(|x| x * x).sum::<f64>() / n).sqrt();
    RegressionMetrics {
        pearson_r: pearson(&p, &t),
        rmse: rms(&mut p.iter().zip(&t).map(|(a, b)| a - b)),
        mae: p.iter().zip(&t).map(|(a, b)| (a - b).abs()).sum::<f64>() / n,
        rmse_of_mean: rms(&mut t.iter().map(|b| b - mt)),
    }
}

/// Adds the confusion matrix and accuracy (and, for a binary task, the threshold metrics) of
/// the held-out clips to a classification report.
fn add_class_metrics(report: &mut CvReport, threshold: f64) {
    let k = report.task.outputs().max(2);
    let mut conf = vec![vec![0usize; k]; k];
    for r in &report.clips {
        let pred = report.predicted_class(r, threshold);
        conf[r.target as usize][pred] += 1;
    }
    let correct: usize = (0..k).map(|i| conf[i][i]).sum();
    report.accuracy = Some(correct as f64 / report.clips.len().max(1) as f64);
    report.confusion = Some(conf);
    if report.task == Task::Binary {
        let scores: Vec<f64> = report.clips.iter().map(|r| r.mean[0] as f64).collect();
        let labels: Vec<usize> = report.clips.iter().map(|r| r.target as usize).collect();
        report.binary = Some(BinaryMetrics::from_scores(&scores, &labels, threshold));
    }
}

/// Leave-one-clip-out (one fold per duplicate group) for binary labels.
pub fn leave_one_clip_out(
    clips: &[LabelledClip],
    cfg: &LooConfig,
    progress: &mut dyn FnMut(VideoEvent),
) -> Result<LooReport, VideoError> {
    if cfg.train.task != Task::Binary {
        return Err(VideoError::Config {
            field: "task",
            reason: "leave-one-clip-out evaluates binary labels".into(),
        });
    }
    let cv: Vec<CvClip<'_>> = clips
        .iter()
        .map(|c| CvClip {
            clip: &c.clip,
            frames: &c.frames,
            target: c.label as f32,
            group: c.group,
        })
        .collect();
    let rep = cross_validate(&cv, &cfg.train, Folds::LeaveOneOut, cfg.threshold, progress)?;
    Ok(LooReport {
        model_type: rep.model_type.clone(),
        metrics: rep
            .binary
            .unwrap_or(BinaryMetrics::from_confusion(0, 0, 0, 0)),
        clips: rep
            .clips
            .iter()
            .map(|r| LooClipResult {
                clip: r.clip.clone(),
                label: r.target as usize,
                group: r.group,
                windows: r.windows,
                padded_windows: r.padded_windows,
                score: r.mean[0] as f64,
                spread: r.spread[0] as f64,
            })
            .collect(),
        skipped: rep.skipped,
        folds: rep.folds,
        seconds: rep.seconds,
        mean_final_train_loss: rep.mean_final_train_loss,
    })
}

/// A Markdown comparison table of reports.
pub fn comparison_table(reports: &[LooReport]) -> String {
    let mut s = String::from(
        "| model | clips | acc | bal. acc | sens | spec | ROC AUC | TP | TN | FP | FN | time s |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in reports {
        let m = &r.metrics;
        s.push_str(&format!(
            "| {} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {} | {} | {} | {} | {} | {:.0} |\n",
            r.model_type,
            r.clips.len(),
            m.accuracy,
            m.balanced_accuracy,
            m.sensitivity,
            m.specificity,
            m.roc_auc.map_or("n/a".into(), |a| format!("{a:.3}")),
            m.tp,
            m.tn,
            m.fp,
            m.fn_,
            r.seconds
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::video::data::synthetic_walker;
    use crate::video::preprocess::PreprocessConfig;
    use crate::video::training::train_model;

    #[test]
    fn metrics_of_a_known_confusion_matrix() {
        // 8 positives, 12 negatives: tp 6, fn 2, tn 9, fp 3
        let m = BinaryMetrics::from_confusion(6, 9, 3, 2);
        assert!((m.accuracy - 15.0 / 20.0).abs() < 1e-12);
        assert!((m.sensitivity - 0.75).abs() < 1e-12);
        assert!((m.specificity - 0.75).abs() < 1e-12);
        assert!((m.balanced_accuracy - 0.75).abs() < 1e-12);
        let m = BinaryMetrics::from_confusion(1, 9, 0, 1);
        assert!(
            (m.balanced_accuracy - 0.75).abs() < 1e-12,
            "0.5·(1/2 + 9/9)"
        );
        let scores = [0.9, 0.2, 0.6, 0.4];
        let m = BinaryMetrics::from_scores(&scores, &[1, 0, 0, 1], 0.5);
        assert_eq!((m.tp, m.tn, m.fp, m.fn_), (1, 1, 1, 1));
    }

    #[test]
    fn roc_auc_of_a_known_example() {
        // positives {0.8, 0.4}, negatives {0.5, 0.1, 0.4}: pairs won 3 + 1.5 (0.4 > 0.1, tie 0.4)
        let auc = roc_auc(&[0.8, 0.4, 0.5, 0.1, 0.4], &[1, 1, 0, 0, 0]).unwrap();
        assert!((auc - 4.5 / 6.0).abs() < 1e-12, "{auc}");
        assert_eq!(roc_auc(&[0.1, 0.9], &[0, 1]), Some(1.0));
        assert_eq!(roc_auc(&[0.1, 0.9], &[1, 1]), None);
        assert!((pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.5]) - 0.9986).abs() < 1e-3);
    }

    /// The regression head learns a gait parameter computed from the keypoints themselves:
    /// knee-flexion range per clip (a GDI stand-in), held-out clips never seen in training.
    #[test]
    fn regression_head_learns_knee_range_on_held_out_clips() {
        let pre = PreprocessConfig {
            window_frames: 48,
            stride_frames: 16,
            ..Default::default()
        };
        let mut cfg = VideoTrainConfig::new("cnn", Task::Regression, pre.clone()).unwrap();
        cfg.epochs = 40;
        cfg.batch_size = 16;
        cfg.lr = 3e-3;
        cfg.lr_step_factor = 1.0;
        if let crate::video::model::VideoModelConfig::Cnn(c) = &mut cfg.model {
            c.dropout = 0.1;
        }
        let make = |i: usize, seed_off: u64| {
            let amp = 20.0 + 50.0 * ((i * 7) % 13) as f32 / 12.0; // 20..70 degrees
            let stride = 0.8 + 0.05 * (i % 5) as f32;
            let s = synthetic_walker(
                &format!("c{i}"),
                110,
                30.0,
                amp,
                stride,
                1.5,
                i as u64 + seed_off,
            );
            (s.clip, s.frames, amp)
        };
        let train: Vec<_> = (0..20).map(|i| make(i, 0)).collect();
        let test: Vec<_> = (20..30).map(|i| make(i, 1000)).collect();
        let refs: Vec<(&str, &[Option<Body25>], f32)> = train
            .iter()
            .map(|(n, f, t)| (n.as_str(), f.as_slice(), *t))
            .collect();
        let trained = {
            let _lock = crate::train::test_rng_lock();
            train_model(&refs, &cfg, &mut |_| {}).unwrap()
        };
        let mut pred = Vec::new();
        let mut truth = Vec::new();
        for (n, f, t) in &test {
            let p = crate::video::inference::predict_clip(&trained.model, n, f).unwrap();
            pred.push(p.mean[0] as f64);
            truth.push(*t as f64);
        }
        let r = pearson(&pred, &truth);
        let mean_t = train.iter().map(|c| c.2 as f64).sum::<f64>() / train.len() as f64;
        let rmse = |p: &[f64]| {
            (p.iter()
                .zip(&truth)
                .map(|(a, b)| (a - b).powi(2))
                .sum::<f64>()
                / p.len() as f64)
                .sqrt()
        };
        let const_rmse = rmse(&vec![mean_t; truth.len()]);
        let model_rmse = rmse(&pred);
        assert!(
            r > 0.8,
            "held-out correlation {r} (pred {pred:?}, truth {truth:?})"
        );
        assert!(
            model_rmse < 0.7 * const_rmse,
            "RMSE {model_rmse} vs constant-mean {const_rmse}"
        );
    }

    #[test]
    fn loo_on_separable_synthetic_clips() {
        let pre = PreprocessConfig {
            window_frames: 48,
            stride_frames: 24,
            ..Default::default()
        };
        let mut train = VideoTrainConfig::new("cnn", Task::Binary, pre).unwrap();
        train.epochs = 25;
        train.batch_size = 4;
        let seqs: Vec<_> = (0..8)
            .map(|i| {
                let (name, amp) = if i < 4 {
                    (format!("gait{i}"), 15.0)
                } else {
                    (format!("vid{i}"), 65.0)
                };
                synthetic_walker(&name, 100, 30.0, amp, 0.9, 1.0, i)
            })
            .collect();
        let mut dup = seqs[4].clone();
        dup.clip = "vid99".into();
        let mut all = seqs;
        all.push(dup);
        let clips = crate::video::data::labelled_from_sequences(all).unwrap();
        let mut folds = 0;
        let _lock = crate::train::test_rng_lock();
        let rep = leave_one_clip_out(
            &clips,
            &LooConfig {
                train,
                threshold: 0.5,
            },
            &mut |e| {
                if let VideoEvent::Fold { held_out, .. } = e {
                    folds += 1;
                    if held_out.contains(&"vid4".to_string()) {
                        assert!(held_out.contains(&"vid99".to_string()), "duplicates split");
                    }
                }
            },
        )
        .unwrap();
        assert_eq!((rep.folds, folds, rep.clips.len()), (8, 8, 9));
        assert!(rep.metrics.balanced_accuracy >= 0.75, "{:?}", rep.metrics);
        assert!(comparison_table(&[rep]).contains("| cnn | 9 |"));
    }
}
