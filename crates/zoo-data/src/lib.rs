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
mod loader;
pub mod npy;
mod rng;
mod synth;
pub mod transforms;

use std::path::Path;
use std::sync::Arc;

pub use batch::{Batch, BatchMix, HostBatch};
pub use cifar::{CIFAR_IMAGE_BYTES, CifarDataset, CifarKind};
pub use dataset::{Dataset, Item, Subset, split_indices, train_val_split};
pub use error::{DataError, Result};
pub use folder::{IMAGE_EXTENSIONS, ImageFolder, decode_image, load_image};
pub use idx::{
    IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, IdxDataset, IdxKind, parse_idx_images, parse_idx_labels,
};
pub use imagebuf::Image;
pub use loader::{DataLoader, EpochIter, LoaderConfig};
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
pub const DATASET_NAMES: [&str; 6] = [
    "synth-digits",
    "mnist",
    "fashion-mnist",
    "cifar10",
    "cifar100",
    "cifar100-coarse",
];

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
pub fn open_dataset(
    name: &str,
    root: impl AsRef<Path>,
    split: Split,
    channels: usize,
) -> Result<Arc<dyn Dataset>> {
    let root = root.as_ref();
    Ok(match name {
        "synth-digits" | "synth_digits" | "synth" => Arc::new(SynthDigits::new(split)),
        "mnist" => Arc::new(IdxDataset::open(root.join("mnist"), IdxKind::Mnist, split)?),
        "fashion-mnist" | "fashion_mnist" => Arc::new(IdxDataset::open(
            root.join("fashion-mnist"),
            IdxKind::FashionMnist,
            split,
        )?),
        "cifar10" | "cifar-10" => Arc::new(CifarDataset::open(
            root.join("cifar10"),
            CifarKind::Cifar10,
            split,
        )?),
        "cifar100" | "cifar-100" => Arc::new(CifarDataset::open(
            root.join("cifar100"),
            CifarKind::Cifar100Fine,
            split,
        )?),
        "cifar100-coarse" => Arc::new(CifarDataset::open(
            root.join("cifar100"),
            CifarKind::Cifar100Coarse,
            split,
        )?),
        other => match other.strip_prefix("folder:") {
            Some(path) => {
                let p = Path::new(path);
                let sub = p.join(split.name());
                Arc::new(ImageFolder::open(
                    if sub.is_dir() { sub } else { p.to_path_buf() },
                    channels,
                )?)
            }
            None => return Err(DataError::UnknownDataset(other.to_string())),
        },
    })
}
