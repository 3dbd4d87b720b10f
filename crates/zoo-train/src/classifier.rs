//! A zoo model with its training loss: what burn-train's `Learner` trains.

use burn::module::Module;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor};
use burn::train::{ClassificationOutput, InferenceStep, TrainOutput, TrainStep};
use zoo_data::Batch;
use zoo_models::{ImageClassifier, TrainingOutput, ZooModel};

/// A zoo model trained with cross-entropy (optionally label-smoothed, or against the soft targets
/// of mixup / cutmix batches).
///
/// The model is the module's only field, so its record (and `model.bpk`) has exactly the model's
/// own parameter names.
#[derive(Module, Debug)]
pub struct Classifier {
    /// The network.
    pub model: ZooModel,
    #[module(skip)]
    label_smoothing: f64,
    #[module(skip)]
    gradient_scale: f64,
}

impl Classifier {
    /// Wraps `model`, with label smoothing `label_smoothing` (0 for plain cross-entropy).
    pub fn new(model: ZooModel, label_smoothing: f64) -> Self {
        Self { model, label_smoothing, gradient_scale: 1.0 }
    }

    /// Multiplies the loss that is back-propagated (not the one reported) by `scale`: `1 / N` on
    /// each of N devices whose gradients burn-train sums makes the step their mean.
    pub fn with_gradient_scale(mut self, scale: f64) -> Self {
        self.gradient_scale = scale;
        self
    }

    /// Logits and mean loss of a batch. In `training`, networks built with auxiliary classifiers
    /// (GoogLeNet, Inception v3) run them too and their losses join the total, each weighed as
    /// the model says (see [`training_loss`]); the reported logits are always the main ones.
    pub fn forward_classification(&self, batch: Batch, training: bool) -> ClassificationOutput {
        let output = if training {
            self.model.forward_train(batch.images)
        } else {
            TrainingOutput { logits: self.model.forward(batch.images), aux: Vec::new() }
        };
        let loss = training_loss(&output, &batch.labels, batch.soft_targets.as_ref(), self.label_smoothing);
        ClassificationOutput::new(loss, output.logits, batch.labels)
    }
}

/// The loss of a training forward pass: cross-entropy of the main logits plus, for each
/// auxiliary classifier, its cross-entropy times its weight (0.3 for each of GoogLeNet's two,
/// 0.4 for Inception v3's, as in the papers and torchvision's recipes).
///
/// ```
/// use burn::tensor::{Device, Int, Tensor};
/// use zoo_models::{AuxLogits, TrainingOutput};
/// let device = Device::flex();
/// let labels = Tensor::<1, Int>::from_ints([1], &device);
/// let uniform = Tensor::<2>::from_floats([[0.0, 0.0]], &device);
/// let output = TrainingOutput {
///     logits: uniform.clone(),
///     aux: vec![AuxLogits { name: "aux1", logits: uniform, loss_weight: 0.3 }],
/// };
/// let loss = zoo_train::classifier::training_loss(&output, &labels, None, 0.0).into_scalar::<f32>();
/// assert!((loss - 1.3 * std::f32::consts::LN_2).abs() < 1e-6);
/// ```
pub fn training_loss(
    output: &TrainingOutput,
    labels: &Tensor<1, Int>,
    soft: Option<&Tensor<2>>,
    label_smoothing: f64,
) -> Tensor<1> {
    let loss = |logits: &Tensor<2>| cross_entropy(logits.clone(), labels.clone(), soft.cloned(), label_smoothing);
    output.aux.iter().fold(loss(&output.logits), |total, aux| total + loss(&aux.logits).mul_scalar(aux.loss_weight))
}

