//! Explanations in joint-angle space, where clinicians reason ("the knee does not flex"),
//! carried from the joint-position relevance the networks produce.
//!
//! The networks read joint *positions*, so a knee rotation shows up as relevance on the ankle
//! and foot it moves. This module decomposes each frame's deviation from its reference pose,
//! `Δx_p = x_p − r_p`, exactly into one part per joint rotation along the kinematic chain plus a
//! residual (bone lengths, root translation), and then passes each coordinate's relevance to
//! those parts in proportion (LRP-ε through a sum: `R_{k←p,a} = R_{p,a}·c_{k,p,a} / (Δx_{p,a} +
//! ε·sign Δx_{p,a})`), so relevance is conserved up to what ε absorbs.
//!
//! The decomposition is a minimal-rotation inverse kinematics down the chain: joint `k` gets the
//! smallest extra world rotation `D_k` that, after its parent's accumulated deviation `Φ_parent`,
//! turns the reference bone(s) below `k` onto the observed ones (`Φ_k = D_k·Φ_parent`; joints with
//! several children — pelvis, upper spine — take the best rotation of all child offsets, Kabsch).
//! The rotation parts telescope exactly: bone `i` on the path to `p` changes by
//! `Φ_i b̃_i − b̃_i = Σ_{m ≤ i} (D_m − I) Φ_{m−1} b̃_i` with `b̃_i` the reference bone at the
//! observed length. Twist about a bone is invisible in joint positions; it appears at the child.
//! Leaf joints (feet, head, wrists) move no joint and get no angle relevance.
//! Written by hand: it is a few vector operations per bone on the fixed 22-joint tree, and no
//! crate offers relevance propagation through forward kinematics.

use nalgebra::{Matrix3, Rotation3, Unit, UnitQuaternion, Vector3};

use crate::body::smpl22::{JOINT_PARENTS, NUM_JOINTS};

/// The ε of the redistribution, in metres: a coordinate that deviates by less than about this
/// from the reference passes on little relevance (what it would pass is absorbed).
pub const ANGLE_EPSILON_M: f64 = 1e-3;

/// Relevance of one window's joint rotations.
#[derive(Debug, Clone, PartialEq)]
pub struct AngleRelevance {
    /// Frames.
    pub interval: usize,
    /// Signed relevance of each joint's rotation, `[interval, joints]` (leaf joints are 0).
    pub relevance: Vec<f32>,
    /// Rotation of each joint away from the reference, `|D_k|` in radians, `[interval, joints]`:
    /// the network-free angle-space deviation.
    pub deviation_rad: Vec<f32>,
    /// Relevance that no rotation explains (bone lengths, root translation, the non-rigid part
    /// of a multi-child joint).
    pub residual: f32,
    /// Relevance absorbed by the ε stabiliser.
    pub absorbed: f32,
}

impl AngleRelevance {
    /// Relevance per joint rotation summed over the frames.
    pub fn joint_totals(&self) -> Vec<f32> {
        totals(&self.relevance)
    }

    /// The joint whose rotation is most relevant (highest summed signed relevance).
    pub fn top_joint(&self) -> usize {
        argmax(&self.joint_totals())
    }

    /// The joint rotated furthest from the reference over the window (summed `|D_k|`).
    pub fn most_deviated_joint(&self) -> usize {
        argmax(&totals(&self.deviation_rad))
    }
}

fn totals(per_frame_joint: &[f32]) -> Vec<f32> {
    let mut out = vec![0.0; NUM_JOINTS];
    for (i, r) in per_frame_joint.iter().enumerate() {
        out[i % NUM_JOINTS] += r;
    }
    out
}

fn argmax(v: &[f32]) -> usize {
    (0..v.len())
        .max_by(|&a, &b| v[a].total_cmp(&v[b]))
        .unwrap_or(0)
}

