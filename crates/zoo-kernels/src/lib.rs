//! # zoo-kernels
//!
//! burn-zoo's own CPU kernels for Burn's default backend, flex: 2-D convolution (forward,
//! input gradient, weight gradient, bias), BatchNorm (training and inference, with the ReLU
//! and the residual add of ResNet blocks fused in) and pooling (max, average, global average).
//! Burn 0.22.1's flex implements only the forward convolution itself; its backward passes and
//! BatchNorm fall back to generic compositions of other ops, and its pooling loops divide per
//! element, which made training several times slower than PyTorch on the same CPU.
//!
//! The entry points take and return backend-free tensors. On flex (with or without autodiff)
//! they run this crate's kernels, each one graph node with a hand-written backward, through
//! Burn's `backend_extension`; on any other device, or for shapes the kernels do not cover
//! (grouped or dilated convolutions, other dtypes), they call Burn's own ops. `ZOO_KERNELS=burn`
//! or [`set_kernels`] sends everything to Burn's ops, to compare the two.
//!
//! ```
//! use burn::nn::conv::Conv2dConfig;
//! use burn::nn::{BatchNormConfig, PaddingConfig2d};
//! use burn::tensor::{Device, Distribution, Tensor};
//!
//! let device = Device::flex();
//! let conv = Conv2dConfig::new([3, 16], [3, 3])
//!     .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
//!     .init(&device);
//! let norm = BatchNormConfig::new(16).init(&device);
//! let x = Tensor::<4>::random([2, 3, 32, 32], Distribution::Normal(0.0, 1.0), &device);
//! // conv → BatchNorm → ReLU, as `relu(norm.forward(conv.forward(x)))` computes it.
//! let y = zoo_kernels::batch_norm(&norm, zoo_kernels::conv2d_module(&conv, x), None, true);
//! assert_eq!(y.dims(), [2, 16, 32, 32]);
//! ```

#![warn(missing_docs)]

mod counters;
#[cfg(feature = "flex")]
pub mod cpu;
#[cfg(feature = "flex")]
mod flex;
mod switch;

use burn::nn::conv::Conv2d;
use burn::nn::pool::{AdaptiveAvgPool2d, AvgPool2d, MaxPool2d};
use burn::nn::{BatchNorm, PaddingConfig2d};
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Tensor, activation};

pub use counters::{KernelCalls, kernel_calls};
pub use switch::{ENV_VAR, Kernels, KernelsError, guided_relus, kernels, relus_guided, set_kernels};

/// Keeps freed memory in the process for the next allocation; call it once, first thing in
/// `main`, before any thread starts. A training step frees and allocates the same
/// activation-sized buffers (up to tens of MB) over and over; by default glibc maps each one
/// afresh and returns it on free, so every step pays page faults and the kernel's zeroing of
/// every page (a tenth of a ResNet-20 step on a 2-core VM, measured). Buffers up to 32 MiB
/// (glibc's ceiling) then come from the heap, which is trimmed only above 1 GiB of free space.
/// Does nothing on targets other than Linux with glibc. The `zoo` binary calls it.
///
/// ```
/// zoo_kernels::reuse_freed_memory();
/// ```
pub fn reuse_freed_memory() {
    // SAFETY: mallopt only sets allocator parameters.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
}

/// Whether the zoo's kernels take a call on tensors on this device.
#[cfg(feature = "flex")]
fn on_zoo_kernels(x: &Tensor<4>) -> bool {
    kernels() == Kernels::Zoo && x.device() == burn::tensor::Device::flex() && x.dtype() == burn::tensor::DType::F32
}

