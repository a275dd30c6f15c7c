//! The per-frame MLP classifiers of the original (`MultiMLP`, `LRPMLP`): a pose-feature MLP
//! applied to each frame's `joints × 3` coordinates, the per-frame features flattened over the
//! window, a classifier MLP and a final linear layer giving one logit.
//!
//! In each MLP block the first linear layer is followed by LeakyReLU (slope 0.01) and the others
//! by ReLU, as in the original; the final layer has no activation.

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::{leaky_relu, relu};

use super::GaitClassifier;

/// LeakyReLU slope (PyTorch's default).
pub const LEAKY_SLOPE: f64 = 0.01;

/// Activation after a linear layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MlpActivation {
    /// LeakyReLU with slope [`LEAKY_SLOPE`].
    LeakyRelu,
    /// ReLU.
    Relu,
    /// None (the output layer).
    Identity,
}

impl MlpActivation {
    /// Applies the activation.
    pub fn apply<B: Backend, const D: usize>(self, x: Tensor<B, D>) -> Tensor<B, D> {
        match self {
            Self::LeakyRelu => leaky_relu(x, LEAKY_SLOPE),
            Self::Relu => relu(x),
            Self::Identity => x,
        }
    }

    /// Activation after layer `index` of a block (LeakyReLU first, then ReLU).
    pub fn in_block(index: usize) -> Self {
        if index == 0 {
            Self::LeakyRelu
        } else {
            Self::Relu
        }
    }
}

/// Hyper-parameters of [`MultiMlp`] (defaults: the original's `--pfe_layers 16 32 64 32 16
/// --fc_layers 32 64 128 64 32`).
#[derive(Config, Debug)]
pub struct MultiMlpConfig {
    /// Widths of the per-frame pose-feature MLP.
    #[config(default = "vec![16, 32, 64, 32, 16]")]
    pub pfe_layers: Vec<usize>,
    /// Widths of the classifier MLP over the flattened window.
    #[config(default = "vec![32, 64, 128, 64, 32]")]
    pub fc_layers: Vec<usize>,
    /// Frames per window.
    #[config(default = 128)]
    pub interval: usize,
    /// Joints per frame.
    #[config(default = 22)]
    pub joints: usize,
    /// Whether linear layers have biases (bias-free nets conserve relevance exactly).
    #[config(default = true)]
    pub bias: bool,
    /// Whether the network first subtracts each frame's pelvis x from every joint's x
    /// ([`super::pelvis_relative_x`]; off in the original).
    #[config(default = false)]
    pub pelvis_relative_x: bool,
    /// Per-coordinate input standardisation from the training data
    /// ([`super::InputStandardization`]; none in the original).
    #[config(default = "None")]
    pub input_standardization: Option<super::InputStandardization>,
}

impl MultiMlpConfig {
    /// Builds the network on `device`.
    pub fn init<B: Backend>(&self, device: &B::Device) -> MultiMlp<B> {
        // He (Kaiming) initialisation for the ReLU stack: with PyTorch's default uniform
        // initialisation the signal shrinks ~2× per layer through these 11 narrow layers and the
        // network sits on the 0.693 loss plateau for thousands of steps (measured on the synth
        // cohort); biases start at zero.
        let lin = |i: usize, o: usize| {
            LinearConfig::new(i, o)
                .with_bias(self.bias)
                .with_initializer(burn::nn::Initializer::KaimingNormal {
                    gain: std::f64::consts::SQRT_2,
                    fan_out_only: false,
                })
                .init(device)
        };
        let mut pfe = Vec::new();
        let mut width = self.joints * 3;
        for &w in &self.pfe_layers {
            pfe.push(lin(width, w));
            width = w;
        }
        let mut fc = Vec::new();
        width *= self.interval;
        for &w in &self.fc_layers {
            fc.push(lin(width, w));
            width = w;
        }
        MultiMlp {
            pfe,
            fc,
            last: lin(width, 1),
            interval: self.interval,
            joints: self.joints,
            pelvis_relative_x: self.pelvis_relative_x,
            standardization: self.input_standardization.as_ref().map(|s| s.init(device)),
        }
    }

