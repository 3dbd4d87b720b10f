//! The optimizers follow torch.optim's update rules.

use burn::module::Param;
use burn::nn::{Linear, LinearConfig};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};
use zoo_train::config::OptimizerConfig;
use zoo_train::optim::build_optimizer;

fn device() -> Device {
    Device::flex().autodiff()
}

/// A 2x2 linear layer with known weights: weight = 1, bias = 1.
fn layer() -> Linear {
    let mut l: Linear = LinearConfig::new(2, 2).init(&device());
    l.weight = Param::from_tensor(Tensor::from_data(TensorData::new(vec![1.0f32; 4], [2, 2]), &device()));
    l.bias = Some(Param::from_tensor(Tensor::from_data(TensorData::new(vec![1.0f32; 2], [2]), &device())));
    l
}

/// Gradients of `scale * sum(params)`: every gradient is `scale`.
fn grads(l: &Linear, scale: f32) -> GradientsParams {
    let loss = l.weight.val().sum().mul_scalar(scale) + l.bias.as_ref().unwrap().val().sum().mul_scalar(scale);
    GradientsParams::from_grads(loss.backward(), l)
}

fn values(l: &Linear) -> (Vec<f32>, Vec<f32>) {
    let w = l.weight.val().into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
    let b = l.bias.as_ref().unwrap().val().into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
    (w, b)
}

fn close(a: f32, b: f32) -> bool {
    (a - b).abs() < 1e-6
}

#[test]
fn sgd_momentum_has_no_dampening_like_pytorch() {
    let config = OptimizerConfig::Sgd {
        momentum: 0.9,
        dampening: 0.0,
        nesterov: false,
        weight_decay: 0.0,
        no_decay_bn_bias: false,
    };
    let mut optim = build_optimizer(&config);
    let mut l = layer();
    // PyTorch: v1 = g = 1, p = 1 - 0.1; v2 = 0.9 v1 + g = 1.9, p = 0.9 - 0.19.
    let g = grads(&l, 1.0);
    l = optim.step(0.1, l, g);
    let g = grads(&l, 1.0);
    l = optim.step(0.1, l, g);
    let (w, b) = values(&l);
    assert!(w.iter().chain(&b).all(|&v| close(v, 0.71)), "{w:?} {b:?}");
}

#[test]
fn nesterov_uses_gradient_plus_momentum_times_velocity() {
    let config = OptimizerConfig::Sgd {
        momentum: 0.9,
        dampening: 0.0,
        nesterov: true,
        weight_decay: 0.0,
        no_decay_bn_bias: false,
    };
    let mut optim = build_optimizer(&config);
    let mut l = layer();
    // Step 1: v = 1, update g + 0.9 v = 1.9 -> p = 1 - 0.19.
    let g = grads(&l, 1.0);
    l = optim.step(0.1, l, g);
    let (w, _) = values(&l);
    assert!(w.iter().all(|&v| close(v, 0.81)), "{w:?}");
}

#[test]
fn weight_decay_can_spare_biases_and_batchnorm() {
    for (exempt, expected_bias) in [(false, 1.0 - 0.1 * 0.5), (true, 1.0)] {
        let config = OptimizerConfig::Sgd {
            momentum: 0.0,
            dampening: 0.0,
            nesterov: false,
            weight_decay: 0.5,
            no_decay_bn_bias: exempt,
        };
        let mut optim = build_optimizer(&config);
        let l = layer();
        let g = grads(&l, 0.0); // only the decay moves the parameters
        let l = optim.step(0.1, l, g);
        let (w, b) = values(&l);
        assert!(w.iter().all(|&v| close(v, 0.95)), "weights always decay: {w:?}");
        assert!(b.iter().all(|&v| close(v, expected_bias)), "exempt={exempt}: {b:?}");
    }
}

#[test]
fn adamw_decay_is_decoupled_from_the_gradient() {
    let config = OptimizerConfig::AdamW { betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0.1, no_decay_bn_bias: false };
    let mut optim = build_optimizer(&config);
    let l = layer();
    let g = grads(&l, 0.0);
    let l = optim.step(0.01, l, g);
    let (w, _) = values(&l);
    // Zero gradient: Adam's step is 0, the decoupled decay gives p (1 - lr wd) = 0.999.
    assert!(w.iter().all(|&v| close(v, 0.999)), "{w:?}");
}
