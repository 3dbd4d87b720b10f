//! A benchmark run end to end on LeNet-5: consistent figures, failures as rows, ratios.

use zoo_bench::compare::ratios;
use zoo_bench::output::{to_csv, to_json, to_table};
use zoo_bench::{BenchMode, BenchPlan, run_bench};

fn plan(models: &[&str], backends: &[&str], modes: &[BenchMode]) -> BenchPlan {
    BenchPlan {
        models: models.iter().map(|s| s.to_string()).collect(),
        backends: backends.iter().map(|s| s.to_string()).collect(),
        batch_sizes: vec![2],
        modes: modes.to_vec(),
        input: None,
        fuse_bn: false,
        kernels: vec![],
        devices: vec![1],
        warmup: 1,
        iters: 2,
    }
}

#[test]
fn lenet5_cases_have_consistent_figures() {
    let report = run_bench(&plan(&["lenet5"], &["flex"], &[BenchMode::Infer, BenchMode::Train]), &mut |_| {});
    assert_eq!(report.rows.len(), 2);
    for row in &report.rows {
        assert!(row.error.is_none(), "{row:?}");
        assert_eq!(row.params, 61_706);
        assert_eq!(row.input, [1, 32, 32]);
        let ms = row.ms_per_step.unwrap();
        assert!((row.samples_per_s.unwrap() - 2.0 / (ms / 1e3)).abs() / row.samples_per_s.unwrap() < 1e-9);
        let flops = row.mode.flops_per_mac() * row.gmacs * 2.0 / (ms / 1e3);
        assert!((row.gflops.unwrap() - flops).abs() <= 1e-9 * flops);
    }
    let train = &report.rows[1];
    // The median of sums is not the sum of medians, but both describe the same iterations.
    let parts = train.forward_ms.unwrap() + train.backward_ms.unwrap() + train.step_ms.unwrap();
    assert!(parts > 0.0 && train.backward_ms.unwrap() > 0.0);
}

#[test]
fn failures_are_rows_and_the_run_goes_on() {
    let mut p = plan(&["lenet5", "resnet20"], &["tpu", "flex"], &[BenchMode::Infer]);
    p.input = Some([1, 4, 4]); // too small for LeNet-5's two 5x5 convolutions
    let mut events = 0;
    let report = run_bench(&p, &mut |_| events += 1);
    assert_eq!(events, 8);
    let errors: Vec<_> = report.rows.iter().map(|r| (r.model.as_str(), r.backend.as_str(), r.error.clone())).collect();
    assert!(errors[0].2.as_deref().unwrap().contains("unknown backend `tpu`"), "{errors:?}");
    assert!(errors[1].2.is_some(), "LeNet-5 on 4x4 must fail: {errors:?}");
    // ResNet-20 pools adaptively, so a 1x4x4 input works.
    assert!(errors[3].2.is_none(), "{errors:?}");
}

#[test]
fn ratios_compare_like_rows() {
    let report = run_bench(&plan(&["lenet5"], &["flex"], &[BenchMode::Train]), &mut |_| {});
    let mut baseline = report.clone();
    baseline.framework = "pytorch".into();
    let b = &mut baseline.rows[0];
    b.backend = "pytorch-cpu".into();
    b.samples_per_s = b.samples_per_s.map(|v| v * 2.0);
    b.forward_ms = b.forward_ms.map(|v| v / 4.0);
    let r = ratios(&report.rows[0], &baseline.rows[0]);
    assert!((r.throughput.unwrap() - 0.5).abs() < 1e-12);
    assert!((r.forward.unwrap() - 0.25).abs() < 1e-12);
    assert!((r.backward.unwrap() - 1.0).abs() < 1e-12);
    let table = to_table(&report, Some(&baseline));
    assert!(table.contains("0.50x") && table.contains("pytorch-cpu"), "{table}");
    let csv = to_csv(&report, Some(&baseline));
    assert_eq!(csv.lines().count(), 2);
    assert!(csv.lines().next().unwrap().ends_with("ratio_step"));
    let json: serde_json::Value = serde_json::from_str(&to_json(&report, Some(&baseline))).unwrap();
    assert!((json["rows"][0]["vs_pytorch"]["throughput"].as_f64().unwrap() - 0.5).abs() < 1e-12);
}

#[test]
fn data_parallel_cases_sit_beside_one_device() {
    let plan = BenchPlan { devices: vec![1, 2], ..plan(&["lenet5"], &["flex"], &[BenchMode::Infer, BenchMode::Train]) };
    let report = run_bench(&plan, &mut |_| {});
    assert_eq!(report.rows.len(), 4);
    for row in &report.rows {
        assert!(row.error.is_none(), "{row:?}");
        // Each step takes batch_size images on every device.
        let images = (row.batch_size * row.devices) as f64;
        let ms = row.ms_per_step.unwrap();
        assert!((row.samples_per_s.unwrap() - images / (ms / 1e3)).abs() / row.samples_per_s.unwrap() < 1e-9);
    }
    let two: Vec<_> = report.rows.iter().filter(|r| r.devices == 2).collect();
    assert_eq!(two.len(), 2);
    assert!(two.iter().all(|r| r.backend_label().ends_with(" x2") && r.backward_ms.is_none()));
    let table = to_table(&report, None);
    assert_eq!(table.matches("the throughput of 1 device").count(), 2, "{table}");
    assert!(to_csv(&report, None).contains(",2,1x32x32,"));
    // More devices than a GPU backend has, or none: the case's row says so.
    let none = run_bench(&BenchPlan { devices: vec![0], ..plan }, &mut |_| {});
    assert!(none.rows.iter().all(|r| r.error.is_some()));
}
