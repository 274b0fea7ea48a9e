//! Reading one run from its directory into a [`RunResult`]: its records and status, aiperf's
//! exports (the aggregate JSON, else its CSV, else the JSONL), and for `--num-profile-runs`
//! each profile run as a repeat.

use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

use super::aggregate_json::{self, AggregateExport, AggregateSummary};
use super::convert::{metrics_from_aggregate, metrics_from_csv, metrics_from_jsonl};
use super::point::{length_mismatches, load_point, model_ids};
use super::points::Judge;
use super::run_records::{Meta, Process, RecordError, read_meta, read_process};
use super::{
    AGGREGATE_CSV_FILE, AGGREGATE_JSON_FILE, Artifacts, JSONL_FILE, KeyMetrics, READY_MARKER_FILE,
    RunResult, artifacts, csv, jsonl, multirun,
};
use crate::model::metrics::Metric;
use crate::records::{self, PROCESS_RESULT_FILE, RUN_METADATA_FILE, RunStatus, TargetCheck};
use crate::server_metrics::{self, ServerFigures};
use crate::stats::repeats::{self, Repeat};

/// What the plan (or the manifest) says of one combination: enough to read it from disk.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub(super) index: usize,
    pub(super) dir: String,
    pub(super) params: records::Params,
    /// The merged config's keys the results look up ([`super::point::looked_up`]).
    pub(super) merged: serde_json::Map<String, Value>,
    pub(super) targets: Vec<TargetCheck>,
    /// Interleaved repeats: its repeat (1-based) and point.
    pub(super) repeat: Option<u32>,
    pub(super) point: usize,
    /// A search's probe.
    pub(super) probe: Option<records::Probe>,
}

impl Entry {
    /// A combination measured once, without targets or a probe: its own point.
    pub(super) fn single(
        index: usize,
        dir: String,
        params: records::Params,
        merged: serde_json::Map<String, Value>,
    ) -> Entry {
        Entry {
            index,
            dir,
            params,
            merged,
            targets: Vec::new(),
            repeat: None,
            point: index,
            probe: None,
        }
    }
}

/// Reads one combination's results from its directory: the run stage's view of a finished run,
/// for the decisions that depend on it (an early stop, a search's next probe).
pub fn read_one(
    batch_dir: &Path,
    index: usize,
    dir: &str,
    params: &records::Params,
    merged: &serde_json::Map<String, Value>,
    repeats: Option<&records::Repeats>,
) -> RunResult {
    let e = Entry::single(index, dir.to_owned(), params.clone(), super::point::looked_up(merged));
    load_run(batch_dir, &e, None, &Judge::of(repeats))
}

/// What reading a run's files turned up besides its figures, in the order found.
#[derive(Default)]
struct Findings {
    /// Unreadable files (see [`RunResult::problems`]).
    problems: Vec<String>,
    warnings: Vec<String>,
    /// Request errors by kind (see [`RunResult::error_lines`]).
    error_lines: Vec<String>,
    /// Requests that failed because the server closed the connection.
    connection_closed: usize,
}

/// aiperf's `--num-profile-runs` runs of one combination.
#[derive(Default)]
struct ProfileRuns {
    repeats: Vec<Repeat>,
    /// aiperf's multi-run aggregate.
    aggregate: Option<multirun::MultiAggregate>,
}

