//! `zoo train --dry-run`: one step of everything a run does, nothing written.

use burn::module::Module;
use serde::Serialize;
use zoo_models::ImageClassifier;

use super::model::{ResolvedInput, initial_model};
use crate::classifier::Classifier;
use crate::config::TrainConfig;
use crate::data::{make_loader, open_datasets};
use crate::error::TrainError;

/// What [`dry_run`] did: one training step and one evaluation batch, with nothing written.
#[derive(Debug, Clone, Serialize)]
pub struct DryRun {
    /// `[C, H, W]` of the model's input, after the evaluation transforms.
    pub input: [usize; 3],
    /// `[C, H, W]` of the dataset's first test image.
    pub raw_input: [usize; 3],
    /// Classes of the dataset, and outputs of the model.
    pub classes: usize,
    /// Images in the training batch.
    pub batch: usize,
    /// Loss of the training batch, before the optimizer's step.
    pub train_loss: f32,
    /// Loss of the first evaluation batch, after the step.
    pub valid_loss: f32,
}

impl DryRun {
    /// One line for `zoo train --dry-run`.
    pub fn summary_line(&self, config: &TrainConfig) -> String {
        format!(
            "dry run: {} on {} takes {} inputs ({} images), {} classes; one training step on {} images (loss {:.4}) \
             and one evaluation batch (loss {:.4}); nothing written",
            config.model,
            config.dataset,
            zoo_models::summary::format_shape(&self.input),
            zoo_models::summary::format_shape(&self.raw_input),
            self.classes,
            self.batch,
            self.train_loss,
            self.valid_loss
        )
    }
}

/// Checks that `config` trains, as PyTorch Lightning's `fast_dev_run` does: opens the data,
/// builds the model (with its `init` weights), takes one optimizer step on the first training
/// batch and evaluates the first test batch; writes nothing. A loss that is not finite is an
/// error.
///
/// ```no_run
/// let mut config = zoo_train::recipe("lenet5-synth")?;
/// config.batch_size = 4;
/// let check = zoo_train::run::dry_run(config)?;
/// assert_eq!(check.input, [1, 32, 32]);
/// # Ok::<(), zoo_train::TrainError>(())
/// ```
pub fn dry_run(config: TrainConfig) -> Result<DryRun, TrainError> {
    use burn::optim::GradientsParams;
    let datasets = open_datasets(&config)?;
    let resolved = ResolvedInput::from_datasets(&config, &*datasets.test, datasets.train.classes())?;
    let config = TrainConfig { resolved: Some(resolved.clone()), ..config };
    // Every device the run would train on must be there; the step itself is taken on the first.
    let device = zoo_models::backend::select_devices(&config.backend, &config.devices)?.remove(0);
    let model = initial_model(&config, 0)?;
    let batch = make_loader(&config, datasets.train, true)?.batch(0, 0)?;
    let images = batch.shape[0];
    let classifier = Classifier::new(model, config.label_smoothing);
    let output = classifier.forward_classification(batch.into_device(&device.clone().autodiff()), true);
    let train_loss = output.loss.clone().into_scalar::<f32>();
    let grads = GradientsParams::from_grads(output.loss.backward(), &classifier);
    let classifier = crate::optim::build_optimizer(&config.optimizer).step(config.lr, classifier, grads);
    let model = classifier.model.fork(&device);
    let batch = make_loader(&config, datasets.test, false)?.batch(0, 0)?.into_device(&device);
    let valid_loss =
        crate::classifier::cross_entropy(model.forward(batch.images), batch.labels, None, 0.0).into_scalar::<f32>();
    if !(train_loss.is_finite() && valid_loss.is_finite()) {
        return Err(TrainError::NotFinite {
            model: config.model.clone(),
            dataset: config.dataset.clone(),
            train: train_loss,
            valid: valid_loss,
        });
    }
    Ok(DryRun {
        input: resolved.input,
        raw_input: resolved.raw_input,
        classes: resolved.classes.len(),
        batch: images,
        train_loss,
        valid_loss,
    })
}
