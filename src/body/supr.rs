//! Loads SUPR model files (`supr_*.npy` pickled dicts, or `.npz` copies) into a [`BodyModel`]
//! and reproduces SUPR's PyTorch forward pass (ahmedosman/SUPR, `supr/pytorch/supr.py`),
//! including its constrained pose parametrisation (hinge, double-hinge and spherical joints).
//!
//! SUPR semantics reproduced here:
//! * shape: `v_shaped = v_template + shapedirs[:, :, :K]·β`;
//! * joints: an affine regressor `J_regressor (3J, 3V+1)` applied to the flattened shaped mesh
//!   (`v`-major, `xyz`-minor) plus a bias column, giving rows `3j + c`; it is linear, so it is
//!   applied once at load time to `v_template` (plus bias) and to `shapedirs`, in f64;
//! * pose features per joint, root included: `[sin(θ/2)·n, cos(θ/2) − 1]` computed from the
//!   axis-angle vector with SUPR's `|θ + 1e-8|` norm (so angles beyond π keep `cos < 0`);
//! * `v_posed = v_shaped + posedirs·features`, then linear blend skinning, then translation;
//!   posed joints are the global joint origins plus translation.
//!
//! [`BodyModel::forward`] derives features from rotation matrices, which matches SUPR only for
//! unconstrained poses with angles ≤ π; [`SuprModel::forward`] always passes SUPR's features.

use std::path::Path;

use nalgebra::{Matrix3, Vector3};

use super::model::{BodyModel, BodyModelError, PoseFeature, PosedBody, SparseWeights};
use super::npy::{ArrayData, NdArray, NpyError, PyValue, parse_npy, parse_npz};

/// Errors loading or posing a SUPR model.
#[derive(Debug, thiserror::Error)]
pub enum SuprError {
    /// The file could not be read or decoded as `.npy` / `.npz`.
    #[error(transparent)]
    Read(#[from] NpyError),
    /// The file does not hold a dict of model arrays.
    #[error("{file}: expected a SUPR model dict, found a {found}")]
    NotADict {
        /// File path.
        file: String,
        /// What the file holds instead.
        found: &'static str,
    },
    /// A required entry is missing.
    #[error("{file}: SUPR model has no `{key}` entry")]
    Missing {
        /// File path.
        file: String,
        /// The missing key.
        key: String,
    },
    /// An entry has the wrong type, dtype, shape or values.
    #[error("{file}: SUPR entry `{key}`: {reason}")]
    BadEntry {
        /// File path.
        file: String,
        /// The offending key (`axis_meta.<name>` inside the constraint metadata).
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// The assembled arrays do not form a valid body model.
    #[error("{file}: {source}")]
    Model {
        /// File path.
        file: String,
        /// The inconsistency.
        source: BodyModelError,
    },
    /// A pose vector has the wrong length for the chosen parametrisation.
    #[error("SUPR model '{model}': {mode} pose has {actual} values, expected {expected}")]
    BadPose {
        /// Model name.
        model: String,
        /// Which parametrisation.
        mode: &'static str,
        /// Expected length.
        expected: usize,
        /// Actual length.
        actual: usize,
    },
    /// A constrained pose was requested from a model file without `axis_meta`.
    #[error("SUPR model '{model}' has no constrained kinematic tree (no `axis_meta`)")]
    NotConstrained {
        /// Model name.
        model: String,
    },
}

/// How a SUPR pose vector is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoseMode {
    /// Axis-angle per joint, `3·J` values (SUPR with `constrained=False`).
    AxisAngle,
    /// The reduced constrained vector of `axis_meta['num_pose']` values.
    Constrained,
}

/// A loaded SUPR model: the body model plus, for `*_constrained` files, the constrained pose
/// parametrisation.
#[derive(Debug, Clone)]
pub struct SuprModel {
    /// The body model (quaternion pose features, affine joint regressor folded in).
    pub model: BodyModel,
    /// The constrained kinematic tree, present when the file has `axis_meta`.
    pub constrained: Option<ConstrainedParam>,
}

/// One single-axis joint: which pose value drives it and about which axis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hinge {
    /// Index into the reduced pose vector.
    pub pose_index: usize,
    /// Rotation axis as stored in the file (SUPR does not renormalise it).
    pub axis: [f64; 3],
}

