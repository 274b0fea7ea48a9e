//! The only module that sequences the stages: CLI -> config -> plan -> run -> results -> report.

use std::path::Path;
use std::process::ExitCode;

use crate::cli::{Cli, Command, RunArgs};
use crate::config::{self, Config, ConfigError, Diagnostic, LoadOptions};
use crate::error::{EXIT_CONFIG, EXIT_OK};
use crate::plan::{self, ArgContext, Plan, argv};

/// Runs the parsed command line and returns the process exit code.
pub fn main(cli: Cli) -> ExitCode {
    let code = match cli.command {
        Some(Command::MockServer(args)) => crate::mockserver::main(args),
        Some(Command::Report { batch_dir, fail_on_target, targets_file }) => report_result(
            crate::report::report_command(&batch_dir, fail_on_target, targets_file.as_deref()),
        ),
        Some(Command::Compare { batch_a, batch_b, output }) => {
            report_result(crate::report::compare_command(&batch_a, &batch_b, output.as_deref()))
        }
        Some(Command::Schema) => {
            print!("{}", config::raw::schema_text());
            EXIT_OK
        }
        Some(Command::Validate { file, max_combinations }) => validate(&file, max_combinations),
        Some(Command::Setup { config_file }) => setup(config_file.as_deref()),
        Some(Command::Run(args)) => run_main(&args),
        None => run_main(&cli.run),
    };
    ExitCode::from(code)
}

fn report_result(r: Result<u8, String>) -> u8 {
    match r {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_CONFIG
        }
    }
}

/// Loads and plans a config; prints every problem and returns `Err(exit code)` on failure.
pub fn load_and_plan(file: &Path, max_combinations: Option<u64>) -> Result<(Config, Plan), u8> {
    let cfg = config::load(file, &LoadOptions { max_combinations }).map_err(print_config_error)?;
    let plan = plan::expand(&cfg).map_err(print_config_error)?;
    Ok((cfg, plan))
}

fn print_config_error(e: ConfigError) -> u8 {
    eprint!("error: {e}");
    EXIT_CONFIG
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
    eprint!("{text}");
}

fn validate(file: &Path, max_combinations: Option<u64>) -> u8 {
    match load_and_plan(file, max_combinations) {
        Ok((cfg, plan)) => {
            print_warnings(&cfg, &[cfg.warnings.clone(), plan.warnings.clone()].concat());
            println!(
                "ok: `{}` is valid: {} combination{}",
                file.display(),
                plan.combinations.len(),
                if plan.combinations.len() == 1 { "" } else { "s" }
            );
            EXIT_OK
        }
        Err(code) => code,
    }
}

fn setup(file: Option<&Path>) -> u8 {
    let settings = match file {
        Some(f) => match load_and_plan(f, None) {
            Ok((cfg, _)) => cfg.aiperf,
            Err(code) => return code,
        },
        None => config::AiperfSettings::default(),
    };
    let mut log = |l: &str| eprintln!("sweeper: {l}");
    let result = crate::run::venv::ensure(&settings, &mut log)
        .and_then(|a| crate::run::venv::offline_tokenizer(&a, &mut log).map(|t| (a, t)));
    match result {
        Ok((a, t)) => {
            println!(
                "aiperf {} ready: {}
offline tokenizer: {}",
                a.version,
                a.exe.display(),
                t.display()
            );
            EXIT_OK
        }
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_CONFIG
        }
    }
}

fn run_main(args: &RunArgs) -> u8 {
    let Some(file) = &args.config_file else {
        if let Some(dir) = &args.resume {
            eprintln!(
                "error: --resume needs the config the batch was started with\n  hint: `sweeper --config-file {} --resume {}` (that is the copy the batch kept)",
                dir.join(crate::records::CONFIG_COPY_FILE).display(),
                dir.display()
            );
            return EXIT_CONFIG;
        }
        eprintln!(
            "error: no config given\n  hint: `sweeper --config-file aiperf_configs/quickstart.yaml` runs a sweep against the built-in mock server; `sweeper --help` lists every command"
        );
        return EXIT_CONFIG;
    };
    let (cfg, plan) = match load_and_plan(file, args.max_combinations) {
        Ok(x) => x,
        Err(code) => return code,
    };
    print_warnings(&cfg, &[cfg.warnings.clone(), plan.warnings.clone()].concat());
    if args.dry_run {
        print!("{}", dry_run_text(&cfg, &plan, args.verbose));
        return EXIT_OK;
    }
    crate::run::execute(&cfg, &plan, args)
}

