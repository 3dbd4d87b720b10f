//! Building blocks shared by the families: sequential containers whose indices line up with
//! torchvision's `nn.Sequential` keys, and the small enums that let one config switch change an
//! activation or a pooling layer.
//!
//! A `Vec<Layer2d>` field named `features` stores its parameters under `features.<i>.<Variant>.*`;
//! Burn's stores drop the enum variant (`skip_enum_variants`), leaving torchvision's
//! `features.<i>.weight`. Parameter-free entries (ReLU, pools) keep their slot so the indices of
//! the layers that own weights match torchvision's.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AvgPool2d, MaxPool2d};
use burn::nn::{BatchNorm, Dropout, Identity, Initializer, Linear, PaddingConfig2d, Relu, Tanh};
use burn::tensor::{Device, Tensor};

use crate::summary::{SampleShape, ShapeError, TraceLayer, TraceStep, Tracer};

/// One entry of a convolutional `nn.Sequential` (4-D input and output).
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Layer2d {
    /// A convolution.
    Conv(Conv2d),
    /// Batch normalisation over channels.
    BatchNorm(BatchNorm),
    /// Rectified linear unit.
    Relu(Relu),
    /// Hyperbolic tangent.
    Tanh(Tanh),
    /// Max pooling.
    MaxPool(MaxPool2d),
    /// Average pooling.
    AvgPool(AvgPool2d),
    /// Nothing: what a BatchNorm becomes once [`crate::fuse`] folds it into the convolution
    /// before it. It keeps the slot so the indices after it still match torchvision's.
    Identity(Identity),
}

impl Layer2d {
    /// Applies the layer.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Layer2d::Conv(l) => l.forward(x),
            Layer2d::BatchNorm(l) => l.forward(x),
            Layer2d::Relu(l) => l.forward(x),
            Layer2d::Tanh(l) => l.forward(x),
            Layer2d::MaxPool(l) => l.forward(x),
            Layer2d::AvgPool(l) => l.forward(x),
            Layer2d::Identity(_) => x,
        }
    }
}

impl TraceLayer for Layer2d {
    fn trace_step(&self, path: &str, input: &[usize]) -> Result<TraceStep, ShapeError> {
        match self {
            Layer2d::Conv(l) => l.trace_step(path, input),
            Layer2d::BatchNorm(l) => l.trace_step(path, input),
            Layer2d::Relu(l) => l.trace_step(path, input),
            Layer2d::Tanh(l) => l.trace_step(path, input),
            Layer2d::MaxPool(l) => l.trace_step(path, input),
            Layer2d::AvgPool(l) => l.trace_step(path, input),
            Layer2d::Identity(_) => Ok(TraceStep {
                kind: "Identity".into(),
                output: input.to_vec(),
                params: 0,
                buffers: 0,
                macs: 0,
            }),
        }
    }
}

/// One entry of a fully connected `nn.Sequential` (a classifier head on flattened features).
#[derive(Module, Debug)]
pub enum Dense {
    /// Dropout, active only while training.
    Dropout(Dropout),
    /// A fully connected layer.
    Linear(Linear),
    /// Rectified linear unit.
    Relu(Relu),
    /// Hyperbolic tangent.
    Tanh(Tanh),
}

impl Dense {
    /// Applies the layer.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        match self {
            Dense::Dropout(l) => l.forward(x),
            Dense::Linear(l) => l.forward(x),
            Dense::Relu(l) => l.forward(x),
            Dense::Tanh(l) => l.forward(x),
        }
    }
}

impl TraceLayer for Dense {
    fn trace_step(&self, path: &str, input: &[usize]) -> Result<TraceStep, ShapeError> {
        match self {
            Dense::Dropout(l) => l.trace_step(path, input),
            Dense::Linear(l) => l.trace_step(path, input),
            Dense::Relu(l) => l.trace_step(path, input),
            Dense::Tanh(l) => l.trace_step(path, input),
        }
    }
}

