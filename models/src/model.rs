//! The interface every network in the zoo implements.

use std::ops::ControlFlow;

use burn::tensor::Tensor;

use crate::summary::{ModelSummary, SampleShape, ShapeError, Tracer};

/// An intermediate feature map, named by the module that produced it (`layer3`, `features.9`).
#[derive(Debug, Clone)]
pub struct FeatureMap {
    /// Dotted path of the module whose output this is.
    pub name: String,
    /// The activation, `[N, C, H, W]`.
    pub tensor: Tensor<4>,
}

/// A stage of the body: its name, output channels and reduction (timm's `feature_info` entry).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FeatureInfo {
    /// The stage's name, as [`FeatureMap::name`].
    pub name: String,
    /// Channels of its output.
    pub channels: usize,
    /// Input pixels per output pixel along the height (2 for a stride-2 stage, 32 for ResNet's
    /// last).
    pub reduction: usize,
}

/// The logits of one auxiliary classifier (GoogLeNet's `aux1`/`aux2`, Inception v3's
/// `AuxLogits`) and the weight its loss gets in training.
#[derive(Debug, Clone)]
pub struct AuxLogits {
    /// The head's field name (`aux1`, `AuxLogits`).
    pub name: &'static str,
    /// `[N, num_classes]` logits.
    pub logits: Tensor<2>,
    /// Weight of this head's loss in the total: 0.3 for GoogLeNet's, 0.4 for Inception v3's.
    pub loss_weight: f64,
}

/// What a training forward pass produces: the main logits and, for networks built with auxiliary
/// classifiers, theirs (torchvision's `GoogLeNetOutputs`/`InceptionOutputs`).
#[derive(Debug, Clone)]
pub struct TrainingOutput {
    /// `[N, num_classes]` logits of the main classifier.
    pub logits: Tensor<2>,
    /// The auxiliary classifiers' logits, in network order; empty for most models.
    pub aux: Vec<AuxLogits>,
}

/// [`ImageClassifier::forward_train`] for a network whose body pushes its auxiliary classifiers'
/// logits into the vector it is given: the body, then the main head.
pub(crate) fn forward_with_aux<M: ImageClassifier + ?Sized>(
    model: &M,
    body: impl FnOnce(&mut Vec<AuxLogits>) -> Tensor<4>,
) -> TrainingOutput {
    let mut aux = Vec::new();
    let features = body(&mut aux);
    TrainingOutput { logits: model.forward_head(features), aux }
}

/// What [`ImageClassifier::forward_stages`] calls at the end of each stage with the stage's name and
/// output; what it returns goes on through the network. Returning the tensor unchanged observes
/// (feature extraction); returning another one replaces the stage's output, as a PyTorch forward
/// hook can: Grad-CAM returns `x.detach().require_grad()` to read the gradient at that stage.
pub type StageHook<'a> = dyn FnMut(&str, Tensor<4>) -> Tensor<4> + 'a;

/// What [`ImageClassifier::run_body`] returns: `Continue` with the last feature map when the body
/// ran to its end, `Break` with the output of the stage where [`Stages`] stopped it.
pub type StageFlow = ControlFlow<Tensor<4>, Tensor<4>>;

/// The body's end of a [`StageHook`]: the hook, and how many stages are still wanted. A body
/// ends each stage with `let x = stages.end(name, x)?;`, which returns from it once the last
/// wanted stage is done (timm's `stop_early`), so the stages after it never run.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use zoo_models::{create, ImageClassifier, ModelOptions, Stages};
///
/// let device = Device::flex();
/// let resnet = create("resnet18", &ModelOptions::default(), &device).unwrap();
/// let mut seen = Vec::new();
/// let mut hook = |name: &str, x: Tensor<4>| {
///     seen.push(name.to_string());
///     x
/// };
/// let flow = resnet.run_body(Tensor::zeros([1, 3, 64, 64], &device), &mut Stages::first(2, &mut hook));
/// assert_eq!(flow.break_value().unwrap().dims(), [1, 64, 16, 16]); // layer1's output
/// assert_eq!(seen, ["relu", "layer1"]);
/// ```
pub struct Stages<'h, 'a> {
    hook: &'h mut StageHook<'a>,
    // Stages still to run; `None`: every one.
    left: Option<usize>,
}

impl<'h, 'a> Stages<'h, 'a> {
    /// Every stage, each output passed through `hook`.
    pub fn all(hook: &'h mut StageHook<'a>) -> Self {
        Self { hook, left: None }
    }

    /// The first `count` stages (at least one), each output passed through `hook`; the body
    /// stops after the last of them.
    pub fn first(count: usize, hook: &'h mut StageHook<'a>) -> Self {
        Self { hook, left: Some(count.max(1)) }
    }

