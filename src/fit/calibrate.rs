//! Subject calibration: body shape (betas) and per-marker skin offsets, estimated jointly with the
//! poses of a few frames (a static trial when given, else frames spread over the walk).

use nalgebra::{DMatrix, DVector, Matrix3, Vector3};

use super::rigid::rigid_align_root;
use super::skinned_markers::SkinnedMarker;
use super::solver::{AngleLimit, PoseProblem, PoseState, SolverConfig};
use crate::body::{BodyModel, MarkerSet};

/// Settings of the calibration.
#[derive(Debug, Clone, PartialEq)]
pub struct CalibrationConfig {
    /// Alternation rounds (poses → shape → offsets).
    pub rounds: usize,
    /// Rounds at the start in which offsets stay zero so shape explains what it can.
    pub shape_only_rounds: usize,
    /// Prior weight on betas (metres per unit beta): keeps the shape plausible.
    pub beta_prior_m: f64,
    /// Shrinkage of offsets toward zero, in frames' worth of evidence.
    pub offset_shrink_frames: f64,
    /// Largest allowed offset, metres.
    pub max_offset_m: f64,
    /// Weight (per metre of stature error) of the subject's measured height when known.
    pub height_weight: f64,
    /// Rounds after the shape rounds in which the calibration poses keep every joint inside its
    /// range and the offsets absorb what the anatomical poses leave.
    pub anatomical_rounds: usize,
}

impl Default for CalibrationConfig {
    fn default() -> Self {
        CalibrationConfig {
            rounds: 6,
            shape_only_rounds: 3,
            beta_prior_m: 0.03,
            offset_shrink_frames: 1.0,
            max_offset_m: 0.07,
            height_weight: 1.0,
            anatomical_rounds: 2,
        }
    }
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
/// Three starts ([`Start`]), the best (lowest marker RMSE over the calibration frames) kept; all
/// end with every joint inside its range. The alternation of shape and pose is sensitive to where it
/// starts: shape found with every range enforced suits most trials, but where the body's trunk
/// or head markers sit differently from the subject's, poses held in range push the mismatch
/// into the shape and distort the legs (treadmill_events: 50 mm instead of 8 mm); shape found
/// with only the legs' (or knees') ranges, then anatomical rounds, handles that case.
pub fn calibrate(
    model: &BodyModel,
    set: &MarkerSet,
    frames: &[Vec<Option<Vector3<f64>>>],
    init_pose: &PoseState,
    limits: &[AngleLimit],
    height_m: Option<f64>,
    cfg: &CalibrationConfig,
) -> Calibration {
    let inputs = Inputs {
        model,
        set,
        frames,
        init_pose,
        limits,
        height_m,
        cfg,
    };
    [Start::Strict, Start::Legs, Start::Knees]
        .into_iter()
        .map(|start| inputs.calibrate_from(start))
        .min_by(|a, b| a.rmse_m.total_cmp(&b.rmse_m))
        .expect("three starts")
}

/// Which ranges hold while the shape is found (every start ends with all of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    /// Every joint's range throughout.
    Strict,
    /// Only the legs' ranges, then anatomical rounds.
    Legs,
    /// Only the knees' (where a sparse foot marker set leaves the ankle's roll free), then
    /// anatomical rounds.
    Knees,
}

/// What every calibration start works from: the arguments of [`calibrate`].
struct Inputs<'a> {
    model: &'a BodyModel,
    set: &'a MarkerSet,
    frames: &'a [Vec<Option<Vector3<f64>>>],
    init_pose: &'a PoseState,
    limits: &'a [AngleLimit],
    height_m: Option<f64>,
    cfg: &'a CalibrationConfig,
}

impl Inputs<'_> {
    /// One calibration start (see [`Start`]): rounds of pose fits alternating with the shape
    /// (first rounds) or the offsets (later rounds), then a final pose fit.
    fn calibrate_from(&self, start: Start) -> Calibration {
        let cfg = self.cfg;
        let mut betas = vec![0.0; self.model.num_betas];
        let mut offsets = vec![Vector3::zeros(); self.set.markers.len()];
        let mut poses: Vec<PoseState> = vec![self.init_pose.clone(); self.frames.len()];
        let solver = SolverConfig {
            max_iterations: 60,
            ..SolverConfig::default()
        };
        // After a loose start, the anatomical rounds put every joint in range and let the skin
        // offsets take up the difference.
        let legs_first = start != Start::Strict;
        let extra_rounds = if legs_first { cfg.anatomical_rounds } else { 0 };
        let loose = self.loose_limits(start);
        for round in 0..cfg.rounds + extra_rounds {
            let anatomical = !legs_first || round >= cfg.rounds;
            // 1. Poses for the current shape and offsets.
            let round_limits = if anatomical { self.limits } else { &loose[..] };
            self.fit_poses(
                &betas,
                &offsets,
                round_limits,
                round == 0,
                &solver,
                &mut poses,
            );
            // 2. Shape, poses held; then frozen so offsets cannot trade against it.
            if round < cfg.shape_only_rounds {
                let step = ShapeStep {
                    inputs: self,
                    offsets: &offsets,
                    poses: &poses,
                };
                betas = step.fit(&betas);
            } else {
                // 3. Offsets, once shape has settled.
                offsets = fit_offsets(
                    self.model,
                    self.set,
                    &betas,
                    &offsets,
                    self.frames,
                    &poses,
                    cfg,
                );
            }
        }
        self.finish(betas, offsets, poses, &solver)
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

/// The shape step of the calibration: the markers' rest-space offsets and the poses of the
/// calibration frames held, only the shape coefficients move (block-coordinate step; the
/// calibration alternates it with pose fits).
struct ShapeStep<'a> {
    inputs: &'a Inputs<'a>,
    offsets: &'a [Vector3<f64>],
    poses: &'a [PoseState],
}

