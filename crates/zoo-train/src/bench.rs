//! Throughput benchmarks of the zoo's models on Burn's backends (`zoo bench`), in the spirit of
//! timm's `benchmark.py`, and the comparison with `bench/pytorch_baseline.py`, which writes the
//! same JSON schema.
//!
//! Each case is one model × backend × batch size × mode (× kernel implementation on flex: the
//! zoo's own or Burn's, see [`zoo_kernels::Kernels`]). Inference times the forward pass of a
//! model built on the plain device; training times, separately, the forward pass with the loss,
//! the backward pass and the optimizer step (SGD with momentum 0.9, as the PyTorch script does).
//! Every timed phase ends with `device.sync()`, so asynchronous backends (wgpu) are timed to
//! completion. Figures are medians over `iters` iterations after `warmup` untimed ones.
//!
//! ```no_run
//! use zoo_train::bench::{BenchMode, BenchPlan, run_bench};
//! let plan = BenchPlan {
//!     models: vec!["lenet5".into()],
//!     backends: vec!["flex".into()],
//!     batch_sizes: vec![1, 128],
//!     modes: vec![BenchMode::Infer, BenchMode::Train],
//!     input: None,
//!     fuse_bn: false,
//!     kernels: vec![],
//!     warmup: 5,
//!     iters: 20,
//! };
//! let report = run_bench(&plan, &mut |_event| {});
//! println!("{}", zoo_train::bench::render_table(&report, None));
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{IsTerminal, Write};
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use burn::optim::GradientsParams;
use burn::tensor::{Device, Distribution, Int, Tensor};
use serde::{Deserialize, Serialize};
use zoo_kernels::Kernels;
use zoo_models::summary::{format_significant, render_table as render_rows};
use zoo_models::{ImageClassifier, ModelOptions};

use crate::config::OptimizerConfig;
use crate::error::TrainError;
use crate::progress::format_duration;

/// Identifies the JSON files `zoo bench` and `bench/pytorch_baseline.py` write.
pub const SCHEMA: &str = "burn-zoo-bench/1";

// ---------------------------------------------------------------------------------------------
// Peak host memory

static HEAP_CURRENT: AtomicUsize = AtomicUsize::new(0);
static HEAP_PEAK: AtomicUsize = AtomicUsize::new(0);

/// A global allocator that counts live heap bytes and their peak, so that `zoo bench` can report
/// the peak memory of the CPU backends (whose tensors live on the heap). A program opts in with
/// `#[global_allocator]`; without it, peak memory on CPU backends is reported as unknown.
///
/// ```
/// #[global_allocator]
/// static ALLOCATOR: zoo_train::bench::PeakAlloc = zoo_train::bench::PeakAlloc;
/// ```
pub struct PeakAlloc;

impl PeakAlloc {
    fn grew(bytes: usize) {
        let now = HEAP_CURRENT.fetch_add(bytes, Ordering::Relaxed) + bytes;
        HEAP_PEAK.fetch_max(now, Ordering::Relaxed);
    }

    fn shrank(bytes: usize) {
        HEAP_CURRENT.fetch_sub(bytes, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded to `System` unchanged; the counters only observe sizes.
unsafe impl GlobalAlloc for PeakAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            Self::grew(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            Self::grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        Self::shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            if new_size >= layout.size() {
                Self::grew(new_size - layout.size());
            } else {
                Self::shrank(layout.size() - new_size);
            }
        }
        new
    }
}

/// Starts a peak-memory window: returns the live heap bytes now, or `None` when [`PeakAlloc`]
/// is not the global allocator.
fn heap_window_start() -> Option<usize> {
    let now = HEAP_CURRENT.load(Ordering::Relaxed);
    // Any program has allocated by the time it benchmarks, so zero means "not counting".
    (now > 0).then(|| {
        HEAP_PEAK.store(now, Ordering::Relaxed);
        now
    })
}

/// Runs `f` and returns its result with the peak of live heap bytes while it ran, above what was
/// live when it started: `None` unless [`PeakAlloc`] is the global allocator. Allocations of
/// other threads in the meantime count too.
///
/// ```
/// let (buffer, peak) = zoo_train::bench::peak_heap_during(|| vec![0u8; 1 << 20]);
/// assert_eq!(buffer.len(), 1 << 20);
/// assert_eq!(peak, None); // this doctest does not install PeakAlloc
/// ```
pub fn peak_heap_during<R>(f: impl FnOnce() -> R) -> (R, Option<usize>) {
    let before = heap_window_start();
    let out = f();
    (out, before.map(heap_peak_since))
}

/// The peak of live heap bytes since [`heap_window_start`] returned `before`, above `before`.
fn heap_peak_since(before: usize) -> usize {
    HEAP_PEAK.load(Ordering::Relaxed).saturating_sub(before)
}

// ---------------------------------------------------------------------------------------------
// Plan, rows, report

/// What a case measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BenchMode {
    /// The forward pass of a model in inference mode.
    Infer,
    /// One training iteration: forward with loss, backward, optimizer step.
    Train,
}

