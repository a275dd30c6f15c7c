//! `gaitlens explain`: the relevance of one window of a fitted walk, and the classification
//! track over the whole walk. The work is [`gaitlens::inference`]'s; this is the command line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, anyhow, bail};
use burn::backend::{Autodiff, NdArray};
use clap::{Args, ValueEnum};

use gaitlens::dataset::{JointSequence, sequence_from_poses};
use gaitlens::explain::{Baseline, ExplainMethod, LrpRule, check_rate_hz};
use gaitlens::formats::pose_seq::{PoseSidecars, read_complete_pose_folder};
use gaitlens::inference::{ExplainedWindow, WindowError, classification_track};
use gaitlens::io_util::write_atomic;
use gaitlens::nn::LoadedModel;
use gaitlens::train::{CardExpectation, ModelCard, load_checkpoint};

/// The CLI's backend: CPU, with autodiff for LRP.
pub(super) type A = Autodiff<NdArray>;

/// Relevance rule for `explain` (formulas: `gaitlens::explain::lrp`). A rule the network does
/// not support is an error naming rule and network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Rule {
    /// The network's recommended rule: `eps` for MLPs, `cp-lrp` for transformers, gradient ×
    /// input for the asymmetry network (it has no layers to propagate relevance through).
    Recommended,
    /// MLP: textbook LRP-ε, z + 0.25·sign(z), on every linear layer; any sign of input.
    Eps,
    /// MLP: the original's rule exactly (lrp package, ε = 0.25 on linear and activation
    /// layers, denominator z + 0.25 without sign); any sign, unstable near z = −0.25.
    EpsOriginal,
    /// MLP: z⁺ on the products (a·w)⁺ / (a·w)⁻ by the sign of z, bias ignored; any sign.
    Zplus,
    /// MLP: sign-aware γ = 0.25 (for a ≥ 0 Montavon's γ rule); any sign.
    Gamma,
    /// MLP: z^B (bounded) input layer, box ±4 SD of the standardised input (±2 unstandardised),
    /// widened to contain the input; ε = 0.25 above.
    Zb,
    /// MLP: LRP-CMP — z^B input layer, γ = 0.25 on the pose-feature layers, ε = 0.25 on the
    /// classifier layers.
    Composite,
    /// Transformer: CP-LRP (softmax weights, LayerNorm scale, GELU gate constant; conservative).
    CpLrp,
    /// Transformer: AttnLRP (also through the softmax and queries/keys, uniform rule on the
    /// bilinear products; the softmax absorbs relevance).
    AttnLrp,
    /// Transformer: the original's attention explanation.
    Attention,
    /// Any network: plain gradient × input, no LRP rule (the control the rules are measured
    /// against in `gaitlens evaluate`).
    GradInput,
}

/// Arguments of `gaitlens explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// Model card (STEM.json) written by `gaitlens train`.
    #[arg(long)]
    pub network: PathBuf,
    /// Pose folder of one gait (pose_*.json|txt).
    #[arg(long)]
    pub sequence: PathBuf,
    /// The explained window, rule and baseline.
    #[command(flatten)]
    pub window: WindowArgs,
    /// CSV of relevance per frame × joint (signed, raw).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also classify every window of the sequence (sliding track) and print it.
    #[arg(long)]
    pub track: bool,
    /// Frame rate when the pose folder has no fit_report.json stating one (else the walk is
    /// read at the network's own rate, with a warning).
    #[arg(long)]
    pub rate_hz: Option<f64>,
}

/// Loads a pose folder with what its side files record (the frames whose legs were measured
/// in the sequence; the fit setting and the rest in the returned side files); a frame rate its
/// `fit_report.json` states, or else `rate_hz` (`--rate-hz`), must be in
/// [`gaitlens::explain::RATE_RANGE_HZ`], and `--rate-hz` may not contradict the folder's.
pub(super) fn load_sequence(
    model: &gaitlens::body::BodyModel,
    dir: &Path,
    rate_hz: Option<f64>,
) -> anyhow::Result<(JointSequence, PoseSidecars)> {
    let (mut poses, sidecars) = read_complete_pose_folder(dir)?;
    let report = dir.join("fit_report.json");
    // Where the rate comes from, for the message if it is unusable.
    let source = match (poses.rate_hz, rate_hz) {
        (Some(stated), Some(given)) if (stated - given).abs() > 1e-9 * stated.abs().max(1.0) => {
            bail!(
                "--rate-hz {given} contradicts {}, which states {stated} Hz",
                report.display()
            )
        }
        (None, Some(given)) => {
            poses.rate_hz = Some(given);
            format!("--rate-hz {given}")
        }
        _ => report.display().to_string(),
    };
    if let Some(r) = poses.rate_hz
        && let Err(reason) = check_rate_hz(r)
    {
        bail!("{source}: {reason}");
    }
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut seq = sequence_from_poses(model, &poses, &name, &name, false, vec![])?;
    seq.legs_measured = sidecars.legs_measured(&poses.frame_numbers);
    Ok((seq, sidecars))
}

