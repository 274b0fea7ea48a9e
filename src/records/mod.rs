//! On-disk formats of a batch directory: written by `run`, read by `results` and `report`.
//!
//! Layout (NeMo runner compatible):
//!
//! ```text
//! <output_base_dir>/<batch_name>/<YYYYMMDD_HHMMSS>/
//!   batch_manifest.json      BatchManifest, rewritten after every run
//!   plan.json                PlanRecord: every combination, its parameters, argv and targets
//!   config.yaml              the config file as given (it holds no secrets: keys come from env vars)
//!   server-<id>.log          output of each inference server started
//!   <combination dir>/       one per combination ("concurrency1_prompt_input_tokens_mean100")
//!     run_metadata.json      RunMetadata, written before aiperf starts
//!     process_result.json    ProcessResult, written after it ends, whatever the outcome
//!     aiperf.log             aiperf's stdout and stderr (created with its first line)
//!     profile_export*        aiperf's own artifacts
//! ```
//!
//! With no sweep (a single combination without parameters) the run files go straight into the
//! batch directory, as the NeMo runner does. Every file carries `format_version`.

pub mod check;
pub mod conditions;
mod params;
pub mod reserve;

pub use conditions::{Conditions, GpuConditions, MeanMax};

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Version of every JSON file in this module; bump on an incompatible change.
pub const FORMAT_VERSION: u32 = 1;

pub const MANIFEST_FILE: &str = "batch_manifest.json";
pub const PLAN_FILE: &str = "plan.json";
pub const CONFIG_COPY_FILE: &str = "config.yaml";
pub const RUN_METADATA_FILE: &str = "run_metadata.json";
pub const PROCESS_RESULT_FILE: &str = "process_result.json";
pub const AIPERF_LOG_FILE: &str = "aiperf.log";
pub const PROVENANCE_FILE: &str = "provenance.json";
/// `<batch id>/shards/<K>/`: one shard's batch directory.
pub const SHARDS_DIR: &str = "shards";

pub use params::{Params, SortedMap};

/// `server.max_num_seqs=8 isl=128`, or `-` without parameters.
pub fn describe_params(params: &Params) -> String {
    if params.is_empty() {
        return "-".into();
    }
    params.iter().map(|(k, v)| format!("{k}={}", scalar_text(v))).collect::<Vec<_>>().join(" ")
}

/// Text of a scalar as a command-line value (numbers as JSON prints them).
pub fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// How a combination ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Not started yet.
    Pending,
    /// Started; a manifest still saying this after sweeper is gone means sweeper was killed.
    Running,
    /// aiperf exited 0, its ready marker and `profile_export_aiperf.json` exist, no request failed.
    Succeeded,
    /// As `Succeeded`, but some requests failed (`error_count` > 0).
    Partial,
    /// aiperf failed, or exited 0 without its artifacts, or the server died.
    Failed,
    /// aiperf ran past the per-run timeout and was stopped.
    TimedOut,
    /// Stopped by Ctrl-C.
    Interrupted,
    /// Not run: skipped by `--resume` (already succeeded) or because the sweep was interrupted.
    Skipped,
}

impl RunStatus {
    /// Results are usable (artifacts complete).
    pub fn is_success(self) -> bool {
        matches!(self, RunStatus::Succeeded | RunStatus::Partial)
    }
}

/// One target a combination is checked against (from the config's `targets` or a
/// tt-inference-server `model_performance_reference.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetCheck {
    /// Metric: `ttft_ms`, `tpot_ms`, `itl_ms`, `e2el_ms` (lower is better) or `tput_user`,
    /// `tput`, `req_tput` (higher is better).
    pub metric: String,
    /// The reference value.
    pub target: f64,
    /// Relative tolerance: PASS when measured is within `target * (1 + tolerance)` for
    /// lower-is-better metrics and above `target * (1 - tolerance)` for higher-is-better ones.
    pub tolerance: f64,
    /// Where the target came from, e.g. `config` or `theoretical` (a tier of the reference file).
    pub source: String,
}

