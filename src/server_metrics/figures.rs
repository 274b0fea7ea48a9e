//! A run's canonical server figures from its export ([`ServerFigures`]), and a point's over its
//! repeats, with their means and confidence intervals ([`ServerSummary`]).

use std::collections::BTreeMap;

use serde::Serialize;

use super::export::{Export, MetricEntry};
use super::names::{FIGURES, Kind, MAPPINGS, Mapping, Quantity, Take};
use crate::stats::confidence::Spread;

/// At most this many raw metrics are kept of a server sweeper has no names for.
pub const RAW_MAX: usize = 200;

/// A metric of a server sweeper has no names for, summarised over the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RawMetric {
    pub name: String,
    /// `gauge`, `counter`, `histogram`...
    pub kind: String,
    pub unit: Option<String>,
    /// Gauge: mean and largest scrape (summed over series). Counter: change over the window.
    /// Histogram: observations and their mean.
    pub avg: Option<f64>,
    pub max: Option<f64>,
    pub total: Option<f64>,
    pub count: Option<f64>,
}

/// One run's canonical figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ServerFigures {
    /// The servers whose names were found (`vllm`), in table order.
    pub servers: Vec<&'static str>,
    /// One per [`FIGURES`] entry, in order.
    pub values: Vec<Option<f64>>,
    /// Every metric, summarised, when no name of the table was found (an unknown server).
    pub raw: Vec<RawMetric>,
}

