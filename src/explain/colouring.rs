//! Relevance as colour, without a renderer: the diverging and sequential colormaps, how joint
//! relevance spreads onto the skin (skinning weights or the original viewer's nearest-joint fade)
//! and how a window's relevance is scaled. The viewer's shader, headless renders and the glTF
//! export all colour the body with these, so a body looks the same everywhere.

use crate::body::BodyModel;
use crate::dataset::align::NUM_JOINTS;

/// Control points (sRGB) of the diverging blue–white–red map over [−1, 1]; `importance.wgsl`
/// holds the same values.
pub const DIVERGING: [[f32; 3]; 5] = [
    [0.230, 0.299, 0.754],
    [0.552, 0.690, 0.996],
    [0.950, 0.950, 0.950],
    [0.957, 0.604, 0.482],
    [0.706, 0.016, 0.150],
];

/// Control points (sRGB) of the sequential grey–yellow–red map over [0, 1].
pub const SEQUENTIAL: [[f32; 3]; 5] = [
    [0.900, 0.900, 0.900],
    [0.996, 0.851, 0.463],
    [0.992, 0.553, 0.235],
    [0.890, 0.102, 0.110],
    [0.502, 0.000, 0.149],
];

/// Which colormap the body uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Colormap {
    /// Signed relevance: blue (against "sick") – white – red (for "sick"), over [−1, 1].
    #[default]
    Diverging,
    /// Unsigned importance such as attention, over [0, 1].
    Sequential,
}

impl Colormap {
    /// Value range of the scalar this map expects.
    pub fn range(self) -> (f32, f32) {
        match self {
            Colormap::Diverging => (-1.0, 1.0),
            Colormap::Sequential => (0.0, 1.0),
        }
    }

    /// sRGB colour of scalar `s` (clamped to the map's range), exactly as the shader computes it.
    pub fn srgb(self, s: f32) -> [f32; 3] {
        let (points, t) = match self {
            Colormap::Diverging => (&DIVERGING, (s.clamp(-1.0, 1.0) + 1.0) * 0.5),
            Colormap::Sequential => (&SEQUENTIAL, s.clamp(0.0, 1.0)),
        };
        let t = t * 4.0;
        let i = (t.floor() as usize).min(3);
        let f = (t - i as f32).min(1.0);
        std::array::from_fn(|c| points[i][c] + (points[i + 1][c] - points[i][c]) * f)
    }
}

/// How joint relevance spreads onto the skin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VertexWeighting {
    /// Σ_j w_vj·R_j with the model's skinning weights: smooth across joints.
    #[default]
    Skinning,
    /// The original viewer's rule: each vertex takes its nearest joint's relevance, faded by its
    /// distance within that joint's region (nearest vertex 1, farthest 0).
    NearestJoint,
}

/// Per-vertex weights of both spreading rules, computed once per body model.
#[derive(Debug, Clone)]
pub struct VertexJointWeights {
    /// Skinning weights folded onto the first 22 joints: `(joint, weight)` per vertex.
    pub skinning: Vec<Vec<(u8, f32)>>,
    /// Nearest of the first 22 joints (rest pose) and its fade weight, per vertex.
    pub nearest: Vec<(u8, f32)>,
}

impl VertexJointWeights {
    /// Weights for `model` in its rest pose with zero shape. Joints past the first 22 (SUPR's
    /// fingers, toes, eyes) give their weight to their nearest ancestor among the 22.
    pub fn new(model: &BodyModel) -> Self {
        let nj = model.num_joints();
        let body22 = NUM_JOINTS.min(nj);
        let fold: Vec<u8> = (0..nj)
            .map(|mut j| {
                while j >= body22 {
                    match model.parents[j] {
                        Some(p) => j = p,
                        None => return 0,
                    }
                }
                j as u8
            })
            .collect();
        let skinning = (0..model.num_vertices())
            .map(|v| {
                let mut row: Vec<(u8, f32)> = Vec::with_capacity(4);
                for (j, w) in model.weights.row(v) {
                    let j = fold[j];
                    match row.iter_mut().find(|(k, _)| *k == j) {
                        Some((_, acc)) => *acc += w,
                        None => row.push((j, w)),
                    }
                }
                row
            })
            .collect();
        let shaped = model.shape(&[]);
        let joints: Vec<[f32; 3]> = shaped.joints_rest[..body22]
            .iter()
            .map(|j| [j.x as f32, j.y as f32, j.z as f32])
            .collect();
        let nearest = nearest_joint_weights(&model.v_template, &joints);
        VertexJointWeights { skinning, nearest }
    }
}

