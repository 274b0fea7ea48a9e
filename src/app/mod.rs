//! The only module that sequences the stages: CLI -> config -> plan -> run -> results -> report.
//! It maps the command line onto each stage's inputs, prints what the stages return, and turns
//! errors into exit codes (through [`crate::app::error`]).

pub mod cli;
pub mod decide;
pub mod dry_run;
pub mod error;
pub mod live;
pub mod output;

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use crate::app::cli::{Cli, Command, RunArgs, TargetsArgs};
use crate::app::error::{EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, Error};
use crate::app::output::{err_line, err_text, out_line, out_text};
use crate::config::{self, Config, Diagnostic, LoadOptions};
use crate::plan::{self, Plan};
use crate::report::{self, ExtraTargets, compare};
use crate::run::{RunOptions, Summary};
use crate::util::number;

/// Runs the parsed command line and returns the process exit code.
pub fn main(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Some(Command::MockServer(args)) => {
            let (host, port) = (args.host.clone(), args.port);
            Ok(crate::mockserver::main(&host, port, args.into()))
        }
        Some(Command::Report { batch_dir, fail_on_target, output, targets }) => {
            report_cmd(&batch_dir, output.as_deref(), fail_on_target, &targets)
        }
        Some(Command::Export(what)) => export_cmd(what),
        Some(Command::Plan { file, shards, max_combinations }) => {
            plan_cmd(&file, shards, max_combinations)
        }
        Some(Command::Merge { dirs, partial }) => merge_cmd(&dirs, partial),
        Some(Command::Compare { batch_a, batch_b, output, gate }) => {
            compare_cmd(&batch_a, &batch_b, output.as_deref(), &gate)
        }
        Some(Command::Schema) => {
            out_text(&config::raw::schema_text());
            Ok(EXIT_OK)
        }
        Some(Command::Validate { file, max_combinations }) => validate(&file, max_combinations),
        Some(Command::Setup { config_file }) => setup(config_file.as_deref()),
        Some(Command::Run(args)) => run_main(&args),
        None => run_main(&cli.run),
    };
    ExitCode::from(result.unwrap_or_else(|e| {
        err_text(&e.render());
        e.exit_code()
    }))
}

/// A shard count given on the command line (1 to 10000).
fn check_shards(n: usize) -> Result<(), Error> {
    if n == 0 || n > 10_000 {
        return Err(Error::usage(
            format!("--shards {n}: between 1 and 10000 shards are expected"),
            "one shard per machine (array task, pod)",
        ));
    }
    Ok(())
}

