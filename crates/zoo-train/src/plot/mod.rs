//! PNG charts of a run: training curves (`curves.png`) and confusion matrices (`confusion.png`),
//! on a shared [`canvas`].
//!
//! Drawn with plotters' bitmap backend. Text uses an ASCII subset of DejaVu Sans compiled into the
//! binary (see `assets/README.md`), so charts look the same everywhere and need no system fonts.

pub mod canvas;
mod confusion;
mod curves;

pub use confusion::draw_confusion;
pub use curves::{CurvePoint, draw_curves};

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

#[cfg(test)]
mod tests;
