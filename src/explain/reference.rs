//! A normative, gait-phase-matched reference for relevance ("relative to what?").
//!
//! Plain LRP and gradient × input attribute the logit to the input values themselves, that is
//! relative to an all-zero input. For gait that is the wrong question when a pathology *removes*
//! motion (stiff knee, reduced hip flexion): the affected leg moves less, so its input values are
//! smaller and it receives less relevance than the healthy leg it is compared with (measured on
//! the semi-synthetic cohort: the top joint of reduced-hip-flexion windows was the *other* foot in
//! 76–91 % of them). Clinicians read gait against normative curves at the same point of the gait
//! cycle (as the Gait Deviation Index does); this module builds that reference for every window:
//! the window's own pelvis trajectory plus the average healthy pose, relative to the pelvis, at
//! each frame's gait phase. Relevance is then computed for the input's deviation from the
//! reference (DeepLIFT's reference idea, Shrikumar et al. 2017), see
//! [`super::lrp::lrp_mlp`]'s `reference`.
//!
//! The gait phase of a window is estimated from the fore–aft distance of the ankles (left minus
//! right, in the aligned frame whose +x is the walking direction), which oscillates once per gait
//! cycle: a sinusoid is fitted over a grid of plausible cycle durations and its phase read off
//! (0 where the left ankle is furthest ahead of the right, near left initial contact). The
//! phase convention only has to agree between building and using the reference, so mirrored
//! windows (legs swapped) follow automatically.

use serde::{Deserialize, Serialize};

/// Left and right ankle, whose fore–aft distance gives the gait phase.
use crate::body::smpl22::{LEFT_ANKLE, RIGHT_ANKLE};
/// Plausible gait cycle durations in seconds (slow to brisk adult walking and pathological gait).
const CYCLE_RANGE_S: (f64, f64) = (0.7, 2.0);
/// Candidate cycle durations tried between the bounds.
const CYCLE_CANDIDATES: usize = 96;
/// Version tag of the phase estimator and table layout, stored with every table.
pub const NORMATIVE_GAIT_VERSION: &str = "gaitlens-normative-gait/1";

/// What relevance is relative to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Baseline {
    /// The healthy gait at the same gait phase ([`NormativeGait`]) when the network's card has
    /// one, else the zero input.
    #[default]
    Normative,
    /// The zero input: plain LRP, as the original.
    Zero,
}

/// Per-frame gait phase in `[0, 1)` of one aligned window `[interval, joints, 3]` sampled at
/// `rate_hz`; `None` when the ankles do not oscillate (standing, or too few frames).
pub fn gait_phase(window: &[f32], joints: usize, rate_hz: f64) -> Option<Vec<f64>> {
    let width = joints * 3;
    if joints <= RIGHT_ANKLE || window.len() < 4 * width || rate_hz <= 0.0 {
        return None;
    }
    let d: Vec<f64> = window
        .chunks_exact(width)
        .map(|f| f64::from(f[LEFT_ANKLE * 3] - f[RIGHT_ANKLE * 3]))
        .collect();
    let n = d.len();
    let mean = d.iter().sum::<f64>() / n as f64;
    let d: Vec<f64> = d.iter().map(|v| v - mean).collect();
    if d.iter().map(|v| v * v).sum::<f64>() < 1e-12 {
        return None;
    }
    let (lo, hi) = (CYCLE_RANGE_S.0 * rate_hz, CYCLE_RANGE_S.1 * rate_hz);
    let mut best = (0.0f64, 0.0f64, 0.0f64); // (power, ω, φ)
    for k in 0..CYCLE_CANDIDATES {
        // Log-spaced periods in frames.
        let period = lo * (hi / lo).powf(k as f64 / (CYCLE_CANDIDATES - 1) as f64);
        let omega = std::f64::consts::TAU / period;
        let (mut c, mut s, mut cc, mut ss, mut cs) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for (t, v) in d.iter().enumerate() {
            let (sn, cn) = (omega * t as f64).sin_cos();
            c += v * cn;
            s += v * sn;
            cc += cn * cn;
            ss += sn * sn;
            cs += cn * sn;
        }
        // Least-squares fit d ≈ a cos ωt + b sin ωt (windows can be shorter than two cycles, so
        // the two regressors are not orthogonal).
        let det = cc * ss - cs * cs;
        if det.abs() < 1e-9 {
            continue;
        }
        let a = (c * ss - s * cs) / det;
        let b = (s * cc - c * cs) / det;
        let power = a * c + b * s; // explained sum of squares
        if power > best.0 {
            best = (power, omega, b.atan2(a));
        }
    }
    if best.0 <= 0.0 {
        return None;
    }
    let (_, omega, phi) = best;
    Some(
        (0..n)
            .map(|t| ((omega * t as f64 - phi) / std::f64::consts::TAU).rem_euclid(1.0))
            .collect(),
    )
}

