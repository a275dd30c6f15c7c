//! From one walker's BODY_25 keypoints per video frame to normalised feature windows.
//!
//! Steps (re-implemented after Kidziński et al. 2020, `video_process_utils.py` of
//! stanfordnmbl/mobile-gaitlab, with the differences noted):
//! 1. keypoints with confidence `< min_confidence` (and missing frames) become gaps; interior
//!    gaps of at most `max_gap_s` are filled linearly per coordinate. (The original filled every
//!    gap and padded the ends with the mean; here longer gaps split the clip into runs and the
//!    ends are dropped, so no window contains invented motion.)
//! 2. a frame is usable when every keypoint the features, the centre, the scale and the
//!    orientation need is present; consecutive usable frames form runs.
//! 3. each run is resampled linearly from `source_fps` to `target_fps` (25 fps, the original's
//!    `FPS`), then smoothed with a Gaussian of `smooth_sigma_frames` (original: σ = 1 frame).
//! 4. per frame: centred on MidHip (BODY_25 #8), divided by the body size ([`ScaleMode`]), `y`
//!    turned to point up, and `x` flipped so the walker always faces `+x` (direction from the
//!    toes: ankle→big-toe `x` summed over both feet, median-filtered over
//!    `orientation_window_frames` so a noisy foot cannot flicker the sign; the original flipped
//!    per frame without the filter, and flipped `y` too).
//! 5. features per frame ([`feature_names`]): `x, y` of `keypoints`, then optionally the
//!    original's derived columns (knee and ankle angles, toe–ankle distances, ankle separation)
//!    and optionally the time derivative of everything (per second).
//! 6. windows of `window_frames` (124 ≈ 5 s) every `stride_frames` (31) inside each run; a run
//!    shorter than a window but at least `min_run_frames` long gives one window padded by
//!    repeating its first and last frames (`pad_short_runs`) — reported per window.

use serde::{Deserialize, Serialize};

use super::VideoError;
use crate::formats::openpose::{BODY25_NAMES, Body25, KeypointSequence};

/// BODY_25 indices used by the preprocessing.
pub mod kp {
    /// Neck.
    pub const NECK: usize = 1;
    /// Mid-hip (OpenPose's pelvis centre).
    pub const MID_HIP: usize = 8;
    /// Right hip.
    pub const R_HIP: usize = 9;
    /// Right knee.
    pub const R_KNEE: usize = 10;
    /// Right ankle.
    pub const R_ANKLE: usize = 11;
    /// Left hip.
    pub const L_HIP: usize = 12;
    /// Left knee.
    pub const L_KNEE: usize = 13;
    /// Left ankle.
    pub const L_ANKLE: usize = 14;
    /// Left big toe.
    pub const L_BIG_TOE: usize = 19;
    /// Left heel.
    pub const L_HEEL: usize = 21;
    /// Right big toe.
    pub const R_BIG_TOE: usize = 22;
    /// Right heel.
    pub const R_HEEL: usize = 24;
}

/// How coordinates are divided to remove the body's size in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScaleMode {
    /// Mean Neck–MidHip distance over the clip (one number per clip; robust to knee flexion).
    TrunkClipMean,
    /// Per frame, mean of the two hip–knee distances (the original's choice).
    ThighPerFrame,
}

/// Preprocessing parameters; saved in the model card so prediction repeats them exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreprocessConfig {
    /// Keypoints below this confidence are treated as missing.
    pub min_confidence: f32,
    /// Frame rate of the source video in Hz (OpenPose JSON carries none; 30 = phone default).
    pub source_fps: f32,
    /// Frame rate the model sees, Hz (the original: 25).
    pub target_fps: f32,
    /// Longest interior gap filled by linear interpolation, seconds.
    pub max_gap_s: f32,
    /// Gaussian smoothing σ in target frames (0 = none).
    pub smooth_sigma_frames: f32,
    /// Window length in target frames (the original: 124).
    pub window_frames: usize,
    /// Step between window starts in target frames (the original: 31).
    pub stride_frames: usize,
    /// Pad runs shorter than a window (but ≥ `min_run_frames`) to one window.
    pub pad_short_runs: bool,
    /// Shortest run (target frames) that gives a padded window.
    pub min_run_frames: usize,
    /// BODY_25 keypoints whose normalised `x, y` are features (MidHip is the origin, never useful).
    pub keypoints: Vec<usize>,
    /// Append the original's derived columns (angles, distances).
    pub derived: bool,
    /// Append the time derivative (per second) of every feature.
    pub velocities: bool,
    /// Body-size reference.
    pub scale: ScaleMode,
    /// Median-filter length (target frames, odd) of the walking-direction sign.
    pub orientation_window_frames: usize,
}

