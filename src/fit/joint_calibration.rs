//! Joint shape–pose calibration: one Levenberg–Marquardt over the shape (betas), the per-marker
//! skin offsets and every calibration frame's pose (root translation and free joints) together.
//!
//! **Block structure and solve.** A frame's pose block couples only to itself and to the shared
//! block (betas + offsets), so the damped normal equations are
//! `[A B₁ … B_F; B₁ᵀ C₁; …; B_Fᵀ C_F]`. They are solved by a **Schur complement on the shared
//! block**: each frame's `C_f` (3 + 3·free joints ≈ 66 parameters) is factored on its own,
//! `S = A − Σ B_f C_f⁻¹ B_fᵀ` (10 betas + 3 per marker ≈ 130) is solved densely, and each frame's
//! step follows by back-substitution. A dense solve of the whole system (≈ 660 unknowns for 8
//! frames) would cost ~100× more flops per iteration for the same step, and grows with the cube of
//! the number of frames where the Schur form grows linearly.
//!
//! **Jacobians.** Pose columns are the per-frame solver's analytic ones
//! ([`PoseProblem::for_each_marker_term`]), offset columns are exact (a marker is
//! `Σ_j w̃_j (R_j (m_rest + o) + t_j)`, so `∂m/∂o = Σ_j w̃_j R_j`), and beta columns are finite
//! differences — exact ones, since for fixed rotations a posed marker is affine in the rest joints
//! (linear in the betas) and in its rest position, whose beta derivative is taken by central
//! differences over the marker's three face vertices (the skin normal is its only non-linearity).
//! The stature and leg-length priors are differentiated the same way over a few hundred vertices.

use nalgebra::{DMatrix, DVector, Matrix3, Vector3};

use super::skinned_markers::SkinnedMarker;
use super::solver::{AngleLimit, PoseProblem, PoseState, SolverConfig};
use crate::body::{BodyModel, JointTransforms, MarkerPlacement, ShapedBody};

/// Shape-dependent quantities of one marker set, evaluated without shaping the whole mesh.
pub(crate) struct ShapeEval<'a> {
    model: &'a BodyModel,
    placements: &'a [MarkerPlacement],
    /// Vertices that can be the top of the head / the sole (within 15 cm of them at β = 0).
    top: Vec<usize>,
    bottom: Vec<usize>,
    /// Marker pairs (ASIS, ankle) of each side present in the set, for the leg length.
    legs: Vec<(usize, usize)>,
}

impl<'a> ShapeEval<'a> {
    pub(crate) fn new(model: &'a BodyModel, placements: &'a [MarkerPlacement]) -> Self {
        let ys: Vec<f32> = model.v_template.iter().map(|v| v[1]).collect();
        let hi = ys.iter().copied().fold(f32::MIN, f32::max);
        let lo = ys.iter().copied().fold(f32::MAX, f32::min);
        let top = (0..ys.len()).filter(|&v| ys[v] > hi - 0.15).collect();
        let bottom = (0..ys.len()).filter(|&v| ys[v] < lo + 0.15).collect();
        let find = |n: &str| {
            placements
                .iter()
                .position(|p| p.name.eq_ignore_ascii_case(n))
        };
        let legs = [("LASI", "LANK"), ("RASI", "RANK")]
            .iter()
            .filter_map(|(a, b)| Some((find(a)?, find(b)?)))
            .collect();
        ShapeEval {
            model,
            placements,
            top,
            bottom,
            legs,
        }
    }

    /// Coordinate `c` of shaped rest vertex `v`.
    fn vertex_coord(&self, v: usize, c: usize, betas: &[f64]) -> f64 {
        let kk = self.model.num_betas;
        let k = kk.min(betas.len());
        let row = &self.model.shapedirs[(v * 3 + c) * kk..(v * 3 + c) * kk + k];
        self.model.v_template[v][c] as f64
            + row
                .iter()
                .zip(betas)
                .map(|(a, b)| *a as f64 * b)
                .sum::<f64>()
    }

    /// Rest positions of the markers on the shaped body (no subject offsets), as
    /// [`SkinnedMarker::new`] computes them.
    pub(crate) fn marker_rest(&self, betas: &[f64]) -> Vec<Vector3<f64>> {
        self.placements
            .iter()
            .map(|p| {
                let face = self.model.faces[p.face_id as usize];
                let verts: Vec<[f32; 3]> = face
                    .iter()
                    .map(|&v| {
                        let v = v as usize;
                        [0, 1, 2].map(|c| self.vertex_coord(v, c, betas) as f32)
                    })
                    .collect();
                let local = MarkerPlacement {
                    face_id: 0,
                    ..p.clone()
                };
                Vector3::from(crate::body::markers::marker_position(
                    &local,
                    &verts,
                    &[[0, 1, 2]],
                ))
            })
            .collect()
    }

