//! Per-frame pose fitting by Levenberg–Marquardt with analytic Jacobians through the kinematic
//! chain, a Huber-robust marker loss, angle-limit residuals and a temporal smoothness residual.
//!
//! Written by hand rather than with a generic least-squares crate because the Jacobian is block
//! sparse (a marker depends only on its ancestors' rotations) and we accumulate the normal equations
//! per marker block directly, which is what makes > 1000 frames/s possible.

use nalgebra::{DMatrix, DVector, Matrix3, Matrix4, Rotation3, Vector3};

pub use super::pose::{AngleLimit, PoseState, log_rotation};
use super::skinned_markers::SkinnedMarker;
use crate::body::{BodyModel, JointTransforms, ShapedBody};

/// Settings of the per-frame solver.
#[derive(Debug, Clone, PartialEq)]
pub struct SolverConfig {
    /// Huber threshold on a marker's error, metres: beyond it the loss grows linearly, so one
    /// mislabelled marker cannot drag the body.
    pub huber_m: f64,
    /// Maximum LM iterations for a warm-started frame.
    pub max_iterations: usize,
    /// Weight (metres per radian) of the residual pulling each joint toward the reference pose
    /// (previous frame): temporal smoothness and regularisation of unobserved twists.
    pub smoothness_m_per_rad: f64,
    /// Weight (metres per radian) of angle-limit residuals (the original uses 2·(θ−b)², i.e. √2).
    pub limit_m_per_rad: f64,
    /// Stop when the relative cost decrease falls below this.
    pub tolerance: f64,
    /// Weight (metres per radian) pulling measured trunk, neck, head and arm joints toward the
    /// neutral pose ([`super::prior`]): resolves what the markers leave free.
    pub prior_m_per_rad: f64,
    /// The same for leg joints, which every gait marker set measures well.
    pub prior_leg_m_per_rad: f64,
    /// The lab's vertical in trial coordinates ([`super::vertical::lab_up`]): where known, the
    /// root is pulled upright about it with [`Self::upright_m_per_rad`], its heading left to the
    /// markers; where unknown, toward the rest orientation (upright only in a Y-up lab).
    pub lab_up: Option<Vector3<f64>>,
    /// Weight (metres per radian) of the pull holding the root upright about [`Self::lab_up`].
    pub upright_m_per_rad: f64,
}

impl Default for SolverConfig {
    fn default() -> Self {
        SolverConfig {
            huber_m: 0.03,
            max_iterations: 12,
            smoothness_m_per_rad: 0.004,
            limit_m_per_rad: std::f64::consts::SQRT_2,
            tolerance: 1e-7,
            prior_m_per_rad: 0.01,
            prior_leg_m_per_rad: 0.002,
            lab_up: None,
            upright_m_per_rad: 0.01,
        }
    }
}

/// Outcome of fitting one frame.
#[derive(Debug, Clone)]
pub struct FrameFit {
    /// The fitted pose.
    pub pose: PoseState,
    /// LM iterations used.
    pub iterations: usize,
    /// Per-marker error in metres (`None` where the marker is missing).
    pub marker_errors_m: Vec<Option<f64>>,
}

impl FrameFit {
    /// Root-mean-square error over visible markers, metres.
    pub fn rmse_m(&self) -> f64 {
        let e: Vec<f64> = self.marker_errors_m.iter().flatten().copied().collect();
        if e.is_empty() {
            return f64::NAN;
        }
        (e.iter().map(|x| x * x).sum::<f64>() / e.len() as f64).sqrt()
    }
}

/// One observed marker linearised at a pose ([`PoseProblem::for_each_marker_term`]).
pub(crate) struct MarkerTerm<'t> {
    /// Marker index.
    pub index: usize,
    /// Model minus observed position, metres.
    pub residual: Vector3<f64>,
    /// IRLS weight: the marker's weight times the Huber factor.
    pub weight: f64,
    /// First parameter column of each Jacobian block.
    pub cols: &'t [usize],
    /// 3×3 Jacobian blocks, one per entry of `cols`.
    pub jac: &'t [Matrix3<f64>],
}