/// Reads combination `e` (the manifest's line for it, when there is one).
pub(super) fn load_run(
    batch_dir: &Path,
    e: &Entry,
    manifest: Option<&records::ManifestEntry>,
    judge: &Judge,
) -> RunResult {
    let run_dir = if e.dir.is_empty() { batch_dir.to_path_buf() } else { batch_dir.join(&e.dir) };
    let mut found = Findings::default();
    let (meta, process) = read_records(&run_dir, &mut found);
    let merged = match &meta {
        Some(m) if e.merged.is_empty() => super::point::looked_up(&m.base_config),
        _ => e.merged.clone(),
    };
    let multi = multirun::is_multi_run(&run_dir);
    let (mut status, reason) =
        run_status(&run_dir, multi, meta.as_ref(), process.as_ref(), manifest);
    let profile = read_profile_runs(&run_dir, multi, &e.dir, &mut status, &mut found);
    let aggregate = read_aggregate(&run_dir, multi, status, &mut found);
    let mut metrics = if multi {
        repeats::means(&profile.repeats)
    } else {
        aggregate.as_deref().map(metrics_from_aggregate)
    };
    if metrics.is_none() && run_dir.join(AGGREGATE_JSON_FILE).exists() {
        metrics = metrics_from_csv_export(&run_dir, &mut found);
    }
    if status == RunStatus::Succeeded
        && process.is_none()
        && metrics.as_ref().and_then(|m| m.value(Metric::Errors)).is_some_and(|e| e > 0.0)
    {
        status = RunStatus::Partial;
    }
    if multi {
        // Each profile run's errors are listed by `read_profile_runs`.
    } else if let Some(a) = &aggregate {
        note_errors(a, None, &mut found);
    } else if metrics.is_none() && status_has_results(status) {
        metrics = metrics_from_jsonl_export(&run_dir, &mut found);
    }
    let load = load_point(&e.params, &merged, aggregate.as_deref());
    let (model_id, tokenizer_id) = model_ids(&e.params, &merged, aggregate.as_deref());
    let mut run = RunResult {
        index: e.index,
        dir: e.dir.clone(),
        params: e.params.clone(),
        status,
        reason,
        length_mismatches: length_mismatches(&load, aggregate.as_deref()),
        load,
        model_id,
        tokenizer_id,
        timestamp: meta
            .and_then(|m| m.timestamp)
            .or_else(|| aggregate.as_ref().and_then(|a| a.start_time.clone())),
        metrics: metrics.map(std::sync::Arc::new),
        error_lines: found.error_lines,
        connection_closed: found.connection_closed,
        targets: e.targets.clone(),
        problems: found.problems,
        warnings: with_connection_warning(found.warnings, &e.dir, found.connection_closed),
        aggregate: aggregate.as_deref().map(AggregateSummary::of),
        repeats: profile.repeats,
        spread: None,
        noisy: Vec::new(),
        aiperf_confidence: profile.aggregate.and_then(|a| a.confidence_level),
        probe: e.probe,
        conditions: match process {
            Some(Process::Sweeper(p)) => p.conditions.into_iter().collect(),
            _ => Vec::new(),
        },
        server_runs: Vec::new(),
        server: None,
    };
    run.server_runs = server_runs(&run_dir, multi, &mut run.warnings);
    judge.judge(&mut run);
    run
}

/// The server figures of each of the run's runs with aiperf's server-metrics export (each
/// profile run of a multi-run layout). An unreadable export is a warning: the client figures
/// stand without it.
fn server_runs(run_dir: &Path, multi: bool, warnings: &mut Vec<String>) -> Vec<ServerFigures> {
    let dirs: Vec<std::path::PathBuf> = if multi {
        multirun::run_dirs(run_dir).into_iter().map(|(_, d)| d).collect()
    } else {
        vec![run_dir.to_path_buf()]
    };
    let mut out = Vec::new();
    for d in dirs {
        match server_metrics::export::read(&d) {
            Ok(Some(e)) => out.push(ServerFigures::of(&e)),
            Ok(None) => {}
            Err(e) => warnings.push(format!("{e}; its server figures are left out")),
        }
    }
    out
}

/// The run's `run_metadata.json` and `process_result.json`, those that are there (an unreadable
/// one is a problem).
fn read_records(run_dir: &Path, found: &mut Findings) -> (Option<Meta>, Option<Process>) {
    let meta = kept(read_meta(&run_dir.join(RUN_METADATA_FILE)), found);
    let process = kept(read_process(&run_dir.join(PROCESS_RESULT_FILE)), found);
    (meta, process)
}

