//! `summary.json`: the report's view model, with `format_version`.

use super::{RenderError, Report};

/// Pretty JSON of the whole report.
pub fn render(report: &Report) -> Result<Vec<u8>, RenderError> {
    let mut v = serde_json::to_vec_pretty(report)
        .map_err(|source| RenderError::Json { file: "summary.json", source })?;
    v.push(b'\n');
    Ok(v)
}
