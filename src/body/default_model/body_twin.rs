//! Reading and writing a [`MarkerSet`] in 3D Body Twin's constraints JSON layout
//! (`{"C3DMarker": {"Markers": {"LKNE": {"baryCoords", "distanceToSkin", "faceId", "id"}}}}`), so
//! placements can be exchanged with that tool.

use serde_json::{Map, Value, json};

use crate::body::markers::{MarkerPlacement, MarkerSet};

/// Errors reading 3D Body Twin constraints JSON.
#[derive(Debug, thiserror::Error)]
pub enum BodyTwinJsonError {
    /// The text is not JSON.
    #[error("3D Body Twin constraints: not valid JSON: {source}")]
    Json {
        /// Underlying parser error.
        source: serde_json::Error,
    },
    /// `C3DMarker.Markers` is missing or not an object.
    #[error("3D Body Twin constraints: no object at C3DMarker.Markers")]
    NoMarkers,
    /// A marker entry lacks a field or has one of the wrong type.
    #[error("3D Body Twin constraints: marker {marker}: {what}")]
    BadMarker {
        /// Marker label.
        marker: String,
        /// What is wrong.
        what: &'static str,
    },
}

impl MarkerSet {
    /// The set as 3D Body Twin constraints JSON (only the `C3DMarker` section; markers keyed by
    /// label, `id` equal to `faceId` as in the tool's own files).
    pub fn to_body_twin_json(&self) -> Value {
        let mut markers = Map::new();
        for m in &self.markers {
            markers.insert(
                m.name.clone(),
                json!({
                    "baryCoords": m.bary,
                    "distanceToSkin": m.distance_to_skin_m,
                    "faceId": m.face_id,
                    "id": m.face_id,
                }),
            );
        }
        json!({ "C3DMarker": { "Markers": markers, "type": "C3DMarker" } })
    }

    /// Parses the `C3DMarker.Markers` section of 3D Body Twin constraints JSON text; markers come
    /// out sorted by label.
    pub fn from_body_twin_json(text: &str) -> Result<MarkerSet, BodyTwinJsonError> {
        let v: Value =
            serde_json::from_str(text).map_err(|source| BodyTwinJsonError::Json { source })?;
        let markers = v
            .get("C3DMarker")
            .and_then(|c| c.get("Markers"))
            .and_then(Value::as_object)
            .ok_or(BodyTwinJsonError::NoMarkers)?;
        let mut out = Vec::with_capacity(markers.len());
        for (name, m) in markers {
            let bad = |what| BodyTwinJsonError::BadMarker {
                marker: name.clone(),
                what,
            };
            let face_id = m
                .get("faceId")
                .and_then(Value::as_u64)
                .ok_or_else(|| bad("faceId missing or not a non-negative integer"))?;
            let bary: Vec<f64> = m
                .get("baryCoords")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_f64).collect())
                .unwrap_or_default();
            if bary.len() != 3 {
                return Err(bad("baryCoords is not an array of 3 numbers"));
            }
            let d = m
                .get("distanceToSkin")
                .and_then(Value::as_f64)
                .ok_or_else(|| bad("distanceToSkin missing or not a number"))?;
            out.push(MarkerPlacement {
                name: name.clone(),
                face_id: u32::try_from(face_id).map_err(|_| bad("faceId too large"))?,
                bary: [bary[0] as f32, bary[1] as f32, bary[2] as f32],
                distance_to_skin_m: d as f32,
                rigid_joint: None,
            });
        }
        Ok(MarkerSet { markers: out })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let set = MarkerSet {
            markers: vec![MarkerPlacement {
                name: "LKNE".into(),
                face_id: 42,
                bary: [0.25, 0.25, 0.5],
                distance_to_skin_m: 0.0095,
                rigid_joint: None,
            }],
        };
        let text = set.to_body_twin_json().to_string();
        assert_eq!(MarkerSet::from_body_twin_json(&text).unwrap(), set);
        assert!(matches!(
            MarkerSet::from_body_twin_json("{}"),
            Err(BodyTwinJsonError::NoMarkers)
        ));
        let bad =
            r#"{"C3DMarker":{"Markers":{"X":{"faceId":1,"baryCoords":[1,0],"distanceToSkin":0}}}}"#;
        assert!(matches!(
            MarkerSet::from_body_twin_json(bad),
            Err(BodyTwinJsonError::BadMarker { .. })
        ));
    }
}
