//! Starting, resuming and finishing a run on burn-train's `SupervisedTraining`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use burn::module::Module;
use burn::store::ModuleRecord;
use burn::tensor::Device;
use burn::train::checkpoint::KeepLastNCheckpoints;
use burn::train::metric::{AccuracyMetric, LearningRateMetric, LossMetric, Metric, TopKAccuracyMetric};
use burn::train::renderer::{MetricsRenderer, default_renderer};
use burn::train::{
    ApplicationLoggerInstaller, ExecutionStrategy, FileApplicationLoggerInstaller, Interrupter, Learner,
    MultiDeviceOptim, SupervisedTraining,
};
use serde::{Deserialize, Serialize};
use zoo_models::ZooModel;

use super::dir::{AtomicCheckpointer, RunDir, write_atomic};
use super::model::{ResolvedInput, initial_model, save_weights};
use crate::classifier::Classifier;
use crate::config::{GradientReduction, Strategy, TrainConfig};
use crate::data::{Datasets, EpochLoader, SplitClock, make_loader, open_datasets};
use crate::error::TrainError;
use crate::eval::{EvalReport, evaluate};
use crate::metrics::{CsvMetricLogger, Divergence, MetricNames, read_metrics, truncate_metrics};
use crate::plot::{CurvePoint, draw_curves};
use crate::progress::{ProgressLines, format_duration};
use crate::schedule::Schedule;

/// What a finished run reports, as written to `result.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunResult {
    /// Model name.
    pub model: String,
    /// Dataset name.
    pub dataset: String,
    /// Test-set top-1 accuracy of the final weights, percent.
    pub test_top1: f64,
    /// Test-set top-5 accuracy, percent.
    pub test_top5: f64,
    /// Test images evaluated.
    pub test_images: usize,
    /// `train_limit`: the training images were a sample of this many.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_limit: Option<usize>,
    /// Trainable parameters.
    pub parameters: usize,
    /// Epochs trained.
    pub epochs: usize,
    /// Wall time of the whole command (this session only, for a resumed run), seconds.
    pub wall_seconds: f64,
    /// Sum of the `seconds` column of `metrics.csv` (all sessions), seconds.
    pub train_seconds: f64,
    /// Backend trained on.
    pub backend: String,
    /// Devices trained on (data-parallel; `batch_size` images each per step).
    #[serde(default = "one")]
    pub devices: usize,
    /// Seed.
    pub seed: u64,
    /// The run directory.
    pub run_dir: PathBuf,
}

impl RunResult {
    /// The one-line summary printed at the end of `zoo train`.
    pub fn summary_line(&self) -> String {
        let sample = self.train_limit.map(|n| format!(", trained on a sample of {n} images")).unwrap_or_default();
        let backend = match self.devices {
            1 => self.backend.clone(),
            n => format!("{n} {} devices", self.backend),
        };
        format!(
            "{} on {}: test top-1 {:.2}%, top-5 {:.2}% ({} images) after {} epochs{sample}; {} of training on {} (seed {}) -> {}",
            self.model,
            self.dataset,
            self.test_top1,
            self.test_top5,
            self.test_images,
            self.epochs,
            format_duration(self.train_seconds),
            backend,
            self.seed,
            self.run_dir.display()
        )
    }
}

fn one() -> usize {
    1
}

/// Starts a new run of `config` in `dir`, which must not hold a run already.
pub fn train(config: TrainConfig, dir: &Path) -> Result<RunResult, TrainError> {
    // Before the datasets are opened (and perhaps downloaded).
    let run = RunDir { root: dir.to_path_buf() };
    if run.config().exists() {
        return Err(TrainError::RunExists { dir: dir.to_path_buf() });
    }
    let datasets = open_datasets(&config)?;
    train_on(config, datasets, dir)
}

