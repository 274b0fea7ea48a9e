//! `sweeper compare A B`: match the combinations of two batches by parameters and show each key
//! metric's absolute and relative change (like a before/after table).

use std::collections::BTreeMap;

use serde::Serialize;

use super::{number, template};
use crate::config::options::canonical;
use crate::metrics::{Direction, Metric, Shape, Stat};
use crate::results::{BatchResults, RunResult};

/// The metrics compared, in table order (names, units and directions from the metric table).
pub const COMPARED: [(Metric, Stat); 8] = [
    (Metric::Ttft, Stat::Avg),
    (Metric::Ttft, Stat::P99),
    (Metric::Tpot, Stat::Avg),
    (Metric::Itl, Stat::Avg),
    (Metric::E2el, Stat::Avg),
    (Metric::E2el, Stat::P99),
    (Metric::OutputTokS, Stat::Avg),
    (Metric::ReqS, Stat::Avg),
];

/// `TTFT avg (ms)`, `Output Tok/s`: how a compared figure is labelled.
pub fn label_of(metric: Metric, stat: Stat) -> String {
    let d = metric.def();
    match d.shape {
        Shape::Distribution => format!("{} {} ({})", d.display, stat.name(), d.unit),
        Shape::Scalar => d.display.to_owned(),
    }
}

/// Changes smaller than this (in %) are `same`.
pub const SAME_WITHIN_PCT: f64 = 1.0;

#[derive(Debug, Clone, Serialize)]
pub struct CompareRow {
    /// The combination's parameters (`concurrency=4, isl=128`), `-` without parameters.
    pub combination: String,
    pub metric: String,
    pub a: Option<f64>,
    pub b: Option<f64>,
    /// b - a.
    pub change: Option<f64>,
    /// (b - a) / a x 100.
    pub change_pct: Option<f64>,
    /// `better`, `worse`, `same` (within 1%) or `-`.
    pub verdict: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub a: String,
    pub b: String,
    pub rows: Vec<CompareRow>,
    /// Combinations only in A / only in B, or without results on one side.
    pub only_a: Vec<String>,
    pub only_b: Vec<String>,
    pub no_results: Vec<String>,
}

/// Parameters with canonical keys and display values: the matching key.
fn key(run: &RunResult) -> BTreeMap<String, String> {
    run.params
        .iter()
        .map(|(k, v)| {
            let v = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => {
                    n.as_f64().map(number::exact).unwrap_or_else(|| n.to_string())
                }
                other => other.to_string(),
            };
            (canonical(k), v)
        })
        .collect()
}

fn label(k: &BTreeMap<String, String>) -> String {
    if k.is_empty() {
        return "-".into();
    }
    k.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")
}

/// Compares two collected batches.
pub fn compare(a: &BatchResults, b: &BatchResults) -> Comparison {
    let index = |r: &BatchResults| -> BTreeMap<BTreeMap<String, String>, RunResult> {
        r.runs.iter().map(|run| (key(run), run.clone())).collect()
    };
    let (ia, ib) = (index(a), index(b));
    let mut rows = Vec::new();
    let mut no_results = Vec::new();
    for (k, ra) in &ia {
        let Some(rb) = ib.get(k) else { continue };
        let (Some(ma), Some(mb)) = (&ra.metrics, &rb.metrics) else {
            no_results.push(label(k));
            continue;
        };
        for (metric, stat) in COMPARED {
            let lower = metric.def().direction == Direction::LowerIsBetter;
            let (va, vb) = (ma.get(metric, stat), mb.get(metric, stat));
            let change = va.zip(vb).map(|(x, y)| y - x);
            let change_pct =
                va.zip(vb).filter(|(x, _)| *x != 0.0).map(|(x, y)| (y - x) / x * 100.0);
            let verdict = match change_pct {
                Some(p) if p.abs() < SAME_WITHIN_PCT => "same",
                Some(p) if (p < 0.0) == lower => "better",
                Some(_) => "worse",
                None => "-",
            };
            rows.push(CompareRow {
                combination: label(k),
                metric: label_of(metric, stat),
                a: va,
                b: vb,
                change,
                change_pct,
                verdict,
            });
        }
    }
    Comparison {
        a: a.batch_dir.display().to_string(),
        b: b.batch_dir.display().to_string(),
        rows,
        only_a: ia.keys().filter(|k| !ib.contains_key(*k)).map(label).collect(),
        only_b: ib.keys().filter(|k| !ia.contains_key(*k)).map(label).collect(),
        no_results,
    }
}

/// The Markdown table (`templates/compare.md.j2`).
pub fn render_markdown(c: &Comparison) -> Result<String, String> {
    template::render("compare.md.j2", c)
}

/// The CSV, one row per (combination, metric).
pub fn render_csv(c: &Comparison) -> Result<Vec<u8>, String> {
    let err = |e: csv::Error| format!("failed to write compare.csv: {e}");
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["combination", "metric", "a", "b", "change", "change_pct", "verdict"])
        .map_err(err)?;
    let cell = |v: Option<f64>| v.map(number::exact).unwrap_or_default();
    for r in &c.rows {
        w.write_record([
            r.combination.clone(),
            r.metric.clone(),
            cell(r.a),
            cell(r.b),
            cell(r.change),
            cell(r.change_pct),
            r.verdict.to_string(),
        ])
        .map_err(err)?;
    }
    w.into_inner().map_err(|e| format!("failed to write compare.csv: {e}"))
}
