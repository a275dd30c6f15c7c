//! Gait classifiers in burn: the two-level marker transformer and the per-frame MLPs of the
//! original project, generic over the backend so they train on the CPU (NdArray) or the GPU
//! (wgpu, feature `gpu`).
//!
//! Input batches are windows `[batch, interval, joints, 3]` (aligned joint positions, metres);
//! the output is one logit per window (sick = positive).

pub mod asymmetry;
pub mod mlp;
pub mod posenc;
pub mod transformer;

use burn::prelude::*;

pub use asymmetry::{AsymmetryConfig, AsymmetryNet};
pub use mlp::{LrpMlp, MlpActivation, MultiMlp, MultiMlpConfig};
pub use transformer::{
    AttentionInit, AttentionMaps, ClsInit, MarkerClassification, MarkerClassificationConfig,
    Pooling,
};

/// P(pathological) of a logit: the logistic sigmoid, written once for every verdict printed or
/// drawn (a classifier's positive class is "sick").
pub fn probability_from_logit(logit: f64) -> f64 {
    1.0 / (1.0 + (-logit).exp())
}

/// Subtracts each frame's pelvis (joint 0) x coordinate from the x coordinate of every joint of
/// `x` `[batch, interval, joints, 3]`; y and z are unchanged.
///
/// The original alignment removes only frame 0's pelvis position, so the x axis of an aligned
/// window still carries the forward progression of the walk (the pelvis goes from 0 to about 1
/// body height over a 64-frame window): every joint's x is dominated by `time × speed`, and the
/// pose (a joint's x relative to the body, ≈ 0.1–0.3) is a small residual on top of it. The
/// networks' optional input step `pelvis_relative_x` (off by default, as in the original) removes
/// that offset inside the network, so windows, alignment and viewer stay unchanged. On the
/// semi-synthetic cohort the per-frame MLP otherwise sits on the 0.69 loss plateau (measured:
/// 100 subjects, stride 4, 15 epochs, Adam 1e-3: fold-0 eval accuracy 0.45 without, 0.84 with).
pub fn pelvis_relative_x<B: Backend>(x: Tensor<B, 4>) -> Tensor<B, 4> {
    let device = x.device();
    let pelvis_x = x.clone().narrow(2, 0, 1).narrow(3, 0, 1);
    let mask = Tensor::<B, 1>::from_data(TensorData::new(vec![1.0f32, 0.0, 0.0], [3]), &device)
        .reshape([1, 1, 1, 3]);
    x - pelvis_x * mask
}

/// How [`InputStandardization`] scales the centred coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StandardizationScale {
    /// Every joint coordinate by its own deviation (joints that barely move, such as the hips
    /// relative to the pelvis, are magnified).
    PerCoordinate,
    /// Every coordinate of an axis by the axis's pooled deviation: centring per joint, one scale
    /// per axis, so joints keep their relative amplitudes.
    #[default]
    PerAxis,
}

/// Per-coordinate input standardisation learnt from the training windows (an optional input
/// step, off in the original): each joint coordinate, as the first layer sees it (after
/// [`pelvis_relative_x`] when that is on), has its training mean subtracted and is divided by its
/// training standard deviation.
///
/// Why: the original's per-window alignment maps y and z to [−1, 1], so feet and head sit at
/// ±1 and arms near 0 in every frame. Layers see these large constant offsets rather than the
/// pose change, and LRP, which attributes relevance in proportion to the input value, then
/// credits the joints that are far from the origin (on the synthetic cohort the feet and
/// shoulders were the most relevant joints of most sick windows whatever the injected limb).
/// Standardised inputs are deviations from the average pose, so relevance is about the deviation.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InputStandardization {
    /// Mean per joint coordinate, `[joints × 3]` row-major.
    pub mean: Vec<f32>,
    /// Standard deviation per joint coordinate (coordinates that never vary get 1).
    pub std: Vec<f32>,
}

