//! # burn-zoo
//!
//! The umbrella crate of the zoo: it re-exports the model definitions ([`models`]) so a program
//! can depend on one crate. The training loop, datasets and the `zoo` command line live in their
//! own crates (`zoo-train`, `zoo-data`, `zoo-cli`) so that using a model does not pull them in.
//!
//! ```
//! use burn::tensor::{Device, Tensor};
//! use burn_zoo::models::{create, ImageClassifier, ModelOptions};
//!
//! let device = Device::flex();
//! let model = create("lenet5", &ModelOptions::default(), &device).unwrap();
//! let logits = model.forward(Tensor::zeros([4, 1, 32, 32], &device));
//! assert_eq!(logits.dims(), [4, 10]);
//! ```

pub use zoo_models as models;

/// The README's Rust examples, compiled and run as doc tests so they cannot go stale.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
