//! `gaitlens view` and `gaitlens render`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::explain_cmd::Rule;
use super::fit_cmd::PelvisMarkersArg;
#[cfg(feature = "viewer")]
use gaitlens::formats::SourceKind;

/// Arguments of `gaitlens view`.
#[derive(Debug, Args)]
pub struct ViewArgs {
    /// A walk to open instead of the bundled demo walk: a pose folder (`pose_*.json|txt`), a
    /// C3D or TRC marker trial (fitted on opening) or OpenPose keypoints (zip or folder).
    #[arg(long)]
    pub sequence: Option<PathBuf>,
    /// Frame rate of a pose folder whose `fit_report.json` records none (pose files store no
    /// rate; default 100 Hz).
    #[arg(long)]
    pub rate_hz: Option<f64>,
    /// Save a screenshot of the window to this PNG after `--after` seconds, then quit.
    #[arg(long)]
    pub screenshot: Option<PathBuf>,
    /// Seconds to wait before `--screenshot`.
    #[arg(long, default_value_t = 3.0)]
    pub after: f32,
    /// A network checkpoint (`STEM.json`) to load instead of the bundled demo network.
    #[arg(long)]
    pub network: Option<PathBuf>,
    /// How the pelvis markers move when a marker trial is fitted (as for `fit`).
    #[arg(long, value_enum, default_value_t = PelvisMarkersArg::Skin)]
    pub pelvis_markers: PelvisMarkersArg,
    /// Do not explain the first window at start (the body then shows its plain colour).
    #[arg(long)]
    pub no_explain: bool,
    /// Play N frames after start-up, print frame-time statistics and quit.
    #[arg(long)]
    pub bench_frames: Option<usize>,
    /// Window size `WIDTHxHEIGHT` in physical pixels.
    #[arg(long, default_value = "1280x800")]
    pub size: String,
    /// A SUPR model file (`.npy`/`.npz`) to show instead of the embedded default body.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Read pose files as axis-angle even when `--model` is a constrained SUPR file (as the
    /// original viewer's `--unconstrained`).
    #[arg(long, requires = "model")]
    pub unconstrained: bool,
}

/// Arguments of `gaitlens render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The walk to render (default: the bundled demo walk): a pose folder, or a C3D or TRC
    /// marker trial (fitted first).
    #[arg(long)]
    pub sequence: Option<PathBuf>,
    /// Frame rate of a pose folder whose `fit_report.json` records none (default 100 Hz).
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
    /// How the pelvis markers move when a marker trial is fitted (as for `fit`).
    #[arg(long, value_enum, default_value_t = PelvisMarkersArg::Skin)]
    pub pelvis_markers: PelvisMarkersArg,
    /// Image size `WIDTHxHEIGHT`.
    #[arg(long, default_value = "1280x720")]
    pub size: String,
    /// After the images, render this many frames and print frame-time statistics.
    #[arg(long)]
    pub bench_frames: Option<usize>,
    /// Colour the body by an explanation of this network (`STEM.json`, or `demo` for the
    /// bundled demo network).
    #[arg(long)]
    pub network: Option<String>,
    /// First frame of the window to explain (with --network; default: the window centred on
    /// --frame, or on the first frame of --frames).
    #[arg(long, requires = "network")]
    pub explain_start: Option<usize>,
    /// Explanation rule (with --network).
    #[arg(long, value_enum, default_value_t = Rule::Recommended)]
    pub rule: Rule,
    /// What LRP is relative to (default: the network card's normative gait when it has one,
    /// else the zero input).
    #[arg(long, value_enum, requires = "network")]
    pub baseline: Option<super::explain_cmd::BaselineArg>,
    /// How relevance is scaled to colours: `window` (÷ the window's max |R|, the original's),
    /// `frame` (÷ the frame's own max |R|) or `window-sum` (each joint's relevance summed over
    /// the window: the joints the verdict rests on).
    #[arg(long, value_enum, default_value_t = ColourScaleArg::Window, requires = "network")]
    pub colour_scale: ColourScaleArg,
    /// Colour relevance on joint positions (what the network reads) or on joint rotations
    /// (each joint's rotation on the body part it turns; needs the normative baseline).
    #[arg(long, value_enum, default_value_t = super::explain_cmd::SpaceArg::Positions, requires = "network")]
    pub space: super::explain_cmd::SpaceArg,
}

/// Colour scales of `gaitlens render --colour-scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColourScaleArg {
    /// ÷ max |R| over the explained window.
    Window,
    /// ÷ max |R| of each frame.
    Frame,
    /// Σ over the window's frames per joint.
    WindowSum,
}

