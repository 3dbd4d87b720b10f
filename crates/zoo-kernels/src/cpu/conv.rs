//! 2-D convolution on NCHW `f32` buffers: forward (with a fused per-channel epilogue), input
//! gradient and weight gradient, for any kernel size, stride and (asymmetric) padding, groups 1
//! and dilation 1.
//!
//! All three are direct convolutions over a *grid*: each image is copied once into zero-padded
//! planes (for stride `s`, split into `s x s` phase planes, so every kernel tap reads a
//! contiguous run of the grid), and the output is computed on the grid's row pitch. An output
//! pixel `q = row * pitch + col` then reads input `q + offset[tap]` for every tap: one constant
//! offset per tap, so the inner loop ([`simd::conv_tile`]) is a stream of vector loads and FMAs
//! with no bounds checks and no im2col buffer. The `pitch - width` columns past each output row
//! are computed and dropped, a few percent of the work at ResNet's shapes.
//!
//! * The input gradient is the same computation on the zero-padded output gradient with the
//!   kernel flipped and its channel axes swapped. For stride `s` it splits into `s x s`
//!   independent stride-1 convolutions, one per phase of the input gradient, each with the
//!   kernel taps that reach that phase.
//! * The weight gradient sums, over the output pixels, the output gradient (transposed so that
//!   a vector holds consecutive output channels) times the input pixel each tap reads from the
//!   grid ([`simd::wgrad_tile`]): no im2col buffer, no garbage columns.

use rayon::prelude::*;

use super::parallel::{SharedMut, Split, for_each_index, give_back, take_scratch, threads};
use super::simd::{self, Isa, MR, Pixels, WGRAD_COLS};

/// Shape and options of one convolution: NCHW input, `[out, in, kh, kw]` weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvShape {
    /// Images.
    pub batch: usize,
    /// Input channels.
    pub in_channels: usize,
    /// Input `[height, width]`.
    pub in_size: [usize; 2],
    /// Output channels.
    pub out_channels: usize,
    /// Kernel `[height, width]`.
    pub kernel: [usize; 2],
    /// `[vertical, horizontal]` stride.
    pub stride: [usize; 2],
    /// `[[top, bottom], [left, right]]` zero padding.
    pub padding: [[usize; 2]; 2],
}

impl ConvShape {
    /// Output `[height, width]`.
    pub fn out_size(&self) -> [usize; 2] {
        [0, 1]
            .map(|a| (self.in_size[a] + self.padding[a][0] + self.padding[a][1] - self.kernel[a]) / self.stride[a] + 1)
    }

    /// Why the kernels cannot run this shape, if they cannot.
    pub fn check(&self) -> Result<(), String> {
        for a in 0..2 {
            if self.stride[a] == 0 || self.kernel[a] == 0 {
                return Err(format!("stride {:?} and kernel {:?} must be positive", self.stride, self.kernel));
            }
            if self.in_size[a] + self.padding[a][0] + self.padding[a][1] < self.kernel[a] {
                return Err(format!(
                    "kernel {:?} is larger than the padded input {:?} (padding {:?})",
                    self.kernel, self.in_size, self.padding
                ));
            }
        }
        Ok(())
    }

    /// Elements of the input.
    pub fn input_len(&self) -> usize {
        self.batch * self.in_channels * self.in_size[0] * self.in_size[1]
    }

    /// Elements of the output.
    pub fn output_len(&self) -> usize {
        let [oh, ow] = self.out_size();
        self.batch * self.out_channels * oh * ow
    }

    /// Elements of the weight.
    pub fn weight_len(&self) -> usize {
        self.out_channels * self.in_channels * self.taps()
    }

    fn taps(&self) -> usize {
        self.kernel[0] * self.kernel[1]
    }
}

/// What the forward pass applies to each output value `v` of channel `c` on its way out:
/// `relu(v * scale[c] + shift[c] + residual)`. A bias is a `shift`; an inference BatchNorm is a
/// `scale` and a `shift`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Epilogue<'a> {
    /// Per output channel factor.
    pub scale: Option<&'a [f32]>,
    /// Per output channel term.
    pub shift: Option<&'a [f32]>,
    /// A tensor of the output's shape to add (a residual connection).
    pub residual: Option<&'a [f32]>,
    /// Clamp negative values to zero.
    pub relu: bool,
}

/// Extra zeros after a grid: tiles past the last row and the garbage columns read up to a row
/// and a tile beyond the last plane.
fn slack(pitch: usize, isa: Isa) -> usize {
    pitch + isa.conv_cols() + 16
}

/// One image's channels, zero-padded and split into stride-phase planes of `rows x pitch`.
#[derive(Debug, Clone, Copy)]
struct Grid {
    channels: usize,
    phases: [usize; 2],
    rows: usize,
    pitch: usize,
    /// `(top, left)` zero padding before the image.
    pad: [usize; 2],
    plane: usize,
    cstride: usize,
    len: usize,
}

