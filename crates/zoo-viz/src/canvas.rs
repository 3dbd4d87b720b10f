//! RGB pictures: tiles normalised to their own range, grids with gaps, nearest-neighbour
//! enlargement (a 5x5 filter stays 25 sharp squares), a perceptual colour map for heat maps,
//! overlays, and PNG files.

use std::path::Path;

use zoo_data::Image;

use crate::VizError;

/// The background between tiles.
pub const BACKGROUND: [u8; 3] = [255, 255, 255];
/// How padding is drawn where a receptive field reaches past the image: a grey checkerboard,
/// unlike any image content of the datasets.
pub const PADDING: [[u8; 3]; 2] = [[200, 200, 200], [150, 150, 150]];

/// An RGB picture, row by row.
///
/// ```
/// use zoo_viz::Canvas;
/// let tile = Canvas::grey(&[0.0, 1.0, 2.0, 3.0], 2, 2);
/// assert_eq!((tile.get(0, 0), tile.get(1, 1)), ([0, 0, 0], [255, 255, 255]));
/// let big = tile.scaled(3);
/// assert_eq!((big.width, big.height), (6, 6));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Canvas {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `width * height` pixels, row by row.
    pub pixels: Vec<[u8; 3]>,
}

impl Canvas {
    /// A canvas filled with `colour`.
    pub fn new(width: usize, height: usize, colour: [u8; 3]) -> Self {
        Self { width, height, pixels: vec![colour; width * height] }
    }

    /// The pixel at column `x`, row `y`.
    pub fn get(&self, x: usize, y: usize) -> [u8; 3] {
        self.pixels[y * self.width + x]
    }

    /// Sets the pixel at column `x`, row `y`.
    pub fn set(&mut self, x: usize, y: usize, colour: [u8; 3]) {
        self.pixels[y * self.width + x] = colour;
    }

    /// Copies `tile` with its top-left corner at (`x`, `y`), clipped to this canvas.
    pub fn blit(&mut self, tile: &Canvas, x: usize, y: usize) {
        for ty in 0..tile.height.min(self.height.saturating_sub(y)) {
            for tx in 0..tile.width.min(self.width.saturating_sub(x)) {
                self.set(x + tx, y + ty, tile.get(tx, ty));
            }
        }
    }

    /// Enlarged `factor` times without smoothing.
    pub fn scaled(&self, factor: usize) -> Canvas {
        let factor = factor.max(1);
        let mut out = Canvas::new(self.width * factor, self.height * factor, BACKGROUND);
        for y in 0..out.height {
            for x in 0..out.width {
                out.set(x, y, self.get(x / factor, y / factor));
            }
        }
        out
    }

    /// Enlarged to at least `side` pixels on its longer edge, by a whole factor.
    pub fn at_least(&self, side: usize) -> Canvas {
        self.scaled(side.div_ceil(self.width.max(self.height).max(1)))
    }

    /// A `[H, W]` map as grey levels, stretched from its own minimum (black) to its maximum
    /// (white); a constant map is mid-grey.
    pub fn grey(values: &[f32], height: usize, width: usize) -> Canvas {
        let (lo, hi) = range(values);
        let mut out = Canvas::new(width, height, BACKGROUND);
        for (pixel, &v) in out.pixels.iter_mut().zip(values) {
            let level = stretch(v, lo, hi);
            *pixel = [level; 3];
        }
        out
    }

    /// Three `[H, W]` planes (red, green, blue) as one colour picture, stretched together from
    /// their joint minimum to their maximum: how a first layer's RGB kernels are shown.
    pub fn colour(planes: &[f32], height: usize, width: usize) -> Canvas {
        let (lo, hi) = range(planes);
        let plane = height * width;
        let mut out = Canvas::new(width, height, BACKGROUND);
        for (i, pixel) in out.pixels.iter_mut().enumerate() {
            *pixel = [0, 1, 2].map(|c| stretch(planes[c * plane + i], lo, hi));
        }
        out
    }

