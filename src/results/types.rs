//! What callers get of a batch: one combination's [`RunResult`], its [`LoadPoint`] and
//! [`LengthMismatch`]es, and [`ResultsError`], why a batch cannot be read at all.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::aggregate_json::AggregateSummary;
use crate::model::metrics::Values;
use crate::records::{self, RunStatus, TargetCheck};
use crate::server_metrics::{ServerFigures, ServerSummary};
use crate::stats::repeats;

/// The measured metrics of one run (see [`crate::model::metrics`] for the table of what they are).
pub type KeyMetrics = Values;

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
    pub metrics: Option<std::sync::Arc<KeyMetrics>>,
    /// `error_summary` entries, one line each (`Internal Server Error (500): 5`).
    pub error_lines: Vec<String>,
    /// Requests that failed because the server closed the connection under aiperf (a server
    /// that closes it after each streamed response while advertising keep-alive): see
    /// [`super::connection`].
    pub connection_closed: usize,
    pub targets: Vec<TargetCheck>,
    /// Problems reading this run's files (corrupt or truncated artifacts), with file:line.
    pub problems: Vec<String>,
    pub warnings: Vec<String>,
    /// Sequence lengths measured off the requested ones by more than [`LENGTH_TOLERANCE`].
    pub length_mismatches: Vec<LengthMismatch>,
    /// What it keeps of its aggregate export (a few averages, not the export: a batch's results
    /// stay small). For a repeated point: its first successful repeat's.
    #[serde(skip)]
    pub aggregate: Option<AggregateSummary>,
    /// The repeats of this point (interleaved runs, or aiperf's `--num-profile-runs` runs), in
    /// order; empty for a point measured once. `metrics` is then the mean over the successful
    /// ones.
    pub repeats: Vec<repeats::Repeat>,
    /// How every figure spreads across the repeats (2 or more with results).
    pub spread: Option<repeats::Spreads>,
    /// Key figures whose coefficient of variation across repeats exceeds `noise_cv_max`.
    pub noisy: Vec<repeats::Noisy>,
    /// The confidence level aiperf used across its `--num-profile-runs` runs (its intervals
    /// are recomputed by sweeper from the runs; the level is what is kept of its aggregate).
    #[serde(skip)]
    pub aiperf_confidence: Option<f64>,
    /// A search's probe: its group and value.
    pub probe: Option<records::Probe>,
    /// What each of its runs ran on (one per repeat), from `process_result.json`.
    pub conditions: Vec<records::Conditions>,
    /// What the server's `/metrics` showed during each of its runs that has aiperf's
    /// server-metrics export (one per repeat).
    #[serde(skip)]
    pub server_runs: Vec<ServerFigures>,
    /// The server figures of the point: one run's, or the means of its repeats' with intervals.
    pub server: Option<ServerSummary>,
}

impl RunResult {
    /// The run directory.
    pub fn run_dir(&self, batch_dir: &Path) -> PathBuf {
        if self.dir.is_empty() { batch_dir.to_path_buf() } else { batch_dir.join(&self.dir) }
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
