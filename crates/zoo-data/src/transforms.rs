//! Per-image augmentations and preprocessing, each a small serde-configurable type.
//!
//! Written here rather than on `imageproc`: each follows torchvision's semantics (which pixels a
//! crop, resize or erasing takes, how its parameters are drawn) so a recipe means what it means in
//! PyTorch, and every draw is keyed by `(seed, epoch, image)`; imageproc's geometric operations
//! neither match those conventions nor take the zoo's planar `f32` images.
//!
//! A [`Pipeline`] is a list of [`TransformConfig`]s, which recipes name in JSON:
//!
//! ```
//! use zoo_data::transforms::Pipeline;
//! let p: Pipeline = serde_json::from_str(r#"[
//!   {"type": "random_crop", "size": [32, 32], "padding": 4, "padding_mode": "reflect"},
//!   {"type": "horizontal_flip", "p": 0.5},
//!   {"type": "normalize", "mean": [0.4914, 0.4822, 0.4465], "std": [0.247, 0.2435, 0.2616]}
//! ]"#).unwrap();
//! assert_eq!(p.transforms.len(), 3);
//! ```
//!
//! Randomness comes from [`Rng`]s keyed by `(seed, epoch, sample index, transform position)`,
//! so a sample's augmentation is the same whichever worker thread computes it, and changes from
//! one epoch to the next.

use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::imagebuf::Image;
use crate::rng::Rng;

/// A per-image transform.
pub trait Transform {
    /// Applies the transform; random ones draw from `rng`.
    fn apply(&self, img: Image, rng: &mut Rng) -> Result<Image>;
}

/// How pixels outside the image are filled by padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaddingMode {
    /// A constant value (the transform's `fill`, 0 by default).
    #[default]
    Zero,
    /// Mirror without repeating the edge pixel (`[a b c]` padded by 2 → `c b [a b c] b a`).
    Reflect,
    /// Repeat the edge pixel (`a a [a b c] c c`).
    Replicate,
}

/// Maps a possibly out-of-range coordinate to a source coordinate, or `None` for fill.
#[inline]
fn map_index(i: isize, n: usize, mode: PaddingMode) -> Option<usize> {
    let n = n as isize;
    if (0..n).contains(&i) {
        return Some(i as usize);
    }
    match mode {
        PaddingMode::Zero => None,
        PaddingMode::Replicate => Some(i.clamp(0, n - 1) as usize),
        PaddingMode::Reflect => {
            if n == 1 {
                return Some(0);
            }
            let period = 2 * (n - 1);
            let mut j = i.rem_euclid(period);
            if j >= n {
                j = period - j;
            }
            Some(j as usize)
        }
    }
}

/// Crops the window `[top, top + h) x [left, left + w)` of `img` padded virtually by `mode`:
/// coordinates may be negative or past the edge (this is pad-then-crop without the padded copy).
pub fn crop_padded(img: &Image, top: isize, left: isize, h: usize, w: usize, mode: PaddingMode, fill: f32) -> Image {
    let mut out = Image::filled(img.channels, h, w, fill);
    let cols: Vec<Option<usize>> = (0..w).map(|x| map_index(left + x as isize, img.width, mode)).collect();
    let inside_cols = left >= 0 && left as usize + w <= img.width;
    for c in 0..img.channels {
        let src = img.plane(c);
        for y in 0..h {
            let Some(sy) = map_index(top + y as isize, img.height, mode) else {
                continue;
            };
            let srow = &src[sy * img.width..(sy + 1) * img.width];
            let drow = &mut out.data[(c * h + y) * w..(c * h + y + 1) * w];
            if inside_cols {
                drow.copy_from_slice(&srow[left as usize..left as usize + w]);
            } else {
                for (d, sx) in drow.iter_mut().zip(&cols) {
                    if let Some(sx) = sx {
                        *d = srow[*sx];
                    }
                }
            }
        }
    }
    out
}

