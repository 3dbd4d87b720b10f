//! BatchNorm over the channels of NCHW `f32` buffers, with the ReLU and the residual add that
//! follow it in ResNets fused in:
//!
//! * training forward: one pass for the per-channel statistics, one pass that normalises,
//!   applies the affine, adds the residual and clamps;
//! * backward: one pass for the two per-channel sums, one pass for the input gradient (and the
//!   residual's, which is the masked output gradient).
//!
//! Statistics are summed per plane in `f32` lanes and across planes in `f64`, around a shift (the
//! mean of the channel's first plane) so the variance does not cancel when the mean is large.

use rayon::prelude::*;

use super::parallel::{SharedMut, for_each_index};

/// The layout of an NCHW tensor as BatchNorm sees it: `batch` x `channels` planes of `plane`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Planes {
    /// Images.
    pub batch: usize,
    /// Channels.
    pub channels: usize,
    /// Values per channel per image (H x W).
    pub plane: usize,
}

impl Planes {
    /// Elements of the whole tensor.
    pub fn len(&self) -> usize {
        self.batch * self.channels * self.plane
    }

    /// Whether the tensor is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Values per channel: what its mean divides by.
    pub fn per_channel(&self) -> usize {
        self.batch * self.plane
    }

    fn at(&self, n: usize, c: usize) -> std::ops::Range<usize> {
        let start = (n * self.channels + c) * self.plane;
        start..start + self.plane
    }
}

/// Per-channel mean and biased (population) variance of `x`.
pub fn batch_stats(x: &[f32], planes: Planes) -> (Vec<f32>, Vec<f32>) {
    assert_eq!(x.len(), planes.len(), "input length");
    let per_channel = planes.per_channel() as f64;
    let stats: Vec<(f32, f32)> = (0..planes.channels)
        .into_par_iter()
        .map(|c| {
            let first = &x[planes.at(0, c)];
            let shift = first.iter().map(|&v| v as f64).sum::<f64>() / first.len().max(1) as f64;
            let shift32 = shift as f32;
            let (mut sum, mut squares) = (0.0f64, 0.0f64);
            for n in 0..planes.batch {
                let (s, q) = shifted_sums(&x[planes.at(n, c)], shift32);
                sum += s as f64;
                squares += q as f64;
            }
            let mean_shifted = sum / per_channel;
            let variance = (squares / per_channel - mean_shifted * mean_shifted).max(0.0);
            ((shift32 as f64 + mean_shifted) as f32, variance as f32)
        })
        .collect();
    stats.into_iter().unzip()
}

/// `(Σ (v - shift), Σ (v - shift)²)` over one plane, in eight lanes.
fn shifted_sums(values: &[f32], shift: f32) -> (f32, f32) {
    let mut sum = [0.0f32; 8];
    let mut squares = [0.0f32; 8];
    let chunks = values.chunks_exact(8);
    let rest = chunks.remainder();
    for chunk in chunks {
        for l in 0..8 {
            let d = chunk[l] - shift;
            sum[l] += d;
            squares[l] += d * d;
        }
    }
    let (mut s, mut q) = (sum.iter().sum::<f32>(), squares.iter().sum::<f32>());
    for &v in rest {
        let d = v - shift;
        s += d;
        q += d * d;
    }
    (s, q)
}

/// `1 / sqrt(variance + epsilon)` per channel.
pub fn inverse_std(variance: &[f32], epsilon: f64) -> Vec<f32> {
    variance.iter().map(|&v| (1.0 / (v as f64 + epsilon).sqrt()) as f32).collect()
}

/// `y = relu?(x * scale[c] + shift[c] + residual)`, one pass.
pub fn affine(
    x: &[f32],
    planes: Planes,
    scale: &[f32],
    shift: &[f32],
    residual: Option<&[f32]>,
    relu: bool,
    y: &mut [f32],
) {
    assert_eq!(x.len(), planes.len(), "input length");
    assert_eq!(y.len(), planes.len(), "output length");
    let plane = planes.plane.max(1);
    // Tasks of at least ~16K values, whole planes each.
    let per_task = (16384 / plane).max(1) * plane;
    y.par_chunks_mut(per_task).enumerate().for_each(|(task, y)| {
        let start = task * per_task;
        for (p, y) in y.chunks_mut(plane).enumerate() {
            let offset = start + p * plane;
            let c = (offset / plane) % planes.channels;
            let x = &x[offset..offset + y.len()];
            let (a, b) = (scale[c], shift[c]);
            match (residual, relu) {
                (None, false) => y.iter_mut().zip(x).for_each(|(y, &x)| *y = x * a + b),
                (None, true) => y.iter_mut().zip(x).for_each(|(y, &x)| *y = (x * a + b).max(0.0)),
                (Some(r), false) => {
                    let r = &r[offset..offset + y.len()];
                    y.iter_mut().zip(x).zip(r).for_each(|((y, &x), &r)| *y = x * a + b + r)
                }
                (Some(r), true) => {
                    let r = &r[offset..offset + y.len()];
                    y.iter_mut().zip(x).zip(r).for_each(|((y, &x), &r)| *y = (x * a + b + r).max(0.0))
                }
            }
        }
    });
}

