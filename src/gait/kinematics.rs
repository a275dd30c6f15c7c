//! Joint angles of fitted poses in Plug-in Gait (Conventional Gait Model) conventions, all three
//! planes where the body model allows.
//!
//! **Cardan sequence.** Every angle is the PiG sequence flexion → ab/adduction → rotation (PiG's
//! Y-X-Z in its segment axes, X forward, Y left, Z up). In the body model's axes (x left, y up,
//! z forward) that is `R = Rx(a)·Rz(b)·Ry(c)`: `a` about the medio-lateral axis, then `b` about
//! the floating antero-posterior axis, then `c` about the segment's long axis.
//!
//! **What is relative to what.** Pelvis: the pelvis segment relative to the *progression frame*
//! (up = mean feet-to-pelvis direction; forward = the pelvis' displacement over the trial, or
//! its mean heading on a treadmill). Hip: thigh relative to pelvis. Knee: shank relative to thigh.
//! Ankle: foot relative to shank, sagittal only (the model's ankle has no reliable inversion),
//! along PiG's foot long axis — the fitted ANK → TOE marker line (`FootAxes`) — when the marker
//! set has both markers: a fit with no heel marker leaves the foot's roll about its long axis
//! free, and the Cardan angle of the whole foot rotation mixed that roll into dorsiflexion
//! (sample03's left ankle: r 0.69 against Vicon with the Cardan angle, 0.97 with the marker
//! line). Foot progression: the foot segment's forward axis in the horizontal plane relative to
//! the direction of progression.
//!
//! **Signs (PiG).** Pelvis: anterior tilt, the side's own hip up (obliquity), the side's own
//! half of the pelvis forward (rotation) positive. Hip: flexion, adduction, internal rotation
//! positive. Knee: flexion, varus, internal rotation positive. Ankle: dorsiflexion positive.
//! Foot progression: internal (toes pointing in) positive. Right-side frontal and transverse
//! angles are mirrored so that each side reads the same way.
//!
//! **Zeros.** The body model's rest pose is upright with a neutral foot; PiG's pelvis is tilted
//! by its ASIS–PSIS plane and its ankle zero is set by the heel–toe line of the static trial.
//! Two constant offsets, measured on the rest body's own markers, map one onto the other: the
//! pelvis tilt of the PiG pelvis markers (LASI/RASI/LPSI/RPSI; it also enters hip flexion, as
//! in PiG) and the rest pitch of the HEE → TOE line. All other zeros are the model's rest pose.

use std::collections::BTreeMap;

use nalgebra::{Matrix3, Rotation3, Vector3};
use serde::Serialize;
use thiserror::Error;

use super::cycles::Side;
use crate::body::markers::{MarkerSet, marker_position};
use crate::body::{BodyModel, ShapedBody};
use crate::fit::PelvisMarkers;
use crate::fit::angles::cardan_xzy;
use crate::fit::skinned_markers::SkinnedMarker;
use crate::formats::pose_seq::PoseSequence;

/// One kinematic variable of the gait report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Variable {
    /// Pelvic anterior (+) / posterior tilt.
    PelvisTilt,
    /// Pelvic obliquity, own side up (+).
    PelvisObliquity,
    /// Pelvic rotation, own side forward (+).
    PelvisRotation,
    /// Hip flexion (+) / extension.
    HipFlexion,
    /// Hip adduction (+) / abduction.
    HipAdduction,
    /// Hip internal (+) / external rotation.
    HipRotation,
    /// Knee flexion (+) / extension.
    KneeFlexion,
    /// Knee varus (+) / valgus.
    KneeVarus,
    /// Knee internal (+) / external rotation.
    KneeRotation,
    /// Ankle dorsiflexion (+) / plantarflexion.
    AnkleDorsiflexion,
    /// Foot progression, internal (+) / external.
    FootProgression,
}

impl Variable {
    /// Every variable, in report order.
    pub const ALL: [Variable; 11] = [
        Variable::PelvisTilt,
        Variable::PelvisObliquity,
        Variable::PelvisRotation,
        Variable::HipFlexion,
        Variable::HipAdduction,
        Variable::HipRotation,
        Variable::KneeFlexion,
        Variable::KneeVarus,
        Variable::KneeRotation,
        Variable::AnkleDorsiflexion,
        Variable::FootProgression,
    ];

