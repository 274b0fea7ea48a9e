//! `sweeper report BATCH` and `sweeper compare A B` (also the `--baseline` gate of a run).

use std::path::Path;

use crate::app::cli::TargetsArgs;
use crate::app::error::{EXIT_OK, Error};
use crate::app::output::{err_line, out_line, out_text};
use crate::report::{self, ExtraTargets, compare};
use crate::util::number;

/// `sweeper report <batch dir>`: renders every report; exit 1 when `fail_on_target` and a target
/// check failed.
pub(super) fn report_cmd(
    batch_dir: &Path,
    output: Option<&Path>,
    fail_on_target: bool,
    t: &TargetsArgs,
) -> Result<u8, Error> {
    let extra = match &t.targets_file {
        Some(f) => Some(ExtraTargets {
            reference: crate::tt::reference::load(f, t.model.as_deref(), t.device.as_deref())?,
            tolerance: t.tolerance.unwrap_or(crate::tt::reference::DEFAULT_TOLERANCE),
        }),
        None => None,
    };
    let out_dir = output.unwrap_or(batch_dir);
    let out = report::render_batch_to(batch_dir, out_dir, extra.as_ref())?;
    for w in &out.warnings {
        err_line(&format!("warning: {w}"));
    }
    let (reports, per_run): (Vec<&std::path::PathBuf>, Vec<_>) =
        out.files_written.iter().partition(|f| f.parent() == Some(out_dir));
    for f in reports {
        out_line(&format!("wrote {}", f.display()));
    }
    if !per_run.is_empty() {
        out_line(&format!(
            "wrote {} per-run standardized JSON file(s) (aiperf_benchmark_*.json)",
            per_run.len()
        ));
    }
    out_line(&format!(
        "{} combinations, {} failed; targets: {} passed, {} failed",
        out.combinations, out.failed_runs, out.target_passes, out.target_fails
    ));
    if fail_on_target && out.target_fails > 0 {
        return Err(Error::Failed {
            message: format!("{} target check(s) failed", out.target_fails),
            hint: format!(
                "see the Targets section of `{}`",
                out_dir.join(report::REPORT_MD_FILE).display()
            ),
        });
    }
    Ok(EXIT_OK)
}

/// How `--threshold` and `--confidence` judge changes (checked).
pub(super) fn gate_options(
    gate: &crate::app::cli::GateArgs,
) -> Result<compare::CompareOptions, Error> {
    let threshold_pct = gate.threshold.unwrap_or(compare::DEFAULT_THRESHOLD_PCT);
    if !(threshold_pct.is_finite() && (0.0..=1000.0).contains(&threshold_pct)) {
        return Err(Error::usage(
            format!(
                "--threshold {}: a percentage between 0 and 1000 is expected",
                crate::util::number::exact(threshold_pct)
            ),
            "e.g. `--threshold 5` calls a change a regression only beyond 5%",
        ));
    }
    if let Some(c) = gate.confidence
        && !(c.is_finite() && (0.5..=0.999).contains(&c))
    {
        return Err(Error::usage(
            format!(
                "--confidence {}: a level between 0.5 and 0.999 is expected",
                crate::util::number::exact(c)
            ),
            "e.g. `--confidence 0.95`",
        ));
    }
    Ok(compare::CompareOptions { threshold_pct, confidence: gate.confidence })
}

/// Compares two batches: prints the comparison, writes `compare.md`/`compare.csv` into
/// `output`; the exit code is 1 with `--fail-on-regression` and a regression.
pub(super) fn run_compare(
    a: &Path,
    b: &Path,
    output: Option<&Path>,
    gate: &crate::app::cli::GateArgs,
) -> Result<u8, Error> {
    let opts = gate_options(gate)?;
    let ra = crate::results::collect(a)?;
    let rb = crate::results::collect(b)?;
    let c = compare::compare(&ra, &rb, &opts)?;
    show_and_write(&[(c.clone(), "compare".to_owned())], output)?;
    judge(&[c], gate)
}

