//! Which pixels a prediction depends on: occlusion sensitivity (Zeiler & Fergus 2014, §4.2),
//! gradient saliency (Simonyan et al. 2014), Grad-CAM (Selvaraju et al. 2017), and what excites
//! one unit: guided backpropagation (Springenberg et al. 2015).
//!
//! Each takes the network as a closure (class scores from images, with a hook at each stage for
//! Grad-CAM and guided backpropagation), so the same code serves every registered model on every backend, and hand-built
//! networks in the tests.

use burn::module::{Flag, Module, ModuleMapper, Param};
use burn::tensor::{Device, Tensor, TensorData};
use serde::Serialize;
use zoo_data::Image;
use zoo_models::{ImageClassifier, StageHook, ZooModel};

use crate::VizError;

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
    Occlusion { size, stride, class, unoccluded, positions: [rows.len(), columns.len()], probabilities, per_pixel }
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

/// Logits for a batch of images, with a hook at each stage: for a zoo model,
/// `|x, hook| model.forward_head(model.forward_stages(x, hook))`.
pub type HookedLogits<'a> = dyn Fn(Tensor<4>, &mut StageHook) -> Tensor<2> + 'a;

/// `model`'s logits with a hook at each stage of its body, as [`grad_cam`] and
/// [`guided_projections`] take a network.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use zoo_models::{create, ModelOptions};
/// let model = create("lenet5", &ModelOptions::default(), &Device::flex()).unwrap();
/// let mut stages = Vec::new();
/// let logits = zoo_viz::hooked_logits(&model)(Tensor::zeros([1, 1, 32, 32], &Device::flex()), &mut |name, x| {
///     stages.push(name.to_string());
///     x
/// });
/// assert_eq!((stages, logits.dims()), (vec!["pool1".to_string(), "pool2".to_string()], [1, 10]));
/// ```
pub fn hooked_logits(model: &ZooModel) -> impl Fn(Tensor<4>, &mut StageHook) -> Tensor<2> + '_ {
    move |x, hook| model.forward_head(model.forward_stages(x, hook))
}

/// Runs `network` on `images`, swapping the output of `stage` for what `at_stage` makes of it;
/// an unknown stage is an error listing the ones the network has.
fn run_to_stage(
    network: &HookedLogits,
    stage: &str,
    images: Tensor<4>,
    mut at_stage: impl FnMut(Tensor<4>) -> Tensor<4>,
) -> Result<Tensor<2>, VizError> {
    let mut seen = Vec::new();
    let logits = network(images, &mut |name, x| {
        seen.push(name.to_string());
        if name == stage { at_stage(x) } else { x }
    });
    if seen.iter().any(|s| s == stage) {
        Ok(logits)
    } else {
        Err(VizError::UnknownLayer { layer: stage.to_string(), what: "stage".into(), valid: seen })
    }
}

/// A Grad-CAM map at one stage of the network.
#[derive(Debug, Clone, Serialize)]
pub struct GradCam {
    /// The stage whose output is weighted.
    pub stage: String,
    /// `[h, w]` of the stage's map.
    pub shape: [usize; 2],
    /// Per channel, the mean gradient of the class score over the map: how much the channel
    /// counts for the class.
    pub weights: Vec<f32>,
    /// `ReLU(sum_c weight_c * map_c)`, row by row.
    pub map: Vec<f32>,
}

/// Grad-CAM for one image `[1, C, H, W]` on an autodiff device at `stage` (the last
/// convolutional stage in Selvaraju et al.; an earlier one gives a finer, less class-specific
/// map): the stage's output `A` is weighted by the gradient of the class logit averaged over
/// its positions (`alpha_c`), summed over channels and rectified.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// // One stage "s" that doubles the image, then logit 0 = the sum of its first row.
/// let network = |x: Tensor<4>, hook: &mut zoo_models::StageHook| {
///     let a = hook("s", x * 2.0);
///     a.slice([0..1, 0..1, 0..1, 0..2]).sum().reshape([1, 1])
/// };
/// let x = Tensor::<4>::ones([1, 1, 2, 2], &Device::flex().autodiff());
/// let cam = zoo_viz::grad_cam(&network, "s", x, 0).unwrap();
/// // alpha = (1 + 1 + 0 + 0) / 4 = 0.5 over a map of 2s.
/// assert_eq!(cam.map, vec![1.0; 4]);
/// assert!(zoo_viz::grad_cam(&network, "t", Tensor::ones([1, 1, 2, 2], &Device::flex().autodiff()), 0).is_err());
/// ```
pub fn grad_cam(network: &HookedLogits, stage: &str, image: Tensor<4>, class: usize) -> Result<GradCam, VizError> {
    let mut features = None;
    let scores = run_to_stage(network, stage, image.detach(), |x| {
        // A leaf in place of the stage's output: the gradient stops there and can be read.
        let leaf = x.detach().require_grad();
        features = Some(leaf.clone());
        leaf
    })?;
    let features = features.expect("the stage was reached");
    let [_, c, h, w] = features.dims();
    let score = scores.slice([0..1, class..class + 1]).sum();
    let grads = score.backward();
    let gradient = features.grad(&grads).map(crate::host_values).unwrap_or_else(|| vec![0.0; c * h * w]);
    let activations = crate::host_values(features);
    let plane = h * w;
    let weights: Vec<f32> =
        (0..c).map(|k| gradient[k * plane..(k + 1) * plane].iter().sum::<f32>() / plane as f32).collect();
    let map =
        (0..plane).map(|i| (0..c).map(|k| weights[k] * activations[k * plane + i]).sum::<f32>().max(0.0)).collect();
    Ok(GradCam { stage: stage.to_string(), shape: [h, w], weights, map })
}