/// Crops `[top, top + h) x [left, left + w)`; fails if the window leaves the image.
pub fn crop(img: &Image, top: usize, left: usize, h: usize, w: usize) -> Result<Image> {
    if top + h > img.height || left + w > img.width {
        return Err(DataError::transform(
            "crop",
            format!("window {h}x{w} at ({top}, {left}) leaves the {}x{} image", img.height, img.width),
        ));
    }
    Ok(crop_padded(img, top as isize, left as isize, h, w, PaddingMode::Zero, 0.0))
}

/// Pads every side by `padding` pixels.
pub fn pad(img: &Image, padding: usize, mode: PaddingMode, fill: f32) -> Image {
    let p = padding as isize;
    crop_padded(img, -p, -p, img.height + 2 * padding, img.width + 2 * padding, mode, fill)
}

/// Mirrors the image left-right.
pub fn hflip(img: &Image) -> Image {
    let mut out = img.clone();
    for row in out.data.chunks_exact_mut(img.width) {
        row.reverse();
    }
    out
}

/// Mirrors the image top-bottom.
pub fn vflip(img: &Image) -> Image {
    let mut out = img.clone();
    let (h, w) = (img.height, img.width);
    for c in 0..img.channels {
        for y in 0..h {
            let s = (c * h + h - 1 - y) * w;
            let d = (c * h + y) * w;
            out.data[d..d + w].copy_from_slice(&img.data[s..s + w]);
        }
    }
    out
}

/// ITU-R 601-2 luma weights, as used by PIL and torchvision: `0.299 R + 0.587 G + 0.114 B`.
pub const LUMA_WEIGHTS: [f32; 3] = [0.299, 0.587, 0.114];

/// Converts to grey with [`LUMA_WEIGHTS`] (a 1-channel image is returned as is) and repeats the
/// grey plane `out_channels` times (1 or 3).
pub fn to_grayscale(img: &Image, out_channels: usize) -> Image {
    let n = img.height * img.width;
    let grey: Vec<f32> = if img.channels >= 3 {
        (0..n)
            .map(|i| {
                LUMA_WEIGHTS[0] * img.data[i]
                    + LUMA_WEIGHTS[1] * img.data[n + i]
                    + LUMA_WEIGHTS[2] * img.data[2 * n + i]
            })
            .collect()
    } else {
        img.data[..n].to_vec()
    };
    let mut data = Vec::with_capacity(n * out_channels);
    for _ in 0..out_channels {
        data.extend_from_slice(&grey);
    }
    Image { channels: out_channels, height: img.height, width: img.width, data }
}

/// `(x - mean[c]) / std[c]` per channel.
pub fn normalize(mut img: Image, mean: &[f32], std: &[f32]) -> Result<Image> {
    if mean.len() != img.channels || std.len() != img.channels {
        return Err(DataError::transform(
            "normalize",
            format!("{} means and {} stds for an image of {} channels", mean.len(), std.len(), img.channels),
        ));
    }
    if let Some(s) = std.iter().find(|s| **s <= 0.0 || !s.is_finite()) {
        return Err(DataError::transform("normalize", format!("std {s} must be positive")));
    }
    let n = img.height * img.width;
    for c in 0..img.channels {
        let (m, inv) = (mean[c], 1.0 / std[c]);
        for v in &mut img.data[c * n..(c + 1) * n] {
            *v = (*v - m) * inv;
        }
    }
    Ok(img)
}

