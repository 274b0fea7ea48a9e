//! aiperf's exports -> [`KeyMetrics`]: from the aggregate JSON (the authoritative source), its
//! CSV, or a streamed JSONL summary, each converted to the metric table's units.

use super::KeyMetrics;
use super::aggregate_json::AggregateExport;
use super::{csv, jsonl};
use crate::model::metrics::{METRICS, Metric, Shape, Stat, Values};

/// Multiplier from an aiperf time unit to the table's unit (`ms` or `s`); 1 for other units.
fn unit_factor(aiperf_unit: Option<&str>, table_unit: &str) -> f64 {
    let to_ms = match aiperf_unit {
        Some("ns") => 1e-6,
        Some("us" | "µs") => 1e-3,
        Some("s" | "sec" | "seconds") => 1e3,
        Some("ms") => 1.0,
        _ => return 1.0,
    };
    match table_unit {
        "ms" => to_ms,
        "s" => to_ms / 1e3,
        _ => 1.0,
    }
}

/// From aiperf's aggregate JSON (the authoritative source).
pub fn metrics_from_aggregate(agg: &AggregateExport) -> KeyMetrics {
    let mut v = Values::default();
    for d in METRICS {
        // Older aiperf versions name the output token total `total_output_tokens`.
        let entry = d.aiperf.and_then(|tag| agg.metrics.get(tag)).or_else(|| {
            (d.metric == Metric::TotalOutputTokens)
                .then(|| agg.metrics.get("total_output_tokens"))
                .flatten()
        });
        let Some(m) = entry else { continue };
        let f = unit_factor(Some(m.unit.as_str()), d.unit);
        for st in Stat::ALL {
            v.set(d.metric, st, m.get(st.name()).map(|x| x * f));
        }
    }
    v.derive();
    v
}

/// From aiperf's CSV export (values rounded to 2 decimals), used when the aggregate JSON is
/// unreadable.
pub fn metrics_from_csv(c: &csv::CsvExport) -> KeyMetrics {
    let mut v = Values::default();
    for d in METRICS {
        let Some(name) = d.aiperf_csv else { continue };
        match d.shape {
            Shape::Distribution => {
                let Some(row) = c.stat(name) else { continue };
                let f = unit_factor(row.unit.as_deref(), d.unit);
                for st in Stat::ALL {
                    v.set(d.metric, st, row.stats.get(st.name()).map(|x| x * f));
                }
            }
            Shape::Scalar => v.set(d.metric, Stat::Avg, c.scalar(name)),
        }
    }
    v.derive();
    v
}

/// From a streamed JSONL summary (used when the aggregate JSON is missing).
pub fn metrics_from_jsonl(s: &jsonl::JsonlSummary) -> KeyMetrics {
    let mut v = Values::default();
    for (metric, sum) in [
        (Metric::Ttft, &s.ttft),
        (Metric::Tpot, &s.tpot),
        (Metric::Itl, &s.itl),
        (Metric::E2el, &s.e2el),
    ] {
        for (st, x) in [
            (Stat::Avg, sum.avg),
            (Stat::P50, sum.p50),
            (Stat::P90, sum.p90),
            (Stat::P95, sum.p95),
            (Stat::P99, sum.p99),
            (Stat::Std, sum.std),
            (Stat::Min, sum.min),
            (Stat::Max, sum.max),
        ] {
            v.set(metric, st, x);
        }
    }
    v.set(Metric::Completed, Stat::Avg, Some(s.succeeded as f64));
    v.set(Metric::Errors, Stat::Avg, Some(s.errors as f64));
    v.set(Metric::TotalInputTokens, Stat::Avg, Some(s.total_input_tokens));
    v.set(Metric::TotalOutputTokens, Stat::Avg, Some(s.total_output_tokens));
    v.derive();
    v
}
