//! A marker network on a whole walk, written once for the CLI (`explain`, `export`), the viewer
//! and `render`: place a window in the sequence (resampled to the card's frame rate), turn it
//! into network input, explain it relative to the card's baseline, check it against the training
//! data, and classify every window (the classification track).
//!
//! Frame numbers in and out are the sequence's own; network frames stay inside.

use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use thiserror::Error;

use crate::body::smpl22::{Frame, NUM_JOINTS};
use crate::dataset::{Alignment, FrameMap};
use crate::explain::domain::DomainCheck;
use crate::explain::{
    Baseline, ExplainError, ExplainMethod, Explanation, check_rate_hz, explain_relative,
};
use crate::nn::{GaitClassifier, LoadedModel, probability_from_logit, window_tensor};
use crate::train::ModelCard;

mod measured;
pub use measured::{any_unmeasured, frame_span, measured_window_start, unmeasured_window_note};

/// Why a window of a sequence cannot be classified or explained.
#[derive(Debug, Error)]
pub enum WindowError {
    /// The sequence is too short for the network's window.
    #[error(
        "the sequence has {frames} frames, too short for one window: the network needs {needed} frames ({why})"
    )]
    TooShort {
        /// Frames in the sequence.
        frames: usize,
        /// Frames one window needs.
        needed: usize,
        /// What the network's window is ("its window is 16 frames", or with the rate).
        why: String,
    },
    /// The window start is past the last window of the sequence.
    #[error(
        "start frame {start} is past the sequence's last window start {last_start} ({frames} frames, window {window})"
    )]
    Start {
        /// First frame asked for.
        start: usize,
        /// The last valid first frame.
        last_start: usize,
        /// Frames in the sequence.
        frames: usize,
        /// Frames one window covers.
        window: usize,
    },
    /// A frame rate outside [`crate::explain::RATE_RANGE_HZ`], or a window too long to count.
    #[error("{what}: {reason}")]
    Rate {
        /// Whose rate: the sequence, or the network.
        what: String,
        /// What is wrong, with the valid range.
        reason: String,
    },
    /// The window does not fit the (resampled) frames handed to the network.
    #[error(
        "the window {start}..{end} does not fit the sequence of {frames} frames (the network needs {interval} frames)"
    )]
    Window {
        /// First frame asked for.
        start: usize,
        /// One past the last frame.
        end: usize,
        /// Frames in the sequence.
        frames: usize,
        /// Frames per window.
        interval: usize,
    },
    /// The window could not be aligned (degenerate motion).
    #[error("cannot align the window at frame {start}: {reason}")]
    Align {
        /// First frame of the window.
        start: usize,
        /// Why.
        reason: String,
    },
    /// A normative baseline was asked of a card without a normative gait.
    #[error(
        "the network card has no normative gait (written before gaitlens learnt one, or trained \
         without healthy windows at a known frame rate); retrain it or explain relative to zero"
    )]
    NoNormativeGait,
    /// Joint-rotation relevance asked without what it needs.
    #[error(
        "relevance on joint rotations is carried through the body's joints relative to the \
         normative gait: explain relative to the healthy gait (not zero) with an LRP rule or \
         gradient × input (attention has no per-coordinate relevance)"
    )]
    RotationsNeedReference,
    /// The explanation failed (e.g. attention asked of an MLP).
    #[error("{0}")]
    Explain(#[from] ExplainError),
}

/// Where a window lies: the grid of the network's windows in the sequence and the window in both
/// frame counts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowPlacement {
    /// The rule that placed it (sequence ↔ network frames; identity when the rates agree or one
    /// is unknown).
    pub grid: WindowGrid,
    /// First sequence frame of the window.
    pub start: usize,
    /// First network frame of the window in the resampled sequence.
    pub network_start: usize,
    /// Sequence frames the window covers.
    pub window: usize,
}

impl WindowPlacement {
    /// The sequence frames the window reads (see [`WindowGrid::frames_read`]): what its verdict
    /// is about, and what is printed as its frames.
    pub fn frames_read(&self) -> std::ops::Range<usize> {
        self.grid.frames_read(self.start)
    }
}

/// Where every window of one network lies in one sequence: the one rule that turns a window's
/// first sequence frame into its network frames and the sequence frames it reads. The explained
/// window, the default start, the track's "?" and the viewer's window are all placed by it, so
/// they name the same frames.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowGrid {
    /// Sequence ↔ network frames.
    pub map: FrameMap,
    /// Network frames a window holds.
    pub interval: usize,
    /// Frames of the sequence.
    pub frames: usize,
}

