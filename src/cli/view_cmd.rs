//! `gaitlens view` and `gaitlens render`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

/// Arguments of `gaitlens view`.
#[derive(Debug, Args, Default)]
pub struct ViewArgs {
    /// A pose folder (`pose_*.json|txt`) to open instead of the bundled demo walk.
    #[arg(long)]
    pub sequence: Option<PathBuf>,
    /// Frame rate of the pose folder (pose files do not store one).
    #[arg(long)]
    pub rate_hz: Option<f64>,
    /// Save a screenshot of the window to this PNG after `--after` seconds, then quit.
    #[arg(long)]
    pub screenshot: Option<PathBuf>,
    /// Seconds to wait before `--screenshot`.
    #[arg(long, default_value_t = 3.0)]
    pub after: f32,
}

/// Arguments of `gaitlens render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The pose folder to render (default: the bundled demo walk).
    #[arg(long)]
    pub sequence: Option<PathBuf>,
    /// Frame rate of the pose folder.
    #[arg(long)]
    pub rate_hz: Option<f64>,
    /// The frame to render.
    #[arg(long, default_value_t = 0, conflicts_with = "frames")]
    pub frame: usize,
    /// A frame range `a..b` (or `a..=b`) written as `frame_NNNNN.png` into the --out folder.
    #[arg(long)]
    pub frames: Option<String>,
    /// Output `.png` (one frame) or folder (a range).
    #[arg(long)]
    pub out: PathBuf,
    /// Image size `WIDTHxHEIGHT`.
    #[arg(long, default_value = "1280x720")]
    pub size: String,
    /// After the images, render this many frames and print frame-time statistics.
    #[arg(long)]
    pub bench_frames: Option<usize>,
}

#[cfg(feature = "viewer")]
pub fn view(args: ViewArgs) -> anyhow::Result<ExitCode> {
    use gaitlens::viewer::{ViewerOptions, run_viewer};
    use std::sync::Arc;
    let model = Arc::new(gaitlens::body::default_model::default_body().clone());
    let mut opts = ViewerOptions::new(model.clone());
    opts.rate_hz = args.rate_hz;
    opts.sequence = args.sequence;
    if opts.sequence.is_none() {
        opts.initial_sequence = Some(Arc::new(crate::cli::demo::demo_sequence(&model)?));
    }
    opts.screenshot_and_exit = args.screenshot.map(|p| (p, args.after));
    run_viewer(opts)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(feature = "viewer")]
pub fn render(args: RenderArgs) -> anyhow::Result<ExitCode> {
    use anyhow::Context;
    use gaitlens::viewer::render::{FrameRange, RenderOptions, parse_frame_range, render_png};
    use std::sync::Arc;
    let model = Arc::new(gaitlens::body::default_model::default_body().clone());
    let seq = match &args.sequence {
        Some(p) => {
            gaitlens::viewer::dialogs::load_sequence(p, &model, args.rate_hz.unwrap_or(100.0))?
        }
        None => crate::cli::demo::demo_sequence(&model)?,
    };
    let (w, h) = args
        .size
        .split_once('x')
        .and_then(|(w, h)| Some((w.trim().parse::<u32>().ok()?, h.trim().parse::<u32>().ok()?)))
        .with_context(|| format!("--size {}: expected WIDTHxHEIGHT, e.g. 1280x720", args.size))?;
    let mut opts = RenderOptions::new(model, args.out.clone());
    opts.betas = Some(seq.betas.clone());
    opts.sequence = Some(Arc::new(seq));
    opts.frames = match &args.frames {
        Some(r) => parse_frame_range(r)?,
        None => FrameRange::single(args.frame),
    };
    opts.width = w;
    opts.height = h;
    opts.bench_frames = args.bench_frames;
    let stats = render_png(opts)?;
    println!("{}", stats.summary());
    Ok(ExitCode::SUCCESS)
}

#[cfg(not(feature = "viewer"))]
pub fn view(_: ViewArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("this gaitlens was built without the `viewer` feature")
}

#[cfg(not(feature = "viewer"))]
pub fn render(_: RenderArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("this gaitlens was built without the `viewer` feature")
}
