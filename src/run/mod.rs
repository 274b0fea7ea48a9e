//! Execute a plan: managed aiperf venv, server lifecycle, one aiperf per combination, records
//! that lose nothing (every file atomic, the manifest rewritten once per run). Reports what
//! happens as [`Event`]s to an [`Observer`]; never prints, never renders a report.
//!
//! tokio is used here because the waiting is truly concurrent: aiperf's exit, its timeout, the
//! server dying and Ctrl-C are all watched at once. Everything else is plain code.
//!
//! Files: [`batch`] (the batch directory and its records), [`aiperf`] (one aiperf run),
//! [`server`] (one server's lifecycle), [`signals`] (Ctrl-C), [`process`] (process groups),
//! [`venv`] (the managed aiperf), [`event`] (what observers are told).

pub mod aiperf;
pub mod batch;
pub mod conditions;
pub mod decide;
pub mod event;
mod flusher;
pub mod kube;
mod kube_ready;
pub mod probes;
pub mod process;
pub mod provenance;
mod resume;
pub mod server;
pub mod signals;
pub mod supervise;
pub mod venv;
mod watching;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::config::Config;
use crate::plan::{Arg, ArgContext, Combination, Plan, argv};
use crate::records::{FORMAT_VERSION, ProcessResult, RunMetadata, RunStatus, SearchMode};
use crate::util::exit::{EXIT_CONFIG, EXIT_FAILED};
use crate::util::redact::Redactor;
pub use batch::{Batch, BatchError};
use decide::Decider;
pub use event::{Event, Observer, Summary};
use server::Server;
use signals::Groups;

/// What the run stage needs besides the config and the plan.
#[derive(Clone)]
pub struct RunOptions {
    /// Continue this batch directory instead of creating one.
    pub resume: Option<PathBuf>,
    /// aiperf's own progress UI (`--ui simple`) and its output as [`Event::AiperfOutput`].
    pub verbose: bool,
    /// sweeper's own executable (the mock server runs as `sweeper mock-server`).
    pub program: PathBuf,
    /// Called on the second Ctrl-C, before everything is killed (e.g. to say so).
    pub on_hard_kill: Option<Arc<dyn Fn() + Send + Sync>>,
    /// Run only this shard of the plan, in `<batch_name>/<batch id>/shards/<K>/`.
    pub shard: Option<(crate::scaleout::shard::Shard, String)>,
    /// Whether a run's artifacts are usable (`results::check_artifacts`).
    pub artifacts: decide::ArtifactCheck,
}

/// Why a batch could not be run at all (combinations that fail are recorded, not errors).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("environment variable `{var}` (named by `api_key_env_var`) is not set")]
    MissingSecret { var: String },
    #[error("environment variable `{var}` (named by `api_key_env_var`) is empty")]
    EmptySecret { var: String },
    #[error(
        "the API key in `{var}` contains `{{{{` or `{{%`, which aiperf's config file would read as a template"
    )]
    TemplateSecret { var: String },
    #[error(transparent)]
    Setup(#[from] venv::SetupError),
    #[error(transparent)]
    Batch(#[from] BatchError),
    #[error("failed to start the async runtime: {0}")]
    Runtime(std::io::Error),
}

impl RunError {
    /// What to try.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            RunError::MissingSecret { var } | RunError::EmptySecret { var } => {
                format!(
                    "`export {var}=<your key>` and run again; the key is never written anywhere"
                )
            }
            RunError::TemplateSecret { .. } => {
                "aiperf reads `{{`/`{%` in its config file as a template: use a key without them"
                    .into()
            }
            RunError::Setup(e) => e.hint.clone(),
            RunError::Batch(e) => e.hint(),
            RunError::Runtime(_) => return None,
        })
    }

    /// The exit code: nothing ran, or the batch could not go on.
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::Batch(BatchError::Write { .. }) => EXIT_FAILED,
            _ => EXIT_CONFIG,
        }
    }
}

