//! End-to-end tests of `zoo bench` and `zoo backends`.

use std::path::Path;
use std::process::{Command, Output};

fn zoo(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zoo")).args(args).output().expect("zoo runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn assert_one_line_error(output: &Output, expected_fragment: &str) {
    let err = text(&output.stderr);
    assert!(!output.status.success(), "exit status {:?}, stderr {err}", output.status);
    assert_eq!(err.trim_end().lines().count(), 1, "stderr: {err}");
    assert!(err.starts_with("error: ") && err.contains(expected_fragment), "`{expected_fragment}` not in: {err}");
    assert!(!err.contains("panicked"), "stderr: {err}");
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

const QUICK: [&str; 8] = ["--models", "lenet5", "--batch-sizes", "2", "--warmup", "1", "--iters", "2"];

#[test]
fn bench_writes_csv_json_and_a_chart_beside_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("results/lenet5.csv");
    let mut args = vec!["bench", "--backends", "flex,ndarray", "--format", "csv", "--out", out.to_str().unwrap()];
    args.extend(QUICK);
    let output = zoo(&args);
    let err = text(&output.stderr);
    assert!(output.status.success(), "{err}");

    // The table on stdout, the progress bar and a one-line summary on stderr.
    let table = text(&output.stdout);
    assert!(table.contains("samples/s") && table.contains("ndarray"), "{table}");
    assert!(err.contains("[########################] 4/4"), "{err}");
    assert!(err.trim_end().lines().last().unwrap().starts_with("4 cases in"), "{err}");

    let csv = std::fs::read_to_string(&out).unwrap();
    assert_eq!(csv.lines().count(), 5, "{csv}");
    assert!(csv.starts_with("model,backend,device,mode,batch_size,"), "{csv}");

    let json = read_json(&out.with_extension("json"));
    assert_eq!(json["schema"], "burn-zoo-bench/1");
    assert_eq!(json["framework"], "burn");
    let rows = json["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 4);
    for row in rows {
        assert!(row["error"].is_null(), "{row}");
        assert_eq!(row["params"], 61_706);
        assert_eq!(row["input"], serde_json::json!([1, 32, 32]));
        // The binary counts heap allocations, so the CPU backends report their peak memory.
        assert_eq!(row["memory"], "heap");
        assert!(row["peak_memory_mb"].as_f64().unwrap() > 0.0, "{row}");
        let per_step = row["ms_per_step"].as_f64().unwrap();
        let rate = row["samples_per_s"].as_f64().unwrap();
        assert!((rate * per_step / 1e3 - 2.0).abs() < 1e-6, "{row}");
        if row["mode"] == "train" {
            assert!(row["backward_ms"].as_f64().unwrap() > 0.0, "{row}");
        } else {
            assert!(row["backward_ms"].is_null(), "{row}");
        }
    }
    let png = std::fs::read(out.with_extension("png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
}

#[test]
fn compare_prints_ratios_to_the_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let ours = dir.path().join("ours.json");
    let mut args = vec!["bench", "--mode", "train", "--format", "json", "--out", ours.to_str().unwrap()];
    args.extend(QUICK);
    assert!(zoo(&args).status.success());

    // A baseline in the PyTorch script's schema: the same case at a known speed.
    let mut baseline = read_json(&ours);
    baseline["framework"] = "pytorch".into();
    let row = &mut baseline["rows"][0];
    row["backend"] = "pytorch-cpu".into();
    row["samples_per_s"] = 1000.0.into();
    row["forward_ms"] = 1.0.into();
    let baseline_path = dir.path().join("baseline.json");
    std::fs::write(&baseline_path, baseline.to_string()).unwrap();

    let mut args = vec!["bench", "--mode", "train", "--format", "json", "--compare", baseline_path.to_str().unwrap()];
    args.extend(QUICK);
    let output = zoo(&args);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let report: serde_json::Value = serde_json::from_str(&text(&output.stdout)).unwrap();
    let row = &report["rows"][0];
    let ratio = row["vs_pytorch"]["throughput"].as_f64().unwrap();
    assert!((ratio - row["samples_per_s"].as_f64().unwrap() / 1000.0).abs() < 1e-9, "{row}");
    let forward = row["vs_pytorch"]["forward"].as_f64().unwrap();
    assert!((forward - 1.0 / row["forward_ms"].as_f64().unwrap()).abs() < 1e-9, "{row}");
    assert_eq!(report["baseline"]["framework"], "pytorch");

    let mut args = vec!["bench", "--mode", "train", "--compare", baseline_path.to_str().unwrap()];
    args.extend(QUICK);
    let table = text(&zoo(&args).stdout);
    assert!(table.contains("x PyTorch") && table.contains("pytorch-cpu"), "{table}");
}

#[test]
fn bad_bench_arguments_are_one_line() {
    let dir = tempfile::tempdir().unwrap();
    assert_one_line_error(&zoo(&["bench", "--models", "nothing*"]), "--models: no model matches `nothing*`");
    assert_one_line_error(&zoo(&["bench", "--backends", "tpu"]), "unknown backend `tpu`");
    assert_one_line_error(&zoo(&["bench", "--backends", "cuda"]), "not compiled into this build");
    assert_one_line_error(&zoo(&["bench", "--batch-sizes", "1,0"]), "--batch-sizes");
    let missing = dir.path().join("missing.json");
    assert_one_line_error(&zoo(&["bench", "--compare", missing.to_str().unwrap()]), "missing.json");
    let not_a_report = dir.path().join("list.json");
    std::fs::write(&not_a_report, "[1, 2]").unwrap();
    assert_one_line_error(&zoo(&["bench", "--compare", not_a_report.to_str().unwrap()]), "not a benchmark report");
    assert_one_line_error(&zoo(&["bench", "--kernels", "fast"]), "--kernels: `fast` is not a kernel implementation");
    let output = Command::new(env!("CARGO_BIN_EXE_zoo")).args(["list"]).env("ZOO_KERNELS", "fast").output().unwrap();
    assert_one_line_error(&output, "ZOO_KERNELS: `fast`");
    // clap rejects a zero iteration count before anything runs (exit 2).
    let output = zoo(&["bench", "--iters", "0"]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn backends_lists_every_backend_and_the_cpu_devices() {
    let output = zoo(&["backends", "--format", "json"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let backends: serde_json::Value = serde_json::from_str(&text(&output.stdout)).unwrap();
    let names: Vec<&str> = backends.as_array().unwrap().iter().map(|b| b["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["flex", "ndarray", "wgpu", "vulkan", "metal", "cuda", "remote"]);
    let flex = &backends[0];
    assert_eq!(flex["compiled"], true);
    assert_eq!(flex["default"], true);
    assert_eq!(flex["devices"].as_array().unwrap().len(), 1);
    assert_eq!(backends[5]["compiled"], false, "cuda is opt-in");
    assert_eq!(backends[6]["compiled"], false, "remote is opt-in");

    let table = text(&zoo(&["backends"]).stdout);
    assert!(table.contains("compiled (default)") && table.contains("--features cuda"), "{table}");
}

#[test]
fn fuse_bn_benchmarks_the_folded_model() {
    let output = zoo(&[
        "bench", "--models", "resnet20", "--mode", "infer", "--fuse-bn", "--batch-sizes", "1", "--warmup", "0",
        "--iters", "1", "--format", "json",
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let report: serde_json::Value = serde_json::from_str(&text(&output.stdout)).unwrap();
    let row = &report["rows"][0];
    assert!(row["error"].is_null(), "{row}");
    // Folding moves BatchNorm's γ and β into convolution biases: the trainable count of the
    // unfused model is what the row reports, taken before the fold.
    assert_eq!(row["params"], 269_722);
}

#[test]
fn kernels_times_burn_and_the_zoo_back_to_back() {
    let mut args = vec!["bench", "--mode", "train", "--kernels", "burn,zoo", "--format", "json"];
    args.extend(QUICK);
    let output = zoo(&args);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let report: serde_json::Value = serde_json::from_str(&text(&output.stdout)).unwrap();
    let rows = report["rows"].as_array().unwrap();
    let kernels: Vec<&str> = rows.iter().map(|r| r["kernels"].as_str().unwrap()).collect();
    assert_eq!(kernels, ["burn", "zoo"]);
    assert!(rows.iter().all(|r| r["error"].is_null() && r["backend"] == "flex"), "{rows:?}");
    assert!(text(&output.stderr).contains("lenet5 · flex/zoo · train · b2"), "{}", text(&output.stderr));
}

#[test]
fn report_shows_the_medians_of_saved_runs() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("run-1.json");
    let mut args = vec!["bench", "--mode", "infer", "--format", "json", "--out", first.to_str().unwrap()];
    args.extend(QUICK);
    assert!(zoo(&args).status.success());
    // Three runs of the same plan at known speeds; the median is the middle one.
    let mut paths = Vec::new();
    for (n, rate) in [(1, 100.0), (2, 500.0), (3, 300.0)] {
        let mut run = read_json(&first);
        run["rows"][0]["samples_per_s"] = rate.into();
        let path = dir.path().join(format!("run-{n}.json"));
        std::fs::write(&path, run.to_string()).unwrap();
        paths.push(path.to_str().unwrap().to_string());
    }
    let output = zoo(&["bench", "--report", &paths.join(","), "--format", "json"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let report: serde_json::Value = serde_json::from_str(&text(&output.stdout)).unwrap();
    assert_eq!(report["rows"][0]["samples_per_s"], 300.0);
    // A report that lacks a case of the others is refused with one line.
    let mut other = read_json(&first);
    other["rows"][0]["batch_size"] = 3.into();
    let odd = dir.path().join("odd.json");
    std::fs::write(&odd, other.to_string()).unwrap();
    let output = zoo(&["bench", "--report", &format!("{},{}", paths[0], odd.to_str().unwrap())]);
    assert_one_line_error(&output, "--report: lenet5 · flex/zoo · infer · b2 is not in every report");
}