impl Default for PreprocessConfig {
    fn default() -> Self {
        use kp::*;
        Self {
            min_confidence: 0.1,
            source_fps: 30.0,
            target_fps: 25.0,
            max_gap_s: 0.4,
            smooth_sigma_frames: 1.0,
            window_frames: 124,
            stride_frames: 31,
            pad_short_runs: true,
            min_run_frames: 50,
            keypoints: vec![
                NECK, R_HIP, R_KNEE, R_ANKLE, R_HEEL, R_BIG_TOE, L_HIP, L_KNEE, L_ANKLE, L_HEEL,
                L_BIG_TOE,
            ],
            derived: true,
            velocities: false,
            scale: ScaleMode::TrunkClipMean,
            orientation_window_frames: 25,
        }
    }
}

/// Names of the derived columns, in order.
pub const DERIVED_NAMES: [&str; 7] = [
    "LKneeAngle_rad",
    "RKneeAngle_rad",
    "LAnkleAngle_rad",
    "RAnkleAngle_rad",
    "LToeAnkleDist",
    "RToeAnkleDist",
    "RAnkleMinusLAnkle_x",
];

impl PreprocessConfig {
    /// Checks ranges; errors name the field.
    pub fn validate(&self) -> Result<(), VideoError> {
        let bad = |field, reason: &str| {
            Err(VideoError::Config {
                field,
                reason: reason.to_string(),
            })
        };
        if !(self.source_fps > 0.0 && self.source_fps.is_finite()) {
            return bad("source_fps", "must be a positive number");
        }
        if !(self.target_fps > 0.0 && self.target_fps.is_finite()) {
            return bad("target_fps", "must be a positive number");
        }
        if self.max_gap_s.is_nan() || self.max_gap_s < 0.0 {
            return bad("max_gap_s", "must be ≥ 0");
        }
        // Upper bounds: σ = 10¹² frames tried to allocate 32 TB; a Gaussian of 100 frames
        // (4 s at 25 fps) already smooths a gait away.
        if !(0.0..=100.0).contains(&self.smooth_sigma_frames) {
            return bad("smooth_sigma_frames", "must be from 0 to 100 frames");
        }
        if self.source_fps > 10_000.0 || self.target_fps > 10_000.0 {
            return bad("source_fps/target_fps", "must be at most 10 000 frames/s");
        }
        if self.max_gap_s > 60.0 {
            return bad("max_gap_s", "must be at most 60 s");
        }
        if !(2..=10_000).contains(&self.window_frames) {
            return bad("window_frames", "must be from 2 to 10 000");
        }
        if self.stride_frames == 0 {
            return bad("stride_frames", "must be ≥ 1");
        }
        if self.keypoints.is_empty() && !self.derived {
            return bad(
                "keypoints",
                "no features: empty keypoint list and derived = false",
            );
        }
        if let Some(k) = self.keypoints.iter().find(|&&k| k >= 25) {
            return bad(
                "keypoints",
                &format!("index {k} is not a BODY_25 keypoint (0..25)"),
            );
        }
        Ok(())
    }

    /// Number of features per frame.
    pub fn num_features(&self) -> usize {
        feature_names(self).len()
    }
}

/// Feature names in column order, e.g. `RKnee_x`, `RKnee_y`, `LKneeAngle_rad`, `d_RKnee_x`.
pub fn feature_names(cfg: &PreprocessConfig) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for &k in &cfg.keypoints {
        let n = BODY25_NAMES.get(k).copied().unwrap_or("?");
        names.push(format!("{n}_x"));
        names.push(format!("{n}_y"));
    }
    if cfg.derived {
        names.extend(DERIVED_NAMES.iter().map(|s| s.to_string()));
    }
    if cfg.velocities {
        let base = names.clone();
        names.extend(base.into_iter().map(|n| format!("d_{n}")));
    }
    names
}

/// One run of consecutive usable frames after resampling: `frames × features`, row-major.
#[derive(Debug, Clone)]
pub struct Run {
    /// Start time in the source clip, seconds.
    pub start_s: f32,
    /// Number of target frames.
    pub len: usize,
    /// Features, `len × features`, row-major.
    pub data: Vec<f32>,
}

/// A preprocessed clip.
#[derive(Debug, Clone)]
pub struct ProcessedClip {
    /// Clip name.
    pub clip: String,
    /// Features per frame.
    pub features: usize,
    /// Usable runs in time order.
    pub runs: Vec<Run>,
    /// Body-size reference in pixels (mean over the clip).
    pub scale_px: f32,
    /// Source frames that were not usable (missing keypoints beyond `max_gap_s`).
    pub unusable_frames: usize,
    /// Source frames in the clip.
    pub source_frames: usize,
}

/// One model input window.
#[derive(Debug, Clone)]
pub struct Window {
    /// Index of the run in [`ProcessedClip::runs`].
    pub run: usize,
    /// First target frame inside the run.
    pub start_frame: usize,
    /// Frames added by edge padding (0 for a full window).
    pub padded_frames: usize,
    /// `window_frames × features`, row-major.
    pub data: Vec<f32>,
}

