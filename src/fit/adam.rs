//! The original pipeline's fitting method, for comparison: per frame, Adam (lr 1e-3, weight decay
//! 0.01) on pose, betas and translation with ReduceLROnPlateau (patience 10, threshold 1e-3,
//! factor 0.1) until the learning rate falls below 1e-6, minimising the sum of marker distances plus
//! `2·(θ − bound)²` outside angle limits. Implemented with burn autodiff so the same loss runs on
//! any burn backend.

use burn::optim::AdamConfig;
use burn::optim::SimpleOptimizer;
use burn::optim::decay::WeightDecayConfig;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{ElementConversion, Int, Tensor, TensorData};
use nalgebra::Vector3;

use super::solver::{AngleLimit, PoseState};
use crate::body::{BodyModel, MarkerSet};

/// Settings mirroring `shape_optimizer.py`.
#[derive(Debug, Clone, PartialEq)]
pub struct AdamFitConfig {
    /// Initial learning rate.
    pub lr: f64,
    /// Adam weight decay (L2 added to the gradient, as torch's Adam).
    pub weight_decay: f64,
    /// Plateau patience in steps.
    pub patience: usize,
    /// Relative improvement threshold of the plateau detector.
    pub threshold: f64,
    /// Stop once the learning rate is at or below this.
    pub min_lr: f64,
    /// Safety cap on steps per frame.
    pub max_steps: usize,
}

impl Default for AdamFitConfig {
    fn default() -> Self {
        AdamFitConfig {
            lr: 1e-3,
            weight_decay: 0.01,
            patience: 10,
            threshold: 1e-3,
            min_lr: 1e-6,
            max_steps: 100_000,
        }
    }
}

/// torch's `ReduceLROnPlateau` (mode min, relative threshold, factor 0.1, no cooldown).
#[derive(Debug, Clone)]
pub struct ReduceLrOnPlateau {
    /// Current learning rate.
    pub lr: f64,
    best: f64,
    bad_steps: usize,
    patience: usize,
    threshold: f64,
    factor: f64,
}

impl ReduceLrOnPlateau {
    /// Starts at `lr`.
    pub fn new(lr: f64, patience: usize, threshold: f64) -> Self {
        ReduceLrOnPlateau {
            lr,
            best: f64::INFINITY,
            bad_steps: 0,
            patience,
            threshold,
            factor: 0.1,
        }
    }

    /// Records a loss; lowers the learning rate after `patience` steps without relative improvement.
    pub fn step(&mut self, loss: f64) {
        if loss < self.best * (1.0 - self.threshold) {
            self.best = loss;
            self.bad_steps = 0;
        } else {
            self.bad_steps += 1;
        }
        if self.bad_steps > self.patience {
            let new = self.lr * self.factor;
            if self.lr - new > 1e-8 {
                self.lr = new;
            }
            self.bad_steps = 0;
        }
    }
}

/// The marker subset of a model as tensors.
struct MarkerTensors<B: AutodiffBackend> {
    v_template: Tensor<B, 2>,    // U×3
    shapedirs: Tensor<B, 2>,     // 3U×K
    weights: Tensor<B, 2>,       // U×J
    j_template: Tensor<B, 2>,    // J×3
    j_shapedirs: Tensor<B, 2>,   // 3J×K
    face_idx: Tensor<B, 1, Int>, // 3M indices into U
    bary: Tensor<B, 3>,          // M×3×1
    distance: Tensor<B, 2>,      // M×1
    num_markers: usize,
    num_unique: usize,
}

/// Result of the Adam fit of one frame.
#[derive(Debug, Clone)]
pub struct AdamFrame {
    /// Fitted pose.
    pub pose: PoseState,
    /// Fitted betas.
    pub betas: Vec<f64>,
    /// Optimiser steps.
    pub steps: usize,
    /// Per-marker error, metres.
    pub marker_errors_m: Vec<Option<f64>>,
}

/// Fits frames one after another with the original's optimiser (parameters carried over from the
/// previous frame, optimiser and scheduler fresh per frame, as `shape_optimizer.py` does).
pub struct AdamFitter<B: AutodiffBackend> {
    t: MarkerTensors<B>,
    parents: Vec<Option<usize>>,
    limits: Vec<AngleLimit>,
    device: B::Device,
    pose: Tensor<B, 2>,
    betas: Tensor<B, 2>,
    trans: Tensor<B, 2>,
    initialised: bool,
}

