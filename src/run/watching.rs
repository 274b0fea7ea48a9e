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

/// When a run's conditions are first sampled, after aiperf's start (see [`Ticks`]). aiperf
/// takes seconds to start its services before it measures anything; a run that ends sooner
/// (one that failed at once, a stub) records no conditions.
const FIRST_SAMPLE: Duration = Duration::from_millis(100);

/// What a run's ticks do besides telling its progress. The first tick comes once aiperf has
/// been started (`biased` in [`Runner::watch`]: the run is polled first): the manifest's write
/// (when due: `Batch::settle_while_running`), the removal of the last run's temp dir, the
/// request for the next run's directory and records to be made ahead (`Batch::refill_reserve`:
/// made on a thread of their own); later ticks also sample the conditions. None delays the
/// start.
///
/// The conditions sampler starts [`FIRST_SAMPLE`] after aiperf, not with it: its first sample
/// (`/proc/stat`, the batch's processes, `/proc/cpuinfo`, which interrupts every CPU) took the
/// CPU aiperf's own start needs, and a run that ends sooner has nothing to measure.
struct Ticks {
    sampler: Option<conditions::Sampler>,
    finished_tmp: Vec<std::path::PathBuf>,
    error: Option<BatchError>,
}

impl Ticks {
    fn tick(&mut self, batch: &mut Batch) {
        if let Some(s) = self.sampler.as_mut() {
            s.sample();
        }
        if let Err(e) = batch.settle_while_running() {
            self.error.get_or_insert(e);
        }
        super::remove_dirs(&mut self.finished_tmp);
        batch.refill_reserve();
    }
}

/// The ticks after a run's first: each second, the first a second after aiperf's start.
///
/// The first tick comes once aiperf is started ([`next_tick`]), not as the interval's own:
/// tokio's timers fire on a 1 ms wheel, and waiting for it woke the run stage once more per run,
/// in the middle of aiperf's start.
fn ticker() -> tokio::time::Interval {
    let second = Duration::from_secs(1);
    tokio::time::interval_at(tokio::time::Instant::now() + second, second)
}

/// The next tick: at once the first time (`first`, then cleared), else the interval's.
async fn next_tick(tick: &mut tokio::time::Interval, first: &mut bool) {
    if !std::mem::take(first) {
        tick.tick().await;
    }
}

impl Runner<'_> {
    /// How aiperf's process tree dies with sweeper, and its stop grace; starts the batch's
    /// guardian with its first run (once: without it, aiperf runs under a supervisor of its
    /// own).
    fn supervision(&mut self) -> (supervise::Supervision, Duration) {
        let supervision = supervise::Supervision {
            exe: self.opts.program.clone(),
            batch_dir: self.batch_dir.clone(),
        };
        let grace = aiperf::secs(self.cfg.aiperf.stop_grace_s);
        if !self.guardian_tried {
            self.guardian_tried = true;
            self.guardian = supervision.guardian(grace).ok();
        }
        (supervision, grace)
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
    ) -> (aiperf::Outcome, Option<crate::records::Conditions>) {
        let (supervision, grace) = self.supervision();
        let Some(srv) = self.servers.iter_mut().find(|s| s.id == c.server_id) else {
            return (fail_outcome("no server"), None);
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
            profile_runs: crate::model::options::num_profile_runs(&c.merged),
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
            // `biased`: the run is polled first, so the first tick comes once aiperf is started.
            let (mut tick, mut first_tick) = (ticker(), true);
            let first_sample = tokio::time::sleep(FIRST_SAMPLE);
            tokio::pin!(first_sample);
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
                    () = &mut first_sample, if ticks.sampler.is_none() => {
                        ticks.sampler = Some(conditions::Sampler::start(&self.batch_dir));
                    }
                    () = next_tick(&mut tick, &mut first_tick) => {
                        ticks.tick(batch);
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
        (outcome, ticks.sampler.map(conditions::Sampler::finish))
    }
}