/// Keypoints needed by the centre, scale, orientation and features.
fn required_keypoints(cfg: &PreprocessConfig) -> Vec<usize> {
    use kp::*;
    let mut req = vec![MID_HIP, L_ANKLE, R_ANKLE, L_BIG_TOE, R_BIG_TOE];
    match cfg.scale {
        ScaleMode::TrunkClipMean => req.push(NECK),
        ScaleMode::ThighPerFrame => req.extend([L_HIP, R_HIP, L_KNEE, R_KNEE]),
    }
    if cfg.derived {
        req.extend([L_HIP, R_HIP, L_KNEE, R_KNEE]);
    }
    req.extend(cfg.keypoints.iter().copied());
    req.sort_unstable();
    req.dedup();
    req
}

/// Fills interior NaN gaps of at most `max_gap` samples linearly; longer gaps and the ends stay NaN.
pub fn fill_short_gaps(v: &mut [f32], max_gap: usize) {
    let n = v.len();
    let mut i = 0;
    while i < n {
        if v[i].is_finite() {
            i += 1;
            continue;
        }
        let start = i;
        while i < n && !v[i].is_finite() {
            i += 1;
        }
        let gap = i - start;
        if start == 0 || i == n || gap > max_gap {
            continue;
        }
        let (a, b) = (v[start - 1], v[i]);
        for (k, x) in v[start..i].iter_mut().enumerate() {
            let t = (k + 1) as f32 / (gap + 1) as f32;
            *x = a + (b - a) * t;
        }
    }
}

/// Linear resampling of `v` (sampled at `src_hz`) to `dst_hz`, starting at the first sample.
pub fn resample_linear(v: &[f32], src_hz: f32, dst_hz: f32) -> Vec<f32> {
    if v.is_empty() {
        return Vec::new();
    }
    let duration = (v.len() - 1) as f64 / src_hz as f64;
    let n_out = (duration * dst_hz as f64 + 1e-9).floor() as usize + 1;
    (0..n_out)
        .map(|j| {
            let pos = j as f64 / dst_hz as f64 * src_hz as f64;
            let i0 = (pos.floor() as usize).min(v.len() - 1);
            let i1 = (i0 + 1).min(v.len() - 1);
            let t = (pos - i0 as f64) as f32;
            v[i0] + (v[i1] - v[i0]) * t
        })
        .collect()
}

/// Gaussian smoothing with σ in samples, truncated at 4σ, edges by nearest-value extension.
pub fn gaussian_smooth(v: &[f32], sigma: f32) -> Vec<f32> {
    if sigma <= 0.0 || v.len() < 2 {
        return v.to_vec();
    }
    let r = (4.0 * sigma).ceil() as isize;
    let w: Vec<f32> = (-r..=r)
        .map(|k| (-(k * k) as f32 / (2.0 * sigma * sigma)).exp())
        .collect();
    let sum: f32 = w.iter().sum();
    let n = v.len() as isize;
    (0..n)
        .map(|i| {
            (-r..=r)
                .map(|k| {
                    let j = (i + k).clamp(0, n - 1) as usize;
                    v[j] * w[(k + r) as usize]
                })
                .sum::<f32>()
                / sum
        })
        .collect()
}

fn median_sign(signs: &[f32], window: usize) -> Vec<f32> {
    let h = (window.max(1) / 2) as isize;
    let n = signs.len() as isize;
    (0..n)
        .map(|i| {
            let s: f32 = (i - h..=i + h)
                .map(|j| signs[j.clamp(0, n - 1) as usize])
                .sum();
            if s >= 0.0 { 1.0 } else { -1.0 }
        })
        .collect()
}

fn angle(a: [f32; 2], b: [f32; 2], c: [f32; 2]) -> f32 {
    let (u, v) = ([a[0] - b[0], a[1] - b[1]], [c[0] - b[0], c[1] - b[1]]);
    let nu = (u[0] * u[0] + u[1] * u[1]).sqrt();
    let nv = (v[0] * v[0] + v[1] * v[1]).sqrt();
    if nu < 1e-9 || nv < 1e-9 {
        return std::f32::consts::PI;
    }
    ((u[0] * v[0] + u[1] * v[1]) / (nu * nv))
        .clamp(-1.0, 1.0)
        .acos()
}

fn dist(a: [f32; 2], b: [f32; 2]) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

/// Preprocesses a keypoint sequence (see the module documentation).
pub fn preprocess_sequence(
    seq: &KeypointSequence,
    cfg: &PreprocessConfig,
) -> Result<ProcessedClip, VideoError> {
    preprocess_frames(&seq.clip, &seq.frames, cfg)
}

