//! IDX (raw and gz), CIFAR binary and image-folder readers on fixture files written here, and
//! every reader error triggered by a crafted bad file.

use std::io::Write;
use std::path::Path;

use zoo_data::*;

fn idx_images(n: u32, rows: u32, cols: u32, pixels: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    for x in [IDX_IMAGES_MAGIC, n, rows, cols] {
        v.extend_from_slice(&x.to_be_bytes());
    }
    v.extend_from_slice(pixels);
    v
}

fn idx_labels(labels: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&IDX_LABELS_MAGIC.to_be_bytes());
    v.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    v.extend_from_slice(labels);
    v
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// Three 2x2 images with pixels 0..12 and labels 7, 0, 9.
fn write_idx(dir: &Path, compress: bool, split: &str) {
    let pixels: Vec<u8> = (0..12).map(|i| i * 20).collect();
    let (img, lbl) = (idx_images(3, 2, 2, &pixels), idx_labels(&[7, 0, 9]));
    let (img, lbl, ext) = if compress { (gz(&img), gz(&lbl), ".gz") } else { (img, lbl, "") };
    write(&dir.join(format!("{split}-images-idx3-ubyte{ext}")), &img);
    write(&dir.join(format!("{split}-labels-idx1-ubyte{ext}")), &lbl);
}

fn assert_one_line_naming(err: &DataError, path: &Path) {
    let msg = err.to_string();
    assert!(!msg.contains('\n'), "multi-line message: {msg}");
    assert!(msg.contains(&path.display().to_string()), "message does not name {}: {msg}", path.display());
}

#[test]
fn idx_raw_and_gzipped() {
    for compress in [false, true] {
        let tmp = tempfile::tempdir().unwrap();
        write_idx(tmp.path(), compress, "train");
        write_idx(tmp.path(), compress, "t10k");
        for kind in [IdxKind::Mnist, IdxKind::FashionMnist] {
            let ds = IdxDataset::open(tmp.path(), kind, Split::Train).unwrap();
            assert_eq!(ds.len(), 3);
            assert_eq!(ds.image_size(), (2, 2));
            assert_eq!(ds.labels(), &[7, 0, 9]);
            let it = ds.get(1).unwrap();
            assert_eq!(it.label, 0);
            assert_eq!(it.image.shape(), [1, 2, 2]);
            assert_eq!(it.image.to_u8(), vec![80, 100, 120, 140]);
            assert_eq!(it.image.data[0], 80.0 / 255.0);
            assert!(matches!(ds.get(3), Err(DataError::IndexOutOfRange { index: 3, len: 3, .. })));
        }
        let f = IdxDataset::open(tmp.path(), IdxKind::FashionMnist, Split::Test).unwrap();
        assert_eq!(f.classes()[9], "Ankle boot");
        assert_eq!(f.name(), "fashion-mnist/test");
        // Through open_dataset, which reads root/<name>.
        let root = tempfile::tempdir().unwrap();
        write_idx(&root.path().join("mnist"), compress, "t10k");
        assert_eq!(open_dataset("mnist", root.path(), Split::Test, 1).unwrap().len(), 3);
    }
}

