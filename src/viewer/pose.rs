//! The body being shown: model, betas, the loaded sequence and the posed vertices of the current
//! frame (CPU skinning with `BodyModel::forward`, recomputed when the frame or the shape changes).

use std::sync::Arc;
use std::time::Instant;

use bevy::prelude::*;
use nalgebra::{Matrix3, Vector3};

use super::ViewerError;
use super::playback::Playback;
use crate::body::supr::ConstrainedParam;
use crate::body::{BodyModel, PosedBody, ShapedBody};

/// A sequence ready to play: per-frame joint rotations and root translations at `rate_hz`.
#[derive(Debug, Clone)]
pub struct ViewerSequence {
    /// Where it came from (file or folder name), shown in the Data panel.
    pub name: String,
    /// Shape coefficients stored with the sequence.
    pub betas: Vec<f64>,
    /// Per frame, one rotation matrix per joint (relative to the parent).
    pub rotations: Vec<Vec<Matrix3<f64>>>,
    /// Per frame, the root translation in metres.
    pub translations: Vec<Vector3<f64>>,
    /// Frame rate in Hz.
    pub rate_hz: f64,
    /// Rotation applied by [`Self::make_y_up`] (identity when the input was already y-up), so
    /// lab-frame data such as markers can be drawn in the same frame as the body.
    pub display_from_lab: Matrix3<f64>,
    /// Joints no marker measured when the sequence was fitted: the fitter held them at its
    /// neutral pose, so they are not data (listed in the panels and beside every verdict).
    pub unmeasured_joints: Vec<String>,
    /// How the walk's pelvis markers were fitted, when known (the viewer's own fit, or the
    /// pose folder's `fit_report.json`): a network trained on walks fitted otherwise warns.
    pub pelvis_markers: Option<crate::fit::PelvisMarkers>,
    /// Per frame, whether the fit saw every pelvis and leg marker (`None`: unknown); the Explain
    /// panel warns when the explained window holds frames that are the fitter's guess.
    pub legs_measured: Option<Vec<bool>>,
    /// Whether the pose folder's `fit_report.json` states the frame count it holds (a mixed or
    /// interrupted output is flagged when loaded); `NoReport` for walks not read from a folder.
    pub fit_report: crate::formats::pose_seq::FitReportCheck,
}

impl ViewerSequence {
    /// Records what the viewer's own fit of this walk says about it: the joints no marker
    /// measured, the frames whose legs were measured, and how the pelvis markers were fitted.
    pub fn record_fit(
        &mut self,
        fitted: &crate::fit::TrialFit,
        pelvis_markers: crate::fit::PelvisMarkers,
    ) {
        self.unmeasured_joints = fitted.unconstrained_joints.clone();
        let legs_measured = fitted
            .frames
            .iter()
            .map(crate::fit::FrameReport::legs_measured);
        self.legs_measured = Some(legs_measured.collect());
        self.pelvis_markers = Some(pelvis_markers);
    }

    /// The walk as the axis-angle pose sequence the analyses and the synthesis read (root first,
    /// frames numbered from 0), in the viewer's y-up frame. Via the quaternion, as
    /// `WalkPoses::to_poses`: no acos past ±1.
    pub fn to_pose_sequence(&self) -> crate::formats::pose_seq::PoseSequence {
        crate::formats::pose_seq::PoseSequence::from_rotations(
            &self.betas,
            &self.rotations,
            &self.translations,
            self.rate_hz,
            nalgebra::UnitQuaternion::from_matrix,
        )
    }

    /// Converts axis-angle poses (`3·J` values a frame) and translations (metres) for `model`;
    /// errors name `name` and the offending frame instead of panicking on bad input.
    pub fn from_axis_angle(
        model: &BodyModel,
        name: &str,
        betas: &[f64],
        poses: &[Vec<f64>],
        translations: &[[f64; 3]],
        rate_hz: f64,
    ) -> Result<Self, ViewerError> {
        Self::from_poses(model, name, betas, poses, translations, rate_hz, |p| {
            model
                .rotations_from_axis_angle(p)
                .map_err(|e| e.to_string())
        })
    }

