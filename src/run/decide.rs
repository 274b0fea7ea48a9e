//! The decisions the run stage asks for and does not make itself: whether a run's artifacts
//! are usable, which ladder points a `stop_when` skips, and the verdict on a `search` probe.
//! The app supplies them (from `results` and `search`); the run stage only obeys.

use std::path::Path;

use crate::plan::Combination;
pub use crate::records::Artifacts;

/// Whether aiperf's output in a run directory is complete (a run succeeds only if it is),
/// given the run's `num_profile_runs` (which decides the layout aiperf writes).
pub type ArtifactCheck = fn(&Path, Option<u64>) -> Artifacts;

/// The verdict on one run of a load search.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Pass,
    /// It breaks an SLO, or failed: why.
    Fail(String),
}

/// What decides which runs happen.
pub trait Decider {
    /// Why combination `index` is not to be run (its ladder stopped), if it is not.
    fn stopped(&self, index: usize) -> Option<String>;
    /// Combination `c` is done (now, or by an earlier session): take its result into account.
    fn observe(&mut self, batch_dir: &Path, c: &Combination);
    /// The verdict on probe `c` of a `search`, from what is on disk.
    fn judge(&mut self, batch_dir: &Path, c: &Combination) -> Verdict;
    /// A re-run to make before going on (a ladder confirming its boundary), once asked.
    fn confirm(&mut self) -> Option<Rerun> {
        None
    }
}

/// A run to make again: a copy of combination `of`, run number `rerun` (1, 2) of its value in
/// ladder `group`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rerun {
    pub of: usize,
    pub group: usize,
    pub value: f64,
    pub rerun: u32,
}

/// No ladder, no search: every combination runs.
pub struct RunEverything;

impl Decider for RunEverything {
    fn stopped(&self, _: usize) -> Option<String> {
        None
    }
    fn observe(&mut self, _: &Path, _: &Combination) {}
    fn judge(&mut self, _: &Path, _: &Combination) -> Verdict {
        Verdict::Pass
    }
}
