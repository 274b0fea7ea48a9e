//! The command line (clap derive). Pure data: `app` turns it into stage inputs.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Run an LLM inference benchmark sweep with aiperf, declared once in YAML.
///
/// `sweeper --config-file sweep.yaml` validates the config, expands its sweeps, provisions the
/// inference server, runs `aiperf profile` once per combination and writes reports.
#[derive(Debug, Parser)]
#[command(name = "sweeper", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub run: RunArgs,
}

/// Options of the main job (also `sweeper run`).
#[derive(Debug, Args, Clone, Default)]
pub struct RunArgs {
    /// The batch config (YAML).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config_file: Option<PathBuf>,

    /// Validate and print every combination and its exact aiperf command; run nothing, write
    /// nothing, contact nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Show everything: merged configs, commands, aiperf's live output, server logs.
    #[arg(long, short = 'v')]
    pub verbose: bool,

    /// Continue an earlier batch in this directory: skip the combinations that succeeded.
    #[arg(long, value_name = "BATCH_DIR")]
    pub resume: Option<PathBuf>,

    /// Allow a sweep with more combinations than the cap (default 1000, or `max_combinations`).
    #[arg(long, value_name = "N")]
    pub max_combinations: Option<u64>,

    /// Exit with code 1 when any target check FAILs.
    #[arg(long)]
    pub fail_on_target: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a sweep (the same as giving `--config-file` without a subcommand).
    Run(RunArgs),
    /// Check a config: schema, then semantics. Prints every problem; exit 2 if any.
    Validate {
        /// The batch config (YAML).
        file: PathBuf,
        /// Allow more combinations than the cap.
        #[arg(long, value_name = "N")]
        max_combinations: Option<u64>,
    },
    /// Print the JSON Schema of the config file.
    Schema,
    /// Install what runs need: the managed aiperf venv (and the offline tokenizer). Runs do this
    /// on first use; this is for provisioning a machine ahead of time.
    Setup {
        /// Use this config's `aiperf` section (version, python, venv_dir).
        #[arg(long, short = 'c', value_name = "FILE")]
        config_file: Option<PathBuf>,
    },
    /// Run the built-in OpenAI-compatible inference server (for rehearsals and tests).
    MockServer(crate::mockserver::MockServerArgs),
    /// Render the reports of a batch directory (after or during a sweep).
    Report {
        /// A batch directory (`<output_base_dir>/<batch_name>/<timestamp>`).
        batch_dir: PathBuf,
        /// Exit with code 1 when any target check FAILs.
        #[arg(long)]
        fail_on_target: bool,
        /// A tt-inference-server `model_performance_reference.json` to check against.
        #[arg(long, value_name = "FILE")]
        targets_file: Option<PathBuf>,
    },
    /// Compare two batches: match combinations by parameters, show each key metric's change.
    Compare {
        /// The baseline batch directory.
        batch_a: PathBuf,
        /// The batch directory to compare with it.
        batch_b: PathBuf,
        /// Also write `compare.md` and `compare.csv` into this directory.
        #[arg(long, short = 'o', value_name = "DIR")]
        output: Option<PathBuf>,
    },
}
