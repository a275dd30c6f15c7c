//! The **What if** panel: a pathology transplanted onto the walk on screen
//! ([`crate::synth::transplant`], the same functions as `gaitlens synth inject`), shown in place
//! of the recorded walk, re-explained by the network and recoloured; Reset brings the recorded
//! walk back. The panel shows the injection's ground truth (primary and compensation joints) and
//! the network's verdict before and after.
//!
//! The plugin owns [`WhatIfState`]; the panel writes [`WhatIfRequest`]s. Replacing the
//! [`CurrentSequence`] is all it takes for the network plugin to explain the new walk and for the
//! curves to re-analyse it, exactly as after a load. A request waits while the network is busy,
//! so the verdict shown always belongs to the walk shown.

use std::collections::VecDeque;
use std::sync::Arc;

use bevy::ecs::system::SystemParam;
use bevy::prelude::*;
use bevy_egui::egui;

use super::network::NetworkState;
use super::playback::{Playback, PlaybackSystems};
use super::pose::{BodyState, CurrentSequence, LoadSystems, SourceShown, ViewerSequence};
use super::status::StatusLine;
use super::trial::MarkerOverlay;
use crate::body::BodyModel;
use crate::body::smpl22::SHORT_LABELS;
use crate::formats::SourceKind;
use crate::synth::transplant::{self, Injection, Locus, WalkPoses};
use crate::synth::{Pathology, Side, TRANSPLANT_PATHOLOGIES};

/// Environment variable applying an injection at start, `PATHOLOGY:SIDE:SEVERITY`
/// (e.g. `stiff-knee:left:1.0`), once the network has judged the recorded walk.
pub const WHAT_IF_ENV: &str = "GAITLENS_WHAT_IF";

/// Frames the start-up injection waits for the recorded walk's verdict before applying anyway.
const AT_START_WAIT_FRAMES: u32 = 900;

/// Injected walks kept alive after they left the screen, so a new walk never reuses the address
/// of one the network may still hold as "explained" (it tells sequences apart by address).
const RETIRED_KEPT: usize = 4;

/// What the panel's controls hold: pathology, side and severity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WhatIfChoice {
    /// The pattern (one of [`TRANSPLANT_PATHOLOGIES`]).
    pub pathology: Pathology,
    /// Affected side, left or right (ignored for bilateral patterns such as crouch).
    pub side: Side,
    /// Severity in [0, 1].
    pub severity: f64,
}

impl Default for WhatIfChoice {
    fn default() -> Self {
        Self {
            pathology: Pathology::StiffKnee,
            side: Side::Left,
            severity: 1.0,
        }
    }
}

impl WhatIfChoice {
    /// The injection the library applies: severity clamped to [0, 1] (0 for NaN), both sides for
    /// a bilateral pattern.
    pub fn injection(&self) -> Injection {
        let severity = if self.severity.is_nan() {
            0.0
        } else {
            self.severity.clamp(0.0, 1.0)
        };
        Injection {
            pathology: self.pathology,
            side: if self.pathology.bilateral() {
                Side::Both
            } else {
                self.side
            },
            severity,
        }
    }

    /// Parses `PATHOLOGY[:SIDE[:SEVERITY]]` (the command line's names, e.g. `foot-drop:right:0.6`;
    /// side defaults to left, severity to 1).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = text.trim().split(':');
        let pathology = parts
            .next()
            .unwrap_or_default()
            .trim()
            .parse::<Pathology>()?;
        let side = match parts.next().map(str::trim) {
            None | Some("") => Side::Left,
            Some(s) => s.parse::<Side>()?,
        };
        let severity = match parts.next().map(str::trim) {
            None | Some("") => 1.0,
            Some(s) => s
                .parse::<f64>()
                .ok()
                .filter(|v| (0.0..=1.0).contains(v))
                .ok_or_else(|| format!("severity '{s}': expected a number from 0 to 1"))?,
        };
        if let Some(extra) = parts.next() {
            return Err(format!(
                "unexpected ':{extra}' (expected PATHOLOGY:SIDE:SEVERITY)"
            ));
        }
        Ok(Self {
            pathology,
            side,
            severity,
        })
    }

    /// A short description, e.g. "stiff-knee, left, severity 0.80".
    pub fn label(&self) -> String {
        let inj = self.injection();
        format!(
            "{}, {}, severity {:.2}",
            inj.pathology.name(),
            side_word(inj.side),
            inj.severity
        )
    }
}

