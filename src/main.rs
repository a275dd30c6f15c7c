//! The `gaitlens` command line: the viewer (default) and the pipeline's subcommands.

mod cli;

use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    // Output to a closed pipe or a full disk ends every command quietly with status 1 instead of
    // a `println!` panic (status 101 with a backtrace hint).
    gaitlens::io_util::exit_quietly_on_stdio_errors();
    let code = cli::run();
    // Anything still buffered (a last line without a newline) must reach stdout too: a failure
    // here is an error, not a silent exit 0 with truncated output.
    if let Err(e) = std::io::stdout().flush() {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            let _ = writeln!(std::io::stderr(), "gaitlens: cannot write to stdout: {e}");
        }
        return ExitCode::FAILURE;
    }
    code
}
