//! The in-memory image type shared by datasets, transforms and the batcher.

use crate::error::{DataError, Result};

/// A planar (CHW) `f32` image.
///
/// Datasets produce values in `[0, 1]` (bytes divided by 255); [`crate::transforms::Normalize`]
/// then maps them to zero mean / unit variance. The layout is channel-major, row-major:
/// the value of channel `c`, row `y`, column `x` is `data[(c * height + y) * width + x]`,
/// which is exactly one item of an NCHW batch.
///
/// ```
/// use zoo_data::Image;
/// let img = Image::from_u8(1, 2, 3, &[0, 51, 102, 153, 204, 255]).unwrap();
/// assert_eq!(img.get(0, 1, 2), 1.0);
/// assert_eq!(img.shape(), [1, 2, 3]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    /// Number of channels (1 or 3 for dataset images).
    pub channels: usize,
    /// Height in pixels.
    pub height: usize,
    /// Width in pixels.
    pub width: usize,
    /// `channels * height * width` values, CHW order.
    pub data: Vec<f32>,
}

impl Image {
    /// A new image filled with `value`.
    pub fn filled(channels: usize, height: usize, width: usize, value: f32) -> Self {
        Self { channels, height, width, data: vec![value; channels * height * width] }
    }

    /// Builds an image from CHW `f32` data; fails if the length does not match the shape.
    pub fn new(channels: usize, height: usize, width: usize, data: Vec<f32>) -> Result<Self> {
        if data.len() != channels * height * width {
            return Err(DataError::Config(format!(
                "image data has {} values, shape {channels}x{height}x{width} needs {}",
                data.len(),
                channels * height * width
            )));
        }
        Ok(Self { channels, height, width, data })
    }

    /// Builds an image from planar (CHW) bytes, scaling them to `[0, 1]`.
    pub fn from_u8(channels: usize, height: usize, width: usize, bytes: &[u8]) -> Result<Self> {
        Self::new(channels, height, width, bytes.iter().map(|&b| b as f32 / 255.0).collect())
    }

    /// Builds an image from interleaved (HWC) bytes, as image decoders produce them.
    pub fn from_hwc_u8(channels: usize, height: usize, width: usize, bytes: &[u8]) -> Result<Self> {
        if bytes.len() != channels * height * width {
            return Err(DataError::Config(format!(
                "image data has {} bytes, shape {height}x{width}x{channels} needs {}",
                bytes.len(),
                channels * height * width
            )));
        }
        let plane = height * width;
        let mut data = vec![0.0; bytes.len()];
        for (p, px) in bytes.chunks_exact(channels).enumerate() {
            for (c, &b) in px.iter().enumerate() {
                data[c * plane + p] = b as f32 / 255.0;
            }
        }
        Ok(Self { channels, height, width, data })
    }

    /// `[channels, height, width]`.
    pub fn shape(&self) -> [usize; 3] {
        [self.channels, self.height, self.width]
    }

    /// The value at channel `c`, row `y`, column `x` (panics if out of bounds, like slice indexing).
    #[inline]
    pub fn get(&self, c: usize, y: usize, x: usize) -> f32 {
        self.data[(c * self.height + y) * self.width + x]
    }

    /// Sets the value at channel `c`, row `y`, column `x`.
    #[inline]
    pub fn set(&mut self, c: usize, y: usize, x: usize, v: f32) {
        self.data[(c * self.height + y) * self.width + x] = v;
    }

    /// One channel plane as a slice.
    pub fn plane(&self, c: usize) -> &[f32] {
        let n = self.height * self.width;
        &self.data[c * n..(c + 1) * n]
    }

    /// Converts back to planar bytes (values clamped to `[0, 1]`, rounded).
    pub fn to_u8(&self) -> Vec<u8> {
        self.data.iter().map(|&v| (v.clamp(0.0, 1.0) * 255.0).round() as u8).collect()
    }
}
