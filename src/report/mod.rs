//! Render reports (Markdown, CSV, JSON, HTML with inline SVG charts) of a batch directory, check
//! targets, and compare two batches.
//!
//! [`render_batch`] is what the run stage calls after every finished run: it reads only the batch
//! directory, so a crash loses nothing and `sweeper report <dir>` gives the same files later.

pub mod compare;
pub mod compare_by;
pub mod conditions;
pub mod cost;
pub mod csv;
mod error;
pub mod html;
pub mod json;
pub mod markdown;
mod render;
mod row_fields;
pub mod server;
pub mod svg;
pub mod targets;
mod template;
pub use render::{
    render_batch, render_batch_then, render_batch_to, render_collected_then, render_results,
    render_results_to,
};
pub use template::prepare as prepare_templates;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::Serialize;
use serde_json::Value;

use crate::model::metrics::{KEY_FIGURES, Metric, Shape, Stat, figure_label};
use crate::model::options::canonical;
use crate::records::{self, RunStatus};
use crate::results::{self, BatchResults, KeyMetrics, LoadPoint};
use crate::stats::repeats::{DEFAULT_NOISE_CV_MAX, Spreads};
use crate::tt::reference::{Point, Reference};
use targets::TargetResult;

pub use error::{RenderError, ReportError};
pub use template::TemplateError;

/// Version of `summary.json`; bump on an incompatible change.
pub const SUMMARY_FORMAT_VERSION: u32 = 1;

pub const REPORT_MD_FILE: &str = "report.md";
pub const SUMMARY_CSV_FILE: &str = "summary.csv";
pub const SUMMARY_JSON_FILE: &str = "summary.json";
pub const REPORT_HTML_FILE: &str = "report.html";

/// The metric columns of the performance table: tt-inference-server's detailed table (TTFT,
/// TPOT, E2EL avg/p50/p99, output and total tokens/s, requests/s) plus ITL avg/p99.
pub const PERFORMANCE_COLUMNS: [(Metric, Stat); 14] = [
    (Metric::Ttft, Stat::Avg),
    (Metric::Ttft, Stat::P50),
    (Metric::Ttft, Stat::P99),
    (Metric::Tpot, Stat::Avg),
    (Metric::Tpot, Stat::P50),
    (Metric::Tpot, Stat::P99),
    (Metric::Itl, Stat::Avg),
    (Metric::Itl, Stat::P99),
    (Metric::E2el, Stat::Avg),
    (Metric::E2el, Stat::P50),
    (Metric::E2el, Stat::P99),
    (Metric::OutputTokS, Stat::Avg),
    (Metric::TotalTokS, Stat::Avg),
    (Metric::ReqS, Stat::Avg),
];

/// A column of the performance table as the templates show it.
#[derive(Debug, Clone, Serialize)]
pub struct Column {
    /// `TTFT Avg (ms)`, `Output Tok/s`.
    pub header: String,
    /// Without the unit (`TTFT Avg`), for the HTML table whose caption gives the unit.
    pub short: String,
    /// Decimals shown.
    pub digits: usize,
}

/// Whether any row has targets to check: the templates' Targets section, decided here so a
/// template walks the rows (each made into a template value as it is reached) once, not twice.
pub fn any_targets(report: &Report) -> bool {
    report.rows.iter().any(|r| !r.targets.is_empty())
}

/// The performance table: its columns, and per row (in `report.rows` order) one cell each.
pub fn performance_table(report: &Report) -> (Vec<Column>, template::Lazy<Vec<Option<f64>>>) {
    let columns = PERFORMANCE_COLUMNS
        .iter()
        .map(|(m, s)| {
            let d = m.def();
            match d.shape {
                Shape::Distribution => Column {
                    header: format!("{} {} ({})", d.display, s.label(), d.unit),
                    short: format!("{} {}", d.display, s.label()),
                    digits: 1,
                },
                Shape::Scalar => {
                    Column { header: d.display.to_owned(), short: d.display.to_owned(), digits: 2 }
                }
            }
        })
        .collect();
    let cells = report
        .rows
        .iter()
        .map(|r| {
            PERFORMANCE_COLUMNS
                .iter()
                .map(|(m, s)| r.metrics.as_ref().and_then(|v| v.get(*m, *s)))
                .collect()
        })
        .collect::<Vec<Vec<Option<f64>>>>();
    (columns, cells.into())
}

