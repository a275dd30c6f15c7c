//! Spatio-temporal parameters from gait events and foot positions: speed, cadence, stride and
//! step length and time, step width, stance / swing / double support, per side with left/right
//! symmetry.
//!
//! Step length and width come from the distance between the two feet at each foot strike, along
//! the direction of progression and across it. Stride length is how far the foot advanced from
//! one of its strikes to the next when the walker moved through the lab; on a treadmill, where
//! the feet do not advance, it is the sum of a step and the next opposite step. Speed is stride
//! length over stride time.
//!
//! The feet are the trial's heel markers where it has them at every strike, as clinical labs
//! measure (Huxham et al. 2006), else the fitted ankle joints. The fitted ankle joints are
//! not the malleoli: on the shared walks they sit 2–3 cm lateral of the lateral malleolus
//! markers, so step widths from them read ~10 cm wider than from the heels (README, "Clinical
//! gait report"); [`SpatioTemporal::foot_points`] says which were used.

use std::collections::BTreeMap;

use nalgebra::Vector3;
use serde::Serialize;

use super::cycles::{CycleSet, GaitCycle, Side};

/// Standard gravity, m/s² (non-dimensional speed).
const G_M_S2: f64 = 9.81;

/// Parameters of one side, means over its complete cycles.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SideParameters {
    /// Cycles averaged.
    pub cycles: usize,
    /// Stride (cycle) time, s.
    pub stride_time_s: f64,
    /// Time from the opposite strike to this foot's strike, s.
    pub step_time_s: Option<f64>,
    /// Stride length (this step plus the next opposite step), m.
    pub stride_length_m: Option<f64>,
    /// Distance along progression from the other foot to this one at this foot's strike, m.
    pub step_length_m: f64,
    /// Distance across progression between the feet at this foot's strike, m.
    pub step_width_m: f64,
    /// Stance, % of the cycle (this foot's toe-off).
    pub stance_pct: Option<f64>,
    /// Swing, % of the cycle.
    pub swing_pct: Option<f64>,
    /// Both double-support phases together, % of the cycle.
    pub double_support_pct: Option<f64>,
}

/// The trial's spatio-temporal parameters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpatioTemporal {
    /// Left side (`None` without a complete left cycle).
    pub left: Option<SideParameters>,
    /// Right side.
    pub right: Option<SideParameters>,
    /// Walking speed, m/s.
    pub speed_m_s: Option<f64>,
    /// Steps per minute.
    pub cadence_steps_min: Option<f64>,
    /// Leg length used to make speed non-dimensional, m.
    pub leg_length_m: f64,
    /// Speed / √(g · leg length) (Hof 1996), as Schwartz et al. bin their norms.
    pub nondimensional_speed: Option<f64>,
    /// Symmetry index 100·(L − R)/mean(L, R) of step length, step time, stance and swing, %.
    pub symmetry_pct: BTreeMap<String, f64>,
    /// The points step and stride lengths and widths were measured between.
    pub foot_points: FootPoints,
}

/// What stands for each foot when lengths and widths are measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FootPoints {
    /// The trial's heel markers (Plug-in Gait `HEE`, or another lab's name for the heel).
    HeelMarkers,
    /// The fitted body's ankle joints (no heel markers at every strike): widths read wide.
    AnkleJoints,
}

impl FootPoints {
    /// Short description for summaries ("from the heel markers").
    pub fn describe(self) -> &'static str {
        match self {
            FootPoints::HeelMarkers => "from the heel markers",
            FootPoints::AnkleJoints => {
                "from the fitted ankle joints (no heel markers): step widths read wide"
            }
        }
    }
}

/// Foot trajectories (one point per frame; heel markers or ankle joints) of both sides.
pub struct Feet<'a> {
    /// Left foot, metres.
    pub left: &'a [Vector3<f64>],
    /// Right foot, metres.
    pub right: &'a [Vector3<f64>],
    /// Lab up (unit).
    pub up: Vector3<f64>,
    /// Direction of progression (unit, horizontal).
    pub forward: Vector3<f64>,
    /// Whether the walker moved through the lab (overground) rather than on the spot (treadmill).
    pub overground: bool,
    /// What the trajectories are.
    pub points: FootPoints,
}