impl BenchMode {
    /// `infer` or `train`.
    pub fn name(self) -> &'static str {
        match self {
            BenchMode::Infer => "infer",
            BenchMode::Train => "train",
        }
    }

    /// Floating-point operations per multiply-accumulate of the forward pass: 2 for inference,
    /// 6 for training (the backward pass costs about twice the forward), timm's convention.
    fn flops_per_mac(self) -> f64 {
        match self {
            BenchMode::Infer => 2.0,
            BenchMode::Train => 6.0,
        }
    }
}

/// The cases to run: every model × backend × batch size × mode.
#[derive(Debug, Clone)]
pub struct BenchPlan {
    /// Registry names.
    pub models: Vec<String>,
    /// Backend names (`flex`, `ndarray`, `wgpu`, ...).
    pub backends: Vec<String>,
    /// Batch sizes.
    pub batch_sizes: Vec<usize>,
    /// Modes.
    pub modes: Vec<BenchMode>,
    /// Input shape of one image; `None` for each model's own.
    pub input: Option<[usize; 3]>,
    /// Inference only: fold each BatchNorm into the convolution before it first
    /// ([`zoo_models::fuse::fuse_batch_norm`]).
    pub fuse_bn: bool,
    /// On flex, the convolution and BatchNorm implementations to time, each case once per entry
    /// and back to back (the zoo's kernels, Burn's ops); empty for the one in use. Other
    /// backends always use Burn's ops and run once.
    pub kernels: Vec<Kernels>,
    /// Untimed iterations before the timed ones.
    pub warmup: usize,
    /// Timed iterations; the figures are their medians.
    pub iters: usize,
}

impl BenchPlan {
    /// Number of cases.
    pub fn len(&self) -> usize {
        let per_backend: usize = self.backends.iter().map(|b| self.kernel_variants(b).len()).sum();
        self.models.len() * per_backend * self.batch_sizes.len() * self.modes.len()
    }

    /// The kernel implementations a backend's cases run with: `None` where there is no choice.
    pub fn kernel_variants(&self, backend: &str) -> Vec<Option<Kernels>> {
        match backend {
            "flex" if self.kernels.is_empty() => vec![Some(zoo_kernels::kernels())],
            "flex" => self.kernels.iter().copied().map(Some).collect(),
            _ => vec![None],
        }
    }

    /// Whether the plan has no case.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One measured case. Times are medians in milliseconds; a case that failed has `error` set and
/// no figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchRow {
    /// Registry name.
    pub model: String,
    /// Backend name (`flex`, `wgpu`, `pytorch-cpu`, ...).
    pub backend: String,
    /// On flex, whose convolution and BatchNorm ran: `zoo` or `burn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernels: Option<String>,
    /// The device, in words.
    pub device: String,
    /// `infer` or `train`.
    pub mode: BenchMode,
    /// Images per step.
    pub batch_size: usize,
    /// Shape of one image, `[C, H, W]`.
    pub input: [usize; 3],
    /// Trainable parameters.
    pub params: usize,
    /// Forward multiply-accumulates per image, in billions (convolutions and linear layers).
    pub gmacs: f64,
    /// Images per second.
    pub samples_per_s: Option<f64>,
    /// Milliseconds per step (training: forward + backward + optimizer step).
    pub ms_per_step: Option<f64>,
    /// Forward pass (training: with the loss).
    pub forward_ms: Option<f64>,
    /// Backward pass (training only).
    pub backward_ms: Option<f64>,
    /// Optimizer step (training only).
    pub step_ms: Option<f64>,
    /// Achieved GFLOP/s: `2 × MACs` per image for inference, `6 × MACs` for training.
    pub gflops: Option<f64>,
    /// Peak memory of the case in MiB, above what was live before it started.
    pub peak_memory_mb: Option<f64>,
    /// What `peak_memory_mb` measures: `heap` (host allocations, CPU backends) or
    /// `device-reserved` (the device allocator's reservation, GPU backends).
    #[serde(default)]
    pub memory: Option<String>,
    /// Why the case has no figures.
    pub error: Option<String>,
}

impl BenchRow {
    /// The backend, with the kernel implementation on flex: `flex/zoo`, `flex/burn`, `wgpu`.
    pub fn backend_label(&self) -> String {
        match &self.kernels {
            Some(kernels) => format!("{}/{kernels}", self.backend),
            None => self.backend.clone(),
        }
    }
}

