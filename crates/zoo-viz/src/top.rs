//! Zeiler & Fergus' top-activating patches (Fig. 2): over a dataset, the images in which a
//! channel responds most, each cropped at the receptive field of its strongest unit.
//!
//! The search streams: batches go through the network once, and each chosen channel keeps a
//! bounded min-heap of its best hits, so memory does not grow with the dataset.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use serde::Serialize;
use zoo_data::Image;
use zoo_models::summary::ReceptiveField;

use crate::canvas::{Canvas, PADDING};

/// One image's strongest response in one channel.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Hit {
    /// The activation.
    pub value: f32,
    /// The image's index in the searched dataset.
    pub image: usize,
    /// Row of the unit in the feature map.
    pub y: usize,
    /// Column of the unit.
    pub x: usize,
}

impl Eq for Hit {}

impl Ord for Hit {
    // Larger values first; ties go to the earlier image, so results do not depend on batching.
    fn cmp(&self, other: &Self) -> Ordering {
        self.value
            .total_cmp(&other.value)
            .then_with(|| other.image.cmp(&self.image))
            .then_with(|| other.y.cmp(&self.y))
            .then_with(|| other.x.cmp(&self.x))
    }
}

impl PartialOrd for Hit {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The best `k` hits of each chosen channel of one layer, fed batch by batch.
///
/// ```
/// use zoo_viz::TopUnits;
/// // Two images of one channel, 1x2 maps: image 1 responds most, at column 0.
/// let mut top = TopUnits::new(vec![0], 1);
/// top.add_batch(&[0.1, 0.2, 0.9, 0.3], [2, 1, 1, 2], 0);
/// let best = top.into_sorted();
/// assert_eq!((best[0][0].image, best[0][0].x), (1, 0));
/// ```
#[derive(Debug, Clone)]
pub struct TopUnits {
    channels: Vec<usize>,
    k: usize,
    heaps: Vec<BinaryHeap<Reverse<Hit>>>,
}

impl TopUnits {
    /// Keeps the best `k` hits of each of `channels`.
    pub fn new(channels: Vec<usize>, k: usize) -> Self {
        let heaps = channels.iter().map(|_| BinaryHeap::with_capacity(k + 1)).collect();
        Self { channels, k, heaps }
    }

    /// The channels searched.
    pub fn channels(&self) -> &[usize] {
        &self.channels
    }

    /// Adds a batch of `[N, C, H, W]` maps whose first image has index `first_image`: each image
    /// offers each channel its strongest unit (the first one, on ties).
    pub fn add_batch(&mut self, maps: &[f32], [n, c, h, w]: [usize; 4], first_image: usize) {
        let plane = h * w;
        for image in 0..n {
            for (heap, &channel) in self.heaps.iter_mut().zip(&self.channels) {
                let start = (image * c + channel) * plane;
                let values = &maps[start..start + plane];
                let (best, value) = values
                    .iter()
                    .copied()
                    .enumerate()
                    .fold((0, f32::NEG_INFINITY), |(bi, bv), (i, v)| if v > bv { (i, v) } else { (bi, bv) });
                let hit = Hit { value, image: first_image + image, y: best / w, x: best % w };
                heap.push(Reverse(hit));
                if heap.len() > self.k {
                    heap.pop();
                }
            }
        }
    }

    /// Each channel's hits, best first.
    pub fn into_sorted(self) -> Vec<Vec<Hit>> {
        self.heaps
            .into_iter()
            .map(|heap| {
                let mut hits: Vec<Hit> = heap.into_iter().map(|Reverse(h)| h).collect();
                hits.sort_by(|a, b| b.cmp(a));
                hits
            })
            .collect()
    }
}

/// The part of `image` (values in `[0, 1]`) that unit (`y`, `x`) of a map with `field` sees, at
/// the field's full size: pixels of the field outside the image are drawn as padding.
///
/// ```
/// use zoo_models::summary::{ReceptiveField, Window};
/// use zoo_data::Image;
/// // A 3x3 convolution with padding 1: unit (0, 0) sees rows and columns -1..=1.
/// let field = ReceptiveField::input([4, 4]).through(&Window::square(3, 1, 1)).clipped([4, 4]);
/// let patch = zoo_viz::crop_field(&Image::filled(1, 4, 4, 1.0), &field, 0, 0);
/// assert_eq!((patch.width, patch.height), (3, 3));
/// assert_eq!(patch.get(1, 1), [255, 255, 255]);
/// assert_ne!(patch.get(0, 0), [255, 255, 255]);
/// ```
pub fn crop_field(image: &Image, field: &ReceptiveField, y: usize, x: usize) -> Canvas {
    let [rows, columns] = field.region(y, x);
    let picture = Canvas::from_image(image);
    let mut out = Canvas::new(field.size[1], field.size[0], PADDING[0]);
    for (oy, iy) in rows.enumerate() {
        for (ox, ix) in columns.clone().enumerate() {
            let inside = iy >= 0 && ix >= 0 && (iy as usize) < image.height && (ix as usize) < image.width;
            let colour = if inside { picture.get(ix as usize, iy as usize) } else { PADDING[(oy / 2 + ox / 2) % 2] };
            out.set(ox, oy, colour);
        }
    }
    out
}

/// The summary row a stage of `forward_intermediates` ends with: the row named as the stage, or the
/// last row inside it (`layer1` ends at `layer1.1.relu`). Auxiliary classifiers are not stages.
///
/// ```
/// use zoo_models::{create, ImageClassifier, ModelOptions};
/// let model = create("resnet20", &ModelOptions::default(), &burn::tensor::Device::flex()).unwrap();
/// let summary = model.summary("resnet20", [3, 32, 32]).unwrap();
/// let row = zoo_viz::top::stage_row(&summary, "layer3").unwrap();
/// assert_eq!((row.name.as_str(), row.output_shape.as_slice()), ("layer3.2.relu", &[64, 8, 8][..]));
/// ```
pub fn stage_row<'a>(summary: &'a zoo_models::ModelSummary, stage: &str) -> Option<&'a zoo_models::LayerSummary> {
    let inside = format!("{stage}.");
    summary.layers.iter().rev().filter(|l| !l.auxiliary).find(|l| l.name == stage || l.name.starts_with(&inside))
}
