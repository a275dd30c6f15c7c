//! The `gaitlens` command line: the viewer (default) and the pipeline's subcommands.

mod cli;

fn main() -> std::process::ExitCode {
    cli::run()
}
