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
//!
//! One file per responsibility:
//! - `types.rs`: what callers get ([`RunResult`], [`LoadPoint`], [`ResultsError`]...);
//! - `batch.rs`: a batch sweeper wrote ([`collect`], [`BatchResults`], `reload`);
//! - `discover.rs`: a directory sweeper did not write (runs found by their files);
//! - `run.rs`: one run from its directory ([`read_one`]);
//! - `run_records.rs`: sweeper's (or the NeMo runner's) per-run records;
//! - `points.rs`: interleaved repeats merged into their point, and how repeats are judged;
//! - `point.rs`: a run's load point, parameters and sequence-length check;
//! - `convert.rs`: aiperf's exports -> [`KeyMetrics`];
//! - `artifacts.rs`: whether a run's artifacts are usable ([`check_artifacts`]);
//! - `aggregate_json.rs`, `csv.rs`, `jsonl.rs`, `multirun.rs`: aiperf's export formats.

pub mod aggregate_json;
mod artifacts;
mod batch;
pub mod connection;
mod convert;
pub mod csv;
mod discover;
pub mod jsonl;
pub mod multirun;
mod point;
mod points;
mod run;
mod run_records;
mod types;

pub use artifacts::{Artifacts, check_artifacts};
pub use batch::{BatchResults, collect, is_safe_run_dir};
pub use convert::{metrics_from_aggregate, metrics_from_csv, metrics_from_jsonl};
pub use run::read_one;
pub use types::{KeyMetrics, LENGTH_TOLERANCE, LengthMismatch, LoadPoint, ResultsError, RunResult};

pub const AGGREGATE_JSON_FILE: &str = "profile_export_aiperf.json";
pub const AGGREGATE_CSV_FILE: &str = "profile_export_aiperf.csv";
pub const JSONL_FILE: &str = "profile_export.jsonl";
/// aiperf's marker, written last and only when the run succeeded.
pub const READY_MARKER_FILE: &str = ".aiperf_results_ready.json";
