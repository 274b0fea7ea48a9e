//! The verdict on a point under its SLOs: which SLO it breaches (judged on the mean over
//! repeats, or on the upper end of its confidence interval), and whether a run of a load search
//! passes.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::metrics::{self, Metric};
use crate::results::RunResult;

pub use crate::model::slo::{ERROR_RATE, Measure, SloOn};

/// One SLO breached (or not measured) by a point.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Breach {
    pub key: String,
    /// `None`: the run did not measure it (or failed).
    pub value: Option<f64>,
    pub limit: f64,
}

impl Breach {
    /// `ttft_p99 2140 ms > 2000 ms` / `error_rate 0.031 > 0.01` / `ttft_p99_ms not measured`.
    pub fn describe(&self) -> String {
        let (name, unit) = match Measure::parse(&self.key) {
            Some(Measure::Figure(m, _)) if m.def().shape == metrics::Shape::Distribution => {
                let u = m.def().unit;
                (
                    self.key.strip_suffix(&format!("_{u}")).unwrap_or(&self.key).to_owned(),
                    format!(" {u}"),
                )
            }
            _ => (self.key.clone(), String::new()),
        };
        match self.value {
            Some(v) => {
                let (v, limit) = apart(v, self.limit);
                format!("{name} {v}{unit} > {limit}{unit}")
            }
            None => format!("{name} not measured"),
        }
    }

    /// How far over the limit, in percent.
    pub fn over_pct(&self) -> Option<f64> {
        self.value.filter(|_| self.limit > 0.0).map(|v| (v - self.limit) / self.limit * 100.0)
    }
}

/// `v` and `limit` written short, with as many more digits as it takes to see that they differ
/// (`100.004 > 100`, not `100 > 100`).
fn apart(v: f64, limit: f64) -> (String, String) {
    let (a, b) = (short(v), short(limit));
    if a != b || v == limit {
        return (a, b);
    }
    for digits in 1..=15 {
        let (a, b) = (trimmed(v, digits), trimmed(limit, digits));
        if a != b {
            return (a, b);
        }
    }
    (crate::util::number::exact(v), crate::util::number::exact(limit))
}

/// `v` with `digits` decimals, trailing zeros dropped.
fn trimmed(v: f64, digits: usize) -> String {
    let s = format!("{v:.digits$}");
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_owned() } else { s }
}

fn short(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.2}").trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        format!("{v:.4}").trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// The value of `m` for point `run`, judged `on` the mean or the CI's upper end.
pub fn value_of(run: &RunResult, m: Measure, on: SloOn) -> Option<f64> {
    let metrics = run.metrics.as_ref()?;
    match m {
        Measure::Figure(metric, stat) => {
            if on == SloOn::CiUpper
                && let Some(s) = run.spread.as_ref().and_then(|s| s.get(metric, stat))
            {
                return Some(s.ci_high);
            }
            metrics.get(metric, stat)
        }
        Measure::ErrorRate => {
            let rate = |v: &crate::model::metrics::Values| {
                let ok = v.value(Metric::Completed)?;
                let err = v.value(Metric::Errors).unwrap_or(0.0);
                (ok + err > 0.0).then(|| err / (ok + err))
            };
            if on == SloOn::CiUpper {
                let per: Vec<f64> = run
                    .repeats
                    .iter()
                    .filter(|r| r.status.is_success())
                    .filter_map(|r| r.metrics.as_ref().and_then(rate))
                    .collect();
                let confidence = run.spread.as_ref().map_or(0.95, |s| s.confidence);
                if let Some(s) = crate::stats::confidence::Spread::of(&per, confidence) {
                    return Some(s.ci_high);
                }
            }
            rate(metrics)
        }
    }
}

/// The SLOs a point breaches (empty: it meets them all). A point without results breaches
/// every one ("not measured").
pub fn breaches(run: &RunResult, slo: &BTreeMap<String, f64>, on: SloOn) -> Vec<Breach> {
    slo.iter()
        .filter_map(|(key, limit)| {
            let m = Measure::parse(key)?;
            let v = value_of(run, m, on);
            match v {
                Some(x) if x <= *limit => None,
                _ => Some(Breach { key: key.clone(), value: v, limit: *limit }),
            }
        })
        .collect()
}

/// The verdict on one run of a load search (`stop_when`, `search`).
#[derive(Debug, Clone, PartialEq)]
pub enum Judgement {
    Pass,
    /// It breaks an SLO, or failed: why.
    Fail(String),
}

/// Judges a finished run of a load search against its SLO: a run without results fails.
pub fn judge(ls: &crate::records::LoadSearch, run: &RunResult) -> Judgement {
    if !run.status.is_success() || run.metrics.is_none() {
        return Judgement::Fail(format!(
            "the run failed ({})",
            run.reason.as_deref().unwrap_or("no results")
        ));
    }
    let b = breaches(run, &ls.slo, ls.slo_on);
    if b.is_empty() {
        Judgement::Pass
    } else {
        Judgement::Fail(b.iter().map(Breach::describe).collect::<Vec<_>>().join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::metrics::Stat;

    #[test]
    fn a_breach_shows_enough_digits_to_see_it() {
        let b = |value: f64, limit: f64| {
            Breach { key: "ttft_p99_ms".into(), value: Some(value), limit }.describe()
        };
        assert_eq!(b(100.004, 100.0), "ttft_p99 100.004 ms > 100 ms");
        assert_eq!(b(2140.0, 2000.0), "ttft_p99 2140 ms > 2000 ms");
        assert_eq!(b(1.0000001, 1.0), "ttft_p99 1.0000001 ms > 1 ms");
    }

    #[test]
    fn keys_and_descriptions() {
        assert_eq!(Measure::parse("ttft_p99_ms"), Some(Measure::Figure(Metric::Ttft, Stat::P99)));
        assert_eq!(Measure::parse("error_rate"), Some(Measure::ErrorRate));
        assert_eq!(Measure::parse("ttft_p99"), None);
        assert!(Measure::parse("itl_p90_ms").unwrap().needs_streaming());
        assert!(!Measure::parse("e2el_p99_ms").unwrap().needs_streaming());
        let b = Breach { key: "ttft_p99_ms".into(), value: Some(2140.4), limit: 2000.0 };
        assert_eq!(b.describe(), "ttft_p99 2140 ms > 2000 ms");
        assert!((b.over_pct().unwrap() - 7.02).abs() < 0.01);
        let e = Breach { key: "error_rate".into(), value: Some(0.031), limit: 0.01 };
        assert_eq!(e.describe(), "error_rate 0.031 > 0.01");
    }
}
