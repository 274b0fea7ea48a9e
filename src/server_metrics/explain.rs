//! What the server showed at a point, in one line ("queue 18 avg, KV cache 97% max, 312
//! preemptions"), and what bounded it: memory (the KV cache), admission (a queue for slots), or
//! neither (compute per step, or the client).

use serde::Serialize;

use super::figures::ServerSummary;

/// A KV cache at least this full (percent, largest scrape) counts as full.
pub const KV_FULL_PCT: f64 = 90.0;
/// A mean queue at least this long counts as a queue (or a largest scrape of at least
/// [`QUEUE_MAX_MIN`]: aiperf's window includes idle scrapes at its ends, which dilute the mean of
/// a short run).
pub const QUEUE_MIN: f64 = 0.5;
/// See [`QUEUE_MIN`].
pub const QUEUE_MAX_MIN: f64 = 2.0;

/// What bounded a point, as the server's figures show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Bound {
    /// Sequences were preempted, or the KV cache was full.
    MemoryBound,
    /// Requests queued for a slot while the KV cache had room.
    AdmissionBound,
    /// No queue and room in the KV cache.
    NotQueued,
}

/// The explanation of a point.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    /// `queue 18 avg (max 24), running 32 avg, KV cache 97% max, 312 preemptions`.
    pub facts: String,
    /// `None` when the server reported neither a queue nor the KV cache.
    pub bound: Option<Bound>,
    /// `the knee is memory-bound: ...`.
    pub verdict: Option<String>,
}

impl Explanation {
    /// `facts: verdict`, or the facts alone.
    pub fn line(&self) -> String {
        match &self.verdict {
            Some(v) => format!("{}: {v}", self.facts),
            None => self.facts.clone(),
        }
    }
}

fn n(v: f64) -> String {
    if (v - v.round()).abs() < 0.05 { format!("{v:.0}") } else { format!("{v:.1}") }
}

/// The explanation of a point's server figures (`None` without any of the figures it uses).
pub fn explain(s: &ServerSummary) -> Option<Explanation> {
    let (waiting, waiting_max) = (s.mean("waiting_avg"), s.mean("waiting_max"));
    let (running, kv_max) = (s.mean("running_avg"), s.mean("kv_cache_max_pct"));
    let preempted = s.mean("preemptions");
    let mut facts = Vec::new();
    if let Some(w) = waiting {
        facts.push(match waiting_max {
            Some(m) => format!("queue {} avg (max {})", n(w), n(m)),
            None => format!("queue {} avg", n(w)),
        });
    }
    if let Some(r) = running {
        facts.push(format!("running {} avg", n(r)));
    }
    if let Some(k) = kv_max {
        facts.push(format!("KV cache {k:.0}% max"));
    }
    if let Some(p) = preempted {
        facts.push(format!("{} preemptions", n(p)));
    }
    if facts.is_empty() {
        return None;
    }
    let memory = preempted.is_some_and(|p| p > 0.0) || kv_max.is_some_and(|k| k >= KV_FULL_PCT);
    let queued =
        waiting.is_some_and(|w| w >= QUEUE_MIN) || waiting_max.is_some_and(|m| m >= QUEUE_MAX_MIN);
    let (bound, verdict) = if memory {
        (
            Some(Bound::MemoryBound),
            Some("memory-bound (the KV cache is full: fewer sequences fit at once; more KV memory, shorter sequences or a smaller `max_num_seqs` move the knee)".to_owned()),
        )
    } else if queued {
        let cap = s.mean("running_max").map(|m| format!(" (at most {} ran at once)", n(m)));
        let room = if kv_max.is_some() { " while the KV cache had room" } else { "" };
        (
            Some(Bound::AdmissionBound),
            Some(format!(
                "admission-bound: requests waited for a slot{}{room}; more slots (`max_num_seqs`, llama.cpp's `--parallel`) move the knee",
                cap.unwrap_or_default()
            )),
        )
    } else if waiting.is_some() {
        let room = if kv_max.is_some() { " and room in the KV cache" } else { "" };
        (
            Some(Bound::NotQueued),
            Some(format!(
                "no queue{room}: the server admitted every request, so the limit is its time per step (compute), or the client"
            )),
        )
    } else {
        (None, None)
    };
    Some(Explanation { facts: facts.join(", "), bound, verdict })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server_metrics::figures::FigureValue;

    fn summary(pairs: &[(&'static str, f64)]) -> ServerSummary {
        let mut s = ServerSummary::default();
        for (k, v) in pairs {
            s.figures.insert(k, FigureValue { mean: *v, n: 1, ci_low: None, ci_high: None });
        }
        s
    }

    #[test]
    fn the_bound_follows_the_figures() {
        let e = explain(&summary(&[
            ("waiting_avg", 18.0),
            ("waiting_max", 24.0),
            ("kv_cache_max_pct", 97.2),
            ("preemptions", 312.0),
        ]))
        .unwrap();
        assert_eq!(e.facts, "queue 18 avg (max 24), KV cache 97% max, 312 preemptions");
        assert_eq!(e.bound, Some(Bound::MemoryBound));
        let e = explain(&summary(&[
            ("waiting_avg", 3.6),
            ("running_max", 4.0),
            ("kv_cache_max_pct", 12.0),
            ("preemptions", 0.0),
        ]))
        .unwrap();
        assert_eq!(e.bound, Some(Bound::AdmissionBound));
        assert!(e.line().contains("at most 4 ran at once"), "{}", e.line());
        let e = explain(&summary(&[("waiting_avg", 0.1), ("kv_cache_max_pct", 40.0)])).unwrap();
        assert_eq!(e.bound, Some(Bound::NotQueued));
        assert!(explain(&summary(&[("prompt_tokens", 10.0)])).is_none());
        // llama.cpp: no KV-cache gauge, so nothing is said of it.
        let e = explain(&summary(&[("waiting_avg", 1.5), ("running_max", 2.0)])).unwrap();
        assert_eq!(e.bound, Some(Bound::AdmissionBound));
        assert!(!e.line().contains("KV"), "{}", e.line());
        let e = explain(&summary(&[("waiting_avg", 0.0), ("waiting_max", 0.0)])).unwrap();
        assert_eq!(e.bound, Some(Bound::NotQueued));
        assert!(!e.line().contains("KV"), "{}", e.line());
    }
}
