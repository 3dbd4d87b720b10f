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

pub mod choose;
pub mod classifier;
pub mod config;
pub mod data;
mod error;
pub mod eval;
pub mod finetune;
pub mod metrics;
pub mod optim;
pub mod plot;
pub mod progress;
pub mod run;
pub mod schedule;

// The entry points of the example above; everything else is reached through its module.
pub use config::{TrainConfig, recipe};
pub use error::TrainError;
pub use run::{resume, train};

/// Mixes a seed with an epoch number (SplitMix64 finaliser), for per-epoch device seeds.
pub(crate) fn mix_seed(seed: u64, epoch: u64) -> u64 {
    let mut z = seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
