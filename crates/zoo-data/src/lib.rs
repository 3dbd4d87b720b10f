//! Datasets, augmentation and deterministic batching for burn-zoo.
//!
//! - Datasets behind one [`Dataset`] trait: [`SynthDigits`] (embedded, the default everywhere),
//!   MNIST / Fashion-MNIST ([`IdxDataset`]), CIFAR-10 / CIFAR-100 ([`CifarDataset`]) and image
//!   folders ([`ImageFolder`]); [`open_dataset`] picks one by name.
//! - Augmentations in [`transforms`], each a serde-configurable type, composed into a
//!   [`transforms::Pipeline`]; batch-level mixup / cutmix in [`BatchMix`].
//! - A [`DataLoader`] whose batches are identical whatever the number of worker threads, because
//!   all randomness is keyed by `(seed, epoch, sample index)` ([`Rng`]).
//! - Typed errors ([`DataError`]) naming the file and byte offset, never a panic on bad input.
//! - [`download`] fetches MNIST, Fashion-MNIST and CIFAR into a cache, verifying checksums.
//!
//! ```
//! use std::sync::Arc;
//! use zoo_data::{DataLoader, LoaderConfig, Split, open_dataset, transforms::Pipeline};
//!
//! let train = open_dataset("synth-digits", "data", Split::Train, 1).unwrap();
//! let loader = DataLoader::new(train, Pipeline::digits_eval(false), LoaderConfig::new(128).with_workers(2)).unwrap();
//! let first = loader.iter(0).next().unwrap().unwrap();
//! assert_eq!(first.shape, [128, 1, 32, 32]);
//! ```

#![warn(missing_docs)]

mod batch;
mod cifar;
mod dataset;
pub mod download;
mod error;
mod folder;
mod idx;
mod imagebuf;
pub mod interop;
mod loader;
pub mod npy;
mod rng;
mod synth;
pub mod transforms;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use batch::{Batch, BatchMix, HostBatch};
pub use cifar::{CIFAR_IMAGE_BYTES, CifarDataset, CifarKind};
pub use dataset::{Dataset, Item, Subset, split_indices, train_val_split};
pub use error::{DataError, Result};
pub use folder::{IMAGE_EXTENSIONS, ImageFolder, decode_image, load_image};
pub use idx::{IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, IdxDataset, IdxKind, parse_idx_images, parse_idx_labels};
pub use imagebuf::Image;
pub use loader::{DataLoader, EpochIter, LoaderConfig, Shard};
pub use rng::Rng;
pub use synth::{SYNTH_DEFAULT_SEED, SYNTH_SIZE, SYNTH_TEST_LEN, SYNTH_TRAIN_LEN, SynthDigits};

/// Which part of a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    /// The training set.
    Train,
    /// The test set (used for evaluation).
    Test,
}

impl Split {
    /// `"train"` or `"test"`.
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "test",
        }
    }
}

/// The dataset names [`open_dataset`] knows (plus `folder:<path>`).
pub const DATASET_NAMES: [&str; 6] =
    ["synth-digits", "mnist", "fashion-mnist", "cifar10", "cifar100", "cifar100-coarse"];

/// Where a dataset that lives in files (`mnist`, `fashion-mnist`, `cifar10`, `cifar100`) is
/// looked for, in order: `data_dir` (`--data-dir`), `$ZOO_DATA_DIR`, the zoo's cache
/// (`$ZOO_CACHE_DIR/data`, else `$XDG_CACHE_HOME/burn-zoo/data`, else `~/.cache/burn-zoo/data`)
/// and `/usr/share/datasets`, where Debian's `dataset-fashion-mnist` package installs. Each is a
/// root holding `<name>/`, as [`open_dataset`] reads it.
///
/// ```
/// let roots = zoo_data::data_roots("data".as_ref());
/// assert_eq!(roots[0], std::path::Path::new("data"));
/// assert_eq!(roots.last().unwrap(), std::path::Path::new("/usr/share/datasets"));
/// ```
pub fn data_roots(data_dir: &Path) -> Vec<PathBuf> {
    let env = |key: &str| std::env::var_os(key).filter(|v| !v.is_empty()).map(PathBuf::from);
    let cache = env("ZOO_CACHE_DIR")
        .or_else(|| env("XDG_CACHE_HOME").map(|c| c.join("burn-zoo")))
        .or_else(|| env("HOME").map(|h| h.join(".cache").join("burn-zoo")))
        .map(|c| c.join("data"));
    let mut roots = vec![data_dir.to_path_buf()];
    roots.extend(env("ZOO_DATA_DIR"));
    roots.extend(cache);
    roots.push(PathBuf::from("/usr/share/datasets"));
    roots.dedup();
    roots
}

/// The first of [`data_roots`] under which dataset `name`'s test split opens, or `None` (also
/// for `synth-digits` and image folders, which are not looked for).
///
/// ```no_run
/// // With Debian's dataset-fashion-mnist package installed:
/// let root = zoo_data::find_dataset("fashion-mnist", "data".as_ref()).unwrap();
/// assert_eq!(root, std::path::Path::new("/usr/share/datasets"));
/// ```
pub fn find_dataset(name: &str, data_dir: &Path) -> Option<PathBuf> {
    if name.starts_with("folder:") || SynthDigits::is_name(name) {
        return None;
    }
    data_roots(data_dir).into_iter().find(|root| open_dataset(name, root, Split::Test, 3).is_ok())
}

/// Opens a dataset by name.
///
/// `synth-digits` needs no file; `mnist`, `fashion-mnist`, `cifar10`, `cifar100` (fine labels)
/// and `cifar100-coarse` are read from `root/<name>` (the layout [`download::download`] writes);
/// `folder:<path>` opens `<path>/train` or `<path>/test` as an [`ImageFolder`] when those exist,
/// `<path>` itself otherwise. `channels` is used by image folders only (the other datasets have
/// a fixed channel count).
///
/// ```
/// use zoo_data::{Split, open_dataset};
/// let ds = open_dataset("synth-digits", "unused", Split::Test, 1).unwrap();
/// assert_eq!(ds.len(), 10_000);
/// assert!(open_dataset("imagenet-21k", "data", Split::Test, 3).is_err());
/// ```
pub fn open_dataset(name: &str, root: impl AsRef<Path>, split: Split, channels: usize) -> Result<Arc<dyn Dataset>> {
    let root = root.as_ref();
    Ok(match name {
        name if SynthDigits::is_name(name) => Arc::new(SynthDigits::new(split)),
        "mnist" => Arc::new(IdxDataset::open(root.join("mnist"), IdxKind::Mnist, split)?),
        "fashion-mnist" | "fashion_mnist" => {
            Arc::new(IdxDataset::open(root.join("fashion-mnist"), IdxKind::FashionMnist, split)?)
        }
        "cifar10" | "cifar-10" => Arc::new(CifarDataset::open(root.join("cifar10"), CifarKind::Cifar10, split)?),
        "cifar100" | "cifar-100" => {
            Arc::new(CifarDataset::open(root.join("cifar100"), CifarKind::Cifar100Fine, split)?)
        }
        "cifar100-coarse" => Arc::new(CifarDataset::open(root.join("cifar100"), CifarKind::Cifar100Coarse, split)?),
        other => match other.strip_prefix("folder:") {
            Some(path) => {
                let p = Path::new(path);
                let sub = p.join(split.name());
                Arc::new(ImageFolder::open(if sub.is_dir() { sub } else { p.to_path_buf() }, channels)?)
            }
            None => return Err(DataError::UnknownDataset(other.to_string())),
        },
    })
}
