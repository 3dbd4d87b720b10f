//! Weights in and out: PyTorch state dicts (`.pth`/`.pt`, zip or legacy format), safetensors,
//! and Burn's own burnpack (`.bpk`).
//!
//! Field names mirror torchvision's state-dict keys, so a torchvision state dict loads with no
//! renaming beyond what burn-store's PyTorch adapter does anyway (BatchNorm `weight`/`bias` are
//! Burn's `gamma`/`beta`; `Linear` weights are transposed). The few renames a family needs for
//! other well-known checkpoints live beside its definition, in its [`CheckpointNames`] (e.g.
//! [`crate::resnet_cifar::PYTORCH_KEY_REMAPS`]); two apply to every model:
//! a `module.` prefix (a model saved from `DataParallel`/`DistributedDataParallel`) is dropped,
//! and BatchNorm's `num_batches_tracked` counters are ignored (Burn does not keep one).
//!
//! Loading is strict by default: every key of the model must be in the file with the same shape,
//! and the file must hold nothing else. [`LoadOptions::allow_partial`] loads what matches and
//! reports the rest, which is how a network is fine-tuned with another number of classes.
//!
//! ```no_run
//! use burn::tensor::Device;
//! use zoo_models::weights::{load, LoadOptions};
//! use zoo_models::{create, ModelOptions};
//!
//! let device = Device::flex();
//! let mut model = create("resnet18", &ModelOptions::default(), &device)?;
//! // A state dict saved with `torch.save(torchvision.models.resnet18().state_dict(), ...)`.
//! let report = load(&mut model, "resnet18.pth".as_ref(), &LoadOptions::default())?;
//! println!("{} tensors loaded", report.loaded);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use burn::store::{
    ApplyError, BurnToPyTorchAdapter, BurnpackStore, ModuleSnapshot, ModuleStore, PyTorchToBurnAdapter, PytorchStore,
    SafetensorsStore,
};
use serde::Serialize;

use crate::CheckpointNames;
use crate::registry::ZooModel;

/// Renames every model gets on load, as (regex, replacement) pairs applied to the file's keys.
const COMMON_KEY_REMAPS: &[(&str, &str)] = &[
    // `torch.save(model.state_dict())` of a DataParallel/DDP-wrapped model.
    (r"^module\.", ""),
];

/// The suffix of BatchNorm's step counter, a buffer torchvision saves and Burn has no use for.
const NUM_BATCHES_TRACKED: &str = "num_batches_tracked";

/// The container formats [`load`] reads, told apart by their first bytes, not their extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WeightsFormat {
    /// `torch.save` output: a zip archive (PyTorch ≥ 1.6) or the legacy pickle stream.
    Pytorch,
    /// Hugging Face safetensors.
    Safetensors,
    /// Burn's burnpack, what `zoo train` and `zoo import` write.
    Burnpack,
}

impl fmt::Display for WeightsFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WeightsFormat::Pytorch => "PyTorch",
            WeightsFormat::Safetensors => "safetensors",
            WeightsFormat::Burnpack => "burnpack",
        })
    }
}

