//! The reports of a running batch, kept current from the run stage's events: after each run
//! only that run is read again and its tt file written; the batch reports are rendered from
//! memory when the last render is old enough (the first one an interval after the start), and
//! from disk when the batch finishes.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::app::output::say;
use crate::report::{self, RenderOutcome, ReportError};
use crate::results::{self, BatchResults};
use crate::run::{Event, Observer};

/// Reports are rendered at most this often while a sweep runs (and always at its end).
const MIN_RENDER_INTERVAL: Duration = Duration::from_secs(2);
/// ... and at least this many times their own render time apart, so that rendering (which grows
/// with the batch) takes at most about 2% of the time: the cost per run does not grow with it.
const RENDER_SPACING: u32 = 50;

/// Keeps the reports of a running batch current: after every run, that run's results are read
/// (only that run), its standardized JSON written, and the batch reports rendered from memory
/// when the last render is old enough.
#[derive(Default)]
pub struct LiveReports {
    dir: Option<PathBuf>,
    results: Option<BatchResults>,
    last_render: Option<Instant>,
    /// How long the last render took: renders are spaced at least [`RENDER_SPACING`]x apart.
    last_cost: Duration,
    /// The final render, made when the batch finished.
    pub final_render: Option<Result<RenderOutcome, ReportError>>,
}

impl LiveReports {
    fn after_run(&mut self, index: usize) -> Vec<String> {
        let Some(dir) = self.dir.clone() else { return Vec::new() };
        let mut warnings = Vec::new();
        let results = match &mut self.results {
            // A search's new probe is not in the batch read before: read it again.
            Some(r) if r.run_of(index).is_none() => match results::collect(&dir) {
                Ok(fresh) => self.results.insert(fresh),
                Err(e) => return vec![format!("failed to render reports: {e}")],
            },
            Some(r) => {
                r.reload(index);
                r
            }
            None => match results::collect(&dir) {
                Ok(r) => self.results.insert(r),
                Err(e) => return vec![format!("failed to render reports: {e}")],
            },
        };
        if let Some(run) = results.run_of(index)
            && let Err(e) = crate::tt::standard::write(run, &dir, results.tt_model_id.as_deref())
        {
            warnings.push(e.to_string());
        }
        let due = self.last_render.is_none_or(|t| {
            t.elapsed() >= MIN_RENDER_INTERVAL.max(self.last_cost * RENDER_SPACING)
        });
        if due {
            let start = Instant::now();
            if let Err(e) = report::render_results(results, None) {
                warnings.push(format!("failed to render reports: {e}"));
            }
            self.last_cost = start.elapsed();
            self.last_render = Some(Instant::now());
        }
        warnings
    }
}

impl Observer for LiveReports {
    fn event(&mut self, e: Event<'_>) {
        match e {
            Event::BatchStarted { dir, .. } => {
                self.dir = Some(dir.to_path_buf());
                // The first live render comes an interval after the start: a batch shorter than
                // that renders once, at its end (a 1-run batch would otherwise render twice).
                self.last_render = Some(Instant::now());
            }
            Event::RunFinished { c, .. } => {
                for w in self.after_run(c.index) {
                    say(&format!("warning: {w}"));
                }
            }
            Event::BatchFinished { dir, .. } => {
                // The final render reads the batch again: the live copy goes first, so that the
                // two are never in memory at once.
                self.results = None;
                self.final_render = Some(render_final(dir));
            }
            _ => {}
        }
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

/// The reports at the end of a batch: rendered from disk, exactly as `sweeper report` would.
fn render_final(dir: &Path) -> Result<RenderOutcome, ReportError> {
    report::render_batch(dir, None)
}
