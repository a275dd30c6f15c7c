//! Gait cycles: foot strike to the next strike of the same foot, with the events inside it as
//! percentages of the cycle, and signals time-normalised to 0–100 % in 101 samples — the layout
//! every clinical gait report uses.

use serde::Serialize;

use super::events::{FootEvents, GaitEvents};

/// Samples of a time-normalised cycle (0, 1, …, 100 %).
pub const CYCLE_SAMPLES: usize = 101;

/// Longest cycle accepted relative to the median stride of its side: a longer one spans a gap
/// in the events (a missed strike) and is dropped.
const MAX_STRIDE_RATIO: f64 = 1.5;

/// Shortest cycle accepted relative to the median stride of its side: a shorter one lies between
/// a strike and a duplicated or mislabelled one (gaitkit's Fukuchi walk marks left strikes 14
/// frames apart) and is dropped.
const MIN_STRIDE_RATIO: f64 = 0.5;

/// Where in a walking cycle (%) the foot can leave the ground: stance is about 60 % in healthy
/// walking and up to about 80 % in slow pathological walking; an annotated foot off outside is a
/// mislabelled event and is ignored with a note.
const FOOT_OFF_PCT: std::ops::RangeInclusive<f64> = 35.0..=85.0;

/// Where in a walking cycle (%) the other foot can strike (about 50 %).
const OPPOSITE_STRIKE_PCT: std::ops::RangeInclusive<f64> = 30.0..=70.0;

/// Where in a walking cycle (%) the other foot leaves the ground (about 10 %: the end of the
/// initial double support).
const OPPOSITE_OFF_PCT: std::ops::RangeInclusive<f64> = 0.0..=40.0;

/// Body side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// Left.
    Left,
    /// Right.
    Right,
}

impl Side {
    /// Both sides, left first.
    pub const BOTH: [Side; 2] = [Side::Left, Side::Right];

    /// `left` / `right`.
    pub fn name(self) -> &'static str {
        match self {
            Side::Left => "left",
            Side::Right => "right",
        }
    }

    /// The other side.
    pub fn other(self) -> Side {
        match self {
            Side::Left => Side::Right,
            Side::Right => Side::Left,
        }
    }

    /// This side's events.
    pub fn of(self, e: &GaitEvents) -> &FootEvents {
        match self {
            Side::Left => &e.left,
            Side::Right => &e.right,
        }
    }
}

/// One gait cycle of one leg.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GaitCycle {
    /// The leg whose strikes bound the cycle.
    pub side: Side,
    /// Frame of the foot strike that opens the cycle.
    pub start: usize,
    /// Frame of the next strike of the same foot (exclusive end).
    pub end: usize,
    /// Toe-off of this foot inside the cycle, % of the cycle (end of stance).
    pub foot_off_pct: Option<f64>,
    /// Toe-off of the other foot, % (end of the first double support).
    pub opposite_off_pct: Option<f64>,
    /// Strike of the other foot, % (start of the second double support).
    pub opposite_strike_pct: Option<f64>,
}

impl GaitCycle {
    /// Frames in the cycle.
    pub fn frames(&self) -> usize {
        self.end - self.start
    }

    /// Frame position of `pct` % of the cycle (fractional).
    pub fn frame_at(&self, pct: f64) -> f64 {
        self.start as f64 + pct / 100.0 * self.frames() as f64
    }

    /// Where `frame` lies in the cycle, % (0 at the opening strike; outside [0, 100) for frames
    /// outside the cycle).
    pub fn pct_of(&self, frame: f64) -> f64 {
        (frame - self.start as f64) / self.frames().max(1) as f64 * 100.0
    }

    /// Resamples `signal` (one value per frame of the trial) over this cycle to
    /// [`CYCLE_SAMPLES`] points, linearly; `None` when the cycle runs past the signal or a
    /// sample it needs is not finite.
    pub fn normalise(&self, signal: &[f64]) -> Option<Vec<f64>> {
        if self.end >= signal.len() || self.end <= self.start {
            return None;
        }
        let last = signal.len() - 1;
        let out: Vec<f64> = (0..CYCLE_SAMPLES)
            .map(|k| {
                let x = self.frame_at(k as f64);
                let i = (x.floor() as usize).min(last);
                let j = (i + 1).min(last);
                let w = x - i as f64;
                signal[i] * (1.0 - w) + signal[j] * w
            })
            .collect();
        out.iter().all(|v| v.is_finite()).then_some(out)
    }
}

/// The complete cycles of a trial and what was left out.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CycleSet {
    /// Complete cycles, left ones first, each side in time order.
    pub cycles: Vec<GaitCycle>,
    /// Why strides were not used (incomplete, gaps in the events).
    pub notes: Vec<String>,
}