impl ServerFigures {
    /// The figures of an export.
    pub fn of(export: &Export) -> ServerFigures {
        let mut servers: Vec<&'static str> = Vec::new();
        let mut found: BTreeMap<Quantity, (&'static Mapping, &MetricEntry)> = BTreeMap::new();
        for m in MAPPINGS {
            let key = m.quantity;
            if found.contains_key(&key) {
                continue;
            }
            // Prefix queries are read from the same server as the hits they divide.
            if m.quantity == Quantity::PrefixQueries
                && let Some((hits, _)) = found.get(&Quantity::PrefixHits)
                && hits.server != m.server
            {
                continue;
            }
            if let Some(e) = export.metrics.get(m.name).filter(|e| kind_fits(e, m.kind)) {
                found.insert(key, (m, e));
                if !servers.contains(&m.server) {
                    servers.push(m.server);
                }
            }
        }
        let values = FIGURES
            .iter()
            .map(|f| {
                let get = |q: Quantity| found.get(&q).copied();
                match f.take {
                    Take::HitRate => {
                        let hits = get(Quantity::PrefixHits).and_then(|(m, e)| total(m, e))?;
                        let queries =
                            get(Quantity::PrefixQueries).and_then(|(m, e)| total(m, e))?;
                        (queries > 0.0).then(|| 100.0 * hits / queries)
                    }
                    take => get(f.quantity).and_then(|(m, e)| take_of(m, e, take)),
                }
            })
            .map(|v| v.filter(|x| x.is_finite()))
            .collect();
        let raw = if servers.is_empty() { raw_of(export) } else { Vec::new() };
        ServerFigures { servers, values, raw }
    }

    /// The figure keyed `key` (see [`FIGURES`]).
    pub fn get(&self, key: &str) -> Option<f64> {
        let i = FIGURES.iter().position(|f| f.key == key)?;
        self.values.get(i).copied().flatten()
    }
}

fn kind_fits(e: &MetricEntry, want: Kind) -> bool {
    e.kind().is_none_or(|k| k == want)
}

fn stat_sum(e: &MetricEntry, stat: &str) -> Option<f64> {
    let v: Vec<f64> = e.series.iter().filter_map(|s| s.stats.get(stat).copied()).collect();
    (!v.is_empty()).then(|| v.iter().sum())
}

fn stat_max(e: &MetricEntry, stat: &str) -> Option<f64> {
    e.series.iter().filter_map(|s| s.stats.get(stat).copied()).reduce(f64::max)
}

fn stat_mean(e: &MetricEntry, stat: &str) -> Option<f64> {
    let v: Vec<f64> = e.series.iter().filter_map(|s| s.stats.get(stat).copied()).collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// A counter's change over the window, or a (token) histogram's sum, summed over series.
fn total(m: &Mapping, e: &MetricEntry) -> Option<f64> {
    let raw = match m.kind {
        Kind::Counter => stat_sum(e, "total"),
        Kind::Histogram => stat_sum(e, "sum"),
        Kind::Gauge => None,
    }?;
    Some(raw * m.scale)
}

/// One figure of a quantity. Request counts add up over series (engines, endpoints); the KV
/// cache's use is their mean (`Avg`) or the fullest (`Max`).
fn take_of(m: &Mapping, e: &MetricEntry, take: Take) -> Option<f64> {
    let share = m.quantity == Quantity::KvCache;
    let v = match take {
        Take::Avg if share => stat_mean(e, "avg"),
        Take::Avg => stat_sum(e, "avg"),
        Take::Max if share => stat_max(e, "max"),
        Take::Max => stat_sum(e, "max"),
        Take::Total => return total(m, e),
        Take::HistAvg => {
            let count = stat_sum(e, "count")?;
            (count > 0.0).then_some(stat_sum(e, "sum")? / count)
        }
        Take::HistP99 => stat_max(e, "p99_estimate"),
        Take::HitRate => None,
    }?;
    Some(v * m.scale)
}

fn raw_of(export: &Export) -> Vec<RawMetric> {
    export
        .metrics
        .iter()
        .take(RAW_MAX)
        .map(|(name, e)| {
            let hist = e.kind() == Some(Kind::Histogram);
            RawMetric {
                name: name.clone(),
                kind: e.kind.clone(),
                unit: e.unit.clone(),
                avg: if hist {
                    stat_sum(e, "count")
                        .filter(|c| *c > 0.0)
                        .and_then(|c| Some(stat_sum(e, "sum")? / c))
                } else {
                    stat_sum(e, "avg")
                },
                max: if hist { None } else { stat_sum(e, "max") },
                total: if hist { stat_sum(e, "sum") } else { stat_sum(e, "total") },
                count: if hist { stat_sum(e, "count") } else { None },
            }
        })
        .collect()
}

/// A figure of a point: its mean over the runs that measured it and, with 2 or more, the
/// confidence interval of that mean.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FigureValue {
    pub mean: f64,
    /// Runs with a value.
    pub n: usize,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
}

/// A point's server figures: one run's, or the means of its repeats'.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ServerSummary {
    /// The servers whose names were found (`vllm`).
    pub servers: Vec<&'static str>,
    /// Runs with a server-metrics export.
    pub runs: usize,
    /// By figure key (`waiting_avg`), those measured.
    pub figures: BTreeMap<&'static str, FigureValue>,
    /// Every metric of an unknown server (its first run's).
    pub raw: Vec<RawMetric>,
}

impl ServerSummary {
    /// The summary of a point's runs (`None` when none had an export).
    pub fn of(runs: &[ServerFigures], confidence: f64) -> Option<ServerSummary> {
        let first = runs.first()?;
        let mut figures = BTreeMap::new();
        for (i, f) in FIGURES.iter().enumerate() {
            let v: Vec<f64> =
                runs.iter().filter_map(|r| r.values.get(i).copied().flatten()).collect();
            if v.is_empty() {
                continue;
            }
            let spread = Spread::of(&v, confidence);
            let mean = spread.map_or(v[0], |s| s.mean);
            figures.insert(
                f.key,
                FigureValue {
                    mean,
                    n: v.len(),
                    ci_low: spread.map(|s| s.ci_low),
                    ci_high: spread.map(|s| s.ci_high),
                },
            );
        }
        let mut servers: Vec<&'static str> = Vec::new();
        for s in runs.iter().flat_map(|r| r.servers.iter()) {
            if !servers.contains(s) {
                servers.push(s);
            }
        }
        Some(ServerSummary { servers, runs: runs.len(), figures, raw: first.raw.clone() })
    }

    /// The mean of the figure keyed `key`.
    pub fn mean(&self, key: &str) -> Option<f64> {
        self.figures.get(key).map(|f| f.mean)
    }
}
