//! `profile_export_aiperf.json`: aiperf's aggregate statistics, every statistic optional.

use std::borrow::Cow;
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
    /// The statistics by name; aiperf's usual names are static strings, not a copy per metric.
    pub stats: BTreeMap<Cow<'static, str>, f64>,
}

/// The statistic names aiperf 0.13 writes, kept without an allocation.
const STAT_NAMES: [&str; 16] = [
    "avg", "min", "max", "std", "count", "sum", "p1", "p5", "p10", "p25", "p50", "p75", "p90",
    "p95", "p99", "p999",
];

/// A statistic's name as [`MetricStats::stats`] keeps it.
fn stat_name(name: &str) -> Cow<'static, str> {
    STAT_NAMES
        .iter()
        .find(|n| **n == name)
        .map_or_else(|| Cow::Owned(name.to_owned()), |n| Cow::Borrowed(*n))
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

/// Like [`read_used`], memoised per process by (path, size, mtime) for the last [`CACHE_MAX`]
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
    let v = Arc::new(read_used(path)?);
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

/// Like [`read`], keeping only the metrics sweeper reads ([`is_used`]; aiperf 0.13 writes ~70,
/// sweeper's results take ~20): the others are read past, still checked as JSON. The same
/// errors and warnings as [`read`] for the same file.
pub fn read_used(path: &Path) -> Result<AggregateExport, AggregateError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| AggregateError::Read { path: path.to_path_buf(), source })?;
    parse_keeping(&text, path, &|key| NAMED.contains(&key) || is_used(key))
}

/// Whether sweeper reads the metric `tag` of an export: the metric table's ([`METRICS`]), the
/// older name of the output token total, the request counts the artifact check judges by, and
/// the [`KEPT`] averages.
///
/// [`METRICS`]: crate::model::metrics::METRICS
pub fn is_used(tag: &str) -> bool {
    ["total_output_tokens", "request_count", "error_request_count"].contains(&tag)
        || KEPT.contains(&tag)
        || crate::model::metrics::METRICS.iter().any(|d| d.aiperf == Some(tag))
}

/// The two counts that judge a run (`request_count` and `error_request_count`, their `avg`s),
/// read from `path` the way [`read`] would (the same errors for the same files) without
/// building the export: the check between two runs reads only these.
pub fn read_counts(path: &Path) -> Result<(Option<f64>, Option<f64>), AggregateError> {
    const COUNTS: &[&str] = &["request_count", "error_request_count"];
    let text = std::fs::read_to_string(path)
        .map_err(|source| AggregateError::Read { path: path.to_path_buf(), source })?;
    let entries = top_level(&text, path, &|key| COUNTS.contains(&key))?;
    let avg = |tag: &str| match entries.get(tag) {
        Some(Entry::Metric(Some(m))) => m.get("avg"),
        _ => None,
    };
    Ok((avg(COUNTS[0]), avg(COUNTS[1])))
}

/// Parses the text of a `profile_export_aiperf.json`; `path` only names the file in messages.
pub fn parse_str(text: &str, path: &Path) -> Result<AggregateExport, AggregateError> {
    parse_keeping(text, path, &|_| true)
}

/// [`parse_str`], keeping the top-level entries whose key `keep` accepts.
fn parse_keeping(
    text: &str,
    path: &Path,
    keep: &dyn Fn(&str) -> bool,
) -> Result<AggregateExport, AggregateError> {
    let mut out = AggregateExport::default();
    // A schema_version that is there but neither a string nor a number (warned about once).
    let mut mistyped_schema = false;
    for (key, entry) in top_level(text, path, keep)? {
        let v = match entry {
            Entry::Metric(Some(stats)) => {
                out.metrics.insert(key, stats);
                continue;
            }
            Entry::Metric(None) => continue,
            Entry::Named(v) => v,
        };
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
            _ => {}
        }
    }
    if let Some(w) = schema_warning(out.schema_version.as_deref(), mistyped_schema, path) {
        out.warnings.push(w);
    }
    Ok(out)
}