/// Loads a network for `explain` / `evaluate`: 22 joints, any alignment this build knows.
pub(super) fn load_network(
    card_path: &Path,
    device: &burn::backend::ndarray::NdArrayDevice,
) -> anyhow::Result<(LoadedModel<A>, ModelCard)> {
    let expect = CardExpectation {
        interval: None,
        joints: Some(22),
        alignment_version: None,
    };
    let (net, card) =
        load_checkpoint::<A>(card_path, &expect, device).context("loading the network")?; // its error names the file
    if let Some(r) = card.rate_hz
        && let Err(reason) = check_rate_hz(r)
    {
        bail!("{}: {reason}", card_path.display());
    }
    Ok((net, card))
}

/// Which window to explain and how: the options `explain` and `export` share.
#[derive(Debug, Clone, Copy, Args)]
pub struct WindowArgs {
    /// First frame of the explained window (default: frame 0, or, when that window holds frames
    /// whose pelvis or leg markers were missing or interpolated, the first window measured
    /// throughout).
    #[arg(long)]
    pub start: Option<usize>,
    /// Relevance rule.
    #[arg(long, value_enum, default_value_t = Rule::Recommended)]
    pub rule: Rule,
    /// What relevance is relative to (default: `normative` when the network card has a
    /// normative gait, else `zero`, the original's).
    #[arg(long, value_enum)]
    pub baseline: Option<BaselineArg>,
    /// What relevance is reported on: `positions` (the joint positions the network reads) or
    /// `rotations` (carried through the body's joints to the rotations that moved them,
    /// relative to the normative gait; README "Explanations against fair controls").
    #[arg(long, value_enum, default_value_t = SpaceArg::Positions)]
    pub space: SpaceArg,
}

/// `--space` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SpaceArg {
    /// Joint positions.
    Positions,
    /// Joint rotations.
    Rotations,
}

/// What a window explanation is asked for, with the files to name in messages.
pub struct WindowRequest<'a> {
    /// The network's model card (for messages).
    pub network: &'a Path,
    /// The pose folder (for messages).
    pub sequence: &'a Path,
    /// Window start, rule and baseline.
    pub window: WindowArgs,
}

/// Explains the window of `seq` that `req` asks for ([`gaitlens::inference::explain_sequence_window`]),
/// with errors naming the flag and the files.
pub fn explain_walk(
    net: &LoadedModel<A>,
    card: &ModelCard,
    seq: &JointSequence,
    req: &WindowRequest,
    device: &burn::backend::ndarray::NdArrayDevice,
) -> anyhow::Result<ExplainedWindow> {
    let w = req.window;
    let window = gaitlens::inference::WindowRequest {
        start: w.start.unwrap_or_else(|| default_start(card, seq)),
        method: rule_method(w.rule),
        baseline: w.baseline.map(BaselineArg::baseline),
        space: match w.space {
            SpaceArg::Positions => gaitlens::inference::RelevanceSpace::Positions,
            SpaceArg::Rotations => gaitlens::inference::RelevanceSpace::Rotations,
        },
    };
    let out = gaitlens::inference::explain_sequence_window(
        net,
        card,
        &seq.joints,
        seq.rate_hz,
        &window,
        device,
    )
    .map_err(|e| window_error(e, req))?;
    if let (None, Some(r)) = (seq.rate_hz, card.rate_hz) {
        eprintln!(
            "warning: {}: no fit_report.json states the frame rate; read as the network's {r:.0} \
             Hz (give --rate-hz if the walk was recorded at another rate)",
            req.sequence.display()
        );
    }
    if !out.placement.grid.map.is_identity() {
        eprintln!(
            "resampling {:.0} Hz → the network's {:.0} Hz ({} frames a window)",
            seq.rate_hz.unwrap_or_default(),
            card.rate_hz.unwrap_or_default(),
            out.placement.window
        );
    }
    Ok(out)
}

/// The window `explain` and `export` explain without `--start`: frame 0, or the first window
/// measured throughout when frame 0's holds frames the fitter guessed (said on stderr, with how to
/// explain frame 0's anyway).
fn default_start(card: &ModelCard, seq: &JointSequence) -> usize {
    let Some(measured) = &seq.legs_measured else {
        return 0;
    };
    // A rate the window cannot be placed at is reported by the explanation itself.
    let Ok(grid) = gaitlens::inference::WindowGrid::new(card, seq.rate_hz, seq.joints.len()) else {
        return 0;
    };
    let start = gaitlens::inference::measured_window_start(measured, 0, &grid);
    if start != 0 {
        eprintln!(
            "explaining {}, the first window whose pelvis and leg markers were all seen: the \
             window at frame 0 holds frames the fitter guessed (`--start 0` explains it)",
            gaitlens::inference::frame_span(&grid.frames_read(start))
        );
    }
    start
}

