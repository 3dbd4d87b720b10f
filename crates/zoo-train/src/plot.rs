//! PNG charts of a run: training curves (`curves.png`) and confusion matrices (`confusion.png`).
//!
//! Drawn with plotters' bitmap backend. Text uses an ASCII subset of DejaVu Sans compiled into the
//! binary (see `assets/README.md`), so charts look the same everywhere and need no system fonts.

use std::error::Error;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::register_font;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Family name the embedded font is registered under.
const FONT: &str = "sans-serif";
const FONT_BYTES: &[u8] = include_bytes!("../assets/DejaVuSans-ASCII.ttf");

/// Outer margin of each chart, in pixels.
const MARGIN: u32 = 15;
/// Colours of the "train" and "valid" curves, then of any other split (matplotlib's tab10).
const PALETTE: [RGBColor; 5] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
];
/// Confusion cell colour at fraction 1 (fraction 0 is white).
const DARK_BLUE: RGBColor = RGBColor(8, 48, 107);

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

/// Why a chart could not be written.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// Drawing or writing the PNG failed, or the input is malformed.
    #[error("cannot draw {path}: {message}")]
    Draw {
        /// The PNG that was to be written.
        path: String,
        /// What went wrong.
        message: String,
    },
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;
type DrawResult = Result<(), Box<dyn Error>>;

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

/// Draws the `zoo bench` chart: one panel per mode (inference, training), each with a group of
/// bars per model and batch size and one bar per backend (the baseline's PyTorch rows included),
/// height = samples/s on a logarithmic axis, since the models' speeds differ by orders of
/// magnitude. Failed cases have no bar. 1400x560 px per panel row.
pub fn draw_bench(
    report: &crate::bench::BenchReport,
    baseline: Option<&crate::bench::BenchReport>,
    title: &str,
    path: &Path,
) -> Result<(), PlotError> {
    use crate::bench::{BenchMode, BenchRow};
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
    render(path, (1400, height), |root| {
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
    })
}

/// `1200` → `1.2k`, `0.05` → `0.05`: compact labels for a log axis.
fn format_si(value: f64) -> String {
    let (scaled, suffix) = match value.abs() {
        v if v >= 1e9 => (value / 1e9, "G"),
        v if v >= 1e6 => (value / 1e6, "M"),
        v if v >= 1e3 => (value / 1e3, "k"),
        _ => (value, ""),
    };
    format!("{}{suffix}", (scaled * 1000.0).round() / 1000.0)
}

/// The part of `root` below `title`. The top margin makes room for the ascenders, which the
/// ab_glyph renderer draws a little above the anchor of top-aligned text.
fn titled<'a>(root: &Area<'a>, title: &str, size: f64) -> Result<Area<'a>, Box<dyn Error>> {
    Ok(root.margin((0.25 * size) as i32, 0, 0, 0).titled(title, (FONT, size))?)
}

