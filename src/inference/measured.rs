//! Which windows read only frames whose legs were measured: a fit marks frames whose pelvis or
//! leg markers were missing (or interpolated), and a verdict over them reads the fitter's guess,
//! not the walk. Windows are placed by [`WindowGrid`], so every reader of these answers (the
//! default start, the warnings, the track's "?") names the frames the network actually reads.

use std::ops::Range;

use super::WindowGrid;

/// Whether any of sequence frames `frames` is unmeasured in `measured` (one entry per sequence
/// frame; frames past its end count as measured).
pub fn any_unmeasured(measured: &[bool], frames: Range<usize>) -> bool {
    let end = frames.end.min(measured.len());
    measured[frames.start.min(end)..end].iter().any(|m| !m)
}

/// The first window start of `grid` whose frames read are all measured; `None` when no window
/// is (or the sequence is too short for one).
fn first_measured_start(measured: &[bool], grid: &WindowGrid) -> Option<usize> {
    let last_start = grid.last_start()?;
    // Unmeasured frames before each frame: every start is then checked in constant time.
    let mut before = Vec::with_capacity(measured.len() + 1);
    before.push(0usize);
    for m in measured {
        before.push(before[before.len() - 1] + usize::from(!m));
    }
    let unmeasured_in = |r: Range<usize>| {
        let end = r.end.min(measured.len());
        before[end] - before[r.start.min(end)]
    };
    (0..=last_start).find(|&s| unmeasured_in(grid.frames_read(s)) == 0)
}

/// Where to explain by default: `start` itself, unless the window `grid` places there reads
/// frames whose legs were not measured (`measured`, one entry per sequence frame) and a window
/// measured throughout exists — then that first one, so that the first verdict a reader sees is
/// on the walk, not on the fitter's guess (a trial that starts with the subject walking into the
/// capture volume, markers still hidden).
pub fn measured_window_start(measured: &[bool], start: usize, grid: &WindowGrid) -> usize {
    if !any_unmeasured(measured, grid.frames_read(start)) {
        return start;
    }
    first_measured_start(measured, grid).unwrap_or(start)
}

/// "frames a–b" of a non-empty range (or "frame a").
pub fn frame_span(frames: &Range<usize>) -> String {
    let last = frames.end.saturating_sub(1).max(frames.start);
    if frames.start == last {
        format!("frame {}", frames.start)
    } else {
        format!("frames {}–{last}", frames.start)
    }
}

/// What to tell a reader when the window `grid` places at `start` reads frames whose legs were
/// not measured (`measured`, one entry per sequence frame): how many, where, and the first window
/// measured throughout. `None` when every frame it reads was measured.
pub fn unmeasured_window_note(
    measured: &[bool],
    grid: &WindowGrid,
    start: usize,
) -> Option<String> {
    let read = grid.frames_read(start);
    let end = read.end.min(measured.len());
    let unmeasured: Vec<usize> = (read.start.min(end)..end)
        .filter(|&f| !measured[f])
        .collect();
    let (first, last) = (*unmeasured.first()?, *unmeasured.last()?);
    let clean = match first_measured_start(measured, grid) {
        Some(s) if grid.frames_read(s).start == s => {
            format!("; the first window measured throughout starts at frame {s}")
        }
        Some(s) => format!(
            "; the first window measured throughout is the one placed at frame {s} ({})",
            frame_span(&grid.frames_read(s))
        ),
        None => "; no window of this walk is measured throughout".to_string(),
    };
    let (lack, were) = if unmeasured.len() == 1 {
        ("lacks", "was")
    } else {
        ("lack", "were")
    };
    Some(format!(
        "{} of this window's {} frames ({}) {lack} pelvis or leg markers or {were} interpolated: \
         the verdict reads the fitter's guess there, not the walk{clean}",
        unmeasured.len(),
        read.len(),
        frame_span(&(first..last + 1)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::FrameMap;

    /// Windows of `interval` frames at the sequence's own rate.
    fn same_rate(interval: usize, frames: usize) -> WindowGrid {
        WindowGrid {
            map: FrameMap::new(None, 1.0),
            interval,
            frames,
        }
    }

    #[test]
    fn windows_over_unmeasured_frames_are_found_and_the_first_clean_one_named() {
        let m = [false, true, true, true, false, true, true, true, true];
        assert!(any_unmeasured(&m, 0..3));
        assert!(!any_unmeasured(&m, 1..4));
        assert!(any_unmeasured(&m, 2..5));
        assert!(
            !any_unmeasured(&m, 5..20),
            "frames past the end count as measured"
        );
        assert!(!any_unmeasured(&m, 12..20));
        let n = m.len();
        assert_eq!(first_measured_start(&m, &same_rate(3, n)), Some(1));
        assert_eq!(first_measured_start(&m, &same_rate(4, n)), Some(5));
        assert_eq!(first_measured_start(&m, &same_rate(5, n)), None);
        assert_eq!(
            first_measured_start(&m, &same_rate(10, n)),
            None,
            "too short"
        );
        // A measured start stays; an unmeasured one moves to the first clean window, if any.
        assert_eq!(measured_window_start(&m, 1, &same_rate(3, n)), 1);
        assert_eq!(measured_window_start(&m, 0, &same_rate(3, n)), 1);
        assert_eq!(measured_window_start(&m, 0, &same_rate(4, n)), 5);
        assert_eq!(
            measured_window_start(&m, 2, &same_rate(5, n)),
            2,
            "no clean window: kept"
        );
        use crate::formats::pose_seq::runs_of;
        assert_eq!(runs_of(&m, true), vec![1..4, 5..9]);
        assert_eq!(runs_of(&m, false), vec![0..1, 4..5]);
        assert!(runs_of(&[], true).is_empty());
        assert_eq!(unmeasured_window_note(&m, &same_rate(4, n), 5), None);
        let note = unmeasured_window_note(&m, &same_rate(4, n), 2).unwrap();
        assert!(
            note.starts_with("1 of this window's 4 frames (frame 4)")
                && note.ends_with("starts at frame 5"),
            "{note}"
        );
    }

    #[test]
    fn at_another_rate_the_frames_a_window_reads_decide_whether_it_is_measured() {
        // sample23's case: 120 Hz onto a 50 Hz network of 100-frame windows, frames 0–252 guessed.
        let grid = WindowGrid {
            map: FrameMap::new(Some(50.0), 120.0),
            interval: 100,
            frames: 694,
        };
        let m: Vec<bool> = (0..694).map(|f| f >= 253).collect();
        // Placed at 253 the window starts at network frame 105, sequence time 252.0: it reads
        // the last guessed frame, so the first window measured throughout is the next one.
        assert_eq!(grid.frames_read(253), 252..491);
        assert_eq!(first_measured_start(&m, &grid), Some(254));
        assert_eq!(grid.frames_read(254), 254..493);
        assert_eq!(measured_window_start(&m, 0, &grid), 254);
        let note = unmeasured_window_note(&m, &grid, 253).unwrap();
        assert!(
            note.starts_with("1 of this window's 239 frames (frame 252) lacks pelvis")
                && note.ends_with("starts at frame 254"),
            "{note}"
        );
        assert_eq!(unmeasured_window_note(&m, &grid, 254), None);
    }
}
