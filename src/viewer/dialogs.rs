//! Opening sequences: the native folder dialog (rfd, in a background task so the window keeps
//! drawing), files or folders dropped onto the window, and a typed path as a fallback. Every
//! route ends in a [`LoadSequenceRequest`]; failures go to the status line, never a panic.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bevy::prelude::*;
use bevy::tasks::{AsyncComputeTaskPool, Task, block_on, poll_once};
use bevy::window::FileDragAndDrop;

use super::ViewerError;
use super::camera::FlyCamera;
use super::playback::Playback;
use super::pose::{BodyState, CurrentSequence, ViewerSequence};
use crate::body::BodyModel;
use crate::formats::pose_seq::read_pose_dir;

/// Frame rate assumed for pose folders, which do not store one (the gait labs' 100 Hz).
pub const DEFAULT_RATE_HZ: f64 = 100.0;

/// Asks the viewer to load the pose folder (or the folder of the pose file) at this path.
#[derive(Message, Debug, Clone)]
pub struct LoadSequenceRequest(pub PathBuf);

/// The last load's outcome, shown in the panels' status line.
#[derive(Resource, Debug, Clone, Default)]
pub struct StatusLine {
    /// Last error, if the last action failed.
    pub error: Option<String>,
    /// Last informational message.
    pub info: Option<String>,
}

/// The pending native dialog, if one is open.
#[derive(Resource, Default)]
pub struct PendingDialog(Option<Task<Option<PathBuf>>>);

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
    let dir = if path.is_file() {
        path.parent().unwrap_or(Path::new(".")).to_path_buf()
    } else {
        path.to_path_buf()
    };
    let seq = read_pose_dir(&dir).map_err(|e| ViewerError::Load {
        path: dir.clone(),
        source: Box::new(e),
    })?;
    let n = 3 * model.num_joints();
    let bad = |what: String| ViewerError::BadSequence {
        name: dir.display().to_string(),
        what,
    };
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
    let name = dir
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| dir.display().to_string());
    ViewerSequence::from_axis_angle(
        model,
        &name,
        &seq.mean_betas(),
        &poses,
        &seq.translations,
        seq.rate_hz.unwrap_or(fallback_rate_hz),
    )
}

/// Handles load requests, the native dialog and dropped files.
pub struct DialogsPlugin;

impl Plugin for DialogsPlugin {
    fn build(&self, app: &mut App) {
        app.add_message::<LoadSequenceRequest>()
            // Registered by WindowPlugin in the viewer; added here too so the plugin also runs
            // headless (tests with MinimalPlugins). Registering twice is a no-op.
            .add_message::<FileDragAndDrop>()
            .init_resource::<StatusLine>()
            .init_resource::<PendingDialog>()
            .init_resource::<FallbackRate>()
            .add_systems(
                Update,
                (poll_dialog, dropped_files, handle_load_requests)
                    .chain()
                    .before(super::playback::PlaybackSystems),
            );
    }
}

/// Opens the native folder picker in a background task (no-op if one is already open).
pub fn open_folder_dialog(pending: &mut PendingDialog) {
    if pending.is_open() {
        return;
    }
    let task = AsyncComputeTaskPool::get().spawn(async {
        rfd::AsyncFileDialog::new()
            .set_title("Open a pose folder (pose_NNNNN.json)")
            .pick_folder()
            .await
            .map(|h| h.path().to_path_buf())
    });
    pending.0 = Some(task);
}

fn poll_dialog(
    mut pending: ResMut<PendingDialog>,
    mut requests: MessageWriter<LoadSequenceRequest>,
    mut status: ResMut<StatusLine>,
) {
    let Some(task) = pending.0.as_mut() else {
        return;
    };
    if let Some(result) = block_on(poll_once(task)) {
        pending.0 = None;
        match result {
            Some(path) => {
                requests.write(LoadSequenceRequest(path));
            }
            None => {
                // rfd returns None both on cancel and when no desktop portal answers.
                status.info = Some(
                    "no folder chosen (if no dialog appeared, the desktop file portal is \
                     missing: type the path or drop the folder instead)"
                        .into(),
                );
            }
        }
    }
}

fn dropped_files(
    mut drops: MessageReader<FileDragAndDrop>,
    mut requests: MessageWriter<LoadSequenceRequest>,
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
        requests.write(LoadSequenceRequest(p));
    }
}

/// Loads requested sequences; on success resets playback and frames the body, on failure keeps
/// the current sequence and reports the error.
#[allow(clippy::too_many_arguments)]
fn handle_load_requests(
    mut requests: MessageReader<LoadSequenceRequest>,
    body: Option<ResMut<BodyState>>,
    rate: Res<FallbackRate>,
    mut seq: ResMut<CurrentSequence>,
    mut playback: ResMut<Playback>,
    mut status: ResMut<StatusLine>,
    cam: Option<ResMut<FlyCamera>>,
) {
    let Some(req) = requests.read().last().cloned() else {
        return;
    };
    let Some(mut body) = body else { return };
    match load_sequence(&req.0, &body.model, rate.0) {
        Ok(s) => {
            status.error = None;
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
                cam.frame_requested = true;
            }
        }
        Err(e) => {
            status.error = Some(e.to_string());
        }
    }
}