    /// Converts poses with `to_rotations` (axis-angle, or SUPR's constrained reduced vectors) to
    /// per-joint rotations for `model`, checking frame counts, rates and finiteness.
    pub fn from_poses(
        model: &BodyModel,
        name: &str,
        betas: &[f64],
        poses: &[Vec<f64>],
        translations: &[[f64; 3]],
        rate_hz: f64,
        to_rotations: impl Fn(&[f64]) -> Result<Vec<Matrix3<f64>>, String>,
    ) -> Result<Self, ViewerError> {
        let bad = |what: String| ViewerError::BadSequence {
            name: name.to_string(),
            what,
        };
        if poses.is_empty() {
            return Err(bad("it has no frames".into()));
        }
        if !(rate_hz.is_finite() && rate_hz > 0.0) {
            return Err(bad(format!("frame rate {rate_hz} Hz is not positive")));
        }
        if translations.len() != poses.len() {
            return Err(bad(format!(
                "{} poses but {} translations",
                poses.len(),
                translations.len()
            )));
        }
        if let Some(b) = betas.iter().find(|b| !b.is_finite()) {
            return Err(bad(format!("beta {b} is not finite")));
        }
        let mut rotations = Vec::with_capacity(poses.len());
        for (i, (p, t)) in poses.iter().zip(translations).enumerate() {
            if p.iter().chain(t).any(|x| !x.is_finite()) {
                return Err(bad(format!("frame {i} holds a non-finite value")));
            }
            let r = to_rotations(p).map_err(|e| bad(format!("frame {i}: {e}")))?;
            if r.len() != model.num_joints() {
                return Err(bad(format!(
                    "frame {i}: {} joint rotations, the model '{}' has {} joints",
                    r.len(),
                    model.name,
                    model.num_joints()
                )));
            }
            rotations.push(r);
        }
        let mut seq = ViewerSequence {
            name: name.to_string(),
            betas: betas.to_vec(),
            rotations,
            translations: translations.iter().map(|t| Vector3::from(*t)).collect(),
            rate_hz,
            display_from_lab: Matrix3::identity(),
            unmeasured_joints: Vec::new(),
            pelvis_markers: None,
            legs_measured: None,
            fit_report: crate::formats::pose_seq::FitReportCheck::NoReport,
        };
        seq.make_y_up(model);
        Ok(seq)
    }

    /// Rotates the whole sequence so the body's up direction (pelvis → head in the first frame)
    /// is +y, the viewer's up: poses fitted in a z-up motion-capture lab then stand on the floor.
    pub fn make_y_up(&mut self, model: &BodyModel) {
        let (Some(r0), Some(t0)) = (self.rotations.first(), self.translations.first()) else {
            return;
        };
        let (Some(pelvis), Some(head)) = (
            model.joint_names.iter().position(|n| n == "pelvis"),
            model.joint_names.iter().position(|n| n == "head"),
        ) else {
            return;
        };
        let shaped = model.shape(&self.betas);
        let joints = model.forward_subset(&shaped, r0, *t0, &[]).joints;
        // Snap to the lab axis nearest the pelvis → head direction: the recording's vertical is
        // exact, a fitted trunk's lean is not.
        let d = joints[head] - joints[pelvis];
        let k = d.iamax();
        let mut up = Vector3::zeros();
        up[k] = d[k].signum();
        let Some(q) = nalgebra::Rotation3::rotation_between(&up, &Vector3::y()) else {
            return;
        };
        if up.y > 0.5 {
            return;
        }
        self.rotate_display(model, q.into_inner());
    }

    /// Rotates the whole sequence by `delta` about the world origin (root rotation and
    /// translation), recording it in [`Self::display_from_lab`].
    pub fn rotate_display(&mut self, model: &BodyModel, delta: Matrix3<f64>) {
        let shaped = model.shape(&self.betas);
        let j0 = shaped.joints_rest[0];
        for (r, t) in self.rotations.iter_mut().zip(self.translations.iter_mut()) {
            r[0] = delta * r[0];
            *t = delta * (j0 + *t) - j0;
        }
        self.display_from_lab = delta * self.display_from_lab;
    }