    /// Ends the stage `name` with output `x`: passes `x` through the hook, then goes on with
    /// what the hook returned, or stops there if that was the last stage wanted.
    pub fn end(&mut self, name: &str, x: Tensor<4>) -> StageFlow {
        let x = (self.hook)(name, x);
        match &mut self.left {
            Some(left) if *left <= 1 => ControlFlow::Break(x),
            Some(left) => {
                *left -= 1;
                ControlFlow::Continue(x)
            }
            None => ControlFlow::Continue(x),
        }
    }
}

/// The feature map a body's [`StageFlow`] carries, whether it ran to its end or stopped early.
pub fn flow_value(flow: StageFlow) -> Tensor<4> {
    let (ControlFlow::Continue(x) | ControlFlow::Break(x)) = flow;
    x
}

/// How a family's tensors are named in PyTorch checkpoints where that differs from its field
/// paths, and which heads a checkpoint may carry that a model built without them skips: the
/// family's part of loading weights, kept in the family's file (timm's `checkpoint_filter_fn`).
/// The defaults fit a family whose field paths are torchvision's state-dict keys.
///
/// ```
/// use burn::tensor::Device;
/// use zoo_models::{create, CheckpointNames, ModelOptions};
/// let densenet = create("densenet121", &ModelOptions::default(), &Device::flex()).unwrap();
/// let key = densenet.checkpoint_key("features.denseblock3.11.norm2.weight");
/// assert_eq!(key, "features.denseblock3.denselayer12.norm2.weight");
/// // One rename per layer of the largest block (24 in DenseNet-121's third), plus pre-0.4 names.
/// assert_eq!(densenet.key_remaps().len(), 1 + 24);
/// ```
pub trait CheckpointNames {
    /// Regex renames (pattern, replacement) from checkpoint keys to this model's paths, in order.
    fn key_remaps(&self) -> Vec<(String, String)> {
        Vec::new()
    }

    /// The checkpoint key of one of this model's tensors, given by its path: the inverse of
    /// [`key_remaps`](Self::key_remaps) for the keys they change.
    fn checkpoint_key(&self, path: &str) -> String {
        path.to_string()
    }

    /// Prefixes of optional auxiliary heads (`aux1.`): checkpoints carry them, and a model built
    /// without them skips them on load, as torchvision drops them after loading.
    fn optional_heads(&self) -> &'static [&'static str] {
        &[]
    }
}

/// An image classifier: a convolutional body that turns `[N, C, H, W]` images into feature maps,
/// and a head that turns the last feature map into `[N, num_classes]` logits.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use zoo_models::{ImageClassifier, lenet::LeNet5Config};
///
/// let device = Device::flex();
/// let model = LeNet5Config::new().init(&device);
/// let images = Tensor::<4>::zeros([2, 1, 32, 32], &device);
/// assert_eq!(model.forward(images.clone()).dims(), [2, 10]);
///
/// // The last feature map (timm's `forward_features`), and the stages' outputs on the way
/// // (timm's `forward_intermediates`), for feature extraction or visualisation.
/// assert_eq!(model.forward_features(images.clone()).dims(), [2, 16, 5, 5]);
/// let (last, stages) = model.forward_intermediates(images.clone(), None, false);
/// assert_eq!(stages[0].name, "pool1");
/// assert_eq!(stages[0].tensor.dims(), [2, 6, 14, 14]);
/// assert_eq!(last.dims(), stages[1].tensor.dims());
/// // Only the first stage, without running the rest of the body.
/// let (last, stages) = model.forward_intermediates(images, Some(&[0]), true);
/// assert_eq!((stages.len(), last.dims()), (1, [2, 6, 14, 14]));
///
/// // Shapes, parameters and MACs, computed without running the network.
/// let summary = model.summary("lenet5", [1, 32, 32]).unwrap();
/// assert_eq!(summary.trainable_params, 61_706);
/// ```
pub trait ImageClassifier {
    /// Runs the convolutional body, ending each stage (each resolution level) with
    /// `stages.end(name, output)?`, which passes the output through the caller's hook and stops
    /// the body after the last stage the caller wants. What a family implements;
    /// callers use [`forward_stages`](Self::forward_stages) or
    /// [`forward_intermediates`](Self::forward_intermediates).
    fn run_body(&self, x: Tensor<4>, stages: &mut Stages) -> StageFlow;

    /// Runs the convolutional body, passing each stage's output (each resolution level) through
    /// `on_stage(name, output)`, and returns the last feature map.
    fn forward_stages(&self, x: Tensor<4>, on_stage: &mut StageHook) -> Tensor<4> {
        flow_value(self.run_body(x, &mut Stages::all(on_stage)))
    }