    /// Stature (top of head to sole) of the shaped rest body, metres.
    pub(crate) fn stature_m(&self, betas: &[f64]) -> f64 {
        let y = |v: &usize| self.vertex_coord(*v, 1, betas);
        let hi = self.top.iter().map(y).fold(f64::MIN, f64::max);
        let lo = self.bottom.iter().map(y).fold(f64::MAX, f64::min);
        hi - lo
    }

    /// The body's leg length in Plug-in Gait's sense (ASIS to malleolus, straight leg): the
    /// mean over the sides of the rest distance between the ASIS and ankle markers, less their
    /// skin distances; `None` when the set lacks both pairs.
    pub(crate) fn leg_length_m(&self, betas: &[f64]) -> Option<f64> {
        if self.legs.is_empty() {
            return None;
        }
        let rest = self.marker_rest(betas);
        let sum: f64 = self
            .legs
            .iter()
            .map(|&(a, b)| (rest[a] - rest[b]).norm())
            .sum();
        Some(sum / self.legs.len() as f64)
    }
}

/// The priors on the shared block.
#[derive(Debug, Clone)]
pub(crate) struct SharedPriors {
    /// Weight of the betas' pull toward the mean shape (metres per unit beta).
    pub beta_prior_m: f64,
    /// Measured stature and its weight (per metre of error).
    pub height: Option<(f64, f64)>,
    /// Measured leg length and its weight (per metre of error).
    pub leg_length: Option<(f64, f64)>,
    /// Weight of the offsets' pull toward zero (per metre of offset).
    pub offset_prior: f64,
    /// Offsets beyond this length are penalised steeply (and clamped at the end).
    pub max_offset_m: f64,
    /// Weight (metres per radian) of the pull against offsets that together turn a segment's
    /// markers about its joint ([`JointProblem::gauge_residuals`]).
    pub rotation_gauge_m_per_rad: f64,
}

/// Weight of the penalty on an offset's length beyond [`SharedPriors::max_offset_m`].
const OFFSET_BOUND_WEIGHT: f64 = 10.0;

/// Betas, offsets and calibration poses: the unknowns of the joint solve.
#[derive(Debug, Clone)]
pub(crate) struct JointState {
    pub betas: Vec<f64>,
    pub offsets: Vec<Vector3<f64>>,
    pub poses: Vec<PoseState>,
}

/// One joint solve: the data, the fixed parameter layout and the priors.
pub(crate) struct JointProblem<'a> {
    pub model: &'a BodyModel,
    pub shape: &'a ShapeEval<'a>,
    /// The markers' skinning (shape-independent); rest positions and offsets are replaced.
    pub base: &'a [SkinnedMarker],
    pub frames: &'a [Vec<Option<Vector3<f64>>>],
    pub limits: &'a [AngleLimit],
    /// Joints the poses move (fixed for the whole solve, so the layout does not change).
    pub measured: &'a [bool],
    pub priors: &'a SharedPriors,
    pub solver: &'a SolverConfig,
    /// Whether the offsets are unknowns (else held where they are).
    pub free_offsets: bool,
    pub max_iterations: usize,
}

/// The linearised system at one state.
struct Linearisation {
    /// Shared block of `JᵀWJ` and `JᵀWr`.
    a: DMatrix<f64>,
    gs: DVector<f64>,
    /// Per frame: its own block, gradient and coupling to the shared block (`S × n_f`).
    frames: Vec<(DMatrix<f64>, DVector<f64>, DMatrix<f64>)>,
}

