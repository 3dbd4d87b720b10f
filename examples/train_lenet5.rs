//! Train LeNet-5 on the embedded digits through the library: a recipe, a few fields changed, a
//! run directory with metrics, checkpoints, curves and the final weights.
//!
//! ```text
//! cargo run --example train_lenet5 [-- RUN_DIR]
//! ```

use std::path::{Path, PathBuf};

fn fresh_dir() -> PathBuf {
    std::env::temp_dir().join(format!("burn-zoo-train-lenet5-{}", std::process::id()))
}

fn main() -> Result<(), zoo_train::TrainError> {
    let dir = std::env::args().nth(1).map(PathBuf::from).unwrap_or_else(fresh_dir);
    train(&dir)
}

fn train(dir: &Path) -> Result<(), zoo_train::TrainError> {
    // A recipe is a complete, validated configuration; any field can change before training.
    let mut config = zoo_train::recipe("lenet5-synth")?;
    config.epochs = 1;
    config.train_limit = Some(2048);
    config.test_limit = Some(512);
    config.validate()?;

    let result = zoo_train::train(config, dir)?;
    println!("{}", result.summary_line());

    // The run directory holds everything `zoo eval`, `zoo predict` and `zoo export` read.
    let model = zoo_train::run::RunDir { root: dir.to_path_buf() }.weights();
    println!("weights: {}", model.display());
    assert!(result.test_top1 > 10.0, "one epoch learns something");
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn trains() {
        super::train(&super::fresh_dir()).unwrap();
    }
}
