//! The batch directory and its records: creating a new batch (config copy, `plan.json`,
//! manifest), reopening one for `--resume` (checked against the plan), and writing each
//! combination's `run_metadata.json`, `process_result.json` and manifest line.

use std::path::{Path, PathBuf};

use super::flusher::Flusher;
use super::resume::{
    check_same_shard, manifest_difference, plan_difference, remove_stale_temp_files,
    statuses_from_disk,
};
use crate::config::Config;
use crate::plan::{ArgContext, Combination, Plan, argv};
use crate::records::reserve::Reserve;
use crate::records::{
    self, BatchManifest, FORMAT_VERSION, ManifestEntry, PlanRecord, PlannedCombination,
    ProcessResult, RunMetadata, RunStatus,
};

pub const SWEEPER_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Why a batch directory cannot be created, reopened or written.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("failed to create batch directory `{path}`: {source}")]
    Create { path: PathBuf, source: std::io::Error },
    #[error("failed to write `{path}`: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("{message}")]
    Read { message: String },
    #[error(
        "cannot resume `{dir}`: the config now plans different combinations than the batch was started with ({what})"
    )]
    PlanChanged { dir: PathBuf, what: String },
    #[error("cannot resume `{dir}`: its manifest does not match its plan: {what}")]
    ManifestMismatch { dir: PathBuf, what: String },
    #[error("shard directory `{dir}` already exists: nothing was overwritten")]
    ShardExists { dir: PathBuf },
    #[error("cannot resume `{dir}` as shard {shard}: {what}")]
    ShardMismatch { dir: PathBuf, shard: String, what: String },
    #[error("cannot resume `{dir}`: it is a merge of shards, not a batch that runs")]
    Merged { dir: PathBuf },
}

impl BatchError {
    /// The disk (or the user's quota) is full: nothing more can be recorded.
    pub fn is_disk_full(&self) -> bool {
        matches!(self, BatchError::Write { source, .. } | BatchError::Create { source, .. }
            if matches!(source.kind(), std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded))
    }

    /// What to try.
    pub fn hint(&self) -> String {
        match self {
            BatchError::Create { .. } | BatchError::Write { .. } => {
                "check that `output_base_dir` is writable and the disk has space".into()
            }
            BatchError::Read { .. } => {
                "pass the batch directory printed by the first run, with the same --config-file"
                    .into()
            }
            BatchError::PlanChanged { dir, .. } => format!(
                "resume with the config the batch was started with (a copy is `{}`)",
                dir.join(records::CONFIG_COPY_FILE).display()
            ),
            BatchError::ManifestMismatch { .. } => format!(
                "`{}` was edited or damaged: restore it, or start a new batch",
                records::MANIFEST_FILE
            ),
            BatchError::ShardExists { dir } => format!(
                "continue it with `--resume {}` (and the same --shard), or use another --batch-id",
                dir.display()
            ),
            BatchError::ShardMismatch { .. } => {
                "resume a shard with the --shard K/N it was started with".into()
            }
            BatchError::Merged { dir } => format!(
                "resume the shard that did not finish (`--resume {}/<K> --shard K/N`), then merge again",
                dir.join(records::SHARDS_DIR).display()
            ),
        }
    }
}