/// The machine a report was measured on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// CPU model name.
    pub cpu: String,
    /// Logical cores.
    pub cores: usize,
    /// Threads the framework computes with.
    pub threads: usize,
    /// Operating system.
    pub os: String,
    /// GPU name, when one was used.
    pub gpu: Option<String>,
}

/// Iteration counts of a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSettings {
    /// Untimed iterations per case.
    pub warmup: usize,
    /// Timed iterations per case.
    pub iters: usize,
}

/// A whole benchmark run: `zoo bench --format json`, or `bench/pytorch_baseline.py --out`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchReport {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// `burn` or `pytorch`.
    pub framework: String,
    /// Version of that framework.
    pub framework_version: String,
    /// Where it ran.
    pub machine: Machine,
    /// Iteration counts.
    pub settings: RunSettings,
    /// Start time, ISO 8601 UTC.
    pub started: String,
    /// One row per case, in plan order.
    pub rows: Vec<BenchRow>,
}

impl BenchReport {
    /// The per-case medians of several runs of the same plan (repeats alternated with another
    /// framework's, on a machine whose speed drifts): every figure is the median of its values
    /// over the runs, peak memory the largest. Cases are matched by model, backend, kernels,
    /// mode and batch size; a case missing from a run, or failed in every run, keeps its error.
    pub fn median_of(reports: &[BenchReport]) -> Result<BenchReport, String> {
        let first = reports.first().ok_or("no report to take medians of")?;
        let key = |r: &BenchRow| (r.model.clone(), r.backend.clone(), r.kernels.clone(), r.mode, r.batch_size);
        let mut rows = Vec::with_capacity(first.rows.len());
        for row in &first.rows {
            let runs: Vec<&BenchRow> =
                reports.iter().filter_map(|r| r.rows.iter().find(|other| key(other) == key(row))).collect();
            if runs.len() != reports.len() {
                return Err(format!(
                    "{} · {} · {} · b{} is not in every report",
                    row.model,
                    row.backend_label(),
                    row.mode.name(),
                    row.batch_size
                ));
            }
            let ok: Vec<&BenchRow> = runs.iter().copied().filter(|r| r.error.is_none()).collect();
            let Some(base) = ok.first() else {
                rows.push(row.clone());
                continue;
            };
            let median_of = |figure: fn(&BenchRow) -> Option<f64>| {
                let mut values: Vec<f64> = ok.iter().filter_map(|r| figure(r)).collect();
                (!values.is_empty()).then(|| median(&mut values))
            };
            rows.push(BenchRow {
                samples_per_s: median_of(|r| r.samples_per_s),
                ms_per_step: median_of(|r| r.ms_per_step),
                forward_ms: median_of(|r| r.forward_ms),
                backward_ms: median_of(|r| r.backward_ms),
                step_ms: median_of(|r| r.step_ms),
                gflops: median_of(|r| r.gflops),
                peak_memory_mb: ok.iter().filter_map(|r| r.peak_memory_mb).reduce(f64::max),
                ..(*base).clone()
            });
        }
        Ok(BenchReport { rows, ..first.clone() })
    }

    /// Reads a report (for `--compare`), with one-line errors naming the file.
    pub fn load(path: &Path) -> Result<Self, TrainError> {
        let text = std::fs::read_to_string(path).map_err(|e| TrainError::file(path, e))?;
        let report: BenchReport =
            serde_json::from_str(&text).map_err(|e| TrainError::file(path, format!("not a benchmark report: {e}")))?;
        if report.schema != SCHEMA {
            return Err(TrainError::file(path, format!("schema `{}` is not `{SCHEMA}`", report.schema)));
        }
        Ok(report)
    }
}

/// Progress of [`run_bench`].
#[derive(Debug)]
pub enum BenchEvent<'a> {
    /// A case is about to run; `index` counts from 0 out of `total`.
    Start {
        /// Position of the case.
        index: usize,
        /// Number of cases.
        total: usize,
        /// `model · backend · mode · bN`.
        label: String,
    },
    /// A case finished (possibly with an error).
    Done {
        /// Position of the case.
        index: usize,
        /// Number of cases.
        total: usize,
        /// Its row.
        row: &'a BenchRow,
    },
}

// ---------------------------------------------------------------------------------------------
// Running

