//! A deterministic multi-worker data loader.
//!
//! Burn's own `DataLoader` yields batches in completion order when it uses worker threads, so
//! the batch sequence (and therefore training) depends on thread timing. This loader assigns
//! batch `b` of an epoch to worker `b % workers`, gives each worker its own bounded channel, and
//! reads the channels round-robin: batches come out in order, and since every random decision is
//! keyed by `(seed, epoch, sample index)`, the batches are bit-identical for any worker count.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, sync_channel};
use std::thread::JoinHandle;

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::batch::{Batch, BatchMix, HostBatch};
use crate::dataset::Dataset;
use crate::error::{DataError, Result};
use crate::rng::Rng;
use crate::transforms::Pipeline;

fn default_true() -> bool {
    true
}
fn default_prefetch() -> usize {
    2
}

/// Loader settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoaderConfig {
    /// Items per batch.
    pub batch_size: usize,
    /// Reshuffle the items every epoch (seeded by `seed` and the epoch).
    #[serde(default = "default_true")]
    pub shuffle: bool,
    /// Drop the last, incomplete batch.
    #[serde(default)]
    pub drop_last: bool,
    /// Worker threads; 0 loads in the calling thread.
    #[serde(default)]
    pub workers: usize,
    /// Batches each worker may compute ahead.
    #[serde(default = "default_prefetch")]
    pub prefetch: usize,
    /// Seed of shuffling, augmentation and mixing.
    #[serde(default)]
    pub seed: u64,
}

impl LoaderConfig {
    /// `batch_size` items per batch, shuffled, no worker, seed 0.
    pub fn new(batch_size: usize) -> Self {
        Self { batch_size, shuffle: true, drop_last: false, workers: 0, prefetch: 2, seed: 0 }
    }

    /// Sets the number of worker threads.
    pub fn with_workers(mut self, workers: usize) -> Self {
        self.workers = workers;
        self
    }

    /// Sets the seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets shuffling.
    pub fn with_shuffle(mut self, shuffle: bool) -> Self {
        self.shuffle = shuffle;
        self
    }

    /// Sets dropping of the last incomplete batch.
    pub fn with_drop_last(mut self, drop_last: bool) -> Self {
        self.drop_last = drop_last;
        self
    }
}

/// One device's share of every epoch in data-parallel training, as PyTorch's
/// `DistributedSampler` deals it: the epoch's (shuffled) order is padded by wrapping around to a
/// multiple of `world` items, and rank `r` takes positions `r, r + world, r + 2·world, ...`. The
/// shares are disjoint (but for the padding), dealt afresh every epoch, and together they are
/// the single-device epoch; batch `b` of every rank together holds the items of global batch `b`
/// at `world` times the batch size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This device's position, from 0.
    pub rank: usize,
    /// How many devices share the epoch.
    pub world: usize,
}

impl Shard {
    /// The whole epoch: one device.
    pub const WHOLE: Shard = Shard { rank: 0, world: 1 };

    /// Items rank `rank` sees in an epoch of `len` items: `ceil(len / world)` for every rank.
    pub fn len(&self, len: usize) -> usize {
        len.div_ceil(self.world)
    }

    /// Whether the share of an epoch of `len` items is empty (only when `len` is 0).
    pub fn is_empty(&self, len: usize) -> bool {
        self.len(len) == 0
    }
}

struct Inner {
    dataset: Arc<dyn Dataset>,
    pipeline: Pipeline,
    mix: Option<BatchMix>,
    config: LoaderConfig,
    shard: Shard,
}

/// Loads augmented batches of a dataset, in a deterministic order.
///
/// ```
/// use std::sync::Arc;
/// use zoo_data::{DataLoader, LoaderConfig, Split, SynthDigits, transforms::Pipeline};
/// let ds = Arc::new(SynthDigits::with_len(Split::Train, 100, 1));
/// let loader = DataLoader::new(ds, Pipeline::digits_eval(false), LoaderConfig::new(32).with_workers(2)).unwrap();
/// assert_eq!(loader.num_batches(), 4);
/// let batches: Vec<_> = loader.iter(0).collect::<Result<_, _>>().unwrap();
/// assert_eq!(batches[0].shape, [32, 1, 32, 32]);
/// assert_eq!(batches[3].len(), 4);
/// ```
#[derive(Clone)]
pub struct DataLoader {
    inner: Arc<Inner>,
}

