//! Train LeNet-5 through zoo-train on a Burn `InMemDataset`: `FromBurn` makes any Burn dataset
//! (in memory, SQLite, a mapper over either) a zoo dataset, given how one of its items becomes
//! an image and a label, and zoo-train then trains on it with the zoo's deterministic loader,
//! augmentation, checkpoints and metrics.
//!
//! ```text
//! cargo run --release --example burn_dataset_train
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::data::dataset::InMemDataset;
use zoo_data::interop::FromBurn;
use zoo_data::{Dataset, Image, Item, Split, SynthDigits};
use zoo_train::data::Datasets;
use zoo_train::run::RunResult;

/// An item as a Burn user's own dataset might hold it: 32x32 grey pixels and a label.
#[derive(Clone, Debug)]
struct Digit {
    pixels: Vec<u8>,
    label: usize,
}

/// A Burn dataset of `len` digits (made from the zoo's synthetic ones, to stay offline).
fn burn_digits(split: Split, len: usize) -> InMemDataset<Digit> {
    let source = SynthDigits::with_len(split, len, 11);
    let digits = (0..len)
        .map(|i| {
            let item = source.get(i).expect("synthetic digits are generated, not read");
            Digit { pixels: item.image.to_u8(), label: item.label }
        })
        .collect();
    InMemDataset::new(digits)
}

/// The Burn dataset as a zoo dataset of the ten digit classes.
fn as_zoo(digits: InMemDataset<Digit>, name: &str) -> Arc<dyn Dataset> {
    let classes = (0..10).map(|d| d.to_string()).collect();
    Arc::new(FromBurn::new(digits, classes, name, |digit: Digit| {
        Ok(Item { image: Image::from_u8(1, 32, 32, &digit.pixels)?, label: digit.label })
    }))
}

fn train(dir: &Path) -> Result<RunResult, zoo_train::TrainError> {
    let test = as_zoo(burn_digits(Split::Test, 512), "burn-digits/test");
    let datasets =
        Datasets { train: as_zoo(burn_digits(Split::Train, 2048), "burn-digits/train"), valid: test.clone(), test };
    let mut config = zoo_train::recipe("lenet5-synth")?;
    config.dataset = "burn-digits".into(); // a label: the datasets are the ones given here
    config.epochs = 1;
    zoo_train::run::train_on(config, datasets, dir)
}

fn main() -> Result<(), zoo_train::TrainError> {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join(format!("burn-zoo-burn-dataset-{}", std::process::id())));
    println!("{}", train(&dir)?.summary_line());
    Ok(())
}

#[cfg(test)]
mod tests {
    /// `metrics.csv` without its two timing columns.
    fn computed(dir: &std::path::Path) -> Vec<String> {
        let text = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
        text.lines().map(|l| l.split(',').take(6).collect::<Vec<_>>().join(",")).collect()
    }

    #[test]
    fn the_same_seed_gives_the_same_metrics_twice() {
        let root = std::env::temp_dir().join(format!("burn-zoo-burn-dataset-test-{}", std::process::id()));
        let (a, b) = (root.join("a"), root.join("b"));
        let first = super::train(&a).unwrap();
        super::train(&b).unwrap();
        assert_eq!(computed(&a).len(), 3, "a header and one row per split");
        assert_eq!(computed(&a), computed(&b));
        assert!(first.test_top1 > 10.0, "one epoch learns something: {}", first.test_top1);
        std::fs::remove_dir_all(root).unwrap();
    }
}
