//! The "Server" section: per point, the canonical server figures beside the client ones (means
//! over repeats with their intervals), what bounded the point, and an unknown server's raw
//! metrics.

use serde::Serialize;

use super::Row;
use crate::server_metrics::figures::RawMetric;
use crate::server_metrics::names::FIGURES;

/// A column of the Server table.
#[derive(Debug, Clone, Serialize)]
pub struct ServerColumn {
    /// `waiting_avg`; the CSV column is `server_<key>`.
    pub key: &'static str,
    /// `Queue avg (requests)`.
    pub header: String,
    pub digits: usize,
}

/// A figure of a point: its mean, and half its confidence interval with repeats.
#[derive(Debug, Clone, Serialize)]
pub struct ServerCell {
    pub mean: f64,
    pub half: Option<f64>,
}

/// One point of the Server table.
#[derive(Debug, Clone, Serialize)]
pub struct ServerRow {
    pub index: usize,
    /// `concurrency=8` (or `-`).
    pub point: String,
    pub cells: Vec<Option<ServerCell>>,
    /// `queue 4.4 avg (max 6), ...: admission-bound: ...`.
    pub explanation: Option<String>,
}

/// An unknown server's metrics at a point.
#[derive(Debug, Clone, Serialize)]
pub struct RawRow {
    pub index: usize,
    pub point: String,
    pub metrics: Vec<RawMetric>,
}

/// The section.
#[derive(Debug, Clone, Serialize)]
pub struct ServerTable {
    /// The servers whose names were found (`vllm`), over every point.
    pub servers: Vec<&'static str>,
    /// The figures any point has, in table order.
    pub columns: Vec<ServerColumn>,
    pub rows: Vec<ServerRow>,
    /// Points of a server sweeper has no names for.
    pub raw: Vec<RawRow>,
}

fn digits(unit: &str) -> usize {
    match unit {
        "tokens" => 0,
        "%" | "ms" | "requests" => 1,
        _ => 2,
    }
}

/// The section of the rows that have server figures (`None` when none has).
pub fn table(rows: &[Row], point: &dyn Fn(&Row) -> String) -> Option<ServerTable> {
    let with: Vec<&Row> = rows.iter().filter(|r| r.server.is_some()).collect();
    if with.is_empty() {
        return None;
    }
    let mut servers: Vec<&'static str> = Vec::new();
    for s in with.iter().filter_map(|r| r.server.as_ref()).flat_map(|s| s.servers.iter()) {
        if !servers.contains(s) {
            servers.push(s);
        }
    }
    let shown: Vec<&'static crate::server_metrics::names::FigureDef> = FIGURES
        .iter()
        .filter(|f| {
            with.iter().any(|r| r.server.as_ref().is_some_and(|s| s.figures.contains_key(f.key)))
        })
        .collect();
    let columns = shown
        .iter()
        .map(|f| ServerColumn {
            key: f.key,
            header: format!("{} ({})", f.label, f.unit),
            digits: digits(f.unit),
        })
        .collect();
    let mut out_rows = Vec::new();
    let mut raw = Vec::new();
    for r in &with {
        let Some(s) = r.server.as_ref() else { continue };
        if !s.raw.is_empty() {
            raw.push(RawRow { index: r.index, point: point(r), metrics: s.raw.clone() });
        }
        if s.figures.is_empty() {
            continue;
        }
        out_rows.push(ServerRow {
            index: r.index,
            point: point(r),
            cells: shown
                .iter()
                .map(|f| {
                    s.figures
                        .get(f.key)
                        .map(|v| ServerCell { mean: v.mean, half: v.ci_high.map(|h| h - v.mean) })
                })
                .collect(),
            explanation: crate::server_metrics::explain(s).map(|e| e.line()),
        });
    }
    Some(ServerTable { servers, columns, rows: out_rows, raw })
}