/// A record as read: none when it is not written (yet), else its problem noted in `found`.
fn kept<T>(read: Result<T, RecordError>, found: &mut Findings) -> Option<T> {
    match read {
        Ok(v) => Some(v),
        Err(RecordError::Read(e)) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            found.problems.push(e.to_string());
            None
        }
    }
}

/// The run's status and why: what its records say, corrected by what is on disk (aiperf's
/// ready marker, the artifact check) and explained by its log's last line when nothing else
/// does.
fn run_status(
    run_dir: &Path,
    multi: bool,
    meta: Option<&Meta>,
    process: Option<&Process>,
    manifest: Option<&records::ManifestEntry>,
) -> (RunStatus, Option<String>) {
    let (mut status, mut reason) = recorded_status(meta.is_some(), process, manifest);
    // Neither record says it finished, but aiperf wrote its ready marker (written last, only on
    // success): sweeper was stopped between aiperf's exit and process_result.json.
    let ready = run_dir.join(READY_MARKER_FILE);
    let unfinished = matches!(status, RunStatus::Pending | RunStatus::Running);
    let multi_done = multi
        && run_dir.join(multirun::AGGREGATE_DIR).join(multirun::MULTI_AGGREGATE_FILE).is_file();
    if unfinished && process.is_none() && (ready.exists() || multi_done) {
        status = RunStatus::Succeeded;
    }
    // A success only counts when its results are there and parse: the same judgement as the
    // run stage's and `--resume`'s (which runs such a combination again).
    if status.is_success()
        && let Artifacts::Incomplete(why) = artifacts::check_artifacts_reading_all(
            run_dir,
            multi,
            meta.and_then(|m| m.profile_runs),
        )
    {
        status = RunStatus::Failed;
        reason = Some(format!("recorded as succeeded, but its results are unusable: {why}"));
    }
    if reason.is_none()
        && !status.is_success()
        && let Some(Process::Sweeper(p)) = process
        && let Some(tail) = p.log_tail.as_ref()
    {
        reason = tail.lines().rev().find(|l| !l.trim().is_empty()).map(|l| l.trim().to_owned());
    }
    (status, reason)
}

/// The status the records give: `process_result.json`, else the manifest, else running (its
/// metadata is written) or pending.
fn recorded_status(
    has_meta: bool,
    process: Option<&Process>,
    manifest: Option<&records::ManifestEntry>,
) -> (RunStatus, Option<String>) {
    match (process, manifest) {
        (Some(Process::Sweeper(p)), _) => (p.status, p.reason.clone()),
        // The NeMo runner writes its process_result.json only when aiperf exited 0.
        (Some(Process::Nemo { returncode: Some(0) }), _) => (RunStatus::Succeeded, None),
        (Some(Process::Nemo { returncode }), _) => (
            RunStatus::Failed,
            Some(format!(
                "aiperf exited with {returncode:?} (the NeMo runner's process_result.json)"
            )),
        ),
        (None, Some(m)) => (m.status, m.reason.clone()),
        (None, None) if has_meta => (RunStatus::Running, None),
        (None, None) => (RunStatus::Pending, None),
    }
}