/// What [`render_batch`] did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RenderOutcome {
    /// Target checks that failed, over every combination.
    pub target_fails: usize,
    pub target_passes: usize,
    /// Every file written (reports, then the per-run standardized JSON files).
    pub files_written: Vec<PathBuf>,
    /// Combinations in the batch, and those that failed (failed, timed out, interrupted).
    pub combinations: usize,
    pub failed_runs: usize,
    /// Non-fatal problems (unreadable artifacts of a run, unknown schema versions...).
    pub warnings: Vec<String>,
}

/// One combination as every report shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub index: usize,
    pub dir: String,
    pub status: String,
    /// Parameters, values as display strings (strings unquoted).
    pub params: records::SortedMap<String>,
    pub load: LoadPoint,
    pub metrics: Option<std::sync::Arc<KeyMetrics>>,
    pub targets: Vec<TargetResult>,
    /// The point did not measure the requested input or output length.
    pub length_mismatches: Vec<results::LengthMismatch>,
    /// Repeats with results (0 for a point measured once); `metrics` are then their means.
    pub repeats: usize,
    /// Every figure's spread across the repeats (`ttft_avg_ms: {mean, ci_low, ci_high, cv...}`).
    pub spread: Option<crate::stats::repeats::Spreads>,
    /// What the server's `/metrics` showed (aiperf's server-metrics export), when it was read.
    pub server: Option<crate::server_metrics::ServerSummary>,
    /// $ per 1M tokens and tokens/s per GPU, with a `cost` section.
    pub cost: Option<crate::cost::CostFigures>,
}

/// A key figure's confidence interval, as the Uncertainty table shows it.
#[derive(Debug, Clone, Serialize)]
pub struct CiCell {
    pub mean: f64,
    /// Half the interval's width (the interval is mean -+ half).
    pub half: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    /// Coefficient of variation across repeats, in percent.
    pub cv_pct: Option<f64>,
}

/// One point of the Uncertainty table.
#[derive(Debug, Clone, Serialize)]
pub struct UncertaintyRow {
    pub index: usize,
    /// `concurrency=4 isl=128` (or `-`).
    pub point: String,
    pub repeats: usize,
    /// One per key figure (`None` without 2 repeats with it).
    pub cells: Vec<Option<CiCell>>,
}

/// The key figures of every repeated point with their confidence intervals.
#[derive(Debug, Clone, Serialize)]
pub struct Uncertainty {
    /// In percent (95).
    pub confidence_pct: f64,
    /// Labels of the key figures, in column order.
    pub columns: Vec<String>,
    pub rows: Vec<UncertaintyRow>,
}

/// A point whose key figures vary across repeats more than `noise_cv_max`.
#[derive(Debug, Clone, Serialize)]
pub struct NoiseRow {
    pub index: usize,
    pub point: String,
    pub figures: Vec<crate::stats::repeats::Noisy>,
    /// In percent.
    pub cv_max_pct: f64,
}

/// What to try about a noisy point.
pub const NOISE_HINT: &str = "more requests per point (`request_count`, `benchmark_duration`), more repeats, or a quieter machine (nothing else running on the server or the client)";

/// A point whose measured mean input or output length is off the requested one.
#[derive(Debug, Clone, Serialize)]
pub struct LengthWarning {
    pub index: usize,
    pub dir: String,
    /// `concurrency=4 isl=128` (or `-`).
    pub point: String,
    /// `output` or `input`.
    pub which: &'static str,
    pub requested: f64,
    pub measured: f64,
    /// Percent off (+ when longer).
    pub off_by_pct: f64,
    pub hint: &'static str,
}

