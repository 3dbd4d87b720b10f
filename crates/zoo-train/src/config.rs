//! The training configuration: what a recipe file holds and what `config.json` records.
//!
//! A recipe is a complete [`TrainConfig`] in JSON. Command-line flags and `--set path=value`
//! overrides are applied to the JSON before it is parsed, so any field can be overridden and every
//! value is checked the same way.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use zoo_data::BatchMix;
use zoo_data::transforms::Pipeline;
use zoo_models::backend::DeviceSelection;

use crate::error::TrainError;

/// Everything that defines a training run. `config.json` in a run directory is this, fully
/// resolved, and `zoo train --resume DIR` reads it back.
///
/// ```
/// let config = zoo_train::recipe("lenet5-synth").unwrap();
/// assert_eq!(config.model, "lenet5");
/// assert_eq!(config.dataset, "synth-digits");
/// config.validate().unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// What the recipe reproduces and how (free text, shown by `zoo recipes`).
    #[serde(default)]
    pub description: String,
    /// The paper or reference recipe the settings come from.
    #[serde(default)]
    pub reference: String,
    /// Registry name of the model.
    pub model: String,
    /// Dataset name (`synth-digits`, `mnist`, `fashion-mnist`, `cifar10`, `cifar100`,
    /// `folder:<path>`).
    pub dataset: String,
    /// Where datasets are read from (and downloaded to).
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Download the dataset into `data_dir` when it is missing.
    #[serde(default)]
    pub download: bool,
    /// Image channels the model takes (image folders are converted to this many).
    #[serde(default = "default_channels")]
    pub channels: usize,
    /// Augmentation of training images.
    pub train_transforms: Pipeline,
    /// Preprocessing of validation, test and `zoo predict` images (resize, normalize, ...).
    pub eval_transforms: Pipeline,
    /// Batch-level mixup / cutmix.
    #[serde(default)]
    pub mix: Option<BatchMix>,
    /// The optimizer.
    pub optimizer: OptimizerConfig,
    /// Base learning rate (the peak for one-cycle and warm-up schedules).
    pub lr: f64,
    /// Learning-rate schedule, stepped every iteration.
    #[serde(default)]
    pub schedule: ScheduleConfig,
    /// Label smoothing (0 = plain cross-entropy).
    #[serde(default)]
    pub label_smoothing: f64,
    /// Classifier dropout, for the models that have one (`None` keeps the model's default).
    #[serde(default)]
    pub dropout: Option<f64>,
    /// Build and train the auxiliary classifiers of GoogLeNet (off by default) and Inception v3
    /// (on by default); their losses are added with weight 0.3 and 0.4 (`None` keeps the model's
    /// default).
    #[serde(default)]
    pub aux_logits: Option<bool>,
    /// Training epochs.
    pub epochs: usize,
    /// Images per batch.
    pub batch_size: usize,
    /// Data-loading worker threads.
    #[serde(default = "default_workers")]
    pub workers: usize,
    /// Seed of initialisation, shuffling and augmentation.
    #[serde(default)]
    pub seed: u64,
    /// Backend to train on (`flex`, `ndarray`, `wgpu`, ...).
    #[serde(default = "default_backend")]
    pub backend: String,
    /// Devices to train on: a count (the backend's first N; on a CPU backend, N workers sharing
    /// its one device) or a list such as `["wgpu:0", "wgpu:1"]`. Data-parallel as PyTorch's
    /// DDP: `batch_size` is per device, each device takes its share of every epoch, and the
    /// gradient is the mean over the devices.
    #[serde(default)]
    pub devices: DeviceSelection,
    /// How several devices train together: Burn's `MultiDevice` strategy (any backend), or its
    /// DDP (an all-reduce inside the backward pass: CUDA with NCCL only).
    #[serde(default)]
    pub strategy: Strategy,
    /// How the devices' gradients are combined: their `mean` (PyTorch DDP's step, the default) or
    /// their `sum` (Burn's `MultiDevice` as it ships: N devices step N times as far).
    #[serde(default)]
    pub gradient_reduction: GradientReduction,
    /// Fraction of the training set held out for validation; 0 validates on the test split
    /// (as torchvision's reference scripts do).
    #[serde(default)]
    pub val_fraction: f64,
    /// Use only the first N training images (quick experiments, tests).
    #[serde(default)]
    pub train_limit: Option<usize>,
    /// Use only the first N test images.
    #[serde(default)]
    pub test_limit: Option<usize>,
    /// Weights the model starts from instead of its random initialisation (fine-tuning); a
    /// classifier head trained for another class count is reset, everything else must fit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<InitWeights>,
    /// Input shape and class names, filled in when a run starts (recipes leave it out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved: Option<crate::run::ResolvedInput>,
}

