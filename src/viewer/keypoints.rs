//! OpenPose clips in the viewer: a clip folder (or a `.zip` / folder of clips) plays as a 2D
//! BODY_25 skeleton in its own window on the viewer's timeline, normalised as the video networks
//! see it (MidHip at the origin, trunk length 1, walking towards +x). With a video network loaded,
//! "Explain" colours each keypoint by its gradient × input relevance (diverging map, fixed scale
//! over the clip), frame by frame.

use std::path::{Path, PathBuf};

use bevy::prelude::*;
use bevy_egui::egui;

use super::playback::Playback;
use super::pose::{CurrentSequence, LoadSystems, SourceShown};
use super::status::StatusLine;
use crate::explain::colouring::Colormap;
use crate::formats::SourceKind;
use crate::formats::openpose::{KeypointSequence, read_openpose_path};
use crate::video::model::Task;
use crate::video::preprocess::{DisplayClip, PreprocessConfig, display_keypoints};
use crate::video::relevance::clip_relevance;
use crate::video::training::{LoadedVideoModel, load_model, load_model_bytes};

/// Model card of the bundled demo video network (a CNN trained on the 20 unique shared OpenPose
/// clips; see `assets/PROVENANCE.md`): a clip gets a verdict without loading anything.
pub const DEMO_VIDEO_CARD: &[u8] = include_bytes!("../../assets/demo_video_network.json");
/// Weights of the bundled demo video network.
pub const DEMO_VIDEO_RECORD: &[u8] = include_bytes!("../../assets/demo_video_network.mpk");

/// BODY_25 bones (keypoint index pairs) drawn as the skeleton.
pub const BODY25_BONES: [(usize, usize); 24] = [
    (1, 8),
    (1, 2),
    (2, 3),
    (3, 4),
    (1, 5),
    (5, 6),
    (6, 7),
    (8, 9),
    (9, 10),
    (10, 11),
    (8, 12),
    (12, 13),
    (13, 14),
    (1, 0),
    (0, 15),
    (15, 17),
    (0, 16),
    (16, 18),
    (14, 19),
    (19, 20),
    (14, 21),
    (11, 22),
    (22, 23),
    (11, 24),
];

/// Whether a BODY_25 keypoint is on the subject's right side (drawn warm; left is cool).
pub fn is_right(k: usize) -> bool {
    matches!(k, 2 | 3 | 4 | 9 | 10 | 11 | 15 | 17 | 22 | 23 | 24)
}

/// Asks for OpenPose keypoints (a `.zip`, a clip folder or a folder of clip folders) to be shown.
#[derive(Message, Debug, Clone)]
pub struct LoadClipsRequest(pub PathBuf);

/// The OpenPose clips: loading them, the shown clip and its explanation by a video network.
pub struct KeypointsPlugin;

impl Plugin for KeypointsPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<KeypointView>()
            .init_resource::<StatusLine>()
            .add_message::<LoadClipsRequest>()
            .add_message::<SourceShown>()
            .add_systems(
                Update,
                (load_requested_clips, hide_for_other_sources)
                    .chain()
                    .in_set(LoadSystems::Load),
            );
    }
}

/// Loads the last requested clips and plays the first (the walk shown before is cleared).
fn load_requested_clips(
    mut requests: MessageReader<LoadClipsRequest>,
    mut clips: ResMut<KeypointView>,
    mut status: ResMut<StatusLine>,
    mut seq: ResMut<CurrentSequence>,
    mut playback: ResMut<Playback>,
    mut shown: MessageWriter<SourceShown>,
) {
    let Some(LoadClipsRequest(path)) = requests.read().last().cloned() else {
        return;
    };
    match clips.load(&path) {
        Ok((frames, rate_hz)) => {
            status.error = None;
            status.info = Some(format!(
                "OpenPose: {} clip(s) from {}; showing {} ({frames} frames at {rate_hz} fps)",
                clips.clips.len(),
                path.display(),
                clips.clips[0].clip
            ));
            seq.set(None);
            *playback = Playback::new(frames, rate_hz);
            playback.playing = true;
            shown.write(SourceShown(SourceKind::OpenPose));
        }
        Err(e) => status.error = Some(e),
    }
}