/// One frame's deviation from its reference, split by joint rotation.
#[derive(Debug, Clone)]
pub struct FrameDecomposition {
    /// `contributions[p]`: `(k, c_{k,p})` for every joint `k` whose rotation moves joint `p`
    /// (its ancestors), the displacement of `p` that `k`'s extra rotation causes.
    pub contributions: Vec<Vec<(usize, Vector3<f64>)>>,
    /// `Δx_p − Σ_k c_{k,p}` per joint.
    pub residual: Vec<Vector3<f64>>,
    /// `Δx_p = x_p − r_p` per joint.
    pub deviation: Vec<Vector3<f64>>,
    /// Angle of each joint's extra rotation `D_k` in radians.
    pub rotation_rad: Vec<f64>,
}

/// Children of each joint in the 22-joint tree.
fn children() -> Vec<Vec<usize>> {
    let mut out = vec![Vec::new(); NUM_JOINTS];
    for (j, p) in JOINT_PARENTS.iter().enumerate() {
        if let Some(p) = p {
            out[*p].push(j);
        }
    }
    out
}

/// The rotation that best turns the directions `from` onto `to` (Kabsch on unit vectors; one
/// pair is the minimal rotation). Identity when nothing is defined (zero-length offsets).
fn best_rotation(from: &[Vector3<f64>], to: &[Vector3<f64>]) -> Rotation3<f64> {
    let pairs: Vec<(Vector3<f64>, Vector3<f64>)> = from
        .iter()
        .zip(to)
        .filter_map(|(a, b)| Some((a.try_normalize(1e-9)?, b.try_normalize(1e-9)?)))
        .collect();
    match pairs.as_slice() {
        [] => Rotation3::identity(),
        [(a, b)] => minimal_rotation(a, b),
        _ => {
            let h: Matrix3<f64> = pairs.iter().map(|(a, b)| b * a.transpose()).sum();
            let svd = h.svd(true, true);
            let (Some(u), Some(v_t)) = (svd.u, svd.v_t) else {
                return Rotation3::identity();
            };
            // The reflection fix belongs to the smallest singular value (nalgebra does not
            // sort them).
            let smallest = svd.singular_values.imin();
            let mut fix = Vector3::repeat(1.0);
            fix[smallest] = (u * v_t).determinant().signum();
            let m = u * Matrix3::from_diagonal(&fix) * v_t;
            Rotation3::from_matrix_eps(&m, 1e-12, 20, Rotation3::identity())
        }
    }
}

/// The smallest rotation turning unit vector `a` onto unit vector `b` (atan2 form: exact at
/// and near parallel vectors, where `acos` of a rounded dot product is NaN).
fn minimal_rotation(a: &Vector3<f64>, b: &Vector3<f64>) -> Rotation3<f64> {
    let axis = a.cross(b);
    let (sin, cos) = (axis.norm(), a.dot(b));
    if sin > 1e-12 {
        return Rotation3::from_axis_angle(&Unit::new_unchecked(axis / sin), sin.atan2(cos));
    }
    if cos > 0.0 {
        return Rotation3::identity();
    }
    // Opposite directions: half a turn about any axis perpendicular to a.
    let perp = a
        .cross(&Vector3::x())
        .try_normalize(1e-6)
        .unwrap_or_else(|| a.cross(&Vector3::y()).normalize());
    Rotation3::from_axis_angle(&Unit::new_unchecked(perp), std::f64::consts::PI)
}

/// Angle of a rotation in radians, robust to rounding (no `acos` of a trace beyond ±1).
fn rotation_angle(r: &Rotation3<f64>) -> f64 {
    UnitQuaternion::from_rotation_matrix(r).angle()
}