fn now() -> String {
    chrono::Local::now().format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

/// An open batch directory and its manifest.
#[derive(Debug)]
pub struct Batch {
    /// Absolute (aiperf runs inside each combination's directory).
    pub dir: PathBuf,
    pub manifest: BatchManifest,
    /// `provenance.json` as written last.
    pub provenance: records::Provenance,
    /// `plan.json` as written last (a search appends its probes). Its combinations are kept
    /// only when the batch has a `load_search`, which appends probes and rewrites the file: a
    /// plain sweep's plan never changes once written, and a copy of every combination's config
    /// and command would grow sweeper's memory with the batch.
    pub plan_record: PlanRecord,
    /// Combination index -> position in `manifest.runs`.
    position: std::collections::HashMap<usize, usize>,
    /// A run's outcome is in `manifest` but not yet in `batch_manifest.json` (see
    /// [`Batch::record`]).
    unwritten: bool,
    /// Flushes the records to disk as they are written, on a thread of its own: the batch's own
    /// when it was created, its provenance, each run's `process_result.json` (see
    /// [`Batch::record`]).
    flusher: Flusher,
    /// When the last [`Batch::settle`] ended and how long it took.
    last_settle: Option<(std::time::Instant, std::time::Duration)>,
    /// The next run's directory and records, made while a run runs ([`Batch::refill_reserve`]).
    reserve: Reserve,
}

/// While runs follow each other, [`Batch::settle`] comes at least this many times its own
/// last duration apart ([`Batch::settle_while_running`]), so that it takes at most ~2% of the
/// time: the manifest grows with the batch (~125 bytes a run) and a flush waits for the disk,
/// and doing both after every run made a sweep of short runs cost O(n) per run. A run of
/// aiperf's usual length (seconds) still gets both as soon as it has started.
pub const SETTLE_SPACING: u32 = 50;
/// ... and never further apart than this while a run runs (a slow disk would otherwise leave
/// the manifest behind for minutes).
pub const SETTLE_INTERVAL_MAX: std::time::Duration = std::time::Duration::from_secs(5);

fn planned(plan: &Plan, dir: &Path) -> Vec<PlannedCombination> {
    plan.combinations.iter().map(|c| planned_one(c, dir)).collect()
}

/// One combination as plan.json records it, with its aiperf command rendered for `dir`.
fn planned_one(c: &Combination, dir: &Path) -> PlannedCombination {
    let run_dir = dir.join(&c.dir);
    let ctx = ArgContext { artifact_dir: Some(&run_dir), ..Default::default() };
    PlannedCombination {
        index: c.index,
        dir: c.dir.clone(),
        params: c.params.clone(),
        merged: c.merged.clone(),
        server_id: c.server_id.clone(),
        argv: argv::render(&c.args, &ctx),
        targets: c.targets.clone(),
        repeat: c.repeat,
        point: c.repeat.map(|_| c.point),
        probe: c.probe,
    }
}

/// Drops the combinations of a plan record that no search will append to (see
/// [`Batch::plan_record`]).
fn forget_fixed_combinations(record: &mut PlanRecord) {
    if record.load_search.is_none() {
        record.combinations = Vec::new();
    }
}

/// `dir` absolute and normalised (`out/X/<id>/` and `out/X/<id>` are one batch: its children
/// are found by this exact path in their environment).
fn absolute(dir: &Path) -> Result<PathBuf, BatchError> {
    std::path::absolute(dir)
        .map(|p| p.components().collect())
        .map_err(|source| BatchError::Create { path: dir.into(), source })
}

impl Batch {
    /// Creates `<output_base_dir>/<batch_name>/<YYYYMMDD_HHMMSS>/` (never an existing one) with
    /// its config copy, plan and manifest, each atomic and flushed to disk by the batch's
    /// flushing thread as soon as written (a crash of the machine before can leave them
    /// unreadable, and nothing was measured yet).
    pub fn create(
        cfg: &Config,
        plan: &Plan,
        aiperf_version: &str,
        shard: Option<&records::ShardRecord>,
    ) -> Result<Batch, BatchError> {
        let dir = new_dir(&cfg.output_base_dir.join(&cfg.batch_name), shard)?;
        // plan.json shows each `--artifact-dir` as given (relative to where sweeper started).
        let planned = planned(plan, &dir);
        let dir = absolute(&dir)?;
        let write = |path: PathBuf, r: std::io::Result<()>| {
            r.map_err(|source| BatchError::Write { path, source })
        };
        let copy = dir.join(records::CONFIG_COPY_FILE);
        write(copy.clone(), records::write_derived(&copy, cfg.source.as_bytes()))?;
        let plan_record = PlanRecord {
            format_version: FORMAT_VERSION,
            batch_name: cfg.batch_name.clone(),
            config_file: cfg.file.display().to_string(),
            swept_keys: plan.swept_keys.clone(),
            combinations: planned,
            cost: plan.cost.clone(),
            tt_model_id: plan.tt_model_id.clone(),
            repeats: plan.repeats,
            load_search: plan.load_search.clone(),
            ab: plan.ab.clone(),
            plan_hash: Some(crate::scaleout::shard::plan_hash(plan)),
            shard: shard.cloned(),
        };
        let plan_path = dir.join(records::PLAN_FILE);
        write(plan_path.clone(), records::write_json_derived(&plan_path, &plan_record))?;
        let mut plan_record = plan_record;
        forget_fixed_combinations(&mut plan_record);
        let mut batch = Batch {
            reserve: Reserve::new(&dir),
            dir,
            provenance: records::Provenance::default(),
            plan_record,
            position: Default::default(),
            unwritten: false,
            flusher: Flusher::default(),
            last_settle: None,
            manifest: BatchManifest {
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
                    .filter(|c| shard.is_none_or(|s| s.runs(c.index)))
                    .map(|c| ManifestEntry::pending(c.index, &c.dir, &c.params, None))
                    .collect(),
            },
        };
        batch.flusher.push(copy);
        batch.flusher.push(plan_path);
        batch.reindex();
        batch.rewrite_manifest(false)?;
        batch.flusher.push(batch.dir.join(records::MANIFEST_FILE));
        Ok(batch)
    }

    /// Rebuilds the index -> manifest position map (combinations of a shard, and a search's
    /// probes, are not numbered by position).
    fn reindex(&mut self) {
        self.position = self.manifest.runs.iter().enumerate().map(|(p, e)| (e.index, p)).collect();
    }

    fn entry_mut(&mut self, index: usize) -> Option<&mut ManifestEntry> {
        let p = *self.position.get(&index)?;
        self.manifest.runs.get_mut(p)
    }

    /// Reopens a batch for `--resume`: its `plan.json` must list the same combinations as
    /// `plan`, and its manifest one entry per combination, in order, with the same directories.
    /// Each entry's status is then taken from the run's `process_result.json` (the manifest may
    /// lag a `kill -9`).
    pub fn resume(
        dir: &Path,
        plan: &Plan,
        shard: Option<&crate::scaleout::shard::Shard>,
        artifacts: super::decide::ArtifactCheck,
    ) -> Result<Batch, BatchError> {
        let dir = absolute(dir)?;
        let read_err = |e: records::ReadError| BatchError::Read { message: e.to_string() };
        let old: PlanRecord =
            records::read_json(&dir.join(records::PLAN_FILE)).map_err(read_err)?;
        if old.shard.is_none() && dir.join(records::SHARDS_DIR).is_dir() {
            return Err(BatchError::Merged { dir });
        }
        check_same_shard(&dir, shard, old.shard.as_ref())?;
        if let Some(what) = plan_difference(&old, plan) {
            return Err(BatchError::PlanChanged { dir, what });
        }
        // How result files are named may change between runs (a `tt` section added): the
        // record follows the config it is resumed with. (A changed SLO is a changed plan.)
        let mut old = old;
        if old.tt_model_id != plan.tt_model_id {
            old.tt_model_id = plan.tt_model_id.clone();
            let path = dir.join(records::PLAN_FILE);
            records::write_json_atomic(&path, &old)
                .map_err(|source| BatchError::Write { path, source })?;
        }
        let mut manifest: BatchManifest =
            records::read_json(&dir.join(records::MANIFEST_FILE)).map_err(read_err)?;
        if let Some(what) = manifest_difference(&manifest, plan, &old) {
            return Err(BatchError::ManifestMismatch { dir, what });
        }
        remove_stale_temp_files(&dir);
        manifest.finished = false;
        manifest.interrupted = false;
        statuses_from_disk(&dir, &mut manifest, artifacts);
        forget_fixed_combinations(&mut old);
        let mut batch = Batch {
            reserve: Reserve::new(&dir),
            dir,
            manifest,
            provenance: records::Provenance::default(),
            plan_record: old,
            position: Default::default(),
            unwritten: false,
            flusher: Flusher::default(),
            last_settle: None,
        };
        batch.reindex();
        Ok(batch)
    }

    /// The probes a search already decided on (from plan.json): (index, probe).
    pub fn probes(&self) -> Vec<(usize, records::Probe)> {
        self.plan_record.combinations.iter().filter_map(|c| c.probe.map(|p| (c.index, p))).collect()
    }

    /// Adds a search's probe to plan.json and the manifest (pending), before it runs.
    pub fn add_probe(&mut self, c: &Combination) -> Result<(), BatchError> {
        self.plan_record.combinations.push(planned_one(c, &self.dir));
        let path = self.dir.join(records::PLAN_FILE);
        let plan_result = records::write_json_atomic(&path, &self.plan_record)
            .map_err(|source| BatchError::Write { path, source });
        self.manifest.runs.push(ManifestEntry::pending(c.index, &c.dir, &c.params, None));
        self.reindex();
        let manifest_result = self.write_manifest();
        plan_result.and(manifest_result)
    }

    /// Records a combination not run because its ladder stopped: `skipped`, with the reason, in
    /// the manifest only (no `process_result.json`: nothing ran).
    pub fn record_skipped(&mut self, c: &Combination, reason: &str) -> Result<(), BatchError> {
        if let Some(e) = self.entry_mut(c.index) {
            e.status = RunStatus::Skipped;
            e.reason = Some(reason.to_owned());
        }
        self.write_manifest()
    }

    /// Records what this session measures with in `provenance.json`: the versions and this
    /// host, added to what earlier sessions of the batch recorded (a resume on another machine
    /// or with another aiperf is noted, since its runs are not like for like).
    pub fn record_provenance(
        &mut self,
        aiperf_version: &str,
        host: records::Host,
    ) -> Result<(), BatchError> {
        let path = self.dir.join(records::PROVENANCE_FILE);
        let mut p: records::Provenance = if path.exists() {
            records::read_json(&path).unwrap_or_default()
        } else {
            records::Provenance::default()
        };
        let first = p.format_version == 0;
        if first {
            p.format_version = FORMAT_VERSION;
            p.sweeper_version = SWEEPER_VERSION.into();
            p.aiperf_version = aiperf_version.into();
        } else {
            for (what, then, now) in [
                ("aiperf", p.aiperf_version.clone(), aiperf_version.to_owned()),
                ("sweeper", p.sweeper_version.clone(), SWEEPER_VERSION.to_owned()),
            ] {
                if then != now {
                    p.notes.push(format!(
                        "resumed on {} with {what} {now} (the batch started with {then})",
                        now_date()
                    ));
                }
            }
        }
        if !p.hosts.contains(&host) {
            if !first {
                p.notes.push(format!("resumed on {} on host `{}`", now_date(), host.hostname));
            }
            p.hosts.push(host);
        }
        self.provenance = p;
        self.write_provenance()
    }

    /// Records a server's identity once it is ready (the last start of a server id wins).
    pub fn record_server(
        &mut self,
        id: &str,
        identity: records::ServerIdentity,
    ) -> Result<(), BatchError> {
        self.provenance.servers.insert(id.to_owned(), identity);
        self.write_provenance()
    }

    /// Writes `provenance.json` (atomically; flushed to disk by the flushing thread).
    fn write_provenance(&mut self) -> Result<(), BatchError> {
        let path = self.dir.join(records::PROVENANCE_FILE);
        records::write_json_derived(&path, &self.provenance)
            .map_err(|source| BatchError::Write { path: path.clone(), source })?;
        self.flusher.push(path);
        Ok(())
    }

    /// A combination's directory.
    pub fn run_dir(&self, c: &Combination) -> PathBuf {
        self.dir.join(&c.dir)
    }

    /// Creates a run's directory `dir` (see [`Reserve`]).
    pub fn create_run_dir(&mut self, dir: &Path) -> std::io::Result<()> {
        self.reserve.create_dir_all(dir)
    }

    /// Makes the next run's directory and records' inodes ahead: while a run runs.
    pub fn refill_reserve(&mut self) {
        self.reserve.refill();
    }

    /// The manifest's status of combination `index`.
    pub fn status(&self, index: usize) -> RunStatus {
        self.position
            .get(&index)
            .and_then(|p| self.manifest.runs.get(*p))
            .map_or(RunStatus::Pending, |e| e.status)
    }

    /// Rewrites `batch_manifest.json` (atomically, and flushed to disk, once every record
    /// written before it is).
    pub fn write_manifest(&mut self) -> Result<(), BatchError> {
        let flushed = self.flush_records();
        self.rewrite_manifest(true).and(flushed)
    }

    /// Rewrites `batch_manifest.json` atomically; `durable`: flushed to disk before returning.
    ///
    /// A run's start and end update the manifest without the flush: after a crash of the
    /// machine the manifest may lag, as it may after `kill -9`, and every reader takes a run's
    /// status from its own `process_result.json` (flushed) first (`--resume`, `report`). What
    /// only the manifest records (a ladder's skipped runs, the batch's end) is flushed.
    fn rewrite_manifest(&mut self, durable: bool) -> Result<(), BatchError> {
        self.unwritten = false;
        self.manifest.updated_at = now();
        let path = self.dir.join(records::MANIFEST_FILE);
        // Compact: it is rewritten as runs end, and its size grows with the batch.
        records::write_json_compact(&path, &self.manifest, durable)
            .map_err(|source| BatchError::Write { path, source })
    }

    /// Writes `run_metadata.json` and marks the combination `running` in the manifest in
    /// memory; the manifest on disk follows with [`Batch::settle_while_running`], which the run
    /// stage calls once aiperf has started and every second of its run (the manifest grows with
    /// the batch: the run does not wait for it).
    ///
    /// Neither is flushed to disk (both are atomic): a run that a crash interrupts has no
    /// `process_result.json` and runs again on `--resume` whatever these say.
    pub fn start_run(&mut self, c: &Combination, meta: &RunMetadata) -> Result<(), BatchError> {
        let path = self.run_dir(c).join(records::RUN_METADATA_FILE);
        let meta_result = records::write_json_new(&mut self.reserve, &path, meta)
            .map_err(|source| BatchError::Write { path, source });
        if let Some(e) = self.entry_mut(c.index) {
            e.status = RunStatus::Running;
            e.reason = None;
        }
        self.unwritten = true;
        meta_result
    }

    /// Writes a combination's `process_result.json`, the record of the outcome, and its line
    /// of the manifest in memory.
    ///
    /// The file is in place (atomically: written whole, then named) before this returns, so neither
    /// `kill -9` nor any crash of sweeper loses it; it is flushed to disk by the batch's
    /// flushing thread while the next run starts, which never waits for the disk: a crash of
    /// the machine before can leave it empty or missing, and such a run counts as not run
    /// (`--resume` runs it again, `report` names the file).
    ///
    /// The manifest on disk gets the outcome with a later write: while the next run runs
    /// ([`Batch::settle_while_running`]), before a server starts ([`Batch::settle`]), or at the
    /// batch's end. Until then it may say `running` (or `pending`) for a run whose
    /// `process_result.json` is written, which every reader takes first (`--resume`, `report`).
    pub fn record(&mut self, c: &Combination, pr: &ProcessResult) -> Result<(), BatchError> {
        let path = self.run_dir(c).join(records::PROCESS_RESULT_FILE);
        let pr_result = match records::write_json_new(&mut self.reserve, &path, pr) {
            Ok(()) => {
                self.flusher.push(path);
                Ok(())
            }
            Err(source) => Err(BatchError::Write { path, source }),
        };
        if let Some(e) = self.entry_mut(c.index) {
            e.status = pr.status;
            e.reason = pr.reason.clone();
            e.duration_s = Some(pr.duration_s);
        }
        self.unwritten = true;
        pr_result
    }

    /// Waits until the records written so far are on disk, and writes the manifest if one is
    /// not in it yet: before a server starts (which may take minutes).
    pub fn settle(&mut self) -> Result<(), BatchError> {
        self.flusher.wait();
        self.settle_now()
    }

    /// As [`Batch::settle`] while a run runs (once it has started, then every second), when
    /// the last one ended [`SETTLE_SPACING`] times its duration ago or more (at most
    /// [`SETTLE_INTERVAL_MAX`]). It does not wait for the records' flush, which goes on beside
    /// the runs; a flush that failed meanwhile is returned.
    pub fn settle_while_running(&mut self) -> Result<(), BatchError> {
        let due = self.last_settle.is_none_or(|(at, took)| {
            at.elapsed() >= (took * SETTLE_SPACING).min(SETTLE_INTERVAL_MAX)
        });
        if due { self.settle_now() } else { Ok(()) }
    }

    /// The first failed flush, and the manifest written if it is behind.
    fn settle_now(&mut self) -> Result<(), BatchError> {
        let start = std::time::Instant::now();
        let flushed = self.flush_error();
        let written = if self.unwritten { self.rewrite_manifest(false) } else { Ok(()) };
        self.last_settle = Some((std::time::Instant::now(), start.elapsed()));
        flushed.and(written)
    }

    /// Waits until every record written so far is flushed; the first that failed is returned.
    fn flush_records(&mut self) -> Result<(), BatchError> {
        self.flusher.wait();
        self.flush_error()
    }

    /// The first flush that failed since the last call.
    fn flush_error(&self) -> Result<(), BatchError> {
        match self.flusher.take_error() {
            Some((path, source)) => Err(BatchError::Write { path, source }),
            None => Ok(()),
        }
    }

    /// Records a combination that did not run (its server failed, or Ctrl-C came first).
    pub fn record_not_run(
        &mut self,
        c: &Combination,
        status: RunStatus,
        reason: &str,
        aiperf_version: &str,
    ) -> Result<(), BatchError> {
        let dir = self.run_dir(c);
        fs_err::create_dir_all(&dir).map_err(|source| BatchError::Create { path: dir, source })?;
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
            aiperf_version: aiperf_version.into(),
            log_tail: None,
            conditions: None,
        };
        self.record(c, &pr)
    }

    /// Marks combinations never started as skipped because the sweep was interrupted.
    pub fn skip_pending(&mut self) {
        for e in &mut self.manifest.runs {
            if e.status == RunStatus::Pending {
                e.status = RunStatus::Skipped;
                e.reason = Some("not run: the sweep was interrupted".into());
            }
        }
    }

    /// The final manifest: finished, and whether it was interrupted.
    pub fn finish(&mut self, interrupted: bool) -> Result<(), BatchError> {
        self.reserve.release();
        self.manifest.finished = true;
        self.manifest.interrupted = interrupted;
        self.write_manifest()
    }
}

