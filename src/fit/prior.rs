//! What the markers leave free: the neutral pose unmeasured joints are held at, the per-joint pull
//! toward it, and the documented physiological range of every joint of the 22-joint skeleton.
//!
//! Many rotation combinations reproduce a marker set equally well (neck against head, three spine
//! joints against each other, a wrist against an elbow twist), and a lower-body marker set says
//! nothing about the trunk and arms at all. Marker error alone cannot choose; anatomy can. Joints
//! no marker rides on are held at the neutral pose (upright trunk, head over the trunk, arms
//! relaxed at the sides, following the pelvis through the kinematic chain); measured joints get a
//! weak pull toward it, too weak to move a joint the markers determine (a 10° head rotation costs
//! the prior what one marker 3 mm off costs) but enough to pick the anatomical solution where the
//! markers cannot, and every joint stays inside its range.

use nalgebra::{Matrix3, Rotation3, Vector3};

use super::pose::{AngleLimit, PoseState, log_rotation};
use super::skinned_markers::SkinnedMarker;
use crate::body::BodyModel;

/// Range of one joint in the axis-angle components of its local rotation (radians), in the
/// SMPL rest frame: x to the body's left, y up, z forward.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JointRange {
    /// Joint name suffix it applies to (`"knee"` matches `left_knee` and `right_knee`).
    pub joint: &'static str,
    /// `[lower, upper]` of the x component (sagittal for legs and trunk: flexion/extension).
    pub x: [f64; 2],
    /// `[lower, upper]` of the y component (long-axis rotation for legs and trunk).
    pub y: [f64; 2],
    /// `[lower, upper]` of the z component (frontal for legs and trunk: ab/adduction, bending).
    pub z: [f64; 2],
    /// Mirror the range for the right side (negate and swap the y and z bounds).
    pub mirrored: bool,
}

/// Physiological joint ranges of the 22-joint skeleton, written for the left side (right mirrored).
///
/// Sources: normal ranges of motion (AAOS; Soucie et al. 2011) widened by ~10° so measured gait is
/// never clipped; the trunk and neck are split over their SMPL joints. Signs follow the SMPL frame:
/// hip flexion is −x, knee flexion +x, ankle plantarflexion +x, forward trunk flexion +x, left
/// elbow flexion −y (T-pose, palms down). Components of an axis-angle vector only approximate
/// Cardan angles; at these magnitudes the difference is a few degrees.
pub const JOINT_RANGES: [JointRange; 13] = [
    JointRange {
        joint: "hip",
        x: [-2.2, 0.6],
        y: [-0.8, 0.8],
        z: [-0.6, 0.9],
        mirrored: true,
    },
    JointRange {
        joint: "knee",
        x: [-0.1, 2.6],
        y: [-0.35, 0.35],
        z: [-0.2, 0.2],
        mirrored: true,
    },
    JointRange {
        joint: "ankle",
        x: [-0.7, 1.0],
        y: [-0.6, 0.6],
        z: [-0.6, 0.6],
        mirrored: true,
    },
    JointRange {
        joint: "foot",
        x: [-1.0, 0.6],
        y: [-0.3, 0.3],
        z: [-0.3, 0.3],
        mirrored: true,
    },
    JointRange {
        joint: "spine1",
        x: [-0.3, 0.45],
        y: [-0.3, 0.3],
        z: [-0.25, 0.25],
        mirrored: false,
    },
    JointRange {
        joint: "spine2",
        x: [-0.3, 0.45],
        y: [-0.3, 0.3],
        z: [-0.25, 0.25],
        mirrored: false,
    },
    JointRange {
        joint: "spine3",
        x: [-0.3, 0.45],
        y: [-0.3, 0.3],
        z: [-0.25, 0.25],
        mirrored: false,
    },
    JointRange {
        joint: "neck",
        x: [-0.45, 0.5],
        y: [-0.45, 0.45],
        z: [-0.35, 0.35],
        mirrored: false,
    },
    JointRange {
        joint: "head",
        x: [-0.45, 0.5],
        y: [-0.45, 0.45],
        z: [-0.35, 0.35],
        mirrored: false,
    },
    JointRange {
        joint: "collar",
        x: [-0.35, 0.35],
        y: [-0.35, 0.35],
        z: [-0.35, 0.35],
        mirrored: true,
    },
    JointRange {
        joint: "shoulder",
        x: [-1.7, 1.7],
        y: [-1.7, 1.7],
        z: [-1.8, 1.8],
        mirrored: true,
    },
    JointRange {
        joint: "elbow",
        x: [-1.7, 1.7],
        y: [-2.7, 0.15],
        z: [-0.35, 0.35],
        mirrored: true,
    },
    JointRange {
        joint: "wrist",
        x: [-1.0, 1.0],
        y: [-0.7, 0.7],
        z: [-1.3, 1.3],
        mirrored: true,
    },
];

