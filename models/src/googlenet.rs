//! GoogLeNet (Inception v1, Szegedy et al. 2014) in torchvision's layout: BatchNorm after every
//! convolution (the paper predates BatchNorm; torchvision's weights were trained with it), and
//! nine Inception modules of four parallel branches whose outputs are concatenated.
//!
//! **The "5x5" branch is a 3x3 convolution**, as in torchvision: its published weights were
//! trained that way (pytorch/vision#906), so `inception3a.branch3.1.conv.weight` is
//! `[32, 16, 3, 3]` and the model has 6,624,904 parameters instead of the paper's ~7 M.
//!
//! Two auxiliary classifiers (`aux1` after `inception4a`, `aux2` after `inception4d`) are built
//! only with `aux_logits`; they run in [`ImageClassifier::forward_train`], whose loss weighs each
//! by [`AUX_LOSS_WEIGHT`] as the paper does.

use burn::config::Config;
use burn::module::Module;
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{Dropout, DropoutConfig, Initializer, Linear, LinearConfig, PaddingConfig2d, Relu};
use burn::tensor::{Device, Tensor};

use crate::fuse::FoldBatchNorm;
use crate::layers::{BasicConv2d, flatten, pool_forward, trace_concat, trace_flatten, transform_imagenet_input};
use crate::model::{AuxLogits, ImageClassifier, StageFlow, Stages, TrainingOutput, flow_value, forward_with_aux};
use crate::registry::{IMAGENET, ModelInfo, Resolved, ZooModel, entry, with_aux};
use crate::summary::{SampleShape, ShapeError, Tracer};

/// Weight of each auxiliary classifier's loss (Szegedy et al. 2014, §5; torchvision's reference
/// training script).
pub const AUX_LOSS_WEIGHT: f64 = 0.3;

/// Channels of one Inception module: `(1x1, 3x3 reduce, 3x3, "5x5" reduce, "5x5", pool proj)`.
pub type InceptionChannels = [usize; 6];

/// The nine Inception modules, by field name, with the paper's Table 1 channels.
pub const INCEPTION_MODULES: [(&str, InceptionChannels); 9] = [
    ("inception3a", [64, 96, 128, 16, 32, 32]),
    ("inception3b", [128, 128, 192, 32, 96, 64]),
    ("inception4a", [192, 96, 208, 16, 48, 64]),
    ("inception4b", [160, 112, 224, 24, 64, 64]),
    ("inception4c", [128, 128, 256, 24, 64, 64]),
    ("inception4d", [112, 144, 288, 32, 64, 64]),
    ("inception4e", [256, 160, 320, 32, 128, 128]),
    ("inception5a", [256, 160, 320, 32, 128, 128]),
    ("inception5b", [384, 192, 384, 48, 128, 128]),
];

fn init() -> Initializer {
    Initializer::Normal { mean: 0.0, std: 0.01 }
}

fn basic(
    in_channels: usize,
    out_channels: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    d: &Device,
) -> BasicConv2d {
    BasicConv2d::new(in_channels, out_channels, [kernel, kernel], stride, [padding, padding], init(), d)
}

