//! An out-of-domain guard: how unlike a network's training windows a window is.
//!
//! Each window is summarised by the eight leg angles of [`crate::nn::asymmetry::leg_angles`]
//! (per leg hip flexion, knee flexion, shank–foot angle and hip ab/adduction, measured between
//! body segments of the network's input) over its frames: the mean, standard deviation and mean
//! absolute frame-to-frame change of each — the posture, how far each joint moves and how fast (a
//! run moves the joints as far as a walk, but faster). The training windows' summaries give a
//! mean and a covariance (shrunk towards its diagonal so it is invertible with few windows); a
//! window's score is its Mahalanobis distance, and the threshold is a high percentile of the
//! distances of walkers held out of the statistics ([`ThresholdBasis::HeldOutWalkers`]): the
//! distance a new walker like the training ones has. A standing trial (no motion), a joint frozen
//! at an absurd angle or running instead of walking land far outside; new healthy walkers do not.
//!
//! Cards written before 2026-12-06 summarise every joint coordinate instead
//! ([`Summary::Positions`]) with the threshold at the training windows' own percentile. Measured
//! on the demo network's cohort, that summary is dominated by who walks — body size and marker
//! placement: with walkers held out its threshold rises from 11.7 to 99, past a standing trial
//! (20.5) and a walk with a knee frozen at 150° (81.4), and a run (14.4) lies nearer the training
//! walks than a new healthy adult (18.5). Such cards still load and are read with their own
//! summary.

use burn::tensor::{Tensor, TensorData};
use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};

/// The window summary a card's statistics are learnt on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Summary {
    /// Every joint coordinate's mean, SD and mean absolute change (cards before 2026-12-06).
    Positions,
    /// The eight leg angles' mean, SD and mean absolute change (new cards).
    LegAngles,
}

/// Leg angles in the [`Summary::LegAngles`] summary (four per leg).
const LEG_ANGLES: usize = 8;

/// Windows summarised per tensor batch.
const SUMMARY_BATCH: usize = 256;

impl Summary {
    /// The version string stored in the card.
    pub const fn version(self) -> &'static str {
        match self {
            Self::Positions => "window-mean-sd-speed-mahalanobis/1",
            Self::LegAngles => "leg-angles-mean-sd-speed-mahalanobis/2",
        }
    }

    /// The summary a stored version names (`None`: unknown).
    pub fn from_version(version: &str) -> Option<Self> {
        [Self::Positions, Self::LegAngles]
            .into_iter()
            .find(|s| s.version() == version)
    }

    /// Length of one window's summary.
    pub fn len(self, joints: usize) -> usize {
        match self {
            Self::Positions => joints * 9,
            Self::LegAngles => LEG_ANGLES * 3,
        }
    }

    /// The summaries of equally long windows (each `frames × joints × 3`, flat).
    pub fn of_windows(self, windows: &[&[f32]], joints: usize) -> Result<Vec<Vec<f64>>, String> {
        match self {
            Self::Positions => Ok(windows
                .iter()
                .map(|w| column_summary(w, joints * 3))
                .collect()),
            Self::LegAngles => leg_angle_summaries(windows, joints),
        }
    }
}

/// Version of the summary and distance of new cards.
pub const DOMAIN_VERSION: &str = Summary::LegAngles.version();

/// The [`Summary::LegAngles`] summary of every window, [`SUMMARY_BATCH`] windows per tensor.
fn leg_angle_summaries(windows: &[&[f32]], joints: usize) -> Result<Vec<Vec<f64>>, String> {
    type B = burn::backend::NdArray;
    if joints < 12 {
        return Err(format!(
            "{joints} joints: the leg angles need the 22-joint body"
        ));
    }
    let Some(first) = windows.first() else {
        return Ok(Vec::new());
    };
    let frames = first.len() / (joints * 3);
    if frames < 2 || windows.iter().any(|w| w.len() != frames * joints * 3) {
        return Err("windows of unequal or too short length".into());
    }
    let device = Default::default();
    let mut out = Vec::with_capacity(windows.len());
    for chunk in windows.chunks(SUMMARY_BATCH) {
        let flat: Vec<f32> = chunk.iter().flat_map(|w| w.iter().copied()).collect();
        let x = Tensor::<B, 4>::from_data(
            TensorData::new(flat, [chunk.len(), frames, joints, 3]),
            &device,
        );
        let [left, right] = crate::nn::asymmetry::leg_angles(&x);
        let angles: Vec<f32> = Tensor::cat(vec![left, right], 2)
            .into_data()
            .iter::<f32>()
            .collect();
        out.extend(
            angles
                .chunks_exact(frames * LEG_ANGLES)
                .map(|w| column_summary(w, LEG_ANGLES)),
        );
    }
    Ok(out)
}