/// The top-level keys that are not metrics: kept as JSON values.
const NAMED: &[&str] = &[
    "schema_version",
    "aiperf_version",
    "benchmark_id",
    "input_config",
    "error_summary",
    "was_cancelled",
    "is_complete",
    "start_time",
    "end_time",
];
/// Top-level keys read past (still checked as JSON).
const SKIPPED: &[&str] = &["telemetry_data", "run_info"];

/// A top-level entry as the streaming parse keeps it.
enum Entry {
    /// One of [`NAMED`], as is.
    Named(Value),
    /// Anything else: a metric's statistics (None: not a metric, see [`MetricSeed`]).
    Metric(Option<MetricStats>),
}

/// The top level of an export, streamed: metrics become their statistics as they are read,
/// without a JSON tree of the file (what made reading it slow); [`SKIPPED`] keys and those
/// `keep` refuses are only checked. A later duplicate key wins, as in a JSON object.
/// The same errors as parsing the whole text as JSON: bad syntax, trailing text, not an object.
fn top_level(
    text: &str,
    path: &Path,
    keep: &dyn Fn(&str) -> bool,
) -> Result<BTreeMap<String, Entry>, AggregateError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let top = serde::Deserializer::deserialize_any(&mut de, TopVisitor { keep })
        .and_then(|t| de.end().map(|()| t));
    match top {
        Ok(Some(entries)) => Ok(entries),
        Ok(None) => Err(AggregateError::NotAnObject { path: path.to_path_buf() }),
        Err(e) => Err(AggregateError::Parse {
            path: path.to_path_buf(),
            line: e.line(),
            column: e.column(),
            source: e,
        }),
    }
}

/// The visitor methods for a JSON value that is not an object: it is read past (so its syntax
/// is still checked) and the visit gives `None`.
macro_rules! not_an_object {
    ($de:lifetime) => {
        fn visit_seq<A: serde::de::SeqAccess<$de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    };
}

/// Visits the top level for [`top_level`]: None for JSON that is not an object.
struct TopVisitor<'a> {
    keep: &'a dyn Fn(&str) -> bool,
}

impl<'de> serde::de::Visitor<'de> for TopVisitor<'_> {
    type Value = Option<BTreeMap<String, Entry>>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = BTreeMap::new();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            let key = key.as_ref();
            if !(self.keep)(key) || SKIPPED.contains(&key) {
                map.next_value::<serde::de::IgnoredAny>()?;
                continue;
            }
            let entry = if NAMED.contains(&key) {
                Entry::Named(map.next_value()?)
            } else {
                Entry::Metric(map.next_value::<MetricSeed>()?.0)
            };
            out.insert(key.to_owned(), entry);
        }
        Ok(Some(out))
    }

    not_an_object!('de);
}

/// A metric: an object with a `unit`, whose numeric fields are its statistics (a later duplicate
/// field wins); anything else is None (not a metric: ignored).
struct MetricSeed(Option<MetricStats>);

impl<'de> serde::Deserialize<'de> for MetricSeed {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(MetricVisitor).map(MetricSeed)
    }
}

struct MetricVisitor;

impl<'de> serde::de::Visitor<'de> for MetricVisitor {
    type Value = Option<MetricStats>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut stats = MetricStats::default();
        let mut has_unit = false;
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            let v: Field = map.next_value()?;
            if key == "unit" {
                has_unit = true;
                stats.unit = match &v {
                    Field::Str(u) => u.clone(),
                    _ => String::new(),
                };
            }
            match v {
                Field::Num(f) => {
                    stats.stats.insert(stat_name(&key), f);
                }
                _ => {
                    stats.stats.remove(key.as_ref());
                }
            }
        }
        Ok(has_unit.then_some(stats))
    }

    not_an_object!('de);
}

/// An object's key, borrowed from the text when it has no escapes (serde's `Cow` copies).
struct Key<'de>(Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> serde::de::Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// A field of a metric as its statistics need it, without a JSON tree: a number (as
/// `serde_json::Value::as_f64` reads it), a string (the `unit`), or anything else (read past).
enum Field {
    Num(f64),
    Str(String),
    Other,
}

