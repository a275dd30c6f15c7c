//! Pathologies **transplanted onto real walks**: a fitted pose sequence (local joint rotations of
//! the SMPL-structured body) is changed at the moments of the gait cycle where a pathology acts,
//! together with the compensations patients show, and realistic healthy variation is added.
//!
//! Frames of the body: x to the body's left, y up, z forward (SMPL rest frame); each joint's
//! local rotation is changed by pre-multiplying a rotation about its parent's axes. In this frame
//! hip flexion and ankle dorsiflexion are −x rotations, knee flexion +x; abduction of the left
//! hip +z, of the right −z; anterior pelvic tilt and forward trunk lean +x; raising the pelvis
//! on the left +z. Pelvis rotations pivot about a hip (the stance hip stays put) and keep the
//! thighs' and trunk's world orientation unless the pattern moves them on purpose.
//!
//! Patterns and compensations follow Perry & Burnfield (2010, ch. 9–13) and Kerrigan et al.
//! (circumduction, hip hiking and vaulting in stiff-knee gait, *Am J Phys Med Rehabil* 1998;
//! 2001); magnitudes are at severity 1 and scale linearly.

use std::collections::BTreeSet;

use nalgebra::{Rotation3, UnitQuaternion, Vector3};
use serde::{Deserialize, Serialize};

use super::pathology::{Pathology, Side, window};
use crate::body::BodyModel;
use crate::dataset::sequence_from_poses;
use crate::fit::angles::cardan_xzy;
use crate::formats::pose_seq::PoseSequence;
use crate::gait::{GaitEventError, detect_events_from_joints};
use crate::rng::SplitMix64;

use crate::body::smpl22::{ANKLES as ANKLE, HIPS as HIP, KNEES as KNEE, PELVIS, SPINE1};

/// One walk in rotation form with the gait phase of every frame.
#[derive(Debug, Clone)]
pub struct WalkPoses {
    /// Local joint rotations, frame × joint.
    pub rotations: Vec<Vec<Rotation3<f64>>>,
    /// Root translation per frame, metres.
    pub translations: Vec<Vector3<f64>>,
    /// Shape coefficients (the subject's mean).
    pub betas: Vec<f64>,
    /// Shaped rest joints (pivots of pelvis rotations).
    pub rest: Vec<Vector3<f64>>,
    /// Gait phase in [0, 1) of the left and right leg per frame (0 = that foot's strike).
    pub phase: [Vec<f64>; 2],
    /// Frame rate, Hz.
    pub rate_hz: f64,
    /// Median stride time of the source, seconds.
    pub stride_s: f64,
}

impl WalkPoses {
    /// Converts a fitted pose sequence; the gait phase comes from events detected on the posed
    /// joints ([`crate::gait::events`]).
    pub fn from_poses(
        model: &BodyModel,
        poses: &PoseSequence,
        rate_hz: f64,
    ) -> Result<Self, WalkError> {
        if model.num_joints() < crate::dataset::NUM_JOINTS {
            return Err(WalkError::TooFewJoints {
                found: model.num_joints(),
            });
        }
        let seq =
            sequence_from_poses(model, poses, "walk", "walk", false, Vec::new()).map_err(|e| {
                WalkError::Pose {
                    reason: e.to_string(),
                }
            })?;
        let events = detect_events_from_joints(&seq.joints, rate_hz)?;
        let phase = events.phases(poses.num_frames())?;
        let stride_s = events.stride_s().unwrap_or(1.0);
        let betas = poses.mean_betas();
        let rotations = poses
            .poses
            .iter()
            .map(|p| {
                p.chunks_exact(3)
                    .map(|a| Rotation3::from_scaled_axis(Vector3::new(a[0], a[1], a[2])))
                    .collect()
            })
            .collect();
        Ok(Self {
            rotations,
            translations: poses
                .translations
                .iter()
                .map(|t| Vector3::from(*t))
                .collect(),
            rest: model.rest_joints(&betas),
            betas,
            phase,
            rate_hz,
            stride_s,
        })
    }

    /// Number of frames.
    pub fn len(&self) -> usize {
        self.rotations.len()
    }

    /// Whether there are no frames.
    pub fn is_empty(&self) -> bool {
        self.rotations.is_empty()
    }

    /// Back to a pose sequence (axis-angle per joint), frames numbered from 0.
    pub fn to_poses(&self) -> PoseSequence {
        PoseSequence::from_rotations(
            &self.betas,
            &self.rotations,
            &self.translations,
            self.rate_hz,
            UnitQuaternion::from_rotation_matrix,
        )
    }

