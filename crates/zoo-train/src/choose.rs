//! Which recipe `zoo train MODEL --dataset D` starts from when no `--recipe` is given, and how
//! it is fitted to the data: the shipped recipe for the pair if there is one, else the model's
//! own or its family's recipe adapted to the dataset, else the generic default. Adapting means
//! the dataset's channels and normalisation statistics, augmentation that suits it (crops and
//! flips for photographs only) and an input the model can take.

use serde_json::{Value, json};
use zoo_data::transforms::{CIFAR10_MEAN, CIFAR10_STD, MNIST_MEAN, MNIST_STD};
use zoo_models::summary::format_shape;
use zoo_models::{ImageClassifier, ModelOptions};

use crate::config::{RECIPES, recipe_json};
use crate::error::TrainError;

/// What a recipe needs to know about a dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetProfile {
    /// Image channels.
    pub channels: usize,
    /// Per-channel mean of the training images, for `normalize`.
    pub mean: Vec<f32>,
    /// Per-channel standard deviation of the training images.
    pub std: Vec<f32>,
    /// Photographs, where random crops and horizontal flips are the usual augmentation (digits
    /// and clothes are centred and upright: flipping a 2 or a shoe makes another image class).
    pub natural: bool,
    /// `[height, width]` of every image, or `None` for an image folder of mixed sizes.
    pub size: Option<[usize; 2]>,
}

/// The profile of a dataset name as `--dataset` takes it.
///
/// ```
/// let mnist = zoo_train::choose::dataset_profile("mnist").unwrap();
/// assert_eq!((mnist.channels, mnist.size), (1, Some([28, 28])));
/// assert!(zoo_train::choose::dataset_profile("folder:/data/pets").unwrap().natural);
/// ```
pub fn dataset_profile(dataset: &str) -> Result<DatasetProfile, TrainError> {
    let grey = |mean: f32, std: f32, side: usize| DatasetProfile {
        channels: 1,
        mean: vec![mean],
        std: vec![std],
        natural: false,
        size: Some([side, side]),
    };
    let colour = |mean: [f32; 3], std: [f32; 3], size: Option<[usize; 2]>| DatasetProfile {
        channels: 3,
        mean: mean.to_vec(),
        std: std.to_vec(),
        natural: true,
        size,
    };
    Ok(match dataset {
        "synth-digits" => grey(MNIST_MEAN, MNIST_STD, zoo_data::SYNTH_SIZE),
        "mnist" => grey(MNIST_MEAN, MNIST_STD, 28),
        // Fashion-MNIST's training images (Xiao et al. 2017), as commonly computed.
        "fashion-mnist" => grey(0.2860, 0.3530, 28),
        "cifar10" => colour(CIFAR10_MEAN, CIFAR10_STD, Some([32, 32])),
        "cifar100" => colour([0.5071, 0.4865, 0.4409], [0.2673, 0.2564, 0.2762], Some([32, 32])),
        // Photographs of any size: ImageNet's statistics, as torchvision's pretrained models use.
        d if d.starts_with("folder:") => colour([0.485, 0.456, 0.406], [0.229, 0.224, 0.225], None),
        other => {
            return Err(TrainError::UnknownDataset(other.to_string()));
        }
    })
}

/// A recipe chosen for a model and a dataset, with the reasons to print.
#[derive(Debug, Clone)]
pub struct RecipeChoice {
    /// The configuration's JSON, before command-line overrides.
    pub json: Value,
    /// Which recipe it is, and why it was chosen.
    pub reason: String,
    /// How the images (and the model's auxiliary heads) are fitted, when they had to be.
    pub input_notes: Vec<String>,
}

