//! The per-run standardized JSON, compatible with tt-inference-server's
//! `aiperf_benchmark_{model_id}_{ts}_isl-{isl}_osl-{osl}_maxcon-{c}_n-{n}.json`.
//!
//! Same keys as tt-inference-server, with TPOT and ITL from the right aiperf metrics (see
//! [`crate::results`]), plus a few extra keys (`failed`, `duration`, `tpot_source`...) that tt's
//! readers ignore. Named with tt's model id when the config has a `tt` section (see
//! [`crate::tt`]); a run tt cannot represent (no concurrency, ...) gets no file, never one with
//! `na` in its name.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::model::metrics::{self, Metric, Stat};
use crate::results::RunResult;
use crate::tt::names as tt;

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

/// When the run started: run_metadata.json, else aiperf's `start_time`.
fn started(run: &RunResult) -> Option<chrono::NaiveDateTime> {
    let ts = run.timestamp.as_deref()?;
    chrono::DateTime::parse_from_rfc3339(ts)
        .map(|d| d.naive_local())
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(ts, "%Y-%m-%dT%H:%M:%S%.f"))
        .ok()
}

/// Where a run sits for tt-inference-server: the numbers of its file name and when it started.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TtPoint {
    pub key: tt::Key,
    pub started: chrono::NaiveDateTime,
}

/// The tt point of a run with metrics, or why tt cannot represent it (then sweeper writes no
/// tt file for it: tt's readers skip a name without these four integers, or crash sorting a
/// `null` concurrency).
///
/// ISL and OSL are the requested lengths, else the measured means (tt's own fallback:
/// `total_input_tokens // num_prompts`); N is the requested request count, else the requests
/// aiperf sent; max concurrency has no stand-in: a request-rate run without a concurrency cap
/// has none.
/// Why a run gets no tt file, or its file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum TtError {
    /// tt-inference-server cannot represent the run (why).
    #[error("{0}")]
    NoPoint(String),
    #[error("no tt file for #{index}: {source}")]
    NotConfined { index: usize, source: crate::records::check::TamperError },
    #[error("failed to write `{}`: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
    #[error("failed to list `{}`: {source}", dir.display())]
    List { dir: PathBuf, source: std::io::Error },
    #[error("failed to remove the stale `{}`: {source}", path.display())]
    Remove { path: PathBuf, source: std::io::Error },
}

pub fn tt_point(run: &RunResult) -> Result<TtPoint, TtError> {
    let Some(m) = run.metrics.as_ref() else {
        return Err(TtError::NoPoint("it has no results".into()));
    };
    let measured = |tag: &str| run.aggregate.as_ref().and_then(|a| a.avg(tag));
    let l = &run.load;
    let sent = match (m.value(Metric::Completed), m.value(Metric::Errors)) {
        (Some(c), e) => Some(c + e.unwrap_or(0.0)),
        _ => None,
    };
    if l.concurrency.is_none() {
        return Err(TtError::NoPoint(match l.request_rate {
            Some(r) => format!(
                "tt keys results by max concurrency, and this request-rate run ({r} req/s) has no concurrency cap; set `concurrency` with `request_rate` to get a tt file"
            ),
            None => "tt keys results by max concurrency, and this run has none".into(),
        }));
    }
    let mut missing = Vec::new();
    let mut count = |name: &'static str, v: Option<f64>| match v {
        Some(x) if (0.5..1e15).contains(&x) => x.round() as u64,
        Some(x) => {
            let shown = if x.abs() < 1e15 { format!("{x}") } else { format!("{x:.3e}") };
            missing.push(format!("{name} {shown} is not a count tt can write"));
            0
        }
        None => {
            missing.push(format!("no {name} is recorded"));
            0
        }
    };
    let key = tt::Key {
        isl: count("isl", l.isl.or_else(|| measured("input_sequence_length"))),
        osl: count("osl", l.osl.or_else(|| measured("output_sequence_length"))),
        max_concurrency: count("concurrency", l.concurrency),
        num_prompts: count("request count", l.num_prompts.or(sent)),
    };
    if !missing.is_empty() {
        return Err(TtError::NoPoint(format!(
            "tt's file name needs whole numbers: {}",
            missing.join(", ")
        )));
    }
    let Some(started) = started(run) else {
        return Err(TtError::NoPoint(
            "tt's file name carries the start time, and this run records none".into(),
        ));
    };
    Ok(TtPoint { key, started })
}

