//! `zoo visualize`: the pictures of what a network learned (zoo-viz) for a run directory or a
//! model with weights, written beside a `report.html`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use burn::module::Module;
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor, TensorData};
use clap::Args;
use zoo_data::transforms::{Pipeline, TransformConfig};
use zoo_data::{Dataset, Image, Split};
use zoo_models::{ImageClassifier, ModelSummary, ZooModel};
use zoo_train::eval::InputTransform;
use zoo_viz::canvas::upsample;
use zoo_viz::report::{FiltersSection, ImageSection, LayerRow, OcclusionSection, TopChannel, TopSection};
use zoo_viz::{Canvas, Report, TopUnits, VizError};

use crate::error::CliError;
use crate::train::{ModelSource, Pretrained};
use crate::write_output;

/// Arguments of `zoo visualize`.
#[derive(Debug, Args)]
pub struct VisualizeArgs {
    /// A run directory followed by images, or only images with --model.
    #[arg(value_name = "RUN_DIR|IMAGE")]
    pub paths: Vec<PathBuf>,
    /// The model, when not from a run directory.
    #[command(flatten)]
    pub source: ModelSource,
    /// With --model: torchvision's published weights (the images are then the IMAGE files).
    #[command(flatten)]
    pub pretrained: Pretrained,
    /// Dataset the images and the top-patch search come from (default: the run's).
    #[arg(long)]
    pub dataset: Option<String>,
    /// Where the dataset's files are.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Split: test or train.
    #[arg(long, default_value = "test", value_parser = ["test", "train"])]
    pub split: String,
    /// Without IMAGE files: how many of the split's first images get feature maps, saliency,
    /// Grad-CAM and occlusion pictures.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..))]
    pub images: u32,
    /// Stages whose top-activating patches are searched (default: every stage of
    /// `forward_intermediates`).
    #[arg(long, value_delimiter = ',', value_name = "A,B")]
    pub layers: Vec<String>,
    /// Channels searched: `I,J` in every stage, `STAGE=I,J` in one (added to --layers); ranges
    /// as `A-B`; repeatable (default: the first 8 of each stage).
    #[arg(long, value_name = "[STAGE=]I,J")]
    pub channels: Vec<String>,
    /// The stage Grad-CAM weights (default: the last).
    #[arg(long, value_name = "STAGE")]
    pub grad_cam_stage: Option<String>,
    /// Images searched for top patches (default: the whole split).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub top_images: Option<u32>,
    /// Skip the top-patch search.
    #[arg(long)]
    pub no_top: bool,
    /// Skip the guided-backpropagation projections of the top patches.
    #[arg(long)]
    pub no_projections: bool,
    /// A deeper convolution whose kernels are drawn too, one grey tile per input channel.
    #[arg(long, value_name = "LAYER")]
    pub filters: Option<String>,
    /// Side of the occluding square, in input pixels (default: an eighth of the input).
    #[arg(long, value_name = "PX", value_parser = clap::value_parser!(u32).range(1..))]
    pub occlusion_size: Option<u32>,
    /// Step of the occluding square (default: half its side).
    #[arg(long, value_name = "PX", value_parser = clap::value_parser!(u32).range(1..))]
    pub occlusion_stride: Option<u32>,
    /// Images per forward pass.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch_size: u32,
    /// Output directory (replaced if it holds an earlier report).
    #[arg(long)]
    pub out: PathBuf,
}

/// Patches per channel, as in Zeiler & Fergus' figure.
const TOP_K: usize = 9;
/// Channels searched per stage without --channels.
const DEFAULT_CHANNELS: usize = 8;
/// Feature-map tiles per stage picture.
const MAX_MAPS: usize = 256;

// Where the pictures' images come from.
struct Source {
    model: ZooModel,
    name: String,
    weights: String,
    preprocess: InputTransform,
    /// `preprocess` without normalisation: the image as the model sees it, in `[0, 1]`.
    display: InputTransform,
    classes: Vec<String>,
    device: Device,
    dataset: Option<Arc<dyn Dataset>>,
}

// An image ready for the model and for display.
struct Picture {
    name: String,
    label: Option<usize>,
    display: Image,
    input: Image,
}

/// The preprocessing without normalisation: the image as the model sees it, in `[0, 1]`.
fn display_preprocess(preprocess: &InputTransform) -> InputTransform {
    let kept = preprocess.transforms.transforms.iter().filter(|t| !matches!(t, TransformConfig::Normalize(_)));
    InputTransform { transforms: Pipeline::new(kept.cloned().collect()), ..preprocess.clone() }
}