impl InputStandardization {
    /// Statistics of `windows` (each flat `[interval, joints, 3]`), computed on the input the
    /// first layer sees: with `pelvis_relative_x` each frame's pelvis x is removed first.
    pub fn from_windows<'a>(
        windows: impl IntoIterator<Item = &'a [f32]>,
        joints: usize,
        pelvis_relative_x: bool,
        scale: StandardizationScale,
    ) -> Self {
        let width = joints * 3;
        let mut sum = vec![0f64; width];
        let mut sum_sq = vec![0f64; width];
        let mut n = 0usize;
        for w in windows {
            for frame in w.chunks_exact(width) {
                let px = if pelvis_relative_x { frame[0] } else { 0.0 };
                for (i, &v) in frame.iter().enumerate() {
                    let v = f64::from(if i % 3 == 0 { v - px } else { v });
                    sum[i] += v;
                    sum_sq[i] += v * v;
                }
                n += 1;
            }
        }
        let n = n.max(1) as f64;
        let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
        let var: Vec<f64> = sum_sq
            .iter()
            .zip(&mean)
            .map(|(sq, m)| (sq / n - m * m).max(0.0))
            .collect();
        let var = match scale {
            StandardizationScale::PerCoordinate => var,
            StandardizationScale::PerAxis => {
                // Mean within-coordinate variance of each axis over the joints.
                let axis: Vec<f64> = (0..3)
                    .map(|a| var.iter().skip(a).step_by(3).sum::<f64>() / joints.max(1) as f64)
                    .collect();
                (0..width).map(|i| axis[i % 3]).collect()
            }
        };
        let std = var
            .iter()
            .map(|v| {
                let sd = v.sqrt();
                if sd < 1e-6 { 1.0 } else { sd as f32 }
            })
            .collect();
        Self {
            mean: mean.iter().map(|&m| m as f32).collect(),
            std,
        }
    }

    /// The constant tensors a network applies, shaped to broadcast over
    /// `[batch, interval, joints, 3]`.
    pub fn init<B: Backend>(&self, device: &B::Device) -> InputStandardizationTensors<B> {
        let j = self.mean.len() / 3;
        let mean = Tensor::<B, 1>::from_data(TensorData::new(self.mean.clone(), [j * 3]), device)
            .reshape([1, 1, j, 3]);
        let inv: Vec<f32> = self.std.iter().map(|s| 1.0 / s).collect();
        let inv =
            Tensor::<B, 1>::from_data(TensorData::new(inv, [j * 3]), device).reshape([1, 1, j, 3]);
        InputStandardizationTensors { mean, inv_std: inv }
    }

    /// Checks that both vectors hold `joints × 3` finite values and every std is positive.
    pub fn validate(&self, joints: usize) -> Result<(), String> {
        if self.mean.len() != joints * 3 || self.std.len() != joints * 3 {
            return Err(format!(
                "input standardisation has {} means and {} deviations, expected {} ({} joints × 3)",
                self.mean.len(),
                self.std.len(),
                joints * 3,
                joints
            ));
        }
        if self.mean.iter().any(|m| !m.is_finite())
            || self.std.iter().any(|s| !(s.is_finite() && *s > 0.0))
        {
            return Err(
                "input standardisation holds a non-finite mean or a non-positive deviation".into(),
            );
        }
        Ok(())
    }
}

/// (mean, 1 / std) of [`InputStandardization`] as constant tensors
/// `[1, 1, joints, 3]`.
#[derive(Module, Debug)]
pub struct InputStandardizationTensors<B: Backend> {
    /// Mean per joint coordinate.
    pub mean: Tensor<B, 4>,
    /// Reciprocal standard deviation per joint coordinate.
    pub inv_std: Tensor<B, 4>,
}

impl<B: Backend> InputStandardizationTensors<B> {
    /// Applies `(x − mean) / std`.
    pub fn apply(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        (x - self.mean.clone()) * self.inv_std.clone()
    }
}