    /// Turns the body's last feature map into logits.
    fn forward_head(&self, features: Tensor<4>) -> Tensor<2>;

    /// Walks the layers for one sample of shape `input` (`[C, H, W]`), recording each layer in
    /// `tracer`, and returns the output shape. Mirrors [`forward_stages`](Self::forward_stages)
    /// followed by [`forward_head`](Self::forward_head).
    fn trace(&self, tracer: &mut Tracer, input: &SampleShape) -> Result<SampleShape, ShapeError>;

    /// Logits for a batch of images.
    fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.forward_head(self.forward_features(x))
    }

    /// The body's last feature map, before the head's pooling (timm's `forward_features`).
    fn forward_features(&self, x: Tensor<4>) -> Tensor<4> {
        self.forward_stages(x, &mut |_, x| x)
    }

    /// The training forward pass: the main logits plus the auxiliary classifiers' logits for the
    /// networks built with them (`aux_logits`). Auxiliary heads only run here, never in
    /// [`forward`](Self::forward), as in torchvision's eval mode.
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use zoo_models::{create, ImageClassifier, ModelOptions};
    ///
    /// let device = Device::flex();
    /// let options = ModelOptions::default().with_num_classes(10).with_aux_logits(true);
    /// let googlenet = create("googlenet", &options, &device).unwrap();
    /// let out = googlenet.forward_train(Tensor::zeros([1, 3, 64, 64], &device));
    /// assert_eq!(out.logits.dims(), [1, 10]);
    /// let heads: Vec<_> = out.aux.iter().map(|a| (a.name, a.loss_weight)).collect();
    /// assert_eq!(heads, [("aux1", 0.3), ("aux2", 0.3)]);
    /// ```
    fn forward_train(&self, x: Tensor<4>) -> TrainingOutput {
        TrainingOutput { logits: self.forward(x), aux: Vec::new() }
    }

    /// The outputs of the stages at `indices` (shallowest first; `None`: every stage), and the
    /// feature map the body ended with, as timm's `forward_intermediates`. Indices past the last
    /// stage are ignored.
    ///
    /// With `stop_early` (timm's argument of that name) the body stops after the deepest stage
    /// in `indices`, so the stages after it never run, and the map returned first is that
    /// stage's output; without it, or when `indices` is `None` or holds no index, the whole
    /// body runs and that map is the last feature map ([`forward_features`](Self::forward_features)).
    fn forward_intermediates(
        &self,
        x: Tensor<4>,
        indices: Option<&[usize]>,
        stop_early: bool,
    ) -> (Tensor<4>, Vec<FeatureMap>) {
        let mut stages = Vec::new();
        let mut index = 0;
        let mut hook = |name: &str, tensor: Tensor<4>| {
            if indices.is_none_or(|wanted| wanted.contains(&index)) {
                stages.push(FeatureMap { name: name.to_string(), tensor: tensor.clone() });
            }
            index += 1;
            tensor
        };
        let deepest = indices.and_then(|wanted| wanted.iter().max()).filter(|_| stop_early);
        let mut control = match deepest {
            Some(&deepest) => Stages::first(deepest + 1, &mut hook),
            None => Stages::all(&mut hook),
        };
        let last = flow_value(self.run_body(x, &mut control));
        (last, stages)
    }

    /// Each stage's name, channels and reduction (input pixels per map pixel), found by running
    /// a zero image of shape `input` on `device` (timm's `feature_info`).
    ///
    /// ```
    /// use burn::tensor::Device;
    /// use zoo_models::{create, ImageClassifier, ModelOptions};
    /// let resnet = create("resnet18", &ModelOptions::default(), &Device::flex()).unwrap();
    /// let info = resnet.feature_info([3, 64, 64], &Device::flex());
    /// let last = info.last().unwrap();
    /// assert_eq!((last.name.as_str(), last.channels, last.reduction), ("layer4", 512, 32));
    /// ```
    fn feature_info(&self, input: [usize; 3], device: &burn::tensor::Device) -> Vec<FeatureInfo> {
        let [c, h, w] = input;
        let (_, stages) = self.forward_intermediates(Tensor::zeros([1, c, h, w], device), None, false);
        stages
            .into_iter()
            .map(|stage| {
                let [_, channels, height, _] = stage.tensor.dims();
                FeatureInfo { name: stage.name, channels, reduction: h / height.max(1) }
            })
            .collect()
    }

    /// The per-layer summary for one input of shape `[C, H, W]`, or the layer where it fails.
    fn summary(&self, name: &str, input: [usize; 3]) -> Result<ModelSummary, ShapeError> {
        let mut tracer = Tracer::new();
        let output = self.trace(&mut tracer, &SampleShape::image(&input))?;
        Ok(tracer.finish(name, input, output))
    }
}