impl WindowGrid {
    /// The grid of `card`'s windows in a sequence of `frames` frames at `sequence_rate_hz`; a
    /// stated rate outside [`crate::explain::RATE_RANGE_HZ`] is an error ([`frame_map`]).
    pub fn new(
        card: &ModelCard,
        sequence_rate_hz: Option<f64>,
        frames: usize,
    ) -> Result<Self, WindowError> {
        Ok(WindowGrid {
            map: frame_map(card, sequence_rate_hz)?,
            interval: card.interval,
            frames,
        })
    }

    /// First network frame of the window placed at sequence frame `start`: the nearest one, kept
    /// inside the resampled sequence.
    pub fn network_start(&self, start: usize) -> usize {
        if self.map.is_identity() {
            start
        } else {
            let network_frames = self.map.network_len(self.frames);
            self.map.network_start(start, network_frames, self.interval)
        }
    }

    /// The sequence frames the window placed at `start` reads: its network frames are
    /// interpolated from them ([`FrameMap::frames_read`]). At another rate they can begin a frame
    /// before `start`.
    pub fn frames_read(&self, start: usize) -> std::ops::Range<usize> {
        self.map
            .frames_read(self.network_start(start), self.interval, self.frames)
    }

    /// The last start of a whole window; `None` when the sequence is too short for one (or the
    /// span cannot be counted, [`window_span`]).
    pub fn last_start(&self) -> Option<usize> {
        window_span(&self.map, self.interval)
            .filter(|span| self.frames >= span.needed)
            .map(|span| self.frames - span.window)
    }
}

/// The mapping from a sequence at `sequence_rate_hz` onto the network's rate: the identity when
/// the card records no rate or the sequence's is unknown; a stated sequence rate outside
/// [`crate::explain::RATE_RANGE_HZ`] is an error when it would be used.
pub fn frame_map(card: &ModelCard, sequence_rate_hz: Option<f64>) -> Result<FrameMap, WindowError> {
    match (card.rate_hz, sequence_rate_hz) {
        (Some(_), Some(r)) => {
            check_rate_hz(r).map_err(|reason| WindowError::Rate {
                what: "the sequence".into(),
                reason,
            })?;
            Ok(FrameMap::new(card.rate_hz, r))
        }
        _ => Ok(FrameMap::new(None, 1.0)),
    }
}

/// What one network window needs of a sequence under a [`crate::dataset::FrameMap`] (see
/// [`window_span`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowSpan {
    /// Sequence frames one window covers ([`crate::dataset::FrameMap::window_frames`]).
    pub window: usize,
    /// The fewest sequence frames that still give one whole window after resampling (at least
    /// `window`).
    pub needed: usize,
}

/// Sequence frames a window of `interval` network frames spans under `map`; `None` for a zero
/// interval or a span too long to count in frames (an absurd card or rate), so that callers
/// never overflow.
pub fn window_span(map: &crate::dataset::FrameMap, interval: usize) -> Option<WindowSpan> {
    if interval == 0 {
        return None;
    }
    if map.is_identity() {
        return Some(WindowSpan {
            window: interval,
            needed: interval,
        });
    }
    let span = (interval - 1) as f64 * map.factor;
    // 2⁵²: every frame count below it is exact in f64 and far from usize::MAX.
    if !(span.is_finite() && (0.0..4.5e15).contains(&span)) {
        return None;
    }
    let window = map.window_frames(interval);
    // Resampling keeps ⌊(n − 1) / factor⌋ + 1 frames: a window needs n − 1 ≥ span.
    let needed = window.max(span.ceil() as usize + 1);
    Some(WindowSpan { window, needed })
}