/// Decomposes `x − r` (one frame of joint positions and its reference, same frame of axes)
/// into the displacements each joint's rotation causes, plus a residual.
pub fn decompose_frame(x: &[Vector3<f64>], r: &[Vector3<f64>]) -> FrameDecomposition {
    let kids = children();
    let mut phi = vec![Rotation3::identity(); NUM_JOINTS];
    let mut extra = vec![Rotation3::identity(); NUM_JOINTS];
    // SMPL order lists every parent before its children.
    for k in 0..NUM_JOINTS {
        let parent_phi = JOINT_PARENTS[k].map_or(Rotation3::identity(), |p| phi[p]);
        let from: Vec<Vector3<f64>> = kids[k]
            .iter()
            .map(|&c| parent_phi * (r[c] - r[k]))
            .collect();
        let to: Vec<Vector3<f64>> = kids[k].iter().map(|&c| x[c] - x[k]).collect();
        extra[k] = best_rotation(&from, &to);
        phi[k] = extra[k] * parent_phi;
    }
    let mut contributions = vec![Vec::new(); NUM_JOINTS];
    let mut residual = vec![Vector3::zeros(); NUM_JOINTS];
    let deviation: Vec<Vector3<f64>> = (0..NUM_JOINTS).map(|p| x[p] - r[p]).collect();
    for p in 0..NUM_JOINTS {
        let path = path_from_root(p);
        let mut c = vec![Vector3::zeros(); path.len()];
        for i in 0..path.len().saturating_sub(1) {
            let (a, b) = (path[i], path[i + 1]);
            let bone_ref = r[b] - r[a];
            let len_ref = bone_ref.norm();
            let scaled = if len_ref > 1e-12 {
                bone_ref * ((x[b] - x[a]).norm() / len_ref)
            } else {
                Vector3::zeros()
            };
            // Telescoping over the joints from the root to the bone's start.
            let mut before = Rotation3::identity();
            for m in 0..=i {
                let turned = before * scaled;
                c[m] += extra[path[m]] * turned - turned;
                before = phi[path[m]];
            }
        }
        let explained: Vector3<f64> = c.iter().sum();
        residual[p] = deviation[p] - explained;
        contributions[p] = path.iter().copied().zip(c).take(path.len() - 1).collect();
    }
    FrameDecomposition {
        contributions,
        residual,
        deviation,
        rotation_rad: extra.iter().map(rotation_angle).collect(),
    }
}

/// Joints from the pelvis down to `p`, inclusive.
fn path_from_root(p: usize) -> Vec<usize> {
    let mut path = vec![p];
    while let Some(q) = JOINT_PARENTS[*path.last().unwrap_or(&0)] {
        path.push(q);
    }
    path.reverse();
    path
}

