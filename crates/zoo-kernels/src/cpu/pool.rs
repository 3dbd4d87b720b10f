//! 2-D max and average pooling on NCHW `f32` buffers, forward and backward, with PyTorch's
//! semantics: NaN wins a max window, ties go to the first position, `ceil_mode` drops a last
//! window that would start in the trailing padding, and `count_include_pad` divides by the part
//! of the window inside the padded input. Global average pooling (`AdaptiveAvgPool2d` to 1x1) is
//! a per-plane mean.
//!
//! Each task owns whole planes, so the backward passes scatter without races.

use super::parallel::{SharedMut, for_each_index};

/// Shape and options of one pooling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolShape {
    /// Images.
    pub batch: usize,
    /// Channels.
    pub channels: usize,
    /// Input `[height, width]`.
    pub in_size: [usize; 2],
    /// Window `[height, width]`.
    pub kernel: [usize; 2],
    /// `[vertical, horizontal]` stride.
    pub stride: [usize; 2],
    /// `[[top, bottom], [left, right]]` padding.
    pub padding: [[usize; 2]; 2],
    /// Spacing of a window's taps (max pooling only; 1 for average pooling).
    pub dilation: [usize; 2],
    /// Round the output size up rather than down.
    pub ceil_mode: bool,
}

impl PoolShape {
    /// Output `[height, width]` (0 where no window fits).
    pub fn out_size(&self) -> [usize; 2] {
        [0, 1].map(|a| {
            let span = self.dilation[a] * (self.kernel[a] - 1) + 1;
            let padded = self.in_size[a] + self.padding[a][0] + self.padding[a][1];
            if padded < span {
                return usize::from(self.ceil_mode);
            }
            let steps = padded - span;
            if self.ceil_mode {
                let out = steps.div_ceil(self.stride[a]) + 1;
                // The last window must start inside the input or its leading padding.
                if (out - 1) * self.stride[a] >= self.in_size[a] + self.padding[a][0] { out - 1 } else { out }
            } else {
                steps / self.stride[a] + 1
            }
        })
    }

    /// Why the kernels cannot run this shape, if they cannot.
    pub fn check(&self) -> Result<(), String> {
        if self.kernel.contains(&0) || self.stride.contains(&0) || self.dilation.contains(&0) {
            return Err(format!(
                "kernel {:?}, stride {:?} and dilation {:?} must be positive",
                self.kernel, self.stride, self.dilation
            ));
        }
        if self.out_size().contains(&0) {
            return Err(format!(
                "window {:?} does not fit the input {:?} (padding {:?})",
                self.kernel, self.in_size, self.padding
            ));
        }
        Ok(())
    }

    fn planes(&self) -> usize {
        self.batch * self.channels
    }

    /// Elements of the input.
    pub fn input_len(&self) -> usize {
        self.planes() * self.in_size[0] * self.in_size[1]
    }

    /// Elements of the output.
    pub fn output_len(&self) -> usize {
        let [oh, ow] = self.out_size();
        self.planes() * oh * ow
    }

    /// Input taps of output position `o` along axis `a`: first tap and how many are inside the
    /// input, plus the taps inside the padded input (average pooling's divisor).
    fn window(&self, a: usize, o: usize) -> (usize, usize, usize, usize) {
        let (k, s, d, n) = (self.kernel[a], self.stride[a], self.dilation[a], self.in_size[a]);
        let [pad_begin, pad_end] = self.padding[a];
        let start = (o * s) as isize - pad_begin as isize;
        // Taps t with 0 <= start + t*d < n.
        let first = if start < 0 { ((-start) as usize).div_ceil(d) } else { 0 };
        let mut last = k;
        while last > first && start + ((last - 1) * d) as isize >= n as isize {
            last -= 1;
        }
        // Taps inside [-pad_begin, n + pad_end): the window clipped to the padded input.
        let padded_end = (n + pad_end) as isize;
        let mut inside_padded = k;
        while inside_padded > 0 && start + ((inside_padded - 1) * d) as isize >= padded_end {
            inside_padded -= 1;
        }
        let index = (start + (first * d) as isize).max(0) as usize;
        (first, last.saturating_sub(first), index, inside_padded)
    }
}

