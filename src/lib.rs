//! sweeper: declare an LLM inference benchmark sweep once in YAML, run it with aiperf, report it.
//!
//! Data flows one way, one module per stage:
//!
//! ```text
//! config (YAML -> validated Config) -> plan (Cartesian product -> Combinations + argv)
//!   -> run (venv, server, one aiperf per combination, records on disk)
//!   -> results (parse aiperf artifacts from disk) -> report (templates -> md/csv/json/html)
//! ```
//!
//! `app` is the only module that calls the stages in sequence; `records` holds the on-disk
//! formats that `run` writes and `results` reads; `mockserver` is the built-in inference server.

pub mod app;
pub mod cli;
pub mod confidence;
pub mod config;
pub mod dry_run;
pub mod error;
pub mod export;
pub mod merge;
pub mod metrics;
pub mod mockserver;
pub mod number;
pub mod output;
pub mod plan;
pub mod records;
pub mod redact;
pub mod reference;
pub mod report;
pub mod results;
pub mod run;
pub mod slo;
pub mod tt;
