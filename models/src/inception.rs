//! Inception v3 (Szegedy et al., "Rethinking the Inception Architecture for Computer Vision",
//! 2015) in torchvision's layout and names (`Conv2d_1a_3x3`, `Mixed_5b`, `AuxLogits`, ...).
//!
//! Five module types: InceptionA (35x35: 1x1, 5x5, double 3x3, pool), InceptionB (35 → 17
//! grid reduction), InceptionC (17x17 with 7x7 convolutions factorised into 1x7 and 7x1),
//! InceptionD (17 → 8 reduction) and InceptionE (8x8, whose 3x3s fan out into parallel 1x3 and
//! 3x1). The auxiliary classifier on `Mixed_6e` is built by default, as in torchvision; it runs in
//! [`ImageClassifier::forward_train`] and its loss is weighed by [`AUX_LOSS_WEIGHT`].
//!
//! The default input is 3x299x299. Without the auxiliary classifier the network takes inputs down
//! to 75x75; the classifier needs the full 299x299, since its 5x5 convolution follows a 5x5/3
//! pool of `Mixed_6e`'s 17x17 map.

// Field names are torchvision's state-dict keys (`Conv2d_1a_3x3`, `Mixed_5b`, `AuxLogits`).
#![allow(non_snake_case)]

use burn::config::Config;
use burn::module::Module;
use burn::nn::pool::{
    AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, AvgPool2d, AvgPool2dConfig, MaxPool2d, MaxPool2dConfig,
};
use burn::nn::{Dropout, DropoutConfig, Initializer, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::{Device, Tensor};

use crate::fuse::FoldBatchNorm;
use crate::layers::{BasicConv2d, flatten, pool_forward, trace_concat, trace_flatten, transform_imagenet_input};
use crate::model::{AuxLogits, ImageClassifier, StageFlow, Stages, TrainingOutput, flow_value, forward_with_aux};
use crate::registry::{INCEPTION, ModelInfo, Resolved, ZooModel, entry, with_aux};
use crate::summary::{SampleShape, ShapeError, Tracer};

/// Weight of the auxiliary classifier's loss (torchvision's reference recipe for Inception v3).
pub const AUX_LOSS_WEIGHT: f64 = 0.4;

/// A `BasicConv2d` with torchvision's Inception v3 initialisation (normal, std 0.1, or 0.001 for
/// the auxiliary head's 5x5 convolution).
fn conv(
    in_channels: usize,
    out_channels: usize,
    kernel: [usize; 2],
    stride: usize,
    padding: [usize; 2],
    d: &Device,
) -> BasicConv2d {
    BasicConv2d::new(in_channels, out_channels, kernel, stride, padding, Initializer::Normal { mean: 0.0, std: 0.1 }, d)
}

fn conv1x1(in_channels: usize, out_channels: usize, d: &Device) -> BasicConv2d {
    conv(in_channels, out_channels, [1, 1], 1, [0, 0], d)
}

/// 3x3 with padding 1 (`pad`) or none, and the given stride.
fn conv3x3(in_channels: usize, out_channels: usize, stride: usize, pad: usize, d: &Device) -> BasicConv2d {
    conv(in_channels, out_channels, [3, 3], stride, [pad, pad], d)
}

/// 1xk (`wide`) or kx1 convolution, padded to keep the size.
fn conv_line(in_channels: usize, out_channels: usize, k: usize, wide: bool, d: &Device) -> BasicConv2d {
    let (kernel, padding) = if wide { ([1, k], [0, k / 2]) } else { ([k, 1], [k / 2, 0]) };
    conv(in_channels, out_channels, kernel, 1, padding, d)
}

/// `F.avg_pool2d(x, 3, stride=1, padding=1)`: the pool branch of A, C and E (padding counted, as
/// in PyTorch's default).
fn pool_3x3_same() -> AvgPool2d {
    AvgPool2dConfig::new([3, 3])
        .with_strides([1, 1])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .with_count_include_pad(true)
        .init()
}

/// `max_pool2d(3, stride=2)`.
fn max_pool_3x3_s2() -> MaxPool2d {
    MaxPool2dConfig::new([3, 3]).with_strides([2, 2]).init()
}

fn run(convs: &[&BasicConv2d], x: Tensor<4>) -> Tensor<4> {
    convs.iter().fold(x, |x, c| c.forward(x))
}

fn trace_run(t: &mut Tracer, convs: &[(&str, &BasicConv2d)], input: &SampleShape) -> Result<SampleShape, ShapeError> {
    let mut x = input.clone();
    for (name, c) in convs {
        x = c.trace(t, name, &x)?;
    }
    Ok(x)
}

/// 35x35 module: 1x1 (64), 1x1 → 5x5 (64), 1x1 → 3x3 → 3x3 (96), 3x3 avg pool → 1x1.
#[derive(Module, Debug)]
#[allow(missing_docs)]
pub struct InceptionA {
    pub branch1x1: BasicConv2d,
    pub branch5x5_1: BasicConv2d,
    pub branch5x5_2: BasicConv2d,
    pub branch3x3dbl_1: BasicConv2d,
    pub branch3x3dbl_2: BasicConv2d,
    pub branch3x3dbl_3: BasicConv2d,
    pub pool: AvgPool2d,
    pub branch_pool: BasicConv2d,
}

impl InceptionA {
    /// `in_channels` to 224 + `pool_features` channels.
    pub fn new(in_channels: usize, pool_features: usize, d: &Device) -> Self {
        Self {
            branch1x1: conv1x1(in_channels, 64, d),
            branch5x5_1: conv1x1(in_channels, 48, d),
            branch5x5_2: conv(48, 64, [5, 5], 1, [2, 2], d),
            branch3x3dbl_1: conv1x1(in_channels, 64, d),
            branch3x3dbl_2: conv3x3(64, 96, 1, 1, d),
            branch3x3dbl_3: conv3x3(96, 96, 1, 1, d),
            pool: pool_3x3_same(),
            branch_pool: conv1x1(in_channels, pool_features, d),
        }
    }

    /// Applies the module.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        Tensor::cat(
            vec![
                self.branch1x1.forward(x.clone()),
                run(&[&self.branch5x5_1, &self.branch5x5_2], x.clone()),
                run(&[&self.branch3x3dbl_1, &self.branch3x3dbl_2, &self.branch3x3dbl_3], x.clone()),
                self.branch_pool.forward(pool_forward(&self.pool, x)),
            ],
            1,
        )
    }

    fn trace(&self, t: &mut Tracer, x: &SampleShape) -> Result<SampleShape, ShapeError> {
        let b1 = self.branch1x1.trace(t, "branch1x1", x)?;
        let b5 = trace_run(t, &[("branch5x5_1", &self.branch5x5_1), ("branch5x5_2", &self.branch5x5_2)], x)?;
        let b3 = trace_run(
            t,
            &[
                ("branch3x3dbl_1", &self.branch3x3dbl_1),
                ("branch3x3dbl_2", &self.branch3x3dbl_2),
                ("branch3x3dbl_3", &self.branch3x3dbl_3),
            ],
            x,
        )?;
        let pooled = t.layer("pool", &self.pool, x)?;
        let bp = self.branch_pool.trace(t, "branch_pool", &pooled)?;
        trace_concat(t, &[b1, b5, b3, bp])
    }
}

