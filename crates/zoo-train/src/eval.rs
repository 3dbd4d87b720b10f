//! Evaluation (top-1, top-5, per-class accuracy, confusion matrix) and prediction on image files.

use std::path::Path;

use burn::module::Module;
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::Serialize;
use zoo_data::transforms::{Pipeline, TransformConfig, resize};
use zoo_data::{DataLoader, Image};
use zoo_models::{ImageClassifier, ZooModel};

use crate::error::TrainError;

/// Accuracy on one class.
#[derive(Debug, Clone, Serialize)]
pub struct ClassAccuracy {
    /// Class name.
    pub class: String,
    /// Test images of the class.
    pub images: u64,
    /// Of which classified correctly.
    pub correct: u64,
    /// `correct / images`, percent.
    pub top1: f64,
}

/// What `zoo eval` reports.
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    /// Images evaluated.
    pub images: usize,
    /// Top-1 accuracy, percent.
    pub top1: f64,
    /// Top-5 accuracy, percent.
    pub top5: f64,
    /// Per-class accuracy.
    pub per_class: Vec<ClassAccuracy>,
    /// `confusion[true][predicted]` counts.
    pub confusion: Vec<Vec<u64>>,
}

/// Evaluates `model` (in inference mode) on every batch of `loader`.
///
/// ```no_run
/// # fn f(model: &zoo_models::ZooModel, loader: &zoo_data::DataLoader) -> Result<(), zoo_train::TrainError> {
/// let report = zoo_train::eval::evaluate(model, loader, &burn::tensor::Device::flex())?;
/// println!("top-1 {:.2}%", report.top1);
/// # Ok(()) }
/// ```
pub fn evaluate(model: &ZooModel, loader: &DataLoader, device: &Device) -> Result<EvalReport, TrainError> {
    let model = model.valid().fork(device);
    let classes = loader.dataset().classes().to_vec();
    let n = classes.len();
    let mut confusion = vec![vec![0u64; n]; n];
    let (mut images, mut top5) = (0usize, 0usize);
    for batch in loader.iter_device(0, device) {
        let batch = batch?;
        let logits = model.forward(batch.images);
        let [rows, width] = logits.dims();
        if width != n {
            return Err(TrainError::ClassCount { outputs: width, dataset: loader.dataset().name(), classes: n });
        }
        top5 += top_k_correct(logits.clone(), batch.labels.clone(), 5);
        let predicted = logits.argmax(1).reshape([rows]).into_data().convert::<i64>().try_to_vec::<i64>();
        let labels = batch.labels.into_data().convert::<i64>().try_to_vec::<i64>();
        for (p, t) in predicted.unwrap_or_default().into_iter().zip(labels.unwrap_or_default()) {
            confusion[t as usize][p as usize] += 1;
        }
        images += rows;
    }
    let correct: u64 = (0..n).map(|c| confusion[c][c]).sum();
    let per_class = classes
        .iter()
        .enumerate()
        .map(|(c, name)| {
            let total: u64 = confusion[c].iter().sum();
            ClassAccuracy {
                class: name.clone(),
                images: total,
                correct: confusion[c][c],
                top1: 100.0 * confusion[c][c] as f64 / total.max(1) as f64,
            }
        })
        .collect();
    let pct = |k: usize| 100.0 * k as f64 / images.max(1) as f64;
    Ok(EvalReport { images, top1: pct(correct as usize), top5: pct(top5), per_class, confusion })
}

/// How many samples have their label among the `k` highest logits.
///
/// Ties are broken by Burn's `topk` order, which matches `torch.topk` for distinct values.
///
/// ```
/// use burn::tensor::{Device, Int, Tensor};
/// let device = Device::flex();
/// let logits = Tensor::<2>::from_floats([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2]], &device);
/// let labels = Tensor::<1, Int>::from_ints([2, 0], &device);
/// assert_eq!(zoo_train::eval::top_k_correct(logits.clone(), labels.clone(), 1), 1);
/// assert_eq!(zoo_train::eval::top_k_correct(logits, labels, 2), 2);
/// ```
pub fn top_k_correct(logits: Tensor<2>, labels: Tensor<1, Int>, k: usize) -> usize {
    let [batch, classes] = logits.dims();
    assert_eq!(labels.dims()[0], batch, "one label per row of logits");
    let k = k.clamp(1, classes);
    let top = logits.argsort_descending(1).narrow(1, 0, k);
    let labels = labels.reshape([batch, 1]).expand([batch, k]);
    top.equal(labels).any_dim(1).int().sum().into_scalar::<i64>() as usize
}

