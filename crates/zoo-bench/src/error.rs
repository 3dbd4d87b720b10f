//! What can go wrong around a benchmark run: reading reports back, combining them, drawing.

use std::path::PathBuf;

/// An error of `zoo bench`'s reports and charts; each prints as one line naming the file.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A report file could not be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file that is not JSON of a benchmark report.
    #[error("{}: not a benchmark report: {source}", path.display())]
    NotAReport {
        /// The file.
        path: PathBuf,
        /// The JSON parser's complaint.
        source: serde_json::Error,
    },
    /// A report of another schema (or version).
    #[error("{}: schema `{found}` is not `{}`", path.display(), crate::SCHEMA)]
    Schema {
        /// The file.
        path: PathBuf,
        /// The schema it names.
        found: String,
    },
    /// Medians were asked of no report.
    #[error("no report to take medians of")]
    NoReports,
    /// A case of the first report is missing from another one.
    #[error("{0} is not in every report")]
    MissingCase(String),
    /// The chart could not be drawn or written.
    #[error(transparent)]
    Plot(#[from] zoo_train::plot::PlotError),
}