/// Places the window starting at sequence frame `start` in a sequence of `frames` frames:
/// too short a sequence or a start past the last window is an error saying what would fit.
pub fn place_window(
    card: &ModelCard,
    sequence_rate_hz: Option<f64>,
    frames: usize,
    start: usize,
) -> Result<WindowPlacement, WindowError> {
    let interval = card.interval;
    let grid = WindowGrid::new(card, sequence_rate_hz, frames)?;
    let map = grid.map;
    let span = window_span(&map, interval).ok_or_else(|| WindowError::Rate {
        what: "the network".into(),
        reason: format!(
            "a window of {interval} frames at {:?} Hz spans too many frames at {:?} Hz",
            card.rate_hz, sequence_rate_hz
        ),
    })?;
    if frames < span.needed {
        let why = if map.is_identity() {
            format!("its window is {interval} frames")
        } else {
            format!(
                "a window of {interval} frames at its {} Hz",
                card.rate_hz.unwrap_or_default()
            )
        };
        return Err(WindowError::TooShort {
            frames,
            needed: span.needed,
            why,
        });
    }
    // frames ≥ needed ≥ window: start ≤ last_start keeps start + window ≤ frames.
    let last_start = frames - span.window;
    if start > last_start {
        return Err(WindowError::Start {
            start,
            last_start,
            frames,
            window: span.window,
        });
    }
    Ok(WindowPlacement {
        grid,
        start,
        network_start: grid.network_start(start),
        window: span.window,
    })
}

/// The network input of the window `start..start + interval` of `joints`: aligned with
/// `alignment` and flattened `[interval × 22 × 3]` (the one place a window becomes input).
pub fn window_input(
    joints: &[Frame],
    start: usize,
    interval: usize,
    alignment: Alignment,
) -> Result<Vec<f32>, WindowError> {
    let window = start
        .checked_add(interval)
        .filter(|_| interval > 0)
        .and_then(|end| joints.get(start..end))
        .ok_or(WindowError::Window {
            start,
            end: start.saturating_add(interval),
            frames: joints.len(),
            interval,
        })?;
    let aligned = alignment.apply(window).map_err(|e| WindowError::Align {
        start,
        reason: e.to_string(),
    })?;
    Ok(aligned.iter().flatten().flatten().copied().collect())
}

/// One explained window of a sequence.
#[derive(Debug, Clone)]
pub struct ExplainedWindow {
    /// The explanation, in network frames (relevance per frame × joint, logit).
    pub explanation: Explanation,
    /// Where the window lies.
    pub placement: WindowPlacement,
    /// Whether relevance is relative to the card's normative gait (else to the zero input).
    pub relative_to_normative: bool,
    /// Out-of-domain check of the window (`None`: the card has no statistics).
    pub domain: Option<DomainCheck>,
    /// The card's calibration temperature (`None`: uncalibrated card, plain sigmoid).
    pub temperature: Option<f64>,
    /// What the relevance is on (joint positions or joint rotations).
    pub space: RelevanceSpace,
    /// For the asymmetry network: the named features its detectors read and their exact parts
    /// in the logit (`None` for the other networks).
    pub readout: Option<crate::nn::asymmetry::AsymmetryReadout>,
}

impl ExplainedWindow {
    /// "relative to …", for printing.
    pub fn relative_to(&self) -> &'static str {
        if self.relative_to_normative {
            "relative to the healthy gait at the same gait phase"
        } else {
            "relative to the zero input"
        }
    }

    /// P(sick) of the window, calibrated with the card's temperature when it has one
    /// ([`ModelCard::probability`]).
    pub fn probability(&self) -> f64 {
        probability_from_logit(f64::from(self.explanation.logit) / self.temperature.unwrap_or(1.0))
    }

    /// Whether [`Self::probability`] is calibrated.
    pub fn calibrated(&self) -> bool {
        self.temperature.is_some()
    }

    /// The relevance spread over the sequence's own frames: the first sequence frame and rows
    /// `[frames × 22]` (the network's rows when no resampling took place).
    pub fn sequence_relevance(&self) -> (usize, Vec<f32>) {
        self.placement.grid.map.rows_to_sequence(
            self.placement.network_start,
            &self.explanation.relevance,
            self.explanation.joints,
        )
    }
}

/// What to explain: the window's first sequence frame, the method, and the baseline (`None`:
/// the card's default, its normative gait when it has one, else zero).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowRequest {
    /// First sequence frame of the window.
    pub start: usize,
    /// The explanation method.
    pub method: ExplainMethod,
    /// What relevance is relative to.
    pub baseline: Option<Baseline>,
    /// Whether relevance is reported on joint positions or joint rotations.
    pub space: RelevanceSpace,
}

/// What an explanation's relevance is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RelevanceSpace {
    /// Joint positions, as the networks read them.
    #[default]
    Positions,
    /// Joint rotations, what clinicians reason in: position relevance carried through the
    /// kinematic chain relative to the normative reference ([`crate::explain::angle_space`]);
    /// a joint's value belongs to the body part its rotation turns (the knee's to the shank).
    Rotations,
}

