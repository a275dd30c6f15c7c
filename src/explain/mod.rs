//! Explanations of the gait classifiers: LRP for the MLPs (ε, the original's ε, z⁺, γ, z^B and
//! the composite LRP-CMP), CP-LRP and AttnLRP through the transformer ([`lrp`] has each rule's
//! formula and domain) and the original's attention explanation (a whole walk:
//! [`crate::inference`]).
//!
//! Relevance is reported per frame × joint (summed over x, y, z) and kept signed; the display
//! normalisation of the original (÷ max |R|, then (R + 1) / 2) is a separate step.

pub mod angle_space;
pub mod attention;
pub mod colouring;
pub mod domain;
pub mod ground_truth;
pub mod lrp;
pub mod reference;

use burn::module::AutodiffModule;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use thiserror::Error;

use crate::nn::GaitClassifier;
use crate::nn::LoadedModel;

pub use attention::attention_relevance;
pub use ground_truth::{
    Aopc, Attribution, Fraction, GroupLocus, GroupScore, LocusScore, ScoredMethod, SpaceLocus,
    TruthError, TruthReport, TruthSet, evaluate_against_truth,
};
pub use lrp::{
    LayerRelevance, LayerRule, LrpRule, LrpTrace, linear_backward, linear_backward_relative,
    linear_rule, lrp_mlp, lrp_mlp_relative, lrp_mlp_trace, lrp_transformer,
    lrp_transformer_relative, lrp_transformer_rule,
};
pub use reference::{Baseline, NormativeError, NormativeGait, gait_phase};

/// How to explain a prediction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ExplainMethod {
    /// LRP with a rule; a rule the network does not support is an
    /// [`ExplainError::UnsupportedRule`] ([`LrpRule::Recommended`] suits both).
    Lrp(LrpRule),
    /// CLS attention of both levels (transformer only).
    Attention,
    /// Gradient × input (relative to the reference when one is given) of the inference
    /// forward, no LRP rule: the plain-gradient control the rules are compared with. Any network.
    GradientInput,
}

/// The rules the MLPs support (for error messages).
pub const MLP_RULES: &str = "recommended, eps, eps-original, zplus, gamma, zb, composite";
/// What the asymmetry network supports (for error messages).
pub const ASYMMETRY_RULES: &str = "recommended (gradient × input), grad-input";
/// The rules the transformer supports (for error messages).
pub const TRANSFORMER_RULES: &str = "recommended, cp-lrp, attn-lrp";

impl ExplainMethod {
    /// Whether the method applies to a network of `network_type` (a model card's:
    /// `transformer`, `multi_mlp`, `lrpmlp`, `asymmetry`).
    pub fn supported_by(self, network_type: &str) -> bool {
        let transformer = network_type == "transformer";
        match self {
            Self::Lrp(rule) if network_type == "asymmetry" => rule == LrpRule::Recommended,
            Self::Lrp(rule) if transformer => rule.for_transformer(),
            Self::Lrp(rule) => rule.for_mlp(),
            Self::Attention => transformer,
            Self::GradientInput => true,
        }
    }

    /// The method that actually computes the relevance for a network of `network_type`: the
    /// asymmetry network's recommended explanation is gradient × input (it has no layers to
    /// propagate relevance through); every other method is itself.
    pub fn resolved_for(self, network_type: &str) -> Self {
        match self {
            Self::Lrp(LrpRule::Recommended) if network_type == "asymmetry" => Self::GradientInput,
            other => other,
        }
    }
}