fn open_source(args: &VisualizeArgs) -> Result<(Source, Vec<PathBuf>), CliError> {
    let (run_dir, images) = match (&args.source.model, args.paths.first()) {
        (Some(_), _) => (None, args.paths.clone()),
        (None, Some(dir)) => (Some(dir.clone()), args.paths[1..].to_vec()),
        (None, None) => return Err("give a run directory, or --model with --weights or --pretrained".into()),
    };
    if let (Some(tag), Some(model)) = (&args.pretrained.pretrained, &args.source.model) {
        if images.is_empty() {
            return Err(
                "--pretrained needs IMAGE files to look at: zoo visualize --model M --pretrained IMAGE...".into()
            );
        }
        let (network, preprocess, classes, backend) =
            crate::train::pretrained_predictor(model, tag, args.source.backend.as_deref())?;
        let device = zoo_models::backend::device(&backend)?;
        let source = Source {
            model: network.valid(),
            name: model.clone(),
            weights: format!("torchvision's {model} {tag}"),
            display: display_preprocess(&preprocess),
            preprocess,
            classes,
            device,
            dataset: None,
        };
        return Ok((source, images));
    }
    let mut loaded = crate::train::load(&args.source, run_dir.as_deref(), args.dataset.as_deref())?;
    if let Some(dir) = &args.data_dir {
        loaded.config.data_dir = dir.clone();
    }
    // The run's smoke-test limits do not narrow what is looked at: --top-images does.
    (loaded.config.train_limit, loaded.config.test_limit) = (None, None);
    let config = &loaded.config;
    let resolved = config.resolved.clone().ok_or("the configuration has no resolved input")?;
    let device = zoo_models::backend::device(&config.backend)?;
    // Image files alone need no dataset; otherwise its split supplies the pictures.
    let dataset = if images.is_empty() || !args.no_top {
        let split = if args.split == "train" { Split::Train } else { Split::Test };
        Some(zoo_train::data::open_split(config, split)?)
    } else {
        None
    };
    let preprocess = InputTransform {
        input: resolved.input,
        raw_input: resolved.raw_input,
        transforms: config.eval_transforms.clone(),
    };
    let weights = match (&loaded.run, &args.source.weights) {
        (Some(run), _) => run.weights().display().to_string(),
        (None, Some(file)) => file.display().to_string(),
        (None, None) => "none".into(),
    };
    let source = Source {
        model: loaded.model.valid(),
        name: config.model.clone(),
        weights,
        display: display_preprocess(&preprocess),
        preprocess,
        classes: resolved.classes,
        device,
        dataset,
    };
    Ok((source, images))
}

impl Source {
    fn dataset_item(&self, index: usize) -> Result<zoo_data::Item, CliError> {
        let dataset = self.dataset.as_ref().ok_or("no dataset")?;
        dataset.get(index).map_err(CliError::from)
    }

    /// Item `index` through `transforms`: the evaluation ones for the model, the display ones
    /// for the pictures.
    fn dataset_image(&self, index: usize, transforms: &Pipeline) -> Result<Image, CliError> {
        let item = self.dataset_item(index)?;
        transforms.apply(item.image, 0, 0, 0).map_err(CliError::from)
    }

    fn dataset_picture(&self, index: usize) -> Result<Picture, CliError> {
        let item = self.dataset_item(index)?;
        let display = self.display.transforms.apply(item.image.clone(), 0, 0, 0)?;
        let input = self.preprocess.transforms.apply(item.image, 0, 0, 0)?;
        let name = format!("{} #{index}", self.dataset.as_ref().map(|d| d.name()).unwrap_or_default());
        Ok(Picture { name, label: Some(item.label), display, input })
    }

    fn file_picture(&self, path: &Path) -> Result<Picture, CliError> {
        let input = self.preprocess.load(path)?;
        let display = self.display.load(path)?;
        let name =
            path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| path.display().to_string());
        Ok(Picture { name, label: None, display, input })
    }

    fn batch(&self, images: &[&Image], device: &Device) -> Tensor<4> {
        let [c, h, w] = images[0].shape();
        let data: Vec<f32> = images.iter().flat_map(|i| i.data.iter().copied()).collect();
        Tensor::from_data(TensorData::new(data, [images.len(), c, h, w]), device)
    }

    fn class_name(&self, index: usize) -> String {
        self.classes.get(index).cloned().unwrap_or_else(|| index.to_string())
    }
}

