//! Motion-capture trials in the viewer: a C3D or TRC file is read and fitted with the embedded
//! body's Plug-in Gait markers on a background thread (the UI keeps running; the Data panel shows
//! a progress bar), then played like any pose sequence, with the markers drawn over the body:
//! measured markers as spheres, the model's markers as small spheres, and a residual line between
//! them coloured by its length. Gaps (a marker missing in a frame) show the model marker in grey.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Instant;

use bevy::prelude::*;
use nalgebra::Vector3;

use super::ViewerError;
use super::playback::Playback;
use super::pose::{BodyState, CurrentSequence, LoadSystems, SourceShown, ViewerSequence};
use super::status::StatusLine;
use crate::body::BodyModel;
use crate::fit::{self, FitConfig, PelvisMarkers};
use crate::formats::read_marker_trial;

/// Measured and model markers of a fitted trial, per frame, in the viewer's (y-up) frame.
#[derive(Resource, Debug, Clone, Default)]
pub struct MarkerOverlay {
    /// Marker labels, in the order of the per-frame arrays.
    pub labels: Vec<String>,
    /// Measured positions (metres), `None` where the marker is missing in that frame.
    pub measured_m: Vec<Vec<Option<[f32; 3]>>>,
    /// The fitted body's marker positions (metres).
    pub model_m: Vec<Vec<[f32; 3]>>,
    /// Draw the overlay.
    pub visible: bool,
}

