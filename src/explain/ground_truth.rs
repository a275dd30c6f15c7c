//! Checks a trained classifier and its explanations against the known ground truth of a
//! semi-synthetic cohort (`gaitlens synth`): accuracy per injected pathology, and how often the
//! most relevant joint of a correctly classified sick window lies on the injected limb — the
//! acceptance measure of the synthetic-cohort experiment, computed the same way for every
//! explanation method so rules can be compared on one trained network.

use std::collections::HashMap;

use burn::tensor::backend::AutodiffBackend;
use serde::Serialize;

use super::{ExplainError, ExplainMethod, Explanation, NormativeGait, explain_relative};
use crate::dataset::{NUM_JOINTS, Window, WindowDataset};
use crate::nn::{LoadedModel, window_tensor};
use crate::synth::{GroundTruth, Pathology};

/// How often one explanation method points at the injected limb.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LocusScore {
    /// Method name as given by the caller (`eps`, `zplus`, …).
    pub method: String,
    /// Correctly classified sick windows (logit > 0) that were explained.
    pub correct_sick_windows: usize,
    /// Of those, windows whose top joint (highest summed signed relevance) is on the injected
    /// limb(s): hip, knee, ankle or foot of the affected side.
    pub top_on_limb: usize,
    /// Of those, windows whose top joint is one of the joints the pathology rotates.
    pub top_on_locus_joint: usize,
    /// `top_on_limb / correct_sick_windows` (0 when there are none).
    pub limb_fraction: f64,
    /// How often each joint was the top joint, indexed by joint.
    pub top_joint_counts: Vec<usize>,
    /// The same counts per pathology: (group name, correct sick windows, top on limb), in
    /// [`crate::synth::ALL_PATHOLOGIES`] order, pathologies without windows left out.
    pub per_group: Vec<(String, usize, usize)>,
}

/// Classification of the windows of one group of subjects (healthy, or one pathology).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupScore {
    /// `healthy` or the pathology's name (`foot_drop`, …).
    pub group: String,
    /// Subjects of the group among the evaluated windows.
    pub subjects: usize,
    /// Windows evaluated.
    pub windows: usize,
    /// Windows classified correctly.
    pub correct: usize,
    /// Mean predicted probability of "sick" (at the set's temperature: calibrated when the
    /// network's card is).
    pub mean_probability: f64,
}

/// Result of [`evaluate_against_truth`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TruthReport {
    /// Windows evaluated.
    pub windows: usize,
    /// Fraction classified correctly (threshold 0.5).
    pub accuracy: f64,
    /// Healthy first, then each pathology present, in [`crate::synth::ALL_PATHOLOGIES`] order.
    pub groups: Vec<GroupScore>,
    /// One entry per explanation method, in the order given.
    pub locus: Vec<LocusScore>,
    /// Logit and class (sick) of every evaluated window, in order (for calibration measures;
    /// not written to reports).
    #[serde(skip)]
    pub predictions: Vec<(f32, bool)>,
}

/// Errors of [`evaluate_against_truth`].
#[derive(Debug, thiserror::Error)]
pub enum TruthError {
    /// A subject of the dataset is missing from the ground truth.
    #[error(
        "subject {subject} is not in the ground truth (is this the cohort the file describes?)"
    )]
    MissingSubject {
        /// Subject folder name.
        subject: String,
    },
    /// The ground truth's class disagrees with the dataset's class folder.
    #[error("subject {subject}: ground truth says sick = {truth}, the class folder says {folder}")]
    ClassMismatch {
        /// Subject folder name.
        subject: String,
        /// Class in the ground truth.
        truth: bool,
        /// Class from the folder.
        folder: bool,
    },
    /// Explaining failed.
    #[error(transparent)]
    Explain(#[from] ExplainError),
}

fn group_name(p: Option<Pathology>) -> String {
    match p {
        None => "healthy".into(),
        Some(p) => serde_json::to_value(p)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| format!("{p:?}")),
    }
}

/// One explanation method to score.
#[derive(Debug, Clone)]
pub struct ScoredMethod<'a> {
    /// Name in the report (`eps`, `eps-normative`, …).
    pub name: String,
    /// The method.
    pub method: ExplainMethod,
    /// Explain relative to this normative gait instead of the zero input.
    pub reference: Option<&'a NormativeGait>,
}

impl<'a> ScoredMethod<'a> {
    /// A method relative to the zero input.
    pub fn plain(name: impl Into<String>, method: ExplainMethod) -> Self {
        Self {
            name: name.into(),
            method,
            reference: None,
        }
    }
}

