//! The repeats of a point (interleaved runs in `repeat_<k>/`, or aiperf's `--num-profile-runs`
//! runs in `profile_runs/run_000k/`): each repeat's results, the mean sweeper reports, and the
//! spread of every figure across repeats (see [`crate::stats::confidence`]).

use serde::Serialize;
use serde::ser::SerializeMap;

use crate::model::metrics::Values as KeyMetrics;
use crate::model::metrics::{
    KEY_FIGURES, METRICS, Metric, Shape, Stat, Values, figure_key, figure_label,
};
use crate::records::RunStatus;
use crate::stats::confidence::Spread;

/// The default `noise_cv_max`: a point is noisy above a 5% coefficient of variation.
pub const DEFAULT_NOISE_CV_MAX: f64 = 0.05;

/// One repeat of a point.
#[derive(Debug, Clone, Serialize)]
pub struct Repeat {
    /// 1-based.
    pub k: u32,
    /// Its directory, relative to the batch directory.
    pub dir: String,
    pub status: RunStatus,
    pub reason: Option<String>,
    #[serde(skip)]
    pub metrics: Option<KeyMetrics>,
}

/// The repeats that have results.
fn measured(repeats: &[Repeat]) -> impl Iterator<Item = &KeyMetrics> {
    repeats.iter().filter(|r| r.status.is_success()).filter_map(|r| r.metrics.as_ref())
}

/// The values of one figure over the repeats that have it.
pub fn values(repeats: &[Repeat], metric: Metric, stat: Stat) -> Vec<f64> {
    measured(repeats).filter_map(|m| m.get(metric, stat)).collect()
}

/// Every statistic of every metric: its mean over the successful repeats (`None` without any).
pub fn means(repeats: &[Repeat]) -> Option<KeyMetrics> {
    measured(repeats).next()?;
    let mut v = Values::default();
    for d in METRICS {
        for st in Stat::ALL {
            let xs = values(repeats, d.metric, st);
            if !xs.is_empty() {
                let shifted = xs.iter().map(|x| x - xs[0]).sum::<f64>() / xs.len() as f64;
                v.set(d.metric, st, Some(xs[0] + shifted));
            }
        }
    }
    Some(v)
}

/// The spread of every figure across the repeats of a point.
#[derive(Debug, Clone, PartialEq)]
pub struct Spreads {
    pub confidence: f64,
    /// Repeats with results.
    pub n: usize,
    table: Vec<(Metric, Stat, Spread)>,
}

impl Spreads {
    /// The spreads over the successful repeats (at least 2 with results), at `confidence`.
    pub fn of(repeats: &[Repeat], confidence: f64) -> Option<Spreads> {
        let n = measured(repeats).count();
        if n < 2 {
            return None;
        }
        let mut table = Vec::new();
        for d in METRICS {
            for st in Stat::ALL {
                if d.shape == Shape::Scalar && st != Stat::Avg {
                    continue;
                }
                if let Some(s) = Spread::of(&values(repeats, d.metric, st), confidence) {
                    table.push((d.metric, st, s));
                }
            }
        }
        Some(Spreads { confidence, n, table })
    }

    /// The spread of one figure.
    pub fn get(&self, metric: Metric, stat: Stat) -> Option<&Spread> {
        self.table.iter().find(|(m, s, _)| *m == metric && *s == stat).map(|(_, _, x)| x)
    }
}

/// `summary.json`'s shape: `{"confidence", "n", "ttft_avg_ms": {mean, std, cv, se, ci_low,
/// ci_high, min, max, n, t_critical}, ...}` for the reported statistics.
impl Serialize for Spreads {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("confidence", &self.confidence)?;
        map.serialize_entry("n", &self.n)?;
        for (m, st, sp) in &self.table {
            if m.def().shape == Shape::Distribution && !Stat::REPORTED.contains(st) {
                continue;
            }
            map.serialize_entry(&figure_key(*m, *st), sp)?;
        }
        map.end()
    }
}

/// A key figure of a point that varies across repeats more than allowed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Noisy {
    /// `ttft_avg_ms`.
    pub key: String,
    /// `TTFT avg (ms)`.
    pub label: String,
    /// Its coefficient of variation across repeats.
    pub cv: f64,
}

/// The key figures whose CV across repeats exceeds `cv_max`.
pub fn noisy(spreads: &Spreads, cv_max: f64) -> Vec<Noisy> {
    KEY_FIGURES
        .iter()
        .filter_map(|(m, st)| {
            let cv = spreads.get(*m, *st)?.cv?.abs();
            (cv > cv_max).then(|| Noisy {
                key: figure_key(*m, *st),
                label: figure_label(*m, *st),
                cv,
            })
        })
        .collect()
}