    /// Resamples the walk to `out_rate_hz` while multiplying its cadence by `cadence_factor`
    /// (rotations by slerp, translations and the unwrapped phase linearly): a faster walk covers
    /// the same ground in less time.
    pub fn warped(&self, cadence_factor: f64, out_rate_hz: f64) -> Self {
        let samples = self.warp_samples(cadence_factor, out_rate_hz);
        let n_out = samples.len();
        let phase_u = [unwrap_phase(&self.phase[0]), unwrap_phase(&self.phase[1])];
        let mut out = Self {
            rotations: Vec::with_capacity(n_out),
            translations: Vec::with_capacity(n_out),
            phase: [Vec::with_capacity(n_out), Vec::with_capacity(n_out)],
            rate_hz: out_rate_hz,
            stride_s: self.stride_s / cadence_factor,
            ..self.clone()
        };
        for (a, b, w) in samples {
            out.rotations.push(
                self.rotations[a]
                    .iter()
                    .zip(&self.rotations[b])
                    .map(|(ra, rb)| slerp(ra, rb, w))
                    .collect(),
            );
            out.translations
                .push(self.translations[a] * (1.0 - w) + self.translations[b] * w);
            for (phase, u) in out.phase.iter_mut().zip(&phase_u) {
                phase.push((u[a] * (1.0 - w) + u[b] * w).rem_euclid(1.0));
            }
        }
        out
    }

    /// This walk with `inj` transplanted ([`inject`]) at the pathology's slower cadence, at the
    /// walk's own rate — what `gaitlens synth inject` writes and the viewer's what-if panel shows —
    /// with the joints it changed and `measured` (per frame, whether the legs were measured)
    /// carried through the slower cadence.
    pub fn with_pathology(
        &self,
        inj: &Injection,
        measured: Option<&[bool]>,
    ) -> (Self, Locus, Option<Vec<bool>>) {
        let mut w = self.clone();
        let locus = inject(&mut w, inj);
        let cadence = cadence_factor(inj.pathology, inj.severity);
        let measured = measured.map(|m| w.warped_flags(m, cadence, self.rate_hz));
        (w.warped(cadence, self.rate_hz), locus, measured)
    }

    /// Per-frame flags of this walk (e.g. whether its legs were measured) carried through
    /// [`WalkPoses::warped`] with the same arguments: a warped frame is set when every source
    /// frame it is interpolated from is.
    pub fn warped_flags(&self, flags: &[bool], cadence_factor: f64, out_rate_hz: f64) -> Vec<bool> {
        let at = |f: usize| flags.get(f).copied().unwrap_or(false);
        self.warp_samples(cadence_factor, out_rate_hz)
            .into_iter()
            .map(|(a, b, w)| at(a) && (w == 0.0 || at(b)))
            .collect()
    }

    /// Where each frame of [`WalkPoses::warped`] samples this walk: source frames `a` and `b`
    /// and the weight of `b` (one sampling rule for poses and flags).
    fn warp_samples(&self, cadence_factor: f64, out_rate_hz: f64) -> Vec<(usize, usize, f64)> {
        let step = cadence_factor * self.rate_hz / out_rate_hz;
        let n_out = ((self.len() - 1) as f64 / step).floor() as usize + 1;
        (0..n_out)
            .map(|i| {
                let tau = i as f64 * step;
                let a = (tau.floor() as usize).min(self.len() - 1);
                let b = (a + 1).min(self.len() - 1);
                (a, b, tau - a as f64)
            })
            .collect()
    }

    /// Frames `range` of this walk (clamped to its length), phases and timing kept.
    pub fn cropped(&self, range: std::ops::Range<usize>) -> Self {
        let end = range.end.min(self.len());
        let r = range.start.min(end)..end;
        Self {
            rotations: self.rotations[r.clone()].to_vec(),
            translations: self.translations[r.clone()].to_vec(),
            phase: [self.phase[0][r.clone()].to_vec(), self.phase[1][r].to_vec()],
            betas: self.betas.clone(),
            rest: self.rest.clone(),
            rate_hz: self.rate_hz,
            stride_s: self.stride_s,
        }
    }

    /// This walk moved a fraction `weight` of the way towards `other` in joint-angle space
    /// (`gaitlens synth from-walks --blend`): every frame is paired with `other`'s frame at the
    /// same left-leg gait phase (its cycles repeated as needed), each joint's local rotation is
    /// interpolated on the rotation group, and the pelvis' tilt and obliquity — not its heading —
    /// likewise. Timing, translations, body shape and phases stay this walk's. Fills the space
    /// between real walks, so a handful of recordings are no longer a handful of points.
    /// `None` when `other` has no full left cycle or another joint count.
    pub fn blended(&self, other: &WalkPoses, weight: f64) -> Option<Self> {
        let joints = self.rotations.first()?.len();
        if other.rotations.first()?.len() != joints {
            return None;
        }
        let u_self = unwrap_phase(&self.phase[0]);
        let u_other = unwrap_phase(&other.phase[0]);
        let (o0, o_end) = (u_other[0], *u_other.last()?);
        let cycles = (o_end - o0).floor();
        if cycles < 1.0 {
            return None;
        }
        let up = self.world_up();
        // Pelvis tilts differ by well under 30° between people; worlds with another up axis do not.
        let same_up = other.world_up().dot(&up) > 30f64.to_radians().cos();
        let mut out = self.clone();
        for (i, frame) in out.rotations.iter_mut().enumerate() {
            let target = o0 + (u_self[i] - o0).rem_euclid(cycles);
            let k = u_other
                .partition_point(|&u| u < target)
                .clamp(1, other.len() - 1);
            let span = u_other[k] - u_other[k - 1];
            let t = if span > 1e-12 {
                ((target - u_other[k - 1]) / span).clamp(0.0, 1.0)
            } else {
                0.0
            };
            for (j, r) in frame.iter_mut().enumerate() {
                if j == PELVIS && !same_up {
                    continue;
                }
                let partner = slerp(&other.rotations[k - 1][j], &other.rotations[k][j], t);
                *r = if j == PELVIS {
                    let yaw = heading_about(r, &up);
                    let own_tilt = yaw.inverse() * *r;
                    let partner_tilt = heading_about(&partner, &up).inverse() * partner;
                    yaw * slerp(&own_tilt, &partner_tilt, weight)
                } else {
                    slerp(r, &partner, weight)
                };
            }
        }
        Some(out)
    }

