//! Building blocks shared by the families: sequential containers whose indices line up with
//! torchvision's `nn.Sequential` keys, and the small enums that let one config switch change an
//! activation or a pooling layer.
//!
//! A `Vec<Layer2d>` field named `features` stores its parameters under `features.<i>.<Variant>.*`;
//! Burn's stores drop the enum variant (`skip_enum_variants`), leaving torchvision's
//! `features.<i>.weight`. Parameter-free entries (ReLU, pools) keep their slot so the indices of
//! the layers that own weights match torchvision's.

use burn::module::{Content, Devices, Module, ModuleDisplay, ModuleDisplayDefault, ModuleMapper, ModuleVisitor};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AdaptiveAvgPool2d, AvgPool2d, MaxPool2d};
use burn::nn::{BatchNorm, BatchNormConfig, Dropout, Initializer, Linear, PaddingConfig2d, Relu, Tanh};
use burn::tensor::{Device, Tensor};

use crate::summary::{SampleShape, ShapeError, TraceLayer, TraceStep, Tracer, format_shape};

/// One entry of a convolutional `nn.Sequential` (4-D input and output).
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Layer2d {
    /// A convolution.
    Conv(Conv2d),
    /// Batch normalisation over channels, or nothing once [`crate::fuse`] folded it into the
    /// convolution before it: the slot stays, so the indices after it still match torchvision's.
    BatchNorm(Norm2d),
    /// Rectified linear unit.
    Relu(Relu),
    /// Hyperbolic tangent.
    Tanh(Tanh),
    /// Max pooling.
    MaxPool(MaxPool2d),
    /// Average pooling.
    AvgPool(AvgPool2d),
}

impl Layer2d {
    /// Applies the layer.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Layer2d::Conv(l) => conv_forward(l, x),
            Layer2d::BatchNorm(l) => l.forward(x),
            Layer2d::Relu(_) => zoo_kernels::relu(x),
            Layer2d::Tanh(l) => l.forward(x),
            Layer2d::MaxPool(l) => pool_forward(l, x),
            Layer2d::AvgPool(l) => pool_forward(l, x),
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
        }
    }
}

/// The BatchNorm after a convolution, or what is left of it once [`crate::fuse`] has folded it
/// into that convolution: nothing.
///
/// Its [`Module`] implementation is transparent, as an `Option<BatchNorm>`'s is: the
/// BatchNorm's tensors sit right under the field that holds it (`layer1.0.bn1.weight`, burnpack's
/// `layer1.0.bn1.gamma`), with no variant name in between, so checkpoints keep torchvision's keys.
/// A folded one holds no tensors.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use zoo_models::layers::{Norm2d, conv2d};
///
/// let device = Device::flex();
/// let mut conv = conv2d(3, 8, 3, 1, 1, false, &device);
/// let mut norm = Norm2d::new(8, &device);
/// let x = Tensor::<4>::ones([1, 3, 4, 4], &device);
/// let before = norm.forward(zoo_models::layers::conv_forward(&conv, x.clone()));
/// norm.fold_into(&mut conv);
/// assert!(norm.is_folded() && conv.bias.is_some());
/// let after = norm.forward(zoo_models::layers::conv_forward(&conv, x));
/// assert!((before - after).abs().max().into_scalar::<f32>() < 1e-5);
/// ```
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum Norm2d {
    /// Batch normalisation over channels.
    BatchNorm(BatchNorm),
    /// Folded into the preceding convolution: the identity.
    Folded,
}

impl Norm2d {
    /// A BatchNorm over `channels` with PyTorch's defaults (ε = 1e-5, momentum 0.1).
    pub fn new(channels: usize, device: &Device) -> Self {
        Norm2d::BatchNorm(BatchNormConfig::new(channels).init(device))
    }

    /// The BatchNorm, unless it has been folded.
    pub fn as_batch_norm(&self) -> Option<&BatchNorm> {
        match self {
            Norm2d::BatchNorm(norm) => Some(norm),
            Norm2d::Folded => None,
        }
    }

    /// Whether [`fold_into`](Self::fold_into) has folded it away.
    pub fn is_folded(&self) -> bool {
        matches!(self, Norm2d::Folded)
    }