    /// The nine variables of the Gait Profile Score (Baker et al. 2009), in MAP order.
    pub const GPS: [Variable; 9] = [
        Variable::PelvisTilt,
        Variable::PelvisObliquity,
        Variable::PelvisRotation,
        Variable::HipFlexion,
        Variable::HipAdduction,
        Variable::HipRotation,
        Variable::KneeFlexion,
        Variable::AnkleDorsiflexion,
        Variable::FootProgression,
    ];

    /// Snake-case key used in JSON and CSV.
    pub fn key(self) -> &'static str {
        match self {
            Variable::PelvisTilt => "pelvis_tilt",
            Variable::PelvisObliquity => "pelvis_obliquity",
            Variable::PelvisRotation => "pelvis_rotation",
            Variable::HipFlexion => "hip_flexion",
            Variable::HipAdduction => "hip_adduction",
            Variable::HipRotation => "hip_rotation",
            Variable::KneeFlexion => "knee_flexion",
            Variable::KneeVarus => "knee_varus",
            Variable::KneeRotation => "knee_rotation",
            Variable::AnkleDorsiflexion => "ankle_dorsiflexion",
            Variable::FootProgression => "foot_progression",
        }
    }

    /// Title for figures, with the positive direction.
    pub fn title(self) -> &'static str {
        match self {
            Variable::PelvisTilt => "Pelvic tilt (ant +)",
            Variable::PelvisObliquity => "Pelvic obliquity (up +)",
            Variable::PelvisRotation => "Pelvic rotation (int +)",
            Variable::HipFlexion => "Hip flexion (+)",
            Variable::HipAdduction => "Hip adduction (+)",
            Variable::HipRotation => "Hip rotation (int +)",
            Variable::KneeFlexion => "Knee flexion (+)",
            Variable::KneeVarus => "Knee varus (+)",
            Variable::KneeRotation => "Knee rotation (int +)",
            Variable::AnkleDorsiflexion => "Ankle dorsiflexion (+)",
            Variable::FootProgression => "Foot progression (int +)",
        }
    }

    /// Name of the variable in the Schwartz 2008 normative table.
    pub fn normative_name(self) -> &'static str {
        match self {
            Variable::PelvisTilt => "Pelvic Ant/Posterior Tilt",
            Variable::PelvisObliquity => "Pelvic Up/Down Obliquity",
            Variable::PelvisRotation => "Pelvic Int/External Rotation",
            Variable::HipFlexion => "Hip Flex/Extension",
            Variable::HipAdduction => "Hip Ad/Abduction",
            Variable::HipRotation => "Hip Int/External Rotation",
            Variable::KneeFlexion => "Knee Flex/Extension",
            Variable::KneeVarus => "Knee Ad/Abduction",
            Variable::KneeRotation => "Knee Int/External Rotation",
            Variable::AnkleDorsiflexion => "Ankle Dorsi/Plantarflexion",
            Variable::FootProgression => "Foot Int/External Progression",
        }
    }

    /// Vicon Plug-in Gait output holding this variable (without the `L`/`R` prefix) and the
    /// component index in it.
    pub fn vicon_output(self) -> (&'static str, usize) {
        match self {
            Variable::PelvisTilt => ("PelvisAngles", 0),
            Variable::PelvisObliquity => ("PelvisAngles", 1),
            Variable::PelvisRotation => ("PelvisAngles", 2),
            Variable::HipFlexion => ("HipAngles", 0),
            Variable::HipAdduction => ("HipAngles", 1),
            Variable::HipRotation => ("HipAngles", 2),
            Variable::KneeFlexion => ("KneeAngles", 0),
            Variable::KneeVarus => ("KneeAngles", 1),
            Variable::KneeRotation => ("KneeAngles", 2),
            Variable::AnkleDorsiflexion => ("AnkleAngles", 0),
            Variable::FootProgression => ("FootProgressAngles", 2),
        }
    }

    /// The sagittal, frontal or transverse plane.
    pub fn plane(self) -> &'static str {
        match self {
            Variable::PelvisTilt
            | Variable::HipFlexion
            | Variable::KneeFlexion
            | Variable::AnkleDorsiflexion => "sagittal",
            Variable::PelvisObliquity | Variable::HipAdduction | Variable::KneeVarus => "frontal",
            _ => "transverse",
        }
    }

    /// Whether the variable belongs to the pelvis (one per trial, mirrored per side).
    pub fn is_pelvis(self) -> bool {
        matches!(
            self,
            Variable::PelvisTilt | Variable::PelvisObliquity | Variable::PelvisRotation
        )
    }

    /// How far this angle of a marker fit can be read, in one line; `None` for the sagittal
    /// angles, which match the lab's own Plug-in Gait angles (r ≥ 0.95 on every shared walk that
    /// stores them). The pelvis' and hips' frontal and transverse angles also depend on how the
    /// fit moved the pelvis markers (`None`: not recorded, i.e. fitted before 2026-12-06 with
    /// them on the skin, or not by gaitlens).
    pub fn caveat(self, pelvis_markers: Option<PelvisMarkers>) -> Option<&'static str> {
        if self.plane() == "sagittal" {
            return None;
        }
        let pelvis_or_hip =
            self.is_pelvis() || matches!(self, Variable::HipAdduction | Variable::HipRotation);
        Some(
            if pelvis_or_hip && pelvis_markers != Some(PelvisMarkers::Rigid) {
                // Measured 2026-12-07 on the 17 walks whose files store Vicon's angles
                // (README, "Which differences to believe"): skin fits widen the hips'
                // ab/adduction range by a median 5.0° (rigid: −0.6°) and miss its left − right
                // range difference by up to 10.8° (8.8°).
                "frontal / transverse angle of a fit with the pelvis markers on the skin: less \
             certain than the sagittal angles (the fitted pelvis rolls against the spine; hip \
             ab/adduction ranges ran a median 5° wider than the lab's own angles); fit with \
             rigid pelvis markers (--pelvis-markers rigid) to read this plane"
            } else {
                "frontal / transverse angle: less certain than the sagittal angles (marker fits pin \
             these planes loosely; README, \"Against Vicon's own Plug-in Gait outputs\")"
            },
        )
    }
}

