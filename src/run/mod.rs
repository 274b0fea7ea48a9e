//! Execute a plan: managed aiperf venv, server lifecycle, one aiperf per combination, records
//! that lose nothing (every file atomic, the manifest rewritten after every run).
//!
//! tokio is used here because the waiting is truly concurrent: aiperf's exit, its timeout, the
//! server dying and Ctrl-C are all watched at once. Everything else is plain code.

pub mod process;
pub mod server;
pub mod venv;

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::watch;

use crate::cli::RunArgs;
use crate::config::{Config, ServerConfig};
use crate::error::{EXIT_CONFIG, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK};
use crate::plan::{Arg, ArgContext, Combination, Plan, argv};
use crate::records::{
    self, BatchManifest, FORMAT_VERSION, ManifestEntry, PlanRecord, PlannedCombination,
    ProcessResult, RunMetadata, RunStatus,
};
use crate::redact::Redactor;
use server::Server;

const SWEEPER_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Runs every combination of `plan`; returns the process exit code.
pub fn execute(cfg: &Config, plan: &Plan, args: &RunArgs) -> u8 {
    match execute_inner(cfg, plan, args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_CONFIG
        }
    }
}

fn say(msg: &str) {
    eprintln!("sweeper: {msg}");
}

fn execute_inner(cfg: &Config, plan: &Plan, args: &RunArgs) -> Result<u8, String> {
    // Secrets: every API key variable must be set; their values are masked everywhere.
    let mut secrets = Vec::new();
    for c in &plan.combinations {
        for a in &c.args {
            if let Arg::Secret { env_var } = a {
                match std::env::var(env_var) {
                    Ok(v) if !v.is_empty() => secrets.push(v),
                    _ => {
                        return Err(format!(
                            "environment variable `{env_var}` (named by `api_key_env_var`) is not set\n  hint: `export {env_var}=<your key>` and run again; the key is never written anywhere"
                        ));
                    }
                }
            }
        }
    }
    let redactor = Redactor::new(secrets);

    let aiperf = venv::ensure(&cfg.aiperf, &mut |l| say(l)).map_err(|e| e.to_string())?;
    let tokenizer = if plan.combinations.iter().any(|c| c.args.contains(&Arg::OfflineTokenizer)) {
        Some(venv::offline_tokenizer(&aiperf, &mut |l| say(l)).map_err(|e| e.to_string())?)
    } else {
        None
    };

    let (batch_dir, mut manifest) = match &args.resume {
        Some(dir) => resume_batch(dir, plan)?,
        None => new_batch(cfg, plan, &aiperf.version)?,
    };
    // Absolute, because aiperf runs inside each combination's directory.
    let batch_dir = std::path::absolute(&batch_dir)
        .map_err(|e| format!("failed to resolve `{}`: {e}", batch_dir.display()))?;
    say(&format!("batch directory: {}", batch_dir.display()));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("failed to start the async runtime: {e}"))?;
    let mut runner = Runner {
        cfg,
        plan,
        batch_dir: batch_dir.clone(),
        aiperf,
        tokenizer,
        redactor,
        verbose: args.verbose,
        program: std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "sweeper".into()),
        pgids: Arc::new(Mutex::new(Vec::new())),
    };
    let summary = runtime.block_on(runner.run_all(&mut manifest));
    runtime.shutdown_timeout(Duration::from_secs(2));

    manifest.finished = true;
    manifest.interrupted = summary.interrupted;
    write_manifest(&batch_dir, &mut manifest);
    let report = crate::report::render_batch(&batch_dir, None);
    let target_failures = match &report {
        Ok(o) => o.target_fails,
        Err(e) => {
            say(&format!("warning: failed to render reports: {e}"));
            0
        }
    };
    let partial = if summary.partial > 0 {
        format!(" ({} with failed requests)", summary.partial)
    } else {
        String::new()
    };
    eprintln!(
        "\nSUMMARY\n  total     : {}\n  completed : {}{partial}\n  failed    : {}\n  skipped   : {}\n  batch dir : {}",
        summary.total,
        summary.completed,
        summary.failed,
        summary.skipped,
        batch_dir.display()
    );
    if report.is_ok() && batch_dir.join("report.md").is_file() {
        eprintln!("  reports   : {}", batch_dir.join("report.md").display());
    }
    if target_failures > 0 {
        eprintln!("  targets   : {target_failures} FAIL");
    }
    Ok(if summary.interrupted {
        EXIT_INTERRUPTED
    } else if summary.failed > 0 || (args.fail_on_target && target_failures > 0) {
        EXIT_FAILED
    } else {
        EXIT_OK
    })
}

