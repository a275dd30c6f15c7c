//! Normative healthy walking as joint-angle curves over the gait cycle, and their conversion to
//! local joint rotations of a 22-joint SMPL-structured body.
//!
//! Sources of the normative sagittal curves (mean adult level walking, degrees, phase in % of
//! the gait cycle from heel strike): J. Perry & J. M. Burnfield, *Gait Analysis: Normal and
//! Pathological Function*, 2nd ed., SLACK 2010, ch. 4–8 (hip ≈ +30° at initial contact, ≈ −10°
//! peak extension in terminal stance, ≈ +35° peak flexion in late swing; knee ≈ 5° at initial
//! contact, ≈ 15–20° loading-response flexion, ≈ 60° peak in swing; ankle ≈ −5° plantarflexion
//! after contact, ≈ +10° dorsiflexion in terminal stance, ≈ −15–20° plantarflexion at toe-off);
//! D. A. Winter, *Biomechanics and Motor Control of Human Movement*, 4th ed., Wiley 2009,
//! appendix A (frontal/transverse ranges); M. P. Kadaba et al., J Orthop Res 8:383–392, 1990
//! (pelvis tilt ±2°, obliquity ±4°, rotation ±4°; hip ab/adduction ±5°; hip rotation ±4°).
//! The curves are given as key points taken from those figures, interpolated periodically
//! (Catmull–Rom) and represented by their first [`HARMONICS`] Fourier harmonics, which keeps
//! them smooth and periodic.
//!
//! Model frame (the default body): y up, the body faces +z, x points to the body's left. In it
//! hip flexion and ankle dorsiflexion are negative rotations about x and knee flexion a positive
//! rotation about x (checked on the model in the tests).

use std::f64::consts::TAU;
use std::sync::OnceLock;

use nalgebra::{Rotation3, Unit, Vector3};

use crate::body::PoseFeature;
use crate::body::model::{BodyModel, SparseWeights};

/// Fourier harmonics kept per curve.
pub const HARMONICS: usize = 8;

/// A periodic curve over the gait cycle (phase in [0, 1)), degrees.
#[derive(Debug, Clone)]
pub struct FourierCurve {
    /// Mean.
    pub a0: f64,
    /// Cosine coefficients of harmonics 1..=HARMONICS.
    pub a: Vec<f64>,
    /// Sine coefficients.
    pub b: Vec<f64>,
}

impl FourierCurve {
    /// Fits the first [`HARMONICS`] harmonics to periodic key points `(phase %, value)`.
    pub fn from_keypoints(points: &[(f64, f64)]) -> Self {
        let n = 400;
        let samples: Vec<f64> = (0..n)
            .map(|i| catmull_rom_periodic(points, i as f64 / n as f64))
            .collect();
        let a0 = samples.iter().sum::<f64>() / n as f64;
        let mut a = Vec::with_capacity(HARMONICS);
        let mut b = Vec::with_capacity(HARMONICS);
        for h in 1..=HARMONICS {
            let (mut sa, mut sb) = (0.0, 0.0);
            for (i, y) in samples.iter().enumerate() {
                let w = TAU * h as f64 * i as f64 / n as f64;
                sa += y * w.cos();
                sb += y * w.sin();
            }
            a.push(2.0 * sa / n as f64);
            b.push(2.0 * sb / n as f64);
        }
        Self { a0, a, b }
    }

    /// Value at `phase` (any real; wrapped to one cycle).
    pub fn eval(&self, phase: f64) -> f64 {
        let mut y = self.a0;
        for (h, (a, b)) in self.a.iter().zip(&self.b).enumerate() {
            let w = TAU * (h + 1) as f64 * phase;
            y += a * w.cos() + b * w.sin();
        }
        y
    }
}