/// Per marker: `(ancestor joint k, entries (j, w̃) of the marker's weights within k's subtree)`.
type MarkerChain = Vec<(usize, Vec<(usize, f64)>)>;

/// A pose-fitting problem for one subject: model, shape, markers, which joints are free.
#[derive(Clone)]
pub struct PoseProblem<'a> {
    model: &'a BodyModel,
    shaped: &'a ShapedBody,
    markers: &'a [SkinnedMarker],
    /// Parameter block of each joint (`None` = held at its current rotation).
    param_of_joint: Vec<Option<usize>>,
    num_params: usize,
    /// Per marker, its chain of influencing joints.
    chains: Vec<MarkerChain>,
    limits: Vec<AngleLimit>,
    /// The pose unmeasured joints are held at and measured ones are pulled toward.
    neutral: PoseState,
    /// Per joint: is it a leg joint (lighter pull toward neutral)?
    leg_joint: Vec<bool>,
    /// Per marker, the weight of its (Huber) loss: 1, less for a marker known to be unreliable.
    marker_weights: Vec<f64>,
}

impl<'a> PoseProblem<'a> {
    /// Sets up the problem; joints no marker measures ([`super::prior::measured_joints`]) are
    /// held at the neutral pose.
    pub fn new(
        model: &'a BodyModel,
        shaped: &'a ShapedBody,
        markers: &'a [SkinnedMarker],
        limits: Vec<AngleLimit>,
    ) -> Self {
        let measured = super::prior::measured_joints(model, &shaped.joints_rest, markers);
        Self::with_measured(model, shaped, markers, limits, &measured)
    }

    /// Like [`Self::new`] with the measured joints given (`measured[j]`): the calibration keeps
    /// one parameter layout while the shape, and with it the markers' levers, changes.
    pub fn with_measured(
        model: &'a BodyModel,
        shaped: &'a ShapedBody,
        markers: &'a [SkinnedMarker],
        limits: Vec<AngleLimit>,
        measured: &[bool],
    ) -> Self {
        let nj = model.num_joints();
        let ancestors = |mut j: usize| {
            let mut a = vec![j];
            while let Some(p) = model.parents[j] {
                a.push(p);
                j = p;
            }
            a
        };
        let mut influences = vec![false; nj];
        let chains: Vec<MarkerChain> = markers
            .iter()
            .map(|m| {
                let mut ks: Vec<usize> =
                    m.weights.iter().flat_map(|&(j, _)| ancestors(j)).collect();
                ks.sort_unstable();
                ks.dedup();
                ks.iter()
                    .map(|&k| {
                        influences[k] = true;
                        let entries = m
                            .weights
                            .iter()
                            .filter(|&&(j, _)| ancestors(j).contains(&k))
                            .copied()
                            .collect();
                        (k, entries)
                    })
                    .collect()
            })
            .collect();
        let mut param_of_joint = vec![None; nj];
        let mut n = 3;
        for (j, p) in param_of_joint.iter_mut().enumerate() {
            if influences[j] && measured.get(j).copied().unwrap_or(false) {
                *p = Some(n);
                n += 3;
            }
        }
        PoseProblem {
            model,
            shaped,
            markers,
            param_of_joint,
            num_params: n,
            chains,
            limits,
            neutral: super::prior::neutral_pose(model),
            leg_joint: model
                .joint_names
                .iter()
                .map(|n| super::prior::is_leg_joint(n))
                .collect(),
            marker_weights: vec![1.0; markers.len()],
        }
    }

    /// Scales marker `i`'s loss by `weight` (e.g. 0.1 for a persistent outlier: it still
    /// resolves what no other marker sees, but cannot pull the fit). Out-of-range `i` is ignored.
    pub fn set_marker_weight(&mut self, i: usize, weight: f64) {
        if let Some(w) = self.marker_weights.get_mut(i) {
            *w = weight;
        }
    }

    /// The neutral pose of [`super::prior::neutral_pose`] at a root translation.
    pub fn neutral(&self, translation: Vector3<f64>) -> PoseState {
        PoseState {
            translation,
            ..self.neutral.clone()
        }
    }