/// Grid reduction 35 → 17: 3x3/2 (384), 1x1 → 3x3 → 3x3/2 (96), 3x3/2 max pool.
#[derive(Module, Debug)]
#[allow(missing_docs)]
pub struct InceptionB {
    pub branch3x3: BasicConv2d,
    pub branch3x3dbl_1: BasicConv2d,
    pub branch3x3dbl_2: BasicConv2d,
    pub branch3x3dbl_3: BasicConv2d,
    pub pool: MaxPool2d,
}

impl InceptionB {
    /// `in_channels` to `in_channels` + 480 channels at half the size.
    pub fn new(in_channels: usize, d: &Device) -> Self {
        Self {
            branch3x3: conv3x3(in_channels, 384, 2, 0, d),
            branch3x3dbl_1: conv1x1(in_channels, 64, d),
            branch3x3dbl_2: conv3x3(64, 96, 1, 1, d),
            branch3x3dbl_3: conv3x3(96, 96, 2, 0, d),
            pool: max_pool_3x3_s2(),
        }
    }

    /// Applies the module.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        Tensor::cat(
            vec![
                self.branch3x3.forward(x.clone()),
                run(&[&self.branch3x3dbl_1, &self.branch3x3dbl_2, &self.branch3x3dbl_3], x.clone()),
                pool_forward(&self.pool, x),
            ],
            1,
        )
    }

    fn trace(&self, t: &mut Tracer, x: &SampleShape) -> Result<SampleShape, ShapeError> {
        let b3 = self.branch3x3.trace(t, "branch3x3", x)?;
        let bd = trace_run(
            t,
            &[
                ("branch3x3dbl_1", &self.branch3x3dbl_1),
                ("branch3x3dbl_2", &self.branch3x3dbl_2),
                ("branch3x3dbl_3", &self.branch3x3dbl_3),
            ],
            x,
        )?;
        let bp = t.layer("pool", &self.pool, x)?;
        trace_concat(t, &[b3, bd, bp])
    }
}

/// 17x17 module with factorised 7x7s: 1x1 (192), 1x1 → 1x7 → 7x1 (192), 1x1 → 7x1 → 1x7 → 7x1 →
/// 1x7 (192), 3x3 avg pool → 1x1 (192).
#[derive(Module, Debug)]
#[allow(missing_docs)]
pub struct InceptionC {
    pub branch1x1: BasicConv2d,
    pub branch7x7_1: BasicConv2d,
    pub branch7x7_2: BasicConv2d,
    pub branch7x7_3: BasicConv2d,
    pub branch7x7dbl_1: BasicConv2d,
    pub branch7x7dbl_2: BasicConv2d,
    pub branch7x7dbl_3: BasicConv2d,
    pub branch7x7dbl_4: BasicConv2d,
    pub branch7x7dbl_5: BasicConv2d,
    pub pool: AvgPool2d,
    pub branch_pool: BasicConv2d,
}