/// 2-D convolution, `burn::tensor::module::conv2d`'s contract: `x` is `[N, C_in, H, W]`,
/// `weight` `[C_out, C_in / groups, kh, kw]`, `bias` `[C_out]`.
///
/// ```
/// use burn::tensor::ops::ConvOptions;
/// use burn::tensor::{Device, Tensor};
/// let device = Device::flex();
/// let x = Tensor::<4>::ones([1, 2, 5, 5], &device);
/// let weight = Tensor::<4>::ones([4, 2, 3, 3], &device);
/// let options = ConvOptions::new_with_padding([2, 2], [(1, 0), (1, 0)], [1, 1], 1);
/// let y = zoo_kernels::conv2d(x, weight, None, options);
/// assert_eq!(y.dims(), [1, 4, 2, 2]);
/// ```
pub fn conv2d(x: Tensor<4>, weight: Tensor<4>, bias: Option<Tensor<1>>, options: ConvOptions<2>) -> Tensor<4> {
    #[cfg(feature = "flex")]
    if on_zoo_kernels(&x) && options.groups == 1 && options.dilation == [1, 1] && weight.dtype() == x.dtype() {
        use burn::backend::Dispatch;
        use flex::ZooConvOps;
        let y = match bias {
            None => <Dispatch as ZooConvOps>::zoo_conv2d(x.into_dispatch(), weight.into_dispatch(), options),
            Some(bias) => <Dispatch as ZooConvOps>::zoo_conv2d_bias(
                x.into_dispatch(),
                weight.into_dispatch(),
                bias.into_dispatch(),
                options,
            ),
        };
        return Tensor::from_dispatch(y);
    }
    burn::tensor::module::conv2d(x, weight, bias, options)
}

/// [`Conv2d::forward`], through [`conv2d`].
///
/// ```
/// use burn::nn::conv::Conv2dConfig;
/// use burn::tensor::{Device, Tensor};
/// let device = Device::flex();
/// let conv = Conv2dConfig::new([1, 6], [5, 5]).init(&device);
/// let y = zoo_kernels::conv2d_module(&conv, Tensor::<4>::zeros([2, 1, 32, 32], &device));
/// assert_eq!(y.dims(), [2, 6, 28, 28]);
/// ```
pub fn conv2d_module(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let [_, _, height, width] = x.dims();
    let padding = padding_pairs(&conv.padding, conv.kernel_size, conv.stride, height, width);
    let options = ConvOptions::new_with_padding(conv.stride, padding, conv.dilation, conv.groups);
    conv2d(x, conv.weight.val(), conv.bias.as_ref().map(|b| b.val()), options)
}

/// The four sides of a module's padding for an input of `height` x `width`.
fn padding_pairs(
    padding: &PaddingConfig2d,
    kernel: [usize; 2],
    stride: [usize; 2],
    height: usize,
    width: usize,
) -> [(usize, usize); 2] {
    match padding {
        PaddingConfig2d::Valid => [(0, 0), (0, 0)],
        PaddingConfig2d::Explicit(top, left, bottom, right) => [(*top, *bottom), (*left, *right)],
        PaddingConfig2d::Same => {
            [same_padding(kernel[0], stride[0], height), same_padding(kernel[1], stride[1], width)]
        }
    }
}

/// The zoo's pooling window for `x`, if its kernels take this call.
#[cfg(feature = "flex")]
fn pool_window(
    x: &Tensor<4>,
    padding: &PaddingConfig2d,
    kernel: [usize; 2],
    stride: [usize; 2],
    dilation: [usize; 2],
    ceil_mode: bool,
) -> Option<flex::PoolWindow> {
    if !on_zoo_kernels(x) {
        return None;
    }
    let [n, c, h, w] = x.dims();
    let pads = padding_pairs(padding, kernel, stride, h, w);
    let window = flex::PoolWindow { kernel, stride, padding: pads.map(|(b, e)| [b, e]), dilation, ceil_mode };
    window.shape([n, c, h, w]).check().is_ok().then_some(window)
}

/// [`MaxPool2d::forward`], on the zoo's kernels on flex.
///
/// ```
/// use burn::nn::pool::MaxPool2dConfig;
/// use burn::tensor::{Device, Tensor};
/// let pool = MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init();
/// let x = Tensor::<4>::from_floats([[[[1.0, 2.0], [4.0, 3.0]]]], &Device::flex());
/// let y = zoo_kernels::max_pool2d_module(&pool, x);
/// assert_eq!(y.into_data().to_vec::<f32>().unwrap(), vec![4.0]);
/// ```
pub fn max_pool2d_module(pool: &MaxPool2d, x: Tensor<4>) -> Tensor<4> {
    #[cfg(feature = "flex")]
    if let Some(window) = pool_window(&x, &pool.padding, pool.kernel_size, pool.stride, pool.dilation, pool.ceil_mode) {
        use burn::backend::Dispatch;
        use flex::ZooPoolOps;
        return Tensor::from_dispatch(<Dispatch as ZooPoolOps>::zoo_max_pool2d(x.into_dispatch(), window));
    }
    pool.forward(x)
}

