//! The three window networks, generic over the burn backend. Input `[batch, frames, features]`,
//! output `[batch, outputs]` (one value for regression and binary logits, `classes` logits for
//! multi-class).
//!
//! * [`CnnConfig`]: Kidziński et al.'s 1D CNN — three blocks of two `Conv1d(same) → ReLU →
//!   BatchNorm`, each block ending in max-pooling (2, 2, 3) and dropout, then flatten → dense
//!   (ReLU) → output. The original used 32 channels, kernel 8, dropout 0.5, dense 10.
//! * [`LstmNetConfig`]: average-pool the frames by `time_pool`, an (optionally bidirectional)
//!   LSTM, mean over time of its outputs, dropout, linear output.
//! * [`CnnLstmConfig`]: two conv blocks (each two convs + max-pool 2) shrink 124 frames to 31,
//!   then the LSTM head as above.

use burn::nn::conv::{Conv1d, Conv1dConfig};
use burn::nn::pool::{AvgPool1d, AvgPool1dConfig, MaxPool1d, MaxPool1dConfig};
use burn::nn::{
    BatchNorm, BatchNormConfig, BiLstm, BiLstmConfig, Dropout, DropoutConfig, Linear, LinearConfig,
    Lstm, LstmConfig, PaddingConfig1d,
};
use burn::prelude::*;
use burn::tensor::activation::relu;
use serde::{Deserialize, Serialize};

/// What the network predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Task {
    /// One scalar (e.g. GDI), trained with MSE on targets scaled to `[0, 1]`.
    Regression,
    /// Two classes; one logit, trained with binary cross-entropy.
    Binary,
    /// `classes` classes; one logit each, trained with cross-entropy.
    MultiClass {
        /// Number of classes (≥ 2).
        classes: usize,
    },
}

impl Task {
    /// Network outputs for this task.
    pub fn outputs(&self) -> usize {
        match self {
            Task::Regression | Task::Binary => 1,
            Task::MultiClass { classes } => *classes,
        }
    }
}

/// Kidziński's 1D CNN.
#[derive(Config, Debug)]
pub struct CnnConfig {
    /// Features per frame.
    pub features: usize,
    /// Frames per window.
    pub window_frames: usize,
    /// Network outputs.
    pub outputs: usize,
    /// Channels of every convolution (original: 32).
    #[config(default = 16)]
    pub channels: usize,
    /// Kernel length in frames (original: 8).
    #[config(default = 8)]
    pub kernel: usize,
    /// Dropout after each block (original: 0.5).
    #[config(default = 0.5)]
    pub dropout: f64,
    /// Width of the dense layer (original: 10).
    #[config(default = 10)]
    pub dense: usize,
}

/// An (optionally bidirectional) LSTM over pooled frames.
#[derive(Config, Debug)]
pub struct LstmNetConfig {
    /// Features per frame.
    pub features: usize,
    /// Network outputs.
    pub outputs: usize,
    /// Hidden units per direction.
    #[config(default = 24)]
    pub hidden: usize,
    /// Bidirectional LSTM.
    #[config(default = true)]
    pub bidirectional: bool,
    /// Average-pool this many frames before the LSTM (shorter recurrences train faster).
    #[config(default = 4)]
    pub time_pool: usize,
    /// Dropout before the output layer.
    #[config(default = 0.3)]
    pub dropout: f64,
}

/// Convolutional front end + LSTM.
#[derive(Config, Debug)]
pub struct CnnLstmConfig {
    /// Features per frame.
    pub features: usize,
    /// Network outputs.
    pub outputs: usize,
    /// Channels of the convolutions.
    #[config(default = 16)]
    pub channels: usize,
    /// Kernel length in frames.
    #[config(default = 8)]
    pub kernel: usize,
    /// Hidden units per LSTM direction.
    #[config(default = 24)]
    pub hidden: usize,
    /// Bidirectional LSTM.
    #[config(default = true)]
    pub bidirectional: bool,
    /// Dropout after the conv blocks and before the output.
    #[config(default = 0.3)]
    pub dropout: f64,
}

