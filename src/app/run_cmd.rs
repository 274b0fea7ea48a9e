//! `sweeper run` (and `sweeper --config-file`): load, plan, run with the live reporters, then
//! the summary, and the gate against `--baseline`.

use std::path::Path;
use std::sync::Arc;

use crate::app::cli::RunArgs;
use crate::app::dry_run_text;
use crate::app::error::{EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, Error};
use crate::app::output::{err_line, err_text, out_text};
use crate::app::report_cmd::{gate_options, run_compare};
use crate::app::{load_and_plan, print_warnings};
use crate::config::Config;
use crate::plan::Plan;
use crate::report;
use crate::run::{RunOptions, Summary};
use crate::scaleout::shard::Shard;

pub(super) fn run_main(args: &RunArgs) -> Result<u8, Error> {
    let file = config_file(args)?;
    let (cfg, plan) = load_and_plan(file, args.max_combinations)?;
    print_warnings(&cfg, &[cfg.warnings.clone(), plan.warnings.clone()].concat());
    check_gate(args, &plan)?;
    if args.dry_run {
        out_text(&dry_run(args, shard_arg(args)?, &cfg, &plan));
        return Ok(EXIT_OK);
    }
    let opts = RunOptions {
        shard: shard_option(args)?,
        resume: args.resume.clone(),
        verbose: args.verbose,
        program: std::env::current_exe().unwrap_or_else(|_| "sweeper".into()),
        on_hard_kill: Some(Arc::new(|| err_line("\nsweeper: killing everything now"))),
        artifacts: crate::results::check_artifacts,
    };
    let mut term = crate::app::output::Terminal::new(args.verbose);
    let mut live = crate::app::live::LiveReports::default();
    live.verbose = args.verbose;
    let (batch_dir, summary) = crate::run::execute(
        &cfg,
        &plan,
        &opts,
        &mut crate::app::decide::SearchDecisions::new(&plan),
        &mut crate::app::live::Tee(vec![&mut term, &mut live]),
    )?;
    // The reports render once the plan is let go (at 1,000 combinations a few MB of merged
    // configs and argv): the batch's peak memory is the larger of the two, not their sum.
    let ab = plan.ab.clone();
    drop((cfg, plan));
    live.render_final();
    let mut problems = Vec::new();
    let target_fails = match live.final_render.take() {
        Some(Ok(o)) => o.target_fails,
        Some(Err(e)) => {
            problems.push(Error::Failed {
                message: format!("failed to render reports: {e}"),
                hint: format!("free space, then `sweeper report {}`", batch_dir.display()),
            });
            0
        }
        None => 0,
    };
    let reports_failed = !problems.is_empty();
    print_summary(&summary, &batch_dir, target_fails);
    if let Some((table, closed)) = live.final_table.take() {
        err_text(&format!("\n{table}"));
        if closed > 0 {
            err_line(&format!("warning: {}", crate::results::connection::warning("", closed)));
        }
    }
    problems.extend(unfinished(&summary, file, &batch_dir));
    for e in &problems {
        crate::app::error::print(e);
    }
    let regressed = gate(args, ab.as_ref(), &summary, &batch_dir);
    Ok(if summary.interrupted {
        EXIT_INTERRUPTED
    } else if regressed
        || summary.failed > 0
        || summary.record_errors > 0
        || summary.stopped.is_some()
        || reports_failed
        || (args.fail_on_target && target_fails > 0)
    {
        EXIT_FAILED
    } else {
        EXIT_OK
    })
}

/// The config to run (`--config-file`), or why there is none.
fn config_file(args: &RunArgs) -> Result<&Path, Error> {
    if let Some(file) = &args.config_file {
        return Ok(file);
    }
    if let Some(dir) = &args.resume {
        return Err(Error::usage(
            "--resume needs the config the batch was started with",
            format!(
                "`sweeper --config-file {} --resume {}` (that is the copy the batch kept)",
                dir.join(crate::records::CONFIG_COPY_FILE).display(),
                dir.display()
            ),
        ));
    }
    Err(Error::usage(
        "no config given",
        "`sweeper --config-file aiperf_configs/quickstart.yaml` runs a sweep against the built-in mock server; `sweeper --help` lists every command",
    ))
}

/// The gate's flags, and the baseline it compares with (readable, with a point in common with
/// the plan): checked before hours of running.
fn check_gate(args: &RunArgs, plan: &Plan) -> Result<(), Error> {
    gate_options(&args.gate)?;
    if let Some(b) = &args.baseline {
        let base = crate::results::collect(b)?;
        // (A search's probe values are not known before it runs: its points are not checked.)
        if plan.templates.is_empty() {
            let planned: Vec<&crate::records::Params> =
                plan.combinations.iter().map(|c| &c.params).collect();
            report::compare::check_common(&base, &planned, "this sweep")?;
        }
    } else if args.gate.fail_on_regression && plan.ab.is_none() {
        return Err(Error::usage(
            "--fail-on-regression needs --baseline BATCH_DIR to compare the sweep with (or an `ab` section that compares values inside the batch)",
            "`sweeper --config-file X.yaml --baseline <earlier batch dir> --fail-on-regression`",
        ));
    }
    Ok(())
}

