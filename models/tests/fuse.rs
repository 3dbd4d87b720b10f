//! Folding BatchNorm into convolutions leaves inference logits unchanged.

use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::{Device, Distribution, Tensor};
use zoo_models::fuse::fuse_batch_norm;
use zoo_models::{ImageClassifier, ModelOptions, ZooModel};

/// Gives every BatchNorm statistics and affine parameters far from the identity (a fresh one
/// has mean 0, variance 1, γ 1, β 0, which folding would barely touch).
struct PerturbBatchNorm {
    path: Vec<String>,
    device: Device,
}

impl ModuleMapper for PerturbBatchNorm {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let range = match self.path.last().map(String::as_str) {
            Some("running_var") => (0.2, 3.0),
            Some("running_mean" | "beta") => (-0.5, 0.5),
            Some("gamma") => (0.3, 2.0),
            _ => return param,
        };
        let device = self.device.clone();
        param.map(|t| Tensor::random(t.shape(), Distribution::Uniform(range.0, range.1), &device))
    }
}

fn check(name: &str, options: ModelOptions, input: [usize; 4]) {
    let device = Device::flex();
    device.seed(3);
    let model = zoo_models::create(name, &options, &device).unwrap();
    let model: ZooModel = model.map(&mut PerturbBatchNorm { path: Vec::new(), device: device.clone() });
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
