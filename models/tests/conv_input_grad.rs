//! The input gradient of a stride-1 convolution, computed as a convolution with the flipped,
//! channel-swapped kernel, equals Burn's own (a transposed convolution) and autodiff's. This is
//! the identity `benches/conv_input_grad.rs` times.

use burn::tensor::module::{conv2d, conv_transpose2d};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use burn::tensor::{Device, Distribution, Tensor};

fn max_abs_diff(a: Tensor<4>, b: Tensor<4>) -> f32 {
    (a - b).abs().max().into_scalar::<f32>()
}

#[test]
fn flipped_kernel_convolution_is_the_input_gradient() {
    let device = Device::flex().autodiff();
    for (c_in, c_out, size, kernel, padding) in [(3, 16, 12, 3, 1), (16, 8, 9, 5, 2), (4, 4, 7, 3, 0)] {
        let x = Tensor::<4>::random([2, c_in, size, size], Distribution::Normal(0.0, 1.0), &device).require_grad();
        let weight = Tensor::<4>::random([c_out, c_in, kernel, kernel], Distribution::Normal(0.0, 0.3), &device);
        let y = conv2d(x.clone(), weight.clone(), None, ConvOptions::new([1, 1], [padding; 2], [1, 1], 1));
        let grad_out = Tensor::<4>::random(y.dims(), Distribution::Normal(0.0, 1.0), &device);
        let grads = (y * grad_out.clone()).sum().backward();
        let autodiff = x.grad(&grads).unwrap();

        let grad_out = grad_out.inner();
        let weight = weight.inner();
        let transposed = conv_transpose2d(
            grad_out.clone(),
            weight.clone(),
            None,
            ConvTransposeOptions::new([1, 1], [padding; 2], [0, 0], [1, 1], 1),
        );
        let flipped = conv2d(
            grad_out,
            weight.flip([2, 3]).swap_dims(0, 1),
            None,
            ConvOptions::new([1, 1], [kernel - 1 - padding; 2], [1, 1], 1),
        );
        assert_eq!(flipped.dims(), [2, c_in, size, size]);
        assert!(max_abs_diff(flipped.clone(), transposed) < 1e-4);
        assert!(max_abs_diff(flipped, autodiff.inner()) < 1e-4);
    }
}