/// Percentile of the training windows' distances used as the threshold.
pub const DOMAIN_PERCENTILE: f64 = 99.0;

/// Weight of the diagonal in the shrunk covariance (Ledoit–Wolf style, fixed).
const SHRINKAGE: f64 = 0.2;

/// The training windows' summary statistics, stored in the model card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DomainStats {
    /// [`DOMAIN_VERSION`].
    pub version: String,
    /// Mean summary (joints × 3 means, then joints × 3 SDs, then joints × 3 mean speeds).
    pub mean: Vec<f64>,
    /// Inverse of the lower Cholesky factor of the shrunk covariance, row-major.
    pub whitening: Vec<f64>,
    /// Distance above which a window is outside the training data.
    pub threshold: f64,
    /// The percentile of the training distances the threshold is.
    pub percentile: f64,
    /// Training windows the statistics come from.
    pub windows: usize,
    /// How the threshold was set (absent in older cards: [`ThresholdBasis::TrainingWindows`]).
    #[serde(default, skip_serializing_if = "ThresholdBasis::is_training_windows")]
    pub threshold_basis: ThresholdBasis,
}

/// Mean, SD and mean absolute frame-to-frame change over the frames (rows of `width` values,
/// flat) of every column.
fn column_summary(rows: &[f32], width: usize) -> Vec<f64> {
    let width = width.max(1);
    let frames = (rows.len() / width).max(1);
    let mut mean = vec![0.0; width];
    let mut sq = vec![0.0; width];
    let mut speed = vec![0.0; width];
    let mut previous: Option<&[f32]> = None;
    for f in rows.chunks_exact(width) {
        for (k, &v) in f.iter().enumerate() {
            mean[k] += f64::from(v);
            sq[k] += f64::from(v) * f64::from(v);
            if let Some(p) = previous {
                speed[k] += f64::from(v - p[k]).abs();
            }
        }
        previous = Some(f);
    }
    let steps = frames.saturating_sub(1).max(1) as f64;
    let n = frames as f64;
    let sd: Vec<f64> = mean
        .iter()
        .zip(&sq)
        .map(|(m, s)| (s / n - (m / n).powi(2)).max(0.0).sqrt())
        .collect();
    mean.iter()
        .map(|m| m / n)
        .chain(sd)
        .chain(speed.iter().map(|s| s / steps))
        .collect()
}

/// The largest magnitude a mean or whitening value of [`DomainStats`] may have.
pub const MAX_STATISTIC: f64 = 1e9;

/// How [`DomainStats::threshold`] was set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ThresholdBasis {
    /// The percentile of the training windows' own distances (cards written before
    /// 2026-12-06, and training data without subjects). The statistics have seen these windows,
    /// so a walker who was not in training lies further out than any training walker's windows.
    #[default]
    TrainingWindows,
    /// The percentile of held-out walkers' distances: the walkers (subject groups) are split into
    /// [`THRESHOLD_FOLDS`] folds, and each fold's windows are measured against statistics learnt
    /// without it. That is the distance a new walker like the training ones has.
    HeldOutWalkers,
}

impl ThresholdBasis {
    fn is_training_windows(&self) -> bool {
        *self == Self::TrainingWindows
    }
}

/// Folds of walkers the held-out threshold is cross-fitted over (fewer when there are fewer
/// walkers).
pub const THRESHOLD_FOLDS: usize = 5;

