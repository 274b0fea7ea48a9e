//! The probes of a `search`: for each group in turn, the next value (`search::probe`), one
//! real run per probe, then the verdict the app's decider gives on it.

use tokio::sync::watch;

use super::Runner;
use super::batch::Batch;
use super::decide::Verdict;
use super::event::{Event, Observer};
use crate::records::{LoadSearch, SearchMode};
use crate::search::probe::{CONFIRM_RUNS, Tried, next_probe};

/// The index of run `rerun` (0: the first) at value `v` of group `g`: the one an earlier
/// session ran (or started) is reused (`true`). An index is a function of its group and rank,
/// so the probes of shards that search different groups never share one.
fn probe_index(
    batch: &Batch,
    planned: usize,
    ls: &LoadSearch,
    (g, v, rerun): (usize, f64, u32),
) -> (usize, bool) {
    let probes: Vec<(usize, crate::records::Probe)> =
        batch.probes().into_iter().filter(|(_, p)| p.group == g).collect();
    match probes.iter().find(|(_, p)| p.value == v && p.rerun == rerun) {
        Some((i, _)) => (*i, true),
        None => (planned + g * crate::search::probe::max_probes(ls.mode) + probes.len(), false),
    }
}

impl Runner<'_> {
    /// `search`: every group in turn (grouped by server), each probe a real run; the boundary
    /// (first failure, last pass) confirmed by re-runs before the answer is given.
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
            let mut tried = Tried::default();
            let mut runs = 0usize;
            'search: loop {
                while let Some(v) = next_probe(ls.mode, tried.pass(), tried.fail().map(|f| f.0)) {
                    if tried.has(v) {
                        break;
                    }
                    let Some(why) = self
                        .probe_run(
                            ls,
                            (g, v, 0),
                            &template,
                            batch,
                            (&mut pos, most),
                            interrupts,
                            obs,
                        )
                        .await
                    else {
                        break 'search;
                    };
                    runs += 1;
                    tried.add(v, why);
                }
                let Some((v, k)) = tried.to_confirm() else { break };
                if tried.confirmations().0 >= CONFIRM_RUNS {
                    break;
                }
                let Some(why) = self
                    .probe_run(ls, (g, v, k), &template, batch, (&mut pos, most), interrupts, obs)
                    .await
                else {
                    break;
                };
                runs += 1;
                tried.add(v, why);
            }
            let group = crate::records::describe_params(&template.params);
            let (confirmations, flips) = tried.confirmations();
            obs.event(Event::SearchFinished {
                group: &group,
                variable: &ls.variable,
                best: tried.pass(),
                first_fail: tried.fail(),
                runs,
                capped: matches!(ls.mode, SearchMode::Search { max, .. } if tried.pass().is_some_and(|p| p >= max)),
                confirmations,
                flips,
            });
        }
    }

    /// Runs probe `rerun` at value `v` of group `g` (or reuses an earlier session's), and
    /// judges it: `Some(None)` passed, `Some(Some(why))` failed, `None` stopped (interrupted, or
    /// its records could not be written).
    #[allow(clippy::too_many_arguments)]
    async fn probe_run(
        &mut self,
        ls: &LoadSearch,
        (g, v, rerun): (usize, f64, u32),
        template: &crate::plan::Combination,
        batch: &mut Batch,
        (pos, most): (&mut usize, usize),
        interrupts: &mut watch::Receiver<usize>,
        obs: &mut dyn Observer,
    ) -> Option<Option<String>> {
        if self.summary.stopped.is_some() || *interrupts.borrow() > 0 {
            self.notice_interrupt(obs);
            self.summary.interrupted |= *interrupts.borrow() > 0;
            return None;
        }
        let (index, known) = probe_index(batch, self.plan.combinations.len(), ls, (g, v, rerun));
        let mut c = crate::plan::probe(self.cfg, template, &ls.variable, v, index);
        if rerun > 0 {
            c.dir = format!("{}_rerun{rerun}", c.dir);
            if let Some(p) = c.probe.as_mut() {
                p.rerun = rerun;
            }
        }
        self.summary.total += 1;
        if !known && let Err(e) = batch.add_probe(&c) {
            self.record_failed(&e, obs);
            return None;
        }
        if batch.status(index).is_success() {
            self.summary.skipped += 1;
            obs.event(Event::RunSkipped { c: &c });
        } else {
            *pos += 1;
            obs.event(Event::RunQueued { c: &c, pos: *pos, of: most.max(*pos) });
            self.step(&c, (*pos, most.max(*pos)), batch, interrupts, obs).await;
            if *interrupts.borrow() > 0 {
                self.summary.interrupted = true;
                return None;
            }
        }
        Some(match self.decide.judge(&batch.dir, &c) {
            Verdict::Pass => None,
            Verdict::Fail(why) => Some(why),
        })
    }

    /// The re-runs the decider asks for (a ladder confirming its boundary), each a copy of a
    /// member of the plan in `<its dir>_rerun<k>`, reused when an earlier session ran it.
    pub(super) async fn reruns(
        &mut self,
        batch: &mut Batch,
        (pos, of): (usize, usize),
        interrupts: &mut watch::Receiver<usize>,
        obs: &mut dyn Observer,
    ) {
        while let Some(r) = self.decide.confirm() {
            if self.summary.stopped.is_some() || *interrupts.borrow() > 0 {
                return;
            }
            let known = batch
                .probes()
                .into_iter()
                .find(|(_, p)| p.group == r.group && p.value == r.value && p.rerun == r.rerun)
                .map(|(i, _)| i);
            let index = known
                .unwrap_or(self.plan.combinations.len() + r.of * CONFIRM_RUNS + r.rerun as usize);
            let Some(template) = self.plan.combinations.get(r.of) else { return };
            let mut c = template.clone();
            c.index = index;
            c.point = index;
            c.dir = format!("{}_rerun{}", c.dir, r.rerun);
            c.probe =
                Some(crate::records::Probe { group: r.group, value: r.value, rerun: r.rerun });
            self.summary.total += 1;
            if known.is_none()
                && let Err(e) = batch.add_probe(&c)
            {
                self.record_failed(&e, obs);
                return;
            }
            if batch.status(index).is_success() {
                self.summary.skipped += 1;
                obs.event(Event::RunSkipped { c: &c });
            } else {
                obs.event(Event::RunQueued { c: &c, pos, of });
                self.step(&c, (pos, of), batch, interrupts, obs).await;
            }
            self.decide.observe(&batch.dir, &c);
        }
    }
}
