//! The README's model table is documentation people copy numbers from: it must say what the
//! registry computes.

use burn::tensor::Device;
use burn_zoo::models::MODELS;
use burn_zoo::models::summary::{format_shape, format_significant, group_digits};

#[test]
fn readme_model_table_matches_the_registry() {
    let readme = include_str!("../README.md");
    let device = Device::flex();
    for info in MODELS.iter() {
        let summary = info.default_summary(&device);
        let row = readme
            .lines()
            .find(|l| l.starts_with(&format!("| `{}` |", info.name)))
            .unwrap_or_else(|| panic!("README has no model-table row for {}", info.name));
        let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
        assert_eq!(cells[1], info.family, "{row}");
        assert_eq!(cells[2], group_digits(summary.trainable_params as u64), "{row}");
        assert_eq!(cells[3], format_significant(summary.gmacs(), 4), "{row}");
        assert_eq!(cells[4], format_shape(&info.default_input), "{row}");
    }
    let rows = readme.lines().filter(|l| l.starts_with("| `")).count();
    assert!(rows >= MODELS.len(), "README lists {rows} models, the registry {}", MODELS.len());
}
