//! Early stop and search: which point runs next, decided from the results of the ones before.
//! `stop_when` stops a ladder at its first breach (or saturation); `search` grows a probe
//! geometrically, then bisects (see [`crate::search::probe::next_probe`]). Both judge a run with
//! [`crate::search::verdict`] on its results as read from disk, so `--resume` replays the same decisions.

use std::collections::HashMap;

use crate::model::metrics::Metric;
use crate::records::{LoadSearch, SearchMode};
use crate::results::RunResult;

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
}

impl Ladders {
    /// The ladders of a plan (none without `stop_when`).
    pub fn new(ls: Option<&LoadSearch>) -> Ladders {
        let Some(ls) = ls.filter(|l| matches!(l.mode, SearchMode::StopWhen { .. })) else {
            return Ladders::default();
        };
        let group_of =
            ls.groups.iter().flat_map(|g| g.members.iter().map(move |m| (*m, g.id))).collect();
        Ladders { spec: Some(ls.clone()), group_of, ..Ladders::default() }
    }

    /// Why combination `index` is not run (its ladder stopped), if it is not.
    pub fn stopped(&self, index: usize) -> Option<&str> {
        self.group_of.get(&index).and_then(|g| self.stopped.get(g)).map(String::as_str)
    }

    /// Takes the result of combination `index` (at `value` of the dimension) into account;
    /// `run` reads it, only when a ladder is waiting for it.
    pub fn observe(&mut self, index: usize, value: Option<f64>, run: impl FnOnce() -> RunResult) {
        let (Some(ls), Some(&g)) = (&self.spec, self.group_of.get(&index)) else { return };
        if self.stopped.contains_key(&g) {
            return;
        }
        let run = &run();
        let var = &ls.variable;
        let at = value.map(show).unwrap_or_else(|| "?".into());
        if let Judgement::Fail(why) = judge(ls, run) {
            self.stopped.insert(g, format!("stopped: {why} at {var} {at}"));
            return;
        }
        let SearchMode::StopWhen { saturation } = ls.mode else { return };
        let tput = run.metrics.as_ref().and_then(|m| m.value(Metric::OutputTokS));
        if let (Some(min_gain), Some(t), Some((pv, pt))) = (saturation, tput, self.last.get(&g)) {
            let gain = if *pt > 0.0 { t / pt - 1.0 } else { f64::INFINITY };
            if gain < min_gain {
                self.stopped.insert(
                    g,
                    format!(
                        "stopped: saturated, output tok/s grew {:.1}% (< {:.1}%) from {var} {} to {at}",
                        gain * 100.0,
                        min_gain * 100.0,
                        show(*pv)
                    ),
                );
                return;
            }
        }
        if let (Some(v), Some(t)) = (value, tput) {
            self.last.insert(g, (v, t));
        }
    }
}
