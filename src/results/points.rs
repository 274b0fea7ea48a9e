//! The points of a batch: interleaved repeats (`<point>/repeat_<k>`) merged into their point,
//! and how the spread across a point's repeats is judged ([`Judge`]).

use super::RunResult;
use super::run::Entry;
use crate::records::{self, RunStatus};
use crate::server_metrics::ServerSummary;
use crate::stats::confidence::DEFAULT_CONFIDENCE;
use crate::stats::repeats::{self, DEFAULT_NOISE_CV_MAX, Repeat, Spreads};

/// How the spread across repeats is judged.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct Judge {
    /// Confidence level of intervals (`None`: aiperf's own when it recorded one, else 0.95).
    confidence: Option<f64>,
    noise_cv_max: Option<f64>,
}

impl Judge {
    pub(super) fn of(r: Option<&records::Repeats>) -> Judge {
        Judge { confidence: r.map(|r| r.confidence), noise_cv_max: r.map(|r| r.noise_cv_max) }
    }

    /// Fills a point's spread and noisy figures from its repeats.
    pub(super) fn judge(&self, run: &mut RunResult) {
        let confidence = self.confidence.or(run.aiperf_confidence).unwrap_or(DEFAULT_CONFIDENCE);
        run.spread = Spreads::of(&run.repeats, confidence);
        run.server = ServerSummary::of(&run.server_runs, confidence);
        run.noisy = run
            .spread
            .as_ref()
            .map(|s| repeats::noisy(s, self.noise_cv_max.unwrap_or(DEFAULT_NOISE_CV_MAX)))
            .unwrap_or_default();
    }
}

/// `(Some(k), "<point dir>")` for an interleaved repeat's `<point dir>/repeat_<k>` (or
/// `repeat_<k>`), `(None, dir)` otherwise.
pub(super) fn repeat_of_dir(dir: &str) -> (Option<u32>, String) {
    let (point, last) = match dir.rsplit_once('/') {
        Some((p, l)) => (p, l),
        None => ("", dir),
    };
    match last.strip_prefix("repeat_").and_then(|k| k.parse::<u32>().ok()) {
        Some(k) => (Some(k), point.to_owned()),
        None => (None, dir.to_owned()),
    }
}

/// The points of a batch from the results of its runs (same order as `entries`): a run is its
/// own point, except interleaved repeats, which are merged into their point.
pub(super) fn points_of(entries: &[Entry], units: Vec<RunResult>, judge: &Judge) -> Vec<RunResult> {
    if entries.iter().all(|e| e.repeat.is_none()) {
        return units;
    }
    let mut groups: Vec<(usize, Vec<(u32, RunResult)>)> = Vec::new();
    for (e, u) in entries.iter().zip(units) {
        let k = e.repeat.unwrap_or(1);
        match groups.iter_mut().find(|(p, _)| *p == e.point) {
            Some((_, v)) => v.push((k, u)),
            None => groups.push((e.point, vec![(k, u)])),
        }
    }
    groups.into_iter().map(|(point, units)| merge_point(point, units, judge)).collect()
}

/// One point measured in interleaved repeats, from the results of its runs.
pub(super) fn merge_point(
    point: usize,
    mut units: Vec<(u32, RunResult)>,
    judge: &Judge,
) -> RunResult {
    units.sort_by_key(|(k, _)| *k);
    let first = units[0].1.clone();
    let dir = repeat_of_dir(&first.dir).1;
    let repeats: Vec<Repeat> = units
        .iter()
        .map(|(k, u)| Repeat {
            k: *k,
            dir: u.dir.clone(),
            status: u.status,
            reason: u.reason.clone(),
            metrics: u.metrics.as_deref().cloned(),
        })
        .collect();
    let (status, reason) = merged_status(&units);
    let prefixed = |f: &dyn Fn(&RunResult) -> &Vec<String>| -> Vec<String> {
        units
            .iter()
            .flat_map(|(k, u)| f(u).iter().map(move |l| format!("repeat {k}: {l}")))
            .collect()
    };
    let good = units.iter().find(|(_, u)| u.status.is_success()).map(|(_, u)| u);
    let mut run = RunResult {
        index: point,
        dir,
        status,
        reason,
        metrics: repeats::means(&repeats).map(std::sync::Arc::new),
        error_lines: prefixed(&|u| &u.error_lines),
        connection_closed: units.iter().map(|(_, u)| u.connection_closed).sum(),
        problems: prefixed(&|u| &u.problems),
        warnings: prefixed(&|u| &u.warnings),
        length_mismatches: good.map(|u| u.length_mismatches.clone()).unwrap_or_default(),
        aggregate: good.and_then(|u| u.aggregate.clone()).or(first.aggregate.clone()),
        timestamp: units.iter().find_map(|(_, u)| u.timestamp.clone()),
        repeats,
        spread: None,
        noisy: Vec::new(),
        aiperf_confidence: None,
        conditions: units.iter().flat_map(|(_, u)| u.conditions.clone()).collect(),
        server_runs: units.iter().flat_map(|(_, u)| u.server_runs.clone()).collect(),
        server: None,
        ..first
    };
    judge.judge(&mut run);
    run
}

/// The status of a point from its repeats' (sorted by `k`, at least one): not run while none
/// ran, running while one is unfinished, else succeeded, partial or failed, and why.
fn merged_status(units: &[(u32, RunResult)]) -> (RunStatus, Option<String>) {
    let n = units.len();
    let ok = units.iter().filter(|(_, u)| u.status.is_success()).count();
    let not_run = |s: RunStatus| matches!(s, RunStatus::Pending | RunStatus::Skipped);
    let unfinished =
        units.iter().filter(|(_, u)| not_run(u.status) || u.status == RunStatus::Running).count();
    let failed: Vec<&(u32, RunResult)> = units
        .iter()
        .filter(|(_, u)| {
            !u.status.is_success() && !not_run(u.status) && u.status != RunStatus::Running
        })
        .collect();
    let first_failure = failed.first().map(|(k, u)| {
        format!("repeat {k}: {}", u.reason.as_deref().unwrap_or("no reason recorded"))
    });
    if unfinished == n && units.iter().all(|(_, u)| not_run(u.status)) {
        (units[0].1.status, None)
    } else if unfinished > 0 {
        (RunStatus::Running, None)
    } else if ok == n {
        let partial = units.iter().filter(|(_, u)| u.status == RunStatus::Partial).count();
        if partial > 0 {
            (RunStatus::Partial, Some(format!("requests failed in {partial} of {n} repeats")))
        } else {
            (RunStatus::Succeeded, None)
        }
    } else if ok == 0 {
        (failed[0].1.status, first_failure)
    } else {
        (
            RunStatus::Partial,
            Some(format!(
                "{} of {n} repeats failed ({}); its figures are of the other {ok}",
                n - ok,
                first_failure.unwrap_or_default()
            )),
        )
    }
}
