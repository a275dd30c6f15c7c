//! Checks a trained classifier and its explanations against the known ground truth of a
//! semi-synthetic cohort (`gaitlens synth`, `gaitlens synth from-walks`): accuracy per injected
//! pathology; where the most relevant joint of each correctly classified sick window lies (on
//! the injected limb, on the rotated joint itself, in joint-position and in joint-angle space);
//! and how fast the network's logit falls when the most relevant joints are replaced by the
//! normative gait (AOPC, Samek et al. 2017).
//!
//! Every method — the rules and the controls (network-free deviation, random relevance,
//! gradient × input, an untrained and a shuffled-label network) — is scored on the same windows:
//! the evaluated network's correctly classified sick windows. Fractions come with 95 % bootstrap
//! confidence intervals over subjects and with the chance level of a uniformly random top joint.

use std::collections::{BTreeMap, HashMap};

use burn::tensor::backend::AutodiffBackend;
use serde::Serialize;

use super::angle_space::angle_relevance;
use super::{ExplainError, ExplainMethod, NormativeGait, explain_relative};
use crate::dataset::{NUM_JOINTS, WindowDataset};
use crate::nn::{GaitClassifier, LoadedModel, window_tensor};
use crate::rng::SplitMix64;
use crate::synth::{GroundTruth, Pathology};

/// Perturbation steps of the AOPC: the top 1, 2, …, `AOPC_STEPS` joints are replaced.
pub const AOPC_STEPS: usize = 5;
/// Bootstrap resamples (over subjects) behind every confidence interval.
pub const BOOTSTRAP_RESAMPLES: usize = 1000;

/// A fraction with its 95 % bootstrap confidence interval over subjects.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Fraction {
    /// Hits.
    pub hits: usize,
    /// Windows scored.
    pub windows: usize,
    /// `hits / windows` (0 when there are none).
    pub value: f64,
    /// 2.5th and 97.5th percentile of the fraction over subject resamples.
    pub ci95: [f64; 2],
    /// The fraction a uniformly random top joint would reach on the same windows.
    pub chance: f64,
}

/// Where one space's top joints fall, per pathology.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupLocus {
    /// Pathology name (`stiff_knee`, …).
    pub group: String,
    /// Correctly classified sick windows of the group.
    pub windows: usize,
    /// Of those, top joint on the injected limb.
    pub on_limb: usize,
    /// Of those, top joint one of the joints the pathology rotates (its primary joints).
    pub on_joint: usize,
}

/// Where one method's top joints fall, in one space (joint positions or joint rotations).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpaceLocus {
    /// Top joint on the injected limb (hip, knee, ankle, foot of the affected side).
    pub limb: Fraction,
    /// Top joint one of the joints the pathology rotates (the primary joints; joint level).
    pub joint: Fraction,
    /// How often each joint was the top joint, indexed by joint.
    pub top_joint_counts: Vec<usize>,
    /// The same per pathology, in [`crate::synth::TRANSPLANT_PATHOLOGIES`] order (the Fourier
    /// generator's five first).
    pub per_group: Vec<GroupLocus>,
}

/// How one method did on the scored windows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LocusScore {
    /// Method name as given by the caller (`eps-normative`, `control:deviation`, …).
    pub method: String,
    /// Whether this is a control rather than an explanation of the evaluated network.
    pub control: bool,
    /// Windows scored: the evaluated network's correctly classified sick windows.
    pub correct_sick_windows: usize,
    /// Locus in joint-position space (relevance as the network reads it).
    pub position: SpaceLocus,
    /// Locus in joint-angle space ([`super::angle_space`]); `None` without a normative gait or
    /// for attention, which has no per-coordinate relevance.
    pub angle: Option<SpaceLocus>,
    /// Area over the perturbation curve: the mean drop of the evaluated network's logit when the
    /// top 0..=[`AOPC_STEPS`] joints (by this method's position relevance) are replaced by the
    /// normative gait, with its bootstrap interval; `None` without a normative gait.
    pub aopc: Option<Aopc>,
    /// The scored window indices, in order (identical for every method of one evaluation; kept
    /// for tests, not written to reports).
    #[serde(skip)]
    pub scored: Vec<usize>,
}

