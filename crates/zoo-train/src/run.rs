//! A training run: its directory, burn-train's `SupervisedTraining` set up from a
//! [`TrainConfig`], atomic checkpoints, resume, and the files written at the end.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use burn::module::Module;
use burn::store::ModuleRecord;
use burn::tensor::Device;
use burn::train::checkpoint::{Checkpoint, Checkpointer, CheckpointerError, KeepLastNCheckpoints};
use burn::train::metric::{AccuracyMetric, LearningRateMetric, LossMetric, Metric, TopKAccuracyMetric};
use burn::train::renderer::{MetricsRenderer, default_renderer};
use burn::train::{Interrupter, Learner, SupervisedTraining};
use serde::{Deserialize, Serialize};
use zoo_models::weights::{LoadOptions, LoadReport};
use zoo_models::{ImageClassifier, ModelOptions, ZooModel};

use crate::classifier::Classifier;
use crate::config::TrainConfig;
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
    /// Seed.
    pub seed: u64,
    /// The run directory.
    pub run_dir: PathBuf,
}

/// The files of a run directory.
#[derive(Debug, Clone)]
pub struct RunDir {
    /// The directory.
    pub root: PathBuf,
}

impl RunDir {
    /// `config.json`.
    pub fn config(&self) -> PathBuf {
        self.root.join("config.json")
    }
    /// `metrics.csv`.
    pub fn metrics(&self) -> PathBuf {
        self.root.join("metrics.csv")
    }
    /// `checkpoint/`.
    pub fn checkpoints(&self) -> PathBuf {
        self.root.join("checkpoint")
    }
    /// `model.bpk`: the final weights.
    pub fn weights(&self) -> PathBuf {
        self.root.join("model.bpk")
    }
    /// `curves.png`.
    pub fn curves(&self) -> PathBuf {
        self.root.join("curves.png")
    }
    /// `result.json`.
    pub fn result(&self) -> PathBuf {
        self.root.join("result.json")
    }

    /// Reads `config.json`.
    pub fn read_config(&self) -> Result<TrainConfig, TrainError> {
        let path = self.config();
        let text = std::fs::read_to_string(&path)
            .map_err(|e| TrainError::file(&path, format!("{e} (is {} a run directory?)", self.root.display())))?;
        let json = serde_json::from_str(&text).map_err(|e| TrainError::file(&path, e))?;
        crate::config::parse_config(&json, &path.display().to_string())
    }

    /// The last epoch whose model, optimizer and scheduler checkpoints were all written.
    pub fn last_checkpoint(&self) -> Option<usize> {
        let dir = self.checkpoints();
        let entries = std::fs::read_dir(&dir).ok()?;
        entries
            .filter_map(|e| {
                let name = e.ok()?.file_name().into_string().ok()?;
                name.strip_prefix("model-")?.strip_suffix(".bpk")?.parse::<usize>().ok()
            })
            .filter(|epoch| ["optim", "scheduler"].iter().all(|kind| dir.join(format!("{kind}-{epoch}.bpk")).is_file()))
            .max()
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename, so a
/// reader (or a run killed mid-write) never sees a partial file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    zoo_models::weights::write_atomic(path, bytes).map_err(|e| TrainError::Weights(Box::new(e)))
}

/// burn-train checkpointer writing `<name>-<epoch>.bpk` atomically (temporary file + rename).
struct AtomicCheckpointer {
    directory: PathBuf,
    name: &'static str,
}

impl AtomicCheckpointer {
    fn path(&self, epoch: usize) -> PathBuf {
        self.directory.join(format!("{}-{epoch}.bpk", self.name))
    }
}

impl<R: Checkpoint> Checkpointer<R> for AtomicCheckpointer {
    fn save(&self, epoch: usize, record: R) -> Result<(), CheckpointerError> {
        let bytes = record.checkpoint_into_bytes().map_err(CheckpointerError::Record)?;
        write_atomic(&self.path(epoch), &bytes).map_err(|e| CheckpointerError::Unknown(e.to_string()))
    }

    fn restore(&self, epoch: usize) -> Result<R, CheckpointerError> {
        R::load(self.path(epoch))
    }

