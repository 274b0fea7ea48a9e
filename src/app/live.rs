//! The reports of a running batch, kept current from the run stage's events by a worker
//! thread, so that the next run never waits for them: after each run only that run is read
//! again and its tt file written; the batch reports are rendered from memory when the last
//! render is old enough (the first one an interval after the start). When the batch finishes
//! the worker catches up and the final render uses what it holds when that is the whole batch
//! as on disk (every run read again after its end, nothing interrupted or skipped), else reads
//! the batch from disk. The worker runs at idle priority (it never takes CPU from aiperf):
//! when it falls behind because every CPU is busy, the batch's end leaves it (its writes are
//! gated off) rather than wait for it.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use crate::app::output::say;
use crate::records::WriteGate;
use crate::report::{self, RenderOutcome, ReportError};
use crate::results::{self, BatchResults};
use crate::run::{Event, Observer, Summary};

/// Reports are rendered at most this often while a sweep runs (and always at its end).
const MIN_RENDER_INTERVAL: Duration = Duration::from_secs(2);
/// ... and at least this many times their own render time apart, so that rendering (which grows
/// with the batch) takes at most about 2% of the time: the cost per run does not grow with it.
const RENDER_SPACING: u32 = 50;

/// Finished runs are handed to the worker at most this often while runs start (each one
/// wakes it): runs shorter than this are handed over together. A server being started or
/// checked hands over what is held at once; the batch's end, to be read and not rendered.
const HAND_OVER_INTERVAL: Duration = Duration::from_millis(100);

/// Keeps the reports of a running batch current (see the module's doc).
#[derive(Default)]
pub struct LiveReports {
    worker: Option<Worker>,
    /// The final render, made by [`LiveReports::render_final`] once the batch finished.
    pub final_render: Option<Result<RenderOutcome, ReportError>>,
    /// The end-of-run table for the terminal and how many runs saw their connection closed,
    /// made from what the final render read.
    pub final_table: Option<(String, usize)>,
    /// `--verbose`: say where the final render's results came from.
    pub verbose: bool,
    /// Runs finished since the next one started: the worker is told of them once the run stage
    /// waits again (see [`LiveReports::event`]).
    held: Vec<usize>,
    /// When runs were last handed over.
    handed_at: Option<Instant>,
    /// The finished batch's directory and, when they are the batch as on disk, the results
    /// kept while it ran: rendered by [`LiveReports::render_final`].
    pending: Option<(PathBuf, Option<BatchResults>)>,
}

/// The thread that reads each finished run and renders, and how to reach it.
struct Worker {
    runs: mpsc::Sender<usize>,
    /// Set when the batch ended with an error: what the thread has not done yet is left undone.
    ended: Arc<AtomicBool>,
    /// Set when the batch finished: the thread reads the runs it was told of, renders nothing.
    draining: Arc<AtomicBool>,
    /// What the thread holds, sent once it is told there are no more runs.
    done: mpsc::Receiver<Box<Live>>,
    /// Its writes: closed when it is left behind (see [`Worker::end`]).
    gate: Arc<WriteGate>,
    thread: std::thread::JoinHandle<()>,
}

impl Worker {
    fn start(dir: PathBuf) -> Option<Worker> {
        let (runs, rx) = mpsc::channel::<usize>();
        let (done_tx, done) = mpsc::channel::<Box<Live>>();
        let ended = Arc::new(AtomicBool::new(false));
        let draining = Arc::new(AtomicBool::new(false));
        let gate = Arc::new(WriteGate::default());
        let (stop, no_render, its_gate) = (ended.clone(), draining.clone(), gate.clone());
        let thread = std::thread::Builder::new()
            .name("live-reports".into())
            .spawn(move || {
                WriteGate::enter(&its_gate);
                // Compiled before the thread goes idle: the final render, made by the run
                // stage's thread when this one is left behind, would wait for the compile.
                report::prepare_templates();
                idle_priority();
                let mut live = Live {
                    dir,
                    results: None,
                    current: HashSet::new(),
                    // The first live render comes an interval after the start: a batch
                    // shorter than that renders once, at its end.
                    last_render: Instant::now(),
                    last_cost: Duration::ZERO,
                    renders: 0,
                    read_at_last_render: 0,
                };
                while let Ok(index) = rx.recv() {
                    // Runs that finished meanwhile are read first; one render covers them all.
                    let mut batch = vec![index];
                    batch.extend(rx.try_iter());
                    let warnings = live.after_runs(&batch, &stop, &no_render);
                    // Left behind, its writes failed on purpose: nothing to warn of.
                    if !stop.load(Ordering::SeqCst) {
                        for w in warnings {
                            say(&format!("warning: {w}"));
                        }
                    }
                }
                let _ = done_tx.send(Box::new(live));
            })
            .ok()?;
        Some(Worker { runs, ended, draining, done, gate, thread })
    }

