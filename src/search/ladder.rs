//! Early stop and search: which point runs next, decided from the results of the ones before.
//! `stop_when` stops a ladder at its first breach (or saturation); `search` grows a probe
//! geometrically, then bisects (see [`crate::search::probe::next_probe`]). Both judge a run with
//! [`crate::search::verdict`] on its results as read from disk, so `--resume` replays the same decisions.

use std::collections::HashMap;

use crate::model::metrics::Metric;
use crate::records::{LoadSearch, SearchMode};
use crate::results::RunResult;
use crate::search::probe::{CONFIRM_RUNS, Tried};

pub use crate::search::verdict::{Judgement, judge};
use crate::util::number::exact as show;

/// The state of every ladder of a `stop_when`: which group each combination is in, and the
/// groups that stopped (with why).
#[derive(Debug, Default)]
pub struct Ladders {
    spec: Option<LoadSearch>,
    group_of: HashMap<usize, usize>,
    stopped: HashMap<usize, String>,
    /// Per group: the last passing value and its output tokens/s.
    last: HashMap<usize, (f64, f64)>,
    /// Per group: every value's runs (a boundary is confirmed by re-runs).
    tried: HashMap<usize, Tried>,
    /// Per group: the index of its member at each value (the combination a re-run copies).
    member_at: HashMap<usize, Vec<(f64, usize)>>,
    /// A re-run the ladder waits for: (member index, group, value, which run).
    pending: Option<(usize, usize, f64, u32)>,
    /// Per group: the last failing run's value and what the server showed then.
    server_at_fail: HashMap<usize, (f64, String)>,
}

impl Ladders {
    /// The ladders of a plan (none without `stop_when`).
    /// `value_of` gives a member's value of the dimension; with `confirm`, a failure is
    /// confirmed by re-running it (not with repeats: they already judge a point on several runs).
    pub fn new(
        ls: Option<&LoadSearch>,
        value_of: impl Fn(usize) -> Option<f64>,
        confirm: bool,
    ) -> Ladders {
        let Some(ls) = ls.filter(|l| matches!(l.mode, SearchMode::StopWhen { .. })) else {
            return Ladders::default();
        };
        let group_of =
            ls.groups.iter().flat_map(|g| g.members.iter().map(move |m| (*m, g.id))).collect();
        let member_at = if confirm {
            ls.groups
                .iter()
                .map(|g| {
                    (g.id, g.members.iter().filter_map(|m| Some((value_of(*m)?, *m))).collect())
                })
                .collect()
        } else {
            HashMap::new()
        };
        Ladders { spec: Some(ls.clone()), group_of, member_at, ..Ladders::default() }
    }

    /// Why combination `index` is not run (its ladder stopped), if it is not.
    pub fn stopped(&self, index: usize) -> Option<&str> {
        self.group_of.get(&index).and_then(|g| self.stopped.get(g)).map(String::as_str)
    }

    /// Takes the result of combination `index` (at `value` of the dimension) into account;
    /// `run` reads it, only when a ladder is waiting for it. `group` names the ladder of a
    /// re-run (`None`: a member of the plan). A failure stops the ladder once confirmed by a
    /// re-run (a third deciding when they disagree); then the last pass is confirmed too.
    pub fn observe(
        &mut self,
        index: usize,
        value: Option<f64>,
        group: Option<usize>,
        run: impl FnOnce() -> RunResult,
    ) {
        let Some(ls) = self.spec.clone() else { return };
        let Some(g) = group.or_else(|| self.group_of.get(&index).copied()) else { return };
        let Some(v) = value else { return };
        let rerun = group.is_some();
        if self.stopped.contains_key(&g) && !rerun {
            return;
        }
        let run = &run();
        let verdict = judge(&ls, run);
        if verdict != Judgement::Pass
            && let Some(e) = run.server.as_ref().and_then(crate::server_metrics::explain)
        {
            self.server_at_fail.insert(g, (v, e.line()));
        }
        let tried = self.tried.entry(g).or_default();
        tried.add(
            v,
            match &verdict {
                Judgement::Pass => None,
                Judgement::Fail(why) => Some(why.clone()),
            },
        );
        let tried = tried.clone();
        // A ladder confirms its boundary once it has one (a failure), not every pass.
        if tried.fail().is_some()
            && tried.confirmations().0 < CONFIRM_RUNS
            && let Some((x, k)) = tried.to_confirm()
            && let Some(of) = self.member_at(g, x)
        {
            self.pending = Some((of, g, x, k));
            return;
        }
        if let Some((f, why)) = tried.fail() {
            let at = show(f);
            let server = match self.server_at_fail.get(&g) {
                Some((x, e)) if *x == f => format!("; the server showed {e}"),
                _ => String::new(),
            };
            self.stopped
                .entry(g)
                .or_insert(format!("stopped: {why} at {} {at}{server}", ls.variable));
            return;
        }
        if !rerun {
            self.saturation(&ls, g, v, run);
        }
    }

    /// The member of ladder `g` at value `x`.
    fn member_at(&self, g: usize, x: f64) -> Option<usize> {
        self.member_at.get(&g)?.iter().find(|(v, _)| *v == x).map(|(_, i)| *i)
    }

    /// The re-run the ladders wait for, once: (member index to copy, group, value, which run).
    pub fn confirm(&mut self) -> Option<(usize, usize, f64, u32)> {
        self.pending.take()
    }

    /// `stop_when.saturation`: stops ladder `g` when output tok/s grew too little.
    fn saturation(&mut self, ls: &LoadSearch, g: usize, v: f64, run: &RunResult) {
        let SearchMode::StopWhen { saturation } = ls.mode else { return };
        let var = &ls.variable;
        let tput = run.metrics.as_ref().and_then(|m| m.value(Metric::OutputTokS));
        if let (Some(min_gain), Some(t), Some((pv, pt))) = (saturation, tput, self.last.get(&g)) {
            let gain = if *pt > 0.0 { t / pt - 1.0 } else { f64::INFINITY };
            if gain < min_gain {
                self.stopped.insert(
                    g,
                    format!(
                        "stopped: saturated, output tok/s grew {:.1}% (< {:.1}%) from {var} {} to {}",
                        gain * 100.0,
                        min_gain * 100.0,
                        show(*pv),
                        show(v)
                    ),
                );
                return;
            }
        }
        if let Some(t) = tput {
            self.last.insert(g, (v, t));
        }
    }
}