/// Starts a new run of `config` in `dir` on datasets of the caller's (a Burn dataset through
/// [`zoo_data::interop::FromBurn`], say) instead of the one `config.dataset` names, which then
/// only labels the run. Resume it with [`resume_on`] and the same datasets.
///
/// ```no_run
/// use std::sync::Arc;
/// use zoo_data::{Split, SynthDigits};
/// use zoo_train::data::Datasets;
/// let test = Arc::new(SynthDigits::with_len(Split::Test, 100, 0));
/// let datasets = Datasets { train: Arc::new(SynthDigits::with_len(Split::Train, 500, 0)), valid: test.clone(), test };
/// let mut config = zoo_train::recipe("lenet5-synth")?;
/// config.dataset = "my digits".into();
/// let result = zoo_train::run::train_on(config, datasets, "runs/mine".as_ref())?;
/// println!("{}", result.summary_line());
/// # Ok::<(), zoo_train::TrainError>(())
/// ```
pub fn train_on(config: TrainConfig, datasets: Datasets, dir: &Path) -> Result<RunResult, TrainError> {
    let run = RunDir { root: dir.to_path_buf() };
    if run.config().exists() {
        return Err(TrainError::RunExists { dir: dir.to_path_buf() });
    }
    let config = TrainConfig {
        resolved: Some(ResolvedInput::from_datasets(&config, &*datasets.test, datasets.train.classes())?),
        ..config
    };
    // A model that cannot take this input, or weights that do not fit it, are one error before
    // anything is written.
    let model = initial_model(&config, 0)?;
    // So are missing devices and unreachable servers.
    let devices = zoo_models::backend::select_devices(&config.backend, &config.devices)?;
    std::fs::create_dir_all(dir).map_err(|e| TrainError::io(dir, e))?;
    let json = serde_json::to_string_pretty(&config).expect("configs serialise");
    write_atomic(&run.config(), json.as_bytes())?;
    truncate_metrics(&run.metrics(), 0)?;
    fit(&config, &run, 0, datasets, model, devices)
}

/// Continues the run in `dir` from its last complete checkpoint.
pub fn resume(dir: &Path) -> Result<RunResult, TrainError> {
    let config = (RunDir { root: dir.to_path_buf() }).read_config()?;
    let datasets = open_datasets(&config)?;
    resume_on(dir, datasets)
}

/// Continues the run in `dir`, started by [`train_on`], on the same datasets.
pub fn resume_on(dir: &Path, datasets: Datasets) -> Result<RunResult, TrainError> {
    let run = RunDir { root: dir.to_path_buf() };
    let config = run.read_config()?;
    let last = run.last_checkpoint().unwrap_or(0).min(config.epochs);
    // Rows of epochs after the checkpoint belong to the interrupted session: they are redone.
    truncate_metrics(&run.metrics(), last)?;
    let model = initial_model(&config, last)?;
    let devices = zoo_models::backend::select_devices(&config.backend, &config.devices)?;
    fit(&config, &run, last, datasets, model, devices)
}