impl<'de> serde::Deserialize<'de> for Field {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(FieldVisitor)
    }
}

struct FieldVisitor;

impl<'de> serde::de::Visitor<'de> for FieldVisitor {
    type Value = Field;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Field, E> {
        Ok(Field::Other)
    }
    #[expect(clippy::cast_precision_loss, reason = "as serde_json's Value::as_f64 reads it")]
    fn visit_i64<E>(self, v: i64) -> Result<Field, E> {
        Ok(Field::Num(v as f64))
    }
    #[expect(clippy::cast_precision_loss, reason = "as serde_json's Value::as_f64 reads it")]
    fn visit_u64<E>(self, v: u64) -> Result<Field, E> {
        Ok(Field::Num(v as f64))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Field, E> {
        Ok(Field::Num(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Field, E> {
        Ok(Field::Str(v.to_owned()))
    }
    fn visit_unit<E>(self) -> Result<Field, E> {
        Ok(Field::Other)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Field, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(Field::Other)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Field, A::Error> {
        while map.next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?.is_some() {}
        Ok(Field::Other)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// What the streaming parse replaced: the whole file as a JSON tree, then each entry.
    fn parse_as_tree(text: &str, path: &Path) -> Result<AggregateExport, AggregateError> {
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
                    let Value::Object(m) = &v else { continue };
                    if !m.contains_key("unit") {
                        continue;
                    }
                    let unit = m.get("unit").and_then(Value::as_str).unwrap_or_default();
                    let mut stats = MetricStats { unit: unit.to_owned(), stats: BTreeMap::new() };
                    for (s, x) in m {
                        if let Some(f) = x.as_f64() {
                            stats.stats.insert(stat_name(s), f);
                        }
                    }
                    out.metrics.insert(key, stats);
                }
            }
        }
        if let Some(w) = schema_warning(out.schema_version.as_deref(), mistyped_schema, path) {
            out.warnings.push(w);
        }
        Ok(out)
    }

    /// Every real export in the fixtures, and hostile ones.
    fn cases() -> Vec<String> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let mut files = Vec::new();
        let mut stack = vec![root];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.file_name().is_some_and(|n| n == "profile_export_aiperf.json") {
                    files.push(std::fs::read_to_string(&p).unwrap());
                }
            }
        }
        assert!(files.len() >= 5, "only {} fixture exports", files.len());
        let m = |body: &str| format!("{{\"request_count\": {body}}}");
        files.extend(
            [
                "{}",
                "[]",
                "[1, {\"request_count\": {\"unit\": \"requests\", \"avg\": 3}}]",
                "\"text\"",
                "null",
                "7",
                "",
                "{\"request_count\": {\"unit\": \"requests\", \"avg\": 3}",
                "{\"request_count\": {\"unit\": \"requests\", \"avg\": 3}} trailing",
                "{\"request_count\": {\"unit\": \"requests\", \"avg\": 3}, \"request_count\": {\"unit\": \"requests\", \"avg\": 5}}",
                "{\"request_count\": {\"unit\": \"r\", \"avg\": 3}, \"request_count\": 4}",
                "{\"request\\u005fcount\": {\"unit\": \"requests\", \"avg\": 4}, \"error_request_count\": {\"unit\": \"requests\", \"avg\": 2.0}}",
                // Statistic names escaped, unknown, or given twice (the later wins).
                "{\"time_to_first_token\": {\"unit\": \"ms\", \"p\\u0039\\u0039\": 3, \"a\\u0076g\": 1, \"p42\": 2, \"avg\": 5}}",
                "{\"schema_version\": [1], \"schema_version\": \"1.4\", \"telemetry_data\": {\"a\": [1, 2]}}",
                "{\"schema_version\": 99, \"run_info\": null, \"error_summary\": {}, \"was_cancelled\": 1}",
                "{\"telemetry_data\": {\"a\": [1, 2}}",
            ]
            .map(str::to_owned),
        );
        for body in [
            "{\"avg\": 3}",
            "{\"unit\": 5, \"avg\": 3}",
            "{\"unit\": \"ms\", \"avg\": \"3\"}",
            "{\"unit\": \"ms\", \"avg\": 3, \"avg\": \"x\"}",
            "{\"unit\": \"ms\", \"avg\": \"x\", \"avg\": 3}",
            "{\"unit\": \"ms\", \"unit\": null, \"p99\": -1e308, \"n\": {\"x\": 1}}",
            "{\"unit\": \"ms\", \"max\": 18446744073709551615, \"min\": -9223372036854775808}",
            "[1, 2]",
            "\"ms\"",
            "null",
        ] {
            files.push(m(body));
        }
        files
    }