impl WeightsFormat {
    /// Recognises a weights file by its magic bytes.
    ///
    /// ```
    /// use zoo_models::weights::WeightsFormat;
    /// let dir = std::env::temp_dir().join("zoo-models-doc-format");
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let path = dir.join("notes.txt");
    /// std::fs::write(&path, "not weights").unwrap();
    /// assert!(WeightsFormat::detect(&path).is_err());
    /// ```
    pub fn detect(path: &Path) -> Result<Self, WeightsError> {
        let mut head = [0u8; 16];
        let n = std::fs::File::open(path)
            .and_then(|mut f| read_up_to(&mut f, &mut head))
            .map_err(|e| WeightsError::io(path, e))?;
        let head = &head[..n];
        let not_weights = |reason: &str| WeightsError::NotWeights { path: path.to_path_buf(), reason: reason.into() };
        if n == 0 {
            return Err(not_weights("the file is empty"));
        }
        if head.starts_with(b"PK\x03\x04") {
            return Ok(WeightsFormat::Pytorch);
        }
        // Pickle protocol 2+ opens with PROTO; the legacy format starts with a pickled magic number.
        if head[0] == 0x80 && head.get(1).is_some_and(|v| (2..=5).contains(v)) {
            return Ok(WeightsFormat::Pytorch);
        }
        if head.starts_with(&0x4255_524E_u32.to_le_bytes()) {
            return Ok(WeightsFormat::Burnpack);
        }
        // safetensors: a little-endian u64 header length, then a JSON object.
        if n >= 9 && head[8] == b'{' {
            let header_len = u64::from_le_bytes(head[..8].try_into().expect("8 bytes"));
            let file_len = std::fs::metadata(path).map_err(|e| WeightsError::io(path, e))?.len();
            // A header length near u64::MAX must not wrap around (found by fuzzing).
            if header_len.checked_add(8).is_some_and(|end| end <= file_len) {
                return Ok(WeightsFormat::Safetensors);
            }
            return Err(not_weights("a truncated safetensors file: its header runs past the end"));
        }
        Err(not_weights("expected a PyTorch state dict (.pth/.pt), a .safetensors file or a Burn .bpk file"))
    }
}

/// Refuses a burnpack whose header claims more metadata than the file holds. burn-pack 0.22.1
/// allocates the claimed size (up to 100 MiB) before reading it, so a 3 KB file could ask for
/// 100 MB (found by fuzzing the weights loaders; reported upstream in the closing note).
fn check_burnpack_header(path: &Path) -> Result<(), WeightsError> {
    // magic (u32), format version (u16), metadata size (u32), all little-endian.
    let mut header = [0u8; 10];
    let n = std::fs::File::open(path)
        .and_then(|mut f| read_up_to(&mut f, &mut header))
        .map_err(|e| WeightsError::io(path, e))?;
    let file_len = std::fs::metadata(path).map_err(|e| WeightsError::io(path, e))?.len();
    let claimed = u64::from(u32::from_le_bytes(header[6..10].try_into().expect("4 bytes")));
    if n == header.len() && claimed > file_len - header.len() as u64 {
        let reason = format!("its header claims {claimed} bytes of metadata, and the file has {file_len} bytes");
        return Err(WeightsError::NotWeights { path: path.to_path_buf(), reason });
    }
    Ok(())
}

fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..])? {
            0 => break,
            k => filled += k,
        }
    }
    Ok(filled)
}

/// How [`load`] treats a file that does not fit the model exactly.
///
/// ```
/// use zoo_models::weights::LoadOptions;
/// // Fine-tuning: keep the backbone, leave the new 10-class head as initialised.
/// let options = LoadOptions::default().with_allow_partial(true);
/// ```
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Load the tensors that match and report the rest, instead of failing.
    pub allow_partial: bool,
    /// The entry of a PyTorch checkpoint that holds the state dict (`state_dict`, `model`, ...),
    /// for files saved as `torch.save({"state_dict": ..., "epoch": ...})`.
    pub top_level_key: Option<String>,
    /// Fine-tuning to this many classes (timm's `reset_classifier`): tensors that differ from the
    /// file only in their class dimension keep their fresh initialisation and are listed in
    /// [`LoadReport::reset`]; every other tensor must still fit exactly.
    pub reset_classifier: Option<usize>,
}

impl LoadOptions {
    /// Sets [`LoadOptions::allow_partial`].
    pub fn with_allow_partial(mut self, allow: bool) -> Self {
        self.allow_partial = allow;
        self
    }

    /// Sets [`LoadOptions::top_level_key`].
    pub fn with_top_level_key(mut self, key: impl Into<String>) -> Self {
        self.top_level_key = Some(key.into());
        self
    }

