//! Layer-wise relevance propagation.
//!
//! - MLPs: explicit LRP with the ε-rule (ε = 0.25 in the original, which used the `lrp` package
//!   of rodrigobdz), the z⁺ rule and the γ rule, applied to every linear layer; activations
//!   (ReLU, LeakyReLU) pass relevance through unchanged. Computed with burn tensor ops, so it runs
//!   on any backend.
//! - Transformer: CP-LRP / AttnLRP — softmax attention weights, LayerNorm scales and GELU gates
//!   are constants (the model's LRP-mode forward), which makes the network piecewise linear in its
//!   input; relevance is then gradient × input (LRP-0 of the linearised network). Needs an
//!   autodiff backend.
//!
//! The relevance at the output is the logit itself; biases (and, in the transformer, the CLS
//! tokens and positional encodings) absorb the part of it that is not attributed to the input.

use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

use crate::nn::{MarkerClassification, MultiMlp};

/// A propagation rule for linear layers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LrpRule {
    /// `R_i = a_i Σ_j w_ij R_j / (z_j + ε sign z_j)`, `z_j` including the bias (ε = 0 is LRP-0).
    Epsilon(f64),
    /// Positive weights only: `R_i = a_i Σ_j w⁺_ij R_j / Σ_i a_i w⁺_ij`.
    ZPlus,
    /// `w + γ w⁺` in numerator and denominator (bias-free denominator).
    Gamma(f64),
}

impl Default for LrpRule {
    /// The original's rule: ε = 0.25.
    fn default() -> Self {
        Self::Epsilon(0.25)
    }
}

/// Stabiliser of the z⁺ and γ denominators.
const TINY: f64 = 1e-9;

fn sign_nonzero<B: Backend, const D: usize>(z: Tensor<B, D>) -> Tensor<B, D> {
    z.greater_equal_elem(0.0)
        .float()
        .mul_scalar(2.0)
        .sub_scalar(1.0)
}

/// Relevance of the inputs `a` `[n, in]` of `layer` given the relevance `r` `[n, out]` of its
/// outputs.
pub fn linear_backward<B: Backend>(
    layer: &Linear<B>,
    a: Tensor<B, 2>,
    r: Tensor<B, 2>,
    rule: LrpRule,
) -> Tensor<B, 2> {
    linear_backward_relative(layer, a, None, r, rule)
}

/// [`linear_backward`] for the deviation of `a` from `reference` (same shape): the ε rule
/// distributes `(a_i − ref_i) w_ij / (z_j + ε sign z_j)` with `z_j` the layer's true
/// pre-activation (the reference's share `ref · w_j` is absorbed like the bias); the z⁺ and γ
/// rules normalise over the deviations. Without a reference this is plain LRP.
pub fn linear_backward_relative<B: Backend>(
    layer: &Linear<B>,
    a: Tensor<B, 2>,
    reference: Option<Tensor<B, 2>>,
    r: Tensor<B, 2>,
    rule: LrpRule,
) -> Tensor<B, 2> {
    let w = layer.weight.val();
    let delta = match reference {
        Some(reference) => a.clone() - reference,
        None => a.clone(),
    };
    let (w_used, z, eps) = match rule {
        LrpRule::Epsilon(eps) => {
            let mut z = a.matmul(w.clone());
            if let Some(b) = &layer.bias {
                z = z + b.val().unsqueeze::<2>();
            }
            (w, z, eps)
        }
        LrpRule::ZPlus => {
            let wp = w.clamp_min(0.0);
            let z = delta.clone().matmul(wp.clone());
            (wp, z, TINY)
        }
        LrpRule::Gamma(gamma) => {
            let wg = w.clone() + w.clamp_min(0.0).mul_scalar(gamma);
            let z = delta.clone().matmul(wg.clone());
            (wg, z, TINY)
        }
    };
    let denom = z.clone() + sign_nonzero(z).mul_scalar(eps);
    let s = r / denom;
    delta * s.matmul(w_used.transpose())
}

