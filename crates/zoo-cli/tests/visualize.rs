//! `zoo visualize` end to end: a LeNet-5 trained for one short epoch, its report opened in
//! headless Chromium, and bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

fn zoo(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zoo")).args(args).output().expect("zoo runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_ok(output: &Output) {
    assert!(output.status.success(), "stdout:\n{}\nstderr:\n{}", text(&output.stdout), text(&output.stderr));
}

fn assert_one_line_error(output: &Output, expected: &str) {
    let err = text(&output.stderr);
    assert!(!output.status.success(), "succeeded: {}", text(&output.stdout));
    assert_eq!(err.trim_end().lines().count(), 1, "stderr: {err}");
    assert!(err.starts_with("error: ") && err.contains(expected), "`{expected}` not in: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// One trained LeNet-5 shared by the tests: 512 digits, one epoch.
fn run_dir() -> &'static Path {
    static RUN: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &RUN.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let run = tmp.path().join("run");
        assert_ok(&zoo(&[
            "train",
            "lenet5",
            "--epochs",
            "1",
            "--batch-size",
            "64",
            "--set",
            "train_limit=512",
            "--set",
            "test_limit=128",
            "--out",
            run.to_str().unwrap(),
        ]));
        (tmp, run)
    })
    .1
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn a_run_gets_filters_feature_maps_attributions_top_patches_and_a_report() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("viz");
    let output = zoo(&[
        "visualize",
        run_dir().to_str().unwrap(),
        "--images",
        "2",
        "--top-images",
        "300",
        "--channels",
        "0,1,5",
        "--channels",
        "pool2=2-3",
        "--grad-cam-stage",
        "pool1",
        "--filters",
        "conv2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_ok(&output);
    let stdout = text(&output.stdout);
    assert!(stdout.contains("top patches 100% | 300/300 images"), "{stdout}");
    assert!(stdout.contains("visualized lenet5: filters, feature maps of 2 stages for 2 images"), "{stdout}");

    let report = json(&out.join("visualize.json"));
    assert_eq!(report["filters"]["layer"], "conv1");
    assert_eq!(report["filters"]["shape"], serde_json::json!([6, 1, 5, 5]));
    assert_eq!(report["deeper_filters"]["layer"], "conv2");
    let layers = report["layers"].as_array().unwrap();
    let pool2 = layers.iter().find(|l| l["name"] == "pool2").unwrap();
    assert_eq!(pool2["receptive_field"], serde_json::json!(["16", "4", "7.5"]));
    let images = report["images"].as_array().unwrap();
    assert_eq!(images.len(), 2);
    assert_eq!(images[0]["stages"].as_array().unwrap().len(), 2);
    assert_eq!(images[0]["grad_cam"][0], "pool1");
    let top = report["top"].as_array().unwrap();
    assert_eq!(top.iter().map(|t| t["stage"].as_str().unwrap()).collect::<Vec<_>>(), ["pool1", "pool2"]);
    for (stage, expected) in top.iter().zip([&[0, 1, 5][..], &[2, 3][..]]) {
        let channels = stage["channels"].as_array().unwrap();
        assert_eq!(channels.iter().map(|c| c["channel"].as_u64().unwrap()).collect::<Vec<_>>(), expected);
        assert!(stage["projection_seconds"].as_f64().is_some(), "{stage}");
        for channel in channels {
            assert!(channel["projections"].as_str().unwrap().starts_with("guided-"), "{channel}");
            let hits = channel["hits"].as_array().unwrap();
            assert_eq!(hits.len(), 9);
            let values: Vec<f64> = hits.iter().map(|h| h["value"].as_f64().unwrap()).collect();
            assert!(values.windows(2).all(|w| w[0] >= w[1]), "{values:?}");
        }
    }
    // Every picture the report names exists, is a PNG and is not blank.
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let pictures: Vec<&str> = html.split("src=\"").skip(1).map(|s| s.split('"').next().unwrap()).collect();
    // Two filter grids; per image the input, saliency, Grad-CAM, occlusion and two stages of
    // maps; per searched channel (3 + 2) its patches and their projections.
    assert_eq!(pictures.len(), 2 + 2 * 6 + 2 * 5, "{pictures:?}");
    for picture in &pictures {
        let image = image::open(out.join(picture)).unwrap_or_else(|e| panic!("{picture}: {e}")).to_rgb8();
        let first = image.get_pixel(0, 0);
        assert!(image.pixels().any(|p| p != first), "{picture} is blank");
    }
    // Nothing the page uses comes from a network.
    for reference in ["http:", "https:", "src=\"//", "href=\"//"] {
        assert!(!html.contains(reference), "report.html refers to `{reference}`");
    }
    // Running it again replaces the earlier report.
    assert_ok(&zoo(&[
        "visualize",
        run_dir().to_str().unwrap(),
        "--images",
        "1",
        "--no-top",
        "--out",
        out.to_str().unwrap(),
    ]));
    assert_eq!(json(&out.join("visualize.json"))["images"].as_array().unwrap().len(), 1);
}

fn chromium() -> PathBuf {
    let names = ["chromium-headless-shell", "chromium", "chromium-browser", "google-chrome"];
    let path = std::env::var_os("PATH").unwrap_or_default();
    names
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
        .expect("a headless Chromium (`apt-get install chromium-headless-shell`, as .ci/run does) to open report.html")
}

#[test]
fn the_report_opens_in_headless_chromium_without_errors_or_network_requests() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("viz");
    assert_ok(&zoo(&[
        "visualize",
        run_dir().to_str().unwrap(),
        "--images",
        "1",
        "--top-images",
        "200",
        "--out",
        out.to_str().unwrap(),
    ]));
    let page = format!("file://{}", out.join("report.html").display());
    let browser = |extra: &[&str]| {
        let profile = tmp.path().join("profile");
        let mut command = Command::new(chromium());
        command
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--log-level=0"])
            // A request for anything but a file fails loudly instead of reaching a network.
            .arg("--host-resolver-rules=MAP * ~NOTFOUND")
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(extra)
            .arg(&page);
        command.output().expect("chromium runs")
    };
    let dom = browser(&["--dump-dom", "--virtual-time-budget=2000"]);
    let (dom_text, log) = (text(&dom.stdout), text(&dom.stderr));
    assert!(dom_text.contains("data-ready=\"yes\""), "the page's script did not run:\n{log}");
    for bad in ["Uncaught", "ERR_NAME_NOT_RESOLVED", "ERR_FILE_NOT_FOUND", "Failed to load resource"] {
        assert!(!log.contains(bad), "chromium logged `{bad}`:\n{log}");
    }
    let shot = tmp.path().join("screenshot.png");
    let screenshot = browser(&["--window-size=1280,1600", &format!("--screenshot={}", shot.display())]);
    assert!(shot.is_file(), "no screenshot:\n{}", text(&screenshot.stderr));
    let image = image::open(&shot).unwrap().to_rgb8();
    let distinct: std::collections::HashSet<_> = image.pixels().map(|p| p.0).collect();
    assert!(distinct.len() > 50, "the screenshot is nearly blank: {} colours", distinct.len());
    if let Some(keep) = std::env::var_os("ZOO_KEEP_SCREENSHOT") {
        std::fs::copy(&shot, keep).unwrap();
    }
}

#[test]
fn bad_input_is_one_line_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("viz");
    let run = run_dir().to_str().unwrap();
    let o = out.to_str().unwrap();
    assert_one_line_error(
        &zoo(&["visualize", run, "--layers", "pool3", "--out", o]),
        "unknown stage `pool3` (valid: pool1, pool2)",
    );
    assert_one_line_error(
        &zoo(&["visualize", run, "--channels", "6", "--out", o]),
        "channel 6 is out of range: `pool1` has 6 channels",
    );
    assert_one_line_error(
        &zoo(&["visualize", run, "--channels", "pool2=16", "--out", o]),
        "channel 16 is out of range: `pool2` has 16 channels",
    );
    assert_one_line_error(
        &zoo(&["visualize", run, "--channels", "pool9=1", "--out", o]),
        "unknown stage `pool9` (valid: pool1, pool2)",
    );
    assert_one_line_error(
        &zoo(&["visualize", run, "--channels", "1-x", "--out", o]),
        "--channels `1-x`: `1-x` is not a channel index",
    );
    assert_one_line_error(
        &zoo(&["visualize", run, "--grad-cam-stage", "conv1", "--out", o]),
        "unknown stage `conv1` (valid: pool1, pool2)",
    );
    assert_one_line_error(
        &zoo(&["visualize", run, "--filters", "fc1", "--out", o]),
        "unknown convolution `fc1` (valid: conv1, conv2)",
    );
    let garbage = tmp.path().join("garbage.png");
    std::fs::write(&garbage, b"not a picture").unwrap();
    assert_one_line_error(&zoo(&["visualize", run, garbage.to_str().unwrap(), "--no-top", "--out", o]), "garbage.png");
    let no_weights = tmp.path().join("no-weights");
    std::fs::create_dir(&no_weights).unwrap();
    std::fs::copy(run_dir().join("config.json"), no_weights.join("config.json")).unwrap();
    assert_one_line_error(&zoo(&["visualize", no_weights.to_str().unwrap(), "--out", o]), "model.bpk");
    assert!(!out.exists(), "a failed command wrote {}", out.display());
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().flatten().map(|e| e.file_name()).collect();
    assert!(leftovers.iter().all(|n| !n.to_string_lossy().contains("partial")), "{leftovers:?}");
    // An --out that holds something else is refused.
    let other = tmp.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("notes.txt"), "mine").unwrap();
    assert_one_line_error(
        &zoo(&["visualize", run, "--no-top", "--out", other.to_str().unwrap()]),
        "not an earlier zoo visualize output",
    );
    assert!(other.join("notes.txt").is_file());
}

