//! What the run stage tells its observer, in order: typed events. The run stage never prints and
//! never renders a report; `app` supplies an [`Observer`] that does both.

use std::path::Path;
use std::time::Duration;

use crate::plan::Combination;
use crate::records::RunStatus;

/// Counts of a whole batch, as the run stage saw it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Combinations in the plan.
    pub total: usize,
    /// Runs that succeeded (partial ones included).
    pub completed: usize,
    /// Completed runs in which some requests failed.
    pub partial: usize,
    pub failed: usize,
    /// Not run: already succeeded (`--resume`), or the sweep was interrupted first.
    pub skipped: usize,
    pub interrupted: bool,
    /// Records (`run_metadata.json`, `process_result.json`, the manifest) that could not be
    /// written: each makes its run failed, and the exit code non-zero.
    pub record_errors: usize,
    /// Why the batch stopped before its end (the disk is full), if it did.
    pub stopped: Option<String>,
}

/// One thing that happened.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// A line about setting up (the managed venv, the offline tokenizer).
    Setup(&'a str),
    /// The batch directory is ready (created, or reopened by `--resume`).
    BatchStarted {
        dir: &'a Path,
        resumed: bool,
        total: usize,
        to_run: usize,
    },
    /// Not run again: it succeeded in an earlier session (`--resume`).
    RunSkipped {
        c: &'a Combination,
    },
    /// The next combination to run: `pos` of `of` in this session.
    RunQueued {
        c: &'a Combination,
        pos: usize,
        of: usize,
    },
    /// Checking an external server's health.
    ServerChecking {
        id: &'a str,
        url: &'a str,
    },
    /// Starting a server (command secrets masked).
    ServerStarting {
        id: &'a str,
        kind: &'a str,
        command: &'a str,
    },
    ServerReady {
        id: &'a str,
        url: &'a str,
        after: Duration,
    },
    /// A server could not be started or reached; its combinations fail.
    ServerFailed {
        id: &'a str,
        reason: &'a str,
    },
    /// A combination fails without running because its server failed earlier.
    ServerUnavailable {
        c: &'a Combination,
        id: &'a str,
    },
    /// A server is being torn down in a way that can take a while (a Kubernetes deployment's
    /// delete, waited for): what is being done.
    ServerStopping {
        id: &'a str,
        what: &'a str,
    },
    ServerStopped {
        id: &'a str,
    },
    /// aiperf is starting for `c` (the command as recorded: secrets masked).
    RunStarted {
        c: &'a Combination,
        pos: usize,
        of: usize,
        command: &'a str,
    },
    /// About once a second while a run goes on.
    RunProgress {
        c: &'a Combination,
        pos: usize,
        of: usize,
        elapsed: Duration,
    },
    /// A line of aiperf's output (secrets masked), with `--verbose` only.
    AiperfOutput(&'a str),
    /// A run ended; its records are written (`dir` holds them).
    RunFinished {
        c: &'a Combination,
        status: RunStatus,
        reason: Option<&'a str>,
        duration: Duration,
        dir: &'a Path,
    },
    /// Not run: its ladder stopped at a smaller value (`stop_when`).
    RunStopped {
        c: &'a Combination,
        reason: &'a str,
    },
    /// A search of one group is done: the largest passing value and the first breach.
    SearchFinished {
        /// The group's other parameters (`server.max_num_seqs=8`), `-` without any.
        group: &'a str,
        variable: &'a str,
        best: Option<f64>,
        /// The smallest failing value and why.
        first_fail: Option<(f64, &'a str)>,
        runs: usize,
        /// `best` is the search's `max`: the limit is at least that.
        capped: bool,
        /// Re-runs that confirmed the boundary, and values whose verdict they changed.
        confirmations: usize,
        flips: usize,
    },
    /// Ctrl-C: the current run and the server are being stopped cleanly.
    Interrupted,
    /// Something that does not stop the batch but should be seen (a record that could not be
    /// written, ...).
    Warning(&'a str),
    /// Every run is done (or the batch was interrupted); the manifest is final.
    BatchFinished {
        dir: &'a Path,
        summary: &'a Summary,
    },
}

/// Receives the run stage's events.
pub trait Observer {
    fn event(&mut self, e: Event<'_>);
}

/// An observer that ignores everything (tests, benches).
impl Observer for () {
    fn event(&mut self, _: Event<'_>) {}
}