/// The viewer's choice for an explanation rule of the command line (`render` takes the same
/// `--rule` values as `explain` and `export`).
#[cfg(feature = "viewer")]
fn render_choice(rule: Rule) -> gaitlens::viewer::network::ExplainChoice {
    use gaitlens::viewer::network::ExplainChoice as C;
    match rule {
        Rule::Recommended => C::Recommended,
        Rule::Eps => C::Epsilon,
        Rule::EpsOriginal => C::EpsilonOriginal,
        Rule::Zplus => C::ZPlus,
        Rule::Gamma => C::Gamma,
        Rule::Zb => C::Bounded,
        Rule::Composite => C::Composite,
        Rule::CpLrp => C::CpLrp,
        Rule::AttnLrp => C::AttnLrp,
        Rule::Attention => C::Attention,
        Rule::GradInput => C::GradientInput,
    }
}

/// Parses `WIDTHxHEIGHT`.
#[cfg(feature = "viewer")]
fn parse_size(s: &str) -> anyhow::Result<(u32, u32)> {
    use anyhow::Context;
    s.split_once('x')
        .and_then(|(w, h)| Some((w.trim().parse::<u32>().ok()?, h.trim().parse::<u32>().ok()?)))
        .with_context(|| format!("--size {s}: expected WIDTHxHEIGHT, e.g. 1280x720"))
}

#[cfg(feature = "viewer")]
pub fn view(args: ViewArgs) -> anyhow::Result<ExitCode> {
    use gaitlens::viewer::{ViewerOptions, run_viewer};
    use std::sync::Arc;
    let (model, constrained) = match &args.model {
        Some(path) => {
            let supr = gaitlens::body::supr::load_supr(path)?;
            (Arc::new(supr.model), supr.constrained)
        }
        None => (
            Arc::new(gaitlens::body::default_model::default_body().clone()),
            None,
        ),
    };
    let mut opts = ViewerOptions::new(model.clone());
    opts.constrained = constrained.filter(|_| !args.unconstrained);
    opts.rate_hz = args.rate_hz;
    opts.sequence = args.sequence;
    if opts.sequence.is_none() {
        opts.initial_sequence = Some(Arc::new(gaitlens::viewer::demo::demo_sequence(&model)?));
    }
    opts.screenshot_and_exit = match args.screenshot {
        Some(path) => Some(gaitlens::viewer::ScreenshotAndExit {
            path,
            after_s: args.after,
            after_frames: 0,
        }),
        None => screenshot_from_env()?,
    };
    opts.network = args.network;
    opts.pelvis_markers = args.pelvis_markers.into();
    opts.explain_at_start = !args.no_explain;
    opts.bench_frames = args.bench_frames;
    opts.window_size = parse_size(&args.size)?;
    run_viewer(opts)?;
    Ok(ExitCode::SUCCESS)
}

/// `GAITLENS_SCREENSHOT=PATH` (with `GAITLENS_SCREENSHOT_AFTER_FRAMES=N`, default 30): a
/// screenshot and exit without any argument, so a test can run the bare binary exactly as
/// README tells a newcomer to.
#[cfg(feature = "viewer")]
fn screenshot_from_env() -> anyhow::Result<Option<gaitlens::viewer::ScreenshotAndExit>> {
    use anyhow::Context;
    let Some(path) = std::env::var_os("GAITLENS_SCREENSHOT") else {
        return Ok(None);
    };
    let after_frames = match std::env::var("GAITLENS_SCREENSHOT_AFTER_FRAMES") {
        Ok(v) => v.trim().parse::<u32>().with_context(|| {
            format!("GAITLENS_SCREENSHOT_AFTER_FRAMES={v}: expected a whole number of frames")
        })?,
        Err(_) => 30,
    };
    Ok(Some(gaitlens::viewer::ScreenshotAndExit {
        path: path.into(),
        after_s: 0.0,
        after_frames,
    }))
}