    /// Sets [`LoadOptions::reset_classifier`]: a model built for `classes` classes takes a file
    /// trained for another count, with its classifier head freshly initialised.
    ///
    /// ```
    /// use burn::tensor::Device;
    /// use zoo_models::weights::{load, save_burnpack, LoadOptions};
    /// use zoo_models::{create, ModelOptions};
    /// let device = Device::flex();
    /// let ten = create("lenet5", &ModelOptions::default(), &device).unwrap();
    /// let path = std::env::temp_dir().join("zoo-models-doc-reset.bpk");
    /// save_burnpack(&ten, &path).unwrap();
    /// let mut three = create("lenet5", &ModelOptions::default().with_num_classes(3), &device).unwrap();
    /// let report = load(&mut three, &path, &LoadOptions::default().with_reset_classifier(3)).unwrap();
    /// let reset: Vec<&str> = report.reset.iter().map(|m| m.key.as_str()).collect();
    /// assert_eq!(reset, ["fc3.weight", "fc3.bias"]);
    /// ```
    pub fn with_reset_classifier(mut self, classes: usize) -> Self {
        self.reset_classifier = Some(classes);
        self
    }

    // Whether a report is acceptable, after moving the classifier tensors a new class count
    // explains from `mismatched` to `reset`.
    fn accepts(&self, report: &mut LoadReport) -> bool {
        if let Some(classes) = self.reset_classifier {
            let (head, rest): (Vec<_>, Vec<_>) =
                report.mismatched.drain(..).partition(|m| m.is_class_dimension(classes));
            report.mismatched = rest;
            report.reset = head;
        }
        self.allow_partial || report.is_exact()
    }
}

/// A tensor present in both the model and the file, with different shapes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShapeMismatch {
    /// The key, in the file's naming.
    pub key: String,
    /// Its shape in the model.
    pub model: Vec<usize>,
    /// Its shape in the file.
    pub file: Vec<usize>,
}

impl ShapeMismatch {
    // A classifier's weight or bias for another class count: rank 1 or 2, one dimension
    // different, and that dimension is the model's class count (layout-agnostic: PyTorch's
    // `Linear` weight is `[out, in]`, Burn's `[in, out]`).
    fn is_class_dimension(&self, classes: usize) -> bool {
        let differing: Vec<usize> = (0..self.model.len()).filter(|&d| self.model[d] != self.file[d]).collect();
        self.model.len() == self.file.len()
            && self.model.len() <= 2
            && differing.len() == 1
            && self.model[differing[0]] == classes
    }
}

impl fmt::Display for ShapeMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is {:?} in the file but {:?} in the model", self.key, self.file, self.model)
    }
}

/// What [`load`] did. Keys are PyTorch's names (`layer1.0.bn1.weight`) for PyTorch and
/// safetensors files, and Burn's module paths below the model (`fc3.weight`) for burnpack
/// files; shapes are in the file's convention (a PyTorch `Linear` weight is `[out, in]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoadReport {
    /// The file's format.
    pub format: WeightsFormat,
    /// Tensors copied into the model.
    pub loaded: usize,
    /// Keys the model has and the file lacks; with `allow_partial` they keep their initial values.
    pub missing: Vec<String>,
    /// Keys the file has and the model lacks.
    pub unexpected: Vec<String>,
    /// Keys whose shapes differ; with `allow_partial` they keep their initial values.
    pub mismatched: Vec<ShapeMismatch>,
    /// Tensors skipped on purpose: BatchNorm's `num_batches_tracked` counters, and the
    /// auxiliary classifiers of a GoogLeNet or Inception v3 built without them.
    pub ignored: usize,
    /// Classifier tensors left freshly initialised for a new class count
    /// ([`LoadOptions::reset_classifier`]).
    pub reset: Vec<ShapeMismatch>,
}

impl LoadReport {
    /// Whether every tensor of the model came from the file and the file held nothing else.
    pub fn is_exact(&self) -> bool {
        self.missing.is_empty() && self.unexpected.is_empty() && self.mismatched.is_empty()
    }

    /// One line: what was loaded and, when something did not fit, what.
    pub fn summary(&self) -> String {
        let mut line = format!("{} tensors loaded from a {} file", self.loaded, self.format);
        for part in self.problems() {
            line.push_str("; ");
            line.push_str(&part);
        }
        line
    }

