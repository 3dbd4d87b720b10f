//! Every model by name: `list("resnet*")`, `create("resnet56", &options, &device)`.

use std::sync::LazyLock;

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use serde::Serialize;

use crate::densenet::DenseNet;
use crate::googlenet::GoogLeNet;
use crate::inception::Inception3;
use crate::lenet::LeNet5;
use crate::model::{ImageClassifier, StageFlow, Stages, TrainingOutput};
use crate::plain::PlainNet;
use crate::resnet::ResNet;
use crate::resnet_cifar::CifarResNet;
use crate::summary::{ModelSummary, SampleShape, ShapeError, Tracer};

/// Any model of the zoo, as returned by [`create`]. It is a Burn [`Module`] (train it, save it,
/// move it between devices) and an [`ImageClassifier`].
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum ZooModel {
    /// LeNet-5.
    LeNet5(LeNet5),
    /// AlexNet, ZF Net and the VGGs.
    Plain(PlainNet),
    /// The ImageNet ResNets.
    ResNet(ResNet),
    /// The CIFAR ResNets.
    CifarResNet(CifarResNet),
    /// GoogLeNet (Inception v1).
    GoogLeNet(GoogLeNet),
    /// Inception v3.
    Inception3(Inception3),
    /// The DenseNets.
    DenseNet(DenseNet),
}

/// Calls `$body` with `$m` bound to the model inside any variant.
macro_rules! each_variant {
    ($model:expr, $m:ident => $body:expr) => {
        match $model {
            ZooModel::LeNet5($m) => $body,
            ZooModel::Plain($m) => $body,
            ZooModel::ResNet($m) => $body,
            ZooModel::CifarResNet($m) => $body,
            ZooModel::GoogLeNet($m) => $body,
            ZooModel::Inception3($m) => $body,
            ZooModel::DenseNet($m) => $body,
        }
    };
}

impl crate::fuse::FoldBatchNorm for ZooModel {
    fn fold_batch_norm(&mut self) {
        each_variant!(self, m => m.fold_batch_norm())
    }
}

#[cfg(feature = "onnx")]
impl crate::onnx::ExportOnnx for ZooModel {
    fn export_onnx(
        &self,
        graph: &mut crate::onnx::OnnxGraph,
        x: &crate::onnx::Value,
        aux: bool,
    ) -> Result<Vec<crate::onnx::Value>, crate::onnx::OnnxError> {
        each_variant!(self, m => m.export_onnx(graph, x, aux))
    }
}

impl crate::CheckpointNames for ZooModel {
    fn key_remaps(&self) -> Vec<(String, String)> {
        each_variant!(self, m => m.key_remaps())
    }

    fn checkpoint_key(&self, path: &str) -> String {
        each_variant!(self, m => m.checkpoint_key(path))
    }

    fn optional_heads(&self) -> &'static [&'static str] {
        each_variant!(self, m => m.optional_heads())
    }
}

impl ImageClassifier for ZooModel {
    fn run_body(&self, x: Tensor<4>, stages: &mut Stages) -> StageFlow {
        each_variant!(self, m => m.run_body(x, stages))
    }

    fn forward_head(&self, features: Tensor<4>) -> Tensor<2> {
        each_variant!(self, m => m.forward_head(features))
    }

    fn forward_train(&self, x: Tensor<4>) -> TrainingOutput {
        each_variant!(self, m => m.forward_train(x))
    }

    fn trace(&self, tracer: &mut Tracer, input: &SampleShape) -> Result<SampleShape, ShapeError> {
        each_variant!(self, m => m.trace(tracer, input))
    }
}