/// One combination as planned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedCombination {
    /// Position in expansion order, 0-based; stable for a given config.
    pub index: usize,
    /// Directory name relative to the batch dir; empty for a single un-swept run.
    pub dir: String,
    /// The swept parameters (sweeps, scenario and server.* keys) of this combination.
    pub params: Params,
    /// The full merged base config (base_config + scenario + sweep values).
    pub merged: serde_json::Map<String, Value>,
    /// Server group: combinations with the same id share one server.
    pub server_id: String,
    /// The aiperf argv (program first), secrets masked, `--artifact-dir` relative to the batch dir.
    pub argv: Vec<String>,
    /// Targets that apply to this combination.
    #[serde(default)]
    pub targets: Vec<TargetCheck>,
    /// Interleaved repeats: which repeat of its point this run is (1-based); its directory is
    /// `<point dir>/repeat_<k>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat: Option<u32>,
    /// Interleaved repeats: the index of its point (points are numbered 0..P in expansion
    /// order; without repeats a combination is its own point).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub point: Option<usize>,
    /// A probe of a `search`: added to the plan while the search runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<Probe>,
}

/// A run a `search` decided on (its group and the value of the searched variable), or a
/// re-run that confirms a boundary of a search or a ladder (`rerun` 1, 2: the value's second
/// and third run).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    pub group: usize,
    pub value: f64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rerun: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Finding the highest load that meets an SLO: a ladder stopped early (`stop_when`), or a
/// `search` (plan.json's `load_search`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadSearch {
    /// The key that carries the load (`concurrency`, `request_rate`, or the swept key).
    pub variable: String,
    /// Upper bounds: SLO key (`ttft_p99_ms`, `error_rate`) -> limit.
    pub slo: BTreeMap<String, f64>,
    #[serde(default)]
    pub slo_on: crate::model::slo::SloOn,
    pub mode: SearchMode,
    /// The groups searched: the points that differ only in `variable` (filled by the plan).
    #[serde(default)]
    pub groups: Vec<SearchGroup>,
}

/// How the load is explored.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SearchMode {
    /// A ladder of planned values, run in increasing order; the rest of a group is skipped once
    /// a point breaks an SLO, or gains less than `saturation` in output tokens/s.
    StopWhen { saturation: Option<f64> },
    /// Geometric growth from `min` until a breach (or `max`), then bisection down to
    /// `resolution` ((fail - pass) / pass; integers: at least 1 apart).
    Search { min: f64, max: f64, resolution: f64, integer: bool },
}

/// One group of a load search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchGroup {
    pub id: usize,
    /// The other parameters (the variable left out).
    pub params: Params,
    pub server_id: String,
    /// `stop_when`: the planned points of the group, in increasing order of the variable.
    #[serde(default)]
    pub members: Vec<usize>,
}

/// How repeats of a point are run: `interleaved` or `back_to_back`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RepeatOrder {
    // Repeat 1 of every point, then repeat 2 of every point, ...: one aiperf run each, in
    // `<point dir>/repeat_<k>/`. Slow drift of the server or the machine spreads over every
    // point instead of biasing one.
    Interleaved,
    // aiperf's own `--num-profile-runs N`: the repeats of a point one after the other, in one
    // aiperf call (`profile_runs/run_000k/` and aiperf's `aggregate/`).
    BackToBack,
}

/// Repeats of every point, and how their spread is judged (plan.json's `repeats`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Repeats {
    pub count: u32,
    pub order: RepeatOrder,
    /// Confidence level of intervals and of compare's test.
    pub confidence: f64,
    /// A point is noisy when a key metric's coefficient of variation across repeats exceeds it.
    pub noise_cv_max: f64,
}

/// `ab`: the values of one swept key compared inside one batch, their repeats interleaved
/// (plan.json's `ab`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ab {
    /// The swept key whose values are compared; its first value is A.
    pub by: String,
    /// Whether the servers of the values run one at a time or all at once.
    pub servers: AbServers,
}

/// How the servers of an A/B batch run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AbServers {
    /// One server at a time (one GPU holds one): each switch of value stops one server and
    /// starts the other, so a repeat runs every point of A, then every point of B.
    Restart,
    /// Every value's server up at once (external servers, mock servers, servers on their own
    /// ports): no restarts, so the values alternate point by point.
    Together,
}

