//! The original pipeline's per-window movement alignment and normalisation
//! (`JointData.align_sequences` followed by `JointData.normalize_marker_positions`), implemented
//! once as a pure function so that training and the viewer see exactly the same coordinates.
//!
//! Steps, in the original's order, for one window of frames × 22 joints:
//! 1. subtract the pelvis position of frame 0;
//! 2. rotate (Rodrigues' formula for aligning two unit vectors) so the pelvis displacement from
//!    the first to the last frame points along +x;
//! 3. fix the up axis: round the unit vector from the mean ankle to the head in frame 0 to
//!    integers (ties to even, as `torch.round`); if its y is 0 rotate ±90° about x (sign of its
//!    z), if its y is negative rotate 180° about x; the rotation is applied as `p @ R_x`
//!    (row vectors), as in the original;
//! 4. negate z when the left ankle's mean z is larger than the right ankle's, so the left ankle
//!    is on the −z side;
//! 5. divide x by the largest head-to-mean-ankle distance of the window; map y and z linearly to
//!    [−1, 1] by their minimum and maximum over all joints and frames of the window.
//!
//! Deviations, all where the original produces NaN: a pelvis displacement already along −x is
//! rotated by 180° about y (the original divides by zero), and degenerate windows (no pelvis
//! displacement, head at the ankles, flat y or z range) are reported as [`AlignError`]s.

use thiserror::Error;

pub use crate::body::smpl22::NUM_JOINTS;

pub use crate::body::smpl22::Frame;

/// Versioned name of [`align_movement_normalized`]; stored in model cards so a model is only
/// applied to data aligned the same way.
pub const ALIGNMENT_VERSION: &str = "align_movement_normalized/1";

pub use crate::body::smpl22::{
    HEAD, LEFT_ANKLE, LEFT_FOOT, LEFT_HIP, PELVIS, RIGHT_ANKLE, RIGHT_FOOT, RIGHT_HIP,
};

/// Why a window cannot be aligned.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum AlignError {
    /// The window holds no frames.
    #[error("cannot align an empty window")]
    Empty,
    /// A coordinate is NaN or infinite.
    #[error("frame {frame}, joint {joint}: non-finite coordinate")]
    NonFinite {
        /// Frame index in the window.
        frame: usize,
        /// Joint index.
        joint: usize,
    },
    /// The pelvis does not move between the first and last frame, so there is no walking
    /// direction.
    #[error("pelvis moves {distance_m} m between the first and last frame; no walking direction")]
    NoDisplacement {
        /// Distance moved, metres (or input units).
        distance_m: f64,
    },
    /// Head and mean ankle coincide in frame 0, so there is no up direction.
    #[error("head and ankles coincide in frame 0; no up direction")]
    NoUp,
    /// The feet point straight up or down in every frame, so the body has no facing direction.
    #[error("the feet give no horizontal facing direction")]
    NoHeading,
    /// The largest head-to-ankle distance is zero.
    #[error("head-to-ankle distance is zero in every frame")]
    ZeroHeight,
    /// All coordinates of an axis are equal, so it cannot be mapped to [−1, 1].
    #[error("all {axis} coordinates are equal; cannot normalise")]
    FlatAxis {
        /// `y` or `z`.
        axis: &'static str,
    },
}

fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn norm(a: [f64; 3]) -> f64 {
    (a[0] * a[0] + a[1] * a[1] + a[2] * a[2]).sqrt()
}

fn mat_vec(m: &[[f64; 3]; 3], p: [f64; 3]) -> [f64; 3] {
    [0, 1, 2].map(|r| m[r][0] * p[0] + m[r][1] * p[1] + m[r][2] * p[2])
}