/// Windows of a synthetic cohort to evaluate, with the cohort's ground truth.
#[derive(Debug, Clone, Copy)]
pub struct TruthSet<'a> {
    /// The cohort's windows (a folder written by `gaitlens synth`).
    pub dataset: &'a WindowDataset,
    /// Indices of the windows to evaluate (usually a fold's evaluation windows).
    pub windows: &'a [usize],
    /// Ground truth of the cohort's subjects (`ground_truth.json`).
    pub truths: &'a [GroundTruth],
    /// The network card's calibration temperature: probabilities are `sigmoid(logit / T)`
    /// (`None`: an uncalibrated card, T = 1).
    pub temperature: Option<f64>,
}

/// Classifies and explains the windows of `set` with each of `methods`, in batches of
/// `batch_size`; `progress(done, total)` is called after each batch.
pub fn evaluate_against_truth<B: AutodiffBackend>(
    model: &LoadedModel<B>,
    set: TruthSet<'_>,
    methods: &[ScoredMethod<'_>],
    batch_size: usize,
    device: &B::Device,
    mut progress: impl FnMut(usize, usize),
) -> Result<TruthReport, TruthError> {
    let TruthSet {
        dataset: ds,
        windows,
        truths,
        temperature,
    } = set;
    let truth_of_seq = truth_of_sequences(ds, truths)?;
    let interval = ds.config.interval;
    let mut tally = Tally::new(methods, temperature.unwrap_or(1.0));
    let mut done = 0usize;
    for chunk in windows.chunks(batch_size.max(1)) {
        let data = ds.batch_data(chunk).map_err(ExplainError::from)?;
        let batch =
            |flat: Vec<f32>| window_tensor::<B>(flat, chunk.len(), interval, NUM_JOINTS, device);
        let x = batch(data.clone());
        for (m, sm) in methods.iter().enumerate() {
            let reference = sm
                .reference
                .map(|n| batch(n.reference_batch(&data, interval)));
            let explanations = explain_relative(model, x.clone(), reference, sm.method)?;
            for (&wi, e) in chunk.iter().zip(&explanations) {
                let w = ds.windows[wi];
                let truth = truth_of_seq[w.sequence];
                if m == 0 {
                    tally.record_class(&w, truth, e);
                }
                tally.record_locus(m, &w, truth, e);
            }
        }
        done += chunk.len();
        progress(done, windows.len());
    }
    Ok(tally.into_report(windows.len()))
}

/// The ground truth of each sequence of the dataset, matched by subject; a subject without
/// truth or whose class disagrees with its folder is an error.
fn truth_of_sequences<'t>(
    ds: &WindowDataset,
    truths: &'t [GroundTruth],
) -> Result<Vec<&'t GroundTruth>, TruthError> {
    let by_name: HashMap<&str, &GroundTruth> =
        truths.iter().map(|t| (t.subject.as_str(), t)).collect();
    ds.sequences
        .iter()
        .map(|s| {
            let t = by_name
                .get(s.subject.as_str())
                .ok_or_else(|| TruthError::MissingSubject {
                    subject: s.subject.clone(),
                })?;
            if t.sick != s.sick {
                return Err(TruthError::ClassMismatch {
                    subject: s.subject.clone(),
                    truth: t.sick,
                    folder: s.sick,
                });
            }
            Ok(*t)
        })
        .collect()
}

/// Running counts of an evaluation: classification per group, localisation per method.
struct Tally {
    /// Per method, its localisation score so far.
    locus: Vec<LocusScore>,
    /// (method, pathology) → (correct sick windows, top on limb).
    locus_groups: HashMap<(usize, Pathology), (usize, usize)>,
    /// group → (subjects, windows, correct, Σ probability).
    groups: HashMap<Option<Pathology>, (Vec<usize>, usize, usize, f64)>,
    /// Windows classified correctly.
    correct_total: usize,
    /// Probabilities are `sigmoid(logit / temperature)`.
    temperature: f64,
    /// (logit, sick) of every window classified.
    predictions: Vec<(f32, bool)>,
}

