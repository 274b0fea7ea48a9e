//! The one table of the metrics sweeper reports: for each, where aiperf writes it, its unit, which
//! direction is better, and how reports, targets, compare and tt-inference-server's JSON name it.
//!
//! Every other module reads this table instead of spelling metric names itself: the parsers fill
//! [`Values`] from it, the CSV and Markdown columns, the target keys (`ttft_ms`, `tput_user`...),
//! the SLO keys (`ttft_p99_ms`) and the tt standardized JSON keys (`mean_ttft_ms`) come from it.

use serde::Serialize;
use serde::ser::SerializeMap;

/// A metric sweeper knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    Ttft,
    Tpot,
    Itl,
    E2el,
    OutputTokS,
    TotalTokS,
    ReqS,
    TputUser,
    Completed,
    Errors,
    TotalInputTokens,
    TotalOutputTokens,
    DurationS,
}

/// Which way is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    LowerIsBetter,
    HigherIsBetter,
    /// A count or a duration: neither better nor worse.
    Neither,
}

/// A distribution over requests (or chunks) with statistics, or one figure for the whole run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Distribution,
    Scalar,
}

/// A statistic of a distribution, as aiperf names it. A scalar metric is stored as `Avg`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stat {
    Avg,
    P1,
    P5,
    P10,
    P25,
    P50,
    P75,
    P90,
    P95,
    P99,
    Std,
    Min,
    Max,
}

impl Stat {
    /// Every statistic, in aiperf's order.
    pub const ALL: [Stat; 13] = [
        Stat::Avg,
        Stat::P1,
        Stat::P5,
        Stat::P10,
        Stat::P25,
        Stat::P50,
        Stat::P75,
        Stat::P90,
        Stat::P95,
        Stat::P99,
        Stat::Std,
        Stat::Min,
        Stat::Max,
    ];
    /// The statistics every report shows (and `summary.json`/`summary.csv` hold), in order.
    pub const REPORTED: [Stat; 7] =
        [Stat::Avg, Stat::P50, Stat::P90, Stat::P99, Stat::Std, Stat::Min, Stat::Max];

    /// aiperf's name (`avg`, `p99`, `std`...).
    pub fn name(self) -> &'static str {
        match self {
            Stat::Avg => "avg",
            Stat::P1 => "p1",
            Stat::P5 => "p5",
            Stat::P10 => "p10",
            Stat::P25 => "p25",
            Stat::P50 => "p50",
            Stat::P75 => "p75",
            Stat::P90 => "p90",
            Stat::P95 => "p95",
            Stat::P99 => "p99",
            Stat::Std => "std",
            Stat::Min => "min",
            Stat::Max => "max",
        }
    }

    /// The statistic named `name` (`avg`, `mean` and `median` are accepted too).
    pub fn parse(name: &str) -> Option<Stat> {
        match name {
            "mean" => Some(Stat::Avg),
            "median" => Some(Stat::P50),
            _ => Stat::ALL.into_iter().find(|s| s.name() == name),
        }
    }

    /// How tables label it: `Avg`, `P99`, `Std`...
    pub fn label(self) -> String {
        let n = self.name();
        let mut c = n.chars();
        c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
    }

    fn index(self) -> usize {
        Stat::ALL.iter().position(|s| *s == self).unwrap_or(0)
    }
}

/// One row of the table.
#[derive(Debug)]
pub struct MetricDef {
    pub metric: Metric,
    /// The metric's key in `summary.json` (`ttft_ms`, `output_tok_s`).
    pub key: &'static str,
    /// Stem of column and SLO names (`ttft` -> `ttft_p99_ms`; `output_tok_s` for scalars).
    pub stem: &'static str,
    /// Unit as shown (`ms`, `tokens/s`...); also the suffix of distribution column names.
    pub unit: &'static str,
    pub shape: Shape,
    pub direction: Direction,
    /// Short name in tables and messages (`TTFT`, `Output Tok/s`).
    pub display: &'static str,
    /// Metric tag in aiperf's `profile_export_aiperf.json` (`None`: derived by sweeper).
    pub aiperf: Option<&'static str>,
    /// Its display name in aiperf's CSV export (without the unit).
    pub aiperf_csv: Option<&'static str>,
    /// Key of a target in a config or a tt-inference-server reference file (mean, or the
    /// figure itself): `ttft_ms`, `tput_user`, `tput`, `req_tput`.
    pub target_key: Option<&'static str>,
    /// tt-inference-server's standardized JSON: `mean_{tt}_ms`, ... for distributions, the key
    /// itself for scalars (`output_token_throughput`, `completed`).
    pub tt_key: Option<&'static str>,
    /// One line for people: what it is and where it comes from.
    pub about: &'static str,
}