/// Preprocesses per-frame BODY_25 keypoints of one walker (`None` = nobody in the frame).
pub fn preprocess_frames(
    clip: &str,
    frames: &[Option<Body25>],
    cfg: &PreprocessConfig,
) -> Result<ProcessedClip, VideoError> {
    cfg.validate()?;
    let n = frames.len();
    let req = required_keypoints(cfg);
    let xy = keypoint_series(frames, cfg, &req);
    let (spans, unusable_frames) = usable_spans(&xy, &req, n);
    let runs_xy = smooth_runs(&xy, &spans, &req, cfg);
    let scale_px = clip_scale(&runs_xy, cfg);
    let nb = cfg.keypoints.len() * 2 + if cfg.derived { 7 } else { 0 };
    let nf = if cfg.velocities { 2 * nb } else { nb };
    let mut runs = Vec::new();
    if scale_px.is_finite() && scale_px > 1e-6 {
        for (s, r) in &runs_xy {
            let len = r[kp::MID_HIP][0].len();
            let base = base_features(r, scale_px, cfg, nb);
            let data = if cfg.velocities {
                with_velocities(&base, len, nb, cfg.target_fps)
            } else {
                base
            };
            runs.push(Run {
                start_s: *s as f32 / cfg.source_fps,
                len,
                data,
            });
        }
    }
    Ok(ProcessedClip {
        clip: clip.to_string(),
        features: nf,
        runs,
        scale_px,
        unusable_frames,
        source_frames: n,
    })
}

/// Per keypoint, its x and y series over all frames (`[keypoint][axis][frame]`).
type Series = Vec<[Vec<f32>; 2]>;

/// Step 1: per keypoint coordinate series with NaN gaps (confident points only, MidHip from the
/// hips when OpenPose missed it), short gaps of the required keypoints filled.
fn keypoint_series(frames: &[Option<Body25>], cfg: &PreprocessConfig, req: &[usize]) -> Series {
    let n = frames.len();
    let mut xy = vec![[vec![f32::NAN; n], vec![f32::NAN; n]]; 25];
    for (t, f) in frames.iter().enumerate() {
        let Some(p) = f else { continue };
        for k in 0..25 {
            let [x, y, c] = p[k];
            if c >= cfg.min_confidence && c > 0.0 && x.is_finite() && y.is_finite() {
                xy[k][0][t] = x;
                xy[k][1][t] = y;
            }
        }
        // MidHip from the two hips when OpenPose missed it.
        if !xy[kp::MID_HIP][0][t].is_finite() {
            let (l, r) = (p[kp::L_HIP], p[kp::R_HIP]);
            if l[2] >= cfg.min_confidence && r[2] >= cfg.min_confidence && l[2] > 0.0 && r[2] > 0.0
            {
                xy[kp::MID_HIP][0][t] = 0.5 * (l[0] + r[0]);
                xy[kp::MID_HIP][1][t] = 0.5 * (l[1] + r[1]);
            }
        }
    }
    let max_gap = (cfg.max_gap_s * cfg.source_fps).floor() as usize;
    for &k in req {
        for channel in xy[k].iter_mut() {
            fill_short_gaps(channel, max_gap);
        }
    }
    xy
}

/// Step 2: the runs (`start..end` frames, at least 2 long) where every required keypoint is
/// present, and the number of unusable frames.
fn usable_spans(xy: &Series, req: &[usize], n: usize) -> (Vec<(usize, usize)>, usize) {
    let usable: Vec<bool> = (0..n)
        .map(|t| req.iter().all(|&k| xy[k][0][t].is_finite()))
        .collect();
    let unusable_frames = usable.iter().filter(|u| !**u).count();
    let mut spans = Vec::new();
    let mut t = 0;
    while t < n {
        if !usable[t] {
            t += 1;
            continue;
        }
        let s = t;
        while t < n && usable[t] {
            t += 1;
        }
        if t - s >= 2 {
            spans.push((s, t));
        }
    }
    (spans, unusable_frames)
}

/// Step 3: each run's required keypoints resampled to the target rate and smoothed, with the
/// run's first source frame.
fn smooth_runs(
    xy: &Series,
    spans: &[(usize, usize)],
    req: &[usize],
    cfg: &PreprocessConfig,
) -> Vec<(usize, Series)> {
    let mut runs_xy = Vec::new();
    for &(s, e) in spans {
        let mut per_k = vec![[Vec::new(), Vec::new()]; 25];
        for &k in req {
            for c in 0..2 {
                let r = resample_linear(&xy[k][c][s..e], cfg.source_fps, cfg.target_fps);
                per_k[k][c] = gaussian_smooth(&r, cfg.smooth_sigma_frames);
            }
        }
        runs_xy.push((s, per_k));
    }
    runs_xy
}

/// Keypoint `k` of a run at frame `t`.
fn point(r: &Series, k: usize, t: usize) -> [f32; 2] {
    [r[k][0][t], r[k][1][t]]
}

/// Left plus right thigh length (hip to knee) of a run at frame `t`, pixels.
fn thighs(r: &Series, t: usize) -> f32 {
    dist(point(r, kp::L_HIP, t), point(r, kp::L_KNEE, t))
        + dist(point(r, kp::R_HIP, t), point(r, kp::R_KNEE, t))
}