/// Errors of the explanation functions.
#[derive(Debug, Error)]
pub enum ExplainError {
    /// The method does not apply to the network.
    #[error("{method} explanations need a transformer; this network is {network}")]
    Unsupported {
        /// The method.
        method: &'static str,
        /// The network kind ("an MLP", "the asymmetry network").
        network: &'static str,
    },
    /// The LRP rule does not apply to the network.
    #[error("the LRP rule {rule} does not apply to the {network} network (its rules: {supported})")]
    UnsupportedRule {
        /// The rule's name.
        rule: &'static str,
        /// The network kind.
        network: &'static str,
        /// The rules the network supports.
        supported: &'static str,
    },
    /// The input does not fit the network.
    #[error("input windows are {found:?}, the network expects [_, {interval}, {joints}, 3]")]
    Shape {
        /// Shape given.
        found: [usize; 4],
        /// Frames per window expected.
        interval: usize,
        /// Joints expected.
        joints: usize,
    },
    /// Loading windows failed.
    #[error("loading windows failed: {source}")]
    Dataset {
        /// Underlying error.
        #[from]
        source: crate::dataset::DatasetError,
    },
    /// The sequence index does not exist.
    #[error("sequence {index} does not exist (dataset has {len})")]
    Sequence {
        /// Index asked for.
        index: usize,
        /// Number of sequences.
        len: usize,
    },
}

/// The explanation of one window.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    /// Frames.
    pub interval: usize,
    /// Joints per frame.
    pub joints: usize,
    /// The network's logit for the window.
    pub logit: f32,
    /// Signed relevance per frame × joint, row-major `[interval, joints]`.
    pub relevance: Vec<f32>,
    /// The same relevance per coordinate, `[interval, joints, 3]` (x, y, z of the aligned
    /// window), which [`angle_space`] carries to the joint rotations; empty for attention,
    /// which has no per-coordinate relevance.
    pub relevance_xyz: Vec<f32>,
}

impl Explanation {
    /// Relevance per joint summed over the frames.
    pub fn joint_totals(&self) -> Vec<f32> {
        let mut out = vec![0.0; self.joints];
        for (i, r) in self.relevance.iter().enumerate() {
            out[i % self.joints] += r;
        }
        out
    }

    /// The joint with the highest summed relevance.
    pub fn top_joint(&self) -> usize {
        let t = self.joint_totals();
        (0..t.len())
            .max_by(|&a, &b| t[a].total_cmp(&t[b]))
            .unwrap_or(0)
    }

    /// The original's display normalisation: `(R / max |R| + 1) / 2` in [0, 1] (0.5 = none).
    pub fn normalized(&self) -> Vec<f32> {
        normalize_for_display(&self.relevance)
    }
}

/// `(R / max |R| + 1) / 2` (all 0.5 when every value is 0).
pub fn normalize_for_display(r: &[f32]) -> Vec<f32> {
    let m = r.iter().fold(0f32, |m, v| m.max(v.abs()));
    if m == 0.0 {
        return vec![0.5; r.len()];
    }
    r.iter().map(|v| (v / m + 1.0) / 2.0).collect()
}

/// Per-window explanations from relevance `[batch, interval, joints]` (attention) and logits.
fn split<Bk: Backend>(rel: Tensor<Bk, 3>, logits: Tensor<Bk, 2>) -> Vec<Explanation> {
    let [b, t, j] = rel.dims();
    let r: Vec<f32> = rel.into_data().iter::<f32>().collect();
    let l: Vec<f32> = logits.into_data().iter::<f32>().collect();
    (0..b)
        .map(|i| Explanation {
            interval: t,
            joints: j,
            logit: l[i],
            relevance: r[i * t * j..(i + 1) * t * j].to_vec(),
            relevance_xyz: Vec::new(),
        })
        .collect()
}

/// Per-window explanations from per-coordinate relevance `[batch, interval, joints, 3]`.
fn split_xyz<Bk: Backend>(rel: Tensor<Bk, 4>, logits: Tensor<Bk, 2>) -> Vec<Explanation> {
    let [b, t, j, c] = rel.dims();
    let r: Vec<f32> = rel.into_data().iter::<f32>().collect();
    let l: Vec<f32> = logits.into_data().iter::<f32>().collect();
    let per = t * j * c;
    (0..b)
        .map(|i| {
            let xyz = r[i * per..(i + 1) * per].to_vec();
            Explanation {
                interval: t,
                joints: j,
                logit: l[i],
                relevance: xyz.chunks_exact(c).map(|p| p.iter().sum()).collect(),
                relevance_xyz: xyz,
            }
        })
        .collect()
}

