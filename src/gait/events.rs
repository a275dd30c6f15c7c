//! Foot strikes and toe-offs from kinematics alone, after Zeni, Richards & Higginson (2008,
//! *Gait & Posture* 27:710–714): a foot strikes when it is farthest ahead of the pelvis and
//! leaves the ground when it is farthest behind, measured along the walking direction.
//!
//! A second detector, [`EventMethod::Velocity`], is a foot-velocity method after Ghoussayni,
//! Stevens, Durham & Ewins (2004, *Gait & Posture* 20:266–272): a foot has struck when it stops
//! moving along the ground after a swing and leaves the ground when it starts again. Thresholds
//! are a fraction of each swing's peak speed (the published fixed 50 mm/s marks the foot flat
//! instead, too late on real shoes); the slower of heel and toe counts, so forefoot landings are
//! found; speeds are horizontal and measured against the ground (the belt on a treadmill); no
//! walking direction is needed, which helps where the pelvis is badly tracked or the subject
//! turns.
//!
//! The walking direction is taken from the body itself (the hip or pelvis axis crossed with
//! "up"), not from the pelvis' displacement, so treadmill walks — where the pelvis hardly moves —
//! are handled like overground walks, and the lab's axis convention (y-up or z-up, walking
//! along any axis) does not matter: "up" is the mean foot-to-pelvis direction.

use nalgebra::Vector3;
use thiserror::Error;

use crate::dataset::Frame;
use crate::formats::trial::MarkerTrial;

/// Ghoussayni et al.'s (2004) speed below which a heel or toe is on the ground, m/s: the floor of
/// the thresholds below.
const STILL_SPEED_M_S: f64 = 0.05;
/// A foot has landed when its slower marker (heel or toe) moves at less than this fraction of
/// the swing's peak heel speed. Ghoussayni's fixed 50 mm/s found the foot flat, 5–12 frames at
/// 100 Hz after the labs' marked strikes; this fraction was chosen among 0.05–0.3 on three
/// validation walks (PiG_Motion-FlatFoot-Full, PiG_Motion3_FF, sample32_vicon_zerowire).
const STRIKE_FRACTION: f64 = 0.1;
/// A foot has left the ground when its slower marker moves faster than this fraction of the
/// swing's peak (chosen among 0.3–0.6 on the same validation walks).
const OFF_FRACTION: f64 = 0.4;
/// A pelvis travelling slower than this over the trial walks on a treadmill, m/s.
const TREADMILL_MAX_M_S: f64 = 0.3;
/// Bin width of the heel-velocity histogram whose mode is the ground's velocity, m/s.
const GROUND_BIN_M_S: f64 = 0.02;
/// Shortest stride accepted, seconds (fast running ≈ 0.6 s): strikes of one foot closer than
/// this are one strike.
const MIN_STRIDE_S: f64 = 0.6;
/// Half-width of the smoothing average, seconds.
const SMOOTH_HALF_S: f64 = 0.02;
/// A peak must rise this fraction of the signal's 5–95 % range above its neighbourhood.
const MIN_PROMINENCE: f64 = 0.3;
/// How long after the foot is farthest ahead its landing is searched for, seconds.
const LANDING_SEARCH_S: f64 = 0.15;
/// The foot has landed when it has come down this fraction of its fall to the stance height.
const LANDED_FRACTION: f64 = 0.8;
/// A foot coming down less than this (in leg lengths) after it was farthest ahead has landed.
const MIN_FALL: f64 = 0.005;
/// Smallest to-and-fro range of a walking foot relative to the pelvis, in leg lengths.
const MIN_EXCURSION: f64 = 0.1;

/// Which kinematic detector finds the events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EventMethod {
    /// Zeni et al. 2008: foot farthest ahead of / behind the pelvis (then refined to landing).
    #[default]
    Coordinate,
    /// Foot velocity after Ghoussayni et al. 2004: heel and toe speed against thresholds.
    Velocity,
}

impl EventMethod {
    /// Every method, for command-line parsing and tests.
    pub const ALL: [EventMethod; 2] = [EventMethod::Coordinate, EventMethod::Velocity];

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            EventMethod::Coordinate => "coordinate",
            EventMethod::Velocity => "velocity",
        }
    }

    /// One line naming the method and its reference, for reports.
    pub fn citation(self) -> &'static str {
        match self {
            EventMethod::Coordinate => {
                "Zeni et al. 2008: foot farthest ahead of / behind the pelvis"
            }
            EventMethod::Velocity => {
                "foot velocity after Ghoussayni et al. 2004: heel / toe speed thresholds"
            }
        }
    }
}

