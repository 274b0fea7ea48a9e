//! sweeper: declare an LLM inference benchmark sweep once in YAML, run it with aiperf, report it.
//!
//! Data flows one way, one module per stage, with one room per feature beside them:
//!
//! ```text
//! config (YAML -> validated Config) -> plan (Cartesian product -> Combinations + argv)
//!   -> run (venv, server, one aiperf per combination, records on disk)
//!   -> results (parse aiperf artifacts from disk) -> report (templates -> md/csv/json/html)
//! ```
//!
//! The rooms (`stats`, `tt`, `search`, `scaleout`) hold each feature's vocabulary and rules;
//! the stages call into them. `model` (metric table, option table, SLO keys), `records` (on-disk
//! formats) and `util` are leaves. `app` is the only module that sequences the stages.
//! `docs/architecture.md` has the allowed imports, which `tests/architecture.rs` enforces.

pub mod app;
pub mod config;
pub mod cost;
pub mod mockserver;
pub mod model;
pub mod plan;
pub mod records;
pub mod report;
pub mod results;
pub mod run;
pub mod scaleout;
pub mod search;
pub mod server_metrics;
pub mod stats;
pub mod tt;
pub mod util;
