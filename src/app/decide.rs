//! The run stage's decisions, made here from what `results` reads and the `search` room's
//! rules: a `stop_when` ladder's early stop and the verdict on a `search` probe.

use std::path::Path;

use crate::plan::{Combination, Plan};
use crate::results::{RunResult, read_one};
use crate::run::decide::{Decider, Rerun, Verdict};
use crate::search::ladder::Ladders;
use crate::search::verdict::{Judgement, judge};

/// The decisions of one plan's load search (none without `stop_when`/`search`).
pub struct SearchDecisions<'a> {
    plan: &'a Plan,
    ladders: Ladders,
}

impl<'a> SearchDecisions<'a> {
    pub fn new(plan: &'a Plan) -> SearchDecisions<'a> {
        let var = plan.load_search.as_ref().map(|l| l.variable.clone()).unwrap_or_default();
        let value_of = |i: usize| {
            plan.combinations.get(i).and_then(|c| c.get(&var)).and_then(serde_json::Value::as_f64)
        };
        let ladders = Ladders::new(plan.load_search.as_ref(), value_of, plan.repeats.is_none());
        SearchDecisions { plan, ladders }
    }
}

/// The results of combination `c` as they are on disk now.
fn read(plan: &Plan, batch_dir: &Path, c: &Combination) -> RunResult {
    read_one(batch_dir, c.index, &c.dir, &c.params, &c.merged, plan.repeats.as_ref())
}

impl Decider for SearchDecisions<'_> {
    fn stopped(&self, index: usize) -> Option<String> {
        self.ladders.stopped(index).map(str::to_owned)
    }

    fn observe(&mut self, batch_dir: &Path, c: &Combination) {
        let Some(ls) = &self.plan.load_search else { return };
        let value = c.get(&ls.variable).and_then(serde_json::Value::as_f64);
        let plan = self.plan;
        let group = c.probe.filter(|p| p.rerun > 0).map(|p| p.group);
        self.ladders.observe(c.index, value, group, || read(plan, batch_dir, c));
    }

    fn confirm(&mut self) -> Option<Rerun> {
        self.ladders.confirm().map(|(of, group, value, rerun)| Rerun { of, group, value, rerun })
    }

    fn judge(&mut self, batch_dir: &Path, c: &Combination) -> Verdict {
        let Some(ls) = &self.plan.load_search else { return Verdict::Pass };
        match judge(ls, &read(self.plan, batch_dir, c)) {
            Judgement::Pass => Verdict::Pass,
            Judgement::Fail(why) => Verdict::Fail(why),
        }
    }
}