    /// Makes lab direction `up` (a unit vector) the viewer's +y, replacing whatever rotation was
    /// applied before: for trials whose lab vertical is known from the markers.
    pub fn set_lab_up(&mut self, model: &BodyModel, up: Vector3<f64>) {
        let target = nalgebra::Rotation3::rotation_between(&up, &Vector3::y())
            .map(|r| r.into_inner())
            .unwrap_or_else(|| {
                // up = −y: half a turn about x.
                nalgebra::Rotation3::from_axis_angle(&Vector3::x_axis(), std::f64::consts::PI)
                    .into_inner()
            });
        let delta = target * self.display_from_lab.transpose();
        self.rotate_display(model, delta);
    }

    /// Number of frames.
    pub fn num_frames(&self) -> usize {
        self.rotations.len()
    }
}

/// The model and shape being shown.
#[derive(Resource, Clone)]
pub struct BodyState {
    /// The body model (the embedded default or a SUPR file).
    pub model: Arc<BodyModel>,
    /// Shape coefficients edited in the Body panel.
    pub betas: Vec<f64>,
    /// SUPR's constrained pose parametrisation, when the model file has one (`axis_meta`).
    pub constrained: Option<Arc<ConstrainedParam>>,
    /// Read pose files as constrained reduced vectors (the original viewer's default for
    /// constrained models; its `--unconstrained` flag turns it off).
    pub use_constrained: bool,
    shaped: ShapedBody,
    shaped_betas: Vec<f64>,
}

impl BodyState {
    /// A body with the given betas (missing ones are 0).
    pub fn new(model: Arc<BodyModel>, betas: &[f64]) -> Self {
        let mut b = betas.to_vec();
        b.resize(model.num_betas, 0.0);
        let shaped = model.shape(&b);
        BodyState {
            model,
            shaped_betas: b.clone(),
            betas: b,
            constrained: None,
            use_constrained: false,
            shaped,
        }
    }

    /// Attaches a constrained parametrisation and turns constrained reading on, as the
    /// original viewer does unless started with `--unconstrained`.
    pub fn with_constrained(mut self, constrained: Option<ConstrainedParam>) -> Self {
        self.use_constrained = constrained.is_some();
        self.constrained = constrained.map(Arc::new);
        self
    }

    /// The parametrisation pose files are read with (`None`: axis-angle).
    pub fn pose_space(&self) -> Option<&ConstrainedParam> {
        self.constrained.as_deref().filter(|_| self.use_constrained)
    }

    /// The shaped rest body for the current betas (reshaped lazily when betas changed).
    pub fn shaped(&mut self) -> &ShapedBody {
        if self.shaped_betas != self.betas {
            self.shaped = self.model.shape(&self.betas);
            self.shaped_betas.clone_from(&self.betas);
        }
        &self.shaped
    }

    /// Sets betas from a sequence (resized to the model's count).
    pub fn set_betas(&mut self, betas: &[f64]) {
        let mut b = betas.to_vec();
        b.resize(self.model.num_betas, 0.0);
        self.betas = b;
    }
}

/// The loaded sequence, if any; `generation` increases on every load.
#[derive(Resource, Default, Clone)]
pub struct CurrentSequence {
    /// The sequence (None shows the rest pose).
    pub sequence: Option<Arc<ViewerSequence>>,
    /// Incremented on every (re)load so dependants can refresh.
    pub generation: u64,
}

impl CurrentSequence {
    /// Replaces the sequence.
    pub fn set(&mut self, seq: Option<Arc<ViewerSequence>>) {
        self.sequence = seq;
        self.generation += 1;
    }
}

/// The posed body of the frame on screen.
#[derive(Resource, Default, Clone)]
pub struct PosedFrame {
    /// Posed vertices (metres, world).
    pub vertices: Vec<[f32; 3]>,
    /// Smooth (area-weighted) vertex normals.
    pub normals: Vec<[f32; 3]>,
    /// Posed joint positions (metres, world).
    pub joints: Vec<[f32; 3]>,
    /// Frame index of the sequence (None for the rest pose).
    pub frame: Option<usize>,
    /// Wall time of the last forward pass (skinning + normals) in milliseconds.
    pub skin_ms: f64,
    key: Option<PoseKey>,
}

