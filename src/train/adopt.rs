//! The ADOPT optimizer (Taniguchi et al. 2024, "ADOPT: Modified Adam Can Converge with Any β₂
//! with the Optimal Rate"), the optimizer the original trains with, as a burn
//! [`SimpleOptimizer`].
//!
//! Per parameter, with gradient `g_t` (step count `t` starting at 1, as the reference code):
//! - `t = 1`: `v = g²`, the parameter is not changed;
//! - `t ≥ 2`: `n = clip(g / max(√v, ε), ±t^¼)`, `m = β₁ m + (1 − β₁) n`, `θ ← θ − lr · m`,
//!   then `v = β₂ v + (1 − β₂) g²`.
//!
//! Defaults as the reference implementation: β₁ 0.9, β₂ 0.9999, ε 1e-6, clipping on.

use burn::module::AutodiffModule;
use burn::optim::SimpleOptimizer;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::prelude::*;
use burn::record::Record;
use burn::tensor::backend::AutodiffBackend;

/// Configuration of [`Adopt`].
#[derive(Config, Debug)]
pub struct AdoptConfig {
    /// Momentum decay β₁.
    #[config(default = 0.9)]
    pub beta_1: f64,
    /// Second-moment decay β₂.
    #[config(default = 0.9999)]
    pub beta_2: f64,
    /// Floor of √v.
    #[config(default = 1e-6)]
    pub epsilon: f64,
    /// Whether the normalised gradient is clipped to ±t^¼.
    #[config(default = true)]
    pub clip: bool,
}

impl AdoptConfig {
    /// The optimizer for module `M` on autodiff backend `B`.
    pub fn init<B: AutodiffBackend, M: AutodiffModule<B>>(&self) -> OptimizerAdaptor<Adopt, M, B> {
        OptimizerAdaptor::from(Adopt {
            beta_1: self.beta_1,
            beta_2: self.beta_2,
            epsilon: self.epsilon,
            clip: self.clip,
        })
    }
}

/// The ADOPT update rule.
#[derive(Debug, Clone)]
pub struct Adopt {
    beta_1: f64,
    beta_2: f64,
    epsilon: f64,
    clip: bool,
}

/// Per-parameter state of [`Adopt`].
#[derive(Record, Clone)]
pub struct AdoptState<B: Backend, const D: usize> {
    /// Steps taken (1 after the initialising step).
    pub time: usize,
    /// First moment of the normalised gradient.
    pub moment_1: Tensor<B, D>,
    /// Second moment of the raw gradient.
    pub moment_2: Tensor<B, D>,
}

impl<B: Backend> SimpleOptimizer<B> for Adopt {
    type State<const D: usize> = AdoptState<B, D>;

    fn step<const D: usize>(
        &self,
        lr: burn::optim::LearningRate,
        tensor: Tensor<B, D>,
        grad: Tensor<B, D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<B, D>, Option<Self::State<D>>) {
        let Some(state) = state else {
            let init = AdoptState {
                time: 1,
                moment_1: grad.zeros_like(),
                moment_2: grad.square(),
            };
            return (tensor, Some(init));
        };
        let time = state.time + 1;
        let denom = state.moment_2.clone().sqrt().clamp_min(self.epsilon);
        let mut normed = grad.clone().div(denom);
        if self.clip {
            let c = (time as f64).powf(0.25);
            normed = normed.clamp(-c, c);
        }
        let moment_1 = state
            .moment_1
            .mul_scalar(self.beta_1)
            .add(normed.mul_scalar(1.0 - self.beta_1));
        let updated = tensor - moment_1.clone().mul_scalar(lr);
        let moment_2 = state
            .moment_2
            .mul_scalar(self.beta_2)
            .add(grad.square().mul_scalar(1.0 - self.beta_2));
        (
            updated,
            Some(AdoptState {
                time,
                moment_1,
                moment_2,
            }),
        )
    }

    fn to_device<const D: usize>(mut state: Self::State<D>, device: &B::Device) -> Self::State<D> {
        state.moment_1 = state.moment_1.to_device(device);
        state.moment_2 = state.moment_2.to_device(device);
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;

    type B = NdArray;

    fn t(v: &[f32]) -> Tensor<B, 1> {
        Tensor::from_floats(v, &Default::default())
    }

    fn vals(x: Tensor<B, 1>) -> Vec<f32> {
        x.into_data().to_vec().unwrap()
    }

    #[test]
    fn steps_match_hand_computation() {
        let opt = Adopt {
            beta_1: 0.9,
            beta_2: 0.5,
            epsilon: 1e-6,
            clip: true,
        };
        // Step 1: only v = g² = [4, 0.25]; θ unchanged.
        let (p, s) = SimpleOptimizer::<B>::step(&opt, 0.1, t(&[1.0, -1.0]), t(&[2.0, -0.5]), None);
        assert_eq!(vals(p.clone()), vec![1.0, -1.0]);
        let s = s.unwrap();
        assert_eq!(vals(s.moment_2.clone()), vec![4.0, 0.25]);
        // Step 2 with g = [1, 3]: n = g / √v = [0.5, 6] → clip ±2^¼ = 1.189207 → [0.5, 1.189207];
        // m = 0.1 n = [0.05, 0.1189207]; θ = θ − 0.1 m = [0.995, −1.01189207];
        // v = 0.5 v + 0.5 g² = [2.5, 4.625].
        let (p, s) = SimpleOptimizer::<B>::step(&opt, 0.1, p, t(&[1.0, 3.0]), Some(s));
        let p = vals(p);
        assert!((p[0] - 0.995).abs() < 1e-6, "{p:?}");
        assert!((p[1] + 1.011_892_1).abs() < 1e-6, "{p:?}");
        let s = s.unwrap();
        assert_eq!(s.time, 2);
        let v = vals(s.moment_2);
        assert!(
            (v[0] - 2.5).abs() < 1e-6 && (v[1] - 4.625).abs() < 1e-6,
            "{v:?}"
        );
        let m = vals(s.moment_1);
        assert!(
            (m[0] - 0.05).abs() < 1e-7 && (m[1] - 0.118_920_7).abs() < 1e-6,
            "{m:?}"
        );
    }

    #[test]
    fn epsilon_floors_the_denominator() {
        let opt = Adopt {
            beta_1: 0.0,
            beta_2: 0.9,
            epsilon: 0.5,
            clip: false,
        };
        let (p, s) = SimpleOptimizer::<B>::step(&opt, 1.0, t(&[0.0]), t(&[0.0]), None);
        // v = 0 → denominator 0.5; n = 0.2 / 0.5 = 0.4; m = n (β₁ = 0); θ = −0.4.
        let (p, _) = SimpleOptimizer::<B>::step(&opt, 1.0, p, t(&[0.2]), s);
        assert!((vals(p)[0] + 0.4).abs() < 1e-6);
    }
}
