//! Headless rendering of the viewer's scene to PNG without a window: the same body, lights, floor
//! grid and axes, drawn by a camera whose target is an offscreen image and read back with Bevy's
//! `Screenshot`. Works on software Vulkan (lavapipe from `mesa-vulkan-drivers`).

use std::fmt;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bevy::app::{PluginsState, TerminalCtrlCHandlerPlugin};
use bevy::camera::RenderTarget;
use bevy::prelude::*;
use bevy::render::pipelined_rendering::PipelinedRenderingPlugin;
use bevy::render::render_resource::{PipelineCache, PollType, TextureFormat, TextureUsages};
use bevy::render::renderer::{RenderDevice, initialize_renderer};
use bevy::render::settings::{Backends, RenderCreation, RenderResources, WgpuSettings};
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured};
use bevy::render::{RenderApp, RenderPlugin};
use bevy::window::{ExitCondition, WindowPlugin};
use bevy::winit::WinitPlugin;

use super::camera::{DEFAULT_VFOV_RAD, FlyCamera, framing_distance};
use super::playback::{Playback, PlaybackPlugin};
use super::pose::{BodyState, CurrentSequence, PosePlugin, PosedFrame, ViewerSequence, pose_body};
use super::scene::{ScenePlugin, UploadTiming};
use crate::body::BodyModel;
use crate::io_util::write_atomic;

/// Errors of the headless renderer.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// No graphics adapter (GPU or software Vulkan) could be created.
    #[error(
        "no graphics adapter could be created ({detail}); on Linux without a GPU install software \
         Vulkan: `apt-get install mesa-vulkan-drivers` (lavapipe), or run .ci/install-system-deps"
    )]
    NoAdapter {
        /// What wgpu/Bevy reported.
        detail: String,
    },
    /// burn's wgpu backend could not be built on the renderer's device.
    #[error("the classifier could not share the renderer's GPU device: {detail}")]
    GpuShare {
        /// What burn/wgpu reported.
        detail: String,
    },
    /// The options are inconsistent (size, frame range, ...).
    #[error("invalid render options: {what}")]
    BadOptions {
        /// What is wrong.
        what: String,
    },
    /// A requested frame lies outside the sequence.
    #[error("frame {frame} is outside the sequence, which has {num_frames} frames")]
    FrameOutOfRange {
        /// The requested frame.
        frame: usize,
        /// Frames in the sequence.
        num_frames: usize,
    },
    /// The renderer did not deliver within the time limit.
    #[error("rendering timed out while {what} after {updates} updates")]
    Timeout {
        /// What it was waiting for.
        what: &'static str,
        /// App updates run.
        updates: usize,
    },
    /// The captured image is in a pixel format this writer does not handle.
    #[error("captured image has unsupported pixel format {format}")]
    PixelFormat {
        /// The texture format.
        format: String,
    },
    /// PNG encoding failed.
    #[error("cannot encode {path} as PNG: {detail}")]
    Encode {
        /// The output file.
        path: PathBuf,
        /// The encoder's message.
        detail: String,
    },
    /// The PNG could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The output file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Frames `start..end` (end exclusive) of a sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameRange {
    /// First frame.
    pub start: usize,
    /// One past the last frame.
    pub end: usize,
}

impl FrameRange {
    /// Just frame `f`.
    pub fn single(f: usize) -> Self {
        FrameRange {
            start: f,
            end: f + 1,
        }
    }

    /// Number of frames.
    pub fn len(&self) -> usize {
        self.end.saturating_sub(self.start)
    }

