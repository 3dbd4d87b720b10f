//! `confusion.png`: a row-normalised confusion matrix with counts and class names.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::PlotError;
use super::canvas::{FONT, MARGIN, TickedAxis, render, ticks, titled};

/// Confusion cell colour at fraction 1 (fraction 0 is white).
const DARK_BLUE: RGBColor = RGBColor(8, 48, 107);

/// Draws `confusion.png`: a confusion matrix heat map.
///
/// `matrix[t][p]` counts samples of true class `t` predicted as `p`; it must be square with
/// `class_names.len()` rows. Rows are true classes (top to bottom), columns predicted classes;
/// the cell colour is the row-normalised fraction (white 0 to dark blue 1). Counts are written in
/// the cells for up to 20 classes, class names label both axes for up to 30 (beyond that, class
/// indices every few classes). The image is square, about `max(500, 40 * classes + 150)` px,
/// capped at 2000.
pub fn draw_confusion(matrix: &[Vec<u64>], class_names: &[String], title: &str, path: &Path) -> Result<(), PlotError> {
    let n = class_names.len();
    if matrix.len() != n || matrix.iter().any(|row| row.len() != n) {
        return Err(PlotError::Draw {
            path: path.display().to_string(),
            message: format!("the matrix is not {n}x{n} (one row and column per class name)"),
        });
    }
    let side = (40 * n as u32 + 150).clamp(500, 2000);
    let label = |i: usize| {
        if n <= 30 { shorten(&class_names[i]) } else { i.to_string() }
    };
    let ticks = if n <= 30 { (0..n).collect() } else { ticks(0, n - 1, 15) };

    render(path, (side, side), |root| {
        // Text grows with big images, which are usually viewed scaled down.
        let scale = (side as f64 / 1000.0).max(1.0);
        let area = titled(root, title, 22.0 * scale)?;
        let label_style = TextStyle::from((FONT, 14.0 * scale));
        // Size the label areas to the longest label, so names are neither clipped nor overlapping.
        let mut widest = 0;
        for &i in &ticks {
            widest = widest.max(area.estimate_text_size(&label(i), &label_style)?.0);
        }
        let (width, height) = area.dim_in_pixel();
        let y_label_width = widest + (45.0 * scale) as u32;
        // Labels wider than the space between two ticks are written vertically.
        let tick_step = ticks.get(1).map_or(1, |second| second - ticks[0]);
        let tick_space = width.saturating_sub(y_label_width + 2 * MARGIN) as f64 * tick_step as f64 / n.max(1) as f64;
        let vertical = widest as f64 > 0.9 * tick_space;
        let x_label_height = if vertical { widest } else { label_style.font.get_size() as u32 } + (40.0 * scale) as u32;
        // Square cells: the matrix is the largest square that fits, centred by the margins.
        let free_width = width.saturating_sub(y_label_width + 2 * MARGIN);
        let free_height = height.saturating_sub(x_label_height + 2 * MARGIN);
        let plot = free_width.min(free_height);
        let (extra_width, extra_height) = (free_width - plot, free_height - plot);
        let cell = plot as f64 / n.max(1) as f64;
        // Row 0 is at the top, so y runs from n (top edge) down to 0: cell (t, p) spans
        // x in p..p+1 and y in n-t-1..n-t.
        let axis = |flip: bool| {
            let centre = move |i: usize| {
                if flip { (n - i) as f64 - 0.5 } else { i as f64 + 0.5 }
            };
            TickedAxis { range: 0.0..n.max(1) as f64, ticks: ticks.iter().map(|&i| centre(i)).collect() }
        };
        let mut chart = ChartBuilder::on(&area)
            .margin_left(MARGIN + extra_width / 2)
            .margin_right(MARGIN + extra_width - extra_width / 2)
            .margin_top(MARGIN + extra_height / 2)
            .margin_bottom(MARGIN + extra_height - extra_height / 2)
            .x_label_area_size(x_label_height)
            .y_label_area_size(y_label_width)
            .build_cartesian_2d(axis(false), axis(true))?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("predicted")
            .y_desc("true")
            .x_label_formatter(&|x| {
                if vertical { String::new() } else { label(*x as usize) }
            })
            .y_label_formatter(&|y| label(n - 1 - *y as usize))
            .label_style(label_style.clone())
            .axis_desc_style((FONT, 16.0 * scale))
            .draw()?;
        if vertical {
            // plotters centres bottom labels on their tick whatever the rotation, which puts half of
            // a vertical name inside the matrix; so these hang from the tick, drawn by hand.
            let style = label_style.transform(FontTransform::Rotate270).pos(Pos::new(HPos::Right, VPos::Center));
            for &i in &ticks {
                let (x, y) = chart.backend_coord(&(i as f64 + 0.5, 0.0));
                root.draw_text(&label(i), &style, (x, y + 10))?;
            }
        }

        let fractions: Vec<Vec<f64>> = matrix
            .iter()
            .map(|row| {
                let total = row.iter().sum::<u64>().max(1) as f64;
                row.iter().map(|&c| c as f64 / total).collect()
            })
            .collect();
        let cells = (0..n).flat_map(|t| (0..n).map(move |p| (t, p)));
        let corner = |t: usize, p: usize| (p as f64, (n - t) as f64);
        chart.draw_series(cells.clone().map(|(t, p)| {
            let (x, y) = corner(t, p);
            Rectangle::new([(x, y), (x + 1.0, y - 1.0)], blend(fractions[t][p]).filled())
        }))?;
        if n <= 20 {
            // Shrink the count font for long counts so they stay inside their cell.
            let digits = matrix.iter().flatten().max().map_or(1, |m| m.to_string().len());
            let size = (cell * 0.4).min(16.0).min(0.9 * cell / (0.64 * digits as f64));
            chart.draw_series(cells.map(|(t, p)| {
                let (x, y) = corner(t, p);
                let colour = if fractions[t][p] > 0.5 { &WHITE } else { &BLACK };
                let style = TextStyle::from((FONT, size)).color(colour).pos(Pos::new(HPos::Center, VPos::Center));
                Text::new(matrix[t][p].to_string(), (x + 0.5, y - 0.5), style)
            }))?;
        }
        let edge = n.max(1) as f64;
        chart.draw_series([Rectangle::new([(0.0, 0.0), (edge, edge)], BLACK.mix(0.6))])?;
        Ok(())
    })
}

/// `name`, cut to 20 characters so that one long class name cannot squeeze the matrix away.
fn shorten(name: &str) -> String {
    if name.chars().count() <= 20 { name.to_string() } else { name.chars().take(17).chain("...".chars()).collect() }
}

/// White at fraction 0, dark blue at 1.
fn blend(fraction: f64) -> RGBColor {
    let mix = |dark: u8| (255.0 - (255.0 - dark as f64) * fraction.clamp(0.0, 1.0)).round() as u8;
    RGBColor(mix(DARK_BLUE.0), mix(DARK_BLUE.1), mix(DARK_BLUE.2))
}
