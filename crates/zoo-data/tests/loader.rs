//! Same seed → identical batches with 0, 1 and 4 workers; different epochs → different
//! augmentations; batches on a device; errors propagate; seeded splits.

use std::sync::Arc;

use burn::tensor::{Device, Int, Tensor};
use zoo_data::transforms::*;
use zoo_data::*;

fn augmenting_pipeline() -> Pipeline {
    Pipeline::new(vec![
        TransformConfig::RandomCrop(RandomCrop {
            size: [32, 32],
            padding: 4,
            padding_mode: PaddingMode::Reflect,
            fill: 0.0,
        }),
        TransformConfig::HorizontalFlip(HorizontalFlip { p: 0.5 }),
        TransformConfig::RandomAffine(RandomAffine {
            degrees: 10.0,
            translate: [0.1, 0.1],
            scale: [0.9, 1.1],
            fill: 0.0,
        }),
        TransformConfig::RandomErasing(RandomErasing { p: 0.5, scale: [0.02, 0.2], ratio: [0.3, 3.3], value: 0.0 }),
        TransformConfig::Normalize(Normalize { mean: vec![0.13], std: vec![0.31] }),
    ])
}

fn loader(workers: usize, mix: bool) -> DataLoader {
    let ds = Arc::new(SynthDigits::with_len(Split::Train, 203, 5));
    let cfg = LoaderConfig::new(32).with_workers(workers).with_seed(99);
    let l = DataLoader::new(ds, augmenting_pipeline(), cfg).unwrap();
    if mix { l.with_mix(BatchMix::MixupOrCutmix { mixup_alpha: 0.2, cutmix_alpha: 1.0, switch_prob: 0.5 }) } else { l }
}

fn epoch(l: &DataLoader, e: u64) -> Vec<HostBatch> {
    l.iter(e).collect::<Result<Vec<_>>>().unwrap()
}

#[test]
fn identical_batches_with_0_1_and_4_workers() {
    for mix in [false, true] {
        let reference = epoch(&loader(0, mix), 3);
        assert_eq!(reference.len(), 7); // 203 items in batches of 32
        assert_eq!(reference[6].len(), 11);
        for workers in [1, 4] {
            let got = epoch(&loader(workers, mix), 3);
            assert!(got == reference, "{workers} workers (mix {mix}) gave different batches");
        }
        // Every item appears exactly once per epoch.
        let mut seen: Vec<usize> = reference.iter().flat_map(|b| b.indices.clone()).collect();
        seen.sort();
        assert_eq!(seen, (0..203).collect::<Vec<_>>());
        if mix {
            assert!(reference.iter().all(|b| { b.soft_targets.as_ref().is_some_and(|t| t.len() == b.len() * 10) }));
        }
    }
}

#[test]
fn epochs_differ_and_seeds_matter() {
    let l = loader(2, false);
    let (e0, e1) = (epoch(&l, 0), epoch(&l, 1));
    assert_ne!(e0[0].indices, e1[0].indices, "shuffle order must change with the epoch");
    // Without shuffling the items are the same, the augmentations are not.
    let ds = Arc::new(SynthDigits::with_len(Split::Train, 64, 5));
    let cfg = LoaderConfig::new(64).with_shuffle(false).with_workers(1);
    let l = DataLoader::new(ds.clone(), augmenting_pipeline(), cfg.clone()).unwrap();
    let (a, b) = (l.batch(0, 0).unwrap(), l.batch(1, 0).unwrap());
    assert_eq!(a.indices, b.indices);
    assert_eq!(a.labels, b.labels);
    let per = 32 * 32;
    let changed = (0..64).filter(|&i| a.images[i * per..(i + 1) * per] != b.images[i * per..(i + 1) * per]).count();
    assert!(changed >= 60, "only {changed} of 64 images changed between epochs");
    // Same epoch, other seed → other augmentations.
    let other = DataLoader::new(ds, augmenting_pipeline(), cfg.with_seed(1)).unwrap();
    assert_ne!(other.batch(0, 0).unwrap().images, a.images);
    // Same epoch and seed in a fresh loader → same batch (nothing depends on call history).
    assert_eq!(l.batch(0, 0).unwrap(), a);
}