impl CycleSet {
    /// Cycles of one side.
    pub fn side(&self, side: Side) -> impl Iterator<Item = &GaitCycle> {
        self.cycles.iter().filter(move |c| c.side == side)
    }

    /// The cycle of `side` that holds `frame`, if any (frames between dropped strides or outside
    /// the first and last strike have none).
    pub fn containing(&self, side: Side, frame: usize) -> Option<&GaitCycle> {
        self.side(side).find(|c| (c.start..c.end).contains(&frame))
    }
}

/// Cuts the trial into gait cycles of both legs (see the module documentation). A stride longer
/// than [`MAX_STRIDE_RATIO`] × the side's median stride spans a missed strike and one shorter
/// than [`MIN_STRIDE_RATIO`] × it a duplicated strike: both are dropped; a foot off or opposite
/// strike where a walking foot cannot be is ignored; each with a note. The record before the
/// first and after the last strike of each foot is incomplete and noted.
pub fn gait_cycles(events: &GaitEvents, frames: usize) -> CycleSet {
    let mut set = CycleSet::default();
    for side in Side::BOTH {
        let own = side.of(events);
        let other = side.other().of(events);
        let strikes: Vec<usize> = own
            .strikes
            .iter()
            .copied()
            .filter(|&s| s < frames)
            .collect();
        if strikes.len() < 2 {
            set.notes.push(format!(
                "{}: {} foot strike(s), no complete cycle",
                side.name(),
                strikes.len()
            ));
            continue;
        }
        let median = median_stride(&strikes);
        for w in strikes.windows(2) {
            let (start, end) = (w[0], w[1]);
            if let Some(why) = stride_problem(end - start, median) {
                set.notes.push(format!(
                    "{}: frames {start}–{end} span {} frames (median stride {median:.0}): {why}, \
                     cycle dropped",
                    side.name(),
                    end - start
                ));
                continue;
            }
            set.cycles.push(cycle_between(
                side,
                (start, end),
                own,
                other,
                &mut set.notes,
            ));
        }
        if strikes[0] > 0 {
            set.notes.push(format!(
                "{}: frames before the first strike ({}) are an incomplete cycle",
                side.name(),
                strikes[0]
            ));
        }
    }
    set
}

/// The cycle of `side` from strike to strike (`start`, `end`) with its foot off and the other
/// foot's events as percentages. Of the events inside, the first where a walking foot can be is
/// taken; one that is only elsewhere is ignored with a note (a mislabelled annotation).
fn cycle_between(
    side: Side,
    (start, end): (usize, usize),
    own: &FootEvents,
    other: &FootEvents,
    notes: &mut Vec<String>,
) -> GaitCycle {
    let pct = |f: usize| 100.0 * (f - start) as f64 / (end - start) as f64;
    let mut plausible = |what: &str, list: &[usize], range: &std::ops::RangeInclusive<f64>| {
        let inside: Vec<f64> = list
            .iter()
            .filter(|&&f| f > start && f < end)
            .map(|&f| pct(f))
            .collect();
        let found = inside.iter().copied().find(|p| range.contains(p));
        if let (None, Some(first)) = (found, inside.first()) {
            notes.push(format!(
                "{}: cycle {start}–{end}: {what} at {first:.0} % of the cycle is not where a \
                 walking foot can be (expected {:.0}–{:.0} %), event ignored",
                side.name(),
                range.start(),
                range.end()
            ));
        }
        found
    };
    GaitCycle {
        side,
        start,
        end,
        foot_off_pct: plausible("foot off", &own.offs, &FOOT_OFF_PCT),
        opposite_off_pct: plausible("opposite foot off", &other.offs, &OPPOSITE_OFF_PCT),
        opposite_strike_pct: plausible(
            "opposite foot strike",
            &other.strikes,
            &OPPOSITE_STRIKE_PCT,
        ),
    }
}

/// Why a stride of `frames` cannot be one walking cycle given the side's median stride, if so.
fn stride_problem(frames: usize, median: f64) -> Option<&'static str> {
    if frames as f64 > MAX_STRIDE_RATIO * median {
        Some("a strike is missing there")
    } else if (frames as f64) < MIN_STRIDE_RATIO * median {
        Some("one of its strikes is a duplicated or mislabelled event")
    } else {
        None
    }
}

/// Median distance between consecutive strikes, frames.
fn median_stride(strikes: &[usize]) -> f64 {
    let mut d: Vec<usize> = strikes.windows(2).map(|w| w[1] - w[0]).collect();
    d.sort_unstable();
    d[d.len() / 2] as f64
}

