//! The "Max load under SLO" section: for every group of a `search` or a `stop_when` ladder (the
//! points that differ only in the load), the highest value that meets every SLO, its figures,
//! the first value that breaks one (which, by how much), and the runs it took.

use std::collections::HashMap;

use serde::Serialize;

use crate::model::metrics::{Metric, Stat};
use crate::records::describe_params;
use crate::records::{LoadSearch, RunStatus, SearchGroup, SearchMode};
use crate::results::{BatchResults, RunResult};
use crate::search::probe::Tried;
use crate::search::verdict::{self, Judgement};

/// One group's answer.
#[derive(Debug, Clone, Serialize)]
pub struct MaxLoadRow {
    /// The group's other parameters (`server.max_num_seqs=8`), `-` without any.
    pub group: String,
    /// The highest value that meets every SLO (`None`: even the smallest breaks one).
    pub best: Option<f64>,
    /// Index of the run at `best`.
    pub best_index: Option<usize>,
    pub output_tok_s: Option<f64>,
    pub ttft_p99_ms: Option<f64>,
    pub itl_p99_ms: Option<f64>,
    pub tpot_p99_ms: Option<f64>,
    /// aiperf's goodput (requests/s) at `best`, when the runs measured it (`goodput` option).
    pub goodput: Option<f64>,
    /// The smallest value that breaks an SLO, and how.
    pub first_fail: Option<f64>,
    pub broke: Option<String>,
    /// Runs made for this group (probes, or ladder points that ran).
    pub runs: usize,
    /// Ladder points not run because the ladder stopped.
    pub skipped: usize,
    /// A passing value above a failing one: the SLO was not monotonic in the load.
    pub not_monotonic: bool,
    /// The answer is the search's `max` (or the ladder's top), with no breach found: the
    /// limit is at least this, not this.
    pub capped: bool,
    /// Re-runs that confirmed the boundary, and values whose verdict they changed.
    pub confirmations: usize,
    pub flips: usize,
    /// What the server showed at the first failing value, and what bounded it (its
    /// `/metrics`, when aiperf exported them): why the knee is where it is.
    pub server_at_breach: Option<String>,
    /// With a `cost` section: $ per 1M output tokens at `best`, and the hour's price.
    pub usd_per_1m_output: Option<f64>,
    pub usd_per_hour: Option<f64>,
}

/// A run that a ladder's early stop skipped.
#[derive(Debug, Clone, Serialize)]
pub struct Stopped {
    pub index: usize,
    pub point: String,
    pub reason: String,
}

/// The section.
#[derive(Debug, Clone, Serialize)]
pub struct MaxLoad {
    /// `concurrency`, `request_rate`...
    pub variable: String,
    /// `search` or `stop_when`.
    pub mode: &'static str,
    /// `ttft_p99_ms <= 2000, error_rate <= 0.01`.
    pub slo: String,
    /// `mean` or `ci_upper`.
    pub slo_on: &'static str,
    pub rows: Vec<MaxLoadRow>,
    pub stopped: Vec<Stopped>,
    /// (index, passed) of every judged run, for the charts.
    pub judged: Vec<(usize, bool)>,
}

fn value(ls: &LoadSearch, run: &RunResult) -> Option<f64> {
    if let Some(p) = run.probe {
        return Some(p.value);
    }
    let want = crate::model::options::canonical(&ls.variable);
    run.params
        .iter()
        .find(|(k, _)| crate::model::options::canonical(k) == want)
        .and_then(|(_, v)| v.as_f64())
}

/// A judged run of a group: its value of the load variable, the run, and the verdict.
type Judged<'a> = (f64, &'a RunResult, Judgement);

/// The section of a batch with a load search (`None` without one).
pub fn build(results: &BatchResults) -> Option<MaxLoad> {
    let ls = results.load_search.as_ref()?;
    let by_index: HashMap<usize, &RunResult> = results.runs.iter().map(|r| (r.index, r)).collect();
    let mut rows = Vec::new();
    let mut judged = Vec::new();
    for g in &ls.groups {
        let members = members_of(ls, g, results, &by_index);
        let (mut row, verdicts) = group_row(ls, g, &members);
        if let Some(r) = row.best_index.and_then(|i| by_index.get(&i))
            && let Some(b) = crate::cost::spec::basis_of(results.cost.as_ref(), &r.params)
        {
            row.usd_per_hour = Some(b.usd_per_hour);
            row.usd_per_1m_output = row
                .output_tok_s
                .and_then(|t| crate::cost::figures::usd_per_million(b.usd_per_hour, t));
        }
        judged.extend(verdicts);
        rows.push(row);
    }
    Some(MaxLoad {
        variable: ls.variable.clone(),
        mode: match ls.mode {
            SearchMode::Search { .. } => "search",
            SearchMode::StopWhen { .. } => "stop_when",
        },
        slo: ls.slo.iter().map(|(k, v)| format!("{k} <= {v}")).collect::<Vec<_>>().join(", "),
        slo_on: match ls.slo_on {
            verdict::SloOn::Mean => "mean",
            verdict::SloOn::CiUpper => "ci_upper",
        },
        rows,
        stopped: stopped(results),
        judged,
    })
}

/// The runs of a group: a search's probes, or a ladder's planned points.
fn members_of<'a>(
    ls: &LoadSearch,
    g: &SearchGroup,
    results: &'a BatchResults,
    by_index: &HashMap<usize, &'a RunResult>,
) -> Vec<&'a RunResult> {
    match ls.mode {
        SearchMode::Search { .. } => {
            results.runs.iter().filter(|r| r.probe.is_some_and(|p| p.group == g.id)).collect()
        }
        SearchMode::StopWhen { .. } => g
            .members
            .iter()
            .filter_map(|i| by_index.get(i).copied())
            .chain(results.runs.iter().filter(|r| r.probe.is_some_and(|p| p.group == g.id)))
            .collect(),
    }
}