#[test]
fn batch_counts_and_config_errors() {
    let ds: Arc<dyn Dataset> = Arc::new(SynthDigits::with_len(Split::Test, 10, 0));
    let l = DataLoader::new(ds.clone(), Pipeline::default(), LoaderConfig::new(4).with_drop_last(true)).unwrap();
    assert_eq!(l.num_batches(), 2);
    assert_eq!(epoch(&l, 0).len(), 2);
    let l = DataLoader::new(ds.clone(), Pipeline::default(), LoaderConfig::new(4).with_workers(8)).unwrap();
    let batches = epoch(&l, 0);
    assert_eq!(batches.iter().map(HostBatch::len).collect::<Vec<_>>(), vec![4, 4, 2]);
    assert!(DataLoader::new(ds.clone(), Pipeline::default(), LoaderConfig::new(0)).is_err());
    let empty: Arc<dyn Dataset> = Arc::new(SynthDigits::with_len(Split::Test, 0, 0));
    assert!(DataLoader::new(empty, Pipeline::default(), LoaderConfig::new(4)).is_err());
    // Dropping an iterator early stops its workers without blocking.
    let l = DataLoader::new(ds, Pipeline::default(), LoaderConfig::new(1).with_workers(3)).unwrap();
    let mut it = l.iter(0);
    assert!(it.next().unwrap().is_ok());
    drop(it);
}

#[test]
fn reader_errors_reach_the_caller_through_workers() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("a")).unwrap();
    for i in 0..6 {
        image::GrayImage::from_raw(4, 4, vec![i * 10; 16])
            .unwrap()
            .save(tmp.path().join(format!("a/{i}.png")))
            .unwrap();
    }
    std::fs::write(tmp.path().join("a/3.png"), b"corrupt").unwrap();
    let ds = Arc::new(ImageFolder::open(tmp.path(), 1).unwrap());
    for workers in [0, 2] {
        let cfg = LoaderConfig::new(2).with_shuffle(false).with_workers(workers);
        let l = DataLoader::new(ds.clone(), Pipeline::default(), cfg).unwrap();
        let results: Vec<_> = l.iter(0).collect();
        assert_eq!(results.len(), 3);
        assert!(results[0].is_ok() && results[2].is_ok());
        let e = results[1].as_ref().unwrap_err();
        assert!(matches!(e, DataError::CorruptImage { path, .. } if path.ends_with("a/3.png")), "{e}");
    }
    // Images of different sizes cannot be batched without a resize: a typed error, not a panic.
    image::GrayImage::from_raw(5, 4, vec![0; 20]).unwrap().save(tmp.path().join("a/3.png")).unwrap();
    let l = DataLoader::new(ds.clone(), Pipeline::default(), LoaderConfig::new(6).with_shuffle(false)).unwrap();
    assert!(matches!(l.batch(0, 0), Err(DataError::ShapeMismatch { index: 3, .. })));
    let resized = Pipeline::new(vec![TransformConfig::Resize(Resize { size: [4, 4] })]);
    let l = DataLoader::new(ds, resized, LoaderConfig::new(6).with_shuffle(false)).unwrap();
    assert_eq!(l.batch(0, 0).unwrap().shape, [6, 1, 4, 4]);
}

#[test]
fn batches_become_tensors_on_the_device() {
    let device = Device::flex();
    let l = loader(2, false);
    let host = l.batch(0, 0).unwrap();
    let batch = l.iter_device(0, &device).next().unwrap().unwrap();
    assert_eq!(batch.images.dims(), [32, 1, 32, 32]);
    let images: Vec<f32> = batch.images.clone().into_data().try_to_vec().unwrap();
    assert_eq!(images, host.images);
    let labels: Tensor<1, Int> = batch.labels;
    let labels: Vec<i64> = labels.into_data().convert::<i64>().try_to_vec().unwrap();
    assert_eq!(labels, host.labels.iter().map(|&l| l as i64).collect::<Vec<_>>());
    assert!(batch.soft_targets.is_none());

    let mixed = loader(0, true).batch(0, 0).unwrap().to_device(&device);
    let soft = mixed.soft_targets.expect("mixed batches carry soft targets");
    assert_eq!(soft.dims(), [32, 10]);
    let sums: Vec<f32> = soft.sum_dim(1).into_data().try_to_vec().unwrap();
    assert!(sums.iter().all(|s| (s - 1.0).abs() < 1e-5));
}

#[test]
fn seeded_train_validation_split() {
    let ds: Arc<dyn Dataset> = Arc::new(SynthDigits::with_len(Split::Train, 1000, 0));
    let (t, v) = train_val_split(ds.clone(), 0.2, 42).unwrap();
    assert_eq!((t.len(), v.len()), (800, 200));
    let mut all: Vec<usize> = t.indices().iter().chain(v.indices()).copied().collect();
    all.sort();
    assert_eq!(all, (0..1000).collect::<Vec<_>>());
    let (t2, v2) = train_val_split(ds.clone(), 0.2, 42).unwrap();
    assert_eq!((t2.indices(), v2.indices()), (t.indices(), v.indices()));
    let (_, v3) = train_val_split(ds.clone(), 0.2, 43).unwrap();
    assert_ne!(v3.indices(), v.indices());
    assert_eq!(v.get(0).unwrap(), ds.get(v.indices()[0]).unwrap());
    assert!(train_val_split(ds.clone(), 1.5, 0).is_err());
    assert!(Subset::new(ds, vec![1000]).is_err());
}

