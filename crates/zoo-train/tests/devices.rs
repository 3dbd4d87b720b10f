//! Training on several devices is PyTorch DDP's arithmetic: one SGD step of LeNet-5 (no
//! BatchNorm, no dropout) on 2 devices with B images each gives the parameters of one step on one
//! device with 2B images; the sum Burn's `MultiDevice` strategy takes alone does not.

use std::path::Path;

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor};
use zoo_models::backend::DeviceSelection;
use zoo_train::TrainConfig;
use zoo_train::config::{GradientReduction, OptimizerConfig, ScheduleConfig};

const PER_DEVICE: usize = 32;

/// One optimizer step: 2 × 32 training digits in one global batch, plain SGD.
fn one_step(devices: usize, reduction: GradientReduction) -> TrainConfig {
    let mut config = zoo_train::recipe("lenet5-synth").unwrap();
    config.train_limit = Some(2 * PER_DEVICE);
    config.test_limit = Some(16);
    config.epochs = 1;
    config.batch_size = 2 * PER_DEVICE / devices;
    config.devices = DeviceSelection::Count(devices);
    config.gradient_reduction = reduction;
    config.optimizer = OptimizerConfig::Sgd {
        momentum: 0.0,
        dampening: 0.0,
        nesterov: false,
        weight_decay: 0.0,
        no_decay_bn_bias: false,
    };
    config.schedule = ScheduleConfig::Constant;
    config.lr = 0.5;
    config.workers = 0;
    config.validate().unwrap();
    config
}

struct Flatten(Vec<f32>);

impl ModuleVisitor for Flatten {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0.extend(param.val().into_data().convert::<f32>().try_to_vec::<f32>().unwrap());
    }
}

/// Every parameter of the model the run in `dir` saved, in module order.
fn trained_parameters(dir: &Path) -> Vec<f32> {
    // The run's own config.json: it holds the input and classes resolved from the data.
    let config: TrainConfig = serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    let mut model = zoo_train::run::build_model(&config, &Device::flex()).unwrap();
    zoo_train::run::load_weights(&mut model, &dir.join("model.bpk")).unwrap();
    let mut flat = Flatten(Vec::new());
    model.visit(&mut flat);
    flat.0
}

fn largest_difference(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn two_devices_step_as_one_device_with_both_batches() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |name: &str, config: TrainConfig| {
        let dir = tmp.path().join(name);
        let result = zoo_train::train(config, &dir).unwrap();
        (trained_parameters(&dir), result)
    };
    let (single, single_result) = run("one", one_step(1, GradientReduction::Mean));
    let (mean, mean_result) = run("two", one_step(2, GradientReduction::Mean));
    let (sum, _) = run("two-summed", one_step(2, GradientReduction::Sum));
    assert_eq!((single_result.devices, mean_result.devices), (1, 2));
    assert_eq!(single.len(), 61_706);

    let difference = largest_difference(&single, &mean);
    assert!(difference < 1e-5, "2 devices x 32 images differ from 1 device x 64 by {difference}");
    // Summed gradients (what burn-train's MultiDevice does without the 1/N loss scale) step twice
    // as far: this test catches that bug by orders of magnitude.
    let difference = largest_difference(&single, &sum);
    assert!(difference > 1e-3, "summing the gradients should move the weights further, moved {difference}");
}