/// A group's answer from its runs, and (index, passed) of each run judged, by increasing value.
/// `v` is the most the search could try (`max`), or the top of the ladder.
fn at_top(ls: &LoadSearch, members: &[&RunResult], v: f64) -> bool {
    match ls.mode {
        SearchMode::Search { max, .. } => v >= max,
        SearchMode::StopWhen { .. } => members.iter().filter_map(|r| value(ls, r)).all(|x| x <= v),
    }
}

/// One group's answer from its runs: each value's verdict is its runs' (a boundary confirmed by
/// a re-run, a third deciding: [`Tried`]); the answer is the largest passing value below the
/// smallest failing one.
fn group_row(
    ls: &LoadSearch,
    g: &SearchGroup,
    members: &[&RunResult],
) -> (MaxLoadRow, Vec<(usize, bool)>) {
    let ran: Vec<&RunResult> = members
        .iter()
        .copied()
        .filter(|r| {
            !matches!(r.status, RunStatus::Pending | RunStatus::Skipped | RunStatus::Running)
        })
        .collect();
    let mut verdicts: Vec<Judged<'_>> =
        ran.iter().filter_map(|r| Some((value(ls, r)?, *r, verdict::judge(ls, r)))).collect();
    // In value order, each value's runs in the order they ran (first run, re-runs).
    verdicts.sort_by(|a, b| a.0.total_cmp(&b.0).then(rerun(a.1).cmp(&rerun(b.1))));
    let judged = verdicts.iter().map(|(_, r, j)| (r.index, *j == Judgement::Pass)).collect();
    let mut tried = Tried::default();
    for (v, _, j) in &verdicts {
        tried.add(
            *v,
            match j {
                Judgement::Pass => None,
                Judgement::Fail(why) => Some(why.clone()),
            },
        );
    }
    let at = |x: f64, pass: bool| {
        verdicts.iter().rev().find(|(v, _, j)| *v == x && (*j == Judgement::Pass) == pass)
    };
    let best = tried.pass().and_then(|b| at(b, true));
    let first_fail = tried.fail().and_then(|(f, _)| at(f, false));
    // A value above the first failure passed: the SLO was not monotonic in the load.
    let not_monotonic = tried.fail().is_some_and(|(f, _)| {
        verdicts.iter().any(|(v, _, _)| *v > f && tried.passed(*v) == Some(true))
    });
    let (confirmations, flips) = tried.confirmations();
    let m = best.and_then(|(_, r, _)| r.metrics.clone());
    let row = MaxLoadRow {
        group: describe_params(&g.params),
        best: best.map(|(v, _, _)| *v),
        best_index: best.map(|(_, r, _)| r.index),
        output_tok_s: m.as_ref().and_then(|m| m.value(Metric::OutputTokS)),
        ttft_p99_ms: m.as_ref().and_then(|m| m.get(Metric::Ttft, Stat::P99)),
        itl_p99_ms: m.as_ref().and_then(|m| m.get(Metric::Itl, Stat::P99)),
        tpot_p99_ms: m.as_ref().and_then(|m| m.get(Metric::Tpot, Stat::P99)),
        goodput: best.and_then(|(_, r, _)| r.aggregate.as_ref().and_then(|a| a.avg("goodput"))),
        first_fail: first_fail.map(|(v, _, _)| *v),
        broke: first_fail.map(|(_, r, j)| broke(ls, r, j)),
        runs: ran.len(),
        skipped: members.iter().filter(|r| r.status == RunStatus::Skipped).count(),
        not_monotonic,
        capped: first_fail.is_none() && best.is_some_and(|(v, _, _)| at_top(ls, members, *v)),
        confirmations,
        flips,
        server_at_breach: first_fail
            .and_then(|(_, r, _)| r.server.as_ref())
            .and_then(crate::server_metrics::explain)
            .map(|e| e.line()),
        usd_per_1m_output: None,
        usd_per_hour: None,
    };
    (row, judged)
}

/// Which run of its value a run is (0: the first, 1 and 2: re-runs confirming a boundary).
fn rerun(r: &RunResult) -> u32 {
    r.probe.map_or(0, |p| p.rerun)
}

/// How the first failing run broke the SLO: each breach and by how much, else why it failed.
fn broke(ls: &LoadSearch, r: &RunResult, j: &Judgement) -> String {
    let detail = if r.status.is_success() {
        verdict::breaches(r, &ls.slo, ls.slo_on)
            .iter()
            .map(|b| match b.over_pct() {
                Some(p) => format!("{} (+{:.0}%)", b.describe(), p),
                None => b.describe(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    } else {
        String::new()
    };
    match j {
        Judgement::Fail(why) if detail.is_empty() => why.clone(),
        _ => detail,
    }
}

/// The runs a ladder's early stop skipped.
fn stopped(results: &BatchResults) -> Vec<Stopped> {
    results
        .runs
        .iter()
        .filter(|r| r.status == RunStatus::Skipped)
        .filter_map(|r| {
            let reason = r.reason.as_deref()?;
            reason.starts_with("stopped:").then(|| Stopped {
                index: r.index,
                point: describe_params(&r.params),
                reason: reason.to_owned(),
            })
        })
        .collect()
}
