//! End-to-end tests of the `zoo` binary built by this test profile.

use std::process::{Command, Output};

fn zoo(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zoo")).args(args).output().expect("zoo runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// Bad input: a non-zero exit and exactly one line on stderr, no panic.
fn assert_one_line_error(output: &Output, expected_fragment: &str) {
    let err = stderr(output);
    assert!(!output.status.success(), "exit status {:?}, stderr {err}", output.status);
    assert_eq!(err.trim_end().lines().count(), 1, "stderr: {err}");
    assert!(err.starts_with("error: "), "stderr: {err}");
    assert!(err.contains(expected_fragment), "`{expected_fragment}` not in: {err}");
    assert!(!err.contains("panicked") && !err.contains("internal error"), "stderr: {err}");
}

#[test]
fn list_json_has_every_model_with_its_exact_parameter_count() {
    let output = zoo(&["list", "--format", "json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let rows: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), zoo_models::MODELS.len());
    let params = |name: &str| {
        rows.iter().find(|r| r["name"] == name).unwrap_or_else(|| panic!("{name} missing"))["params"].as_u64().unwrap()
    };
    assert_eq!(params("lenet5"), 61_706);
    assert_eq!(params("alexnet"), 61_100_840);
    assert_eq!(params("vgg16_bn"), 138_365_992);
    assert_eq!(params("resnet50"), 25_557_032);
    assert_eq!(params("resnet152"), 60_192_808);
    assert_eq!(params("resnet110"), 1_727_962);
    assert_eq!(params("googlenet"), 6_624_904);
    assert_eq!(params("inception_v3"), 27_161_264);
    for row in rows {
        for key in ["name", "family", "params", "gmacs", "input", "classes", "paper", "year"] {
            assert!(!row[key].is_null(), "{key} missing in {row}");
        }
    }
}

#[test]
fn list_filters_by_glob_and_prints_a_table() {
    let output = zoo(&["list", "vgg*_bn"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    let rows: Vec<&str> = text.lines().skip(2).collect();
    assert_eq!(rows.len(), 4, "{text}");
    assert!(rows.iter().all(|r| r.starts_with("vgg") && r.contains("_bn")), "{text}");
    assert!(text.contains("138,365,992"), "{text}");
}

#[test]
fn densenets_list_with_torchvision_counts_and_macs() {
    let output = zoo(&["list", "densenet*"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    let rows: Vec<&str> = text.lines().skip(2).collect();
    assert_eq!(rows.len(), 4, "{text}");
    for (name, params, gmacs) in [
        ("densenet121", "7,978,856", "2.834"),
        ("densenet161", "28,681,000", "7.728"),
        ("densenet169", "14,149,480", "3.360"),
        ("densenet201", "20,013,928", "4.291"),
    ] {
        let row = rows.iter().find(|r| r.starts_with(name)).unwrap_or_else(|| panic!("{name}: {text}"));
        assert!(row.contains(params) && row.contains(gmacs), "{row}");
    }
}

#[test]
fn inception_v3_summary_counts_its_auxiliary_classifier() {
    let output = zoo(&["summary", "inception_v3"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("inception_v3: input 3x299x299, output 1000"), "{text}");
    assert!(text.contains("Trainable params: 27,161,264"), "{text}");
    assert!(text.contains("(5.713 G)"), "{text}");
    assert!(text.contains("AuxLogits.fc *"), "{text}");
    let output = zoo(&["summary", "inception_v3", "--aux-logits", "false"]);
    assert!(stdout(&output).contains("Trainable params: 23,834,568"), "{}", stdout(&output));
    let output = zoo(&["summary", "googlenet", "--aux-logits", "true"]);
    assert!(stdout(&output).contains("Trainable params: 13,004,888"), "{}", stdout(&output));
    assert_one_line_error(
        &zoo(&["summary", "resnet18", "--aux-logits", "true"]),
        "resnet18 has no auxiliary classifiers",
    );
}

#[test]
fn list_with_no_match_is_an_error() {
    assert_one_line_error(&zoo(&["list", "transformer*"]), "no model matches `transformer*`");
}

#[test]
fn resnet50_summary_prints_torchvision_figures() {
    let output = zoo(&["summary", "resnet50", "--input", "3x224x224"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("Trainable params: 25,557,032"), "{text}");
    assert!(text.contains("(4.089 G)"), "{text}");
    assert!(text.contains("layer4.2.conv3"), "{text}");
    assert!(text.contains("Buffers (BatchNorm running stats): 53,120"), "{text}");
}

#[test]
fn summary_json_with_other_classes_and_input() {
    let output = zoo(&["summary", "resnet20", "--input", "3x64x64", "--classes", "100", "--format", "json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(summary["output_shape"], serde_json::json!([100]));
    // 269,722 with 10 classes; the fc layer grows by 90 x (64 + 1).
    assert_eq!(summary["trainable_params"], 269_722 + 90 * 65);
    let layers = summary["layers"].as_array().unwrap();
    let last_stage = layers.iter().rev().find(|l| l["name"] == "layer3.2.relu").unwrap();
    assert_eq!(last_stage["output_shape"], serde_json::json!([64, 16, 16]));
}

#[test]
fn summary_shows_receptive_fields_in_the_table_and_the_json() {
    let output = zoo(&["summary", "alexnet"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    let pool = text.lines().find(|l| l.starts_with("features.12 ")).unwrap_or_else(|| panic!("{text}"));
    // RF 195, jump 32, first unit centred on pixel 31.
    assert!(pool.trim_end().ends_with("195    32     31"), "{pool}");
    let output = zoo(&["summary", "lenet5", "--format", "json"]);
    let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let pool2 = summary["layers"].as_array().unwrap().iter().find(|l| l["name"] == "pool2").unwrap();
    assert_eq!(pool2["receptive_field"]["size"], serde_json::json!([16, 16]));
    assert_eq!(pool2["receptive_field"]["jump"], serde_json::json!([4, 4]));
    assert_eq!(pool2["receptive_field"]["start"], serde_json::json!([7.5, 7.5]));
}

#[test]
fn summary_explain_works_through_each_layers_arithmetic() {
    let output = zoo(&["summary", "alexnet", "--explain"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    for expected in [
        "features.0: Conv2d 11, stride 4, 3x224x224 -> 64x55x55",
        "output: (224 - 11 + 2x2) / 4 + 1 = 55 (rounded down)",
        "parameters: (11 x 11 x 3 + 1) x 64 = 23,296, the same weights at all 55x55 positions; \
         a fully connected layer from 3x224x224 to 64x55x55 would need (150,528 + 1) x 193,600",
        "features.2: MaxPool2d 3, stride 2, 64x55x55 -> 64x27x27",
        "receptive field: 195 input pixels, jump 32, first unit centred at 31",
    ] {
        assert!(text.contains(expected), "`{expected}` not in:\n{text}");
    }
    // Inception v3's 1x7 convolutions are worked out per axis.
    let text = stdout(&zoo(&["summary", "inception_v3", "--explain"]));
    assert!(text.contains("Mixed_6b.branch7x7_2.conv: Conv2d 1x7, stride 1"), "{text}");
    assert!(text.contains("output H: (17 - 1 + 2x0) / 1 + 1 = 17"), "{text}");
    assert!(text.contains("output W: (17 - 7 + 2x3) / 1 + 1 = 17"), "{text}");
}

#[test]
fn an_input_too_small_is_one_line_naming_the_layer() {
    let output = zoo(&["summary", "alexnet", "--input", "1x8x8"]);
    assert_one_line_error(&output, "features.2");
    assert!(stderr(&output).contains("alexnet cannot take a 1x8x8 input"), "{}", stderr(&output));
}

#[test]
fn an_unknown_model_suggests_close_names() {
    assert_one_line_error(&zoo(&["summary", "resnet5"]), "did you mean resnet50");
}

#[test]
fn malformed_arguments_are_one_line() {
    assert_one_line_error(&zoo(&["summary", "resnet18", "--input", "224x224"]), "--input");
    assert_one_line_error(&zoo(&["summary", "resnet18", "--classes", "0"]), "--classes");
    assert_one_line_error(&zoo(&["list", "--format", "yaml"]), "--format");
    assert_one_line_error(&zoo(&["frobnicate"]), "frobnicate");
}