/// Area over the perturbation curve of one method.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Aopc {
    /// Mean over windows of `Σ_{k=0..=L} (f(x) − f(x_k)) / (L + 1)` in logit units.
    pub value: f64,
    /// 95 % bootstrap interval over subjects.
    pub ci95: [f64; 2],
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
    /// Healthy first, then each pathology present, in [`crate::synth::TRANSPLANT_PATHOLOGIES`] order.
    pub groups: Vec<GroupScore>,
    /// One entry per scored method, in the order given.
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
    /// A method needs the normative gait and the evaluation has none.
    #[error(
        "{method} needs a normative gait (a card written by `gaitlens train`, or `gaitlens normative`)"
    )]
    NeedsNormative {
        /// The method's name.
        method: String,
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
    /// The normative gait behind the angle-space locus, the deviation control and the
    /// perturbation (AOPC); `None` scores joint positions only.
    pub normative: Option<&'a NormativeGait>,
}

/// Where a scored method's relevance comes from.
#[derive(Debug, Clone)]
pub enum Attribution<'a, B: AutodiffBackend> {
    /// An explanation of `model`: the evaluated network, or an untrained or shuffled-label
    /// network of the same architecture (controls).
    Network {
        /// The network explained.
        model: &'a LoadedModel<B>,
        /// The rule or method.
        method: ExplainMethod,
        /// Explain relative to this normative gait instead of the zero input.
        reference: Option<&'a NormativeGait>,
    },
    /// Network-free control: `|x − normative|` per coordinate; in angle space, how far each
    /// joint is rotated away from the normative gait. Needs [`TruthSet::normative`].
    Deviation,
    /// Control: a uniformly random top joint per window (in angle space among the joints whose
    /// rotation moves another joint), seeded by `seed` and the window.
    Random {
        /// Seed of the draws.
        seed: u64,
    },
}

/// One method to score: a rule of the evaluated network or a control.
#[derive(Debug, Clone)]
pub struct ScoredMethod<'a, B: AutodiffBackend> {
    /// Name in the report (`eps-normative`, `control:deviation`, …).
    pub name: String,
    /// Whether the method is a control.
    pub control: bool,
    /// Where its relevance comes from.
    pub attribution: Attribution<'a, B>,
}

impl<'a, B: AutodiffBackend> ScoredMethod<'a, B> {
    /// An explanation of `model` (not a control).
    pub fn network(
        name: impl Into<String>,
        model: &'a LoadedModel<B>,
        method: ExplainMethod,
        reference: Option<&'a NormativeGait>,
    ) -> Self {
        Self {
            name: name.into(),
            control: false,
            attribution: Attribution::Network {
                model,
                method,
                reference,
            },
        }
    }

    /// A control.
    pub fn control(name: impl Into<String>, attribution: Attribution<'a, B>) -> Self {
        Self {
            name: name.into(),
            control: true,
            attribution,
        }
    }
}

/// Joints whose rotation moves at least one other joint (every joint but the leaves): the only
/// possible top joints in angle space.
fn movers() -> Vec<usize> {
    (0..NUM_JOINTS)
        .filter(|&j| crate::body::smpl22::JOINT_PARENTS.contains(&Some(j)))
        .collect()
}

/// One window's relevance per joint, in both spaces.
struct WindowRelevance {
    position: Vec<f32>,
    angle: Option<Vec<f32>>,
}

/// The scored windows of one batch: their aligned data and normative references.
struct ScoredBatch<'d> {
    /// Dataset window indices.
    windows: &'d [usize],
    /// Aligned windows, flat `[n, interval, joints, 3]`.
    data: Vec<f32>,
    /// The normative reference of each, same layout (when the set has a normative gait).
    reference: Option<Vec<f32>>,
    interval: usize,
}

impl ScoredBatch<'_> {
    fn per_window(&self) -> usize {
        self.interval * NUM_JOINTS * 3
    }

    fn window(&self, i: usize) -> &[f32] {
        &self.data[i * self.per_window()..(i + 1) * self.per_window()]
    }

    fn reference_of(&self, i: usize) -> Option<&[f32]> {
        let per = self.per_window();
        self.reference.as_ref().map(|r| &r[i * per..(i + 1) * per])
    }
}

