//! The one error type of training, evaluation and prediction: every variant prints as a single
//! line that names the file, field or argument at fault.

use std::path::PathBuf;

/// What can go wrong in `zoo train`, `zoo eval` and `zoo predict`.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A configuration value or command-line argument is invalid.
    #[error("{0}")]
    Config(String),
    /// Reading the dataset failed.
    #[error(transparent)]
    Data(#[from] zoo_data::DataError),
    /// A file of the run directory could not be read or written.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
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
    /// Training stopped for another reason.
    #[error("training failed: {0}")]
    Training(String),
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

impl TrainError {
    /// A file error from an I/O error.
    pub fn file(path: impl Into<PathBuf>, error: impl std::fmt::Display) -> Self {
        TrainError::File { path: path.into(), message: error.to_string() }
    }
}