    // Each kind of misfit as a phrase listing its keys (at most `LISTED` of each).
    fn problems(&self) -> Vec<String> {
        const LISTED: usize = 40;
        fn list(keys: impl ExactSizeIterator<Item = String>) -> String {
            let total = keys.len();
            let mut shown: Vec<String> = keys.take(LISTED).collect();
            if total > LISTED {
                shown.push(format!("... and {} more", total - LISTED));
            }
            shown.join(", ")
        }
        let mut parts = Vec::new();
        if !self.missing.is_empty() {
            parts.push(format!("{} missing keys: {}", self.missing.len(), list(self.missing.iter().cloned())));
        }
        if !self.unexpected.is_empty() {
            parts.push(format!("{} unexpected keys: {}", self.unexpected.len(), list(self.unexpected.iter().cloned())));
        }
        if !self.reset.is_empty() {
            let keys = self.reset.iter().map(|m| format!("{} {:?} -> {:?}", m.key, m.file, m.model));
            parts.push(format!(
                "{} classifier tensors reset for the new class count: {}",
                self.reset.len(),
                list(keys)
            ));
        }
        if !self.mismatched.is_empty() {
            parts.push(format!(
                "{} shape mismatches: {}",
                self.mismatched.len(),
                list(self.mismatched.iter().map(ToString::to_string))
            ));
        }
        parts
    }
}

/// A reader's or writer's own error (burn-store's, safetensors'), kept as the source.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why weights could not be read, written, or did not fit the model. Each message is one line
/// starting with the file's path; the cause stays reachable through [`std::error::Error::source`].
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    /// The file could not be opened, read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not in any weights format.
    #[error("{}: not a weights file ({reason})", path.display())]
    NotWeights {
        /// The file.
        path: PathBuf,
        /// What was found instead.
        reason: String,
    },
    /// The file looked like a weights file but could not be parsed.
    #[error("{}: unreadable {format} file: {}", path.display(), first_line(source))]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Its format.
        format: WeightsFormat,
        /// The reader's error (only its first line is in the message: burn-store's can span
        /// several).
        #[source]
        source: BoxError,
    },
    /// The weights could not be encoded for writing.
    #[error("{}: {}{source}", path.display(), tensor.as_ref().map(|t| format!("{t}: ")).unwrap_or_default())]
    Encode {
        /// The file being written.
        path: PathBuf,
        /// The tensor being encoded, when the error is about one.
        tensor: Option<String>,
        /// The encoder's error.
        #[source]
        source: BoxError,
    },
    /// A tensor's element type has no safetensors equivalent.
    #[error("{}: {tensor}: cannot export dtype {dtype:?}", path.display())]
    UnsupportedDtype {
        /// The file being written.
        path: PathBuf,
        /// The tensor.
        tensor: String,
        /// Its element type.
        dtype: burn::tensor::DType,
    },
    /// Strict loading found keys or shapes that do not fit; nothing was loaded.
    #[error("{}: does not fit the model: {}", path.display(), report.problems().join("; "))]
    Mismatch {
        /// The file.
        path: PathBuf,
        /// What fits and what does not (boxed: it is large, and errors travel by value).
        report: Box<LoadReport>,
    },
}

impl WeightsError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        WeightsError::Io { path: path.to_path_buf(), source }
    }

    fn unreadable(path: &Path, format: WeightsFormat, source: impl Into<BoxError>) -> Self {
        WeightsError::Unreadable { path: path.to_path_buf(), format, source: source.into() }
    }

    fn encode(path: &Path, tensor: Option<&str>, source: impl Into<BoxError>) -> Self {
        WeightsError::Encode { path: path.to_path_buf(), tensor: tensor.map(String::from), source: source.into() }
    }
}

/// The first non-empty line of an error's message (burn-store prints boxed, multi-line
/// summaries; messages here stay one line).
fn first_line(error: &BoxError) -> String {
    let message = error.to_string();
    message.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("").to_string()
}

/// The model's tensors as PyTorch names them, with PyTorch's shapes.
fn pytorch_view(model: &ZooModel) -> BTreeMap<String, Vec<usize>> {
    model
        .collect(None, Some(Box::new(BurnToPyTorchAdapter)), true)
        .into_iter()
        .map(|t| (t.name, t.shape.to_vec()))
        .collect()
}

