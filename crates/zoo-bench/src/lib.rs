//! Throughput benchmarks of the zoo's models on Burn's backends (`zoo bench`), in the spirit of
//! timm's `benchmark.py`, and the comparison with `bench/pytorch_baseline.py`, which writes the
//! same JSON schema.
//!
//! Each case is one model × backend × batch size × mode (× kernel implementation on flex: the
//! zoo's own or Burn's, see [`zoo_kernels::Kernels`]). Inference times the forward pass of a
//! model built on the plain device; training times, separately, the forward pass with the loss,
//! the backward pass and the optimizer step (SGD with momentum 0.9, as the PyTorch script does).
//! Every timed phase ends with `device.sync()`, so asynchronous backends (wgpu) are timed to
//! completion. Figures are medians over `iters` iterations after `warmup` untimed ones.
//!
//! ```no_run
//! use zoo_bench::{BenchMode, BenchPlan, run_bench};
//! let plan = BenchPlan {
//!     models: vec!["lenet5".into()],
//!     backends: vec!["flex".into()],
//!     batch_sizes: vec![1, 128],
//!     modes: vec![BenchMode::Infer, BenchMode::Train],
//!     input: None,
//!     fuse_bn: false,
//!     kernels: vec![],
//!     devices: vec![1],
//!     warmup: 5,
//!     iters: 20,
//! };
//! let report = run_bench(&plan, &mut |_event| {});
//! println!("{}", zoo_bench::output::to_table(&report, None));
//! ```

#![warn(missing_docs)]

pub mod alloc;
pub mod chart;
pub mod compare;
mod error;
pub mod measure;
pub mod output;
pub mod plan;
pub mod progress;
pub mod report;

pub use alloc::{PeakAlloc, peak_heap_during};
pub use error::BenchError;
pub use measure::{BenchEvent, run_bench};
pub use plan::{BenchMode, BenchPlan};
pub use report::{BenchReport, BenchRow, SCHEMA};
