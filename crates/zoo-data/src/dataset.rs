//! The dataset interface, subsets and the seeded train/validation split.

use std::sync::Arc;

use crate::error::{DataError, Result};
use crate::imagebuf::Image;
use crate::rng::Rng;

/// One labelled example.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// The image, values in `[0, 1]`.
    pub image: Image,
    /// The class index, `< num_classes`.
    pub label: usize,
}

/// A random-access collection of labelled images.
///
/// Implemented by every reader in this crate ([`crate::SynthDigits`], [`crate::IdxDataset`],
/// [`crate::CifarDataset`], [`crate::ImageFolder`]) and by [`Subset`]. `get` may fail (an image
/// folder decodes files lazily), so it returns a [`Result`] rather than panicking.
///
/// ```
/// use zoo_data::{Dataset, SynthDigits, Split};
/// let ds = SynthDigits::new(Split::Test);
/// assert_eq!(ds.len(), 10_000);
/// let item = ds.get(0).unwrap();
/// assert_eq!(item.image.shape(), [1, 32, 32]);
/// assert!(item.label < ds.num_classes());
/// ```
pub trait Dataset: Send + Sync {
    /// Number of items.
    fn len(&self) -> usize;

    /// The item at `index`.
    fn get(&self, index: usize) -> Result<Item>;

    /// Class names, indexed by label.
    fn classes(&self) -> &[String];

    /// A short name for messages (e.g. `mnist/train`).
    fn name(&self) -> String;

    /// Whether the dataset holds no item.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of classes (the length of [`Dataset::classes`]).
    fn num_classes(&self) -> usize {
        self.classes().len()
    }
}

impl<D: Dataset + ?Sized> Dataset for Arc<D> {
    fn len(&self) -> usize {
        (**self).len()
    }
    fn get(&self, index: usize) -> Result<Item> {
        (**self).get(index)
    }
    fn classes(&self) -> &[String] {
        (**self).classes()
    }
    fn name(&self) -> String {
        (**self).name()
    }
}

impl<D: Dataset + ?Sized> Dataset for Box<D> {
    fn len(&self) -> usize {
        (**self).len()
    }
    fn get(&self, index: usize) -> Result<Item> {
        (**self).get(index)
    }
    fn classes(&self) -> &[String] {
        (**self).classes()
    }
    fn name(&self) -> String {
        (**self).name()
    }
}

/// Item `index` of a dataset held in memory as packed `u8` images (`channels x height x width`
/// bytes each, back to back) with one `u8` label per image, as the IDX and CIFAR readers keep it.
pub(crate) fn packed_u8_item(
    ds: &dyn Dataset,
    pixels: &[u8],
    labels: &[u8],
    [channels, height, width]: [usize; 3],
    index: usize,
) -> Result<Item> {
    check_index(ds, index)?;
    let n = channels * height * width;
    let image = Image::from_u8(channels, height, width, &pixels[index * n..(index + 1) * n])?;
    Ok(Item { image, label: labels[index] as usize })
}

pub(crate) fn check_index(ds: &dyn Dataset, index: usize) -> Result<()> {
    if index >= ds.len() {
        return Err(DataError::IndexOutOfRange { dataset: ds.name(), index, len: ds.len() });
    }
    Ok(())
}

/// A view of some items of another dataset, in the given order.
///
/// ```
/// use std::sync::Arc;
/// use zoo_data::{Dataset, Subset, SynthDigits, Split};
/// let full: Arc<dyn Dataset> = Arc::new(SynthDigits::new(Split::Test));
/// let sub = Subset::new(full.clone(), vec![5, 3]).unwrap();
/// assert_eq!(sub.len(), 2);
/// assert_eq!(sub.get(0).unwrap(), full.get(5).unwrap());
/// ```
#[derive(Clone)]
pub struct Subset {
    inner: Arc<dyn Dataset>,
    indices: Vec<usize>,
}

impl Subset {
    /// A subset of `inner` made of `indices`; fails if one is out of range.
    pub fn new(inner: Arc<dyn Dataset>, indices: Vec<usize>) -> Result<Self> {
        if let Some(&bad) = indices.iter().find(|&&i| i >= inner.len()) {
            return Err(DataError::IndexOutOfRange { dataset: inner.name(), index: bad, len: inner.len() });
        }
        Ok(Self { inner, indices })
    }

    /// The first `n` items (or all of them if the dataset is shorter).
    pub fn head(inner: Arc<dyn Dataset>, n: usize) -> Self {
        let n = n.min(inner.len());
        Self { inner, indices: (0..n).collect() }
    }

    /// Indices into the wrapped dataset.
    pub fn indices(&self) -> &[usize] {
        &self.indices
    }
}

impl Dataset for Subset {
    fn len(&self) -> usize {
        self.indices.len()
    }
    fn get(&self, index: usize) -> Result<Item> {
        check_index(self, index)?;
        self.inner.get(self.indices[index])
    }
    fn classes(&self) -> &[String] {
        self.inner.classes()
    }
    fn name(&self) -> String {
        format!("{}[subset of {}]", self.inner.name(), self.indices.len())
    }
}

/// Splits `0..len` into shuffled train and validation index lists, deterministically from `seed`.
///
/// The validation part has `round(len * val_fraction)` indices. Fails if `val_fraction` is not in
/// `[0, 1]`.
///
/// ```
/// let (train, val) = zoo_data::split_indices(100, 0.2, 7).unwrap();
/// assert_eq!((train.len(), val.len()), (80, 20));
/// assert_eq!(zoo_data::split_indices(100, 0.2, 7).unwrap().1, val);
/// ```
pub fn split_indices(len: usize, val_fraction: f64, seed: u64) -> Result<(Vec<usize>, Vec<usize>)> {
    if !(0.0..=1.0).contains(&val_fraction) {
        return Err(DataError::Config(format!("validation fraction {val_fraction} is not in [0, 1]")));
    }
    let mut idx: Vec<usize> = (0..len).collect();
    Rng::from_key(&[seed, 0x5917]).shuffle(&mut idx);
    let n_val = (len as f64 * val_fraction).round() as usize;
    let val = idx.split_off(len - n_val);
    Ok((idx, val))
}

/// Splits a dataset into seeded train and validation [`Subset`]s (see [`split_indices`]).
///
/// ```
/// use std::sync::Arc;
/// use zoo_data::{Dataset, SynthDigits, Split};
/// let ds: Arc<dyn Dataset> = Arc::new(SynthDigits::new(Split::Test));
/// let (train, val) = zoo_data::train_val_split(ds, 0.1, 0).unwrap();
/// assert_eq!((train.len(), val.len()), (9_000, 1_000));
/// ```
pub fn train_val_split(ds: Arc<dyn Dataset>, val_fraction: f64, seed: u64) -> Result<(Subset, Subset)> {
    let (t, v) = split_indices(ds.len(), val_fraction, seed)?;
    Ok((Subset { inner: ds.clone(), indices: t }, Subset { inner: ds, indices: v }))
}
