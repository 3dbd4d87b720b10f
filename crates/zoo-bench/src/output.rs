//! A report as a table, CSV or JSON, with the baseline's ratios beside each row, and the one-line
//! summary a run ends with.

use zoo_models::summary::{format_significant, render_table as render_rows};
use zoo_train::progress::format_duration;

use crate::compare::{Ratios, baseline_row, ratios};
use crate::report::{BenchReport, BenchRow};

pub(crate) fn fmt(value: Option<f64>, digits: usize) -> String {
    value.map(|v| format_significant(v, digits)).unwrap_or_else(|| "-".into())
}

fn fmt_ratio(value: Option<f64>) -> String {
    // Two decimals, or two significant digits for the tiny ratios of the slow backends.
    value
        .map(|v| if v >= 0.1 { format!("{v:.2}x") } else { format!("{}x", format_significant(v, 2)) })
        .unwrap_or_else(|| "-".into())
}

/// The report as an aligned table; with a baseline, columns of ratios to PyTorch and the
/// baseline's own rows below.
pub fn to_table(report: &BenchReport, baseline: Option<&BenchReport>) -> String {
    let mut headers = vec![
        "model", "backend", "mode", "batch", "samples/s", "ms/step", "fwd ms", "bwd ms", "step ms", "GFLOP/s",
        "peak MiB",
    ];
    if baseline.is_some() {
        headers.extend(["x PyTorch", "fwd x", "bwd x", "step x"]);
    }
    headers.push("note");
    let table_row = |row: &BenchRow, with_ratios: bool| {
        let mut cells = vec![
            row.model.clone(),
            row.backend_label(),
            row.mode.name().into(),
            row.batch_size.to_string(),
            fmt(row.samples_per_s, 4),
            fmt(row.ms_per_step, 4),
            fmt(row.forward_ms, 3),
            fmt(row.backward_ms, 3),
            fmt(row.step_ms, 3),
            fmt(row.gflops, 3),
            fmt(row.peak_memory_mb, 3),
        ];
        if let Some(baseline) = baseline {
            let r = if with_ratios {
                baseline_row(row, baseline).map(|b| ratios(row, b)).unwrap_or_default()
            } else {
                Ratios::default()
            };
            cells.extend([r.throughput, r.forward, r.backward, r.step].map(fmt_ratio));
        }
        cells.push(match &row.error {
            Some(e) => format!("error: {e}"),
            None => scaling(row, report).unwrap_or_default(),
        });
        cells
    };
    let mut rows: Vec<Vec<String>> = report.rows.iter().map(|r| table_row(r, true)).collect();
    if let Some(baseline) = baseline {
        let wanted = |b: &&BenchRow| {
            report.rows.iter().any(|r| r.model == b.model && r.mode == b.mode && r.batch_size == b.batch_size)
        };
        rows.extend(baseline.rows.iter().filter(wanted).map(|b| table_row(b, false)));
    }
    let right: Vec<usize> = (3..headers.len() - 1).collect();
    let mut text = render_rows(&headers, &rows, &right);
    text.push_str(&format!(
        "Burn {} on {}, {} cores; medians of {} iterations after {} warm-up.\n",
        report.framework_version,
        report.machine.cpu,
        report.machine.cores,
        report.settings.iters,
        report.settings.warmup
    ));
    if let Some(b) = baseline {
        text.push_str(&format!(
            "Baseline: {} {} on {}, {} threads ({}). Ratios above 1 mean Burn is faster.\n",
            b.framework, b.framework_version, b.machine.cpu, b.machine.threads, b.started
        ));
    }
    text
}

/// For a row on several devices: its throughput against the same case on one device.
fn scaling(row: &BenchRow, report: &BenchReport) -> Option<String> {
    if row.devices == 1 {
        return None;
    }
    let single = report.rows.iter().find(|r| {
        r.devices == 1
            && (&r.model, &r.backend, &r.kernels, r.mode, r.batch_size)
                == (&row.model, &row.backend, &row.kernels, row.mode, row.batch_size)
    })?;
    let ratio = row.samples_per_s? / single.samples_per_s?;
    Some(format!("{ratio:.2}x the throughput of 1 device"))
}