/// Another source shown: the clip is no longer drawn.
fn hide_for_other_sources(mut shown: MessageReader<SourceShown>, mut clips: ResMut<KeypointView>) {
    if shown.read().any(|s| s.0 != SourceKind::OpenPose) {
        clips.display = None;
    }
}

/// The OpenPose clips loaded, the one shown, and its explanation.
#[derive(Resource, Default)]
pub struct KeypointView {
    /// Where the clips came from.
    pub source: Option<PathBuf>,
    /// Every clip of the source.
    pub clips: Vec<KeypointSequence>,
    /// Index of the clip shown.
    pub current: usize,
    /// The shown clip, normalised for display (one entry per source frame).
    pub display: Option<DisplayClip>,
    /// A video network to explain the clip with.
    pub network: Option<LoadedVideoModel>,
    /// Per source frame, keypoint relevance (`None` outside every window).
    pub relevance: Vec<Option<[f32; 25]>>,
    /// Largest |relevance| over the clip (the colour scale).
    pub relevance_scale: f32,
    /// Whether the network is the bundled demo (loaded for the first clip when none was).
    pub network_is_demo: bool,
    /// Typed path of a video network card.
    pub network_path_text: String,
    /// Last message (prediction or error).
    pub note: Option<String>,
}

impl KeypointView {
    /// Preprocessing used for display: the network's when one is loaded, else the default.
    fn preprocess(&self) -> PreprocessConfig {
        self.network
            .as_ref()
            .map(|n| n.card.training.preprocess.clone())
            .unwrap_or_default()
    }

    /// Reads the clips at `path` and shows the first; returns its frame count and rate.
    pub fn load(&mut self, path: &Path) -> Result<(usize, f64), String> {
        let clips = read_openpose_path(path).map_err(|e| e.to_string())?;
        if clips.is_empty() {
            return Err(format!("{}: no OpenPose clip found", path.display()));
        }
        self.clips = clips;
        self.source = Some(path.to_path_buf());
        if self.network.is_none()
            && let Err(e) = self.load_demo_network()
        {
            self.note = Some(e);
        }
        let shown = self.select(0)?;
        self.explain_if_possible();
        Ok(shown)
    }

    /// Loads the bundled demo video network.
    pub fn load_demo_network(&mut self) -> Result<(), String> {
        let m = load_model_bytes(
            DEMO_VIDEO_CARD,
            DEMO_VIDEO_RECORD.to_vec(),
            Path::new("<embedded demo_video_network.json>"),
            Path::new("<embedded demo_video_network.mpk>"),
        )
        .map_err(|e| e.to_string())?;
        self.network = Some(m);
        self.network_is_demo = true;
        Ok(())
    }

    /// Explains the shown clip when a network is loaded; a failure goes to the note.
    pub fn explain_if_possible(&mut self) {
        if self.network.is_some()
            && let Err(e) = self.explain()
        {
            self.note = Some(e);
        }
    }

    /// Shows clip `i`; returns its frame count and rate.
    pub fn select(&mut self, i: usize) -> Result<(usize, f64), String> {
        let clip = self.clips.get(i).ok_or_else(|| format!("no clip {i}"))?;
        let d = display_keypoints(&clip.clip, &clip.frames, &self.preprocess())
            .map_err(|e| e.to_string())?;
        let out = (d.frames.len(), d.source_fps as f64);
        self.current = i;
        self.display = Some(d);
        self.relevance.clear();
        self.relevance_scale = 0.0;
        self.note = None;
        Ok(out)
    }

