//! The CIFAR-10 ResNets of He et al. 2015, §4.2: a 3x3 stem with 16 filters, three stages of `n`
//! basic blocks with 16, 32 and 64 filters (feature maps 32, 16, 8), global average pooling and a
//! fully connected layer: 6n+2 weighted layers. Shortcuts that change shape are parameter-free
//! (option A: subsample and zero-pad the channels), so ResNet-20 has 269,722 parameters.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig};
use burn::nn::{Linear, LinearConfig, Relu};
use burn::tensor::{Device, Tensor};

use crate::layers::{Norm2d, conv_bn_relu, conv2d_kaiming_out};
use crate::model::{ImageClassifier, StageFlow, Stages};
use crate::registry::{CIFAR, ModelInfo, Resolved, ZooModel, entry};
use crate::resnet::{
    BlockKind, ResidualBlock, ShortcutKind, forward_pooled_head, make_stage, run_stages, trace_pooled_head,
    trace_stages,
};
use crate::resnet::{MIN_INPUT, PAPER};
use crate::summary::{SampleShape, ShapeError, Tracer};

/// Renames (regex, replacement) from other PyTorch CIFAR ResNets' keys to these fields, applied
/// when loading: Yerlan Idelbayev's widely used `pytorch_resnet_cifar10` (same option-A
/// architecture and layout) calls the classifier `linear`.
pub const PYTORCH_KEY_REMAPS: &[(&str, &str)] = &[(r"^linear\.", "fc.")];

/// Configuration of [`CifarResNet`].
///
/// ```
/// use burn::tensor::Device;
/// use zoo_models::resnet_cifar::CifarResNetConfig;
/// let resnet56 = CifarResNetConfig::from_depth(56).unwrap().init(&Device::flex());
/// ```
#[derive(Config, Debug)]
pub struct CifarResNetConfig {
    /// Basic blocks per stage (`n`; depth is 6n+2).
    pub blocks_per_stage: usize,
    /// Number of output classes.
    #[config(default = 10)]
    pub num_classes: usize,
    /// Channels of the input image.
    #[config(default = 3)]
    pub in_channels: usize,
}

impl CifarResNetConfig {
    depth_constructors!(resnet20 = 20, resnet32 = 32, resnet44 = 44, resnet56 = 56, resnet110 = 110);

    /// The network with `depth` = 6n+2 layers (20, 32, 44, 56, 110, 1202, ...); `None` otherwise.
    pub fn from_depth(depth: usize) -> Option<Self> {
        (depth >= 8 && (depth - 2).is_multiple_of(6)).then(|| Self::new((depth - 2) / 6))
    }

    /// Builds the network on `device`.
    pub fn init(&self, device: &Device) -> CifarResNet {
        let n = self.blocks_per_stage;
        let mut channels = 16;
        let mut stage = |planes: usize, stride: usize| {
            make_stage(BlockKind::Basic, &mut channels, planes, n, stride, ShortcutKind::ZeroPad, device)
        };
        let layer1 = stage(16, 1);
        let layer2 = stage(32, 2);
        let layer3 = stage(64, 2);
        CifarResNet {
            conv1: conv2d_kaiming_out(self.in_channels, 16, 3, 1, 1, false, device),
            bn1: Norm2d::new(16, device),
            relu: Relu::new(),
            layer1,
            layer2,
            layer3,
            avgpool: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            fc: LinearConfig::new(64, self.num_classes).init(device),
        }
    }
}

/// A CIFAR ResNet (ResNet-20/32/44/56/110).
#[derive(Module, Debug)]
pub struct CifarResNet {
    /// Stem convolution, 3x3 with 16 filters.
    pub conv1: Conv2d,
    /// Stem BatchNorm (folded into `conv1` by [`crate::fuse`]).
    pub bn1: Norm2d,
    /// Stem ReLU.
    pub relu: Relu,
    /// 16 filters, 32x32 maps.
    pub layer1: Vec<ResidualBlock>,
    /// 32 filters, 16x16 maps.
    pub layer2: Vec<ResidualBlock>,
    /// 64 filters, 8x8 maps.
    pub layer3: Vec<ResidualBlock>,
    /// Global average pool.
    pub avgpool: AdaptiveAvgPool2d,
    /// Classifier.
    pub fc: Linear,
}

