//! The two inner loops every convolution kernel is built from, one per instruction set: chosen
//! once at run time (AVX-512F, AVX2 with FMA, or portable Rust that any target compiles).
//!
//! * [`conv_tile`]: an `MR` x `cols` block of outputs, each a sum over channels and kernel taps
//!   of a weight times an input value at a fixed offset — the forward pass and the input
//!   gradient.
//! * [`wgrad_tile`]: a block of output channels x [`WGRAD_COLS`] input columns of the weight
//!   gradient, summed over the output pixels of one image.

use std::sync::OnceLock;

/// Output channels per [`conv_tile`] block.
pub const MR: usize = 4;
/// Input columns (input channel and kernel tap) per [`wgrad_tile`] block.
pub const WGRAD_COLS: usize = 4;

/// The instruction set the kernels run with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    /// Plain Rust, vectorised by the compiler for the build's baseline target.
    Portable,
    /// AVX2 and FMA (x86-64 since Haswell and Zen).
    Avx2,
    /// AVX-512 Foundation (Skylake-SP and later Xeons, Zen 4).
    Avx512,
}

impl Isa {
    /// Lower-case name, as `ZOO_KERNELS_ISA` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Portable => "portable",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
        }
    }

    /// Whether this CPU can run it.
    pub fn supported(self) -> bool {
        match self {
            Isa::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => is_x86_feature_detected!("avx512f"),
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// Output channels of one [`wgrad_tile`] block: two vectors.
    pub fn wgrad_rows(self) -> usize {
        match self {
            Isa::Portable | Isa::Avx2 => 16,
            Isa::Avx512 => 32,
        }
    }

    /// Columns of one [`conv_tile`] block.
    pub fn conv_cols(self) -> usize {
        match self {
            Isa::Portable => 8,
            Isa::Avx2 => 16,
            Isa::Avx512 => 48,
        }
    }
}

/// The best instruction set of this CPU, or the one `ZOO_KERNELS_ISA` names (`portable`, `avx2`,
/// `avx512`) when the CPU has it: the tests run every path the machine supports that way.
pub fn isa() -> Isa {
    static ISA: OnceLock<Isa> = OnceLock::new();
    *ISA.get_or_init(|| {
        let requested = std::env::var("ZOO_KERNELS_ISA").ok();
        let named =
            [Isa::Portable, Isa::Avx2, Isa::Avx512].into_iter().find(|isa| requested.as_deref() == Some(isa.name()));
        match named {
            Some(isa) if isa.supported() => isa,
            _ => {
                [Isa::Avx512, Isa::Avx2, Isa::Portable].into_iter().find(|isa| isa.supported()).unwrap_or(Isa::Portable)
            }
        }
    })
}

/// One block of a convolution-like sum:
///
/// `dst[m * dst_pitch + j] (+)= Σ_{c < channels} Σ_t w[(c * taps + t) * MR + m] * x[c * cstride + offsets[t] + j]`
///
/// for `m < MR` and `j < isa.conv_cols()`; with `accumulate` the block adds to `dst`, otherwise it
/// overwrites it.
///
/// # Safety
/// Every `x` index above, every `w` index below `channels * taps * MR` and every `dst` index must
/// be in bounds of its allocation.
#[allow(clippy::too_many_arguments)]
#[inline]
pub unsafe fn conv_tile(
    isa: Isa,
    x: *const f32,
    cstride: usize,
    channels: usize,
    offsets: &[usize],
    w: *const f32,
    dst: *mut f32,
    dst_pitch: usize,
    accumulate: bool,
) {
    unsafe {
        match isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => x86::conv_tile_avx512(x, cstride, channels, offsets, w, dst, dst_pitch, accumulate),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => x86::conv_tile_avx2(x, cstride, channels, offsets, w, dst, dst_pitch, accumulate),
            _ => conv_tile_portable(x, cstride, channels, offsets, w, dst, dst_pitch, accumulate),
        }
    }
}

