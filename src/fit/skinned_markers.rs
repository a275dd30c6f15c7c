//! Markers as points rigidly attached to the skin's blended joint transforms.
//!
//! A marker is the barycentric point of its face plus the face normal times the skin distance
//! (3D Body Twin's definition), computed once on the shaped rest mesh, plus a per-subject rest-space
//! offset found at calibration. It is posed with the barycentric blend of its face's skinning weights,
//! `m = Σ_j w̃_j · world_from_rest_j · m_rest`, which is linear in the joint transforms and gives the
//! solver exact analytic Jacobians. It differs from re-evaluating the posed face normal only by the
//! normal's bending under blended skinning (sub-millimetre for a 1 cm skin distance).

use nalgebra::{Matrix4, Vector3};

use crate::body::{BodyModel, MarkerPlacement, MarkerSet, ShapedBody};

/// Skin markers on the pelvis' bony landmarks, which every marker-based gait model treats as one
/// rigid segment: Plug-in Gait builds its pelvis from exactly these.
pub const PELVIS_MARKERS: [&str; 5] = ["LASI", "RASI", "LPSI", "RPSI", "SACR"];

/// Attaches the [`PELVIS_MARKERS`] of `set` rigidly to the root joint (the pelvis): blended, an
/// ASIS marker follows the pelvis by under half and the lumbar joint by 0.4 on the default body.
/// Joint-centre markers (a landmark trial's `LHJC`) stay blended: there pelvis and thigh agree.
pub fn attach_pelvis_markers_rigidly(model: &BodyModel, set: &mut MarkerSet) {
    let Some(root) = model.parents.iter().position(|p| p.is_none()) else {
        return;
    };
    for m in &mut set.markers {
        if PELVIS_MARKERS.contains(&m.name.as_str()) {
            m.rigid_joint = Some(model.joint_names[root].clone());
        }
    }
}

/// One marker ready for posing.
#[derive(Debug, Clone)]
pub struct SkinnedMarker {
    /// Marker label.
    pub name: String,
    /// Rest-pose position on the shaped body without the subject offset.
    pub rest_m: Vector3<f64>,
    /// Subject-specific rest-space offset (calibration).
    pub offset_m: Vector3<f64>,
    /// Blended skinning weights `(joint, w̃)`, summing to 1 (one joint at 1 for a marker with a
    /// [`MarkerPlacement::rigid_joint`]).
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
        let rigid = p.rigid_joint.as_deref().and_then(|n| {
            let j = model.joint_names.iter().position(|j| j == n);
            if j.is_none() {
                tracing::warn!(
                    "marker {}: no joint {n} to attach it to; it moves with the skin",
                    p.name
                );
            }
            j
        });
        let weights = match rigid {
            Some(j) => vec![(j, 1.0)],
            None => acc
                .iter()
                .enumerate()
                .filter(|(_, w)| **w > 1e-6)
                .map(|(j, w)| (j, w / total.max(1e-12)))
                .collect(),
        };
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::default_model::{default_body, fitting_markers};

    #[test]
    fn rigid_pelvis_landmarks_move_with_the_pelvis_alone_and_other_markers_stay_blended() {
        let model = default_body();
        let shaped = model.shape(&vec![0.0; model.num_betas]);
        let mut set = fitting_markers().clone();
        let blended = SkinnedMarker::new(model, &shaped, set.get("LASI").unwrap());
        assert!(blended.weights.len() >= 2, "the skin blends: {blended:?}");
        attach_pelvis_markers_rigidly(model, &mut set);
        let marker = |n: &str| SkinnedMarker::new(model, &shaped, set.get(n).unwrap());
        for n in ["LASI", "RPSI", "SACR"] {
            assert_eq!(marker(n).weights, vec![(0, 1.0)], "{n}");
        }
        // Where it sits does not change, only how it moves.
        assert!((marker("LASI").rest_m - blended.rest_m).norm() < 1e-12);
        // A knee marker sits between thigh and shank and keeps both; so does a hip joint centre,
        // where pelvis and thigh agree.
        assert!(marker("LKNE").weights.len() >= 2);
        assert!(marker("LHJC").weights.len() >= 2);
    }

    #[test]
    fn an_unknown_rigid_joint_falls_back_to_the_skin() {
        let model = default_body();
        let shaped = model.shape(&vec![0.0; model.num_betas]);
        let mut p = fitting_markers().get("LASI").unwrap().clone();
        let skin = SkinnedMarker::new(model, &shaped, &p);
        p.rigid_joint = Some("tail".into());
        assert_eq!(SkinnedMarker::new(model, &shaped, &p).weights, skin.weights);
    }
}
