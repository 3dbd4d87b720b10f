//! Backend names (`flex`, `ndarray`, `wgpu`, ...) to Burn devices: what `--backend` accepts in
//! every `zoo` command, and what a program that names its backend at run time needs.

use std::panic::AssertUnwindSafe;

use burn::tensor::Device;

/// Why a backend name gives no device.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// The name is not one of [`BACKEND_NAMES`].
    #[error("unknown backend `{name}` (compiled: {compiled})")]
    Unknown {
        /// The name asked for.
        name: String,
        /// The backends this build has, comma-separated.
        compiled: String,
    },
    /// A known backend that this build was compiled without.
    #[error(
        "backend `{name}` is not compiled into this build (compiled: {compiled}; rebuild with `--features {name}`)"
    )]
    NotCompiled {
        /// The name asked for.
        name: String,
        /// The backends this build has, comma-separated.
        compiled: String,
    },
    /// More devices asked than the backend has.
    #[error("backend `{name}` has {found} device(s) and {asked} were asked (`zoo backends` lists them)")]
    TooFewDevices {
        /// The backend.
        name: String,
        /// Devices asked for.
        asked: usize,
        /// Devices the backend has.
        found: usize,
    },
    /// A device list entry or count that names no device.
    #[error("devices `{entry}`: {reason}")]
    BadDevices {
        /// The count or list entry.
        entry: String,
        /// Why it names no device.
        reason: String,
    },
    /// A remote server that cannot be reached.
    #[error("cannot reach the remote server {url} (a `zoo serve`): {reason}")]
    Unreachable {
        /// The server's address.
        url: String,
        /// What the connection attempt said.
        reason: String,
    },
    /// A GPU backend that sees no adapter on this machine.
    #[error(
        "backend `{name}` finds no device on this machine (`zoo backends` lists what it sees; \
         on Linux without a GPU, Mesa's software Vulkan driver gives wgpu one: `apt-get install mesa-vulkan-drivers`)"
    )]
    NoDevice {
        /// The backend.
        name: String,
    },
}

/// The backend used when none is named: the fastest CPU backend compiled in.
pub const DEFAULT_BACKEND: &str = if cfg!(feature = "flex") {
    "flex"
} else if cfg!(feature = "ndarray") {
    "ndarray"
} else {
    "wgpu"
};

/// Every backend name the zoo knows, compiled in or not.
pub const BACKEND_NAMES: [&str; 6] = ["flex", "ndarray", "wgpu", "vulkan", "metal", "cuda"];

/// The backends compiled into this build.
pub fn compiled_backends() -> Vec<&'static str> {
    let on = [
        cfg!(feature = "flex"),
        cfg!(feature = "ndarray"),
        cfg!(feature = "wgpu"),
        cfg!(feature = "vulkan"),
        cfg!(feature = "metal"),
        cfg!(feature = "cuda"),
    ];
    BACKEND_NAMES.iter().zip(on).filter(|(_, on)| *on).map(|(n, _)| *n).collect()
}

/// Checks that `name` is a backend compiled into this build.
///
/// ```
/// use zoo_models::backend::{BackendError, check_backend};
/// assert!(check_backend("flex").is_ok());
/// assert!(matches!(check_backend("tpu"), Err(BackendError::Unknown { .. })));
/// ```
pub fn check_backend(name: &str) -> Result<(), BackendError> {
    if compiled_backends().contains(&name) {
        return Ok(());
    }
    if let Some(url) = name.strip_prefix(REMOTE_PREFIX) {
        return check_remote(url);
    }
    let (name, compiled) = (name.to_string(), compiled_backends().join(", "));
    Err(if BACKEND_NAMES.contains(&name.as_str()) {
        BackendError::NotCompiled { name, compiled }
    } else {
        BackendError::Unknown { name, compiled }
    })
}

/// The default device of backend `name`, or one line saying why there is none: the backend is
/// unknown, not compiled in, or (GPU backends) finds no adapter on this machine.
///
/// ```
/// let device = zoo_models::backend::device("flex").unwrap();
/// assert!(zoo_models::backend::device("tpu").is_err());
/// ```
pub fn device(name: &str) -> Result<Device, BackendError> {
    check_backend(name)?;
    if let Some(url) = name.strip_prefix(REMOTE_PREFIX) {
        return remote_device(url, 0);
    }
    if !matches!(name, "flex" | "ndarray") && devices(name).is_empty() {
        return Err(BackendError::NoDevice { name: name.to_string() });
    }
    Ok(default_device(name))
}