/// Periodic Catmull–Rom interpolation of key points `(phase %, value)` sorted by phase in [0, 100).
fn catmull_rom_periodic(points: &[(f64, f64)], phase: f64) -> f64 {
    let n = points.len();
    let x = phase.rem_euclid(1.0) * 100.0;
    let at = |i: isize| -> (f64, f64) {
        let k = i.rem_euclid(n as isize) as usize;
        let wraps = i.div_euclid(n as isize) as f64;
        (points[k].0 + 100.0 * wraps, points[k].1)
    };
    // segment i: points[i] .. points[i+1] (with wrap)
    let i = points
        .iter()
        .position(|p| p.0 > x)
        .map_or(n as isize - 1, |k| k as isize - 1);
    let (x1, y1) = at(i);
    let (x2, y2) = at(i + 1);
    let (_, y0) = at(i - 1);
    let (_, y3) = at(i + 2);
    let mut xx = x;
    if xx < x1 {
        xx += 100.0;
    }
    let t = (xx - x1) / (x2 - x1);
    let t2 = t * t;
    let t3 = t2 * t;
    0.5 * (2.0 * y1
        + (-y0 + y2) * t
        + (2.0 * y0 - 5.0 * y1 + 4.0 * y2 - y3) * t2
        + (-y0 + 3.0 * y1 - 3.0 * y2 + y3) * t3)
}

/// Hip flexion (+) key points, % cycle → degrees (Perry & Burnfield 2010, fig. 8-1).
pub const HIP_FLEXION_KEYS: [(f64, f64); 15] = [
    (0.0, 30.0),
    (10.0, 27.0),
    (20.0, 20.0),
    (30.0, 12.0),
    (40.0, 3.0),
    (50.0, -8.0),
    (55.0, -10.0),
    (60.0, -5.0),
    (65.0, 5.0),
    (70.0, 15.0),
    (75.0, 23.0),
    (80.0, 30.0),
    (85.0, 34.0),
    (90.0, 33.0),
    (95.0, 31.0),
];
/// Knee flexion (+) key points (Perry & Burnfield 2010, fig. 7-1).
pub const KNEE_FLEXION_KEYS: [(f64, f64); 16] = [
    (0.0, 5.0),
    (5.0, 10.0),
    (12.0, 17.0),
    (18.0, 18.0),
    (25.0, 12.0),
    (35.0, 6.0),
    (42.0, 4.0),
    (50.0, 8.0),
    (56.0, 20.0),
    (62.0, 38.0),
    (68.0, 54.0),
    (72.0, 60.0),
    (76.0, 58.0),
    (82.0, 45.0),
    (88.0, 25.0),
    (94.0, 9.0),
];
/// Ankle dorsiflexion (+) key points (Perry & Burnfield 2010, fig. 5-1).
pub const ANKLE_DORSIFLEXION_KEYS: [(f64, f64); 15] = [
    (0.0, 0.0),
    (5.0, -4.0),
    (10.0, -6.0),
    (15.0, -2.0),
    (25.0, 4.0),
    (35.0, 7.0),
    (45.0, 10.0),
    (50.0, 9.0),
    (55.0, 2.0),
    (60.0, -10.0),
    (64.0, -15.0),
    (68.0, -12.0),
    (75.0, -4.0),
    (82.0, 0.0),
    (90.0, 1.0),
];
/// Hip abduction (+) key points (Winter 2009; Kadaba et al. 1990): adduction in loading,
/// abduction around toe-off.
pub const HIP_ABDUCTION_KEYS: [(f64, f64); 7] = [
    (0.0, 0.0),
    (12.0, -5.0),
    (30.0, -3.0),
    (50.0, 0.0),
    (65.0, 5.0),
    (75.0, 3.0),
    (90.0, 0.0),
];

/// The fitted normative curves.
#[derive(Debug, Clone)]
pub struct NormativeCurves {
    /// Hip flexion.
    pub hip_flexion: FourierCurve,
    /// Knee flexion.
    pub knee_flexion: FourierCurve,
    /// Ankle dorsiflexion.
    pub ankle_dorsiflexion: FourierCurve,
    /// Hip abduction.
    pub hip_abduction: FourierCurve,
}

/// The normative curves, fitted once.
pub fn normative() -> &'static NormativeCurves {
    static C: OnceLock<NormativeCurves> = OnceLock::new();
    C.get_or_init(|| NormativeCurves {
        hip_flexion: FourierCurve::from_keypoints(&HIP_FLEXION_KEYS),
        knee_flexion: FourierCurve::from_keypoints(&KNEE_FLEXION_KEYS),
        ankle_dorsiflexion: FourierCurve::from_keypoints(&ANKLE_DORSIFLEXION_KEYS),
        hip_abduction: FourierCurve::from_keypoints(&HIP_ABDUCTION_KEYS),
    })
}

