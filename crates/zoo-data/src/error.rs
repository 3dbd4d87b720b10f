//! The crate's typed error.

use std::path::PathBuf;

/// Everything that can go wrong while reading, transforming or loading data.
///
/// Each variant names the file involved (and the byte offset where that applies), so that the
/// message alone tells the user what to fix. The `Display` text is a single line.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file or directory could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A file that must exist does not.
    #[error("{path}: file not found{hint}")]
    MissingFile {
        /// The expected file (the first candidate that was looked for).
        path: PathBuf,
        /// Extra advice appended to the message (may be empty).
        hint: String,
    },
    /// The first bytes of a file are not the expected magic number.
    #[error("{path}: bad magic number 0x{found:08x} at offset 0 (expected 0x{expected:08x}, {what})")]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// The magic number found.
        found: u32,
        /// The magic number expected.
        expected: u32,
        /// What kind of file was expected.
        what: &'static str,
    },
    /// A file ends before the data its header (or its record size) promises.
    #[error("{path}: truncated at offset {offset}: expected {expected} bytes, file has {actual}")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Offset of the first byte that is missing, or of the incomplete record.
        offset: u64,
        /// Total size the file should have.
        expected: u64,
        /// Actual size.
        actual: u64,
    },
    /// An image file and its label file disagree about the number of items.
    #[error("{images}: {n_images} images but {labels} has {n_labels} labels")]
    CountMismatch {
        /// The image file.
        images: PathBuf,
        /// Number of images it holds.
        n_images: usize,
        /// The label file.
        labels: PathBuf,
        /// Number of labels it holds.
        n_labels: usize,
    },
    /// A label is not below the number of classes.
    #[error("{path}: label {label} at offset {offset} is out of range for {num_classes} classes")]
    LabelOutOfRange {
        /// The file.
        path: PathBuf,
        /// Byte offset of the label.
        offset: u64,
        /// The label value.
        label: u32,
        /// Number of classes of the dataset.
        num_classes: usize,
    },
    /// A header field has an impossible value (wrong number of dimensions, zero size, ...).
    #[error("{path}: invalid header at offset {offset}: {reason}")]
    BadHeader {
        /// The file.
        path: PathBuf,
        /// Byte offset of the field.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// A compressed file could not be decompressed.
    #[error("{path}: corrupt file: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The decoder's message.
        reason: String,
    },
    /// A dataset directory does not exist.
    #[error("{path}: directory not found{hint}")]
    MissingFolder {
        /// The directory.
        path: PathBuf,
        /// Extra advice appended to the message (may be empty).
        hint: String,
    },
    /// A dataset directory holds no class sub-folder, or a class folder holds no image.
    #[error("{path}: empty folder ({reason})")]
    EmptyFolder {
        /// The directory.
        path: PathBuf,
        /// What was expected in it.
        reason: &'static str,
    },
    /// An image file could not be decoded.
    #[error("{path}: unreadable or corrupt image: {source}")]
    CorruptImage {
        /// The image file.
        path: PathBuf,
        /// The decoder's error.
        source: image::ImageError,
    },
    /// A channel count other than 1 (grey) or 3 (RGB) was requested or found.
    #[error("{path}: unsupported channel count {channels} (supported: 1 or 3)")]
    UnsupportedChannels {
        /// The file or dataset concerned.
        path: PathBuf,
        /// The channel count.
        channels: usize,
    },
    /// An index past the end of a dataset.
    #[error("{dataset}: index {index} out of range for {len} items")]
    IndexOutOfRange {
        /// The dataset's name.
        dataset: String,
        /// The index asked for.
        index: usize,
        /// The dataset's length.
        len: usize,
    },
    /// A transform cannot be applied to the image it was given, or its configuration is invalid.
    #[error("transform {transform}: {reason}")]
    Transform {
        /// The transform's name.
        transform: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// Items of one batch have different shapes.
    #[error("batch: item {index} has shape {found:?}, the first item has {expected:?} (add a resize or crop)")]
    ShapeMismatch {
        /// Index of the offending item within the batch.
        index: usize,
        /// Shape `[c, h, w]` of the first item.
        expected: [usize; 3],
        /// Shape of the offending item.
        found: [usize; 3],
    },
    /// A configuration value is invalid (batch size 0, split fraction outside [0, 1], ...).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A download failed or could not be started.
    #[error("{0}")]
    Download(String),
    /// A downloaded file does not have the published checksum.
    #[error("{path}: checksum mismatch: expected {expected}, got {actual}")]
    Checksum {
        /// The file.
        path: PathBuf,
        /// The published checksum (`md5 <hex>` or `sha256 <prefix>...`).
        expected: String,
        /// The same hash of the file that arrived.
        actual: String,
    },
    /// An unknown dataset name.
    #[error("unknown dataset `{0}` (known: synth-digits, mnist, fashion-mnist, cifar10, cifar100, folder:<path>)")]
    UnknownDataset(String),
    /// A worker thread of the loader panicked (a bug, reported instead of propagated).
    #[error("data loader worker {0} stopped unexpectedly")]
    WorkerFailed(usize),
}

impl DataError {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io { path: path.into(), source }
    }

    pub(crate) fn transform(transform: &'static str, reason: impl Into<String>) -> Self {
        DataError::Transform { transform, reason: reason.into() }
    }
}

/// Result alias for this crate.
pub type Result<T, E = DataError> = std::result::Result<T, E>;
