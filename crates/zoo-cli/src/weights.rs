//! `zoo import`, `zoo export` and `zoo infer`: PyTorch weights in and out, and raw logits for an
//! `.npy` batch, with the same weights source (`--weights FILE` or `--pretrained[=TAG]`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::tensor::{Device, Tensor, TensorData};
use clap::{ArgGroup, Args, ValueEnum};
use zoo_models::pretrained::PretrainedWeights;
use zoo_models::weights::{LoadOptions, LoadReport};
use zoo_models::{ImageClassifier, ModelOptions, ZooModel};
use zoo_train::TrainError;

use crate::error::{CliError, Context};
use crate::write_output;

/// Where a model's weights come from, and how strictly they must fit.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("source").args(["weights", "pretrained"])))]
pub struct WeightsArgs {
    /// Weights file: a PyTorch state dict (.pth/.pt, zip or legacy), .safetensors, or Burn .bpk.
    #[arg(long, value_name = "FILE")]
    pub weights: Option<PathBuf>,
    /// torchvision's published ImageNet weights, downloaded once into the cache and hash-checked;
    /// TAG picks a version (IMAGENET1K_V1, ...; default: torchvision's DEFAULT).
    #[arg(long, value_name = "TAG", num_args = 0..=1, default_missing_value = "DEFAULT", require_equals = true)]
    pub pretrained: Option<String>,
    /// Load the tensors that fit and report the rest instead of failing (fine-tuning with another
    /// class count): missing and mismatched tensors keep their fresh initialisation.
    #[arg(long)]
    pub allow_partial: bool,
    /// The entry of a PyTorch checkpoint that holds the state dict (e.g. `state_dict`).
    #[arg(long, value_name = "KEY")]
    pub top_level_key: Option<String>,
    /// Number of output classes (default: the model's own, 1000 for ImageNet models).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub classes: Option<u32>,
    /// GoogLeNet / Inception v3: build the auxiliary classifiers (default: off / on). Built
    /// without them, a model skips the file's auxiliary weights, as torchvision does.
    #[arg(long, value_name = "BOOL")]
    pub aux_logits: Option<bool>,
    /// GoogLeNet / Inception v3: re-normalise ImageNet-normalised input as torchvision's
    /// pretrained weights expect (torchvision's `transform_input`).
    #[arg(long)]
    pub transform_input: bool,
}

/// A model with its weights loaded, and where they came from.
pub struct LoadedWeights {
    /// The network.
    pub model: ZooModel,
    /// What was loaded and what did not fit.
    pub report: LoadReport,
    /// The weights file (the cached download with `--pretrained`).
    pub path: PathBuf,
}

/// Resolves `--weights`/`--pretrained` to a file (downloading if needed), with the published
/// weights' entry for `--pretrained`.
pub fn weights_path(
    model: &str,
    args: &WeightsArgs,
) -> Result<(PathBuf, Option<&'static PretrainedWeights>), CliError> {
    match (&args.weights, &args.pretrained) {
        (Some(path), _) => Ok((path.clone(), None)),
        (None, Some(tag)) => {
            let weights = zoo_models::pretrained::lookup(model, Some(tag))?;
            Ok((zoo_models::hub::fetch(weights)?, Some(weights)))
        }
        (None, None) => Err("give --weights FILE or --pretrained".into()),
    }
}

/// Builds `model` on `device` and loads its weights as `args` say.
pub fn load_model(model: &str, args: &WeightsArgs, device: &Device) -> Result<LoadedWeights, CliError> {
    zoo_models::info(model)?;
    let (path, published) = weights_path(model, args)?;
    let mut options = ModelOptions::default();
    if let Some(n) = args.classes {
        options = options.with_num_classes(n as usize);
    }
    options.aux_logits = args.aux_logits;
    options.transform_input = args.transform_input.then_some(true);
    if let Some(weights) = published {
        options = zoo_models::pretrained::options_for(weights, options);
    }
    let mut network = zoo_models::create(model, &options, device)?;
    let load_options = LoadOptions {
        allow_partial: args.allow_partial,
        top_level_key: args.top_level_key.clone(),
        reset_classifier: None,
    };
    let report = zoo_train::run::load_weights_with(&mut network, &path, &load_options).map_err(|e| match e {
        TrainError::Weights(w) if matches!(*w, zoo_models::weights::WeightsError::Mismatch { .. }) => {
            CliError::WeightsMismatch { model: model.to_string(), source: w }
        }
        other => CliError::Context { context: model.to_string(), source: Box::new(other.into()) },
    })?;
    Ok(LoadedWeights { model: network, report, path })
}