    /// Tells the thread there are no more runs (`drain`: it reads those it was told of, else it
    /// stops at the next run) and waits for what it holds while it gets the CPU. At idle
    /// priority it gets next to none on a machine whose every CPU is busy (another job, a
    /// local server's threads), and an unprivileged thread cannot leave that class: left
    /// behind then, its gate is closed so that nothing it finishes late is written, and the
    /// caller reads the batch from disk itself.
    fn end(self, drain: bool) -> Ended {
        if drain {
            self.draining.store(true, Ordering::SeqCst);
        } else {
            self.ended.store(true, Ordering::SeqCst);
        }
        drop(self.runs);
        let cpu = ThreadCpu::of(&self.thread);
        let mut used = cpu.as_ref().and_then(ThreadCpu::used);
        loop {
            match self.done.recv_timeout(STARVED_AFTER) {
                Ok(live) => {
                    let _ = self.thread.join();
                    return Ended::Done(live);
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => return Ended::Gone,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let now = cpu.as_ref().and_then(ThreadCpu::used);
                    let progressing = match (used, now) {
                        (Some(a), Some(b)) => b.saturating_sub(a) * MIN_CPU_SHARE >= STARVED_AFTER,
                        // Its CPU time unknown: it is given one more period, then left.
                        _ => std::mem::take(&mut used).is_some(),
                    };
                    if !progressing {
                        self.ended.store(true, Ordering::SeqCst);
                        self.gate.close();
                        return Ended::LeftBehind;
                    }
                    used = now;
                }
            }
        }
    }
}

/// How a [`Worker`] ended.
enum Ended {
    /// It read every run it was told of: what it holds.
    Done(Box<Live>),
    /// It got too little CPU to finish soon: its gate is closed, it is let go.
    LeftBehind,
    /// It had died (a panic): nothing.
    Gone,
}

/// How long the batch's end waits for the worker before it checks that the worker got at least
/// 1/[`MIN_CPU_SHARE`] of a CPU meanwhile (else it is left behind: see [`Worker::end`]).
const STARVED_AFTER: Duration = Duration::from_millis(200);
const MIN_CPU_SHARE: u32 = 10;

/// The CPU time of another thread of this process (its clock).
struct ThreadCpu(libc::clockid_t);

impl ThreadCpu {
    fn of<T>(thread: &std::thread::JoinHandle<T>) -> Option<Self> {
        use std::os::unix::thread::JoinHandleExt;
        let mut clock: libc::clockid_t = 0;
        // SAFETY: the thread is not joined while the handle lives; the call only fills `clock`.
        let r = unsafe { libc::pthread_getcpuclockid(thread.as_pthread_t(), &raw mut clock) };
        (r == 0).then_some(ThreadCpu(clock))
    }

    fn used(&self) -> Option<Duration> {
        let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: clock_gettime fills a plain struct; a clock of a thread that ended fails.
        let r = unsafe { libc::clock_gettime(self.0, &raw mut t) };
        (r == 0).then(|| {
            Duration::new(
                u64::try_from(t.tv_sec).unwrap_or(0),
                u32::try_from(t.tv_nsec).unwrap_or(0),
            )
        })
    }
}

/// Gives what the heap holds free back to the system: the worker's copy of the batch's results,
/// dropped, before the final render reads the batch again (rather than staying in the heap).
fn trim_heap() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only returns free memory to the system.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Puts the calling thread in Linux's `SCHED_IDLE` class: it runs only on a CPU nothing else
/// wants. Woken by a run's end, the worker would otherwise preempt the run stage on its own CPU
/// (the scheduler favours a thread that slept) and delay the next run's start by its whole
/// read of the run (~0.4 ms a run measured here); and it never takes CPU from aiperf or a local
/// server while they measure. The reports lag when every CPU is busy; at the batch's end, when
/// nothing else runs, the final render waits for it to catch up. Where the call fails nothing
/// changes.
fn idle_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: sched_setscheduler on the calling thread (0) with a plain parameter struct;
    // lowering one's own class needs no privilege.
    unsafe {
        let param = libc::sched_param { sched_priority: 0 };
        libc::sched_setscheduler(0, libc::SCHED_IDLE, &param);
    }
}

