//! The reports of a running batch, kept current from the run stage's events by a worker
//! thread, so that the next run never waits for them: after each run only that run is read
//! again and its tt file written; the batch reports are rendered from memory when the last
//! render is old enough (the first one an interval after the start). When the batch finishes
//! the worker catches up and the final render uses what it holds when that is the whole batch
//! as on disk (every run read again after its end, nothing interrupted or skipped), else reads
//! the batch from disk.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use crate::app::output::say;
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
    thread: std::thread::JoinHandle<Live>,
}

impl Worker {
    fn start(dir: PathBuf) -> Option<Worker> {
        let (runs, rx) = mpsc::channel::<usize>();
        let ended = Arc::new(AtomicBool::new(false));
        let draining = Arc::new(AtomicBool::new(false));
        let (stop, no_render) = (ended.clone(), draining.clone());
        let thread = std::thread::Builder::new()
            .name("live-reports".into())
            .spawn(move || {
                batch_priority();
                report::prepare_templates();
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
                    for w in live.after_runs(&batch, &stop, &no_render) {
                        say(&format!("warning: {w}"));
                    }
                }
                live
            })
            .ok()?;
        Some(Worker { runs, ended, draining, thread })
    }

    /// Ends the thread once it has read every run it was told of, and returns what it holds.
    fn drain(self) -> Option<Live> {
        self.draining.store(true, Ordering::SeqCst);
        drop(self.runs);
        self.thread.join().ok()
    }

    /// Ends the thread and waits for it: what it is doing is finished, what it has not started
    /// is dropped (the final render does it all again).
    fn finish(self) {
        self.ended.store(true, Ordering::SeqCst);
        drop(self.runs);
        let _ = self.thread.join();
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

/// Puts the calling thread in Linux's `SCHED_BATCH` class: it keeps its fair share of the CPU,
/// but its wake-up never preempts the thread running on its CPU (the run stage, aiperf, a local
/// server); the scheduler's tick moves it in. Its work is a read of each finished run (~0.1-1
/// ms) and a render spaced at least [`RENDER_SPACING`] times its own cost apart: under 2% of a
/// CPU while aiperf measures. It ran at `SCHED_IDLE` (only on a CPU nothing else wants), which
/// on a machine whose every CPU was busy starved it while it held what the run stage needed
/// (a directory's lock, the one malloc arena's): 300 stub runs among three CPU burners took 5.4
/// s (median of 5) against 3.5-3.9 s with it at a fair share, and the batch's end waited for
/// it to read every run (15-60 s after 150 runs: `tests/busy_machine.rs`). On an idle machine
/// it costs about 1% (eight paired rounds of 1,000 stub runs against `SCHED_IDLE`: 1.003-1.019
/// the time, median 1.009): a run-stage wake-up on its CPU no longer preempts it at once. Where
/// the call fails nothing changes.
fn batch_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: sched_setscheduler on the calling thread (0) with a plain parameter struct;
    // entering SCHED_BATCH needs no privilege.
    unsafe {
        let param = libc::sched_param { sched_priority: 0 };
        libc::sched_setscheduler(0, libc::SCHED_BATCH, &raw const param);
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
            w.finish();
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
                    w.finish();
                }
                self.worker = Worker::start(dir.to_path_buf());
            }
            Event::BatchFinished { dir, summary } => {
                // The worker's copy is rendered when it is the whole batch; else it goes before
                // the batch is read again, so that the two are never in memory at once.
                let live = self.worker.take().and_then(Worker::drain);
                if self.verbose
                    && let Some(l) = &live
                {
                    say(&renders_line(l.renders, l.read_at_last_render));
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
