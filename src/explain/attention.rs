//! The original's attention explanation of the transformer: the first-level CLS attention over
//! the joints of each frame, weighted by the second-level CLS attention over the frames.

use burn::prelude::*;

use crate::nn::AttentionMaps;

/// Attention relevance `[batch, interval, joints]`: `A₁[CLS → joint](frame) · A₂[CLS → frame]`
/// (non-negative; at most 1 per window, the rest being the CLS tokens' self-attention). With
/// mean pooling the second factor is the frame tokens' attention to the frame, averaged.
pub fn attention_relevance<B: Backend>(maps: &AttentionMaps<B>) -> Tensor<B, 3> {
    let [b, t, j1, _] = maps.joints.dims();
    let cls_joints = maps
        .joints
        .clone()
        .narrow(2, 0, 1)
        .narrow(3, 1, j1 - 1)
        .reshape([b, t, j1 - 1]);
    cls_joints * maps.frame_weights.clone().reshape([b, t, 1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::MarkerClassificationConfig;
    use burn::backend::NdArray;
    use burn::tensor::Distribution;

    #[test]
    fn attention_relevance_sums_to_one_per_window() {
        let _rng = crate::train::test_rng_lock();
        let device = Default::default();
        let m = MarkerClassificationConfig::new()
            .with_pfe_dim(8)
            .with_fc_dim(8)
            .with_interval(4)
            .with_ff_dim(8)
            .init::<NdArray>(&device);
        let x =
            Tensor::<NdArray, 4>::random([3, 4, 22, 3], Distribution::Normal(0.0, 1.0), &device);
        let r = attention_relevance(&m.attention_maps(x));
        assert_eq!(r.dims(), [3, 4, 22]);
        let sums: Vec<f32> = r.sum_dim(2).sum_dim(1).into_data().iter::<f32>().collect();
        for s in sums {
            // Row sums are 1 minus the CLS self-attention of each level, so ≤ 1 and > 0.
            assert!(s > 0.0 && s <= 1.0 + 1e-5, "{s}");
        }
    }
}
