//! The statistical body model shared by SUPR files and the embedded default (SMPL/SUPR structure).

use nalgebra::{Matrix3, Matrix4, Vector3};
use serde::{Deserialize, Serialize};

/// How pose-corrective blend shapes read the pose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PoseFeature {
    /// No pose blend shapes (the embedded default model).
    None,
    /// SUPR: per joint (root included) `[sin(θ/2)·axis, cos(θ/2) − 1]`, 4 values a joint.
    Quaternion,
}

/// Skinning weights stored sparsely (compressed rows per vertex): only non-zero weights are kept,
/// which makes skinning O(V·k) with k ≈ 4 instead of O(V·J).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SparseWeights {
    /// `offsets[v]..offsets[v+1]` indexes the entries of vertex `v`.
    pub offsets: Vec<u32>,
    /// Joint index of each entry.
    pub joints: Vec<u16>,
    /// Weight of each entry.
    pub values: Vec<f32>,
}

impl SparseWeights {
    /// Builds sparse weights from a dense row-major `V × J` matrix, dropping exact zeros.
    pub fn from_dense(dense: &[f32], num_vertices: usize, num_joints: usize) -> Self {
        let mut w = SparseWeights {
            offsets: Vec::with_capacity(num_vertices + 1),
            ..Default::default()
        };
        w.offsets.push(0);
        for v in 0..num_vertices {
            for j in 0..num_joints {
                let x = dense[v * num_joints + j];
                if x != 0.0 {
                    w.joints.push(j as u16);
                    w.values.push(x);
                }
            }
            w.offsets.push(w.joints.len() as u32);
        }
        w
    }

    /// The `(joint, weight)` entries of vertex `v`.
    pub fn row(&self, v: usize) -> impl Iterator<Item = (usize, f32)> + '_ {
        let (a, b) = (self.offsets[v] as usize, self.offsets[v + 1] as usize);
        self.joints[a..b]
            .iter()
            .zip(&self.values[a..b])
            .map(|(&j, &w)| (j as usize, w))
    }

    /// Number of vertices.
    pub fn num_vertices(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }
}

/// A statistical body model: template mesh, shape and pose blend shapes, joints and skinning.
///
/// Joints are stored as rest joints plus joint shape directions (the joint regressor applied to
/// the template and to the shape directions), which is exactly SUPR's/SMPL's linear regression
/// of joints from the shaped mesh, precomputed once at load time.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BodyModel {
    /// Human-readable name ("gaitlens default (MakeHuman CC0)", "supr_neutral", ...).
    pub name: String,
    /// Template vertices in metres, `V`.
    pub v_template: Vec<[f32; 3]>,
    /// Triangle faces indexing `v_template`.
    pub faces: Vec<[u32; 3]>,
    /// Number of shape components `K`.
    pub num_betas: usize,
    /// Shape directions, layout `[v][xyz][k]`, length `V·3·K`.
    pub shapedirs: Vec<f32>,
    /// How pose blend shapes read the pose.
    pub pose_feature: PoseFeature,
    /// Pose directions, layout `[v][xyz][p]`, length `V·3·P` (`P = 4·J` for SUPR); empty if none.
    pub posedirs: Vec<f32>,
    /// Rest joints of the template (the regressor applied to `v_template`), `J`, in metres.
    pub j_template: Vec<[f64; 3]>,
    /// Joint shape directions, layout `[j][xyz][k]`, length `J·3·K`.
    pub j_shapedirs: Vec<f64>,
    /// Parent of each joint (`None` for the root), parents always precede children.
    pub parents: Vec<Option<usize>>,
    /// Joint names, `J`.
    pub joint_names: Vec<String>,
    /// Linear blend skinning weights.
    pub weights: SparseWeights,
}

/// A body of a given shape, ready to be posed many times.
#[derive(Debug, Clone)]
pub struct ShapedBody {
    /// Shaped rest vertices `v_template + shapedirs·β`.
    pub v_shaped: Vec<[f32; 3]>,
    /// Shaped rest joints.
    pub joints_rest: Vec<Vector3<f64>>,
}

