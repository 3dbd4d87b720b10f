//! ResNet (He et al., 2015) for ImageNet in torchvision's V1.5 layout: the stride of a
//! bottleneck sits on its 3x3 convolution, and shortcuts that change shape are 1x1 projections
//! with BatchNorm (option B). The residual block is shared with the CIFAR ResNets
//! ([`crate::resnet_cifar`]), which use parameter-free zero-padding shortcuts instead (option A).

use std::ops::ControlFlow;

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d, Relu};
use burn::tensor::ops::PadMode;
use burn::tensor::{Device, Tensor, s};

use crate::layers::{
    Layer2d, Norm2d, conv_bn_add_relu, conv_bn_relu, conv2d_kaiming_out, flatten, forward_layers, pool_forward,
    trace_flatten, trace_sequence,
};
use crate::model::{ImageClassifier, StageFlow, Stages};
use crate::registry::{IMAGENET, ModelInfo, Resolved, ZooModel, entry};
use crate::summary::{SampleShape, ShapeError, Tracer};

/// The residual unit of a ResNet stage.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum BlockKind {
    /// Two 3x3 convolutions (ResNet-18/34 and the CIFAR ResNets); expansion 1.
    Basic,
    /// 1x1 reduce → 3x3 → 1x1 expand (ResNet-50/101/152); expansion 4.
    Bottleneck,
}

impl BlockKind {
    /// Output channels of a block relative to its `planes`.
    pub fn expansion(self) -> usize {
        match self {
            BlockKind::Basic => 1,
            BlockKind::Bottleneck => 4,
        }
    }
}

/// How a block's shortcut matches the shape of its residual branch when they differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShortcutKind {
    /// Option A: subsample by the stride and zero-pad the new channels (no parameters).
    ZeroPad,
    /// Option B: 1x1 convolution with the stride, then BatchNorm (torchvision's `downsample`).
    Projection,
}

/// Option A shortcut: `x[:, :, ::stride, ::stride]` with `pad` zero channels on each side.
#[derive(Module, Debug)]
pub struct ZeroPadShortcut {
    /// Spatial subsampling factor.
    pub stride: usize,
    /// Zero channels added before and after the input's channels.
    pub pad: usize,
}

impl ZeroPadShortcut {
    /// Applies the shortcut.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = if self.stride > 1 {
            let step = self.stride as isize;
            x.slice(s![.., .., ..;step, ..;step])
        } else {
            x
        };
        x.pad([(self.pad, self.pad), (0, 0), (0, 0)], PadMode::Constant(0.0))
    }
}

/// A residual block: BasicBlock when `conv3` is absent, Bottleneck when present. Field names are
/// torchvision's (`conv1`, `bn1`, ..., `downsample.0`, `downsample.1`).
#[derive(Module, Debug)]
pub struct ResidualBlock {
    /// First convolution (3x3 with the stride in a basic block, 1x1 reduce in a bottleneck).
    pub conv1: Conv2d,
    /// BatchNorm after `conv1` (folded into it by [`crate::fuse`]).
    pub bn1: Norm2d,
    /// Second convolution (3x3; carries the stride in a bottleneck).
    pub conv2: Conv2d,
    /// BatchNorm after `conv2`.
    pub bn2: Norm2d,
    /// Bottleneck only: the 1x1 expansion.
    pub conv3: Option<Conv2d>,
    /// Bottleneck only: BatchNorm after `conv3`.
    pub bn3: Option<Norm2d>,
    /// Shared ReLU.
    pub relu: Relu,
    /// Option B projection shortcut (`downsample.0` conv, `downsample.1` BatchNorm).
    pub downsample: Option<Vec<Layer2d>>,
    /// Option A zero-padding shortcut.
    pub zero_pad: Option<ZeroPadShortcut>,
}

