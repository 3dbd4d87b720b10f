//! VGG (Simonyan & Zisserman, 2014): configurations A, B, D and E (VGG-11/13/16/19), with or
//! without BatchNorm, exactly as torchvision builds them.

use burn::config::Config;
use burn::tensor::Device;

use crate::plain::{DropoutPlacement, FeatureSpec, PlainInit, PlainNet, PlainSpec, conv, max_pool};
use crate::registry::{IMAGENET, ModelInfo, Resolved, ZooModel, entry};

/// VGG is a [`PlainNet`] built from one of [`VggDepth`]'s tables.
pub type Vgg = PlainNet;

/// The four depths of the paper's Table 1.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum VggDepth {
    /// Configuration A, 11 weight layers.
    Vgg11,
    /// Configuration B, 13 weight layers.
    Vgg13,
    /// Configuration D, 16 weight layers.
    Vgg16,
    /// Configuration E, 19 weight layers.
    Vgg19,
}

/// Channel counts of torchvision's `cfgs`; `0` is a 2x2 max pool ("M").
const M: usize = 0;
const CFG_A: &[usize] = &[64, M, 128, M, 256, 256, M, 512, 512, M, 512, 512, M];
const CFG_B: &[usize] = &[64, 64, M, 128, 128, M, 256, 256, M, 512, 512, M, 512, 512, M];
const CFG_D: &[usize] = &[64, 64, M, 128, 128, M, 256, 256, 256, M, 512, 512, 512, M, 512, 512, 512, M];
const CFG_E: &[usize] = &[64, 64, M, 128, 128, M, 256, 256, 256, 256, M, 512, 512, 512, 512, M, 512, 512, 512, 512, M];

impl VggDepth {
    /// The configuration's column of Table 1, as torchvision writes it.
    pub fn cfg(self) -> &'static [usize] {
        match self {
            VggDepth::Vgg11 => CFG_A,
            VggDepth::Vgg13 => CFG_B,
            VggDepth::Vgg16 => CFG_D,
            VggDepth::Vgg19 => CFG_E,
        }
    }
}

/// Configuration of [`Vgg`].
///
/// ```
/// use burn::tensor::Device;
/// use zoo_models::vgg::{VggConfig, VggDepth};
/// let vgg16_bn = VggConfig::new(VggDepth::Vgg16).with_batch_norm(true).init(&Device::flex());
/// ```
#[derive(Config, Debug)]
pub struct VggConfig {
    /// Which column of Table 1.
    pub depth: VggDepth,
    /// BatchNorm after every convolution (the `_bn` models).
    #[config(default = false)]
    pub batch_norm: bool,
    /// Number of output classes.
    #[config(default = 1000)]
    pub num_classes: usize,
    /// Channels of the input image.
    #[config(default = 3)]
    pub in_channels: usize,
    /// Dropout probability in the classifier.
    #[config(default = 0.5)]
    pub dropout: f64,
    /// Width of the two hidden fully connected layers: 4096 as published; narrower heads suit
    /// small images and small datasets (the registry's models keep 4096).
    #[config(default = 4096)]
    pub hidden: usize,
}

/// torchvision's named VGG constructors: a depth, with or without BatchNorm.
macro_rules! vgg_constructors {
    ($($name:ident = $depth:ident, $batch_norm:literal);+ $(;)?) => {
        $(
            #[doc = concat!("torchvision's `", stringify!($name), "`.")]
            pub fn $name() -> Self {
                Self::new(VggDepth::$depth).with_batch_norm($batch_norm)
            }
        )+
    };
}

impl VggConfig {
    vgg_constructors!(
        vgg11 = Vgg11, false; vgg13 = Vgg13, false; vgg16 = Vgg16, false; vgg19 = Vgg19, false;
        vgg11_bn = Vgg11, true; vgg13_bn = Vgg13, true; vgg16_bn = Vgg16, true; vgg19_bn = Vgg19, true;
    );

    /// Builds the network on `device`.
    pub fn init(&self, device: &Device) -> Vgg {
        let features: Vec<FeatureSpec> =
            self.depth.cfg().iter().map(|&c| if c == M { max_pool(2, 2) } else { conv(c, 3, 1, 1) }).collect();
        let spec = PlainSpec {
            features: &features,
            batch_norm: self.batch_norm,
            pool_size: 7,
            hidden: self.hidden,
            dropout_placement: DropoutPlacement::AfterRelu,
            init: PlainInit::VggKaiming,
        };
        PlainNet::new(&spec, self.in_channels, self.num_classes, self.dropout, device)
    }
}

const PAPER: &str = "Simonyan & Zisserman, Very Deep Convolutional Networks for Large-Scale Image Recognition";

fn build(depth: VggDepth, batch_norm: bool, o: &Resolved, d: &Device) -> ZooModel {
    let config = VggConfig::new(depth)
        .with_batch_norm(batch_norm)
        .with_num_classes(o.num_classes)
        .with_in_channels(o.in_channels);
    ZooModel::Plain(o.dropout.map_or(config.clone(), |p| config.with_dropout(p)).init(d))
}

/// Five 2x2/2 max pools need at least 32x32.
const MIN_INPUT: [usize; 3] = [3, 32, 32];

/// The VGGs' registry rows.
#[rustfmt::skip]
pub(crate) const REGISTRY: &[ModelInfo] = &[
    entry("vgg11", "VGG", PAPER, 2014, IMAGENET, MIN_INPUT, 1000, Some(7.609), |o, d| build(VggDepth::Vgg11, false, o, d)),
    entry("vgg13", "VGG", PAPER, 2014, IMAGENET, MIN_INPUT, 1000, Some(11.308), |o, d| build(VggDepth::Vgg13, false, o, d)),
    entry("vgg16", "VGG", PAPER, 2014, IMAGENET, MIN_INPUT, 1000, Some(15.47), |o, d| build(VggDepth::Vgg16, false, o, d)),
    entry("vgg19", "VGG", PAPER, 2014, IMAGENET, MIN_INPUT, 1000, Some(19.632), |o, d| build(VggDepth::Vgg19, false, o, d)),
    entry("vgg11_bn", "VGG", PAPER, 2014, IMAGENET, MIN_INPUT, 1000, Some(7.609), |o, d| build(VggDepth::Vgg11, true, o, d)),
    entry("vgg13_bn", "VGG", PAPER, 2014, IMAGENET, MIN_INPUT, 1000, Some(11.308), |o, d| build(VggDepth::Vgg13, true, o, d)),
    entry("vgg16_bn", "VGG", PAPER, 2014, IMAGENET, MIN_INPUT, 1000, Some(15.47), |o, d| build(VggDepth::Vgg16, true, o, d)),
    entry("vgg19_bn", "VGG", PAPER, 2014, IMAGENET, MIN_INPUT, 1000, Some(19.632), |o, d| build(VggDepth::Vgg19, true, o, d)),
];