/// Rotation taking unit vector `d` onto +x (Rodrigues' formula as in the original).
fn rotation_to_x(d: [f64; 3]) -> [[f64; 3]; 3] {
    // v = d × x, s = |v|, c = d · x
    let v = [0.0, d[2], -d[1]];
    let s = norm(v);
    let c = d[0];
    if s < 1e-12 {
        return if c > 0.0 {
            [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
        } else {
            // 180° about y (the original divides by zero here).
            [[-1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, -1.0]]
        };
    }
    let k = [[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]];
    let f = (1.0 - c) / (s * s);
    let mut r = [[0.0; 3]; 3];
    for i in 0..3 {
        for j in 0..3 {
            let kk: f64 = (0..3).map(|m| k[i][m] * k[m][j]).sum();
            r[i][j] = if i == j { 1.0 } else { 0.0 } + k[i][j] + kk * f;
        }
    }
    r
}

/// Versioned name of [`align_movement_isotropic`].
pub const ISOTROPIC_ALIGNMENT_VERSION: &str = "align_movement_isotropic/1";

/// Which window alignment a network was trained on (recorded in its model card by version).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Alignment {
    /// The original's [`align_movement_normalized`] (default).
    #[default]
    Original,
    /// [`align_movement_isotropic`]: the same rotation, one scale for all axes.
    Isotropic,
    /// [`align_heading`]: the body's own facing direction, progression removed (treadmill and
    /// overground walks look alike), one scale for all axes.
    Heading,
    /// [`align_heading`], then [`left_right_differences`]: each joint minus its mirrored
    /// partner half a stride later, so the input holds how the two sides differ, not who walks.
    HeadingSymmetry,
}

impl Alignment {
    /// The version string stored in model cards.
    pub fn version(self) -> &'static str {
        match self {
            Self::Original => ALIGNMENT_VERSION,
            Self::Isotropic => ISOTROPIC_ALIGNMENT_VERSION,
            Self::Heading => HEADING_ALIGNMENT_VERSION,
            Self::HeadingSymmetry => HEADING_SYMMETRY_ALIGNMENT_VERSION,
        }
    }

    /// Every alignment, in the order of `gaitlens train --alignment`.
    pub const ALL: [Self; 4] = [
        Self::Original,
        Self::Isotropic,
        Self::Heading,
        Self::HeadingSymmetry,
    ];

    /// The versions this build knows, for error messages ("a, b, c or d").
    pub fn known_versions() -> String {
        let v: Vec<&str> = Self::ALL.iter().map(|a| a.version()).collect();
        format!("{} or {}", v[..v.len() - 1].join(", "), v[v.len() - 1])
    }

    /// The alignment a model card names, `None` for an unknown version.
    pub fn from_version(version: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.version() == version)
    }

    /// Aligns one window with this alignment.
    pub fn apply(self, frames: &[Frame]) -> Result<Vec<Frame>, AlignError> {
        match self {
            Self::Original => align_movement_normalized(frames),
            Self::Isotropic => align_movement_isotropic(frames),
            Self::Heading => align_heading(frames),
            Self::HeadingSymmetry => Ok(left_right_differences(&align_heading(frames)?)),
        }
    }
}

/// Aligns and normalises one window of frames (see the module documentation); returns a new
/// window of the same length. Pure: the same input always gives the same output.
pub fn align_movement_normalized(frames: &[Frame]) -> Result<Vec<Frame>, AlignError> {
    let (seq, height) = align_rotation(frames)?;
    let mut lo = [f64::INFINITY; 3];
    let mut hi = [f64::NEG_INFINITY; 3];
    for f in &seq {
        for p in f {
            for c in 0..3 {
                lo[c] = lo[c].min(p[c]);
                hi[c] = hi[c].max(p[c]);
            }
        }
    }
    for (c, axis) in [(1, "y"), (2, "z")] {
        if hi[c] - lo[c] < 1e-12 {
            return Err(AlignError::FlatAxis { axis });
        }
    }
    Ok(seq
        .iter()
        .map(|f| {
            f.map(|p| {
                [
                    (p[0] / height) as f32,
                    ((p[1] - lo[1]) / (hi[1] - lo[1]) * 2.0 - 1.0) as f32,
                    ((p[2] - lo[2]) / (hi[2] - lo[2]) * 2.0 - 1.0) as f32,
                ]
            })
        })
        .collect())
}

