//! `--download`: fetch MNIST, Fashion-MNIST and CIFAR-10/100 into a cache directory.
//!
//! Files are fetched with the system's `curl` (no HTTP stack is compiled in), written to a
//! `.part` file, checked against the checksum the authors (or torchvision) publish, then
//! renamed; CIFAR archives are unpacked with `tar`. A file already present with the right
//! checksum is not fetched again. Without network the error is one line that says which file
//! to put where.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use md5::{Digest, Md5};
use sha2::Sha256;

use crate::error::{DataError, Result};

/// A published checksum of a file, in lower-case hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checksum {
    /// The whole MD5 (what the dataset authors publish).
    Md5(String),
    /// The first digits of the SHA-256, as in torchvision's weight file names (`-11ad3fa6.pth`),
    /// which `torch.hub` checks the same way.
    Sha256Prefix(String),
}

impl Checksum {
    /// Whether `path` has this checksum; `Err` carries the file's own, for the error message.
    pub fn verify(&self, path: &Path) -> Result<std::result::Result<(), String>> {
        Ok(match self {
            Checksum::Md5(expected) => {
                let actual = md5_file(path)?;
                if &actual == expected { Ok(()) } else { Err(actual) }
            }
            Checksum::Sha256Prefix(prefix) => {
                let actual = sha256_file(path)?;
                if actual.starts_with(prefix.as_str()) { Ok(()) } else { Err(actual) }
            }
        })
    }
}

impl std::fmt::Display for Checksum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Checksum::Md5(h) => write!(f, "md5 {h}"),
            Checksum::Sha256Prefix(h) => write!(f, "sha256 {h}..."),
        }
    }
}

/// One file to fetch: its name in the cache, the URLs to try in order, and its checksum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// File name in the destination directory.
    pub file: String,
    /// Mirrors, tried in order.
    pub urls: Vec<String>,
    /// The published checksum.
    pub checksum: Checksum,
    /// Whether the file is a `.tar.gz` archive to unpack after checking.
    pub extract: bool,
}

const MNIST_MIRRORS: [&str; 2] =
    ["https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"];
const FASHION_MIRRORS: [&str; 1] = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"];
const IDX_FILES: [&str; 4] = [
    "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
];
const MNIST_MD5: [&str; 4] = [
    "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "d53e105ee54ea40749a09fcbcd1e9432",
    "9fb629c4189551a2d022fa330f9573f3",
    "ec29112dd5afa0611ce80d1b7f02629c",
];
const FASHION_MD5: [&str; 4] = [
    "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "25c81989df183df01b3e8a0aad5dffbe",
    "bef4ecab320f06d8554ea6380940ec79",
    "bb300cfdad3c16e7a12a480ee83cd310",
];

/// The cache sub-directory of a dataset name (`mnist`, `fashion-mnist`, `cifar10`, `cifar100`),
/// the one [`crate::open_dataset`] reads.
pub fn cache_subdir(name: &str) -> Result<&'static str> {
    Ok(match name {
        "mnist" => "mnist",
        "fashion-mnist" | "fashion_mnist" => "fashion-mnist",
        "cifar10" | "cifar-10" => "cifar10",
        "cifar100" | "cifar-100" | "cifar100-coarse" => "cifar100",
        other => return Err(DataError::UnknownDataset(other.to_string())),
    })
}

/// The files of a downloadable dataset.
///
/// ```
/// let r = zoo_data::download::resources("cifar10").unwrap();
/// use zoo_data::download::Checksum;
/// assert_eq!(r[0].checksum, Checksum::Md5("c32a1d4ab5d03f1284b67883e8d87530".into()));
/// assert!(zoo_data::download::resources("synth-digits").is_err()); // embedded, nothing to fetch
/// ```
pub fn resources(name: &str) -> Result<Vec<Resource>> {
    let idx = |mirrors: &[&str], md5s: [&str; 4]| {
        IDX_FILES
            .iter()
            .zip(md5s)
            .map(|(f, m)| Resource {
                file: f.to_string(),
                urls: mirrors.iter().map(|u| format!("{u}{f}")).collect(),
                checksum: Checksum::Md5(m.to_string()),
                extract: false,
            })
            .collect()
    };
    let archive = |file: &str, md5: &str| {
        vec![Resource {
            file: file.to_string(),
            urls: vec![format!("https://www.cs.toronto.edu/~kriz/{file}")],
            checksum: Checksum::Md5(md5.to_string()),
            extract: true,
        }]
    };
    Ok(match cache_subdir(name)? {
        "mnist" => idx(&MNIST_MIRRORS, MNIST_MD5),
        "fashion-mnist" => idx(&FASHION_MIRRORS, FASHION_MD5),
        "cifar10" => archive("cifar-10-binary.tar.gz", "c32a1d4ab5d03f1284b67883e8d87530"),
        _ => archive("cifar-100-binary.tar.gz", "03b5dce01913d631647c71ecec9e9cb8"),
    })
}