impl DomainStats {
    /// Learns the statistics of `summary` from training windows (each `frames × joints × 3`,
    /// flat). With the walker (subject group) of each window, the threshold is
    /// [`DOMAIN_PERCENTILE`] of held-out walkers' distances ([`ThresholdBasis::HeldOutWalkers`]);
    /// without walkers, with fewer than two, or with folds too small to learn from, it is the
    /// percentile of the training windows' own distances.
    pub fn learn(
        summary: Summary,
        windows: &[&[f32]],
        walkers: Option<&[usize]>,
        joints: usize,
    ) -> Result<Self, String> {
        let rows = summary.of_windows(windows, joints)?;
        if let Some(w) = walkers.filter(|w| w.len() != rows.len()) {
            return Err(format!(
                "{} windows but {} walker labels",
                rows.len(),
                w.len()
            ));
        }
        let mut stats = Self::fit(&rows, summary)?;
        match walkers.and_then(|w| held_out_distances(&rows, w, summary)) {
            Some(d) => {
                stats.threshold = percentile_of(d, DOMAIN_PERCENTILE);
                stats.threshold_basis = ThresholdBasis::HeldOutWalkers;
            }
            None => {
                let d: Vec<f64> = rows.iter().map(|r| stats.distance_of_summary(r)).collect();
                stats.threshold = percentile_of(d, DOMAIN_PERCENTILE);
            }
        }
        Ok(stats)
    }

    /// Mean and whitening of window summaries (threshold still 0).
    fn fit(rows: &[Vec<f64>], summary: Summary) -> Result<Self, String> {
        let n = rows.len();
        if n < 10 {
            return Err(format!("{n} training windows; need at least 10"));
        }
        let dim = rows[0].len();
        let mean: Vec<f64> = (0..dim)
            .map(|k| rows.iter().map(|r| r[k]).sum::<f64>() / n as f64)
            .collect();
        let mut cov = DMatrix::<f64>::zeros(dim, dim);
        for r in rows {
            let d = DVector::from_iterator(dim, r.iter().zip(&mean).map(|(a, m)| a - m));
            cov += &d * d.transpose();
        }
        cov /= (n - 1) as f64;
        let floor = cov.diagonal().mean().max(1e-12) * 1e-3;
        let mut shrunk = cov.scale(1.0 - SHRINKAGE);
        for k in 0..dim {
            shrunk[(k, k)] += SHRINKAGE * cov[(k, k)] + floor;
        }
        let chol = shrunk
            .cholesky()
            .ok_or("the covariance of the training windows is not positive definite")?;
        let l_inv = chol
            .l()
            .try_inverse()
            .ok_or("the covariance of the training windows cannot be inverted")?;
        Ok(Self {
            version: summary.version().to_owned(),
            mean,
            whitening: l_inv.transpose().as_slice().to_vec(), // column-major of Lᵀ = row-major of L⁻¹
            threshold: 0.0,
            percentile: DOMAIN_PERCENTILE,
            windows: n,
            threshold_basis: ThresholdBasis::TrainingWindows,
        })
    }

    fn distance_of_summary(&self, s: &[f64]) -> f64 {
        let dim = self.mean.len();
        let mut total = 0.0;
        for r in 0..dim {
            let row = &self.whitening[r * dim..(r + 1) * dim];
            let z: f64 = (0..=r).map(|k| row[k] * (s[k] - self.mean[k])).sum();
            total += z * z;
        }
        total.sqrt()
    }

    /// Mahalanobis distance of one window (`frames × joints × 3`, flat) from the training windows.
    pub fn distance(&self, window: &[f32], joints: usize) -> f64 {
        let Some(s) = Summary::from_version(&self.version)
            .and_then(|summary| summary.of_windows(&[window], joints).ok())
            .and_then(|mut rows| rows.pop())
        else {
            return f64::INFINITY;
        };
        if s.len() != self.mean.len() || self.whitening.len() != s.len() * s.len() {
            return f64::INFINITY;
        }
        self.distance_of_summary(&s)
    }

    /// One line on what the guard reads and where its threshold lies, for the CLI and the
    /// viewer's model card.
    pub fn describe(&self) -> String {
        let summary = match Summary::from_version(&self.version) {
            Some(Summary::LegAngles) => "leg angles",
            Some(Summary::Positions) => "joint coordinates",
            None => "unknown summary",
        };
        let basis = match self.threshold_basis {
            ThresholdBasis::HeldOutWalkers => "held-out walkers' windows",
            ThresholdBasis::TrainingWindows => "the training windows' own distances",
        };
        format!(
            "out-of-domain guard: {summary}, threshold {:.1} ({:.0}th percentile of {basis}; {} \
             training windows)",
            self.threshold, self.percentile, self.windows
        )
    }