    /// The world's up direction (mean of the pelvis' up axis).
    fn world_up(&self) -> Vector3<f64> {
        let s: Vector3<f64> = self
            .rotations
            .iter()
            .map(|f| f[PELVIS] * Vector3::y())
            .sum();
        s.try_normalize(1e-9).unwrap_or_else(Vector3::y)
    }

    /// Scales the horizontal progression of the root from frame 0 by `factor` (shorter steps).
    fn scale_progression(&mut self, factor: f64) {
        let up = self.world_up();
        let t0 = self.translations[0];
        for t in &mut self.translations {
            let d = *t - t0;
            let vertical = up * d.dot(&up);
            *t = t0 + vertical + (d - vertical) * factor;
        }
    }
}

/// Why a walk cannot be used for transplants.
#[derive(Debug, thiserror::Error)]
pub enum WalkError {
    /// The body model has fewer than SMPL's 22 body joints.
    #[error("the body model has {found} joints; transplants need SMPL's 22 body joints")]
    TooFewJoints {
        /// Joints of the model.
        found: usize,
    },
    /// The poses cannot be posed on the body model.
    #[error("cannot pose the walk: {reason}")]
    Pose {
        /// What is wrong.
        reason: String,
    },
    /// No gait cycle was found in the walk.
    #[error("no gait cycle: {0}")]
    Events(#[from] GaitEventError),
}

/// A pathology to transplant.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Injection {
    /// The pattern.
    pub pathology: Pathology,
    /// Affected side (`Both` applies a one-sided pattern to each leg).
    pub side: Side,
    /// Severity in [0, 1].
    pub severity: f64,
}

/// Which joints a transplant changed, by role.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Locus {
    /// Joints the pathology itself acts on (SMPL indices, sorted).
    pub primary: Vec<usize>,
    /// Joints changed by the compensations (and by keeping thighs and trunk in place when the
    /// pelvis moves), sorted, disjoint from `primary`.
    pub compensation: Vec<usize>,
}

/// Collects touched joints by role while a pattern is applied.
#[derive(Default)]
struct Touched {
    primary: BTreeSet<usize>,
    compensation: BTreeSet<usize>,
}

impl Touched {
    fn mark(&mut self, joint: usize, primary: bool) {
        if primary {
            self.primary.insert(joint);
        } else {
            self.compensation.insert(joint);
        }
    }

    fn into_locus(self) -> Locus {
        Locus {
            compensation: self
                .compensation
                .difference(&self.primary)
                .copied()
                .collect(),
            primary: self.primary.into_iter().collect(),
        }
    }
}

/// One frame being edited.
struct FrameEdit<'a> {
    rot: &'a mut [Rotation3<f64>],
    trans: &'a mut Vector3<f64>,
    rest: &'a [Vector3<f64>],
    touched: &'a mut Touched,
}

/// Clinical sign of flexion about x for hips/ankles (−) and knees (+).
fn flexion_sign(joint: usize) -> f64 {
    if KNEE.contains(&joint) { 1.0 } else { -1.0 }
}

/// Flexion (hip, knee) or dorsiflexion (ankle) of a local rotation, degrees.
fn flexion_deg(r: &Rotation3<f64>, joint: usize) -> f64 {
    flexion_sign(joint) * cardan_xzy(r.matrix())[0].to_degrees()
}

/// +1 for the left side, −1 for the right (sign of abduction and hiking about z).
fn side_sign(s: usize) -> f64 {
    if s == 0 { 1.0 } else { -1.0 }
}