    /// Weight of joint `j`'s pull toward neutral, metres per radian.
    fn prior_weight(&self, j: usize, cfg: &SolverConfig) -> f64 {
        if j == 0 && cfg.lab_up.is_some() {
            cfg.upright_m_per_rad
        } else if self.leg_joint[j] {
            cfg.prior_leg_m_per_rad
        } else {
            cfg.prior_m_per_rad
        }
    }

    /// Deviation of joint `j` from the neutral pose (axis-angle of `Nᵀ R`).
    fn deviation_from_neutral(&self, pose: &PoseState, j: usize) -> Vector3<f64> {
        deviation_from(&self.neutral, pose, j)
    }

    /// Number of pose parameters (root translation, then three per free joint).
    pub(crate) fn num_params(&self) -> usize {
        self.num_params
    }

    /// The markers the problem fits, in observation order.
    pub fn markers(&self) -> &[SkinnedMarker] {
        self.markers
    }

    /// Joints the solver moves.
    pub fn free_joints(&self) -> Vec<usize> {
        (0..self.param_of_joint.len())
            .filter(|&j| self.param_of_joint[j].is_some())
            .collect()
    }

    /// Model marker positions for a pose.
    pub fn model_markers(&self, pose: &PoseState) -> Vec<Vector3<f64>> {
        let t = self.model.joint_transforms(
            &self.shaped.joints_rest,
            &pose.rotations,
            pose.translation,
        );
        self.markers
            .iter()
            .map(|m| m.posed(&t.world_from_rest))
            .collect()
    }

    /// Huber marker cost plus the prior, limit and smoothness terms of `pose`.
    pub(crate) fn robust_cost(
        &self,
        pose: &PoseState,
        observed: &[Option<Vector3<f64>>],
        reference: Option<&PoseState>,
        cfg: &SolverConfig,
    ) -> f64 {
        let model = self.model_markers(pose);
        let d = cfg.huber_m;
        let mut c = 0.0;
        for ((m, o), wm) in model.iter().zip(observed).zip(&self.marker_weights) {
            if let Some(o) = o {
                let e = (m - o).norm();
                c += wm * if e <= d { e * e } else { 2.0 * d * e - d * d };
            }
        }
        c + self.prior_cost(pose, reference, cfg)
    }

    fn prior_cost(
        &self,
        pose: &PoseState,
        reference: Option<&PoseState>,
        cfg: &SolverConfig,
    ) -> f64 {
        let mut c = 0.0;
        for (j, p) in self.param_of_joint.iter().enumerate() {
            if p.is_some() {
                let deviation = match (j, cfg.lab_up) {
                    (0, Some(up)) => upright_residual(&pose.rotations[0], &up).0,
                    _ => self.deviation_from_neutral(pose, j),
                };
                c += self.prior_weight(j, cfg).powi(2) * deviation.norm_squared();
            }
        }
        if let Some(r) = reference {
            let w2 = cfg.smoothness_m_per_rad.powi(2);
            for (j, p) in self.param_of_joint.iter().enumerate() {
                if p.is_some() {
                    c += w2 * deviation_from(r, pose, j).norm_squared();
                }
            }
        }
        let wl2 = cfg.limit_m_per_rad.powi(2);
        for l in &self.limits {
            let v = l.violation(pose);
            c += wl2 * v * v;
        }
        c
    }

