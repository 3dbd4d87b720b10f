//! What each reader of a user's file promises, as functions of the file's bytes: the bodies of
//! the fuzz targets in `fuzz/` (cargo-fuzz, libFuzzer), and of the test that replays their
//! corpora on stable (`tests/replay.rs`).
//!
//! Every target asserts, for any input:
//! - the reader returns, `Ok` or `Err`, without panicking;
//! - it allocates no more than a bound that grows with the input's size ([`Bounded`] counts),
//!   so a 20-byte file cannot ask for gigabytes;
//! - an error names the file it read.
//!
//! ```
//! zoo_fuzz::idx(b"not an idx file");
//! zoo_fuzz::npy(b"\x93NUMPY\x01\x00\x10\x00{'shape': (9999999999,)}");
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use zoo_data::{CifarDataset, CifarKind, IdxDataset, IdxKind, Split};

/// A fuzz target's body: reads the input, asserting what the reader promises.
pub type Target = fn(&[u8]);

/// The readers, by the name of their fuzz target and corpus directory.
pub const TARGETS: [(&str, Target); 8] = [
    ("idx", idx),
    ("idx_gz", idx_gz),
    ("cifar", cifar),
    ("image", image),
    ("npy", npy),
    ("weights", weights),
    ("recipe", recipe),
    ("run_config", run_config),
];

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// The largest single allocation allowed; larger ones fail (and abort the process), which
/// libFuzzer reports as a crash with the input that asked.
static LIMIT: AtomicUsize = AtomicUsize::new(usize::MAX);

/// A global allocator that counts live bytes and their peak, and refuses any allocation above
/// the limit a target sets: install it with `#[global_allocator]` in the fuzz targets and in the
/// replay test.
pub struct Bounded;

unsafe impl GlobalAlloc for Bounded {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // A panic's message and backtrace are not the reader's: they may allocate freely.
        if layout.size() > LIMIT.load(Ordering::Relaxed) && !std::thread::panicking() {
            return std::ptr::null_mut();
        }
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

/// Runs `read` under an allocation bound of `per_byte` times the input's length plus `fixed`
/// bytes: no single allocation may exceed it, nor the peak of live bytes during the call (when
/// the [`Bounded`] allocator is installed; without it the bound is not checked).
pub fn check_bound<T>(input: &[u8], per_byte: usize, fixed: usize, read: impl FnOnce() -> T) -> T {
    let bound = input.len().saturating_mul(per_byte).saturating_add(fixed);
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    LIMIT.store(bound, Ordering::Relaxed);
    let out = read();
    LIMIT.store(usize::MAX, Ordering::Relaxed);
    let used = PEAK.load(Ordering::Relaxed).saturating_sub(before);
    assert!(used <= bound, "{used} bytes allocated for a {}-byte input (bound {bound})", input.len());
    out
}

const MIB: usize = 1 << 20;

/// A scratch file holding `bytes`, named `name` (the readers decide by name and extension).
fn scratch(name: &str, bytes: &[u8]) -> (PathBuf, Scratch) {
    let dir = std::env::temp_dir().join(format!("zoo-fuzz-{}-{:?}", std::process::id(), std::thread::current().id()));
    std::fs::create_dir_all(&dir).expect("the temporary directory is writable");
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("the temporary directory is writable");
    (path, Scratch(dir))
}

/// Removes the scratch directory when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn assert_names(error: &dyn std::fmt::Display, path: &Path) {
    let message = error.to_string();
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    assert!(message.contains(name), "the error does not name {name}: {message}");
}

/// IDX images and labels parsed from raw bytes.
pub fn idx(data: &[u8]) {
    let path = Path::new("fuzz-images-idx3-ubyte");
    if let Err(e) = check_bound(data, 2, MIB, || zoo_data::parse_idx_images(data, path)) {
        assert_names(&e, path);
    }
    if let Err(e) = check_bound(data, 2, MIB, || zoo_data::parse_idx_labels(data, path, 10)) {
        assert_names(&e, path);
    }
}

