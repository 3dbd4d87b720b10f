//! The operation that dominates a CPU training step, measured two ways.
//!
//! Burn's `conv2d` backward computes the input gradient as a transposed convolution
//! (`conv_transpose2d`). For stride 1 and symmetric padding `p`, the same gradient is an ordinary
//! convolution of the output gradient with the kernel flipped in space and its two channel axes
//! swapped, padded by `k - 1 - p`: the path both CPU backends have optimised (im2col + GEMM in
//! flex). This benchmark times both formulations at ResNet-20's three 3x3 shapes, batch 128, on
//! flex and ndarray; `tests/conv_input_grad.rs` checks that they agree.
//!
//! `cargo bench -p zoo-models --features ndarray --bench conv_input_grad`

use burn::tensor::module::{conv2d, conv_transpose2d};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use burn::tensor::{Device, Distribution, Tensor};
use criterion::{criterion_group, criterion_main, Criterion};

fn backends() -> Vec<(&'static str, Device)> {
    #[allow(unused_mut)]
    let mut devices = vec![("flex", Device::flex())];
    #[cfg(feature = "ndarray")]
    #[allow(deprecated)]
    devices.push(("ndarray", Device::ndarray()));
    devices
}

fn input_grad(c: &mut Criterion) {
    let mut group = c.benchmark_group("conv3x3_input_grad");
    group.sample_size(10);
    for (backend, device) in backends() {
        for (channels, size) in [(16, 32), (32, 16), (64, 8)] {
            let grad_out = Tensor::<4>::random([128, channels, size, size], Distribution::Normal(0.0, 1.0), &device);
            let weight = Tensor::<4>::random([channels, channels, 3, 3], Distribution::Normal(0.0, 0.1), &device);
            let shape = format!("{backend}/{channels}x{size}x{size}");
            group.bench_function(format!("{shape}/conv_transpose2d"), |b| {
                b.iter(|| {
                    let options = ConvTransposeOptions::new([1, 1], [1, 1], [0, 0], [1, 1], 1);
                    let grad = conv_transpose2d(grad_out.clone(), weight.clone(), None, options);
                    device.sync().unwrap();
                    grad
                })
            });
            group.bench_function(format!("{shape}/conv2d_flipped"), |b| {
                b.iter(|| {
                    let flipped = weight.clone().flip([2, 3]).swap_dims(0, 1);
                    let grad = conv2d(grad_out.clone(), flipped, None, ConvOptions::new([1, 1], [1, 1], [1, 1], 1));
                    device.sync().unwrap();
                    grad
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, input_grad);
criterion_main!(benches);