impl JointProblem<'_> {
    fn num_shared(&self) -> usize {
        self.model.num_betas
            + if self.free_offsets {
                3 * self.base.len()
            } else {
                0
            }
    }

    /// Rest joints and markers for a shape and offsets.
    fn body(&self, betas: &[f64], offsets: &[Vector3<f64>]) -> (ShapedBody, Vec<SkinnedMarker>) {
        let shaped = ShapedBody {
            v_shaped: Vec::new(),
            joints_rest: self.model.rest_joints(betas),
        };
        let rest = self.shape.marker_rest(betas);
        let markers = self
            .base
            .iter()
            .zip(rest)
            .zip(offsets)
            .map(|((m, r), o)| SkinnedMarker {
                rest_m: r,
                offset_m: *o,
                ..m.clone()
            })
            .collect();
        (shaped, markers)
    }

    /// Residuals of the shared priors (betas, stature, leg length, offsets, offset bound).
    fn shared_residuals(&self, betas: &[f64], offsets: &[Vector3<f64>]) -> Vec<f64> {
        let p = self.priors;
        let mut r: Vec<f64> = betas.iter().map(|b| b * p.beta_prior_m).collect();
        if let Some((h, w)) = p.height {
            r.push(w * (self.shape.stature_m(betas) - h));
        }
        if let (Some((l, w)), Some(m)) = (p.leg_length, self.shape.leg_length_m(betas)) {
            r.push(w * (m - l));
        }
        if self.free_offsets {
            for o in offsets {
                r.extend(o.iter().map(|x| x * p.offset_prior));
                r.push(OFFSET_BOUND_WEIGHT * (o.norm() - p.max_offset_m).max(0.0));
            }
            for (rows, _) in self.gauge_terms(betas) {
                let g: Vector3<f64> = rows.iter().zip(offsets).map(|(m, o)| m * o).sum();
                r.extend(g.iter());
            }
        }
        r
    }

    /// The rotation gauge of the offsets, per segment above the ankles that carries two or more
    /// markers (the markers whose largest skinning weight is on that segment's joint): `w · Σ aᵢ × oᵢ / Σ |aᵢ|²`
    /// with `aᵢ` the marker's rest lever arm from the joint, ≈ `w ×` the angle by which the
    /// offsets turn the segment's markers together. Offsets that turn a segment's markers trade
    /// exactly against the segment's own rotation, so without this term a calibration can tilt
    /// the pelvis 25° backwards and rotate its four markers' offsets forwards to match (seen on
    /// the FlatFoot and treadmill walks: pelvic tilt −26° against Vicon's). Returns, per segment,
    /// the 3 × 3 matrix of every marker (zero for markers of other segments) and the segment.
    fn gauge_terms(&self, betas: &[f64]) -> Vec<(Vec<Matrix3<f64>>, usize)> {
        let w = self.priors.rotation_gauge_m_per_rad;
        if w == 0.0 {
            return Vec::new();
        }
        let rest = self.shape.marker_rest(betas);
        let joints = self.model.rest_joints(betas);
        let dominant: Vec<usize> = self
            .base
            .iter()
            .map(|m| {
                m.weights
                    .iter()
                    .max_by(|a, b| a.1.total_cmp(&b.1))
                    .map_or(0, |w| w.0)
            })
            .collect();
        let mut segments: Vec<usize> = dominant.clone();
        segments.sort_unstable();
        segments.dedup();
        segments
            .into_iter()
            // Not on the feet: there the gauge cost the ankle's agreement with Vicon (FlatFoot
            // r 0.95 → 0.83, treadmill 0.98 → 0.71); PiG's own foot comes from the static's
            // flat-foot assumption, which the rest-pitch correction of the report reproduces.
            .filter(|&j| {
                let name = &self.model.joint_names[j];
                !(name.ends_with("ankle") || name.ends_with("foot"))
                    && dominant.iter().filter(|&&d| d == j).count() >= 2
            })
            .map(|j| {
                let lever = |i: usize| rest[i] - joints[j];
                let members: Vec<usize> = (0..rest.len()).filter(|&i| dominant[i] == j).collect();
                let spread: f64 = members.iter().map(|&i| lever(i).norm_squared()).sum();
                let rows = (0..rest.len())
                    .map(|i| {
                        if dominant[i] == j {
                            lever(i).cross_matrix() * (w / spread.max(1e-6))
                        } else {
                            Matrix3::zeros()
                        }
                    })
                    .collect();
                (rows, j)
            })
            .collect()
    }

    /// Total cost: Huber marker loss and pose priors of every frame plus the shared priors.
    pub(crate) fn cost(&self, s: &JointState) -> f64 {
        let (shaped, markers) = self.body(&s.betas, &s.offsets);
        let problem = self.pose_problem(&shaped, &markers);
        let frames: f64 = self
            .frames
            .iter()
            .zip(&s.poses)
            .map(|(obs, pose)| problem.robust_cost(pose, obs, None, self.solver))
            .sum();
        let shared: f64 = self
            .shared_residuals(&s.betas, &s.offsets)
            .iter()
            .map(|r| r * r)
            .sum();
        frames + shared
    }

    fn pose_problem<'b>(
        &'b self,
        shaped: &'b ShapedBody,
        markers: &'b [SkinnedMarker],
    ) -> PoseProblem<'b> {
        PoseProblem::with_measured(
            self.model,
            shaped,
            markers,
            self.limits.to_vec(),
            self.measured,
        )
    }

    /// Levenberg–Marquardt from `state`; returns the state with the lowest cost found.
    pub(crate) fn solve(&self, mut state: JointState) -> JointState {
        let mut cost = self.cost(&state);
        let mut lambda = 1e-3;
        for _ in 0..self.max_iterations {
            let (shaped, markers) = self.body(&state.betas, &state.offsets);
            let problem = self.pose_problem(&shaped, &markers);
            let lin = self.linearise(&state, &problem, &shaped.joints_rest, &markers);
            let mut improved = false;
            for _ in 0..8 {
                let Some((ds, dfs)) = lin.step(lambda) else {
                    lambda *= 10.0;
                    continue;
                };
                let cand = self.moved(&state, &problem, &ds, &dfs);
                let c = self.cost(&cand);
                if c < cost {
                    let rel = (cost - c) / cost.max(1e-30);
                    state = cand;
                    cost = c;
                    lambda = (lambda * 0.3).max(1e-7);
                    improved = rel > 1e-9;
                    break;
                }
                lambda *= 10.0;
            }
            if !improved {
                break;
            }
        }
        state
    }

    /// `state` moved by a shared step `ds` and per-frame pose steps `dfs`.
    fn moved(
        &self,
        state: &JointState,
        problem: &PoseProblem<'_>,
        ds: &DVector<f64>,
        dfs: &[DVector<f64>],
    ) -> JointState {
        let k = self.model.num_betas;
        let betas = state
            .betas
            .iter()
            .zip(ds.iter())
            .map(|(b, d)| b + d)
            .collect();
        let offsets = if self.free_offsets {
            state
                .offsets
                .iter()
                .enumerate()
                .map(|(i, o)| o + Vector3::new(ds[k + 3 * i], ds[k + 3 * i + 1], ds[k + 3 * i + 2]))
                .collect()
        } else {
            state.offsets.clone()
        };
        let poses = state
            .poses
            .iter()
            .zip(dfs)
            .map(|(p, d)| problem.apply_step(p, d))
            .collect();
        JointState {
            betas,
            offsets,
            poses,
        }
    }

    /// Gauss–Newton normal equations of every frame and the shared priors at `state`.
    fn linearise(
        &self,
        state: &JointState,
        problem: &PoseProblem<'_>,
        joints: &[Vector3<f64>],
        markers: &[SkinnedMarker],
    ) -> Linearisation {
        let ns = self.num_shared();
        let mut a = DMatrix::<f64>::zeros(ns, ns);
        let mut gs = DVector::<f64>::zeros(ns);
        self.add_shared_terms(state, &mut a, &mut gs);
        let rest_d = self.marker_rest_derivatives(&state.betas);
        let frames = self
            .frames
            .iter()
            .zip(&state.poses)
            .map(|(obs, pose)| {
                self.frame_terms(
                    problem, joints, markers, &rest_d, obs, pose, &mut a, &mut gs,
                )
            })
            .collect();
        Linearisation { a, gs, frames }
    }

    /// `∂ m_rest / ∂β_k` of every marker (central differences), indexed `[k][marker]`.
    fn marker_rest_derivatives(&self, betas: &[f64]) -> Vec<Vec<Vector3<f64>>> {
        let eps = 1e-3;
        (0..self.model.num_betas)
            .map(|k| {
                let mut bp = betas.to_vec();
                bp[k] += eps;
                let mut bm = betas.to_vec();
                bm[k] -= eps;
                let (p, m) = (self.shape.marker_rest(&bp), self.shape.marker_rest(&bm));
                p.iter()
                    .zip(&m)
                    .map(|(p, m)| (p - m) / (2.0 * eps))
                    .collect()
            })
            .collect()
    }

    /// One frame's pose block, gradient and coupling; adds its marker terms to the shared block.
    #[allow(clippy::too_many_arguments)]
    fn frame_terms(
        &self,
        problem: &PoseProblem<'_>,
        joints: &[Vector3<f64>],
        markers: &[SkinnedMarker],
        rest_d: &[Vec<Vector3<f64>>],
        obs: &[Option<Vector3<f64>>],
        pose: &PoseState,
        a: &mut DMatrix<f64>,
        gs: &mut DVector<f64>,
    ) -> (DMatrix<f64>, DVector<f64>, DMatrix<f64>) {
        let n = problem.num_params();
        let k = self.model.num_betas;
        let mut c = DMatrix::<f64>::zeros(n, n);
        let mut gf = DVector::<f64>::zeros(n);
        problem.normal_equations(pose, obs, None, self.solver, &mut c, &mut gf);
        let mut b = DMatrix::<f64>::zeros(self.num_shared(), n);
        let t = self
            .model
            .joint_transforms(joints, &pose.rotations, pose.translation);
        let beta_jac = self.beta_jacobian(joints, markers, rest_d, pose, &t);
        let mut scols: Vec<usize> = (0..k).collect();
        problem.for_each_marker_term(&t, obs, self.solver, |term| {
            let i = term.index;
            // The marker's shared Jacobian: betas, then its own offset.
            let mut js = nalgebra::OMatrix::<f64, nalgebra::U3, nalgebra::Dyn>::zeros(
                k + if self.free_offsets { 3 } else { 0 },
            );
            js.columns_mut(0, k).copy_from(&beta_jac[i]);
            scols.truncate(k);
            if self.free_offsets {
                js.columns_mut(k, 3)
                    .copy_from(&offset_jacobian(&markers[i], &t));
                scols.extend(k + 3 * i..k + 3 * i + 3);
            }
            let w = term.weight;
            let jtr = js.transpose() * term.residual * w;
            let jtj = js.transpose() * &js * w;
            for (x, &cx) in scols.iter().enumerate() {
                gs[cx] += jtr[x];
                for (y, &cy) in scols.iter().enumerate() {
                    a[(cx, cy)] += jtj[(x, y)];
                }
            }
            for (&cp, jp) in term.cols.iter().zip(term.jac) {
                let blk = js.transpose() * jp * w;
                for (x, &cx) in scols.iter().enumerate() {
                    for q in 0..3 {
                        b[(cx, cp + q)] += blk[(x, q)];
                    }
                }
            }
        });
        (c, gf, b)
    }

    /// `∂ marker / ∂β` (3 × K per marker) at `pose`: exact differences, the posed marker being
    /// affine in the rest joints and in its rest position for fixed rotations.
    fn beta_jacobian(
        &self,
        joints: &[Vector3<f64>],
        markers: &[SkinnedMarker],
        rest_d: &[Vec<Vector3<f64>>],
        pose: &PoseState,
        t: &JointTransforms,
    ) -> Vec<nalgebra::Matrix3xX<f64>> {
        let k = self.model.num_betas;
        let base: Vec<Vector3<f64>> = markers
            .iter()
            .map(|m| m.posed(&t.world_from_rest))
            .collect();
        let mut out = vec![nalgebra::Matrix3xX::<f64>::zeros(k); markers.len()];
        for (c, rd) in rest_d.iter().enumerate() {
            let jd: Vec<Vector3<f64>> = joints
                .iter()
                .enumerate()
                .map(|(j, p)| p + joint_direction(self.model, j, c))
                .collect();
            let tk = self
                .model
                .joint_transforms(&jd, &pose.rotations, pose.translation);
            for (i, m) in markers.iter().enumerate() {
                let moved = SkinnedMarker {
                    rest_m: m.rest_m + rd[i],
                    ..m.clone()
                };
                out[i].set_column(c, &(moved.posed(&tk.world_from_rest) - base[i]));
            }
        }
        out
    }

    /// Adds the shared priors' normal equations.
    fn add_shared_terms(&self, s: &JointState, a: &mut DMatrix<f64>, gs: &mut DVector<f64>) {
        let p = self.priors;
        let k = self.model.num_betas;
        for (i, b) in s.betas.iter().enumerate() {
            a[(i, i)] += p.beta_prior_m.powi(2);
            gs[i] += p.beta_prior_m.powi(2) * b;
        }
        let mut scalar = |f: &dyn Fn(&[f64]) -> Option<f64>, target: f64, w: f64| {
            let Some(v0) = f(&s.betas) else { return };
            let eps = 1e-3;
            let grad: Vec<f64> = (0..k)
                .map(|c| {
                    let mut bp = s.betas.clone();
                    bp[c] += eps;
                    let mut bm = s.betas.clone();
                    bm[c] -= eps;
                    (f(&bp).unwrap_or(v0) - f(&bm).unwrap_or(v0)) / (2.0 * eps)
                })
                .collect();
            for x in 0..k {
                gs[x] += w * w * grad[x] * (v0 - target);
                for y in 0..k {
                    a[(x, y)] += w * w * grad[x] * grad[y];
                }
            }
        };
        if let Some((h, w)) = p.height {
            scalar(&|b| Some(self.shape.stature_m(b)), h, w);
        }
        if let Some((l, w)) = p.leg_length {
            scalar(&|b| self.shape.leg_length_m(b), l, w);
        }
        if !self.free_offsets {
            return;
        }
        self.add_gauge_terms(s, a, gs);
        let wo2 = p.offset_prior.powi(2);
        for (i, o) in s.offsets.iter().enumerate() {
            let c0 = k + 3 * i;
            for q in 0..3 {
                a[(c0 + q, c0 + q)] += wo2;
                gs[c0 + q] += wo2 * o[q];
            }
            let n = o.norm();
            if n > p.max_offset_m {
                let u = o / n;
                let wb2 = OFFSET_BOUND_WEIGHT.powi(2);
                for x in 0..3 {
                    gs[c0 + x] += wb2 * (n - p.max_offset_m) * u[x];
                    for y in 0..3 {
                        a[(c0 + x, c0 + y)] += wb2 * u[x] * u[y];
                    }
                }
            }
        }
    }
}