fn now() -> String {
    chrono::Local::now().format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

fn planned(plan: &Plan, ctx_dir: &Path) -> Vec<PlannedCombination> {
    plan.combinations
        .iter()
        .map(|c| {
            let dir = ctx_dir.join(&c.dir);
            let ctx = ArgContext { artifact_dir: Some(&dir), ..Default::default() };
            PlannedCombination {
                index: c.index,
                dir: c.dir.clone(),
                params: c.params.clone(),
                merged: c.merged.clone(),
                server_id: c.server_id.clone(),
                argv: argv::render(&c.args, &ctx),
                targets: c.targets.clone(),
            }
        })
        .collect()
}

/// Creates `<output_base_dir>/<batch_name>/<YYYYMMDD_HHMMSS>/` (never an existing one) and its
/// config copy, plan and manifest.
fn new_batch(
    cfg: &Config,
    plan: &Plan,
    aiperf_version: &str,
) -> Result<(PathBuf, BatchManifest), String> {
    let parent = cfg.output_base_dir.join(&cfg.batch_name);
    std::fs::create_dir_all(&parent)
        .map_err(|e| format!("failed to create `{}`: {e}", parent.display()))?;
    let stamp = chrono::Local::now().format("%Y%m%d_%H%M%S").to_string();
    let mut dir = parent.join(&stamp);
    let mut n = 1;
    // create_dir (not _all) fails if it exists: we never write into an existing batch.
    while let Err(e) = std::fs::create_dir(&dir) {
        if e.kind() != std::io::ErrorKind::AlreadyExists || n > 100 {
            return Err(format!("failed to create batch directory `{}`: {e}", dir.display()));
        }
        dir = parent.join(format!("{stamp}_{n}"));
        n += 1;
    }
    records::write_atomic(&dir.join(records::CONFIG_COPY_FILE), cfg.source.as_bytes())
        .map_err(|e| format!("failed to write the config copy: {e}"))?;
    let plan_record = PlanRecord {
        format_version: FORMAT_VERSION,
        batch_name: cfg.batch_name.clone(),
        config_file: cfg.file.display().to_string(),
        swept_keys: plan.swept_keys.clone(),
        combinations: planned(plan, &dir),
    };
    records::write_json_atomic(&dir.join(records::PLAN_FILE), &plan_record)
        .map_err(|e| format!("failed to write plan.json: {e}"))?;
    let manifest = BatchManifest {
        format_version: FORMAT_VERSION,
        batch_name: cfg.batch_name.clone(),
        config_file: cfg.file.display().to_string(),
        started_at: now(),
        updated_at: now(),
        finished: false,
        interrupted: false,
        sweeper_version: SWEEPER_VERSION.into(),
        aiperf_version: aiperf_version.into(),
        runs: plan
            .combinations
            .iter()
            .map(|c| ManifestEntry {
                index: c.index,
                dir: c.dir.clone(),
                params: c.params.clone(),
                status: RunStatus::Pending,
                reason: None,
                duration_s: None,
            })
            .collect(),
    };
    let mut m = manifest;
    write_manifest(&dir, &mut m);
    Ok((dir, m))
}

/// Re-opens a batch for `--resume`: the config must plan the same combinations.
fn resume_batch(dir: &Path, plan: &Plan) -> Result<(PathBuf, BatchManifest), String> {
    let hint = "pass the batch directory printed by the first run, with the same --config-file";
    let old_plan: PlanRecord = records::read_json(&dir.join(records::PLAN_FILE))
        .map_err(|e| format!("{e}\n  hint: {hint}"))?;
    let dirs_now: Vec<&str> = plan.combinations.iter().map(|c| c.dir.as_str()).collect();
    let dirs_then: Vec<&str> = old_plan.combinations.iter().map(|c| c.dir.as_str()).collect();
    if dirs_now != dirs_then
        || old_plan.combinations.iter().zip(&plan.combinations).any(|(a, b)| a.merged != b.merged)
    {
        return Err(format!(
            "cannot resume `{}`: the config now plans different combinations than the batch was started with\n  hint: resume with the config the batch was started with (a copy is `{}`)",
            dir.display(),
            dir.join(records::CONFIG_COPY_FILE).display()
        ));
    }
    let mut manifest: BatchManifest = records::read_json(&dir.join(records::MANIFEST_FILE))
        .map_err(|e| format!("{e}\n  hint: {hint}"))?;
    manifest.finished = false;
    manifest.interrupted = false;
    // The process_result.json files are the truth (the manifest may lag a kill -9).
    for entry in &mut manifest.runs {
        let pr: Option<ProcessResult> =
            records::read_json(&dir.join(&entry.dir).join(records::PROCESS_RESULT_FILE)).ok();
        entry.status = match pr {
            Some(p) if p.status.is_success() => p.status,
            Some(p) => {
                entry.reason = p.reason;
                p.status
            }
            None => RunStatus::Pending,
        };
    }
    Ok((dir.to_path_buf(), manifest))
}

fn write_manifest(dir: &Path, m: &mut BatchManifest) {
    m.updated_at = now();
    if let Err(e) = records::write_json_atomic(&dir.join(records::MANIFEST_FILE), m) {
        say(&format!("warning: failed to write the batch manifest: {e}"));
    }
}

#[derive(Debug, Default)]
struct Summary {
    total: usize,
    completed: usize,
    /// Completed runs in which some requests failed.
    partial: usize,
    failed: usize,
    skipped: usize,
    interrupted: bool,
}

struct Runner<'a> {
    cfg: &'a Config,
    plan: &'a Plan,
    batch_dir: PathBuf,
    aiperf: venv::Aiperf,
    tokenizer: Option<PathBuf>,
    redactor: Redactor,
    verbose: bool,
    program: String,
    /// Process groups alive right now (server, aiperf), for the second Ctrl-C.
    pgids: Arc<Mutex<Vec<i32>>>,
}

