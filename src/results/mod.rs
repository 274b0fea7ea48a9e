//! Parse a batch directory (the records `run` wrote and aiperf's artifacts) into typed results.
//!
//! Depends only on what is on disk, so `sweeper report <dir>` works on an old, running or
//! interrupted batch. A run whose files are missing or corrupt gets a `problem`; the others
//! still report.
//!
//! Metric mapping (aiperf tag -> sweeper/tt-inference-server name):
//! - TTFT <- `time_to_first_token`
//! - TPOT <- `inter_token_latency`: per request, (request_latency - TTFT) / (output tokens - 1),
//!   which is exactly vLLM's TPOT; its statistics are over requests.
//! - ITL  <- `inter_chunk_latency`: every gap between streamed chunks of every request, which is
//!   vLLM's ITL; its statistics are over chunks. (tt-inference-server fills both TPOT and ITL from
//!   `inter_token_latency`; sweeper does not.)
//! - E2EL <- `request_latency`

pub mod aggregate_json;
pub mod csv;
pub mod jsonl;
pub mod multirun;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use crate::model::metrics::{METRICS, Metric, Shape, Stat, Values};
use crate::model::options::canonical;
use crate::records::{
    self, BatchManifest, PROCESS_RESULT_FILE, PlanRecord, ProcessResult, RUN_METADATA_FILE,
    RunStatus, TargetCheck,
};
use crate::stats::repeats;
use aggregate_json::AggregateExport;

pub const AGGREGATE_JSON_FILE: &str = "profile_export_aiperf.json";
pub const AGGREGATE_CSV_FILE: &str = "profile_export_aiperf.csv";
pub const JSONL_FILE: &str = "profile_export.jsonl";
/// aiperf's marker, written last and only when the run succeeded.
pub const READY_MARKER_FILE: &str = ".aiperf_results_ready.json";

/// The measured metrics of one run (see [`crate::model::metrics`] for the table of what they are).
pub type KeyMetrics = Values;

/// Multiplier from an aiperf time unit to the table's unit (`ms` or `s`); 1 for other units.
fn unit_factor(aiperf_unit: Option<&str>, table_unit: &str) -> f64 {
    let to_ms = match aiperf_unit {
        Some("ns") => 1e-6,
        Some("us" | "µs") => 1e-3,
        Some("s" | "sec" | "seconds") => 1e3,
        Some("ms") => 1.0,
        _ => return 1.0,
    };
    match table_unit {
        "ms" => to_ms,
        "s" => to_ms / 1e3,
        _ => 1.0,
    }
}

/// From aiperf's aggregate JSON (the authoritative source).
pub fn metrics_from_aggregate(agg: &AggregateExport) -> KeyMetrics {
    let mut v = Values::default();
    for d in METRICS {
        // Older aiperf versions name the output token total `total_output_tokens`.
        let entry = d.aiperf.and_then(|tag| agg.metrics.get(tag)).or_else(|| {
            (d.metric == Metric::TotalOutputTokens)
                .then(|| agg.metrics.get("total_output_tokens"))
                .flatten()
        });
        let Some(m) = entry else { continue };
        let f = unit_factor(Some(m.unit.as_str()), d.unit);
        for st in Stat::ALL {
            v.set(d.metric, st, m.get(st.name()).map(|x| x * f));
        }
    }
    v.derive();
    v
}

/// From aiperf's CSV export (values rounded to 2 decimals), used when the aggregate JSON is
/// unreadable.
pub fn metrics_from_csv(c: &csv::CsvExport) -> KeyMetrics {
    let mut v = Values::default();
    for d in METRICS {
        let Some(name) = d.aiperf_csv else { continue };
        match d.shape {
            Shape::Distribution => {
                let Some(row) = c.stat(name) else { continue };
                let f = unit_factor(row.unit.as_deref(), d.unit);
                for st in Stat::ALL {
                    v.set(d.metric, st, row.stats.get(st.name()).map(|x| x * f));
                }
            }
            Shape::Scalar => v.set(d.metric, Stat::Avg, c.scalar(name)),
        }
    }
    v.derive();
    v
}

/// From a streamed JSONL summary (used when the aggregate JSON is missing).
pub fn metrics_from_jsonl(s: &jsonl::JsonlSummary) -> KeyMetrics {
    let mut v = Values::default();
    for (metric, sum) in [
        (Metric::Ttft, &s.ttft),
        (Metric::Tpot, &s.tpot),
        (Metric::Itl, &s.itl),
        (Metric::E2el, &s.e2el),
    ] {
        for (st, x) in [
            (Stat::Avg, sum.avg),
            (Stat::P50, sum.p50),
            (Stat::P90, sum.p90),
            (Stat::P95, sum.p95),
            (Stat::P99, sum.p99),
            (Stat::Std, sum.std),
            (Stat::Min, sum.min),
            (Stat::Max, sum.max),
        ] {
            v.set(metric, st, x);
        }
    }
    v.set(Metric::Completed, Stat::Avg, Some(s.succeeded as f64));
    v.set(Metric::Errors, Stat::Avg, Some(s.errors as f64));
    v.set(Metric::TotalInputTokens, Stat::Avg, Some(s.total_input_tokens));
    v.set(Metric::TotalOutputTokens, Stat::Avg, Some(s.total_output_tokens));
    v.derive();
    v
}

