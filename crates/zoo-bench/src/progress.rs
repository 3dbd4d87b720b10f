//! Progress of a run on stderr, with rate and ETA.
//!
//! Not `indicatif`: off a terminal indicatif hides its bar, and a benchmark's log should still
//! say which case ran at what rate; on a terminal this one bar is the same 80 lines either way.

use std::io::{IsTerminal, Write};
use std::time::Instant;

use zoo_train::progress::format_duration;

use crate::measure::BenchEvent;
use crate::output::fmt;

/// A progress bar on stderr: redrawn in place on a terminal, one line per finished case
/// otherwise (logs, CI).
pub struct ProgressBar {
    started: Instant,
    terminal: bool,
}

impl Default for ProgressBar {
    fn default() -> Self {
        Self::new()
    }
}

impl ProgressBar {
    /// A bar that starts its clock now.
    pub fn new() -> Self {
        Self { started: Instant::now(), terminal: std::io::stderr().is_terminal() }
    }

    /// Seconds since the bar was created.
    pub fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// Shows `event`.
    pub fn show(&mut self, event: &BenchEvent) {
        let mut err = std::io::stderr().lock();
        match event {
            BenchEvent::Start { index, total, label } => {
                if self.terminal {
                    let _ = write!(err, "\r\x1b[2K{} {label}", self.bar(*index, *total));
                    let _ = err.flush();
                }
            }
            BenchEvent::Done { index, total, row } => {
                let result = match &row.error {
                    Some(e) => format!("error: {e}"),
                    None => format!("{} samples/s, {} ms/step", fmt(row.samples_per_s, 4), fmt(row.ms_per_step, 4)),
                };
                let label =
                    format!("{} · {} · {} · b{}", row.model, row.backend_label(), row.mode.name(), row.batch_size);
                if self.terminal {
                    let _ = write!(err, "\r\x1b[2K{} {label}: {result}", self.bar(index + 1, *total));
                    if index + 1 == *total {
                        let _ = writeln!(err);
                    }
                    let _ = err.flush();
                } else {
                    let _ = writeln!(err, "{} {label}: {result}", self.bar(index + 1, *total));
                }
            }
        }
    }

    /// `[#####.....] 5/10 0:12 elapsed, ETA 0:12`.
    fn bar(&self, done: usize, total: usize) -> String {
        const WIDTH: usize = 24;
        let filled = (done * WIDTH).checked_div(total).unwrap_or(WIDTH);
        let elapsed = self.elapsed();
        let eta = if done > 0 && done < total {
            format!(", ETA {}", format_duration(elapsed / done as f64 * (total - done) as f64))
        } else {
            String::new()
        };
        let rate = if elapsed > 0.0 && done > 0 { done as f64 / elapsed * 60.0 } else { 0.0 };
        format!(
            "[{}{}] {done}/{total} {} elapsed, {rate:.1} cases/min{eta}",
            "#".repeat(filled),
            ".".repeat(WIDTH - filled),
            format_duration(elapsed)
        )
    }
}