impl ResidualBlock {
    /// Builds one block taking `in_channels` to `planes * kind.expansion()` channels.
    pub fn new(
        kind: BlockKind,
        in_channels: usize,
        planes: usize,
        stride: usize,
        shortcut: ShortcutKind,
        device: &Device,
    ) -> Self {
        let out_channels = planes * kind.expansion();
        let bn = |c: usize| Norm2d::new(c, device);
        let (conv1, conv2, conv3) = match kind {
            BlockKind::Basic => (
                conv2d_kaiming_out(in_channels, planes, 3, stride, 1, false, device),
                conv2d_kaiming_out(planes, planes, 3, 1, 1, false, device),
                None,
            ),
            BlockKind::Bottleneck => (
                conv2d_kaiming_out(in_channels, planes, 1, 1, 0, false, device),
                conv2d_kaiming_out(planes, planes, 3, stride, 1, false, device),
                Some(conv2d_kaiming_out(planes, out_channels, 1, 1, 0, false, device)),
            ),
        };
        let reshapes = stride != 1 || in_channels != out_channels;
        let (downsample, zero_pad) = match (reshapes, shortcut) {
            (false, _) => (None, None),
            (true, ShortcutKind::Projection) => (
                Some(vec![
                    Layer2d::Conv(conv2d_kaiming_out(in_channels, out_channels, 1, stride, 0, false, device)),
                    Layer2d::BatchNorm(bn(out_channels)),
                ]),
                None,
            ),
            (true, ShortcutKind::ZeroPad) => {
                (None, Some(ZeroPadShortcut { stride, pad: (out_channels - in_channels) / 2 }))
            }
        };
        Self {
            conv1,
            bn1: bn(planes),
            conv2,
            bn2: bn(if conv3.is_some() { planes } else { out_channels }),
            bn3: conv3.as_ref().map(|_| bn(out_channels)),
            conv3,
            relu: Relu::new(),
            downsample,
            zero_pad,
        }
    }

    /// Applies the block.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let identity = match (&self.downsample, &self.zero_pad) {
            (Some(projection), _) => forward_layers(projection, x.clone(), |_, x| x),
            (None, Some(pad)) => pad.forward(x.clone()),
            (None, None) => x.clone(),
        };
        let out = conv_bn_relu(&self.conv1, &self.bn1, x);
        match (&self.conv3, &self.bn3) {
            (Some(conv3), Some(bn3)) => {
                let out = conv_bn_relu(&self.conv2, &self.bn2, out);
                conv_bn_add_relu(conv3, bn3, out, identity)
            }
            _ => conv_bn_add_relu(&self.conv2, &self.bn2, out, identity),
        }
    }

    /// Traces the block's layers.
    pub fn trace(&self, t: &mut Tracer, input: &SampleShape) -> Result<SampleShape, ShapeError> {
        let mut x = t.layer("conv1", &self.conv1, input)?;
        x = self.bn1.trace(t, "bn1", &x)?;
        x = t.layer("relu", &self.relu, &x)?;
        x = t.layer("conv2", &self.conv2, &x)?;
        x = self.bn2.trace(t, "bn2", &x)?;
        if let (Some(conv3), Some(bn3)) = (&self.conv3, &self.bn3) {
            x = t.layer("relu", &self.relu, &x)?;
            x = t.layer("conv3", conv3, &x)?;
            x = bn3.trace(t, "bn3", &x)?;
        }
        let shortcut = match &self.downsample {
            Some(projection) => trace_sequence(t, "downsample", projection, input)?,
            None => input.clone(),
        };
        let x = t.merge("add", "Add", &[&x, &shortcut], x.to_vec());
        t.layer("relu", &self.relu, &x)
    }
}

#[cfg(feature = "onnx")]
impl ResidualBlock {
    /// The block's nodes: its convolutions, the shortcut (projection, or option A's subsample
    /// and zero channels), the add and the last ReLU.
    pub fn export_onnx(
        &self,
        g: &mut crate::onnx::OnnxGraph,
        path: &str,
        x: &crate::onnx::Value,
    ) -> Result<crate::onnx::Value, crate::onnx::OnnxError> {
        let at = |field: &str| format!("{path}.{field}");
        let identity = match (&self.downsample, &self.zero_pad) {
            (Some(projection), _) => g.sequence(&at("downsample"), projection, x)?,
            (None, Some(pad)) => {
                let x = if pad.stride > 1 { g.subsample(&at("shortcut.slice"), pad.stride, x) } else { x.clone() };
                g.pad_channels(&at("shortcut.pad"), pad.pad, pad.pad, &x)
            }
            (None, None) => x.clone(),
        };
        let mut out = g.conv(&at("conv1"), &self.conv1, x)?;
        out = g.norm(&at("bn1"), &self.bn1, &out)?;
        out = g.relu(&at("relu"), &out);
        out = g.conv(&at("conv2"), &self.conv2, &out)?;
        out = g.norm(&at("bn2"), &self.bn2, &out)?;
        if let (Some(conv3), Some(bn3)) = (&self.conv3, &self.bn3) {
            out = g.relu(&at("relu"), &out);
            out = g.conv(&at("conv3"), conv3, &out)?;
            out = g.norm(&at("bn3"), bn3, &out)?;
        }
        let sum = g.add(&at("add"), &out, &identity);
        Ok(g.relu(&at("relu"), &sum))
    }
}

