//! A walk as a skinned, animated glTF 2.0 binary.
//!
//! The body is exported the way it is posed: the shaped rest mesh bound to a skeleton of the
//! model's joints (linear blend skinning, glTF's own), one node per joint with its rest offset
//! from the parent, and one animation whose channels carry every joint's local rotation and the
//! pelvis translation at the sequence's frame times. That is ~350 bytes a frame for 22 joints,
//! where morph targets (a posed mesh per frame) would be ~150 kB a frame. Relevance travels as
//! static vertex colours (`COLOR_0`, linear RGB): glTF has no animated vertex colours.
//!
//! Two approximations, both small and documented: glTF skins with at most four joints a vertex
//! (the strongest four are kept and renormalised), and a model's pose blend shapes (SUPR's
//! pose correctives; the embedded body has none) are not exported.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;

use gltf::json;
use json::validation::Checked::Valid;
use json::validation::USize64;
use nalgebra::{Matrix3, UnitQuaternion, Vector3};

use crate::body::BodyModel;

/// Errors of the glTF export.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The walk cannot be exported as given (no frames, mismatched lengths, bad numbers).
    #[error("cannot export '{name}': {what}")]
    BadWalk {
        /// The walk's name.
        name: String,
        /// What is wrong.
        what: String,
    },
    /// The glTF JSON could not be serialised.
    #[error("cannot export '{name}': glTF serialisation failed: {source}")]
    Serialise {
        /// The walk's name.
        name: String,
        /// serde_json's error.
        source: serde_json::Error,
    },
    /// The output file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The output path.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// A posed walk ready for export.
#[derive(Debug, Clone)]
pub struct WalkAnimation<'a> {
    /// The body model (any joint count).
    pub model: &'a BodyModel,
    /// Shape coefficients.
    pub betas: &'a [f64],
    /// Per frame, every joint's rotation relative to its parent.
    pub rotations: &'a [Vec<Matrix3<f64>>],
    /// Per frame, the root translation in metres (as [`BodyModel::forward`] takes it).
    pub translations: &'a [Vector3<f64>],
    /// Frame rate of the sequence.
    pub rate_hz: f64,
    /// Name written into the file (scene, mesh and animation names).
    pub name: &'a str,
    /// Rotation from the poses' frame to glTF's (+Y up): identity for y-up poses, see
    /// [`lab_up_from_joints`] for lab frames.
    pub gltf_from_lab: Matrix3<f64>,
    /// Linear-RGB colour per vertex (relevance), or `None` for the plain body.
    pub vertex_colours: Option<Vec<[f32; 3]>>,
}

/// The lab's up axis of a posed walk: pelvis → head averaged over frames and snapped to the
/// nearest lab axis (a recording's vertical is a lab axis; a fitted trunk's lean is not).
/// `None` when the model has no pelvis or head joint, or the walk has no frames.
pub fn lab_up_from_joints(
    model: &BodyModel,
    betas: &[f64],
    rotations: &[Vec<Matrix3<f64>>],
    translations: &[Vector3<f64>],
) -> Option<Vector3<f64>> {
    let pelvis = model.joint_names.iter().position(|n| n == "pelvis")?;
    let head = model.joint_names.iter().position(|n| n == "head")?;
    let shaped = model.shape(betas);
    let step = (rotations.len() / 20).max(1);
    let mut sum = Vector3::zeros();
    for (r, t) in rotations.iter().zip(translations).step_by(step) {
        let t = model.joint_transforms(&shaped.joints_rest, r, *t);
        let at = |j: usize| t.world_from_joint[j].fixed_view::<3, 1>(0, 3).into_owned();
        sum += at(head) - at(pelvis);
    }
    if sum.norm().is_nan() || sum.norm() == 0.0 {
        return None;
    }
    let k = sum.iamax();
    let mut up = Vector3::zeros();
    up[k] = sum[k].signum();
    Some(up)
}

/// The rotation taking lab direction `up` to glTF's +Y.
pub fn gltf_from_lab(up: Vector3<f64>) -> Matrix3<f64> {
    nalgebra::Rotation3::rotation_between(&up, &Vector3::y())
        .map(|r| r.into_inner())
        .unwrap_or_else(|| {
            // up = −y: half a turn about x.
            nalgebra::Rotation3::from_axis_angle(&Vector3::x_axis(), std::f64::consts::PI)
                .into_inner()
        })
}