/// Applies a BatchNorm that may have been folded away (`None`) by [`crate::fuse`].
pub fn batch_norm(norm: &Option<BatchNorm>, x: Tensor<4>) -> Tensor<4> {
    match norm {
        Some(norm) => norm.forward(x),
        None => x,
    }
}

/// Traces a BatchNorm that may have been folded away: a folded one has no row.
pub fn trace_batch_norm(
    t: &mut Tracer,
    name: &str,
    norm: &Option<BatchNorm>,
    input: &[usize],
) -> Result<SampleShape, ShapeError> {
    match norm {
        Some(norm) => t.layer(name, norm, input),
        None => Ok(input.to_vec()),
    }
}

/// Runs a convolutional sequence, calling `on_output(index, &output)` after each layer.
pub fn forward_layers(
    layers: &[Layer2d],
    mut x: Tensor<4>,
    mut on_output: impl FnMut(usize, &Tensor<4>),
) -> Tensor<4> {
    for (i, layer) in layers.iter().enumerate() {
        x = layer.forward(x);
        on_output(i, &x);
    }
    x
}

/// Runs a fully connected sequence.
pub fn forward_dense(layers: &[Dense], x: Tensor<2>) -> Tensor<2> {
    layers.iter().fold(x, |x, layer| layer.forward(x))
}

/// Traces a sequence stored in a field called `name`; rows are named `name.<index>`.
pub fn trace_sequence<L: TraceLayer>(
    t: &mut Tracer,
    name: &str,
    layers: &[L],
    input: &[usize],
) -> Result<SampleShape, ShapeError> {
    t.scope(name, |t| {
        let mut shape = input.to_vec();
        for (i, layer) in layers.iter().enumerate() {
            shape = t.layer(&i.to_string(), layer, &shape)?;
        }
        Ok(shape)
    })
}

/// Flattens `[N, C, H, W]` to `[N, C*H*W]`, as `torch.flatten(x, 1)`.
pub fn flatten(x: Tensor<4>) -> Tensor<2> {
    x.flatten(1, 3)
}

/// Traces `torch.flatten(x, 1)`.
pub fn trace_flatten(t: &mut Tracer, input: &[usize]) -> SampleShape {
    t.op("flatten", "Flatten", vec![input.iter().product()])
}

/// Square convolution: `kernel`x`kernel`, `stride`, symmetric `padding`, optional bias, with
/// PyTorch's default initialisation.
pub fn conv2d(
    in_channels: usize,
    out_channels: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    bias: bool,
    device: &Device,
) -> Conv2d {
    square_conv_config(in_channels, out_channels, kernel, stride, padding, bias).init(device)
}

/// Like [`conv2d`] with torchvision's ResNet/VGG initialisation
/// (`kaiming_normal_(mode="fan_out", nonlinearity="relu")`).
pub fn conv2d_kaiming_out(
    in_channels: usize,
    out_channels: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    bias: bool,
    device: &Device,
) -> Conv2d {
    square_conv_config(in_channels, out_channels, kernel, stride, padding, bias)
        .with_initializer(Initializer::KaimingNormal { gain: std::f64::consts::SQRT_2, fan_out_only: true })
        .init(device)
}

fn square_conv_config(
    in_channels: usize,
    out_channels: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    bias: bool,
) -> Conv2dConfig {
    Conv2dConfig::new([in_channels, out_channels], [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(padding, padding, padding, padding))
        .with_bias(bias)
}

/// An element-wise non-linearity chosen by configuration, usable on tensors of any rank.
#[derive(Module, Debug)]
pub enum Activation {
    /// Rectified linear unit.
    Relu(Relu),
    /// Hyperbolic tangent.
    Tanh(Tanh),
}

impl Activation {
    /// Applies the non-linearity.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Activation::Relu(l) => l.forward(x),
            Activation::Tanh(l) => l.forward(x),
        }
    }
}

impl TraceLayer for Activation {
    fn trace_step(&self, path: &str, input: &[usize]) -> Result<TraceStep, ShapeError> {
        match self {
            Activation::Relu(l) => l.trace_step(path, input),
            Activation::Tanh(l) => l.trace_step(path, input),
        }
    }
}