/// The original viewer's nearest-joint fade: vertex → (nearest joint, 1 − (d − min_j)/(max_j −
/// min_j)) with min/max over the vertices whose nearest joint is j.
pub fn nearest_joint_weights(vertices: &[[f32; 3]], joints: &[[f32; 3]]) -> Vec<(u8, f32)> {
    let d2 = |a: &[f32; 3], b: &[f32; 3]| (0..3).map(|c| (a[c] - b[c]).powi(2)).sum::<f32>();
    let near: Vec<(u8, f32)> = vertices
        .iter()
        .map(|v| {
            let (j, d) = joints
                .iter()
                .enumerate()
                .map(|(j, p)| (j, d2(v, p)))
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .unwrap_or((0, 0.0));
            (j as u8, d.sqrt())
        })
        .collect();
    let mut lo = vec![f32::INFINITY; joints.len()];
    let mut hi = vec![f32::NEG_INFINITY; joints.len()];
    for &(j, d) in &near {
        lo[j as usize] = lo[j as usize].min(d);
        hi[j as usize] = hi[j as usize].max(d);
    }
    near.into_iter()
        .map(|(j, d)| {
            let (l, h) = (lo[j as usize], hi[j as usize]);
            (j, 1.0 - (d - l) / (h - l + 1e-7))
        })
        .collect()
}

/// How joint relevance is scaled to the colormap's range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ColourScale {
    /// The frame's relevance ÷ max |R| over the whole window (the original viewer's): colours are
    /// comparable between frames, but frames that carry little relevance look pale.
    #[default]
    Window,
    /// The frame's relevance ÷ that frame's own max |R|: shows where within every frame the
    /// relevance lies, however little the frame holds.
    Frame,
    /// Relevance summed over the window's frames per joint ÷ its largest magnitude: one static
    /// colouring of the joints the verdict rests on (what the limb-locus score ranks).
    WindowSum,
}

impl ColourScale {
    /// Name shown in the panel.
    pub fn label(self) -> &'static str {
        match self {
            Self::Window => "per window (original)",
            Self::Frame => "per frame",
            Self::WindowSum => "window total",
        }
    }
}

/// An explanation ready to colour the body with: relevance per frame × joint of one window.
#[derive(Debug, Clone, PartialEq)]
pub struct ShownExplanation {
    /// First frame of the explained window in the sequence.
    pub start_frame: usize,
    /// Frames in the window.
    pub interval: usize,
    /// Relevance `[interval × 22]`, row-major, signed (LRP) or non-negative (attention).
    pub relevance: Vec<f32>,
    /// max |R| over the window: the fixed colour scale.
    pub scale: f32,
    /// Whether the values are signed (LRP) rather than non-negative (attention).
    pub signed: bool,
    /// The network's logit for the window.
    pub logit: f32,
    /// What produced it, e.g. "LRP ε=0.25 · lrpmlp".
    pub label: String,
    /// The network card's calibration temperature (`None`: uncalibrated, plain sigmoid).
    pub temperature: Option<f64>,
}

impl ShownExplanation {
    /// Builds one from raw relevance `[interval × 22]`.
    pub fn new(
        start_frame: usize,
        relevance: Vec<f32>,
        signed: bool,
        logit: f32,
        label: String,
    ) -> Self {
        let interval = relevance.len() / NUM_JOINTS;
        let scale = relevance.iter().fold(0f32, |m, r| m.max(r.abs()));
        ShownExplanation {
            start_frame,
            interval,
            relevance,
            scale,
            signed,
            logit,
            label,
            temperature: None,
        }
    }

    /// The same with the card's calibration temperature (`None`: uncalibrated).
    pub fn with_temperature(mut self, temperature: Option<f64>) -> Self {
        self.temperature = temperature;
        self
    }

    /// Row of the window shown at sequence frame `frame` (clamped to the window, as the
    /// original viewer does outside it).
    pub fn row_for_frame(&self, frame: usize) -> usize {
        frame
            .saturating_sub(self.start_frame)
            .min(self.interval.saturating_sub(1))
    }

