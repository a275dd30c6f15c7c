//! Rigid (Kabsch) initialisation of the root from the visible markers.

use nalgebra::{Matrix3, Vector3};

use super::solver::{PoseProblem, PoseState};
use crate::body::ShapedBody;

/// Best rotation `r` and translation `t` with `r·a + t ≈ b` in the least-squares sense (Kabsch).
pub fn kabsch(a: &[Vector3<f64>], b: &[Vector3<f64>]) -> Option<(Matrix3<f64>, Vector3<f64>)> {
    if a.len() < 3 || a.len() != b.len() {
        return None;
    }
    let n = a.len() as f64;
    let ca: Vector3<f64> = a.iter().sum::<Vector3<f64>>() / n;
    let cb: Vector3<f64> = b.iter().sum::<Vector3<f64>>() / n;
    let mut h = Matrix3::zeros();
    for (p, q) in a.iter().zip(b) {
        h += (p - ca) * (q - cb).transpose();
    }
    let svd = h.svd(true, true);
    let (u, vt) = (svd.u?, svd.v_t?);
    let mut d = Matrix3::identity();
    if (vt.transpose() * u.transpose()).determinant() < 0.0 {
        d[(2, 2)] = -1.0;
    }
    let r = vt.transpose() * d * u.transpose();
    Some((r, cb - r * ca))
}

/// Moves the root of `pose` rigidly so its model markers best match the observed ones.
pub fn rigid_align_root(
    problem: &PoseProblem<'_>,
    shaped: &ShapedBody,
    pose: &PoseState,
    observed: &[Option<Vector3<f64>>],
) -> PoseState {
    let model = problem.model_markers(pose);
    let (a, b): (Vec<_>, Vec<_>) = model
        .iter()
        .zip(observed)
        .filter_map(|(m, o)| o.map(|o| (*m, o)))
        .unzip();
    let Some((r, t)) = kabsch(&a, &b) else {
        return pose.clone();
    };
    let mut out = pose.clone();
    out.rotations[0] = r * pose.rotations[0];
    // Root joint world position p = j0 + trans must map to r·p + t.
    let j0 = shaped.joints_rest[0];
    let p = j0 + pose.translation;
    out.translation = r * p + t - j0;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kabsch_recovers_a_known_motion() {
        let r = nalgebra::Rotation3::from_euler_angles(0.3, -0.7, 1.2).into_inner();
        let t = Vector3::new(0.5, -1.0, 2.0);
        let a = vec![
            Vector3::new(0.0, 0.0, 0.0),
            Vector3::new(1.0, 0.0, 0.0),
            Vector3::new(0.0, 2.0, 0.0),
            Vector3::new(0.3, 0.1, 0.9),
        ];
        let b: Vec<_> = a.iter().map(|p| r * p + t).collect();
        let (r2, t2) = kabsch(&a, &b).unwrap();
        assert!((r2 - r).norm() < 1e-9);
        assert!((t2 - t).norm() < 1e-9);
        assert!(kabsch(&a[..2], &b[..2]).is_none());
    }
}