/// Mean cross-entropy between `logits` and the targets: `soft` when given (mixed batches), else
/// one-hot `labels` smoothed as `torch.nn.CrossEntropyLoss(label_smoothing=ε)` does
/// (`(1 - ε) · onehot + ε / classes`).
///
/// ```
/// use burn::tensor::{Device, Int, Tensor};
/// let device = Device::flex();
/// let logits = Tensor::<2>::from_floats([[0.0, 0.0]], &device);
/// let labels = Tensor::<1, Int>::from_ints([1], &device);
/// let loss = zoo_train::classifier::cross_entropy(logits, labels, None, 0.0).into_scalar::<f32>();
/// assert!((loss - std::f32::consts::LN_2).abs() < 1e-6);
/// ```
pub fn cross_entropy(
    logits: Tensor<2>,
    labels: Tensor<1, Int>,
    soft: Option<Tensor<2>>,
    label_smoothing: f64,
) -> Tensor<1> {
    let [batch, classes] = logits.dims();
    let targets = soft.unwrap_or_else(|| {
        let one_hot = labels.one_hot(classes).float();
        if label_smoothing > 0.0 {
            one_hot.mul_scalar(1.0 - label_smoothing).add_scalar(label_smoothing / classes as f64)
        } else {
            one_hot
        }
    });
    let per_sample = (log_softmax(logits, 1) * targets).sum_dim(1).neg();
    per_sample.reshape([batch]).mean()
}

impl TrainStep for Classifier {
    type Input = Batch;
    type Output = ClassificationOutput;

    fn step(&self, batch: Batch) -> TrainOutput<ClassificationOutput> {
        let item = self.forward_classification(batch, true);
        let grads = if self.gradient_scale == 1.0 {
            item.loss.backward()
        } else {
            item.loss.clone().mul_scalar(self.gradient_scale).backward()
        };
        TrainOutput::new(self, grads, item)
    }
}

impl InferenceStep for Classifier {
    type Input = Batch;
    type Output = ClassificationOutput;

    fn step(&self, batch: Batch) -> ClassificationOutput {
        self.forward_classification(batch, false)
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, Distribution};
    use zoo_models::{ModelOptions, create};

    use super::*;

    fn scalar(t: Tensor<1>) -> f32 {
        t.into_scalar::<f32>()
    }

    #[test]
    fn auxiliary_losses_are_weighed_into_the_training_loss_only() {
        // On a plain device dropout is off, so repeated forward passes agree exactly.
        let device = Device::flex();
        device.seed(3);
        let options = ModelOptions::default().with_num_classes(10).with_aux_logits(true);
        let classifier = Classifier::new(create("googlenet", &options, &device).unwrap(), 0.0);
        let images = Tensor::<4>::random([2, 3, 64, 64], Distribution::Normal(0.0, 1.0), &device);
        let labels = Tensor::<1, Int>::from_ints([3, 7], &device);
        let batch = || Batch { images: images.clone(), labels: labels.clone(), soft_targets: None };

        let out = classifier.model.forward_train(images.clone());
        let names: Vec<_> = out.aux.iter().map(|a| (a.name, a.loss_weight)).collect();
        assert_eq!(names, [("aux1", 0.3), ("aux2", 0.3)]);
        let ce = |logits: &Tensor<2>| scalar(cross_entropy(logits.clone(), labels.clone(), None, 0.0));
        let expected = ce(&out.logits) + 0.3 * (ce(&out.aux[0].logits) + ce(&out.aux[1].logits));

        let training = classifier.forward_classification(batch(), true);
        assert!((scalar(training.loss) - expected).abs() < 1e-5);
        // Validation sees the main classifier alone, as torchvision's eval mode does.
        let validation = classifier.forward_classification(batch(), false);
        assert!((scalar(validation.loss) - ce(&out.logits)).abs() < 1e-5);
        assert!(expected > ce(&out.logits), "the auxiliary terms add to the loss");

        let inception = create("inception_v3", &ModelOptions::default().with_num_classes(10), &device).unwrap();
        let out = inception.forward_train(Tensor::zeros([1, 3, 299, 299], &device));
        let names: Vec<_> = out.aux.iter().map(|a| (a.name, a.loss_weight)).collect();
        assert_eq!(names, [("AuxLogits", 0.4)]);
    }
}