/// Runs every combination of `plan` that has not succeeded yet, telling `obs` what happens.
pub fn execute(
    cfg: &Config,
    plan: &Plan,
    opts: &RunOptions,
    decide: &mut dyn Decider,
    obs: &mut dyn Observer,
) -> Result<(PathBuf, Summary), RunError> {
    let redactor = secrets(plan)?;
    let aiperf = venv::ensure(&cfg.aiperf, &mut |l| obs.event(Event::Setup(l)))?;
    let tokenizer = if plan.all().any(|c| c.args.contains(&Arg::OfflineTokenizer)) {
        Some(venv::offline_tokenizer(&aiperf, &mut |l| obs.event(Event::Setup(l)))?)
    } else {
        None
    };
    let shard_run = match (&opts.shard, &opts.resume) {
        (Some((s, id)), None) => Some(crate::scaleout::shard::record(
            plan,
            &crate::scaleout::shard::assign(plan, s.n),
            *s,
            id,
        )),
        _ => None,
    };
    let mut batch = match &opts.resume {
        Some(dir) => Batch::resume(dir, plan, opts.shard.as_ref().map(|(s, _)| s), opts.artifacts)?,
        None => Batch::create(cfg, plan, &aiperf.version, shard_run.as_ref())?,
    };
    if let Err(e) = batch.record_provenance(&aiperf.version, provenance::host()) {
        obs.event(Event::Warning(&e.to_string()));
    }
    if opts.resume.is_some() {
        stop_leftovers(&batch.dir, "left running by an earlier session of this batch", obs);
        aiperf::remove_stale_tmp_dirs(&batch.dir);
    }
    // One thread: a run's end (aiperf's exit, its pipes' end) is seen by the thread that starts
    // the next run, without waking another CPU (~0.1 ms a run on a VM). Ctrl-C is watched on a
    // thread of its own ([`signals::watch`]).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(RunError::Runtime)?;
    let mut runner = Runner {
        cfg,
        plan,
        aiperf,
        tokenizer,
        redactor,
        opts,
        decide,
        groups: Groups::default(),
        batch_dir: batch.dir.clone(),
        servers: Vec::new(),
        keep_up: plan.ab.as_ref().is_some_and(|a| a.servers == crate::records::AbServers::Together),
        failed_servers: HashMap::new(),
        summary: Summary { total: batch.manifest.runs.len(), ..Summary::default() },
        told_interrupt: false,
        guardian: None,
        guardian_tried: false,
        finished_tmp: Vec::new(),
        spare_tmp: None,
    };
    runtime.block_on(runner.run_all(&mut batch, obs));
    runtime.shutdown_timeout(Duration::from_secs(2));
    // Nothing outlives sweeper: what escaped its group (`setsid cmd &` in a server command)
    // still carries the batch's marker.
    stop_leftovers(&batch.dir, "left running by this batch's server or aiperf", obs);
    let summary = runner.summary;
    if let Err(e) = batch.finish(summary.interrupted) {
        obs.event(Event::Warning(&e.to_string()));
    }
    obs.event(Event::BatchFinished { dir: &batch.dir, summary: &summary });
    Ok((batch.dir, summary))
}

/// Processes an earlier session of this batch left running (it was killed in a way that left
/// no time to stop them): stopped, or named when they cannot be.
fn stop_leftovers(dir: &Path, what: &str, obs: &mut dyn Observer) {
    let (found, alive) = process::stop_leftovers(dir, Duration::from_secs(5));
    let list = |p: &[i32]| p.iter().map(i32::to_string).collect::<Vec<_>>().join(", ");
    if !found.is_empty() {
        obs.event(Event::Warning(&format!(
            "stopped {} process(es) {what} (pids {})",
            found.len(),
            list(&found)
        )));
    }
    if !alive.is_empty() {
        obs.event(Event::Warning(&format!(
            "process(es) {what} are still running and could not be stopped: pids {} (stop them by hand)",
            list(&alive)
        )));
    }
}

/// Every API key variable must be set; their values are masked everywhere.
fn secrets(plan: &Plan) -> Result<Redactor, RunError> {
    let mut secrets = Vec::new();
    for c in plan.all() {
        for a in &c.args {
            if let Arg::KeyConfig(k) = a {
                let var = k.env_var.clone();
                match std::env::var(&k.env_var) {
                    Ok(v) if v.is_empty() => return Err(RunError::EmptySecret { var }),
                    Ok(v) if v.contains("{{") || v.contains("{%") => {
                        return Err(RunError::TemplateSecret { var });
                    }
                    Ok(v) => secrets.push(v),
                    Err(_) => return Err(RunError::MissingSecret { var }),
                }
            }
        }
    }
    Ok(Redactor::new(secrets))
}