    /// Joint relevance at `frame` divided by the window's scale: in [−1, 1] (or [0, 1]).
    pub fn joint_values(&self, frame: usize) -> [f32; NUM_JOINTS] {
        self.scaled_joint_values(frame, ColourScale::Window).0
    }

    /// Raw joint relevance of the window row shown at sequence frame `frame`.
    fn row_values(&self, frame: usize) -> [f32; NUM_JOINTS] {
        let r = self.row_for_frame(frame);
        std::array::from_fn(|j| {
            self.relevance
                .get(r * NUM_JOINTS + j)
                .copied()
                .unwrap_or(0.0)
        })
    }

    /// Relevance of every joint summed over the window's frames.
    pub fn window_sum(&self) -> [f32; NUM_JOINTS] {
        let mut sum = [0f32; NUM_JOINTS];
        for row in self.relevance.chunks_exact(NUM_JOINTS) {
            for (s, r) in sum.iter_mut().zip(row) {
                *s += r;
            }
        }
        sum
    }

    /// Joint values at `frame` under `scale`, in [−1, 1] (or [0, 1]), and the raw relevance that
    /// maps to 1 (for the legend).
    pub fn scaled_joint_values(
        &self,
        frame: usize,
        scale: ColourScale,
    ) -> ([f32; NUM_JOINTS], f32) {
        let max_abs = |v: &[f32; NUM_JOINTS]| v.iter().fold(0f32, |m, x| m.max(x.abs()));
        let (raw, s) = match scale {
            ColourScale::Window => (self.row_values(frame), self.scale),
            ColourScale::Frame => {
                let row = self.row_values(frame);
                let s = max_abs(&row);
                (row, s)
            }
            ColourScale::WindowSum => {
                let sum = self.window_sum();
                let s = max_abs(&sum);
                (sum, s)
            }
        };
        let d = if s > 0.0 { s } else { 1.0 };
        (raw.map(|v| v / d), s)
    }

    /// Probability of "sick": the sigmoid of the logit, divided by the card's temperature when
    /// it is calibrated.
    pub fn probability_sick(&self) -> f32 {
        self.probability_of(self.logit)
    }

    /// P(sick) of another window's `logit` of the same network (the classification track).
    pub fn probability_of(&self, logit: f32) -> f32 {
        crate::nn::probability_from_logit(f64::from(logit) / self.temperature.unwrap_or(1.0)) as f32
    }

    /// Whether the probabilities are calibrated.
    pub fn calibrated(&self) -> bool {
        self.temperature.is_some()
    }
}

/// Per-vertex scalars for joint values `joint_values` (already scaled).
pub fn vertex_values(
    weights: &VertexJointWeights,
    weighting: VertexWeighting,
    joint_values: &[f32; NUM_JOINTS],
) -> Vec<[f32; 2]> {
    match weighting {
        VertexWeighting::Skinning => weights
            .skinning
            .iter()
            .map(|row| {
                let s: f32 = row.iter().map(|&(j, w)| w * joint_values[j as usize]).sum();
                [s, 0.0]
            })
            .collect(),
        VertexWeighting::NearestJoint => weights
            .nearest
            .iter()
            .map(|&(j, w)| [w * joint_values[j as usize], 0.0])
            .collect(),
    }
}

