//! Which implementation the entry points use on flex: the zoo's kernels (the default) or Burn's
//! own ops, so both can be timed in one run and a suspected kernel bug can be ruled out.

use std::sync::atomic::{AtomicU8, Ordering};

/// The two implementations of the convolution and BatchNorm entry points on flex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kernels {
    /// This crate's kernels (on flex; Burn's ops on every other device).
    Zoo,
    /// Burn's own ops everywhere.
    Burn,
}

/// The environment variable that picks the implementation: `zoo` or `burn`.
pub const ENV_VAR: &str = "ZOO_KERNELS";

const UNSET: u8 = 0;
static CHOICE: AtomicU8 = AtomicU8::new(UNSET);

/// A kernel implementation name that is neither `zoo` nor `burn`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KernelsError {
    /// The name given.
    #[error("`{0}` is not a kernel implementation (zoo, burn)")]
    Unknown(String),
    /// `ZOO_KERNELS` holds such a name.
    #[error("ZOO_KERNELS: {0}")]
    Env(#[source] Box<KernelsError>),
}

impl Kernels {
    /// `zoo` or `burn`.
    pub fn name(self) -> &'static str {
        match self {
            Kernels::Zoo => "zoo",
            Kernels::Burn => "burn",
        }
    }

    /// Parses `zoo` or `burn`.
    ///
    /// ```
    /// use zoo_kernels::Kernels;
    /// assert_eq!(Kernels::parse("burn").unwrap(), Kernels::Burn);
    /// assert!(Kernels::parse("fast").is_err());
    /// ```
    pub fn parse(name: &str) -> Result<Self, KernelsError> {
        match name {
            "zoo" => Ok(Kernels::Zoo),
            "burn" => Ok(Kernels::Burn),
            other => Err(KernelsError::Unknown(other.to_string())),
        }
    }

    /// What `ZOO_KERNELS` asks for: `Ok(None)` when it is unset.
    pub fn from_env() -> Result<Option<Self>, KernelsError> {
        match std::env::var(ENV_VAR) {
            Ok(value) => Kernels::parse(value.trim()).map(Some).map_err(|e| KernelsError::Env(Box::new(e))),
            Err(_) => Ok(None),
        }
    }

    fn code(self) -> u8 {
        match self {
            Kernels::Zoo => 1,
            Kernels::Burn => 2,
        }
    }
}

/// The implementation in use: the last [`set_kernels`], else `ZOO_KERNELS`, else
/// [`Kernels::Zoo`] (an unreadable `ZOO_KERNELS` also means the default; the `zoo` command
/// line reports it as an error before running anything).
pub fn kernels() -> Kernels {
    match CHOICE.load(Ordering::Relaxed) {
        1 => Kernels::Zoo,
        2 => Kernels::Burn,
        _ => {
            let chosen = Kernels::from_env().ok().flatten().unwrap_or(Kernels::Zoo);
            // Keep a choice made meanwhile by set_kernels.
            let _ = CHOICE.compare_exchange(UNSET, chosen.code(), Ordering::Relaxed, Ordering::Relaxed);
            kernels()
        }
    }
}

/// Chooses the implementation for every later call, in every thread.
///
/// ```
/// use zoo_kernels::{kernels, set_kernels, Kernels};
/// set_kernels(Kernels::Burn);
/// assert_eq!(kernels(), Kernels::Burn);
/// set_kernels(Kernels::Zoo);
/// ```
pub fn set_kernels(choice: Kernels) {
    CHOICE.store(choice.code(), Ordering::Relaxed);
}

thread_local! {
    static GUIDED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `forward` with every ReLU of the zoo's entry points ([`crate::relu`] and the ReLUs fused
/// into [`crate::batch_norm`] and [`crate::conv_batch_norm`]) recorded as guided ReLUs on flex:
/// a later backward pass through the graph built here is guided backpropagation (Springenberg
/// et al. 2015), which passes a gradient only where both a ReLU's input and the gradient are
/// positive. The forward values do not change. On other devices the ReLUs stay plain. The mode
/// belongs to the calling thread, where models build their graph.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// let x = Tensor::<1>::from_floats([1.0, 2.0, -1.0], &Device::flex().autodiff()).require_grad();
/// // d/dx of sum(relu(x) * [1, -1, 1]): plain [1, -1, 0]; guided [1, 0, 0].
/// let weights = Tensor::<1>::from_floats([1.0, -1.0, 1.0], &x.device());
/// let y = zoo_kernels::guided_relus(|| zoo_kernels::relu(x.clone()));
/// let grads = (y * weights).sum().backward();
/// let dx = x.grad(&grads).unwrap().into_data().to_vec::<f32>().unwrap();
/// assert_eq!(dx, vec![1.0, 0.0, 0.0]);
/// ```
pub fn guided_relus<R>(forward: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            GUIDED.with(|g| g.set(self.0));
        }
    }
    let _restore = Restore(GUIDED.with(|g| g.replace(true)));
    forward()
}

/// Whether [`guided_relus`] is in effect on this thread.
pub fn relus_guided() -> bool {
    GUIDED.with(|g| g.get())
}
