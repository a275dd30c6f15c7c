//! Layer-wise relevance propagation.
//!
//! **MLPs** (explicit LRP with burn tensor ops, any backend). Relevance starts as the logit at the
//! output and is passed down layer by layer; at each linear layer `z_j = Σ_i a_i w_ij + b_j` a
//! rule distributes an output's relevance `R_j` over contributions `c_ij`:
//! `R_i = Σ_j c_ij R_j / d_j`, and whatever the denominator `d_j` holds beyond `Σ_i c_ij` (bias,
//! stabiliser, reference) is *absorbed* ([`LrpTrace::absorbed`]). The rules ([`LrpRule`]):
//!
//! | rule | contribution `c_ij` / denominator `d_j` | valid domain |
//! | --- | --- | --- |
//! | `Epsilon(ε)` | `a_i w_ij` / `z_j + ε·sign(z_j)` | any sign |
//! | `EpsilonOriginal(ε)` | `a_i w_ij` / `z_j + ε` on linear layers, and on every ReLU / LeakyReLU `R_u = R_a · a / (a + ε)` (the `lrp` package, see below) | any sign (denominator may vanish near `z = −ε`) |
//! | `ZPlus` | `(a_i w_ij)^σ` / `Σ_i (a_i w_ij)^σ`, `σ = sign z_j`, bias ignored | any sign (for `a ≥ 0`, `z_j ≥ 0` it is the z⁺ rule `a_i w⁺_ij`) |
//! | `Gamma(γ)` | `a_i w_ij + γ (a_i w_ij)^σ` / `z_j + γ (Σ_i (a_i w_ij)^σ + b_j^σ)` | any sign (for `a ≥ 0`, `z_j ≥ 0` it is Montavon et al. 2019's γ rule) |
//! | `Bounded` | input layer z^B: `(x_i − l_i) w⁺_ij + (x_i − h_i) w⁻_ij` / their sum; LRP-ε (0.25) above | input layer, `l ≤ x ≤ h` |
//! | `Composite` (LRP-CMP) | z^B input layer, `Gamma(0.25)` on the pose-feature layers, `Epsilon(0.25)` on the classifier layers and the output | MLP |
//!
//! `(v)^σ` is the positive part of `v` where `σ = +` and the negative part where `σ = −`.
//! Splitting the *products* `a_i w_ij` (not only the weights) by sign is what makes z⁺ and γ
//! valid for signed activations (the standardised input, LeakyReLU outputs): every term of the
//! z⁺ numerator has the sign of its denominator, so each ratio lies in `[0, 1]`; the γ term adds
//! only same-signed mass, so `|d_j| ≥ |z_j|` and `|c_ij / d_j| ≤ (1 + γ)/γ`. Their stabiliser
//! [`STABILISER`] therefore only guards the all-zero `0 / 0` case.
//!
//! **Transformer** (needs an autodiff backend): the model's LRP-mode forward
//! ([`crate::nn::ForwardMode`]) makes LayerNorm's scale and GELU's gate constants (identity
//! rule) and then takes gradient × input of that network:
//! - `CpLrp`: the softmax attention weights are constants too, so all relevance flows through
//!   the value path (Ali et al. 2022). The linearised network is then affine in the input and in
//!   every additive constant, so Σ R + (biases, CLS tokens, positional codes, LayerNorm shifts)
//!   = logit exactly.
//! - `AttnLrp` (Achtibat et al. 2024), to this extent: the bilinear products `q·kᵀ` and
//!   `softmax·V` use the uniform rule (half of the relevance to each factor), and relevance is
//!   propagated through the softmax by its linearisation `R_in = s_in ⊙ (R − p ⊙ Σ R)`
//!   (gradient × input of the softmax), so it reaches the input also through queries and keys.
//!   What differs from the paper: linear layers use LRP-0 (the paper's ε is for numerical
//!   safety in deep LLMs), and the softmax's bias-like term is absorbed, not redistributed, so
//!   AttnLRP is not exactly conservative.
//!
//! A rule a network does not support is an [`super::ExplainError::UnsupportedRule`].

use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

use crate::nn::transformer::ForwardMode;
use crate::nn::{MarkerClassification, MlpActivation, MultiMlp};

