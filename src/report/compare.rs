//! `sweeper compare A B`: match the points of two batches by parameters and judge each key
//! figure's change with its noise: Welch's t-test on the per-repeat values, and a regression only
//! when the change is both beyond `--threshold` in the bad direction and significant. Also what
//! differs in how the two batches were measured (provenance).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::{RenderError, template};
use crate::model::metrics::{Direction, Metric, Stat, figure_label};
use crate::model::options::canonical;
use crate::records::{self, Provenance};
use crate::results::{BatchResults, RunResult};
use crate::stats::confidence::DEFAULT_CONFIDENCE;
use crate::stats::gate::{Figure, Judged, gate, unusable};
use crate::stats::repeats;
use crate::util::number;

/// The figures compared, in table order (names, units and directions from the metric table).
pub const COMPARED: [(Metric, Stat); 8] = [
    (Metric::Ttft, Stat::Avg),
    (Metric::Ttft, Stat::P99),
    (Metric::Tpot, Stat::Avg),
    (Metric::Itl, Stat::Avg),
    (Metric::E2el, Stat::Avg),
    (Metric::E2el, Stat::P99),
    (Metric::OutputTokS, Stat::Avg),
    (Metric::ReqS, Stat::Avg),
];

/// `TTFT avg (ms)`, `Output Tok/s`: how a compared figure is labelled.
pub fn label_of(metric: Metric, stat: Stat) -> String {
    figure_label(metric, stat)
}

pub use crate::stats::gate::DEFAULT_THRESHOLD_PCT;

/// How to judge changes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CompareOptions {
    /// A regression (or improvement) needs a change beyond this, in percent.
    pub threshold_pct: f64,
    /// Confidence level of the test; `None`: the batches' own (their `repeats`), else 0.95.
    pub confidence: Option<f64>,
}

impl Default for CompareOptions {
    fn default() -> Self {
        CompareOptions { threshold_pct: DEFAULT_THRESHOLD_PCT, confidence: None }
    }
}

pub use crate::stats::gate::Verdict;

#[derive(Debug, Clone, Serialize)]
pub struct CompareRow {
    /// The point's parameters (`concurrency=4, isl=128`), `-` without parameters.
    pub combination: String,
    pub metric: String,
    /// Means (over repeats).
    pub a: Option<f64>,
    pub b: Option<f64>,
    /// Repeats with this figure on each side (1 for a point measured once).
    pub n_a: usize,
    pub n_b: usize,
    /// b - a.
    pub change: Option<f64>,
    /// (b - a) / a x 100.
    pub change_pct: Option<f64>,
    /// Confidence interval of b - a (Welch), with repeats on both sides.
    pub diff_ci_low: Option<f64>,
    pub diff_ci_high: Option<f64>,
    /// Welch's two-sided p-value.
    pub p: Option<f64>,
    /// `p` adjusted (Holm) for every test of the comparison: what the verdict uses.
    pub p_adjusted: Option<f64>,
    pub verdict: Verdict,
    /// `verdict` as text.
    pub verdict_text: &'static str,
}

/// One figure over the whole sweep: the matched points' mean change (as a ratio B/A), tested
/// across points, so that a small change at every point is seen.
#[derive(Debug, Clone, Serialize)]
pub struct PooledRow {
    pub metric: String,
    pub pooled: crate::stats::gate::Pooled,
    pub p_adjusted: f64,
    pub verdict: Verdict,
    pub verdict_text: &'static str,
}

