//! The desktop viewer (Bevy + egui): the body model posed by a pose sequence, played back at the
//! sequence's rate, with a fly camera, a metric floor grid, data/body/playback panels, and a
//! headless renderer that draws the same scene to PNG files.
//!
//! Posing is CPU skinning (`BodyModel::forward` then replacing the mesh's position and normal
//! attributes); GPU skinning is a later step. Measured on the 2-core development container (shared
//! with other builds), 60 frames of a 12.8k-vertex / 25.6k-triangle body, 1024×600, lavapipe
//! (llvmpipe, LLVM 15, Vulkan): forward + smooth normals 0.33 ms median (6.5 ms when gaitlens
//! itself is an unoptimised debug build), mesh attribute update 0.04 ms, whole headless frame
//! (update + GPU finished) 132 ms median, 141 ms p95. `PosedFrame::skin_ms`,
//! `UploadTiming::upload_ms` and `gaitlens render --bench` report these live.

pub mod camera;
pub mod colouring;
pub mod curves;
pub mod demo;
pub mod dialogs;
pub mod export;
pub mod gpu_bridge;
pub mod keypoints;
pub mod native_dialog;
pub mod network;
pub mod panels;
pub mod playback;
pub mod pose;
pub mod render;
pub mod scene;
pub mod status;
pub mod trial;
pub mod what_if;

use std::path::PathBuf;
use std::sync::Arc;

use bevy::prelude::*;
use bevy::window::{ExitCondition, WindowPlugin};

use crate::body::BodyModel;
use crate::formats::SourceKind;

pub use camera::{FlyCamera, FlyCameraPlugin};
pub use colouring::{ColouringPlugin, Importance, ShownExplanation};
pub use curves::{CurvesPlugin, GaitCurves};
pub use dialogs::{
    DialogsPlugin, LoadBodyRequest, LoadSequenceRequest, StatusLine, load_sequence,
    load_sequence_in,
};
pub use panels::PanelsPlugin;
pub use playback::{Playback, PlaybackPlugin};
pub use pose::{BodyState, CurrentSequence, PosePlugin, PosedFrame, ViewerSequence};
pub use render::{
    FrameRange, FrameTimeStats, RenderError, RenderOptions, RenderStats, parse_frame_range,
    render_png,
};
pub use scene::ScenePlugin;

/// Errors of the viewer; every one names what was being opened and what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum ViewerError {
    /// A pose folder could not be read.
    #[error("cannot load the sequence at {path}: {source}")]
    Load {
        /// The folder.
        path: PathBuf,
        /// The reader's error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A sequence's contents do not fit the body model.
    #[error("sequence '{name}': {what}")]
    BadSequence {
        /// The sequence's name (folder).
        name: String,
        /// What is wrong.
        what: String,
    },
    /// There is no display to open a window on.
    #[error(
        "no display: neither DISPLAY nor WAYLAND_DISPLAY is set; run under a desktop session or \
         `xvfb-run`, or use `gaitlens render` for headless output"
    )]
    NoDisplay,
    /// No graphics adapter could be created.
    #[error("{0}")]
    Render(#[from] RenderError),
    /// The Bevy app ended with an error code.
    #[error("the viewer exited with code {code}")]
    Exit {
        /// Bevy's exit code.
        code: u8,
    },
}

/// What `gaitlens view` opens.
#[derive(Clone)]
pub struct ViewerOptions {
    /// The body model to show (e.g. `Arc::new(default_body().clone())`).
    pub model: Arc<BodyModel>,
    /// A pose folder (or a pose file inside one) to load at start.
    pub sequence: Option<PathBuf>,
    /// An already loaded sequence to show at start (e.g. the bundled demo walk); `sequence` wins.
    pub initial_sequence: Option<Arc<ViewerSequence>>,
    /// Frame rate for pose folders, which do not store one (default 100 Hz).
    pub rate_hz: Option<f64>,
    /// Initial window size in physical pixels.
    pub window_size: (u32, u32),
    /// Save a PNG of the window after a delay, then close (smoke tests, docs).
    pub screenshot_and_exit: Option<ScreenshotAndExit>,
    /// A checkpoint card to load at start; None loads the bundled demo network.
    pub network: Option<PathBuf>,
    /// Explain the first window as soon as network and sequence are loaded, so the body shows
    /// its colouring at first launch.
    pub explain_at_start: bool,
    /// Play this many frames after start-up, print frame-time statistics and quit.
    pub bench_frames: Option<usize>,
    /// SUPR's constrained parametrisation of `model`: pose folders are read as its reduced
    /// vectors (None: axis-angle).
    pub constrained: Option<crate::body::supr::ConstrainedParam>,
    /// How the pelvis markers move when the viewer fits a marker trial.
    pub pelvis_markers: crate::fit::PelvisMarkers,
}