    /// Explains the shown clip with the loaded network: relevance of every window, mapped back
    /// onto the source frames (a frame covered by several windows takes the latest window's).
    pub fn explain(&mut self) -> Result<(), String> {
        let net = self.network.as_ref().ok_or("load a video network first")?;
        let clip = self.clips.get(self.current).ok_or("no clip loaded")?;
        let pre = &net.card.training.preprocess;
        let windows =
            clip_relevance(net, &clip.clip, &clip.frames, 0).map_err(|e| e.to_string())?;
        let n = clip.frames.len();
        let mut rel: Vec<Option<[f32; 25]>> = vec![None; n];
        for (start_s, w) in &windows {
            for (row, k) in w.keypoints.iter().enumerate() {
                let t = start_s + row as f32 / pre.target_fps;
                // Source frames within this target frame's interval.
                let f0 = (t * pre.source_fps).round() as usize;
                let f1 = ((t + 1.0 / pre.target_fps) * pre.source_fps).round() as usize;
                for slot in rel.iter_mut().take(f1.max(f0 + 1).min(n)).skip(f0) {
                    *slot = Some(*k);
                }
            }
        }
        self.relevance_scale = rel
            .iter()
            .flatten()
            .flat_map(|k| k.iter())
            .fold(0f32, |m, r| m.max(r.abs()));
        let outputs: Vec<f32> = windows.iter().map(|(_, w)| w.output).collect();
        let mean = outputs.iter().sum::<f32>() / outputs.len().max(1) as f32;
        let verdict = match (
            &net.card.training.task,
            net.card.training.label_names.as_slice(),
        ) {
            (Task::Binary, [neg, pos]) => {
                // Mean P over windows, as `video predict` scores a clip.
                let p = outputs
                    .iter()
                    .map(|&l| crate::nn::probability_from_logit(f64::from(l)) as f32)
                    .sum::<f32>()
                    / outputs.len().max(1) as f32;
                if p >= 0.5 {
                    format!("{pos} with probability {p:.2}")
                } else {
                    format!("{neg} with probability {:.2}", 1.0 - p)
                }
            }
            _ => format!("mean output {mean:.3}"),
        };
        let demo = if self.network_is_demo {
            " — bundled demo video network, trained on the 20 shared clips (not a clinical model)"
        } else {
            ""
        };
        self.note = Some(format!(
            "{verdict}, {} windows explained (gradient × input){demo}",
            windows.len()
        ));
        self.relevance = rel;
        Ok(())
    }

    /// Loads a video network from its card or record path.
    pub fn load_network(&mut self, path: &Path) -> Result<(), String> {
        let m = load_model(path).map_err(|e| e.to_string())?;
        self.network = Some(m);
        self.network_is_demo = false;
        self.relevance.clear();
        // Re-normalise the shown clip with the network's preprocessing.
        if !self.clips.is_empty() {
            self.select(self.current)?;
        }
        Ok(())
    }
}

/// What the OpenPose window asks the app to do.
#[derive(Debug, Clone, PartialEq)]
pub enum KeypointAction {
    /// Show clip `i` (resets the timeline).
    Select(usize),
    /// Close the clip.
    Close,
}

