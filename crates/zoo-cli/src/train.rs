//! `zoo train`, `zoo eval`, `zoo predict` and `zoo recipes`.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::Value;
use zoo_models::ZooModel;
use zoo_models::summary::render_table;
use zoo_train::TrainConfig;
use zoo_train::eval::InputTransform;
use zoo_train::run::RunDir;

use crate::error::{CliError, Context};
use crate::{Format, write_output};

/// Arguments of `zoo train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Model to train (registry name); without --recipe, the recipe is chosen for it and --dataset
    /// (see `zoo recipes`).
    pub model: Option<String>,
    /// Recipe name (see `zoo recipes`) or JSON file.
    #[arg(long, value_name = "NAME|FILE")]
    pub recipe: Option<String>,
    /// Dataset: synth-digits, mnist, fashion-mnist, cifar10, cifar100, folder:<path>.
    #[arg(long)]
    pub dataset: Option<String>,
    /// Directory datasets are looked for first (then $ZOO_DATA_DIR, the zoo's cache,
    /// /usr/share/datasets) and downloaded to.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Download the dataset if it is missing.
    #[arg(long)]
    pub download: bool,
    /// Training epochs.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub epochs: Option<u32>,
    /// Images per batch.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub batch_size: Option<u32>,
    /// Base learning rate.
    #[arg(long, value_name = "X")]
    pub lr: Option<f64>,
    /// Backend: flex, ndarray, wgpu, vulkan, metal, cuda (those compiled in).
    #[arg(long, value_name = "B")]
    pub backend: Option<String>,
    /// Train data-parallel on N devices: the backend's first N (on a CPU backend, N workers
    /// sharing it), or the listed ones, e.g. `wgpu:0,wgpu:1`. --batch-size is per device; the
    /// gradient is the mean over the devices, as with PyTorch's DDP.
    #[arg(long, value_name = "N|LIST")]
    pub devices: Option<String>,
    /// How several devices train together: multi-device (Burn's MultiDevice, any backend) or ddp
    /// (an NCCL all-reduce: CUDA builds only).
    #[arg(long, value_name = "S")]
    pub strategy: Option<String>,
    /// Data-loading worker threads.
    #[arg(long, value_name = "N")]
    pub workers: Option<u32>,
    /// Seed of initialisation, shuffling and augmentation.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Train on N images of the training split, a sample drawn with the seed (smoke runs, quick
    /// backend comparisons).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub train_limit: Option<u64>,
    /// Validate and test on N images of the test split, drawn the same way.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub valid_limit: Option<u64>,
    /// Fine-tune from torchvision's published ImageNet weights for MODEL (downloaded once,
    /// hash-checked); TAG picks a version (default: DEFAULT). A head for another class count is
    /// reset; grey images are repeated into the 3 channels the weights take.
    #[arg(
        long,
        value_name = "TAG",
        num_args = 0..=1,
        default_missing_value = "DEFAULT",
        require_equals = true,
        conflicts_with = "weights"
    )]
    pub pretrained: Option<String>,
    /// Fine-tune from the weights in FILE (a run's model.bpk, a PyTorch state dict, a
    /// safetensors file), with the head and channels adapted as for --pretrained.
    #[arg(long, value_name = "FILE")]
    pub weights: Option<PathBuf>,
    /// Keep the images' size: no resizing or padding to an input the model takes.
    #[arg(long)]
    pub no_resize: bool,
    /// Check that the run would work and write nothing: open the data, build the model, take one
    /// training step and evaluate one batch (PyTorch Lightning's `fast_dev_run`).
    #[arg(long)]
    pub dry_run: bool,
    /// Run directory (default: runs/<model>-<dataset>-<time>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Override any recipe field, e.g. `--set optimizer.momentum=0.95` (repeatable).
    #[arg(long = "set", value_name = "FIELD=VALUE")]
    pub set: Vec<String>,
    /// Continue the interrupted run in DIR from its last complete checkpoint.
    #[arg(long, value_name = "DIR", conflicts_with_all = [
        "model", "recipe", "dataset", "data_dir", "download", "epochs", "batch_size", "lr",
        "backend", "devices", "strategy", "workers", "seed", "train_limit", "valid_limit", "pretrained", "weights", "no_resize",
        "dry_run", "out", "set",
    ])]
    pub resume: Option<PathBuf>,
}

