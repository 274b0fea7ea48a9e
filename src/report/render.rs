//! Rendering a batch's reports to disk: its results read (or given), then the per-run tt files
//! and the four batch reports, each written atomically as it renders.

use std::path::{Path, PathBuf};

use super::{
    ExtraTargets, REPORT_HTML_FILE, REPORT_MD_FILE, RenderError, RenderOutcome, Report,
    ReportError, SUMMARY_CSV_FILE, SUMMARY_JSON_FILE, csv, html, json, markdown,
};
use crate::records;
use crate::results::{self, BatchResults};

/// Writes `path` (atomically) with what `render` writes as it goes; `name` is the report's
/// name in an error.
fn write_with(
    path: PathBuf,
    name: &'static str,
    written: &mut Vec<PathBuf>,
    render: impl FnOnce(&mut dyn std::io::Write) -> Result<(), RenderError>,
) -> Result<(), ReportError> {
    let mut failed = None;
    let result = records::write_derived_with(&path, |w| {
        render(w).map_err(|e| {
            // The template's own error is kept; the write is abandoned with a stand-in.
            let io = std::io::Error::other(e.to_string());
            failed = Some(e);
            io
        })
    });
    if let Some(source) = failed {
        return Err(ReportError::Render { name, source });
    }
    result.map_err(|source| ReportError::Write { path: path.clone(), source })?;
    written.push(path);
    Ok(())
}

/// Renders every report of `batch_dir` (also a partial batch) and the per-run standardized JSON
/// files. Reads `plan.json`, `batch_manifest.json`, each combination's `run_metadata.json`,
/// `process_result.json` and aiperf artifacts. Writes `report.md`, `summary.csv`,
/// `summary.json` and `report.html` into the batch dir and `aiperf_benchmark_*.json` into each
/// run dir with results, all atomically.
pub fn render_batch(
    batch_dir: &Path,
    extra: Option<&ExtraTargets>,
) -> Result<RenderOutcome, ReportError> {
    render_batch_to(batch_dir, batch_dir, extra)
}

/// As [`render_batch`], writing everything under `out_dir` instead (the per-run files into
/// `out_dir/<run dir>/`): for a batch directory that is not writable.
pub fn render_batch_to(
    batch_dir: &Path,
    out_dir: &Path,
    extra: Option<&ExtraTargets>,
) -> Result<RenderOutcome, ReportError> {
    render_batch_inner(batch_dir, out_dir, extra, |_, _| ()).0
}

/// As [`render_batch`]; `then` is given the results and the report before anything is written
/// (the run stage makes its terminal table from them rather than reading the batch a second
/// time), and what it returns comes back even when writing fails.
pub fn render_batch_then<T>(
    batch_dir: &Path,
    extra: Option<&ExtraTargets>,
    then: impl FnOnce(&BatchResults, &Report) -> T,
) -> (Result<RenderOutcome, ReportError>, Option<T>) {
    render_batch_inner(batch_dir, batch_dir, extra, then)
}

/// As [`render_batch_then`], from `results` already collected (and current: the run stage's
/// live reports kept them so): the same batch reports, without reading the batch again. The
/// per-run tt files are not written again: whoever kept the results current wrote each run's
/// when it read the run after its end (the live reports do), and a tt file depends on its run
/// alone (at 1,000 runs, checking them again was most of the batch's end: ~1,000 reads and
/// directory listings).
pub fn render_collected_then<T>(
    results: BatchResults,
    then: impl FnOnce(&BatchResults, &Report) -> T,
) -> (Result<RenderOutcome, ReportError>, Option<T>) {
    let dir = results.batch_dir.clone();
    render_from(results, (&dir, &dir), TtFiles::Written, None, then)
}

/// Whether [`render_from`] writes the per-run tt files.
#[derive(Clone, Copy, PartialEq)]
enum TtFiles {
    Write,
    /// Already written for these results.
    Written,
}

fn render_batch_inner<T>(
    batch_dir: &Path,
    out_dir: &Path,
    extra: Option<&ExtraTargets>,
    then: impl FnOnce(&BatchResults, &Report) -> T,
) -> (Result<RenderOutcome, ReportError>, Option<T>) {
    match results::collect(batch_dir) {
        Ok(results) => render_from(results, (batch_dir, out_dir), TtFiles::Write, extra, then),
        Err(e) => (Err(e.into()), None),
    }
}