/// Bilinear resize to `h x w` (half-pixel centres, like `align_corners=False`; no antialiasing).
pub fn resize(img: &Image, h: usize, w: usize) -> Image {
    if img.height == h && img.width == w {
        return img.clone();
    }
    let sy = img.height as f32 / h as f32;
    let sx = img.width as f32 / w as f32;
    let taps = |i: usize, scale: f32, n: usize| {
        let f = ((i as f32 + 0.5) * scale - 0.5).max(0.0);
        let i0 = (f.floor() as usize).min(n - 1);
        let i1 = (i0 + 1).min(n - 1);
        (i0, i1, f - i0 as f32)
    };
    let xt: Vec<_> = (0..w).map(|x| taps(x, sx, img.width)).collect();
    let mut out = Image::filled(img.channels, h, w, 0.0);
    for c in 0..img.channels {
        let src = img.plane(c);
        for y in 0..h {
            let (y0, y1, fy) = taps(y, sy, img.height);
            for (x, &(x0, x1, fx)) in xt.iter().enumerate() {
                let a = src[y0 * img.width + x0] * (1.0 - fx) + src[y0 * img.width + x1] * fx;
                let b = src[y1 * img.width + x0] * (1.0 - fx) + src[y1 * img.width + x1] * fx;
                out.data[(c * h + y) * w + x] = a * (1.0 - fy) + b * fy;
            }
        }
    }
    out
}

/// Samples `img` through the inverse of an affine map about the image centre: output pixel `p`
/// takes the bilinear value at `A^-1 (p - centre - t) + centre`, where `A` rotates by `degrees`
/// (counter-clockwise on screen) and scales by `scale`; pixels from outside are `fill`.
pub fn affine(img: &Image, degrees: f32, translate: (f32, f32), scale: f32, fill: f32) -> Image {
    let (h, w) = (img.height, img.width);
    let (cx, cy) = (w as f32 * 0.5, h as f32 * 0.5);
    let (s, c) = (-degrees.to_radians()).sin_cos();
    // Inverse of scale * rotation.
    let inv = 1.0 / scale;
    let (a, b, cc, d) = (c * inv, s * inv, -s * inv, c * inv);
    let mut out = Image::filled(img.channels, h, w, fill);
    for y in 0..h {
        for x in 0..w {
            let (px, py) = (x as f32 + 0.5 - cx - translate.0, y as f32 + 0.5 - cy - translate.1);
            let sx = a * px + b * py + cx - 0.5;
            let sy = cc * px + d * py + cy - 0.5;
            if sx <= -1.0 || sy <= -1.0 || sx >= w as f32 || sy >= h as f32 {
                continue;
            }
            let (x0, y0) = (sx.floor() as isize, sy.floor() as isize);
            let (fx, fy) = (sx - x0 as f32, sy - y0 as f32);
            for ch in 0..img.channels {
                let plane = img.plane(ch);
                let at = |yy: isize, xx: isize| {
                    if yy < 0 || xx < 0 || yy >= h as isize || xx >= w as isize {
                        fill
                    } else {
                        plane[yy as usize * w + xx as usize]
                    }
                };
                let top = at(y0, x0) * (1.0 - fx) + at(y0, x0 + 1) * fx;
                let bot = at(y0 + 1, x0) * (1.0 - fx) + at(y0 + 1, x0 + 1) * fx;
                out.data[(ch * h + y) * w + x] = top * (1.0 - fy) + bot * fy;
            }
        }
    }
    out
}

fn rgb_to_hsv(r: f32, g: f32, b: f32) -> (f32, f32, f32) {
    let max = r.max(g).max(b);
    let min = r.min(g).min(b);
    let d = max - min;
    let h = if d == 0.0 {
        0.0
    } else if max == r {
        ((g - b) / d).rem_euclid(6.0) / 6.0
    } else if max == g {
        ((b - r) / d + 2.0) / 6.0
    } else {
        ((r - g) / d + 4.0) / 6.0
    };
    let s = if max == 0.0 { 0.0 } else { d / max };
    (h, s, max)
}