impl InceptionC {
    /// `in_channels` to 768 channels, with `c7` channels inside the 7x7 branches.
    pub fn new(in_channels: usize, c7: usize, d: &Device) -> Self {
        Self {
            branch1x1: conv1x1(in_channels, 192, d),
            branch7x7_1: conv1x1(in_channels, c7, d),
            branch7x7_2: conv_line(c7, c7, 7, true, d),
            branch7x7_3: conv_line(c7, 192, 7, false, d),
            branch7x7dbl_1: conv1x1(in_channels, c7, d),
            branch7x7dbl_2: conv_line(c7, c7, 7, false, d),
            branch7x7dbl_3: conv_line(c7, c7, 7, true, d),
            branch7x7dbl_4: conv_line(c7, c7, 7, false, d),
            branch7x7dbl_5: conv_line(c7, 192, 7, true, d),
            pool: pool_3x3_same(),
            branch_pool: conv1x1(in_channels, 192, d),
        }
    }

    fn seven(&self) -> [(&'static str, &BasicConv2d); 3] {
        [("branch7x7_1", &self.branch7x7_1), ("branch7x7_2", &self.branch7x7_2), ("branch7x7_3", &self.branch7x7_3)]
    }

    fn seven_dbl(&self) -> [(&'static str, &BasicConv2d); 5] {
        [
            ("branch7x7dbl_1", &self.branch7x7dbl_1),
            ("branch7x7dbl_2", &self.branch7x7dbl_2),
            ("branch7x7dbl_3", &self.branch7x7dbl_3),
            ("branch7x7dbl_4", &self.branch7x7dbl_4),
            ("branch7x7dbl_5", &self.branch7x7dbl_5),
        ]
    }

    /// Applies the module.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        Tensor::cat(
            vec![
                self.branch1x1.forward(x.clone()),
                run(&self.seven().map(|(_, c)| c), x.clone()),
                run(&self.seven_dbl().map(|(_, c)| c), x.clone()),
                self.branch_pool.forward(pool_forward(&self.pool, x)),
            ],
            1,
        )
    }

    fn trace(&self, t: &mut Tracer, x: &SampleShape) -> Result<SampleShape, ShapeError> {
        let b1 = self.branch1x1.trace(t, "branch1x1", x)?;
        let b7 = trace_run(t, &self.seven(), x)?;
        let bd = trace_run(t, &self.seven_dbl(), x)?;
        let pooled = t.layer("pool", &self.pool, x)?;
        let bp = self.branch_pool.trace(t, "branch_pool", &pooled)?;
        trace_concat(t, &[b1, b7, bd, bp])
    }
}

/// Grid reduction 17 → 8: 1x1 → 3x3/2 (320), 1x1 → 1x7 → 7x1 → 3x3/2 (192), 3x3/2 max pool.
#[derive(Module, Debug)]
#[allow(missing_docs)]
pub struct InceptionD {
    pub branch3x3_1: BasicConv2d,
    pub branch3x3_2: BasicConv2d,
    pub branch7x7x3_1: BasicConv2d,
    pub branch7x7x3_2: BasicConv2d,
    pub branch7x7x3_3: BasicConv2d,
    pub branch7x7x3_4: BasicConv2d,
    pub pool: MaxPool2d,
}

impl InceptionD {
    /// `in_channels` to `in_channels` + 512 channels at half the size.
    pub fn new(in_channels: usize, d: &Device) -> Self {
        Self {
            branch3x3_1: conv1x1(in_channels, 192, d),
            branch3x3_2: conv3x3(192, 320, 2, 0, d),
            branch7x7x3_1: conv1x1(in_channels, 192, d),
            branch7x7x3_2: conv_line(192, 192, 7, true, d),
            branch7x7x3_3: conv_line(192, 192, 7, false, d),
            branch7x7x3_4: conv3x3(192, 192, 2, 0, d),
            pool: max_pool_3x3_s2(),
        }
    }

    fn seven(&self) -> [(&'static str, &BasicConv2d); 4] {
        [
            ("branch7x7x3_1", &self.branch7x7x3_1),
            ("branch7x7x3_2", &self.branch7x7x3_2),
            ("branch7x7x3_3", &self.branch7x7x3_3),
            ("branch7x7x3_4", &self.branch7x7x3_4),
        ]
    }

    /// Applies the module.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        Tensor::cat(
            vec![
                run(&[&self.branch3x3_1, &self.branch3x3_2], x.clone()),
                run(&self.seven().map(|(_, c)| c), x.clone()),
                pool_forward(&self.pool, x),
            ],
            1,
        )
    }

    fn trace(&self, t: &mut Tracer, x: &SampleShape) -> Result<SampleShape, ShapeError> {
        let b3 = trace_run(t, &[("branch3x3_1", &self.branch3x3_1), ("branch3x3_2", &self.branch3x3_2)], x)?;
        let b7 = trace_run(t, &self.seven(), x)?;
        let bp = t.layer("pool", &self.pool, x)?;
        trace_concat(t, &[b3, b7, bp])
    }
}