/// Per output position of each axis: first input index, taps inside the input, divisor share.
struct Windows {
    index: Vec<usize>,
    taps: Vec<usize>,
    padded: Vec<usize>,
}

fn windows(shape: &PoolShape, axis: usize) -> Windows {
    let out = shape.out_size()[axis];
    let mut w =
        Windows { index: Vec::with_capacity(out), taps: Vec::with_capacity(out), padded: Vec::with_capacity(out) };
    for o in 0..out {
        let (_, taps, index, padded) = shape.window(axis, o);
        w.index.push(index);
        w.taps.push(taps);
        w.padded.push(padded);
    }
    w
}

/// `max(a, b)` as PyTorch's max pooling takes it: a NaN wins, and `a` (the earlier) wins ties.
#[inline(always)]
fn nan_max(a: f32, b: f32) -> f32 {
    if b > a || b.is_nan() { b } else { a }
}

/// Max pooling, as two separable passes per plane: the maximum along each row's windows, then
/// along the columns of those. Both are vectorisable for the common windows (2x2/2, 3x3/2,
/// 3x3/1), where the first pass has a compile-time stride.
pub fn max_pool(x: &[f32], shape: &PoolShape, y: &mut [f32]) {
    assert_eq!(x.len(), shape.input_len(), "input length");
    assert_eq!(y.len(), shape.output_len(), "output length");
    let [h, w] = shape.in_size;
    let [oh, ow] = shape.out_size();
    let (rows, cols) = (windows(shape, 0), windows(shape, 1));
    // Outputs whose row windows lie wholly inside the input: a contiguous range.
    let mut full = (0..ow).filter(|&o| cols.taps[o] == shape.kernel[1]);
    let inside = match (full.clone().next(), full.next_back()) {
        (Some(lo), Some(hi)) => lo..hi + 1,
        _ => 0..0,
    };
    let y_out = SharedMut::new(y);
    let per_task = (16384 / (h * w).max(1)).max(1);
    for_each_index(shape.planes().div_ceil(per_task), |task| {
        let mut across = vec![0.0f32; h * ow];
        for p in task * per_task..((task + 1) * per_task).min(shape.planes()) {
            let plane = &x[p * h * w..][..h * w];
            for (row, out) in plane.chunks_exact(w).zip(across.chunks_exact_mut(ow)) {
                row_max(row, shape, &cols, inside.clone(), out);
            }
            // SAFETY: plane p of y belongs to this task.
            let y = unsafe { y_out.slice(p * oh * ow, oh * ow) };
            for (oy, y) in y.chunks_exact_mut(ow).enumerate() {
                y.fill(f32::NEG_INFINITY);
                for t in 0..rows.taps[oy] {
                    let r = rows.index[oy] + t * shape.dilation[0];
                    for (y, &v) in y.iter_mut().zip(&across[r * ow..][..ow]) {
                        *y = nan_max(*y, v);
                    }
                }
            }
        }
    });
}

/// The maximum of each window along one row; the windows of outputs `inside` lie wholly in the
/// row and take the fast loop.
fn row_max(row: &[f32], shape: &PoolShape, cols: &Windows, inside: std::ops::Range<usize>, out: &mut [f32]) {
    let (k, s, d) = (shape.kernel[1], shape.stride[1], shape.dilation[1]);
    let (lo, hi) = (inside.start, inside.end);
    if hi > lo && d == 1 {
        let start = cols.index[lo];
        let inner = &mut out[lo..hi];
        match (k, s) {
            (2, 2) => fixed_row_max::<2, 2>(&row[start..], inner),
            (3, 2) => fixed_row_max::<3, 2>(&row[start..], inner),
            (3, 1) => fixed_row_max::<3, 1>(&row[start..], inner),
            _ => general_row_max(row, cols, d, lo..hi, out),
        }
    } else {
        general_row_max(row, cols, d, lo..hi, out);
    }
    // The edge windows, clipped by the padding.
    general_row_max(row, cols, d, 0..lo, out);
    general_row_max(row, cols, d, hi..out.len(), out);
}