/// Steps 1–4 of the original alignment, then every axis divided by the window's largest
/// head-to-mean-ankle distance (not in the original).
///
/// Why: the original maps y and z to [−1, 1] by the window's extremes, so a change at one
/// joint that moves an extreme (a foot swung outwards in circumduction, a dropped foot below
/// the stance foot) rescales every joint of the window; a classifier then sees a local
/// pathology everywhere, and its relevance spreads over the whole body. One body-size scale
/// keeps a local change local and the body's proportions intact. Coordinates are relative to
/// frame 0's pelvis, in body heights.
pub fn align_movement_isotropic(frames: &[Frame]) -> Result<Vec<Frame>, AlignError> {
    let (seq, height) = align_rotation(frames)?;
    Ok(seq
        .iter()
        .map(|f| f.map(|p| p.map(|c| (c / height) as f32)))
        .collect())
}

/// Versioned name of [`align_heading`].
pub const HEADING_ALIGNMENT_VERSION: &str = "align_heading/1";

/// Aligns a window to the walker's own body frame: x forward (where the feet point: ankle →
/// foot joints, horizontal), y up (mean ankles → head), z to the right; the pelvis'
/// straight-line progression over the window (a least-squares line through its horizontal
/// positions) and its mean height are removed, every axis is divided by the largest
/// head-to-mean-ankle distance, and z is negated when the left hip lies on the +z side (so a
/// window mirrored by swapping joint labels becomes a true mirror image, as in the original).
///
/// Why (not in the original): the original takes the walking direction from the pelvis'
/// displacement between the first and last frame, which on a treadmill — where the pelvis
/// barely moves — is noise, so a treadmill walk lands in a random orientation; and it keeps
/// the progression, so overground and treadmill walks differ by a ramp that has nothing to do
/// with the gait. Here both look the same, and the pelvis' own sway stays.
pub fn align_heading(frames: &[Frame]) -> Result<Vec<Frame>, AlignError> {
    check_finite(frames)?;
    let v = |p: [f32; 3]| nalgebra::Vector3::new(p[0] as f64, p[1] as f64, p[2] as f64);
    let mut up = nalgebra::Vector3::zeros();
    let mut toes = nalgebra::Vector3::zeros();
    let mut height: f64 = 0.0;
    for f in frames {
        let to_head = v(f[HEAD]) - (v(f[LEFT_ANKLE]) + v(f[RIGHT_ANKLE])) / 2.0;
        up += to_head;
        height = height.max(to_head.norm());
        toes += v(f[LEFT_FOOT]) - v(f[LEFT_ANKLE]) + v(f[RIGHT_FOOT]) - v(f[RIGHT_ANKLE]);
    }
    let up = up.try_normalize(1e-12).ok_or(AlignError::NoUp)?;
    if height < 1e-12 {
        return Err(AlignError::ZeroHeight);
    }
    let forward = (toes - up * toes.dot(&up))
        .try_normalize(1e-12)
        .ok_or(AlignError::NoHeading)?;
    let right = forward.cross(&up);
    // Least-squares line through the pelvis positions over the frame index.
    let n = frames.len() as f64;
    let t_mean = (n - 1.0) / 2.0;
    let p_mean = frames
        .iter()
        .map(|f| v(f[PELVIS]))
        .sum::<nalgebra::Vector3<f64>>()
        / n;
    let (mut num, mut den) = (nalgebra::Vector3::zeros(), 0.0);
    for (i, f) in frames.iter().enumerate() {
        let dt = i as f64 - t_mean;
        num += (v(f[PELVIS]) - p_mean) * dt;
        den += dt * dt;
    }
    let slope = if den > 0.0 { num / den } else { num };
    let slope = slope - up * slope.dot(&up); // horizontal progression only
    let mut out: Vec<Frame> = frames
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let origin = p_mean + slope * (i as f64 - t_mean);
            f.map(|p| {
                let d = v(p) - origin;
                [d.dot(&forward), d.dot(&up), d.dot(&right)].map(|c| (c / height) as f32)
            })
        })
        .collect();
    let mean_z = |j: usize| out.iter().map(|f| f64::from(f[j][2])).sum::<f64>();
    if mean_z(LEFT_HIP) > mean_z(RIGHT_HIP) {
        out.iter_mut()
            .for_each(|f| f.iter_mut().for_each(|p| p[2] = -p[2]));
    }
    Ok(out)
}

