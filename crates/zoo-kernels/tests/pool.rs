//! The zoo's pooling against Burn's own on flex: outputs and input gradients (through autodiff)
//! of max pooling (LeNet-5's 2x2, ResNet's 3x3/2 with padding, GoogLeNet's ceil mode, dilation,
//! asymmetric padding, NaN), average pooling (with and without the padding in the divisor, ceil
//! mode) and global average pooling. Tolerance: 1e-5 of the reference's largest magnitude.

use burn::nn::PaddingConfig2d;
use burn::nn::pool::{AdaptiveAvgPool2dConfig, AvgPool2dConfig, MaxPool2dConfig};
use burn::tensor::{Device, Distribution, Tensor};
use zoo_kernels::{Kernels, adaptive_avg_pool2d_module, avg_pool2d_module, kernel_calls, max_pool2d_module};

mod common;
use common::{on, values};

fn assert_close(what: &str, actual: Vec<f32>, expected: Vec<f32>) {
    common::assert_within(what, &actual, &expected, 1e-5);
}

/// Output and input gradient of `Σ pool(x) * upstream`, through `run`.
fn forward_backward(x: &Tensor<4>, run: &dyn Fn(Tensor<4>) -> Tensor<4>) -> [Vec<f32>; 2] {
    let device = Device::flex().autodiff();
    let xg = on(x.clone(), &device).require_grad();
    let y = run(xg.clone());
    // A fixed, non-uniform upstream gradient: 1, 2, 3, ... over the output.
    let count = y.dims().iter().product::<usize>();
    let upstream = Tensor::<1>::from_floats((1..=count).map(|i| i as f32).collect::<Vec<_>>().as_slice(), &device)
        .reshape(y.dims());
    let grads = (y.clone() * upstream).sum().backward();
    [values(y), values(xg.grad(&grads).unwrap())]
}

fn compare(what: &str, x: Tensor<4>, zoo: &dyn Fn(Tensor<4>) -> Tensor<4>, burn: &dyn Fn(Tensor<4>) -> Tensor<4>) {
    // Inference on the plain device, then forward and backward on the autodiff one.
    assert_close(&format!("{what}: inference"), values(zoo(x.clone())), values(burn(x.clone())));
    let [y, dx] = forward_backward(&x, zoo);
    let [y_ref, dx_ref] = forward_backward(&x, burn);
    assert_close(&format!("{what}: training output"), y, y_ref);
    assert_close(&format!("{what}: input gradient"), dx, dx_ref);
}

fn random(dims: [usize; 4]) -> Tensor<4> {
    Tensor::random(dims, Distribution::Normal(0.0, 1.0), &Device::flex())
}

#[test]
fn max_pooling_matches_burn() {
    let before = kernel_calls();
    let cases: [(&str, [usize; 4], MaxPool2dConfig); 7] = [
        ("LeNet-5 2x2/2", [7, 6, 28, 28], MaxPool2dConfig::new([2, 2]).with_strides([2, 2])),
        ("odd input 2x2/2", [1, 16, 11, 9], MaxPool2dConfig::new([2, 2]).with_strides([2, 2])),
        (
            "ResNet stem 3x3/2 pad 1",
            [2, 64, 15, 17],
            MaxPool2dConfig::new([3, 3]).with_strides([2, 2]).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)),
        ),
        (
            "GoogLeNet 3x3/2 ceil",
            [2, 8, 14, 13],
            MaxPool2dConfig::new([3, 3]).with_strides([2, 2]).with_ceil_mode(true),
        ),
        (
            "3x3/1 pad 1",
            [1, 3, 7, 7],
            MaxPool2dConfig::new([3, 3]).with_strides([1, 1]).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)),
        ),
        ("dilated 3x3", [2, 4, 12, 11], MaxPool2dConfig::new([3, 3]).with_strides([1, 2]).with_dilation([2, 2])),
        (
            "asymmetric padding",
            [2, 5, 9, 8],
            MaxPool2dConfig::new([2, 3]).with_strides([2, 2]).with_padding(PaddingConfig2d::Explicit(1, 0, 0, 2)),
        ),
    ];
    for (what, dims, config) in &cases {
        let pool = config.init();
        compare(what, random(*dims), &|x| max_pool2d_module(&pool, x), &|x| pool.forward(x));
    }
    if Kernels::from_env().ok().flatten().unwrap_or(Kernels::Zoo) == Kernels::Zoo {
        let calls = kernel_calls().since(before);
        // Per case: inference, then the training forward (zoo and Burn) and one zoo backward.
        assert!(calls.pool_forward >= 2 * cases.len() as u64 && calls.pool_backward >= cases.len() as u64, "{calls:?}");
    }
}

#[test]
fn max_pooling_propagates_nan() {
    let pool = MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init();
    let x = Tensor::<4>::from_floats([[[[1.0, f32::NAN, 5.0, 2.0], [3.0, 4.0, 1.0, 0.0]]]], &Device::flex());
    let y = values(max_pool2d_module(&pool, x.clone()));
    assert!(y[0].is_nan() && y[1] == 5.0, "{y:?}");
    assert_close("NaN", y, values(pool.forward(x)));
}

#[test]
fn average_pooling_matches_burn() {
    let cases: [(&str, [usize; 4], AvgPool2dConfig); 5] = [
        ("DenseNet transition 2x2/2", [7, 16, 8, 8], AvgPool2dConfig::new([2, 2]).with_strides([2, 2])),
        ("LeNet-5 classic, odd input", [1, 6, 29, 27], AvgPool2dConfig::new([2, 2]).with_strides([2, 2])),
        (
            "Inception 3x3/1 pad 1, padding counted",
            [2, 8, 7, 9],
            AvgPool2dConfig::new([3, 3]).with_strides([1, 1]).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)),
        ),
        (
            "3x3/1 pad 1, padding not counted",
            [2, 8, 7, 9],
            AvgPool2dConfig::new([3, 3])
                .with_strides([1, 1])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .with_count_include_pad(false),
        ),
        (
            "3x3/2 pad 1 ceil",
            [1, 3, 10, 10],
            AvgPool2dConfig::new([3, 3])
                .with_strides([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .with_ceil_mode(true),
        ),
    ];
    for (what, dims, config) in cases {
        let pool = config.init();
        compare(what, random(dims), &|x| avg_pool2d_module(&pool, x), &|x| pool.forward(x));
    }
}

#[test]
fn global_average_pooling_matches_burn() {
    let pool = AdaptiveAvgPool2dConfig::new([1, 1]).init();
    for dims in [[7, 64, 8, 8], [1, 3, 5, 7], [2, 2048, 7, 7]] {
        compare(&format!("global average {dims:?}"), random(dims), &|x| adaptive_avg_pool2d_module(&pool, x), &|x| {
            pool.forward(x)
        });
    }
    // Other output sizes are Burn's own.
    let pool = AdaptiveAvgPool2dConfig::new([2, 3]).init();
    let x = random([2, 4, 7, 9]);
    assert_eq!(values(adaptive_avg_pool2d_module(&pool, x.clone())), values(pool.forward(x)));
}