/// SUPR's constrained parametrisation (`axis_meta`): maps a reduced pose vector to per-joint
/// rotations and pose features.
#[derive(Debug, Clone, PartialEq)]
pub struct ConstrainedParam {
    num_pose: usize,
    spherical: Vec<[usize; 3]>,
    hinges: Vec<Hinge>,
    double_hinges: Vec<(Hinge, Hinge)>,
    /// For each joint, its item in the list `spherical ++ hinges ++ double_hinges`.
    joint_item: Vec<usize>,
}

impl ConstrainedParam {
    /// Length of the reduced pose vector.
    pub fn num_pose(&self) -> usize {
        self.num_pose
    }

    /// Number of joints the parametrisation drives.
    pub fn num_joints(&self) -> usize {
        self.joint_item.len()
    }

    fn check(&self, pose: &[f64], model: &str) -> Result<(), SuprError> {
        if pose.len() == self.num_pose {
            Ok(())
        } else {
            Err(SuprError::BadPose {
                model: model.into(),
                mode: "constrained",
                expected: self.num_pose,
                actual: pose.len(),
            })
        }
    }

    /// Per-joint rotations and pose features (`[x, y, z, w − 1]` per joint) of a reduced pose,
    /// item by item in SUPR's order before the joint reordering.
    fn items(&self, pose: &[f64]) -> Vec<(Matrix3<f64>, [f64; 4])> {
        let aa = |h: &Hinge| Vector3::from(h.axis) * pose[h.pose_index];
        let mut out =
            Vec::with_capacity(self.spherical.len() + self.hinges.len() + self.double_hinges.len());
        for s in &self.spherical {
            let v = Vector3::new(pose[s[0]], pose[s[1]], pose[s[2]]);
            out.push((supr_rodrigues(v), supr_quat_feature(v)));
        }
        for h in &self.hinges {
            out.push((
                supr_hinge_rotation(pose[h.pose_index], h.axis),
                supr_quat_feature(aa(h)),
            ));
        }
        for (h1, h2) in &self.double_hinges {
            let r = supr_hinge_rotation(pose[h1.pose_index], h1.axis)
                * supr_hinge_rotation(pose[h2.pose_index], h2.axis);
            let f = supr_feature_product(supr_quat_feature(aa(h1)), supr_quat_feature(aa(h2)));
            out.push((r, f));
        }
        out
    }

    /// Converts a reduced pose (`num_pose` values) to one rotation matrix per joint (relative to
    /// the parent), exactly as SUPR's `torch_fast_rotutils`.
    pub fn rotations(&self, pose: &[f64]) -> Result<Vec<Matrix3<f64>>, SuprError> {
        Ok(self.rotations_and_features(pose)?.0)
    }

    /// Rotations and the `4·J` pose features SUPR feeds its pose blend shapes.
    pub fn rotations_and_features(
        &self,
        pose: &[f64],
    ) -> Result<(Vec<Matrix3<f64>>, Vec<f32>), SuprError> {
        self.check(pose, "constrained")?;
        let items = self.items(pose);
        let rotations = self.joint_item.iter().map(|&i| items[i].0).collect();
        let features = self
            .joint_item
            .iter()
            .flat_map(|&i| items[i].1.map(|x| x as f32))
            .collect();
        Ok((rotations, features))
    }
}

/// SUPR's quaternion pose feature of an axis-angle vector: `[sin(a/2)·θ/a, cos(a/2) − 1]` with
/// `a = |θ + 1e-8|` (the `1e-8` avoids a division by zero at the rest pose, as in `quat_feat`).
pub fn supr_quat_feature(axis_angle: Vector3<f64>) -> [f64; 4] {
    let a = (axis_angle + Vector3::repeat(1e-8)).norm();
    let n = axis_angle / a;
    let (s, c) = (0.5 * a).sin_cos();
    [s * n.x, s * n.y, s * n.z, c - 1.0]
}