/// A relevance rule for a whole network (module docs: formula and domain of each).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LrpRule {
    /// The network's recommended rule: [`LrpRule::MLP_RECOMMENDED`] for the MLPs, CP-LRP for the
    /// transformer.
    Recommended,
    /// Textbook LRP-ε on every linear layer, `z + ε·sign(z)` (ε = 0 is LRP-0); activations pass
    /// relevance unchanged. Any sign of input and activations. ε = 0.25 is the original's ε.
    Epsilon(f64),
    /// The original's explanation exactly: `LrpEpsilonRule(epsilon = 0.25)` of rodrigobdz/lrp on
    /// every `Linear` *and* activation layer, as `attention_viewer.py` of
    /// DerZieger/Unified-Gait-Analysis applies it. Verified in those sources: the rule wraps a
    /// layer as `z·(out / stabilize(z)).detach()` with `z = ε + layer(x)` (weights and bias
    /// unchanged since γ = 0) and `stabilize(v) = v + 1e-6·(sign v, or 1 where v = 0)`; relevance
    /// is input × gradient of the logit. For a linear layer that is
    /// `R_i = a_i Σ_j w_ij R_j / stabilize(z_j + ε)` (no `sign(z)`); for a ReLU or LeakyReLU
    /// with input `u` and output `a` (`u·act'(u) = a`) it is `R_u = R_a · a / stabilize(a + ε)`,
    /// which absorbs relevance at every activation. Flatten layers are not rules. Any sign; the
    /// denominators can be small near `z = −ε`.
    EpsilonOriginal(f64),
    /// z⁺ on products, `(a w)^σ`, on every linear layer; bias ignored (conservative).
    ZPlus,
    /// Sign-aware γ on every linear layer (module docs).
    Gamma(f64),
    /// z^B on the input layer (box: [`Z_B_HALF_WIDTH_STANDARDISED`] or
    /// [`Z_B_HALF_WIDTH_ALIGNED`], widened to contain the input; relative to a reference the box
    /// spans input and reference), LRP-ε (0.25) above.
    Bounded,
    /// LRP-CMP: z^B input layer, γ = 0.25 on the other pose-feature layers, ε = 0.25 on the
    /// classifier layers and the output layer (Montavon et al. 2019, Kohlbrenner et al. 2020).
    Composite,
    /// CP-LRP (transformer only).
    CpLrp,
    /// AttnLRP (transformer only; module docs for what is implemented).
    AttnLrp,
}

impl Default for LrpRule {
    /// [`LrpRule::Recommended`].
    fn default() -> Self {
        Self::Recommended
    }
}

/// The layer rules of one MLP layer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LayerRule {
    /// `c = a w`, `d = z + ε·sign z`.
    Epsilon(f64),
    /// `c = a w`, `d = stabilize(z + ε)` (the `lrp` package's linear layer).
    EpsilonOriginal(f64),
    /// `c = (a w)^σ`, `d = Σ c`.
    ZPlus,
    /// `c = a w + γ (a w)^σ`, `d = z + γ (Σ (a w)^σ + b^σ)`.
    Gamma(f64),
    /// z^B with the box `[−h, h]` widened to contain the input (or, relative to a reference,
    /// the box spanned by input and reference).
    Bounded(f64),
}

impl LrpRule {
    /// The MLP rule [`LrpRule::Recommended`] stands for: ε = 0.25 (the original's rule). Measured
    /// against LRP-CMP on the synthetic cohort: see README, "LRP rules".
    pub const MLP_RECOMMENDED: LrpRule = LrpRule::Epsilon(0.25);

    /// The name the command line uses.
    pub fn name(self) -> &'static str {
        match self {
            Self::Recommended => "recommended",
            Self::Epsilon(_) => "eps",
            Self::EpsilonOriginal(_) => "eps-original",
            Self::ZPlus => "zplus",
            Self::Gamma(_) => "gamma",
            Self::Bounded => "zb",
            Self::Composite => "composite",
            Self::CpLrp => "cp-lrp",
            Self::AttnLrp => "attn-lrp",
        }
    }

    /// Whether the rule applies to the transformer (else to the MLPs; `Recommended` to both).
    pub fn for_transformer(self) -> bool {
        matches!(self, Self::Recommended | Self::CpLrp | Self::AttnLrp)
    }

    /// Whether the rule applies to the MLPs.
    pub fn for_mlp(self) -> bool {
        !matches!(self, Self::CpLrp | Self::AttnLrp)
    }

    /// The rule of MLP layer `index` (of `layers`, of which `pfe` are pose-feature layers) with
    /// `box_half_width` for z^B; `None` for transformer-only rules.
    pub fn layer_rule(self, index: usize, pfe: usize, box_half_width: f64) -> Option<LayerRule> {
        Some(match self {
            Self::Recommended => {
                return Self::MLP_RECOMMENDED.layer_rule(index, pfe, box_half_width);
            }
            Self::Epsilon(e) => LayerRule::Epsilon(e),
            Self::EpsilonOriginal(e) => LayerRule::EpsilonOriginal(e),
            Self::ZPlus => LayerRule::ZPlus,
            Self::Gamma(g) => LayerRule::Gamma(g),
            Self::Bounded | Self::Composite if index == 0 => LayerRule::Bounded(box_half_width),
            Self::Composite if index < pfe => LayerRule::Gamma(0.25),
            Self::Bounded | Self::Composite => LayerRule::Epsilon(0.25),
            Self::CpLrp | Self::AttnLrp => return None,
        })
    }
}

/// Half-width of the z^B box for a standardised input: ± 4 training standard deviations of the
/// coordinate's axis (or of the coordinate) about its training mean.
pub const Z_B_HALF_WIDTH_STANDARDISED: f64 = 4.0;
/// Half-width of the z^B box for an unstandardised input: ± 2 in aligned units (metres, or the
/// original's min/max-normalised axes, both of order 1 for a body).
pub const Z_B_HALF_WIDTH_ALIGNED: f64 = 2.0;
/// Stabiliser of the z⁺, γ and z^B denominators (only the all-zero `0 / 0` case reaches it).
pub const STABILISER: f64 = 1e-6;
/// The `lrp` package's `stabilize` constant.
const PACKAGE_STABILISER: f64 = 1e-6;