/// One of the top classes of a prediction.
#[derive(Debug, Clone, Serialize)]
pub struct ClassScore {
    /// Class index.
    pub index: usize,
    /// Class name.
    pub class: String,
    /// Softmax probability.
    pub probability: f64,
}

/// How an image file becomes a model input: what the run's `config.json` records.
#[derive(Debug, Clone)]
pub struct InputTransform {
    /// Model input `[C, H, W]`.
    pub input: [usize; 3],
    /// Size of the training images before transforms `[C, H, W]`.
    pub raw_input: [usize; 3],
    /// The evaluation transforms (normalisation, resizing, ...).
    pub transforms: Pipeline,
}

impl InputTransform {
    /// Converts an image file of any size and colour mode: to the model's channel count, to the
    /// training images' size (unless the transforms start by resizing), then the evaluation
    /// transforms.
    pub fn load(&self, path: &Path) -> Result<Image, TrainError> {
        let image = zoo_data::load_image(path, self.input[0])?;
        let resizes_first = matches!(
            self.transforms.transforms.first(),
            Some(TransformConfig::Resize(_) | TransformConfig::ResizeShorter(_))
        );
        let [_, h, w] = self.raw_input;
        let image = if !resizes_first && (image.height, image.width) != (h, w) { resize(&image, h, w) } else { image };
        let image = self.transforms.apply(image, 0, 0, 0)?;
        if image.shape() != self.input {
            let message = format!("preprocessed to {:?}, the model takes {:?}", image.shape(), self.input);
            return Err(TrainError::file(path, message));
        }
        Ok(image)
    }
}

/// The `k` most probable classes of each image.
pub fn predict(
    model: &ZooModel,
    images: &[Image],
    classes: &[String],
    k: usize,
    device: &Device,
) -> Result<Vec<Vec<ClassScore>>, TrainError> {
    let Some(first) = images.first() else { return Ok(Vec::new()) };
    let [c, h, w] = first.shape();
    let data: Vec<f32> = images.iter().flat_map(|i| i.data.iter().copied()).collect();
    let batch = Tensor::<4>::from_data(TensorData::new(data, [images.len(), c, h, w]), device);
    let model = model.valid().fork(device);
    let probabilities = softmax(model.forward(batch), 1);
    let [_, width] = probabilities.dims();
    let values = probabilities.into_data().convert::<f32>().try_to_vec::<f32>().unwrap_or_default();
    Ok(values
        .chunks(width)
        .map(|row| {
            let mut order: Vec<usize> = (0..width).collect();
            order.sort_by(|&a, &b| row[b].total_cmp(&row[a]));
            order
                .into_iter()
                .take(k)
                .map(|index| ClassScore {
                    index,
                    class: classes.get(index).cloned().unwrap_or_else(|| index.to_string()),
                    probability: row[index] as f64,
                })
                .collect()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_counts_labels_within_the_k_best() {
        let device = Device::flex();
        let logits =
            Tensor::<2>::from_floats([[0.9, 0.05, 0.03, 0.02], [0.1, 0.2, 0.3, 0.4], [0.25, 0.35, 0.3, 0.1]], &device);
        let labels = Tensor::<1, Int>::from_ints([0, 0, 2], &device);
        assert_eq!(top_k_correct(logits.clone(), labels.clone(), 1), 1);
        assert_eq!(top_k_correct(logits.clone(), labels.clone(), 2), 2);
        assert_eq!(top_k_correct(logits.clone(), labels.clone(), 4), 3);
        // k larger than the class count is the class count.
        assert_eq!(top_k_correct(logits, labels, 10), 3);
    }
}