fn fixed_row_max<const K: usize, const S: usize>(row: &[f32], out: &mut [f32]) {
    for (o, y) in out.iter_mut().enumerate() {
        let window = &row[o * S..o * S + K];
        let mut m = window[0];
        for &v in &window[1..] {
            m = nan_max(m, v);
        }
        *y = m;
    }
}

fn general_row_max(row: &[f32], cols: &Windows, dilation: usize, outputs: std::ops::Range<usize>, out: &mut [f32]) {
    for o in outputs {
        let mut m = f32::NEG_INFINITY;
        for t in 0..cols.taps[o] {
            m = nan_max(m, row[cols.index[o] + t * dilation]);
        }
        out[o] = m;
    }
}

/// Max pooling's input gradient: each output's gradient goes to the first input of its window
/// that holds the output's value (the one the forward pass took).
pub fn max_pool_backward(dy: &[f32], x: &[f32], y: &[f32], shape: &PoolShape, dx: &mut [f32]) {
    assert_eq!(dy.len(), shape.output_len(), "output gradient length");
    assert_eq!(y.len(), shape.output_len(), "output length");
    assert_eq!(x.len(), shape.input_len(), "input length");
    assert_eq!(dx.len(), shape.input_len(), "input gradient length");
    let [h, w] = shape.in_size;
    let [oh, ow] = shape.out_size();
    let [sy, sx] = shape.dilation;
    let (rows, cols) = (windows(shape, 0), windows(shape, 1));
    let out = SharedMut::new(dx);
    let per_task = (16384 / (h * w).max(1)).max(1);
    for_each_index(shape.planes().div_ceil(per_task), |task| {
        for p in task * per_task..((task + 1) * per_task).min(shape.planes()) {
            let plane = &x[p * h * w..][..h * w];
            // SAFETY: plane p of dx belongs to this task.
            let dx = unsafe { out.slice(p * h * w, h * w) };
            dx.fill(0.0);
            for oy in 0..oh {
                for ox in 0..ow {
                    let (g, best) = (dy[(p * oh + oy) * ow + ox], y[(p * oh + oy) * ow + ox]);
                    'window: for ty in 0..rows.taps[oy] {
                        let row = (rows.index[oy] + ty * sy) * w;
                        for tx in 0..cols.taps[ox] {
                            let i = row + cols.index[ox] + tx * sx;
                            let v = plane[i];
                            if v == best || (v.is_nan() && best.is_nan()) {
                                dx[i] += g;
                                break 'window;
                            }
                        }
                    }
                }
            }
        }
    });
}

/// Average pooling.
pub fn avg_pool(x: &[f32], shape: &PoolShape, count_include_pad: bool, y: &mut [f32]) {
    assert_eq!(x.len(), shape.input_len(), "input length");
    assert_eq!(y.len(), shape.output_len(), "output length");
    let [h, w] = shape.in_size;
    let [oh, ow] = shape.out_size();
    let (rows, cols) = (windows(shape, 0), windows(shape, 1));
    let y_out = SharedMut::new(y);
    let per_task = (16384 / (oh * ow).max(1)).max(1);
    for_each_index(shape.planes().div_ceil(per_task), |task| {
        for p in task * per_task..((task + 1) * per_task).min(shape.planes()) {
            let plane = &x[p * h * w..][..h * w];
            // SAFETY: plane p of y belongs to this task.
            let y = unsafe { y_out.slice(p * oh * ow, oh * ow) };
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut sum = 0.0f32;
                    for ty in 0..rows.taps[oy] {
                        let start = (rows.index[oy] + ty) * w + cols.index[ox];
                        sum += plane[start..start + cols.taps[ox]].iter().sum::<f32>();
                    }
                    y[oy * ow + ox] = sum / divisor(&rows, &cols, oy, ox, count_include_pad);
                }
            }
        }
    });
}