impl FrameEdit<'_> {
    fn pre(&mut self, joint: usize, delta: Rotation3<f64>, primary: bool) {
        if delta.angle() > 1e-12 {
            self.rot[joint] = delta * self.rot[joint];
            self.touched.mark(joint, primary);
        }
    }

    /// Adds clinical flexion (hip, knee) or dorsiflexion (ankle), degrees.
    fn flex(&mut self, joint: usize, deg: f64, primary: bool) {
        let d =
            Rotation3::from_axis_angle(&Vector3::x_axis(), flexion_sign(joint) * deg.to_radians());
        self.pre(joint, d, primary);
    }

    /// Abducts hip `s` (0 left, 1 right), degrees.
    fn abduct(&mut self, s: usize, deg: f64, primary: bool) {
        let d = Rotation3::from_axis_angle(&Vector3::z_axis(), side_sign(s) * deg.to_radians());
        self.pre(HIP[s], d, primary);
    }

    /// Leans the trunk towards side `s` (frontal plane), degrees.
    fn lean_sideways(&mut self, s: usize, deg: f64, primary: bool) {
        let d = Rotation3::from_axis_angle(&Vector3::z_axis(), -side_sign(s) * deg.to_radians());
        self.pre(SPINE1, d, primary);
    }

    /// Leans the trunk forward, degrees.
    fn lean_forward(&mut self, deg: f64, primary: bool) {
        let d = Rotation3::from_axis_angle(&Vector3::x_axis(), deg.to_radians());
        self.pre(SPINE1, d, primary);
    }

    /// Rotates the pelvis by `delta` (pelvis frame) about `pivot` (a rest joint position), the
    /// thighs and trunk keeping their world orientation unless listed in `carried`.
    fn rotate_pelvis(
        &mut self,
        delta: Rotation3<f64>,
        pivot: Vector3<f64>,
        carried: &[usize],
        primary: bool,
    ) {
        if delta.angle() < 1e-12 {
            return;
        }
        let c = pivot - self.rest[PELVIS];
        let r0 = self.rot[PELVIS];
        *self.trans += r0 * c - r0 * (delta * c);
        self.rot[PELVIS] = r0 * delta;
        self.touched.mark(PELVIS, primary);
        for j in [HIP[0], HIP[1], SPINE1] {
            if !carried.contains(&j) {
                self.pre(j, delta.inverse(), false);
            }
        }
    }

    /// Raises side `s` of the pelvis by `deg` about the other hip (that leg stays put).
    fn hike(&mut self, s: usize, deg: f64, primary: bool) {
        let d = Rotation3::from_axis_angle(&Vector3::z_axis(), side_sign(s) * deg.to_radians());
        let pivot = self.rest[HIP[1 - s]];
        self.rotate_pelvis(d, pivot, &[], primary);
    }
}

/// Cadence multiplier of a pathology at `severity` (patients walk slower).
pub fn cadence_factor(p: Pathology, severity: f64) -> f64 {
    let slowing = match p {
        Pathology::StiffKnee | Pathology::Circumduction | Pathology::Crouch => 0.15,
        Pathology::ReducedHipFlexion => 0.10,
        Pathology::Trendelenburg => 0.08,
        Pathology::FootDrop | Pathology::EquinusToeWalking => 0.05,
    };
    1.0 - slowing * severity.clamp(0.0, 1.0)
}

/// Step-length multiplier of a pathology at `severity`.
fn step_factor(p: Pathology, severity: f64) -> f64 {
    let shortening = match p {
        Pathology::StiffKnee | Pathology::Crouch => 0.2,
        Pathology::Circumduction | Pathology::ReducedHipFlexion => 0.1,
        _ => 0.0,
    };
    1.0 - shortening * severity.clamp(0.0, 1.0)
}

/// A wrapped phase in [0, 1) made continuous (one unit per cycle).
fn unwrap_phase(p: &[f64]) -> Vec<f64> {
    let mut u = Vec::with_capacity(p.len());
    for (i, &v) in p.iter().enumerate() {
        u.push(if i == 0 {
            v
        } else {
            u[i - 1] + (v - p[i - 1]).rem_euclid(1.0)
        });
    }
    u
}

/// The rotation `t` of the way from `a` to `b` on the rotation group (`t` outside [0, 1]
/// extrapolates along the same geodesic).
fn slerp(a: &Rotation3<f64>, b: &Rotation3<f64>, t: f64) -> Rotation3<f64> {
    a * Rotation3::from_scaled_axis((a.inverse() * b).scaled_axis() * t)
}

/// The rotation about `up` that turns a horizontal reference direction into the direction `r`'s
/// forward axis (+z) faces: `r`'s heading, so that `heading⁻¹ · r` keeps only tilt and obliquity.
fn heading_about(r: &Rotation3<f64>, up: &Vector3<f64>) -> Rotation3<f64> {
    let flat = |v: Vector3<f64>| v - up * v.dot(up);
    let reference = flat(Vector3::z())
        .try_normalize(1e-3)
        .or_else(|| flat(Vector3::x()).try_normalize(1e-3))
        .unwrap_or_else(Vector3::x);
    let side = up.cross(&reference);
    let f = flat(r * Vector3::z());
    let angle = f.dot(&side).atan2(f.dot(&reference));
    Rotation3::from_axis_angle(&nalgebra::Unit::new_normalize(*up), angle)
}

/// Transplants `inj` onto `walk` in place (angles, pelvis and step length; the slower cadence
/// is applied by [`WalkPoses::warped`] with [`cadence_factor`]). Returns the joints changed.
pub fn inject(walk: &mut WalkPoses, inj: &Injection) -> Locus {
    let sev = inj.severity.clamp(0.0, 1.0);
    let sides: &[usize] = match (inj.side, inj.pathology) {
        (_, Pathology::Crouch) | (Side::Both, _) => &[0, 1],
        (Side::Left, _) => &[0],
        (Side::Right, _) => &[1],
    };
    let mean_hip: [f64; 2] = [0, 1].map(|s| {
        walk.rotations
            .iter()
            .map(|f| flexion_deg(&f[HIP[s]], HIP[s]))
            .sum::<f64>()
            / walk.len().max(1) as f64
    });
    let mut touched = Touched::default();
    let rest = walk.rest.clone();
    for i in 0..walk.len() {
        let phase = [walk.phase[0][i], walk.phase[1][i]];
        let mut e = FrameEdit {
            rot: &mut walk.rotations[i],
            trans: &mut walk.translations[i],
            rest: &rest,
            touched: &mut touched,
        };
        if inj.pathology == Pathology::Crouch {
            crouch(&mut e, sev);
            continue;
        }
        for &s in sides {
            apply_one_side(&mut e, inj.pathology, sev, s, phase, mean_hip);
        }
    }
    let f = step_factor(inj.pathology, sev);
    if f < 1.0 {
        walk.scale_progression(f);
    }
    touched.into_locus()
}