/// Why kinematics cannot be computed.
#[derive(Debug, Error)]
pub enum KinematicsError {
    /// The body model lacks a joint the angles need.
    #[error(
        "body model '{model}' has no '{joint}' joint (it has {joints} joints); gait angles need SMPL's leg joints"
    )]
    MissingJoint {
        /// Model name.
        model: String,
        /// The joint looked for.
        joint: &'static str,
        /// Joints the model has.
        joints: usize,
    },
    /// A frame's pose vector does not fit the model.
    #[error("frame {frame}: {reason}")]
    BadPose {
        /// Frame index.
        frame: usize,
        /// What is wrong.
        reason: String,
    },
    /// The sequence has no frames.
    #[error("the pose sequence has no frames")]
    Empty,
}

/// Angles per frame of both sides, degrees.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Kinematics {
    /// `(side, variable)` → one value per frame (NaN where undefined).
    pub curves: BTreeMap<(Side, Variable), Vec<f64>>,
    /// Posed joint positions per frame (model joint order), metres.
    #[serde(skip)]
    pub joints_m: Vec<Vec<Vector3<f64>>>,
    /// Unit vector "up" of the lab, in the poses' world frame.
    #[serde(skip)]
    pub up: Vector3<f64>,
    /// Unit direction of progression (horizontal), world frame.
    #[serde(skip)]
    pub forward: Vector3<f64>,
    /// How the direction of progression was found.
    pub progression: String,
    /// Whether the pelvis travelled through the lab (overground) rather than staying on the spot
    /// (treadmill): progression then came from its displacement.
    pub overground: bool,
    /// Constant offsets applied to map the model's rest pose to PiG zeros, degrees.
    pub offsets_deg: BTreeMap<String, f64>,
}

impl Kinematics {
    /// The curve of one side and variable.
    pub fn curve(&self, side: Side, v: Variable) -> &[f64] {
        self.curves.get(&(side, v)).map_or(&[], Vec::as_slice)
    }

    /// Posed position of joint `j` in every frame, metres.
    pub fn trajectory(&self, j: usize) -> Vec<Vector3<f64>> {
        self.joints_m.iter().map(|f| f[j]).collect()
    }
}

/// Indices of the joints the angles use.
struct LegJoints {
    pelvis: usize,
    hip: [usize; 2],
    knee: [usize; 2],
    ankle: [usize; 2],
}

