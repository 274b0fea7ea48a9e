//! `report.md`: the tt-inference-server detailed table plus swept parameters, targets, failures.

use super::{Report, performance_table, template};

/// Renders `templates/report.md.j2`.
pub fn render(report: &Report) -> Result<String, String> {
    let (columns, perf) = performance_table(report);
    template::render(
        "report.md.j2",
        minijinja::context! { columns => columns, perf => perf, ..minijinja::Value::from_serialize(report) },
    )
}
