//! Datasets of a configuration, and zoo-data's deterministic loader behind Burn's `DataLoader`
//! trait, so burn-train's `SupervisedTraining` drives it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use burn::data::dataloader::{DataLoader as BurnDataLoader, DataLoaderIterator, Progress};
use burn::data::dataset::DatasetError;
use burn::tensor::Device;
use zoo_data::{Batch, DataLoader, Dataset, LoaderConfig, Split, Subset};

use crate::config::TrainConfig;
use crate::error::TrainError;

/// The training, validation and test sets of a configuration.
pub struct Datasets {
    /// Training images (without the held-out validation part).
    pub train: Arc<dyn Dataset>,
    /// Validation images: held out from training, or the test split.
    pub valid: Arc<dyn Dataset>,
    /// Test images.
    pub test: Arc<dyn Dataset>,
}

/// Opens (downloading if the configuration asks to) the datasets a configuration names.
pub fn open_datasets(config: &TrainConfig) -> Result<Datasets, TrainError> {
    let test = open_split(config, Split::Test)?;
    let train = open_split(config, Split::Train)?;
    let (train, valid) = if config.val_fraction > 0.0 {
        let (t, v) = zoo_data::train_val_split(train, config.val_fraction, config.seed)?;
        (Arc::new(t) as Arc<dyn Dataset>, Arc::new(v) as Arc<dyn Dataset>)
    } else {
        (train, test.clone())
    };
    Ok(Datasets { train, valid, test })
}

/// The root under which the configured dataset's files were found (see
/// [`zoo_data::data_roots`]), or `None` for the embedded digits, image folders and datasets
/// found nowhere.
///
/// ```
/// let config = zoo_train::recipe("lenet5-synth").unwrap();
/// assert_eq!(zoo_train::data::dataset_location(&config), None);
/// ```
pub fn dataset_location(config: &TrainConfig) -> Option<PathBuf> {
    zoo_data::find_dataset(&config.dataset, &config.data_dir)
}

/// Key of the random stream that samples `train_limit` / `test_limit` items.
const LIMIT_KEY: u64 = 0x11_3171;

/// Opens one split of the configured dataset, limited to `train_limit` / `test_limit` items: the
/// first N of a shuffle seeded by the run's seed, in their original order.
pub fn open_split(config: &TrainConfig, split: Split) -> Result<Arc<dyn Dataset>, TrainError> {
    let name = config.dataset.as_str();
    let open = |root: &Path| zoo_data::open_dataset(name, root, split, config.channels);
    let root = dataset_location(config).unwrap_or_else(|| config.data_dir.clone());
    let dataset = match open(&root) {
        Err(zoo_data::DataError::MissingFile { .. } | zoo_data::DataError::Io { .. })
            if config.download && !name.starts_with("folder:") && name != "synth-digits" =>
        {
            zoo_data::download::download(name, &config.data_dir)?;
            open(&config.data_dir)?
        }
        Err(e @ (zoo_data::DataError::MissingFile { .. } | zoo_data::DataError::MissingFolder { .. }))
            if !config.download && !name.starts_with("folder:") =>
        {
            let looked: Vec<String> =
                zoo_data::data_roots(&config.data_dir).iter().map(|r| r.display().to_string()).collect();
            return Err(TrainError::DatasetNotFound {
                source: Box::new(e),
                looked: looked[1..].join(", "),
                name: name.to_string(),
            });
        }
        other => other?,
    };
    let limit = match split {
        Split::Train => config.train_limit,
        Split::Test => config.test_limit,
    };
    Ok(match limit {
        Some(n) if n < dataset.len() => {
            // A seeded sample rather than the first N in file order: image folders list their
            // classes one after another, and the head of one would hold a few classes only.
            let mut indices: Vec<usize> = (0..dataset.len()).collect();
            zoo_data::Rng::from_key(&[config.seed, LIMIT_KEY, split as u64]).shuffle(&mut indices);
            indices.truncate(n);
            indices.sort_unstable();
            Arc::new(Subset::new(dataset, indices)?)
        }
        _ => dataset,
    })
}

