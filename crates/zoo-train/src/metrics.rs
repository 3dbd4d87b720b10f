//! `metrics.csv`: one row per epoch and split, written by a burn-train [`MetricLogger`] as each
//! split ends; the logger also stops the run when the loss stops being finite.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use burn::train::Interrupter;
use burn::train::logger::MetricLogger;
use burn::train::metric::store::{EpochSummary, MetricsUpdate, Split};
use burn::train::metric::{MetricDefinition, MetricId, NumericEntry};

use crate::data::SplitClock;
use crate::error::TrainError;

/// The header of `metrics.csv`.
pub const METRICS_HEADER: &str = "epoch,split,loss,top1,top5,lr,images_per_s,seconds";

/// One row of `metrics.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsRow {
    /// Epoch, from 1.
    pub epoch: usize,
    /// `train` or `valid`.
    pub split: String,
    /// Mean loss over the epoch.
    pub loss: f64,
    /// Top-1 accuracy, percent.
    pub top1: f64,
    /// Top-5 accuracy, percent.
    pub top5: f64,
    /// Mean learning rate over the epoch (training rows; empty for validation).
    pub lr: Option<f64>,
    /// Images per second over the split, data loading included.
    pub images_per_s: f64,
    /// Wall time of the split.
    pub seconds: f64,
}

impl MetricsRow {
    fn to_csv(&self) -> String {
        let lr = self.lr.map(|v| format!("{v:.6e}")).unwrap_or_default();
        format!(
            "{},{},{:.6},{:.4},{:.4},{},{:.1},{:.3}",
            self.epoch, self.split, self.loss, self.top1, self.top5, lr, self.images_per_s, self.seconds
        )
    }

    fn parse(line: &str) -> Option<Self> {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() != 8 {
            return None;
        }
        Some(Self {
            epoch: f[0].parse().ok()?,
            split: f[1].to_string(),
            loss: f[2].parse().ok()?,
            top1: f[3].parse().ok()?,
            top5: f[4].parse().ok()?,
            lr: f[5].parse().ok(),
            images_per_s: f[6].parse().ok()?,
            seconds: f[7].parse().ok()?,
        })
    }
}

/// Reads `metrics.csv`.
pub fn read_metrics(path: &Path) -> Result<Vec<MetricsRow>, TrainError> {
    let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
    let mut lines = text.lines();
    if lines.next() != Some(METRICS_HEADER) {
        return Err(TrainError::file(path, format!("not a metrics file (header must be `{METRICS_HEADER}`)")));
    }
    lines
        .enumerate()
        .filter(|(_, l)| !l.is_empty())
        .map(|(i, l)| {
            MetricsRow::parse(l).ok_or_else(|| TrainError::file(path, format!("line {}: cannot parse `{l}`", i + 2)))
        })
        .collect()
}

/// Rewrites `metrics.csv` keeping only the rows of epochs up to `last_epoch` (what a resumed run
/// restarts from), or creates it with its header. Written to a temporary file and renamed.
pub fn truncate_metrics(path: &Path, last_epoch: usize) -> Result<(), TrainError> {
    let rows = if path.exists() { read_metrics(path)? } else { Vec::new() };
    let mut text = format!("{METRICS_HEADER}\n");
    for row in rows.iter().filter(|r| r.epoch <= last_epoch) {
        text.push_str(&row.to_csv());
        text.push('\n');
    }
    crate::run::write_atomic(path, text.as_bytes())
}

/// Where the loss first stopped being finite.
#[derive(Debug, Clone, PartialEq)]
pub struct Divergence {
    /// Epoch, from 1.
    pub epoch: usize,
    /// Iteration within the epoch, from 1.
    pub iteration: usize,
    /// The value (`NaN`, `inf`).
    pub value: f64,
}

/// The names under which burn-train reports the metrics the CSV columns come from.
#[derive(Debug, Clone)]
pub struct MetricNames {
    /// Loss metric.
    pub loss: String,
    /// Top-1 accuracy metric.
    pub top1: String,
    /// Top-5 accuracy metric.
    pub top5: String,
    /// Learning-rate metric.
    pub lr: String,
}

/// A burn-train metric logger that appends a `metrics.csv` row when a split ends.
pub struct CsvMetricLogger {
    path: PathBuf,
    names: MetricNames,
    definitions: HashMap<MetricId, String>,
    finals: HashMap<String, f64>,
    iterations: HashMap<usize, usize>,
    clock: SplitClock,
    interrupter: Interrupter,
    divergence: Arc<Mutex<Option<Divergence>>>,
}

impl CsvMetricLogger {
    /// A logger appending to `path`, which must already hold the header.
    pub fn new(
        path: PathBuf,
        names: MetricNames,
        clock: SplitClock,
        interrupter: Interrupter,
        divergence: Arc<Mutex<Option<Divergence>>>,
    ) -> Self {
        Self {
            path,
            names,
            definitions: HashMap::new(),
            finals: HashMap::new(),
            iterations: HashMap::new(),
            clock,
            interrupter,
            divergence,
        }
    }

    fn append(&self, row: &MetricsRow) -> std::io::Result<()> {
        let mut file = OpenOptions::new().append(true).open(&self.path)?;
        writeln!(file, "{}", row.to_csv())?;
        file.sync_data()
    }
}

