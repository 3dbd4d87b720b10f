//! Per-model checks in the style of torchvision's and timm's model tests: output shape with an
//! odd class count, no NaN, a gradient for every trainable parameter, exact parameter counts,
//! MACs against published figures, and traced shapes equal to what a forward pass produces.

use std::panic::AssertUnwindSafe;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Distribution, Gradients, Tensor};
use zoo_models::{
    FeatureMap, ImageClassifier, MODELS, ModelInfo, ModelOptions, ModelSummary, ShapeError, Stages, ZooModel,
    count_params, create, info, trainable_params,
};

/// Trainable parameters with the default class count (1000, or 10 for LeNet-5 and the CIFAR
/// ResNets): torchvision's published counts, LeNet-5's counted by hand, and the CIFAR ResNets'
/// (He et al. 2015, Table 6: 0.27 M to 1.7 M) counted exactly.
const EXPECTED_PARAMS: &[(&str, usize)] = &[
    ("lenet5", 61_706),
    ("alexnet", 61_100_840),
    // Not in torchvision; by hand: conv 14,208 + 614,656 + 885,120 + 1,327,488 + 884,992,
    // fc 37,752,832 + 16,781,312 + 4,097,000.
    ("zfnet", 62_357_608),
    ("vgg11", 132_863_336),
    ("vgg13", 133_047_848),
    ("vgg16", 138_357_544),
    ("vgg19", 143_667_240),
    ("vgg11_bn", 132_868_840),
    ("vgg13_bn", 133_053_736),
    ("vgg16_bn", 138_365_992),
    ("vgg19_bn", 143_678_248),
    ("resnet18", 11_689_512),
    ("resnet34", 21_797_672),
    ("resnet50", 25_557_032),
    ("resnet101", 44_549_160),
    ("resnet152", 60_192_808),
    ("resnet20", 269_722),
    ("resnet32", 464_154),
    ("resnet44", 658_586),
    ("resnet56", 853_018),
    ("resnet110", 1_727_962),
    ("googlenet", 6_624_904),
    ("inception_v3", 27_161_264),
    ("densenet121", 7_978_856),
    ("densenet161", 28_681_000),
    ("densenet169", 14_149_480),
    ("densenet201", 20_013_928),
];

/// Multiply-accumulates per image at the default input: torchvision's published figures, LeNet-5's
/// hand count, and the widely reproduced counts for ResNet-20 and ResNet-56.
const EXPECTED_GMACS: &[(&str, f64)] = &[
    ("lenet5", 0.000417),
    ("alexnet", 0.714),
    ("vgg11", 7.609),
    ("vgg13", 11.308),
    ("vgg16", 15.47),
    ("vgg19", 19.632),
    ("vgg16_bn", 15.47),
    ("resnet18", 1.814),
    ("resnet34", 3.664),
    ("resnet50", 4.089),
    ("resnet101", 7.801),
    ("resnet152", 11.514),
    ("resnet20", 0.0406),
    ("resnet56", 0.1255),
    ("googlenet", 1.498),
    ("inception_v3", 5.713),
    ("densenet121", 2.834),
    ("densenet161", 7.728),
    ("densenet169", 3.360),
    ("densenet201", 4.291),
];

#[test]
fn every_registered_model_has_its_exact_parameter_count() {
    let device = Device::flex();
    for info in MODELS.iter() {
        let expected = EXPECTED_PARAMS.iter().find(|(n, _)| *n == info.name).map(|(_, p)| *p);
        let expected = expected.unwrap_or_else(|| panic!("{} has no expected count in this test", info.name));
        let model = info.build(&device);
        let (trainable, buffers) = count_params(&model);
        assert_eq!(trainable, expected, "{}: trainable parameters", info.name);
        // Burn's own count includes the BatchNorm statistics.
        assert_eq!(trainable + buffers, model.num_params(), "{}", info.name);
        let summary = model.summary(info.name, info.default_input).unwrap();
        assert_eq!(summary.trainable_params, expected, "{}: summary's parameter count", info.name);
        assert_eq!(summary.buffers, buffers, "{}: summary's buffer count", info.name);
    }
}

