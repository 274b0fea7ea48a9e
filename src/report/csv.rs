//! `summary.csv`: one row per combination, parameters as columns (sorted), then load point and
//! metrics; empty cells for missing values. Ready for `pandas.read_csv`.

use super::{RenderError, Report};
use crate::model::metrics::{self, Stat};
use crate::util::number;

/// One row's cells, their buffers kept from row to row (1,000 rows are ~100,000 cells: a
/// `String` each was most of the file's render time).
#[derive(Default)]
struct Rec {
    cells: Vec<String>,
    used: usize,
}

impl Rec {
    /// The next cell, empty.
    fn next(&mut self) -> &mut String {
        if self.used == self.cells.len() {
            self.cells.push(String::new());
        }
        let c = &mut self.cells[self.used];
        c.clear();
        self.used += 1;
        c
    }

    fn text(&mut self, s: &str) {
        self.next().push_str(s);
    }

    /// Full precision; an exponent for huge and tiny values (`1.7e308`, see
    /// [`number::exact`]); empty when missing or not finite.
    fn num(&mut self, v: Option<f64>) {
        let c = self.next();
        if let Some(x) = v.filter(|x| x.is_finite()) {
            number::write_exact(c, x);
        }
    }

    fn int(&mut self, n: usize) {
        use std::fmt::Write;
        let _ = write!(self.next(), "{n}");
    }

    /// The row's cells, and the next row starts.
    fn take(&mut self) -> &[String] {
        let used = std::mem::take(&mut self.used);
        &self.cells[..used]
    }
}

/// Every figure of the CSV, in column order.
fn figures() -> impl Iterator<Item = (metrics::Metric, Stat)> {
    metrics::distributions()
        .flat_map(|d| Stat::REPORTED.iter().map(move |s| (d.metric, *s)))
        .chain(metrics::scalars().map(|d| (d.metric, Stat::Avg)))
}

/// With repeats: `repeats`, then for every figure its confidence interval and CV across repeats
/// (`ttft_avg_ci_low_ms`, `ttft_avg_ci_high_ms`, `ttft_avg_cv`; `output_tok_s_ci_low`, ...),
/// then the noisy figures (`;`-separated keys). Without repeats, nothing: the file is as before.
fn repeat_columns(report: &Report) -> Vec<String> {
    if report.uncertainty.is_none() {
        return Vec::new();
    }
    let mut cols = vec!["repeats".to_string()];
    for (m, st) in figures() {
        let d = m.def();
        match d.shape {
            metrics::Shape::Distribution => {
                let stem = format!("{}_{}", d.stem, st.name());
                cols.push(format!("{stem}_ci_low_{}", d.unit));
                cols.push(format!("{stem}_ci_high_{}", d.unit));
                cols.push(format!("{stem}_cv"));
            }
            metrics::Shape::Scalar => {
                cols.push(format!("{}_ci_low", d.key));
                cols.push(format!("{}_ci_high", d.key));
                cols.push(format!("{}_cv", d.key));
            }
        }
    }
    cols.push("noisy".to_string());
    cols
}

/// The server figures any point has (`server_waiting_avg`, ...), each with its interval with
/// repeats (`server_waiting_avg_ci_low`, `_ci_high`). Without server metrics, nothing.
fn server_columns(report: &Report) -> Vec<String> {
    let Some(t) = &report.server else { return Vec::new() };
    let mut cols = Vec::new();
    for c in &t.columns {
        cols.push(format!("server_{}", c.key));
        if report.uncertainty.is_some() {
            cols.push(format!("server_{}_ci_low", c.key));
            cols.push(format!("server_{}_ci_high", c.key));
        }
    }
    cols
}

fn server_cells(report: &Report, r: &super::Row, rec: &mut Rec) {
    let Some(t) = &report.server else { return };
    for c in &t.columns {
        let f = r.server.as_ref().and_then(|s| s.figures.get(c.key));
        rec.num(f.map(|f| f.mean));
        if report.uncertainty.is_some() {
            rec.num(f.and_then(|f| f.ci_low));
            rec.num(f.and_then(|f| f.ci_high));
        }
    }
}

