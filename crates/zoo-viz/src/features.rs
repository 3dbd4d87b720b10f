//! Feature maps: what each stage of the network produces for one image.

use burn::tensor::Tensor;
use serde::Serialize;
use zoo_models::{ImageClassifier, ZooModel};

use crate::canvas::{Canvas, grid, range, square_columns};

/// One stage's activation maps for one image, as a grid of grey tiles.
#[derive(Debug, Clone)]
pub struct StageMaps {
    /// The stage's name (`layer1`, `features.4`, `inception4e`).
    pub stage: String,
    /// `[C, H, W]`.
    pub shape: [usize; 3],
    /// The smallest and largest activation over all channels.
    pub range: (f32, f32),
    /// How many channels the picture shows (the first ones).
    pub shown: usize,
    /// One tile per channel, each stretched to its own range.
    pub picture: Canvas,
}

/// What a report says about a [`StageMaps`] next to its picture.
#[derive(Debug, Clone, Serialize)]
pub struct StageLabel {
    /// Stage name.
    pub stage: String,
    /// `[C, H, W]`.
    pub shape: [usize; 3],
    /// Smallest activation.
    pub min: f32,
    /// Largest activation.
    pub max: f32,
    /// Channels shown.
    pub shown: usize,
}

impl StageMaps {
    /// The text facts of the picture.
    pub fn label(&self) -> StageLabel {
        StageLabel {
            stage: self.stage.clone(),
            shape: self.shape,
            min: self.range.0,
            max: self.range.1,
            shown: self.shown,
        }
    }
}

/// The `[C, H, W]` maps of one image as a grid of the first `max_channels` channels, each
/// stretched to its own range and enlarged to about `tile` pixels.
///
/// ```
/// let maps = zoo_viz::feature_grid(&[0.0, 1.0, 2.0, 3.0, 5.0, 5.0, 5.0, 5.0], [2, 2, 2], 8, 16);
/// assert_eq!((maps.width, maps.height), (2 * 8 + 3 * 2, 8 + 2 * 2));
/// ```
pub fn feature_grid(values: &[f32], [c, h, w]: [usize; 3], tile: usize, max_channels: usize) -> Canvas {
    let plane = h * w;
    let tiles: Vec<Canvas> = (0..c.min(max_channels))
        .map(|k| Canvas::grey(&values[k * plane..(k + 1) * plane], h, w).at_least(tile))
        .collect();
    grid(&tiles, square_columns(tiles.len()), 2)
}

/// Every stage's maps for one image (`[1, C, H, W]`), shallowest first.
pub fn stage_maps(model: &ZooModel, image: Tensor<4>, tile: usize, max_channels: usize) -> Vec<StageMaps> {
    model
        .forward_intermediates(image, None, false)
        .1
        .into_iter()
        .map(|stage| {
            let [_, c, h, w] = stage.tensor.dims();
            let values = crate::host_values(stage.tensor);
            StageMaps {
                stage: stage.name,
                shape: [c, h, w],
                range: range(&values),
                shown: c.min(max_channels),
                picture: feature_grid(&values, [c, h, w], tile, max_channels),
            }
        })
        .collect()
}
