//! Running the cases: one model built per case, timed to completion with `device.sync()`.

use std::panic::{self, AssertUnwindSafe};
use std::time::Instant;

use burn::module::Module;
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::tensor::{Device, Distribution, Int, Tensor};
use zoo_models::backend::{cpu_threads, device_name};
use zoo_models::{ImageClassifier, ModelOptions, ZooModel};
use zoo_train::config::OptimizerConfig;

use crate::alloc::{heap_peak_since, heap_window_start};
use crate::plan::{BenchMode, BenchPlan};
use crate::report::{BenchReport, BenchRow, Machine, RunSettings, SCHEMA};

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

/// Runs every case of `plan`, in order (model, backend, mode, batch size). A case that fails —
/// a backend without a device, an input too small for the model, a panic inside a kernel, running
/// out of memory — is reported in its row and the run goes on.
pub fn run_bench(plan: &BenchPlan, on_event: &mut dyn FnMut(BenchEvent)) -> BenchReport {
    let started = zoo_train::run::utc_now();
    let total = plan.len();
    let mut rows = Vec::with_capacity(total);
    for model in &plan.models {
        for backend in &plan.backends {
            for &mode in &plan.modes {
                for (&batch_size, &devices) in
                    plan.batch_sizes.iter().flat_map(|b| plan.devices.iter().map(move |d| (b, d)))
                {
                    // The implementations alternate case by case, so drift in the machine's
                    // speed affects both alike.
                    for variant in plan.kernel_variants(backend) {
                        let index = rows.len();
                        let shown =
                            variant.map(|k| format!("{backend}/{}", k.name())).unwrap_or_else(|| backend.clone());
                        let shown = if devices > 1 { format!("{shown} x{devices}") } else { shown };
                        let label = format!("{model} · {shown} · {} · b{batch_size}", mode.name());
                        on_event(BenchEvent::Start { index, total, label });
                        let previous = zoo_kernels::kernels();
                        if let Some(kernels) = variant {
                            zoo_kernels::set_kernels(kernels);
                        }
                        let mut row = run_case(model, backend, mode, batch_size, devices, plan);
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
        .find_map(|b| zoo_models::backend::device(b).ok().and_then(|d| device_name(b, &d)));
    BenchReport {
        schema: SCHEMA.into(),
        framework: "burn".into(),
        framework_version: burn_version().into(),
        machine: Machine {
            cpu: cpu_name(),
            cores: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            threads: cpu_threads(),
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

/// The optimizer every training case steps: SGD with momentum, as the CIFAR recipes train.
const BENCH_OPTIMIZER: OptimizerConfig =
    OptimizerConfig::Sgd { momentum: 0.9, dampening: 0.0, nesterov: false, weight_decay: 0.0, no_decay_bn_bias: false };

/// Runs one case, on `devices` devices data-parallel; never panics.
pub fn run_case(
    model: &str,
    backend: &str,
    mode: BenchMode,
    batch_size: usize,
    devices: usize,
    plan: &BenchPlan,
) -> BenchRow {
    let mut row = BenchRow {
        model: model.into(),
        backend: backend.into(),
        kernels: None,
        device: String::new(),
        mode,
        batch_size,
        devices,
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
    let text = zoo_train::run::panic_text(payload).unwrap_or_else(|| "the backend panicked".into());
    format!("panicked: {text}")
}

/// Fills `row`'s figures, or says why it cannot.
fn measure(row: &mut BenchRow, plan: &BenchPlan) -> Result<(), String> {
    if plan.iters == 0 {
        return Err("at least one timed iteration is needed".into());
    }
    if row.devices == 0 {
        return Err("at least one device is needed".into());
    }
    let info = zoo_models::info(&row.model).map_err(|e| e.to_string())?;
    let input = plan.input.unwrap_or(info.default_input);
    row.input = input;
    let base = zoo_models::backend::device(&row.backend).map_err(|e| e.to_string())?;
    row.device = device_name(&row.backend, &base).unwrap_or_else(|| row.backend.clone());
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
        _ if row.devices > 1 => {
            let selection = zoo_models::backend::DeviceSelection::Count(row.devices);
            let mut replicas =
                zoo_models::backend::select_devices(&row.backend, &selection).map_err(|e| e.to_string())?;
            if row.mode == BenchMode::Train {
                replicas = replicas.into_iter().map(Device::autodiff).collect();
            }
            let model = match row.mode {
                BenchMode::Infer if plan.fuse_bn => zoo_models::fuse::fuse_batch_norm(model),
                _ => model,
            };
            (time_data_parallel(model, &images, classes, row.mode, &replicas, plan)?, None)
        }
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
            let mut optimizer = zoo_train::optim::build_optimizer(&BENCH_OPTIMIZER);
            let mut model = model;
            let (mut fwd, mut bwd, mut opt, mut all) = (vec![], vec![], vec![], vec![]);
            for i in 0..plan.warmup + plan.iters {
                let t0 = Instant::now();
                // What training computes: auxiliary classifiers (GoogLeNet, Inception v3) included.
                let output = model.forward_train(images.clone());
                let loss = zoo_train::classifier::training_loss(&output, &labels, None, 0.0);
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

    let images = (row.batch_size * row.devices) as f64;
    row.ms_per_step = Some(total * 1e3);
    row.samples_per_s = Some(images / total);
    row.gflops = Some(row.mode.flops_per_mac() * row.gmacs * images / total);
    match phases {
        Some([f, b, s]) => {
            row.forward_ms = Some(f * 1e3);
            row.backward_ms = Some(b * 1e3);
            row.step_ms = Some(s * 1e3);
        }
        // An inference step is its forward pass (one device's: several overlap).
        None if row.devices == 1 => row.forward_ms = Some(total * 1e3),
        None => {}
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

/// Median seconds of one data-parallel step on `devices`, as burn-train's `MultiDevice` strategy
/// takes it: every device computes its own batch (forward, and for training the backward of
/// `1/N` of its loss) in its own thread; training then gathers the gradients on the first device,
/// sums them and takes one optimizer step there.
fn time_data_parallel(
    model: ZooModel,
    images: &Tensor<4>,
    classes: usize,
    mode: BenchMode,
    devices: &[Device],
    plan: &BenchPlan,
) -> Result<f64, String> {
    let main = &devices[0];
    let scale = 1.0 / devices.len() as f64;
    let inputs: Vec<(Tensor<4>, Tensor<1, Int>)> = devices
        .iter()
        .map(|d| {
            let labels = Tensor::<1, Int>::random([images.dims()[0]], Distribution::Uniform(0.0, classes as f64), d);
            (images.clone().to_device(d), labels)
        })
        .collect();
    let mut optimizer = zoo_train::optim::build_optimizer(&BENCH_OPTIMIZER);
    let mut model = model;
    let mut times = Vec::with_capacity(plan.iters);
    for i in 0..plan.warmup + plan.iters {
        let start = Instant::now();
        let grads = std::thread::scope(|scope| {
            let workers: Vec<_> = devices
                .iter()
                .zip(&inputs)
                .map(|(device, (x, y))| {
                    let replica = model.clone().fork(device);
                    scope.spawn(move || match mode {
                        BenchMode::Infer => {
                            drop(replica.forward(x.clone()));
                            device.sync().map(|()| None)
                        }
                        BenchMode::Train => {
                            let output = replica.forward_train(x.clone());
                            let loss = zoo_train::classifier::training_loss(&output, y, None, 0.0);
                            let grads = GradientsParams::from_grads(loss.mul_scalar(scale).backward(), &replica);
                            device.sync().map(|()| Some(grads))
                        }
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join()).collect::<Vec<_>>()
        });
        let mut accumulator = GradientsAccumulator::new();
        for outcome in grads {
            let grads = outcome
                .map_err(|payload| panic_message(payload.as_ref()))?
                .map_err(|e| format!("the device failed: {e}"))?;
            if let Some(grads) = grads {
                accumulator.accumulate(&model, grads.to_device(main, &model));
            }
        }
        if mode == BenchMode::Train {
            model = optimizer.step(0.01, model, accumulator.grads());
            main.sync().map_err(|e| format!("the device failed: {e}"))?;
        }
        if i >= plan.warmup {
            times.push(start.elapsed().as_secs_f64());
        }
    }
    Ok(median(&mut times))
}

/// Median of `values` (0 for none).
pub(crate) fn median(values: &mut [f64]) -> f64 {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&mut []), 0.0);
    }
}