    /// Whether the range holds no frame.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Parses `--frames`: `12`, `10..20` (end exclusive) or `10..=19`.
pub fn parse_frame_range(s: &str) -> Result<FrameRange, RenderError> {
    let bad = || RenderError::BadOptions {
        what: format!("frames '{s}': expected N, A..B (B exclusive) or A..=B"),
    };
    let num = |t: &str| t.trim().parse::<usize>().map_err(|_| bad());
    let r = if let Some((a, b)) = s.split_once("..=") {
        FrameRange {
            start: num(a)?,
            end: num(b)?.checked_add(1).ok_or_else(bad)?,
        }
    } else if let Some((a, b)) = s.split_once("..") {
        FrameRange {
            start: num(a)?,
            end: num(b)?,
        }
    } else {
        FrameRange::single(num(s)?)
    };
    if r.is_empty() {
        return Err(bad());
    }
    Ok(r)
}

/// What to render.
#[derive(Clone)]
pub struct RenderOptions {
    /// The body model.
    pub model: Arc<BodyModel>,
    /// The sequence to pose the body with; None renders the rest pose (frame 0 only).
    pub sequence: Option<Arc<ViewerSequence>>,
    /// Shape override; None uses the sequence's betas (or zeros).
    pub betas: Option<Vec<f64>>,
    /// Frames to render.
    pub frames: FrameRange,
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// A `.png` file for a single frame, otherwise a folder receiving `frame_NNNNN.png`.
    pub output: PathBuf,
    /// After the images, render this many more frames and report frame-time statistics.
    pub bench_frames: Option<usize>,
    /// Importance colouring of the body (an explanation to show), as in the viewer.
    pub importance: Option<super::colouring::Importance>,
}

impl RenderOptions {
    /// Frame 0 of `model` in the rest pose at 1024×600 into `output`.
    pub fn new(model: Arc<BodyModel>, output: PathBuf) -> Self {
        RenderOptions {
            model,
            sequence: None,
            betas: None,
            frames: FrameRange::single(0),
            width: 1024,
            height: 600,
            output,
            bench_frames: None,
            importance: None,
        }
    }
}

/// One rendered image, RGBA8 (sRGB), rows top to bottom.
#[derive(Debug, Clone)]
pub struct RenderedFrame {
    /// Sequence frame index.
    pub frame: usize,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width·height·4` bytes.
    pub rgba: Vec<u8>,
}

impl RenderedFrame {
    /// The RGBA value at pixel `(x, y)`.
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 4] {
        let i = ((y * self.width + x) * 4) as usize;
        [
            self.rgba[i],
            self.rgba[i + 1],
            self.rgba[i + 2],
            self.rgba[i + 3],
        ]
    }
}

/// Summary of a set of timings in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameTimeStats {
    /// Number of samples.
    pub count: usize,
    /// Mean.
    pub mean_ms: f64,
    /// Median.
    pub median_ms: f64,
    /// 95th percentile (nearest rank).
    pub p95_ms: f64,
    /// Maximum.
    pub max_ms: f64,
}

impl FrameTimeStats {
    /// Statistics of `samples_ms`; None when empty.
    pub fn from_samples_ms(samples_ms: &[f64]) -> Option<Self> {
        if samples_ms.is_empty() {
            return None;
        }
        let mut s = samples_ms.to_vec();
        s.sort_by(f64::total_cmp);
        let n = s.len();
        let median = if n % 2 == 1 {
            s[n / 2]
        } else {
            0.5 * (s[n / 2 - 1] + s[n / 2])
        };
        let rank = ((0.95 * n as f64).ceil() as usize).clamp(1, n);
        Some(FrameTimeStats {
            count: n,
            mean_ms: s.iter().sum::<f64>() / n as f64,
            median_ms: median,
            p95_ms: s[rank - 1],
            max_ms: s[n - 1],
        })
    }
}

impl fmt::Display for FrameTimeStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "mean {:.2} ms, median {:.2} ms, p95 {:.2} ms, max {:.2} ms over {} frames",
            self.mean_ms, self.median_ms, self.p95_ms, self.max_ms, self.count
        )
    }
}

/// What a render did.
#[derive(Debug, Clone, Default)]
pub struct RenderStats {
    /// PNG files written (empty for [`render_frames`]).
    pub written: Vec<PathBuf>,
    /// The adapter used ("llvmpipe (LLVM 15.0.6, 256 bits) (Vulkan)").
    pub adapter: String,
    /// Updates run before the pipelines were ready.
    pub warmup_updates: usize,
    /// Whole-frame time (update + GPU finished) of the benchmark frames.
    pub frame_time: Option<FrameTimeStats>,
    /// CPU skinning (forward + normals) time of the benchmark frames.
    pub skinning: Option<FrameTimeStats>,
    /// Mesh attribute update time of the benchmark frames.
    pub upload: Option<FrameTimeStats>,
}

impl RenderStats {
    /// A human-readable multi-line summary (adapter, files, benchmark statistics).
    pub fn summary(&self) -> String {
        let mut s = format!("adapter: {}\n", self.adapter);
        s += &format!("images written: {}\n", self.written.len());
        for (name, st) in [
            ("frame time", &self.frame_time),
            ("CPU skinning", &self.skinning),
            ("mesh update", &self.upload),
        ] {
            if let Some(st) = st {
                s += &format!("{name}: {st}\n");
            }
        }
        s
    }
}

fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "renderer initialisation panicked".into())
}

/// Creates the wgpu device Bevy will use, turning wgpu's "no adapter" panic into an error.
///
/// Only the primary backends (Vulkan, Metal, DX12) unless `WGPU_BACKEND` says otherwise: on a
/// machine without Vulkan, wgpu would fall back to Mesa's OpenGL, where Bevy's PBR shadow shader
/// does not compile and the render never finishes — a clear "no adapter" error is better.
fn create_render_resources() -> Result<RenderResources, RenderError> {
    let settings = WgpuSettings {
        backends: Some(Backends::from_env().unwrap_or(Backends::PRIMARY)),
        ..Default::default()
    };
    let backends = settings.backends.unwrap_or(Backends::PRIMARY);
    std::panic::catch_unwind(AssertUnwindSafe(|| {
        bevy::tasks::block_on(initialize_renderer(backends, None, &settings))
    }))
    .map_err(|p| RenderError::NoAdapter {
        detail: panic_text(p),
    })
}

/// Checks that a graphics adapter can be created and returns its description.
pub fn probe_adapter() -> Result<String, RenderError> {
    let r = create_render_resources()?;
    Ok(adapter_name(&r))
}

/// Creates Bevy's render device without a window and burn's wgpu device on it, exactly as the
/// viewer's GPU bridge does; returns the burn device and the adapter's description. For tests and
/// benchmarks of the classifier on the renderer's GPU.
pub fn shared_burn_device() -> Result<(burn::backend::wgpu::WgpuDevice, String), RenderError> {
    let r = create_render_resources()?;
    let name = adapter_name(&r);
    let device = super::gpu_bridge::burn_device_from_bevy(&r.0, &r.1, &r.3, &r.4, &r.2)
        .map_err(|detail| RenderError::GpuShare { detail })?;
    Ok((device, name))
}

fn adapter_name(r: &RenderResources) -> String {
    let info: &bevy::render::render_resource::WgpuAdapterInfo = &r.2;
    format!("{} ({:?}, {:?})", info.name, info.backend, info.device_type)
}

/// Builds a windowless app with the viewer's scene and an image render target.
struct Headless {
    app: App,
    target: Handle<Image>,
    camera: Entity,
    radius_m: f32,
}

impl Headless {
    fn new(opts: &RenderOptions, resources: RenderResources) -> Self {
        let mut app = App::new();
        let mut plugins = DefaultPlugins
            .build()
            .set(WindowPlugin {
                primary_window: None,
                exit_condition: ExitCondition::DontExit,
                ..default()
            })
            .set(RenderPlugin {
                render_creation: RenderCreation::Manual(resources),
                // Compile pipelines when first needed so the first frames are complete.
                synchronous_pipeline_compilation: true,
                ..default()
            })
            .disable::<WinitPlugin>()
            // One update renders one frame, so timings and captured poses line up.
            .disable::<PipelinedRenderingPlugin>()
            .disable::<TerminalCtrlCHandlerPlugin>();
        if tracing::dispatcher::has_been_set() {
            plugins = plugins.disable::<bevy::log::LogPlugin>();
        }
        let seq = opts.sequence.clone();
        let betas = opts
            .betas
            .clone()
            .or_else(|| seq.as_ref().map(|s| s.betas.clone()))
            .unwrap_or_default();
        let mut body = BodyState::new(opts.model.clone(), &betas);
        let n = seq.as_ref().map_or(1, |s| s.num_frames());
        let rate = seq.as_ref().map_or(30.0, |s| s.rate_hz);
        let mut current = CurrentSequence::default();
        // Camera distance from the first frame's bounding sphere, kept for every frame so the
        // floor grid does not zoom while the body walks.
        let (posed, _) = pose_body(&mut body, seq.as_deref(), opts.frames.start);
        let (min, max) = bounds(&posed.vertices);
        let radius_m = 0.5 * (max - min).length() * 1.1;
        current.set(seq);
        if let Some(importance) = opts.importance.clone() {
            app.insert_resource(importance);
        }
        app.add_plugins(plugins)
            .insert_resource(body)
            .insert_resource(current)
            .insert_resource(Playback::new(n, rate))
            .add_plugins((PlaybackPlugin, PosePlugin, ScenePlugin));
        while app.plugins_state() == PluginsState::Adding {
            bevy::tasks::tick_global_task_pools_on_main_thread();
        }
        app.finish();
        app.cleanup();

        let mut image =
            Image::new_target_texture(opts.width, opts.height, TextureFormat::Rgba8UnormSrgb, None);
        image.texture_descriptor.usage |= TextureUsages::COPY_SRC;
        let target = app.world_mut().resource_mut::<Assets<Image>>().add(image);
        let camera = app
            .world_mut()
            .spawn((
                Camera3d::default(),
                RenderTarget::Image(target.clone().into()),
                Projection::Perspective(PerspectiveProjection {
                    fov: DEFAULT_VFOV_RAD,
                    ..default()
                }),
                Transform::default(),
            ))
            .id();
        Headless {
            app,
            target,
            camera,
            radius_m,
        }
    }

    /// Shows `frame` and points the camera at the body's centre from the viewer's default
    /// direction.
    fn show_frame(&mut self, frame: usize, aspect: f32) {
        let world = self.app.world_mut();
        world.resource_mut::<Playback>().seek_frame(frame);
        let (posed, _) = {
            let seq = world.resource::<CurrentSequence>().sequence.clone();
            let mut body = world.resource_mut::<BodyState>();
            pose_body(&mut body, seq.as_deref(), frame)
        };
        let (min, max) = bounds(&posed.vertices);
        let center = 0.5 * (min + max);
        let forward = FlyCamera::default().forward();
        let eye = center - forward * framing_distance(self.radius_m, DEFAULT_VFOV_RAD, aspect);
        let t = Transform::from_translation(eye).looking_to(forward, Vec3::Y);
        if let Some(mut tr) = world.get_mut::<Transform>(self.camera) {
            *tr = t;
        }
    }

    fn wait_gpu(&self) {
        if let Some(dev) = self.app.world().get_resource::<RenderDevice>() {
            let _ = dev.poll(PollType::wait_indefinitely());
        }
    }

    /// Runs updates until no pipeline is waiting to compile for three updates in a row.
    fn warm_up(&mut self) -> Result<usize, RenderError> {
        let start = Instant::now();
        let mut quiet = 0;
        for i in 1..=600 {
            self.app.update();
            self.wait_gpu();
            let waiting = self
                .app
                .get_sub_app(RenderApp)
                .and_then(|r| r.world().get_resource::<PipelineCache>())
                .map_or(0, |c| c.waiting_pipelines().count());
            quiet = if waiting == 0 { quiet + 1 } else { 0 };
            if quiet >= 3 && i >= 5 {
                return Ok(i);
            }
            if start.elapsed() > Duration::from_secs(180) {
                return Err(RenderError::Timeout {
                    what: "compiling render pipelines",
                    updates: i,
                });
            }
        }
        Err(RenderError::Timeout {
            what: "compiling render pipelines",
            updates: 600,
        })
    }

    /// Renders the current frame and reads it back.
    fn capture(&mut self, frame: usize) -> Result<RenderedFrame, RenderError> {
        let slot: Arc<Mutex<Option<Image>>> = Arc::default();
        let s = slot.clone();
        self.app
            .world_mut()
            .spawn(Screenshot::image(self.target.clone()))
            .observe(move |ev: On<ScreenshotCaptured>| {
                if let Ok(mut g) = s.lock() {
                    *g = Some(ev.image.clone());
                }
            });
        for i in 1..=200 {
            self.app.update();
            self.wait_gpu();
            if let Some(img) = slot.lock().ok().and_then(|mut g| g.take()) {
                return to_rgba(frame, &img);
            }
            if i % 10 == 0 {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        Err(RenderError::Timeout {
            what: "reading back the image",
            updates: 200,
        })
    }
}

fn bounds(verts: &[[f32; 3]]) -> (Vec3, Vec3) {
    verts.iter().fold(
        (Vec3::splat(f32::INFINITY), Vec3::splat(f32::NEG_INFINITY)),
        |(lo, hi), v| (lo.min(Vec3::from(*v)), hi.max(Vec3::from(*v))),
    )
}

/// Converts a captured RGBA8/BGRA8 image to a [`RenderedFrame`].
pub fn to_rgba(frame: usize, img: &Image) -> Result<RenderedFrame, RenderError> {
    let format = img.texture_descriptor.format;
    let (w, h) = (img.width(), img.height());
    let data = img.data.as_deref().unwrap_or(&[]);
    if data.len() != (w * h * 4) as usize {
        return Err(RenderError::PixelFormat {
            format: format!("{format:?} with {} bytes for {w}×{h}", data.len()),
        });
    }
    let rgba = match format {
        TextureFormat::Rgba8UnormSrgb | TextureFormat::Rgba8Unorm => data.to_vec(),
        TextureFormat::Bgra8UnormSrgb | TextureFormat::Bgra8Unorm => data
            .chunks_exact(4)
            .flat_map(|p| [p[2], p[1], p[0], p[3]])
            .collect(),
        other => {
            return Err(RenderError::PixelFormat {
                format: format!("{other:?}"),
            });
        }
    };
    Ok(RenderedFrame {
        frame,
        width: w,
        height: h,
        rgba,
    })
}

fn validate(opts: &RenderOptions) -> Result<(), RenderError> {
    let bad = |what: String| Err(RenderError::BadOptions { what });
    if opts.width == 0 || opts.height == 0 || opts.width > 8192 || opts.height > 8192 {
        return bad(format!(
            "image size {}×{} must be within 1..=8192",
            opts.width, opts.height
        ));
    }
    if opts.frames.is_empty() {
        return bad("the frame range is empty".into());
    }
    let n = opts.sequence.as_ref().map_or(1, |s| s.num_frames());
    if opts.frames.end > n {
        return Err(RenderError::FrameOutOfRange {
            frame: opts.frames.end - 1,
            num_frames: n,
        });
    }
    if let Err(e) = opts.model.validate() {
        return bad(format!("body model: {e}"));
    }
    Ok(())
}

/// Renders the requested frames offscreen and returns their pixels (and benchmark statistics
/// when `bench_frames` is set); nothing is written.
pub fn render_frames(
    opts: &RenderOptions,
) -> Result<(Vec<RenderedFrame>, RenderStats), RenderError> {
    validate(opts)?;
    let resources = create_render_resources()?;
    let mut stats = RenderStats {
        adapter: adapter_name(&resources),
        ..Default::default()
    };
    let mut h = Headless::new(opts, resources);
    let aspect = opts.width as f32 / opts.height as f32;
    h.show_frame(opts.frames.start, aspect);
    stats.warmup_updates = h.warm_up()?;
    let mut frames = Vec::with_capacity(opts.frames.len());
    for f in opts.frames.start..opts.frames.end {
        h.show_frame(f, aspect);
        frames.push(h.capture(f)?);
    }
    if let Some(nb) = opts.bench_frames.filter(|&n| n > 0) {
        let n = opts.sequence.as_ref().map_or(1, |s| s.num_frames());
        let (mut frame_ms, mut skin_ms, mut upload_ms) = (vec![], vec![], vec![]);
        for i in 0..nb {
            h.show_frame((opts.frames.start + 1 + i) % n, aspect);
            let t0 = Instant::now();
            h.app.update();
            h.wait_gpu();
            frame_ms.push(t0.elapsed().as_secs_f64() * 1e3);
            let world = h.app.world();
            if n > 1 {
                skin_ms.push(world.resource::<PosedFrame>().skin_ms);
                upload_ms.push(world.resource::<UploadTiming>().upload_ms);
            }
        }
        stats.frame_time = FrameTimeStats::from_samples_ms(&frame_ms);
        stats.skinning = FrameTimeStats::from_samples_ms(&skin_ms);
        stats.upload = FrameTimeStats::from_samples_ms(&upload_ms);
    }
    Ok((frames, stats))
}

/// Encodes an RGBA frame as an 8-bit RGB PNG (alpha dropped: the scene is opaque).
pub fn encode_png(frame: &RenderedFrame, path: &Path) -> Result<Vec<u8>, RenderError> {
    let enc_err = |e: png::EncodingError| RenderError::Encode {
        path: path.to_path_buf(),
        detail: e.to_string(),
    };
    let rgb: Vec<u8> = frame
        .rgba
        .chunks_exact(4)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    let mut buf = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut buf, frame.width, frame.height);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_source_srgb(png::SrgbRenderingIntent::Perceptual);
        let mut w = enc.write_header().map_err(enc_err)?;
        w.write_image_data(&rgb).map_err(enc_err)?;
        w.finish().map_err(enc_err)?;
    }
    Ok(buf)
}

/// Where frame `f` goes: `output` itself for a single frame when it names a `.png`, otherwise
/// `output/frame_NNNNN.png`.
pub fn output_path(output: &Path, frames: FrameRange, f: usize) -> PathBuf {
    let is_png = output
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("png"));
    if frames.len() == 1 && is_png {
        output.to_path_buf()
    } else {
        output.join(format!("frame_{f:05}.png"))
    }
}

/// Renders the requested frames offscreen and writes each as a PNG (atomically).
pub fn render_png(opts: RenderOptions) -> Result<RenderStats, RenderError> {
    let (frames, mut stats) = render_frames(&opts)?;
    for fr in &frames {
        let path = output_path(&opts.output, opts.frames, fr.frame);
        let bytes = encode_png(fr, &path)?;
        write_atomic(&path, &bytes).map_err(|source| RenderError::Write {
            path: path.clone(),
            source,
        })?;
        stats.written.push(path);
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_ranges_parse_and_reject_garbage() {
        assert_eq!(parse_frame_range("7").unwrap(), FrameRange::single(7));
        assert_eq!(
            parse_frame_range("10..20").unwrap(),
            FrameRange { start: 10, end: 20 }
        );
        assert_eq!(
            parse_frame_range(" 3 ..= 5").unwrap(),
            FrameRange { start: 3, end: 6 }
        );
        for s in ["", "a", "5..5", "9..3", "1..x", "-1"] {
            assert!(parse_frame_range(s).is_err(), "{s:?} accepted");
        }
    }

    #[test]
    fn stats_match_hand_computed_values() {
        let s = FrameTimeStats::from_samples_ms(&[4.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!(s.count, 4);
        assert!((s.mean_ms - 2.5).abs() < 1e-12);
        assert!((s.median_ms - 2.5).abs() < 1e-12);
        assert_eq!(s.p95_ms, 4.0);
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        let s = FrameTimeStats::from_samples_ms(&v).unwrap();
        assert_eq!(s.p95_ms, 95.0);
        assert_eq!(s.median_ms, 50.5);
        assert!(FrameTimeStats::from_samples_ms(&[]).is_none());
    }

    #[test]
    fn output_paths_for_single_files_and_folders() {
        let one = FrameRange::single(3);
        assert_eq!(
            output_path(Path::new("a/b.png"), one, 3),
            PathBuf::from("a/b.png")
        );
        assert_eq!(
            output_path(Path::new("out"), one, 3),
            PathBuf::from("out/frame_00003.png")
        );
        let many = FrameRange { start: 2, end: 5 };
        assert_eq!(
            output_path(Path::new("x.png"), many, 4),
            PathBuf::from("x.png/frame_00004.png")
        );
    }

    #[test]
    fn png_encoding_roundtrips_pixels() {
        let fr = RenderedFrame {
            frame: 0,
            width: 2,
            height: 1,
            rgba: vec![10, 20, 30, 255, 200, 100, 0, 255],
        };
        let bytes = encode_png(&fr, Path::new("t.png")).unwrap();
        let dec = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut r = dec.read_info().unwrap();
        let mut buf = vec![0; r.output_buffer_size().unwrap()];
        let info = r.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (2, 1));
        assert_eq!(&buf[..6], &[10, 20, 30, 200, 100, 0]);
    }
}