impl DataLoader {
    /// A loader of `dataset` applying `pipeline` to every item.
    pub fn new(dataset: Arc<dyn Dataset>, pipeline: Pipeline, config: LoaderConfig) -> Result<Self> {
        if config.batch_size == 0 {
            return Err(DataError::Config("batch size must be at least 1".into()));
        }
        if dataset.is_empty() {
            return Err(DataError::Config(format!("dataset {} is empty", dataset.name())));
        }
        Ok(Self { inner: Arc::new(Inner { dataset, pipeline, mix: None, config, shard: Shard::WHOLE }) })
    }

    fn with_inner(&self, change: impl FnOnce(&mut Inner)) -> Self {
        let i = &self.inner;
        let mut inner = Inner {
            dataset: i.dataset.clone(),
            pipeline: i.pipeline.clone(),
            mix: i.mix.clone(),
            config: i.config.clone(),
            shard: i.shard,
        };
        change(&mut inner);
        Self { inner: Arc::new(inner) }
    }

    /// Adds batch-level mixup / cutmix (batches then carry soft targets).
    pub fn with_mix(self, mix: BatchMix) -> Self {
        self.with_inner(|i| i.mix = Some(mix))
    }

    /// The loader of device `rank` of `world` in data-parallel training (see [`Shard`]), with
    /// `workers` loading threads. Every random draw stays keyed by the dataset index of the
    /// image (augmentation) or by the global batch (mixing), so an image is augmented the same
    /// way whatever the number of devices.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use zoo_data::{DataLoader, LoaderConfig, Split, SynthDigits, transforms::Pipeline};
    /// let ds = Arc::new(SynthDigits::with_len(Split::Train, 10, 1));
    /// let whole = DataLoader::new(ds, Pipeline::digits_eval(false), LoaderConfig::new(2)).unwrap();
    /// let (first, second) = (whole.shard(0, 2, 0).unwrap(), whole.shard(1, 2, 0).unwrap());
    /// assert_eq!(first.num_items(), 5);
    /// let order = whole.epoch_order(3);
    /// assert_eq!(first.epoch_order(3), [order[0], order[2], order[4], order[6], order[8]]);
    /// assert_eq!(second.epoch_order(3), [order[1], order[3], order[5], order[7], order[9]]);
    /// ```
    pub fn shard(&self, rank: usize, world: usize, workers: usize) -> Result<Self> {
        if world == 0 || rank >= world {
            return Err(DataError::Config(format!("no device {rank} among {world}")));
        }
        if self.inner.shard != Shard::WHOLE {
            return Err(DataError::Config("a shard's loader cannot be sharded again".into()));
        }
        Ok(self.with_inner(|i| {
            i.shard = Shard { rank, world };
            i.config.workers = workers;
        }))
    }

    /// Which share of every epoch this loader yields ([`Shard::WHOLE`] unless made by
    /// [`shard`](Self::shard)).
    pub fn sharding(&self) -> Shard {
        self.inner.shard
    }

    /// The settings.
    pub fn config(&self) -> &LoaderConfig {
        &self.inner.config
    }

    /// The batch-level mixup / cutmix, if any.
    pub fn mix(&self) -> Option<&BatchMix> {
        self.inner.mix.as_ref()
    }

    /// The per-item transforms.
    pub fn pipeline(&self) -> &Pipeline {
        &self.inner.pipeline
    }

    /// The dataset.
    pub fn dataset(&self) -> &Arc<dyn Dataset> {
        &self.inner.dataset
    }

    /// Items per epoch: the dataset's, or a shard's share of it.
    pub fn num_items(&self) -> usize {
        self.inner.len()
    }

    /// Number of batches per epoch.
    pub fn num_batches(&self) -> usize {
        self.inner.num_batches()
    }

    /// The dataset indices of an epoch, in the order they are batched.
    pub fn epoch_order(&self, epoch: u64) -> Vec<usize> {
        self.inner.order(epoch)
    }

    /// Computes batch `batch` of `epoch` in the calling thread.
    pub fn batch(&self, epoch: u64, batch: usize) -> Result<HostBatch> {
        let order = self.inner.order(epoch);
        self.inner.make_batch(&order, epoch, batch)
    }

    /// Iterates over the batches of `epoch` in host memory, using the configured workers.
    pub fn iter(&self, epoch: u64) -> EpochIter {
        EpochIter::new(self.inner.clone(), epoch)
    }

    /// Iterates over the batches of `epoch` as tensors on `device`.
    pub fn iter_device<'a>(&self, epoch: u64, device: &'a Device) -> impl Iterator<Item = Result<Batch>> + use<'a> {
        self.iter(epoch).map(move |b| b.map(|b| b.into_device(device)))
    }
}

