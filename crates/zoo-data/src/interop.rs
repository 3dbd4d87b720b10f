//! The zoo's datasets and Burn's data ecosystem, both ways.
//!
//! - Every zoo dataset ([`SynthDigits`], [`IdxDataset`], [`CifarDataset`], [`ImageFolder`],
//!   [`Subset`], [`FromBurn`], and `Arc`/`Box<dyn Dataset>`) is a
//!   [`burn::data::dataset::Dataset<Item>`](BurnDataset), so Burn's `ShuffledDataset`,
//!   `PartialDataset`, `MapperDataset`, `DataLoaderBuilder` and the rest take it as it is.
//! - [`Indexed`] makes it a Burn dataset of `(dataset index, item)` pairs, which [`ItemBatcher`]
//!   turns into the zoo's [`Batch`]es with a zoo augmentation [`Pipeline`], drawing exactly what
//!   the zoo's own loader draws for those images.
//! - [`FromBurn`] makes any Burn dataset (an `InMemDataset`, a `SqliteDataset`, a mapper) a zoo
//!   dataset, given how one of its items becomes an image and a label: zoo-train then trains on
//!   it with the zoo's deterministic loader and augmentations.
//!
//! Burn's trait and the zoo's have methods of the same names: with both in scope, call them as
//! `Dataset::len(&ds)` or `BurnDataset::len(&ds)`.

use std::marker::PhantomData;
use std::sync::Arc;

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::{Dataset as BurnDataset, DatasetError};
use burn::tensor::Device;

use crate::batch::{Batch, HostBatch};
use crate::dataset::{Dataset, Item, Subset};
use crate::error::{DataError, Result};
use crate::transforms::Pipeline;
use crate::{CifarDataset, IdxDataset, ImageFolder, SynthDigits};

macro_rules! burn_dataset {
    ($($dataset:ty),* $(,)?) => {$(
        impl BurnDataset<Item> for $dataset {
            fn get(&self, index: usize) -> std::result::Result<Item, DatasetError> {
                Dataset::get(self, index).map_err(DatasetError::new)
            }

            fn len(&self) -> usize {
                Dataset::len(self)
            }
        }
    )*};
}

burn_dataset!(SynthDigits, IdxDataset, CifarDataset, ImageFolder, Subset, Arc<dyn Dataset>, Box<dyn Dataset>);

/// A zoo dataset as a Burn dataset of `(dataset index, item)` pairs, for [`ItemBatcher`]: the
/// index keys the augmentation draws of its image.
///
/// ```
/// use burn::data::dataset::Dataset as _;
/// use zoo_data::interop::Indexed;
/// use zoo_data::{Split, SynthDigits};
/// let pairs = Indexed(SynthDigits::with_len(Split::Test, 8, 0));
/// let (index, item) = pairs.get(5).unwrap();
/// assert_eq!((index, pairs.len()), (5, 8));
/// assert_eq!(item.image.shape(), [1, 32, 32]);
/// ```
#[derive(Clone)]
pub struct Indexed<D>(pub D);

impl<D: Dataset> BurnDataset<(usize, Item)> for Indexed<D> {
    fn get(&self, index: usize) -> std::result::Result<(usize, Item), DatasetError> {
        self.0.get(index).map(|item| (index, item)).map_err(DatasetError::new)
    }

    fn len(&self) -> usize {
        self.0.len()
    }
}

/// Batches `(dataset index, item)` pairs for Burn's `DataLoaderBuilder`: applies a zoo
/// [`Pipeline`] to each image, keyed as the zoo's loader keys it (seed, epoch, dataset index),
/// and stacks them into a [`Batch`] on the loader's device.
///
/// Burn's `Batcher` cannot return an error, so a transform that fails (images of different
/// sizes without a resize, say) panics with the zoo's message; [`crate::DataLoader`] returns it
/// instead.
///
/// ```
/// use burn::data::dataloader::DataLoaderBuilder;
/// use zoo_data::interop::{Indexed, ItemBatcher};
/// use zoo_data::{Split, SynthDigits, transforms::Pipeline};
/// let batcher = ItemBatcher::new(Pipeline::digits_eval(false), 10, 0);
/// let loader = DataLoaderBuilder::new(batcher).batch_size(4).build(Indexed(SynthDigits::with_len(Split::Test, 10, 0)));
/// let batch = loader.iter().next().unwrap().unwrap();
/// assert_eq!(batch.images.dims(), [4, 1, 32, 32]);
/// ```
#[derive(Clone)]
pub struct ItemBatcher {
    pipeline: Pipeline,
    num_classes: usize,
    seed: u64,
    epoch: u64,
}