fn max_pool(kernel: usize, stride: usize, padding: usize) -> MaxPool2d {
    MaxPool2dConfig::new([kernel, kernel])
        .with_strides([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(padding, padding, padding, padding))
        .with_ceil_mode(true)
        .init()
}

/// One Inception module: 1x1; 1x1 → 3x3; 1x1 → 3x3 (the "5x5"); 3x3 max pool → 1x1 projection.
/// The `Vec`s are torchvision's `nn.Sequential`s (`branch2.0`, `branch2.1`); `branch4`'s pool is
/// its slot 0, so its projection is `branch4.1`.
#[derive(Module, Debug)]
pub struct Inception {
    /// 1x1 branch.
    pub branch1: BasicConv2d,
    /// 1x1 reduce, then 3x3.
    pub branch2: Vec<BasicConv2d>,
    /// 1x1 reduce, then the 3x3 torchvision uses for the paper's 5x5.
    pub branch3: Vec<BasicConv2d>,
    /// The pool before `branch4`'s projection (`branch4.0`, no parameters).
    pub branch4_pool: MaxPool2d,
    /// Pool projection: `[None, Some(1x1)]`, keeping torchvision's index 1.
    pub branch4: Vec<Option<BasicConv2d>>,
}

impl Inception {
    /// A module taking `in_channels` to the sum of `channels`' four branch outputs.
    pub fn new(in_channels: usize, channels: InceptionChannels, device: &Device) -> Self {
        let [c1, c3_reduce, c3, c5_reduce, c5, pool_proj] = channels;
        Self {
            branch1: basic(in_channels, c1, 1, 1, 0, device),
            branch2: vec![basic(in_channels, c3_reduce, 1, 1, 0, device), basic(c3_reduce, c3, 3, 1, 1, device)],
            branch3: vec![basic(in_channels, c5_reduce, 1, 1, 0, device), basic(c5_reduce, c5, 3, 1, 1, device)],
            branch4_pool: max_pool(3, 1, 1),
            branch4: vec![None, Some(basic(in_channels, pool_proj, 1, 1, 0, device))],
        }
    }

    /// Output channels: the four branches' together.
    pub fn out_channels(channels: InceptionChannels) -> usize {
        channels[0] + channels[2] + channels[4] + channels[5]
    }

    fn projection(&self) -> &BasicConv2d {
        self.branch4[1].as_ref().expect("branch4.1 is built by Inception::new")
    }

    /// Applies the four branches and concatenates them along the channels.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let chain = |convs: &[BasicConv2d], x: Tensor<4>| convs.iter().fold(x, |x, c| c.forward(x));
        let branches = vec![
            self.branch1.forward(x.clone()),
            chain(&self.branch2, x.clone()),
            chain(&self.branch3, x.clone()),
            self.projection().forward(pool_forward(&self.branch4_pool, x)),
        ];
        Tensor::cat(branches, 1)
    }

    /// Traces the module stored in field `name`.
    pub fn trace(&self, t: &mut Tracer, name: &str, input: &SampleShape) -> Result<SampleShape, ShapeError> {
        t.scope(name, |t| {
            let b1 = self.branch1.trace(t, "branch1", input)?;
            let chain = |t: &mut Tracer, field: &str, convs: &[BasicConv2d]| {
                t.scope(field, |t| {
                    let mut x = input.clone();
                    for (i, conv) in convs.iter().enumerate() {
                        x = conv.trace(t, &i.to_string(), &x)?;
                    }
                    Ok::<_, ShapeError>(x)
                })
            };
            let b2 = chain(t, "branch2", &self.branch2)?;
            let b3 = chain(t, "branch3", &self.branch3)?;
            let b4 = t.scope("branch4", |t| {
                let x = t.layer("0", &self.branch4_pool, input)?;
                self.projection().trace(t, "1", &x)
            })?;
            trace_concat(t, &[b1, b2, b3, b4])
        })
    }
}

#[cfg(feature = "onnx")]
impl Inception {
    /// The four branches, concatenated along the channels.
    pub fn export_onnx(
        &self,
        g: &mut crate::onnx::OnnxGraph,
        path: &str,
        x: &crate::onnx::Value,
    ) -> Result<crate::onnx::Value, crate::onnx::OnnxError> {
        let chain = |g: &mut crate::onnx::OnnxGraph, field: &str, convs: &[BasicConv2d]| {
            convs
                .iter()
                .enumerate()
                .try_fold(x.clone(), |x, (i, c)| g.basic_conv(&format!("{path}.{field}.{i}"), c, &x))
        };
        let branches = [
            g.basic_conv(&format!("{path}.branch1"), &self.branch1, x)?,
            chain(g, "branch2", &self.branch2)?,
            chain(g, "branch3", &self.branch3)?,
            {
                let pooled = g.max_pool(&format!("{path}.branch4_pool"), &self.branch4_pool, x)?;
                g.basic_conv(&format!("{path}.branch4.1"), self.projection(), &pooled)?
            },
        ];
        Ok(g.concat(&format!("{path}.cat"), &branches))
    }
}

