//! Render reports (Markdown, CSV, JSON, HTML with inline SVG charts) of a batch directory, check
//! targets, and compare two batches.
//!
//! [`render_batch`] is what the run stage calls after every finished run: it reads only the batch
//! directory, so a crash loses nothing and `sweeper report <dir>` gives the same files later.

pub mod compare;
pub mod csv;
pub mod html;
pub mod json;
pub mod markdown;
pub mod svg;
pub mod targets;
mod template;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use crate::config::options::canonical;
use crate::records::{self, RunStatus};
use crate::results::{self, BatchResults, KeyMetrics, LoadPoint};
use targets::TargetResult;

/// Version of `summary.json`; bump on an incompatible change.
pub const SUMMARY_FORMAT_VERSION: u32 = 1;

pub const REPORT_MD_FILE: &str = "report.md";
pub const SUMMARY_CSV_FILE: &str = "summary.csv";
pub const SUMMARY_JSON_FILE: &str = "summary.json";
pub const REPORT_HTML_FILE: &str = "report.html";

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
    pub params: BTreeMap<String, String>,
    pub load: LoadPoint,
    pub metrics: Option<KeyMetrics>,
    pub targets: Vec<TargetResult>,
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
    pub rows: Vec<Row>,
    pub failures: Vec<Failure>,
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
    /// Builds the view model; `reference` adds checks from a targets file.
    pub fn build(results: &BatchResults, reference: Option<&[targets::ReferenceEntry]>) -> Report {
        let param_keys: Vec<String> = results
            .runs
            .iter()
            .flat_map(|r| r.params.keys().cloned())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let shown: BTreeSet<String> =
            ["isl", "osl", "concurrency", "request_count"].iter().map(|k| canonical(k)).collect();
        let extra_keys =
            param_keys.iter().filter(|k| !shown.contains(&canonical(k))).cloned().collect();
        let mut counts = Counts { total: results.runs.len(), ..Counts::default() };
        let mut rows = Vec::new();
        let mut failures = Vec::new();
        let mut warnings = results.warnings.clone();
        for run in &results.runs {
            match run.status {
                RunStatus::Succeeded => counts.succeeded += 1,
                RunStatus::Partial => counts.partial += 1,
                RunStatus::Failed | RunStatus::TimedOut | RunStatus::Interrupted => {
                    counts.failed += 1
                }
                RunStatus::Pending | RunStatus::Running | RunStatus::Skipped => counts.not_run += 1,
            }
            let mut checks = run.targets.clone();
            if let Some(r) = reference {
                checks.extend(targets::checks_from_reference(r, run));
            }
            let tr: Vec<TargetResult> = checks.iter().map(|c| targets::evaluate(c, run)).collect();
            let failed = matches!(
                run.status,
                RunStatus::Failed | RunStatus::TimedOut | RunStatus::Interrupted
            );
            if failed || !run.problems.is_empty() || run.status == RunStatus::Partial {
                failures.push(Failure {
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
                });
            }
            warnings.extend(run.warnings.iter().cloned());
            rows.push(Row {
                index: run.index,
                dir: run.dir.clone(),
                status: status_name(run.status),
                params: run.params.iter().map(|(k, v)| (k.clone(), display(v))).collect(),
                load: run.load.clone(),
                metrics: run.metrics.clone(),
                targets: tr,
            });
        }
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
            rows,
            failures,
            warnings,
        }
    }
}

fn write(path: PathBuf, bytes: &[u8], written: &mut Vec<PathBuf>) -> Result<(), String> {
    records::write_derived(&path, bytes)
        .map_err(|e| format!("failed to write `{}`: {e}", path.display()))?;
    written.push(path);
    Ok(())
}

/// Renders every report of `batch_dir` (also a partial batch) and the per-run standardized JSON
/// files. Reads `plan.json`, `batch_manifest.json`, each combination's `run_metadata.json`,
/// `process_result.json` and aiperf artifacts, and `targets_file` when given. Writes
/// `report.md`, `summary.csv`, `summary.json` and `report.html` into the batch dir and
/// `aiperf_benchmark_*.json` into each run dir with results, all atomically.
pub fn render_batch(
    batch_dir: &Path,
    targets_file: Option<&Path>,
) -> Result<RenderOutcome, String> {
    let results = results::collect(batch_dir)?;
    let reference = targets_file.map(targets::load_reference).transpose()?;
    let report = Report::build(&results, reference.as_deref());
    let mut files = Vec::new();
    write(batch_dir.join(REPORT_MD_FILE), markdown::render(&report)?.as_bytes(), &mut files)?;
    write(batch_dir.join(SUMMARY_CSV_FILE), &csv::render(&report)?, &mut files)?;
    write(batch_dir.join(SUMMARY_JSON_FILE), &json::render(&report)?, &mut files)?;
    write(batch_dir.join(REPORT_HTML_FILE), html::render(&report)?.as_bytes(), &mut files)?;
    let mut warnings = report.warnings.clone();
    for run in &results.runs {
        match results::standard::write(run, batch_dir) {
            Ok(Some(p)) => files.push(p),
            Ok(None) => {}
            Err(e) => warnings.push(e),
        }
    }
    for f in &report.failures {
        warnings.extend(f.problems.iter().cloned());
    }
    Ok(RenderOutcome {
        target_fails: report.target_fails,
        target_passes: report.target_passes,
        files_written: files,
        combinations: report.counts.total,
        failed_runs: report.counts.failed,
        warnings,
    })
}

/// `sweeper report <batch dir>`: renders every report; returns the exit code (1 when
/// `fail_on_target` and a target check failed).
pub fn report_command(
    batch_dir: &Path,
    fail_on_target: bool,
    targets_file: Option<&Path>,
) -> Result<u8, String> {
    let out = render_batch(batch_dir, targets_file)?;
    for w in &out.warnings {
        eprintln!("warning: {w}");
    }
    let (reports, per_run): (Vec<&PathBuf>, Vec<&PathBuf>) =
        out.files_written.iter().partition(|f| f.parent() == Some(batch_dir));
    for f in reports {
        println!("wrote {}", f.display());
    }
    if !per_run.is_empty() {
        println!(
            "wrote {} per-run standardized JSON file(s) (aiperf_benchmark_*.json)",
            per_run.len()
        );
    }
    println!(
        "{} combinations, {} failed; targets: {} passed, {} failed",
        out.combinations, out.failed_runs, out.target_passes, out.target_fails
    );
    if fail_on_target && out.target_fails > 0 {
        eprintln!(
            "error: {} target check(s) failed\nhint: see the Targets section of `{}`",
            out.target_fails,
            batch_dir.join(REPORT_MD_FILE).display()
        );
        return Ok(crate::error::EXIT_FAILED);
    }
    Ok(crate::error::EXIT_OK)
}

/// `sweeper compare A B`: prints the comparison; returns the exit code.
pub fn compare_command(a: &Path, b: &Path, output: Option<&Path>) -> Result<u8, String> {
    compare::compare_command(a, b, output)
}
