//! wgpu against flex: the same weights and images give the same logits (relative tolerance 1e-3
//! of the logits' scale) for every model family, and one training step gives the same loss.
//!
//! Correctness only: in CI these run on Mesa's software Vulkan driver (llvmpipe), where every new
//! kernel is compiled by LLVM, so inputs are small and shapes few, and `cubecl.toml` beside this
//! crate's manifest turns CubeCL's autotuning down to its minimal level for processes started
//! here. No timing from here is a GPU figure.
//!
//! AlexNet, ZF Net and VGG are built with 256-wide hidden layers instead of 4096: their first
//! classifier weight (9216x4096 floats, 151 MB; VGG's 411 MB) is larger than the 128 MiB storage
//! buffer llvmpipe allows one binding, and the classifier is the same `Linear` code either way.

#![cfg(feature = "wgpu")]

use burn::module::Module;
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use zoo_models::alexnet::AlexNetConfig;
use zoo_models::densenet::DenseNetConfig;
use zoo_models::vgg::{VggConfig, VggDepth};
use zoo_models::zfnet::ZfNetConfig;
use zoo_models::{ImageClassifier, ModelOptions, ZooModel};
use zoo_train::classifier::cross_entropy;
use zoo_train::config::OptimizerConfig;
use zoo_train::optim::build_optimizer;

