//! # zoo-train
//!
//! Training, evaluation and prediction for the zoo's models, on burn-train's supervised training
//! (`SupervisedTraining` + `Learner`): recipes ([`TrainConfig`]), PyTorch-compatible optimizers,
//! per-iteration schedules, run directories with atomic checkpoints and resume, `metrics.csv`,
//! `curves.png` and `result.json`.
//!
//! ```no_run
//! let config = zoo_train::recipe("lenet5-synth")?;
//! let result = zoo_train::train(config, "runs/lenet5".as_ref())?;
//! println!("{}", result.summary_line());
//! # Ok::<(), zoo_train::TrainError>(())
//! ```

#![warn(missing_docs)]

mod backend;
pub mod bench;
mod choose;
mod classifier;
mod config;
mod data;
mod error;
mod eval;
mod finetune;
mod metrics;
mod optim;
pub mod plot;
pub mod pretrained;
mod progress;
mod run;
mod schedule;

pub use backend::{
    BACKEND_NAMES, BackendInfo, DEFAULT_BACKEND, backends, check_backend, compiled_backends, device, device_identity,
    devices,
};
pub use choose::{DatasetProfile, GENERIC_DEFAULT, RecipeChoice, choose_recipe, choose_recipe_with, dataset_profile};
pub use classifier::{Classifier, cross_entropy, training_loss};
pub use config::{
    InitWeights, OptimizerConfig, RECIPES, Recipe, ScheduleConfig, TrainConfig, Unit, load_recipe_json, parse_config,
    recipe, set_field,
};
pub use data::{Datasets, EpochLoader, SplitClock, dataset_location, make_loader, open_datasets, open_split};
pub use error::TrainError;
pub use eval::{ClassAccuracy, ClassScore, EvalReport, Preprocess, evaluate, predict};
pub use finetune::{convert_channels, load_init, weights_channels, weights_file};
pub use metrics::{METRICS_HEADER, MetricsRow, read_metrics, truncate_metrics};
pub use optim::build_optimizer;
pub use progress::format_duration;
pub use run::{
    DryRun, Resolved, RunDir, RunResult, build_model, default_run_dir, dry_run, load_weights, load_weights_with,
    resume, save_weights, train, write_atomic,
};
pub use schedule::Schedule;

/// Mixes a seed with an epoch number (SplitMix64 finaliser), for per-epoch device seeds.
pub(crate) fn mix_seed(seed: u64, epoch: u64) -> u64 {
    let mut z = seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

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
        let logits =
            Tensor::<2>::from_floats([[0.9, 0.05, 0.03, 0.02], [0.1, 0.2, 0.3, 0.4], [0.25, 0.35, 0.3, 0.1]], &device);
        let labels = Tensor::<1, Int>::from_ints([0, 0, 2], &device);
        assert_eq!(top_k_correct(logits.clone(), labels.clone(), 1), 1);
        assert_eq!(top_k_correct(logits.clone(), labels.clone(), 2), 2);
        assert_eq!(top_k_correct(logits.clone(), labels.clone(), 4), 3);
        // k larger than the class count is the class count.
        assert_eq!(top_k_correct(logits, labels, 10), 3);
    }
}