/// The environment variables that hold the config's API keys.
fn key_vars(plan: &Plan) -> Vec<String> {
    let mut v: Vec<String> = plan
        .all()
        .filter_map(|c| c.merged.get("api_key_env_var").and_then(|x| x.as_str()).map(str::to_owned))
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Warns about shards that would run nothing.
fn warn_empty_shards(parts: &[crate::scaleout::shard::ShardPlan]) {
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

/// `sweeper plan X --shards N`.
fn plan_cmd(file: &Path, shards: usize, max_combinations: Option<u64>) -> Result<u8, Error> {
    check_shards(shards)?;
    let (cfg, plan) = load_and_plan(file, max_combinations)?;
    print_warnings(&cfg, &[cfg.warnings.clone(), plan.warnings.clone()].concat());
    let parts = crate::scaleout::shard::assign(&plan, shards);
    out_text(&crate::app::dry_run::shards_text(&plan, &parts));
    warn_empty_shards(&parts);
    Ok(EXIT_OK)
}

/// `sweeper merge DIR...`: exit 0 when every shard is merged and finished, 1 when a `--partial`
/// merge misses some, 2 when nothing could be merged.
fn merge_cmd(dirs: &[std::path::PathBuf], partial: bool) -> Result<u8, Error> {
    let m = crate::scaleout::merge::merge(dirs, partial)
        .map_err(|e| Error::Usage { message: e.to_string(), hint: Some(e.hint()) })?;
    let out = report::render_batch(&m.batch_dir, None)?;
    for w in &out.warnings {
        err_line(&format!("warning: {w}"));
    }
    out_line(&format!(
        "merged {} of {} shard(s) into {}: {} combinations, {} without a successful run",
        m.found.len(),
        m.shards,
        m.batch_dir.display(),
        m.combinations,
        m.not_run
    ));
    out_line(&format!("reports: {}", m.batch_dir.join(report::REPORT_MD_FILE).display()));
    let list = |v: &[usize]| v.iter().map(usize::to_string).collect::<Vec<_>>().join(", ");
    if !m.missing.is_empty() || !m.unfinished.is_empty() {
        if !m.missing.is_empty() {
            err_line(&format!(
                "partial: shard(s) {} missing: their combinations are listed as not run",
                list(&m.missing)
            ));
        }
        if !m.unfinished.is_empty() {
            err_line(&format!("partial: shard(s) {} not finished", list(&m.unfinished)));
        }
        return Ok(EXIT_FAILED);
    }
    Ok(EXIT_OK)
}

fn export_cmd(what: crate::app::cli::ExportCommand) -> Result<u8, Error> {
    match what {
        crate::app::cli::ExportCommand::Slurm {
            config,
            shards,
            partition,
            gpus_per_task,
            time,
            sweeper,
            output,
        } => {
            check_shards(shards)?;
            for (what, v, allowed) in
                [("partition", partition.as_deref(), "_,.-"), ("time", time.as_deref(), ":-")]
            {
                if let Some(v) = v {
                    crate::scaleout::slurm::check(what, v, allowed)
                        .map_err(|m| Error::usage(m, "see `man sbatch`"))?;
                }
            }
            let (cfg, plan) = load_and_plan(&config, None)?;
            warn_empty_shards(&crate::scaleout::shard::assign(&plan, shards));
            let cwd = std::env::current_dir().map_err(|e| {
                Error::usage(format!("no working directory: {e}"), "run from an existing directory")
            })?;
            let abs = |p: &Path| if p.is_absolute() { p.to_path_buf() } else { cwd.join(p) };
            let job = crate::scaleout::slurm::SlurmJob {
                batch_name: cfg.batch_name.clone(),
                shards,
                partition,
                gpus_per_task,
                time,
                sweeper: sweeper.unwrap_or_else(|| {
                    std::env::current_exe().unwrap_or_else(|_| "sweeper".into())
                }),
                config: abs(&config),
                workdir: cwd.clone(),
                batch_parent: abs(&cfg.output_base_dir).join(&cfg.batch_name),
                key_vars: key_vars(&plan),
            };
            write_or_print(output.as_deref(), &crate::scaleout::slurm::script(&job))
        }
        crate::app::cli::ExportCommand::K8s {
            config,
            shards,
            image,
            gpus,
            pvc,
            pvc_size,
            namespace,
            secret,
            batch_id,
            output,
        } => {
            check_shards(shards)?;
            let batch_id = batch_id
                .unwrap_or_else(|| chrono::Local::now().format("%Y%m%d_%H%M%S").to_string());
            for (what, v) in [("pvc", &pvc), ("namespace", &namespace), ("secret", &secret)] {
                if crate::scaleout::k8s::dns_name(v, 63) != *v {
                    return Err(Error::usage(
                        format!("--{what} `{v}` is not a Kubernetes name"),
                        "lowercase letters, digits and `-`, starting and ending with a letter or digit",
                    ));
                }
            }
            if image.trim().is_empty() || image.chars().any(char::is_whitespace) {
                return Err(Error::usage(
                    format!("--image `{image}` is not an image reference"),
                    "e.g. `--image registry.example.com/sweeper:0.1`",
                ));
            }
            if let Some(s) = &pvc_size {
                crate::scaleout::slurm::check("pvc-size", s, ".")
                    .map_err(|m| Error::usage(m, "e.g. `--pvc-size 20Gi`"))?;
            }
            let (cfg, plan) = load_and_plan(&config, None)?;
            warn_empty_shards(&crate::scaleout::shard::assign(&plan, shards));
            let parent = cfg.output_base_dir.join(&cfg.batch_name);
            let job = crate::scaleout::k8s::K8sJob {
                batch_name: cfg.batch_name.clone(),
                config_text: cfg.source.clone(),
                batch_parent: parent.display().to_string(),
                shards,
                image,
                gpus,
                pvc,
                pvc_size,
                namespace,
                secret,
                batch_id,
                key_vars: key_vars(&plan),
            };
            let yaml = crate::scaleout::k8s::manifests(&job)
                .map_err(|m| Error::usage(m, "report this as a bug"))?;
            write_or_print(output.as_deref(), &yaml)
        }
        crate::app::cli::ExportCommand::Tt {
            batch_dir,
            to,
            impl_name,
            model,
            device,
            split_by,
        } => {
            let results = crate::results::collect(&batch_dir)?;
            let model_id = match (impl_name, model, device) {
                (Some(i), Some(m), Some(d)) => {
                    for (flag, problem) in [
                        ("--impl", crate::tt::names::name_problem(&i)),
                        ("--model", crate::tt::names::name_problem(&m)),
                        ("--device", crate::tt::names::device_problem(&d)),
                    ] {
                        if let Some(p) = problem {
                            return Err(Error::usage(
                                format!("{flag}: {p}"),
                                format!(
                                    "tt's model id is id_{{impl}}_{{model}}_{{device}}, e.g. id_tt-transformers_Llama-3.3-70B-Instruct_t3k; devices: {}",
                                    crate::tt::names::NAME_DEVICES.join(", ")
                                ),
                            ));
                        }
                    }
                    crate::tt::names::model_id(&i, &m, &d)
                }
                _ => results.tt_model_id.clone().ok_or_else(|| {
                    Error::usage(
                        format!(
                            "`{}` has no tt-inference-server model id: its config has no `tt` section",
                            batch_dir.display()
                        ),
                        "pass --impl, --model and --device (e.g. --impl tt-transformers --model Llama-3.3-70B-Instruct --device t3k), or add a `tt` section to the config",
                    )
                })?,
            };
            let done = crate::tt::export::export(&results, &to, &model_id, &split_by)
                .map_err(|e| Error::Usage { message: e.to_string(), hint: e.hint() })?;
            for (index, point, why) in &done.skipped {
                err_text(&format!("warning: no tt file for #{index} `{point}`: {why}\n"));
            }
            let folders = if done.folders.len() == 1 {
                format!("`{}`", done.folders[0].display())
            } else {
                format!("{} folders under `{}`", done.folders.len(), to.display())
            };
            out_line(&format!(
                "wrote {} tt-inference-server file(s) named `aiperf_benchmark_{model_id}_*.json` into {}{}",
                done.written.len(),
                if done.folders.is_empty() { format!("`{}`", to.display()) } else { folders },
                if done.unchanged.is_empty() {
                    String::new()
                } else {
                    format!(" ({} already there, unchanged)", done.unchanged.len())
                }
            ));
            if !done.skipped.is_empty() {
                out_line(&format!(
                    "skipped {} point(s) tt cannot represent (see the warnings above)",
                    done.skipped.len()
                ));
            }
            out_line(
                "tt's report workflow reads them from `$CACHE_ROOT/workflow_logs/benchmarks_output/` (else `<tt-inference-server>/workflow_logs/benchmarks_output/`)",
            );
            Ok(EXIT_OK)
        }
    }
}

/// Writes `text` to `output` (saying so), or prints it.
fn write_or_print(output: Option<&Path>, text: &str) -> Result<u8, Error> {
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

fn print_warnings(cfg: &Config, warnings: &[Diagnostic]) {
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

fn validate(file: &Path, max_combinations: Option<u64>) -> Result<u8, Error> {
    let (cfg, plan) = load_and_plan(file, max_combinations)?;
    print_warnings(&cfg, &[cfg.warnings.clone(), plan.warnings.clone()].concat());
    out_line(&format!("ok: `{}` is valid: {}", file.display(), plan.size_text()));
    Ok(EXIT_OK)
}

fn setup(file: Option<&Path>) -> Result<u8, Error> {
    let settings = match file {
        Some(f) => load_and_plan(f, None)?.0.aiperf,
        None => config::AiperfSettings::default(),
    };
    let mut log = |l: &str| err_line(&format!("sweeper: {l}"));
    let a = crate::run::venv::ensure(&settings, &mut log)?;
    let t = crate::run::venv::offline_tokenizer(&a, &mut log)?;
    out_line(&format!(
        "aiperf {} ready: {}\noffline tokenizer: {}",
        a.version,
        a.exe.display(),
        t.display()
    ));
    Ok(EXIT_OK)
}

fn run_main(args: &RunArgs) -> Result<u8, Error> {
    let Some(file) = &args.config_file else {
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
        return Err(Error::usage(
            "no config given",
            "`sweeper --config-file aiperf_configs/quickstart.yaml` runs a sweep against the built-in mock server; `sweeper --help` lists every command",
        ));
    };
    let (cfg, plan) = load_and_plan(file, args.max_combinations)?;
    print_warnings(&cfg, &[cfg.warnings.clone(), plan.warnings.clone()].concat());
    gate_options(&args.gate)?;
    if let Some(b) = &args.baseline {
        // Checked before hours of running, not after.
        crate::results::collect(b)?;
    } else if args.gate.fail_on_regression {
        return Err(Error::usage(
            "--fail-on-regression needs --baseline BATCH_DIR to compare the sweep with",
            "`sweeper --config-file X.yaml --baseline <earlier batch dir> --fail-on-regression`",
        ));
    }
    if args.dry_run {
        if let Some(s) = args.shard {
            let parts = crate::scaleout::shard::assign(&plan, s.n);
            out_text(&crate::app::dry_run::shards_text(&plan, &parts));
            let part = crate::scaleout::shard::record(&plan, &parts, s, "");
            let mut mine = plan.clone();
            mine.combinations.retain(|c| part.runs(c.index));
            mine.templates.retain(|t| part.searches(t.index));
            let dir = cfg
                .output_base_dir
                .join(&cfg.batch_name)
                .join(args.batch_id.as_deref().unwrap_or("<batch id>"))
                .join(crate::records::SHARDS_DIR)
                .join(s.k.to_string());
            out_text(&format!(
                "\nshard {s}:\n{}",
                crate::app::dry_run::text_in(&cfg, &mine, args.verbose, &dir)
            ));
            return Ok(EXIT_OK);
        }
        out_text(&dry_run_text(&cfg, &plan, args.verbose));
        return Ok(EXIT_OK);
    }
    let shard = match (&args.shard, &args.batch_id, &args.resume) {
        (Some(s), Some(id), _) => Some((*s, id.clone())),
        (Some(s), None, None) => {
            return Err(Error::usage(
                format!("--shard {s} needs --batch-id: the shards of one batch share it"),
                "e.g. `--shard $SLURM_ARRAY_TASK_ID/4 --batch-id $SLURM_ARRAY_JOB_ID`; `sweeper export slurm` writes the job",
            ));
        }
        (Some(s), None, Some(_)) => Some((*s, String::new())),
        (None, _, _) => None,
    };
    let opts = RunOptions {
        shard,
        resume: args.resume.clone(),
        verbose: args.verbose,
        program: std::env::current_exe().unwrap_or_else(|_| "sweeper".into()),
        on_hard_kill: Some(Arc::new(|| err_line("\nsweeper: killing everything now"))),
        artifacts: crate::results::check_artifacts,
    };
    let mut term = crate::app::output::Terminal::new(args.verbose);
    let mut live = live::LiveReports::default();
    let (batch_dir, summary) = crate::run::execute(
        &cfg,
        &plan,
        &opts,
        &mut decide::SearchDecisions::new(&plan),
        &mut live::Tee(vec![&mut term, &mut live]),
    )?;
    let (target_fails, reports_failed) = match live.final_render.take() {
        Some(Ok(o)) => (o.target_fails, false),
        Some(Err(e)) => {
            err_line(&format!(
                "sweeper: error: failed to render reports: {e}\n  hint: free space, then `sweeper report {}`",
                batch_dir.display()
            ));
            (0, true)
        }
        None => (0, true),
    };
    print_summary(&summary, &batch_dir, target_fails);
    if let Ok(results) = crate::results::collect(&batch_dir) {
        let report = report::Report::build(&results, None);
        err_text(&format!(
            "\n{}",
            crate::app::output::results_table(&report, crate::app::output::use_color())
        ));
    }
    if let Some(why) = &summary.stopped {
        err_line(&format!(
            "error: the batch stopped early: {why}\n  hint: free space, then `sweeper --config-file {} --resume {}` runs what is left",
            file.display(),
            batch_dir.display()
        ));
    } else if summary.record_errors > 0 {
        err_line(&format!(
            "error: {} record(s) could not be written; those runs count as failed\n  hint: `sweeper --config-file {} --resume {}` runs them again",
            summary.record_errors,
            file.display(),
            batch_dir.display()
        ));
    }
    let mut regressed = false;
    if let Some(base) = &args.baseline
        && !summary.interrupted
    {
        err_line(&format!("\nsweeper: comparing with the baseline {}", base.display()));
        match run_compare(base, &batch_dir, Some(&batch_dir), &args.gate) {
            Ok(code) => regressed = code == EXIT_FAILED,
            Err(e) => {
                err_text(&e.render());
                regressed = args.gate.fail_on_regression;
            }
        }
    }
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

/// `sweeper report <batch dir>`: renders every report; exit 1 when `fail_on_target` and a target
/// check failed.
fn report_cmd(
    batch_dir: &Path,
    output: Option<&Path>,
    fail_on_target: bool,
    t: &TargetsArgs,
) -> Result<u8, Error> {
    let extra = match &t.targets_file {
        Some(f) => Some(ExtraTargets {
            reference: crate::tt::reference::load(f, t.model.as_deref(), t.device.as_deref())?,
            tolerance: t.tolerance.unwrap_or(crate::tt::reference::DEFAULT_TOLERANCE),
        }),
        None => None,
    };
    let out_dir = output.unwrap_or(batch_dir);
    let out = report::render_batch_to(batch_dir, out_dir, extra.as_ref())?;
    for w in &out.warnings {
        err_line(&format!("warning: {w}"));
    }
    let (reports, per_run): (Vec<&std::path::PathBuf>, Vec<_>) =
        out.files_written.iter().partition(|f| f.parent() == Some(out_dir));
    for f in reports {
        out_line(&format!("wrote {}", f.display()));
    }
    if !per_run.is_empty() {
        out_line(&format!(
            "wrote {} per-run standardized JSON file(s) (aiperf_benchmark_*.json)",
            per_run.len()
        ));
    }
    out_line(&format!(
        "{} combinations, {} failed; targets: {} passed, {} failed",
        out.combinations, out.failed_runs, out.target_passes, out.target_fails
    ));
    if fail_on_target && out.target_fails > 0 {
        err_line(&format!(
            "error: {} target check(s) failed\n  hint: see the Targets section of `{}`",
            out.target_fails,
            out_dir.join(report::REPORT_MD_FILE).display()
        ));
        return Ok(EXIT_FAILED);
    }
    Ok(EXIT_OK)
}

/// How `--threshold` and `--confidence` judge changes (checked).
fn gate_options(gate: &crate::app::cli::GateArgs) -> Result<compare::CompareOptions, Error> {
    let threshold_pct = gate.threshold.unwrap_or(compare::DEFAULT_THRESHOLD_PCT);
    if !(threshold_pct.is_finite() && (0.0..=1000.0).contains(&threshold_pct)) {
        return Err(Error::usage(
            format!("--threshold {threshold_pct}: a percentage between 0 and 1000 is expected"),
            "e.g. `--threshold 5` calls a change a regression only beyond 5%",
        ));
    }
    if let Some(c) = gate.confidence
        && !(c.is_finite() && (0.5..=0.999).contains(&c))
    {
        return Err(Error::usage(
            format!("--confidence {c}: a level between 0.5 and 0.999 is expected"),
            "e.g. `--confidence 0.95`",
        ));
    }
    Ok(compare::CompareOptions { threshold_pct, confidence: gate.confidence })
}

/// Compares two batches: prints the comparison, writes `compare.md`/`compare.csv` into
/// `output`; the exit code is 1 with `--fail-on-regression` and a regression.
fn run_compare(
    a: &Path,
    b: &Path,
    output: Option<&Path>,
    gate: &crate::app::cli::GateArgs,
) -> Result<u8, Error> {
    let opts = gate_options(gate)?;
    let ra = crate::results::collect(a)?;
    let rb = crate::results::collect(b)?;
    let c = compare::compare(&ra, &rb, &opts)?;
    let md = compare::render_markdown(&c)?;
    out_text(&md);
    if let Some(dir) = output {
        fs_err::create_dir_all(dir)
            .map_err(|source| report::ReportError::CreateDir { path: dir.to_path_buf(), source })?;
        let csv = compare::render_csv(&c)?;
        for (name, bytes) in [("compare.md", md.into_bytes()), ("compare.csv", csv)] {
            let p = dir.join(name);
            crate::records::write_derived(&p, &bytes)
                .map_err(|source| report::ReportError::Write { path: p.clone(), source })?;
            err_line(&format!("wrote {}", p.display()));
        }
    }
    if c.regressions > 0 {
        let gate_word = if gate.fail_on_regression { "error" } else { "warning" };
        err_line(&format!(
            "{gate_word}: {} regression(s) beyond {}% and significant at {}% confidence",
            c.regressions,
            number::fixed(c.threshold_pct, 1),
            number::fixed(c.confidence_pct, 0)
        ));
        if gate.fail_on_regression {
            return Ok(EXIT_FAILED);
        }
    }
    Ok(EXIT_OK)
}

/// `sweeper compare A B [--output DIR] [--fail-on-regression]`.
fn compare_cmd(
    a: &Path,
    b: &Path,
    output: Option<&Path>,
    gate: &crate::app::cli::GateArgs,
) -> Result<u8, Error> {
    run_compare(a, b, output, gate)
}

/// What `--dry-run` prints (see [`crate::app::dry_run`]).
pub fn dry_run_text(cfg: &Config, plan: &Plan, verbose: bool) -> String {
    crate::app::dry_run::text(cfg, plan, verbose)
}