#[test]
fn idx_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let img_path = dir.join("train-images-idx3-ubyte");
    let lbl_path = dir.join("train-labels-idx1-ubyte");
    let open = || IdxDataset::open(dir, IdxKind::Mnist, Split::Train);

    // Missing directory and missing file.
    let missing = dir.join("nope");
    let e = IdxDataset::open(&missing, IdxKind::Mnist, Split::Train).unwrap_err();
    assert!(matches!(e, DataError::MissingFolder { .. }));
    assert_one_line_naming(&e, &missing);
    let e = open().unwrap_err();
    assert!(matches!(&e, DataError::MissingFile { path, .. } if *path == img_path), "{e}");
    assert!(e.to_string().contains("--download"));

    // Wrong magic number: a label file where the images should be.
    write(&img_path, &idx_labels(&[1, 2]));
    write(&lbl_path, &idx_labels(&[1, 2]));
    let e = open().unwrap_err();
    assert!(matches!(e, DataError::BadMagic { found: 0x801, expected: 0x803, .. }), "{e}");
    assert_one_line_naming(&e, &img_path);
    assert!(e.to_string().contains("offset 0"));

    // Truncated: the header promises 3 images of 2x2, only 11 pixel bytes follow.
    write(&img_path, &idx_images(3, 2, 2, &[0; 11]));
    let e = open().unwrap_err();
    assert!(matches!(e, DataError::Truncated { offset: 27, expected: 28, actual: 27, .. }), "{e}");
    assert_one_line_naming(&e, &img_path);
    // Truncated inside the header.
    write(&img_path, &idx_images(3, 2, 2, &[])[..10]);
    assert!(matches!(open().unwrap_err(), DataError::Truncated { offset: 10, .. }));
    // Zero-size images.
    write(&img_path, &idx_images(3, 0, 2, &[]));
    assert!(matches!(open().unwrap_err(), DataError::BadHeader { offset: 8, .. }));

    // Image / label count mismatch.
    write(&img_path, &idx_images(3, 2, 2, &[0; 12]));
    write(&lbl_path, &idx_labels(&[1, 2]));
    let e = open().unwrap_err();
    assert!(matches!(e, DataError::CountMismatch { n_images: 3, n_labels: 2, .. }), "{e}");
    assert_one_line_naming(&e, &img_path);
    assert_one_line_naming(&e, &lbl_path);

    // Label out of range for 10 classes, at byte offset 8 + 1.
    write(&lbl_path, &idx_labels(&[1, 10, 2]));
    let e = open().unwrap_err();
    assert!(matches!(e, DataError::LabelOutOfRange { offset: 9, label: 10, num_classes: 10, .. }), "{e}");
    assert_one_line_naming(&e, &lbl_path);

    // Truncated label file.
    write(&lbl_path, &idx_labels(&[1, 2, 3])[..10]);
    assert!(matches!(open().unwrap_err(), DataError::Truncated { offset: 10, expected: 11, .. }));

    // A corrupt gzip file.
    std::fs::remove_file(&img_path).unwrap();
    let gz_path = dir.join("train-images-idx3-ubyte.gz");
    write(&gz_path, b"\x1f\x8b\x08\x00garbage that is not deflate");
    write(&lbl_path, &idx_labels(&[1, 2, 3]));
    let e = open().unwrap_err();
    assert!(matches!(e, DataError::Corrupt { .. }), "{e}");
    assert_one_line_naming(&e, &gz_path);
}

fn cifar_record(label: &[u8], fill: u8) -> Vec<u8> {
    let mut r = label.to_vec();
    r.extend((0..CIFAR_IMAGE_BYTES).map(|i| fill.wrapping_add((i % 251) as u8)));
    r
}

#[test]
fn cifar10_and_cifar100_binary() {
    let tmp = tempfile::tempdir().unwrap();
    // The layout of the official archive: root/cifar-10-batches-bin/*.bin.
    let bin = tmp.path().join("cifar-10-batches-bin");
    for b in 1..=5u8 {
        let mut f = cifar_record(&[b], b);
        f.extend(cifar_record(&[9 - b], 100 + b));
        write(&bin.join(format!("data_batch_{b}.bin")), &f);
    }
    write(&bin.join("test_batch.bin"), &cifar_record(&[3], 7));
    let train = CifarDataset::open(tmp.path(), CifarKind::Cifar10, Split::Train).unwrap();
    assert_eq!(train.len(), 10);
    assert_eq!(train.labels(), &[1, 8, 2, 7, 3, 6, 4, 5, 5, 4]);
    let it = train.get(3).unwrap();
    assert_eq!((it.label, it.image.shape()), (7, [3, 32, 32]));
    // Planar RGB: byte i of the record's image is channel i / 1024, pixel i % 1024.
    assert_eq!(it.image.to_u8()[..3], [102, 103, 104]);
    assert_eq!(it.image.get(1, 0, 0), (102 + 1024 % 251) as f32 / 255.0);
    assert_eq!(train.classes()[0], "airplane");
    // The batches directory itself works too.
    let test = CifarDataset::open(&bin, CifarKind::Cifar10, Split::Test).unwrap();
    assert_eq!((test.len(), test.get(0).unwrap().label), (1, 3));

    // CIFAR-100: coarse byte, fine byte.
    let c100 = tmp.path().join("c100");
    let mut f = cifar_record(&[19, 99], 0);
    f.extend(cifar_record(&[0, 42], 1));
    write(&c100.join("train.bin"), &f);
    let fine = CifarDataset::open(&c100, CifarKind::Cifar100Fine, Split::Train).unwrap();
    assert_eq!((fine.labels(), fine.num_classes()), (&[99u8, 42][..], 100));
    assert_eq!(fine.classes()[99], "worm");
    let coarse = CifarDataset::open(&c100, CifarKind::Cifar100Coarse, Split::Train).unwrap();
    assert_eq!((coarse.labels(), coarse.num_classes()), (&[19u8, 0][..], 20));
    assert_eq!(coarse.classes()[19], "vehicles_2");
}