/// One (split, epoch) pass, over one loader or over the shards of several devices.
struct Span {
    start: Instant,
    took: Option<Duration>,
    items: usize,
    /// Loaders of the pass still iterating: the pass ends when the last one does.
    open: usize,
}

/// Wall-clock time of each (split, epoch) pass over a loader, shared with the metrics logger.
#[derive(Clone, Default)]
pub struct SplitClock {
    spans: Arc<Mutex<HashMap<(&'static str, usize), Span>>>,
}

impl SplitClock {
    fn start(&self, split: &'static str, epoch: usize) {
        let mut spans = self.spans.lock().unwrap();
        let span = spans.entry((split, epoch)).or_insert(Span { start: Instant::now(), took: None, items: 0, open: 0 });
        span.open += 1;
    }

    fn add(&self, split: &'static str, epoch: usize, items: usize) {
        if let Some(span) = self.spans.lock().unwrap().get_mut(&(split, epoch)) {
            span.items += items;
        }
    }

    fn finish(&self, split: &'static str, epoch: usize) {
        if let Some(span) = self.spans.lock().unwrap().get_mut(&(split, epoch)) {
            span.open = span.open.saturating_sub(1);
            if span.open == 0 {
                span.took.get_or_insert(span.start.elapsed());
            }
        }
    }

    /// `(seconds, images)` of a finished pass.
    pub fn measured(&self, split: &'static str, epoch: usize) -> Option<(f64, usize)> {
        let spans = self.spans.lock().unwrap();
        let span = spans.get(&(split, epoch))?;
        Some((span.took.unwrap_or_else(|| span.start.elapsed()).as_secs_f64(), span.items))
    }
}

/// zoo-data's [`DataLoader`] as a Burn data loader. Each call to `iter` is the next epoch, counted
/// from the epoch a (resumed) run starts at; the training loader also re-seeds the device at each
/// epoch, so dropout draws depend only on (seed, epoch) and a resumed run repeats an
/// uninterrupted one.
///
/// For training on several devices, burn-train's `MultiDevice` strategy asks for one contiguous
/// slice per device, once; a loader [`sharded`](Self::sharded) over those devices answers with
/// device `rank`'s [`Shard`](zoo_data::Shard) instead, which is dealt afresh every epoch (PyTorch's
/// `DistributedSampler`), and with its own epoch counter.
pub struct EpochLoader {
    loader: DataLoader,
    split: &'static str,
    next_epoch: Arc<AtomicU64>,
    device: Option<Device>,
    reseed: Option<u64>,
    clock: SplitClock,
    devices: usize,
}

impl EpochLoader {
    /// A loader whose first `iter` call is epoch `first_epoch` (1-based, as burn-train counts).
    pub fn new(loader: DataLoader, split: &'static str, first_epoch: usize, clock: SplitClock) -> Self {
        Self {
            loader,
            split,
            next_epoch: Arc::new(AtomicU64::new(first_epoch as u64)),
            device: None,
            reseed: None,
            clock,
            devices: 1,
        }
    }

    /// Deals every epoch over `devices` devices when burn-train slices the loader (see the type's
    /// documentation).
    pub fn sharded(mut self, devices: usize) -> Self {
        self.devices = devices.max(1);
        self
    }

    /// Re-seeds the training device with `(seed, epoch)` at the start of every epoch.
    pub fn reseeding(mut self, seed: u64) -> Self {
        self.reseed = Some(seed);
        self
    }

    fn with_device(&self, device: &Device) -> Self {
        Self {
            loader: self.loader.clone(),
            split: self.split,
            next_epoch: self.next_epoch.clone(),
            device: Some(device.clone()),
            reseed: self.reseed,
            clock: self.clock.clone(),
            devices: self.devices,
        }
    }
}

struct EpochBatches<'a> {
    owner: &'a EpochLoader,
    inner: zoo_data::EpochIter,
    epoch: usize,
    items_done: usize,
    items_total: usize,
}