/// With a `cost` section: `usd_per_hour`, `gpus`, then each cost figure any point has
/// (`usd_per_1m_output`, ...), with the interval with repeats (`_ci_low`, `_ci_high`).
fn cost_columns(report: &Report) -> Vec<String> {
    let Some(t) = &report.cost else { return Vec::new() };
    let mut cols = vec!["usd_per_hour".to_string(), "gpus".to_string()];
    for (k, _) in &t.columns {
        cols.push((*k).to_string());
        if report.uncertainty.is_some() {
            cols.push(format!("{k}_ci_low"));
            cols.push(format!("{k}_ci_high"));
        }
    }
    cols
}

fn cost_cells(report: &Report, r: &super::Row, rec: &mut Rec) {
    let Some(t) = &report.cost else { return };
    rec.num(r.cost.as_ref().map(|c| c.usd_per_hour));
    rec.num(r.cost.as_ref().and_then(|c| c.gpus));
    for (k, _) in &t.columns {
        let v = r.cost.as_ref().and_then(|c| c.get(k));
        rec.num(v.map(|v| v.value));
        if report.uncertainty.is_some() {
            rec.num(v.and_then(|v| v.ci_low));
            rec.num(v.and_then(|v| v.ci_high));
        }
    }
}

/// The CSV bytes.
pub fn render(report: &Report) -> Result<Vec<u8>, RenderError> {
    let mut out = Vec::new();
    render_to(report, &mut out)?;
    Ok(out)
}

/// As [`render`], into `out` as it renders: at 1,000 rows the CSV is ~1.5 MB, which held whole
/// beside the HTML report's render (on its own thread) was the peak of a batch's end.
pub fn render_to(report: &Report, out: &mut dyn std::io::Write) -> Result<(), RenderError> {
    let mut fixed: Vec<String> = ["index", "dir", "status"].map(String::from).to_vec();
    let tail: Vec<String> = ["isl", "osl", "max_concurrency", "request_rate", "num_prompts"]
        .iter()
        .map(|s| s.to_string())
        .chain(metrics::distributions().flat_map(|d| {
            Stat::REPORTED.iter().map(move |s| format!("{}_{}_{}", d.stem, s.name(), d.unit))
        }))
        .chain(metrics::scalars().map(|d| d.key.to_string()))
        .chain(["target_fails".to_string(), "reason".to_string()])
        .chain(repeat_columns(report))
        .chain(server_columns(report))
        .chain(cost_columns(report))
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
    let mut w = csv::Writer::from_writer(out);
    let err = |source| RenderError::Csv { file: "summary.csv", source };
    fixed.extend(param_cols);
    fixed.extend(tail);
    w.write_record(&fixed).map_err(err)?;
    let reasons: std::collections::BTreeMap<usize, &str> =
        report.failures.iter().map(|f| (f.index, f.reason.as_str())).collect();
    let mut rec = Rec::default();
    for r in &report.rows {
        rec.int(r.index);
        rec.text(&r.dir);
        rec.text(&r.status);
        for k in &report.param_keys {
            rec.text(r.params.get(k).map_or("", String::as_str));
        }
        let l = &r.load;
        for v in [l.isl, l.osl, l.concurrency, l.request_rate, l.num_prompts] {
            rec.num(v);
        }
        let m = r.metrics.as_deref();
        for d in metrics::distributions() {
            for st in Stat::REPORTED {
                rec.num(m.and_then(|m| m.get(d.metric, st)));
            }
        }
        for d in metrics::scalars() {
            rec.num(m.and_then(|m| m.value(d.metric)));
        }
        rec.int(r.targets.iter().filter(|t| t.is_fail()).count());
        rec.text(reasons.get(&r.index).copied().unwrap_or_default());
        if report.uncertainty.is_some() {
            rec.int(r.repeats);
            for (m, st) in figures() {
                let sp = r.spread.as_ref().and_then(|s| s.get(m, st));
                rec.num(sp.map(|x| x.ci_low));
                rec.num(sp.map(|x| x.ci_high));
                rec.num(sp.and_then(|x| x.cv));
            }
            let noisy = report.noise.iter().find(|n| n.index == r.index);
            let c = rec.next();
            for (i, f) in noisy.iter().flat_map(|n| &n.figures).enumerate() {
                if i > 0 {
                    c.push(';');
                }
                c.push_str(&f.key);
            }
        }
        server_cells(report, r, &mut rec);
        cost_cells(report, r, &mut rec);
        w.write_record(rec.take()).map_err(err)?;
    }
    w.flush().map_err(|source| RenderError::Flush { file: "summary.csv", source })
}