/// One `--channels` value: `I,J,A-B` for every stage, or `STAGE=I,J` for one.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ChannelSpec {
    stage: Option<String>,
    channels: Vec<usize>,
}

impl ChannelSpec {
    fn parse(text: &str) -> Result<Self, CliError> {
        let (stage, list) = match text.split_once('=') {
            Some((stage, list)) => (Some(stage.trim().to_string()), list),
            None => (None, text),
        };
        let bad = |part: &str| format!("--channels `{text}`: `{part}` is not a channel index or a range A-B");
        let mut channels = Vec::new();
        for part in list.split(',').map(str::trim) {
            match part.split_once('-') {
                Some((a, b)) => {
                    let (a, b): (usize, usize) = (a.parse().map_err(|_| bad(part))?, b.parse().map_err(|_| bad(part))?);
                    if a > b {
                        return Err(bad(part).into());
                    }
                    channels.extend(a..=b);
                }
                None => channels.push(part.parse().map_err(|_| bad(part))?),
            }
        }
        Ok(Self { stage, channels })
    }
}

/// A stage the top-patch search looks at, and its channels.
struct TopStage {
    /// Position among the model's stages (for `forward_intermediates`).
    index: usize,
    name: String,
    channels: Vec<usize>,
}

// What the top-patch search looks at: stages with their channels, checked against the model.
fn top_plan(args: &VisualizeArgs, stages: &[(String, [usize; 3])]) -> Result<Vec<TopStage>, CliError> {
    if args.no_top {
        return Ok(Vec::new());
    }
    let specs: Vec<ChannelSpec> = args.channels.iter().map(|c| ChannelSpec::parse(c)).collect::<Result<_, _>>()?;
    let names: Vec<String> = stages.iter().map(|(n, _)| n.clone()).collect();
    let mut chosen: Vec<String> = if args.layers.is_empty() { names.clone() } else { args.layers.clone() };
    for stage in specs.iter().filter_map(|s| s.stage.as_ref()) {
        if !chosen.contains(stage) {
            chosen.push(stage.clone());
        }
    }
    let everywhere: Option<Vec<usize>> = specs.iter().rev().find(|s| s.stage.is_none()).map(|s| s.channels.clone());
    chosen
        .into_iter()
        .map(|layer| {
            let Some((index, (_, [c, _, _]))) = stages.iter().enumerate().find(|(_, (n, _))| *n == layer) else {
                return Err(VizError::UnknownLayer { layer, what: "stage".into(), valid: names.clone() }.into());
            };
            let own = specs.iter().rev().find(|s| s.stage.as_deref() == Some(layer.as_str()));
            let channels: Vec<usize> = match (own, &everywhere) {
                (Some(spec), _) => spec.channels.clone(),
                (None, Some(channels)) => channels.clone(),
                (None, None) => (0..DEFAULT_CHANNELS.min(*c)).collect(),
            };
            if let Some(&channel) = channels.iter().find(|&&k| k >= *c) {
                return Err(VizError::ChannelOutOfRange { layer, channel, channels: *c }.into());
            }
            Ok(TopStage { index, name: layer, channels })
        })
        .collect()
}

// The output goes to a fresh directory that replaces `out` at the end: a failure halfway leaves
// whatever was there before.
fn staging_dir(out: &Path) -> Result<PathBuf, CliError> {
    if out.exists() {
        let earlier = out.join("visualize.json").is_file();
        let empty = std::fs::read_dir(out).map(|mut d| d.next().is_none()).unwrap_or(false);
        if !earlier && !empty {
            return Err(CliError::Usage(format!(
                "{}: exists and is not an earlier zoo visualize output; give another --out",
                out.display()
            )));
        }
    }
    let name = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "visualize".into());
    let staging = out.with_file_name(format!(".{name}.partial-{}", std::process::id()));
    std::fs::create_dir_all(&staging).map_err(|e| CliError::io(&staging, e))?;
    Ok(staging)
}

fn publish(staging: &Path, out: &Path) -> Result<(), CliError> {
    if out.exists() {
        std::fs::remove_dir_all(out).map_err(|e| CliError::io(out, e))?;
    }
    std::fs::rename(staging, out).map_err(|e| CliError::io(out, e))
}

fn save(canvas: &Canvas, dir: &Path, name: &str) -> Result<String, CliError> {
    canvas.save_png(&dir.join(name))?;
    Ok(name.to_string())
}

/// A file-name-safe form of a layer name.
fn slug(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect()
}

