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

/// The sagittal row with the largest left − right range difference, which heads a walk's
/// summary because those angles match the lab's own (r ≥ 0.95), and the frontal or transverse
/// row with the largest one, only when it is larger still (to be shown with
/// [`Variable::caveat`]: on the shared walks fitted with skin pelvis markers, FlatFoot's hip
/// rotation differed by 12° where Vicon's angles differ by 0.3°). Ranked by range difference:
/// constant offsets (a thigh marker placed turned) are common in the transverse plane and
/// would otherwise always win.
pub fn widest_ranges(
    rows: &[KinematicSymmetry],
) -> (Option<&KinematicSymmetry>, Option<&KinematicSymmetry>) {
    let widest = |sagittal: bool| {
        rows.iter()
            .filter(|s| (s.plane == "sagittal") == sagittal)
            .max_by(|a, b| {
                a.range_difference_deg
                    .abs()
                    .total_cmp(&b.range_difference_deg.abs())
            })
    };
    let sagittal = widest(true);
    let other = widest(false).filter(|o| {
        sagittal.is_none_or(|s| o.range_difference_deg.abs() > s.range_difference_deg.abs())
    });
    (sagittal, other)
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

    fn row(variable: Variable, range_difference_deg: f64) -> KinematicSymmetry {
        KinematicSymmetry {
            variable,
            plane: variable.plane(),
            left_range_deg: 40.0 + range_difference_deg,
            right_range_deg: 40.0,
            range_difference_deg,
            mean_difference_deg: 0.0,
            shape_rms_deg: 0.0,
        }
    }

    #[test]
    fn the_headline_is_sagittal_and_a_wider_other_plane_comes_apart() {
        let rows = [
            row(Variable::HipFlexion, 2.0),
            row(Variable::AnkleDorsiflexion, -5.9),
            row(Variable::HipRotation, 11.8),
            row(Variable::KneeVarus, 1.0),
        ];
        let (sagittal, other) = widest_ranges(&rows);
        assert_eq!(sagittal.unwrap().variable, Variable::AnkleDorsiflexion);
        assert_eq!(other.unwrap().variable, Variable::HipRotation);
        // A smaller frontal or transverse difference is not shown beside the headline.
        let (sagittal, other) = widest_ranges(&rows[..2]);
        assert_eq!(sagittal.unwrap().variable, Variable::AnkleDorsiflexion);
        assert!(other.is_none());
        let knees = [
            row(Variable::KneeFlexion, 9.0),
            row(Variable::KneeVarus, -4.0),
        ];
        assert!(widest_ranges(&knees).1.is_none());
        // Without sagittal rows the widest other one still shows.
        let (sagittal, other) = widest_ranges(&rows[2..]);
        assert!(sagittal.is_none());
        assert_eq!(other.unwrap().variable, Variable::HipRotation);
    }

    #[test]
    fn sagittal_angles_need_no_caveat_and_skin_pelvis_hips_name_the_rigid_fit() {
        use crate::fit::PelvisMarkers;
        assert!(Variable::KneeFlexion.caveat(None).is_none());
        assert!(
            Variable::PelvisTilt
                .caveat(Some(PelvisMarkers::Skin))
                .is_none()
        );
        for pelvis in [None, Some(PelvisMarkers::Skin)] {
            let c = Variable::HipAdduction.caveat(pelvis).unwrap();
            assert!(c.contains("--pelvis-markers rigid"), "{c}");
        }
        let rigid = Variable::HipAdduction
            .caveat(Some(PelvisMarkers::Rigid))
            .unwrap();
        assert!(!rigid.contains("--pelvis-markers rigid"), "{rigid}");
        // The knee's and foot's planes do not depend on the pelvis markers.
        let foot = Variable::FootProgression
            .caveat(Some(PelvisMarkers::Skin))
            .unwrap();
        assert!(!foot.contains("--pelvis-markers rigid"), "{foot}");
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