/// The joints at the network's rate: `joints` itself when `map` is the identity.
pub fn network_frames<'a>(map: &FrameMap, joints: &'a [Frame]) -> std::borrow::Cow<'a, [Frame]> {
    if map.is_identity() {
        std::borrow::Cow::Borrowed(joints)
    } else {
        std::borrow::Cow::Owned(map.resample(joints))
    }
}

/// Explains the window of `joints` (at `sequence_rate_hz`) that `req` asks for, relative to the
/// card's baseline, resampling to the card's rate when they differ.
pub fn explain_sequence_window<B: AutodiffBackend>(
    net: &LoadedModel<B>,
    card: &ModelCard,
    joints: &[Frame],
    sequence_rate_hz: Option<f64>,
    req: &WindowRequest,
    device: &B::Device,
) -> Result<ExplainedWindow, WindowError> {
    let placement = place_window(card, sequence_rate_hz, joints.len(), req.start)?;
    let frames = network_frames(&placement.grid.map, joints);
    let interval = card.interval;
    let alignment = card.alignment().unwrap_or_default();
    let flat = window_input(&frames, placement.network_start, interval, alignment)?;
    let normative = match (req.baseline, &card.normative_gait) {
        (Some(Baseline::Normative), None) => return Err(WindowError::NoNormativeGait),
        (Some(Baseline::Zero), _) => None,
        (_, gait) => gait.as_ref(),
    }
    .filter(|_| req.method != ExplainMethod::Attention);
    let reference_flat = normative.map(|n| n.reference_window(&flat));
    let reference = reference_flat
        .clone()
        .map(|r| window_tensor::<B>(r, 1, interval, NUM_JOINTS, device));
    let domain = card.domain_check(&flat);
    let x = window_tensor::<B>(flat.clone(), 1, interval, NUM_JOINTS, device);
    let readout = match net {
        LoadedModel::Asymmetry(m) => m.readouts(x.clone()).into_iter().next(),
        _ => None,
    };
    let mut explanation = explain_relative(net, x, reference, req.method)?
        .into_iter()
        .next()
        .ok_or(ExplainError::Shape {
            found: [0, interval, NUM_JOINTS, 3],
            interval,
            joints: NUM_JOINTS,
        })?;
    if req.space == RelevanceSpace::Rotations {
        let r = reference_flat
            .filter(|_| !explanation.relevance_xyz.is_empty())
            .ok_or(WindowError::RotationsNeedReference)?;
        let angle =
            crate::explain::angle_space::angle_relevance(&flat, &r, &explanation.relevance_xyz);
        explanation.relevance = angle.relevance;
    }
    Ok(ExplainedWindow {
        explanation,
        placement,
        relative_to_normative: normative.is_some(),
        domain,
        temperature: card.calibration.map(|c| c.temperature),
        space: req.space,
        readout,
    })
}

/// One point of a classification track.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackPoint {
    /// First sequence frame the window reads ([`WindowGrid::frames_read`]).
    pub start_frame: usize,
    /// Logit of the window.
    pub logit: f32,
    /// P(sick) of the window ([`ModelCard::probability`]: calibrated when the card is).
    pub probability: f32,
    /// Whether the window lies outside the network's training data (`None`: the card has no
    /// statistics).
    pub outside: Option<bool>,
    /// Whether the window reads frames whose legs were not measured (markers missing or the
    /// frame interpolated, [`crate::formats::pose_seq::PoseSidecars::legs_measured`]): its verdict is
    /// on the fitter's guess, not on the walk. `None`: the sequence does not say.
    pub unmeasured: Option<bool>,
}