fn hsv_to_rgb(h: f32, s: f32, v: f32) -> (f32, f32, f32) {
    let h6 = h.rem_euclid(1.0) * 6.0;
    let i = h6.floor();
    let f = h6 - i;
    let (p, q, t) = (v * (1.0 - s), v * (1.0 - s * f), v * (1.0 - s * (1.0 - f)));
    match i as i32 {
        0 => (v, t, p),
        1 => (q, v, p),
        2 => (p, v, t),
        3 => (p, q, v),
        4 => (t, p, v),
        _ => (v, p, q),
    }
}

/// Multiplies brightness by `f` (clamped to `[0, 1]`).
pub fn adjust_brightness(mut img: Image, f: f32) -> Image {
    img.data.iter_mut().for_each(|v| *v = (*v * f).clamp(0.0, 1.0));
    img
}

/// Blends with the mean grey level: `mean + f (x - mean)` (clamped).
pub fn adjust_contrast(mut img: Image, f: f32) -> Image {
    let grey = to_grayscale(&img, 1);
    let mean = grey.data.iter().sum::<f32>() / grey.data.len().max(1) as f32;
    img.data.iter_mut().for_each(|v| *v = (mean + f * (*v - mean)).clamp(0.0, 1.0));
    img
}

/// Blends with the grey image: `grey + f (x - grey)` (clamped; no-op on 1-channel images).
pub fn adjust_saturation(mut img: Image, f: f32) -> Image {
    if img.channels < 3 {
        return img;
    }
    let grey = to_grayscale(&img, 1);
    let n = img.height * img.width;
    for c in 0..3 {
        for i in 0..n {
            let v = &mut img.data[c * n + i];
            *v = (grey.data[i] + f * (*v - grey.data[i])).clamp(0.0, 1.0);
        }
    }
    img
}

/// Rotates the hue by `shift` turns (in `[-0.5, 0.5]`; no-op on 1-channel images).
pub fn adjust_hue(mut img: Image, shift: f32) -> Image {
    if img.channels < 3 {
        return img;
    }
    let n = img.height * img.width;
    for i in 0..n {
        let (h, s, v) = rgb_to_hsv(img.data[i], img.data[n + i], img.data[2 * n + i]);
        let (r, g, b) = hsv_to_rgb(h + shift, s, v);
        img.data[i] = r;
        img.data[n + i] = g;
        img.data[2 * n + i] = b;
    }
    img
}

fn default_half() -> f32 {
    0.5
}
fn default_one() -> f32 {
    1.0
}

/// Pad by `padding` on every side, then crop a random `size` window (torchvision `RandomCrop`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RandomCrop {
    /// Output `[height, width]`.
    pub size: [usize; 2],
    /// Pixels of padding on every side before cropping.
    #[serde(default)]
    pub padding: usize,
    /// How the padding is filled.
    #[serde(default)]
    pub padding_mode: PaddingMode,
    /// Value of `zero` padding.
    #[serde(default)]
    pub fill: f32,
}

impl RandomCrop {
    /// The top-left corner, in padded coordinates, that `rng` selects for an image of `h x w`.
    pub fn offsets(&self, h: usize, w: usize, rng: &mut Rng) -> Result<(usize, usize)> {
        let (ph, pw) = (h + 2 * self.padding, w + 2 * self.padding);
        if self.size[0] > ph || self.size[1] > pw {
            return Err(DataError::transform(
                "random_crop",
                format!("crop {:?} is larger than the padded {ph}x{pw} image", self.size),
            ));
        }
        let top = rng.below((ph - self.size[0] + 1) as u64) as usize;
        let left = rng.below((pw - self.size[1] + 1) as u64) as usize;
        Ok((top, left))
    }
}

impl Transform for RandomCrop {
    fn apply(&self, img: Image, rng: &mut Rng) -> Result<Image> {
        if self.padding_mode == PaddingMode::Reflect && (self.padding >= img.height || self.padding >= img.width) {
            return Err(DataError::transform(
                "random_crop",
                format!("reflect padding {} needs an image larger than {}x{}", self.padding, img.height, img.width),
            ));
        }
        let (top, left) = self.offsets(img.height, img.width, rng)?;
        let p = self.padding as isize;
        Ok(crop_padded(
            &img,
            top as isize - p,
            left as isize - p,
            self.size[0],
            self.size[1],
            self.padding_mode,
            self.fill,
        ))
    }
}