impl LegJoints {
    fn of(model: &BodyModel) -> Result<Self, KinematicsError> {
        let find = |joint: &'static str| {
            model
                .joint_names
                .iter()
                .position(|n| n == joint)
                .ok_or_else(|| KinematicsError::MissingJoint {
                    model: model.name.clone(),
                    joint,
                    joints: model.num_joints(),
                })
        };
        Ok(LegJoints {
            pelvis: find("pelvis")?,
            hip: [find("left_hip")?, find("right_hip")?],
            knee: [find("left_knee")?, find("right_knee")?],
            ankle: [find("left_ankle")?, find("right_ankle")?],
        })
    }
}

/// PiG angles of every frame of `seq` posed on `model` (see the module documentation).
/// `markers` (the marker set the poses were fitted with) gives the pelvis-tilt offset.
pub fn pig_kinematics(
    model: &BodyModel,
    seq: &PoseSequence,
    markers: Option<&MarkerSet>,
) -> Result<Kinematics, KinematicsError> {
    let legs = LegJoints::of(model)?;
    if seq.num_frames() == 0 {
        return Err(KinematicsError::Empty);
    }
    let shaped = model.shape(&seq.mean_betas());
    let mut globals: Vec<Vec<Matrix3<f64>>> = Vec::with_capacity(seq.num_frames());
    let mut locals: Vec<Vec<Matrix3<f64>>> = Vec::with_capacity(seq.num_frames());
    let mut joints_m = Vec::with_capacity(seq.num_frames());
    let feet = FootAxes::new(model, &shaped, &legs, markers);
    let mut foot_pitch = Vec::with_capacity(seq.num_frames());
    for (frame, (pose, t)) in seq.poses.iter().zip(&seq.translations).enumerate() {
        let rots = model
            .rotations_from_axis_angle(pose)
            .map_err(|e| KinematicsError::BadPose {
                frame,
                reason: e.to_string(),
            })?;
        let tf = model.joint_transforms(&shaped.joints_rest, &rots, Vector3::from(*t));
        foot_pitch.push(feet.flexion(&tf));
        globals.push(
            tf.world_from_joint
                .iter()
                .map(|g| g.fixed_view::<3, 3>(0, 0).into_owned())
                .collect(),
        );
        joints_m.push(
            tf.world_from_joint
                .iter()
                .map(|g| Vector3::new(g[(0, 3)], g[(1, 3)], g[(2, 3)]))
                .collect::<Vec<_>>(),
        );
        locals.push(rots);
    }
    let (up, forward, progression, overground) = progression_frame(&legs, &joints_m, &globals);
    let left = up.cross(&forward);
    let lab = Matrix3::from_columns(&[left, up, forward]);
    let tilt0 = markers.and_then(|m| pelvis_tilt_offset(model, &shaped, m));
    let foot0 = [("LHEE", "LTOE"), ("RHEE", "RTOE")].map(|(heel, toe)| {
        markers
            .and_then(|m| foot_pitch_offset(model, &shaped, m, heel, toe))
            .unwrap_or(0.0)
    });
    let mut offsets_deg = BTreeMap::new();
    offsets_deg.insert("pelvis_tilt".to_string(), tilt0.unwrap_or(0.0).to_degrees());
    offsets_deg.insert("left_foot_pitch".to_string(), foot0[0].to_degrees());
    offsets_deg.insert("right_foot_pitch".to_string(), foot0[1].to_degrees());
    let untilt = Rotation3::from_axis_angle(&Vector3::x_axis(), -tilt0.unwrap_or(0.0));
    let mut curves: BTreeMap<(Side, Variable), Vec<f64>> = BTreeMap::new();
    for f in 0..globals.len() {
        let [pa, pb, pc] = cardan_xzy(&(lab.transpose() * globals[f][legs.pelvis]));
        for (s, side) in Side::BOTH.into_iter().enumerate() {
            // Frontal and transverse angles of the right side mirror the left's.
            let m = if side == Side::Left { 1.0 } else { -1.0 };
            let hip = cardan_xzy(&(untilt.matrix() * locals[f][legs.hip[s]]));
            let knee = cardan_xzy(&locals[f][legs.knee[s]]);
            let ankle_flexion =
                foot_pitch[f][s].unwrap_or_else(|| cardan_xzy(&locals[f][legs.ankle[s]])[0]);
            // The foot segment's forward axis (its rest heading), not the ankle → toe vector:
            // that one points steeply down around toe-off, where its heading is unstable.
            let foot = globals[f][legs.ankle[s]] * Vector3::z();
            let progression = foot.dot(&left).atan2(foot.dot(&forward));
            let values = [
                (Variable::PelvisTilt, pa + tilt0.unwrap_or(0.0)),
                (Variable::PelvisObliquity, m * pb),
                (Variable::PelvisRotation, -m * pc),
                (Variable::HipFlexion, -hip[0]),
                (Variable::HipAdduction, -m * hip[1]),
                (Variable::HipRotation, -m * hip[2]),
                (Variable::KneeFlexion, knee[0]),
                (Variable::KneeVarus, -m * knee[1]),
                (Variable::KneeRotation, -m * knee[2]),
                (Variable::AnkleDorsiflexion, -ankle_flexion - foot0[s]),
                (Variable::FootProgression, -m * progression),
            ];
            for (v, rad) in values {
                curves
                    .entry((side, v))
                    .or_default()
                    .push(wrap_deg(rad.to_degrees()));
            }
        }
    }
    Ok(Kinematics {
        curves,
        joints_m,
        up,
        forward,
        progression,
        overground,
        offsets_deg,
    })
}

