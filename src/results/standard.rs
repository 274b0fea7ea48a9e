//! The per-run standardized JSON, compatible with tt-inference-server's
//! `aiperf_benchmark_{model_id}_{ts}_isl-{isl}_osl-{osl}_maxcon-{c}_n-{n}.json`.
//!
//! Same keys as tt-inference-server, with TPOT and ITL from the right aiperf metrics (see
//! [`crate::results`]), plus a few extra keys (`failed`, `duration`, `tpot_source`...) that tt's
//! readers ignore.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use super::RunResult;
use crate::metrics::{self, Metric, Stat};

/// One standardized record: tt-inference-server's keys in its writer's order, then sweeper's
/// extras. An ordered JSON object (`preserve_order`).
pub type StandardResult = Map<String, Value>;

/// tt-inference-server's statistic prefixes of a distribution metric, in its order.
const TT_STATS: [(&str, Stat); 4] =
    [("mean", Stat::Avg), ("median", Stat::P50), ("p99", Stat::P99), ("std", Stat::Std)];
/// Scalar metrics in tt-inference-server's files, in its order.
const TT_SCALARS: [Metric; 6] = [
    Metric::OutputTokS,
    Metric::TotalTokS,
    Metric::ReqS,
    Metric::Completed,
    Metric::TotalInputTokens,
    Metric::TotalOutputTokens,
];
/// Scalar metrics sweeper adds after them (tt's readers ignore unknown keys).
const EXTRA_SCALARS: [Metric; 2] = [Metric::Errors, Metric::DurationS];

fn int(v: Option<f64>) -> Option<u64> {
    v.filter(|x| x.is_finite() && *x >= 0.0).map(|x| x.round() as u64)
}

/// A scalar as tt writes it: counts (requests, tokens) as integers.
fn scalar_value(metric: Metric, v: Option<f64>) -> Value {
    match metric.def().unit {
        "requests" | "tokens" => json!(int(v)),
        _ => json!(v),
    }
}

fn timestamp(run: &RunResult) -> chrono::NaiveDateTime {
    let ts = run.timestamp.as_deref().unwrap_or_default();
    chrono::DateTime::parse_from_rfc3339(ts)
        .map(|d| d.naive_local())
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(ts, "%Y-%m-%dT%H:%M:%S%.f"))
        .unwrap_or_default()
}

/// The standardized record of a run with metrics, `None` otherwise.
pub fn standard_result(run: &RunResult) -> Option<StandardResult> {
    let m = run.metrics.as_ref()?;
    let model = run.model_id.clone().unwrap_or_else(|| "unknown".into());
    let mut r = Map::new();
    r.insert("date".into(), json!(timestamp(run).format("%Y%m%d-%H%M%S").to_string()));
    r.insert("backend".into(), json!("aiperf"));
    r.insert("model_id".into(), json!(model));
    r.insert("tokenizer_id".into(), json!(run.tokenizer_id.clone().unwrap_or(model)));
    r.insert("num_prompts".into(), json!(int(run.load.num_prompts)));
    r.insert("max_concurrency".into(), json!(int(run.load.concurrency)));
    for d in metrics::distributions() {
        let Some(tt) = d.tt_key else { continue };
        for (prefix, stat) in TT_STATS {
            r.insert(format!("{prefix}_{tt}_{}", d.unit), json!(m.get(d.metric, stat)));
        }
    }
    for metric in TT_SCALARS.into_iter().chain(EXTRA_SCALARS) {
        let key = metric.def().tt_key.unwrap_or(metric.def().key);
        r.insert(key.into(), scalar_value(metric, m.value(metric)));
    }
    r.insert("request_rate".into(), json!(run.load.request_rate));
    r.insert("isl".into(), json!(int(run.load.isl)));
    r.insert("osl".into(), json!(int(run.load.osl)));
    r.insert("tpot_source".into(), json!(Metric::Tpot.def().aiperf));
    r.insert("itl_source".into(), json!(Metric::Itl.def().aiperf));
    Some(r)
}

/// tt-inference-server's file name. Unknown values are written `na`; the model id has `/`
/// replaced by `_`.
pub fn file_name(run: &RunResult) -> String {
    let model: String = run
        .model_id
        .as_deref()
        .unwrap_or("unknown")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' })
        .collect();
    let n = |v: Option<f64>| int(v).map_or_else(|| "na".to_owned(), |x| x.to_string());
    let l = &run.load;
    format!(
        "aiperf_benchmark_{model}_{}_isl-{}_osl-{}_maxcon-{}_n-{}.json",
        timestamp(run).format("%Y-%m-%d_%H-%M-%S"),
        n(l.isl),
        n(l.osl),
        n(l.concurrency),
        n(l.num_prompts)
    )
}

/// Writes the standardized JSON into the run dir (atomically); returns its path, or `None` when
/// nothing was written: the run has no metrics, or the file already holds the same bytes (so
/// re-rendering after every run rewrites only the new run's file).
///
/// A run dir holds at most one such file: any other standardized JSON sweeper wrote there before
/// (whose name changed with the numbers, e.g. `_n-20` then `_n-na`) is removed, and so is the old
/// file of a run that no longer has metrics. tt's dashboards glob these names and would ingest
/// every one. Files sweeper did not write (tt-inference-server's own) are left alone.
pub fn write(run: &RunResult, batch_dir: &Path) -> Result<Option<PathBuf>, String> {
    let dir = run.run_dir(batch_dir);
    let Some(rec) = standard_result(run) else {
        remove_stale(&dir, None)?;
        return Ok(None);
    };
    let path = dir.join(file_name(run));
    let mut bytes = serde_json::to_vec_pretty(&rec)
        .map_err(|e| format!("failed to serialize `{}`: {e}", path.display()))?;
    bytes.push(b'\n');
    let written = if std::fs::read(&path).is_ok_and(|old| old == bytes) {
        None
    } else {
        crate::records::write_derived(&path, &bytes)
            .map_err(|e| format!("failed to write `{}`: {e}", path.display()))?;
        Some(path.clone())
    };
    remove_stale(&dir, Some(&path))?;
    Ok(written)
}

/// The file names of standardized JSON files: what tt's dashboards glob.
fn is_standard_name(name: &str) -> bool {
    name.starts_with("aiperf_benchmark_") && name.ends_with(".json")
}

/// Whether `path` is a standardized JSON sweeper wrote: it carries sweeper's `tpot_source` key,
/// which tt-inference-server's writer does not.
fn written_by_sweeper(path: &Path) -> bool {
    const MAX_BYTES: u64 = 1 << 20;
    if std::fs::metadata(path).map_or(true, |m| !m.is_file() || m.len() > MAX_BYTES) {
        return false;
    }
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .is_some_and(|v| v.get("tpot_source").is_some() && v.get("backend").is_some())
}

/// Removes the standardized JSON files sweeper wrote into `dir`, except `keep`.
fn remove_stale(dir: &Path, keep: Option<&Path>) -> Result<(), String> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("failed to list `{}`: {e}", dir.display())),
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let stale = entry.file_name().to_str().is_some_and(is_standard_name)
            && keep.is_none_or(|k| k != path)
            && written_by_sweeper(&path);
        if stale {
            std::fs::remove_file(&path)
                .map_err(|e| format!("failed to remove the stale `{}`: {e}", path.display()))?;
        }
    }
    Ok(())
}
