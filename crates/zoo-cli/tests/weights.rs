//! `zoo infer`, `zoo import`, `zoo export` and `--pretrained` end to end, on the committed PyTorch
//! fixtures (models/tests/fixtures/parity): logits equal to PyTorch's through every path, and bad input
//! as one line.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn zoo(args: &[&str]) -> Output {
    zoo_env(args, &[])
}

fn zoo_env(args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_zoo"));
    command.args(args);
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("zoo runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

fn assert_ok(output: &Output) {
    assert!(output.status.success(), "stderr: {}", stderr(output));
}

fn assert_one_line_error(output: &Output, fragments: &[&str]) {
    let err = stderr(output);
    assert!(!output.status.success(), "exit status {:?}, stderr {err}", output.status);
    assert_eq!(err.trim_end().lines().count(), 1, "stderr: {err}");
    assert!(err.starts_with("error: "), "stderr: {err}");
    for fragment in fragments {
        assert!(err.contains(fragment), "`{fragment}` not in: {err}");
    }
    assert!(!err.contains("panicked") && !err.contains("internal error"), "stderr: {err}");
}

fn fixture(model: &str, file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/tests/fixtures/parity").join(model).join(file)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn max_abs_diff(a: &Path, b: &Path) -> f32 {
    let a = zoo_data::npy::read_f32(a).unwrap();
    let b = zoo_data::npy::read_f32(b).unwrap();
    assert_eq!(a.shape, b.shape);
    a.data.iter().zip(&b.data).fold(0f32, |m, (x, y)| m.max((x - y).abs()))
}

#[test]
fn infer_gives_pytorchs_logits_from_pth_bpk_and_the_export() {
    let dir = tempfile::tempdir().unwrap();
    let (input, expected) = (fixture("resnet20", "input.npy"), fixture("resnet20", "logits.npy"));

    let from_pth = dir.path().join("from-pth.npy");
    let out = zoo(&[
        "infer",
        "resnet20",
        "--weights",
        s(&fixture("resnet20", "weights.pth")),
        "--input",
        s(&input),
        "--output",
        s(&from_pth),
        "--batch-size",
        "1",
    ]);
    assert_ok(&out);
    assert!(stdout(&out).contains("2 images 3x32x32 -> logits [2, 10]"), "{}", stdout(&out));
    assert!(max_abs_diff(&from_pth, &expected) <= 1e-4);

    // import -> .bpk -> infer
    let bpk = dir.path().join("resnet20.bpk");
    let out = zoo(&["import", "resnet20", "--weights", s(&fixture("resnet20", "weights.pth")), "--out", s(&bpk)]);
    assert_ok(&out);
    assert!(
        stdout(&out).contains("116 tensors loaded from a PyTorch file")
            || stdout(&out).contains("tensors loaded from a PyTorch file"),
        "{}",
        stdout(&out)
    );
    let from_bpk = dir.path().join("from-bpk.npy");
    assert_ok(&zoo(&["infer", "resnet20", "--weights", s(&bpk), "--input", s(&input), "--output", s(&from_bpk)]));
    assert_eq!(max_abs_diff(&from_bpk, &from_pth), 0.0);

    // .bpk -> export (PyTorch names) -> infer
    let st = dir.path().join("resnet20.safetensors");
    assert_ok(&zoo(&["export", "resnet20", "--weights", s(&bpk), "--out", s(&st)]));
    let from_st = dir.path().join("from-st.npy");
    assert_ok(&zoo(&["infer", "resnet20", "--weights", s(&st), "--input", s(&input), "--output", s(&from_st)]));
    assert_eq!(max_abs_diff(&from_st, &from_pth), 0.0);
}

#[test]
fn strict_by_default_partial_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let bpk = dir.path().join("lenet5-5.bpk");
    let weights = fixture("lenet5", "weights.pth");
    let args = ["import", "lenet5", "--classes", "5", "--weights", s(&weights), "--out", s(&bpk)];
    assert_one_line_error(
        &zoo(&args),
        &["lenet5", "fc3.weight is [10, 84] in the file but [5, 84] in the model", "--allow-partial"],
    );
    assert!(!bpk.exists(), "nothing is written when loading fails");

    let out = zoo(&[&args[..], &["--allow-partial"]].concat());
    assert_ok(&out);
    assert!(
        stdout(&out).contains("8 tensors loaded") && stdout(&out).contains("2 shape mismatches"),
        "{}",
        stdout(&out)
    );
    assert!(bpk.is_file());
}

#[test]
fn bad_npy_inputs_are_one_line_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let weights = fixture("lenet5", "weights.pth");
    let infer = |input: &Path| {
        zoo(&[
            "infer",
            "lenet5",
            "--weights",
            s(&weights),
            "--input",
            s(input),
            "--output",
            s(&dir.path().join("y.npy")),
        ])
    };

    // float64, as numpy saves by default
    let f64_file = dir.path().join("f64.npy");
    let header = "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1, 32, 32), }";
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    let padded = format!("{header:<117}\n");
    bytes.extend((padded.len() as u16).to_le_bytes());
    bytes.extend(padded.as_bytes());
    bytes.extend(vec![0u8; 8 * 32 * 32]);
    std::fs::write(&f64_file, bytes).unwrap();
    assert_one_line_error(&infer(&f64_file), &["f64.npy", "<f8", "float32"]);

    let rank3 = dir.path().join("rank3.npy");
    zoo_data::npy::write_f32(&rank3, &[1, 32, 32], &vec![0.0; 32 * 32]).unwrap();
    assert_one_line_error(&infer(&rank3), &["rank3.npy", "rank 3", "NCHW"]);

    let rgb = dir.path().join("rgb.npy");
    zoo_data::npy::write_f32(&rgb, &[2, 3, 32, 32], &vec![0.0; 2 * 3 * 32 * 32]).unwrap();
    assert_one_line_error(&infer(&rgb), &["rgb.npy", "3 channels", "lenet5 takes 1"]);

    let tiny = dir.path().join("tiny.npy");
    zoo_data::npy::write_f32(&tiny, &[1, 1, 4, 4], &[0.0; 16]).unwrap();
    assert_one_line_error(&infer(&tiny), &["tiny.npy", "1x4x4", "do not fit lenet5"]);

    let text = dir.path().join("text.npy");
    std::fs::write(&text, "1,2,3\n").unwrap();
    assert_one_line_error(&infer(&text), &["text.npy", "not a .npy file"]);

    assert_one_line_error(&infer(&dir.path().join("absent.npy")), &["absent.npy"]);

    // Not a weights file, through the command line.
    let input = fixture("lenet5", "input.npy");
    let out = zoo(&[
        "infer",
        "lenet5",
        "--weights",
        s(&text),
        "--input",
        s(&input),
        "--output",
        s(&dir.path().join("y.npy")),
    ]);
    assert_one_line_error(&out, &["text.npy", "not a weights file"]);
}