/// How several devices train together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// burn-train's `MultiDevice`: one worker thread per device, the gradients gathered on the
    /// first device, one optimizer there. Works on every backend.
    #[default]
    MultiDevice,
    /// burn-train's DDP: a mean all-reduce of every gradient inside the backward pass and an
    /// optimizer per device. Only CUDA devices with NCCL have that all-reduce.
    Ddp,
}

/// How the gradients of several devices are combined into one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GradientReduction {
    /// Their mean, as PyTorch's DDP: N devices with B images each step as one device with N·B.
    #[default]
    Mean,
    /// Their sum, as Burn's `MultiDevice` strategy alone gives: N times the mean.
    Sum,
}

/// Where a fine-tuned model's starting weights come from: `{"pretrained": "DEFAULT"}` or
/// `{"file": "resnet18.pth"}`.
///
/// ```
/// let json = serde_json::json!({"file": "runs/cifar/model.bpk"});
/// let init: zoo_train::config::InitWeights = serde_json::from_value(json).unwrap();
/// assert_eq!(init.describe(), "runs/cifar/model.bpk");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitWeights {
    /// torchvision's published weights for the model, by tag (`DEFAULT`, `IMAGENET1K_V1`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pretrained: Option<String>,
    /// A weights file: a run's `model.bpk`, a PyTorch state dict, a safetensors file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    /// The entry of a PyTorch checkpoint that holds the state dict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_level_key: Option<String>,
}

impl InitWeights {
    /// How the weights are named in messages: the file, or `pretrained TAG`.
    pub fn describe(&self) -> String {
        match (&self.pretrained, &self.file) {
            (Some(tag), _) => format!("torchvision's {tag} weights"),
            (None, Some(file)) => file.display().to_string(),
            (None, None) => "no weights".to_string(),
        }
    }
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("data")
}
fn default_channels() -> usize {
    3
}
fn default_workers() -> usize {
    2
}
fn default_backend() -> String {
    zoo_models::backend::DEFAULT_BACKEND.to_string()
}

/// The optimizer and its hyper-parameters (the learning rate is [`TrainConfig::lr`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "snake_case", deny_unknown_fields)]
pub enum OptimizerConfig {
    /// SGD with momentum, as `torch.optim.SGD`.
    Sgd {
        /// Momentum factor (0 disables momentum).
        #[serde(default)]
        momentum: f64,
        /// Dampening of the momentum (PyTorch's default: 0).
        #[serde(default)]
        dampening: f64,
        /// Nesterov momentum.
        #[serde(default)]
        nesterov: bool,
        /// L2 penalty added to the gradient.
        #[serde(default)]
        weight_decay: f64,
        /// Exempt BatchNorm parameters and biases (all 1-d parameters) from weight decay.
        #[serde(default)]
        no_decay_bn_bias: bool,
    },
    /// Adam, as `torch.optim.Adam` (weight decay is an L2 penalty on the gradient).
    Adam {
        /// `(beta1, beta2)`.
        #[serde(default = "default_betas")]
        betas: [f32; 2],
        /// Denominator epsilon.
        #[serde(default = "default_eps")]
        eps: f32,
        /// L2 penalty added to the gradient.
        #[serde(default)]
        weight_decay: f64,
        /// Exempt BatchNorm parameters and biases from weight decay.
        #[serde(default)]
        no_decay_bn_bias: bool,
    },
    /// AdamW, as `torch.optim.AdamW` (decoupled weight decay).
    AdamW {
        /// `(beta1, beta2)`.
        #[serde(default = "default_betas")]
        betas: [f32; 2],
        /// Denominator epsilon.
        #[serde(default = "default_eps")]
        eps: f32,
        /// Decoupled weight decay (PyTorch's default: 0.01).
        #[serde(default = "default_adamw_decay")]
        weight_decay: f64,
        /// Exempt BatchNorm parameters and biases from weight decay.
        #[serde(default)]
        no_decay_bn_bias: bool,
    },
}

