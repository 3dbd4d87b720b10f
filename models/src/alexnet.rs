//! AlexNet (Krizhevsky et al., 2012) in torchvision's single-tower layout (64-192-384-256-256
//! filters, no local response normalisation), 61,100,840 parameters with 1000 classes.

use burn::config::Config;
use burn::tensor::Device;

use crate::plain::{DropoutPlacement, FeatureSpec, PlainInit, PlainNet, PlainSpec, conv, max_pool};
use crate::registry::{IMAGENET, ModelInfo, Resolved, ZooModel, entry};

/// AlexNet is a [`PlainNet`]; the type name documents which table built it.
pub type AlexNet = PlainNet;

/// torchvision's `AlexNet.features`.
pub const ALEXNET_FEATURES: [FeatureSpec; 8] = [
    conv(64, 11, 4, 2),
    max_pool(3, 2),
    conv(192, 5, 1, 2),
    max_pool(3, 2),
    conv(384, 3, 1, 1),
    conv(256, 3, 1, 1),
    conv(256, 3, 1, 1),
    max_pool(3, 2),
];

/// Configuration of [`AlexNet`].
///
/// ```
/// use burn::tensor::Device;
/// use zoo_models::alexnet::AlexNetConfig;
/// let model = AlexNetConfig::new().with_num_classes(10).init(&Device::flex());
/// ```
#[derive(Config, Debug)]
pub struct AlexNetConfig {
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

impl AlexNetConfig {
    /// Builds the network on `device`.
    pub fn init(&self, device: &Device) -> AlexNet {
        let spec = PlainSpec {
            features: &ALEXNET_FEATURES,
            batch_norm: false,
            pool_size: 6,
            hidden: self.hidden,
            dropout_placement: DropoutPlacement::BeforeLinear,
            init: PlainInit::PytorchDefault,
        };
        PlainNet::new(&spec, self.in_channels, self.num_classes, self.dropout, device)
    }
}

const PAPER: &str = "Krizhevsky et al., ImageNet Classification with Deep Convolutional Neural Networks";

fn build(o: &Resolved, d: &Device) -> ZooModel {
    let config = AlexNetConfig::new().with_num_classes(o.num_classes).with_in_channels(o.in_channels);
    ZooModel::Plain(o.dropout.map_or(config.clone(), |p| config.with_dropout(p)).init(d))
}

/// AlexNet's registry row; below 63x63 the last 3x3/2 max pool (`features.12`) gets less than
/// 3x3.
pub(crate) const REGISTRY: &[ModelInfo] =
    &[entry("alexnet", "AlexNet", PAPER, 2012, IMAGENET, [3, 63, 63], 1000, Some(0.714), build)];