/// One thing that differs in how the two batches were measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProvenanceDiff {
    pub what: String,
    pub a: String,
    pub b: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub a: String,
    pub b: String,
    pub threshold_pct: f64,
    pub confidence_pct: f64,
    pub rows: Vec<CompareRow>,
    /// Each figure over the whole sweep (with 2 or more matched points).
    pub pooled: Vec<PooledRow>,
    /// How many tests the adjustment covered, and which decided.
    pub tests: usize,
    pub decided_by: String,
    /// Points only in A / only in B, or without results on one side.
    pub only_a: Vec<String>,
    pub only_b: Vec<String>,
    pub no_results: Vec<String>,
    /// Differences in versions, hosts and servers: the comparison is not like for like.
    pub provenance: Vec<ProvenanceDiff>,
    /// What limits the comparison (no repeats on one side, a partial batch...).
    pub notes: Vec<String>,
    pub regressions: usize,
    pub improvements: usize,
    /// An A/B batch's comparison (`compare BATCH --by KEY`): which values A and B are.
    pub ab: Option<super::compare_by::AbSides>,
    /// $ per 1M output tokens of the matched points with a `cost` section on both sides.
    pub cost: Vec<super::cost::CostChange>,
}

/// Why two batches cannot be compared, or their comparison not rendered.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error(
        "no point of `{a}` matches a point of `{b}`: points are matched by their swept parameters\n  A has: {a_points}\n  B has: {b_points}"
    )]
    NothingInCommon { a: String, b: String, a_points: String, b_points: String },
    /// `compare.md` or `compare.csv` could not be rendered.
    #[error("failed to render `{file}`: {source}")]
    Render { file: &'static str, source: RenderError },
    /// No point has results on both sides: a gate that compared nothing must not pass.
    #[error("nothing was compared between `{a}` and `{b}`: {why}")]
    NothingCompared { a: String, b: String, why: String },
    /// Values no measurement gives (non-finite, beyond 1e100, negative): rejected, listed.
    #[error("unusable values, nothing judged:\n{list}")]
    Unusable { list: String },
    /// `compare BATCH --by KEY` with a key that does not split the batch in two or more.
    #[error("cannot compare `{batch}` by `{by}`: {why}")]
    By { batch: String, by: String, why: String, hint: String },
}

impl CompareError {
    /// What to try, when there is something to say.
    pub fn hint(&self) -> Option<String> {
        match self {
            CompareError::NothingInCommon { .. } => Some("compare two batches of the same sweep (or of sweeps that share points: the same parameter names and values)".into()),
            CompareError::Render { .. } => None,
            CompareError::NothingCompared { .. } => Some("compare batches whose points have results (`sweeper report` shows why runs failed); rerun the failed points with `--resume`".into()),
            CompareError::By { hint, .. } => Some(hint.clone()),
            CompareError::Unusable { .. } => Some("these exports were edited or damaged: rerun those points (or remove the repeat) before comparing".into()),
        }
    }
}

/// A point's matching key.
fn key(run: &RunResult) -> BTreeMap<String, String> {
    key_of(&run.params)
}

/// Parameters with canonical keys and display values: the matching key.
pub(super) fn key_of(params: &crate::records::Params) -> BTreeMap<String, String> {
    params
        .iter()
        .map(|(k, v)| {
            let v = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => {
                    n.as_f64().map(number::exact).unwrap_or_else(|| n.to_string())
                }
                other => other.to_string(),
            };
            (canonical(k), v)
        })
        .collect()
}

pub(super) fn label(k: &BTreeMap<String, String>) -> String {
    if k.is_empty() {
        return "-".into();
    }
    k.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")
}

/// A figure's per-repeat values (one value for a point measured once).
fn samples(run: &RunResult, metric: Metric, stat: Stat) -> Vec<f64> {
    if run.repeats.is_empty() {
        run.metrics.as_ref().and_then(|m| m.get(metric, stat)).into_iter().collect()
    } else {
        repeats::values(&run.repeats, metric, stat)
    }
}

/// The points of a batch with results, and how many were measured in repeats.
fn repeated(r: &BatchResults) -> (usize, usize) {
    let with = r.runs.iter().filter(|x| x.metrics.is_some()).count();
    let rep = r.runs.iter().filter(|x| x.spread.is_some()).count();
    (with, rep)
}

/// The points of a batch by their matching key.
type Points<'a> = BTreeMap<BTreeMap<String, String>, &'a RunResult>;

