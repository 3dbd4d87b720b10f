//! Image folders: one sub-folder per class, PNG / JPEG / BMP files of any size.

use std::path::{Path, PathBuf};

use crate::dataset::{Dataset, Item, check_index};
use crate::error::{DataError, Result};
use crate::imagebuf::Image;

/// File extensions (lower case) the reader picks up.
pub const IMAGE_EXTENSIONS: [&str; 4] = ["png", "jpg", "jpeg", "bmp"];

/// A dataset laid out as `root/<class name>/<image file>` (the torchvision `ImageFolder` layout).
///
/// Classes are the sub-folders sorted by name; files are sorted by name within a class, so the
/// order is the same on every machine. Images are decoded when an item is read and converted to
/// the requested channel count (1: grey with the ITU-R 601 luma weights, 3: RGB); their size is
/// kept, so add a resize or crop transform before batching images of different sizes.
///
/// ```no_run
/// use zoo_data::{Dataset, ImageFolder};
/// let ds = ImageFolder::open("data/flowers/train", 3)?;
/// println!("{} images of {} classes", ds.len(), ds.num_classes());
/// # Ok::<(), zoo_data::DataError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ImageFolder {
    root: PathBuf,
    channels: usize,
    files: Vec<(PathBuf, usize)>,
    classes: Vec<String>,
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))? {
        let entry = entry.map_err(|e| DataError::io(dir, e))?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        out.push(entry.path());
    }
    out.sort();
    Ok(out)
}

impl ImageFolder {
    /// Scans `root`; `channels` must be 1 or 3.
    pub fn open(root: impl AsRef<Path>, channels: usize) -> Result<Self> {
        let root = root.as_ref().to_path_buf();
        if channels != 1 && channels != 3 {
            return Err(DataError::UnsupportedChannels { path: root, channels });
        }
        if !root.is_dir() {
            return Err(DataError::MissingFolder {
                path: root,
                hint: " (expected one sub-folder per class holding PNG/JPEG/BMP files)".into(),
            });
        }
        let mut classes = Vec::new();
        let mut files = Vec::new();
        for class_dir in sorted_entries(&root)?.into_iter().filter(|p| p.is_dir()) {
            let label = classes.len();
            let before = files.len();
            for f in sorted_entries(&class_dir)? {
                let ext = f.extension().map(|e| e.to_string_lossy().to_ascii_lowercase());
                if f.is_file() && ext.is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.as_str())) {
                    files.push((f, label));
                }
            }
            if files.len() == before {
                return Err(DataError::EmptyFolder { path: class_dir, reason: "no .png, .jpg, .jpeg or .bmp file" });
            }
            classes.push(class_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
        }
        if classes.is_empty() {
            return Err(DataError::EmptyFolder { path: root, reason: "no class sub-folder" });
        }
        Ok(Self { root, channels, files, classes })
    }

    /// The image files and their labels, in dataset order.
    pub fn files(&self) -> &[(PathBuf, usize)] {
        &self.files
    }

    /// Decodes every image once and returns the first error, if any (for an up-front check).
    pub fn verify(&self) -> Result<()> {
        (0..self.len()).try_for_each(|i| self.get(i).map(|_| ()))
    }
}

/// Decodes an image file into `channels` (1 or 3) planes with values in `[0, 1]`.
///
/// ```no_run
/// let img = zoo_data::load_image("digit.png", 1)?;
/// assert_eq!(img.channels, 1);
/// # Ok::<(), zoo_data::DataError>(())
/// ```
pub fn load_image(path: impl AsRef<Path>, channels: usize) -> Result<Image> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    decode_image(&bytes, channels, path)
}

/// The most a decoder may allocate for a file of `len` bytes: what its compression can expand
/// to (deflate, PNG's, at most about 1032 times; JPEG and BMP's RLE less), and at least 64 MiB.
/// A small file whose header claims a 100000x100000 image is refused before the decoder asks
/// for the memory (found by fuzzing: image's default limit is 512 MiB for any file).
pub fn decode_limit(len: usize) -> u64 {
    (len as u64).saturating_mul(1100).max(64 << 20)
}

/// Decodes PNG / JPEG / BMP bytes (`path` is used in errors only).
pub fn decode_image(bytes: &[u8], channels: usize, path: &Path) -> Result<Image> {
    let corrupt = |source| DataError::CorruptImage { path: path.to_path_buf(), source };
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| corrupt(image::ImageError::IoError(e)))?;
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(decode_limit(bytes.len()));
    reader.limits(limits);
    let dynimg = reader.decode().map_err(corrupt)?;
    let (w, h) = (dynimg.width() as usize, dynimg.height() as usize);
    match channels {
        1 if !dynimg.color().has_color() => Image::from_hwc_u8(1, h, w, dynimg.to_luma8().as_raw()),
        1 => Ok(crate::transforms::to_grayscale(&Image::from_hwc_u8(3, h, w, dynimg.to_rgb8().as_raw())?, 1)),
        3 => Image::from_hwc_u8(3, h, w, dynimg.to_rgb8().as_raw()),
        c => Err(DataError::UnsupportedChannels { path: path.to_path_buf(), channels: c }),
    }
}

impl Dataset for ImageFolder {
    fn len(&self) -> usize {
        self.files.len()
    }
    fn get(&self, index: usize) -> Result<Item> {
        check_index(self, index)?;
        let (path, label) = &self.files[index];
        Ok(Item { image: load_image(path, self.channels)?, label: *label })
    }
    fn classes(&self) -> &[String] {
        &self.classes
    }
    fn name(&self) -> String {
        format!("folder:{}", self.root.display())
    }
}
