//! `report.md`: the tt-inference-server detailed table plus swept parameters, targets, failures.

use super::{Report, template};

/// Renders `templates/report.md.j2`.
pub fn render(report: &Report) -> Result<String, String> {
    template::render("report.md.j2", report)
}