/// Which network (serialised in the model card).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum VideoModelConfig {
    /// [`CnnConfig`].
    Cnn(CnnConfig),
    /// [`LstmNetConfig`].
    Lstm(LstmNetConfig),
    /// [`CnnLstmConfig`].
    CnnLstm(CnnLstmConfig),
}

impl VideoModelConfig {
    /// Short name: `cnn`, `lstm`, `cnn_lstm`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Cnn(_) => "cnn",
            Self::Lstm(_) => "lstm",
            Self::CnnLstm(_) => "cnn_lstm",
        }
    }

    /// The default network of a kind (`cnn`, `lstm`, `cnn_lstm`) for the given sizes.
    pub fn default_for(
        kind: &str,
        features: usize,
        window_frames: usize,
        outputs: usize,
    ) -> Option<Self> {
        Some(match kind {
            "cnn" => Self::Cnn(CnnConfig::new(features, window_frames, outputs)),
            "lstm" => Self::Lstm(LstmNetConfig::new(features, outputs)),
            "cnn_lstm" | "cnn-lstm" => Self::CnnLstm(CnnLstmConfig::new(features, outputs)),
            _ => return None,
        })
    }

    /// Features per frame the network expects.
    pub fn features(&self) -> usize {
        match self {
            Self::Cnn(c) => c.features,
            Self::Lstm(c) => c.features,
            Self::CnnLstm(c) => c.features,
        }
    }

    /// Network outputs.
    pub fn outputs(&self) -> usize {
        match self {
            Self::Cnn(c) => c.outputs,
            Self::Lstm(c) => c.outputs,
            Self::CnnLstm(c) => c.outputs,
        }
    }

    /// Checks sizes (the CNN needs at least 12 frames for its three poolings).
    pub fn validate(&self) -> Result<(), super::VideoError> {
        let bad = |field, reason: String| Err(super::VideoError::Config { field, reason });
        if self.features() == 0 || self.outputs() == 0 {
            return bad("model", "features and outputs must be ≥ 1".into());
        }
        // Upper bounds keep a hostile or mistyped card from asking for absurd work: a kernel
        // of 10⁶ frames ran forever, dropout 2.0 tripped burn's assertion.
        const MAX_WIDTH: usize = 4096;
        const MAX_KERNEL: usize = 64;
        let (dropout, widths, kernel): (f64, Vec<usize>, usize) = match self {
            Self::Cnn(c) => (c.dropout, vec![c.channels, c.dense], c.kernel),
            Self::Lstm(c) => (c.dropout, vec![c.hidden, c.time_pool], 1),
            Self::CnnLstm(c) => (c.dropout, vec![c.channels, c.hidden], c.kernel),
        };
        if !(0.0..1.0).contains(&dropout) {
            return bad("dropout", format!("{dropout}; must be in [0, 1)"));
        }
        if let Some(w) = widths.iter().find(|&&w| w > MAX_WIDTH) {
            return bad(
                "model",
                format!("a layer width of {w}; at most {MAX_WIDTH}"),
            );
        }
        if kernel > MAX_KERNEL {
            return bad("kernel", format!("{kernel} frames; at most {MAX_KERNEL}"));
        }
        match self {
            Self::Cnn(c) if c.window_frames / 12 == 0 => bad(
                "window_frames",
                format!("{} frames; the CNN needs ≥ 12", c.window_frames),
            ),
            Self::Cnn(c) if c.channels == 0 || c.kernel == 0 || c.dense == 0 => {
                bad("cnn", "channels, kernel and dense must be ≥ 1".into())
            }
            Self::Lstm(c) if c.hidden == 0 || c.time_pool == 0 => {
                bad("lstm", "hidden and time_pool must be ≥ 1".into())
            }
            Self::CnnLstm(c) if c.hidden == 0 || c.channels == 0 || c.kernel == 0 => {
                bad("cnn_lstm", "hidden, channels and kernel must be ≥ 1".into())
            }
            _ => Ok(()),
        }
    }

    /// Builds the network with fresh weights.
    pub fn init<B: Backend>(&self, device: &B::Device) -> VideoNet<B> {
        match self {
            Self::Cnn(c) => VideoNet::Cnn(c.init(device)),
            Self::Lstm(c) => VideoNet::Lstm(c.init(device)),
            Self::CnnLstm(c) => VideoNet::CnnLstm(c.init(device)),
        }
    }
}