/// The clip-level scale in pixels: mean trunk length (neck to mid-hip), or mean thigh length
/// for per-frame thigh scaling (its fallback); NaN without frames.
fn clip_scale(runs_xy: &[(usize, Series)], cfg: &PreprocessConfig) -> f32 {
    let mut trunk_sum = 0.0f64;
    let mut trunk_n = 0usize;
    let mut thigh_sum = 0.0f64;
    for (_, r) in runs_xy {
        let len = r[kp::MID_HIP][0].len();
        for t in 0..len {
            if cfg.scale == ScaleMode::TrunkClipMean {
                trunk_sum += dist(point(r, kp::NECK, t), point(r, kp::MID_HIP, t)) as f64;
            } else {
                thigh_sum += 0.5 * thighs(r, t) as f64;
            }
            trunk_n += 1;
        }
    }
    if trunk_n == 0 {
        f32::NAN
    } else {
        ((trunk_sum + thigh_sum) / trunk_n as f64) as f32
    }
}

/// Steps 4–5 for one run: `len × nb` features (keypoints centred on the mid-hip, scaled, facing
/// +x; then the derived angles and distances).
fn base_features(r: &Series, scale_px: f32, cfg: &PreprocessConfig, nb: usize) -> Vec<f32> {
    let len = r[kp::MID_HIP][0].len();
    // orientation: toes ahead of ankles in +x → facing +x.
    let signs: Vec<f32> = (0..len)
        .map(|t| {
            let d = (r[kp::L_BIG_TOE][0][t] - r[kp::L_ANKLE][0][t])
                + (r[kp::R_BIG_TOE][0][t] - r[kp::R_ANKLE][0][t]);
            if d >= 0.0 { 1.0 } else { -1.0 }
        })
        .collect();
    let orient = median_sign(&signs, cfg.orientation_window_frames);
    let mut base = vec![0.0f32; len * nb];
    for t in 0..len {
        let c = point(r, kp::MID_HIP, t);
        let sc = match cfg.scale {
            ScaleMode::TrunkClipMean => scale_px,
            ScaleMode::ThighPerFrame => {
                let s = 0.5 * thighs(r, t);
                if s > 1e-6 { s } else { scale_px }
            }
        };
        let norm = |k: usize| {
            let q = point(r, k, t);
            [(q[0] - c[0]) / sc * orient[t], -(q[1] - c[1]) / sc]
        };
        write_row(&mut base[t * nb..(t + 1) * nb], cfg, norm);
    }
    base
}

/// Writes one frame's features from its normalised keypoints (`norm(k)`): the configured
/// keypoints, then (if enabled) the derived knee/ankle angles, foot lengths and step width.
fn write_row(row: &mut [f32], cfg: &PreprocessConfig, norm: impl Fn(usize) -> [f32; 2]) {
    let mut j = 0;
    for &k in &cfg.keypoints {
        let q = norm(k);
        row[j] = q[0];
        row[j + 1] = q[1];
        j += 2;
    }
    if cfg.derived {
        use kp::*;
        let (la, ra) = (norm(L_ANKLE), norm(R_ANKLE));
        let (lk, rk) = (norm(L_KNEE), norm(R_KNEE));
        let (lh, rh) = (norm(L_HIP), norm(R_HIP));
        let (lt, rt) = (norm(L_BIG_TOE), norm(R_BIG_TOE));
        row[j] = angle(la, lk, lh);
        row[j + 1] = angle(ra, rk, rh);
        row[j + 2] = angle(lt, la, lk);
        row[j + 3] = angle(rt, ra, rk);
        row[j + 4] = dist(lt, la);
        row[j + 5] = dist(rt, ra);
        row[j + 6] = ra[0] - la[0];
    }
}

/// Appends to each frame's `nb` features their central-difference time derivatives.
fn with_velocities(base: &[f32], len: usize, nb: usize, fps: f32) -> Vec<f32> {
    let nf = 2 * nb;
    let mut d = vec![0.0f32; len * nf];
    for t in 0..len {
        let (a, b) = (t.saturating_sub(1), (t + 1).min(len - 1));
        let span = (b - a).max(1) as f32 / fps;
        for f in 0..nb {
            d[t * nf + f] = base[t * nb + f];
            d[t * nf + nb + f] = (base[b * nb + f] - base[a * nb + f]) / span;
        }
    }
    d
}

/// Cuts the windows of a preprocessed clip (see the module documentation, step 6).
pub fn cut_windows(clip: &ProcessedClip, cfg: &PreprocessConfig) -> Vec<Window> {
    let (w, nf) = (cfg.window_frames, clip.features);
    let mut out = Vec::new();
    for (ri, run) in clip.runs.iter().enumerate() {
        if run.len >= w {
            let mut s = 0;
            while s + w <= run.len {
                out.push(Window {
                    run: ri,
                    start_frame: s,
                    padded_frames: 0,
                    data: run.data[s * nf..(s + w) * nf].to_vec(),
                });
                s += cfg.stride_frames;
            }
        } else if cfg.pad_short_runs && run.len >= cfg.min_run_frames.max(1) {
            let pad = w - run.len;
            let before = pad / 2;
            let mut data = Vec::with_capacity(w * nf);
            for t in 0..w {
                let src = t.saturating_sub(before).min(run.len - 1);
                data.extend_from_slice(&run.data[src * nf..(src + 1) * nf]);
            }
            out.push(Window {
                run: ri,
                start_frame: 0,
                padded_frames: pad,
                data,
            });
        }
    }
    out
}