/// An auxiliary classifier: 4x4 adaptive average pool, 1x1 conv to 128 channels, `fc1` (2048 →
/// 1024) with ReLU and dropout, `fc2` to the classes.
#[derive(Module, Debug)]
pub struct InceptionAux {
    /// 4x4 adaptive average pool.
    pub pool: AdaptiveAvgPool2d,
    /// 1x1 convolution to 128 channels.
    pub conv: BasicConv2d,
    /// 2048 → 1024.
    pub fc1: Linear,
    /// ReLU after `fc1`.
    pub relu: Relu,
    /// Dropout after `fc1` (0.7 in the paper and torchvision).
    pub dropout: Dropout,
    /// 1024 → classes.
    pub fc2: Linear,
}

impl InceptionAux {
    /// A head on an `in_channels` feature map.
    pub fn new(in_channels: usize, num_classes: usize, dropout: f64, device: &Device) -> Self {
        Self {
            pool: AdaptiveAvgPool2dConfig::new([4, 4]).init(),
            conv: basic(in_channels, 128, 1, 1, 0, device),
            fc1: LinearConfig::new(2048, 1024).with_initializer(init()).init(device),
            relu: Relu::new(),
            dropout: DropoutConfig::new(dropout).init(),
            fc2: LinearConfig::new(1024, num_classes).with_initializer(init()).init(device),
        }
    }

    /// Logits from a feature map.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x = flatten(self.conv.forward(pool_forward(&self.pool, x)));
        self.fc2.forward(self.dropout.forward(zoo_kernels::relu(self.fc1.forward(x))))
    }

    /// Traces the head stored in field `name` (see [`Tracer::auxiliary`]).
    pub fn trace(&self, t: &mut Tracer, name: &str, input: &SampleShape) {
        t.auxiliary(name, crate::count_params(self), |t| {
            let x = t.layer("pool", &self.pool, input)?;
            let x = self.conv.trace(t, "conv", &x)?;
            let x = trace_flatten(t, &x);
            let x = t.layer("fc1", &self.fc1, &x)?;
            let x = t.layer("relu", &self.relu, &x)?;
            let x = t.layer("dropout", &self.dropout, &x)?;
            t.layer("fc2", &self.fc2, &x)
        });
    }
}

#[cfg(feature = "onnx")]
impl InceptionAux {
    /// Pool to 4x4, 1x1 convolution, two fully connected layers (dropout is the identity).
    pub fn export_onnx(
        &self,
        g: &mut crate::onnx::OnnxGraph,
        path: &str,
        x: &crate::onnx::Value,
    ) -> Result<crate::onnx::Value, crate::onnx::OnnxError> {
        let x = g.adaptive_avg_pool(&format!("{path}.pool"), &self.pool, x)?;
        let x = g.basic_conv(&format!("{path}.conv"), &self.conv, &x)?;
        let x = g.flatten(&format!("{path}.flatten"), &x);
        let x = g.linear(&format!("{path}.fc1"), &self.fc1, &x)?;
        let x = g.relu(&format!("{path}.relu"), &x);
        g.linear(&format!("{path}.fc2"), &self.fc2, &x)
    }
}

/// Configuration of [`GoogLeNet`].
///
/// ```
/// use burn::tensor::Device;
/// use zoo_models::googlenet::GoogLeNetConfig;
/// use zoo_models::trainable_params;
/// let device = Device::flex();
/// assert_eq!(trainable_params(&GoogLeNetConfig::new().init(&device)), 6_624_904);
/// assert_eq!(trainable_params(&GoogLeNetConfig::new().with_aux_logits(true).init(&device)), 13_004_888);
/// ```
#[derive(Config, Debug)]
pub struct GoogLeNetConfig {
    /// Number of output classes.
    #[config(default = 1000)]
    pub num_classes: usize,
    /// Build the two auxiliary classifiers (used only by `forward_train`).
    #[config(default = false)]
    pub aux_logits: bool,
    /// Map ImageNet-normalised input to the `(x - 0.5) / 0.5` range of the original weights
    /// (torchvision's `transform_input`; on for its pretrained weights). Needs 3 channels.
    #[config(default = false)]
    pub transform_input: bool,
    /// Dropout before `fc`.
    #[config(default = 0.2)]
    pub dropout: f64,
    /// Dropout in the auxiliary classifiers.
    #[config(default = 0.7)]
    pub dropout_aux: f64,
    /// Channels of the input image.
    #[config(default = 3)]
    pub in_channels: usize,
}