impl JointProblem<'_> {
    /// Adds the rotation gauge's normal equations (linear in the offsets; the levers' dependence
    /// on the shape is left out of the Jacobian, the cost keeps it).
    fn add_gauge_terms(&self, s: &JointState, a: &mut DMatrix<f64>, gs: &mut DVector<f64>) {
        let k = self.model.num_betas;
        for (rows, _) in self.gauge_terms(&s.betas) {
            let g: Vector3<f64> = rows.iter().zip(&s.offsets).map(|(m, o)| m * o).sum();
            let used: Vec<usize> = (0..rows.len())
                .filter(|&i| rows[i] != Matrix3::zeros())
                .collect();
            for &x in &used {
                let cx = k + 3 * x;
                let gx = rows[x].transpose() * g;
                for q in 0..3 {
                    gs[cx + q] += gx[q];
                }
                for &y in &used {
                    let cy = k + 3 * y;
                    let blk = rows[x].transpose() * rows[y];
                    for p in 0..3 {
                        for q in 0..3 {
                            a[(cx + p, cy + q)] += blk[(p, q)];
                        }
                    }
                }
            }
        }
    }
}

/// Column `c` of the joint shape directions for joint `j` (`∂ J_j / ∂β_c`, exact).
fn joint_direction(model: &BodyModel, j: usize, c: usize) -> Vector3<f64> {
    let kk = model.num_betas;
    Vector3::from_fn(|x, _| model.j_shapedirs[(j * 3 + x) * kk + c])
}