impl MarkerOverlay {
    /// Marker residuals of `frame` in metres (`None` for missing markers or frames).
    pub fn residuals_m(&self, frame: usize) -> Vec<Option<f32>> {
        match (self.measured_m.get(frame), self.model_m.get(frame)) {
            (Some(meas), Some(model)) => meas
                .iter()
                .zip(model)
                .map(|(m, p)| m.map(|m| Vec3::from(m).distance(Vec3::from(*p))))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Whether the overlay holds any frame.
    pub fn is_empty(&self) -> bool {
        self.model_m.is_empty()
    }
}

/// Colour of a residual line: green up to 10 mm, through yellow (20 mm) to red at 40 mm and more.
pub fn residual_colour(error_m: f32) -> Color {
    let mm = error_m * 1e3;
    let (r, g) = if mm <= 10.0 {
        (0.1, 0.85)
    } else if mm <= 20.0 {
        let t = (mm - 10.0) / 10.0;
        (0.1 + 0.85 * t, 0.85)
    } else {
        let t = ((mm - 20.0) / 20.0).min(1.0);
        (0.95, 0.85 * (1.0 - t) + 0.1 * t)
    };
    Color::srgb(r, g, 0.1)
}

/// A fitted trial ready for the viewer.
#[derive(Debug, Clone)]
pub struct FittedTrial {
    /// The poses to play.
    pub sequence: ViewerSequence,
    /// Markers to draw over the body.
    pub overlay: MarkerOverlay,
    /// Median marker RMSE over fitted frames, metres.
    pub median_rmse_m: f64,
    /// Model markers the trial lacks.
    pub unmatched: Vec<String>,
    /// Joints no marker measures, held at the neutral pose by the fitter's prior.
    pub unconstrained_joints: Vec<String>,
    /// The fitter's warnings (labelled but empty markers, calibration fallbacks).
    pub warnings: Vec<String>,
    /// How the pelvis markers moved in this fit.
    pub pelvis_markers: PelvisMarkers,
}

/// Reads `path` and fits `model` to it (the embedded body and its Plug-in Gait marker set, the
/// pelvis markers moving as `pelvis_markers` says); `progress(done, total)` is called after every
/// frame.
pub fn fit_marker_file(
    path: &Path,
    model: &BodyModel,
    pelvis_markers: PelvisMarkers,
    progress: impl FnMut(usize, usize),
) -> Result<FittedTrial, ViewerError> {
    let default = crate::body::default_model::default_body();
    if model.num_vertices() != default.num_vertices() || model.faces != default.faces {
        return Err(ViewerError::BadSequence {
            name: path.display().to_string(),
            what: format!(
                "the viewer fits trials with the embedded body's Plug-in Gait markers, but the \
                 body shown is '{}'; fit other models with `gaitlens fit --model M --constraints C` \
                 and open the pose folder",
                model.name
            ),
        });
    }
    let set = crate::body::default_model::fitting_markers();
    let trial = read_marker_trial(path).map_err(|e| ViewerError::Load {
        path: path.to_path_buf(),
        source: Box::new(e),
    })?;
    let name = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    let limits = fit::default_limits(model);
    let (fitted, _) = fit::fit_trial(
        model,
        set,
        &trial,
        None,
        &limits,
        &FitConfig {
            pelvis_markers,
            ..FitConfig::default()
        },
        &name,
        progress,
    )
    .map_err(|e| ViewerError::Load {
        path: path.to_path_buf(),
        source: Box::new(e),
    })?;
    let betas = &fitted.calibration.betas;
    let poses: Vec<Vec<f64>> = fitted.poses.iter().map(|p| p.axis_angle()).collect();
    let translations: Vec<[f64; 3]> = fitted
        .poses
        .iter()
        .map(|p| [p.translation.x, p.translation.y, p.translation.z])
        .collect();
    let mut sequence =
        ViewerSequence::from_axis_angle(model, &name, betas, &poses, &translations, trial.rate_hz)?;
    // The lab's vertical the fitter estimated from the markers: robust where the fitted trunk
    // is not (trials without upper-body markers leave the trunk's pitch weakly constrained).
    if let Some(up) = fitted.lab_up {
        sequence.set_lab_up(model, up);
    }
    sequence.record_fit(&fitted, pelvis_markers);

    // Model markers per frame with the calibrated shape and offsets; measured ones from the file.
    // The markers the fit used (labelled-but-empty ones were dropped), in the fit's order.
    let (matched, matched_cols, unmatched) = fit::match_markers(set, &trial);
    let mut used = crate::body::MarkerSet::default();
    let mut cols = Vec::new();
    for (m, c) in matched.markers.into_iter().zip(matched_cols) {
        if fitted.marker_labels.contains(&m.name) {
            used.markers.push(m);
            cols.push(c);
        }
    }
    pelvis_markers.apply(model, &mut used);
    let markers =
        fit::calibrate::skinned_markers(model, betas, &used, &fitted.calibration.offsets_m);
    let shaped = model.shape(betas);
    let q = sequence.display_from_lab;
    let to_display = |p: Vector3<f64>| {
        let d = q * p;
        [d.x as f32, d.y as f32, d.z as f32]
    };
    let model_m = fitted
        .poses
        .iter()
        .map(|pose| {
            let t = model.joint_transforms(&shaped.joints_rest, &pose.rotations, pose.translation);
            markers
                .iter()
                .map(|m| to_display(m.posed(&t.world_from_rest)))
                .collect()
        })
        .collect();
    let measured_m = (0..trial.num_frames())
        .map(|f| {
            fit::observed(&trial, f, &cols)
                .into_iter()
                .map(|o| o.map(to_display))
                .collect()
        })
        .collect();
    let mut rmse = fitted.rmses_m();
    rmse.sort_by(f64::total_cmp);
    let median_rmse_m = rmse.get(rmse.len() / 2).copied().unwrap_or(f64::NAN);
    Ok(FittedTrial {
        sequence,
        overlay: MarkerOverlay {
            labels: used.markers.iter().map(|m| m.name.clone()).collect(),
            measured_m,
            model_m,
            visible: true,
        },
        median_rmse_m,
        unmatched,
        unconstrained_joints: fitted.unconstrained_joints,
        warnings: fitted.warnings,
        pelvis_markers,
    })
}

/// A fit running on a background thread.
pub struct FitJob {
    /// The trial file.
    pub path: PathBuf,
    /// Frames fitted so far.
    pub done: Arc<AtomicUsize>,
    /// Frames in the trial (0 until known).
    pub total: Arc<AtomicUsize>,
    /// When it started.
    pub started: Instant,
    handle: Option<JoinHandle<Result<FittedTrial, ViewerError>>>,
}

impl FitJob {
    /// Fraction done in [0, 1].
    pub fn fraction(&self) -> f32 {
        let total = self.total.load(Ordering::Relaxed);
        if total == 0 {
            0.0
        } else {
            self.done.load(Ordering::Relaxed) as f32 / total as f32
        }
    }
}

/// The background fit, if one runs (the Data panel draws its progress), and the setting the next
/// fit uses.
#[derive(Resource, Default)]
pub struct TrialFitState {
    /// The running job.
    pub job: Option<FitJob>,
    /// How the pelvis markers move in the next fit (the Data panel's "rigid pelvis" box).
    pub pelvis_markers: PelvisMarkers,
}

impl TrialFitState {
    /// Starts fitting `path` on a background thread (replacing any running job's result).
    pub fn start(&mut self, path: PathBuf, model: Arc<BodyModel>) {
        let done = Arc::new(AtomicUsize::new(0));
        let total = Arc::new(AtomicUsize::new(0));
        let (d, t, p) = (done.clone(), total.clone(), path.clone());
        let pelvis_markers = self.pelvis_markers;
        let handle = std::thread::Builder::new()
            .name("gaitlens-fit".into())
            .spawn(move || {
                fit_marker_file(&p, &model, pelvis_markers, |i, n| {
                    t.store(n, Ordering::Relaxed);
                    d.store(i, Ordering::Relaxed);
                })
            })
            .ok();
        self.job = Some(FitJob {
            path,
            done,
            total,
            started: Instant::now(),
            handle,
        });
    }
}

/// Asks for a marker trial (`.c3d`, `.trc`) to be fitted in the background and shown.
#[derive(Message, Debug, Clone)]
pub struct FitTrialRequest(pub PathBuf);

/// Background fits of marker trials and their marker overlay (headless: no drawing).
pub struct TrialFitsPlugin;

impl Plugin for TrialFitsPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<TrialFitState>()
            .init_resource::<MarkerOverlay>()
            .init_resource::<StatusLine>()
            .add_message::<FitTrialRequest>()
            .add_message::<SourceShown>()
            .add_systems(
                Update,
                (start_requested_fits, finish_fit_jobs, forget_other_sources)
                    .chain()
                    .in_set(LoadSystems::Load),
            );
    }
}