/// Bilateral crouch: more knee, hip and ankle flexion, anterior pelvic tilt, forward trunk lean.
fn crouch(e: &mut FrameEdit, sev: f64) {
    for s in 0..2 {
        let k = flexion_deg(&e.rot[KNEE[s]], KNEE[s]);
        e.flex(KNEE[s], 25.0 * sev * (1.0 - k / 70.0).max(0.0), true);
        e.flex(HIP[s], 15.0 * sev, true);
        e.flex(ANKLE[s], 10.0 * sev, false);
    }
    let mid = (e.rest[HIP[0]] + e.rest[HIP[1]]) / 2.0;
    let tilt = Rotation3::from_axis_angle(&Vector3::x_axis(), (8.0 * sev).to_radians());
    e.rotate_pelvis(tilt, mid, &[], false);
    e.lean_forward(8.0 * sev, false);
}

/// A one-sided pattern on side `s` (0 left, 1 right) at the legs' phases.
fn apply_one_side(
    e: &mut FrameEdit,
    p: Pathology,
    sev: f64,
    s: usize,
    phase: [f64; 2],
    mean_hip: [f64; 2],
) {
    let c = 1 - s;
    let ph = phase[s];
    let swing = window(ph, 0.55, 1.0);
    let knee_excess = (flexion_deg(&e.rot[KNEE[s]], KNEE[s]) - 10.0).max(0.0);
    match p {
        Pathology::StiffKnee => {
            e.flex(
                KNEE[s],
                -0.7 * sev * knee_excess * window(ph, 0.45, 1.0),
                true,
            );
            e.hike(s, 5.0 * sev * swing, false);
            e.abduct(s, 4.0 * sev * swing, false);
            e.flex(ANKLE[c], -8.0 * sev * swing, false); // vaulting on the other foot
            for side in [s, c] {
                let h = flexion_deg(&e.rot[HIP[side]], HIP[side]);
                e.flex(HIP[side], -0.2 * sev * (h - mean_hip[side]), false);
            }
        }
        Pathology::ReducedHipFlexion => {
            // Flexion above the walk's own mean hip angle, not above the model's rest zero: on
            // fitted walks that zero lies near the top of the hip's range (the fitted pelvis
            // carries the posture), so measured from it severity 1 took off only 3–10° of peak.
            let h = flexion_deg(&e.rot[HIP[s]], HIP[s]) - mean_hip[s];
            e.flex(HIP[s], -0.7 * sev * h.max(0.0), true);
            // The pelvis turns to carry the weak limb forward in swing.
            let turn = Rotation3::from_axis_angle(
                &Vector3::y_axis(),
                -side_sign(s) * (6.0 * sev * window(ph, 0.5, 1.0)).to_radians(),
            );
            let pivot = e.rest[HIP[c]];
            e.rotate_pelvis(turn, pivot, &[HIP[s]], false);
        }
        Pathology::FootDrop => {
            e.flex(ANKLE[s], -30.0 * sev * window(ph, 0.55, 1.1), true);
            // Steppage: more hip and knee flexion in swing to clear the dropped foot.
            e.flex(HIP[s], 10.0 * sev * window(ph, 0.6, 1.0), false);
            e.flex(KNEE[s], 15.0 * sev * window(ph, 0.55, 0.95), false);
        }
        Pathology::Circumduction => {
            e.abduct(s, 12.0 * sev * swing, true);
            e.flex(
                KNEE[s],
                -0.5 * sev * knee_excess * window(ph, 0.45, 1.0),
                true,
            );
            e.hike(s, 5.0 * sev * swing, false);
            e.flex(ANKLE[c], -10.0 * sev * window(ph, 0.6, 0.95), false);
        }
        Pathology::Trendelenburg => {
            // In this side's stance the other side of the pelvis drops (pivot: this hip).
            let drop = 8.0 * sev * window(ph, 0.0, 0.6);
            let d =
                Rotation3::from_axis_angle(&Vector3::z_axis(), side_sign(s) * drop.to_radians());
            let pivot = e.rest[HIP[s]];
            e.rotate_pelvis(d, pivot, &[], true);
            if drop > 1e-9 {
                e.touched.mark(HIP[s], true); // the stance hip adducts under the dropping pelvis
            }
            e.lean_sideways(s, 5.0 * sev * window(ph, 0.0, 0.6), false);
        }
        Pathology::EquinusToeWalking => {
            e.flex(ANKLE[s], -20.0 * sev, true);
            e.flex(KNEE[s], 8.0 * sev * window(ph, 0.9, 1.15), false);
            e.flex(HIP[s], 6.0 * sev * window(ph, 0.6, 1.0), false);
        }
        Pathology::Crouch => unreachable!("crouch is bilateral and handled by `crouch`"),
    }
}

