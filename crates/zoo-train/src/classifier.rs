//! A zoo model with its training loss: what burn-train's `Learner` trains.

use burn::module::Module;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor};
use burn::train::{ClassificationOutput, InferenceStep, TrainOutput, TrainStep};
use zoo_data::Batch;
use zoo_models::{ImageClassifier, ZooModel};

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
}

impl Classifier {
    /// Wraps `model`, with label smoothing `label_smoothing` (0 for plain cross-entropy).
    pub fn new(model: ZooModel, label_smoothing: f64) -> Self {
        Self { model, label_smoothing }
    }

    /// Logits and mean loss of a batch.
    pub fn forward_classification(&self, batch: Batch) -> ClassificationOutput {
        let logits = self.model.forward(batch.images);
        let loss = cross_entropy(
            logits.clone(),
            batch.labels.clone(),
            batch.soft_targets,
            self.label_smoothing,
        );
        ClassificationOutput::new(loss, logits, batch.labels)
    }
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
/// let loss = zoo_train::cross_entropy(logits, labels, None, 0.0).into_scalar::<f32>();
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
        let item = self.forward_classification(batch);
        TrainOutput::new(self, item.loss.backward(), item)
    }
}

impl InferenceStep for Classifier {
    type Input = Batch;
    type Output = ClassificationOutput;

    fn step(&self, batch: Batch) -> ClassificationOutput {
        self.forward_classification(batch)
    }
}
