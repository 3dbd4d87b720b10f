//! Each transform on a small known image gives the exact expected pixels.

use zoo_data::transforms::*;
use zoo_data::{BatchMix, HostBatch, Image, Item, Rng};

fn img(c: usize, h: usize, w: usize, v: &[f32]) -> Image {
    Image::new(c, h, w, v.to_vec()).unwrap()
}

fn seq(c: usize, h: usize, w: usize) -> Image {
    img(c, h, w, &(1..=c * h * w).map(|v| v as f32).collect::<Vec<_>>())
}

fn close(a: &[f32], b: &[f32]) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() < 1e-5, "element {i}: {x} vs {y}\n{a:?}\n{b:?}");
    }
}

#[test]
fn flips_of_a_2x3_image() {
    let im = seq(1, 2, 3); // 1 2 3 / 4 5 6
    assert_eq!(hflip(&im).data, vec![3., 2., 1., 6., 5., 4.]);
    assert_eq!(vflip(&im).data, vec![4., 5., 6., 1., 2., 3.]);
    // Two channels flip independently.
    let im2 = seq(2, 2, 3);
    assert_eq!(hflip(&im2).data, vec![3., 2., 1., 6., 5., 4., 9., 8., 7., 12., 11., 10.]);
    // The random versions with p = 1 and p = 0.
    let mut r = Rng::new(0);
    assert_eq!(HorizontalFlip { p: 1.0 }.apply(im.clone(), &mut r).unwrap(), hflip(&im));
    assert_eq!(HorizontalFlip { p: 0.0 }.apply(im.clone(), &mut r).unwrap(), im);
    assert_eq!(VerticalFlip { p: 1.0 }.apply(im.clone(), &mut r).unwrap(), vflip(&im));
    assert_eq!(VerticalFlip { p: 0.0 }.apply(im.clone(), &mut r).unwrap(), im);
}

#[test]
fn padding_values_for_each_mode() {
    let im = seq(1, 3, 3); // 1 2 3 / 4 5 6 / 7 8 9
    #[rustfmt::skip]
    let reflect = [
        5., 4., 5., 6., 5.,
        2., 1., 2., 3., 2.,
        5., 4., 5., 6., 5.,
        8., 7., 8., 9., 8.,
        5., 4., 5., 6., 5.,
    ];
    assert_eq!(pad(&im, 1, PaddingMode::Reflect, 0.0).data, reflect);
    #[rustfmt::skip]
    let replicate = [
        1., 1., 2., 3., 3.,
        1., 1., 2., 3., 3.,
        4., 4., 5., 6., 6.,
        7., 7., 8., 9., 9.,
        7., 7., 8., 9., 9.,
    ];
    assert_eq!(pad(&im, 1, PaddingMode::Replicate, 0.0).data, replicate);
    #[rustfmt::skip]
    let zero = [
        0., 0., 0., 0., 0.,
        0., 1., 2., 3., 0.,
        0., 4., 5., 6., 0.,
        0., 7., 8., 9., 0.,
        0., 0., 0., 0., 0.,
    ];
    assert_eq!(pad(&im, 1, PaddingMode::Zero, 0.0).data, zero);
    assert!(pad(&im, 1, PaddingMode::Zero, -1.0).data[..5].iter().all(|&v| v == -1.0));
    // Reflect by 2: c b [a b c] b a, on the row and the column axes.
    let p2 = pad(&im, 2, PaddingMode::Reflect, 0.0);
    assert_eq!(p2.shape(), [1, 7, 7]);
    assert_eq!(&p2.data[2 * 7..3 * 7], &[3., 2., 1., 2., 3., 2., 1.]);
    assert_eq!(&p2.data[0..7], &[9., 8., 7., 8., 9., 8., 7.]);
    // Replicate by 2 repeats the edge twice.
    assert_eq!(&pad(&im, 2, PaddingMode::Replicate, 0.0).data[2 * 7..3 * 7], &[1., 1., 1., 2., 3., 3., 3.]);
}

