//! The plain (non-residual) layout that AlexNet, ZF Net and VGG share in torchvision:
//! `features` (convolutions, ReLUs and max pools) → `avgpool` (adaptive, to a fixed grid) →
//! `classifier` (fully connected layers with dropout). The families differ only in their layer
//! tables, which live in their own files.

use std::ops::ControlFlow;

use burn::module::Module;
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, MaxPool2dConfig};
use burn::nn::{DropoutConfig, Initializer, LinearConfig, Relu};
use burn::tensor::{Device, Tensor};

use crate::layers::{
    Dense, Layer2d, Norm2d, conv2d, conv2d_kaiming_out, flatten, forward_dense, pool_forward, trace_flatten,
    trace_sequence,
};
use crate::model::{ImageClassifier, StageFlow, Stages};
use crate::summary::{SampleShape, ShapeError, Tracer};

/// One entry of a plain network's feature table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureSpec {
    /// A square convolution followed (optionally by BatchNorm and) by ReLU.
    Conv {
        /// Output channels.
        out: usize,
        /// Kernel size.
        kernel: usize,
        /// Stride.
        stride: usize,
        /// Zero padding on each side.
        padding: usize,
    },
    /// A square max pool.
    MaxPool {
        /// Window size.
        kernel: usize,
        /// Stride.
        stride: usize,
        /// Round the output size up, as PyTorch's `ceil_mode=True`.
        ceil_mode: bool,
    },
}

/// Shorthand for a convolution entry.
pub const fn conv(out: usize, kernel: usize, stride: usize, padding: usize) -> FeatureSpec {
    FeatureSpec::Conv { out, kernel, stride, padding }
}

/// Shorthand for a max-pool entry (floor mode).
pub const fn max_pool(kernel: usize, stride: usize) -> FeatureSpec {
    FeatureSpec::MaxPool { kernel, stride, ceil_mode: false }
}

/// Where the dropouts sit in the classifier, which is what tells AlexNet's head from VGG's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropoutPlacement {
    /// `Dropout, Linear, ReLU, Dropout, Linear, ReLU, Linear` (AlexNet, ZF Net).
    BeforeLinear,
    /// `Linear, ReLU, Dropout, Linear, ReLU, Dropout, Linear` (VGG).
    AfterRelu,
}

/// How weights are initialised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlainInit {
    /// PyTorch's layer defaults (AlexNet in torchvision).
    PytorchDefault,
    /// torchvision's VGG scheme: Kaiming-normal (fan-out) convolutions, N(0, 0.01) linear layers.
    VggKaiming,
}

/// Everything needed to build a [`PlainNet`].
#[derive(Debug, Clone)]
pub struct PlainSpec<'a> {
    /// The feature table.
    pub features: &'a [FeatureSpec],
    /// Insert BatchNorm after every convolution (VGG's `_bn` variants).
    pub batch_norm: bool,
    /// Output grid of the adaptive average pool.
    pub pool_size: usize,
    /// Width of the two hidden fully connected layers.
    pub hidden: usize,
    /// Dropout placement in the classifier.
    pub dropout_placement: DropoutPlacement,
    /// Initialisation scheme.
    pub init: PlainInit,
}

/// A plain network: `features` → `avgpool` → `classifier`, keyed like torchvision's AlexNet/VGG.
#[derive(Module, Debug)]
pub struct PlainNet {
    /// Convolutional body; indices match torchvision's `features.<i>`.
    pub features: Vec<Layer2d>,
    /// Adaptive average pool to a fixed grid, so other input sizes still fit the classifier.
    pub avgpool: AdaptiveAvgPool2d,
    /// Fully connected head; indices match torchvision's `classifier.<i>`.
    pub classifier: Vec<Dense>,
}

