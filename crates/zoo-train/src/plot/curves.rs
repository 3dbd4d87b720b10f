//! `curves.png`: loss and top-1 accuracy against epoch, per split.

use std::path::Path;

use plotters::prelude::*;

use super::PlotError;
use super::canvas::{Area, DrawResult, FONT, MARGIN, PALETTE, TickedAxis, render, ticks, titled, value_range};

/// One point of a training curve: the epoch's value for one split.
#[derive(Debug, Clone, PartialEq)]
pub struct CurvePoint {
    /// Epoch number (burn-train counts from 1).
    pub epoch: usize,
    /// Dataset split, "train" or "valid".
    pub split: String,
    /// Mean loss over the epoch; NaN when unknown (the point is skipped).
    pub loss: f64,
    /// Top-1 accuracy in percent (0..=100); NaN when unknown (the point is skipped).
    pub top1: f64,
}

/// Draws `curves.png`: two side-by-side panels, 1200x500 px, white background.
///
/// Left: loss against epoch; right: top-1 accuracy (%) against epoch. Each panel has a line with
/// point markers per split present ("train" in blue, "valid" in orange), a legend, axis labels
/// and, above both panels, `title` (e.g. "lenet5 on synth-digits"). Non-finite values are
/// skipped. A single epoch is drawn as markers on a padded x axis; no points give empty axes.
pub fn draw_curves(points: &[CurvePoint], title: &str, path: &Path) -> Result<(), PlotError> {
    // Splits in order of first appearance, so the legend order follows the input.
    let mut splits: Vec<&str> = Vec::new();
    for p in points {
        if !splits.contains(&p.split.as_str()) {
            splits.push(&p.split);
        }
    }
    let first = points.iter().map(|p| p.epoch).min().unwrap_or(0);
    let last = points.iter().map(|p| p.epoch).max().unwrap_or(1);
    let pad = if first == last { 0.5 } else { (last - first) as f64 * 0.03 };
    let epochs = first as f64 - pad..last as f64 + pad;
    let ticks = ticks(first, last, 10);

    render(path, (1200, 500), |root| {
        let panels = titled(root, title, 24.0)?.split_evenly((1, 2));
        let panel = |area: &Area, y_desc: &str, value: fn(&CurvePoint) -> f64, empty, legend| {
            let values = points.iter().map(value).filter(|v| v.is_finite());
            let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
            let mut chart =
                ChartBuilder::on(area).margin(MARGIN).x_label_area_size(45).y_label_area_size(65).build_cartesian_2d(
                    TickedAxis { range: epochs.clone(), ticks: ticks.iter().map(|&e| e as f64).collect() },
                    if lo <= hi { value_range(lo, hi) } else { empty },
                )?;
            chart
                .configure_mesh()
                .x_desc("epoch")
                .y_desc(y_desc)
                .x_label_formatter(&|x| format!("{x:.0}"))
                // Rounded so that 1-2-5 ticks read "0.3" and "85", not "0.30000000000000004" or "85.0".
                .y_label_formatter(&|y| format!("{}", (y * 1e6).round() / 1e6))
                .label_style((FONT, 14))
                .axis_desc_style((FONT, 16))
                .bold_line_style(BLACK.mix(0.15))
                .light_line_style(TRANSPARENT)
                .draw()?;
            for (i, &split) in splits.iter().enumerate() {
                let colour = PALETTE[match split {
                    "train" => 0,
                    "valid" => 1,
                    _ => 2 + i % 3,
                }];
                let mut line: Vec<(f64, f64)> = points
                    .iter()
                    .filter(|p| p.split == split && value(p).is_finite())
                    .map(|p| (p.epoch as f64, value(p)))
                    .collect();
                line.sort_by(|a, b| a.0.total_cmp(&b.0));
                chart
                    .draw_series(LineSeries::new(line, colour.filled().stroke_width(2)).point_size(4))?
                    .label(split)
                    .legend(move |(x, y)| {
                        EmptyElement::at((x + 10, y))
                            + PathElement::new([(-10, 0), (10, 0)], colour.stroke_width(2))
                            + Circle::new((0, 0), 4, colour.filled())
                    });
            }
            if !splits.is_empty() {
                chart
                    .configure_series_labels()
                    .position(legend)
                    .label_font((FONT, 14))
                    .background_style(WHITE.mix(0.85))
                    .border_style(BLACK.mix(0.4))
                    .draw()?;
            }
            DrawResult::Ok(())
        };
        // Loss falls and accuracy rises, so those corners are usually free for the legend.
        panel(&panels[0], "loss", |p| p.loss, 0.0..1.0, SeriesLabelPosition::UpperRight)?;
        panel(&panels[1], "top-1 (%)", |p| p.top1, 0.0..100.0, SeriesLabelPosition::LowerRight)
    })
}
