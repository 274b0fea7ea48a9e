//! Server-side metrics room: aiperf's server-metrics export of each run read back, mapped from
//! each server's Prometheus names to one canonical set, summarised over repeats, and explained.
//!
//! aiperf 0.13 scrapes the server's `/metrics` during every run (unless `no_server_metrics`)
//! and writes `server_metrics_export.json`. [`names`] is the table of what sweeper reads from
//! it; [`export`] parses it; [`figures`] computes a run's canonical figures and a point's means
//! and intervals; [`explain`] says what bounded a point (memory, admission, or neither).

pub mod explain;
pub mod export;
pub mod figures;
pub mod names;

pub use explain::{Bound, Explanation, explain};
pub use figures::{ServerFigures, ServerSummary};