/// SUPR's `rodrigues`: the rotation of an axis-angle vector through a normalised quaternion,
/// with the same `|θ + 1e-8|` angle as [`supr_quat_feature`].
pub fn supr_rodrigues(axis_angle: Vector3<f64>) -> Matrix3<f64> {
    let a = (axis_angle + Vector3::repeat(1e-8)).norm();
    let n = axis_angle / a;
    let (s, c) = (0.5 * a).sin_cos();
    let q = nalgebra::Vector4::new(c, s * n.x, s * n.y, s * n.z).normalize();
    let (w, x, y, z) = (q[0], q[1], q[2], q[3]);
    Matrix3::new(
        w * w + x * x - y * y - z * z,
        2.0 * (x * y - w * z),
        2.0 * (w * y + x * z),
        2.0 * (w * z + x * y),
        w * w - x * x + y * y - z * z,
        2.0 * (y * z - w * x),
        2.0 * (x * z - w * y),
        2.0 * (w * x + y * z),
        w * w - x * x - y * y + z * z,
    )
}

/// SUPR's hinge matrix (`torch_compute_rot_hinge`): the transpose of the Rodrigues rotation by
/// `angle` about `axis`, i.e. a rotation by `−angle`, with the axis used as stored.
pub fn supr_hinge_rotation(angle: f64, axis: [f64; 3]) -> Matrix3<f64> {
    let (s, c) = angle.sin_cos();
    let [x, y, z] = axis;
    let k = 1.0 - c;
    Matrix3::new(
        x * x + c * (1.0 - x * x),
        x * y * k + z * s,
        x * z * k - y * s,
        x * y * k - z * s,
        y * y + c * (1.0 - y * y),
        y * z * k + x * s,
        x * z * k + y * s,
        y * z * k - x * s,
        z * z + c * (1.0 - z * z),
    )
}

/// SUPR's double-hinge feature (`torch_quaternion_multiply(quat1, quat2)`): the product
/// `q2 ⊗ q1` evaluated on the *features* `[x, y, z, w − 1]` of the two hinges, as SUPR does.
pub fn supr_feature_product(q1: [f64; 4], q2: [f64; 4]) -> [f64; 4] {
    let [x0, y0, z0, w0] = q1;
    let [x1, y1, z1, w1] = q2;
    [
        x1 * w0 + y1 * z0 - z1 * y0 + w1 * x0,
        -x1 * z0 + y1 * w0 + z1 * x0 + w1 * y0,
        x1 * y0 - y1 * x0 + z1 * w0 + w1 * z0,
        -x1 * x0 - y1 * y0 - z1 * z0 + w1 * w0,
    ]
}

impl SuprModel {
    /// Length of the pose vector in the given mode (`None` for a constrained pose on a model
    /// without `axis_meta`).
    pub fn num_pose(&self, mode: PoseMode) -> Option<usize> {
        match mode {
            PoseMode::AxisAngle => Some(3 * self.model.num_joints()),
            PoseMode::Constrained => self.constrained.as_ref().map(ConstrainedParam::num_pose),
        }
    }

    /// Rotations and SUPR pose features of a pose vector read in `mode`.
    pub fn rotations_and_features(
        &self,
        pose: &[f64],
        mode: PoseMode,
    ) -> Result<(Vec<Matrix3<f64>>, Vec<f32>), SuprError> {
        match mode {
            PoseMode::AxisAngle => {
                let j = self.model.num_joints();
                if pose.len() != 3 * j {
                    return Err(SuprError::BadPose {
                        model: self.model.name.clone(),
                        mode: "axis-angle",
                        expected: 3 * j,
                        actual: pose.len(),
                    });
                }
                let vs = pose.chunks_exact(3).map(|a| Vector3::new(a[0], a[1], a[2]));
                let rotations = vs.clone().map(supr_rodrigues).collect();
                let features = vs
                    .flat_map(|v| supr_quat_feature(v).map(|x| x as f32))
                    .collect();
                Ok((rotations, features))
            }
            PoseMode::Constrained => self
                .constrained
                .as_ref()
                .ok_or_else(|| SuprError::NotConstrained {
                    model: self.model.name.clone(),
                })?
                .rotations_and_features(pose)
                .map_err(|e| match e {
                    SuprError::BadPose {
                        expected, actual, ..
                    } => SuprError::BadPose {
                        model: self.model.name.clone(),
                        mode: "constrained",
                        expected,
                        actual,
                    },
                    e => e,
                }),
        }
    }

