//! Classify image files with torchvision's published ImageNet weights: the weights are fetched
//! once (hash-checked, cached; a copy in torch's hub cache is used as it is), loaded into the
//! zoo's network under torchvision's own key names, and the top-5 classes printed.
//!
//! ```text
//! cargo run --release --example classify_image -- cat.jpg [resnet18]
//! ```

use std::path::Path;

use zoo_data::transforms::{CenterCrop, Normalize, Pipeline, ResizeShorter, TransformConfig};
use zoo_models::weights::LoadOptions;
use zoo_models::{ModelOptions, pretrained};
use zoo_train::eval::InputTransform;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let image = args.next().ok_or("usage: classify_image IMAGE [MODEL]")?;
    let model = args.next().unwrap_or_else(|| "resnet18".to_string());

    // torchvision's DEFAULT weights for the model, and the preprocessing they were trained with.
    let weights = pretrained::lookup(&model, None)?;
    let file = zoo_models::hub::fetch(weights)?;
    let device = burn::tensor::Device::flex();
    let mut network = zoo_models::create(&model, &pretrained::options_for(weights, ModelOptions::default()), &device)?;
    zoo_models::weights::load(&mut network, &file, &LoadOptions::default())?;

    let p = weights.preprocess;
    let preprocess = InputTransform {
        input: [3, p.crop, p.crop],
        raw_input: [3, p.crop, p.crop],
        transforms: Pipeline::new(vec![
            TransformConfig::ResizeShorter(ResizeShorter { size: p.resize }),
            TransformConfig::CenterCrop(CenterCrop { size: [p.crop, p.crop] }),
            TransformConfig::Normalize(Normalize { mean: p.mean.to_vec(), std: p.std.to_vec() }),
        ]),
    };
    let pixels = preprocess.load(Path::new(&image))?;
    let classes: Vec<String> = pretrained::imagenet_classes().into_iter().map(String::from).collect();
    let top = zoo_train::eval::predict(&network, &[pixels], &classes, 5, &device)?;
    println!("{image} ({model}, {} {:.2}% top-1 on ImageNet):", weights.tag, weights.acc_top1);
    for score in &top[0] {
        println!("  {:6.2}%  {}", 100.0 * score.probability, score.class);
    }
    Ok(())
}