/// Clinical angles of one leg, degrees (positive: flexion, abduction, internal rotation,
/// knee flexion, dorsiflexion).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LegAngles {
    /// Hip flexion.
    pub hip_flexion: f64,
    /// Hip abduction.
    pub hip_abduction: f64,
    /// Hip internal rotation.
    pub hip_rotation: f64,
    /// Knee flexion.
    pub knee_flexion: f64,
    /// Ankle dorsiflexion.
    pub ankle_dorsiflexion: f64,
}

/// Clinical angles of the whole body for one frame, degrees.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FrameAngles {
    /// Pelvis anterior tilt.
    pub pelvis_tilt: f64,
    /// Pelvis obliquity, left side up positive.
    pub pelvis_obliquity: f64,
    /// Pelvis rotation, left side forward positive.
    pub pelvis_rotation: f64,
    /// Left leg.
    pub left: LegAngles,
    /// Right leg.
    pub right: LegAngles,
    /// Forward trunk lean relative to vertical.
    pub trunk_lean: f64,
    /// Shoulder flexion (arm swing forward positive), left and right.
    pub shoulder_flexion: [f64; 2],
    /// Elbow flexion, left and right.
    pub elbow_flexion: [f64; 2],
}

/// Number of angle degrees of freedom in [`FrameAngles`] (for per-frame noise).
pub const NUM_DOF: usize = 18;

impl FrameAngles {
    /// Mutable references to every angle, in a fixed order.
    pub fn dofs_mut(&mut self) -> [&mut f64; NUM_DOF] {
        let [sl, sr] = &mut self.shoulder_flexion;
        let [el, er] = &mut self.elbow_flexion;
        [
            &mut self.pelvis_tilt,
            &mut self.pelvis_obliquity,
            &mut self.pelvis_rotation,
            &mut self.left.hip_flexion,
            &mut self.left.hip_abduction,
            &mut self.left.hip_rotation,
            &mut self.left.knee_flexion,
            &mut self.left.ankle_dorsiflexion,
            &mut self.right.hip_flexion,
            &mut self.right.hip_abduction,
            &mut self.right.hip_rotation,
            &mut self.right.knee_flexion,
            &mut self.right.ankle_dorsiflexion,
            &mut self.trunk_lean,
            sl,
            sr,
            el,
            er,
        ]
    }
}

/// Per-subject style: amplitude scales and offsets around the normative curves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Style {
    /// Scales of the hip, knee, ankle sagittal ranges about their means.
    pub sagittal_scale: [f64; 3],
    /// Offsets (degrees) of hip, knee, ankle per side `[side][joint]`.
    pub sagittal_offset_deg: [[f64; 3]; 2],
    /// Scale of frontal/transverse pelvis and hip motion.
    pub frontal_scale: f64,
    /// Scale of arm swing.
    pub arm_scale: f64,
    /// Forward trunk lean, degrees.
    pub trunk_lean_deg: f64,
}

impl Default for Style {
    fn default() -> Self {
        Self {
            sagittal_scale: [1.0; 3],
            sagittal_offset_deg: [[0.0; 3]; 2],
            frontal_scale: 1.0,
            arm_scale: 1.0,
            trunk_lean_deg: 3.0,
        }
    }
}

fn leg_angles(style: &Style, side: usize, phase: f64) -> LegAngles {
    let c = normative();
    let scaled = |curve: &FourierCurve, k: usize| {
        curve.a0
            + (curve.eval(phase) - curve.a0) * style.sagittal_scale[k]
            + style.sagittal_offset_deg[side][k]
    };
    LegAngles {
        hip_flexion: scaled(&c.hip_flexion, 0),
        knee_flexion: scaled(&c.knee_flexion, 1),
        ankle_dorsiflexion: scaled(&c.ankle_dorsiflexion, 2),
        hip_abduction: c.hip_abduction.eval(phase) * style.frontal_scale,
        hip_rotation: 4.0 * style.frontal_scale * (TAU * (phase - 0.3)).cos(),
    }
}

