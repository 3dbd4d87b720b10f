//! # zoo-models
//!
//! The classic convolutional networks — LeNet-5, AlexNet, ZF Net, VGG, ResNet (ImageNet and
//! CIFAR), GoogLeNet, Inception v3 and DenseNet — written once on Burn 0.22 and run on any backend its `Device` selects. Field names
//! mirror torchvision's state-dict keys, so PyTorch weights map onto them.
//!
//! ```
//! use burn::tensor::{Device, Tensor};
//! use zoo_models::{create, list, ImageClassifier, ModelOptions};
//!
//! let device = Device::flex();
//! // By name, through the registry...
//! let model = create("resnet20", &ModelOptions::default(), &device).unwrap();
//! let logits = model.forward(Tensor::zeros([8, 3, 32, 32], &device));
//! assert_eq!(logits.dims(), [8, 10]);
//!
//! // ...with a summary of shapes, parameters and multiply-accumulates...
//! let summary = model.summary("resnet20", [3, 32, 32]).unwrap();
//! assert_eq!(summary.trainable_params, 269_722);
//!
//! // ...or directly from a config.
//! let vgg = zoo_models::vgg::VggConfig::new(zoo_models::vgg::VggDepth::Vgg11).init(&device);
//! assert_eq!(list("vgg*").len(), 8);
//! ```

#![warn(missing_docs)]

/// torchvision's named constructors on a config that has `from_depth` (`resnet50()`).
macro_rules! depth_constructors {
    ($($name:ident = $depth:literal),+ $(,)?) => {
        $(
            #[doc = concat!("torchvision's `", stringify!($name), "`.")]
            pub fn $name() -> Self {
                Self::from_depth($depth).expect("a registered depth")
            }
        )+
    };
}

pub mod alexnet;
pub mod backend;
pub mod densenet;
pub mod fuse;
pub mod googlenet;
#[cfg(feature = "download")]
pub mod hub;
pub mod inception;
pub mod layers;
pub mod lenet;
pub mod model;
#[cfg(feature = "onnx")]
pub mod onnx;
pub mod plain;
pub mod pretrained;
mod pretrained_table;
pub mod registry;
pub mod resnet;
pub mod resnet_cifar;
pub mod summary;
pub mod vgg;
#[cfg(feature = "weights")]
pub mod weights;
pub mod zfnet;

pub use model::{
    AuxLogits, CheckpointNames, FeatureInfo, FeatureMap, ImageClassifier, StageFlow, StageHook, Stages, TrainingOutput,
    flow_value,
};
pub use registry::{MODELS, ModelInfo, ModelOptions, RegistryError, ZooModel, create, info, list};
pub use summary::{LayerSummary, ModelSummary, ShapeError};

/// Trainable parameters of a module, counted as torchvision does: BatchNorm running statistics
/// are buffers, not parameters.
///
/// ```
/// use burn::tensor::Device;
/// use zoo_models::{create, trainable_params, ModelOptions};
/// let model = create("resnet18", &ModelOptions::default(), &Device::flex()).unwrap();
/// assert_eq!(trainable_params(&model), 11_689_512);
/// ```
pub fn trainable_params<M: burn::module::Module>(module: &M) -> usize {
    let (trainable, _) = count_params(module);
    trainable
}

/// `(trainable parameters, buffers)` of a module, by walking its parameter tree.
pub fn count_params<M: burn::module::Module>(module: &M) -> (usize, usize) {
    use burn::module::{ModuleVisitor, Param};
    use burn::tensor::Tensor;

    #[derive(Default)]
    struct Counter {
        path: Vec<String>,
        trainable: usize,
        buffers: usize,
    }
    impl ModuleVisitor for Counter {
        fn enter_module(&mut self, name: &str, _container_type: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let n = param.lazy_shape().num_elements();
            // Burn stores BatchNorm statistics as `RunningState` fields of these names.
            match self.path.last().map(String::as_str) {
                Some("running_mean" | "running_var") => self.buffers += n,
                _ => self.trainable += n,
            }
        }
    }
    let mut counter = Counter::default();
    module.visit(&mut counter);
    (counter.trainable, counter.buffers)
}