/// What the worker keeps: the batch's results, read once and then one run at a time.
struct Live {
    dir: PathBuf,
    results: Option<BatchResults>,
    /// Combinations read (again) from disk after they ended: current in `results`.
    current: HashSet<usize>,
    last_render: Instant,
    /// How long the last render took: renders are spaced at least [`RENDER_SPACING`]x apart.
    last_cost: Duration,
    /// Renders made (`--verbose` says how many), and how many runs were read at the last.
    renders: usize,
    read_at_last_render: usize,
}

impl Live {
    fn after_runs(
        &mut self,
        indices: &[usize],
        ended: &AtomicBool,
        no_render: &AtomicBool,
    ) -> Vec<String> {
        let mut warnings = Vec::new();
        for &index in indices {
            if ended.load(Ordering::SeqCst) {
                return warnings;
            }
            let results = match &mut self.results {
                // A search's new probe is not in the batch read before: read it again.
                Some(r) if r.run_of(index).is_none() => match results::collect(&self.dir) {
                    Ok(fresh) => self.results.insert(fresh),
                    Err(e) => return vec![format!("failed to render reports: {e}")],
                },
                Some(r) => {
                    r.reload(index);
                    r
                }
                None => match results::collect(&self.dir) {
                    Ok(r) => self.results.insert(r),
                    Err(e) => return vec![format!("failed to render reports: {e}")],
                },
            };
            self.current.insert(index);
            if let Some(run) = results.run_of(index)
                && let Err(e) =
                    crate::tt::standard::write(run, &self.dir, results.tt_model_id.as_deref())
            {
                warnings.push(e.to_string());
            }
        }
        let due = !ended.load(Ordering::SeqCst)
            && !no_render.load(Ordering::SeqCst)
            && self.last_render.elapsed()
                >= MIN_RENDER_INTERVAL.max(self.last_cost * RENDER_SPACING);
        if due && let Some(results) = &self.results {
            let start = Instant::now();
            if let Err(e) = report::render_results(results, None) {
                warnings.push(format!("failed to render reports: {e}"));
            }
            self.last_cost = start.elapsed();
            self.last_render = Instant::now();
            self.renders += 1;
            self.read_at_last_render = self.current.len();
        }
        warnings
    }

    /// What it holds, when that is the batch as on disk now: every combination read again
    /// after it ended, the batch neither interrupted nor stopped, no record unwritten, no load
    /// search (whose probes change the plan); marked finished, as the final manifest is.
    fn into_current(self, summary: &Summary) -> Option<BatchResults> {
        let mut r = self.results?;
        let clean = !summary.interrupted
            && summary.stopped.is_none()
            && summary.record_errors == 0
            && r.load_search.is_none();
        let covered = r.combination_indices().all(|i| self.current.contains(&i));
        (clean && covered).then(|| {
            r.finished = true;
            r.interrupted = false;
            r
        })
    }
}

impl Drop for LiveReports {
    /// A batch that ends without its `BatchFinished` (an error) still lets the worker finish
    /// what it writes: no half-written report is left.
    fn drop(&mut self) {
        if let Some(w) = self.worker.take() {
            w.end(false);
        }
    }
}