    /// Applies the BatchNorm (nothing once folded). Training updates the running variance with
    /// the unbiased batch variance, as PyTorch does ([`zoo_kernels::batch_norm`]).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Norm2d::BatchNorm(norm) => zoo_kernels::batch_norm(norm, x, None, false),
            Norm2d::Folded => x,
        }
    }

    /// Folds the BatchNorm, with its running statistics, into `conv`, the convolution it
    /// follows, and leaves [`Norm2d::Folded`]; does nothing when already folded.
    pub fn fold_into(&mut self, conv: &mut Conv2d) {
        if let Norm2d::BatchNorm(norm) = std::mem::replace(self, Norm2d::Folded) {
            crate::fuse::fold(conv, norm);
        }
    }

    /// Traces the norm stored in field `name`: a folded one has no row.
    pub fn trace(&self, t: &mut Tracer, name: &str, input: &SampleShape) -> Result<SampleShape, ShapeError> {
        match self {
            Norm2d::BatchNorm(norm) => t.layer(name, norm, input),
            Norm2d::Folded => Ok(input.clone()),
        }
    }
}

impl From<BatchNorm> for Norm2d {
    fn from(norm: BatchNorm) -> Self {
        Norm2d::BatchNorm(norm)
    }
}

/// In a sequence a folded norm keeps its slot as an `Identity` row, so the rows' indices stay
/// torchvision's.
impl TraceLayer for Norm2d {
    fn trace_step(&self, path: &str, input: &[usize]) -> Result<TraceStep, ShapeError> {
        match self {
            Norm2d::BatchNorm(norm) => norm.trace_step(path, input),
            Norm2d::Folded => Ok(TraceStep {
                kind: "Identity".into(),
                output: input.to_vec(),
                params: 0,
                buffers: 0,
                macs: 0,
                window: None,
            }),
        }
    }
}

// Written by hand because the derive would put the variant's name (`BatchNorm`) in every
// path below the field; this one, like `Option`'s, adds no path segment.
impl Module for Norm2d {
    fn collect_devices(&self, devices: Devices) -> Devices {
        match self {
            Norm2d::BatchNorm(norm) => norm.collect_devices(devices),
            Norm2d::Folded => devices,
        }
    }

    fn fork(self, device: &Device) -> Self {
        self.map_norm(|norm| norm.fork(device))
    }

    fn to_device(self, device: &Device) -> Self {
        self.map_norm(|norm| norm.to_device(device))
    }

    fn train(self) -> Self {
        self.map_norm(Module::train)
    }

    fn valid(&self) -> Self {
        match self {
            Norm2d::BatchNorm(norm) => Norm2d::BatchNorm(norm.valid()),
            Norm2d::Folded => Norm2d::Folded,
        }
    }

    fn materialize(self) -> Self {
        self.map_norm(Module::materialize)
    }

    fn num_params(&self) -> usize {
        self.as_batch_norm().map_or(0, Module::num_params)
    }

    fn visit<V: ModuleVisitor>(&self, visitor: &mut V) {
        if let Norm2d::BatchNorm(norm) = self {
            norm.visit(visitor);
        }
    }

    fn map<M: ModuleMapper>(self, mapper: &mut M) -> Self {
        self.map_norm(|norm| norm.map(mapper))
    }
}

impl Norm2d {
    fn map_norm(self, f: impl FnOnce(BatchNorm) -> BatchNorm) -> Self {
        match self {
            Norm2d::BatchNorm(norm) => Norm2d::BatchNorm(f(norm)),
            Norm2d::Folded => Norm2d::Folded,
        }
    }
}

impl ModuleDisplayDefault for Norm2d {
    fn content(&self, content: Content) -> Option<Content> {
        match self {
            Norm2d::BatchNorm(norm) => content.add_single(norm).optional(),
            Norm2d::Folded => content.add_single("Folded").optional(),
        }
    }
}

impl ModuleDisplay for Norm2d {}