/// Healthy angles at left-leg phase `phase_left` (0 = left heel strike); the right leg runs half
/// a cycle later.
pub fn healthy_angles(style: &Style, phase_left: f64) -> FrameAngles {
    let pl = phase_left.rem_euclid(1.0);
    let pr = (pl + 0.5).rem_euclid(1.0);
    let fs = style.frontal_scale;
    let swing = |p: f64| 4.0 - 12.0 * style.arm_scale * (TAU * p).cos();
    let elbow = |p: f64| 20.0 - 6.0 * style.arm_scale * (TAU * p).cos();
    FrameAngles {
        pelvis_tilt: 1.5 * fs * (2.0 * TAU * (pl - 0.1)).cos(),
        pelvis_obliquity: 4.0 * fs * (TAU * (pl - 0.2)).cos(),
        pelvis_rotation: 4.0 * fs * (TAU * pl).cos(),
        left: leg_angles(style, 0, pl),
        right: leg_angles(style, 1, pr),
        trunk_lean: style.trunk_lean_deg,
        shoulder_flexion: [swing(pl), swing(pr)],
        elbow_flexion: [elbow(pl), elbow(pr)],
    }
}

fn rx(deg: f64) -> Rotation3<f64> {
    Rotation3::from_axis_angle(&Vector3::x_axis(), deg.to_radians())
}
fn ry(deg: f64) -> Rotation3<f64> {
    Rotation3::from_axis_angle(&Vector3::y_axis(), deg.to_radians())
}
fn rz(deg: f64) -> Rotation3<f64> {
    Rotation3::from_axis_angle(&Vector3::z_axis(), deg.to_radians())
}

/// Rest-pose facts of a body needed to pose it: arm lowering and elbow flexion axes.
#[derive(Debug, Clone)]
pub struct Rig {
    /// Rotation taking each rest upper arm (left, right) to hanging down, slightly abducted.
    pub arm_down: [Rotation3<f64>; 2],
    /// Elbow flexion axis (left, right) in the rest frame.
    pub elbow_axis: [Unit<Vector3<f64>>; 2],
    /// Number of joints of the model (pose vector length / 3).
    pub num_joints: usize,
}

/// Joint indices (SMPL order) used here.
pub mod joints {
    /// Hip, knee, ankle, foot of the left leg.
    pub const LEFT_LEG: [usize; 4] = [1, 4, 7, 10];
    /// Hip, knee, ankle, foot of the right leg.
    pub const RIGHT_LEG: [usize; 4] = [2, 5, 8, 11];
    /// Spine joints.
    pub const SPINE: [usize; 3] = [3, 6, 9];
    /// Neck.
    pub const NECK: usize = 12;
    /// Shoulders (left, right).
    pub const SHOULDER: [usize; 2] = [16, 17];
    /// Elbows (left, right).
    pub const ELBOW: [usize; 2] = [18, 19];
    /// Wrists (left, right).
    pub const WRIST: [usize; 2] = [20, 21];
}

impl Rig {
    /// Derives the rig from a model's rest joints (`joints_rest` from the shaped model).
    pub fn new(num_joints: usize, joints_rest: &[Vector3<f64>]) -> Self {
        let dir = |a: usize, b: usize| (joints_rest[b] - joints_rest[a]).normalize();
        let forward = Vector3::z();
        let arm_down = [0, 1].map(|s| {
            let out = if s == 0 { 0.15 } else { -0.15 };
            let target = Vector3::new(out, -1.0, 0.0).normalize();
            Rotation3::rotation_between(&dir(joints::SHOULDER[s], joints::ELBOW[s]), &target)
                .unwrap_or_else(Rotation3::identity)
        });
        let elbow_axis = [0, 1].map(|s| {
            let u = dir(joints::ELBOW[s], joints::WRIST[s]);
            let a = u.cross(&forward);
            if a.norm() < 1e-9 {
                Vector3::x_axis()
            } else {
                Unit::new_normalize(a)
            }
        });
        Self {
            arm_down,
            elbow_axis,
            num_joints,
        }
    }

