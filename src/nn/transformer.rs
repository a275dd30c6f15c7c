//! The two-level marker transformer (the original's `MarkerClassification`): a per-frame
//! transformer over the joints produces one feature per frame (its CLS token), a second
//! transformer over the frames merges them (its own CLS token), and an MLP head gives one logit.
//!
//! Attention is written out here (not burn's `MultiHeadAttention`) so that the attention weights
//! are available for explanations, and so that a forward pass in *LRP mode* can treat softmax
//! attention weights, the LayerNorm scale and the GELU gate as constants (CP-LRP / AttnLRP): in
//! that mode gradient × input of the network is the layer-wise relevance of the linearised
//! network. The LRP-mode forward returns exactly the same values as the normal one.
//!
//! Dropout applies only to the training forward ([`ForwardMode::Train`], what
//! [`GaitClassifier::logits`] runs, and only on an autodiff backend, as burn's `Dropout`):
//! [`MarkerClassification::forward_detailed`], [`MarkerClassification::attention_maps`] and
//! [`MarkerClassification::predict`] are inference passes and give the same output for the same
//! input on every backend, so explanations, tracks and attention maps are reproducible even when
//! they run on the autodiff backend that LRP needs.

use burn::module::Param;
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::activation::{gelu, relu, softmax};

use super::GaitClassifier;
use super::posenc::sinusoidal;

/// How a forward pass of [`MarkerClassification`] treats dropout and the CP-LRP constants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardMode {
    /// Training: dropout is active (on an autodiff backend; burn's `Dropout` is the identity on a
    /// plain backend).
    Train,
    /// Inference: dropout is the identity on every backend, so the same input always gives the
    /// same output.
    Eval,
    /// Inference in LRP mode (CP-LRP): as [`ForwardMode::Eval`], with the softmax attention
    /// weights, the LayerNorm scales and the GELU gates constants for autodiff (same forward
    /// values).
    Lrp,
    /// Inference in AttnLRP mode (Achtibat et al. 2024): LayerNorm scales and GELU gates are
    /// constants as in [`ForwardMode::Lrp`], the softmax is differentiated (its gradient × input
    /// is AttnLRP's softmax rule), and the two bilinear products `q·kᵀ` and `weights·V` split
    /// their gradient evenly between their factors (the uniform rule). Same forward values up
    /// to float rounding.
    AttnLrp,
}

impl ForwardMode {
    /// The inference mode: [`ForwardMode::Lrp`] with `lrp`, else [`ForwardMode::Eval`].
    pub fn inference(lrp: bool) -> Self {
        if lrp { Self::Lrp } else { Self::Eval }
    }

    /// Whether LayerNorm scales and GELU gates are autodiff constants (both LRP modes).
    pub fn lrp(self) -> bool {
        matches!(self, Self::Lrp | Self::AttnLrp)
    }
}

/// LayerNorm over the last dimension whose normalisation scale can be detached (LRP mode).
#[derive(Module, Debug)]
pub struct LayerNormLrp<B: Backend> {
    /// Scale.
    pub gamma: Param<Tensor<B, 1>>,
    /// Shift.
    pub beta: Param<Tensor<B, 1>>,
    /// Variance stabiliser (PyTorch's 1e-5).
    pub epsilon: f64,
}

impl<B: Backend> LayerNormLrp<B> {
    /// Unit scale, zero shift.
    pub fn new(dim: usize, device: &B::Device) -> Self {
        Self {
            gamma: Param::from_tensor(Tensor::ones([dim], device)),
            beta: Param::from_tensor(Tensor::zeros([dim], device)),
            epsilon: 1e-5,
        }
    }

    /// Normalises `x` over its last dimension; with `lrp` the standard deviation is a constant.
    pub fn forward<const D: usize>(&self, x: Tensor<B, D>, lrp: bool) -> Tensor<B, D> {
        let mean = x.clone().mean_dim(D - 1);
        let centred = x - mean;
        let var = (centred.clone() * centred.clone()).mean_dim(D - 1);
        let mut std = var.add_scalar(self.epsilon).sqrt();
        if lrp {
            std = std.detach();
        }
        (centred / std) * self.gamma.val().unsqueeze::<D>() + self.beta.val().unsqueeze::<D>()
    }
}

/// GELU; in LRP mode `x · Φ(x)` with the gate `Φ(x)` constant (the identity rule of AttnLRP).
pub fn gelu_lrp<B: Backend, const D: usize>(x: Tensor<B, D>, lrp: bool) -> Tensor<B, D> {
    if lrp {
        let gate = x
            .clone()
            .mul_scalar(std::f64::consts::FRAC_1_SQRT_2)
            .erf()
            .add_scalar(1.0)
            .mul_scalar(0.5)
            .detach();
        x * gate
    } else {
        gelu(x)
    }
}

/// Multi-head self-attention that also returns its weights (averaged over heads, as PyTorch's
/// `need_weights=True`).
#[derive(Module, Debug)]
pub struct SelfAttention<B: Backend> {
    /// Query projection.
    pub query: Linear<B>,
    /// Key projection.
    pub key: Linear<B>,
    /// Value projection.
    pub value: Linear<B>,
    /// Output projection.
    pub output: Linear<B>,
    /// Number of heads.
    pub heads: usize,
}

impl<B: Backend> SelfAttention<B> {
    /// Re-initialises the projections as [`AttentionInit::PyTorch`].
    pub fn pytorch_init(self, device: &B::Device) -> Self {
        let dim = self.query.weight.dims()[0];
        let bound = (6.0 / (4.0 * dim as f64)).sqrt();
        let zero_bias = |mut l: Linear<B>| {
            l.bias = l.bias.map(|b| Param::from_tensor(b.val().zeros_like()));
            l
        };
        let in_proj = || {
            zero_bias(
                LinearConfig::new(dim, dim)
                    .with_initializer(burn::nn::Initializer::Uniform {
                        min: -bound,
                        max: bound,
                    })
                    .init(device),
            )
        };
        Self {
            query: in_proj(),
            key: in_proj(),
            value: in_proj(),
            output: zero_bias(self.output),
            heads: self.heads,
        }
    }

