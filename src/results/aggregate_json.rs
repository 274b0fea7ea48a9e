//! `profile_export_aiperf.json`: aiperf's aggregate statistics, every statistic optional.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

/// Schema versions of `profile_export_aiperf.json` this parser was checked against.
/// Another version is read the same way, with a warning.
pub const KNOWN_SCHEMA_VERSIONS: &[&str] = &["1.0", "1.1", "1.2", "1.3", "1.4"];

/// One metric entry: its unit and whichever statistics aiperf wrote (`avg`, `p1`..`p99`, `min`,
/// `max`, `std`, `count`, `sum`, or any other numeric field a later aiperf adds).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MetricStats {
    pub unit: String,
    pub stats: BTreeMap<String, f64>,
}

impl MetricStats {
    /// A statistic by name (`avg`, `p99`, `std`...).
    pub fn get(&self, stat: &str) -> Option<f64> {
        self.stats.get(stat).copied()
    }

    /// Multiplier that converts this metric's time unit to milliseconds (1 when not a time unit).
    pub fn to_ms_factor(&self) -> f64 {
        match self.unit.as_str() {
            "ns" => 1e-6,
            "us" | "µs" => 1e-3,
            "s" | "sec" | "seconds" => 1e3,
            _ => 1.0,
        }
    }
}

/// The parsed file. Unknown top-level metrics are kept in `metrics` like the known ones.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AggregateExport {
    pub schema_version: Option<String>,
    pub aiperf_version: Option<String>,
    pub benchmark_id: Option<String>,
    /// Metric tag (`time_to_first_token`) -> statistics.
    pub metrics: BTreeMap<String, MetricStats>,
    /// aiperf's normalised config (`models`, `endpoint`, `datasets`, `phases`...), as is.
    pub input_config: Option<Value>,
    /// `[{"error_details": {...}, "count": n}]`, as is.
    pub error_summary: Vec<Value>,
    pub was_cancelled: Option<bool>,
    pub is_complete: Option<bool>,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    /// Non-fatal remarks (unknown schema version, a metric entry that is not an object...).
    pub warnings: Vec<String>,
}

impl AggregateExport {
    /// `avg` of a metric.
    pub fn avg(&self, tag: &str) -> Option<f64> {
        self.metrics.get(tag).and_then(|m| m.get("avg"))
    }
}

/// Why a `profile_export_aiperf.json` could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AggregateError {
    #[error("failed to read `{path}`: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error(
        "failed to parse `{path}:{line}` (column {column}): {source}\nhint: the file is truncated or corrupt; \
         re-run this combination (`sweeper run --resume`)"
    )]
    Parse { path: PathBuf, line: usize, column: usize, source: serde_json::Error },
    #[error("failed to parse `{path}:1`: expected a JSON object at the top level")]
    NotAnObject { path: PathBuf },
}

/// Like [`read`], memoised per process by (path, size, mtime) for the last [`CACHE_MAX`]
/// files: a run's export is read by the artifact check and again by the results, and a changed
/// file is re-read. Bounded, so reading a batch does not keep every export in memory.
pub fn read_cached(path: &Path) -> Result<std::sync::Arc<AggregateExport>, AggregateError> {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock};
    type Key = (u64, Option<std::time::SystemTime>);
    type Cache = Mutex<HashMap<std::path::PathBuf, (Key, Arc<AggregateExport>)>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let key: Option<Key> = std::fs::metadata(path).ok().map(|m| (m.len(), m.modified().ok()));
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(k) = key
        && let Ok(c) = cache.lock()
        && let Some((ck, v)) = c.get(path)
        && *ck == k
    {
        return Ok(v.clone());
    }
    let v = Arc::new(read(path)?);
    if let Some(k) = key
        && let Ok(mut c) = cache.lock()
    {
        if c.len() >= CACHE_MAX {
            c.clear();
        }
        c.insert(path.to_path_buf(), (k, v.clone()));
    }
    Ok(v)
}

/// Most exports [`read_cached`] keeps.
pub const CACHE_MAX: usize = 16;

/// The aggregate averages a run keeps once read (used after loading: goodput in the Max load
/// section, the measured sequence lengths in tt's files), not the whole export.
pub const KEPT: [&str; 3] = ["goodput", "input_sequence_length", "output_sequence_length"];

/// What a run keeps of its aggregate export: the [`KEPT`] averages.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AggregateSummary {
    avgs: [Option<f64>; KEPT.len()],
}

