//! Burn's figures against a baseline report (PyTorch's) for the same cases.

use serde::Serialize;

use crate::report::{BenchReport, BenchRow};

/// Burn's figures as ratios of PyTorch's for the same model, mode and batch size: throughput
/// (Burn ÷ PyTorch samples/s, above 1 is faster) and, for training, the speed of each phase
/// (PyTorch ms ÷ Burn ms).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Ratios {
    /// Burn samples/s ÷ PyTorch samples/s.
    pub throughput: Option<f64>,
    /// PyTorch forward ms ÷ Burn forward ms.
    pub forward: Option<f64>,
    /// PyTorch backward ms ÷ Burn backward ms.
    pub backward: Option<f64>,
    /// PyTorch optimizer-step ms ÷ Burn optimizer-step ms.
    pub step: Option<f64>,
}

/// The baseline row matching `row` (same model, mode and batch size), if any.
pub fn baseline_row<'a>(row: &BenchRow, baseline: &'a BenchReport) -> Option<&'a BenchRow> {
    baseline
        .rows
        .iter()
        .find(|b| b.model == row.model && b.mode == row.mode && b.batch_size == row.batch_size && b.error.is_none())
}

/// `row` against its baseline row.
pub fn ratios(row: &BenchRow, baseline: &BenchRow) -> Ratios {
    let faster = |ours: Option<f64>, theirs: Option<f64>| match (ours, theirs) {
        (Some(o), Some(t)) if o > 0.0 => Some(t / o),
        _ => None,
    };
    Ratios {
        throughput: match (row.samples_per_s, baseline.samples_per_s) {
            (Some(o), Some(t)) if t > 0.0 => Some(o / t),
            _ => None,
        },
        forward: faster(row.forward_ms, baseline.forward_ms),
        backward: faster(row.backward_ms, baseline.backward_ms),
        step: faster(row.step_ms, baseline.step_ms),
    }
}