    /// Fits one frame by LM starting from `init`; `reference` (usually the previous frame) anchors
    /// the smoothness residual. Missing markers simply drop out.
    pub fn solve(
        &self,
        observed: &[Option<Vector3<f64>>],
        init: &PoseState,
        reference: Option<&PoseState>,
        cfg: &SolverConfig,
    ) -> FrameFit {
        let n = self.num_params;
        let mut pose = init.clone();
        for (j, p) in self.param_of_joint.iter().enumerate() {
            if p.is_none() && j < self.neutral.rotations.len() {
                pose.rotations[j] = self.neutral.rotations[j];
            }
        }
        let mut lambda = 1e-3;
        let mut cost = self.robust_cost(&pose, observed, reference, cfg);
        let mut iterations = 0;
        let mut h = DMatrix::<f64>::zeros(n, n);
        let mut g = DVector::<f64>::zeros(n);
        while iterations < cfg.max_iterations {
            iterations += 1;
            self.normal_equations(&pose, observed, reference, cfg, &mut h, &mut g);
            let mut improved = false;
            for _ in 0..8 {
                let mut a = h.clone();
                for i in 0..n {
                    a[(i, i)] += lambda * h[(i, i)].max(1e-9) + 1e-12;
                }
                let Some(chol) = a.cholesky() else {
                    lambda *= 10.0;
                    continue;
                };
                let step = chol.solve(&(-&g));
                let cand = self.apply_step(&pose, &step);
                let c = self.robust_cost(&cand, observed, reference, cfg);
                if c < cost {
                    let rel = (cost - c) / cost.max(1e-30);
                    pose = cand;
                    cost = c;
                    lambda = (lambda * 0.3).max(1e-7);
                    improved = rel > cfg.tolerance;
                    break;
                }
                lambda *= 10.0;
            }
            if !improved {
                break;
            }
        }
        let model = self.model_markers(&pose);
        let marker_errors_m = model
            .iter()
            .zip(observed)
            .map(|(m, o)| o.map(|o| (m - o).norm()))
            .collect();
        FrameFit {
            pose,
            iterations,
            marker_errors_m,
        }
    }

    /// `pose` moved by a step in this problem's parameters.
    pub(crate) fn apply_step(&self, pose: &PoseState, step: &DVector<f64>) -> PoseState {
        let mut out = pose.clone();
        out.translation += Vector3::new(step[0], step[1], step[2]);
        for (j, p) in self.param_of_joint.iter().enumerate() {
            if let Some(p) = *p {
                let d = Vector3::new(step[p], step[p + 1], step[p + 2]);
                out.rotations[j] *= Rotation3::new(d).into_inner();
            }
        }
        out
    }

    /// Gauss–Newton normal equations `H = Jᵀ W J`, `g = Jᵀ W r` with IRLS Huber weights, with the
    /// rotation parametrised by right-multiplied local increments `R_k ← R_k · exp(δ_k)`.
    pub(crate) fn normal_equations(
        &self,
        pose: &PoseState,
        observed: &[Option<Vector3<f64>>],
        reference: Option<&PoseState>,
        cfg: &SolverConfig,
        h: &mut DMatrix<f64>,
        g: &mut DVector<f64>,
    ) {
        h.fill(0.0);
        g.fill(0.0);
        self.add_marker_terms(pose, observed, cfg, h, g);
        // Columns are ascending (translation, then joints in index order), so blocks with a < b
        // filled only the upper triangle; diagonal blocks are complete and symmetric.
        for a in 0..h.nrows() {
            for b in (a + 1)..h.ncols() {
                h[(b, a)] = h[(a, b)];
            }
        }
        self.add_prior_terms(pose, reference, cfg, h, g);
    }

    /// Adds every observed marker's Huber-weighted block `Jᵢᵀ wᵢ Jᵢ` (upper triangle) and
    /// `Jᵢᵀ wᵢ rᵢ` to the normal equations.
    fn add_marker_terms(
        &self,
        pose: &PoseState,
        observed: &[Option<Vector3<f64>>],
        cfg: &SolverConfig,
        h: &mut DMatrix<f64>,
        g: &mut DVector<f64>,
    ) {
        let t = self.model.joint_transforms(
            &self.shaped.joints_rest,
            &pose.rotations,
            pose.translation,
        );
        self.for_each_marker_term(&t, observed, cfg, |term| {
            for (a, (&ca, ja)) in term.cols.iter().zip(term.jac).enumerate() {
                let jt_r = ja.transpose() * term.residual * term.weight;
                for q in 0..3 {
                    g[ca + q] += jt_r[q];
                }
                for (&cb, jb) in term.cols.iter().zip(term.jac).skip(a) {
                    let block = ja.transpose() * jb * term.weight;
                    for x in 0..3 {
                        for yy in 0..3 {
                            h[(ca + x, cb + yy)] += block[(x, yy)];
                        }
                    }
                }
            }
        });
    }