/// The output pixels one [`wgrad_tile`] call sums over: `images` images `image_stride` apart in
/// the input grid, each `rows` rows of `cols` pixels, its rows `pitch` apart.
#[derive(Debug, Clone, Copy)]
pub struct Pixels {
    /// Images, one after the other.
    pub images: usize,
    /// Distance between two images' grids.
    pub image_stride: usize,
    /// Output rows per image.
    pub rows: usize,
    /// Output columns per row.
    pub cols: usize,
    /// Distance between two rows in the grid.
    pub pitch: usize,
}

/// One block of the weight gradient, added to `out`:
///
/// `out[j * out_stride + o] += Σ_p dyt[p * dy_stride + o] * x[j][q(p)]`
///
/// for `o < isa.wgrad_rows()` and `j <` [`WGRAD_COLS`], where `p` counts the output pixels of
/// [`Pixels::images`] images one after the other, and
/// `q(p) = image * image_stride + row * pitch + col` is where the pixel's input sits relative to each column's pointer. `dyt` is the output
/// gradient transposed (pixel-major), the images' pixels consecutive.
///
/// # Safety
/// Every index above must be in bounds of its allocation.
#[allow(clippy::too_many_arguments)]
#[inline]
pub unsafe fn wgrad_tile(
    isa: Isa,
    dyt: *const f32,
    dy_stride: usize,
    x: [*const f32; WGRAD_COLS],
    pixels: Pixels,
    out: *mut f32,
    out_stride: usize,
) {
    unsafe {
        match isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => x86::wgrad_tile_avx512(dyt, dy_stride, x, pixels, out, out_stride),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => x86::wgrad_tile_avx2(dyt, dy_stride, x, pixels, out, out_stride),
            _ => wgrad_tile_portable(dyt, dy_stride, x, pixels, out, out_stride),
        }
    }
}

const LANES: usize = 8;

#[allow(clippy::too_many_arguments)]
unsafe fn conv_tile_portable(
    x: *const f32,
    cstride: usize,
    channels: usize,
    offsets: &[usize],
    w: *const f32,
    dst: *mut f32,
    dst_pitch: usize,
    accumulate: bool,
) {
    unsafe {
        let mut acc = [[0.0f32; LANES]; MR];
        if accumulate {
            for (m, row) in acc.iter_mut().enumerate() {
                row.copy_from_slice(std::slice::from_raw_parts(dst.add(m * dst_pitch), LANES));
            }
        }
        let mut wp = w;
        for c in 0..channels {
            let xc = x.add(c * cstride);
            for &offset in offsets {
                let xv: [f32; LANES] = std::ptr::read_unaligned(xc.add(offset) as *const [f32; LANES]);
                for (m, row) in acc.iter_mut().enumerate() {
                    let wv = *wp.add(m);
                    for (a, xv) in row.iter_mut().zip(xv) {
                        *a += wv * xv;
                    }
                }
                wp = wp.add(MR);
            }
        }
        for (m, row) in acc.iter().enumerate() {
            std::slice::from_raw_parts_mut(dst.add(m * dst_pitch), LANES).copy_from_slice(row);
        }
    }
}