/// Deterministic padding on every side (e.g. MNIST 28x28 → 32x32 with `padding: 2`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pad {
    /// Pixels added on every side.
    pub padding: usize,
    /// How they are filled.
    #[serde(default)]
    pub padding_mode: PaddingMode,
    /// Value of `zero` padding.
    #[serde(default)]
    pub fill: f32,
}

impl Transform for Pad {
    fn apply(&self, img: Image, _rng: &mut Rng) -> Result<Image> {
        Ok(pad(&img, self.padding, self.padding_mode, self.fill))
    }
}

/// Mirror left-right with probability `p`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HorizontalFlip {
    /// Probability of flipping.
    #[serde(default = "default_half")]
    pub p: f32,
}

impl Transform for HorizontalFlip {
    fn apply(&self, img: Image, rng: &mut Rng) -> Result<Image> {
        Ok(if rng.chance(self.p) { hflip(&img) } else { img })
    }
}

/// Mirror top-bottom with probability `p`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerticalFlip {
    /// Probability of flipping.
    #[serde(default = "default_half")]
    pub p: f32,
}

impl Transform for VerticalFlip {
    fn apply(&self, img: Image, rng: &mut Rng) -> Result<Image> {
        Ok(if rng.chance(self.p) { vflip(&img) } else { img })
    }
}

/// Random rotation, translation and scale in one bilinear resampling (torchvision `RandomAffine`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RandomAffine {
    /// Rotation drawn uniformly in `[-degrees, degrees]`.
    #[serde(default)]
    pub degrees: f32,
    /// Maximum shift as a fraction of `[width, height]`.
    #[serde(default)]
    pub translate: [f32; 2],
    /// Scale factor drawn uniformly in `[scale[0], scale[1]]`.
    #[serde(default = "unit_scale")]
    pub scale: [f32; 2],
    /// Value of pixels coming from outside the image.
    #[serde(default)]
    pub fill: f32,
}

fn unit_scale() -> [f32; 2] {
    [1.0, 1.0]
}

impl Transform for RandomAffine {
    fn apply(&self, img: Image, rng: &mut Rng) -> Result<Image> {
        if self.scale[0] <= 0.0 || self.scale[1] < self.scale[0] {
            return Err(DataError::transform("random_affine", format!("bad scale range {:?}", self.scale)));
        }
        let deg = rng.uniform(-self.degrees, self.degrees);
        let mx = self.translate[0] * img.width as f32;
        let my = self.translate[1] * img.height as f32;
        let t = (rng.uniform(-mx, mx).round(), rng.uniform(-my, my).round());
        let s = rng.uniform(self.scale[0], self.scale[1]);
        Ok(affine(&img, deg, t, s, self.fill))
    }
}

/// Random brightness, contrast, saturation and hue, applied in a random order (torchvision
/// `ColorJitter`): factors are drawn in `[max(0, 1 - x), 1 + x]`, the hue shift in `[-hue, hue]`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ColorJitter {
    /// Brightness jitter.
    #[serde(default)]
    pub brightness: f32,
    /// Contrast jitter.
    #[serde(default)]
    pub contrast: f32,
    /// Saturation jitter.
    #[serde(default)]
    pub saturation: f32,
    /// Hue jitter, at most 0.5.
    #[serde(default)]
    pub hue: f32,
}

