//! CIFAR-10 and CIFAR-100 in their binary ("suitable for C programs") format.

use std::path::{Path, PathBuf};

use crate::Split;
use crate::dataset::{Dataset, Item, packed_u8_item};
use crate::error::{DataError, Result};

/// Bytes of one CIFAR image: 3 planes of 32x32.
pub const CIFAR_IMAGE_BYTES: usize = 3 * 32 * 32;

/// Which CIFAR dataset, and for CIFAR-100 which label set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CifarKind {
    /// CIFAR-10: records of 1 label byte + 3072 pixel bytes.
    Cifar10,
    /// CIFAR-100 with its 100 fine labels: records of coarse byte, fine byte, 3072 pixel bytes.
    Cifar100Fine,
    /// CIFAR-100 with its 20 coarse (super-class) labels.
    Cifar100Coarse,
}

const CIFAR10_CLASSES: [&str; 10] =
    ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

const CIFAR100_FINE: [&str; 100] = [
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle", "bowl", "boy",
    "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle", "chair", "chimpanzee", "clock",
    "cloud", "cockroach", "couch", "crab", "crocodile", "cup", "dinosaur", "dolphin", "elephant", "flatfish", "forest",
    "fox", "girl", "hamster", "house", "kangaroo", "keyboard", "lamp", "lawn_mower", "leopard", "lion", "lizard",
    "lobster", "man", "maple_tree", "motorcycle", "mountain", "mouse", "mushroom", "oak_tree", "orange", "orchid",
    "otter", "palm_tree", "pear", "pickup_truck", "pine_tree", "plain", "plate", "poppy", "porcupine", "possum",
    "rabbit", "raccoon", "ray", "road", "rocket", "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper",
    "snail", "snake", "spider", "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank", "telephone",
    "television", "tiger", "tractor", "train", "trout", "tulip", "turtle", "wardrobe", "whale", "willow_tree", "wolf",
    "woman", "worm",
];

const CIFAR100_COARSE: [&str; 20] = [
    "aquatic_mammals", "fish", "flowers", "food_containers", "fruit_and_vegetables", "household_electrical_devices",
    "household_furniture", "insects", "large_carnivores", "large_man-made_outdoor_things",
    "large_natural_outdoor_scenes", "large_omnivores_and_herbivores", "medium_mammals", "non-insect_invertebrates",
    "people", "reptiles", "small_mammals", "trees", "vehicles_1", "vehicles_2",
];

impl CifarKind {
    /// Class names by label.
    pub fn class_names(self) -> Vec<String> {
        let names: &[&str] = match self {
            CifarKind::Cifar10 => &CIFAR10_CLASSES,
            CifarKind::Cifar100Fine => &CIFAR100_FINE,
            CifarKind::Cifar100Coarse => &CIFAR100_COARSE,
        };
        names.iter().map(|s| s.to_string()).collect()
    }

    /// Bytes per record (labels + pixels).
    pub fn record_bytes(self) -> usize {
        match self {
            CifarKind::Cifar10 => 1 + CIFAR_IMAGE_BYTES,
            _ => 2 + CIFAR_IMAGE_BYTES,
        }
    }

    /// File names of a split, relative to the extracted batches directory.
    pub fn files(self, split: Split) -> Vec<&'static str> {
        match (self, split) {
            (CifarKind::Cifar10, Split::Train) => {
                vec!["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"]
            }
            (CifarKind::Cifar10, Split::Test) => vec!["test_batch.bin"],
            (_, Split::Train) => vec!["train.bin"],
            (_, Split::Test) => vec!["test.bin"],
        }
    }

    /// The sub-directory the official archive extracts to.
    pub fn archive_dir(self) -> &'static str {
        match self {
            CifarKind::Cifar10 => "cifar-10-batches-bin",
            _ => "cifar-100-binary",
        }
    }

    /// Name used on the command line and in messages.
    pub fn name(self) -> &'static str {
        match self {
            CifarKind::Cifar10 => "cifar10",
            CifarKind::Cifar100Fine => "cifar100",
            CifarKind::Cifar100Coarse => "cifar100-coarse",
        }
    }
}