/// The shared input step of both networks: optional [`pelvis_relative_x`], then optional
/// standardisation.
pub fn prepare_input<B: Backend>(
    x: Tensor<B, 4>,
    pelvis_relative: bool,
    standardization: Option<&InputStandardizationTensors<B>>,
) -> Tensor<B, 4> {
    let x = if pelvis_relative {
        pelvis_relative_x(x)
    } else {
        x
    };
    match standardization {
        Some(s) => s.apply(x),
        None => x,
    }
}

/// Flat windows (`windows × interval × joints × 3`, as [`crate::dataset::WindowDataset::batch_data`]
/// and [`crate::inference::window_input`] lay them out) as the networks' input tensor.
pub fn window_tensor<B: Backend>(
    flat: Vec<f32>,
    windows: usize,
    interval: usize,
    joints: usize,
    device: &B::Device,
) -> Tensor<B, 4> {
    Tensor::from_data(
        TensorData::new(flat, [windows, interval, joints, 3]),
        device,
    )
}

/// Common interface of every gait classifier, so training, evaluation and explanation code does
/// not depend on the architecture.
pub trait GaitClassifier<B: Backend> {
    /// One logit per window: `x` is `[batch, interval, joints, 3]`, the result `[batch, 1]`.
    fn logits(&self, x: Tensor<B, 4>) -> Tensor<B, 2>;
    /// Frames per window the network was built for.
    fn interval(&self) -> usize;
    /// Joints per frame the network was built for.
    fn joints(&self) -> usize;
    /// The logits of the network's detectors `[batch, detectors]` where its verdict is the
    /// largest of several ([`asymmetry`]: left/right asymmetry, posture), so that training can
    /// teach each its own kind of window ([`crate::train::DetectorTraining`]); one detector,
    /// [`Self::logits`], by default.
    fn detector_logits(&self, x: Tensor<B, 4>) -> Tensor<B, 2> {
        self.logits(x)
    }
}

/// A loaded network of any kind (kept unboxed: one value per process, size irrelevant).
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum LoadedModel<B: Backend> {
    /// The marker transformer.
    Transformer(MarkerClassification<B>),
    /// A per-frame MLP (`multi_mlp` or `lrpmlp`).
    Mlp(MultiMlp<B>),
    /// The left/right asymmetry and posture detectors (`asymmetry`).
    Asymmetry(AsymmetryNet<B>),
}

impl<B: Backend> GaitClassifier<B> for LoadedModel<B> {
    fn logits(&self, x: Tensor<B, 4>) -> Tensor<B, 2> {
        match self {
            Self::Transformer(m) => m.logits(x),
            Self::Mlp(m) => m.logits(x),
            Self::Asymmetry(m) => m.logits(x),
        }
    }
    fn interval(&self) -> usize {
        match self {
            Self::Transformer(m) => m.interval,
            Self::Mlp(m) => m.interval,
            Self::Asymmetry(m) => m.interval,
        }
    }
    fn joints(&self) -> usize {
        match self {
            Self::Transformer(m) => m.joints,
            Self::Mlp(m) => m.joints,
            Self::Asymmetry(m) => m.joints,
        }
    }
    fn detector_logits(&self, x: Tensor<B, 4>) -> Tensor<B, 2> {
        match self {
            Self::Transformer(m) => m.detector_logits(x),
            Self::Mlp(m) => m.detector_logits(x),
            Self::Asymmetry(m) => m.detector_logits(x),
        }
    }
}