/// The documented range of a joint by name, mirrored for `right_*` joints.
pub fn joint_range(name: &str) -> Option<[[f64; 2]; 3]> {
    let r = JOINT_RANGES.iter().find(|r| {
        name == r.joint
            || name.strip_prefix("left_") == Some(r.joint)
            || name.strip_prefix("right_") == Some(r.joint)
    })?;
    let right = r.mirrored && name.starts_with("right_");
    let flip = |b: [f64; 2]| if right { [-b[1], -b[0]] } else { b };
    Some([r.x, flip(r.y), flip(r.z)])
}

/// Range limits for every joint of `model` that [`JOINT_RANGES`] names.
pub fn range_limits(model: &BodyModel) -> Vec<AngleLimit> {
    let mut limits = Vec::new();
    for (joint, name) in model.joint_names.iter().enumerate() {
        if let Some(axes) = joint_range(name) {
            for (axis, [lower, upper]) in axes.into_iter().enumerate() {
                limits.push(AngleLimit {
                    joint,
                    axis,
                    lower,
                    upper,
                });
            }
        }
    }
    limits
}

/// Joints of a pose outside their documented range, with the worst excess in degrees.
pub fn out_of_range(model: &BodyModel, pose: &PoseState) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    for (j, name) in model.joint_names.iter().enumerate() {
        let Some(axes) = joint_range(name) else {
            continue;
        };
        let v = log_rotation(&pose.rotations[j]);
        let excess = (0..3)
            .map(|a| (axes[a][0] - v[a]).max(v[a] - axes[a][1]).max(0.0))
            .fold(0.0, f64::max);
        // A tolerance of 2° for what the soft limit lets through.
        if excess > 2f64.to_radians() {
            out.push((name.clone(), excess.to_degrees()));
        }
    }
    out
}

/// Angle of a joint's local rotation from rest, degrees.
pub fn angle_from_rest_deg(r: &Matrix3<f64>) -> f64 {
    log_rotation(r).norm().to_degrees()
}

/// Downward tilt of the relaxed arm from the vertical, outward, radians (arms hang slightly
/// away from the thighs).
const ARM_ABDUCTION_RAD: f64 = 0.2;

/// The neutral standing pose: every joint at rest except the shoulders, which turn the rest
/// pose's arms (T- or A-pose) down to hang at the sides. Joints no marker measures are held here.
pub fn neutral_pose(model: &BodyModel) -> PoseState {
    let mut pose = PoseState::rest(model.num_joints(), Vector3::zeros());
    for (j, name) in model.joint_names.iter().enumerate() {
        if !name.ends_with("shoulder") {
            continue;
        }
        let Some(child) = (0..model.num_joints()).find(|&c| model.parents[c] == Some(j)) else {
            continue;
        };
        let from = Vector3::from(model.j_template[child]) - Vector3::from(model.j_template[j]);
        if from.norm() < 1e-9 {
            continue;
        }
        let side = from.x.signum();
        let to = Vector3::new(
            side * ARM_ABDUCTION_RAD.sin(),
            -ARM_ABDUCTION_RAD.cos(),
            0.0,
        );
        if let Some(r) = Rotation3::rotation_between(&from.normalize(), &to) {
            pose.rotations[j] = r.into_inner();
        }
    }
    pose
}

/// Shortest lever (distance from the joint centre on the rest body) at which a marker measures a
/// joint's rotation.
///
/// A marker next to the centre says where the joint is, not how it is turned: the acromion marker
/// (LSHO, 6 cm from the SMPL shoulder joint on the default body) rode on the upper arm, and with
/// no elbow marker the solver swung the whole arm out 45° to fit its few millimetres. Every other
/// Plug-in Gait marker measures its joints from ≥ 7 cm (heel → ankle 7 cm, forearm → elbow 13 cm,
/// head markers → head 13 cm).
pub const MIN_LEVER_M: f64 = 0.065;

/// Vertical extent of the rest joints (foot to head) of a 1.70 m adult of the default body, the
/// size at which [`MIN_LEVER_M`] applies; smaller bodies get a proportionally shorter lever.
pub const ADULT_JOINT_SPAN_M: f64 = 1.48;

/// [`MIN_LEVER_M`] scaled to a body's size (its rest joints' vertical extent): a child's heel
/// sits as close to its ankle, relative to its size, as an adult's.
pub fn min_lever_m(joints_rest: &[Vector3<f64>]) -> f64 {
    let (lo, hi) = joints_rest
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), j| {
            (lo.min(j.y), hi.max(j.y))
        });
    let span = if hi > lo { hi - lo } else { ADULT_JOINT_SPAN_M };
    MIN_LEVER_M * (span / ADULT_JOINT_SPAN_M).min(1.0)
}

