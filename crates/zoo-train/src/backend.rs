//! Backend names (`flex`, `ndarray`, `wgpu`, ...) to Burn devices.

use burn::tensor::Device;

use crate::error::TrainError;

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
pub fn check_backend(name: &str) -> Result<(), TrainError> {
    if compiled_backends().contains(&name) {
        return Ok(());
    }
    let compiled = compiled_backends().join(", ");
    Err(TrainError::Config(if BACKEND_NAMES.contains(&name) {
        format!("backend `{name}` is not compiled into this build (compiled: {compiled}; rebuild with `--features {name}`)")
    } else {
        format!("unknown backend `{name}` (compiled: {compiled})")
    }))
}

/// The default device of backend `name`.
///
/// ```
/// let device = zoo_train::device("flex").unwrap();
/// assert!(zoo_train::device("tpu").is_err());
/// ```
#[allow(deprecated)] // burn-ndarray is deprecated upstream, but it is one of the compared backends
pub fn device(name: &str) -> Result<Device, TrainError> {
    check_backend(name)?;
    Ok(match name {
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
    })
}