impl Transform for ColorJitter {
    fn apply(&self, mut img: Image, rng: &mut Rng) -> Result<Image> {
        if !(0.0..=0.5).contains(&self.hue) {
            return Err(DataError::transform("color_jitter", format!("hue {} is not in [0, 0.5]", self.hue)));
        }
        let mut order = [0usize, 1, 2, 3];
        rng.shuffle(&mut order);
        let factor = |x: f32, rng: &mut Rng| rng.uniform((1.0 - x).max(0.0), 1.0 + x);
        for op in order {
            img = match op {
                0 if self.brightness > 0.0 => adjust_brightness(img, factor(self.brightness, &mut *rng)),
                1 if self.contrast > 0.0 => adjust_contrast(img, factor(self.contrast, &mut *rng)),
                2 if self.saturation > 0.0 => adjust_saturation(img, factor(self.saturation, &mut *rng)),
                3 if self.hue > 0.0 => adjust_hue(img, rng.uniform(-self.hue, self.hue)),
                _ => img,
            };
        }
        Ok(img)
    }
}

/// Convert to grey (ITU-R 601 weights) with probability `p`, keeping `channels` output channels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grayscale {
    /// Output channels, 1 or 3 (the grey plane repeated).
    pub channels: usize,
    /// Probability of converting (1 for a deterministic conversion).
    #[serde(default = "default_one")]
    pub p: f32,
}

impl Transform for Grayscale {
    fn apply(&self, img: Image, rng: &mut Rng) -> Result<Image> {
        if self.channels != 1 && self.channels != 3 {
            return Err(DataError::transform("grayscale", format!("{} output channels (1 or 3)", self.channels)));
        }
        if rng.chance(self.p) {
            Ok(to_grayscale(&img, self.channels))
        } else if img.channels != self.channels {
            // Keep the channel count stable whether or not the conversion happens.
            Ok(to_grayscale(&img, self.channels))
        } else {
            Ok(img)
        }
    }
}

/// Bilinear resize to `size`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resize {
    /// Output `[height, width]`.
    pub size: [usize; 2],
}

impl Transform for Resize {
    fn apply(&self, img: Image, _rng: &mut Rng) -> Result<Image> {
        if self.size[0] == 0 || self.size[1] == 0 {
            return Err(DataError::transform("resize", "zero output size"));
        }
        Ok(resize(&img, self.size[0], self.size[1]))
    }
}

/// Bilinear resize of the shorter side to `size`, keeping the aspect ratio: torchvision's
/// `Resize(int)`, the first step of its ImageNet evaluation transform. The longer side becomes
/// `floor(size * long / short)`, as torchvision computes it.
///
/// ```
/// use zoo_data::transforms::{ResizeShorter, Transform};
/// use zoo_data::{Image, Rng};
/// let img = Image::new(3, 300, 400, vec![0.5; 3 * 300 * 400]).unwrap();
/// let out = ResizeShorter { size: 256 }.apply(img, &mut Rng::new(0)).unwrap();
/// assert_eq!((out.height, out.width), (256, 341));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResizeShorter {
    /// Length of the shorter side after resizing.
    pub size: usize,
}

impl Transform for ResizeShorter {
    fn apply(&self, img: Image, _rng: &mut Rng) -> Result<Image> {
        if self.size == 0 {
            return Err(DataError::transform("resize_shorter", "zero output size"));
        }
        let (h, w) = (img.height, img.width);
        let (short, long) = (h.min(w), h.max(w));
        let scaled = self.size * long / short;
        let (new_h, new_w) = if h <= w { (self.size, scaled) } else { (scaled, self.size) };
        Ok(resize(&img, new_h, new_w))
    }
}

/// Crop the centre `size` window (offset `floor((H - h) / 2)`, `floor((W - w) / 2)`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CenterCrop {
    /// Output `[height, width]`.
    pub size: [usize; 2],
}

impl Transform for CenterCrop {
    fn apply(&self, img: Image, _rng: &mut Rng) -> Result<Image> {
        let [h, w] = self.size;
        if h > img.height || w > img.width {
            return Err(DataError::transform(
                "center_crop",
                format!("crop {h}x{w} is larger than the {}x{} image", img.height, img.width),
            ));
        }
        crop(&img, (img.height - h) / 2, (img.width - w) / 2, h, w)
    }
}