impl<B: AutodiffBackend> AdamFitter<B> {
    /// Prepares the tensors of the marker vertices of `set` on `model`.
    pub fn new(
        model: &BodyModel,
        set: &MarkerSet,
        limits: &[AngleLimit],
        device: &B::Device,
    ) -> Self {
        let unique = set.vertex_ids(&model.faces);
        let k = model.num_betas;
        let nj = model.num_joints();
        let pos = |v: u32| unique.binary_search(&v).unwrap_or(0) as i64;
        let vt: Vec<f32> = unique
            .iter()
            .flat_map(|&v| model.v_template[v as usize])
            .collect();
        let mut sd = Vec::with_capacity(unique.len() * 3 * k);
        for &v in &unique {
            let v = v as usize;
            sd.extend_from_slice(&model.shapedirs[v * 3 * k..(v + 1) * 3 * k]);
        }
        let mut w = vec![0f32; unique.len() * nj];
        for (u, &v) in unique.iter().enumerate() {
            for (j, x) in model.weights.row(v as usize) {
                w[u * nj + j] = x;
            }
        }
        let jt: Vec<f32> = model
            .j_template
            .iter()
            .flat_map(|p| p.map(|x| x as f32))
            .collect();
        let jsd: Vec<f32> = model.j_shapedirs.iter().map(|&x| x as f32).collect();
        let m = set.markers.len();
        let idx: Vec<i64> = set
            .markers
            .iter()
            .flat_map(|p| model.faces[p.face_id as usize].map(pos))
            .collect();
        let bary: Vec<f32> = set.markers.iter().flat_map(|p| p.bary).collect();
        let dist: Vec<f32> = set.markers.iter().map(|p| p.distance_to_skin_m).collect();
        let u = unique.len();
        let f2 =
            |d: Vec<f32>, s: [usize; 2]| Tensor::<B, 2>::from_data(TensorData::new(d, s), device);
        let t = MarkerTensors {
            v_template: f2(vt, [u, 3]),
            shapedirs: f2(sd, [3 * u, k]),
            weights: f2(w, [u, nj]),
            j_template: f2(jt, [nj, 3]),
            j_shapedirs: f2(jsd, [3 * nj, k]),
            face_idx: Tensor::<B, 1, Int>::from_data(TensorData::new(idx, [3 * m]), device),
            bary: Tensor::<B, 3>::from_data(TensorData::new(bary, [m, 3, 1]), device),
            distance: f2(dist, [m, 1]),
            num_markers: m,
            num_unique: u,
        };
        AdamFitter {
            t,
            parents: model.parents.clone(),
            limits: limits.to_vec(),
            device: device.clone(),
            pose: Tensor::zeros([nj, 3], device),
            betas: Tensor::zeros([1, k], device),
            trans: Tensor::zeros([1, 3], device),
            initialised: false,
        }
    }

    /// Model marker positions (M×3) for the given parameters, differentiable.
    fn markers(
        &self,
        pose: Tensor<B, 2>,
        betas: Tensor<B, 2>,
        trans: Tensor<B, 2>,
    ) -> Tensor<B, 2> {
        let t = &self.t;
        let nj = self.parents.len();
        let u = t.num_unique;
        let bt = betas.transpose(); // K×1
        let v_shaped =
            t.v_template.clone() + t.shapedirs.clone().matmul(bt.clone()).reshape([u, 3]);
        let joints = t.j_template.clone() + t.j_shapedirs.clone().matmul(bt).reshape([nj, 3]);
        let rots = rodrigues(pose); // J×3×3
        // Kinematic chain, joint by joint (22 small steps).
        let mut g_rot: Vec<Tensor<B, 2>> = Vec::with_capacity(nj);
        let mut g_pos: Vec<Tensor<B, 2>> = Vec::with_capacity(nj);
        for j in 0..nj {
            let r = rots.clone().narrow(0, j, 1).reshape([3, 3]);
            let jj = joints.clone().narrow(0, j, 1); // 1×3
            match self.parents[j] {
                None => {
                    g_rot.push(r);
                    g_pos.push(jj + trans.clone());
                }
                Some(p) => {
                    let off = jj - joints.clone().narrow(0, p, 1);
                    let pos = g_pos[p].clone() + off.matmul(g_rot[p].clone().transpose());
                    g_rot.push(g_rot[p].clone().matmul(r));
                    g_pos.push(pos);
                }
            }
        }
        // Skinning transforms A_j = [R_j | p_j − R_j·j_j], flattened to 12 per joint.
        let mut flat = Vec::with_capacity(nj);
        for j in 0..nj {
            let jj = joints.clone().narrow(0, j, 1);
            let tr = g_pos[j].clone() - jj.matmul(g_rot[j].clone().transpose());
            flat.push(Tensor::cat(vec![g_rot[j].clone().reshape([1, 9]), tr], 1));
        }
        let a = Tensor::cat(flat, 0); // J×12
        let blended = t.weights.clone().matmul(a); // U×12
        let rot = blended.clone().slice([0..u, 0..9]).reshape([u, 3, 3]);
        let tr = blended.slice([0..u, 9..12]);
        let posed = rot.matmul(v_shaped.reshape([u, 3, 1])).reshape([u, 3]) + tr;
        let m = t.num_markers;
        let corners = posed.select(0, t.face_idx.clone()).reshape([m, 3, 3]);
        let point = (corners.clone() * t.bary.clone())
            .sum_dim(1)
            .reshape([m, 3]);
        let c0 = corners.clone().slice([0..m, 0..1]).reshape([m, 3]);
        let c1 = corners.clone().slice([0..m, 1..2]).reshape([m, 3]);
        let c2 = corners.slice([0..m, 2..3]).reshape([m, 3]);
        let n = (c1 - c0.clone()).cross(c2 - c0, 1);
        let len = n.clone().powi_scalar(2).sum_dim(1).sqrt().clamp_min(1e-12);
        point + n / len * t.distance.clone()
    }