/// What `--dry-run` prints: the whole plan, or with `--shard` the assignment and that shard.
fn dry_run(args: &RunArgs, shard: Option<Shard>, cfg: &Config, plan: &Plan) -> String {
    let Some(s) = shard else { return dry_run_text(cfg, plan, args.verbose) };
    let parts = crate::scaleout::shard::assign(plan, s.n);
    let part = crate::scaleout::shard::record(plan, &parts, s, "");
    let mut mine = plan.clone();
    mine.combinations.retain(|c| part.runs(c.index));
    mine.templates.retain(|t| part.searches(t.index));
    let dir = cfg
        .output_base_dir
        .join(&cfg.batch_name)
        .join(args.batch_id.as_deref().unwrap_or("<batch id>"))
        .join(crate::records::SHARDS_DIR)
        .join(s.k.to_string());
    format!(
        "{}\nshard {s}:\n{}",
        crate::app::dry_run::shards_text(plan, &parts),
        crate::app::dry_run::text_in(cfg, &mine, args.verbose, &dir)
    )
}

/// `--shard K/N`, checked here (not by clap, which would echo a bad value raw).
fn shard_arg(args: &RunArgs) -> Result<Option<Shard>, Error> {
    args.shard.as_deref().map(str::parse::<Shard>).transpose().map_err(Error::from)
}

/// `--shard K/N` with its batch id (none needed on `--resume`).
fn shard_option(args: &RunArgs) -> Result<Option<(Shard, String)>, Error> {
    let shard = shard_arg(args)?;
    let batch_id = args.batch_id.as_deref().map(crate::scaleout::shard::batch_id).transpose()?;
    Ok(match (&shard, &batch_id, &args.resume) {
        (Some(s), Some(id), _) => Some((*s, id.clone())),
        (Some(s), None, None) => {
            return Err(Error::usage(
                format!("--shard {s} needs --batch-id: the shards of one batch share it"),
                "e.g. `--shard $SLURM_ARRAY_TASK_ID/4 --batch-id $SLURM_ARRAY_JOB_ID`; `sweeper export slurm` writes the job",
            ));
        }
        (Some(s), None, Some(_)) => Some((*s, String::new())),
        (None, _, _) => None,
    })
}

/// What kept the batch from finishing: it stopped early, or records could not be written.
fn unfinished(summary: &Summary, file: &Path, batch_dir: &Path) -> Option<Error> {
    let resume =
        format!("sweeper --config-file {} --resume {}", file.display(), batch_dir.display());
    if let Some(why) = &summary.stopped {
        Some(Error::Failed {
            message: format!("the batch stopped early: {why}"),
            hint: format!("free space, then `{resume}` runs what is left"),
        })
    } else if summary.record_errors > 0 {
        Some(Error::Failed {
            message: format!(
                "{} record(s) could not be written; those runs count as failed",
                summary.record_errors
            ),
            hint: format!("`{resume}` runs them again"),
        })
    } else {
        None
    }
}

/// The `--baseline` gate after the run, or an A/B batch's verdict (`compare.md` in the batch):
/// whether it found a regression (or could not compare with `--fail-on-regression`). A shard
/// holds part of the points: its merged batch is compared.
fn gate(
    args: &RunArgs,
    ab: Option<&crate::records::Ab>,
    summary: &Summary,
    batch_dir: &Path,
) -> bool {
    if summary.interrupted {
        return false;
    }
    let outcome = match (&args.baseline, ab) {
        (Some(base), _) => {
            err_line(&format!("\nsweeper: comparing with the baseline {}", base.display()));
            run_compare(base, batch_dir, Some(batch_dir), &args.gate)
        }
        (None, Some(ab)) if args.shard.is_none() => {
            err_line(&format!("\nsweeper: comparing the values of `{}` (A/B)", ab.by));
            crate::app::report_cmd::compare_cmd(batch_dir, None, None, Some(batch_dir), &args.gate)
        }
        _ => return false,
    };
    match outcome {
        Ok(_) => false,
        Err(e) => {
            crate::app::error::print(&e);
            args.gate.fail_on_regression
        }
    }
}

fn print_summary(summary: &Summary, batch_dir: &Path, target_fails: usize) {
    let partial = if summary.partial > 0 {
        format!(" ({} with failed requests)", summary.partial)
    } else {
        String::new()
    };
    err_line(&format!(
        "\nSUMMARY\n  total     : {}\n  completed : {}{partial}\n  failed    : {}\n  skipped   : {}\n  batch dir : {}",
        summary.total,
        summary.completed,
        summary.failed,
        summary.skipped,
        batch_dir.display()
    ));
    let md = batch_dir.join(report::REPORT_MD_FILE);
    if md.is_file() {
        err_line(&format!("  reports   : {}", md.display()));
    }
    if target_fails > 0 {
        err_line(&format!("  targets   : {target_fails} FAIL"));
    }
}
