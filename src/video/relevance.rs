//! Gradient × input relevance of one window for a trained video network, per frame and feature,
//! summed per BODY_25 keypoint for display.
//!
//! The network runs on the autodiff CPU backend in inference behaviour
//! ([`VideoNet::forward_eval`](super::model::VideoNet::forward_eval): running batch-norm
//! statistics, no dropout), so the explained output is exactly what prediction computes. The
//! input is the *standardised* window (training-set mean subtracted), so gradient × input is the
//! linearised contribution of each value's deviation from the average training frame. The
//! explained output is the binary logit, the scaled regression value, or the chosen class's logit.
//! Relevance of a keypoint's `x`, `y` (and their velocities) is summed into that keypoint; the
//! derived columns (angles, distances) involve several keypoints and are kept apart.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::VideoError;
use super::model::{Task, VideoNet};
use super::preprocess::{DERIVED_NAMES, Window};
use super::training::{LoadedVideoModel, TrainBackend};

/// Relevance of one window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowRelevance {
    /// Frames of the window (target frame rate).
    pub frames: usize,
    /// Feature names, column order of `relevance`.
    pub feature_names: Vec<String>,
    /// Gradient × standardised input, `frames × features`, row-major.
    pub relevance: Vec<f32>,
    /// Per frame, relevance summed per BODY_25 keypoint (0 for keypoints that are no feature).
    pub keypoints: Vec<[f32; 25]>,
    /// Per frame, relevance of each derived column (angles, distances), in [`DERIVED_NAMES`] order
    /// (empty rows when the preprocessing has no derived columns).
    pub derived: Vec<Vec<f32>>,
    /// The explained output (logit, scaled regression value or class logit).
    pub output: f32,
    /// Index of the explained output.
    pub output_index: usize,
}

impl WindowRelevance {
    /// Signed relevance per keypoint summed over the window's frames.
    pub fn keypoint_totals(&self) -> [f32; 25] {
        let mut t = [0.0f32; 25];
        for f in &self.keypoints {
            for (a, b) in t.iter_mut().zip(f) {
                *a += b;
            }
        }
        t
    }
}

/// Copies the inference network onto the autodiff backend (through its full-precision record).
fn to_autodiff(model: &LoadedVideoModel) -> Result<VideoNet<TrainBackend>, VideoError> {
    let err = |reason| VideoError::Record {
        path: Default::default(),
        reason,
    };
    let bytes = crate::checkpoint::record_bytes(model.net.clone()).map_err(err)?;
    let device = Default::default();
    let net = model.card.training.model.init::<TrainBackend>(&device);
    crate::checkpoint::load_weights_into(net, bytes, &device).map_err(err)
}

/// Gradient × input of one raw (unstandardised) window, `window_frames × features` as produced
/// by the card's preprocessing. `output` picks the class logit for multi-class networks (ignored
/// otherwise).
pub fn window_relevance(
    model: &LoadedVideoModel,
    raw_window: &[f32],
    output: usize,
) -> Result<WindowRelevance, VideoError> {
    let cfg = &model.card.training;
    let (wf, nf) = (cfg.preprocess.window_frames, model.card.feature_names.len());
    if raw_window.len() != wf * nf {
        return Err(VideoError::Data {
            reason: format!(
                "window has {} values, the network expects {wf} frames × {nf} features",
                raw_window.len()
            ),
        });
    }
    let k = cfg.task.outputs();
    let output_index = match cfg.task {
        Task::MultiClass { .. } if output < k => output,
        Task::MultiClass { .. } => {
            return Err(VideoError::Data {
                reason: format!("output {output} of a network with {k} outputs"),
            });
        }
        _ => 0,
    };
    let mut x = raw_window.to_vec();
    model.card.feature_stats.apply(&mut x);
    let net = to_autodiff(model)?;
    let device = Default::default();
    let input =
        Tensor::<TrainBackend, 3>::from_data(TensorData::new(x.clone(), [1, wf, nf]), &device)
            .require_grad();
    let out = net.forward_eval(input.clone());
    let picked = out.slice([0..1, output_index..output_index + 1]).sum();
    let value = picked
        .clone()
        .into_data()
        .iter::<f32>()
        .next()
        .unwrap_or(f32::NAN);
    let grads = picked.backward();
    let g: Vec<f32> = input
        .grad(&grads)
        .map(|t| t.into_data().iter::<f32>().collect())
        .unwrap_or_else(|| vec![0.0; wf * nf]);
    let relevance: Vec<f32> = g.iter().zip(&x).map(|(a, b)| a * b).collect();

    // column → keypoint (or derived index)
    let pre = &cfg.preprocess;
    let nb = pre.keypoints.len() * 2 + if pre.derived { DERIVED_NAMES.len() } else { 0 };
    let column = |j: usize| -> (Option<usize>, Option<usize>) {
        let j = if j >= nb { j - nb } else { j };
        if j < pre.keypoints.len() * 2 {
            (Some(pre.keypoints[j / 2]), None)
        } else {
            (None, Some(j - pre.keypoints.len() * 2))
        }
    };
    let mut keypoints = vec![[0.0f32; 25]; wf];
    let nd = if pre.derived { DERIVED_NAMES.len() } else { 0 };
    let mut derived = vec![vec![0.0f32; nd]; wf];
    for t in 0..wf {
        for j in 0..nf {
            let r = relevance[t * nf + j];
            match column(j) {
                (Some(kp), _) => keypoints[t][kp] += r,
                (_, Some(d)) => derived[t][d] += r,
                _ => {}
            }
        }
    }
    Ok(WindowRelevance {
        frames: wf,
        feature_names: model.card.feature_names.clone(),
        relevance,
        keypoints,
        derived,
        output: value,
        output_index,
    })
}

/// Relevance of every window of a clip (the card's preprocessing), with each window's start in
/// the source clip in seconds; frame `f` of a window is at `start_s + f / target_fps`.
pub fn clip_relevance(
    model: &LoadedVideoModel,
    clip: &str,
    frames: &[Option<crate::formats::openpose::Body25>],
    output: usize,
) -> Result<Vec<(f32, WindowRelevance)>, VideoError> {
    let pre = &model.card.training.preprocess;
    let (pc, windows) = super::preprocess::clip_windows(clip, frames, pre)?;
    windows
        .iter()
        .map(|w: &Window| {
            let start = pc.runs[w.run].start_s + w.start_frame as f32 / pre.target_fps;
            window_relevance(model, &w.data, output).map(|r| (start, r))
        })
        .collect()
}