/// The report as CSV, one line per row; with a baseline, ratio columns at the end.
pub fn to_csv(report: &BenchReport, baseline: Option<&BenchReport>) -> String {
    let mut out = String::from(
        "model,backend,device,mode,batch_size,devices,input,params,gmacs,samples_per_s,ms_per_step,forward_ms,backward_ms,step_ms,gflops,peak_memory_mb,memory,error",
    );
    if baseline.is_some() {
        out.push_str(",ratio_throughput,ratio_forward,ratio_backward,ratio_step");
    }
    out.push('\n');
    let num = |v: Option<f64>| v.map(|v| format!("{v}")).unwrap_or_default();
    let quote = |s: &str| {
        if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
    };
    for row in &report.rows {
        let fields = [
            quote(&row.model),
            quote(&row.backend_label()),
            quote(&row.device),
            row.mode.name().into(),
            row.batch_size.to_string(),
            row.devices.to_string(),
            format!("{}x{}x{}", row.input[0], row.input[1], row.input[2]),
            row.params.to_string(),
            format!("{}", row.gmacs),
            num(row.samples_per_s),
            num(row.ms_per_step),
            num(row.forward_ms),
            num(row.backward_ms),
            num(row.step_ms),
            num(row.gflops),
            num(row.peak_memory_mb),
            row.memory.clone().unwrap_or_default(),
            quote(row.error.as_deref().unwrap_or("")),
        ];
        out.push_str(&fields.join(","));
        if let Some(baseline) = baseline {
            let r = baseline_row(row, baseline).map(|b| ratios(row, b)).unwrap_or_default();
            for v in [r.throughput, r.forward, r.backward, r.step] {
                out.push(',');
                out.push_str(&num(v));
            }
        }
        out.push('\n');
    }
    out
}

/// The report as JSON; with a baseline, each row gains a `vs_pytorch` object of [`Ratios`] and
/// the baseline report is embedded under `baseline`.
pub fn to_json(report: &BenchReport, baseline: Option<&BenchReport>) -> String {
    let mut value = serde_json::to_value(report).expect("a report serialises");
    if let Some(baseline) = baseline {
        if let Some(rows) = value.get_mut("rows").and_then(|r| r.as_array_mut()) {
            for (json, row) in rows.iter_mut().zip(&report.rows) {
                if let Some(b) = baseline_row(row, baseline) {
                    json["vs_pytorch"] = serde_json::to_value(ratios(row, b)).expect("ratios serialise");
                }
            }
        }
        value["baseline"] = serde_json::to_value(baseline).expect("a report serialises");
    }
    serde_json::to_string_pretty(&value).expect("a report serialises") + "\n"
}

/// The one-line summary printed when a run ends; `seconds` is the run's duration, `None` for a
/// report read back from files.
pub fn summary_line(report: &BenchReport, seconds: Option<f64>) -> String {
    let failed = report.rows.iter().filter(|r| r.error.is_some()).count();
    let best = report
        .rows
        .iter()
        .filter(|r| r.error.is_none())
        .max_by(|a, b| a.gflops.unwrap_or(0.0).total_cmp(&b.gflops.unwrap_or(0.0)));
    let mut line = match seconds {
        Some(seconds) => format!("{} cases in {} ({failed} failed)", report.rows.len(), format_duration(seconds)),
        None => format!("{} saved cases ({failed} failed)", report.rows.len()),
    };
    if let Some(best) = best {
        line.push_str(&format!(
            "; highest GFLOP/s: {} on {} ({} b{}, {})",
            best.model,
            best.backend_label(),
            best.mode.name(),
            best.batch_size,
            fmt(best.gflops, 3)
        ));
    }
    line
}
