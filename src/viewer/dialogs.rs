//! Opening sequences: the native folder dialog (rfd, in a background task so the window keeps
//! drawing), files or folders dropped onto the window, and a typed path as a fallback. Every
//! route ends in a [`LoadSequenceRequest`]; failures go to the status line, never a panic.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bevy::prelude::*;
use bevy::window::FileDragAndDrop;

use super::ViewerError;
use super::camera::FlyCamera;
use super::keypoints::{KeypointsPlugin, LoadClipsRequest};
use super::native_dialog::NativeDialog;
use super::playback::Playback;
use super::pose::{BodyState, CurrentSequence, LoadSystems, SourceShown, ViewerSequence};
pub use super::status::StatusLine;
use super::trial::{FitTrialRequest, TrialFitsPlugin};
use crate::body::BodyModel;
use crate::body::supr::ConstrainedParam;
use crate::formats::SourceKind;
use crate::formats::pose_seq::{PoseSidecars, read_pose_folder};

/// Frame rate assumed for pose folders, which do not store one (the gait labs' 100 Hz).
pub const DEFAULT_RATE_HZ: f64 = 100.0;

/// Asks the viewer to load the pose folder (or the folder of the pose file) at this path.
#[derive(Message, Debug, Clone)]
pub struct LoadSequenceRequest(pub PathBuf);

/// Asks the viewer to show another body model: a SUPR `.npy`/`.npz` file, or `None` for the
/// embedded default body. The current sequence is cleared (its poses belong to the old skeleton).
#[derive(Message, Debug, Clone)]
pub struct LoadBodyRequest(pub Option<PathBuf>);

/// The pending native dialog for data (pose folder, trial, body model), if one is open.
#[derive(Resource, Default)]
pub struct PendingDialog(Option<NativeDialog>);

impl PendingDialog {
    /// Whether a dialog is currently open.
    pub fn is_open(&self) -> bool {
        self.0.is_some()
    }
}

/// Frame rate used when a loaded sequence does not state one.
#[derive(Resource, Debug, Clone, Copy)]
pub struct FallbackRate(pub f64);

impl Default for FallbackRate {
    fn default() -> Self {
        FallbackRate(DEFAULT_RATE_HZ)
    }
}

/// Reads a pose folder (a `pose_NNNNN.json`/`.txt` file selects its folder) for `model`.
///
/// Pose vectors longer than the model's `3·J` (e.g. SMPL's 24 or SUPR's 75 joints shown on the
/// 22-joint default body) keep their first `J` joints, which share SMPL's body-joint order.
pub fn load_sequence(
    path: &Path,
    model: &BodyModel,
    fallback_rate_hz: f64,
) -> Result<ViewerSequence, ViewerError> {
    load_sequence_in(path, model, None, fallback_rate_hz)
}

