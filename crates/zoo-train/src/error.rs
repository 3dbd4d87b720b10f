//! The one error type of training, evaluation and prediction: every variant prints as a single
//! line that names the file, field or argument at fault, and keeps the error it comes from as its
//! `source()`.

use std::path::PathBuf;
use std::sync::Arc;

use zoo_models::summary::ShapeError;

/// What can go wrong in `zoo train`, `zoo eval` and `zoo predict`.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A configuration field holds a value outside its range.
    #[error("{field}: {reason}")]
    InvalidField {
        /// The field (`batch_size`, `init`, ...).
        field: String,
        /// Why the value does not do.
        reason: String,
    },
    /// A configuration read from a file or recipe holds a value outside its range.
    #[error("{origin}: {source}")]
    InvalidIn {
        /// The file or `recipe NAME`.
        origin: String,
        /// What is wrong.
        source: Box<TrainError>,
    },
    /// A recipe name that is not built in (and not a file).
    #[error("unknown recipe `{name}` (recipes: {known}; or pass a JSON file)")]
    UnknownRecipe {
        /// The name asked for.
        name: String,
        /// The built-in recipes, comma-separated.
        known: String,
    },
    /// A dataset name the zoo does not know.
    #[error("unknown dataset `{0}` (synth-digits, mnist, fashion-mnist, cifar10, cifar100, folder:<path>)")]
    UnknownDataset(String),
    /// JSON that is not a configuration: a recipe file, a run's `config.json`, the result of `--set`.
    #[error("{origin}: {source}")]
    ConfigJson {
        /// Where the JSON came from (a file, `recipe NAME`, `configuration`).
        origin: String,
        /// The parser's complaint.
        source: serde_json::Error,
    },
    /// A `--set PATH=VALUE` that cannot be applied.
    #[error("--set {path}: {reason}")]
    SetField {
        /// The dotted path.
        path: String,
        /// Why it cannot be set.
        reason: String,
    },
    /// Neither a model nor a recipe was given.
    #[error("give a MODEL or a --recipe")]
    NoModel,
    /// An unknown model name or invalid model options.
    #[error(transparent)]
    Registry(#[from] zoo_models::registry::RegistryError),
    /// A `--pretrained` tag torchvision does not publish for the model.
    #[error(transparent)]
    Pretrained(#[from] zoo_models::pretrained::PretrainedError),
    /// The model cannot take the data's input (a feature map vanishes); `hint` names the
    /// smallest input it takes.
    #[error("{model}: {source}{hint}")]
    Input {
        /// The model.
        model: String,
        /// Where the shape breaks.
        source: ShapeError,
        /// `; the smallest input it takes is ...`, or empty.
        hint: String,
    },
    /// The data's images are smaller than the model takes and `--no-resize` keeps them so.
    #[error(
        "{model} cannot take {dataset}'s {found} images and --no-resize keeps them: the smallest it takes is {smallest}"
    )]
    ImagesTooSmall {
        /// The model.
        model: String,
        /// The dataset.
        dataset: String,
        /// The images' shape, `CxHxW`.
        found: String,
        /// The smallest input the model takes, `CxHxW`.
        smallest: String,
    },
    /// The model takes no square input of this channel count up to the largest searched.
    #[error("{model} takes no {channels}-channel square input up to {largest}")]
    NoInputFits {
        /// The model.
        model: String,
        /// Input channels.
        channels: usize,
        /// The largest side tried.
        largest: usize,
    },
    /// The auxiliary classifier (GoogLeNet, Inception v3) cannot take the input.
    #[error(
        "{model}: the auxiliary classifier cannot train on a {input} input ({reason}); --set aux_logits=false trains without it"
    )]
    AuxiliaryInput {
        /// The model.
        model: String,
        /// The input, `CxHxW`.
        input: String,
        /// Where its shape breaks.
        reason: String,
    },
    /// The configuration was never resolved against a dataset (no input shape, no classes).
    #[error("the configuration has no resolved input")]
    Unresolved,
    /// The model's outputs and the dataset's classes differ in number.
    #[error("the model has {outputs} outputs but {dataset} has {classes} classes")]
    ClassCount {
        /// Outputs of the model.
        outputs: usize,
        /// The dataset.
        dataset: String,
        /// Its classes.
        classes: usize,
    },
    /// A dataset that is not on disk, with where else it was looked for.
    #[error("{source}; also looked under {looked} (pass --download to fetch {name})")]
    DatasetNotFound {
        /// What the reader said (boxed: it would double the size of every `Result` here).
        source: Box<zoo_data::DataError>,
        /// The other roots searched, comma-separated.
        looked: String,
        /// The dataset.
        name: String,
    },
    /// Reading the dataset failed.
    #[error(transparent)]
    Data(#[from] zoo_data::DataError),
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The system's error.
        source: std::io::Error,
    },
    /// A file exists but its content is not what it should be.
    #[error("{}: {message}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A directory without a run's `config.json`.
    #[error("{}: {source} (is {} a run directory?)", config.display(), dir.display())]
    NotARun {
        /// The `config.json` looked for.
        config: PathBuf,
        /// The run directory given.
        dir: PathBuf,
        /// Why it could not be read.
        source: std::io::Error,
    },
    /// `zoo train --out DIR` where DIR holds a run already.
    #[error("{} already holds a run: continue it with `zoo train --resume {}` or choose another --out", dir.display(), dir.display())]
    RunExists {
        /// The directory.
        dir: PathBuf,
    },
    /// The `init` weights of a run do not load.
    #[error("{model}: {source}")]
    Init {
        /// The model.
        model: String,
        /// Why.
        source: Box<TrainError>,
    },
    /// The loss became NaN or infinite; the run stopped.
    #[error(
        "the loss became {value} at epoch {epoch}, iteration {iteration}; the run stopped and kept its last good checkpoint ({kept}): lower the learning rate and resume with `zoo train --resume {dir}`"
    )]
    Diverged {
        /// Epoch (1-based) of the bad batch.
        epoch: usize,
        /// Iteration within the epoch (1-based).
        iteration: usize,
        /// `NaN` or `inf`.
        value: String,
        /// The checkpoint that is kept, in words.
        kept: String,
        /// The run directory.
        dir: String,
    },
    /// The loss of `--dry-run`'s step is not finite.
    #[error("{model} on {dataset}: the loss is not finite (training {train}, evaluation {valid})")]
    NotFinite {
        /// The model.
        model: String,
        /// The dataset.
        dataset: String,
        /// Loss of the training batch.
        train: f32,
        /// Loss of the evaluation batch.
        valid: f32,
    },
    /// Training stopped on a failure inside the backend (a remote server that went away, a
    /// device that failed); the checkpoints written so far are kept.
    #[error(
        "training stopped at epoch {epoch}: {reason}; the last checkpoint ({kept}) resumes with `zoo train --resume {dir}`"
    )]
    Crashed {
        /// The epoch (1-based) that was being trained.
        epoch: usize,
        /// What the backend said, first line.
        reason: String,
        /// The checkpoint that is kept, in words.
        kept: String,
        /// The run directory.
        dir: String,
    },
    /// burn-train stopped with an error.
    #[error("training failed: {0}")]
    Learner(#[source] Arc<burn::train::TrainingError>),
    /// The run was interrupted.
    #[error("training failed: {0}")]
    Interrupted(String),
    /// A weights file could not be read or written, or does not fit the model.
    #[error(transparent)]
    Weights(Box<zoo_models::weights::WeightsError>),
    /// A backend name gives no device.
    #[error(transparent)]
    Backend(#[from] zoo_models::backend::BackendError),
    /// torchvision's weights are neither cached nor downloadable.
    #[error(transparent)]
    Hub(#[from] zoo_models::hub::HubError),
    /// Drawing a chart failed.
    #[error(transparent)]
    Plot(#[from] crate::plot::PlotError),
}

impl From<zoo_models::weights::WeightsError> for TrainError {
    fn from(error: zoo_models::weights::WeightsError) -> Self {
        // Boxed: the weights error is large, and every `Result` of this crate carries the enum.
        TrainError::Weights(Box::new(error))
    }
}

impl TrainError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        TrainError::Io { path: path.into(), source }
    }

    /// A file whose content is wrong.
    pub fn file(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        TrainError::File { path: path.into(), message: message.into() }
    }

    /// A field with a bad value.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        TrainError::InvalidField { field: field.into(), reason: reason.into() }
    }
}