/// Renders into a temporary PNG next to `path`, then renames it over `path`, so a reader never
/// sees a half-written chart.
fn render(path: &Path, size: (u32, u32), draw: impl FnOnce(&Area) -> DrawResult) -> Result<(), PlotError> {
    static FONT_ONCE: Once = Once::new();
    FONT_ONCE.call_once(|| {
        // The font is compiled in, so a parse failure is a build defect, not a runtime condition.
        if register_font(FONT, FontStyle::Normal, FONT_BYTES).is_err() {
            panic!("the embedded DejaVuSans-ASCII.ttf is not a valid font");
        }
    });
    let error = |message: String| PlotError::Draw { path: path.display().to_string(), message };
    let tmp = temp_path(path).ok_or_else(|| error("the path has no file name".into()))?;
    let drawn = {
        let root = BitMapBackend::new(&tmp, size).into_drawing_area();
        root.fill(&WHITE).map_err(Box::from).and_then(|()| draw(&root)).and_then(|()| Ok(root.present()?))
        // The backend is dropped here; after a failure it may still write `tmp`, removed below.
    };
    let result = drawn
        .map_err(|e| error(e.to_string()))
        .and_then(|()| std::fs::rename(&tmp, path).map_err(|e| error(format!("cannot rename {}: {e}", tmp.display()))));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// `dir/.name.tmp.png` for `dir/name`: hidden, in the same directory (so the rename is atomic),
/// and ending in `.png` because the encoder picks the format from the extension.
fn temp_path(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?.to_string_lossy();
    Some(path.with_file_name(format!(".{name}.tmp.png")))
}

/// A linear axis with the given ticks. (plotters' `with_key_points` on an f64 range loses the
/// value formatter that `configure_mesh` requires.)
struct TickedAxis {
    range: Range<f64>,
    ticks: Vec<f64>,
}

impl Ranged for TickedAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        RangedCoordf64::from(self.range.clone()).map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        // Only bold grid lines: a light grid between epochs or classes is noise.
        if hint.weight().allow_light_points() { Vec::new() } else { self.ticks.clone() }
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

/// Integer ticks from `first` to `last` with a 1-2-5 step giving at most about `max` ticks.
fn ticks(first: usize, last: usize, max: usize) -> Vec<usize> {
    let span = last.saturating_sub(first);
    let step = (0..)
        .map(|k| [1, 2, 5][k % 3] * 10usize.pow(k as u32 / 3))
        .find(|step| span / step < max)
        .expect("a large enough step exists");
    (first.div_ceil(step) * step..=last).step_by(step).collect()
}

/// Axis range for values in `lo..=hi` (`lo <= hi`) with a 5% margin, not below 0 for
/// non-negative data.
fn value_range(lo: f64, hi: f64) -> Range<f64> {
    let margin = if hi > lo { (hi - lo) * 0.05 } else { (hi.abs() * 0.1).max(0.1) };
    let start = if lo >= 0.0 { (lo - margin).max(0.0) } else { lo - margin };
    start..hi + margin
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

#[cfg(test)]
mod tests {
    use super::*;

    const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

    /// Width and height from the IHDR chunk, which always comes first.
    fn png_size(path: &Path) -> (u32, u32) {
        let bytes = std::fs::read(path).unwrap();
        assert_eq!(bytes[..8], PNG_SIGNATURE);
        let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
        (be(16), be(20))
    }

    fn point(epoch: usize, split: &str, loss: f64, top1: f64) -> CurvePoint {
        CurvePoint { epoch, split: split.into(), loss, top1 }
    }

    #[test]
    fn curves_for_several_epochs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("curves.png");
        let points: Vec<_> = (1..=3)
            .flat_map(|e| {
                let e_f = e as f64;
                [point(e, "train", 2.0 / e_f, 40.0 + 15.0 * e_f), point(e, "valid", 2.2 / e_f, 35.0 + 14.0 * e_f)]
            })
            .collect();
        draw_curves(&points, "lenet5 on synth-digits", &path).unwrap();
        assert_eq!(png_size(&path), (1200, 500));
        // A blank white 1200x500 PNG deflates to a few KB; text, axes and lines take far more.
        assert!(std::fs::metadata(&path).unwrap().len() > 20_000);
        // Only the final file is left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["curves.png"]);
    }

    #[test]
    fn curves_for_one_point_none_and_nan() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("curves.png");
        draw_curves(&[point(1, "train", 0.7, 81.5)], "one epoch", &path).unwrap();
        assert_eq!(png_size(&path), (1200, 500));
        draw_curves(&[], "no epochs", &path).unwrap();
        assert_eq!(png_size(&path), (1200, 500));
        draw_curves(&[point(1, "valid", f64::NAN, f64::NAN)], "unknown values", &path).unwrap();
    }

    #[test]
    fn confusion_is_square() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("confusion.png");
        let names: Vec<String> = (0..10).map(|i| format!("digit {i}")).collect();
        let matrix: Vec<Vec<u64>> = (0..10)
            .map(|t| (0..10).map(|p| if t == p { 90 + t as u64 } else { (t * p % 7) as u64 }).collect())
            .collect();
        draw_confusion(&matrix, &names, "lenet5 on synth-digits (valid)", &path).unwrap();
        let (w, h) = png_size(&path);
        assert_eq!(w, h);
        assert!(w >= 500);
    }

    #[test]
    fn confusion_of_many_classes_and_of_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("confusion.png");
        let names: Vec<String> = (0..100).map(|i| format!("class{i}")).collect();
        let matrix: Vec<Vec<u64>> = (0..100).map(|t| (0..100).map(|p| u64::from(t == p) * 50 + 1).collect()).collect();
        draw_confusion(&matrix, &names, "100 classes", &path).unwrap();
        assert_eq!(png_size(&path), (2000, 2000));
        draw_confusion(&[], &[], "no classes", &path).unwrap();
        assert_eq!(png_size(&path), (500, 500));
    }

    #[test]
    fn errors_are_returned() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing").join("curves.png");
        let err = draw_curves(&[point(1, "train", 1.0, 50.0)], "t", &missing).unwrap_err();
        assert!(err.to_string().starts_with("cannot draw"), "{err}");
        let names = vec!["a".to_string(), "b".to_string()];
        assert!(draw_confusion(&[vec![1, 2], vec![3, 4]], &names, "t", &missing).is_err());
        let ragged = [vec![1, 2], vec![3]];
        assert!(draw_confusion(&ragged, &names, "t", &dir.path().join("c.png")).is_err());
    }

    #[test]
    fn ticks_use_round_steps() {
        assert_eq!(ticks(1, 1, 10), [1]);
        assert_eq!(ticks(1, 5, 10), [1, 2, 3, 4, 5]);
        assert_eq!(ticks(1, 40, 10), [5, 10, 15, 20, 25, 30, 35, 40]);
        assert_eq!(ticks(0, 99, 15), [0, 10, 20, 30, 40, 50, 60, 70, 80, 90]);
    }
}