/// `plan.json`: the whole plan, written once when a batch starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanRecord {
    pub format_version: u32,
    pub batch_name: String,
    pub config_file: String,
    /// Keys that vary across combinations (sweep, scenario and server.* keys), in sweep order.
    pub swept_keys: Vec<String>,
    pub combinations: Vec<PlannedCombination>,
    /// tt-inference-server's model id from the config's `tt` section: the per-run result files
    /// are named with it. Updated by `--resume`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tt_model_id: Option<String>,
    /// Repeats of every point (`None`: one run per point).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeats: Option<Repeats>,
    /// `stop_when` or `search`, with its groups. A search's probes are appended to
    /// `combinations` as it decides on them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_search: Option<LoadSearch>,
    /// `ab`: the swept key whose values this batch compares, interleaved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ab: Option<Ab>,
    /// A hash of the plan (see `plan::shard::plan_hash`): the shards of one batch agree on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_hash: Option<String>,
    /// The config's `cost` section (a combination's `cost.*` params apply on top).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<serde_json::Map<String, Value>>,
    /// This batch is one shard of a larger one: `combinations` is the whole plan, and this
    /// shard runs only its part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardRecord>,
}

/// Which part of the plan a shard runs (`--shard K/N --batch-id ID`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardRecord {
    pub k: usize,
    pub n: usize,
    pub batch_id: String,
    /// The combinations it runs (indices into the plan).
    pub combinations: Vec<usize>,
    /// The search groups it runs.
    #[serde(default)]
    pub groups: Vec<usize>,
    /// The shard of every combination of the plan (by index), and of every search group: what
    /// `merge` needs to say which shard a missing combination belonged to.
    #[serde(default)]
    pub assignment: Vec<usize>,
    #[serde(default)]
    pub group_assignment: Vec<usize>,
}

impl ShardRecord {
    /// The shard that runs combination `index` of the plan.
    pub fn shard_of(&self, index: usize) -> Option<usize> {
        self.assignment.get(index).copied()
    }

    /// The shard that runs search group `group`.
    pub fn shard_of_group(&self, group: usize) -> Option<usize> {
        self.group_assignment.get(group).copied()
    }

    /// Whether this shard runs combination `index`.
    pub fn runs(&self, index: usize) -> bool {
        self.shard_of(index) == Some(self.k)
    }

    /// Whether this shard runs search group `group`.
    pub fn searches(&self, group: usize) -> bool {
        self.shard_of_group(group) == Some(self.k)
    }
}

/// `run_metadata.json`: written before aiperf starts. NeMo runner fields first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunMetadata {
    pub format_version: u32,
    pub run_index: usize,
    /// ISO 8601 local time the run started.
    pub timestamp: String,
    pub config_file: String,
    /// The swept parameters, `null` for a single run (as the NeMo runner writes).
    pub sweep_params: Option<Params>,
    /// The merged configuration of this run (secrets are never in it: keys come from env vars).
    pub base_config: serde_json::Map<String, Value>,
    /// The aiperf command line, shell-quoted, secrets masked.
    pub command: String,
    pub batch_name: String,
    pub combination_dir: String,
    pub server_id: String,
    pub sweeper_version: String,
    pub aiperf_version: String,
}

/// `process_result.json`: written after aiperf ends, for every outcome.
/// `args`, `returncode`, `stdout`, `stderr` are the NeMo runner's (`CompletedProcess`) fields;
/// stdout/stderr are `null` because aiperf's output goes to `aiperf.log`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessResult {
    pub format_version: u32,
    pub args: Vec<String>,
    pub returncode: Option<i32>,
    pub stdout: Option<String>,
    pub stderr: Option<String>,
    pub status: RunStatus,
    /// Signal that ended aiperf, if any (e.g. 9 after a timeout).
    pub signal: Option<i32>,
    /// Why the run did not succeed, in one line; `null` on success.
    pub reason: Option<String>,
    /// Requests that failed, from aiperf's `error_request_count` (when the artifacts exist).
    pub error_count: Option<u64>,
    pub started_at: String,
    pub ended_at: String,
    pub duration_s: f64,
    pub server_id: String,
    pub sweeper_version: String,
    pub aiperf_version: String,
    /// The last lines of `aiperf.log` when the run failed (secrets masked).
    #[serde(default)]
    pub log_tail: Option<String>,
    /// What the run ran on, sampled during it; none for a run that ended before its first
    /// sample (100 ms after aiperf's start: one that failed at once).
    #[serde(default)]
    pub conditions: Option<Conditions>,
}

