//! ONNX export: every registered model written by `zoo_models::onnx` and run by tract-onnx, an
//! independent runtime, with random weights and BatchNorm statistics far from the identity; the
//! logits must equal flex's within 1e-4 of their scale, at batch 1 and 3 through one file with a
//! symbolic batch. Then `zoo export --format onnx` end to end, and its errors.

use std::path::Path;
use std::process::{Command, Output};

use burn::tensor::Device;
use zoo_cli::onnx::compare;
use zoo_models::fuse::randomize_batch_norm;
use zoo_models::onnx::{OnnxOptions, write};
use zoo_models::{MODELS, ModelOptions, ZooModel, create};

const TOLERANCE: f32 = 1e-4;

fn model(name: &str, options: &ModelOptions, seed: u64) -> ZooModel {
    let device = Device::flex();
    device.seed(seed);
    randomize_batch_norm(create(name, options, &device).unwrap(), &device)
}

/// Exports `name` at `input` and checks tract's outputs against flex's at each batch size.
fn check(name: &str, options: &ModelOptions, onnx: &OnnxOptions, input: [usize; 3], batches: &[usize]) {
    let model = model(name, options, 11);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{name}.onnx"));
    write(&model, name, input, onnx, &path).unwrap_or_else(|e| panic!("{name}: {e}"));
    for &batch in batches {
        let agreement = compare(&model, &path, input, batch, batch as u64).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(agreement.within(TOLERANCE), "{name} at {input:?}, batch {batch}: {agreement:?}");
    }
}

#[test]
fn every_registered_model_runs_in_tract_with_flex_logits() {
    let pattern = std::env::var("ZOO_MODELS").unwrap_or_else(|_| "*".into());
    let names: Vec<&str> = zoo_models::list(&pattern).iter().map(|info| info.name).collect();
    assert!(!names.is_empty(), "ZOO_MODELS={pattern} matches no model");
    for info in MODELS.iter().filter(|info| names.contains(&info.name)) {
        let [c, h, w] = info.min_input;
        let input = [c, h.max(32), w.max(32)];
        check(info.name, &ModelOptions::default(), &OnnxOptions::default(), input, &[1, 3]);
    }
}

#[test]
fn auxiliary_heads_and_transform_input_are_exported() {
    let with_aux = ModelOptions { aux_logits: Some(true), transform_input: Some(true), ..Default::default() };
    let onnx = OnnxOptions { aux_outputs: true, ..Default::default() };
    // GoogLeNet's heads pool 14x14 to 4x4 at 224: uneven windows, exported as slices.
    check("googlenet", &with_aux, &onnx, [3, 224, 224], &[1]);
    let without_aux = ModelOptions { aux_logits: Some(false), transform_input: Some(true), ..Default::default() };
    check("inception_v3", &without_aux, &OnnxOptions::default(), [3, 75, 75], &[2]);
}

#[test]
fn a_fixed_batch_and_a_newer_opset_are_honoured() {
    let onnx = OnnxOptions { dynamic_batch: false, batch: 2, opset: 21, aux_outputs: false };
    check("resnet20", &ModelOptions::default(), &onnx, [3, 32, 32], &[2]);
    let bad = OnnxOptions { opset: 12, ..Default::default() };
    let model = model("lenet5", &ModelOptions::default(), 1);
    let dir = tempfile::tempdir().unwrap();
    let err = write(&model, "lenet5", [1, 32, 32], &bad, &dir.path().join("l.onnx")).unwrap_err();
    assert_eq!(err.to_string(), "opset 12 is not supported: 17 to 21");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "nothing written");
}

#[test]
fn initializers_carry_pytorch_keys() {
    use prost::Message;
    let model = model("densenet121", &ModelOptions::default(), 2);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.onnx");
    write(&model, "densenet121", [3, 32, 32], &OnnxOptions::default(), &path).unwrap();
    let onnx = zoo_models::onnx::proto::ModelProto::decode(&*std::fs::read(&path).unwrap()).unwrap();
    let graph = onnx.graph.unwrap();
    let names: Vec<&str> = graph.initializer.iter().filter_map(|t| t.name.as_deref()).collect();
    assert!(names.contains(&"features.denseblock1.denselayer1.norm1.running_var"), "{:?}", &names[..8]);
    assert!(names.contains(&"classifier.weight"));
    let [input] = &graph.input[..] else { panic!("one input") };
    let dims = &input.r#type.as_ref().unwrap().tensor_type.as_ref().unwrap().shape.as_ref().unwrap().dim;
    assert_eq!(dims[0].dim_param.as_deref(), Some("N"));
}

fn zoo(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zoo")).args(args).output().unwrap()
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn zoo_export_writes_a_checked_onnx_file_and_refuses_bad_requests() {
    let dir = tempfile::tempdir().unwrap();
    let weights = dir.path().join("resnet20.bpk");
    zoo_train::run::save_weights(&model("resnet20", &ModelOptions::default(), 5), &weights).unwrap();
    let onnx = dir.path().join("resnet20.onnx");
    let out = zoo(&["export", "resnet20", "--weights", s(&weights), "--out", s(&onnx), "--fuse-bn"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("(ONNX, opset 17, input Nx3x32x32") && stdout.contains("tract-onnx runs it"), "{stdout}");
    assert!(onnx.is_file());

    for (extra, file, message) in [
        (&[][..], "x.bin", "give --format onnx or safetensors"),
        (&["--opset", "12"][..], "y.onnx", "opset 12 is not supported"),
        (&["--input", "1x32x32"][..], "z.onnx", "resnet20: the model cannot take a 1x32x32 input"),
    ] {
        let target = dir.path().join(file);
        let mut args = vec!["export", "resnet20", "--weights", s(&weights), "--out", s(&target)];
        args.extend_from_slice(extra);
        let out = zoo(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.lines().count() == 1 && stderr.contains(message), "{args:?}: {stderr}");
        assert!(!target.exists(), "{args:?} left {}", target.display());
    }
}

#[test]
fn zoo_export_takes_a_run_directory() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let train = ["train", "lenet5", "--epochs", "1", "--batch-size", "64", "--set", "train_limit=256"];
    let out = zoo(&[&train[..], &["--set", "test_limit=64", "--out", s(&run)]].concat());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let onnx = dir.path().join("lenet5.onnx");
    let out = zoo(&["export", s(&run), "--out", s(&onnx)]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    // The run's model, its input and its trained weights, checked by tract-onnx.
    assert!(stdout.starts_with("lenet5: ") && stdout.contains("model.bpk"), "{stdout}");
    assert!(stdout.contains("input Nx1x32x32") && stdout.contains("tract-onnx runs it"), "{stdout}");

    let weights = run.join("model.bpk");
    let again = dir.path().join("again.onnx");
    let out = zoo(&["export", s(&run), "--weights", s(&weights), "--out", s(&again)]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("a run directory brings its own weights"), "{stderr}");
    assert!(!again.exists());
}