fn divisor(rows: &Windows, cols: &Windows, oy: usize, ox: usize, count_include_pad: bool) -> f32 {
    let count = if count_include_pad { rows.padded[oy] * cols.padded[ox] } else { rows.taps[oy] * cols.taps[ox] };
    count.max(1) as f32
}

/// Average pooling's input gradient.
pub fn avg_pool_backward(dy: &[f32], shape: &PoolShape, count_include_pad: bool, dx: &mut [f32]) {
    assert_eq!(dy.len(), shape.output_len(), "output gradient length");
    assert_eq!(dx.len(), shape.input_len(), "input gradient length");
    let [h, w] = shape.in_size;
    let [oh, ow] = shape.out_size();
    let (rows, cols) = (windows(shape, 0), windows(shape, 1));
    let out = SharedMut::new(dx);
    let per_task = (16384 / (h * w).max(1)).max(1);
    for_each_index(shape.planes().div_ceil(per_task), |task| {
        for p in task * per_task..((task + 1) * per_task).min(shape.planes()) {
            // SAFETY: plane p of dx belongs to this task.
            let dx = unsafe { out.slice(p * h * w, h * w) };
            dx.fill(0.0);
            let g = &dy[p * oh * ow..][..oh * ow];
            for oy in 0..oh {
                for ox in 0..ow {
                    let share = g[oy * ow + ox] / divisor(&rows, &cols, oy, ox, count_include_pad);
                    for ty in 0..rows.taps[oy] {
                        let start = (rows.index[oy] + ty) * w + cols.index[ox];
                        dx[start..start + cols.taps[ox]].iter_mut().for_each(|v| *v += share);
                    }
                }
            }
        }
    });
}

/// Global average pooling: `y[plane] = mean(x[plane])`.
pub fn global_avg_pool(x: &[f32], planes: usize, y: &mut [f32]) {
    assert_eq!(y.len(), planes, "output length");
    let plane = x.len() / planes.max(1);
    assert_eq!(x.len(), planes * plane, "input length");
    let out = SharedMut::new(y);
    let per_task = (16384 / plane.max(1)).max(1);
    for_each_index(planes.div_ceil(per_task), |task| {
        let range = task * per_task..((task + 1) * per_task).min(planes);
        // SAFETY: these planes' outputs belong to this task.
        let y = unsafe { out.slice(range.start, range.len()) };
        for (y, p) in y.iter_mut().zip(range) {
            *y = super::conv::plane_sum(&x[p * plane..][..plane]) / plane.max(1) as f32;
        }
    });
}

/// Global average pooling's input gradient: `dx[plane] = dy[plane] / plane size`.
pub fn global_avg_pool_backward(dy: &[f32], plane: usize, dx: &mut [f32]) {
    assert_eq!(dx.len(), dy.len() * plane, "input gradient length");
    let scale = 1.0 / plane.max(1) as f32;
    let out = SharedMut::new(dx);
    let per_task = (16384 / plane.max(1)).max(1);
    for_each_index(dy.len().div_ceil(per_task), |task| {
        let range = task * per_task..((task + 1) * per_task).min(dy.len());
        // SAFETY: these planes of dx belong to this task.
        let dx = unsafe { out.slice(range.start * plane, range.len() * plane) };
        for (dx, &g) in dx.chunks_mut(plane.max(1)).zip(&dy[range]) {
            dx.fill(g * scale);
        }
    });
}