    /// Projections `dim → dim`, `heads` heads (`dim` must be divisible by `heads`).
    pub fn new(dim: usize, heads: usize, device: &B::Device) -> Self {
        let lin = || LinearConfig::new(dim, dim).init(device);
        Self {
            query: lin(),
            key: lin(),
            value: lin(),
            output: lin(),
            heads,
        }
    }

    /// `x` `[n, s, d]` → (output `[n, s, d]`, head-averaged weights `[n, s, s]`, query × key).
    /// With `lrp` the softmax weights are autodiff constants (CP-LRP).
    pub fn forward(&self, x: Tensor<B, 3>, lrp: bool) -> (Tensor<B, 3>, Tensor<B, 3>) {
        self.forward_mode(x, ForwardMode::inference(lrp))
    }

    /// [`Self::forward`] in `mode` ([`ForwardMode::AttnLrp`]: uniform rule on both bilinear
    /// products, softmax differentiated).
    pub fn forward_mode(&self, x: Tensor<B, 3>, mode: ForwardMode) -> (Tensor<B, 3>, Tensor<B, 3>) {
        let [n, s, d] = x.dims();
        let h = self.heads;
        let dh = d / h;
        let split = |t: Tensor<B, 3>| {
            t.reshape([n, s, h, dh])
                .swap_dims(1, 2)
                .reshape([n * h, s, dh])
        };
        let q = split(self.query.forward(x.clone()));
        let k = split(self.key.forward(x.clone()));
        let v = split(self.value.forward(x));
        let attn_lrp = mode == ForwardMode::AttnLrp;
        let product = |a: Tensor<B, 3>, b: Tensor<B, 3>| {
            if attn_lrp {
                // Uniform rule: the same value (up to float rounding), half of the gradient to
                // each factor.
                a.clone().detach().matmul(b.clone()).mul_scalar(0.5)
                    + a.matmul(b.detach()).mul_scalar(0.5)
            } else {
                a.matmul(b)
            }
        };
        let scores = product(q, k.swap_dims(1, 2)).mul_scalar(1.0 / (dh as f64).sqrt());
        let mut weights = softmax(scores, 2);
        if mode == ForwardMode::Lrp {
            weights = weights.detach();
        }
        let context = product(weights.clone(), v)
            .reshape([n, h, s, dh])
            .swap_dims(1, 2)
            .reshape([n, s, d]);
        let avg = weights.reshape([n, h, s, s]).mean_dim(1).reshape([n, s, s]);
        (self.output.forward(context), avg)
    }
}

/// One pre-norm transformer encoder layer (PyTorch's `TransformerEncoderLayer`, `norm_first`,
/// GELU).
#[derive(Module, Debug)]
pub struct EncoderLayer<B: Backend> {
    /// Norm before attention.
    pub norm1: LayerNormLrp<B>,
    /// Self-attention.
    pub attention: SelfAttention<B>,
    /// Norm before the feed-forward block.
    pub norm2: LayerNormLrp<B>,
    /// Feed-forward expansion.
    pub ff1: Linear<B>,
    /// Feed-forward projection.
    pub ff2: Linear<B>,
    /// Dropout (training only).
    pub dropout: Dropout,
}

impl<B: Backend> EncoderLayer<B> {
    /// A layer of width `dim`, `heads` heads and feed-forward width `ff_dim`.
    pub fn new(dim: usize, heads: usize, ff_dim: usize, dropout: f64, device: &B::Device) -> Self {
        Self {
            norm1: LayerNormLrp::new(dim, device),
            attention: SelfAttention::new(dim, heads, device),
            norm2: LayerNormLrp::new(dim, device),
            ff1: LinearConfig::new(dim, ff_dim).init(device),
            ff2: LinearConfig::new(ff_dim, dim).init(device),
            dropout: DropoutConfig::new(dropout).init(),
        }
    }

    /// `x` `[n, s, d]` → (`[n, s, d]`, attention weights `[n, s, s]`). Dropout is active only in
    /// [`ForwardMode::Train`] on an autodiff backend.
    pub fn forward(&self, x: Tensor<B, 3>, mode: ForwardMode) -> (Tensor<B, 3>, Tensor<B, 3>) {
        let lrp = mode.lrp();
        let drop = |t: Tensor<B, 3>| match mode {
            ForwardMode::Train => self.dropout.forward(t),
            ForwardMode::Eval | ForwardMode::Lrp | ForwardMode::AttnLrp => t,
        };
        let (att, weights) = self
            .attention
            .forward_mode(self.norm1.forward(x.clone(), lrp), mode);
        let x = x + drop(att);
        let hidden = drop(gelu_lrp(
            self.ff1.forward(self.norm2.forward(x.clone(), lrp)),
            lrp,
        ));
        let x = x.clone() + drop(self.ff2.forward(hidden));
        (x, weights)
    }
}

/// A token-specific affine map `[tokens, input_dim] → [tokens, dim]`: every token position has
/// its own weights. Added to the shared embedding it lets the joint-level encoder tell joints
/// apart by their coordinates, not only through the additive positional code (see
/// [`MarkerClassificationConfig::per_joint_embedding`]). Zero at initialisation, so a fresh
/// network starts as the original.
#[derive(Module, Debug)]
pub struct PerTokenLinear<B: Backend> {
    /// Weights `[tokens, input_dim, dim]`.
    pub weight: Param<Tensor<B, 3>>,
    /// Biases `[tokens, dim]`.
    pub bias: Param<Tensor<B, 2>>,
}

