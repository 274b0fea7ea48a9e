//! The "Cost" section and `compare`'s cost changes: per point, $ per 1M output, input and total
//! tokens and output tokens/s per GPU, from the batch's `cost` section and the point's
//! throughput (with repeats, the throughput's interval carried through).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::cost::figures::{COLUMNS, CostFigures, CostValue};
use crate::cost::spec::basis_of;
use crate::results::{BatchResults, RunResult};
use crate::stats::confidence::DEFAULT_CONFIDENCE;

/// What every cost figure assumes, as the reports state it.
pub const ASSUMPTION: &str = "$ per 1M tokens = usd_per_hour / (tokens/s x 3600) x 1e6, assuming the hardware is busy 100% of the time at the measured throughput; each figure charges the whole hour to that kind of token (output, input, or both together), so they do not add up";

/// A point's cost figures (`None` without a complete `cost` section or results).
pub fn figures_of(results: &BatchResults, run: &RunResult) -> Option<CostFigures> {
    let basis = basis_of(results.cost.as_ref(), &run.params)?;
    let mean = run.metrics.as_ref()?;
    let per_run: Vec<&crate::model::metrics::Values> = run
        .repeats
        .iter()
        .filter(|r| r.status.is_success())
        .filter_map(|r| r.metrics.as_ref())
        .collect();
    let confidence = run.spread.as_ref().map_or(DEFAULT_CONFIDENCE, |s| s.confidence);
    Some(CostFigures::of(basis, mean, &per_run, confidence))
}

/// One point of the Cost table.
#[derive(Debug, Clone, Serialize)]
pub struct CostRow {
    pub index: usize,
    pub point: String,
    pub usd_per_hour: f64,
    pub gpus: Option<f64>,
    /// One per column.
    pub cells: Vec<Option<CostValue>>,
}

/// The section.
#[derive(Debug, Clone, Serialize)]
pub struct CostTable {
    /// (key, label) of the figures any point has.
    pub columns: Vec<(&'static str, &'static str)>,
    pub rows: Vec<CostRow>,
    pub assumption: &'static str,
}

/// The section of the points with cost figures (`None` when none has).
pub fn table(points: &[(usize, String, CostFigures)]) -> Option<CostTable> {
    if points.is_empty() {
        return None;
    }
    let columns: Vec<(&'static str, &'static str)> = COLUMNS
        .iter()
        .copied()
        .filter(|(k, _)| points.iter().any(|(_, _, f)| f.get(k).is_some()))
        .collect();
    let rows = points
        .iter()
        .map(|(index, point, f)| CostRow {
            index: *index,
            point: point.clone(),
            usd_per_hour: f.usd_per_hour,
            gpus: f.gpus,
            cells: columns.iter().map(|(k, _)| f.get(k)).collect(),
        })
        .collect();
    Some(CostTable { columns, rows, assumption: ASSUMPTION })
}

/// A matched point's cost on both sides of a comparison.
#[derive(Debug, Clone, Serialize)]
pub struct CostChange {
    pub combination: String,
    /// $ per 1M output tokens (each side at its own price).
    pub a: f64,
    pub b: f64,
    /// (b - a) / a, in percent.
    pub change_pct: f64,
}

/// The cost changes of the matched points that have cost figures on both sides.
pub fn changes<'a>(
    a: &BatchResults,
    b: &BatchResults,
    pairs: impl Iterator<Item = (String, &'a RunResult, &'a RunResult)>,
) -> Vec<CostChange> {
    let out_cost = |r: &BatchResults, run: &RunResult| {
        figures_of(r, run).and_then(|f| f.usd_per_1m_output).map(|v| v.value)
    };
    pairs
        .filter_map(|(combination, ra, rb)| {
            let (x, y) = (out_cost(a, ra)?, out_cost(b, rb)?);
            Some(CostChange { combination, a: x, b: y, change_pct: (y - x) / x * 100.0 })
        })
        .collect()
}

/// The matched points of two batches' points maps, for [`changes`].
pub fn matched<'a>(
    ia: &BTreeMap<BTreeMap<String, String>, &'a RunResult>,
    ib: &BTreeMap<BTreeMap<String, String>, &'a RunResult>,
    label: impl Fn(&BTreeMap<String, String>) -> String,
) -> Vec<(String, &'a RunResult, &'a RunResult)> {
    ia.iter().filter_map(|(k, ra)| Some((label(k), *ra, *ib.get(k)?))).collect()
}