impl std::str::FromStr for EventMethod {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        EventMethod::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown event method '{s}': use coordinate or velocity"))
    }
}

/// Why gait events cannot be found.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum GaitEventError {
    /// Too few frames to hold one stride.
    #[error("{frames} frames at {rate_hz} Hz are shorter than one stride")]
    TooShort {
        /// Frames given.
        frames: usize,
        /// Frame rate, Hz.
        rate_hz: f64,
    },
    /// The frame rate is not a positive finite number.
    #[error("frame rate {rate_hz} Hz is not usable")]
    BadRate {
        /// The rate given.
        rate_hz: f64,
    },
    /// The body has no usable forward direction (hips or pelvis markers coincide or are missing).
    #[error("no walking direction: {reason}")]
    NoDirection {
        /// What is missing.
        reason: String,
    },
    /// Fewer than two strikes of one foot were found, so no full gait cycle.
    #[error("found {strikes} {side} foot strike(s); a gait cycle needs two (is this a walk?)")]
    NoCycle {
        /// `left` or `right`.
        side: &'static str,
        /// Strikes found.
        strikes: usize,
    },
    /// A needed marker is absent from the trial.
    #[error("no {what} marker (looked for {candidates})")]
    MissingMarker {
        /// What the marker is for.
        what: &'static str,
        /// Labels looked for.
        candidates: String,
    },
}

/// Strike and toe-off frames of one foot, ascending.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FootEvents {
    /// Foot strikes (initial contact), frame indices.
    pub strikes: Vec<usize>,
    /// Toe-offs, frame indices.
    pub offs: Vec<usize>,
}

/// Events of both feet.
#[derive(Debug, Clone, PartialEq)]
pub struct GaitEvents {
    /// Left foot.
    pub left: FootEvents,
    /// Right foot.
    pub right: FootEvents,
    /// Frame rate of the frame indices, Hz.
    pub rate_hz: f64,
}

impl GaitEvents {
    /// Gait phase in [0, 1) of every frame for the left and right leg (0 = foot strike).
    pub fn phases(&self, frames: usize) -> Result<[Vec<f64>; 2], GaitEventError> {
        let one = |f: &FootEvents, side| {
            leg_phase(&f.strikes, frames).ok_or(GaitEventError::NoCycle {
                side,
                strikes: f.strikes.len(),
            })
        };
        Ok([one(&self.left, "left")?, one(&self.right, "right")?])
    }

    /// Median stride time, seconds (both feet pooled), `None` without a full cycle.
    pub fn stride_s(&self) -> Option<f64> {
        let mut d: Vec<f64> = [&self.left, &self.right]
            .iter()
            .flat_map(|f| f.strikes.windows(2).map(|w| (w[1] - w[0]) as f64))
            .collect();
        if d.is_empty() {
            return None;
        }
        d.sort_by(f64::total_cmp);
        Some(d[d.len() / 2] / self.rate_hz)
    }
}

/// Trajectories the detector reads, one entry per frame, any consistent length unit.
pub struct Trajectories<'a> {
    /// Pelvis centre.
    pub pelvis: &'a [Vector3<f64>],
    /// A left-side pelvis point (left hip or ASIS) — the body's lateral axis is left − right.
    pub pelvis_left: &'a [Vector3<f64>],
    /// The matching right-side pelvis point.
    pub pelvis_right: &'a [Vector3<f64>],
    /// Left foot (heel marker or ankle joint).
    pub left_foot: &'a [Vector3<f64>],
    /// Right foot.
    pub right_foot: &'a [Vector3<f64>],
    /// Left toe, when known: toe-off is when the toe (not the heel) is farthest behind, as
    /// Zeni et al. do; without it the foot point stands in.
    pub left_toe: Option<&'a [Vector3<f64>]>,
    /// Right toe, when known.
    pub right_toe: Option<&'a [Vector3<f64>]>,
}

/// Foot strikes and toe-offs of both feet by `method` (see the module documentation). Frames
/// with a non-finite coordinate are bridged by linear interpolation of the signal.
pub fn detect_events(
    t: &Trajectories,
    rate_hz: f64,
    method: EventMethod,
) -> Result<GaitEvents, GaitEventError> {
    if !(rate_hz.is_finite() && rate_hz > 0.0) {
        return Err(GaitEventError::BadRate { rate_hz });
    }
    let n = t.pelvis.len();
    if (n as f64) < MIN_STRIDE_S * rate_hz {
        return Err(GaitEventError::TooShort { frames: n, rate_hz });
    }
    let up = mean_up(t)?;
    match method {
        EventMethod::Coordinate => coordinate_events(t, rate_hz, up),
        EventMethod::Velocity => Ok(velocity_events(t, rate_hz, up)),
    }
}

