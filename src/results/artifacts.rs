//! Whether a run directory's artifacts are usable ([`check_artifacts`]): the judgement the run
//! stage, `--resume` and the reports share.

use std::path::Path;

use serde_json::Value;

pub use crate::records::Artifacts;

use super::{AGGREGATE_JSON_FILE, READY_MARKER_FILE, aggregate_json, multirun};

/// Checks a run directory's artifacts (see [`Artifacts`]); `profile_runs`: the run's
/// `num_profile_runs`, as its plan says (the run stage and `--resume` have it in memory).
pub fn check_artifacts(run_dir: &Path, profile_runs: Option<u64>) -> Artifacts {
    check_with(run_dir, multirun::is_multi_run(run_dir), profile_runs, aggregate_json::read_counts)
}

/// [`check_artifacts`] for a reader of the results, which has read the run's records and
/// looked at its layout already: `multi`, whether it is aiperf's multi-run layout
/// ([`multirun::is_multi_run`]); `profile_runs`, the `num_profile_runs` its
/// `run_metadata.json` asked for. The whole export is read (and cached), as the results read
/// it next.
pub(super) fn check_artifacts_reading_all(
    run_dir: &Path,
    multi: bool,
    profile_runs: Option<u64>,
) -> Artifacts {
    check_with(run_dir, multi, profile_runs, |p| {
        aggregate_json::read_cached(p)
            .map(|a| (a.avg("request_count"), a.avg("error_request_count")))
    })
}

/// The judgement, with `counts` reading the request and error counts of an export.
fn check_with(
    run_dir: &Path,
    multi: bool,
    profile_runs: Option<u64>,
    counts: impl Fn(&Path) -> Result<(Option<f64>, Option<f64>), aggregate_json::AggregateError>,
) -> Artifacts {
    if multi {
        return check_multi_run(run_dir);
    }
    // Asked for aiperf's repeats: single-run figures are not what was asked for.
    if let Some(n) = profile_runs.filter(|n| *n >= 2) {
        return Artifacts::Incomplete(format!(
            "aiperf was asked for {n} profile runs (`--num-profile-runs`) but wrote no multi-run layout (`{}/`, `{}/{}`): a success needs the aggregate",
            multirun::PROFILE_RUNS_DIR,
            multirun::AGGREGATE_DIR,
            multirun::MULTI_AGGREGATE_FILE
        ));
    }
    let ready = run_dir.join(READY_MARKER_FILE);
    let Ok(text) = std::fs::read_to_string(&ready) else {
        return Artifacts::Incomplete(format!("{READY_MARKER_FILE} missing"));
    };
    let marker: Option<Value> = serde_json::from_str(&text).ok();
    if marker.as_ref().and_then(|m| m.get("was_cancelled")).and_then(Value::as_bool) == Some(true) {
        return Artifacts::Incomplete("aiperf reports the run was cancelled".into());
    }
    let agg = run_dir.join(AGGREGATE_JSON_FILE);
    if !agg.is_file() {
        return Artifacts::Incomplete(format!("{AGGREGATE_JSON_FILE} missing"));
    }
    match counts(&agg) {
        // An export without its request count (`{}`, a count that is not a number) has no
        // figures to report: not a success.
        Ok((requests, _)) if !requests.is_some_and(|n| n.is_finite() && n >= 0.0) => {
            Artifacts::Incomplete(format!(
                "{AGGREGATE_JSON_FILE} holds no request count: no figures to report"
            ))
        }
        Ok((_, errors)) => {
            Artifacts::Complete { errors: errors.filter(|e| *e > 0.0).map_or(0, |e| e as u64) }
        }
        Err(e) => Artifacts::Incomplete(format!("{AGGREGATE_JSON_FILE} unreadable: {e}")),
    }
}

/// [`check_artifacts`] of aiperf's `--num-profile-runs` layout: its multi-run aggregate must be
/// there and parse; the failed requests are summed over the profile runs that finished.
fn check_multi_run(run_dir: &Path) -> Artifacts {
    let agg = run_dir.join(multirun::AGGREGATE_DIR).join(multirun::MULTI_AGGREGATE_FILE);
    if !agg.is_file() {
        let runs = multirun::run_dirs(run_dir);
        let ok = runs.iter().filter(|(_, d)| multirun::run_ready(d)).count();
        return Artifacts::Incomplete(format!(
            "aiperf wrote no multi-run aggregate (`{}/{}`): {ok} of its {} profile runs succeeded, at least 2 are needed",
            multirun::AGGREGATE_DIR,
            multirun::MULTI_AGGREGATE_FILE,
            runs.len()
        ));
    }
    match multirun::read_aggregate(run_dir) {
        Ok(_) => Artifacts::Complete {
            errors: multirun::run_dirs(run_dir)
                .iter()
                .filter(|(_, d)| multirun::run_ready(d))
                .filter_map(|(_, d)| aggregate_json::read_cached(&d.join(AGGREGATE_JSON_FILE)).ok())
                .filter_map(|a| a.avg("error_request_count"))
                .filter(|e| *e > 0.0)
                .map(|e| e as u64)
                .sum(),
        },
        Err(e) => Artifacts::Incomplete(format!("aiperf's multi-run aggregate is unreadable: {e}")),
    }
}