#[allow(clippy::too_many_arguments)]
unsafe fn wgrad_tile_portable(
    dyt: *const f32,
    dy_stride: usize,
    x: [*const f32; WGRAD_COLS],
    pixels: Pixels,
    out: *mut f32,
    out_stride: usize,
) {
    const ROWS: usize = 16;
    unsafe {
        let mut acc = [[0.0f32; ROWS]; WGRAD_COLS];
        let mut d = dyt;
        for r in 0..pixels.images * pixels.rows {
            let base = (r / pixels.rows) * pixels.image_stride + (r % pixels.rows) * pixels.pitch;
            for i in 0..pixels.cols {
                let q = base + i;
                let dv: [f32; ROWS] = std::ptr::read_unaligned(d as *const [f32; ROWS]);
                for (j, row) in acc.iter_mut().enumerate() {
                    let xv = *x[j].add(q);
                    for (a, &dv) in row.iter_mut().zip(&dv) {
                        *a += dv * xv;
                    }
                }
                d = d.add(dy_stride);
            }
        }
        for (j, row) in acc.iter().enumerate() {
            let o = std::slice::from_raw_parts_mut(out.add(j * out_stride), ROWS);
            for (o, a) in o.iter_mut().zip(row) {
                *o += a;
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{MR, Pixels, WGRAD_COLS};
    use std::arch::x86_64::*;

    /// Writes the accumulator rows of one block, or adds them to it first.
    macro_rules! tile_body {
        ($vec:ty, $width:expr, $zero:ident, $load:ident, $store:ident, $set1:ident, $fmadd:ident,
         $x:ident, $cstride:ident, $channels:ident, $offsets:ident, $w:ident, $dst:ident, $pitch:ident, $accumulate:ident) => {{
            let mut acc: [[$vec; 3]; MR] = [[$zero(); 3]; MR];
            if $accumulate {
                for m in 0..MR {
                    for v in 0..3 {
                        acc[m][v] = $load($dst.add(m * $pitch + v * $width));
                    }
                }
            }
            let mut wp = $w;
            for c in 0..$channels {
                let xc = $x.add(c * $cstride);
                for &offset in $offsets {
                    let xp = xc.add(offset);
                    let x0 = $load(xp);
                    let x1 = $load(xp.add($width));
                    let x2 = $load(xp.add(2 * $width));
                    for m in 0..MR {
                        let wv = $set1(*wp.add(m));
                        acc[m][0] = $fmadd(wv, x0, acc[m][0]);
                        acc[m][1] = $fmadd(wv, x1, acc[m][1]);
                        acc[m][2] = $fmadd(wv, x2, acc[m][2]);
                    }
                    wp = wp.add(MR);
                }
            }
            for m in 0..MR {
                for v in 0..3 {
                    $store($dst.add(m * $pitch + v * $width), acc[m][v]);
                }
            }
        }};
    }

    /// The weight-gradient block: two vectors of output channels times four input columns
    /// (8 accumulators, 2 gradient vectors and a broadcast).
    macro_rules! wgrad_body {
        ($vec:ty, $width:expr, $load:ident, $store:ident, $set1:ident, $fmadd:ident, $add:ident,
         $dyt:ident, $dy_stride:ident, $x:ident, $pixels:ident, $out:ident, $out_stride:ident) => {{
            let zero = || $set1(0.0);
            let (mut a00, mut a01, mut a10, mut a11) = (zero(), zero(), zero(), zero());
            let (mut a20, mut a21, mut a30, mut a31) = (zero(), zero(), zero(), zero());
            let [x0, x1, x2, x3] = $x;
            let mut d = $dyt;
            for r in 0..$pixels.images * $pixels.rows {
                let base = (r / $pixels.rows) * $pixels.image_stride + (r % $pixels.rows) * $pixels.pitch;
                for q in base..base + $pixels.cols {
                    let d0 = $load(d);
                    let d1 = $load(d.add($width));
                    let b = $set1(*x0.add(q));
                    a00 = $fmadd(d0, b, a00);
                    a01 = $fmadd(d1, b, a01);
                    let b = $set1(*x1.add(q));
                    a10 = $fmadd(d0, b, a10);
                    a11 = $fmadd(d1, b, a11);
                    let b = $set1(*x2.add(q));
                    a20 = $fmadd(d0, b, a20);
                    a21 = $fmadd(d1, b, a21);
                    let b = $set1(*x3.add(q));
                    a30 = $fmadd(d0, b, a30);
                    a31 = $fmadd(d1, b, a31);
                    d = d.add($dy_stride);
                }
            }
            for (j, [v0, v1]) in [[a00, a01], [a10, a11], [a20, a21], [a30, a31]].into_iter().enumerate() {
                let o = $out.add(j * $out_stride);
                $store(o, $add($load(o), v0));
                $store(o.add($width), $add($load(o.add($width)), v1));
            }
        }};
    }

    /// Four rows of two vectors: 8 accumulators, 2 inputs and a broadcast leave registers to
    /// spare. Three vectors per row (12 + 3 + 1 = all 16 registers) made LLVM shuffle and
    /// spill accumulators in the inner loop and ran slower.
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn conv_tile_avx2(
        x: *const f32,
        cstride: usize,
        channels: usize,
        offsets: &[usize],
        w: *const f32,
        dst: *mut f32,
        pitch: usize,
        accumulate: bool,
    ) {
        unsafe {
            let row = |m: usize, v: usize| dst.add(m * pitch + v * 8);
            let init = |m: usize, v: usize| if accumulate { _mm256_loadu_ps(row(m, v)) } else { _mm256_setzero_ps() };
            let (mut a00, mut a01) = (init(0, 0), init(0, 1));
            let (mut a10, mut a11) = (init(1, 0), init(1, 1));
            let (mut a20, mut a21) = (init(2, 0), init(2, 1));
            let (mut a30, mut a31) = (init(3, 0), init(3, 1));
            let mut wp = w;
            for c in 0..channels {
                let xc = x.add(c * cstride);
                for &offset in offsets {
                    let xp = xc.add(offset);
                    let x0 = _mm256_loadu_ps(xp);
                    let x1 = _mm256_loadu_ps(xp.add(8));
                    let b = _mm256_broadcast_ss(&*wp);
                    a00 = _mm256_fmadd_ps(b, x0, a00);
                    a01 = _mm256_fmadd_ps(b, x1, a01);
                    let b = _mm256_broadcast_ss(&*wp.add(1));
                    a10 = _mm256_fmadd_ps(b, x0, a10);
                    a11 = _mm256_fmadd_ps(b, x1, a11);
                    let b = _mm256_broadcast_ss(&*wp.add(2));
                    a20 = _mm256_fmadd_ps(b, x0, a20);
                    a21 = _mm256_fmadd_ps(b, x1, a21);
                    let b = _mm256_broadcast_ss(&*wp.add(3));
                    a30 = _mm256_fmadd_ps(b, x0, a30);
                    a31 = _mm256_fmadd_ps(b, x1, a31);
                    wp = wp.add(MR);
                }
            }
            for (m, [v0, v1]) in [[a00, a01], [a10, a11], [a20, a21], [a30, a31]].into_iter().enumerate() {
                _mm256_storeu_ps(row(m, 0), v0);
                _mm256_storeu_ps(row(m, 1), v1);
            }
        }
    }

    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn conv_tile_avx512(
        x: *const f32,
        cstride: usize,
        channels: usize,
        offsets: &[usize],
        w: *const f32,
        dst: *mut f32,
        pitch: usize,
        accumulate: bool,
    ) {
        unsafe {
            tile_body!(
                __m512, 16, _mm512_setzero_ps, _mm512_loadu_ps, _mm512_storeu_ps, _mm512_set1_ps, _mm512_fmadd_ps, x,
                cstride, channels, offsets, w, dst, pitch, accumulate
            )
        }
    }

    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn wgrad_tile_avx2(
        dyt: *const f32,
        dy_stride: usize,
        x: [*const f32; WGRAD_COLS],
        pixels: Pixels,
        out: *mut f32,
        out_stride: usize,
    ) {
        unsafe {
            wgrad_body!(
                __m256, 8, _mm256_loadu_ps, _mm256_storeu_ps, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps, dyt,
                dy_stride, x, pixels, out, out_stride
            )
        }
    }

    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn wgrad_tile_avx512(
        dyt: *const f32,
        dy_stride: usize,
        x: [*const f32; WGRAD_COLS],
        pixels: Pixels,
        out: *mut f32,
        out_stride: usize,
    ) {
        unsafe {
            wgrad_body!(
                __m512, 16, _mm512_loadu_ps, _mm512_storeu_ps, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps, dyt,
                dy_stride, x, pixels, out, out_stride
            )
        }
    }
}