/// Average healthy pose relative to the pelvis per gait-phase bin, learnt from aligned training
/// windows; stored in the model card so an explanation needs no training data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NormativeGait {
    /// [`NORMATIVE_GAIT_VERSION`].
    pub version: String,
    /// Frame rate of the windows it was learnt from (phases depend on it).
    pub rate_hz: f64,
    /// Joints per frame.
    pub joints: usize,
    /// Phase bins over one gait cycle.
    pub bins: usize,
    /// Mean pose relative to the pelvis, `[bins, joints, 3]` row-major (aligned coordinates).
    pub pose_from_pelvis: Vec<f32>,
    /// Frames that went into each bin.
    pub counts: Vec<u32>,
}

/// Errors of building a [`NormativeGait`].
#[derive(Debug, thiserror::Error)]
pub enum NormativeError {
    /// Some phase bins received no frame (too few or too uniform windows).
    #[error(
        "{empty} of {bins} gait-phase bins have no frames: the reference needs more healthy windows with a visible gait cycle"
    )]
    EmptyBins {
        /// Bins without frames.
        empty: usize,
        /// All bins.
        bins: usize,
    },
}

impl NormativeGait {
    /// Bins of the default table (≈ 2 % of the gait cycle each, interpolated in between).
    pub const DEFAULT_BINS: usize = 50;