/// Runs every case of `plan`, in order (model, backend, mode, batch size). A case that fails —
/// a backend without a device, an input too small for the model, a panic inside a kernel, running
/// out of memory — is reported in its row and the run goes on.
pub fn run_bench(plan: &BenchPlan, on_event: &mut dyn FnMut(BenchEvent)) -> BenchReport {
    let started = crate::run::utc_now();
    let total = plan.len();
    let mut rows = Vec::with_capacity(total);
    for model in &plan.models {
        for backend in &plan.backends {
            for &mode in &plan.modes {
                for &batch_size in &plan.batch_sizes {
                    // The implementations alternate case by case, so drift in the machine's
                    // speed affects both alike.
                    for variant in plan.kernel_variants(backend) {
                        let index = rows.len();
                        let shown =
                            variant.map(|k| format!("{backend}/{}", k.name())).unwrap_or_else(|| backend.clone());
                        let label = format!("{model} · {shown} · {} · b{batch_size}", mode.name());
                        on_event(BenchEvent::Start { index, total, label });
                        let previous = zoo_kernels::kernels();
                        if let Some(kernels) = variant {
                            zoo_kernels::set_kernels(kernels);
                        }
                        let mut row = run_case(model, backend, mode, batch_size, plan);
                        zoo_kernels::set_kernels(previous);
                        row.kernels = variant.map(|k| k.name().to_string());
                        on_event(BenchEvent::Done { index, total, row: &row });
                        rows.push(row);
                    }
                }
            }
        }
    }
    let [y, mo, d, h, mi, s] = started;
    let gpu = plan
        .backends
        .iter()
        .filter(|b| !matches!(b.as_str(), "flex" | "ndarray"))
        .find_map(|b| crate::backend::device(b).ok().and_then(|d| crate::backend::device_name(b, &d)));
    BenchReport {
        schema: SCHEMA.into(),
        framework: "burn".into(),
        framework_version: burn_version().into(),
        machine: Machine {
            cpu: cpu_name(),
            cores: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            threads: crate::backend::cpu_threads(),
            os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
            gpu,
        },
        settings: RunSettings { warmup: plan.warmup, iters: plan.iters },
        started: format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z"),
        rows,
    }
}

/// The Burn version the zoo is built against.
pub fn burn_version() -> &'static str {
    "0.22.1"
}

/// Runs one case; never panics.
pub fn run_case(model: &str, backend: &str, mode: BenchMode, batch_size: usize, plan: &BenchPlan) -> BenchRow {
    let mut row = BenchRow {
        model: model.into(),
        backend: backend.into(),
        kernels: None,
        device: String::new(),
        mode,
        batch_size,
        input: plan.input.unwrap_or([0; 3]),
        params: 0,
        gmacs: 0.0,
        samples_per_s: None,
        ms_per_step: None,
        forward_ms: None,
        backward_ms: None,
        step_ms: None,
        gflops: None,
        peak_memory_mb: None,
        memory: None,
        error: None,
    };
    // Kernels report some failures (out of memory, an unsupported shape) by panicking; the
    // message goes into the row instead of the terminal.
    let previous_hook = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| measure(&mut row, plan)));
    panic::set_hook(previous_hook);
    let error = match outcome {
        Ok(Ok(())) => None,
        Ok(Err(message)) => Some(message),
        Err(payload) => Some(panic_message(payload.as_ref())),
    };
    if let Some(message) = error {
        row.error = Some(message.lines().next().unwrap_or("failed").to_string());
        for figure in [
            &mut row.samples_per_s, &mut row.ms_per_step, &mut row.forward_ms, &mut row.backward_ms, &mut row.step_ms,
            &mut row.gflops, &mut row.peak_memory_mb,
        ] {
            *figure = None;
        }
        row.memory = None;
    }
    row
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "the backend panicked".into());
    format!("panicked: {text}")
}

