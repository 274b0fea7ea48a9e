//! Config diagnostics: every problem with its file, line, column, key path and a hint.

use std::fmt;
use std::path::PathBuf;

pub use crate::model::diagnostic::{Diagnostic, pointer_to_key_path};

/// A config that cannot be used: all its problems, for one file.
#[derive(Debug, Clone)]
pub struct ConfigError {
    pub file: PathBuf,
    pub diagnostics: Vec<Diagnostic>,
    /// The file's text, for snippets (empty when it could not be read).
    pub source: String,
}

impl ConfigError {
    pub fn single(file: PathBuf, d: Diagnostic) -> Self {
        Self { file, diagnostics: vec![d], source: String::new() }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.diagnostics.len();
        writeln!(
            f,
            "invalid config `{}`: {n} problem{}",
            self.file.display(),
            if n == 1 { "" } else { "s" }
        )?;
        let lines: Vec<&str> = self.source.lines().collect();
        for d in &self.diagnostics {
            let loc = match d.pos {
                Some(p) => format!("{}:{}:{}", self.file.display(), p.line, p.col),
                None => self.file.display().to_string(),
            };
            writeln!(f, "\n  --> {loc}: `{}`", d.key_path())?;
            if let Some(p) = d.pos
                && let Some(text) = lines.get(p.line.saturating_sub(1))
            {
                let shown: String = text.chars().take(160).collect();
                let width = p.line.to_string().len();
                writeln!(f, "  {:>width$} | {shown}", p.line)?;
                let caret_col = p.col.saturating_sub(1).min(shown.chars().count());
                writeln!(f, "  {:>width$} | {}^", "", " ".repeat(caret_col))?;
            }
            writeln!(f, "  error: {}", d.message)?;
            if let Some(h) = &d.hint {
                writeln!(f, "  hint: {h}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}