use Direction::{HigherIsBetter, LowerIsBetter, Neither};
use Shape::{Distribution, Scalar};

/// Every metric, in report order.
pub static METRICS: &[MetricDef] = &[
    MetricDef {
        metric: Metric::Ttft,
        key: "ttft_ms",
        stem: "ttft",
        unit: "ms",
        shape: Distribution,
        direction: LowerIsBetter,
        display: "TTFT",
        aiperf: Some("time_to_first_token"),
        aiperf_csv: Some("Time to First Token"),
        target_key: Some("ttft_ms"),
        tt_key: Some("ttft"),
        about: "time to first token, per request",
    },
    MetricDef {
        metric: Metric::Tpot,
        key: "tpot_ms",
        stem: "tpot",
        unit: "ms",
        shape: Distribution,
        direction: LowerIsBetter,
        display: "TPOT",
        aiperf: Some("inter_token_latency"),
        aiperf_csv: Some("Inter Token Latency"),
        target_key: Some("tpot_ms"),
        tt_key: Some("tpot"),
        about: "time per output token after the first, per request: (latency - TTFT) / (tokens - 1)",
    },
    MetricDef {
        metric: Metric::Itl,
        key: "itl_ms",
        stem: "itl",
        unit: "ms",
        shape: Distribution,
        direction: LowerIsBetter,
        display: "ITL",
        aiperf: Some("inter_chunk_latency"),
        aiperf_csv: Some("Inter Chunk Latency"),
        target_key: Some("itl_ms"),
        tt_key: Some("itl"),
        about: "every gap between streamed chunks of every request",
    },
    MetricDef {
        metric: Metric::E2el,
        key: "e2el_ms",
        stem: "e2el",
        unit: "ms",
        shape: Distribution,
        direction: LowerIsBetter,
        display: "E2EL",
        aiperf: Some("request_latency"),
        aiperf_csv: Some("Request Latency"),
        target_key: Some("e2el_ms"),
        tt_key: Some("e2el"),
        about: "request latency, send to last token",
    },
    MetricDef {
        metric: Metric::OutputTokS,
        key: "output_tok_s",
        stem: "output_tok_s",
        unit: "tokens/s",
        shape: Scalar,
        direction: HigherIsBetter,
        display: "Output Tok/s",
        aiperf: Some("output_token_throughput"),
        aiperf_csv: Some("Output Token Throughput"),
        target_key: Some("tput"),
        tt_key: Some("output_token_throughput"),
        about: "output tokens per second over the whole run",
    },
    MetricDef {
        metric: Metric::TotalTokS,
        key: "total_tok_s",
        stem: "total_tok_s",
        unit: "tokens/s",
        shape: Scalar,
        direction: HigherIsBetter,
        display: "Total Tok/s",
        aiperf: Some("total_token_throughput"),
        aiperf_csv: Some("Total Token Throughput"),
        target_key: None,
        tt_key: Some("total_token_throughput"),
        about: "input + output tokens per second",
    },
    MetricDef {
        metric: Metric::ReqS,
        key: "req_s",
        stem: "req_s",
        unit: "requests/s",
        shape: Scalar,
        direction: HigherIsBetter,
        display: "Req/s",
        aiperf: Some("request_throughput"),
        aiperf_csv: Some("Request Throughput"),
        target_key: Some("req_tput"),
        tt_key: Some("request_throughput"),
        about: "successful requests per second",
    },
    MetricDef {
        metric: Metric::TputUser,
        key: "tput_user",
        stem: "tput_user",
        unit: "tokens/s/user",
        shape: Scalar,
        direction: HigherIsBetter,
        display: "Tput User",
        aiperf: None,
        aiperf_csv: None,
        target_key: Some("tput_user"),
        tt_key: None,
        about: "tokens/s one user sees: 1000 / mean TPOT (tt-inference-server's definition)",
    },
    MetricDef {
        metric: Metric::Completed,
        key: "completed",
        stem: "completed",
        unit: "requests",
        shape: Scalar,
        direction: Neither,
        display: "Completed",
        aiperf: Some("request_count"),
        aiperf_csv: Some("Request Count"),
        target_key: None,
        tt_key: Some("completed"),
        about: "successful requests",
    },
    MetricDef {
        metric: Metric::Errors,
        key: "errors",
        stem: "errors",
        unit: "requests",
        shape: Scalar,
        direction: LowerIsBetter,
        display: "Errors",
        aiperf: Some("error_request_count"),
        aiperf_csv: Some("Error Request Count"),
        target_key: None,
        tt_key: Some("failed"),
        about: "failed requests (0 when aiperf reports none)",
    },
    MetricDef {
        metric: Metric::TotalInputTokens,
        key: "total_input_tokens",
        stem: "total_input_tokens",
        unit: "tokens",
        shape: Scalar,
        direction: Neither,
        display: "Input tokens",
        aiperf: Some("total_isl"),
        aiperf_csv: Some("Total Input Sequence Length"),
        target_key: None,
        tt_key: Some("total_input_tokens"),
        about: "input tokens of the successful requests",
    },
    MetricDef {
        metric: Metric::TotalOutputTokens,
        key: "total_output_tokens",
        stem: "total_output_tokens",
        unit: "tokens",
        shape: Scalar,
        direction: Neither,
        display: "Output tokens",
        aiperf: Some("total_osl"),
        aiperf_csv: Some("Total Output Sequence Length"),
        target_key: None,
        tt_key: Some("total_output_tokens"),
        about: "output tokens of the successful requests",
    },
    MetricDef {
        metric: Metric::DurationS,
        key: "duration_s",
        stem: "duration_s",
        unit: "s",
        shape: Scalar,
        direction: Neither,
        display: "Duration",
        aiperf: Some("benchmark_duration"),
        aiperf_csv: Some("Benchmark Duration"),
        target_key: None,
        tt_key: Some("duration"),
        about: "measured duration of the run",
    },
];

