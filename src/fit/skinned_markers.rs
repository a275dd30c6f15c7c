//! Markers as points rigidly attached to the skin's blended joint transforms.
//!
//! A marker is the barycentric point of its face plus the face normal times the skin distance
//! (3D Body Twin's definition), computed once on the shaped rest mesh, plus a per-subject rest-space
//! offset found at calibration. It is posed with the barycentric blend of its face's skinning weights,
//! `m = Σ_j w̃_j · world_from_rest_j · m_rest`, which is linear in the joint transforms and gives the
//! solver exact analytic Jacobians. It differs from re-evaluating the posed face normal only by the
//! normal's bending under blended skinning (sub-millimetre for a 1 cm skin distance).

use nalgebra::{Matrix4, Vector3};

use crate::body::{BodyModel, MarkerPlacement, ShapedBody};

/// One marker ready for posing.
#[derive(Debug, Clone)]
pub struct SkinnedMarker {
    /// Marker label.
    pub name: String,
    /// Rest-pose position on the shaped body without the subject offset.
    pub rest_m: Vector3<f64>,
    /// Subject-specific rest-space offset (calibration).
    pub offset_m: Vector3<f64>,
    /// Blended skinning weights `(joint, w̃)`, summing to 1.
    pub weights: Vec<(usize, f64)>,
}

impl SkinnedMarker {
    /// Builds the marker from its placement on the shaped rest mesh.
    pub fn new(model: &BodyModel, shaped: &ShapedBody, p: &MarkerPlacement) -> Self {
        let rest = crate::body::markers::marker_position(p, &shaped.v_shaped, &model.faces);
        let face = model.faces[p.face_id as usize];
        let mut acc = vec![0.0f64; model.num_joints()];
        for (k, &v) in face.iter().enumerate() {
            for (j, w) in model.weights.row(v as usize) {
                acc[j] += p.bary[k] as f64 * w as f64;
            }
        }
        let total: f64 = acc.iter().sum();
        let weights = acc
            .iter()
            .enumerate()
            .filter(|(_, w)| **w > 1e-6)
            .map(|(j, w)| (j, w / total.max(1e-12)))
            .collect();
        SkinnedMarker {
            name: p.name.clone(),
            rest_m: Vector3::from(rest),
            offset_m: Vector3::zeros(),
            weights,
        }
    }

    /// Rest position including the subject offset.
    pub fn rest_with_offset(&self) -> Vector3<f64> {
        self.rest_m + self.offset_m
    }

    /// Posed position given the skinning transforms of every joint.
    pub fn posed(&self, world_from_rest: &[Matrix4<f64>]) -> Vector3<f64> {
        let p = self.rest_with_offset().push(1.0);
        let mut out = Vector3::zeros();
        for &(j, w) in &self.weights {
            let q = world_from_rest[j] * p;
            out += w * q.xyz();
        }
        out
    }

    /// The blended transform's linear part and translation (used to move offsets to rest space).
    pub fn blended(&self, world_from_rest: &[Matrix4<f64>]) -> Matrix4<f64> {
        let mut m = Matrix4::zeros();
        for &(j, w) in &self.weights {
            m += world_from_rest[j] * w;
        }
        m
    }
}