impl AggregateSummary {
    /// The summary of an export.
    pub fn of(a: &AggregateExport) -> AggregateSummary {
        AggregateSummary { avgs: KEPT.map(|t| a.avg(t)) }
    }

    /// `avg` of a [`KEPT`] metric (`None` for any other).
    pub fn avg(&self, tag: &str) -> Option<f64> {
        KEPT.iter().position(|t| *t == tag).and_then(|i| self.avgs[i])
    }
}

/// Reads and parses `path`.
pub fn read(path: &Path) -> Result<AggregateExport, AggregateError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| AggregateError::Read { path: path.to_path_buf(), source })?;
    parse_str(&text, path)
}

/// Parses the text of a `profile_export_aiperf.json`; `path` only names the file in messages.
pub fn parse_str(text: &str, path: &Path) -> Result<AggregateExport, AggregateError> {
    let value: Value = serde_json::from_str(text).map_err(|e| AggregateError::Parse {
        path: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        source: e,
    })?;
    let Value::Object(map) = value else {
        return Err(AggregateError::NotAnObject { path: path.to_path_buf() });
    };
    let mut out = AggregateExport::default();
    // A schema_version that is there but neither a string nor a number (warned about once).
    let mut mistyped_schema = false;
    for (key, v) in map {
        match key.as_str() {
            "schema_version" => mistyped_schema |= read_schema_version(&mut out, v, path),
            "aiperf_version" => out.aiperf_version = v.as_str().map(str::to_owned),
            "benchmark_id" => out.benchmark_id = v.as_str().map(str::to_owned),
            "input_config" => out.input_config = Some(v),
            "error_summary" => {
                out.error_summary = match v {
                    Value::Array(a) => a,
                    _ => Vec::new(),
                }
            }
            "was_cancelled" => out.was_cancelled = v.as_bool(),
            "is_complete" => out.is_complete = v.as_bool(),
            "start_time" => out.start_time = v.as_str().map(str::to_owned),
            "end_time" => out.end_time = v.as_str().map(str::to_owned),
            "telemetry_data" | "run_info" => {}
            _ => {
                if let Some(stats) = metric_stats(&v) {
                    out.metrics.insert(key, stats);
                }
            }
        }
    }
    if let Some(w) = schema_warning(out.schema_version.as_deref(), mistyped_schema, path) {
        out.warnings.push(w);
    }
    Ok(out)
}

/// Reads `schema_version` into `out`: a string, or a number (`99`, `1.4`) as its text. Anything
/// else is warned about and read as an unknown version: then `true`.
fn read_schema_version(out: &mut AggregateExport, v: Value, path: &Path) -> bool {
    match v {
        Value::String(t) => out.schema_version = Some(t),
        Value::Number(n) => out.schema_version = Some(n.to_string()),
        Value::Null => {}
        other => {
            out.warnings.push(format!(
                "`{}` has schema_version `{}`, neither a string nor a number; reading it \
                 as an unknown version",
                path.display(),
                truncated(&other.to_string(), 40)
            ));
            return true;
        }
    }
    false
}

/// A metric is an object with a `unit`: its numeric fields are its statistics. Anything else
/// unknown is ignored (`None`).
fn metric_stats(v: &Value) -> Option<MetricStats> {
    let Value::Object(m) = v else { return None };
    if !m.contains_key("unit") {
        return None;
    }
    let mut stats = MetricStats {
        unit: m.get("unit").and_then(Value::as_str).unwrap_or_default().to_owned(),
        stats: BTreeMap::new(),
    };
    for (s, x) in m {
        if let Some(f) = x.as_f64() {
            stats.stats.insert(s.clone(), f);
        }
    }
    Some(stats)
}

/// The warning a schema version deserves: none for a known one (or one already warned about as
/// mistyped), else unknown or missing.
fn schema_warning(version: Option<&str>, mistyped: bool, path: &Path) -> Option<String> {
    match version {
        Some(v) if KNOWN_SCHEMA_VERSIONS.contains(&v) => None,
        Some(v) => Some(format!(
            "`{}` has unknown schema_version {}, which sweeper was not checked against (known: \
             {}); reading it anyway",
            path.display(),
            truncated(v, 40),
            KNOWN_SCHEMA_VERSIONS.join(", ")
        )),
        None if mistyped => None,
        None => Some(format!("`{}` has no schema_version", path.display())),
    }
}

/// `s` cut to `n` characters (with `…`), so that a hostile value cannot fill a warning.
fn truncated(s: &str, n: usize) -> String {
    if s.chars().count() <= n { s.to_owned() } else { s.chars().take(n).chain(['…']).collect() }
}
