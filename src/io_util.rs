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

/// An output folder written as a unit: files go into a hidden sibling (`.NAME.partial-PID`) and
/// [`StagedDir::commit`] swaps it into place, the previous output (if any) moved aside and
/// removed. A reader never sees two runs mixed (a rerun with fewer frames or another format
/// leaves no stale pose files); an interrupted run leaves only the hidden sibling, which the next
/// run into the same folder removes, and a dropped (failed) stage removes itself.
#[derive(Debug)]
pub struct StagedDir {
    target: std::path::PathBuf,
    staging: std::path::PathBuf,
    committed: bool,
}

/// Why an output folder cannot be staged or committed.
#[derive(Debug, thiserror::Error)]
pub enum StagedDirError {
    /// The target holds files that a previous run of the same command did not write.
    #[error(
        "{target} holds {entry}, which gaitlens did not write there; give an empty or new \
         folder (the output folder is replaced as a whole)"
    )]
    Foreign {
        /// The output folder.
        target: std::path::PathBuf,
        /// The first foreign entry.
        entry: String,
    },
    /// A file-system operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The path operated on.
        path: std::path::PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
}

impl StagedDir {
    /// Stages a new version of `target`. `ours` tells the entries of `target` a previous run
    /// wrote (any other non-hidden entry refuses the stage, so a mistyped `--out` never deletes
    /// a user's files); stale stages of interrupted runs are removed.
    pub fn new(target: &Path, ours: impl Fn(&str) -> bool) -> Result<Self, StagedDirError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| StagedDirError::Io { path, source }
        };
        if target.is_dir() {
            for entry in std::fs::read_dir(target).map_err(io(target))? {
                let name = entry.map_err(io(target))?.file_name();
                let name = name.to_string_lossy();
                if !name.starts_with('.') && !ours(&name) {
                    return Err(StagedDirError::Foreign {
                        target: target.to_path_buf(),
                        entry: printable(&name),
                    });
                }
            }
        } else if target.exists() {
            return Err(StagedDirError::Foreign {
                target: target.to_path_buf(),
                entry: "a file of that name".into(),
            });
        }
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "out".into());
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(io(&parent))?;
        let stale = format!(".{name}.partial-");
        let moved_aside = format!(".{name}.old-");
        for entry in std::fs::read_dir(&parent).map_err(io(&parent))?.flatten() {
            let n = entry.file_name().to_string_lossy().into_owned();
            if n.starts_with(&stale) || n.starts_with(&moved_aside) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        let staging = parent.join(format!("{stale}{}", std::process::id()));
        // Named by the folder the user asked for: the hidden staging name means nothing to them.
        std::fs::create_dir_all(&staging).map_err(io(target))?;
        Ok(StagedDir {
            target: target.to_path_buf(),
            staging,
            committed: false,
        })
    }

    /// Where to write the files.
    pub fn path(&self) -> &Path {
        &self.staging
    }

    /// Puts the staged folder in place of the target (the previous version removed).
    pub fn commit(mut self) -> Result<(), StagedDirError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| StagedDirError::Io { path, source }
        };
        let old = self.staging.with_file_name(
            self.staging
                .file_name()
                .map(|n| n.to_string_lossy().replace(".partial-", ".old-"))
                .unwrap_or_default(),
        );
        let had_old = self.target.exists();
        if had_old {
            std::fs::rename(&self.target, &old).map_err(io(&self.target))?;
        }
        if let Err(e) = std::fs::rename(&self.staging, &self.target) {
            if had_old {
                let _ = std::fs::rename(&old, &self.target);
            }
            return Err(io(&self.target)(e));
        }
        self.committed = true;
        if had_old {
            std::fs::remove_dir_all(&old).map_err(io(&old))?;
        }
        Ok(())
    }
}

impl Drop for StagedDir {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.staging);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staged_folders_replace_the_previous_output_as_a_whole() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("fit");
        let ours = |n: &str| n.starts_with("pose_") || n == "report.json";
        let names = |d: &Path| {
            let mut v: Vec<String> = std::fs::read_dir(d)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        let s = StagedDir::new(&out, ours).unwrap();
        for f in ["pose_00000.json", "pose_00001.json", "report.json"] {
            std::fs::write(s.path().join(f), "1").unwrap();
        }
        assert!(!out.exists(), "nothing is visible before the commit");
        s.commit().unwrap();
        assert_eq!(names(&out).len(), 3);
        // A failed run (the stage dropped) leaves the previous output and no hidden folder.
        {
            let s = StagedDir::new(&out, ours).unwrap();
            std::fs::write(s.path().join("pose_00000.json"), "2").unwrap();
        }
        assert_eq!(names(&out).len(), 3);
        assert_eq!(names(dir.path()), ["fit"]);
        // A killed run's stage is removed by the next; a rerun with other files has no stale ones.
        std::fs::create_dir(dir.path().join(".fit.partial-999999")).unwrap();
        let s = StagedDir::new(&out, ours).unwrap();
        assert!(!dir.path().join(".fit.partial-999999").exists());
        std::fs::write(s.path().join("pose_00000.txt"), "3").unwrap();
        s.commit().unwrap();
        assert_eq!(names(&out), ["pose_00000.txt"]);
        assert_eq!(names(dir.path()), ["fit"]);
        // A folder with someone else's files is never replaced.
        std::fs::write(out.join("thesis.docx"), "mine").unwrap();
        let e = StagedDir::new(&out, ours).unwrap_err();
        assert!(e.to_string().contains("thesis.docx"), "{e}");
        assert!(out.join("thesis.docx").exists());
    }

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