/// Compares two collected batches (points matched by their parameters).
pub fn compare(
    a: &BatchResults,
    b: &BatchResults,
    opts: &CompareOptions,
) -> Result<Comparison, CompareError> {
    let (ia, ib) = (points_of(a), points_of(b));
    if !ia.is_empty() && !ib.is_empty() && !ia.keys().any(|k| ib.contains_key(k)) {
        return Err(CompareError::NothingInCommon {
            a: a.batch_dir.display().to_string(),
            b: b.batch_dir.display().to_string(),
            a_points: point_list(&ia),
            b_points: point_list(&ib),
        });
    }
    let confidence = opts
        .confidence
        .or_else(|| a.repeats.or(b.repeats).map(|r| r.confidence))
        .unwrap_or(DEFAULT_CONFIDENCE);
    check_usable(&ia, &ib)?;
    let (rows, pooled, no_results, tests) = judge_all(&ia, &ib, (opts.threshold_pct, confidence));
    if rows.is_empty() {
        let why = if ia.keys().any(|k| ib.contains_key(k)) {
            format!("no point has results on both sides (without: {})", no_results.join("; "))
        } else {
            "one side has no points".to_owned()
        };
        return Err(CompareError::NothingCompared {
            a: a.batch_dir.display().to_string(),
            b: b.batch_dir.display().to_string(),
            why,
        });
    }
    let count = |v: Verdict| {
        rows.iter().filter(|r| r.verdict == v).count()
            + pooled.iter().filter(|p| p.verdict == v).count()
    };
    let (regressions, improvements) = (count(Verdict::Regression), count(Verdict::Improvement));
    let decided_by = decided_by(&rows, &pooled, tests);
    Ok(Comparison {
        a: a.batch_dir.display().to_string(),
        b: b.batch_dir.display().to_string(),
        threshold_pct: opts.threshold_pct,
        confidence_pct: confidence * 100.0,
        rows,
        pooled,
        tests,
        decided_by,
        only_a: ia.keys().filter(|k| !ib.contains_key(*k)).map(label).collect(),
        only_b: ib.keys().filter(|k| !ia.contains_key(*k)).map(label).collect(),
        no_results,
        provenance: provenance_diff(&a.batch_dir, &b.batch_dir)
            .into_iter()
            .chain(super::conditions::conditions_diff(a, b))
            .collect(),
        notes: notes(a, b),
        regressions,
        improvements,
        ab: None,
        cost: super::cost::changes(a, b, super::cost::matched(&ia, &ib, label).into_iter()),
    })
}

/// Every compared figure of the common points, checked for unusable values: listed with the
/// run directory they came from.
fn check_usable(ia: &Points<'_>, ib: &Points<'_>) -> Result<(), CompareError> {
    let mut list = Vec::new();
    for (k, ra) in ia {
        let Some(rb) = ib.get(k) else { continue };
        for (side, r) in [("A", ra), ("B", rb)] {
            for (metric, stat) in COMPARED {
                let mean = r.metrics.as_ref().and_then(|m| m.get(metric, stat));
                let bad: Vec<f64> = samples(r, metric, stat)
                    .into_iter()
                    .chain(mean)
                    .filter(|x| unusable(*x))
                    .collect();
                if let Some(x) = bad.first() {
                    list.push(format!(
                        "  {side} {} {}: {x:e} in `{}`",
                        label(k),
                        label_of(metric, stat),
                        r.dir
                    ));
                }
            }
        }
    }
    if list.is_empty() { Ok(()) } else { Err(CompareError::Unusable { list: list.join("\n") }) }
}

/// Planned points (their parameters) that match a point of `baseline`: none means a
/// `--baseline` comparison after the run could only fail, so it is said before the run.
pub fn check_common(
    baseline: &BatchResults,
    planned: &[&crate::records::Params],
    batch: &str,
) -> Result<(), CompareError> {
    let base = points_of(baseline);
    let keys: Vec<BTreeMap<String, String>> = planned.iter().map(|p| key_of(p)).collect();
    if base.is_empty() || keys.is_empty() || keys.iter().any(|k| base.contains_key(k)) {
        return Ok(());
    }
    let mut mine: Vec<String> = keys.iter().take(5).map(label).collect();
    if keys.len() > 5 {
        mine.push(format!("... ({} in all)", keys.len()));
    }
    Err(CompareError::NothingInCommon {
        a: baseline.batch_dir.display().to_string(),
        b: batch.to_owned(),
        a_points: point_list(&base),
        b_points: mine.join("; "),
    })
}

