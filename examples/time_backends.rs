//! Time models on two backends from code with zoo-bench: training and inference steps of
//! LeNet-5 on flex (with the zoo's CPU kernels) and ndarray, as `zoo bench` would print them.
//!
//! ```text
//! cargo run --release --example time_backends
//! ```

use zoo_bench::{BenchMode, BenchPlan, run_bench};

fn plan(iters: usize) -> BenchPlan {
    BenchPlan {
        models: vec!["lenet5".into()],
        backends: vec!["flex".into(), "ndarray".into()],
        batch_sizes: vec![32],
        modes: vec![BenchMode::Infer, BenchMode::Train],
        input: None,
        fuse_bn: false,
        kernels: vec![],
        devices: vec![1],
        warmup: 2,
        iters,
    }
}

fn main() {
    let report = run_bench(&plan(20), &mut |_event| {});
    print!("{}", zoo_bench::output::to_table(&report, None));
    // Every figure is also in the report, for a program to use.
    for row in &report.rows {
        if let Some(rate) = row.samples_per_s {
            println!("{} {} on {}: {rate:.0} images/s", row.model, row.mode.name(), row.backend_label());
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_both_backends() {
        let report = zoo_bench::run_bench(&super::plan(1), &mut |_| {});
        assert_eq!(report.rows.len(), 4);
        assert!(report.rows.iter().all(|r| r.error.is_none() && r.samples_per_s.is_some()));
    }
}