/// [`TrialFitsPlugin`] plus the drawn marker overlay.
pub struct TrialPlugin;

impl Plugin for TrialPlugin {
    fn build(&self, app: &mut App) {
        if !app.is_plugin_added::<TrialFitsPlugin>() {
            app.add_plugins(TrialFitsPlugin);
        }
        // After posing, and for the frame the mesh shows: drawn before playback advanced, the
        // markers trailed the body by one render frame (20 cm at 5 fps on lavapipe).
        app.add_systems(Update, draw_marker_overlay.after(super::pose::PoseSystems));
    }
}

/// Starts the fit of the last requested trial (a missing file goes to the status line).
fn start_requested_fits(
    mut requests: MessageReader<FitTrialRequest>,
    mut fits: ResMut<TrialFitState>,
    mut status: ResMut<StatusLine>,
    body: Option<Res<BodyState>>,
) {
    let Some(FitTrialRequest(path)) = requests.read().last().cloned() else {
        return;
    };
    let Some(body) = body else { return };
    if !path.is_file() {
        status.error = Some(format!("{}: no such file", path.display()));
        return;
    }
    status.error = None;
    status.info = Some(format!("fitting {} in the background…", path.display()));
    fits.start(path, body.model.clone());
}

/// Another source shown: its markers are not this trial's.
fn forget_other_sources(mut shown: MessageReader<SourceShown>, mut overlay: ResMut<MarkerOverlay>) {
    if shown
        .read()
        .any(|s| s.0 != crate::formats::SourceKind::MarkerTrial)
    {
        *overlay = Default::default();
    }
}

