//! The CIFAR training pipeline, in images per second: decode a CIFAR binary record → pad 4 +
//! random 32x32 crop → horizontal flip → normalize → batch of 128, on one thread and on all
//! cores (one loader worker per core). `bench/torchvision_transforms.py` runs the same pipeline
//! with torchvision.transforms.v2 for comparison.
//!
//! Run: `cargo bench -p zoo-data --bench pipeline`
//!
//! A plain timing loop (median of 20 epochs after one warm-up) rather than criterion: criterion
//! turns on a feature of `ciborium`, which Burn's fusion crates share, so as a dev-dependency it
//! made `cargo run` rebuild Burn's upper crates (about 20 minutes here) after `cargo test`.

use std::sync::Arc;

use std::time::Instant;

use zoo_data::transforms::{CIFAR10_MEAN, CIFAR10_STD};
use zoo_data::transforms::{HorizontalFlip, Normalize, PaddingMode, Pipeline, RandomCrop, TransformConfig};
use zoo_data::{CifarDataset, CifarKind, DataLoader, Dataset, LoaderConfig, Rng, Split};

/// Images per measured epoch: 40 batches of 128.
const IMAGES: usize = 5120;

/// A CIFAR-10 batch file of random pixels, written to a temporary directory and read back with
/// the real reader, so that the benchmark decodes exactly what training would.
fn dataset() -> Arc<dyn Dataset> {
    let dir = std::env::temp_dir().join(format!("zoo-data-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut rng = Rng::new(0);
    let mut bytes = Vec::with_capacity(IMAGES * 3073);
    for i in 0..IMAGES {
        bytes.push((i % 10) as u8);
        bytes.extend((0..3072).map(|_| rng.next_u64() as u8));
    }
    std::fs::write(dir.join("test_batch.bin"), &bytes).unwrap();
    let ds = CifarDataset::open(&dir, CifarKind::Cifar10, Split::Test).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    Arc::new(ds)
}

/// torchvision's `RandomCrop(32, padding=4)` (zero fill), `RandomHorizontalFlip()`, `Normalize`.
fn pipeline() -> Pipeline {
    Pipeline::new(vec![
        TransformConfig::RandomCrop(RandomCrop {
            size: [32, 32],
            padding: 4,
            padding_mode: PaddingMode::Zero,
            fill: 0.0,
        }),
        TransformConfig::HorizontalFlip(HorizontalFlip { p: 0.5 }),
        TransformConfig::Normalize(Normalize { mean: CIFAR10_MEAN.to_vec(), std: CIFAR10_STD.to_vec() }),
    ])
}

/// Timed epochs per configuration, after one warm-up epoch.
const EPOCHS: usize = 20;

fn main() {
    let ds = dataset();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    for (name, workers) in [("1 thread".to_string(), 0), (format!("{cores} workers"), cores)] {
        let cfg = LoaderConfig::new(128).with_workers(workers).with_seed(1);
        let loader = DataLoader::new(ds.clone(), pipeline(), cfg).unwrap();
        let mut seconds: Vec<f64> = (0..=EPOCHS)
            .map(|epoch| {
                let started = Instant::now();
                let n: usize = loader.iter(epoch as u64).map(|batch| batch.unwrap().len()).sum();
                assert_eq!(n, IMAGES);
                started.elapsed().as_secs_f64()
            })
            .skip(1)
            .collect();
        seconds.sort_by(f64::total_cmp);
        let median = seconds[EPOCHS / 2];
        let (fastest, slowest) = (seconds[0], seconds[EPOCHS - 1]);
        println!(
            "cifar_pipeline/{name}: {:.0} images/s (median of {EPOCHS} epochs of {IMAGES}; {:.0} to {:.0})",
            IMAGES as f64 / median,
            IMAGES as f64 / slowest,
            IMAGES as f64 / fastest
        );
    }
}