/// Zeni et al.'s coordinate method (see the module documentation).
fn coordinate_events(
    t: &Trajectories,
    rate_hz: f64,
    up: Vector3<f64>,
) -> Result<GaitEvents, GaitEventError> {
    let n = t.pelvis.len();
    let forward: Vec<Option<Vector3<f64>>> = (0..n)
        .map(|i| {
            let lateral = t.pelvis_left[i] - t.pelvis_right[i];
            let f = lateral.cross(&up);
            let f = f - up * f.dot(&up);
            (f.norm() > 1e-9 && f.iter().all(|c| c.is_finite())).then(|| f.normalize())
        })
        .collect();
    if forward.iter().all(Option::is_none) {
        return Err(GaitEventError::NoDirection {
            reason: "left and right pelvis points coincide in every frame".into(),
        });
    }
    // A foot that moves less than a tenth of the leg's length to and fro is not walking.
    let leg = mean_distance(t.pelvis, t.left_foot);
    let ahead = |points: &[Vector3<f64>]| -> Vec<f64> {
        let s: Vec<f64> = (0..n)
            .map(|i| match forward[i] {
                Some(f) => (points[i] - t.pelvis[i]).dot(&f),
                None => f64::NAN,
            })
            .collect();
        smooth(&fill_gaps(&s), (SMOOTH_HALF_S * rate_hz).round() as usize)
    };
    let half = ((MIN_STRIDE_S / 2.0) * rate_hz).round().max(1.0) as usize;
    let search = (LANDING_SEARCH_S * rate_hz).round() as usize;
    let foot = |feet: &[Vector3<f64>], toe: Option<&[Vector3<f64>]>| -> FootEvents {
        let s = ahead(feet);
        let height: Vec<f64> = fill_gaps(&feet.iter().map(|p| p.dot(&up)).collect::<Vec<_>>());
        let behind: Vec<f64> = match toe {
            Some(toe) if toe.len() == n => ahead(toe).iter().map(|v| -v).collect(),
            _ => s.iter().map(|v| -v).collect(),
        };
        FootEvents {
            strikes: peaks(&s, half, MIN_EXCURSION * leg)
                .into_iter()
                .map(|t| landing(&height, t, search, MIN_FALL * leg))
                .collect(),
            offs: peaks(&behind, half, MIN_EXCURSION * leg),
        }
    };
    Ok(GaitEvents {
        left: foot(t.left_foot, t.left_toe),
        right: foot(t.right_foot, t.right_toe),
        rate_hz,
    })
}