/// Records a hard stop (the second Ctrl-C) in the manifest on disk, the last state written:
/// the run in progress becomes `interrupted`, those not started `skipped`, and the batch
/// `interrupted` and finished. Called from the signal handler's task just before everything is
/// killed; failures are ignored (there is nothing left to tell).
pub fn record_hard_kill(dir: &Path) {
    let path = dir.join(records::MANIFEST_FILE);
    let Ok(mut m) = records::read_json::<BatchManifest>(&path) else { return };
    for e in &mut m.runs {
        match e.status {
            RunStatus::Running => {
                e.status = RunStatus::Interrupted;
                e.reason = Some("killed by a second Ctrl-C".into());
            }
            RunStatus::Pending => {
                e.status = RunStatus::Skipped;
                e.reason = Some("not run: the sweep was interrupted".into());
            }
            _ => {}
        }
    }
    m.interrupted = true;
    m.finished = true;
    m.updated_at = now();
    let _ = records::write_json_atomic(&path, &m);
}

fn now_date() -> String {
    chrono::Local::now().format("%Y-%m-%d %H:%M").to_string()
}

/// A new batch directory: `<parent>/<YYYYMMDD_HHMMSS>[_n]/`, or a shard's
/// `<parent>/<batch id>/shards/<K>/`; never an existing one.
fn new_dir(parent: &Path, shard: Option<&records::ShardRecord>) -> Result<PathBuf, BatchError> {
    Ok(match shard {
        // `<batch id>/shards/<K>/`, shared by the shards of one batch; never an existing one.
        Some(s) => {
            let shards = parent.join(&s.batch_id).join(records::SHARDS_DIR);
            fs_err::create_dir_all(&shards)
                .map_err(|source| BatchError::Create { path: shards.clone(), source })?;
            let dir = shards.join(s.k.to_string());
            if let Err(source) = std::fs::create_dir(&dir) {
                return Err(if source.kind() == std::io::ErrorKind::AlreadyExists {
                    BatchError::ShardExists { dir }
                } else {
                    BatchError::Create { path: dir, source }
                });
            }
            dir
        }
        None => {
            fs_err::create_dir_all(parent)
                .map_err(|source| BatchError::Create { path: parent.to_path_buf(), source })?;
            let stamp = chrono::Local::now().format("%Y%m%d_%H%M%S").to_string();
            let mut dir = parent.join(&stamp);
            let mut n = 1;
            // create_dir (not _all) fails if it exists: we never write into an existing batch.
            while let Err(source) = std::fs::create_dir(&dir) {
                if source.kind() != std::io::ErrorKind::AlreadyExists || n > 100 {
                    return Err(BatchError::Create { path: dir, source });
                }
                dir = parent.join(format!("{stamp}_{n}"));
                n += 1;
            }
            dir
        }
    })
}