fn fit(
    config: &TrainConfig,
    run: &RunDir,
    start_epoch: usize,
    datasets: Datasets,
    model: ZooModel,
    devices: Vec<Device>,
) -> Result<RunResult, TrainError> {
    let started = Instant::now();
    let device = devices[0].clone();
    let train_loader = make_loader(config, datasets.train.clone(), true)?;
    let valid_loader = make_loader(config, datasets.valid.clone(), false)?;
    // One optimizer step takes one batch on every device: an epoch is one device's share.
    let iters_per_epoch = match devices.len() {
        1 => train_loader.num_batches(),
        n => train_loader.shard(0, n, 0)?.num_batches(),
    };
    // burn-train's top-k metric refuses k above the class count (a 3-class folder): top-5 is then
    // top-3, as `top_k_correct` counts it.
    let top_k = config.resolved.as_ref().map_or(5, |r| r.classes.len().clamp(1, 5));

    if start_epoch < config.epochs {
        let clock = SplitClock::default();
        let train_batches = EpochLoader::new(train_loader, "train", start_epoch + 1, clock.clone())
            .reseeding(config.seed)
            .sharded(devices.len());
        let valid_batches = EpochLoader::new(valid_loader, "valid", start_epoch + 1, clock.clone());

        let names = MetricNames {
            loss: LossMetric::new().name().to_string(),
            top1: AccuracyMetric::new().name().to_string(),
            top5: TopKAccuracyMetric::new(top_k).name().to_string(),
            lr: LearningRateMetric::new().name().to_string(),
        };
        let interrupter = Interrupter::new();
        let divergence: Arc<Mutex<Option<Divergence>>> = Arc::default();
        let logger = CsvMetricLogger::new(run.metrics(), names.clone(), clock, interrupter.clone(), divergence.clone());
        let renderer: Box<dyn MetricsRenderer> = if std::io::stdout().is_terminal() {
            default_renderer(interrupter.clone(), (start_epoch > 0).then_some(start_epoch))
        } else {
            Box::new(ProgressLines::new(names))
        };
        let checkpointer = |name| AtomicCheckpointer { directory: run.checkpoints(), name };
        std::fs::create_dir_all(run.checkpoints()).map_err(|e| TrainError::io(run.checkpoints(), e))?;

        let schedule = Schedule::new(&config.schedule, config.lr, iters_per_epoch, config.epochs);
        let (strategy, gradient_scale) = execution_strategy(config, devices);
        let learner = Learner::new(
            Classifier::new(model, config.label_smoothing).with_gradient_scale(gradient_scale),
            crate::optim::build_optimizer(&config.optimizer),
            schedule,
        );
        let mut training = SupervisedTraining::new(&run.root, Arc::new(train_batches), Arc::new(valid_batches))
            .metrics((
                LossMetric::new(),
                AccuracyMetric::new(),
                TopKAccuracyMetric::new(top_k),
                crate::metrics::ImagesPerSecond::default(),
            ))
            .metric_train_numeric(LearningRateMetric::new())
            .with_metric_logger(logger)
            .with_custom_checkpointers(checkpointer("model"), checkpointer("optim"), checkpointer("scheduler"))
            .with_checkpointing_strategy(KeepLastNCheckpoints::new(2))
            .with_interrupter(interrupter)
            .renderer(renderer)
            .with_application_logger(Some(Box::new(QuietPanicLogger(FileApplicationLoggerInstaller::new(
                run.root.join("experiment.log"),
            )))))
            .with_training_strategy(strategy.into())
            .num_epochs(config.epochs);
        if start_epoch > 0 {
            training = training.checkpoint(start_epoch);
        }
        let kept = || match run.last_checkpoint() {
            Some(epoch) => format!("epoch {epoch}"),
            None => "none yet".to_string(),
        };
        // A backend failure (a remote server gone, a device lost) panics inside burn-train: it
        // becomes one error that says which checkpoint resumes.
        let outcome = catching_panics(|| training.launch(learner)).map_err(|reason| {
            let epoch = read_metrics(&run.metrics()).map_or(0, |rows| rows.iter().map(|r| r.epoch).max().unwrap_or(0));
            // Burn's message for a connection lost mid-read names an unrelated limitation.
            let reason = match config.backend.strip_prefix(zoo_models::backend::REMOTE_PREFIX) {
                Some(url) => format!("the remote server {url} failed or went away ({reason})"),
                None => reason,
            };
            TrainError::Crashed { epoch: epoch + 1, reason, kept: kept(), dir: run.root.display().to_string() }
        })?;

        if let Some(d) = divergence.lock().unwrap().clone() {
            return Err(TrainError::Diverged {
                epoch: d.epoch,
                iteration: d.iteration,
                value: format!("{}", d.value),
                kept: kept(),
                dir: run.root.display().to_string(),
            });
        }
        if let Some(error) = outcome.error {
            return Err(TrainError::Learner(error));
        }
        if let Some(interruption) = outcome.interrupted {
            return Err(TrainError::Interrupted(interruption.reason.unwrap_or_else(|| "interrupted".to_string())));
        }
        finish(config, run, outcome.model.model, datasets.test, &device, started)
    } else {
        // Every epoch was trained before the interruption: restore the last one and finish.
        let path = run.checkpoints().join(format!("model-{}.bpk", config.epochs));
        let record = ModuleRecord::load(&path).map_err(|e| TrainError::file(&path, e.to_string()))?;
        let classifier = Classifier::new(model, config.label_smoothing).load_record(record);
        finish(config, run, classifier.model, datasets.test, &device, started)
    }
}

/// burn-train's file logger (`experiment.log`) without the panic hook it adds, which prints a
/// banner of its own: a panic is reported once, by [`catching_panics`].
struct QuietPanicLogger(FileApplicationLoggerInstaller);

impl ApplicationLoggerInstaller for QuietPanicLogger {
    fn install(&self) -> Result<(), String> {
        let ours = std::panic::take_hook();
        let installed = self.0.install();
        drop(std::panic::take_hook());
        std::panic::set_hook(ours);
        installed
    }
}