/// Versioned name of [`Alignment::HeadingSymmetry`].
pub const HEADING_SYMMETRY_ALIGNMENT_VERSION: &str = "align_heading_symmetry/1";

/// Leg joints whose left/right match finds the half-stride shift (hips, knees, ankles, feet).
const SHIFT_JOINTS: [usize; 8] = [
    LEFT_HIP,
    RIGHT_HIP,
    crate::body::smpl22::LEFT_KNEE,
    crate::body::smpl22::RIGHT_KNEE,
    LEFT_ANKLE,
    RIGHT_ANKLE,
    LEFT_FOOT,
    RIGHT_FOOT,
];

/// Each joint of a heading-aligned window (left at −z) made pelvis-relative, minus its mirrored
/// partner (left ↔ right, z negated) half a stride away: `out(t) = p(t) − mirror(p)(t + s)`, or
/// `t − s` past the window's end (a walk repeats every stride, so both are the same phase).
/// The shift `s` (a tenth to half of the window: half a stride, or one and a half) is the one
/// that best matches the mirrored legs. A one-sided change shows on both sides' channels.
///
/// Why: a healthy walk's two sides are mirror images half a stride apart, whoever walks, so the
/// differences are small for every healthy walker (on fitted real walks 0.16–0.31 of the legs'
/// own motion, `tests/synth_from_walks.rs`) and carry a one-sided pathology.
/// Positions carry the walker's build and posture, by which a network trained on a handful of
/// real walks recognises each of them (README, "Leave-one-walk-out"). A bilateral change
/// (crouch) leaves no difference; the pelvis channel is zero.
pub fn left_right_differences(frames: &[Frame]) -> Vec<Frame> {
    let n = frames.len();
    let relative: Vec<Frame> = frames
        .iter()
        .map(|f| f.map(|p| std::array::from_fn(|a| p[a] - f[PELVIS][a])))
        .collect();
    let mirrored: Vec<Frame> = relative
        .iter()
        .map(|f| crate::body::smpl22::mirror_frame(f).map(|p| [p[0], p[1], -p[2]]))
        .collect();
    let mismatch = |s: usize| {
        let mut sum = 0.0f64;
        for t in 0..n - s {
            for &j in &SHIFT_JOINTS {
                sum += (0..3)
                    .map(|a| f64::from(relative[t][j][a] - mirrored[t + s][j][a]).powi(2))
                    .sum::<f64>();
            }
        }
        sum / (n - s) as f64
    };
    let Some((shift, _)) = ((n / 10).max(1)..=n / 2)
        .map(|s| (s, mismatch(s)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
    else {
        return vec![[[0.0; 3]; NUM_JOINTS]; n];
    };
    (0..n)
        .map(|t| {
            let u = if t + shift < n { t + shift } else { t - shift };
            std::array::from_fn(|j| std::array::from_fn(|a| relative[t][j][a] - mirrored[u][j][a]))
        })
        .collect()
}

/// Fails on an empty window or a non-finite coordinate.
fn check_finite(frames: &[Frame]) -> Result<(), AlignError> {
    if frames.is_empty() {
        return Err(AlignError::Empty);
    }
    for (fi, f) in frames.iter().enumerate() {
        for (joint, p) in f.iter().enumerate() {
            if p.iter().any(|c| !c.is_finite()) {
                return Err(AlignError::NonFinite { frame: fi, joint });
            }
        }
    }
    Ok(())
}

/// One frame in double precision.
type Frame64 = [[f64; 3]; NUM_JOINTS];

/// Steps 1–4 of the alignment; returns the rotated window (relative to frame 0's pelvis) and
/// its largest head-to-mean-ankle distance.
fn align_rotation(frames: &[Frame]) -> Result<(Vec<Frame64>, f64), AlignError> {
    let n = frames.len();
    check_finite(frames)?;
    let to64 = |p: [f32; 3]| p.map(f64::from);
    let origin = to64(frames[0][PELVIS]);
    // 1. remove the initial pelvis offset
    let mut seq: Vec<[[f64; 3]; NUM_JOINTS]> = frames
        .iter()
        .map(|f| f.map(|p| sub(to64(p), origin)))
        .collect();
    // 2. walking direction onto +x
    let disp = seq[n - 1][PELVIS];
    let distance = norm(disp);
    if distance < 1e-9 {
        return Err(AlignError::NoDisplacement {
            distance_m: distance,
        });
    }
    let r = rotation_to_x(disp.map(|c| c / distance));
    for f in &mut seq {
        for p in f.iter_mut() {
            *p = mat_vec(&r, *p);
        }
    }
    // 3. up axis with the original's rounding rule
    let f0 = &seq[0];
    let ankles = [0, 1, 2].map(|c| (f0[LEFT_ANKLE][c] + f0[RIGHT_ANKLE][c]) / 2.0);
    let up_raw = sub(f0[HEAD], ankles);
    let up_len = norm(up_raw);
    if up_len < 1e-12 {
        return Err(AlignError::NoUp);
    }
    let up = up_raw.map(|c| (c / up_len).round_ties_even());
    let angle = if up[1].abs() < 1e-4 {
        std::f64::consts::FRAC_PI_2 * if up[2] < 0.0 { -1.0 } else { 1.0 }
    } else if up[1] < 1e-4 {
        std::f64::consts::PI
    } else {
        0.0
    };
    let (s, c) = angle.sin_cos();
    let rx = [[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]].map(|row| row.map(f64::round_ties_even));
    if angle != 0.0 {
        for f in &mut seq {
            for p in f.iter_mut() {
                // row vector times matrix: p'_j = Σ_i p_i R[i][j]
                *p = [0, 1, 2].map(|j| p[0] * rx[0][j] + p[1] * rx[1][j] + p[2] * rx[2][j]);
            }
        }
    }
    // 4. left ankle on the −z side
    let mean_z = |j: usize| seq.iter().map(|f| f[j][2]).sum::<f64>() / n as f64;
    if mean_z(LEFT_ANKLE) > mean_z(RIGHT_ANKLE) {
        for f in &mut seq {
            for p in f.iter_mut() {
                p[2] = -p[2];
            }
        }
    }
    // 5. (scale) the largest head-to-mean-ankle distance
    let mut height: f64 = 0.0;
    for f in &seq {
        let ank = [0, 1, 2].map(|c| (f[LEFT_ANKLE][c] + f[RIGHT_ANKLE][c]) / 2.0);
        height = height.max(norm(sub(f[HEAD], ank)));
    }
    if height < 1e-12 {
        return Err(AlignError::ZeroHeight);
    }
    Ok((seq, height))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A hand-made stick walker in the canonical frame: walks along +x at 1.2 m/s, y up, left
    /// side at −z, legs swinging in x; 30 frames at 30 Hz.
    pub(crate) fn canonical_walker(frames: usize) -> Vec<Frame> {
        (0..frames)
            .map(|i| {
                let t = i as f32 / 30.0;
                let x0 = 1.2 * t;
                let sw = (t * 6.0).sin() * 0.25;
                let mut f = [[0.0f32; 3]; NUM_JOINTS];
                // spine, head
                let spine = [
                    (0, 1.0),
                    (3, 1.1),
                    (6, 1.25),
                    (9, 1.4),
                    (12, 1.55),
                    (15, 1.7),
                ];
                for (j, y) in spine {
                    f[j] = [x0, y, 0.0];
                }
                // legs: left (odd SMPL indices 1,4,7,10) at z = −0.1
                for (side, z, s) in [(0usize, -0.1f32, 1.0f32), (1, 0.1, -1.0)] {
                    let [hip, knee, ankle, foot] = [1 + side, 4 + side, 7 + side, 10 + side];
                    f[hip] = [x0, 0.95, z];
                    f[knee] = [x0 + 0.5 * s * sw, 0.5, z];
                    f[ankle] = [x0 + s * sw, 0.1, z];
                    f[foot] = [x0 + s * sw + 0.12, 0.02, z];
                    let [collar, shoulder, elbow, wrist] =
                        [13 + side, 16 + side, 18 + side, 20 + side];
                    f[collar] = [x0, 1.45, z];
                    f[shoulder] = [x0, 1.45, 2.0 * z];
                    f[elbow] = [x0 - 0.3 * s * sw, 1.15, 2.1 * z];
                    f[wrist] = [x0 - 0.5 * s * sw, 0.9, 2.1 * z];
                }
                f
            })
            .collect()
    }

    /// Independent expectation for an already canonical walker: only translation and scaling.
    fn expected_canonical(w: &[Frame]) -> Vec<Frame> {
        let o = w[0][PELVIS];
        let mut lo = [f32::MAX; 3];
        let mut hi = [f32::MIN; 3];
        let mut h: f32 = 0.0;
        for f in w {
            for p in f {
                for c in 0..3 {
                    lo[c] = lo[c].min(p[c] - o[c]);
                    hi[c] = hi[c].max(p[c] - o[c]);
                }
            }
            let d: Vec<f32> = (0..3)
                .map(|c| f[HEAD][c] - (f[LEFT_ANKLE][c] + f[RIGHT_ANKLE][c]) / 2.0)
                .collect();
            h = h.max((d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt());
        }
        w.iter()
            .map(|f| {
                f.map(|p| {
                    let q = [p[0] - o[0], p[1] - o[1], p[2] - o[2]];
                    [
                        q[0] / h,
                        (q[1] - lo[1]) / (hi[1] - lo[1]) * 2.0 - 1.0,
                        (q[2] - lo[2]) / (hi[2] - lo[2]) * 2.0 - 1.0,
                    ]
                })
            })
            .collect()
    }

    fn transform(w: &[Frame], f: impl Fn([f32; 3]) -> [f32; 3]) -> Vec<Frame> {
        w.iter().map(|fr| fr.map(&f)).collect()
    }

    fn assert_close(a: &[Frame], b: &[Frame], tol: f32) {
        assert_eq!(a.len(), b.len());
        for (fi, (fa, fb)) in a.iter().zip(b).enumerate() {
            for j in 0..NUM_JOINTS {
                for c in 0..3 {
                    assert!(
                        (fa[j][c] - fb[j][c]).abs() < tol,
                        "frame {fi} joint {j} axis {c}: {} vs {}",
                        fa[j][c],
                        fb[j][c]
                    );
                }
            }
        }
    }

    #[test]
    fn left_right_differences_vanish_for_a_symmetric_walker_and_keep_a_one_sided_change() {
        // The stick walker's legs are mirror images half a stride (15.7 frames) apart.
        let walker = canonical_walker(100);
        let size = |w: &[Frame], j: usize| {
            w.iter()
                .map(|f| f[j].iter().map(|c| c * c).sum::<f32>())
                .sum::<f32>()
                .sqrt()
                / (w.len() as f32).sqrt()
        };
        let healthy = left_right_differences(&align_heading(&walker).unwrap());
        let mut limping = walker.clone();
        for f in &mut limping {
            // The left knee held 5 cm forward: one side changed.
            f[4][0] += 0.05;
        }
        let limping = left_right_differences(&align_heading(&limping).unwrap());
        for j in [4, 5] {
            assert!(size(&healthy, j) < 0.01, "joint {j}: {}", size(&healthy, j));
            assert!(size(&limping, j) > 0.02, "joint {j}: {}", size(&limping, j));
        }
        assert_eq!(size(&healthy, PELVIS), 0.0);
        // A window too short to hold a shift is all zeros, not a panic; 2 and 3 frames work.
        assert_eq!(
            left_right_differences(&walker[..1]),
            vec![[[0.0; 3]; NUM_JOINTS]]
        );
        assert!(left_right_differences(&[]).is_empty());
        for n in [2, 3] {
            let out = Alignment::HeadingSymmetry.apply(&walker[..n]).unwrap();
            assert_eq!(out.len(), n);
            assert!(out.iter().flatten().flatten().all(|c| c.is_finite()));
        }
        assert_eq!(
            Alignment::from_version(Alignment::HeadingSymmetry.version()),
            Some(Alignment::HeadingSymmetry)
        );
    }

    #[test]
    fn heading_alignment_treats_treadmill_overground_and_any_lab_frame_alike() {
        let w = canonical_walker(30);
        let a = align_heading(&w).unwrap();
        // The same walk on a treadmill (progression removed) aligns identically.
        let treadmill: Vec<Frame> = w
            .iter()
            .enumerate()
            .map(|(i, f)| f.map(|p| [p[0] - 1.2 * i as f32 / 30.0, p[1], p[2]]))
            .collect();
        assert_close(&align_heading(&treadmill).unwrap(), &a, 1e-5);
        // A z-up lab walking along +y: (x, y, z) → (z, x, y), a proper rotation.
        let lab = transform(&w, |p| [p[2], p[0], p[1]]);
        assert_close(&align_heading(&lab).unwrap(), &a, 1e-5);
        // x forward, y up, left on −z; the head is above the pelvis (the origin).
        assert!(a[0][HEAD][1] > 0.3, "{}", a[0][HEAD][1]);
        assert!(a[0][LEFT_HIP][2] < 0.0 && a[0][LEFT_FOOT][0] > a[0][LEFT_ANKLE][0]);
        // Swapping the joint labels gives the mirror image: z negated, labels swapped.
        let m: Vec<Frame> = w.iter().map(crate::dataset::mirror_frame).collect();
        let am = align_heading(&m).unwrap();
        let expected: Vec<Frame> = a
            .iter()
            .map(|f| crate::dataset::mirror_frame(f).map(|p| [p[0], p[1], -p[2]]))
            .collect();
        assert_close(&am, &expected, 1e-5);
    }

    #[test]
    fn canonical_walker_is_only_translated_and_scaled() {
        let w = canonical_walker(30);
        let a = align_movement_normalized(&w).unwrap();
        assert_close(&a, &expected_canonical(&w), 1e-5);
    }

    #[test]
    fn walking_along_minus_z_is_rotated_onto_x() {
        let w = canonical_walker(30);
        // Rotate 90° about y: +x → −z, −z (left) → −x; then translate.
        let moved = transform(&w, |p| [p[2] + 3.0, p[1] + 0.5, -p[0] - 2.0]);
        assert!(
            moved[29][PELVIS][2] < moved[0][PELVIS][2] - 1.0,
            "walks along −z"
        );
        let a = align_movement_normalized(&moved).unwrap();
        assert_close(&a, &expected_canonical(&w), 1e-4);
    }

    #[test]
    fn isotropic_alignment_keeps_proportions_and_local_changes_local() {
        let w = canonical_walker(30);
        let o = w[0][PELVIS];
        let a = align_movement_isotropic(&w).unwrap();
        // Canonical input: only the frame-0 pelvis offset removed and one scale, the x scale
        // of the original alignment.
        let orig = align_movement_normalized(&w).unwrap();
        let scale = (w[5][LEFT_ANKLE][0] - o[0]) / orig[5][LEFT_ANKLE][0];
        let expected: Vec<Frame> = w
            .iter()
            .map(|f| f.map(|p| [0, 1, 2].map(|c| (p[c] - o[c]) / scale)))
            .collect();
        assert_close(&a, &expected, 1e-5);
        // Rotated and translated input aligns to the same result.
        let moved = transform(&w, |p| [p[2] + 3.0, p[1] + 0.5, -p[0] - 2.0]);
        assert_close(&align_movement_isotropic(&moved).unwrap(), &a, 1e-4);
        // Moving one wrist outwards (a new z extreme) changes only that joint here, while the
        // original's min/max scaling moves every joint's z.
        let mut wide = w.clone();
        for f in &mut wide {
            f[20][2] -= 0.3;
        }
        let iso = align_movement_isotropic(&wide).unwrap();
        let org = align_movement_normalized(&wide).unwrap();
        for j in (0..NUM_JOINTS).filter(|&j| j != 20) {
            assert!((iso[3][j][2] - a[3][j][2]).abs() < 1e-6, "joint {j}");
        }
        assert!((org[3][LEFT_ANKLE][2] - orig[3][LEFT_ANKLE][2]).abs() > 1e-3);
        // Versions name the alignments and round-trip.
        for al in [Alignment::Original, Alignment::Isotropic] {
            assert_eq!(Alignment::from_version(al.version()), Some(al));
        }
        assert_eq!(Alignment::from_version("align_movement_normalized/0"), None);
        assert_eq!(Alignment::Isotropic.apply(&w).unwrap(), a);
    }

    #[test]
    fn walking_along_minus_x_takes_the_180_degree_branch() {
        let w = canonical_walker(30);
        let moved = transform(&w, |p| [-p[0], p[1], -p[2]]);
        let a = align_movement_normalized(&moved).unwrap();
        assert_close(&a, &expected_canonical(&w), 1e-5);
    }

    #[test]
    fn upside_down_and_z_up_inputs_are_turned_upright() {
        let w = canonical_walker(30);
        // 180° about x: y → −y, z → −z.
        let upside = transform(&w, |p| [p[0], -p[1], -p[2]]);
        assert_close(
            &align_movement_normalized(&upside).unwrap(),
            &expected_canonical(&w),
            1e-5,
        );
        // z up: +90° about x maps (x, y, z) → (x, −z, y).
        let zup = transform(&w, |p| [p[0], -p[2], p[1]]);
        assert_close(
            &align_movement_normalized(&zup).unwrap(),
            &expected_canonical(&w),
            1e-5,
        );
        // −z up.
        let zdown = transform(&w, |p| [p[0], p[2], -p[1]]);
        assert_close(
            &align_movement_normalized(&zdown).unwrap(),
            &expected_canonical(&w),
            1e-5,
        );
    }

    #[test]
    fn mirrored_input_is_flipped_back() {
        let w = canonical_walker(30);
        let mirrored = transform(&w, |p| [p[0], p[1], -p[2]]);
        assert_close(
            &align_movement_normalized(&mirrored).unwrap(),
            &expected_canonical(&w),
            1e-5,
        );
    }

    #[test]
    fn output_ranges() {
        let w = canonical_walker(30);
        let moved = transform(&w, |p| {
            [0.6 * p[0] - 0.8 * p[2], p[1], 0.8 * p[0] + 0.6 * p[2]]
        });
        let a = align_movement_normalized(&moved).unwrap();
        for c in 1..3 {
            let lo = a.iter().flatten().map(|p| p[c]).fold(f32::MAX, f32::min);
            let hi = a.iter().flatten().map(|p| p[c]).fold(f32::MIN, f32::max);
            assert!(
                (lo + 1.0).abs() < 1e-6 && (hi - 1.0).abs() < 1e-6,
                "axis {c}: {lo}..{hi}"
            );
        }
        assert_eq!(a[0][PELVIS][0], 0.0);
        assert!(a[29][PELVIS][0] > 0.0);
    }

    #[test]
    fn degenerate_windows_are_errors() {
        assert_eq!(align_movement_normalized(&[]), Err(AlignError::Empty));
        let w = canonical_walker(30);
        let still = vec![w[0]; 5];
        assert!(matches!(
            align_movement_normalized(&still),
            Err(AlignError::NoDisplacement { .. })
        ));
        let mut bad = w.clone();
        bad[3][5][1] = f32::NAN;
        assert_eq!(
            align_movement_normalized(&bad),
            Err(AlignError::NonFinite { frame: 3, joint: 5 })
        );
    }
}