/// `(x - mean) / std` per channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Normalize {
    /// Per-channel mean.
    pub mean: Vec<f32>,
    /// Per-channel standard deviation.
    pub std: Vec<f32>,
}

impl Transform for Normalize {
    fn apply(&self, img: Image, _rng: &mut Rng) -> Result<Image> {
        normalize(img, &self.mean, &self.std)
    }
}

/// Random erasing / cutout (torchvision `RandomErasing`): with probability `p`, a rectangle of
/// area fraction in `scale` and aspect ratio in `ratio` (log-uniform) is set to `value`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RandomErasing {
    /// Probability of erasing.
    #[serde(default = "default_half")]
    pub p: f32,
    /// Range of the erased area as a fraction of the image.
    #[serde(default = "erase_scale")]
    pub scale: [f32; 2],
    /// Range of the rectangle's aspect ratio.
    #[serde(default = "erase_ratio")]
    pub ratio: [f32; 2],
    /// Value written into the rectangle.
    #[serde(default)]
    pub value: f32,
}

fn erase_scale() -> [f32; 2] {
    [0.02, 0.33]
}
fn erase_ratio() -> [f32; 2] {
    [0.3, 3.3]
}

impl Transform for RandomErasing {
    fn apply(&self, mut img: Image, rng: &mut Rng) -> Result<Image> {
        if !rng.chance(self.p) {
            return Ok(img);
        }
        let (h, w) = (img.height, img.width);
        let area = (h * w) as f32;
        let (lr0, lr1) = (self.ratio[0].ln(), self.ratio[1].ln());
        for _ in 0..10 {
            let a = area * rng.uniform(self.scale[0], self.scale[1]);
            let r = rng.uniform(lr0, lr1).exp();
            let eh = (a * r).sqrt().round() as usize;
            let ew = (a / r).sqrt().round() as usize;
            if eh == 0 || ew == 0 || eh >= h || ew >= w {
                continue;
            }
            let top = rng.below((h - eh + 1) as u64) as usize;
            let left = rng.below((w - ew + 1) as u64) as usize;
            for c in 0..img.channels {
                for y in top..top + eh {
                    let row = (c * h + y) * w;
                    img.data[row + left..row + left + ew].fill(self.value);
                }
            }
            break;
        }
        Ok(img)
    }
}

/// One transform of a pipeline, tagged by `type` in JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TransformConfig {
    /// See [`RandomCrop`].
    RandomCrop(RandomCrop),
    /// See [`Pad`].
    Pad(Pad),
    /// See [`HorizontalFlip`].
    HorizontalFlip(HorizontalFlip),
    /// See [`VerticalFlip`].
    VerticalFlip(VerticalFlip),
    /// See [`RandomAffine`].
    RandomAffine(RandomAffine),
    /// See [`ColorJitter`].
    ColorJitter(ColorJitter),
    /// See [`Grayscale`].
    Grayscale(Grayscale),
    /// See [`Resize`].
    Resize(Resize),
    /// See [`ResizeShorter`].
    ResizeShorter(ResizeShorter),
    /// See [`CenterCrop`].
    CenterCrop(CenterCrop),
    /// See [`Normalize`].
    Normalize(Normalize),
    /// See [`RandomErasing`].
    RandomErasing(RandomErasing),
}