/// `zoo visualize`.
pub fn run_visualize(args: VisualizeArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let started = Instant::now();
    let (source, files) = open_source(&args)?;
    let summary: ModelSummary = source.model.summary(&source.name, source.preprocess.input)?;

    // Every input is read and every name checked before anything is written.
    let pictures: Vec<Picture> = if files.is_empty() {
        let available = source.dataset.as_ref().map(|d| d.len()).unwrap_or(0);
        (0..(args.images as usize).min(available)).map(|i| source.dataset_picture(i)).collect::<Result<_, _>>()?
    } else {
        files.iter().map(|p| source.file_picture(p)).collect::<Result<_, _>>()?
    };
    if pictures.is_empty() {
        return Err("no images to look at: the dataset split is empty".into());
    }
    let first = source.batch(&[&pictures[0].input], &source.device);
    let stages: Vec<(String, [usize; 3])> = source
        .model
        .forward_intermediates(first, None, false)
        .1
        .into_iter()
        .map(|s| {
            let [_, c, h, w] = s.tensor.dims();
            (s.name, [c, h, w])
        })
        .collect();
    let plan = top_plan(&args, &stages)?;
    let names: Vec<String> = stages.iter().map(|(n, _)| n.clone()).collect();
    let cam_stage = match &args.grad_cam_stage {
        Some(stage) if !names.contains(stage) => {
            return Err(VizError::UnknownLayer { layer: stage.clone(), what: "stage".into(), valid: names }.into());
        }
        Some(stage) => stage.clone(),
        None => names.last().cloned().ok_or("the model has no stages")?,
    };
    let first_conv = zoo_viz::first_convolution(&summary).ok_or("the model has no convolution")?.to_string();
    let kernels = zoo_viz::conv_kernels(&source.model, &summary, &first_conv)?;
    let deeper = match &args.filters {
        Some(layer) => Some(zoo_viz::conv_kernels(&source.model, &summary, layer)?),
        None => None,
    };

    let staging = staging_dir(&args.out)?;
    let result = draw(&args, &source, &summary, &pictures, &plan, &cam_stage, kernels, deeper, &staging, out);
    match result {
        Ok(report) => {
            publish(&staging, &args.out)?;
            let line = format!(
                "visualized {}: filters, feature maps of {} stages for {} images, saliency, Grad-CAM, occlusion{}; {:.1} s -> {}\n",
                source.name,
                stages.len(),
                report.images.len(),
                if report.top.is_empty() {
                    String::new()
                } else {
                    format!(", top patches of {} stages", report.top.len())
                },
                started.elapsed().as_secs_f64(),
                args.out.join("report.html").display()
            );
            write_output(out, &line)
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            Err(e)
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn draw(
    args: &VisualizeArgs,
    source: &Source,
    summary: &ModelSummary,
    pictures: &[Picture],
    plan: &[TopStage],
    cam_stage: &str,
    kernels: zoo_viz::Kernels,
    deeper: Option<zoo_viz::Kernels>,
    dir: &Path,
    out: &mut dyn Write,
) -> Result<Report, CliError> {
    let device = &source.device;
    let filters = FiltersSection {
        layer: kernels.layer.clone(),
        shape: kernels.shape,
        picture: save(&zoo_viz::kernel_grid(&kernels, 40), dir, "filters.png")?,
    };
    let deeper_filters = match &deeper {
        Some(k) => Some(FiltersSection {
            layer: k.layer.clone(),
            shape: k.shape,
            picture: save(&zoo_viz::per_channel_grid(k, 24, 32), dir, &format!("filters-{}.png", slug(&k.layer)))?,
        }),
        None => None,
    };

    let differentiable = zoo_viz::differentiable(&source.model, device);
    let autodiff = device.clone().autodiff();
    let [_, h, w] = source.preprocess.input;
    let size = args.occlusion_size.map(|s| s as usize).unwrap_or((h.min(w) / 8).max(1));
    let stride = args.occlusion_stride.map(|s| s as usize).unwrap_or((size / 2).max(1));
    let view = 192usize;
    let mut images = Vec::new();
    for (i, picture) in pictures.iter().enumerate() {
        let input = source.batch(&[&picture.input], device);
        let probabilities = zoo_viz::host_values(softmax(source.model.forward(input.clone()), 1));
        let top1 = (0..probabilities.len()).max_by(|&a, &b| probabilities[a].total_cmp(&probabilities[b])).unwrap_or(0);
        let explained = picture.label.unwrap_or(top1);
        let shown = Canvas::from_image(&picture.display);
        let scale = view.div_ceil(w.max(h));
        let base = shown.scaled(scale);
        let stem = format!("image-{i}");

        let stages = zoo_viz::stage_maps(&source.model, input, 32, MAX_MAPS)
            .into_iter()
            .map(|s| {
                let file = save(&s.picture, dir, &format!("{stem}-features-{}.png", slug(&s.stage)))?;
                Ok((s.label(), file))
            })
            .collect::<Result<Vec<_>, CliError>>()?;

        let ad_input = source.batch(&[&picture.input], &autodiff);
        let logits = |x: Tensor<4>| differentiable.forward(x);
        let saliency = zoo_viz::saliency(&logits, ad_input.clone(), explained);
        let saliency_file =
            save(&Canvas::heat(&saliency, h, w, None).scaled(scale), dir, &format!("{stem}-saliency.png"))?;

        let cam = zoo_viz::grad_cam(&zoo_viz::hooked_logits(&differentiable), cam_stage, ad_input, explained)?;
        let cam_pixels = upsample(&cam.map, cam.shape, [h, w]);
        let cam_picture = shown.blend(&Canvas::heat(&cam_pixels, h, w, None), 0.5).scaled(scale);
        let cam_file = save(&cam_picture, dir, &format!("{stem}-gradcam.png"))?;

        let classify = |x: Tensor<4>| softmax(source.model.forward(x), 1);
        let occlusion = zoo_viz::occlusion(
            &classify, &picture.input, explained, size, stride, 0.0, args.batch_size as usize, device,
        );
        let occlusion_picture =
            shown.blend(&Canvas::heat(&occlusion.per_pixel, h, w, Some((0.0, 1.0))), 0.6).scaled(scale);
        let lowest = occlusion.probabilities.iter().copied().fold(f32::INFINITY, f32::min);

        images.push(ImageSection {
            name: picture.name.clone(),
            label: picture.label.map(|l| source.class_name(l)),
            predicted: (source.class_name(top1), probabilities[top1]),
            picture: save(&base, dir, &format!("{stem}.png"))?,
            stages,
            saliency: Some(saliency_file),
            grad_cam: Some((cam.stage, cam_file)),
            occlusion: Some(OcclusionSection {
                picture: save(&occlusion_picture, dir, &format!("{stem}-occlusion.png"))?,
                size,
                stride,
                unoccluded: occlusion.unoccluded,
                lowest,
            }),
            explained: source.class_name(explained),
        });
    }

    let top = if plan.is_empty() { Vec::new() } else { search_top(args, source, summary, pictures, plan, dir, out)? };
    let report = Report {
        model: source.name.clone(),
        weights: source.weights.clone(),
        input: source.preprocess.input,
        layers: LayerRow::from_summary(summary),
        filters: Some(filters),
        deeper_filters,
        images,
        top,
    };
    zoo_viz::write_report(&report, dir)?;
    Ok(report)
}

// Streams the dataset (or the given images) through the network once, keeping each chosen
// channel's best hits, then crops the patches.
fn search_top(
    args: &VisualizeArgs,
    source: &Source,
    summary: &ModelSummary,
    pictures: &[Picture],
    plan: &[TopStage],
    dir: &Path,
    out: &mut dyn Write,
) -> Result<Vec<TopSection>, CliError> {
    let total = match &source.dataset {
        Some(d) => args.top_images.map_or(d.len(), |n| n as usize).min(d.len()),
        None => pictures.len(),
    };
    // Image `index` of the searched set, as the model takes it.
    let input_of = |index: usize| -> Result<Image, CliError> {
        match &source.dataset {
            Some(_) => source.dataset_image(index, &source.preprocess.transforms),
            None => Ok(pictures[index].input.clone()),
        }
    };
    let mut searches: Vec<TopUnits> = plan.iter().map(|s| TopUnits::new(s.channels.clone(), TOP_K)).collect();
    // Only the stages searched are kept, and the body stops after the deepest (timm's stop_early).
    let indices: Vec<usize> = plan.iter().map(|s| s.index).collect();
    let started = Instant::now();
    let batch = args.batch_size as usize;
    let mut next_report = 0.1;
    for start in (0..total).step_by(batch) {
        let end = (start + batch).min(total);
        let inputs: Vec<Image> = (start..end).map(input_of).collect::<Result<_, _>>()?;
        let refs: Vec<&Image> = inputs.iter().collect();
        let images = source.batch(&refs, &source.device);
        let (_, stages) = source.model.forward_intermediates(images, Some(&indices), true);
        for (stage, search) in plan.iter().zip(&mut searches) {
            let map = stages.iter().find(|s| s.name == stage.name);
            let map = map.ok_or_else(|| format!("stage {} vanished", stage.name))?;
            let dims = map.tensor.dims();
            search.add_batch(&zoo_viz::host_values(map.tensor.clone()), dims, start);
        }
        let done = end as f64 / total as f64;
        if done >= next_report || end == total {
            let seconds = started.elapsed().as_secs_f64();
            let rate = end as f64 / seconds.max(1e-9);
            let eta = (total - end) as f64 / rate.max(1e-9);
            let line = format!(
                "top patches {:3.0}% | {end}/{total} images | {rate:.0} img/s | ETA {eta:.0} s\n",
                100.0 * done
            );
            write_output(out, &line)?;
            next_report = (done * 10.0).floor() / 10.0 + 0.1;
        }
    }
    let seconds = started.elapsed().as_secs_f64();

    // Guided backpropagation runs on flex's autodiff device, where the zoo's guided ReLU is.
    let guided = (!args.no_projections).then(|| zoo_viz::differentiable(&source.model, &Device::flex()));
    let mut sections = Vec::new();
    for (stage, search) in plan.iter().zip(searches) {
        let stage = &stage.name;
        let row = zoo_viz::top::stage_row(summary, stage).ok_or_else(|| format!("no summary row for stage {stage}"))?;
        let field = row.receptive_field;
        let channels = search.channels().to_vec();
        let sorted = search.into_sorted();
        let projected = Instant::now();
        let mut projections: Vec<Vec<Canvas>> = Vec::new();
        if let Some(model) = &guided {
            let units: Vec<(usize, zoo_viz::Unit)> = channels
                .iter()
                .zip(&sorted)
                .flat_map(|(&channel, hits)| {
                    hits.iter().map(move |h| (h.image, zoo_viz::Unit { channel, y: h.y, x: h.x }))
                })
                .collect();
            let network = zoo_viz::hooked_logits(model);
            let mut crops = Vec::with_capacity(units.len());
            for chunk in units.chunks(batch) {
                let inputs: Vec<Image> = chunk.iter().map(|(image, _)| input_of(*image)).collect::<Result<_, _>>()?;
                let refs: Vec<&Image> = inputs.iter().collect();
                let chunk_units: Vec<zoo_viz::Unit> = chunk.iter().map(|(_, u)| *u).collect();
                let images = source.batch(&refs, &Device::flex().autodiff());
                let gradients = zoo_viz::guided_projections(&network, stage, images, &chunk_units)?;
                for (gradient, (_, unit)) in gradients.iter().zip(chunk) {
                    let picture = zoo_viz::projection_image(gradient, source.preprocess.input);
                    crops.push(zoo_viz::crop_field(&picture, &field, unit.y, unit.x).at_least(64));
                }
            }
            let mut crops = crops.into_iter();
            projections = sorted.iter().map(|hits| crops.by_ref().take(hits.len()).collect()).collect();
        }
        let projection_seconds = projected.elapsed().as_secs_f64();
        let mut entries = Vec::new();
        for (index, (channel, hits)) in channels.into_iter().zip(sorted).enumerate() {
            let patches = hits
                .iter()
                .map(|hit| {
                    let display = match &source.dataset {
                        Some(_) => source.dataset_image(hit.image, &source.display.transforms)?,
                        None => pictures[hit.image].display.clone(),
                    };
                    Ok(zoo_viz::crop_field(&display, &field, hit.y, hit.x).at_least(64))
                })
                .collect::<Result<Vec<_>, CliError>>()?;
            let picture =
                save(&zoo_viz::grid(&patches, TOP_K, 2), dir, &format!("top-{}-c{channel}.png", slug(stage)))?;
            let projections = match projections.get(index) {
                Some(row) => {
                    Some(save(&zoo_viz::grid(row, TOP_K, 2), dir, &format!("guided-{}-c{channel}.png", slug(stage)))?)
                }
                None => None,
            };
            entries.push(TopChannel { channel, picture, projections, hits });
        }
        sections.push(TopSection {
            stage: stage.clone(),
            receptive_field: [field.size_label(), field.jump_label(), field.start_label()],
            images: total,
            seconds,
            projection_seconds: guided.as_ref().map(|_| projection_seconds),
            channels: entries,
        });
    }
    Ok(sections)
}