/// Gradient of the logit × (input − reference) of a network's forward (for networks without
/// dropout, whose autodiff forward is the inference forward: the MLPs and the asymmetry network).
fn gradient_x_input<B: AutodiffBackend, M: crate::nn::GaitClassifier<B>>(
    model: &M,
    x: Tensor<B, 4>,
    reference: Option<Tensor<B, 4>>,
) -> (Tensor<B::InnerBackend, 4>, Tensor<B::InnerBackend, 2>) {
    let x = x.detach().require_grad();
    let logits = model.logits(x.clone());
    // Windows are independent, so the gradient of the sum is each window's own gradient.
    let grads = logits.clone().sum().backward();
    let xi = x.clone().inner();
    let g = x.grad(&grads).unwrap_or_else(|| xi.zeros_like());
    let delta = match reference {
        Some(r) => xi - r.inner(),
        None => xi,
    };
    (delta * g, logits.inner())
}

/// Explains every window of `x` `[batch, interval, joints, 3]` with `method`.
pub fn explain<B: AutodiffBackend>(
    model: &LoadedModel<B>,
    x: Tensor<B, 4>,
    method: ExplainMethod,
) -> Result<Vec<Explanation>, ExplainError> {
    explain_relative(model, x, None, method)
}

/// [`explain`] relative to a reference input of the same shape (see [`NormativeGait`]): LRP then
/// attributes the deviation of each window from its reference. Attention ignores the reference.
pub fn explain_relative<B: AutodiffBackend>(
    model: &LoadedModel<B>,
    x: Tensor<B, 4>,
    reference: Option<Tensor<B, 4>>,
    method: ExplainMethod,
) -> Result<Vec<Explanation>, ExplainError> {
    let dims = x.dims();
    if dims[1] != model.interval() || dims[2] != model.joints() || dims[3] != 3 {
        return Err(ExplainError::Shape {
            found: dims,
            interval: model.interval(),
            joints: model.joints(),
        });
    }
    if let Some(r) = &reference
        && r.dims() != dims
    {
        return Err(ExplainError::Shape {
            found: r.dims(),
            interval: model.interval(),
            joints: model.joints(),
        });
    }
    Ok(match (model, method) {
        (LoadedModel::Mlp(m), ExplainMethod::Lrp(rule)) => {
            let t = lrp_mlp_trace(m, x.detach(), reference.map(|r| r.detach()), rule)?;
            split_xyz(t.relevance, t.logits)
        }
        (LoadedModel::Mlp(m), ExplainMethod::GradientInput) => {
            let (r, l) = gradient_x_input(m, x, reference);
            split_xyz(r, l)
        }
        // The asymmetry network has no layers to propagate relevance through (its features are
        // a fixed differentiable map), so its recommended explanation is gradient × input.
        (
            LoadedModel::Asymmetry(m),
            ExplainMethod::GradientInput | ExplainMethod::Lrp(LrpRule::Recommended),
        ) => {
            let (r, l) = gradient_x_input(m, x, reference);
            split_xyz(r, l)
        }
        (LoadedModel::Asymmetry(_), ExplainMethod::Lrp(rule)) => {
            return Err(ExplainError::UnsupportedRule {
                rule: rule.name(),
                network: "asymmetry",
                supported: ASYMMETRY_RULES,
            });
        }
        (LoadedModel::Asymmetry(_), ExplainMethod::Attention) => {
            return Err(ExplainError::Unsupported {
                method: "attention",
                network: "the asymmetry network",
            });
        }
        (LoadedModel::Transformer(m), ExplainMethod::GradientInput) => {
            let (r, l) = lrp::transformer_gradient_x_input(
                m,
                x,
                reference,
                crate::nn::transformer::ForwardMode::Eval,
            );
            split_xyz(r, l)
        }
        (LoadedModel::Mlp(_), ExplainMethod::Attention) => {
            return Err(ExplainError::Unsupported {
                method: "attention",
                network: "an MLP",
            });
        }
        (LoadedModel::Transformer(m), ExplainMethod::Lrp(rule)) => {
            let (r, l) = lrp_transformer_rule(m, x, reference, rule)?;
            split_xyz(r, l)
        }
        (LoadedModel::Transformer(m), ExplainMethod::Attention) => {
            // Inference on the inner backend: no autodiff graph and no dropout.
            let (l, maps) = m.valid().forward_detailed(x.inner(), false);
            split(attention_relevance(&maps), l)
        }
    })
}