fn now() -> String {
    chrono::Local::now().format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

/// The state of one session over a batch.
struct Runner<'a> {
    cfg: &'a Config,
    plan: &'a Plan,
    aiperf: venv::Aiperf,
    tokenizer: Option<PathBuf>,
    redactor: Redactor,
    opts: &'a RunOptions,
    decide: &'a mut dyn Decider,
    /// Process groups alive right now (server, aiperf), for the second Ctrl-C.
    groups: Groups,
    /// The batch directory (absolute): every child is marked with it.
    batch_dir: PathBuf,
    /// The servers running now: the current group's; with `ab: {servers: together}`, every
    /// value's server stays up until the batch ends.
    servers: Vec<Server>,
    /// Keep servers up when the next run needs another one (`ab` with `servers: together`).
    keep_up: bool,
    /// Servers that could not start, with why: their combinations fail without trying again.
    failed_servers: HashMap<String, String>,
    summary: Summary,
    /// The observer was told about Ctrl-C.
    told_interrupt: bool,
    /// The batch's guardian of aiperf runs, started with the first run (`None` before, or
    /// when it could not start or is gone: aiperf then runs under a supervisor of its own).
    guardian: Option<supervise::Guardian>,
    guardian_tried: bool,
    /// Private temp dirs of finished runs, removed once the next run has started (or when the
    /// batch ends): not between two runs. One that `kill -9` leaves is removed by `--resume`.
    finished_tmp: Vec<PathBuf>,
    /// The last run's private temp dir when that run left it empty: the next run's, so that a
    /// run whose aiperf cleans up after itself creates and deletes no directory (see
    /// [`Runner::release_tmp`]).
    spare_tmp: Option<PathBuf>,
}

/// One run, ready to start: its argv (which holds no secret: an API key goes through
/// [`crate::plan::argv::KEY_CONFIG_FILE`]) and its `run_metadata.json`.
struct Prepared {
    dir: PathBuf,
    /// aiperf's private TMPDIR, created when the run starts.
    tmp: PathBuf,
    /// `aiperf.log` in `dir`.
    log: PathBuf,
    argv: Vec<String>,
    meta: RunMetadata,
}

