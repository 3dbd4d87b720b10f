//! The zoo's BatchNorm (alone, with ReLU, with residual add and ReLU) against the same layer
//! composed from Burn's ops on flex: outputs, gradients of the input, γ, β and the residual, in
//! training, inference and frozen (inference statistics on an autodiff device) modes; and the
//! running statistics, updated as PyTorch does (unbiased variance). Tolerance: 1e-4 of the
//! reference's largest magnitude.

use burn::module::{Param, RunningState};
use burn::nn::{BatchNorm, BatchNormConfig};
use burn::tensor::{Device, Distribution, Tensor, activation};
use zoo_kernels::{Kernels, batch_norm, kernel_calls};

mod common;
use common::{on, values};

/// The layers' ε.
const EPSILON: f32 = 1e-3;

const SHAPES: &[[usize; 4]] =
    &[[7, 16, 13, 11], [1, 3, 32, 32], [7, 64, 8, 8], [1, 260, 5, 3], [7, 1, 9, 7], [2, 16, 1, 1]];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Fusion {
    None,
    Relu,
    AddRelu,
    Add,
}

const FUSIONS: [Fusion; 4] = [Fusion::None, Fusion::Relu, Fusion::AddRelu, Fusion::Add];

impl Fusion {
    fn relu(self) -> bool {
        matches!(self, Fusion::Relu | Fusion::AddRelu)
    }
    fn residual(self) -> bool {
        matches!(self, Fusion::AddRelu | Fusion::Add)
    }
}

/// Relative closeness, except for values that are sums over the `per_channel` values of a
/// channel which can cancel to almost nothing (the inputs are drawn afresh each run): gamma's and
/// beta's gradients (terms of order one) and, in training, the input gradient (terms up to
/// `input_term`, the largest γ/σ · upstream) are held to the rounding error of such a sum instead.
/// With two values per channel the training input gradient is zero but for rounding: the
/// normalised output is ±1 whatever the input.
fn assert_close(what: &str, context: &str, actual: Vec<f32>, expected: Vec<f32>, per_channel: usize, input_term: f32) {
    let sum_error = |term: f32| per_channel as f32 * f32::EPSILON * term / 1e-4;
    let min_scale = match what {
        "gamma gradient" | "beta gradient" => sum_error(1.0),
        "input gradient" => sum_error(input_term),
        _ => 1e-12,
    };
    common::assert_within_scale(&format!("{what} ({context})"), &actual, &expected, 1e-4, min_scale);
}

/// Random inputs of one case, drawn once and shared by both implementations (tests run in
/// parallel and share the random generator, so drawing twice would not give the same values).
struct Data {
    gamma: Tensor<1>,
    beta: Tensor<1>,
    running_mean: Tensor<1>,
    running_var: Tensor<1>,
    x: Tensor<4>,
    residual: Tensor<4>,
    upstream: Tensor<4>,
}

fn data(dims: [usize; 4]) -> Data {
    let plain = Device::flex();
    let channels = dims[1];
    let uniform = Distribution::Uniform(0.5, 1.5);
    let normal = Distribution::Normal(0.0, 1.0);
    Data {
        gamma: Tensor::random([channels], uniform, &plain),
        beta: Tensor::random([channels], normal, &plain),
        running_mean: Tensor::random([channels], normal, &plain),
        running_var: Tensor::random([channels], uniform, &plain),
        x: Tensor::random(dims, Distribution::Normal(1.5, 2.0), &plain),
        residual: Tensor::random(dims, normal, &plain),
        upstream: Tensor::random(dims, normal, &plain),
    }
}

/// A layer on `device` with the case's γ, β and running statistics.
fn layer(data: &Data, device: &Device) -> BatchNorm {
    let mut norm = BatchNormConfig::new(data.gamma.dims()[0]).with_epsilon(EPSILON as f64).init(device);
    norm.gamma = Param::from_tensor(on(data.gamma.clone(), device));
    norm.beta = Param::from_tensor(on(data.beta.clone(), device));
    norm.running_mean = RunningState::new(on(data.running_mean.clone(), device));
    norm.running_var = RunningState::new(on(data.running_var.clone(), device));
    norm
}

/// The same layer from Burn's ops, with PyTorch's running-statistics update.
fn reference(norm: &BatchNorm, x: Tensor<4>, residual: Option<Tensor<4>>, relu: bool, training: bool) -> Tensor<4> {
    let y = if training {
        let [n, _, h, w] = x.dims();
        let out = burn::tensor::module::batch_norm_train(x, norm.gamma.val(), norm.beta.val(), norm.epsilon);
        let count = (n * h * w) as f64;
        let unbiased = if count > 1.0 { out.variance.mul_scalar(count / (count - 1.0)) } else { out.variance };
        let m = norm.momentum;
        norm.running_mean
            .update(norm.running_mean.value_sync().mul_scalar(1.0 - m).add(out.mean.mul_scalar(m)).detach());
        norm.running_var.update(norm.running_var.value_sync().mul_scalar(1.0 - m).add(unbiased.mul_scalar(m)).detach());
        out.output
    } else {
        burn::tensor::module::batch_norm(
            x,
            norm.gamma.val(),
            norm.beta.val(),
            norm.running_mean.value_sync(),
            norm.running_var.value_sync(),
            norm.epsilon,
        )
    };
    let y = match residual {
        Some(r) => y + r,
        None => y,
    };
    if relu { activation::relu(y) } else { y }
}