/// Angle in (−180, 180] degrees.
fn wrap_deg(d: f64) -> f64 {
    let w = (d + 180.0).rem_euclid(360.0) - 180.0;
    if w == -180.0 { 180.0 } else { w }
}

/// Lab up, horizontal direction of progression, and how the latter was found.
fn progression_frame(
    legs: &LegJoints,
    joints_m: &[Vec<Vector3<f64>>],
    globals: &[Vec<Matrix3<f64>>],
) -> (Vector3<f64>, Vector3<f64>, String, bool) {
    let mut up = Vector3::zeros();
    for j in joints_m {
        up += j[legs.pelvis] - (j[legs.ankle[0]] + j[legs.ankle[1]]) / 2.0;
    }
    let up = snap_to_axis(up.try_normalize(1e-12).unwrap_or_else(Vector3::y));
    let horizontal = |v: Vector3<f64>| v - up * v.dot(&up);
    let first = joints_m[0][legs.pelvis];
    let last = joints_m[joints_m.len() - 1][legs.pelvis];
    let travel = horizontal(last - first);
    // The pelvis' own forward axis (model z), averaged: the heading on a treadmill.
    let heading = horizontal(
        globals
            .iter()
            .map(|g| g[legs.pelvis] * Vector3::z())
            .sum::<Vector3<f64>>(),
    );
    // Walking at least half a metre overground: progression is the displacement, flipped if the
    // subject walked backwards relative to the pelvis heading (never: a fit has no back-walkers,
    // but a mirrored file would).
    if travel.norm() > 0.5 {
        let f = travel.normalize();
        return (
            up,
            f,
            format!("pelvis displacement ({:.2} m)", travel.norm()),
            true,
        );
    }
    let f = heading.try_normalize(1e-12).unwrap_or_else(|| {
        let any = if up.x.abs() < 0.9 {
            Vector3::x()
        } else {
            Vector3::z()
        };
        horizontal(any).normalize()
    });
    (
        up,
        f,
        format!(
            "pelvis heading (the pelvis moved {:.2} m: treadmill or walking on the spot)",
            travel.norm()
        ),
        false,
    )
}

/// Labs put gravity along one of their axes; the body's mean feet-to-pelvis direction leans with
/// the trunk and the gait, so within [`SNAP_UP_DEG`] of an axis the axis is "up".
fn snap_to_axis(up: Vector3<f64>) -> Vector3<f64> {
    let k = up.iamax();
    let mut axis = Vector3::zeros();
    axis[k] = up[k].signum();
    if up.dot(&axis) >= SNAP_UP_DEG.to_radians().cos() {
        axis
    } else {
        up
    }
}

/// Largest lean of the feet-to-pelvis direction from a lab axis that is still that axis, degrees.
const SNAP_UP_DEG: f64 = 20.0;

/// Position of marker `name` on the rest (shaped, unposed) body, when the set has it.
fn rest_marker(
    model: &BodyModel,
    shaped: &ShapedBody,
    set: &MarkerSet,
    name: &str,
) -> Option<Vector3<f64>> {
    set.get(name)
        .map(|m| Vector3::from(marker_position(m, &shaped.v_shaped, &model.faces)))
}