#[derive(Clone, PartialEq)]
struct PoseKey {
    frame: Option<usize>,
    generation: u64,
    betas: Vec<f64>,
}

impl PosedFrame {
    /// Axis-aligned bounds of the posed vertices, if any.
    pub fn bounds(&self) -> Option<(Vec3, Vec3)> {
        let first = Vec3::from(*self.vertices.first()?);
        Some(self.vertices.iter().fold((first, first), |(lo, hi), v| {
            let v = Vec3::from(*v);
            (lo.min(v), hi.max(v))
        }))
    }

    /// Position of the root joint (pelvis), if posed.
    pub fn pelvis(&self) -> Option<Vec3> {
        self.joints.first().map(|j| Vec3::from(*j))
    }
}

/// Poses the body for `frame` of `seq` (rest pose when `seq` is None or has no such frame);
/// also returns the frame actually shown.
pub fn pose_body(
    body: &mut BodyState,
    seq: Option<&ViewerSequence>,
    frame: usize,
) -> (PosedBody, Option<usize>) {
    let model = body.model.clone();
    let shaped = body.shaped();
    match seq.filter(|s| frame < s.num_frames()) {
        Some(s) => (
            model.forward(shaped, &s.rotations[frame], s.translations[frame]),
            Some(frame),
        ),
        None => {
            let rest = vec![Matrix3::identity(); model.num_joints()];
            (model.forward(shaped, &rest, Vector3::zeros()), None)
        }
    }
}

/// System set of the pose update (camera and mesh upload run after it).
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub struct PoseSystems;

/// A new walk or clip replaced what the viewer shows (written by the plugin that loaded it), so
/// the plugins holding state about the old one drop it.
#[derive(Message, Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceShown(pub crate::formats::SourceKind);

/// Loading, in order: requests are dispatched by kind (dialogs, drops, typed paths), then the
/// plugin owning that kind loads it; both before playback advances.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LoadSystems {
    /// Requests turned into one request per kind of source.
    Dispatch,
    /// The owning plugins load (fits, clips, bodies, networks).
    Load,
}

/// Keeps [`PosedFrame`] in sync with the playback frame, the sequence and the betas.
pub struct PosePlugin;

impl Plugin for PosePlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<CurrentSequence>()
            .init_resource::<PosedFrame>()
            .add_message::<SourceShown>()
            .configure_sets(
                Update,
                (LoadSystems::Dispatch, LoadSystems::Load)
                    .chain()
                    .before(super::playback::PlaybackSystems),
            )
            .add_systems(
                Update,
                update_posed_body
                    .in_set(PoseSystems)
                    .after(super::playback::PlaybackSystems),
            );
    }
}

/// Recomputes the posed body when the frame, sequence or betas changed.
///
/// The CPU cost of this forward pass (skinning + smooth normals, one thread) is stored in
/// `PosedFrame::skin_ms`: 0.33 ms for a 12.8k-vertex body on the CI container (see `viewer`).
fn update_posed_body(
    playback: Res<Playback>,
    seq: Res<CurrentSequence>,
    body: Option<ResMut<BodyState>>,
    mut posed: ResMut<PosedFrame>,
) {
    let Some(mut body) = body else { return };
    let frame = seq.sequence.as_ref().map(|_| playback.frame());
    let key = PoseKey {
        frame,
        generation: seq.generation,
        betas: body.betas.clone(),
    };
    if posed.key.as_ref() == Some(&key) {
        return;
    }
    let start = Instant::now();
    let (p, f) = pose_body(&mut body, seq.sequence.as_deref(), frame.unwrap_or(0));
    let skin_ms = start.elapsed().as_secs_f64() * 1e3;
    *posed = PosedFrame {
        vertices: p.vertices,
        normals: p.normals,
        joints: p
            .joints
            .iter()
            .map(|j| [j.x as f32, j.y as f32, j.z as f32])
            .collect(),
        frame: f,
        skin_ms,
        key: Some(key),
    };
}