    /// Linearises every observed marker at the pose whose joint transforms are `t`: calls
    /// `visit` with its residual, IRLS Huber weight and pose Jacobian blocks (the one
    /// implementation the per-frame solver and the joint calibration share).
    pub(crate) fn for_each_marker_term(
        &self,
        t: &JointTransforms,
        observed: &[Option<Vector3<f64>>],
        cfg: &SolverConfig,
        mut visit: impl FnMut(&MarkerTerm<'_>),
    ) {
        let mut cols: Vec<usize> = Vec::with_capacity(32);
        let mut jac: Vec<Matrix3<f64>> = Vec::with_capacity(32);
        for (i, m) in self.markers.iter().enumerate() {
            let Some(y) = observed[i] else { continue };
            let rest = m.rest_with_offset().push(1.0);
            let posed_by_joint: Vec<(usize, f64, Vector3<f64>)> = m
                .weights
                .iter()
                .map(|&(j, w)| (j, w, (t.world_from_rest[j] * rest).xyz()))
                .collect();
            let pos: Vector3<f64> = posed_by_joint.iter().map(|(_, w, p)| *w * p).sum();
            let r = pos - y;
            let e = r.norm();
            let w = self.marker_weights[i]
                * if e <= cfg.huber_m {
                    1.0
                } else {
                    cfg.huber_m / e
                };
            self.marker_jacobian(i, &t.world_from_joint, &posed_by_joint, &mut cols, &mut jac);
            visit(&MarkerTerm {
                index: i,
                residual: r,
                weight: w,
                cols: &cols,
                jac: &jac,
            });
        }
    }

    /// Marker `i`'s 3×3 Jacobian blocks and their parameter columns (translation first, then
    /// each free ancestor joint), given the joints' world transforms and the marker's position
    /// as moved by each of its skinning joints.
    fn marker_jacobian(
        &self,
        i: usize,
        world_from_joint: &[Matrix4<f64>],
        posed_by_joint: &[(usize, f64, Vector3<f64>)],
        cols: &mut Vec<usize>,
        jac: &mut Vec<Matrix3<f64>>,
    ) {
        cols.clear();
        jac.clear();
        cols.push(0);
        jac.push(Matrix3::identity());
        for (k, entries) in &self.chains[i] {
            let Some(p) = self.param_of_joint[*k] else {
                continue;
            };
            let gk = &world_from_joint[*k];
            let pk = Vector3::new(gk[(0, 3)], gk[(1, 3)], gk[(2, 3)]);
            let mut s = Vector3::zeros();
            for &(j, wj) in entries {
                let pj = posed_by_joint
                    .iter()
                    .find(|x| x.0 == j)
                    .map(|x| x.2)
                    .unwrap_or(pk);
                s += wj * (pj - pk);
            }
            let rk = gk.fixed_view::<3, 3>(0, 0).into_owned();
            cols.push(p);
            jac.push(-skew(&s) * rk);
        }
    }

    /// Adds the pulls toward neutral and toward `reference` and the violated angle limits to the
    /// diagonal of `h` and to `g`.
    fn add_prior_terms(
        &self,
        pose: &PoseState,
        reference: Option<&PoseState>,
        cfg: &SolverConfig,
        h: &mut DMatrix<f64>,
        g: &mut DVector<f64>,
    ) {
        for (j, p) in self.param_of_joint.iter().enumerate() {
            let Some(p) = *p else { continue };
            let w2 = self.prior_weight(j, cfg).powi(2);
            if let (0, Some(up)) = (j, cfg.lab_up) {
                let (r, jac) = upright_residual(&pose.rotations[0], &up);
                add_block(
                    h,
                    g,
                    p,
                    jac.transpose() * jac * w2,
                    jac.transpose() * r * w2,
                );
            } else {
                let phi = self.deviation_from_neutral(pose, j);
                add_block(h, g, p, Matrix3::identity() * w2, phi * w2);
            }
        }
        if let Some(rf) = reference {
            let w2 = cfg.smoothness_m_per_rad.powi(2);
            for (j, p) in self.param_of_joint.iter().enumerate() {
                if let Some(p) = *p {
                    let phi = deviation_from(rf, pose, j);
                    add_block(h, g, p, Matrix3::identity() * w2, phi * w2);
                }
            }
        }
        let wl2 = cfg.limit_m_per_rad.powi(2);
        for l in &self.limits {
            let Some(p) = self.param_of_joint[l.joint] else {
                continue;
            };
            let v = l.violation(pose);
            if v != 0.0 {
                // d log(R·exp(δ)) / dδ = J_r⁻¹(log R): the limited component's gradient row.
                let jr = right_jacobian_inv(&log_rotation(&pose.rotations[l.joint]));
                let a = jr.row(l.axis);
                for x in 0..3 {
                    g[p + x] += wl2 * v * a[x];
                    for y in 0..3 {
                        h[(p + x, p + y)] += wl2 * a[x] * a[y];
                    }
                }
            }
        }
    }
}

/// Adds one 3-parameter block's `Jᵀ w² J` to `h` and `Jᵀ w² r` to `g` at parameter `p` (the
/// pulls toward a pose use `J ≈ I`).
fn add_block(
    h: &mut DMatrix<f64>,
    g: &mut DVector<f64>,
    p: usize,
    jtj: Matrix3<f64>,
    jtr: Vector3<f64>,
) {
    for x in 0..3 {
        g[p + x] += jtr[x];
        for y in 0..3 {
            h[(p + x, p + y)] += jtj[(x, y)];
        }
    }
}

/// How far the root rotation `r` tips the body's y axis from the lab's `up`: the residual
/// `(r·ŷ) × up` (sine of the tilt along the tilt axis; zero for any heading) and its Jacobian
/// for the right-multiplied increment `r ← r·exp(δ)`, `[up]× · r · [ŷ]×`.
fn upright_residual(r: &Matrix3<f64>, up: &Vector3<f64>) -> (Vector3<f64>, Matrix3<f64>) {
    let y = Vector3::y();
    let residual = (r * y).cross(up);
    (residual, skew(up) * r * skew(&y))
}

/// Axis-angle of joint `j`'s rotation in `pose` relative to `reference` (`log(Rrefᵀ R)`).
fn deviation_from(reference: &PoseState, pose: &PoseState, j: usize) -> Vector3<f64> {
    log_rotation(&(reference.rotations[j].transpose() * pose.rotations[j]))
}

/// Inverse right Jacobian of SO(3) at `phi`: `log(exp(φ)·exp(δ)) ≈ φ + J_r⁻¹(φ) δ`.
fn right_jacobian_inv(phi: &Vector3<f64>) -> Matrix3<f64> {
    let th = phi.norm();
    let k = skew(phi);
    if th < 1e-6 {
        return Matrix3::identity() + 0.5 * k;
    }
    let c = 1.0 / (th * th) - (1.0 + th.cos()) / (2.0 * th * th.sin());
    Matrix3::identity() + 0.5 * k + c * k * k
}

/// Skew-symmetric cross-product matrix `[v]×`.
pub fn skew(v: &Vector3<f64>) -> Matrix3<f64> {
    Matrix3::new(0.0, -v.z, v.y, v.z, 0.0, -v.x, -v.y, v.x, 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_upright_residual_ignores_heading_and_its_jacobian_matches_finite_differences() {
        let z_up = Vector3::z();
        // A Y-up body stood up in a Z-up lab, then turned about the lab vertical: upright.
        let stood = Rotation3::from_axis_angle(&Vector3::x_axis(), std::f64::consts::FRAC_PI_2);
        let turned = Rotation3::from_axis_angle(&Vector3::z_axis(), 1.1) * stood;
        assert!(upright_residual(turned.matrix(), &z_up).0.norm() < 1e-12);
        // Tilted by 0.3 rad: the residual is the sine of the tilt.
        let tilted = Rotation3::from_axis_angle(&Vector3::y_axis(), 0.3) * turned;
        let (r, jac) = upright_residual(tilted.matrix(), &z_up);
        assert!((r.norm() - 0.3f64.sin()).abs() < 1e-12);
        let eps = 1e-6;
        for k in 0..3 {
            let mut d = Vector3::zeros();
            d[k] = eps;
            let moved = tilted.matrix() * Rotation3::new(d).into_inner();
            let numeric = (upright_residual(&moved, &z_up).0 - r) / eps;
            assert!(
                (numeric - jac.column(k)).norm() < 1e-5,
                "column {k}: {numeric} vs {}",
                jac.column(k)
            );
        }
    }
}