impl CifarResNet {
    fn stages(&self) -> [(&'static str, &[ResidualBlock]); 3] {
        [("layer1", &self.layer1), ("layer2", &self.layer2), ("layer3", &self.layer3)]
    }
}

impl crate::fuse::FoldBatchNorm for CifarResNet {
    fn fold_batch_norm(&mut self) {
        self.bn1.fold_into(&mut self.conv1);
        for layer in [&mut self.layer1, &mut self.layer2, &mut self.layer3] {
            layer.fold_batch_norm();
        }
    }
}

impl crate::CheckpointNames for CifarResNet {
    fn key_remaps(&self) -> Vec<(String, String)> {
        PYTORCH_KEY_REMAPS.iter().map(|(p, r)| (p.to_string(), r.to_string())).collect()
    }
}

impl ImageClassifier for CifarResNet {
    /// Stages: `layer1`, `layer2`, `layer3`.
    fn run_body(&self, x: Tensor<4>, stages: &mut Stages) -> StageFlow {
        let x = conv_bn_relu(&self.conv1, &self.bn1, x);
        run_stages(&self.stages(), x, stages)
    }

    fn forward_head(&self, features: Tensor<4>) -> Tensor<2> {
        forward_pooled_head(&self.avgpool, &self.fc, features)
    }

    fn trace(&self, t: &mut Tracer, input: &SampleShape) -> Result<SampleShape, ShapeError> {
        let mut x = t.layer("conv1", &self.conv1, input)?;
        x = self.bn1.trace(t, "bn1", &x)?;
        x = t.layer("relu", &self.relu, &x)?;
        let x = trace_stages(t, &self.stages(), x)?;
        trace_pooled_head(t, &self.avgpool, &self.fc, &x)
    }
}

#[cfg(feature = "onnx")]
impl crate::onnx::ExportOnnx for CifarResNet {
    fn export_onnx(
        &self,
        g: &mut crate::onnx::OnnxGraph,
        x: &crate::onnx::Value,
        _aux: bool,
    ) -> Result<Vec<crate::onnx::Value>, crate::onnx::OnnxError> {
        let x = g.conv("conv1", &self.conv1, x)?;
        let x = g.norm("bn1", &self.bn1, &x)?;
        let x = g.relu("relu", &x);
        let x = crate::resnet::export_stages(g, &self.stages(), &x)?;
        Ok(vec![crate::resnet::export_pooled_head(g, &self.avgpool, &self.fc, &x)?])
    }
}

fn build(depth: usize, o: &Resolved, d: &Device) -> ZooModel {
    let config = CifarResNetConfig::from_depth(depth).expect("registered depth");
    ZooModel::CifarResNet(config.with_num_classes(o.num_classes).with_in_channels(o.in_channels).init(d))
}

/// The CIFAR ResNets' registry rows.
#[rustfmt::skip]
pub(crate) const REGISTRY: &[ModelInfo] = &[
    entry("resnet20", "ResNet (CIFAR)", PAPER, 2015, CIFAR, MIN_INPUT, 10, Some(0.0406), |o, d| build(20, o, d)),
    entry("resnet32", "ResNet (CIFAR)", PAPER, 2015, CIFAR, MIN_INPUT, 10, None, |o, d| build(32, o, d)),
    entry("resnet44", "ResNet (CIFAR)", PAPER, 2015, CIFAR, MIN_INPUT, 10, None, |o, d| build(44, o, d)),
    entry("resnet56", "ResNet (CIFAR)", PAPER, 2015, CIFAR, MIN_INPUT, 10, Some(0.1255), |o, d| build(56, o, d)),
    entry("resnet110", "ResNet (CIFAR)", PAPER, 2015, CIFAR, MIN_INPUT, 10, None, |o, d| build(110, o, d)),
];