/// Anterior tilt of the PiG pelvis (ASIS midpoint below-and-ahead of the PSIS midpoint) on the
/// rest body, radians; `None` without the four pelvis markers.
fn pelvis_tilt_offset(model: &BodyModel, shaped: &ShapedBody, set: &MarkerSet) -> Option<f64> {
    let at = |name: &str| rest_marker(model, shaped, set, name);
    let asis = (at("LASI")? + at("RASI")?) / 2.0;
    let psis = (at("LPSI")? + at("RPSI")?) / 2.0;
    let d = asis - psis; // forward (+z) and, in a tilted pelvis, down (−y)
    Some((-d.y).atan2(d.z))
}

/// PiG's foot long axis of each side in the shank's sagittal plane. PiG puts the ankle centre
/// medial of the ANK marker along the shank's medio-lateral axis, so in that plane its
/// ankle centre → TOE line is the ANK → TOE line; we take it between the fitted body's own ANK
/// and TOE markers (`None` for a side without both markers: the Cardan angle of the foot is
/// used). The body's ankle joint centre is not used: a fit with no heel marker leaves the foot's
/// roll about the joint free, and on sample03's left foot the joint → toe line read r 0.91
/// against Vicon, the marker line 0.97 (README, clinical gait analysis).
struct FootAxes {
    /// Per side: (ANK, TOE, shank joint, rest pitch of ANK → TOE).
    sides: [Option<(SkinnedMarker, SkinnedMarker, usize, f64)>; 2],
}

impl FootAxes {
    fn new(
        model: &BodyModel,
        shaped: &ShapedBody,
        legs: &LegJoints,
        set: Option<&MarkerSet>,
    ) -> Self {
        let side = |prefix: &str, knee: usize| {
            let set = set?;
            let marker = |n: &str| {
                Some(SkinnedMarker::new(
                    model,
                    shaped,
                    set.get(&format!("{prefix}{n}"))?,
                ))
            };
            let (ank, toe) = (marker("ANK")?, marker("TOE")?);
            let d = toe.rest_m - ank.rest_m;
            (d.norm() > 1e-6).then(|| {
                let pitch0 = foot_axis_pitch(&d);
                (ank, toe, knee, pitch0)
            })
        };
        FootAxes {
            sides: [side("L", legs.knee[0]), side("R", legs.knee[1])],
        }
    }

    /// Plantarflexion (radians, the Cardan `a` sign) of each side's foot axis from rest.
    fn flexion(&self, tf: &crate::body::JointTransforms) -> [Option<f64>; 2] {
        self.sides.each_ref().map(|s| {
            let (ank, toe, knee, pitch0) = s.as_ref()?;
            let shank = tf.world_from_joint[*knee]
                .fixed_view::<3, 3>(0, 0)
                .into_owned();
            let d = shank.transpose()
                * (toe.posed(&tf.world_from_rest) - ank.posed(&tf.world_from_rest));
            Some(foot_axis_pitch(&d) - pitch0)
        })
    }
}

/// Downward pitch (radians) of a foot vector in its shank's frame: the angle of its projection
/// on the shank's sagittal plane below the shank's forward axis.
fn foot_axis_pitch(d: &Vector3<f64>) -> f64 {
    (-d.y).atan2(d.z)
}