impl MetricLogger for CsvMetricLogger {
    fn log(&mut self, update: MetricsUpdate, epoch: usize, split: &Split) {
        let is_train = matches!(split, Split::Train);
        let mut counted = false;
        for entry in update.entries_numeric {
            let Some(name) = self.definitions.get(&entry.entry.metric_id).cloned() else {
                continue;
            };
            match entry.numeric_entry {
                Some(NumericEntry::Final(v)) => {
                    self.finals.insert(name, v);
                }
                Some(batch) if is_train && name == self.names.loss => {
                    if !counted {
                        *self.iterations.entry(epoch).or_default() += 1;
                        counted = true;
                    }
                    let value = batch.current();
                    let mut divergence = self.divergence.lock().unwrap();
                    if !value.is_finite() && divergence.is_none() {
                        let iteration = self.iterations[&epoch];
                        *divergence = Some(Divergence { epoch, iteration, value });
                        self.interrupter
                            .stop(Some(&format!("loss became {value} at epoch {epoch}, iteration {iteration}")));
                    }
                }
                _ => {}
            }
        }
    }

    fn read_numeric(&mut self, name: &str, _epoch: usize, _split: &Split) -> Result<Vec<NumericEntry>, String> {
        Err(format!("metric `{name}`: per-batch values are not kept; see metrics.csv"))
    }

    fn log_metric_definition(&mut self, definition: MetricDefinition) {
        self.definitions.insert(definition.metric_id.clone(), definition.name.to_string());
    }

    fn log_epoch_summary(&mut self, summary: EpochSummary) {
        let split = match summary.split {
            Split::Train => "train",
            Split::Valid => "valid",
            Split::Test(_) => return,
        };
        // A diverged epoch is partial: no row, and no checkpoint is written for it either.
        if self.divergence.lock().unwrap().is_some() {
            return;
        }
        let epoch = summary.epoch_number;
        let value = |name: &str| self.finals.get(name).copied().unwrap_or(f64::NAN);
        let (seconds, images) = self.clock.measured(split, epoch).unwrap_or((f64::NAN, 0));
        let row = MetricsRow {
            epoch,
            split: split.to_string(),
            loss: value(&self.names.loss),
            top1: value(&self.names.top1),
            top5: value(&self.names.top5),
            lr: (split == "train").then(|| value(&self.names.lr)),
            images_per_s: images as f64 / seconds,
            seconds,
        };
        self.finals.clear();
        if let Err(e) = self.append(&row) {
            // The run stops (reported by the caller from the interruption's reason) rather than
            // training on without a record of its epochs.
            self.interrupter.stop(Some(&format!("{}: cannot append a row: {e}", self.path.display())));
        }
    }
}

/// Images per second since the start of the split, as a burn-train metric (so Burn's TUI shows
/// it beside loss and accuracy); the epoch's value is the rate over the whole split.
#[derive(Clone)]
pub struct ImagesPerSecond {
    name: burn::train::metric::MetricName,
    start: Option<(std::time::Instant, usize)>,
    rate: f64,
}

impl Default for ImagesPerSecond {
    fn default() -> Self {
        Self { name: Arc::new("Images/s".to_string()), start: None, rate: 0.0 }
    }
}

impl burn::train::metric::Metric for ImagesPerSecond {
    type Input = ();

    fn name(&self) -> burn::train::metric::MetricName {
        self.name.clone()
    }

    fn attributes(&self) -> burn::train::metric::MetricAttributes {
        burn::train::metric::MetricAttributes::Numeric(burn::train::metric::NumericAttributes {
            unit: Some("img/s".to_string()),
            higher_is_better: true,
        })
    }

    fn update(
        &mut self,
        _item: &(),
        metadata: &burn::train::metric::MetricMetadata,
    ) -> Result<burn::train::metric::SerializedEntry, burn::tensor::TensorReadError> {
        let items = metadata.progress.items_processed;
        // Timed from the first batch seen: the rate covers every later batch of the split.
        let (t0, items0) = *self.start.get_or_insert((std::time::Instant::now(), items));
        let elapsed = t0.elapsed().as_secs_f64();
        if items > items0 && elapsed > 0.0 {
            self.rate = (items - items0) as f64 / elapsed;
        }
        Ok(burn::train::metric::SerializedEntry::new(
            format!("{:.0} img/s", self.rate),
            NumericEntry::Value(self.rate).serialize(),
        ))
    }

    fn compute(&mut self) -> Result<burn::train::metric::SerializedEntry, burn::tensor::TensorReadError> {
        Ok(burn::train::metric::SerializedEntry::new(
            format!("{:.0} img/s", self.rate),
            NumericEntry::Final(self.rate).serialize(),
        ))
    }

    fn clear(&mut self) {
        self.start = None;
        self.rate = 0.0;
    }
}

impl burn::train::metric::Numeric for ImagesPerSecond {
    fn value(&self) -> Option<NumericEntry> {
        Some(NumericEntry::Value(self.rate))
    }

    fn running_value(&self) -> Option<NumericEntry> {
        Some(NumericEntry::Value(self.rate))
    }

    fn final_value(&self) -> NumericEntry {
        NumericEntry::Final(self.rate)
    }
}