/// Builds the configuration a recipe plus command-line overrides describe. With no `--recipe`,
/// the recipe is chosen for the model and the `dataset` override
/// ([`zoo_train::choose::choose_recipe_with`], resizing images to an input the model takes unless
/// `resize` is false); with an `init` override the data is converted to the channels of those
/// weights. The lines saying what was chosen and changed, and why, come back with the
/// configuration.
pub fn build_config(
    model: Option<&str>,
    recipe: Option<&str>,
    overrides: &[(&str, Value)],
    sets: &[String],
    resize: bool,
) -> Result<(TrainConfig, Vec<String>), CliError> {
    let mut notes = Vec::new();
    let mut json = match (recipe, model) {
        (None, Some(model)) => {
            let dataset = overrides.iter().find(|(k, _)| *k == "dataset").and_then(|(_, v)| v.as_str());
            let choice = zoo_train::choose::choose_recipe_with(model, dataset, resize)?;
            notes.push(format!("recipe: {}", choice.reason));
            notes.extend(choice.input_notes);
            choice.json
        }
        _ => zoo_train::config::load_recipe_json(recipe, model)?,
    };
    let object = json.as_object_mut().ok_or("a recipe must be a JSON object")?;
    if let Some(m) = model {
        object.insert("model".into(), Value::String(m.into()));
    }
    for (key, value) in overrides {
        object.insert((*key).into(), value.clone());
    }
    if let Some(init) = object.get("init").cloned() {
        let init: zoo_train::config::InitWeights = serde_json::from_value(init).context("init")?;
        let model = object.get("model").and_then(Value::as_str).unwrap_or_default().to_string();
        if let Some(channels) = zoo_train::finetune::weights_channels(&model, &init)? {
            notes.extend(zoo_train::finetune::convert_channels(&mut json, channels));
        }
    }
    for assignment in sets {
        let (path, value) =
            assignment.split_once('=').ok_or_else(|| format!("--set {assignment}: expected FIELD=VALUE"))?;
        zoo_train::config::set_field(&mut json, path, value)?;
    }
    // Bad values of a recipe file name it; the flags' own are named by their field alone.
    let origin = match recipe {
        Some(file) if Path::new(file).is_file() => format!("{file} with the command line's settings"),
        _ => zoo_train::config::COMMAND_LINE.to_string(),
    };
    let config = zoo_train::config::parse_config(&json, &origin)?;
    Ok((config, notes))
}

/// `zoo train`.
pub fn run_train(args: TrainArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let result = if let Some(dir) = &args.resume {
        zoo_train::resume(dir)
    } else {
        let mut overrides: Vec<(&str, Value)> = Vec::new();
        let mut put = |key, value: Option<Value>| {
            if let Some(v) = value {
                overrides.push((key, v));
            }
        };
        put("dataset", args.dataset.clone().map(Value::from));
        put("data_dir", args.data_dir.as_ref().map(|p| Value::from(p.display().to_string())));
        put("download", args.download.then_some(Value::Bool(true)));
        put("epochs", args.epochs.map(Value::from));
        put("batch_size", args.batch_size.map(Value::from));
        put("lr", args.lr.map(Value::from));
        let devices = args.devices.as_deref().map(zoo_models::backend::DeviceSelection::parse);
        // A device list names its backend: `--devices wgpu:0,wgpu:1` alone trains on wgpu.
        let listed_backend = devices.as_ref().and_then(|d| d.backend().ok().flatten());
        put("backend", args.backend.clone().or(listed_backend).map(Value::from));
        put("devices", devices.map(|d| serde_json::to_value(d).expect("device selections serialise")));
        put("strategy", args.strategy.clone().map(Value::from));
        put("workers", args.workers.map(Value::from));
        put("seed", args.seed.map(Value::from));
        put("train_limit", args.train_limit.map(Value::from));
        put("test_limit", args.valid_limit.map(Value::from));
        let init = match (&args.pretrained, &args.weights) {
            (Some(tag), _) => Some(serde_json::json!({"pretrained": tag})),
            (None, Some(file)) => Some(serde_json::json!({"file": file.display().to_string()})),
            (None, None) => None,
        };
        put("init", init);
        let (config, notes) =
            build_config(args.model.as_deref(), args.recipe.as_deref(), &overrides, &args.set, !args.no_resize)?;
        for note in notes {
            writeln!(out, "{note}").map_err(CliError::Output)?;
        }
        if let Some(root) = zoo_train::data::dataset_location(&config) {
            let dir = root.join(zoo_data::download::cache_subdir(&config.dataset).unwrap_or(config.dataset.as_str()));
            writeln!(out, "data: {} from {}", config.dataset, dir.display()).map_err(CliError::Output)?;
        }
        if args.dry_run {
            let check = zoo_train::run::dry_run(config.clone())?;
            return write_output(out, &format!("{}\n", check.summary_line(&config)));
        }
        let dir = args.out.clone().unwrap_or_else(|| zoo_train::run::default_run_dir(&config));
        writeln!(out, "training {} on {} -> {}", config.model, config.dataset, dir.display())
            .map_err(CliError::Output)?;
        zoo_train::train(config, &dir)
    };
    let result = result?;
    write_output(out, &format!("{}\n", result.summary_line()))
}

