//! Optimizers from an [`OptimizerConfig`], with PyTorch's defaults and semantics.

use burn::optim::LearningRate;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, AdamWConfig, ModuleOptimizer, Optimizer, SgdConfig};
use burn::tensor::{Device, Tensor};

use crate::config::OptimizerConfig;

/// Applies `decayed` to parameters of rank 2 and more (convolution and linear weights) and
/// `plain`, the same optimizer without weight decay, to rank-1 parameters: biases and BatchNorm
/// scales and shifts. Splitting by rank rather than by parameter id keeps the rule valid after a
/// checkpoint is loaded into a fresh model.
#[derive(Clone)]
struct ExemptRankOne<O> {
    decayed: O,
    plain: O,
}

impl<O: Optimizer> Optimizer for ExemptRankOne<O> {
    type State<const D: usize> = O::State<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let optim = if D == 1 { &self.plain } else { &self.decayed };
        optim.step(lr, tensor, grad, state)
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        O::to_device(state, device)
    }
}

fn split<O: Optimizer>(decayed: O, plain: O, exempt: bool) -> ModuleOptimizer {
    if exempt { ExemptRankOne { decayed, plain }.into() } else { decayed.into() }
}

/// The module optimizer a configuration describes.
///
/// SGD follows `torch.optim.SGD`: dampening defaults to 0 (Burn's own default is 0.1), weight
/// decay is added to the gradient before momentum, Nesterov uses `g + μ·v`.
///
/// ```
/// use zoo_train::config::OptimizerConfig;
/// let sgd = OptimizerConfig::Sgd {
///     momentum: 0.9, dampening: 0.0, nesterov: true, weight_decay: 5e-4, no_decay_bn_bias: true,
/// };
/// let _optimizer = zoo_train::optim::build_optimizer(&sgd);
/// ```
pub fn build_optimizer(config: &OptimizerConfig) -> ModuleOptimizer {
    let decay = |wd: f64| (wd > 0.0).then_some(WeightDecayConfig { penalty: wd as f32 });
    match config {
        OptimizerConfig::Sgd { momentum, dampening, nesterov, weight_decay, no_decay_bn_bias } => {
            let momentum = (*momentum > 0.0).then_some(MomentumConfig {
                momentum: *momentum,
                dampening: *dampening,
                nesterov: *nesterov,
            });
            let make = |wd| SgdConfig::new().with_momentum(momentum.clone()).with_weight_decay(decay(wd)).build();
            split(make(*weight_decay), make(0.0), *no_decay_bn_bias)
        }
        OptimizerConfig::Adam { betas, eps, weight_decay, no_decay_bn_bias } => {
            let make = |wd| {
                AdamConfig::new()
                    .with_beta_1(betas[0])
                    .with_beta_2(betas[1])
                    .with_epsilon(*eps)
                    .with_weight_decay(decay(wd))
                    .build()
            };
            split(make(*weight_decay), make(0.0), *no_decay_bn_bias)
        }
        OptimizerConfig::AdamW { betas, eps, weight_decay, no_decay_bn_bias } => {
            let make = |wd: f64| {
                AdamWConfig::new()
                    .with_beta_1(betas[0])
                    .with_beta_2(betas[1])
                    .with_epsilon(*eps)
                    .with_weight_decay(wd as f32)
                    .build()
            };
            split(make(*weight_decay), make(0.0), *no_decay_bn_bias)
        }
    }
}