fn file_size(path: &Path) -> String {
    let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// Arguments of `zoo import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Registry name of the model the weights are for (see `zoo list`).
    pub model: String,
    /// Where the weights come from.
    #[command(flatten)]
    pub source: WeightsArgs,
    /// The Burn weights file to write (burnpack; load it with `--weights` or BurnpackStore).
    #[arg(long, value_name = "FILE.bpk")]
    pub out: PathBuf,
}

/// `zoo import`: any weights file (or `--pretrained`) to Burn's native `.bpk`.
pub fn run_import(args: ImportArgs, out: &mut dyn Write) -> Result<(), CliError> {
    convert(&args.model, &args.source, &args.out, "", zoo_models::weights::save_burnpack, out)
}

// Loads the weights on flex, writes them with `save`, and says what was loaded and written.
fn convert(
    model: &str,
    source: &WeightsArgs,
    target: &Path,
    written_as: &str,
    save: fn(&ZooModel, &Path) -> Result<(), zoo_models::weights::WeightsError>,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let loaded = load_model(model, source, &Device::flex())?;
    save(&loaded.model, target)?;
    write_output(
        out,
        &format!(
            "{model}: {} ({}); wrote {}{written_as} ({})\n",
            loaded.report.summary(),
            loaded.path.display(),
            target.display(),
            file_size(target)
        ),
    )
}

/// What `zoo export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// The weights, with PyTorch's key names: `load_state_dict(strict=True)` takes them.
    Safetensors,
    /// The whole network and its weights as an ONNX model.
    Onnx,
}

/// Arguments of `zoo export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Registry name of the model (see `zoo list`), or a run directory of `zoo train` (its model,
    /// input and `model.bpk`).
    pub model: String,
    /// Where the weights come from (not with a run directory).
    #[command(flatten)]
    pub source: WeightsArgs,
    /// The file to write.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// What to write (default: from --out's extension, `.safetensors` or `.onnx`).
    #[arg(long, value_enum)]
    pub format: Option<ExportFormat>,
    /// ONNX: input shape of one image (default: the model's, or the run's).
    #[arg(long, value_parser = crate::parse_input_shape, value_name = "CxHxW")]
    pub input: Option<[usize; 3]>,
    /// ONNX: the opset of the default domain.
    #[arg(long, default_value_t = zoo_models::onnx::MIN_OPSET, value_name = "N")]
    pub opset: i64,
    /// ONNX: a fixed batch size instead of the symbolic `N`.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub batch: Option<u32>,
    /// ONNX: fold each BatchNorm into the convolution before it first.
    #[arg(long)]
    pub fuse_bn: bool,
    /// ONNX: also output the auxiliary classifiers' logits (`aux1`, ...), when the model has them.
    #[arg(long)]
    pub aux_outputs: bool,
    /// ONNX: do not run the written file with tract-onnx against Burn.
    #[arg(long)]
    pub no_check: bool,
}

/// `zoo export`: weights to a safetensors file that PyTorch's `load_state_dict(strict=True)`
/// accepts for the same torchvision model, or the network to an ONNX file.
pub fn run_export(args: ExportArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let format = match (args.format, args.out.extension().and_then(|e| e.to_str())) {
        (Some(format), _) => format,
        (None, Some("onnx")) => ExportFormat::Onnx,
        (None, Some("safetensors")) => ExportFormat::Safetensors,
        _ => {
            return Err(CliError::usage(format!(
                "--out {}: give --format onnx or safetensors, or a file ending in .onnx or .safetensors",
                args.out.display()
            )));
        }
    };
    match format {
        ExportFormat::Safetensors => {
            let save = zoo_models::weights::export_pytorch_safetensors;
            convert(&args.model, &args.source, &args.out, " with PyTorch's key names", save, out)
        }
        ExportFormat::Onnx => export_onnx(&args, out),
    }
}