/// Realistic healthy variation of one walk: cadence, body shape, constant joint-angle offsets
/// sized by the between-subject SD of normative gait (Schwartz et al. 2008, free speed), with
/// smaller side-to-side differences.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Augmentation {
    /// Cadence multiplier.
    pub cadence_factor: f64,
    /// Shape coefficients.
    pub betas: Vec<f64>,
    /// Per side (left, right): hip flexion, hip abduction, hip rotation, ankle dorsiflexion
    /// offsets, degrees.
    pub offsets_deg: [[f64; 4]; 2],
    /// Per side: knee flexion scale.
    pub knee_scale: [f64; 2],
    /// Anterior pelvic tilt offset, degrees.
    pub pelvis_tilt_deg: f64,
    /// Forward trunk lean offset, degrees.
    pub trunk_lean_deg: f64,
    /// Per side: scale of the hip and ankle flexion excursions about their means.
    pub excursion_scale: [[f64; 2]; 2],
    /// Constant small rotations (rotation vectors, radians) of the trunk, neck, head and arm
    /// joints (SMPL 6, 9, 12–21): posture and arm carriage differ between people, and lower-body
    /// marker sets leave them at the fitter's neutral pose.
    pub upper_body_rad: Vec<(usize, [f64; 3])>,
}

/// Upper-body joints varied by [`Augmentation::upper_body_rad`] with their SD in degrees.
const UPPER_BODY_SD_DEG: [(usize, f64); 12] = [
    (6, 2.0),
    (9, 2.0),
    (12, 3.0),
    (13, 3.0),
    (14, 3.0),
    (15, 4.0),
    (16, 8.0),
    (17, 8.0),
    (18, 10.0),
    (19, 10.0),
    (20, 5.0),
    (21, 5.0),
];

impl Augmentation {
    /// No change.
    pub fn identity(betas: &[f64]) -> Self {
        Self {
            cadence_factor: 1.0,
            betas: betas.to_vec(),
            offsets_deg: [[0.0; 4]; 2],
            knee_scale: [1.0; 2],
            pelvis_tilt_deg: 0.0,
            trunk_lean_deg: 0.0,
            excursion_scale: [[1.0; 2]; 2],
            upper_body_rad: Vec::new(),
        }
    }

    /// A random variation around a subject with shape `betas`; `scale` multiplies every spread
    /// (1 = the normative between-subject SDs described on [`Augmentation`]).
    pub fn draw(rng: &mut SplitMix64, betas: &[f64], scale: f64) -> Self {
        let sd =
            |var: &str| crate::gait::normative::curve(var, "free").map_or(5.0, |c| c.mean_sd());
        let sds = [
            sd("Hip Flex/Extension"),
            sd("Hip Ad/Abduction"),
            0.5 * sd("Hip Int/External Rotation"),
            sd("Ankle Dorsi/Plantarflexion"),
        ];
        let k = scale.max(0.0);
        let shared: Vec<f64> = sds.iter().map(|s| 0.5 * k * s * rng.normal()).collect();
        let offsets_deg =
            [0, 1].map(|_| std::array::from_fn(|i| shared[i] + 0.25 * k * sds[i] * rng.normal()));
        let knee_common = 0.05 * k * rng.normal();
        let excursion_common = [0.08 * k * rng.normal(), 0.08 * k * rng.normal()];
        Self {
            cadence_factor: (1.0 + 0.07 * k * rng.normal()).clamp(0.8, 1.2),
            betas: betas
                .iter()
                .enumerate()
                .map(|(i, b)| {
                    if i < 4 {
                        (b + 0.4 * k * rng.normal()).clamp(-2.5, 2.5)
                    } else {
                        *b
                    }
                })
                .collect(),
            offsets_deg,
            knee_scale: [0, 1]
                .map(|_| (1.0 + knee_common + 0.02 * k * rng.normal()).clamp(0.75, 1.25)),
            pelvis_tilt_deg: 0.5 * k * sd("Pelvic Ant/Posterior Tilt") * rng.normal(),
            trunk_lean_deg: 0.3 * k * sd("Trunk Ant/Posterior Tilt") * rng.normal(),
            excursion_scale: [0, 1].map(|_| {
                excursion_common.map(|c| (1.0 + c + 0.03 * k * rng.normal()).clamp(0.7, 1.3))
            }),
            upper_body_rad: UPPER_BODY_SD_DEG
                .iter()
                .map(|&(j, sd)| (j, [0; 3].map(|_| (k * sd * rng.normal()).to_radians())))
                .collect(),
        }
    }
}