/// A point with results that tt-inference-server cannot represent: sweeper writes no tt file
/// for it.
#[derive(Debug, Clone, Serialize)]
pub struct TtSkip {
    pub index: usize,
    pub dir: String,
    /// `request_rate=5` (or `-`).
    pub point: String,
    pub reason: String,
}

/// A combination that did not succeed, or whose files could not be read.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub index: usize,
    pub dir: String,
    pub status: String,
    pub reason: String,
    /// Request errors by type (`Internal Server Error (500): 5`).
    pub errors: Vec<String>,
    /// Unreadable files, with file:line.
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    pub total: usize,
    pub succeeded: usize,
    pub partial: usize,
    pub failed: usize,
    pub not_run: usize,
}

/// The view model of every report, also `summary.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub format_version: u32,
    pub batch_name: String,
    pub batch_dir: String,
    pub generated_at: String,
    pub finished: bool,
    pub interrupted: bool,
    /// Every parameter key, sorted.
    pub param_keys: Vec<String>,
    /// Parameter keys shown as extra columns next to ISL/OSL/Concur/N (those four excluded).
    pub extra_keys: Vec<String>,
    pub counts: Counts,
    pub target_passes: usize,
    pub target_fails: usize,
    pub rows: template::Lazy<Row>,
    pub failures: Vec<Failure>,
    /// Points that did not measure what was asked (see [`LengthWarning`]).
    pub length_warnings: Vec<LengthWarning>,
    /// Points with results but no tt-inference-server file (see [`TtSkip`]).
    pub tt_skipped: Vec<TtSkip>,
    /// Present when a point was measured in repeats.
    pub uncertainty: Option<Uncertainty>,
    /// Points noisier than `noise_cv_max` across repeats.
    pub noise: Vec<NoiseRow>,
    /// With `stop_when` or `search`: the highest load under the SLO, per group.
    pub max_load: Option<crate::search::max_load::MaxLoad>,
    /// What the server showed at each point (its `/metrics`, read from aiperf's export).
    pub server: Option<server::ServerTable>,
    /// With a `cost` section: each point's $ per 1M tokens.
    pub cost: Option<cost::CostTable>,
    pub noise_hint: &'static str,
    pub warnings: Vec<String>,
}