/// Output of the forward pass for one frame.
#[derive(Debug, Clone, Default)]
pub struct PosedBody {
    /// Posed vertices (world, metres).
    pub vertices: Vec<[f32; 3]>,
    /// Area-weighted unit vertex normals (empty for subset posing).
    pub normals: Vec<[f32; 3]>,
    /// Posed joint positions (`J_transformed`, world, metres).
    pub joints: Vec<Vector3<f64>>,
}

/// Rigid transforms of every joint for one pose: `world_from_joint` (rotation + joint position)
/// and the skinning transform `world_from_rest` that maps a rest-pose point to its posed place.
#[derive(Debug, Clone)]
pub struct JointTransforms {
    /// Global transform of each joint frame.
    pub world_from_joint: Vec<Matrix4<f64>>,
    /// Skinning transform of each joint (`world_from_joint · rest_from_joint⁻¹`).
    pub world_from_rest: Vec<Matrix4<f64>>,
}

/// Errors when a model's arrays do not fit together.
#[derive(Debug, thiserror::Error)]
pub enum BodyModelError {
    /// An array's length disagrees with the model's dimensions.
    #[error("body model '{model}': array `{array}` has length {actual}, expected {expected}")]
    BadLength {
        /// Model name.
        model: String,
        /// Which array.
        array: &'static str,
        /// Expected length.
        expected: usize,
        /// Actual length.
        actual: usize,
    },
    /// A face or weight refers to a vertex or joint that does not exist.
    #[error("body model '{model}': {what}")]
    BadIndex {
        /// Model name.
        model: String,
        /// What is out of range.
        what: String,
    },
    /// The pose vector has the wrong size.
    #[error("pose has {actual} values, the model '{model}' expects {expected}")]
    BadPose {
        /// Model name.
        model: String,
        /// Expected number of values.
        expected: usize,
        /// Actual number.
        actual: usize,
    },
}

impl BodyModel {
    /// Number of vertices `V`.
    pub fn num_vertices(&self) -> usize {
        self.v_template.len()
    }

    /// Number of joints `J`.
    pub fn num_joints(&self) -> usize {
        self.parents.len()
    }