impl Iterator for EpochBatches<'_> {
    type Item = Result<Batch, DatasetError>;

    fn next(&mut self) -> Option<Self::Item> {
        let Some(next) = self.inner.next() else {
            self.owner.clock.finish(self.owner.split, self.epoch);
            return None;
        };
        Some(match next {
            Ok(host) => {
                self.items_done += host.len();
                self.owner.clock.add(self.owner.split, self.epoch, host.len());
                let device = self.owner.device.clone().unwrap_or_default();
                Ok(host.into_device(&device))
            }
            Err(e) => Err(DatasetError::new(e)),
        })
    }
}

impl DataLoaderIterator<Batch> for EpochBatches<'_> {
    fn progress(&self) -> Progress {
        Progress::new(self.items_done, self.items_total, Some("images".to_string()))
    }
}

impl BurnDataLoader<Batch> for EpochLoader {
    fn iter<'a>(&'a self) -> Box<dyn DataLoaderIterator<Batch> + 'a> {
        let epoch = self.next_epoch.fetch_add(1, Ordering::SeqCst) as usize;
        if let (Some(seed), Some(device)) = (self.reseed, &self.device) {
            // Every device draws its own dropout masks; device 0 draws a single device's.
            let rank = self.loader.sharding().rank as u64;
            let key = crate::mix_seed(seed, epoch as u64);
            device.seed(if rank == 0 { key } else { crate::mix_seed(key, rank) });
        }
        self.clock.start(self.split, epoch);
        // zoo-data counts epochs from 0.
        let inner = self.loader.iter(epoch.saturating_sub(1) as u64);
        let (_, batches) = inner.progress();
        let items_total = if self.loader.config().drop_last {
            batches * self.loader.config().batch_size
        } else {
            self.loader.num_items()
        };
        Box::new(EpochBatches { owner: self, inner, epoch, items_done: 0, items_total })
    }

    fn num_items(&self) -> usize {
        self.loader.num_items()
    }

    fn to_device(&self, device: &Device) -> Arc<dyn BurnDataLoader<Batch>> {
        Arc::new(self.with_device(device))
    }

    fn slice(&self, start: usize, end: usize) -> Arc<dyn BurnDataLoader<Batch>> {
        let mut sliced = self.with_device(&self.device.clone().unwrap_or_default());
        // The slice's epochs are counted on their own: burn-train iterates every slice each epoch.
        sliced.next_epoch = Arc::new(AtomicU64::new(self.next_epoch.load(Ordering::SeqCst)));
        let len = self.loader.num_items();
        sliced.loader = if self.devices > 1 {
            // burn-train's `split_dataloader` cuts `[0, len)` into `devices` ranges of
            // `len / devices` items, the last one taking the rest: the range's position is the
            // device's rank. The shard is that device's share of each epoch, not the range.
            let rank = (start / (len / self.devices).max(1)).min(self.devices - 1);
            let workers = self.loader.config().workers.div_ceil(self.devices);
            self.loader.shard(rank, self.devices, workers).expect("rank < devices")
        } else {
            // Not sharded: the contiguous range burn-train asked for.
            let indices: Vec<usize> = (start..end.min(len)).collect();
            let subset: Arc<dyn Dataset> = Arc::new(
                Subset::new(self.loader.dataset().clone(), indices).expect("slice bounds come from num_items"),
            );
            let mut loader = DataLoader::new(subset, self.loader.pipeline().clone(), self.loader.config().clone())
                .expect("a non-empty slice of a valid loader is valid");
            if let Some(mix) = self.loader.mix() {
                loader = loader.with_mix(mix.clone());
            }
            loader
        };
        Arc::new(sliced)
    }
}

/// A zoo-data loader for a dataset of a configuration.
pub fn make_loader(config: &TrainConfig, dataset: Arc<dyn Dataset>, train: bool) -> Result<DataLoader, TrainError> {
    let pipeline = if train { &config.train_transforms } else { &config.eval_transforms };
    let settings =
        LoaderConfig::new(config.batch_size).with_workers(config.workers).with_seed(config.seed).with_shuffle(train);
    let loader = DataLoader::new(dataset, pipeline.clone(), settings)?;
    Ok(match (&config.mix, train) {
        (Some(mix), true) => loader.with_mix(mix.clone()),
        _ => loader,
    })
}