/// The foot-velocity method (see the module documentation): per swing (the heel's speed peak,
/// one per stride at most), the strike is the first later frame whose foot speed falls below
/// [`STRIKE_FRACTION`] of the peak, the toe-off the last earlier frame below [`OFF_FRACTION`].
/// On a treadmill speeds are relative to the belt ([`ground_velocity`]).
fn velocity_events(t: &Trajectories, rate_hz: f64, up: Vector3<f64>) -> GaitEvents {
    // The feet-to-pelvis direction leans forward by several degrees (the heels trail the
    // pelvis); speeds need the lab's own vertical, the axis nearest it.
    let k = up.iamax();
    let mut up = Vector3::zeros();
    up[k] = 1.0_f64.copysign(
        t.pelvis.iter().map(|p| p[k]).sum::<f64>() - t.left_foot.iter().map(|p| p[k]).sum::<f64>(),
    );
    let n = t.pelvis.len();
    let leg = mean_distance(t.pelvis, t.left_foot);
    let smooth_half = (SMOOTH_HALF_S * rate_hz).round() as usize;
    let half = ((MIN_STRIDE_S / 2.0) * rate_hz).round().max(1.0) as usize;
    // Units: trajectories may be in metres or millimetres; the leg (~0.9 m) tells which.
    let metre = if leg > 10.0 { 1000.0 } else { 1.0 };
    let still = STILL_SPEED_M_S * metre;
    // Over ground the pelvis travels at walking speed and the ground is still; on a treadmill
    // the pelvis stays put and the ground is the belt.
    let duration_s = n as f64 / rate_hz;
    let travel = (t.pelvis[n - 1] - t.pelvis[0]).norm();
    let on_treadmill = !(travel.is_finite() && travel / duration_s > TREADMILL_MAX_M_S * metre);
    let foot = |heel: &[Vector3<f64>], toe: Option<&[Vector3<f64>]>| -> FootEvents {
        let toe = toe.filter(|t| t.len() == n).unwrap_or(heel);
        let heel_v = velocities(heel, rate_hz, smooth_half);
        let toe_v = velocities(toe, rate_hz, smooth_half);
        let ground = if on_treadmill {
            ground_velocity(&heel_v, up, metre)
        } else {
            Vector3::zeros()
        };
        // Horizontal speed: the heel keeps rising slowly through late stance (heel rise), but
        // stops moving along the ground the moment it lands.
        let speed = |v: &[Vector3<f64>]| -> Vec<f64> {
            v.iter()
                .map(|v| {
                    let d = v - ground;
                    (d - up * d.dot(&up)).norm()
                })
                .collect()
        };
        let (heel_s, toe_s) = (speed(&heel_v), speed(&toe_v));
        let swings = peaks(&heel_s, half, MIN_EXCURSION * leg);
        // A foot is down while its heel or its toe is still: a forefoot (equinus) landing
        // stops the toe first, and the toe is the last to leave.
        let foot_speed = |i: usize| heel_s[i].min(toe_s[i]);
        let mut strikes = Vec::new();
        let mut offs = Vec::new();
        for (k, &peak) in swings.iter().enumerate() {
            let before = if k == 0 { 0 } else { swings[k - 1] };
            let after = swings.get(k + 1).copied().unwrap_or(n);
            // Thresholds relative to this swing's peak speed (see the constants).
            let landed = still.max(STRIKE_FRACTION * heel_s[peak]);
            let lifted = still.max(OFF_FRACTION * heel_s[peak]);
            if let Some(f) = (before..peak).rev().find(|&i| foot_speed(i) < lifted) {
                offs.push(f);
            }
            if let Some(f) = (peak..after).find(|&i| foot_speed(i) < landed) {
                strikes.push(f);
            }
        }
        FootEvents { strikes, offs }
    };
    GaitEvents {
        left: foot(t.left_foot, t.left_toe),
        right: foot(t.right_foot, t.right_toe),
        rate_hz,
    }
}

/// Smoothed velocity of a trajectory (gaps bridged), units per second.
fn velocities(points: &[Vector3<f64>], rate_hz: f64, smooth_half: usize) -> Vec<Vector3<f64>> {
    let axis = |c: usize| -> Vec<f64> {
        let s = smooth(
            &fill_gaps(&points.iter().map(|p| p[c]).collect::<Vec<_>>()),
            smooth_half,
        );
        central_difference(&s, rate_hz)
    };
    let (x, y, z) = (axis(0), axis(1), axis(2));
    (0..points.len())
        .map(|i| Vector3::new(x[i], y[i], z[i]))
        .collect()
}

/// Velocity of the ground under the foot: per horizontal lab axis, the most common heel velocity
/// (the mode, in [`GROUND_BIN_M_S`] bins, refined to the mean of the samples near it). A foot
/// spends most of a stride in stance, so the mode is the ground's velocity: zero over ground,
/// the belt's on a treadmill. `metre` is the trajectories' unit in metres (1 or 1000).
fn ground_velocity(heel_v: &[Vector3<f64>], up: Vector3<f64>, metre: f64) -> Vector3<f64> {
    let bin = GROUND_BIN_M_S * metre;
    let mode = |c: usize| -> f64 {
        let v: Vec<f64> = heel_v
            .iter()
            .map(|p| p[c])
            .filter(|x| x.is_finite())
            .collect();
        let mut counts = std::collections::HashMap::<i64, usize>::new();
        for x in &v {
            *counts.entry((x / bin).round() as i64).or_default() += 1;
        }
        let Some((&best, _)) = counts.iter().max_by_key(|(k, n)| (**n, -k.abs())) else {
            return 0.0;
        };
        let centre = best as f64 * bin;
        let near: Vec<f64> = v
            .iter()
            .copied()
            .filter(|x| (x - centre).abs() <= bin)
            .collect();
        near.iter().sum::<f64>() / near.len().max(1) as f64
    };
    let g = Vector3::new(mode(0), mode(1), mode(2));
    g - up * g.dot(&up)
}

