//! The probes of a `search`: for each group in turn, the next value (`search::probe`), one
//! real run per probe, then the verdict the app's decider gives on it.

use tokio::sync::watch;

use super::Runner;
use super::batch::Batch;
use super::decide::Verdict;
use super::event::{Event, Observer};
use crate::records::{LoadSearch, SearchMode};

/// The index of probe `v` of group `g`: the one an earlier session ran (or started) is reused
/// (`true`). An index is a function of its group and rank, so the probes of shards that search
/// different groups never share one.
fn probe_index(batch: &Batch, planned: usize, ls: &LoadSearch, g: usize, v: f64) -> (usize, bool) {
    let probes: Vec<(usize, f64)> = batch
        .probes()
        .into_iter()
        .filter(|(_, p)| p.group == g)
        .map(|(i, p)| (i, p.value))
        .collect();
    match probes.iter().find(|(_, pv)| *pv == v) {
        Some((i, _)) => (*i, true),
        None => (planned + g * crate::search::probe::max_probes(ls.mode) + probes.len(), false),
    }
}

impl Runner<'_> {
    /// `search`: every group in turn (grouped by server), each probe a real run.
    pub(super) async fn search_all(
        &mut self,
        ls: &LoadSearch,
        batch: &mut Batch,
        interrupts: &mut watch::Receiver<usize>,
        obs: &mut dyn Observer,
    ) {
        let part = batch.plan_record.shard.clone();
        let order: Vec<usize> = self
            .plan
            .search_order()
            .into_iter()
            .filter(|g| part.as_ref().is_none_or(|s| s.searches(*g)))
            .collect();
        let most = crate::search::probe::max_probes(ls.mode) * order.len();
        let mut pos = 0usize;
        for g in order {
            if self.summary.stopped.is_some() || *interrupts.borrow() > 0 {
                break;
            }
            let template = self.plan.templates[g].clone();
            let (mut pass, mut fail): (Option<f64>, Option<(f64, String)>) = (None, None);
            let mut runs = 0usize;
            while let Some(v) =
                crate::search::probe::next_probe(ls.mode, pass, fail.as_ref().map(|(f, _)| *f))
            {
                if self.summary.stopped.is_some() || *interrupts.borrow() > 0 {
                    self.notice_interrupt(obs);
                    self.summary.interrupted |= *interrupts.borrow() > 0;
                    break;
                }
                let (index, known) = probe_index(batch, self.plan.combinations.len(), ls, g, v);
                let c = crate::plan::probe(self.cfg, &template, &ls.variable, v, index);
                self.summary.total += 1;
                if !known && let Err(e) = batch.add_probe(&c) {
                    self.record_failed(&e, obs);
                    break;
                }
                runs += 1;
                if batch.status(index).is_success() {
                    self.summary.skipped += 1;
                    obs.event(Event::RunSkipped { c: &c });
                } else {
                    pos += 1;
                    obs.event(Event::RunQueued { c: &c, pos, of: most.max(pos) });
                    self.step(&c, (pos, most.max(pos)), batch, interrupts, obs).await;
                    if *interrupts.borrow() > 0 {
                        self.summary.interrupted = true;
                        break;
                    }
                }
                match self.decide.judge(&batch.dir, &c) {
                    Verdict::Pass => pass = Some(v),
                    Verdict::Fail(why) => fail = Some((v, why)),
                }
            }
            let group = crate::records::describe_params(&template.params);
            obs.event(Event::SearchFinished {
                group: &group,
                variable: &ls.variable,
                best: pass,
                first_fail: fail.as_ref().map(|(v, w)| (*v, w.as_str())),
                runs,
                capped: matches!(ls.mode, SearchMode::Search { max, .. } if pass.is_some_and(|p| p >= max)),
            });
        }
    }
}