/// `∂ marker / ∂ offset`: the blended rotation `Σ_j w̃_j R_j`.
fn offset_jacobian(m: &SkinnedMarker, t: &JointTransforms) -> Matrix3<f64> {
    m.blended(&t.world_from_rest)
        .fixed_view::<3, 3>(0, 0)
        .into_owned()
}

impl Linearisation {
    /// The LM step for damping `lambda` by the Schur complement on the shared block; `None` when
    /// a block is not positive definite.
    fn step(&self, lambda: f64) -> Option<(DVector<f64>, Vec<DVector<f64>>)> {
        let damp = |m: &DMatrix<f64>| {
            let mut d = m.clone();
            for i in 0..m.nrows() {
                d[(i, i)] += lambda * m[(i, i)].max(1e-9) + 1e-12;
            }
            d
        };
        let mut s = damp(&self.a);
        let mut rhs = -&self.gs;
        let mut factored = Vec::with_capacity(self.frames.len());
        for (c, gf, b) in &self.frames {
            let ch = damp(c).cholesky()?;
            let cinv_bt = ch.solve(&b.transpose());
            let cinv_g = ch.solve(gf);
            s -= b * &cinv_bt;
            rhs += b * &cinv_g;
            factored.push(ch);
        }
        let ds = s.cholesky()?.solve(&rhs);
        let dfs = self
            .frames
            .iter()
            .zip(&factored)
            .map(|((_, gf, b), ch)| ch.solve(&(-gf - b.transpose() * &ds)))
            .collect();
        Some((ds, dfs))
    }
}