/// Fills `row`'s figures, or says why it cannot.
fn measure(row: &mut BenchRow, plan: &BenchPlan) -> Result<(), String> {
    if plan.iters == 0 {
        return Err("at least one timed iteration is needed".into());
    }
    let info = zoo_models::info(&row.model).map_err(|e| e.to_string())?;
    let input = plan.input.unwrap_or(info.default_input);
    row.input = input;
    let base = crate::backend::device(&row.backend).map_err(|e| e.to_string())?;
    row.device = crate::backend::device_name(&row.backend, &base).unwrap_or_else(|| row.backend.clone());
    let options = ModelOptions::default().with_in_channels(input[0]);
    let device = match row.mode {
        BenchMode::Infer => base.clone(),
        BenchMode::Train => base.clone().autodiff(),
    };
    device.seed(0);

    let heap_before = heap_window_start();
    let model = zoo_models::create(&row.model, &options, &device).map_err(|e| e.to_string())?;
    let summary = model.summary(&row.model, input).map_err(|e| e.to_string())?;
    if let (BenchMode::Train, Some(e)) = (row.mode, &summary.auxiliary_error) {
        return Err(format!("the auxiliary classifier cannot train at this input ({e})"));
    }
    row.params = summary.trainable_params;
    row.gmacs = summary.gmacs();
    let classes = summary.output_shape.last().copied().unwrap_or(1);

    let [c, h, w] = input;
    let images = Tensor::<4>::random([row.batch_size, c, h, w], Distribution::Normal(0.0, 1.0), &device);
    let sync = |device: &Device| device.sync().map_err(|e| format!("the device failed: {e}"));
    let mut device_peak = 0u64;
    let mut sample_device = |device: &Device| {
        if let Some(usage) = device.memory_pool_usage() {
            device_peak = device_peak.max(usage.bytes_reserved);
        }
    };

    let (total, phases) = match row.mode {
        BenchMode::Infer => {
            let model = if plan.fuse_bn { zoo_models::fuse::fuse_batch_norm(model) } else { model };
            let mut times = Vec::with_capacity(plan.iters);
            for i in 0..plan.warmup + plan.iters {
                let start = Instant::now();
                let logits = model.forward(images.clone());
                drop(logits);
                sync(&device)?;
                sample_device(&device);
                if i >= plan.warmup {
                    times.push(start.elapsed().as_secs_f64());
                }
            }
            (median(&mut times), None)
        }
        BenchMode::Train => {
            let labels =
                Tensor::<1, Int>::random([row.batch_size], Distribution::Uniform(0.0, classes as f64), &device);
            let mut optimizer = crate::optim::build_optimizer(&OptimizerConfig::Sgd {
                momentum: 0.9,
                dampening: 0.0,
                nesterov: false,
                weight_decay: 0.0,
                no_decay_bn_bias: false,
            });
            let mut model = model;
            let (mut fwd, mut bwd, mut opt, mut all) = (vec![], vec![], vec![], vec![]);
            for i in 0..plan.warmup + plan.iters {
                let t0 = Instant::now();
                // What training computes: auxiliary classifiers (GoogLeNet, Inception v3) included.
                let output = model.forward_train(images.clone());
                let loss = crate::classifier::training_loss(&output, &labels, None, 0.0);
                sync(&device)?;
                let t1 = Instant::now();
                let grads = loss.backward();
                sync(&device)?;
                let t2 = Instant::now();
                let grads = GradientsParams::from_grads(grads, &model);
                model = optimizer.step(0.01, model, grads);
                sync(&device)?;
                let t3 = Instant::now();
                sample_device(&device);
                if i >= plan.warmup {
                    fwd.push((t1 - t0).as_secs_f64());
                    bwd.push((t2 - t1).as_secs_f64());
                    opt.push((t3 - t2).as_secs_f64());
                    all.push((t3 - t0).as_secs_f64());
                }
            }
            drop(model);
            (median(&mut all), Some([median(&mut fwd), median(&mut bwd), median(&mut opt)]))
        }
    };

    row.ms_per_step = Some(total * 1e3);
    row.samples_per_s = Some(row.batch_size as f64 / total);
    row.gflops = Some(row.mode.flops_per_mac() * row.gmacs * row.batch_size as f64 / total);
    match phases {
        Some([f, b, s]) => {
            row.forward_ms = Some(f * 1e3);
            row.backward_ms = Some(b * 1e3);
            row.step_ms = Some(s * 1e3);
        }
        None => row.forward_ms = Some(total * 1e3),
    }
    const MIB: f64 = 1024.0 * 1024.0;
    if device_peak > 0 {
        row.peak_memory_mb = Some(device_peak as f64 / MIB);
        row.memory = Some("device-reserved".into());
    } else if let Some(before) = heap_before {
        row.peak_memory_mb = Some(heap_peak_since(before) as f64 / MIB);
        row.memory = Some("heap".into());
    }
    Ok(())
}

/// Median of `values` (0 for none).
fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 { values[mid] } else { (values[mid - 1] + values[mid]) / 2.0 }
}

/// The CPU's model name (`/proc/cpuinfo` on Linux).
pub fn cpu_name() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, name)| name.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

// ---------------------------------------------------------------------------------------------
// Comparison and output

/// Burn's figures as ratios of PyTorch's for the same model, mode and batch size: throughput
/// (Burn ÷ PyTorch samples/s, above 1 is faster) and, for training, the speed of each phase
/// (PyTorch ms ÷ Burn ms).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Ratios {
    /// Burn samples/s ÷ PyTorch samples/s.
    pub throughput: Option<f64>,
    /// PyTorch forward ms ÷ Burn forward ms.
    pub forward: Option<f64>,
    /// PyTorch backward ms ÷ Burn backward ms.
    pub backward: Option<f64>,
    /// PyTorch optimizer-step ms ÷ Burn optimizer-step ms.
    pub step: Option<f64>,
}