/// Compares the file's keys with the model's (both in PyTorch naming) before anything is applied.
fn compare(
    format: WeightsFormat,
    model: &BTreeMap<String, Vec<usize>>,
    file: &BTreeMap<String, Vec<usize>>,
    optional_heads: &[&str],
) -> LoadReport {
    // The optional heads the model was built without, found once.
    let absent_heads: Vec<&str> =
        optional_heads.iter().copied().filter(|head| !model.keys().any(|k| k.starts_with(head))).collect();
    let absent_head = |key: &str| absent_heads.iter().any(|head| key.starts_with(head));
    let mut report = LoadReport {
        format,
        loaded: 0,
        missing: model.keys().filter(|k| !file.contains_key(*k)).cloned().collect(),
        unexpected: Vec::new(),
        mismatched: Vec::new(),
        ignored: 0,
        reset: Vec::new(),
    };
    for (key, shape) in file {
        match model.get(key) {
            Some(expected) if expected != shape => {
                report.mismatched.push(ShapeMismatch { key: key.clone(), model: expected.clone(), file: shape.clone() })
            }
            Some(_) => {}
            None => {
                let counter_of_a_norm = key
                    .strip_suffix(NUM_BATCHES_TRACKED)
                    .is_some_and(|prefix| model.contains_key(&format!("{prefix}running_var")));
                if counter_of_a_norm || absent_head(key) {
                    report.ignored += 1;
                } else {
                    report.unexpected.push(key.clone());
                }
            }
        }
    }
    report
}

fn remapped<S>(mut store: S, model: &ZooModel, remap: fn(S, &str, &str) -> S) -> S {
    let family = model.key_remaps();
    let family = family.iter().map(|(p, r)| (p.as_str(), r.as_str()));
    for (pattern, replacement) in COMMON_KEY_REMAPS.iter().copied().chain(family) {
        store = remap(store, pattern, replacement);
    }
    store
}

/// Loads a weights file into `model`, recognising its format by content.
///
/// PyTorch and safetensors files are read with torchvision's key names (see the module docs);
/// burnpack files are Burn's own and need no renaming. In strict mode (the default) the model is
/// untouched when anything does not fit, and the error lists every missing and unexpected key and
/// every shape mismatch.
///
/// ```no_run
/// # use burn::tensor::Device;
/// # use zoo_models::{create, ModelOptions};
/// use zoo_models::weights::{load, LoadOptions};
/// // An ImageNet ResNet-18 fine-tuned from torchvision's weights to 10 classes.
/// let options = ModelOptions::default().with_num_classes(10);
/// let mut model = create("resnet18", &options, &Device::flex())?;
/// let report = load(&mut model, "resnet18.pth".as_ref(), &LoadOptions::default().with_allow_partial(true))?;
/// assert_eq!(report.mismatched.len(), 2); // fc.weight and fc.bias keep their fresh values
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn load(model: &mut ZooModel, path: &Path, options: &LoadOptions) -> Result<LoadReport, WeightsError> {
    if !path.is_file() {
        let (kind, message) = if path.exists() {
            (std::io::ErrorKind::InvalidInput, "not a file")
        } else {
            (std::io::ErrorKind::NotFound, "no such file")
        };
        return Err(WeightsError::io(path, std::io::Error::new(kind, message)));
    }
    let format = WeightsFormat::detect(path)?;
    match format {
        WeightsFormat::Pytorch => {
            let mut store = PytorchStore::from_file(path)
                // Our sequences keep torchvision's indices (ReLU and pooling slots included).
                .map_indices_contiguous(false)
                .allow_partial(true)
                .validate(false);
            if let Some(key) = &options.top_level_key {
                store = store.with_top_level_key(key.clone());
            }
            let store = remapped(store, model, |s, p, r| s.with_key_remapping(p, r));
            load_pytorch_named(model, path, options, format, store)
        }
        WeightsFormat::Safetensors => {
            let store = SafetensorsStore::from_file(path)
                .skip_enum_variants(true)
                .with_from_adapter(PyTorchToBurnAdapter)
                .allow_partial(true)
                .validate(false);
            let store = remapped(store, model, |s, p, r| s.with_key_remapping(p, r));
            load_pytorch_named(model, path, options, format, store)
        }
        WeightsFormat::Burnpack => load_burnpack(model, path, options),
    }
}