impl Tally {
    /// Empty counts for `methods`, probabilities at `temperature`.
    fn new(methods: &[ScoredMethod<'_>], temperature: f64) -> Self {
        let locus = methods
            .iter()
            .map(|m| LocusScore {
                method: m.name.clone(),
                correct_sick_windows: 0,
                top_on_limb: 0,
                top_on_locus_joint: 0,
                limb_fraction: 0.0,
                top_joint_counts: vec![0; NUM_JOINTS],
                per_group: Vec::new(),
            })
            .collect();
        Tally {
            locus,
            locus_groups: HashMap::new(),
            groups: HashMap::new(),
            correct_total: 0,
            temperature,
            predictions: Vec::new(),
        }
    }

    /// Counts window `w`'s classification (from the first method's logit) in its group.
    fn record_class(&mut self, w: &Window, truth: &GroundTruth, e: &Explanation) {
        let predicted_sick = e.logit > 0.0;
        let g = self.groups.entry(truth.pathology).or_default();
        if !g.0.contains(&w.subject) {
            g.0.push(w.subject);
        }
        g.1 += 1;
        if predicted_sick == w.sick {
            g.2 += 1;
            self.correct_total += 1;
        }
        g.3 += crate::nn::probability_from_logit(f64::from(e.logit) / self.temperature);
        self.predictions.push((e.logit, w.sick));
    }

    /// For a correctly classified sick window, counts where method `m`'s top joint lies: on the
    /// injected limb, on the injected joints.
    fn record_locus(&mut self, m: usize, w: &Window, truth: &GroundTruth, e: &Explanation) {
        if !(w.sick && e.logit > 0.0) {
            return;
        }
        let top = e.top_joint();
        let score = &mut self.locus[m];
        score.correct_sick_windows += 1;
        score.top_joint_counts[top] += 1;
        let on_limb = truth.limb_in_window(w.mirrored).contains(&top);
        if on_limb {
            score.top_on_limb += 1;
        }
        if let Some(p) = truth.pathology {
            let g = self.locus_groups.entry((m, p)).or_default();
            g.0 += 1;
            g.1 += usize::from(on_limb);
        }
        if truth.joints_in_window(w.mirrored).contains(&top) {
            score.top_on_locus_joint += 1;
        }
    }

    /// The report of `windows` evaluated windows: groups in healthy-then-pathology order,
    /// localisation fractions and per-pathology counts.
    fn into_report(mut self, windows: usize) -> TruthReport {
        for (m, s) in self.locus.iter_mut().enumerate() {
            s.per_group = crate::synth::ALL_PATHOLOGIES
                .iter()
                .filter_map(|&p| {
                    self.locus_groups
                        .get(&(m, p))
                        .map(|&(n, hits)| (group_name(Some(p)), n, hits))
                })
                .collect();
            s.limb_fraction = if s.correct_sick_windows == 0 {
                0.0
            } else {
                s.top_on_limb as f64 / s.correct_sick_windows as f64
            };
        }
        let order =
            std::iter::once(None).chain(crate::synth::ALL_PATHOLOGIES.iter().copied().map(Some));
        let groups = order
            .filter_map(|p| {
                self.groups
                    .get(&p)
                    .map(|(subjects, n, correct, psum)| GroupScore {
                        group: group_name(p),
                        subjects: subjects.len(),
                        windows: *n,
                        correct: *correct,
                        mean_probability: psum / *n as f64,
                    })
            })
            .collect();
        TruthReport {
            windows,
            accuracy: if windows == 0 {
                0.0
            } else {
                self.correct_total as f64 / windows as f64
            },
            groups,
            locus: self.locus,
            predictions: self.predictions,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::{WindowConfig, WindowDataset};
    use crate::explain::LrpRule;
    use crate::nn::MultiMlpConfig;
    use crate::synth::{SynthConfig, synth_cohort};
    use burn::backend::{Autodiff, NdArray};

    type A = Autodiff<NdArray>;

    fn cohort(subjects: usize) -> (WindowDataset, Vec<GroundTruth>) {
        let c = synth_cohort(&SynthConfig {
            subjects,
            frames_per_trial: 40,
            trials_per_subject: 1,
            ..Default::default()
        })
        .unwrap();
        let truths = c.iter().map(|(_, t)| t.clone()).collect();
        let ds = WindowDataset::new(
            c.into_iter().map(|(s, _)| s).collect(),
            WindowConfig {
                interval: 16,
                stride: 8,
                mirror: true,
            },
        )
        .unwrap();
        (ds, truths)
    }

    #[test]
    fn counts_add_up_over_groups_and_methods() {
        let _rng = crate::train::test_rng_lock();
        let (ds, truths) = cohort(6);
        let device = Default::default();
        let net = MultiMlpConfig::new()
            .with_interval(16)
            .with_pfe_layers(vec![8])
            .with_fc_layers(vec![8])
            .init::<A>(&device);
        let model = LoadedModel::Mlp(net);
        let all: Vec<usize> = (0..ds.windows.len()).collect();
        // A two-bin normative gait (standing pose relative to the pelvis) is enough to exercise
        // the reference path.
        let norm = NormativeGait {
            version: crate::explain::reference::NORMATIVE_GAIT_VERSION.into(),
            rate_hz: 50.0,
            joints: NUM_JOINTS,
            bins: 2,
            pose_from_pelvis: (0..2 * NUM_JOINTS * 3)
                .map(|i| (i % 7) as f32 * 0.05)
                .collect(),
            counts: vec![1, 1],
        };
        norm.validate(NUM_JOINTS).unwrap();
        let methods = vec![
            ScoredMethod::plain("eps", ExplainMethod::Lrp(LrpRule::Epsilon(0.25))),
            ScoredMethod::plain("zplus", ExplainMethod::Lrp(LrpRule::ZPlus)),
            ScoredMethod {
                name: "eps-normative".into(),
                method: ExplainMethod::Lrp(LrpRule::Epsilon(0.25)),
                reference: Some(&norm),
            },
        ];
        let mut calls = 0;
        let set = TruthSet {
            dataset: &ds,
            windows: &all,
            truths: &truths,
            temperature: None,
        };
        let r = evaluate_against_truth(&model, set, &methods, 7, &device, |d, n| {
            calls += 1;
            assert!(d <= n);
        })
        .unwrap();
        assert_eq!(calls, all.len().div_ceil(7));
        assert_eq!(r.windows, all.len());
        assert_eq!(r.groups.iter().map(|g| g.windows).sum::<usize>(), all.len());
        assert_eq!(r.groups[0].group, "healthy");
        assert_eq!(r.groups.iter().map(|g| g.subjects).sum::<usize>(), 6);
        let correct: usize = r.groups.iter().map(|g| g.correct).sum();
        assert!((r.accuracy - correct as f64 / all.len() as f64).abs() < 1e-12);
        for s in &r.locus {
            assert_eq!(
                s.top_joint_counts.iter().sum::<usize>(),
                s.correct_sick_windows
            );
            assert!(s.top_on_locus_joint <= s.top_on_limb);
            assert!(s.top_on_limb <= s.correct_sick_windows);
            let (n, hits) = s
                .per_group
                .iter()
                .fold((0, 0), |(n, h), g| (n + g.1, h + g.2));
            assert_eq!((n, hits), (s.correct_sick_windows, s.top_on_limb));
        }
        // The same sick windows are counted for every method (one logit per window).
        assert_eq!(
            r.locus[0].correct_sick_windows,
            r.locus[1].correct_sick_windows
        );
        assert_eq!(r.locus[2].method, "eps-normative");
        // Every window's logit is kept; a temperature changes probabilities, not verdicts.
        assert_eq!(r.predictions.len(), all.len());
        let hot = evaluate_against_truth(
            &model,
            TruthSet {
                temperature: Some(4.0),
                ..set
            },
            &methods[..1],
            7,
            &device,
            |_, _| {},
        )
        .unwrap();
        assert_eq!(hot.accuracy, r.accuracy);
        assert_eq!(hot.predictions, r.predictions);
        // The healthy group's mean P(sick) at T = 4.
        let healthy: Vec<f64> = r
            .predictions
            .iter()
            .filter(|(_, sick)| !sick)
            .map(|(l, _)| crate::nn::probability_from_logit(f64::from(*l) / 4.0))
            .collect();
        let mean = healthy.iter().sum::<f64>() / healthy.len() as f64;
        assert!((hot.groups[0].mean_probability - mean).abs() < 1e-9);
        assert_eq!(
            r.locus[0].correct_sick_windows,
            r.locus[2].correct_sick_windows
        );
    }

    #[test]
    fn a_subject_without_ground_truth_is_an_error() {
        let (ds, mut truths) = cohort(2);
        truths.retain(|t| t.subject != ds.sequences[0].subject);
        let device = Default::default();
        let model = LoadedModel::Mlp(MultiMlpConfig::new().with_interval(16).init::<A>(&device));
        let set = TruthSet {
            dataset: &ds,
            windows: &[0],
            truths: &truths,
            temperature: None,
        };
        let err = evaluate_against_truth(
            &model,
            set,
            &[ScoredMethod::plain(
                "eps",
                ExplainMethod::Lrp(LrpRule::default()),
            )],
            4,
            &device,
            |_, _| {},
        )
        .unwrap_err();
        assert!(
            matches!(&err, TruthError::MissingSubject { subject } if *subject == ds.sequences[0].subject),
            "{err}"
        );
    }
}
