//! Prediction for whole clips: the card's preprocessing, every window through the network, the
//! clip value as the mean over windows and the spread (standard deviation) across windows as a
//! rough uncertainty.

use serde::{Deserialize, Serialize};

use super::VideoError;
use super::model::Task;
use super::preprocess::clip_windows;
use super::training::LoadedVideoModel;
use crate::formats::openpose::Body25;

/// The network's output for one window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowPrediction {
    /// Start of the window in the source clip, seconds.
    pub start_s: f32,
    /// Frames of edge padding (0 for a full window).
    pub padded_frames: usize,
    /// Regression value, pathological probability (binary) or class probabilities.
    pub outputs: Vec<f32>,
}

/// The prediction for one clip.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClipPrediction {
    /// Clip name.
    pub clip: String,
    /// Per window.
    pub windows: Vec<WindowPrediction>,
    /// Mean over windows of each output.
    pub mean: Vec<f32>,
    /// Standard deviation over windows of each output (0 for one window).
    pub spread: Vec<f32>,
    /// Predicted label name (classification: threshold 0.5 / arg-max of the mean), else `None`.
    pub label: Option<String>,
}

/// Mean and population standard deviation per output over windows.
pub fn mean_and_spread(outputs: &[Vec<f32>]) -> (Vec<f32>, Vec<f32>) {
    let k = outputs.first().map_or(0, |o| o.len());
    let n = outputs.len().max(1) as f32;
    let mean: Vec<f32> = (0..k)
        .map(|j| outputs.iter().map(|o| o[j]).sum::<f32>() / n)
        .collect();
    let spread = (0..k)
        .map(|j| {
            (outputs
                .iter()
                .map(|o| (o[j] - mean[j]).powi(2))
                .sum::<f32>()
                / n)
                .sqrt()
        })
        .collect();
    (mean, spread)
}

/// Predicts one clip; fails naming the clip when it has no usable window.
pub fn predict_clip(
    model: &LoadedVideoModel,
    clip: &str,
    frames: &[Option<Body25>],
) -> Result<ClipPrediction, VideoError> {
    let cfg = &model.card.training;
    let (pc, windows) = clip_windows(clip, frames, &cfg.preprocess)?;
    let mut x = Vec::with_capacity(windows.len() * windows[0].data.len());
    for w in &windows {
        x.extend_from_slice(&w.data);
    }
    let outs = model.predict_windows(&x, windows.len());
    let (mean, spread) = mean_and_spread(&outs);
    let label = match cfg.task {
        Task::Regression => None,
        Task::Binary => cfg.label_names.get(usize::from(mean[0] >= 0.5)).cloned(),
        Task::MultiClass { .. } => mean
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .and_then(|(i, _)| cfg.label_names.get(i).cloned()),
    };
    let windows = windows
        .iter()
        .zip(outs)
        .map(|(w, outputs)| WindowPrediction {
            start_s: pc.runs[w.run].start_s + w.start_frame as f32 / cfg.preprocess.target_fps,
            padded_frames: w.padded_frames,
            outputs,
        })
        .collect();
    Ok(ClipPrediction {
        clip: clip.to_string(),
        windows,
        mean,
        spread,
        label,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_spread_of_known_values() {
        let (m, s) = mean_and_spread(&[vec![1.0, 0.0], vec![3.0, 0.0]]);
        assert_eq!(m, vec![2.0, 0.0]);
        assert_eq!(s, vec![1.0, 0.0]);
    }
}