/// A batch's points by their matching key.
fn points_of(r: &BatchResults) -> Points<'_> {
    r.runs.iter().map(|run| (key(run), run)).collect()
}

/// The first five points' labels (and how many in all beyond five), for a message.
fn point_list(points: &Points<'_>) -> String {
    let mut v: Vec<String> = points.keys().take(5).map(label).collect();
    if points.len() > 5 {
        v.push(format!("... ({} in all)", points.len()));
    }
    v.join("; ")
}

/// A figure of a point on both sides: per-repeat values and means.
type FigureData = (Vec<f64>, Vec<f64>, Option<f64>, Option<f64>);

/// Every point with results on both sides judged by the gate ([`gate`]): the rows (one per
/// point and compared figure), each figure over the sweep, the labels of the points without
/// results on a side, and how many tests the adjustment covered. `opts`: (threshold in %,
/// confidence level).
fn judge_all(
    ia: &Points<'_>,
    ib: &Points<'_>,
    opts: (f64, f64),
) -> (Vec<CompareRow>, Vec<PooledRow>, Vec<String>, usize) {
    let mut common: Vec<(String, &RunResult, &RunResult)> = Vec::new();
    let mut no_results = Vec::new();
    for (k, ra) in ia {
        let Some(rb) = ib.get(k) else { continue };
        if ra.metrics.is_none() || rb.metrics.is_none() {
            no_results.push(label(k));
        } else {
            common.push((label(k), ra, rb));
        }
    }
    let data: Vec<Vec<FigureData>> = COMPARED
        .iter()
        .map(|&(m, st)| {
            let value = |r: &RunResult| r.metrics.as_ref().and_then(|v| v.get(m, st));
            common
                .iter()
                .map(|(_, ra, rb)| (samples(ra, m, st), samples(rb, m, st), value(ra), value(rb)))
                .collect()
        })
        .collect();
    let figures: Vec<Vec<Figure<'_>>> = data
        .iter()
        .zip(COMPARED)
        .map(|(d, (m, _))| {
            let lower_is_better = m.def().direction == Direction::LowerIsBetter;
            d.iter()
                .map(|(a, b, mean_a, mean_b)| Figure {
                    a,
                    b,
                    mean_a: *mean_a,
                    mean_b: *mean_b,
                    lower_is_better,
                })
                .collect()
        })
        .collect();
    let g = gate(&figures, opts.0, opts.1);
    let mut rows = Vec::new();
    for (p, (name, _, _)) in common.iter().enumerate() {
        for (f, (m, st)) in COMPARED.iter().enumerate() {
            rows.push(row(name, label_of(*m, *st), &data[f][p], &g.points[f][p]));
        }
    }
    let pooled = COMPARED
        .iter()
        .zip(&g.pooled)
        .filter_map(|((m, st), p)| {
            let p = p.as_ref()?;
            Some(PooledRow {
                metric: label_of(*m, *st),
                pooled: p.pooled,
                p_adjusted: p.p_adjusted,
                verdict: p.verdict,
                verdict_text: p.verdict.text(),
            })
        })
        .collect();
    (rows, pooled, no_results, g.tests)
}

/// One figure of one point, both sides with results, as the gate judged it.
fn row(combination: &str, metric: String, d: &FigureData, j: &Judged) -> CompareRow {
    let (sa, sb, va, vb) = d;
    let (va, vb) = (*va, *vb);
    let w = j.welch;
    CompareRow {
        combination: combination.to_owned(),
        metric,
        a: va,
        b: vb,
        n_a: sa.len(),
        n_b: sb.len(),
        change: va.zip(vb).map(|(x, y)| y - x),
        change_pct: va.zip(vb).filter(|(x, _)| *x != 0.0).map(|(x, y)| (y - x) / x.abs() * 100.0),
        diff_ci_low: w.map(|w| w.ci_low),
        diff_ci_high: w.map(|w| w.ci_high),
        p: w.map(|w| w.p),
        p_adjusted: j.p_adjusted,
        verdict: j.verdict,
        verdict_text: j.verdict.text(),
    }
}