/// Runs `work`, returning the first line of a panic's message instead of unwinding, with the
/// panic hook silenced meanwhile (it is process-wide: panics that burn-train's worker threads
/// catch and report as errors are silenced too).
fn catching_panics<T>(work: impl FnOnce() -> T) -> Result<T, String> {
    let first: Arc<Mutex<Option<String>>> = Arc::default();
    let previous = std::panic::take_hook();
    let slot = first.clone();
    std::panic::set_hook(Box::new(move |info| {
        let message = panic_text(info.payload()).unwrap_or_else(|| "a panic without a message".to_string());
        slot.lock().unwrap().get_or_insert(message);
    }));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
    drop(std::panic::take_hook());
    std::panic::set_hook(previous);
    outcome.map_err(|_| {
        let message = first.lock().unwrap().take().unwrap_or_else(|| "a panic without a message".to_string());
        message.lines().next().unwrap_or_default().to_string()
    })
}

/// The message a panic carried (`panic!("...")` gives a `&str` or a `String`), if any.
///
/// ```
/// let payload = std::panic::catch_unwind(|| panic!("out of {}", "memory")).unwrap_err();
/// assert_eq!(zoo_train::run::panic_text(payload.as_ref()).as_deref(), Some("out of memory"));
/// ```
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> Option<String> {
    payload.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| payload.downcast_ref::<String>().cloned())
}

/// burn-train's strategy for the run's devices, and the factor on each device's loss that makes
/// the combined gradient the configured reduction of theirs.
fn execution_strategy(config: &TrainConfig, devices: Vec<Device>) -> (ExecutionStrategy, f64) {
    let n = devices.len();
    match config.strategy {
        // The DDP all-reduce averages by itself (`ReduceOperation::Mean`, NCCL's average).
        // `TrainConfig::validate` lets it through on CUDA builds with a cuda backend only.
        Strategy::Ddp => {
            use burn::tensor::distributed::{DistributedConfig, ReduceOperation};
            let op = match config.gradient_reduction {
                GradientReduction::Mean => ReduceOperation::Mean,
                GradientReduction::Sum => ReduceOperation::Sum,
            };
            (ExecutionStrategy::ddp(devices, DistributedConfig { all_reduce_op: op }), 1.0)
        }
        Strategy::MultiDevice if n == 1 => (ExecutionStrategy::single(devices[0].clone()), 1.0),
        Strategy::MultiDevice => {
            // MultiDevice sums the devices' gradients: scaling each device's loss by 1/N makes
            // that sum their mean.
            let scale = match config.gradient_reduction {
                GradientReduction::Mean => 1.0 / n as f64,
                GradientReduction::Sum => 1.0,
            };
            (ExecutionStrategy::multi(devices, MultiDeviceOptim::OptimMainDevice), scale)
        }
    }
}

fn finish(
    config: &TrainConfig,
    run: &RunDir,
    model: ZooModel,
    test: Arc<dyn zoo_data::Dataset>,
    device: &Device,
    started: Instant,
) -> Result<RunResult, TrainError> {
    let model = model.fork(device);
    save_weights(&model, &run.weights())?;
    let rows = read_metrics(&run.metrics())?;
    let points: Vec<CurvePoint> = rows
        .iter()
        .map(|r| CurvePoint { epoch: r.epoch, split: r.split.clone(), loss: r.loss, top1: r.top1 })
        .collect();
    draw_curves(&points, &format!("{} on {}", config.model, config.dataset), &run.curves())?;

    let loader = make_loader(config, test, false)?;
    let report: EvalReport = evaluate(&model, &loader, device)?;
    let result = RunResult {
        model: config.model.clone(),
        dataset: config.dataset.clone(),
        test_top1: report.top1,
        test_top5: report.top5,
        test_images: report.images,
        train_limit: config.train_limit,
        parameters: zoo_models::count_params(&model).0,
        epochs: config.epochs,
        wall_seconds: started.elapsed().as_secs_f64(),
        train_seconds: rows.iter().map(|r| r.seconds).filter(|s| s.is_finite()).sum(),
        backend: config.backend.clone(),
        devices: config.devices.len(),
        seed: config.seed,
        run_dir: run.root.clone(),
    };
    let json = serde_json::to_string_pretty(&result).expect("results serialise");
    write_atomic(&run.result(), json.as_bytes())?;
    Ok(result)
}