/// LRP of the per-frame MLP for `x` `[batch, interval, joints, 3]`: (relevance with the shape of
/// `x`, logits `[batch, 1]`). For a network with `pelvis_relative_x` the relevance is that of the
/// pelvis-relative coordinates the first layer sees (a joint's relevance is about its position
/// relative to the body, not about the walk's progression).
pub fn lrp_mlp<B: Backend>(
    model: &MultiMlp<B>,
    x: Tensor<B, 4>,
    rule: LrpRule,
) -> (Tensor<B, 4>, Tensor<B, 2>) {
    lrp_mlp_relative(model, x, None, rule)
}

/// [`lrp_mlp`] of the deviation of `x` from `reference` (same shape, e.g. a
/// [`super::NormativeGait`] reference): the first layer attributes the difference between the
/// two inputs as the network's first layer sees them (after its input preparation).
pub fn lrp_mlp_relative<B: Backend>(
    model: &MultiMlp<B>,
    x: Tensor<B, 4>,
    reference: Option<Tensor<B, 4>>,
    rule: LrpRule,
) -> (Tensor<B, 4>, Tensor<B, 2>) {
    let [b, t, j, c] = x.dims();
    let layers = model.layers();
    let mut h = model.prepare_input(x).reshape([b * t, j * c]);
    let reference = reference.map(|r| model.prepare_input(r).reshape([b * t, j * c]));
    let mut inputs = Vec::with_capacity(layers.len());
    for (layer, act, flatten) in &layers {
        if *flatten {
            let w = h.dims()[1];
            h = h.reshape([b, t * w]);
        }
        inputs.push(h.clone());
        h = act.apply(layer.forward(h));
    }
    let logits = h;
    let mut r = logits.clone();
    let mut reference = reference;
    for (k, (layer, _, flatten)) in layers.iter().enumerate().rev() {
        let first_reference = if k == 0 { reference.take() } else { None };
        r = linear_backward_relative(layer, inputs[k].clone(), first_reference, r, rule);
        if *flatten {
            let w = r.dims()[1] / t;
            r = r.reshape([b * t, w]);
        }
    }
    (r.reshape([b, t, j, c]), logits)
}

/// CP-LRP of the transformer for `x` `[batch, interval, joints, 3]`: (relevance with the shape
/// of `x`, logits `[batch, 1]`), on the inner (non-autodiff) backend. As for [`lrp_mlp`], with
/// `pelvis_relative_x` it is the relevance of the pelvis-relative input.
pub fn lrp_transformer<B: AutodiffBackend>(
    model: &MarkerClassification<B>,
    x: Tensor<B, 4>,
) -> (Tensor<B::InnerBackend, 4>, Tensor<B::InnerBackend, 2>) {
    lrp_transformer_relative(model, x, None)
}