/// The model, its preprocessing and its configuration: from a run directory, or from
/// `--model`/`--weights` with the model's default recipe (or `--recipe`).
pub struct Loaded {
    /// The network with its weights.
    pub model: ZooModel,
    /// The configuration (recipe and overrides).
    pub config: TrainConfig,
    /// The run directory, if one was given.
    pub run: Option<RunDir>,
}

/// Where `zoo eval` and `zoo predict` get their model from.
#[derive(Debug, Args)]
pub struct ModelSource {
    /// Registry name of the model (with --weights), instead of a run directory.
    #[arg(long)]
    pub model: Option<String>,
    /// Weights file: `model.bpk` of a run, or a PyTorch .pth/.safetensors state dict.
    #[arg(long, value_name = "FILE", requires = "model")]
    pub weights: Option<PathBuf>,
    /// Recipe giving the preprocessing and dataset with --model (default: the model's own).
    #[arg(long, value_name = "NAME|FILE", requires = "model")]
    pub recipe: Option<String>,
    /// Backend to run on.
    #[arg(long, value_name = "B")]
    pub backend: Option<String>,
}

pub(crate) fn load(source: &ModelSource, run_dir: Option<&Path>, dataset: Option<&str>) -> Result<Loaded, CliError> {
    let (mut config, weights, run) = match (&source.model, run_dir) {
        (Some(model), _) => {
            let overrides: Vec<(&str, Value)> = dataset.map(|d| vec![("dataset", Value::from(d))]).unwrap_or_default();
            let (config, _) = build_config(Some(model), source.recipe.as_deref(), &overrides, &[], true)?;
            let weights = source
                .weights
                .clone()
                .ok_or_else(|| format!("--model {model} needs --weights FILE (zoo predict also takes --pretrained)"))?;
            (config, weights, None)
        }
        (None, Some(dir)) => {
            let run = RunDir { root: dir.to_path_buf() };
            let mut config = run.read_config()?;
            if let Some(d) = dataset {
                config.dataset = d.to_string();
            }
            (config, run.weights(), Some(run))
        }
        (None, None) => return Err("give a run directory, or --model with --weights".into()),
    };
    if let Some(b) = &source.backend {
        zoo_models::backend::check_backend(b)?;
        config.backend = b.clone();
    }
    if config.resolved.is_none() {
        config.resolved = Some(resolve_without_run(&config)?);
    }
    let device = zoo_models::backend::device(&config.backend)?;
    let mut model = zoo_train::run::build_model(&config, &device)?;
    zoo_train::run::load_weights(&mut model, &weights)?;
    Ok(Loaded { model, config, run })
}

// With --model and no run: the input and classes come from the recipe's dataset if it can be
// opened, otherwise from the model's defaults (classes then print as indices).
fn resolve_without_run(config: &TrainConfig) -> Result<zoo_train::run::ResolvedInput, CliError> {
    match zoo_train::data::open_split(config, zoo_data::Split::Test) {
        Ok(test) => {
            zoo_train::run::ResolvedInput::from_datasets(config, &*test, test.classes()).map_err(CliError::from)
        }
        Err(_) => {
            let info = zoo_models::info(&config.model)?;
            Ok(zoo_train::run::ResolvedInput {
                input: info.default_input,
                raw_input: info.default_input,
                classes: (0..info.default_classes).map(|c| c.to_string()).collect(),
            })
        }
    }
}

/// Arguments of `zoo eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Run directory (holds config.json and model.bpk).
    pub run: Option<PathBuf>,
    /// The model to evaluate, when not from a run directory.
    #[command(flatten)]
    pub source: ModelSource,
    /// Dataset to evaluate on (default: the run's).
    #[arg(long)]
    pub dataset: Option<String>,
    /// Split to evaluate.
    #[arg(long, value_parser = ["test", "train"], default_value = "test")]
    pub split: String,
    /// Where to write the confusion matrix (default: confusion.png in the run directory, or in
    /// the current directory with --model).
    #[arg(long, value_name = "FILE")]
    pub confusion: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// `zoo eval`.
