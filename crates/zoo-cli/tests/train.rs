//! End-to-end tests of `zoo train`, `zoo eval` and `zoo predict` on a few hundred synthetic
//! digits, driving the binary of this test profile.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::write_mnist;

fn zoo(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zoo")).args(args).output().expect("zoo runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_ok(output: &Output) {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    );
}

/// Bad input: a non-zero exit and exactly one line on stderr, no panic.
fn assert_one_line_error(output: &Output, expected_fragment: &str) {
    let err = text(&output.stderr);
    assert!(!output.status.success(), "exit status {:?}, stderr {err}", output.status);
    assert_eq!(err.trim_end().lines().count(), 1, "stderr: {err}");
    assert!(err.starts_with("error: "), "stderr: {err}");
    assert!(err.contains(expected_fragment), "`{expected_fragment}` not in: {err}");
    assert!(!err.contains("panicked") && !err.contains("internal error"), "stderr: {err}");
}

/// A small LeNet-5 run: 512 training and 128 test digits.
fn small_run_args(out: &Path, epochs: u32, seed: u64) -> Vec<String> {
    [
        "train",
        "lenet5",
        "--epochs",
        &epochs.to_string(),
        "--batch-size",
        "64",
        "--seed",
        &seed.to_string(),
        "--set",
        "train_limit=512",
        "--set",
        "test_limit=128",
        "--out",
        out.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn train_small(out: &Path, epochs: u32, seed: u64) -> Output {
    let args = small_run_args(out, epochs, seed);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    zoo(&refs)
}

fn metrics_rows(dir: &Path) -> Vec<Vec<String>> {
    let csv = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("epoch,split,loss,top1,top5,lr,images_per_s,seconds"));
    lines.map(|l| l.split(',').map(str::to_string).collect()).collect()
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn a_run_directory_holds_config_metrics_checkpoints_weights_curves_and_result() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let output = train_small(&dir, 2, 7);
    assert_ok(&output);
    let stdout = text(&output.stdout);
    // The compact progress lines, never one per batch (8 batches per epoch here), and a summary.
    assert!(stdout.lines().count() <= 2 * 5 + 3, "stdout:\n{stdout}");
    let summary = stdout.lines().last().unwrap();
    assert!(summary.starts_with("lenet5 on synth-digits: test top-1 "), "{summary}");

    let config = json(&dir.join("config.json"));
    assert_eq!(config["model"], "lenet5");
    assert_eq!(config["epochs"], 2);
    assert_eq!(config["batch_size"], 64);
    assert_eq!(config["train_limit"], 512);
    assert_eq!(config["resolved"]["input"], serde_json::json!([1, 32, 32]));

    let rows = metrics_rows(&dir);
    let keys: Vec<(String, String)> = rows.iter().map(|r| (r[0].clone(), r[1].clone())).collect();
    let expected: Vec<(String, String)> = [(1, "train"), (1, "valid"), (2, "train"), (2, "valid")]
        .iter()
        .map(|(e, s)| (e.to_string(), s.to_string()))
        .collect();
    assert_eq!(keys, expected);
    for row in &rows {
        let loss: f64 = row[2].parse().unwrap();
        let top1: f64 = row[3].parse().unwrap();
        let top5: f64 = row[4].parse().unwrap();
        assert!(loss.is_finite() && loss > 0.0, "{row:?}");
        assert!((0.0..=100.0).contains(&top1) && top1 <= top5, "{row:?}");
        assert_eq!(row[5].is_empty(), row[1] == "valid", "lr only on training rows: {row:?}");
        assert!(row[6].parse::<f64>().unwrap() > 0.0 && row[7].parse::<f64>().unwrap() > 0.0);
    }

    for file in
        ["model.bpk", "curves.png", "checkpoint/model-2.bpk", "checkpoint/optim-2.bpk", "checkpoint/scheduler-2.bpk"]
    {
        assert!(dir.join(file).is_file(), "{file} missing");
    }
    let png = std::fs::read(dir.join("curves.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");

    let result = json(&dir.join("result.json"));
    assert_eq!(result["model"], "lenet5");
    assert_eq!(result["parameters"], 61_706);
    assert_eq!(result["test_images"], 128);
    assert_eq!(result["backend"], "flex");
    assert_eq!(result["seed"], 7);
    assert!(result["test_top1"].as_f64().unwrap() > 10.0, "better than chance: {result}");

    // A second `train` into the same directory is refused rather than overwriting the run.
    let again = train_small(&dir, 2, 7);
    assert_one_line_error(&again, "already holds a run");

    // eval: top-1 equal to the run's own test figure; per-class rows; confusion.png.
    let eval = zoo(&["eval", dir.to_str().unwrap(), "--format", "json"]);
    assert_ok(&eval);
    let report: serde_json::Value = serde_json::from_str(&text(&eval.stdout)).unwrap();
    assert_eq!(report["images"], 128);
    assert!((report["top1"].as_f64().unwrap() - result["test_top1"].as_f64().unwrap()).abs() < 1e-9);
    assert_eq!(report["per_class"].as_array().unwrap().len(), 10);
    let counted: u64 = report["confusion"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_array().unwrap())
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(counted, 128);
    assert!(dir.join("confusion.png").is_file());

    // The same weights through --model/--weights.
    let eval_weights = zoo(&[
        "eval",
        "--model",
        "lenet5",
        "--weights",
        dir.join("model.bpk").to_str().unwrap(),
        "--confusion",
        tmp.path().join("c.png").to_str().unwrap(),
    ]);
    assert_ok(&eval_weights);
    assert!(text(&eval_weights.stdout).contains("top-1"), "{}", text(&eval_weights.stdout));

    // predict: an RGB image of another size is converted to the model's 1x32x32 input.
    let image = tmp.path().join("digit.bmp");
    write_rgb_bmp(&image, 45, 60);
    let predict = zoo(&["predict", dir.to_str().unwrap(), image.to_str().unwrap(), "--format", "json"]);
    assert_ok(&predict);
    let top: serde_json::Value = serde_json::from_str(&text(&predict.stdout)).unwrap();
    let scores = top[0]["top"].as_array().unwrap();
    assert_eq!(scores.len(), 5);
    let total: f64 = scores.iter().map(|s| s["probability"].as_f64().unwrap()).sum();
    assert!(total > 0.0 && total <= 1.0 + 1e-6);
    assert!(scores.windows(2).all(|w| w[0]["probability"].as_f64() >= w[1]["probability"].as_f64()));
    let table = zoo(&["predict", dir.to_str().unwrap(), image.to_str().unwrap()]);
    assert_ok(&table);
    assert_eq!(text(&table.stdout).lines().count(), 6);

    let missing = zoo(&["predict", dir.to_str().unwrap(), tmp.path().join("nope.png").to_str().unwrap()]);
    assert_one_line_error(&missing, "nope.png");
}

/// A 24-bit BMP with a bright diagonal stroke on a dark background.
fn write_rgb_bmp(path: &Path, width: u32, height: u32) {
    let row = (width * 3).div_ceil(4) * 4;
    let size = 54 + row * height;
    let mut bytes = Vec::with_capacity(size as usize);
    bytes.extend_from_slice(b"BM");
    for v in [size, 0, 54, 40] {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    bytes.extend_from_slice(&(width as i32).to_le_bytes());
    bytes.extend_from_slice(&(height as i32).to_le_bytes());
    bytes.extend_from_slice(&1u16.to_le_bytes());
    bytes.extend_from_slice(&24u16.to_le_bytes());
    for v in [0u32, row * height, 2835, 2835, 0, 0] {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    for y in 0..height {
        for x in 0..width {
            let on = (x as i64 * height as i64 - y as i64 * width as i64).abs() < (width * height / 8) as i64;
            let (r, g, b) = if on { (250, 240, 230) } else { (20, 30, 10) };
            bytes.extend_from_slice(&[b, g, r]);
        }
        bytes.resize(bytes.len() + (row - width * 3) as usize, 0);
    }
    std::fs::write(path, bytes).unwrap();
}

fn comparable(rows: Vec<Vec<String>>) -> Vec<Vec<String>> {
    // images_per_s and seconds measure the machine, not the computation.
    rows.into_iter().map(|r| r[..6].to_vec()).collect()
}

#[test]
fn two_runs_with_the_same_seed_write_the_same_metrics() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    assert_ok(&train_small(&a, 2, 11));
    assert_ok(&train_small(&b, 2, 11));
    assert_eq!(comparable(metrics_rows(&a)), comparable(metrics_rows(&b)));
    assert_eq!(json(&a.join("result.json"))["test_top1"], json(&b.join("result.json"))["test_top1"]);
    let c = tmp.path().join("c");
    assert_ok(&train_small(&c, 1, 12));
    assert_ne!(comparable(metrics_rows(&a))[0], comparable(metrics_rows(&c))[0], "the seed matters");
}

/// Kills a 4-epoch run of 4096 digits (SIGKILL, mid-epoch) once its first checkpoint is written,
/// resumes it, and checks that its metrics have no gap and equal an uninterrupted run's.
fn assert_killed_run_resumes_as_if_never_stopped(extra: &[&str]) {
    let tmp = tempfile::tempdir().unwrap();
    let args_for = |dir: &Path| {
        let mut args = small_run_args(dir, 4, 3);
        // Enough images that an epoch lasts long enough to be interrupted in the middle.
        args.iter_mut().filter(|a| a.as_str() == "train_limit=512").for_each(|a| *a = "train_limit=4096".into());
        args.extend(extra.iter().map(|a| a.to_string()));
        args
    };
    let dir = tmp.path().join("killed");
    let mut child = Command::new(env!("CARGO_BIN_EXE_zoo"))
        .args(args_for(&dir))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let first_checkpoint = dir.join("checkpoint/model-1.bpk");
    let deadline = Instant::now() + Duration::from_secs(300);
    while !first_checkpoint.exists() {
        assert!(Instant::now() < deadline, "no checkpoint after 300 s");
        assert!(child.try_wait().unwrap().is_none(), "the run ended before its first checkpoint");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap(); // SIGKILL: no chance to clean up.
    child.wait().unwrap();
    assert!(!dir.join("result.json").exists(), "the run finished before it could be killed");

    let resumed = zoo(&["train", "--resume", dir.to_str().unwrap()]);
    assert_ok(&resumed);
    let rows = metrics_rows(&dir);
    let keys: Vec<String> = rows.iter().map(|r| format!("{}:{}", r[0], r[1])).collect();
    assert_eq!(keys, ["1:train", "1:valid", "2:train", "2:valid", "3:train", "3:valid", "4:train", "4:valid"]);
    assert_eq!(json(&dir.join("result.json"))["epochs"], 4);

    // Resuming re-seeds each epoch and restores optimizer and schedule state: the curve is the
    // one an uninterrupted run draws.
    let straight = tmp.path().join("straight");
    let args = args_for(&straight);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_ok(&zoo(&refs));
    assert_eq!(comparable(rows), comparable(metrics_rows(&straight)));
}

#[test]
fn a_run_killed_mid_epoch_resumes_to_the_same_metrics_without_gaps() {
    assert_killed_run_resumes_as_if_never_stopped(&[]);
}

#[test]
fn a_run_on_two_devices_killed_mid_epoch_resumes_to_the_same_metrics() {
    assert_killed_run_resumes_as_if_never_stopped(&["--devices", "2"]);
}

/// 3 epochs of 512 digits on 2 flex workers, 64 images each per step, the rate divided by 10
/// each epoch.
fn two_device_run(dir: &Path) -> Output {
    let mut args = small_run_args(dir, 3, 5);
    args.extend(
        [
            "--devices",
            "2",
            "--lr",
            "0.01",
            "--set",
            r#"optimizer={"name":"sgd","momentum":0.9}"#,
            "--set",
            r#"schedule={"name":"step","step_size":1,"gamma":0.1}"#,
        ]
        .map(String::from),
    );
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    zoo(&refs)
}

#[test]
fn two_devices_train_every_epoch_on_the_whole_schedule_reproducibly() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("two");
    let output = two_device_run(&dir);
    assert_ok(&output);
    let summary = text(&output.stdout).lines().last().unwrap().to_string();
    assert!(summary.contains("on 2 flex devices"), "{summary}");
    let config = json(&dir.join("config.json"));
    assert_eq!(
        (&config["devices"], &config["strategy"], &config["gradient_reduction"]),
        (&serde_json::json!(2), &serde_json::json!("multi-device"), &serde_json::json!("mean"))
    );
    assert_eq!(json(&dir.join("result.json"))["devices"], 2);

    let rows = metrics_rows(&dir);
    let keys: Vec<String> = rows.iter().map(|r| format!("{}:{}", r[0], r[1])).collect();
    assert_eq!(keys, ["1:train", "1:valid", "2:train", "2:valid", "3:train", "3:valid"], "one row per epoch");
    // An epoch is 256 images per device, 4 steps: a schedule sized for the whole loader (8 steps)
    // would still be at 1e-2 in epoch 2, and end at 1e-3 instead of its last value, 1e-4.
    let rates: Vec<f64> = rows.iter().filter(|r| r[1] == "train").map(|r| r[5].parse().unwrap()).collect();
    for (rate, expected) in rates.iter().zip([1e-2, 1e-3, 1e-4]) {
        assert!((rate - expected).abs() < 1e-9 * expected, "learning rates {rates:?}");
    }
    // Every image of an epoch is seen once on one of the devices.
    let first = rows.iter().find(|r| r[1] == "train").unwrap();
    assert!(first[6].parse::<f64>().unwrap() > 0.0);

    let again = tmp.path().join("again");
    assert_ok(&two_device_run(&again));
    assert_eq!(comparable(rows), comparable(metrics_rows(&again)), "the same seed on 2 devices, twice");
}

#[test]
fn bad_device_arguments_are_one_line_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("x");
    let out = out.to_str().unwrap();
    let train = |extra: &[&str]| {
        let mut args = vec!["train", "lenet5", "--epochs", "1", "--out", out];
        args.extend(extra);
        zoo(&args)
    };
    assert_one_line_error(&train(&["--devices", "0"]), "at least 1 device");
    assert_one_line_error(&train(&["--devices", "flex:1"]), "flex:1");
    assert_one_line_error(&train(&["--devices", "flex:0,ndarray:0"]), "different backends");
    assert_one_line_error(&train(&["--backend", "ndarray", "--devices", "flex,flex"]), "not devices of the backend");
    assert_one_line_error(&train(&["--strategy", "ddp"]), "ddp needs CUDA devices with NCCL");
    assert_one_line_error(&train(&["--strategy", "ring"]), "ring");
    // More devices than the GPU backend finds (Mesa's software Vulkan is one).
    assert_one_line_error(&train(&["--backend", "wgpu", "--devices", "64"]), "wgpu");
    // A server nobody serves on: refused before anything is written, built with `remote` or not.
    assert_one_line_error(&train(&["--backend", "remote:ws://127.0.0.1:9"]), "remote");
    assert!(!Path::new(out).join("config.json").exists(), "failed commands leave no run behind");
}

#[test]
fn a_diverging_loss_stops_the_run_naming_epoch_and_iteration() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("nan");
    let mut args = small_run_args(&dir, 2, 0);
    args.extend(["--set", r#"optimizer={"name":"sgd","momentum":0.9}"#, "--lr", "1e30"].map(String::from));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = zoo(&refs);
    assert_one_line_error(&output, "the loss became");
    let err = text(&output.stderr);
    assert!(err.contains("at epoch 1, iteration "), "{err}");
    assert!(!dir.join("model.bpk").exists());
    assert!(dir.join("config.json").is_file(), "the run directory is kept");
}

#[test]
fn bad_arguments_are_one_line_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("x");
    let out = out.to_str().unwrap();
    assert_one_line_error(&zoo(&["train", "lenet5", "--batch-size", "0", "--out", out]), "--batch-size");
    assert_one_line_error(&zoo(&["train", "lenet5", "--backend", "tpu", "--out", out]), "unknown backend `tpu`");
    let missing = tmp.path().join("no-data");
    assert_one_line_error(
        &zoo(&["train", "lenet5", "--recipe", "lenet5-mnist", "--data-dir", missing.to_str().unwrap(), "--out", out]),
        "no-data",
    );
    assert_one_line_error(&zoo(&["train", "lenet6", "--out", out]), "lenet6");
    assert_one_line_error(&zoo(&["train", "lenet5", "--recipe", "nope.json", "--out", out]), "nope.json");
    assert_one_line_error(&zoo(&["train", "lenet5", "--set", "lr=-1", "--out", out]), "lr");
    // A bad value in a recipe file names the file.
    let recipe = tmp.path().join("bad-lr.json");
    let mut json: serde_json::Value = serde_json::from_str(zoo_train::config::RECIPES[0].json).unwrap();
    json["lr"] = serde_json::json!(-1);
    std::fs::write(&recipe, json.to_string()).unwrap();
    assert_one_line_error(&zoo(&["train", "--recipe", recipe.to_str().unwrap(), "--out", out]), "bad-lr.json");
    assert_one_line_error(&zoo(&["train", "lenet5", "--set", "epochz=3", "--out", out]), "epochz");
    let no_run: PathBuf = tmp.path().join("no-run");
    assert_one_line_error(&zoo(&["train", "--resume", no_run.to_str().unwrap()]), "no-run");
    assert_one_line_error(&zoo(&["eval", no_run.to_str().unwrap()]), "no-run");
    assert_one_line_error(&zoo(&["predict", "--model", "lenet5", "--weights", "missing.bpk", "x.png"]), "missing.bpk");
    assert!(!Path::new(out).join("config.json").exists(), "failed commands leave no run behind");
}

/// Train and validation loss of one epoch of GoogLeNet on 64 digits at a learning rate so small
/// that the weights stay at their initialisation.
fn googlenet_losses(dir: &Path, aux_logits: bool) -> (f64, f64) {
    let out = dir.join(format!("aux-{aux_logits}"));
    let aux = format!("aux_logits={aux_logits}");
    let output = zoo(&[
        "train",
        "--recipe",
        "lenet5-synth",
        "--set",
        "model=googlenet",
        "--set",
        "channels=3",
        "--set",
        &aux,
        "--set",
        "train_limit=64",
        "--set",
        "test_limit=32",
        "--epochs",
        "1",
        "--batch-size",
        "32",
        "--lr",
        "1e-9",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_ok(&output);
    assert_eq!(json(&out.join("config.json"))["aux_logits"], serde_json::json!(aux_logits));
    let rows = metrics_rows(&out);
    let loss = |split: &str| rows.iter().find(|r| r[1] == split).unwrap()[2].parse::<f64>().unwrap();
    (loss("train"), loss("valid"))
}

#[test]
fn googlenet_trains_its_auxiliary_classifiers_with_weight_0_3() {
    let dir = tempfile::tempdir().unwrap();
    // GoogLeNet's initial weights (normal, std 0.01) give near-zero logits: every head's
    // cross-entropy is about ln 10. Training adds 0.3 x each of the two auxiliary heads' losses,
    // validation uses the main classifier alone.
    let (train, valid) = googlenet_losses(dir.path(), true);
    assert!((valid - 10f64.ln()).abs() < 0.05, "valid loss {valid}");
    assert!((train / valid - 1.6).abs() < 0.05, "train {train} / valid {valid}");
    let (train, valid) = googlenet_losses(dir.path(), false);
    assert!((train / valid - 1.0).abs() < 0.05, "without the heads: train {train} / valid {valid}");
}

#[test]
fn an_input_too_small_for_an_auxiliary_classifier_is_one_line_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let resize = r#"[{"type": "resize", "size": [96, 96]}]"#;
    let (train, eval) = (format!("train_transforms={resize}"), format!("eval_transforms={resize}"));
    let args = ["train", "--recipe", "lenet5-synth", "--set", "model=inception_v3", "--set", &train, "--set", &eval];
    let output = zoo(&[&args[..], &["--out", out.to_str().unwrap()]].concat());
    assert_one_line_error(&output, "the auxiliary classifier cannot train on a 1x96x96 input");
    assert!(text(&output.stderr).contains("--set aux_logits=false"), "{}", text(&output.stderr));
    assert!(!out.join("model.bpk").exists());
}

/// `zoo train MODEL --dataset D` for pairs no recipe was written for: one epoch on a few images,
/// and the line that says which recipe was chosen and why.
#[test]
fn any_model_trains_on_any_dataset_and_says_which_recipe_it_chose() {
    let tmp = tempfile::tempdir().unwrap();
    write_mnist(tmp.path(), 40, 20);
    let data = tmp.path().to_str().unwrap();
    let cases: [(&str, &str, &[&str]); 7] = [
        ("lenet5", "mnist", &["recipe: recipe lenet5-mnist: the shipped recipe for lenet5 on mnist"]),
        // The one-channel ResNet-20 recipe, without its flips: digits are not symmetric.
        ("resnet20", "mnist", &["recipe: recipe resnet20-fashion-mnist adapted to mnist"]),
        ("resnet32", "synth-digits", &["recipe: recipe resnet32-cifar10 adapted to synth-digits"]),
        ("googlenet", "synth-digits", &["recipe: recipe googlenet-fashion-mnist adapted to synth-digits"]),
        ("zfnet", "mnist", &["recipe: the generic default"]),
        ("alexnet", "mnist", &["input: 28x28 images resized to 63x63, the smallest input alexnet takes"]),
        ("inception_v3", "synth-digits", &["aux_logits: off", "input: 32x32 images resized to 75x75"]),
    ];
    for (model, dataset, expected) in cases {
        let out = tmp.path().join(format!("{model}-{dataset}"));
        let output = zoo(&[
            "train",
            model,
            "--dataset",
            dataset,
            "--data-dir",
            data,
            "--epochs",
            "1",
            "--batch-size",
            "8",
            "--train-limit",
            "24",
            "--valid-limit",
            "8",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_ok(&output);
        let stdout = text(&output.stdout);
        assert!(stdout.contains("(8 images) after 1 epochs, trained on a sample of 24 images"), "{stdout}");
        for line in expected {
            assert!(stdout.contains(line), "{model} on {dataset}: `{line}` not in:\n{stdout}");
        }
        assert!(out.join("model.bpk").is_file(), "{model} on {dataset} wrote no weights");
        let config = json(&out.join("config.json"));
        assert_eq!(
            (&config["dataset"], &config["train_limit"], &config["test_limit"]),
            (&dataset.into(), &24.into(), &8.into())
        );
    }
}

/// Fine-tuning: weights trained on grey digits with 10 classes start a run on a colour folder
/// of 3 classes; the images turn grey for the weights' one channel and the head is reset.
#[test]
fn weights_for_other_classes_and_channels_fine_tune_with_the_head_reset() {
    let tmp = tempfile::tempdir().unwrap();
    let digits = tmp.path().join("digits");
    let args = ["train", "resnet20", "--dataset", "synth-digits", "--epochs", "1", "--batch-size", "16"];
    assert_ok(&zoo(
        &[&args[..], &["--train-limit", "32", "--valid-limit", "16", "--out", digits.to_str().unwrap()]].concat()
    ));
    let weights = digits.join("model.bpk");

    let pets = tmp.path().join("pets");
    common::write_image_folder(&pets, 4);
    let out = tmp.path().join("fine-tuned");
    let dataset = format!("folder:{}", pets.display());
    let output = zoo(&[
        "train",
        "resnet20",
        "--dataset",
        &dataset,
        "--weights",
        weights.to_str().unwrap(),
        "--epochs",
        "1",
        "--batch-size",
        "4",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_ok(&output);
    let stdout = text(&output.stdout);
    for line in [
        "colour images turned grey, as the weights take 1-channel input",
        "2 classifier tensors reset for the new class count",
        "fc.weight [64, 10] -> [64, 3]",
    ] {
        assert!(stdout.contains(line), "`{line}` not in:\n{stdout}");
    }
    let config = json(&out.join("config.json"));
    assert_eq!(config["init"]["file"], weights.to_str().unwrap());
    assert_eq!((&config["channels"], &config["resolved"]["input"][0]), (&1.into(), &1.into()));

    // Weights of another architecture: one line naming what differs, and no run directory.
    let lenet = tmp.path().join("lenet");
    let wrong = zoo(&[
        "train",
        "lenet5",
        "--dataset",
        "synth-digits",
        "--weights",
        weights.to_str().unwrap(),
        "--out",
        lenet.to_str().unwrap(),
    ]);
    assert_one_line_error(&wrong, "model.bpk");
    assert!(!lenet.exists());
}

/// `--no-resize` keeps the images as they are: 1x1 images cannot go into Inception v3, and the
/// error comes before anything is written.
#[test]
fn a_pair_that_cannot_work_is_one_line_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    for split in ["train", "test"] {
        for class in ["a", "b"] {
            let folder = tmp.path().join("dots").join(split).join(class);
            std::fs::create_dir_all(&folder).unwrap();
            image::GrayImage::from_pixel(1, 1, image::Luma([200])).save(folder.join("0.png")).unwrap();
        }
    }
    let dataset = format!("folder:{}", tmp.path().join("dots").display());
    let out = tmp.path().join("run");
    let output = zoo(&["train", "inception_v3", "--dataset", &dataset, "--no-resize", "--out", out.to_str().unwrap()]);
    assert_one_line_error(&output, "the smallest input it takes is 3x299x299, 3x75x75 with --set aux_logits=false");
    assert!(!out.exists(), "a run directory was written");

    // A dataset of known size fails before any image is read.
    let output = zoo(&["train", "alexnet", "--dataset", "mnist", "--data-dir", "/nonexistent", "--no-resize"]);
    assert_one_line_error(
        &output,
        "alexnet cannot take mnist's 1x28x28 images and --no-resize keeps them: the smallest it takes is 1x63x63",
    );
}

#[test]
fn a_dry_run_takes_one_step_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let output = zoo(&[
        "train",
        "googlenet",
        "--dataset",
        "synth-digits",
        "--batch-size",
        "4",
        "--dry-run",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_ok(&output);
    let stdout = text(&output.stdout);
    assert!(stdout.contains("dry run: googlenet on synth-digits takes 1x32x32 inputs"), "{stdout}");
    assert!(stdout.contains("one training step on 4 images"), "{stdout}");
    assert!(!out.exists());
}