/// Counts SIGINT/SIGTERM. The first asks for a clean stop; the second kills every child group
/// at once and exits 130.
fn watch_signals(pgids: Arc<Mutex<Vec<i32>>>) -> watch::Receiver<usize> {
    let (tx, rx) = watch::channel(0usize);
    let count = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut int), Ok(mut term)) =
            (signal(SignalKind::interrupt()), signal(SignalKind::terminate()))
        else {
            return;
        };
        loop {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            let n = count.fetch_add(1, Ordering::SeqCst) + 1;
            if n == 1 {
                eprintln!(
                    "\nsweeper: interrupted: stopping aiperf and the server cleanly (Ctrl-C again to kill at once)"
                );
                let _ = tx.send(n);
            } else {
                eprintln!("\nsweeper: killing everything now");
                for pg in pgids.lock().map(|v| v.clone()).unwrap_or_default() {
                    process::kill_group_now(pg);
                }
                std::process::exit(i32::from(EXIT_INTERRUPTED));
            }
        }
    });
    rx
}

/// How one aiperf run ended.
struct Outcome {
    status: RunStatus,
    returncode: Option<i32>,
    signal: Option<i32>,
    reason: Option<String>,
    error_count: Option<u64>,
    /// The server process died during the run.
    server_died: bool,
}