impl Observer for LiveReports {
    /// A finished run is handed to the worker once the next run has started (its progress,
    /// at most every [`HAND_OVER_INTERVAL`]: runs shorter than that together) or a server is
    /// being started or checked (a wait that may be long): not in between, where the run stage
    /// writes the run's records and starts the next one. The worker's reading took the CPU and
    /// the allocator's lock (one arena) the run stage needs there: traced over 200 runs on the
    /// development VM, from one aiperf's exit to the next one's start 1.0 ms with it, 0.78 ms
    /// without (each file operation of that path took half). Nor after the last run: at the
    /// batch's end the last runs are read, not rendered, since the final render follows at
    /// once (handed over by the server's stop or the batch's end, a live render due then was
    /// made in full and thrown away: 35 of the 75 ms after a 1,000-run batch's last run).
    fn event(&mut self, e: Event<'_>) {
        match e {
            Event::RunFinished { c, .. } => return self.held.push(c.index),
            Event::RunProgress { .. }
                if self.handed_at.is_some_and(|t| t.elapsed() < HAND_OVER_INTERVAL) => {}
            Event::RunProgress { .. }
            | Event::ServerChecking { .. }
            | Event::ServerStarting { .. } => self.hand_over(),
            Event::BatchFinished { .. } => {
                if let Some(w) = &self.worker {
                    w.draining.store(true, Ordering::SeqCst);
                }
                self.hand_over();
            }
            _ => {}
        }
        match e {
            Event::BatchStarted { dir, .. } => {
                if let Some(w) = self.worker.take() {
                    w.end(false);
                }
                self.worker = Worker::start(dir.to_path_buf());
            }
            Event::BatchFinished { dir, summary } => {
                // The worker's copy is rendered when it is the whole batch; else it goes before
                // the batch is read again, so that the two are never in memory at once.
                let (live, left_behind) = match self.worker.take().map(|w| w.end(true)) {
                    Some(Ended::Done(l)) => (Some(*l), false),
                    Some(Ended::LeftBehind) => (None, true),
                    Some(Ended::Gone) | None => (None, false),
                };
                if self.verbose
                    && let Some(l) = &live
                {
                    say(&renders_line(l.renders, l.read_at_last_render));
                }
                if self.verbose && left_behind {
                    say("reports: the live reports fell behind (every CPU busy) and were left");
                }
                let current = live.and_then(|live| live.into_current(summary));
                if current.is_none() {
                    trim_heap();
                }
                if self.verbose {
                    say(if current.is_some() {
                        "reports: rendered from the results kept during the run (every run was read again after it ended)"
                    } else {
                        "reports: reading the batch from disk"
                    });
                }
                self.pending = Some((dir.to_path_buf(), current));
            }
            _ => {}
        }
    }
}

impl LiveReports {
    /// Renders the finished batch's reports (and the end-of-run table), once the caller has let
    /// go of what the run stage held (the plan): the render's memory is not added to it.
    pub fn render_final(&mut self) {
        if let Some((dir, current)) = self.pending.take() {
            let (rendered, table) = render_final(&dir, current);
            self.final_render = Some(rendered);
            self.final_table = table;
        }
    }

    /// Tells the worker of the runs held since they finished.
    fn hand_over(&mut self) {
        if let Some(w) = &self.worker
            && !self.held.is_empty()
        {
            self.handed_at = Some(Instant::now());
            for i in self.held.drain(..) {
                let _ = w.runs.send(i);
            }
        }
    }
}

/// `--verbose`: how often the reports were rendered while the batch ran.
fn renders_line(renders: usize, read_at_last: usize) -> String {
    match renders {
        0 => "reports: not rendered while the batch ran".to_owned(),
        n => format!(
            "reports: rendered {n} time{} while the batch ran, the last with {read_at_last} run{} read",
            if n == 1 { "" } else { "s" },
            if read_at_last == 1 { "" } else { "s" }
        ),
    }
}

/// Several observers, told in order.
pub struct Tee<'a>(pub Vec<&'a mut dyn Observer>);

impl Observer for Tee<'_> {
    fn event(&mut self, e: Event<'_>) {
        for o in &mut self.0 {
            o.event(e);
        }
    }
}

/// The reports at the end of a batch, exactly as `sweeper report` would render them: from
/// `current` (the live worker's results, when they are the batch as on disk), else from disk;
/// and the terminal's table of the points, from the same results.
fn render_final(
    dir: &Path,
    current: Option<BatchResults>,
) -> (Result<RenderOutcome, ReportError>, Option<(String, usize)>) {
    let then = |results: &BatchResults, report: &report::Report| {
        let table = crate::app::output::results_table(report, crate::app::output::use_color());
        (table, results.runs.iter().map(|r| r.connection_closed).sum())
    };
    match current {
        Some(results) => report::render_collected_then(results, then),
        None => report::render_batch_then(dir, None, then),
    }
}