/// The images of one epoch by dataset index (each index's image, as the loader augmented it).
fn images_by_index(batches: &[HostBatch]) -> std::collections::HashMap<usize, Vec<f32>> {
    let per = 32 * 32;
    batches
        .iter()
        .flat_map(|b| b.indices.iter().enumerate().map(move |(k, &i)| (i, b.images[k * per..(k + 1) * per].to_vec())))
        .collect()
}

#[test]
fn shards_deal_every_epoch_afresh_as_distributed_sampler_does() {
    let whole = loader(0, false);
    for world in [2, 3] {
        let shards: Vec<DataLoader> = (0..world).map(|rank| whole.shard(rank, world, 1).unwrap()).collect();
        for e in [0, 1] {
            let order = whole.epoch_order(e);
            let mut dealt: Vec<usize> = Vec::new();
            for (rank, shard) in shards.iter().enumerate() {
                assert_eq!(shard.num_items(), 203usize.div_ceil(world));
                let expected: Vec<usize> =
                    (rank..shard.num_items() * world).step_by(world).map(|p| order[p % 203]).collect();
                assert_eq!(shard.epoch_order(e), expected, "rank {rank} of {world}, epoch {e}");
                dealt.extend(shard.epoch_order(e));
            }
            // Disjoint but for the wrap-around padding, and together the whole epoch.
            let padding = 203usize.div_ceil(world) * world - 203;
            assert_eq!(dealt.len(), 203 + padding);
            dealt.sort();
            dealt.dedup();
            assert_eq!(dealt, (0..203).collect::<Vec<_>>());
        }
        // Re-dealt each epoch: rank 0's share of epoch 0 is not its share of epoch 1.
        assert_ne!(shards[0].epoch_order(0), shards[0].epoch_order(1));
        // An image is augmented the same way on any device and with any device count.
        let reference = images_by_index(&epoch(&whole, 2));
        for shard in &shards {
            for (i, image) in images_by_index(&epoch(shard, 2)) {
                assert!(image == reference[&i], "image {i} augmented differently on a shard of {world}");
            }
        }
    }
    assert!(whole.shard(2, 2, 0).is_err());
    assert!(whole.shard(0, 0, 0).is_err());
    assert!(whole.shard(0, 2, 0).unwrap().shard(0, 2, 0).is_err());
}

#[test]
fn shards_keep_mixing_with_their_own_draws() {
    let whole = loader(0, true);
    let (a, b) =
        (whole.shard(0, 2, 0).unwrap().batch(0, 0).unwrap(), whole.shard(1, 2, 0).unwrap().batch(0, 0).unwrap());
    let (sa, sb) = (a.soft_targets.expect("mixup kept on rank 0"), b.soft_targets.expect("mixup kept on rank 1"));
    // The largest weight of each row is 1 - λ or λ: the two devices drew different λ.
    let top = |s: &[f32]| s.chunks(10).map(|r| r.iter().copied().fold(0.0f32, f32::max)).collect::<Vec<_>>();
    assert_ne!(top(&sa), top(&sb));
}

#[test]
fn zoo_datasets_go_through_burns_transforms_and_come_back() {
    use burn::data::dataset::Dataset as BurnDataset;
    use burn::data::dataset::transform::PartialDataset;
    use zoo_data::interop::FromBurn;

    let digits = SynthDigits::with_len(Split::Test, 20, 2);
    // A zoo dataset is a Burn dataset: Burn's lazy slice takes items 5..9 of it.
    let part = PartialDataset::new(digits.clone(), 5, 9);
    assert_eq!(BurnDataset::len(&part), 4);
    // ... and any Burn dataset of items comes back as a zoo dataset, with its classes.
    let back = FromBurn::new(part, Dataset::classes(&digits).to_vec(), "digits 5..9", Ok);
    assert_eq!(Dataset::len(&back), 4);
    for i in 0..4 {
        assert_eq!(Dataset::get(&back, i).unwrap(), Dataset::get(&digits, 5 + i).unwrap());
    }
    // A read error keeps the zoo's message through Burn's error type.
    let error = BurnDataset::get(&digits, 20).unwrap_err().to_string();
    assert!(error.contains("20"), "{error}");
    assert!(Dataset::get(&back, 4).is_err());
    // Labels the classes do not cover are refused by name.
    let few = FromBurn::new(PartialDataset::new(digits, 0, 20), vec!["0".into(), "1".into()], "two classes", Ok);
    let refused: Vec<String> = (0..20).filter_map(|i| Dataset::get(&few, i).err()).map(|e| e.to_string()).collect();
    assert!(!refused.is_empty() && refused[0].contains("two classes"), "{refused:?}");
}
