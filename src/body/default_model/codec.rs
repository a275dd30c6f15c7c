//! Compact deterministic binary layout of the default asset: a little-endian stream
//! (magic `GLDB`, version, model arrays, marker placements) compressed with zlib at a fixed level.

use std::io::{Read, Write};

use super::DefaultAsset;
use crate::body::markers::{MarkerPlacement, MarkerSet};
use crate::body::model::{BodyModel, BodyModelError, PoseFeature, SparseWeights};

const MAGIC: &[u8; 4] = b"GLDB";
const VERSION: u32 = 1;

/// Errors decoding a default-body asset.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The zlib stream is damaged.
    #[error("default body asset: zlib stream is damaged: {source}")]
    Inflate {
        /// Underlying error.
        source: std::io::Error,
    },
    /// The stream does not start with the `GLDB` magic.
    #[error("default body asset: bad magic {found:?}, expected \"GLDB\"")]
    BadMagic {
        /// The first bytes found.
        found: Vec<u8>,
    },
    /// The layout version is not one this build reads.
    #[error("default body asset: layout version {found} is not supported (expected {VERSION})")]
    Version {
        /// Version found.
        found: u32,
    },
    /// The stream ended while reading a field.
    #[error("default body asset: truncated while reading {what}")]
    Truncated {
        /// Field being read.
        what: &'static str,
    },
    /// A field holds an impossible value.
    #[error("default body asset: invalid {what}")]
    Invalid {
        /// What is wrong.
        what: String,
    },
    /// The decoded model's arrays do not fit together.
    #[error("default body asset: {source}")]
    Model {
        /// Underlying validation error.
        source: BodyModelError,
    },
}

struct Writer(Vec<u8>);