// Compares a store of PyTorch-named tensors with the model, then applies it if the comparison
// allows; mismatched tensors are left as they were.
fn load_pytorch_named<S>(
    model: &mut ZooModel,
    path: &Path,
    options: &LoadOptions,
    format: WeightsFormat,
    mut store: S,
) -> Result<LoadReport, WeightsError>
where
    S: ModuleStore,
    S::Error: std::error::Error + Send + Sync + 'static,
{
    let file = store
        .get_all_tensors()
        .map_err(|e| WeightsError::unreadable(path, format, e))?
        .iter()
        .map(|(k, t)| (k.clone(), t.shape.to_vec()))
        .collect();
    let mut report = compare(format, &pytorch_view(model), &file, model.optional_heads());
    // The comparison ran on the model's own paths; report torchvision's names, as documented.
    let name = |key: &mut String| *key = model.checkpoint_key(key);
    report.missing.iter_mut().chain(report.unexpected.iter_mut()).for_each(name);
    report.mismatched.iter_mut().for_each(|m| name(&mut m.key));
    if !options.accepts(&mut report) {
        return Err(WeightsError::Mismatch { path: path.to_path_buf(), report: Box::new(report) });
    }
    let result = model.load_from(&mut store).map_err(|e| WeightsError::unreadable(path, format, e))?;
    if let Some(error) = result.errors.iter().find(|e| !matches!(e, ApplyError::ShapeMismatch { .. })) {
        return Err(WeightsError::unreadable(path, report.format, error.clone()));
    }
    report.loaded = result.applied.len();
    Ok(report)
}

fn load_burnpack(model: &mut ZooModel, path: &Path, options: &LoadOptions) -> Result<LoadReport, WeightsError> {
    let format = WeightsFormat::Burnpack;
    check_burnpack_header(path)?;
    // burn-store has no dry run, and strict mode must leave the model untouched: load into a copy
    // (cloning shares the tensors, it copies no data) and keep it only if it fits.
    let mut candidate = model.clone();
    let mut store = BurnpackStore::from_file(path).allow_partial(true).validate(false);
    let result = candidate.load_from(&mut store).map_err(|e| WeightsError::unreadable(path, format, e))?;
    // Burn's paths start with the `ZooModel` variant (`LeNet5.fc3.weight`); report the model's own.
    let own = |path: &str| path.split_once('.').map_or(path, |(_, rest)| rest).to_string();
    let mut report = LoadReport {
        format,
        loaded: result.applied.len(),
        missing: result.missing.iter().map(|(p, _)| own(p)).collect(),
        unexpected: result.unused.iter().map(|p| own(p)).collect(),
        mismatched: Vec::new(),
        ignored: 0,
        reset: Vec::new(),
    };
    for error in &result.errors {
        match error {
            ApplyError::ShapeMismatch { path: key, expected, found } => {
                report.mismatched.push(ShapeMismatch { key: own(key), model: expected.to_vec(), file: found.to_vec() })
            }
            other => return Err(WeightsError::unreadable(path, format, other.clone())),
        }
    }
    if !options.accepts(&mut report) {
        return Err(WeightsError::Mismatch { path: path.to_path_buf(), report: Box::new(report) });
    }
    *model = candidate;
    Ok(report)
}