/// Draws the 2D skeleton of `frame` with the clip chooser and the network controls.
pub fn keypoints_window_ui(
    ctx: &egui::Context,
    view: &mut KeypointView,
    frame: usize,
) -> Option<KeypointAction> {
    let mut action = None;
    let display = view.display.as_ref()?;
    let title = format!("OpenPose 2D — {}", display.clip);
    egui::Window::new(title)
        .id(egui::Id::new("openpose-2d"))
        .default_pos([364.0, 8.0])
        .default_width(320.0)
        .show(ctx, |ui| {
            if view.clips.len() > 1 {
                let mut i = view.current;
                egui::ComboBox::from_label("clip")
                    .selected_text(view.clips[i].clip.clone())
                    .show_ui(ui, |ui| {
                        for (k, c) in view.clips.iter().enumerate() {
                            ui.selectable_value(&mut i, k, c.clip.clone());
                        }
                    });
                if i != view.current {
                    action = Some(KeypointAction::Select(i));
                }
            }
            skeleton_ui(ui, view, frame);
            ui.horizontal(|ui| {
                ui.add(
                    egui::TextEdit::singleline(&mut view.network_path_text)
                        .hint_text("video network STEM.json")
                        .desired_width(170.0),
                );
                if ui.button("Load").clicked() {
                    let p = PathBuf::from(view.network_path_text.trim());
                    if let Err(e) = view.load_network(&p) {
                        view.note = Some(e);
                    }
                }
            });
            if let Some(n) = &view.network {
                ui.small(format!(
                    "{} · {:?} · {} features",
                    n.card.model_type,
                    n.card.training.task,
                    n.card.feature_names.len()
                ));
                if ui.button("Explain clip").clicked()
                    && let Err(e) = view.explain()
                {
                    view.note = Some(e);
                }
            }
            if let Some(note) = &view.note {
                // The verdict line reads at a glance; the rest stays small.
                match note.split_once(", ") {
                    Some((verdict, rest))
                        if view.network.is_some() && !view.relevance.is_empty() =>
                    {
                        ui.label(egui::RichText::new(verdict).strong().size(15.0));
                        ui.small(rest);
                    }
                    _ => {
                        ui.small(note);
                    }
                }
            }
            if ui.button("close clip").clicked() {
                action = Some(KeypointAction::Close);
            }
        });
    action
}

/// Paints the skeleton of `frame`, keypoints coloured by relevance when explained.
fn skeleton_ui(ui: &mut egui::Ui, view: &KeypointView, frame: usize) {
    let Some(display) = view.display.as_ref() else {
        return;
    };
    let (rect, _) = ui.allocate_exact_size(egui::vec2(300.0, 300.0), egui::Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 4.0, egui::Color32::from_gray(24));
    // Normalised units: trunk = 1; show x ∈ [−2, 2], y ∈ [−2.6, 1.4] (MidHip at the origin).
    let to_screen = |x: f32, y: f32| {
        egui::pos2(
            rect.center().x + x * rect.width() / 4.0,
            rect.top() + (1.4 - y) * rect.height() / 4.0,
        )
    };
    painter.line_segment(
        [to_screen(-2.0, -2.2), to_screen(2.0, -2.2)],
        egui::Stroke::new(1.0, egui::Color32::from_gray(70)),
    );
    let Some(Some(kps)) = display.frames.get(frame) else {
        painter.text(
            rect.center(),
            egui::Align2::CENTER_CENTER,
            "no walker in this frame",
            egui::FontId::proportional(14.0),
            egui::Color32::GRAY,
        );
        return;
    };
    let seen = |k: usize| kps[k][2] > 0.0;
    for &(a, b) in &BODY25_BONES {
        if seen(a) && seen(b) {
            let colour = bone_colour(a, b);
            painter.line_segment(
                [
                    to_screen(kps[a][0], kps[a][1]),
                    to_screen(kps[b][0], kps[b][1]),
                ],
                egui::Stroke::new(3.0, colour),
            );
        }
    }
    let rel = view.relevance.get(frame).copied().flatten();
    for (k, p) in kps.iter().enumerate() {
        if !seen(k) {
            continue;
        }
        let (radius, fill) = keypoint_dot(rel.map(|r| r[k]), view.relevance_scale);
        painter.circle_filled(to_screen(p[0], p[1]), radius, fill);
    }
    if view.relevance_scale > 0.0 {
        painter.text(
            rect.left_bottom() + egui::vec2(6.0, -6.0),
            egui::Align2::LEFT_BOTTOM,
            format!(
                "blue − / red + relevance, scale ±{:.3}",
                view.relevance_scale
            ),
            egui::FontId::proportional(11.0),
            egui::Color32::LIGHT_GRAY,
        );
    }
}

/// Colour of the bone `a`–`b`: warm on the right side, grey along the trunk, cool on the left.
fn bone_colour(a: usize, b: usize) -> egui::Color32 {
    if is_right(a) || is_right(b) {
        egui::Color32::from_rgb(240, 150, 70)
    } else if matches!(a, 0 | 1 | 8) && matches!(b, 0 | 1 | 8) {
        egui::Color32::from_gray(200)
    } else {
        egui::Color32::from_rgb(90, 160, 240)
    }
}