impl Runner<'_> {
    async fn run_all(&mut self, manifest: &mut BatchManifest) -> Summary {
        let mut interrupts = watch_signals(self.pgids.clone());
        let order = self.plan.run_order();
        let mut summary = Summary { total: order.len(), ..Default::default() };
        let mut server: Option<Server> = None;
        let mut failed_servers: HashMap<String, String> = HashMap::new();
        let mut durations: Vec<f64> = Vec::new();
        let to_run = order.iter().filter(|i| !manifest.runs[**i].status.is_success()).count();
        let mut pos = 0usize;
        for &idx in &order {
            let c = &self.plan.combinations[idx];
            if manifest.runs[idx].status.is_success() {
                summary.skipped += 1;
                say(&format!("[skip] #{} {} already succeeded", c.index, describe(c)));
                continue;
            }
            if *interrupts.borrow() > 0 {
                summary.interrupted = true;
                manifest.runs[idx].status = RunStatus::Skipped;
                manifest.runs[idx].reason = Some("not run: the sweep was interrupted".into());
                summary.skipped += 1;
                continue;
            }
            pos += 1;
            let eta = if durations.is_empty() {
                String::new()
            } else {
                let mean = durations.iter().sum::<f64>() / durations.len() as f64;
                format!(", ETA {}", hms(mean * (to_run - pos + 1) as f64))
            };
            say(&format!("run {pos}/{to_run} (#{}): {}{eta}", c.index, describe(c)));

            // The server of this combination: reuse, or (re)start.
            let need_new = match server.as_mut() {
                Some(s) => s.id != c.server_id || s.exited().is_some(),
                None => true,
            };
            if need_new {
                if let Some(mut s) = server.take() {
                    self.untrack(s.pgid());
                    s.stop().await;
                }
                if let Some(reason) = failed_servers.get(&c.server_id) {
                    let reason = reason.clone();
                    say(&format!("#{} FAILED: {} did not start (see above)", c.index, c.server_id));
                    self.record_not_run(c, manifest, RunStatus::Failed, &reason);
                    summary.failed += 1;
                    continue;
                }
                match self.start_server(c, &mut interrupts).await {
                    Ok(s) => server = Some(s),
                    Err(reason) => {
                        if *interrupts.borrow() > 0 {
                            summary.interrupted = true;
                            self.record_not_run(
                                c,
                                manifest,
                                RunStatus::Interrupted,
                                "interrupted while the server was starting",
                            );
                            continue;
                        }
                        say(&format!("error: {reason}"));
                        failed_servers.insert(c.server_id.clone(), reason.clone());
                        self.record_not_run(c, manifest, RunStatus::Failed, &reason);
                        summary.failed += 1;
                        continue;
                    }
                }
            }
            let Some(srv) = server.as_mut() else { continue };
            let started = Instant::now();
            let outcome = {
                let run = self.run_one(c, srv, manifest, &mut interrupts);
                tokio::pin!(run);
                // On a terminal, one status line redrawn every second; plain lines otherwise.
                let tty = interactive() && !self.verbose;
                let mut tick = tokio::time::interval(Duration::from_secs(1));
                let eta_left = durations.iter().sum::<f64>() / durations.len().max(1) as f64
                    * (to_run - pos) as f64;
                loop {
                    tokio::select! {
                        o = &mut run => break o,
                        _ = tick.tick(), if tty => {
                            let el = started.elapsed().as_secs_f64();
                            let eta = if durations.is_empty() { "?".to_owned() } else {
                                let mean = durations.iter().sum::<f64>() / durations.len() as f64;
                                hms((mean - el).max(0.0) + eta_left)
                            };
                            eprint!("\r\x1b[2K[{pos}/{to_run}] {}  elapsed {}  ETA {eta}", describe(c), hms(el));
                        }
                    }
                }
            };
            if interactive() && !self.verbose {
                eprint!("\r\x1b[2K");
            }
            let took = started.elapsed().as_secs_f64();
            durations.push(took);
            match outcome.status {
                s if s.is_success() => {
                    summary.completed += 1;
                    summary.partial += usize::from(s == RunStatus::Partial);
                }
                RunStatus::Interrupted => summary.interrupted = true,
                _ => summary.failed += 1,
            }
            let word = status_word(outcome.status);
            say(&match &outcome.reason {
                Some(r) => format!("#{} {word} after {took:.1}s: {r}", c.index),
                None => format!("#{} {word} in {took:.1}s", c.index),
            });
            if outcome.server_died
                && let Some(mut s) = server.take()
            {
                self.untrack(s.pgid());
                s.stop().await;
            }
            if let Err(e) = crate::report::render_batch(&self.batch_dir, None) {
                say(&format!("warning: failed to render reports: {e}"));
            }
        }
        if let Some(mut s) = server.take() {
            self.untrack(s.pgid());
            s.stop().await;
        }
        if summary.interrupted {
            for e in &mut manifest.runs {
                if matches!(e.status, RunStatus::Pending) {
                    e.status = RunStatus::Skipped;
                    e.reason = Some("not run: the sweep was interrupted".into());
                }
            }
        }
        summary.interrupted |= *interrupts.borrow() > 0;
        summary
    }

    fn track(&self, pgid: i32) {
        if pgid > 0
            && let Ok(mut v) = self.pgids.lock()
        {
            v.push(pgid);
        }
    }

    fn untrack(&self, pgid: i32) {
        if let Ok(mut v) = self.pgids.lock() {
            v.retain(|p| *p != pgid);
        }
    }

    async fn start_server(
        &self,
        c: &Combination,
        interrupts: &mut watch::Receiver<usize>,
    ) -> Result<Server, String> {
        let health_default = c
            .merged
            .get("health_check_endpoint")
            .and_then(Value::as_str)
            .unwrap_or("/v1/models")
            .to_owned();
        let (mut srv, timeout) = match &c.server {
            None | Some(ServerConfig::External { .. }) => {
                let url = c.url().ok_or("no url to benchmark")?;
                let (path, timeout) = match &c.server {
                    Some(ServerConfig::External { health_path, startup_timeout_s, .. }) => {
                        (health_path.clone().unwrap_or(health_default), *startup_timeout_s)
                    }
                    _ => (health_default, 30.0),
                };
                say(&format!("{}: checking external server {url}{path}", c.server_id));
                (Server::external(&c.server_id, &url, &path), timeout)
            }
            Some(s) => {
                // The mock picks a free port itself (port 0) and prints it.
                let mock = matches!(s, ServerConfig::Mock(_));
                let launch = crate::plan::server::launch(
                    s,
                    &self.cfg.batch_name,
                    &c.server_id,
                    &self.program,
                )
                .ok_or("nothing to launch")?;
                let url = launch
                    .url
                    .clone()
                    .or_else(|| c.url())
                    .unwrap_or_else(|| "http://127.0.0.1:0".to_owned());
                let log = self.batch_dir.join(format!("{}.log", c.server_id));
                say(&format!(
                    "{}: starting {} server: {}",
                    c.server_id,
                    s.kind(),
                    self.redactor.redact(&argv::shell_line(&launch.argv))
                ));
                let mut srv = Server::spawn(&c.server_id, &launch, &url, &log).map_err(|e| e.0)?;
                self.track(srv.pgid());
                if mock
                    && let Err(e) = srv
                        .learn_url_from_log(Duration::from_secs_f64(launch.startup_timeout_s))
                        .await
                {
                    self.untrack(srv.pgid());
                    srv.stop().await;
                    return Err(e.0);
                }
                (srv, launch.startup_timeout_s)
            }
        };
        // The API key, for endpoints whose health path needs it (hosted ones do).
        let key = c
            .merged
            .get("api_key_env_var")
            .and_then(Value::as_str)
            .and_then(|v| std::env::var(v).ok());
        let ready = tokio::select! {
            r = srv.wait_ready(Duration::from_secs_f64(timeout), key.as_deref()) => r.map_err(|e| e.0),
            _ = interrupts.changed() => Err("interrupted".into()),
        };
        match ready {
            Ok(t) => {
                say(&format!(
                    "{}: ready after {:.1}s at {}",
                    c.server_id,
                    t.as_secs_f64(),
                    srv.url
                ));
                Ok(srv)
            }
            Err(e) => {
                self.untrack(srv.pgid());
                srv.stop().await;
                Err(self.redactor.redact(&e))
            }
        }
    }

    fn run_dir(&self, c: &Combination) -> PathBuf {
        self.batch_dir.join(&c.dir)
    }

    fn record_not_run(
        &self,
        c: &Combination,
        manifest: &mut BatchManifest,
        status: RunStatus,
        reason: &str,
    ) {
        let dir = self.run_dir(c);
        let _ = std::fs::create_dir_all(&dir);
        let t = now();
        let pr = ProcessResult {
            format_version: FORMAT_VERSION,
            args: Vec::new(),
            returncode: None,
            stdout: None,
            stderr: None,
            status,
            signal: None,
            reason: Some(reason.to_owned()),
            error_count: None,
            started_at: t.clone(),
            ended_at: t,
            duration_s: 0.0,
            server_id: c.server_id.clone(),
            sweeper_version: SWEEPER_VERSION.into(),
            aiperf_version: self.aiperf.version.clone(),
            log_tail: None,
        };
        self.record_result(c, &dir, manifest, &pr);
    }

    /// Writes a combination's `process_result.json`, then its line of the manifest.
    fn record_result(
        &self,
        c: &Combination,
        dir: &Path,
        manifest: &mut BatchManifest,
        pr: &ProcessResult,
    ) {
        if let Err(e) = records::write_json_atomic(&dir.join(records::PROCESS_RESULT_FILE), pr) {
            say(&format!("warning: failed to write {}/process_result.json: {e}", dir.display()));
        }
        let e = &mut manifest.runs[c.index];
        e.status = pr.status;
        e.reason = pr.reason.clone();
        e.duration_s = Some(pr.duration_s);
        write_manifest(&self.batch_dir, manifest);
    }

    fn timeout_for(&self, c: &Combination) -> Duration {
        if let Some(t) = self.cfg.aiperf.run_timeout_s {
            return Duration::from_secs_f64(t);
        }
        let num = |k: &str| c.get(k).and_then(Value::as_f64);
        match num("benchmark_duration") {
            Some(d) => {
                Duration::from_secs_f64(d + num("benchmark_grace_period").unwrap_or(30.0) + 600.0)
            }
            None => Duration::from_secs(3600),
        }
    }

    async fn run_one(
        &self,
        c: &Combination,
        srv: &mut Server,
        manifest: &mut BatchManifest,
        interrupts: &mut watch::Receiver<usize>,
    ) -> Outcome {
        let dir = self.run_dir(c);
        // A re-run (resume) starts from a clean directory.
        if !c.dir.is_empty() && dir.exists() {
            let _ = std::fs::remove_dir_all(&dir);
        }
        let _ = std::fs::create_dir_all(&dir);
        let tmp = short_tmp_dir(c.index);
        let _ = std::fs::create_dir_all(&tmp);
        let mut ctx = ArgContext {
            program: Some(&self.aiperf.exe),
            artifact_dir: Some(&dir),
            mock_url: Some(&srv.url),
            offline_tokenizer: self.tokenizer.as_deref(),
            verbose: self.verbose,
            reveal_secrets: false,
        };
        let shown = argv::render(&c.args, &ctx);
        ctx.reveal_secrets = true;
        let real = argv::render(&c.args, &ctx);
        let started_at = now();
        let meta = RunMetadata {
            format_version: FORMAT_VERSION,
            run_index: c.index,
            timestamp: started_at.clone(),
            config_file: self.cfg.file.display().to_string(),
            sweep_params: if c.params.is_empty() { None } else { Some(c.params.clone()) },
            base_config: c.merged.clone(),
            command: self.redactor.redact(&argv::shell_line(&shown)),
            batch_name: self.cfg.batch_name.clone(),
            combination_dir: c.dir.clone(),
            server_id: c.server_id.clone(),
            sweeper_version: SWEEPER_VERSION.into(),
            aiperf_version: self.aiperf.version.clone(),
        };
        if let Err(e) = records::write_json_atomic(&dir.join(records::RUN_METADATA_FILE), &meta) {
            say(&format!("warning: failed to write {}/run_metadata.json: {e}", dir.display()));
        }
        manifest.runs[c.index].status = RunStatus::Running;
        manifest.runs[c.index].reason = None;
        write_manifest(&self.batch_dir, manifest);
        if self.verbose {
            say(&format!("command: {}", meta.command));
        }

        let log_path = dir.join(records::AIPERF_LOG_FILE);
        let start = Instant::now();
        let outcome = self.spawn_and_wait(c, &real, &dir, &tmp, &log_path, srv, interrupts).await;
        let duration = start.elapsed().as_secs_f64();
        let _ = std::fs::remove_dir_all(&tmp);

        let log_tail = (!outcome.status.is_success())
            .then(|| self.redactor.redact(&process::tail(&log_path, 30)));
        let pr = ProcessResult {
            format_version: FORMAT_VERSION,
            args: self.redactor.redact_args(&shown),
            returncode: outcome.returncode,
            stdout: None,
            stderr: None,
            status: outcome.status,
            signal: outcome.signal,
            reason: outcome.reason.clone(),
            error_count: outcome.error_count,
            started_at,
            ended_at: now(),
            duration_s: duration,
            server_id: c.server_id.clone(),
            sweeper_version: SWEEPER_VERSION.into(),
            aiperf_version: self.aiperf.version.clone(),
            log_tail,
        };
        self.record_result(c, &dir, manifest, &pr);
        outcome
    }

    #[allow(clippy::too_many_arguments)]
    async fn spawn_and_wait(
        &self,
        c: &Combination,
        real: &[String],
        dir: &Path,
        tmp: &Path,
        log_path: &Path,
        srv: &mut Server,
        interrupts: &mut watch::Receiver<usize>,
    ) -> Outcome {
        let fail = |reason: String| Outcome {
            status: RunStatus::Failed,
            returncode: None,
            signal: None,
            reason: Some(reason),
            error_count: None,
            server_died: false,
        };
        let Ok(log_file) = tokio::fs::File::create(log_path).await else {
            return fail(format!("failed to create `{}`", log_path.display()));
        };
        let mut cmd = tokio::process::Command::new(&real[0]);
        cmd.args(&real[1..])
            .envs(&self.cfg.aiperf.env)
            .env("TMPDIR", tmp)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        process::die_with_parent(cmd.as_std_mut());
        let mut child = match cmd.spawn() {
            Ok(ch) => ch,
            Err(e) => return fail(format!("failed to start aiperf `{}`: {e}", real[0])),
        };
        let pgid = child.id().map_or(0, |p| p as i32);
        self.track(pgid);
        // aiperf's stdout and stderr -> aiperf.log (secrets masked), and live with --verbose.
        let log = Arc::new(tokio::sync::Mutex::new(log_file));
        let mut pumps = Vec::new();
        let out: Option<Box<dyn tokio::io::AsyncRead + Unpin + Send>> = child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>);
        let err: Option<Box<dyn tokio::io::AsyncRead + Unpin + Send>> = child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>);
        for stream in [out, err].into_iter().flatten() {
            let log = log.clone();
            let red = self.redactor.clone();
            let live = self.verbose;
            pumps.push(tokio::spawn(async move {
                let mut lines = BufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let line = red.redact(&line);
                    if live {
                        eprintln!("  | {line}");
                    }
                    let mut f = log.lock().await;
                    let _ = f.write_all(line.as_bytes()).await;
                    let _ = f.write_all(b"\n").await;
                }
            }));
        }
        let timeout = self.timeout_for(c);
        let grace = Duration::from_secs_f64(self.cfg.aiperf.stop_grace_s.clamp(0.0, 1e9));
        enum End {
            Exited(std::io::Result<std::process::ExitStatus>),
            TimedOut,
            ServerDied(String),
            Interrupted,
        }
        let end = tokio::select! {
            st = child.wait() => End::Exited(st),
            _ = tokio::time::sleep(timeout) => End::TimedOut,
            why = srv.died() => End::ServerDied(why),
            _ = interrupts.changed() => End::Interrupted,
        };
        // Whatever happened, nothing of aiperf's may outlive this run.
        process::stop_group(&mut child, pgid, grace).await;
        self.untrack(pgid);
        for p in pumps {
            let _ = tokio::time::timeout(Duration::from_secs(5), p).await;
        }
        let _ = log.lock().await.flush().await;
        match end {
            End::Exited(Ok(st)) => self.classify(dir, log_path, &st),
            End::Exited(Err(e)) => fail(format!("failed to wait for aiperf: {e}")),
            End::TimedOut => Outcome {
                status: RunStatus::TimedOut,
                returncode: None,
                signal: Some(libc::SIGTERM),
                reason: Some(format!(
                    "aiperf ran longer than the per-run timeout of {:.0}s and was stopped",
                    timeout.as_secs_f64()
                )),
                error_count: None,
                server_died: false,
            },
            End::ServerDied(why) => Outcome {
                status: RunStatus::Failed,
                returncode: None,
                signal: None,
                reason: Some(format!(
                    "the server died during the run ({why}){}",
                    srv.log_tail().lines().next().unwrap_or("")
                )),
                error_count: None,
                server_died: true,
            },
            End::Interrupted => Outcome {
                status: RunStatus::Interrupted,
                returncode: None,
                signal: Some(libc::SIGTERM),
                reason: Some("interrupted by Ctrl-C".into()),
                error_count: None,
                server_died: false,
            },
        }
    }

    /// Succeeded only if aiperf exited 0 AND its ready marker and summary JSON exist.
    fn classify(&self, dir: &Path, log_path: &Path, st: &std::process::ExitStatus) -> Outcome {
        use std::os::unix::process::ExitStatusExt;
        let code = st.code();
        let ready = dir.join(".aiperf_results_ready.json");
        let summary = dir.join("profile_export_aiperf.json");
        let mut o = Outcome {
            status: RunStatus::Failed,
            returncode: code,
            signal: st.signal(),
            reason: None,
            error_count: None,
            server_died: false,
        };
        if code != Some(0) {
            o.reason = Some(format!(
                "aiperf failed with {}: {}",
                process::describe_status(st),
                aiperf_reason(log_path)
            ));
            return o;
        }
        if !ready.is_file() || !summary.is_file() {
            // aiperf 0.13 exits 0 after some internal failures: say what its log says.
            o.reason = Some(format!(
                "aiperf exited 0 but its results are incomplete ({} missing); its log says: {}",
                if ready.is_file() {
                    "profile_export_aiperf.json"
                } else {
                    ".aiperf_results_ready.json"
                },
                aiperf_reason(log_path)
            ));
            return o;
        }
        let marker: Option<Value> =
            std::fs::read_to_string(&ready).ok().and_then(|t| serde_json::from_str(&t).ok());
        if marker.as_ref().and_then(|m| m.get("was_cancelled")).and_then(Value::as_bool)
            == Some(true)
        {
            o.reason = Some("aiperf reports the run was cancelled".into());
            return o;
        }
        let errors = std::fs::read_to_string(&summary)
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .and_then(|v| v.pointer("/error_request_count/avg").and_then(Value::as_f64))
            .map(|f| f as u64)
            .unwrap_or(0);
        o.error_count = Some(errors);
        if errors > 0 {
            o.status = RunStatus::Partial;
            o.reason = Some(format!("{errors} request(s) failed"));
        } else {
            o.status = RunStatus::Succeeded;
        }
        o
    }
}