/// "left", "right" or "both sides".
fn side_word(side: Side) -> &'static str {
    match side {
        Side::Left => "left",
        Side::Right => "right",
        Side::Both => "both sides",
    }
}

/// What the panel asks the plugin for.
#[derive(Message, Debug, Clone, Copy, PartialEq)]
pub enum WhatIfRequest {
    /// Transplant this pathology onto the recorded walk and show the result.
    Apply(WhatIfChoice),
    /// Show the recorded walk again.
    Reset,
}

/// The network's verdict on one walk, as the panel shows it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict {
    /// Probability of "sick" (sigmoid of the logit).
    pub probability_sick: f32,
    /// First and last frame of the explained window.
    pub frames: (usize, usize),
    /// False when the window lies outside the training data or the walk has unmeasured joints
    /// (the Explain panel greys such a verdict).
    pub reliable: bool,
}

impl Verdict {
    /// E.g. "sick (P(sick) 0.93, frames 0–99)", with "not reliable" when it is not.
    pub fn text(&self) -> String {
        let word = if self.probability_sick >= 0.5 {
            "sick"
        } else {
            "healthy"
        };
        format!(
            "{word} (P(sick) {:.2}, frames {}–{}){}",
            self.probability_sick,
            self.frames.0,
            self.frames.1,
            if self.reliable { "" } else { ", not reliable" }
        )
    }
}

/// An injection on screen: what was asked and what the library changed.
#[derive(Debug, Clone, PartialEq)]
pub struct AppliedInjection {
    /// The injection as applied (bilateral patterns on both sides, severity clamped).
    pub injection: Injection,
    /// The joints changed, by role: the injection's ground truth.
    pub locus: Locus,
    /// Cadence multiplier of the pathology (patients walk slower).
    pub cadence_factor: f64,
    /// Frames of the injected walk.
    pub frames: usize,
}

/// The walk as loaded, and its rotations with gait phases ready for transplants (or why it
/// cannot take one).
struct Recorded {
    /// The walk as loaded.
    seq: Arc<ViewerSequence>,
    /// Address of the body model the walk was prepared with.
    model_key: usize,
    /// The walk in the transplant's form, or why it cannot take a pathology.
    walk: Result<Arc<WalkPoses>, String>,
}

/// The What-if panel's state (owned by [`WhatIfPlugin`]).
#[derive(Resource, Default)]
pub struct WhatIfState {
    /// The panel's controls.
    pub choice: WhatIfChoice,
    /// The injection on screen, if any.
    pub applied: Option<AppliedInjection>,
    /// The network's verdict on the recorded walk (the last one explained).
    pub before: Option<Verdict>,
    /// The network's verdict on the injected walk on screen.
    pub after: Option<Verdict>,
    /// The last error of an injection or of the start-up setting.
    pub note: Option<String>,
    recorded: Option<Recorded>,
    injected: Option<Arc<ViewerSequence>>,
    retired: VecDeque<Arc<ViewerSequence>>,
    pending: Option<WhatIfRequest>,
    clip_shown: bool,
    seen_outcome: Option<usize>,
    overlay_was_visible: Option<bool>,
    open_at_start: bool,
}

impl WhatIfState {
    /// Why no pathology can be transplanted now, in one sentence (None: it can).
    pub fn unavailable(&self) -> Option<String> {
        match &self.recorded {
            None if self.clip_shown => Some(
                "an OpenPose clip is shown: it is 2D keypoints without joint rotations, so no \
                 pathology can be transplanted; load a pose folder or a C3D/TRC trial"
                    .into(),
            ),
            None => Some(
                "no walk loaded: open a pose folder or a C3D/TRC trial (the demo walk works too)"
                    .into(),
            ),
            Some(Recorded { walk: Err(e), .. }) => {
                Some(format!("this walk cannot take a pathology: {e}"))
            }
            Some(_) => None,
        }
    }

    /// Whether the panel starts open (an injection is applied at start).
    pub fn open_at_start(&self) -> bool {
        self.open_at_start
    }

