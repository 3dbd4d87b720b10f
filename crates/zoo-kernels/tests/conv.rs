//! The zoo's convolution against Burn's own on flex: forward values and both gradients (and the
//! bias's), through autodiff on both paths, over a grid of shapes — batch 1 and 7, odd sizes,
//! strides 1/2/4, asymmetric padding, every kernel shape the zoo's models use, and 1, 3, 16, 64
//! and 260 channels. Tolerance: 1e-4 of the reference's largest magnitude.

use burn::tensor::module::conv2d as burn_conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Distribution, Tensor};
use zoo_kernels::{Kernels, conv2d, kernel_calls};

mod common;
use common::{on, values};

#[derive(Debug, Clone, Copy)]
struct Case {
    batch: usize,
    channels: [usize; 2],
    size: [usize; 2],
    kernel: [usize; 2],
    stride: [usize; 2],
    /// `[(top, bottom), (left, right)]`
    padding: [(usize, usize); 2],
    bias: bool,
}

const fn case(
    batch: usize,
    channels: [usize; 2],
    size: [usize; 2],
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [(usize, usize); 2],
    bias: bool,
) -> Case {
    Case { batch, channels, size, kernel, stride, padding, bias }
}

const P0: [(usize, usize); 2] = [(0, 0), (0, 0)];
const P1: [(usize, usize); 2] = [(1, 1), (1, 1)];

const CASES: &[Case] = &[
    // 1x1: ResNet bottlenecks and projection shortcuts (stride 2).
    case(7, [16, 64], [9, 11], [1, 1], [1, 1], P0, false),
    case(1, [64, 16], [8, 7], [1, 1], [2, 2], P0, true),
    // 3x3: the CIFAR ResNets' shapes, strides 1, 2, 4, 260 channels.
    case(7, [3, 16], [13, 11], [3, 3], [1, 1], P1, true),
    case(7, [16, 32], [15, 17], [3, 3], [2, 2], P1, false),
    case(1, [64, 64], [8, 8], [3, 3], [1, 1], P1, false),
    case(1, [260, 3], [6, 7], [3, 3], [1, 1], P1, false),
    case(1, [16, 260], [5, 6], [3, 3], [1, 1], P1, true),
    case(7, [3, 16], [17, 19], [3, 3], [4, 4], [(1, 1), (1, 1)], false),
    case(7, [16, 1], [7, 7], [3, 3], [1, 1], P1, true),
    case(1, [16, 16], [10, 13], [3, 3], [2, 1], [(1, 0), (0, 1)], false),
    case(1, [3, 4], [5, 5], [3, 3], [1, 1], [(3, 3), (3, 3)], true),
    // Planes under 64 pixels take the packed paths: ResNet-18's 2x2 and 4x4 maps at 64x64 input
    // (one panel holds pixels of several images), its stride-2 entry and projection.
    case(7, [64, 24], [2, 2], [3, 3], [1, 1], P1, true),
    case(7, [24, 32], [7, 5], [3, 3], [2, 2], P1, false),
    case(7, [32, 24], [4, 4], [1, 1], [2, 2], P0, false),
    case(1, [8, 8], [1, 1], [3, 3], [1, 1], [(1, 2), (2, 1)], true),
    // 5x5: LeNet-5 (1 and 6 channels in), and an asymmetric, strided one.
    case(7, [1, 6], [32, 32], [5, 5], [1, 1], P0, true),
    case(1, [6, 16], [14, 14], [5, 5], [1, 1], P0, true),
    case(7, [3, 16], [11, 9], [5, 5], [2, 2], [(2, 1), (0, 2)], false),
    case(7, [3, 8], [5, 5], [5, 5], [1, 1], P0, false),
    // 7x7: the ImageNet stem (stride 2), and stride 4 with asymmetric padding.
    case(1, [3, 64], [23, 21], [7, 7], [2, 2], [(3, 3), (3, 3)], false),
    case(7, [16, 3], [9, 10], [7, 7], [4, 4], [(3, 0), (1, 2)], true),
    // 11x11 stride 4: AlexNet's first layer.
    case(1, [3, 16], [35, 33], [11, 11], [4, 4], [(2, 2), (2, 2)], true),
    // Inception v3's factorised kernels.
    case(7, [16, 16], [9, 9], [1, 7], [1, 1], [(0, 0), (3, 3)], false),
    case(1, [16, 16], [9, 9], [7, 1], [1, 1], [(3, 3), (0, 0)], true),
    case(1, [64, 16], [8, 8], [1, 3], [1, 1], [(0, 0), (1, 1)], false),
    case(7, [16, 64], [8, 8], [3, 1], [1, 1], [(1, 1), (0, 0)], false),
];