    /// Checks shapes and finiteness after loading a card.
    pub fn validate(&self, joints: usize) -> Result<(), String> {
        let Some(summary) = Summary::from_version(&self.version) else {
            return Err(format!(
                "unknown domain statistics version '{}'",
                self.version
            ));
        };
        let dim = summary.len(joints);
        if self.mean.len() != dim || self.whitening.len() != dim * dim {
            return Err(format!(
                "{} means and {} whitening values for {joints} joints",
                self.mean.len(),
                self.whitening.len()
            ));
        }
        let finite = self
            .mean
            .iter()
            .chain(&self.whitening)
            .all(|v| v.is_finite());
        if !(finite && self.threshold.is_finite() && self.threshold > 0.0) {
            return Err("non-finite statistics or threshold".into());
        }
        // Real statistics stay within ±1e4 (aligned coordinates of order 1, whitening ≈ 1/σ);
        // values near f64's range would make every distance overflow to infinity.
        if let Some(v) = self
            .mean
            .iter()
            .chain(&self.whitening)
            .find(|v| v.abs() > MAX_STATISTIC)
        {
            return Err(format!(
                "a statistic of {v:e} is out of range (at most {MAX_STATISTIC:e} in magnitude)"
            ));
        }
        Ok(())
    }
}

/// The `p`-th percentile (nearest rank) of distances.
fn percentile_of(mut d: Vec<f64>, p: f64) -> f64 {
    d.sort_by(f64::total_cmp);
    let at = ((p / 100.0) * (d.len().saturating_sub(1)) as f64).round() as usize;
    d.get(at.min(d.len().saturating_sub(1)))
        .copied()
        .unwrap_or(f64::INFINITY)
}

/// Every window's distance from statistics learnt without its walker's fold (walkers dealt
/// round-robin, in order of their labels, into up to [`THRESHOLD_FOLDS`] folds); `None` with
/// fewer than two walkers or when a fold leaves too few windows to learn from.
fn held_out_distances(rows: &[Vec<f64>], walkers: &[usize], summary: Summary) -> Option<Vec<f64>> {
    let mut labels: Vec<usize> = walkers.to_vec();
    labels.sort_unstable();
    labels.dedup();
    let folds = THRESHOLD_FOLDS.min(labels.len());
    if folds < 2 {
        return None;
    }
    let fold_of = |w: usize| labels.binary_search(&w).map_or(0, |i| i % folds);
    let mut distances = Vec::with_capacity(rows.len());
    for fold in 0..folds {
        let mut held = Vec::new();
        let mut kept = Vec::new();
        for (r, &w) in rows.iter().zip(walkers) {
            if fold_of(w) == fold {
                held.push(r);
            } else {
                kept.push(r.clone());
            }
        }
        let stats = DomainStats::fit(&kept, summary).ok()?;
        distances.extend(held.iter().map(|r| stats.distance_of_summary(r)));
    }
    Some(distances)
}

/// What the guard says about one window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DomainCheck {
    /// Mahalanobis distance from the training windows.
    pub distance: f64,
    /// The card's threshold.
    pub threshold: f64,
}

impl DomainCheck {
    /// Whether the window lies outside the network's training data.
    pub fn outside(&self) -> bool {
        self.distance.is_nan() || self.distance > self.threshold
    }

