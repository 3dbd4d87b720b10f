//! Writes a PNG contact sheet of synth-digits items, one row per class, to look at the data.
//!
//! `cargo run -p zoo-data --example synth_grid -- [out.png] [train|test]`

use zoo_data::{Dataset, Split, SynthDigits};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = args.next().unwrap_or_else(|| "synth-digits.png".into());
    let split = if args.next().as_deref() == Some("test") { Split::Test } else { Split::Train };
    let ds = SynthDigits::new(split);
    let (cols, size) = (16usize, 32usize);
    let mut sheet = image::GrayImage::new((cols * (size + 2)) as u32, (10 * (size + 2)) as u32);
    let mut filled = [0usize; 10];
    let mut i = 0;
    while filled.iter().any(|&f| f < cols) {
        let item = ds.get(i)?;
        i += 1;
        let (row, col) = (item.label, filled[item.label]);
        if col >= cols {
            continue;
        }
        filled[row] += 1;
        for (p, v) in item.image.to_u8().into_iter().enumerate() {
            let (x, y) = (col * (size + 2) + p % size, row * (size + 2) + p / size);
            sheet.put_pixel(x as u32, y as u32, image::Luma([v]));
        }
    }
    sheet.save(&out)?;
    println!("wrote {out} ({} items read)", i);
    Ok(())
}
