//! Logits equal to PyTorch's: each fixture directory holds a PyTorch state dict (one or more
//! formats), an input batch and the logits PyTorch computed in eval mode
//! (`scripts/make_parity_fixtures.py`). The zoo's model loads the weights strictly, runs the same
//! input on flex, and must agree within 1e-4 of the logits' scale (max(1, max |logit|)).
//!
//! By default the committed fixtures in `models/tests/fixtures/parity` are used (lenet5 in all three
//! formats, resnet20, resnet32). `scripts/parity.sh` points `ZOO_PARITY_DIR` at freshly generated
//! fixtures of the large torchvision models and `ZOO_PARITY_MODELS` at the ones to check; the table
//! is then also written to `$ZOO_PARITY_DIR/parity.json` and `parity.md`.

use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor, TensorData};
use serde_json::{Value, json};
use zoo_models::weights::{LoadOptions, WeightsFormat, load};
use zoo_models::{ImageClassifier, ModelOptions, create};

const TOLERANCE: f32 = 1e-4;
const COMMITTED: [&str; 3] = ["lenet5", "resnet20", "resnet32"];

struct Row {
    model: String,
    file: String,
    format: WeightsFormat,
    max_abs_diff: f32,
    max_abs_logit: f32,
}

impl Row {
    fn limit(&self) -> f32 {
        TOLERANCE * self.max_abs_logit.max(1.0)
    }
    fn pass(&self) -> bool {
        self.max_abs_diff <= self.limit()
    }
}

fn read_npy(path: &Path) -> (Vec<usize>, Vec<f32>) {
    let array = zoo_data::npy::read_f32(path).unwrap_or_else(|e| panic!("{e}"));
    (array.shape, array.data)
}

fn check_model(dir: &Path, device: &Device) -> Vec<Row> {
    let meta: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("meta.json")).unwrap_or_else(|e| panic!("{}: {e}", dir.display())),
    )
    .unwrap();
    let model_name = meta["model"].as_str().expect("meta.json names the model");
    let (in_shape, input) = read_npy(&dir.join("input.npy"));
    let (out_shape, expected) = read_npy(&dir.join("logits.npy"));
    let max_abs_logit = expected.iter().fold(0f32, |m, v| m.max(v.abs()));
    let files = meta["weights"].as_array().expect("meta.json lists the weight files");
    assert!(!files.is_empty());
    files
        .iter()
        .map(|file| {
            let file = file.as_str().unwrap();
            let mut model = create(model_name, &ModelOptions::default(), device).unwrap();
            let report = load(&mut model, &dir.join(file), &LoadOptions::default())
                .unwrap_or_else(|e| panic!("{model_name}: {e}"));
            assert!(report.is_exact(), "{model_name}/{file}: {}", report.summary());
            let shape: [usize; 4] = in_shape.clone().try_into().expect("NCHW input");
            let x = Tensor::<4>::from_data(TensorData::new(input.clone(), shape), device);
            let logits = model.forward(x);
            assert_eq!(logits.dims().to_vec(), out_shape, "{model_name}: logits shape");
            let got = logits.into_data().convert::<f32>().try_into_vec::<f32>().unwrap();
            let max_abs_diff = got.iter().zip(&expected).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
            Row {
                model: model_name.to_string(),
                file: file.to_string(),
                format: report.format,
                max_abs_diff,
                max_abs_logit,
            }
        })
        .collect()
}

fn table(rows: &[Row]) -> String {
    let mut text = String::from(
        "| model | weights file | max abs(Δlogit) | max abs(logit) | limit | result |\n|---|---|---:|---:|---:|---|\n",
    );
    for r in rows {
        text.push_str(&format!(
            "| {} | {} ({}) | {:.2e} | {:.3} | {:.0e} | {} |\n",
            r.model,
            r.file,
            r.format,
            r.max_abs_diff,
            r.max_abs_logit,
            r.limit(),
            if r.pass() { "pass" } else { "FAIL" }
        ));
    }
    text
}

#[test]
fn logits_match_pytorch() {
    let custom = std::env::var_os("ZOO_PARITY_DIR").map(PathBuf::from);
    let root = custom.clone().unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/parity"));
    let models: Vec<String> = match std::env::var("ZOO_PARITY_MODELS") {
        Ok(list) if !list.trim().is_empty() => {
            list.split([',', ' ']).filter(|s| !s.is_empty()).map(String::from).collect()
        }
        _ => {
            let mut found: Vec<String> = std::fs::read_dir(&root)
                .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
                .filter_map(|e| e.ok())
                .filter(|e| e.path().join("meta.json").is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            found.sort();
            found
        }
    };
    if custom.is_none() {
        // The committed fixtures must all be there: a missing one would otherwise pass silently.
        for name in COMMITTED {
            assert!(models.iter().any(|m| m == name), "tests/fixtures/parity/{name} is missing");
        }
    }
    assert!(!models.is_empty(), "no fixtures in {}", root.display());
    let device = Device::flex();
    let mut rows = Vec::new();
    for model in &models {
        rows.extend(check_model(&root.join(model), &device));
    }
    let text = table(&rows);
    println!("{text}");
    if custom.is_some() {
        let json: Vec<Value> = rows
            .iter()
            .map(|r| {
                json!({"model": r.model, "file": r.file, "format": r.format, "max_abs_diff": r.max_abs_diff,
                       "max_abs_logit": r.max_abs_logit, "limit": r.limit(), "pass": r.pass()})
            })
            .collect();
        std::fs::write(root.join("parity.json"), serde_json::to_string_pretty(&json).unwrap() + "\n").unwrap();
        std::fs::write(root.join("parity.md"), &text).unwrap();
    }
    let failed: Vec<String> = rows.iter().filter(|r| !r.pass()).map(|r| format!("{}/{}", r.model, r.file)).collect();
    assert!(failed.is_empty(), "logits differ from PyTorch's beyond the tolerance: {}\n{text}", failed.join(", "));
}