/// The blocks of the stages `(name, blocks)`, in order (`layer1.0`, `layer1.1`, ...).
#[cfg(feature = "onnx")]
pub fn export_stages(
    g: &mut crate::onnx::OnnxGraph,
    stages: &[(&str, &[ResidualBlock])],
    x: &crate::onnx::Value,
) -> Result<crate::onnx::Value, crate::onnx::OnnxError> {
    let mut x = x.clone();
    for (name, blocks) in stages {
        for (i, block) in blocks.iter().enumerate() {
            x = block.export_onnx(g, &format!("{name}.{i}"), &x)?;
        }
    }
    Ok(x)
}

/// Global average pool, flatten, `fc`.
#[cfg(feature = "onnx")]
pub fn export_pooled_head(
    g: &mut crate::onnx::OnnxGraph,
    avgpool: &AdaptiveAvgPool2d,
    fc: &Linear,
    x: &crate::onnx::Value,
) -> Result<crate::onnx::Value, crate::onnx::OnnxError> {
    let x = g.adaptive_avg_pool("avgpool", avgpool, x)?;
    let x = g.flatten("flatten", &x);
    g.linear("fc", fc, &x)
}

/// Builds a stage of `blocks` blocks; the first one carries the stride and the channel change.
pub fn make_stage(
    kind: BlockKind,
    in_channels: &mut usize,
    planes: usize,
    blocks: usize,
    stride: usize,
    shortcut: ShortcutKind,
    device: &Device,
) -> Vec<ResidualBlock> {
    (0..blocks)
        .map(|i| {
            let block_stride = if i == 0 { stride } else { 1 };
            let block = ResidualBlock::new(kind, *in_channels, planes, block_stride, shortcut, device);
            *in_channels = planes * kind.expansion();
            block
        })
        .collect()
}

/// Runs a stage.
pub fn forward_stage(blocks: &[ResidualBlock], x: Tensor<4>) -> Tensor<4> {
    blocks.iter().fold(x, |x, block| block.forward(x))
}

/// Traces a stage stored in field `name`.
pub fn trace_stage(
    t: &mut Tracer,
    name: &str,
    blocks: &[ResidualBlock],
    input: &SampleShape,
) -> Result<SampleShape, ShapeError> {
    t.scope(name, |t| {
        let mut x = input.clone();
        for (i, block) in blocks.iter().enumerate() {
            x = t.scope(&i.to_string(), |t| block.trace(t, &x))?;
        }
        Ok(x)
    })
}

/// Runs named stages in order, ending each one at `stages` (which may stop the walk).
pub fn run_stages(named: &[(&str, &[ResidualBlock])], mut x: Tensor<4>, stages: &mut Stages) -> StageFlow {
    for (name, blocks) in named {
        x = stages.end(name, forward_stage(blocks, x))?;
    }
    ControlFlow::Continue(x)
}

/// Traces named stages in order.
pub fn trace_stages(
    t: &mut Tracer,
    stages: &[(&str, &[ResidualBlock])],
    mut x: SampleShape,
) -> Result<SampleShape, ShapeError> {
    for (name, blocks) in stages {
        x = trace_stage(t, name, blocks, &x)?;
    }
    Ok(x)
}

/// The ResNet head: global average pool, flatten, `fc`.
pub fn forward_pooled_head(avgpool: &AdaptiveAvgPool2d, fc: &Linear, features: Tensor<4>) -> Tensor<2> {
    fc.forward(flatten(pool_forward(avgpool, features)))
}

/// Traces the ResNet head.
pub fn trace_pooled_head(
    t: &mut Tracer,
    avgpool: &AdaptiveAvgPool2d,
    fc: &Linear,
    x: &SampleShape,
) -> Result<SampleShape, ShapeError> {
    let x = t.layer("avgpool", avgpool, x)?;
    let x = trace_flatten(t, &x);
    t.layer("fc", fc, &x)
}