/// Derivative by central differences (one-sided at the ends), per second.
fn central_difference(s: &[f64], rate_hz: f64) -> Vec<f64> {
    let n = s.len();
    (0..n)
        .map(|i| {
            let (a, b) = (i.saturating_sub(1), (i + 1).min(n - 1));
            if b == a {
                0.0
            } else {
                (s[b] - s[a]) * rate_hz / (b - a) as f64
            }
        })
        .collect()
}

/// Events of a posed joint sequence (SMPL's 22 joints: pelvis, hips, ankles).
pub fn detect_events_from_joints(
    frames: &[Frame],
    rate_hz: f64,
) -> Result<GaitEvents, GaitEventError> {
    let col = |j: usize| -> Vec<Vector3<f64>> {
        frames
            .iter()
            .map(|f| Vector3::new(f[j][0] as f64, f[j][1] as f64, f[j][2] as f64))
            .collect()
    };
    detect_events_from_leg_joints(
        &col(0),
        [&col(1), &col(2)],
        [&col(7), &col(8)],
        rate_hz,
        EventMethod::Coordinate,
    )
}

/// Events from pelvis, hip (left, right) and ankle (left, right) joint trajectories of any body
/// model: the hips give the lateral axis, the ankles stand in for the heels and toes.
pub fn detect_events_from_leg_joints(
    pelvis: &[Vector3<f64>],
    hips: [&[Vector3<f64>]; 2],
    ankles: [&[Vector3<f64>]; 2],
    rate_hz: f64,
    method: EventMethod,
) -> Result<GaitEvents, GaitEventError> {
    detect_events(
        &Trajectories {
            pelvis,
            pelvis_left: hips[0],
            pelvis_right: hips[1],
            left_foot: ankles[0],
            right_foot: ankles[1],
            left_toe: None,
            right_toe: None,
        },
        rate_hz,
        method,
    )
}

/// Events of a marker trial from its pelvis (ASIS, PSIS or sacrum) and heel (or ankle) markers,
/// whatever the lab's axes. Gaps become non-finite and are bridged.
pub fn detect_events_from_markers(
    trial: &MarkerTrial,
    method: EventMethod,
) -> Result<GaitEvents, GaitEventError> {
    let find = |what: &'static str, names: &[&str]| -> Result<Vec<Vector3<f64>>, GaitEventError> {
        // `marker_index` also finds other labs' names (`L.ASIS`); one column is used once.
        let mut idx: Vec<usize> = names.iter().filter_map(|n| trial.marker_index(n)).collect();
        idx.sort_unstable();
        idx.dedup();
        if idx.is_empty() {
            return Err(GaitEventError::MissingMarker {
                what,
                candidates: names.join(", "),
            });
        }
        Ok(trial
            .markers_m
            .iter()
            .map(|row| {
                let pts: Vec<[f64; 3]> = idx.iter().filter_map(|&k| row[k]).collect();
                if pts.is_empty() {
                    return Vector3::repeat(f64::NAN);
                }
                pts.iter().map(|p| Vector3::from(*p)).sum::<Vector3<f64>>() / pts.len() as f64
            })
            .collect())
    };
    let first = |what, names: &[&str]| {
        names
            .iter()
            .find_map(|n| {
                find(what, &[n])
                    .ok()
                    .filter(|v| v.iter().any(|p| p.x.is_finite()))
            })
            .ok_or(GaitEventError::MissingMarker {
                what,
                candidates: names.join(", "),
            })
    };
    let pelvis = find("pelvis", &["LASI", "RASI", "LPSI", "RPSI", "SACR"])?;
    let left = first("left pelvis", &["LASI", "LPSI"])?;
    let right = first("right pelvis", &["RASI", "RPSI"])?;
    let lf = first("left heel", &["LHEE", "LANK", "LTOE"])?;
    let rf = first("right heel", &["RHEE", "RANK", "RTOE"])?;
    // Other labs' names (`L.ASIS`, `LMT2`) come from `marker_index`; foot-model forefoot markers
    // are toe proxies for timing only, not aliases of the fitter's TOE.
    let lt = first("left toe", &["LTOE", "LFM2", "LD2M"]).ok();
    let rt = first("right toe", &["RTOE", "RFM2", "RD2M"]).ok();
    detect_events(
        &Trajectories {
            pelvis: &pelvis,
            pelvis_left: &left,
            pelvis_right: &right,
            left_foot: &lf,
            right_foot: &rf,
            left_toe: lt.as_deref(),
            right_toe: rt.as_deref(),
        },
        trial.rate_hz,
        method,
    )
}