#[test]
fn macs_are_within_one_percent_of_published_figures() {
    let device = Device::flex();
    for (name, gmacs) in EXPECTED_GMACS {
        let info = info(name).unwrap();
        let summary = info.default_summary(&device);
        let relative = (summary.gmacs() - gmacs).abs() / gmacs;
        assert!(relative < 0.01, "{name}: {} GMACs against published {gmacs}", summary.gmacs());
        assert_eq!(info.published_gmacs, Some(*gmacs), "{name}: registry figure");
    }
}

#[test]
fn resnet50_summary_matches_torchvision() {
    let summary = info("resnet50").unwrap().default_summary(&Device::flex());
    assert_eq!(summary.trainable_params, 25_557_032);
    assert_eq!(summary.buffers, 53_120);
    assert_eq!(format!("{:.2}", summary.gmacs()), "4.09");
    let table = summary.to_table();
    assert!(table.contains("layer4.2.conv3"), "{table}");
    assert!(table.contains("Trainable params: 25,557,032"), "{table}");
}

#[test]
fn an_input_too_small_names_the_layer_where_the_map_vanishes() {
    let model = create("alexnet", &ModelOptions::default().with_in_channels(1), &Device::flex()).unwrap();
    let err = model.summary("alexnet", [1, 8, 8]).unwrap_err();
    // 8x8 padded by 2 leaves one 11x11 window (1x1 output); the first 3x3 pool cannot fit.
    assert_eq!(
        err,
        ShapeError::Vanished { layer: "features.2".into(), op: "MaxPool2d 3x3/2".into(), input: vec![64, 1, 1] }
    );
    let err = model.summary("alexnet", [1, 4, 4]).unwrap_err();
    assert!(err.to_string().starts_with("the feature map vanishes at layer `features.0`: Conv2d 11x11/4"), "{err}");
    let model = create("vgg11", &ModelOptions::default(), &Device::flex()).unwrap();
    let err = model.summary("vgg11", [3, 16, 16]).unwrap_err();
    assert!(err.to_string().contains("features.20"), "{err}");
}

#[test]
fn a_wrong_channel_count_is_reported() {
    let model = create("resnet18", &ModelOptions::default(), &Device::flex()).unwrap();
    let err = model.summary("resnet18", [1, 224, 224]).unwrap_err();
    assert_eq!(err, ShapeError::Channels { layer: "conv1".into(), expected: 3, found: 1 });
}

#[test]
fn seed_lesson_shapes_show_in_summaries() {
    let device = Device::flex();
    let summary = info("lenet5").unwrap().default_summary(&device);
    let conv1 = summary.layers.iter().find(|l| l.name == "conv1").unwrap();
    assert_eq!(conv1.output_shape, [6, 28, 28]);
    let zfnet = info("zfnet").unwrap().default_summary(&device);
    let shapes: Vec<_> = zfnet
        .layers
        .iter()
        .filter(|l| l.kind == "MaxPool2d" || l.name == "features.0")
        .map(|l| l.output_shape[1])
        .collect();
    // Zeiler & Fergus, Fig. 3: 110 → 55 → 26 → 13 → 6.
    assert_eq!(shapes, [110, 55, 13, 6]);
}

#[test]
fn classic_lenet_uses_tanh_and_average_pooling() {
    use zoo_models::lenet::{LeNet5Config, LeNetStyle};
    let model = LeNet5Config::new().with_style(LeNetStyle::Classic).init(&Device::flex());
    let summary = model.summary("lenet5", [1, 32, 32]).unwrap();
    let kinds: Vec<_> = summary.layers.iter().map(|l| l.kind.as_str()).collect();
    assert!(kinds.contains(&"Tanh") && kinds.contains(&"AvgPool2d"), "{kinds:?}");
    assert!(!kinds.contains(&"ReLU") && !kinds.contains(&"MaxPool2d"), "{kinds:?}");
    assert_eq!(summary.trainable_params, 61_706);
}

/// Collects the trainable parameters that did not receive a gradient.
struct MissingGrads<'a> {
    grads: &'a Gradients,
    path: Vec<String>,
    checked: usize,
    missing: Vec<String>,
}

