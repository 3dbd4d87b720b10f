//! What every chart shares: the embedded font, the palette, atomic PNG writing, titled areas and
//! axes with chosen ticks. Public so that other crates' charts (`zoo bench`'s) look the same.

use std::error::Error;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::register_font;

use super::PlotError;

/// Family name the embedded font is registered under.
pub const FONT: &str = "sans-serif";
const FONT_BYTES: &[u8] = include_bytes!("../../assets/DejaVuSans-ASCII.ttf");

/// Outer margin of each chart, in pixels.
pub const MARGIN: u32 = 15;
/// Colours of the "train" and "valid" curves, then of any other split (matplotlib's tab10).
pub const PALETTE: [RGBColor; 5] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
];

/// The drawing surface of a chart: a PNG in memory.
pub type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;
/// What a drawing step returns: plotters' errors, boxed.
pub type DrawResult = Result<(), Box<dyn Error>>;

/// `1200` → `1.2k`, `0.05` → `0.05`: compact labels for a log axis.
pub fn format_si(value: f64) -> String {
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
pub fn titled<'a>(root: &Area<'a>, title: &str, size: f64) -> Result<Area<'a>, Box<dyn Error>> {
    Ok(root.margin((0.25 * size) as i32, 0, 0, 0).titled(title, (FONT, size))?)
}

/// Renders into a temporary PNG next to `path`, then renames it over `path`, so a reader never
/// sees a half-written chart.
pub fn render(path: &Path, size: (u32, u32), draw: impl FnOnce(&Area) -> DrawResult) -> Result<(), PlotError> {
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
pub struct TickedAxis {
    /// The axis' extent.
    pub range: Range<f64>,
    /// Where the grid lines and labels go.
    pub ticks: Vec<f64>,
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
pub fn ticks(first: usize, last: usize, max: usize) -> Vec<usize> {
    let span = last.saturating_sub(first);
    let step = (0..)
        .map(|k| [1, 2, 5][k % 3] * 10usize.pow(k as u32 / 3))
        .find(|step| span / step < max)
        .expect("a large enough step exists");
    (first.div_ceil(step) * step..=last).step_by(step).collect()
}

/// Axis range for values in `lo..=hi` (`lo <= hi`) with a 5% margin, not below 0 for
/// non-negative data.
pub fn value_range(lo: f64, hi: f64) -> Range<f64> {
    let margin = if hi > lo { (hi - lo) * 0.05 } else { (hi.abs() * 0.1).max(0.1) };
    let start = if lo >= 0.0 { (lo - margin).max(0.0) } else { lo - margin };
    start..hi + margin
}