/// [`lrp_transformer`] of the deviation of `x` from `reference`: gradient × (prepared input −
/// prepared reference).
pub fn lrp_transformer_relative<B: AutodiffBackend>(
    model: &MarkerClassification<B>,
    x: Tensor<B, 4>,
    reference: Option<Tensor<B, 4>>,
) -> (Tensor<B::InnerBackend, 4>, Tensor<B::InnerBackend, 2>) {
    let x = model.prepare_input(x.detach()).require_grad();
    let (logits, _) = model.forward_prepared(x.clone(), true);
    // Windows are independent, so the gradient of the sum is each window's own gradient.
    let grads = logits.clone().sum().backward();
    let xi = x.clone().inner();
    let g = x.grad(&grads).unwrap_or_else(|| xi.zeros_like());
    let delta = match reference {
        Some(r) => xi - model.prepare_input(r.detach()).inner(),
        None => xi,
    };
    (delta * g, logits.inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::{GaitClassifier, MultiMlp, MultiMlpConfig};
    use burn::backend::{Autodiff, NdArray};
    use burn::tensor::Distribution;

    type B = NdArray;

    fn vals<Bk: Backend, const D: usize>(t: Tensor<Bk, D>) -> Vec<f32> {
        t.into_data().iter::<f32>().collect()
    }

    #[test]
    fn epsilon_rule_single_layer_by_hand() {
        // burn's NdArray generator is process-wide: serialise with the training tests.
        let _lock = crate::train::test_rng_lock();
        let device = Default::default();
        // One layer 2 → 1, w = [1, −2]ᵀ, b = 0.5, a = [3, 1]: z = 3 − 2 + 0.5 = 1.5.
        let mut layer = burn::nn::LinearConfig::new(2, 1).init::<B>(&device);
        layer.weight =
            burn::module::Param::from_tensor(Tensor::from_floats([[1.0], [-2.0]], &device));
        layer.bias = Some(burn::module::Param::from_tensor(Tensor::from_floats(
            [0.5],
            &device,
        )));
        let a = Tensor::<B, 2>::from_floats([[3.0, 1.0]], &device);
        let r = Tensor::<B, 2>::from_floats([[1.5]], &device);
        // ε = 0.5: s = 1.5 / 2 = 0.75 → R = [3·0.75, 1·(−2)·0.75] = [2.25, −1.5].
        let out = vals(linear_backward(
            &layer,
            a.clone(),
            r.clone(),
            LrpRule::Epsilon(0.5),
        ));
        assert!(
            (out[0] - 2.25).abs() < 1e-6 && (out[1] + 1.5).abs() < 1e-6,
            "{out:?}"
        );
        // z⁺: only w = 1 counts, z⁺ = 3 → R = [1.5, 0].
        let out = vals(linear_backward(
            &layer,
            a.clone(),
            r.clone(),
            LrpRule::ZPlus,
        ));
        assert!(
            (out[0] - 1.5).abs() < 1e-6 && out[1].abs() < 1e-6,
            "{out:?}"
        );
        // γ = 1: w' = [2, −2], z = 6 − 2 = 4 → R = [3·2·1.5/4, 1·(−2)·1.5/4] = [2.25, −0.75].
        let out = vals(linear_backward(&layer, a, r, LrpRule::Gamma(1.0)));
        assert!(
            (out[0] - 2.25).abs() < 1e-6 && (out[1] + 0.75).abs() < 1e-6,
            "{out:?}"
        );
    }

    #[test]
    fn pelvis_relative_networks_explain_the_relative_input() {
        let _rng = crate::train::test_rng_lock();
        type A = Autodiff<NdArray>;
        let device = Default::default();
        <A as Backend>::seed(&device, 5);
        let x = Tensor::<A, 4>::random([2, 3, 22, 3], Distribution::Normal(0.0, 1.0), &device);
        let xr = crate::nn::pelvis_relative_x(x.clone());
        // MLP: LRP-0 equals gradient × the pelvis-relative input, and the pelvis gets no x
        // relevance (its relative x is 0).
        let mlp = MultiMlpConfig::new()
            .with_interval(3)
            .with_pfe_layers(vec![6])
            .with_fc_layers(vec![5])
            .with_pelvis_relative_x(true)
            .init::<A>(&device);
        let (r, logits) = lrp_mlp(&mlp, x.clone(), LrpRule::Epsilon(0.0));
        assert_eq!(vals(logits), vals(mlp.logits(x.clone())));
        let xg = xr.clone().detach().require_grad();
        let plain = MultiMlp {
            pelvis_relative_x: false,
            ..mlp.clone()
        };
        let grads = plain.logits(xg.clone()).sum().backward();
        let gi = vals(xg.clone().inner() * xg.grad(&grads).unwrap());
        let r = vals(r);
        let scale = gi.iter().fold(0f32, |m, v| m.max(v.abs()));
        for (p, q) in r.iter().zip(&gi) {
            assert!((p - q).abs() <= 1e-4 * scale.max(1e-6), "{p} vs {q}");
        }
        for f in 0..6 {
            assert_eq!(r[f * 66], 0.0, "pelvis x relevance in frame {f}");
        }
        // Transformer: the same relevance as the plain network on the relative input.
        let cfg = crate::nn::MarkerClassificationConfig::new()
            .with_pfe_dim(8)
            .with_fc_dim(8)
            .with_interval(3)
            .with_ff_dim(16)
            .with_pelvis_relative_x(true);
        let tr = cfg.init::<A>(&device);
        // (Parameters initialise lazily: run the network once before cloning it.)
        let (ra, la) = lrp_transformer(&tr, x);
        let plain = crate::nn::MarkerClassification {
            pelvis_relative_x: false,
            ..tr.clone()
        };
        let (rb, lb) = lrp_transformer(&plain, xr);
        for (p, q) in vals(la).iter().zip(&vals(lb)) {
            assert!((p - q).abs() < 1e-5);
        }
        for (p, q) in vals(ra).iter().zip(&vals(rb)) {
            assert!((p - q).abs() < 1e-5, "{p} vs {q}");
        }
    }

    #[test]
    fn relative_lrp0_is_gradient_times_deviation_and_vanishes_at_the_reference() {
        let _rng = crate::train::test_rng_lock();
        type A = Autodiff<NdArray>;
        let device = Default::default();
        <A as Backend>::seed(&device, 11);
        let mlp = MultiMlpConfig::new()
            .with_interval(3)
            .with_pfe_layers(vec![6, 5])
            .with_fc_layers(vec![7])
            .with_pelvis_relative_x(true)
            .init::<A>(&device);
        let x = Tensor::<A, 4>::random([2, 3, 22, 3], Distribution::Normal(0.0, 1.0), &device);
        let reference =
            Tensor::<A, 4>::random([2, 3, 22, 3], Distribution::Normal(0.0, 1.0), &device);
        // LRP-0 relative to a reference: the gradient at x times the deviation of the
        // prepared input from the prepared reference.
        let (r, logits) = lrp_mlp_relative(
            &mlp,
            x.clone(),
            Some(reference.clone()),
            LrpRule::Epsilon(0.0),
        );
        assert_eq!(vals(logits), vals(mlp.logits(x.clone())));
        let xp = mlp.prepare_input(x.clone()).detach().require_grad();
        let plain = MultiMlp {
            pelvis_relative_x: false,
            ..mlp.clone()
        };
        let grads = plain.logits(xp.clone()).sum().backward();
        let delta = xp.clone().inner() - mlp.prepare_input(reference).inner();
        let expected = vals(delta * xp.grad(&grads).unwrap());
        let r = vals(r);
        let scale = expected.iter().fold(0f32, |m, v| m.max(v.abs()));
        for (p, q) in r.iter().zip(&expected) {
            assert!((p - q).abs() <= 1e-4 * scale.max(1e-6), "{p} vs {q}");
        }
        // At the reference itself nothing deviates: no relevance, for every rule and the
        // transformer.
        for rule in [LrpRule::Epsilon(0.25), LrpRule::ZPlus, LrpRule::Gamma(0.25)] {
            let (r, _) = lrp_mlp_relative(&mlp, x.clone(), Some(x.clone()), rule);
            assert!(vals(r).iter().all(|v| v.abs() < 1e-6), "{rule:?}");
        }
        let tr = crate::nn::MarkerClassificationConfig::new()
            .with_pfe_dim(8)
            .with_fc_dim(8)
            .with_interval(3)
            .with_ff_dim(16)
            .init::<A>(&device);
        let (r, _) = lrp_transformer_relative(&tr, x.clone(), Some(x.clone()));
        assert!(vals(r).iter().all(|v| v.abs() < 1e-6));
        let (r0, _) = lrp_transformer_relative(&tr, x.clone(), None);
        let (r1, _) = lrp_transformer(&tr, x);
        assert_eq!(vals(r0), vals(r1));
    }

    #[test]
    fn lrp0_equals_gradient_times_input_on_relu_net() {
        let _rng = crate::train::test_rng_lock();
        type A = Autodiff<NdArray>;
        let device = Default::default();
        <A as Backend>::seed(&device, 3);
        let cfg = MultiMlpConfig::new()
            .with_interval(3)
            .with_pfe_layers(vec![6, 5])
            .with_fc_layers(vec![7, 4]);
        let model = cfg.init::<A>(&device);
        let x = Tensor::<A, 4>::random([2, 3, 22, 3], Distribution::Normal(0.0, 1.0), &device);
        let (r, _) = lrp_mlp(&model, x.clone(), LrpRule::Epsilon(0.0));
        let xg = x.detach().require_grad();
        let grads = model.logits(xg.clone()).sum().backward();
        let gi = xg.clone().inner() * xg.grad(&grads).unwrap();
        let (r, gi) = (vals(r), vals(gi));
        let scale = gi.iter().fold(0f32, |m, v| m.max(v.abs()));
        for (p, q) in r.iter().zip(&gi) {
            assert!((p - q).abs() <= 1e-4 * scale.max(1e-6), "{p} vs {q}");
        }
    }
}