#[allow(deprecated)] // burn-ndarray is deprecated upstream, but it is one of the compared backends
fn default_device(name: &str) -> Device {
    match name {
        #[cfg(feature = "flex")]
        "flex" => Device::flex(),
        #[cfg(feature = "ndarray")]
        "ndarray" => Device::ndarray(),
        #[cfg(feature = "wgpu")]
        "wgpu" => Device::wgpu(burn::tensor::DeviceKind::DefaultDevice),
        #[cfg(feature = "vulkan")]
        "vulkan" => Device::vulkan(burn::tensor::DeviceKind::DefaultDevice),
        #[cfg(feature = "metal")]
        "metal" => Device::metal(burn::tensor::DeviceKind::DefaultDevice),
        #[cfg(feature = "cuda")]
        "cuda" => Device::cuda(0),
        other => unreachable!("check_backend accepted `{other}`"),
    }
}

/// Every device backend `name` can see (GPU backends: one per adapter, software ones included);
/// the CPU backends have exactly one. Empty for a backend that is not compiled in.
pub fn devices(name: &str) -> Vec<Device> {
    use burn::tensor::DeviceType;
    let kind = match name {
        #[cfg(feature = "flex")]
        "flex" => DeviceType::Flex,
        #[cfg(feature = "ndarray")]
        "ndarray" => DeviceType::NdArray,
        #[cfg(feature = "wgpu")]
        "wgpu" => DeviceType::Wgpu,
        #[cfg(feature = "vulkan")]
        "vulkan" => DeviceType::Vulkan,
        #[cfg(feature = "metal")]
        "metal" => DeviceType::Metal,
        #[cfg(feature = "cuda")]
        "cuda" => DeviceType::Cuda,
        _ => return Vec::new(),
    };
    // Adapter discovery goes through the platform's drivers; a broken driver stack panics in
    // there, which for this question means "no device".
    std::panic::catch_unwind(AssertUnwindSafe(|| Device::enumerate(kind).into_vec())).unwrap_or_default()
}

/// How a backend names a remote compute server: `remote:ws://HOST:PORT`, a `zoo serve` (Burn's
/// `RemoteServer`) reached over WebSocket; its devices are the ones that server hosts.
pub const REMOTE_PREFIX: &str = "remote:";

fn check_remote(url: &str) -> Result<(), BackendError> {
    if !cfg!(feature = "remote") {
        let compiled = compiled_backends().join(", ");
        return Err(BackendError::NotCompiled { name: "remote".to_string(), compiled });
    }
    if !(url.starts_with("ws://") || url.starts_with("wss://")) || url.len() <= "ws://".len() {
        return Err(BackendError::BadDevices {
            entry: format!("{REMOTE_PREFIX}{url}"),
            reason: "a remote server is `remote:ws://HOST:PORT`".to_string(),
        });
    }
    Ok(())
}

/// The variable holding the token a `remote:` backend presents (and `zoo serve` checks).
pub const REMOTE_TOKEN_VARIABLE: &str = "ZOO_REMOTE_TOKEN";

#[cfg(feature = "remote")]
fn remote_host(url: &str) -> burn::tensor::remote::RemoteHost {
    let host = burn::tensor::remote::RemoteHost::websocket(url);
    match std::env::var(REMOTE_TOKEN_VARIABLE) {
        Ok(token) if !token.is_empty() => host.with_credential(token),
        _ => host,
    }
}

/// Device `index` of the server at `url`, connected now, so that an unreachable server is one
/// error here rather than a panic at the first tensor.
#[cfg(feature = "remote")]
fn remote_device(url: &str, index: usize) -> Result<Device, BackendError> {
    let unreachable = |reason: String| BackendError::Unreachable { url: url.to_string(), reason };
    // The client library panics on some refusals (a device the server does not host).
    let connect = || Device::remote_options(&remote_host(url)).device_index(index).init();
    match std::panic::catch_unwind(AssertUnwindSafe(connect)) {
        Ok(Ok(device)) => Ok(device),
        Ok(Err(e)) => Err(unreachable(e.to_string())),
        Err(_) => Err(unreachable(format!("it has no device {index}"))),
    }
}

#[cfg(not(feature = "remote"))]
fn remote_device(url: &str, _index: usize) -> Result<Device, BackendError> {
    check_remote(url).map(|()| unreachable!("check_remote refuses every server without the feature"))
}

/// How many devices the server at `url` hosts.
#[cfg(feature = "remote")]
fn remote_device_count(url: &str) -> Result<usize, BackendError> {
    remote_host(url)
        .devices()
        .map(|devices| devices.into_vec().len())
        .map_err(|e| BackendError::Unreachable { url: url.to_string(), reason: e.to_string() })
}

#[cfg(not(feature = "remote"))]
fn remote_device_count(url: &str) -> Result<usize, BackendError> {
    check_remote(url).map(|()| 0)
}