/// The relevance of `method` for every window of `batch`.
fn relevance_of<B: AutodiffBackend>(
    method: &ScoredMethod<'_, B>,
    batch: &ScoredBatch<'_>,
    device: &B::Device,
) -> Result<Vec<WindowRelevance>, TruthError> {
    let n = batch.windows.len();
    match &method.attribution {
        Attribution::Network {
            model,
            method: m,
            reference,
        } => {
            let tensor =
                |flat: Vec<f32>| window_tensor::<B>(flat, n, batch.interval, NUM_JOINTS, device);
            let r = reference.map(|g| tensor(g.reference_batch(&batch.data, batch.interval)));
            let explanations = explain_relative(model, tensor(batch.data.clone()), r, *m)?;
            Ok(explanations
                .iter()
                .enumerate()
                .map(|(i, e)| WindowRelevance {
                    position: e.joint_totals(),
                    angle: batch
                        .reference_of(i)
                        .filter(|_| !e.relevance_xyz.is_empty())
                        .map(|r| {
                            angle_relevance(batch.window(i), r, &e.relevance_xyz).joint_totals()
                        }),
                })
                .collect())
        }
        Attribution::Deviation => (0..n)
            .map(|i| {
                let r = batch
                    .reference_of(i)
                    .ok_or_else(|| TruthError::NeedsNormative {
                        method: method.name.clone(),
                    })?;
                let w = batch.window(i);
                let mut position = vec![0f32; NUM_JOINTS];
                for (k, (a, b)) in w.iter().zip(r).enumerate() {
                    position[(k / 3) % NUM_JOINTS] += (a - b).abs();
                }
                let zero = vec![0f32; w.len()];
                let angle = angle_relevance(w, r, &zero);
                let mut deviation = vec![0f32; NUM_JOINTS];
                for (k, d) in angle.deviation_rad.iter().enumerate() {
                    deviation[k % NUM_JOINTS] += d;
                }
                Ok(WindowRelevance {
                    position,
                    angle: Some(deviation),
                })
            })
            .collect(),
        Attribution::Random { seed } => {
            let movers = movers();
            Ok(batch
                .windows
                .iter()
                .map(|&wi| {
                    let mut g = SplitMix64::stream(*seed, wi as u64, 0x7261_6e64);
                    let position = (0..NUM_JOINTS).map(|_| g.uniform() as f32).collect();
                    let mut angle = vec![0f32; NUM_JOINTS];
                    for &j in &movers {
                        angle[j] = 1.0 + g.uniform() as f32;
                    }
                    WindowRelevance {
                        position,
                        angle: batch.reference.as_ref().map(|_| angle),
                    }
                })
                .collect())
        }
    }
}

/// Index of the largest value (the top joint).
fn argmax(v: &[f32]) -> usize {
    (0..v.len())
        .max_by(|&a, &b| v[a].total_cmp(&v[b]))
        .unwrap_or(0)
}

/// Per-window AOPC of the evaluated network for the joint orders given by `relevance`:
/// replaces the top 1..=[`AOPC_STEPS`] joints (all frames) by the normative reference and
/// averages the logit drops (the unperturbed step counts as a drop of 0).
fn aopc_of<B: AutodiffBackend>(
    network: &LoadedModel<B::InnerBackend>,
    batch: &ScoredBatch<'_>,
    logits: &[f32],
    relevance: &[WindowRelevance],
    device: &B::Device,
) -> Option<Vec<f64>> {
    let reference = batch.reference.as_ref()?;
    let per = batch.per_window();
    let n = batch.windows.len();
    let mut perturbed = Vec::with_capacity(n * AOPC_STEPS * per);
    for (i, rel) in relevance.iter().enumerate() {
        let mut order: Vec<usize> = (0..NUM_JOINTS).collect();
        order.sort_by(|&a, &b| rel.position[b].total_cmp(&rel.position[a]));
        let mut w = batch.window(i).to_vec();
        let r = &reference[i * per..(i + 1) * per];
        for &j in order.iter().take(AOPC_STEPS) {
            for f in 0..batch.interval {
                let k = (f * NUM_JOINTS + j) * 3;
                w[k..k + 3].copy_from_slice(&r[k..k + 3]);
            }
            perturbed.extend_from_slice(&w);
        }
    }
    let x = window_tensor::<B::InnerBackend>(
        perturbed,
        n * AOPC_STEPS,
        batch.interval,
        NUM_JOINTS,
        device,
    );
    let after: Vec<f32> = network.logits(x).into_data().iter::<f32>().collect();
    Some(
        (0..n)
            .map(|i| {
                let drops: f64 = after[i * AOPC_STEPS..(i + 1) * AOPC_STEPS]
                    .iter()
                    .map(|&l| f64::from(logits[i] - l))
                    .sum();
                drops / (AOPC_STEPS + 1) as f64
            })
            .collect(),
    )
}