// The model and its input: a run directory's, or a registry model's with --weights/--pretrained.
fn export_source(args: &ExportArgs) -> Result<(String, ZooModel, [usize; 3], String), CliError> {
    let dir = Path::new(&args.model);
    if dir.join("config.json").is_file() {
        if args.source.weights.is_some() || args.source.pretrained.is_some() {
            return Err(format!("{}: a run directory brings its own weights (model.bpk)", dir.display()).into());
        }
        let source =
            crate::train::ModelSource { model: None, weights: None, recipe: None, backend: Some("flex".into()) };
        let loaded = crate::train::load(&source, Some(dir), None)?;
        let input = loaded.config.resolved.as_ref().map(|r| r.input).ok_or(TrainError::Unresolved)?;
        let weights = loaded.run.map(|r| r.weights().display().to_string()).unwrap_or_default();
        return Ok((loaded.config.model, loaded.model, input, weights));
    }
    let info = zoo_models::info(&args.model)?;
    let loaded = load_model(info.name, &args.source, &Device::flex())?;
    let described = format!("{}, {}", loaded.report.summary(), loaded.path.display());
    Ok((info.name.to_string(), loaded.model, info.default_input, described))
}

fn export_onnx(args: &ExportArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let (name, model, default_input, weights) = export_source(args)?;
    let input = args.input.unwrap_or(default_input);
    let model = if args.fuse_bn { zoo_models::fuse::fuse_batch_norm(model) } else { model };
    let options = crate::onnx::options(args.opset, args.batch.map(|b| b as usize), args.aux_outputs);
    let bytes = zoo_models::onnx::write(&model, &name, input, &options, &args.out).context(name.clone())?;
    let shape = format!(
        "{}x{}",
        args.batch.map_or("N".to_string(), |b| b.to_string()),
        zoo_models::summary::format_shape(&input)
    );
    let mut line = format!(
        "{name}: {weights}; wrote {} (ONNX, opset {}, input {shape}, {:.1} MB)",
        args.out.display(),
        args.opset,
        bytes as f64 / 1e6
    );
    if !args.no_check {
        let batch = args.batch.map_or(2, |b| b as usize);
        let agreement = crate::onnx::compare(&model, &args.out, input, batch, 0);
        let agreement = match agreement {
            Ok(a) if a.within(1e-4) => a,
            other => {
                // A file that does not compute what the model computes is not left behind.
                let _ = std::fs::remove_file(&args.out);
                let a = other?;
                return Err(CliError::OnnxMismatch {
                    path: args.out.clone(),
                    difference: a.max_difference,
                    scale: a.scale,
                });
            }
        };
        line.push_str(&format!(
            "; tract-onnx runs it: logits within {:.1e} of Burn's (scale {:.3})",
            agreement.max_difference, agreement.scale
        ));
    }
    write_output(
        out,
        &(line
            + "
"),
    )
}

/// Arguments of `zoo infer`.
#[derive(Debug, Args)]
pub struct InferArgs {
    /// Registry name of the model (see `zoo list`).
    pub model: String,
    /// Where the weights come from.
    #[command(flatten)]
    pub source: WeightsArgs,
    /// Input batch: a float32 NCHW array saved with `numpy.save`.
    #[arg(long, value_name = "X.npy")]
    pub input: PathBuf,
    /// Where to write the logits: float32 [N, classes], `numpy.load` reads it.
    #[arg(long, value_name = "Y.npy")]
    pub output: PathBuf,
    /// Backend to run on (default: flex).
    #[arg(long, value_name = "B")]
    pub backend: Option<String>,
    /// Images per forward pass; larger batches are split so memory stays bounded.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch_size: u32,
}

/// `zoo infer`: raw logits of the model, in inference mode, for an `.npy` batch.
pub fn run_infer(args: InferArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let input = zoo_data::npy::read_f32(&args.input)?;
    let shape = input.shape.clone();
    let [n, c, h, w] = shape[..] else {
        return Err(CliError::Usage(format!(
            "{}: an array of shape {shape:?} (rank {}); expected a batch of images, NCHW [N, C, H, W]",
            args.input.display(),
            shape.len()
        )));
    };
    if n == 0 {
        return Err(CliError::Usage(format!("{}: the batch is empty (shape {shape:?})", args.input.display())));
    }
    let backend = args.backend.clone().unwrap_or_else(|| zoo_models::backend::DEFAULT_BACKEND.to_string());
    zoo_models::backend::check_backend(&backend)?;
    let device = zoo_models::backend::device(&backend)?;
    let loaded = load_model(&args.model, &args.source, &device)?;
    let model = &loaded.model;

    // Check the images against the model before running it: a shape it cannot take is a
    // one-line error here rather than a panic deep inside a kernel.
    let model_channels = stem_in_channels(model);
    if let Some(expected) = model_channels.filter(|&e| e != c) {
        return Err(CliError::Usage(format!(
            "{}: images have {c} channels (shape {shape:?}), {} takes {expected}",
            args.input.display(),
            args.model
        )));
    }
    let summary = model.summary(&args.model, [c, h, w]).context(format!(
        "{}: {c}x{h}x{w} images do not fit {}",
        args.input.display(),
        args.model
    ))?;
    let classes = summary.output_shape.last().copied().unwrap_or(0);

    let started = Instant::now();
    let per_image = c * h * w;
    let batch = args.batch_size as usize;
    let mut logits = Vec::with_capacity(n * classes);
    for (start, chunk) in (0..n).step_by(batch).zip(input.data.chunks(batch * per_image)) {
        let rows = chunk.len() / per_image;
        let x = Tensor::<4>::from_data(TensorData::new(chunk.to_vec(), [rows, c, h, w]), &device);
        let y = model.forward(x);
        let values = y
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .map_err(|e| format!("reading the logits of images {start}..{}: {e:?}", start + rows))?;
        logits.extend(values);
    }
    let seconds = started.elapsed().as_secs_f64();
    zoo_data::npy::write_f32(&args.output, &[n, classes], &logits)?;
    let partial = if loaded.report.is_exact() { String::new() } else { format!(" ({})", loaded.report.summary()) };
    write_output(
        out,
        &format!(
            "{}: {n} images {c}x{h}x{w} -> logits [{n}, {classes}] in {} ({backend}, {seconds:.2} s, {:.1} images/s){partial}\n",
            args.model,
            args.output.display(),
            n as f64 / seconds.max(1e-9)
        ),
    )
}

// The channel count the model's stem convolution expects.
fn stem_in_channels(model: &ZooModel) -> Option<usize> {
    use burn::module::{ModuleVisitor, Param};
    struct FirstWeight(Option<usize>);
    impl ModuleVisitor for FirstWeight {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            // The first rank-4 parameter is the stem convolution's weight [out, in, kh, kw].
            if D == 4 && self.0.is_none() {
                self.0 = Some(param.lazy_shape()[1]);
            }
        }
    }
    let mut visitor = FirstWeight(None);
    burn::module::Module::visit(model, &mut visitor);
    visitor.0
}