    /// Whether a request waits for the network to finish.
    pub fn waiting(&self) -> bool {
        self.pending.is_some()
    }

    /// Forgets the injection (a new walk was loaded), keeping the controls.
    fn forget(&mut self) {
        if let Some(old) = self.injected.take() {
            self.retire(old);
        }
        self.applied = None;
        self.before = None;
        self.after = None;
        self.pending = None;
        self.overlay_was_visible = None;
    }

    /// Keeps `seq` alive a little longer (see [`RETIRED_KEPT`]).
    fn retire(&mut self, seq: Arc<ViewerSequence>) {
        self.retired.push_back(seq);
        while self.retired.len() > RETIRED_KEPT {
            self.retired.pop_front();
        }
    }
}

/// An injection to apply once the recorded walk has its verdict (from [`WHAT_IF_ENV`]).
#[derive(Resource)]
struct AtStart {
    /// The choice to apply.
    choice: WhatIfChoice,
    /// Frames waited so far.
    waited: u32,
}

/// The What-if panel's plugin: its state, its request message and the systems applying them.
#[derive(Debug, Clone, Default)]
pub struct WhatIfPlugin {
    /// An injection to apply at start, or the error of parsing one.
    pub at_start: Option<Result<WhatIfChoice, String>>,
}

impl WhatIfPlugin {
    /// The plugin with the start-up injection of [`WHAT_IF_ENV`], if set.
    pub fn from_env() -> Self {
        Self {
            at_start: std::env::var(WHAT_IF_ENV)
                .ok()
                .map(|v| WhatIfChoice::parse(&v).map_err(|e| format!("{WHAT_IF_ENV}={v}: {e}"))),
        }
    }
}

impl Plugin for WhatIfPlugin {
    fn build(&self, app: &mut App) {
        let mut state = WhatIfState::default();
        match &self.at_start {
            Some(Ok(choice)) => {
                state.choice = *choice;
                state.open_at_start = true;
                app.insert_resource(AtStart {
                    choice: *choice,
                    waited: 0,
                });
            }
            Some(Err(e)) => {
                state.note = Some(e.clone());
                state.open_at_start = true;
            }
            None => {}
        }
        app.insert_resource(state)
            .init_resource::<StatusLine>()
            .add_message::<WhatIfRequest>()
            .add_message::<SourceShown>()
            .add_systems(
                Update,
                (
                    follow_shown_walk,
                    attribute_verdicts,
                    apply_at_start,
                    apply_requests,
                )
                    .chain()
                    .after(LoadSystems::Load)
                    .before(PlaybackSystems),
            );
    }
}

/// Address of an `Arc` (identity of a walk or an explanation).
fn address<T: ?Sized>(a: &Arc<T>) -> usize {
    Arc::as_ptr(a) as *const u8 as usize
}

/// Notices a newly loaded walk (or clip) and prepares it for transplants; the injection of the
/// previous walk is forgotten.
fn follow_shown_walk(
    mut shown: MessageReader<SourceShown>,
    seq: Res<CurrentSequence>,
    body: Option<Res<BodyState>>,
    mut state: ResMut<WhatIfState>,
) {
    if let Some(kind) = shown.read().last() {
        state.clip_shown = kind.0 == SourceKind::OpenPose;
    }
    let Some(current) = seq.sequence.clone() else {
        if state.recorded.is_some() {
            state.recorded = None;
            state.forget();
        }
        return;
    };
    let Some(body) = body else { return };
    let model_key = address(&body.model);
    let is_injected = state
        .injected
        .as_ref()
        .is_some_and(|s| Arc::ptr_eq(s, &current));
    let recorded = state
        .recorded
        .as_ref()
        .map(|r| (address(&r.seq), r.model_key));
    if is_injected && recorded.is_some_and(|(_, m)| m == model_key) {
        return;
    }
    if recorded == Some((address(&current), model_key)) {
        return;
    }
    let base = if is_injected {
        // The body model changed under an injected walk: prepare the recorded walk again.
        state
            .recorded
            .as_ref()
            .map(|r| r.seq.clone())
            .unwrap_or(current)
    } else {
        state.forget();
        current
    };
    let walk = prepare_walk(&body.model, &base).map(Arc::new);
    if let Err(e) = &walk {
        tracing::info!("what if: '{}' cannot take a pathology: {e}", base.name);
    }
    state.recorded = Some(Recorded {
        seq: base,
        model_key,
        walk,
    });
}