/// Depths of torchvision's ImageNet ResNets: name, block, blocks per stage.
pub const RESNET_DEPTHS: [(usize, BlockKind, [usize; 4]); 5] = [
    (18, BlockKind::Basic, [2, 2, 2, 2]),
    (34, BlockKind::Basic, [3, 4, 6, 3]),
    (50, BlockKind::Bottleneck, [3, 4, 6, 3]),
    (101, BlockKind::Bottleneck, [3, 4, 23, 3]),
    (152, BlockKind::Bottleneck, [3, 8, 36, 3]),
];

/// Configuration of [`ResNet`].
///
/// ```
/// use burn::tensor::Device;
/// use zoo_models::resnet::ResNetConfig;
/// let resnet50 = ResNetConfig::from_depth(50).unwrap().with_num_classes(10).init(&Device::flex());
/// ```
#[derive(Config, Debug)]
pub struct ResNetConfig {
    /// Residual unit.
    pub block: BlockKind,
    /// Blocks in `layer1`..`layer4`.
    pub layers: [usize; 4],
    /// Number of output classes.
    #[config(default = 1000)]
    pub num_classes: usize,
    /// Channels of the input image.
    #[config(default = 3)]
    pub in_channels: usize,
}

impl ResNetConfig {
    depth_constructors!(resnet18 = 18, resnet34 = 34, resnet50 = 50, resnet101 = 101, resnet152 = 152);

    /// The configuration of torchvision's `resnet{depth}` (18, 34, 50, 101 or 152).
    pub fn from_depth(depth: usize) -> Option<Self> {
        RESNET_DEPTHS.iter().find(|(d, _, _)| *d == depth).map(|&(_, block, layers)| Self::new(block, layers))
    }