/// Compares the values of `by` inside one batch (the first is A); with three or more values,
/// A with each other value (`compare_<value>.md` in `output`).
pub(super) fn run_compare_by(
    batch: &Path,
    by: Option<&str>,
    output: Option<&Path>,
    gate: &crate::app::cli::GateArgs,
) -> Result<Vec<compare::Comparison>, Error> {
    let opts = gate_options(gate)?;
    let r = crate::results::collect(batch)?;
    let by = match by.map(str::to_owned).or_else(|| r.ab.as_ref().map(|a| a.by.clone())) {
        Some(by) => by,
        None => {
            return Err(Error::usage(
                format!(
                    "`compare {}` needs a second batch, or a key to compare by: this batch has no `ab` section",
                    batch.display()
                ),
                "`sweeper compare A B` compares two batches; `sweeper compare BATCH --by KEY` compares the values of a swept key inside one",
            ));
        }
    };
    let all = report::compare_by::compare_by(&r, &by, &opts)?;
    let named: Vec<(compare::Comparison, String)> = if all.len() == 1 {
        all.into_iter().map(|c| (c, "compare".to_owned())).collect()
    } else {
        all.into_iter()
            .map(|c| {
                let stem = report::compare_by::file_stem(&c);
                (c, stem)
            })
            .collect()
    };
    show_and_write(&named, output)?;
    Ok(named.into_iter().map(|(c, _)| c).collect())
}

/// Prints each comparison and writes `<stem>.md`/`<stem>.csv` into `output`.
fn show_and_write(
    all: &[(compare::Comparison, String)],
    output: Option<&Path>,
) -> Result<(), Error> {
    for (c, stem) in all {
        let md = compare::render_markdown(c)?;
        out_text(&md);
        if let Some(dir) = output {
            fs_err::create_dir_all(dir).map_err(|source| report::ReportError::CreateDir {
                path: dir.to_path_buf(),
                source,
            })?;
            let csv = compare::render_csv(c)?;
            for (name, bytes) in
                [(format!("{stem}.md"), md.into_bytes()), (format!("{stem}.csv"), csv)]
            {
                let p = dir.join(name);
                crate::records::write_derived(&p, &bytes)
                    .map_err(|source| report::ReportError::Write { path: p.clone(), source })?;
                err_line(&format!("wrote {}", p.display()));
            }
        }
    }
    Ok(())
}

/// The gate over comparisons: every regression counts; with `--fail-on-regression` any fails.
fn judge(all: &[compare::Comparison], gate: &crate::app::cli::GateArgs) -> Result<u8, Error> {
    for c in all {
        if let Some(ab) = &c.ab {
            err_line(&ab.verdict);
        }
    }
    let regressions: usize = all.iter().map(|c| c.regressions).sum();
    let Some(c) = all.first() else { return Ok(EXIT_OK) };
    if regressions > 0 {
        let what = format!(
            "{regressions} regression(s) beyond {}% and significant at {}% confidence",
            number::fixed(c.threshold_pct, 1),
            number::fixed(c.confidence_pct, 0)
        );
        if gate.fail_on_regression {
            return Err(Error::Failed {
                message: what,
                hint:
                    "the table above has each verdict; a change within noise needs more `repeats:`"
                        .into(),
            });
        }
        err_line(&format!("warning: {what}"));
    }
    Ok(EXIT_OK)
}

/// `sweeper compare A B` or `sweeper compare BATCH [--by KEY]`, with `--output DIR` and
/// `--fail-on-regression`.
pub(super) fn compare_cmd(
    a: &Path,
    b: Option<&Path>,
    by: Option<&str>,
    output: Option<&Path>,
    gate: &crate::app::cli::GateArgs,
) -> Result<u8, Error> {
    match (b, by) {
        (Some(b), None) => run_compare(a, b, output, gate),
        (Some(_), Some(by)) => Err(Error::usage(
            format!(
                "--by {by} compares the values of a key inside one batch, but two batches were given"
            ),
            "drop the second batch (`sweeper compare BATCH --by KEY`), or drop `--by` to compare two batches",
        )),
        (None, by) => judge(&run_compare_by(a, by, output, gate)?, gate),
    }
}