#[test]
fn crop_offsets() {
    let im = seq(1, 4, 4); // 1..16
    assert_eq!(crop(&im, 1, 2, 2, 2).unwrap().data, vec![7., 8., 11., 12.]);
    assert_eq!(crop(&im, 0, 0, 1, 4).unwrap().data, vec![1., 2., 3., 4.]);
    assert!(crop(&im, 3, 0, 2, 2).is_err());

    // A random crop is the crop at the offsets its generator draws, and every offset occurs.
    let rc = RandomCrop { size: [2, 2], padding: 0, padding_mode: PaddingMode::Zero, fill: 0.0 };
    let mut seen = std::collections::HashSet::new();
    for s in 0..200 {
        let (top, left) = rc.offsets(4, 4, &mut Rng::new(s)).unwrap();
        let out = rc.apply(im.clone(), &mut Rng::new(s)).unwrap();
        assert_eq!(out, crop(&im, top, left, 2, 2).unwrap());
        seen.insert((top, left));
    }
    assert_eq!(seen.len(), 9);

    // With padding, offsets are in padded coordinates: (0, 0) is the padded corner.
    let rc = RandomCrop { size: [3, 3], padding: 1, padding_mode: PaddingMode::Reflect, fill: 0.0 };
    for s in 0..100 {
        let (top, left) = rc.offsets(3, 3, &mut Rng::new(s)).unwrap();
        let out = rc.apply(seq(1, 3, 3), &mut Rng::new(s)).unwrap();
        let padded = pad(&seq(1, 3, 3), 1, PaddingMode::Reflect, 0.0);
        assert_eq!(out, crop(&padded, top, left, 3, 3).unwrap());
    }
    // Too large a crop is an error, not a panic.
    let too_big = RandomCrop { size: [9, 9], padding: 1, padding_mode: PaddingMode::Zero, fill: 0.0 };
    assert!(too_big.apply(seq(1, 3, 3), &mut Rng::new(0)).is_err());
    let reflect_too_much = RandomCrop { size: [3, 3], padding: 3, padding_mode: PaddingMode::Reflect, fill: 0.0 };
    assert!(reflect_too_much.apply(seq(1, 3, 3), &mut Rng::new(0)).is_err());

    // Center crop of 4x4 to 2x2 starts at (1, 1).
    let cc = CenterCrop { size: [2, 2] };
    assert_eq!(cc.apply(im.clone(), &mut Rng::new(0)).unwrap().data, vec![6., 7., 10., 11.]);
    assert!(CenterCrop { size: [5, 5] }.apply(im, &mut Rng::new(0)).is_err());
}

#[test]
fn normalize_arithmetic() {
    let im = img(2, 1, 2, &[0.5, 1.0, 0.2, 0.4]);
    let out = Normalize { mean: vec![0.5, 0.2], std: vec![0.5, 0.1] }.apply(im.clone(), &mut Rng::new(0)).unwrap();
    close(&out.data, &[0.0, 1.0, 0.0, 2.0]);
    // Wrong channel count and non-positive std are errors.
    assert!(normalize(im.clone(), &[0.5], &[0.5]).is_err());
    assert!(normalize(im, &[0.5, 0.5], &[0.5, 0.0]).is_err());
}

#[test]
fn grayscale_weights() {
    // Four RGB pixels: red, green, blue, mid grey.
    let im = img(3, 1, 4, &[1., 0., 0., 0.5, 0., 1., 0., 0.5, 0., 0., 1., 0.5]);
    let g = to_grayscale(&im, 1);
    close(&g.data, &[0.299, 0.587, 0.114, 0.5]);
    let g3 = Grayscale { channels: 3, p: 1.0 }.apply(im.clone(), &mut Rng::new(0)).unwrap();
    assert_eq!(g3.shape(), [3, 1, 4]);
    close(&g3.data[4..8], &[0.299, 0.587, 0.114, 0.5]);
    assert!(Grayscale { channels: 2, p: 1.0 }.apply(im, &mut Rng::new(0)).is_err());
}

#[test]
fn resize_bilinear_half_pixel() {
    // [0, 1] upsampled to 4 columns: like PyTorch's bilinear with align_corners=False.
    let im = img(1, 1, 2, &[0.0, 1.0]);
    close(&resize(&im, 1, 4).data, &[0.0, 0.25, 0.75, 1.0]);
    // 4 → 2 averages neighbour pairs.
    let im = img(1, 1, 4, &[0.0, 1.0, 2.0, 3.0]);
    close(&resize(&im, 1, 2).data, &[0.5, 2.5]);
    assert!(Resize { size: [0, 3] }.apply(im, &mut Rng::new(0)).is_err());
}