fn sign_nonzero<B: Backend, const D: usize>(z: Tensor<B, D>) -> Tensor<B, D> {
    z.greater_equal_elem(0.0)
        .float()
        .mul_scalar(2.0)
        .sub_scalar(1.0)
}

/// The `lrp` package's `stabilize(v) = v + 1e-6·(sign v, or 1 where v = 0)`.
fn package_stabilize<B: Backend, const D: usize>(v: Tensor<B, D>) -> Tensor<B, D> {
    v.clone() + sign_nonzero(v).mul_scalar(PACKAGE_STABILISER)
}

/// Relevance of one layer's inputs and what the layer absorbed.
#[derive(Debug, Clone)]
pub struct LayerRelevance<B: Backend> {
    /// Relevance of the inputs `[rows, in]`.
    pub input: Tensor<B, 2>,
    /// Relevance absorbed per output `[rows, out]` (bias, stabiliser, reference share).
    pub absorbed: Tensor<B, 2>,
}

/// Relevance of the inputs `a` `[n, in]` of `layer` given the relevance `r` `[n, out]` of its
/// outputs.
pub fn linear_backward<B: Backend>(
    layer: &Linear<B>,
    a: Tensor<B, 2>,
    r: Tensor<B, 2>,
    rule: LayerRule,
) -> Tensor<B, 2> {
    linear_rule(layer, a, None, r, rule).input
}

/// [`linear_backward`] for the deviation `d = a − reference` (same shape): the contributions
/// are those of `d` while the sign branch and the ε / γ denominators keep the layer's true
/// pre-activation, so the reference's share `reference · w` is absorbed like the bias and the
/// relevance vanishes at the reference. Without a reference this is plain LRP.
pub fn linear_backward_relative<B: Backend>(
    layer: &Linear<B>,
    a: Tensor<B, 2>,
    reference: Option<Tensor<B, 2>>,
    r: Tensor<B, 2>,
    rule: LayerRule,
) -> Tensor<B, 2> {
    linear_rule(layer, a, reference, r, rule).input
}

/// One term `u_i · M_ij` of the contributions, with `M` chosen per output by the sign of `z_j`.
struct Term<B: Backend> {
    u: Tensor<B, 2>,
    pos: Tensor<B, 2>,
    neg: Tensor<B, 2>,
}

/// [`linear_backward_relative`] with the absorbed relevance.
pub fn linear_rule<B: Backend>(
    layer: &Linear<B>,
    a: Tensor<B, 2>,
    reference: Option<Tensor<B, 2>>,
    r: Tensor<B, 2>,
    rule: LayerRule,
) -> LayerRelevance<B> {
    let w = layer.weight.val();
    let bias = layer.bias.as_ref().map(|b| b.val().unsqueeze::<2>());
    let mut z = a.clone().matmul(w.clone());
    if let Some(b) = &bias {
        z = z + b.clone();
    }
    let d = match &reference {
        Some(reference) => a.clone() - reference.clone(),
        None => a.clone(),
    };
    let up = z.clone().greater_equal_elem(0.0).float();
    let (wp, wn) = (w.clone().clamp_min(0.0), w.clone().clamp_max(0.0));
    let (dp, dn) = (d.clone().clamp_min(0.0), d.clone().clamp_max(0.0));
    let same = |u: Tensor<B, 2>, m: Tensor<B, 2>| Term {
        u,
        pos: m.clone(),
        neg: m,
    };
    let terms = match rule {
        LayerRule::Epsilon(_) | LayerRule::EpsilonOriginal(_) => vec![same(d.clone(), w.clone())],
        LayerRule::ZPlus => vec![
            Term {
                u: dp,
                pos: wp.clone(),
                neg: wn.clone(),
            },
            Term {
                u: dn,
                pos: wn,
                neg: wp,
            },
        ],
        LayerRule::Gamma(g) => {
            let (gp, gn) = (w.clone() + wp.mul_scalar(g), w.clone() + wn.mul_scalar(g));
            vec![
                Term {
                    u: dp,
                    pos: gp.clone(),
                    neg: gn.clone(),
                },
                Term {
                    u: dn,
                    pos: gn,
                    neg: gp,
                },
            ]
        }
        LayerRule::Bounded(h) => {
            let (low, high) = match &reference {
                Some(reference) => (
                    a.clone().min_pair(reference.clone()),
                    a.clone().max_pair(reference.clone()),
                ),
                None => (a.clone().clamp_max(-h), a.clone().clamp_min(h)),
            };
            vec![same(a.clone() - low, wp), same(a.clone() - high, wn)]
        }
    };
    let mut sum_c = z.zeros_like();
    for t in &terms {
        let mp = t.u.clone().matmul(t.pos.clone());
        let mn = t.u.clone().matmul(t.neg.clone());
        sum_c = sum_c + mp.clone() * up.clone() + mn * (up.clone().neg().add_scalar(1.0));
    }
    let denom = match rule {
        LayerRule::Epsilon(eps) => z.clone() + sign_nonzero(z.clone()).mul_scalar(eps),
        LayerRule::EpsilonOriginal(eps) => package_stabilize(z.clone().add_scalar(eps)),
        LayerRule::ZPlus | LayerRule::Bounded(_) => {
            sum_c.clone() + sign_nonzero(sum_c.clone()).mul_scalar(STABILISER)
        }
        LayerRule::Gamma(g) => {
            // z + γ (Σ_i (d w)^σ + b^σ): the γ part is sum_c − d·w.
            let dw = d.matmul(w.clone());
            let mut extra = sum_c.clone() - dw;
            if let Some(b) = &bias {
                let bp = b.clone().clamp_min(0.0) * up.clone();
                let bn = b.clone().clamp_max(0.0) * up.clone().neg().add_scalar(1.0);
                extra = extra + (bp + bn).mul_scalar(g);
            }
            let den = z.clone() + extra;
            den.clone() + sign_nonzero(den).mul_scalar(STABILISER)
        }
    };
    let s = r / denom.clone();
    let absorbed = (denom - sum_c) * s.clone();
    let s_pos = s.clone() * up.clone();
    let s_neg = s * up.neg().add_scalar(1.0);
    let mut input: Option<Tensor<B, 2>> = None;
    for t in terms {
        let back =
            s_pos.clone().matmul(t.pos.transpose()) + s_neg.clone().matmul(t.neg.transpose());
        let part = t.u * back;
        input = Some(match input {
            Some(i) => i + part,
            None => part,
        });
    }
    LayerRelevance {
        input: input.unwrap_or_else(|| a.zeros_like()),
        absorbed,
    }
}

