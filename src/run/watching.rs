//! Watching one aiperf run: its start, its progress, aiperf's output with `--verbose`, Ctrl-C,
//! and the conditions it ran under; the records' flush and the manifest's write once aiperf has
//! started.

use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use super::{
    Batch, BatchError, Event, Observer, Prepared, Runner, aiperf, conditions, fail_outcome,
    supervise,
};
use crate::plan::Combination;

/// What a run's ticks do besides telling its progress. Started at the first tick, which comes
/// once aiperf has been started (`biased` in [`Runner::watch`]: the run is polled first): the
/// conditions sampler, the flush of the records and the manifest's write (when due:
/// `Batch::settle_while_running`), the removal of the last run's temp dir. None delays the start.
struct Ticks {
    sampler: Option<conditions::Sampler>,
    finished_tmp: Vec<std::path::PathBuf>,
    error: Option<BatchError>,
}

impl Ticks {
    fn tick(&mut self, batch: &mut Batch, batch_dir: &std::path::Path) {
        match self.sampler.as_mut() {
            Some(s) => s.sample(),
            None => self.sampler = Some(conditions::Sampler::start(batch_dir)),
        }
        if let Err(e) = batch.settle_while_running() {
            self.error.get_or_insert(e);
        }
        super::remove_dirs(&mut self.finished_tmp);
    }
}

impl Runner<'_> {
    /// Starts the batch's guardian with its first run (once: without it, aiperf runs under a
    /// supervisor of its own).
    fn start_guardian(&mut self, supervision: &supervise::Supervision, grace: Duration) {
        if !self.guardian_tried {
            self.guardian_tried = true;
            self.guardian = supervision.guardian(grace).ok();
        }
    }

    /// Runs aiperf, telling `obs` about progress (and aiperf's output with `--verbose`).
    pub(super) async fn watch(
        &mut self,
        c: &Combination,
        p: &Prepared,
        batch: &mut Batch,
        (pos, of): (usize, usize),
        interrupts: &mut watch::Receiver<usize>,
        obs: &mut dyn Observer,
    ) -> (aiperf::Outcome, crate::records::Conditions) {
        let supervision = supervise::Supervision {
            exe: self.opts.program.clone(),
            batch_dir: self.batch_dir.clone(),
        };
        let grace = aiperf::secs(self.cfg.aiperf.stop_grace_s);
        self.start_guardian(&supervision, grace);
        let Some(srv) = self.servers.iter_mut().find(|s| s.id == c.server_id) else {
            return (
                fail_outcome("no server"),
                conditions::Sampler::start(&self.batch_dir).finish(),
            );
        };
        let mut ticks = Ticks {
            sampler: None,
            finished_tmp: std::mem::take(&mut self.finished_tmp),
            error: None,
        };
        let (live_tx, mut live_rx) = mpsc::unbounded_channel();
        let launch = aiperf::Launch {
            argv: &p.argv,
            env: &self.cfg.aiperf.env,
            dir: &p.dir,
            tmp: &p.tmp,
            log: &p.log,
            redactor: &self.redactor,
            timeout: aiperf::timeout_for(&self.cfg.aiperf, c),
            grace,
            artifacts: self.opts.artifacts,
            live: self.opts.verbose.then_some(live_tx),
            supervision: &supervision,
            guardian: &mut self.guardian,
        };
        let mut notice = interrupts.clone();
        let mut told = self.told_interrupt;
        // The run's future goes at the block's end: what it borrows of `self` is free after.
        let (outcome, told) = {
            let run = aiperf::run(launch, srv, interrupts, &self.groups);
            tokio::pin!(run);
            let started = Instant::now();
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tokio::select! {
                    biased;
                    o = &mut run => {
                        while let Ok(line) = live_rx.try_recv() {
                            obs.event(Event::AiperfOutput(&line));
                        }
                        break (o, told);
                    }
                    Some(line) = live_rx.recv() => obs.event(Event::AiperfOutput(&line)),
                    Ok(()) = notice.changed(), if !told => {
                        told = true;
                        obs.event(Event::Interrupted);
                    }
                    _ = tick.tick() => {
                        ticks.tick(batch, &self.batch_dir);
                        obs.event(Event::RunProgress { c, pos, of, elapsed: started.elapsed() });
                    }
                }
            }
        };
        self.told_interrupt = told;
        super::remove_dirs(&mut ticks.finished_tmp);
        if let Some(e) = ticks.error {
            self.record_failed(&e, obs);
        }
        let sampler = ticks.sampler.unwrap_or_else(|| conditions::Sampler::start(&self.batch_dir));
        (outcome, sampler.finish())
    }
}
