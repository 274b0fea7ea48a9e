//! `sweeper merge DIR...`: the shards of one batch into one batch directory, then its reports.

use crate::app::error::{EXIT_FAILED, EXIT_OK, Error};
use crate::app::output::{err_line, out_line};
use crate::report::{self};

/// `sweeper merge DIR...`: exit 0 when every shard is merged and finished, 1 when a `--partial`
/// merge misses some, 2 when nothing could be merged.
pub(super) fn merge_cmd(dirs: &[std::path::PathBuf], partial: bool) -> Result<u8, Error> {
    let m = crate::scaleout::merge::merge(dirs, partial)?;
    let out = report::render_batch(&m.batch_dir, None)?;
    for w in &out.warnings {
        err_line(&format!("warning: {w}"));
    }
    out_line(&format!(
        "merged {} of {} shard(s) into {}: {} combinations, {} without a successful run",
        m.found.len(),
        m.shards,
        m.batch_dir.display(),
        m.combinations,
        m.not_run
    ));
    out_line(&format!("reports: {}", m.batch_dir.join(report::REPORT_MD_FILE).display()));
    let list = |v: &[usize]| v.iter().map(usize::to_string).collect::<Vec<_>>().join(", ");
    if !m.missing.is_empty() || !m.unfinished.is_empty() {
        if !m.missing.is_empty() {
            err_line(&format!(
                "partial: shard(s) {} missing: their combinations are listed as not run",
                list(&m.missing)
            ));
        }
        if !m.unfinished.is_empty() {
            err_line(&format!("partial: shard(s) {} not finished", list(&m.unfinished)));
        }
        return Ok(EXIT_FAILED);
    }
    Ok(EXIT_OK)
}
