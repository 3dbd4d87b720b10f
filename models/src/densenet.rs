//! DenseNet (Huang et al., "Densely Connected Convolutional Networks", 2016), DenseNet-BC as in
//! torchvision: every layer of a dense block is a BN-ReLU-conv1x1 bottleneck (4 x growth
//! channels) followed by BN-ReLU-conv3x3 (growth channels), and its output is concatenated to
//! everything before it; transitions halve the channels (compression 0.5) and the resolution.
//!
//! **Memory.** A block's input to layer `i` is the concatenation of `i` earlier outputs. Keeping
//! them as a list and concatenating them afresh for every layer (as torchvision does) allocates
//! a new copy per layer; here the block keeps one running feature map and appends each new
//! layer's output to it, so in inference only the current map and its successor are alive at a
//! time: memory grows linearly with the block's depth. (Under autodiff each layer's input must
//! be kept for the backward pass, as in torchvision without `memory_efficient` checkpointing.)
//!
//! **Keys.** torchvision names the layers of a block `denselayer1`, `denselayer2`, ... (from 1);
//! here they are a `Vec`, `denseblock1.0`, `denseblock1.1`, ... [`PYTORCH_KEY_REMAPS`] and
//! [`denselayer_remaps`] rename on load, [`pytorch_key`] on export. Checkpoints saved before
//! PyTorch 0.4 call `norm1` `norm.1` (and so on); torchvision renames those itself when it loads
//! them, and so do these remaps.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::conv::Conv2d;
use burn::nn::pool::{
    AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, AvgPool2d, AvgPool2dConfig, MaxPool2d, MaxPool2dConfig,
};
use burn::nn::{
    BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Initializer, Linear, LinearConfig, PaddingConfig2d, Relu,
};
use burn::tensor::{Device, Tensor};

use crate::layers::{
    Norm2d, batch_norm, batch_norm_relu, conv_bn_relu, conv_forward, flatten, pool_forward, trace_concat, trace_flatten,
};
use crate::model::{ImageClassifier, StageFlow, Stages};
use crate::registry::{IMAGENET, ModelInfo, Resolved, ZooModel, entry};
use crate::summary::{SampleShape, ShapeError, Tracer};

