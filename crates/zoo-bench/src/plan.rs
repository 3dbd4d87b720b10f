//! What a benchmark run measures: models × backends × modes × batch sizes (× kernels on flex).

use serde::{Deserialize, Serialize};
use zoo_kernels::Kernels;

/// What a case measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BenchMode {
    /// The forward pass of a model in inference mode.
    Infer,
    /// One training iteration: forward with loss, backward, optimizer step.
    Train,
}

impl BenchMode {
    /// `infer` or `train`.
    pub fn name(self) -> &'static str {
        match self {
            BenchMode::Infer => "infer",
            BenchMode::Train => "train",
        }
    }

    /// Floating-point operations per multiply-accumulate of the forward pass: 2 for inference,
    /// 6 for training (the backward pass costs about twice the forward), timm's convention.
    pub fn flops_per_mac(self) -> f64 {
        match self {
            BenchMode::Infer => 2.0,
            BenchMode::Train => 6.0,
        }
    }
}

/// The cases to run: every model × backend × batch size × mode.
#[derive(Debug, Clone)]
pub struct BenchPlan {
    /// Registry names.
    pub models: Vec<String>,
    /// Backend names (`flex`, `ndarray`, `wgpu`, ...).
    pub backends: Vec<String>,
    /// Batch sizes.
    pub batch_sizes: Vec<usize>,
    /// Modes.
    pub modes: Vec<BenchMode>,
    /// Input shape of one image; `None` for each model's own.
    pub input: Option<[usize; 3]>,
    /// Inference only: fold each BatchNorm into the convolution before it first
    /// ([`zoo_models::fuse::fuse_batch_norm`]).
    pub fuse_bn: bool,
    /// On flex, the convolution and BatchNorm implementations to time, each case once per entry
    /// and back to back (the zoo's kernels, Burn's ops); empty for the one in use. Other
    /// backends always use Burn's ops and run once.
    pub kernels: Vec<Kernels>,
    /// Device counts each case runs with (data-parallel, `batch_size` images per device, as
    /// `zoo train --devices` trains): `[1]` unless a comparison of 1 and N devices is asked.
    pub devices: Vec<usize>,
    /// Untimed iterations before the timed ones.
    pub warmup: usize,
    /// Timed iterations; the figures are their medians.
    pub iters: usize,
}

impl BenchPlan {
    /// Number of cases.
    pub fn len(&self) -> usize {
        let per_backend: usize = self.backends.iter().map(|b| self.kernel_variants(b).len()).sum();
        self.models.len() * per_backend * self.batch_sizes.len() * self.modes.len() * self.devices.len()
    }

    /// The kernel implementations a backend's cases run with: `None` where there is no choice.
    pub fn kernel_variants(&self, backend: &str) -> Vec<Option<Kernels>> {
        match backend {
            "flex" if self.kernels.is_empty() => vec![Some(zoo_kernels::kernels())],
            "flex" => self.kernels.iter().copied().map(Some).collect(),
            _ => vec![None],
        }
    }

    /// Whether the plan has no case.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
