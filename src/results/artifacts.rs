//! Whether a run directory's artifacts are usable ([`check_artifacts`]): the judgement the run
//! stage, `--resume` and the reports share.

use std::path::Path;

use serde_json::Value;

pub use crate::records::Artifacts;

use super::{AGGREGATE_JSON_FILE, READY_MARKER_FILE, aggregate_json, multirun};

/// Checks a run directory's artifacts (see [`Artifacts`]).
pub fn check_artifacts(run_dir: &Path) -> Artifacts {
    if multirun::is_multi_run(run_dir) {
        return check_multi_run(run_dir);
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
    match aggregate_json::read_cached(&agg) {
        Ok(a) => Artifacts::Complete {
            errors: a.avg("error_request_count").filter(|e| *e > 0.0).map_or(0, |e| e as u64),
        },
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