/// aiperf's `--num-profile-runs` layout: each profile run a repeat (its errors listed with its
/// label), and aiperf's aggregate over them. A success with a failed or partial profile run
/// says so (`status` becomes partial for the latter). Nothing when the run is not in that
/// layout (`multi`: [`multirun::is_multi_run`]).
fn read_profile_runs(
    run_dir: &Path,
    multi: bool,
    dir: &str,
    status: &mut RunStatus,
    found: &mut Findings,
) -> ProfileRuns {
    let mut out = ProfileRuns::default();
    if !multi {
        return out;
    }
    let mut first_good = None;
    for (i, (label, d)) in multirun::run_dirs(run_dir).into_iter().enumerate() {
        let rel = if dir.is_empty() {
            format!("{}/{label}", multirun::PROFILE_RUNS_DIR)
        } else {
            format!("{dir}/{}/{label}", multirun::PROFILE_RUNS_DIR)
        };
        let k = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let (repeat, agg) = read_profile_run(k, rel, &label, &d, found);
        if let Some(a) = agg {
            first_good.get_or_insert(a);
        }
        out.repeats.push(repeat);
    }
    match multirun::read_aggregate(run_dir) {
        Ok(a) => out.aggregate = Some(a),
        Err(e) if status.is_success() => found.problems.push(e.to_string()),
        Err(_) => {}
    }
    if let Some(a) = &first_good {
        found.warnings.extend(a.warnings.iter().cloned());
    }
    let failed = out.repeats.iter().filter(|r| !r.status.is_success()).count();
    if failed > 0 && status.is_success() {
        found.warnings.push(format!(
            "{failed} of {} profile runs of `{}` failed; its figures are of the others",
            out.repeats.len(),
            run_dir.display()
        ));
    }
    if *status == RunStatus::Succeeded && out.repeats.iter().any(|r| r.status == RunStatus::Partial)
    {
        *status = RunStatus::Partial;
    }
    out
}

/// Profile run `k` (`label`, in `run_dir`; `rel` from the batch directory) as a repeat, and its
/// aggregate export when it finished and parses.
fn read_profile_run(
    k: u32,
    rel: String,
    label: &str,
    run_dir: &Path,
    found: &mut Findings,
) -> (Repeat, Option<Arc<AggregateExport>>) {
    let repeat = |status, reason, metrics| Repeat { k, dir: rel, status, reason, metrics };
    if !multirun::run_ready(run_dir) {
        let why = format!("profile run {label} did not finish");
        return (repeat(RunStatus::Failed, Some(why), None), None);
    }
    match aggregate_json::read_cached(&run_dir.join(AGGREGATE_JSON_FILE)) {
        Ok(a) => {
            note_errors(&a, Some(label), found);
            let m = metrics_from_aggregate(&a);
            let errs = m.value(Metric::Errors).is_some_and(|e| e > 0.0);
            let st = if errs { RunStatus::Partial } else { RunStatus::Succeeded };
            (repeat(st, None, Some(m)), Some(a))
        }
        Err(e) => {
            let e = e.to_string();
            found.problems.push(e.clone());
            (repeat(RunStatus::Failed, Some(e), None), None)
        }
    }
}

/// The run's aggregate export: its own, or for a multi-run layout the first finished profile
/// run's. An unreadable one is a problem, a missing one too when the run is marked succeeded.
fn read_aggregate(
    run_dir: &Path,
    multi: bool,
    status: RunStatus,
    found: &mut Findings,
) -> Option<Arc<AggregateExport>> {
    let agg_path = run_dir.join(AGGREGATE_JSON_FILE);
    if multi {
        return multirun::run_dirs(run_dir)
            .iter()
            .filter(|(_, d)| multirun::run_ready(d))
            .find_map(|(_, d)| aggregate_json::read_cached(&d.join(AGGREGATE_JSON_FILE)).ok());
    }
    match aggregate_json::read_cached(&agg_path) {
        Ok(a) => {
            found.warnings.extend(a.warnings.iter().cloned());
            Some(a)
        }
        Err(aggregate_json::AggregateError::Read { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            if status.is_success() {
                found.problems.push(format!(
                    "`{}` is missing although the run is marked {status:?}",
                    agg_path.display()
                ));
            }
            None
        }
        Err(e) => {
            found.problems.push(e.to_string());
            None
        }
    }
}

/// aiperf's `error_summary` into `found`: one line per kind (prefixed with the profile run's
/// `label`), and the requests that failed because the server closed the connection.
fn note_errors(a: &AggregateExport, label: Option<&str>, found: &mut Findings) {
    let lines = error_summary_lines(a);
    match label {
        Some(label) => found.error_lines.extend(lines.map(|l| format!("{label}: {l}"))),
        None => found.error_lines.extend(lines),
    }
    found.connection_closed += closed_connections(a);
}

/// `warnings`, and what to do about requests failed by a closed connection, if any.
fn with_connection_warning(mut warnings: Vec<String>, dir: &str, closed: usize) -> Vec<String> {
    if closed > 0 {
        warnings.push(super::connection::warning(dir, closed));
    }
    warnings
}

/// Requests of aiperf's `error_summary` that failed because the server closed the connection.
fn closed_connections(a: &AggregateExport) -> usize {
    a.error_summary
        .iter()
        .filter(|e| {
            let d = &e["error_details"];
            // aiohttp's error, its message, and what caused it (`ClientOSError` caused by
            // `ClientConnectionResetError('Cannot write to closing transport')`).
            let text =
                format!("{} {} {} {}", d["type"], d["message"], d["cause"], d["cause_chain"]);
            super::connection::closed(&text)
        })
        .map(|e| e["count"].as_u64().unwrap_or(0) as usize)
        .sum()
}

/// aiperf's `error_summary`, one line per kind: `Internal Server Error (500): 5`.
fn error_summary_lines(a: &AggregateExport) -> impl Iterator<Item = String> + '_ {
    a.error_summary.iter().map(|e| {
        let d = &e["error_details"];
        let kind = d["type"].as_str().unwrap_or("error");
        let code = d["code"].as_i64().map(|c| format!(" ({c})")).unwrap_or_default();
        format!("{kind}{code}: {}", e["count"])
    })
}

