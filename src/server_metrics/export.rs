//! aiperf's server-metrics export of one run (`server_metrics_export.json`, schema 1.x): the
//! profiling window's metrics, each with its series (endpoint, labels, statistics).
//!
//! The file's top-level `metrics` are the profiling window's (`metrics_phase`); a warmup's are
//! apart (`warmup_metrics`) and never read. Without the top-level file, the per-phase copy
//! `phases/profiling/server_metrics.json` is read instead.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::names::Kind;

/// The export file in a run directory.
pub const EXPORT_FILE: &str = "server_metrics_export.json";
/// The profiling phase's copy, written when a warmup ran.
pub const PROFILING_PHASE_FILE: &str = "phases/profiling/server_metrics.json";

/// One series of a metric: one endpoint and label set.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct Series {
    #[serde(default)]
    pub endpoint_url: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, serde_json::Value>,
    /// `avg`, `max`, `p99` (gauges); `total`, `rate` (counters); `count`, `sum`, `avg`,
    /// `p99_estimate` (histograms). Non-numbers are dropped.
    #[serde(default, deserialize_with = "numbers")]
    pub stats: BTreeMap<String, f64>,
}

/// One metric of the export.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct MetricEntry {
    /// `gauge`, `counter`, `histogram` (anything else is kept as raw text).
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub unit: Option<String>,
    #[serde(default)]
    pub series: Vec<Series>,
}

impl MetricEntry {
    /// Its type, when sweeper knows it.
    pub fn kind(&self) -> Option<Kind> {
        match self.kind.as_str() {
            "gauge" => Some(Kind::Gauge),
            "counter" => Some(Kind::Counter),
            "histogram" => Some(Kind::Histogram),
            _ => None,
        }
    }
}

/// The profiling window's metrics of one run, by name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Export {
    pub metrics: BTreeMap<String, MetricEntry>,
    /// The endpoints aiperf scraped successfully.
    pub endpoints: Vec<String>,
}

#[derive(Deserialize)]
struct TopLevel {
    #[serde(default)]
    metrics_phase: Option<String>,
    #[serde(default)]
    metrics: BTreeMap<String, MetricEntry>,
    #[serde(default)]
    summary: Option<Summary>,
}

#[derive(Deserialize)]
struct Summary {
    #[serde(default)]
    endpoints_successful: Vec<String>,
}

#[derive(Deserialize)]
struct PhaseFile {
    data: PhaseData,
}

#[derive(Deserialize)]
struct PhaseData {
    #[serde(default)]
    endpoint_summaries: BTreeMap<String, EndpointSummary>,
    #[serde(default)]
    endpoints_successful: Vec<String>,
}

#[derive(Deserialize)]
struct EndpointSummary {
    #[serde(default)]
    endpoint_url: Option<String>,
    #[serde(default)]
    metrics: BTreeMap<String, MetricEntry>,
}

fn numbers<'de, D: serde::Deserializer<'de>>(d: D) -> Result<BTreeMap<String, f64>, D::Error> {
    let raw: BTreeMap<String, serde_json::Value> = BTreeMap::deserialize(d)?;
    Ok(raw
        .into_iter()
        .filter_map(|(k, v)| v.as_f64().filter(|x| x.is_finite()).map(|x| (k, x)))
        .collect())
}

/// Why a run's server-metrics export could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("failed to read `{path}`: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("failed to parse `{path}` as aiperf's server-metrics export: {source}")]
    Parse { path: String, source: serde_json::Error },
    #[error("`{path}` holds the {phase} window's server metrics, not the profiling window's")]
    NotProfiling { path: String, phase: String },
}

/// The run's export: `Ok(None)` when aiperf wrote none (server metrics off, or no endpoint
/// answered).
///
/// # Errors
/// When a file is there but unreadable or not an export.
pub fn read(run_dir: &Path) -> Result<Option<Export>, ExportError> {
    let top = run_dir.join(EXPORT_FILE);
    if top.is_file() {
        return parse_top(&top).map(Some);
    }
    let phase = run_dir.join(PROFILING_PHASE_FILE);
    if phase.is_file() {
        return parse_phase(&phase).map(Some);
    }
    Ok(None)
}

fn text(path: &Path) -> Result<String, ExportError> {
    std::fs::read_to_string(path)
        .map_err(|source| ExportError::Read { path: path.display().to_string(), source })
}

/// The top-level export file.
///
/// # Errors
/// When unreadable, not an export, or of another window than profiling.
pub fn parse_top(path: &Path) -> Result<Export, ExportError> {
    let t: TopLevel = serde_json::from_str(&text(path)?)
        .map_err(|source| ExportError::Parse { path: path.display().to_string(), source })?;
    if let Some(phase) = t.metrics_phase.filter(|p| p != "profiling") {
        return Err(ExportError::NotProfiling { path: path.display().to_string(), phase });
    }
    let mut endpoints = t.summary.map(|s| s.endpoints_successful).unwrap_or_default();
    if endpoints.is_empty() {
        endpoints = endpoints_of(&t.metrics);
    }
    Ok(Export { metrics: t.metrics, endpoints })
}

/// A per-phase copy: each endpoint's metrics, with the endpoint put on every series.
///
/// # Errors
/// When unreadable or not a phase file.
pub fn parse_phase(path: &Path) -> Result<Export, ExportError> {
    let p: PhaseFile = serde_json::from_str(&text(path)?)
        .map_err(|source| ExportError::Parse { path: path.display().to_string(), source })?;
    let mut metrics: BTreeMap<String, MetricEntry> = BTreeMap::new();
    for (key, e) in p.data.endpoint_summaries {
        let url = e.endpoint_url.unwrap_or(key);
        for (name, mut m) in e.metrics {
            for s in &mut m.series {
                s.endpoint_url.get_or_insert_with(|| url.clone());
            }
            match metrics.get_mut(&name) {
                Some(have) => have.series.extend(m.series),
                None => {
                    metrics.insert(name, m);
                }
            }
        }
    }
    let endpoints = p.data.endpoints_successful;
    Ok(Export { metrics, endpoints })
}

fn endpoints_of(metrics: &BTreeMap<String, MetricEntry>) -> Vec<String> {
    let mut v: Vec<String> = metrics
        .values()
        .flat_map(|m| m.series.iter().filter_map(|s| s.endpoint_url.clone()))
        .collect();
    v.sort();
    v.dedup();
    v
}
