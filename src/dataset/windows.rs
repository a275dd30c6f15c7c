//! Fixed-length windows over the joint sequences, the mirroring augmentation, and flat batch
//! data for the classifiers.
//!
//! Like the original (`Tensor.unfold(0, interval, 1)`), every sequence yields the windows
//! starting at `0, stride, 2·stride, …` that fit completely (a sequence shorter than the interval
//! yields none), and with mirroring each sequence appears a second time with left and right
//! joints swapped. The original mirrors by the joint permutation only; the alignment's z flip
//! (left ankle to −z) then turns the permuted copy into a true reflection, so no axis sign is
//! negated here either. Each window is aligned on its own, as in the original.

use super::align::{Alignment, Frame, NUM_JOINTS, PELVIS};
use super::{DatasetError, JointSequence};

pub use crate::body::smpl22::{MIRRORED_JOINT_ORDER, ORIGINAL_MIRRORED_JOINT_ORDER, mirror_frame};

/// One training/evaluation sample: `interval` consecutive frames of one sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Index into [`WindowDataset::sequences`].
    pub sequence: usize,
    /// First frame.
    pub start: usize,
    /// Whether left and right joints are swapped.
    pub mirrored: bool,
    /// Class label (`true` = sick).
    pub sick: bool,
    /// Index into [`WindowDataset::subjects`].
    pub subject: usize,
}

/// How sequences are cut into windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowConfig {
    /// Frames per window (the original's `sequence_interval`; its training script uses 64).
    pub interval: usize,
    /// Frames between window starts (the original uses 1).
    pub stride: usize,
    /// Whether to add the mirrored copy of every window (the original does by default).
    pub mirror: bool,
}

impl Default for WindowConfig {
    fn default() -> Self {
        Self {
            interval: 64,
            stride: 1,
            mirror: true,
        }
    }
}

/// A subject: its folder name and class (the same name in two classes is two subjects).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SubjectKey {
    /// `true` for the sick class.
    pub sick: bool,
    /// Subject folder name.
    pub name: String,
}

/// Sequences plus the list of their windows.
#[derive(Debug, Clone)]
pub struct WindowDataset {
    /// The joint sequences.
    pub sequences: Vec<JointSequence>,
    /// Distinct subjects, sorted by (class, name); [`Window::subject`] indexes this.
    pub subjects: Vec<SubjectKey>,
    /// All windows, per sequence in order, the mirrored copies after the originals.
    pub windows: Vec<Window>,
    /// The windowing used.
    pub config: WindowConfig,
    /// Windows left out because the pelvis does not move over them (cannot be aligned).
    pub skipped_still_windows: usize,
    /// How windows are aligned ([`Alignment::Original`] unless changed).
    pub alignment: Alignment,
}

impl WindowDataset {
    /// The frame rate shared by all sequences (within 0.1 %), `None` if any is unknown or
    /// they differ.
    pub fn common_rate_hz(&self) -> Option<f64> {
        let first = self.sequences.first()?.rate_hz?;
        self.sequences
            .iter()
            .all(|s| s.rate_hz.is_some_and(|r| (r - first).abs() <= 1e-3 * first))
            .then_some(first)
    }

    /// Cuts `sequences` into windows.
    pub fn new(sequences: Vec<JointSequence>, config: WindowConfig) -> Result<Self, DatasetError> {
        if config.interval < 2 || config.stride == 0 {
            return Err(DatasetError::Config {
                reason: format!(
                    "interval must be ≥ 2 and stride ≥ 1 (got interval {}, stride {})",
                    config.interval, config.stride
                ),
            });
        }
        let mut subjects: Vec<SubjectKey> = sequences
            .iter()
            .map(|s| SubjectKey {
                sick: s.sick,
                name: s.subject.clone(),
            })
            .collect();
        subjects.sort();
        subjects.dedup();
        let mut windows = Vec::new();
        let mut skipped = 0;
        for (si, s) in sequences.iter().enumerate() {
            let key = SubjectKey {
                sick: s.sick,
                name: s.subject.clone(),
            };
            let subject = subjects.binary_search(&key).expect("subject listed above");
            let n = s.joints.len();
            if n < config.interval {
                continue;
            }
            let mirrors: &[bool] = if config.mirror {
                &[false, true]
            } else {
                &[false]
            };
            for &mirrored in mirrors {
                for start in (0..=n - config.interval).step_by(config.stride) {
                    let a = s.joints[start][PELVIS];
                    let b = s.joints[start + config.interval - 1][PELVIS];
                    let d2: f32 = (0..3).map(|c| (b[c] - a[c]) * (b[c] - a[c])).sum();
                    if d2 < 1e-12 {
                        skipped += 1;
                        continue;
                    }
                    windows.push(Window {
                        sequence: si,
                        start,
                        mirrored,
                        sick: s.sick,
                        subject,
                    });
                }
            }
        }
        Ok(Self {
            sequences,
            subjects,
            windows,
            config,
            skipped_still_windows: skipped,
            alignment: Alignment::Original,
        })
    }

    /// Number of windows.
    pub fn len(&self) -> usize {
        self.windows.len()
    }