    /// Builds the network on `device`.
    pub fn init(&self, device: &Device) -> ResNet {
        let mut channels = 64;
        let mut stage = |planes: usize, blocks: usize, stride: usize| {
            make_stage(self.block, &mut channels, planes, blocks, stride, ShortcutKind::Projection, device)
        };
        let layer1 = stage(64, self.layers[0], 1);
        let layer2 = stage(128, self.layers[1], 2);
        let layer3 = stage(256, self.layers[2], 2);
        let layer4 = stage(512, self.layers[3], 2);
        ResNet {
            conv1: conv2d_kaiming_out(self.in_channels, 64, 7, 2, 3, false, device),
            bn1: Norm2d::new(64, device),
            relu: Relu::new(),
            maxpool: MaxPool2dConfig::new([3, 3])
                .with_strides([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(),
            layer1,
            layer2,
            layer3,
            layer4,
            avgpool: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            fc: LinearConfig::new(512 * self.block.expansion(), self.num_classes).init(device),
        }
    }
}

/// torchvision's ResNet: 7x7/2 stem, 3x3/2 max pool, four stages, global average pool, `fc`.
#[derive(Module, Debug)]
pub struct ResNet {
    /// Stem convolution, 7x7 stride 2.
    pub conv1: Conv2d,
    /// Stem BatchNorm (folded into `conv1` by [`crate::fuse`]).
    pub bn1: Norm2d,
    /// Stem ReLU.
    pub relu: Relu,
    /// Stem max pool, 3x3 stride 2.
    pub maxpool: MaxPool2d,
    /// Stage 1 (stride 4 overall).
    pub layer1: Vec<ResidualBlock>,
    /// Stage 2 (stride 8).
    pub layer2: Vec<ResidualBlock>,
    /// Stage 3 (stride 16).
    pub layer3: Vec<ResidualBlock>,
    /// Stage 4 (stride 32).
    pub layer4: Vec<ResidualBlock>,
    /// Global average pool.
    pub avgpool: AdaptiveAvgPool2d,
    /// Classifier.
    pub fc: Linear,
}

impl crate::fuse::FoldBatchNorm for ResidualBlock {
    fn fold_batch_norm(&mut self) {
        self.bn1.fold_into(&mut self.conv1);
        self.bn2.fold_into(&mut self.conv2);
        if let (Some(conv3), Some(bn3)) = (&mut self.conv3, &mut self.bn3) {
            bn3.fold_into(conv3);
        }
        if let Some(projection) = &mut self.downsample {
            crate::fuse::fuse_sequence(projection);
        }
    }
}

impl crate::fuse::FoldBatchNorm for ResNet {
    fn fold_batch_norm(&mut self) {
        self.bn1.fold_into(&mut self.conv1);
        for layer in [&mut self.layer1, &mut self.layer2, &mut self.layer3, &mut self.layer4] {
            layer.fold_batch_norm();
        }
    }
}

/// torchvision's ResNet keys are these field paths.
impl crate::CheckpointNames for ResNet {}

impl ImageClassifier for ResNet {
    /// Stages: `relu` (the stem at stride 2), then `layer1`..`layer4`.
    fn run_body(&self, x: Tensor<4>, stages: &mut Stages) -> StageFlow {
        let x = conv_bn_relu(&self.conv1, &self.bn1, x);
        let x = stages.end("relu", x)?;
        run_stages(&self.stages(), pool_forward(&self.maxpool, x), stages)
    }

    fn forward_head(&self, features: Tensor<4>) -> Tensor<2> {
        forward_pooled_head(&self.avgpool, &self.fc, features)
    }

    fn trace(&self, t: &mut Tracer, input: &SampleShape) -> Result<SampleShape, ShapeError> {
        let mut x = t.layer("conv1", &self.conv1, input)?;
        x = self.bn1.trace(t, "bn1", &x)?;
        x = t.layer("relu", &self.relu, &x)?;
        x = t.layer("maxpool", &self.maxpool, &x)?;
        let x = trace_stages(t, &self.stages(), x)?;
        trace_pooled_head(t, &self.avgpool, &self.fc, &x)
    }
}

#[cfg(feature = "onnx")]
impl crate::onnx::ExportOnnx for ResNet {
    fn export_onnx(
        &self,
        g: &mut crate::onnx::OnnxGraph,
        x: &crate::onnx::Value,
        _aux: bool,
    ) -> Result<Vec<crate::onnx::Value>, crate::onnx::OnnxError> {
        let x = g.conv("conv1", &self.conv1, x)?;
        let x = g.norm("bn1", &self.bn1, &x)?;
        let x = g.relu("relu", &x);
        let x = g.max_pool("maxpool", &self.maxpool, &x)?;
        let x = export_stages(g, &self.stages(), &x)?;
        Ok(vec![export_pooled_head(g, &self.avgpool, &self.fc, &x)?])
    }
}

impl ResNet {
    fn stages(&self) -> [(&'static str, &[ResidualBlock]); 4] {
        [("layer1", &self.layer1), ("layer2", &self.layer2), ("layer3", &self.layer3), ("layer4", &self.layer4)]
    }
}

/// He et al., shared with the CIFAR ResNets.
pub(crate) const PAPER: &str = "He et al., Deep Residual Learning for Image Recognition";

fn build(depth: usize, o: &Resolved, d: &Device) -> ZooModel {
    let config = ResNetConfig::from_depth(depth).expect("registered depth");
    ZooModel::ResNet(config.with_num_classes(o.num_classes).with_in_channels(o.in_channels).init(d))
}

/// Every strided layer is padded, so even a 1x1 input keeps a 1x1 map to the end (shared with
/// the CIFAR ResNets).
pub(crate) const MIN_INPUT: [usize; 3] = [3, 1, 1];

/// The ImageNet ResNets' registry rows.
#[rustfmt::skip]
pub(crate) const REGISTRY: &[ModelInfo] = &[
    entry("resnet18", "ResNet", PAPER, 2015, IMAGENET, MIN_INPUT, 1000, Some(1.814), |o, d| build(18, o, d)),
    entry("resnet34", "ResNet", PAPER, 2015, IMAGENET, MIN_INPUT, 1000, Some(3.664), |o, d| build(34, o, d)),
    entry("resnet50", "ResNet", PAPER, 2015, IMAGENET, MIN_INPUT, 1000, Some(4.089), |o, d| build(50, o, d)),
    entry("resnet101", "ResNet", PAPER, 2015, IMAGENET, MIN_INPUT, 1000, Some(7.801), |o, d| build(101, o, d)),
    entry("resnet152", "ResNet", PAPER, 2015, IMAGENET, MIN_INPUT, 1000, Some(11.514), |o, d| build(152, o, d)),
];