impl ViewerOptions {
    /// Options showing `model` in the rest pose in a 1280×800 window.
    pub fn new(model: Arc<BodyModel>) -> Self {
        ViewerOptions {
            model,
            sequence: None,
            initial_sequence: None,
            rate_hz: None,
            window_size: (1280, 800),
            screenshot_and_exit: None,
            network: None,
            explain_at_start: true,
            bench_frames: None,
            constrained: None,
            pelvis_markers: crate::fit::PelvisMarkers::Skin,
        }
    }
}

/// When `gaitlens view --screenshot` (or the first-launch test's environment variables) takes
/// its picture: once both delays have passed, so a slow software renderer still shows a drawn
/// frame rather than the first, empty one.
#[derive(Clone, Debug, PartialEq)]
pub struct ScreenshotAndExit {
    /// The PNG to write.
    pub path: PathBuf,
    /// Seconds of wall time after start.
    pub after_s: f32,
    /// Frames drawn after start.
    pub after_frames: u32,
}

/// Everything the interactive viewer adds on top of Bevy's default plugins and egui.
#[derive(Default)]
pub struct ViewerPlugin {
    /// Passed to [`network::NetworkPlugin`].
    pub network: network::NetworkPlugin,
}

impl Plugin for ViewerPlugin {
    fn build(&self, app: &mut App) {
        app.add_plugins((
            PlaybackPlugin,
            PosePlugin,
            ScenePlugin,
            FlyCameraPlugin,
            DialogsPlugin,
            PanelsPlugin,
            gpu_bridge::GpuBridgePlugin,
            self.network.clone(),
            trial::TrialPlugin,
            CurvesPlugin,
            export::ExportPlugin,
            what_if::WhatIfPlugin::from_env(),
        ));
    }
}

/// Opens the viewer window and runs until it is closed. A sequence given in `opts` that cannot be
/// loaded is an error before the window opens; later load errors show in the panel.
pub fn run_viewer(opts: ViewerOptions) -> Result<(), ViewerError> {
    if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        return Err(ViewerError::NoDisplay);
    }
    // Bevy panics deep inside plugin setup when there is no adapter; check first.
    render::probe_adapter()?;
    let rate_hz = opts.rate_hz.unwrap_or(dialogs::DEFAULT_RATE_HZ);
    let mut body =
        BodyState::new(opts.model.clone(), &[]).with_constrained(opts.constrained.clone());
    let mut current = CurrentSequence::default();
    let mut playback = Playback::default();
    let mut status = StatusLine::default();
    let mut fits = trial::TrialFitState {
        pelvis_markers: opts.pelvis_markers,
        ..Default::default()
    };
    let mut clips = keypoints::KeypointView::default();
    let initial = match &opts.sequence {
        Some(path) if SourceKind::classify(path) == SourceKind::OpenPose => {
            let (frames, rate_hz) = clips.load(path).map_err(|e| ViewerError::Load {
                path: path.clone(),
                source: e.into(),
            })?;
            playback = Playback::new(frames, rate_hz);
            playback.playing = true;
            None
        }
        // A marker trial opens the window at once and fits in the background (progress in the
        // Data panel).
        Some(path) if SourceKind::classify(path) == SourceKind::MarkerTrial => {
            if !path.is_file() {
                return Err(ViewerError::Load {
                    path: path.clone(),
                    source: "no such file".into(),
                });
            }
            fits.start(path.clone(), opts.model.clone());
            status.info = Some(format!("fitting {} in the background…", path.display()));
            None
        }
        Some(path) => Some(Arc::new(dialogs::load_sequence_in(
            path,
            &opts.model,
            body.pose_space(),
            rate_hz,
        )?)),
        None => opts.initial_sequence.clone(),
    };
    let walking_at_start = initial.is_some();
    if let Some(seq) = initial {
        body.set_betas(&seq.betas);
        playback = Playback::new(seq.num_frames(), seq.rate_hz);
        // Start walking at once: the first thing a newcomer should see is the body in motion.
        playback.playing = true;
        status.info = Some(format!("loaded {} ({} frames)", seq.name, seq.num_frames()));
        current.set(Some(seq));
    }

    let mut app = App::new();
    let mut plugins = DefaultPlugins.set(WindowPlugin {
        primary_window: Some(Window {
            title: format!("gaitlens — {}", opts.model.name),
            resolution: opts.window_size.into(),
            ..default()
        }),
        exit_condition: ExitCondition::OnPrimaryClosed,
        ..default()
    });
    if tracing::dispatcher::has_been_set() {
        // The CLI already installed a subscriber; Bevy's would fail to register.
        plugins = plugins.disable::<bevy::log::LogPlugin>();
    }
    app.add_plugins(plugins)
        .add_plugins(bevy_egui::EguiPlugin::default())
        .insert_resource(body)
        .insert_resource(current)
        .insert_resource(playback)
        .insert_resource(status)
        .insert_resource(fits)
        .insert_resource(clips)
        .insert_resource(dialogs::FallbackRate(rate_hz))
        .add_plugins(ViewerPlugin {
            network: network::NetworkPlugin {
                load_at_start: Some(opts.network.clone()),
                explain_at_start: opts.explain_at_start,
            },
        });
    if walking_at_start {
        // A walk leaves any fixed view within seconds: follow the pelvis until the user steers.
        if let Some(mut cam) = app.world_mut().get_resource_mut::<FlyCamera>() {
            cam.follow = true;
        }
    }
    if let Some(n) = opts.bench_frames {
        app.insert_resource(FrameBench {
            frames: n,
            ..default()
        })
        .add_systems(Update, frame_bench);
    }
    if let Some(when) = opts.screenshot_and_exit.clone() {
        app.insert_resource(AutoScreenshot {
            when,
            frames_seen: 0,
            requested: false,
            done: None,
        })
        .add_systems(Update, auto_screenshot);
    }
    match app.run() {
        AppExit::Success => Ok(()),
        AppExit::Error(code) => Err(ViewerError::Exit { code: code.get() }),
    }
}