fn default_betas() -> [f32; 2] {
    [0.9, 0.999]
}
fn default_eps() -> f32 {
    1e-8
}
fn default_adamw_decay() -> f64 {
    0.01
}

/// When a schedule's step counts are measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Epochs (converted with the number of iterations per epoch).
    #[default]
    Epochs,
    /// Optimizer steps.
    Iterations,
}

/// Learning-rate schedules, all evaluated per iteration.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "snake_case", deny_unknown_fields)]
pub enum ScheduleConfig {
    /// The base learning rate throughout.
    #[default]
    Constant,
    /// Multiply by `gamma` every `step_size` units (`torch.optim.lr_scheduler.StepLR`).
    Step {
        /// Length of a step.
        step_size: f64,
        /// Factor applied at each step.
        #[serde(default = "default_gamma")]
        gamma: f64,
        /// Unit of `step_size`.
        #[serde(default)]
        unit: Unit,
    },
    /// Multiply by `gamma` at each milestone (`MultiStepLR`).
    MultiStep {
        /// Where the rate drops.
        milestones: Vec<f64>,
        /// Factor applied at each milestone.
        #[serde(default = "default_gamma")]
        gamma: f64,
        /// Unit of the milestones (and of `warmup`).
        #[serde(default)]
        unit: Unit,
        /// A constant warm-up before the schedule proper (He et al.'s ResNet-110 trains at
        /// `0.1 × lr` for 400 iterations).
        #[serde(default)]
        warmup: f64,
        /// Factor applied to `lr` during the warm-up.
        #[serde(default = "default_one")]
        warmup_factor: f64,
    },
    /// Linear warm-up from `warmup_start_factor × lr` to `lr`, then cosine decay to `min_lr`.
    Cosine {
        /// Warm-up length.
        #[serde(default)]
        warmup: f64,
        /// Unit of `warmup`.
        #[serde(default)]
        unit: Unit,
        /// Factor of the first warm-up step.
        #[serde(default = "default_warmup_start")]
        warmup_start_factor: f64,
        /// Final learning rate.
        #[serde(default)]
        min_lr: f64,
    },
    /// One-cycle (`OneCycleLR`, cosine annealing): from `lr / div_factor` up to `lr` over
    /// `pct_start` of the run, then down to `lr / (div_factor × final_div_factor)`.
    OneCycle {
        /// Fraction of the run spent increasing.
        #[serde(default = "default_pct_start")]
        pct_start: f64,
        /// `lr / initial lr`.
        #[serde(default = "default_div_factor")]
        div_factor: f64,
        /// `initial lr / final lr`.
        #[serde(default = "default_final_div_factor")]
        final_div_factor: f64,
    },
}

fn default_gamma() -> f64 {
    0.1
}
fn default_one() -> f64 {
    1.0
}
fn default_warmup_start() -> f64 {
    0.01
}
fn default_pct_start() -> f64 {
    0.3
}
fn default_div_factor() -> f64 {
    25.0
}
fn default_final_div_factor() -> f64 {
    1e4
}