/// [`AvgPool2d::forward`], on the zoo's kernels on flex.
///
/// ```
/// use burn::nn::pool::AvgPool2dConfig;
/// use burn::tensor::{Device, Tensor};
/// let pool = AvgPool2dConfig::new([2, 2]).with_strides([2, 2]).init();
/// let x = Tensor::<4>::from_floats([[[[1.0, 2.0], [4.0, 3.0]]]], &Device::flex());
/// let y = zoo_kernels::avg_pool2d_module(&pool, x);
/// assert_eq!(y.into_data().to_vec::<f32>().unwrap(), vec![2.5]);
/// ```
pub fn avg_pool2d_module(pool: &AvgPool2d, x: Tensor<4>) -> Tensor<4> {
    #[cfg(feature = "flex")]
    if let Some(window) = pool_window(&x, &pool.padding, pool.kernel_size, pool.stride, [1, 1], pool.ceil_mode) {
        use burn::backend::Dispatch;
        use flex::ZooPoolOps;
        let y = <Dispatch as ZooPoolOps>::zoo_avg_pool2d(x.into_dispatch(), window, pool.count_include_pad);
        return Tensor::from_dispatch(y);
    }
    pool.forward(x)
}

/// [`AdaptiveAvgPool2d::forward`]; the global average (output 1x1) runs on the zoo's kernels on
/// flex.
///
/// ```
/// use burn::nn::pool::AdaptiveAvgPool2dConfig;
/// use burn::tensor::{Device, Tensor};
/// let pool = AdaptiveAvgPool2dConfig::new([1, 1]).init();
/// let x = Tensor::<4>::from_floats([[[[1.0, 2.0], [4.0, 3.0]]]], &Device::flex());
/// let y = zoo_kernels::adaptive_avg_pool2d_module(&pool, x);
/// assert_eq!(y.into_data().to_vec::<f32>().unwrap(), vec![2.5]);
/// ```
pub fn adaptive_avg_pool2d_module(pool: &AdaptiveAvgPool2d, x: Tensor<4>) -> Tensor<4> {
    #[cfg(feature = "flex")]
    if pool.output_size == [1, 1] && on_zoo_kernels(&x) {
        use burn::backend::Dispatch;
        use flex::ZooPoolOps;
        return Tensor::from_dispatch(<Dispatch as ZooPoolOps>::zoo_global_avg_pool2d(x.into_dispatch()));
    }
    pool.forward(x)
}

/// burn-nn's `Same` padding (its helper is private): the output keeps `ceil(size / stride)`,
/// the odd pixel of padding goes after.
fn same_padding(kernel: usize, stride: usize, size: usize) -> (usize, usize) {
    let out = size.div_ceil(stride);
    let total = if out > 0 { ((out - 1) * stride + kernel).saturating_sub(size) } else { 0 };
    (total / 2, total - total / 2)
}

/// `max(x, 0)`: Burn's ReLU, or inside [`guided_relus`] on flex the guided one, whose backward
/// keeps only positive gradients. Every ReLU of the zoo's models goes through here.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// let y = zoo_kernels::relu(Tensor::<1>::from_floats([-1.0, 2.0], &Device::flex()));
/// assert_eq!(y.into_data().to_vec::<f32>().unwrap(), vec![0.0, 2.0]);
/// ```
pub fn relu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    #[cfg(feature = "flex")]
    if relus_guided() && x.device() == burn::tensor::Device::flex() && x.dtype() == burn::tensor::DType::F32 {
        use burn::backend::Dispatch;
        use flex::ZooGuidedReluOps;
        return Tensor::from_dispatch(<Dispatch as ZooGuidedReluOps>::zoo_guided_relu(x.into_dispatch()));
    }
    activation::relu(x)
}