/// The standardized record of a run tt can represent, `None` otherwise.
pub fn standard_result(run: &RunResult) -> Option<StandardResult> {
    let m = run.metrics.as_ref()?;
    let p = tt_point(run).ok()?;
    let model = run.model_id.clone().unwrap_or_else(|| "unknown".into());
    let mut r = Map::new();
    r.insert("date".into(), json!(p.started.format("%Y%m%d-%H%M%S").to_string()));
    r.insert("backend".into(), json!("aiperf"));
    r.insert("model_id".into(), json!(model));
    r.insert("tokenizer_id".into(), json!(run.tokenizer_id.clone().unwrap_or(model)));
    r.insert("num_prompts".into(), json!(p.key.num_prompts));
    r.insert("max_concurrency".into(), json!(p.key.max_concurrency));
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
    r.insert("isl".into(), json!(p.key.isl));
    r.insert("osl".into(), json!(p.key.osl));
    r.insert("tpot_source".into(), json!(Metric::Tpot.def().aiperf));
    r.insert("itl_source".into(), json!(Metric::Itl.def().aiperf));
    Some(r)
}

/// The model id part of the file name: tt's model id when the config names it (`tt` section),
/// else the served model with `/` and other unsafe characters replaced by `_`.
fn name_model(run: &RunResult, tt_model_id: Option<&str>) -> String {
    if let Some(id) = tt_model_id {
        return id.to_owned();
    }
    run.model_id
        .as_deref()
        .unwrap_or("unknown")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' })
        .collect()
}

/// tt-inference-server's file name of a run, or why tt cannot represent the run.
pub fn file_name(run: &RunResult, tt_model_id: Option<&str>) -> Result<String, TtError> {
    let p = tt_point(run)?;
    Ok(tt::file_name(&name_model(run, tt_model_id), p.started, &p.key))
}

/// The record and file name of a run tt can represent.
pub fn tt_file(
    run: &RunResult,
    tt_model_id: Option<&str>,
) -> Result<(String, StandardResult), TtError> {
    let name = file_name(run, tt_model_id)?;
    let rec = standard_result(run).ok_or_else(|| TtError::NoPoint("it has no results".into()))?;
    Ok((name, rec))
}

/// The bytes sweeper writes for a record.
pub fn to_bytes(rec: &StandardResult) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(rec).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

/// Writes the standardized JSON into the run dir (atomically); returns its path, or `None` when
/// nothing was written: the run has no metrics, or the file already holds the same bytes (so
/// re-rendering after every run rewrites only the new run's file).
///
/// A run dir holds at most one such file: any other standardized JSON sweeper wrote there before
/// (whose name changed with the numbers, e.g. `_n-20` then `_n-na`) is removed, and so is the old
/// file of a run that no longer has metrics. tt's dashboards glob these names and would ingest
/// every one. Files sweeper did not write (tt-inference-server's own) are left alone.
pub fn write(
    run: &RunResult,
    batch_dir: &Path,
    tt_model_id: Option<&str>,
) -> Result<Option<PathBuf>, TtError> {
    // Never written through a symlink, out of the batch.
    let dir = crate::records::check::confined(batch_dir, run.index, &run.dir)
        .map_err(|source| TtError::NotConfined { index: run.index, source })?;
    // Only a run that succeeded: tt-inference-server would report a failed run's numbers.
    if !run.status.is_success() {
        remove_stale(&dir, None)?;
        return Ok(None);
    }
    let Ok((name, rec)) = tt_file(run, tt_model_id) else {
        remove_stale(&dir, None)?;
        return Ok(None);
    };
    let path = dir.join(name);
    let bytes = to_bytes(&rec);
    let written = if std::fs::read(&path).is_ok_and(|old| old == bytes) {
        None
    } else {
        crate::records::write_derived(&path, &bytes)
            .map_err(|source| TtError::Write { path: path.clone(), source })?;
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
pub fn written_by_sweeper(path: &Path) -> bool {
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
fn remove_stale(dir: &Path, keep: Option<&Path>) -> Result<(), TtError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => return Err(TtError::List { dir: dir.to_path_buf(), source }),
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let stale = entry.file_name().to_str().is_some_and(is_standard_name)
            && keep.is_none_or(|k| k != path)
            && written_by_sweeper(&path);
        if stale {
            std::fs::remove_file(&path)
                .map_err(|source| TtError::Remove { path: path.clone(), source })?;
        }
    }
    Ok(())
}
