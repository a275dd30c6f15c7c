//! Left/right symmetry of the joint-angle curves: how much one leg's mean cycle differs from the
//! other's, in degrees, so a clinician sees at a glance which joint of a walk is asymmetric and by
//! how much — the cue a unilateral pathology leaves and the one a classifier may read.
//!
//! Each side's mean curve starts at that side's own foot strike (cycle-normalised), so the
//! difference of the two curves at the same cycle percentage compares the same phase of gait.
//! Pelvic angles are left out: one pelvis per trial, its right-side curves are mirror images.

use std::collections::BTreeMap;

use serde::Serialize;

use super::cycles::Side;
use super::kinematics::Variable;

/// Left against right of one variable's mean cycle curves, degrees.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KinematicSymmetry {
    /// The joint angle.
    pub variable: Variable,
    /// Anatomical plane.
    pub plane: &'static str,
    /// Range (max − min) of the left mean curve over the cycle.
    pub left_range_deg: f64,
    /// Range of the right mean curve.
    pub right_range_deg: f64,
    /// Left range − right range (a stiff or weak joint moves less).
    pub range_difference_deg: f64,
    /// Mean of left − right over the cycle (a constant offset, e.g. one ankle held in equinus).
    pub mean_difference_deg: f64,
    /// RMS over the cycle of left − right after removing that mean (a changed shape or timing).
    pub shape_rms_deg: f64,
}

/// Symmetry of every variable with a finite mean curve on both sides (`mean_curves`: per side
/// and variable, the mean over cycles sampled at the same percentages on both sides).
pub fn kinematic_symmetry(
    mean_curves: &BTreeMap<(Side, Variable), Vec<f64>>,
) -> Vec<KinematicSymmetry> {
    // The Gait Profile Score's variables without the pelvis (one per trial).
    Variable::GPS
        .iter()
        .filter(|v| !v.is_pelvis())
        .filter_map(|&v| {
            let left = mean_curves.get(&(Side::Left, v))?;
            let right = mean_curves.get(&(Side::Right, v))?;
            compare_sides(v, left, right)
        })
        .collect()
}

fn compare_sides(variable: Variable, left: &[f64], right: &[f64]) -> Option<KinematicSymmetry> {
    let finite = |c: &[f64]| !c.is_empty() && c.iter().all(|x| x.is_finite());
    if left.len() != right.len() || !finite(left) || !finite(right) {
        return None;
    }
    let range = |c: &[f64]| {
        c.iter().copied().fold(f64::MIN, f64::max) - c.iter().copied().fold(f64::MAX, f64::min)
    };
    let diff: Vec<f64> = left.iter().zip(right).map(|(l, r)| l - r).collect();
    let mean = diff.iter().sum::<f64>() / diff.len() as f64;
    let shape = (diff.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / diff.len() as f64).sqrt();
    let (left_range_deg, right_range_deg) = (range(left), range(right));
    Some(KinematicSymmetry {
        variable,
        plane: variable.plane(),
        left_range_deg,
        right_range_deg,
        range_difference_deg: left_range_deg - right_range_deg,
        mean_difference_deg: mean,
        shape_rms_deg: shape,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curves(left: Vec<f64>, right: Vec<f64>) -> BTreeMap<(Side, Variable), Vec<f64>> {
        BTreeMap::from([
            ((Side::Left, Variable::KneeFlexion), left),
            ((Side::Right, Variable::KneeFlexion), right),
        ])
    }

    fn knee(pct_scale: f64, offset: f64) -> Vec<f64> {
        (0..101)
            .map(|k| {
                offset + pct_scale * 30.0 * (1.0 - (k as f64 / 100.0 * std::f64::consts::TAU).cos())
            })
            .collect()
    }

    #[test]
    fn identical_sides_are_symmetric() {
        let s = kinematic_symmetry(&curves(knee(1.0, 5.0), knee(1.0, 5.0)));
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].variable, Variable::KneeFlexion);
        assert!((s[0].left_range_deg - 60.0).abs() < 1e-9);
        assert!(s[0].range_difference_deg.abs() < 1e-9);
        assert!(s[0].mean_difference_deg.abs() < 1e-9);
        assert!(s[0].shape_rms_deg.abs() < 1e-9);
    }

    #[test]
    fn an_offset_and_a_stiff_side_are_told_apart() {
        // Left held 10° more flexed: a pure offset, no change of shape.
        let s = &kinematic_symmetry(&curves(knee(1.0, 15.0), knee(1.0, 5.0)))[0];
        assert!((s.mean_difference_deg - 10.0).abs() < 1e-9);
        assert!(s.shape_rms_deg.abs() < 1e-9 && s.range_difference_deg.abs() < 1e-9);
        // Left moving through half the range: range and shape differ.
        let s = &kinematic_symmetry(&curves(knee(0.5, 5.0), knee(1.0, 5.0)))[0];
        assert!((s.range_difference_deg + 30.0).abs() < 1e-9);
        assert!(s.shape_rms_deg > 5.0);
    }

    #[test]
    fn a_side_without_a_finite_curve_is_left_out() {
        let mut right = knee(1.0, 5.0);
        right[40] = f64::NAN;
        assert!(kinematic_symmetry(&curves(knee(1.0, 5.0), right)).is_empty());
        let only_left = BTreeMap::from([((Side::Left, Variable::KneeFlexion), knee(1.0, 0.0))]);
        assert!(kinematic_symmetry(&only_left).is_empty());
    }
}