/// Swaps a finished background fit into the viewer (sequence, playback, overlay, status).
#[allow(clippy::too_many_arguments)]
fn finish_fit_jobs(
    mut shown: MessageWriter<SourceShown>,
    mut state: ResMut<TrialFitState>,
    mut seq: ResMut<CurrentSequence>,
    mut playback: ResMut<Playback>,
    mut overlay: ResMut<MarkerOverlay>,
    mut status: ResMut<StatusLine>,
    body: Option<ResMut<BodyState>>,
    cam: Option<ResMut<super::FlyCamera>>,
) {
    let finished = state
        .job
        .as_ref()
        .is_some_and(|j| j.handle.as_ref().is_none_or(|h| h.is_finished()));
    if !finished {
        return;
    }
    let Some(mut job) = state.job.take() else {
        return;
    };
    let result = match job.handle.take().map(|h| h.join()) {
        Some(Ok(r)) => r,
        Some(Err(_)) => {
            status.error = Some(format!(
                "fitting {} failed unexpectedly (the fitter panicked)",
                job.path.display()
            ));
            return;
        }
        None => {
            status.error = Some("could not start a thread for fitting".into());
            return;
        }
    };
    match result {
        Ok(fitted) => {
            let s = fitted.sequence;
            status.error = None;
            status.info = Some(format!(
                "fitted {}: {} frames at {} Hz in {:.1} s, median marker RMSE {:.1} mm{}{}",
                s.name,
                s.num_frames(),
                s.rate_hz,
                job.started.elapsed().as_secs_f64(),
                fitted.median_rmse_m * 1e3,
                if fitted.pelvis_markers == PelvisMarkers::Rigid {
                    ", pelvis markers rigid"
                } else {
                    ""
                },
                if fitted.unmatched.is_empty() {
                    String::new()
                } else {
                    format!(" (not in the file: {})", fitted.unmatched.join(" "))
                }
            ));
            if !fitted.unconstrained_joints.is_empty() || !fitted.warnings.is_empty() {
                let mut note = String::new();
                if !fitted.unconstrained_joints.is_empty() {
                    note += &format!(
                        "\nnot measured (no markers; held upright / arms relaxed, hatched on the body): {}",
                        fitted.unconstrained_joints.join(" ")
                    );
                }
                for w in &fitted.warnings {
                    note += &format!("\nwarning: {w}");
                }
                if let Some(info) = status.info.as_mut() {
                    info.push_str(&note);
                }
            }
            if let Some(mut body) = body {
                body.set_betas(&s.betas);
            }
            *playback = Playback::new(s.num_frames(), s.rate_hz);
            playback.playing = true;
            seq.set(Some(Arc::new(s)));
            *overlay = fitted.overlay;
            shown.write(SourceShown(crate::formats::SourceKind::MarkerTrial));
            if let Some(mut cam) = cam {
                cam.frame_and_follow();
            }
        }
        Err(e) => status.error = Some(e.to_string()),
    }
}

fn draw_marker_overlay(
    overlay: Res<MarkerOverlay>,
    posed: Res<super::pose::PosedFrame>,
    mut gizmos: Gizmos,
) {
    if !overlay.visible || overlay.is_empty() {
        return;
    }
    let Some(f) = posed.frame else {
        return;
    };
    let (Some(meas), Some(model)) = (overlay.measured_m.get(f), overlay.model_m.get(f)) else {
        return;
    };
    let measured_colour = Color::srgb(0.2, 0.6, 1.0);
    for (i, (m, p)) in meas.iter().zip(model).enumerate() {
        let p = Vec3::from(*p);
        match m {
            Some(m) => {
                let m = Vec3::from(*m);
                gizmos.sphere(Isometry3d::from_translation(m), 0.012, measured_colour);
                gizmos.sphere(Isometry3d::from_translation(p), 0.006, Color::WHITE);
                gizmos.line(m, p, residual_colour(m.distance(p)));
            }
            None => {
                // A gap: the marker's last measured position (within half a second at 100 Hz),
                // never an invented one; nothing when it has not been seen recently.
                if let Some(last) = last_seen(&overlay.measured_m, f, i, 50) {
                    gizmos.sphere(
                        Isometry3d::from_translation(Vec3::from(last)),
                        0.008,
                        Color::srgb(0.5, 0.5, 0.5),
                    );
                }
            }
        }
    }
}