impl<B: Backend> PerTokenLinear<B> {
    /// Zero weights and biases.
    pub fn zeros(tokens: usize, input_dim: usize, dim: usize, device: &B::Device) -> Self {
        Self {
            weight: Param::from_tensor(Tensor::zeros([tokens, input_dim, dim], device)),
            bias: Param::from_tensor(Tensor::zeros([tokens, dim], device)),
        }
    }

    /// `x` `[n, tokens, input_dim]` → `[n, tokens, dim]`.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let by_token = x.swap_dims(0, 1).matmul(self.weight.val()); // [tokens, n, dim]
        by_token.swap_dims(0, 1) + self.bias.val().unsqueeze::<3>()
    }
}

/// Embedding + learnable CLS token + sinusoidal positions + one encoder layer (the original's
/// `ClassificationTransformerEncoder` with `num_layers = 1`).
#[derive(Module, Debug)]
pub struct ClsEncoder<B: Backend> {
    /// Input embedding `input_dim → dim`.
    pub embedding: Linear<B>,
    /// Token-specific addition to the embedding (not in the original; `None` there).
    pub per_token: Option<PerTokenLinear<B>>,
    /// CLS token `[1, 1, dim]`.
    pub cls: Param<Tensor<B, 3>>,
    /// The (first) encoder layer.
    pub layer: EncoderLayer<B>,
    /// Further encoder layers ([`MarkerClassificationConfig::layers`]; none in the original).
    pub extra_layers: Vec<EncoderLayer<B>>,
    /// `s × input_dim → dim` map of all input tokens added to the CLS token
    /// ([`MarkerClassificationConfig::frame_token`]; `None` in the original).
    pub from_all_tokens: Option<Linear<B>>,
}

impl<B: Backend> ClsEncoder<B> {
    /// A new encoder whose CLS token is drawn from `cls_init`.
    pub fn new(
        input_dim: usize,
        dim: usize,
        heads: usize,
        ff_dim: usize,
        dropout: f64,
        cls_init: ClsInit,
        device: &B::Device,
    ) -> Self {
        Self {
            embedding: LinearConfig::new(input_dim, dim).init(device),
            per_token: None,
            cls: Param::from_tensor(Tensor::random([1, 1, dim], cls_init.distribution(), device)),
            layer: EncoderLayer::new(dim, heads, ff_dim, dropout, device),
            extra_layers: Vec::new(),
            from_all_tokens: None,
        }
    }

    /// `x` `[n, s, input_dim]` → (tokens `[n, s + 1, dim]` with the CLS token first, attention
    /// `[n, s + 1, s + 1]` of the last layer).
    pub fn forward(&self, x: Tensor<B, 3>, mode: ForwardMode) -> (Tensor<B, 3>, Tensor<B, 3>) {
        self.forward_positions(x, mode, None)
    }

    /// [`Self::forward`] with the positional code `[1, s + 1, dim]` given (default: the
    /// sinusoidal table; an LRP test passes it as a tracked leaf to account for its relevance).
    pub fn forward_positions(
        &self,
        x: Tensor<B, 3>,
        mode: ForwardMode,
        positions: Option<Tensor<B, 3>>,
    ) -> (Tensor<B, 3>, Tensor<B, 3>) {
        let [n, s, input_dim] = x.dims();
        let mut embedded = self.embedding.forward(x.clone());
        if let Some(per_token) = &self.per_token {
            embedded = embedded + per_token.forward(x.clone());
        }
        let dim = embedded.dims()[2];
        let device = embedded.device();
        let mut cls = self.cls.val().expand([n, 1, dim]);
        if let Some(map) = &self.from_all_tokens {
            cls = cls
                + map
                    .forward(x.clone().reshape([n, s * input_dim]))
                    .reshape([n, 1, dim]);
        }
        let positions = positions.unwrap_or_else(|| sinusoidal::<B>(s + 1, dim, &device));
        let tokens = Tensor::cat(vec![cls, embedded], 1) + positions;
        let (mut tokens, mut weights) = self.layer.forward(tokens, mode);
        for layer in &self.extra_layers {
            (tokens, weights) = layer.forward(tokens, mode);
        }
        (tokens, weights)
    }
}