pub fn run_eval(args: EvalArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let loaded = load(&args.source, args.run.as_deref(), args.dataset.as_deref())?;
    let config = &loaded.config;
    let split = if args.split == "train" { zoo_data::Split::Train } else { zoo_data::Split::Test };
    let dataset = zoo_train::data::open_split(config, split)?;
    let loader = zoo_train::data::make_loader(config, dataset, false)?;
    let device = zoo_models::backend::device(&config.backend)?;
    let report = zoo_train::eval::evaluate(&loaded.model, &loader, &device)?;

    let confusion = args.confusion.clone().unwrap_or_else(|| match &loaded.run {
        Some(run) => run.root.join("confusion.png"),
        None => PathBuf::from("confusion.png"),
    });
    let names: Vec<String> = report.per_class.iter().map(|c| c.class.clone()).collect();
    let title = format!("{} on {} ({}), top-1 {:.2}%", config.model, config.dataset, args.split, report.top1);
    zoo_train::plot::draw_confusion(&report.confusion, &names, &title, &confusion)?;

    let text = match args.format {
        Format::Json => {
            let mut value = serde_json::to_value(&report)?;
            value["model"] = Value::from(config.model.clone());
            value["dataset"] = Value::from(config.dataset.clone());
            value["split"] = Value::from(args.split.clone());
            value["confusion_png"] = Value::from(confusion.display().to_string());
            serde_json::to_string_pretty(&value)? + "\n"
        }
        Format::Table => {
            let cells: Vec<Vec<String>> = report
                .per_class
                .iter()
                .map(|c| vec![c.class.clone(), c.images.to_string(), c.correct.to_string(), format!("{:.2}", c.top1)])
                .collect();
            format!(
                "{}\n{} on {} ({} split, {} images): top-1 {:.2}%, top-5 {:.2}%; confusion matrix: {}\n",
                render_table(&["class", "images", "correct", "top-1 %"], &cells, &[1, 2, 3]).trim_end(),
                config.model,
                config.dataset,
                args.split,
                report.images,
                report.top1,
                report.top5,
                confusion.display()
            )
        }
    };
    write_output(out, &text)
}

/// `--pretrained[=TAG]`, beside a [`ModelSource`]'s `--model`.
#[derive(Debug, Args)]
pub struct Pretrained {
    /// With --model: torchvision's published ImageNet weights (downloaded once, hash-checked),
    /// their preprocessing and the ImageNet class names; TAG picks a version (default: DEFAULT).
    #[arg(
        long,
        value_name = "TAG",
        num_args = 0..=1,
        default_missing_value = "DEFAULT",
        require_equals = true,
        requires = "model",
        conflicts_with_all = ["weights", "recipe"]
    )]
    pub pretrained: Option<String>,
}

