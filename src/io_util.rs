//! Small I/O helpers shared by every writer, the readers' error messages and the binary.

use std::io::Write;
use std::path::Path;

/// `s` with control and other invisible characters escaped (`\x1b`, `\u{202e}`), for error and
/// warning messages that quote text taken from a file (a corrupted label must not reach the
/// terminal as raw escape sequences or bidi overrides).
pub fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let invisible = matches!(
            c,
            '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{206f}'
                | '\u{feff}'
        );
        if c.is_control() || invisible {
            if (c as u32) < 0x80 {
                out.push_str(&format!("\\x{:02x}", c as u32));
            } else {
                out.push_str(&format!("\\u{{{:x}}}", c as u32));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether a panic message is the standard library's `print!`/`eprint!` failure ("failed
/// printing to stdout: Broken pipe (os error 32)"), returning the stream and the I/O error text.
pub fn stdio_print_failure(message: &str) -> Option<(&'static str, &str)> {
    ["stdout", "stderr"].into_iter().find_map(|stream| {
        message
            .strip_prefix("failed printing to ")?
            .strip_prefix(stream)?
            .strip_prefix(": ")
            .map(|error| (stream, error))
    })
}

/// Installs a panic hook under which a failed write to stdout or stderr (a closed pipe as in
/// `gaitlens inspect F | head -c 10`, a full disk as in `> /dev/full`) ends the process quietly
/// with exit status 1 instead of a panic message and status 101. A broken pipe is silent (the
/// reader chose to stop); other errors get one line on stderr. Every other panic goes to the
/// previously installed hook unchanged.
pub fn exit_quietly_on_stdio_errors() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied());
        if let Some((stream, error)) = message.and_then(stdio_print_failure) {
            if !is_broken_pipe_text(error) {
                // Never `eprintln!` here: it would panic again if stderr is the broken stream.
                let _ = writeln!(
                    std::io::stderr(),
                    "gaitlens: cannot write to {stream}: {error}"
                );
            }
            std::process::exit(1);
        }
        previous(info)
    }));
}

/// Whether an I/O error text (as std formats it) is a broken pipe (EPIPE).
fn is_broken_pipe_text(error: &str) -> bool {
    error.contains("os error 32") || error.contains("Broken pipe")
}

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, fsync, then rename,
/// so an interrupted run never leaves a half-written output.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_content_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let n = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(n, 1, "temporary file left behind");
    }

    #[test]
    fn printable_escapes_controls_and_bidi_but_keeps_text() {
        assert_eq!(printable("LASI"), "LASI");
        assert_eq!(printable("Kn\u{e9}e"), "Kn\u{e9}e");
        assert_eq!(printable("a\x1b[31mb\0"), "a\\x1b[31mb\\x00");
        assert_eq!(printable("x\u{202e}y\n"), "x\\u{202e}y\\x0a");
    }

    #[test]
    fn print_failures_are_recognised() {
        assert_eq!(
            stdio_print_failure("failed printing to stdout: Broken pipe (os error 32)"),
            Some(("stdout", "Broken pipe (os error 32)"))
        );
        assert_eq!(
            stdio_print_failure("failed printing to stderr: x"),
            Some(("stderr", "x"))
        );
        assert!(stdio_print_failure("index out of bounds").is_none());
        assert!(is_broken_pipe_text("Broken pipe (os error 32)"));
        assert!(!is_broken_pipe_text(
            "No space left on device (os error 28)"
        ));
    }
}