impl PlainNet {
    /// Builds the network described by `spec`.
    pub fn new(spec: &PlainSpec<'_>, in_channels: usize, num_classes: usize, dropout: f64, device: &Device) -> Self {
        let mut features = Vec::new();
        let mut channels = in_channels;
        for entry in spec.features {
            match *entry {
                FeatureSpec::Conv { out, kernel, stride, padding } => {
                    let conv = match spec.init {
                        PlainInit::PytorchDefault => conv2d(channels, out, kernel, stride, padding, true, device),
                        PlainInit::VggKaiming => {
                            conv2d_kaiming_out(channels, out, kernel, stride, padding, true, device)
                        }
                    };
                    features.push(Layer2d::Conv(conv));
                    if spec.batch_norm {
                        features.push(Layer2d::BatchNorm(Norm2d::new(out, device)));
                    }
                    features.push(Layer2d::Relu(Relu::new()));
                    channels = out;
                }
                FeatureSpec::MaxPool { kernel, stride, ceil_mode } => features.push(Layer2d::MaxPool(
                    MaxPool2dConfig::new([kernel, kernel])
                        .with_strides([stride, stride])
                        .with_ceil_mode(ceil_mode)
                        .init(),
                )),
            }
        }
        let linear = |d_in: usize, d_out: usize| {
            let config = LinearConfig::new(d_in, d_out);
            let config = match spec.init {
                PlainInit::PytorchDefault => config,
                PlainInit::VggKaiming => config.with_initializer(Initializer::Normal { mean: 0.0, std: 0.01 }),
            };
            Dense::Linear(config.init(device))
        };
        let drop = || Dense::Dropout(DropoutConfig::new(dropout).init());
        let relu = || Dense::Relu(Relu::new());
        let flat = channels * spec.pool_size * spec.pool_size;
        let classifier = match spec.dropout_placement {
            DropoutPlacement::BeforeLinear => vec![
                drop(),
                linear(flat, spec.hidden),
                relu(),
                drop(),
                linear(spec.hidden, spec.hidden),
                relu(),
                linear(spec.hidden, num_classes),
            ],
            DropoutPlacement::AfterRelu => vec![
                linear(flat, spec.hidden),
                relu(),
                drop(),
                linear(spec.hidden, spec.hidden),
                relu(),
                drop(),
                linear(spec.hidden, num_classes),
            ],
        };
        Self { features, avgpool: AdaptiveAvgPool2dConfig::new([spec.pool_size, spec.pool_size]).init(), classifier }
    }
}

impl crate::fuse::FoldBatchNorm for PlainNet {
    fn fold_batch_norm(&mut self) {
        crate::fuse::fuse_sequence(&mut self.features);
    }
}

/// torchvision's AlexNet and VGG keys (and the reference ZF Net's) are these field paths.
impl crate::CheckpointNames for PlainNet {}

impl ImageClassifier for PlainNet {
    /// Stages end at each max pool (`features.<i>`).
    fn run_body(&self, mut x: Tensor<4>, stages: &mut Stages) -> StageFlow {
        for (i, layer) in self.features.iter().enumerate() {
            x = layer.forward(x);
            if matches!(layer, Layer2d::MaxPool(_)) {
                x = stages.end(&format!("features.{i}"), x)?;
            }
        }
        ControlFlow::Continue(x)
    }

    fn forward_head(&self, features: Tensor<4>) -> Tensor<2> {
        forward_dense(&self.classifier, flatten(pool_forward(&self.avgpool, features)))
    }

    fn trace(&self, t: &mut Tracer, input: &SampleShape) -> Result<SampleShape, ShapeError> {
        let x = trace_sequence(t, "features", &self.features, input)?;
        let x = t.layer("avgpool", &self.avgpool, &x)?;
        let x = trace_flatten(t, &x);
        trace_sequence(t, "classifier", &self.classifier, &x)
    }
}

#[cfg(feature = "onnx")]
impl crate::onnx::ExportOnnx for PlainNet {
    fn export_onnx(
        &self,
        g: &mut crate::onnx::OnnxGraph,
        x: &crate::onnx::Value,
        _aux: bool,
    ) -> Result<Vec<crate::onnx::Value>, crate::onnx::OnnxError> {
        let x = g.sequence("features", &self.features, x)?;
        let x = g.adaptive_avg_pool("avgpool", &self.avgpool, &x)?;
        let x = g.flatten("flatten", &x);
        Ok(vec![g.dense_sequence("classifier", &self.classifier, &x)?])
    }
}