impl Metric {
    /// Its row of [`METRICS`].
    pub fn def(self) -> &'static MetricDef {
        &METRICS[self.index()]
    }

    fn index(self) -> usize {
        METRICS.iter().position(|d| d.metric == self).unwrap_or(0)
    }

    /// The metric whose target key is `key` (`ttft_ms`, `tput`...).
    pub fn by_target_key(key: &str) -> Option<Metric> {
        METRICS.iter().find(|d| d.target_key == Some(key)).map(|d| d.metric)
    }
}

/// The distribution metrics, in order.
pub fn distributions() -> impl Iterator<Item = &'static MetricDef> {
    METRICS.iter().filter(|d| d.shape == Distribution)
}

/// The scalar metrics, in order.
pub fn scalars() -> impl Iterator<Item = &'static MetricDef> {
    METRICS.iter().filter(|d| d.shape == Scalar)
}

/// The key figures of a point: judged for noise across repeats (a point is noisy when one of
/// them varies more than `noise_cv_max`) and shown with confidence intervals.
pub const KEY_FIGURES: [(Metric, Stat); 6] = [
    (Metric::Ttft, Stat::Avg),
    (Metric::Tpot, Stat::Avg),
    (Metric::Itl, Stat::Avg),
    (Metric::E2el, Stat::Avg),
    (Metric::OutputTokS, Stat::Avg),
    (Metric::ReqS, Stat::Avg),
];