impl ModuleVisitor for MissingGrads<'_> {
    fn enter_module(&mut self, name: &str, _: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if matches!(self.path.last().map(String::as_str), Some("running_mean" | "running_var")) {
            return;
        }
        self.checked += 1;
        let finite = param.val().grad(self.grads).is_some_and(|g| !g.contains_nan().into_scalar::<bool>());
        if !finite {
            self.missing.push(self.path.join("."));
        }
    }
}

/// Runs the body on `images` and checks each stage's shape against the summary's row for it:
/// what the trace computes is what the kernels do. Returns the last map, the stages and the
/// summary.
fn stages_match_the_trace(
    model: &ZooModel,
    name: &str,
    images: Tensor<4>,
) -> (Tensor<4>, Vec<FeatureMap>, ModelSummary) {
    let [_, c, h, w] = images.dims();
    let (last, features) = model.forward_intermediates(images, None, false);
    let summary = model.summary(name, [c, h, w]).unwrap();
    assert!(!features.is_empty(), "{name}: no feature maps");
    for feature in &features {
        let row = summary
            .layers
            .iter()
            .rev()
            .find(|l| l.name == feature.name || l.name.starts_with(&format!("{}.", feature.name)))
            .unwrap_or_else(|| panic!("{name}: no summary row for stage {}", feature.name));
        assert_eq!(feature.tensor.dims()[1..], row.output_shape[..], "{name}: stage {} at {h}x{w}", feature.name);
    }
    (last, features, summary)
}

/// Forward with 42 classes, no NaN, traced shapes equal to real ones, one backward pass of the
/// training forward (auxiliary classifiers included) that reaches every trainable parameter.
fn check_model(name: &str, input: [usize; 3]) {
    check_model_with(name, ModelOptions::default(), input);
}

fn check_model_with(name: &str, options: ModelOptions, input: [usize; 3]) {
    let device = Device::flex().autodiff();
    device.seed(7);
    let options = options.with_num_classes(42);
    let model: ZooModel = create(name, &options, &device).unwrap();
    let images = Tensor::<4>::random([2, input[0], input[1], input[2]], Distribution::Normal(0.0, 1.0), &device);

    let (last, features, summary) = stages_match_the_trace(&model, name, images.clone());
    // The last map is the last stage's, and what forward_features returns.
    assert_eq!(last.dims(), features.last().unwrap().tensor.dims(), "{name}");
    assert_eq!(model.forward_features(images.clone()).dims(), last.dims(), "{name}");
    let (_, chosen) = model.forward_intermediates(images.clone(), Some(&[0, features.len() - 1, 99]), false);
    let names: Vec<&str> = chosen.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, [features[0].name.as_str(), features.last().unwrap().name.as_str()], "{name}");
    // Stopping early after the first stage returns that stage's output, as the body's last map.
    let (first, only) = model.forward_intermediates(images.clone(), Some(&[0]), true);
    assert_eq!((only.len(), first.dims()), (1, features[0].tensor.dims()), "{name}: stop_early");
    let info = model.feature_info(input, &device);
    assert_eq!(info.len(), features.len(), "{name}");
    for (entry, feature) in info.iter().zip(&features) {
        let [_, channels, height, _] = feature.tensor.dims();
        assert_eq!(
            (&entry.name, entry.channels, entry.reduction),
            (&feature.name, channels, input[1] / height),
            "{name}"
        );
    }

    let logits = model.forward(images.clone());
    assert_eq!(logits.dims(), [2, 42], "{name}");
    assert_eq!(summary.output_shape, [42], "{name}");
    assert!(!logits.contains_nan().into_scalar::<bool>(), "{name}: NaN in logits");

    let output = model.forward_train(images);
    let mut loss = output.logits.powf_scalar(2.0).mean();
    for aux in output.aux {
        assert_eq!(aux.logits.dims(), [2, 42], "{name}: {}", aux.name);
        loss = loss + aux.logits.powf_scalar(2.0).mean();
    }
    let grads = loss.backward();
    let mut visitor = MissingGrads { grads: &grads, path: Vec::new(), checked: 0, missing: Vec::new() };
    model.visit(&mut visitor);
    assert!(visitor.checked > 0, "{name}: no parameters visited");
    assert!(visitor.missing.is_empty(), "{name}: no gradient for {:?}", visitor.missing);
}