/// Preprocesses and windows a clip; fails naming the clip when it yields no window.
pub fn clip_windows(
    clip: &str,
    frames: &[Option<Body25>],
    cfg: &PreprocessConfig,
) -> Result<(ProcessedClip, Vec<Window>), VideoError> {
    let pc = preprocess_frames(clip, frames, cfg)?;
    let w = cut_windows(&pc, cfg);
    if w.is_empty() {
        let longest = pc.runs.iter().map(|r| r.len).max().unwrap_or(0);
        return Err(VideoError::NoWindows {
            clip: clip.to_string(),
            window_frames: cfg.window_frames,
            reason: format!(
                "{} of {} source frames unusable; longest usable run {} frames at {} fps",
                pc.unusable_frames, pc.source_frames, longest, cfg.target_fps
            ),
        });
    }
    Ok((pc, w))
}

/// A clip's keypoints normalised for display, one entry per *source* frame (no resampling or
/// smoothing, so the viewer's timeline maps 1:1 onto the OpenPose frames).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DisplayClip {
    /// Clip name.
    pub clip: String,
    /// Frame rate assumed for the source (the configuration's `source_fps`).
    pub source_fps: f32,
    /// Body-size reference in pixels (median Neck–MidHip distance over the clip).
    pub scale_px: f32,
    /// Per source frame: `None` without a walker or pelvis; else all 25 BODY_25 keypoints as
    /// `(x, y, confidence)` with MidHip at the origin, divided by `scale_px`, `y` up and `x`
    /// flipped so the walker faces `+x` (as the features). Keypoints below `min_confidence`
    /// have confidence 0 and `x = y = 0`.
    pub frames: Vec<Option<Body25>>,
}