    /// SUPR's forward pass: posed vertices (with normals) and posed joints for shape `betas`
    /// (missing ones are zero), a pose read in `mode`, and a translation in metres.
    pub fn forward(
        &self,
        betas: &[f64],
        pose: &[f64],
        translation: Vector3<f64>,
        mode: PoseMode,
    ) -> Result<PosedBody, SuprError> {
        let (rotations, features) = self.rotations_and_features(pose, mode)?;
        let shaped = self.model.shape(betas);
        self.model
            .forward_with_features(&shaped, &rotations, &features, translation)
            .map_err(|source| SuprError::Model {
                file: self.model.name.clone(),
                source,
            })
    }
}

/// Loads a SUPR model file (`.npy` pickled dict or `.npz`, told apart by content) with all of
/// its shape components.
pub fn load_supr(path: &Path) -> Result<SuprModel, SuprError> {
    load_supr_betas(path, usize::MAX)
}

/// Loads a SUPR model keeping at most `num_betas` shape components (SUPR's `num_betas`
/// constructor argument, e.g. 10 or 50; real files carry many more).
pub fn load_supr_betas(path: &Path, num_betas: usize) -> Result<SuprModel, SuprError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| NpyError::Io {
        file: file.clone(),
        source,
    })?;
    let dict = if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        PyValue::Dict(
            parse_npz(&bytes, &file)?
                .into_iter()
                .map(|(k, v)| (PyValue::Str(k), v))
                .collect(),
        )
    } else {
        parse_npy(&bytes, &file)?.into_item()
    };
    drop(bytes);
    if !matches!(dict, PyValue::Dict(_)) {
        return Err(SuprError::NotADict {
            file,
            found: dict.type_name(),
        });
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| file.clone());
    let name = name
        .strip_suffix(".npy")
        .or_else(|| name.strip_suffix(".npz"))
        .unwrap_or(&name)
        .to_owned();
    build_model(&dict, &file, name, num_betas)
}

/// Typed access to the entries of the model dict.
struct Entries<'a> {
    dict: &'a PyValue,
    file: &'a str,
    prefix: &'static str,
}

impl<'a> Entries<'a> {
    fn bad(&self, key: &str, reason: impl Into<String>) -> SuprError {
        SuprError::BadEntry {
            file: self.file.into(),
            key: format!("{}{key}", self.prefix),
            reason: reason.into(),
        }
    }

    fn value(&self, key: &str) -> Result<&'a PyValue, SuprError> {
        self.dict.get(key).ok_or_else(|| SuprError::Missing {
            file: self.file.into(),
            key: format!("{}{key}", self.prefix),
        })
    }

    fn array(&self, key: &str, rank: usize) -> Result<&'a NdArray, SuprError> {
        let v = self.value(key)?;
        let a = v.as_array().ok_or_else(|| {
            self.bad(
                key,
                format!("is a {}, expected a numeric array", v.type_name()),
            )
        })?;
        if a.shape.len() != rank {
            return Err(self.bad(
                key,
                format!("has shape {:?}, expected {rank} dimensions", a.shape),
            ));
        }
        Ok(a)
    }

    /// A float array of rank `rank` as f64, with its shape.
    fn floats(&self, key: &str, rank: usize) -> Result<(Vec<f64>, Vec<usize>), SuprError> {
        let a = self.array(key, rank)?;
        let v = a.to_f64().ok_or_else(|| {
            self.bad(
                key,
                format!("has dtype {}, expected float32 or float64", a.dtype.descr()),
            )
        })?;
        Ok((v, a.shape.clone()))
    }

    fn expect_shape(&self, key: &str, shape: &[usize], want: &[usize]) -> Result<(), SuprError> {
        if shape == want {
            Ok(())
        } else {
            Err(self.bad(key, format!("has shape {shape:?}, expected {want:?}")))
        }
    }

    /// All integers inside a value (int, integer array, or nested lists / tuples / object
    /// arrays of them), flattened in order.
    fn ints(&self, key: &str) -> Result<Vec<i64>, SuprError> {
        let mut out = Vec::new();
        self.collect_ints(key, self.value(key)?, &mut out, 0)?;
        Ok(out)
    }

    fn collect_ints(
        &self,
        key: &str,
        v: &PyValue,
        out: &mut Vec<i64>,
        depth: usize,
    ) -> Result<(), SuprError> {
        if depth > 8 {
            return Err(self.bad(key, "index lists nest too deeply"));
        }
        match v {
            PyValue::Int(i) => out.push(*i),
            PyValue::Array(a) => out.extend(a.to_i64().ok_or_else(|| {
                self.bad(
                    key,
                    format!("has dtype {}, expected integers", a.dtype.descr()),
                )
            })?),
            PyValue::List(items) | PyValue::Tuple(items) | PyValue::ObjectArray { items, .. } => {
                for item in items {
                    self.collect_ints(key, item, out, depth + 1)?;
                }
            }
            other => {
                return Err(self.bad(
                    key,
                    format!("holds a {}, expected integers", other.type_name()),
                ));
            }
        }
        Ok(())
    }

    /// Indices into a sequence of length `len`, Python-style negatives allowed.
    fn indices(&self, key: &str, len: usize) -> Result<Vec<usize>, SuprError> {
        self.ints(key)?
            .into_iter()
            .map(|i| {
                let j = if i < 0 { i + len as i64 } else { i };
                usize::try_from(j)
                    .ok()
                    .filter(|&j| j < len)
                    .ok_or_else(|| self.bad(key, format!("index {i} is out of range 0..{len}")))
            })
            .collect()
    }
}