/// Downward pitch of the rest foot's heel → toe marker line, radians: PiG's static calibration
/// puts the ankle's zero where that line (the sole, for a flat-footed static) is at right angles
/// to the shank; `None` without both markers (then the rest foot is the zero).
fn foot_pitch_offset(
    model: &BodyModel,
    shaped: &ShapedBody,
    set: &MarkerSet,
    heel: &str,
    toe: &str,
) -> Option<f64> {
    let d = rest_marker(model, shaped, set, toe)? - rest_marker(model, shaped, set, heel)?;
    Some(foot_axis_pitch(&d))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::default_model::{default_body, default_markers};
    use crate::formats::pose_seq::PoseFileFormat;

    /// A two-frame walk of the default body: the left hip flexed, abducted and internally
    /// rotated by known angles; the right knee flexed; the pelvis carried 1 m forward (+z).
    fn walk(model: &BodyModel) -> PoseSequence {
        let j = |n: &str| model.joint_names.iter().position(|x| x == n).unwrap();
        let mut pose = vec![0.0; 3 * model.num_joints()];
        // R = Rx(-20°)·Rz(-10°)·Ry(-15°) on the left hip: flexion 20, adduction 10, int rot 15.
        let r = Rotation3::from_axis_angle(&Vector3::x_axis(), (-20f64).to_radians())
            * Rotation3::from_axis_angle(&Vector3::z_axis(), (-10f64).to_radians())
            * Rotation3::from_axis_angle(&Vector3::y_axis(), (-15f64).to_radians());
        let aa = r.scaled_axis();
        pose[3 * j("left_hip")..3 * j("left_hip") + 3].copy_from_slice(aa.as_slice());
        pose[3 * j("right_knee")] = 30f64.to_radians();
        PoseSequence {
            betas: vec![vec![0.0; 10]; 2],
            poses: vec![pose.clone(), pose],
            translations: vec![[0.0, 0.0, 0.0], [0.0, 0.0, 1.0]],
            rate_hz: Some(100.0),
            frame_numbers: vec![0, 1],
            source: None,
            format: PoseFileFormat::Json,
        }
    }

    #[test]
    fn known_joint_rotations_read_back_in_pig_signs() {
        let model = default_body();
        let k = pig_kinematics(model, &walk(model), None).unwrap();
        let at = |s, v| k.curve(s, v)[0];
        assert!((at(Side::Left, Variable::HipFlexion) - 20.0).abs() < 1e-6);
        assert!((at(Side::Left, Variable::HipAdduction) - 10.0).abs() < 1e-6);
        assert!((at(Side::Left, Variable::HipRotation) - 15.0).abs() < 1e-6);
        assert!((at(Side::Right, Variable::KneeFlexion) - 30.0).abs() < 1e-6);
        assert!(at(Side::Left, Variable::KneeFlexion).abs() < 1e-6);
        assert!(at(Side::Left, Variable::PelvisTilt).abs() < 1e-6);
        assert!(k.progression.starts_with("pelvis displacement"));
        assert!((k.forward - Vector3::z()).norm() < 1e-9);
    }

    #[test]
    fn pig_pelvis_markers_tilt_the_pelvis_forward_and_flex_the_hips() {
        let model = default_body();
        let k = pig_kinematics(model, &walk(model), Some(default_markers())).unwrap();
        let tilt = k.curve(Side::Right, Variable::PelvisTilt)[0];
        // ASIS lie below the PSIS in a standing adult: a few to ~15° anterior tilt.
        assert!((2.0..20.0).contains(&tilt), "rest pelvis tilt {tilt}");
        let hip = k.curve(Side::Right, Variable::HipFlexion)[0];
        assert!(
            (hip - tilt).abs() < 1e-6,
            "straight hip reads the tilt: {hip} vs {tilt}"
        );
    }

    /// The ankle reads PiG's foot axis (the fitted ANK → TOE marker line in the shank's sagittal
    /// plane): a pure 15° dorsiflexion reads 15°, a 20° plantarflexion −20°.
    #[test]
    fn ankle_dorsiflexion_follows_the_ank_to_toe_line() {
        let model = default_body();
        let ankle = model
            .joint_names
            .iter()
            .position(|x| x == "left_ankle")
            .unwrap();
        let mut seq = walk(model);
        let rest = vec![0.0; 3 * model.num_joints()];
        seq.poses = [0.0f64, -15.0, 20.0]
            .iter()
            .map(|deg| {
                let mut p = rest.clone();
                p[3 * ankle] = deg.to_radians();
                p
            })
            .collect();
        seq.translations = vec![[0.0, 0.0, 0.0], [0.0, 0.0, 0.5], [0.0, 0.0, 1.0]];
        seq.betas = vec![vec![0.0; 10]; 3];
        seq.frame_numbers = vec![0, 1, 2];
        let k = pig_kinematics(model, &seq, Some(default_markers())).unwrap();
        let a = k.curve(Side::Left, Variable::AnkleDorsiflexion);
        assert!((a[1] - a[0] - 15.0).abs() < 0.3, "dorsiflexion: {a:?}");
        assert!((a[2] - a[0] + 20.0).abs() < 0.3, "plantarflexion: {a:?}");
    }

    #[test]
    fn a_model_without_legs_is_a_typed_error() {
        let mut model = default_body().clone();
        model.joint_names[4] = "elbow".into();
        let err = pig_kinematics(&model, &walk(default_body()), None).unwrap_err();
        assert!(matches!(err, KinematicsError::MissingJoint { .. }), "{err}");
    }
}