/// [`load_sequence`] reading each frame's pose in `pose_space`: SUPR's constrained reduced
/// vector (`num_pose` values, as written by the original's constrained fitting) when given,
/// axis-angle otherwise.
pub fn load_sequence_in(
    path: &Path,
    model: &BodyModel,
    pose_space: Option<&ConstrainedParam>,
    fallback_rate_hz: f64,
) -> Result<ViewerSequence, ViewerError> {
    let dir = if path.is_file() {
        path.parent().unwrap_or(Path::new(".")).to_path_buf()
    } else {
        path.to_path_buf()
    };
    let (seq, sidecars) = read_pose_folder(&dir).map_err(|e| ViewerError::Load {
        path: dir.clone(),
        source: Box::new(e),
    })?;
    let bad = |what: String| ViewerError::BadSequence {
        name: dir.display().to_string(),
        what,
    };
    let name = dir
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| dir.display().to_string());
    let rate_hz = seq.rate_hz.unwrap_or(fallback_rate_hz);
    if let Some(param) = pose_space {
        let k = param.num_pose();
        if let Some((i, p)) = seq.poses.iter().enumerate().find(|(_, p)| p.len() != k) {
            return Err(bad(format!(
                "frame {i} has {} pose values; the constrained model '{}' reads {k} \
                 (untick 'constrained pose space' for axis-angle files)",
                p.len(),
                model.name
            )));
        }
        return ViewerSequence::from_poses(
            model,
            &name,
            &seq.mean_betas(),
            &seq.poses,
            &seq.translations,
            rate_hz,
            |p| param.rotations(p).map_err(|e| e.to_string()),
        )
        .map(|s| with_fit_setting(s, &sidecars, &seq.frame_numbers));
    }
    let n = 3 * model.num_joints();
    let mut poses = Vec::with_capacity(seq.num_frames());
    for (i, p) in seq.poses.iter().enumerate() {
        if p.len() < n {
            return Err(bad(format!(
                "frame {i} has {} pose values, the model '{}' needs {n}",
                p.len(),
                model.name
            )));
        }
        poses.push(p[..n].to_vec());
    }
    ViewerSequence::from_axis_angle(
        model,
        &name,
        &seq.mean_betas(),
        &poses,
        &seq.translations,
        rate_hz,
    )
    .map(|s| with_fit_setting(s, &sidecars, &seq.frame_numbers))
}

/// `seq` with what its pose folder's side files record: the pelvis-marker setting, the frames
/// whose legs were measured (`frame_numbers`: the poses' own) and whether the folder is complete.
fn with_fit_setting(
    mut seq: ViewerSequence,
    sidecars: &PoseSidecars,
    frame_numbers: &[u64],
) -> ViewerSequence {
    seq.pelvis_markers = crate::fit::PelvisMarkers::recorded_in(sidecars);
    seq.legs_measured = sidecars.legs_measured(frame_numbers);
    seq.fit_report = sidecars.fit_report_check(frame_numbers.len());
    seq
}

/// The pose folder shown last, reloaded when the pose space (constrained or not) changes.
#[derive(Resource, Default)]
pub struct LastPoseFolder(pub Option<PathBuf>);

/// Handles load requests, the native dialog and dropped files.
pub struct DialogsPlugin;

impl Plugin for DialogsPlugin {
    fn build(&self, app: &mut App) {
        app.add_message::<LoadSequenceRequest>()
            .add_message::<LoadBodyRequest>()
            .add_message::<super::network::LoadNetworkRequest>()
            // Registered by WindowPlugin in the viewer; added here too so the plugin also runs
            // headless (tests with MinimalPlugins). Registering twice is a no-op.
            .add_message::<FileDragAndDrop>()
            .init_resource::<StatusLine>()
            .init_resource::<PendingDialog>()
            .init_resource::<FallbackRate>()
            .init_resource::<LastPoseFolder>()
            .add_systems(
                Update,
                (
                    poll_dialog,
                    dropped_files,
                    reload_on_pose_space_change,
                    handle_load_requests,
                    handle_body_requests,
                )
                    .chain()
                    .in_set(LoadSystems::Dispatch),
            );
        // Marker trials and OpenPose clips are loaded by the plugins that own them.
        if !app.is_plugin_added::<TrialFitsPlugin>() {
            app.add_plugins(TrialFitsPlugin);
        }
        if !app.is_plugin_added::<KeypointsPlugin>() {
            app.add_plugins(KeypointsPlugin);
        }
    }
}