/// Overrides of a model's defaults when creating it; `None` keeps the model's own default.
///
/// ```
/// use zoo_models::ModelOptions;
/// let options = ModelOptions::default().with_num_classes(42).with_in_channels(1);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ModelOptions {
    /// Number of output classes (default: 1000 for ImageNet models, 10 for LeNet-5 and CIFAR).
    pub num_classes: Option<usize>,
    /// Channels of the input image (default: 3, or 1 for LeNet-5).
    pub in_channels: Option<usize>,
    /// Dropout probability of the classifier, for the models that have one (DenseNet: the
    /// dropout after every dense layer, torchvision's `drop_rate`).
    pub dropout: Option<f64>,
    /// Build the auxiliary classifiers (GoogLeNet: off by default; Inception v3: on).
    pub aux_logits: Option<bool>,
    /// Re-normalise ImageNet-normalised input as the original GoogLeNet and Inception v3
    /// weights expect (torchvision's `transform_input`, off by default).
    pub transform_input: Option<bool>,
}

impl ModelOptions {
    /// Sets the number of classes.
    pub fn with_num_classes(mut self, n: usize) -> Self {
        self.num_classes = Some(n);
        self
    }

    /// Sets the number of input channels.
    pub fn with_in_channels(mut self, c: usize) -> Self {
        self.in_channels = Some(c);
        self
    }

    /// Sets the classifier's dropout probability.
    pub fn with_dropout(mut self, p: f64) -> Self {
        self.dropout = Some(p);
        self
    }

    /// Builds (or leaves out) the auxiliary classifiers of GoogLeNet and Inception v3.
    pub fn with_aux_logits(mut self, on: bool) -> Self {
        self.aux_logits = Some(on);
        self
    }

    /// Sets torchvision's `transform_input` for GoogLeNet and Inception v3.
    pub fn with_transform_input(mut self, on: bool) -> Self {
        self.transform_input = Some(on);
        self
    }
}

/// A registered model: what `zoo list` shows and how to build it.
#[derive(Debug, Clone, Serialize)]
pub struct ModelInfo {
    /// Registry name (torchvision's where torchvision has the model).
    pub name: &'static str,
    /// Architecture family.
    pub family: &'static str,
    /// The paper that introduced the architecture.
    pub paper: &'static str,
    /// Publication year.
    pub year: u16,
    /// Default input shape `[C, H, W]`.
    pub default_input: [usize; 3],
    /// The smallest input `[C, H, W]` the model trains on with its default options (auxiliary
    /// classifiers included): at one pixel less a feature map vanishes somewhere inside, and
    /// [`ImageClassifier::summary`] names the layer.
    ///
    /// ```
    /// let inception = zoo_models::info("inception_v3").unwrap();
    /// // The auxiliary classifier's 5x5 convolution needs Mixed_6e's full 17x17 map.
    /// assert_eq!(inception.min_input, [3, 299, 299]);
    /// assert_eq!(zoo_models::info("resnet50").unwrap().min_input, [3, 1, 1]);
    /// ```
    pub min_input: [usize; 3],
    /// Default number of classes.
    pub default_classes: usize,
    /// Published forward cost at the default input, in GMACs (torchvision's "GFLOPS"), where
    /// there is one to check against.
    pub published_gmacs: Option<f64>,
    /// Default of [`ModelOptions::aux_logits`]; `None` for models without auxiliary classifiers.
    pub aux_logits: Option<bool>,
    /// Whether the model takes [`ModelOptions::transform_input`].
    pub transform_input: bool,
    #[serde(skip)]
    build: fn(&Resolved, &Device) -> ZooModel,
}

/// Options with the model's defaults filled in: what a family's build function gets.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Resolved {
    pub(crate) num_classes: usize,
    pub(crate) in_channels: usize,
    pub(crate) dropout: Option<f64>,
    pub(crate) aux_logits: bool,
    pub(crate) transform_input: bool,
}

impl ModelInfo {
    /// Builds the model on `device` with its default options.
    pub fn build(&self, device: &Device) -> ZooModel {
        self.build_with(&ModelOptions::default(), device).expect("default options are valid")
    }