/// Hyper-parameters of [`MarkerClassification`] (defaults: the brief's `pfe_dim 64, fc_dim 32,
/// pfe heads 2, fc heads 4, interval 128`; feed-forward width 2048 and dropout 0.1 as PyTorch's
/// defaults used by the original).
#[derive(Config, Debug)]
pub struct MarkerClassificationConfig {
    /// Width of the per-frame (joint-level) transformer.
    #[config(default = 64)]
    pub pfe_dim: usize,
    /// Width of the temporal (frame-level) transformer.
    #[config(default = 32)]
    pub fc_dim: usize,
    /// Heads of the per-frame transformer.
    #[config(default = 2)]
    pub pfe_heads: usize,
    /// Heads of the temporal transformer.
    #[config(default = 4)]
    pub fc_heads: usize,
    /// Frames per window.
    #[config(default = 128)]
    pub interval: usize,
    /// Joints per frame.
    #[config(default = 22)]
    pub joints: usize,
    /// Feed-forward width of both encoder layers.
    #[config(default = 2048)]
    pub ff_dim: usize,
    /// Dropout probability (training only).
    #[config(default = 0.1)]
    pub dropout: f64,
    /// Whether the network first subtracts each frame's pelvis x from every joint's x
    /// ([`super::pelvis_relative_x`]; off in the original).
    #[config(default = false)]
    pub pelvis_relative_x: bool,
    /// Per-coordinate input standardisation from the training data
    /// ([`super::InputStandardization`]; none in the original).
    #[config(default = "None")]
    pub input_standardization: Option<super::InputStandardization>,
    /// Whether every joint gets its own embedding weights on top of the shared one (not in the
    /// original). With one shared `3 → pfe_dim` embedding a joint's identity reaches the
    /// encoder only through the additive positional code, so near-uniform attention pools the
    /// joints into little more than their mean position; the per-joint weights make the pooled
    /// CLS feature a full linear map of all joint coordinates from the first step.
    #[config(default = false)]
    pub per_joint_embedding: bool,
    /// How both CLS tokens are initialised (the original: uniform in [0, 1)).
    #[config(default = "ClsInit::Uniform")]
    pub cls_init: ClsInit,
    /// What the head reads from the temporal encoder (the original: its CLS token).
    #[config(default = "Pooling::Cls")]
    pub pooling: Pooling,
    /// LayerNorm on the per-frame features and on the pooled window feature (not in the
    /// original, whose pre-norm encoders hand un-normalised residual streams on).
    #[config(default = false)]
    pub final_norm: bool,
    /// Encoder layers per level (the original: 1). With one layer the joint tokens' own
    /// updates are discarded — only the CLS row goes on — so joint-to-joint attention never
    /// reaches the output; a second layer lets the CLS read joints that have seen each other.
    #[config(default = 1)]
    pub layers: usize,
    /// Whether the joint-level CLS token of every frame starts from a linear map of that frame's
    /// whole pose (all joints × xyz) added to the learnt CLS (not in the original). The
    /// per-frame feature then carries a direct linear view of the pose through the residual
    /// stream, which attention and the feed-forward refine, instead of reaching the pose only
    /// through softmax-averaged, per-token-normalised joint tokens.
    #[config(default = false)]
    pub frame_token: bool,
    /// How the attention projections start ([`AttentionInit`]; PyTorch's `nn.MultiheadAttention`
    /// in the original).
    #[config(default = "AttentionInit::Linear")]
    pub attention_init: AttentionInit,
}

/// Initialisation of the attention projections.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum AttentionInit {
    /// Every projection as a linear layer (burn's default, the same as PyTorch's `nn.Linear`:
    /// U(±1/√fan_in) weights and biases).
    Linear,
    /// PyTorch's `nn.MultiheadAttention._reset_parameters`, which the original's
    /// `nn.TransformerEncoderLayer` uses: Xavier-uniform over the stacked `[3·dim, dim]`
    /// query/key/value matrix, U(±√(6 / 4·dim)), zero query/key/value and output biases (the
    /// output weight keeps the linear init).
    PyTorch,
}

/// Initialisation of a CLS token.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum ClsInit {
    /// Uniform in [0, 1) (`torch.rand`, the original). Its constant offset of about 0.5 per
    /// channel dwarfs the input-dependent part of the CLS features at initialisation.
    Uniform,
    /// Normal with standard deviation 0.02 (BERT / ViT).
    Small,
}

impl ClsInit {
    fn distribution(self) -> Distribution {
        match self {
            ClsInit::Uniform => Distribution::Default,
            ClsInit::Small => Distribution::Normal(0.0, 0.02),
        }
    }
}

/// The window feature the head classifies.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum Pooling {
    /// The temporal encoder's CLS token (the original).
    Cls,
    /// The mean of the temporal encoder's frame tokens.
    Mean,
}

impl MarkerClassificationConfig {
    /// Builds the network on `device` (weights from the backend's seeded generator).
    pub fn init<B: Backend>(&self, device: &B::Device) -> MarkerClassification<B> {
        let mut feature_extractor = ClsEncoder::new(
            3,
            self.pfe_dim,
            self.pfe_heads,
            self.ff_dim,
            self.dropout,
            self.cls_init,
            device,
        );
        if self.per_joint_embedding {
            feature_extractor.per_token =
                Some(PerTokenLinear::zeros(self.joints, 3, self.pfe_dim, device));
        }
        let extra = |dim, heads| {
            (1..self.layers)
                .map(|_| EncoderLayer::new(dim, heads, self.ff_dim, self.dropout, device))
                .collect::<Vec<_>>()
        };
        feature_extractor.extra_layers = extra(self.pfe_dim, self.pfe_heads);
        if self.frame_token {
            feature_extractor.from_all_tokens =
                Some(LinearConfig::new(self.joints * 3, self.pfe_dim).init(device));
        }
        let mut feature_merger = ClsEncoder::new(
            self.pfe_dim,
            self.fc_dim,
            self.fc_heads,
            self.ff_dim,
            self.dropout,
            self.cls_init,
            device,
        );
        feature_merger.extra_layers = extra(self.fc_dim, self.fc_heads);
        if self.attention_init == AttentionInit::PyTorch {
            for encoder in [&mut feature_extractor, &mut feature_merger] {
                for layer in std::iter::once(&mut encoder.layer).chain(&mut encoder.extra_layers) {
                    layer.attention = layer.attention.clone().pytorch_init(device);
                }
            }
        }
        MarkerClassification {
            feature_extractor,
            frame_norm: self
                .final_norm
                .then(|| LayerNormLrp::new(self.pfe_dim, device)),
            feature_merger,
            pooled_norm: self
                .final_norm
                .then(|| LayerNormLrp::new(self.fc_dim, device)),
            pooling: self.pooling,
            head1: LinearConfig::new(self.fc_dim, self.fc_dim).init(device),
            head2: LinearConfig::new(self.fc_dim, 1).init(device),
            interval: self.interval,
            joints: self.joints,
            pelvis_relative_x: self.pelvis_relative_x,
            standardization: self.input_standardization.as_ref().map(|s| s.init(device)),
        }
    }