    /// An image with values in `[0, 1]` (one or three channels), clamped.
    pub fn from_image(image: &Image) -> Canvas {
        let plane = image.height * image.width;
        let level = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
        let mut out = Canvas::new(image.width, image.height, BACKGROUND);
        for (i, pixel) in out.pixels.iter_mut().enumerate() {
            *pixel = if image.channels >= 3 {
                [0, 1, 2].map(|c| level(image.data[c * plane + i]))
            } else {
                [level(image.data[i]); 3]
            };
        }
        out
    }

    /// A `[H, W]` map through the colour map, `range` mapping to its ends (default: the map's
    /// own minimum and maximum).
    pub fn heat(values: &[f32], height: usize, width: usize, range_: Option<(f32, f32)>) -> Canvas {
        let (lo, hi) = range_.unwrap_or_else(|| range(values));
        let mut out = Canvas::new(width, height, BACKGROUND);
        for (pixel, &v) in out.pixels.iter_mut().zip(values) {
            let t = if hi > lo { ((v - lo) / (hi - lo)).clamp(0.0, 1.0) } else { 0.5 };
            *pixel = colour_map(t);
        }
        out
    }

    /// This picture with `top` (same size) blended over it, `alpha` of `top`.
    pub fn blend(&self, top: &Canvas, alpha: f32) -> Canvas {
        let mut out = self.clone();
        for (pixel, over) in out.pixels.iter_mut().zip(&top.pixels) {
            *pixel = [0, 1, 2].map(|c| (pixel[c] as f32 * (1.0 - alpha) + over[c] as f32 * alpha).round() as u8);
        }
        out
    }

    /// Writes a PNG file, through a temporary file beside it so that a failure leaves no half
    /// picture.
    pub fn save_png(&self, path: &Path) -> Result<(), VizError> {
        let bytes: Vec<u8> = self.pixels.iter().flatten().copied().collect();
        let image = image::RgbImage::from_raw(self.width as u32, self.height as u32, bytes)
            .ok_or_else(|| VizError::EmptyPicture { path: path.to_path_buf() })?;
        let partial = path.with_extension("png.partial");
        image
            .save_with_format(&partial, image::ImageFormat::Png)
            .map_err(|source| VizError::Encode { path: path.to_path_buf(), source })?;
        std::fs::rename(&partial, path).map_err(|source| VizError::Io { path: path.to_path_buf(), source })
    }

    /// Every value differs from the first pixel somewhere: a picture, not a blank.
    pub fn is_blank(&self) -> bool {
        self.pixels.iter().all(|p| *p == self.pixels[0])
    }
}

/// Lays `tiles` out in rows of `columns`, `gap` pixels apart on a white background; tiles of
/// different sizes are top-left aligned in cells of the largest size.
pub fn grid(tiles: &[Canvas], columns: usize, gap: usize) -> Canvas {
    let columns = columns.max(1).min(tiles.len().max(1));
    let rows = tiles.len().div_ceil(columns).max(1);
    let cell_w = tiles.iter().map(|t| t.width).max().unwrap_or(1);
    let cell_h = tiles.iter().map(|t| t.height).max().unwrap_or(1);
    let mut out = Canvas::new(columns * cell_w + (columns + 1) * gap, rows * cell_h + (rows + 1) * gap, BACKGROUND);
    for (i, tile) in tiles.iter().enumerate() {
        let (row, column) = (i / columns, i % columns);
        out.blit(tile, gap + column * (cell_w + gap), gap + row * (cell_h + gap));
    }
    out
}

/// Columns for `n` tiles in a roughly square grid.
pub fn square_columns(n: usize) -> usize {
    (n as f64).sqrt().ceil().max(1.0) as usize
}

/// The minimum and maximum of finite values; `(0, 0)` for none.
pub fn range(values: &[f32]) -> (f32, f32) {
    let finite = values.iter().copied().filter(|v| v.is_finite());
    let lo = finite.clone().fold(f32::INFINITY, f32::min);
    let hi = finite.fold(f32::NEG_INFINITY, f32::max);
    if lo > hi { (0.0, 0.0) } else { (lo, hi) }
}