/// Which joints the markers measure: a joint is measured when at least one marker rides mostly
/// (≥ half of its skinning weight) on the part of the body that joint moves (the joint's own
/// segment or any segment below it) at least [`min_lever_m`] from the joint's centre
/// (`joints_rest`, the shaped rest joints). Unmeasured joints are held at the neutral pose.
pub fn measured_joints(
    model: &BodyModel,
    joints_rest: &[Vector3<f64>],
    markers: &[SkinnedMarker],
) -> Vec<bool> {
    let nj = model.num_joints();
    let min_lever = min_lever_m(joints_rest);
    let in_subtree = |mut j: usize, root: usize| loop {
        if j == root {
            return true;
        }
        match model.parents[j] {
            Some(p) => j = p,
            None => return false,
        }
    };
    (0..nj)
        .map(|k| {
            model.parents[k].is_none() && !markers.is_empty()
                || markers.iter().any(|m| {
                    let w: f64 = m
                        .weights
                        .iter()
                        .filter(|&&(j, _)| in_subtree(j, k))
                        .map(|&(_, w)| w)
                        .sum();
                    let lever_m = joints_rest
                        .get(k)
                        .map_or(f64::INFINITY, |c| (m.rest_m - c).norm());
                    w >= 0.5 && lever_m >= min_lever
                })
        })
        .collect()
}

/// Is a joint part of the legs (hips down)? Legs are measured well by every gait marker set and
/// get a lighter pull toward neutral than trunk and arms.
pub fn is_leg_joint(name: &str) -> bool {
    ["hip", "knee", "ankle", "foot"]
        .iter()
        .any(|s| name.ends_with(s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::default_model::default_body;

    #[test]
    fn every_default_joint_but_the_pelvis_has_a_range_and_right_mirrors_left() {
        let model = default_body();
        for name in &model.joint_names {
            assert_eq!(
                joint_range(name).is_some(),
                name != "pelvis",
                "range of {name}"
            );
        }
        let l = joint_range("left_elbow").unwrap();
        let r = joint_range("right_elbow").unwrap();
        assert_eq!(l[0], r[0]);
        assert_eq!(l[1], [-r[1][1], -r[1][0]]);
    }

    #[test]
    fn the_neutral_pose_hangs_the_arms_down_and_is_inside_every_range() {
        let model = default_body();
        let neutral = neutral_pose(model);
        let shaped = model.shape(&vec![0.0; model.num_betas]);
        let t = model.joint_transforms(&shaped.joints_rest, &neutral.rotations, Vector3::zeros());
        let pos = |name: &str| {
            let j = model.joint_names.iter().position(|n| n == name).unwrap();
            let m = t.world_from_joint[j];
            Vector3::new(m[(0, 3)], m[(1, 3)], m[(2, 3)])
        };
        for side in ["left", "right"] {
            let arm = pos(&format!("{side}_wrist")) - pos(&format!("{side}_shoulder"));
            assert!(
                arm.y < -0.8 * arm.norm(),
                "{side} arm does not hang down: {arm:?}"
            );
        }
        assert!(out_of_range(model, &neutral).is_empty());
    }

    #[test]
    fn an_acromion_marker_alone_does_not_measure_the_arm() {
        let model = default_body();
        let shaped = model.shape(&vec![0.0; model.num_betas]);
        let set = crate::body::default_model::default_markers();
        let subset = |names: &[&str]| -> Vec<SkinnedMarker> {
            set.markers
                .iter()
                .filter(|p| names.contains(&p.name.as_str()))
                .map(|p| SkinnedMarker::new(model, &shaped, p))
                .collect()
        };
        let joint = |n: &str| model.joint_names.iter().position(|j| j == n).unwrap();
        let lower_body = subset(&[
            "LASI", "RASI", "LPSI", "RPSI", "LSHO", "RSHO", "LHEE", "LANK",
        ]);
        let m = measured_joints(model, &shaped.joints_rest, &lower_body);
        eprintln!(
            "joint span {:.3} m, lever {:.4} m",
            shaped
                .joints_rest
                .iter()
                .map(|j| j.y)
                .fold(f64::MIN, f64::max)
                - shaped
                    .joints_rest
                    .iter()
                    .map(|j| j.y)
                    .fold(f64::MAX, f64::min),
            min_lever_m(&shaped.joints_rest)
        );
        assert!(
            !m[joint("left_shoulder")],
            "LSHO alone must not measure the arm"
        );
        assert!(m[joint("left_collar")], "LSHO measures the collar");
        assert!(m[joint("left_ankle")], "the heel measures the ankle");
        let with_elbow = subset(&["LSHO", "LELB"]);
        let m = measured_joints(model, &shaped.joints_rest, &with_elbow);
        assert!(m[joint("left_shoulder")] && !m[joint("left_elbow")]);
    }

    #[test]
    fn a_folded_spine_is_out_of_range() {
        let model = default_body();
        let mut pose = neutral_pose(model);
        let spine = model
            .joint_names
            .iter()
            .position(|n| n == "spine2")
            .unwrap();
        pose.rotations[spine] = Rotation3::new(Vector3::new(1.5, 0.0, 0.0)).into_inner();
        let out = out_of_range(model, &pose);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0, "spine2");
        assert!((out[0].1 - (1.5f64 - 0.45).to_degrees()).abs() < 1e-6);
    }
}
