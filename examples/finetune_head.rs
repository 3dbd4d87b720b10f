//! Fine-tune with a new classifier head, as timm's `reset_classifier` does: LeNet-5 trained on
//! the ten digits is the starting point, and a 3-class task (the digits 0, 1 and 2) keeps its
//! convolutions and replaces its last layer.
//!
//! With a published backbone the first step is `config.init = Some(InitWeights { pretrained:
//! Some("DEFAULT".into()), .. })` instead (torchvision's ImageNet weights, fetched once).
//!
//! ```text
//! cargo run --release --example finetune_head
//! ```

use std::path::Path;
use std::sync::Arc;

use zoo_data::{Dataset, Split, Subset, SynthDigits};
use zoo_train::config::InitWeights;
use zoo_train::data::Datasets;
use zoo_train::run::{RunResult, train_on};

/// The items of `source` labelled 0, 1 or 2, as a 3-class dataset.
fn three_digits(source: Arc<dyn Dataset>) -> Arc<dyn Dataset> {
    let keep: Vec<usize> = (0..source.len()).filter(|&i| source.get(i).is_ok_and(|item| item.label < 3)).collect();
    Arc::new(ThreeClasses(Subset::new(source, keep).expect("indices come from the dataset")))
}

/// A subset whose labels are below 3, with those three class names.
struct ThreeClasses(Subset);

impl Dataset for ThreeClasses {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn get(&self, index: usize) -> zoo_data::Result<zoo_data::Item> {
        self.0.get(index)
    }
    fn classes(&self) -> &[String] {
        &self.0.classes()[..3]
    }
    fn name(&self) -> String {
        format!("{} (digits 0-2)", self.0.name())
    }
}

fn finetune(root: &Path) -> Result<(RunResult, RunResult), zoo_train::TrainError> {
    // 1. The backbone: one epoch on the ten digits.
    let mut base = zoo_train::recipe("lenet5-synth")?;
    base.epochs = 1;
    base.train_limit = Some(2048);
    base.test_limit = Some(512);
    let backbone = zoo_train::train(base.clone(), &root.join("backbone"))?;

    // 2. The new task: 3 classes. Its head (`f7` of LeNet-5, 10 outputs) is reset to 3 outputs;
    //    every other tensor starts from the backbone, and a mismatch elsewhere is an error.
    let train: Arc<dyn Dataset> = Arc::new(SynthDigits::with_len(Split::Train, 2048, 1));
    let test: Arc<dyn Dataset> = Arc::new(SynthDigits::with_len(Split::Test, 512, 1));
    let test = three_digits(test);
    let datasets = Datasets { train: three_digits(train), valid: test.clone(), test };
    let mut task = base;
    task.dataset = "digits 0-2".into();
    task.train_limit = None;
    task.test_limit = None;
    task.lr /= 10.0;
    task.init =
        Some(InitWeights { pretrained: None, file: Some(root.join("backbone/model.bpk")), top_level_key: None });
    let finetuned = train_on(task, datasets, &root.join("finetuned"))?;
    Ok((backbone, finetuned))
}

fn main() -> Result<(), zoo_train::TrainError> {
    let root = std::env::temp_dir().join(format!("burn-zoo-finetune-{}", std::process::id()));
    let (backbone, finetuned) = finetune(&root)?;
    println!("{}", backbone.summary_line());
    println!("{}", finetuned.summary_line());
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_head_is_replaced_and_the_rest_kept() {
        let root = std::env::temp_dir().join(format!("burn-zoo-finetune-test-{}", std::process::id()));
        let (backbone, finetuned) = super::finetune(&root).unwrap();
        // The 10-way head (84 x 10 + 10) became a 3-way one (84 x 3 + 3).
        assert_eq!(backbone.parameters - finetuned.parameters, 7 * 84 + 7);
        assert!(finetuned.test_top1 > 100.0 / 3.0, "better than chance: {}", finetuned.test_top1);
        std::fs::remove_dir_all(root).unwrap();
    }
}
