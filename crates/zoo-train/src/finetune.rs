//! Fine-tuning: a run that starts from weights (`--pretrained`, `--weights FILE`) rather than a
//! random initialisation. The weights fix the model's input channels, so the data is converted
//! to them (grey digits repeated into RGB for ImageNet weights); a classifier head trained for
//! another class count is reset, as timm's `reset_classifier` does; everything else must fit.

use std::path::PathBuf;

use serde_json::{Value, json};
use zoo_models::weights::{LoadOptions, LoadReport};
use zoo_models::{ModelOptions, ZooModel};

use crate::config::InitWeights;
use crate::error::TrainError;

/// The file `init` names, downloading torchvision's published weights first if need be.
pub fn weights_file(model: &str, init: &InitWeights) -> Result<PathBuf, TrainError> {
    match (&init.pretrained, &init.file) {
        (Some(tag), _) => {
            let weights = zoo_models::pretrained::lookup(model, Some(tag))?;
            Ok(zoo_models::hub::fetch(weights)?)
        }
        (None, Some(file)) => Ok(file.clone()),
        (None, None) => Err(TrainError::invalid("init", "give either `pretrained` (a tag) or `file`")),
    }
}

/// Loads `init` into `model` (built for `classes` classes): every tensor strictly, except a
/// classifier head for another class count, which keeps its initialisation and is listed in the
/// report's `reset`.
pub fn load_init(
    model: &mut ZooModel,
    name: &str,
    init: &InitWeights,
    classes: usize,
) -> Result<LoadReport, TrainError> {
    let path = weights_file(name, init)?;
    let options = LoadOptions {
        allow_partial: false,
        top_level_key: init.top_level_key.clone(),
        reset_classifier: Some(classes),
    };
    Ok(zoo_models::weights::load(model, &path, &options)?)
}

/// The input channels `init`'s weights were trained with: 3 for torchvision's; for a file, the
/// count (1 or 3) for which every convolution of `model` fits the file, or `None` when neither
/// does (the file is not this model's, and loading it says which tensors differ).
///
/// ```no_run
/// let init = zoo_train::config::InitWeights { pretrained: None, file: Some("lenet5.bpk".into()), top_level_key: None };
/// assert_eq!(zoo_train::finetune::weights_channels("lenet5", &init)?, Some(1));
/// # Ok::<(), zoo_train::TrainError>(())
/// ```
pub fn weights_channels(model: &str, init: &InitWeights) -> Result<Option<usize>, TrainError> {
    if init.pretrained.is_some() {
        return Ok(Some(3));
    }
    let path = weights_file(model, init)?;
    let device = zoo_models::backend::device(zoo_models::backend::DEFAULT_BACKEND)?;
    let options =
        LoadOptions { allow_partial: true, top_level_key: init.top_level_key.clone(), reset_classifier: None };
    let mut fits = Vec::new();
    for channels in [1, 3] {
        let mut network = zoo_models::create(model, &ModelOptions::default().with_in_channels(channels), &device)?;
        let report = zoo_models::weights::load(&mut network, &path, &options)?;
        // Only the stem's filters depend on the input channels; the class count shows in rank 1-2.
        if report.missing.is_empty() && report.mismatched.iter().all(|m| m.model.len() <= 2) {
            fits.push(channels);
        }
    }
    Ok(match fits[..] {
        [channels] => Some(channels),
        _ => None,
    })
}

/// Converts a configuration's images to `channels` (1 or 3) for weights that take that many: a
/// `grayscale` step first in both pipelines (converting only images of the other count), the normalisation statistics repeated (grey to
/// colour) or averaged (colour to grey), and `channels` set. Returns the line saying so, or
/// `None` when the data already has those channels.
///
/// ```
/// let mut json = zoo_train::choose::choose_recipe("resnet18", Some("mnist")).unwrap().json;
/// let note = zoo_train::finetune::convert_channels(&mut json, 3).unwrap();
/// assert!(note.contains("grey images repeated into 3 channels"), "{note}");
/// assert_eq!(json["train_transforms"][0]["type"], "grayscale");
/// ```
pub fn convert_channels(json: &mut Value, channels: usize) -> Option<String> {
    let from = json["channels"].as_u64().unwrap_or(3) as usize;
    if from == channels {
        return None;
    }
    json["channels"] = Value::from(channels);
    for pipeline in ["train_transforms", "eval_transforms"] {
        let Some(steps) = json[pipeline].as_array_mut() else {
            continue;
        };
        for step in steps.iter_mut().filter(|s| s["type"] == "normalize") {
            for stat in ["mean", "std"] {
                let values: Vec<f64> = step[stat].as_array().into_iter().flatten().filter_map(Value::as_f64).collect();
                let average = values.iter().sum::<f64>() / values.len().max(1) as f64;
                step[stat] = json!(vec![average; channels]);
            }
        }
        // p = 0 converts only images whose channel count differs: a folder read with the new
        // count already has it, and its colours must stay.
        steps.insert(0, json!({"type": "grayscale", "p": 0.0, "channels": channels}));
    }
    let dataset = json["dataset"].as_str().unwrap_or("the dataset").to_string();
    Some(if channels == 3 {
        format!("channels: {dataset}'s grey images repeated into 3 channels, as the weights take colour input")
    } else {
        format!("channels: {dataset}'s colour images turned grey, as the weights take 1-channel input")
    })
}