/// The lab's own events from the trial file's EVENT section (`Foot Strike` / `Foot Off` with
/// context `Left` / `Right`, matched case-insensitively), restricted to frames inside the record.
/// `None` when the file marks fewer than two strikes of either foot: then detect them.
pub fn stored_events(trial: &MarkerTrial) -> Option<GaitEvents> {
    let n = trial.num_frames() as i64;
    let pick = |label: &str, side: &str| -> Vec<usize> {
        let mut v: Vec<usize> = trial
            .events
            .iter()
            .filter(|e| {
                e.label.eq_ignore_ascii_case(label)
                    && e.context.eq_ignore_ascii_case(side)
                    && (0..n).contains(&e.frame)
            })
            .map(|e| e.frame as usize)
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let foot = |side| FootEvents {
        strikes: pick("Foot Strike", side),
        offs: pick("Foot Off", side),
    };
    let (left, right) = (foot("Left"), foot("Right"));
    (left.strikes.len() >= 2 && right.strikes.len() >= 2).then_some(GaitEvents {
        left,
        right,
        rate_hz: trial.rate_hz,
    })
}

/// Gait phase in [0, 1) for every frame of a leg whose strikes are `strikes` (ascending): linear
/// between strikes, extrapolated with the first and last stride outside them. `None` with fewer
/// than two strikes.
pub fn leg_phase(strikes: &[usize], frames: usize) -> Option<Vec<f64>> {
    if strikes.len() < 2 {
        return None;
    }
    let first_stride = (strikes[1] - strikes[0]) as f64;
    let k = strikes.len();
    let last_stride = (strikes[k - 1] - strikes[k - 2]) as f64;
    Some(
        (0..frames)
            .map(|t| {
                let p = match strikes.iter().position(|&s| s > t) {
                    Some(0) => (t as f64 - strikes[0] as f64) / first_stride,
                    Some(i) => (t - strikes[i - 1]) as f64 / (strikes[i] - strikes[i - 1]) as f64,
                    None => (t - strikes[k - 1]) as f64 / last_stride,
                };
                p.rem_euclid(1.0)
            })
            .collect(),
    )
}

/// Refines a strike found as "foot farthest ahead" (which comes a few tens of milliseconds
/// before contact: the foot is still coming down) to the first frame within `search` frames
/// where the foot has come down [`LANDED_FRACTION`] of the way to its lowest height there (a
/// fall under `min_fall` is no fall: the foot is already down).
fn landing(height: &[f64], t0: usize, search: usize, min_fall: f64) -> usize {
    let end = (t0 + search + 1).min(height.len());
    let low = height[t0..end]
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min);
    let fall = height[t0] - low;
    if fall < min_fall {
        return t0;
    }
    (t0..end)
        .find(|&t| height[t] <= low + (1.0 - LANDED_FRACTION) * fall)
        .unwrap_or(t0)
}

/// Mean direction from the feet to the pelvis: "up" for any lab convention.
fn mean_up(t: &Trajectories) -> Result<Vector3<f64>, GaitEventError> {
    let mut sum = Vector3::zeros();
    for i in 0..t.pelvis.len() {
        let v = t.pelvis[i] - (t.left_foot[i] + t.right_foot[i]) / 2.0;
        if v.iter().all(|c| c.is_finite()) {
            sum += v;
        }
    }
    if sum.norm() < 1e-9 {
        return Err(GaitEventError::NoDirection {
            reason: "pelvis and feet never seen apart".into(),
        });
    }
    Ok(sum.normalize())
}

/// Linear interpolation over non-finite samples (edges take the nearest finite value).
fn fill_gaps(s: &[f64]) -> Vec<f64> {
    let known: Vec<usize> = (0..s.len()).filter(|&i| s[i].is_finite()).collect();
    if known.is_empty() {
        return vec![0.0; s.len()];
    }
    (0..s.len())
        .map(|i| {
            if s[i].is_finite() {
                return s[i];
            }
            let after = known.partition_point(|&k| k < i);
            match (after.checked_sub(1).map(|b| known[b]), known.get(after)) {
                (Some(a), Some(&b)) => s[a] + (s[b] - s[a]) * (i - a) as f64 / (b - a) as f64,
                (Some(a), None) => s[a],
                (None, Some(&b)) => s[b],
                (None, None) => 0.0,
            }
        })
        .collect()
}

