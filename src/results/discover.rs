//! A directory sweeper did not write: the NeMo runner's batch (`<combination>/` with
//! `run_metadata.json` holding `sweep_params`), or plain aiperf artifact directories. Runs are
//! found by their files; parameters come from `sweep_params` when a run has them, else from the
//! load point aiperf recorded (only the values that differ between the runs).

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use super::batch::BatchResults;
use super::point::load_point;
use super::points::Judge;
use super::run::{Entry, load_run};
use super::run_records::read_meta;
use super::{
    AGGREGATE_JSON_FILE, JSONL_FILE, READY_MARKER_FILE, ResultsError, aggregate_json, multirun,
};
use crate::records::{self, PROCESS_RESULT_FILE, RUN_METADATA_FILE};

/// Files that make a directory a run: aiperf's exports, or a runner's record of one.
const RUN_MARKERS: [&str; 5] =
    [AGGREGATE_JSON_FILE, JSONL_FILE, READY_MARKER_FILE, RUN_METADATA_FILE, PROCESS_RESULT_FILE];

/// Reads a directory sweeper did not write (see the module's documentation).
pub(super) fn discover(batch_dir: &Path) -> Result<BatchResults, ResultsError> {
    let dirs = find_run_dirs(batch_dir)?;
    if dirs.is_empty() {
        return Err(ResultsError::NotABatch { dir: batch_dir.to_path_buf() });
    }
    let (mut entries, from_records) = entries_of(batch_dir, dirs);
    if !from_records || entries.iter().all(|e| e.params.is_empty()) {
        params_from_aiperf(batch_dir, &mut entries);
    }
    let swept_keys: Vec<String> = entries
        .iter()
        .flat_map(|e| e.params.keys().cloned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let judge = Judge::default();
    let runs = entries.iter().map(|e| load_run(batch_dir, e, None, &judge)).collect();
    Ok(BatchResults {
        batch_dir: batch_dir.to_path_buf(),
        batch_name: batch_name_of(batch_dir),
        swept_keys,
        finished: true,
        interrupted: false,
        runs,
        warnings: vec![format!(
            "`{}` was not written by sweeper: runs found by their files, parameters from {}",
            batch_dir.display(),
            if from_records { "each run's run_metadata.json" } else { "what aiperf recorded" }
        )],
        tt_model_id: None,
        repeats: None,
        load_search: None,
        ab: None,
        cost: None,
        judge,
        entries,
    })
}

/// The run directories under `root` (relative paths, sorted): every directory holding one of
/// [`RUN_MARKERS`], not looking inside a run (aiperf's `phases/`, `logs/`...). Bounded: at most
/// 6 levels deep and 100,000 directories.
fn find_run_dirs(root: &Path) -> Result<Vec<String>, ResultsError> {
    let mut out = Vec::new();
    let mut batches = Vec::new();
    let mut stack = vec![(root.to_path_buf(), 0usize)];
    let mut seen = 0usize;
    while let Some((dir, depth)) = stack.pop() {
        seen += 1;
        if seen > 100_000 {
            break;
        }
        if dir != root
            && [records::PLAN_FILE, records::MANIFEST_FILE].iter().any(|m| dir.join(m).is_file())
        {
            batches.push(dir.display().to_string());
            continue;
        }
        if RUN_MARKERS.iter().any(|m| dir.join(m).is_file()) || multirun::is_multi_run(&dir) {
            let rel = dir.strip_prefix(root).map(|p| p.to_string_lossy().into_owned());
            out.push(rel.unwrap_or_default());
            continue;
        }
        if depth >= 6 {
            continue;
        }
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push((e.path(), depth + 1));
            }
        }
    }
    if !batches.is_empty() {
        batches.sort();
        return Err(ResultsError::Batches { dir: root.to_path_buf(), found: batches });
    }
    out.sort();
    Ok(out)
}

/// One combination per run directory, with the parameters its `run_metadata.json` records
/// (`sweep_params`, merged over `base_config`), and whether every run has that record.
fn entries_of(batch_dir: &Path, dirs: Vec<String>) -> (Vec<Entry>, bool) {
    let mut entries: Vec<Entry> = Vec::new();
    let mut from_records = true;
    for (index, dir) in dirs.into_iter().enumerate() {
        let run_dir = batch_dir.join(&dir);
        let meta = read_meta(&run_dir.join(RUN_METADATA_FILE)).ok();
        let params = meta.as_ref().and_then(|m| m.sweep_params.clone());
        from_records &= params.is_some() || meta.is_some();
        let mut merged = meta.map(|m| m.base_config).unwrap_or_default();
        let params: records::Params = params.unwrap_or_default().into_iter().collect();
        for (k, v) in &params {
            merged.insert(k.clone(), v.clone());
        }
        entries.push(Entry::single(index, dir, params, super::point::looked_up(&merged)));
    }
    (entries, from_records)
}

/// No runner records: each run's parameters are the load-point values aiperf recorded that vary
/// across the runs.
fn params_from_aiperf(batch_dir: &Path, entries: &mut [Entry]) {
    let recorded: Vec<records::Params> =
        entries.iter().map(|e| recorded_params(&batch_dir.join(&e.dir))).collect();
    let varying: BTreeSet<String> = recorded
        .iter()
        .flat_map(|p| p.keys().cloned())
        .filter(|k| {
            let vals: BTreeSet<String> = recorded
                .iter()
                .map(|p| p.get(k).map(Value::to_string).unwrap_or_default())
                .collect();
            vals.len() > 1
        })
        .collect();
    for (e, r) in entries.iter_mut().zip(recorded) {
        e.params = r.into_iter().filter(|(k, _)| varying.contains(k)).collect();
    }
}

/// The load-point values aiperf recorded for a run (`input_config`), under sweeper's keys, for
/// runs without a record of their parameters.
fn recorded_params(run_dir: &Path) -> records::Params {
    let mut p = records::Params::new();
    let Ok(agg) = aggregate_json::read_cached(&run_dir.join(AGGREGATE_JSON_FILE)) else {
        return p;
    };
    let lp = load_point(&records::Params::new(), &serde_json::Map::new(), Some(&agg));
    for (k, v) in [
        ("concurrency", lp.concurrency),
        ("request_rate", lp.request_rate),
        ("prompt_input_tokens_mean", lp.isl),
        ("prompt_output_tokens_mean", lp.osl),
        ("request_count", lp.num_prompts),
    ] {
        if let Some(x) = v {
            let n = if x.fract() == 0.0 && x.abs() < 1e15 {
                Value::from(x as i64)
            } else {
                serde_json::json!(x)
            };
            p.insert(k.to_owned(), n);
        }
    }
    p
}

/// `<batch_name>/<YYYYMMDD_HHMMSS>` (the NeMo runner's) names the batch by its parent, else the
/// directory's own name does.
fn batch_name_of(batch_dir: &Path) -> String {
    let name_of = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
    let own = name_of(batch_dir).unwrap_or_default();
    let stamp = own.len() == 15
        && own.as_bytes()[8] == b'_'
        && own.replace('_', "").bytes().all(|b| b.is_ascii_digit());
    if stamp { batch_dir.parent().and_then(name_of).unwrap_or(own) } else { own }
}
