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

struct Inner {
    dataset: Arc<dyn Dataset>,
    pipeline: Pipeline,
    mix: Option<BatchMix>,
    config: LoaderConfig,
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
        Ok(Self { inner: Arc::new(Inner { dataset, pipeline, mix: None, config }) })
    }

    /// Adds batch-level mixup / cutmix (batches then carry soft targets).
    pub fn with_mix(self, mix: BatchMix) -> Self {
        let i = &self.inner;
        Self {
            inner: Arc::new(Inner {
                dataset: i.dataset.clone(),
                pipeline: i.pipeline.clone(),
                mix: Some(mix),
                config: i.config.clone(),
            }),
        }
    }

    /// The settings.
    pub fn config(&self) -> &LoaderConfig {
        &self.inner.config
    }

    /// The per-item transforms.
    pub fn pipeline(&self) -> &Pipeline {
        &self.inner.pipeline
    }

    /// The dataset.
    pub fn dataset(&self) -> &Arc<dyn Dataset> {
        &self.inner.dataset
    }

    /// Number of items in the dataset.
    pub fn num_items(&self) -> usize {
        self.inner.dataset.len()
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
    fn num_batches(&self) -> usize {
        let (n, b) = (self.dataset.len(), self.config.batch_size);
        if self.config.drop_last { n / b } else { n.div_ceil(b) }
    }

    fn order(&self, epoch: u64) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..self.dataset.len()).collect();
        if self.config.shuffle {
            Rng::from_key(&[self.config.seed, epoch, 0x5407]).shuffle(&mut idx);
        }
        idx
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
            mix.apply(&mut batch, &mut Rng::from_key(&[self.config.seed, epoch, b as u64, 0x313]))?;
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
