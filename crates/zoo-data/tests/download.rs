//! `--download` offline: success through `file://` URLs, checksum mismatch, no network, archives.

use std::path::Path;

use zoo_data::download::{Checksum, Resource, cache_subdir, fetch_resource, md5_file, resources, sha256_file};
use zoo_data::{CifarDataset, CifarKind, DataError, Dataset, Split};

fn file_url(p: &Path) -> String {
    format!("file://{}", p.display())
}

#[test]
fn published_resources() {
    for name in ["mnist", "fashion-mnist", "cifar10", "cifar100"] {
        let r = resources(name).unwrap();
        assert!(!r.is_empty());
        assert!(
            r.iter().all(|r| matches!(&r.checksum, Checksum::Md5(h) if h.len() == 32)
                && r.urls.iter().all(|u| u.ends_with(&r.file)))
        );
    }
    assert_eq!(resources("mnist").unwrap()[0].checksum, Checksum::Md5("f68b3c2dcbeaaa9fbdd348bbdeb94873".into()));
    assert_eq!(resources("cifar100").unwrap()[0].checksum, Checksum::Md5("03b5dce01913d631647c71ecec9e9cb8".into()));
    assert_eq!(cache_subdir("cifar100-coarse").unwrap(), "cifar100");
    assert!(matches!(resources("synth-digits"), Err(DataError::UnknownDataset(_))));
}

#[test]
fn fetch_verifies_and_caches() {
    let src = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let source = src.path().join("blob.bin");
    std::fs::write(&source, b"hello zoo").unwrap();
    let md5 = md5_file(&source).unwrap();
    assert_eq!(md5, "7af9a151f4c5c34d4064ca73adcac2d3"); // md5sum of the same bytes
    let res = Resource {
        file: "blob.bin".into(),
        urls: vec![file_url(&source)],
        checksum: Checksum::Md5(md5.clone()),
        extract: false,
    };
    let got = fetch_resource(&res, cache.path()).unwrap();
    assert_eq!(std::fs::read(&got).unwrap(), b"hello zoo");
    // Present with the right checksum: not fetched again (the source is gone).
    std::fs::remove_file(&source).unwrap();
    assert_eq!(fetch_resource(&res, cache.path()).unwrap(), got);

    // Wrong checksum: a typed error naming the file, and nothing left behind.
    std::fs::write(&source, b"tampered").unwrap();
    let bad = Resource { file: "other.bin".into(), ..res.clone() };
    let e = fetch_resource(&bad, cache.path()).unwrap_err();
    assert!(matches!(e, DataError::Checksum { .. }), "{e}");
    assert!(!cache.path().join("other.bin").exists() && !cache.path().join("other.bin.part").exists());

    // The first mirror failing falls through to the next.
    let two = Resource {
        file: "two.bin".into(),
        urls: vec![file_url(&src.path().join("missing")), file_url(&source)],
        checksum: Checksum::Md5(md5_file(&source).unwrap()),
        extract: false,
    };
    assert!(fetch_resource(&two, cache.path()).is_ok());
}

#[test]
fn sha256_prefixes_are_checked_like_torch_hub() {
    let src = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let source = src.path().join("weights.pth");
    std::fs::write(&source, b"hello zoo").unwrap();
    let full = sha256_file(&source).unwrap();
    // sha256sum of the same bytes
    assert_eq!(full, "861d951ec6c61054d9652336d35761f9807836e16c162a368c7088a7833d4810");
    let res = Resource {
        file: "weights-861d951e.pth".into(),
        urls: vec![file_url(&source)],
        checksum: Checksum::Sha256Prefix(full[..8].into()),
        extract: false,
    };
    assert!(fetch_resource(&res, cache.path()).is_ok());
    let bad =
        Resource { file: "weights-00000000.pth".into(), checksum: Checksum::Sha256Prefix("00000000".into()), ..res };
    let e = fetch_resource(&bad, cache.path()).unwrap_err().to_string();
    assert!(e.contains("expected sha256 00000000...") && e.contains(&full), "{e}");
}

#[test]
fn no_network_gives_one_line_saying_where_to_put_the_file() {
    let cache = tempfile::tempdir().unwrap();
    // Nothing listens on the discard port of localhost: the connection is refused at once.
    let res = Resource {
        file: "train-images-idx3-ubyte.gz".into(),
        urls: vec!["http://127.0.0.1:9/train-images-idx3-ubyte.gz".into()],
        checksum: Checksum::Md5("f68b3c2dcbeaaa9fbdd348bbdeb94873".into()),
        extract: false,
    };
    let e = fetch_resource(&res, cache.path()).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, DataError::Download(_)));
    assert!(!msg.contains('\n'), "{msg}");
    assert!(msg.contains("train-images-idx3-ubyte.gz") && msg.contains(&cache.path().display().to_string()), "{msg}");
    assert!(!cache.path().join("train-images-idx3-ubyte.gz.part").exists());
}

#[test]
fn archives_are_unpacked_for_the_reader() {
    let src = tempfile::tempdir().unwrap();
    let bin = src.path().join("cifar-10-batches-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let mut rec = vec![4u8];
    rec.extend(std::iter::repeat_n(9u8, 3072));
    std::fs::write(bin.join("test_batch.bin"), &rec).unwrap();
    let archive = src.path().join("cifar-10-binary.tar.gz");
    let ok = std::process::Command::new("tar")
        .arg("-czf")
        .arg(&archive)
        .arg("-C")
        .arg(src.path())
        .arg("cifar-10-batches-bin")
        .status()
        .unwrap();
    assert!(ok.success());
    let cache = tempfile::tempdir().unwrap();
    let dir = cache.path().join("cifar10");
    let res = Resource {
        file: "cifar-10-binary.tar.gz".into(),
        urls: vec![file_url(&archive)],
        checksum: Checksum::Md5(md5_file(&archive).unwrap()),
        extract: true,
    };
    fetch_resource(&res, &dir).unwrap();
    let ds = CifarDataset::open(&dir, CifarKind::Cifar10, Split::Test).unwrap();
    assert_eq!((ds.len(), ds.get(0).unwrap().label), (1, 4));
    // A corrupt archive with a matching checksum is reported as corrupt, not a panic.
    std::fs::write(&archive, b"not gzip").unwrap();
    let res = Resource { checksum: Checksum::Md5(md5_file(&archive).unwrap()), ..res };
    std::fs::remove_file(dir.join("cifar-10-binary.tar.gz")).unwrap();
    assert!(matches!(fetch_resource(&res, &dir), Err(DataError::Corrupt { .. })));
}
