//! zoo-viz against networks whose answers are known: a bright-dot detector for the top
//! patches, a one-quadrant classifier for occlusion, finite differences for saliency and
//! Grad-CAM on LeNet-5, and guided backpropagation against its formula and ResNet-20's
//! receptive fields.

use burn::tensor::activation::softmax;
use burn::tensor::module::{conv2d, max_pool2d};
use burn::tensor::ops::{ConvOptions, MaxPoolOptions};
use burn::tensor::{Device, Tensor, TensorData};
use zoo_data::{Image, Rng};
use zoo_models::summary::{ReceptiveField, Window};
use zoo_models::{ImageClassifier, ModelOptions, ZooModel, create};
use zoo_viz::{TopUnits, crop_field};

const SIDE: usize = 16;

fn tensor(images: &[Image], device: &Device) -> Tensor<4> {
    let [c, h, w] = images[0].shape();
    let data: Vec<f32> = images.iter().flat_map(|i| i.data.iter().copied()).collect();
    Tensor::from_data(TensorData::new(data, [images.len(), c, h, w]), device)
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

/// A 3x3 convolution (padding 1) that answers a lone bright pixel: +1 at the centre, -1/8
/// around it; then a 2x2/2 max pool.
fn dot_detector(x: Tensor<4>) -> Tensor<4> {
    let device = x.device();
    let mut kernel = [-1.0 / 8.0; 9];
    kernel[4] = 1.0;
    let weight = Tensor::<1>::from_floats(kernel, &device).reshape([1, 1, 3, 3]);
    let y = conv2d(x, weight, None, ConvOptions::new([1, 1], [1, 1], [1, 1], 1));
    max_pool2d(y, MaxPoolOptions::new([2, 2]))
}

#[test]
fn every_top_patch_of_a_dot_detector_holds_the_dot_at_the_fields_size() {
    let device = Device::flex();
    let mut rng = Rng::new(7);
    // Twelve images with one bright dot anywhere (borders included) among faint noise, and
    // twenty of noise alone.
    let mut dots = Vec::new();
    let images: Vec<Image> = (0..32)
        .map(|i| {
            let data: Vec<f32> = (0..SIDE * SIDE).map(|_| rng.uniform(0.0, 0.2)).collect();
            let mut image = Image::new(1, SIDE, SIDE, data).unwrap();
            if i % 8 < 3 {
                let (y, x) = (rng.below(SIDE as u64) as usize, rng.below(SIDE as u64) as usize);
                image.data[y * SIDE + x] = 1.0;
                dots.push(i);
            }
            image
        })
        .collect();
    let field = ReceptiveField::input([SIDE, SIDE])
        .through(&Window::square(3, 1, 1))
        .clipped([SIDE, SIDE])
        .through(&Window::square(2, 2, 0))
        .clipped([SIDE / 2, SIDE / 2]);
    assert_eq!((field.size, field.jump), ([4, 4], [2, 2]));

    // Streamed in batches of 5, as the command does.
    let mut top = TopUnits::new(vec![0], 9);
    for (b, chunk) in images.chunks(5).enumerate() {
        let maps = dot_detector(tensor(chunk, &device));
        let dims = maps.dims();
        top.add_batch(&values(maps), dims, b * 5);
    }
    let hits = top.into_sorted().remove(0);
    assert_eq!(hits.len(), 9);
    assert!(hits.windows(2).all(|w| w[0].value >= w[1].value), "{hits:?}");
    for hit in &hits {
        assert!(dots.contains(&hit.image), "image {} has no dot: {hits:?}", hit.image);
        let patch = crop_field(&images[hit.image], &field, hit.y, hit.x);
        assert_eq!([patch.height, patch.width], field.size);
        assert!(patch.pixels.contains(&[255, 255, 255]), "the patch of image {} misses its dot", hit.image);
    }
}

#[test]
fn occluding_the_quadrant_a_model_looks_at_is_the_only_place_that_matters() {
    let device = Device::flex();
    // Class 0's logit is the mean of the top-right quadrant; class 1's is 0.
    let classify = |x: Tensor<4>| {
        let [n, _, h, w] = x.dims();
        let quadrant = x.slice([0..n, 0..1, 0..h / 2, w / 2..w]).mean_dim(2).mean_dim(3).reshape([n, 1]) * 4.0;
        softmax(Tensor::cat(vec![quadrant.clone(), quadrant.zeros_like()], 1), 1)
    };
    let image = Image::filled(1, SIDE, SIDE, 1.0);
    let map = zoo_viz::occlusion(&classify, &image, 0, 4, 2, 0.0, 16, &device);
    assert_eq!(map.positions, [7, 7]);
    for y in 0..SIDE {
        for x in 0..SIDE {
            let p = map.per_pixel[y * SIDE + x];
            if y < SIDE / 2 && x >= SIDE / 2 {
                assert!(p < map.unoccluded - 1e-3, "({y}, {x}): {p} against {}", map.unoccluded);
            } else if y >= SIDE / 2 + 4 || x < SIDE / 2 - 4 {
                // No square that covers this pixel reaches the quadrant.
                assert_eq!(p, map.unoccluded, "({y}, {x})");
            }
        }
    }
}

fn lenet() -> (ZooModel, Device) {
    let device = Device::flex();
    (create("lenet5", &ModelOptions::default(), &device).unwrap(), device)
}

fn random_image(seed: u64) -> Image {
    let mut rng = Rng::new(seed);
    Image::new(1, 32, 32, (0..32 * 32).map(|_| rng.uniform(-1.0, 1.0)).collect()).unwrap()
}

#[test]
fn saliency_equals_finite_differences_of_the_class_logit() {
    let (model, device) = lenet();
    let image = random_image(3);
    let class = 4;
    let differentiable = zoo_viz::differentiable(&model, &device);
    let logits = |x: Tensor<4>| differentiable.forward(x);
    let saliency = zoo_viz::saliency(&logits, tensor(std::slice::from_ref(&image), &device.clone().autodiff()), class);
    let logit = |image: &Image| values(model.forward(tensor(std::slice::from_ref(image), &device)))[class];
    let h = 1e-2;
    for pixel in [0, 100, 333, 528, 700, 1023] {
        let mut plus = image.clone();
        plus.data[pixel] += h;
        let mut minus = image.clone();
        minus.data[pixel] -= h;
        let numeric = ((logit(&plus) - logit(&minus)) / (2.0 * h)).abs();
        assert!(
            (saliency[pixel] - numeric).abs() <= 2e-3 + 2e-2 * numeric,
            "pixel {pixel}: autodiff {} against finite differences {numeric}",
            saliency[pixel]
        );
    }
}

// Grad-CAM at `stage` against finite differences: the score moves by eps * (sum of a channel's
// gradients) when every unit of the channel moves by eps, which the stage hook does.
fn check_grad_cam(stage: &str, shape: [usize; 2], seed: u64, class: usize) {
    let (model, device) = lenet();
    let image = random_image(seed);
    let differentiable = zoo_viz::differentiable(&model, &device);
    let network = zoo_viz::hooked_logits(&differentiable);
    let cam =
        zoo_viz::grad_cam(&network, stage, tensor(std::slice::from_ref(&image), &device.clone().autodiff()), class)
            .unwrap();
    assert_eq!((cam.stage.as_str(), cam.shape), (stage, shape));

    let input = tensor(std::slice::from_ref(&image), &device);
    let features =
        model.forward_intermediates(input.clone(), None, false).1.into_iter().find(|s| s.name == stage).unwrap().tensor;
    let activations = values(features.clone());
    let [_, channels, fh, fw] = features.dims();
    let plane = fh * fw;
    let score = |shift: &[f32]| {
        let shift = Tensor::<4>::from_data(TensorData::new(shift.to_vec(), [1, channels, fh, fw]), &device);
        let logits = model.forward_head(model.forward_stages(input.clone(), &mut |name, x| {
            if name == stage { x + shift.clone() } else { x }
        }));
        values(logits)[class]
    };
    let eps = 1e-2;
    let mut numeric_weights = Vec::new();
    for c in 0..channels {
        let mut shift = vec![0.0; channels * plane];
        shift[c * plane..(c + 1) * plane].iter_mut().for_each(|v| *v = eps);
        let plus = score(&shift);
        shift.iter_mut().for_each(|v| *v = -*v);
        let minus = score(&shift);
        let numeric = (plus - minus) / (2.0 * eps) / plane as f32;
        assert!(
            (cam.weights[c] - numeric).abs() <= 1e-3 + 2e-2 * numeric.abs(),
            "{stage} channel {c}: autodiff {} against finite differences {numeric}",
            cam.weights[c]
        );
        numeric_weights.push(numeric);
    }
    for i in 0..plane {
        let expected = (0..channels).map(|c| numeric_weights[c] * activations[c * plane + i]).sum::<f32>().max(0.0);
        assert!(
            (cam.map[i] - expected).abs() <= 1e-3 + 2e-2 * expected,
            "{stage} unit {i}: {} against {expected}",
            cam.map[i]
        );
    }
}

#[test]
fn grad_cam_weights_are_the_finite_difference_mean_gradients() {
    check_grad_cam("pool2", [5, 5], 5, 2);
}

#[test]
fn grad_cam_at_an_earlier_stage_matches_finite_differences_too() {
    check_grad_cam("pool1", [14, 14], 6, 7);
}

#[test]
fn grad_cam_at_an_unknown_stage_names_the_valid_ones() {
    let (model, device) = lenet();
    let differentiable = zoo_viz::differentiable(&model, &device);
    let x = tensor(&[random_image(1)], &device.clone().autodiff());
    let error = zoo_viz::grad_cam(&zoo_viz::hooked_logits(&differentiable), "conv9", x, 0).unwrap_err();
    assert_eq!(error.to_string(), "unknown stage `conv9` (valid: pool1, pool2)");
}

/// Guided backpropagation through `s = v . relu(W x)` (1x1 convolutions over 4 input channels,
/// 3 hidden): the gradient is `W^T (relu(v) * [W x > 0])`, where the plain one has `v`.
#[test]
fn guided_backpropagation_passes_only_positive_gradients_through_relus() {
    let device = Device::flex().autodiff();
    let w: [f32; 12] = [0.5, -1.0, 0.25, 2.0, -0.75, 0.5, 1.0, -0.5, 1.5, 0.25, -2.0, 0.75];
    let v: [f32; 3] = [1.0, -2.0, 0.5];
    let x: [f32; 4] = [1.0, -0.5, 2.0, 0.25];
    let weight =
        |values: &[f32], shape: [usize; 4]| Tensor::<4>::from_data(TensorData::new(values.to_vec(), shape), &device);
    let network = |input: Tensor<4>, hook: &mut zoo_models::StageHook| {
        let options = || ConvOptions::new([1, 1], [0, 0], [1, 1], 1);
        let hidden = zoo_kernels::relu(conv2d(input, weight(&w, [3, 4, 1, 1]), None, options()));
        let s = hook("s", conv2d(hidden, weight(&v, [1, 3, 1, 1]), None, options()));
        s.reshape([1, 1])
    };
    let input = Tensor::<4>::from_data(TensorData::new(x.to_vec(), [1, 4, 1, 1]), &device);
    let unit = zoo_viz::Unit { channel: 0, y: 0, x: 0 };
    let guided = zoo_viz::guided_projections(&network, "s", input.clone(), &[unit]).unwrap().remove(0);

    let pre: Vec<f32> = (0..3).map(|k| (0..4).map(|i| w[k * 4 + i] * x[i]).sum()).collect();
    let through = |gate: &dyn Fn(f32) -> f32| -> Vec<f32> {
        (0..4).map(|i| (0..3).map(|k| if pre[k] > 0.0 { w[k * 4 + i] * gate(v[k]) } else { 0.0 }).sum()).collect()
    };
    let expected = through(&|g| g.max(0.0));
    let plain = through(&|g| g);
    assert!(pre.iter().filter(|&&p| p > 0.0).count() >= 2, "two hidden units open: {pre:?}");
    assert_ne!(expected, plain, "the example must tell guided from plain");
    for (got, want) in guided.iter().zip(&expected) {
        assert!((got - want).abs() < 1e-5, "guided {guided:?} against {expected:?}");
    }
}

/// On ResNet-20 (BatchNorm, residual adds, fused kernels), a unit's guided projection is zero
/// outside its receptive field, reaches into it, and differs from the plain gradient.
#[test]
fn a_guided_projection_stays_inside_the_units_receptive_field() {
    let device = Device::flex();
    device.seed(3);
    let model = create("resnet20", &ModelOptions::default(), &device).unwrap();
    let summary = model.summary("resnet20", [3, 32, 32]).unwrap();
    let field = zoo_viz::top::stage_row(&summary, "layer2").unwrap().receptive_field;
    let mut rng = Rng::new(11);
    let image = Image::new(3, 32, 32, (0..3 * 32 * 32).map(|_| rng.uniform(-1.0, 1.0)).collect()).unwrap();
    let differentiable = zoo_viz::differentiable(&model, &device);
    let network = zoo_viz::hooked_logits(&differentiable);
    let x = tensor(std::slice::from_ref(&image), &device.clone().autodiff());
    // The strongest unit of channel 5: a unit the ReLUs leave at zero has no projection at all.
    let (_, stages) = model.forward_intermediates(tensor(std::slice::from_ref(&image), &device), None, false);
    let layer2 = stages.into_iter().find(|s| s.name == "layer2").unwrap().tensor;
    let [_, _, rows, columns] = layer2.dims();
    let channel5 = values(layer2.slice([0..1, 5..6, 0..rows, 0..columns]));
    let best = (0..channel5.len()).max_by(|&a, &b| channel5[a].total_cmp(&channel5[b])).unwrap();
    assert!(channel5[best] > 0.0, "channel 5 is dead on this image");
    let unit = zoo_viz::Unit { channel: 5, y: best / columns, x: best % columns };
    let guided = zoo_viz::guided_projections(&network, "layer2", x.clone(), &[unit]).unwrap().remove(0);

    let [rows, columns] = field.region(unit.y, unit.x);
    let inside = |y: usize, x: usize| rows.contains(&(y as i64)) && columns.contains(&(x as i64));
    let mut reached = 0;
    for c in 0..3 {
        for y in 0..32 {
            for x in 0..32 {
                let g = guided[(c * 32 + y) * 32 + x];
                if inside(y, x) {
                    reached += usize::from(g != 0.0);
                } else {
                    assert_eq!(g, 0.0, "gradient at ({c}, {y}, {x}), outside rows {rows:?} columns {columns:?}");
                }
            }
        }
    }
    assert!(reached > 0, "the projection is empty");

    let plain = {
        let x = x.detach().require_grad();
        let stage = differentiable
            .forward_intermediates(x.clone(), None, false)
            .1
            .into_iter()
            .find(|s| s.name == "layer2")
            .unwrap()
            .tensor;
        let grads = stage.slice([0..1, 5..6, unit.y..unit.y + 1, unit.x..unit.x + 1]).sum().backward();
        values(x.grad(&grads).unwrap())
    };
    assert_ne!(guided, plain, "guided backpropagation changed nothing");
}

#[test]
fn kernels_come_from_the_named_convolution_and_unknown_names_list_the_valid_ones() {
    let (model, _) = lenet();
    let summary = model.summary("lenet5", [1, 32, 32]).unwrap();
    let kernels = zoo_viz::conv_kernels(&model, &summary, "conv1").unwrap();
    assert_eq!(kernels.shape, [6, 1, 5, 5]);
    let weights = values(model_conv1(&model));
    assert_eq!(kernels.values, weights);
    let picture = zoo_viz::kernel_grid(&kernels, 40);
    assert_eq!((picture.width, picture.height), (3 * 40 + 4 * 2, 2 * 40 + 3 * 2));
    let error = zoo_viz::conv_kernels(&model, &summary, "conv3").unwrap_err().to_string();
    assert_eq!(error, "unknown convolution `conv3` (valid: conv1, conv2)");
}

fn model_conv1(model: &ZooModel) -> Tensor<4> {
    match model {
        ZooModel::LeNet5(m) => m.conv1.weight.val(),
        _ => unreachable!(),
    }
}
