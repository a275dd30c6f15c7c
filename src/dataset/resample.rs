//! Resampling joint sequences to a network's training frame rate.
//!
//! A network sees windows of a fixed number of frames; at another frame rate the same window
//! spans a different part of the gait cycle (128 frames are 2.56 s at 50 Hz but 1.28 s at
//! 100 Hz), which the network has never seen. Sequences are therefore resampled in time to the
//! rate recorded in the model card before windowing, and results are mapped back to the
//! sequence's own frames for display.

use super::Frame;

/// How a sequence's own frames map onto frames at the network's rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameMap {
    /// Sequence frames per network frame (`sequence rate / network rate`).
    pub factor: f64,
}

impl FrameMap {
    /// The map from a sequence at `sequence_rate_hz` to a network trained at `network_rate_hz`;
    /// the identity when the network's rate is unknown or either rate is not positive.
    pub fn new(network_rate_hz: Option<f64>, sequence_rate_hz: f64) -> Self {
        let factor = match network_rate_hz {
            Some(net)
                if net.is_finite()
                    && net > 0.0
                    && sequence_rate_hz.is_finite()
                    && sequence_rate_hz > 0.0 =>
            {
                sequence_rate_hz / net
            }
            _ => 1.0,
        };
        FrameMap { factor }
    }

    /// Whether no resampling is needed (rates within 0.1 %).
    pub fn is_identity(&self) -> bool {
        (self.factor - 1.0).abs() < 1e-3
    }

    /// The network frame nearest to sequence frame `frame`.
    pub fn to_network(&self, frame: usize) -> usize {
        (frame as f64 / self.factor).round() as usize
    }

    /// The sequence frame nearest to network frame `frame`.
    pub fn to_sequence(&self, frame: usize) -> usize {
        (frame as f64 * self.factor).round() as usize
    }

    /// The network frame where a window starting at sequence frame `start` begins, kept inside
    /// a resampled sequence of `network_frames` frames for windows of `interval`.
    pub fn network_start(&self, start: usize, network_frames: usize, interval: usize) -> usize {
        self.to_network(start)
            .min(network_frames.saturating_sub(interval))
    }

    /// The sequence frames that network frames `network_start..network_start + interval` are
    /// interpolated from ([`Self::resample`] reads ⌊t⌋ and, with weight t − ⌊t⌋, the next frame
    /// at t = k · factor), kept inside a sequence of `frames` frames: what such a window reads of
    /// the walk, which can begin a frame before the nearest sequence frame.
    pub fn frames_read(
        &self,
        network_start: usize,
        interval: usize,
        frames: usize,
    ) -> std::ops::Range<usize> {
        if self.is_identity() || interval == 0 {
            let end = network_start.saturating_add(interval).min(frames);
            return network_start.min(end)..end;
        }
        // Round-off must not add a frame read with a weight of 1e-12 (nor drop one read fully).
        const TIME_EPS: f64 = 1e-6;
        let first = (network_start as f64 * self.factor + TIME_EPS).floor() as usize;
        // Saturating: an absurd interval reads to the sequence's end instead of overflowing.
        let last_t = network_start.saturating_add(interval - 1) as f64 * self.factor;
        let end = ((last_t - TIME_EPS).ceil() as usize)
            .saturating_add(1)
            .min(frames);
        first.min(end)..end
    }

    /// Sequence frames covered by a window of `interval` network frames.
    pub fn window_frames(&self, interval: usize) -> usize {
        if self.is_identity() || interval == 0 {
            return interval;
        }
        ((interval - 1) as f64 * self.factor).round() as usize + 1
    }

    /// Frames of a sequence of `frames` frames after resampling.
    pub fn network_len(&self, frames: usize) -> usize {
        if self.is_identity() || frames == 0 {
            return frames;
        }
        ((frames - 1) as f64 / self.factor).floor() as usize + 1
    }

    /// `frames` resampled to the network's rate by linear interpolation in time (a copy when
    /// the rates agree). Frame k of the result is the sequence at frame `k · factor`.
    pub fn resample(&self, frames: &[Frame]) -> Vec<Frame> {
        if self.is_identity() {
            return frames.to_vec();
        }
        let n = self.network_len(frames.len());
        (0..n)
            .map(|k| {
                let t = k as f64 * self.factor;
                let i = (t.floor() as usize).min(frames.len() - 1);
                let j = (i + 1).min(frames.len() - 1);
                let w = (t - i as f64).clamp(0.0, 1.0) as f32;
                let mut out = frames[i];
                for (o, (a, b)) in out.iter_mut().zip(frames[i].iter().zip(&frames[j])) {
                    for c in 0..3 {
                        o[c] = a[c] + w * (b[c] - a[c]);
                    }
                }
                out
            })
            .collect()
    }

