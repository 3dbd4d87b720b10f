//! Which pixels a prediction depends on: occlusion sensitivity (Zeiler & Fergus 2014, §4.2),
//! gradient saliency (Simonyan et al. 2014) and Grad-CAM (Selvaraju et al. 2017).
//!
//! Each takes the network as closures (logits from images; or the convolutional body and the
//! head), so the same code serves every registered model on every backend, and hand-built
//! networks in the tests.

use burn::module::{Flag, Module, ModuleMapper, Param};
use burn::tensor::{Device, Tensor, TensorData};
use serde::Serialize;
use zoo_data::Image;
use zoo_models::ZooModel;

/// Class probabilities of a batch of model inputs.
pub type Classify<'a> = dyn Fn(Tensor<4>) -> Tensor<2> + 'a;

/// An occlusion experiment on one image.
#[derive(Debug, Clone, Serialize)]
pub struct Occlusion {
    /// Side of the grey square, in input pixels.
    pub size: usize,
    /// Step between square positions.
    pub stride: usize,
    /// The class whose probability is mapped.
    pub class: usize,
    /// Its probability with nothing occluded.
    pub unoccluded: f32,
    /// `[rows, columns]` of square positions.
    pub positions: [usize; 2],
    /// The class probability with the square at each position, row by row.
    pub probabilities: Vec<f32>,
    /// Per input pixel, the mean probability over the squares that cover it (`[H, W]`): the map
    /// laid over the image.
    pub per_pixel: Vec<f32>,
}

fn starts(len: usize, size: usize, stride: usize) -> Vec<usize> {
    if size >= len {
        return vec![0];
    }
    let mut out: Vec<usize> = (0..=len - size).step_by(stride.max(1)).collect();
    if out.last() != Some(&(len - size)) {
        out.push(len - size);
    }
    out
}

/// Slides a `size`x`size` square of `fill` (in the model's input space: 0 is the dataset mean
/// after normalisation, the paper's grey) over `image` with `stride`, and records the
/// probability of `class` at each position, `batch` positions per forward pass.
///
/// ```
/// use burn::tensor::{activation::softmax, Device, Tensor};
/// use zoo_data::Image;
/// // A "model" whose class-0 logit is the sum of the top-left quadrant.
/// let classify = |x: Tensor<4>| {
///     let [n, _, _, _] = x.dims();
///     let score = x.slice([0..n, 0..1, 0..2, 0..2]).sum_dim(2).sum_dim(3).reshape([n, 1]);
///     softmax(Tensor::cat(vec![score.clone(), score.zeros_like()], 1), 1)
/// };
/// let map = zoo_viz::occlusion(&classify, &Image::filled(1, 4, 4, 1.0), 0, 2, 2, 0.0, 8, &Device::flex());
/// assert_eq!(map.positions, [2, 2]);
/// assert!(map.probabilities[0] < map.unoccluded && map.probabilities[3] == map.unoccluded);
/// ```
#[allow(clippy::too_many_arguments)]
pub fn occlusion(
    classify: &Classify,
    image: &Image,
    class: usize,
    size: usize,
    stride: usize,
    fill: f32,
    batch: usize,
    device: &Device,
) -> Occlusion {
    let [c, h, w] = image.shape();
    let rows = starts(h, size, stride);
    let columns = starts(w, size, stride);
    let squares: Vec<(usize, usize)> = rows.iter().flat_map(|&y| columns.iter().map(move |&x| (y, x))).collect();
    let probability_of = |images: Vec<f32>, n: usize| -> Vec<f32> {
        let batch = Tensor::<4>::from_data(TensorData::new(images, [n, c, h, w]), device);
        let probabilities = classify(batch);
        let [_, classes] = probabilities.dims();
        let values = crate::host_values(probabilities);
        values.chunks(classes).map(|row| row[class]).collect()
    };
    let unoccluded = probability_of(image.data.clone(), 1)[0];
    let mut probabilities = Vec::with_capacity(squares.len());
    for chunk in squares.chunks(batch.max(1)) {
        let mut images = Vec::with_capacity(chunk.len() * image.data.len());
        for &(y0, x0) in chunk {
            let mut occluded = image.data.clone();
            for k in 0..c {
                for y in y0..(y0 + size).min(h) {
                    for x in x0..(x0 + size).min(w) {
                        occluded[(k * h + y) * w + x] = fill;
                    }
                }
            }
            images.extend(occluded);
        }
        probabilities.extend(probability_of(images, chunk.len()));
    }
    let mut sum = vec![0f32; h * w];
    let mut count = vec![0u32; h * w];
    for (&(y0, x0), &p) in squares.iter().zip(&probabilities) {
        for y in y0..(y0 + size).min(h) {
            for x in x0..(x0 + size).min(w) {
                sum[y * w + x] += p;
                count[y * w + x] += 1;
            }
        }
    }
    let per_pixel = sum.iter().zip(&count).map(|(&s, &n)| if n > 0 { s / n as f32 } else { unoccluded }).collect();
    Occlusion {
        size,
        stride,
        class,
        unoccluded,
        positions: [rows.len(), columns.len()],
        probabilities,
        per_pixel,
    }
}