    fn delete(&self, epoch: usize) -> Result<(), CheckpointerError> {
        match std::fs::remove_file(self.path(epoch)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(CheckpointerError::IOError(e)),
            _ => Ok(()),
        }
    }
}

/// Saves a model's weights to a Burnpack file, atomically.
pub fn save_weights(model: &ZooModel, path: &Path) -> Result<(), TrainError> {
    zoo_models::weights::save_burnpack(model, path).map_err(|e| TrainError::Weights(Box::new(e)))
}

/// Loads weights into `model`, strictly: every tensor of the model must be in the file with its
/// shape, and the file must hold nothing else. Any format [`zoo_models::weights::load`] reads
/// works: a run's `model.bpk` or checkpoint, a PyTorch state dict, a safetensors file.
pub fn load_weights(model: &mut ZooModel, path: &Path) -> Result<(), TrainError> {
    load_weights_with(model, path, &LoadOptions::default()).map(|_| ())
}

/// [`load_weights`] with options (`allow_partial`, a checkpoint's top-level key); returns what
/// was loaded and what did not fit.
pub fn load_weights_with(model: &mut ZooModel, path: &Path, options: &LoadOptions) -> Result<LoadReport, TrainError> {
    zoo_models::weights::load(model, path, options).map_err(|e| TrainError::Weights(Box::new(e)))
}

/// Where a new run goes: `--out` if given, else `runs/<model>-<dataset>-<UTC time>`.
pub fn default_run_dir(config: &TrainConfig) -> PathBuf {
    let [y, m, d, hh, mm, ss] = utc_now();
    let dataset = config.dataset.rsplit(['/', ':']).next().unwrap_or("data");
    PathBuf::from("runs").join(format!("{}-{}-{y:04}{m:02}{d:02}-{hh:02}{mm:02}{ss:02}", config.model, dataset))
}

/// The current UTC time as `[year, month, day, hour, minute, second]`.
pub(crate) fn utc_now() -> [u64; 6] {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    [y as u64, m.into(), d.into(), rem / 3600, (rem / 60) % 60, rem % 60]
}

// Howard Hinnant's days-to-civil-date algorithm (proleptic Gregorian, UTC).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Starts a new run of `config` in `dir`, which must not hold a run already.
pub fn train(config: TrainConfig, dir: &Path) -> Result<RunResult, TrainError> {
    let run = RunDir { root: dir.to_path_buf() };
    if run.config().exists() {
        return Err(TrainError::Config(format!(
            "{} already holds a run: continue it with `zoo train --resume {0}` or choose another --out",
            dir.display()
        )));
    }
    let datasets = open_datasets(&config)?;
    let config = TrainConfig {
        resolved: Some(Resolved::from_datasets(&config, &*datasets.test, datasets.train.classes())?),
        ..config
    };
    // A model that cannot take this input, or weights that do not fit it, are one error before
    // anything is written.
    let model = initial_model(&config, 0)?;
    std::fs::create_dir_all(dir).map_err(|e| TrainError::file(dir, e))?;
    let json = serde_json::to_string_pretty(&config).expect("configs serialise");
    write_atomic(&run.config(), json.as_bytes())?;
    truncate_metrics(&run.metrics(), 0)?;
    fit(&config, &run, 0, datasets, model)
}

/// What [`dry_run`] did: one training step and one evaluation batch, with nothing written.
#[derive(Debug, Clone, Serialize)]
pub struct DryRun {
    /// `[C, H, W]` of the model's input, after the evaluation transforms.
    pub input: [usize; 3],
    /// `[C, H, W]` of the dataset's first test image.
    pub raw_input: [usize; 3],
    /// Classes of the dataset, and outputs of the model.
    pub classes: usize,
    /// Images in the training batch.
    pub batch: usize,
    /// Loss of the training batch, before the optimizer's step.
    pub train_loss: f32,
    /// Loss of the first evaluation batch, after the step.
    pub valid_loss: f32,
}

impl DryRun {
    /// One line for `zoo train --dry-run`.
    pub fn summary_line(&self, config: &TrainConfig) -> String {
        format!(
            "dry run: {} on {} takes {} inputs ({} images), {} classes; one training step on {} images (loss {:.4}) \
             and one evaluation batch (loss {:.4}); nothing written",
            config.model,
            config.dataset,
            zoo_models::summary::format_shape(&self.input),
            zoo_models::summary::format_shape(&self.raw_input),
            self.classes,
            self.batch,
            self.train_loss,
            self.valid_loss
        )
    }
}

/// Checks that `config` trains, as PyTorch Lightning's `fast_dev_run` does: opens the data,
/// builds the model (with its `init` weights), takes one optimizer step on the first training
/// batch and evaluates the first test batch; writes nothing. A loss that is not finite is an
/// error.
///
/// ```no_run
/// let mut config = zoo_train::recipe("lenet5-synth")?;
/// config.batch_size = 4;
/// let check = zoo_train::dry_run(config)?;
/// assert_eq!(check.input, [1, 32, 32]);
/// # Ok::<(), zoo_train::TrainError>(())
/// ```
pub fn dry_run(config: TrainConfig) -> Result<DryRun, TrainError> {
    use burn::optim::GradientsParams;
    let datasets = open_datasets(&config)?;
    let resolved = Resolved::from_datasets(&config, &*datasets.test, datasets.train.classes())?;
    let config = TrainConfig { resolved: Some(resolved.clone()), ..config };
    let model = initial_model(&config, 0)?;
    let device = crate::backend::device(&config.backend)?;
    let batch = make_loader(&config, datasets.train, true)?.batch(0, 0)?;
    let images = batch.shape[0];
    let classifier = Classifier::new(model, config.label_smoothing);
    let output = classifier.forward_classification(batch.into_device(&device.clone().autodiff()), true);
    let train_loss = output.loss.clone().into_scalar::<f32>();
    let grads = GradientsParams::from_grads(output.loss.backward(), &classifier);
    let classifier = crate::optim::build_optimizer(&config.optimizer).step(config.lr, classifier, grads);
    let model = classifier.model.fork(&device);
    let batch = make_loader(&config, datasets.test, false)?.batch(0, 0)?.into_device(&device);
    let valid_loss =
        crate::classifier::cross_entropy(model.forward(batch.images), batch.labels, None, 0.0).into_scalar::<f32>();
    if !(train_loss.is_finite() && valid_loss.is_finite()) {
        return Err(TrainError::Training(format!(
            "{} on {}: the loss is not finite (training {train_loss}, evaluation {valid_loss})",
            config.model, config.dataset
        )));
    }
    Ok(DryRun {
        input: resolved.input,
        raw_input: resolved.raw_input,
        classes: resolved.classes.len(),
        batch: images,
        train_loss,
        valid_loss,
    })
}

/// Continues the run in `dir` from its last complete checkpoint.
pub fn resume(dir: &Path) -> Result<RunResult, TrainError> {
    let run = RunDir { root: dir.to_path_buf() };
    let config = run.read_config()?;
    let last = run.last_checkpoint().unwrap_or(0).min(config.epochs);
    // Rows of epochs after the checkpoint belong to the interrupted session: they are redone.
    truncate_metrics(&run.metrics(), last)?;
    let datasets = open_datasets(&config)?;
    let model = initial_model(&config, last)?;
    fit(&config, &run, last, datasets, model)
}

/// Model input and class names, recorded in `config.json` so that `zoo predict` and `zoo eval`
/// work without the training data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resolved {
    /// `[C, H, W]` of the model's input (after the evaluation transforms).
    pub input: [usize; 3],
    /// `[C, H, W]` of the dataset's own images (before any transform).
    pub raw_input: [usize; 3],
    /// Class names, by label.
    pub classes: Vec<String>,
}