impl<B: burn::tensor::backend::AutodiffBackend> LoadedModel<B> {
    /// The network on the inner backend of its autodiff backend, for inference: no autodiff
    /// graph, and dropout (active in the training forward of an autodiff transformer) is the
    /// identity, so the same input always gives the same logits.
    pub fn inference(&self) -> LoadedModel<B::InnerBackend> {
        use burn::module::AutodiffModule;
        match self {
            Self::Transformer(m) => LoadedModel::Transformer(m.valid()),
            Self::Mlp(m) => LoadedModel::Mlp(m.valid()),
            Self::Asymmetry(m) => LoadedModel::Asymmetry(m.valid()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;

    #[test]
    fn pelvis_relative_x_removes_only_the_pelvis_x_per_frame() {
        let device = Default::default();
        // 1 window, 2 frames, 22 joints: x = frame + joint/100, y = 5, z = −joint.
        let data: Vec<f32> = (0..2)
            .flat_map(|f| {
                (0..22).flat_map(move |j| [f as f32 + j as f32 / 100.0, 5.0, -(j as f32)])
            })
            .collect();
        let x =
            Tensor::<NdArray, 4>::from_data(TensorData::new(data.clone(), [1, 2, 22, 3]), &device);
        let out: Vec<f32> = pelvis_relative_x(x).into_data().iter::<f32>().collect();
        for f in 0..2 {
            for j in 0..22 {
                let k = (f * 22 + j) * 3;
                assert!(
                    (out[k] - j as f32 / 100.0).abs() < 1e-6,
                    "x of joint {j}, frame {f}"
                );
                assert_eq!(out[k + 1], data[k + 1]);
                assert_eq!(out[k + 2], data[k + 2]);
            }
        }
    }

    #[test]
    fn standardization_statistics_follow_the_first_layers_input() {
        // Two frames of 2 joints: pelvis x 1 and 3, joint 1 x 2 and 6 → relative x 1 and 3.
        let w: Vec<f32> = vec![1.0, 0.0, 5.0, 2.0, 4.0, 5.0, 3.0, 0.0, 5.0, 6.0, 8.0, 5.0];
        let s = InputStandardization::from_windows(
            [w.as_slice()],
            2,
            true,
            StandardizationScale::PerCoordinate,
        );
        assert_eq!(s.mean, vec![0.0, 0.0, 5.0, 2.0, 6.0, 5.0]);
        // Constant coordinates get deviation 1, others their population deviation.
        assert_eq!(s.std, vec![1.0, 1.0, 1.0, 1.0, 2.0, 1.0]);
        let a = InputStandardization::from_windows(
            [w.as_slice()],
            2,
            false,
            StandardizationScale::PerCoordinate,
        );
        assert_eq!(a.mean[0], 2.0);
        // Pooled per axis: x variances 0 and 1 → √0.5, y 0 and 4 → √2, z 0 → 1.
        let p = InputStandardization::from_windows(
            [w.as_slice()],
            2,
            true,
            StandardizationScale::PerAxis,
        );
        assert_eq!(p.mean, s.mean);
        let h = 0.5f32.sqrt();
        let r2 = 2f32.sqrt();
        for (got, want) in p.std.iter().zip([h, r2, 1.0, h, r2, 1.0]) {
            assert!((got - want).abs() < 1e-6, "{:?}", p.std);
        }
        assert!(s.validate(2).is_ok());
        assert!(s.validate(3).unwrap_err().contains("expected 9"));
        let bad = InputStandardization {
            std: vec![1.0, 0.0, 1.0, 1.0, 1.0, 1.0],
            ..s.clone()
        };
        assert!(bad.validate(2).is_err());
        // prepare_input applies pelvis-relative x, then (x − mean) / std.
        let device = Default::default();
        let t = s.init::<NdArray>(&device);
        let x = Tensor::<NdArray, 1>::from_data(TensorData::new(w.clone(), [12]), &device)
            .reshape([1, 2, 2, 3]);
        let out: Vec<f32> = prepare_input(x, true, Some(&t))
            .into_data()
            .iter::<f32>()
            .collect();
        assert_eq!(
            out,
            vec![0.0, 0.0, 0.0, -1.0, -1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0]
        );
    }
}