fn wgpu() -> Device {
    zoo_models::backend::device("wgpu").expect(
        "wgpu has no device: install a Vulkan driver (on Linux without a GPU: apt-get install mesa-vulkan-drivers libvulkan1)",
    )
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

/// Largest |a - b| over the scale of `reference` (its largest |value|, at least 1e-6).
fn relative_error(ours: &[f32], reference: &[f32]) -> f32 {
    assert_eq!(ours.len(), reference.len());
    let scale = reference.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
    let diff = ours.iter().zip(reference).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    diff / scale
}

/// Builds `name` on flex, copies it to wgpu and compares the logits of one random batch.
fn check_forward(name: &str, options: ModelOptions, input: [usize; 4]) {
    check_built(name, |device| zoo_models::create(name, &options, device).unwrap(), input);
}

/// Builds a model with `build` on flex, copies it to wgpu and compares the logits.
fn check_built(name: &str, build: impl FnOnce(&Device) -> ZooModel, input: [usize; 4]) {
    let flex = Device::flex();
    flex.seed(7);
    let model = build(&flex);
    let images = Tensor::<4>::random(input, Distribution::Normal(0.0, 1.0), &flex);
    let expected = values(model.forward(images.clone()));

    let gpu = wgpu();
    let model: ZooModel = model.to_device(&gpu);
    let images = Tensor::<4>::from_data(images.into_data(), &gpu);
    let logits = model.forward(images);
    assert_eq!(logits.dims(), [input[0], expected.len() / input[0]]);
    let got = values(logits);
    assert!(got.iter().all(|v| v.is_finite()), "{name}: non-finite logits on wgpu");
    let error = relative_error(&got, &expected);
    assert!(error <= 1e-3, "{name}: wgpu logits differ from flex's by {error:e} of their scale");
}

#[test]
fn lenet5_forward_matches_flex() {
    check_forward("lenet5", ModelOptions::default(), [2, 1, 32, 32]);
}

#[test]
fn cifar_resnet_forward_matches_flex() {
    check_forward("resnet20", ModelOptions::default(), [2, 3, 32, 32]);
}

#[test]
fn imagenet_resnet_forward_matches_flex() {
    // Basic blocks, projection shortcuts and the max-pooled stem; a small image keeps llvmpipe quick.
    check_forward("resnet18", ModelOptions::default().with_num_classes(10), [1, 3, 64, 64]);
}

#[test]
fn bottleneck_resnet_forward_matches_flex() {
    check_forward("resnet50", ModelOptions::default().with_num_classes(10), [1, 3, 32, 32]);
}

#[test]
fn vgg_bn_forward_matches_flex() {
    let config = VggConfig::new(VggDepth::Vgg11).with_batch_norm(true).with_num_classes(10).with_hidden(256);
    check_built("vgg11_bn", |d| ZooModel::Plain(config.init(d)), [1, 3, 32, 32]);
}

#[test]
fn alexnet_forward_matches_flex() {
    // 63x63 is the smallest image AlexNet's strided convolutions and pools accept.
    let config = AlexNetConfig::new().with_num_classes(10).with_hidden(256);
    check_built("alexnet", |d| ZooModel::Plain(config.init(d)), [1, 3, 63, 63]);
}

#[test]
fn zfnet_forward_matches_flex() {
    let config = ZfNetConfig::new().with_num_classes(10).with_hidden(256);
    check_built("zfnet", |d| ZooModel::Plain(config.init(d)), [1, 3, 63, 63]);
}

/// Inception modules: parallel branches, concatenation, ceil-mode pools, transform_input.
#[test]
fn googlenet_forward_matches_flex() {
    let options = ModelOptions::default().with_num_classes(10).with_transform_input(true);
    check_forward("googlenet", options, [1, 3, 32, 32]);
}

/// Factorised 1x7/7x1 and 1x3/3x1 convolutions and padded average pools, at the smallest input
/// the network takes without its auxiliary classifier.
#[test]
fn inception_v3_forward_matches_flex() {
    let options = ModelOptions::default().with_num_classes(10).with_aux_logits(false);
    check_forward("inception_v3", options, [1, 3, 75, 75]);
}

/// Dense blocks' running concatenation and transitions, on a DenseNet small enough for llvmpipe.
#[test]
fn densenet_forward_matches_flex() {
    let config = DenseNetConfig::new(8, [2, 2, 2, 2], 16).with_num_classes(10);
    check_built("densenet", |d| ZooModel::DenseNet(config.init(d)), [1, 3, 32, 32]);
}

/// One SGD step of ResNet-20 (convolution, BatchNorm in training mode, residual additions,
/// pooling, linear, cross-entropy, their backward passes and the optimizer) on both backends:
/// the loss before and after the step must agree.
#[test]
fn resnet20_training_step_matches_flex() {
    // Built on an autodiff device and `fork`ed (not `to_device`d, which drops gradient tracking),
    // so its parameters are trainable on either backend.
    let losses = |device: Device, model: ZooModel, images: TensorData, labels: TensorData| {
        let mut model: ZooModel = model.fork(&device);
        let images = Tensor::<4>::from_data(images, &device);
        let labels = Tensor::<1, Int>::from_data(labels, &device);
        let mut optimizer = build_optimizer(&OptimizerConfig::Sgd {
            momentum: 0.9,
            dampening: 0.0,
            nesterov: false,
            weight_decay: 1e-4,
            no_decay_bn_bias: false,
        });
        let loss = cross_entropy(model.forward(images.clone()), labels.clone(), None, 0.0);
        let before = values(loss.clone())[0];
        let grads = burn::optim::GradientsParams::from_grads(loss.backward(), &model);
        model = optimizer.step(0.1, model, grads);
        let after = values(cross_entropy(model.forward(images), labels, None, 0.0))[0];
        [before, after]
    };
    let flex = Device::flex().autodiff();
    flex.seed(11);
    let model = zoo_models::create("resnet20", &ModelOptions::default(), &flex).unwrap();
    let images = Tensor::<4>::random([4, 3, 16, 16], Distribution::Normal(0.0, 1.0), &flex).into_data();
    let labels = TensorData::from([1i64, 3, 5, 7]);

    let expected = losses(flex.clone(), model.clone(), images.clone(), labels.clone());
    let got = losses(wgpu().autodiff(), model, images, labels);
    assert!(expected[1] < expected[0], "one step at lr 0.1 lowers the loss of its own batch: {expected:?}");
    let error = relative_error(&got, &expected);
    assert!(error <= 1e-3, "losses before/after the step: wgpu {got:?}, flex {expected:?}");
}