/// Classifies the windows of `set` with `model` and scores each of `methods` on the correctly
/// classified sick windows, in batches of `batch_size`; `progress(done, total)` is called after
/// each batch. Inference runs on the inner backend (no dropout, deterministic).
pub fn evaluate_against_truth<B: AutodiffBackend>(
    model: &LoadedModel<B>,
    set: TruthSet<'_>,
    methods: &[ScoredMethod<'_, B>],
    batch_size: usize,
    device: &B::Device,
    mut progress: impl FnMut(usize, usize),
) -> Result<TruthReport, TruthError> {
    let ds = set.dataset;
    let truth_of_seq = truth_of_sequences(ds, set.truths)?;
    let interval = ds.config.interval;
    let network = model.inference();
    let mut tally = Tally::new(methods, set.temperature.unwrap_or(1.0));
    let mut done = 0usize;
    for chunk in set.windows.chunks(batch_size.max(1)) {
        let data = ds.batch_data(chunk).map_err(ExplainError::from)?;
        let x = window_tensor::<B::InnerBackend>(
            data.clone(),
            chunk.len(),
            interval,
            NUM_JOINTS,
            device,
        );
        let logits: Vec<f32> = network.logits(x).into_data().iter::<f32>().collect();
        for (&wi, &logit) in chunk.iter().zip(&logits) {
            tally.record_class(ds, wi, truth_of_seq[ds.windows[wi].sequence], logit);
        }
        // The scored windows' data are cut from the batch already aligned, not loaded again.
        let per = interval * NUM_JOINTS * 3;
        let mut scored_data = Vec::new();
        let (scored, scored_logits): (Vec<usize>, Vec<f32>) = chunk
            .iter()
            .zip(&logits)
            .enumerate()
            .filter(|&(_, (&wi, &l))| ds.windows[wi].sick && l > 0.0)
            .map(|(i, (&wi, &l))| {
                scored_data.extend_from_slice(&data[i * per..(i + 1) * per]);
                (wi, l)
            })
            .unzip();
        if !scored.is_empty() {
            let data = scored_data;
            let batch = ScoredBatch {
                windows: &scored,
                reference: set.normative.map(|g| g.reference_batch(&data, interval)),
                data,
                interval,
            };
            for (m, method) in methods.iter().enumerate() {
                let relevance = relevance_of(method, &batch, device)?;
                let aopc = aopc_of::<B>(&network, &batch, &scored_logits, &relevance, device);
                for (i, rel) in relevance.iter().enumerate() {
                    let w = &ds.windows[scored[i]];
                    let truth = truth_of_seq[w.sequence];
                    let a = aopc.as_ref().map(|v| v[i]);
                    tally.record_locus(m, scored[i], w, truth, rel, a);
                }
            }
        }
        done += chunk.len();
        progress(done, set.windows.len());
    }
    Ok(tally.into_report(set.windows.len()))
}

/// The ground truth of each sequence of the dataset, matched by subject and class (a cohort
/// built from real walks has a healthy and a sick subject of the same name: one augmented copy,
/// with and without the pathology); a subject without truth, or whose only truth disagrees
/// with its class folder, is an error.
fn truth_of_sequences<'t>(
    ds: &WindowDataset,
    truths: &'t [GroundTruth],
) -> Result<Vec<&'t GroundTruth>, TruthError> {
    let by_name: HashMap<(&str, bool), &GroundTruth> = truths
        .iter()
        .map(|t| ((t.subject.as_str(), t.sick), t))
        .collect();
    ds.sequences
        .iter()
        .map(|s| {
            if let Some(t) = by_name.get(&(s.subject.as_str(), s.sick)) {
                return Ok(*t);
            }
            match by_name.get(&(s.subject.as_str(), !s.sick)) {
                Some(t) => Err(TruthError::ClassMismatch {
                    subject: s.subject.clone(),
                    truth: t.sick,
                    folder: s.sick,
                }),
                None => Err(TruthError::MissingSubject {
                    subject: s.subject.clone(),
                }),
            }
        })
        .collect()
}

/// Per-subject (windows, limb hits, joint hits) and per-pathology counts of one space.
#[derive(Default)]
struct SpaceTally {
    top_joint_counts: Vec<usize>,
    per_group: HashMap<Pathology, (usize, usize, usize)>,
    per_subject: BTreeMap<usize, (usize, usize, usize)>,
    /// Σ chance of a limb hit, Σ chance of a joint hit.
    chance: (f64, f64),
}