impl Writer {
    fn u32(&mut self, x: u32) {
        self.0.extend_from_slice(&x.to_le_bytes());
    }
    fn len(&mut self, n: usize) {
        self.u32(n as u32);
    }
    fn f32s(&mut self, xs: &[f32]) {
        self.len(xs.len());
        for x in xs {
            self.0.extend_from_slice(&x.to_le_bytes());
        }
    }
    fn f64s(&mut self, xs: &[f64]) {
        self.len(xs.len());
        for x in xs {
            self.0.extend_from_slice(&x.to_le_bytes());
        }
    }
    fn str(&mut self, s: &str) {
        self.len(s.len());
        self.0.extend_from_slice(s.as_bytes());
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or(DecodeError::Truncated { what })?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn len(&mut self, what: &'static str, elem_bytes: usize) -> Result<usize, DecodeError> {
        let n = self.u32(what)? as usize;
        // Refuse lengths the remaining bytes cannot hold (no huge allocations on bad input).
        if n.saturating_mul(elem_bytes) > self.buf.len() - self.pos {
            return Err(DecodeError::Truncated { what });
        }
        Ok(n)
    }
    fn f32s(&mut self, what: &'static str) -> Result<Vec<f32>, DecodeError> {
        let n = self.len(what, 4)?;
        let b = self.take(4 * n, what)?;
        Ok(b.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }
    fn f64s(&mut self, what: &'static str) -> Result<Vec<f64>, DecodeError> {
        let n = self.len(what, 8)?;
        let b = self.take(8 * n, what)?;
        Ok(b.chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8-byte chunk")))
            .collect())
    }
    fn u32s(&mut self, what: &'static str) -> Result<Vec<u32>, DecodeError> {
        let n = self.len(what, 4)?;
        let b = self.take(4 * n, what)?;
        Ok(b.chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }
    fn str(&mut self, what: &'static str) -> Result<String, DecodeError> {
        let n = self.len(what, 1)?;
        let b = self.take(n, what)?;
        String::from_utf8(b.to_vec()).map_err(|_| DecodeError::Invalid {
            what: format!("{what}: not UTF-8"),
        })
    }
}

fn triples<T: Copy>(xs: &[T], what: &str) -> Result<Vec<[T; 3]>, DecodeError> {
    if !xs.len().is_multiple_of(3) {
        return Err(DecodeError::Invalid {
            what: format!("{what}: length {} is not a multiple of 3", xs.len()),
        });
    }
    Ok(xs.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect())
}

/// Serialises an asset to the compact layout (bit-for-bit deterministic: fixed field order,
/// little-endian, zlib level 9).
pub fn encode_asset(asset: &DefaultAsset) -> Vec<u8> {
    let m = &asset.model;
    let mut w = Writer(Vec::new());
    w.0.extend_from_slice(MAGIC);
    w.u32(VERSION);
    w.str(&m.name);
    let vt: Vec<f32> = m.v_template.iter().flatten().copied().collect();
    w.f32s(&vt);
    let faces: Vec<u32> = m.faces.iter().flatten().copied().collect();
    w.len(faces.len());
    for f in faces {
        w.u32(f);
    }
    w.len(m.num_betas);
    w.f32s(&m.shapedirs);
    w.u32(match m.pose_feature {
        PoseFeature::None => 0,
        PoseFeature::Quaternion => 1,
    });
    w.f32s(&m.posedirs);
    let jt: Vec<f64> = m.j_template.iter().flatten().copied().collect();
    w.f64s(&jt);
    w.f64s(&m.j_shapedirs);
    w.len(m.parents.len());
    for p in &m.parents {
        w.u32(p.map_or(u32::MAX, |p| p as u32));
    }
    w.len(m.joint_names.len());
    for n in &m.joint_names {
        w.str(n);
    }
    w.len(m.weights.offsets.len());
    for &o in &m.weights.offsets {
        w.u32(o);
    }
    w.len(m.weights.joints.len());
    for &j in &m.weights.joints {
        w.0.extend_from_slice(&j.to_le_bytes());
    }
    w.f32s(&m.weights.values);
    w.len(asset.markers.markers.len());
    for mk in &asset.markers.markers {
        w.str(&mk.name);
        w.u32(mk.face_id);
        for b in mk.bary {
            w.0.extend_from_slice(&b.to_le_bytes());
        }
        w.0.extend_from_slice(&mk.distance_to_skin_m.to_le_bytes());
    }
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(9));
    enc.write_all(&w.0).expect("writing to a Vec cannot fail");
    enc.finish().expect("writing to a Vec cannot fail")
}

/// Decodes an asset written by [`encode_asset`] and validates the model.
pub fn decode_asset(bytes: &[u8]) -> Result<DefaultAsset, DecodeError> {
    let mut raw = Vec::new();
    flate2::read::ZlibDecoder::new(bytes)
        .read_to_end(&mut raw)
        .map_err(|source| DecodeError::Inflate { source })?;
    let mut r = Reader { buf: &raw, pos: 0 };
    let magic = r.take(4, "magic")?;
    if magic != MAGIC {
        return Err(DecodeError::BadMagic {
            found: magic.to_vec(),
        });
    }
    let version = r.u32("version")?;
    if version != VERSION {
        return Err(DecodeError::Version { found: version });
    }
    let name = r.str("model name")?;
    let v_template = triples(&r.f32s("v_template")?, "v_template")?;
    let faces = triples(&r.u32s("faces")?, "faces")?;
    let num_betas = r.u32("num_betas")? as usize;
    let shapedirs = r.f32s("shapedirs")?;
    let pose_feature = match r.u32("pose_feature")? {
        0 => PoseFeature::None,
        1 => PoseFeature::Quaternion,
        x => {
            return Err(DecodeError::Invalid {
                what: format!("pose feature code {x}"),
            });
        }
    };
    let posedirs = r.f32s("posedirs")?;
    let j_template = triples(&r.f64s("j_template")?, "j_template")?;
    let j_shapedirs = r.f64s("j_shapedirs")?;
    let parents = r
        .u32s("parents")?
        .into_iter()
        .map(|p| (p != u32::MAX).then_some(p as usize))
        .collect();
    let n_names = r.len("joint names", 4)?;
    let joint_names = (0..n_names)
        .map(|_| r.str("joint name"))
        .collect::<Result<Vec<_>, _>>()?;
    let offsets = r.u32s("weight offsets")?;
    let nnz = r.len("weight joints", 2)?;
    let joints = r
        .take(2 * nnz, "weight joints")?
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let values = r.f32s("weight values")?;
    let n_markers = r.len("markers", 20)?;
    let mut markers = Vec::with_capacity(n_markers);
    for _ in 0..n_markers {
        let name = r.str("marker name")?;
        let face_id = r.u32("marker face")?;
        let mut f = [0f32; 4];
        for x in &mut f {
            let b = r.take(4, "marker coordinates")?;
            *x = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        }
        if face_id as usize >= faces.len() {
            return Err(DecodeError::Invalid {
                what: format!("marker {name} on face {face_id} >= {}", faces.len()),
            });
        }
        markers.push(MarkerPlacement {
            name,
            face_id,
            bary: [f[0], f[1], f[2]],
            distance_to_skin_m: f[3],
            rigid_joint: None,
        });
    }
    if r.pos != raw.len() {
        return Err(DecodeError::Invalid {
            what: format!("{} trailing bytes", raw.len() - r.pos),
        });
    }
    let model = BodyModel {
        name,
        v_template,
        faces,
        num_betas,
        shapedirs,
        pose_feature,
        posedirs,
        j_template,
        j_shapedirs,
        parents,
        joint_names,
        weights: SparseWeights {
            offsets,
            joints,
            values,
        },
    };
    model
        .validate()
        .map_err(|source| DecodeError::Model { source })?;
    Ok(DefaultAsset {
        model,
        markers: MarkerSet { markers },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> DefaultAsset {
        let model = BodyModel {
            name: "tiny".into(),
            v_template: vec![[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],
            faces: vec![[0, 1, 2]],
            num_betas: 1,
            shapedirs: vec![0.5; 9],
            pose_feature: PoseFeature::None,
            posedirs: vec![],
            j_template: vec![[0.0, 0.0, 0.0], [0.0, 1.0, 0.0]],
            j_shapedirs: vec![0.25; 6],
            parents: vec![None, Some(0)],
            joint_names: vec!["a".into(), "b".into()],
            weights: SparseWeights::from_dense(&[1.0, 0.0, 0.0, 1.0, 0.5, 0.5], 3, 2),
        };
        DefaultAsset {
            model,
            markers: MarkerSet {
                markers: vec![MarkerPlacement {
                    name: "LKNE".into(),
                    face_id: 0,
                    bary: [0.2, 0.3, 0.5],
                    distance_to_skin_m: 0.0095,
                    rigid_joint: None,
                }],
            },
        }
    }

    #[test]
    fn round_trip_keeps_every_field() {
        let a = tiny();
        let bytes = encode_asset(&a);
        assert_eq!(bytes, encode_asset(&a));
        let b = decode_asset(&bytes).unwrap();
        assert_eq!(b.model.v_template, a.model.v_template);
        assert_eq!(b.model.faces, a.model.faces);
        assert_eq!(b.model.shapedirs, a.model.shapedirs);
        assert_eq!(b.model.j_shapedirs, a.model.j_shapedirs);
        assert_eq!(b.model.parents, a.model.parents);
        assert_eq!(b.model.joint_names, a.model.joint_names);
        assert_eq!(b.model.weights.values, a.model.weights.values);
        assert_eq!(b.model.weights.joints, a.model.weights.joints);
        assert_eq!(b.markers, a.markers);
    }

    #[test]
    fn damaged_bytes_give_typed_errors() {
        let bytes = encode_asset(&tiny());
        assert!(matches!(
            decode_asset(&bytes[..bytes.len() / 2]),
            Err(DecodeError::Inflate { .. })
        ));
        let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(9));
        enc.write_all(b"NOPE0000").unwrap();
        assert!(matches!(
            decode_asset(&enc.finish().unwrap()),
            Err(DecodeError::BadMagic { .. })
        ));
        let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(9));
        enc.write_all(b"GLDB\x01\x00\x00\x00\xff\xff").unwrap();
        assert!(matches!(
            decode_asset(&enc.finish().unwrap()),
            Err(DecodeError::Truncated { .. })
        ));
    }
}