/// A window error as the command line says it: the flag for a bad start, the file otherwise.
fn window_error(e: WindowError, req: &WindowRequest) -> anyhow::Error {
    let (network, sequence) = (req.network.display(), req.sequence.display());
    match e {
        WindowError::Start {
            start,
            last_start,
            frames,
            window,
        } => anyhow!(
            "--start {start} is past the sequence's last window start {last_start} ({frames} \
             frames, window {window}; {sequence})"
        ),
        WindowError::NoNormativeGait => anyhow!("{network}: {e}; or use --baseline zero"),
        WindowError::RotationsNeedReference => anyhow!("--space rotations: {e}"),
        WindowError::TooShort { .. } => anyhow!("{sequence}: {e}"),
        e => anyhow::Error::new(e).context(format!("explaining {sequence} with {network}")),
    }
}

/// `gaitlens explain`: the verdict, out-of-domain note and most relevant joints of one window,
/// optionally the relevance CSV and the classification track.
pub fn explain_cmd(a: ExplainArgs) -> anyhow::Result<ExitCode> {
    let device = Default::default();
    let (net, card) = load_network(&a.network, &device)?;
    let model = gaitlens::body::default_model::default_body();
    let (seq, sidecars) = load_sequence(model, &a.sequence, a.rate_hz)?;
    let req = WindowRequest {
        network: &a.network,
        sequence: &a.sequence,
        window: a.window,
    };
    let explained = explain_walk(&net, &card, &seq, &req, &device)?;
    print_verdict(&a, &card, &explained);
    let walk_fit = gaitlens::fit::PelvisMarkers::recorded_in(&sidecars);
    if let Some(note) = card.fit_setting_note(walk_fit) {
        println!("warning: {note}");
    }
    print_unmeasured_note(&seq, &explained);
    print_readout(&explained);
    let unmeasured = sidecars.unconstrained_joints();
    print_top_joints(&explained, &model.joint_names, a.window.space, &unmeasured);
    if let Some(out) = &a.out {
        write_relevance_csv(out, &explained, &model.joint_names)?;
    }
    if a.track {
        print_track(&net, &card, &seq, &device)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints the verdict of the window and whether it is like the network's training data.
fn print_verdict(a: &ExplainArgs, card: &ModelCard, explained: &ExplainedWindow) {
    let p = explained.probability();
    println!(
        "{}: {} with probability {:.3}{} (logit {:.3}), {} ({} network)",
        a.sequence.display(),
        if p >= 0.5 { "sick" } else { "healthy" },
        if p >= 0.5 { p } else { 1.0 - p },
        probability_note(card),
        explained.explanation.logit,
        gaitlens::inference::frame_span(&explained.placement.frames_read()),
        card.network_type
    );
    match &explained.domain {
        Some(d) => println!("{}", d.note()),
        None => println!(
            "the network card has no out-of-domain statistics (written before gaitlens stored \
             them): cannot tell whether this walk is like its training data"
        ),
    }
}

/// Warns when the explained window holds frames whose legs were not measured (pelvis or leg
/// markers missing, or the frame interpolated), and names the first window measured throughout.
fn print_unmeasured_note(seq: &JointSequence, explained: &ExplainedWindow) {
    let Some(measured) = &seq.legs_measured else {
        return;
    };
    let p = &explained.placement;
    if let Some(note) = gaitlens::inference::unmeasured_window_note(measured, &p.grid, p.start) {
        println!("warning: {note}");
    }
}

/// For the asymmetry network: which detector decided and the four features that added most to
/// its logit (SDs from the training windows' mean).
fn print_readout(explained: &ExplainedWindow) {
    let Some(r) = &explained.readout else { return };
    println!("{}; what it read most:", r.headline());
    for f in r.deciding_features().iter().take(4) {
        println!("  {}", f.describe());
    }
}

/// What follows a probability of `card`: its temperature, or why it is uncalibrated.
pub(super) fn probability_note(card: &ModelCard) -> String {
    match (card.calibration, card.calibration_note()) {
        (Some(c), _) => format!(" (calibrated, T = {:.3})", c.temperature),
        (None, Some(note)) => format!(" ({note})"),
        (None, None) => String::new(),
    }
}

/// Prints the five joints with the largest summed relevance.
fn print_top_joints(
    explained: &ExplainedWindow,
    names: &[String],
    space: SpaceArg,
    unmeasured: &[String],
) {
    let totals = explained.explanation.joint_totals();
    let mut order: Vec<usize> = (0..totals.len()).collect();
    order.sort_by(|&i, &j| totals[j].abs().total_cmp(&totals[i].abs()));
    let what = match space {
        SpaceArg::Positions => "joints",
        SpaceArg::Rotations => "joint rotations",
    };
    println!(
        "most relevant {what} (summed signed relevance, {}):",
        explained.relative_to()
    );
    for &j in order.iter().take(5) {
        // The fit's report lists joints no marker measures: their motion is the fitter's
        // neutral pose, so relevance there is about the prior, not the walker.
        let caveat = if unmeasured.contains(&names[j]) {
            "  (no marker measures it: the fitter held it at its neutral pose)"
        } else {
            ""
        };
        println!("  {:<16} {:+.4}{caveat}", names[j], totals[j]);
    }
}

/// Writes the relevance per network frame × joint, frames numbered in the sequence's frames.
fn write_relevance_csv(
    out: &Path,
    explained: &ExplainedWindow,
    names: &[String],
) -> anyhow::Result<()> {
    let e = &explained.explanation;
    let p = &explained.placement;
    let mut csv = String::from("frame");
    for n in names.iter().take(e.joints) {
        csv += &format!(",{n}");
    }
    csv.push('\n');
    for f in 0..e.interval {
        csv += &format!("{}", p.grid.map.to_sequence(p.network_start + f));
        for j in 0..e.joints {
            csv += &format!(",{:.6e}", e.relevance[f * e.joints + j]);
        }
        csv.push('\n');
    }
    write_atomic(out, csv.as_bytes()).with_context(|| format!("writing {}", out.display()))?;
    println!("relevance written to {}", out.display());
    Ok(())
}

/// Prints the classification track of every window (about 40 lines) and how many windows lie
/// outside the training data.
fn print_track(
    net: &LoadedModel<A>,
    card: &ModelCard,
    seq: &JointSequence,
    device: &burn::backend::ndarray::NdArrayDevice,
) -> anyhow::Result<()> {
    // On the plain backend: inference without dropout, reproducible run to run.
    let track = classification_track(
        &net.inference(),
        card,
        &seq.joints,
        seq.rate_hz,
        seq.legs_measured.as_deref(),
        1,
        device,
    )?;
    println!(
        "classification track (start frame, P(sick){}, * = outside the training data, ? = legs \
         not measured in some of its frames):",
        probability_note(card)
    );
    for t in track.iter().step_by((track.len() / 40).max(1)) {
        let outside = if t.outside == Some(true) { "  *" } else { "" };
        let unmeasured = if t.unmeasured == Some(true) {
            "  ?"
        } else {
            ""
        };
        println!(
            "  {:>5}  {:.3}{outside}{unmeasured}",
            t.start_frame, t.probability
        );
    }
    if card.domain.is_some() {
        let n = track.iter().filter(|t| t.outside == Some(true)).count();
        println!(
            "{n} of {} windows outside the network's training data",
            track.len()
        );
    }
    let n = track.iter().filter(|t| t.unmeasured == Some(true)).count();
    if n > 0 {
        println!(
            "{n} of {} windows hold frames with pelvis or leg markers missing (or interpolated): \
             their verdicts read the fitter's guess, not the walk",
            track.len()
        );
    }
    Ok(())
}

/// What relevance is relative to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BaselineArg {
    /// The zero input (plain LRP, as the original).
    Zero,
    /// The healthy gait at the same gait phase (the network card's normative table).
    Normative,
}

impl BaselineArg {
    /// The library's baseline.
    pub fn baseline(self) -> Baseline {
        match self {
            Self::Zero => Baseline::Zero,
            Self::Normative => Baseline::Normative,
        }
    }
}

/// The explanation method of a rule.
pub(super) fn rule_method(rule: Rule) -> ExplainMethod {
    match rule {
        Rule::Recommended => ExplainMethod::Lrp(LrpRule::Recommended),
        Rule::Eps => ExplainMethod::Lrp(LrpRule::Epsilon(0.25)),
        Rule::EpsOriginal => ExplainMethod::Lrp(LrpRule::EpsilonOriginal(0.25)),
        Rule::Zplus => ExplainMethod::Lrp(LrpRule::ZPlus),
        Rule::Gamma => ExplainMethod::Lrp(LrpRule::Gamma(0.25)),
        Rule::Zb => ExplainMethod::Lrp(LrpRule::Bounded),
        Rule::Composite => ExplainMethod::Lrp(LrpRule::Composite),
        Rule::CpLrp => ExplainMethod::Lrp(LrpRule::CpLrp),
        Rule::AttnLrp => ExplainMethod::Lrp(LrpRule::AttnLrp),
        Rule::Attention => ExplainMethod::Attention,
        Rule::GradInput => ExplainMethod::GradientInput,
    }
}
