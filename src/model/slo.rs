//! SLO keys: `{ttft_p99_ms: 2000, itl_p99_ms: 100, error_rate: 0.01}`, each an upper bound on a
//! figure of the metric table (any statistic aiperf reports) or on the share of failed requests,
//! and what an SLO is judged on when a point was measured in repeats.

use serde::{Deserialize, Serialize};

use crate::model::metrics::{self, Metric, Stat};

/// The share of failed requests: errors / (completed + errors).
pub const ERROR_RATE: &str = "error_rate";

/// What an SLO is judged on when a point was measured in repeats.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SloOn {
    /// The mean over repeats (the figure itself without repeats).
    #[default]
    Mean,
    /// The upper end of its confidence interval: the SLO holds with that confidence.
    CiUpper,
}

/// What one SLO bounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Measure {
    Figure(Metric, Stat),
    ErrorRate,
}

impl Measure {
    /// The measure an SLO key names (`ttft_p99_ms`, `output_tok_s`, `error_rate`).
    pub fn parse(key: &str) -> Option<Measure> {
        if key == ERROR_RATE {
            return Some(Measure::ErrorRate);
        }
        metrics::parse_stat_key(key).map(|(m, s)| Measure::Figure(m, s))
    }

    /// Every key [`Measure::parse`] accepts (for "did you mean").
    pub fn keys() -> Vec<String> {
        let mut v = metrics::stat_keys();
        v.push(ERROR_RATE.into());
        v
    }

    /// Metrics aiperf measures only on streamed responses (first token, gaps between tokens).
    pub fn needs_streaming(self) -> bool {
        matches!(self, Measure::Figure(Metric::Ttft | Metric::Tpot | Metric::Itl, _))
    }
}