#[test]
fn image_files_with_model_and_weights_and_pretrained_offline() {
    let tmp = tempfile::tempdir().unwrap();
    // A colour photo of another size: turned grey and resized to the run's 32x32 input.
    let photo = tmp.path().join("photo.png");
    image::RgbImage::from_fn(40, 24, |x, y| image::Rgb([(x * 6) as u8, (y * 10) as u8, 128])).save(&photo).unwrap();
    let out = tmp.path().join("viz");
    let weights = run_dir().join("model.bpk");
    assert_ok(&zoo(&[
        "visualize",
        "--model",
        "lenet5",
        "--weights",
        weights.to_str().unwrap(),
        photo.to_str().unwrap(),
        "--no-top",
        "--out",
        out.to_str().unwrap(),
    ]));
    let report = json(&out.join("visualize.json"));
    assert_eq!(report["images"][0]["name"], "photo.png");
    assert_eq!(report["images"][0]["label"], serde_json::Value::Null);
    assert_eq!(report["input"], serde_json::json!([1, 32, 32]));

    // --pretrained with nowhere to download from: one line, nothing written.
    let mirror = tmp.path().join("mirror");
    std::fs::create_dir(&mirror).unwrap();
    let offline = Command::new(env!("CARGO_BIN_EXE_zoo"))
        .args(["visualize", "--model", "resnet18", "--pretrained", photo.to_str().unwrap(), "--out"])
        .arg(tmp.path().join("viz-resnet18"))
        .env("ZOO_CACHE_DIR", tmp.path().join("cache"))
        .env("TORCH_HOME", tmp.path().join("torch"))
        .env("ZOO_WEIGHTS_MIRROR", format!("file://{}", mirror.display()))
        .output()
        .unwrap();
    assert_one_line_error(&offline, "cannot download");
    assert!(!tmp.path().join("viz-resnet18").exists());
}