    /// Checks that head counts divide the widths and sizes are non-zero.
    pub fn validate(&self) -> Result<(), String> {
        if self.pfe_dim == 0
            || self.fc_dim == 0
            || self.interval == 0
            || self.joints == 0
            || self.layers == 0
        {
            return Err("pfe_dim, fc_dim, interval, joints and layers must be positive".into());
        }
        if self.pfe_heads == 0 || !self.pfe_dim.is_multiple_of(self.pfe_heads) {
            return Err(format!(
                "pfe_dim {} is not divisible by pfe_heads {}",
                self.pfe_dim, self.pfe_heads
            ));
        }
        if self.fc_heads == 0 || !self.fc_dim.is_multiple_of(self.fc_heads) {
            return Err(format!(
                "fc_dim {} is not divisible by fc_heads {}",
                self.fc_dim, self.fc_heads
            ));
        }
        if let Some(s) = &self.input_standardization {
            s.validate(self.joints)?;
        }
        Ok(())
    }
}

/// Attention weights of both levels of [`MarkerClassification`].
#[derive(Debug, Clone)]
pub struct AttentionMaps<B: Backend> {
    /// Joint-level attention `[batch, interval, joints + 1, joints + 1]` (index 0 = CLS; the last
    /// layer's when there are several).
    pub joints: Tensor<B, 4>,
    /// Frame-level attention `[batch, interval + 1, interval + 1]` (index 0 = CLS).
    pub frames: Tensor<B, 3>,
    /// How much each frame's token enters the pooled window feature `[batch, interval]`: the
    /// CLS row of `frames` ([`Pooling::Cls`]) or its frame rows averaged ([`Pooling::Mean`]).
    pub frame_weights: Tensor<B, 2>,
}

/// The two-level marker transformer.
#[derive(Module, Debug)]
pub struct MarkerClassification<B: Backend> {
    /// Per-frame transformer over the joints.
    pub feature_extractor: ClsEncoder<B>,
    /// Norm of the per-frame features ([`MarkerClassificationConfig::final_norm`]).
    pub frame_norm: Option<LayerNormLrp<B>>,
    /// Temporal transformer over the per-frame CLS features.
    pub feature_merger: ClsEncoder<B>,
    /// Norm of the pooled window feature ([`MarkerClassificationConfig::final_norm`]).
    pub pooled_norm: Option<LayerNormLrp<B>>,
    /// What the head reads from the temporal encoder.
    pub pooling: Pooling,
    /// First head layer `fc_dim → fc_dim` (ReLU after it).
    pub head1: Linear<B>,
    /// Output layer `fc_dim → 1`.
    pub head2: Linear<B>,
    /// Frames per window.
    pub interval: usize,
    /// Joints per frame.
    pub joints: usize,
    /// Whether the input's x is made pelvis-relative first ([`super::pelvis_relative_x`]).
    pub pelvis_relative_x: bool,
    /// Input standardisation (constants from the config; not part of the weight record).
    pub standardization: Option<super::InputStandardizationTensors<B>>,
}

impl<B: Backend> MarkerClassification<B> {
    /// The input as the embedding sees it (pelvis-relative x and standardisation when
    /// configured).
    pub fn prepare_input(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        super::prepare_input(x, self.pelvis_relative_x, self.standardization.as_ref())
    }

    /// Full inference pass: (logits `[batch, 1]`, attention maps). Dropout is never applied, on
    /// any backend: the same input gives the same output. With `lrp` the softmax weights,
    /// LayerNorm scales and GELU gates are constants for autodiff (same forward values).
    pub fn forward_detailed(&self, x: Tensor<B, 4>, lrp: bool) -> (Tensor<B, 2>, AttentionMaps<B>) {
        self.forward_mode(x, ForwardMode::inference(lrp))
    }

    /// [`Self::forward_detailed`] on an input already passed through [`Self::prepare_input`].
    pub fn forward_prepared(&self, x: Tensor<B, 4>, lrp: bool) -> (Tensor<B, 2>, AttentionMaps<B>) {
        self.forward_prepared_mode(x, ForwardMode::inference(lrp))
    }

    /// The forward pass in `mode` (only [`ForwardMode::Train`] applies dropout).
    pub fn forward_mode(
        &self,
        x: Tensor<B, 4>,
        mode: ForwardMode,
    ) -> (Tensor<B, 2>, AttentionMaps<B>) {
        self.forward_prepared_mode(self.prepare_input(x), mode)
    }

    /// [`Self::forward_mode`] on an input already passed through [`Self::prepare_input`].
    pub fn forward_prepared_mode(
        &self,
        x: Tensor<B, 4>,
        mode: ForwardMode,
    ) -> (Tensor<B, 2>, AttentionMaps<B>) {
        self.forward_prepared_positions(x, mode, None)
    }

    /// The two positional codes the encoders add: joint level `[1, joints + 1, pfe_dim]` and
    /// frame level `[1, interval + 1, fc_dim]`.
    pub fn positional_codes(&self, device: &B::Device) -> [Tensor<B, 3>; 2] {
        let d1 = self.feature_extractor.cls.val().dims()[2];
        let d2 = self.feature_merger.cls.val().dims()[2];
        [
            sinusoidal::<B>(self.joints + 1, d1, device),
            sinusoidal::<B>(self.interval + 1, d2, device),
        ]
    }

