//! MNIST and Fashion-MNIST in the IDX format (raw or gzip-compressed).

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::Split;
use crate::dataset::{Dataset, Item, packed_u8_item};
use crate::error::{DataError, Result};

/// Magic number of an IDX file of unsigned bytes with three dimensions (images).
pub const IDX_IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned bytes with one dimension (labels).
pub const IDX_LABELS_MAGIC: u32 = 0x0000_0801;

/// Which IDX dataset: the two share the format and file names, not the class names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IdxKind {
    /// MNIST handwritten digits (LeCun et al.).
    Mnist,
    /// Fashion-MNIST (Zalando): ten kinds of clothing.
    FashionMnist,
}

impl IdxKind {
    /// The class names, by label.
    pub fn class_names(self) -> Vec<String> {
        let names: &[&str] = match self {
            IdxKind::Mnist => &["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
            IdxKind::FashionMnist => &[
                "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                "Ankle boot",
            ],
        };
        names.iter().map(|s| s.to_string()).collect()
    }

    /// The dataset's name as used on the command line (`mnist`, `fashion-mnist`).
    pub fn name(self) -> &'static str {
        match self {
            IdxKind::Mnist => "mnist",
            IdxKind::FashionMnist => "fashion-mnist",
        }
    }
}

/// Reads a whole file, decompressing it if its name ends in `.gz`.
pub(crate) fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::with_capacity(raw.len() * 4);
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| DataError::Corrupt { path: path.to_path_buf(), reason: format!("gzip stream: {e}") })?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// Finds `dir/name` or `dir/name.gz`.
pub(crate) fn find_file(dir: &Path, name: &str, hint: &str) -> Result<PathBuf> {
    let plain = dir.join(name);
    if plain.is_file() {
        return Ok(plain);
    }
    let gz = dir.join(format!("{name}.gz"));
    if gz.is_file() {
        return Ok(gz);
    }
    Err(DataError::MissingFile { path: plain, hint: hint.to_string() })
}

fn be_u32(bytes: &[u8], offset: usize, path: &Path) -> Result<u32> {
    match bytes.get(offset..offset + 4) {
        Some(b) => Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]])),
        None => Err(DataError::Truncated {
            path: path.to_path_buf(),
            offset: bytes.len() as u64,
            expected: offset as u64 + 4,
            actual: bytes.len() as u64,
        }),
    }
}

/// Parses an IDX image file (`magic 0x803, n, rows, cols, pixels`): returns `(n, rows, cols, pixels)`.
///
/// Offsets in errors are offsets in the decompressed stream when the file is gzipped.
pub fn parse_idx_images(bytes: &[u8], path: &Path) -> Result<(usize, usize, usize, Vec<u8>)> {
    let magic = be_u32(bytes, 0, path)?;
    if magic != IDX_IMAGES_MAGIC {
        return Err(DataError::BadMagic {
            path: path.to_path_buf(),
            found: magic,
            expected: IDX_IMAGES_MAGIC,
            what: "IDX ubyte images, 3 dimensions",
        });
    }
    let n = be_u32(bytes, 4, path)? as usize;
    let rows = be_u32(bytes, 8, path)? as usize;
    let cols = be_u32(bytes, 12, path)? as usize;
    if rows == 0 || cols == 0 {
        return Err(DataError::BadHeader {
            path: path.to_path_buf(),
            offset: if rows == 0 { 8 } else { 12 },
            reason: format!("image size {rows}x{cols}"),
        });
    }
    // Three u32 fields multiply past u64 (found by fuzzing): such a header claims more than any
    // file holds.
    let Some(expected) = (n as u64).checked_mul(rows as u64 * cols as u64).and_then(|p| p.checked_add(16)) else {
        return Err(DataError::BadHeader {
            path: path.to_path_buf(),
            offset: 4,
            reason: format!("{n} images of {rows}x{cols} is more than any file holds"),
        });
    };
    if (bytes.len() as u64) < expected {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            offset: bytes.len() as u64,
            expected,
            actual: bytes.len() as u64,
        });
    }
    Ok((n, rows, cols, bytes[16..expected as usize].to_vec()))
}