impl SpaceTally {
    /// Counts one window whose top joint is `top`; `candidates` are the joints a top joint can
    /// be in this space (for the chance level).
    fn record(
        &mut self,
        subject: usize,
        truth: &GroundTruth,
        mirrored: bool,
        top: usize,
        candidates: &[usize],
    ) {
        if self.top_joint_counts.is_empty() {
            self.top_joint_counts = vec![0; NUM_JOINTS];
        }
        self.top_joint_counts[top] += 1;
        let limb = truth.limb_in_window(mirrored);
        let joints = truth.joints_in_window(mirrored);
        let (on_limb, on_joint) = (limb.contains(&top), joints.contains(&top));
        let s = self.per_subject.entry(subject).or_default();
        *s = (
            s.0 + 1,
            s.1 + usize::from(on_limb),
            s.2 + usize::from(on_joint),
        );
        if let Some(p) = truth.pathology {
            let g = self.per_group.entry(p).or_default();
            *g = (
                g.0 + 1,
                g.1 + usize::from(on_limb),
                g.2 + usize::from(on_joint),
            );
        }
        let share = |set: &[usize]| {
            set.iter().filter(|j| candidates.contains(j)).count() as f64 / candidates.len() as f64
        };
        self.chance.0 += share(&limb);
        self.chance.1 += share(&joints);
    }

    fn into_locus(self, seed: u64) -> SpaceLocus {
        let subjects: Vec<(usize, usize, usize)> = self.per_subject.values().copied().collect();
        let n: usize = subjects.iter().map(|s| s.0).sum();
        let fraction = |hits: fn(&(usize, usize, usize)) -> usize, chance: f64, stream: u64| {
            let h: usize = subjects.iter().map(hits).sum();
            let pairs: Vec<(f64, f64)> = subjects
                .iter()
                .map(|s| (hits(s) as f64, s.0 as f64))
                .collect();
            Fraction {
                hits: h,
                windows: n,
                value: ratio(h as f64, n as f64),
                ci95: bootstrap_ci(&pairs, seed ^ stream),
                chance: ratio(chance, n as f64),
            }
        };
        SpaceLocus {
            limb: fraction(|s| s.1, self.chance.0, 1),
            joint: fraction(|s| s.2, self.chance.1, 2),
            top_joint_counts: if self.top_joint_counts.is_empty() {
                vec![0; NUM_JOINTS]
            } else {
                self.top_joint_counts
            },
            per_group: crate::synth::TRANSPLANT_PATHOLOGIES
                .iter()
                .filter_map(|&p| {
                    self.per_group.get(&p).map(|&(n, limb, joint)| GroupLocus {
                        group: group_name(Some(p)),
                        windows: n,
                        on_limb: limb,
                        on_joint: joint,
                    })
                })
                .collect(),
        }
    }
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}

/// 95 % percentile interval of `Σ value / Σ weight` over [`BOOTSTRAP_RESAMPLES`] resamples of
/// the subjects (`(value, weight)` per subject) with replacement; `[0, 0]` without subjects.
pub fn bootstrap_ci(per_subject: &[(f64, f64)], seed: u64) -> [f64; 2] {
    if per_subject.is_empty() {
        return [0.0, 0.0];
    }
    let mut g = SplitMix64::stream(seed, per_subject.len() as u64, 0x626f_6f74);
    let k = per_subject.len() as u64;
    let mut stats: Vec<f64> = (0..BOOTSTRAP_RESAMPLES)
        .map(|_| {
            let (v, w) = (0..k).fold((0.0, 0.0), |(v, w), _| {
                let s = per_subject[(g.next_u64() % k) as usize];
                (v + s.0, w + s.1)
            });
            ratio(v, w)
        })
        .collect();
    stats.sort_by(f64::total_cmp);
    let at = |q: f64| stats[((q * (stats.len() - 1) as f64).round() as usize).min(stats.len() - 1)];
    [at(0.025), at(0.975)]
}

/// Running counts of one scored method.
struct MethodTally {
    name: String,
    control: bool,
    scored: Vec<usize>,
    position: SpaceTally,
    angle: Option<SpaceTally>,
    /// Per subject: (windows, Σ AOPC).
    aopc: BTreeMap<usize, (usize, f64)>,
}