fn stretch(v: f32, lo: f32, hi: f32) -> u8 {
    if hi > lo { (((v - lo) / (hi - lo)).clamp(0.0, 1.0) * 255.0).round() as u8 } else { 128 }
}

/// Viridis (matplotlib's default colour map: perceptually uniform, readable in grey), sampled at
/// nine points and interpolated: dark blue for 0, yellow for 1.
pub fn colour_map(t: f32) -> [u8; 3] {
    const STOPS: [[f32; 3]; 9] = [
        [68.0, 1.0, 84.0],
        [71.0, 44.0, 122.0],
        [59.0, 81.0, 139.0],
        [44.0, 113.0, 142.0],
        [33.0, 144.0, 141.0],
        [39.0, 173.0, 129.0],
        [92.0, 200.0, 99.0],
        [170.0, 220.0, 50.0],
        [253.0, 231.0, 37.0],
    ];
    let position = t.clamp(0.0, 1.0) * 8.0;
    let i = (position.floor() as usize).min(7);
    let f = position - i as f32;
    [0, 1, 2].map(|c| (STOPS[i][c] * (1.0 - f) + STOPS[i + 1][c] * f).round() as u8)
}

/// A `[H, W]` map resized to `[height, width]` by bilinear interpolation (pixel centres
/// aligned, as `torch.nn.functional.interpolate(align_corners=False)`): how Grad-CAM's coarse
/// map is laid over the image.
pub fn upsample(values: &[f32], [h, w]: [usize; 2], [height, width]: [usize; 2]) -> Vec<f32> {
    let sample = |len: usize, out: usize, i: usize| {
        let x = ((i as f32 + 0.5) * len as f32 / out as f32 - 0.5).clamp(0.0, (len - 1) as f32);
        let lo = x.floor() as usize;
        (lo, (lo + 1).min(len - 1), x - lo as f32)
    };
    let mut out = vec![0.0; height * width];
    for y in 0..height {
        let (y0, y1, fy) = sample(h, height, y);
        for x in 0..width {
            let (x0, x1, fx) = sample(w, width, x);
            let top = values[y0 * w + x0] * (1.0 - fx) + values[y0 * w + x1] * fx;
            let bottom = values[y1 * w + x0] * (1.0 - fx) + values[y1 * w + x1] * fx;
            out[y * width + x] = top * (1.0 - fy) + bottom * fy;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grids_place_tiles_with_gaps() {
        let tile = Canvas::new(2, 2, [0, 0, 0]);
        let g = grid(&[tile.clone(), tile.clone(), tile], 2, 1);
        assert_eq!((g.width, g.height), (7, 7));
        assert_eq!(g.get(1, 1), [0, 0, 0]);
        assert_eq!(g.get(3, 1), BACKGROUND);
        assert_eq!(g.get(4, 1), [0, 0, 0]);
        // The third tile starts the second row; its second cell stays empty.
        assert_eq!(g.get(1, 4), [0, 0, 0]);
        assert_eq!(g.get(4, 4), BACKGROUND);
    }

    #[test]
    fn the_colour_map_runs_from_dark_blue_to_yellow() {
        assert_eq!(colour_map(0.0), [68, 1, 84]);
        assert_eq!(colour_map(1.0), [253, 231, 37]);
        assert_eq!(colour_map(0.5), [33, 144, 141]);
    }

    #[test]
    fn upsampling_a_constant_map_keeps_it_and_a_ramp_stays_monotone() {
        assert!(upsample(&[2.0; 4], [2, 2], [5, 7]).iter().all(|&v| (v - 2.0).abs() < 1e-6));
        let ramp = upsample(&[0.0, 1.0], [1, 2], [1, 8]);
        assert!(ramp.windows(2).all(|w| w[0] <= w[1]), "{ramp:?}");
        assert_eq!((ramp[0], ramp[7]), (0.0, 1.0));
    }
}
