//! `summary.json`: the report's view model, with `format_version`.

use super::Report;

/// Pretty JSON of the whole report.
pub fn render(report: &Report) -> Result<Vec<u8>, String> {
    let mut v = serde_json::to_vec_pretty(report)
        .map_err(|e| format!("failed to serialize summary.json: {e}"))?;
    v.push(b'\n');
    Ok(v)
}
