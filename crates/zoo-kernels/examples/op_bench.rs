//! Single-op CPU timings of the zoo's kernels and of Burn's ops on flex, at the shapes of
//! `bench/pytorch_ops.py` (ResNet-20's 3x3 convolutions and BatchNorms, LeNet-5's
//! convolutions, batch 128), side by side with that script's PyTorch figures.
//!
//! ```sh
//! python bench/pytorch_ops.py --threads 2 --out /tmp/ops-pytorch.json
//! RAYON_NUM_THREADS=2 cargo run -p zoo-kernels --example op_bench -- \
//!     --pytorch /tmp/ops-pytorch.json --out /tmp/ops.json
//! ```
//!
//! Passes: `forward` (inference), `input_grad` and `weight_grad` (one backward product each,
//! timed on the kernels' slices for the zoo and through `aten.convolution_backward` for PyTorch),
//! and `forward+backward` (autodiff: forward, then the gradients of every input; Burn has no
//! backward from a given output gradient, so this row also runs `(y * upstream).sum()`, its
//! backward and a copy of the input gradient, which PyTorch's row, given `grad_out`, does not). GFLOP/s
//! counts 2 FLOPs per multiply-accumulate, 3x the forward's for `forward+backward`; `% peak` is
//! against the machine's FMA throughput, measured by an FMA-only loop before and after the ops
//! (or `--peak-gflops`).

use std::time::Instant;

use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Distribution, Tensor};
use zoo_kernels::cpu::conv::{self, ConvShape};
use zoo_kernels::cpu::simd::isa;

struct Args {
    batch: usize,
    warmup: usize,
    iters: usize,
    pytorch: Option<String>,
    peak: Option<f64>,
    out: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args { batch: 128, warmup: 3, iters: 10, pytorch: None, peak: None, out: None };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--batch" => args.batch = value()?.parse().map_err(|e| format!("--batch: {e}"))?,
            "--warmup" => args.warmup = value()?.parse().map_err(|e| format!("--warmup: {e}"))?,
            "--iters" => args.iters = value()?.parse().map_err(|e| format!("--iters: {e}"))?,
            "--pytorch" => args.pytorch = Some(value()?),
            "--peak-gflops" => args.peak = Some(value()?.parse().map_err(|e| format!("--peak-gflops: {e}"))?),
            "--out" => args.out = Some(value()?),
            other => {
                return Err(format!(
                    "unknown argument `{other}` (--batch, --warmup, --iters, --pytorch, --peak-gflops, --out)"
                ));
            }
        }
    }
    Ok(args)
}

/// The machine's fp32 FMA throughput right now: every thread runs independent 8-wide FMA chains
/// (AVX2; 0 elsewhere). Boost clocks and neighbours on a shared host move it, so it is measured
/// in the same run as the kernels rather than computed from a nominal clock.
fn measured_peak_gflops() -> f64 {
    #[cfg(target_arch = "x86_64")]
    {
        if !(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")) {
            return 0.0;
        }
        #[target_feature(enable = "avx2,fma")]
        unsafe fn chains(iters: usize) -> f32 {
            use std::arch::x86_64::*;
            let m = _mm256_set1_ps(0.999_999);
            let c = _mm256_set1_ps(1e-7);
            // 12 independent chains cover the FMA latency (4 cycles) times 2 units, with room.
            let mut acc = [_mm256_set1_ps(1.0); 12];
            for _ in 0..iters {
                for a in acc.iter_mut() {
                    *a = _mm256_fmadd_ps(*a, m, c);
                }
            }
            let mut out = [0.0f32; 8];
            let sum = acc.iter().fold(_mm256_setzero_ps(), |s, a| _mm256_add_ps(s, *a));
            unsafe { _mm256_storeu_ps(out.as_mut_ptr(), sum) };
            out.iter().sum()
        }
        use rayon::prelude::*;
        let iters = 20_000_000;
        let threads = rayon::current_num_threads();
        let start = Instant::now();
        let total: f32 = (0..threads).into_par_iter().map(|_| unsafe { chains(iters) }).sum();
        let seconds = start.elapsed().as_secs_f64();
        std::hint::black_box(total);
        (threads * iters * 12 * 8 * 2) as f64 / seconds / 1e9
    }
    #[cfg(not(target_arch = "x86_64"))]
    0.0
}

