//! Playback of a pose sequence at its own rate: play/pause, step, speed, loop and seeking, kept in
//! a plain [`Playback`] struct so the logic is unit-tested without Bevy.

use bevy::prelude::*;

/// Playback state of a sequence of `num_frames` frames recorded at `rate_hz`.
///
/// Time runs in seconds of sequence time; frame `i` is shown during `[i/rate, (i+1)/rate)`.
#[derive(Resource, Debug, Clone, PartialEq)]
pub struct Playback {
    num_frames: usize,
    rate_hz: f64,
    time_s: f64,
    /// Whether time advances with the wall clock.
    pub playing: bool,
    /// Playback speed factor (1 = real time), clamped to `[SPEED_MIN, SPEED_MAX]` when advancing.
    pub speed: f64,
    /// Whether playback wraps to the first frame after the last one.
    pub looping: bool,
}

/// Slowest allowed playback speed factor.
pub const SPEED_MIN: f64 = 0.05;
/// Fastest allowed playback speed factor.
pub const SPEED_MAX: f64 = 8.0;

impl Default for Playback {
    fn default() -> Self {
        Playback::new(1, 30.0)
    }
}

impl Playback {
    /// A paused playback at frame 0; a non-positive or non-finite rate falls back to 30 Hz.
    pub fn new(num_frames: usize, rate_hz: f64) -> Self {
        let rate_hz = if rate_hz.is_finite() && rate_hz > 0.0 {
            rate_hz
        } else {
            30.0
        };
        Playback {
            num_frames,
            rate_hz,
            time_s: 0.0,
            playing: false,
            speed: 1.0,
            looping: true,
        }
    }

    /// Number of frames of the sequence.
    pub fn num_frames(&self) -> usize {
        self.num_frames
    }

    /// Frame rate of the sequence in Hz.
    pub fn rate_hz(&self) -> f64 {
        self.rate_hz
    }

    /// Current sequence time in seconds.
    pub fn time_s(&self) -> f64 {
        self.time_s
    }

    /// Length of one loop in seconds (`num_frames / rate_hz`).
    pub fn period_s(&self) -> f64 {
        self.num_frames as f64 / self.rate_hz
    }

    /// The frame shown at the current time.
    pub fn frame(&self) -> usize {
        if self.num_frames == 0 {
            return 0;
        }
        // The epsilon keeps `seek_frame(i)` on frame i despite rounding of i / rate · rate.
        let f = (self.time_s * self.rate_hz + 1e-6).floor();
        (f.max(0.0) as usize).min(self.num_frames - 1)
    }

    /// Advances time by `dt_s` wall-clock seconds times the speed if playing; wraps when looping,
    /// otherwise stops on the last frame. Returns whether the shown frame changed.
    pub fn advance(&mut self, dt_s: f64) -> bool {
        if !self.playing || self.num_frames <= 1 || !dt_s.is_finite() || dt_s <= 0.0 {
            return false;
        }
        let before = self.frame();
        self.time_s += dt_s * self.speed.clamp(SPEED_MIN, SPEED_MAX);
        let period = self.period_s();
        if self.time_s >= period {
            if self.looping {
                self.time_s = self.time_s.rem_euclid(period);
            } else {
                self.time_s = (self.num_frames - 1) as f64 / self.rate_hz;
                self.playing = false;
            }
        }
        self.frame() != before
    }

    /// Moves `delta` frames (negative goes back) and pauses; wraps when looping, else clamps.
    pub fn step(&mut self, delta: i64) {
        self.playing = false;
        if self.num_frames == 0 {
            return;
        }
        let n = self.num_frames as i64;
        let target = self.frame() as i64 + delta;
        let target = if self.looping {
            target.rem_euclid(n)
        } else {
            target.clamp(0, n - 1)
        };
        self.seek_frame(target as usize);
    }

    /// Jumps to the start of `frame` (clamped to the last frame).
    pub fn seek_frame(&mut self, frame: usize) {
        let f = frame.min(self.num_frames.saturating_sub(1));
        self.time_s = f as f64 / self.rate_hz;
    }

    /// Changes the frame rate (pose folders do not store one), staying on the current frame;
    /// non-positive or non-finite rates are ignored.
    pub fn set_rate_hz(&mut self, rate_hz: f64) {
        if rate_hz.is_finite() && rate_hz > 0.0 {
            let f = self.frame();
            self.rate_hz = rate_hz;
            self.seek_frame(f);
        }
    }

    /// Toggles play/pause; playing from the end of a non-looping sequence restarts it.
    pub fn toggle_play(&mut self) {
        if !self.playing && !self.looping && self.frame() + 1 >= self.num_frames {
            self.time_s = 0.0;
        }
        self.playing = !self.playing;
    }
}