/// CIFAR-10 or CIFAR-100 read from the binary batch files.
///
/// `open` accepts either the directory holding the `.bin` files or its parent (where the
/// official archive was extracted, holding `cifar-10-batches-bin/` or `cifar-100-binary/`).
/// Images are 3x32x32.
///
/// ```no_run
/// use zoo_data::{CifarDataset, CifarKind, Dataset, Split};
/// let ds = CifarDataset::open("data/cifar10", CifarKind::Cifar10, Split::Test)?;
/// assert_eq!(ds.len(), 10_000);
/// # Ok::<(), zoo_data::DataError>(())
/// ```
#[derive(Debug, Clone)]
pub struct CifarDataset {
    kind: CifarKind,
    split: Split,
    pixels: Vec<u8>,
    labels: Vec<u8>,
    classes: Vec<String>,
}

impl CifarDataset {
    /// Reads the split `split` of `kind` from `dir`.
    pub fn open(dir: impl AsRef<Path>, kind: CifarKind, split: Split) -> Result<Self> {
        let dir = dir.as_ref();
        let hint = format!(
            " (extract the {} binary archive into {}; see datasets/{}.md, or pass --download)",
            kind.name(),
            dir.display(),
            if kind == CifarKind::Cifar10 { "cifar10" } else { "cifar100" }
        );
        if !dir.is_dir() {
            return Err(DataError::MissingFolder { path: dir.to_path_buf(), hint });
        }
        let files = kind.files(split);
        let sub = dir.join(kind.archive_dir());
        let base = if !dir.join(files[0]).is_file() && sub.join(files[0]).is_file() { sub } else { dir.to_path_buf() };
        let mut ds = Self { kind, split, pixels: Vec::new(), labels: Vec::new(), classes: kind.class_names() };
        for f in files {
            let path = base.join(f);
            if !path.is_file() {
                return Err(DataError::MissingFile { path, hint });
            }
            let bytes = std::fs::read(&path).map_err(|e| DataError::io(&path, e))?;
            ds.append_records(&bytes, &path)?;
        }
        Ok(ds)
    }

    /// Builds a dataset from the bytes of one batch file (`path` is used in errors only).
    pub fn from_bytes(bytes: &[u8], kind: CifarKind, split: Split, path: impl Into<PathBuf>) -> Result<Self> {
        let mut ds = Self { kind, split, pixels: Vec::new(), labels: Vec::new(), classes: kind.class_names() };
        ds.append_records(bytes, &path.into())?;
        Ok(ds)
    }

    fn append_records(&mut self, bytes: &[u8], path: &Path) -> Result<()> {
        let rec = self.kind.record_bytes();
        let full = bytes.len() / rec;
        if bytes.is_empty() || !bytes.len().is_multiple_of(rec) {
            return Err(DataError::Truncated {
                path: path.to_path_buf(),
                offset: (full * rec) as u64,
                expected: ((full + 1) * rec) as u64,
                actual: bytes.len() as u64,
            });
        }
        let label_pos = if self.kind == CifarKind::Cifar100Fine { 1 } else { 0 };
        let n_classes = self.classes.len();
        self.pixels.reserve(full * CIFAR_IMAGE_BYTES);
        self.labels.reserve(full);
        for (i, r) in bytes.chunks_exact(rec).enumerate() {
            // Both label bytes of a CIFAR-100 record are checked, whichever one is used.
            let n_labels = rec - CIFAR_IMAGE_BYTES;
            for (j, &l) in r[..n_labels].iter().enumerate() {
                let limit = match (self.kind, j) {
                    (CifarKind::Cifar10, _) => 10,
                    (_, 0) => 20,
                    _ => 100,
                };
                if l as usize >= limit {
                    return Err(DataError::LabelOutOfRange {
                        path: path.to_path_buf(),
                        offset: (i * rec + j) as u64,
                        label: l as u32,
                        num_classes: limit,
                    });
                }
            }
            debug_assert!((r[label_pos] as usize) < n_classes);
            self.labels.push(r[label_pos]);
            self.pixels.extend_from_slice(&r[n_labels..]);
        }
        Ok(())
    }

    /// All labels, in file order.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// The raw planar RGB bytes of item `index` (3072 bytes).
    pub fn raw_pixels(&self, index: usize) -> Option<&[u8]> {
        self.pixels.get(index * CIFAR_IMAGE_BYTES..(index + 1) * CIFAR_IMAGE_BYTES)
    }
}

impl Dataset for CifarDataset {
    fn len(&self) -> usize {
        self.labels.len()
    }
    fn get(&self, index: usize) -> Result<Item> {
        packed_u8_item(self, &self.pixels, &self.labels, [3, 32, 32], index)
    }
    fn classes(&self) -> &[String] {
        &self.classes
    }
    fn name(&self) -> String {
        format!("{}/{}", self.kind.name(), self.split.name())
    }
}
