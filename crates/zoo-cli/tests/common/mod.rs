//! Tiny datasets on disk, one per kind the zoo reads: IDX (MNIST), CIFAR-10's binary batches and
//! an image folder of mixed sizes and modes. Each class draws a bright bar in its own place, so
//! that a few steps have something to learn.

#![allow(dead_code)] // each test file uses some of the writers

use std::path::Path;

/// The pixel at `(y, x)` of image `i` of `class` on a `side x side` canvas: 255 inside the
/// class's bar, low noise elsewhere.
fn pixel(class: usize, i: usize, y: usize, x: usize, side: usize) -> u8 {
    let cell = side / 5;
    let (top, left) = (cell / 4 + (class / 5) * side / 2, (class % 5) * cell);
    let inside = (top..top + side * 3 / 8).contains(&y) && (left..left + cell / 2 + 1).contains(&x);
    if inside { 255 } else { ((i * 7 + y * 3 + x) % 32) as u8 }
}

/// MNIST's four IDX files under `dir/mnist`: `train` and `test` 28x28 images of 10 classes.
pub fn write_mnist(dir: &Path, train: usize, test: usize) {
    let root = dir.join("mnist");
    std::fs::create_dir_all(&root).unwrap();
    for (split, count) in [("train", train), ("t10k", test)] {
        let mut images = Vec::new();
        for header in [0x0803u32, count as u32, 28, 28] {
            images.extend_from_slice(&header.to_be_bytes());
        }
        let mut labels = Vec::new();
        for header in [0x0801u32, count as u32] {
            labels.extend_from_slice(&header.to_be_bytes());
        }
        for i in 0..count {
            let class = i % 10;
            for y in 0..28 {
                for x in 0..28 {
                    images.push(pixel(class, i, y, x, 28));
                }
            }
            labels.push(class as u8);
        }
        std::fs::write(root.join(format!("{split}-images-idx3-ubyte")), images).unwrap();
        std::fs::write(root.join(format!("{split}-labels-idx1-ubyte")), labels).unwrap();
    }
}

/// CIFAR-10's binary batches under `dir/cifar10`: `per_batch` 32x32 colour images in each of the
/// five training batches and in the test batch.
pub fn write_cifar10(dir: &Path, per_batch: usize) {
    let root = dir.join("cifar10");
    std::fs::create_dir_all(&root).unwrap();
    let files = [
        "data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin",
        "test_batch.bin",
    ];
    for (b, file) in files.iter().enumerate() {
        let mut bytes = Vec::new();
        for i in 0..per_batch {
            let class = (b * per_batch + i) % 10;
            bytes.push(class as u8);
            for channel in 0..3 {
                for y in 0..32 {
                    for x in 0..32 {
                        bytes.push(pixel(class, i + channel, y, x, 32) / (channel as u8 + 1));
                    }
                }
            }
        }
        std::fs::write(root.join(file), bytes).unwrap();
    }
}

/// An image folder at `dir` with `train/` and `test/`, three classes, and images of mixed
/// sizes and modes: grey, grey with alpha, RGB and RGBA PNGs, JPEGs and BMPs, 12 to 61 pixels
/// a side, some not square.
pub fn write_image_folder(dir: &Path, per_class: usize) {
    use image::{DynamicImage, GrayImage, ImageFormat};
    for split in ["train", "test"] {
        for (class, name) in ["circle", "square", "stripe"].iter().enumerate() {
            let folder = dir.join(split).join(name);
            std::fs::create_dir_all(&folder).unwrap();
            for i in 0..per_class {
                let (w, h) = (12 + (i * 17 + class * 5) % 50, 12 + (i * 11 + class * 13) % 50);
                let grey = GrayImage::from_fn(w as u32, h as u32, |x, y| {
                    let side = w.min(h);
                    image::Luma([pixel(class * 3, i, y as usize % side, x as usize % side, side)])
                });
                let grey = DynamicImage::ImageLuma8(grey);
                let (image, format, ext) = match i % 6 {
                    0 => (grey, ImageFormat::Png, "png"),
                    1 => (DynamicImage::ImageLumaA8(grey.to_luma_alpha8()), ImageFormat::Png, "png"),
                    2 => (DynamicImage::ImageRgb8(grey.to_rgb8()), ImageFormat::Png, "png"),
                    3 => (DynamicImage::ImageRgba8(grey.to_rgba8()), ImageFormat::Png, "png"),
                    4 => (DynamicImage::ImageRgb8(grey.to_rgb8()), ImageFormat::Jpeg, "jpg"),
                    _ => (DynamicImage::ImageRgb8(grey.to_rgb8()), ImageFormat::Bmp, "bmp"),
                };
                image.save_with_format(folder.join(format!("{i}.{ext}")), format).unwrap();
            }
        }
    }
}