impl Resolved {
    /// The model input a configuration's evaluation transforms make of the test set's first
    /// image, with the given class names.
    pub fn from_datasets(
        config: &TrainConfig,
        test: &dyn zoo_data::Dataset,
        classes: &[String],
    ) -> Result<Self, TrainError> {
        let item = test.get(0)?;
        let raw_input = item.image.shape();
        let input = config.eval_transforms.apply(item.image, config.seed, 0, 0)?.shape();
        Ok(Self { input, raw_input, classes: classes.to_vec() })
    }
}

/// The configured model, sized for the resolved input and classes, on `device`; an input the
/// network cannot take (a vanishing feature map) is an error here rather than mid-training.
pub fn build_model(config: &TrainConfig, device: &Device) -> Result<ZooModel, TrainError> {
    let resolved =
        config.resolved.as_ref().ok_or_else(|| TrainError::Config("the configuration has no resolved input".into()))?;
    let mut options =
        ModelOptions::default().with_num_classes(resolved.classes.len()).with_in_channels(resolved.input[0]);
    options.dropout = config.dropout;
    options.aux_logits = config.aux_logits;
    let model = zoo_models::create(&config.model, &options, device).map_err(|e| TrainError::Config(e.to_string()))?;
    let info = zoo_models::info(&config.model).map_err(|e| TrainError::Config(e.to_string()))?;
    let summary = model.summary(info.name, resolved.input).map_err(|e| {
        let [channels, h, w] = resolved.input;
        let smallest_with = |aux| crate::choose::smallest_input(&config.model, channels, h.max(w), aux).ok();
        let mut smallest = smallest_with(config.aux_logits)
            .map(|side| format!("; the smallest input it takes is {channels}x{side}x{side}"))
            .unwrap_or_default();
        // Inception v3's auxiliary head needs 299 pixels, the network itself 75.
        if info.aux_logits.is_some()
            && config.aux_logits != Some(false)
            && let (Some(with), Some(without)) = (smallest_with(config.aux_logits), smallest_with(Some(false)))
            && without < with
        {
            smallest.push_str(&format!(", {channels}x{without}x{without} with --set aux_logits=false"));
        }
        TrainError::Config(format!("{}: {e}{smallest}", config.model))
    })?;
    if let Some(e) = summary.auxiliary_error {
        return Err(TrainError::Config(format!(
            "{}: the auxiliary classifier cannot train on a {} input ({e}); --set aux_logits=false trains without it",
            config.model,
            zoo_models::summary::format_shape(&resolved.input)
        )));
    }
    Ok(model)
}