/// The `lrp` package's ε rule on a ReLU / LeakyReLU with output `a`: `R_u = R_a · a /
/// stabilize(a + ε)`; returns (`R_u`, absorbed `R_a − R_u`).
fn activation_epsilon_original<B: Backend>(
    a: Tensor<B, 2>,
    r: Tensor<B, 2>,
    eps: f64,
) -> (Tensor<B, 2>, Tensor<B, 2>) {
    let denom = package_stabilize(a.clone().add_scalar(eps));
    let absorbed = r.clone() * (denom.clone() - a.clone()) / denom.clone();
    (r * (a / denom), absorbed)
}

/// An MLP explanation with its relevance bookkeeping.
#[derive(Debug, Clone)]
pub struct LrpTrace<B: Backend> {
    /// Relevance with the shape of the input `[batch, interval, joints, 3]`.
    pub relevance: Tensor<B, 4>,
    /// Logits `[batch, 1]`.
    pub logits: Tensor<B, 2>,
    /// Relevance absorbed per window `[batch]` by biases, stabilisers / ε and the reference:
    /// `Σ relevance + absorbed = logit` up to float rounding.
    pub absorbed: Tensor<B, 1>,
}

/// LRP of the per-frame MLP for `x` `[batch, interval, joints, 3]`: (relevance with the shape of
/// `x`, logits `[batch, 1]`). For a network with `pelvis_relative_x` the relevance is that of the
/// pelvis-relative coordinates the first layer sees (a joint's relevance is about its position
/// relative to the body, not about the walk's progression).
///
/// # Panics
/// For a transformer-only rule ([`LrpRule::CpLrp`], [`LrpRule::AttnLrp`]); [`lrp_mlp_trace`] and
/// [`super::explain`] return [`super::ExplainError::UnsupportedRule`] instead.
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
///
/// # Panics
/// As [`lrp_mlp`].
pub fn lrp_mlp_relative<B: Backend>(
    model: &MultiMlp<B>,
    x: Tensor<B, 4>,
    reference: Option<Tensor<B, 4>>,
    rule: LrpRule,
) -> (Tensor<B, 4>, Tensor<B, 2>) {
    match lrp_mlp_trace(model, x, reference, rule) {
        Ok(t) => (t.relevance, t.logits),
        Err(e) => panic!("{e}"),
    }
}

/// Sums `[rows, k]` per window: `[batch]`.
fn per_window<B: Backend>(t: Tensor<B, 2>, batch: usize) -> Tensor<B, 1> {
    let rows = t.dims()[0];
    t.sum_dim(1)
        .reshape([batch, rows / batch])
        .sum_dim(1)
        .reshape([batch])
}