/// The column/SLO key of a figure: `ttft_avg_ms` for a distribution's statistic, the metric's
/// key for a scalar (`output_tok_s`).
pub fn figure_key(metric: Metric, stat: Stat) -> String {
    let d = metric.def();
    match d.shape {
        Distribution => format!("{}_{}_{}", d.stem, stat.name(), d.unit),
        Scalar => d.key.to_owned(),
    }
}

/// `TTFT avg (ms)`, `Output Tok/s`: how a figure is labelled in tables.
pub fn figure_label(metric: Metric, stat: Stat) -> String {
    let d = metric.def();
    match d.shape {
        Distribution => format!("{} {} ({})", d.display, stat.name(), d.unit),
        Scalar => d.display.to_owned(),
    }
}

/// Target keys that are not a metric of the table but derived from one and the load point
/// (tt-inference-server's): `tput_decode` = tput_user x concurrency, `tput_prefill` =
/// ISL x concurrency / TTFT (s). Both higher is better.
pub const DERIVED_TARGETS: [&str; 2] = ["tput_decode", "tput_prefill"];

/// Every key a target may name, in order: the table's target keys, then the derived ones.
pub fn target_keys() -> Vec<&'static str> {
    METRICS.iter().filter_map(|d| d.target_key).chain(DERIVED_TARGETS).collect()
}

/// Whether lower values of a target key are better (`None` for an unknown key).
pub fn target_lower_is_better(key: &str) -> Option<bool> {
    if DERIVED_TARGETS.contains(&key) {
        return Some(false);
    }
    Metric::by_target_key(key).map(|m| m.def().direction == LowerIsBetter)
}

/// The measured values of one run: every statistic of every metric that could be read.
///
/// Kept for every run of a batch, so it is compact: a value not read is NaN (values are finite),
/// 1,352 bytes where `Option<f64>`s would take twice that.
#[derive(Debug, Clone)]
pub struct Values {
    stats: [[f64; Stat::ALL.len()]; 13],
}

impl Default for Values {
    fn default() -> Self {
        Values { stats: [[f64::NAN; Stat::ALL.len()]; 13] }
    }
}

impl PartialEq for Values {
    fn eq(&self, other: &Self) -> bool {
        self.stats
            .iter()
            .flatten()
            .zip(other.stats.iter().flatten())
            .all(|(a, b)| a == b || (a.is_nan() && b.is_nan()))
    }
}

impl Values {
    /// A statistic of a metric (a scalar metric's value is its `Avg`).
    pub fn get(&self, metric: Metric, stat: Stat) -> Option<f64> {
        let v = self.stats[metric.index()][stat.index()];
        (!v.is_nan()).then_some(v)
    }

    /// A scalar metric's value (or a distribution's mean).
    pub fn value(&self, metric: Metric) -> Option<f64> {
        self.get(metric, Stat::Avg)
    }

    /// Sets a statistic; non-finite values are dropped.
    pub fn set(&mut self, metric: Metric, stat: Stat, v: Option<f64>) {
        self.stats[metric.index()][stat.index()] = v.filter(|x| x.is_finite()).unwrap_or(f64::NAN);
    }

    /// Fills the derived metrics (`tput_user` from TPOT) and defaults (`errors` 0 when the run
    /// reported its successes but no error count).
    pub fn derive(&mut self) {
        let tput_user = self.value(Metric::Tpot).filter(|v| *v > 0.0).map(|v| 1000.0 / v);
        self.set(Metric::TputUser, Stat::Avg, tput_user);
        if self.value(Metric::Errors).is_none() && self.value(Metric::Completed).is_some() {
            self.set(Metric::Errors, Stat::Avg, Some(0.0));
        }
    }
}

/// `summary.json`'s shape: `{"ttft_ms": {"avg", "p50", "p90", "p99", "std", "min", "max"}, ...,
/// "output_tok_s": n, ...}`, every metric in table order.
impl Serialize for Values {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(METRICS.len()))?;
        for d in METRICS {
            match d.shape {
                Distribution => {
                    let stats: serde_json::Map<String, serde_json::Value> = Stat::REPORTED
                        .iter()
                        .map(|st| {
                            (st.name().to_owned(), serde_json::json!(self.get(d.metric, *st)))
                        })
                        .collect();
                    map.serialize_entry(d.key, &stats)?;
                }
                Scalar => map.serialize_entry(d.key, &self.value(d.metric))?,
            }
        }
        map.end()
    }
}

