//! Progress when stdout is not a terminal (logs, CI): a compact line at each quarter of a
//! training split and one at the end of validation, never a line per batch. In a terminal
//! burn-train's TUI is used instead.
//!
//! Not `indicatif`: this is a burn-train `MetricsRenderer` (it receives the metrics as burn-train
//! reports them) writing plain lines for logs, where indicatif draws nothing when its target is
//! not a terminal.

use std::collections::HashMap;
use std::io::Write;
use std::time::Instant;

use burn::train::LearnerSummary;
use burn::train::logger::{EvaluationProgressLogger, TrainingProgressLogger};
use burn::train::metric::{MetricDefinition, MetricId, NumericEntry};
use burn::train::renderer::{
    EvaluationName, MetricState, MetricsRenderer, MetricsRendererEvaluation, MetricsRendererTraining,
};

use crate::metrics::MetricNames;

/// Formats seconds as `m:ss` or `h:mm:ss`.
///
/// ```
/// assert_eq!(zoo_train::progress::format_duration(75.2), "1:15");
/// assert_eq!(zoo_train::progress::format_duration(3725.0), "1:02:05");
/// ```
pub fn format_duration(seconds: f64) -> String {
    if !seconds.is_finite() {
        return "?".to_string();
    }
    let s = seconds.round() as u64;
    match s / 3600 {
        0 => format!("{}:{:02}", s / 60, s % 60),
        h => format!("{h}:{:02}:{:02}", (s / 60) % 60, s % 60),
    }
}

#[derive(Default)]
struct Running {
    sum: f64,
    count: usize,
}

impl Running {
    fn mean(&self) -> f64 {
        self.sum / self.count.max(1) as f64
    }
}

/// The non-terminal progress renderer.
pub struct ProgressLines {
    names: MetricNames,
    definitions: HashMap<MetricId, String>,
    running: HashMap<String, Running>,
    total_epochs: usize,
    epoch: usize,
    split: String,
    split_total: usize,
    split_done: usize,
    split_start: Instant,
    next_quarter: usize,
    run_start: Instant,
    first_epoch: usize,
}

impl ProgressLines {
    /// A renderer reading the named metrics.
    pub fn new(names: MetricNames) -> Self {
        Self {
            names,
            definitions: HashMap::new(),
            running: HashMap::new(),
            total_epochs: 0,
            epoch: 1,
            split: String::new(),
            split_total: 0,
            split_done: 0,
            split_start: Instant::now(),
            next_quarter: 1,
            run_start: Instant::now(),
            first_epoch: 1,
        }
    }

    fn record(&mut self, state: MetricState) {
        let MetricState::Numeric(entry, Some(value)) = state else { return };
        let Some(name) = self.definitions.get(&entry.metric_id) else { return };
        if let NumericEntry::Aggregated { aggregated_value, count } = value {
            let r = self.running.entry(name.clone()).or_default();
            r.sum += aggregated_value * count as f64;
            r.count += count;
        }
    }

    fn line(&self) -> String {
        let pct = 100.0 * self.split_done as f64 / self.split_total.max(1) as f64;
        let elapsed = self.split_start.elapsed().as_secs_f64();
        let rate = self.split_done as f64 / elapsed.max(1e-9);
        let mean = |n: &str| self.running.get(n).map(Running::mean).unwrap_or(f64::NAN);
        let mut line = format!(
            "epoch {}/{} {:<5} {:>3.0}% | loss {:.4} | top-1 {:.2}%",
            self.epoch,
            self.total_epochs,
            self.split,
            pct,
            mean(&self.names.loss),
            mean(&self.names.top1),
        );
        if self.split == "valid" {
            line.push_str(&format!(" | top-5 {:.2}%", mean(&self.names.top5)));
        }
        line.push_str(&format!(" | {rate:.0} img/s"));
        if self.split == "train" {
            let left_split = (self.split_total - self.split_done) as f64 / rate.max(1e-9);
            // Whole-run ETA from the pace so far, once one epoch has been timed.
            let done_epochs = self.epoch - self.first_epoch;
            let run = if done_epochs > 0 {
                let per_epoch = (self.run_start.elapsed().as_secs_f64() - elapsed) / done_epochs as f64;
                let remaining = (self.total_epochs - self.epoch) as f64 * per_epoch + left_split;
                format!(", run {}", format_duration(remaining))
            } else {
                String::new()
            };
            line.push_str(&format!(" | ETA {}{run}", format_duration(left_split)));
        }
        line
    }

    fn print(&self) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", self.line());
        let _ = out.flush();
    }
}

impl MetricsRendererTraining for ProgressLines {
    fn update_train(&mut self, state: MetricState) {
        self.record(state);
    }

    fn update_valid(&mut self, state: MetricState) {
        self.record(state);
    }

    fn on_train_end(&mut self, _summary: Option<LearnerSummary>) -> Result<(), Box<dyn core::error::Error>> {
        Ok(())
    }
}

impl MetricsRendererEvaluation for ProgressLines {
    fn update_test(&mut self, _name: EvaluationName, _state: MetricState) {}

    fn on_test_end(&mut self, _summary: Option<LearnerSummary>) -> Result<(), Box<dyn core::error::Error>> {
        Ok(())
    }
}

impl TrainingProgressLogger for ProgressLines {
    fn start(&mut self, total_epochs: usize, starting_epoch: usize, _total_items: Option<usize>, _label: Option<&str>) {
        self.total_epochs = total_epochs;
        self.epoch = starting_epoch.max(1);
        self.first_epoch = self.epoch;
        self.run_start = Instant::now();
    }

    fn update_epoch(&mut self, epoch: usize) {
        self.epoch = epoch + 1;
    }

    fn start_split(&mut self, split: &str, total_items: usize) {
        self.split = split.to_string();
        self.split_total = total_items;
        self.split_done = 0;
        self.split_start = Instant::now();
        self.next_quarter = 1;
        self.running.clear();
    }

    fn update_split(&mut self, items_processed: usize) {
        self.split_done = items_processed;
        if self.split == "train" && self.split_done * 4 >= self.next_quarter * self.split_total {
            while self.next_quarter <= 4 && self.split_done * 4 >= self.next_quarter * self.split_total {
                self.next_quarter += 1;
            }
            self.print();
        }
    }

    fn end_split(&mut self) {
        if self.split == "valid" {
            self.print();
        }
    }

    fn end(&mut self) {}

    fn log_event_training(&mut self, _event: String) {}
}

impl EvaluationProgressLogger for ProgressLines {
    fn start_global_progress(&mut self, _total_tests: usize) {}
    fn start_test(&mut self, _name: &str, _total_items: usize) {}
    fn update_test_progress(&mut self, _items_processed: usize) {}
    fn end_test(&mut self) {}
    fn end_global_progress(&mut self) {}
    fn log_event_evaluation(&mut self, _event: String) {}
}

impl MetricsRenderer for ProgressLines {
    fn manual_close(&mut self) {}

    fn register_metric(&mut self, definition: MetricDefinition) {
        self.definitions.insert(definition.metric_id.clone(), definition.name.to_string());
    }
}
