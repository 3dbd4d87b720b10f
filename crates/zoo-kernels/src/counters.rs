//! How often each kernel ran: cheap proof, for tests and benchmarks, that a model's operations
//! took the zoo's kernels rather than Burn's ops.

use std::sync::atomic::{AtomicU64, Ordering};

/// Calls of each kernel in this process so far.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct KernelCalls {
    /// Convolution forward passes.
    pub conv_forward: u64,
    /// Convolution input gradients.
    pub conv_input_grad: u64,
    /// Convolution weight gradients.
    pub conv_weight_grad: u64,
    /// BatchNorm forward passes (training or inference).
    pub batch_norm_forward: u64,
    /// BatchNorm backward passes.
    pub batch_norm_backward: u64,
    /// Pooling forward passes (max, average, global average).
    pub pool_forward: u64,
    /// Pooling backward passes.
    pub pool_backward: u64,
    /// Convolutions with their inference BatchNorm fused in (also counted in `conv_forward`).
    pub conv_batch_norm_fused: u64,
}

impl KernelCalls {
    /// Calls since `earlier`.
    pub fn since(self, earlier: KernelCalls) -> KernelCalls {
        KernelCalls {
            conv_forward: self.conv_forward - earlier.conv_forward,
            conv_input_grad: self.conv_input_grad - earlier.conv_input_grad,
            conv_weight_grad: self.conv_weight_grad - earlier.conv_weight_grad,
            batch_norm_forward: self.batch_norm_forward - earlier.batch_norm_forward,
            batch_norm_backward: self.batch_norm_backward - earlier.batch_norm_backward,
            pool_forward: self.pool_forward - earlier.pool_forward,
            pool_backward: self.pool_backward - earlier.pool_backward,
            conv_batch_norm_fused: self.conv_batch_norm_fused - earlier.conv_batch_norm_fused,
        }
    }
}

#[derive(Clone, Copy)]
pub(crate) enum Counter {
    ConvForward,
    ConvInputGrad,
    ConvWeightGrad,
    BatchNormForward,
    BatchNormBackward,
    PoolForward,
    PoolBackward,
    ConvBatchNormFused,
}

static COUNTS: [AtomicU64; 8] = [const { AtomicU64::new(0) }; 8];

#[cfg_attr(not(feature = "flex"), allow(dead_code))]
pub(crate) fn count(counter: Counter) {
    COUNTS[counter as usize].fetch_add(1, Ordering::Relaxed);
}

/// How many times each of the zoo's kernels has run in this process (all threads).
///
/// ```
/// use burn::tensor::ops::ConvOptions;
/// use burn::tensor::{Device, Tensor};
/// let before = zoo_kernels::kernel_calls();
/// let (x, weight) = (Tensor::<4>::ones([1, 1, 4, 4], &Device::flex()), Tensor::<4>::ones([2, 1, 3, 3], &Device::flex()));
/// zoo_kernels::conv2d(x, weight, None, ConvOptions::new([1, 1], [0, 0], [1, 1], 1));
/// assert_eq!(zoo_kernels::kernel_calls().since(before).conv_forward, 1);
/// ```
pub fn kernel_calls() -> KernelCalls {
    let get = |c: Counter| COUNTS[c as usize].load(Ordering::Relaxed);
    KernelCalls {
        conv_forward: get(Counter::ConvForward),
        conv_input_grad: get(Counter::ConvInputGrad),
        conv_weight_grad: get(Counter::ConvWeightGrad),
        batch_norm_forward: get(Counter::BatchNormForward),
        batch_norm_backward: get(Counter::BatchNormBackward),
        pool_forward: get(Counter::PoolForward),
        pool_backward: get(Counter::PoolBackward),
        conv_batch_norm_fused: get(Counter::ConvBatchNormFused),
    }
}
