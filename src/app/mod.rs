//! The only module that sequences the stages: CLI -> config -> plan -> run -> results -> report.
//! It maps the command line onto each stage's inputs, prints what the stages return, and turns
//! errors into exit codes (through [`crate::app::error`]).

mod check_cmd;
pub mod cli;
pub mod decide;
pub mod dry_run;
pub mod error;
mod export_cmd;
pub mod live;
mod merge_cmd;
pub mod output;
mod report_cmd;
mod run_cmd;

use std::path::Path;
use std::process::ExitCode;

use crate::app::cli::{Cli, Command};
use crate::app::error::{EXIT_OK, Error};
use crate::app::output::{err_line, err_text, out_text};
use crate::config::{self, Config, Diagnostic, LoadOptions};
use crate::plan::{self, Plan};
use crate::report::{self};

/// Runs the parsed command line and returns the process exit code.
pub fn main(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Some(Command::MockServer(args)) => {
            let (host, port) = (args.host.clone(), args.port);
            crate::mockserver::main(&host, port, args.into()).map_err(Error::from)
        }
        Some(Command::Report { batch_dir, fail_on_target, output, targets }) => {
            report_cmd::report_cmd(&batch_dir, output.as_deref(), fail_on_target, &targets)
        }
        Some(Command::Export(what)) => export_cmd::export_cmd(what),
        Some(Command::Plan { file, shards, max_combinations }) => {
            check_cmd::plan_cmd(&file, shards, max_combinations)
        }
        Some(Command::Merge { dirs, partial }) => merge_cmd::merge_cmd(&dirs, partial),
        Some(Command::Compare { batch_a, batch_b, by, output, gate }) => report_cmd::compare_cmd(
            &batch_a,
            batch_b.as_deref(),
            by.as_deref(),
            output.as_deref(),
            &gate,
        ),
        Some(Command::Schema) => {
            out_text(&config::raw::schema_text());
            Ok(EXIT_OK)
        }
        Some(Command::Validate { file, max_combinations }) => {
            check_cmd::validate(&file, max_combinations)
        }
        Some(Command::Setup { config_file }) => check_cmd::setup(config_file.as_deref()),
        Some(Command::Run(args)) => run_cmd::run_main(&args),
        None => run_cmd::run_main(&cli.run),
    };
    ExitCode::from(result.unwrap_or_else(|e| {
        error::print(&e);
        e.exit_code()
    }))
}

/// A shard count given on the command line (1 to 10000).
pub(crate) fn check_shards(n: usize) -> Result<(), Error> {
    if n == 0 || n > 10_000 {
        return Err(Error::usage(
            format!("--shards {n}: between 1 and 10000 shards are expected"),
            "one shard per machine (array task, pod)",
        ));
    }
    Ok(())
}

/// The environment variables that hold the config's API keys.
pub(crate) fn key_vars(plan: &Plan) -> Vec<String> {
    let mut v: Vec<String> = plan
        .all()
        .filter_map(|c| c.merged.get("api_key_env_var").and_then(|x| x.as_str()).map(str::to_owned))
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Warns about shards that would run nothing.
pub(crate) fn warn_empty_shards(parts: &[crate::scaleout::shard::ShardPlan]) {
    let empty: Vec<String> = parts
        .iter()
        .enumerate()
        .filter(|(_, p)| p.combinations.is_empty() && p.templates.is_empty())
        .map(|(k, _)| k.to_string())
        .collect();
    if !empty.is_empty() {
        err_line(&format!(
            "warning: shard(s) {} would run nothing: the sweep has fewer units than shards (see `sweeper plan FILE --shards N`)",
            empty.join(", ")
        ));
    }
}

/// Writes `text` to `output` (saying so), or prints it.
pub(crate) fn write_or_print(output: Option<&Path>, text: &str) -> Result<u8, Error> {
    match output {
        Some(p) => {
            crate::records::write_atomic(p, text.as_bytes())
                .map_err(|source| report::ReportError::Write { path: p.to_path_buf(), source })?;
            err_line(&format!("wrote {}", p.display()));
        }
        None => out_text(text),
    }
    Ok(EXIT_OK)
}

/// Loads and plans a config.
pub fn load_and_plan(file: &Path, max_combinations: Option<u64>) -> Result<(Config, Plan), Error> {
    let cfg = config::load(file, &LoadOptions { max_combinations })?;
    let plan = plan::expand(&cfg)?;
    Ok((cfg, plan))
}

pub(crate) fn print_warnings(cfg: &Config, warnings: &[Diagnostic]) {
    if warnings.is_empty() {
        return;
    }
    let e = cfg.error(warnings.to_vec());
    let text = e
        .to_string()
        .replacen("invalid config", "warnings for config", 1)
        .replace("  error: ", "  warning: ");
    err_text(&text);
}

/// What `--dry-run` prints (see [`crate::app::dry_run`]).
pub fn dry_run_text(cfg: &Config, plan: &Plan, verbose: bool) -> String {
    crate::app::dry_run::text(cfg, plan, verbose)
}