/// Radius and fill of a keypoint with relevance `rel` on the clip's colour `scale`: bigger and
/// coloured by the diverging map when explained, a small white dot otherwise.
fn keypoint_dot(rel: Option<f32>, scale: f32) -> (f32, egui::Color32) {
    match rel {
        Some(r) if scale > 0.0 => {
            let s = r / scale;
            let c = Colormap::Diverging.srgb(s);
            (
                3.0 + 6.0 * s.abs(),
                egui::Color32::from_rgb(
                    (c[0] * 255.0) as u8,
                    (c[1] * 255.0) as u8,
                    (c[2] * 255.0) as u8,
                ),
            )
        }
        _ => (3.0, egui::Color32::WHITE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clip_gets_the_demo_video_networks_verdict_and_relevance_at_once() {
        let zip =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/openpose/openpose_gait.zip");
        assert!(zip.exists(), "missing shared data file {}", zip.display());
        // Loading a network initialises weights from burn's process-wide generator: serialise
        // with the tests that check training is reproducible under a seed.
        let _lock = crate::train::test_rng_lock();
        let mut view = KeypointView::default();
        let (frames, _) = view.load(&zip).expect("clip loads");
        assert!(view.network_is_demo);
        assert_eq!(view.relevance.len(), view.clips[0].frames.len());
        assert!(frames > 0 && view.relevance.iter().any(|r| r.is_some()));
        let note = view.note.clone().unwrap_or_default();
        assert!(
            note.contains("with probability") && note.contains("demo video network"),
            "{note}"
        );
        // A user's own network replaces the demo and is not called the demo.
        let card = std::env::temp_dir().join(format!("gaitlens_kp_{}", std::process::id()));
        std::fs::create_dir_all(&card).unwrap();
        std::fs::write(card.join("n.json"), DEMO_VIDEO_CARD).unwrap();
        std::fs::write(card.join("n.mpk"), DEMO_VIDEO_RECORD).unwrap();
        view.load_network(&card.join("n.json")).unwrap();
        assert!(!view.network_is_demo);
        let _ = std::fs::remove_dir_all(&card);
    }

    #[test]
    fn bones_join_valid_keypoints_and_sides_are_consistent() {
        for &(a, b) in &BODY25_BONES {
            assert!(a < 25 && b < 25 && a != b);
        }
        // Mirror pairs: right shoulder 2 ↔ left 5, right heel 24 ↔ left 21.
        assert!(is_right(2) && !is_right(5));
        assert!(is_right(24) && !is_right(21));
    }

    #[test]
    fn shared_openpose_zip_is_recognised_and_loads() {
        let zip =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/openpose/openpose_norm.zip");
        assert!(zip.is_file(), "missing shared recording {}", zip.display());
        assert_eq!(
            crate::formats::SourceKind::classify(&zip),
            crate::formats::SourceKind::OpenPose
        );
        assert_ne!(
            crate::formats::SourceKind::classify(Path::new(env!("CARGO_MANIFEST_DIR"))),
            crate::formats::SourceKind::OpenPose
        );
        let _lock = crate::train::test_rng_lock(); // loads the demo network (see above)
        let mut view = KeypointView::default();
        let (frames, fps) = view.load(&zip).expect("clips load");
        assert!(frames > 10 && fps > 0.0);
        let d = view.display.as_ref().unwrap();
        // Normalised: MidHip at the origin in every frame with a walker.
        let with = d.frames.iter().flatten().count();
        assert!(with > frames / 2, "{with} of {frames} frames have a walker");
        for f in d.frames.iter().flatten() {
            if f[8][2] > 0.0 {
                assert!(f[8][0].abs() < 1e-4 && f[8][1].abs() < 1e-4);
            }
        }
        // Explaining without a network is a message, not a panic.
        view.network = None;
        assert!(view.explain().is_err());
    }
}
