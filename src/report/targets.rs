//! Targets: the checks planned in `plan.json` and those of a tt-inference-server reference file
//! given to `sweeper report --targets-file` (read by [`crate::tt::reference`]), evaluated PASS/FAIL
//! per metric. Metric names and directions come from [`crate::model::metrics`].

use serde::Serialize;

use crate::model::metrics::{self, Metric, Stat};
use crate::records::TargetCheck;
use crate::results::RunResult;

/// Metrics sweeper can check, and whether lower is better.
pub fn lower_is_better(metric: &str) -> Option<bool> {
    metrics::target_lower_is_better(metric)
}

/// The measured value of `metric` (a target key) for a run: the mean of a distribution metric,
/// the value of a scalar one, or tt-inference-server's derived decode and prefill rates.
pub fn measured(metric: &str, run: &RunResult) -> Option<f64> {
    let m = run.metrics.as_ref()?;
    if let Some(id) = Metric::by_target_key(metric) {
        return m.get(id, Stat::Avg);
    }
    match metric {
        // tt-inference-server: decode = tput_user x concurrency; prefill = ISL x conc / TTFT(s).
        "tput_decode" => Some(m.value(Metric::TputUser)? * run.load.concurrency?),
        "tput_prefill" => {
            let ttft = m.value(Metric::Ttft).filter(|t| *t > 0.0)?;
            Some(run.load.isl? * run.load.concurrency? / (ttft / 1000.0))
        }
        _ => None,
    }
}

/// The verdict of one check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetResult {
    pub metric: String,
    pub source: String,
    pub target: f64,
    pub tolerance: f64,
    pub measured: Option<f64>,
    /// measured / target.
    pub ratio: Option<f64>,
    pub higher_is_better: bool,
    /// `PASS`, `FAIL` or `N/A` (not measured, or a metric sweeper does not know).
    pub verdict: &'static str,
}

impl TargetResult {
    pub fn is_fail(&self) -> bool {
        self.verdict == "FAIL"
    }
}

/// PASS when measured <= target x (1 + tolerance) (lower is better) or measured >=
/// target x (1 - tolerance) (higher is better).
pub fn evaluate(check: &TargetCheck, run: &RunResult) -> TargetResult {
    let lower = lower_is_better(&check.metric);
    let value = measured(&check.metric, run);
    let ratio = value.filter(|_| check.target != 0.0).map(|v| v / check.target);
    let verdict = match (lower, value) {
        (Some(true), Some(v)) if v <= check.target * (1.0 + check.tolerance) => "PASS",
        (Some(false), Some(v)) if v >= check.target * (1.0 - check.tolerance) => "PASS",
        (Some(_), Some(_)) => "FAIL",
        _ => "N/A",
    };
    TargetResult {
        metric: check.metric.clone(),
        source: check.source.clone(),
        target: check.target,
        tolerance: check.tolerance,
        measured: value,
        ratio,
        higher_is_better: lower == Some(false),
        verdict,
    }
}
