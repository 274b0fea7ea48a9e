//! Why reports could not be rendered or written: [`ReportError`], and [`RenderError`], what
//! went wrong producing one file's bytes.

use std::path::PathBuf;

use super::template::TemplateError;
use crate::results;

/// Why the bytes of one report file could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// A record of a CSV file (`summary.csv`, `compare.csv`).
    #[error("failed to write {file}: {source}")]
    Csv { file: &'static str, source: ::csv::Error },
    /// Finishing a CSV file.
    #[error("failed to write {file}: {source}")]
    Flush { file: &'static str, source: std::io::Error },
    #[error("failed to serialize {file}: {source}")]
    Json { file: &'static str, source: serde_json::Error },
}

impl RenderError {
    /// The error of a CSV writer's `into_inner` (the I/O error it wraps).
    pub(super) fn flush<W>(file: &'static str, e: ::csv::IntoInnerError<W>) -> RenderError {
        RenderError::Flush { file, source: e.into_error() }
    }
}

/// Why reports could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Results(#[from] results::ResultsError),
    #[error("failed to render `{name}`: {source}")]
    Render { name: &'static str, source: RenderError },
    #[error("failed to write `{path}`: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("failed to create `{path}`: {source}")]
    CreateDir { path: PathBuf, source: std::io::Error },
}

impl ReportError {
    /// What to try.
    pub fn hint(&self) -> Option<String> {
        match self {
            ReportError::Results(e) => e.hint(),
            ReportError::Write { .. } | ReportError::CreateDir { .. } => Some(
                "check free space and permissions of the directory; `sweeper report DIR` writes the reports again".into(),
            ),
            ReportError::Render { .. } => None,
        }
    }
}