    /// Axis-angle pose vector (`3·num_joints`) for the angles, with the body heading `yaw_deg`
    /// about +y (0: walking along +z).
    pub fn pose(&self, a: &FrameAngles, yaw_deg: f64) -> Vec<f64> {
        let mut rots = vec![Rotation3::identity(); self.num_joints];
        rots[0] = ry(yaw_deg) * ry(-a.pelvis_rotation) * rz(a.pelvis_obliquity) * rx(a.pelvis_tilt);
        for (s, leg) in [(0usize, &a.left), (1, &a.right)] {
            let sign = if s == 0 { 1.0 } else { -1.0 };
            let idx = if s == 0 {
                joints::LEFT_LEG
            } else {
                joints::RIGHT_LEG
            };
            rots[idx[0]] =
                rx(-leg.hip_flexion) * rz(sign * leg.hip_abduction) * ry(-sign * leg.hip_rotation);
            rots[idx[1]] = rx(leg.knee_flexion);
            rots[idx[2]] = rx(-leg.ankle_dorsiflexion);
        }
        for &j in &joints::SPINE {
            rots[j] = rx((a.trunk_lean - a.pelvis_tilt) / 3.0)
                * rz(-a.pelvis_obliquity / 3.0)
                * ry(1.6 * a.pelvis_rotation / 3.0);
        }
        rots[joints::NECK] = ry(-0.6 * a.pelvis_rotation);
        for s in 0..2 {
            rots[joints::SHOULDER[s]] = rx(-a.shoulder_flexion[s]) * self.arm_down[s];
            rots[joints::ELBOW[s]] =
                Rotation3::from_axis_angle(&self.elbow_axis[s], a.elbow_flexion[s].to_radians());
        }
        rots.iter()
            .flat_map(|r| {
                let v = r.scaled_axis();
                [v.x, v.y, v.z]
            })
            .collect()
    }
}