/// The SUPR model in `dict`: each array read and checked against the others' sizes.
fn build_model(
    dict: &PyValue,
    file: &str,
    name: String,
    max_betas: usize,
) -> Result<SuprModel, SuprError> {
    let e = Entries {
        dict,
        file,
        prefix: "",
    };
    let (v_template, vt_shape) = e.floats("v_template", 2)?;
    let nv = vt_shape[0];
    e.expect_shape("v_template", &vt_shape, &[nv, 3])?;
    let parents = e.parents()?;
    let nj = parents.len();
    let faces = e.faces()?;
    let (shapedirs, k) = e.shapedirs(nv, max_betas)?;
    let (posedirs, pd_shape) = e.floats("posedirs", 3)?;
    e.expect_shape("posedirs", &pd_shape, &[nv, 3, 4 * nj])?;
    let (weights, w_shape) = e.floats("weights", 2)?;
    e.expect_shape("weights", &w_shape, &[nv, nj])?;
    let (j_template, j_shapedirs) = e.joint_regressor(&v_template, &shapedirs, nj, k)?;
    let joint_names = (0..nj)
        .map(|j| match crate::body::smpl22::JOINT_NAMES.get(j) {
            Some(n) => (*n).to_owned(),
            None => format!("joint_{j}"),
        })
        .collect();
    let weights_f32: Vec<f32> = weights.iter().map(|&w| w as f32).collect();
    let model = BodyModel {
        name,
        v_template: v_template
            .chunks_exact(3)
            .map(|p| [p[0] as f32, p[1] as f32, p[2] as f32])
            .collect(),
        faces,
        num_betas: k,
        shapedirs: shapedirs.iter().map(|&x| x as f32).collect(),
        pose_feature: PoseFeature::Quaternion,
        posedirs: posedirs.iter().map(|&x| x as f32).collect(),
        j_template,
        j_shapedirs,
        parents,
        joint_names,
        weights: SparseWeights::from_dense(&weights_f32, nv, nj),
    };
    model.validate().map_err(|source| SuprError::Model {
        file: file.into(),
        source,
    })?;
    let constrained = match dict.get("axis_meta") {
        None | Some(PyValue::None) => None,
        Some(meta) => Some(parse_axis_meta(meta, file, nj)?),
    };
    Ok(SuprModel { model, constrained })
}

