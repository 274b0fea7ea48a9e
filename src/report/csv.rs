//! `summary.csv`: one row per combination, parameters as columns (sorted), then load point and
//! metrics; empty cells for missing values. Ready for `pandas.read_csv`.

use super::{Report, number};
use crate::metrics::{self, Stat};

/// Full precision; an exponent for huge and tiny values (`1.7e308`, see [`number::exact`]).
fn cell(v: Option<f64>) -> String {
    v.filter(|x| x.is_finite()).map(number::exact).unwrap_or_default()
}

/// The CSV bytes.
pub fn render(report: &Report) -> Result<Vec<u8>, String> {
    let mut fixed: Vec<String> = ["index", "dir", "status"].map(String::from).to_vec();
    let tail: Vec<String> = ["isl", "osl", "max_concurrency", "request_rate", "num_prompts"]
        .iter()
        .map(|s| s.to_string())
        .chain(metrics::distributions().flat_map(|d| {
            Stat::REPORTED.iter().map(move |s| format!("{}_{}_{}", d.stem, s.name(), d.unit))
        }))
        .chain(metrics::scalars().map(|d| d.key.to_string()))
        .chain(["target_fails".to_string(), "reason".to_string()])
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
        for d in metrics::distributions() {
            for st in Stat::REPORTED {
                rec.push(cell(m.get(d.metric, st)));
            }
        }
        for d in metrics::scalars() {
            rec.push(cell(m.value(d.metric)));
        }
        rec.push(r.targets.iter().filter(|t| t.is_fail()).count().to_string());
        rec.push(reasons.get(&r.index).map(|s| s.to_string()).unwrap_or_default());
        w.write_record(&rec).map_err(err)?;
    }
    w.into_inner().map_err(|e| format!("failed to write summary.csv: {e}"))
}
