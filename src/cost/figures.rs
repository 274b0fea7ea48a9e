//! A point's cost figures: dollars per million output, input and total tokens, and tokens/s per
//! GPU, from its throughput and the hour's price; with repeats, the throughput's confidence
//! interval mapped through the same formula.
//!
//! `usd_per_1m = usd_per_hour / (tokens_per_s x 3600) x 1e6`. Each figure charges the whole
//! hour to that kind of token (the output figure does not subtract what the input tokens "cost"),
//! and assumes the hardware is busy 100% of the time at the measured throughput.

use serde::Serialize;

use super::spec::Basis;
use crate::model::metrics::{Metric, Values};
use crate::stats::confidence::Spread;

/// One cost figure of a point: its value (the mean over repeats) and interval with repeats.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CostValue {
    pub value: f64,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
}

/// A point's cost figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostFigures {
    pub usd_per_hour: f64,
    pub gpus: Option<f64>,
    /// $ per 1M output tokens, from output tokens/s.
    pub usd_per_1m_output: Option<CostValue>,
    /// $ per 1M input tokens, from input tokens/s (total - output).
    pub usd_per_1m_input: Option<CostValue>,
    /// $ per 1M tokens, input and output, from total tokens/s.
    pub usd_per_1m_total: Option<CostValue>,
    /// Output tokens/s per GPU.
    pub output_tok_s_per_gpu: Option<CostValue>,
}

/// The CSV and `summary.json` keys of the figures, with their labels, in order.
pub const COLUMNS: [(&str, &str); 4] = [
    ("usd_per_1m_output", "$ / 1M output tokens"),
    ("usd_per_1m_input", "$ / 1M input tokens"),
    ("usd_per_1m_total", "$ / 1M tokens"),
    ("output_tok_s_per_gpu", "Output tok/s per GPU"),
];

/// Dollars per million tokens at `tok_s` tokens per second.
pub fn usd_per_million(usd_per_hour: f64, tok_s: f64) -> Option<f64> {
    (tok_s > 0.0 && tok_s.is_finite()).then(|| usd_per_hour / (tok_s * 3600.0) * 1e6)
}

impl CostFigures {
    /// The figures of a point measured by `runs` (one, or each repeat's values), its mean
    /// values `mean` and the intervals' `confidence`.
    pub fn of(basis: Basis, mean: &Values, runs: &[&Values], confidence: f64) -> CostFigures {
        let h = basis.usd_per_hour;
        let output = |v: &Values| v.value(Metric::OutputTokS);
        let total = |v: &Values| v.value(Metric::TotalTokS);
        let input = |v: &Values| Some(total(v)? - output(v)?).filter(|x| *x > 0.0);
        // The interval of the throughput, mapped through the figure (monotone in it).
        let figure = |tok_s: &dyn Fn(&Values) -> Option<f64>, f: &dyn Fn(f64) -> Option<f64>| {
            let value = tok_s(mean).and_then(f)?;
            let per_run: Vec<f64> = runs.iter().filter_map(|v| tok_s(v)).collect();
            let spread = (per_run.len() == runs.len()).then(|| Spread::of(&per_run, confidence));
            let ends = spread.flatten().and_then(|s| Some((f(s.ci_low)?, f(s.ci_high)?)));
            Some(CostValue {
                value,
                ci_low: ends.map(|(a, b)| a.min(b)),
                ci_high: ends.map(|(a, b)| a.max(b)),
            })
        };
        let per_m = |x: f64| usd_per_million(h, x);
        CostFigures {
            usd_per_hour: h,
            gpus: basis.gpus,
            usd_per_1m_output: figure(&output, &per_m),
            usd_per_1m_input: figure(&input, &per_m),
            usd_per_1m_total: figure(&total, &per_m),
            output_tok_s_per_gpu: basis
                .gpus
                .and_then(|g| figure(&output, &|x| (g > 0.0).then(|| x / g))),
        }
    }

    /// The figure keyed `key` (see [`COLUMNS`]).
    pub fn get(&self, key: &str) -> Option<CostValue> {
        match key {
            "usd_per_1m_output" => self.usd_per_1m_output,
            "usd_per_1m_input" => self.usd_per_1m_input,
            "usd_per_1m_total" => self.usd_per_1m_total,
            "output_tok_s_per_gpu" => self.output_tok_s_per_gpu,
            _ => None,
        }
    }
}