/// One line of the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestEntry {
    pub index: usize,
    pub dir: String,
    pub params: Params,
    pub status: RunStatus,
    pub reason: Option<String>,
    pub duration_s: Option<f64>,
}

impl ManifestEntry {
    /// A run not started (yet), with why when there is a reason to say.
    pub fn pending(index: usize, dir: &str, params: &Params, reason: Option<String>) -> Self {
        ManifestEntry {
            index,
            dir: dir.to_owned(),
            params: params.clone(),
            status: RunStatus::Pending,
            reason,
            duration_s: None,
        }
    }
}

/// `batch_manifest.json`: the state of the whole batch, rewritten atomically after every run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchManifest {
    pub format_version: u32,
    pub batch_name: String,
    pub config_file: String,
    pub started_at: String,
    pub updated_at: String,
    /// True once sweeper finished (normally or interrupted) and wrote the summary.
    pub finished: bool,
    pub interrupted: bool,
    pub sweeper_version: String,
    pub aiperf_version: String,
    pub runs: Vec<ManifestEntry>,
}

/// Writes `bytes` to `path` atomically: a temp file in the same directory, fsync, rename.
/// A reader (or a crash) never sees a half-written file.
pub fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    write_replace(path, bytes, true)
}

/// Like [`write_atomic`] but without the fsync: for files derived from the records (reports,
/// standardized JSON), which are regenerated after every run and by `sweeper report`. Readers
/// still never see a half-written file; a power loss can at worst lose a report that one
/// command recreates. Saves a disk flush per file on every run of a long sweep.
pub fn write_derived(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    write_replace(path, bytes, false)
}

/// As [`write_derived`], with the bytes written by `fill` as it makes them (a large report is
/// never held whole in memory). An error of `fill` leaves the old file as it was.
pub fn write_derived_with(
    path: &std::path::Path,
    fill: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    // Renderers write in small pieces: buffered here, not for the records written whole.
    replace_with(path, false, |f| {
        let mut w = std::io::BufWriter::with_capacity(64 * 1024, f);
        fill(&mut w)?;
        std::io::Write::flush(&mut w)
    })
}

fn write_replace(path: &std::path::Path, bytes: &[u8], sync: bool) -> std::io::Result<()> {
    replace_with(path, sync, |f| f.write_all(bytes))
}

fn replace_with(
    path: &std::path::Path,
    sync: bool,
    fill: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or_else(|| std::path::Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let written = (|| {
        let mut f = fs_err::File::create(&tmp)?;
        fill(&mut f)?;
        if sync {
            f.sync_all()?;
        }
        fs_err::rename(&tmp, path)
    })();
    // A failed write never leaves its temp file behind.
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Serializes `value` as pretty JSON and writes it atomically.
pub fn write_json_atomic<T: Serialize>(path: &std::path::Path, value: &T) -> std::io::Result<()> {
    replace_with(path, true, |f| json_into(f, value, true))
}

/// As [`write_json_atomic`] without the flush to disk (see [`write_derived`]).
pub fn write_json_derived<T: Serialize>(path: &std::path::Path, value: &T) -> std::io::Result<()> {
    replace_with(path, false, |f| json_into(f, value, true))
}

/// As [`write_json_derived`], for a file that does not exist yet: made from `reserve`'s
/// anonymous files when it has one (see [`reserve`]).
pub fn write_json_new<T: Serialize>(
    reserve: &mut reserve::Reserve,
    path: &std::path::Path,
    value: &T,
) -> std::io::Result<()> {
    if reserve.write_new(path, |f| json_into(f, value, true))? {
        return Ok(());
    }
    write_json_derived(path, value)
}

/// Compact JSON, written atomically; `durable`: flushed to disk before returning.
pub fn write_json_compact<T: Serialize>(
    path: &std::path::Path,
    value: &T,
    durable: bool,
) -> std::io::Result<()> {
    replace_with(path, durable, |f| json_into(f, value, false))
}

/// `value` as JSON (`pretty` or compact) and a newline, serialized into the file through a
/// small buffer:
/// never whole in memory (plan.json at 1,000 combinations is 640 KB, the manifest 210 KB, and
/// a buffer of that size left the heap that much larger for the rest of the run).
fn json_into<T: Serialize>(
    f: &mut dyn std::io::Write,
    value: &T,
    pretty: bool,
) -> std::io::Result<()> {
    let mut w = std::io::BufWriter::with_capacity(16 * 1024, f);
    if pretty {
        serde_json::to_writer_pretty(&mut w, value).map_err(std::io::Error::other)?;
    } else {
        serde_json::to_writer(&mut w, value).map_err(std::io::Error::other)?;
    }
    std::io::Write::write_all(&mut w, b"\n")?;
    std::io::Write::flush(&mut w)
}

/// Why a JSON record could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be read (the message names it).
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("failed to parse `{}` at line {line}, column {column}: {source}", path.display())]
    Parse { path: std::path::PathBuf, line: usize, column: usize, source: serde_json::Error },
}