/// Files the network's newest verdict under the walk it was made for (the recorded or the
/// injected one); requests wait while the network works, so the walk shown is that walk.
fn attribute_verdicts(
    net: Option<Res<NetworkState>>,
    seq: Res<CurrentSequence>,
    mut state: ResMut<WhatIfState>,
) {
    let Some(net) = net else { return };
    let (Some(last), Some(current)) = (net.last.as_ref(), seq.sequence.as_ref()) else {
        return;
    };
    if net.busy() || state.seen_outcome == Some(address(&last.shown)) {
        return;
    }
    state.seen_outcome = Some(address(&last.shown));
    let shown = &last.shown;
    let verdict = Verdict {
        probability_sick: shown.probability_sick(),
        frames: {
            let read = last.placement.frames_read();
            (read.start, read.end.saturating_sub(1))
        },
        reliable: !last.domain.is_some_and(|d| d.outside()) && current.unmeasured_joints.is_empty(),
    };
    if state
        .injected
        .as_ref()
        .is_some_and(|s| Arc::ptr_eq(s, current))
    {
        state.after = Some(verdict);
    } else if state
        .recorded
        .as_ref()
        .is_some_and(|r| Arc::ptr_eq(&r.seq, current))
    {
        state.before = Some(verdict);
    }
}

/// Applies the start-up injection once the recorded walk is judged (or the network cannot judge
/// it, or after [`AT_START_WAIT_FRAMES`]); a walk that cannot take it says why in the panel.
fn apply_at_start(
    mut commands: Commands,
    at_start: Option<ResMut<AtStart>>,
    net: Option<Res<NetworkState>>,
    mut state: ResMut<WhatIfState>,
) {
    let Some(mut at_start) = at_start else { return };
    at_start.waited += 1;
    if state.recorded.is_none() && at_start.waited < AT_START_WAIT_FRAMES {
        return;
    }
    let judged =
        state.before.is_some() || net.as_ref().is_none_or(|n| n.error.is_some() && !n.busy());
    if !judged && at_start.waited < AT_START_WAIT_FRAMES {
        return;
    }
    commands.remove_resource::<AtStart>();
    state.choice = at_start.choice;
    state.pending = Some(WhatIfRequest::Apply(at_start.choice));
}

/// What applying a request changes outside this plugin: the walk shown, the timeline, the
/// marker overlay (a fitted trial's markers do not belong to an injected walk) and the status.
#[derive(SystemParam)]
struct Shown<'w> {
    /// The walk on screen.
    seq: ResMut<'w, CurrentSequence>,
    /// Its timeline.
    playback: ResMut<'w, Playback>,
    /// A fitted trial's markers.
    overlay: Option<ResMut<'w, MarkerOverlay>>,
    /// The status line.
    status: ResMut<'w, StatusLine>,
    /// The body the walk is posed on.
    body: Option<Res<'w, BodyState>>,
    /// The network, to wait while it works.
    net: Option<Res<'w, NetworkState>>,
}

/// Takes the panel's newest request and applies it once the network is idle.
fn apply_requests(
    mut requests: MessageReader<WhatIfRequest>,
    mut state: ResMut<WhatIfState>,
    mut shown: Shown,
) {
    if let Some(r) = requests.read().last() {
        state.pending = Some(*r);
    }
    if state.pending.is_none() || shown.net.as_ref().is_some_and(|n| n.busy()) {
        return;
    }
    match state.pending.take() {
        Some(WhatIfRequest::Apply(choice)) => apply(&mut state, &mut shown, choice),
        Some(WhatIfRequest::Reset) => reset(&mut state, &mut shown),
        None => {}
    }
}