/// Advances [`Playback`] with Bevy's clock every frame.
pub struct PlaybackPlugin;

impl Plugin for PlaybackPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<Playback>().add_systems(
            Update,
            (playback_keys, advance_playback)
                .chain()
                .in_set(PlaybackSystems),
        );
    }
}

/// System set of the playback update (posing runs after it).
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub struct PlaybackSystems;

/// Adds the wall-clock frame time to the playback clock, so a slow machine skips frames instead
/// of playing in slow motion: Bevy's default (virtual) clock clamps each frame's delta to 250 ms,
/// which on a software renderer drawing 2–4 frames a second would slow a walk down.
fn advance_playback(time: Res<Time<Real>>, mut playback: ResMut<Playback>) {
    if playback.playing {
        playback.advance(time.delta_secs_f64());
    }
}

/// Space toggles play/pause, ←/→ step one frame; ignored while egui is typing.
fn playback_keys(
    keys: Option<Res<ButtonInput<KeyCode>>>,
    egui_input: Option<Res<bevy_egui::input::EguiWantsInput>>,
    mut playback: ResMut<Playback>,
) {
    let Some(keys) = keys else { return };
    if egui_input.is_some_and(|e| e.wants_any_keyboard_input()) {
        return;
    }
    if keys.just_pressed(KeyCode::Space) {
        playback.toggle_play();
    }
    if keys.just_pressed(KeyCode::ArrowRight) {
        playback.step(1);
    }
    if keys.just_pressed(KeyCode::ArrowLeft) {
        playback.step(-1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_moves_frames_at_the_sequence_rate() {
        let mut p = Playback::new(100, 50.0);
        assert!(!p.advance(0.1), "paused playback must not move");
        p.playing = true;
        p.advance(0.1);
        assert_eq!(p.frame(), 5);
        p.speed = 2.0;
        p.advance(0.1);
        assert_eq!(p.frame(), 15);
    }

    #[test]
    fn looping_wraps_and_non_looping_stops_on_last_frame() {
        let mut p = Playback::new(10, 10.0);
        p.playing = true;
        p.advance(1.25);
        assert_eq!(p.frame(), 2);
        assert!(p.playing);
        let mut q = Playback::new(10, 10.0);
        q.looping = false;
        q.playing = true;
        q.advance(5.0);
        assert_eq!(q.frame(), 9);
        assert!(!q.playing);
        q.toggle_play();
        assert!(q.playing);
        assert_eq!(
            q.frame(),
            0,
            "play at the end of a non-looping sequence restarts"
        );
    }

    #[test]
    fn step_pauses_wraps_or_clamps() {
        let mut p = Playback::new(5, 30.0);
        p.playing = true;
        p.step(-1);
        assert!(!p.playing);
        assert_eq!(p.frame(), 4);
        p.step(3);
        assert_eq!(p.frame(), 2);
        p.looping = false;
        p.step(10);
        assert_eq!(p.frame(), 4);
        p.step(-10);
        assert_eq!(p.frame(), 0);
    }

    #[test]
    fn seek_lands_exactly_on_frame_for_awkward_rates() {
        for rate in [29.97, 100.0, 120.0, 59.94, 7.0] {
            let mut p = Playback::new(1000, rate);
            for f in [0, 1, 2, 3, 17, 333, 998, 999] {
                p.seek_frame(f);
                assert_eq!(p.frame(), f, "rate {rate}");
            }
            p.seek_frame(5000);
            assert_eq!(p.frame(), 999);
        }
    }

    #[test]
    fn changing_rate_keeps_the_frame_and_scales_time() {
        let mut p = Playback::new(200, 100.0);
        p.seek_frame(37);
        p.set_rate_hz(50.0);
        assert_eq!(p.frame(), 37);
        assert!((p.time_s() - 0.74).abs() < 1e-12);
        p.set_rate_hz(-1.0);
        p.set_rate_hz(f64::NAN);
        assert_eq!(p.rate_hz(), 50.0);
        p.playing = true;
        p.advance(0.1);
        assert_eq!(p.frame(), 42);
    }

    #[test]
    fn degenerate_inputs_do_not_panic() {
        let mut p = Playback::new(0, f64::NAN);
        assert_eq!(p.rate_hz(), 30.0);
        p.playing = true;
        p.advance(1.0);
        p.step(1);
        p.seek_frame(3);
        assert_eq!(p.frame(), 0);
        let mut q = Playback::new(3, 10.0);
        q.playing = true;
        q.advance(f64::INFINITY);
        q.advance(-1.0);
        assert_eq!(q.frame(), 0);
    }
}
