//! Batching: items → host buffers → `Tensor<4>` images and labels / soft targets on a device;
//! batch-level mixup and cutmix.

use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::dataset::Item;
use crate::error::{DataError, Result};
use crate::rng::Rng;

/// A batch in host memory: what loader workers produce, before it is moved to a device.
#[derive(Debug, Clone, PartialEq)]
pub struct HostBatch {
    /// NCHW `f32` images.
    pub images: Vec<f32>,
    /// `[n, c, h, w]`.
    pub shape: [usize; 4],
    /// Class labels (for a mixed batch: the label of the dominant image of each pair).
    pub labels: Vec<usize>,
    /// `n x num_classes` soft targets when mixup or cutmix was applied.
    pub soft_targets: Option<Vec<f32>>,
    /// Number of classes (the width of `soft_targets`).
    pub num_classes: usize,
    /// Dataset indices of the items, in batch order.
    pub indices: Vec<usize>,
}

/// A batch on a device, ready for a model.
#[derive(Debug, Clone)]
pub struct Batch {
    /// `[n, c, h, w]` images.
    pub images: Tensor<4>,
    /// `[n]` labels.
    pub labels: Tensor<1, Int>,
    /// `[n, num_classes]` soft targets when mixup or cutmix was applied.
    pub soft_targets: Option<Tensor<2>>,
}

impl HostBatch {
    /// Stacks items (already transformed) into one NCHW buffer; every image must have the same
    /// shape, and every label must be `< num_classes`.
    ///
    /// ```
    /// use zoo_data::{HostBatch, Image, Item};
    /// let items = vec![
    ///     Item { image: Image::filled(1, 2, 2, 0.0), label: 3 },
    ///     Item { image: Image::filled(1, 2, 2, 1.0), label: 1 },
    /// ];
    /// let b = HostBatch::from_items(items, vec![10, 11], 10).unwrap();
    /// assert_eq!(b.shape, [2, 1, 2, 2]);
    /// assert_eq!(b.labels, vec![3, 1]);
    /// ```
    pub fn from_items(items: Vec<Item>, indices: Vec<usize>, num_classes: usize) -> Result<Self> {
        let Some(first) = items.first() else {
            return Err(DataError::Config("cannot batch zero items".into()));
        };
        let shape = first.image.shape();
        let per = shape.iter().product::<usize>();
        let mut images = Vec::with_capacity(per * items.len());
        let mut labels = Vec::with_capacity(items.len());
        for (i, it) in items.iter().enumerate() {
            if it.image.shape() != shape {
                return Err(DataError::ShapeMismatch { index: i, expected: shape, found: it.image.shape() });
            }
            if it.label >= num_classes {
                return Err(DataError::Config(format!(
                    "item {} has label {} but the dataset has {num_classes} classes",
                    indices.get(i).copied().unwrap_or(i),
                    it.label
                )));
            }
            images.extend_from_slice(&it.image.data);
            labels.push(it.label);
        }
        Ok(Self {
            images,
            shape: [items.len(), shape[0], shape[1], shape[2]],
            labels,
            soft_targets: None,
            num_classes,
            indices,
        })
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.shape[0]
    }

    /// Whether the batch is empty (never true for batches built by [`HostBatch::from_items`]).
    pub fn is_empty(&self) -> bool {
        self.shape[0] == 0
    }

    /// One-hot targets, or the soft targets if the batch was mixed.
    pub fn targets(&self) -> Vec<f32> {
        if let Some(t) = &self.soft_targets {
            return t.clone();
        }
        let mut t = vec![0.0; self.len() * self.num_classes];
        for (i, &l) in self.labels.iter().enumerate() {
            t[i * self.num_classes + l] = 1.0;
        }
        t
    }

    /// Copies the batch to `device` as tensors.
    ///
    /// ```no_run
    /// # fn f(b: zoo_data::HostBatch, device: &burn::tensor::Device) {
    /// let batch = b.to_device(device);
    /// let [n, c, h, w] = batch.images.dims();
    /// # }
    /// ```
    pub fn to_device(&self, device: &Device) -> Batch {
        self.clone().into_device(device)
    }

    /// Moves the batch to `device` as tensors, handing its buffers over without a copy.
    pub fn into_device(self, device: &Device) -> Batch {
        let n = self.len();
        let labels = self.labels.iter().map(|&l| l as i64).collect::<Vec<_>>();
        let soft_targets =
            self.soft_targets.map(|t| Tensor::<2>::from_data(TensorData::new(t, [n, self.num_classes]), device));
        Batch {
            images: Tensor::<4>::from_data(TensorData::new(self.images, self.shape), device),
            labels: Tensor::<1, Int>::from_data(TensorData::new(labels, [n]), device),
            soft_targets,
        }
    }
}