/// Carries one window's per-coordinate relevance (`[interval, joints, 3]`, as
/// [`super::Explanation::relevance_xyz`]) to the joint rotations, relative to the reference
/// window (same layout as `window`: aligned joint positions, metres). Slices of different
/// lengths, or not whole frames of 22 × 3 values, give an empty result (a caller's bug, never a
/// user's input).
pub fn angle_relevance(window: &[f32], reference: &[f32], relevance_xyz: &[f32]) -> AngleRelevance {
    let per = NUM_JOINTS * 3;
    let consistent = window.len() == reference.len()
        && window.len() == relevance_xyz.len()
        && window.len().is_multiple_of(per);
    let interval = if consistent { window.len() / per } else { 0 };
    let mut out = AngleRelevance {
        interval,
        relevance: vec![0.0; interval * NUM_JOINTS],
        deviation_rad: vec![0.0; interval * NUM_JOINTS],
        residual: 0.0,
        absorbed: 0.0,
    };
    let point = |s: &[f32], j: usize| {
        Vector3::new(
            f64::from(s[3 * j]),
            f64::from(s[3 * j + 1]),
            f64::from(s[3 * j + 2]),
        )
    };
    for f in 0..interval {
        let rng = f * per..(f + 1) * per;
        let (xs, rs, rel) = (
            &window[rng.clone()],
            &reference[rng.clone()],
            &relevance_xyz[rng],
        );
        let x: Vec<Vector3<f64>> = (0..NUM_JOINTS).map(|j| point(xs, j)).collect();
        let r: Vec<Vector3<f64>> = (0..NUM_JOINTS).map(|j| point(rs, j)).collect();
        let d = decompose_frame(&x, &r);
        let row = f * NUM_JOINTS;
        for (k, angle) in d.rotation_rad.iter().enumerate() {
            out.deviation_rad[row + k] = *angle as f32;
        }
        let (mut residual, mut absorbed) = (0.0f64, 0.0f64);
        for p in 0..NUM_JOINTS {
            for a in 0..3 {
                let dev = d.deviation[p][a];
                let stab = ANGLE_EPSILON_M * if dev >= 0.0 { 1.0 } else { -1.0 };
                let share = f64::from(rel[3 * p + a]) / (dev + stab);
                for (k, c) in &d.contributions[p] {
                    out.relevance[row + k] += (share * c[a]) as f32;
                }
                residual += share * d.residual[p][a];
                absorbed += share * stab;
            }
        }
        out.residual += residual as f32;
        out.absorbed += absorbed as f32;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A standing skeleton roughly like a 1.7 m adult (y up, z forward).
    fn skeleton() -> Vec<Vector3<f64>> {
        let p = |x: f64, y: f64, z: f64| Vector3::new(x, y, z);
        vec![
            p(0.0, 1.0, 0.0),     // pelvis
            p(0.09, 0.92, 0.0),   // left hip
            p(-0.09, 0.92, 0.0),  // right hip
            p(0.0, 1.1, -0.02),   // spine1
            p(0.1, 0.5, 0.01),    // left knee
            p(-0.1, 0.5, 0.01),   // right knee
            p(0.0, 1.24, -0.01),  // spine2
            p(0.1, 0.08, -0.03),  // left ankle
            p(-0.1, 0.08, -0.03), // right ankle
            p(0.0, 1.3, 0.0),     // spine3
            p(0.11, 0.02, 0.12),  // left foot
            p(-0.11, 0.02, 0.12), // right foot
            p(0.0, 1.5, 0.0),     // neck
            p(0.07, 1.42, 0.0),   // left collar
            p(-0.07, 1.42, 0.0),  // right collar
            p(0.0, 1.62, 0.03),   // head
            p(0.18, 1.42, 0.0),   // left shoulder
            p(-0.18, 1.42, 0.0),  // right shoulder
            p(0.2, 1.15, -0.02),  // left elbow
            p(-0.2, 1.15, -0.02), // right elbow
            p(0.21, 0.9, 0.03),   // left wrist
            p(-0.21, 0.9, 0.03),  // right wrist
        ]
    }

    fn descendants(k: usize) -> Vec<usize> {
        (0..NUM_JOINTS)
            .filter(|&j| j != k && path_from_root(j).contains(&k))
            .collect()
    }

    /// Rotates every joint below `k` about `k` by `angle` around `axis`.
    fn rotate_below(x: &mut [Vector3<f64>], k: usize, axis: Vector3<f64>, angle: f64) {
        let rot = Rotation3::from_axis_angle(&Unit::new_normalize(axis), angle);
        let centre = x[k];
        for j in descendants(k) {
            x[j] = centre + rot * (x[j] - centre);
        }
    }

    fn flat(x: &[Vector3<f64>]) -> Vec<f32> {
        x.iter()
            .flat_map(|v| [v.x as f32, v.y as f32, v.z as f32])
            .collect()
    }

    #[test]
    fn a_knee_flexion_is_the_knees_alone() {
        let r = skeleton();
        let mut x = r.clone();
        rotate_below(&mut x, 4, Vector3::x(), 0.7);
        let d = decompose_frame(&x, &r);
        for p in 0..NUM_JOINTS {
            assert!(d.residual[p].norm() < 1e-9, "joint {p}: {}", d.residual[p]);
            for (k, c) in &d.contributions[p] {
                if *k != 4 {
                    assert!(c.norm() < 1e-9, "joint {k} moved {p} by {c}");
                }
            }
        }
        assert!((d.rotation_rad[4] - 0.7).abs() < 1e-9);
        // Gradient × deviation with the gradient along the deviation lands on the knee.
        let dev: Vec<f32> = flat(&x).iter().zip(flat(&r)).map(|(a, b)| a - b).collect();
        let dev: Vec<f32> = dev.iter().map(|d| d * d).collect();
        let a = angle_relevance(&flat(&x), &flat(&r), &dev);
        assert_eq!(a.top_joint(), 4);
        assert_eq!(a.most_deviated_joint(), 4);
        let total: f32 = dev.iter().sum();
        let knee = a.joint_totals()[4];
        assert!((knee + a.residual + a.absorbed - total).abs() < 1e-4);
        assert!(a.absorbed.abs() < 0.05 * total, "{a:?}");
    }

    #[test]
    fn chained_rotations_and_bone_lengths_decompose_exactly() {
        let r = skeleton();
        let mut x = r.clone();
        // Hip, knee and ankle of the left leg, a trunk lean and a pelvic tilt, then a longer
        // right shank: every deviation is rotations plus one bone length.
        rotate_below(&mut x, 0, Vector3::new(0.2, 0.1, 1.0), 0.15);
        rotate_below(&mut x, 1, Vector3::new(1.0, 0.0, 0.3), -0.5);
        rotate_below(&mut x, 4, Vector3::x(), 0.9);
        rotate_below(&mut x, 7, Vector3::new(1.0, 0.2, 0.0), 0.4);
        rotate_below(&mut x, 3, Vector3::x(), 0.3);
        let shank = x[8] - x[5];
        for j in [8, 11] {
            x[j] += shank * 0.1;
        }
        let d = decompose_frame(&x, &r);
        for p in 0..NUM_JOINTS {
            let sum: Vector3<f64> = d.contributions[p].iter().map(|(_, c)| c).sum();
            assert!((sum + d.residual[p] - d.deviation[p]).norm() < 1e-12);
        }
        // The longer right shank is residual (its length change, in the reference's
        // orientation); rigid rotations leave none elsewhere.
        assert!((d.residual[8] - (r[8] - r[5]) * 0.1).norm() < 1e-9);
        assert!((d.residual[11] - d.residual[8]).norm() < 1e-9);
        for p in [4, 7, 10, 12, 15, 20] {
            assert!(d.residual[p].norm() < 1e-9, "joint {p}: {}", d.residual[p]);
        }
        // The ankle rotation moves the foot only.
        for p in 0..NUM_JOINTS {
            let from_ankle: f64 = d.contributions[p]
                .iter()
                .filter(|(k, _)| *k == 7)
                .map(|(_, c)| c.norm())
                .sum();
            assert_eq!(from_ankle > 1e-6, p == 10, "joint {p}");
        }
        // Conservation: rotations + residual + absorbed = input relevance, any relevance.
        let rel: Vec<f32> = (0..NUM_JOINTS * 3)
            .map(|i| ((i * 37 % 11) as f32 - 5.0) * 0.1)
            .collect();
        let a = angle_relevance(&flat(&x), &flat(&r), &rel);
        let sum: f32 = a.joint_totals().iter().sum::<f32>() + a.residual + a.absorbed;
        assert!((sum - rel.iter().sum::<f32>()).abs() < 1e-3, "{sum}");
        for leaf in [10, 11, 15, 20, 21] {
            assert_eq!(a.joint_totals()[leaf], 0.0);
        }
    }

    #[test]
    fn identical_frames_and_bad_lengths_give_no_relevance() {
        let r = flat(&skeleton());
        let rel = vec![1.0f32; r.len()];
        let a = angle_relevance(&r, &r, &rel);
        assert!(a.joint_totals().iter().all(|&v| v.abs() < 1e-6), "{a:?}");
        assert!((a.absorbed - rel.iter().sum::<f32>()).abs() < 1e-3);
        let bad = angle_relevance(&r[..10], &r, &rel);
        assert_eq!(bad.interval, 0);
        assert!(bad.relevance.is_empty());
    }
}
