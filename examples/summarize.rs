//! Build any model of the zoo by name, print its per-layer summary, and run a batch through it.
//!
//! ```text
//! cargo run --example summarize -- resnet20
//! ```

use burn::tensor::{Device, Distribution, Tensor};
use burn_zoo::models::{ImageClassifier, ModelOptions, create, info};

fn main() {
    let name = std::env::args().nth(1).unwrap_or_else(|| "lenet5".to_string());
    let device = Device::flex();
    let entry = match info(&name) {
        Ok(entry) => entry,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let model = create(&name, &ModelOptions::default(), &device).expect("default options are valid");
    print!("{}", model.summary(&name, entry.default_input).expect("default input fits"));

    let [c, h, w] = entry.default_input;
    let images = Tensor::<4>::random([2, c, h, w], Distribution::Normal(0.0, 1.0), &device);
    for stage in model.forward_intermediates(images.clone(), None, false).1 {
        println!("stage {:<10} {:?}", stage.name, stage.tensor.dims());
    }
    let probabilities = burn::tensor::activation::softmax(model.forward(images), 1);
    println!("logits → probabilities {:?}", probabilities.dims());
}