/// Opens a data picker unless one is already open.
fn spawn_dialog(
    pending: &mut PendingDialog,
    what: &'static str,
    title: &'static str,
    filter: Option<(&'static str, &'static [&'static str])>,
) {
    if !pending.is_open() {
        pending.0 = Some(NativeDialog::spawn(what, title, filter));
    }
}

/// Opens the native folder picker (pose folder or OpenPose clip folder).
pub fn open_folder_dialog(pending: &mut PendingDialog) {
    spawn_dialog(
        pending,
        "folder",
        "Open a pose folder (pose_NNNNN.json) or an OpenPose clip folder",
        None,
    );
}

/// Opens the native file picker for a SUPR body model (`.npy`/`.npz`).
pub fn open_body_dialog(pending: &mut PendingDialog) {
    spawn_dialog(
        pending,
        "body model",
        "Open a SUPR body model",
        Some(("SUPR model", &["npy", "npz"])),
    );
}

/// Opens the native file picker for a C3D, TRC or gaitkit landmark marker trial (fitted in the
/// background).
pub fn open_trial_dialog(pending: &mut PendingDialog) {
    spawn_dialog(
        pending,
        "marker trial",
        "Open a marker trial (C3D, TRC or gaitkit landmark JSON) to fit",
        Some((
            "marker trials",
            &["c3d", "C3D", "trc", "TRC", "json", "JSON"],
        )),
    );
}

fn poll_dialog(
    mut pending: ResMut<PendingDialog>,
    mut requests: MessageWriter<LoadSequenceRequest>,
    mut status: ResMut<StatusLine>,
) {
    let Some(dialog) = pending.0.as_mut() else {
        return;
    };
    if let Some(result) = dialog.poll() {
        pending.0 = None;
        match result {
            Ok(path) => {
                requests.write(LoadSequenceRequest(path));
            }
            Err(message) => status.info = Some(message),
        }
    }
}

fn dropped_files(
    mut drops: MessageReader<FileDragAndDrop>,
    mut requests: MessageWriter<LoadSequenceRequest>,
    mut networks: MessageWriter<super::network::LoadNetworkRequest>,
) {
    // A multi-file drop arrives as one message per file; load once, the last one.
    let last = drops
        .read()
        .filter_map(|d| match d {
            FileDragAndDrop::DroppedFile { path_buf, .. } => Some(path_buf.clone()),
            _ => None,
        })
        .last();
    if let Some(p) = last {
        if SourceKind::classify(&p) == SourceKind::NetworkCheckpoint {
            networks.write(super::network::LoadNetworkRequest(Some(p)));
        } else {
            requests.write(LoadSequenceRequest(p));
        }
    }
}

/// The requests a load request is dispatched into, one per owning plugin.
#[derive(bevy::ecs::system::SystemParam)]
struct LoadRequestWriters<'w> {
    /// To the body loader.
    bodies: MessageWriter<'w, LoadBodyRequest>,
    /// To [`KeypointsPlugin`].
    clips: MessageWriter<'w, LoadClipsRequest>,
    /// To [`TrialFitsPlugin`].
    fits: MessageWriter<'w, FitTrialRequest>,
    /// To every plugin holding state about the walk shown before.
    shown: MessageWriter<'w, SourceShown>,
}

/// Loads requested pose folders (and passes bodies, clips and trials to their plugins); on
/// success resets playback and frames the body, on failure keeps the current sequence and
/// reports the error.
#[allow(clippy::too_many_arguments)]
fn handle_load_requests(
    mut requests: MessageReader<LoadSequenceRequest>,
    body: Option<ResMut<BodyState>>,
    rate: Res<FallbackRate>,
    mut seq: ResMut<CurrentSequence>,
    mut playback: ResMut<Playback>,
    mut status: ResMut<StatusLine>,
    cam: Option<ResMut<FlyCamera>>,
    mut last_folder: ResMut<LastPoseFolder>,
    mut requests_out: LoadRequestWriters,
) {
    let Some(req) = requests.read().last().cloned() else {
        return;
    };
    let Some(mut body) = body else { return };
    let kind = SourceKind::classify(&req.0);
    match kind {
        SourceKind::BodyModel => {
            requests_out
                .bodies
                .write(LoadBodyRequest(Some(req.0.clone())));
            return;
        }
        // Only a pose folder is reloaded by the pose-space toggle; these replace it.
        SourceKind::OpenPose => {
            last_folder.0 = None;
            requests_out.clips.write(LoadClipsRequest(req.0.clone()));
            return;
        }
        SourceKind::MarkerTrial => {
            last_folder.0 = None;
            requests_out.fits.write(FitTrialRequest(req.0.clone()));
            return;
        }
        _ => {}
    }
    match load_sequence_in(&req.0, &body.model, body.pose_space(), rate.0) {
        Ok(s) => {
            last_folder.0 = Some(req.0.clone());
            requests_out
                .shown
                .write(SourceShown(SourceKind::PoseFolder));
            // A folder whose report states another frame count is flagged (shown, in red).
            status.error = s
                .fit_report
                .incomplete()
                .then(|| format!("{}: {}", req.0.display(), s.fit_report));
            status.info = Some(format!(
                "loaded {} ({} frames at {} Hz)",
                s.name,
                s.num_frames(),
                s.rate_hz
            ));
            body.set_betas(&s.betas);
            *playback = Playback::new(s.num_frames(), s.rate_hz);
            seq.set(Some(Arc::new(s)));
            if let Some(mut cam) = cam {
                cam.frame_and_follow();
            }
        }
        Err(e) => {
            status.error = Some(e.to_string());
        }
    }
}

/// Reloads the last pose folder when the Body panel switches the same model between
/// constrained and axis-angle reading.
fn reload_on_pose_space_change(
    body: Option<Res<BodyState>>,
    last: Res<LastPoseFolder>,
    mut previous: Local<Option<(usize, bool)>>,
    mut requests: MessageWriter<LoadSequenceRequest>,
) {
    let Some(body) = body else { return };
    let key = (Arc::as_ptr(&body.model) as usize, body.use_constrained);
    if let Some((model, constrained)) = *previous
        && model == key.0
        && constrained != key.1
        && let Some(path) = &last.0
    {
        requests.write(LoadSequenceRequest(path.clone()));
    }
    *previous = Some(key);
}

/// Swaps the body model; the sequence, marker overlay and explanation of the old one go.
#[allow(clippy::too_many_arguments)]
fn handle_body_requests(
    mut requests: MessageReader<LoadBodyRequest>,
    body: Option<ResMut<BodyState>>,
    mut seq: ResMut<CurrentSequence>,
    mut playback: ResMut<Playback>,
    mut status: ResMut<StatusLine>,
    mut overlay: ResMut<super::trial::MarkerOverlay>,
    importance: Option<ResMut<super::colouring::Importance>>,
    cam: Option<ResMut<FlyCamera>>,
    mut last_folder: ResMut<LastPoseFolder>,
) {
    let Some(req) = requests.read().last().cloned() else {
        return;
    };
    let Some(mut body) = body else { return };
    last_folder.0 = None;
    let mut note = String::new();
    let (model, constrained) = match &req.0 {
        None => (
            Arc::new(crate::body::default_model::default_body().clone()),
            None,
        ),
        Some(path) => match crate::body::supr::load_supr(path) {
            Ok(supr) => {
                if let Some(c) = &supr.constrained {
                    note = format!(
                        "; constrained: pose files are read as {} reduced values a frame \
                         (untick in the Body panel for axis-angle files)",
                        c.num_pose()
                    );
                }
                (Arc::new(supr.model), supr.constrained)
            }
            Err(e) => {
                status.error = Some(e.to_string());
                return;
            }
        },
    };
    let info = format!(
        "body model {}: {} vertices, {} joints{note}",
        model.name,
        model.num_vertices(),
        model.num_joints()
    );
    *body = BodyState::new(model, &[]).with_constrained(constrained);
    seq.set(None);
    *playback = Playback::default();
    *overlay = Default::default();
    if let Some(mut imp) = importance {
        imp.shown = None;
    }
    if let Some(mut cam) = cam {
        cam.frame_requested = true;
    }
    status.error = None;
    status.info = Some(info);
}