/// Outputs, then gradients (x, γ, β, residual), then running mean and variance.
fn run(data: &Data, fusion: Fusion, zoo: bool, device: &Device, frozen: bool) -> Vec<Vec<f32>> {
    let mut norm = layer(data, device);
    if frozen {
        // Inference statistics on the training device, γ and β still trained.
        norm.training = norm.training.with_value(false);
    }
    let (x, residual, upstream) = (data.x.clone(), data.residual.clone(), data.upstream.clone());
    let autodiff = device.is_autodiff();
    let x = on(x, device);
    let x = if autodiff { x.require_grad() } else { x };
    let residual = fusion.residual().then(|| {
        let r = on(residual, device);
        if autodiff { r.require_grad() } else { r }
    });
    let training = autodiff && !frozen;
    let y = if zoo {
        batch_norm(&norm, x.clone(), residual.clone(), fusion.relu())
    } else {
        reference(&norm, x.clone(), residual.clone(), fusion.relu(), training)
    };
    let mut out = vec![values(y.clone())];
    if autodiff {
        let grads = (y * on(upstream, device)).sum().backward();
        out.push(values(x.grad(&grads).unwrap()));
        out.push(values(norm.gamma.val().grad(&grads).unwrap()));
        out.push(values(norm.beta.val().grad(&grads).unwrap()));
        if let Some(r) = residual {
            out.push(values(r.grad(&grads).unwrap()));
        }
    }
    out.push(values(norm.running_mean.value_sync()));
    out.push(values(norm.running_var.value_sync()));
    out
}

/// The largest term of the training input gradient's per-channel sums: max over channels of
/// γ / sqrt(batch variance + ε), times the largest upstream gradient.
fn input_gradient_term(data: &Data, epsilon: f32) -> f32 {
    let [n, c, h, w] = data.x.dims();
    let (x, gamma) = (values(data.x.clone()), values(data.gamma.clone()));
    let upstream = values(data.upstream.clone()).iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let per_channel = |k: usize| (0..n).flat_map(move |i| (0..h * w).map(move |j| (i * c + k) * h * w + j));
    let gain = (0..c)
        .map(|k| {
            let count = (n * h * w) as f32;
            let mean = per_channel(k).map(|i| x[i]).sum::<f32>() / count;
            let variance = per_channel(k).map(|i| (x[i] - mean).powi(2)).sum::<f32>() / count;
            gamma[k].abs() / (variance + epsilon).sqrt()
        })
        .fold(0.0f32, f32::max);
    gain * upstream
}

fn compare(device: Device, frozen: bool, mode: &str) {
    let training = device.is_autodiff() && !frozen;
    const NAMES: [&str; 7] =
        ["output", "input gradient", "gamma gradient", "beta gradient", "residual gradient", "", ""];
    for &dims in SHAPES {
        let data = data(dims);
        for fusion in FUSIONS {
            let actual = run(&data, fusion, true, &device, frozen);
            let expected = run(&data, fusion, false, &device, frozen);
            assert_eq!(actual.len(), expected.len());
            let count = actual.len();
            for (i, (a, e)) in actual.into_iter().zip(expected).enumerate() {
                let name = match count - i {
                    2 => "running mean",
                    1 => "running variance",
                    _ => NAMES[i],
                };
                let per_channel = dims[0] * dims[2] * dims[3];
                let term = if training { input_gradient_term(&data, EPSILON) } else { 0.0 };
                assert_close(name, &format!("{mode}, {dims:?}, {fusion:?}"), a, e, per_channel, term);
            }
        }
    }
}

#[test]
fn training_matches_burn_and_pytorch_running_statistics() {
    let before = kernel_calls();
    compare(Device::flex().autodiff(), false, "training");
    let calls = kernel_calls().since(before);
    if Kernels::from_env().ok().flatten().unwrap_or(Kernels::Zoo) == Kernels::Zoo {
        let cases = (SHAPES.len() * FUSIONS.len()) as u64;
        assert!(calls.batch_norm_forward >= cases && calls.batch_norm_backward >= cases, "{calls:?}");
    }
}

#[test]
fn training_with_checkpointing_matches_burn() {
    compare(Device::flex().autodiff().gradient_checkpointing(), false, "training, checkpointing");
}

#[test]
fn inference_matches_burn() {
    compare(Device::flex(), false, "inference");
}

#[test]
fn frozen_layer_matches_burn() {
    compare(Device::flex().autodiff(), true, "frozen");
}

/// The running statistics follow PyTorch's update: after one training step on a known batch,
/// mean = 0.9 · 0 + 0.1 · batch mean, var = 0.9 · 1 + 0.1 · unbiased batch variance.
#[test]
fn running_statistics_use_the_unbiased_variance() {
    let device = Device::flex().autodiff();
    let norm = BatchNormConfig::new(1).init(&device);
    // Values 1..=8 over a [2, 1, 2, 2] batch: mean 4.5, unbiased variance 6.
    let x = Tensor::<1>::from_floats([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], &device).reshape([2, 1, 2, 2]);
    batch_norm(&norm, x, None, false);
    let mean = values(norm.running_mean.value_sync())[0];
    let var = values(norm.running_var.value_sync())[0];
    assert!((mean - 0.45).abs() < 1e-6, "running mean {mean}");
    assert!((var - 1.5).abs() < 1e-6, "running variance {var}");
}