/// An MNIST directory whose images file is `data`, gzip-compressed or not: the reader
/// decompresses (a deflate stream expands at most about 1032 times).
pub fn idx_gz(data: &[u8]) {
    let gz = data.starts_with(&[0x1f, 0x8b]);
    let name = if gz { "t10k-images-idx3-ubyte.gz" } else { "t10k-images-idx3-ubyte" };
    let (path, scratch) = scratch(name, data);
    std::fs::write(scratch.0.join("t10k-labels-idx1-ubyte"), [0, 0, 8, 1, 0, 0, 0, 0]).expect("writable");
    if let Err(e) = check_bound(data, 2200, 4 * MIB, || IdxDataset::open(&scratch.0, IdxKind::Mnist, Split::Test)) {
        let message = e.to_string();
        assert!(message.contains("idx"), "the error names no file: {message} ({})", path.display());
    }
}

/// CIFAR-10 and CIFAR-100 batches.
pub fn cifar(data: &[u8]) {
    let path = Path::new("fuzz_batch.bin");
    for kind in [CifarKind::Cifar10, CifarKind::Cifar100Fine] {
        if let Err(e) = check_bound(data, 3, MIB, || CifarDataset::from_bytes(data, kind, Split::Test, path)) {
            assert_names(&e, path);
        }
    }
}

/// An image file of an image folder (PNG, JPEG, BMP), as grey and as RGB.
pub fn image(data: &[u8]) {
    let path = Path::new("fuzz.png");
    for channels in [1, 3] {
        // The decoder may expand compressed pixels (deflate: ~1032x), then to f32 planes.
        if let Err(e) = check_bound(data, 16 * 1100, 512 * MIB, || zoo_data::decode_image(data, channels, path)) {
            assert_names(&e, path);
        }
    }
}

/// A `.npy` batch for `zoo infer`.
pub fn npy(data: &[u8]) {
    let (path, _scratch) = scratch("input.npy", data);
    if let Err(e) = check_bound(data, 3, MIB, || zoo_data::npy::read_f32(&path)) {
        assert_names(&e, &path);
    }
}

/// A weights file, detected by content, loaded into LeNet-5 as each format the zoo reads
/// (a file named by its extension goes to that loader whatever its content).
pub fn weights(data: &[u8]) {
    use zoo_models::weights::{LoadOptions, WeightsFormat};
    let device = burn_device();
    for name in ["weights.pth", "weights.safetensors", "weights.bpk"] {
        let (path, _scratch) = scratch(name, data);
        if let Err(e) = WeightsFormat::detect(&path) {
            assert_names(&e, &path);
        }
        let mut model =
            zoo_models::create("lenet5", &Default::default(), &device).expect("LeNet-5 builds with its defaults");
        let options = LoadOptions::default().with_allow_partial(true);
        if let Err(e) = check_bound(data, 16, 64 * MIB, || zoo_models::weights::load(&mut model, &path, &options)) {
            assert_names(&e, &path);
        }
    }
}

fn burn_device() -> burn::tensor::Device {
    zoo_models::backend::device(zoo_models::backend::DEFAULT_BACKEND).expect("the default backend has a device")
}

/// A recipe given as `--recipe FILE`.
pub fn recipe(data: &[u8]) {
    let (path, _scratch) = scratch("recipe.json", data);
    let path_text = path.display().to_string();
    let parsed = check_bound(data, 64, MIB, || {
        zoo_train::config::load_recipe_json(Some(&path_text), None)
            .and_then(|json| zoo_train::config::parse_config(&json, &path_text))
    });
    if let Err(e) = parsed {
        assert_names(&e, &path);
    }
}

/// The `config.json` of a run directory given to `--resume`.
pub fn run_config(data: &[u8]) {
    let (path, scratch) = scratch("config.json", data);
    let run = zoo_train::run::RunDir { root: scratch.0.clone() };
    if let Err(e) = check_bound(data, 64, MIB, || run.read_config()) {
        assert_names(&e, &path);
    }
}