/// Writes the walk to `path` as `.glb`, atomically (a stopped export leaves no partial file).
pub fn write_glb(walk: &WalkAnimation, path: &Path) -> Result<usize, ExportError> {
    let bytes = glb_bytes(walk)?;
    crate::io_util::write_atomic(path, &bytes).map_err(|source| ExportError::Write {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(bytes.len())
}

/// The walk as the bytes of a `.glb` file.
pub fn glb_bytes(walk: &WalkAnimation) -> Result<Vec<u8>, ExportError> {
    check(walk)?;
    let model = walk.model;
    let shaped = model.shape(walk.betas);
    let rest = model.forward(
        &shaped,
        &vec![Matrix3::identity(); model.num_joints()],
        Vector3::zeros(),
    );
    let mut doc = Document::default();

    // The mesh, bound in the rest pose.
    let positions = doc.vec3_accessor(&rest.vertices, true, Target::Vertex);
    let normals = doc.vec3_accessor(&rest.normals, false, Target::Vertex);
    let (joints_0, weights_0) = skin_attributes(model);
    let joints = doc.joints_accessor(&joints_0);
    let weights = doc.vec4_accessor(&weights_0, Target::Vertex);
    let indices: Vec<u32> = model.faces.iter().flatten().copied().collect();
    let indices = doc.index_accessor(&indices);
    let mut attributes = BTreeMap::new();
    attributes.insert(Valid(json::mesh::Semantic::Positions), positions);
    attributes.insert(Valid(json::mesh::Semantic::Normals), normals);
    attributes.insert(Valid(json::mesh::Semantic::Joints(0)), joints);
    attributes.insert(Valid(json::mesh::Semantic::Weights(0)), weights);
    if let Some(colours) = &walk.vertex_colours {
        let c = doc.vec3_accessor(colours, false, Target::Vertex);
        attributes.insert(Valid(json::mesh::Semantic::Colors(0)), c);
    }
    let material = doc.root.push(body_material(walk.vertex_colours.is_some()));
    let mesh = doc.root.push(json::Mesh {
        extensions: None,
        extras: Default::default(),
        name: Some(format!("{} body", walk.name)),
        primitives: vec![json::mesh::Primitive {
            attributes,
            extensions: None,
            extras: Default::default(),
            indices: Some(indices),
            material: Some(material),
            mode: Valid(json::mesh::Mode::Triangles),
            targets: None,
        }],
        weights: None,
    });

    // The skeleton under a node that turns the lab upright.
    let joint_nodes = doc.skeleton_nodes(model, &shaped.joints_rest);
    let q = UnitQuaternion::from_matrix(&walk.gltf_from_lab);
    let roots: Vec<_> = (0..model.num_joints())
        .filter(|&j| model.parents[j].is_none())
        .map(|j| joint_nodes[j])
        .collect();
    let lab = doc.root.push(json::Node {
        name: Some("lab (turned to +Y up)".into()),
        rotation: Some(json::scene::UnitQuaternion(quat_xyzw(&q))),
        children: Some(roots),
        ..Default::default()
    });
    let inverse_bind: Vec<[f32; 16]> = shaped
        .joints_rest
        .iter()
        .map(|j| {
            let mut m = [0f32; 16];
            m[0] = 1.0;
            m[5] = 1.0;
            m[10] = 1.0;
            m[15] = 1.0;
            m[12] = -j.x as f32;
            m[13] = -j.y as f32;
            m[14] = -j.z as f32;
            m
        })
        .collect();
    let ibm = doc.mat4_accessor(&inverse_bind);
    let skin = doc.root.push(json::Skin {
        extensions: None,
        extras: Default::default(),
        inverse_bind_matrices: Some(ibm),
        joints: joint_nodes.clone(),
        name: Some(format!("{} skeleton", walk.name)),
        skeleton: None,
    });
    let body = doc.root.push(json::Node {
        name: Some(format!("{} body", walk.name)),
        mesh: Some(mesh),
        skin: Some(skin),
        ..Default::default()
    });
    let scene = doc.root.push(json::Scene {
        extensions: None,
        extras: Default::default(),
        name: Some(walk.name.to_string()),
        nodes: vec![lab, body],
    });
    doc.root.scene = Some(scene);
    doc.animation(walk, &shaped.joints_rest, &joint_nodes);
    doc.root.asset.generator = Some(format!("gaitlens {}", env!("CARGO_PKG_VERSION")));
    doc.finish(walk.name)
}

/// Rejects walks that would write an invalid file.
fn check(walk: &WalkAnimation) -> Result<(), ExportError> {
    let bad = |what: String| ExportError::BadWalk {
        name: walk.name.to_string(),
        what,
    };
    let nj = walk.model.num_joints();
    if walk.rotations.is_empty() {
        return Err(bad("it has no frames".into()));
    }
    if !(walk.rate_hz.is_finite() && walk.rate_hz > 0.0 && walk.rate_hz <= 100_000.0) {
        return Err(bad(format!("frame rate {} Hz is not usable", walk.rate_hz)));
    }
    if walk.translations.len() != walk.rotations.len() {
        return Err(bad(format!(
            "{} poses but {} translations",
            walk.rotations.len(),
            walk.translations.len()
        )));
    }
    for (f, (r, t)) in walk.rotations.iter().zip(walk.translations).enumerate() {
        if r.len() != nj {
            return Err(bad(format!(
                "frame {f} has {} joint rotations, the body '{}' has {nj} joints",
                r.len(),
                walk.model.name
            )));
        }
        if !t
            .iter()
            .chain(r.iter().flat_map(|m| m.iter()))
            .all(|x| x.is_finite())
        {
            return Err(bad(format!("frame {f} holds a non-finite value")));
        }
    }
    if let Some(c) = &walk.vertex_colours {
        if c.len() != walk.model.num_vertices() {
            return Err(bad(format!(
                "{} vertex colours for a body of {} vertices",
                c.len(),
                walk.model.num_vertices()
            )));
        }
        if c.iter().flatten().any(|x| !x.is_finite()) {
            return Err(bad("a vertex colour is not finite".into()));
        }
    }
    Ok(())
}

/// Each vertex's four strongest joints (indices, weights renormalised to sum 1).
fn skin_attributes(model: &BodyModel) -> (Vec<[u16; 4]>, Vec<[f32; 4]>) {
    (0..model.num_vertices())
        .map(|v| {
            let mut row: Vec<(usize, f32)> = model.weights.row(v).filter(|w| w.1 > 0.0).collect();
            row.sort_by(|a, b| b.1.total_cmp(&a.1));
            row.truncate(4);
            let total: f32 = row.iter().map(|w| w.1).sum();
            let mut joints = [0u16; 4];
            let mut weights = [0f32; 4];
            if total > 0.0 {
                for (k, &(j, w)) in row.iter().enumerate() {
                    joints[k] = j as u16;
                    weights[k] = w / total;
                }
                // Put the rounding residue on the strongest joint: the sum is then 1 in f32.
                weights[0] += 1.0 - weights.iter().sum::<f32>();
            } else {
                // A vertex no joint moves rides on the root.
                weights[0] = 1.0;
            }
            (joints, weights)
        })
        .unzip()
}

/// Skin-coloured PBR material; white when vertex colours carry the colour (glTF multiplies them).
fn body_material(coloured: bool) -> json::Material {
    let base = if coloured {
        [1.0, 1.0, 1.0, 1.0]
    } else {
        [0.80, 0.78, 0.76, 1.0]
    };
    json::Material {
        name: Some(if coloured { "relevance" } else { "skin" }.into()),
        double_sided: true,
        pbr_metallic_roughness: json::material::PbrMetallicRoughness {
            base_color_factor: json::material::PbrBaseColorFactor(base),
            metallic_factor: json::material::StrengthFactor(0.0),
            roughness_factor: json::material::StrengthFactor(0.75),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// glTF's `[x, y, z, w]` of a unit quaternion.
fn quat_xyzw(q: &UnitQuaternion<f64>) -> [f32; 4] {
    [q.i as f32, q.j as f32, q.k as f32, q.w as f32]
}

/// What a buffer view holds (glTF's `target`; animation and skin data have none).
#[derive(Clone, Copy, PartialEq)]
enum Target {
    Vertex,
    Index,
    None,
}

/// The glTF document under construction and its one binary buffer.
#[derive(Default)]
struct Document {
    root: json::Root,
    bin: Vec<u8>,
}

impl Document {
    /// Appends `bytes` as a new buffer view, 4-byte aligned as glTF requires.
    fn view(&mut self, bytes: &[u8], target: Target) -> json::Index<json::buffer::View> {
        while !self.bin.len().is_multiple_of(4) {
            self.bin.push(0);
        }
        let offset = self.bin.len();
        self.bin.extend_from_slice(bytes);
        self.root.push(json::buffer::View {
            buffer: json::Index::new(0),
            byte_length: USize64::from(bytes.len()),
            byte_offset: Some(USize64::from(offset)),
            byte_stride: None,
            extensions: None,
            extras: Default::default(),
            name: None,
            target: match target {
                Target::Vertex => Some(Valid(json::buffer::Target::ArrayBuffer)),
                Target::Index => Some(Valid(json::buffer::Target::ElementArrayBuffer)),
                Target::None => None,
            },
        })
    }

    /// An accessor over a whole new view.
    #[allow(clippy::too_many_arguments)]
    fn accessor(
        &mut self,
        bytes: &[u8],
        target: Target,
        count: usize,
        component: json::accessor::ComponentType,
        type_: json::accessor::Type,
        bounds: Option<(Vec<f32>, Vec<f32>)>,
    ) -> json::Index<json::Accessor> {
        let view = self.view(bytes, target);
        let (min, max) = match bounds {
            Some((lo, hi)) => (Some(json::Value::from(lo)), Some(json::Value::from(hi))),
            None => (None, None),
        };
        self.root.push(json::Accessor {
            buffer_view: Some(view),
            byte_offset: None,
            count: USize64::from(count),
            component_type: Valid(json::accessor::GenericComponentType(component)),
            extensions: None,
            extras: Default::default(),
            type_: Valid(type_),
            min,
            max,
            name: None,
            normalized: false,
            sparse: None,
        })
    }

    fn vec3_accessor(
        &mut self,
        v: &[[f32; 3]],
        with_bounds: bool,
        target: Target,
    ) -> json::Index<json::Accessor> {
        let bounds = with_bounds.then(|| bounds(v.iter().map(|x| x.as_slice()), 3));
        let bytes: Vec<u8> = v.iter().flatten().flat_map(|x| x.to_le_bytes()).collect();
        use json::accessor::{ComponentType::F32, Type::Vec3};
        self.accessor(&bytes, target, v.len(), F32, Vec3, bounds)
    }

    fn vec4_accessor(&mut self, v: &[[f32; 4]], target: Target) -> json::Index<json::Accessor> {
        let bytes: Vec<u8> = v.iter().flatten().flat_map(|x| x.to_le_bytes()).collect();
        use json::accessor::{ComponentType::F32, Type::Vec4};
        self.accessor(&bytes, target, v.len(), F32, Vec4, None)
    }

    fn joints_accessor(&mut self, v: &[[u16; 4]]) -> json::Index<json::Accessor> {
        let bytes: Vec<u8> = v.iter().flatten().flat_map(|x| x.to_le_bytes()).collect();
        use json::accessor::{ComponentType::U16, Type::Vec4};
        self.accessor(&bytes, Target::Vertex, v.len(), U16, Vec4, None)
    }

    fn index_accessor(&mut self, v: &[u32]) -> json::Index<json::Accessor> {
        let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        use json::accessor::{ComponentType::U32, Type::Scalar};
        self.accessor(&bytes, Target::Index, v.len(), U32, Scalar, None)
    }

    fn mat4_accessor(&mut self, v: &[[f32; 16]]) -> json::Index<json::Accessor> {
        let bytes: Vec<u8> = v.iter().flatten().flat_map(|x| x.to_le_bytes()).collect();
        use json::accessor::{ComponentType::F32, Type::Mat4};
        self.accessor(&bytes, Target::None, v.len(), F32, Mat4, None)
    }

    /// One node per joint, each at its rest offset from its parent; returns them by joint.
    fn skeleton_nodes(
        &mut self,
        model: &BodyModel,
        joints_rest: &[Vector3<f64>],
    ) -> Vec<json::Index<json::Node>> {
        let nj = model.num_joints();
        let first = self.root.nodes.len() as u32;
        for j in 0..nj {
            let offset = match model.parents[j] {
                Some(p) => joints_rest[j] - joints_rest[p],
                None => joints_rest[j],
            };
            let children: Vec<_> = (0..nj)
                .filter(|&c| model.parents[c] == Some(j))
                .map(|c| json::Index::new(first + c as u32))
                .collect();
            self.root.push(json::Node {
                name: Some(model.joint_names[j].clone()),
                translation: Some([offset.x as f32, offset.y as f32, offset.z as f32]),
                children: (!children.is_empty()).then_some(children),
                ..Default::default()
            });
        }
        (0..nj)
            .map(|j| json::Index::new(first + j as u32))
            .collect()
    }

    /// The walk's animation: every joint's rotation and the roots' translations per frame.
    fn animation(
        &mut self,
        walk: &WalkAnimation,
        joints_rest: &[Vector3<f64>],
        joint_nodes: &[json::Index<json::Node>],
    ) {
        let n = walk.rotations.len();
        let times: Vec<f32> = (0..n).map(|f| (f as f64 / walk.rate_hz) as f32).collect();
        let time_bytes: Vec<u8> = times.iter().flat_map(|t| t.to_le_bytes()).collect();
        let bounds = (vec![times[0]], vec![times[n - 1]]);
        use json::accessor::{ComponentType::F32, Type};
        let input = self.accessor(
            &time_bytes,
            Target::None,
            n,
            F32,
            Type::Scalar,
            Some(bounds),
        );
        let mut samplers = Vec::new();
        let mut channels = Vec::new();
        let mut add = |node, path, output| {
            let sampler = json::Index::push(
                &mut samplers,
                json::animation::Sampler {
                    extensions: None,
                    extras: Default::default(),
                    input,
                    interpolation: Valid(json::animation::Interpolation::Linear),
                    output,
                },
            );
            channels.push(json::animation::Channel {
                sampler,
                target: json::animation::Target {
                    extensions: None,
                    extras: Default::default(),
                    node,
                    path: Valid(path),
                },
                extensions: None,
                extras: Default::default(),
            });
        };
        for (j, &node) in joint_nodes.iter().enumerate() {
            let mut prev: Option<UnitQuaternion<f64>> = None;
            let quats: Vec<[f32; 4]> = walk
                .rotations
                .iter()
                .map(|r| {
                    let mut q = UnitQuaternion::from_matrix(&r[j]);
                    // Keep consecutive keys in one hemisphere so slerp takes the short way.
                    if prev.is_some_and(|p| p.coords.dot(&q.coords) < 0.0) {
                        q = UnitQuaternion::new_unchecked(-q.into_inner());
                    }
                    prev = Some(q);
                    quat_xyzw(&q)
                })
                .collect();
            let bytes: Vec<u8> = quats
                .iter()
                .flatten()
                .flat_map(|x| x.to_le_bytes())
                .collect();
            let out = self.accessor(&bytes, Target::None, n, F32, Type::Vec4, None);
            add(node, json::animation::Property::Rotation, out);
            if walk.model.parents[j].is_none() {
                let t: Vec<[f32; 3]> = walk
                    .translations
                    .iter()
                    .map(|t| {
                        let p = joints_rest[j] + t;
                        [p.x as f32, p.y as f32, p.z as f32]
                    })
                    .collect();
                let bytes: Vec<u8> = t.iter().flatten().flat_map(|x| x.to_le_bytes()).collect();
                let out = self.accessor(&bytes, Target::None, n, F32, Type::Vec3, None);
                add(node, json::animation::Property::Translation, out);
            }
        }
        self.root.push(json::Animation {
            extensions: None,
            extras: Default::default(),
            channels,
            name: Some(format!(
                "{} ({} frames at {} Hz)",
                walk.name, n, walk.rate_hz
            )),
            samplers,
        });
    }

    /// Serialises the document and its buffer as a `.glb`.
    fn finish(mut self, name: &str) -> Result<Vec<u8>, ExportError> {
        while !self.bin.len().is_multiple_of(4) {
            self.bin.push(0);
        }
        self.root.push(json::Buffer {
            byte_length: USize64::from(self.bin.len()),
            extensions: None,
            extras: Default::default(),
            name: None,
            uri: None,
        });
        let text =
            json::serialize::to_string(&self.root).map_err(|source| ExportError::Serialise {
                name: name.to_string(),
                source,
            })?;
        let glb = gltf::binary::Glb {
            header: gltf::binary::Header {
                magic: *b"glTF",
                version: 2,
                length: 0, // written by `to_vec`
            },
            json: Cow::Owned(text.into_bytes()),
            bin: Some(Cow::Owned(self.bin)),
        };
        glb.to_vec().map_err(|e| ExportError::BadWalk {
            name: name.to_string(),
            what: format!("the GLB container could not be written: {e}"),
        })
    }
}

/// Per-component minimum and maximum of `dims`-vectors.
fn bounds<'a>(v: impl Iterator<Item = &'a [f32]>, dims: usize) -> (Vec<f32>, Vec<f32>) {
    let mut lo = vec![f32::INFINITY; dims];
    let mut hi = vec![f32::NEG_INFINITY; dims];
    for x in v {
        for d in 0..dims {
            lo[d] = lo[d].min(x[d]);
            hi[d] = hi[d].max(x[d]);
        }
    }
    (lo, hi)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::default_model::default_body;
    use nalgebra::{Matrix4, Rotation3, Translation3};

    /// A short walk-like sequence: every joint bent a little differently in every frame.
    fn walk(model: &BodyModel, frames: usize) -> (Vec<Vec<Matrix3<f64>>>, Vec<Vector3<f64>>) {
        let nj = model.num_joints();
        let rotations = (0..frames)
            .map(|f| {
                (0..nj)
                    .map(|j| {
                        let a = 0.3 * ((f * 7 + j * 3) as f64 * 0.37).sin();
                        let axis = Vector3::new(1.0, 0.3 * j as f64, -0.2).normalize();
                        Rotation3::new(axis * a).into_inner()
                    })
                    .collect()
            })
            .collect();
        let translations = (0..frames)
            .map(|f| Vector3::new(0.1 * f as f64, 0.02, -0.05 * f as f64))
            .collect();
        (rotations, translations)
    }

    /// World matrix of every node at animation key `k`, read back from the document alone.
    fn node_worlds(doc: &gltf::Document, blob: &[u8], k: usize) -> Vec<Matrix4<f32>> {
        let mut local: Vec<Matrix4<f32>> = Vec::new();
        let mut trs: Vec<([f32; 3], [f32; 4])> = doc
            .nodes()
            .map(|n| {
                let (t, r, _) = n.transform().decomposed();
                (t, r)
            })
            .collect();
        let anim = doc.animations().next().expect("one animation");
        for ch in anim.channels() {
            let node = ch.target().node().index();
            let reader = ch.reader(|_| Some(blob));
            match reader.read_outputs().expect("outputs") {
                gltf::animation::util::ReadOutputs::Translations(mut t) => {
                    trs[node].0 = t.nth(k).unwrap()
                }
                gltf::animation::util::ReadOutputs::Rotations(r) => {
                    trs[node].1 = r.into_f32().nth(k).unwrap()
                }
                _ => panic!("unexpected channel"),
            }
        }
        for (t, r) in &trs {
            let q = nalgebra::UnitQuaternion::from_quaternion(nalgebra::Quaternion::new(
                r[3], r[0], r[1], r[2],
            ));
            local.push(Translation3::new(t[0], t[1], t[2]).to_homogeneous() * q.to_homogeneous());
        }
        let mut world = vec![Matrix4::identity(); local.len()];
        fn visit(
            n: gltf::Node,
            parent: Matrix4<f32>,
            local: &[Matrix4<f32>],
            w: &mut [Matrix4<f32>],
        ) {
            w[n.index()] = parent * local[n.index()];
            for c in n.children() {
                visit(c, w[n.index()], local, w);
            }
        }
        for n in doc.default_scene().unwrap().nodes() {
            visit(n, Matrix4::identity(), &local, &mut world);
        }
        world
    }

    #[test]
    fn the_glb_skins_to_the_bodys_own_forward_pass_at_every_key() {
        let model = default_body();
        let betas = vec![0.5; model.num_betas.min(4)];
        let (rotations, translations) = walk(model, 4);
        let up = Vector3::z();
        let lab = gltf_from_lab(up);
        let w = WalkAnimation {
            model,
            betas: &betas,
            rotations: &rotations,
            translations: &translations,
            rate_hz: 100.0,
            name: "test walk",
            gltf_from_lab: lab,
            vertex_colours: Some(vec![[0.2, 0.4, 0.6]; model.num_vertices()]),
        };
        let bytes = glb_bytes(&w).unwrap();
        let g = gltf::Gltf::from_slice(&bytes).expect("re-read");
        let blob = g.blob.clone().expect("binary chunk");
        let mesh = g.document.meshes().next().unwrap();
        let prim = mesh.primitives().next().unwrap();
        let reader = prim.reader(|_| Some(&blob));
        let positions: Vec<[f32; 3]> = reader.read_positions().unwrap().collect();
        let joints: Vec<[u16; 4]> = reader.read_joints(0).unwrap().into_u16().collect();
        let weights: Vec<[f32; 4]> = reader.read_weights(0).unwrap().into_f32().collect();
        let colours: Vec<[f32; 3]> = reader.read_colors(0).unwrap().into_rgb_f32().collect();
        assert_eq!(positions.len(), model.num_vertices());
        assert_eq!(colours[17], [0.2, 0.4, 0.6]);
        let skin = g.document.skins().next().unwrap();
        let ibm: Vec<[[f32; 4]; 4]> = skin
            .reader(|_| Some(&blob))
            .read_inverse_bind_matrices()
            .unwrap()
            .collect();
        let skin_nodes: Vec<usize> = skin.joints().map(|n| n.index()).collect();
        let anim = g.document.animations().next().unwrap();
        let times: Vec<f32> = anim
            .channels()
            .next()
            .unwrap()
            .reader(|_| Some(&blob))
            .read_inputs()
            .unwrap()
            .collect();
        assert_eq!(times, vec![0.0, 0.01, 0.02, 0.03], "one key per frame");
        let shaped = model.shape(&betas);
        for k in 0..4 {
            let world = node_worlds(&g.document, &blob, k);
            let expect = model.forward(&shaped, &rotations[k], translations[k]);
            // Exact (float rounding) where a vertex has ≤ 4 joints; within a few millimetres
            // where glTF's four-joint limit dropped the weakest weights.
            let (mut worst_exact, mut worst) = (0f32, 0f32);
            for v in 0..positions.len() {
                let p = positions[v];
                let mut out = nalgebra::Vector4::zeros();
                for c in 0..4 {
                    let j = joints[v][c] as usize;
                    let m = world[skin_nodes[j]] * Matrix4::from(ibm[j]);
                    out += weights[v][c] * (m * nalgebra::Vector4::new(p[0], p[1], p[2], 1.0));
                }
                let e = expect.vertices[v];
                let e = lab.cast::<f32>() * Vector3::new(e[0], e[1], e[2]);
                let d = (out.xyz() - e).norm();
                worst = worst.max(d);
                if model.weights.row(v).filter(|w| w.1 > 0.0).count() <= 4 {
                    worst_exact = worst_exact.max(d);
                }
            }
            assert!(
                worst_exact < 5e-5,
                "key {k}: skinned vertex {worst_exact} m off"
            );
            assert!(worst < 3e-3, "key {k}: truncated vertex {worst} m off");
        }
    }

    #[test]
    fn bad_walks_are_refused_with_the_reason() {
        let model = default_body();
        let (rotations, mut translations) = walk(model, 2);
        translations[1].x = f64::NAN;
        let w = WalkAnimation {
            model,
            betas: &[],
            rotations: &rotations,
            translations: &translations,
            rate_hz: 100.0,
            name: "nan walk",
            gltf_from_lab: Matrix3::identity(),
            vertex_colours: None,
        };
        let e = glb_bytes(&w).unwrap_err().to_string();
        assert!(e.contains("nan walk") && e.contains("frame 1"), "{e}");
        let w = WalkAnimation {
            rotations: &[],
            translations: &[],
            ..w
        };
        assert!(glb_bytes(&w).unwrap_err().to_string().contains("no frames"));
    }

    #[test]
    fn a_z_up_lab_is_turned_to_y_up() {
        let m = gltf_from_lab(Vector3::z());
        assert!((m * Vector3::z() - Vector3::y()).norm() < 1e-12);
        let m = gltf_from_lab(-Vector3::y());
        assert!((m * -Vector3::y() - Vector3::y()).norm() < 1e-12);
    }
}
