//! The rows and the report of a run, in the JSON schema `bench/pytorch_baseline.py` writes too.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::BenchError;
use crate::measure::median;
use crate::plan::BenchMode;

/// Identifies the JSON files `zoo bench` and `bench/pytorch_baseline.py` write.
pub const SCHEMA: &str = "burn-zoo-bench/1";

/// One measured case. Times are medians in milliseconds; a case that failed has `error` set and
/// no figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchRow {
    /// Registry name.
    pub model: String,
    /// Backend name (`flex`, `wgpu`, `pytorch-cpu`, ...).
    pub backend: String,
    /// On flex, whose convolution and BatchNorm ran: `zoo` or `burn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernels: Option<String>,
    /// The device, in words.
    pub device: String,
    /// `infer` or `train`.
    pub mode: BenchMode,
    /// Images per step.
    pub batch_size: usize,
    /// Devices the case ran data-parallel on, `batch_size` images each.
    #[serde(default = "one_device")]
    pub devices: usize,
    /// Shape of one image, `[C, H, W]`.
    pub input: [usize; 3],
    /// Trainable parameters.
    pub params: usize,
    /// Forward multiply-accumulates per image, in billions (convolutions and linear layers).
    pub gmacs: f64,
    /// Images per second.
    pub samples_per_s: Option<f64>,
    /// Milliseconds per step (training: forward + backward + optimizer step).
    pub ms_per_step: Option<f64>,
    /// Forward pass (training: with the loss).
    pub forward_ms: Option<f64>,
    /// Backward pass (training only).
    pub backward_ms: Option<f64>,
    /// Optimizer step (training only).
    pub step_ms: Option<f64>,
    /// Achieved GFLOP/s: `2 × MACs` per image for inference, `6 × MACs` for training.
    pub gflops: Option<f64>,
    /// Peak memory of the case in MiB, above what was live before it started.
    pub peak_memory_mb: Option<f64>,
    /// What `peak_memory_mb` measures: `heap` (host allocations, CPU backends) or
    /// `device-reserved` (the device allocator's reservation, GPU backends).
    #[serde(default)]
    pub memory: Option<String>,
    /// Why the case has no figures.
    pub error: Option<String>,
}

fn one_device() -> usize {
    1
}

impl BenchRow {
    /// The backend, with the kernel implementation on flex and the device count when several:
    /// `flex/zoo`, `flex/burn x2`, `wgpu`.
    pub fn backend_label(&self) -> String {
        let backend = match &self.kernels {
            Some(kernels) => format!("{}/{kernels}", self.backend),
            None => self.backend.clone(),
        };
        match self.devices {
            1 => backend,
            n => format!("{backend} x{n}"),
        }
    }
}

/// The machine a report was measured on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// CPU model name.
    pub cpu: String,
    /// Logical cores.
    pub cores: usize,
    /// Threads the framework computes with.
    pub threads: usize,
    /// Operating system.
    pub os: String,
    /// GPU name, when one was used.
    pub gpu: Option<String>,
}

/// Iteration counts of a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSettings {
    /// Untimed iterations per case.
    pub warmup: usize,
    /// Timed iterations per case.
    pub iters: usize,
}

/// A whole benchmark run: `zoo bench --format json`, or `bench/pytorch_baseline.py --out`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchReport {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// `burn` or `pytorch`.
    pub framework: String,
    /// Version of that framework.
    pub framework_version: String,
    /// Where it ran.
    pub machine: Machine,
    /// Iteration counts.
    pub settings: RunSettings,
    /// Start time, ISO 8601 UTC.
    pub started: String,
    /// One row per case, in plan order.
    pub rows: Vec<BenchRow>,
}

impl BenchReport {
    /// The per-case medians of several runs of the same plan (repeats alternated with another
    /// framework's, on a machine whose speed drifts): every figure is the median of its values
    /// over the runs, peak memory the largest. Cases are matched by model, backend, kernels,
    /// mode and batch size; a case missing from a run, or failed in every run, keeps its error.
    pub fn median_of(reports: &[BenchReport]) -> Result<BenchReport, BenchError> {
        let first = reports.first().ok_or(BenchError::NoReports)?;
        let key =
            |r: &BenchRow| (r.model.clone(), r.backend.clone(), r.kernels.clone(), r.mode, r.batch_size, r.devices);
        let mut rows = Vec::with_capacity(first.rows.len());
        for row in &first.rows {
            let runs: Vec<&BenchRow> =
                reports.iter().filter_map(|r| r.rows.iter().find(|other| key(other) == key(row))).collect();
            if runs.len() != reports.len() {
                let case =
                    format!("{} · {} · {} · b{}", row.model, row.backend_label(), row.mode.name(), row.batch_size);
                return Err(BenchError::MissingCase(case));
            }
            let ok: Vec<&BenchRow> = runs.iter().copied().filter(|r| r.error.is_none()).collect();
            let Some(base) = ok.first() else {
                rows.push(row.clone());
                continue;
            };
            let median_of = |figure: fn(&BenchRow) -> Option<f64>| {
                let mut values: Vec<f64> = ok.iter().filter_map(|r| figure(r)).collect();
                (!values.is_empty()).then(|| median(&mut values))
            };
            rows.push(BenchRow {
                samples_per_s: median_of(|r| r.samples_per_s),
                ms_per_step: median_of(|r| r.ms_per_step),
                forward_ms: median_of(|r| r.forward_ms),
                backward_ms: median_of(|r| r.backward_ms),
                step_ms: median_of(|r| r.step_ms),
                gflops: median_of(|r| r.gflops),
                peak_memory_mb: ok.iter().filter_map(|r| r.peak_memory_mb).reduce(f64::max),
                ..(*base).clone()
            });
        }
        Ok(BenchReport { rows, ..first.clone() })
    }

    /// Reads a report (for `--compare`), with one-line errors naming the file.
    pub fn load(path: &Path) -> Result<Self, BenchError> {
        let text = std::fs::read_to_string(path).map_err(|source| BenchError::Read { path: path.into(), source })?;
        let report: BenchReport =
            serde_json::from_str(&text).map_err(|source| BenchError::NotAReport { path: path.into(), source })?;
        if report.schema != SCHEMA {
            return Err(BenchError::Schema { path: path.into(), found: report.schema });
        }
        Ok(report)
    }
}
