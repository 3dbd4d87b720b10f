//! # zoo-train
//!
//! Training and evaluation building blocks for the zoo's models. So far: top-k accuracy, the
//! measure every classic result is reported in.

#![warn(missing_docs)]

use burn::tensor::{Int, Tensor};

/// How many samples have their label among the `k` highest logits.
///
/// Ties are broken by Burn's `topk` order, which matches `torch.topk` for distinct values.
///
/// ```
/// use burn::tensor::{Device, Int, Tensor};
/// let device = Device::flex();
/// let logits = Tensor::<2>::from_floats([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2]], &device);
/// let labels = Tensor::<1, Int>::from_ints([2, 0], &device);
/// assert_eq!(zoo_train::top_k_correct(logits.clone(), labels.clone(), 1), 1);
/// assert_eq!(zoo_train::top_k_correct(logits, labels, 2), 2);
/// ```
pub fn top_k_correct(logits: Tensor<2>, labels: Tensor<1, Int>, k: usize) -> usize {
    let [batch, classes] = logits.dims();
    assert_eq!(labels.dims()[0], batch, "one label per row of logits");
    let k = k.clamp(1, classes);
    let top = logits.argsort_descending(1).narrow(1, 0, k);
    let labels = labels.reshape([batch, 1]).expand([batch, k]);
    top.equal(labels).any_dim(1).int().sum().into_scalar::<i64>() as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    #[test]
    fn top_k_counts_labels_within_the_k_best() {
        let device = Device::flex();
        let logits = Tensor::<2>::from_floats(
            [[0.9, 0.05, 0.03, 0.02], [0.1, 0.2, 0.3, 0.4], [0.25, 0.35, 0.3, 0.1]],
            &device,
        );
        let labels = Tensor::<1, Int>::from_ints([0, 0, 2], &device);
        assert_eq!(top_k_correct(logits.clone(), labels.clone(), 1), 1);
        assert_eq!(top_k_correct(logits.clone(), labels.clone(), 2), 2);
        assert_eq!(top_k_correct(logits.clone(), labels.clone(), 4), 3);
        // k larger than the class count is the class count.
        assert_eq!(top_k_correct(logits, labels, 10), 3);
    }
}