impl Grid {
    fn new(channels: usize, size: [usize; 2], padding: [[usize; 2]; 2], phases: [usize; 2], isa: Isa) -> Self {
        let padded = [0, 1].map(|a| size[a] + padding[a][0] + padding[a][1]);
        let rows = padded[0].div_ceil(phases[0]);
        let pitch = padded[1].div_ceil(phases[1]);
        let plane = rows * pitch;
        let cstride = plane * phases[0] * phases[1];
        Self {
            channels,
            phases,
            rows,
            pitch,
            pad: [padding[0][0], padding[1][0]],
            plane,
            cstride,
            len: channels * cstride + slack(pitch, isa),
        }
    }

    /// Copies one image (`channels x size`) into `grid` (`self.len` long), writing every value
    /// of the grid: `grid` may hold anything before.
    fn fill(&self, image: &[f32], size: [usize; 2], grid: &mut [f32]) {
        let [h, w] = size;
        let [sy, sx] = self.phases;
        let [pad_top, pad_left] = self.pad;
        grid[self.channels * self.cstride..].fill(0.0);
        if sy == 1 && sx == 1 {
            // One plane per channel: zero only its borders around the copied rows.
            for c in 0..self.channels {
                let channel = &image[c * h * w..][..h * w];
                let plane = &mut grid[c * self.cstride..][..self.plane];
                let rows_above = pad_top.min(self.rows);
                plane[..rows_above * self.pitch].fill(0.0);
                let inside = h.min(self.rows.saturating_sub(pad_top));
                let cols = w.min(self.pitch.saturating_sub(pad_left));
                for i in 0..inside {
                    let row = &mut plane[(pad_top + i) * self.pitch..][..self.pitch];
                    row[..pad_left.min(self.pitch)].fill(0.0);
                    row[pad_left..pad_left + cols].copy_from_slice(&channel[i * w..][..cols]);
                    row[pad_left + cols..].fill(0.0);
                }
                plane[(rows_above + inside) * self.pitch..].fill(0.0);
            }
            return;
        }
        grid[..self.channels * self.cstride].fill(0.0);
        for c in 0..self.channels {
            let channel = &image[c * h * w..][..h * w];
            for ry in 0..sy {
                for rx in 0..sx {
                    let plane = &mut grid[c * self.cstride + (ry * sx + rx) * self.plane..][..self.plane];
                    // First grid column whose padded column lands inside the image.
                    let j0 = (pad_left.saturating_sub(rx)).div_ceil(sx);
                    let ix0 = j0 * sx + rx - pad_left;
                    if ix0 >= w || j0 >= self.pitch {
                        continue;
                    }
                    let cols = ((w - ix0).div_ceil(sx)).min(self.pitch - j0);
                    for i in 0..self.rows {
                        let py = i * sy + ry;
                        if py < pad_top {
                            continue;
                        }
                        let iy = py - pad_top;
                        if iy >= h {
                            break;
                        }
                        let src = &channel[iy * w + ix0..];
                        let dst = &mut plane[i * self.pitch + j0..][..cols];
                        if sx == 1 {
                            dst.copy_from_slice(&src[..cols]);
                        } else {
                            for (j, d) in dst.iter_mut().enumerate() {
                                *d = src[j * sx];
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Weights of one convolution-like sum packed for [`simd::conv_tile`]: blocks of `MR` output
/// rows, each `[channel][tap][MR]`; rows past `outputs` are zero.
struct PackedWeights {
    data: Vec<f32>,
    channels: usize,
    taps: usize,
}

impl PackedWeights {
    /// `weight(out, channel, tap)` for `out < outputs`, `channel < channels`, `tap < taps`.
    fn pack(outputs: usize, channels: usize, taps: usize, weight: impl Fn(usize, usize, usize) -> f32) -> Self {
        let blocks = outputs.div_ceil(MR);
        let mut data = vec![0.0; blocks * channels * taps * MR];
        for (b, block) in data.chunks_mut(channels * taps * MR).enumerate() {
            for c in 0..channels {
                for t in 0..taps {
                    for m in 0..MR {
                        let out = b * MR + m;
                        if out < outputs {
                            block[(c * taps + t) * MR + m] = weight(out, c, t);
                        }
                    }
                }
            }
        }
        Self { data, channels, taps }
    }

    fn blocks(&self) -> usize {
        self.data.len() / (self.channels * self.taps * MR).max(1)
    }
}

/// Channels per pass over the output tile: enough that one block's weights stay in L1.
fn channel_chunk(taps: usize) -> usize {
    (4096 / (taps * MR)).max(1)
}

/// Computes `tile[out][q - q0]` for `q` in `q0..q0 + len` and every packed output row:
/// `Σ_c Σ_t weights * grid[c * cstride + offsets[t] + q]`. `tile` holds
/// `blocks * MR` rows of `pitch >= len` rounded up to whole tiles.
// The microkernel's operands and strides, passed as they are: it runs once per tile.
#[allow(clippy::too_many_arguments)]
fn grid_sum(
    isa: Isa,
    grid: &[f32],
    cstride: usize,
    offsets: &[usize],
    weights: &PackedWeights,
    q0: usize,
    len: usize,
    tile: &mut [f32],
    pitch: usize,
) {
    let cols = isa.conv_cols();
    let tiles = len.div_ceil(cols);
    debug_assert!(tiles * cols <= pitch);
    let channels = weights.channels;
    let block_len = channels * weights.taps * MR;
    let chunk = channel_chunk(weights.taps);
    let max_offset = offsets.iter().copied().max().unwrap_or(0);
    assert!(channels.saturating_sub(1) * cstride + max_offset + q0 + tiles * cols <= grid.len(), "grid too short");
    assert!(weights.blocks() * MR * pitch <= tile.len(), "tile too short");
    for c0 in (0..channels).step_by(chunk) {
        let c1 = (c0 + chunk).min(channels);
        for b in 0..weights.blocks() {
            let w = &weights.data[b * block_len + c0 * weights.taps * MR..];
            for t in 0..tiles {
                let offset = q0 + t * cols;
                // SAFETY: the asserts above bound every index conv_tile reads and writes.
                unsafe {
                    simd::conv_tile(
                        isa,
                        grid.as_ptr().add(c0 * cstride + offset),
                        cstride,
                        c1 - c0,
                        offsets,
                        w.as_ptr(),
                        tile.as_mut_ptr().add(b * MR * pitch + t * cols),
                        pitch,
                        c0 > 0,
                    );
                }
            }
        }
    }
}

/// Row blocks per image: enough tasks for every thread when the batch is small, and rows few
/// enough that one block's input stays in the L2 cache.
fn row_blocks(batch: usize, rows: usize, bytes_per_row: usize) -> usize {
    const L2_BUDGET: usize = 192 * 1024;
    let for_cache = rows.div_ceil((L2_BUDGET / bytes_per_row.max(1)).max(1));
    let for_threads = (4 * threads()).div_ceil(batch.max(1));
    for_cache.max(for_threads).clamp(1, rows.max(1))
}

/// Forward convolution: `y = epilogue(conv(x, weight))`. `x` is `[N, C_in, H, W]`, `weight`
/// `[C_out, C_in, kh, kw]`, `y` `[N, C_out, OH, OW]`.
pub fn forward(isa: Isa, x: &[f32], weight: &[f32], shape: &ConvShape, epilogue: &Epilogue, y: &mut [f32]) {
    assert_eq!(x.len(), shape.input_len(), "input length");
    assert_eq!(weight.len(), shape.weight_len(), "weight length");
    assert_eq!(y.len(), shape.output_len(), "output length");
    let [kh, kw] = shape.kernel;
    let [sy, sx] = shape.stride;
    let [oh, ow] = shape.out_size();
    let taps = kh * kw;
    let grid = Grid::new(shape.in_channels, shape.in_size, shape.padding, shape.stride, isa);
    let offsets: Vec<usize> = (0..taps)
        .map(|t| {
            let (ky, kx) = (t / kw, t % kw);
            ((ky % sy) * sx + kx % sx) * grid.plane + (ky / sy) * grid.pitch + kx / sx
        })
        .collect();
    let weights = PackedWeights::pack(shape.out_channels, shape.in_channels, taps, |o, c, t| {
        weight[(o * shape.in_channels + c) * taps + t]
    });
    if oh * ow < SMALL_PLANE {
        return forward_packed(isa, x, &weights, shape, epilogue, y);
    }
    let row_bytes = 4 * grid.pitch * sy * sx * shape.in_channels.min(channel_chunk(taps));
    let blocks = Split::new(oh, row_blocks(shape.batch, oh, row_bytes));
    let image_in = shape.in_channels * shape.in_size[0] * shape.in_size[1];
    let image_out = shape.out_channels * oh * ow;
    let out = SharedMut::new(y);
    for_each_index(shape.batch, |n| {
        let mut xg = take_scratch(grid.len);
        grid.fill(&x[n * image_in..][..image_in], shape.in_size, &mut xg);
        for_each_index(blocks.parts(), |block| {
            let rows = blocks.range(block);
            let len = rows.len() * grid.pitch;
            let pitch = len.next_multiple_of(isa.conv_cols());
            // grid_sum overwrites every value of the tile that is read below.
            let mut tile = take_scratch(weights.blocks() * MR * pitch);
            grid_sum(isa, &xg, grid.cstride, &offsets, &weights, rows.start * grid.pitch, len, &mut tile, pitch);
            for co in 0..shape.out_channels {
                let scale = epilogue.scale.map_or(1.0, |s| s[co]);
                let shift = epilogue.shift.map_or(0.0, |s| s[co]);
                for (r, oy) in rows.clone().enumerate() {
                    let start = n * image_out + (co * oh + oy) * ow;
                    // SAFETY: (n, co, oy) rows are written by this task only.
                    let dst = unsafe { out.slice(start, ow) };
                    let src = &tile[co * pitch + r * grid.pitch..][..ow];
                    let residual = epilogue.residual.map(|res| &res[start..start + ow]);
                    apply_epilogue(src, dst, scale, shift, residual, epilogue.relu);
                }
            }
            give_back(tile);
        });
        give_back(xg);
    });
}

/// The forward convolution for small output planes (ResNet-18's 2x2 and 4x4 maps), where
/// computing on the grid's padded pitch would waste most of every tile: the output pixels of
/// all images, one after the other, are cut into blocks of one tile's width, and each block's
/// inputs are gathered into a panel (`[channel][tap][column]`) that [`grid_sum`] reads as a grid
/// whose taps are whole panel rows apart.
fn forward_packed(isa: Isa, x: &[f32], weights: &PackedWeights, shape: &ConvShape, epilogue: &Epilogue, y: &mut [f32]) {
    let ([h, w], [kh, kw], [sy, sx]) = (shape.in_size, shape.kernel, shape.stride);
    let [oh, ow] = shape.out_size();
    let ([pad_top, _], [pad_left, _]) = (shape.padding[0], shape.padding[1]);
    let (c_in, c_out, taps) = (shape.in_channels, shape.out_channels, kh * kw);
    let pixels = oh * ow;
    let total = shape.batch * pixels;
    let cols = isa.conv_cols();
    let offsets: Vec<usize> = (0..taps).map(|t| t * cols).collect();
    let out = SharedMut::new(y);
    for_each_index(total.div_ceil(cols), |panel_index| {
        let first = panel_index * cols;
        let valid = cols.min(total - first);
        // Where each column's receptive field starts: its image and top-left input pixel.
        let origins: Vec<(usize, isize, isize)> = (first..first + valid)
            .map(|q| {
                let (n, p) = (q / pixels, q % pixels);
                let (oy, ox) = (p / ow, p % ow);
                (n, (oy * sy) as isize - pad_top as isize, (ox * sx) as isize - pad_left as isize)
            })
            .collect();
        let mut panel = take_scratch(c_in * taps * cols);
        for c in 0..c_in {
            for ky in 0..kh {
                for kx in 0..kw {
                    let row = &mut panel[(c * taps + ky * kw + kx) * cols..][..cols];
                    for (value, &(n, y0, x0)) in row.iter_mut().zip(&origins) {
                        let (iy, ix) = (y0 + ky as isize, x0 + kx as isize);
                        let inside = iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w;
                        *value = if inside { x[((n * c_in + c) * h + iy as usize) * w + ix as usize] } else { 0.0 };
                    }
                    row[valid..].fill(0.0);
                }
            }
        }
        let mut tile = take_scratch(weights.blocks() * MR * cols);
        grid_sum(isa, &panel, taps * cols, &offsets, weights, 0, cols, &mut tile, cols);
        // Columns run through the images in order: copy out each image's run.
        let mut j = 0;
        while j < valid {
            let (n, p) = ((first + j) / pixels, (first + j) % pixels);
            let run = (pixels - p).min(valid - j);
            for co in 0..c_out {
                let start = (n * c_out + co) * pixels + p;
                // SAFETY: output pixels first..first + valid belong to this panel's task.
                let dst = unsafe { out.slice(start, run) };
                let residual = epilogue.residual.map(|res| &res[start..start + run]);
                let (scale, shift) = (epilogue.scale.map_or(1.0, |s| s[co]), epilogue.shift.map_or(0.0, |s| s[co]));
                apply_epilogue(&tile[co * cols + j..][..run], dst, scale, shift, residual, epilogue.relu);
            }
            j += run;
        }
        give_back(panel);
        give_back(tile);
    });
}

#[inline]
fn apply_epilogue(src: &[f32], dst: &mut [f32], scale: f32, shift: f32, residual: Option<&[f32]>, relu: bool) {
    match (residual, relu) {
        (None, false) => dst.iter_mut().zip(src).for_each(|(d, &s)| *d = s * scale + shift),
        (None, true) => dst.iter_mut().zip(src).for_each(|(d, &s)| *d = (s * scale + shift).max(0.0)),
        (Some(res), false) => dst.iter_mut().zip(src).zip(res).for_each(|((d, &s), &r)| *d = s * scale + shift + r),
        (Some(res), true) => {
            dst.iter_mut().zip(src).zip(res).for_each(|((d, &s), &r)| *d = (s * scale + shift + r).max(0.0))
        }
    }
}

/// The kernel taps that reach one stride phase of the input gradient.
struct Phase {
    /// `[row, column]` phase.
    at: [usize; 2],
    /// `[rows, columns]` of the input gradient in this phase.
    size: [usize; 2],
    /// First kernel tap of the phase per axis, and how many (`first + i * stride`).
    first: [usize; 2],
    count: [usize; 2],
    /// Grid position of tap 0 relative to the phase pixel, before the grid's padding.
    lead: [usize; 2],
}

/// Input gradient: `dx = conv_transpose(dy, weight)`. `dy` is `[N, C_out, OH, OW]`, `dx`
/// `[N, C_in, H, W]` (overwritten).
pub fn input_grad(isa: Isa, dy: &[f32], weight: &[f32], shape: &ConvShape, dx: &mut [f32]) {
    assert_eq!(dy.len(), shape.output_len(), "output gradient length");
    assert_eq!(weight.len(), shape.weight_len(), "weight length");
    assert_eq!(dx.len(), shape.input_len(), "input gradient length");
    let [kh, kw] = shape.kernel;
    let [sy, sx] = shape.stride;
    let [h, w] = shape.in_size;
    let out_size = shape.out_size();
    let taps = kh * kw;
    let (c_in, c_out) = (shape.in_channels, shape.out_channels);

    // Small stride-1 planes: the forward convolution of dy, padded by k - 1 - p, with the
    // kernel flipped and its channel axes swapped, on packed panels.
    let fits = |a: usize| shape.padding[a][0] < shape.kernel[a] && shape.padding[a][1] < shape.kernel[a];
    if h * w < SMALL_PLANE && shape.stride == [1, 1] && fits(0) && fits(1) {
        let flipped = ConvShape {
            batch: shape.batch,
            in_channels: c_out,
            in_size: out_size,
            out_channels: c_in,
            kernel: shape.kernel,
            stride: [1, 1],
            padding: [0, 1].map(|a| [0, 1].map(|side| shape.kernel[a] - 1 - shape.padding[a][side])),
        };
        let weights =
            PackedWeights::pack(c_in, c_out, taps, |ci, co, t| weight[(co * c_in + ci) * taps + taps - 1 - t]);
        return forward_packed(isa, dy, &weights, &flipped, &Epilogue::default(), dx);
    }

    // Input pixel i*s + r receives tap k when (i*s + r + pad - k) is a multiple of s: taps
    // k = first + a*s, from output pixel i + lead - a with lead = (r + pad) / s.
    let phases: Vec<Phase> = (0..sy * sx)
        .map(|p| {
            let at = [p / sx, p % sx];
            let axis = |a: usize| {
                let (r, s, k, n) = (at[a], shape.stride[a], shape.kernel[a], shape.in_size[a]);
                let shifted = r + shape.padding[a][0];
                let first = shifted % s;
                let count = if first < k { (k - first).div_ceil(s) } else { 0 };
                (n.saturating_sub(r).div_ceil(s), first, count, shifted / s)
            };
            let ((rows, fy, cy, ly), (cols, fx, cx, lx)) = (axis(0), axis(1));
            Phase { at, size: [rows, cols], first: [fy, fx], count: [cy, cx], lead: [ly, lx] }
        })
        .collect();
    // One zero-padded copy of dy serves every phase: pad by what the farthest tap reaches.
    let mut pad = [[0usize; 2]; 2];
    for phase in phases.iter().filter(|p| p.count[0] > 0 && p.count[1] > 0 && p.size[0] > 0 && p.size[1] > 0) {
        for a in 0..2 {
            pad[a][0] = pad[a][0].max((phase.count[a] - 1).saturating_sub(phase.lead[a]));
            pad[a][1] = pad[a][1].max((phase.size[a] - 1 + phase.lead[a]).saturating_sub(out_size[a] - 1));
        }
    }
    let grid = Grid::new(c_out, out_size, pad, [1, 1], isa);
    let plans: Vec<(usize, Vec<usize>, PackedWeights)> = phases
        .iter()
        .enumerate()
        .filter(|(_, p)| p.count[0] > 0 && p.count[1] > 0 && p.size[0] > 0 && p.size[1] > 0)
        .map(|(index, p)| {
            let [ca, cb] = p.count;
            let offsets = (0..ca * cb)
                .map(|t| {
                    let (a, b) = (t / cb, t % cb);
                    (p.lead[0] + pad[0][0] - a) * grid.pitch + (p.lead[1] + pad[1][0] - b)
                })
                .collect();
            let weights = PackedWeights::pack(c_in, c_out, ca * cb, |ci, co, t| {
                let (ky, kx) = (p.first[0] + (t / cb) * sy, p.first[1] + (t % cb) * sx);
                weight[(co * c_in + ci) * taps + ky * kw + kx]
            });
            (index, offsets, weights)
        })
        .collect();

    // Phases without taps receive nothing: zero (every other value is written below).
    if plans.len() < sy * sx {
        dx.fill(0.0);
    }
    let phase_rows = h.div_ceil(sy);
    let row_bytes = 4 * grid.pitch * c_out.min(channel_chunk(taps));
    let blocks = Split::new(phase_rows, row_blocks(shape.batch, phase_rows, row_bytes));
    let image_dy = c_out * out_size[0] * out_size[1];
    let image_dx = c_in * h * w;
    let out = SharedMut::new(dx);
    for_each_index(shape.batch, |n| {
        let mut dyg = take_scratch(grid.len);
        grid.fill(&dy[n * image_dy..][..image_dy], out_size, &mut dyg);
        for_each_index(blocks.parts(), |block| {
            let block_rows = blocks.range(block);
            let mut tile = take_scratch(0);
            for (index, offsets, weights) in &plans {
                let phase = &phases[*index];
                let rows = block_rows.start..block_rows.end.min(phase.size[0]);
                if rows.is_empty() {
                    continue;
                }
                let len = rows.len() * grid.pitch;
                let pitch = len.next_multiple_of(isa.conv_cols());
                // grid_sum overwrites every value of the tile that is read below.
                tile.resize(weights.blocks() * MR * pitch, 0.0);
                grid_sum(isa, &dyg, grid.cstride, offsets, weights, rows.start * grid.pitch, len, &mut tile, pitch);
                let [ry, rx] = phase.at;
                let cols = phase.size[1];
                for ci in 0..c_in {
                    for (r, i) in rows.clone().enumerate() {
                        let src = &tile[ci * pitch + r * grid.pitch..][..cols];
                        let row_start = n * image_dx + (ci * h + i * sy + ry) * w;
                        // SAFETY: rows i*sy + ry of image n belong to this block's task; the
                        // phases of one block run one after another.
                        let dst = unsafe { out.slice(row_start, w) };
                        if sx == 1 {
                            dst[rx..rx + cols].copy_from_slice(src);
                        } else {
                            for (j, &v) in src.iter().enumerate() {
                                dst[j * sx + rx] = v;
                            }
                        }
                    }
                }
            }
            give_back(tile);
        });
        give_back(dyg);
    });
}

/// Weight gradient: `dw[o][c][ky][kx] = Σ_n Σ_pixels dy[n][o] * x[n][c]` shifted by the tap,
/// overwriting `dw` (`[C_out, C_in, kh, kw]`). Images are summed in fixed groups and the groups
/// in order, whatever the number of threads.
pub fn weight_grad(isa: Isa, x: &[f32], dy: &[f32], shape: &ConvShape, dw: &mut [f32]) {
    weight_grad_in_chunks(isa, x, dy, shape, dw, CHUNK_VALUES);
}

/// [`weight_grad`], laying out at most `chunk_values` values at once on the small-plane path.
fn weight_grad_in_chunks(isa: Isa, x: &[f32], dy: &[f32], shape: &ConvShape, dw: &mut [f32], chunk_values: usize) {
    assert_eq!(x.len(), shape.input_len(), "input length");
    assert_eq!(dy.len(), shape.output_len(), "output gradient length");
    assert_eq!(dw.len(), shape.weight_len(), "weight gradient length");
    let [kh, kw] = shape.kernel;
    let [sy, sx] = shape.stride;
    let [oh, ow] = shape.out_size();
    let taps = kh * kw;
    let (c_in, c_out) = (shape.in_channels, shape.out_channels);
    let grid = Grid::new(c_in, shape.in_size, shape.padding, shape.stride, isa);
    let offsets: Vec<usize> = (0..taps)
        .map(|t| {
            let (ky, kx) = (t / kw, t % kw);
            ((ky % sy) * sx + kx % sx) * grid.plane + (ky / sy) * grid.pitch + kx / sx
        })
        .collect();
    // Columns are (input channel, tap) pairs; the last block repeats the last column into
    // scratch rows past `columns`.
    let columns = c_in * taps;
    let column_blocks = columns.div_ceil(WGRAD_COLS);
    let column_offset = |k: usize| (k / taps) * grid.cstride + offsets[k % taps];
    // The output gradient transposed, pixel-major, channels padded to whole blocks.
    let block = isa.wgrad_rows();
    let padded = c_out.next_multiple_of(block);
    let row_blocks = padded / block;
    let pixels = oh * ow;
    let image_in = c_in * shape.in_size[0] * shape.in_size[1];
    let image_dy = c_out * pixels;
    let partial_len = column_blocks * WGRAD_COLS * padded;
    let one_image = Pixels { images: 1, image_stride: 0, rows: oh, cols: ow, pitch: grid.pitch };
    let tile = |sums: &mut [f32], grid_values: &[f32], dyt: &[f32], pixels: Pixels, cb: usize, rb: usize| {
        let k0 = cb * WGRAD_COLS;
        let xs: [*const f32; WGRAD_COLS] =
            std::array::from_fn(|i| grid_values[column_offset((k0 + i).min(columns - 1))..].as_ptr());
        // SAFETY: `sums` holds column rows k0..k0+WGRAD_COLS; the pixels' reads stay inside the
        // grid (the forward pass reads the same).
        unsafe {
            simd::wgrad_tile(
                isa,
                dyt.as_ptr().add(rb * block),
                padded,
                xs,
                pixels,
                sums.as_mut_ptr().add(rb * block),
                padded,
            );
        }
    };
    // dw[o][k] = sums[k][o].
    let write_dw = |dw: &mut [f32], sums: &(dyn Fn(usize, usize) -> f32 + Sync)| {
        let out = SharedMut::new(dw);
        for_each_index(c_out, |co| {
            // SAFETY: row co of dw belongs to this task.
            let row = unsafe { out.slice(co * columns, columns) };
            for (k, v) in row.iter_mut().enumerate() {
                *v = sums(k, co);
            }
        });
    };

    if pixels < SMALL_PLANE {
        // Small planes (ResNet-18's 4x4 and 2x2 maps, ImageNet's 7x7): a few pixels per image
        // against a large weight. Summing image by image into per-group partials would stream
        // the whole weight-sized partial through memory for every image; instead the grids and
        // transposed gradients of a chunk of images are laid out side by side, and each task
        // owns a column block of one sum and adds the images into it in order, in registers.
        let per_image = grid.len + pixels * padded;
        let chunk = (chunk_values / per_image).clamp(1, shape.batch);
        let mut sums = vec![0.0f32; partial_len];
        let mut grids = take_scratch(chunk * grid.len);
        let mut dyts = take_scratch(chunk * pixels * padded);
        // The padding channels of `dyts` are never written below: zero once.
        dyts.fill(0.0);
        for first in (0..shape.batch).step_by(chunk) {
            let images = chunk.min(shape.batch - first);
            grids[..images * grid.len]
                .par_chunks_mut(grid.len)
                .zip(dyts[..images * pixels * padded].par_chunks_mut(pixels * padded))
                .enumerate()
                .for_each(|(i, (g, d))| {
                    let n = first + i;
                    grid.fill(&x[n * image_in..][..image_in], shape.in_size, g);
                    transpose_into(&dy[n * image_dy..][..image_dy], c_out, pixels, d, padded);
                });
            let (grids, dyts) = (&grids[..images * grid.len], &dyts[..images * pixels * padded]);
            let chunk_pixels = Pixels { images, image_stride: grid.len, ..one_image };
            sums.par_chunks_mut(WGRAD_COLS * padded).enumerate().for_each(|(cb, block_sums)| {
                for rb in 0..row_blocks {
                    tile(block_sums, grids, dyts, chunk_pixels, cb, rb);
                }
            });
        }
        give_back(grids);
        give_back(dyts);
        write_dw(dw, &|k, co| sums[k * padded + co]);
        return;
    }

    // Fixed groups of images, each with its own partial sum (`[column][channel]`); as many as
    // memory allows.
    const PARTIALS_BYTES: usize = 64 << 20;
    let groups = Split::new(shape.batch, shape.batch.min(16).min((PARTIALS_BYTES / (4 * partial_len.max(1))).max(1)));
    // With fewer groups than threads, the column blocks of each image are shared out too.
    let tasks_per_image = if groups.parts() >= threads() { 1 } else { (2 * threads()).div_ceil(groups.parts()) };
    let partials: Vec<Vec<f32>> = (0..groups.parts())
        .into_par_iter()
        .map(|g| {
            let mut partial = vec![0.0f32; partial_len];
            let mut xg = take_scratch(grid.len);
            let mut dyt = take_scratch(pixels * padded);
            if padded > c_out {
                // The padding channels are never written below: zero once.
                dyt.fill(0.0);
            }
            for n in groups.range(g) {
                grid.fill(&x[n * image_in..][..image_in], shape.in_size, &mut xg);
                transpose_into(&dy[n * image_dy..][..image_dy], c_out, pixels, &mut dyt, padded);
                let sums = SharedMut::new(&mut partial);
                let (xg, dyt) = (&xg, &dyt);
                let work = Split::new(column_blocks, tasks_per_image);
                for_each_index(work.parts(), |task| {
                    for cb in work.range(task) {
                        // SAFETY: this task owns column rows cb * WGRAD_COLS.. of the partial.
                        let block_sums = unsafe { sums.slice(cb * WGRAD_COLS * padded, WGRAD_COLS * padded) };
                        for rb in 0..row_blocks {
                            tile(block_sums, xg, dyt, one_image, cb, rb);
                        }
                    }
                });
            }
            give_back(xg);
            give_back(dyt);
            partial
        })
        .collect();
    // dw[o][k] = Σ_groups partial[k][o], groups in order.
    write_dw(dw, &|k, co| partials.iter().map(|p| p[k * padded + co]).fold(0.0, |a, b| a + b));
}

/// Planes below this many pixels take the small-plane paths: packed panels for the forward
/// convolution and the stride-1 input gradient, image chunks for the weight gradient.
const SMALL_PLANE: usize = 64;
/// Values of grids and transposed gradients the small-plane path lays out at once (16 MiB).
const CHUNK_VALUES: usize = 4 << 20;

/// `out[p * stride + c] = values[c * pixels + p]`: channel-major to pixel-major, in blocks of
/// pixels so that the written rows stay in cache.
fn transpose_into(values: &[f32], channels: usize, pixels: usize, out: &mut [f32], stride: usize) {
    const BLOCK: usize = 16;
    for p0 in (0..pixels).step_by(BLOCK) {
        let p1 = (p0 + BLOCK).min(pixels);
        for c in 0..channels {
            for (p, &v) in values[c * pixels + p0..c * pixels + p1].iter().enumerate() {
                out[(p0 + p) * stride + c] = v;
            }
        }
    }
}

/// Bias gradient: `db[o] = Σ_n Σ_pixels dy[n][o]`.
pub fn bias_grad(dy: &[f32], batch: usize, channels: usize, db: &mut [f32]) {
    let plane = dy.len() / (batch * channels).max(1);
    let out = SharedMut::new(db);
    for_each_index(channels, |c| {
        let total: f64 = (0..batch).map(|n| plane_sum(&dy[(n * channels + c) * plane..][..plane]) as f64).sum();
        // SAFETY: channel c is written by this task only.
        unsafe { out.slice(c, 1)[0] = total as f32 };
    });
}

/// Sum of one plane with eight running partial sums (vectorisable, and more accurate than one).
pub(crate) fn plane_sum(values: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let chunks = values.chunks_exact(8);
    let rest: f32 = chunks.remainder().iter().sum();
    for chunk in chunks {
        for (l, v) in lanes.iter_mut().zip(chunk) {
            *l += v;
        }
    }
    lanes.iter().sum::<f32>() + rest
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `dw` by its definition, in f64.
    fn naive_weight_grad(x: &[f32], dy: &[f32], s: &ConvShape) -> Vec<f64> {
        let ([h, w], [kh, kw], [oh, ow]) = (s.in_size, s.kernel, s.out_size());
        let mut dw = vec![0.0f64; s.weight_len()];
        for n in 0..s.batch {
            for o in 0..s.out_channels {
                for c in 0..s.in_channels {
                    for ky in 0..kh {
                        for kx in 0..kw {
                            let mut sum = 0.0;
                            for i in 0..oh {
                                for j in 0..ow {
                                    let iy = (i * s.stride[0] + ky) as isize - s.padding[0][0] as isize;
                                    let ix = (j * s.stride[1] + kx) as isize - s.padding[1][0] as isize;
                                    if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                                        continue;
                                    }
                                    let xv = x[((n * s.in_channels + c) * h + iy as usize) * w + ix as usize];
                                    sum += xv as f64 * dy[((n * s.out_channels + o) * oh + i) * ow + j] as f64;
                                }
                            }
                            dw[((o * s.in_channels + c) * kh + ky) * kw + kx] += sum;
                        }
                    }
                }
            }
        }
        dw
    }

    #[test]
    fn small_planes_sum_every_chunk_of_images() {
        // 3x4 output planes take the small-plane path; one image per chunk, three per chunk and
        // all at once must each equal the definition, and give the same bits on a second run.
        let shape = ConvShape {
            batch: 7,
            in_channels: 5,
            in_size: [5, 4],
            out_channels: 19,
            kernel: [3, 3],
            stride: [2, 1],
            padding: [[1, 1], [0, 1]],
        };
        let value = |i: usize| ((i * 7919 % 1000) as f32 / 500.0) - 1.0;
        let x: Vec<f32> = (0..shape.input_len()).map(value).collect();
        let dy: Vec<f32> = (0..shape.output_len()).map(|i| value(i + 13)).collect();
        let expected = naive_weight_grad(&x, &dy, &shape);
        let isa = simd::isa();
        let grid_len = Grid::new(shape.in_channels, shape.in_size, shape.padding, shape.stride, isa).len;
        let [oh, ow] = shape.out_size();
        let per_image = grid_len + oh * ow * shape.out_channels.next_multiple_of(isa.wgrad_rows());
        for chunk_values in [1, 3 * per_image, usize::MAX / 2] {
            let run = || {
                let mut dw = vec![f32::NAN; shape.weight_len()];
                weight_grad_in_chunks(isa, &x, &dy, &shape, &mut dw, chunk_values);
                dw
            };
            let dw = run();
            for (k, (&got, &want)) in dw.iter().zip(&expected).enumerate() {
                assert!((got as f64 - want).abs() < 1e-4 * (1.0 + want.abs()), "dw[{k}] = {got}, expected {want}");
            }
            assert_eq!(dw, run(), "a second run gave other bits");
        }
    }
}