/// `--bench-frames`: frame times of the running viewer after a warm-up.
#[derive(Resource, Default)]
struct FrameBench {
    frames: usize,
    warmup_left: Option<usize>,
    samples_ms: Vec<f64>,
}

fn frame_bench(
    time: Res<Time<Real>>,
    mut bench: ResMut<FrameBench>,
    mut playback: ResMut<Playback>,
    windows: Query<&Window>,
    mut exit: MessageWriter<AppExit>,
) {
    // Skip the first 30 frames (pipeline compilation, first uploads, the start-up explanation).
    let left = bench.warmup_left.get_or_insert(30);
    if *left > 0 {
        *left -= 1;
        playback.playing = true;
        return;
    }
    bench.samples_ms.push(time.delta_secs_f64() * 1e3);
    if bench.samples_ms.len() >= bench.frames {
        let size = windows
            .iter()
            .next()
            .map(|w| format!("{}x{}", w.physical_width(), w.physical_height()))
            .unwrap_or_default();
        if let Some(stats) = render::FrameTimeStats::from_samples_ms(&bench.samples_ms) {
            println!("viewer {size}, playing with importance colouring: {stats}");
        }
        exit.write(AppExit::Success);
    }
}

/// A screenshot of the window to take once `when`'s delays have passed, after which the app exits.
#[derive(Resource)]
struct AutoScreenshot {
    when: ScreenshotAndExit,
    frames_seen: u32,
    requested: bool,
    done: Option<Result<(), String>>,
}

fn auto_screenshot(
    mut commands: Commands,
    time: Res<Time<Real>>,
    mut shot: ResMut<AutoScreenshot>,
    mut exit: MessageWriter<AppExit>,
) {
    use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured};
    if let Some(result) = shot.done.take() {
        match result {
            Ok(()) => {
                exit.write(AppExit::Success);
            }
            Err(e) => {
                tracing::error!("{e}");
                exit.write(AppExit::error());
            }
        }
        return;
    }
    shot.frames_seen = shot.frames_seen.saturating_add(1);
    if shot.requested
        || time.elapsed_secs() < shot.when.after_s
        || shot.frames_seen < shot.when.after_frames
    {
        return;
    }
    shot.requested = true;
    commands.spawn(Screenshot::primary_window()).observe(
        |ev: On<ScreenshotCaptured>, mut shot: ResMut<AutoScreenshot>| {
            let path = shot.when.path.clone();
            let result = render::to_rgba(0, &ev.image)
                .and_then(|f| render::encode_png(&f, &path))
                .and_then(|bytes| {
                    crate::io_util::write_atomic(&path, &bytes)
                        .map_err(|source| RenderError::Write { path, source })
                })
                .map_err(|e| e.to_string());
            shot.done = Some(result);
        },
    );
}
