//! torchvision's published ImageNet weights for the models that share its names: where each file
//! is, how to check it, how well it does, and how its images must be prepared. The files
//! themselves are fetched by `zoo-train` (`zoo ... --pretrained`) into a cache directory; this
//! module is only the table, read from torchvision's `*_Weights` enums by
//! `scripts/make_pretrained_table.py`, and the 1000 ImageNet class names.
//!
//! ```
//! use zoo_models::pretrained::{imagenet_classes, lookup};
//! let weights = lookup("resnet50", None).unwrap(); // torchvision's DEFAULT
//! assert_eq!(weights.tag, "IMAGENET1K_V2");
//! assert_eq!(weights.file_name(), "resnet50-11ad3fa6.pth");
//! assert_eq!(weights.preprocess.crop, 224);
//! assert_eq!(imagenet_classes()[281], "tabby");
//! ```

use serde::Serialize;

use crate::ModelOptions;
use crate::pretrained_table::TORCHVISION_WEIGHTS;

/// The evaluation preprocessing a weight file was measured with (torchvision's
/// `ImageClassification` transform): resize the shorter side, centre-crop, scale to [0, 1], then
/// normalise per channel.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Preprocess {
    /// Length the shorter side is resized to.
    pub resize: usize,
    /// Side of the square centre crop.
    pub crop: usize,
    /// Resampling filter of the resize (`bilinear`).
    pub interpolation: &'static str,
    /// Per-channel mean subtracted after scaling to [0, 1].
    pub mean: [f32; 3],
    /// Per-channel standard deviation divided by.
    pub std: [f32; 3],
}

/// One published weight file.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PretrainedWeights {
    /// Registry (and torchvision) name of the model.
    pub model: &'static str,
    /// torchvision's tag (`IMAGENET1K_V1`, ...).
    pub tag: &'static str,
    /// Whether torchvision's `DEFAULT` points at this file.
    pub default: bool,
    /// Where torchvision downloads it from.
    pub url: &'static str,
    /// The hex digits in the file name: a prefix of the file's SHA-256, as `torch.hub` checks it.
    pub sha256_prefix: &'static str,
    /// Size in MB, as torchvision publishes it.
    pub file_size_mb: f64,
    /// Parameters of the network.
    pub num_params: usize,
    /// ImageNet-1k validation top-1 accuracy (%) torchvision reports.
    pub acc_top1: f64,
    /// ImageNet-1k validation top-5 accuracy (%) torchvision reports.
    pub acc_top5: f64,
    /// Giga floating-point operations per image (torchvision's figure, which counts MACs).
    pub gflops: f64,
    /// How the weights were trained.
    pub recipe: &'static str,
    /// The model must be built with `transform_input` for these weights (GoogLeNet and
    /// Inception v3, whose original weights expect `(x - 0.5) / 0.5` input).
    pub transform_input: bool,
    /// How images must be prepared for these weights.
    pub preprocess: Preprocess,
}

impl PretrainedWeights {
    /// The file's name, the last segment of its URL (and its name in the cache).
    pub fn file_name(&self) -> &'static str {
        self.url.rsplit('/').next().unwrap_or(self.url)
    }
}

/// `options` with what a model must be built with to take `weights`: torchvision builds
/// GoogLeNet and Inception v3 with `transform_input` for their published weights (the original
/// weights expect `(x - 0.5) / 0.5` input), so a model built for them without it would quietly
/// see the wrong input.
///
/// ```
/// use zoo_models::{pretrained, ModelOptions};
/// let weights = pretrained::lookup("googlenet", None).unwrap();
/// let options = pretrained::options_for(weights, ModelOptions::default().with_num_classes(1000));
/// assert_eq!((options.transform_input, options.num_classes), (Some(true), Some(1000)));
/// let resnet = pretrained::lookup("resnet18", None).unwrap();
/// assert_eq!(pretrained::options_for(resnet, ModelOptions::default()).transform_input, None);
/// ```
pub fn options_for(weights: &PretrainedWeights, options: ModelOptions) -> ModelOptions {
    if weights.transform_input { options.with_transform_input(true) } else { options }
}

/// Why no weights match a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PretrainedError {
    /// The model has no published weights.
    #[error("no pretrained weights for {0}: torchvision publishes them for {with}", with = models_with_weights().join(", "))]
    NoWeights(String),
    /// The model has weights, but not under this tag.
    #[error("{model} has no pretrained weights tagged {tag}; tags: {}", available.join(", "))]
    UnknownTag {
        /// The model.
        model: String,
        /// The tag asked for.
        tag: String,
        /// The tags there are.
        available: Vec<&'static str>,
    },
}

/// Every published weight file, model by model, the default first.
pub fn all() -> &'static [PretrainedWeights] {
    TORCHVISION_WEIGHTS
}

/// The models that have published weights.
pub fn models_with_weights() -> Vec<&'static str> {
    let mut names: Vec<&str> = TORCHVISION_WEIGHTS.iter().map(|w| w.model).collect();
    names.dedup();
    names
}

/// The weights of `model` tagged `tag`, or torchvision's default for it when `tag` is `None` or
/// `DEFAULT`. Tags are case-insensitive.
///
/// ```
/// let v1 = zoo_models::pretrained::lookup("resnet50", Some("imagenet1k_v1")).unwrap();
/// assert_eq!(v1.acc_top1, 76.13);
/// assert!(zoo_models::pretrained::lookup("resnet20", None).is_err()); // CIFAR: none published
/// ```
pub fn lookup(model: &str, tag: Option<&str>) -> Result<&'static PretrainedWeights, PretrainedError> {
    let candidates: Vec<&PretrainedWeights> = TORCHVISION_WEIGHTS.iter().filter(|w| w.model == model).collect();
    if candidates.is_empty() {
        return Err(PretrainedError::NoWeights(model.to_string()));
    }
    let found = match tag {
        None => candidates.iter().find(|w| w.default),
        Some(t) if t.eq_ignore_ascii_case("DEFAULT") => candidates.iter().find(|w| w.default),
        Some(t) => candidates.iter().find(|w| w.tag.eq_ignore_ascii_case(t)),
    };
    found.copied().ok_or_else(|| PretrainedError::UnknownTag {
        model: model.to_string(),
        tag: tag.unwrap_or("DEFAULT").to_string(),
        available: candidates.iter().map(|w| w.tag).collect(),
    })
}

/// The 1000 ImageNet-1k class names in class-index order, as torchvision's weights list them.
pub fn imagenet_classes() -> Vec<&'static str> {
    include_str!("../data/imagenet_classes.txt").lines().collect()
}