impl Runner<'_> {
    /// Tells the observer about Ctrl-C, once.
    fn notice_interrupt(&mut self, obs: &mut dyn Observer) {
        if !self.told_interrupt {
            self.told_interrupt = true;
            obs.event(Event::Interrupted);
        }
    }

    async fn run_all(&mut self, batch: &mut Batch, obs: &mut dyn Observer) {
        let on_kill = self.opts.on_hard_kill.clone();
        let dir = batch.dir.clone();
        let mut interrupts = signals::watch(self.groups.clone(), move || {
            if let Some(f) = &on_kill {
                f();
            }
            batch::record_hard_kill(&dir);
        });
        // A shard runs only its part of the plan.
        let part = batch.plan_record.shard.clone();
        let order: Vec<usize> = self
            .plan
            .run_order()
            .into_iter()
            .filter(|i| part.as_ref().is_none_or(|s| s.runs(*i)))
            .collect();
        let to_run = order.iter().filter(|i| !batch.status(**i).is_success()).count();
        obs.event(Event::BatchStarted {
            dir: &batch.dir,
            resumed: self.opts.resume.is_some(),
            total: order.len(),
            to_run,
        });
        let mut pos = 0usize;
        for &idx in &order {
            let c = &self.plan.combinations[idx];
            if self.summary.stopped.is_some() {
                break;
            }
            if let Some(why) = self.decide.stopped(idx) {
                self.summary.skipped += 1;
                if let Err(e) = batch.record_skipped(c, &why) {
                    self.record_failed(&e, obs);
                }
                obs.event(Event::RunStopped { c, reason: &why });
                continue;
            }
            if batch.status(idx).is_success() {
                self.summary.skipped += 1;
                obs.event(Event::RunSkipped { c });
                self.decide.observe(&batch.dir, c);
                self.reruns(batch, (pos, to_run), &mut interrupts, obs).await;
                continue;
            }
            if *interrupts.borrow() > 0 {
                self.notice_interrupt(obs);
                self.summary.interrupted = true;
                self.summary.skipped += 1;
                continue;
            }
            pos += 1;
            obs.event(Event::RunQueued { c, pos, of: to_run });
            self.step(c, (pos, to_run), batch, &mut interrupts, obs).await;
            self.decide.observe(&batch.dir, c);
            self.reruns(batch, (pos, to_run), &mut interrupts, obs).await;
        }
        if let Some(ls) = self.plan.load_search.clone()
            && matches!(ls.mode, SearchMode::Search { .. })
        {
            self.search_all(&ls, batch, &mut interrupts, obs).await;
        }
        if let Some(g) = self.guardian.take() {
            g.dismiss().await;
        }
        self.finished_tmp.extend(self.spare_tmp.take());
        remove_dirs(&mut self.finished_tmp);
        self.stop_servers(obs).await;
        self.summary.interrupted |= *interrupts.borrow() > 0;
        if self.summary.interrupted {
            batch.skip_pending();
        }
    }

    /// One combination: its server, then aiperf, then its records.
    async fn step(
        &mut self,
        c: &Combination,
        (pos, of): (usize, usize),
        batch: &mut Batch,
        interrupts: &mut watch::Receiver<usize>,
        obs: &mut dyn Observer,
    ) {
        // Starting a server may take minutes: the records written since the last settle are
        // flushed and the manifest gets the outcomes first (otherwise the next run's start
        // does it). An external server is only checked: the next run's start will do.
        if self.server_of(c).is_none() && server::launches(c) {
            if let Err(e) = batch.settle() {
                self.record_failed(&e, obs);
            }
            if let Some(g) = self.guardian.as_mut()
                && g.tell_gone().await.is_err()
            {
                self.guardian = None;
            }
        }
        match self.ensure_server(c, batch, interrupts, obs).await {
            Err((status, reason)) => {
                self.record_not_run(c, batch, status, &reason, obs);
                if status == RunStatus::Interrupted {
                    self.summary.interrupted = true;
                } else {
                    self.summary.failed += 1;
                }
                return;
            }
            Ok(true) => {
                // A server just became ready: what it is goes into provenance.json.
                if let Some(url) = self.server_of(c).map(|s| s.url.clone()) {
                    let key = c
                        .merged
                        .get("api_key_env_var")
                        .and_then(serde_json::Value::as_str)
                        .and_then(|v| std::env::var(v).ok());
                    let mut id =
                        provenance::identity(c, &url, key.as_deref(), &self.redactor).await;
                    if let Some(k) = self.server_of(c).and_then(|s| s.kube()) {
                        id.kubernetes = Some(k.identity().await);
                    }
                    if let Err(e) = batch.record_server(&c.server_id, id) {
                        self.record_failed(&e, obs);
                    }
                }
            }
            Ok(false) => {}
        }
        let started = Instant::now();
        let outcome = self.run_one(c, (pos, of), batch, interrupts, obs).await;
        let took = started.elapsed();
        match outcome.status {
            s if s.is_success() => {
                self.summary.completed += 1;
                self.summary.partial += usize::from(s == RunStatus::Partial);
            }
            RunStatus::Interrupted => self.summary.interrupted = true,
            _ => self.summary.failed += 1,
        }
        obs.event(Event::RunFinished {
            c,
            status: outcome.status,
            reason: outcome.reason.as_deref(),
            duration: took,
            dir: &batch.run_dir(c),
        });
        // A deployment that lost its port-forward lives on: the next run forwards it again.
        if outcome.server_died && !self.server_of(c).is_some_and(|s| s.reconnectable()) {
            self.stop_server(&c.server_id, obs).await;
        }
    }

    /// The running server of `c`, if any.
    fn server_of(&mut self, c: &Combination) -> Option<&mut Server> {
        self.servers.iter_mut().find(|s| s.id == c.server_id)
    }

    /// Makes the server of `c` ready: reuses its running one (`Ok(false)`), or stops the others
    /// (unless they are kept up) and starts it (`Ok(true)`). `Err` gives the status and reason to record when `c`
    /// cannot run.
    async fn ensure_server(
        &mut self,
        c: &Combination,
        batch: &Batch,
        interrupts: &mut watch::Receiver<usize>,
        obs: &mut dyn Observer,
    ) -> Result<bool, (RunStatus, String)> {
        if let Some(s) = self.server_of(c) {
            let Some(why) = s.exited() else { return Ok(false) };
            // A deployment whose port-forward died: forwarded again, not deployed again.
            if s.reconnectable() {
                let old = s.pgid();
                obs.event(Event::Warning(&format!("{}: {why}; starting it again", c.server_id)));
                let again = s.reconnect().await;
                self.groups.untrack(old);
                match again {
                    Ok(pgid) => {
                        self.groups.track(pgid);
                        return Ok(false);
                    }
                    Err(e) => obs.event(Event::Warning(&self.redactor.redact(&e.0))),
                }
            }
            self.stop_server(&c.server_id, obs).await;
        }
        if !self.keep_up {
            self.stop_servers(obs).await;
        }
        if let Some(reason) = self.failed_servers.get(&c.server_id) {
            obs.event(Event::ServerUnavailable { c, id: &c.server_id });
            return Err((RunStatus::Failed, reason.clone()));
        }
        let cx = server::StartContext {
            batch_name: &self.cfg.batch_name,
            batch_dir: &batch.dir,
            program: &self.opts.program,
            redactor: &self.redactor,
            groups: &self.groups,
        };
        match server::start(c, &cx, interrupts, obs).await {
            Ok(s) => {
                self.servers.push(s);
                Ok(true)
            }
            Err(_) if *interrupts.borrow() > 0 => {
                self.notice_interrupt(obs);
                Err((RunStatus::Interrupted, "interrupted while the server was starting".into()))
            }
            Err(server::ServerError(reason)) => {
                obs.event(Event::ServerFailed { id: &c.server_id, reason: &reason });
                self.failed_servers.insert(c.server_id.clone(), reason.clone());
                Err((RunStatus::Failed, reason))
            }
        }
    }

    /// Stops the server `id`, if it runs.
    async fn stop_server(&mut self, id: &str, obs: &mut dyn Observer) {
        if let Some(i) = self.servers.iter().position(|s| s.id == id) {
            let mut s = self.servers.remove(i);
            self.groups.untrack(s.pgid());
            if let Some(what) = s.kube().and_then(kube::Kube::teardown_plan) {
                obs.event(Event::ServerStopping { id: &s.id, what: &what });
            }
            if let Some(w) = s.stop().await {
                obs.event(Event::Warning(&self.redactor.redact(&w)));
            }
            obs.event(Event::ServerStopped { id: &s.id });
        }
    }

    /// Stops every running server.
    async fn stop_servers(&mut self, obs: &mut dyn Observer) {
        while let Some(id) = self.servers.first().map(|s| s.id.clone()) {
            self.stop_server(&id, obs).await;
        }
    }

    fn record_not_run(
        &mut self,
        c: &Combination,
        batch: &mut Batch,
        status: RunStatus,
        reason: &str,
        obs: &mut dyn Observer,
    ) {
        if let Err(e) = batch.record_not_run(c, status, reason, &self.aiperf.version) {
            self.record_failed(&e, obs);
        }
    }

    /// A record could not be written: counted (the exit code will say so), and when the disk is
    /// full the batch stops (the manifest on disk is the last one written whole).
    fn record_failed(&mut self, e: &BatchError, obs: &mut dyn Observer) {
        self.summary.record_errors += 1;
        obs.event(Event::Warning(&e.to_string()));
        if e.is_disk_full() && self.summary.stopped.is_none() {
            self.summary.stopped = Some(format!("the disk is full: {e}"));
        }
    }

    /// The argv of `c` (shown and real) and its `run_metadata.json`.
    fn prepare(&self, c: &Combination, dir: PathBuf, server_url: &str) -> Prepared {
        let ctx = ArgContext {
            program: Some(&self.aiperf.exe),
            artifact_dir: Some(&dir),
            mock_url: Some(server_url),
            offline_tokenizer: self.tokenizer.as_deref(),
            verbose: self.opts.verbose,
        };
        let argv = argv::render(&c.args, &ctx);
        let meta = RunMetadata {
            format_version: FORMAT_VERSION,
            run_index: c.index,
            timestamp: now(),
            config_file: self.cfg.file.display().to_string(),
            sweep_params: if c.params.is_empty() { None } else { Some(c.params.clone()) },
            base_config: c.merged.clone(),
            command: self.redactor.redact(&argv::shell_line(&argv)),
            batch_name: self.cfg.batch_name.clone(),
            combination_dir: c.dir.clone(),
            server_id: c.server_id.clone(),
            sweeper_version: batch::SWEEPER_VERSION.into(),
            aiperf_version: self.aiperf.version.clone(),
        };
        let log = dir.join(crate::records::AIPERF_LOG_FILE);
        Prepared { dir, tmp: PathBuf::new(), log, argv, meta }
    }

    /// Runs aiperf for `c` and records the outcome (`process_result.json` and the manifest).
    async fn run_one(
        &mut self,
        c: &Combination,
        (pos, of): (usize, usize),
        batch: &mut Batch,
        interrupts: &mut watch::Receiver<usize>,
        obs: &mut dyn Observer,
    ) -> aiperf::Outcome {
        let Some(server_url) = self.server_of(c).map(|s| s.url.clone()) else {
            return fail_outcome("no server");
        };
        let dir = batch.run_dir(c);
        // A re-run (resume) starts from a clean directory.
        if !c.dir.is_empty() && dir.exists() {
            let _ = std::fs::remove_dir_all(&dir);
        }
        let _ = batch.create_run_dir(&dir);
        let mut p = self.prepare(c, dir, &server_url);
        if let Some(Arg::KeyConfig(k)) = c.args.iter().find(|a| matches!(a, Arg::KeyConfig(_))) {
            let path = p.dir.join(argv::KEY_CONFIG_FILE);
            if let Err(e) = crate::records::write_atomic(&path, k.yaml().as_bytes()) {
                let e = BatchError::Write { path, source: e };
                self.record_failed(&e, obs);
                return fail_outcome(&format!("its records could not be written: {e}"));
            }
        }
        p.tmp = match self.spare_tmp.take().map_or_else(|| aiperf::private_tmp_dir(&batch.dir), Ok)
        {
            Ok(t) => t,
            Err(e) => return fail_outcome(&format!("failed to create a private temp dir: {e}")),
        };
        if let Err(e) = batch.start_run(c, &p.meta) {
            self.release_tmp(p.tmp);
            // Without its metadata a run's results cannot be trusted: it is not started.
            self.record_failed(&e, obs);
            return fail_outcome(&format!("its records could not be written: {e}"));
        }
        obs.event(Event::RunStarted { c, pos, of, command: &p.meta.command });
        let started = Instant::now();
        let (outcome, conditions) = self.watch(c, &p, batch, (pos, of), interrupts, obs).await;
        self.release_tmp(p.tmp);
        let log_tail = (!outcome.status.is_success())
            .then(|| self.redactor.redact(&process::tail(&p.log, 30)));
        let pr = ProcessResult {
            format_version: FORMAT_VERSION,
            args: self.redactor.redact_args(&p.argv),
            returncode: outcome.returncode,
            stdout: None,
            stderr: None,
            status: outcome.status,
            signal: outcome.signal,
            reason: outcome.reason.clone(),
            error_count: outcome.error_count,
            started_at: p.meta.timestamp.clone(),
            ended_at: now(),
            duration_s: started.elapsed().as_secs_f64(),
            server_id: c.server_id.clone(),
            sweeper_version: batch::SWEEPER_VERSION.into(),
            aiperf_version: self.aiperf.version.clone(),
            log_tail,
            conditions,
        };
        if let Err(e) = batch.record(c, &pr) {
            self.record_failed(&e, obs);
            return aiperf::Outcome {
                status: RunStatus::Failed,
                reason: Some(format!("its result could not be recorded: {e}")),
                ..outcome
            };
        }
        outcome
    }
}

impl Runner<'_> {
    /// Done with a run's private temp dir: kept for the next run when the run left nothing in
    /// it (a fresh empty directory and this one are alike to aiperf; on a file system that
    /// delays reusing a deleted inode, ext4 without a journal, each deletion also slows every
    /// later file creation for a minute), else removed once the next run has started.
    fn release_tmp(&mut self, tmp: PathBuf) {
        let empty = std::fs::read_dir(&tmp).is_ok_and(|mut d| d.next().is_none());
        if empty && self.spare_tmp.is_none() {
            self.spare_tmp = Some(tmp);
        } else {
            self.finished_tmp.push(tmp);
        }
    }
}

/// Removes the directories (and their contents) in `dirs`, and forgets them.
fn remove_dirs(dirs: &mut Vec<PathBuf>) {
    for d in dirs.drain(..) {
        let _ = std::fs::remove_dir_all(d);
    }
}

fn fail_outcome(reason: &str) -> aiperf::Outcome {
    aiperf::Outcome {
        status: RunStatus::Failed,
        returncode: None,
        signal: None,
        reason: Some(reason.into()),
        error_count: None,
        server_died: false,
    }
}