/// `Conv1d(same) → ReLU → BatchNorm`.
#[derive(Module, Debug)]
pub struct ConvBn<B: Backend> {
    conv: Conv1d<B>,
    bn: BatchNorm<B>,
}

impl<B: Backend> ConvBn<B> {
    fn new(cin: usize, cout: usize, kernel: usize, device: &B::Device) -> Self {
        Self {
            conv: Conv1dConfig::new(cin, cout, kernel)
                .with_padding(PaddingConfig1d::Same)
                .init(device),
            bn: BatchNormConfig::new(cout).init(device),
        }
    }
    fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        self.bn.forward(relu(self.conv.forward(x)))
    }
    /// Inference behaviour on any backend: batch norm with its running statistics (burn's
    /// `BatchNorm` switches to batch statistics whenever the backend has autodiff).
    fn forward_eval(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let h = relu(self.conv.forward(x));
        let c = h.dims()[1];
        let bn = &self.bn;
        let mean = bn.running_mean.value().reshape([1, c, 1]);
        let std = bn
            .running_var
            .value()
            .add_scalar(bn.epsilon)
            .sqrt()
            .reshape([1, c, 1]);
        h.sub(mean)
            .div(std)
            .mul(bn.gamma.val().reshape([1, c, 1]))
            .add(bn.beta.val().reshape([1, c, 1]))
    }
}

/// Two [`ConvBn`] then max-pooling and dropout.
#[derive(Module, Debug)]
pub struct ConvBlock<B: Backend> {
    a: ConvBn<B>,
    b: ConvBn<B>,
    pool: MaxPool1d,
    dropout: Dropout,
}

impl<B: Backend> ConvBlock<B> {
    fn new(cin: usize, cout: usize, kernel: usize, pool: usize, p: f64, d: &B::Device) -> Self {
        Self {
            a: ConvBn::new(cin, cout, kernel, d),
            b: ConvBn::new(cout, cout, kernel, d),
            pool: MaxPool1dConfig::new(pool).with_stride(pool).init(),
            dropout: DropoutConfig::new(p).init(),
        }
    }
    fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        self.dropout
            .forward(self.pool.forward(self.b.forward(self.a.forward(x))))
    }
    /// Inference behaviour on any backend (running batch-norm statistics, no dropout).
    fn forward_eval(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        self.pool
            .forward(self.b.forward_eval(self.a.forward_eval(x)))
    }
}

/// `[batch, frames, features]` through the convolution blocks (in evaluation mode if `eval`):
/// the shared front end of the CNN and the CNN-LSTM, `[batch, channels, frames']`.
fn run_blocks<B: Backend>(blocks: &[ConvBlock<B>], x: Tensor<B, 3>, eval: bool) -> Tensor<B, 3> {
    let mut h = x.swap_dims(1, 2);
    for b in blocks {
        h = if eval {
            b.forward_eval(h)
        } else {
            b.forward(h)
        };
    }
    h
}

/// Kidziński's CNN.
#[derive(Module, Debug)]
pub struct CnnNet<B: Backend> {
    blocks: Vec<ConvBlock<B>>,
    dense: Linear<B>,
    out: Linear<B>,
}

impl CnnConfig {
    /// Length of the sequence after the three poolings.
    pub fn pooled_frames(&self) -> usize {
        self.window_frames / 2 / 2 / 3
    }

    /// Builds the network.
    pub fn init<B: Backend>(&self, device: &B::Device) -> CnnNet<B> {
        let c = self.channels;
        let blocks = vec![
            ConvBlock::new(self.features, c, self.kernel, 2, self.dropout, device),
            ConvBlock::new(c, c, self.kernel, 2, self.dropout, device),
            ConvBlock::new(c, c, self.kernel, 3, self.dropout, device),
        ];
        CnnNet {
            blocks,
            dense: LinearConfig::new(c * self.pooled_frames(), self.dense).init(device),
            out: LinearConfig::new(self.dense, self.outputs).init(device),
        }
    }
}