/// Classifies the windows of `joints` (at `sequence_rate_hz`; `measured`: per sequence frame
/// whether its legs were measured, when known) starting every `stride` network frames, batched:
/// the sliding-window track over the whole walk. Give it a network on a plain backend
/// (`LoadedModel::valid`-style inference, no dropout) for a reproducible track.
pub fn classification_track<B: Backend, M: GaitClassifier<B>>(
    net: &M,
    card: &ModelCard,
    joints: &[Frame],
    sequence_rate_hz: Option<f64>,
    measured: Option<&[bool]>,
    stride: usize,
    device: &B::Device,
) -> Result<Vec<TrackPoint>, WindowError> {
    let interval = net.interval();
    let map = frame_map(card, sequence_rate_hz)?;
    let frames = network_frames(&map, joints);
    if frames.len() < interval || interval == 0 {
        return Err(WindowError::Window {
            start: 0,
            end: interval,
            frames: frames.len(),
            interval,
        });
    }
    let alignment = card.alignment().unwrap_or_default();
    let starts: Vec<usize> = (0..=frames.len() - interval)
        .step_by(stride.max(1))
        .collect();
    let mut out = Vec::with_capacity(starts.len());
    for chunk in starts.chunks(64) {
        let inputs = chunk
            .iter()
            .map(|&s| window_input(&frames, s, interval, alignment))
            .collect::<Result<Vec<_>, _>>()?;
        let outside: Vec<Option<bool>> = inputs
            .iter()
            .map(|x| card.domain_check(x).map(|c| c.outside()))
            .collect();
        let x = window_tensor::<B>(inputs.concat(), chunk.len(), interval, NUM_JOINTS, device);
        let logits: Vec<f32> = net.logits(x).into_data().iter::<f32>().collect();
        for ((&s, &logit), outside) in chunk.iter().zip(&logits).zip(outside) {
            let read = map.frames_read(s, interval, joints.len());
            out.push(TrackPoint {
                start_frame: read.start,
                logit,
                probability: card.probability(f64::from(logit)) as f32,
                outside,
                unmeasured: measured.map(|m| any_unmeasured(m, read)),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::MultiMlpConfig;
    use crate::train::NetworkConfig;

    fn card(interval: usize, rate_hz: Option<f64>) -> ModelCard {
        let mut card = ModelCard::untrained(NetworkConfig::MultiMlp(
            MultiMlpConfig::new().with_interval(interval),
        ));
        card.rate_hz = rate_hz;
        card
    }

    #[test]
    fn windows_are_placed_in_sequence_frames_or_refused_with_what_fits() {
        // Same rate: the window is the network's.
        let p = place_window(&card(16, Some(50.0)), Some(50.0), 40, 24).unwrap();
        assert!(p.grid.map.is_identity());
        assert_eq!((p.start, p.network_start, p.window), (24, 24, 16));
        let e = place_window(&card(16, Some(50.0)), Some(50.0), 40, 25).unwrap_err();
        assert!(
            matches!(
                e,
                WindowError::Start {
                    last_start: 24,
                    frames: 40,
                    window: 16,
                    ..
                }
            ),
            "{e}"
        );
        // Twice the card's rate: a window spans 31 sequence frames and starts at half the frame.
        let p = place_window(&card(16, Some(50.0)), Some(100.0), 40, 6).unwrap();
        assert_eq!((p.network_start, p.window), (3, 31));
        assert_eq!(p.frames_read(), 6..37);
        // An odd start lies between network frames: the nearest one's frames are read.
        let p = place_window(&card(16, Some(50.0)), Some(100.0), 40, 7).unwrap();
        assert_eq!((p.network_start, p.frames_read()), (4, 8..39));
        // … kept inside the 20 resampled frames (the last start, 9, maps to network frame 4).
        let p = place_window(&card(16, Some(50.0)), Some(100.0), 40, 9).unwrap();
        assert_eq!(p.network_start, 4);
        let e = place_window(&card(16, Some(50.0)), Some(100.0), 20, 0).unwrap_err();
        assert!(
            matches!(
                e,
                WindowError::TooShort {
                    frames: 20,
                    needed: 31,
                    ..
                }
            ),
            "{e}"
        );
        assert!(
            e.to_string().contains("a window of 16 frames at its 50 Hz"),
            "{e}"
        );
        // An unknown rate on either side is the identity; an absurd stated one is refused.
        assert!(
            place_window(&card(16, None), Some(100.0), 40, 0)
                .unwrap()
                .grid
                .map
                .is_identity()
        );
        assert!(
            place_window(&card(16, Some(50.0)), None, 40, 0)
                .unwrap()
                .grid
                .map
                .is_identity()
        );
        let e = place_window(&card(16, Some(50.0)), Some(1e308), 40, 0).unwrap_err();
        assert!(matches!(e, WindowError::Rate { .. }), "{e}");
        // Overflowing starts never panic.
        assert!(place_window(&card(16, Some(50.0)), Some(100.0), 40, usize::MAX).is_err());
        let joints = vec![[[0.0f32; 3]; NUM_JOINTS]; 4];
        let w = window_input(&joints, usize::MAX, 16, Alignment::default());
        assert!(matches!(w, Err(WindowError::Window { .. })));
    }
}