    /// A one-line verdict note.
    pub fn note(&self) -> String {
        if self.outside() {
            format!(
                "outside the network's training data (distance {:.1} > {:.1}): verdict not reliable",
                self.distance, self.threshold
            )
        } else {
            format!(
                "like the network's training data (distance {:.1} ≤ {:.1})",
                self.distance, self.threshold
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    /// [`DomainStats::learn`] on the position summary of two-joint windows.
    fn learn_positions(
        windows: &[Vec<f32>],
        walkers: Option<&[usize]>,
    ) -> Result<DomainStats, String> {
        let w: Vec<&[f32]> = windows.iter().map(Vec::as_slice).collect();
        DomainStats::learn(Summary::Positions, &w, walkers, 2)
    }

    fn window(rng: &mut SplitMix64, amp: f32, offset: f32) -> Vec<f32> {
        let (frames, joints) = (20, 2);
        let phase = rng.uniform() as f32 * 6.0;
        let a = amp * (1.0 + 0.1 * rng.normal() as f32);
        (0..frames)
            .flat_map(|f| {
                (0..joints * 3).map(move |k| {
                    offset + k as f32 * 0.1 + a * ((f as f32 * 0.3 + phase + k as f32).sin())
                })
            })
            .collect()
    }

    #[test]
    fn training_like_windows_pass_and_still_or_displaced_ones_do_not() {
        let mut rng = SplitMix64(5);
        let train: Vec<Vec<f32>> = (0..300).map(|_| window(&mut rng, 1.0, 0.0)).collect();
        let stats = learn_positions(&train, None).unwrap();
        stats.validate(2).unwrap();
        let inside = (0..100)
            .filter(|_| stats.distance(&window(&mut rng, 1.0, 0.0), 2) <= stats.threshold)
            .count();
        assert!(
            inside >= 90,
            "{inside}/100 fresh training-like windows inside"
        );
        let still = window(&mut rng, 0.0, 0.0);
        assert!(stats.distance(&still, 2) > 2.0 * stats.threshold);
        let moved = window(&mut rng, 1.0, 3.0);
        assert!(stats.distance(&moved, 2) > 2.0 * stats.threshold);
        let check = DomainCheck {
            distance: stats.distance(&still, 2),
            threshold: stats.threshold,
        };
        assert!(check.outside() && check.note().contains("not reliable"));
    }

    /// A window of a walker whose joints sit `offsets` (one per coordinate) from everyone's.
    fn walker_window(rng: &mut SplitMix64, offsets: &[f32]) -> Vec<f32> {
        let w = window(rng, 1.0, 0.0);
        w.iter()
            .enumerate()
            .map(|(i, v)| v + offsets[i % offsets.len()])
            .collect()
    }

    #[test]
    fn a_threshold_set_on_held_out_walkers_admits_new_walkers_and_still_flags_standing() {
        let mut rng = SplitMix64(9);
        let offsets = |rng: &mut SplitMix64| -> Vec<f32> {
            (0..6).map(|_| 0.3 * rng.normal() as f32).collect()
        };
        // Twelve walkers of 40 windows each: every walker has joints placed its own way.
        let (mut windows, mut walkers) = (Vec::new(), Vec::new());
        for walker in 0..12 {
            let o = offsets(&mut rng);
            for _ in 0..40 {
                windows.push(walker_window(&mut rng, &o));
                walkers.push(walker);
            }
        }
        let own = learn_positions(&windows, None).unwrap();
        let held = learn_positions(&windows, Some(&walkers)).unwrap();
        assert_eq!(own.threshold_basis, ThresholdBasis::TrainingWindows);
        assert_eq!(held.threshold_basis, ThresholdBasis::HeldOutWalkers);
        // The same statistics; only the threshold differs.
        assert_eq!((&own.mean, &own.whitening), (&held.mean, &held.whitening));
        // Twenty new walkers of the same population, five windows each.
        let new: Vec<Vec<f32>> = (0..20)
            .flat_map(|_| {
                let o = offsets(&mut rng);
                (0..5)
                    .map(|_| walker_window(&mut rng, &o))
                    .collect::<Vec<_>>()
            })
            .collect();
        let inside = |s: &DomainStats| {
            new.iter()
                .filter(|w| s.distance(w, 2) <= s.threshold)
                .count()
        };
        let (own_in, held_in) = (inside(&own), inside(&held));
        assert!(
            held_in >= 85 && held_in > own_in,
            "new walkers' windows inside: {held_in}/100 held-out threshold, {own_in}/100 own"
        );
        let still = window(&mut rng, 0.0, 0.0);
        assert!(held.distance(&still, 2) > held.threshold);
        // One walker: nothing to hold out, so the training windows' own percentile.
        let one = learn_positions(&windows[..40], Some(&walkers[..40])).unwrap();
        assert_eq!(one.threshold_basis, ThresholdBasis::TrainingWindows);
        assert!(learn_positions(&windows, Some(&walkers[1..])).is_err());
    }

    /// 100-frame windows (stride 10) of a stick walker ([`crate::nn::asymmetry::tests::walker`])
    /// sampled every `step` frames (2 = twice as fast).
    fn stick_windows(knee_gain: f32, crouch_rad: f32, step: usize) -> Vec<Vec<f32>> {
        let width = 22 * 3;
        let long = crate::nn::asymmetry::tests::walker(300 * step, knee_gain, crouch_rad);
        let frames: Vec<&[f32]> = long.chunks_exact(width).step_by(step).collect();
        (0..=frames.len() - 100)
            .step_by(10)
            .map(|s| frames[s..s + 100].concat())
            .collect()
    }

    #[test]
    fn the_leg_angle_summary_admits_new_walkers_and_flags_standing_a_frozen_knee_and_running() {
        let mut rng = SplitMix64(3);
        let walker = |rng: &mut SplitMix64| {
            let gain = 1.0 + 0.1 * rng.normal() as f32;
            let crouch = 0.05 * rng.normal().abs() as f32;
            (gain, crouch)
        };
        let (mut windows, mut walkers) = (Vec::new(), Vec::new());
        for id in 0..12 {
            let (gain, crouch) = walker(&mut rng);
            for w in stick_windows(gain, crouch, 1) {
                windows.push(w);
                walkers.push(id);
            }
        }
        let w: Vec<&[f32]> = windows.iter().map(Vec::as_slice).collect();
        let stats = DomainStats::learn(Summary::LegAngles, &w, Some(&walkers), 22).unwrap();
        stats.validate(22).unwrap();
        assert_eq!(stats.threshold_basis, ThresholdBasis::HeldOutWalkers);
        assert_eq!(stats.version, DOMAIN_VERSION);
        let line = stats.describe();
        assert!(
            line.contains("leg angles, threshold") && line.contains("held-out walkers"),
            "{line}"
        );
        let share_inside = |ws: &[Vec<f32>]| {
            ws.iter()
                .filter(|w| stats.distance(w, 22) <= stats.threshold)
                .count() as f64
                / ws.len() as f64
        };
        let new: Vec<Vec<f32>> = (0..10)
            .flat_map(|_| {
                let (gain, crouch) = walker(&mut rng);
                stick_windows(gain, crouch, 1)
            })
            .collect();
        assert!(share_inside(&new) >= 0.85, "{}", share_inside(&new));
        let standing: Vec<f32> = (0..100).flat_map(|_| windows[0][..66].to_vec()).collect();
        assert_eq!(share_inside(&[standing]), 0.0);
        assert_eq!(
            share_inside(&stick_windows(1.0, 2.6, 1)),
            0.0,
            "frozen knee"
        );
        assert_eq!(
            share_inside(&stick_windows(1.0, 0.0, 2)),
            0.0,
            "twice as fast"
        );
        // A card of the earlier kind is read with its own summary; an unknown one is refused.
        let positions = DomainStats::learn(Summary::Positions, &w, None, 22).unwrap();
        positions.validate(22).unwrap();
        assert_eq!(positions.version, "window-mean-sd-speed-mahalanobis/1");
        assert!(positions.distance(&windows[0], 22).is_finite());
        let mut unknown = stats.clone();
        unknown.version = "something/9".into();
        assert!(unknown.validate(22).unwrap_err().contains("unknown"));
        assert!(unknown.distance(&windows[0], 22).is_infinite());
    }

    #[test]
    fn too_few_windows_and_bad_cards_are_errors() {
        let w = vec![0.0f32; 12];
        assert!(learn_positions(&[w.clone(), w.clone(), w], None).is_err());
        let mut rng = SplitMix64(1);
        let train: Vec<Vec<f32>> = (0..50).map(|_| window(&mut rng, 1.0, 0.0)).collect();
        let mut s = learn_positions(&train, None).unwrap();
        assert!(s.validate(3).is_err());
        // A finite but absurd whitening value (found by the mutation replay) would make every
        // distance infinite: refused.
        let mut huge = s.clone();
        huge.whitening[5] = -1e308;
        assert!(huge.validate(2).unwrap_err().contains("out of range"));
        s.threshold = f64::NAN;
        assert!(s.validate(2).is_err());
    }
}
