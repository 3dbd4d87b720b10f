//! `zoo bench` and `zoo backends`.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use zoo_bench::output::{summary_line, to_csv, to_json, to_table};
use zoo_bench::progress::ProgressBar;
use zoo_bench::{BenchMode, BenchPlan, BenchReport};
use zoo_models::summary::render_table;

use crate::error::{CliError, Context};
use crate::{Format, parse_input_shape, write_output};

/// Which modes `zoo bench` measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    /// Forward pass in inference mode.
    Infer,
    /// Training step: forward with loss, backward, optimizer step.
    Train,
    /// Both.
    Both,
}

/// Output format of `zoo bench`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchFormat {
    /// Aligned text.
    Table,
    /// The report as JSON (the schema `bench/pytorch_baseline.py` writes too).
    Json,
    /// One CSV line per case.
    Csv,
}

/// Arguments of `zoo bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Models: comma-separated names or globs (`lenet5,resnet20`, `resnet*`).
    #[arg(long, default_value = "lenet5,resnet20", value_name = "A,B|PATTERN")]
    pub models: String,
    /// Backends, comma-separated (default: the default backend).
    #[arg(long, value_name = "A,B")]
    pub backends: Option<String>,
    /// Batch sizes, comma-separated.
    #[arg(long, default_value = "1,32,128", value_name = "N,M")]
    pub batch_sizes: String,
    /// Inference, training or both.
    #[arg(long, value_enum, default_value_t = ModeArg::Both)]
    pub mode: ModeArg,
    /// Input shape of one image (default: each model's own).
    #[arg(long, value_parser = parse_input_shape, value_name = "CxHxW")]
    pub input: Option<[usize; 3]>,
    /// Also time every case data-parallel on N devices (the backend's first N; on a CPU backend,
    /// N workers sharing its cores), --batch-sizes images each, as `zoo train --devices N`
    /// trains: the table puts its throughput beside one device's.
    #[arg(long, value_name = "N")]
    pub devices: Option<usize>,
    /// Untimed iterations per case.
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub warmup: usize,
    /// Timed iterations per case (figures are their medians).
    #[arg(long, default_value_t = 20, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub iters: u32,
    /// Fold BatchNorm into the convolutions before timing inference.
    #[arg(long)]
    pub fuse_bn: bool,
    /// On flex, whose convolution and BatchNorm to time: `zoo` (the zoo's kernels), `burn`
    /// (Burn's ops), or both (`burn,zoo`: each case twice, back to back). Default: the one in
    /// use (`ZOO_KERNELS`, else zoo).
    #[arg(long, value_name = "burn,zoo")]
    pub kernels: Option<String>,
    /// A PyTorch baseline from `bench/pytorch_baseline.py`: adds ratio columns. Several files
    /// (comma-separated: repeats of one plan) give their per-case medians.
    #[arg(long, value_name = "BASELINE.json[,...]", value_delimiter = ',')]
    pub compare: Vec<PathBuf>,
    /// Show saved reports (`--format json` of earlier runs) instead of running cases: their
    /// per-case medians when there are several (repeats of one plan, alternated with the
    /// baseline's). The plan options are then ignored.
    #[arg(long, value_name = "REPORT.json[,...]", value_delimiter = ',')]
    pub report: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = BenchFormat::Table)]
    pub format: BenchFormat,
    /// Write the results here (in `--format`), with the JSON report and a PNG chart beside it.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// `zoo bench`.
pub fn run_bench(args: BenchArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let saved = load_median(&args.report, "--report")?;
    let plan = if saved.is_none() { Some(plan(&args)?) } else { None };
    // Read the baseline first: a bad file should fail before minutes of benchmarking.
    let baseline = load_median(&args.compare, "--compare")?;
    if let Some(parent) = args.out.as_deref().and_then(Path::parent).filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| CliError::io(parent, e)).context("--out")?;
    }
    let mut progress = ProgressBar::new();
    let report = match (saved, &plan) {
        (Some(report), _) => report,
        (None, Some(plan)) => zoo_bench::run_bench(plan, &mut |event| progress.show(&event)),
        (None, None) => unreachable!("a plan exists whenever no report is given"),
    };
    let seconds = plan.is_some().then(|| progress.elapsed());

    let text = match args.format {
        BenchFormat::Table => to_table(&report, baseline.as_ref()),
        BenchFormat::Json => to_json(&report, baseline.as_ref()),
        BenchFormat::Csv => to_csv(&report, baseline.as_ref()),
    };
    match &args.out {
        Some(path) => {
            write_file(path, &text)?;
            let json_path = path.with_extension("json");
            if json_path != *path {
                write_file(&json_path, &to_json(&report, baseline.as_ref()))?;
            }
            let chart = path.with_extension("png");
            let title = format!("burn-zoo bench on {}", report.machine.cpu);
            zoo_bench::chart::draw_bench(&report, baseline.as_ref(), &title, &chart)?;
            let table = to_table(&report, baseline.as_ref());
            write_output(out, &table)?;
            write_output(out, &format!("wrote {} and {}\n", path.display(), chart.display()))?;
        }
        None => write_output(out, &text)?,
    }
    eprintln!("{}", summary_line(&report, seconds));
    Ok(())
}