/// The baseline row matching `row` (same model, mode and batch size), if any.
pub fn baseline_row<'a>(row: &BenchRow, baseline: &'a BenchReport) -> Option<&'a BenchRow> {
    baseline
        .rows
        .iter()
        .find(|b| b.model == row.model && b.mode == row.mode && b.batch_size == row.batch_size && b.error.is_none())
}

/// `row` against its baseline row.
pub fn ratios(row: &BenchRow, baseline: &BenchRow) -> Ratios {
    let faster = |ours: Option<f64>, theirs: Option<f64>| match (ours, theirs) {
        (Some(o), Some(t)) if o > 0.0 => Some(t / o),
        _ => None,
    };
    Ratios {
        throughput: match (row.samples_per_s, baseline.samples_per_s) {
            (Some(o), Some(t)) if t > 0.0 => Some(o / t),
            _ => None,
        },
        forward: faster(row.forward_ms, baseline.forward_ms),
        backward: faster(row.backward_ms, baseline.backward_ms),
        step: faster(row.step_ms, baseline.step_ms),
    }
}

fn fmt(value: Option<f64>, digits: usize) -> String {
    value.map(|v| format_significant(v, digits)).unwrap_or_else(|| "-".into())
}

fn fmt_ratio(value: Option<f64>) -> String {
    // Two decimals, or two significant digits for the tiny ratios of the slow backends.
    value
        .map(|v| if v >= 0.1 { format!("{v:.2}x") } else { format!("{}x", format_significant(v, 2)) })
        .unwrap_or_else(|| "-".into())
}

/// The report as an aligned table; with a baseline, columns of ratios to PyTorch and the
/// baseline's own rows below.
pub fn render_table(report: &BenchReport, baseline: Option<&BenchReport>) -> String {
    let mut headers = vec![
        "model", "backend", "mode", "batch", "samples/s", "ms/step", "fwd ms", "bwd ms", "step ms", "GFLOP/s",
        "peak MiB",
    ];
    if baseline.is_some() {
        headers.extend(["x PyTorch", "fwd x", "bwd x", "step x"]);
    }
    headers.push("note");
    let table_row = |row: &BenchRow, with_ratios: bool| {
        let mut cells = vec![
            row.model.clone(),
            row.backend_label(),
            row.mode.name().into(),
            row.batch_size.to_string(),
            fmt(row.samples_per_s, 4),
            fmt(row.ms_per_step, 4),
            fmt(row.forward_ms, 3),
            fmt(row.backward_ms, 3),
            fmt(row.step_ms, 3),
            fmt(row.gflops, 3),
            fmt(row.peak_memory_mb, 3),
        ];
        if let Some(baseline) = baseline {
            let r = if with_ratios {
                baseline_row(row, baseline).map(|b| ratios(row, b)).unwrap_or_default()
            } else {
                Ratios::default()
            };
            cells.extend([r.throughput, r.forward, r.backward, r.step].map(fmt_ratio));
        }
        cells.push(row.error.clone().map(|e| format!("error: {e}")).unwrap_or_default());
        cells
    };
    let mut rows: Vec<Vec<String>> = report.rows.iter().map(|r| table_row(r, true)).collect();
    if let Some(baseline) = baseline {
        let wanted = |b: &&BenchRow| {
            report.rows.iter().any(|r| r.model == b.model && r.mode == b.mode && r.batch_size == b.batch_size)
        };
        rows.extend(baseline.rows.iter().filter(wanted).map(|b| table_row(b, false)));
    }
    let right: Vec<usize> = (3..headers.len() - 1).collect();
    let mut text = render_rows(&headers, &rows, &right);
    text.push_str(&format!(
        "Burn {} on {}, {} cores; medians of {} iterations after {} warm-up.\n",
        report.framework_version,
        report.machine.cpu,
        report.machine.cores,
        report.settings.iters,
        report.settings.warmup
    ));
    if let Some(b) = baseline {
        text.push_str(&format!(
            "Baseline: {} {} on {}, {} threads ({}). Ratios above 1 mean Burn is faster.\n",
            b.framework, b.framework_version, b.machine.cpu, b.machine.threads, b.started
        ));
    }
    text
}