/// Marker `i`'s most recent measured position in the `max_back` frames before `frame`.
fn last_seen(
    measured: &[Vec<Option<[f32; 3]>>],
    frame: usize,
    i: usize,
    max_back: usize,
) -> Option<[f32; 3]> {
    (frame.saturating_sub(max_back)..frame)
        .rev()
        .find_map(|f| measured.get(f)?.get(i).copied().flatten())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_show_the_last_measured_position_or_nothing() {
        let m = vec![vec![Some([1.0, 0.0, 0.0])], vec![None], vec![None]];
        assert_eq!(last_seen(&m, 2, 0, 5), Some([1.0, 0.0, 0.0]));
        assert_eq!(last_seen(&m, 2, 0, 1), None);
        assert_eq!(last_seen(&m, 0, 0, 5), None);
    }

    #[test]
    fn residual_colours_go_from_green_to_red() {
        let g = residual_colour(0.005).to_srgba();
        let y = residual_colour(0.020).to_srgba();
        let r = residual_colour(0.060).to_srgba();
        assert!(g.green > g.red);
        assert!(y.red > 0.9 && y.green > 0.8);
        assert!(r.red > r.green * 3.0);
    }

    /// Landmark trials from a Y-up and a Z-up lab (gaitkit's healthy and stroke walks) both stand
    /// on the viewer's floor: the fitter's lab vertical becomes the viewer's +y.
    #[test]
    fn landmark_trials_of_y_up_and_z_up_labs_stand_up() {
        let model = crate::body::default_model::default_body();
        for (file, lab_up) in [
            ("example_healthy.json", Vector3::y()),
            ("example_stroke.json", Vector3::z()),
        ] {
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../shared/data/labelled")
                .join(file);
            assert!(path.exists(), "missing shared file {}", path.display());
            let fitted =
                fit_marker_file(&path, model, PelvisMarkers::Skin, |_, _| {}).expect("fit");
            let shown_up = fitted.sequence.display_from_lab * lab_up;
            assert!(
                (shown_up - Vector3::y()).norm() < 1e-9,
                "{file}: lab up shown as {shown_up}"
            );
        }
    }

    /// The overlay is drawn in the body's frame: on a shared lower-body walk every model
    /// marker lies on the posed mesh the viewer draws (within the skin distance and offsets) and
    /// the measured markers sit next to them, at several frames along the walk; and its model
    /// markers are the fit's own (with rigid pelvis markers too): the overlay's median RMSE is
    /// the fit's.
    #[test]
    fn the_markers_of_a_fitted_trial_lie_on_the_drawn_body() {
        for pelvis_markers in [PelvisMarkers::Skin, PelvisMarkers::Rigid] {
            markers_lie_on_the_drawn_body(pelvis_markers);
        }
    }

    fn markers_lie_on_the_drawn_body(pelvis_markers: PelvisMarkers) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/data/c3d/sample23_Vicon_analysis.c3d");
        assert!(path.exists(), "missing shared file {}", path.display());
        let model = crate::body::default_model::default_body();
        let fitted = fit_marker_file(&path, model, pelvis_markers, |_, _| {}).expect("fit");
        let mut rmse: Vec<f64> = (0..fitted.overlay.model_m.len())
            .filter_map(|f| {
                let r: Vec<f64> = fitted
                    .overlay
                    .residuals_m(f)
                    .into_iter()
                    .flatten()
                    .map(f64::from)
                    .collect();
                (!r.is_empty())
                    .then(|| (r.iter().map(|e| e * e).sum::<f64>() / r.len() as f64).sqrt())
            })
            .collect();
        rmse.sort_by(f64::total_cmp);
        let overlay_median = rmse[rmse.len() / 2];
        eprintln!(
            "{pelvis_markers:?}: overlay median RMSE {:.2} mm, the fit's {:.2} mm",
            overlay_median * 1e3,
            fitted.median_rmse_m * 1e3
        );
        // Measured within 0.05 mm (skin) and 0.2 mm (rigid); the skin set drawn over a rigid
        // fit read 3 mm more.
        assert!(
            (overlay_median - fitted.median_rmse_m).abs() < 1e-3,
            "{pelvis_markers:?}: overlay {:.2} mm against the fit's {:.2} mm",
            overlay_median * 1e3,
            fitted.median_rmse_m * 1e3
        );
        let mut body = super::super::pose::BodyState::new(
            std::sync::Arc::new(model.clone()),
            &fitted.sequence.betas,
        );
        let n = fitted.sequence.num_frames();
        for f in [0, n / 3, 2 * n / 3, n - 1] {
            let (posed, _) = super::super::pose::pose_body(&mut body, Some(&fitted.sequence), f);
            let nearest = |p: [f32; 3]| {
                let p = Vector3::new(p[0] as f64, p[1] as f64, p[2] as f64);
                posed
                    .vertices
                    .iter()
                    .map(|v| (Vector3::new(v[0] as f64, v[1] as f64, v[2] as f64) - p).norm())
                    .fold(f64::INFINITY, f64::min)
            };
            for (i, m) in fitted.overlay.model_m[f].iter().enumerate() {
                let d = nearest(*m);
                assert!(
                    d < 0.08,
                    "frame {f}: model marker {} is {d:.3} m off the body",
                    fitted.overlay.labels[i]
                );
            }
            for (i, m) in fitted.overlay.measured_m[f].iter().enumerate() {
                if let Some(m) = m {
                    let d = nearest(*m);
                    assert!(
                        d < 0.08,
                        "frame {f}: measured {} is {d:.3} m off the body",
                        fitted.overlay.labels[i]
                    );
                }
            }
        }
    }

    #[test]
    fn fitting_a_missing_file_is_a_load_error_naming_it() {
        let model = crate::body::default_model::default_body();
        let err = fit_marker_file(
            Path::new("/nonexistent/walk.c3d"),
            model,
            PelvisMarkers::Skin,
            |_, _| {},
        )
        .expect_err("missing file");
        assert!(err.to_string().contains("/nonexistent/walk.c3d"), "{err}");
    }
}