/// The reports in `paths` (none: `None`), or their per-case medians when there are several.
fn load_median(paths: &[PathBuf], flag: &str) -> Result<Option<BenchReport>, CliError> {
    if paths.is_empty() {
        return Ok(None);
    }
    let reports = paths.iter().map(|p| BenchReport::load(p)).collect::<Result<Vec<_>, _>>()?;
    BenchReport::median_of(&reports).map(Some).context(flag)
}

fn write_file(path: &Path, text: &str) -> Result<(), CliError> {
    zoo_train::run::write_atomic(path, text.as_bytes()).map_err(CliError::from)
}

/// The plan the arguments describe, or one line naming the bad argument.
fn plan(args: &BenchArgs) -> Result<BenchPlan, CliError> {
    let mut models: Vec<String> = Vec::new();
    for item in args.models.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let matched = zoo_models::list(item);
        if matched.is_empty() {
            return Err(CliError::Usage(format!("--models: no model matches `{item}` (see `zoo list`)")));
        }
        for info in matched {
            if !models.iter().any(|m| m == info.name) {
                models.push(info.name.to_string());
            }
        }
    }
    if models.is_empty() {
        return Err("--models: give at least one model".into());
    }
    let backends: Vec<String> = match &args.backends {
        Some(list) => list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect(),
        None => vec![zoo_models::backend::DEFAULT_BACKEND.to_string()],
    };
    if backends.is_empty() {
        return Err("--backends: give at least one backend".into());
    }
    // Unknown or missing backends fail here; one without a device is reported in its rows.
    for backend in &backends {
        zoo_models::backend::check_backend(backend).context("--backends")?;
    }
    let batch_sizes = args
        .batch_sizes
        .split(',')
        .map(|s| s.trim().parse::<usize>().ok().filter(|&b| b > 0))
        .collect::<Option<Vec<_>>>()
        .filter(|b| !b.is_empty())
        .ok_or_else(|| {
            format!("--batch-sizes: expected positive integers like 1,32,128, got `{}`", args.batch_sizes)
        })?;
    let kernels = match &args.kernels {
        None => Vec::new(),
        Some(list) => {
            let mut kernels = Vec::new();
            for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let k = zoo_kernels::Kernels::parse(name).context("--kernels")?;
                if !kernels.contains(&k) {
                    kernels.push(k);
                }
            }
            if kernels.is_empty() {
                return Err("--kernels: give `zoo`, `burn` or `burn,zoo`".into());
            }
            kernels
        }
    };
    let modes = match args.mode {
        ModeArg::Infer => vec![BenchMode::Infer],
        ModeArg::Train => vec![BenchMode::Train],
        ModeArg::Both => vec![BenchMode::Infer, BenchMode::Train],
    };
    let devices = match args.devices {
        None | Some(1) => vec![1],
        Some(0) => return Err("--devices: at least 1 device".into()),
        Some(n) => vec![1, n],
    };
    Ok(BenchPlan {
        devices,
        models,
        backends,
        batch_sizes,
        modes,
        input: args.input,
        fuse_bn: args.fuse_bn,
        kernels,
        warmup: args.warmup,
        iters: args.iters as usize,
    })
}

/// `zoo backends`: every backend the zoo knows, whether this build has it, and its devices.
pub fn run_backends(format: Format, out: &mut dyn Write) -> Result<(), CliError> {
    let backends = zoo_models::backend::backends();
    let text = match format {
        Format::Json => serde_json::to_string_pretty(&backends)? + "\n",
        Format::Table => {
            let rows: Vec<Vec<String>> = backends
                .iter()
                .map(|b| {
                    let status = match (b.compiled, b.default) {
                        (true, true) => "compiled (default)".to_string(),
                        (true, false) => "compiled".to_string(),
                        (false, _) => format!("not compiled (--features {})", b.name),
                    };
                    let devices = if !b.compiled {
                        String::new()
                    } else if b.name == "remote" {
                        "a `zoo serve`'s, as --backend remote:ws://HOST:PORT".to_string()
                    } else if b.devices.is_empty() {
                        "no device found".to_string()
                    } else {
                        b.devices.join("; ")
                    };
                    vec![b.name.to_string(), status, devices]
                })
                .collect();
            render_table(&["backend", "status", "devices"], &rows, &[])
        }
    };
    write_output(out, &text)
}