    /// The streaming parse reads every export as the JSON tree did (and fails where it failed).
    #[test]
    fn streaming_parse_agrees_with_the_json_tree() {
        let path = Path::new("profile_export_aiperf.json");
        for text in cases() {
            let tree = parse_as_tree(&text, path);
            let streamed = parse_str(&text, path);
            match (&tree, &streamed) {
                (Ok(t), Ok(s)) => assert_eq!(t, s, "{text}"),
                (Err(t), Err(s)) => assert_eq!(t.to_string(), s.to_string(), "{text}"),
                _ => panic!("{text}: {tree:?} / {streamed:?}"),
            }
        }
    }

    /// What the results read of an export: every named field and used metric as the full read
    /// has them, no other metric, the same errors and warnings.
    #[test]
    fn read_used_keeps_what_the_results_read() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("profile_export_aiperf.json");
        let mut dropped = 0;
        for text in cases() {
            std::fs::write(&path, &text).unwrap();
            match (read(&path), read_used(&path)) {
                (Ok(mut full), Ok(used)) => {
                    let before = full.metrics.len();
                    full.metrics.retain(|tag, _| is_used(tag));
                    dropped += before - full.metrics.len();
                    assert_eq!(full, used, "{text}");
                }
                (Err(f), Err(u)) => assert_eq!(f.to_string(), u.to_string(), "{text}"),
                (f, u) => panic!("{text}: {f:?} / {u:?}"),
            }
        }
        // The real exports hold metrics sweeper does not read; the ones it reads are there.
        assert!(dropped > 100, "{dropped}");
        let fake = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/fake-aiperf/artifacts/profile_export_aiperf.json"
        );
        let used = read_used(Path::new(fake)).unwrap();
        for tag in ["time_to_first_token", "inter_token_latency", "request_count", "goodput"]
            .iter()
            .filter(|t| read(Path::new(fake)).unwrap().metrics.contains_key(**t))
        {
            assert!(used.metrics.contains_key(*tag), "{tag}");
        }
        assert!(!used.metrics.contains_key("http_req_blocked"));
        assert!(used.input_config.is_some());
    }

    /// The check between runs reads two counts; it must judge every file as the full read does.
    #[test]
    fn read_counts_agrees_with_read() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("profile_export_aiperf.json");
        for text in cases() {
            std::fs::write(&path, &text).unwrap();
            let full = read(&path).map(|a| (a.avg("request_count"), a.avg("error_request_count")));
            match (&full, &read_counts(&path)) {
                (Ok(f), Ok(l)) => assert_eq!(f, l, "{text}"),
                (Err(f), Err(l)) => assert_eq!(f.to_string(), l.to_string(), "{text}"),
                (f, l) => panic!("{text}: {f:?} / {l:?}"),
            }
        }
        // The fake aiperf's export: 20 requests, none failed.
        let fake = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/fake-aiperf/artifacts/profile_export_aiperf.json"
        );
        let (requests, errors) = read_counts(Path::new(fake)).unwrap();
        assert_eq!(requests, Some(20.0));
        assert!(errors.is_none_or(|e| e == 0.0), "{errors:?}");
    }
}
