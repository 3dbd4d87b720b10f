//! ZF Net (Zeiler & Fergus, "Visualizing and Understanding Convolutional Networks", 2013): AlexNet
//! with the first layer changed to 96 filters of 7x7 at stride 2 (instead of 11x11 at stride 4)
//! and 3x3 stride-2 max pools, which gives the paper's 110 → 55 → 26 → 13 → 6 feature maps on a
//! 224x224 input. The local contrast normalisation of the paper is left out, as torchvision does
//! for AlexNet; the rest of the layout (and so the weight keys) is torchvision's AlexNet.

use burn::config::Config;
use burn::tensor::Device;

use crate::plain::{DropoutPlacement, FeatureSpec, PlainInit, PlainNet, PlainSpec, conv};
use crate::registry::{IMAGENET, ModelInfo, Resolved, ZooModel, entry};

/// ZF Net is a [`PlainNet`] built from [`ZFNET_FEATURES`].
pub type ZfNet = PlainNet;

/// Max pool 3x3/2 with PyTorch's `ceil_mode=True`: 110 → 55 and 26 → 13 as in the paper's Fig. 3.
const CEIL_POOL: FeatureSpec = FeatureSpec::MaxPool { kernel: 3, stride: 2, ceil_mode: true };

/// The five convolutional layers of the paper's Fig. 3.
pub const ZFNET_FEATURES: [FeatureSpec; 8] = [
    conv(96, 7, 2, 1),
    CEIL_POOL,
    conv(256, 5, 2, 0),
    CEIL_POOL,
    conv(384, 3, 1, 1),
    conv(384, 3, 1, 1),
    conv(256, 3, 1, 1),
    FeatureSpec::MaxPool { kernel: 3, stride: 2, ceil_mode: false },
];

/// Configuration of [`ZfNet`].
///
/// ```
/// use burn::tensor::Device;
/// use zoo_models::zfnet::ZfNetConfig;
/// let model = ZfNetConfig::new().init(&Device::flex());
/// ```
#[derive(Config, Debug)]
pub struct ZfNetConfig {
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

impl ZfNetConfig {
    /// Builds the network on `device`.
    pub fn init(&self, device: &Device) -> ZfNet {
        let spec = PlainSpec {
            features: &ZFNET_FEATURES,
            batch_norm: false,
            pool_size: 6,
            hidden: self.hidden,
            dropout_placement: DropoutPlacement::BeforeLinear,
            init: PlainInit::PytorchDefault,
        };
        PlainNet::new(&spec, self.in_channels, self.num_classes, self.dropout, device)
    }
}

const PAPER: &str = "Zeiler & Fergus, Visualizing and Understanding Convolutional Networks";

fn build(o: &Resolved, d: &Device) -> ZooModel {
    let config = ZfNetConfig::new().with_num_classes(o.num_classes).with_in_channels(o.in_channels);
    ZooModel::Plain(o.dropout.map_or(config.clone(), |p| config.with_dropout(p)).init(d))
}

/// ZF Net's registry row; below 63x63 the last 3x3/2 max pool (`features.12`) gets less than
/// 3x3.
pub(crate) const REGISTRY: &[ModelInfo] =
    &[entry("zfnet", "ZF Net", PAPER, 2013, IMAGENET, [3, 63, 63], 1000, None, build)];