/// Which devices of a backend a run uses: the first N (`2`; on a CPU backend, N workers sharing
/// its one device), or a list of `BACKEND[:INDEX]` entries (`["wgpu:0", "wgpu:1"]`; a remote
/// server's device is `remote:ws://HOST:PORT#INDEX`).
///
/// ```
/// use zoo_models::backend::DeviceSelection;
/// assert_eq!(DeviceSelection::parse("2"), DeviceSelection::Count(2));
/// let list = DeviceSelection::parse("wgpu:0,wgpu:1");
/// assert_eq!(list, DeviceSelection::List(vec!["wgpu:0".into(), "wgpu:1".into()]));
/// assert_eq!(list.backend().unwrap(), Some("wgpu".to_string()));
/// assert_eq!(DeviceSelection::default().to_string(), "1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum DeviceSelection {
    /// The backend's first N devices.
    Count(usize),
    /// These devices, in this order (the first is the main one: it validates and checkpoints).
    List(Vec<String>),
}

impl Default for DeviceSelection {
    fn default() -> Self {
        Self::Count(1)
    }
}

impl std::fmt::Display for DeviceSelection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Count(n) => write!(f, "{n}"),
            Self::List(entries) => write!(f, "{}", entries.join(",")),
        }
    }
}

impl DeviceSelection {
    /// `N` or a comma-separated list, as `--devices` takes it.
    pub fn parse(text: &str) -> Self {
        match text.trim().parse() {
            Ok(n) => Self::Count(n),
            Err(_) => Self::List(text.split(',').map(|e| e.trim().to_string()).collect()),
        }
    }

    /// How many devices it names (not checked against any backend).
    pub fn len(&self) -> usize {
        match self {
            Self::Count(n) => *n,
            Self::List(entries) => entries.len(),
        }
    }

    /// Whether it names no device (a count of 0, an empty list), which no run accepts.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The backend a list names (`remote:` entries may name several servers; the first one's is
    /// returned), `None` for a count, or why the list is not one backend's devices.
    pub fn backend(&self) -> Result<Option<String>, BackendError> {
        let Self::List(entries) = self else { return Ok(None) };
        let parsed = entries.iter().map(|e| parse_entry(e)).collect::<Result<Vec<_>, _>>()?;
        let Some((first, _)) = parsed.first() else {
            return Err(BackendError::BadDevices { entry: String::new(), reason: "the list is empty".into() });
        };
        let remote = |b: &str| b.starts_with(REMOTE_PREFIX);
        if let Some((other, _)) = parsed.iter().find(|(b, _)| b != first && !(remote(b) && remote(first))) {
            return Err(BackendError::BadDevices {
                entry: self.to_string(),
                reason: format!("`{first}` and `{other}` are different backends, and one run trains on one"),
            });
        }
        Ok(Some(first.clone()))
    }

    /// Checks that it names at least one device, and a list's entries parse (without looking for
    /// the devices: [`select_devices`] does that).
    pub fn validate(&self) -> Result<(), BackendError> {
        if self.is_empty() {
            return Err(BackendError::BadDevices { entry: self.to_string(), reason: "at least 1 device".into() });
        }
        self.backend().map(|_| ())
    }
}

/// `BACKEND[:INDEX]`, or `remote:URL[#INDEX]`, as (backend, index).
fn parse_entry(entry: &str) -> Result<(String, usize), BackendError> {
    let bad = |reason: &str| BackendError::BadDevices { entry: entry.to_string(), reason: reason.to_string() };
    let (backend, index) = match entry.strip_prefix(REMOTE_PREFIX) {
        Some(url) => match url.rsplit_once('#') {
            Some((url, index)) => (format!("{REMOTE_PREFIX}{url}"), Some(index)),
            None => (entry.to_string(), None),
        },
        None => match entry.split_once(':') {
            Some((backend, index)) => (backend.to_string(), Some(index)),
            None => (entry.to_string(), None),
        },
    };
    if backend.is_empty() {
        return Err(bad("expected BACKEND[:INDEX], such as wgpu:1"));
    }
    let index = match index {
        Some(i) => i.parse().map_err(|_| bad("the index after `:` must be a number, such as wgpu:1"))?,
        None => 0,
    };
    Ok((backend, index))
}