/// [`lrp_mlp_relative`] with the absorbed relevance; a transformer-only rule is an error.
pub fn lrp_mlp_trace<B: Backend>(
    model: &MultiMlp<B>,
    x: Tensor<B, 4>,
    reference: Option<Tensor<B, 4>>,
    rule: LrpRule,
) -> Result<LrpTrace<B>, super::ExplainError> {
    let half_width = if model.standardization.is_some() {
        Z_B_HALF_WIDTH_STANDARDISED
    } else {
        Z_B_HALF_WIDTH_ALIGNED
    };
    let layers = model.layers();
    let rules: Vec<LayerRule> = (0..layers.len())
        .map(|k| rule.layer_rule(k, model.pfe.len(), half_width))
        .collect::<Option<_>>()
        .ok_or(super::ExplainError::UnsupportedRule {
            rule: rule.name(),
            network: "MLP",
            supported: super::MLP_RULES,
        })?;
    let [b, t, j, c] = x.dims();
    let mut h = model.prepare_input(x).reshape([b * t, j * c]);
    let mut reference = reference.map(|r| model.prepare_input(r).reshape([b * t, j * c]));
    let mut inputs = Vec::with_capacity(layers.len());
    let mut outputs = Vec::with_capacity(layers.len());
    for (layer, act, flatten) in &layers {
        if *flatten {
            let w = h.dims()[1];
            h = h.reshape([b, t * w]);
        }
        inputs.push(h.clone());
        h = act.apply(layer.forward(h));
        outputs.push(h.clone());
    }
    let logits = h;
    let mut r = logits.clone();
    let mut absorbed = logits.clone().zeros_like().reshape([b]);
    for (k, (layer, act, flatten)) in layers.iter().enumerate().rev() {
        if let (LayerRule::EpsilonOriginal(eps), MlpActivation::LeakyRelu | MlpActivation::Relu) =
            (rules[k], act)
        {
            let (ru, lost) = activation_epsilon_original(outputs[k].clone(), r, eps);
            absorbed = absorbed + per_window(lost, b);
            r = ru;
        }
        let first_reference = if k == 0 { reference.take() } else { None };
        let step = linear_rule(layer, inputs[k].clone(), first_reference, r, rules[k]);
        absorbed = absorbed + per_window(step.absorbed, b);
        r = step.input;
        if *flatten {
            let w = r.dims()[1] / t;
            r = r.reshape([b * t, w]);
        }
    }
    Ok(LrpTrace {
        relevance: r.reshape([b, t, j, c]),
        logits,
        absorbed,
    })
}

/// Input relevance `[batch, frames, joints, 3]` and logits `[batch, 1]` of a transformer
/// explanation, on the inner (non-autodiff) backend.
pub type RelevanceAndLogits<B> = (
    Tensor<<B as AutodiffBackend>::InnerBackend, 4>,
    Tensor<<B as AutodiffBackend>::InnerBackend, 2>,
);

/// CP-LRP of the transformer for `x` `[batch, interval, joints, 3]`: (relevance with the shape
/// of `x`, logits `[batch, 1]`), on the inner (non-autodiff) backend. As for [`lrp_mlp`], with
/// `pelvis_relative_x` it is the relevance of the pelvis-relative input.
pub fn lrp_transformer<B: AutodiffBackend>(
    model: &MarkerClassification<B>,
    x: Tensor<B, 4>,
) -> RelevanceAndLogits<B> {
    lrp_transformer_relative(model, x, None)
}

/// [`lrp_transformer`] of the deviation of `x` from `reference`: gradient × (prepared input −
/// prepared reference).
pub fn lrp_transformer_relative<B: AutodiffBackend>(
    model: &MarkerClassification<B>,
    x: Tensor<B, 4>,
    reference: Option<Tensor<B, 4>>,
) -> RelevanceAndLogits<B> {
    transformer_gradient_x_input(model, x, reference, ForwardMode::Lrp)
}

/// [`lrp_transformer_relative`] with `rule` ([`LrpRule::CpLrp`], [`LrpRule::AttnLrp`] or
/// [`LrpRule::Recommended`] = CP-LRP); any other rule is an
/// [`super::ExplainError::UnsupportedRule`].
pub fn lrp_transformer_rule<B: AutodiffBackend>(
    model: &MarkerClassification<B>,
    x: Tensor<B, 4>,
    reference: Option<Tensor<B, 4>>,
    rule: LrpRule,
) -> Result<RelevanceAndLogits<B>, super::ExplainError> {
    let mode = match rule {
        LrpRule::Recommended | LrpRule::CpLrp => ForwardMode::Lrp,
        LrpRule::AttnLrp => ForwardMode::AttnLrp,
        other => {
            return Err(super::ExplainError::UnsupportedRule {
                rule: other.name(),
                network: "transformer",
                supported: super::TRANSFORMER_RULES,
            });
        }
    };
    Ok(transformer_gradient_x_input(model, x, reference, mode))
}

