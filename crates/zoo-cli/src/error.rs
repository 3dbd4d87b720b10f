//! The one error type of the `zoo` commands: each library's error kept as the source, printed by
//! `main` as one `error:` line.

use std::io;
use std::path::PathBuf;

/// Why a `zoo` command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Arguments that do not make sense, alone or together; the message names them.
    #[error("{0}")]
    Usage(String),
    /// An error about one argument or input, prefixed by what it concerns (`--backends`,
    /// `resnet18`, an input file).
    #[error("{context}: {source}")]
    Context {
        /// The argument, model or file.
        context: String,
        /// The error.
        source: Box<CliError>,
    },
    /// Weights that do not fit the model, with the flag that loads them anyway.
    #[error("{model}: {source}; --allow-partial loads what matches and reports the rest")]
    WeightsMismatch {
        /// The model.
        model: String,
        /// Which tensors differ.
        source: Box<zoo_models::weights::WeightsError>,
    },
    /// Training, evaluation or prediction.
    #[error(transparent)]
    Train(#[from] zoo_train::TrainError),
    /// A dataset or image.
    #[error(transparent)]
    Data(#[from] zoo_data::DataError),
    /// An `.npy` file.
    #[error(transparent)]
    Npy(#[from] zoo_data::npy::NpyError),
    /// `zoo visualize`'s pictures and report.
    #[error(transparent)]
    Viz(#[from] zoo_viz::VizError),
    /// `zoo bench`'s reports and chart.
    #[error(transparent)]
    Bench(#[from] zoo_bench::BenchError),
    /// An unknown model or invalid model options.
    #[error(transparent)]
    Registry(#[from] zoo_models::registry::RegistryError),
    /// A model that cannot take an input.
    #[error(transparent)]
    Shape(#[from] zoo_models::summary::ShapeError),
    /// A backend without a device.
    #[error(transparent)]
    Backend(#[from] zoo_models::backend::BackendError),
    /// Weights torchvision does not publish.
    #[error(transparent)]
    Pretrained(#[from] zoo_models::pretrained::PretrainedError),
    /// Weights neither cached nor downloadable.
    #[error(transparent)]
    Hub(#[from] zoo_models::hub::HubError),
    /// A weights file that cannot be read or written.
    #[error(transparent)]
    Weights(Box<zoo_models::weights::WeightsError>),
    /// `--kernels` or `ZOO_KERNELS`.
    #[error(transparent)]
    Kernels(#[from] zoo_kernels::KernelsError),
    /// An ONNX export.
    #[error(transparent)]
    Onnx(#[from] zoo_models::onnx::OnnxError),
    /// tract-onnx could not load or run an exported file.
    #[error("{}: tract-onnx cannot run it: {source}", path.display())]
    OnnxRuntime {
        /// The ONNX file.
        path: PathBuf,
        /// tract's error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// An exported file whose logits differ from Burn's.
    #[error("{}: tract-onnx's logits differ from Burn's by {difference:e} (scale {scale}); the file was removed", path.display())]
    OnnxMismatch {
        /// The ONNX file.
        path: PathBuf,
        /// Largest absolute difference.
        difference: f32,
        /// Largest absolute logit.
        scale: f32,
    },
    /// A chart.
    #[error(transparent)]
    Plot(#[from] zoo_train::plot::PlotError),
    /// A file or directory that cannot be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The system's error.
        source: io::Error,
    },
    /// JSON that cannot be written or read.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// Standard output cannot be written.
    #[error("cannot write output: {0}")]
    Output(#[source] io::Error),
}

impl From<zoo_models::weights::WeightsError> for CliError {
    fn from(error: zoo_models::weights::WeightsError) -> Self {
        CliError::Weights(Box::new(error))
    }
}

// A message of the CLI's own (no underlying error): what the user asked for does not make sense.
impl From<String> for CliError {
    fn from(message: String) -> Self {
        CliError::Usage(message)
    }
}

impl From<&str> for CliError {
    fn from(message: &str) -> Self {
        CliError::Usage(message.to_string())
    }
}

impl CliError {
    /// Arguments that do not make sense.
    pub fn usage(message: impl Into<String>) -> Self {
        CliError::Usage(message.into())
    }

    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        CliError::Io { path: path.into(), source }
    }
}

/// Prefixes an error with the argument, model or file it concerns, keeping it as the source.
pub trait Context<T> {
    /// `Err(e)` becomes `context: e`.
    fn context(self, context: impl Into<String>) -> Result<T, CliError>;
}

impl<T, E: Into<CliError>> Context<T> for Result<T, E> {
    fn context(self, context: impl Into<String>) -> Result<T, CliError> {
        self.map_err(|e| CliError::Context { context: context.into(), source: Box::new(e.into()) })
    }
}