impl<B: Backend> CnnNet<B> {
    /// `[batch, frames, features]` → `[batch, outputs]`.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 2> {
        self.forward_mode(x, false)
    }

    fn forward_mode(&self, x: Tensor<B, 3>, eval: bool) -> Tensor<B, 2> {
        let h = run_blocks(&self.blocks, x, eval);
        let [n, c, t] = h.dims();
        let h = h.reshape([n, c * t]);
        self.out.forward(relu(self.dense.forward(h)))
    }
}

/// Forward-only or bidirectional LSTM.
// Boxing the variant would break burn's `Module` derive; one value per network, so size is moot.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Recurrent<B: Backend> {
    /// One direction.
    Uni(Lstm<B>),
    /// Both directions, outputs concatenated.
    Bi(BiLstm<B>),
}

impl<B: Backend> Recurrent<B> {
    fn new(d_in: usize, hidden: usize, bidirectional: bool, device: &B::Device) -> Self {
        if bidirectional {
            Self::Bi(BiLstmConfig::new(d_in, hidden, true).init(device))
        } else {
            Self::Uni(LstmConfig::new(d_in, hidden, true).init(device))
        }
    }
    /// `[batch, time, d]` → mean over time of the outputs, `[batch, hidden × directions]`.
    fn forward_mean(&self, x: Tensor<B, 3>) -> Tensor<B, 2> {
        let out = match self {
            Self::Uni(l) => l.forward(x, None).0,
            Self::Bi(l) => l.forward(x, None).0,
        };
        out.mean_dim(1).squeeze_dim(1)
    }
}

/// LSTM network.
#[derive(Module, Debug)]
pub struct LstmNet<B: Backend> {
    pool: AvgPool1d,
    rnn: Recurrent<B>,
    dropout: Dropout,
    out: Linear<B>,
}

impl LstmNetConfig {
    /// Builds the network.
    pub fn init<B: Backend>(&self, device: &B::Device) -> LstmNet<B> {
        let dirs = if self.bidirectional { 2 } else { 1 };
        LstmNet {
            pool: AvgPool1dConfig::new(self.time_pool)
                .with_stride(self.time_pool)
                .init(),
            rnn: Recurrent::new(self.features, self.hidden, self.bidirectional, device),
            dropout: DropoutConfig::new(self.dropout).init(),
            out: LinearConfig::new(self.hidden * dirs, self.outputs).init(device),
        }
    }
}

impl<B: Backend> LstmNet<B> {
    /// `[batch, frames, features]` → `[batch, outputs]`.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 2> {
        self.forward_mode(x, false)
    }

    fn forward_mode(&self, x: Tensor<B, 3>, eval: bool) -> Tensor<B, 2> {
        let h = self.pool.forward(x.swap_dims(1, 2)).swap_dims(1, 2);
        let h = self.rnn.forward_mean(h);
        self.out
            .forward(if eval { h } else { self.dropout.forward(h) })
    }
}

/// CNN-LSTM network.
#[derive(Module, Debug)]
pub struct CnnLstmNet<B: Backend> {
    blocks: Vec<ConvBlock<B>>,
    rnn: Recurrent<B>,
    dropout: Dropout,
    out: Linear<B>,
}

impl CnnLstmConfig {
    /// Builds the network.
    pub fn init<B: Backend>(&self, device: &B::Device) -> CnnLstmNet<B> {
        let c = self.channels;
        let dirs = if self.bidirectional { 2 } else { 1 };
        CnnLstmNet {
            blocks: vec![
                ConvBlock::new(self.features, c, self.kernel, 2, self.dropout, device),
                ConvBlock::new(c, c, self.kernel, 2, self.dropout, device),
            ],
            rnn: Recurrent::new(c, self.hidden, self.bidirectional, device),
            dropout: DropoutConfig::new(self.dropout).init(),
            out: LinearConfig::new(self.hidden * dirs, self.outputs).init(device),
        }
    }
}