/// Frame rates a model card or a pose folder may state, in Hz.
pub const RATE_RANGE_HZ: std::ops::RangeInclusive<f64> = 1.0..=10_000.0;

/// Checks a stated frame rate: finite and within [`RATE_RANGE_HZ`]. The error says what is
/// wrong and the valid range; the caller adds the file.
pub fn check_rate_hz(rate_hz: f64) -> Result<f64, String> {
    if RATE_RANGE_HZ.contains(&rate_hz) {
        Ok(rate_hz)
    } else {
        // Plain decimals for ordinary magnitudes, scientific notation for the rest (1e300
        // would otherwise print 301 digits).
        let shown = if (1e-3..1e7).contains(&rate_hz.abs()) {
            format!("{rate_hz}")
        } else {
            format!("{rate_hz:e}")
        };
        Err(format!(
            "rate_hz {shown} is out of range (a finite frame rate from {} to {} Hz)",
            RATE_RANGE_HZ.start(),
            RATE_RANGE_HZ.end()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_asymmetry_networks_recommended_method_is_gradient_x_input_and_its_only_rule() {
        let rec = ExplainMethod::Lrp(LrpRule::Recommended);
        assert_eq!(rec.resolved_for("asymmetry"), ExplainMethod::GradientInput);
        for other in ["lrpmlp", "multi_mlp", "transformer"] {
            assert_eq!(rec.resolved_for(other), rec);
            assert!(rec.supported_by(other));
        }
        assert!(rec.supported_by("asymmetry"));
        assert!(!ExplainMethod::Lrp(LrpRule::Epsilon(0.25)).supported_by("asymmetry"));
        assert!(!ExplainMethod::Attention.supported_by("asymmetry"));
        assert!(ExplainMethod::Attention.supported_by("transformer"));
    }

    #[test]
    fn rates_outside_one_to_ten_thousand_hz_are_rejected() {
        for ok in [1.0, 50.0, 100.0, 10_000.0] {
            assert_eq!(check_rate_hz(ok), Ok(ok));
        }
        for (bad, shown) in [
            (1e-300, "1e-300"),
            (1e300, "1e300"),
            (1e308, "1e308"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "inf"),
            (0.5, "0.5"),
            (-50.0, "-50"),
            (10_000.5, "10000.5"),
        ] {
            let e = check_rate_hz(bad).unwrap_err();
            assert!(e.contains(&format!("rate_hz {shown} ")), "{e}");
            assert!(e.contains("from 1 to 10000 Hz"), "{e}");
        }
    }

    #[test]
    fn display_normalisation_and_joint_totals() {
        let e = Explanation {
            interval: 2,
            joints: 3,
            logit: 1.0,
            relevance: vec![1.0, -2.0, 0.5, 1.0, 4.0, 0.0],
            relevance_xyz: Vec::new(),
        };
        assert_eq!(e.joint_totals(), vec![2.0, 2.0, 0.5]);
        let n = e.normalized();
        assert_eq!(n, vec![0.625, 0.25, 0.5625, 0.625, 1.0, 0.5]);
        assert_eq!(normalize_for_display(&[0.0, 0.0]), vec![0.5, 0.5]);
        let e2 = Explanation {
            relevance: vec![0.0, -1.0, 0.5, 0.0, -1.0, 0.25],
            ..e
        };
        assert_eq!(e2.top_joint(), 2);
    }
}