    /// [`Self::forward_prepared_mode`] with both positional codes given (as
    /// [`Self::positional_codes`]; default: those).
    pub fn forward_prepared_positions(
        &self,
        x: Tensor<B, 4>,
        mode: ForwardMode,
        positions: Option<[Tensor<B, 3>; 2]>,
    ) -> (Tensor<B, 2>, AttentionMaps<B>) {
        let lrp = mode.lrp();
        let [b, t, j, c] = x.dims();
        let (p1, p2) = match positions {
            Some([p1, p2]) => (Some(p1), Some(p2)),
            None => (None, None),
        };
        let (tokens, att1) =
            self.feature_extractor
                .forward_positions(x.reshape([b * t, j, c]), mode, p1);
        let d1 = tokens.dims()[2];
        let mut per_frame = tokens.narrow(1, 0, 1).reshape([b, t, d1]);
        if let Some(norm) = &self.frame_norm {
            per_frame = norm.forward(per_frame, lrp);
        }
        let (merged, att2) = self.feature_merger.forward_positions(per_frame, mode, p2);
        let d2 = merged.dims()[2];
        let (mut pooled, frame_weights) = match self.pooling {
            Pooling::Cls => (
                merged.narrow(1, 0, 1).reshape([b, d2]),
                att2.clone().narrow(1, 0, 1).narrow(2, 1, t).reshape([b, t]),
            ),
            Pooling::Mean => (
                merged.narrow(1, 1, t).mean_dim(1).reshape([b, d2]),
                att2.clone()
                    .narrow(1, 1, t)
                    .narrow(2, 1, t)
                    .mean_dim(1)
                    .reshape([b, t]),
            ),
        };
        if let Some(norm) = &self.pooled_norm {
            pooled = norm.forward(pooled, lrp);
        }
        let logits = self.head2.forward(relu(self.head1.forward(pooled)));
        let maps = AttentionMaps {
            joints: att1.reshape([b, t, j + 1, j + 1]),
            frames: att2,
            frame_weights,
        };
        (logits, maps)
    }

    /// Attention weights of both levels for `x` `[batch, interval, joints, 3]` (inference: no
    /// dropout).
    pub fn attention_maps(&self, x: Tensor<B, 4>) -> AttentionMaps<B> {
        self.forward_detailed(x, false).1
    }

    /// Inference logits `[batch, 1]` for `x` `[batch, interval, joints, 3]`: no dropout on any
    /// backend (unlike [`GaitClassifier::logits`], the training forward).
    pub fn predict(&self, x: Tensor<B, 4>) -> Tensor<B, 2> {
        self.forward_detailed(x, false).0
    }
}

