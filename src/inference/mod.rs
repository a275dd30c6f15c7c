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

/// Where a window lies: the sequence ↔ network frame mapping and the window in both.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowPlacement {
    /// Sequence ↔ network frames (identity when the rates agree or one is unknown).
    pub map: FrameMap,
    /// First sequence frame of the window.
    pub start: usize,
    /// First network frame of the window in the resampled sequence.
    pub network_start: usize,
    /// Sequence frames the window covers.
    pub window: usize,
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
    let map = frame_map(card, sequence_rate_hz)?;
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
    let network_start = if map.is_identity() {
        start
    } else {
        map.network_start(start, map.network_len(frames), interval)
    };
    Ok(WindowPlacement {
        map,
        start,
        network_start,
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
        self.placement.map.rows_to_sequence(
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
    let frames = network_frames(&placement.map, joints);
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
    /// First sequence frame of the window.
    pub start_frame: usize,
    /// Logit of the window.
    pub logit: f32,
    /// P(sick) of the window ([`ModelCard::probability`]: calibrated when the card is).
    pub probability: f32,
    /// Whether the window lies outside the network's training data (`None`: the card has no
    /// statistics).
    pub outside: Option<bool>,
    /// Whether the window holds frames whose legs were not measured (markers missing or the
    /// frame interpolated, [`crate::formats::pose_seq::sidecar_legs_measured`]): its verdict is
    /// on the fitter's guess, not on the walk. `None`: the sequence does not say.
    pub unmeasured: Option<bool>,
}

/// Whether any of sequence frames `frames` is unmeasured in `measured` (one entry per sequence
/// frame; frames past its end count as measured).
pub fn any_unmeasured(measured: &[bool], frames: std::ops::Range<usize>) -> bool {
    let end = frames.end.min(measured.len());
    measured[frames.start.min(end)..end].iter().any(|m| !m)
}

/// The first start of a window of `window` sequence frames whose every frame is measured.
pub fn first_measured_window(measured: &[bool], window: usize) -> Option<usize> {
    crate::formats::pose_seq::runs_of(measured, true)
        .into_iter()
        .find(|r| r.len() >= window.max(1))
        .map(|r| r.start)
}

/// Where to explain by default: `start` itself, unless the window of `window` sequence frames from
/// it holds frames whose legs were not measured (`measured`, one entry per sequence frame) and a
/// window measured throughout exists — then that first one, so that the first verdict a reader
/// sees is on the walk, not on the fitter's guess (a trial that starts with the subject walking
/// into the capture volume, markers still hidden).
pub fn measured_window_start(measured: &[bool], start: usize, window: usize) -> usize {
    if !any_unmeasured(measured, start..start.saturating_add(window)) {
        return start;
    }
    first_measured_window(measured, window).unwrap_or(start)
}

/// What to tell a reader when the window of `window` sequence frames from `start` holds frames
/// whose legs were not measured (`measured`, one entry per sequence frame): how many, where, and
/// the first window measured throughout. `None` when every frame of it was measured.
pub fn unmeasured_window_note(measured: &[bool], start: usize, window: usize) -> Option<String> {
    let end = (start + window).min(measured.len());
    let unmeasured: Vec<usize> = (start.min(end)..end).filter(|&f| !measured[f]).collect();
    let (first, last) = (unmeasured.first()?, unmeasured.last()?);
    let clean = match first_measured_window(measured, window) {
        Some(s) => format!("; the first window measured throughout starts at frame {s}"),
        None => "; no window of this walk is measured throughout".to_string(),
    };
    let span = if first == last {
        format!("frame {first}")
    } else {
        format!("frames {first}–{last}")
    };
    Some(format!(
        "{} of this window's {} frames ({span}) lack pelvis or leg markers or were \
         interpolated: the verdict reads the fitter's guess there, not the walk{clean}",
        unmeasured.len(),
        end - start.min(end)
    ))
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
            out.push(TrackPoint {
                start_frame: map.to_sequence(s),
                logit,
                probability: card.probability(f64::from(logit)) as f32,
                outside,
                unmeasured: measured.map(|m| {
                    any_unmeasured(m, map.to_sequence(s)..map.to_sequence(s + interval - 1) + 1)
                }),
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
        assert_eq!(first_measured_window(&m, 3), Some(1));
        assert_eq!(first_measured_window(&m, 4), Some(5));
        assert_eq!(first_measured_window(&m, 5), None);
        // A measured start stays; an unmeasured one moves to the first clean window, if any.
        assert_eq!(measured_window_start(&m, 1, 3), 1);
        assert_eq!(measured_window_start(&m, 0, 3), 1);
        assert_eq!(measured_window_start(&m, 0, 4), 5);
        assert_eq!(measured_window_start(&m, 2, 5), 2, "no clean window: kept");
        use crate::formats::pose_seq::runs_of;
        assert_eq!(runs_of(&m, true), vec![1..4, 5..9]);
        assert_eq!(runs_of(&m, false), vec![0..1, 4..5]);
        assert!(runs_of(&[], true).is_empty());
        assert_eq!(unmeasured_window_note(&m, 5, 4), None);
        let note = unmeasured_window_note(&m, 2, 4).unwrap();
        assert!(
            note.starts_with("1 of this window's 4 frames (frame 4)")
                && note.ends_with("starts at frame 5"),
            "{note}"
        );
    }

    #[test]
    fn windows_are_placed_in_sequence_frames_or_refused_with_what_fits() {
        // Same rate: the window is the network's.
        let p = place_window(&card(16, Some(50.0)), Some(50.0), 40, 24).unwrap();
        assert!(p.map.is_identity());
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
                .map
                .is_identity()
        );
        assert!(
            place_window(&card(16, Some(50.0)), None, 40, 0)
                .unwrap()
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