#[test]
fn affine_translation_and_rotation() {
    let im = seq(1, 3, 3);
    // Identity.
    close(&affine(&im, 0.0, (0.0, 0.0), 1.0, 0.0).data, &im.data);
    // One pixel right: the first column is fill.
    close(&affine(&im, 0.0, (1.0, 0.0), 1.0, 0.0).data, &[0., 1., 2., 0., 4., 5., 0., 7., 8.]);
    // One pixel up.
    close(&affine(&im, 0.0, (0.0, -1.0), 1.0, -1.0).data, &[4., 5., 6., 7., 8., 9., -1., -1., -1.]);
    // 90 degrees counter-clockwise: the top row becomes the left column, read bottom-up.
    close(&affine(&im, 90.0, (0.0, 0.0), 1.0, 0.0).data, &[3., 6., 9., 2., 5., 8., 1., 4., 7.]);
    // Scale 2 about the centre of a 2x2 image of one colour keeps the colour.
    let flat = Image::filled(1, 2, 2, 0.3);
    close(&affine(&flat, 0.0, (0.0, 0.0), 2.0, 0.0).data, &[0.3; 4]);
    // The random version with empty ranges is the identity.
    let ra = RandomAffine { degrees: 0.0, translate: [0.0, 0.0], scale: [1.0, 1.0], fill: 0.0 };
    close(&ra.apply(im.clone(), &mut Rng::new(1)).unwrap().data, &im.data);
}

#[test]
fn colour_adjustments() {
    let im = img(1, 1, 2, &[0.2, 0.8]);
    close(&adjust_brightness(im.clone(), 0.5).data, &[0.1, 0.4]);
    close(&adjust_brightness(im.clone(), 2.0).data, &[0.4, 1.0]);
    // Contrast blends with the mean (0.5).
    close(&adjust_contrast(im.clone(), 0.5).data, &[0.35, 0.65]);
    // Saturation 0 gives the grey image; on grey input it is a no-op.
    let rgb = img(3, 1, 1, &[1.0, 0.0, 0.0]);
    close(&adjust_saturation(rgb.clone(), 0.0).data, &[0.299, 0.299, 0.299]);
    close(&adjust_saturation(im.clone(), 0.0).data, &im.data);
    // Hue: red shifted by a third of a turn is green, by two thirds blue.
    close(&adjust_hue(rgb.clone(), 1.0 / 3.0).data, &[0.0, 1.0, 0.0]);
    close(&adjust_hue(rgb.clone(), -1.0 / 3.0).data, &[0.0, 0.0, 1.0]);
    // Jitter with all-zero strengths is the identity; an out-of-range hue is an error.
    close(&ColorJitter::default().apply(rgb.clone(), &mut Rng::new(2)).unwrap().data, &rgb.data);
    assert!(ColorJitter { hue: 0.7, ..Default::default() }.apply(rgb, &mut Rng::new(2)).is_err());
}

#[test]
fn random_erasing_writes_one_rectangle() {
    let re = RandomErasing { p: 1.0, scale: [0.1, 0.3], ratio: [0.5, 2.0], value: 0.0 };
    for s in 0..20 {
        let out = re.apply(Image::filled(1, 10, 10, 1.0), &mut Rng::new(s)).unwrap();
        let zeros: Vec<(usize, usize)> = (0..100).filter(|&i| out.data[i] == 0.0).map(|i| (i / 10, i % 10)).collect();
        assert!(!zeros.is_empty());
        let (y0, y1) = (zeros.iter().map(|p| p.0).min().unwrap(), zeros.iter().map(|p| p.0).max().unwrap());
        let (x0, x1) = (zeros.iter().map(|p| p.1).min().unwrap(), zeros.iter().map(|p| p.1).max().unwrap());
        // Exactly a filled rectangle.
        assert_eq!(zeros.len(), (y1 - y0 + 1) * (x1 - x0 + 1));
        assert!(zeros.len() >= 5 && zeros.len() <= 40, "area {}", zeros.len());
    }
    let never = RandomErasing { p: 0.0, ..re };
    assert_eq!(never.apply(Image::filled(1, 4, 4, 1.0), &mut Rng::new(0)).unwrap(), Image::filled(1, 4, 4, 1.0));
}

