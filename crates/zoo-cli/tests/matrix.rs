//! Every registered model on every kind of dataset the zoo reads: the recipe `zoo train MODEL
//! --dataset D` chooses, fitted to the data, takes one training step and evaluates one batch
//! (`zoo train --dry-run`, in process). Two images a batch keep the VGGs, whose 100-million-weight
//! classifiers dominate, to a few seconds each. `cargo test --test matrix -- --nocapture` prints
//! what each pair resolved to.

use std::path::Path;

use serde_json::Value;

mod common;

/// Runs every model on `dataset` and checks each outcome; returns the table rows.
fn every_model_on(dataset: &str, data_dir: &Path, classes: usize, channels: usize) -> Vec<String> {
    let mut rows = Vec::new();
    for info in zoo_models::list("*") {
        let overrides: Vec<(&str, Value)> = vec![
            ("dataset", dataset.into()),
            ("data_dir", data_dir.display().to_string().into()),
            ("batch_size", 2.into()),
            ("train_limit", 2.into()),
            ("test_limit", 2.into()),
        ];
        let (config, notes) = zoo_cli::train::build_config(Some(info.name), None, &overrides, &[], true)
            .unwrap_or_else(|e| panic!("{} on {dataset}: {e}", info.name));
        let check =
            zoo_train::run::dry_run(config.clone()).unwrap_or_else(|e| panic!("{} on {dataset}: {e}", info.name));
        assert_eq!((check.classes, check.input[0], check.batch), (classes, channels, 2), "{} on {dataset}", info.name);
        if dataset.starts_with("folder:") {
            // Mixed sizes become the model's own input, as torchvision's ImageNet transforms do.
            assert_eq!(check.input, [channels, info.default_input[1], info.default_input[2]], "{}", info.name);
        }
        let recipe = notes[0].trim_start_matches("recipe: ").split(':').next().unwrap().to_string();
        let fitted: Vec<&str> = notes[1..].iter().map(|n| n.split(',').next().unwrap()).collect();
        rows.push(format!(
            "{:<13} {:<16} {:<10} {:<58} {}",
            info.name,
            dataset.split('/').next().unwrap(),
            zoo_models::summary::format_shape(&check.input),
            recipe,
            fitted.join("; ")
        ));
    }
    println!("{}", rows.join("\n"));
    rows
}

#[test]
fn every_model_trains_a_step_on_the_embedded_digits() {
    let rows = every_model_on("synth-digits", Path::new("unused"), 10, 1);
    assert_eq!(rows.len(), zoo_models::list("*").len());
}

#[test]
fn every_model_trains_a_step_on_an_idx_dataset() {
    let dir = tempfile::tempdir().unwrap();
    common::write_mnist(dir.path(), 4, 4);
    every_model_on("mnist", dir.path(), 10, 1);
}

#[test]
fn every_model_trains_a_step_on_cifar_binary_batches() {
    let dir = tempfile::tempdir().unwrap();
    common::write_cifar10(dir.path(), 2);
    every_model_on("cifar10", dir.path(), 10, 3);
}

#[test]
fn every_model_trains_a_step_on_an_image_folder_of_mixed_sizes_and_modes() {
    let dir = tempfile::tempdir().unwrap();
    common::write_image_folder(dir.path(), 6);
    every_model_on(&format!("folder:{}", dir.path().display()), dir.path(), 3, 3);
}