/// 8x8 module with expanded filter banks: 1x1 (320); 1x1 → (1x3 ‖ 3x1) (768); 1x1 → 3x3 →
/// (1x3 ‖ 3x1) (768); 3x3 avg pool → 1x1 (192).
#[derive(Module, Debug)]
#[allow(missing_docs)]
pub struct InceptionE {
    pub branch1x1: BasicConv2d,
    pub branch3x3_1: BasicConv2d,
    pub branch3x3_2a: BasicConv2d,
    pub branch3x3_2b: BasicConv2d,
    pub branch3x3dbl_1: BasicConv2d,
    pub branch3x3dbl_2: BasicConv2d,
    pub branch3x3dbl_3a: BasicConv2d,
    pub branch3x3dbl_3b: BasicConv2d,
    pub pool: AvgPool2d,
    pub branch_pool: BasicConv2d,
}

impl InceptionE {
    /// `in_channels` to 2048 channels.
    pub fn new(in_channels: usize, d: &Device) -> Self {
        Self {
            branch1x1: conv1x1(in_channels, 320, d),
            branch3x3_1: conv1x1(in_channels, 384, d),
            branch3x3_2a: conv_line(384, 384, 3, true, d),
            branch3x3_2b: conv_line(384, 384, 3, false, d),
            branch3x3dbl_1: conv1x1(in_channels, 448, d),
            branch3x3dbl_2: conv3x3(448, 384, 1, 1, d),
            branch3x3dbl_3a: conv_line(384, 384, 3, true, d),
            branch3x3dbl_3b: conv_line(384, 384, 3, false, d),
            pool: pool_3x3_same(),
            branch_pool: conv1x1(in_channels, 192, d),
        }
    }

    /// Applies the module.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let fan_out =
            |a: &BasicConv2d, b: &BasicConv2d, x: Tensor<4>| Tensor::cat(vec![a.forward(x.clone()), b.forward(x)], 1);
        let b3 = self.branch3x3_1.forward(x.clone());
        let bd = run(&[&self.branch3x3dbl_1, &self.branch3x3dbl_2], x.clone());
        Tensor::cat(
            vec![
                self.branch1x1.forward(x.clone()),
                fan_out(&self.branch3x3_2a, &self.branch3x3_2b, b3),
                fan_out(&self.branch3x3dbl_3a, &self.branch3x3dbl_3b, bd),
                self.branch_pool.forward(pool_forward(&self.pool, x)),
            ],
            1,
        )
    }

    fn trace(&self, t: &mut Tracer, x: &SampleShape) -> Result<SampleShape, ShapeError> {
        let b1 = self.branch1x1.trace(t, "branch1x1", x)?;
        let mid = self.branch3x3_1.trace(t, "branch3x3_1", x)?;
        let a = self.branch3x3_2a.trace(t, "branch3x3_2a", &mid)?;
        let b = self.branch3x3_2b.trace(t, "branch3x3_2b", &mid)?;
        let b3 = a.with_dims(vec![a[0] + b[0], a[1], a[2]]).with_field(a.field().union(&b.field()));
        let mid =
            trace_run(t, &[("branch3x3dbl_1", &self.branch3x3dbl_1), ("branch3x3dbl_2", &self.branch3x3dbl_2)], x)?;
        let a = self.branch3x3dbl_3a.trace(t, "branch3x3dbl_3a", &mid)?;
        let b = self.branch3x3dbl_3b.trace(t, "branch3x3dbl_3b", &mid)?;
        let bd = a.with_dims(vec![a[0] + b[0], a[1], a[2]]).with_field(a.field().union(&b.field()));
        let pooled = t.layer("pool", &self.pool, x)?;
        let bp = self.branch_pool.trace(t, "branch_pool", &pooled)?;
        trace_concat(t, &[b1, b3, bd, bp])
    }
}

/// The auxiliary classifier on `Mixed_6e`: 5x5/3 average pool, 1x1 conv (128), 5x5 conv (768),
/// global average pool, `fc`.
#[derive(Module, Debug)]
pub struct InceptionAux {
    /// 5x5/3 average pool.
    pub pool: AvgPool2d,
    /// 1x1 convolution to 128 channels.
    pub conv0: BasicConv2d,
    /// 5x5 convolution to 768 channels.
    pub conv1: BasicConv2d,
    /// Global average pool.
    pub avgpool: AdaptiveAvgPool2d,
    /// 768 → classes.
    pub fc: Linear,
}

impl InceptionAux {
    /// A head on an `in_channels` feature map.
    pub fn new(in_channels: usize, num_classes: usize, d: &Device) -> Self {
        let narrow = Initializer::Normal { mean: 0.0, std: 0.01 };
        Self {
            pool: AvgPool2dConfig::new([5, 5]).with_strides([3, 3]).init(),
            conv0: conv1x1(in_channels, 128, d),
            conv1: BasicConv2d::new(128, 768, [5, 5], 1, [0, 0], narrow.clone(), d),
            avgpool: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            fc: LinearConfig::new(768, num_classes)
                .with_initializer(Initializer::Normal { mean: 0.0, std: 0.001 })
                .init(d),
        }
    }