impl Feet<'_> {
    fn of(&self, side: Side) -> &[Vector3<f64>] {
        match side {
            Side::Left => self.left,
            Side::Right => self.right,
        }
    }

    /// (step length, step width) at frame `f` for a strike of `side`, m.
    fn step_at(&self, side: Side, f: usize) -> Option<(f64, f64)> {
        let d = self.of(side).get(f)? - self.of(side.other()).get(f)?;
        let lateral = self.up.cross(&self.forward);
        let out = (d.dot(&self.forward), d.dot(&lateral).abs());
        (out.0.is_finite() && out.1.is_finite()).then_some(out)
    }

    /// Stride length of the cycle `c`, m: the foot's advance from its strike to its next one
    /// overground, a step plus the next opposite step on a treadmill.
    fn stride_length(&self, c: &GaitCycle) -> Option<f64> {
        if self.overground {
            let feet = self.of(c.side);
            let advance = (feet.get(c.end)? - feet.get(c.start)?).dot(&self.forward);
            return advance.is_finite().then_some(advance);
        }
        let opposite = c.frame_at(c.opposite_strike_pct?).round() as usize;
        Some(self.step_at(c.side, c.start)?.0 + self.step_at(c.side.other(), opposite)?.0)
    }
}

/// Spatio-temporal parameters (see the module documentation).
pub fn spatiotemporal(
    cycles: &CycleSet,
    feet: &Feet,
    rate_hz: f64,
    leg_length_m: f64,
) -> SpatioTemporal {
    let left = side_parameters(cycles, feet, Side::Left, rate_hz);
    let right = side_parameters(cycles, feet, Side::Right, rate_hz);
    let sides: Vec<&SideParameters> = [&left, &right].into_iter().flatten().collect();
    let stride_time = mean(sides.iter().map(|s| s.stride_time_s));
    let stride_length = mean(sides.iter().filter_map(|s| s.stride_length_m));
    let speed = match (stride_length, stride_time) {
        (Some(l), Some(t)) if t > 0.0 => Some(l / t),
        _ => None,
    };
    let mut symmetry_pct = BTreeMap::new();
    if let (Some(l), Some(r)) = (&left, &right) {
        let pairs = [
            ("step_length", Some(l.step_length_m), Some(r.step_length_m)),
            ("step_time", l.step_time_s, r.step_time_s),
            ("stance", l.stance_pct, r.stance_pct),
            ("swing", l.swing_pct, r.swing_pct),
        ];
        for (name, a, b) in pairs {
            if let (Some(a), Some(b)) = (a, b) {
                let m = (a + b) / 2.0;
                if m.abs() > 1e-9 {
                    symmetry_pct.insert(name.to_string(), 100.0 * (a - b) / m);
                }
            }
        }
    }
    SpatioTemporal {
        speed_m_s: speed,
        cadence_steps_min: stride_time.map(|t| 120.0 / t),
        nondimensional_speed: speed
            .filter(|_| leg_length_m > 0.0)
            .map(|v| v / (G_M_S2 * leg_length_m).sqrt()),
        leg_length_m,
        left,
        right,
        symmetry_pct,
        foot_points: feet.points,
    }
}

fn side_parameters(
    cycles: &CycleSet,
    feet: &Feet,
    side: Side,
    rate_hz: f64,
) -> Option<SideParameters> {
    let own: Vec<&GaitCycle> = cycles.side(side).collect();
    if own.is_empty() {
        return None;
    }
    let stride_time_s = mean(own.iter().map(|c| c.frames() as f64 / rate_hz))?;
    let steps: Vec<(f64, f64)> = own
        .iter()
        .filter_map(|c| feet.step_at(side, c.start))
        .collect();
    let strides = own.iter().filter_map(|c| feet.stride_length(c));
    let stance = mean(own.iter().filter_map(|c| c.foot_off_pct));
    // Initial plus terminal double support; a foot that leaves before the other lands (a
    // flight phase, or events that disagree) has none to add.
    let double = mean(own.iter().filter_map(|c| {
        let terminal = (c.foot_off_pct? - c.opposite_strike_pct?).max(0.0);
        Some(c.opposite_off_pct? + terminal)
    }));
    Some(SideParameters {
        cycles: own.len(),
        stride_time_s,
        step_time_s: mean(
            own.iter()
                .filter_map(|c| c.opposite_strike_pct)
                .map(|p| (100.0 - p) / 100.0 * stride_time_s),
        ),
        stride_length_m: mean(strides),
        step_length_m: mean(steps.iter().map(|s| s.0))?,
        step_width_m: mean(steps.iter().map(|s| s.1))?,
        stance_pct: stance,
        swing_pct: stance.map(|s| 100.0 - s),
        double_support_pct: double,
    })
}