/// A unit of a stage's output: a channel and a position in its map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Unit {
    /// The channel.
    pub channel: usize,
    /// Row in the map.
    pub y: usize,
    /// Column in the map.
    pub x: usize,
}

/// Guided backpropagation (Springenberg et al. 2015), the sharper successor of Zeiler & Fergus'
/// deconvnet projections: for image `i` of `images` (`[N, C, H, W]`, on flex's autodiff
/// device), the gradient of unit `units[i]` of `stage` with respect to the image, where every
/// ReLU on the way back passes only positive gradients ([`zoo_kernels::guided_relus`]). What is
/// left is the pattern of pixels that excites the unit, nonzero only inside its receptive field.
/// Returns one `[C, H, W]` gradient per image, row-major.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use zoo_viz::attribution::{guided_projections, Unit};
/// // Stage "s" = relu(x0) - relu(x1): its plain gradient is [1, -1]; the guided one stops the
/// // negative gradient at the second ReLU.
/// let network = |x: Tensor<4>, hook: &mut zoo_models::StageHook| {
///     let h = zoo_kernels::relu(x);
///     let s = h.clone().slice([0..1, 0..1, 0..1, 0..1]) - h.slice([0..1, 0..1, 0..1, 1..2]);
///     hook("s", s).reshape([1, 1])
/// };
/// let x = Tensor::<4>::ones([1, 1, 1, 2], &Device::flex().autodiff());
/// let g = guided_projections(&network, "s", x, &[Unit { channel: 0, y: 0, x: 0 }]).unwrap();
/// assert_eq!(g[0], vec![1.0, 0.0]);
/// ```
pub fn guided_projections(
    network: &HookedLogits,
    stage: &str,
    images: Tensor<4>,
    units: &[Unit],
) -> Result<Vec<Vec<f32>>, VizError> {
    let [n, c, h, w] = images.dims();
    assert_eq!(n, units.len(), "one unit per image");
    let x = images.detach().require_grad();
    let mut selected = None;
    zoo_kernels::guided_relus(|| {
        run_to_stage(network, stage, x.clone(), |a| {
            selected = Some(a.clone());
            a
        })
    })?;
    let activations = selected.expect("the stage was reached");
    let [_, channels, rows, columns] = activations.dims();
    let mut mask = vec![0f32; n * channels * rows * columns];
    for (i, unit) in units.iter().enumerate() {
        if unit.channel >= channels || unit.y >= rows || unit.x >= columns {
            return Err(VizError::ChannelOutOfRange { layer: stage.to_string(), channel: unit.channel, channels });
        }
        mask[((i * channels + unit.channel) * rows + unit.y) * columns + unit.x] = 1.0;
    }
    let mask = Tensor::<4>::from_data(TensorData::new(mask, [n, channels, rows, columns]), &activations.device());
    let grads = (activations * mask).sum().backward();
    let gradient = x.grad(&grads).map(crate::host_values).unwrap_or_else(|| vec![0.0; n * c * h * w]);
    Ok(gradient.chunks(c * h * w).map(<[f32]>::to_vec).collect())
}

/// A projection as a picture in `[0, 1]`: 0.5 is no gradient, and the largest magnitude reaches
/// 0 or 1; `[C, H, W]` as the model's input.
pub fn projection_image(gradient: &[f32], [c, h, w]: [usize; 3]) -> Image {
    let largest = gradient.iter().fold(0f32, |m, &g| m.max(g.abs()));
    let scale = if largest > 0.0 { 0.5 / largest } else { 0.0 };
    let mut image = Image::filled(c, h, w, 0.5);
    for (pixel, &g) in image.data.iter_mut().zip(gradient) {
        *pixel = 0.5 + g * scale;
    }
    image
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