/// The devices `selection` names on `backend`, connected (remote) or checked to exist (GPU
/// backends); one line saying why when it cannot: a count of 0, more devices than the backend
/// has, a list naming another backend or a missing index, an unreachable server.
///
/// ```
/// use zoo_models::backend::{DeviceSelection, select_devices};
/// assert_eq!(select_devices("flex", &DeviceSelection::Count(2)).unwrap().len(), 2);
/// assert!(select_devices("flex", &DeviceSelection::Count(0)).is_err());
/// assert!(select_devices("flex", &DeviceSelection::parse("flex:1")).is_err());
/// ```
pub fn select_devices(backend: &str, selection: &DeviceSelection) -> Result<Vec<Device>, BackendError> {
    selection.validate()?;
    check_backend(backend)?;
    match selection {
        DeviceSelection::Count(n) => {
            if let Some(url) = backend.strip_prefix(REMOTE_PREFIX) {
                let found = remote_device_count(url)?;
                if found < *n {
                    return Err(BackendError::TooFewDevices { name: backend.to_string(), asked: *n, found });
                }
                return (0..*n).map(|i| remote_device(url, i)).collect();
            }
            if *n == 1 {
                // What every single-device command uses (a GPU backend's default adapter).
                return Ok(vec![device(backend)?]);
            }
            if matches!(backend, "flex" | "ndarray") {
                // One device, several workers: burn-train runs one thread per listed device.
                return Ok(vec![device(backend)?; *n]);
            }
            let all = devices(backend);
            if all.len() < *n {
                return Err(BackendError::TooFewDevices { name: backend.to_string(), asked: *n, found: all.len() });
            }
            Ok(all.into_iter().take(*n).collect())
        }
        DeviceSelection::List(entries) => entries
            .iter()
            .map(|entry| {
                let (name, index) = parse_entry(entry)?;
                let remote = name.starts_with(REMOTE_PREFIX) && backend.starts_with(REMOTE_PREFIX);
                if name != backend && !remote {
                    return Err(BackendError::BadDevices {
                        entry: entry.clone(),
                        reason: format!("the run's backend is `{backend}`"),
                    });
                }
                if let Some(url) = name.strip_prefix(REMOTE_PREFIX) {
                    check_remote(url)?;
                    return remote_device(url, index);
                }
                if matches!(backend, "flex" | "ndarray") {
                    if index != 0 {
                        return Err(BackendError::BadDevices {
                            entry: entry.clone(),
                            reason: format!("`{backend}` has one device, {backend}:0 (list it twice for two workers)"),
                        });
                    }
                    return device(backend);
                }
                let all = devices(backend);
                all.get(index).cloned().ok_or_else(|| BackendError::TooFewDevices {
                    name: backend.to_string(),
                    asked: index + 1,
                    found: all.len(),
                })
            })
            .collect(),
    }
}

/// A device's name as its backend reports it (the adapter for GPU backends, e.g.
/// `llvmpipe (LLVM 15.0.6, 256 bits)`), when it reports one.
pub fn device_identity(device: &Device) -> Option<String> {
    #[cfg(any(feature = "wgpu", feature = "cuda"))]
    {
        std::panic::catch_unwind(AssertUnwindSafe(|| device.identity().map(|id| id.name))).ok().flatten()
    }
    #[cfg(not(any(feature = "wgpu", feature = "cuda")))]
    {
        let _ = device;
        None
    }
}

/// A device in words: `cpu (N threads)` for the CPU backends, the adapter's name for GPU ones
/// (when the backend reports one).
pub fn device_name(backend: &str, device: &Device) -> Option<String> {
    match backend {
        "flex" | "ndarray" => Some(format!("cpu ({} threads)", cpu_threads())),
        _ => device_identity(device),
    }
}

/// Threads the CPU backends compute with: rayon's global pool, one per logical core unless
/// `RAYON_NUM_THREADS` says otherwise.
pub fn cpu_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
}

/// One backend as `zoo backends` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BackendInfo {
    /// `flex`, `ndarray`, `wgpu`, ...
    pub name: &'static str,
    /// Whether this build has it.
    pub compiled: bool,
    /// Whether it is the backend used when none is named.
    pub default: bool,
    /// The devices it can see, by name.
    pub devices: Vec<String>,
}

/// Every backend the zoo knows, with the devices of those compiled in; the last is `remote`,
/// whose devices are a `zoo serve`'s (listed by that server, not here).
///
/// ```
/// let backends = zoo_models::backend::backends();
/// let flex = backends.iter().find(|b| b.name == "flex").unwrap();
/// assert!(flex.compiled && flex.devices.len() == 1);
/// ```
pub fn backends() -> Vec<BackendInfo> {
    let compiled = compiled_backends();
    BACKEND_NAMES
        .iter()
        .map(|&name| {
            let devices = if compiled.contains(&name) { devices(name) } else { Vec::new() };
            BackendInfo {
                name,
                compiled: compiled.contains(&name),
                default: name == DEFAULT_BACKEND,
                devices: devices
                    .iter()
                    .enumerate()
                    .map(|(i, d)| device_name(name, d).unwrap_or_else(|| format!("device {i}")))
                    .collect(),
            }
        })
        .chain([BackendInfo {
            name: "remote",
            compiled: cfg!(feature = "remote"),
            default: false,
            devices: Vec::new(),
        }])
        .collect()
}
