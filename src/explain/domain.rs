//! An out-of-domain guard: how unlike a network's training windows a window is.
//!
//! Each window is summarised by the mean and standard deviation over its frames of every joint
//! coordinate of the network's input (the aligned window, before the network's own input steps)
//! and the mean absolute frame-to-frame change of each — where the body is, how far each joint
//! moves and how fast (a run moves the joints as far as a walk, but faster). The training windows' summaries give a
//! mean and a covariance (shrunk towards its diagonal so it is invertible with few windows); a
//! window's score is its Mahalanobis distance, and the threshold is a high percentile of the
//! training windows' own distances. A standing trial (no motion), a joint frozen at an absurd
//! angle or running instead of walking land far outside; the training walks do not.

use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};

/// Version of the summary and distance, stored in the card.
pub const DOMAIN_VERSION: &str = "window-mean-sd-speed-mahalanobis/1";

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
}

/// Mean, SD and mean absolute frame-to-frame change over frames of every coordinate of one
/// window (`frames × joints × 3`, flat).
pub fn window_summary(window: &[f32], joints: usize) -> Vec<f64> {
    let width = joints * 3;
    let frames = (window.len() / width.max(1)).max(1);
    let mut mean = vec![0.0; width];
    let mut sq = vec![0.0; width];
    let mut speed = vec![0.0; width];
    let mut previous: Option<&[f32]> = None;
    for f in window.chunks_exact(width) {
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

impl DomainStats {
    /// Learns the statistics from training windows (each `frames × joints × 3`, flat).
    pub fn from_windows<'a>(
        windows: impl Iterator<Item = &'a [f32]>,
        joints: usize,
    ) -> Result<Self, String> {
        let rows: Vec<Vec<f64>> = windows.map(|w| window_summary(w, joints)).collect();
        let n = rows.len();
        if n < 10 {
            return Err(format!("{n} training windows; need at least 10"));
        }
        let dim = rows[0].len();
        let mean: Vec<f64> = (0..dim)
            .map(|k| rows.iter().map(|r| r[k]).sum::<f64>() / n as f64)
            .collect();
        let mut cov = DMatrix::<f64>::zeros(dim, dim);
        for r in &rows {
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
        let mut stats = Self {
            version: DOMAIN_VERSION.to_owned(),
            mean,
            whitening: l_inv.transpose().as_slice().to_vec(), // column-major of Lᵀ = row-major of L⁻¹
            threshold: 0.0,
            percentile: DOMAIN_PERCENTILE,
            windows: n,
        };
        let mut d: Vec<f64> = rows.iter().map(|r| stats.distance_of_summary(r)).collect();
        d.sort_by(f64::total_cmp);
        let at = ((DOMAIN_PERCENTILE / 100.0) * (n - 1) as f64).round() as usize;
        stats.threshold = d[at.min(n - 1)];
        Ok(stats)
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
        let s = window_summary(window, joints);
        if s.len() != self.mean.len() || self.whitening.len() != s.len() * s.len() {
            return f64::INFINITY;
        }
        self.distance_of_summary(&s)
    }

    /// Checks shapes and finiteness after loading a card.
    pub fn validate(&self, joints: usize) -> Result<(), String> {
        let dim = joints * 9;
        if self.version != DOMAIN_VERSION {
            return Err(format!(
                "unknown domain statistics version '{}'",
                self.version
            ));
        }
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
        let stats = DomainStats::from_windows(train.iter().map(|w| w.as_slice()), 2).unwrap();
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

    #[test]
    fn too_few_windows_and_bad_cards_are_errors() {
        let w = vec![0.0f32; 12];
        assert!(DomainStats::from_windows(std::iter::repeat_n(w.as_slice(), 3), 2).is_err());
        let mut rng = SplitMix64(1);
        let train: Vec<Vec<f32>> = (0..50).map(|_| window(&mut rng, 1.0, 0.0)).collect();
        let mut s = DomainStats::from_windows(train.iter().map(|w| w.as_slice()), 2).unwrap();
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