/// The settings used when neither the model nor its family has a recipe: SGD with Nesterov
/// momentum and a cosine schedule with one epoch of warm-up, as timm's and torchvision's
/// reference scripts start from, sized for a few epochs on a CPU.
pub const GENERIC_DEFAULT: &str = "SGD (momentum 0.9, Nesterov, weight decay 5e-4, none on BatchNorm and biases), \
     lr 0.05, cosine decay after one epoch of linear warm-up, 10 epochs, batch 64; \
     random crops and horizontal flips on photographs only";

fn generic_json(model: &str, dataset: &str) -> Value {
    json!({
        "description": format!("The generic default for {model} on {dataset}: {GENERIC_DEFAULT}."),
        "reference": "burn-zoo's generic default (no recipe reproduces this model on this dataset)",
        "model": model,
        "dataset": dataset,
        "optimizer": {"name": "sgd", "momentum": 0.9, "nesterov": true, "weight_decay": 5e-4, "no_decay_bn_bias": true},
        "lr": 0.05,
        "schedule": {"name": "cosine", "warmup": 1.0, "unit": "epochs"},
        "epochs": 10,
        "batch_size": 64,
        "seed": 0
    })
}

/// The recipe for `model` on `dataset` (the model's own dataset when `None`): see the module
/// documentation for the order in which recipes are tried.
///
/// ```
/// let choice = zoo_train::choose::choose_recipe("lenet5", Some("mnist")).unwrap();
/// assert_eq!(choice.json["dataset"], "mnist");
/// assert!(choice.reason.contains("lenet5-mnist"), "{}", choice.reason);
/// let choice = zoo_train::choose::choose_recipe("resnet20", Some("mnist")).unwrap();
/// assert_eq!(choice.json["channels"], 1);
/// ```
pub fn choose_recipe(model: &str, dataset: Option<&str>) -> Result<RecipeChoice, TrainError> {
    choose_recipe_with(model, dataset, true)
}

/// [`choose_recipe`], with `resize` false keeping the images as they are (`--no-resize`): an
/// input the model cannot take is then an error naming the smallest one it can.
///
/// ```
/// let error = zoo_train::choose::choose_recipe_with("alexnet", Some("mnist"), false).unwrap_err();
/// assert!(error.to_string().contains("the smallest it takes is 1x63x63"), "{error}");
/// ```
pub fn choose_recipe_with(model: &str, dataset: Option<&str>, resize: bool) -> Result<RecipeChoice, TrainError> {
    let info = zoo_models::info(model)?;
    let shipped: Vec<(&str, Value)> =
        RECIPES.iter().map(|r| recipe_json(r.name).map(|json| (r.name, json))).collect::<Result<_, _>>()?;
    let of_model = |json: &Value| json["model"] == model;
    let on = |json: &Value, d: &str| json["dataset"] == d;

    if let Some((name, json)) = shipped.iter().find(|(_, j)| of_model(j) && dataset.is_none_or(|d| on(j, d))) {
        let reason = match dataset {
            Some(d) => format!("recipe {name}: the shipped recipe for {model} on {d}"),
            None => format!("recipe {name}: {model}'s default"),
        };
        return Ok(RecipeChoice { json: json.clone(), reason, input_notes: Vec::new() });
    }
    // No recipe trains this model at all and no dataset was named: the embedded digits, offline.
    let dataset = dataset.unwrap_or("synth-digits");
    let profile = dataset_profile(dataset)?;
    let family_of = |json: &Value| json["model"].as_str().and_then(|m| zoo_models::info(m).ok()).map(|i| i.family);
    let same_channels = |json: &Value| json["channels"].as_u64() == Some(profile.channels as u64);
    let base = shipped
        .iter()
        .find(|(_, j)| of_model(j) && same_channels(j))
        .or_else(|| shipped.iter().find(|(_, j)| of_model(j)))
        .or_else(|| shipped.iter().find(|(_, j)| family_of(j) == Some(info.family)));
    let (mut json, reason) = match base {
        Some((name, json)) => {
            let whose = if of_model(json) { format!("{model}'s") } else { format!("the {} family's", info.family) };
            let reason = format!(
                "recipe {name} adapted to {dataset}: no shipped recipe trains {model} on {dataset}, so {whose} \
                 optimizer, schedule, epochs and batch size with {dataset}'s channels, statistics and augmentation"
            );
            let mut json = json.clone();
            json["description"] = Value::from(format!("{name} adapted to {dataset}."));
            (json, reason)
        }
        None => (
            generic_json(model, dataset),
            format!(
                "the generic default: no shipped recipe trains {model} or another {} model ({GENERIC_DEFAULT})",
                info.family
            ),
        ),
    };
    json["model"] = Value::from(model);
    json["dataset"] = Value::from(dataset);
    json["channels"] = Value::from(profile.channels);
    let fit = if resize { fit_input(model, &profile)? } else { keep_input(model, dataset, &profile)? };
    let (train, eval) = transforms_for(&profile, &fit);
    json["train_transforms"] = train;
    json["eval_transforms"] = eval;
    if fit.without_aux {
        json["aux_logits"] = Value::Bool(false);
    }
    Ok(RecipeChoice { json, reason, input_notes: fit.notes })
}

