//! The interface every network in the zoo implements.

use burn::tensor::Tensor;

use crate::summary::{ModelSummary, SampleShape, ShapeError, Tracer};

/// An intermediate feature map, named by the module that produced it (`layer3`, `features.9`).
#[derive(Debug, Clone)]
pub struct FeatureMap {
    /// Dotted path of the module whose output this is.
    pub name: String,
    /// The activation, `[N, C, H, W]`.
    pub tensor: Tensor<4>,
}

/// An image classifier: a convolutional body that turns `[N, C, H, W]` images into feature maps,
/// and a head that turns the last feature map into `[N, num_classes]` logits.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use zoo_models::{ImageClassifier, lenet::LeNet5Config};
///
/// let device = Device::flex();
/// let model = LeNet5Config::new().init(&device);
/// let images = Tensor::<4>::zeros([2, 1, 32, 32], &device);
/// assert_eq!(model.forward(images.clone()).dims(), [2, 10]);
///
/// // The stages' outputs, for feature extraction or visualisation.
/// let stages = model.forward_features(images);
/// assert_eq!(stages[0].name, "pool1");
/// assert_eq!(stages[0].tensor.dims(), [2, 6, 14, 14]);
///
/// // Shapes, parameters and MACs, computed without running the network.
/// let summary = model.summary("lenet5", [1, 32, 32]).unwrap();
/// assert_eq!(summary.trainable_params, 61_706);
/// ```
pub trait ImageClassifier {
    /// Runs the convolutional body, calling `on_stage(name, &output)` at the end of each stage
    /// (each resolution level), and returns the last feature map.
    fn forward_body(&self, x: Tensor<4>, on_stage: &mut dyn FnMut(&str, &Tensor<4>)) -> Tensor<4>;

    /// Turns the body's last feature map into logits.
    fn forward_head(&self, features: Tensor<4>) -> Tensor<2>;

    /// Walks the layers for one sample of shape `input` (`[C, H, W]`), recording each layer in
    /// `tracer`, and returns the output shape. Mirrors [`forward_body`](Self::forward_body)
    /// followed by [`forward_head`](Self::forward_head).
    fn trace(&self, tracer: &mut Tracer, input: &[usize]) -> Result<SampleShape, ShapeError>;

    /// Logits for a batch of images.
    fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let features = self.forward_body(x, &mut |_, _| {});
        self.forward_head(features)
    }

    /// The output of every stage of the body, shallowest first.
    fn forward_features(&self, x: Tensor<4>) -> Vec<FeatureMap> {
        let mut stages = Vec::new();
        self.forward_body(x, &mut |name, tensor| {
            stages.push(FeatureMap { name: name.to_string(), tensor: tensor.clone() })
        });
        stages
    }

    /// The per-layer summary for one input of shape `[C, H, W]`, or the layer where it fails.
    fn summary(&self, name: &str, input: [usize; 3]) -> Result<ModelSummary, ShapeError> {
        let mut tracer = Tracer::new();
        let output = self.trace(&mut tracer, &input)?;
        Ok(tracer.finish(name, input, output))
    }
}