impl<B: Backend> CnnLstmNet<B> {
    /// `[batch, frames, features]` → `[batch, outputs]`.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 2> {
        self.forward_mode(x, false)
    }

    fn forward_mode(&self, x: Tensor<B, 3>, eval: bool) -> Tensor<B, 2> {
        let h = run_blocks(&self.blocks, x, eval);
        let h = self.rnn.forward_mean(h.swap_dims(1, 2));
        self.out
            .forward(if eval { h } else { self.dropout.forward(h) })
    }
}

/// Any of the three networks.
#[derive(Module, Debug)]
pub enum VideoNet<B: Backend> {
    /// [`CnnNet`].
    Cnn(CnnNet<B>),
    /// [`LstmNet`].
    Lstm(LstmNet<B>),
    /// [`CnnLstmNet`].
    CnnLstm(CnnLstmNet<B>),
}

impl<B: Backend> VideoNet<B> {
    /// `[batch, frames, features]` → `[batch, outputs]` (logits or scaled regression values).
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 2> {
        match self {
            Self::Cnn(m) => m.forward(x),
            Self::Lstm(m) => m.forward(x),
            Self::CnnLstm(m) => m.forward(x),
        }
    }

    /// Inference behaviour on any backend, including autodiff ones: batch norm uses its running
    /// statistics and dropout is off. Equals [`VideoNet::forward`] on a backend without autodiff;
    /// used for gradient × input relevance.
    pub fn forward_eval(&self, x: Tensor<B, 3>) -> Tensor<B, 2> {
        match self {
            Self::Cnn(m) => m.forward_mode(x, true),
            Self::Lstm(m) => m.forward_mode(x, true),
            Self::CnnLstm(m) => m.forward_mode(x, true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;

    #[test]
    fn output_shapes_of_all_networks_and_tasks() {
        let device = Default::default();
        let _lock = crate::train::test_rng_lock();
        for task in [
            Task::Regression,
            Task::Binary,
            Task::MultiClass { classes: 3 },
        ] {
            for kind in ["cnn", "lstm", "cnn_lstm"] {
                let cfg = VideoModelConfig::default_for(kind, 5, 124, task.outputs()).unwrap();
                cfg.validate().unwrap();
                let net = cfg.init::<NdArray>(&device);
                let x = Tensor::<NdArray, 3>::random(
                    [3, 124, 5],
                    burn::tensor::Distribution::Normal(0.0, 1.0),
                    &device,
                );
                let y = net.forward(x);
                assert_eq!(y.dims(), [3, task.outputs()], "{kind} {task:?}");
                let v: Vec<f32> = y.into_data().iter::<f32>().collect();
                assert!(v.iter().all(|x| x.is_finite()));
            }
        }
    }

    #[test]
    fn eval_forward_equals_inference_forward() {
        let device = Default::default();
        let _lock = crate::train::test_rng_lock();
        for kind in ["cnn", "lstm", "cnn_lstm"] {
            let net = VideoModelConfig::default_for(kind, 5, 48, 1)
                .unwrap()
                .init::<NdArray>(&device);
            let x = Tensor::<NdArray, 3>::random(
                [2, 48, 5],
                burn::tensor::Distribution::Normal(0.0, 1.0),
                &device,
            );
            let a: Vec<f32> = net.forward(x.clone()).into_data().iter::<f32>().collect();
            let b: Vec<f32> = net.forward_eval(x).into_data().iter::<f32>().collect();
            for (p, q) in a.iter().zip(&b) {
                assert!((p - q).abs() < 1e-5, "{kind}: {p} vs {q}");
            }
        }
    }

    #[test]
    fn cnn_rejects_too_short_windows() {
        let cfg = VideoModelConfig::Cnn(CnnConfig::new(4, 8, 1));
        assert!(cfg.validate().is_err());
        assert!(VideoModelConfig::default_for("transformer", 4, 124, 1).is_none());
    }
}