impl Entries<'_> {
    /// The parent of each joint from `kintree_table` (SUPR: `id_to_col = {kintree[1, i]: i}`,
    /// `parent[i] = id_to_col[kintree[0, i]]` for i ≥ 1).
    fn parents(&self) -> Result<Vec<Option<usize>>, SuprError> {
        let kintree = self.array("kintree_table", 2)?;
        if kintree.shape[0] != 2 || kintree.shape[1] == 0 {
            return Err(self.bad(
                "kintree_table",
                format!("has shape {:?}, expected [2, J]", kintree.shape),
            ));
        }
        let nj = kintree.shape[1];
        let kin: Vec<i128> = match &kintree.data {
            ArrayData::I64(v) => v.iter().map(|&x| x as i128).collect(),
            ArrayData::U64(v) => v.iter().map(|&x| x as i128).collect(),
            _ => {
                return Err(self.bad(
                    "kintree_table",
                    format!("has dtype {}, expected integers", kintree.dtype.descr()),
                ));
            }
        };
        let (parent_ids, ids) = kin.split_at(nj);
        let mut parents = vec![None];
        for (i, &pid) in parent_ids.iter().enumerate().skip(1) {
            let p = ids.iter().position(|&id| id == pid).ok_or_else(|| {
                self.bad(
                    "kintree_table",
                    format!("joint {i}'s parent id {pid} is not a joint id"),
                )
            })?;
            parents.push(Some(p));
        }
        Ok(parents)
    }

    /// The triangles of `f` as vertex indices.
    fn faces(&self) -> Result<Vec<[u32; 3]>, SuprError> {
        let faces_arr = self.array("f", 2)?;
        if faces_arr.shape[1] != 3 {
            return Err(self.bad(
                "f",
                format!("has shape {:?}, expected [F, 3]", faces_arr.shape),
            ));
        }
        let faces_flat = faces_arr.to_i64().ok_or_else(|| {
            self.bad(
                "f",
                format!("has dtype {}, expected integers", faces_arr.dtype.descr()),
            )
        })?;
        faces_flat
            .chunks_exact(3)
            .map(|f| {
                let mut out = [0u32; 3];
                for (o, &i) in out.iter_mut().zip(f) {
                    *o =
                        u32::try_from(i).map_err(|_| self.bad("f", format!("vertex index {i}")))?;
                }
                Ok(out)
            })
            .collect()
    }

    /// The first `max_betas` shape directions `[nv × 3 × K]` and K.
    fn shapedirs(&self, nv: usize, max_betas: usize) -> Result<(Vec<f64>, usize), SuprError> {
        let (shapedirs, sd_shape) = self.floats("shapedirs", 3)?;
        if sd_shape[..2] != [nv, 3] {
            return Err(self.bad(
                "shapedirs",
                format!("has shape {sd_shape:?}, expected [{nv}, 3, K]"),
            ));
        }
        let k_file = sd_shape[2];
        let k = k_file.min(max_betas);
        if k == k_file {
            return Ok((shapedirs, k));
        }
        let kept = shapedirs
            .chunks_exact(k_file)
            .flat_map(|row| row[..k].iter().copied())
            .collect();
        Ok((kept, k))
    }

    /// Rest joints and joint shape directions: the affine `J_regressor` folded into the
    /// template and shape directions (row r = 3j + c, column i = 3v + c' as numpy flattens
    /// (V, 3), bias in the last column).
    #[allow(clippy::type_complexity)]
    fn joint_regressor(
        &self,
        v_template: &[f64],
        shapedirs: &[f64],
        nj: usize,
        k: usize,
    ) -> Result<(Vec<[f64; 3]>, Vec<f64>), SuprError> {
        let nv = v_template.len() / 3;
        let (jr, jr_shape) = self.floats("J_regressor", 2)?;
        let cols = 3 * nv + 1;
        self.expect_shape("J_regressor", &jr_shape, &[3 * nj, cols])?;
        let mut j_template = vec![[0f64; 3]; nj];
        let mut j_shapedirs = vec![0f64; nj * 3 * k];
        for (r, row) in jr.chunks_exact(cols).enumerate() {
            let (j, c) = (r / 3, r % 3);
            let mut acc = row[3 * nv];
            let sd_row = &mut j_shapedirs[r * k..(r + 1) * k];
            for (i, &w) in row[..3 * nv].iter().enumerate() {
                if w != 0.0 {
                    acc += w * v_template[i];
                    for (o, &s) in sd_row.iter_mut().zip(&shapedirs[i * k..(i + 1) * k]) {
                        *o += w * s;
                    }
                }
            }
            j_template[j][c] = acc;
        }
        Ok((j_template, j_shapedirs))
    }
}