/// Pointwise mean of equal-length curves (`None` for none).
pub fn mean_curve(curves: &[Vec<f64>]) -> Option<Vec<f64>> {
    let first = curves.first()?;
    let mut m = vec![0.0; first.len()];
    for c in curves {
        for (a, v) in m.iter_mut().zip(c) {
            *a += v;
        }
    }
    let n = curves.len() as f64;
    Some(m.into_iter().map(|v| v / n).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events() -> GaitEvents {
        GaitEvents {
            left: FootEvents {
                strikes: vec![10, 110, 210, 400, 500],
                offs: vec![70, 170, 270],
            },
            right: FootEvents {
                strikes: vec![60, 160, 260],
                offs: vec![20, 120, 220],
            },
            rate_hz: 100.0,
        }
    }

    #[test]
    fn duplicated_strikes_and_misplaced_events_from_a_file_are_dropped_with_notes() {
        // Left strikes 110 and 124 are one strike annotated twice; the first foot off (20 %) and
        // the right strike at 15 % of the first cycle belong to no walking foot.
        let e = GaitEvents {
            left: FootEvents {
                strikes: vec![10, 110, 124, 224, 324],
                offs: vec![30, 184, 284],
            },
            right: FootEvents {
                strikes: vec![25, 174, 274],
                offs: vec![134, 234],
            },
            rate_hz: 100.0,
        };
        let set = gait_cycles(&e, 400);
        let left: Vec<_> = set.side(Side::Left).collect();
        assert_eq!(
            left.iter().map(|c| (c.start, c.end)).collect::<Vec<_>>(),
            vec![(10, 110), (124, 224), (224, 324)]
        );
        assert!(
            set.notes
                .iter()
                .any(|n| n.contains("110–124") && n.contains("duplicated"))
        );
        assert_eq!(left[0].foot_off_pct, None);
        assert_eq!(left[0].opposite_strike_pct, None);
        assert!(set.notes.iter().any(|n| n.contains("foot off at 20 %")));
        assert!(
            set.notes
                .iter()
                .any(|n| n.contains("opposite foot strike at 15 %"))
        );
        assert_eq!(left[1].foot_off_pct, Some(60.0));
        assert_eq!(left[1].opposite_strike_pct, Some(50.0));
    }

    #[test]
    fn cycles_run_strike_to_strike_and_drop_gaps() {
        let set = gait_cycles(&events(), 600);
        let left: Vec<_> = set.side(Side::Left).collect();
        // 210→400 spans a missing strike and is dropped
        assert_eq!(
            left.iter().map(|c| (c.start, c.end)).collect::<Vec<_>>(),
            vec![(10, 110), (110, 210), (400, 500)]
        );
        assert_eq!(left[0].foot_off_pct, Some(60.0));
        assert_eq!(left[0].opposite_off_pct, Some(10.0));
        assert_eq!(left[0].opposite_strike_pct, Some(50.0));
        assert_eq!(left[2].foot_off_pct, None);
        assert!(set.notes.iter().any(|n| n.contains("missing")));
        assert_eq!(set.side(Side::Right).count(), 2);
        // the cycle holding a frame, and where in it the frame lies
        let c = set.containing(Side::Left, 135).unwrap();
        assert_eq!((c.start, c.end), (110, 210));
        assert!((c.pct_of(135.0) - 25.0).abs() < 1e-12);
        assert!(set.containing(Side::Left, 300).is_none()); // inside the dropped stride
        assert!(set.containing(Side::Left, 5).is_none()); // before the first strike
        // a strike opens the next cycle
        assert_eq!(set.containing(Side::Left, 110).map(|c| c.start), Some(110));
    }

    #[test]
    fn normalising_a_ramp_gives_a_ramp() {
        let c = GaitCycle {
            side: Side::Left,
            start: 10,
            end: 60,
            foot_off_pct: None,
            opposite_off_pct: None,
            opposite_strike_pct: None,
        };
        let signal: Vec<f64> = (0..100).map(|i| i as f64).collect();
        let n = c.normalise(&signal).unwrap();
        assert_eq!(n.len(), CYCLE_SAMPLES);
        assert!((n[0] - 10.0).abs() < 1e-12 && (n[100] - 60.0).abs() < 1e-12);
        assert!((n[50] - 35.0).abs() < 1e-12);
        assert!(c.normalise(&signal[..40]).is_none());
        let mut holes = signal.clone();
        holes[30] = f64::NAN;
        assert!(c.normalise(&holes).is_none());
    }

    #[test]
    fn one_strike_is_no_cycle() {
        let mut e = events();
        e.right.strikes = vec![60];
        let set = gait_cycles(&e, 600);
        assert_eq!(set.side(Side::Right).count(), 0);
        assert!(
            set.notes
                .iter()
                .any(|n| n.starts_with("right: 1 foot strike"))
        );
    }
}