impl GoogLeNetConfig {
    /// Builds the network on `device`.
    pub fn init(&self, device: &Device) -> GoogLeNet {
        let mut channels = 192;
        let mut modules = INCEPTION_MODULES.iter().map(|&(_, c)| {
            let module = Inception::new(channels, c, device);
            channels = Inception::out_channels(c);
            module
        });
        let mut next = || modules.next().expect("nine modules");
        let aux = |in_channels: usize| {
            self.aux_logits.then(|| InceptionAux::new(in_channels, self.num_classes, self.dropout_aux, device))
        };
        GoogLeNet {
            transform_input: self.transform_input,
            conv1: basic(self.in_channels, 64, 7, 2, 3, device),
            maxpool1: max_pool(3, 2, 0),
            conv2: basic(64, 64, 1, 1, 0, device),
            conv3: basic(64, 192, 3, 1, 1, device),
            maxpool2: max_pool(3, 2, 0),
            inception3a: next(),
            inception3b: next(),
            maxpool3: max_pool(3, 2, 0),
            inception4a: next(),
            inception4b: next(),
            inception4c: next(),
            inception4d: next(),
            inception4e: next(),
            maxpool4: max_pool(2, 2, 0),
            inception5a: next(),
            inception5b: next(),
            aux1: aux(512),
            aux2: aux(528),
            avgpool: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            dropout: DropoutConfig::new(self.dropout).init(),
            fc: LinearConfig::new(1024, self.num_classes).with_initializer(init()).init(device),
        }
    }
}

/// torchvision's GoogLeNet.
#[derive(Module, Debug)]
pub struct GoogLeNet {
    /// Whether the input is re-normalised first (see [`GoogLeNetConfig::transform_input`]).
    #[module(skip)]
    pub transform_input: bool,
    /// 7x7/2 stem convolution.
    pub conv1: BasicConv2d,
    /// 3x3/2 max pool (ceil mode).
    pub maxpool1: MaxPool2d,
    /// 1x1 convolution.
    pub conv2: BasicConv2d,
    /// 3x3 convolution to 192 channels.
    pub conv3: BasicConv2d,
    /// 3x3/2 max pool.
    pub maxpool2: MaxPool2d,
    /// 256 channels at stride 8.
    pub inception3a: Inception,
    /// 480 channels.
    pub inception3b: Inception,
    /// 3x3/2 max pool.
    pub maxpool3: MaxPool2d,
    /// 512 channels at stride 16; feeds `aux1`.
    pub inception4a: Inception,
    /// 512 channels.
    pub inception4b: Inception,
    /// 512 channels.
    pub inception4c: Inception,
    /// 528 channels; feeds `aux2`.
    pub inception4d: Inception,
    /// 832 channels.
    pub inception4e: Inception,
    /// 2x2/2 max pool.
    pub maxpool4: MaxPool2d,
    /// 832 channels at stride 32.
    pub inception5a: Inception,
    /// 1024 channels.
    pub inception5b: Inception,
    /// First auxiliary classifier (with `aux_logits`).
    pub aux1: Option<InceptionAux>,
    /// Second auxiliary classifier (with `aux_logits`).
    pub aux2: Option<InceptionAux>,
    /// Global average pool.
    pub avgpool: AdaptiveAvgPool2d,
    /// Dropout before `fc`.
    pub dropout: Dropout,
    /// Classifier.
    pub fc: Linear,
}