/// An SLO or column key such as `ttft_p99_ms`, `tpot_avg_ms` or `output_tok_s`: the metric and
/// statistic it names, or `None`.
pub fn parse_stat_key(key: &str) -> Option<(Metric, Stat)> {
    for d in METRICS {
        match d.shape {
            Distribution => {
                let Some(rest) = key.strip_prefix(d.stem).and_then(|r| r.strip_prefix('_')) else {
                    continue;
                };
                let Some(stat) = rest.strip_suffix(&format!("_{}", d.unit)) else { continue };
                if let Some(s) = Stat::parse(stat) {
                    return Some((d.metric, s));
                }
            }
            Scalar if key == d.key => return Some((d.metric, Stat::Avg)),
            Scalar => {}
        }
    }
    None
}

/// Every key [`parse_stat_key`] accepts, for "did you mean" hints.
pub fn stat_keys() -> Vec<String> {
    let mut out = Vec::new();
    for d in METRICS {
        match d.shape {
            Distribution => {
                for s in Stat::ALL {
                    out.push(format!("{}_{}_{}", d.stem, s.name(), d.unit));
                }
            }
            Scalar => out.push(d.key.to_owned()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A batch keeps one `Values` per run: NaN for "not read" keeps it at 8 bytes a figure.
    #[test]
    fn values_are_compact_and_keep_none_apart_from_zero() {
        assert_eq!(std::mem::size_of::<Values>(), 13 * Stat::ALL.len() * 8);
        let mut v = Values::default();
        assert_eq!(v.get(Metric::Ttft, Stat::P99), None);
        v.set(Metric::Ttft, Stat::P99, Some(0.0));
        assert_eq!(v.get(Metric::Ttft, Stat::P99), Some(0.0));
        v.set(Metric::Ttft, Stat::P50, Some(f64::INFINITY));
        assert_eq!(v.get(Metric::Ttft, Stat::P50), None);
        assert_ne!(v, Values::default());
        v.set(Metric::Ttft, Stat::P99, None);
        assert_eq!(v, Values::default());
    }

    #[test]
    fn table_is_complete_and_keys_are_unique() {
        assert_eq!(METRICS.len(), 13);
        for (i, d) in METRICS.iter().enumerate() {
            assert_eq!(d.metric.index(), i, "{:?} out of order", d.metric);
        }
        let mut keys: Vec<&str> = METRICS.iter().map(|d| d.key).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), METRICS.len());
        assert_eq!(
            target_keys(),
            [
                "ttft_ms",
                "tpot_ms",
                "itl_ms",
                "e2el_ms",
                "tput",
                "req_tput",
                "tput_user",
                "tput_decode",
                "tput_prefill"
            ]
        );
    }

    #[test]
    fn stat_keys_round_trip() {
        assert_eq!(parse_stat_key("ttft_p99_ms"), Some((Metric::Ttft, Stat::P99)));
        assert_eq!(parse_stat_key("itl_avg_ms"), Some((Metric::Itl, Stat::Avg)));
        assert_eq!(parse_stat_key("e2el_median_ms"), Some((Metric::E2el, Stat::P50)));
        assert_eq!(parse_stat_key("output_tok_s"), Some((Metric::OutputTokS, Stat::Avg)));
        assert_eq!(parse_stat_key("ttft_p99"), None);
        assert_eq!(parse_stat_key("ttft_p98_ms"), None);
        for k in stat_keys() {
            assert!(parse_stat_key(&k).is_some(), "{k}");
        }
        assert_eq!(target_lower_is_better("ttft_ms"), Some(true));
        assert_eq!(target_lower_is_better("tput_prefill"), Some(false));
        assert_eq!(target_lower_is_better("rtr"), None);
    }
}