/// The per-run tt files and the batch reports of `results` (of `batch_dir`) into `out_dir`.
fn render_from<T>(
    results: BatchResults,
    (batch_dir, out_dir): (&Path, &Path),
    tt_files: TtFiles,
    extra: Option<&ExtraTargets>,
    then: impl FnOnce(&BatchResults, &Report) -> T,
) -> (Result<RenderOutcome, ReportError>, Option<T>) {
    let report = Report::build(&results, extra);
    let seen = then(&results, &report);
    if let Err(source) = fs_err::create_dir_all(out_dir) {
        return (Err(ReportError::CreateDir { path: out_dir.to_path_buf(), source }), Some(seen));
    }
    let mut files = Vec::new();
    let mut warnings = Vec::new();
    for run in results.runs.iter().filter(|_| tt_files == TtFiles::Write) {
        if out_dir != batch_dir
            && run.metrics.is_some()
            && let Err(source) = fs_err::create_dir_all(run.run_dir(out_dir))
        {
            warnings.push(source.to_string());
            continue;
        }
        match crate::tt::standard::write(run, out_dir, results.tt_model_id.as_deref()) {
            Ok(Some(p)) => files.push(p),
            Ok(None) => {}
            Err(e) => warnings.push(e.to_string()),
        }
    }
    // The report holds what it shows: the batch's results go before the reports are rendered.
    drop(results);
    let rendered = render_report(&report, out_dir).map(|mut out| {
        out.files_written.extend(files);
        out.warnings.extend(warnings);
        out
    });
    (rendered, Some(seen))
}

/// Renders the four batch reports of `results` (already collected) into its batch directory.
pub fn render_results(
    results: &BatchResults,
    extra: Option<&ExtraTargets>,
) -> Result<RenderOutcome, ReportError> {
    render_results_to(results, &results.batch_dir, extra)
}

/// As [`render_results`], into `batch_dir` (another directory than the batch's).
pub fn render_results_to(
    results: &BatchResults,
    batch_dir: &Path,
    extra: Option<&ExtraTargets>,
) -> Result<RenderOutcome, ReportError> {
    render_report(&Report::build(results, extra), batch_dir)
}

/// Writes the four reports of `report` into `batch_dir`, each as it renders. The HTML report,
/// the longest, renders on a second thread while the others render here: with two cores or
/// more a batch's reports are written sooner (each report is still written as it renders). The files are listed in the same order either way; an error of the
/// Markdown, CSV or JSON report is returned before one of the HTML report.
fn render_report(report: &Report, batch_dir: &Path) -> Result<RenderOutcome, ReportError> {
    let (rest, html) = std::thread::scope(|s| {
        let html = std::thread::Builder::new()
            .name("report-html".into())
            .spawn_scoped(s, || render_html_report(report, batch_dir));
        let rest = render_text_reports(report, batch_dir);
        let html = match html {
            Ok(h) => h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            // No thread to be had (a limit on processes): rendered here, after the others.
            Err(_) => render_html_report(report, batch_dir),
        };
        (rest, html)
    });
    let mut files = rest?;
    files.extend(html?);
    let mut warnings = report.warnings.clone();
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

/// The HTML report of `report`.
fn render_html_report(report: &Report, batch_dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let mut files = Vec::new();
    write_with(batch_dir.join(REPORT_HTML_FILE), REPORT_HTML_FILE, &mut files, |w| {
        html::render_to(report, w)
    })?;
    Ok(files)
}

/// The Markdown report, the CSV and the JSON summary of `report`, in that order.
fn render_text_reports(report: &Report, batch_dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let mut files = Vec::new();
    write_with(batch_dir.join(REPORT_MD_FILE), REPORT_MD_FILE, &mut files, |w| {
        markdown::render_to(report, w)
    })?;
    write_with(batch_dir.join(SUMMARY_CSV_FILE), SUMMARY_CSV_FILE, &mut files, |w| {
        csv::render_to(report, w)
    })?;
    write_with(batch_dir.join(SUMMARY_JSON_FILE), SUMMARY_JSON_FILE, &mut files, |w| {
        json::render_to(report, w)
    })?;
    Ok(files)
}