/// `relu?(norm(x) + residual)`: a [`BatchNorm`] layer, optionally followed by a residual add and
/// a ReLU, fused into one op on flex.
///
/// Like [`BatchNorm::forward`], it normalises with the batch's statistics on an autodiff device
/// while the layer is not frozen, and with the running statistics otherwise. Unlike it, it
/// updates the running variance as PyTorch does, with the unbiased batch variance
/// (`n / (n - 1)` times the biased one), so running statistics match a PyTorch run of the same
/// model; it does so on every device and with either [`Kernels`] choice.
///
/// ```
/// use burn::nn::BatchNormConfig;
/// use burn::tensor::{Device, Tensor};
/// let device = Device::flex().autodiff();
/// let norm = BatchNormConfig::new(2).init(&device);
/// let x = Tensor::<4>::from_floats([[[[1.0, 3.0]], [[0.0, 0.0]]]], &device);
/// let y = zoo_kernels::batch_norm(&norm, x, None, false);
/// // Unbiased variance of [1, 3] is 2: running_var = 0.9 * 1 + 0.1 * 2.
/// let running_var = norm.running_var.value_sync().into_data().try_to_vec::<f32>().unwrap();
/// assert!((running_var[0] - 1.1).abs() < 1e-6);
/// ```
pub fn batch_norm(norm: &BatchNorm, x: Tensor<4>, residual: Option<Tensor<4>>, relu: bool) -> Tensor<4> {
    if relu && relus_guided() {
        return crate::relu(batch_norm(norm, x, residual, false));
    }
    let device = x.device();
    let training = device.is_autodiff() && norm.training.is_enabled();
    #[cfg(feature = "flex")]
    if on_zoo_kernels(&x) && residual.as_ref().is_none_or(|r| r.dims() == x.dims()) {
        use burn::backend::Dispatch;
        use flex::ZooBatchNormOps as Ops;
        let [n, _, h, w] = x.dims();
        let (gamma, beta) = (norm.gamma.val().into_dispatch(), norm.beta.val().into_dispatch());
        let eps = norm.epsilon;
        if training {
            let (y, mean, variance) = match residual {
                None => <Dispatch as Ops>::zoo_batch_norm_train(x.into_dispatch(), gamma, beta, eps, relu),
                Some(r) => <Dispatch as Ops>::zoo_batch_norm_train_add(
                    x.into_dispatch(),
                    gamma,
                    beta,
                    r.into_dispatch(),
                    eps,
                    relu,
                ),
            };
            update_running_statistics(norm, Tensor::from_dispatch(mean), Tensor::from_dispatch(variance), n * h * w);
            return Tensor::from_dispatch(y);
        }
        let mean = norm.running_mean.value().to_device(&device).into_dispatch();
        let variance = norm.running_var.value().to_device(&device).into_dispatch();
        let y = match residual {
            None => <Dispatch as Ops>::zoo_batch_norm_eval(x.into_dispatch(), gamma, beta, mean, variance, eps, relu),
            Some(r) => <Dispatch as Ops>::zoo_batch_norm_eval_add(
                x.into_dispatch(),
                gamma,
                beta,
                mean,
                variance,
                r.into_dispatch(),
                eps,
                relu,
            ),
        };
        return Tensor::from_dispatch(y);
    }
    let y = if training {
        let [n, _, h, w] = x.dims();
        let result = burn::tensor::module::batch_norm_train(x, norm.gamma.val(), norm.beta.val(), norm.epsilon);
        update_running_statistics(norm, result.mean, result.variance, n * h * w);
        result.output
    } else {
        let mean = norm.running_mean.value().to_device(&device);
        let variance = norm.running_var.value().to_device(&device);
        burn::tensor::module::batch_norm(x, norm.gamma.val(), norm.beta.val(), mean, variance, norm.epsilon)
    };
    let y = match residual {
        Some(r) => y + r,
        None => y,
    };
    if relu { crate::relu(y) } else { y }
}