/// Writes the model's weights as Burn's burnpack, atomically (a temporary file, then a rename).
///
/// ```
/// use burn::tensor::Device;
/// use zoo_models::weights::{load, save_burnpack, LoadOptions};
/// use zoo_models::{create, ModelOptions};
/// let device = Device::flex();
/// let model = create("lenet5", &ModelOptions::default(), &device).unwrap();
/// let path = std::env::temp_dir().join("zoo-models-doc-lenet5.bpk");
/// save_burnpack(&model, &path).unwrap();
/// let mut copy = create("lenet5", &ModelOptions::default(), &device).unwrap();
/// assert!(load(&mut copy, &path, &LoadOptions::default()).unwrap().is_exact());
/// ```
pub fn save_burnpack(model: &ZooModel, path: &Path) -> Result<(), WeightsError> {
    let mut store = BurnpackStore::from_bytes(None);
    model.save_into(&mut store).map_err(|e| WeightsError::encode(path, None, e))?;
    let bytes = store.get_bytes().map_err(|e| WeightsError::encode(path, None, e))?;
    write_atomic(path, &bytes)
}

/// Writes the model's weights as a safetensors file with PyTorch's key names, shapes and
/// layout, so `model.load_state_dict(safetensors.torch.load_file(path), strict=True)` accepts it
/// for the matching torchvision model. BatchNorm's `num_batches_tracked` counters, which Burn does
/// not keep, are written as 0 so the key set is exactly torchvision's.
///
/// ```
/// use burn::tensor::Device;
/// use zoo_models::weights::{export_pytorch_safetensors, load, LoadOptions};
/// use zoo_models::{create, ModelOptions};
/// let device = Device::flex();
/// let model = create("resnet20", &ModelOptions::default(), &device).unwrap();
/// let path = std::env::temp_dir().join("zoo-models-doc-resnet20.safetensors");
/// export_pytorch_safetensors(&model, &path).unwrap();
/// let mut copy = create("resnet20", &ModelOptions::default(), &device).unwrap();
/// let report = load(&mut copy, &path, &LoadOptions::default()).unwrap();
/// assert_eq!(report.ignored, 19); // one counter per BatchNorm
/// ```
pub fn export_pytorch_safetensors(model: &ZooModel, path: &Path) -> Result<(), WeightsError> {
    use safetensors::tensor::{Dtype, TensorView};

    let tensors = model.collect(None, Some(Box::new(BurnToPyTorchAdapter)), true);
    let mut entries: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::with_capacity(tensors.len());
    for tensor in tensors {
        let dtype = match tensor.dtype {
            burn::tensor::DType::F32 => Dtype::F32,
            burn::tensor::DType::F16 => Dtype::F16,
            burn::tensor::DType::BF16 => Dtype::BF16,
            burn::tensor::DType::F64 => Dtype::F64,
            other => {
                return Err(WeightsError::UnsupportedDtype {
                    path: path.to_path_buf(),
                    tensor: tensor.name.clone(),
                    dtype: other,
                });
            }
        };
        let shape = tensor.shape.to_vec();
        let name = model.checkpoint_key(&tensor.name);
        let bytes = tensor.to_bytes().map_err(|e| WeightsError::encode(path, Some(&name), e))?;
        if let Some(norm) = name.strip_suffix("running_var") {
            entries.push((format!("{norm}{NUM_BATCHES_TRACKED}"), Dtype::I64, Vec::new(), 0i64.to_le_bytes().to_vec()));
        }
        entries.push((name, dtype, shape, bytes.to_vec()));
    }
    let mut views = Vec::with_capacity(entries.len());
    for (name, dtype, shape, bytes) in &entries {
        let view =
            TensorView::new(*dtype, shape.clone(), bytes).map_err(|e| WeightsError::encode(path, Some(name), e))?;
        views.push((name.as_str(), view));
    }
    let bytes = safetensors::tensor::serialize(views, None).map_err(|e| WeightsError::encode(path, None, e))?;
    write_atomic(path, &bytes)
}

/// Writes `bytes` to a temporary sibling of `path`, flushes it to disk, then renames it over
/// `path`, so a crash never leaves a half-written file under the real name.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), WeightsError> {
    use std::io::Write;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| WeightsError::io(dir, e))?;
    }
    let file_name = path.file_name().ok_or_else(|| {
        WeightsError::io(path, std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"))
    })?;
    let tmp = path.with_file_name(format!(".{}.{}.tmp", file_name.to_string_lossy(), std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        WeightsError::io(path, e)
    })
}
