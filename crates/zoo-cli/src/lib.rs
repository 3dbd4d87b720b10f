//! The `zoo` command line as a library: argument types and the commands, each a plain function
//! that writes to the given output, so the binary stays a thin `main` and tests can call them.

use std::io::{self, Write};

use burn::tensor::Device;
use clap::{Parser, Subcommand, ValueEnum};
use serde::Serialize;
use zoo_models::summary::{format_shape, format_significant, group_digits, render_table};
use zoo_models::{ImageClassifier, ModelOptions};

pub mod bench;
mod error;
pub mod onnx;
#[cfg(feature = "remote")]
pub mod serve;
pub mod train;
pub mod visualize;
pub mod weights;
pub use bench::BenchArgs;
pub use error::{CliError, Context};
pub use train::{EvalArgs, PredictArgs, TrainArgs};
pub use visualize::VisualizeArgs;
pub use weights::{ExportArgs, ImportArgs, InferArgs, WeightsArgs};

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(
    name = "zoo",
    version,
    about = "The classic convolutional networks on Burn: list, summarise, train, evaluate, predict, benchmark, load PyTorch weights"
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Output format of the listing commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned text for people.
    Table,
    /// JSON for programs.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the registered models: name, family, parameters, GMACs, default input, paper.
    List {
        /// Only names matching this glob (`resnet*`, `vgg1?_bn`).
        #[arg(default_value = "*")]
        pattern: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Per-layer table of a model: output shapes, trainable parameters, MACs, receptive fields,
    /// totals.
    Summary {
        /// Registry name (see `zoo list`).
        model: String,
        /// Input shape of one image, CxHxW (default: the model's own, e.g. 3x224x224).
        #[arg(long, value_parser = parse_input_shape, value_name = "CxHxW")]
        input: Option<[usize; 3]>,
        /// Number of output classes (default: the model's own).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        classes: Option<u32>,
        /// GoogLeNet / Inception v3: include the auxiliary classifiers (default: off / on).
        #[arg(long, value_name = "BOOL")]
        aux_logits: Option<bool>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Instead of the table, work through every convolution and pool: its output size
        /// `(W - F + 2P) / S + 1`, its parameters with weight sharing `(F x F x C_in + 1) x K`
        /// against a fully connected layer's, and its receptive field.
        #[arg(long, conflicts_with = "format")]
        explain: bool,
    },
    /// Train a model from a recipe (default: the model's own) with burn-train: metrics.csv,
    /// checkpoints, curves.png, model.bpk and result.json in the run directory.
    Train(TrainArgs),
    /// Evaluate trained weights: top-1, top-5, per-class accuracy and a confusion matrix PNG.
    Eval(EvalArgs),
    /// Classify image files with trained weights: the top classes with their probabilities.
    Predict(PredictArgs),
    /// Pictures of what a network learned: first-layer filters, feature maps, top-activating
    /// patches at their receptive fields, saliency, Grad-CAM, occlusion, and report.html.
    Visualize(VisualizeArgs),
    /// Run a model on an NCHW float32 `.npy` batch and write its raw logits as `.npy`.
    Infer(InferArgs),
    /// Load weights (a PyTorch .pth/.safetensors state dict, or --pretrained) and save them as
    /// Burn's native .bpk.
    Import(ImportArgs),
    /// Save weights as .safetensors with torchvision's key names, for PyTorch's
    /// `load_state_dict(strict=True)`.
    Export(ExportArgs),
    /// List torchvision's published ImageNet weights that --pretrained fetches: tag, accuracy,
    /// size, preprocessing, and whether the file is already in the cache.
    Pretrained {
        /// Only models matching this glob.
        #[arg(default_value = "*")]
        pattern: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// List the training recipes shipped in recipes/.
    Recipes {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Time models on backends: samples/s, ms per step (forward, backward, optimizer step),
    /// GFLOP/s and peak memory, optionally against a PyTorch baseline.
    Bench(BenchArgs),
    /// Serve this machine's devices to other machines (Burn's remote compute server, over
    /// WebSocket): they train, evaluate and benchmark on them with
    /// `--backend remote:ws://HOST:PORT`.
    #[cfg(feature = "remote")]
    Serve(serve::ServeArgs),
    /// List the backends compiled into this build and the devices each can see.
    Backends {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

/// Parses `3x224x224` into `[3, 224, 224]`.
///
/// ```
/// assert_eq!(zoo_cli::parse_input_shape("1x32x32"), Ok([1, 32, 32]));
/// assert!(zoo_cli::parse_input_shape("224x224").is_err());
/// ```
pub fn parse_input_shape(text: &str) -> Result<[usize; 3], String> {
    let bad = || format!("expected CxHxW with positive integers, like 3x224x224, got `{text}`");
    let parts: Vec<usize> = text
        .split(['x', 'X'])
        .map(|p| p.trim().parse::<usize>().ok().filter(|&v| v > 0))
        .collect::<Option<_>>()
        .ok_or_else(bad)?;
    <[usize; 3]>::try_from(parts).map_err(|_| bad())
}

/// A device on which models can be built. Summaries never run a kernel (Burn allocates weights
/// lazily), so the first CPU backend compiled in is enough.
pub fn summary_device() -> Device {
    #[cfg(feature = "flex")]
    return Device::flex();
    #[cfg(all(not(feature = "flex"), feature = "ndarray"))]
    #[allow(deprecated)]
    return Device::ndarray();
    #[cfg(not(any(feature = "flex", feature = "ndarray")))]
    return Device::default();
}

/// One row of `zoo list`.
#[derive(Debug, Clone, Serialize)]
pub struct ListRow {
    /// Registry name.
    pub name: &'static str,
    /// Architecture family.
    pub family: &'static str,
    /// Trainable parameters with the default class count.
    pub params: usize,
    /// Multiply-accumulates per image at the default input, in billions.
    pub gmacs: f64,
    /// Default input shape.
    pub input: [usize; 3],
    /// Default number of classes.
    pub classes: usize,
    /// Introducing paper.
    pub paper: &'static str,
    /// Publication year.
    pub year: u16,
}

/// Rows of `zoo list PATTERN`.
pub fn list_rows(pattern: &str) -> Vec<ListRow> {
    let device = summary_device();
    zoo_models::list(pattern)
        .into_iter()
        .map(|info| {
            let summary = info.default_summary(&device);
            ListRow {
                name: info.name,
                family: info.family,
                params: summary.trainable_params,
                gmacs: summary.gmacs(),
                input: info.default_input,
                classes: info.default_classes,
                paper: info.paper,
                year: info.year,
            }
        })
        .collect()
}

/// `zoo list`.
pub fn run_list(pattern: &str, format: Format, out: &mut dyn Write) -> Result<(), CliError> {
    let rows = list_rows(pattern);
    if rows.is_empty() {
        return Err(CliError::Usage(format!("no model matches `{pattern}` (see `zoo list`)")));
    }
    let text = match format {
        Format::Json => serde_json::to_string_pretty(&rows)? + "\n",
        Format::Table => {
            let cells: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    vec![
                        r.name.to_string(),
                        r.family.to_string(),
                        group_digits(r.params as u64),
                        format_significant(r.gmacs, 4),
                        format_shape(&r.input),
                        format!("{} ({})", r.paper, r.year),
                    ]
                })
                .collect();
            render_table(&["model", "family", "params", "GMACs", "input", "paper"], &cells, &[2, 3])
        }
    };
    write_output(out, &text)
}

/// `zoo summary`.
pub fn run_summary(
    model: &str,
    input: Option<[usize; 3]>,
    options: ModelOptions,
    format: Format,
    explain: bool,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let info = zoo_models::info(model)?;
    let input = input.unwrap_or(info.default_input);
    let options = options.with_in_channels(input[0]);
    let network = info.build_with(&options, &summary_device())?;
    let summary =
        network.summary(info.name, input).context(format!("{model} cannot take a {} input", format_shape(&input)))?;
    let text = match format {
        _ if explain => summary.explain(),
        Format::Json => serde_json::to_string_pretty(&summary)? + "\n",
        Format::Table => summary.to_table(),
    };
    write_output(out, &text)
}

/// Writes `text`, treating a closed pipe (`zoo list | head`) as success.
pub(crate) fn write_output(out: &mut dyn Write, text: &str) -> Result<(), CliError> {
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(CliError::Output(e)),
        _ => Ok(()),
    }
}

/// Runs a parsed command line.
pub fn run(cli: Cli, out: &mut dyn Write) -> Result<(), CliError> {
    // A misspelt ZOO_KERNELS must not silently time or train with the other implementation.
    zoo_kernels::Kernels::from_env()?;
    match cli.command {
        Command::List { pattern, format } => run_list(&pattern, format, out),
        Command::Summary { model, input, classes, aux_logits, format, explain } => {
            let options = ModelOptions { num_classes: classes.map(|n| n as usize), aux_logits, ..Default::default() };
            run_summary(&model, input, options, format, explain, out)
        }
        Command::Train(args) => train::run_train(args, out),
        Command::Eval(args) => train::run_eval(args, out),
        Command::Predict(args) => train::run_predict(args, out),
        Command::Visualize(args) => visualize::run_visualize(args, out),
        Command::Infer(args) => weights::run_infer(args, out),
        Command::Import(args) => weights::run_import(args, out),
        Command::Export(args) => weights::run_export(args, out),
        Command::Pretrained { pattern, format } => weights::run_pretrained(&pattern, format, out),
        Command::Recipes { format } => train::run_recipes(format, out),
        Command::Bench(args) => bench::run_bench(args, out),
        Command::Backends { format } => bench::run_backends(format, out),
        #[cfg(feature = "remote")]
        Command::Serve(args) => serve::run_serve(args, out),
    }
}