    /// Checks that every array matches the model's dimensions and that indices are in range.
    pub fn validate(&self) -> Result<(), BodyModelError> {
        let (v, j, k) = (self.num_vertices(), self.num_joints(), self.num_betas);
        let check = |array: &'static str, expected: usize, actual: usize| {
            if expected == actual {
                Ok(())
            } else {
                Err(BodyModelError::BadLength {
                    model: self.name.clone(),
                    array,
                    expected,
                    actual,
                })
            }
        };
        check("shapedirs", v * 3 * k, self.shapedirs.len())?;
        check("j_template", j, self.j_template.len())?;
        check("j_shapedirs", j * 3 * k, self.j_shapedirs.len())?;
        check("joint_names", j, self.joint_names.len())?;
        check("weights.offsets", v + 1, self.weights.offsets.len())?;
        check(
            "weights.values",
            self.weights.joints.len(),
            self.weights.values.len(),
        )?;
        match self.pose_feature {
            PoseFeature::None => check("posedirs", 0, self.posedirs.len())?,
            PoseFeature::Quaternion => check("posedirs", v * 3 * 4 * j, self.posedirs.len())?,
        }
        let bad = |what: String| BodyModelError::BadIndex {
            model: self.name.clone(),
            what,
        };
        if let Some(f) = self
            .faces
            .iter()
            .find(|f| f.iter().any(|&i| i as usize >= v))
        {
            return Err(bad(format!("face {f:?} refers to a vertex >= {v}")));
        }
        if let Some(&jj) = self.weights.joints.iter().find(|&&jj| jj as usize >= j) {
            return Err(bad(format!("skinning weight refers to joint {jj} >= {j}")));
        }
        for (i, p) in self.parents.iter().enumerate() {
            if let Some(p) = p
                && *p >= i
            {
                return Err(bad(format!(
                    "joint {i} has parent {p}, parents must come first"
                )));
            }
        }
        let mut last = 0u32;
        for &o in &self.weights.offsets {
            if o < last || o as usize > self.weights.joints.len() {
                return Err(bad("skinning weight offsets are not increasing".into()));
            }
            last = o;
        }
        Ok(())
    }

    /// Applies shape: `v_shaped = v_template + shapedirs·β`, joints likewise. Missing betas are 0,
    /// extra betas are ignored (SUPR files carry up to 300 components, poses usually 10–50).
    pub fn shape(&self, betas: &[f64]) -> ShapedBody {
        let k = self.num_betas.min(betas.len());
        let kk = self.num_betas;
        let betas_f: Vec<f32> = betas[..k].iter().map(|&b| b as f32).collect();
        let v_shaped = self
            .v_template
            .iter()
            .enumerate()
            .map(|(v, t)| {
                let mut p = *t;
                if k > 0 {
                    for (c, pc) in p.iter_mut().enumerate() {
                        let row = &self.shapedirs[(v * 3 + c) * kk..(v * 3 + c) * kk + k];
                        *pc += row.iter().zip(&betas_f).map(|(a, b)| a * b).sum::<f32>();
                    }
                }
                p
            })
            .collect();
        let joints_rest = self.rest_joints(betas);
        ShapedBody {
            v_shaped,
            joints_rest,
        }
    }

    /// Shaped rest joints for `betas` (the joint part of [`Self::shape`], without the vertices).
    pub fn rest_joints(&self, betas: &[f64]) -> Vec<Vector3<f64>> {
        let kk = self.num_betas;
        let k = kk.min(betas.len());
        self.j_template
            .iter()
            .enumerate()
            .map(|(j, t)| {
                let mut p = Vector3::from(*t);
                for c in 0..3 {
                    let row = &self.j_shapedirs[(j * 3 + c) * kk..(j * 3 + c) * kk + k];
                    p[c] += row.iter().zip(&betas[..k]).map(|(a, b)| a * b).sum::<f64>();
                }
                p
            })
            .collect()
    }

    /// Posed world positions of the 22 SMPL body joints (what the classifiers read), or `None`
    /// for a body with fewer joints.
    pub fn smpl22_positions(
        &self,
        joints_rest: &[Vector3<f64>],
        rotations: &[Matrix3<f64>],
        translation: Vector3<f64>,
    ) -> Option<crate::body::smpl22::Frame> {
        if self.num_joints() < crate::body::smpl22::NUM_JOINTS {
            return None;
        }
        let t = self.joint_transforms(joints_rest, rotations, translation);
        Some(std::array::from_fn(|j| {
            let g = &t.world_from_joint[j];
            [g[(0, 3)] as f32, g[(1, 3)] as f32, g[(2, 3)] as f32]
        }))
    }

    /// Converts a per-joint axis-angle pose vector (`3·J` values) to rotation matrices.
    pub fn rotations_from_axis_angle(
        &self,
        pose: &[f64],
    ) -> Result<Vec<Matrix3<f64>>, BodyModelError> {
        let j = self.num_joints();
        if pose.len() != 3 * j {
            return Err(BodyModelError::BadPose {
                model: self.name.clone(),
                expected: 3 * j,
                actual: pose.len(),
            });
        }
        Ok(pose
            .chunks_exact(3)
            .map(|a| rodrigues(Vector3::new(a[0], a[1], a[2])))
            .collect())
    }

    /// Forward kinematics: global joint frames and skinning transforms for per-joint rotations
    /// (relative to the parent) and a root translation.
    pub fn joint_transforms(
        &self,
        joints_rest: &[Vector3<f64>],
        rotations: &[Matrix3<f64>],
        translation: Vector3<f64>,
    ) -> JointTransforms {
        let n = self.num_joints();
        let mut world_from_joint: Vec<Matrix4<f64>> = Vec::with_capacity(n);
        for i in 0..n {
            let offset = match self.parents[i] {
                Some(p) => joints_rest[i] - joints_rest[p],
                None => joints_rest[i] + translation,
            };
            let mut local = Matrix4::identity();
            local.fixed_view_mut::<3, 3>(0, 0).copy_from(&rotations[i]);
            local.fixed_view_mut::<3, 1>(0, 3).copy_from(&offset);
            let g = match self.parents[i] {
                Some(p) => world_from_joint[p] * local,
                None => local,
            };
            world_from_joint.push(g);
        }
        let world_from_rest = world_from_joint
            .iter()
            .zip(joints_rest)
            .map(|(g, jr)| {
                let mut a = *g;
                let r = g.fixed_view::<3, 3>(0, 0) * jr;
                for c in 0..3 {
                    a[(c, 3)] -= r[c];
                }
                a
            })
            .collect();
        JointTransforms {
            world_from_joint,
            world_from_rest,
        }
    }

    /// Pose features for the pose blend shapes (empty when the model has none).
    pub fn pose_features(&self, rotations: &[Matrix3<f64>]) -> Vec<f32> {
        match self.pose_feature {
            PoseFeature::None => Vec::new(),
            PoseFeature::Quaternion => rotations
                .iter()
                .flat_map(|r| {
                    let q = quaternion_feature(r);
                    q.map(|x| x as f32)
                })
                .collect(),
        }
    }

    /// Poses one vertex: pose-corrective offset, then linear blend skinning.
    #[inline]
    fn pose_vertex(
        &self,
        shaped: &ShapedBody,
        v: usize,
        features: &[f32],
        skin: &[[f32; 12]],
    ) -> [f32; 3] {
        let mut p = shaped.v_shaped[v];
        if !features.is_empty() {
            let nf = features.len();
            for (c, pc) in p.iter_mut().enumerate() {
                let row = &self.posedirs[(v * 3 + c) * nf..(v * 3 + c + 1) * nf];
                *pc += row.iter().zip(features).map(|(a, b)| a * b).sum::<f32>();
            }
        }
        let mut m = [0f32; 12];
        for (j, w) in self.weights.row(v) {
            for (mi, si) in m.iter_mut().zip(&skin[j]) {
                *mi += w * si;
            }
        }
        [
            m[0] * p[0] + m[1] * p[1] + m[2] * p[2] + m[3],
            m[4] * p[0] + m[5] * p[1] + m[6] * p[2] + m[7],
            m[8] * p[0] + m[9] * p[1] + m[10] * p[2] + m[11],
        ]
    }

    fn skin_matrices(t: &JointTransforms) -> Vec<[f32; 12]> {
        t.world_from_rest
            .iter()
            .map(|a| {
                let mut m = [0f32; 12];
                for r in 0..3 {
                    for c in 0..4 {
                        m[r * 4 + c] = a[(r, c)] as f32;
                    }
                }
                m
            })
            .collect()
    }

    /// Full forward pass for one frame: pose blend shapes, skinning, translation, normals, joints.
    pub fn forward(
        &self,
        shaped: &ShapedBody,
        rotations: &[Matrix3<f64>],
        translation: Vector3<f64>,
    ) -> PosedBody {
        let features = self.pose_features(rotations);
        self.posed(shaped, rotations, &features, translation)
    }

    /// Skins every vertex with pose features `features` and the joints' transforms.
    fn posed(
        &self,
        shaped: &ShapedBody,
        rotations: &[Matrix3<f64>],
        features: &[f32],
        translation: Vector3<f64>,
    ) -> PosedBody {
        let t = self.joint_transforms(&shaped.joints_rest, rotations, translation);
        let skin = Self::skin_matrices(&t);
        let vertices: Vec<[f32; 3]> = (0..self.num_vertices())
            .map(|v| self.pose_vertex(shaped, v, features, &skin))
            .collect();
        let normals = vertex_normals(&vertices, &self.faces);
        PosedBody {
            vertices,
            normals,
            joints: joint_positions(&t),
        }
    }

    /// Forward pass posing only `vertex_ids` (e.g. the ~40 vertices under markers); normals are
    /// not computed. The returned `vertices[i]` belongs to `vertex_ids[i]`.
    pub fn forward_subset(
        &self,
        shaped: &ShapedBody,
        rotations: &[Matrix3<f64>],
        translation: Vector3<f64>,
        vertex_ids: &[u32],
    ) -> PosedBody {
        let t = self.joint_transforms(&shaped.joints_rest, rotations, translation);
        let features = self.pose_features(rotations);
        let skin = Self::skin_matrices(&t);
        let vertices = vertex_ids
            .iter()
            .map(|&v| self.pose_vertex(shaped, v as usize, &features, &skin))
            .collect();
        PosedBody {
            vertices,
            normals: Vec::new(),
            joints: joint_positions(&t),
        }
    }

    /// Like [`BodyModel::forward`] but with caller-supplied pose features (`4·J` values for
    /// SUPR): SUPR's constrained joints compute features that are not a function of the joint
    /// rotations (hinge features rotate the other way, double hinges multiply shifted
    /// quaternions), so SUPR files pose through this. An empty `features` skips pose blend
    /// shapes; any other length must match the width of `posedirs`.
    pub fn forward_with_features(
        &self,
        shaped: &ShapedBody,
        rotations: &[Matrix3<f64>],
        features: &[f32],
        translation: Vector3<f64>,
    ) -> Result<PosedBody, BodyModelError> {
        if rotations.len() != self.num_joints() {
            return Err(BodyModelError::BadPose {
                model: self.name.clone(),
                expected: self.num_joints(),
                actual: rotations.len(),
            });
        }
        let width = self.posedirs.len() / (3 * self.num_vertices()).max(1);
        if !features.is_empty() && features.len() != width {
            return Err(BodyModelError::BadPose {
                model: self.name.clone(),
                expected: width,
                actual: features.len(),
            });
        }
        Ok(self.posed(shaped, rotations, features, translation))
    }

    /// Batched forward over many frames in parallel (rayon); each frame is `(rotations, translation)`.
    pub fn forward_batch(
        &self,
        shaped: &ShapedBody,
        frames: &[(Vec<Matrix3<f64>>, Vector3<f64>)],
    ) -> Vec<PosedBody> {
        use rayon::prelude::*;
        frames
            .par_iter()
            .map(|(r, t)| self.forward(shaped, r, *t))
            .collect()
    }
}

