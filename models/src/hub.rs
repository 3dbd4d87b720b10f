//! torchvision's published weight files, downloaded once into a cache directory and checked
//! against the SHA-256 prefix in their names, as `torch.hub` does (`--pretrained` in the CLI).
//!
//! Where a file is looked for, in order:
//! 1. `$ZOO_CACHE_DIR/weights`, else `$XDG_CACHE_HOME/burn-zoo/weights`, else
//!    `~/.cache/burn-zoo/weights`;
//! 2. PyTorch's own cache, `$TORCH_HOME/hub/checkpoints` (default `~/.cache/torch/hub/checkpoints`),
//!    so weights torchvision already downloaded are not fetched twice;
//! 3. the network: torchvision's URL, or `$ZOO_WEIGHTS_MIRROR/<file name>` when that is set (a
//!    local mirror for machines without internet; `file://` URLs work).

use std::path::PathBuf;

use zoo_data::DataError;
use zoo_data::download::{Checksum, Resource, fetch_resource_with_progress};

use crate::pretrained::PretrainedWeights;

/// Why a weight file is not on disk.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// The file is not cached and could not be downloaded.
    #[error(
        "cannot download the {model} {tag} weights from {url} ({reason}); offline? download that file by hand and pass --weights FILE, or put it in {}",
        cache.display()
    )]
    Offline {
        /// The model the weights are for.
        model: &'static str,
        /// The weights' tag (`IMAGENET1K_V1`, ...).
        tag: &'static str,
        /// Where it was looked for.
        url: String,
        /// The downloader's own words.
        reason: String,
        /// Where a copy put by hand is found.
        cache: PathBuf,
    },
    /// A cached copy could not be read, or a download failed its checksum.
    #[error(transparent)]
    Data(#[from] DataError),
}

/// The directory `--pretrained` downloads into.
pub fn cache_dir() -> PathBuf {
    match env_path("ZOO_CACHE_DIR") {
        Some(dir) => dir.join("weights"),
        None => user_cache_home().join("burn-zoo").join("weights"),
    }
}

// PyTorch's hub cache, where torchvision keeps the same files under the same names.
fn torch_hub_dir() -> PathBuf {
    env_path("TORCH_HOME").unwrap_or_else(|| user_cache_home().join("torch")).join("hub").join("checkpoints")
}

fn env_path(key: &str) -> Option<PathBuf> {
    std::env::var_os(key).filter(|v| !v.is_empty()).map(PathBuf::from)
}

// `$XDG_CACHE_HOME`, else `~/.cache`, as both torch and we use it.
fn user_cache_home() -> PathBuf {
    env_path("XDG_CACHE_HOME")
        .or_else(|| env_path("HOME").map(|h| h.join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"))
}

/// The local path of `weights`, downloading and checking it first if no verified copy exists.
///
/// Offline, the error is one line with the URL and how to do without it:
///
/// ```no_run
/// let weights = zoo_models::pretrained::lookup("resnet18", None)?;
/// let path = zoo_models::hub::fetch(weights)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn fetch(weights: &PretrainedWeights) -> Result<PathBuf, HubError> {
    let file = weights.file_name();
    let checksum = Checksum::Sha256Prefix(weights.sha256_prefix.to_string());
    let torch_copy = torch_hub_dir().join(file);
    if torch_copy.is_file() && checksum.verify(&torch_copy)?.is_ok() {
        return Ok(torch_copy);
    }
    let url = match std::env::var("ZOO_WEIGHTS_MIRROR") {
        Ok(mirror) if !mirror.is_empty() => format!("{}/{file}", mirror.trim_end_matches('/')),
        _ => weights.url.to_string(),
    };
    let cache = cache_dir();
    let resource = Resource { file: file.to_string(), urls: vec![url.clone()], checksum, extract: false };
    fetch_resource_with_progress(&resource, &cache, true).map_err(|e| match e {
        DataError::Download(reason) => {
            let reason = short_reason(&reason, &url).to_string();
            HubError::Offline { model: weights.model, tag: weights.tag, url, reason, cache }
        }
        other => HubError::from(other),
    })
}

// The downloader's message repeats the URL and the cache directory; keep curl's own words.
fn short_reason<'a>(reason: &'a str, url: &str) -> &'a str {
    let start = reason.find(&format!("{url}: ")).map(|i| i + url.len() + 2).unwrap_or(0);
    let rest = &reason[start..];
    rest.find("); no network?").map(|end| &rest[..end]).unwrap_or(rest)
}