/// A recipe shipped with the project: its name and JSON text (`recipes/<name>.json`).
pub struct Recipe {
    /// Name, as given to `--recipe`.
    pub name: &'static str,
    /// The JSON file's text.
    pub json: &'static str,
}

macro_rules! recipes {
    ($($name:literal),* $(,)?) => {
        /// The recipes under `recipes/`, embedded so that `zoo train` works from any directory.
        /// A model's first recipe here is its default.
        pub const RECIPES: &[Recipe] = &[
            $(Recipe { name: $name, json: include_str!(concat!("../../../recipes/", $name, ".json")) },)*
        ];
    };
}

recipes!(
    "lenet5-synth", "lenet5-mnist", "lenet5-fashion-mnist", "resnet20-cifar10", "resnet20-fashion-mnist",
    "googlenet-fashion-mnist", "densenet121-fashion-mnist", "resnet32-cifar10", "resnet44-cifar10", "resnet56-cifar10",
    "resnet110-cifar10", "vgg16_bn-cifar10", "alexnet-imagenette",
);

/// The embedded recipe `name`, parsed.
///
/// ```
/// let c = zoo_train::recipe("resnet56-cifar10").unwrap();
/// assert_eq!(c.batch_size, 128);
/// assert!(zoo_train::recipe("resnet57-cifar10").is_err());
/// ```
pub fn recipe(name: &str) -> Result<TrainConfig, TrainError> {
    parse_config(&recipe_json(name)?, &format!("recipe {name}"))
}

pub(crate) fn recipe_json(name: &str) -> Result<Value, TrainError> {
    let recipe = RECIPES.iter().find(|r| r.name == name).ok_or_else(|| {
        let names: Vec<_> = RECIPES.iter().map(|r| r.name).collect();
        TrainError::UnknownRecipe { name: name.to_string(), known: names.join(", ") }
    })?;
    serde_json::from_str(recipe.json)
        .map_err(|source| TrainError::ConfigJson { origin: format!("recipe {name}"), source })
}

/// The JSON of a recipe given as a name (`lenet5-synth`) or a file path; with no recipe, the
/// model's default ([`crate::choose_recipe`] with no dataset).
pub fn load_recipe_json(recipe: Option<&str>, model: Option<&str>) -> Result<Value, TrainError> {
    match recipe {
        Some(r) if Path::new(r).is_file() => {
            let text = std::fs::read_to_string(r).map_err(|e| TrainError::io(r, e))?;
            serde_json::from_str(&text).map_err(|source| TrainError::ConfigJson { origin: r.to_string(), source })
        }
        Some(r) if r.ends_with(".json") => Err(TrainError::file(r, "recipe file not found")),
        Some(r) => recipe_json(r),
        None => {
            let model = model.ok_or(TrainError::NoModel)?;
            Ok(crate::choose::choose_recipe(model, None)?.json)
        }
    }
}

/// Sets `path` (dot-separated, e.g. `optimizer.momentum`) in a JSON config to `value`, which is
/// parsed as JSON when it can be (numbers, booleans, objects) and taken as a string otherwise.
///
/// ```
/// let mut v = serde_json::json!({"optimizer": {"name": "sgd"}, "epochs": 3});
/// zoo_train::config::set_field(&mut v, "optimizer.momentum", "0.9").unwrap();
/// zoo_train::config::set_field(&mut v, "epochs", "5").unwrap();
/// assert_eq!(v["optimizer"]["momentum"], 0.9);
/// assert_eq!(v["epochs"], 5);
/// ```
pub fn set_field(config: &mut Value, path: &str, value: &str) -> Result<(), TrainError> {
    let parsed = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.into()));
    let mut node = config;
    let mut keys = path.split('.').peekable();
    while let Some(key) = keys.next() {
        let object = node.as_object_mut().ok_or_else(|| TrainError::SetField {
            path: path.into(),
            reason: format!("`{key}` is not inside an object"),
        })?;
        if keys.peek().is_none() {
            object.insert(key.to_string(), parsed);
            return Ok(());
        }
        node = object.entry(key.to_string()).or_insert_with(|| Value::Object(Default::default()));
    }
    Err(TrainError::SetField { path: path.into(), reason: "empty path".into() })
}

