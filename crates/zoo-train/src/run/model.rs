//! The model a run trains: built for the dataset's input and classes, with its first weights.

use std::path::Path;

use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use zoo_models::weights::{LoadOptions, LoadReport};
use zoo_models::{ImageClassifier, ModelOptions, ZooModel};

use crate::config::TrainConfig;
use crate::error::TrainError;

/// Saves a model's weights to a Burnpack file, atomically.
pub fn save_weights(model: &ZooModel, path: &Path) -> Result<(), TrainError> {
    Ok(zoo_models::weights::save_burnpack(model, path)?)
}

/// Loads weights into `model`, strictly: every tensor of the model must be in the file with its
/// shape, and the file must hold nothing else. Any format [`zoo_models::weights::load`] reads
/// works: a run's `model.bpk` or checkpoint, a PyTorch state dict, a safetensors file.
pub fn load_weights(model: &mut ZooModel, path: &Path) -> Result<(), TrainError> {
    load_weights_with(model, path, &LoadOptions::default()).map(|_| ())
}

/// [`load_weights`] with options (`allow_partial`, a checkpoint's top-level key); returns what
/// was loaded and what did not fit.
pub fn load_weights_with(model: &mut ZooModel, path: &Path, options: &LoadOptions) -> Result<LoadReport, TrainError> {
    Ok(zoo_models::weights::load(model, path, options)?)
}

/// Model input and class names, recorded in `config.json` so that `zoo predict` and `zoo eval`
/// work without the training data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolvedInput {
    /// `[C, H, W]` of the model's input (after the evaluation transforms).
    pub input: [usize; 3],
    /// `[C, H, W]` of the dataset's own images (before any transform).
    pub raw_input: [usize; 3],
    /// Class names, by label.
    pub classes: Vec<String>,
}

impl ResolvedInput {
    /// The model input a configuration's evaluation transforms make of the test set's first
    /// image, with the given class names.
    pub fn from_datasets(
        config: &TrainConfig,
        test: &dyn zoo_data::Dataset,
        classes: &[String],
    ) -> Result<Self, TrainError> {
        let item = test.get(0)?;
        let raw_input = item.image.shape();
        let input = config.eval_transforms.apply(item.image, config.seed, 0, 0)?.shape();
        Ok(Self { input, raw_input, classes: classes.to_vec() })
    }
}

/// The configured model, sized for the resolved input and classes, on `device`; an input the
/// network cannot take (a vanishing feature map) is an error here rather than mid-training.
pub fn build_model(config: &TrainConfig, device: &Device) -> Result<ZooModel, TrainError> {
    let resolved = config.resolved.as_ref().ok_or(TrainError::Unresolved)?;
    let mut options =
        ModelOptions::default().with_num_classes(resolved.classes.len()).with_in_channels(resolved.input[0]);
    options.dropout = config.dropout;
    options.aux_logits = config.aux_logits;
    let model = zoo_models::create(&config.model, &options, device)?;
    let info = zoo_models::info(&config.model)?;
    let summary = model.summary(info.name, resolved.input).map_err(|source| {
        let [channels, h, w] = resolved.input;
        let smallest_with = |aux| crate::choose::smallest_input(&config.model, channels, h.max(w), aux).ok();
        let mut smallest = smallest_with(config.aux_logits)
            .map(|side| format!("; the smallest input it takes is {channels}x{side}x{side}"))
            .unwrap_or_default();
        // Inception v3's auxiliary head needs 299 pixels, the network itself 75.
        if info.aux_logits.is_some()
            && config.aux_logits != Some(false)
            && let (Some(with), Some(without)) = (smallest_with(config.aux_logits), smallest_with(Some(false)))
            && without < with
        {
            smallest.push_str(&format!(", {channels}x{without}x{without} with --set aux_logits=false"));
        }
        TrainError::Input { model: config.model.clone(), source, hint: smallest }
    })?;
    if let Some(e) = summary.auxiliary_error {
        return Err(TrainError::AuxiliaryInput {
            model: config.model.clone(),
            input: zoo_models::summary::format_shape(&resolved.input),
            reason: e,
        });
    }
    Ok(model)
}

/// The model a session starts training: seeded, on the autodiff device (burn-train forks the
/// learner there, and a parameter born on a plain device is not tracked), with the `init`
/// weights loaded when the run starts from scratch.
pub(super) fn initial_model(config: &TrainConfig, start_epoch: usize) -> Result<ZooModel, TrainError> {
    let device = zoo_models::backend::device(&config.backend)?;
    device.seed(config.seed);
    let mut model = build_model(config, &device.autodiff())?;
    if let (Some(init), 0) = (&config.init, start_epoch) {
        let classes = config.resolved.as_ref().map_or(0, |r| r.classes.len());
        let report = crate::finetune::load_init(&mut model, &config.model, init, classes)
            .map_err(|e| TrainError::Init { model: config.model.clone(), source: Box::new(e) })?;
        println!("weights: {} ({})", report.summary(), init.describe());
    }
    Ok(model)
}