/// Renames (regex, replacement) from torchvision's keys to these fields that do not depend on a
/// layer's index: the pre-0.4 `norm.1`/`relu.1`/`conv.1` keys become `norm1`/`relu1`/`conv1`,
/// with the pattern torchvision's own `_load_state_dict` uses.
pub const PYTORCH_KEY_REMAPS: &[(&str, &str)] =
    &[(r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$", "$1$2")];

/// torchvision's `denselayer{i}` (from 1) to this crate's `Vec` index `i - 1`, for blocks of up
/// to `max_layers` layers; applied after [`PYTORCH_KEY_REMAPS`].
pub fn denselayer_remaps(max_layers: usize) -> Vec<(String, String)> {
    (1..=max_layers)
        .map(|i| (format!(r"^(features\.denseblock\d)\.denselayer{i}\."), format!("$1.{}.", i - 1)))
        .collect()
}

/// The torchvision key of one of this model's tensors (already in PyTorch naming):
/// `features.denseblock2.0.conv1.weight` → `features.denseblock2.denselayer1.conv1.weight`.
///
/// ```
/// use zoo_models::densenet::pytorch_key;
/// assert_eq!(pytorch_key("features.denseblock3.11.norm2.running_var"), "features.denseblock3.denselayer12.norm2.running_var");
/// assert_eq!(pytorch_key("features.transition1.conv.weight"), "features.transition1.conv.weight");
/// ```
pub fn pytorch_key(key: &str) -> String {
    let parts: Vec<&str> = key.split('.').collect();
    match parts.as_slice() {
        ["features", block, index, rest @ ..] if block.starts_with("denseblock") => match index.parse::<usize>() {
            Ok(i) => ["features", block, &format!("denselayer{}", i + 1)]
                .into_iter()
                .chain(rest.iter().copied())
                .collect::<Vec<_>>()
                .join("."),
            Err(_) => key.to_string(),
        },
        _ => key.to_string(),
    }
}

/// The registered variants: name, growth rate, layers per block, stem channels.
pub const DENSENET_VARIANTS: [(usize, usize, [usize; 4], usize); 4] = [
    (121, 32, [6, 12, 24, 16], 64),
    (161, 48, [6, 12, 36, 24], 96),
    (169, 32, [6, 12, 32, 32], 64),
    (201, 32, [6, 12, 48, 32], 64),
];

fn kaiming() -> Initializer {
    // torchvision: nn.init.kaiming_normal_ (fan in, ReLU gain).
    Initializer::KaimingNormal { gain: std::f64::consts::SQRT_2, fan_out_only: false }
}

fn conv(in_channels: usize, out_channels: usize, kernel: usize, stride: usize, padding: usize, d: &Device) -> Conv2d {
    burn::nn::conv::Conv2dConfig::new([in_channels, out_channels], [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(padding, padding, padding, padding))
        .with_bias(false)
        .with_initializer(kaiming())
        .init(d)
}

/// The classifier as torchvision initialises it: PyTorch's default weights, a zero bias.
fn zero_bias_linear(d_input: usize, d_output: usize, d: &Device) -> Linear {
    let mut linear = LinearConfig::new(d_input, d_output).init(d);
    linear.bias = Some(Param::from_tensor(Tensor::zeros([d_output], d)));
    linear
}

/// One layer of a dense block: BN-ReLU-conv1x1 to `bn_size * growth` channels, BN-ReLU-conv3x3 to
/// `growth` channels, optional dropout.
#[derive(Module, Debug)]
pub struct DenseLayer {
    /// BatchNorm of the concatenated input.
    pub norm1: BatchNorm,
    /// ReLU.
    pub relu1: Relu,
    /// 1x1 bottleneck convolution.
    pub conv1: Conv2d,
    /// BatchNorm of the bottleneck.
    pub norm2: BatchNorm,
    /// ReLU.
    pub relu2: Relu,
    /// 3x3 convolution to the growth rate.
    pub conv2: Conv2d,
    /// Dropout on the new features (`drop_rate`, 0 by default).
    pub dropout: Dropout,
}

impl DenseLayer {
    /// A layer taking `in_channels` to `growth` new channels.
    pub fn new(in_channels: usize, growth: usize, bn_size: usize, drop_rate: f64, d: &Device) -> Self {
        let bottleneck = bn_size * growth;
        Self {
            norm1: BatchNormConfig::new(in_channels).init(d),
            relu1: Relu::new(),
            conv1: conv(in_channels, bottleneck, 1, 1, 0, d),
            norm2: BatchNormConfig::new(bottleneck).init(d),
            relu2: Relu::new(),
            conv2: conv(bottleneck, growth, 3, 1, 1, d),
            dropout: DropoutConfig::new(drop_rate).init(),
        }
    }

    /// The layer's new features (not yet concatenated).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = conv_forward(&self.conv1, batch_norm_relu(&self.norm1, x));
        let x = conv_forward(&self.conv2, batch_norm_relu(&self.norm2, x));
        self.dropout.forward(x)
    }

    fn trace(&self, t: &mut Tracer, input: &SampleShape) -> Result<SampleShape, ShapeError> {
        let x = t.layer("norm1", &self.norm1, input)?;
        let x = t.layer("relu1", &self.relu1, &x)?;
        let x = t.layer("conv1", &self.conv1, &x)?;
        let x = t.layer("norm2", &self.norm2, &x)?;
        let x = t.layer("relu2", &self.relu2, &x)?;
        let x = t.layer("conv2", &self.conv2, &x)?;
        let new = t.layer("dropout", &self.dropout, &x)?;
        trace_concat(t, &[input.clone(), new])
    }
}

/// Runs a dense block: each layer sees everything before it and appends its features.
pub fn forward_block(layers: &[DenseLayer], x: Tensor<4>) -> Tensor<4> {
    layers.iter().fold(x, |features, layer| {
        let new = layer.forward(features.clone());
        // The running map replaces its predecessor, which is freed here in inference.
        Tensor::cat(vec![features, new], 1)
    })
}

/// BN-ReLU-conv1x1 (compression) then 2x2/2 average pooling between two blocks.
#[derive(Module, Debug)]
pub struct Transition {
    /// BatchNorm.
    pub norm: BatchNorm,
    /// ReLU.
    pub relu: Relu,
    /// 1x1 convolution to half the channels.
    pub conv: Conv2d,
    /// 2x2/2 average pool.
    pub pool: AvgPool2d,
}

impl Transition {
    /// `in_channels` to `out_channels`, at half the resolution.
    pub fn new(in_channels: usize, out_channels: usize, d: &Device) -> Self {
        Self {
            norm: BatchNormConfig::new(in_channels).init(d),
            relu: Relu::new(),
            conv: conv(in_channels, out_channels, 1, 1, 0, d),
            pool: AvgPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
        }
    }

    /// Applies the transition.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        pool_forward(&self.pool, conv_forward(&self.conv, batch_norm_relu(&self.norm, x)))
    }

    fn trace(&self, t: &mut Tracer, name: &str, input: &SampleShape) -> Result<SampleShape, ShapeError> {
        t.scope(name, |t| {
            let x = t.layer("norm", &self.norm, input)?;
            let x = t.layer("relu", &self.relu, &x)?;
            let x = t.layer("conv", &self.conv, &x)?;
            t.layer("pool", &self.pool, &x)
        })
    }
}

/// torchvision's `features` `nn.Sequential`, whose entries are named: stem (`conv0`, `norm0`,
/// `relu0`, `pool0`), four dense blocks with three transitions between them, and `norm5`.
#[derive(Module, Debug)]
#[allow(missing_docs)]
pub struct DenseNetFeatures {
    pub conv0: Conv2d,
    /// Folded into `conv0` by [`crate::fuse`].
    pub norm0: Norm2d,
    pub relu0: Relu,
    pub pool0: MaxPool2d,
    pub denseblock1: Vec<DenseLayer>,
    pub transition1: Transition,
    pub denseblock2: Vec<DenseLayer>,
    pub transition2: Transition,
    pub denseblock3: Vec<DenseLayer>,
    pub transition3: Transition,
    pub denseblock4: Vec<DenseLayer>,
    pub norm5: BatchNorm,
}

/// Configuration of [`DenseNet`].
///
/// ```
/// use burn::tensor::Device;
/// use zoo_models::densenet::DenseNetConfig;
/// use zoo_models::trainable_params;
/// let densenet121 = DenseNetConfig::from_depth(121).unwrap().init(&Device::flex());
/// assert_eq!(trainable_params(&densenet121), 7_978_856);
/// ```
#[derive(Config, Debug)]
pub struct DenseNetConfig {
    /// New channels per layer (`k`).
    pub growth_rate: usize,
    /// Layers in each of the four dense blocks.
    pub block_config: [usize; 4],
    /// Channels of the stem convolution.
    pub num_init_features: usize,
    /// Bottleneck width as a multiple of the growth rate.
    #[config(default = 4)]
    pub bn_size: usize,
    /// Dropout after each layer's 3x3 convolution.
    #[config(default = 0.0)]
    pub drop_rate: f64,
    /// Number of output classes.
    #[config(default = 1000)]
    pub num_classes: usize,
    /// Channels of the input image.
    #[config(default = 3)]
    pub in_channels: usize,
}

impl DenseNetConfig {
    depth_constructors!(densenet121 = 121, densenet161 = 161, densenet169 = 169, densenet201 = 201);

    /// The configuration of torchvision's `densenet{depth}` (121, 161, 169 or 201).
    pub fn from_depth(depth: usize) -> Option<Self> {
        DENSENET_VARIANTS
            .iter()
            .find(|(d, ..)| *d == depth)
            .map(|&(_, growth, blocks, init)| Self::new(growth, blocks, init))
    }

    /// Builds the network on `device`.
    pub fn init(&self, d: &Device) -> DenseNet {
        let mut channels = self.num_init_features;
        let mut blocks = Vec::new();
        let mut transitions = Vec::new();
        for (i, &layers) in self.block_config.iter().enumerate() {
            blocks.push(
                (0..layers)
                    .map(|j| {
                        DenseLayer::new(
                            channels + j * self.growth_rate,
                            self.growth_rate,
                            self.bn_size,
                            self.drop_rate,
                            d,
                        )
                    })
                    .collect::<Vec<_>>(),
            );
            channels += layers * self.growth_rate;
            if i + 1 < self.block_config.len() {
                transitions.push(Transition::new(channels, channels / 2, d));
                channels /= 2;
            }
        }
        let [denseblock1, denseblock2, denseblock3, denseblock4]: [Vec<DenseLayer>; 4] =
            blocks.try_into().unwrap_or_else(|_| unreachable!("four blocks"));
        let [transition1, transition2, transition3]: [Transition; 3] =
            transitions.try_into().unwrap_or_else(|_| unreachable!("three transitions"));
        DenseNet {
            features: DenseNetFeatures {
                conv0: conv(self.in_channels, self.num_init_features, 7, 2, 3, d),
                norm0: Norm2d::new(self.num_init_features, d),
                relu0: Relu::new(),
                pool0: MaxPool2dConfig::new([3, 3])
                    .with_strides([2, 2])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .init(),
                denseblock1,
                transition1,
                denseblock2,
                transition2,
                denseblock3,
                transition3,
                denseblock4,
                norm5: BatchNormConfig::new(channels).init(d),
            },
            relu: Relu::new(),
            avgpool: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            classifier: zero_bias_linear(channels, self.num_classes, d),
        }
    }
}

/// torchvision's DenseNet: `features`, then ReLU, global average pool and `classifier`.
#[derive(Module, Debug)]
pub struct DenseNet {
    /// Stem, dense blocks, transitions and the final BatchNorm.
    pub features: DenseNetFeatures,
    /// ReLU after `features.norm5`.
    pub relu: Relu,
    /// Global average pool.
    pub avgpool: AdaptiveAvgPool2d,
    /// Classifier.
    pub classifier: Linear,
}

/// A dense block's name and layers, and the transition after it (none after the last).
type Block<'a> = (&'static str, &'a [DenseLayer], Option<(&'static str, &'a Transition)>);

impl DenseNet {
    fn blocks(&self) -> [Block<'_>; 4] {
        let f = &self.features;
        [
            ("denseblock1", &f.denseblock1, Some(("transition1", &f.transition1))),
            ("denseblock2", &f.denseblock2, Some(("transition2", &f.transition2))),
            ("denseblock3", &f.denseblock3, Some(("transition3", &f.transition3))),
            ("denseblock4", &f.denseblock4, None),
        ]
    }
}

/// DenseNet's BatchNorms come before their convolutions (pre-activation), so only the stem's
/// follows one.
impl crate::fuse::FoldBatchNorm for DenseNet {
    fn fold_batch_norm(&mut self) {
        self.features.norm0.fold_into(&mut self.features.conv0);
    }
}

impl crate::CheckpointNames for DenseNet {
    /// The pre-0.4 names, then `denselayer{i}` for every layer index of this model's largest
    /// block.
    fn key_remaps(&self) -> Vec<(String, String)> {
        let largest = self.blocks().iter().map(|(_, layers, _)| layers.len()).max().unwrap_or(0);
        let fixed = PYTORCH_KEY_REMAPS.iter().map(|(p, r)| (p.to_string(), r.to_string()));
        fixed.chain(denselayer_remaps(largest)).collect()
    }

    fn checkpoint_key(&self, path: &str) -> String {
        pytorch_key(path)
    }
}

#[cfg(feature = "onnx")]
impl crate::onnx::ExportOnnx for DenseNet {
    fn export_onnx(
        &self,
        g: &mut crate::onnx::OnnxGraph,
        x: &crate::onnx::Value,
        _aux: bool,
    ) -> Result<Vec<crate::onnx::Value>, crate::onnx::OnnxError> {
        let f = &self.features;
        let x = g.conv("features.conv0", &f.conv0, x)?;
        let x = g.norm("features.norm0", &f.norm0, &x)?;
        let x = g.relu("features.relu0", &x);
        let mut x = g.max_pool("features.pool0", &f.pool0, &x)?;
        for (name, layers, transition) in self.blocks() {
            for (i, layer) in layers.iter().enumerate() {
                // Each layer's output is appended to the running map, as `forward_block` does.
                let at = |field: &str| format!("features.{name}.{i}.{field}");
                let y = g.batch_norm(&at("norm1"), &layer.norm1, &x)?;
                let y = g.relu(&at("relu1"), &y);
                let y = g.conv(&at("conv1"), &layer.conv1, &y)?;
                let y = g.batch_norm(&at("norm2"), &layer.norm2, &y)?;
                let y = g.relu(&at("relu2"), &y);
                let y = g.conv(&at("conv2"), &layer.conv2, &y)?;
                x = g.concat(&at("cat"), &[x, y]);
            }
            if let Some((transition_name, t)) = transition {
                let at = |field: &str| format!("features.{transition_name}.{field}");
                let y = g.batch_norm(&at("norm"), &t.norm, &x)?;
                let y = g.relu(&at("relu"), &y);
                let y = g.conv(&at("conv"), &t.conv, &y)?;
                x = g.avg_pool(&at("pool"), &t.pool, &y)?;
            }
        }
        let x = g.batch_norm("features.norm5", &f.norm5, &x)?;
        let x = g.relu("relu", &x);
        let x = g.adaptive_avg_pool("avgpool", &self.avgpool, &x)?;
        let x = g.flatten("flatten", &x);
        Ok(vec![g.linear("classifier", &self.classifier, &x)?])
    }
}

impl ImageClassifier for DenseNet {
    /// Stages: `features.relu0` (stride 2), `features.denseblock1` (4), `denseblock2` (8),
    /// `denseblock3` (16), `features.norm5` (32).
    fn run_body(&self, x: Tensor<4>, stages: &mut Stages) -> StageFlow {
        let f = &self.features;
        let x = conv_bn_relu(&f.conv0, &f.norm0, x);
        let x = stages.end("features.relu0", x)?;
        let mut x = pool_forward(&f.pool0, x);
        for (name, layers, transition) in self.blocks() {
            x = forward_block(layers, x);
            if let Some((_, transition)) = transition {
                x = transition.forward(stages.end(&format!("features.{name}"), x)?);
            }
        }
        let x = batch_norm(&f.norm5, x);
        stages.end("features.norm5", x)
    }

    fn forward_head(&self, features: Tensor<4>) -> Tensor<2> {
        self.classifier.forward(flatten(pool_forward(&self.avgpool, zoo_kernels::relu(features))))
    }

    fn trace(&self, t: &mut Tracer, input: &SampleShape) -> Result<SampleShape, ShapeError> {
        let f = &self.features;
        let mut x = t.scope("features", |t| {
            let mut x = t.layer("conv0", &f.conv0, input)?;
            x = f.norm0.trace(t, "norm0", &x)?;
            x = t.layer("relu0", &f.relu0, &x)?;
            x = t.layer("pool0", &f.pool0, &x)?;
            for (name, layers, transition) in self.blocks() {
                x = t.scope(name, |t| {
                    let mut x = x.clone();
                    for (i, layer) in layers.iter().enumerate() {
                        // Rows carry torchvision's names (`denselayer1`, from 1).
                        x = t.scope(&format!("denselayer{}", i + 1), |t| layer.trace(t, &x))?;
                    }
                    Ok::<_, ShapeError>(x)
                })?;
                if let Some((name, transition)) = transition {
                    x = transition.trace(t, name, &x)?;
                }
            }
            t.layer("norm5", &f.norm5, &x)
        })?;
        x = t.layer("relu", &self.relu, &x)?;
        x = t.layer("avgpool", &self.avgpool, &x)?;
        let x = trace_flatten(t, &x);
        t.layer("classifier", &self.classifier, &x)
    }
}

const PAPER: &str = "Huang et al., Densely Connected Convolutional Networks";

fn build(depth: usize, o: &Resolved, d: &Device) -> ZooModel {
    let config = DenseNetConfig::from_depth(depth).expect("registered depth");
    let config = config.with_num_classes(o.num_classes).with_in_channels(o.in_channels);
    ZooModel::DenseNet(o.dropout.map_or(config.clone(), |p| config.with_drop_rate(p)).init(d))
}

/// Below 29x29 the last transition's 2x2/2 average pool gets a 1x1 map.
const MIN_INPUT: [usize; 3] = [3, 29, 29];

/// The DenseNets' registry rows.
#[rustfmt::skip]
pub(crate) const REGISTRY: &[ModelInfo] = &[
    entry("densenet121", "DenseNet", PAPER, 2016, IMAGENET, MIN_INPUT, 1000, Some(2.834), |o, d| build(121, o, d)),
    entry("densenet161", "DenseNet", PAPER, 2016, IMAGENET, MIN_INPUT, 1000, Some(7.728), |o, d| build(161, o, d)),
    entry("densenet169", "DenseNet", PAPER, 2016, IMAGENET, MIN_INPUT, 1000, Some(3.360), |o, d| build(169, o, d)),
    entry("densenet201", "DenseNet", PAPER, 2016, IMAGENET, MIN_INPUT, 1000, Some(4.291), |o, d| build(201, o, d)),
];