#[cfg(feature = "viewer")]
pub fn render(args: RenderArgs) -> anyhow::Result<ExitCode> {
    use anyhow::Context;
    use gaitlens::viewer::render::{FrameRange, RenderOptions, parse_frame_range, render_png};
    use std::sync::Arc;
    let model = Arc::new(gaitlens::body::default_model::default_body().clone());
    let seq = match &args.sequence {
        Some(p) if SourceKind::classify(p) == SourceKind::MarkerTrial => {
            // A marker trial is fitted first (the same fit as the viewer's), with a progress bar.
            let bar = indicatif::ProgressBar::new(0).with_style(
                indicatif::ProgressStyle::with_template(
                    "fitting {msg} {bar:30} {pos}/{len} frames ({eta})",
                )
                .expect("valid template"),
            );
            bar.set_message(p.display().to_string());
            let pelvis_markers = args.pelvis_markers.into();
            let fitted =
                gaitlens::viewer::trial::fit_marker_file(p, &model, pelvis_markers, |i, n| {
                    bar.set_length(n as u64);
                    bar.set_position(i as u64);
                })?;
            bar.finish_and_clear();
            eprintln!(
                "fitted {}: median marker RMSE {:.1} mm",
                p.display(),
                fitted.median_rmse_m * 1e3
            );
            fitted.sequence
        }
        Some(p) => {
            gaitlens::viewer::dialogs::load_sequence(p, &model, args.rate_hz.unwrap_or(100.0))?
        }
        None => gaitlens::viewer::demo::demo_sequence(&model)?,
    };
    let (w, h) = parse_size(&args.size)?;
    let importance = match &args.network {
        Some(net) => {
            use gaitlens::viewer::colouring::{ColourScale, Importance};
            use gaitlens::viewer::network::{ViewerNetwork, run_explain_in, sequence_joints};
            let network = if net == "demo" {
                ViewerNetwork::demo(None)?
            } else {
                ViewerNetwork::load(std::path::Path::new(net), None)?
            };
            let choice = render_choice(args.rule);
            let start = match args.explain_start {
                Some(start) => start,
                None => window_centred_on(&network.card, &seq, first_rendered_frame(&args)?)?,
            };
            let joints = sequence_joints(&model, &seq.betas, &seq)?;
            let baseline = match args.baseline {
                Some(super::explain_cmd::BaselineArg::Zero) => gaitlens::explain::Baseline::Zero,
                Some(super::explain_cmd::BaselineArg::Normative) => {
                    if network.card.normative_gait.is_none() {
                        anyhow::bail!(
                            "{net}: the network card has no normative gait; use --baseline zero"
                        );
                    }
                    gaitlens::explain::Baseline::Normative
                }
                None => gaitlens::explain::Baseline::Normative,
            };
            let space = match args.space {
                super::explain_cmd::SpaceArg::Positions => {
                    gaitlens::inference::RelevanceSpace::Positions
                }
                super::explain_cmd::SpaceArg::Rotations => {
                    gaitlens::inference::RelevanceSpace::Rotations
                }
            };
            let out = run_explain_in(
                &network,
                (&joints, seq.legs_measured.as_deref()),
                seq.rate_hz,
                (start, choice, baseline),
                space,
                false,
            )
            .with_context(|| format!("explaining with {net}"))?;
            let p = out.shown.probability_sick();
            println!(
                "{}: P(sick) = {p:.3} for {} ({}, {:.0} ms on the CPU)",
                network.source,
                gaitlens::inference::frame_span(&out.placement.frames_read()),
                out.shown.label,
                out.explain_ms
            );
            Some(Importance {
                shown: Some(out.shown),
                enabled: true,
                colormap: choice.colormap(),
                weighting: Default::default(),
                scale: match args.colour_scale {
                    ColourScaleArg::Window => ColourScale::Window,
                    ColourScaleArg::Frame => ColourScale::Frame,
                    ColourScaleArg::WindowSum => ColourScale::WindowSum,
                },
            })
        }
        None => None,
    };
    let mut opts = RenderOptions::new(model, args.out.clone());
    opts.importance = importance;
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

/// The first frame `render` draws: `--frame`, or the start of `--frames`.
#[cfg(feature = "viewer")]
fn first_rendered_frame(args: &RenderArgs) -> anyhow::Result<usize> {
    Ok(match &args.frames {
        Some(r) => gaitlens::viewer::render::parse_frame_range(r)?.start,
        None => args.frame,
    })
}

/// The first frame of the network window centred on sequence frame `frame` (kept inside the
/// sequence), so that a rendered frame is coloured by a window that holds it.
#[cfg(feature = "viewer")]
fn window_centred_on(
    card: &gaitlens::train::ModelCard,
    seq: &gaitlens::viewer::ViewerSequence,
    frame: usize,
) -> anyhow::Result<usize> {
    let frames = seq.num_frames();
    let grid = gaitlens::inference::WindowGrid::new(card, Some(seq.rate_hz), frames)?;
    let Some(last_start) = grid.last_start() else {
        return Ok(0); // too short: the explanation names how many frames it needs
    };
    let window = frames - last_start;
    Ok(frame.saturating_sub(window / 2).min(last_start))
}

#[cfg(not(feature = "viewer"))]
pub fn view(_: ViewArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("this gaitlens was built without the `viewer` feature")
}

#[cfg(not(feature = "viewer"))]
pub fn render(_: RenderArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("this gaitlens was built without the `viewer` feature")
}