/// The figures from aiperf's CSV when its aggregate JSON is there but unreadable (the problem is
/// already recorded): the same numbers, to 2 decimals.
fn metrics_from_csv_export(run_dir: &Path, found: &mut Findings) -> Option<KeyMetrics> {
    let csv_path = run_dir.join(AGGREGATE_CSV_FILE);
    if !csv_path.exists() {
        return None;
    }
    match csv::read(&csv_path) {
        Ok(c) => {
            found.warnings.push(format!(
                "metrics of `{}` taken from `{}` (2 decimals) because `{}` is unreadable",
                run_dir.display(),
                AGGREGATE_CSV_FILE,
                AGGREGATE_JSON_FILE
            ));
            Some(metrics_from_csv(&c))
        }
        Err(e) => {
            found.problems.push(e.to_string());
            None
        }
    }
}

/// Whether aiperf may have got far enough to write per-request records.
fn status_has_results(status: RunStatus) -> bool {
    matches!(
        status,
        RunStatus::Failed
            | RunStatus::TimedOut
            | RunStatus::Interrupted
            | RunStatus::Partial
            | RunStatus::Succeeded
    )
}

/// Without an aggregate: what the JSONL (when aiperf got that far) says went wrong, and the
/// figures recomputed from it when some requests succeeded.
fn metrics_from_jsonl_export(run_dir: &Path, found: &mut Findings) -> Option<KeyMetrics> {
    let jl = run_dir.join(JSONL_FILE);
    if !jl.exists() {
        return None;
    }
    let s = match jsonl::summarize(
        &jl,
        jsonl::JsonlOptions { keep_samples: true, ..Default::default() },
    ) {
        Ok(s) => s,
        Err(e) => {
            found.problems.push(e.to_string());
            return None;
        }
    };
    if let Some(line) = s.first_bad_line {
        found.warnings.push(format!(
            "`{}`: {} of {} lines unreadable (first at line {line}, {}), skipped; \
             its figures are of the other lines",
            jl.display(),
            s.bad_lines,
            s.lines,
            s.first_bad_error.as_deref().unwrap_or("not JSON")
        ));
    }
    for (k, n) in &s.error_kinds {
        found.error_lines.push(format!("{k}: {n}"));
        if super::connection::closed(k) {
            found.connection_closed += *n as usize;
        }
    }
    if s.succeeded == 0 {
        return None;
    }
    found.warnings.push(format!(
        "latencies and token counts of `{}` recomputed from `{JSONL_FILE}` \
         (no readable aggregate)",
        run_dir.display()
    ));
    Some(metrics_from_jsonl(&s))
}