/// Applies the angle part of `a` to `walk` in place (cadence is applied by [`WalkPoses::warped`]).
pub fn augment(walk: &mut WalkPoses, a: &Augmentation) {
    let mut touched = Touched::default();
    let rest = walk.rest.clone();
    let mean_flexion = |j: usize| {
        walk.rotations
            .iter()
            .map(|f| flexion_deg(&f[j], j))
            .sum::<f64>()
            / walk.len().max(1) as f64
    };
    let means: [[f64; 2]; 2] = [0, 1].map(|s| [mean_flexion(HIP[s]), mean_flexion(ANKLE[s])]);
    for i in 0..walk.len() {
        let mut e = FrameEdit {
            rot: &mut walk.rotations[i],
            trans: &mut walk.translations[i],
            rest: &rest,
            touched: &mut touched,
        };
        for s in 0..2 {
            let [hip_flex, hip_abd, hip_rot, ankle] = a.offsets_deg[s];
            e.flex(HIP[s], hip_flex, false);
            e.abduct(s, hip_abd, false);
            let rot = Rotation3::from_axis_angle(
                &Vector3::y_axis(),
                -side_sign(s) * hip_rot.to_radians(),
            );
            e.pre(HIP[s], rot, false);
            e.flex(ANKLE[s], ankle, false);
            let k = flexion_deg(&e.rot[KNEE[s]], KNEE[s]);
            e.flex(KNEE[s], (a.knee_scale[s] - 1.0) * k.max(0.0), false);
            for (m, j) in [HIP[s], ANKLE[s]].into_iter().enumerate() {
                let dev = flexion_deg(&e.rot[j], j) - means[s][m];
                e.flex(j, (a.excursion_scale[s][m] - 1.0) * dev, false);
            }
        }
        for &(j, w) in &a.upper_body_rad {
            if j < e.rot.len() {
                e.pre(j, Rotation3::from_scaled_axis(Vector3::from(w)), false);
            }
        }
        let mid = (rest[HIP[0]] + rest[HIP[1]]) / 2.0;
        let tilt = Rotation3::from_axis_angle(&Vector3::x_axis(), a.pelvis_tilt_deg.to_radians());
        e.rotate_pelvis(tilt, mid, &[], false);
        e.lean_forward(a.trunk_lean_deg, false);
    }
    walk.betas = a.betas.clone();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(frames: usize) -> WalkPoses {
        let rest: Vec<Vector3<f64>> = (0..22)
            .map(|j| Vector3::new(0.0, -0.05 * j as f64, 0.0))
            .collect();
        let rest = {
            let mut r = rest;
            r[HIP[0]] = Vector3::new(0.1, -0.1, 0.0);
            r[HIP[1]] = Vector3::new(-0.1, -0.1, 0.0);
            r
        };
        let phase = |off: f64| {
            (0..frames)
                .map(|i| (i as f64 / 100.0 + off).rem_euclid(1.0))
                .collect()
        };
        WalkPoses {
            rotations: (0..frames)
                .map(|i| {
                    let t = i as f64 / 100.0 * std::f64::consts::TAU;
                    let mut f = vec![Rotation3::identity(); 22];
                    for s in 0..2 {
                        let sh = if s == 0 { 0.0 } else { std::f64::consts::PI };
                        // 0..57°, peak in swing at 72 % of the cycle as in real gait
                        let knee = 0.5 * (1.0 - (t + sh - 0.22 * std::f64::consts::TAU).cos());
                        f[KNEE[s]] = Rotation3::from_axis_angle(&Vector3::x_axis(), knee);
                        f[HIP[s]] =
                            Rotation3::from_axis_angle(&Vector3::x_axis(), -0.4 * (t + sh).cos());
                    }
                    f
                })
                .collect(),
            translations: (0..frames)
                .map(|i| Vector3::new(0.0, 0.9, i as f64 * 0.012))
                .collect(),
            betas: vec![0.0; 4],
            rest,
            phase: [phase(0.0), phase(0.5)],
            rate_hz: 100.0,
            stride_s: 1.0,
        }
    }

    #[test]
    fn reduced_hip_flexion_takes_off_peak_flexion_wherever_the_rest_pose_lies() {
        // The same walk with its hips 25° more extended throughout (as on fitted walks whose
        // pelvis carries the posture): the peak must drop by as much.
        for offset_deg in [0.0_f64, -25.0] {
            let mut base = walk(200);
            for f in &mut base.rotations {
                for s in 0..2 {
                    let d =
                        Rotation3::from_axis_angle(&Vector3::x_axis(), -offset_deg.to_radians());
                    f[HIP[s]] = d * f[HIP[s]];
                }
            }
            let mut w = base.clone();
            inject(
                &mut w,
                &Injection {
                    pathology: Pathology::ReducedHipFlexion,
                    side: Side::Left,
                    severity: 1.0,
                },
            );
            let peak = |w: &WalkPoses, s: usize| {
                w.rotations
                    .iter()
                    .map(|f| flexion_deg(&f[HIP[s]], HIP[s]))
                    .fold(f64::MIN, f64::max)
            };
            let drop = peak(&base, 0) - peak(&w, 0);
            assert!(
                drop > 12.0,
                "offset {offset_deg}°: left peak down {drop:.1}°"
            );
            assert!(
                (peak(&base, 1) - peak(&w, 1)).abs() < 1.0,
                "right hip untouched"
            );
        }
    }

    #[test]
    fn blending_pairs_frames_by_phase_and_interpolates_joint_angles() {
        let base = walk(300);
        // The partner: knees 20° more flexed, pelvis tilted 10° forward and turned 90° (another
        // lab's walking direction), and its recording starting a quarter cycle later.
        let mut other = base.clone();
        let turn = Rotation3::from_axis_angle(&Vector3::y_axis(), std::f64::consts::FRAC_PI_2);
        let tilt = Rotation3::from_axis_angle(&Vector3::x_axis(), 10f64.to_radians());
        for f in &mut other.rotations {
            for s in 0..2 {
                f[KNEE[s]] =
                    Rotation3::from_axis_angle(&Vector3::x_axis(), 20f64.to_radians()) * f[KNEE[s]];
            }
            f[PELVIS] = turn * tilt * f[PELVIS];
        }
        let shift = 25;
        other.rotations.rotate_left(shift);
        for p in &mut other.phase {
            p.rotate_left(shift);
        }
        let half = base.blended(&other, 0.5).expect("blendable");
        for i in [0, 37, 150, 299] {
            let knee = |w: &WalkPoses| flexion_deg(&w.rotations[i][KNEE[0]], KNEE[0]);
            assert!((knee(&half) - knee(&base) - 10.0).abs() < 0.5, "frame {i}");
            let angle = (base.rotations[i][PELVIS].inverse() * half.rotations[i][PELVIS]).angle();
            assert!(
                (angle.to_degrees() - 5.0).abs() < 0.5,
                "frame {i}: pelvis {angle}"
            );
        }
        let same = base.blended(&base, 0.7).expect("blendable");
        for (a, b) in same
            .rotations
            .iter()
            .flatten()
            .zip(base.rotations.iter().flatten())
        {
            assert!(
                (a.inverse() * b).angle() < 1e-6,
                "{}",
                (a.inverse() * b).angle()
            );
        }
        assert_eq!(half.translations, base.translations);
    }

    #[test]
    fn stiff_knee_reduces_swing_flexion_on_its_side_and_records_compensations() {
        let base = walk(200);
        let mut w = base.clone();
        let locus = inject(
            &mut w,
            &Injection {
                pathology: Pathology::StiffKnee,
                side: Side::Left,
                severity: 1.0,
            },
        );
        let peak = |w: &WalkPoses, s: usize| {
            w.rotations
                .iter()
                .map(|f| flexion_deg(&f[KNEE[s]], KNEE[s]))
                .fold(f64::MIN, f64::max)
        };
        assert!(
            peak(&base, 0) > 50.0 && peak(&w, 0) < 0.7 * peak(&base, 0),
            "{} → {}",
            peak(&base, 0),
            peak(&w, 0)
        );
        assert!(
            (peak(&w, 1) - peak(&base, 1)).abs() < 1e-9,
            "the other knee is untouched"
        );
        assert_eq!(locus.primary, vec![KNEE[0]]);
        assert!(locus.compensation.contains(&PELVIS) && locus.compensation.contains(&ANKLE[1]));
        // shorter steps: less progression
        let prog = |w: &WalkPoses| (w.translations[199] - w.translations[0]).norm();
        assert!(prog(&w) < 0.85 * prog(&base));
    }

    #[test]
    fn hiking_keeps_the_other_hip_in_place_and_the_thighs_oriented() {
        let base = walk(10);
        let mut w = base.clone();
        let mut touched = Touched::default();
        let rest = w.rest.clone();
        let mut e = FrameEdit {
            rot: &mut w.rotations[0],
            trans: &mut w.translations[0],
            rest: &rest,
            touched: &mut touched,
        };
        e.hike(0, 10.0, false);
        // world position of the right hip: R0 (h − j0) + j0 + t
        let hip = |w: &WalkPoses, s: usize| {
            w.rotations[0][PELVIS] * (w.rest[HIP[s]] - w.rest[PELVIS])
                + w.rest[PELVIS]
                + w.translations[0]
        };
        assert!((hip(&w, 1) - hip(&base, 1)).norm() < 1e-12);
        assert!(hip(&w, 0).y > hip(&base, 0).y + 0.02, "left side raised");
        for hip in HIP {
            let world = |w: &WalkPoses| w.rotations[0][PELVIS] * w.rotations[0][hip];
            assert!((world(&w).matrix() - world(&base).matrix()).norm() < 1e-12);
        }
    }

    #[test]
    fn warping_changes_cadence_and_rate_and_keeps_the_phase_continuous() {
        let w = walk(200).warped(1.25, 50.0);
        // 200 frames at 100 Hz = 1.99 s; 25 % faster at 50 Hz → ≈ 80 frames
        assert_eq!(w.len(), 80);
        assert_eq!(w.rate_hz, 50.0);
        assert!((w.stride_s - 0.8).abs() < 1e-12);
        // phase advances 1.25 × 2 / 100 per output frame
        let d = (w.phase[0][11] - w.phase[0][10]).rem_euclid(1.0);
        assert!((d - 0.025).abs() < 1e-9, "{d}");
    }

    #[test]
    fn every_pathology_changes_its_primary_joints_at_severity_one() {
        for p in super::super::pathology::TRANSPLANT_PATHOLOGIES {
            let mut w = walk(200);
            let locus = inject(
                &mut w,
                &Injection {
                    pathology: p,
                    side: Side::Right,
                    severity: 1.0,
                },
            );
            assert!(!locus.primary.is_empty(), "{p:?}");
            let mut z = walk(200);
            let none = inject(
                &mut z,
                &Injection {
                    pathology: p,
                    side: Side::Right,
                    severity: 0.0,
                },
            );
            assert!(
                none.primary.is_empty() && none.compensation.is_empty(),
                "{p:?} at severity 0"
            );
        }
    }
}