/// The load point of a combination: what tt-inference-server calls ISL, OSL, Concur and N.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LoadPoint {
    pub isl: Option<f64>,
    pub osl: Option<f64>,
    pub concurrency: Option<f64>,
    pub request_rate: Option<f64>,
    pub num_prompts: Option<f64>,
}

/// How far a measured mean sequence length may be from the requested one before the point is
/// flagged: beyond it, throughput and TPOT are not comparable across the sweep.
pub const LENGTH_TOLERANCE: f64 = 0.05;

/// A point that did not measure what was asked: its mean input or output length is off.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LengthMismatch {
    /// `input` or `output`.
    pub which: &'static str,
    pub requested: f64,
    pub measured: f64,
    /// (measured - requested) / requested.
    pub off_by: f64,
    /// What to try.
    pub hint: &'static str,
}

/// Compares the requested ISL/OSL with aiperf's measured means (`input_sequence_length`,
/// `output_sequence_length`).
fn length_mismatches(load: &LoadPoint, agg: Option<&AggregateExport>) -> Vec<LengthMismatch> {
    let Some(agg) = agg else { return Vec::new() };
    let mut out = Vec::new();
    for (which, requested, tag, hint) in [
        (
            "output",
            load.osl,
            "output_sequence_length",
            "the server did not stop at the requested length: set `extra_inputs: {ignore_eos: true}` (and `min_tokens` where the server takes it), or `use_server_token_count: true` if its token counts differ from aiperf's tokenizer",
        ),
        (
            "input",
            load.isl,
            "input_sequence_length",
            "aiperf's tokenizer counts the prompts differently from the requested length: set `tokenizer` to the model's own",
        ),
    ] {
        let (Some(req), Some(meas)) = (requested.filter(|r| *r > 0.0), agg.avg(tag)) else {
            continue;
        };
        let off_by = (meas - req) / req;
        if off_by.abs() > LENGTH_TOLERANCE {
            out.push(LengthMismatch { which, requested: req, measured: meas, off_by, hint });
        }
    }
    out
}

/// One combination of the batch, whatever its state.
#[derive(Debug, Clone, Serialize)]
pub struct RunResult {
    pub index: usize,
    /// Directory relative to the batch dir (empty for a single un-swept run).
    pub dir: String,
    pub params: records::Params,
    pub status: RunStatus,
    /// Why it did not succeed (process_result.json, else the manifest).
    pub reason: Option<String>,
    pub load: LoadPoint,
    pub model_id: Option<String>,
    pub tokenizer_id: Option<String>,
    /// When the run started (run_metadata.json), ISO 8601.
    pub timestamp: Option<String>,
    /// Present when results could be read.
    pub metrics: Option<KeyMetrics>,
    /// `error_summary` entries, one line each (`Internal Server Error (500): 5`).
    pub error_lines: Vec<String>,
    pub targets: Vec<TargetCheck>,
    /// Problems reading this run's files (corrupt or truncated artifacts), with file:line.
    pub problems: Vec<String>,
    pub warnings: Vec<String>,
    /// Sequence lengths measured off the requested ones by more than [`LENGTH_TOLERANCE`].
    pub length_mismatches: Vec<LengthMismatch>,
    /// The parsed aggregate export, shared with the per-process cache (see `read_cached`). For
    /// a repeated point: its first successful repeat's.
    #[serde(skip)]
    pub aggregate: Option<std::sync::Arc<AggregateExport>>,
    /// The repeats of this point (interleaved runs, or aiperf's `--num-profile-runs` runs), in
    /// order; empty for a point measured once. `metrics` is then the mean over the successful
    /// ones.
    pub repeats: Vec<crate::stats::repeats::Repeat>,
    /// How every figure spreads across the repeats (2 or more with results).
    pub spread: Option<crate::stats::repeats::Spreads>,
    /// Key figures whose coefficient of variation across repeats exceeds `noise_cv_max`.
    pub noisy: Vec<repeats::Noisy>,
    /// aiperf's own statistics across its `--num-profile-runs` runs.
    #[serde(skip)]
    pub aiperf_repeats: Option<multirun::MultiAggregate>,
    /// A search's probe: its group and value.
    pub probe: Option<records::Probe>,
}

impl RunResult {
    /// The run directory.
    pub fn run_dir(&self, batch_dir: &Path) -> PathBuf {
        if self.dir.is_empty() { batch_dir.to_path_buf() } else { batch_dir.join(&self.dir) }
    }
}

/// A whole batch.
#[derive(Debug, Clone, Serialize)]
pub struct BatchResults {
    pub batch_dir: PathBuf,
    pub batch_name: String,
    /// Keys that vary across combinations, in sweep order.
    pub swept_keys: Vec<String>,
    /// True once sweeper finished the batch (from the manifest).
    pub finished: bool,
    pub interrupted: bool,
    pub runs: Vec<RunResult>,
    pub warnings: Vec<String>,
    /// tt-inference-server's model id the per-run result files are named with (plan.json).
    pub tt_model_id: Option<String>,
    /// Repeats of every point, as planned (plan.json).
    pub repeats: Option<records::Repeats>,
    /// `stop_when` or `search` (plan.json).
    pub load_search: Option<records::LoadSearch>,
    /// How repeats are judged (from `repeats`, else defaults).
    #[serde(skip)]
    judge: Judge,
    /// Where each combination's records are, for [`BatchResults::reload`].
    #[serde(skip)]
    entries: Vec<Entry>,
}

fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Finds a parameter by canonical key in `params`, then `merged`.
fn param(
    params: &records::Params,
    merged: &serde_json::Map<String, Value>,
    key: &str,
) -> Option<Value> {
    let want = canonical(key);
    params.iter().chain(merged.iter()).find(|(k, _)| canonical(k) == want).map(|(_, v)| v.clone())
}

fn load_point(
    params: &records::Params,
    merged: &serde_json::Map<String, Value>,
    agg: Option<&AggregateExport>,
) -> LoadPoint {
    let p = |k: &str| param(params, merged, k).as_ref().and_then(num);
    let mut lp = LoadPoint {
        isl: p("isl"),
        osl: p("osl"),
        concurrency: p("concurrency"),
        request_rate: p("request_rate"),
        num_prompts: p("request_count"),
    };
    // Fall back on the config aiperf itself recorded.
    if let Some(cfg) = agg.and_then(|a| a.input_config.as_ref()) {
        let ds = &cfg["datasets"][0]["prompts"];
        lp.isl = lp.isl.or_else(|| ds["isl"]["mean"].as_f64());
        lp.osl = lp.osl.or_else(|| ds["osl"]["mean"].as_f64());
        if let Some(phases) = cfg["phases"].as_array()
            && let Some(ph) = phases.iter().find(|p| p["exclude_from_results"] != Value::Bool(true))
        {
            lp.concurrency = lp.concurrency.or_else(|| ph["concurrency"].as_f64());
            lp.request_rate = lp.request_rate.or_else(|| ph["rate"].as_f64());
            lp.num_prompts = lp.num_prompts.or_else(|| ph["requests"].as_f64());
        }
    }
    lp
}

pub use crate::records::Artifacts;

/// Checks a run directory's artifacts (see [`Artifacts`]).
pub fn check_artifacts(run_dir: &Path) -> Artifacts {
    if multirun::is_multi_run(run_dir) {
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
        return match multirun::read_aggregate(run_dir) {
            Ok(_) => Artifacts::Complete {
                errors: multirun::run_dirs(run_dir)
                    .iter()
                    .filter(|(_, d)| multirun::run_ready(d))
                    .filter_map(|(_, d)| {
                        aggregate_json::read_cached(&d.join(AGGREGATE_JSON_FILE)).ok()
                    })
                    .filter_map(|a| a.avg("error_request_count"))
                    .filter(|e| *e > 0.0)
                    .map(|e| e as u64)
                    .sum(),
            },
            Err(e) => {
                Artifacts::Incomplete(format!("aiperf's multi-run aggregate is unreadable: {e}"))
            }
        };
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

/// Why a batch directory cannot be read at all (a single run's problems are reported in its
/// [`RunResult`] instead).
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    #[error(
        "failed to read batch `{dir}`: neither `{}` nor `{}` exists",
        records::PLAN_FILE,
        records::MANIFEST_FILE
    )]
    NotABatch { dir: PathBuf },
    #[error("failed to read batch `{dir}`: {reasons}")]
    Unreadable { dir: PathBuf, reasons: String },
    #[error("refusing to read batch `{dir}`: {what}")]
    Tampered { dir: PathBuf, what: String },
    #[error("failed to read batch `{dir}`: it holds sweeper batches, not one: {}", found.join(", "))]
    Batches { dir: PathBuf, found: Vec<String> },
}

/// A combination's directory as a record may name it: empty (the batch directory itself), one
/// plain name inside the batch directory, or an interleaved repeat's `<name>/repeat_<k>`; in a
/// merged batch, any of those under `shards/<K>/`.
/// Anything else (`../x`, `a/b`, `/abs`) would make sweeper read or write outside the batch
/// because a record says so.
pub fn is_safe_run_dir(dir: &str) -> bool {
    let plain = |d: &str| {
        !d.is_empty()
            && d != "."
            && d != ".."
            && !d.contains('/')
            && !d.contains('\\')
            && !d.contains('\0')
    };
    let repeat = |d: &str| {
        d.strip_prefix("repeat_")
            .is_some_and(|k| !k.is_empty() && k.len() < 6 && k.bytes().all(|b| b.is_ascii_digit()))
    };
    let numeric = |d: &str| !d.is_empty() && d.len() < 8 && d.bytes().all(|b| b.is_ascii_digit());
    let within = |dir: &str| match dir.split_once('/') {
        None => dir.is_empty() || plain(dir),
        Some((point, rep)) => plain(point) && repeat(rep),
    };
    // A merged batch names its runs inside the shards: `shards/<K>/<run dir>`.
    match dir.strip_prefix("shards/").and_then(|r| r.split_once('/').or(Some((r, "")))) {
        Some((k, rest)) if numeric(k) => within(rest),
        _ => within(dir),
    }
}