#[test]
fn cifar_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let path = dir.join("test_batch.bin");
    let open = || CifarDataset::open(dir, CifarKind::Cifar10, Split::Test);

    let e = open().unwrap_err();
    assert!(matches!(&e, DataError::MissingFile { path: p, .. } if *p == path), "{e}");

    // Truncated: two full records and 100 bytes of a third.
    let mut f = cifar_record(&[1], 0);
    f.extend(cifar_record(&[2], 0));
    f.extend(&cifar_record(&[3], 0)[..100]);
    write(&path, &f);
    let e = open().unwrap_err();
    assert!(matches!(e, DataError::Truncated { offset: 6146, expected: 9219, actual: 6246, .. }), "{e}");
    assert_one_line_naming(&e, &path);
    // An empty file is truncated at offset 0.
    write(&path, &[]);
    assert!(matches!(open().unwrap_err(), DataError::Truncated { offset: 0, .. }));

    // Label 10 in the second record of a CIFAR-10 file.
    let mut f = cifar_record(&[1], 0);
    f.extend(cifar_record(&[10], 0));
    write(&path, &f);
    let e = open().unwrap_err();
    assert!(matches!(e, DataError::LabelOutOfRange { offset: 3073, label: 10, num_classes: 10, .. }), "{e}");
    assert_one_line_naming(&e, &path);

    // CIFAR-100: a coarse label of 20 and a fine label of 100 are both caught.
    let p100 = dir.join("test.bin");
    write(&p100, &cifar_record(&[20, 5], 0));
    let e = CifarDataset::open(dir, CifarKind::Cifar100Fine, Split::Test).unwrap_err();
    assert!(matches!(e, DataError::LabelOutOfRange { offset: 0, label: 20, num_classes: 20, .. }), "{e}");
    write(&p100, &cifar_record(&[5, 100], 0));
    let e = CifarDataset::open(dir, CifarKind::Cifar100Coarse, Split::Test).unwrap_err();
    assert!(matches!(e, DataError::LabelOutOfRange { offset: 1, label: 100, num_classes: 100, .. }), "{e}");
    // A CIFAR-100 file read as CIFAR-10 has the wrong record size.
    write(&path, &cifar_record(&[5, 5], 0));
    assert!(matches!(open().unwrap_err(), DataError::Truncated { offset: 3073, expected: 6146, .. }));
}

fn save_png_rgb(path: &Path, w: u32, h: u32, px: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    image::RgbImage::from_raw(w, h, px.to_vec()).unwrap().save(path).unwrap();
}

#[test]
fn image_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    // cat/a.png: 2x1 RGB (red, blue); dog/b.bmp: 1x1 grey; dog/c.jpg: 4x4 grey JPEG; a stray text file.
    save_png_rgb(&root.join("cat/a.png"), 2, 1, &[255, 0, 0, 0, 0, 255]);
    std::fs::create_dir_all(root.join("dog")).unwrap();
    image::GrayImage::from_raw(1, 1, vec![51]).unwrap().save(root.join("dog/b.bmp")).unwrap();
    image::GrayImage::from_raw(4, 4, vec![128; 16]).unwrap().save(root.join("dog/c.jpg")).unwrap();
    write(&root.join("dog/notes.txt"), b"not an image");

    let rgb = ImageFolder::open(root, 3).unwrap();
    assert_eq!(rgb.classes(), &["cat".to_string(), "dog".to_string()]);
    assert_eq!(rgb.len(), 3);
    let a = rgb.get(0).unwrap();
    assert_eq!((a.label, a.image.shape()), (0, [3, 1, 2]));
    assert_eq!(a.image.data, vec![1.0, 0.0, 0.0, 0.0, 0.0, 1.0]);
    let b = rgb.get(1).unwrap();
    assert_eq!((b.label, b.image.to_u8()), (1, vec![51, 51, 51]));
    let c = rgb.get(2).unwrap();
    assert_eq!(c.image.shape(), [3, 4, 4]);
    assert!(c.image.to_u8().iter().all(|&v| v.abs_diff(128) <= 2));
    rgb.verify().unwrap();

    // Grey: colour images use the ITU-R 601 weights.
    let grey = ImageFolder::open(root, 1).unwrap();
    let a = grey.get(0).unwrap().image;
    assert_eq!(a.shape(), [1, 1, 2]);
    assert!((a.data[0] - 0.299).abs() < 1e-6 && (a.data[1] - 0.114).abs() < 1e-6);
    assert_eq!(grey.get(1).unwrap().image.to_u8(), vec![51]);

    // open_dataset("folder:...") uses <path>/train when it exists.
    let split_root = tempfile::tempdir().unwrap();
    save_png_rgb(&split_root.path().join("train/x/1.png"), 1, 1, &[1, 2, 3]);
    let ds = open_dataset(&format!("folder:{}", split_root.path().display()), "unused", Split::Train, 3).unwrap();
    assert_eq!((ds.len(), ds.classes()[0].as_str()), (1, "x"));
}