/// `relu?(norm(conv(x)) + residual)`: a convolution, then a BatchNorm that may have been folded
/// away (`None`), then optionally a residual add and a ReLU — the opening and the ending of a
/// ResNet block.
///
/// In inference (a plain device, or a frozen BatchNorm) on flex this is one kernel: the
/// BatchNorm's running statistics become a per-channel scale and shift that the convolution
/// applies as it writes its output. In training it is [`conv2d_module`] then [`batch_norm`].
///
/// ```
/// use burn::nn::conv::Conv2dConfig;
/// use burn::nn::{BatchNormConfig, PaddingConfig2d};
/// use burn::tensor::{Device, Distribution, Tensor};
/// let device = Device::flex();
/// let conv = Conv2dConfig::new([16, 16], [3, 3]).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)).with_bias(false).init(&device);
/// let norm = BatchNormConfig::new(16).init(&device);
/// let x = Tensor::<4>::random([2, 16, 8, 8], Distribution::Normal(0.0, 1.0), &device);
/// let fused = zoo_kernels::conv_batch_norm(&conv, Some(&norm), x.clone(), Some(x.clone()), true);
/// let separate = zoo_kernels::batch_norm(&norm, zoo_kernels::conv2d_module(&conv, x.clone()), Some(x), true);
/// fused.into_data().assert_approx_eq::<f32>(&separate.into_data(), Default::default());
/// ```
pub fn conv_batch_norm(
    conv: &Conv2d,
    norm: Option<&BatchNorm>,
    x: Tensor<4>,
    residual: Option<Tensor<4>>,
    relu: bool,
) -> Tensor<4> {
    if relu && relus_guided() {
        return crate::relu(conv_batch_norm(conv, norm, x, residual, false));
    }
    let Some(norm) = norm else {
        let y = conv2d_module(conv, x);
        let y = match residual {
            Some(r) => y + r,
            None => y,
        };
        return if relu { crate::relu(y) } else { y };
    };
    #[cfg(feature = "flex")]
    {
        let training = x.device().is_autodiff() && norm.training.is_enabled();
        let fusable = !training
            && conv.bias.is_none()
            && conv.groups == 1
            && conv.dilation == [1, 1]
            && on_zoo_kernels(&x)
            && conv.weight.val().dtype() == x.dtype();
        if fusable {
            use burn::backend::Dispatch;
            use flex::ZooConvBnOps as Ops;
            let [_, _, height, width] = x.dims();
            let padding = padding_pairs(&conv.padding, conv.kernel_size, conv.stride, height, width);
            let options = ConvOptions::new_with_padding(conv.stride, padding, conv.dilation, conv.groups);
            let device = x.device();
            let (gamma, beta) = (norm.gamma.val().into_dispatch(), norm.beta.val().into_dispatch());
            let mean = norm.running_mean.value().to_device(&device).into_dispatch();
            let variance = norm.running_var.value().to_device(&device).into_dispatch();
            let (x, weight, eps) = (x.into_dispatch(), conv.weight.val().into_dispatch(), norm.epsilon);
            let y = match residual {
                None => <Dispatch as Ops>::zoo_conv2d_bn(x, weight, gamma, beta, mean, variance, eps, relu, options),
                Some(r) => {
                    let r = r.into_dispatch();
                    <Dispatch as Ops>::zoo_conv2d_bn_add(x, weight, gamma, beta, mean, variance, r, eps, relu, options)
                }
            };
            return Tensor::from_dispatch(y);
        }
    }
    batch_norm(norm, conv2d_module(conv, x), residual, relu)
}

/// `running = (1 - momentum) running + momentum batch`, with the unbiased batch variance.
fn update_running_statistics(norm: &BatchNorm, mean: Tensor<1>, biased_variance: Tensor<1>, count: usize) {
    let device = mean.device();
    let unbiased =
        if count > 1 { biased_variance.mul_scalar(count as f64 / (count - 1) as f64) } else { biased_variance };
    let momentum = norm.momentum;
    let running_mean = norm.running_mean.value_sync().to_device(&device);
    let running_var = norm.running_var.value_sync().to_device(&device);
    let running_mean = running_mean.mul_scalar(1.0 - momentum).add(mean.detach().mul_scalar(momentum));
    let running_var = running_var.mul_scalar(1.0 - momentum).add(unbiased.detach().mul_scalar(momentum));
    norm.running_mean.update(running_mean.detach());
    norm.running_var.update(running_var.detach());
}