    /// Per-frame rows `[interval × width]` at the network's rate, starting at network frame
    /// `network_start`, spread over the sequence frames of the same time span: returns the
    /// first sequence frame and `[window_frames × width]` rows (nearest network frame).
    pub fn rows_to_sequence(
        &self,
        network_start: usize,
        rows: &[f32],
        width: usize,
    ) -> (usize, Vec<f32>) {
        let start = self.to_sequence(network_start);
        if self.is_identity() || width == 0 {
            return (start, rows.to_vec());
        }
        let interval = rows.len() / width;
        let frames = self.window_frames(interval);
        let mut out = Vec::with_capacity(frames * width);
        for d in 0..frames {
            let row = ((d as f64 / self.factor).round() as usize).min(interval.saturating_sub(1));
            out.extend_from_slice(&rows[row * width..(row + 1) * width]);
        }
        (start, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_reads_the_frames_its_network_frames_are_interpolated_from() {
        // 120 Hz onto 50 Hz: network frame 105 is sequence time 252.0 exactly, frame 204 is 489.6.
        let m = FrameMap::new(Some(50.0), 120.0);
        assert_eq!(m.frames_read(105, 100, 694), 252..491);
        assert_eq!(m.frames_read(106, 100, 694), 254..493);
        // Kept inside the sequence; the identity reads the window itself.
        assert_eq!(m.frames_read(105, 100, 400), 252..400);
        assert_eq!(FrameMap::new(Some(50.0), 50.0).frames_read(3, 4, 5), 3..5);
        // Upsampling (30 Hz onto 50 Hz): network frames 0..=4 are times 0.0, 0.6, …, 2.4.
        assert_eq!(FrameMap::new(Some(50.0), 30.0).frames_read(0, 5, 10), 0..4);
        assert_eq!(m.frames_read(3, usize::MAX, 40), 7..40, "no overflow");
    }

    fn ramp(n: usize) -> Vec<Frame> {
        (0..n)
            .map(|f| {
                let mut fr: Frame = [[0.0; 3]; super::super::NUM_JOINTS];
                for (j, p) in fr.iter_mut().enumerate() {
                    *p = [f as f32, j as f32, -(f as f32) * 0.5];
                }
                fr
            })
            .collect()
    }

    #[test]
    fn unknown_or_equal_rates_are_the_identity() {
        assert!(FrameMap::new(None, 100.0).is_identity());
        assert!(FrameMap::new(Some(100.0), 100.0).is_identity());
        assert!(FrameMap::new(Some(0.0), 100.0).is_identity());
        let m = FrameMap::new(None, 100.0);
        assert_eq!(m.window_frames(128), 128);
        assert_eq!(m.resample(&ramp(5)), ramp(5));
    }

    #[test]
    fn halving_the_rate_keeps_every_other_frame() {
        let m = FrameMap::new(Some(50.0), 100.0);
        assert_eq!(m.factor, 2.0);
        let seq = ramp(11);
        let out = m.resample(&seq);
        assert_eq!(out.len(), 6);
        for (k, f) in out.iter().enumerate() {
            assert_eq!(f, &seq[2 * k]);
        }
        // 128 network frames cover 255 sequence frames (0, 2, …, 254).
        assert_eq!(m.window_frames(128), 255);
        assert_eq!(m.to_network(20), 10);
        assert_eq!(m.to_sequence(10), 20);
        // A start near the end stays inside the resampled sequence.
        assert_eq!(m.network_start(20, 100, 32), 10);
        assert_eq!(m.network_start(190, 100, 32), 68);
    }

    #[test]
    fn upsampling_interpolates_linearly() {
        let m = FrameMap::new(Some(120.0), 60.0);
        let seq = ramp(4);
        let out = m.resample(&seq);
        assert_eq!(out.len(), 7);
        assert!((out[1][3][0] - 0.5).abs() < 1e-6);
        assert!((out[5][0][2] + 1.25).abs() < 1e-6);
        assert_eq!(out[6], seq[3]);
    }

    #[test]
    fn rows_map_back_to_the_same_time_span() {
        let m = FrameMap::new(Some(50.0), 100.0);
        let rows: Vec<f32> = (0..4).flat_map(|r| [r as f32, -(r as f32)]).collect();
        let (start, out) = m.rows_to_sequence(3, &rows, 2);
        assert_eq!(start, 6);
        // 4 network frames span 7 sequence frames; each takes its nearest network row.
        let firsts: Vec<f32> = out.chunks(2).map(|c| c[0]).collect();
        assert_eq!(firsts, vec![0.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0]);
    }
}
