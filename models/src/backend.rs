//! Backend names (`flex`, `ndarray`, `wgpu`, ...) to Burn devices: what `--backend` accepts in
//! every `zoo` command, and what a program that names its backend at run time needs.

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
    std::panic::catch_unwind(|| Device::enumerate(kind).into_vec()).unwrap_or_default()
}

/// A device's name as its backend reports it (the adapter for GPU backends, e.g.
/// `llvmpipe (LLVM 15.0.6, 256 bits)`), when it reports one.
pub fn device_identity(device: &Device) -> Option<String> {
    #[cfg(any(feature = "wgpu", feature = "cuda"))]
    {
        std::panic::catch_unwind(|| device.identity().map(|id| id.name)).ok().flatten()
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

/// Every backend the zoo knows, with the devices of those compiled in.
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
        .collect()
}
