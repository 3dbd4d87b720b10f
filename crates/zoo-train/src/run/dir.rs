//! The files of a run directory, written atomically, and where a new run goes.

use std::path::{Path, PathBuf};

use burn::train::checkpoint::{Checkpoint, Checkpointer, CheckpointerError};

use crate::config::TrainConfig;
use crate::error::TrainError;

/// The files of a run directory.
#[derive(Debug, Clone)]
pub struct RunDir {
    /// The directory.
    pub root: PathBuf,
}

impl RunDir {
    /// `config.json`.
    pub fn config(&self) -> PathBuf {
        self.root.join("config.json")
    }
    /// `metrics.csv`.
    pub fn metrics(&self) -> PathBuf {
        self.root.join("metrics.csv")
    }
    /// `checkpoint/`.
    pub fn checkpoints(&self) -> PathBuf {
        self.root.join("checkpoint")
    }
    /// `model.bpk`: the final weights.
    pub fn weights(&self) -> PathBuf {
        self.root.join("model.bpk")
    }
    /// `curves.png`.
    pub fn curves(&self) -> PathBuf {
        self.root.join("curves.png")
    }
    /// `result.json`.
    pub fn result(&self) -> PathBuf {
        self.root.join("result.json")
    }

    /// Reads `config.json`.
    pub fn read_config(&self) -> Result<TrainConfig, TrainError> {
        let path = self.config();
        let text = std::fs::read_to_string(&path).map_err(|source| TrainError::NotARun {
            config: path.clone(),
            dir: self.root.clone(),
            source,
        })?;
        let json = serde_json::from_str(&text)
            .map_err(|source| TrainError::ConfigJson { origin: path.display().to_string(), source })?;
        crate::config::parse_config(&json, &path.display().to_string())
    }

    /// The last epoch whose model, optimizer and scheduler checkpoints were all written.
    pub fn last_checkpoint(&self) -> Option<usize> {
        let dir = self.checkpoints();
        let entries = std::fs::read_dir(&dir).ok()?;
        entries
            .filter_map(|e| {
                let name = e.ok()?.file_name().into_string().ok()?;
                name.strip_prefix("model-")?.strip_suffix(".bpk")?.parse::<usize>().ok()
            })
            .filter(|epoch| ["optim", "scheduler"].iter().all(|kind| dir.join(format!("{kind}-{epoch}.bpk")).is_file()))
            .max()
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename, so a
/// reader (or a run killed mid-write) never sees a partial file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    Ok(zoo_models::weights::write_atomic(path, bytes)?)
}

/// burn-train checkpointer writing `<name>-<epoch>.bpk` atomically (temporary file + rename).
pub(super) struct AtomicCheckpointer {
    pub(super) directory: PathBuf,
    pub(super) name: &'static str,
}

impl AtomicCheckpointer {
    fn path(&self, epoch: usize) -> PathBuf {
        self.directory.join(format!("{}-{epoch}.bpk", self.name))
    }
}

impl<R: Checkpoint> Checkpointer<R> for AtomicCheckpointer {
    fn save(&self, epoch: usize, record: R) -> Result<(), CheckpointerError> {
        let bytes = record.checkpoint_into_bytes().map_err(CheckpointerError::Record)?;
        write_atomic(&self.path(epoch), &bytes).map_err(|e| CheckpointerError::Unknown(e.to_string()))
    }

    fn restore(&self, epoch: usize) -> Result<R, CheckpointerError> {
        R::load(self.path(epoch))
    }

    fn delete(&self, epoch: usize) -> Result<(), CheckpointerError> {
        match std::fs::remove_file(self.path(epoch)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(CheckpointerError::IOError(e)),
            _ => Ok(()),
        }
    }
}

/// Where a new run goes: `--out` if given, else `runs/<model>-<dataset>-<UTC time>`.
pub fn default_run_dir(config: &TrainConfig) -> PathBuf {
    let [y, m, d, hh, mm, ss] = utc_now();
    let dataset = config.dataset.rsplit(['/', ':']).next().unwrap_or("data");
    PathBuf::from("runs").join(format!("{}-{}-{y:04}{m:02}{d:02}-{hh:02}{mm:02}{ss:02}", config.model, dataset))
}

/// The current UTC time as `[year, month, day, hour, minute, second]`.
///
/// ```
/// let [year, month, ..] = zoo_train::run::utc_now();
/// assert!(year >= 2024 && (1..=12).contains(&month));
/// ```
pub fn utc_now() -> [u64; 6] {
    let now = time::OffsetDateTime::now_utc();
    [
        now.year(),
        u8::from(now.month()).into(),
        now.day().into(),
        now.hour().into(),
        now.minute().into(),
        now.second().into(),
    ]
    .map(|field| u64::try_from(i64::from(field)).unwrap_or(0))
}
