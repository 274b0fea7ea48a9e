//! `summary.csv`: one row per combination, parameters as columns (sorted), then load point and
//! metrics; empty cells for missing values. Ready for `pandas.read_csv`.

use super::Report;
use crate::results::{KeyMetrics, Latency};

/// Metric columns after the parameters.
const LATENCIES: [&str; 4] = ["ttft", "tpot", "itl", "e2el"];
const STATS: [&str; 7] = ["avg", "p50", "p90", "p99", "std", "min", "max"];
const SCALARS: [&str; 10] = [
    "output_tok_s",
    "total_tok_s",
    "req_s",
    "tput_user",
    "completed",
    "errors",
    "total_input_tokens",
    "total_output_tokens",
    "duration_s",
    "target_fails",
];

fn cell(v: Option<f64>) -> String {
    v.filter(|x| x.is_finite()).map(|x| x.to_string()).unwrap_or_default()
}

fn lat(m: &KeyMetrics, which: &str) -> Latency {
    match which {
        "ttft" => m.ttft_ms,
        "tpot" => m.tpot_ms,
        "itl" => m.itl_ms,
        _ => m.e2el_ms,
    }
}

fn stat(l: &Latency, s: &str) -> Option<f64> {
    match s {
        "avg" => l.avg,
        "p50" => l.p50,
        "p90" => l.p90,
        "p99" => l.p99,
        "std" => l.std,
        "min" => l.min,
        _ => l.max,
    }
}

/// The CSV bytes.
pub fn render(report: &Report) -> Result<Vec<u8>, String> {
    let mut fixed: Vec<String> = ["index", "dir", "status"].map(String::from).to_vec();
    let tail: Vec<String> = ["isl", "osl", "max_concurrency", "request_rate", "num_prompts"]
        .iter()
        .map(|s| s.to_string())
        .chain(LATENCIES.iter().flat_map(|l| STATS.iter().map(move |s| format!("{l}_{s}_ms"))))
        .chain(SCALARS.iter().map(|s| s.to_string()))
        .chain(["reason".to_string()])
        .collect();
    // A parameter named like a fixed column gets a `param.` prefix.
    let param_cols: Vec<String> =
        report
            .param_keys
            .iter()
            .map(|k| {
                if fixed.contains(k) || tail.contains(k) { format!("param.{k}") } else { k.clone() }
            })
            .collect();
    let mut w = csv::Writer::from_writer(Vec::new());
    let err = |e: csv::Error| format!("failed to write summary.csv: {e}");
    fixed.extend(param_cols);
    fixed.extend(tail);
    w.write_record(&fixed).map_err(err)?;
    let reasons: std::collections::BTreeMap<usize, &str> =
        report.failures.iter().map(|f| (f.index, f.reason.as_str())).collect();
    for r in &report.rows {
        let mut rec = vec![r.index.to_string(), r.dir.clone(), r.status.clone()];
        for k in &report.param_keys {
            rec.push(r.params.get(k).cloned().unwrap_or_default());
        }
        let l = &r.load;
        for v in [l.isl, l.osl, l.concurrency, l.request_rate, l.num_prompts] {
            rec.push(cell(v));
        }
        let m = r.metrics.clone().unwrap_or_default();
        for which in LATENCIES {
            let la = lat(&m, which);
            for s in STATS {
                rec.push(cell(stat(&la, s)));
            }
        }
        let fails = r.targets.iter().filter(|t| t.is_fail()).count() as f64;
        for v in [
            m.output_tok_s,
            m.total_tok_s,
            m.req_s,
            m.tput_user,
            m.completed,
            m.errors,
            m.total_input_tokens,
            m.total_output_tokens,
            m.duration_s,
            Some(fails),
        ] {
            rec.push(cell(v));
        }
        rec.push(reasons.get(&r.index).map(|s| s.to_string()).unwrap_or_default());
        w.write_record(&rec).map_err(err)?;
    }
    w.into_inner().map_err(|e| format!("failed to write summary.csv: {e}"))
}
