//! `summary.json`: the report's view model, with `format_version`.

use super::{RenderError, Report};

/// Pretty JSON of the whole report.
pub fn render(report: &Report) -> Result<Vec<u8>, RenderError> {
    let mut v = serde_json::to_vec_pretty(report)
        .map_err(|source| RenderError::Json { file: "summary.json", source })?;
    v.push(b'\n');
    Ok(v)
}

/// As [`render`], into `w` as it serializes.
pub fn render_to(report: &Report, w: &mut dyn std::io::Write) -> Result<(), RenderError> {
    let mut w = w;
    serde_json::to_writer_pretty(&mut w, report)
        .map_err(|source| RenderError::Json { file: "summary.json", source })?;
    w.write_all(b"\n").map_err(|source| RenderError::Flush { file: "summary.json", source })
}