/// Rotation matrix of an axis-angle vector (Rodrigues), exact at zero.
pub fn rodrigues(axis_angle: Vector3<f64>) -> Matrix3<f64> {
    nalgebra::Rotation3::new(axis_angle).into_inner()
}

/// SUPR's quaternion pose feature `[sin(θ/2)·axis, cos(θ/2) − 1]` of a rotation matrix, taking the
/// quaternion with non-negative real part (θ ∈ [0, π], as SUPR computes it from axis-angle).
pub fn quaternion_feature(r: &Matrix3<f64>) -> [f64; 4] {
    let q = nalgebra::UnitQuaternion::from_matrix(r);
    let q = if q.w < 0.0 {
        -q.into_inner()
    } else {
        q.into_inner()
    };
    [q.i, q.j, q.k, q.w - 1.0]
}

/// World positions of the joints of `t` (the translation column of each transform).
fn joint_positions(t: &JointTransforms) -> Vec<Vector3<f64>> {
    t.world_from_joint
        .iter()
        .map(|g| Vector3::new(g[(0, 3)], g[(1, 3)], g[(2, 3)]))
        .collect()
}

/// Area-weighted unit vertex normals of a triangle mesh (zero-area neighbourhoods give +y).
pub fn vertex_normals(vertices: &[[f32; 3]], faces: &[[u32; 3]]) -> Vec<[f32; 3]> {
    let mut n = vec![[0f32; 3]; vertices.len()];
    for f in faces {
        let [a, b, c] = f.map(|i| vertices[i as usize]);
        let e1 = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
        let e2 = [c[0] - a[0], c[1] - a[1], c[2] - a[2]];
        let cr = [
            e1[1] * e2[2] - e1[2] * e2[1],
            e1[2] * e2[0] - e1[0] * e2[2],
            e1[0] * e2[1] - e1[1] * e2[0],
        ];
        for &i in f {
            let ni = &mut n[i as usize];
            ni[0] += cr[0];
            ni[1] += cr[1];
            ni[2] += cr[2];
        }
    }
    for ni in &mut n {
        let l = (ni[0] * ni[0] + ni[1] * ni[1] + ni[2] * ni[2]).sqrt();
        *ni = if l > 0.0 {
            [ni[0] / l, ni[1] / l, ni[2] / l]
        } else {
            [0.0, 1.0, 0.0]
        };
    }
    n
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A three-joint chain (root → hip → knee) with one vertex bound to each joint plus one
    /// vertex blended 50/50 between hip and knee, and one shape component moving the knee down.
    pub(crate) fn chain_model() -> BodyModel {
        let v_template = vec![
            [0.0, 1.0, 0.0],
            [0.1, 0.7, 0.0],
            [0.1, 0.4, 0.05],
            [0.1, 0.5, 0.0],
        ];
        let dense = [
            1.0, 0.0, 0.0, //
            0.0, 1.0, 0.0, //
            0.0, 0.0, 1.0, //
            0.0, 0.5, 0.5,
        ];
        // One shape component: moves vertex 2 and joint 2 down by 0.1 per unit beta.
        let mut shapedirs = vec![0.0f32; 4 * 3];
        shapedirs[2 * 3 + 1] = -0.1;
        let mut j_shapedirs = vec![0.0f64; 3 * 3];
        j_shapedirs[2 * 3 + 1] = -0.1;
        BodyModel {
            name: "chain".into(),
            v_template,
            faces: vec![[0, 1, 2], [1, 3, 2]],
            num_betas: 1,
            shapedirs,
            pose_feature: PoseFeature::None,
            posedirs: vec![],
            j_template: vec![[0.0, 1.0, 0.0], [0.1, 0.9, 0.0], [0.1, 0.5, 0.0]],
            j_shapedirs,
            parents: vec![None, Some(0), Some(1)],
            joint_names: vec!["pelvis".into(), "hip".into(), "knee".into()],
            weights: SparseWeights::from_dense(&dense, 4, 3),
        }
    }

    fn close(a: [f32; 3], b: [f32; 3], tol: f32) -> bool {
        a.iter().zip(&b).all(|(x, y)| (x - y).abs() <= tol)
    }

    #[test]
    fn validate_accepts_consistent_model_and_rejects_broken_ones() {
        let m = chain_model();
        m.validate().unwrap();
        let mut bad = m.clone();
        bad.faces.push([0, 1, 9]);
        assert!(matches!(
            bad.validate(),
            Err(BodyModelError::BadIndex { .. })
        ));
        let mut bad = m.clone();
        bad.shapedirs.pop();
        assert!(matches!(
            bad.validate(),
            Err(BodyModelError::BadLength {
                array: "shapedirs",
                ..
            })
        ));
        let mut bad = m;
        bad.parents[1] = Some(2);
        assert!(bad.validate().is_err());
    }

    #[test]
    fn zero_pose_is_rest_and_translation_moves_everything() {
        let m = chain_model();
        let shaped = m.shape(&[0.5]);
        let rots = vec![Matrix3::identity(); 3];
        let posed = m.forward(&shaped, &rots, Vector3::zeros());
        for (p, s) in posed.vertices.iter().zip(&shaped.v_shaped) {
            assert!(close(*p, *s, 1e-6), "{p:?} != {s:?}");
        }
        // The shape component lowered vertex 2 and joint 2 by 0.05.
        assert!((shaped.v_shaped[2][1] - 0.35).abs() < 1e-6);
        assert!((shaped.joints_rest[2].y - 0.45).abs() < 1e-12);
        let t = Vector3::new(1.0, 2.0, 3.0);
        let moved = m.forward(&shaped, &rots, t);
        for (p, s) in moved.vertices.iter().zip(&shaped.v_shaped) {
            assert!(close(*p, [s[0] + 1.0, s[1] + 2.0, s[2] + 3.0], 1e-5));
        }
        assert!((moved.joints[2] - (shaped.joints_rest[2] + t)).norm() < 1e-12);
    }

    #[test]
    fn rotating_hip_swings_knee_and_preserves_bone_lengths() {
        let m = chain_model();
        let shaped = m.shape(&[]);
        let pose = [
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            std::f64::consts::FRAC_PI_2,
            0.3,
            -0.2,
            0.1,
        ];
        let rots = m.rotations_from_axis_angle(&pose).unwrap();
        let posed = m.forward(&shaped, &rots, Vector3::zeros());
        for j in 1..3 {
            let p = m.parents[j].unwrap();
            let rest = (shaped.joints_rest[j] - shaped.joints_rest[p]).norm();
            let now = (posed.joints[j] - posed.joints[p]).norm();
            assert!((rest - now).abs() < 1e-12, "bone {j}: {rest} vs {now}");
        }
        // 90° about z at the hip (0.1, 0.9): the knee, 0.4 below, swings to +x.
        assert!((posed.joints[2] - Vector3::new(0.5, 0.9, 0.0)).norm() < 1e-9);
        // Vertex 1 is rigidly bound to the hip: its distance to the hip joint is preserved.
        let v1 = Vector3::new(0.1, 0.7, 0.0);
        let d_rest = (v1 - shaped.joints_rest[1]).norm();
        let p1 = posed.vertices[1];
        let d_now =
            (Vector3::new(p1[0] as f64, p1[1] as f64, p1[2] as f64) - posed.joints[1]).norm();
        assert!((d_rest - d_now).abs() < 1e-6);
    }

    #[test]
    fn subset_forward_matches_full_forward() {
        let m = chain_model();
        let shaped = m.shape(&[1.0]);
        let rots = m
            .rotations_from_axis_angle(&[0.1, 0.2, 0.3, -0.4, 0.5, 0.2, 0.7, 0.0, -0.1])
            .unwrap();
        let t = Vector3::new(0.3, 0.0, -0.2);
        let full = m.forward(&shaped, &rots, t);
        let sub = m.forward_subset(&shaped, &rots, t, &[3, 1]);
        assert_eq!(sub.vertices[0], full.vertices[3]);
        assert_eq!(sub.vertices[1], full.vertices[1]);
        let batch = m.forward_batch(&shaped, &[(rots.clone(), t), (rots, t)]);
        assert_eq!(batch[1].vertices, full.vertices);
    }

    #[test]
    fn bad_pose_length_is_an_error() {
        let m = chain_model();
        assert!(matches!(
            m.rotations_from_axis_angle(&[0.0; 4]),
            Err(BodyModelError::BadPose {
                expected: 9,
                actual: 4,
                ..
            })
        ));
    }

    #[test]
    fn quaternion_feature_matches_half_angle_formula() {
        let aa = Vector3::new(0.3, -0.5, 0.8);
        let theta = aa.norm();
        let axis = aa / theta;
        let f = quaternion_feature(&rodrigues(aa));
        let s = (theta / 2.0).sin();
        let want = [
            s * axis.x,
            s * axis.y,
            s * axis.z,
            (theta / 2.0).cos() - 1.0,
        ];
        for (a, b) in f.iter().zip(&want) {
            assert!((a - b).abs() < 1e-12, "{f:?} vs {want:?}");
        }
        assert_eq!(
            quaternion_feature(&Matrix3::identity()),
            [0.0, 0.0, 0.0, 0.0]
        );
    }

    #[test]
    fn normals_of_flat_mesh_point_along_face_normal() {
        let v = [
            [0.0, 0.0, 0.0],
            [1.0, 0.0, 0.0],
            [0.0, 1.0, 0.0],
            [1.0, 1.0, 0.0],
        ];
        let n = vertex_normals(&v, &[[0, 1, 2], [1, 3, 2]]);
        for ni in n {
            assert!(close(ni, [0.0, 0.0, 1.0], 1e-6));
        }
    }
}