    /// Learns the table from aligned windows `[interval, joints, 3]` (use healthy ones) at
    /// `rate_hz`; windows without a detectable gait cycle are skipped.
    pub fn from_windows<'a>(
        windows: impl IntoIterator<Item = &'a [f32]>,
        joints: usize,
        rate_hz: f64,
        bins: usize,
    ) -> Result<Self, NormativeError> {
        let width = joints * 3;
        let mut sum = vec![0f64; bins * width];
        let mut counts = vec![0u32; bins];
        for w in windows {
            let Some(phase) = gait_phase(w, joints, rate_hz) else {
                continue;
            };
            for (frame, p) in w.chunks_exact(width).zip(phase) {
                let b = ((p * bins as f64) as usize).min(bins - 1);
                counts[b] += 1;
                let row = &mut sum[b * width..(b + 1) * width];
                for (i, v) in frame.iter().enumerate() {
                    row[i] += f64::from(v - frame[i % 3]);
                }
            }
        }
        let empty = counts.iter().filter(|&&c| c == 0).count();
        if empty > 0 {
            return Err(NormativeError::EmptyBins { empty, bins });
        }
        let pose_from_pelvis = sum
            .chunks_exact(width)
            .zip(&counts)
            .flat_map(|(row, &c)| row.iter().map(move |s| (s / f64::from(c)) as f32))
            .collect();
        Ok(Self {
            version: NORMATIVE_GAIT_VERSION.to_string(),
            rate_hz,
            joints,
            bins,
            pose_from_pelvis,
            counts,
        })
    }

    /// Checks the table's shape and values.
    pub fn validate(&self, joints: usize) -> Result<(), String> {
        if self.version != NORMATIVE_GAIT_VERSION {
            return Err(format!(
                "normative gait table version {:?}, this build reads {NORMATIVE_GAIT_VERSION:?}",
                self.version
            ));
        }
        if self.joints != joints
            || self.bins == 0
            || self.pose_from_pelvis.len() != self.bins * joints * 3
        {
            return Err(format!(
                "normative gait table holds {} values for {} bins × {} joints, the network has {joints} joints",
                self.pose_from_pelvis.len(),
                self.bins,
                self.joints
            ));
        }
        if !self.rate_hz.is_finite()
            || self.rate_hz <= 0.0
            || self.pose_from_pelvis.iter().any(|v| !v.is_finite())
        {
            return Err("normative gait table has a non-finite value or rate".into());
        }
        // Aligned joint positions relative to the pelvis are of order 1 (metres or normalised).
        if let Some(v) = self.pose_from_pelvis.iter().find(|v| v.abs() > 100.0) {
            return Err(format!(
                "normative gait table holds {v:e}, out of range for a joint relative to the \
                 pelvis (at most 100)"
            ));
        }
        Ok(())
    }

    /// The pose relative to the pelvis at `phase`, linearly interpolated between bin centres.
    fn pose_at(&self, phase: f64, out: &mut [f32]) {
        let width = self.joints * 3;
        let x = phase * self.bins as f64 - 0.5;
        let lo = x.floor();
        let f = (x - lo) as f32;
        let b0 = (lo as i64).rem_euclid(self.bins as i64) as usize;
        let b1 = (b0 + 1) % self.bins;
        let (r0, r1) = (
            &self.pose_from_pelvis[b0 * width..(b0 + 1) * width],
            &self.pose_from_pelvis[b1 * width..(b1 + 1) * width],
        );
        for ((o, a), b) in out.iter_mut().zip(r0).zip(r1) {
            *o = a + f * (b - a);
        }
    }

    /// The reference of one aligned window `[interval, joints, 3]`: each frame's own pelvis
    /// plus the normative pose at the frame's gait phase. A window without a detectable gait
    /// cycle gets the phase-averaged pose.
    pub fn reference_window(&self, window: &[f32]) -> Vec<f32> {
        let width = self.joints * 3;
        let mut out = vec![0f32; window.len()];
        let phase = gait_phase(window, self.joints, self.rate_hz);
        let mut mean_pose = vec![0f32; width];
        if phase.is_none() {
            for row in self.pose_from_pelvis.chunks_exact(width) {
                for (m, v) in mean_pose.iter_mut().zip(row) {
                    *m += v / self.bins as f32;
                }
            }
        }
        for (t, (frame, o)) in window
            .chunks_exact(width)
            .zip(out.chunks_exact_mut(width))
            .enumerate()
        {
            match &phase {
                Some(p) => self.pose_at(p[t], o),
                None => o.copy_from_slice(&mean_pose),
            }
            for (i, v) in o.iter_mut().enumerate() {
                *v += frame[i % 3];
            }
        }
        out
    }

    /// [`Self::reference_window`] of every window of a flat batch `[n, interval, joints, 3]`.
    pub fn reference_batch(&self, batch: &[f32], interval: usize) -> Vec<f32> {
        let per = interval * self.joints * 3;
        batch
            .chunks_exact(per)
            .flat_map(|w| self.reference_window(w))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const J: usize = 22;

    /// A toy walk: pelvis moving along +x, ankles swinging in antiphase with cycle `period_s`,
    /// every other joint fixed relative to the pelvis; `amp_left` scales the left swing.
    fn walk(frames: usize, rate_hz: f64, period_s: f64, phase0: f64, amp_left: f32) -> Vec<f32> {
        let mut w = vec![0f32; frames * J * 3];
        for t in 0..frames {
            let time = t as f64 / rate_hz;
            let ph = std::f64::consts::TAU * (time / period_s + phase0);
            let pelvis_x = 1.2 * time as f32;
            for j in 0..J {
                let base = (t * J + j) * 3;
                w[base] = pelvis_x + 0.01 * j as f32;
                w[base + 1] = -0.05 * j as f32;
                w[base + 2] = if j % 2 == 0 { 0.1 } else { -0.1 };
            }
            w[(t * J + LEFT_ANKLE) * 3] += amp_left * 0.3 * ph.cos() as f32;
            w[(t * J + RIGHT_ANKLE) * 3] -= 0.3 * ph.cos() as f32;
        }
        w
    }

    #[test]
    fn phase_follows_the_ankle_cycle() {
        let rate = 50.0;
        let w = walk(128, rate, 1.1, 0.2, 1.0);
        let p = gait_phase(&w, J, rate).unwrap();
        // Left ankle furthest ahead where cos = 1: phase 0 at time 1.1·(1 − 0.2) s.
        for (t, &ph) in p.iter().enumerate() {
            let expect = (t as f64 / rate / 1.1 + 0.2).rem_euclid(1.0);
            let err = (ph - expect).abs();
            assert!(err.min(1.0 - err) < 0.02, "frame {t}: {ph} vs {expect}");
        }
        // A window without ankle motion has no phase.
        let standing = vec![0.5f32; 64 * J * 3];
        assert!(gait_phase(&standing, J, rate).is_none());
    }

    #[test]
    fn healthy_reference_reproduces_a_healthy_window_and_exposes_a_reduced_swing() {
        let rate = 50.0;
        let healthy: Vec<Vec<f32>> = (0..20)
            .map(|k| walk(128, rate, 1.0 + 0.01 * k as f64, 0.05 * k as f64, 1.0))
            .collect();
        let norm =
            NormativeGait::from_windows(healthy.iter().map(Vec::as_slice), J, rate, 50).unwrap();
        norm.validate(J).unwrap();
        // A healthy window: reference ≈ the window.
        let w = walk(128, rate, 1.05, 0.33, 1.0);
        let r = norm.reference_window(&w);
        let max_dev = w
            .iter()
            .zip(&r)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(max_dev < 0.03, "healthy deviation {max_dev}");
        // Reduced left swing: the deviation sits on the left ankle, not the right one.
        let sick = walk(128, rate, 1.05, 0.33, 0.4);
        let r = norm.reference_window(&sick);
        let dev = |j: usize| -> f32 {
            (0..128)
                .map(|t| (sick[(t * J + j) * 3] - r[(t * J + j) * 3]).abs())
                .sum()
        };
        assert!(
            dev(LEFT_ANKLE) > 3.0 * dev(RIGHT_ANKLE),
            "left {} right {}",
            dev(LEFT_ANKLE),
            dev(RIGHT_ANKLE)
        );
        // The pelvis is its own reference.
        assert!(dev(0) < 1e-5);
    }

    #[test]
    fn too_few_windows_leave_bins_empty() {
        let w = walk(20, 50.0, 1.0, 0.0, 1.0);
        let err = NormativeGait::from_windows([w.as_slice()], J, 50.0, 50).unwrap_err();
        assert!(err.to_string().contains("bins have no frames"), "{err}");
    }
}
