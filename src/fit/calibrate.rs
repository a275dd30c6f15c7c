//! Subject calibration: body shape (betas) and per-marker skin offsets, estimated jointly with the
//! poses of a few frames (a static trial when given, else frames spread over the walk) by one
//! Levenberg–Marquardt over all of them ([`super::joint_calibration`]).

use nalgebra::Vector3;

use super::joint_calibration::{JointProblem, JointState, ShapeEval, SharedPriors};
use super::rigid::rigid_align_root;
use super::skinned_markers::SkinnedMarker;
use super::solver::{AngleLimit, PoseProblem, PoseState, SolverConfig};
use crate::body::{BodyModel, MarkerSet};

/// Settings of the calibration.
#[derive(Debug, Clone, PartialEq)]
pub struct CalibrationConfig {
    /// Most Levenberg–Marquardt iterations of one joint solve.
    pub max_iterations: usize,
    /// Solve shape and poses with the offsets held at zero first, so shape explains what it can,
    /// then everything together.
    pub shape_first: bool,
    /// Also try the loose starts ([`Start`]) and keep the calibration with the lowest RMSE.
    pub multi_start: bool,
    /// Prior weight on betas (metres per unit beta): keeps the shape plausible.
    pub beta_prior_m: f64,
    /// Weight of the offsets' pull toward zero (metres of marker error per metre of offset).
    /// 1.0: at 0.3 the offsets of the heel, toe and ankle markers grew to 6–7 cm and the
    /// blended skinning of such displaced points bent the ankle's curve (r against Vicon's
    /// dorsiflexion 0.87 / 0.90 on FlatFoot instead of 0.98 / 0.98), at a cost of 1–3 mm of
    /// marker RMSE. Chosen on the shared walks themselves: no other walk with Vicon outputs exists
    /// here.
    pub offset_prior: f64,
    /// Largest allowed offset, metres.
    pub max_offset_m: f64,
    /// Weight (per metre of stature error) of the subject's measured height when known.
    pub height_weight: f64,
    /// Weight (per metre of error) of the subject's measured leg length when known.
    pub leg_length_weight: f64,
    /// Weight (metres per radian) against offsets that turn a segment's markers together: that
    /// turn belongs to the segment's pose, where the anatomical angles are read.
    pub rotation_gauge_m_per_rad: f64,
}

impl Default for CalibrationConfig {
    fn default() -> Self {
        CalibrationConfig {
            max_iterations: 100,
            shape_first: true,
            multi_start: true,
            beta_prior_m: 0.005,
            offset_prior: 1.0,
            max_offset_m: 0.07,
            height_weight: 1.0,
            leg_length_weight: 1.0,
            rotation_gauge_m_per_rad: 1.0,
        }
    }
}

/// The subject's measurements (C3D PROCESSING parameters), soft priors on the shape.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SubjectMeasures {
    /// Stature, metres.
    pub height_m: Option<f64>,
    /// Leg length (ASIS to medial malleolus, Plug-in Gait's `LegLength`), metres.
    pub leg_length_m: Option<f64>,
}

/// Result of calibration.
#[derive(Debug, Clone)]
pub struct Calibration {
    /// Shape coefficients.
    pub betas: Vec<f64>,
    /// Rest-space offset of each marker of the set (same order as the marker set).
    pub offsets_m: Vec<Vector3<f64>>,
    /// Fitted poses of the calibration frames.
    pub poses: Vec<PoseState>,
    /// Marker RMSE over the calibration frames after calibration, metres.
    pub rmse_m: f64,
}

/// Stature of a shaped rest body: top of head to sole, metres.
pub fn stature_m(model: &BodyModel, betas: &[f64]) -> f64 {
    let s = model.shape(betas);
    let (lo, hi) = s.v_shaped.iter().fold((f32::MAX, f32::MIN), |(lo, hi), v| {
        (lo.min(v[1]), hi.max(v[1]))
    });
    (hi - lo) as f64
}

/// Builds the solver's markers for a shape and offsets.
pub fn skinned_markers(
    model: &BodyModel,
    betas: &[f64],
    set: &MarkerSet,
    offsets_m: &[Vector3<f64>],
) -> Vec<SkinnedMarker> {
    let shaped = model.shape(betas);
    set.markers
        .iter()
        .zip(offsets_m)
        .map(|(p, o)| {
            let mut m = SkinnedMarker::new(model, &shaped, p);
            m.offset_m = *o;
            m
        })
        .collect()
}