/// `zoo pretrained`: torchvision's published weights for the models matching `pattern`.
pub fn run_pretrained(pattern: &str, format: crate::Format, out: &mut dyn Write) -> Result<(), CliError> {
    let names: Vec<&str> = zoo_models::list(pattern).iter().map(|m| m.name).collect();
    let rows: Vec<&zoo_models::pretrained::PretrainedWeights> =
        zoo_models::pretrained::all().iter().filter(|w| names.contains(&w.model)).collect();
    if rows.is_empty() {
        return Err(CliError::Usage(format!(
            "no published weights for models matching {pattern}; models with weights: {}",
            zoo_models::pretrained::models_with_weights().join(", ")
        )));
    }
    let cache = zoo_models::hub::cache_dir();
    let cached = |w: &zoo_models::pretrained::PretrainedWeights| cache.join(w.file_name()).is_file();
    let text = match format {
        crate::Format::Json => {
            let items: Vec<serde_json::Value> = rows
                .iter()
                .map(|w| {
                    let mut v = serde_json::to_value(w).unwrap_or_default();
                    v["cached"] = serde_json::Value::from(cached(w));
                    v
                })
                .collect();
            serde_json::to_string_pretty(&items)? + "\n"
        }
        crate::Format::Table => {
            let cells: Vec<Vec<String>> = rows
                .iter()
                .map(|w| {
                    vec![
                        w.model.to_string(),
                        format!("{}{}", w.tag, if w.default { " (default)" } else { "" }),
                        format!("{:.3}", w.acc_top1),
                        format!("{:.3}", w.acc_top5),
                        format!("{:.1}", w.file_size_mb),
                        format!("{}/{}", w.preprocess.resize, w.preprocess.crop),
                        if cached(w) { "yes" } else { "no" }.to_string(),
                    ]
                })
                .collect();
            format!(
                "{}\nImageNet-1k validation accuracy as torchvision publishes it; cache: {}\n",
                zoo_models::summary::render_table(
                    &["model", "tag", "top-1 %", "top-5 %", "MB", "resize/crop", "cached"],
                    &cells,
                    &[2, 3, 4],
                )
                .trim_end(),
                cache.display()
            )
        }
    };
    write_output(out, &text)
}
