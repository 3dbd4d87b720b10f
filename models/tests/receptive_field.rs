//! Receptive fields from the summary trace, checked two ways: against hand-computed values for
//! LeNet-5 and AlexNet, and by brute force on every registered model (change one input pixel,
//! see which units of each stage's output move).

use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::{Device, Tensor, TensorData};
use zoo_models::summary::ReceptiveField;
use zoo_models::{ImageClassifier, MODELS, ModelOptions, ModelSummary, create};

fn summary(model: &str, input: [usize; 3]) -> ModelSummary {
    let network = create(model, &ModelOptions::default(), &Device::flex()).unwrap();
    network.summary(model, input).unwrap()
}

fn field_of(summary: &ModelSummary, layer: &str) -> ReceptiveField {
    summary.layers.iter().find(|l| l.name == layer).unwrap_or_else(|| panic!("no layer {layer}")).receptive_field
}

/// (size, jump, start) on both axes.
fn square(field: ReceptiveField) -> (usize, usize, f64) {
    assert_eq!(field.size[0], field.size[1], "{field:?}");
    assert_eq!(field.jump[0], field.jump[1], "{field:?}");
    assert_eq!(field.first[0], field.first[1], "{field:?}");
    (field.size[0], field.jump[0], field.start()[0])
}

#[test]
fn lenet5_fields_match_the_hand_computed_ones() {
    let s = summary("lenet5", [1, 32, 32]);
    // conv 5x5: 5; pool 2x2/2: 5 + 1 = 6, jump 2; conv 5x5: 6 + 4*2 = 14; pool: 14 + 1*2 = 16, jump 4.
    let expected = [("conv1", (5, 1, 2.0)), ("pool1", (6, 2, 2.5)), ("conv2", (14, 2, 6.5)), ("pool2", (16, 4, 7.5))];
    for (layer, field) in expected {
        assert_eq!(square(field_of(&s, layer)), field, "{layer}");
    }
    // The classifier sees the whole 32x32 image (pool2's 5x5 units, 4 apart, 16 wide: 32 pixels).
    assert_eq!(square(field_of(&s, "fc1")), (32, 20, 15.5));
}

#[test]
fn alexnet_fields_match_the_hand_computed_ones() {
    let s = summary("alexnet", [3, 224, 224]);
    // torchvision's AlexNet: conv 11/4 pad 2, pool 3/2, conv 5 pad 2, pool 3/2, three conv 3 pad 1,
    // pool 3/2. The field grows by (kernel - 1) * jump; padding moves the first unit's field left.
    let expected = [
        ("features.0", (11, 4, 3.0)),
        ("features.2", (19, 8, 7.0)),
        ("features.3", (51, 8, 7.0)),
        ("features.5", (67, 16, 15.0)),
        ("features.6", (99, 16, 15.0)),
        ("features.8", (131, 16, 15.0)),
        ("features.10", (163, 16, 15.0)),
        ("features.12", (195, 32, 31.0)),
    ];
    for (layer, field) in expected {
        assert_eq!(square(field_of(&s, layer)), field, "{layer}");
    }
    assert_eq!(field_of(&s, "features.3").first, [-18, -18]);
}

#[test]
fn inception_v3_asymmetric_kernels_grow_one_axis() {
    let s = summary("inception_v3", [3, 299, 299]);
    let before = field_of(&s, "Mixed_6b.branch7x7_1.conv");
    let after = field_of(&s, "Mixed_6b.branch7x7_2.conv");
    // A 1x7 convolution widens the field by 6 jumps and leaves its height.
    assert_eq!(after.size[0], before.size[0]);
    assert_eq!(after.size[1], before.size[1] + 6 * before.jump[1]);
}

/// Every convolution's weights become `1 / input channels`, biases and BatchNorm shifts 0, scales
/// 1: with an all-zero input every activation is 0, and a unit becomes positive exactly when
/// its field contains a pixel set to 1 (sums of positives, maxima and ReLUs of positives).
struct Positive {
    path: Vec<String>,
}