/// The model a session starts training: seeded, on the autodiff device (burn-train forks the
/// learner there, and a parameter born on a plain device is not tracked), with the `init`
/// weights loaded when the run starts from scratch.
fn initial_model(config: &TrainConfig, start_epoch: usize) -> Result<ZooModel, TrainError> {
    let device = crate::backend::device(&config.backend)?;
    device.seed(config.seed);
    let mut model = build_model(config, &device.autodiff())?;
    if let (Some(init), 0) = (&config.init, start_epoch) {
        let classes = config.resolved.as_ref().map_or(0, |r| r.classes.len());
        let report = crate::finetune::load_init(&mut model, &config.model, init, classes)
            .map_err(|e| TrainError::Config(format!("{}: {e}", config.model)))?;
        println!("weights: {} ({})", report.summary(), init.describe());
    }
    Ok(model)
}

fn fit(
    config: &TrainConfig,
    run: &RunDir,
    start_epoch: usize,
    datasets: Datasets,
    model: ZooModel,
) -> Result<RunResult, TrainError> {
    let started = Instant::now();
    let device = crate::backend::device(&config.backend)?;
    let train_loader = make_loader(config, datasets.train.clone(), true)?;
    let valid_loader = make_loader(config, datasets.valid.clone(), false)?;
    let iters_per_epoch = train_loader.num_batches();
    // burn-train's top-k metric refuses k above the class count (a 3-class folder): top-5 is then
    // top-3, as `top_k_correct` counts it.
    let top_k = config.resolved.as_ref().map_or(5, |r| r.classes.len().clamp(1, 5));

    if start_epoch < config.epochs {
        let clock = SplitClock::default();
        let train_batches =
            EpochLoader::new(train_loader, "train", start_epoch + 1, clock.clone()).reseeding(config.seed);
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
        std::fs::create_dir_all(run.checkpoints()).map_err(|e| TrainError::file(run.checkpoints(), e))?;

        let schedule = Schedule::new(&config.schedule, config.lr, iters_per_epoch, config.epochs);
        let learner = Learner::new(
            Classifier::new(model, config.label_smoothing),
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
            .num_epochs(config.epochs);
        if start_epoch > 0 {
            training = training.checkpoint(start_epoch);
        }
        let outcome = training.launch(learner);

        if let Some(d) = divergence.lock().unwrap().clone() {
            let kept = match run.last_checkpoint() {
                Some(epoch) => format!("epoch {epoch}"),
                None => "none yet".to_string(),
            };
            return Err(TrainError::Diverged {
                epoch: d.epoch,
                iteration: d.iteration,
                value: format!("{}", d.value),
                kept,
                dir: run.root.display().to_string(),
            });
        }
        if let Some(error) = outcome.error {
            return Err(TrainError::Training(error.to_string()));
        }
        if let Some(interruption) = outcome.interrupted {
            return Err(TrainError::Training(interruption.reason.unwrap_or_else(|| "interrupted".to_string())));
        }
        finish(config, run, outcome.model.model, datasets.test, &device, started)
    } else {
        // Every epoch was trained before the interruption: restore the last one and finish.
        let path = run.checkpoints().join(format!("model-{}.bpk", config.epochs));
        let record = ModuleRecord::load(&path).map_err(|e| TrainError::file(&path, e))?;
        let classifier = Classifier::new(model, config.label_smoothing).load_record(record);
        finish(config, run, classifier.model, datasets.test, &device, started)
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
        seed: config.seed,
        run_dir: run.root.clone(),
    };
    let json = serde_json::to_string_pretty(&result).expect("results serialise");
    write_atomic(&run.result(), json.as_bytes())?;
    Ok(result)
}

impl RunResult {
    /// The one-line summary printed at the end of `zoo train`.
    pub fn summary_line(&self) -> String {
        let sample = self.train_limit.map(|n| format!(", trained on a sample of {n} images")).unwrap_or_default();
        format!(
            "{} on {}: test top-1 {:.2}%, top-5 {:.2}% ({} images) after {} epochs{sample}; {} of training on {} (seed {}) -> {}",
            self.model,
            self.dataset,
            self.test_top1,
            self.test_top5,
            self.test_images,
            self.epochs,
            format_duration(self.train_seconds),
            self.backend,
            self.seed,
            self.run_dir.display()
        )
    }
}