/// The input a model's test runs at: its registry `min_input`, but at least 32x32, where every
/// stride-2 stage of a stride-32 network still halves a map larger than 1x1 (on 1x1 maps a
/// wrong stride or padding would not show). Small inputs keep the suite fast.
fn test_input(info: &ModelInfo) -> [usize; 3] {
    let [c, h, w] = info.min_input;
    [c, h.max(32), w.max(32)]
}

/// One registered model: [`check_model`] at its test input; its `min_input` is the smallest
/// input the trace accepts (auxiliary heads included), and a forward pass there has the traced
/// shapes.
fn check_registered(info: &ModelInfo) {
    let input = test_input(info);
    check_model(info.name, input);
    let model = info.build(&Device::flex());
    let fits = |input: [usize; 3]| model.summary(info.name, input).is_ok_and(|s| s.auxiliary_error.is_none());
    let [c, h, w] = info.min_input;
    assert!(fits(info.min_input), "{}: min_input {:?} does not fit", info.name, info.min_input);
    if h > 1 && w > 1 {
        assert!(!fits([c, h - 1, w - 1]), "{}: {}x{} fits too, below min_input", info.name, h - 1, w - 1);
    }
    if info.min_input != input {
        let images = Tensor::<4>::random([1, c, h, w], Distribution::Normal(0.0, 1.0), &Device::flex());
        let (last, ..) = stages_match_the_trace(&model, info.name, images);
        assert_eq!(model.forward_head(last).dims(), [1, info.default_classes], "{}", info.name);
    }
}