#[test]
fn pretrained_offline_and_tampered_downloads_are_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let torch_home = dir.path().join("torch");
    let mirror = dir.path().join("mirror");
    std::fs::create_dir_all(&mirror).unwrap();
    let input = dir.path().join("x.npy");
    zoo_data::npy::write_f32(&input, &[1, 3, 64, 64], &vec![0.0; 3 * 64 * 64]).unwrap();
    let output = dir.path().join("y.npy");
    let args = ["infer", "resnet18", "--pretrained", "--input", s(&input), "--output", s(&output)];
    let mirror_url = PathBuf::from(format!("file://{}", mirror.display()));
    let env = [
        ("ZOO_CACHE_DIR", cache.as_path()),
        ("TORCH_HOME", torch_home.as_path()),
        ("ZOO_WEIGHTS_MIRROR", mirror_url.as_path()),
    ];

    // Offline: the mirror does not have the file.
    let out = zoo_env(&args, &env);
    assert_one_line_error(&out, &["resnet18-f37072fd.pth", "--weights FILE", "cannot download"]);

    // A file that is not the published one is refused, and not kept.
    std::fs::write(mirror.join("resnet18-f37072fd.pth"), b"not the real weights").unwrap();
    let out = zoo_env(&args, &env);
    assert_one_line_error(&out, &["checksum mismatch", "sha256 f37072fd..."]);
    let cached: Vec<_> = std::fs::read_dir(cache.join("weights")).unwrap().collect();
    assert!(cached.is_empty(), "{cached:?}");

    // Models without published weights, and unknown tags.
    assert_one_line_error(
        &zoo(&["infer", "resnet20", "--pretrained", "--input", s(&input), "--output", s(&output)]),
        &["no pretrained weights for resnet20"],
    );
    assert_one_line_error(
        &zoo(&["infer", "resnet50", "--pretrained=IMAGENET1K_V9", "--input", s(&input), "--output", s(&output)]),
        &["IMAGENET1K_V9", "tags: IMAGENET1K_V2, IMAGENET1K_V1"],
    );
    // predict takes --pretrained too, with the same offline message.
    let image = dir.path().join("img.png");
    let out = zoo_env(&["predict", "--model", "resnet18", "--pretrained", s(&image)], &env);
    assert!(!out.status.success());
}

#[test]
fn pretrained_lists_torchvisions_table() {
    let out = zoo(&["pretrained", "resnet50", "--format", "json"]);
    assert_ok(&out);
    let rows: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["tag"], "IMAGENET1K_V2");
    assert_eq!(rows[0]["default"], true);
    assert_eq!(rows[0]["acc_top1"], 80.858);
    assert_eq!(rows[0]["preprocess"]["resize"], 232);
    let out = zoo(&["pretrained"]);
    assert_ok(&out);
    assert_eq!(stdout(&out).lines().filter(|l| l.contains("IMAGENET1K")).count(), 23);
    // Inception v3's weights were evaluated at 299 after resizing to 342, on transformed input.
    let out = zoo(&["pretrained", "inception_v3", "--format", "json"]);
    let rows: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(rows[0]["preprocess"]["crop"], 299);
    assert_eq!(rows[0]["preprocess"]["resize"], 342);
    assert_eq!(rows[0]["transform_input"], true);
    assert_one_line_error(&zoo(&["pretrained", "resnet2?"]), &["no published weights"]);
}