    /// Builds the model on `device` with `options`.
    pub fn build_with(&self, options: &ModelOptions, device: &Device) -> Result<ZooModel, RegistryError> {
        let resolved = Resolved {
            num_classes: options.num_classes.unwrap_or(self.default_classes),
            in_channels: options.in_channels.unwrap_or(self.default_input[0]),
            dropout: options.dropout,
            aux_logits: options.aux_logits.or(self.aux_logits).unwrap_or(false),
            transform_input: options.transform_input.unwrap_or(false),
        };
        if self.aux_logits.is_none() && options.aux_logits == Some(true) {
            return Err(RegistryError::InvalidOption(format!(
                "{} has no auxiliary classifiers (aux_logits)",
                self.name
            )));
        }
        if resolved.transform_input && !self.transform_input {
            return Err(RegistryError::InvalidOption(format!("{} has no transform_input option", self.name)));
        }
        if resolved.transform_input && resolved.in_channels != 3 {
            return Err(RegistryError::InvalidOption(format!(
                "transform_input re-normalises RGB input; {} input channels given",
                resolved.in_channels
            )));
        }
        if resolved.num_classes == 0 {
            return Err(RegistryError::InvalidOption("num_classes must be at least 1".into()));
        }
        if resolved.in_channels == 0 {
            return Err(RegistryError::InvalidOption("in_channels must be at least 1".into()));
        }
        if let Some(p) = resolved.dropout.filter(|p| !(0.0..1.0).contains(p)) {
            return Err(RegistryError::InvalidOption(format!("dropout must be in [0, 1), got {p}")));
        }
        Ok((self.build)(&resolved, device))
    }

    /// The summary at the default input size with default options. Burn initialises weights
    /// lazily, so this allocates nothing but BatchNorm statistics on `device`.
    pub fn default_summary(&self, device: &Device) -> ModelSummary {
        self.build(device).summary(self.name, self.default_input).expect("every model accepts its default input")
    }
}

/// Errors from the registry.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RegistryError {
    /// No model has this name.
    #[error("{}", unknown_model(name, suggestions))]
    UnknownModel {
        /// The name asked for.
        name: String,
        /// The closest registered names.
        suggestions: Vec<&'static str>,
    },
    /// An option is out of range.
    #[error("{0}")]
    InvalidOption(String),
}

fn unknown_model(name: &str, suggestions: &[&str]) -> String {
    if suggestions.is_empty() {
        format!("unknown model `{name}` (see `zoo list`)")
    } else {
        format!("unknown model `{name}`; did you mean {}?", suggestions.join(", "))
    }
}

/// ImageNet's input.
pub(crate) const IMAGENET: [usize; 3] = [3, 224, 224];
/// Inception v3's input.
pub(crate) const INCEPTION: [usize; 3] = [3, 299, 299];
/// CIFAR's input.
pub(crate) const CIFAR: [usize; 3] = [3, 32, 32];

/// A registry row; each family's file lists its own (`REGISTRY`).
#[allow(clippy::too_many_arguments)]
pub(crate) const fn entry(
    name: &'static str,
    family: &'static str,
    paper: &'static str,
    year: u16,
    default_input: [usize; 3],
    min_input: [usize; 3],
    default_classes: usize,
    published_gmacs: Option<f64>,
    build: fn(&Resolved, &Device) -> ZooModel,
) -> ModelInfo {
    ModelInfo {
        name,
        family,
        paper,
        year,
        default_input,
        min_input,
        default_classes,
        published_gmacs,
        aux_logits: None,
        transform_input: false,
        build,
    }
}

/// An [`entry`] for a network with auxiliary classifiers (on by default or not) and
/// `transform_input`.
pub(crate) const fn with_aux(info: ModelInfo, aux_logits_default: bool) -> ModelInfo {
    ModelInfo { aux_logits: Some(aux_logits_default), transform_input: true, ..info }
}

/// Every registered model, in the order `zoo list` prints them: each family's `REGISTRY`, which
/// lives in the family's file with the function that builds it. Published GMACs are
/// torchvision's figures for the ImageNet models, the hand count for LeNet-5 (416,520) and the
/// widely reproduced counts for ResNet-20 and -56; `None` where no reference figure exists.
pub static MODELS: LazyLock<Vec<ModelInfo>> = LazyLock::new(|| {
    [
        crate::lenet::REGISTRY,
        crate::alexnet::REGISTRY,
        crate::zfnet::REGISTRY,
        crate::vgg::REGISTRY,
        crate::resnet::REGISTRY,
        crate::resnet_cifar::REGISTRY,
        crate::googlenet::REGISTRY,
        crate::inception::REGISTRY,
        crate::densenet::REGISTRY,
    ]
    .concat()
});