/// Which tests decided the comparison, for its summary.
fn decided_by(rows: &[CompareRow], pooled: &[PooledRow], tests: usize) -> String {
    let count = |v: Verdict| {
        (
            rows.iter().filter(|r| r.verdict == v).count(),
            pooled.iter().filter(|p| p.verdict == v).count(),
        )
    };
    let (pr, sr) = count(Verdict::Regression);
    let (pi, si) = count(Verdict::Improvement);
    if tests == 0 {
        "no test was made: no point has repeats on both sides".to_owned()
    } else if pr + sr + pi + si == 0 {
        format!("no test of the {tests} is significant after Holm's adjustment")
    } else {
        format!(
            "after Holm's adjustment over {tests} tests: {pr} point and {sr} whole-sweep regression(s), {pi} point and {si} whole-sweep improvement(s)"
        )
    }
}

/// What limits the comparison: repeats on one side only or on neither, a partial batch.
fn notes(a: &BatchResults, b: &BatchResults) -> Vec<String> {
    let mut notes = Vec::new();
    let ((wa, ra_), (wb, rb_)) = (repeated(a), repeated(b));
    for (side, with, rep, other_rep) in [("A", wa, ra_, rb_), ("B", wb, rb_, ra_)] {
        if with > 0 && rep == 0 && other_rep > 0 {
            notes.push(format!(
                "{side} has no repeats (one run per point): no difference can be called significant, every verdict is `no repeats`; run it with `repeats:` to compare with noise"
            ));
        }
    }
    if ra_ == 0 && rb_ == 0 && wa > 0 && wb > 0 {
        notes.push("neither batch has repeats: changes are shown, but no verdict claims significance (`no repeats`); add `repeats: 3` to the config to get one".into());
    }
    for (side, r) in [("A", a), ("B", b)] {
        let not_run = r.runs.iter().filter(|x| x.metrics.is_none()).count();
        if !r.finished || r.interrupted || not_run > 0 {
            notes.push(format!(
                "{side} is partial ({not_run} of {} points without results{}): only the points with results on both sides are compared",
                r.runs.len(),
                if r.interrupted { ", interrupted" } else if !r.finished { ", not finished" } else { "" }
            ));
        }
    }
    notes
}

fn read_provenance(dir: &Path) -> Option<Provenance> {
    records::read_json(&dir.join(records::PROVENANCE_FILE)).ok()
}