    /// Logits from a feature map.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x = self.conv1.forward(self.conv0.forward(pool_forward(&self.pool, x)));
        self.fc.forward(flatten(pool_forward(&self.avgpool, x)))
    }

    fn trace(&self, t: &mut Tracer, input: &SampleShape) -> Result<SampleShape, ShapeError> {
        let x = t.layer("pool", &self.pool, input)?;
        let x = self.conv0.trace(t, "conv0", &x)?;
        let x = self.conv1.trace(t, "conv1", &x)?;
        let x = t.layer("avgpool", &self.avgpool, &x)?;
        let x = trace_flatten(t, &x);
        t.layer("fc", &self.fc, &x)
    }
}

/// Configuration of [`Inception3`].
///
/// ```
/// use burn::tensor::Device;
/// use zoo_models::inception::Inception3Config;
/// use zoo_models::trainable_params;
/// let device = Device::flex();
/// assert_eq!(trainable_params(&Inception3Config::new().init(&device)), 27_161_264);
/// assert_eq!(trainable_params(&Inception3Config::new().with_aux_logits(false).init(&device)), 23_834_568);
/// ```
#[derive(Config, Debug)]
pub struct Inception3Config {
    /// Number of output classes.
    #[config(default = 1000)]
    pub num_classes: usize,
    /// Build the auxiliary classifier (used only by `forward_train`).
    #[config(default = true)]
    pub aux_logits: bool,
    /// Map ImageNet-normalised input to the `(x - 0.5) / 0.5` range of the original weights
    /// (torchvision's `transform_input`; on for its pretrained weights). Needs 3 channels.
    #[config(default = false)]
    pub transform_input: bool,
    /// Dropout before `fc`.
    #[config(default = 0.5)]
    pub dropout: f64,
    /// Channels of the input image.
    #[config(default = 3)]
    pub in_channels: usize,
}

impl Inception3Config {
    /// Builds the network on `device`.
    pub fn init(&self, d: &Device) -> Inception3 {
        Inception3 {
            transform_input: self.transform_input,
            Conv2d_1a_3x3: conv3x3(self.in_channels, 32, 2, 0, d),
            Conv2d_2a_3x3: conv3x3(32, 32, 1, 0, d),
            Conv2d_2b_3x3: conv3x3(32, 64, 1, 1, d),
            maxpool1: max_pool_3x3_s2(),
            Conv2d_3b_1x1: conv1x1(64, 80, d),
            Conv2d_4a_3x3: conv3x3(80, 192, 1, 0, d),
            maxpool2: max_pool_3x3_s2(),
            Mixed_5b: InceptionA::new(192, 32, d),
            Mixed_5c: InceptionA::new(256, 64, d),
            Mixed_5d: InceptionA::new(288, 64, d),
            Mixed_6a: InceptionB::new(288, d),
            Mixed_6b: InceptionC::new(768, 128, d),
            Mixed_6c: InceptionC::new(768, 160, d),
            Mixed_6d: InceptionC::new(768, 160, d),
            Mixed_6e: InceptionC::new(768, 192, d),
            AuxLogits: self.aux_logits.then(|| InceptionAux::new(768, self.num_classes, d)),
            Mixed_7a: InceptionD::new(768, d),
            Mixed_7b: InceptionE::new(1280, d),
            Mixed_7c: InceptionE::new(2048, d),
            avgpool: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            dropout: DropoutConfig::new(self.dropout).init(),
            fc: LinearConfig::new(2048, self.num_classes)
                .with_initializer(Initializer::Normal { mean: 0.0, std: 0.1 })
                .init(d),
        }
    }
}

/// torchvision's `Inception3`. Field names are its state-dict keys.
#[derive(Module, Debug)]
#[allow(missing_docs)]
pub struct Inception3 {
    /// Whether the input is re-normalised first (see [`Inception3Config::transform_input`]).
    #[module(skip)]
    pub transform_input: bool,
    pub Conv2d_1a_3x3: BasicConv2d,
    pub Conv2d_2a_3x3: BasicConv2d,
    pub Conv2d_2b_3x3: BasicConv2d,
    pub maxpool1: MaxPool2d,
    pub Conv2d_3b_1x1: BasicConv2d,
    pub Conv2d_4a_3x3: BasicConv2d,
    pub maxpool2: MaxPool2d,
    pub Mixed_5b: InceptionA,
    pub Mixed_5c: InceptionA,
    pub Mixed_5d: InceptionA,
    pub Mixed_6a: InceptionB,
    pub Mixed_6b: InceptionC,
    pub Mixed_6c: InceptionC,
    pub Mixed_6d: InceptionC,
    pub Mixed_6e: InceptionC,
    /// The auxiliary classifier (with `aux_logits`).
    pub AuxLogits: Option<InceptionAux>,
    pub Mixed_7a: InceptionD,
    pub Mixed_7b: InceptionE,
    pub Mixed_7c: InceptionE,
    pub avgpool: AdaptiveAvgPool2d,
    pub dropout: Dropout,
    pub fc: Linear,
}