impl Inner {
    fn len(&self) -> usize {
        self.shard.len(self.dataset.len())
    }

    fn num_batches(&self) -> usize {
        let (n, b) = (self.len(), self.config.batch_size);
        if self.config.drop_last { n / b } else { n.div_ceil(b) }
    }

    fn order(&self, epoch: u64) -> Vec<usize> {
        let len = self.dataset.len();
        let mut idx: Vec<usize> = (0..len).collect();
        if self.config.shuffle {
            Rng::from_key(&[self.config.seed, epoch, 0x5407]).shuffle(&mut idx);
        }
        let Shard { rank, world } = self.shard;
        if world == 1 {
            return idx;
        }
        // Padding wraps around the epoch's order, as DistributedSampler's does.
        (rank..self.len() * world).step_by(world).map(|p| idx[p % len]).collect()
    }

    fn make_batch(&self, order: &[usize], epoch: u64, b: usize) -> Result<HostBatch> {
        let bs = self.config.batch_size;
        let start = b * bs;
        let end = (start + bs).min(order.len());
        if start >= end {
            return Err(DataError::Config(format!("batch {b} is past the end of the epoch")));
        }
        let indices = order[start..end].to_vec();
        let mut items = Vec::with_capacity(indices.len());
        for &i in &indices {
            let mut item = self.dataset.get(i)?;
            item.image = self.pipeline.apply(item.image, self.config.seed, epoch, i as u64)?;
            items.push(item);
        }
        let mut batch = HostBatch::from_items(items, indices, self.dataset.num_classes())?;
        if let Some(mix) = &self.mix {
            // Keyed by the global batch: every device mixes with its own draws.
            let global_batch = (b * self.shard.world + self.shard.rank) as u64;
            mix.apply(&mut batch, &mut Rng::from_key(&[self.config.seed, epoch, global_batch, 0x313]))?;
        }
        Ok(batch)
    }
}

/// The batches of one epoch, in order (see [`DataLoader::iter`]).
///
/// Dropping it stops the workers after the batch they are computing.
pub struct EpochIter {
    inner: Arc<Inner>,
    epoch: u64,
    order: Arc<Vec<usize>>,
    next: usize,
    total: usize,
    receivers: Vec<Receiver<Result<HostBatch>>>,
    handles: Vec<Option<JoinHandle<()>>>,
    failed: bool,
}

impl EpochIter {
    fn new(inner: Arc<Inner>, epoch: u64) -> Self {
        let order = Arc::new(inner.order(epoch));
        let total = inner.num_batches();
        let workers = inner.config.workers.min(total);
        let mut receivers = Vec::with_capacity(workers);
        let mut handles = Vec::with_capacity(workers);
        for w in 0..workers {
            let (tx, rx) = sync_channel(inner.config.prefetch.max(1));
            let (inner_w, order_w) = (inner.clone(), order.clone());
            let handle = std::thread::Builder::new().name(format!("zoo-data-worker-{w}")).spawn(move || {
                let mut b = w;
                while b < total {
                    if tx.send(inner_w.make_batch(&order_w, epoch, b)).is_err() {
                        return; // The iterator was dropped.
                    }
                    b += workers;
                }
            });
            match handle {
                Ok(h) => {
                    receivers.push(rx);
                    handles.push(Some(h));
                }
                // No thread could be started: fall back to loading in the calling thread.
                Err(_) => break,
            }
        }
        if receivers.len() != workers {
            receivers.clear();
        }
        Self { inner, epoch, order, next: 0, total, receivers, handles, failed: false }
    }

    /// Batches already yielded and batches in the epoch.
    pub fn progress(&self) -> (usize, usize) {
        (self.next, self.total)
    }
}

impl Iterator for EpochIter {
    type Item = Result<HostBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.total || self.failed {
            return None;
        }
        let b = self.next;
        self.next += 1;
        if self.receivers.is_empty() {
            return Some(self.inner.make_batch(&self.order, self.epoch, b));
        }
        let w = b % self.receivers.len();
        match self.receivers[w].recv() {
            Ok(batch) => Some(batch),
            Err(_) => {
                // The worker's sender is gone before its batches were sent: it panicked.
                self.failed = true;
                if let Some(h) = self.handles[w].take() {
                    let _ = h.join();
                }
                Some(Err(DataError::WorkerFailed(w)))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = if self.failed { 0 } else { self.total - self.next };
        (left, Some(left))
    }
}