/// The `source` of a configuration composed on the command line (a recipe and flags), whose
/// errors name the field alone: the value may come from either.
pub const COMMAND_LINE: &str = "configuration";

/// Parses and validates a configuration; `source` says where the JSON came from (a file, `recipe
/// NAME`, [`COMMAND_LINE`]) and every error names it, but for the command line's.
///
/// ```
/// let json = serde_json::json!({"lr": -1});
/// let error = zoo_train::config::parse_config(&json, "my.json").unwrap_err().to_string();
/// assert!(error.starts_with("my.json: "), "{error}");
/// ```
pub fn parse_config(json: &Value, source: &str) -> Result<TrainConfig, TrainError> {
    let config: TrainConfig = serde_json::from_value(json.clone())
        .map_err(|e| TrainError::ConfigJson { origin: source.into(), source: e })?;
    config.validate().map_err(|e| match source {
        COMMAND_LINE => e,
        _ => TrainError::InvalidIn { origin: source.into(), source: Box::new(e) },
    })?;
    Ok(config)
}

impl TrainConfig {
    /// Checks ranges that serde cannot: a zero batch size, a negative learning rate, ...
    pub fn validate(&self) -> Result<(), TrainError> {
        let bad = |field: &str, why: String| Err(TrainError::invalid(field, why));
        if self.batch_size == 0 {
            return bad("batch_size", "must be at least 1".into());
        }
        if self.epochs == 0 {
            return bad("epochs", "must be at least 1".into());
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad("lr", format!("{} is not a positive learning rate", self.lr));
        }
        if !(0.0..1.0).contains(&self.label_smoothing) {
            return bad("label_smoothing", format!("{} is not in [0, 1)", self.label_smoothing));
        }
        if !(0.0..1.0).contains(&self.val_fraction) {
            return bad("val_fraction", format!("{} is not in [0, 1)", self.val_fraction));
        }
        if let Some(p) = self.dropout
            && !(0.0..1.0).contains(&p)
        {
            return bad("dropout", format!("{p} is not in [0, 1)"));
        }
        if self.channels != 1 && self.channels != 3 {
            return bad("channels", format!("{} (1 or 3)", self.channels));
        }
        if self.train_limit == Some(0) || self.test_limit == Some(0) {
            return bad("train_limit/test_limit", "must be at least 1".into());
        }
        zoo_models::backend::check_backend(&self.backend)?;
        self.devices.validate()?;
        if let Some(listed) = self.devices.backend()? {
            let remote = |b: &str| b.starts_with(zoo_models::backend::REMOTE_PREFIX);
            if listed != self.backend && !(remote(&listed) && remote(&self.backend)) {
                return bad("devices", format!("`{}` are not devices of the backend `{}`", self.devices, self.backend));
            }
        }
        if self.strategy == Strategy::Ddp && !(cfg!(feature = "cuda") && self.backend == "cuda") {
            return bad(
                "strategy",
                format!(
                    "ddp needs CUDA devices with NCCL, the only all-reduce Burn 0.22 has (backend `{}`{}); \
                     use --strategy multi-device, which averages the gradients the same way on any backend",
                    self.backend,
                    if cfg!(feature = "cuda") { "" } else { ", and this build has no cuda" }
                ),
            );
        }
        zoo_models::info(&self.model)?;
        if let Some(init) = &self.init
            && init.pretrained.is_some() == init.file.is_some()
        {
            return bad("init", "give either `pretrained` (a tag) or `file`".into());
        }
        Ok(())
    }
}