/// What a BatchNorm forward computed, as its backward needs it.
#[derive(Debug, Clone, Copy)]
pub struct Normalized<'a> {
    /// The layer's input.
    pub x: &'a [f32],
    /// The layer's output when a ReLU followed (its sign is the ReLU's mask).
    pub relu_output: Option<&'a [f32]>,
    /// Per-channel mean used.
    pub mean: &'a [f32],
    /// Per-channel `1 / sqrt(var + eps)` used.
    pub inv_std: &'a [f32],
    /// Per-channel scale γ.
    pub gamma: &'a [f32],
    /// Whether the statistics were the batch's own (training), so gradients flow through them.
    pub batch_statistics: bool,
}

/// Gradients of a (fused) BatchNorm: overwrites `dx`, and `d_residual` when given (the masked
/// output gradient); returns `(dγ, dβ)`.
pub fn backward(
    dy: &[f32],
    forward: &Normalized,
    planes: Planes,
    dx: &mut [f32],
    d_residual: Option<&mut [f32]>,
) -> (Vec<f32>, Vec<f32>) {
    assert_eq!(dy.len(), planes.len(), "output gradient length");
    assert_eq!(forward.x.len(), planes.len(), "input length");
    assert_eq!(dx.len(), planes.len(), "input gradient length");
    let relu_output = forward.relu_output.inspect(|y| assert_eq!(y.len(), planes.len(), "output length"));
    // Pass 1: Σ g and Σ g (x - mean) per channel, g the masked gradient.
    let sums: Vec<(f32, f32)> = (0..planes.channels)
        .into_par_iter()
        .map(|c| {
            let mean = forward.mean[c];
            let mut g = vec![0.0f32; planes.plane];
            let (mut sum, mut dot) = (0.0f64, 0.0f64);
            for n in 0..planes.batch {
                let range = planes.at(n, c);
                masked_gradient(&dy[range.clone()], relu_output.map(|y| &y[range.clone()]), &mut g);
                let (s, d) = sum_and_dot(&g, &forward.x[range], mean);
                sum += s as f64;
                dot += d as f64;
            }
            (sum as f32, dot as f32)
        })
        .collect();
    let d_beta: Vec<f32> = sums.iter().map(|s| s.0).collect();
    let d_gamma: Vec<f32> = sums.iter().zip(forward.inv_std).map(|(s, &inv)| s.1 * inv).collect();

    // Pass 2: dx = γ/σ (g - Σg/M - x̂ Σ(g x̂)/M) with batch statistics, γ/σ g with fixed ones.
    let per_channel = planes.per_channel() as f32;
    let out = SharedMut::new(dx);
    let residual_out = d_residual.map(|r| {
        assert_eq!(r.len(), planes.len(), "residual gradient length");
        SharedMut::new(r)
    });
    let total = planes.batch * planes.channels;
    let per_task = (16384 / planes.plane.max(1)).max(1);
    for_each_index(total.div_ceil(per_task), |task| {
        for p in task * per_task..((task + 1) * per_task).min(total) {
            let c = p % planes.channels;
            let range = planes.at(p / planes.channels, c);
            let (scale, inv_std) = (forward.gamma[c] * forward.inv_std[c], forward.inv_std[c]);
            let (mean_g, mean) = (d_beta[c] / per_channel, forward.mean[c]);
            // x̂ · Σ(g x̂)/M = (x - mean) · inv_std · dγ/M
            let k = inv_std * d_gamma[c] / per_channel;
            let x = &forward.x[range.clone()];
            let y = relu_output.map(|y| &y[range.clone()]);
            // SAFETY: plane p of dx (and of the residual's gradient) is written by this task only.
            let dx = unsafe { out.slice(range.start, planes.plane) };
            masked_gradient(&dy[range.clone()], y, dx);
            if let Some(residual) = &residual_out {
                unsafe { residual.slice(range.start, planes.plane) }.copy_from_slice(dx);
            }
            // dx holds g; turn it into the input gradient in place.
            if forward.batch_statistics {
                for (v, &x) in dx.iter_mut().zip(x) {
                    *v = scale * (*v - mean_g - (x - mean) * k);
                }
            } else {
                for v in dx.iter_mut() {
                    *v *= scale;
                }
            }
        }
    });
    (d_gamma, d_beta)
}

/// `g = dy`, zeroed where the ReLU after the layer clamped its output.
fn masked_gradient(dy: &[f32], relu_output: Option<&[f32]>, g: &mut [f32]) {
    match relu_output {
        Some(y) => g.iter_mut().zip(dy).zip(y).for_each(|((g, &d), &y)| *g = if y > 0.0 { d } else { 0.0 }),
        None => g.copy_from_slice(dy),
    }
}

/// `(Σ g, Σ g (x - mean))` in eight lanes.
fn sum_and_dot(g: &[f32], x: &[f32], mean: f32) -> (f32, f32) {
    let (mut sum, mut dot) = ([0.0f32; 8], [0.0f32; 8]);
    let (gc, xc) = (g.chunks_exact(8), x.chunks_exact(8));
    let (g_rest, x_rest) = (gc.remainder(), xc.remainder());
    for (g, x) in gc.zip(xc) {
        for l in 0..8 {
            sum[l] += g[l];
            dot[l] += g[l] * (x[l] - mean);
        }
    }
    let (mut s, mut d) = (sum.iter().sum::<f32>(), dot.iter().sum::<f32>());
    for (&g, &x) in g_rest.iter().zip(x_rest) {
        s += g;
        d += g * (x - mean);
    }
    (s, d)
}
