//! The targets of a combination: the config's target points whose `match` it satisfies, and the
//! entries of the reference file at its point.

use serde_json::Value;

use super::Combination;
use crate::config::{Config, values_equal};
use crate::records::TargetCheck;

/// Targets that apply to a combination: config points whose `match` it satisfies, and entries
/// of the reference file whose ISL/OSL/concurrency (and N, if both give it) equal its own.
pub(super) fn targets_for(config: &Config, c: &Combination) -> Vec<TargetCheck> {
    let Some(t) = &config.targets else { return Vec::new() };
    let mut out = Vec::new();
    for p in &t.points {
        let matches = p.match_.iter().all(|(k, v)| c.get(k).is_some_and(|mv| values_equal(mv, v)));
        if matches {
            let tol = p.tolerance.unwrap_or(t.tolerance);
            for (metric, target) in p.metrics() {
                out.push(TargetCheck {
                    metric: metric.clone(),
                    target: *target,
                    tolerance: tol,
                    source: "config".into(),
                });
            }
        }
    }
    if let Some(r) = &config.reference {
        out.extend(r.checks_for(&reference_point(c), t.tolerance));
    }
    out
}

/// Where a combination sits for a reference file's matching rule.
pub fn reference_point(c: &Combination) -> crate::tt::reference::Point {
    let num = |k: &str| c.get(k).and_then(Value::as_f64);
    crate::tt::reference::Point {
        isl: num("isl"),
        osl: num("osl"),
        concurrency: num("concurrency"),
        num_prompts: num("request_count"),
    }
}