impl Inception3 {
    fn body(&self, x: Tensor<4>, stages: &mut Stages, aux: Option<&mut Vec<AuxLogits>>) -> StageFlow {
        let x = if self.transform_input { transform_imagenet_input(x) } else { x };
        let x = run(&[&self.Conv2d_1a_3x3, &self.Conv2d_2a_3x3, &self.Conv2d_2b_3x3], x);
        let x = stages.end("Conv2d_2b_3x3", x)?;
        let x = run(&[&self.Conv2d_3b_1x1, &self.Conv2d_4a_3x3], pool_forward(&self.maxpool1, x));
        let x = stages.end("Conv2d_4a_3x3", x)?;
        let x = pool_forward(&self.maxpool2, x);
        let x = self.Mixed_5d.forward(self.Mixed_5c.forward(self.Mixed_5b.forward(x)));
        let x = stages.end("Mixed_5d", x)?;
        let x = self.Mixed_6a.forward(x);
        let x = [&self.Mixed_6b, &self.Mixed_6c, &self.Mixed_6d, &self.Mixed_6e].iter().fold(x, |x, m| m.forward(x));
        let x = stages.end("Mixed_6e", x)?;
        if let (Some(out), Some(head)) = (aux, &self.AuxLogits) {
            out.push(AuxLogits { name: "AuxLogits", logits: head.forward(x.clone()), loss_weight: AUX_LOSS_WEIGHT });
        }
        let x = self.Mixed_7c.forward(self.Mixed_7b.forward(self.Mixed_7a.forward(x)));
        stages.end("Mixed_7c", x)
    }
}

/// ONNX export of the blocks: each branch a chain of `BasicConv2d`s (or a pool), concatenated.
#[cfg(feature = "onnx")]
mod onnx_export {
    use super::*;
    use crate::onnx::{ExportOnnx, OnnxError, OnnxGraph, Value};

    fn chain(g: &mut OnnxGraph, path: &str, convs: &[(&str, &BasicConv2d)], x: &Value) -> Result<Value, OnnxError> {
        let at = |name: &str| if path.is_empty() { name.to_string() } else { format!("{path}.{name}") };
        convs.iter().try_fold(x.clone(), |x, (name, c)| g.basic_conv(&at(name), c, &x))
    }

    fn pooled(
        g: &mut OnnxGraph,
        path: &str,
        pool: &AvgPool2d,
        conv: &BasicConv2d,
        x: &Value,
    ) -> Result<Value, OnnxError> {
        let x = g.avg_pool(&format!("{path}.pool"), pool, x)?;
        g.basic_conv(&format!("{path}.branch_pool"), conv, &x)
    }

    impl InceptionA {
        fn export_onnx(&self, g: &mut OnnxGraph, path: &str, x: &Value) -> Result<Value, OnnxError> {
            let branches = [
                chain(g, path, &[("branch1x1", &self.branch1x1)], x)?,
                chain(g, path, &[("branch5x5_1", &self.branch5x5_1), ("branch5x5_2", &self.branch5x5_2)], x)?,
                chain(
                    g,
                    path,
                    &[
                        ("branch3x3dbl_1", &self.branch3x3dbl_1),
                        ("branch3x3dbl_2", &self.branch3x3dbl_2),
                        ("branch3x3dbl_3", &self.branch3x3dbl_3),
                    ],
                    x,
                )?,
                pooled(g, path, &self.pool, &self.branch_pool, x)?,
            ];
            Ok(g.concat(&format!("{path}.cat"), &branches))
        }
    }

    impl InceptionB {
        fn export_onnx(&self, g: &mut OnnxGraph, path: &str, x: &Value) -> Result<Value, OnnxError> {
            let branches = [
                chain(g, path, &[("branch3x3", &self.branch3x3)], x)?,
                chain(
                    g,
                    path,
                    &[
                        ("branch3x3dbl_1", &self.branch3x3dbl_1),
                        ("branch3x3dbl_2", &self.branch3x3dbl_2),
                        ("branch3x3dbl_3", &self.branch3x3dbl_3),
                    ],
                    x,
                )?,
                g.max_pool(&format!("{path}.pool"), &self.pool, x)?,
            ];
            Ok(g.concat(&format!("{path}.cat"), &branches))
        }
    }

    impl InceptionC {
        fn export_onnx(&self, g: &mut OnnxGraph, path: &str, x: &Value) -> Result<Value, OnnxError> {
            let branches = [
                chain(g, path, &[("branch1x1", &self.branch1x1)], x)?,
                chain(g, path, &self.seven(), x)?,
                chain(g, path, &self.seven_dbl(), x)?,
                pooled(g, path, &self.pool, &self.branch_pool, x)?,
            ];
            Ok(g.concat(&format!("{path}.cat"), &branches))
        }
    }

    impl InceptionD {
        fn export_onnx(&self, g: &mut OnnxGraph, path: &str, x: &Value) -> Result<Value, OnnxError> {
            let branches = [
                chain(g, path, &[("branch3x3_1", &self.branch3x3_1), ("branch3x3_2", &self.branch3x3_2)], x)?,
                chain(g, path, &self.seven(), x)?,
                g.max_pool(&format!("{path}.pool"), &self.pool, x)?,
            ];
            Ok(g.concat(&format!("{path}.cat"), &branches))
        }
    }