    /// Whether there are no windows.
    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }

    /// Raw (unaligned) frames of a window, mirrored if the window is.
    pub fn raw_window(&self, w: &Window) -> Vec<Frame> {
        let s = &self.sequences[w.sequence];
        let frames = &s.joints[w.start..w.start + self.config.interval];
        if w.mirrored {
            frames.iter().map(mirror_frame).collect()
        } else {
            frames.to_vec()
        }
    }

    /// Aligned frames of window `index` (with [`WindowDataset::alignment`]).
    pub fn aligned_window(&self, index: usize) -> Result<Vec<Frame>, DatasetError> {
        let w = self.windows.get(index).ok_or(DatasetError::WindowIndex {
            index,
            len: self.windows.len(),
        })?;
        self.alignment.apply(&self.raw_window(w)).map_err(|source| {
            let s = &self.sequences[w.sequence];
            DatasetError::Align {
                class: s.class_name(),
                subject: s.subject.clone(),
                gait: s.gait.clone(),
                start: w.start,
                mirrored: w.mirrored,
                source,
            }
        })
    }

    /// Flat aligned data of a batch of windows, layout `[batch, interval, 22, 3]`.
    pub fn batch_data(&self, indices: &[usize]) -> Result<Vec<f32>, DatasetError> {
        let mut out = Vec::with_capacity(indices.len() * self.config.interval * NUM_JOINTS * 3);
        for &i in indices {
            for f in self.aligned_window(i)? {
                for p in f {
                    out.extend_from_slice(&p);
                }
            }
        }
        Ok(out)
    }

    /// Which sides the pathology of each window's sequence affects ([`JointSequence::sides`]).
    pub fn batch_sides(
        &self,
        indices: &[usize],
    ) -> Result<Vec<Option<super::PathologySides>>, DatasetError> {
        indices
            .iter()
            .map(|&index| {
                self.windows
                    .get(index)
                    .and_then(|w| self.sequences.get(w.sequence))
                    .map(|s| s.sides)
                    .ok_or(DatasetError::WindowIndex {
                        index,
                        len: self.windows.len(),
                    })
            })
            .collect()
    }

    /// Labels (1.0 = sick, 0.0 = healthy) of a batch of windows.
    pub fn batch_labels(&self, indices: &[usize]) -> Result<Vec<f32>, DatasetError> {
        indices
            .iter()
            .map(|&index| {
                self.windows
                    .get(index)
                    .map(|w| if w.sick { 1.0 } else { 0.0 })
                    .ok_or(DatasetError::WindowIndex {
                        index,
                        len: self.windows.len(),
                    })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::align::tests::canonical_walker;
    use super::*;

    fn seq(subject: &str, sick: bool, frames: usize) -> JointSequence {
        JointSequence {
            subject: subject.into(),
            gait: "walk".into(),
            sick,
            rate_hz: Some(30.0),
            joints: canonical_walker(frames),
            files: Vec::new(),
            sides: None,
            legs_measured: None,
        }
    }

    #[test]
    fn window_counts_follow_unfold() {
        let cfg = WindowConfig {
            interval: 10,
            stride: 1,
            mirror: false,
        };
        let ds = WindowDataset::new(vec![seq("a", false, 30), seq("b", true, 9)], cfg).unwrap();
        assert_eq!(ds.len(), 21);
        let cfg = WindowConfig {
            interval: 10,
            stride: 4,
            mirror: true,
        };
        let ds = WindowDataset::new(vec![seq("a", false, 30)], cfg).unwrap();
        // starts 0,4,...,20 → 6, twice
        assert_eq!(ds.len(), 12);
        assert_eq!(ds.windows.iter().filter(|w| w.mirrored).count(), 6);
        assert_eq!(ds.windows[5].start, 20);
        assert_eq!(ds.common_rate_hz(), Some(30.0));
        let mut other = seq("b", true, 30);
        other.rate_hz = Some(60.0);
        let mixed = WindowDataset::new(vec![seq("a", false, 30), other], cfg).unwrap();
        assert_eq!(mixed.common_rate_hz(), None, "mixed rates are not one rate");
    }

    #[test]
    fn batch_layout_and_mirroring() {
        let cfg = WindowConfig {
            interval: 12,
            stride: 3,
            mirror: true,
        };
        let ds = WindowDataset::new(vec![seq("a", true, 30)], cfg).unwrap();
        let plain = ds
            .windows
            .iter()
            .position(|w| !w.mirrored && w.start == 6)
            .unwrap();
        let mirr = ds
            .windows
            .iter()
            .position(|w| w.mirrored && w.start == 6)
            .unwrap();
        let data = ds.batch_data(&[plain, mirr]).unwrap();
        assert_eq!(data.len(), 2 * 12 * 22 * 3);
        let at = |b: usize, t: usize, j: usize, c: usize| data[((b * 12 + t) * 22 + j) * 3 + c];
        let a = ds.aligned_window(plain).unwrap();
        assert_eq!(at(0, 5, 7, 2), a[5][7][2]);
        // The stick walker is symmetric apart from its legs' phase, so the mirrored copy's left
        // ankle follows the original's right ankle in x and stays on the −z side after alignment.
        for t in 0..12 {
            assert!((at(1, t, 7, 0) - at(0, t, 8, 0)).abs() < 1e-5);
            assert!(at(1, t, 7, 2) < at(1, t, 8, 2));
        }
        assert_eq!(ds.batch_labels(&[plain]).unwrap(), vec![1.0]);
        assert!(matches!(
            ds.batch_data(&[999]),
            Err(DatasetError::WindowIndex { index: 999, .. })
        ));
    }

    #[test]
    fn still_windows_are_skipped() {
        let mut s = seq("a", false, 20);
        let f0 = s.joints[0];
        s.joints.iter_mut().for_each(|f| *f = f0);
        let ds = WindowDataset::new(vec![s], WindowConfig::default_with(5)).unwrap();
        assert!(ds.is_empty());
        assert_eq!(ds.skipped_still_windows, 32);
    }

    impl WindowConfig {
        fn default_with(interval: usize) -> Self {
            Self {
                interval,
                ..Self::default()
            }
        }
    }
}