/// `|d score / d pixel|`, the largest over the channels (Simonyan et al.'s image-specific class
/// saliency), for one image `[1, C, H, W]` on an autodiff device; `score` is the class's logit.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// // logit = 2 * pixel (0, 1) - pixel (1, 0): the saliency is 2 and 1 there, 0 elsewhere.
/// let logits = |x: Tensor<4>| {
///     let a = x.clone().slice([0..1, 0..1, 0..1, 1..2]).reshape([1, 1]);
///     let b = x.slice([0..1, 0..1, 1..2, 0..1]).reshape([1, 1]);
///     a * 2.0 - b
/// };
/// let x = Tensor::<4>::ones([1, 1, 2, 2], &Device::flex().autodiff());
/// assert_eq!(zoo_viz::saliency(&logits, x, 0), vec![0.0, 2.0, 1.0, 0.0]);
/// ```
pub fn saliency(logits: &Classify, image: Tensor<4>, class: usize) -> Vec<f32> {
    let [_, c, h, w] = image.dims();
    let x = image.detach().require_grad();
    let scores = logits(x.clone());
    let score = scores.slice([0..1, class..class + 1]).sum();
    let grads = score.backward();
    let gradient = x.grad(&grads).map(crate::host_values);
    let gradient = gradient.unwrap_or_else(|| vec![0.0; c * h * w]);
    (0..h * w).map(|i| (0..c).map(|k| gradient[k * h * w + i].abs()).fold(0.0, f32::max)).collect()
}

/// A Grad-CAM map at the network's last convolutional stage.
#[derive(Debug, Clone, Serialize)]
pub struct GradCam {
    /// `[h, w]` of the stage's map.
    pub shape: [usize; 2],
    /// Per channel, the mean gradient of the class score over the map: how much the channel
    /// counts for the class.
    pub weights: Vec<f32>,
    /// `ReLU(sum_c weight_c * map_c)`, row by row.
    pub map: Vec<f32>,
}

/// Grad-CAM for one image `[1, C, H, W]` on an autodiff device: the body's output map `A` is
/// weighted by the gradient of the class logit averaged over its positions (`alpha_c`), summed
/// over channels and rectified. `body` runs the convolutional stages, `head` turns their output
/// into logits.
pub fn grad_cam(
    body: &dyn Fn(Tensor<4>) -> Tensor<4>,
    head: &dyn Fn(Tensor<4>) -> Tensor<2>,
    image: Tensor<4>,
    class: usize,
) -> GradCam {
    let features = body(image).detach().require_grad();
    let [_, c, h, w] = features.dims();
    let scores = head(features.clone());
    let score = scores.slice([0..1, class..class + 1]).sum();
    let grads = score.backward();
    let gradient = features
        .grad(&grads)
        .map(crate::host_values)
        .unwrap_or_else(|| vec![0.0; c * h * w]);
    let activations = crate::host_values(features);
    let plane = h * w;
    let weights: Vec<f32> = (0..c).map(|k| gradient[k * plane..(k + 1) * plane].iter().sum::<f32>() / plane as f32).collect();
    let map = (0..plane)
        .map(|i| (0..c).map(|k| weights[k] * activations[k * plane + i]).sum::<f32>().max(0.0))
        .collect();
    GradCam { shape: [h, w], weights, map }
}

// Every training flag off: BatchNorm uses its running statistics and dropout does nothing, while
// the tensors stay on an autodiff device so gradients reach the input.
struct Inference;

impl ModuleMapper for Inference {
    fn map_flag(&mut self, flag: Param<Flag>) -> Param<Flag> {
        flag.with_value(false)
    }
}

/// A copy of `model` on `device`'s autodiff device, in inference mode, with its parameters
/// frozen: what [`saliency`] and [`grad_cam`] differentiate (with respect to the input only).
pub fn differentiable(model: &ZooModel, device: &Device) -> ZooModel {
    model.clone().fork(&device.clone().autodiff()).no_grad().map(&mut Inference)
}