fn parse_axis_meta(meta: &PyValue, file: &str, nj: usize) -> Result<ConstrainedParam, SuprError> {
    let e = Entries {
        dict: meta,
        file,
        prefix: "axis_meta.",
    };
    if !matches!(meta, PyValue::Dict(_)) {
        return Err(SuprError::BadEntry {
            file: file.into(),
            key: "axis_meta".into(),
            reason: format!("is a {}, expected a dict", meta.type_name()),
        });
    }
    let num_pose = match e.ints("num_pose")?[..] {
        [n] if n >= 0 => n as usize,
        ref v => return Err(e.bad("num_pose", format!("is {v:?}, expected one count"))),
    };
    // `len(meta['indx_spherical'])` spherical joints, 3 pose values each.
    let num_spherical = match e.value("indx_spherical")? {
        PyValue::List(v) | PyValue::Tuple(v) => v.len(),
        PyValue::ObjectArray { shape, .. } => shape.first().copied().unwrap_or(1),
        PyValue::Array(a) => a.shape.first().copied().unwrap_or(1),
        other => {
            return Err(e.bad("indx_spherical", format!("is a {}", other.type_name())));
        }
    };
    let sph = e.indices("indx_spherical", num_pose)?;
    if sph.len() != 3 * num_spherical {
        return Err(e.bad(
            "indx_spherical",
            format!("holds {} indices for {num_spherical} joints", sph.len()),
        ));
    }
    let hinge_pose = e.indices("indx_hinge", num_pose)?;
    let d1_pose = e.indices("indx_double_hinge1", num_pose)?;
    let d2_pose = e.indices("indx_double_hinge2", num_pose)?;

    // axis = meta['axis'][:, axis_indx, :] (a leading batch axis of 1; (N, 3) also accepted).
    let axis_arr = e
        .value("axis")?
        .as_array()
        .ok_or_else(|| e.bad("axis", "is not an array"))?;
    let raw = axis_arr
        .to_f64()
        .ok_or_else(|| e.bad("axis", format!("has dtype {}", axis_arr.dtype.descr())))?;
    let n_raw = match axis_arr.shape[..] {
        [1, n, 3] | [n, 3] => n,
        ref s => return Err(e.bad("axis", format!("has shape {s:?}, expected [1, N, 3]"))),
    };
    let sel = e.indices("axis_indx", n_raw)?;
    let axes: Vec<[f64; 3]> = sel
        .iter()
        .map(|&i| [raw[3 * i], raw[3 * i + 1], raw[3 * i + 2]])
        .collect();
    let hinge_axis = e.indices("indx_hinge_axis", axes.len())?;
    let d1_axis = e.indices("indx_double_hinge1_axis", axes.len())?;
    let d2_axis = e.indices("indx_double_hinge2_axis", axes.len())?;
    if hinge_axis.len() != hinge_pose.len() {
        return Err(e.bad(
            "indx_hinge_axis",
            format!(
                "has {} axes for {} hinges",
                hinge_axis.len(),
                hinge_pose.len()
            ),
        ));
    }
    if d1_pose.len() != d2_pose.len()
        || d1_axis.len() != d1_pose.len()
        || d2_axis.len() != d1_pose.len()
    {
        return Err(e.bad(
            "indx_double_hinge1",
            format!(
                "double-hinge lists disagree: {} / {} pose indices, {} / {} axes",
                d1_pose.len(),
                d2_pose.len(),
                d1_axis.len(),
                d2_axis.len()
            ),
        ));
    }
    let hinge = |p: usize, a: usize| Hinge {
        pose_index: p,
        axis: axes[a],
    };
    let spherical: Vec<[usize; 3]> = sph.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect();
    let hinges: Vec<Hinge> = hinge_pose
        .iter()
        .zip(&hinge_axis)
        .map(|(&p, &a)| hinge(p, a))
        .collect();
    let double_hinges: Vec<(Hinge, Hinge)> = (0..d1_pose.len())
        .map(|i| (hinge(d1_pose[i], d1_axis[i]), hinge(d2_pose[i], d2_axis[i])))
        .collect();
    let items = spherical.len() + hinges.len() + double_hinges.len();
    let joint_item = e.indices("reverse_indx", items)?;
    if joint_item.len() != nj {
        return Err(e.bad(
            "reverse_indx",
            format!(
                "has {} entries, the model has {nj} joints",
                joint_item.len()
            ),
        ));
    }
    Ok(ConstrainedParam {
        num_pose,
        spherical,
        hinges,
        double_hinges,
        joint_item,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::model::{quaternion_feature, rodrigues};

    #[test]
    fn supr_rotation_helpers_match_the_textbook_formulas() {
        let v = Vector3::new(0.3, -0.5, 0.8);
        assert!((supr_rodrigues(v) - rodrigues(v)).abs().max() < 1e-7);
        let f = supr_quat_feature(v);
        let g = quaternion_feature(&rodrigues(v));
        for (a, b) in f.iter().zip(&g) {
            assert!((a - b).abs() < 1e-7, "{f:?} vs {g:?}");
        }
        // Beyond π SUPR keeps the axis-angle branch: cos(θ/2) − 1 < −1.
        let big = v.normalize() * 3.5;
        assert!(supr_quat_feature(big)[3] < -1.0);
        assert!(quaternion_feature(&rodrigues(big))[3] > -1.0);
        // Rest pose gives (numerically) zero features and the identity.
        assert!(
            supr_quat_feature(Vector3::zeros())
                .iter()
                .all(|x| x.abs() < 1e-15)
        );
        assert!(
            (supr_rodrigues(Vector3::zeros()) - Matrix3::identity())
                .abs()
                .max()
                < 1e-15
        );
    }

    #[test]
    fn hinge_is_the_transposed_rodrigues_rotation() {
        let axis = Vector3::new(0.2, 0.9, -0.4).normalize();
        let h = supr_hinge_rotation(0.7, axis.into());
        assert!((h - rodrigues(axis * 0.7).transpose()).abs().max() < 1e-12);
        assert!((h - rodrigues(axis * -0.7)).abs().max() < 1e-12);
    }

    #[test]
    fn feature_product_is_the_reversed_hamilton_product() {
        let a = nalgebra::Quaternion::new(0.9, 0.1, -0.3, 0.2);
        let b = nalgebra::Quaternion::new(0.5, -0.4, 0.6, 0.1);
        let p = supr_feature_product([a.i, a.j, a.k, a.w], [b.i, b.j, b.k, b.w]);
        let want = b * a;
        let want = [want.i, want.j, want.k, want.w];
        for (x, y) in p.iter().zip(&want) {
            assert!((x - y).abs() < 1e-12, "{p:?} vs {want:?}");
        }
    }

    fn two_joint_meta() -> ConstrainedParam {
        // Joint 0 spherical (pose 0..3), joint 1 a double hinge (pose 3, 4); item order puts
        // the double hinge first to exercise `reverse_indx`.
        ConstrainedParam {
            num_pose: 5,
            spherical: vec![[0, 1, 2]],
            hinges: vec![],
            double_hinges: vec![(
                Hinge {
                    pose_index: 3,
                    axis: [1.0, 0.0, 0.0],
                },
                Hinge {
                    pose_index: 4,
                    axis: [0.0, 0.0, 1.0],
                },
            )],
            joint_item: vec![0, 1],
        }
    }

    #[test]
    fn constrained_rotations_follow_the_layout_and_reject_bad_lengths() {
        let c = two_joint_meta();
        let pose = [0.1, 0.2, 0.3, 0.4, -0.6];
        let r = c.rotations(&pose).unwrap();
        assert!(
            (r[0] - supr_rodrigues(Vector3::new(0.1, 0.2, 0.3)))
                .abs()
                .max()
                < 1e-15
        );
        let want = rodrigues(Vector3::new(-0.4, 0.0, 0.0)) * rodrigues(Vector3::new(0.0, 0.0, 0.6));
        assert!((r[1] - want).abs().max() < 1e-12);
        let (_, f) = c.rotations_and_features(&pose).unwrap();
        assert_eq!(f.len(), 8);
        assert!(matches!(
            c.rotations(&pose[..4]),
            Err(SuprError::BadPose {
                expected: 5,
                actual: 4,
                ..
            })
        ));
    }
}
