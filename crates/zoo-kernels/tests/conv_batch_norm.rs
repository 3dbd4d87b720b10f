//! `conv_batch_norm` (a convolution, a BatchNorm, a residual add and a ReLU, fused into one
//! kernel in inference) against the same layers from Burn's ops: inference on the plain device,
//! a frozen BatchNorm on the autodiff device (values and gradients), and training (values and
//! running statistics). Tolerance: 1e-4 of the reference's largest magnitude.

use burn::module::{Param, RunningState};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::tensor::{Device, Distribution, Tensor, activation};
use zoo_kernels::{Kernels, conv_batch_norm, kernel_calls};

mod common;
use common::{on, values};

fn assert_close(what: &str, actual: Vec<f32>, expected: Vec<f32>) {
    common::assert_within(what, &actual, &expected, 1e-4);
}

/// One block's layers on `device`, with non-trivial BatchNorm parameters drawn on `plain`.
fn layers(stride: usize, device: &Device, draws: &[Tensor<1>; 4]) -> (Conv2d, BatchNorm) {
    let conv = Conv2dConfig::new([8, 16], [3, 3])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .with_bias(false)
        .init(device);
    let mut norm = BatchNormConfig::new(16).init(device);
    norm.gamma = Param::from_tensor(on(draws[0].clone(), device));
    norm.beta = Param::from_tensor(on(draws[1].clone(), device));
    norm.running_mean = RunningState::new(on(draws[2].clone(), device));
    norm.running_var = RunningState::new(on(draws[3].clone(), device));
    (conv, norm)
}

fn draws() -> [Tensor<1>; 4] {
    let plain = Device::flex();
    let normal = Distribution::Normal(0.0, 1.0);
    let uniform = Distribution::Uniform(0.5, 1.5);
    [
        Tensor::random([16], uniform, &plain),
        Tensor::random([16], normal, &plain),
        Tensor::random([16], normal, &plain),
        Tensor::random([16], uniform, &plain),
    ]
}

fn reference(conv: &Conv2d, norm: &BatchNorm, x: Tensor<4>, residual: Option<Tensor<4>>, relu: bool) -> Tensor<4> {
    let y = burn::tensor::module::batch_norm(
        conv.forward(x),
        norm.gamma.val(),
        norm.beta.val(),
        norm.running_mean.value(),
        norm.running_var.value(),
        norm.epsilon,
    );
    let y = match residual {
        Some(r) => y + r,
        None => y,
    };
    if relu { activation::relu(y) } else { y }
}

#[test]
fn inference_is_one_fused_kernel_equal_to_burn() {
    let device = Device::flex();
    let draws = draws();
    for stride in [1, 2] {
        let (conv, norm) = layers(stride, &device, &draws);
        let x = Tensor::<4>::random([3, 8, 9, 10], Distribution::Normal(0.0, 1.0), &device);
        let out = conv.forward(x.clone()).dims();
        let residual = Tensor::<4>::random(out, Distribution::Normal(0.0, 1.0), &device);
        for (with_residual, relu) in [(false, false), (false, true), (true, true), (true, false)] {
            let r = with_residual.then(|| residual.clone());
            let before = kernel_calls();
            let fused = conv_batch_norm(&conv, Some(&norm), x.clone(), r.clone(), relu);
            let calls = kernel_calls().since(before);
            if Kernels::from_env().ok().flatten().unwrap_or(Kernels::Zoo) == Kernels::Zoo {
                // One fused kernel (the counts are per process: other tests may add to them).
                assert!(calls.conv_batch_norm_fused >= 1, "{calls:?}");
            }
            let expected = reference(&conv, &norm, x.clone(), r, relu);
            assert_close(
                &format!("stride {stride}, residual {with_residual}, relu {relu}"),
                values(fused),
                values(expected),
            );
        }
    }
}

#[test]
fn frozen_batch_norm_on_the_training_device_has_gradients() {
    let device = Device::flex().autodiff();
    let draws = draws();
    let (conv, mut norm) = layers(1, &device, &draws);
    norm.training = norm.training.with_value(false);
    let x = Tensor::<4>::random([2, 8, 6, 7], Distribution::Normal(0.0, 1.0), &Device::flex());
    let residual = Tensor::<4>::random([2, 16, 6, 7], Distribution::Normal(0.0, 1.0), &Device::flex());
    let run = |fused: bool| {
        let (x, r) = (on(x.clone(), &device).require_grad(), on(residual.clone(), &device).require_grad());
        let y = if fused {
            conv_batch_norm(&conv, Some(&norm), x.clone(), Some(r.clone()), true)
        } else {
            reference(&conv, &norm, x.clone(), Some(r.clone()), true)
        };
        let grads = (y.clone() * y.clone()).sum().backward();
        [
            values(y),
            values(x.grad(&grads).unwrap()),
            values(r.grad(&grads).unwrap()),
            values(conv.weight.val().grad(&grads).unwrap()),
            values(norm.gamma.val().grad(&grads).unwrap()),
        ]
    };
    let names = ["output", "input gradient", "residual gradient", "weight gradient", "gamma gradient"];
    for ((name, a), e) in names.iter().zip(run(true)).zip(run(false)) {
        assert_close(name, a, e);
    }
}

#[test]
fn training_normalises_with_the_batch_and_updates_running_statistics() {
    let device = Device::flex().autodiff();
    let draws = draws();
    let x = Tensor::<4>::random([4, 8, 6, 6], Distribution::Normal(0.0, 1.0), &Device::flex());
    let (conv, norm) = layers(1, &device, &draws);
    let fused = conv_batch_norm(&conv, Some(&norm), on(x.clone(), &device), None, true);
    let expected = zoo_kernels::batch_norm(&norm, conv.forward(on(x, &device)), None, true);
    assert_close("training output", values(fused), values(expected));
    // Both calls updated the running mean from the same batch: 0.9^2 m + 0.9 * 0.1 b + 0.1 b.
    let mean = values(norm.running_mean.value_sync());
    assert!(mean.iter().zip(values(draws[2].clone())).any(|(now, start)| (now - start).abs() > 1e-6));
}

#[test]
fn a_folded_batch_norm_leaves_the_convolution_its_bias() {
    let device = Device::flex();
    let conv = Conv2dConfig::new([3, 4], [3, 3]).init(&device);
    let x = Tensor::<4>::random([2, 3, 7, 7], Distribution::Normal(0.0, 1.0), &device);
    let y = conv_batch_norm(&conv, None, x.clone(), None, true);
    assert_close("folded", values(y), values(activation::relu(conv.forward(x))));
}
