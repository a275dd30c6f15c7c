//! Sagittal joint angles from fitted poses, in Plug-in Gait's sign conventions as far as the body
//! model's segment frames allow (flexion positive; ankle dorsiflexion positive), and the PiG
//! Cardan decomposition every joint angle in gaitlens uses ([`cardan_xzy`]; all three planes and
//! the PiG zeros are in `gait::kinematics`).

use serde::Serialize;

use super::solver::PoseState;
use crate::body::BodyModel;

/// Sagittal angles of one frame in degrees.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct SagittalAngles {
    /// Left hip flexion.
    pub l_hip_flex_deg: f64,
    /// Right hip flexion.
    pub r_hip_flex_deg: f64,
    /// Left knee flexion.
    pub l_knee_flex_deg: f64,
    /// Right knee flexion.
    pub r_knee_flex_deg: f64,
    /// Left ankle dorsiflexion.
    pub l_ankle_dorsi_deg: f64,
    /// Right ankle dorsiflexion.
    pub r_ankle_dorsi_deg: f64,
}

/// Plug-in Gait's Cardan sequence in the body model's axes (x left, y up, z forward):
/// `R = Rx(a)·Rz(b)·Ry(c)` — flexion about the medio-lateral axis first, then ab/adduction about
/// the floating antero-posterior axis, then rotation about the segment's long axis (PiG's Y-X-Z
/// in its own X-forward, Y-left, Z-up axes). Returns `[a, b, c]` in radians.
pub fn cardan_xzy(r: &nalgebra::Matrix3<f64>) -> [f64; 3] {
    let b = (-r[(0, 1)]).clamp(-1.0, 1.0).asin();
    let a = r[(2, 1)].atan2(r[(1, 1)]);
    let c = r[(0, 2)].atan2(r[(0, 0)]);
    [a, b, c]
}

/// Sagittal components of a pose's joint rotations (22-joint SMPL order), to compare two poses
/// of one model. In the model's frame (y up, z forward, x to the left) hip flexion and ankle
/// dorsiflexion are negative x-rotations and knee flexion a positive one. Clinical angles (PiG
/// zeros, the ankle → toe foot axis) are `gait::kinematics`; `fit` and `report` show those.
pub fn sagittal_angles(model: &BodyModel, pose: &PoseState) -> Option<SagittalAngles> {
    let idx = |n: &str| model.joint_names.iter().position(|x| x == n);
    let a = |n: &str| idx(n).map(|j| cardan_xzy(&pose.rotations[j])[0].to_degrees());
    Some(SagittalAngles {
        l_hip_flex_deg: -a("left_hip")?,
        r_hip_flex_deg: -a("right_hip")?,
        l_knee_flex_deg: a("left_knee")?,
        r_knee_flex_deg: a("right_knee")?,
        l_ankle_dorsi_deg: -a("left_ankle")?,
        r_ankle_dorsi_deg: -a("right_ankle")?,
    })
}

/// Pearson correlation and RMSE after removing the mean offset, over pairs where both exist.
pub fn compare(ours: &[f64], reference: &[Option<f64>]) -> Option<(f64, f64, usize)> {
    let pairs: Vec<(f64, f64)> = ours
        .iter()
        .zip(reference)
        .filter_map(|(a, b)| b.map(|b| (*a, b)))
        .filter(|(a, b)| a.is_finite() && b.is_finite())
        .collect();
    if pairs.len() < 3 {
        return None;
    }
    let n = pairs.len() as f64;
    let ma = pairs.iter().map(|p| p.0).sum::<f64>() / n;
    let mb = pairs.iter().map(|p| p.1).sum::<f64>() / n;
    let (mut sab, mut saa, mut sbb, mut sq) = (0.0, 0.0, 0.0, 0.0);
    for (a, b) in &pairs {
        let (da, db) = (a - ma, b - mb);
        sab += da * db;
        saa += da * da;
        sbb += db * db;
        sq += (da - db).powi(2);
    }
    let r = sab / (saa.sqrt() * sbb.sqrt()).max(1e-30);
    Some((r, (sq / n).sqrt(), pairs.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cardan_xzy_inverts_its_composition() {
        use nalgebra::{Rotation3, Vector3};
        let (a, b, c) = (0.7, -0.3, 0.2);
        let r = Rotation3::from_axis_angle(&Vector3::x_axis(), a)
            * Rotation3::from_axis_angle(&Vector3::z_axis(), b)
            * Rotation3::from_axis_angle(&Vector3::y_axis(), c);
        let got = cardan_xzy(r.matrix());
        for (g, w) in got.iter().zip([a, b, c]) {
            assert!((g - w).abs() < 1e-12, "{got:?}");
        }
    }

    #[test]
    fn compare_gives_perfect_correlation_for_offset_copy() {
        let a = [1.0, 2.0, 4.0, 3.0];
        let b = [Some(11.0), Some(12.0), None, Some(13.0)];
        let (r, rmse, n) = compare(&a, &b).unwrap();
        assert!((r - 1.0).abs() < 1e-12 && rmse < 1e-12 && n == 3);
        let c = [Some(3.0), Some(2.0), Some(0.0), Some(1.0)];
        assert!(compare(&a, &c).unwrap().0 < -0.99);
    }
}
