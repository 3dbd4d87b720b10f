//! LeNet-5 (LeCun et al., 1998) on 32x32 single-channel images.
//!
//! Layer names are the conventional PyTorch ones (`conv1`, `conv2`, `fc1`..`fc3`); torchvision has
//! no LeNet, so these are the keys the zoo documents for loading a PyTorch LeNet-5.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::pool::{AvgPool2dConfig, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, Relu, Tanh};
use burn::tensor::{Device, Tensor};

use crate::layers::{Activation, Layer2d, conv_forward, conv2d, flatten, trace_flatten};
use crate::model::{ImageClassifier, StageFlow, Stages};
use crate::registry::{ModelInfo, Resolved, ZooModel, entry};
use crate::summary::{SampleShape, ShapeError, Tracer};

/// Which LeNet-5: the 1998 paper's or the one most tutorials teach today.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum LeNetStyle {
    /// ReLU activations and 2x2 max pooling.
    Modern,
    /// The 1998 flavour: tanh activations and 2x2 average-pool subsampling.
    Classic,
}

/// Configuration of [`LeNet5`].
///
/// ```
/// use burn::tensor::Device;
/// use zoo_models::lenet::{LeNet5Config, LeNetStyle};
/// let model = LeNet5Config::new().with_style(LeNetStyle::Classic).init(&Device::flex());
/// ```
#[derive(Config, Debug)]
pub struct LeNet5Config {
    /// Number of output classes.
    #[config(default = 10)]
    pub num_classes: usize,
    /// Channels of the input image.
    #[config(default = 1)]
    pub in_channels: usize,
    /// Activation and subsampling flavour.
    #[config(default = "LeNetStyle::Modern")]
    pub style: LeNetStyle,
}

/// LeNet-5: conv 6@5x5 → pool → conv 16@5x5 → pool → FC 120 → 84 → classes.
#[derive(Module, Debug)]
pub struct LeNet5 {
    /// C1: 6 feature maps, 5x5.
    pub conv1: Conv2d,
    /// S2: 2x2 subsampling.
    pub pool1: Layer2d,
    /// C3: 16 feature maps, 5x5.
    pub conv2: Conv2d,
    /// S4: 2x2 subsampling.
    pub pool2: Layer2d,
    /// C5/F5: 16·5·5 → 120.
    pub fc1: Linear,
    /// F6: 120 → 84.
    pub fc2: Linear,
    /// Output layer: 84 → classes.
    pub fc3: Linear,
    /// The non-linearity after every layer but the last.
    pub activation: Activation,
}

impl LeNet5Config {
    /// Builds the network on `device`.
    pub fn init(&self, device: &Device) -> LeNet5 {
        let pool = || match self.style {
            LeNetStyle::Modern => Layer2d::MaxPool(MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init()),
            LeNetStyle::Classic => Layer2d::AvgPool(AvgPool2dConfig::new([2, 2]).with_strides([2, 2]).init()),
        };
        LeNet5 {
            conv1: conv2d(self.in_channels, 6, 5, 1, 0, true, device),
            pool1: pool(),
            conv2: conv2d(6, 16, 5, 1, 0, true, device),
            pool2: pool(),
            fc1: LinearConfig::new(16 * 5 * 5, 120).init(device),
            fc2: LinearConfig::new(120, 84).init(device),
            fc3: LinearConfig::new(84, self.num_classes).init(device),
            activation: match self.style {
                LeNetStyle::Modern => Activation::Relu(Relu::new()),
                LeNetStyle::Classic => Activation::Tanh(Tanh::new()),
            },
        }
    }
}

/// LeNet-5 has no BatchNorm.
impl crate::fuse::FoldBatchNorm for LeNet5 {
    fn fold_batch_norm(&mut self) {}
}

/// The reference PyTorch LeNet-5's keys are these field paths.
impl crate::CheckpointNames for LeNet5 {}

impl ImageClassifier for LeNet5 {
    fn run_body(&self, x: Tensor<4>, stages: &mut Stages) -> StageFlow {
        let x = self.pool1.forward(self.activation.forward(conv_forward(&self.conv1, x)));
        let x = stages.end("pool1", x)?;
        let x = self.pool2.forward(self.activation.forward(conv_forward(&self.conv2, x)));
        stages.end("pool2", x)
    }

    fn forward_head(&self, features: Tensor<4>) -> Tensor<2> {
        let x = self.activation.forward(self.fc1.forward(flatten(features)));
        let x = self.activation.forward(self.fc2.forward(x));
        self.fc3.forward(x)
    }

    fn trace(&self, t: &mut Tracer, input: &SampleShape) -> Result<SampleShape, ShapeError> {
        let mut x = input.clone();
        for (conv, pool, conv_name, pool_name) in
            [(&self.conv1, &self.pool1, "conv1", "pool1"), (&self.conv2, &self.pool2, "conv2", "pool2")]
        {
            x = t.layer(conv_name, conv, &x)?;
            x = t.layer("activation", &self.activation, &x)?;
            x = t.layer(pool_name, pool, &x)?;
        }
        let mut x = trace_flatten(t, &x);
        for (fc, name) in [(&self.fc1, "fc1"), (&self.fc2, "fc2")] {
            x = t.layer(name, fc, &x)?;
            x = t.layer("activation", &self.activation, &x)?;
        }
        t.layer("fc3", &self.fc3, &x)
    }
}

#[cfg(feature = "onnx")]
impl crate::onnx::ExportOnnx for LeNet5 {
    fn export_onnx(
        &self,
        g: &mut crate::onnx::OnnxGraph,
        x: &crate::onnx::Value,
        _aux: bool,
    ) -> Result<Vec<crate::onnx::Value>, crate::onnx::OnnxError> {
        let x = g.conv("conv1", &self.conv1, x)?;
        let x = g.activation("activation", &self.activation, &x);
        let x = g.layer("pool1", &self.pool1, &x)?;
        let x = g.conv("conv2", &self.conv2, &x)?;
        let x = g.activation("activation", &self.activation, &x);
        let x = g.layer("pool2", &self.pool2, &x)?;
        let x = g.flatten("flatten", &x);
        let x = g.linear("fc1", &self.fc1, &x)?;
        let x = g.activation("activation", &self.activation, &x);
        let x = g.linear("fc2", &self.fc2, &x)?;
        let x = g.activation("activation", &self.activation, &x);
        Ok(vec![g.linear("fc3", &self.fc3, &x)?])
    }
}

const PAPER: &str = "LeCun et al., Gradient-Based Learning Applied to Document Recognition";

fn build(o: &Resolved, d: &Device) -> ZooModel {
    ZooModel::LeNet5(LeNet5Config::new().with_num_classes(o.num_classes).with_in_channels(o.in_channels).init(d))
}

/// LeNet-5's registry row. 32x32 is its only size: `fc1` takes exactly 16x5x5 features.
pub(crate) const REGISTRY: &[ModelInfo] =
    &[entry("lenet5", "LeNet-5", PAPER, 1998, [1, 32, 32], [1, 32, 32], 10, Some(0.000417), build)];