/// sRGB → linear light, per channel (glTF vertex colours and GPU blending are linear).
pub fn srgb_to_linear(c: f32) -> f32 {
    if c <= 0.04045 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

/// Linear-RGB colour of every vertex of `model` for joint values already scaled to the
/// colormap's range: what the viewer's shader shows, baked (the glTF export's `COLOR_0`).
pub fn vertex_colours_linear(
    model: &BodyModel,
    joint_values: &[f32; NUM_JOINTS],
    colormap: Colormap,
    weighting: VertexWeighting,
) -> Vec<[f32; 3]> {
    let weights = VertexJointWeights::new(model);
    vertex_values(&weights, weighting, joint_values)
        .into_iter()
        .map(|[s, _]| colormap.srgb(s).map(srgb_to_linear))
        .collect()
}

/// `values` divided by their largest magnitude (all zero stays zero): joint totals scaled to
/// the colormap's range, as the viewer's "window total" scale does.
pub fn scaled_to_unit(values: &[f32; NUM_JOINTS]) -> [f32; NUM_JOINTS] {
    let scale = values.iter().fold(0f32, |m, v| m.max(v.abs()));
    values.map(|v| if scale > 0.0 { v / scale } else { 0.0 })
}

/// Per vertex, the share of its skinning weight on `unmeasured` joints (by name): 1 on a part of
/// the body no marker measured (the fitter's prior put it there), 0 on measured parts.
pub fn unmeasured_share(
    model: &BodyModel,
    weights: &VertexJointWeights,
    unmeasured: &[String],
) -> Vec<f32> {
    let flagged: Vec<bool> = model
        .joint_names
        .iter()
        .map(|n| unmeasured.contains(n))
        .collect();
    weights
        .skinning
        .iter()
        .map(|row| {
            row.iter()
                .filter(|(j, _)| flagged.get(*j as usize).copied().unwrap_or(false))
                .map(|(_, w)| w)
                .sum()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colormaps_hit_their_control_points_and_clamp() {
        let close = |a: [f32; 3], b: [f32; 3]| (0..3).all(|c| (a[c] - b[c]).abs() < 1e-6);
        assert!(close(Colormap::Diverging.srgb(-1.0), DIVERGING[0]));
        assert!(close(Colormap::Diverging.srgb(0.0), DIVERGING[2]));
        assert!(close(Colormap::Diverging.srgb(1.0), DIVERGING[4]));
        assert!(close(Colormap::Diverging.srgb(7.0), DIVERGING[4]));
        assert!(close(Colormap::Sequential.srgb(0.0), SEQUENTIAL[0]));
        assert!(close(Colormap::Sequential.srgb(-3.0), SEQUENTIAL[0]));
        let mid = Colormap::Diverging.srgb(0.25);
        for c in 0..3 {
            let want = (DIVERGING[2][c] + DIVERGING[3][c]) / 2.0;
            assert!((mid[c] - want).abs() < 1e-6);
        }
        // Red dominates for positive relevance, blue for negative.
        let r = Colormap::Diverging.srgb(0.9);
        let b = Colormap::Diverging.srgb(-0.9);
        assert!(r[0] > r[2] + 0.3 && b[2] > b[0] + 0.3);
    }

    #[test]
    fn explanation_rows_clamp_to_the_window_and_scale_is_fixed() {
        let mut rel = vec![0.0; 4 * NUM_JOINTS];
        rel[NUM_JOINTS + 4] = -2.0; // row 1, left knee
        rel[3 * NUM_JOINTS + 7] = 4.0; // row 3, left ankle
        let e = ShownExplanation::new(10, rel, true, 1.5, "test".into());
        assert_eq!(e.interval, 4);
        assert_eq!(e.scale, 4.0);
        assert_eq!(e.row_for_frame(0), 0);
        assert_eq!(e.row_for_frame(11), 1);
        assert_eq!(e.row_for_frame(99), 3);
        assert_eq!(e.joint_values(11)[4], -0.5);
        assert_eq!(e.joint_values(13)[7], 1.0);
        assert!((e.probability_sick() - 0.8176).abs() < 1e-3);
        assert!(!e.calibrated());
        // A calibrated card's temperature 3 turns logit 1.5 into sigmoid(0.5).
        let e = e.with_temperature(Some(3.0));
        assert!(e.calibrated());
        assert!((e.probability_sick() - 0.6225).abs() < 1e-3);
        assert!((e.probability_of(-1.5) - 0.3775).abs() < 1e-3);
    }

    #[test]
    fn colour_scales_normalise_by_window_frame_or_window_total() {
        let mut rel = vec![0.0; 3 * NUM_JOINTS];
        rel[4] = 1.0; // row 0, left knee
        rel[NUM_JOINTS + 4] = 1.0; // row 1, left knee
        rel[NUM_JOINTS + 7] = -0.5; // row 1, left ankle
        rel[2 * NUM_JOINTS + 7] = 3.0; // row 2, left ankle
        let e = ShownExplanation::new(0, rel, true, 0.0, "test".into());
        let (w, s) = e.scaled_joint_values(1, ColourScale::Window);
        assert_eq!((w[4], w[7], s), (1.0 / 3.0, -0.5 / 3.0, 3.0));
        assert_eq!(w, e.joint_values(1));
        let (f, s) = e.scaled_joint_values(1, ColourScale::Frame);
        assert_eq!((f[4], f[7], s), (1.0, -0.5, 1.0));
        // The total is the same whatever frame is on screen: knee 2, ankle 2.5.
        let (t, s) = e.scaled_joint_values(0, ColourScale::WindowSum);
        assert_eq!((t[4], t[7], s), (0.8, 1.0, 2.5));
        assert_eq!(e.scaled_joint_values(2, ColourScale::WindowSum).0, t);
        assert_eq!(t.iter().filter(|v| **v != 0.0).count(), 2);
        // An all-zero frame stays zero rather than dividing by zero.
        let z = ShownExplanation::new(0, vec![0.0; NUM_JOINTS], true, 0.0, "zero".into());
        let (v, s) = z.scaled_joint_values(0, ColourScale::Frame);
        assert!(v.iter().all(|x| *x == 0.0) && s == 0.0);
    }

    #[test]
    fn skinning_weighting_colours_the_knee_region_of_the_default_body() {
        let model = crate::body::default_model::default_body();
        let w = VertexJointWeights::new(model);
        assert_eq!(w.skinning.len(), model.num_vertices());
        for row in &w.skinning {
            let s: f32 = row.iter().map(|r| r.1).sum();
            assert!((s - 1.0).abs() < 1e-3, "weights sum to {s}");
        }
        let mut values = [0.0; NUM_JOINTS];
        values[4] = 1.0; // left knee
        for weighting in [VertexWeighting::Skinning, VertexWeighting::NearestJoint] {
            let uv = vertex_values(&w, weighting, &values);
            let shaped = model.shape(&[]);
            let knee = shaped.joints_rest[4];
            // The most coloured vertex lies near the left knee, none far from it is coloured.
            let (best, _) = uv
                .iter()
                .enumerate()
                .max_by(|a, b| a.1[0].total_cmp(&b.1[0]))
                .unwrap();
            let p = model.v_template[best];
            let d = ((p[0] as f64 - knee.x).powi(2)
                + (p[1] as f64 - knee.y).powi(2)
                + (p[2] as f64 - knee.z).powi(2))
            .sqrt();
            assert!(
                d < 0.25,
                "{weighting:?}: hottest vertex {d:.2} m from the knee"
            );
            let head = shaped.joints_rest[15];
            for (v, s) in uv.iter().enumerate() {
                let p = model.v_template[v];
                if (p[1] as f64 - head.y).abs() < 0.1 {
                    assert!(s[0].abs() < 1e-6, "{weighting:?}: head vertex coloured");
                }
            }
        }
    }

    #[test]
    fn nearest_joint_fade_is_one_at_the_closest_vertex() {
        let verts = [
            [0.0, 0.0, 0.0],
            [0.5, 0.0, 0.0],
            [1.0, 0.0, 0.0],
            [3.0, 0.0, 0.0],
        ];
        let joints = [[0.0, 0.0, 0.0], [3.1, 0.0, 0.0]];
        let w = nearest_joint_weights(&verts, &joints);
        assert_eq!(w[0].0, 0);
        assert!((w[0].1 - 1.0).abs() < 1e-5);
        assert!((w[1].1 - 0.5).abs() < 1e-5);
        assert!(w[2].1.abs() < 1e-5);
        assert_eq!(w[3].0, 1);
    }

    #[test]
    fn unmeasured_share_is_one_on_the_held_arm_and_zero_on_the_legs() {
        let model = crate::body::default_model::default_body();
        let w = VertexJointWeights::new(model);
        let arm: Vec<String> = ["left_elbow", "left_wrist"].map(String::from).to_vec();
        let share = unmeasured_share(model, &w, &arm);
        assert_eq!(share.len(), model.num_vertices());
        let j = |n: &str| model.joint_names.iter().position(|x| x == n).unwrap() as u8;
        let mostly = |joint: u8| {
            (0..share.len())
                .filter(|&v| w.skinning[v].iter().any(|&(k, x)| k == joint && x > 0.9))
                .map(|v| share[v])
                .collect::<Vec<_>>()
        };
        let forearm = mostly(j("left_elbow"));
        assert!(!forearm.is_empty() && forearm.iter().all(|&s| s > 0.9));
        let shin = mostly(j("left_knee"));
        assert!(!shin.is_empty() && shin.iter().all(|&s| s == 0.0));
    }
}
