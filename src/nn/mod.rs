//! Gait classifiers in burn: the two-level marker transformer and the per-frame MLPs of the
//! original project, generic over the backend so they train on the CPU (NdArray) or the GPU
//! (wgpu, feature `gpu`).
//!
//! Input batches are windows `[batch, interval, joints, 3]` (aligned joint positions, metres);
//! the output is one logit per window (sick = positive).

pub mod mlp;
pub mod posenc;
pub mod transformer;

use burn::prelude::*;

pub use mlp::{LrpMlp, MlpActivation, MultiMlp, MultiMlpConfig};
pub use transformer::{AttentionMaps, MarkerClassification, MarkerClassificationConfig};

/// Common interface of every gait classifier, so training, evaluation and explanation code does
/// not depend on the architecture.
pub trait GaitClassifier<B: Backend> {
    /// One logit per window: `x` is `[batch, interval, joints, 3]`, the result `[batch, 1]`.
    fn logits(&self, x: Tensor<B, 4>) -> Tensor<B, 2>;
    /// Frames per window the network was built for.
    fn interval(&self) -> usize;
    /// Joints per frame the network was built for.
    fn joints(&self) -> usize;
}