/// The registered models whose names match `pattern` (`*` matches any run of characters, `?`
/// one character); every model for `"*"`.
///
/// ```
/// let names: Vec<_> = zoo_models::list("vgg1?_bn").iter().map(|m| m.name).collect();
/// assert_eq!(names, ["vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn"]);
/// ```
pub fn list(pattern: &str) -> Vec<&'static ModelInfo> {
    MODELS.iter().filter(|m| glob_match(pattern, m.name)).collect()
}

/// The registry entry called `name`, or an error suggesting the closest names.
pub fn info(name: &str) -> Result<&'static ModelInfo, RegistryError> {
    MODELS
        .iter()
        .find(|m| m.name == name)
        .ok_or_else(|| RegistryError::UnknownModel { name: name.to_string(), suggestions: closest_names(name) })
}

/// Builds the model called `name` on `device`.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use zoo_models::{create, ImageClassifier, ModelOptions};
///
/// let device = Device::flex();
/// let model = create("resnet20", &ModelOptions::default().with_num_classes(100), &device).unwrap();
/// let logits = model.forward(Tensor::zeros([1, 3, 32, 32], &device));
/// assert_eq!(logits.dims(), [1, 100]);
///
/// let err = create("resnet5", &ModelOptions::default(), &device).unwrap_err();
/// assert!(err.to_string().contains("did you mean"));
/// ```
pub fn create(name: &str, options: &ModelOptions, device: &Device) -> Result<ZooModel, RegistryError> {
    info(name)?.build_with(options, device)
}

/// `*` and `?` glob matching over bytes (model names are ASCII).
fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            backtrack = Some((pi, ti));
            pi += 1;
        } else if let Some((star, matched)) = backtrack {
            // Let the last `*` swallow one more character and retry.
            pi = star + 1;
            ti = matched + 1;
            backtrack = Some((star, matched + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// Registered names within a small edit distance of `name`, closest first (at most three).
fn closest_names(name: &str) -> Vec<&'static str> {
    let mut scored: Vec<(usize, &'static str)> = MODELS
        .iter()
        .map(|m| (edit_distance(name, m.name), m.name))
        .filter(|(d, candidate)| *d <= 3.max(name.len() / 3) || candidate.starts_with(name))
        .collect();
    scored.sort();
    scored.into_iter().take(3).map(|(_, n)| n).collect()
}

/// Levenshtein distance.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_patterns() {
        assert!(glob_match("*", "resnet50"));
        assert!(glob_match("resnet*", "resnet50"));
        assert!(glob_match("*_bn", "vgg16_bn"));
        assert!(!glob_match("*_bn", "vgg16"));
        assert!(glob_match("res*5?", "resnet56"));
        assert!(!glob_match("resnet", "resnet50"));
        assert!(glob_match("*n*t*", "resnet18"));
    }

    #[test]
    fn names_are_unique_and_listed_in_full() {
        let mut names: Vec<_> = MODELS.iter().map(|m| m.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), MODELS.len());
        assert_eq!(list("*").len(), MODELS.len());
        assert_eq!(list("resnet*").len(), 10);
    }

    #[test]
    fn unknown_names_suggest_the_closest() {
        let err = info("resnet5").unwrap_err();
        let RegistryError::UnknownModel { suggestions, .. } = &err else { panic!("{err}") };
        assert!(suggestions.contains(&"resnet50"), "{suggestions:?}");
        assert_eq!(
            info("vgg16bn").unwrap_err().to_string(),
            "unknown model `vgg16bn`; did you mean vgg16_bn, vgg11_bn, vgg13_bn?"
        );
        assert!(matches!(info("transformer"), Err(RegistryError::UnknownModel { .. })));
    }

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("resnet50", "resnet56"), 1);
        assert_eq!(edit_distance("vgg16bn", "vgg16_bn"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
