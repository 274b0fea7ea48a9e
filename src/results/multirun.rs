//! aiperf's `--num-profile-runs N` layout (N >= 2): no top-level export and no ready marker, but
//! `profile_runs/run_000K/` (each a complete single-run export with its own ready marker) and
//! `aggregate/profile_export_aiperf_aggregate.json` (per `<metric>_<stat>`: `mean, std, min, max,
//! cv, se, ci_low, ci_high, t_critical, unit` over the successful runs). aiperf writes the
//! aggregate only when at least 2 runs succeeded (and then exits 0).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{AGGREGATE_JSON_FILE, READY_MARKER_FILE};

pub const PROFILE_RUNS_DIR: &str = "profile_runs";
pub const AGGREGATE_DIR: &str = "aggregate";
pub const MULTI_AGGREGATE_FILE: &str = "profile_export_aiperf_aggregate.json";

/// Whether `dir` holds aiperf's multi-run layout (and not a single run's export).
pub fn is_multi_run(dir: &Path) -> bool {
    dir.join(PROFILE_RUNS_DIR).is_dir() && !dir.join(AGGREGATE_JSON_FILE).exists()
}

/// `profile_runs/run_000K` directories, by label, in order (at most 1000).
pub fn run_dirs(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut v: Vec<(String, PathBuf)> = std::fs::read_dir(dir.join(PROFILE_RUNS_DIR))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let k = name.strip_prefix("run_")?;
            (!k.is_empty() && k.bytes().all(|b| b.is_ascii_digit())).then(|| (name, e.path()))
        })
        .take(1000)
        .collect();
    v.sort();
    v
}

/// Whether one profile run finished: its ready marker says so.
pub fn run_ready(run_dir: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(run_dir.join(READY_MARKER_FILE)) else {
        return false;
    };
    let v: Option<Value> = serde_json::from_str(&text).ok();
    v.as_ref().and_then(|m| m.get("was_cancelled")).and_then(Value::as_bool) != Some(true)
}

/// One `<metric>_<stat>` entry of aiperf's multi-run aggregate.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AggregateStat {
    pub mean: Option<f64>,
    pub std: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub cv: Option<f64>,
    pub se: Option<f64>,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    pub t_critical: Option<f64>,
}

/// `aggregate/profile_export_aiperf_aggregate.json`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MultiAggregate {
    pub confidence_level: Option<f64>,
    pub num_profile_runs: Option<u64>,
    pub num_successful_runs: Option<u64>,
    /// (label, error) of the runs that failed.
    pub failed_runs: Vec<(String, String)>,
    /// `<metric tag>_<stat>` -> its statistics across runs, with the metric's unit.
    pub metrics: BTreeMap<String, (AggregateStat, String)>,
}

impl MultiAggregate {
    /// The statistics across runs of `stat` (`avg`, `p99`...) of metric `tag`.
    pub fn get(&self, tag: &str, stat: &str) -> Option<&(AggregateStat, String)> {
        self.metrics.get(&format!("{tag}_{stat}"))
    }
}

/// Why aiperf's multi-run aggregate could not be read.
#[derive(Debug, thiserror::Error)]
pub enum MultiRunError {
    #[error("failed to read `{path}`: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("failed to parse `{path}` at line {line}, column {column}: {source}")]
    Parse { path: PathBuf, line: usize, column: usize, source: serde_json::Error },
    #[error("`{path}` has no `metrics` object")]
    NoMetrics { path: PathBuf },
}

/// Reads aiperf's multi-run aggregate of the run dir `dir`.
pub fn read_aggregate(dir: &Path) -> Result<MultiAggregate, MultiRunError> {
    let path = dir.join(AGGREGATE_DIR).join(MULTI_AGGREGATE_FILE);
    let text = std::fs::read_to_string(&path)
        .map_err(|source| MultiRunError::Read { path: path.clone(), source })?;
    let v: Value = serde_json::from_str(&text).map_err(|e| MultiRunError::Parse {
        path: path.clone(),
        line: e.line(),
        column: e.column(),
        source: e,
    })?;
    let Some(metrics) = v.get("metrics").and_then(Value::as_object) else {
        return Err(MultiRunError::NoMetrics { path });
    };
    let meta = &v["metadata"];
    let num = |e: &Value, k: &str| e.get(k).and_then(Value::as_f64).filter(|x| x.is_finite());
    let mut out = MultiAggregate {
        confidence_level: num(meta, "confidence_level"),
        num_profile_runs: meta["num_profile_runs"].as_u64(),
        num_successful_runs: meta["num_successful_runs"].as_u64(),
        failed_runs: meta["failed_runs"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| {
                (
                    f["label"].as_str().unwrap_or("?").to_owned(),
                    f["error"].as_str().unwrap_or("failed").to_owned(),
                )
            })
            .collect(),
        metrics: BTreeMap::new(),
    };
    for (k, e) in metrics {
        let s = AggregateStat {
            mean: num(e, "mean"),
            std: num(e, "std"),
            min: num(e, "min"),
            max: num(e, "max"),
            cv: num(e, "cv"),
            se: num(e, "se"),
            ci_low: num(e, "ci_low"),
            ci_high: num(e, "ci_high"),
            t_critical: num(e, "t_critical"),
        };
        let unit = e["unit"].as_str().unwrap_or_default().to_owned();
        out.metrics.insert(k.clone(), (s, unit));
    }
    Ok(out)
}