/// What differs in how two batches were measured: versions, hosts, servers.
pub fn provenance_diff(a: &Path, b: &Path) -> Vec<ProvenanceDiff> {
    let (pa, pb) = (read_provenance(a), read_provenance(b));
    let mut out = Vec::new();
    let mut diff = |what: &str, x: String, y: String| {
        if x != y {
            out.push(ProvenanceDiff { what: what.into(), a: x, b: y });
        }
    };
    let (pa, pb) = match (pa, pb) {
        (Some(x), Some(y)) => (x, y),
        (x, y) => {
            let has = |p: &Option<Provenance>| {
                if p.is_some() { "recorded" } else { "not recorded (no provenance.json)" }
                    .to_owned()
            };
            diff("provenance", has(&x), has(&y));
            return out;
        }
    };
    diff("aiperf version", pa.aiperf_version.clone(), pb.aiperf_version.clone());
    diff("sweeper version", pa.sweeper_version.clone(), pb.sweeper_version.clone());
    let hosts = |p: &Provenance, f: &dyn Fn(&records::Host) -> String| {
        p.hosts.iter().map(f).collect::<Vec<_>>().join("; ")
    };
    diff("host", hosts(&pa, &|h| h.hostname.clone()), hosts(&pb, &|h| h.hostname.clone()));
    diff("CPUs", hosts(&pa, &|h| h.cpus.to_string()), hosts(&pb, &|h| h.cpus.to_string()));
    diff("kernel", hosts(&pa, &|h| h.kernel.clone()), hosts(&pb, &|h| h.kernel.clone()));
    let gpus = |h: &records::Host| {
        if h.gpus.is_empty() {
            "none".to_owned()
        } else {
            h.gpus
                .iter()
                .map(|g| format!("{} (driver {})", g.name, g.driver))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    diff("GPUs", hosts(&pa, &gpus), hosts(&pb, &gpus));
    let ids: Vec<&String> = pa.servers.keys().chain(pb.servers.keys()).collect();
    let mut seen = Vec::new();
    for id in ids {
        if seen.contains(&id) {
            continue;
        }
        seen.push(id);
        let (sa, sb) = (pa.servers.get(id), pb.servers.get(id));
        let field = |s: Option<&records::ServerIdentity>,
                     f: &dyn Fn(&records::ServerIdentity) -> String| {
            s.map_or_else(|| "-".to_owned(), f)
        };
        diff(&format!("{id} kind"), field(sa, &|s| s.kind.clone()), field(sb, &|s| s.kind.clone()));
        diff(
            &format!("{id} launch"),
            field(sa, &|s| s.launch.clone()),
            field(sb, &|s| s.launch.clone()),
        );
        diff(
            &format!("{id} models"),
            field(sa, &|s| s.models.join(", ")),
            field(sb, &|s| s.models.join(", ")),
        );
        diff(
            &format!("{id} /v1/models"),
            field(sa, &|s| s.served_models.join(", ")),
            field(sb, &|s| s.served_models.join(", ")),
        );
    }
    for (side, p) in [("A", &pa), ("B", &pb)] {
        for n in &p.notes {
            out.push(ProvenanceDiff {
                what: format!("{side} note"),
                a: String::new(),
                b: n.clone(),
            });
        }
    }
    out
}

/// The Markdown table (`templates/compare.md.j2`).
pub fn render_markdown(c: &Comparison) -> Result<String, CompareError> {
    template::render("compare.md.j2", c)
        .map_err(|e| CompareError::Render { file: "compare.md", source: e.into() })
}

/// The CSV, one row per (point, figure), then one per figure over the whole sweep
/// (`(whole sweep)`: n = matched points; change and CI in %).
pub fn render_csv(c: &Comparison) -> Result<Vec<u8>, CompareError> {
    const FILE: &str = "compare.csv";
    let err = |source| CompareError::Render {
        file: FILE,
        source: RenderError::Csv { file: FILE, source },
    };
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "combination",
        "metric",
        "a",
        "b",
        "n_a",
        "n_b",
        "change",
        "change_pct",
        "diff_ci_low",
        "diff_ci_high",
        "p_value",
        "p_adjusted",
        "verdict",
    ])
    .map_err(err)?;
    let cell = |v: Option<f64>| v.map(number::exact).unwrap_or_default();
    for r in &c.rows {
        w.write_record([
            r.combination.clone(),
            r.metric.clone(),
            cell(r.a),
            cell(r.b),
            r.n_a.to_string(),
            r.n_b.to_string(),
            cell(r.change),
            cell(r.change_pct),
            cell(r.diff_ci_low),
            cell(r.diff_ci_high),
            cell(r.p),
            cell(r.p_adjusted),
            r.verdict_text.to_string(),
        ])
        .map_err(err)?;
    }
    // The whole sweep: the change in %, its interval in %.
    for p in &c.pooled {
        let q = &p.pooled;
        w.write_record([
            "(whole sweep)".to_owned(),
            p.metric.clone(),
            String::new(),
            String::new(),
            q.points.to_string(),
            q.points.to_string(),
            String::new(),
            number::exact(q.change_pct),
            number::exact(q.ci_low_pct),
            number::exact(q.ci_high_pct),
            number::exact(q.p),
            number::exact(p.p_adjusted),
            p.verdict_text.to_string(),
        ])
        .map_err(err)?;
    }
    w.into_inner()
        .map_err(|e| CompareError::Render { file: FILE, source: RenderError::flush(FILE, e) })
}