fn options(case: &Case) -> ConvOptions<2> {
    ConvOptions::new_with_padding(case.stride, case.padding, [1, 1], 1)
}

struct Inputs {
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    /// Upstream gradient: the loss is `Σ y * upstream`.
    upstream: Tensor<4>,
}

fn inputs(case: &Case, device: &Device) -> Inputs {
    let [c_in, c_out] = case.channels;
    let [h, w] = case.size;
    let [kh, kw] = case.kernel;
    let normal = Distribution::Normal(0.0, 1.0);
    let x = Tensor::<4>::random([case.batch, c_in, h, w], normal, device);
    let weight = Tensor::<4>::random([c_out, c_in, kh, kw], normal, device);
    let bias = case.bias.then(|| Tensor::<1>::random([c_out], normal, device));
    let y = burn_conv2d(x.clone(), weight.clone(), bias.clone(), options(case));
    let upstream = Tensor::<4>::random(y.dims(), normal, device);
    Inputs { x, weight, bias, upstream }
}

/// Fails unless `actual` is within 1e-4 of `expected`'s largest magnitude everywhere.
fn assert_close(what: &str, case: &Case, actual: Vec<f32>, expected: Vec<f32>) {
    common::assert_within(&format!("{what} of {case:?}"), &actual, &expected, 1e-4);
}

fn zoo_selected() -> bool {
    Kernels::from_env().ok().flatten().unwrap_or(Kernels::Zoo) == Kernels::Zoo
}

#[test]
fn forward_matches_burn() {
    let device = Device::flex();
    device.seed(1);
    let before = kernel_calls();
    for case in CASES {
        let inputs = inputs(case, &device);
        let expected = burn_conv2d(inputs.x.clone(), inputs.weight.clone(), inputs.bias.clone(), options(case));
        let actual = conv2d(inputs.x, inputs.weight, inputs.bias, options(case));
        assert_eq!(actual.dims(), expected.dims(), "{case:?}");
        assert_close("forward", case, values(actual), values(expected));
    }
    if zoo_selected() {
        assert!(kernel_calls().since(before).conv_forward >= CASES.len() as u64, "the zoo kernels did not run");
    }
}

/// Gradients of `Σ conv(x, w, b) * upstream` with respect to x, w and b.
fn gradients(case: &Case, inputs: &Inputs, zoo: bool, device: &Device) -> Vec<Vec<f32>> {
    let x = on(inputs.x.clone(), device).require_grad();
    let weight = on(inputs.weight.clone(), device).require_grad();
    let bias = inputs.bias.clone().map(|b| on(b, device).require_grad());
    let y = if zoo {
        conv2d(x.clone(), weight.clone(), bias.clone(), options(case))
    } else {
        burn_conv2d(x.clone(), weight.clone(), bias.clone(), options(case))
    };
    let loss = (y * on(inputs.upstream.clone(), device)).sum();
    let grads = loss.backward();
    let mut out = vec![values(x.grad(&grads).unwrap()), values(weight.grad(&grads).unwrap())];
    if let Some(b) = bias {
        out.push(values(b.grad(&grads).unwrap()));
    }
    out
}

fn check_gradients(device: Device) {
    let plain = Device::flex();
    plain.seed(2);
    let before = kernel_calls();
    for case in CASES {
        let inputs = inputs(case, &plain);
        let expected = gradients(case, &inputs, false, &device);
        let actual = gradients(case, &inputs, true, &device);
        for ((name, actual), expected) in
            ["input gradient", "weight gradient", "bias gradient"].iter().zip(actual).zip(expected)
        {
            assert_close(name, case, actual, expected);
        }
    }
    if zoo_selected() {
        let calls = kernel_calls().since(before);
        assert!(
            calls.conv_input_grad >= CASES.len() as u64 && calls.conv_weight_grad >= CASES.len() as u64,
            "{calls:?}"
        );
    }
}

