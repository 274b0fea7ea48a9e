//! `report.md`: the tt-inference-server detailed table plus swept parameters, targets, failures.

use super::{RenderError, Report, performance_table, template};

/// Renders `templates/report.md.j2`.
pub fn render(report: &Report) -> Result<String, RenderError> {
    let (columns, perf) = performance_table(report);
    Ok(template::render(
        "report.md.j2",
        minijinja::context! { columns => columns, perf => perf, ..minijinja::Value::from_serialize(report) },
    )?)
}