/// Lower-case hex MD5 of a file.
pub fn md5_file(path: &Path) -> Result<String> {
    digest_file::<Md5>(path)
}

/// Lower-case hex SHA-256 of a file.
pub fn sha256_file(path: &Path) -> Result<String> {
    digest_file::<Sha256>(path)
}

fn digest_file<D: Digest>(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let mut h = D::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(|e| DataError::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Fetches one resource into `dir` (verifying, and unpacking archives); returns the file's path.
///
/// Any `curl` URL works, including `file://`, which is how the tests exercise this offline.
pub fn fetch_resource(res: &Resource, dir: &Path) -> Result<PathBuf> {
    fetch_resource_with_progress(res, dir, false)
}

/// [`fetch_resource`], with `progress` on a terminal saying on stderr what it downloads and
/// drawing curl's progress bar: for files large enough that silence would look like a hang.
pub fn fetch_resource_with_progress(res: &Resource, dir: &Path, progress: bool) -> Result<PathBuf> {
    use std::io::IsTerminal;
    let bar = progress && std::io::stderr().is_terminal();
    std::fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
    let dest = dir.join(&res.file);
    let have = dest.is_file() && res.checksum.verify(&dest)?.is_ok();
    if !have {
        let part = dir.join(format!("{}.part", res.file));
        let mut last_error = String::from("no URL");
        let mut ok = false;
        for url in &res.urls {
            if bar {
                eprintln!("downloading {url} to {}", dir.display());
            }
            let mut curl = Command::new("curl");
            curl.args(["--fail", "--location", "--show-error", "--connect-timeout", "20", "--retry", "2"])
                .arg(if bar { "--progress-bar" } else { "--silent" })
                .arg("-o")
                .arg(&part)
                .arg(url);
            // With a bar, curl draws on our stderr (and prints its own error there).
            let out = if bar { curl.stderr(std::process::Stdio::inherit()).output() } else { curl.output() };
            match out {
                Ok(o) if o.status.success() => {
                    ok = true;
                    break;
                }
                Ok(o) => {
                    // With --retry curl repeats its message once per attempt: keep each line once.
                    let mut lines: Vec<&str> = Vec::new();
                    let stderr = String::from_utf8_lossy(&o.stderr);
                    for line in stderr.lines().map(str::trim).filter(|l| !l.is_empty()) {
                        if !lines.contains(&line) {
                            lines.push(line);
                        }
                    }
                    let said = lines.join(" ");
                    last_error = if said.is_empty() {
                        format!("{url}: curl failed with {}", o.status)
                    } else {
                        format!("{url}: {said}")
                    };
                }
                Err(e) => {
                    last_error = format!("cannot run curl ({e})");
                    break;
                }
            }
        }
        if !ok {
            let _ = std::fs::remove_file(&part);
            return Err(DataError::Download(format!(
                "could not download {} ({last_error}); no network? fetch {} by hand and put it in {}",
                res.file,
                res.urls.first().map(String::as_str).unwrap_or("it"),
                dir.display()
            )));
        }
        if let Err(actual) = res.checksum.verify(&part)? {
            let _ = std::fs::remove_file(&part);
            return Err(DataError::Checksum { path: dest, expected: res.checksum.to_string(), actual });
        }
        std::fs::rename(&part, &dest).map_err(|e| DataError::io(&dest, e))?;
    }
    if res.extract {
        let out = Command::new("tar")
            .arg("-xzf")
            .arg(&dest)
            .arg("-C")
            .arg(dir)
            .output()
            .map_err(|e| DataError::Download(format!("cannot run tar to unpack {} ({e})", dest.display())))?;
        if !out.status.success() {
            return Err(DataError::Corrupt {
                path: dest,
                reason: format!("tar: {}", String::from_utf8_lossy(&out.stderr).trim().replace('\n', " ")),
            });
        }
    }
    Ok(dest)
}

/// Downloads dataset `name` into `cache/<name>` (see [`cache_subdir`]) and returns that directory,
/// ready for [`crate::open_dataset`] with root `cache`.
///
/// ```no_run
/// let dir = zoo_data::download::download("mnist", "data".as_ref())?;
/// let ds = zoo_data::open_dataset("mnist", "data", zoo_data::Split::Train, 1)?;
/// # Ok::<(), zoo_data::DataError>(())
/// ```
pub fn download(name: &str, cache: &Path) -> Result<PathBuf> {
    let dir = cache.join(cache_subdir(name)?);
    for r in resources(name)? {
        fetch_resource(&r, &dir)?;
    }
    Ok(dir)
}
