//! Folding BatchNorm into convolutions leaves inference logits unchanged.

use burn::tensor::{Device, Distribution, Tensor};
use zoo_models::fuse::{fuse_batch_norm, randomize_batch_norm};
use zoo_models::{ImageClassifier, ModelOptions, ZooModel};

fn check(name: &str, options: ModelOptions, input: [usize; 4]) {
    let device = Device::flex();
    device.seed(3);
    let model = zoo_models::create(name, &options, &device).unwrap();
    let model: ZooModel = randomize_batch_norm(model, &device);
    let images = Tensor::<4>::random(input, Distribution::Normal(0.0, 1.0), &device);
    let before = model.forward(images.clone());
    let [c, h, w] = [input[1], input[2], input[3]];
    let summary_before = model.summary(name, [c, h, w]).unwrap();

    let fused = fuse_batch_norm(model);
    let summary_after = fused.summary(name, [c, h, w]).unwrap();
    let after = fused.forward(images);

    let scale = before.clone().abs().max().into_scalar::<f32>().max(1e-6);
    let diff = (before - after).abs().max().into_scalar::<f32>();
    assert!(diff / scale <= 1e-4, "{name}: fused logits differ by {diff} (scale {scale})");
    // Every BatchNorm is gone; each folded one gave its convolution a bias instead.
    assert!(summary_after.layers.iter().all(|l| l.kind != "BatchNorm2d"), "{name}");
    let norms = summary_before.layers.iter().filter(|l| l.kind == "BatchNorm2d").count();
    assert!(norms > 0, "{name} has BatchNorm to fold");
    assert_eq!(summary_after.buffers, 0, "{name}");
    assert_eq!(summary_after.macs, summary_before.macs, "{name}: folding adds no multiply-accumulates");
}

#[test]
fn cifar_resnet_fuses() {
    check("resnet20", ModelOptions::default(), [4, 3, 32, 32]);
}

#[test]
fn basic_block_resnet_with_projections_fuses() {
    check("resnet18", ModelOptions::default().with_num_classes(10), [2, 3, 64, 64]);
}

#[test]
fn bottleneck_resnet_fuses() {
    check("resnet50", ModelOptions::default().with_num_classes(10), [1, 3, 64, 64]);
}

#[test]
fn vgg_bn_fuses_in_sequence() {
    check("vgg11_bn", ModelOptions::default().with_num_classes(10), [1, 3, 32, 32]);
}

#[test]
fn models_without_batch_norm_are_unchanged() {
    let device = Device::flex();
    let model = zoo_models::create("lenet5", &ModelOptions::default(), &device).unwrap();
    let images = Tensor::<4>::random([2, 1, 32, 32], Distribution::Normal(0.0, 1.0), &device);
    let before = model.forward(images.clone());
    let after = fuse_batch_norm(model).forward(images);
    assert_eq!(before.into_data(), after.into_data());
}
