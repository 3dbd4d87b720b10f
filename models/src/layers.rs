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
use burn::nn::pool::{AdaptiveAvgPool2d, AvgPool2d, MaxPool2d};
use burn::nn::{BatchNorm, BatchNormConfig, Dropout, Identity, Initializer, Linear, PaddingConfig2d, Relu, Tanh};
use burn::tensor::{Device, Tensor};

use crate::summary::{SampleShape, ShapeError, TraceLayer, TraceStep, Tracer, format_shape};

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
            Layer2d::Conv(l) => conv_forward(l, x),
            Layer2d::BatchNorm(l) => zoo_kernels::batch_norm(l, x, None, false),
            Layer2d::Relu(_) => zoo_kernels::relu(x),
            Layer2d::Tanh(l) => l.forward(x),
            Layer2d::MaxPool(l) => pool_forward(l, x),
            Layer2d::AvgPool(l) => pool_forward(l, x),
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
                window: None,
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

/// `norm(conv(x))`: a convolution and the BatchNorm after it (`None` once folded by
/// [`crate::fuse`]); one fused kernel in inference on flex ([`zoo_kernels::conv_batch_norm`]).
pub fn conv_bn(conv: &Conv2d, norm: Option<&BatchNorm>, x: Tensor<4>) -> Tensor<4> {
    zoo_kernels::conv_batch_norm(conv, norm, x, None, false)
}

/// `relu(norm(conv(x)))`, one fused kernel in inference on flex.
pub fn conv_bn_relu(conv: &Conv2d, norm: Option<&BatchNorm>, x: Tensor<4>) -> Tensor<4> {
    zoo_kernels::conv_batch_norm(conv, norm, x, None, true)
}

/// `relu(norm(conv(x)) + residual)`, a residual block's ending, one fused kernel in inference
/// on flex.
pub fn conv_bn_add_relu(conv: &Conv2d, norm: Option<&BatchNorm>, x: Tensor<4>, residual: Tensor<4>) -> Tensor<4> {
    zoo_kernels::conv_batch_norm(conv, norm, x, Some(residual), true)
}

/// Applies a BatchNorm that may have been folded away (`None`) by [`crate::fuse`].
///
/// Training updates the running variance with the unbiased batch variance, as PyTorch does
/// ([`zoo_kernels::batch_norm`]).
pub fn batch_norm(norm: Option<&BatchNorm>, x: Tensor<4>) -> Tensor<4> {
    match norm {
        Some(norm) => zoo_kernels::batch_norm(norm, x, None, false),
        None => x,
    }
}

/// `relu(batch_norm(x))`, one fused op on flex.
pub fn batch_norm_relu(norm: Option<&BatchNorm>, x: Tensor<4>) -> Tensor<4> {
    match norm {
        Some(norm) => zoo_kernels::batch_norm(norm, x, None, true),
        None => zoo_kernels::relu(x),
    }
}

/// Traces a BatchNorm that may have been folded away: a folded one has no row.
pub fn trace_batch_norm(
    t: &mut Tracer,
    name: &str,
    norm: &Option<BatchNorm>,
    input: &SampleShape,
) -> Result<SampleShape, ShapeError> {
    match norm {
        Some(norm) => t.layer(name, norm, input),
        None => Ok(input.clone()),
    }
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
        crate::fuse::fold_into(&mut self.conv, &mut self.bn);
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
    /// BatchNorm (`None` once folded into `conv` by [`crate::fuse`]).
    pub bn: Option<BatchNorm>,
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
            bn: Some(BatchNormConfig::new(out_channels).with_epsilon(1e-3).init(device)),
            relu: Relu::new(),
        }
    }

    /// Applies convolution, BatchNorm and ReLU.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        conv_bn_relu(&self.conv, self.bn.as_ref(), x)
    }

    /// Traces the block stored in field `name`.
    pub fn trace(&self, t: &mut Tracer, name: &str, input: &SampleShape) -> Result<SampleShape, ShapeError> {
        t.scope(name, |t| {
            let x = t.layer("conv", &self.conv, input)?;
            let x = trace_batch_norm(t, "bn", &self.bn, &x)?;
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
    const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
    const STD: [f32; 3] = [0.229, 0.224, 0.225];
    let device = x.device();
    let scale = Tensor::<1>::from_floats(STD.map(|s| s / 0.5), &device).reshape([1, 3, 1, 1]);
    let shift = Tensor::<1>::from_floats([0, 1, 2].map(|c| (MEAN[c] - 0.5) / 0.5), &device).reshape([1, 3, 1, 1]);
    x * scale + shift
}