/// Reads and parses a JSON record, with the path in the error.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> Result<T, ReadError> {
    let text = fs_err::read_to_string(path)?;
    serde_json::from_str(&text).map_err(|source| ReadError::Parse {
        path: path.to_path_buf(),
        line: source.line(),
        column: source.column(),
        source,
    })
}

/// `provenance.json`: what a batch's numbers were measured with, so that `compare` can say when
/// two batches are not like for like. Written when the batch starts, updated when a server
/// becomes ready and when the batch is resumed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    pub format_version: u32,
    pub sweeper_version: String,
    pub aiperf_version: String,
    /// The machines the batch ran on (more than one when it was resumed elsewhere).
    pub hosts: Vec<Host>,
    /// Server id -> what it was.
    pub servers: BTreeMap<String, ServerIdentity>,
    /// Changes between sessions (a resume with another aiperf or sweeper version).
    #[serde(default)]
    pub notes: Vec<String>,
}

/// The machine aiperf ran on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Host {
    pub hostname: String,
    pub cpus: usize,
    /// `uname -r`.
    pub kernel: String,
    /// `PRETTY_NAME` of /etc/os-release.
    pub os: Option<String>,
    /// From `nvidia-smi`, when it exists.
    pub gpus: Vec<Gpu>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Gpu {
    pub name: String,
    pub driver: String,
    pub memory: Option<String>,
}

/// One server of the batch, as it was when it became ready.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerIdentity {
    /// `external`, `command`, `docker`, `tt-inference-server`, `mock`.
    pub kind: String,
    /// How it was started: the image and its arguments, the command line, run.py's model and
    /// device; the URL of an external server (secrets masked).
    pub launch: String,
    pub url: String,
    /// The model names aiperf was given.
    pub models: Vec<String>,
    /// The ids `GET /v1/models` listed (sorted), and its whole answer.
    pub served_models: Vec<String>,
    pub v1_models: Option<Value>,
    /// A `kubernetes` server: its objects, the rendered manifest kept in the batch directory,
    /// and what its pods ran (as far as the cluster shows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<KubeIdentity>,
}

/// What a Kubernetes deployment ran.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KubeIdentity {
    /// As kubectl names them (`dynamographdeployment.nvidia.com/qwen-ucx`).
    pub objects: Vec<String>,
    /// The rendered manifest (secrets masked), relative to the batch directory.
    pub manifest_file: String,
    /// Each container of its pods: the image and, when the cluster reports it, its digest.
    pub images: Vec<KubeImage>,
    /// The nodes its pods ran on, with their GPU type (`nvidia.com/gpu.product`).
    pub nodes: Vec<KubeNode>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KubeImage {
    pub pod: String,
    pub container: String,
    pub image: String,
    /// `...@sha256:...` (the container runtime's `imageID`).
    pub image_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KubeNode {
    pub name: String,
    pub gpu_product: Option<String>,
    pub gpu_count: Option<String>,
}

/// What aiperf left in a run directory, judged one way by the run stage (did the run
/// succeed?), the reports and `--resume` (does it need to run again?).
#[derive(Debug, Clone, PartialEq)]
pub enum Artifacts {
    /// The ready marker says the run finished and was not cancelled, and the aggregate export
    /// parses. `errors` is aiperf's `error_request_count` (failed requests).
    Complete { errors: u64 },
    /// Why the results cannot be used.
    Incomplete(String),
}