impl GoogLeNet {
    /// The body, feeding `aux` the auxiliary heads' logits when it is given.
    fn body(&self, x: Tensor<4>, stages: &mut Stages, mut aux: Option<&mut Vec<AuxLogits>>) -> StageFlow {
        let x = if self.transform_input { transform_imagenet_input(x) } else { x };
        let x = self.conv1.forward(x);
        let x = stages.end("conv1", x)?;
        let x = self.conv3.forward(self.conv2.forward(pool_forward(&self.maxpool1, x)));
        let x = stages.end("conv3", x)?;
        let x = self.inception3b.forward(self.inception3a.forward(pool_forward(&self.maxpool2, x)));
        let x = stages.end("inception3b", x)?;
        let mut x = pool_forward(&self.maxpool3, x);
        let aux1 = self.aux1.as_ref().map(|h| ("aux1", h));
        let aux2 = self.aux2.as_ref().map(|h| ("aux2", h));
        for (module, head) in [
            (&self.inception4a, aux1),
            (&self.inception4b, None),
            (&self.inception4c, None),
            (&self.inception4d, aux2),
            (&self.inception4e, None),
        ] {
            x = module.forward(x);
            if let (Some(out), Some((name, head))) = (aux.as_deref_mut(), head) {
                out.push(AuxLogits { name, logits: head.forward(x.clone()), loss_weight: AUX_LOSS_WEIGHT });
            }
        }
        let x = stages.end("inception4e", x)?;
        let x = self.inception5b.forward(self.inception5a.forward(pool_forward(&self.maxpool4, x)));
        stages.end("inception5b", x)
    }
}

impl crate::CheckpointNames for GoogLeNet {
    fn optional_heads(&self) -> &'static [&'static str] {
        &["aux1.", "aux2."]
    }
}

impl ImageClassifier for GoogLeNet {
    /// Stages: `conv1` (stride 2), `conv3` (4), `inception3b` (8), `inception4e` (16),
    /// `inception5b` (32).
    fn run_body(&self, x: Tensor<4>, stages: &mut Stages) -> StageFlow {
        self.body(x, stages, None)
    }

    fn forward_head(&self, features: Tensor<4>) -> Tensor<2> {
        self.fc.forward(self.dropout.forward(flatten(pool_forward(&self.avgpool, features))))
    }

    fn forward_train(&self, x: Tensor<4>) -> TrainingOutput {
        forward_with_aux(self, |aux| flow_value(self.body(x, &mut Stages::all(&mut |_, x| x), Some(aux))))
    }

    fn trace(&self, t: &mut Tracer, input: &SampleShape) -> Result<SampleShape, ShapeError> {
        if self.transform_input {
            t.op("transform_input", "TransformInput", input.clone());
        }
        let mut x = self.conv1.trace(t, "conv1", input)?;
        x = t.layer("maxpool1", &self.maxpool1, &x)?;
        x = self.conv2.trace(t, "conv2", &x)?;
        x = self.conv3.trace(t, "conv3", &x)?;
        x = t.layer("maxpool2", &self.maxpool2, &x)?;
        x = self.inception3a.trace(t, "inception3a", &x)?;
        x = self.inception3b.trace(t, "inception3b", &x)?;
        x = t.layer("maxpool3", &self.maxpool3, &x)?;
        x = self.inception4a.trace(t, "inception4a", &x)?;
        if let Some(head) = &self.aux1 {
            head.trace(t, "aux1", &x);
        }
        x = self.inception4b.trace(t, "inception4b", &x)?;
        x = self.inception4c.trace(t, "inception4c", &x)?;
        x = self.inception4d.trace(t, "inception4d", &x)?;
        if let Some(head) = &self.aux2 {
            head.trace(t, "aux2", &x);
        }
        x = self.inception4e.trace(t, "inception4e", &x)?;
        x = t.layer("maxpool4", &self.maxpool4, &x)?;
        x = self.inception5a.trace(t, "inception5a", &x)?;
        x = self.inception5b.trace(t, "inception5b", &x)?;
        x = t.layer("avgpool", &self.avgpool, &x)?;
        let x = trace_flatten(t, &x);
        let x = t.layer("dropout", &self.dropout, &x)?;
        t.layer("fc", &self.fc, &x)
    }
}