    impl InceptionE {
        fn export_onnx(&self, g: &mut OnnxGraph, path: &str, x: &Value) -> Result<Value, OnnxError> {
            let fan_out = |g: &mut OnnxGraph, a: (&str, &BasicConv2d), b: (&str, &BasicConv2d), x: &Value| {
                let branches = [chain(g, path, &[a], x)?, chain(g, path, &[b], x)?];
                Ok::<_, OnnxError>(g.concat(&format!("{path}.{}.cat", a.0), &branches))
            };
            let b3 = chain(g, path, &[("branch3x3_1", &self.branch3x3_1)], x)?;
            let bd = chain(
                g,
                path,
                &[("branch3x3dbl_1", &self.branch3x3dbl_1), ("branch3x3dbl_2", &self.branch3x3dbl_2)],
                x,
            )?;
            let branches = [
                chain(g, path, &[("branch1x1", &self.branch1x1)], x)?,
                fan_out(g, ("branch3x3_2a", &self.branch3x3_2a), ("branch3x3_2b", &self.branch3x3_2b), &b3)?,
                fan_out(
                    g,
                    ("branch3x3dbl_3a", &self.branch3x3dbl_3a),
                    ("branch3x3dbl_3b", &self.branch3x3dbl_3b),
                    &bd,
                )?,
                pooled(g, path, &self.pool, &self.branch_pool, x)?,
            ];
            Ok(g.concat(&format!("{path}.cat"), &branches))
        }
    }

    impl InceptionAux {
        fn export_onnx(&self, g: &mut OnnxGraph, path: &str, x: &Value) -> Result<Value, OnnxError> {
            let x = g.avg_pool(&format!("{path}.pool"), &self.pool, x)?;
            let x = chain(g, path, &[("conv0", &self.conv0), ("conv1", &self.conv1)], &x)?;
            let x = g.adaptive_avg_pool(&format!("{path}.avgpool"), &self.avgpool, &x)?;
            let x = g.flatten(&format!("{path}.flatten"), &x);
            g.linear(&format!("{path}.fc"), &self.fc, &x)
        }
    }

    impl ExportOnnx for Inception3 {
        fn export_onnx(&self, g: &mut OnnxGraph, x: &Value, aux: bool) -> Result<Vec<Value>, OnnxError> {
            let x = if self.transform_input { g.transform_imagenet_input(x) } else { x.clone() };
            let stem = [
                ("Conv2d_1a_3x3", &self.Conv2d_1a_3x3),
                ("Conv2d_2a_3x3", &self.Conv2d_2a_3x3),
                ("Conv2d_2b_3x3", &self.Conv2d_2b_3x3),
            ];
            let x = chain(g, "", &stem, &x)?;
            let x = g.max_pool("maxpool1", &self.maxpool1, &x)?;
            let x =
                chain(g, "", &[("Conv2d_3b_1x1", &self.Conv2d_3b_1x1), ("Conv2d_4a_3x3", &self.Conv2d_4a_3x3)], &x)?;
            let x = g.max_pool("maxpool2", &self.maxpool2, &x)?;
            let x = self.Mixed_5b.export_onnx(g, "Mixed_5b", &x)?;
            let x = self.Mixed_5c.export_onnx(g, "Mixed_5c", &x)?;
            let x = self.Mixed_5d.export_onnx(g, "Mixed_5d", &x)?;
            let x = self.Mixed_6a.export_onnx(g, "Mixed_6a", &x)?;
            let x = self.Mixed_6b.export_onnx(g, "Mixed_6b", &x)?;
            let x = self.Mixed_6c.export_onnx(g, "Mixed_6c", &x)?;
            let x = self.Mixed_6d.export_onnx(g, "Mixed_6d", &x)?;
            let x = self.Mixed_6e.export_onnx(g, "Mixed_6e", &x)?;
            let head = match (aux, &self.AuxLogits) {
                (true, Some(head)) => Some(head.export_onnx(g, "AuxLogits", &x)?),
                _ => None,
            };
            let x = self.Mixed_7a.export_onnx(g, "Mixed_7a", &x)?;
            let x = self.Mixed_7b.export_onnx(g, "Mixed_7b", &x)?;
            let x = self.Mixed_7c.export_onnx(g, "Mixed_7c", &x)?;
            let x = g.adaptive_avg_pool("avgpool", &self.avgpool, &x)?;
            let x = g.flatten("flatten", &x);
            let logits = g.linear("fc", &self.fc, &x)?;
            Ok(std::iter::once(logits).chain(head).collect())
        }
    }
}

impl crate::CheckpointNames for Inception3 {
    fn optional_heads(&self) -> &'static [&'static str] {
        &["AuxLogits."]
    }
}

impl ImageClassifier for Inception3 {
    /// Stages: `Conv2d_2b_3x3` (stride 2), `Conv2d_4a_3x3` (4), `Mixed_5d` (8), `Mixed_6e` (16),
    /// `Mixed_7c` (32).
    fn run_body(&self, x: Tensor<4>, stages: &mut Stages) -> StageFlow {
        self.body(x, stages, None)
    }

    fn forward_head(&self, features: Tensor<4>) -> Tensor<2> {
        self.fc.forward(flatten(self.dropout.forward(pool_forward(&self.avgpool, features))))
    }