/// Parses an IDX label file (`magic 0x801, n, labels`), checking every label is `< num_classes`.
pub fn parse_idx_labels(bytes: &[u8], path: &Path, num_classes: usize) -> Result<Vec<u8>> {
    let magic = be_u32(bytes, 0, path)?;
    if magic != IDX_LABELS_MAGIC {
        return Err(DataError::BadMagic {
            path: path.to_path_buf(),
            found: magic,
            expected: IDX_LABELS_MAGIC,
            what: "IDX ubyte labels, 1 dimension",
        });
    }
    let n = be_u32(bytes, 4, path)? as usize;
    let expected = 8u64 + n as u64;
    if (bytes.len() as u64) < expected {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            offset: bytes.len() as u64,
            expected,
            actual: bytes.len() as u64,
        });
    }
    let labels = bytes[8..8 + n].to_vec();
    if let Some((i, &l)) = labels.iter().enumerate().find(|&(_, &l)| l as usize >= num_classes) {
        return Err(DataError::LabelOutOfRange {
            path: path.to_path_buf(),
            offset: 8 + i as u64,
            label: l as u32,
            num_classes,
        });
    }
    Ok(labels)
}

/// MNIST or Fashion-MNIST, read from the four IDX files of a directory.
///
/// The files are `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`
/// and `t10k-labels-idx1-ubyte`, each either raw or gzipped (`.gz`). Images are 1x28x28.
///
/// ```no_run
/// use zoo_data::{Dataset, IdxDataset, IdxKind, Split};
/// let ds = IdxDataset::open("data/mnist", IdxKind::Mnist, Split::Train)?;
/// assert_eq!(ds.len(), 60_000);
/// # Ok::<(), zoo_data::DataError>(())
/// ```
#[derive(Debug, Clone)]
pub struct IdxDataset {
    kind: IdxKind,
    split: Split,
    rows: usize,
    cols: usize,
    pixels: Vec<u8>,
    labels: Vec<u8>,
    classes: Vec<String>,
}

impl IdxDataset {
    /// Reads the split `split` of dataset `kind` from directory `dir`.
    pub fn open(dir: impl AsRef<Path>, kind: IdxKind, split: Split) -> Result<Self> {
        let dir = dir.as_ref();
        let prefix = match split {
            Split::Train => "train",
            Split::Test => "t10k",
        };
        let hint = format!(
            " (put the {} IDX files, raw or .gz, in {}; see datasets/{}.md, or pass --download)",
            kind.name(),
            dir.display(),
            kind.name()
        );
        if !dir.is_dir() {
            return Err(DataError::MissingFolder { path: dir.to_path_buf(), hint });
        }
        let img_path = find_file(dir, &format!("{prefix}-images-idx3-ubyte"), &hint)?;
        let lbl_path = find_file(dir, &format!("{prefix}-labels-idx1-ubyte"), &hint)?;
        let classes = kind.class_names();
        let (n, rows, cols, pixels) = parse_idx_images(&read_maybe_gz(&img_path)?, &img_path)?;
        let labels = parse_idx_labels(&read_maybe_gz(&lbl_path)?, &lbl_path, classes.len())?;
        if labels.len() != n {
            return Err(DataError::CountMismatch {
                images: img_path,
                n_images: n,
                labels: lbl_path,
                n_labels: labels.len(),
            });
        }
        Ok(Self { kind, split, rows, cols, pixels, labels, classes })
    }

    /// Image height and width.
    pub fn image_size(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// All labels, in file order.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }
}

impl Dataset for IdxDataset {
    fn len(&self) -> usize {
        self.labels.len()
    }
    fn get(&self, index: usize) -> Result<Item> {
        packed_u8_item(self, &self.pixels, &self.labels, [1, self.rows, self.cols], index)
    }
    fn classes(&self) -> &[String] {
        &self.classes
    }
    fn name(&self) -> String {
        format!("{}/{}", self.kind.name(), self.split.name())
    }
}
