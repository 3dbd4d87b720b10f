//! Exports synth-digits in MNIST's IDX format (uncompressed), so that any MNIST reader
//! (torchvision's included) can train on exactly the same images.
//!
//! `cargo run -p zoo-data --example synth_to_idx -- <out-dir>`

use std::io::Write;

use zoo_data::{Dataset, Split, SynthDigits};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "synth-digits-idx".into()));
    std::fs::create_dir_all(&out)?;
    for (split, prefix) in [(Split::Train, "train"), (Split::Test, "t10k")] {
        let ds = SynthDigits::new(split);
        let n = ds.len() as u32;
        let mut images = Vec::with_capacity(16 + ds.len() * 1024);
        for x in [zoo_data::IDX_IMAGES_MAGIC, n, 32, 32] {
            images.extend_from_slice(&x.to_be_bytes());
        }
        let mut labels = Vec::with_capacity(8 + ds.len());
        for x in [zoo_data::IDX_LABELS_MAGIC, n] {
            labels.extend_from_slice(&x.to_be_bytes());
        }
        for i in 0..ds.len() {
            let item = ds.get(i)?;
            images.extend(item.image.to_u8());
            labels.push(item.label as u8);
        }
        std::fs::File::create(out.join(format!("{prefix}-images-idx3-ubyte")))?.write_all(&images)?;
        std::fs::File::create(out.join(format!("{prefix}-labels-idx1-ubyte")))?.write_all(&labels)?;
    }
    println!("wrote {}", out.display());
    Ok(())
}