    /// Checks that every size is positive and both blocks have layers.
    pub fn validate(&self) -> Result<(), String> {
        if self.pfe_layers.is_empty() || self.fc_layers.is_empty() {
            return Err("pfe_layers and fc_layers need at least one layer each".into());
        }
        if self
            .pfe_layers
            .iter()
            .chain(&self.fc_layers)
            .any(|&w| w == 0)
            || self.interval == 0
            || self.joints == 0
        {
            return Err("layer widths, interval and joints must be positive".into());
        }
        if let Some(s) = &self.input_standardization {
            s.validate(self.joints)?;
        }
        Ok(())
    }
}

/// The per-frame MLP classifier (`MultiMLP` of the original).
#[derive(Module, Debug)]
pub struct MultiMlp<B: Backend> {
    /// Pose-feature layers applied per frame.
    pub pfe: Vec<Linear<B>>,
    /// Classifier layers over the flattened window.
    pub fc: Vec<Linear<B>>,
    /// Output layer → one logit.
    pub last: Linear<B>,
    /// Frames per window.
    pub interval: usize,
    /// Joints per frame.
    pub joints: usize,
    /// Whether the input's x is made pelvis-relative first ([`super::pelvis_relative_x`]).
    pub pelvis_relative_x: bool,
    /// Input standardisation (constants from the config; not part of the weight record).
    pub standardization: Option<super::InputStandardizationTensors<B>>,
}

/// The original's `LRPMLP` is the same layer stack written as one `nn.Sequential` for the `lrp`
/// package; here one type serves both (the model card records which name was trained).
pub type LrpMlp<B> = MultiMlp<B>;

impl<B: Backend> MultiMlp<B> {
    /// Every linear layer in forward order with its activation and whether the window is
    /// flattened before it (`true` for the first classifier layer).
    pub fn layers(&self) -> Vec<(&Linear<B>, MlpActivation, bool)> {
        let mut out = Vec::new();
        for (i, l) in self.pfe.iter().enumerate() {
            out.push((l, MlpActivation::in_block(i), false));
        }
        for (i, l) in self.fc.iter().enumerate() {
            out.push((l, MlpActivation::in_block(i), i == 0));
        }
        out.push((&self.last, MlpActivation::Identity, false));
        out
    }

    /// The input as the first layer sees it (pelvis-relative x and standardisation when
    /// configured).
    pub fn prepare_input(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        super::prepare_input(x, self.pelvis_relative_x, self.standardization.as_ref())
    }
}

impl<B: Backend> GaitClassifier<B> for MultiMlp<B> {
    fn logits(&self, x: Tensor<B, 4>) -> Tensor<B, 2> {
        let [b, t, j, c] = x.dims();
        let mut h = self.prepare_input(x).reshape([b * t, j * c]);
        for (layer, act, flatten) in self.layers() {
            if flatten {
                let w = h.dims()[1];
                h = h.reshape([b, t * w]);
            }
            h = act.apply(layer.forward(h));
        }
        h
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
    use burn::tensor::Distribution;

    type B = NdArray;

    #[test]
    fn output_shape_and_frame_order_matters() {
        let _rng = crate::train::test_rng_lock();
        let device = Default::default();
        let cfg = MultiMlpConfig::new()
            .with_interval(4)
            .with_pfe_layers(vec![8, 4])
            .with_fc_layers(vec![8]);
        let m = cfg.init::<B>(&device);
        assert_eq!(m.layers().len(), 4);
        let x = Tensor::<B, 4>::random([3, 4, 22, 3], Distribution::Normal(0.0, 1.0), &device);
        let y = m.logits(x.clone());
        assert_eq!(y.dims(), [3, 1]);
        // Swapping two frames changes the output (the classifier sees the time order).
        let swapped = Tensor::cat(
            vec![
                x.clone().narrow(1, 1, 1),
                x.clone().narrow(1, 0, 1),
                x.narrow(1, 2, 2),
            ],
            1,
        );
        let y2 = m.logits(swapped);
        let d: f32 = (y - y2).abs().sum().into_scalar();
        assert!(d > 1e-6);
    }
}