/// What `--dry-run` prints: the combinations table, each server's command, every aiperf command.
pub fn dry_run_text(cfg: &Config, plan: &Plan, verbose: bool) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let n = plan.combinations.len();
    // Server ids in order of first appearance (server-2 before server-10).
    let mut servers: Vec<&str> = Vec::new();
    for c in &plan.combinations {
        if !servers.contains(&c.server_id.as_str()) {
            servers.push(&c.server_id);
        }
    }
    let batch_dir = cfg.output_base_dir.join(&cfg.batch_name).join("<YYYYMMDD_HHMMSS>");
    let _ = writeln!(
        out,
        "dry run: `{}` is valid: {n} combination{}, {} server{}; nothing will be run or written",
        cfg.file.display(),
        if n == 1 { "" } else { "s" },
        servers.len(),
        if servers.len() == 1 { "" } else { "s" }
    );
    let _ = writeln!(out, "batch directory: {}\n", batch_dir.display());

    // The table.
    let keys: Vec<String> = {
        let mut k: Vec<String> = plan.swept_keys.clone();
        k.sort();
        k
    };
    let rows = plan::params_table(plan);
    let mut header = vec!["#".to_owned()];
    header.extend(keys.iter().cloned());
    header.push("server".into());
    header.push("directory".into());
    let mut table: Vec<Vec<String>> = vec![header];
    for (c, (index, vals, dir)) in plan.combinations.iter().zip(rows) {
        let mut row = vec![index.to_string()];
        row.extend(keys.iter().map(|k| vals.get(k).cloned().unwrap_or_default()));
        row.push(c.server_id.clone());
        row.push(if dir.is_empty() { "(batch directory)".into() } else { dir });
        table.push(row);
    }
    let widths: Vec<usize> = (0..table[0].len())
        .map(|i| table.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    for row in &table {
        let line: Vec<String> = row.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        let _ = writeln!(out, "  {}", line.join("  ").trim_end());
    }

    // Servers.
    let _ = writeln!(out);
    for sid in &servers {
        let Some(c) = plan.combinations.iter().find(|c| c.server_id == *sid) else { continue };
        let health =
            c.merged.get("health_check_endpoint").and_then(|v| v.as_str()).unwrap_or("/v1/models");
        match &c.server {
            None => {
                let _ = writeln!(
                    out,
                    "{sid}: external server at {} (health: GET {health})",
                    c.url().unwrap_or_default()
                );
            }
            Some(s) => match plan::server::launch(s, &cfg.batch_name, sid, "sweeper") {
                None => {
                    let _ = writeln!(
                        out,
                        "{sid}: external server at {} (health: GET {health})",
                        c.url().unwrap_or_default()
                    );
                }
                Some(l) => {
                    let _ = writeln!(out, "{sid}: {} server, started with:", s.kind());
                    let mut line = String::new();
                    if let Some(cwd) = &l.cwd {
                        let _ = write!(
                            line,
                            "cd {} && ",
                            shell_words::quote(&cwd.display().to_string())
                        );
                    }
                    for (k, v) in &l.env {
                        let _ = write!(line, "{k}={} ", shell_words::quote(v));
                    }
                    line.push_str(&argv::shell_line(&l.argv));
                    let _ = writeln!(out, "    {line}");
                    let _ = writeln!(
                        out,
                        "    health: GET {}{} within {}s",
                        l.url.as_deref().unwrap_or("http://127.0.0.1:<port>"),
                        l.health_path,
                        l.startup_timeout_s
                    );
                }
            },
        }
    }

    // Commands.
    let _ = writeln!(out, "\naiperf commands (run order):");
    for i in plan.run_order() {
        let c = &plan.combinations[i];
        let dir = if c.dir.is_empty() { batch_dir.clone() } else { batch_dir.join(&c.dir) };
        let ctx = ArgContext { artifact_dir: Some(&dir), verbose, ..Default::default() };
        let _ = writeln!(out, "[{}] {}", c.index, argv::shell_line(&argv::render(&c.args, &ctx)));
        if verbose {
            let merged = serde_json::to_string_pretty(&c.merged).unwrap_or_default();
            let _ = writeln!(out, "    merged config:");
            for l in merged.lines() {
                let _ = writeln!(out, "      {l}");
            }
            for t in &c.targets {
                let _ = writeln!(
                    out,
                    "    target: {} = {} (tolerance {}, {})",
                    t.metric, t.target, t.tolerance, t.source
                );
            }
        }
    }
    out
}