/// How images reach the model: their side after resizing or padding, and a line saying so.
#[derive(Debug, Clone, PartialEq)]
struct InputFit {
    /// What the transforms make of each image: nothing, a pad then a crop to `side`, or a resize.
    action: FitAction,
    /// The lines to print when the images or the model are changed to fit.
    notes: Vec<String>,
    /// The auxiliary classifier is turned off: it needs a larger input than the network.
    without_aux: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum FitAction {
    Keep,
    /// Zero-pad by `pad` on every side, then centre-crop to `side` (when the growth is odd).
    Pad {
        pad: usize,
        side: usize,
    },
    /// Resize to `side x side`.
    Resize {
        side: usize,
    },
    /// An image folder: resize the shorter side to `side * 8 / 7` and crop `side` (torchvision's
    /// ImageNet evaluation; random crops in training).
    Folder {
        side: usize,
    },
}

/// Padding grows an image by up to this many pixels; beyond, it is resized.
const MAX_PAD_GROWTH: usize = 8;
/// The largest square input searched for the smallest one a model takes.
const LARGEST_SEARCHED: usize = 1024;

fn fit_input(model: &str, profile: &DatasetProfile) -> Result<InputFit, TrainError> {
    let info = zoo_models::info(model)?;
    let Some([h, w]) = profile.size else {
        let side = info.default_input[1];
        return Ok(InputFit { action: FitAction::Folder { side }, notes: Vec::new(), without_aux: false });
    };
    let mut smallest = smallest_input(model, profile.channels, h.max(w), None)?;
    let mut notes = Vec::new();
    let mut without_aux = false;
    if info.aux_logits == Some(true) {
        // An auxiliary head that needs a far larger input than the network (Inception v3's,
        // 75 against 299 pixels) is left out rather than the images blown up to fit it.
        let bare = smallest_input(model, profile.channels, h.max(w), Some(false))?;
        if bare < smallest {
            notes.push(format!(
                "aux_logits: off, {model}'s auxiliary classifier needs {smallest}x{smallest} inputs (--set aux_logits=true keeps it)"
            ));
            (smallest, without_aux) = (bare, true);
        }
    }
    if smallest == h && smallest == w {
        return Ok(InputFit { action: FitAction::Keep, notes, without_aux });
    }
    let (action, how) = if smallest - h.min(w) <= MAX_PAD_GROWTH {
        (FitAction::Pad { pad: (smallest - h.min(w)).div_ceil(2), side: smallest }, "zero-padded")
    } else {
        (FitAction::Resize { side: smallest }, "resized")
    };
    notes.push(format!(
        "input: {h}x{w} images {how} to {smallest}x{smallest}, the smallest input {model} takes from {}",
        format_shape(&[profile.channels, h, w])
    ));
    Ok(InputFit { action, notes, without_aux })
}

// `--no-resize`: the images as they are, if the model takes them.
fn keep_input(model: &str, dataset: &str, profile: &DatasetProfile) -> Result<InputFit, TrainError> {
    let keep = InputFit { action: FitAction::Keep, notes: Vec::new(), without_aux: false };
    // A folder's sizes are known once its images are read: the run checks the first one.
    let Some([h, w]) = profile.size else {
        return Ok(keep);
    };
    let info = zoo_models::info(model)?;
    let aux = info.aux_logits.map(|_| false);
    let smallest = smallest_input(model, profile.channels, 1, aux)?;
    if smallest <= h.min(w) {
        // As when resizing, an auxiliary head the images are too small for is left out.
        let without_aux =
            info.aux_logits == Some(true) && smallest_input(model, profile.channels, h.min(w), None)? > h.min(w);
        let notes = without_aux
            .then(|| format!("aux_logits: off, {model}'s auxiliary classifier cannot take {h}x{w} inputs"))
            .into_iter()
            .collect();
        return Ok(InputFit { notes, without_aux, ..keep });
    }
    Err(TrainError::ImagesTooSmall {
        model: model.to_string(),
        dataset: dataset.to_string(),
        found: format_shape(&[profile.channels, h, w]),
        smallest: format_shape(&[profile.channels, smallest, smallest]),
    })
}

/// The smallest square side, from `at_least` up, that `model` takes with `channels` channels;
/// one error naming the model when none up to 1024 works.
pub(crate) fn smallest_input(
    model: &str,
    channels: usize,
    at_least: usize,
    aux_logits: Option<bool>,
) -> Result<usize, TrainError> {
    let device = zoo_models::backend::device(zoo_models::backend::DEFAULT_BACKEND)?;
    // The classes do not change which inputs work; two keep the classifier small.
    let mut options = ModelOptions::default().with_num_classes(2).with_in_channels(channels);
    options.aux_logits = aux_logits;
    let network = zoo_models::create(model, &options, &device)?;
    (at_least..=LARGEST_SEARCHED)
        // An auxiliary classifier that trains by default must fit too (Inception v3's).
        .find(|&side| network.summary(model, [channels, side, side]).is_ok_and(|s| s.auxiliary_error.is_none()))
        .ok_or_else(|| TrainError::NoInputFits { model: model.to_string(), channels, largest: LARGEST_SEARCHED })
}

fn transforms_for(profile: &DatasetProfile, fit: &InputFit) -> (Value, Value) {
    let normalize = json!({"type": "normalize", "mean": profile.mean, "std": profile.std});
    let mut train = Vec::new();
    let mut eval = Vec::new();
    let mut both = |t: Value| {
        train.push(t.clone());
        eval.push(t);
    };
    let side = match fit.action {
        FitAction::Keep => profile.size.map(|[h, _]| h).unwrap_or(0),
        FitAction::Pad { pad, side } => {
            both(json!({"type": "pad", "padding": pad, "padding_mode": "zero"}));
            both(json!({"type": "center_crop", "size": [side, side]}));
            side
        }
        FitAction::Resize { side } => {
            both(json!({"type": "resize", "size": [side, side]}));
            side
        }
        FitAction::Folder { side } => {
            let shorter = side * 8 / 7;
            train.push(json!({"type": "resize_shorter", "size": shorter}));
            train.push(json!({"type": "random_crop", "size": [side, side]}));
            eval.push(json!({"type": "resize_shorter", "size": shorter}));
            eval.push(json!({"type": "center_crop", "size": [side, side]}));
            side
        }
    };
    if profile.natural {
        if side > 0 && !matches!(fit.action, FitAction::Folder { .. }) {
            // CIFAR's augmentation: 4 pixels at 32, an eighth of the side in general.
            let padding = (side / 8).max(1);
            train
                .push(json!({"type": "random_crop", "size": [side, side], "padding": padding, "padding_mode": "zero"}));
        }
        train.push(json!({"type": "horizontal_flip", "p": 0.5}));
    }
    train.push(normalize.clone());
    eval.push(normalize);
    (Value::Array(train), Value::Array(eval))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shipped_pair_wins() {
        let choice = choose_recipe("lenet5", Some("mnist")).unwrap();
        assert_eq!(choice.json, recipe_json("lenet5-mnist").unwrap());
        let default = choose_recipe("resnet20", None).unwrap();
        assert!(default.reason.contains("resnet20-cifar10"), "{}", default.reason);
    }

    #[test]
    fn digits_into_a_cifar_resnet_get_one_channel_and_no_flips() {
        let choice = choose_recipe("resnet32", Some("synth-digits")).unwrap();
        assert!(choice.reason.contains("resnet32-cifar10 adapted"), "{}", choice.reason);
        assert_eq!(choice.json["channels"], 1);
        assert_eq!(choice.json["optimizer"]["name"], "sgd");
        let train = choice.json["train_transforms"].as_array().unwrap();
        assert_eq!(train.len(), 1, "{train:?}");
        assert_eq!(train[0]["mean"].as_array().unwrap().len(), 1);
        crate::config::parse_config(&choice.json, "test").unwrap().validate().unwrap();
    }

    #[test]
    fn a_family_recipe_adapted_to_fashion_mnist_pads_to_the_smallest_input() {
        // densenet121's own recipe pads to 32 for CIFAR's crops; densenet169 borrows its family's
        // settings and gets the smallest input that works, without flips.
        let shipped = choose_recipe("densenet121", Some("fashion-mnist")).unwrap();
        assert!(shipped.reason.contains("densenet121-fashion-mnist: the shipped recipe"), "{}", shipped.reason);
        let choice = choose_recipe("densenet169", Some("fashion-mnist")).unwrap();
        assert!(choice.reason.contains("densenet121-fashion-mnist adapted"), "{}", choice.reason);
        assert!(!choice.json["train_transforms"].to_string().contains("flip"), "{}", choice.json);
        let note = choice.input_notes.join("\n");
        assert!(note.contains("zero-padded to 29x29"), "{note}");
        assert_eq!(choice.json["eval_transforms"][0]["padding"], 1);
        assert_eq!(choice.json["eval_transforms"][1]["size"], serde_json::json!([29, 29]));
    }

    #[test]
    fn a_model_without_recipes_gets_the_generic_default() {
        let choice = choose_recipe("zfnet", Some("cifar10")).unwrap();
        assert!(choice.reason.starts_with("the generic default"), "{}", choice.reason);
        let train: Vec<&str> =
            choice.json["train_transforms"].as_array().unwrap().iter().map(|t| t["type"].as_str().unwrap()).collect();
        assert!(train.ends_with(&["random_crop", "horizontal_flip", "normalize"]), "{train:?}");
        crate::config::parse_config(&choice.json, "test").unwrap().validate().unwrap();
    }

    #[test]
    fn mnist_into_alexnet_is_resized_to_the_smallest_input_it_takes() {
        let choice = choose_recipe("alexnet", Some("mnist")).unwrap();
        let note = choice.input_notes.join("\n");
        assert!(note.contains("resized to 63x63"), "{note}");
        assert_eq!(choice.json["eval_transforms"][0]["size"], serde_json::json!([63, 63]));
    }

    #[test]
    fn inception_v3_on_small_images_trains_without_its_auxiliary_classifier() {
        let choice = choose_recipe("inception_v3", Some("cifar10")).unwrap();
        assert_eq!(choice.json["aux_logits"], false);
        let notes = choice.input_notes.join("\n");
        assert!(notes.contains("aux_logits: off") && notes.contains("resized to 75x75"), "{notes}");
    }
}