/// Mean of an iterator, `None` when empty.
fn mean(it: impl Iterator<Item = f64>) -> Option<f64> {
    let (mut s, mut n) = (0.0, 0usize);
    for v in it {
        s += v;
        n += 1;
    }
    (n > 0).then(|| s / n as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gait::cycles::gait_cycles;
    use crate::gait::events::{FootEvents, GaitEvents};

    /// A walker at 1.2 m/s along +z (y up) with 1 s strides, 0.6 m steps and 0.2 m step width:
    /// each foot stands still in stance (60 %) and jumps ahead in swing.
    #[test]
    fn an_ideal_walk_gives_its_own_parameters() {
        let rate = 100.0;
        let frames = 500;
        // left strikes at 0, 100, …; right at 50, 150, …
        let foot = |offset: usize, x: f64| -> Vec<Vector3<f64>> {
            (0..frames)
                .map(|f| {
                    let k = (f + 100 - offset) / 100; // strikes so far
                    Vector3::new(
                        x,
                        0.0,
                        1.2 * (k as f64) - 1.2 + 0.6 * (offset as f64 / 50.0),
                    )
                })
                .collect()
        };
        let (l, r) = (foot(0, 0.1), foot(50, -0.1));
        let events = GaitEvents {
            left: FootEvents {
                strikes: vec![0, 100, 200, 300, 400],
                offs: vec![60, 160, 260, 360],
            },
            right: FootEvents {
                strikes: vec![50, 150, 250, 350, 450],
                offs: vec![10, 110, 210, 310, 410],
            },
            rate_hz: rate,
        };
        let cycles = gait_cycles(&events, frames);
        let feet = Feet {
            left: &l,
            right: &r,
            up: Vector3::y(),
            forward: Vector3::z(),
            overground: true,
            points: FootPoints::HeelMarkers,
        };
        let st = spatiotemporal(&cycles, &feet, rate, 0.9);
        let left = st.left.as_ref().unwrap();
        assert!((left.stride_time_s - 1.0).abs() < 1e-9);
        assert!((left.step_length_m - 0.6).abs() < 1e-9, "{left:?}");
        assert!((left.step_width_m - 0.2).abs() < 1e-9);
        assert!((left.stride_length_m.unwrap() - 1.2).abs() < 1e-9);
        assert!((left.stance_pct.unwrap() - 60.0).abs() < 1e-9);
        assert!((left.double_support_pct.unwrap() - 20.0).abs() < 1e-9);
        assert!((left.step_time_s.unwrap() - 0.5).abs() < 1e-9);
        assert!((st.speed_m_s.unwrap() - 1.2).abs() < 1e-9);
        assert!((st.cadence_steps_min.unwrap() - 120.0).abs() < 1e-9);
        assert!(st.symmetry_pct["step_length"].abs() < 1e-9);
        assert_eq!(st.foot_points, FootPoints::HeelMarkers);

        // The same walk on a treadmill: the belt carries both feet back at the walking speed,
        // so a foot does not advance from strike to strike; a step plus the next opposite step
        // still gives the stride.
        let belt = |p: &[Vector3<f64>]| -> Vec<Vector3<f64>> {
            p.iter()
                .enumerate()
                .map(|(f, v)| v - Vector3::z() * 1.2 * f as f64 / rate)
                .collect()
        };
        let (tl, tr) = (belt(&l), belt(&r));
        let treadmill = Feet {
            left: &tl,
            right: &tr,
            overground: false,
            ..feet
        };
        let st = spatiotemporal(&cycles, &treadmill, rate, 0.9);
        let left = st.left.as_ref().unwrap();
        assert!(
            (left.stride_length_m.unwrap() - 1.2).abs() < 1e-9,
            "{left:?}"
        );
        assert!((left.step_length_m - 0.6).abs() < 1e-9);
        assert!((st.speed_m_s.unwrap() - 1.2).abs() < 1e-9);
        // Read as overground, the treadmill's feet barely advance: that is why the two differ.
        let wrong = Feet {
            overground: true,
            ..treadmill
        };
        let st = spatiotemporal(&cycles, &wrong, rate, 0.9);
        assert!(st.left.unwrap().stride_length_m.unwrap().abs() < 1e-9);
    }
}