    fn forward_train(&self, x: Tensor<4>) -> TrainingOutput {
        forward_with_aux(self, |aux| flow_value(self.body(x, &mut Stages::all(&mut |_, x| x), Some(aux))))
    }

    fn trace(&self, t: &mut Tracer, input: &SampleShape) -> Result<SampleShape, ShapeError> {
        if self.transform_input {
            t.op("transform_input", "TransformInput", input.clone());
        }
        let mut x = trace_run(
            t,
            &[
                ("Conv2d_1a_3x3", &self.Conv2d_1a_3x3),
                ("Conv2d_2a_3x3", &self.Conv2d_2a_3x3),
                ("Conv2d_2b_3x3", &self.Conv2d_2b_3x3),
            ],
            input,
        )?;
        x = t.layer("maxpool1", &self.maxpool1, &x)?;
        x = trace_run(t, &[("Conv2d_3b_1x1", &self.Conv2d_3b_1x1), ("Conv2d_4a_3x3", &self.Conv2d_4a_3x3)], &x)?;
        x = t.layer("maxpool2", &self.maxpool2, &x)?;
        for (name, m) in [("Mixed_5b", &self.Mixed_5b), ("Mixed_5c", &self.Mixed_5c), ("Mixed_5d", &self.Mixed_5d)] {
            x = t.scope(name, |t| m.trace(t, &x))?;
        }
        x = t.scope("Mixed_6a", |t| self.Mixed_6a.trace(t, &x))?;
        for (name, m) in [
            ("Mixed_6b", &self.Mixed_6b),
            ("Mixed_6c", &self.Mixed_6c),
            ("Mixed_6d", &self.Mixed_6d),
            ("Mixed_6e", &self.Mixed_6e),
        ] {
            x = t.scope(name, |t| m.trace(t, &x))?;
        }
        if let Some(head) = &self.AuxLogits {
            t.auxiliary("AuxLogits", crate::count_params(head), |t| head.trace(t, &x));
        }
        x = t.scope("Mixed_7a", |t| self.Mixed_7a.trace(t, &x))?;
        for (name, m) in [("Mixed_7b", &self.Mixed_7b), ("Mixed_7c", &self.Mixed_7c)] {
            x = t.scope(name, |t| m.trace(t, &x))?;
        }
        x = t.layer("avgpool", &self.avgpool, &x)?;
        let x = t.layer("dropout", &self.dropout, &x)?;
        let x = trace_flatten(t, &x);
        t.layer("fc", &self.fc, &x)
    }
}

/// Folds the listed convolution blocks of a module.
macro_rules! fold_convs {
    ($block:ty: $($conv:ident),+) => {
        impl FoldBatchNorm for $block {
            fn fold_batch_norm(&mut self) {
                $(self.$conv.fold_batch_norm();)+
            }
        }
    };
}

fold_convs!(InceptionA: branch1x1, branch5x5_1, branch5x5_2, branch3x3dbl_1, branch3x3dbl_2, branch3x3dbl_3, branch_pool);
fold_convs!(InceptionB: branch3x3, branch3x3dbl_1, branch3x3dbl_2, branch3x3dbl_3);
fold_convs!(InceptionC: branch1x1, branch7x7_1, branch7x7_2, branch7x7_3, branch7x7dbl_1, branch7x7dbl_2,
    branch7x7dbl_3, branch7x7dbl_4, branch7x7dbl_5, branch_pool);
fold_convs!(InceptionD: branch3x3_1, branch3x3_2, branch7x7x3_1, branch7x7x3_2, branch7x7x3_3, branch7x7x3_4);
fold_convs!(InceptionE: branch1x1, branch3x3_1, branch3x3_2a, branch3x3_2b, branch3x3dbl_1, branch3x3dbl_2,
    branch3x3dbl_3a, branch3x3dbl_3b, branch_pool);
fold_convs!(InceptionAux: conv0, conv1);
fold_convs!(Inception3: Conv2d_1a_3x3, Conv2d_2a_3x3, Conv2d_2b_3x3, Conv2d_3b_1x1, Conv2d_4a_3x3, Mixed_5b,
    Mixed_5c, Mixed_5d, Mixed_6a, Mixed_6b, Mixed_6c, Mixed_6d, Mixed_6e, AuxLogits, Mixed_7a, Mixed_7b, Mixed_7c);

const PAPER: &str = "Szegedy et al., Rethinking the Inception Architecture for Computer Vision";

fn build(o: &Resolved, d: &Device) -> ZooModel {
    let config = Inception3Config::new()
        .with_num_classes(o.num_classes)
        .with_in_channels(o.in_channels)
        .with_aux_logits(o.aux_logits)
        .with_transform_input(o.transform_input);
    ZooModel::Inception3(o.dropout.map_or(config.clone(), |p| config.with_dropout(p)).init(d))
}

/// Inception v3's registry row: auxiliary classifier on by default, as torchvision, so its
/// smallest input is the default (75x75 without it; see the module docs).
pub(crate) const REGISTRY: &[ModelInfo] = &[with_aux(
    entry("inception_v3", "Inception v3", PAPER, 2015, INCEPTION, INCEPTION, 1000, Some(5.713), build),
    true,
)];