#[test]
fn pipeline_serde_roundtrip_and_keying() {
    let p = Pipeline::cifar_train();
    let json = serde_json::to_string(&p).unwrap();
    assert!(json.contains("\"type\":\"random_crop\""), "{json}");
    let back: Pipeline = serde_json::from_str(&json).unwrap();
    assert_eq!(back, p);
    // Every transform type parses from its JSON name with defaults.
    let all: Pipeline = serde_json::from_str(
        r#"[{"type":"random_crop","size":[2,2]},{"type":"pad","padding":1},{"type":"horizontal_flip"},
            {"type":"vertical_flip","p":0.1},{"type":"random_affine","degrees":10},{"type":"color_jitter","brightness":0.2},
            {"type":"grayscale","channels":1},{"type":"resize","size":[4,4]},{"type":"center_crop","size":[3,3]},
            {"type":"normalize","mean":[0.5],"std":[0.5]},{"type":"random_erasing"}]"#,
    )
    .unwrap();
    assert_eq!(all.transforms.len(), 11);
    let out = all.apply(Image::filled(3, 6, 6, 0.5), 1, 2, 3).unwrap();
    assert_eq!(out.shape(), [1, 3, 3]);

    // Same (seed, epoch, index) → same result; another epoch or index → another augmentation.
    let im = Image::new(3, 32, 32, (0..3072).map(|i| (i % 97) as f32 / 97.0).collect()).unwrap();
    let a = p.apply(im.clone(), 7, 0, 5).unwrap();
    assert_eq!(a, p.apply(im.clone(), 7, 0, 5).unwrap());
    let differs = (1..6).filter(|&e| p.apply(im.clone(), 7, e, 5).unwrap() != a).count();
    assert!(differs >= 4, "only {differs} of 5 other epochs changed the augmentation");
}

#[test]
fn mixup_and_cutmix_soft_targets() {
    let items: Vec<Item> = (0..4).map(|i| Item { image: Image::filled(1, 8, 8, i as f32), label: i }).collect();
    let base = HostBatch::from_items(items, vec![0, 1, 2, 3], 5).unwrap();

    let mut b = base.clone();
    let lam = BatchMix::Mixup { alpha: 0.4 }.apply(&mut b, &mut Rng::new(11)).unwrap();
    let t = b.soft_targets.clone().unwrap();
    for i in 0..4 {
        let j = (i + 3) % 4;
        // Image i is λ·i + (1-λ)·j everywhere.
        let want = lam * i as f32 + (1.0 - lam) * j as f32;
        assert!(b.images[i * 64..(i + 1) * 64].iter().all(|v| (v - want).abs() < 1e-5));
        assert!((t[i * 5 + i] - lam).abs() < 1e-6 && (t[i * 5 + j] - (1.0 - lam)).abs() < 1e-6);
        assert!((t[i * 5..(i + 1) * 5].iter().sum::<f32>() - 1.0).abs() < 1e-6);
    }

    for seed in 0..10 {
        let mut b = base.clone();
        let lam = BatchMix::Cutmix { alpha: 1.0 }.apply(&mut b, &mut Rng::new(seed)).unwrap();
        let t = b.soft_targets.clone().unwrap();
        for i in 0..4 {
            let j = (i + 3) % 4;
            let own = b.images[i * 64..(i + 1) * 64].iter().filter(|&&v| v == i as f32).count();
            let other = b.images[i * 64..(i + 1) * 64].iter().filter(|&&v| v == j as f32).count();
            assert_eq!(own + other, 64);
            // λ is the exact fraction of the image's own pixels.
            assert!((own as f32 / 64.0 - lam).abs() < 1e-6, "seed {seed}: {own} own pixels, λ {lam}");
            assert!((t[i * 5 + i] - lam).abs() < 1e-6);
        }
    }
    assert!(BatchMix::Mixup { alpha: 0.0 }.apply(&mut base.clone(), &mut Rng::new(0)).is_err());
}