/// Per-frame normalised keypoints of a clip for display (see [`DisplayClip`]); the same centre,
/// scale, `y` direction and walking-direction rule as [`preprocess_frames`], without gap filling
/// or resampling. Fails only for an invalid configuration.
pub fn display_keypoints(
    clip: &str,
    frames: &[Option<Body25>],
    cfg: &PreprocessConfig,
) -> Result<DisplayClip, VideoError> {
    cfg.validate()?;
    let ok = |q: [f32; 3]| q[2] >= cfg.min_confidence && q[2] > 0.0 && q[0].is_finite();
    let centre = |p: &Body25| -> Option<[f32; 2]> {
        let m = p[kp::MID_HIP];
        if ok(m) {
            return Some([m[0], m[1]]);
        }
        let (l, r) = (p[kp::L_HIP], p[kp::R_HIP]);
        (ok(l) && ok(r)).then(|| [0.5 * (l[0] + r[0]), 0.5 * (l[1] + r[1])])
    };
    let mut trunk: Vec<f32> = frames
        .iter()
        .flatten()
        .filter_map(|p| {
            let c = centre(p)?;
            let n = p[kp::NECK];
            ok(n).then(|| dist([n[0], n[1]], c))
        })
        .filter(|d| *d > 1e-3)
        .collect();
    trunk.sort_by(f32::total_cmp);
    let scale_px = trunk.get(trunk.len() / 2).copied().unwrap_or(f32::NAN);
    // walking direction: toes ahead of ankles, median-filtered over the same duration as the
    // features' filter (frames without feet vote 0).
    let signs: Vec<f32> = frames
        .iter()
        .map(|f| {
            let Some(p) = f else { return 0.0 };
            let mut d = 0.0;
            for (toe, ankle) in [(kp::L_BIG_TOE, kp::L_ANKLE), (kp::R_BIG_TOE, kp::R_ANKLE)] {
                if ok(p[toe]) && ok(p[ankle]) {
                    d += p[toe][0] - p[ankle][0];
                }
            }
            if d > 0.0 {
                1.0
            } else if d < 0.0 {
                -1.0
            } else {
                0.0
            }
        })
        .collect();
    let win = ((cfg.orientation_window_frames as f32 * cfg.source_fps / cfg.target_fps).round()
        as usize)
        | 1;
    let orient = median_sign(&signs, win);
    let sc = if scale_px.is_finite() { scale_px } else { 1.0 };
    let out = frames
        .iter()
        .enumerate()
        .map(|(t, f)| {
            let p = f.as_ref()?;
            let c = centre(p)?;
            let mut q: Body25 = [[0.0; 3]; 25];
            for k in 0..25 {
                if ok(p[k]) {
                    q[k] = [
                        (p[k][0] - c[0]) / sc * orient[t],
                        -(p[k][1] - c[1]) / sc,
                        p[k][2],
                    ];
                }
            }
            if !ok(p[kp::MID_HIP]) {
                q[kp::MID_HIP] = [0.0, 0.0, 0.5 * (p[kp::L_HIP][2] + p[kp::R_HIP][2])];
            }
            Some(q)
        })
        .collect();
    Ok(DisplayClip {
        clip: clip.to_string(),
        source_fps: cfg.source_fps,
        scale_px,
        frames: out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::video::data::synthetic_walker;

    #[test]
    fn short_gaps_are_filled_linearly_long_ones_and_ends_kept() {
        let nan = f32::NAN;
        let mut v = vec![nan, 1.0, nan, nan, 4.0, nan, nan, nan, nan, 9.0, nan];
        fill_short_gaps(&mut v, 3);
        assert!(v[0].is_nan() && v[10].is_nan(), "ends must stay gaps");
        assert!((v[2] - 2.0).abs() < 1e-6 && (v[3] - 3.0).abs() < 1e-6);
        assert!(v[5..9].iter().all(|x| x.is_nan()), "4-frame gap > 3 stays");
    }

    #[test]
    fn resampling_keeps_a_linear_ramp_and_duration() {
        let v: Vec<f32> = (0..31).map(|i| i as f32 / 30.0).collect(); // 1 s at 30 Hz, value = time
        let r = resample_linear(&v, 30.0, 25.0);
        assert_eq!(r.len(), 26);
        for (j, x) in r.iter().enumerate() {
            assert!((x - j as f32 / 25.0).abs() < 1e-5, "{j}: {x}");
        }
    }

    #[test]
    fn smoothing_keeps_constants_and_damps_alternation() {
        assert!(
            gaussian_smooth(&[2.0; 9], 1.0)
                .iter()
                .all(|x| (x - 2.0).abs() < 1e-5)
        );
        let alt: Vec<f32> = (0..20)
            .map(|i| if i % 2 == 0 { 1.0 } else { -1.0 })
            .collect();
        let s = gaussian_smooth(&alt, 1.0);
        assert!(s[5..15].iter().all(|x| x.abs() < 0.3));
    }

    fn transform(
        frames: &[Option<Body25>],
        f: impl Fn(f32, f32) -> (f32, f32),
    ) -> Vec<Option<Body25>> {
        frames
            .iter()
            .map(|fr| {
                fr.map(|mut p| {
                    for k in p.iter_mut() {
                        let (x, y) = f(k[0], k[1]);
                        k[0] = x;
                        k[1] = y;
                    }
                    p
                })
            })
            .collect()
    }

    #[test]
    fn features_are_invariant_to_translation_scale_and_walking_direction() {
        let seq = synthetic_walker("a", 150, 30.0, 50.0, 0.9, 1.0, 3);
        let cfg = PreprocessConfig::default();
        let a = preprocess_frames("a", &seq.frames, &cfg).unwrap();
        let moved = transform(&seq.frames, |x, y| (2.5 * x + 300.0, 2.5 * y - 40.0));
        let b = preprocess_frames("b", &moved, &cfg).unwrap();
        // mirror image: the walker faces the other way.
        let mirrored = transform(&seq.frames, |x, y| (2000.0 - x, y));
        let c = preprocess_frames("c", &mirrored, &cfg).unwrap();
        assert_eq!(a.runs.len(), 1);
        for other in [&b, &c] {
            assert_eq!(other.runs[0].len, a.runs[0].len);
            let md = a.runs[0]
                .data
                .iter()
                .zip(&other.runs[0].data)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0f32, f32::max);
            assert!(md < 1e-3, "max feature difference {md}");
        }
        // and the features are not trivially constant
        let var: f32 = a.runs[0].data.iter().map(|x| x * x).sum();
        assert!(var > 1.0);
    }

    #[test]
    fn centre_is_midhip_and_scale_is_trunk_length() {
        let seq = synthetic_walker("a", 60, 25.0, 40.0, 1.0, 1.0, 1);
        let mut cfg = PreprocessConfig {
            source_fps: 25.0,
            smooth_sigma_frames: 0.0,
            derived: false,
            ..Default::default()
        };
        cfg.keypoints = vec![kp::MID_HIP, kp::NECK];
        let pc = preprocess_frames("a", &seq.frames, &cfg).unwrap();
        let d = &pc.runs[0].data;
        for t in 0..pc.runs[0].len {
            assert!(
                d[t * 4].abs() < 1e-6 && d[t * 4 + 1].abs() < 1e-6,
                "MidHip not at origin"
            );
            // neck is above the pelvis (y up) at about one trunk length
            let r = (d[t * 4 + 2].powi(2) + d[t * 4 + 3].powi(2)).sqrt();
            assert!((r - 1.0).abs() < 0.05 && d[t * 4 + 3] > 0.9, "neck at {r}");
        }
    }

    #[test]
    fn windows_counts_and_padding() {
        let cfg = PreprocessConfig::default();
        // 300 source frames at 30 fps = 10 s → 250 target frames → starts 0,31,62,93,124 → 5
        let seq = synthetic_walker("a", 301, 30.0, 50.0, 0.9, 1.0, 2);
        let (pc, w) = clip_windows("a", &seq.frames, &cfg).unwrap();
        assert_eq!(pc.runs[0].len, 251);
        assert_eq!(w.len(), (251 - 124) / 31 + 1);
        assert!(
            w.iter()
                .all(|w| w.data.len() == 124 * pc.features && w.padded_frames == 0)
        );
        // a gap longer than max_gap_s splits the run; short runs are padded or dropped
        let mut frames = seq.frames.clone();
        for f in frames.iter_mut().skip(100).take(30) {
            *f = None;
        }
        let (pc2, w2) = clip_windows("a", &frames, &cfg).unwrap();
        assert_eq!(pc2.runs.len(), 2);
        assert_eq!(pc2.unusable_frames, 30);
        assert_eq!(
            pc2.runs[0].len,
            resample_linear(&[0.0; 100], 30.0, 25.0).len()
        );
        let padded: Vec<_> = w2.iter().filter(|w| w.padded_frames > 0).collect();
        assert_eq!(padded.len(), 1, "the 100-frame run gives one padded window");
        let none = PreprocessConfig {
            pad_short_runs: false,
            ..cfg.clone()
        };
        assert_eq!(
            clip_windows("a", &frames, &none).unwrap().1.len(),
            w2.len() - 1
        );
        // too short everywhere → typed error naming the clip
        let err = clip_windows("tiny", &seq.frames[..40], &none).unwrap_err();
        assert!(err.to_string().contains("tiny"));
    }

    #[test]
    fn low_confidence_keypoints_are_gaps() {
        let seq = synthetic_walker("a", 120, 30.0, 50.0, 0.9, 1.0, 2);
        let mut frames = seq.frames.clone();
        // knee confidence below threshold for 3 frames → filled; for 40 frames → split
        for f in frames.iter_mut().skip(10).take(3) {
            f.as_mut().unwrap()[kp::L_KNEE][2] = 0.05;
        }
        let cfg = PreprocessConfig::default();
        let pc = preprocess_frames("a", &frames, &cfg).unwrap();
        assert_eq!((pc.runs.len(), pc.unusable_frames), (1, 0));
        for f in frames.iter_mut().skip(50).take(40) {
            f.as_mut().unwrap()[kp::L_KNEE][2] = 0.05;
        }
        let pc = preprocess_frames("a", &frames, &cfg).unwrap();
        assert_eq!((pc.runs.len(), pc.unusable_frames), (2, 40));
    }

    #[test]
    fn display_keypoints_are_normalised_per_source_frame() {
        let seq = synthetic_walker("a", 90, 30.0, 50.0, 0.9, 0.0, 2);
        let mut frames = seq.frames.clone();
        frames[5] = None;
        let mirrored = transform(&frames, |x, y| (3000.0 - 2.0 * x, 2.0 * y));
        let cfg = PreprocessConfig::default();
        let a = display_keypoints("a", &frames, &cfg).unwrap();
        let b = display_keypoints("b", &mirrored, &cfg).unwrap();
        assert_eq!(a.frames.len(), 90);
        assert!(a.frames[5].is_none());
        assert!((a.scale_px - 150.0).abs() < 1.0, "trunk {}", a.scale_px);
        for (fa, fb) in a.frames.iter().zip(&b.frames) {
            let (Some(fa), Some(fb)) = (fa, fb) else {
                continue;
            };
            assert_eq!(fa[kp::MID_HIP][..2], [0.0, 0.0]);
            assert!(
                (fa[kp::NECK][1] - 1.0).abs() < 0.01,
                "neck up one trunk length"
            );
            // toes ahead (+x) of the ankles, also for the mirrored walker
            assert!(fa[kp::L_BIG_TOE][0] > fa[kp::L_ANKLE][0]);
            for k in 0..25 {
                for c in 0..2 {
                    assert!((fa[k][c] - fb[k][c]).abs() < 1e-4);
                }
            }
        }
    }

    #[test]
    fn feature_names_match_feature_count() {
        let mut cfg = PreprocessConfig {
            velocities: true,
            ..Default::default()
        };
        assert_eq!(feature_names(&cfg).len(), 2 * (22 + 7));
        let seq = synthetic_walker("a", 90, 30.0, 50.0, 0.9, 1.0, 2);
        assert_eq!(
            preprocess_sequence(&seq, &cfg).unwrap().features,
            cfg.num_features()
        );
        cfg.keypoints = vec![30];
        assert!(matches!(
            cfg.validate(),
            Err(VideoError::Config {
                field: "keypoints",
                ..
            })
        ));
    }
}