impl ResultsError {
    /// What to try.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            ResultsError::NotABatch { .. } => {
                "pass the timestamped batch directory (`<output_base_dir>/<batch_name>/<YYYYMMDD_HHMMSS>`)".into()
            }
            ResultsError::Unreadable { .. } => {
                "the batch's records are damaged; restore them, or rerun the batch".into()
            }
            ResultsError::Batches { dir, .. } if dir.join(records::SHARDS_DIR).is_dir() => format!(
                "these are the shards of one batch: `sweeper merge {}` joins them into one",
                dir.display()
            ),
            ResultsError::Batches { .. } => "pass one of those batch directories".into(),
            ResultsError::Tampered { .. } => {
                "the batch's plan.json or batch_manifest.json was edited: restore them, or rerun the batch".into()
            }
        })
    }
}

/// Loads `plan.json` and `batch_manifest.json` (either may be missing, not both) and every run.
pub fn collect(batch_dir: &Path) -> Result<BatchResults, ResultsError> {
    let plan_path = batch_dir.join(records::PLAN_FILE);
    let manifest_path = batch_dir.join(records::MANIFEST_FILE);
    let mut warnings = Vec::new();
    let plan: Option<PlanRecord> = if plan_path.exists() {
        match records::read_json(&plan_path) {
            Ok(p) => Some(p),
            Err(e) => {
                warnings.push(e);
                None
            }
        }
    } else {
        None
    };
    let manifest: Option<BatchManifest> = if manifest_path.exists() {
        match records::read_json(&manifest_path) {
            Ok(m) => Some(m),
            Err(e) => {
                warnings.push(e);
                None
            }
        }
    } else {
        None
    };
    if plan.is_none() && manifest.is_none() {
        if warnings.is_empty() {
            return discover(batch_dir);
        }
        return Err(ResultsError::Unreadable {
            dir: batch_dir.to_path_buf(),
            reasons: warnings.join("; "),
        });
    }
    for v in plan.iter().map(|p| p.format_version).chain(manifest.iter().map(|m| m.format_version))
    {
        if v > records::FORMAT_VERSION {
            warnings.push(format!(
                "`{}` was written with format_version {v}, newer than this sweeper's {}; \
                 reading it anyway",
                batch_dir.display(),
                records::FORMAT_VERSION
            ));
        }
    }
    let batch_name = plan
        .as_ref()
        .map(|p| p.batch_name.clone())
        .or_else(|| manifest.as_ref().map(|m| m.batch_name.clone()))
        .unwrap_or_default();
    let swept_keys = plan.as_ref().map(|p| p.swept_keys.clone()).unwrap_or_default();

    // Every combination: the plan's, else the manifest's.
    let entries: Vec<Entry> = match (&plan, &manifest) {
        (Some(p), _) => p
            .combinations
            .iter()
            .map(|c| Entry {
                index: c.index,
                dir: c.dir.clone(),
                params: c.params.clone(),
                merged: c.merged.clone(),
                targets: c.targets.clone(),
                repeat: c.repeat,
                point: c.point.unwrap_or(c.index),
                probe: c.probe,
            })
            .collect(),
        (None, Some(m)) => {
            // Without the plan, interleaved repeats are known by their directories.
            let mut points: Vec<String> = Vec::new();
            m.runs
                .iter()
                .map(|r| {
                    let (repeat, point_dir) = repeat_of_dir(&r.dir);
                    let point = match points.iter().position(|d| *d == point_dir) {
                        Some(p) => p,
                        None => {
                            points.push(point_dir);
                            points.len() - 1
                        }
                    };
                    Entry {
                        index: r.index,
                        dir: r.dir.clone(),
                        params: r.params.clone(),
                        merged: serde_json::Map::new(),
                        targets: Vec::new(),
                        repeat,
                        point: if repeat.is_some() { point } else { r.index },
                        probe: None,
                    }
                })
                .collect()
        }
        (None, None) => Vec::new(),
    };
    // A shard's plan.json holds the whole plan: its report is of its own part.
    let entries: Vec<Entry> = match plan.as_ref().and_then(|p| p.shard.as_ref()) {
        Some(s) => entries
            .into_iter()
            .filter(|e| match e.probe {
                Some(p) => s.searches(p.group),
                None => s.runs(e.index),
            })
            .collect(),
        None => entries,
    };
    if let Some(e) = entries.iter().find(|e| !is_safe_run_dir(&e.dir)) {
        return Err(ResultsError::Tampered {
            dir: batch_dir.to_path_buf(),
            what: format!(
                "combination #{} has the directory `{}`, which is not one name inside the batch directory",
                e.index, e.dir
            ),
        });
    }
    // The checks `--resume` applies: nothing read through a symlink or out of the batch.
    let tampered = |e: records::check::TamperError| ResultsError::Tampered {
        dir: batch_dir.to_path_buf(),
        what: e.to_string(),
    };
    if let (Some(p), Some(m)) = (&plan, &manifest) {
        records::check::check_batch(batch_dir, p, m).map_err(tampered)?;
    }
    for e in &entries {
        records::check::confined(batch_dir, e.index, &e.dir).map_err(tampered)?;
    }
    let manifest_by_index: BTreeMap<usize, &records::ManifestEntry> =
        manifest.iter().flat_map(|m| m.runs.iter()).map(|r| (r.index, r)).collect();

    let repeats = plan.as_ref().and_then(|p| p.repeats);
    let judge = Judge::of(repeats.as_ref());
    let units: Vec<RunResult> = entries
        .iter()
        .map(|e| load_run(batch_dir, e, manifest_by_index.get(&e.index).copied(), &judge))
        .collect();
    let runs = points_of(&entries, units, &judge);
    Ok(BatchResults {
        batch_dir: batch_dir.to_path_buf(),
        batch_name,
        swept_keys,
        finished: manifest.as_ref().is_some_and(|m| m.finished),
        interrupted: manifest.as_ref().is_some_and(|m| m.interrupted),
        runs,
        warnings,
        tt_model_id: plan.as_ref().and_then(|p| p.tt_model_id.clone()),
        repeats,
        load_search: plan.as_ref().and_then(|p| p.load_search.clone()),
        judge,
        entries,
    })
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
    let e = Entry {
        index,
        dir: dir.to_owned(),
        params: params.clone(),
        merged: merged.clone(),
        targets: Vec::new(),
        repeat: None,
        point: index,
        probe: None,
    };
    load_run(batch_dir, &e, None, &Judge::of(repeats))
}