fn display(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn status_name(s: RunStatus) -> String {
    serde_json::to_value(s).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

impl Report {
    /// Builds the view model; `extra` adds the checks of a reference file.
    pub fn build(results: &BatchResults, extra: Option<&ExtraTargets>) -> Report {
        let param_keys = param_keys(results);
        let extra_keys = extra_keys(&param_keys);
        let cv_max_pct = results.repeats.map_or(DEFAULT_NOISE_CV_MAX, |r| r.noise_cv_max) * 100.0;
        let mut counts = Counts { total: results.runs.len(), ..Counts::default() };
        let (mut rows, mut failures, mut tt_skipped) = (Vec::new(), Vec::new(), Vec::new());
        let (mut length_warnings, mut uncertainty_rows, mut noise) =
            (Vec::new(), Vec::new(), Vec::new());
        let mut warnings = results.warnings.clone();
        let mut confidence = None;
        let mut costs = Vec::new();
        for run in &results.runs {
            counts.add(run.status);
            failures.extend(failure_of(run));
            warnings.extend(run.warnings.iter().cloned());
            let point = point_of(run);
            tt_skipped.extend(tt_skip(run, &point));
            length_warnings.extend(length_warnings_of(run, &point));
            warnings.extend(busy_warning(run, &point));
            if let Some(sp) = &run.spread {
                uncertainty_rows.push(uncertainty_row(run.index, &point, sp));
                confidence = Some(sp.confidence);
            }
            noise.extend(noise_row(run, &point, cv_max_pct));
            let mut row = row_of(run, target_results(run, extra));
            row.cost = cost::figures_of(results, run);
            if let Some(c) = &row.cost {
                costs.push((run.index, point.clone(), c.clone()));
            }
            rows.push(row);
        }
        let uncertainty = confidence.map(|c| Uncertainty {
            confidence_pct: c * 100.0,
            columns: KEY_FIGURES.iter().map(|(m, st)| figure_label(*m, *st)).collect(),
            rows: uncertainty_rows,
        });
        let by_index: BTreeMap<usize, String> =
            results.runs.iter().map(|r| (r.index, point_of(r))).collect();
        let server = server::table(&rows, &|r: &Row| {
            by_index.get(&r.index).cloned().unwrap_or_else(|| "-".into())
        });
        let target_fails = rows.iter().flat_map(|r| &r.targets).filter(|t| t.is_fail()).count();
        let target_passes =
            rows.iter().flat_map(|r| &r.targets).filter(|t| t.verdict == "PASS").count();
        Report {
            format_version: SUMMARY_FORMAT_VERSION,
            batch_name: results.batch_name.clone(),
            batch_dir: results.batch_dir.display().to_string(),
            generated_at: chrono::Local::now().format("%Y-%m-%dT%H:%M:%S%:z").to_string(),
            finished: results.finished,
            interrupted: results.interrupted,
            param_keys,
            extra_keys,
            counts,
            target_passes,
            target_fails,
            rows: rows.into(),
            failures,
            length_warnings,
            tt_skipped,
            uncertainty,
            noise,
            max_load: crate::search::max_load::build(results),
            server,
            cost: cost::table(&costs),
            noise_hint: NOISE_HINT,
            warnings,
        }
    }
}

impl Counts {
    /// Counts one combination by its status.
    fn add(&mut self, status: RunStatus) {
        match status {
            RunStatus::Succeeded => self.succeeded += 1,
            RunStatus::Partial => self.partial += 1,
            RunStatus::Failed | RunStatus::TimedOut | RunStatus::Interrupted => self.failed += 1,
            RunStatus::Pending | RunStatus::Running | RunStatus::Skipped => self.not_run += 1,
        }
    }
}

/// Every parameter key of the batch, sorted.
fn param_keys(results: &BatchResults) -> Vec<String> {
    results
        .runs
        .iter()
        .flat_map(|r| r.params.keys().cloned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// The parameter keys shown as extra columns: all but ISL, OSL, concurrency and request count,
/// which have their own.
fn extra_keys(param_keys: &[String]) -> Vec<String> {
    let shown: BTreeSet<String> =
        ["isl", "osl", "concurrency", "request_count"].iter().map(|k| canonical(k)).collect();
    param_keys.iter().filter(|k| !shown.contains(&canonical(k))).cloned().collect()
}

/// A run's parameters as one label (`concurrency=4 isl=128`), `-` without any.
fn point_of(run: &results::RunResult) -> String {
    if run.params.is_empty() {
        return "-".to_owned();
    }
    run.params.iter().map(|(k, v)| format!("{k}={}", display(v))).collect::<Vec<_>>().join(" ")
}

/// The run's checks (planned, and of the reference file), evaluated.
fn target_results(run: &results::RunResult, extra: Option<&ExtraTargets>) -> Vec<TargetResult> {
    let mut checks = run.targets.clone();
    if let Some(x) = extra {
        checks.extend(x.reference.checks_for(&reference_point(run), x.tolerance));
    }
    checks.iter().map(|c| targets::evaluate(c, run)).collect()
}

/// The run as a failure: failed, timed out or interrupted, partial, with unreadable files, or
/// pending with a reason (a partial merge's `not run: shard 1 is missing`).
fn failure_of(run: &results::RunResult) -> Option<Failure> {
    let failed =
        matches!(run.status, RunStatus::Failed | RunStatus::TimedOut | RunStatus::Interrupted)
            || (run.status == RunStatus::Pending && run.reason.is_some());
    if !failed && run.problems.is_empty() && run.status != RunStatus::Partial {
        return None;
    }
    Some(Failure {
        index: run.index,
        dir: run.dir.clone(),
        status: status_name(run.status),
        reason: run.reason.clone().unwrap_or_else(|| {
            if run.problems.is_empty() {
                "no reason recorded".into()
            } else {
                "results unreadable".into()
            }
        }),
        errors: run.error_lines.clone(),
        problems: run.problems.clone(),
    })
}

/// A run with results that tt-inference-server cannot represent, and why.
fn tt_skip(run: &results::RunResult, point: &str) -> Option<TtSkip> {
    run.metrics.as_ref()?;
    let reason = crate::tt::standard::tt_point(run).err()?.to_string();
    Some(TtSkip { index: run.index, dir: run.dir.clone(), point: point.to_owned(), reason })
}

/// A run (or a repeat of a point) measured on a busy machine, and why (see
/// [`crate::records::Conditions::busy`]).
fn busy_warning(run: &results::RunResult, point: &str) -> Option<String> {
    let busy: Vec<String> = run.conditions.iter().filter_map(|c| c.busy()).collect();
    let first = busy.first()?;
    let of = if run.conditions.len() > 1 {
        format!(" ({} of its {} runs)", busy.len(), run.conditions.len())
    } else {
        String::new()
    };
    Some(format!(
        "#{} `{point}` was measured on a busy machine{of}: {first}; its figures may be slower than the server is",
        run.index
    ))
}

/// A warning per sequence length the run measured off the requested one.
fn length_warnings_of<'a>(
    run: &'a results::RunResult,
    point: &'a str,
) -> impl Iterator<Item = LengthWarning> + 'a {
    run.length_mismatches.iter().map(move |m| LengthWarning {
        index: run.index,
        dir: run.dir.clone(),
        point: point.to_owned(),
        which: m.which,
        requested: m.requested,
        measured: m.measured,
        off_by_pct: m.off_by * 100.0,
        hint: m.hint,
    })
}

/// The key figures of a point measured in repeats, with their confidence intervals.
fn uncertainty_row(index: usize, point: &str, sp: &Spreads) -> UncertaintyRow {
    UncertaintyRow {
        index,
        point: point.to_owned(),
        repeats: sp.n,
        cells: KEY_FIGURES
            .iter()
            .map(|(m, st)| {
                sp.get(*m, *st).map(|x| CiCell {
                    mean: x.mean,
                    half: x.ci_high - x.mean,
                    ci_low: x.ci_low,
                    ci_high: x.ci_high,
                    cv_pct: x.cv.map(|c| c * 100.0),
                })
            })
            .collect(),
    }
}

/// The run's noisy figures, when it has any (`cv_max_pct`: the batch's limit, in percent).
fn noise_row(run: &results::RunResult, point: &str, cv_max_pct: f64) -> Option<NoiseRow> {
    (!run.noisy.is_empty()).then(|| NoiseRow {
        index: run.index,
        point: point.to_owned(),
        figures: run.noisy.clone(),
        cv_max_pct,
    })
}

/// The run as every report shows it, with its evaluated targets.
fn row_of(run: &results::RunResult, targets: Vec<TargetResult>) -> Row {
    Row {
        index: run.index,
        dir: run.dir.clone(),
        status: status_name(run.status),
        params: run.params.iter().map(|(k, v)| (k.clone(), display(v))).collect(),
        load: run.load.clone(),
        metrics: run.metrics.clone(),
        targets,
        length_mismatches: run.length_mismatches.clone(),
        repeats: run.spread.as_ref().map_or(0, |s| s.n),
        spread: run.spread.clone(),
        server: run.server.clone(),
        cost: None,
    }
}

/// Checks of a tt-inference-server reference file given to `sweeper report --targets-file`,
/// with the default tolerance of its targets.
#[derive(Debug, Clone)]
pub struct ExtraTargets {
    pub reference: Reference,
    pub tolerance: f64,
}

/// Where a run sits for the reference file's matching rule (the same rule as for a file named
/// in the config, see [`crate::tt::reference`]).
pub fn reference_point(run: &results::RunResult) -> Point {
    Point {
        isl: run.load.isl,
        osl: run.load.osl,
        concurrency: run.load.concurrency,
        num_prompts: run.load.num_prompts,
    }
}
