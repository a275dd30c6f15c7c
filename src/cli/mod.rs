//! Argument parsing and dispatch; anyhow lives only here, at the binary's edge.

mod body_cmd;
mod evaluate_cmd;
mod explain_cmd;
mod export_cmd;
mod fit_cmd;
mod inspect_cmd;
mod report_cmd;
mod synth_cmd;
mod train_cmd;
mod video_cmd;
mod view_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Explainable gait analysis: fit a body model to motion capture, classify gait, explain why.
#[derive(Debug, Parser)]
#[command(
    name = "gaitlens",
    version,
    about,
    long_about = None,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// More log output (-v info, -vv debug, -vvv trace); `RUST_LOG` overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Option<Command>,
    /// With no subcommand, `gaitlens [VIEW OPTIONS]` is `gaitlens view [VIEW OPTIONS]`: the same
    /// arguments, parsed by clap, so the defaults are clap's (a derived `Default` would leave
    /// `--size` empty and the bare binary would not start).
    #[command(flatten)]
    view: view_cmd::ViewArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Open the 3D viewer (the default when no subcommand is given).
    View(view_cmd::ViewArgs),
    /// Inspect or build body models.
    #[command(subcommand)]
    Body(body_cmd::BodyCommand),
    /// Summarise any supported gait file (C3D, TRC, OpenPose folder/zip, pose folder, cohort, constraints).
    Inspect {
        /// The file or folder to summarise.
        path: PathBuf,
        /// Print machine-readable JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Fit the body model to motion-capture markers (C3D/TRC) and write a pose sequence.
    Fit(fit_cmd::FitArgs),
    /// Build a semi-synthetic cohort with known pathologies (clearly labelled, not clinical data).
    Synth(synth_cmd::SynthArgs),
    /// Train a transformer or MLP gait classifier on a pose-folder cohort.
    Train(train_cmd::TrainArgs),
    /// Explain a classifier's decision on a sequence window (LRP / attention).
    Explain(explain_cmd::ExplainArgs),
    /// Score a network and its explanations against a synthetic cohort's ground truth.
    Evaluate(evaluate_cmd::EvaluateArgs),
    /// Learn a network's normative gait (the reference of normative explanations) from the
    /// healthy training windows of its cohort and store it in its model card.
    Normative(evaluate_cmd::NormativeArgs),
    /// Video pipeline: OpenPose keypoints → CNN / LSTM / CNN-LSTM.
    #[command(subcommand)]
    Video(video_cmd::VideoCommand),
    /// Render frames of a sequence headless to PNG.
    Render(view_cmd::RenderArgs),
    /// Clinical gait report of one walk: events, cycles, PiG curves over normative bands,
    /// spatio-temporal parameters, GVS/GPS/MAP (fits the trial first when needed).
    Report(report_cmd::ReportArgs),
    /// Export a fitted walk as an animated glTF binary (.glb), optionally coloured by a
    /// network's relevance (opens in Blender and web glTF viewers).
    Export(export_cmd::ExportArgs),
}

/// Parses the command line, runs the command and maps errors to a non-zero exit code.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", error_message(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes joined by ": ", each cause once (a library error whose message
/// already quotes its source would otherwise print it twice, e.g. "No such file or directory
/// (os error 2): No such file or directory (os error 2)"), with control characters from corrupted
/// file names or contents escaped so they never reach the terminal raw.
pub fn error_message(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out.chars()
        .flat_map(|c| match c {
            '\n' | '\t' => vec![c],
            c if c.is_control() => c.escape_default().collect(),
            c => vec![c],
        })
        .collect()
}

fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command.unwrap_or(Command::View(cli.view)) {
        Command::View(a) => view_cmd::view(a),
        Command::Body(cmd) => body_cmd::run(cmd),
        Command::Inspect { path, json } => inspect_cmd::run(&path, json),
        Command::Fit(a) => fit_cmd::run(a),
        Command::Synth(a) => synth_cmd::run(a),
        Command::Train(a) => train_cmd::train_cmd(a),
        Command::Explain(a) => explain_cmd::explain_cmd(a),
        Command::Evaluate(a) => evaluate_cmd::evaluate_cmd(a),
        Command::Normative(a) => evaluate_cmd::normative_cmd(a),
        Command::Video(c) => video_cmd::run(c),
        Command::Render(a) => view_cmd::render(a),
        Command::Report(a) => report_cmd::run(a),
        Command::Export(a) => export_cmd::run(a),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn error_messages_print_each_cause_once_and_escape_control_characters() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "gone (os error 2)");
        let e = anyhow::Error::new(io).context("/x/card.mpk: gone (os error 2)");
        assert_eq!(super::error_message(&e), "/x/card.mpk: gone (os error 2)");
        let e = anyhow::anyhow!("cause").context("bad\u{7}name.c3d");
        assert_eq!(super::error_message(&e), "bad\\u{7}name.c3d: cause");
    }

    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn no_arguments_is_view_with_clap_defaults() {
        let cli = Cli::try_parse_from(["gaitlens"]).expect("the bare binary must parse");
        assert!(cli.command.is_none());
        assert_eq!(cli.view.size, "1280x800");
        assert_eq!(cli.view.after, 3.0);
        // The same defaults as the explicit subcommand.
        let Some(Command::View(explicit)) = Cli::try_parse_from(["gaitlens", "view"])
            .expect("view parses")
            .command
        else {
            panic!("`gaitlens view` is not the view command");
        };
        assert_eq!(explicit.size, cli.view.size);
        // View options work without the subcommand name, and do not mix with another command.
        let cli = Cli::try_parse_from(["gaitlens", "--size", "640x480"]).expect("parses");
        assert_eq!(cli.view.size, "640x480");
        assert!(Cli::try_parse_from(["gaitlens", "--size", "640x480", "inspect", "x"]).is_err());
    }
}