/// A private temp dir for one aiperf run (aiperf leaves `aiperf_mmap_*` dirs behind in it; it is
/// removed after the run). Kept SHORT on purpose: aiperf puts ZeroMQ IPC sockets in it, and a
/// socket path may not exceed 107 bytes.
fn short_tmp_dir(index: usize) -> PathBuf {
    let base = std::env::temp_dir();
    let base = if base.as_os_str().len() > 32 { PathBuf::from("/tmp") } else { base };
    base.join(format!("swp-{}-{index}", std::process::id()))
}

/// The most useful line of a failed aiperf's log: its "Reason:" or last ERROR line.
fn aiperf_reason(log: &Path) -> String {
    let text = process::tail(log, 200);
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    if let Some(l) = lines.iter().rev().find(|l| l.contains("Reason:")) {
        return l.trim_matches(|c: char| c == '│' || c.is_whitespace()).to_owned();
    }
    if let Some(l) = lines.iter().rev().find(|l| l.contains("ERROR") || l.contains("Error")) {
        return l.chars().take(300).collect();
    }
    lines.last().map_or_else(|| "no output".to_owned(), |l| l.chars().take(300).collect())
}

fn describe(c: &Combination) -> String {
    if c.params.is_empty() {
        return "single run".into();
    }
    c.params
        .iter()
        .map(|(k, v)| format!("{k}={}", argv::scalar_text(v)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn status_word(s: RunStatus) -> String {
    match s {
        RunStatus::Succeeded => "succeeded",
        RunStatus::Partial => "succeeded with failed requests",
        RunStatus::Failed => "FAILED",
        RunStatus::TimedOut => "TIMED OUT",
        RunStatus::Interrupted => "interrupted",
        RunStatus::Skipped => "skipped",
        RunStatus::Pending => "pending",
        RunStatus::Running => "running",
    }
    .into()
}

fn hms(secs: f64) -> String {
    let s = secs.max(0.0) as u64;
    format!("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

/// Whether stderr is a terminal (progress style).
pub fn interactive() -> bool {
    std::io::stderr().is_terminal()
}