/// The report as CSV, one line per row; with a baseline, ratio columns at the end.
pub fn to_csv(report: &BenchReport, baseline: Option<&BenchReport>) -> String {
    let mut out = String::from(
        "model,backend,device,mode,batch_size,input,params,gmacs,samples_per_s,ms_per_step,forward_ms,backward_ms,step_ms,gflops,peak_memory_mb,memory,error",
    );
    if baseline.is_some() {
        out.push_str(",ratio_throughput,ratio_forward,ratio_backward,ratio_step");
    }
    out.push('\n');
    let num = |v: Option<f64>| v.map(|v| format!("{v}")).unwrap_or_default();
    let quote = |s: &str| {
        if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
    };
    for row in &report.rows {
        let fields = [
            quote(&row.model),
            quote(&row.backend_label()),
            quote(&row.device),
            row.mode.name().into(),
            row.batch_size.to_string(),
            format!("{}x{}x{}", row.input[0], row.input[1], row.input[2]),
            row.params.to_string(),
            format!("{}", row.gmacs),
            num(row.samples_per_s),
            num(row.ms_per_step),
            num(row.forward_ms),
            num(row.backward_ms),
            num(row.step_ms),
            num(row.gflops),
            num(row.peak_memory_mb),
            row.memory.clone().unwrap_or_default(),
            quote(row.error.as_deref().unwrap_or("")),
        ];
        out.push_str(&fields.join(","));
        if let Some(baseline) = baseline {
            let r = baseline_row(row, baseline).map(|b| ratios(row, b)).unwrap_or_default();
            for v in [r.throughput, r.forward, r.backward, r.step] {
                out.push(',');
                out.push_str(&num(v));
            }
        }
        out.push('\n');
    }
    out
}

/// The report as JSON; with a baseline, each row gains a `vs_pytorch` object of [`Ratios`] and
/// the baseline report is embedded under `baseline`.
pub fn to_json(report: &BenchReport, baseline: Option<&BenchReport>) -> String {
    let mut value = serde_json::to_value(report).expect("a report serialises");
    if let Some(baseline) = baseline {
        if let Some(rows) = value.get_mut("rows").and_then(|r| r.as_array_mut()) {
            for (json, row) in rows.iter_mut().zip(&report.rows) {
                if let Some(b) = baseline_row(row, baseline) {
                    json["vs_pytorch"] = serde_json::to_value(ratios(row, b)).expect("ratios serialise");
                }
            }
        }
        value["baseline"] = serde_json::to_value(baseline).expect("a report serialises");
    }
    serde_json::to_string_pretty(&value).expect("a report serialises") + "\n"
}

/// The one-line summary printed when a run ends; `seconds` is the run's duration, `None` for a
/// report read back from files.
pub fn summary_line(report: &BenchReport, seconds: Option<f64>) -> String {
    let failed = report.rows.iter().filter(|r| r.error.is_some()).count();
    let best = report
        .rows
        .iter()
        .filter(|r| r.error.is_none())
        .max_by(|a, b| a.gflops.unwrap_or(0.0).total_cmp(&b.gflops.unwrap_or(0.0)));
    let mut line = match seconds {
        Some(seconds) => format!("{} cases in {} ({failed} failed)", report.rows.len(), format_duration(seconds)),
        None => format!("{} saved cases ({failed} failed)", report.rows.len()),
    };
    if let Some(best) = best {
        line.push_str(&format!(
            "; highest GFLOP/s: {} on {} ({} b{}, {})",
            best.model,
            best.backend_label(),
            best.mode.name(),
            best.batch_size,
            fmt(best.gflops, 3)
        ));
    }
    line
}

/// A progress bar on stderr: redrawn in place on a terminal, one line per finished case
/// otherwise (logs, CI).
pub struct ProgressBar {
    started: Instant,
    terminal: bool,
}

impl Default for ProgressBar {
    fn default() -> Self {
        Self::new()
    }
}

impl ProgressBar {
    /// A bar that starts its clock now.
    pub fn new() -> Self {
        Self { started: Instant::now(), terminal: std::io::stderr().is_terminal() }
    }

    /// Seconds since the bar was created.
    pub fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// Shows `event`.
    pub fn show(&mut self, event: &BenchEvent) {
        let mut err = std::io::stderr().lock();
        match event {
            BenchEvent::Start { index, total, label } => {
                if self.terminal {
                    let _ = write!(err, "\r\x1b[2K{} {label}", self.bar(*index, *total));
                    let _ = err.flush();
                }
            }
            BenchEvent::Done { index, total, row } => {
                let result = match &row.error {
                    Some(e) => format!("error: {e}"),
                    None => format!("{} samples/s, {} ms/step", fmt(row.samples_per_s, 4), fmt(row.ms_per_step, 4)),
                };
                let label =
                    format!("{} · {} · {} · b{}", row.model, row.backend_label(), row.mode.name(), row.batch_size);
                if self.terminal {
                    let _ = write!(err, "\r\x1b[2K{} {label}: {result}", self.bar(index + 1, *total));
                    if index + 1 == *total {
                        let _ = writeln!(err);
                    }
                    let _ = err.flush();
                } else {
                    let _ = writeln!(err, "{} {label}: {result}", self.bar(index + 1, *total));
                }
            }
        }
    }