/// `(Some(k), "<point dir>")` for an interleaved repeat's `<point dir>/repeat_<k>` (or
/// `repeat_<k>`), `(None, dir)` otherwise.
fn repeat_of_dir(dir: &str) -> (Option<u32>, String) {
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
fn points_of(entries: &[Entry], units: Vec<RunResult>, judge: &Judge) -> Vec<RunResult> {
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
fn merge_point(point: usize, mut units: Vec<(u32, RunResult)>, judge: &Judge) -> RunResult {
    units.sort_by_key(|(k, _)| *k);
    let n = units.len();
    let first = units[0].1.clone();
    let dir = repeat_of_dir(&first.dir).1;
    let repeats: Vec<crate::stats::repeats::Repeat> = units
        .iter()
        .map(|(k, u)| crate::stats::repeats::Repeat {
            k: *k,
            dir: u.dir.clone(),
            status: u.status,
            reason: u.reason.clone(),
            metrics: u.metrics.clone(),
        })
        .collect();
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
    let (status, reason) = if unfinished == n && units.iter().all(|(_, u)| not_run(u.status)) {
        (first.status, None)
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
    };
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
        metrics: repeats::means(&repeats),
        error_lines: prefixed(&|u| &u.error_lines),
        problems: prefixed(&|u| &u.problems),
        warnings: prefixed(&|u| &u.warnings),
        length_mismatches: good.map(|u| u.length_mismatches.clone()).unwrap_or_default(),
        aggregate: good.and_then(|u| u.aggregate.clone()).or(first.aggregate.clone()),
        timestamp: units.iter().find_map(|(_, u)| u.timestamp.clone()),
        repeats,
        spread: None,
        noisy: Vec::new(),
        aiperf_repeats: None,
        ..first
    };
    judge.judge(&mut run);
    run
}

impl BatchResults {
    /// The point (its result) that combination `index` measures: itself, or for an
    /// interleaved repeat, its point.
    pub fn run_of(&self, index: usize) -> Option<&RunResult> {
        let point = self
            .entries
            .iter()
            .find(|e| e.index == index)
            .map_or(index, |e| if e.repeat.is_some() { e.point } else { e.index });
        self.runs.iter().find(|r| r.index == point)
    }

    /// Reads combination `index` again from disk (after it ran), leaving the others as they are:
    /// what keeps re-rendering reports during a sweep from re-reading every run each time.
    pub fn reload(&mut self, index: usize) {
        let Some(pos) = self.entries.iter().position(|e| e.index == index) else { return };
        let e = &self.entries[pos];
        if e.repeat.is_some() {
            // An interleaved repeat: its point again, from all of its repeats.
            let point = e.point;
            let units: Vec<(u32, RunResult)> = self
                .entries
                .iter()
                .filter(|x| x.point == point && x.repeat.is_some())
                .map(|x| (x.repeat.unwrap_or(1), load_run(&self.batch_dir, x, None, &self.judge)))
                .collect();
            let fresh = merge_point(point, units, &self.judge);
            if let Some(r) = self.runs.iter_mut().find(|r| r.index == point) {
                *r = fresh;
            }
            return;
        }
        let fresh = load_run(&self.batch_dir, e, None, &self.judge);
        if let Some(r) = self.runs.iter_mut().find(|r| r.index == index) {
            *r = fresh;
        }
    }
}

/// Files that make a directory a run: aiperf's exports, or a runner's record of one.
const RUN_MARKERS: [&str; 5] =
    [AGGREGATE_JSON_FILE, JSONL_FILE, READY_MARKER_FILE, RUN_METADATA_FILE, PROCESS_RESULT_FILE];

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

/// A directory sweeper did not write: the NeMo runner's batch (`<combination>/` with
/// `run_metadata.json` holding `sweep_params`), or plain aiperf artifact directories. Runs are
/// found by their files; parameters come from `sweep_params` when a run has them, else from
/// the load point aiperf recorded (only the values that differ between the runs).
fn discover(batch_dir: &Path) -> Result<BatchResults, ResultsError> {
    let dirs = find_run_dirs(batch_dir)?;
    if dirs.is_empty() {
        return Err(ResultsError::NotABatch { dir: batch_dir.to_path_buf() });
    }
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
        entries.push(Entry {
            index,
            dir,
            params,
            merged,
            targets: Vec::new(),
            repeat: None,
            point: index,
            probe: None,
        });
    }
    if !from_records || entries.iter().all(|e| e.params.is_empty()) {
        // No runner records: the parameters that vary, from what aiperf recorded.
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
    let swept_keys: Vec<String> = entries
        .iter()
        .flat_map(|e| e.params.keys().cloned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let judge = Judge::default();
    let runs = entries.iter().map(|e| load_run(batch_dir, e, None, &judge)).collect();
    // `<batch_name>/<YYYYMMDD_HHMMSS>` (the NeMo runner's), else the directory's own name.
    let name_of = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
    let own = name_of(batch_dir).unwrap_or_default();
    let stamp = own.len() == 15
        && own.as_bytes()[8] == b'_'
        && own.replace('_', "").bytes().all(|b| b.is_ascii_digit());
    let batch_name = if stamp { batch_dir.parent().and_then(name_of).unwrap_or(own) } else { own };
    Ok(BatchResults {
        batch_dir: batch_dir.to_path_buf(),
        batch_name,
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
        judge,
        entries,
    })
}

/// `run_metadata.json` as sweeper or the NeMo runner writes it (the runner's has no
/// `format_version` and fewer fields): what reports need of it.
struct Meta {
    timestamp: Option<String>,
    base_config: serde_json::Map<String, Value>,
    sweep_params: Option<serde_json::Map<String, Value>>,
}

fn read_json_value(path: &Path) -> Result<Value, String> {
    let text = fs_err::read_to_string(path).map_err(|e| e.to_string())?;
    serde_json::from_str(&text).map_err(|e| {
        format!(
            "failed to parse `{}` at line {}, column {}: {e}",
            path.display(),
            e.line(),
            e.column()
        )
    })
}

fn read_meta(path: &Path) -> Result<Meta, String> {
    let v = read_json_value(path)?;
    let Value::Object(o) = v else {
        return Err(format!("`{}` is not a JSON object", path.display()));
    };
    Ok(Meta {
        timestamp: o.get("timestamp").and_then(Value::as_str).map(str::to_owned),
        base_config: o.get("base_config").and_then(Value::as_object).cloned().unwrap_or_default(),
        sweep_params: o.get("sweep_params").and_then(Value::as_object).cloned(),
    })
}

/// `process_result.json`: sweeper's, or the NeMo runner's (`subprocess.CompletedProcess`'s
/// fields, written only when aiperf exited 0).
enum Process {
    Sweeper(Box<ProcessResult>),
    Nemo { returncode: Option<i64> },
}

fn read_process(path: &Path) -> Result<Process, String> {
    let v = read_json_value(path)?;
    if v.get("status").is_some() {
        return serde_json::from_value(v)
            .map(|p| Process::Sweeper(Box::new(p)))
            .map_err(|e| format!("failed to read `{}`: {e}", path.display()));
    }
    match v.get("returncode") {
        Some(r) => Ok(Process::Nemo { returncode: r.as_i64() }),
        None => Err(format!("`{}` has neither `status` nor `returncode`", path.display())),
    }
}

/// What the plan (or the manifest) says of one combination: enough to read it from disk.
#[derive(Debug, Clone)]
struct Entry {
    index: usize,
    dir: String,
    params: records::Params,
    merged: serde_json::Map<String, Value>,
    targets: Vec<TargetCheck>,
    /// Interleaved repeats: its repeat (1-based) and point.
    repeat: Option<u32>,
    point: usize,
    /// A search's probe.
    probe: Option<records::Probe>,
}

/// How the spread across repeats is judged.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Judge {
    /// Confidence level of intervals (`None`: aiperf's own when it recorded one, else 0.95).
    confidence: Option<f64>,
    noise_cv_max: Option<f64>,
}

impl Judge {
    fn of(r: Option<&records::Repeats>) -> Judge {
        Judge { confidence: r.map(|r| r.confidence), noise_cv_max: r.map(|r| r.noise_cv_max) }
    }

    /// Fills a point's spread and noisy figures from its repeats.
    fn judge(&self, run: &mut RunResult) {
        let confidence = self
            .confidence
            .or_else(|| run.aiperf_repeats.as_ref().and_then(|a| a.confidence_level))
            .unwrap_or(crate::stats::confidence::DEFAULT_CONFIDENCE);
        run.spread = crate::stats::repeats::Spreads::of(&run.repeats, confidence);
        run.noisy = run
            .spread
            .as_ref()
            .map(|s| {
                repeats::noisy(
                    s,
                    self.noise_cv_max.unwrap_or(crate::stats::repeats::DEFAULT_NOISE_CV_MAX),
                )
            })
            .unwrap_or_default();
    }
}

fn load_run(
    batch_dir: &Path,
    e: &Entry,
    manifest: Option<&records::ManifestEntry>,
    judge: &Judge,
) -> RunResult {
    let (index, dir, params, mut merged, targets) =
        (e.index, e.dir.clone(), e.params.clone(), e.merged.clone(), e.targets.clone());
    let run_dir = if dir.is_empty() { batch_dir.to_path_buf() } else { batch_dir.join(&dir) };
    let mut problems = Vec::new();
    let mut warnings = Vec::new();

    let meta_path = run_dir.join(RUN_METADATA_FILE);
    let meta: Option<Meta> = meta_path
        .exists()
        .then(|| read_meta(&meta_path))
        .and_then(|r| r.map_err(|e| problems.push(e)).ok());
    if merged.is_empty()
        && let Some(m) = &meta
    {
        merged = m.base_config.clone();
    }
    let pr_path = run_dir.join(PROCESS_RESULT_FILE);
    let process: Option<Process> = pr_path
        .exists()
        .then(|| read_process(&pr_path))
        .and_then(|r| r.map_err(|e| problems.push(e)).ok());
    let (mut status, mut reason) = match (&process, manifest) {
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
        (None, None) if meta.is_some() => (RunStatus::Running, None),
        (None, None) => (RunStatus::Pending, None),
    };
    // Neither record says it finished, but aiperf wrote its ready marker (written last, only on
    // success): sweeper was stopped between aiperf's exit and process_result.json.
    let ready = run_dir.join(READY_MARKER_FILE);
    let unfinished = matches!(status, RunStatus::Pending | RunStatus::Running);
    let multi_done = multirun::is_multi_run(&run_dir)
        && run_dir.join(multirun::AGGREGATE_DIR).join(multirun::MULTI_AGGREGATE_FILE).is_file();
    if unfinished && process.is_none() && (ready.exists() || multi_done) {
        status = RunStatus::Succeeded;
    }
    // A success only counts when its results are there and parse: the same judgement as the
    // run stage's and `--resume`'s (which runs such a combination again).
    if status.is_success()
        && let Artifacts::Incomplete(why) = check_artifacts(&run_dir)
    {
        status = RunStatus::Failed;
        reason = Some(format!("recorded as succeeded, but its results are unusable: {why}"));
    }
    if reason.is_none()
        && !status.is_success()
        && let Some(Process::Sweeper(p)) = &process
        && let Some(tail) = p.log_tail.as_ref()
    {
        reason = tail.lines().rev().find(|l| !l.trim().is_empty()).map(|l| l.trim().to_owned());
    }

    // aiperf's `--num-profile-runs` layout: the repeats are its profile runs.
    let multi = multirun::is_multi_run(&run_dir);
    let mut repeat_list = Vec::new();
    let mut aiperf_repeats = None;
    let mut error_lines = Vec::new();
    if multi {
        let mut first_good = None;
        for (i, (label, d)) in multirun::run_dirs(&run_dir).into_iter().enumerate() {
            let rel = if dir.is_empty() {
                format!("{}/{label}", multirun::PROFILE_RUNS_DIR)
            } else {
                format!("{dir}/{}/{label}", multirun::PROFILE_RUNS_DIR)
            };
            let export = d.join(AGGREGATE_JSON_FILE);
            let (st, why, m) = if !multirun::run_ready(&d) {
                (RunStatus::Failed, Some(format!("profile run {label} did not finish")), None)
            } else {
                match aggregate_json::read_cached(&export) {
                    Ok(a) => {
                        for e in &a.error_summary {
                            let det = &e["error_details"];
                            let kind = det["type"].as_str().unwrap_or("error");
                            let code =
                                det["code"].as_i64().map(|c| format!(" ({c})")).unwrap_or_default();
                            error_lines.push(format!("{label}: {kind}{code}: {}", e["count"]));
                        }
                        let m = metrics_from_aggregate(&a);
                        let errs = m.value(Metric::Errors).is_some_and(|e| e > 0.0);
                        first_good.get_or_insert(a);
                        (
                            if errs { RunStatus::Partial } else { RunStatus::Succeeded },
                            None,
                            Some(m),
                        )
                    }
                    Err(e) => {
                        problems.push(e.clone());
                        (RunStatus::Failed, Some(e), None)
                    }
                }
            };
            repeat_list.push(crate::stats::repeats::Repeat {
                k: u32::try_from(i + 1).unwrap_or(u32::MAX),
                dir: rel,
                status: st,
                reason: why,
                metrics: m,
            });
        }
        match multirun::read_aggregate(&run_dir) {
            Ok(a) => aiperf_repeats = Some(a),
            Err(e) if status.is_success() => problems.push(e),
            Err(_) => {}
        }
        if let Some(a) = &first_good {
            warnings.extend(a.warnings.iter().cloned());
        }
        let failed = repeat_list.iter().filter(|r| !r.status.is_success()).count();
        if failed > 0 && status.is_success() {
            warnings.push(format!(
                "{failed} of {} profile runs of `{}` failed; its figures are of the others",
                repeat_list.len(),
                run_dir.display()
            ));
        }
        if status == RunStatus::Succeeded
            && repeat_list.iter().any(|r| r.status == RunStatus::Partial)
        {
            status = RunStatus::Partial;
        }
    }

    let agg_path = run_dir.join(AGGREGATE_JSON_FILE);
    let aggregate = if multi {
        multirun::run_dirs(&run_dir)
            .iter()
            .filter(|(_, d)| multirun::run_ready(d))
            .find_map(|(_, d)| aggregate_json::read_cached(&d.join(AGGREGATE_JSON_FILE)).ok())
    } else if agg_path.exists() {
        match aggregate_json::read_cached(&agg_path) {
            Ok(a) => {
                warnings.extend(a.warnings.iter().cloned());
                Some(a)
            }
            Err(e) => {
                problems.push(e);
                None
            }
        }
    } else {
        if status.is_success() {
            problems.push(format!(
                "`{}` is missing although the run is marked {status:?}",
                agg_path.display()
            ));
        }
        None
    };
    let mut metrics = if multi {
        repeats::means(&repeat_list)
    } else {
        aggregate.as_deref().map(metrics_from_aggregate)
    };
    let csv_path = run_dir.join(AGGREGATE_CSV_FILE);
    if metrics.is_none() && agg_path.exists() && csv_path.exists() {
        // The JSON is corrupt (its problem is recorded); aiperf's CSV has the same numbers.
        match csv::read(&csv_path) {
            Ok(c) => {
                warnings.push(format!(
                    "metrics of `{}` taken from `{}` (2 decimals) because `{}` is unreadable",
                    run_dir.display(),
                    AGGREGATE_CSV_FILE,
                    AGGREGATE_JSON_FILE
                ));
                metrics = Some(metrics_from_csv(&c));
            }
            Err(e) => problems.push(e),
        }
    }
    if status == RunStatus::Succeeded
        && process.is_none()
        && metrics.as_ref().and_then(|m| m.value(Metric::Errors)).is_some_and(|e| e > 0.0)
    {
        status = RunStatus::Partial;
    }
    if multi {
        // Each profile run's errors are listed above.
    } else if let Some(a) = &aggregate {
        for e in &a.error_summary {
            let d = &e["error_details"];
            let kind = d["type"].as_str().unwrap_or("error");
            let code = d["code"].as_i64().map(|c| format!(" ({c})")).unwrap_or_default();
            error_lines.push(format!("{kind}{code}: {}", e["count"]));
        }
    } else if metrics.is_none()
        && matches!(
            status,
            RunStatus::Failed
                | RunStatus::TimedOut
                | RunStatus::Interrupted
                | RunStatus::Partial
                | RunStatus::Succeeded
        )
    {
        // No aggregate: the JSONL (when aiperf got that far) still says what went wrong.
        let jl = run_dir.join(JSONL_FILE);
        if jl.exists() {
            match jsonl::summarize(&jl, jsonl::JsonlOptions { keep_samples: true }) {
                Ok(s) => {
                    if let Some(line) = s.first_bad_line {
                        warnings.push(format!(
                            "`{}`: {} of {} lines unreadable (first at line {line}, {}), skipped; \
                             its figures are of the other lines",
                            jl.display(),
                            s.bad_lines,
                            s.lines,
                            s.first_bad_error.as_deref().unwrap_or("not JSON")
                        ));
                    }
                    for (k, n) in &s.error_kinds {
                        error_lines.push(format!("{k}: {n}"));
                    }
                    if s.succeeded > 0 {
                        warnings.push(format!(
                            "latencies and token counts of `{}` recomputed from `{JSONL_FILE}` \
                             (no readable aggregate)",
                            run_dir.display()
                        ));
                        metrics = Some(metrics_from_jsonl(&s));
                    }
                }
                Err(e) => problems.push(e),
            }
        }
    }
    let load = load_point(&params, &merged, aggregate.as_deref());
    let length_mismatches = length_mismatches(&load, aggregate.as_deref());
    let model_id = param(&params, &merged, "model")
        .and_then(|v| match v {
            Value::String(s) => Some(s),
            Value::Array(a) => a.first().and_then(|x| x.as_str()).map(str::to_owned),
            _ => None,
        })
        .or_else(|| {
            aggregate.as_ref().and_then(|a| {
                a.input_config.as_ref()?["models"]["items"][0]["name"].as_str().map(str::to_owned)
            })
        });
    let tokenizer_id = param(&params, &merged, "tokenizer")
        .and_then(|v| v.as_str().map(str::to_owned))
        .or_else(|| model_id.clone());
    let mut run = RunResult {
        index,
        dir,
        params,
        status,
        reason,
        load,
        model_id,
        tokenizer_id,
        timestamp: meta
            .and_then(|m| m.timestamp)
            .or_else(|| aggregate.as_ref().and_then(|a| a.start_time.clone())),
        metrics,
        error_lines,
        targets,
        problems,
        warnings,
        length_mismatches,
        aggregate,
        repeats: repeat_list,
        spread: None,
        noisy: Vec::new(),
        aiperf_repeats,
        probe: e.probe,
    };
    judge.judge(&mut run);
    run
}