/// Running counts of an evaluation: classification per group, the methods' loci.
struct Tally {
    methods: Vec<MethodTally>,
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
    fn new<B: AutodiffBackend>(methods: &[ScoredMethod<'_, B>], temperature: f64) -> Self {
        Tally {
            methods: methods
                .iter()
                .map(|m| MethodTally {
                    name: m.name.clone(),
                    control: m.control,
                    scored: Vec::new(),
                    position: SpaceTally::default(),
                    angle: None,
                    aopc: BTreeMap::new(),
                })
                .collect(),
            groups: HashMap::new(),
            correct_total: 0,
            temperature,
            predictions: Vec::new(),
        }
    }

    /// Counts window `wi`'s classification (from the evaluated network's `logit`) in its group.
    fn record_class(&mut self, ds: &WindowDataset, wi: usize, truth: &GroundTruth, logit: f32) {
        let w = &ds.windows[wi];
        let g = self.groups.entry(truth.pathology).or_default();
        if !g.0.contains(&w.subject) {
            g.0.push(w.subject);
        }
        g.1 += 1;
        if (logit > 0.0) == w.sick {
            g.2 += 1;
            self.correct_total += 1;
        }
        g.3 += crate::nn::probability_from_logit(f64::from(logit) / self.temperature);
        self.predictions.push((logit, w.sick));
    }

    /// Counts where method `m`'s top joints lie for scored window `wi` and its AOPC.
    fn record_locus(
        &mut self,
        m: usize,
        wi: usize,
        w: &crate::dataset::Window,
        truth: &GroundTruth,
        rel: &WindowRelevance,
        aopc: Option<f64>,
    ) {
        let t = &mut self.methods[m];
        t.scored.push(wi);
        let all: Vec<usize> = (0..NUM_JOINTS).collect();
        t.position
            .record(w.subject, truth, w.mirrored, argmax(&rel.position), &all);
        if let Some(angle) = &rel.angle {
            t.angle.get_or_insert_with(SpaceTally::default).record(
                w.subject,
                truth,
                w.mirrored,
                argmax(angle),
                &movers(),
            );
        }
        if let Some(a) = aopc {
            let s = t.aopc.entry(w.subject).or_default();
            *s = (s.0 + 1, s.1 + a);
        }
    }

    /// The report of `windows` evaluated windows.
    fn into_report(self, windows: usize) -> TruthReport {
        let locus = self
            .methods
            .into_iter()
            .enumerate()
            .map(|(m, t)| {
                let seed = 0x6761_6974 ^ m as u64;
                let aopc = (!t.aopc.is_empty()).then(|| {
                    let pairs: Vec<(f64, f64)> =
                        t.aopc.values().map(|&(n, s)| (s, n as f64)).collect();
                    let (s, n) = pairs.iter().fold((0.0, 0.0), |a, p| (a.0 + p.0, a.1 + p.1));
                    Aopc {
                        value: ratio(s, n),
                        ci95: bootstrap_ci(&pairs, seed ^ 3),
                    }
                });
                LocusScore {
                    method: t.name,
                    control: t.control,
                    correct_sick_windows: t.scored.len(),
                    position: t.position.into_locus(seed),
                    angle: t.angle.map(|a| a.into_locus(seed ^ 7)),
                    aopc,
                    scored: t.scored,
                }
            })
            .collect();
        let order = std::iter::once(None).chain(
            crate::synth::TRANSPLANT_PATHOLOGIES
                .iter()
                .copied()
                .map(Some),
        );
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
            accuracy: ratio(self.correct_total as f64, windows as f64),
            groups,
            locus,
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

    fn mlp(device: &burn::backend::ndarray::NdArrayDevice) -> LoadedModel<A> {
        LoadedModel::Mlp(
            MultiMlpConfig::new()
                .with_interval(16)
                .with_pfe_layers(vec![8])
                .with_fc_layers(vec![8])
                .init::<A>(device),
        )
    }

    /// A two-bin normative gait (a fixed pose relative to the pelvis): enough to exercise the
    /// reference paths.
    fn normative() -> NormativeGait {
        let n = NormativeGait {
            version: crate::explain::reference::NORMATIVE_GAIT_VERSION.into(),
            rate_hz: 50.0,
            joints: NUM_JOINTS,
            bins: 2,
            pose_from_pelvis: (0..2 * NUM_JOINTS * 3)
                .map(|i| (i % 7) as f32 * 0.05)
                .collect(),
            counts: vec![1, 1],
        };
        n.validate(NUM_JOINTS).unwrap();
        n
    }

    #[test]
    fn every_method_and_control_is_scored_on_the_networks_correct_sick_windows() {
        let _rng = crate::train::test_rng_lock();
        let (ds, truths) = cohort(8);
        let device = Default::default();
        let all: Vec<usize> = (0..ds.windows.len()).collect();
        let norm = normative();
        // An untrained network that calls some sick windows sick (the first seed that does).
        let calls_some_sick = |m: &LoadedModel<A>| {
            let data = ds.batch_data(&all).unwrap();
            let x = window_tensor::<NdArray>(data, all.len(), 16, NUM_JOINTS, &device);
            let l: Vec<f32> = m.inference().logits(x).into_data().iter::<f32>().collect();
            all.iter()
                .zip(&l)
                .any(|(&i, &l)| ds.windows[i].sick && l > 0.0)
        };
        let model = (0..50)
            .map(|seed| {
                <A as burn::tensor::backend::Backend>::seed(&device, seed);
                mlp(&device)
            })
            .find(calls_some_sick)
            .expect("one of 50 seeds calls a sick window sick");
        let other = mlp(&device);
        let methods = vec![
            ScoredMethod::network(
                "eps",
                &model,
                ExplainMethod::Lrp(LrpRule::Epsilon(0.25)),
                None,
            ),
            ScoredMethod::network("zplus", &model, ExplainMethod::Lrp(LrpRule::ZPlus), None),
            ScoredMethod::network(
                "eps-normative",
                &model,
                ExplainMethod::Lrp(LrpRule::Epsilon(0.25)),
                Some(&norm),
            ),
            ScoredMethod::control("deviation", Attribution::Deviation),
            ScoredMethod::control("random", Attribution::Random { seed: 1 }),
            ScoredMethod::control(
                "gradxinput",
                Attribution::Network {
                    model: &model,
                    method: ExplainMethod::GradientInput,
                    reference: Some(&norm),
                },
            ),
            ScoredMethod::control(
                "untrained",
                Attribution::Network {
                    model: &other,
                    method: ExplainMethod::Lrp(LrpRule::Epsilon(0.25)),
                    reference: Some(&norm),
                },
            ),
        ];
        let mut calls = 0;
        let set = TruthSet {
            dataset: &ds,
            windows: &all,
            truths: &truths,
            temperature: None,
            normative: Some(&norm),
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
        assert_eq!(r.groups.iter().map(|g| g.subjects).sum::<usize>(), 8);
        // The scoring set, worked out independently: sick windows the network calls sick.
        let expected: Vec<usize> = all
            .iter()
            .zip(&r.predictions)
            .filter(|(_, (logit, sick))| *sick && *logit > 0.0)
            .map(|(&i, _)| i)
            .collect();
        assert!(
            !expected.is_empty(),
            "the test needs correctly classified sick windows"
        );
        for s in &r.locus {
            assert_eq!(s.scored, expected, "{}", s.method);
            assert_eq!(s.correct_sick_windows, expected.len());
            let angle = s
                .angle
                .as_ref()
                .expect("a normative gait gives angle space");
            for space in [&s.position, angle] {
                assert_eq!(space.top_joint_counts.iter().sum::<usize>(), expected.len());
                for f in [space.limb, space.joint] {
                    assert_eq!(f.windows, expected.len());
                    assert!(f.hits <= f.windows);
                    assert!(f.ci95[0] <= f.value && f.value <= f.ci95[1], "{f:?}");
                    assert!(f.chance > 0.0 && f.chance < 1.0, "{f:?}");
                }
                let (n, limb) = space
                    .per_group
                    .iter()
                    .fold((0, 0), |(n, h), g| (n + g.windows, h + g.on_limb));
                assert_eq!((n, limb), (expected.len(), space.limb.hits));
            }
            // Leaf joints (feet, head, wrists) move no joint: never the top in angle space.
            for leaf in [10, 11, 15, 20, 21] {
                assert_eq!(angle.top_joint_counts[leaf], 0, "{}", s.method);
            }
            assert!(s.aopc.is_some_and(|a| a.value.is_finite()), "{}", s.method);
        }
        // The same windows mean the same chance level for every method.
        let chance = r.locus[0].position.limb.chance;
        assert!(r.locus.iter().all(|s| s.position.limb.chance == chance));
        assert!(r.locus[3].control && !r.locus[0].control);
        // A temperature changes probabilities, not verdicts or scoring sets.
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
        assert_eq!(hot.locus[0], r.locus[0]);
        let healthy: Vec<f64> = r
            .predictions
            .iter()
            .filter(|(_, sick)| !sick)
            .map(|(l, _)| crate::nn::probability_from_logit(f64::from(*l) / 4.0))
            .collect();
        let mean = healthy.iter().sum::<f64>() / healthy.len() as f64;
        assert!((hot.groups[0].mean_probability - mean).abs() < 1e-9);
    }

    #[test]
    fn without_a_normative_gait_only_positions_are_scored_and_deviation_is_an_error() {
        let (ds, truths) = cohort(4);
        let device = Default::default();
        let model = mlp(&device);
        let all: Vec<usize> = (0..ds.windows.len()).collect();
        let set = TruthSet {
            dataset: &ds,
            windows: &all,
            truths: &truths,
            temperature: None,
            normative: None,
        };
        let eps = [ScoredMethod::network(
            "eps",
            &model,
            ExplainMethod::Lrp(LrpRule::default()),
            None,
        )];
        let r = evaluate_against_truth(&model, set, &eps, 8, &device, |_, _| {}).unwrap();
        assert!(r.locus[0].angle.is_none() && r.locus[0].aopc.is_none());
        let deviation = [ScoredMethod::control("deviation", Attribution::Deviation)];
        match evaluate_against_truth(&model, set, &deviation, 8, &device, |_, _| {}) {
            // An untrained network may call no sick window sick: then nothing is scored.
            Ok(r) => assert_eq!(r.locus[0].correct_sick_windows, 0),
            Err(e) => assert!(matches!(e, TruthError::NeedsNormative { .. }), "{e}"),
        }
    }

    #[test]
    fn bootstrap_intervals_cover_the_value_and_widen_with_spread() {
        let same: Vec<(f64, f64)> = (0..20).map(|_| (3.0, 10.0)).collect();
        assert_eq!(bootstrap_ci(&same, 1), [0.3, 0.3]);
        let spread: Vec<(f64, f64)> = (0..20).map(|i| (f64::from(i % 2) * 10.0, 10.0)).collect();
        let ci = bootstrap_ci(&spread, 1);
        assert!(ci[0] < 0.5 && 0.5 < ci[1] && ci[1] - ci[0] > 0.2, "{ci:?}");
        assert_eq!(bootstrap_ci(&[], 1), [0.0, 0.0]);
    }

    #[test]
    fn replacing_joints_by_an_identical_reference_drops_nothing() {
        let device = Default::default();
        let model = mlp(&device).inference();
        let data: Vec<f32> = (0..2 * 16 * NUM_JOINTS * 3)
            .map(|i| ((i * 13 % 17) as f32) * 0.03)
            .collect();
        let batch = ScoredBatch {
            windows: &[0, 1],
            reference: Some(data.clone()),
            data: data.clone(),
            interval: 16,
        };
        let x = window_tensor::<NdArray>(data, 2, 16, NUM_JOINTS, &device);
        let logits: Vec<f32> = model.logits(x).into_data().iter::<f32>().collect();
        let rel = |seed: usize| WindowRelevance {
            position: (0..NUM_JOINTS).map(|j| ((j + seed) % 5) as f32).collect(),
            angle: None,
        };
        let aopc = aopc_of::<A>(&model, &batch, &logits, &[rel(0), rel(3)], &device).unwrap();
        assert_eq!(aopc, vec![0.0, 0.0]);
    }

    #[test]
    fn a_subject_without_ground_truth_is_an_error() {
        let (ds, mut truths) = cohort(2);
        truths.retain(|t| t.subject != ds.sequences[0].subject);
        let device = Default::default();
        let model = mlp(&device);
        let set = TruthSet {
            dataset: &ds,
            windows: &[0],
            truths: &truths,
            temperature: None,
            normative: None,
        };
        let eps = [ScoredMethod::network(
            "eps",
            &model,
            ExplainMethod::Lrp(LrpRule::default()),
            None,
        )];
        let err = evaluate_against_truth(&model, set, &eps, 4, &device, |_, _| {}).unwrap_err();
        assert!(
            matches!(&err, TruthError::MissingSubject { subject } if *subject == ds.sequences[0].subject),
            "{err}"
        );
    }
}