#[test]
fn image_folder_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();

    let missing = root.join("missing");
    let e = ImageFolder::open(&missing, 3).unwrap_err();
    assert!(matches!(e, DataError::MissingFolder { .. }));
    assert_one_line_naming(&e, &missing);

    // No class folder at all.
    let e = ImageFolder::open(root, 3).unwrap_err();
    assert!(matches!(e, DataError::EmptyFolder { .. }), "{e}");
    assert_one_line_naming(&e, root);

    // A class folder without an image.
    write(&root.join("a/readme.txt"), b"hello");
    let e = ImageFolder::open(root, 3).unwrap_err();
    assert!(matches!(&e, DataError::EmptyFolder { path, .. } if *path == root.join("a")), "{e}");

    // Unsupported channel counts, for the folder and for a single decode.
    save_png_rgb(&root.join("a/ok.png"), 1, 1, &[1, 2, 3]);
    let e = ImageFolder::open(root, 2).unwrap_err();
    assert!(matches!(e, DataError::UnsupportedChannels { channels: 2, .. }), "{e}");
    let bytes = std::fs::read(root.join("a/ok.png")).unwrap();
    let e = decode_image(&bytes, 4, &root.join("a/ok.png")).unwrap_err();
    assert!(matches!(e, DataError::UnsupportedChannels { channels: 4, .. }));
    assert_one_line_naming(&e, &root.join("a/ok.png"));

    // A corrupt image fails when read, naming the file; the others still load.
    let bad = root.join("a/zz.png");
    write(&bad, b"\x89PNG\r\n\x1a\n this is not a PNG body");
    let ds = ImageFolder::open(root, 3).unwrap();
    assert!(ds.get(0).is_ok());
    let e = ds.get(1).unwrap_err();
    assert!(matches!(e, DataError::CorruptImage { .. }), "{e}");
    assert_one_line_naming(&e, &bad);
    assert!(ds.verify().is_err());
    // A truncated JPEG too.
    let jpg = root.join("b/t.jpg");
    std::fs::create_dir_all(root.join("b")).unwrap();
    image::GrayImage::from_raw(8, 8, vec![9; 64]).unwrap().save(&jpg).unwrap();
    let full = std::fs::read(&jpg).unwrap();
    write(&jpg, &full[..full.len() / 3]);
    let e = load_image(&jpg, 1).unwrap_err();
    assert!(matches!(e, DataError::CorruptImage { .. }), "{e}");

    assert!(matches!(open_dataset("imagenet", root, Split::Train, 3), Err(DataError::UnknownDataset(_))));
}

/// The real Fashion-MNIST files, where Debian's `dataset-fashion-mnist` package put them (CI
/// does not install it; a machine that has it checks the reader on the real thing). They are
/// found through the same search as `zoo train --dataset fashion-mnist`.
#[test]
fn the_packaged_fashion_mnist_has_its_published_counts_and_balance() {
    let packaged = Path::new("/usr/share/datasets/fashion-mnist");
    if !packaged.is_dir() {
        eprintln!("{} is absent (apt-get install dataset-fashion-mnist): nothing to check", packaged.display());
        return;
    }
    let missing = Path::new("/nonexistent-zoo-data-dir");
    assert_eq!(find_dataset("fashion-mnist", missing).as_deref(), Some(Path::new("/usr/share/datasets")));
    for (split, total) in [(Split::Train, 60_000), (Split::Test, 10_000)] {
        let dataset = open_dataset("fashion-mnist", "/usr/share/datasets", split, 1).unwrap();
        assert_eq!(dataset.len(), total, "{split:?}");
        assert_eq!(dataset.classes()[0], "T-shirt/top");
        assert_eq!(dataset.classes()[9], "Ankle boot");
        let mut per_class = [0usize; 10];
        for index in 0..dataset.len() {
            let item = dataset.get(index).unwrap();
            assert_eq!(item.image.shape(), [1, 28, 28]);
            per_class[item.label] += 1;
        }
        assert_eq!(per_class, [total / 10; 10], "{split:?}");
    }
}
