//! `report.md`: the tt-inference-server detailed table plus swept parameters, targets, failures.

use super::{RenderError, Report, performance_table, template};

/// Renders `templates/report.md.j2`.
pub fn render(report: &Report) -> Result<String, RenderError> {
    let mut out = Vec::new();
    render_to(report, &mut out)?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// As [`render`], into `w` as it renders.
pub fn render_to(report: &Report, w: &mut dyn std::io::Write) -> Result<(), RenderError> {
    let (columns, perf) = performance_table(report);
    Ok(template::render_to(
        "report.md.j2",
        minijinja::context! {
            columns => columns,
            perf => perf,
            any_targets => super::any_targets(report),
            ..minijinja::Value::from_serialize(report)
        },
        w,
    )?)
}