    fn loss(
        &self,
        pose: Tensor<B, 2>,
        betas: Tensor<B, 2>,
        trans: Tensor<B, 2>,
        target: &Tensor<B, 2>,
        mask: &Tensor<B, 2>,
    ) -> Tensor<B, 1> {
        let m = self.markers(pose.clone(), betas, trans);
        let d = (m - target.clone()) * mask.clone();
        let mut loss = d.powi_scalar(2).sum_dim(1).add_scalar(1e-18).sqrt().sum();
        if !self.limits.is_empty() {
            let flat = pose.reshape([1, -1]);
            for l in &self.limits {
                let i = l.joint * 3 + l.axis;
                let th = flat.clone().slice([0..1, i..i + 1]);
                let over = (th.clone().sub_scalar(l.upper)).clamp_min(0.0);
                let under = (th.sub_scalar(l.lower)).clamp_max(0.0);
                loss = loss
                    + (over.powi_scalar(2) + under.powi_scalar(2))
                        .mul_scalar(2.0)
                        .sum();
            }
        }
        loss
    }

    /// Fits one frame; missing markers are masked out.
    pub fn fit_frame(
        &mut self,
        observed: &[Option<Vector3<f64>>],
        cfg: &AdamFitConfig,
    ) -> AdamFrame {
        let m = self.t.num_markers;
        let tgt: Vec<f32> = observed
            .iter()
            .flat_map(|o| {
                o.map(|v| [v.x as f32, v.y as f32, v.z as f32])
                    .unwrap_or([0.0; 3])
            })
            .collect();
        let msk: Vec<f32> = observed
            .iter()
            .flat_map(|o| [if o.is_some() { 1.0 } else { 0.0 }; 3])
            .collect();
        let target = Tensor::<B, 2>::from_data(TensorData::new(tgt, [m, 3]), &self.device);
        let mask = Tensor::<B, 2>::from_data(TensorData::new(msk, [m, 3]), &self.device);
        if !self.initialised {
            // Start at the markers' centroid (the original starts at the origin; this only helps it).
            let vis: Vec<_> = observed.iter().flatten().collect();
            let c = vis.iter().fold(Vector3::zeros(), |a, v| a + **v) / vis.len().max(1) as f64;
            let j0 = self
                .t
                .j_template
                .clone()
                .narrow(0, 0, 1)
                .into_data()
                .to_vec::<f32>()
                .unwrap_or_default();
            let t0 = [
                c.x as f32 - j0.first().copied().unwrap_or(0.0),
                c.y as f32 - j0.get(1).copied().unwrap_or(0.0),
                c.z as f32 - j0.get(2).copied().unwrap_or(0.0),
            ];
            self.trans = Tensor::from_data(TensorData::new(t0.to_vec(), [1, 3]), &self.device);
            self.initialised = true;
        }
        let adam = AdamConfig::new()
            .with_epsilon(1e-8)
            .with_weight_decay(Some(WeightDecayConfig::new(cfg.weight_decay as f32)))
            .build();
        let mut sched = ReduceLrOnPlateau::new(cfg.lr, cfg.patience, cfg.threshold);
        let (mut sp, mut sb, mut st) = (None, None, None);
        let mut steps = 0;
        while sched.lr > cfg.min_lr && steps < cfg.max_steps {
            steps += 1;
            let pose = self.pose.clone().detach().require_grad();
            let betas = self.betas.clone().detach().require_grad();
            let trans = self.trans.clone().detach().require_grad();
            let loss = self.loss(pose.clone(), betas.clone(), trans.clone(), &target, &mask);
            let value: f64 = loss.clone().into_scalar().elem();
            let grads = loss.backward();
            let (Some(gp), Some(gb), Some(gt)) =
                (pose.grad(&grads), betas.grad(&grads), trans.grad(&grads))
            else {
                break;
            };
            let (np, s1) = adam.step(sched.lr, pose.inner(), gp, sp.take());
            let (nb, s2) = adam.step(sched.lr, betas.inner(), gb, sb.take());
            let (nt, s3) = adam.step(sched.lr, trans.inner(), gt, st.take());
            (sp, sb, st) = (s1, s2, s3);
            self.pose = Tensor::from_inner(np);
            self.betas = Tensor::from_inner(nb);
            self.trans = Tensor::from_inner(nt);
            sched.step(value);
        }
        let markers = self.markers(self.pose.clone(), self.betas.clone(), self.trans.clone());
        let mv = markers.into_data().to_vec::<f32>().unwrap_or_default();
        let marker_errors_m = observed
            .iter()
            .enumerate()
            .map(|(i, o)| {
                o.map(|o| {
                    (Vector3::new(mv[3 * i] as f64, mv[3 * i + 1] as f64, mv[3 * i + 2] as f64) - o)
                        .norm()
                })
            })
            .collect();
        let pv = self
            .pose
            .clone()
            .into_data()
            .to_vec::<f32>()
            .unwrap_or_default();
        let tv = self
            .trans
            .clone()
            .into_data()
            .to_vec::<f32>()
            .unwrap_or_default();
        let bv = self
            .betas
            .clone()
            .into_data()
            .to_vec::<f32>()
            .unwrap_or_default();
        let rotations = pv
            .chunks_exact(3)
            .map(|a| {
                crate::body::model::rodrigues(Vector3::new(a[0] as f64, a[1] as f64, a[2] as f64))
            })
            .collect();
        AdamFrame {
            pose: PoseState {
                rotations,
                translation: Vector3::new(tv[0] as f64, tv[1] as f64, tv[2] as f64),
            },
            betas: bv.iter().map(|&b| b as f64).collect(),
            steps,
            marker_errors_m,
        }
    }
}

