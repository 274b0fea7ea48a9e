//! Execute a plan: managed aiperf venv, server lifecycle, one aiperf per combination, records.

use crate::cli::RunArgs;
use crate::config::Config;
use crate::plan::Plan;

/// Runs every combination of `plan`; returns the process exit code.
pub fn execute(_cfg: &Config, _plan: &Plan, _args: &RunArgs) -> u8 {
    eprintln!("error: running sweeps is not built yet; use --dry-run");
    crate::error::EXIT_CONFIG
}
