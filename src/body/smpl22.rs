//! Everything about the 22 body joints that SMPL, SUPR and the default body share, written once:
//! names, the kinematic tree, short labels, left/right mirror order and the key joint indices
//! that alignment, fitting, synthesis and the viewer refer to.
//!
//! The classifiers read these joints (SMPL order), so every table here is part of a model card's
//! contract ([`JOINT_SET`]).

/// Number of body joints (SMPL/SUPR body joints 0..22).
pub const NUM_JOINTS: usize = 22;

/// One frame of the 22 joint positions, `[joint][xyz]` (metres, f32 as the networks read them).
pub type Frame = [[f32; 3]; NUM_JOINTS];

/// Name of this joint set, stored in model cards so a network is only applied to the same joints.
pub const JOINT_SET: &str = "smpl22";

/// Joint names in SMPL order (SUPR shares its first 22 joints with SMPL).
pub const JOINT_NAMES: [&str; NUM_JOINTS] = [
    "pelvis",
    "left_hip",
    "right_hip",
    "spine1",
    "left_knee",
    "right_knee",
    "spine2",
    "left_ankle",
    "right_ankle",
    "spine3",
    "left_foot",
    "right_foot",
    "neck",
    "left_collar",
    "right_collar",
    "head",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
];

/// Short labels for plots and panels, SMPL order.
pub const SHORT_LABELS: [&str; NUM_JOINTS] = [
    "pelvis",
    "L hip",
    "R hip",
    "spine1",
    "L knee",
    "R knee",
    "spine2",
    "L ankle",
    "R ankle",
    "spine3",
    "L foot",
    "R foot",
    "neck",
    "L collar",
    "R collar",
    "head",
    "L shoulder",
    "R shoulder",
    "L elbow",
    "R elbow",
    "L wrist",
    "R wrist",
];

/// SMPL's kinematic tree (parent of each joint, `None` for the pelvis).
pub const JOINT_PARENTS: [Option<usize>; NUM_JOINTS] = [
    None,
    Some(0),
    Some(0),
    Some(0),
    Some(1),
    Some(2),
    Some(3),
    Some(4),
    Some(5),
    Some(6),
    Some(7),
    Some(8),
    Some(9),
    Some(9),
    Some(9),
    Some(12),
    Some(13),
    Some(14),
    Some(16),
    Some(17),
    Some(18),
    Some(19),
];

/// Left/right joint swap used for mirroring: hips, knees, ankles, feet, collars, shoulders,
/// elbows, wrists (`mirrored[j] = frame[MIRRORED_JOINT_ORDER[j]]`).
pub const MIRRORED_JOINT_ORDER: [usize; NUM_JOINTS] = [
    0, 2, 1, 3, 5, 4, 6, 8, 7, 9, 11, 10, 12, 14, 13, 15, 17, 16, 19, 18, 21, 20,
];

/// The original's mirroring order, which leaves the collars (13, 14) unswapped — almost
/// certainly an oversight; kept for reference and reproduction only.
pub const ORIGINAL_MIRRORED_JOINT_ORDER: [usize; NUM_JOINTS] = [
    0, 2, 1, 3, 5, 4, 6, 8, 7, 9, 11, 10, 12, 13, 14, 15, 17, 16, 19, 18, 21, 20,
];

/// Applies [`MIRRORED_JOINT_ORDER`] to one frame (`out[j] = in[order[j]]`).
pub fn mirror_frame(f: &Frame) -> Frame {
    std::array::from_fn(|j| f[MIRRORED_JOINT_ORDER[j]])
}

/// Pelvis (root) joint index.
pub const PELVIS: usize = 0;
/// Left hip joint index.
pub const LEFT_HIP: usize = 1;
/// Right hip joint index.
pub const RIGHT_HIP: usize = 2;
/// First spine joint index.
pub const SPINE1: usize = 3;
/// Left knee joint index.
pub const LEFT_KNEE: usize = 4;
/// Right knee joint index.
pub const RIGHT_KNEE: usize = 5;
/// Left ankle joint index.
pub const LEFT_ANKLE: usize = 7;
/// Right ankle joint index.
pub const RIGHT_ANKLE: usize = 8;
/// Left foot (toe-base) joint index.
pub const LEFT_FOOT: usize = 10;
/// Right foot joint index.
pub const RIGHT_FOOT: usize = 11;
/// Neck joint index.
pub const NECK: usize = 12;
/// Head joint index.
pub const HEAD: usize = 15;

/// Hips (left, right).
pub const HIPS: [usize; 2] = [LEFT_HIP, RIGHT_HIP];
/// Knees (left, right).
pub const KNEES: [usize; 2] = [LEFT_KNEE, RIGHT_KNEE];
/// Ankles (left, right).
pub const ANKLES: [usize; 2] = [LEFT_ANKLE, RIGHT_ANKLE];

/// Index of the joint called `name`, if it is one of the 22.
pub fn joint_index(name: &str) -> Option<usize> {
    JOINT_NAMES.iter().position(|&n| n == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_orders_are_involutions_that_swap_left_and_right_names() {
        for order in [MIRRORED_JOINT_ORDER, ORIGINAL_MIRRORED_JOINT_ORDER] {
            for (j, &m) in order.iter().enumerate() {
                assert_eq!(order[m], j);
            }
        }
        for (j, &m) in MIRRORED_JOINT_ORDER.iter().enumerate() {
            let swapped = JOINT_NAMES[j]
                .replace("left", "#")
                .replace("right", "left")
                .replace('#', "right");
            assert_eq!(JOINT_NAMES[m], swapped, "joint {j}");
        }
    }

    #[test]
    fn parents_come_before_children_and_key_indices_match_names() {
        for (j, p) in JOINT_PARENTS.iter().enumerate() {
            assert_eq!(p.is_none(), j == 0);
            assert!(p.is_none_or(|p| p < j));
        }
        for (i, n) in [
            (PELVIS, "pelvis"),
            (LEFT_HIP, "left_hip"),
            (RIGHT_HIP, "right_hip"),
            (SPINE1, "spine1"),
            (LEFT_KNEE, "left_knee"),
            (RIGHT_KNEE, "right_knee"),
            (LEFT_ANKLE, "left_ankle"),
            (RIGHT_ANKLE, "right_ankle"),
            (LEFT_FOOT, "left_foot"),
            (RIGHT_FOOT, "right_foot"),
            (NECK, "neck"),
            (HEAD, "head"),
        ] {
            assert_eq!(joint_index(n), Some(i));
        }
        for (name, label) in JOINT_NAMES.iter().zip(SHORT_LABELS) {
            let long = label.replace("L ", "left_").replace("R ", "right_");
            assert_eq!(*name, long);
        }
    }
}
