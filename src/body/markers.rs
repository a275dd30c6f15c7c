//! Marker placements on a body mesh (face + barycentric point + distance along the normal), in the
//! `C3DMarker` layout of 3D Body Twin constraint files so SUPR users can bring their own.

use serde::{Deserialize, Serialize};

use super::model::PosedBody;

/// Where one motion-capture marker sits on the body surface.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarkerPlacement {
    /// Marker label as in the C3D file (e.g. `LKNE`).
    pub name: String,
    /// Triangle of the body mesh the marker sits on.
    pub face_id: u32,
    /// Barycentric coordinates of the skin point inside that triangle.
    pub bary: [f32; 3],
    /// Distance from skin to marker centre along the surface normal, in metres.
    pub distance_to_skin_m: f32,
    /// The joint this marker moves rigidly with (a marker on bone, or on a rigid cluster plate),
    /// instead of the blended skinning weights of its face; `None` (the default, and what 3D Body
    /// Twin files mean): it moves with the skin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rigid_joint: Option<String>,
}

/// A named set of marker placements for one body mesh.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MarkerSet {
    /// Placements in a stable order.
    pub markers: Vec<MarkerPlacement>,
}

impl MarkerSet {
    /// Finds a placement by label, ignoring case.
    pub fn get(&self, name: &str) -> Option<&MarkerPlacement> {
        self.markers
            .iter()
            .find(|m| m.name.eq_ignore_ascii_case(name))
    }

    /// The distinct vertices the markers depend on, sorted (what the subset forward must pose).
    pub fn vertex_ids(&self, faces: &[[u32; 3]]) -> Vec<u32> {
        let mut v: Vec<u32> = self
            .markers
            .iter()
            .flat_map(|m| faces[m.face_id as usize])
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}

/// Position of a marker on a posed mesh: the barycentric skin point moved along the face normal
/// by the skin distance (how 3D Body Twin and the original pipeline place markers).
pub fn marker_position(m: &MarkerPlacement, vertices: &[[f32; 3]], faces: &[[u32; 3]]) -> [f64; 3] {
    let f = faces[m.face_id as usize];
    let [a, b, c] = f.map(|i| {
        let p = vertices[i as usize];
        [p[0] as f64, p[1] as f64, p[2] as f64]
    });
    let w = m.bary.map(|x| x as f64);
    let skin = [0, 1, 2].map(|k| w[0] * a[k] + w[1] * b[k] + w[2] * c[k]);
    let e1 = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
    let e2 = [c[0] - a[0], c[1] - a[1], c[2] - a[2]];
    let n = [
        e1[1] * e2[2] - e1[2] * e2[1],
        e1[2] * e2[0] - e1[0] * e2[2],
        e1[0] * e2[1] - e1[1] * e2[0],
    ];
    let l = (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt().max(1e-20);
    let d = m.distance_to_skin_m as f64;
    [0, 1, 2].map(|k| skin[k] + n[k] / l * d)
}

/// Marker positions of a whole set on a posed body (full-mesh output).
pub fn marker_positions(set: &MarkerSet, posed: &PosedBody, faces: &[[u32; 3]]) -> Vec<[f64; 3]> {
    set.markers
        .iter()
        .map(|m| marker_position(m, &posed.vertices, faces))
        .collect()
}