impl ItemBatcher {
    /// Applies `pipeline` with the random draws of the zoo loader's epoch 0 at `seed`, to images
    /// of `num_classes` classes.
    pub fn new(pipeline: Pipeline, num_classes: usize, seed: u64) -> Self {
        Self { pipeline, num_classes, seed, epoch: 0 }
    }

    /// Draws as the zoo loader's epoch `epoch` does.
    pub fn with_epoch(mut self, epoch: u64) -> Self {
        self.epoch = epoch;
        self
    }

    /// The host batch of `pairs`, or the first transform's error.
    pub fn host_batch(&self, pairs: Vec<(usize, Item)>) -> Result<HostBatch> {
        let mut indices = Vec::with_capacity(pairs.len());
        let mut items = Vec::with_capacity(pairs.len());
        for (index, mut item) in pairs {
            item.image = self.pipeline.apply(item.image, self.seed, self.epoch, index as u64)?;
            indices.push(index);
            items.push(item);
        }
        HostBatch::from_items(items, indices, self.num_classes)
    }
}

impl Batcher<(usize, Item), Batch> for ItemBatcher {
    fn batch(&self, pairs: Vec<(usize, Item)>, device: &Device) -> Batch {
        match self.host_batch(pairs) {
            Ok(batch) => batch.into_device(device),
            Err(e) => panic!("{e}"),
        }
    }
}

/// A Burn dataset as a zoo dataset: `convert` turns one of its items into an image (values in
/// `[0, 1]`) and a label below the number of `classes`.
///
/// ```
/// use burn::data::dataset::InMemDataset;
/// use zoo_data::interop::FromBurn;
/// use zoo_data::{Dataset, Image, Item};
/// // Burn items of any type: here 2x2 grey images with a label.
/// let burn = InMemDataset::new(vec![(vec![0u8, 255, 255, 0], 1usize), (vec![9, 9, 9, 9], 0)]);
/// let classes = vec!["zero".to_string(), "one".to_string()];
/// let zoo = FromBurn::new(burn, classes, "pairs", |(pixels, label): (Vec<u8>, usize)| {
///     Ok(Item { image: Image::from_u8(1, 2, 2, &pixels)?, label })
/// });
/// assert_eq!(zoo.len(), 2);
/// assert_eq!(zoo.get(0).unwrap().image.get(0, 0, 1), 1.0);
/// assert!(zoo.get(2).is_err());
/// ```
pub struct FromBurn<D, I, F> {
    dataset: D,
    classes: Vec<String>,
    name: String,
    convert: F,
    item: PhantomData<fn() -> I>,
}

impl<D, I, F> FromBurn<D, I, F>
where
    D: BurnDataset<I>,
    F: Fn(I) -> Result<Item> + Send + Sync,
{
    /// `dataset`, whose labels index `classes`, called `name` in messages.
    pub fn new(dataset: D, classes: Vec<String>, name: impl Into<String>, convert: F) -> Self {
        Self { dataset, classes, name: name.into(), convert, item: PhantomData }
    }
}

impl<D, I, F> Dataset for FromBurn<D, I, F>
where
    D: BurnDataset<I>,
    F: Fn(I) -> Result<Item> + Send + Sync,
{
    fn len(&self) -> usize {
        self.dataset.len()
    }

    fn get(&self, index: usize) -> Result<Item> {
        crate::dataset::check_index(self, index)?;
        let raw =
            self.dataset.get(index).map_err(|e| DataError::Config(format!("{}: item {index}: {e}", self.name)))?;
        let item = (self.convert)(raw)?;
        if item.label >= self.classes.len() {
            return Err(DataError::Config(format!(
                "{}: item {index} has label {}, and there are {} classes",
                self.name,
                item.label,
                self.classes.len()
            )));
        }
        Ok(item)
    }

    fn classes(&self) -> &[String] {
        &self.classes
    }

    fn name(&self) -> String {
        self.name.clone()
    }
}

impl<D, I, F> BurnDataset<Item> for FromBurn<D, I, F>
where
    D: BurnDataset<I>,
    F: Fn(I) -> Result<Item> + Send + Sync,
{
    fn get(&self, index: usize) -> std::result::Result<Item, DatasetError> {
        Dataset::get(self, index).map_err(DatasetError::new)
    }

    fn len(&self) -> usize {
        Dataset::len(self)
    }
}