impl Transform for TransformConfig {
    fn apply(&self, img: Image, rng: &mut Rng) -> Result<Image> {
        match self {
            TransformConfig::RandomCrop(t) => t.apply(img, rng),
            TransformConfig::Pad(t) => t.apply(img, rng),
            TransformConfig::HorizontalFlip(t) => t.apply(img, rng),
            TransformConfig::VerticalFlip(t) => t.apply(img, rng),
            TransformConfig::RandomAffine(t) => t.apply(img, rng),
            TransformConfig::ColorJitter(t) => t.apply(img, rng),
            TransformConfig::Grayscale(t) => t.apply(img, rng),
            TransformConfig::Resize(t) => t.apply(img, rng),
            TransformConfig::ResizeShorter(t) => t.apply(img, rng),
            TransformConfig::CenterCrop(t) => t.apply(img, rng),
            TransformConfig::Normalize(t) => t.apply(img, rng),
            TransformConfig::RandomErasing(t) => t.apply(img, rng),
        }
    }
}

/// Mean and std of CIFAR-10's training images per channel (the usual published values).
pub const CIFAR10_MEAN: [f32; 3] = [0.4914, 0.4822, 0.4465];
/// See [`CIFAR10_MEAN`].
pub const CIFAR10_STD: [f32; 3] = [0.2470, 0.2435, 0.2616];
/// Mean and std of MNIST's training images.
pub const MNIST_MEAN: f32 = 0.1307;
/// See [`MNIST_MEAN`].
pub const MNIST_STD: f32 = 0.3081;

/// An ordered list of transforms; serialises as a JSON array.
///
/// ```
/// use zoo_data::{Image, transforms::Pipeline};
/// let p = Pipeline::cifar_train();
/// let img = Image::filled(3, 32, 32, 0.5);
/// let out = p.apply(img, 0, 1, 17).unwrap();
/// assert_eq!(out.shape(), [3, 32, 32]);
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Pipeline {
    /// The transforms, applied in order.
    pub transforms: Vec<TransformConfig>,
}

impl Pipeline {
    /// A pipeline of the given transforms.
    pub fn new(transforms: Vec<TransformConfig>) -> Self {
        Self { transforms }
    }

    /// Applies every transform to the image of sample `index` at `epoch`, transform `k` drawing
    /// from `Rng::from_key(&[seed, epoch, index, k])`.
    pub fn apply(&self, mut img: Image, seed: u64, epoch: u64, index: u64) -> Result<Image> {
        for (k, t) in self.transforms.iter().enumerate() {
            let mut rng = Rng::from_key(&[seed, epoch, index, k as u64]);
            img = t.apply(img, &mut rng)?;
        }
        Ok(img)
    }

    /// The standard CIFAR training pipeline: reflect-pad 4 + random 32x32 crop, horizontal flip,
    /// normalize with [`CIFAR10_MEAN`] / [`CIFAR10_STD`].
    pub fn cifar_train() -> Self {
        Self::new(vec![
            TransformConfig::RandomCrop(RandomCrop {
                size: [32, 32],
                padding: 4,
                padding_mode: PaddingMode::Reflect,
                fill: 0.0,
            }),
            TransformConfig::HorizontalFlip(HorizontalFlip { p: 0.5 }),
            Self::cifar_normalize(),
        ])
    }

    /// CIFAR evaluation: normalize only.
    pub fn cifar_eval() -> Self {
        Self::new(vec![Self::cifar_normalize()])
    }

    fn cifar_normalize() -> TransformConfig {
        TransformConfig::Normalize(Normalize { mean: CIFAR10_MEAN.to_vec(), std: CIFAR10_STD.to_vec() })
    }

    /// Grey digits (synth-digits, MNIST): normalize with [`MNIST_MEAN`] / [`MNIST_STD`]; MNIST's
    /// 28x28 images are padded to 32x32 when `pad_to_32` is set.
    pub fn digits_eval(pad_to_32: bool) -> Self {
        let mut t = Vec::new();
        if pad_to_32 {
            t.push(TransformConfig::Pad(Pad { padding: 2, padding_mode: PaddingMode::Zero, fill: 0.0 }));
        }
        t.push(TransformConfig::Normalize(Normalize { mean: vec![MNIST_MEAN], std: vec![MNIST_STD] }));
        Self::new(t)
    }
}