/// Arguments of `zoo predict`.
#[derive(Debug, Args)]
pub struct PredictArgs {
    /// A run directory followed by images, or only images with --model/--weights.
    #[arg(required = true, value_name = "RUN_DIR|IMAGE")]
    pub paths: Vec<PathBuf>,
    /// The model, when not from a run directory.
    #[command(flatten)]
    pub source: ModelSource,
    /// With --model: torchvision's published weights instead of --weights.
    #[command(flatten)]
    pub pretrained: Pretrained,
    /// Classes to show per image.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub top: u32,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// `zoo predict`.
pub fn run_predict(args: PredictArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let (run_dir, images) = match &args.source.model {
        Some(_) => (None, &args.paths[..]),
        None => (Some(args.paths[0].as_path()), &args.paths[1..]),
    };
    if images.is_empty() {
        return Err("no image given: zoo predict RUN_DIR IMAGE... (or --model M --weights F IMAGE...)".into());
    }
    let (model, preprocess, classes, backend) = match (&args.pretrained.pretrained, &args.source.model) {
        (Some(tag), Some(model)) => pretrained_predictor(model, tag, args.source.backend.as_deref())?,
        _ => {
            let loaded = load(&args.source, run_dir, None)?;
            let resolved = loaded.config.resolved.clone().expect("resolved by load");
            let preprocess = InputTransform {
                input: resolved.input,
                raw_input: resolved.raw_input,
                transforms: loaded.config.eval_transforms.clone(),
            };
            (loaded.model, preprocess, resolved.classes, loaded.config.backend)
        }
    };
    let inputs = images.iter().map(|p| preprocess.load(p)).collect::<Result<Vec<_>, _>>()?;
    let device = zoo_models::backend::device(&backend)?;
    let top = zoo_train::eval::predict(&model, &inputs, &classes, args.top as usize, &device)?;
    let text = match args.format {
        Format::Json => {
            let rows: Vec<Value> = images
                .iter()
                .zip(&top)
                .map(|(p, t)| serde_json::json!({"image": p.display().to_string(), "top": t}))
                .collect();
            serde_json::to_string_pretty(&rows)? + "\n"
        }
        Format::Table => {
            let mut text = String::new();
            for (path, scores) in images.iter().zip(&top) {
                text.push_str(&format!("{}\n", path.display()));
                for s in scores {
                    text.push_str(&format!("  {:>6.2}%  {}\n", 100.0 * s.probability, s.class));
                }
            }
            text
        }
    };
    write_output(out, &text)
}

// torchvision's weights with their own evaluation transform (resize the shorter side, centre
// crop, normalise) and the ImageNet class names.
pub(crate) fn pretrained_predictor(
    model: &str,
    tag: &str,
    backend: Option<&str>,
) -> Result<(zoo_models::ZooModel, InputTransform, Vec<String>, String), CliError> {
    use zoo_data::transforms::{CenterCrop, Normalize, ResizeShorter, TransformConfig};
    let weights = zoo_models::pretrained::lookup(model, Some(tag))?;
    let backend = backend.unwrap_or(zoo_models::backend::DEFAULT_BACKEND).to_string();
    zoo_models::backend::check_backend(&backend)?;
    let device = zoo_models::backend::device(&backend)?;
    let source = crate::weights::WeightsArgs {
        weights: None,
        pretrained: Some(weights.tag.to_string()),
        allow_partial: false,
        top_level_key: None,
        classes: None,
        aux_logits: None,
        transform_input: false,
    };
    let loaded = crate::weights::load_model(model, &source, &device)?;
    let p = weights.preprocess;
    let preprocess = InputTransform {
        input: [3, p.crop, p.crop],
        raw_input: [3, p.crop, p.crop],
        transforms: zoo_data::transforms::Pipeline::new(vec![
            TransformConfig::ResizeShorter(ResizeShorter { size: p.resize }),
            TransformConfig::CenterCrop(CenterCrop { size: [p.crop, p.crop] }),
            TransformConfig::Normalize(Normalize { mean: p.mean.to_vec(), std: p.std.to_vec() }),
        ]),
    };
    let classes = zoo_models::pretrained::imagenet_classes().into_iter().map(String::from).collect();
    Ok((loaded.model, preprocess, classes, backend))
}

/// `zoo recipes`: the shipped recipes.
pub fn run_recipes(format: Format, out: &mut dyn Write) -> Result<(), CliError> {
    let configs = zoo_train::config::RECIPES
        .iter()
        .map(|r| zoo_train::recipe(r.name).map(|c| (r.name, c)))
        .collect::<Result<Vec<_>, _>>()?;
    let text = match format {
        Format::Json => {
            let map: serde_json::Map<String, Value> = configs
                .iter()
                .map(|(n, c)| Ok(((*n).to_string(), serde_json::to_value(c)?)))
                .collect::<Result<_, serde_json::Error>>()?;
            serde_json::to_string_pretty(&map)? + "\n"
        }
        Format::Table => {
            let cells: Vec<Vec<String>> = configs
                .iter()
                .map(|(n, c)| {
                    vec![
                        n.to_string(),
                        c.model.clone(),
                        c.dataset.clone(),
                        c.epochs.to_string(),
                        c.batch_size.to_string(),
                        format!("{}", c.lr),
                    ]
                })
                .collect();
            let table = render_table(&["recipe", "model", "dataset", "epochs", "batch", "lr"], &cells, &[3, 4, 5]);
            format!(
                "{}\n\n`zoo train MODEL --dataset D` without --recipe takes the recipe above for that pair; else \
                 MODEL's own or its family's recipe adapted to D (D's channels, statistics and augmentation, an \
                 input MODEL takes, or the images as they are with --no-resize); else the generic default: {}. \
                 --pretrained or --weights FILE convert the images to the weights' channels and reset a head \
                 trained for another class count.\n",
                table.trim_end(),
                zoo_train::choose::GENERIC_DEFAULT
            )
        }
    };
    write_output(out, &text)
}