impl std::fmt::Display for Norm2d {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Norm2d::BatchNorm(norm) => norm.fmt(f),
            Norm2d::Folded => f.write_str("Folded"),
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
            Dense::Relu(_) => zoo_kernels::relu(x),
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

/// Applies a convolution: what every model calls instead of `Conv2d::forward`, so every family
/// runs on the zoo's CPU kernels on flex ([`zoo_kernels`]) and on Burn's op on other devices.
pub fn conv_forward(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    zoo_kernels::conv2d_module(conv, x)
}

/// A pooling layer: max, average, or adaptive average.
pub trait Pool {
    /// Applies the pooling on the zoo's kernels on flex ([`zoo_kernels`]), Burn's op elsewhere.
    fn pool(&self, x: Tensor<4>) -> Tensor<4>;
}

impl Pool for MaxPool2d {
    fn pool(&self, x: Tensor<4>) -> Tensor<4> {
        zoo_kernels::max_pool2d_module(self, x)
    }
}

impl Pool for AvgPool2d {
    fn pool(&self, x: Tensor<4>) -> Tensor<4> {
        zoo_kernels::avg_pool2d_module(self, x)
    }
}

impl Pool for AdaptiveAvgPool2d {
    fn pool(&self, x: Tensor<4>) -> Tensor<4> {
        zoo_kernels::adaptive_avg_pool2d_module(self, x)
    }
}

/// Applies a pooling layer: what every model calls instead of its `forward`.
pub fn pool_forward(pool: &impl Pool, x: Tensor<4>) -> Tensor<4> {
    pool.pool(x)
}

/// `norm(conv(x))`: a convolution and the BatchNorm after it (the identity once folded by
/// [`crate::fuse`]); one fused kernel in inference on flex ([`zoo_kernels::conv_batch_norm`]).
pub fn conv_bn(conv: &Conv2d, norm: &Norm2d, x: Tensor<4>) -> Tensor<4> {
    zoo_kernels::conv_batch_norm(conv, norm.as_batch_norm(), x, None, false)
}

/// `relu(norm(conv(x)))`, one fused kernel in inference on flex.
pub fn conv_bn_relu(conv: &Conv2d, norm: &Norm2d, x: Tensor<4>) -> Tensor<4> {
    zoo_kernels::conv_batch_norm(conv, norm.as_batch_norm(), x, None, true)
}

/// `relu(norm(conv(x)) + residual)`, a residual block's ending, one fused kernel in inference
/// on flex.
pub fn conv_bn_add_relu(conv: &Conv2d, norm: &Norm2d, x: Tensor<4>, residual: Tensor<4>) -> Tensor<4> {
    zoo_kernels::conv_batch_norm(conv, norm.as_batch_norm(), x, Some(residual), true)
}

/// Applies a BatchNorm that no convolution precedes (DenseNet's pre-activation ones).
///
/// Training updates the running variance with the unbiased batch variance, as PyTorch does
/// ([`zoo_kernels::batch_norm`]).
pub fn batch_norm(norm: &BatchNorm, x: Tensor<4>) -> Tensor<4> {
    zoo_kernels::batch_norm(norm, x, None, false)
}

/// `relu(batch_norm(x))`, one fused op on flex.
pub fn batch_norm_relu(norm: &BatchNorm, x: Tensor<4>) -> Tensor<4> {
    zoo_kernels::batch_norm(norm, x, None, true)
}

/// Runs a convolutional sequence, passing each layer's output through `on_output(index, output)`.
pub fn forward_layers(
    layers: &[Layer2d],
    mut x: Tensor<4>,
    mut on_output: impl FnMut(usize, Tensor<4>) -> Tensor<4>,
) -> Tensor<4> {
    for (i, layer) in layers.iter().enumerate() {
        x = on_output(i, layer.forward(x));
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
    input: &SampleShape,
) -> Result<SampleShape, ShapeError> {
    t.scope(name, |t| {
        let mut shape = input.clone();
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
pub fn trace_flatten(t: &mut Tracer, input: &SampleShape) -> SampleShape {
    t.op("flatten", "Flatten", input.flattened())
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
            Activation::Relu(_) => zoo_kernels::relu(x),
            Activation::Tanh(l) => l.forward(x),
        }
    }
}

impl crate::fuse::FoldBatchNorm for BasicConv2d {
    fn fold_batch_norm(&mut self) {
        self.bn.fold_into(&mut self.conv);
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

/// torchvision's `BasicConv2d` of GoogLeNet and Inception v3: a convolution without bias, then
/// BatchNorm (ε = 0.001, as those models were trained with) and ReLU. Keys: `conv.weight`,
/// `bn.weight`, `bn.bias`, `bn.running_mean`, `bn.running_var`.
#[derive(Module, Debug)]
pub struct BasicConv2d {
    /// The convolution (no bias: the BatchNorm's shift replaces it).
    pub conv: Conv2d,
    /// BatchNorm (folded into `conv` by [`crate::fuse`]).
    pub bn: Norm2d,
    /// ReLU.
    pub relu: Relu,
}

impl BasicConv2d {
    /// A `kernel` (`[height, width]`) convolution from `in_channels` to `out_channels` with the
    /// given stride and symmetric `padding` (`[rows, columns]`), weights drawn from
    /// `init` (torchvision draws them from a normal distribution truncated at ±2, with standard
    /// deviation 0.01 in GoogLeNet and 0.1 in Inception v3: a truncation 200 or 20 standard
    /// deviations out, which a plain normal matches).
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel: [usize; 2],
        stride: usize,
        padding: [usize; 2],
        init: Initializer,
        device: &Device,
    ) -> Self {
        let [pad_h, pad_w] = padding;
        Self {
            conv: Conv2dConfig::new([in_channels, out_channels], kernel)
                .with_stride([stride, stride])
                .with_padding(PaddingConfig2d::Explicit(pad_h, pad_w, pad_h, pad_w))
                .with_bias(false)
                .with_initializer(init)
                .init(device),
            bn: BatchNormConfig::new(out_channels).with_epsilon(1e-3).init(device).into(),
            relu: Relu::new(),
        }
    }

    /// Applies convolution, BatchNorm and ReLU.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        conv_bn_relu(&self.conv, &self.bn, x)
    }

    /// Traces the block stored in field `name`.
    pub fn trace(&self, t: &mut Tracer, name: &str, input: &SampleShape) -> Result<SampleShape, ShapeError> {
        t.scope(name, |t| {
            let x = t.layer("conv", &self.conv, input)?;
            let x = self.bn.trace(t, "bn", &x)?;
            t.layer("relu", &self.relu, &x)
        })
    }
}

/// Traces `torch.cat(branches, 1)` of branch outputs `[C_i, H, W]`: the channels add up, and
/// every branch must have the same spatial size. A unit of the result sees what the branches'
/// units see together.
pub fn trace_concat(t: &mut Tracer, branches: &[SampleShape]) -> Result<SampleShape, ShapeError> {
    let first: &[usize] = branches.first().map(|b| b.dims()).unwrap_or_default();
    if let Some(other) = branches.iter().find(|b| b.len() != 3 || b[1..] != first[1..]) {
        return Err(ShapeError::Vanished {
            layer: t.path("cat"),
            op: format!("Concat of {} and {} maps", format_shape(first), format_shape(other)),
            input: other.to_vec(),
        });
    }
    let channels = branches.iter().map(|b| b[0]).sum();
    let dims = vec![channels, first[1], first[2]];
    Ok(t.merge("cat", "Concat", &branches.iter().collect::<Vec<_>>(), dims))
}

/// Multiplies each input channel by `scale[c]` and adds `shift[c]`: torchvision's
/// `transform_input`, which maps images normalised with ImageNet's mean and standard deviation
/// to the `(x - 0.5) / 0.5` range the original GoogLeNet and Inception v3 weights were trained on.
pub fn transform_imagenet_input(x: Tensor<4>) -> Tensor<4> {
    let (scale, shift) = imagenet_transform();
    let device = x.device();
    let scale = Tensor::<1>::from_floats(scale, &device).reshape([1, 3, 1, 1]);
    let shift = Tensor::<1>::from_floats(shift, &device).reshape([1, 3, 1, 1]);
    x * scale + shift
}

/// The per-channel `(scale, shift)` of [`transform_imagenet_input`]: `x · std / 0.5 + (mean -
/// 0.5) / 0.5` with ImageNet's mean and standard deviation.
pub fn imagenet_transform() -> ([f32; 3], [f32; 3]) {
    const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
    const STD: [f32; 3] = [0.229, 0.224, 0.225];
    (STD.map(|s| s / 0.5), [0, 1, 2].map(|c| (MEAN[c] - 0.5) / 0.5))
}