impl ShapeStep<'_> {
    /// Residuals of all calibration frames for the shape `betas`, plus the shape prior and the
    /// stature term.
    fn residuals(&self, betas: &[f64]) -> DVector<f64> {
        let Inputs {
            model,
            set,
            frames,
            height_m,
            cfg,
            ..
        } = *self.inputs;
        let shaped = model.shape(betas);
        let markers = skinned_markers(model, betas, set, self.offsets);
        let mut r = Vec::new();
        for (obs, pose) in frames.iter().zip(self.poses) {
            let t = model.joint_transforms(&shaped.joints_rest, &pose.rotations, pose.translation);
            for (m, o) in markers.iter().zip(obs) {
                match o {
                    Some(o) => {
                        let d = m.posed(&t.world_from_rest) - o;
                        r.extend_from_slice(&[d.x, d.y, d.z]);
                    }
                    None => r.extend_from_slice(&[0.0; 3]),
                }
            }
        }
        r.extend(betas.iter().map(|b| b * cfg.beta_prior_m));
        if let Some(h) = height_m {
            r.push(cfg.height_weight * (stature_m(model, betas) - h));
        }
        DVector::from_vec(r)
    }

    /// Levenberg–Marquardt on the shape from `start`.
    fn fit(&self, start: &[f64]) -> Vec<f64> {
        let k = start.len();
        let mut betas = start.to_vec();
        let eval = |b: &[f64]| self.residuals(b);
        let mut r = eval(&betas);
        let mut lambda = 1e-2;
        for _ in 0..8 {
            // Numeric Jacobian (central differences): K is ~10 and this runs a handful of times per
            // subject, so analytic shape derivatives are not worth their complexity here.
            let eps = 1e-4;
            let mut jac = DMatrix::<f64>::zeros(r.len(), k);
            for c in 0..k {
                let mut bp = betas.clone();
                bp[c] += eps;
                let mut bm = betas.clone();
                bm[c] -= eps;
                let d = (eval(&bp) - eval(&bm)) / (2.0 * eps);
                jac.set_column(c, &d);
            }
            let h = jac.transpose() * &jac;
            let g = jac.transpose() * &r;
            let mut improved = false;
            for _ in 0..6 {
                let mut a = h.clone();
                for i in 0..k {
                    a[(i, i)] += lambda * h[(i, i)].max(1e-9);
                }
                let Some(ch) = a.cholesky() else {
                    lambda *= 10.0;
                    continue;
                };
                let step = ch.solve(&(-&g));
                let cand: Vec<f64> = betas.iter().zip(step.iter()).map(|(b, s)| b + s).collect();
                let rc = eval(&cand);
                if rc.norm_squared() < r.norm_squared() {
                    let rel = (r.norm_squared() - rc.norm_squared()) / r.norm_squared().max(1e-30);
                    betas = cand;
                    r = rc;
                    lambda = (lambda * 0.3).max(1e-7);
                    improved = rel > 1e-6;
                    break;
                }
                lambda *= 10.0;
            }
            if !improved {
                break;
            }
        }
        betas
    }
}

/// Per-marker rest-space offsets: the mean residual mapped back through each frame's blended
/// transform, shrunk toward zero and clamped.
fn fit_offsets(
    model: &BodyModel,
    set: &MarkerSet,
    betas: &[f64],
    offsets: &[Vector3<f64>],
    frames: &[Vec<Option<Vector3<f64>>>],
    poses: &[PoseState],
    cfg: &CalibrationConfig,
) -> Vec<Vector3<f64>> {
    let shaped = model.shape(betas);
    let markers = skinned_markers(model, betas, set, offsets);
    let mut sum = vec![Vector3::zeros(); markers.len()];
    let mut count = vec![0.0f64; markers.len()];
    for (obs, pose) in frames.iter().zip(poses) {
        let t = model.joint_transforms(&shaped.joints_rest, &pose.rotations, pose.translation);
        for (i, (m, o)) in markers.iter().zip(obs).enumerate() {
            let Some(o) = o else { continue };
            let b = m.blended(&t.world_from_rest);
            let lin: Matrix3<f64> = b.fixed_view::<3, 3>(0, 0).into_owned();
            let Some(inv) = lin.try_inverse() else {
                continue;
            };
            sum[i] += inv * (o - m.posed(&t.world_from_rest));
            count[i] += 1.0;
        }
    }
    markers
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let upd = sum[i] / (count[i] + cfg.offset_shrink_frames);
            let o = m.offset_m + upd;
            let n = o.norm();
            if n > cfg.max_offset_m {
                o * (cfg.max_offset_m / n)
            } else {
                o
            }
        })
        .collect()
}