    /// `[#####.....] 5/10 0:12 elapsed, ETA 0:12`.
    fn bar(&self, done: usize, total: usize) -> String {
        const WIDTH: usize = 24;
        let filled = (done * WIDTH).checked_div(total).unwrap_or(WIDTH);
        let elapsed = self.elapsed();
        let eta = if done > 0 && done < total {
            format!(", ETA {}", format_duration(elapsed / done as f64 * (total - done) as f64))
        } else {
            String::new()
        };
        let rate = if elapsed > 0.0 && done > 0 { done as f64 / elapsed * 60.0 } else { 0.0 };
        format!(
            "[{}{}] {done}/{total} {} elapsed, {rate:.1} cases/min{eta}",
            "#".repeat(filled),
            ".".repeat(WIDTH - filled),
            format_duration(elapsed)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(models: &[&str], backends: &[&str], modes: &[BenchMode]) -> BenchPlan {
        BenchPlan {
            models: models.iter().map(|s| s.to_string()).collect(),
            backends: backends.iter().map(|s| s.to_string()).collect(),
            batch_sizes: vec![2],
            modes: modes.to_vec(),
            input: None,
            fuse_bn: false,
            kernels: vec![],
            warmup: 1,
            iters: 2,
        }
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&mut []), 0.0);
    }

    #[test]
    fn lenet5_cases_have_consistent_figures() {
        let report = run_bench(&plan(&["lenet5"], &["flex"], &[BenchMode::Infer, BenchMode::Train]), &mut |_| {});
        assert_eq!(report.rows.len(), 2);
        for row in &report.rows {
            assert!(row.error.is_none(), "{row:?}");
            assert_eq!(row.params, 61_706);
            assert_eq!(row.input, [1, 32, 32]);
            let ms = row.ms_per_step.unwrap();
            assert!((row.samples_per_s.unwrap() - 2.0 / (ms / 1e3)).abs() / row.samples_per_s.unwrap() < 1e-9);
            let flops = row.mode.flops_per_mac() * row.gmacs * 2.0 / (ms / 1e3);
            assert!((row.gflops.unwrap() - flops).abs() <= 1e-9 * flops);
        }
        let train = &report.rows[1];
        // The median of sums is not the sum of medians, but both describe the same iterations.
        let parts = train.forward_ms.unwrap() + train.backward_ms.unwrap() + train.step_ms.unwrap();
        assert!(parts > 0.0 && train.backward_ms.unwrap() > 0.0);
    }

    #[test]
    fn failures_are_rows_and_the_run_goes_on() {
        let mut p = plan(&["lenet5", "resnet20"], &["tpu", "flex"], &[BenchMode::Infer]);
        p.input = Some([1, 4, 4]); // too small for LeNet-5's two 5x5 convolutions
        let mut events = 0;
        let report = run_bench(&p, &mut |_| events += 1);
        assert_eq!(events, 8);
        let errors: Vec<_> =
            report.rows.iter().map(|r| (r.model.as_str(), r.backend.as_str(), r.error.clone())).collect();
        assert!(errors[0].2.as_deref().unwrap().contains("unknown backend `tpu`"), "{errors:?}");
        assert!(errors[1].2.is_some(), "LeNet-5 on 4x4 must fail: {errors:?}");
        // ResNet-20 pools adaptively, so a 1x4x4 input works.
        assert!(errors[3].2.is_none(), "{errors:?}");
    }

    #[test]
    fn ratios_compare_like_rows() {
        let report = run_bench(&plan(&["lenet5"], &["flex"], &[BenchMode::Train]), &mut |_| {});
        let mut baseline = report.clone();
        baseline.framework = "pytorch".into();
        let b = &mut baseline.rows[0];
        b.backend = "pytorch-cpu".into();
        b.samples_per_s = b.samples_per_s.map(|v| v * 2.0);
        b.forward_ms = b.forward_ms.map(|v| v / 4.0);
        let r = ratios(&report.rows[0], &baseline.rows[0]);
        assert!((r.throughput.unwrap() - 0.5).abs() < 1e-12);
        assert!((r.forward.unwrap() - 0.25).abs() < 1e-12);
        assert!((r.backward.unwrap() - 1.0).abs() < 1e-12);
        let table = render_table(&report, Some(&baseline));
        assert!(table.contains("0.50x") && table.contains("pytorch-cpu"), "{table}");
        let csv = to_csv(&report, Some(&baseline));
        assert_eq!(csv.lines().count(), 2);
        assert!(csv.lines().next().unwrap().ends_with("ratio_step"));
        let json: serde_json::Value = serde_json::from_str(&to_json(&report, Some(&baseline))).unwrap();
        assert!((json["rows"][0]["vs_pytorch"]["throughput"].as_f64().unwrap() - 0.5).abs() < 1e-12);
    }
}