/// A minimal 22-joint skeleton with SMPL topology and adult proportions (T-pose, metres, y up,
/// facing +z, left on +x; one vertex, two shape components: height and hip width), for tests
/// and for running without the embedded mesh.
pub fn stick_body() -> BodyModel {
    use crate::body::default_model::{JOINT_NAMES, JOINT_PARENTS};
    let j: [[f64; 3]; 22] = [
        [0.0, 0.93, 0.0],
        [0.09, 0.85, 0.0],
        [-0.09, 0.85, 0.0],
        [0.0, 1.03, 0.0],
        [0.10, 0.48, 0.0],
        [-0.10, 0.48, 0.0],
        [0.0, 1.16, 0.0],
        [0.10, 0.08, -0.02],
        [-0.10, 0.08, -0.02],
        [0.0, 1.22, 0.0],
        [0.11, 0.02, 0.12],
        [-0.11, 0.02, 0.12],
        [0.0, 1.45, 0.0],
        [0.07, 1.38, 0.0],
        [-0.07, 1.38, 0.0],
        [0.0, 1.60, 0.02],
        [0.18, 1.40, 0.0],
        [-0.18, 1.40, 0.0],
        [0.45, 1.40, 0.0],
        [-0.45, 1.40, 0.0],
        [0.70, 1.40, 0.0],
        [-0.70, 1.40, 0.0],
    ];
    let k = 2;
    let mut j_shapedirs = vec![0.0; 22 * 3 * k];
    for (jj, p) in j.iter().enumerate() {
        for c in 0..3 {
            // beta 0: 6 % taller per unit; beta 1: 5 % wider per unit.
            j_shapedirs[(jj * 3 + c) * k] = 0.06 * p[c];
            if c == 0 {
                j_shapedirs[(jj * 3 + c) * k + 1] = 0.05 * p[c];
            }
        }
    }
    BodyModel {
        name: "stick skeleton (tests)".into(),
        v_template: vec![[0.0, 0.93, 0.0]],
        faces: Vec::new(),
        num_betas: k,
        shapedirs: vec![0.0; 3 * k],
        pose_feature: PoseFeature::None,
        posedirs: Vec::new(),
        j_template: j.to_vec(),
        j_shapedirs,
        parents: JOINT_PARENTS.to_vec(),
        joint_names: JOINT_NAMES.iter().map(|s| s.to_string()).collect(),
        weights: SparseWeights::from_dense(
            &std::iter::once(1.0)
                .chain(std::iter::repeat_n(0.0, 21))
                .collect::<Vec<f32>>(),
            1,
            22,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::posed_joints;

    #[test]
    fn fourier_curves_reproduce_the_textbook_landmarks() {
        let c = normative();
        let knee: Vec<f64> = (0..100)
            .map(|i| c.knee_flexion.eval(i as f64 / 100.0))
            .collect();
        let (imax, kmax) = knee
            .iter()
            .enumerate()
            .fold((0, f64::MIN), |m, (i, &v)| if v > m.1 { (i, v) } else { m });
        assert!((55.0..65.0).contains(&kmax), "knee peak {kmax}");
        assert!((66..78).contains(&imax), "knee peak at {imax} %");
        assert!(
            (0.0..10.0).contains(&knee[0]),
            "knee at heel strike {}",
            knee[0]
        );
        let hip: Vec<f64> = (0..100)
            .map(|i| c.hip_flexion.eval(i as f64 / 100.0))
            .collect();
        let hmax = hip.iter().cloned().fold(f64::MIN, f64::max);
        let hmin = hip.iter().cloned().fold(f64::MAX, f64::min);
        assert!(
            (30.0..38.0).contains(&hmax) && (-13.0..-7.0).contains(&hmin),
            "{hmin}..{hmax}"
        );
        let ank: Vec<f64> = (0..100)
            .map(|i| c.ankle_dorsiflexion.eval(i as f64 / 100.0))
            .collect();
        let amax = ank.iter().cloned().fold(f64::MIN, f64::max);
        let amin = ank.iter().cloned().fold(f64::MAX, f64::min);
        assert!(
            (8.0..13.0).contains(&amax) && (-18.0..-12.0).contains(&amin),
            "{amin}..{amax}"
        );
    }

    /// Posed joints of `model` for angles with only one clinical angle set.
    fn pose_one(model: &BodyModel, f: impl Fn(&mut FrameAngles)) -> crate::dataset::Frame {
        let rest = model.rest_joints(&[]);
        let rig = Rig::new(model.num_joints(), &rest);
        let mut a = FrameAngles::default();
        f(&mut a);
        posed_joints(model, &rest, &rig.pose(&a, 0.0), [0.0; 3]).unwrap()
    }

    fn check_signs(model: &BodyModel) {
        let rest = pose_one(model, |_| {});
        // Hip flexion brings the left knee forward (+z).
        let p = pose_one(model, |a| a.left.hip_flexion = 30.0);
        assert!(
            p[4][2] > rest[4][2] + 0.1,
            "hip flexion: knee z {} vs {}",
            p[4][2],
            rest[4][2]
        );
        // Knee flexion brings the right ankle backward (−z).
        let p = pose_one(model, |a| a.right.knee_flexion = 40.0);
        assert!(
            p[8][2] < rest[8][2] - 0.1,
            "knee flexion: ankle z {}",
            p[8][2]
        );
        // Dorsiflexion raises the left foot joint.
        let p = pose_one(model, |a| a.left.ankle_dorsiflexion = 20.0);
        assert!(
            p[10][1] > rest[10][1] + 0.01,
            "dorsiflexion: foot y {}",
            p[10][1]
        );
        // Abduction moves each ankle away from the midline.
        let p = pose_one(model, |a| {
            a.left.hip_abduction = 15.0;
            a.right.hip_abduction = 15.0;
        });
        assert!(p[7][0] > rest[7][0] + 0.05 && p[8][0] < rest[8][0] - 0.05);
        // Arms hang down (wrist below shoulder) and swing forward with shoulder flexion.
        assert!(rest[20][1] < rest[16][1] - 0.3 && rest[21][1] < rest[17][1] - 0.3);
        let p = pose_one(model, |a| a.shoulder_flexion = [30.0, 30.0]);
        assert!(p[20][2] > rest[20][2] + 0.1 && p[21][2] > rest[21][2] + 0.1);
        // Pelvis rotation "left forward" moves the left hip forward.
        let p = pose_one(model, |a| a.pelvis_rotation = 10.0);
        assert!(p[1][2] > rest[1][2]);
    }

    #[test]
    fn rotation_signs_on_the_stick_skeleton() {
        let m = stick_body();
        m.validate().unwrap();
        check_signs(&m);
    }

    #[test]
    fn rotation_signs_on_the_default_body() {
        check_signs(crate::body::default_model::default_body());
    }
}
