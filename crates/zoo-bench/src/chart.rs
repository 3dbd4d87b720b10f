//! The `zoo bench` chart (`bench.png`), drawn on zoo-train's chart canvas so it looks like a
//! run's curves.

use std::path::Path;

use plotters::prelude::*;
use zoo_train::plot::canvas::{FONT, MARGIN, PALETTE, TickedAxis, format_si, render, titled};

use crate::error::BenchError;
use crate::plan::BenchMode;
use crate::report::{BenchReport, BenchRow};

/// Draws the `zoo bench` chart: one panel per mode (inference, training), each with a group of
/// bars per model and batch size and one bar per backend (the baseline's PyTorch rows included),
/// height = samples/s on a logarithmic axis, since the models' speeds differ by orders of
/// magnitude. Failed cases have no bar. 1400x560 px per panel row.
pub fn draw_bench(
    report: &BenchReport,
    baseline: Option<&BenchReport>,
    title: &str,
    path: &Path,
) -> Result<(), BenchError> {
    let mut rows: Vec<&BenchRow> = report.rows.iter().collect();
    if let Some(baseline) = baseline {
        rows.extend(baseline.rows.iter().filter(|b| {
            report.rows.iter().any(|r| r.model == b.model && r.mode == b.mode && r.batch_size == b.batch_size)
        }));
    }
    let modes: Vec<BenchMode> =
        [BenchMode::Infer, BenchMode::Train].into_iter().filter(|m| rows.iter().any(|r| r.mode == *m)).collect();
    let mut backends: Vec<String> = Vec::new();
    for r in &rows {
        if !backends.contains(&r.backend_label()) {
            backends.push(r.backend_label());
        }
    }
    let height = 560 * modes.len().max(1) as u32;
    Ok(render(path, (1400, height), |root| {
        let area = titled(root, title, 22.0)?;
        let panels = area.split_evenly((modes.len().max(1), 1));
        for (panel, mode) in panels.iter().zip(&modes) {
            let in_mode: Vec<&&BenchRow> = rows.iter().filter(|r| r.mode == *mode).collect();
            let mut groups: Vec<(String, usize)> = Vec::new();
            for r in &in_mode {
                let key = (r.model.clone(), r.batch_size);
                if !groups.contains(&key) {
                    groups.push(key);
                }
            }
            let values: Vec<f64> = in_mode.iter().filter_map(|r| r.samples_per_s).filter(|v| *v > 0.0).collect();
            let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = values.iter().copied().fold(0.0, f64::max);
            let (lo, hi) = if values.is_empty() {
                (1.0, 10.0)
            } else {
                // Half a decade of room below the shortest bar, so it stays visible.
                (10f64.powf((lo / 3.0).log10().floor()), 10f64.powf((hi * 1.5).log10().ceil()))
            };
            let labels: Vec<String> = groups.iter().map(|(m, b)| format!("{m} b{b}")).collect();
            let mut chart = ChartBuilder::on(panel)
                .margin(MARGIN)
                .caption(
                    match mode {
                        BenchMode::Infer => "inference (forward)",
                        BenchMode::Train => "training step (forward + backward + optimizer)",
                    },
                    (FONT, 18),
                )
                .x_label_area_size(40)
                .y_label_area_size(75)
                .build_cartesian_2d(
                    TickedAxis {
                        range: 0.0..groups.len().max(1) as f64,
                        ticks: (0..groups.len()).map(|i| i as f64 + 0.5).collect(),
                    },
                    (lo..hi).log_scale(),
                )?;
            chart
                .configure_mesh()
                .y_desc("samples/s (log scale)")
                .x_label_formatter(&|x| labels.get(x.floor() as usize).cloned().unwrap_or_default())
                .y_label_formatter(&|y| format_si(*y))
                .label_style((FONT, 14))
                .axis_desc_style((FONT, 16))
                .bold_line_style(BLACK.mix(0.15))
                .light_line_style(TRANSPARENT)
                .draw()?;
            let width = 0.8 / backends.len().max(1) as f64;
            for (k, backend) in backends.iter().enumerate() {
                let colour = PALETTE[k % PALETTE.len()];
                let bars: Vec<Rectangle<(f64, f64)>> = groups
                    .iter()
                    .enumerate()
                    .filter_map(|(g, (model, batch))| {
                        let row = in_mode
                            .iter()
                            .find(|r| r.backend_label() == *backend && &r.model == model && r.batch_size == *batch)?;
                        let value = row.samples_per_s.filter(|v| *v > 0.0)?;
                        let x0 = g as f64 + 0.1 + k as f64 * width;
                        Some(Rectangle::new([(x0, lo), (x0 + width * 0.9, value)], colour.filled()))
                    })
                    .collect();
                chart
                    .draw_series(bars)?
                    .label(backend.as_str())
                    .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], colour.filled()));
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .label_font((FONT, 14))
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.4))
                .draw()?;
        }
        Ok(())
    })?)
}