/// Transplants `choice` onto the recorded walk and shows the result.
fn apply(state: &mut WhatIfState, shown: &mut Shown, choice: WhatIfChoice) {
    if let Some(why) = state.unavailable() {
        state.note = Some(why);
        return;
    }
    let (Some(rec), Some(body)) = (state.recorded.as_ref(), shown.body.as_ref()) else {
        return;
    };
    let Ok(walk) = &rec.walk else { return };
    let injection = choice.injection();
    match injected_sequence(&body.model, &rec.seq, walk, &injection) {
        Ok((seq, locus)) => {
            let name = rec.seq.name.clone();
            let seq = Arc::new(seq);
            state.note = None;
            state.after = None;
            state.applied = Some(AppliedInjection {
                injection,
                locus,
                cadence_factor: transplant::cadence_factor(injection.pathology, injection.severity),
                frames: seq.num_frames(),
            });
            if let Some(old) = state.injected.replace(seq.clone()) {
                state.retire(old);
            }
            if let Some(o) = shown.overlay.as_mut() {
                state.overlay_was_visible.get_or_insert(o.visible);
                o.visible = false;
            }
            show_walk(shown, seq);
            shown.status.error = None;
            shown.status.info = Some(format!(
                "what if: {} transplanted onto {name} (simulated, not patient data; Reset \
                 restores the recorded walk)",
                choice.label()
            ));
        }
        Err(e) => state.note = Some(e),
    }
}

/// Shows the recorded walk again.
fn reset(state: &mut WhatIfState, shown: &mut Shown) {
    let Some(rec) = state.recorded.as_ref() else {
        return;
    };
    if state.applied.is_none() {
        return;
    }
    let seq = rec.seq.clone();
    if let Some(old) = state.injected.take() {
        state.retire(old);
    }
    state.applied = None;
    state.after = None;
    state.note = None;
    if let (Some(o), Some(was)) = (shown.overlay.as_mut(), state.overlay_was_visible.take()) {
        o.visible = was;
    }
    shown.status.info = Some(format!("what if: back to the recorded walk {}", seq.name));
    show_walk(shown, seq);
}

/// Puts `seq` on screen at the same point of the walk, playing as before.
fn show_walk(shown: &mut Shown, seq: Arc<ViewerSequence>) {
    let old = shown.playback.clone();
    let at = old.frame() as f64 / old.num_frames().max(1) as f64;
    let mut p = Playback::new(seq.num_frames(), seq.rate_hz);
    p.playing = old.playing;
    p.speed = old.speed;
    p.looping = old.looping;
    p.seek_frame((at * seq.num_frames() as f64) as usize);
    *shown.playback = p;
    shown.seq.set(Some(seq));
}

/// The walk in the transplant's form (rotations with each leg's gait phase from events detected
/// on the posed joints), or why it cannot take a pathology.
pub fn prepare_walk(model: &BodyModel, seq: &ViewerSequence) -> Result<WalkPoses, String> {
    WalkPoses::from_poses(model, &seq.to_pose_sequence(), seq.rate_hz).map_err(|e| e.to_string())
}

/// `recorded` with `injection` transplanted as `gaitlens synth inject` does
/// ([`WalkPoses::with_pathology`]: the pathology's slower cadence at the walk's own rate, the
/// unmeasured frames kept marked), and the joints it changed.
pub fn injected_sequence(
    model: &BodyModel,
    recorded: &ViewerSequence,
    walk: &WalkPoses,
    injection: &Injection,
) -> Result<(ViewerSequence, Locus), String> {
    // The recording's unmeasured frames stay marked through the slower cadence.
    let (w, locus, legs_measured) =
        walk.with_pathology(injection, recorded.legs_measured.as_deref());
    let poses = w.to_poses();
    let name = format!(
        "{} + {} {} {:.2} (simulated)",
        recorded.name,
        injection.pathology.name(),
        side_word(injection.side),
        injection.severity
    );
    let mut seq = ViewerSequence::from_axis_angle(
        model,
        &name,
        &recorded.betas,
        &poses.poses,
        &poses.translations,
        w.rate_hz,
    )
    .map_err(|e| e.to_string())?;
    seq.display_from_lab = recorded.display_from_lab;
    seq.unmeasured_joints
        .clone_from(&recorded.unmeasured_joints);
    seq.pelvis_markers = recorded.pelvis_markers;
    seq.legs_measured = legs_measured;
    Ok((seq, locus))
}