/// Calibrates shape and offsets on `frames` (each aligned with `set`'s marker order).
///
/// One joint solve of shape, offsets and poses ([`super::joint_calibration`]) from each start
/// ([`Start`]; only the strict one unless `cfg.multi_start`), the best (lowest marker RMSE over the
/// calibration frames) kept; all end with every joint inside its range. A loose start finds the
/// shape with only the legs' (or knees') ranges before the anatomical solve: where the body's
/// trunk or head markers sit differently from the subject's, poses held in range from the start
/// can push the mismatch into the shape. The pose fits use the tracking settings `solver` (the
/// lab's vertical included) with more iterations, a stronger trunk prior and the pelvis held
/// firmly upright ([`CALIBRATION_UPRIGHT_M_PER_RAD`]).
#[allow(clippy::too_many_arguments)]
pub fn calibrate(
    model: &BodyModel,
    set: &MarkerSet,
    frames: &[Vec<Option<Vector3<f64>>>],
    init_pose: &PoseState,
    limits: &[AngleLimit],
    subject: &SubjectMeasures,
    cfg: &CalibrationConfig,
    solver: &SolverConfig,
) -> Calibration {
    let inputs = Inputs {
        model,
        set,
        frames,
        init_pose,
        limits,
        subject,
        cfg,
        solver,
    };
    let starts: &[Start] = if cfg.multi_start {
        &[Start::Strict, Start::Legs, Start::Knees]
    } else {
        &[Start::Strict]
    };
    starts
        .iter()
        .map(|&start| inputs.calibrate_from(start))
        .min_by(|a, b| a.rmse_m.total_cmp(&b.rmse_m))
        .expect("at least one start")
}

/// Which ranges hold while the shape is found (every start ends with all of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    /// Every joint's range throughout.
    Strict,
    /// Only the legs' ranges, then the anatomical solve.
    Legs,
    /// Only the knees' (where a sparse foot marker set leaves the ankle's roll free), then the
    /// anatomical solve.
    Knees,
}

/// What every calibration start works from: the arguments of [`calibrate`].
struct Inputs<'a> {
    model: &'a BodyModel,
    set: &'a MarkerSet,
    frames: &'a [Vec<Option<Vector3<f64>>>],
    init_pose: &'a PoseState,
    limits: &'a [AngleLimit],
    subject: &'a SubjectMeasures,
    cfg: &'a CalibrationConfig,
    /// The tracking solver's settings the calibration's pose fits start from.
    solver: &'a SolverConfig,
}

/// Pull of the measured trunk, neck, head and arm joints toward neutral during calibration,
/// metres per radian (tracking: [`SolverConfig::prior_m_per_rad`]).
const CALIBRATION_PRIOR_M_PER_RAD: f64 = 0.03;

/// Pull holding the pelvis upright about the lab's vertical during calibration, metres per
/// radian (tracking: [`SolverConfig::upright_m_per_rad`]). While the marker offsets are free, the
/// markers cannot tell a tilted pelvis from ASIS and PSIS markers sitting higher or lower on this
/// subject, so the pelvis is held firmly upright and the offsets take up the difference. Weaker
/// (0.03 and 0.09 m/rad were measured) left sample32's neck flexed past 35° to reach its head
/// markers; a pull toward the rest orientation instead (lying down in a Z-up lab) tilted the
/// Plug-in Gait pelvis 4–16° back of Vicon's own (README, "The Plug-in Gait pelvis").
const CALIBRATION_UPRIGHT_M_PER_RAD: f64 = 0.3;