impl ModuleMapper for Positive {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let last = self.path.last().map(String::as_str).unwrap_or_default();
        param.map(|t| match (D, last) {
            (4, _) => {
                let per_group = t.dims()[1] as f32;
                t.ones_like() / per_group
            }
            (1, "gamma" | "running_var") => t.ones_like(),
            (1, _) => t.zeros_like(),
            _ => t,
        })
    }
}

/// The units of a `[C, H, W]` map that moved between two forward passes.
fn moved(base: &[f32], changed: &[f32], [c, h, w]: [usize; 3]) -> Vec<(usize, usize)> {
    let mut units = Vec::new();
    for i in 0..h {
        for j in 0..w {
            if (0..c).any(|k| changed[(k * h + i) * w + j] != base[(k * h + i) * w + j]) {
                units.push((i, j));
            }
        }
    }
    units
}

fn brute_force(model: &str, input: [usize; 3]) {
    let device = Device::flex();
    let mut options = ModelOptions::default();
    if model == "inception_v3" {
        options = options.with_aux_logits(false);
    }
    let network = create(model, &options, &device).unwrap().map(&mut Positive { path: Vec::new() });
    let summary = network.summary(model, input).unwrap();
    let [c, h, w] = input;
    let pixels = [(h / 2, w / 2), (0, 0), (h - 1, w / 3)];
    // One batch: the all-zero image, then one image per perturbed pixel (all channels set to 1).
    let mut data = vec![0f32; (pixels.len() + 1) * c * h * w];
    for (n, &(y, x)) in pixels.iter().enumerate() {
        for k in 0..c {
            data[(((n + 1) * c + k) * h + y) * w + x] = 1.0;
        }
    }
    let images = Tensor::<4>::from_data(TensorData::new(data, [pixels.len() + 1, c, h, w]), &device);
    for stage in network.forward_intermediates(images, None, false).1 {
        let row = summary
            .layers
            .iter()
            .rev()
            .filter(|l| !l.auxiliary)
            .find(|l| l.name == stage.name || l.name.starts_with(&format!("{}.", stage.name)))
            .unwrap_or_else(|| panic!("{model}: no layer for stage {}", stage.name));
        let [_, sc, sh, sw] = stage.tensor.dims();
        assert_eq!(row.output_shape, [sc, sh, sw], "{model}: stage {} is row {}", stage.name, row.name);
        let values = stage.tensor.into_data().try_to_vec::<f32>().unwrap();
        let per_image = sc * sh * sw;
        let base = &values[..per_image];
        for (n, &(y, x)) in pixels.iter().enumerate() {
            let changed = &values[(n + 1) * per_image..(n + 2) * per_image];
            let actual = moved(base, changed, [sc, sh, sw]);
            let field = row.receptive_field;
            let expected: Vec<(usize, usize)> = (0..sh)
                .flat_map(|i| (0..sw).map(move |j| (i, j)))
                .filter(|&(i, j)| {
                    let [rows, columns] = field.seen(i, j);
                    rows.contains(&(y as i64)) && columns.contains(&(x as i64))
                })
                .collect();
            assert_eq!(
                actual, expected,
                "{model}: pixel ({y}, {x}) moves these units of {} ({}), field {field:?}",
                stage.name, row.name
            );
        }
    }
}

/// Inputs large enough that the last stages keep several units.
fn brute_force_input(model: &str, channels: usize) -> [usize; 3] {
    let side = match model {
        "lenet5" | "resnet20" | "resnet32" | "resnet44" | "resnet56" | "resnet110" => 32,
        "alexnet" | "zfnet" | "inception_v3" => 131,
        _ => 64,
    };
    [channels, side, side]
}

#[test]
fn every_models_fields_are_the_units_a_pixel_moves() {
    for info in MODELS.iter() {
        brute_force(info.name, brute_force_input(info.name, info.default_input[0]));
    }
}