/// Joint labels ("L knee, pelvis"), or "none".
fn joint_list(joints: &[usize]) -> String {
    if joints.is_empty() {
        return "none".into();
    }
    joints
        .iter()
        .map(|&j| SHORT_LABELS.get(j).copied().unwrap_or("?"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The panel's state and the requests it writes.
#[derive(SystemParam)]
pub struct WhatIfPanel<'w> {
    /// The plugin's state.
    pub state: ResMut<'w, WhatIfState>,
    /// Apply and Reset.
    pub requests: MessageWriter<'w, WhatIfRequest>,
}

/// The What-if section: the panel, its request sent to the plugin.
pub fn what_if_section_ui(ui: &mut egui::Ui, p: &mut WhatIfPanel) {
    if let Some(r) = what_if_panel_ui(ui, &mut p.state) {
        p.requests.write(r);
    }
}

/// Draws the What-if panel; returns the request its buttons (or a released slider) made.
pub fn what_if_panel_ui(ui: &mut egui::Ui, state: &mut WhatIfState) -> Option<WhatIfRequest> {
    ui.small(
        "transplant a pathology onto this walk (as `gaitlens synth inject`: simulated, not \
         patient data) and see what the network says",
    );
    if let Some(why) = state.unavailable() {
        ui.colored_label(egui::Color32::from_rgb(230, 180, 90), why);
        return None;
    }
    let changed = choice_controls_ui(ui, &mut state.choice);
    let mut request = None;
    ui.horizontal(|ui| {
        if ui.button("Apply").clicked() {
            request = Some(WhatIfRequest::Apply(state.choice));
        }
        if ui
            .add_enabled(
                state.applied.is_some(),
                egui::Button::new("Reset to the recorded walk"),
            )
            .clicked()
        {
            request = Some(WhatIfRequest::Reset);
        }
        if state.waiting() {
            ui.spinner();
        }
    });
    // While an injection is shown, the controls follow live (the slider on release).
    if request.is_none() && changed && state.applied.is_some() {
        request = Some(WhatIfRequest::Apply(state.choice));
    }
    if let Some(note) = &state.note {
        ui.colored_label(egui::Color32::from_rgb(255, 110, 100), format!("⚠ {note}"));
    }
    outcome_ui(ui, state);
    request
}

/// Pathology, side and severity; true when a change is complete (a slider once released).
fn choice_controls_ui(ui: &mut egui::Ui, choice: &mut WhatIfChoice) -> bool {
    let before = *choice;
    egui::ComboBox::from_label("pathology")
        .selected_text(choice.pathology.name())
        .show_ui(ui, |ui| {
            for p in TRANSPLANT_PATHOLOGIES {
                ui.selectable_value(&mut choice.pathology, p, p.name());
            }
        });
    ui.horizontal(|ui| {
        if choice.pathology.bilateral() {
            ui.label("side: both (always bilateral)");
        } else {
            ui.label("side:");
            ui.radio_value(&mut choice.side, Side::Left, "left");
            ui.radio_value(&mut choice.side, Side::Right, "right");
        }
    });
    let slider = ui.add(egui::Slider::new(&mut choice.severity, 0.0..=1.0).text("severity"));
    let slider_done = slider.drag_stopped()
        || (slider.changed() && !slider.dragged() && !slider.is_pointer_button_down_on());
    let other_changed = choice.pathology != before.pathology || choice.side != before.side;
    other_changed || slider_done
}

/// The ground truth of the injection shown and the verdicts before and after.
fn outcome_ui(ui: &mut egui::Ui, state: &WhatIfState) {
    if let Some(a) = &state.applied {
        let inj = WhatIfChoice {
            pathology: a.injection.pathology,
            side: a.injection.side,
            severity: a.injection.severity,
        };
        ui.label(egui::RichText::new(format!("shown: {}", inj.label())).strong());
        ui.label(format!("primary joints: {}", joint_list(&a.locus.primary)));
        ui.label(format!(
            "compensation joints: {}",
            joint_list(&a.locus.compensation)
        ));
        ui.small(format!(
            "cadence ×{:.2}: {} frames",
            a.cadence_factor, a.frames
        ));
    }
    let line = |v: &Option<Verdict>, pending: &str| match v {
        Some(v) => v.text(),
        None => pending.to_owned(),
    };
    ui.label(format!(
        "verdict, recorded walk: {}",
        line(&state.before, "not explained yet")
    ));
    if state.applied.is_some() {
        ui.label(format!(
            "verdict, with the pathology: {}",
            line(&state.after, "explaining… (needs a network)")
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::default_model::default_body;
    use crate::viewer::demo::demo_sequence;

    #[test]
    fn a_choice_maps_to_the_librarys_injection() {
        let c = WhatIfChoice {
            pathology: Pathology::FootDrop,
            side: Side::Right,
            severity: 1.7,
        };
        assert_eq!(
            c.injection(),
            Injection {
                pathology: Pathology::FootDrop,
                side: Side::Right,
                severity: 1.0
            }
        );
        let crouch = WhatIfChoice {
            pathology: Pathology::Crouch,
            side: Side::Left,
            severity: f64::NAN,
        };
        assert_eq!(crouch.injection().side, Side::Both);
        assert_eq!(crouch.injection().severity, 0.0);
        assert_eq!(crouch.label(), "crouch, both sides, severity 0.00");
    }

    #[test]
    fn the_start_up_setting_parses_and_bad_ones_say_why() {
        let c = WhatIfChoice::parse("stiff-knee:left:1.0").unwrap();
        assert_eq!(c, WhatIfChoice::default());
        let c = WhatIfChoice::parse("equinus:R:0.4").unwrap();
        assert_eq!(
            (c.pathology, c.side),
            (Pathology::EquinusToeWalking, Side::Right)
        );
        assert!((c.severity - 0.4).abs() < 1e-12);
        assert_eq!(WhatIfChoice::parse("foot-drop").unwrap().side, Side::Left);
        assert!(
            WhatIfChoice::parse("limp:left")
                .unwrap_err()
                .contains("unknown pathology")
        );
        assert!(
            WhatIfChoice::parse("crouch:up")
                .unwrap_err()
                .contains("unknown side")
        );
        assert!(
            WhatIfChoice::parse("crouch:left:2")
                .unwrap_err()
                .contains("0 to 1")
        );
        assert!(WhatIfChoice::parse("crouch:left:1:x").is_err());
    }

    #[test]
    fn the_demo_walk_takes_a_stiff_knee_with_its_ground_truth() {
        let model = default_body();
        let seq = demo_sequence(model).unwrap();
        // Round trip through the pose sequence: the same rotations.
        let back = seq.to_pose_sequence();
        let again = model.rotations_from_axis_angle(&back.poses[10]).unwrap();
        for (a, b) in again.iter().zip(&seq.rotations[10]) {
            assert!((a - b).norm() < 1e-9);
        }
        let walk = prepare_walk(model, &seq).unwrap();
        let inj = WhatIfChoice::default().injection();
        let (injected, locus) = injected_sequence(model, &seq, &walk, &inj).unwrap();
        let left_knee = crate::body::smpl22::LEFT_KNEE;
        assert_eq!(locus.primary, vec![left_knee]);
        assert!(locus.compensation.contains(&crate::body::smpl22::PELVIS));
        // Slower cadence: more frames at the same rate.
        assert!(injected.num_frames() > seq.num_frames());
        assert_eq!(injected.rate_hz, seq.rate_hz);
        assert!(injected.name.contains("stiff-knee left 1.00 (simulated)"));
        // Severity 0 leaves the walk as recorded.
        let zero = Injection {
            severity: 0.0,
            ..inj
        };
        let (same, locus) = injected_sequence(model, &seq, &walk, &zero).unwrap();
        assert_eq!(same.num_frames(), seq.num_frames());
        assert!(locus.primary.is_empty());
        assert!((same.rotations[50][4] - seq.rotations[50][4]).norm() < 1e-9);
        // Frames whose legs the recording did not measure stay marked at the slower cadence.
        let mut gappy = demo_sequence(model).unwrap();
        gappy.legs_measured = Some(
            (0..seq.num_frames())
                .map(|f| !(40..60).contains(&f))
                .collect(),
        );
        let (injected, _) = injected_sequence(model, &gappy, &walk, &inj).unwrap();
        let flags = injected.legs_measured.as_deref().expect("carried over");
        assert_eq!(flags.len(), injected.num_frames());
        let unmeasured: Vec<usize> = (0..flags.len()).filter(|&f| !flags[f]).collect();
        assert!(unmeasured.len() >= 20, "{unmeasured:?}");
        assert!(
            unmeasured[0] >= 35 && *unmeasured.last().unwrap() <= 80,
            "{unmeasured:?}"
        );
    }

    #[test]
    fn a_walk_too_short_for_a_gait_cycle_says_so() {
        let model = default_body();
        let mut seq = demo_sequence(model).unwrap();
        seq.rotations.truncate(5);
        seq.translations.truncate(5);
        let e = prepare_walk(model, &seq).unwrap_err();
        assert!(e.contains("gait cycle"), "{e}");
    }

    /// A Bevy app with the pose, playback and What-if plugins and the demo walk loaded.
    fn app_with_demo_walk(what_if: WhatIfPlugin) -> (App, Arc<ViewerSequence>) {
        let model = Arc::new(default_body().clone());
        let seq = Arc::new(demo_sequence(&model).unwrap());
        let mut app = App::new();
        let mut current = CurrentSequence::default();
        current.set(Some(seq.clone()));
        app.add_plugins(MinimalPlugins)
            .insert_resource(BodyState::new(model, &seq.betas))
            .insert_resource(current)
            .insert_resource(Playback::new(seq.num_frames(), seq.rate_hz))
            .add_plugins((
                super::super::PlaybackPlugin,
                super::super::PosePlugin,
                what_if,
            ));
        (app, seq)
    }

    #[test]
    fn apply_shows_the_injected_walk_and_reset_the_recorded_one() {
        let (mut app, recorded) = app_with_demo_walk(WhatIfPlugin::default());
        app.update();
        assert_eq!(app.world().resource::<WhatIfState>().unavailable(), None);
        app.world_mut()
            .write_message(WhatIfRequest::Apply(WhatIfChoice::default()));
        app.update();
        let shown = app
            .world()
            .resource::<CurrentSequence>()
            .sequence
            .clone()
            .unwrap();
        assert!(!Arc::ptr_eq(&shown, &recorded));
        assert_eq!(
            app.world().resource::<Playback>().num_frames(),
            shown.num_frames()
        );
        let state = app.world().resource::<WhatIfState>();
        let applied = state.applied.as_ref().unwrap();
        assert_eq!(applied.locus.primary, vec![crate::body::smpl22::LEFT_KNEE]);
        app.world_mut().write_message(WhatIfRequest::Reset);
        app.update();
        let shown = app
            .world()
            .resource::<CurrentSequence>()
            .sequence
            .clone()
            .unwrap();
        assert!(Arc::ptr_eq(&shown, &recorded));
        assert!(app.world().resource::<WhatIfState>().applied.is_none());
        // A clip replacing the walk: the panel says why nothing can be injected.
        app.world_mut().resource_mut::<CurrentSequence>().set(None);
        app.world_mut()
            .write_message(SourceShown(SourceKind::OpenPose));
        app.update();
        let why = app.world().resource::<WhatIfState>().unavailable().unwrap();
        assert!(why.contains("OpenPose"), "{why}");
    }

    #[test]
    fn the_demo_network_judges_the_walk_before_and_after_the_start_up_injection() {
        // burn's NdArray generator is process-wide: serialise with the training tests.
        let _lock = crate::train::test_rng_lock();
        let (mut app, recorded) = app_with_demo_walk(WhatIfPlugin {
            at_start: Some(WhatIfChoice::parse("stiff-knee:left:1.0")),
        });
        app.init_resource::<super::super::Importance>().add_plugins(
            super::super::network::NetworkPlugin {
                load_at_start: Some(None),
                explain_at_start: true,
            },
        );
        let t0 = std::time::Instant::now();
        while app.world().resource::<WhatIfState>().after.is_none() {
            assert!(
                t0.elapsed().as_secs() < 300,
                "no verdict after the injection"
            );
            app.update();
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let state = app.world().resource::<WhatIfState>();
        let (before, after) = (state.before.unwrap(), state.after.unwrap());
        eprintln!("before: {}; after: {}", before.text(), after.text());
        assert!(state.applied.is_some());
        let shown = app
            .world()
            .resource::<CurrentSequence>()
            .sequence
            .clone()
            .unwrap();
        assert!(!Arc::ptr_eq(&shown, &recorded));
        // The verdict belongs to the injected walk: the network explained what is shown.
        let net = app.world().resource::<NetworkState>();
        assert!(net.last.is_some() && !net.busy());
    }
}