#[cfg(feature = "onnx")]
impl crate::onnx::ExportOnnx for GoogLeNet {
    fn export_onnx(
        &self,
        g: &mut crate::onnx::OnnxGraph,
        x: &crate::onnx::Value,
        aux: bool,
    ) -> Result<Vec<crate::onnx::Value>, crate::onnx::OnnxError> {
        let x = if self.transform_input { g.transform_imagenet_input(x) } else { x.clone() };
        let x = g.basic_conv("conv1", &self.conv1, &x)?;
        let x = g.max_pool("maxpool1", &self.maxpool1, &x)?;
        let x = g.basic_conv("conv2", &self.conv2, &x)?;
        let x = g.basic_conv("conv3", &self.conv3, &x)?;
        let x = g.max_pool("maxpool2", &self.maxpool2, &x)?;
        let x = self.inception3a.export_onnx(g, "inception3a", &x)?;
        let x = self.inception3b.export_onnx(g, "inception3b", &x)?;
        let mut x = g.max_pool("maxpool3", &self.maxpool3, &x)?;
        let mut heads = Vec::new();
        for (name, module, head) in [
            ("inception4a", &self.inception4a, self.aux1.as_ref().map(|h| ("aux1", h))),
            ("inception4b", &self.inception4b, None),
            ("inception4c", &self.inception4c, None),
            ("inception4d", &self.inception4d, self.aux2.as_ref().map(|h| ("aux2", h))),
            ("inception4e", &self.inception4e, None),
        ] {
            x = module.export_onnx(g, name, &x)?;
            if let (true, Some((head_name, head))) = (aux, head) {
                heads.push(head.export_onnx(g, head_name, &x)?);
            }
        }
        let x = g.max_pool("maxpool4", &self.maxpool4, &x)?;
        let x = self.inception5a.export_onnx(g, "inception5a", &x)?;
        let x = self.inception5b.export_onnx(g, "inception5b", &x)?;
        let x = g.adaptive_avg_pool("avgpool", &self.avgpool, &x)?;
        let x = g.flatten("flatten", &x);
        let logits = g.linear("fc", &self.fc, &x)?;
        Ok(std::iter::once(logits).chain(heads).collect())
    }
}

impl FoldBatchNorm for Inception {
    fn fold_batch_norm(&mut self) {
        self.branch1.fold_batch_norm();
        self.branch2.fold_batch_norm();
        self.branch3.fold_batch_norm();
        self.branch4.fold_batch_norm();
    }
}

impl FoldBatchNorm for InceptionAux {
    fn fold_batch_norm(&mut self) {
        self.conv.fold_batch_norm();
    }
}

impl FoldBatchNorm for GoogLeNet {
    fn fold_batch_norm(&mut self) {
        for conv in [&mut self.conv1, &mut self.conv2, &mut self.conv3] {
            conv.fold_batch_norm();
        }
        for module in [
            &mut self.inception3a, &mut self.inception3b, &mut self.inception4a, &mut self.inception4b,
            &mut self.inception4c, &mut self.inception4d, &mut self.inception4e, &mut self.inception5a,
            &mut self.inception5b,
        ] {
            module.fold_batch_norm();
        }
        self.aux1.fold_batch_norm();
        self.aux2.fold_batch_norm();
    }
}

const PAPER: &str = "Szegedy et al., Going Deeper with Convolutions";

fn build(o: &Resolved, d: &Device) -> ZooModel {
    let config = GoogLeNetConfig::new()
        .with_num_classes(o.num_classes)
        .with_in_channels(o.in_channels)
        .with_aux_logits(o.aux_logits)
        .with_transform_input(o.transform_input);
    ZooModel::GoogLeNet(o.dropout.map_or(config.clone(), |p| config.with_dropout(p)).init(d))
}

/// GoogLeNet's registry row: auxiliary classifiers off by default, as torchvision. Below 31x31
/// `maxpool4` (2x2/2) gets a 1x1 map.
pub(crate) const REGISTRY: &[ModelInfo] =
    &[with_aux(entry("googlenet", "GoogLeNet", PAPER, 2014, IMAGENET, [3, 31, 31], 1000, Some(1.498), build), false)];
