//! Watching one aiperf run: its start, its progress, aiperf's output with `--verbose`, Ctrl-C,
//! and the conditions it ran under; the manifest's write once aiperf has started.

use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use super::{
    Batch, Event, Observer, Prepared, Runner, aiperf, conditions, fail_outcome, supervise,
};
use crate::plan::Combination;

impl Runner<'_> {
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
        let Some(srv) = self.servers.iter_mut().find(|s| s.id == c.server_id) else {
            return (
                fail_outcome("no server"),
                conditions::Sampler::start(&self.batch_dir).finish(),
            );
        };
        // Started at the first tick, which comes once aiperf has been started (`biased` below:
        // the run is polled first), as do the manifest's write and the flush of the last run's
        // `process_result.json` (when due: `Batch::settle_while_running`) and the removal of
        // its temp dir: none delays the start.
        let mut sampler: Option<conditions::Sampler> = None;
        let mut finished_tmp = std::mem::take(&mut self.finished_tmp);
        let mut manifest_error = None;
        let (live_tx, mut live_rx) = mpsc::unbounded_channel();
        let supervision = supervise::Supervision {
            exe: self.opts.program.clone(),
            batch_dir: self.batch_dir.clone(),
        };
        let grace = aiperf::secs(self.cfg.aiperf.stop_grace_s);
        if !self.guardian_tried {
            self.guardian_tried = true;
            self.guardian = supervision.guardian(grace).ok();
        }
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
                        match sampler.as_mut() {
                            Some(s) => {
                                s.sample();
                                if let Err(e) = batch.settle_while_running() {
                                    manifest_error.get_or_insert(e);
                                }
                            }
                            None => {
                                sampler = Some(conditions::Sampler::start(&self.batch_dir));
                                manifest_error = batch.settle_while_running().err();
                                super::remove_dirs(&mut finished_tmp);
                            }
                        }
                        obs.event(Event::RunProgress { c, pos, of, elapsed: started.elapsed() });
                    }
                }
            }
        };
        self.told_interrupt = told;
        super::remove_dirs(&mut finished_tmp);
        if let Some(e) = manifest_error {
            self.record_failed(&e, obs);
        }
        let sampler = sampler.unwrap_or_else(|| conditions::Sampler::start(&self.batch_dir));
        (outcome, sampler.finish())
    }
}
