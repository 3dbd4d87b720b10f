//! Feed a zoo dataset, with a zoo augmentation pipeline, to Burn's own `DataLoaderBuilder`:
//! every zoo dataset is a Burn dataset, `Indexed` pairs each item with its dataset index, and
//! `ItemBatcher` augments and batches them with the draws the zoo's own loader makes.
//!
//! ```text
//! cargo run --release --example zoo_data_in_burn_loader
//! ```

use burn::data::dataloader::DataLoaderBuilder;
use burn::data::dataset::DatasetError;
use zoo_data::interop::{Indexed, ItemBatcher};
use zoo_data::transforms::{Normalize, PaddingMode, Pipeline, RandomCrop, TransformConfig};
use zoo_data::{Batch, Split, SynthDigits};

const SEED: u64 = 3;

/// Random crops of the padded digits, then normalisation.
fn augmentation() -> Pipeline {
    Pipeline::new(vec![
        TransformConfig::RandomCrop(RandomCrop {
            size: [32, 32],
            padding: 4,
            padding_mode: PaddingMode::Reflect,
            fill: 0.0,
        }),
        TransformConfig::Normalize(Normalize { mean: vec![0.13], std: vec![0.31] }),
    ])
}

fn digits() -> SynthDigits {
    SynthDigits::with_len(Split::Train, 200, 0)
}

/// One epoch of batches from Burn's loader (an item that cannot be read is its error).
fn burn_batches() -> Result<Vec<Batch>, DatasetError> {
    let batcher = ItemBatcher::new(augmentation(), 10, SEED);
    let loader = DataLoaderBuilder::new(batcher).batch_size(64).build(Indexed(digits()));
    loader.iter().collect()
}

fn main() -> Result<(), DatasetError> {
    for (i, batch) in burn_batches()?.iter().enumerate() {
        let mean = batch.images.clone().mean().into_scalar::<f32>();
        println!("batch {i}: images {:?}, labels {:?}, mean {mean:.4}", batch.images.dims(), batch.labels.dims());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use zoo_data::{DataLoader, LoaderConfig};

    #[test]
    fn burns_loader_gives_the_zoo_loaders_batches() {
        let config = LoaderConfig::new(64).with_shuffle(false).with_seed(super::SEED);
        let zoo = DataLoader::new(Arc::new(super::digits()), super::augmentation(), config).unwrap();
        let zoo: Vec<_> = zoo.iter(0).collect::<Result<_, _>>().unwrap();
        let burn = super::burn_batches().unwrap();
        assert_eq!(burn.len(), zoo.len());
        for (ours, theirs) in zoo.iter().zip(&burn) {
            let images: Vec<f32> = theirs.images.clone().into_data().try_to_vec().unwrap();
            let labels: Vec<i64> = theirs.labels.clone().into_data().convert::<i64>().try_to_vec().unwrap();
            assert!(images == ours.images, "the same augmented images");
            assert_eq!(labels, ours.labels.iter().map(|&l| l as i64).collect::<Vec<_>>());
        }
    }
}