impl Inputs<'_> {
    /// One calibration start (see [`Start`]): poses fitted to the mean shape, then the joint
    /// solve (shape and poses first when `shape_first`, then with the offsets), then a final
    /// pose fit with every limit.
    fn calibrate_from(&self, start: Start) -> Calibration {
        let cfg = self.cfg;
        let betas = vec![0.0; self.model.num_betas];
        let offsets = vec![Vector3::zeros(); self.set.markers.len()];
        // Calibration frames are a standing (static trial) or ordinary walking posture: the trunk,
        // neck and head are pulled harder toward neutral than in tracking, so that skin offsets,
        // not a tilted head, take up where this subject's head markers sit (FlatFoot: head up to
        // 40° from rest with the tracking weight, 0.01 m/rad); the pelvis is held upright.
        let solver = SolverConfig {
            max_iterations: 60,
            prior_m_per_rad: CALIBRATION_PRIOR_M_PER_RAD,
            upright_m_per_rad: CALIBRATION_UPRIGHT_M_PER_RAD,
            ..self.solver.clone()
        };
        let loose = if start == Start::Strict {
            self.limits.to_vec()
        } else {
            self.loose_limits(start)
        };
        let mut poses = vec![self.init_pose.clone(); self.frames.len()];
        self.fit_poses(&betas, &offsets, &loose, true, &solver, &mut poses);
        let shape = ShapeEval::new(self.model, &self.set.markers);
        let base = skinned_markers(self.model, &betas, self.set, &offsets);
        let measured =
            super::prior::measured_joints(self.model, &self.model.rest_joints(&betas), &base);
        let priors = SharedPriors {
            beta_prior_m: cfg.beta_prior_m,
            height: self.subject.height_m.map(|h| (h, cfg.height_weight)),
            leg_length: self
                .subject
                .leg_length_m
                .map(|l| (l, cfg.leg_length_weight)),
            offset_prior: cfg.offset_prior,
            max_offset_m: cfg.max_offset_m,
            rotation_gauge_m_per_rad: cfg.rotation_gauge_m_per_rad,
        };
        let solve = |limits: &[AngleLimit], free_offsets: bool, state: JointState| {
            JointProblem {
                model: self.model,
                shape: &shape,
                base: &base,
                frames: self.frames,
                limits,
                measured: &measured,
                priors: &priors,
                solver: &solver,
                free_offsets,
                max_iterations: cfg.max_iterations,
            }
            .solve(state)
        };
        let mut state = JointState {
            betas,
            offsets,
            poses,
        };
        if cfg.shape_first {
            state = solve(&loose, false, state);
        }
        state = solve(&loose, true, state);
        if start != Start::Strict {
            state = solve(self.limits, true, state);
        }
        let offsets = state
            .offsets
            .iter()
            .map(|o| {
                let n = o.norm();
                if n > cfg.max_offset_m {
                    o * (cfg.max_offset_m / n)
                } else {
                    *o
                }
            })
            .collect();
        self.finish(state.betas, offsets, state.poses, &solver)
    }

    /// The limits held while a loose start finds the shape: the legs' (or only the knees')
    /// ranges and limits of joints without a documented range.
    fn loose_limits(&self, start: Start) -> Vec<AngleLimit> {
        self.limits
            .iter()
            .filter(|l| {
                let name = &self.model.joint_names[l.joint];
                let kept = match start {
                    Start::Knees => name.ends_with("knee"),
                    _ => super::prior::is_leg_joint(name),
                };
                kept || super::prior::joint_range(name).is_none()
            })
            .copied()
            .collect()
    }

    /// Fits every frame's pose for the current shape and offsets under `limits`: in the first
    /// round from the previous frame rigidly aligned, later from the frame's last pose.
    fn fit_poses(
        &self,
        betas: &[f64],
        offsets: &[Vector3<f64>],
        limits: &[AngleLimit],
        first_round: bool,
        solver: &SolverConfig,
        poses: &mut [PoseState],
    ) {
        let model = self.model;
        let shaped = model.shape(betas);
        let markers = skinned_markers(model, betas, self.set, offsets);
        let problem = PoseProblem::new(model, &shaped, &markers, limits.to_vec());
        for (f, obs) in self.frames.iter().enumerate() {
            let start = if first_round {
                let prev = if f > 0 {
                    poses[f - 1].clone()
                } else {
                    self.init_pose.clone()
                };
                rigid_align_root(&problem, &shaped, &prev, obs)
            } else {
                poses[f].clone()
            };
            poses[f] = problem.solve(obs, &start, None, solver).pose;
        }
    }

    /// Refits the poses with every limit for the final shape and offsets and measures the
    /// marker RMSE over the calibration frames.
    fn finish(
        &self,
        betas: Vec<f64>,
        offsets: Vec<Vector3<f64>>,
        mut poses: Vec<PoseState>,
        solver: &SolverConfig,
    ) -> Calibration {
        let model = self.model;
        let markers = skinned_markers(model, &betas, self.set, &offsets);
        let shaped = model.shape(&betas);
        let problem = PoseProblem::new(model, &shaped, &markers, self.limits.to_vec());
        let mut sq = 0.0;
        let mut n = 0usize;
        for (f, obs) in self.frames.iter().enumerate() {
            let fit = problem.solve(obs, &poses[f], None, solver);
            for e in fit.marker_errors_m.iter().flatten() {
                sq += e * e;
                n += 1;
            }
            poses[f] = fit.pose;
        }
        Calibration {
            betas,
            offsets_m: offsets,
            poses,
            rmse_m: (sq / n.max(1) as f64).sqrt(),
        }
    }
}