/// Batched Rodrigues formula on a J×3 axis-angle tensor → J×3×3 rotation matrices.
fn rodrigues<B: AutodiffBackend>(aa: Tensor<B, 2>) -> Tensor<B, 3> {
    let j = aa.dims()[0];
    let device = aa.device();
    let theta = aa
        .clone()
        .powi_scalar(2)
        .sum_dim(1)
        .add_scalar(1e-16)
        .sqrt(); // J×1
    let k = aa / theta.clone();
    let kx = k.clone().slice([0..j, 0..1]);
    let ky = k.clone().slice([0..j, 1..2]);
    let kz = k.slice([0..j, 2..3]);
    let zero = Tensor::<B, 2>::zeros([j, 1], &device);
    let km = Tensor::cat(
        vec![
            zero.clone(),
            -kz.clone(),
            ky.clone(),
            kz,
            zero.clone(),
            -kx.clone(),
            -ky,
            kx,
            zero,
        ],
        1,
    )
    .reshape([j, 3, 3]);
    let eye = Tensor::<B, 2>::eye(3, &device)
        .reshape([1, 3, 3])
        .repeat_dim(0, j);
    let s = theta.clone().sin().reshape([j, 1, 1]);
    let c = theta.cos().reshape([j, 1, 1]).neg().add_scalar(1.0);
    eye + km.clone() * s + km.clone().matmul(km) * c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plateau_scheduler_matches_torch_semantics() {
        let mut s = ReduceLrOnPlateau::new(1e-3, 2, 1e-3);
        s.step(1.0); // best
        s.step(0.9995); // not 0.1 % better: bad 1
        s.step(0.9995); // bad 2
        assert_eq!(s.lr, 1e-3);
        s.step(0.9995); // bad 3 > patience → reduce
        assert!((s.lr - 1e-4).abs() < 1e-12);
        s.step(0.5); // improvement resets
        s.step(0.5);
        s.step(0.5);
        assert!((s.lr - 1e-4).abs() < 1e-12);
    }
}