/// Every registered model, from the registry: a new family is tested without touching this
/// file. Models run on a few threads, costliest first, and every failure is reported, not just
/// the first. `ZOO_MODELS=vgg*` (a `zoo list` pattern) runs a subset.
#[test]
fn every_registered_model_runs_forward_and_backward() {
    let pattern = std::env::var("ZOO_MODELS").unwrap_or_else(|_| "*".into());
    let mut models = zoo_models::list(&pattern);
    assert!(!models.is_empty(), "no model matches ZOO_MODELS={pattern}");
    let device = Device::flex();
    models.sort_by_cached_key(|info| {
        let summary = info.build(&device).summary(info.name, test_input(info));
        std::cmp::Reverse(summary.map_or(0, |s| s.macs))
    });
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    let threads = std::env::var("RUST_TEST_THREADS").ok().and_then(|n| n.parse().ok());
    let threads = threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    std::thread::scope(|scope| {
        for _ in 0..threads.min(models.len()) {
            scope.spawn(|| {
                while let Some(info) = models.get(next.fetch_add(1, Ordering::Relaxed)) {
                    if let Err(panic) = std::panic::catch_unwind(AssertUnwindSafe(|| check_registered(info))) {
                        let message = panic
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| panic.downcast_ref::<&str>().map(|m| m.to_string()))
                            .unwrap_or_default();
                        failures.lock().unwrap().push(format!("[{}] {message}", info.name));
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(failures.is_empty(), "{} of {} models failed:\n{}", failures.len(), models.len(), failures.join("\n"));
}

#[test]
fn googlenet_aux_classifiers_train_and_count() {
    let options = ModelOptions::default().with_aux_logits(true);
    let device = Device::flex();
    let model = create("googlenet", &options, &device).unwrap();
    assert_eq!(trainable_params(&model), 13_004_888);
    let summary = model.summary("googlenet", [3, 224, 224]).unwrap();
    assert_eq!(summary.trainable_params, 13_004_888);
    // The heads run in training only: torchvision's 1.498 GMACs are the inference figure.
    assert_eq!(summary.macs, info("googlenet").unwrap().default_summary(&device).macs);
    assert!(summary.layers.iter().any(|l| l.name == "aux2.fc2" && l.auxiliary), "aux2.fc2 is marked");
    // 64x64 leaves a 4x4 map after inception4a, the heads' pooled size.
    check_model_with("googlenet", options, [3, 64, 64]);
}

#[test]
fn inception_v3_without_aux_classifier() {
    let options = ModelOptions::default().with_aux_logits(false);
    let model = create("inception_v3", &options, &Device::flex()).unwrap();
    assert_eq!(trainable_params(&model), 23_834_568);
    let summary = model.summary("inception_v3", [3, 299, 299]).unwrap();
    assert_eq!(summary.trainable_params, 23_834_568);
    assert!(model.forward_train(Tensor::zeros([1, 3, 75, 75], &Device::flex())).aux.is_empty());
    // 75x75 is the smallest input without the head (torchvision's documented minimum).
    check_model_with("inception_v3", options.clone(), [3, 75, 75]);
    let err =
        create("inception_v3", &options, &Device::flex()).unwrap().summary("inception_v3", [3, 74, 74]).unwrap_err();
    assert!(err.to_string().contains("Mixed_7a"), "{err}");
    // With the head, 298x298 leaves a 4x4 map for its 5x5 convolution: inference still works,
    // training with the head does not, and the summary says so while counting its parameters.
    let with_head = create("inception_v3", &ModelOptions::default(), &Device::flex()).unwrap();
    let summary = with_head.summary("inception_v3", [3, 298, 298]).unwrap();
    let err = summary.auxiliary_error.clone().expect("the head cannot run");
    assert!(err.contains("AuxLogits.conv1.conv"), "{err}");
    assert_eq!(summary.trainable_params, 27_161_264);
    let head = summary.layers.iter().find(|l| l.name == "AuxLogits").unwrap();
    assert_eq!((head.kind.as_str(), head.params), ("AuxiliaryClassifier", 27_161_264 - 23_834_568));
    assert!(summary.to_table().contains("cannot train on a 3x298x298 input"));
    let logits = with_head.forward(Tensor::zeros([1, 3, 224, 224], &Device::flex()));
    assert_eq!(logits.dims(), [1, 1000]);
    assert!(info("inception_v3").unwrap().default_summary(&Device::flex()).auxiliary_error.is_none());
}

#[test]
fn options_a_model_does_not_have_are_refused() {
    let device = Device::flex();
    let err = create("resnet18", &ModelOptions::default().with_aux_logits(true), &device).unwrap_err();
    assert_eq!(err.to_string(), "resnet18 has no auxiliary classifiers (aux_logits)");
    let err = create("densenet121", &ModelOptions::default().with_transform_input(true), &device).unwrap_err();
    assert_eq!(err.to_string(), "densenet121 has no transform_input option");
    let options = ModelOptions::default().with_transform_input(true).with_in_channels(1);
    assert!(create("googlenet", &options, &device).unwrap_err().to_string().contains("1 input channels"));
}

#[test]
fn transform_input_renormalises_imagenet_input() {
    // torchvision: x_c * (std_c / 0.5) + (mean_c - 0.5) / 0.5, so ImageNet-normalised zeros (the
    // mean colour) become (mean - 0.5) / 0.5.
    let device = Device::flex();
    let x = zoo_models::layers::transform_imagenet_input(Tensor::<4>::zeros([1, 3, 1, 1], &device));
    let values = x.into_data().try_into_vec::<f32>().unwrap();
    for (v, mean) in values.iter().zip([0.485f32, 0.456, 0.406]) {
        assert!((v - (mean - 0.5) / 0.5).abs() < 1e-7, "{values:?}");
    }
    let options = ModelOptions::default().with_transform_input(true).with_num_classes(5);
    let model = create("googlenet", &options, &device).unwrap();
    assert_eq!(model.summary("googlenet", [3, 32, 32]).unwrap().layers[0].name, "transform_input");
}

#[test]
fn densenet_summary_uses_torchvision_layer_names() {
    let summary = info("densenet121").unwrap().default_summary(&Device::flex());
    let last = summary.layers.iter().rfind(|l| l.name.starts_with("features.denseblock4.")).unwrap();
    assert_eq!(last.name, "features.denseblock4.denselayer16.cat");
    // 512 + 16 x 32 channels at 7x7.
    assert_eq!(last.output_shape, [1024, 7, 7]);
    let conv = summary.layers.iter().find(|l| l.name == "features.denseblock1.denselayer1.conv1").unwrap();
    assert_eq!((conv.output_shape.clone(), conv.params), (vec![128, 56, 56], 64 * 128));
}

#[test]
fn stop_early_skips_the_stages_after_the_last_requested() {
    let device = Device::flex();
    let resnet = create("resnet18", &ModelOptions::default(), &device).unwrap();
    let images = Tensor::<4>::zeros([1, 3, 64, 64], &device);
    // The hook sees every stage that runs.
    let mut ran = Vec::new();
    let mut hook = |name: &str, x: Tensor<4>| {
        ran.push(name.to_string());
        x
    };
    let flow = resnet.run_body(images.clone(), &mut Stages::first(3, &mut hook));
    assert_eq!(ran, ["relu", "layer1", "layer2"]);
    assert_eq!(flow.break_value().map(|x| x.dims()), Some([1, 128, 8, 8]));

    let (last, stages) = resnet.forward_intermediates(images.clone(), Some(&[2, 1]), true);
    let names: Vec<&str> = stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!((names, last.dims()), (vec!["layer1", "layer2"], [1, 128, 8, 8]));
    // Without it the whole body runs and the last feature map comes back.
    let (last, stages) = resnet.forward_intermediates(images, Some(&[2, 1]), false);
    assert_eq!((stages.len(), last.dims()), (2, [1, 512, 2, 2]));

    // 31x31 is too small for AlexNet's last pool (features.12), so its whole body cannot run;
    // stopping after its second stage (features.5) never reaches that pool.
    let alexnet = create("alexnet", &ModelOptions::default(), &device).unwrap();
    let err = alexnet.summary("alexnet", [3, 31, 31]).unwrap_err();
    assert!(err.to_string().contains("features.12"), "{err}");
    let (last, stages) = alexnet.forward_intermediates(Tensor::zeros([1, 3, 31, 31], &device), Some(&[1]), true);
    assert_eq!((stages[0].name.as_str(), last.dims()), ("features.5", [1, 192, 1, 1]));
}

#[test]
fn odd_input_sizes_keep_traced_and_real_shapes_equal() {
    // 33x33 exercises odd sizes through strided convolutions and the option-A shortcut.
    check_model("resnet20", [3, 33, 33]);
    check_model("resnet18", [3, 45, 45]);
}

#[test]
fn published_weights_fit_the_registered_models() {
    let device = Device::flex();
    for weights in zoo_models::pretrained::all() {
        let info = info(weights.model).unwrap();
        let mut options = ModelOptions::default();
        if weights.transform_input {
            assert!(info.transform_input, "{}: transform_input", weights.model);
            options = options.with_transform_input(true);
        }
        let model = info.build_with(&options, &device).unwrap();
        // torchvision's num_params is the inference model's: without GoogLeNet's auxiliary
        // classifiers (which the files hold and the loader skips), with Inception v3's.
        assert_eq!(trainable_params(&model), weights.num_params, "{} {}", weights.model, weights.tag);
        let crop = weights.preprocess.crop;
        model.summary(info.name, [3, crop, crop]).unwrap_or_else(|e| panic!("{}: {e}", weights.model));
    }
}

/// torchvision's named constructors build the registry's networks.
#[test]
fn named_constructors_match_the_registry() {
    use zoo_models::densenet::DenseNetConfig;
    use zoo_models::resnet::ResNetConfig;
    use zoo_models::resnet_cifar::CifarResNetConfig;
    use zoo_models::vgg::VggConfig;
    let device = burn::tensor::Device::flex();
    let registry = |name: &str| count_params(&create(name, &ModelOptions::default(), &device).unwrap());
    assert_eq!(count_params(&ResNetConfig::resnet50().init(&device)), registry("resnet50"));
    assert_eq!(count_params(&CifarResNetConfig::resnet56().init(&device)), registry("resnet56"));
    assert_eq!(count_params(&DenseNetConfig::densenet121().init(&device)), registry("densenet121"));
    assert_eq!(count_params(&VggConfig::vgg11_bn().init(&device)), registry("vgg11_bn"));
    assert_eq!(count_params(&VggConfig::vgg13().init(&device)), registry("vgg13"));
}
