//! The pose types shared by the solver and the priors: a frame's pose, a joint-angle limit and
//! the rotation logarithm both are measured with. Kept apart from [`super::solver`] so that
//! [`super::prior`] can use them without importing the solver, which imports the priors.

use nalgebra::{Matrix3, Rotation3, Vector3};

/// Pose of one frame: local joint rotations and root translation.
#[derive(Debug, Clone, PartialEq)]
pub struct PoseState {
    /// Rotation of each joint relative to its parent.
    pub rotations: Vec<Matrix3<f64>>,
    /// Root translation in metres.
    pub translation: Vector3<f64>,
}

impl PoseState {
    /// The rest pose (identity rotations) at a translation.
    pub fn rest(num_joints: usize, translation: Vector3<f64>) -> Self {
        PoseState {
            rotations: vec![Matrix3::identity(); num_joints],
            translation,
        }
    }

    /// Axis-angle vector per joint (`3·J` values), the seed pose-file layout.
    pub fn axis_angle(&self) -> Vec<f64> {
        self.rotations
            .iter()
            .flat_map(|r| {
                let v = log_rotation(r);
                [v.x, v.y, v.z]
            })
            .collect()
    }
}

/// Limit on one axis-angle component of a joint's local rotation (radians), penalised outside
/// `[lower, upper]` by `weight · (θ − bound)²` as the original pipeline does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AngleLimit {
    /// Joint index.
    pub joint: usize,
    /// Component 0, 1 or 2 of the axis-angle vector.
    pub axis: usize,
    /// Lower bound in radians.
    pub lower: f64,
    /// Upper bound in radians.
    pub upper: f64,
}

impl AngleLimit {
    /// How far `pose` puts this limit's angle outside `[lower, upper]` (signed, radians; 0 inside).
    pub(crate) fn violation(&self, pose: &PoseState) -> f64 {
        let th = log_rotation(&pose.rotations[self.joint])[self.axis];
        if th > self.upper {
            th - self.upper
        } else if th < self.lower {
            th - self.lower
        } else {
            0.0
        }
    }
}

/// Axis-angle vector of a rotation matrix (θ ∈ [0, π]).
pub fn log_rotation(r: &Matrix3<f64>) -> Vector3<f64> {
    Rotation3::from_matrix_unchecked(*r).scaled_axis()
}