/// Centred moving average with half-width `half` (shrinking at the edges).
fn smooth(s: &[f64], half: usize) -> Vec<f64> {
    (0..s.len())
        .map(|i| {
            let (a, b) = (i.saturating_sub(half), (i + half + 1).min(s.len()));
            s[a..b].iter().sum::<f64>() / (b - a) as f64
        })
        .collect()
}

/// Mean distance between two trajectories over the frames where both are finite.
fn mean_distance(a: &[Vector3<f64>], b: &[Vector3<f64>]) -> f64 {
    let d: Vec<f64> = a
        .iter()
        .zip(b)
        .map(|(p, q)| (p - q).norm())
        .filter(|d| d.is_finite())
        .collect();
    d.iter().sum::<f64>() / d.len().max(1) as f64
}

/// Indices of the local maxima of `s` that are the largest value within ±`half` samples, lie
/// at least two samples inside the record, and stand out from their neighbourhood by
/// [`MIN_PROMINENCE`] of the signal's 5–95 % range, which must be at least `min_range`.
fn peaks(s: &[f64], half: usize, min_range: f64) -> Vec<usize> {
    let n = s.len();
    if n < 5 {
        return Vec::new();
    }
    let mut sorted = s.to_vec();
    sorted.sort_by(f64::total_cmp);
    let range = sorted[(n * 95) / 100] - sorted[(n * 5) / 100];
    if range <= 0.0 || range < min_range {
        return Vec::new();
    }
    (2..n - 2)
        .filter(|&i| {
            let (a, b) = (i.saturating_sub(half), (i + half + 1).min(n));
            let win = &s[a..b];
            let max = win.iter().copied().fold(f64::MIN, f64::max);
            let min = win.iter().copied().fold(f64::MAX, f64::min);
            s[i] >= max && s[i] > s[i - 1] && s[i] - min >= MIN_PROMINENCE * range
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A walker along +y (z up) whose feet swing ±0.3 m about the pelvis with a 1 s stride.
    fn walker(frames: usize, rate_hz: f64, treadmill: bool) -> [Vec<Vector3<f64>>; 5] {
        let mut out: [Vec<Vector3<f64>>; 5] = Default::default();
        for i in 0..frames {
            let t = i as f64 / rate_hz;
            let y = if treadmill { 0.0 } else { 1.2 * t };
            let pelvis = Vector3::new(0.0, y, 1.0);
            // left foot ahead at t = 0.25 + k (strike), right half a cycle later
            let swing = |phase: f64| 0.3 * (std::f64::consts::TAU * (phase - 0.25 + 0.25)).sin();
            out[0].push(pelvis);
            out[1].push(pelvis + Vector3::new(-0.1, 0.0, 0.0)); // left is −x when walking +y, z up
            out[2].push(pelvis + Vector3::new(0.1, 0.0, 0.0));
            out[3].push(Vector3::new(-0.1, y + swing(t), 0.05));
            out[4].push(Vector3::new(0.1, y + swing(t + 0.5), 0.05));
        }
        out
    }

    fn events(w: &[Vec<Vector3<f64>>; 5], rate: f64) -> GaitEvents {
        detect(w, rate).unwrap()
    }

    fn detect(w: &[Vec<Vector3<f64>>; 5], rate: f64) -> Result<GaitEvents, GaitEventError> {
        detect_events_from_leg_joints(
            &w[0],
            [&w[1], &w[2]],
            [&w[3], &w[4]],
            rate,
            EventMethod::Coordinate,
        )
    }

    #[test]
    fn strikes_are_where_the_foot_is_farthest_ahead_overground_and_on_a_treadmill() {
        for treadmill in [false, true] {
            let e = events(&walker(400, 100.0, treadmill), 100.0);
            // sin peaks at phase 0.25 → t = 0.25 s + k for the left foot, 0.75 s + k right
            assert_eq!(e.left.strikes, vec![25, 125, 225, 325], "{treadmill}");
            assert_eq!(e.right.strikes, vec![75, 175, 275, 375], "{treadmill}");
            assert_eq!(e.left.offs, vec![75, 175, 275, 375], "{treadmill}");
            assert!((e.stride_s().unwrap() - 1.0).abs() < 1e-9);
        }
    }

    /// An overground walker at 1.2 m/s whose feet stand still for 60 % of a 1 s stride and
    /// swing 1.2 m forward, lifting 10 cm, in the rest (the right foot half a stride later).
    fn stepping_feet(frames: usize, rate_hz: f64) -> [Vec<Vector3<f64>>; 5] {
        let foot = |phase: f64, x: f64| {
            let (k, p) = (phase.floor(), phase - phase.floor());
            let (forward, lift) = if p < 0.6 {
                (0.0, 0.0)
            } else {
                let u = (p - 0.6) / 0.4;
                let pi = std::f64::consts::PI;
                (0.6 * (1.0 - (pi * u).cos()), 0.1 * (pi * u).sin())
            };
            Vector3::new(x, 1.2 * k + 1.2 * forward, 0.05 + lift)
        };
        let mut w: [Vec<Vector3<f64>>; 5] = Default::default();
        for i in 0..frames {
            let t = i as f64 / rate_hz;
            let pelvis = Vector3::new(0.0, 1.2 * t, 1.0);
            w[0].push(pelvis);
            w[1].push(pelvis + Vector3::new(-0.1, 0.0, 0.0));
            w[2].push(pelvis + Vector3::new(0.1, 0.0, 0.0));
            w[3].push(foot(t, -0.1));
            w[4].push(foot(t + 0.5, 0.1));
        }
        w
    }

    #[test]
    fn velocity_method_finds_landings_and_lift_offs() {
        let w = stepping_feet(400, 100.0);
        let e = detect_events_from_leg_joints(
            &w[0],
            [&w[1], &w[2]],
            [&w[3], &w[4]],
            100.0,
            EventMethod::Velocity,
        )
        .unwrap();
        // Left strikes at t = k s (the swing ends), toe-offs at 0.6 + k s (the swing starts). This
        // swing speeds up gently (a cosine), so the 40 % threshold is crossed ~5 frames in.
        let near = |got: &[usize], want: &[usize], late: usize| {
            got.len() == want.len()
                && got
                    .iter()
                    .zip(want)
                    .all(|(g, w)| (*w..=w + late).contains(g))
        };
        assert!(near(&e.left.strikes, &[100, 200, 300], 3), "{:?}", e.left);
        assert!(near(&e.left.offs, &[60, 160, 260, 360], 6), "{:?}", e.left);
        assert!(
            near(&e.right.strikes, &[50, 150, 250, 350], 3),
            "{:?}",
            e.right
        );
        assert!(
            near(&e.right.offs, &[10, 110, 210, 310], 6),
            "{:?}",
            e.right
        );
        // The same walk on a treadmill (everything carried back at 1.2 m/s) gives the same events.
        let belt = |v: &Vec<Vector3<f64>>| -> Vec<Vector3<f64>> {
            v.iter()
                .enumerate()
                .map(|(i, p)| p - Vector3::new(0.0, 1.2 * i as f64 / 100.0, 0.0))
                .collect()
        };
        let tw: Vec<Vec<Vector3<f64>>> = w.iter().map(belt).collect();
        let t = detect_events_from_leg_joints(
            &tw[0],
            [&tw[1], &tw[2]],
            [&tw[3], &tw[4]],
            100.0,
            EventMethod::Velocity,
        )
        .unwrap();
        assert_eq!(t, e);
        // Both methods parse from their names.
        for m in EventMethod::ALL {
            assert_eq!(m.name().parse::<EventMethod>(), Ok(m));
        }
        assert!("force".parse::<EventMethod>().is_err());
    }

    #[test]
    fn phase_is_linear_between_strikes_and_extrapolated_outside() {
        let p = leg_phase(&[10, 30, 40], 50).unwrap();
        assert_eq!(p[10], 0.0);
        assert!((p[20] - 0.5).abs() < 1e-12);
        assert!((p[35] - 0.5).abs() < 1e-12);
        assert!((p[0] - 0.5).abs() < 1e-12); // 10 frames before, stride 20
        assert!((p[45] - 0.5).abs() < 1e-12); // 5 frames after, stride 10
        assert!(leg_phase(&[3], 10).is_none());
    }

    #[test]
    fn a_standing_trial_has_no_cycle() {
        let w = walker(300, 100.0, true);
        let still: [Vec<Vector3<f64>>; 5] = std::array::from_fn(|k| vec![w[k][0]; w[k].len()]);
        let e = events(&still, 100.0);
        assert!(e.left.strikes.is_empty());
        assert!(matches!(
            e.phases(300),
            Err(GaitEventError::NoCycle { side: "left", .. })
        ));
    }

    #[test]
    fn bad_input_is_a_typed_error() {
        let w = walker(30, 100.0, false);
        assert!(matches!(
            detect(&w, 100.0),
            Err(GaitEventError::TooShort { .. })
        ));
        assert!(matches!(
            detect(&w, f64::NAN),
            Err(GaitEventError::BadRate { .. })
        ));
    }
}
