//! `sweeper compare BATCH --by KEY`: an A/B batch split by the values of one swept key, the
//! first value (A) compared with each other value by the same gate as `compare A B`, and the
//! verdict said in one line that names the slower value.

use serde::Serialize;
use serde_json::Value;

use super::compare::{CompareError, CompareOptions, Comparison, Verdict, compare, key_of};
use crate::model::options::canonical;
use crate::records::Params;
use crate::results::{BatchResults, RunResult};
use crate::util::number;

/// Which values of the key A and B are, and the verdict in one line.
#[derive(Debug, Clone, Serialize)]
pub struct AbSides {
    /// The key the batch is split by (as the batch wrote it).
    pub by: String,
    /// A's value (the first of the sweep: the baseline) and B's.
    pub a: String,
    pub b: String,
    /// Which value is slower, and in what (or that no figure differs).
    pub verdict: String,
}

/// The value of `by` in `params` (any alias of the key).
fn value_of<'a>(params: &'a Params, by: &str) -> Option<&'a Value> {
    let c = canonical(by);
    params.iter().find(|(k, _)| canonical(k) == c).map(|(_, v)| v)
}

/// A value as the tables show it (`4`, `ucx`).
fn show(v: &Value) -> String {
    let mut p = Params::new();
    p.insert(String::new(), v.clone());
    key_of(&p).into_values().next().unwrap_or_default()
}

/// The batch's values of `by`, in the order of its points (the sweep's order: A first).
fn values(r: &BatchResults, by: &str) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for v in r.runs.iter().filter_map(|run| value_of(&run.params, by)) {
        if !out.contains(v) {
            out.push(v.clone());
        }
    }
    out
}

/// The points of `r` with `by = value`, without `by` in their parameters (so that the points
/// of two values match).
fn view(r: &BatchResults, by: &str, value: &Value) -> BatchResults {
    let c = canonical(by);
    let runs: Vec<RunResult> = r
        .runs
        .iter()
        .filter(|run| value_of(&run.params, by) == Some(value))
        .map(|run| {
            let mut run = run.clone();
            run.params.retain(|k, _| canonical(k) != c);
            run
        })
        .collect();
    let mut v = r.clone();
    v.runs = runs;
    v
}

/// Compares A (the first value of `by`) with each other value, inside one batch: one
/// [`Comparison`] per other value, in the sweep's order.
pub fn compare_by(
    r: &BatchResults,
    by: &str,
    opts: &CompareOptions,
) -> Result<Vec<Comparison>, CompareError> {
    let batch = r.batch_dir.display().to_string();
    let vals = values(r, by);
    if vals.len() < 2 {
        let swept: Vec<String> = r.swept_keys.iter().map(|k| format!("`{k}`")).collect();
        let why = if vals.is_empty() {
            format!("no point of this batch has `{by}` among its swept parameters")
        } else {
            format!("every point has `{by}={}`: there is nothing to compare", show(&vals[0]))
        };
        return Err(CompareError::By {
            batch,
            by: by.to_owned(),
            why,
            hint: if swept.is_empty() {
                "this batch sweeps nothing: compare two batches with `sweeper compare A B`".into()
            } else {
                format!("compare by a swept key with two or more values: {}", swept.join(", "))
            },
        });
    }
    let a = view(r, by, &vals[0]);
    let mut out = Vec::new();
    for v in &vals[1..] {
        let b = view(r, by, v);
        let mut c = compare(&a, &b, opts)?;
        let (va, vb) = (format!("{by}={}", show(&vals[0])), format!("{by}={}", show(v)));
        c.a = format!("{batch} [{va}]");
        c.b = format!("{batch} [{vb}]");
        let verdict = verdict_line(&c, &va, &vb);
        c.ab = Some(AbSides { by: by.to_owned(), a: va, b: vb, verdict });
        out.push(c);
    }
    Ok(out)
}

/// Each figure judged over the comparison: a regression (or improvement) at a point or over
/// the whole sweep counts, with its change in % (over the sweep when pooled, else the mean of
/// the points' changes).
fn by_figure(c: &Comparison, v: Verdict) -> Vec<String> {
    let mut names: Vec<&str> = Vec::new();
    for m in c.rows.iter().filter(|r| r.verdict == v).map(|r| r.metric.as_str()) {
        if !names.contains(&m) {
            names.push(m);
        }
    }
    for m in c.pooled.iter().filter(|p| p.verdict == v).map(|p| p.metric.as_str()) {
        if !names.contains(&m) {
            names.push(m);
        }
    }
    names
        .into_iter()
        .map(|m| {
            let pooled = c.pooled.iter().find(|p| p.metric == m).map(|p| p.pooled.change_pct);
            let pcts: Vec<f64> =
                c.rows.iter().filter(|r| r.metric == m).filter_map(|r| r.change_pct).collect();
            let mean = (!pcts.is_empty()).then(|| pcts.iter().sum::<f64>() / pcts.len() as f64);
            match pooled.or(mean) {
                Some(x) => format!("{m} {}%", number::signed(x, 1)),
                None => m.to_owned(),
            }
        })
        .collect()
}

/// The verdict in one line: which value is slower, and in which figures.
fn verdict_line(c: &Comparison, a: &str, b: &str) -> String {
    let (worse, better) = (by_figure(c, Verdict::Regression), by_figure(c, Verdict::Improvement));
    match (worse.is_empty(), better.is_empty()) {
        (true, true) => format!(
            "No significant difference between `{a}` and `{b}` (beyond {}% at {}% confidence).",
            number::fixed(c.threshold_pct, 1),
            number::fixed(c.confidence_pct, 0)
        ),
        (false, true) => {
            format!("Slower: `{b}` (B). Worse than `{a}` in: {}.", worse.join(", "))
        }
        (true, false) => {
            format!("Slower: `{a}` (A). `{b}` is better in: {}.", better.join(", "))
        }
        (false, false) => format!(
            "Mixed: `{b}` is worse than `{a}` in {}, and better in {}.",
            worse.join(", "),
            better.join(", ")
        ),
    }
}

/// `compare_<value>`: the file stem of the comparison of A with one other value (`--output`
/// with three or more values).
pub fn file_stem(c: &Comparison) -> String {
    let b = c.ab.as_ref().map_or("b", |s| s.b.rsplit('=').next().unwrap_or("b"));
    let safe: String = b
        .chars()
        .map(|ch| if ch.is_ascii_alphanumeric() || ch == '.' || ch == '-' { ch } else { '_' })
        .take(60)
        .collect();
    format!("compare_{safe}")
}