impl<B: Backend> GaitClassifier<B> for MarkerClassification<B> {
    /// The training forward ([`ForwardMode::Train`]): on an autodiff backend dropout is active,
    /// so two calls differ. Inference runs [`MarkerClassification::predict`] or the inner
    /// backend's module (`valid()`), where dropout is the identity.
    fn logits(&self, x: Tensor<B, 4>) -> Tensor<B, 2> {
        self.forward_mode(x, ForwardMode::Train).0
    }
    fn interval(&self) -> usize {
        self.interval
    }
    fn joints(&self) -> usize {
        self.joints
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;
    use burn::module::AutodiffModule;

    type B = NdArray;

    fn small() -> MarkerClassificationConfig {
        MarkerClassificationConfig::new()
            .with_pfe_dim(8)
            .with_fc_dim(8)
            .with_pfe_heads(2)
            .with_fc_heads(4)
            .with_interval(5)
            .with_ff_dim(16)
    }

    #[test]
    fn pytorch_attention_init_is_xavier_over_qkv_with_zero_biases() {
        let _rng = crate::train::test_rng_lock();
        let device = Default::default();
        let cfg = small().with_attention_init(AttentionInit::PyTorch);
        let m = cfg.init::<B>(&device);
        let bound = (6.0f32 / (4.0 * 8.0)).sqrt();
        for att in [
            &m.feature_extractor.layer.attention,
            &m.feature_merger.layer.attention,
        ] {
            for l in [&att.query, &att.key, &att.value, &att.output] {
                let b: Vec<f32> = l.bias.as_ref().unwrap().val().into_data().iter().collect();
                assert!(b.iter().all(|&v| v == 0.0));
            }
            for l in [&att.query, &att.key, &att.value] {
                let w: Vec<f32> = l.weight.val().into_data().iter().collect();
                let max = w.iter().fold(0f32, |m, v| m.max(v.abs()));
                assert!(max <= bound && max > 0.7 * bound, "{max} vs {bound}");
            }
        }
        // The linear default draws biases too.
        let plain = small().init::<B>(&device);
        let b: Vec<f32> = plain
            .feature_extractor
            .layer
            .attention
            .query
            .bias
            .as_ref()
            .unwrap()
            .val()
            .into_data()
            .iter()
            .collect();
        assert!(b.iter().any(|&v| v != 0.0));
        // Cards written before the field read the default (`fill_network_defaults`).
        assert_eq!(
            MarkerClassificationConfig::new().attention_init,
            AttentionInit::Linear
        );
    }

    /// The original's joint-permutation augmentation permutes a window's joints and lets each
    /// joint's id (its positional code) travel with it: for the original architecture (shared
    /// embedding, no frame token) that is the same input, so a permuted copy gives the same
    /// logit — which is why `--joint-permutations` feeds its copies in joint order.
    #[test]
    fn joint_permutation_with_travelling_ids_is_a_symmetry() {
        let _rng = crate::train::test_rng_lock();
        let device = Default::default();
        let m = small()
            .with_dropout(0.0)
            .with_cls_init(ClsInit::Small)
            .init::<B>(&device);
        let (t, j) = (5, 22);
        let x = Tensor::<B, 4>::random([1, t, j, 3], Distribution::Normal(0.0, 1.0), &device);
        let perm: Vec<usize> = (0..j).map(|i| (i * 7 + 3) % j).collect();
        let idx = Tensor::<B, 1, Int>::from_data(
            TensorData::new(perm.iter().map(|&p| p as i64).collect::<Vec<_>>(), [j]),
            &device,
        );
        let x_perm = x.clone().select(2, idx.clone());
        let [p1, p2] = m.positional_codes(&device);
        let rows = Tensor::cat(
            vec![
                Tensor::<B, 1, Int>::from_data(TensorData::new(vec![0i64], [1]), &device),
                idx.add_scalar(1),
            ],
            0,
        );
        let p1_perm = p1.clone().select(1, rows);
        let logit = |x, p| {
            m.forward_prepared_positions(x, ForwardMode::Eval, Some(p))
                .0
        };
        let a: Vec<f32> = logit(x, [p1, p2.clone()]).into_data().iter().collect();
        let b: Vec<f32> = logit(x_perm.clone(), [p1_perm, p2.clone()])
            .into_data()
            .iter()
            .collect();
        // Without the travelling ids the permutation does change the input.
        let c: Vec<f32> = logit(x_perm, m.positional_codes(&device))
            .into_data()
            .iter()
            .collect();
        let (same, moved) = ((a[0] - b[0]).abs(), (a[0] - c[0]).abs());
        eprintln!("logit {} · with ids {same:e} · without {moved:e}", a[0]);
        assert!(same < 1e-5 && moved > 20.0 * same, "{a:?} {b:?} {c:?}");
    }

    #[test]
    fn shapes_and_attention_rows_sum_to_one() {
        let _rng = crate::train::test_rng_lock();
        let device = Default::default();
        let m = small().init::<B>(&device);
        let x = Tensor::<B, 4>::random([2, 5, 22, 3], Distribution::Normal(0.0, 1.0), &device);
        let (logits, maps) = m.forward_detailed(x.clone(), false);
        assert_eq!(logits.dims(), [2, 1]);
        assert_eq!(maps.joints.dims(), [2, 5, 23, 23]);
        assert_eq!(maps.frames.dims(), [2, 6, 6]);
        let rows: Vec<f32> = maps.frames.sum_dim(2).into_data().to_vec().unwrap();
        for r in rows {
            assert!((r - 1.0).abs() < 1e-5, "row sum {r}");
        }
        // The LRP-mode forward gives the same values.
        assert_same_values(logits, m.forward_detailed(x, true).0);
    }

    #[test]
    fn logits_and_gradients_depend_on_the_input() {
        let _rng = crate::train::test_rng_lock();
        type A = burn::backend::Autodiff<NdArray>;
        let device = Default::default();
        let m = small().init::<A>(&device);
        let x = Tensor::<A, 4>::random([4, 5, 22, 3], Distribution::Normal(0.0, 1.0), &device)
            .require_grad();
        let logits = m.logits(x.clone());
        let l: Vec<f32> = logits.clone().into_data().iter::<f32>().collect();
        let spread =
            l.iter().cloned().fold(f32::MIN, f32::max) - l.iter().cloned().fold(f32::MAX, f32::min);
        let grads = logits.sum().backward();
        let g = x.grad(&grads).unwrap().abs().sum().into_scalar();
        let gw = m
            .feature_extractor
            .embedding
            .weight
            .grad(&grads)
            .unwrap()
            .abs()
            .sum()
            .into_scalar();
        eprintln!("logits {l:?} spread {spread} |dx| {g} |dW_embed| {gw}");
        assert!(spread > 1e-4 && g > 1e-6 && gw > 1e-6);
    }

    /// Asserts that two tensors (e.g. the normal and the LRP-mode logits) agree within 1e-5.
    fn assert_same_values<Bk: Backend, const D: usize>(a: Tensor<Bk, D>, b: Tensor<Bk, D>) {
        let a: Vec<f32> = a.into_data().iter::<f32>().collect();
        let b: Vec<f32> = b.into_data().iter::<f32>().collect();
        assert_eq!(a.len(), b.len());
        for (p, q) in a.iter().zip(&b) {
            assert!((p - q).abs() < 1e-5, "{p} vs {q}");
        }
    }

    /// Every option that departs from the original switched on.
    fn improved() -> MarkerClassificationConfig {
        small()
            .with_dropout(0.0)
            .with_per_joint_embedding(true)
            .with_cls_init(ClsInit::Small)
            .with_pooling(Pooling::Mean)
            .with_final_norm(true)
    }

    #[test]
    fn per_token_linear_applies_each_tokens_own_weights() {
        let device = Default::default();
        let lin = PerTokenLinear::<B> {
            weight: Param::from_tensor(Tensor::from_floats(
                [[[1.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 2.0]]],
                &device,
            )),
            bias: Param::from_tensor(Tensor::from_floats([[0.5, 0.0], [0.0, -1.0]], &device)),
        };
        // Two samples, two tokens of two inputs each.
        let x = Tensor::<B, 3>::from_floats(
            [[[3.0, 4.0], [5.0, 6.0]], [[1.0, 1.0], [2.0, 2.0]]],
            &device,
        );
        let y: Vec<f32> = lin.forward(x).into_data().to_vec().unwrap();
        // Token 0 keeps its first input (+0.5), token 1 doubles its second (−1).
        assert_eq!(y, vec![3.5, 0.0, 0.0, 11.0, 1.5, 0.0, 0.0, 3.0]);
    }

    #[test]
    fn improved_options_keep_shapes_weights_and_lrp_forward() {
        let _rng = crate::train::test_rng_lock();
        type A = burn::backend::Autodiff<NdArray>;
        let device = Default::default();
        let m = improved().init::<A>(&device);
        assert!(m.frame_norm.is_some() && m.pooled_norm.is_some());
        let x = Tensor::<A, 4>::random([3, 5, 22, 3], Distribution::Normal(0.0, 1.0), &device)
            .require_grad();
        let (logits, maps) = m.forward_detailed(x.clone(), false);
        assert_eq!(logits.dims(), [3, 1]);
        // Mean pooling: each frame's weight is its column averaged over the frame queries,
        // so the weights of a window sum to 1 minus the frames' attention to the CLS token.
        assert_eq!(maps.frame_weights.dims(), [3, 5]);
        let to_cls: Vec<f32> = maps
            .frames
            .clone()
            .narrow(1, 1, 5)
            .narrow(2, 0, 1)
            .mean_dim(1)
            .into_data()
            .iter::<f32>()
            .collect();
        let sums: Vec<f32> = maps
            .frame_weights
            .clone()
            .sum_dim(1)
            .into_data()
            .iter::<f32>()
            .collect();
        for (s, c) in sums.iter().zip(&to_cls) {
            assert!((s + c - 1.0).abs() < 1e-5, "{s} + {c}");
        }
        assert_same_values(logits.clone(), m.forward_detailed(x.clone(), true).0);
        // The per-joint weights start at zero and learn: they receive a gradient.
        let grads = logits.sum().backward();
        let per_token = m.feature_extractor.per_token.as_ref().unwrap();
        assert_eq!(per_token.weight.val().dims(), [22, 3, 8]);
        let g = per_token
            .weight
            .grad(&grads)
            .unwrap()
            .abs()
            .sum()
            .into_scalar();
        assert!(g > 1e-6, "{g}");
        // Small CLS tokens, unlike the original's uniform [0, 1).
        let cls: Vec<f32> = m
            .feature_merger
            .cls
            .val()
            .into_data()
            .iter::<f32>()
            .collect();
        assert!(cls.iter().all(|v| v.abs() < 0.2), "{cls:?}");
    }

    #[test]
    fn extra_layers_and_frame_token_change_the_function_and_learn() {
        let _rng = crate::train::test_rng_lock();
        type A = burn::backend::Autodiff<NdArray>;
        let device = Default::default();
        let m = improved()
            .with_layers(3)
            .with_frame_token(true)
            .init::<A>(&device);
        assert_eq!(m.feature_extractor.extra_layers.len(), 2);
        assert_eq!(m.feature_merger.extra_layers.len(), 2);
        assert!(
            m.feature_merger.from_all_tokens.is_none(),
            "joint level only"
        );
        let map = m.feature_extractor.from_all_tokens.as_ref().unwrap();
        assert_eq!(map.weight.val().dims(), [22 * 3, 8]);
        let x = Tensor::<A, 4>::random([2, 5, 22, 3], Distribution::Normal(0.0, 1.0), &device)
            .require_grad();
        let (logits, maps) = m.forward_detailed(x.clone(), false);
        assert_eq!(maps.joints.dims(), [2, 5, 23, 23]);
        assert_eq!(maps.frames.dims(), [2, 6, 6]);
        assert_same_values(logits.clone(), m.forward_detailed(x.clone(), true).0);
        let grads = logits.clone().sum().backward();
        for (name, g) in [
            ("frame token", map.weight.grad(&grads)),
            (
                "last joint layer",
                m.feature_extractor.extra_layers[1].ff2.weight.grad(&grads),
            ),
        ] {
            let g = g.unwrap().abs().sum().into_scalar();
            assert!(g > 1e-6, "{name}: {g}");
        }
        // Without the extra layers and the frame token the same first-layer weights compute
        // something else.
        let plain = MarkerClassification {
            feature_extractor: ClsEncoder {
                extra_layers: Vec::new(),
                from_all_tokens: None,
                ..m.feature_extractor.clone()
            },
            ..m.clone()
        };
        let other = plain.forward_detailed(x, false).0;
        let diff = (logits - other).abs().max().into_scalar();
        assert!(diff > 1e-6, "{diff}");
    }

    #[test]
    fn dropout_only_in_the_training_forward() {
        let _rng = crate::train::test_rng_lock();
        type A = burn::backend::Autodiff<NdArray>;
        let device = Default::default();
        let m = small().with_dropout(0.5).init::<A>(&device);
        let x = Tensor::<A, 4>::random([2, 5, 22, 3], Distribution::Normal(0.0, 1.0), &device);
        let flat = |m: &AttentionMaps<A>| -> Vec<f32> {
            let mut v: Vec<f32> = m.joints.clone().into_data().iter::<f32>().collect();
            v.extend(m.frames.clone().into_data().iter::<f32>());
            v
        };
        // Inference on the autodiff backend is bit-identical call after call.
        let (l1, m1) = m.forward_detailed(x.clone(), false);
        let (l2, m2) = m.forward_detailed(x.clone(), false);
        let reference: Vec<f32> = l1.clone().into_data().iter::<f32>().collect();
        let again: Vec<f32> = l2.into_data().iter::<f32>().collect();
        assert_eq!(reference, again);
        let predicted: Vec<f32> = m.predict(x.clone()).into_data().iter::<f32>().collect();
        assert_eq!(reference, predicted);
        assert_eq!(flat(&m1), flat(&m2));
        assert_eq!(flat(&m1), flat(&m.attention_maps(x.clone())));
        // LRP mode and the inner backend's module (where dropout never runs) agree with it.
        assert_same_values(l1.clone(), m.forward_detailed(x.clone(), true).0);
        let inner = m.valid().logits(x.clone().inner());
        assert_same_values(l1.inner(), inner);
        // Training keeps its dropout: two training passes differ.
        let train =
            |x: Tensor<A, 4>| -> Vec<f32> { m.logits(x).into_data().iter::<f32>().collect() };
        assert_ne!(train(x.clone()), train(x));
    }

    #[test]
    fn validate_rejects_indivisible_heads() {
        assert!(small().with_pfe_heads(3).validate().is_err());
        assert!(small().with_layers(0).validate().is_err());
        assert!(small().validate().is_ok());
    }
}
