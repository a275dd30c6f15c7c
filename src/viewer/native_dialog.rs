//! A native file picker (rfd) in a background task, shared by every panel that opens files.

use std::path::PathBuf;

use bevy::tasks::{AsyncComputeTaskPool, Task, block_on, poll_once};

/// A dialog that answers faster than this was never shown: no person cancels that quickly.
const NO_DIALOG_S: f64 = 0.4;

/// A native file picker (rfd) running in a background task so the window keeps drawing, with
/// what it asks for and when it opened. rfd answers "nothing" both when the user cancels and when
/// no desktop file portal (or zenity) can show a dialog; the time it took tells the two apart.
pub struct NativeDialog {
    task: Task<Option<PathBuf>>,
    what: &'static str,
    opened: std::time::Instant,
}

impl NativeDialog {
    /// Opens a picker for a folder (`filter` None) or a file with one of the extensions.
    pub fn spawn(
        what: &'static str,
        title: &'static str,
        filter: Option<(&'static str, &'static [&'static str])>,
    ) -> Self {
        let task = AsyncComputeTaskPool::get().spawn(async move {
            let dialog = rfd::AsyncFileDialog::new().set_title(title);
            let picked = match filter {
                None => dialog.pick_folder().await,
                Some((name, extensions)) => dialog.add_filter(name, extensions).pick_file().await,
            };
            picked.map(|h| h.path().to_path_buf())
        });
        NativeDialog {
            task,
            what,
            opened: std::time::Instant::now(),
        }
    }

    /// The chosen path once the dialog has closed, or the sentence to show when nothing was
    /// chosen; `None` while it is open.
    pub fn poll(&mut self) -> Option<Result<PathBuf, String>> {
        let result = block_on(poll_once(&mut self.task))?;
        Some(
            result.ok_or_else(|| {
                nothing_chosen_message(self.what, self.opened.elapsed().as_secs_f64())
            }),
        )
    }
}

/// What to tell the user when a dialog for `what` returned nothing after `elapsed_s` seconds.
pub fn nothing_chosen_message(what: &str, elapsed_s: f64) -> String {
    if elapsed_s < NO_DIALOG_S {
        format!(
            "no file dialog could be shown for the {what} (this desktop has no file portal or \
             zenity): type its path in the panel or drag it onto the window"
        )
    } else {
        format!("no {what} chosen")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instant_empty_answer_means_no_dialog_was_shown() {
        let m = nothing_chosen_message("marker trial", 0.05);
        assert!(
            m.contains("no file dialog could be shown for the marker trial"),
            "{m}"
        );
        assert!(m.contains("type its path"), "{m}");
        assert_eq!(
            nothing_chosen_message("network checkpoint", 3.0),
            "no network checkpoint chosen"
        );
    }
}