/// Gradient × (prepared input − prepared reference) of the forward in `mode`.
pub(crate) fn transformer_gradient_x_input<B: AutodiffBackend>(
    model: &MarkerClassification<B>,
    x: Tensor<B, 4>,
    reference: Option<Tensor<B, 4>>,
    mode: ForwardMode,
) -> RelevanceAndLogits<B> {
    let x = model.prepare_input(x.detach()).require_grad();
    let (logits, _) = model.forward_prepared_mode(x.clone(), mode);
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
            LayerRule::Epsilon(0.5),
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
            LayerRule::ZPlus,
        ));
        assert!(
            (out[0] - 1.5).abs() < 1e-6 && out[1].abs() < 1e-6,
            "{out:?}"
        );
        // γ = 1, z = 1.5 ≥ 0: c = a w + (a w)⁺ = [6, −2], d = z + γ(Σ (a w)⁺ + b⁺) = 1.5 + 3.5
        // = 5 → R = [1.8, −0.6], the bias absorbs (5 − 4)·1.5/5 = 0.3.
        let out = linear_rule(&layer, a.clone(), None, r.clone(), LayerRule::Gamma(1.0));
        let (inp, abs) = (vals(out.input), vals(out.absorbed));
        assert!(
            (inp[0] - 1.8).abs() < 1e-6
                && (inp[1] + 0.6).abs() < 1e-6
                && (abs[0] - 0.3).abs() < 1e-6,
            "{inp:?} {abs:?}"
        );
        // The package's ε = 0.25: d = stabilize(1.75) = 1.750001, no sign(z).
        let out = vals(linear_backward(
            &layer,
            a,
            r,
            LayerRule::EpsilonOriginal(0.25),
        ));
        let d = 1.75 + 1e-6;
        assert!(
            (out[0] - (3.0 * 1.5 / d) as f32).abs() < 1e-6
                && (out[1] - (-2.0 * 1.5 / d) as f32).abs() < 1e-6,
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

    /// A small MLP with random (non-zero) biases.
    fn biased_mlp<Bk: Backend>(device: &Bk::Device, pelvis: bool) -> MultiMlp<Bk> {
        let mut m = MultiMlpConfig::new()
            .with_interval(3)
            .with_pfe_layers(vec![6, 5])
            .with_fc_layers(vec![7, 4])
            .with_pelvis_relative_x(pelvis)
            .init::<Bk>(device);
        let randomise = |l: &mut Linear<Bk>| {
            let n = l.weight.val().dims()[1];
            l.bias = Some(burn::module::Param::from_tensor(Tensor::random(
                [n],
                Distribution::Normal(0.0, 0.5),
                device,
            )));
        };
        m.pfe.iter_mut().for_each(randomise);
        m.fc.iter_mut().for_each(randomise);
        randomise(&mut m.last);
        m
    }

    const MLP_RULES: [LrpRule; 9] = [
        LrpRule::Recommended,
        LrpRule::Epsilon(0.0),
        LrpRule::Epsilon(0.25),
        LrpRule::EpsilonOriginal(0.25),
        LrpRule::ZPlus,
        LrpRule::Gamma(0.25),
        LrpRule::Gamma(2.0),
        LrpRule::Bounded,
        LrpRule::Composite,
    ];

    /// Conservation, every MLP rule, plain and relative to a reference: Σ R + absorbed (biases,
    /// ε / stabilisers, the activations' ε of the original's rule, the reference's share) =
    /// logit within 1e-4 of max(1, |logit|, Σ |R|) (f32 rounding). z⁺ and z^B ignore biases, so on
    /// a bias-free network they absorb nothing (same tolerance).
    #[test]
    fn every_mlp_rule_conserves_relevance_up_to_what_it_absorbs() {
        let _rng = crate::train::test_rng_lock();
        let device = Default::default();
        <B as Backend>::seed(&device, 17);
        let mlp = biased_mlp::<B>(&device, true);
        let bias_free = MultiMlpConfig::new()
            .with_interval(3)
            .with_pfe_layers(vec![6, 5])
            .with_fc_layers(vec![7, 4])
            .with_bias(false)
            .init::<B>(&device);
        let x = Tensor::<B, 4>::random([3, 3, 22, 3], Distribution::Normal(0.0, 2.0), &device);
        let reference =
            Tensor::<B, 4>::random([3, 3, 22, 3], Distribution::Normal(0.0, 1.0), &device);
        for rule in MLP_RULES {
            for (net, name) in [(&mlp, "biased"), (&bias_free, "bias-free")] {
                for reference in [None, Some(reference.clone())] {
                    let relative = reference.is_some();
                    let t = lrp_mlp_trace(net, x.clone(), reference, rule).unwrap();
                    let r = t.relevance.clone();
                    assert!(vals(r.clone()).iter().all(|v| v.is_finite()), "{rule:?}");
                    let sums = vals(r.clone().sum_dim(3).sum_dim(2).sum_dim(1));
                    let mags = vals(r.abs().sum_dim(3).sum_dim(2).sum_dim(1));
                    let (logits, absorbed) = (vals(t.logits), vals(t.absorbed));
                    for w in 0..3 {
                        let scale = 1f32.max(logits[w].abs()).max(mags[w]);
                        let gap = (sums[w] + absorbed[w] - logits[w]).abs();
                        assert!(
                            gap <= 1e-4 * scale,
                            "{rule:?} {name} relative {relative}: Σ R {} + absorbed {} vs logit {}",
                            sums[w],
                            absorbed[w],
                            logits[w]
                        );
                        if name == "bias-free" && !relative && rule == LrpRule::ZPlus {
                            assert!(
                                absorbed[w].abs() <= 1e-4 * scale,
                                "{rule:?}: {}",
                                absorbed[w]
                            );
                        }
                    }
                }
            }
        }
    }

    /// z^B, z⁺ and γ on signed, large, exactly-zero and out-of-box inputs: finite relevance.
    #[test]
    fn bounded_and_gamma_rules_are_finite_on_signed_inputs() {
        let _rng = crate::train::test_rng_lock();
        let device = Default::default();
        <B as Backend>::seed(&device, 23);
        let mlp = biased_mlp::<B>(&device, true);
        let x = Tensor::<B, 4>::random([2, 3, 22, 3], Distribution::Normal(0.0, 10.0), &device);
        let zeros = Tensor::<B, 4>::zeros([1, 3, 22, 3], &device);
        let x = Tensor::cat(vec![x, zeros], 0);
        for rule in [
            LrpRule::ZPlus,
            LrpRule::Gamma(0.25),
            LrpRule::Bounded,
            LrpRule::Composite,
        ] {
            let (r, _) = lrp_mlp(&mlp, x.clone(), rule);
            let v = vals(r);
            assert!(v.iter().all(|v| v.is_finite()), "{rule:?}");
            assert!(v.iter().any(|v| *v != 0.0), "{rule:?}");
        }
    }

    /// The original's rule re-derived with autodiff from the package's mechanism: every Linear
    /// and activation layer `f` becomes `z·(f(x) / stabilize(z)).detach()` with `z = ε + f(x)`;
    /// relevance is input × gradient of the logit.
    #[test]
    fn epsilon_original_matches_the_packages_mechanism() {
        let _rng = crate::train::test_rng_lock();
        type A = Autodiff<NdArray>;
        let device = Default::default();
        <A as Backend>::seed(&device, 29);
        let mlp = biased_mlp::<A>(&device, false);
        let x = Tensor::<A, 4>::random([2, 3, 22, 3], Distribution::Normal(0.0, 1.0), &device);
        let (r, _) = lrp_mlp(&mlp, x.clone(), LrpRule::EpsilonOriginal(0.25));
        let wrap = |out: Tensor<A, 2>| {
            let z = out.clone().add_scalar(0.25);
            let stab = z.clone() + sign_nonzero(z.clone()).mul_scalar(1e-6);
            z * (out / stab).detach()
        };
        let xg = x.clone().detach().require_grad();
        let [b, t, j, c] = x.dims();
        let mut h = xg.clone().reshape([b * t, j * c]);
        for (layer, act, flatten) in mlp.layers() {
            if flatten {
                let w = h.dims()[1];
                h = h.reshape([b, t * w]);
            }
            h = wrap(layer.forward(h));
            if act != MlpActivation::Identity {
                h = wrap(act.apply(h));
            }
        }
        let grads = h.sum().backward();
        let expected = vals(xg.clone().inner() * xg.grad(&grads).unwrap());
        let r = vals(r);
        let scale = expected.iter().fold(0f32, |m, v| m.max(v.abs()));
        for (p, q) in r.iter().zip(&expected) {
            assert!((p - q).abs() <= 1e-4 * scale.max(1e-6), "{p} vs {q}");
        }
    }

    /// Rules a network does not support are typed errors naming rule and network.
    #[test]
    fn unsupported_rule_network_pairs_are_typed_errors() {
        let _rng = crate::train::test_rng_lock();
        type A = Autodiff<NdArray>;
        let device = Default::default();
        let mlp = crate::nn::LoadedModel::Mlp(biased_mlp::<A>(&device, false));
        let tr = crate::nn::LoadedModel::Transformer(
            crate::nn::MarkerClassificationConfig::new()
                .with_pfe_dim(8)
                .with_fc_dim(8)
                .with_interval(3)
                .with_ff_dim(16)
                .init::<A>(&device),
        );
        let x = Tensor::<A, 4>::random([1, 3, 22, 3], Distribution::Normal(0.0, 1.0), &device);
        use super::super::{ExplainError, ExplainMethod, explain};
        for (net, rule, network) in [
            (&mlp, LrpRule::CpLrp, "MLP"),
            (&mlp, LrpRule::AttnLrp, "MLP"),
            (&tr, LrpRule::Epsilon(0.25), "transformer"),
            (&tr, LrpRule::Composite, "transformer"),
            (&tr, LrpRule::Bounded, "transformer"),
        ] {
            match explain(net, x.clone(), ExplainMethod::Lrp(rule)) {
                Err(e @ ExplainError::UnsupportedRule { .. }) => {
                    let msg = e.to_string();
                    assert!(msg.contains(rule.name()) && msg.contains(network), "{msg}");
                }
                other => panic!("{rule:?} on {network}: {other:?}"),
            }
        }
        for net in [&mlp, &tr] {
            assert!(explain(net, x.clone(), ExplainMethod::Lrp(LrpRule::Recommended)).is_ok());
        }
        assert!(explain(&tr, x.clone(), ExplainMethod::Lrp(LrpRule::AttnLrp)).is_ok());
    }

    fn transformer_with_everything<A: AutodiffBackend>(
        device: &A::Device,
        pooling: crate::nn::Pooling,
    ) -> MarkerClassification<A> {
        crate::nn::MarkerClassificationConfig::new()
            .with_pfe_dim(8)
            .with_fc_dim(8)
            .with_interval(3)
            .with_ff_dim(16)
            .with_dropout(0.0)
            .with_per_joint_embedding(true)
            .with_frame_token(true)
            .with_final_norm(true)
            .with_layers(2)
            .with_pooling(pooling)
            .with_pelvis_relative_x(true)
            .init::<A>(device)
    }

    /// CP-LRP conservation with every additive constant accounted: the linearised network is
    /// jointly linear in the input and its biases, CLS tokens, LayerNorm shifts and positional
    /// codes, so Σ input × gradient + Σ constant × gradient = Σ logits within 1e-4 relative.
    #[test]
    fn cp_lrp_conserves_relevance_with_biases_cls_and_positions() {
        let _rng = crate::train::test_rng_lock();
        type A = Autodiff<NdArray>;
        type G = <A as AutodiffBackend>::Gradients;
        use crate::nn::transformer::{ClsEncoder, EncoderLayer};
        use burn::module::Param;
        fn pg<const D: usize>(p: &Param<Tensor<A, D>>, g: &G) -> f32 {
            p.grad(g)
                .map(|gr| (p.val().inner() * gr).sum().into_scalar())
                .unwrap_or(0.0)
        }
        fn lin(l: &Linear<A>, g: &G) -> f32 {
            l.bias.as_ref().map(|b| pg(b, g)).unwrap_or(0.0)
        }
        fn layer(l: &EncoderLayer<A>, g: &G) -> f32 {
            let a = &l.attention;
            pg(&l.norm1.beta, g)
                + pg(&l.norm2.beta, g)
                + [&a.query, &a.key, &a.value, &a.output, &l.ff1, &l.ff2]
                    .iter()
                    .map(|x| lin(x, g))
                    .sum::<f32>()
        }
        fn encoder(e: &ClsEncoder<A>, g: &G) -> f32 {
            lin(&e.embedding, g)
                + e.per_token.as_ref().map(|p| pg(&p.bias, g)).unwrap_or(0.0)
                + pg(&e.cls, g)
                + e.from_all_tokens.as_ref().map(|l| lin(l, g)).unwrap_or(0.0)
                + layer(&e.layer, g)
                + e.extra_layers.iter().map(|l| layer(l, g)).sum::<f32>()
        }
        let device = Default::default();
        <A as Backend>::seed(&device, 31);
        for pooling in [crate::nn::Pooling::Cls, crate::nn::Pooling::Mean] {
            let m = transformer_with_everything::<A>(&device, pooling);
            let x = Tensor::<A, 4>::random([2, 3, 22, 3], Distribution::Normal(0.0, 1.0), &device);
            let xp = m.prepare_input(x.clone()).detach().require_grad();
            let [p1, p2] = m.positional_codes(&device).map(|p| p.require_grad());
            let (logits, _) = m.forward_prepared_positions(
                xp.clone(),
                ForwardMode::Lrp,
                Some([p1.clone(), p2.clone()]),
            );
            let total: f32 = logits.clone().inner().sum().into_scalar();
            let g = logits.sum().backward();
            let leaf = |t: &Tensor<A, 3>| {
                (t.clone().inner() * t.grad(&g).unwrap())
                    .sum()
                    .into_scalar()
            };
            let input: f32 = (xp.clone().inner() * xp.grad(&g).unwrap())
                .sum()
                .into_scalar();
            let absorbed = leaf(&p1)
                + leaf(&p2)
                + encoder(&m.feature_extractor, &g)
                + encoder(&m.feature_merger, &g)
                + m.frame_norm
                    .as_ref()
                    .map(|n| pg(&n.beta, &g))
                    .unwrap_or(0.0)
                + m.pooled_norm
                    .as_ref()
                    .map(|n| pg(&n.beta, &g))
                    .unwrap_or(0.0)
                + lin(&m.head1, &g)
                + lin(&m.head2, &g);
            let scale = 1f32.max(total.abs()).max(input.abs()).max(absorbed.abs());
            assert!(
                (input + absorbed - total).abs() <= 1e-4 * scale,
                "{pooling:?}: Σ R {input} + absorbed {absorbed} vs Σ logits {total}"
            );
            // The explanation's relevance is that input term.
            let (r, _) = lrp_transformer(&m, x);
            let rs: f32 = r.sum().into_scalar();
            assert!((rs - input).abs() <= 1e-4 * scale, "{rs} vs {input}");
        }
    }

    /// AttnLRP: same logits as the plain forward, finite relevance that differs from CP-LRP
    /// (relevance also flows through queries and keys); it vanishes at the reference.
    #[test]
    fn attn_lrp_runs_differs_from_cp_lrp_and_vanishes_at_the_reference() {
        let _rng = crate::train::test_rng_lock();
        type A = Autodiff<NdArray>;
        let device = Default::default();
        <A as Backend>::seed(&device, 37);
        let m = transformer_with_everything::<A>(&device, crate::nn::Pooling::Cls);
        let x = Tensor::<A, 4>::random([2, 3, 22, 3], Distribution::Normal(0.0, 1.0), &device);
        let (ra, la) = lrp_transformer_rule(&m, x.clone(), None, LrpRule::AttnLrp).unwrap();
        let (rc, lc) = lrp_transformer_rule(&m, x.clone(), None, LrpRule::CpLrp).unwrap();
        for (p, q) in vals(la.clone())
            .iter()
            .zip(vals(m.predict(x.clone()).inner()))
        {
            assert!((p - q).abs() < 1e-5, "{p} vs {q}");
        }
        for (p, q) in vals(la).iter().zip(vals(lc)) {
            assert!((p - q).abs() < 1e-5, "{p} vs {q}");
        }
        let (ra, rc) = (vals(ra), vals(rc));
        assert!(ra.iter().all(|v| v.is_finite()));
        let diff = ra
            .iter()
            .zip(&rc)
            .map(|(a, c)| (a - c).abs())
            .fold(0f32, f32::max);
        assert!(diff > 1e-6, "{diff}");
        let (r0, _) = lrp_transformer_rule(&m, x.clone(), Some(x), LrpRule::AttnLrp).unwrap();
        assert!(vals(r0).iter().all(|v| v.abs() < 1e-6));
    }
}