#[test]
fn gradients_match_burn() {
    check_gradients(Device::flex().autodiff());
}

#[test]
fn gradients_match_burn_with_checkpointing() {
    check_gradients(Device::flex().autodiff().gradient_checkpointing());
}

/// Only one of the two inputs tracked: the other gradient is not computed, the tracked one is
/// still right.
#[test]
fn gradient_of_one_input_only() {
    let device = Device::flex().autodiff();
    device.seed(3);
    let case = &CASES[3];
    let inputs = inputs(case, &Device::flex());
    for track_x in [true, false] {
        let run = |zoo: bool| {
            let mut x = on(inputs.x.clone(), &device);
            let mut weight = on(inputs.weight.clone(), &device);
            if track_x {
                x = x.require_grad();
            } else {
                weight = weight.require_grad();
            }
            let y = if zoo {
                conv2d(x.clone(), weight.clone(), None, options(case))
            } else {
                burn_conv2d(x.clone(), weight.clone(), None, options(case))
            };
            let grads = (y * on(inputs.upstream.clone(), &device)).sum().backward();
            let tracked = if track_x { x.grad(&grads) } else { weight.grad(&grads) };
            let untracked = if track_x { weight.grad(&grads) } else { x.grad(&grads) };
            assert!(untracked.is_none());
            values(tracked.unwrap())
        };
        assert_close("gradient of the tracked input", case, run(true), run(false));
    }
}

/// Inputs that are views (transposed, sliced) and a view as the upstream gradient.
#[test]
fn strided_views() {
    let device = Device::flex().autodiff();
    device.seed(4);
    let normal = Distribution::Normal(0.0, 1.0);
    let base = Tensor::<4>::random([3, 8, 11, 13], normal, &Device::flex());
    let weight = Tensor::<4>::random([5, 8, 3, 3], normal, &Device::flex());
    let case = case(3, [8, 5], [13, 9], [3, 3], [1, 1], P1, false);
    let run = |zoo: bool| {
        // A transposed view, then a slice of it: neither is a dense buffer.
        let x = on(base.clone(), &device).swap_dims(2, 3).slice([0..3, 0..8, 0..13, 1..10]).require_grad();
        let w = on(weight.clone(), &device).require_grad();
        let y = if zoo {
            conv2d(x.clone(), w.clone(), None, options(&case))
        } else {
            burn_conv2d(x.clone(), w.clone(), None, options(&case))
        };
        let [n, c, h, wd] = y.dims();
        let upstream = Tensor::<4>::ones([n, c, wd, h], &device).swap_dims(2, 3);
        let grads = (y.clone() * upstream).sum().backward();
        [values(y), values(x.grad(&grads).unwrap()), values(w.grad(&grads).unwrap())]
    };
    for ((name, actual), expected) in
        ["forward", "input gradient", "weight gradient"].iter().zip(run(true)).zip(run(false))
    {
        assert_close(name, &case, actual, expected);
    }
}

/// Grouped and dilated convolutions are Burn's: same values as Burn's op.
#[test]
fn grouped_and_dilated_fall_back_to_burn() {
    let device = Device::flex();
    let normal = Distribution::Normal(0.0, 1.0);
    let x = Tensor::<4>::random([2, 8, 9, 9], normal, &device);
    for (groups, dilation) in [(2, [1, 1]), (1, [2, 2])] {
        let weight = Tensor::<4>::random([4, 8 / groups, 3, 3], normal, &device);
        let options = ConvOptions::new_with_padding([1, 1], [(1, 1), (1, 1)], dilation, groups);
        let expected = burn_conv2d(x.clone(), weight.clone(), None, options.clone());
        let actual = conv2d(x.clone(), weight, None, options);
        assert_eq!(values(actual), values(expected));
    }
}
