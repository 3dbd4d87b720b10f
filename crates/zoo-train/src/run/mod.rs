//! A training run: its directory (config, metrics, atomic checkpoints, final weights, curves,
//! result), the model it trains, starting, resuming and the `--dry-run` check.

mod dir;
mod dry;
mod fit;
mod model;

pub use dir::{RunDir, default_run_dir, utc_now, write_atomic};
pub use dry::{DryRun, dry_run};
pub use fit::{RunResult, panic_text, resume, resume_on, train, train_on};
pub use model::{ResolvedInput, build_model, load_weights, load_weights_with, save_weights};
