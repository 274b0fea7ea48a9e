//! Render reports (Markdown, CSV, JSON, HTML) and compare two batches.
//! STUB: filled in by the report work (issue 5).

use std::path::Path;

/// `sweeper report <batch dir>`: renders every report; returns the exit code.
pub fn report_command(
    _batch_dir: &Path,
    _fail_on_target: bool,
    _targets_file: Option<&Path>,
) -> Result<u8, String> {
    Err("reports are not built yet".into())
}

/// `sweeper compare A B`: prints the comparison; returns the exit code.
pub fn compare_command(_a: &Path, _b: &Path, _output: Option<&Path>) -> Result<u8, String> {
    Err("compare is not built yet".into())
}

/// What rendering a batch produced.
#[derive(Debug, Default, Clone)]
pub struct RenderOutcome {
    /// Target checks that FAILed.
    pub target_failures: usize,
    /// Files written.
    pub files: Vec<std::path::PathBuf>,
}

/// Renders every report of a batch directory (called after every run). STUB.
pub fn render_batch(
    _batch_dir: &Path,
    _targets_file: Option<&Path>,
) -> Result<RenderOutcome, String> {
    Ok(RenderOutcome::default())
}