fn median_ms(warmup: usize, iters: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..warmup {
        f();
    }
    let mut times: Vec<f64> = (0..iters.max(1))
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

struct Row {
    op: &'static str,
    shape: String,
    pass: &'static str,
    /// Forward MACs of the op (None for BatchNorm and ReLU).
    macs: Option<f64>,
    zoo_ms: f64,
    burn_ms: Option<f64>,
}

impl Row {
    /// A row without MACs whose pass `run(ours)` is timed on the zoo's kernels, then Burn's.
    fn zoo_and_burn(a: &Args, op: &'static str, shape: String, pass: &'static str, run: &dyn Fn(bool)) -> Row {
        let zoo_ms = median_ms(a.warmup, a.iters, || run(true));
        Row { op, shape, pass, macs: None, zoo_ms, burn_ms: Some(median_ms(a.warmup, a.iters, || run(false))) }
    }

    fn gflops(&self, ms: f64) -> Option<f64> {
        let factor = if self.pass == "forward+backward" { 3.0 } else { 1.0 };
        self.macs.map(|m| 2.0 * m * factor / (ms * 1e6))
    }
}

#[allow(clippy::too_many_arguments)] // one row of the table per convolution case
fn conv_rows(
    a: &Args,
    op: &'static str,
    c_in: usize,
    c_out: usize,
    hw: usize,
    k: usize,
    pad: usize,
    bias: bool,
) -> Vec<Row> {
    let n = a.batch;
    let plain = Device::flex();
    let normal = Distribution::Normal(0.0, 1.0);
    let x = Tensor::<4>::random([n, c_in, hw, hw], normal, &plain);
    let w = Tensor::<4>::random([c_out, c_in, k, k], normal, &plain);
    let b = bias.then(|| Tensor::<1>::random([c_out], normal, &plain));
    let options = ConvOptions::new([1, 1], [pad, pad], [1, 1], 1);
    let out = hw + 2 * pad - k + 1;
    let macs = (n * c_out * out * out * c_in * k * k) as f64;
    let shape_name = format!("{n}x{c_in}x{hw}x{hw}");
    let sync = || plain.sync().unwrap();
    let mut rows = Vec::new();

    let zoo = median_ms(a.warmup, a.iters, || {
        zoo_kernels::conv2d(x.clone(), w.clone(), b.clone(), options.clone()).into_data();
    });
    let burn = median_ms(a.warmup, a.iters, || {
        burn::tensor::module::conv2d(x.clone(), w.clone(), b.clone(), options.clone()).into_data();
        sync();
    });
    rows.push(Row {
        op,
        shape: shape_name.clone(),
        pass: "forward",
        macs: Some(macs),
        zoo_ms: zoo,
        burn_ms: Some(burn),
    });

    // The two backward products alone, on the kernels' slices.
    let shape = ConvShape {
        batch: n,
        in_channels: c_in,
        in_size: [hw, hw],
        out_channels: c_out,
        kernel: [k, k],
        stride: [1, 1],
        padding: [[pad, pad], [pad, pad]],
    };
    let xs = x.clone().into_data().try_to_vec::<f32>().unwrap();
    let ws = w.clone().into_data().try_to_vec::<f32>().unwrap();
    let dys = Tensor::<4>::random([n, c_out, out, out], normal, &plain).into_data().try_to_vec::<f32>().unwrap();
    let mut dx = vec![0.0; shape.input_len()];
    let mut dw = vec![0.0; shape.weight_len()];
    let zoo = median_ms(a.warmup, a.iters, || conv::input_grad(isa(), &dys, &ws, &shape, &mut dx));
    rows.push(Row { op, shape: shape_name.clone(), pass: "input_grad", macs: Some(macs), zoo_ms: zoo, burn_ms: None });
    let zoo = median_ms(a.warmup, a.iters, || conv::weight_grad(isa(), &xs, &dys, &shape, &mut dw));
    rows.push(Row { op, shape: shape_name.clone(), pass: "weight_grad", macs: Some(macs), zoo_ms: zoo, burn_ms: None });

    let autodiff = plain.clone().autodiff();
    let upstream = Tensor::<4>::random([n, c_out, out, out], normal, &autodiff);
    let step = |ours: bool| {
        // from_data, not to_device: devices compare by hardware, so to_device keeps them plain.
        let xg = Tensor::<4>::from_data(x.clone().into_data(), &autodiff).require_grad();
        let wg = Tensor::<4>::from_data(w.clone().into_data(), &autodiff).require_grad();
        let bg = b.clone().map(|b| Tensor::<1>::from_data(b.into_data(), &autodiff).require_grad());
        let y = if ours {
            zoo_kernels::conv2d(xg.clone(), wg.clone(), bg.clone(), options.clone())
        } else {
            burn::tensor::module::conv2d(xg.clone(), wg.clone(), bg.clone(), options.clone())
        };
        let grads = (y * upstream.clone()).sum().backward();
        xg.grad(&grads).unwrap().into_data();
        wg.grad(&grads).unwrap().into_data();
    };
    let zoo = median_ms(a.warmup, a.iters, || step(true));
    let burn = median_ms(a.warmup, a.iters, || step(false));
    rows.push(Row {
        op,
        shape: shape_name,
        pass: "forward+backward",
        macs: Some(macs),
        zoo_ms: zoo,
        burn_ms: Some(burn),
    });
    rows
}

fn batch_norm_rows(a: &Args, c: usize, hw: usize) -> Vec<Row> {
    let n = a.batch;
    let shape = format!("{n}x{c}x{hw}x{hw}");
    let autodiff = Device::flex().autodiff();
    let norm = burn::nn::BatchNormConfig::new(c).init(&autodiff);
    let x = Tensor::<4>::random([n, c, hw, hw], Distribution::Normal(0.0, 1.0), &autodiff);
    let upstream = Tensor::<4>::random([n, c, hw, hw], Distribution::Normal(0.0, 1.0), &autodiff);
    let forward = |ours: bool| {
        if ours {
            zoo_kernels::batch_norm(&norm, x.clone(), None, false).into_data();
        } else {
            norm.forward(x.clone()).into_data();
        }
    };
    let step = |ours: bool| {
        let xg = x.clone().require_grad();
        let y = if ours { zoo_kernels::batch_norm(&norm, xg.clone(), None, false) } else { norm.forward(xg.clone()) };
        let grads = (y * upstream.clone()).sum().backward();
        xg.grad(&grads).unwrap().into_data();
    };
    // The backward kernel alone, on slices: what a training step's BatchNorm backward costs
    // without the graph around it.
    let planes = zoo_kernels::cpu::batch_norm::Planes { batch: n, channels: c, plane: hw * hw };
    let xs = x.clone().into_data().try_to_vec::<f32>().unwrap();
    let dys = upstream.clone().into_data().try_to_vec::<f32>().unwrap();
    let (mean, var) = zoo_kernels::cpu::batch_norm::batch_stats(&xs, planes);
    let inv_std = zoo_kernels::cpu::batch_norm::inverse_std(&var, 1e-5);
    let gamma = vec![1.0f32; c];
    let mut dx = vec![0.0f32; xs.len()];
    let saved = zoo_kernels::cpu::batch_norm::Normalized {
        x: &xs,
        relu_output: None,
        mean: &mean,
        inv_std: &inv_std,
        gamma: &gamma,
        batch_statistics: true,
    };
    let backward_ms = median_ms(a.warmup, a.iters, || {
        zoo_kernels::cpu::batch_norm::backward(&dys, &saved, planes, &mut dx, None);
    });
    vec![
        Row {
            op: "batchnorm2d",
            shape: shape.clone(),
            pass: "backward",
            macs: None,
            zoo_ms: backward_ms,
            burn_ms: None,
        },
        Row::zoo_and_burn(a, "batchnorm2d", shape.clone(), "forward", &forward),
        Row::zoo_and_burn(a, "batchnorm2d", shape, "forward+backward", &step),
    ]
}

fn max_pool_rows(a: &Args, c: usize, hw: usize) -> Vec<Row> {
    let n = a.batch;
    let shape = format!("{n}x{c}x{hw}x{hw}");
    let pool = burn::nn::pool::MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init();
    let plain = Device::flex();
    let autodiff = plain.clone().autodiff();
    let x = Tensor::<4>::random([n, c, hw, hw], Distribution::Normal(0.0, 1.0), &plain);
    let upstream = Tensor::<4>::random([n, c, hw / 2, hw / 2], Distribution::Normal(0.0, 1.0), &autodiff);
    let forward = |ours: bool| {
        if ours {
            zoo_kernels::max_pool2d_module(&pool, x.clone()).into_data();
        } else {
            pool.forward(x.clone()).into_data();
        }
    };
    let step = |ours: bool| {
        let xg = Tensor::<4>::from_data(x.clone().into_data(), &autodiff).require_grad();
        let y = if ours { zoo_kernels::max_pool2d_module(&pool, xg.clone()) } else { pool.forward(xg.clone()) };
        let grads = (y * upstream.clone()).sum().backward();
        xg.grad(&grads).unwrap().into_data();
    };
    vec![
        Row::zoo_and_burn(a, "max_pool_2x2", shape.clone(), "forward", &forward),
        Row::zoo_and_burn(a, "max_pool_2x2", shape, "forward+backward", &step),
    ]
}

/// PyTorch's milliseconds for (op, shape, pass), from `pytorch_ops.py --out`.
fn pytorch_ms(report: &Option<serde_json::Value>, row: &Row) -> Option<f64> {
    report.as_ref()?["rows"].as_array()?.iter().find_map(|r| {
        (r["op"] == row.op && r["shape"] == row.shape.as_str() && r["pass"] == row.pass)
            .then(|| r["ms"].as_f64())
            .flatten()
    })
}

fn main() {
    // The same allocator settings as the `zoo` binary, so the autodiff rows see what a model does.
    zoo_kernels::reuse_freed_memory();
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let pytorch: Option<serde_json::Value> = match &args.pytorch {
        None => None,
        Some(path) => match std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
        {
            Ok(v) => Some(v),
            Err(e) => {
                eprintln!("error: --pytorch {path}: {e}");
                std::process::exit(1);
            }
        },
    };
    zoo_kernels::set_kernels(zoo_kernels::Kernels::Zoo);
    let peak_before = measured_peak_gflops();
    let mut rows = Vec::new();
    for (c, hw) in [(16, 32), (32, 16), (64, 8)] {
        eprintln!("conv2d_3x3 {c}x{hw}x{hw}");
        rows.extend(conv_rows(&args, "conv2d_3x3", c, c, hw, 3, 1, false));
    }
    for (c, hw) in [(16, 32), (32, 16), (64, 8)] {
        eprintln!("batchnorm2d {c}x{hw}x{hw}");
        rows.extend(batch_norm_rows(&args, c, hw));
    }
    eprintln!("lenet convolutions and pooling");
    rows.extend(conv_rows(&args, "lenet_conv1", 1, 6, 32, 5, 0, true));
    rows.extend(conv_rows(&args, "lenet_conv2", 6, 16, 14, 5, 0, true));
    rows.extend(max_pool_rows(&args, 6, 28));
    rows.extend(max_pool_rows(&args, 16, 10));

    let peak_after = measured_peak_gflops();
    let peak = args.peak.unwrap_or((peak_before + peak_after) / 2.0);
    let fmt = |v: Option<f64>, digits: usize| v.map(|v| format!("{v:.digits$}")).unwrap_or_else(|| "-".into());
    let headers =
        ["op", "shape", "pass", "zoo ms", "burn ms", "torch ms", "zoo/torch", "zoo GFLOP/s", "% peak", "torch GFLOP/s"];
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let torch = pytorch_ms(&pytorch, r);
            let zoo_gflops = r.gflops(r.zoo_ms);
            vec![
                r.op.to_string(),
                r.shape.clone(),
                r.pass.to_string(),
                format!("{:.3}", r.zoo_ms),
                fmt(r.burn_ms, 3),
                fmt(torch, 3),
                torch.map(|t| format!("{:.2}x", t / r.zoo_ms)).unwrap_or_else(|| "-".into()),
                fmt(zoo_gflops, 1),
                fmt(zoo_gflops.filter(|_| peak > 0.0).map(|g| 100.0 * g / peak), 0),
                fmt(torch.and_then(|t| r.gflops(t)), 1),
            ]
        })
        .collect();
    let widths: Vec<usize> =
        (0..headers.len()).map(|i| cells.iter().map(|c| c[i].len()).chain([headers[i].len()]).max().unwrap()).collect();
    let line = |cols: Vec<String>| {
        cols.iter()
            .enumerate()
            .map(|(i, c)| if i < 3 { format!("{c:<w$}", w = widths[i]) } else { format!("{c:>w$}", w = widths[i]) })
            .collect::<Vec<_>>()
            .join("  ")
    };
    println!("{}", line(headers.iter().map(|h| h.to_string()).collect()));
    for c in cells {
        println!("{}", line(c));
    }
    println!(
        "zoo kernels: {}, {} threads; zoo/torch above 1: the zoo is faster; medians of {} after {} warm-up",
        isa().name(),
        rayon::current_num_threads(),
        args.iters,
        args.warmup
    );
    println!(
        "% peak of {peak:.1} GFLOP/s ({}; an FMA-only loop measured {peak_before:.1} before and {peak_after:.1} after the ops)",
        if args.peak.is_some() { "--peak-gflops" } else { "their mean" }
    );
    if let Some(path) = &args.out {
        let json = serde_json::json!({
            "framework": "burn-zoo",
            "isa": isa().name(),
            "threads": rayon::current_num_threads(),
            "peak_gflops": peak,
            "measured_peak_gflops": [peak_before, peak_after],
            "rows": rows.iter().map(|r| serde_json::json!({
                "op": r.op, "shape": r.shape, "pass": r.pass, "zoo_ms": r.zoo_ms, "burn_ms": r.burn_ms,
                "pytorch_ms": pytorch_ms(&pytorch, r), "zoo_gflops": r.gflops(r.zoo_ms),
            })).collect::<Vec<_>>(),
        });
        if let Err(e) = std::fs::write(path, serde_json::to_string_pretty(&json).unwrap() + "\n") {
            eprintln!("error: --out {path}: {e}");
            std::process::exit(1);
        }
    }
}