/// Batch-level mixing with soft targets; each image is mixed with the next one in the batch
/// (the batch rolled by one, as torchvision.transforms.v2 does).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BatchMix {
    /// Mixup (Zhang et al. 2018): `λ x_i + (1 - λ) x_{i-1}`, `λ ~ Beta(alpha, alpha)`.
    Mixup {
        /// Beta parameter.
        alpha: f32,
    },
    /// CutMix (Yun et al. 2019): a box of area `1 - λ` is pasted from the neighbour image,
    /// `λ ~ Beta(alpha, alpha)` then adjusted to the clipped box's area.
    Cutmix {
        /// Beta parameter.
        alpha: f32,
    },
    /// Either mixup or cutmix, each batch choosing cutmix with probability `switch_prob`.
    MixupOrCutmix {
        /// Mixup's Beta parameter.
        mixup_alpha: f32,
        /// CutMix's Beta parameter.
        cutmix_alpha: f32,
        /// Probability of choosing cutmix.
        switch_prob: f32,
    },
}

impl BatchMix {
    /// Mixes `batch` in place, drawing from `rng`; returns the mixing coefficient λ used.
    ///
    /// ```
    /// use zoo_data::{BatchMix, HostBatch, Image, Item, Rng};
    /// let items = (0..4).map(|i| Item { image: Image::filled(1, 4, 4, i as f32), label: i }).collect();
    /// let mut b = HostBatch::from_items(items, vec![0, 1, 2, 3], 4).unwrap();
    /// let lam = BatchMix::Mixup { alpha: 1.0 }.apply(&mut b, &mut Rng::new(0)).unwrap();
    /// let t = b.soft_targets.unwrap();
    /// assert!((t[0] - lam).abs() < 1e-6 && (t[3] - (1.0 - lam)).abs() < 1e-6);
    /// ```
    pub fn apply(&self, batch: &mut HostBatch, rng: &mut Rng) -> Result<f32> {
        let (cutmix, alpha) = match *self {
            BatchMix::Mixup { alpha } => (false, alpha),
            BatchMix::Cutmix { alpha } => (true, alpha),
            BatchMix::MixupOrCutmix { mixup_alpha, cutmix_alpha, switch_prob } => {
                if rng.chance(switch_prob) {
                    (true, cutmix_alpha)
                } else {
                    (false, mixup_alpha)
                }
            }
        };
        if !(alpha > 0.0 && alpha.is_finite()) {
            return Err(DataError::transform(
                if cutmix { "cutmix" } else { "mixup" },
                format!("alpha {alpha} must be > 0"),
            ));
        }
        let targets = batch.targets();
        let n = batch.len();
        let k = batch.num_classes;
        let [_, c, h, w] = batch.shape;
        let per = c * h * w;
        let src = batch.images.clone();
        let mut lam = rng.beta(alpha as f64, alpha as f64) as f32;
        if cutmix {
            let (ry, rx) = (rng.below(h as u64) as isize, rng.below(w as u64) as isize);
            let r = 0.5 * (1.0 - lam).sqrt();
            let (hh, hw) = ((r * h as f32) as isize, (r * w as f32) as isize);
            let (y1, y2) = ((ry - hh).max(0) as usize, (ry + hh).min(h as isize) as usize);
            let (x1, x2) = ((rx - hw).max(0) as usize, (rx + hw).min(w as isize) as usize);
            for i in 0..n {
                let j = (i + n - 1) % n;
                for ch in 0..c {
                    for y in y1..y2 {
                        let o = ch * h * w + y * w;
                        batch.images[i * per + o + x1..i * per + o + x2]
                            .copy_from_slice(&src[j * per + o + x1..j * per + o + x2]);
                    }
                }
            }
            lam = 1.0 - ((y2 - y1) * (x2 - x1)) as f32 / (h * w) as f32;
        } else {
            for i in 0..n {
                let j = (i + n - 1) % n;
                for p in 0..per {
                    batch.images[i * per + p] = lam * src[i * per + p] + (1.0 - lam) * src[j * per + p];
                }
            }
        }
        let mut soft = vec![0.0; n * k];
        for i in 0..n {
            let j = (i + n - 1) % n;
            for t in 0..k {
                soft[i * k + t] = lam * targets[i * k + t] + (1.0 - lam) * targets[j * k + t];
            }
            if lam < 0.5 {
                batch.labels[i] = batch.labels_before_mix(j, &targets, k);
            }
        }
        batch.soft_targets = Some(soft);
        Ok(lam)
    }
}

impl HostBatch {
    fn labels_before_mix(&self, j: usize, targets: &[f32], k: usize) -> usize {
        // The original (possibly already soft) target's arg-max.
        let row = &targets[j * k..(j + 1) * k];
        row.iter().enumerate().fold(0, |best, (t, &v)| if v > row[best] { t } else { best })
    }
}
